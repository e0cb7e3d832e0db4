/* Tests for the HTTP layer: a real server on 127.0.0.1 driven by a small raw-socket client, and
 * the query-string decoding helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "http/http.h"

#define MAX_BODY 1024
#define MAX_RESPONSE 4096

static atomic_int handler_calls;
static atomic_bool slow_started;

/* ---- test handler ---- */

static void put_field(sbuf_t *sb, const char *name, const char *value, bool comma)
{
    sbuf_printf(sb, "\"%s\":", name);
    if (value == NULL)
        sbuf_puts(sb, "null");
    else
        sbuf_put_json_string(sb, value, strlen(value));
    if (comma)
        sbuf_putc(sb, ',');
}

static void sleep_ms(long ms)
{
    const struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

/* Echoes what the server handed over, so the tests can check each part of a request. A few
 * paths trigger special responses. */
static void echo_handler(void *ctx, http_request_t *req, http_response_t *res)
{
    atomic_fetch_add(&handler_calls, 1);
    if (strcmp(req->path, "/slow") == 0) {
        atomic_store(&slow_started, true);
        sleep_ms(200);
    }
    if (strcmp(req->path, "/big") == 0) {
        for (int i = 0; i <= MAX_RESPONSE; i++)
            sbuf_putc(&res->body, 'x');
        return;
    }
    if (strcmp(req->path, "/empty") == 0) {
        res->status = 204;
        return;
    }
    if (strcmp(req->path, "/user") == 0)
        req->log_user = "1671702337369x123456789012345678";

    char *q = NULL;
    (void)http_query_get(req->arena, req->query, "q", &q);
    sbuf_putc(&res->body, '{');
    put_field(&res->body, "method", req->method, true);
    put_field(&res->body, "path", req->path, true);
    put_field(&res->body, "query", req->query, true);
    put_field(&res->body, "q", q, true);
    put_field(&res->body, "header", http_header(req, "x-test"), true);
    put_field(&res->body, "body", req->body, true);
    sbuf_printf(&res->body, "\"body_len\":%zu,\"path_len\":%zu}", req->body_len, req->path_len);
    http_response_header(res, "X-Echo", "yes");
}

static http_server_t *start_server(void)
{
    http_config_t config;
    http_config_default(&config);
    config.port = 0;
    config.max_body = MAX_BODY;
    config.max_response = MAX_RESPONSE;
    config.threads = 2;
    config.timeout_s = 5;
    http_server_t *server = NULL;
    assert_int_equal(http_server_start(&config, echo_handler, NULL, &server), ERR_OK);
    assert_non_null(server);
    return server;
}

/* ---- raw HTTP/1.1 client ---- */

typedef struct {
    int status;
    char head[8192];
    char body[16384];
    size_t body_len;
} reply_t;

static int dial(uint16_t port)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    const struct timeval timeout = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_bytes(int fd, const char *data, size_t n)
{
    while (n > 0) {
        const ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
        assert_true(sent > 0);
        data += sent;
        n -= (size_t)sent;
    }
}

static void send_text(int fd, const char *text)
{
    send_bytes(fd, text, strlen(text));
}

/* Copies the value of a response header into out; returns false when it is absent. */
static bool reply_header(const reply_t *r, const char *name, char *out, size_t size)
{
    const size_t name_len = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL && line[2] != '\0') {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (end == NULL)
            end = line + strlen(line);
        if (strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ')
                value++;
            const size_t n = (size_t)(end - value) < size - 1 ? (size_t)(end - value) : size - 1;
            memcpy(out, value, n);
            out[n] = '\0';
            return true;
        }
        line = end;
    }
    return false;
}

/* Reads one response: the head up to the blank line, then Content-Length bytes of body. Returns
 * false on a timeout, a closed connection or a malformed head. */
