/* Strict JSON reading on jansson for request bodies.
 *
 * jansson already rejects duplicate keys (with the flag we pass), invalid UTF-8, NUL escapes,
 * lone surrogates and trailing garbage. This layer adds a nesting cap far below jansson's own,
 * because no Bubble request body is deep and a shallow cap keeps every walk over client JSON cheap.
 */
#ifndef FROTH_JSON_JSONX_H
#define FROTH_JSON_JSONX_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"
#include "core/sbuf.h"
#include "core/value.h"

#define JSONX_MAX_DEPTH 32

/* Copies jansson's error text into out without its " near '...'" excerpt, which quotes the input:
 * a request body's excerpt can hold a password, and messages reach the log. */
void jsonx_error_reason(const json_error_t *error, char *out, size_t size);

/* Parses len bytes as one JSON value. On failure returns ERR_INVALID and writes a message such as
 * "invalid JSON at line 1, column 7: ..." into msg. The caller owns *out (json_decref). */
err_t jsonx_parse(const char *buf, size_t len, json_t **out, char *msg, size_t msglen) WARN_UNUSED;

/* Nesting depth of a value: 0 for scalars, 1 for an empty or flat array or object. Stops counting
 * past limit + 1. */
size_t jsonx_depth(const json_t *value, size_t limit);

/* Writes a value in the JSON form Bubble uses on the wire: text as a string, dates as ISO-8601
 * text with milliseconds, compound values (lists, addresses, date ranges) as their stored JSON
 * text, and VAL_NULL as null. */
void jsonx_write_value(sbuf_t *out, value_t v);

/* Writes a jansson value as compact JSON, numbers in their shortest exact form. Fails with the
 * buffer's sticky error only. */
void jsonx_write(sbuf_t *out, const json_t *j);

#endif
