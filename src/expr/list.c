/* List values for the evaluator and the compiler: membership and decoding of JSON arrays.
 *
 * A list is a VAL_JSON array of scalars, such as ["a","b"], [1,2] or a list of thing ids. Lists of
 * objects (geographic addresses, date ranges) are rejected by the type checker before they get
 * here.
 */
#include <jansson.h>
#include <string.h>

#include "core/clock.h"
#include "expr/expr_internal.h"

static bool element_date(const json_t *elem, int64_t *ms)
{
    if (json_is_number(elem)) {
        /* Casting a double outside the int64_t range is undefined, so such dates never match. */
        const double d = json_number_value(elem);
        if (!(d > -9.2e18 && d < 9.2e18))
            return false;
        *ms = (int64_t)d;
        return true;
    }
    if (json_is_string(elem))
        return clock_parse_date(json_string_value(elem), json_string_length(elem), NULL, ms) ==
               ERR_OK;
    return false;
}

static bool element_matches(const json_t *elem, value_t item)
{
    switch (item.kind) {
    case VAL_TEXT:
        return json_is_string(elem) && json_string_length(elem) == item.u.s.n &&
               memcmp(json_string_value(elem), item.u.s.p, item.u.s.n) == 0;
    case VAL_NUMBER:
        return json_is_number(elem) && json_number_value(elem) == item.u.num;
    case VAL_BOOL:
        return json_is_boolean(elem) && json_is_true(elem) == item.u.b;
    case VAL_DATE: {
        int64_t ms;
        return element_date(elem, &ms) && ms == item.u.ms;
    }
    case VAL_NULL:
    case VAL_JSON:
        return false;
    }
    return false;
}

static err_t load_array(value_t list, json_t **out)
{
    json_error_t error;
    json_t *root = json_loadb(list.u.s.p, list.u.s.n, JSON_DECODE_ANY, &error);
    if (root == NULL || !json_is_array(root)) {
        json_decref(root);
        return ERR_INVALID;
    }
    *out = root;
    return ERR_OK;
}

err_t expr__list_contains(value_t list, value_t item, bool *out)
{
    *out = false;
    if (list.kind == VAL_NULL || item.kind == VAL_NULL)
        return ERR_OK;
    if (list.kind != VAL_JSON)
        return ERR_INVALID;

    json_t *root;
    const err_t rc = load_array(list, &root);
    if (rc != ERR_OK)
        return rc;
    size_t i;
    json_t *elem;
    json_array_foreach(root, i, elem)
    {
        if (element_matches(elem, item)) {
            *out = true;
            break;
        }
    }
    json_decref(root);
    return ERR_OK;
}

bool expr__value_is_empty(value_t v)
{
    if (v.kind == VAL_NULL)
        return true;
    if (v.kind == VAL_TEXT)
        return v.u.s.n == 0;
    if (v.kind != VAL_JSON)
        return false;

    /* Empty lists are normally VAL_NULL already. This catches a "[]" that slipped through. */
    size_t i = 0;
    const char *s = v.u.s.p;
    while (i < v.u.s.n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i >= v.u.s.n || s[i] != '[')
        return v.u.s.n == 0;
    i++;
    while (i < v.u.s.n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i < v.u.s.n && s[i] == ']';
}

/* Converts one element into *out and sets *added, or leaves *added false for an element that has
 * no scalar value of the kind. */
static err_t element_value(arena_t *arena, const json_t *elem, app_kind_t kind, value_t *out,
                           bool *added)
{
    *added = false;
    if (kind == FK_DATE) {
        int64_t ms;
        if (element_date(elem, &ms)) {
            *out = value_date(ms);
            *added = true;
        }
        return ERR_OK;
    }
    if (json_is_string(elem)) {
        const size_t n = json_string_length(elem);
        if (n == 0)
            return ERR_OK;
        char *copy = arena_strndup(arena, json_string_value(elem), n);
        if (copy == NULL)
            return ERR_NOMEM;
        *out = value_text(copy, n);
        *added = true;
    } else if (json_is_number(elem)) {
        *out = value_number(json_number_value(elem));
        *added = true;
    } else if (json_is_boolean(elem)) {
        *out = value_bool(json_is_true(elem));
        *added = true;
    }
    return ERR_OK;
}

err_t expr__list_values(arena_t *arena, value_t list, app_kind_t elem, value_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (list.kind == VAL_NULL)
        return ERR_OK;
    if (list.kind != VAL_JSON)
        return ERR_INVALID;

    json_t *root;
    err_t rc = load_array(list, &root);
    if (rc != ERR_OK)
        return rc;
    const size_t size = json_array_size(root);
    value_t *values = size > 0 ? arena_calloc(arena, size, sizeof(*values)) : NULL;
    if (size > 0 && values == NULL) {
        json_decref(root);
        return ERR_NOMEM;
    }
    size_t n = 0;
    size_t i;
    json_t *item;
    json_array_foreach(root, i, item)
    {
        bool added;
        rc = element_value(arena, item, elem, &values[n], &added);
        if (rc != ERR_OK)
            break;
        n += added ? 1 : 0;
    }
    json_decref(root);
    *out = values;
    *count = n;
    return rc;
}

err_t expr__list_count(value_t list, size_t *out)
{
    *out = 0;
    if (list.kind == VAL_NULL)
        return ERR_OK;
    if (list.kind != VAL_JSON)
        return ERR_INVALID;
    json_t *root;
    const err_t rc = load_array(list, &root);
    if (rc != ERR_OK)
        return rc;
    *out = json_array_size(root);
    json_decref(root);
    return ERR_OK;
}
