/* Workflow API: POST or GET /api/1.1/wf/<name>, and /api/1.1/wf/<name>/initialize.
 *
 * Reads parameters from a JSON, form or multipart/form-data body or the query string, types them,
 * checks the workflow's authentication level and hands the run to the workflow module.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- multipart/form-data ------------------------------------------------------------------ */

/* A form of a few dozen fields is typical, so 100 parts bounds the work one body can cause. The
 * body itself is already capped by the HTTP layer (--max-body). */
#define MULTIPART_MAX_PARTS 100
/* RFC 2046 limits a boundary to 70 characters. */
#define BOUNDARY_MAX 70

typedef struct {
    const char *name;     /* NUL-terminated copy */
    const char *filename; /* NULL for a text field, "" when the browser sent no file name */
    const char *data;     /* points into the request body */
    size_t len;
} form_part_t;

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

/* Reads one header parameter value at p: a token, or a quoted string whose backslashes escape
 * the next character. Returns a NUL-terminated copy and moves *end past the value. */
static char *read_param_value(arena_t *arena, const char *p, const char *limit, const char **end)
{
    char *out = arena_alloc(arena, (size_t)(limit - p) + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    if (p < limit && *p == '"') {
        for (p++; p < limit && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < limit)
                p++;
            out[n++] = *p;
        }
        if (p < limit)
            p++;
    } else {
        while (p < limit && *p != ';' && *p != ' ' && *p != '\t')
            out[n++] = *p++;
    }
    out[n] = '\0';
    *end = p;
    return out;
}

/* Finds parameter key (with its '=') among the ';'-separated parameters of a header value. */
static char *header_param(arena_t *arena, const char *value, const char *limit, const char *key)
{
    const size_t key_len = strlen(key);
    for (const char *p = memchr(value, ';', (size_t)(limit - value)); p != NULL && p < limit;
         p = memchr(p, ';', (size_t)(limit - p))) {
        p++;
        while (p < limit && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(limit - p) > key_len && strncasecmp(p, key, key_len) == 0) {
            const char *end;
            return read_param_value(arena, p + key_len, limit, &end);
        }
    }
    return NULL;
}

static bool multipart_boundary(arena_t *arena, const char *ct, char **boundary)
{
    char *b = header_param(arena, ct, ct + strlen(ct), "boundary=");
    if (b == NULL || b[0] == '\0' || strlen(b) > BOUNDARY_MAX)
        return false;
    *boundary = b;
    return true;
}

/* Reads the name and file name of a part from its header block. Other headers (a part's own
 * Content-Type, for one) are ignored. */
static const char *read_part_headers(arena_t *arena, const char *p, const char *limit,
                                     form_part_t *part)
{
    while (p < limit) {
        const char *eol = find_bytes(p, (size_t)(limit - p), "\r\n", 2);
        if (eol == NULL)
            eol = limit;
        static const char cd[] = "Content-Disposition:";
        if ((size_t)(eol - p) >= sizeof(cd) - 1 && strncasecmp(p, cd, sizeof(cd) - 1) == 0) {
            const char *v = p + sizeof(cd) - 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            if ((size_t)(eol - v) < 9 || strncasecmp(v, "form-data", 9) != 0)
                return "a part's Content-Disposition must be form-data";
            part->name = header_param(arena, v, eol, "name=");
            part->filename = header_param(arena, v, eol, "filename=");
        }
        p = eol + 2;
    }
    if (part->name == NULL || part->name[0] == '\0')
        return "a part has no name in its Content-Disposition header";
    return NULL;
}

/* Splits a multipart/form-data body into parts. Returns NULL, or a message for the client. */
static const char *parse_multipart(arena_t *arena, const char *body, size_t len,
                                   const char *boundary, form_part_t **parts, size_t *nparts)
{
    char delim[BOUNDARY_MAX + 5];
    const size_t dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
    *parts = arena_calloc(arena, MULTIPART_MAX_PARTS, sizeof(form_part_t));
    *nparts = 0;
    if (*parts == NULL)
        return "out of memory";

    /* The first delimiter may open the body, without the line break before it. */
    const char *end = body + len;
    const char *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        const char *first = find_bytes(body, len, delim, dlen);
        if (first == NULL)
            return "the body has no part delimited by the boundary of its Content-Type";
        p = first + dlen;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return NULL;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return "a boundary line is malformed";
        p += 2;
        if (*nparts == MULTIPART_MAX_PARTS)
            return "too many parts: a form has at most 100";

        const char *headers_end = end - p >= 2 && p[0] == '\r' && p[1] == '\n'
                                      ? p
                                      : find_bytes(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (headers_end == NULL)
            return "a part's headers do not end";
        const char *data = headers_end == p ? p + 2 : headers_end + 4;
        form_part_t *part = &(*parts)[*nparts];
        const char *problem = read_part_headers(arena, p, headers_end, part);
        if (problem != NULL)
            return problem;
        const char *next = find_bytes(data, (size_t)(end - data), delim, dlen);
        if (next == NULL)
            return "the body ends before the closing boundary";
        part->data = data;
        part->len = (size_t)(next - data);
        (*nparts)++;
        p = next + dlen;
    }
}