static bool read_reply(int fd, reply_t *r)
{
    memset(r, 0, sizeof(*r));
    size_t have = 0;
    char *head_end = NULL;
    while (head_end == NULL) {
        if (have == sizeof(r->head) - 1)
            return false;
        const ssize_t got = recv(fd, r->head + have, sizeof(r->head) - 1 - have, 0);
        if (got <= 0)
            return false;
        have += (size_t)got;
        r->head[have] = '\0';
        head_end = strstr(r->head, "\r\n\r\n");
    }
    const size_t head_len = (size_t)(head_end - r->head) + 4;
    size_t extra = have - head_len;
    head_end[2] = '\0';
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return false;

    char value[32];
    size_t length = 0;
    if (reply_header(r, "Content-Length", value, sizeof(value)))
        length = strtoul(value, NULL, 10);
    if (length >= sizeof(r->body) || extra > length)
        return false;
    memcpy(r->body, head_end + 4, extra);
    while (extra < length) {
        const ssize_t got = recv(fd, r->body + extra, length - extra, 0);
        if (got <= 0)
            return false;
        extra += (size_t)got;
    }
    r->body_len = length;
    return true;
}

/* Reads just the status code of the next response, for responses whose framing the test does not
 * control. Returns -1 when nothing arrives. */
static int read_status(int fd)
{
    char head[64];
    size_t have = 0;
    while (have < sizeof(head) - 1) {
        const ssize_t got = recv(fd, head + have, sizeof(head) - 1 - have, 0);
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    head[have] = '\0';
    int status = -1;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* Sends one request on a new connection and reads the response. */
static void exchange(uint16_t port, const char *request, reply_t *r)
{
    const int fd = dial(port);
    assert_true(fd >= 0);
    send_text(fd, request);
    assert_true(read_reply(fd, r));
    close(fd);
}

/* ---- server tests ---- */

static int server_setup(void **state)
{
    *state = start_server();
    return 0;
}

static int server_teardown(void **state)
{
    http_server_stop(*state, 1000);
    return 0;
}

static uint16_t port_of(void **state)
{
    return http_server_port(*state);
}

static void port_zero_binds_free_port(void **state)
{
    assert_int_not_equal(port_of(state), 0);
}

static void get_passes_raw_path_and_query(void **state)
{
    reply_t r;
    exchange(port_of(state),
             "GET /echo/a%20b?q=x%2By+z&n=1 HTTP/1.1\r\nHost: test\r\nX-Test: hello\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"method\":\"GET\",\"path\":\"/echo/a%20b\","
                                "\"query\":\"q=x%2By+z&n=1\",\"q\":\"x+y z\","
                                "\"header\":\"hello\",\"body\":\"\",\"body_len\":0,"
                                "\"path_len\":11}");
    char value[64];
    assert_true(reply_header(&r, "Content-Type", value, sizeof(value)));
    assert_string_equal(value, "application/json");
    assert_true(reply_header(&r, "X-Echo", value, sizeof(value)));
    assert_string_equal(value, "yes");
}

static void header_lookup_ignores_case(void **state)
{
    reply_t r;
    exchange(port_of(state), "GET /h HTTP/1.1\r\nHost: test\r\nx-TEST: mixed\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"header\":\"mixed\""));
}

static void missing_query_is_empty_string(void **state)
{
    reply_t r;
    exchange(port_of(state), "GET /plain HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"query\":\"\",\"q\":null,\"header\":null"));
}

static void post_body_reaches_handler(void **state)
{
    reply_t r;
    exchange(port_of(state),
             "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello world", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"method\":\"POST\""));
    assert_non_null(strstr(r.body, "\"body\":\"hello world\",\"body_len\":11"));
}

