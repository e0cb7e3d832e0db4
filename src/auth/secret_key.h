/* Private to auth: the server's secret key for two_factor.c. */
#ifndef FROTH_AUTH_SECRET_KEY_H
#define FROTH_AUTH_SECRET_KEY_H

/* Returns the AUTH_SECRET_KEY_BYTES of the key set with auth_secret_key_set, or NULL when none
 * is set. */
const unsigned char *auth__secret_key(void);

#endif
