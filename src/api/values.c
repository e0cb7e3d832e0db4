/* Field values in and out of JSON, with the loose input forms Bubble clients send. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/clock.h"
#include "core/ids.h"
#include "json/jsonx.h"

/* Bubble's limit: a list field contains at most 10,000 items. */
#define LIST_MAX 10000

static value_t text_copy(api_call_t *call, const char *s, size_t n)
{
    char *p = arena_strndup(call->req->arena, s, n);
    return p == NULL ? value_null() : value_text(p, n);
}

/* Reads a number sent as text: decimal notation only, with an optional sign, fraction and
 * exponent, as JSON writes numbers. strtod alone would also take hexadecimal, "inf" and "nan". */
static bool parse_number(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return false;
    for (const char *p = s; *p != '\0' && !isspace((unsigned char)*p); p++) {
        if (!isdigit((unsigned char)*p) && strchr("+-.eE", *p) == NULL)
            return false;
    }
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0' || errno == ERANGE || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static err_t date_from_json(const api_call_t *call, const json_t *j, int64_t *ms)
{
    if (json_is_integer(j)) {
        *ms = (int64_t)json_integer_value(j);
        return ERR_OK;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);
        if (!isfinite(d) || fabs(d) > 9e15)
            return ERR_INVALID;
        *ms = (int64_t)d;
        return ERR_OK;
    }
    if (json_is_string(j))
        return clock_parse_date(json_string_value(j), json_string_length(j),
                                call->app->settings.zone, ms);
    return ERR_INVALID;
}

/* Stores compound values (addresses, date ranges, lists) as canonical JSON text, written the way
 * they are returned, so reads copy them out unchanged. */
static err_t json_value_from_sbuf(api_call_t *call, sbuf_t *sb, value_t *out)
{
    if (sbuf_error(sb) != ERR_OK) {
        err_t err = sbuf_error(sb);
        sbuf_deinit(sb);
        return err;
    }
    char *p = arena_strndup(call->req->arena, sbuf_cstr(sb), sb->len);
    size_t n = sb->len;
    sbuf_deinit(sb);
    if (p == NULL)
        return ERR_NOMEM;
    *out = value_json(p, n);
    return ERR_OK;
}

static err_t geo_from_json(api_call_t *call, const json_t *j, value_t *out, const char **reason)
{
    const json_t *address = NULL, *lat = NULL, *lng = NULL;
    if (json_is_string(j)) {
        address = j;
    } else if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            if (strcmp(key, "address") == 0)
                address = v;
            else if (strcmp(key, "lat") == 0)
                lat = v;
            else if (strcmp(key, "lng") == 0)
                lng = v;
            else {
                *reason = "a geographic address takes only the keys address, lat and lng";
                return ERR_INVALID;
            }
        }
    } else {
        *reason = "expected an address string or an object with address, lat and lng";
        return ERR_INVALID;
    }
    if (address != NULL && (!json_is_string(address) || json_string_length(address) == 0)) {
        *reason = "address must be a non-empty string";
        return ERR_INVALID;
    }
    if ((lat == NULL) != (lng == NULL) || (lat != NULL && (!json_is_number(lat) || !json_is_number(lng)))) {
        *reason = "lat and lng must both be given as numbers";
        return ERR_INVALID;
    }
    if (address == NULL && lat == NULL) {
        *reason = "expected an address or lat and lng";
        return ERR_INVALID;
    }
    double la = lat != NULL ? json_number_value(lat) : 0, ln = lng != NULL ? json_number_value(lng) : 0;
    if (la < -90 || la > 90 || ln < -180 || ln > 180) {
        *reason = "lat must be within [-90, 90] and lng within [-180, 180]";
        return ERR_INVALID;
    }
    sbuf_t sb;
    sbuf_init(&sb, 1 << 20);
    sbuf_putc(&sb, '{');
    if (address != NULL) {
        sbuf_puts(&sb, "\"address\":");
        sbuf_put_json_string(&sb, json_string_value(address), json_string_length(address));
    }
    if (lat != NULL) {
        sbuf_puts(&sb, address != NULL ? ",\"lat\":" : "\"lat\":");
        sbuf_put_number(&sb, la);
        sbuf_puts(&sb, ",\"lng\":");
        sbuf_put_number(&sb, ln);
    }
    sbuf_putc(&sb, '}');
    return json_value_from_sbuf(call, &sb, out);
}

static err_t range_from_json(api_call_t *call, const json_t *j, value_t *out, const char **reason)
{
    const json_t *start = json_object_get(j, "start");
    const json_t *end = json_object_get(j, "end");
    int64_t s, e;
    if (!json_is_object(j) || json_object_size(j) != 2 || start == NULL || end == NULL ||
        date_from_json(call, start, &s) != ERR_OK || date_from_json(call, end, &e) != ERR_OK) {
        *reason = "expected an object with the dates start and end";
        return ERR_INVALID;
    }
    if (s > e) {
        *reason = "start must not be after end";
        return ERR_INVALID;
    }
    char a[32], b[32];
    clock_format_iso(s, a);
    clock_format_iso(e, b);
    sbuf_t sb;
    sbuf_init(&sb, 256);
    sbuf_printf(&sb, "{\"start\":\"%s\",\"end\":\"%s\"}", a, b);
    return json_value_from_sbuf(call, &sb, out);
}

