/* Opaque bearer tokens, user sessions and admin tokens. */
#include "auth/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"

/* Writes of last-used are coalesced to one per session per minute so that reads stay reads. */
#define TOUCH_INTERVAL_MS 60000

void auth_token_new(char token[AUTH_TOKEN_SIZE], unsigned char hash[32])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(token, AUTH_TOKEN_SIZE, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    auth_token_hash(token, strlen(token), hash);
}

void auth_token_hash(const char *token, size_t len, unsigned char hash[32])
{
    crypto_hash_sha256(hash, (const unsigned char *)token, len);
}

static err_t identify_admin(store_conn_t *conn, int64_t now_ms, auth_caller_t *out);

static bool session_live(const store_session_t *s, int64_t now_ms)
{
    if (s->revoked || now_ms >= s->expires_ms)
        return false;
    return now_ms < s->last_used_ms + s->idle_ms;
}

err_t auth_identify(store_conn_t *conn, const char *token, size_t len, int64_t now_ms,
                    auth_caller_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > 512)
        return ERR_EXPIRED;
    auth_token_hash(token, len, out->token_hash);

    store_session_t session;
    err_t err = store_session_get(conn, out->token_hash, &session);
    if (err == ERR_OK) {
        if (!session_live(&session, now_ms))
            return ERR_EXPIRED;
        out->kind = CALLER_USER;
        snprintf(out->user_id, sizeof(out->user_id), "%s", session.user_id);
        out->two_factor = session.two_factor;
        if (now_ms - session.last_used_ms >= TOUCH_INTERVAL_MS) {
            err = store_session_touch(conn, out->token_hash, now_ms);
            if (err != ERR_OK)
                LOG_WARN("session last-used update failed", "session=%s err=%s", session.id,
                         err_name(err));
        }
        return ERR_OK;
    }
    if (err != ERR_NOT_FOUND)
        return err;
    return identify_admin(conn, now_ms, out);
}

err_t auth_identify_admin(store_conn_t *conn, const char *token, size_t len, int64_t now_ms,
                          auth_caller_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > 512)
        return ERR_EXPIRED;
    auth_token_hash(token, len, out->token_hash);
    return identify_admin(conn, now_ms, out);
}

static err_t identify_admin(store_conn_t *conn, int64_t now_ms, auth_caller_t *out)
{
    store_admin_token_t admin;
    err_t err = store_admin_token_find(conn, out->token_hash, &admin);
    if (err == ERR_NOT_FOUND)
        return ERR_EXPIRED;
    if (err != ERR_OK)
        return err;
    out->kind = CALLER_ADMIN;
    snprintf(out->admin_label, sizeof(out->admin_label), "%s", admin.label);
    if (now_ms - admin.last_used_ms >= TOUCH_INTERVAL_MS) {
        err = store_admin_token_touch(conn, out->token_hash, now_ms);
        if (err != ERR_OK)
            LOG_WARN("admin token last-used update failed", "label=%s err=%s",
                     log_quote(admin.label), err_name(err));
    }
    return ERR_OK;
}

err_t auth_session_create(store_conn_t *conn, const char *user_id, bool stay_logged_in,
                          bool two_factor, int64_t now_ms, char token_out[AUTH_TOKEN_SIZE],
                          int64_t *lifetime_s)
{
    int64_t lifetime = AUTH_LIFETIME_SHORT;
    if (stay_logged_in)
        lifetime = two_factor ? AUTH_LIFETIME_LONG_2FA : AUTH_LIFETIME_LONG;

    store_session_t s;
    memset(&s, 0, sizeof(s));
    id_generate(s.id);
    snprintf(s.user_id, sizeof(s.user_id), "%s", user_id);
    s.created_ms = now_ms;
    s.last_used_ms = now_ms;
    s.expires_ms = now_ms + lifetime * 1000;
    s.idle_ms = (int64_t)AUTH_IDLE_WINDOW * 1000;
    s.two_factor = two_factor;

    unsigned char hash[32];
    auth_token_new(token_out, hash);
    err_t err = store_session_insert(conn, hash, &s);
    if (err != ERR_OK) {
        sodium_memzero(token_out, AUTH_TOKEN_SIZE);
        return err;
    }
    *lifetime_s = lifetime;
    LOG_INFO("session created", "session=%s user_id=%s lifetime_s=%lld", s.id, user_id,
             (long long)lifetime);
    return ERR_OK;
}

err_t auth_session_revoke(store_conn_t *conn, const unsigned char hash[32])
{
    return store_session_revoke(conn, hash);
}

err_t auth_admin_token_create(store_conn_t *conn, const char *label, int64_t now_ms,
                              char token_out[AUTH_TOKEN_SIZE])
{
    unsigned char hash[32];
    auth_token_new(token_out, hash);
    err_t err = store_admin_token_insert(conn, label, hash, now_ms);
    if (err != ERR_OK)
        sodium_memzero(token_out, AUTH_TOKEN_SIZE);
    return err;
}
