/* logfmt and JSON-lines logging to stderr with a per-thread request context. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/sbuf.h"

log_level_t log_level = LOG_LEVEL_INFO;
static bool log_json;

static _Thread_local log_context_t context;
static _Thread_local char quote_ring[4][256];
static _Thread_local unsigned quote_next;

static const char *level_names[] = {"error", "warn", "info", "debug"};

void log_init(log_level_t level, bool json)
{
    log_level = level;
    log_json = json;
}

bool log_level_parse(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return true;
        }
    }
    return false;
}

log_context_t *log_context(void)
{
    return &context;
}

void log_context_clear(void)
{
    memset(&context, 0, sizeof(context));
}

/* Escapes into out (size at least 2 * max + 3) so that a log line can never be split or faked by a
 * value: quotes, backslashes and control characters are escaped. */
static void quote_into(char *out, size_t size, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (const char *p = s; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (o + 8 >= size) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
        } else if (c >= 0x80) {
            /* Well-formed UTF-8 is kept; any other byte is escaped, so lines stay valid text. */
            const size_t len = utf8_sequence((const unsigned char *)p, strnlen(p, 4));
            if (len == 0) {
                o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
            } else {
                memcpy(out + o, p, len);
                o += len;
                p += len - 1;
            }
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

const char *log_quote(const char *s)
{
    char *buf = quote_ring[quote_next++ % 4];
    quote_into(buf, sizeof(quote_ring[0]), s == NULL ? "" : s);
    return buf;
}

static void append_context(char *line, size_t size, size_t *o)
{
    const char *keys[] = {"request_id", "client", "route", "user_id"};
    const char *vals[] = {context.request_id, context.client, context.route, context.user_id};
    for (int i = 0; i < 4; i++) {
        if (vals[i] == NULL || *o >= size)
            continue;
        char q[256];
        quote_into(q, sizeof(q), vals[i]);
        *o += (size_t)snprintf(line + *o, size - *o, " %s=%s", keys[i], q);
    }
}

/* Adds a snprintf result to *o but never past the last byte of a buffer of the given size, because
 * snprintf returns the length it wanted to write, not what fitted. */
static void advance(size_t *o, int written, size_t size)
{
    if (written > 0)
        *o += (size_t)written;
    if (*o > size - 1)
        *o = size - 1;
}

/* Converts a finished logfmt line into a JSON object. Values are already quoted or bare tokens,
 * so each key=value pair maps to "key":value with bare values quoted. */
static void write_json(const char *logfmt)
{
    char out[8192];
    size_t o = 0;
    out[o++] = '{';
    const char *p = logfmt;
    bool first = true;
    while (*p != '\0' && o < sizeof(out) - 64) {
        while (*p == ' ')
            p++;
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            break;
        if (!first)
            out[o++] = ',';
        first = false;
        advance(&o, snprintf(out + o, sizeof(out) - o, "\"%.*s\":", (int)(eq - p), p),
                sizeof(out));
        p = eq + 1;
        if (*p == '"') {
            const char *q = p + 1;
            while (*q != '\0' && *q != '"') {
                if (*q == '\\' && q[1] != '\0')
                    q++;
                q++;
            }
            if (*q == '"')
                q++;
            /* logfmt escapes \xNN, which JSON does not know; rewrite them as \u00NN. */
            for (const char *r = p; r < q && o < sizeof(out) - 8; r++) {
                if (r[0] == '\\' && r[1] == 'x') {
                    o += (size_t)snprintf(out + o, sizeof(out) - o, "\\u00");
                    r++;
                    continue;
                }
                out[o++] = *r;
            }
            p = q;
        } else {
            const char *q = p;
            while (*q != '\0' && *q != ' ')
                q++;
            advance(&o, snprintf(out + o, sizeof(out) - o, "\"%.*s\"", (int)(q - p), p),
                    sizeof(out));
            p = q;
        }
    }
    /* A long unquoted key or value can fill the buffer, and then the line is cut, not overrun. */
    if (o > sizeof(out) - 2)
        o = sizeof(out) - 2;
    out[o++] = '}';
    out[o++] = '\n';
    fwrite(out, 1, o, stderr);
}

static void emit(const char *level, const char *msg, const char *fields, va_list ap)
{
    char line[4096];
    char ts[32];
    clock_format_iso(clock_now_ms(), ts);
    size_t o = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s msg=%s", ts, level,
                                log_quote(msg));
    if (fields != NULL && fields[0] != '\0' && o < sizeof(line) - 1) {
        line[o++] = ' ';
        int n = vsnprintf(line + o, sizeof(line) - o, fields, ap);
        if (n > 0)
            o += (size_t)n;
        if (o >= sizeof(line))
            o = sizeof(line) - 1;
    }
    append_context(line, sizeof(line), &o);
    if (o >= sizeof(line) - 1)
        o = sizeof(line) - 2;
    /* A field value may still carry a newline from a format the caller did not quote. */
    for (size_t i = 0; i < o; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    if (log_json) {
        line[o] = '\0';
        write_json(line);
        return;
    }
    line[o++] = '\n';
    fwrite(line, 1, o, stderr);
}

void log_write(log_level_t level, const char *msg, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    emit(level_names[level], msg, fields, ap);
    va_end(ap);
}

void log_access(const char *fields, ...)
{
    if (log_level < LOG_LEVEL_INFO)
        return;
    va_list ap;
    va_start(ap, fields);
    emit("info", "request", fields, ap);
    va_end(ap);
}
