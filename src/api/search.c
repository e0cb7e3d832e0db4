/* Data API search: GET /obj/<type> with constraints, sorting and paging.
 *
 * The whole search is one store statement: the caller's find condition, the constraints, the
 * order, the page and the exact total. Constraints and sort keys on a field the caller may not
 * view are neutralised per row rather than applied, as Bubble ignores constraints the caller may
 * not use, so no combination of constraints, order or counts reveals a hidden value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "json/jsonx.h"

#define PAGE_MAX 100
#define DEPTH_MAX 50000  /* Bubble returns nothing past this position */
#define CONSTRAINTS_MAX 100
#define SORT_KEYS_MAX 10

typedef enum {
    C_EQUALS, C_NOT_EQUAL, C_IS_EMPTY, C_IS_NOT_EMPTY, C_TEXT_CONTAINS, C_NOT_TEXT_CONTAINS,
    C_GREATER, C_LESS, C_IN, C_NOT_IN, C_CONTAINS, C_NOT_CONTAINS, C_EMPTY, C_NOT_EMPTY,
    C_GEO,
} ctype_t;

static const struct {
    const char *name;
    ctype_t type;
} ctype_names[] = {
    {"equals", C_EQUALS},
    {"not equal", C_NOT_EQUAL},
    {"is_empty", C_IS_EMPTY},
    {"is_not_empty", C_IS_NOT_EMPTY},
    {"text contains", C_TEXT_CONTAINS},
    {"not text contains", C_NOT_TEXT_CONTAINS},
    {"greater than", C_GREATER},
    {"less than", C_LESS},
    {"in", C_IN},
    {"not in", C_NOT_IN},
    {"contains", C_CONTAINS},
    {"not contains", C_NOT_CONTAINS},
    {"empty", C_EMPTY},
    {"not empty", C_NOT_EMPTY},
    {"geographic_search", C_GEO},
};

static bool ctype_applies(ctype_t c, const app_field_t *f)
{
    bool list = f->type.is_list;
    app_kind_t k = f->type.kind;
    switch (c) {
    case C_EQUALS:
    case C_NOT_EQUAL:
    case C_IS_EMPTY:
    case C_IS_NOT_EMPTY:
    case C_IN:
    case C_NOT_IN:
        return true;
    case C_TEXT_CONTAINS:
    case C_NOT_TEXT_CONTAINS:
        return !list && k == FK_TEXT;
    case C_GREATER:
    case C_LESS:
        return !list && (k == FK_TEXT || k == FK_NUMBER || k == FK_DATE);
    case C_CONTAINS:
    case C_NOT_CONTAINS:
    case C_EMPTY:
    case C_NOT_EMPTY:
        return list;
    case C_GEO:
        return !list && k == FK_GEO;
    }
    return false;
}

/* Converts a constraint value. References are not checked for existence here: an id that names
 * nothing simply matches nothing. */
static err_t constraint_value(api_call_t *call, app_vtype_t t, const json_t *j, value_t *out,
                              const char **reason)
{
    if (t.kind == FK_THING && !t.is_list) {
        if (!json_is_string(j) || !id_is_valid(json_string_value(j), json_string_length(j))) {
            *reason = "expected the unique id of a thing";
            return ERR_INVALID;
        }
        /* Copied: the constraints' JSON is freed before the search runs. */
        char *id = arena_strndup(call->req->arena, json_string_value(j), json_string_length(j));
        if (id == NULL)
            return ERR_NOMEM;
        *out = value_text(id, json_string_length(j));
        return ERR_OK;
    }
    if (t.kind == FK_THING)
        t.kind = FK_TEXT; /* list equality compares ids as text */
    return api__value_from_json(call, t, j, out, reason);
}

/* Lists store dates the way they are returned, as ISO text, so a date to look for in a list is
 * compared in that form. */
