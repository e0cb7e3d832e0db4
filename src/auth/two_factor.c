/* Two-factor authentication with TOTP (RFC 6238) and single-use recovery codes.
 *
 * The TOTP secret is stored encrypted under the server's secret key (secret_key.c) and recovery
 * codes only as SHA-256 hashes. Secrets stored as plain base32 by earlier versions still work and
 * are encrypted the first time they are read with a key set. Nothing here logs a secret, a code
 * or a URI, and every copy of a secret on the stack is wiped after use. Callers decide what a
 * failed check costs (the account lockout).
 */
#include "auth/auth.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#include "auth/secret_key.h"
#include "auth/totp.h"
#include "core/log.h"
#include "core/sbuf.h"

#define SECRET_B32_SIZE ((TOTP_SECRET_BYTES * 8 + 4) / 5 + 1)
#define HASH_HEX_SIZE 65
#define URI_MAX 4096

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* A stored secret is SEALED_PREFIX and the unpadded URL-safe base64 of an XChaCha20-Poly1305
 * nonce followed by the encrypted secret and its tag. The user id is the associated data, so a
 * value copied into another user's row does not decrypt. A plain base32 secret never contains
 * ':', so the prefix distinguishes the two forms. */
#define SEALED_PREFIX "v1:"
#define SEALED_BYTES                                                                               \
    (crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + TOTP_SECRET_BYTES +                          \
     crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SEALED_SIZE                                                                                \
    (sizeof(SEALED_PREFIX) - 1 +                                                                   \
     sodium_base64_ENCODED_LEN(SEALED_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING))

static bool is_sealed(const char *stored)
{
    return strncmp(stored, SEALED_PREFIX, sizeof(SEALED_PREFIX) - 1) == 0;
}

/* Encrypts a raw TOTP key for user_id into *stored (arena). ERR_DENIED when no key is set. */
static err_t seal_secret(const char *user_id, const unsigned char key[TOTP_SECRET_BYTES],
                         arena_t *arena, char **stored)
{
    const unsigned char *server_key = auth__secret_key();
    if (server_key == NULL)
        return ERR_DENIED;
    unsigned char sealed[SEALED_BYTES];
    unsigned char *nonce = sealed;
    randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, NULL, key, TOTP_SECRET_BYTES,
        (const unsigned char *)user_id, strlen(user_id), NULL, nonce, server_key);
    *stored = arena_alloc(arena, SEALED_SIZE);
    if (*stored == NULL)
        return ERR_NOMEM;
    memcpy(*stored, SEALED_PREFIX, sizeof(SEALED_PREFIX) - 1);
    sodium_bin2base64(*stored + sizeof(SEALED_PREFIX) - 1,
                      SEALED_SIZE - (sizeof(SEALED_PREFIX) - 1), sealed, sizeof(sealed),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return ERR_OK;
}

/* Writes the raw TOTP key of a stored secret (sealed, or plain base32 from before encryption)
 * into key and its length into *len. ERR_DENIED, after logging why, when it cannot be read: no
 * key is set, the key is not the one that sealed it, or the value is damaged. The log line names
 * neither the key nor the secret; the request context adds the user id. */
static err_t open_secret(const char *user_id, const char *stored, unsigned char *key, size_t size,
                         size_t *len)
{
    *len = 0;
    if (!is_sealed(stored)) {
        const long n = auth__base32_decode(stored, key, size);
        if (n > 0) {
            *len = (size_t)n;
            return ERR_OK;
        }
        LOG_ERROR("stored TOTP secret is damaged", "form=%s", "base32");
        return ERR_DENIED;
    }
    const unsigned char *server_key = auth__secret_key();
    if (server_key == NULL) {
        LOG_ERROR("stored TOTP secret cannot be decrypted: no secret key is configured",
                  "fix=%s", "start froth with the --secret-key-file that encrypted it");
        return ERR_DENIED;
    }
    const char *b64 = stored + sizeof(SEALED_PREFIX) - 1;
    unsigned char sealed[SEALED_BYTES];
    size_t sealed_len = 0;
    unsigned long long n = 0;
    const bool ok =
        size >= TOTP_SECRET_BYTES &&
        sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL, &sealed_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        sealed_len == sizeof(sealed) &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            key, &n, NULL, sealed + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            sealed_len - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            (const unsigned char *)user_id, strlen(user_id), sealed, server_key) == 0;
    if (!ok) {
        LOG_ERROR("stored TOTP secret cannot be decrypted: wrong secret key or damaged value",
                  "fix=%s", "start froth with the --secret-key-file that encrypted it");
        return ERR_DENIED;
    }
    *len = (size_t)n;
    return ERR_OK;
}