/* ---- Parameters ------------------------------------------------------------------------------ */

typedef struct {
    api_call_t *call;
    const app_workflow_t *wf;
    json_t *body;     /* JSON object of body parameters, or NULL */
    const char *form; /* form body, or NULL */
    form_part_t *parts; /* multipart body, or NULL */
    size_t nparts;
} params_src_t;

typedef enum { RAW_ABSENT = 0, RAW_JSON, RAW_TEXT, RAW_FILE } raw_kind_t;

/* A parameter as the request carries it, before it is typed. */
typedef struct {
    raw_kind_t kind;
    json_t *json;            /* RAW_JSON, borrowed from the body */
    char *text;              /* RAW_TEXT, or NULL when it could not be decoded */
    const form_part_t *file; /* RAW_FILE */
} raw_param_t;

static void find_part(const params_src_t *src, const char *name, raw_param_t *raw)
{
    api_call_t *call = src->call;
    for (size_t i = 0; i < src->nparts; i++) {
        const form_part_t *part = &src->parts[i];
        if (strcmp(part->name, name) != 0)
            continue;
        if (part->filename != NULL) {
            /* A browser sends an empty part with an empty file name for a file input left
             * blank. */
            raw->kind = part->filename[0] == '\0' && part->len == 0 ? RAW_ABSENT : RAW_FILE;
            raw->file = part;
            return;
        }
        raw->kind = RAW_TEXT;
        if (memchr(part->data, '\0', part->len) == NULL)
            raw->text = arena_strndup(call->req->arena, part->data, part->len);
        return;
    }
}

static void find_param(params_src_t *src, const app_param_t *p, raw_param_t *raw)
{
    api_call_t *call = src->call;
    memset(raw, 0, sizeof(*raw));
    const char *query = src->wf->method_get || p->querystring ? call->req->query : src->form;
    if (query != NULL) {
        if (http_query_get(call->req->arena, query, p->name, &raw->text))
            raw->kind = RAW_TEXT;
    } else if (src->body != NULL) {
        raw->json = json_object_get(src->body, p->name);
        raw->kind = raw->json == NULL ? RAW_ABSENT : RAW_JSON;
    } else if (src->parts != NULL) {
        find_part(src, p->name, raw);
    }
}

/* Converts a file part into the upload object a JSON body would carry, so both forms are stored
 * the same way. Only a single file or image parameter takes one. */
