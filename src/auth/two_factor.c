/* Two-factor authentication with TOTP (RFC 6238) and single-use recovery codes.
 *
 * The TOTP secret is stored as base32 text and recovery codes only as SHA-256 hashes. Nothing here
 * logs a secret, a code or a URI, and every copy of a secret on the stack is wiped after use.
 * Callers decide what a failed check costs (the account lockout).
 */
#include "auth/auth.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

#include "auth/totp.h"
#include "core/sbuf.h"

#define SECRET_B32_SIZE ((TOTP_SECRET_BYTES * 8 + 4) / 5 + 1)
#define HASH_HEX_SIZE 65
#define URI_MAX 4096

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

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
    sodium_memzero(key, sizeof(key));
    /* NOTE: the secret is stored unencrypted, so a reader of the database can generate codes. */
    const store_two_factor_t pending = {.secret = secret};
    err = store_two_factor_set(conn, user_type, user_id, &pending);
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
static err_t check_totp(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                        const store_two_factor_t *tf, const char *code, size_t n, int64_t now_ms,
                        bool *ok, int64_t *step)
{
    *ok = false;
    if (tf->secret == NULL || n != TOTP_DIGITS)
        return ERR_OK;
    char digits[TOTP_DIGITS + 1];
    memcpy(digits, code, TOTP_DIGITS);
    digits[TOTP_DIGITS] = '\0';
    unsigned char key[TOTP_SECRET_BYTES * 2];
    const long key_len = auth__base32_decode(tf->secret, key, sizeof(key));
    bool matched = key_len > 0 &&
                   auth__totp_check(key, (size_t)key_len, digits, now_ms, tf->last_step, step);
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
    err_t err = store_two_factor_get(conn, user_type, user_id, arena, &tf);
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
    err_t err = store_two_factor_get(conn, user_type, user_id, arena, &tf);
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
    err_t err = store_two_factor_get(conn, user_type, user_id, arena, &tf);
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
