/* The search constraint geographic_search: things whose geographic address lies within a range
 * of an origin.
 *
 * froth makes no network calls to geocode, so an origin given as address text is taken from a
 * stored thing of the same type whose address in the same field is that text (ignoring ASCII
 * case) and has coordinates. Any other origin must come as lat and lng.
 */
#include <math.h>
#include <string.h>

#include "api/api_internal.h"

#define KM_PER_MILE 1.609344
/* Things read to find an origin address. The SQL prefilter already matches the exact address, so
 * more than one candidate only happens when several things share it. */
#define ORIGIN_CANDIDATES 20

typedef struct {
    double miles;
    bool has_point;
    double lat, lng;
    const char *address; /* origin_address when given, NUL-terminated */
    size_t address_len;
} geo_query_t;

/* Sets q's point from two JSON numbers, when both are valid coordinates. */
static bool read_point(const json_t *lat, const json_t *lng, geo_query_t *q)
{
    if (!json_is_number(lat) || !json_is_number(lng))
        return false;
    const double la = json_number_value(lat);
    const double ln = json_number_value(lng);
    if (!(la >= -90 && la <= 90 && ln >= -180 && ln <= 180))
        return false;
    q->lat = la;
    q->lng = ln;
    q->has_point = true;
    return true;
}

static const char POINT_REASON[] =
    "lat must be a number within [-90, 90] and lng a number within [-180, 180]";

/* origin is {"lat","lng"}, or a whole geographic address value whose address is ignored. */
static bool read_origin(const json_t *origin, geo_query_t *q, const char **reason)
{
    const char *key;
    json_t *v;
    if (!json_is_object(origin)) {
        *reason = "origin must be an object with lat and lng";
        return false;
    }
    json_object_foreach((json_t *)origin, key, v)
    {
        if (strcmp(key, "lat") != 0 && strcmp(key, "lng") != 0 && strcmp(key, "address") != 0) {
            *reason = "origin takes only the keys lat, lng and address";
            return false;
        }
    }
    if (!read_point(json_object_get(origin, "lat"), json_object_get(origin, "lng"), q)) {
        *reason = POINT_REASON;
        return false;
    }
    return true;
}

static bool read_range(const json_t *value, geo_query_t *q, const char **reason)
{
    const json_t *range = json_object_get(value, "range");
    const json_t *unit = json_object_get(value, "range_unit");
    double factor = 1;
    if (unit != NULL) {
        const char *u = json_string_value(unit);
        if (u != NULL && strcmp(u, "km") == 0) {
            factor = 1 / KM_PER_MILE;
        } else if (u == NULL || strcmp(u, "miles") != 0) {
            *reason = "range_unit must be \"miles\" or \"km\"";
            return false;
        }
    }
    if (!json_is_number(range) || !isfinite(json_number_value(range)) ||
        json_number_value(range) < 0) {
        *reason = "range must be a number, 0 or more, in miles unless range_unit is \"km\"";
        return false;
    }
    q->miles = json_number_value(range) * factor;
    return true;
}

/* Reads {"range", "range_unit"?, and one origin: "origin_address", or "lat" and "lng", or
 * "origin"}. Returns false with *reason for anything else. */
static bool read_query(const json_t *value, geo_query_t *q, const char **reason)
{
    memset(q, 0, sizeof(*q));
    if (!json_is_object(value)) {
        *reason = "expected an object with range and origin_address, or range, lat and lng";
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)value, key, v)
    {
        static const char *const keys[] = {"range", "range_unit", "origin_address", "origin",
                                           "lat", "lng"};
        bool known = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known) {
            *reason = "geographic_search takes only the keys range, range_unit, origin_address, "
                      "origin, lat and lng";
            return false;
        }
    }
    if (!read_range(value, q, reason))
        return false;

    const json_t *address = json_object_get(value, "origin_address");
    const json_t *origin = json_object_get(value, "origin");
    const json_t *lat = json_object_get(value, "lat");
    const json_t *lng = json_object_get(value, "lng");
    const int origins = (address != NULL) + (origin != NULL) + (lat != NULL || lng != NULL);
    if (origins != 1) {
        *reason = "give exactly one origin: origin_address, lat and lng, or origin";
        return false;
    }
    if (origin != NULL)
        return read_origin(origin, q, reason);
    if (address == NULL) {
        if (read_point(lat, lng, q))
            return true;
        *reason = POINT_REASON;
        return false;
    }
    if (!json_is_string(address) || json_string_length(address) == 0) {
        *reason = "origin_address must be a non-empty text";
        return false;
    }
    q->address = json_string_value(address);
    q->address_len = json_string_length(address);
    return true;
}

