/* Routing, authentication and dispatch for every request.
 *
 * Order matters and follows Bubble: the token is checked first (a bad token is a 401 even on a
 * route that would 404), then the route and the type or workflow, then the handler.
 */
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "core/clock.h"
#include "core/log.h"

typedef struct {
    const char *seg[6];
    size_t nseg;
} path_t;

/* Splits the path into percent-decoded segments; returns false on a malformed escape, a path
 * with too many segments, or an empty segment. */
static bool split_path(arena_t *a, const char *p, size_t n, path_t *out)
{
    out->nseg = 0;
    size_t i = 0;
    if (n == 0 || p[0] != '/')
        return false;
    while (i < n) {
        i++; /* skip '/' */
        size_t start = i;
        while (i < n && p[i] != '/')
            i++;
        if (i == start) {
            if (i == n)
                break; /* trailing slash */
            return false;
        }
        if (out->nseg == sizeof(out->seg) / sizeof(out->seg[0]))
            return false;
        size_t len;
        char *seg = http_url_decode(a, p + start, i - start, &len);
        if (seg == NULL || strchr(seg, '/') != NULL)
            return false;
        out->seg[out->nseg++] = seg;
    }
    return true;
}

/* Finds the bearer token in the Authorization header or, failing that, the api_token query
 * parameter. Returns false when a credential was sent but is malformed. */
static bool find_token(api_call_t *call, const char **token)
{
    *token = NULL;
    const char *auth = http_header(call->req, "Authorization");
    if (auth != NULL) {
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return false;
        const char *t = auth + 7;
        while (*t == ' ')
            t++;
        *token = t;
        return *t != '\0';
    }
    char *q = NULL;
    if (http_query_get(call->req->arena, call->req->query, "api_token", &q)) {
        *token = q;
        return q != NULL && *q != '\0';
    }
    return true;
}

auth_origin_t api__origin(const api_call_t *call)
{
    return (auth_origin_t){.client_address = api__client_address(call),
                           .user_agent = http_header(call->req, "User-Agent")};
}

/* Records an admin token's first use in the database that contains the token. */
static void audit_first_use(api_call_t *call, store_conn_t *conn)
{
    if (call->caller.kind != CALLER_ADMIN || !call->caller.admin_first_use)
        return;
    const auth_origin_t origin = api__origin(call);
    const auth_audit_t entry = {.event = "admin_token.first_used",
                                .admin_label = call->caller.admin_label,
                                .detail = call->env_name[0] == 't' ? "environment=test" : NULL,
                                .origin = &origin};
    auth_audit_or_log(conn, &entry, call->now_ms);
}

/* Admin tokens are one set for both environments, as on Bubble, and live in the live database;
 * user sessions belong to the environment that issued them. */
static err_t identify_live_admin(api_call_t *call, const char *token)
{
    store_conn_t *live;
    err_t err = store_acquire(call->api->store, &live);
    if (err != ERR_OK)
        return err;
    err = auth_identify_admin(live, token, strlen(token), call->now_ms, &call->caller);
    if (err == ERR_OK)
        audit_first_use(call, live);
    store_release(live);
    return err;
}

err_t api__authenticate(api_call_t *call)
{
    const char *token;
    if (!find_token(call, &token))
        return ERR_EXPIRED;
    if (token != NULL) {
        err_t err = auth_identify(call->conn, token, strlen(token), call->now_ms, &call->caller);
        if (err == ERR_OK)
            audit_first_use(call, call->conn);
        else if (err == ERR_EXPIRED && call->store != call->api->store)
            err = identify_live_admin(call, token);
        if (err != ERR_OK)
            return err;
    }
    if (call->caller.kind == CALLER_USER) {
        call->req->log_user = arena_strdup(call->req->arena, call->caller.user_id);
        log_context()->user_id = call->req->log_user;
    } else if (call->caller.kind == CALLER_ADMIN) {
        call->req->log_user = arena_printf(call->req->arena, "admin:%s", call->caller.admin_label);
    }
    call->pctx = (privacy_ctx_t){
        .app = call->app,
        .conn = call->conn,
        .arena = call->req->arena,
        .user_id = call->caller.kind == CALLER_USER ? call->caller.user_id : NULL,
        .is_admin = call->caller.kind == CALLER_ADMIN,
        .bypass = call->caller.kind == CALLER_ADMIN,
        .now_ms = call->now_ms,
    };
    return ERR_OK;
}

