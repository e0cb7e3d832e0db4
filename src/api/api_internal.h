/* Shared pieces of the api module: the per-request call, replies, value codecs, thing output. */
#ifndef FROTH_API_INTERNAL_H
#define FROTH_API_INTERNAL_H

#include <jansson.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/value.h"
#include "privacy/privacy.h"

/* Everything a handler needs about the request in flight. */
typedef struct {
    const api_t *api;
    const char *env_name; /* "live" or "test": used in admin pseudo-user ids */
    store_t *store;       /* the database of that environment */
    const app_t *app;
    http_request_t *req;
    http_response_t *res;
    store_conn_t *conn;
    auth_caller_t caller;
    privacy_ctx_t pctx;
    int64_t now_ms;
    bool accept_uploads;          /* file objects in values are stored (writes, not searches) */
    struct api__upload *uploads;  /* files this request stored, newest first (files.c) */
    size_t nuploads;
} api_call_t;

/* ---- Replies (reply.c) ---- */

/* A client error described but not yet sent, for code that may report it in several ways (a
 * whole response, or one line of a bulk response). code NULL means the Unauthorized envelope. */
typedef struct {
    int status;
    const char *code;
    char message[512];
} api__problem_t;

/* Fills problem and returns ERR_INVALID, so callers can write "return api__problem(...)". */
err_t api__problem(api__problem_t *problem, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Replies with the problem in its envelope. */
void api__reply_problem(api_call_t *call, const api__problem_t *problem);


/* {"statusCode":status,"body":{"status":code,"message":message}} */
void api__reply_envelope(api_call_t *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* {"error_class":"Unauthorized","args":{"code":id},"message":null,"translation":T}; args is
 * omitted when id is NULL. */
void api__reply_unauthorized(api_call_t *call, int status, const char *translation, const char *id);

/* {"message":message} */
void api__reply_message(api_call_t *call, int status, const char *message);

/* Maps an infrastructure error to 503 (busy), 413 (too large) or 500, logs it, and replies. */
void api__reply_failure(api_call_t *call, err_t err, const char *what);

/* ---- Values (values.c) ---- */

/* Converts a JSON value into a value of type t. On failure returns ERR_INVALID and points *reason
 * at a static explanation ("expected a number"); references are checked for existence. */
err_t api__value_from_json(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                           const char **reason) WARN_UNUSED;

/* Converts text from a query string or form body: numbers, yes/no, dates and ids are parsed from
 * the text; lists must be JSON arrays. */
err_t api__value_from_text(api_call_t *call, app_vtype_t t, const char *text, value_t *out,
                           const char **reason) WARN_UNUSED;

/* Writes v as the JSON Bubble returns for type t. NULL values are written as null. */
void api__write_value(sbuf_t *out, app_vtype_t t, value_t v);

/* ---- Files (files.c) ---- */

/* Stores the file that a {"filename","contents","private","attach_to"} object carries and sets
 * *out to its URL. The file is on disk when this returns; api__files_discard removes it again if
 * the request fails. Returns ERR_INVALID with *reason for a malformed object, invalid base64 or
 * an attach_to the caller cannot view, ERR_TOO_LARGE with *reason for a file over
 * api_t.max_file_bytes, and ERR_IO when writing fails. */
err_t api__file_from_json(api_call_t *call, const json_t *j, value_t *out,
                          const char **reason) WARN_UNUSED;

/* Removes the files this request stored, except the first keep of them. */
void api__files_discard(api_call_t *call, size_t keep);

/* Serves GET and HEAD /_froth/files/<id>/<name>. Returns false, without replying, when the path
 * is not under /_froth/files/. */
bool api__files_route(api_call_t *call);

/* ---- Authentication (router.c) ---- */

/* Identifies the caller from the Authorization header or api_token and prepares call->pctx.
 * Returns ERR_OK for a valid credential or none (anonymous), ERR_EXPIRED for a malformed,
 * unknown, revoked or expired one, and another error when the store fails. Replies nothing. */
err_t api__authenticate(api_call_t *call) WARN_UNUSED;

/* ---- Things (things.c) ---- */

/* Writes a thing as a JSON object with the fields the caller may view; empty fields are omitted. */
void api__write_thing(sbuf_t *out, const api_call_t *call, const app_type_t *type,
                      const value_t *values, const privacy_perms_t *perms);

/* The Created By value for things this caller creates: the user id, the admin pseudo-user, or
 * NULL for anonymous callers. */
const char *api__creator_id(const api_call_t *call);

/* ---- Handlers ---- */

void api__data_get(api_call_t *call, const app_type_t *type, const char *id);
void api__data_search(api_call_t *call, const app_type_t *type);

/* Builds the condition of a geographic_search constraint on field, a geographic address, from
 * its JSON value (search_geo.c). An origin given as address text is looked up among the things
 * of type that plan lets the caller find and view. Returns ERR_INVALID with *reason, a static
 * message for the client, when the value is malformed or the origin cannot be placed; another
 * error when the store fails. */
err_t api__geo_search_cond(api_call_t *call, const app_type_t *type, const privacy_plan_t *plan,
                           const app_field_t *field, const json_t *value, store_cond_t **out,
                           const char **reason);
void api__data_create(api_call_t *call, const app_type_t *type);
void api__data_bulk(api_call_t *call, const app_type_t *type);
void api__data_modify(api_call_t *call, const app_type_t *type, const char *id, bool replace);
void api__data_delete(api_call_t *call, const app_type_t *type, const char *id);
void api__workflow(api_call_t *call, const char *name);
/* POST (or GET) /wf/<name>/initialize: 200 with an empty response for a workflow the caller may
 * run, without running it. */
void api__workflow_initialize(api_call_t *call, const char *name);
void api__meta(api_call_t *call);

/* GET /_froth/explain (explain.c): admin tokens only. */
void api__explain(api_call_t *call);

/* The client's address: the peer, or behind trusted proxies the address they forwarded for. */
const char *api__client_address(const api_call_t *call);

/* The client's address and User-Agent header, for sessions and audit rows (router.c). */
auth_origin_t api__origin(const api_call_t *call);

/* GET /_froth/audit: the audit log, for admin tokens only (audit.c). */
void api__audit(api_call_t *call);
void api__sessions(api_call_t *call, const char *id);

/* Authenticates the caller, replying 401 (or the failure) and returning false when that fails. */
bool api__authenticate_or_reply(api_call_t *call);
void api__swagger(api_call_t *call);

#endif
