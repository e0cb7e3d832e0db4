/* Strict parsing of request bodies with a depth cap. */
#include "json/jsonx.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"

size_t jsonx_depth(const json_t *value, size_t limit)
{
    if (limit == 0)
        return 1;
    size_t max = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)value, key, child)
        {
            size_t d = jsonx_depth(child, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    if (json_is_array(value)) {
        size_t i;
        json_t *child;
        json_array_foreach(value, i, child)
        {
            size_t d = jsonx_depth(child, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    return 0;
}

void jsonx_error_reason(const json_error_t *error, char *out, size_t size)
{
    snprintf(out, size, "%s", error->text);
    char *near = strstr(out, " near '");
    if (near != NULL)
        *near = '\0';
}

err_t jsonx_parse(const char *buf, size_t len, json_t **out, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        char reason[sizeof(jerr.text)];
        jsonx_error_reason(&jerr, reason, sizeof(reason));
        snprintf(msg, msglen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 reason);
        return ERR_INVALID;
    }
    if (jsonx_depth(root, JSONX_MAX_DEPTH) > JSONX_MAX_DEPTH) {
        snprintf(msg, msglen, "invalid JSON: nesting deeper than %d levels", JSONX_MAX_DEPTH);
        json_decref(root);
        return ERR_INVALID;
    }
    *out = root;
    return ERR_OK;
}

void jsonx_write_value(sbuf_t *out, value_t v)
{
    char iso[32];
    switch (v.kind) {
    case VAL_NULL:
        sbuf_puts(out, "null");
        return;
    case VAL_TEXT:
        sbuf_put_json_string(out, v.u.s.p, v.u.s.n);
        return;
    case VAL_NUMBER:
        sbuf_put_number(out, v.u.num);
        return;
    case VAL_BOOL:
        sbuf_puts(out, v.u.b ? "true" : "false");
        return;
    case VAL_DATE:
        clock_format_iso(v.u.ms, iso);
        sbuf_putc(out, '"');
        sbuf_puts(out, iso);
        sbuf_putc(out, '"');
        return;
    case VAL_JSON:
        sbuf_append(out, v.u.s.p, v.u.s.n);
        return;
    }
}

void jsonx_write(sbuf_t *out, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *child;
        bool first = true;
        sbuf_putc(out, '{');
        json_object_foreach((json_t *)j, key, child)
        {
            if (!first)
                sbuf_putc(out, ',');
            first = false;
            sbuf_put_json_string(out, key, strlen(key));
            sbuf_putc(out, ':');
            jsonx_write(out, child);
        }
        sbuf_putc(out, '}');
        return;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *child;
        sbuf_putc(out, '[');
        json_array_foreach(j, i, child)
        {
            if (i > 0)
                sbuf_putc(out, ',');
            jsonx_write(out, child);
        }
        sbuf_putc(out, ']');
        return;
    }
    case JSON_STRING:
        sbuf_put_json_string(out, json_string_value(j), json_string_length(j));
        return;
    case JSON_INTEGER:
        sbuf_put_int(out, (int64_t)json_integer_value(j));
        return;
    case JSON_REAL:
        sbuf_put_number(out, json_real_value(j));
        return;
    case JSON_TRUE:
        sbuf_puts(out, "true");
        return;
    case JSON_FALSE:
        sbuf_puts(out, "false");
        return;
    case JSON_NULL:
        sbuf_puts(out, "null");
        return;
    }
}