bool api__authenticate_or_reply(api_call_t *call)
{
    const err_t err = api__authenticate(call);
    if (err == ERR_EXPIRED) {
        api__reply_unauthorized(call, 401, "Invalid or expired token", NULL);
        return false;
    }
    if (err != ERR_OK) {
        api__reply_failure(call, err, "authenticate");
        return false;
    }
    return true;
}

static void reply_wrong_method(api_call_t *call, const char *allowed)
{
    http_response_header(call->res, "Allow", allowed);
    api__reply_message(call, 405, "Wrong method");
}

static void route_obj(api_call_t *call, const path_t *path, size_t at)
{
    const char *method = call->req->method;
    if (!call->app->settings.data_api) {
        api__reply_envelope(call, 404, "NOT_FOUND", "The Data API is not enabled for this app");
        return;
    }
    if (path->nseg == at) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Missing type name in the route");
        return;
    }
    const char *name = path->seg[at];
    const app_type_t *type = app_find_type_by_url(call->app, name, strlen(name));
    if (type == NULL || !type->expose) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Type not found %s", name);
        return;
    }
    size_t rest = path->nseg - at - 1;
    if (rest == 0) {
        if (strcmp(method, "GET") == 0)
            api__data_search(call, type);
        else if (strcmp(method, "POST") == 0)
            api__data_create(call, type);
        else
            reply_wrong_method(call, "GET, POST");
        return;
    }
    if (rest != 1) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Route not found");
        return;
    }
    const char *id = path->seg[at + 1];
    if (strcmp(id, "bulk") == 0) {
        if (strcmp(method, "POST") == 0)
            api__data_bulk(call, type);
        else
            reply_wrong_method(call, "POST");
        return;
    }
    if (strcmp(method, "GET") == 0)
        api__data_get(call, type, id);
    else if (strcmp(method, "PATCH") == 0)
        api__data_modify(call, type, id, false);
    else if (strcmp(method, "PUT") == 0)
        api__data_modify(call, type, id, true);
    else if (strcmp(method, "DELETE") == 0)
        api__data_delete(call, type, id);
    else
        reply_wrong_method(call, "GET, PATCH, PUT, DELETE");
}

static void route_api(api_call_t *call, const path_t *path, size_t at)
{
    if (!api__authenticate_or_reply(call))
        return;
    if (path->nseg > at && strcmp(path->seg[at], "obj") == 0) {
        route_obj(call, path, at + 1);
        return;
    }
    if (path->nseg == at + 2 && strcmp(path->seg[at], "meta") == 0 &&
        strcmp(path->seg[at + 1], "swagger.json") == 0) {
        if (strcmp(call->req->method, "GET") != 0)
            reply_wrong_method(call, "GET");
        else
            api__swagger(call);
        return;
    }
    if (path->nseg == at + 1 && strcmp(path->seg[at], "meta") == 0) {
        if (strcmp(call->req->method, "GET") != 0)
            reply_wrong_method(call, "GET");
        else
            api__meta(call);
        return;
    }
    const bool initialize = path->nseg == at + 3 && strcmp(path->seg[at + 2], "initialize") == 0;
    if ((path->nseg == at + 2 || initialize) && strcmp(path->seg[at], "wf") == 0) {
        if (!call->app->settings.workflow_api) {
            api__reply_envelope(call, 404, "NOT_FOUND", "The Workflow API is not enabled for this app");
            return;
        }
        if (initialize)
            api__workflow_initialize(call, path->seg[at + 1]);
        else
            api__workflow(call, path->seg[at + 1]);
        return;
    }
    api__reply_envelope(call, 404, "NOT_FOUND", "Route not found");
}

static void health(api_call_t *call)
{
    err_t err = store_ping(call->api->store);
    if (err == ERR_OK && call->api->test_store != NULL)
        err = store_ping(call->api->test_store);
    call->res->status = err == ERR_OK ? 200 : 503;
    sbuf_puts(&call->res->body, err == ERR_OK ? "{\"status\":\"ok\"}" : "{\"status\":\"store unreachable\"}");
}

static bool origin_allowed(const api_t *api, const char *origin)
{
    for (const char *const *o = api->cors_origins; o != NULL && *o != NULL; o++) {
        if (strcmp(*o, "*") == 0 || strcasecmp(*o, origin) == 0)
            return true;
    }
    return false;
}

