/* froth's own audit log API, for admin tokens only:
 *
 *   GET /_froth/audit?user_id=&event=&since=&limit=&cursor=
 *
 * Rows come newest first. Paging uses a cursor like the Data API's. Here the cursor is the id of
 * the last row of the previous page (returned as next_cursor), not an offset. Rows written while
 * an admin pages through the log therefore neither repeat nor shift the pages.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/clock.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 200 /* below STORE_AUDIT_PAGE_MAX, so a page can read one row more */

typedef struct {
    store_audit_query_t query;
    int64_t cursor; /* as given; 0 = from the newest row */
} audit_request_t;

static bool parse_int(const char *s, int64_t max, int64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    char *end = NULL;
    const long long v = strtoll(s, &end, 10);
    if (*end != '\0' || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

typedef struct {
    api_call_t *call;
    audit_request_t *request;
    bool replied;
} parse_t;

/* Replies 400 naming the parameter and what it should be. */
static bool reject(parse_t *p, const char *name, const char *expected)
{
    api__reply_envelope(p->call, 400, "ERROR", "Invalid %s: expected %s", name, expected);
    p->replied = true;
    return false;
}

/* Reads one query parameter into the request; an unknown or invalid one is a 400. */
static bool read_param(void *ud, const char *name, const char *value)
{
    parse_t *p = ud;
    store_audit_query_t *q = &p->request->query;
    int64_t n = 0;
    if (strcmp(name, "api_token") == 0)
        return true;
    if (strcmp(name, "user_id") == 0) {
        if (value[0] == '\0' || strlen(value) >= sizeof(((store_audit_t *)0)->user_id))
            return reject(p, name, "a user id");
        q->user_id = value;
    } else if (strcmp(name, "event") == 0) {
        if (value[0] == '\0' || strlen(value) > STORE_AUDIT_EVENT_MAX)
            return reject(p, name, "an event name such as login.failed");
        q->event = value;
    } else if (strcmp(name, "since") == 0) {
        if (clock_parse_date(value, strlen(value), NULL, &n) != ERR_OK)
            return reject(p, name, "an ISO 8601 date or epoch milliseconds");
        q->since_ms = n;
    } else if (strcmp(name, "limit") == 0) {
        if (!parse_int(value, INT64_MAX, &n) || n == 0)
            return reject(p, name, "a positive integer");
        q->limit = n > LIMIT_MAX ? LIMIT_MAX : (size_t)n;
    } else if (strcmp(name, "cursor") == 0) {
        if (!parse_int(value, INT64_MAX, &n))
            return reject(p, name, "the next_cursor of the previous page");
        p->request->cursor = n;
        q->before_id = n;
    } else {
        api__reply_envelope(p->call, 400, "ERROR",
                            "Unknown parameter %s: expected user_id, event, since, limit or cursor",
                            name);
        p->replied = true;
        return false;
    }
    return true;
}

static bool read_request_or_reply(api_call_t *call, audit_request_t *request)
{
    memset(request, 0, sizeof(*request));
    request->query.limit = LIMIT_DEFAULT;
    parse_t p = {.call = call, .request = request};
    const char *query = call->req->query;
    if (query == NULL || http_query_each(call->req->arena, query, read_param, &p))
        return true;
    if (!p.replied)
        api__reply_envelope(call, 400, "ERROR", "Invalid query string: malformed escape");
    return false;
}

/* Writes ,"key":"value", or ,"key":null when value is empty. */
static void put_optional(sbuf_t *out, const char *key, const char *value)
{
    sbuf_printf(out, ",\"%s\":", key);
    if (value[0] == '\0')
        sbuf_puts(out, "null");
    else
        sbuf_put_json_string(out, value, strlen(value));
}

static void write_row(sbuf_t *out, const store_audit_t *row)
{
    char time[32];
    clock_format_iso(row->time_ms, time);
    sbuf_printf(out, "{\"id\":%lld,\"time\":\"%s\",\"event\":", (long long)row->id, time);
    sbuf_put_json_string(out, row->event, strlen(row->event));
    put_optional(out, "user_id", row->user_id);
    put_optional(out, "admin_label", row->admin_label);
    put_optional(out, "client_address", row->client_address);
    put_optional(out, "user_agent", row->user_agent);
    put_optional(out, "session_id", row->session_id);
    put_optional(out, "detail", row->detail);
    sbuf_putc(out, '}');
}

/* Reads one row more than the page holds, to tell whether another page follows. */
static void list_rows(api_call_t *call, audit_request_t *request)
{
    const size_t limit = request->query.limit;
    store_audit_t *rows = arena_calloc(call->req->arena, limit + 1, sizeof(*rows));
    if (rows == NULL) {
        api__reply_failure(call, ERR_NOMEM, "list audit rows");
        return;
    }
    store_audit_query_t query = request->query;
    query.limit = limit + 1;
    size_t n = 0;
    err_t err = store_audit_list(call->conn, &query, rows, &n);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "list audit rows");
        return;
    }
    const bool more = n > limit;
    if (more)
        n = limit;

    sbuf_t *out = &call->res->body;
    sbuf_printf(out, "{\"response\":{\"cursor\":%lld,\"results\":[", (long long)request->cursor);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sbuf_putc(out, ',');
        write_row(out, &rows[i]);
    }
    sbuf_printf(out, "],\"count\":%zu,\"next_cursor\":", n);
    if (more)
        sbuf_printf(out, "%lld}}", (long long)rows[n - 1].id);
    else
        sbuf_puts(out, "null}}");
    call->res->status = 200;
}

void api__audit(api_call_t *call)
{
    if (!api__authenticate_or_reply(call))
        return;
    if (call->caller.kind != CALLER_ADMIN) {
        api__reply_unauthorized(call, 401, "The audit log API needs an admin token", NULL);
        return;
    }
    if (strcmp(call->req->method, "GET") != 0) {
        http_response_header(call->res, "Allow", "GET");
        api__reply_message(call, 405, "Wrong method");
        return;
    }
    audit_request_t request;
    if (read_request_or_reply(call, &request))
        list_rows(call, &request);
}