/* Encrypts a secret still stored as plain base32, when a key is set, and points tf->secret at the
 * new form. The update only applies if the stored secret is unchanged, so it never overwrites a
 * concurrent enrolment. */
static err_t upgrade_secret(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                            store_two_factor_t *tf, arena_t *arena)
{
    if (tf->secret == NULL || is_sealed(tf->secret) || auth__secret_key() == NULL)
        return ERR_OK;
    unsigned char key[TOTP_SECRET_BYTES * 2];
    const long n = auth__base32_decode(tf->secret, key, sizeof(key));
    char *sealed = NULL;
    err_t err = ERR_OK;
    if (n == TOTP_SECRET_BYTES)
        err = seal_secret(user_id, key, arena, &sealed);
    sodium_memzero(key, sizeof(key));
    if (err != ERR_OK || sealed == NULL)
        return err;
    bool replaced = false;
    err = store_two_factor_replace_secret(conn, user_type, user_id, tf->secret, sealed, &replaced);
    if (err == ERR_OK && replaced) {
        LOG_INFO("stored TOTP secret encrypted", "%s", "");
        tf->secret = sealed;
    }
    return err;
}

/* Reads the user's state, encrypting a plain secret on the way. */
static err_t read_state(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                        arena_t *arena, store_two_factor_t *tf)
{
    err_t err = store_two_factor_get(conn, user_type, user_id, arena, tf);
    if (err == ERR_OK)
        err = upgrade_secret(conn, user_type, user_id, tf, arena);
    return err;
}

/* Percent-encodes everything but RFC 3986's unreserved characters, which is safe both in the
 * label (where ':' separates issuer and account) and in query values. */
static void put_escaped(sbuf_t *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            sbuf_putc(sb, (char)c);
        else
            sbuf_printf(sb, "%%%02X", c);
    }
}

static err_t build_uri(const char *issuer, const char *email, size_t email_n, const char *secret,
                       arena_t *arena, char **uri)
{
    sbuf_t sb;
    sbuf_init(&sb, URI_MAX);
    sbuf_puts(&sb, "otpauth://totp/");
    put_escaped(&sb, issuer, strlen(issuer));
    sbuf_putc(&sb, ':');
    put_escaped(&sb, email, email_n);
    sbuf_puts(&sb, "?secret=");
    sbuf_puts(&sb, secret);
    sbuf_puts(&sb, "&issuer=");
    put_escaped(&sb, issuer, strlen(issuer));
    sbuf_printf(&sb, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_STEP_S);
    err_t err = sbuf_error(&sb);
    if (err == ERR_OK) {
        *uri = arena_strdup(arena, sbuf_cstr(&sb));
        if (*uri == NULL)
            err = ERR_NOMEM;
    }
    sodium_memzero(sb.data, sb.len);
    sbuf_deinit(&sb);
    return err;
}

err_t auth_two_factor_start(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                            const char *issuer, const char *email, size_t email_n, arena_t *arena,
                            char **uri)
{
    *uri = NULL;
    store_two_factor_t tf;
    err_t err = store_two_factor_get(conn, user_type, user_id, arena, &tf);
    if (err != ERR_OK)
        return err;
    if (tf.enabled)
        return ERR_CONFLICT;

    unsigned char key[TOTP_SECRET_BYTES];
    char secret[SECRET_B32_SIZE];
    randombytes_buf(key, sizeof(key));
    auth__base32_encode(key, sizeof(key), secret);
    char *sealed = NULL;
    err = seal_secret(user_id, key, arena, &sealed);
    sodium_memzero(key, sizeof(key));
    if (err == ERR_DENIED) {
        LOG_ERROR("two-factor enrolment impossible: no secret key is configured", "fix=%s",
                  "start froth with --secret-key-file");
        err = ERR_INTERNAL;
    }
    if (err == ERR_OK)
        err = store_two_factor_set(conn, user_type, user_id,
                                   &(store_two_factor_t){.secret = sealed});
    if (err == ERR_OK)
        err = build_uri(issuer, email, email_n, secret, arena, uri);
    sodium_memzero(secret, sizeof(secret));
    return err;
}