static void body_at_limit_is_accepted(void **state)
{
    char request[MAX_BODY + 256];
    int n = snprintf(request, sizeof(request),
                     "PUT /echo HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    memset(request + n, 'a', MAX_BODY);
    request[n + MAX_BODY] = '\0';
    reply_t r;
    exchange(port_of(state), request, &r);
    assert_int_equal(r.status, 200);
    char expected[32];
    snprintf(expected, sizeof(expected), "\"body_len\":%d", MAX_BODY);
    assert_non_null(strstr(r.body, expected));
}

static void keep_alive_serves_two_requests(void **state)
{
    const int fd = dial(port_of(state));
    assert_true(fd >= 0);
    reply_t first, second;
    send_text(fd, "GET /one HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_true(read_reply(fd, &first));
    send_text(fd, "POST /two HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc");
    assert_true(read_reply(fd, &second));
    close(fd);

    assert_int_equal(first.status, 200);
    assert_non_null(strstr(first.body, "\"path\":\"/one\""));
    assert_int_equal(second.status, 200);
    assert_non_null(strstr(second.body, "\"path\":\"/two\""));
    assert_non_null(strstr(second.body, "\"body\":\"abc\""));
}

static const char too_large_envelope[] =
    "{\"statusCode\":413,\"body\":{\"status\":\"ERROR\",\"message\":"
    "\"Request body too large: the limit is 1024 bytes\"}}";

static void body_over_limit_gets_413(void **state)
{
    const int calls_before = atomic_load(&handler_calls);
    reply_t r;
    exchange(port_of(state), "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n",
             &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, too_large_envelope);
    assert_int_equal(atomic_load(&handler_calls), calls_before);

    exchange(port_of(state), "GET /after HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
}

/* A Content-Length beyond 64 bits is rejected by libmicrohttpd 0.9.75 itself, with its own HTML
 * body, before the access handler runs. */
static void huge_content_length_gets_413(void **state)
{
    const int calls_before = atomic_load(&handler_calls);
    const int fd = dial(port_of(state));
    assert_true(fd >= 0);
    send_text(fd, "POST /echo HTTP/1.1\r\nHost: test\r\n"
                  "Content-Length: 99999999999999999999999\r\n\r\n");
    const int status = read_status(fd);
    close(fd);
    assert_int_equal(status, 413);
    assert_int_equal(atomic_load(&handler_calls), calls_before);
}

/* Sends a chunked body of count chunks of size bytes each. */
static void send_chunked(int fd, int count, int size)
{
    send_text(fd, "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[1024];
    assert_true(size < (int)sizeof(chunk) - 16);
    for (int i = 0; i < count; i++) {
        int n = snprintf(chunk, sizeof(chunk), "%x\r\n", size);
        memset(chunk + n, 'c', (size_t)size);
        n += size;
        memcpy(chunk + n, "\r\n", 2);
        send_bytes(fd, chunk, (size_t)n + 2);
    }
    send_text(fd, "0\r\n\r\n");
}

static void chunked_body_within_limit_is_collected(void **state)
{
    const int fd = dial(port_of(state));
    assert_true(fd >= 0);
    send_chunked(fd, 4, 200);
    reply_t r;
    assert_true(read_reply(fd, &r));
    close(fd);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"body_len\":800"));
}

static void chunked_body_over_limit_gets_413(void **state)
{
    const int calls_before = atomic_load(&handler_calls);
    const int fd = dial(port_of(state));
    assert_true(fd >= 0);
    send_chunked(fd, 3, 600);
    reply_t r;
    assert_true(read_reply(fd, &r));
    close(fd);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, too_large_envelope);
    assert_int_equal(atomic_load(&handler_calls), calls_before);

    exchange(port_of(state), "GET /after HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
}

static bool is_request_id(const char *s)
{
    if (strlen(s) != 16)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

static void response_carries_request_id(void **state)
{
    reply_t a, b;
    exchange(port_of(state), "GET /id HTTP/1.1\r\nHost: test\r\n\r\n", &a);
    exchange(port_of(state), "GET /id HTTP/1.1\r\nHost: test\r\n\r\n", &b);
    char id_a[64], id_b[64];
    assert_true(reply_header(&a, "X-Request-Id", id_a, sizeof(id_a)));
    assert_true(reply_header(&b, "X-Request-Id", id_b, sizeof(id_b)));
    assert_true(is_request_id(id_a));
    assert_true(is_request_id(id_b));
    assert_string_not_equal(id_a, id_b);
}

static void unknown_method_reaches_handler(void **state)
{
    reply_t r;
    exchange(port_of(state), "BREW /pot HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"method\":\"BREW\""));
}

static void oversized_response_gets_500(void **state)
{
    reply_t r;
    exchange(port_of(state), "GET /big HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"code\":\"INTERNAL\",\"message\":\"response too large\"}");
}

static void no_content_has_no_body(void **state)
{
    reply_t r;
    exchange(port_of(state), "GET /empty HTTP/1.1\r\nHost: test\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    char value[64];
    assert_false(reply_header(&r, "Content-Type", value, sizeof(value)));
    assert_true(reply_header(&r, "X-Request-Id", value, sizeof(value)));
}

/* Counts the lines of text that contain needle. */
static int count_lines_with(const char *text, const char *needle)
{
    int count = 0;
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        const size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *hit = strstr(line, needle);
        if (hit != NULL && (size_t)(hit - line) < len)
            count++;
        line = end != NULL ? end + 1 : NULL;
    }
    return count;
}

static void read_file(int fd, char *out, size_t size)
{
    const ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
}

/* The access-log line is written on completion, just after the client has its response, so the
 * test polls the captured stderr for it. */
static void access_log_has_one_line_without_query(void **state)
{
    char path[] = "/tmp/froth-test-http-log-XXXXXX";
    const int log_fd = mkstemp(path);
    assert_true(log_fd >= 0);
    unlink(path);
    fflush(stderr);
    const int saved_stderr = dup(STDERR_FILENO);
    dup2(log_fd, STDERR_FILENO);

    reply_t r;
    exchange(port_of(state),
             "GET /user?api_token=SECRET-TOKEN-123 HTTP/1.1\r\nHost: test\r\n"
             "Authorization: Bearer SECRET-BEARER-456\r\nContent-Length: 14\r\n\r\n"
             "SECRET-BODY-78",
             &r);
    static char captured[65536];
    for (int i = 0; i < 200; i++) {
        read_file(log_fd, captured, sizeof(captured));
        if (count_lines_with(captured, "path=\"/user\"") > 0)
            break;
        sleep_ms(10);
    }
    sleep_ms(50);
    read_file(log_fd, captured, sizeof(captured));

    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    close(log_fd);

    assert_int_equal(r.status, 200);
    char request_id[64];
    assert_true(reply_header(&r, "X-Request-Id", request_id, sizeof(request_id)));
    char id_field[96];
    snprintf(id_field, sizeof(id_field), "request_id=%s", request_id);

    /* Only the /user request's line is checked field by field, because the completion of the
     * previous test's request may also land in the captured window. */
    assert_int_equal(count_lines_with(captured, "path=\"/user\""), 1);
    assert_int_equal(count_lines_with(captured, id_field), 1);
    const char *line = strstr(captured, id_field);
    while (line > captured && line[-1] != '\n')
        line--;
    char access_line[1024];
    snprintf(access_line, sizeof(access_line), "%.*s", (int)strcspn(line, "\n"), line);
    assert_non_null(
        strstr(access_line, "msg=\"request\" method=\"GET\" path=\"/user\" status=200"));
    assert_non_null(strstr(access_line, " bytes="));
    assert_non_null(strstr(access_line, " duration_us="));
    assert_non_null(strstr(access_line, " client=127.0.0.1"));
    assert_non_null(strstr(access_line, " user=\"1671702337369x123456789012345678\""));
    assert_null(strstr(captured, "SECRET"));
}

/* ---- server lifecycle ---- */

typedef struct {
    uint16_t port;
    reply_t reply;
} slow_call_t;

static void *slow_client(void *arg)
{
    slow_call_t *call = arg;
    call->reply.status = -1;
    const int fd = dial(call->port);
    if (fd < 0)
        return NULL;
    send_text(fd, "GET /slow HTTP/1.1\r\nHost: test\r\n\r\n");
    if (!read_reply(fd, &call->reply))
        call->reply.status = -1;
    close(fd);
    return NULL;
}

static void stop_drains_in_flight_request(void **state)
{
    http_server_t *server = start_server();
    atomic_store(&slow_started, false);

    static slow_call_t call;
    call.port = http_server_port(server);
    pthread_t client;
    assert_int_equal(pthread_create(&client, NULL, slow_client, &call), 0);
    for (int i = 0; i < 400 && !atomic_load(&slow_started); i++)
        sleep_ms(5);
    assert_true(atomic_load(&slow_started));

    const int64_t start = clock_mono_ns();
    http_server_stop(server, 2000);
    const int64_t stop_ms = (clock_mono_ns() - start) / 1000000;
    pthread_join(client, NULL);

    assert_int_equal(call.reply.status, 200);
    assert_non_null(strstr(call.reply.body, "\"path\":\"/slow\""));
    assert_true(stop_ms < 1500);

    const int fd = dial(call.port);
    assert_true(fd < 0);
}

static void port_in_use_gives_io_error(void **state)
{
    http_config_t config;
    http_config_default(&config);
    config.port = port_of(state);
    config.threads = 1;
    http_server_t *second = NULL;
    assert_int_equal(http_server_start(&config, echo_handler, NULL, &second), ERR_IO);
    assert_null(second);
}

static void non_literal_host_rejected(void **state)
{
    http_config_t config;
    http_config_default(&config);
    config.host = "example.invalid";
    config.port = 0;
    http_server_t *server = NULL;
    assert_int_equal(http_server_start(&config, echo_handler, NULL, &server), ERR_INVALID);
    assert_null(server);
}

static void ipv6_loopback_serves(void **state)
{
    http_config_t config;
    http_config_default(&config);
    config.host = "::1";
    config.port = 0;
    config.threads = 1;
    http_server_t *server = NULL;
    if (http_server_start(&config, echo_handler, NULL, &server) != ERR_OK)
        skip();

    const int fd = socket(AF_INET6, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    const struct timeval timeout = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    struct sockaddr_in6 addr = {.sin6_family = AF_INET6,
                                .sin6_port = htons(http_server_port(server))};
    addr.sin6_addr = in6addr_loopback;
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    send_text(fd, "GET /six HTTP/1.1\r\nHost: test\r\n\r\n");
    reply_t r;
    assert_true(read_reply(fd, &r));
    close(fd);
    http_server_stop(server, 1000);

    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"path\":\"/six\""));
}

/* ---- url decoding and query strings ---- */

static void url_decode_cases(void **state)
{
    static const struct {
        const char *in;
        const char *out; /* NULL when decoding must fail */
    } cases[] = {
        {"a%2Bb", "a+b"},
        {"a%2bb", "a+b"},
        {"a+b", "a b"},
        {"a%20b", "a b"},
        {"%e2%82%AC", "\xe2\x82\xac"},
        {"", ""},
        {"plain", "plain"},
        {"%", NULL},
        {"%2", NULL},
        {"abc%", NULL},
        {"%zz", NULL},
        {"%G1", NULL},
        {"%1G", NULL},
        {"%00", NULL},
        {"a%00b", NULL},
    };
    arena_t *arena = arena_new(1024, 1 << 20);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 12345;
        char *got = http_url_decode(arena, cases[i].in, strlen(cases[i].in), &len);
        if (cases[i].out == NULL) {
            if (got != NULL)
                fail_msg("decoding \"%s\" should fail, got \"%s\"", cases[i].in, got);
            continue;
        }
        if (got == NULL)
            fail_msg("decoding \"%s\" failed", cases[i].in);
        assert_string_equal(got, cases[i].out);
        assert_int_equal(len, strlen(cases[i].out));
    }
    arena_free(arena);
}