/* Browsers send a preflight before a cross-origin request with a bearer token. Allowed origins
 * are configured explicitly; none are allowed by default, so a page on another site cannot use
 * a visitor's browser against the API. Returns true when the request was a preflight. */
static bool handle_cors(api_call_t *call)
{
    const char *origin = http_header(call->req, "Origin");
    bool allowed = origin != NULL && origin_allowed(call->api, origin);
    if (allowed) {
        http_response_header(call->res, "Access-Control-Allow-Origin", origin);
        http_response_header(call->res, "Vary", "Origin");
    }
    if (strcmp(call->req->method, "OPTIONS") != 0)
        return false;
    if (origin == NULL || http_header(call->req, "Access-Control-Request-Method") == NULL) {
        http_response_header(call->res, "Allow", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
        call->res->status = 204;
        return true;
    }
    if (!allowed) {
        api__reply_message(call, 403, "Origin not allowed");
        return true;
    }
    http_response_header(call->res, "Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE");
    http_response_header(call->res, "Access-Control-Allow-Headers", "Authorization, Content-Type");
    http_response_header(call->res, "Access-Control-Max-Age", "600");
    call->res->status = 204;
    return true;
}

void api_handle(void *ctx, http_request_t *req, http_response_t *res)
{
    const api_t *api = ctx;
    api_call_t call = {.api = api, .app = api->app, .req = req, .res = res, .store = api->store,
                       .env_name = "live", .now_ms = clock_now_ms()};
    if (handle_cors(&call))
        return;
    if (api__files_route(&call))
        return;
    path_t path;
    if (!split_path(req->arena, req->path, req->path_len, &path)) {
        api__reply_envelope(&call, 400, "ERROR", "Invalid path");
        return;
    }
    if (path.nseg == 2 && strcmp(path.seg[0], "_froth") == 0 && strcmp(path.seg[1], "health") == 0) {
        health(&call);
        return;
    }
    if ((path.nseg == 2 || path.nseg == 3) && strcmp(path.seg[0], "_froth") == 0 &&
        strcmp(path.seg[1], "sessions") == 0) {
        if (store_acquire(call.store, &call.conn) != ERR_OK) {
            api__reply_failure(&call, ERR_STORE, "acquire store connection");
            return;
        }
        api__sessions(&call, path.nseg == 3 ? path.seg[2] : NULL);
        store_release(call.conn);
        return;
    }
    if (path.nseg == 2 && strcmp(path.seg[0], "_froth") == 0 &&
        strcmp(path.seg[1], "explain") == 0) {
        if (store_acquire(call.store, &call.conn) != ERR_OK) {
            api__reply_failure(&call, ERR_STORE, "acquire store connection");
            return;
        }
        api__explain(&call);
        store_release(call.conn);
        return;
    }

    if (path.nseg == 2 && strcmp(path.seg[0], "_froth") == 0 && strcmp(path.seg[1], "audit") == 0) {
        if (store_acquire(call.store, &call.conn) != ERR_OK) {
            api__reply_failure(&call, ERR_STORE, "acquire store connection");
            return;
        }
        api__audit(&call);
        store_release(call.conn);
        return;
    }

    size_t at = 0;
    if (path.nseg > 0 && strcmp(path.seg[0], "version-live") == 0) {
        at = 1;
    } else if (path.nseg > 0 && strcmp(path.seg[0], "version-test") == 0) {
        if (api->test_store == NULL) {
            api__reply_envelope(&call, 404, "NOT_FOUND",
                                "The version-test database is not configured: start froth with "
                                "--test-db to serve it");
            return;
        }
        at = 1;
        call.store = api->test_store;
        call.env_name = "test";
    }
    if (path.nseg < at + 2 || strcmp(path.seg[at], "api") != 0 || strcmp(path.seg[at + 1], "1.1") != 0) {
        api__reply_envelope(&call, 404, "NOT_FOUND", "Route not found");
        return;
    }

    err_t err = store_acquire(call.store, &call.conn);
    if (err != ERR_OK) {
        api__reply_failure(&call, err, "acquire store connection");
        return;
    }
    const uint64_t statements_before = store_conn_statements(call.conn);
    route_api(&call, &path, at + 2);
    /* Files stored by a request that then failed are referenced by nothing. */
    if (call.res->status < 200 || call.res->status > 299)
        api__files_discard(&call, 0);
    req->log_statements = (long long)(store_conn_statements(call.conn) - statements_before);
    store_release(call.conn);
}
