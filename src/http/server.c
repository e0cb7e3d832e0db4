/* The HTTP server: libmicrohttpd with an epoll thread pool, request limits, ids and access log.
 *
 * A request's state lives in its own arena from the moment the request line arrives until the
 * response has been sent. The handler is called once, with the complete body, on the worker
 * thread that owns the connection. Routing and every error envelope except 413 belong above.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/clock.h"
#include "core/log.h"

#define ARENA_BLOCK_SIZE (16 * 1024)
#define ARENA_MAX_TOTAL (64 * 1024 * 1024)

/* The body is copied into the request arena, so it must leave room there for the handler. */
#define BODY_MAX_ALLOWED (ARENA_MAX_TOTAL / 2)

/* After a chunked body has passed the limit, libmicrohttpd 0.9.75 cannot take a response until
 * the body has ended, so the rest is read and dropped. Past this many dropped bytes the
 * connection is closed without a response instead. */
#define DISCARD_MAX_BYTES (1024 * 1024)

#define REQUEST_ID_LEN 16

struct http_server {
    struct MHD_Daemon *daemon;
    http_handler_fn handler;
    void *ctx;
    size_t max_body;
    size_t max_response;
    uint16_t port;
    atomic_uint in_flight; /* requests between their request line and their completion */
};

/* The adapter's per-request state, allocated in the request arena. */
typedef struct {
    http_request_t req;
    http_server_t *server;
    struct MHD_Connection *conn;
    sbuf_t body;      /* collected upload, capped at max_body */
    size_t discarded; /* upload bytes dropped after the body went over the limit */
    int64_t start_ns;
    bool headers_seen; /* the access handler's first call has happened */
    bool too_large;
    bool answered;
    unsigned status;   /* 0 until a response is queued */
    size_t body_bytes; /* length of the queued response body */
    char request_id[REQUEST_ID_LEN + 1];
    char client_ip[INET6_ADDRSTRLEN];
} request_state_t;

void http_config_default(http_config_t *config)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *config = (http_config_t){
        .host = "127.0.0.1",
        .port = 8080,
        .max_body = 1024 * 1024,
        .max_response = 64 * 1024 * 1024,
        .threads = cores > 0 ? (unsigned)cores * 2 : 2,
        .max_connections = 1024,
        .max_per_ip = 0,
        .timeout_s = 30,
        .max_header_bytes = 32 * 1024,
    };
}

static void make_request_id(char out[REQUEST_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char bytes[REQUEST_ID_LEN / 2];
    if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t)sizeof(bytes)) {
        /* Request ids only correlate log lines, so a clock-based fallback is good enough. */
        const uint64_t t = (uint64_t)clock_mono_ns();
        memcpy(bytes, &t, sizeof(bytes));
    }
    for (size_t i = 0; i < sizeof(bytes); i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[REQUEST_ID_LEN] = '\0';
}

static void format_client_ip(struct MHD_Connection *conn, char out[INET6_ADDRSTRLEN])
{
    strcpy(out, "-");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in4->sin_addr, out, INET6_ADDRSTRLEN);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, out, INET6_ADDRSTRLEN);
    }
}

/* Creates the request state when libmicrohttpd has read the request line. The uri given here is
 * the raw request target, before libmicrohttpd splits and decodes it in place, which is why the
 * path and query are copied now. Returning NULL makes the access handler close the connection. */