/* Writes the hex SHA-256 of a recovery code in its canonical form: the ten base32 characters,
 * uppercase, without the separator or spaces a user may type. False when the text is not a
 * recovery code. */
static bool recovery_code_hash(const char *code, size_t n, char out[HASH_HEX_SIZE])
{
    char canon[AUTH_RECOVERY_CODE_CHARS];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char c = (char)toupper((unsigned char)code[i]);
        if (c == '-' || c == ' ')
            continue;
        if (len == sizeof(canon) || c == '\0' || strchr(base32_alphabet, c) == NULL)
            return false;
        canon[len++] = c;
    }
    if (len != sizeof(canon))
        return false;
    unsigned char hash[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(hash, (const unsigned char *)canon, len);
    sodium_bin2hex(out, HASH_HEX_SIZE, hash, sizeof(hash));
    sodium_memzero(canon, sizeof(canon));
    return true;
}

/* Makes AUTH_RECOVERY_CODES new codes: *shown gets them for the user ("ABCDE-FGHIJ", separated
 * by spaces) and *hashes their hashes for the store, both in arena. */
static err_t new_recovery_codes(arena_t *arena, char **shown, char **hashes)
{
    const size_t per_code = AUTH_RECOVERY_CODE_CHARS + 2;
    *shown = arena_alloc(arena, AUTH_RECOVERY_CODES * per_code);
    *hashes = arena_alloc(arena, AUTH_RECOVERY_CODES * HASH_HEX_SIZE);
    if (*shown == NULL || *hashes == NULL)
        return ERR_NOMEM;
    char *s = *shown, *h = *hashes;
    for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
        char *code = s;
        for (int j = 0; j < AUTH_RECOVERY_CODE_CHARS; j++) {
            if (j == AUTH_RECOVERY_CODE_CHARS / 2)
                *s++ = '-';
            *s++ = base32_alphabet[randombytes_uniform(32)];
        }
        if (!recovery_code_hash(code, (size_t)(s - code), h))
            return ERR_INTERNAL;
        h += HASH_HEX_SIZE - 1;
        *s++ = ' ';
        *h++ = ' ';
    }
    s[-1] = '\0';
    h[-1] = '\0';
    return ERR_OK;
}

/* Checks a TOTP code against tf's secret and records its step, so the code cannot be replayed. */
bool auth_totp_code_digits(const char *code, size_t n, char digits[TOTP_DIGITS + 1])
{
    while (n > 0 && code[0] == ' ') {
        code++;
        n--;
    }
    while (n > 0 && code[n - 1] == ' ')
        n--;
    const size_t half = TOTP_DIGITS / 2;
    if (n == TOTP_DIGITS + 1 && code[half] == ' ') {
        memcpy(digits, code, half);
        memcpy(digits + half, code + half + 1, half);
    } else if (n == TOTP_DIGITS) {
        memcpy(digits, code, TOTP_DIGITS);
    } else {
        return false;
    }
    digits[TOTP_DIGITS] = '\0';
    for (size_t i = 0; i < TOTP_DIGITS; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
    }
    return true;
}

static err_t check_totp(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                        const store_two_factor_t *tf, const char *code, size_t n, int64_t now_ms,
                        bool *ok, int64_t *step)
{
    *ok = false;
    char digits[TOTP_DIGITS + 1];
    if (tf->secret == NULL || !auth_totp_code_digits(code, n, digits))
        return ERR_OK;
    /* A secret that cannot be read makes every code wrong: the client gets the usual refusal
     * and the operator the log line open_secret wrote. */
    unsigned char key[TOTP_SECRET_BYTES * 2];
    size_t key_len = 0;
    bool matched = open_secret(user_id, tf->secret, key, sizeof(key), &key_len) == ERR_OK &&
                   auth__totp_check(key, key_len, digits, now_ms, tf->last_step, step);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(digits, sizeof(digits));
    if (!matched)
        return ERR_OK;
    return store_two_factor_accept_step(conn, user_type, user_id, *step, ok);
}