static void url_decode_reads_only_the_slice(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    size_t len = 0;
    assert_string_equal(http_url_decode(arena, "abc%41", 3, &len), "abc");
    assert_int_equal(len, 3);
    assert_null(http_url_decode(arena, "ab%41", 4, NULL));
    const char raw_nul[] = {'a', '\0', 'b'};
    assert_null(http_url_decode(arena, raw_nul, sizeof(raw_nul), NULL));
    arena_free(arena);
}

static void query_get_finds_decoded_values(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    char *value = NULL;
    assert_true(http_query_get(arena, "a=1&b=2", "b", &value));
    assert_string_equal(value, "2");
    assert_true(http_query_get(arena, "a=1&b=", "b", &value));
    assert_string_equal(value, "");
    assert_true(http_query_get(arena, "flag&x=1", "flag", &value));
    assert_string_equal(value, "");
    assert_true(http_query_get(arena, "q=a+b%2Bc", "q", &value));
    assert_string_equal(value, "a b+c");
    assert_true(http_query_get(arena, "x%20y=1", "x y", &value));
    assert_string_equal(value, "1");
    assert_true(http_query_get(arena, "x+y=2", "x y", &value));
    assert_string_equal(value, "2");
    assert_true(http_query_get(arena, "a=1&a=2", "a", &value));
    assert_string_equal(value, "1");
    assert_true(http_query_get(arena, "&&a=3&", "a", &value));
    assert_string_equal(value, "3");
    assert_true(http_query_get(arena, "a=x=y", "a", &value));
    assert_string_equal(value, "x=y");
    arena_free(arena);
}