static void *on_request_start(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_server_t *server = cls;
    arena_t *arena = arena_new(ARENA_BLOCK_SIZE, ARENA_MAX_TOTAL);
    if (arena == NULL) {
        LOG_ERROR("request arena allocation failed", "max_bytes=%d", ARENA_MAX_TOTAL);
        return NULL;
    }
    request_state_t *st = arena_calloc(arena, 1, sizeof(*st));
    const char *question = strchr(uri, '?');
    const size_t path_len = question != NULL ? (size_t)(question - uri) : strlen(uri);
    char *path = arena_strndup(arena, uri, path_len);
    char *query = arena_strdup(arena, question != NULL ? question + 1 : "");
    if (st == NULL || path == NULL || query == NULL) {
        LOG_ERROR("request state allocation failed", "uri_bytes=%zu", strlen(uri));
        arena_free(arena);
        return NULL;
    }

    st->server = server;
    st->conn = conn;
    st->start_ns = clock_mono_ns();
    sbuf_init(&st->body, server->max_body);
    make_request_id(st->request_id);
    format_client_ip(conn, st->client_ip);

    st->req.path = path;
    st->req.path_len = path_len;
    st->req.query = query;
    st->req.body = "";
    st->req.client_ip = st->client_ip;
    st->req.request_id = st->request_id;
    st->req.arena = arena;
    st->req.log_statements = -1;
    st->req.impl = st;

    atomic_fetch_add(&server->in_flight, 1);
    return st;
}

/* Queues a response whose body libmicrohttpd frees with free() once it has been sent. Takes
 * ownership of data in every case. */
static enum MHD_Result queue_owned(request_state_t *st, unsigned status, const char *content_type,
                                   char *data, size_t len, const http_response_t *res)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (response == NULL) {
        free(data);
        LOG_ERROR("response creation failed", "status=%u request_id=%s", status, st->request_id);
        return MHD_NO;
    }

    MHD_add_response_header(response, "X-Request-Id", st->request_id);
    if (content_type != NULL)
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; res != NULL && i < res->nheaders; i++) {
        const http_header_t *h = &res->headers[i];
        if (MHD_add_response_header(response, h->name, h->value) != MHD_YES)
            LOG_WARN("response header rejected", "name=%s", log_quote(h->name));
    }

    const enum MHD_Result ret = MHD_queue_response(st->conn, status, response);
    MHD_destroy_response(response);
    st->answered = true;
    if (ret == MHD_YES) {
        st->status = status;
        /* libmicrohttpd sends no body in response to HEAD. */
        const bool head = st->req.method != NULL && strcmp(st->req.method, "HEAD") == 0;
        st->body_bytes = head ? 0 : len;
    }
    return ret;
}

/* Queues a JSON response built by the adapter itself (413, 500). */
static enum MHD_Result queue_json_text(request_state_t *st, unsigned status, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return MHD_NO;
    return queue_owned(st, status, "application/json", copy, strlen(copy), NULL);
}

static enum MHD_Result reply_too_large(request_state_t *st)
{
    char text[192];
    snprintf(text, sizeof(text),
             "{\"statusCode\":413,\"body\":{\"status\":\"ERROR\",\"message\":"
             "\"Request body too large: the limit is %zu bytes\"}}",
             st->server->max_body);
    return queue_json_text(st, 413, text);
}

static enum MHD_Result reply_internal(request_state_t *st, const char *message)
{
    char text[192];
    snprintf(text, sizeof(text), "{\"code\":\"INTERNAL\",\"message\":\"%s\"}", message);
    return queue_json_text(st, 500, text);
}

/* Parses a Content-Length value. Returns false when it is absent or not a plain decimal number,
 * in which case libmicrohttpd's own parsing and the chunk count still apply. */
static bool parse_content_length(const char *text, uint64_t *out)
{
    if (text == NULL || *text == '\0')
        return false;
    uint64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        const uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            v = UINT64_MAX; /* saturate: still over any limit */
        else
            v = v * 10 + digit;
    }
    *out = v;
    return true;
}

/* Handles the first call of a request, made once the headers are in. A declared body over the
 * limit gets its 413 at once, before any of it is read. libmicrohttpd then closes the connection
 * after the response, because the unread body cannot be skipped. */
static enum MHD_Result begin_request(request_state_t *st, const char *method)
{
    st->headers_seen = true;
    st->req.method = arena_strdup(st->req.arena, method);
    if (st->req.method == NULL)
        return MHD_NO;

