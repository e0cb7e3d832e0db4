/* Private to auth: RFC 4648 base32 and RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps). */
#ifndef FROTH_AUTH_TOTP_H
#define FROTH_AUTH_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20  /* 160 bits, the size RFC 4226 recommends */
#define TOTP_STEP_S 30
#define TOTP_DIGITS 6

/* Writes base32 (RFC 4648 alphabet, no padding) of n bytes and a NUL into out, which must hold
 * (n * 8 + 4) / 5 + 1 bytes. */
void auth__base32_encode(const unsigned char *in, size_t n, char *out);

/* Decodes base32, ignoring case, spaces and padding. Returns the byte count, or -1 when the
 * text has another character or does not fit in size bytes. */
long auth__base32_decode(const char *in, unsigned char *out, size_t size);

/* The HOTP value (RFC 4226) of a counter, as an integer below 10^digits. */
uint32_t auth__hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits);

/* Checks a 6-digit code against the time steps around now (one step of drift either way) and
 * refuses steps at or before last_step, so a code is accepted once. On success stores the
 * matching step in *step. The comparison of codes takes the same time whatever matches. */
bool auth__totp_check(const unsigned char *key, size_t key_len, const char *code, int64_t now_ms,
                      int64_t last_step, int64_t *step);

#endif