static void query_get_reports_missing_and_bad(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    char *value = (char *)"unchanged";
    assert_false(http_query_get(arena, "a=1", "b", &value));
    assert_null(value);
    assert_false(http_query_get(arena, "", "a", &value));
    assert_false(http_query_get(arena, "ab=1", "a", &value));
    assert_false(http_query_get(arena, "a%zz=1", "a", &value));

    value = (char *)"unchanged";
    assert_true(http_query_get(arena, "a=%zz", "a", &value));
    assert_null(value);
    assert_true(http_query_get(arena, "a=%00", "a", &value));
    assert_null(value);
    arena_free(arena);
}

/* Builds "k=v&k=v..." with the given number of pairs into a malloc'd string. */
static char *make_query(int pairs)
{
    char *q = malloc((size_t)pairs * 4 + 1);
    char *p = q;
    for (int i = 0; i < pairs; i++) {
        memcpy(p, i == 0 ? "z=1" : "&a=", 3);
        p += 3;
        if (i > 0)
            *p++ = '1';
    }
    *p = '\0';
    return q;
}

static bool count_pair(void *ud, const char *name, const char *value)
{
    (*(int *)ud)++;
    return true;
}

static void query_caps_reject_whole_query(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 22);
    char *value = NULL;

    char *at_cap = make_query(1000);
    assert_true(http_query_get(arena, at_cap, "z", &value));
    int seen = 0;
    assert_true(http_query_each(arena, at_cap, count_pair, &seen));
    assert_int_equal(seen, 1000);
    free(at_cap);

    char *over_cap = make_query(1001);
    assert_false(http_query_get(arena, over_cap, "z", &value));
    seen = 0;
    assert_false(http_query_each(arena, over_cap, count_pair, &seen));
    assert_int_equal(seen, 0);
    free(over_cap);

    const size_t long_len = 64 * 1024 + 1;
    char *too_long = malloc(long_len + 1);
    memcpy(too_long, "z=", 2);
    memset(too_long + 2, 'v', long_len - 2);
    too_long[long_len] = '\0';
    assert_false(http_query_get(arena, too_long, "z", &value));
    too_long[long_len - 1] = '\0';
    assert_true(http_query_get(arena, too_long, "z", &value));
    assert_int_equal(strlen(value), long_len - 3);
    free(too_long);

    arena_free(arena);
}