static err_t thing_from_json(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                             const char **reason)
{
    if (!json_is_string(j) || !id_is_valid(json_string_value(j), json_string_length(j))) {
        *reason = "expected the unique id of a thing";
        return ERR_INVALID;
    }
    /* A thing the caller may not see is treated as missing, with the same message and the same
     * one statement, so a reference cannot probe for the ids of hidden things. */
    const app_type_t *type = &call->app->types[t.ref_type];
    store_row_t row;
    err_t err = privacy_get_visible(&call->pctx, type, json_string_value(j), &row, NULL);
    if (err == ERR_NOT_FOUND) {
        *reason = "no thing of the referenced type has this id";
        return ERR_INVALID;
    }
    if (err != ERR_OK)
        return err;
    *out = row.values[0];
    return ERR_OK;
}

static err_t scalar_from_json(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                              const char **reason)
{
    switch (t.kind) {
    case FK_FILE:
    case FK_IMAGE:
        if (json_is_object(j) && call->accept_uploads)
            return api__file_from_json(call, j, out, reason);
        if (!json_is_string(j)) {
            *reason = call->accept_uploads ? "expected a URL or a file object with filename and "
                                             "base64 contents"
                                           : "expected a URL";
            return ERR_INVALID;
        }
        *out = text_copy(call, json_string_value(j), json_string_length(j));
        return ERR_OK;
    case FK_TEXT:
        if (!json_is_string(j)) {
            *reason = "expected text";
            return ERR_INVALID;
        }
        *out = text_copy(call, json_string_value(j), json_string_length(j));
        return ERR_OK;
    case FK_NUMBER: {
        double d;
        if (json_is_number(j)) {
            *out = value_number(json_number_value(j));
            return ERR_OK;
        }
        if (json_is_string(j) && parse_number(json_string_value(j), &d)) {
            *out = value_number(d);
            return ERR_OK;
        }
        *reason = "expected a number";
        return ERR_INVALID;
    }
    case FK_BOOL: {
        bool b;
        if (json_is_boolean(j)) {
            *out = value_bool(json_is_true(j));
            return ERR_OK;
        }
        if (json_is_string(j) && parse_bool(json_string_value(j), &b)) {
            *out = value_bool(b);
            return ERR_OK;
        }
        *reason = "expected yes/no: true, false, \"yes\" or \"no\"";
        return ERR_INVALID;
    }
    case FK_DATE: {
        int64_t ms;
        if (date_from_json(call, j, &ms) != ERR_OK) {
            *reason = "expected a date: ISO 8601, epoch milliseconds or MM/DD/YYYY";
            return ERR_INVALID;
        }
        *out = value_date(ms);
        return ERR_OK;
    }
    case FK_OPTION: {
        const app_option_set_t *set = &call->app->option_sets[t.option_set];
        if (json_is_string(j)) {
            for (size_t i = 0; i < set->nvalues; i++) {
                if (strcmp(set->values[i], json_string_value(j)) == 0) {
                    *out = value_text(set->values[i], strlen(set->values[i]));
                    return ERR_OK;
                }
            }
        }
        *reason = "expected the display text of an option of the field's option set";
        return ERR_INVALID;
    }
    case FK_THING:
        return thing_from_json(call, t, j, out, reason);
    case FK_GEO:
        return geo_from_json(call, j, out, reason);
    case FK_DATE_RANGE:
        return range_from_json(call, j, out, reason);
    }
    *reason = "unsupported field type";
    return ERR_INVALID;
}

static err_t list_from_json(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                            const char **reason)
{
    if (!json_is_array(j)) {
        *reason = "expected a list (a JSON array)";
        return ERR_INVALID;
    }
    if (json_array_size(j) > LIST_MAX) {
        *reason = "a list holds at most 10000 items";
        return ERR_INVALID;
    }
    if (json_array_size(j) == 0) {
        *out = value_null();
        return ERR_OK;
    }
    app_vtype_t et = t;
    et.is_list = false;
    sbuf_t sb;
    sbuf_init(&sb, 16 << 20);
    sbuf_putc(&sb, '[');
    size_t i;
    json_t *item;
    json_array_foreach(j, i, item)
    {
        value_t v;
        err_t err = json_is_null(item) ? ERR_INVALID : scalar_from_json(call, et, item, &v, reason);
        if (err == ERR_OK && v.kind == VAL_NULL)
            err = ERR_INVALID;
        if (err != ERR_OK) {
            if (json_is_null(item) || v.kind == VAL_NULL)
                *reason = "a list must not contain empty items";
            sbuf_deinit(&sb);
            return err;
        }
        if (i > 0)
            sbuf_putc(&sb, ',');
        api__write_value(&sb, et, v);
    }
    sbuf_putc(&sb, ']');
    return json_value_from_sbuf(call, &sb, out);
}

err_t api__value_from_json(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                           const char **reason)
{
    *out = value_null();
    if (json_is_null(j))
        return ERR_OK;
    if (t.is_list)
        return list_from_json(call, t, j, out, reason);
    return scalar_from_json(call, t, j, out, reason);
}

err_t api__value_from_text(api_call_t *call, app_vtype_t t, const char *text, value_t *out,
                           const char **reason)
{
    json_t *j;
    if (t.is_list || t.kind == FK_GEO || t.kind == FK_DATE_RANGE) {
        char msg[160];
        if (t.kind == FK_GEO && !t.is_list && text[0] != '{') {
            j = json_string(text);
        } else if (jsonx_parse(text, strlen(text), &j, msg, sizeof(msg)) != ERR_OK) {
            *reason = t.is_list ? "expected a list as a JSON array" : "expected a JSON object";
            return ERR_INVALID;
        }
    } else {
        j = json_string(text);
    }
    if (j == NULL) {
        *reason = "expected valid UTF-8 text";
        return ERR_INVALID;
    }
    err_t err = api__value_from_json(call, t, j, out, reason);
    json_decref(j);
    return err;
}

void api__write_value(sbuf_t *out, app_vtype_t t, value_t v)
{
    jsonx_write_value(out, v);
}