static err_t value_from_part(api_call_t *call, app_vtype_t t, const form_part_t *part,
                             value_t *out, const char **reason)
{
    if ((t.kind != FK_FILE && t.kind != FK_IMAGE) || t.is_list)
        return ERR_INVALID;
    const size_t cap = sodium_base64_ENCODED_LEN(part->len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (b64 == NULL)
        return ERR_NOMEM;
    sodium_bin2base64(b64, cap, (const unsigned char *)part->data, part->len,
                      sodium_base64_VARIANT_ORIGINAL);
    json_t *object = json_object();
    json_t *contents = json_string(b64);
    free(b64);
    if (object == NULL || contents == NULL || json_object_set_new(object, "contents", contents) != 0) {
        json_decref(object);
        return ERR_NOMEM;
    }
    if (part->filename[0] != '\0')
        json_object_set_new(object, "filename", json_string(part->filename));
    err_t err = api__value_from_json(call, t, object, out, reason);
    json_decref(object);
    return err;
}

/* Builds a list from comma-separated text, as query strings carry lists of text, numbers and ids.
 * Spaces around each item are dropped. */
static err_t list_from_commas(api_call_t *call, app_vtype_t t, const char *text, value_t *out,
                              const char **reason)
{
    json_t *items = json_array();
    err_t err = items == NULL ? ERR_NOMEM : ERR_OK;
    const char *p = text;
    /* One item more than a list may hold lets values.c report the list as too long. */
    for (size_t count = 0; err == ERR_OK && count <= 10000; count++) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        while (end > q && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        json_t *item = json_stringn(q, (size_t)(end - q));
        if (item == NULL || json_array_append_new(items, item) != 0) {
            *reason = "expected valid UTF-8 text";
            err = ERR_INVALID;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (err == ERR_OK)
        err = api__value_from_json(call, t, items, out, reason);
    json_decref(items);
    return err;
}

static err_t value_from_raw(api_call_t *call, const app_param_t *p, const raw_param_t *raw,
                            value_t *out, const char **reason)
{
    const app_vtype_t t = p->type;
    *out = value_null();
    switch (raw->kind) {
    case RAW_ABSENT:
        return ERR_OK;
    case RAW_FILE:
        return value_from_part(call, t, raw->file, out, reason);
    case RAW_JSON:
        /* An optional parameter sent empty is absent, as a blank form field would be. */
        if (p->optional && json_is_string(raw->json) && json_string_length(raw->json) == 0)
            return ERR_OK;
        return api__value_from_json(call, t, raw->json, out, reason);
    case RAW_TEXT:
        break;
    }
    if (raw->text == NULL)
        return ERR_INVALID;
    if (p->optional && raw->text[0] == '\0')
        return ERR_OK;
    const bool commas = t.is_list && (t.kind == FK_TEXT || t.kind == FK_NUMBER ||
                                      t.kind == FK_THING);
    if (commas && raw->text[strspn(raw->text, " \t")] != '[')
        return list_from_commas(call, t, raw->text, out, reason);
    return api__value_from_text(call, t, raw->text, out, reason);
}

static bool read_params_or_reply(params_src_t *src, value_t *values)
{
    api_call_t *call = src->call;
    const app_workflow_t *wf = src->wf;
    call->accept_uploads = true;
    for (size_t i = 0; i < wf->nparams; i++) {
        const app_param_t *p = &wf->params[i];
        raw_param_t raw;
        find_param(src, p, &raw);
        const char *reason = NULL;
        err_t err = value_from_raw(call, p, &raw, &values[i], &reason);
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

static bool open_multipart_or_reply(params_src_t *src, const char *ct)
{
    api_call_t *call = src->call;
    char *boundary;
    if (!multipart_boundary(call->req->arena, ct, &boundary)) {
        api__reply_envelope(call, 400, "ERROR",
                            "Invalid request body: multipart/form-data needs a boundary of 1 to "
                            "70 characters in its Content-Type");
        return false;
    }
    const char *problem = parse_multipart(call->req->arena, call->req->body, call->req->body_len,
                                          boundary, &src->parts, &src->nparts);
    if (problem != NULL) {
        api__reply_envelope(call, 400, "ERROR", "Invalid request body: %s", problem);
        return false;
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
    if (content_type_is(ct, "multipart/form-data"))
        return open_multipart_or_reply(src, ct);
    if (ct != NULL && !content_type_is(ct, "application/json") && !content_type_is(ct, "text/plain") &&
        !content_type_is(ct, "application/x-www-form-urlencoded")) {
        api__reply_envelope(call, 400, "ERROR",
                            "Unsupported Content-Type %s: send application/json, "
                            "application/x-www-form-urlencoded or multipart/form-data", ct);
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
                                      api__client_address(call), call->now_ms, &retry_after);
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
    call->res->status = 200;
    if (r->content_type != NULL) {
        call->res->content_type = r->content_type;
        sbuf_append(out, r->body, r->body_n);
        return;
    }
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
}

/* Finds the exposed workflow name, called with its own method by a caller of the level it
 * requires. Returns NULL when it has replied. */
static const app_workflow_t *find_workflow_or_reply(api_call_t *call, const char *name)
{
    const app_workflow_t *wf = app_find_workflow(call->app, name, strlen(name));
    if (wf == NULL || !wf->expose) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Workflow %s not found", name);
        return NULL;
    }
    const char *method = call->req->method;
    if (strcmp(method, wf->method_get ? "GET" : "POST") != 0) {
        http_response_header(call->res, "Allow", wf->method_get ? "GET" : "POST");
        api__reply_message(call, 405, "Wrong method");
        return NULL;
    }
    return check_auth_level_or_reply(call, wf) ? wf : NULL;
}

/* Bubble's editor learns a workflow's parameters from a first request sent to .../initialize.
 * froth's parameters are declared in app.json, so the request only confirms that the workflow
 * exists and that the caller may run it. */
void api__workflow_initialize(api_call_t *call, const char *name)
{
    if (find_workflow_or_reply(call, name) == NULL)
        return;
    call->res->status = 200;
    sbuf_puts(&call->res->body, "{\"status\":\"success\",\"response\":{}}");
}

void api__workflow(api_call_t *call, const char *name)
{
    const app_workflow_t *wf = find_workflow_or_reply(call, name);
    if (wf == NULL)
        return;
    if (!throttle_or_reply(call, wf))
        return;
    /* Thing parameters are looked up as the run will see them. */
    if (wf->ignore_privacy)
        call->pctx.bypass = true;

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
                    .now_ms = call->now_ms, .caller = &call->caller, .origin = api__origin(call)};
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
