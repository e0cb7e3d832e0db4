/* Opaque bearer tokens, user sessions and admin tokens. */
#include "auth/auth.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "auth/cache.h"
#include "core/ids.h"
#include "core/log.h"

/* How long a session may go unused before it expires; each use extends it. */
static int64_t idle_window_s = AUTH_IDLE_WINDOW;

void auth_set_idle_window(int64_t seconds)
{
    if (seconds > 0)
        idle_window_s = seconds;
}

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

/* The store whose credentials the cache holds; NULL means no cache (every check reads the
 * store). Set once by auth_cache_attach before serving. */
static store_t *events_store;

/* True when this process serves the store alone (SQLite). Then every revocation of a user session
 * goes through this process and updates the cache directly, so the cache is always coherent for
 * sessions. Admin tokens can be revoked by the froth admin-token command, another process, so in
 * this mode they are never cached. */
static bool local_store;

static void on_store_event(void *ud, const char *event)
{
    unsigned char hash[32];
    const char *hex = NULL;
    if (strncmp(event, "session ", 8) == 0)
        hex = event + 8;
    else if (strncmp(event, "admin ", 6) == 0)
        hex = event + 6;
    if (hex != NULL) {
        size_t n = 0;
        if (sodium_hex2bin(hash, sizeof(hash), hex, strlen(hex), NULL, &n, NULL) == 0 &&
            n == sizeof(hash)) {
            auth__cache_remove(hash);
            return;
        }
    }
    if (strcmp(event, "reset") == 0) {
        auth__cache_clear();
        LOG_INFO("credential cache cleared", "reason=%s", "store events reconnected");
        return;
    }
    /* An event this node does not understand may be a revocation: forget everything. */
    auth__cache_clear();
    LOG_WARN("unknown store event; credential cache cleared", "event=%s", log_quote(event));
}

err_t auth_cache_attach(store_t *store)
{
    err_t err = store_events_start(store, on_store_event, NULL);
    if (err != ERR_OK)
        return err;
    local_store = !store_is_shared(store);
    events_store = store;
    return ERR_OK;
}

void auth_forget_user(const char *user_id)
{
    auth__cache_remove_user(user_id);
}

void auth_forget_all(void)
{
    auth__cache_clear();
}

err_t auth_user_deleted(store_conn_t *conn, const char *user_id, auth_audit_t entry,
                        int64_t now_ms)
{
    size_t n = 0;
    err_t err = store_session_revoke_user(conn, user_id, NULL, &n);
    auth_forget_user(user_id);
    if (err != ERR_OK || n == 0)
        return err;
    char detail[64];
    snprintf(detail, sizeof(detail), "by=%s reason=user_deleted count=%zu",
             entry.admin_label != NULL ? "admin" : "user", n);
    entry.event = "session.revoked";
    entry.user_id = user_id;
    entry.detail = detail;
    return auth_audit(conn, &entry, now_ms);
}

void auth_forget_token(const unsigned char hash[32])
{
    auth__cache_remove(hash);
}

/* The cache contains credentials of the attached store only. A version-test store's sessions
 * are always read from their own database. */
static bool cache_usable(const store_conn_t *conn)
{
    return events_store != NULL && store_of(conn) == events_store &&
           (local_store || store_events_current(events_store));
}

static err_t identify_admin(store_conn_t *conn, int64_t now_ms, auth_caller_t *out);

static bool session_live(const store_session_t *s, int64_t now_ms)
{
    if (s->revoked || now_ms >= s->expires_ms)
        return false;
    return now_ms < s->last_used_ms + s->idle_ms;
}

static void caller_from_entry(const auth__cache_entry_t *e, auth_caller_t *out)
{
    out->kind = e->kind;
    out->two_factor = e->two_factor;
    snprintf(out->user_id, sizeof(out->user_id), "%s", e->user_id);
    snprintf(out->admin_label, sizeof(out->admin_label), "%s", e->admin_label);
}

/* Records the first use of an admin token. Only the request whose update changed the row gets
 * admin_first_use, so the event is recorded once however many requests arrive together. */
static void touch_first(store_conn_t *conn, auth_caller_t *caller, int64_t now_ms)
{
    err_t err =
        store_admin_token_first_use(conn, caller->token_hash, now_ms, &caller->admin_first_use);
    if (err != ERR_OK) {
        LOG_WARN("credential last-used update failed", "err=%s", err_name(err));
        return;
    }
    auth__cache_touch(caller->token_hash, now_ms);
}

/* Records a use of a credential, writing last-used at most once a minute. */
static void touch(store_conn_t *conn, auth_caller_t *caller, int64_t last_used_ms, int64_t now_ms)
{
    if (caller->kind == CALLER_ADMIN && last_used_ms == 0) {
        touch_first(conn, caller, now_ms);
        return;
    }
    if (now_ms - last_used_ms < TOUCH_INTERVAL_MS)
        return;
    err_t err = caller->kind == CALLER_ADMIN
                    ? store_admin_token_touch(conn, caller->token_hash, now_ms)
                    : store_session_touch(conn, caller->token_hash, now_ms);
    if (err != ERR_OK) {
        LOG_WARN("credential last-used update failed", "err=%s", err_name(err));
        return;
    }
    auth__cache_touch(caller->token_hash, now_ms);
}

