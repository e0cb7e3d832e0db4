/* froth's own sessions API: a user lists their sessions and revokes one of them.
 *
 *   GET    /_froth/sessions        the caller's live sessions, most recently used first
 *   DELETE /_froth/sessions/<id>   revokes one of them (204), the current one included
 *
 * Only user tokens may call it: admin tokens and anonymous callers have no sessions. Tokens are
 * never listed, only the public session ids, with the client address and User-Agent of the
 * request that created each session.
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

static void list_sessions(api_call_t *call)
{
    store_session_t current;
    const char *current_id = NULL;
    if (store_session_get(call->conn, call->caller.token_hash, &current) == ERR_OK)
        current_id = current.id;
    store_session_t *sessions;
    size_t n;
    err_t err = store_session_list(call->conn, call->caller.user_id, call->now_ms, call->req->arena,
                                   &sessions, &n);
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

/* Revokes the session and records it in the audit log in one transaction: by the user when it
 * is the session the request came with, by another of their sessions otherwise. */
static err_t revoke_and_audit(api_call_t *call, const char *id)
{
    store_session_t current;
    const bool own = store_session_get(call->conn, call->caller.token_hash, &current) == ERR_OK &&
                     strcmp(current.id, id) == 0;
    err_t err = store_begin(call->conn, true);
    if (err != ERR_OK)
        return err;
    err = store_session_revoke_id(call->conn, call->caller.user_id, id);
    const auth_origin_t origin = api__origin(call);
    const auth_audit_t entry = {.event = "session.revoked",
                                .user_id = call->caller.user_id,
                                .session_id = id,
                                .detail = own ? "by=user reason=sessions_api"
                                              : "by=other_session reason=sessions_api",
                                .origin = &origin};
    if (err == ERR_OK)
        err = auth_audit(call->conn, &entry, call->now_ms);
    if (err == ERR_OK)
        err = store_commit(call->conn);
    else
        store_rollback(call->conn);
    return err;
}

static void revoke_session(api_call_t *call, const char *id)
{
    err_t err = id_is_valid(id, strlen(id)) ? revoke_and_audit(call, id) : ERR_NOT_FOUND;
    if (err == ERR_OK)
        auth_forget_user(call->caller.user_id);
    if (err == ERR_NOT_FOUND) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Session %s not found", id);
        return;
    }
    if (err != ERR_OK) {
        api__reply_failure(call, err, "revoke session");
        return;
    }
    LOG_INFO("session revoked by its user", "session=%s", id);
    call->res->status = 204;
}

void api__sessions(api_call_t *call, const char *id)
{
    if (!api__authenticate_or_reply(call))
        return;
    if (call->caller.kind != CALLER_USER) {
        api__reply_unauthorized(call, 401, "The sessions API needs a user token", NULL);
        return;
    }
    const char *method = call->req->method;
    if (id == NULL && strcmp(method, "GET") == 0) {
        list_sessions(call);
    } else if (id != NULL && strcmp(method, "DELETE") == 0) {
        revoke_session(call, id);
    } else {
        http_response_header(call->res, "Allow", id == NULL ? "GET" : "DELETE");
        api__reply_message(call, 405, "Wrong method");
    }
}
