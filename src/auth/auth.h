/* Who is calling: passwords, user sessions (bearer tokens) and admin API tokens.
 *
 * Tokens are opaque: 32 random bytes in base64url. Only their SHA-256 is stored, so a leaked
 * database does not leak usable tokens, and lookups by hash need no constant-time comparison.
 * Passwords are hashed with argon2id (19 MiB, two passes: OWASP's baseline). At most a bounded
 * number of hashes run at once, and callers beyond that get ERR_BUSY and respond with 503. Nothing here
 * logs a password or a token.
 */
#ifndef FROTH_AUTH_H
#define FROTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define AUTH_TOKEN_SIZE 64    /* 43 base64url characters and a NUL, with room to spare */
#define AUTH_HASH_SIZE 128    /* argon2id encoded hash and a NUL */
#define AUTH_PASSWORD_MAX 4096

/* Token lifetimes, in seconds, as Bubble documents them. */
#define AUTH_LIFETIME_SHORT (24 * 3600)        /* "stay logged in" = no */
#define AUTH_LIFETIME_LONG (365 * 24 * 3600)   /* "stay logged in" = yes, no 2FA */
#define AUTH_LIFETIME_LONG_2FA (30 * 24 * 3600) /* "stay logged in" = yes, with 2FA */
#define AUTH_IDLE_WINDOW (30 * 24 * 3600)      /* unused this long, a token expires */

typedef enum {
    CALLER_ANONYMOUS = 0,
    CALLER_USER,
    CALLER_ADMIN,
} auth_caller_kind_t;

typedef struct {
    auth_caller_kind_t kind;
    char user_id[40];            /* CALLER_USER */
    char admin_label[128];       /* CALLER_ADMIN */
    unsigned char token_hash[32]; /* the hash of the token used, for log_out */
    bool two_factor;
    bool admin_first_use;        /* CALLER_ADMIN: this request is the token's first use */
} auth_caller_t;

/* Where a request came from, as recorded with sessions and audit rows. Both are NULL for work
 * that no request started (the CLI, scheduled runs). */
typedef struct {
    const char *client_address; /* after --trusted-proxies */
    const char *user_agent;     /* the User-Agent header, NULL when none was sent */
} auth_origin_t;

/* Initialises libsodium and the hashing limiter: at most max_hashes concurrent hashes.
 * Returns ERR_INTERNAL when libsodium cannot start. Call once before threads start. */
err_t auth_init(unsigned max_hashes) WARN_UNUSED;

/* Hashes a password into out (NUL-terminated encoded argon2id string). ERR_BUSY when too many
 * hashes are running, ERR_NOMEM when the hash memory cannot be had. */
err_t auth_password_hash(const char *password, size_t len, char out[AUTH_HASH_SIZE]) WARN_UNUSED;

/* Checks a new password against the app's password policy. Returns false with a message for the
 * client in why (naming the rule it breaks, never the password). */
bool auth_password_allowed(const app_t *app, const char *password, size_t len, char *why,
                           size_t size);

/* Verifies a password against an encoded hash and sets *ok. When hash is NULL (unknown user), it
 * verifies against a dummy hash, so the timing does not reveal which emails exist. */
err_t auth_password_verify(const char *hash, const char *password, size_t len, bool *ok) WARN_UNUSED;

/* Turns on the in-memory credential cache for tokens checked against store and subscribes to the store's change notifications to keep it coherent
 * with revocations made by any node. On a shared store the cache is consulted only while the
 * store reports its notifications current. On a store this process serves alone (SQLite) it contains
 * user sessions only, whose revocations all pass through this process.
 * Call once before serving. */
err_t auth_cache_attach(store_t *store) WARN_UNUSED;

/* Drops every cached session of a user, after their sessions were revoked in the store. */
void auth_forget_user(const char *user_id);

/* Drops every cached credential, after revocations too many to name one by one. */
void auth_forget_all(void);

/* Drops one cached credential, after it was revoked in the store. */
void auth_forget_token(const unsigned char hash[32]);

/* Sets how long new sessions may go unused before they expire (default AUTH_IDLE_WINDOW, 30 days,
 * as Bubble documents). Sessions created before keep their window. Call before serving. */
void auth_set_idle_window(int64_t seconds);

/* Makes a new random token and its SHA-256. */
void auth_token_new(char token[AUTH_TOKEN_SIZE], unsigned char hash[32]);

/* SHA-256 of a token as presented by a client. */
void auth_token_hash(const char *token, size_t len, unsigned char hash[32]);

/* Resolves a bearer token to a caller: a live user session or an admin token. Returns
 * ERR_EXPIRED for a token that is unknown, revoked or expired (the client cannot tell which),
 * ERR_STORE when the store failed. Extends the session's idle window, writing last-used at most
 * once a minute. */