    uint64_t declared;
    const char *text =
        MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (parse_content_length(text, &declared) && declared > st->server->max_body) {
        st->too_large = true;
        return reply_too_large(st);
    }
    return MHD_YES;
}

static enum MHD_Result collect_upload(request_state_t *st, const char *data, size_t *size)
{
    const size_t n = *size;
    *size = 0;
    if (st->too_large) {
        st->discarded += n;
        if (st->discarded <= DISCARD_MAX_BYTES)
            return MHD_YES;
        LOG_INFO("request body far over the limit, closing connection",
                 "limit=%zu dropped=%zu request_id=%s client=%s", st->server->max_body,
                 st->discarded, st->request_id, st->client_ip);
        return MHD_NO;
    }
    if (n > st->server->max_body - st->body.len) {
        st->too_large = true;
        st->discarded = n;
        sbuf_deinit(&st->body);
        return MHD_YES;
    }
    sbuf_append(&st->body, data, n);
    if (sbuf_error(&st->body) != ERR_OK) {
        LOG_ERROR("storing request body failed", "bytes=%zu err=%s request_id=%s", st->body.len + n,
                  err_name(sbuf_error(&st->body)), st->request_id);
        return MHD_NO;
    }
    return MHD_YES;
}

static bool status_is_valid(int status)
{
    return status >= 200 && status <= 599;
}

/* Turns the handler's response into a queued libmicrohttpd response. A body that hit its cap
 * or an impossible status becomes a 500, because sending a truncated or malformed response
 * would be worse than an explicit error. */
static enum MHD_Result send_handler_response(request_state_t *st, http_response_t *res)
{
    if (sbuf_error(&res->body) != ERR_OK) {
        sbuf_deinit(&res->body);
        return reply_internal(st, "response too large");
    }
    if (!status_is_valid(res->status)) {
        sbuf_deinit(&res->body);
        return reply_internal(st, "invalid response status");
    }

    size_t len = 0;
    char *data = sbuf_detach(&res->body, &len);
    const char *content_type = res->content_type != NULL ? res->content_type : "application/json";
    if (res->status == 204 || res->status == 304) {
        len = 0;
        content_type = NULL;
    }
    if (data == NULL)
        return MHD_NO;
    return queue_owned(st, (unsigned)res->status, content_type, data, len, res);
}

/* Runs the handler with the log context set, so its log lines carry the request id, client
 * address and route. */
static enum MHD_Result run_handler(request_state_t *st)
{
    http_server_t *server = st->server;
    http_response_t res = {.status = 200};
    sbuf_init(&res.body, server->max_response);

    log_context_t *context = log_context();
    context->request_id = st->request_id;
    context->client = st->client_ip;
    context->route = arena_printf(st->req.arena, "%s %s", st->req.method, st->req.path);

    server->handler(server->ctx, &st->req, &res);

    if (sbuf_error(&res.body) != ERR_OK)
        LOG_ERROR("response too large", "status=%d max=%zu err=%s", res.status,
                  server->max_response, err_name(sbuf_error(&res.body)));
    else if (!status_is_valid(res.status))
        LOG_ERROR("handler set an invalid status", "status=%d", res.status);
    log_context_clear();

    return send_handler_response(st, &res);
}

/* Handles the last call of a request, made once the whole body has arrived. */
static enum MHD_Result finish_request(request_state_t *st)
{
    if (st->too_large)
        return reply_too_large(st);

    st->req.body_len = st->body.len;
    if (st->body.len > 0) {
        char *body = arena_strndup(st->req.arena, sbuf_cstr(&st->body), st->body.len);
        sbuf_deinit(&st->body);
        if (body == NULL) {
            LOG_ERROR("copying request body failed", "bytes=%zu request_id=%s", st->req.body_len,
                      st->request_id);
            return reply_internal(st, "out of memory");
        }
        st->req.body = body;
    }
    return run_handler(st);
}

