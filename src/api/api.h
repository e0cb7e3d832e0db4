/* The Bubble-compatible HTTP API: routing, the Data API and the Workflow API.
 *
 * api_handle is the one http handler. It authenticates the caller before anything else (a bad
 * token is a 401 even for a route that does not exist), routes, and returns every error in the
 * envelope Bubble clients parse: {"statusCode":N,"body":{"status":..,"message":..}} for data and
 * validation errors, {"error_class":"Unauthorized",..} for authorization errors.
 */
#ifndef FROTH_API_H
#define FROTH_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/arena.h"
#include "core/sbuf.h"
#include "http/http.h"
#include "store/store.h"

/* A trusted reverse proxy: an address or CIDR range. */
typedef struct api_proxy api_proxy_t;

typedef struct {
    const app_t *app;
    store_t *store;            /* the live database */
    store_t *test_store;       /* the version-test database, or NULL when not configured */
    const char *const *cors_origins; /* allowed browser origins ("*" for any); NULL-terminated */
    const char *files_dir;     /* where uploaded files are kept; NULL rejects file uploads */
    size_t max_file_bytes;     /* largest uploaded file, decoded */
    const char *public_url;    /* base of file URLs, e.g. "https://files.example.com"; NULL uses
                                  "//" and the request's Host header */
    const api_proxy_t *proxies; /* trusted reverse proxies, from api_proxies_parse */
    size_t nproxies;
} api_t;

/* Parses a comma-separated list of IP addresses and CIDR ranges of trusted reverse proxies into a
 * new array the caller frees with free(). ERR_INVALID with a message in errbuf names a bad entry. */
err_t api_proxies_parse(const char *list, api_proxy_t **out, size_t *count, char *errbuf,
                        size_t errlen) WARN_UNUSED;

/* Handles one request; ctx is an api_t. Thread-safe: the api_t is read-only. */
void api_handle(void *ctx, http_request_t *req, http_response_t *res);

/* Creates the directory for uploaded files, and its missing parents, with mode 0700, and checks
 * that it is a writable directory. On failure returns ERR_IO (ERR_INVALID for an empty or overlong
 * path) with the reason in errbuf. Call once at start-up. */
err_t api_files_prepare(const char *dir, char *errbuf, size_t errlen) WARN_UNUSED;

/* What the explain report is about: a type (URL name or display name, any case), a caller
 * (user_id NULL = anonymous) and optionally one thing (thing_id NULL = none). */
typedef struct {
    const char *type;
    const char *user_id;
    const char *thing_id;
} api_explain_request_t;

/* Writes to out, as a JSON object, which privacy rules of the type apply to the caller. For each
 * rule the report gives what it grants, whether it can apply in a search and its condition as SQL
 * with placeholders. It adds the condition a search of the type applies and, with a thing, which
 * rules matched it (in the search statement and in memory) and the caller's permissions on it.
 * Returns ERR_INVALID (a missing or unknown type) or ERR_NOT_FOUND (an unknown user or thing)
 * with a message for the client in why, and another error when the store fails. Memory comes
 * from arena. The HTTP route GET /_froth/explain and the command froth explain both call it. */
err_t api_explain(const app_t *app, store_conn_t *conn, arena_t *arena, int64_t now_ms,
                  const api_explain_request_t *req, sbuf_t *out, char *why,
                  size_t whylen) WARN_UNUSED;

#endif
