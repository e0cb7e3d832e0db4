/* froth's own sessions API: a user lists their sessions and revokes one of them, and an admin
 * does the same for any user.
 *
 *   GET    /_froth/sessions        the caller's live sessions, most recently used first
 *   DELETE /_froth/sessions/<id>   revokes one of them (204), the current one included
 *   DELETE /_froth/sessions        admin only: revokes every session of the user (204)
 *
 * A user token manages its own sessions. An admin token names the user with the query parameter
 * user_id on every route. Anonymous callers get 401. Tokens are never listed, only the public
 * session ids, with the client address and User-Agent of the request that created each session.
 */
#include <string.h>

#include "api/api_internal.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"

/* Writes ,"key":"value", or ,"key":null when value is empty. */
static void put_optional(sbuf_t *out, const char *key, const char *value)
{
    sbuf_printf(out, ",\"%s\":", key);
    if (value[0] == '\0')
        sbuf_puts(out, "null");
    else
        sbuf_put_json_string(out, value, strlen(value));
}

static void write_session(sbuf_t *out, const store_session_t *s, const char *current_id)
{
    char created[32], used[32], expires[32];
    clock_format_iso(s->created_ms, created);
    clock_format_iso(s->last_used_ms, used);
    int64_t end = s->expires_ms;
    if (s->last_used_ms + s->idle_ms < end)
        end = s->last_used_ms + s->idle_ms;
    clock_format_iso(end, expires);
    sbuf_printf(out,
                "{\"id\":\"%s\",\"created\":\"%s\",\"last_used\":\"%s\",\"expires\":\"%s\","
                "\"two_factor\":%s,\"current\":%s",
                s->id, created, used, expires, s->two_factor ? "true" : "false",
                current_id != NULL && strcmp(current_id, s->id) == 0 ? "true" : "false");
    put_optional(out, "client_address", s->client_address);
    put_optional(out, "user_agent", s->user_agent);
    sbuf_putc(out, '}');
}

/* Returns the user whose sessions the request manages: the caller's own for a user token, the
 * user_id parameter for an admin token. Replies and returns NULL when it names no user. */
static const char *target_user(api_call_t *call)
{
    char *user_id = NULL;
    const bool named = call->req->query != NULL &&
                       http_query_get(call->req->arena, call->req->query, "user_id", &user_id);
    if (call->caller.kind == CALLER_USER) {
        if (!named)
            return call->caller.user_id;
        api__reply_envelope(call, 400, "ERROR",
                            "Invalid parameter user_id: only an admin token names a user; a user "
                            "token manages its own sessions");
        return NULL;
    }
    if (!named || user_id == NULL || user_id[0] == '\0') {
        api__reply_envelope(call, 400, "ERROR",
                            "Missing parameter user_id: an admin token names the user whose "
                            "sessions it manages");
        return NULL;
    }
    const app_type_t *users = &call->app->types[call->app->user_type];
    store_row_t row;
    err_t err = id_is_valid(user_id, strlen(user_id))
                    ? store_get(call->conn, users, user_id, NULL, call->req->arena, &row)
                    : ERR_NOT_FOUND;
    if (err == ERR_NOT_FOUND) {
        api__reply_envelope(call, 404, "NOT_FOUND", "User %s not found", user_id);
        return NULL;
    }
    if (err != ERR_OK) {
        api__reply_failure(call, err, "find the user of a sessions request");
        return NULL;
    }
    return user_id;
}

static void list_sessions(api_call_t *call, const char *user_id)
{
    store_session_t current;
    const char *current_id = NULL;
    if (call->caller.kind == CALLER_USER &&
        store_session_get(call->conn, call->caller.token_hash, &current) == ERR_OK)
        current_id = current.id;
    store_session_t *sessions;
    size_t n;
    err_t err =
        store_session_list(call->conn, user_id, call->now_ms, call->req->arena, &sessions, &n);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "list sessions");
        return;
    }
    sbuf_t *out = &call->res->body;
    sbuf_puts(out, "{\"sessions\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sbuf_putc(out, ',');
        write_session(out, &sessions[i], current_id);
    }
    sbuf_puts(out, "]}");
    call->res->status = 200;
}

