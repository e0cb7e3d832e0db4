/* Bounded growable buffer with a sticky error. */
#include "core/sbuf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(sbuf_t *sb, size_t max)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->max = max;
    sb->err = ERR_OK;
}

void sbuf_deinit(sbuf_t *sb)
{
    free(sb->data);
    sbuf_init(sb, sb->max);
}

void sbuf_clear(sbuf_t *sb)
{
    sb->len = 0;
    sb->err = ERR_OK;
    if (sb->data != NULL)
        sb->data[0] = '\0';
}

static bool reserve(sbuf_t *sb, size_t extra)
{
    if (sb->err != ERR_OK)
        return false;
    if (extra > sb->max || sb->len > sb->max - extra) {
        sb->err = ERR_TOO_LARGE;
        return false;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return true;
    size_t cap = sb->cap == 0 ? 256 : sb->cap;
    while (cap < need)
        cap *= 2;
    if (cap > sb->max + 1)
        cap = sb->max + 1;
    char *p = realloc(sb->data, cap);
    if (p == NULL) {
        sb->err = ERR_NOMEM;
        return false;
    }
    sb->data = p;
    sb->cap = cap;
    return true;
}

void sbuf_append(sbuf_t *sb, const char *p, size_t n)
{
    if (!reserve(sb, n))
        return;
    if (n > 0)
        memcpy(sb->data + sb->len, p, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sbuf_puts(sbuf_t *sb, const char *s)
{
    sbuf_append(sb, s, strlen(s));
}

void sbuf_putc(sbuf_t *sb, char c)
{
    /* The common case, room for c and the NUL and no error, skips reserve(): responses are
     * written a character at a time between their values. */
    if (sb->err == ERR_OK && sb->cap - sb->len >= 2) {
        sb->data[sb->len++] = c;
        sb->data[sb->len] = '\0';
        return;
    }
    sbuf_append(sb, &c, 1);
}

void sbuf_printf(sbuf_t *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->err = ERR_INVALID;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        sbuf_append(sb, small, (size_t)n);
        return;
    }
    if (!reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/* Writes the decimal digits of v, with a '-' when negative, ending at end; returns the start. */
static char *int_digits(char *end, int64_t v)
{
    /* Negating INT64_MIN overflows, so the magnitude is taken as unsigned. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char *p = end;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    return p;
}

void sbuf_put_int(sbuf_t *sb, int64_t v)
{
    char tmp[24];
    const char *start = int_digits(tmp + sizeof(tmp), v);
    sbuf_append(sb, start, (size_t)(tmp + sizeof(tmp) - start));
}

void sbuf_put_number(sbuf_t *sb, double v)
{
    if (!isfinite(v)) {
        sbuf_puts(sb, "null");
        return;
    }
    /* Whole numbers below 2^53 are exact as integers; writing their digits directly avoids
     * snprintf, which costs several times more. -0 stays "-0", as "%.0f" writes it. */
    if (v == floor(v) && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v))) {
        sbuf_put_int(sb, (int64_t)v);
        return;
    }
    char tmp[32];
    int n;
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        n = snprintf(tmp, sizeof(tmp), "%.0f", v);
    else
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    /* %.17g may print more digits than needed; shorten when the shorter form reads back equal. */
    for (int prec = 1; prec < 17 && v != floor(v); prec++) {
        char shorter[32];
        int m = snprintf(shorter, sizeof(shorter), "%.*g", prec, v);
        if (strtod(shorter, NULL) == v) {
            memcpy(tmp, shorter, (size_t)m + 1);
            n = m;
            break;
        }
    }
    sbuf_append(sb, tmp, (size_t)n);
}

size_t utf8_sequence(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void sbuf_put_json_string(sbuf_t *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_putc(sb, '"');
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* Text from a client (a path, a header) may not be UTF-8, and JSON must be: each
             * byte that starts no well-formed sequence becomes U+FFFD. */
            const size_t len = utf8_sequence((const unsigned char *)s + i, n - i);
            if (len > 0) {
                i += len - 1;
                continue;
            }
            sbuf_append(sb, s + start, i - start);
            sbuf_append(sb, "\xef\xbf\xbd", 3);
            start = i + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sbuf_append(sb, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            sbuf_append(sb, "\\\"", 2);
            break;
        case '\\':
            sbuf_append(sb, "\\\\", 2);
            break;
        case '\n':
            sbuf_append(sb, "\\n", 2);
            break;
        case '\r':
            sbuf_append(sb, "\\r", 2);
            break;
        case '\t':
            sbuf_append(sb, "\\t", 2);
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sbuf_append(sb, esc, 6);
        }
        }
    }
    sbuf_append(sb, s + start, n - start);
    sbuf_putc(sb, '"');
}

char *sbuf_detach(sbuf_t *sb, size_t *len)
{
    char *p = sb->data;
    if (len != NULL)
        *len = sb->len;
    if (p == NULL)
        p = calloc(1, 1);
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    return p;
}

const char *sbuf_cstr(const sbuf_t *sb)
{
    return sb->data == NULL ? "" : sb->data;
}