static value_t list_element(api_call_t *call, value_t v)
{
    if (v.kind != VAL_DATE)
        return v;
    char *iso = arena_alloc(call->req->arena, 32);
    if (iso == NULL)
        return v;
    clock_format_iso(v.u.ms, iso);
    return value_text(iso, strlen(iso));
}

typedef struct {
    api_call_t *call;
    const app_type_t *type;
    const privacy_plan_t *plan;
} search_t;

static store_cond_t *or2(arena_t *a, store_cond_t *x, store_cond_t *y)
{
    return x == NULL || y == NULL ? NULL : store_cond_or(a, x, y);
}

/* Reads a JSON array of at most 1000 values for the elements of a list field into *vals, each
 * converted as list_element does. */
static err_t element_values(api_call_t *call, app_vtype_t et, const json_t *jvalue, value_t **vals,
                            size_t *n, const char **reason)
{
    if (!json_is_array(jvalue) || json_array_size(jvalue) > 1000) {
        *reason = "expected a list of at most 1000 values";
        return ERR_INVALID;
    }
    *n = json_array_size(jvalue);
    *vals = arena_calloc(call->req->arena, *n + 1, sizeof(value_t));
    if (*vals == NULL)
        return ERR_NOMEM;
    err_t err = ERR_OK;
    for (size_t i = 0; i < *n && err == ERR_OK; i++)
        err = constraint_value(call, et, json_array_get(jvalue, i), &(*vals)[i], reason);
    return err;
}

/* equals on a list compares sets, as Bubble does: order and repeats do not matter. The list
 * contains every value given, and no element outside them. An empty value matches empty lists. */
static err_t list_equals_cond(api_call_t *call, const app_field_t *f, const json_t *jvalue,
                              store_cond_t **out, const char **reason)
{
    arena_t *a = call->req->arena;
    app_vtype_t et = f->type;
    et.is_list = false;
    if (json_is_null(jvalue) || (json_is_array(jvalue) && json_array_size(jvalue) == 0)) {
        *out = store_cond_new(a, COND_IS_EMPTY);
        if (*out != NULL)
            (*out)->field = f;
        return *out == NULL ? ERR_NOMEM : ERR_OK;
    }
    value_t *vals;
    size_t n;
    err_t err = element_values(call, et, jvalue, &vals, &n, reason);
    if (err != ERR_OK)
        return err;
    store_cond_t *all = store_cond_new(a, COND_LIST_SUBSET);
    if (all == NULL)
        return ERR_NOMEM;
    all->field = f;
    all->values = vals;
    all->nvalues = n;
    for (size_t i = 0; i < n && all != NULL; i++) {
        if (vals[i].kind == VAL_NULL) {
            *reason = "a list must not contain empty items";
            return ERR_INVALID;
        }
        vals[i] = list_element(call, vals[i]);
        store_cond_t *has = store_cond_new(a, COND_LIST_CONTAINS);
        if (has == NULL)
            return ERR_NOMEM;
        has->field = f;
        has->value = vals[i];
        all = store_cond_and(a, all, has);
    }
    *out = all;
    return all == NULL ? ERR_NOMEM : ERR_OK;
}