/* Revokes the session id of user_id, or every session of the user when id is NULL, and records
 * it in the audit log in the same transaction. The row records who revoked: the user (the session
 * the request came with), another of their sessions, or an admin. */
static err_t revoke_and_audit(api_call_t *call, const char *user_id, const char *id)
{
    const bool admin = call->caller.kind == CALLER_ADMIN;
    store_session_t current;
    const bool own = !admin && id != NULL &&
                     store_session_get(call->conn, call->caller.token_hash, &current) == ERR_OK &&
                     strcmp(current.id, id) == 0;
    err_t err = store_begin(call->conn, true);
    if (err != ERR_OK)
        return err;
    size_t n = 1;
    if (id != NULL)
        err = store_session_revoke_id(call->conn, user_id, id);
    else
        err = store_session_revoke_user(call->conn, user_id, NULL, &n);
    const char *by = "other_session";
    if (admin)
        by = "admin";
    else if (own)
        by = "user";
    const char *detail =
        id != NULL ? arena_printf(call->req->arena, "by=%s reason=sessions_api", by)
                   : arena_printf(call->req->arena, "by=%s reason=sessions_api count=%zu", by, n);
    const auth_origin_t origin = api__origin(call);
    const auth_audit_t entry = {.event = "session.revoked",
                                .user_id = user_id,
                                .admin_label = admin ? call->caller.admin_label : NULL,
                                .session_id = id,
                                .detail = detail,
                                .origin = &origin};
    if (err == ERR_OK && detail == NULL)
        err = ERR_NOMEM;
    if (err == ERR_OK && n == 0) {
        store_rollback(call->conn);
        return ERR_OK;
    }
    if (err == ERR_OK)
        err = auth_audit(call->conn, &entry, call->now_ms);
    if (err == ERR_OK)
        err = store_commit(call->conn);
    else
        store_rollback(call->conn);
    return err;
}

static void revoke_session(api_call_t *call, const char *user_id, const char *id)
{
    err_t err = id == NULL || id_is_valid(id, strlen(id)) ? revoke_and_audit(call, user_id, id)
                                                          : ERR_NOT_FOUND;
    if (err == ERR_OK)
        auth_forget_user(user_id);
    if (err == ERR_NOT_FOUND) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Session %s not found", id);
        return;
    }
    if (err != ERR_OK) {
        api__reply_failure(call, err, "revoke session");
        return;
    }
    if (id == NULL)
        LOG_INFO("sessions revoked by an admin", "user=%s", user_id);
    else
        LOG_INFO("session revoked", "session=%s by=%s", id,
                 call->caller.kind == CALLER_ADMIN ? "admin" : "user");
    call->res->status = 204;
}

void api__sessions(api_call_t *call, const char *id)
{
    if (!api__authenticate_or_reply(call))
        return;
    if (call->caller.kind != CALLER_USER && call->caller.kind != CALLER_ADMIN) {
        api__reply_unauthorized(call, 401, "The sessions API needs a user token or an admin token",
                                NULL);
        return;
    }
    const char *method = call->req->method;
    const bool admin = call->caller.kind == CALLER_ADMIN;
    const bool list = id == NULL && strcmp(method, "GET") == 0;
    const bool revoke = strcmp(method, "DELETE") == 0 && (id != NULL || admin);
    if (!list && !revoke) {
        const char *allow = "GET";
        if (id != NULL)
            allow = "DELETE";
        else if (admin)
            allow = "GET, DELETE";
        http_response_header(call->res, "Allow", allow);
        api__reply_message(call, 405, "Wrong method");
        return;
    }
    const char *user_id = target_user(call);
    if (user_id == NULL)
        return;
    if (list)
        list_sessions(call, user_id);
    else
        revoke_session(call, user_id, id);
}