typedef struct {
    int count;
    int stop_after;
    char names[8][16];
    char values[8][16];
} collected_t;

static bool collect_pair(void *ud, const char *name, const char *value)
{
    collected_t *c = ud;
    if (c->count < 8) {
        snprintf(c->names[c->count], sizeof(c->names[0]), "%s", name);
        snprintf(c->values[c->count], sizeof(c->values[0]), "%s", value);
    }
    c->count++;
    return c->stop_after == 0 || c->count < c->stop_after;
}

static void query_each_visits_decoded_pairs(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    collected_t c = {0};
    assert_true(http_query_each(arena, "a=1&b&c%3D=x+y&&=e", collect_pair, &c));
    assert_int_equal(c.count, 4);
    assert_string_equal(c.names[0], "a");
    assert_string_equal(c.values[0], "1");
    assert_string_equal(c.names[1], "b");
    assert_string_equal(c.values[1], "");
    assert_string_equal(c.names[2], "c=");
    assert_string_equal(c.values[2], "x y");
    assert_string_equal(c.names[3], "");
    assert_string_equal(c.values[3], "e");

    collected_t empty = {0};
    assert_true(http_query_each(arena, "", collect_pair, &empty));
    assert_int_equal(empty.count, 0);
    arena_free(arena);
}