/* Removes the code's hash from tf's list; *ok is false when it is not in the list. */
static err_t use_recovery_code(store_conn_t *conn, const app_type_t *user_type,
                               const char *user_id, const store_two_factor_t *tf,
                               const char *code, size_t n, arena_t *arena, bool *ok)
{
    *ok = false;
    char hash[HASH_HEX_SIZE];
    if (tf->recovery_codes == NULL || !recovery_code_hash(code, n, hash))
        return ERR_OK;
    const char *list = tf->recovery_codes;
    const char *at = strstr(list, hash);
    if (at == NULL || (at != list && at[-1] != ' '))
        return ERR_OK;
    const size_t before = (size_t)(at - list);
    const char *after = at + HASH_HEX_SIZE - 1;
    if (*after == ' ')
        after++;
    char *rest = arena_printf(arena, "%.*s%s", (int)before, list, after);
    if (rest == NULL)
        return ERR_NOMEM;
    size_t len = strlen(rest);
    while (len > 0 && rest[len - 1] == ' ')
        rest[--len] = '\0';
    return store_two_factor_replace_codes(conn, user_type, user_id, list,
                                          len == 0 ? NULL : rest, ok);
}

err_t auth_two_factor_verify(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                             const char *code, size_t n, int64_t now_ms, arena_t *arena,
                             bool *enabled, bool *ok)
{
    *enabled = false;
    *ok = false;
    store_two_factor_t tf;
    err_t err = read_state(conn, user_type, user_id, arena, &tf);
    if (err != ERR_OK || !tf.enabled)
        return err;
    *enabled = true;
    while (n > 0 && code[0] == ' ') {
        code++;
        n--;
    }
    while (n > 0 && code[n - 1] == ' ')
        n--;
    int64_t step = 0;
    err = check_totp(conn, user_type, user_id, &tf, code, n, now_ms, ok, &step);
    if (err == ERR_OK && !*ok)
        err = use_recovery_code(conn, user_type, user_id, &tf, code, n, arena, ok);
    return err;
}

err_t auth_two_factor_confirm(store_conn_t *conn, const app_type_t *user_type,
                              const char *user_id, const char *code, size_t n, int64_t now_ms,
                              arena_t *arena, char **codes)
{
    *codes = NULL;
    store_two_factor_t tf;
    err_t err = read_state(conn, user_type, user_id, arena, &tf);
    if (err != ERR_OK)
        return err;
    if (tf.enabled || tf.secret == NULL)
        return ERR_NOT_FOUND;
    bool ok = false;
    int64_t step = 0;
    err = check_totp(conn, user_type, user_id, &tf, code, n, now_ms, &ok, &step);
    if (err != ERR_OK || !ok)
        return err;
    char *hashes = NULL;
    err = new_recovery_codes(arena, codes, &hashes);
    if (err != ERR_OK)
        return err;
    tf.enabled = true;
    tf.last_step = step;
    tf.recovery_codes = hashes;
    err = store_two_factor_set(conn, user_type, user_id, &tf);
    if (err != ERR_OK)
        *codes = NULL;
    return err;
}

err_t auth_two_factor_regenerate(store_conn_t *conn, const app_type_t *user_type,
                                 const char *user_id, arena_t *arena, char **codes)
{
    *codes = NULL;
    store_two_factor_t tf;
    err_t err = read_state(conn, user_type, user_id, arena, &tf);
    if (err != ERR_OK)
        return err;
    if (!tf.enabled)
        return ERR_NOT_FOUND;
    char *hashes = NULL;
    err = new_recovery_codes(arena, codes, &hashes);
    if (err == ERR_OK)
        err = store_two_factor_set(conn, user_type, user_id,
                                   &(store_two_factor_t){.secret = tf.secret,
                                                         .enabled = true,
                                                         .last_step = tf.last_step,
                                                         .recovery_codes = hashes});
    if (err != ERR_OK)
        *codes = NULL;
    return err;
}

err_t auth_two_factor_disable(store_conn_t *conn, const app_type_t *user_type,
                              const char *user_id)
{
    const store_two_factor_t none = {0};
    return store_two_factor_set(conn, user_type, user_id, &none);
}