err_t auth_identify(store_conn_t *conn, const char *token, size_t len, int64_t now_ms,
                    auth_caller_t *out) WARN_UNUSED;

/* Resolves a token only as an admin token, for routes whose sessions live in another store. */
err_t auth_identify_admin(store_conn_t *conn, const char *token, size_t len, int64_t now_ms,
                          auth_caller_t *out) WARN_UNUSED;

/* Creates a session for user_id, recording origin (NULL: none) with it, and writes its token
 * into token_out and its lifetime in seconds into *lifetime_s. When session_out is not NULL, the
 * stored session is copied there. */
err_t auth_session_create(store_conn_t *conn, const char *user_id, bool stay_logged_in,
                          bool two_factor, const auth_origin_t *origin, int64_t now_ms,
                          char token_out[AUTH_TOKEN_SIZE], store_session_t *session_out,
                          int64_t *lifetime_s) WARN_UNUSED;

/* Revokes the session whose token has this hash. */
err_t auth_session_revoke(store_conn_t *conn, const unsigned char hash[32]) WARN_UNUSED;

/* Creates an admin token with a unique label; the token is written once into token_out and only
 * its hash is stored. ERR_CONFLICT when the label exists. */
err_t auth_admin_token_create(store_conn_t *conn, const char *label, int64_t now_ms,
                              char token_out[AUTH_TOKEN_SIZE]) WARN_UNUSED;

/* ---- The audit log (audit.c) ---- */

/* Days audit rows are kept by default; --audit-days sets another number. */
#define AUTH_AUDIT_DAYS 90

/* One event for the audit log. Every member but event may be NULL. detail is a short text of
 * key=value pairs written by froth's own code (a reason, who revoked, a count); it must never
 * hold a token, password, code, secret or hash, and is cut to STORE_AUDIT_DETAIL_MAX bytes. */
typedef struct {
    const char *event;
    const char *user_id;
    const char *admin_label;
    const char *session_id;
    const char *detail;
    const auth_origin_t *origin;
} auth_audit_t;

/* Copies text into out (size bytes, at least 1) for storage: cut to size - 1 bytes, with every
 * byte outside printable ASCII replaced by '?', so whatever header a client sends is valid UTF-8
 * for a PostgreSQL TEXT column and contains no control characters. NULL copies "". */
void auth_origin_copy(const char *text, char *out, size_t size);

/* Writes the entry to the audit log at now_ms, as part of the transaction open on conn if there
 * is one, so a rolled-back change leaves no row. Returns the store's error; the caller decides
 * whether a failed write fails the change (inside a transaction it must). */
err_t auth_audit(store_conn_t *conn, const auth_audit_t *entry, int64_t now_ms) WARN_UNUSED;

/* Revokes every session of a user that is being deleted, in the transaction open on conn, and
 * records it in the audit log as entry (whose user_id and detail it fills in). The caller drops
 * the user from the cache with auth_forget_user once the transaction has committed. */
err_t auth_user_deleted(store_conn_t *conn, const char *user_id, auth_audit_t entry,
                        int64_t now_ms) WARN_UNUSED;

/* auth_audit for events recorded outside any transaction, such as a failed login whose run is
 * rolled back: a failed write is logged, not returned. */
void auth_audit_or_log(store_conn_t *conn, const auth_audit_t *entry, int64_t now_ms);

/* ---- Throttling (throttle.c) ---- */

typedef struct {
    int64_t login_per_ip_per_minute;  /* login attempts per client address; 0 = no limit */
    int64_t signup_per_ip_per_hour;   /* sign-up attempts per client address; 0 = no limit */
    int64_t failures_before_lock;     /* failed logins per account in 15 minutes that lock it
                                         until the 15 minutes end; 0 = never lock */
} auth_throttle_config_t;

typedef enum {
    AUTH_ATTEMPT_LOGIN = 0,
    AUTH_ATTEMPT_SIGNUP,
} auth_attempt_t;

/* Replaces the defaults (20 logins a minute and 30 sign-ups an hour per address, lock after 10
 * failures). Call before serving. */
void auth_throttle_configure(const auth_throttle_config_t *config);

/* Counts an attempt from a client address. Returns ERR_DENIED with *retry_after_s set when the
 * address is over its limit. */
err_t auth_throttle_address(store_t *store, auth_attempt_t attempt, const char *address,
                            int64_t now_ms, int64_t *retry_after_s) WARN_UNUSED;

/* Returns ERR_DENIED with *retry_after_s set while the account is locked, without counting. */
err_t auth_throttle_account_check(store_t *store, const char *email_norm, int64_t now_ms,
                                  int64_t *retry_after_s) WARN_UNUSED;