static void query_each_stops_on_false_or_bad_pair(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    collected_t stopped = {.stop_after = 2};
    assert_false(http_query_each(arena, "a=1&b=2&c=3", collect_pair, &stopped));
    assert_int_equal(stopped.count, 2);

    collected_t bad_value = {0};
    assert_false(http_query_each(arena, "a=1&b=%4&c=3", collect_pair, &bad_value));
    assert_int_equal(bad_value.count, 1);

    collected_t bad_name = {0};
    assert_false(http_query_each(arena, "%zz=1", collect_pair, &bad_name));
    assert_int_equal(bad_name.count, 0);
    arena_free(arena);
}

static void response_header_ignores_overflow(void **state)
{
    http_response_t res = {0};
    for (int i = 0; i < 10; i++)
        http_response_header(&res, "X-A", "b");
    assert_int_equal(res.nheaders, 8);
}

static void config_default_matches_contract(void **state)
{
    http_config_t config;
    http_config_default(&config);
    assert_string_equal(config.host, "127.0.0.1");
    assert_int_equal(config.port, 8080);
    assert_int_equal(config.max_body, 1024 * 1024);
    assert_int_equal(config.max_response, 64 * 1024 * 1024);
    assert_true(config.threads >= 2);
    assert_int_equal(config.max_connections, 1024);
    assert_int_equal(config.timeout_s, 30);
    assert_int_equal(config.max_header_bytes, 32 * 1024);
}

int main(void)
{
    const struct CMUnitTest server_tests[] = {
        cmocka_unit_test(port_zero_binds_free_port),
        cmocka_unit_test(get_passes_raw_path_and_query),
        cmocka_unit_test(header_lookup_ignores_case),
        cmocka_unit_test(missing_query_is_empty_string),
        cmocka_unit_test(post_body_reaches_handler),
        cmocka_unit_test(body_at_limit_is_accepted),
        cmocka_unit_test(keep_alive_serves_two_requests),
        cmocka_unit_test(body_over_limit_gets_413),
        cmocka_unit_test(huge_content_length_gets_413),
        cmocka_unit_test(chunked_body_within_limit_is_collected),
        cmocka_unit_test(chunked_body_over_limit_gets_413),
        cmocka_unit_test(response_carries_request_id),
        cmocka_unit_test(unknown_method_reaches_handler),
        cmocka_unit_test(oversized_response_gets_500),
        cmocka_unit_test(no_content_has_no_body),
        cmocka_unit_test(access_log_has_one_line_without_query),
        cmocka_unit_test(port_in_use_gives_io_error),
    };
    const struct CMUnitTest standalone_tests[] = {
        cmocka_unit_test(stop_drains_in_flight_request),
        cmocka_unit_test(non_literal_host_rejected),
        cmocka_unit_test(ipv6_loopback_serves),
        cmocka_unit_test(url_decode_cases),
        cmocka_unit_test(url_decode_reads_only_the_slice),
        cmocka_unit_test(query_get_finds_decoded_values),
        cmocka_unit_test(query_get_reports_missing_and_bad),
        cmocka_unit_test(query_caps_reject_whole_query),
        cmocka_unit_test(query_each_visits_decoded_pairs),
        cmocka_unit_test(query_each_stops_on_false_or_bad_pair),
        cmocka_unit_test(response_header_ignores_overflow),
        cmocka_unit_test(config_default_matches_contract),
    };
    int failed =
        cmocka_run_group_tests_name("http server", server_tests, server_setup, server_teardown);
    failed += cmocka_run_group_tests_name("http standalone", standalone_tests, NULL, NULL);
    return failed;
}
