/* Workflow API: POST or GET /api/1.1/wf/<name>.
 *
 * Reads parameters from a JSON body, a form body or the query string, types them, checks the
 * workflow's authentication level and hands the run to the workflow module.
 */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "core/log.h"
#include "json/jsonx.h"
#include "workflow/workflow.h"

static bool content_type_is(const char *ct, const char *want)
{
    if (ct == NULL)
        return false;
    size_t n = strlen(want);
    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

typedef struct {
    api_call_t *call;
    const app_workflow_t *wf;
    json_t *body;     /* JSON object of body parameters, or NULL */
    const char *form; /* form body, or NULL */
} params_src_t;

/* Finds the raw parameter value. Returns 0 when absent, 1 with *j for JSON, 2 with *text. */
static int find_param(params_src_t *src, const app_param_t *p, json_t **j, char **text)
{
    api_call_t *call = src->call;
    bool from_query = src->wf->method_get || p->querystring;
    if (from_query) {
        if (!http_query_get(call->req->arena, call->req->query, p->name, text))
            return 0;
        return 2;
    }
    if (src->body != NULL) {
        *j = json_object_get(src->body, p->name);
        return *j == NULL ? 0 : 1;
    }
    if (src->form != NULL) {
        if (!http_query_get(call->req->arena, src->form, p->name, text))
            return 0;
        return 2;
    }
    return 0;
}

static bool read_params_or_reply(params_src_t *src, value_t *values)
{
    api_call_t *call = src->call;
    const app_workflow_t *wf = src->wf;
    call->accept_uploads = true;
    for (size_t i = 0; i < wf->nparams; i++) {
        const app_param_t *p = &wf->params[i];
        json_t *j = NULL;
        char *text = NULL;
        int found = find_param(src, p, &j, &text);
        const char *reason = NULL;
        err_t err = ERR_OK;
        values[i] = value_null();
        if (found == 1)
            err = api__value_from_json(call, p->type, j, &values[i], &reason);
        else if (found == 2 && text != NULL)
            err = api__value_from_text(call, p->type, text, &values[i], &reason);
        else if (found == 2)
            err = ERR_INVALID;
        if (err == ERR_TOO_LARGE && reason != NULL) {
            api__reply_envelope(call, 413, "ERROR", "File too large for parameter %s: %s", p->name,
                                reason);
            return false;
        }
        if (err != ERR_OK && err != ERR_INVALID) {
            api__reply_failure(call, err, "read workflow parameter");
            return false;
        }
        if (err == ERR_INVALID) {
            char tname[96];
            app_vtype_name(call->app, p->type, tname, sizeof(tname));
            api__reply_envelope(call, 400, "INVALID", "Invalid value for parameter %s (must be %s)",
                                p->name, tname);
            return false;
        }
        if (values[i].kind == VAL_NULL && !p->optional) {
            api__reply_envelope(call, 400, "MISSING_DATA",
                                "Missing parameter for workflow %s: parameter %s", wf->name, p->name);
            return false;
        }
    }
    return true;
}

static bool open_body_or_reply(params_src_t *src)
{
    api_call_t *call = src->call;
    http_request_t *req = call->req;
    if (src->wf->method_get || req->body_len == 0)
        return true;
    const char *ct = http_header(req, "Content-Type");
    const char *first = req->body + strspn(req->body, " \t\r\n");
    /* curl -d sends JSON labelled as a form; a body that opens like an object is read as JSON. */
    if (content_type_is(ct, "application/x-www-form-urlencoded") && *first != '{') {
        src->form = req->body;
        return true;
    }
    if (ct != NULL && !content_type_is(ct, "application/json") && !content_type_is(ct, "text/plain") &&
        !content_type_is(ct, "application/x-www-form-urlencoded")) {
        api__reply_envelope(call, 400, "ERROR",
                            "Unsupported Content-Type %s: send application/json or "
                            "application/x-www-form-urlencoded", ct);
        return false;
    }
    char msg[256];
    if (jsonx_parse(req->body, req->body_len, &src->body, msg, sizeof(msg)) != ERR_OK) {
        api__reply_envelope(call, 400, "ERROR", "Invalid request body: %s", msg);
        return false;
    }
    if (!json_is_object(src->body)) {
        json_decref(src->body);
        src->body = NULL;
        api__reply_envelope(call, 400, "ERROR", "Invalid request body: expected a JSON object");
        return false;
    }
    return true;
}

static bool check_auth_level_or_reply(api_call_t *call, const app_workflow_t *wf)
{
    auth_caller_kind_t kind = call->caller.kind;
    if (wf->auth == WF_AUTH_USER_OR_ADMIN && kind == CALLER_ANONYMOUS) {
        api__reply_unauthorized(call, 401, "This workflow requires an authenticated user or an admin token", NULL);
        return false;
    }
    if (wf->auth == WF_AUTH_ADMIN && kind != CALLER_ADMIN) {
        api__reply_unauthorized(call, kind == CALLER_ANONYMOUS ? 401 : 403,
                                "This workflow requires an admin API token", NULL);
        return false;
    }
    return true;
}

static bool has_action(const app_workflow_t *wf, app_action_kind_t kind)
{
    for (size_t i = 0; i < wf->nactions; i++) {
        if (wf->actions[i].kind == kind)
            return true;
    }
    return false;
}

/* Counts a login or sign-up attempt against the client's address before any work is done, so a
 * flood of them costs no password hashing. */
static bool throttle_or_reply(api_call_t *call, const app_workflow_t *wf)
{
    const bool login = has_action(wf, ACT_LOG_IN);
    if (!login && !has_action(wf, ACT_SIGN_UP))
        return true;
    int64_t retry_after = 0;
    err_t err = auth_throttle_address(call->store, login ? AUTH_ATTEMPT_LOGIN : AUTH_ATTEMPT_SIGNUP,
                                      call->req->client_ip, call->now_ms, &retry_after);
    if (err == ERR_OK)
        return true;
    if (err != ERR_DENIED) {
        api__reply_failure(call, err, "throttle");
        return false;
    }
    http_response_header(call->res, "Retry-After",
                         arena_printf(call->req->arena, "%lld", (long long)retry_after));
    api__reply_message(call, 429, "Too many requests: try again later");
    return false;
}

static void write_response(api_call_t *call, const wf_result_t *r)
{
    sbuf_t *out = &call->res->body;
    bool first = true;
    sbuf_puts(out, "{\"status\":\"success\",\"response\":{");
    if (r->has_token) {
        sbuf_puts(out, "\"user_id\":");
        sbuf_put_json_string(out, r->user_id, strlen(r->user_id));
        sbuf_puts(out, ",\"token\":");
        sbuf_put_json_string(out, r->token, strlen(r->token));
        sbuf_printf(out, ",\"expires\":%lld", (long long)r->expires_s);
        first = false;
    }
    for (size_t i = 0; i < r->noutputs; i++) {
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        sbuf_put_json_string(out, r->outputs[i].key, strlen(r->outputs[i].key));
        sbuf_putc(out, ':');
        api__write_value(out, r->outputs[i].type, r->outputs[i].value);
    }
    sbuf_puts(out, "}}");
    call->res->status = 200;
}

void api__workflow(api_call_t *call, const char *name)
{
    const app_workflow_t *wf = app_find_workflow(call->app, name, strlen(name));
    if (wf == NULL || !wf->expose) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Workflow %s not found", name);
        return;
    }
    const char *method = call->req->method;
    if (strcmp(method, wf->method_get ? "GET" : "POST") != 0) {
        http_response_header(call->res, "Allow", wf->method_get ? "GET" : "POST");
        api__reply_message(call, 405, "Wrong method");
        return;
    }
    if (!check_auth_level_or_reply(call, wf))
        return;
    if (!throttle_or_reply(call, wf))
        return;

    params_src_t src = {.call = call, .wf = wf};
    if (!open_body_or_reply(&src))
        return;
    value_t *params = arena_calloc(call->req->arena, wf->nparams + 1, sizeof(value_t));
    bool ok = params != NULL && read_params_or_reply(&src, params);
    if (params == NULL)
        api__reply_failure(call, ERR_NOMEM, "read workflow parameters");
    if (src.body != NULL)
        json_decref(src.body);
    if (!ok)
        return;

    wf_ctx_t ctx = {.app = call->app, .conn = call->conn, .arena = call->req->arena,
                    .now_ms = call->now_ms, .caller = &call->caller};
    wf_result_t result;
    err_t err = wf_run(&ctx, wf, params, &result);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "run workflow");
        return;
    }
    switch (result.status) {
    case WF_NOT_RUN:
        if (wf->return_200_if_not_met) {
            api__files_discard(call, 0);
            call->res->status = 200;
            sbuf_puts(&call->res->body, "{\"status\":\"success\",\"response\":{}}");
            return;
        }
        call->res->status = 400;
        sbuf_puts(&call->res->body, "{\"status\":\"NOT_RUN\",\"message\":");
        char msg[256];
        snprintf(msg, sizeof(msg), "The condition for the workflow %s is not met. Workflow won't run",
                 wf->name);
        sbuf_put_json_string(&call->res->body, msg, strlen(msg));
        sbuf_putc(&call->res->body, '}');
        return;
    case WF_FAILED:
        if (result.retry_after_s > 0)
            http_response_header(call->res, "Retry-After",
                                 arena_printf(call->req->arena, "%lld",
                                              (long long)result.retry_after_s));
        api__reply_envelope(call, result.http_status, result.code, "%s", result.message);
        return;
    case WF_DONE:
        write_response(call, &result);
        sodium_memzero(result.token, sizeof(result.token));
        return;
    }
}