/* Resolves the token from the cache when the cache is coherent with the store. Returns
 * ERR_NOT_FOUND on a miss. A session whose idle window has ended by the cached last use is a miss
 * too, because other nodes record the uses they serve only in the store, and the stored row may
 * show a later one. The absolute expiry never changes, so the cache may reject a session past it. */
static err_t identify_cached(store_conn_t *conn, int64_t now_ms, auth_caller_t *out)
{
    auth__cache_entry_t e;
    if (!cache_usable(conn) || !auth__cache_get(out->token_hash, &e))
        return ERR_NOT_FOUND;
    if (e.kind == CALLER_USER && now_ms >= e.expires_ms) {
        auth__cache_remove(out->token_hash);
        return ERR_EXPIRED;
    }
    if (e.kind == CALLER_USER && now_ms >= e.last_used_ms + e.idle_ms) {
        auth__cache_remove(out->token_hash);
        return ERR_NOT_FOUND;
    }
    caller_from_entry(&e, out);
    touch(conn, out, e.last_used_ms, now_ms);
    return ERR_OK;
}

err_t auth_identify(store_conn_t *conn, const char *token, size_t len, int64_t now_ms,
                    auth_caller_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > 512)
        return ERR_EXPIRED;
    auth_token_hash(token, len, out->token_hash);
    err_t err = identify_cached(conn, now_ms, out);
    if (err != ERR_NOT_FOUND)
        return err;

    const uint64_t epoch = auth__cache_epoch();
    store_session_t session;
    err = store_session_get(conn, out->token_hash, &session);
    if (err == ERR_OK) {
        if (!session_live(&session, now_ms))
            return ERR_EXPIRED;
        out->kind = CALLER_USER;
        snprintf(out->user_id, sizeof(out->user_id), "%s", session.user_id);
        out->two_factor = session.two_factor;
        if (events_store != NULL && store_of(conn) == events_store) {
            auth__cache_entry_t e = {.kind = CALLER_USER, .two_factor = session.two_factor,
                                     .expires_ms = session.expires_ms, .idle_ms = session.idle_ms,
                                     .last_used_ms = session.last_used_ms};
            snprintf(e.user_id, sizeof(e.user_id), "%s", session.user_id);
            auth__cache_put(out->token_hash, &e, epoch);
        }
        touch(conn, out, session.last_used_ms, now_ms);
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
    const uint64_t epoch = auth__cache_epoch();
    store_admin_token_t admin;
    err_t err = store_admin_token_find(conn, out->token_hash, &admin);
    if (err == ERR_NOT_FOUND)
        return ERR_EXPIRED;
    if (err != ERR_OK)
        return err;
    out->kind = CALLER_ADMIN;
    snprintf(out->admin_label, sizeof(out->admin_label), "%s", admin.label);
    if (events_store != NULL && store_of(conn) == events_store && !local_store) {
        auth__cache_entry_t e = {.kind = CALLER_ADMIN, .expires_ms = INT64_MAX,
                                 .last_used_ms = admin.last_used_ms};
        snprintf(e.admin_label, sizeof(e.admin_label), "%s", admin.label);
        auth__cache_put(out->token_hash, &e, epoch);
    }
    touch(conn, out, admin.last_used_ms, now_ms);
    return ERR_OK;
}

err_t auth_session_create(store_conn_t *conn, const char *user_id, bool stay_logged_in,
                          bool two_factor, const auth_origin_t *origin, int64_t now_ms,
                          char token_out[AUTH_TOKEN_SIZE], store_session_t *session_out,
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
    s.idle_ms = idle_window_s * 1000;
    s.two_factor = two_factor;
    if (origin != NULL) {
        auth_origin_copy(origin->client_address, s.client_address, sizeof(s.client_address));
        auth_origin_copy(origin->user_agent, s.user_agent, sizeof(s.user_agent));
    }

    unsigned char hash[32];
    auth_token_new(token_out, hash);
    err_t err = store_session_insert(conn, hash, &s);
    if (err != ERR_OK) {
        sodium_memzero(token_out, AUTH_TOKEN_SIZE);
        return err;
    }
    *lifetime_s = lifetime;
    if (session_out != NULL)
        *session_out = s;
    LOG_INFO("session created", "session=%s user_id=%s lifetime_s=%lld", s.id, user_id,
             (long long)lifetime);
    return ERR_OK;
}

err_t auth_session_revoke(store_conn_t *conn, const unsigned char hash[32])
{
    auth__cache_remove(hash);
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