/* Builds the condition for one constraint, or replies and returns NULL (*replied set). */
static store_cond_t *constraint_cond(search_t *s, const json_t *c, bool *replied)
{
    api_call_t *call = s->call;
    arena_t *a = call->req->arena;
    *replied = true;
    if (!json_is_object(c)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid constraints: each constraint must be an object");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)c, k, v)
    {
        if (strcmp(k, "key") != 0 && strcmp(k, "constraint_type") != 0 && strcmp(k, "value") != 0) {
            api__reply_envelope(call, 400, "ERROR", "Invalid constraints: unknown key \"%s\"", k);
            return NULL;
        }
    }
    const json_t *jkey = json_object_get(c, "key");
    const json_t *jtype = json_object_get(c, "constraint_type");
    const json_t *jvalue = json_object_get(c, "value");
    if (!json_is_string(jkey) || !json_is_string(jtype)) {
        api__reply_envelope(call, 400, "ERROR",
                            "Invalid constraints: each constraint needs a key and a constraint_type");
        return NULL;
    }
    const app_field_t *f = app_find_field_any(s->type, json_string_value(jkey), json_string_length(jkey));
    if (f == NULL) {
        api__reply_envelope(call, 400, "ERROR", "Invalid constraints: unknown field %s for type %s",
                            json_string_value(jkey), s->type->url_name);
        return NULL;
    }
    const char *tname = json_string_value(jtype);
    size_t ci = 0;
    while (ci < sizeof(ctype_names) / sizeof(ctype_names[0]) && strcmp(ctype_names[ci].name, tname) != 0)
        ci++;
    if (ci == sizeof(ctype_names) / sizeof(ctype_names[0])) {
        api__reply_envelope(call, 400, "ERROR", "Invalid constraints: unknown constraint_type \"%s\"",
                            tname);
        return NULL;
    }
    ctype_t ct = ctype_names[ci].type;
    if (!ctype_applies(ct, f)) {
        api__reply_envelope(call, 404, "NOT_FOUND", "Constraint type not found %s for field %s and type %s",
                            tname, f->id, s->type->url_name);
        return NULL;
    }
    bool needs_value = ct != C_IS_EMPTY && ct != C_IS_NOT_EMPTY && ct != C_EMPTY && ct != C_NOT_EMPTY;
    if (needs_value && jvalue == NULL) {
        api__reply_envelope(call, 400, "ERROR", "Invalid constraints: constraint %s on %s needs a value",
                            tname, json_string_value(jkey));
        return NULL;
    }

    app_vtype_t et = f->type;
    et.is_list = false;
    const char *reason = NULL;
    value_t val = value_null();
    store_cond_t *cond = NULL;
    err_t err = ERR_OK;
    switch (ct) {
    case C_EQUALS:
    case C_NOT_EQUAL:
        if (f->type.is_list) {
            err = list_equals_cond(call, f, jvalue, &cond, &reason);
            if (ct == C_NOT_EQUAL && cond != NULL)
                cond = store_cond_not(a, cond);
            break;
        }
        err = constraint_value(call, f->type, jvalue, &val, &reason);
        if (err != ERR_OK)
            break;
        if (val.kind == VAL_NULL)
            cond = store_cond_new(a, ct == C_EQUALS ? COND_IS_EMPTY : COND_IS_NOT_EMPTY);
        else
            cond = store_cond_cmp(a, f, ct == C_EQUALS ? CMP_EQ : CMP_NE, val);
        if (cond != NULL)
            cond->field = f;
        break;
    case C_IS_EMPTY:
    case C_EMPTY:
        cond = store_cond_new(a, COND_IS_EMPTY);
        if (cond != NULL)
            cond->field = f;
        break;
    case C_IS_NOT_EMPTY:
    case C_NOT_EMPTY:
        cond = store_cond_new(a, COND_IS_NOT_EMPTY);
        if (cond != NULL)
            cond->field = f;
        break;
    case C_GREATER:
    case C_LESS:
        err = constraint_value(call, f->type, jvalue, &val, &reason);
        if (err == ERR_OK && val.kind == VAL_NULL) {
            err = ERR_INVALID;
            reason = "the value must not be empty";
        }
        if (err == ERR_OK)
            cond = store_cond_cmp(a, f, ct == C_GREATER ? CMP_GT : CMP_LT, val);
        break;
    case C_TEXT_CONTAINS:
    case C_NOT_TEXT_CONTAINS:
        err = constraint_value(call, f->type, jvalue, &val, &reason);
        if (err != ERR_OK)
            break;
        cond = store_cond_new(a, val.kind == VAL_NULL ? COND_TRUE : COND_TEXT_WORDS);
        if (cond != NULL) {
            cond->field = f;
            cond->value = val;
        }
        if (ct == C_NOT_TEXT_CONTAINS && cond != NULL) {
            store_cond_t *empty = store_cond_new(a, COND_IS_EMPTY);
            if (empty != NULL)
                empty->field = f;
            cond = or2(a, empty, store_cond_not(a, cond));
        }
        break;
    case C_CONTAINS:
    case C_NOT_CONTAINS:
        err = constraint_value(call, et, jvalue, &val, &reason);
        if (err == ERR_OK && val.kind == VAL_NULL) {
            err = ERR_INVALID;
            reason = "the value must not be empty";
        }
        if (err != ERR_OK)
            break;
        cond = store_cond_new(a, COND_LIST_CONTAINS);
        if (cond != NULL) {
            cond->field = f;
            cond->value = list_element(call, val);
        }
        if (ct == C_NOT_CONTAINS && cond != NULL)
            cond = store_cond_not(a, cond);
        break;
    case C_IN:
    case C_NOT_IN: {
        value_t *vals;
        size_t n;
        err = element_values(call, et, jvalue, &vals, &n, &reason);
        if (err != ERR_OK)
            break;
        if (f->type.is_list) {
            cond = store_cond_new(a, COND_OR);
            for (size_t i = 0; i < n && cond != NULL; i++) {
                store_cond_t *has = store_cond_new(a, COND_LIST_CONTAINS);
                if (has == NULL) {
                    cond = NULL;
                    break;
                }
                has->field = f;
                has->value = list_element(call, vals[i]);
                cond = store_cond_or(a, cond, has);
            }
        } else {
            cond = store_cond_new(a, COND_IN);
            if (cond != NULL) {
                cond->field = f;
                cond->values = vals;
                cond->nvalues = n;
            }
        }
        if (ct == C_NOT_IN && cond != NULL) {
            store_cond_t *empty = store_cond_new(a, COND_IS_EMPTY);
            if (empty != NULL)
                empty->field = f;
            cond = or2(a, empty, store_cond_not(a, cond));
        }
        break;
    }
    case C_GEO:
        err = api__geo_search_cond(call, s->type, s->plan, f, jvalue, &cond, &reason);
        break;
    }
    if (err == ERR_INVALID) {
        api__reply_envelope(call, 400, "INVALID_DATA", "Invalid constraint value for field %s: %s",
                            json_string_value(jkey), reason);
        return NULL;
    }
    if (err != ERR_OK || cond == NULL) {
        api__reply_failure(call, err != ERR_OK ? err : ERR_NOMEM, "build constraint");
        return NULL;
    }

    /* A constraint on a field the caller may not constrain on (it can neither view it nor has
     * it listed under "constrain") is ignored on the rows where that holds. */
    const store_cond_t *visible = privacy_field_constrainable_cond(&call->pctx, s->plan, f);
    if (visible == NULL) {
        api__reply_failure(call, ERR_NOMEM, "build constraint");
        return NULL;
    }
    if (visible->kind != COND_TRUE)
        cond = or2(a, cond, store_cond_not(a, (store_cond_t *)visible));
    if (cond == NULL)
        api__reply_failure(call, ERR_NOMEM, "build constraint");
    *replied = cond == NULL;
    return cond;
}

static bool parse_size(const char *s, size_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0 || v > 1000000000ULL)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_flag(const char *s, bool *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* Reads a query parameter; replies 400 and returns false when it is present but undecodable. */
static bool query_param_or_reply(api_call_t *call, const char *name, char **value)
{
    *value = NULL;
    if (!http_query_get(call->req->arena, call->req->query, name, value))
        return true;
    if (*value == NULL) {
        api__reply_envelope(call, 400, "ERROR", "Invalid query parameter %s: bad percent-encoding",
                            name);
        return false;
    }
    return true;
}

static bool add_sort_or_reply(search_t *s, store_sort_t *sorts, size_t *nsort, const char *name,
                              bool descending)
{
    api_call_t *call = s->call;
    const app_field_t *f = app_find_field_any(s->type, name, strlen(name));
    if (f == NULL) {
        api__reply_envelope(call, 400, "ERROR", "Invalid sort_field: unknown field %s for type %s",
                            name, s->type->url_name);
        return false;
    }
    if (f->type.is_list) {
        api__reply_envelope(call, 400, "ERROR", "Invalid sort_field: %s is a list field and cannot be sorted on",
                            name);
        return false;
    }
    if (*nsort >= SORT_KEYS_MAX) {
        api__reply_envelope(call, 400, "ERROR", "Invalid sort: at most %d sort fields", SORT_KEYS_MAX);
        return false;
    }
    const store_cond_t *visible = privacy_field_visible_cond(&call->pctx, s->plan, f);
    if (visible == NULL) {
        api__reply_failure(call, ERR_NOMEM, "build sort");
        return false;
    }
    sorts[*nsort] = (store_sort_t){
        .field = f, .descending = descending, .visible = visible->kind == COND_TRUE ? NULL : visible};
    (*nsort)++;
    return true;
}

static bool read_sorts_or_reply(search_t *s, store_sort_t *sorts, size_t *nsort)
{
    api_call_t *call = s->call;
    char *field, *desc, *more;
    if (!query_param_or_reply(call, "sort_field", &field) ||
        !query_param_or_reply(call, "descending", &desc) ||
        !query_param_or_reply(call, "additional_sort_fields", &more))
        return false;
    bool descending = false;
    if (desc != NULL && !parse_flag(desc, &descending)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid descending: expected true or false");
        return false;
    }
    if (field != NULL && *field != '\0' && !add_sort_or_reply(s, sorts, nsort, field, descending))
        return false;
    if (more == NULL || *more == '\0')
        return true;

    json_t *arr = NULL;
    char msg[200];
    if (jsonx_parse(more, strlen(more), &arr, msg, sizeof(msg)) != ERR_OK || !json_is_array(arr)) {
        if (arr != NULL && !json_is_array(arr))
            json_decref(arr);
        api__reply_envelope(call, 400, "ERROR",
                            "Invalid additional_sort_fields: expected a JSON array of objects");
        return false;
    }
    size_t i;
    json_t *item;
    bool ok = true;
    json_array_foreach(arr, i, item)
    {
        const json_t *sf = json_object_get(item, "sort_field");
        const json_t *sd = json_object_get(item, "descending");
        bool d = false;
        if (!json_is_string(sf) || (sd != NULL && !json_is_boolean(sd) &&
                                    !(json_is_string(sd) && parse_flag(json_string_value(sd), &d)))) {
            api__reply_envelope(call, 400, "ERROR",
                                "Invalid additional_sort_fields: each item needs sort_field and "
                                "an optional descending true or false");
            ok = false;
            break;
        }
        if (json_is_boolean(sd))
            d = json_is_true(sd);
        if (!add_sort_or_reply(s, sorts, nsort, json_string_value(sf), d)) {
            ok = false;
            break;
        }
    }
    json_decref(arr);
    return ok;
}

static store_cond_t *read_constraints_or_reply(search_t *s, bool *replied)
{
    api_call_t *call = s->call;
    char *text;
    *replied = false;
    if (!query_param_or_reply(call, "constraints", &text)) {
        *replied = true;
        return NULL;
    }
    store_cond_t *all = store_cond_new(call->req->arena, COND_AND);
    if (text == NULL || all == NULL)
        return all;
    json_t *arr = NULL;
    char msg[200];
    if (jsonx_parse(text, strlen(text), &arr, msg, sizeof(msg)) != ERR_OK) {
        api__reply_envelope(call, 400, "ERROR", "Invalid constraints: %s", msg);
        *replied = true;
        return NULL;
    }
    if (!json_is_array(arr) || json_array_size(arr) > CONSTRAINTS_MAX) {
        json_decref(arr);
        api__reply_envelope(call, 400, "ERROR",
                            "Invalid constraints: expected a JSON array of at most %d constraint objects",
                            CONSTRAINTS_MAX);
        *replied = true;
        return NULL;
    }
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        store_cond_t *cond = constraint_cond(s, c, replied);
        if (cond == NULL) {
            all = NULL;
            break;
        }
        all = store_cond_and(call->req->arena, all, cond);
        if (all == NULL) {
            api__reply_failure(call, ERR_NOMEM, "build constraints");
            *replied = true;
            break;
        }
    }
    json_decref(arr);
    return all;
}

static bool read_page_or_reply(api_call_t *call, size_t *cursor, size_t *limit, bool *exclude)
{
    char *c, *l, *x;
    if (!query_param_or_reply(call, "cursor", &c) || !query_param_or_reply(call, "limit", &l) ||
        !query_param_or_reply(call, "exclude_remaining", &x))
        return false;
    *cursor = 0;
    *limit = PAGE_MAX;
    *exclude = false;
    if (c != NULL && !parse_size(c, cursor)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid cursor: expected a non-negative integer");
        return false;
    }
    if (l != NULL && !parse_size(l, limit)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid limit: expected a non-negative integer");
        return false;
    }
    if (x != NULL && !parse_flag(x, exclude)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid exclude_remaining: expected true or false");
        return false;
    }
    if (*limit > PAGE_MAX)
        *limit = PAGE_MAX;
    return true;
}

void api__data_search(api_call_t *call, const app_type_t *type)
{
    privacy_plan_t plan;
    err_t err = privacy_plan_build(&call->pctx, type, &plan);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "build privacy plan");
        return;
    }
    search_t s = {.call = call, .type = type, .plan = &plan};

    size_t cursor, limit;
    bool exclude_remaining;
    if (!read_page_or_reply(call, &cursor, &limit, &exclude_remaining))
        return;
    bool replied;
    store_cond_t *where = read_constraints_or_reply(&s, &replied);
    if (where == NULL) {
        if (!replied)
            api__reply_failure(call, ERR_NOMEM, "build constraints");
        return;
    }
    store_sort_t sorts[SORT_KEYS_MAX];
    size_t nsort = 0;
    if (!read_sorts_or_reply(&s, sorts, &nsort))
        return;
    if (plan.find != NULL)
        where = store_cond_and(call->req->arena, where, (store_cond_t *)plan.find);

    /* Positions past the depth cap return nothing, as on Bubble; remaining still counts them. */
    size_t page = cursor >= DEPTH_MAX ? 0 : limit;
    if (cursor < DEPTH_MAX && cursor + page > DEPTH_MAX)
        page = DEPTH_MAX - cursor;
    store_query_t q = {.where = where, .flags = plan.flags, .nflags = plan.nflags, .sort = sorts,
                       .nsort = nsort, .offset = cursor, .limit = page,
                       .count_total = !exclude_remaining};
    store_row_t *rows = NULL;
    size_t nrows = 0, total = 0;
    err = store_search(call->conn, type, &q, call->req->arena, &rows, &nrows, &total);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "search");
        return;
    }

    sbuf_t *out = &call->res->body;
    sbuf_printf(out, "{\"response\":{\"cursor\":%zu,\"results\":[", cursor);
    for (size_t i = 0; i < nrows; i++) {
        privacy_perms_t perms;
        privacy_perms_from_flags(&call->pctx, &plan, rows[i].flags, &perms);
        if (i > 0)
            sbuf_putc(out, ',');
        api__write_thing(out, call, type, rows[i].values, &perms);
    }
    size_t remaining = 0;
    if (!exclude_remaining && total > cursor + nrows)
        remaining = total - cursor - nrows;
    sbuf_printf(out, "],\"count\":%zu,\"remaining\":%zu}}", nrows, remaining);
    call->res->status = 200;
}