/* The access handler: libmicrohttpd calls it once when the headers are in, once per piece of
 * body, and once more with no data when the request is complete. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    request_state_t *st = *con_cls;
    if (st == NULL)
        return MHD_NO;
    if (st->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!st->headers_seen)
        return begin_request(st, method);
    if (*upload_data_size > 0)
        return collect_upload(st, upload_data, upload_data_size);
    return finish_request(st);
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "ok";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    }
    return "unknown";
}

/* Writes the one access-log line of a request. The path is logged without the query string,
 * which may carry an api_token. Status 0 means no response was queued by this adapter: the
 * client went away, or libmicrohttpd rejected the request itself (a malformed request line or
 * oversized headers) before the access handler ran. */
static void write_access_log(const request_state_t *st, enum MHD_RequestTerminationCode toe)
{
    /* log_access drops the line below info level; returning first saves quoting its values. */
    if (log_level < LOG_LEVEL_INFO)
        return;
    const bool completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    const long long duration_us = (long long)((clock_mono_ns() - st->start_ns) / 1000);
    const char *user = st->req.log_user;
    char statements[32] = "";
    if (st->req.log_statements >= 0)
        snprintf(statements, sizeof(statements), " statements=%lld", st->req.log_statements);
    log_access("method=%s path=%s status=%u bytes=%zu duration_us=%lld request_id=%s "
               "client=%s%s%s%s%s%s",
               log_quote(st->req.method != NULL ? st->req.method : "-"), log_quote(st->req.path),
               st->status, completed ? st->body_bytes : 0, duration_us, st->request_id,
               st->client_ip, user != NULL ? " user=" : "", user != NULL ? log_quote(user) : "",
               statements, completed ? "" : " end=", completed ? "" : termination_name(toe));
}

static void on_request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    request_state_t *st = *con_cls;
    if (st == NULL)
        return;
    *con_cls = NULL;

    write_access_log(st, toe);
    http_server_t *server = st->server;
    sbuf_deinit(&st->body);
    arena_free(st->req.arena);
    atomic_fetch_sub(&server->in_flight, 1);
}

__attribute__((format(printf, 2, 0))) static void log_from_mhd(void *cls, const char *fmt,
                                                               va_list ap)
{
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    LOG_WARN("libmicrohttpd error", "detail=%s", log_quote(text));
}

/* Fills addr from an IPv4 or IPv6 literal; "[::1]" is accepted too. */
static bool parse_host(const char *host, uint16_t port, struct sockaddr_storage *addr,
                       bool *is_ipv6)
{
    char literal[INET6_ADDRSTRLEN];
    const size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(literal)) {
        memcpy(literal, host + 1, n - 2);
        literal[n - 2] = '\0';
    } else if (n < sizeof(literal)) {
        memcpy(literal, host, n + 1);
    } else {
        return false;
    }

    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)addr;
    if (inet_pton(AF_INET, literal, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *is_ipv6 = false;
        return true;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)addr;
    if (inet_pton(AF_INET6, literal, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *is_ipv6 = true;
        return true;
    }
    return false;
}

static struct MHD_Daemon *start_daemon(http_server_t *server, const http_config_t *config,
                                       struct sockaddr_storage *addr, bool is_ipv6)
{
    /* MHD_USE_ITC lets MHD_quiesce_daemon wake the pool threads when the server stops. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (is_ipv6)
        flags |= MHD_USE_IPv6;

    /* Options that only apply in some configurations: libmicrohttpd warns about a pool of one
     * thread, and a per-address limit of 0 means none. */
    struct MHD_OptionItem optional[3];
    size_t n = 0;
    if (config->threads > 1)
        optional[n++] =
            (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)config->threads, NULL};
    if (config->max_per_ip > 0)
        optional[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                                (intptr_t)config->max_per_ip, NULL};
    optional[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    /* The logger comes first so that libmicrohttpd reports problems with later options through
     * it rather than on stderr directly. */
    // clang-format off
    return MHD_start_daemon(
        flags, config->port, NULL, NULL, on_access, server,
        MHD_OPTION_EXTERNAL_LOGGER, log_from_mhd, server,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)addr,
        MHD_OPTION_CONNECTION_LIMIT, config->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, config->max_header_bytes,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_start, server,
        MHD_OPTION_NOTIFY_COMPLETED, on_request_done, server,
        MHD_OPTION_ARRAY, optional,
        MHD_OPTION_END);
    // clang-format on
}

