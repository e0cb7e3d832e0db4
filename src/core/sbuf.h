/* Growable string buffer with a hard maximum size.
 *
 * Every buffer filled from client input or written back to a client is an sbuf created with a
 * maximum. Appends never fail loudly: the first failure (out of memory or over the maximum) sets a
 * sticky error, later appends do nothing, and the caller checks sbuf_error once at the end. The
 * data is always NUL-terminated. Not thread-safe.
 */
#ifndef FROTH_CORE_SBUF_H
#define FROTH_CORE_SBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct {
    char *data; /* malloc'd, NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max; /* bytes of content allowed, not counting the NUL */
    err_t err;  /* ERR_OK, ERR_NOMEM or ERR_TOO_LARGE */
} sbuf_t;

void sbuf_init(sbuf_t *sb, size_t max);
void sbuf_deinit(sbuf_t *sb);
void sbuf_clear(sbuf_t *sb);

void sbuf_append(sbuf_t *sb, const char *p, size_t n);
void sbuf_puts(sbuf_t *sb, const char *s);
void sbuf_putc(sbuf_t *sb, char c);
void sbuf_printf(sbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_put_int(sbuf_t *sb, int64_t v);

/* Appends a JSON number: integers without a fraction, others with up to 17 significant digits.
 * NaN and infinities (never stored) are written as null. */
void sbuf_put_number(sbuf_t *sb, double v);

/* Returns the length of the well-formed UTF-8 sequence at s (at most n bytes, n > 0), 1 for an
 * ASCII byte, or 0 when the bytes there are not one: a stray continuation byte, an overlong form,
 * a surrogate, a code point above U+10FFFF or a sequence cut short. */
size_t utf8_sequence(const unsigned char *s, size_t n);

/* Appends s as a quoted JSON string, escaping quotes, backslashes and control characters.
 * Well-formed UTF-8 is copied as it is; each byte that starts no well-formed sequence becomes
 * U+FFFD, so the output is valid JSON whatever the input. */
void sbuf_put_json_string(sbuf_t *sb, const char *s, size_t n);

/* Returns the sticky error, ERR_OK when every append succeeded. */
static inline err_t sbuf_error(const sbuf_t *sb)
{
    return sb->err;
}

/* Hands the data to the caller, who frees it with free(); the buffer is left empty. */
char *sbuf_detach(sbuf_t *sb, size_t *len);

/* Returns the content as a C string ("" when empty). */
const char *sbuf_cstr(const sbuf_t *sb);

#endif
