/* The HTTP layer: an adapter over libmicrohttpd.
 *
 * It owns sockets, limits, timeouts, request ids and the access log, collects each request body up
 * to a cap (answering 413 beyond it), and hands complete requests to one handler function. Nothing
 * above this header includes microhttpd.h. The handler runs on one of the server's worker threads
 * and may block (database, password hashing).
 */
#ifndef FROTH_HTTP_H
#define FROTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/sbuf.h"

typedef struct http_server http_server_t;

typedef struct {
    const char *name;
    const char *value;
} http_header_t;

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* raw path, still percent-encoded, without the query */
    size_t path_len;
    const char *query;         /* raw query string after '?', "" when absent */
    const char *body;          /* NUL-terminated copy of the body; "" when empty */
    size_t body_len;
    const char *client_ip;     /* peer address as text */
    const char *request_id;    /* 16 hex characters, also sent back as X-Request-Id */
    arena_t *arena;            /* freed when the response has been sent */
    const char *log_user;      /* set by the handler: user id or "admin:<label>" for the access log */
    long long log_statements;  /* set by the handler: SQL statements the request sent, or -1 when
                                  it used no database connection; for the access log */
    void *impl;                /* the adapter's own state */
} http_request_t;

typedef struct http_response {
    int status;
    const char *content_type;  /* default "application/json" */
    sbuf_t body;               /* capped at http_config_t.max_response */
    http_header_t headers[8];  /* extra headers; name and value must outlive the request */
    size_t nheaders;
} http_response_t;

typedef void (*http_handler_fn)(void *ctx, http_request_t *req, http_response_t *res);

typedef struct {
    const char *host;          /* "127.0.0.1", "::1", "0.0.0.0" ... */
    uint16_t port;             /* 0 picks a free port; see http_server_port */
    size_t max_body;           /* bytes; larger bodies get 413 */
    size_t max_response;       /* bytes a handler may write */
    unsigned threads;          /* worker threads in the epoll pool */
    unsigned max_connections;
    unsigned max_per_ip;       /* 0 = no per-address limit */
    unsigned timeout_s;        /* idle connection timeout */
    size_t max_header_bytes;   /* memory for the request line and headers per connection */
} http_config_t;

/* Fills a config with the defaults: 127.0.0.1:8080, 1 MiB body, 64 MiB response, 2 threads per
 * core, 1024 connections, 30 s timeout, 32 KiB of headers. */
void http_config_default(http_config_t *config);

/* Starts listening and serving. Returns ERR_IO with a logged reason when the address cannot be
 * bound, and ERR_INVALID when host is not an IPv4 or IPv6 literal. */
err_t http_server_start(const http_config_t *config, http_handler_fn handler, void *ctx,
                        http_server_t **out) WARN_UNUSED;

/* The port actually bound, useful when the config asked for port 0. */
uint16_t http_server_port(const http_server_t *server);

/* Stops accepting new connections, waits up to drain_ms for requests in flight to finish, then
 * closes everything and frees the server. */
void http_server_stop(http_server_t *server, unsigned drain_ms);

/* Returns the value of a request header (case-insensitive name), or NULL. */
const char *http_header(const http_request_t *req, const char *name);

/* Adds a response header. Both strings must live until the response is sent (string literals or
 * the request arena). Ignored beyond the fixed capacity. */
void http_response_header(http_response_t *res, const char *name, const char *value);

/* Decodes one x-www-form-urlencoded component: %XX escapes and '+' as a space. Returns a new
 * string in arena, or NULL on a malformed escape, an embedded NUL, or out of memory. */
char *http_url_decode(arena_t *arena, const char *s, size_t n, size_t *out_len);

/* Looks up a parameter in a query string or form body and decodes it. Returns true when found;
 * *value is NULL when the parameter exists but could not be decoded. */
bool http_query_get(arena_t *arena, const char *query, const char *name, char **value);

/* Calls fn for every name=value pair of a query string or form body, decoded. Stops and returns
 * false when fn returns false or a pair cannot be decoded. */
bool http_query_each(arena_t *arena, const char *query,
                     bool (*fn)(void *ud, const char *name, const char *value), void *ud);

#endif