err_t http_server_start(const http_config_t *config, http_handler_fn handler, void *ctx,
                        http_server_t **out)
{
    *out = NULL;
    struct sockaddr_storage addr;
    bool is_ipv6 = false;
    if (config->host == NULL || !parse_host(config->host, config->port, &addr, &is_ipv6)) {
        LOG_ERROR("invalid listen address: expected an IPv4 or IPv6 literal", "host=%s",
                  log_quote(config->host));
        return ERR_INVALID;
    }

    http_server_t *server = calloc(1, sizeof(*server));
    if (server == NULL)
        return ERR_NOMEM;
    server->handler = handler;
    server->ctx = ctx;
    server->max_response = config->max_response;
    server->max_body = config->max_body;
    if (server->max_body > BODY_MAX_ALLOWED) {
        LOG_WARN("body limit lowered to fit the request arena", "requested=%zu limit=%d",
                 config->max_body, BODY_MAX_ALLOWED);
        server->max_body = BODY_MAX_ALLOWED;
    }
    atomic_init(&server->in_flight, 0);

    server->daemon = start_daemon(server, config, &addr, is_ipv6);
    if (server->daemon == NULL) {
        /* libmicrohttpd has already logged the reason through log_from_mhd. */
        LOG_ERROR("listen failed", "host=%s port=%u", log_quote(config->host),
                  (unsigned)config->port);
        free(server);
        return ERR_IO;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info != NULL ? info->port : config->port;

    LOG_INFO("http server listening", "host=%s port=%u threads=%u", log_quote(config->host),
             (unsigned)server->port, config->threads > 0 ? config->threads : 1);
    *out = server;
    return ERR_OK;
}

uint16_t http_server_port(const http_server_t *server)
{
    return server->port;
}

void http_server_stop(http_server_t *server, unsigned drain_ms)
{
    if (server == NULL)
        return;

    const MHD_socket listen_fd = MHD_quiesce_daemon(server->daemon);
    const int64_t deadline = clock_mono_ns() + (int64_t)drain_ms * 1000000;
    while (atomic_load(&server->in_flight) > 0 && clock_mono_ns() < deadline) {
        const struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000000};
        nanosleep(&pause, NULL);
    }
    const unsigned left = atomic_load(&server->in_flight);
    if (left > 0)
        LOG_WARN("drain timed out, closing requests in flight", "in_flight=%u drain_ms=%u", left,
                 drain_ms);

    MHD_stop_daemon(server->daemon);
    /* libmicrohttpd leaves a quiesced listen socket to the caller, to close after the stop. */
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    LOG_INFO("http server stopped", "port=%u", (unsigned)server->port);
    free(server);
}

const char *http_header(const http_request_t *req, const char *name)
{
    const request_state_t *st = req->impl;
    if (st == NULL || st->conn == NULL || name == NULL)
        return NULL;
    return MHD_lookup_connection_value(st->conn, MHD_HEADER_KIND, name);
}

void http_response_header(http_response_t *res, const char *name, const char *value)
{
    const size_t capacity = sizeof(res->headers) / sizeof(res->headers[0]);
    if (res->nheaders >= capacity)
        return;
    res->headers[res->nheaders].name = name;
    res->headers[res->nheaders].value = value;
    res->nheaders++;
}