static bool same_ascii_case_insensitive(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* Takes lat and lng from a stored address value when its address is q's origin_address. */
static bool point_of_stored(value_t stored, geo_query_t *q)
{
    if (stored.kind != VAL_JSON)
        return false;
    json_t *doc = json_loadb(stored.u.s.p, stored.u.s.n, 0, NULL);
    const json_t *address = json_object_get(doc, "address");
    const bool same = json_is_string(address) &&
                      same_ascii_case_insensitive(json_string_value(address),
                                                  json_string_length(address), q->address,
                                                  q->address_len);
    const bool found = same && read_point(json_object_get(doc, "lat"),
                                          json_object_get(doc, "lng"), q);
    json_decref(doc);
    return found;
}

/* Looks the origin address up among the things of type that the caller may find and whose field
 * the caller may view, so the result reveals nothing hidden. Stored addresses are written as
 * {"address":"...","lat":...}, so a case-insensitive substring test for that prefix narrows
 * the candidates in SQL, and point_of_stored decides. The oldest match wins. */
static err_t origin_of_address(api_call_t *call, const app_type_t *type,
                               const privacy_plan_t *plan, const app_field_t *field,
                               geo_query_t *q)
{
    arena_t *a = call->req->arena;
    sbuf_t prefix;
    sbuf_init(&prefix, 6 * q->address_len + 32);
    sbuf_puts(&prefix, "{\"address\":");
    sbuf_put_json_string(&prefix, q->address, q->address_len);
    sbuf_puts(&prefix, ",\"lat\":");
    char *text = sbuf_error(&prefix) == ERR_OK ? arena_strndup(a, prefix.data, prefix.len) : NULL;
    const size_t text_len = prefix.len;
    sbuf_deinit(&prefix);

    store_cond_t *where = text == NULL ? NULL : store_cond_new(a, COND_TEXT_CONTAINS);
    const store_cond_t *visible = privacy_field_visible_cond(&call->pctx, plan, field);
    if (where == NULL || visible == NULL)
        return ERR_NOMEM;
    where->field = field;
    where->value = value_text(text, text_len);
    where = store_cond_and(a, where, (store_cond_t *)visible);
    if (where != NULL && plan->find != NULL)
        where = store_cond_and(a, where, (store_cond_t *)plan->find);
    if (where == NULL)
        return ERR_NOMEM;

    const store_query_t query = {.where = where, .limit = ORIGIN_CANDIDATES};
    store_row_t *rows = NULL;
    size_t nrows = 0, total = 0;
    err_t err = store_search(call->conn, type, &query, a, &rows, &nrows, &total);
    for (size_t i = 0; err == ERR_OK && i < nrows && !q->has_point; i++)
        point_of_stored(rows[i].values[field->index], q);
    return err;
}

err_t api__geo_search_cond(api_call_t *call, const app_type_t *type, const privacy_plan_t *plan,
                           const app_field_t *field, const json_t *value, store_cond_t **out,
                           const char **reason)
{
    *out = NULL;
    geo_query_t q;
    if (!read_query(value, &q, reason))
        return ERR_INVALID;
    if (!q.has_point) {
        err_t err = origin_of_address(call, type, plan, field, &q);
        if (err != ERR_OK)
            return err;
        if (!q.has_point) {
            *reason = "froth does not geocode addresses, and no thing here has this "
                      "origin_address with lat and lng: give the origin as lat and lng";
            return ERR_INVALID;
        }
    }

    arena_t *a = call->req->arena;
    value_t *values = arena_calloc(a, 3, sizeof(*values));
    store_cond_t *c = store_cond_new(a, COND_GEO_WITHIN);
    if (values == NULL || c == NULL)
        return ERR_NOMEM;
    values[0] = value_number(q.lat);
    values[1] = value_number(q.lng);
    values[2] = value_number(q.miles);
    c->field = field;
    c->values = values;
    c->nvalues = 3;
    *out = c;
    return ERR_OK;
}