/* Counts a failed login for the account; failures to count are logged, not returned. */
void auth_throttle_account_failed(store_t *store, const char *email_norm, int64_t now_ms);

/* Forgets the account's failures after a successful login. */
void auth_throttle_account_succeeded(store_t *store, const char *email_norm);

/* Lowercases and trims an email for comparison into out. Returns ERR_INVALID when it does not
 * look like an email (one '@', no spaces or control characters, at most 254 bytes). */
err_t auth_email_normalize(const char *email, size_t len, char *out, size_t size) WARN_UNUSED;

/* ---- The server's secret key (secret_key.c) ---- */

#define AUTH_SECRET_KEY_BYTES 32

/* Parses a key file's text: 32 bytes as 64 hex digits (either case) or as standard base64, with
 * white space around allowed. ERR_INVALID for anything else, with key wiped. */
err_t auth_secret_key_parse(const char *text, size_t n,
                            unsigned char key[AUTH_SECRET_KEY_BYTES]) WARN_UNUSED;

/* Reads the key file at path and makes it the key that encrypts TOTP secrets. With create, a
 * missing file is first created (mode 0600, O_EXCL) with a new random key as hex, and *created
 * is set. On failure writes why into msg, without any key material: ERR_NOT_FOUND (no file),
 * ERR_INVALID (not a key) or ERR_IO. Call before serving; not thread-safe. */
err_t auth_secret_key_load(const char *path, bool create, bool *created, char *msg,
                           size_t msglen) WARN_UNUSED;

/* Makes key (AUTH_SECRET_KEY_BYTES, copied) the key; NULL clears it. Not thread-safe. */
void auth_secret_key_set(const unsigned char *key);

/* True when a key is set. */
bool auth_secret_key_present(void);

/* True when the file exists and neither its group nor others have any permission on it. */
bool auth_secret_key_file_is_private(const char *path);

/* ---- Two-factor authentication (two_factor.c) ---- */

#define AUTH_RECOVERY_CODES 10      /* recovery codes in a set */
#define AUTH_RECOVERY_CODE_CHARS 10 /* base32 characters of one code, 50 random bits */

/* Stores a new random TOTP secret for the user, encrypted under the server's secret key, as
 * pending (2FA not enabled yet), replacing any pending one, and writes into *uri (arena) its
 * otpauth:// URI for authenticator apps, which carries the base32 secret, issuer and email.
 * ERR_CONFLICT when 2FA is already enabled, ERR_NOT_FOUND when there is no such user,
 * ERR_INTERNAL (logged) when no secret key is set. */
err_t auth_two_factor_start(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                            const char *issuer, const char *email, size_t email_n, arena_t *arena,
                            char **uri) WARN_UNUSED;

/* Enables 2FA when code is a valid TOTP code for the pending secret, with a new set of recovery
 * codes that *codes (arena) shows once, as "XXXXX-XXXXX" separated by spaces. *codes is NULL
 * when the code is not valid. ERR_NOT_FOUND when no secret is pending. */
/* Copies the six digits of a TOTP code into digits (NUL-terminated): six digits, or seven
 * characters with a space after the third, as authenticator apps show them, with spaces around
 * trimmed. Returns false for any other shape, such as a recovery code. */
bool auth_totp_code_digits(const char *code, size_t n, char digits[7]);

err_t auth_two_factor_confirm(store_conn_t *conn, const app_type_t *user_type,
                              const char *user_id, const char *code, size_t n, int64_t now_ms,
                              arena_t *arena, char **codes) WARN_UNUSED;

/* Checks code as a TOTP code (one step of drift, each step accepted once) or else as an unused
 * recovery code, which is used up. *enabled is false, and *ok too, when the user has no 2FA.
 * A stored secret that cannot be decrypted (wrong or missing secret key) is logged and makes
 * every TOTP code wrong; recovery codes still work. */
err_t auth_two_factor_verify(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                             const char *code, size_t n, int64_t now_ms, arena_t *arena,
                             bool *enabled, bool *ok) WARN_UNUSED;

/* Replaces the recovery codes with a new set, shown once in *codes as for confirm.
 * ERR_NOT_FOUND when 2FA is not enabled. */
err_t auth_two_factor_regenerate(store_conn_t *conn, const app_type_t *user_type,
                                 const char *user_id, arena_t *arena, char **codes) WARN_UNUSED;

/* Turns 2FA off and deletes the secret and recovery codes. */
err_t auth_two_factor_disable(store_conn_t *conn, const app_type_t *user_type,
                              const char *user_id) WARN_UNUSED;

#endif
