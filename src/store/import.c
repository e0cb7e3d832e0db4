/* Import: reads a dump written by store_export (export.c describes the format) and inserts it
 * through the ordinary store operations, so every value passes the checks a write from the API
 * passes.
 *
 * The whole dump goes in one write transaction. A failed import therefore leaves the database as
 * it was, and the way to recover is to fix the cause and run the same import again. Import never
 * updates or merges: a thing, session or admin token that is already there fails the import.
 * Audit rows are the exception: they are appended with new ids, so they cannot collide.
 */
#include "store/export_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "json/jsonx.h"

/* Bytes read from the dump per read(2). */
#define READ_CHUNK (64u << 10)

/* Memory for one line's value arrays; the values themselves point into the parsed line. */
#define LINE_ARENA_MAX ((size_t)64 << 20)

/* ---- Reading lines ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    char *buf; /* READ_CHUNK bytes */
    size_t pos;
    size_t len;
    bool eof;
} reader_t;

/* Reads the next line into line, without its "\n" or a "\r" before that. Sets *got to false at
 * the end of the input. A last line without "\n" still counts. Returns ERR_TOO_LARGE for a line
 * over the sbuf's maximum and ERR_IO when reading fails. */
static err_t read_line(reader_t *r, sbuf_t *line, bool *got)
{
    sbuf_clear(line);
    *got = false;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            const ssize_t n = read(r->fd, r->buf, READ_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return ERR_IO;
            r->pos = 0;
            r->len = (size_t)n;
            r->eof = n == 0;
            continue;
        }
        const char *start = r->buf + r->pos;
        const char *newline = memchr(start, '\n', r->len - r->pos);
        const size_t take = newline != NULL ? (size_t)(newline - start) : r->len - r->pos;
        sbuf_append(line, start, take);
        r->pos += take + (newline != NULL ? 1 : 0);
        *got = true;
        if (sbuf_error(line) != ERR_OK)
            return sbuf_error(line);
        if (newline != NULL)
            break;
    }
    if (line->len > 0 && line->data[line->len - 1] == '\r')
        line->data[--line->len] = '\0';
    return ERR_OK;
}

/* ---- Raw JSON text ---------------------------------------------------------------------- */

/* Lists, geographic addresses and date ranges are stored as JSON text and must be stored again
 * byte for byte, which a value parsed by jansson and written out again would not guarantee. So
 * import takes their text from the line itself. The scanner below trusts that jansson has
 * already accepted the whole line, but never reads past its end either way. */

typedef struct {
    const char *p;
    size_t n;
} span_t;

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p is at the opening quote. Returns the position after the closing one. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

static const char *skip_value(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return skip_string(p, end);
    if (p < end && (*p == '{' || *p == '[')) {
        size_t depth = 0;
        while (p < end) {
            const char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* Records the key (without quotes) and the value text of each member of the object whose text
 * starts at p, in order, up to max members. Returns how many it found. */
static size_t object_members(const char *p, const char *end, span_t *keys, span_t *values,
                             size_t max)
{
    p = skip_space(p, end);
    if (p >= end || *p != '{')
        return 0;
    p = skip_space(p + 1, end);
    size_t n = 0;
    while (n < max && p < end && *p == '"') {
        const char *key = p;
        p = skip_string(p, end);
        if (p - key < 2)
            return n;
        keys[n] = (span_t){key + 1, (size_t)(p - key) - 2};
        p = skip_space(p, end);
        if (p >= end || *p != ':')
            return n;
        p = skip_space(p + 1, end);
        const char *value = p;
        p = skip_value(p, end);
        values[n++] = (span_t){value, (size_t)(p - value)};
        p = skip_space(p, end);
        if (p < end && *p == ',')
            p = skip_space(p + 1, end);
    }
    return n;
}

/* jansson keeps an object's keys in the order of the text. A raw key with an escape cannot be
 * compared cheaply, and the order alone then decides. */
static bool key_matches(span_t raw, const char *key)
{
    if (memchr(raw.p, '\\', raw.n) != NULL)
        return true;
    return strlen(key) == raw.n && memcmp(raw.p, key, raw.n) == 0;
}

/* Finds the value texts of obj's members, in jansson's order, in the object text at span. */
static bool member_spans(span_t span, json_t *obj, span_t *keys, span_t *values)
{
    const size_t n = json_object_size(obj);
    if (object_members(span.p, span.p + span.n, keys, values, n) != n)
        return false;
    size_t i = 0;
    for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it)) {
        if (!key_matches(keys[i++], json_object_iter_key(it)))
            return false;
    }
    return true;
}

/* ---- The importer ----------------------------------------------------------------------- */

typedef struct {
    const app_t *app;
    store_conn_t *conn;
    store_dump_stats_t *stats;
    arena_t *arena; /* reset for every line */
    const char *line;
    size_t line_len;
    size_t line_no;
    bool have_header;
    bool have_end;
    size_t things; /* of every type */
    char *errbuf;
    size_t errlen;
} importer_t;

static err_t fail(importer_t *im, err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message, after "line N: " while a line is being read. */
static err_t fail(importer_t *im, err_t err, const char *fmt, ...)
{
    int n = 0;
    if (im->line_no > 0)
        n = snprintf(im->errbuf, im->errlen, "line %zu: ", im->line_no);
    if (n < 0 || (size_t)n >= im->errlen)
        return err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->errbuf + n, im->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return err;
}

/* Checks that every key of obj is one of allowed (NULL-terminated). */
static err_t check_keys(importer_t *im, json_t *obj, const char *const *allowed, const char *record)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known)
            return fail(im, ERR_INVALID, "unknown key \"%s\" in %s", key, record);
    }
    return ERR_OK;
}

static err_t get_int(importer_t *im, json_t *obj, const char *key, const char *record, int64_t *out)
{
    json_t *j = json_object_get(obj, key);
    if (!json_is_integer(j))
        return fail(im, ERR_INVALID, "%s needs \"%s\" as an integer", record, key);
    *out = (int64_t)json_integer_value(j);
    return ERR_OK;
}

static err_t get_bool(importer_t *im, json_t *obj, const char *key, const char *record, bool *out)
{
    json_t *j = json_object_get(obj, key);
    if (!json_is_boolean(j))
        return fail(im, ERR_INVALID, "%s needs \"%s\" as true or false", record, key);
    *out = json_is_true(j);
    return ERR_OK;
}

/* Copies a string of 1 to size - 1 bytes without NUL bytes into out. */
static err_t get_text(importer_t *im, json_t *obj, const char *key, const char *record, char *out,
                      size_t size)
{
    json_t *j = json_object_get(obj, key);
    const size_t n = json_is_string(j) ? json_string_length(j) : 0;
    if (n == 0 || n >= size || strlen(json_string_value(j)) != n)
        return fail(im, ERR_INVALID, "%s needs \"%s\" as a string of 1 to %zu bytes", record, key,
                    size - 1);
    memcpy(out, json_string_value(j), n + 1);
    return ERR_OK;
}

/* Copies an optional string of at most size - 1 bytes without NUL bytes into out. A missing key
 * gives "", so dumps written before the member existed still read. */
static err_t get_optional_text(importer_t *im, json_t *obj, const char *key, const char *record,
                               char *out, size_t size)
{
    out[0] = '\0';
    json_t *j = json_object_get(obj, key);
    if (j == NULL)
        return ERR_OK;
    const size_t n = json_is_string(j) ? json_string_length(j) : 0;
    if (!json_is_string(j) || n >= size || strlen(json_string_value(j)) != n)
        return fail(im, ERR_INVALID, "%s needs \"%s\" as a string of at most %zu bytes", record,
                    key, size - 1);
    memcpy(out, json_string_value(j), n + 1);
    return ERR_OK;
}

static err_t get_hash(importer_t *im, json_t *obj, const char *record, unsigned char hash[32])
{
    json_t *j = json_object_get(obj, "token_hash");
    if (!json_is_string(j) || !store__hex_decode(json_string_value(j), json_string_length(j), hash))
        return fail(im, ERR_INVALID, "%s needs \"token_hash\" as 64 hex digits", record);
    return ERR_OK;
}

/* ---- Header and closing line ------------------------------------------------------------ */

static err_t import_header(importer_t *im, json_t *root)
{
    static const char *const keys[] = {"froth_export", "app", "exported_at", NULL};
    err_t err = check_keys(im, root, keys, "the header");
    if (err != ERR_OK)
        return err;
    json_t *version = json_object_get(root, "froth_export");
    if (!json_is_integer(version) || json_integer_value(version) != 1)
        return fail(im, ERR_INVALID,
                    "unsupported dump format: this froth reads \"froth_export\":1 dumps");
    json_t *name = json_object_get(root, "app");
    if (!json_is_string(name))
        return fail(im, ERR_INVALID, "the header needs \"app\" as a string");
    snprintf(im->stats->dump_app, sizeof(im->stats->dump_app), "%s", json_string_value(name));
    im->stats->other_app = strcmp(json_string_value(name), im->app->name) != 0;
    im->have_header = true;
    return ERR_OK;
}

/* Reads an optional count of the closing line: dumps from before two-factor state, scheduled
 * runs and the audit log were exported have none, and hold no such lines either. */
static err_t get_optional_count(importer_t *im, json_t *end, const char *key, int64_t *out)
{
    *out = 0;
    if (json_object_get(end, key) == NULL)
        return ERR_OK;
    return get_int(im, end, key, "the closing line", out);
}

static err_t import_end(importer_t *im, json_t *end)
{
    static const char *const keys[] = {"things",     "sessions", "admin_tokens", "two_factor",
                                       "jobs",       "audit",    NULL};
    err_t err = json_is_object(end) ? check_keys(im, end, keys, "the closing line")
                                    : fail(im, ERR_INVALID, "the closing line must be an object");
    int64_t things = 0, sessions = 0, admin_tokens = 0, two_factor = 0, jobs = 0, audit = 0;
    if (err == ERR_OK)
        err = get_int(im, end, "things", "the closing line", &things);
    if (err == ERR_OK)
        err = get_int(im, end, "sessions", "the closing line", &sessions);
    if (err == ERR_OK)
        err = get_int(im, end, "admin_tokens", "the closing line", &admin_tokens);
    if (err == ERR_OK)
        err = get_optional_count(im, end, "two_factor", &two_factor);
    if (err == ERR_OK)
        err = get_optional_count(im, end, "jobs", &jobs);
    if (err == ERR_OK)
        err = get_optional_count(im, end, "audit", &audit);
    if (err != ERR_OK)
        return err;
    if ((uint64_t)audit != im->stats->audit)
        return fail(im, ERR_INVALID,
                    "the closing line counts %lld audit rows, but the dump holds %zu: the dump "
                    "is damaged",
                    (long long)audit, im->stats->audit);
    if ((uint64_t)things != im->things || (uint64_t)sessions != im->stats->sessions ||
        (uint64_t)admin_tokens != im->stats->admin_tokens)
        return fail(im, ERR_INVALID,
                    "the closing line counts %lld things, %lld sessions and %lld admin tokens, "
                    "but the dump holds %zu, %zu and %zu: the dump is damaged",
                    (long long)things, (long long)sessions, (long long)admin_tokens, im->things,
                    im->stats->sessions, im->stats->admin_tokens);
    if ((uint64_t)two_factor != im->stats->two_factor || (uint64_t)jobs != im->stats->jobs)
        return fail(im, ERR_INVALID,
                    "the closing line counts two-factor state of %lld users and %lld scheduled "
                    "runs, but the dump holds %zu and %zu: the dump is damaged",
                    (long long)two_factor, (long long)jobs, im->stats->two_factor,
                    im->stats->jobs);
    im->have_end = true;
    return ERR_OK;
}

/* ---- Things ----------------------------------------------------------------------------- */

/* The line's "values" object and, once a compound value needs them, its members' raw texts. */
typedef struct {
    json_t *root;
    json_t *values;
    span_t *raw; /* aligned with the iteration order of values; NULL until needed */
} thing_line_t;

static err_t find_raw_values(importer_t *im, thing_line_t *t)
{
    const size_t ntop = json_object_size(t->root);
    const size_t nvalues = json_object_size(t->values);
    span_t *top_keys = arena_calloc(im->arena, ntop, sizeof(span_t));
    span_t *top_values = arena_calloc(im->arena, ntop, sizeof(span_t));
    span_t *keys = arena_calloc(im->arena, nvalues, sizeof(span_t));
    t->raw = arena_calloc(im->arena, nvalues, sizeof(span_t));
    if (top_keys == NULL || top_values == NULL || keys == NULL || t->raw == NULL)
        return fail(im, ERR_NOMEM, "out of memory");

    const span_t line = {im->line, im->line_len};
    if (member_spans(line, t->root, top_keys, top_values)) {
        size_t i = 0;
        for (void *it = json_object_iter(t->root); it != NULL;
             it = json_object_iter_next(t->root, it), i++) {
            if (strcmp(json_object_iter_key(it), "values") == 0 &&
                member_spans(top_values[i], t->values, keys, t->raw))
                return ERR_OK;
        }
    }
    t->raw = NULL;
    return fail(im, ERR_INTERNAL, "cannot find the text of the compound values");
}

/* Converts one field's JSON value to what the store keeps. index is the member's position in
 * "values", for its raw text. */
static err_t convert(importer_t *im, const app_type_t *type, const app_field_t *field, json_t *j,
                     thing_line_t *t, size_t index, value_t *out)
{
    *out = value_null();
    if (json_is_null(j))
        return ERR_OK;
    const char *expected = NULL;
    switch (store__field_storage(field)) {
    case STORAGE_TEXT:
        if (json_is_string(j) && strlen(json_string_value(j)) == json_string_length(j)) {
            *out = value_text(json_string_value(j), json_string_length(j));
            return ERR_OK;
        }
        expected = "a string";
        break;
    case STORAGE_REAL:
        if (json_is_number(j) && isfinite(json_number_value(j))) {
            *out = value_number(json_number_value(j));
            return ERR_OK;
        }
        expected = "a number";
        break;
    case STORAGE_BOOL:
        if (json_is_boolean(j)) {
            *out = value_bool(json_is_true(j));
            return ERR_OK;
        }
        expected = "true or false";
        break;
    case STORAGE_DATE:
        if (json_is_integer(j)) {
            *out = value_date((int64_t)json_integer_value(j));
            return ERR_OK;
        }
        expected = "a date as an integer of epoch milliseconds";
        break;
    case STORAGE_JSON:
        if (field->type.is_list && !json_is_array(j)) {
            expected = "a list (a JSON array)";
            break;
        }
        if (t->raw == NULL) {
            err_t err = find_raw_values(im, t);
            if (err != ERR_OK)
                return err;
        }
        *out = store__stored_value(value_json(t->raw[index].p, t->raw[index].n));
        return ERR_OK;
    }
    return fail(im, ERR_INVALID, "field \"%s\" of %s: expected %s", field->name, type->name,
                expected);
}

/* Resolves every key of "values" to a field first, so that no work is spent on a line with
 * an unknown field and each field appears at most once. */
static err_t resolve_fields(importer_t *im, const app_type_t *type, json_t *values,
                            const app_field_t **fields)
{
    size_t i = 0;
    for (void *it = json_object_iter(values); it != NULL; it = json_object_iter_next(values, it)) {
        const char *key = json_object_iter_key(it);
        const app_field_t *field = app_find_field(type, key, strlen(key));
        if (field == NULL)
            return fail(im, ERR_INVALID, "type \"%s\" has no field \"%s\"", type->name, key);
        if (field->builtin == BUILTIN_EMAIL)
            return fail(im, ERR_INVALID,
                        "a user's email goes in the line's \"email\" key, "
                        "not in \"values\"");
        fields[i++] = field;
    }
    return ERR_OK;
}

static err_t check_required(importer_t *im, const app_type_t *type, const value_t *values)
{
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *field = &type->fields[i];
        const bool required = field->builtin == BUILTIN_ID ||
                              field->builtin == BUILTIN_CREATED_DATE ||
                              field->builtin == BUILTIN_MODIFIED_DATE;
        if (required && values[i].kind == VAL_NULL)
            return fail(im, ERR_INVALID, "%s thing without \"%s\"", type->name, field->name);
    }
    return ERR_OK;
}

/* Reads the user-only keys: the email into its built-in field, and the password hash. */
static err_t user_keys(importer_t *im, const app_type_t *type, json_t *root, value_t *values,
                       const char **password_hash)
{
    json_t *email = json_object_get(root, "email");
    json_t *hash = json_object_get(root, "password_hash");
    *password_hash = NULL;
    if (!type->is_user) {
        if (email != NULL || hash != NULL)
            return fail(im, ERR_INVALID,
                        "only User things carry \"email\" and "
                        "\"password_hash\", and this is a %s",
                        type->name);
        return ERR_OK;
    }
    const app_field_t *email_field = store__builtin_field(type, BUILTIN_EMAIL);
    if (email != NULL && !json_is_null(email)) {
        if (!json_is_string(email) || email_field == NULL ||
            strlen(json_string_value(email)) != json_string_length(email))
            return fail(im, ERR_INVALID, "\"email\" must be a string");
        values[email_field->index] =
            value_text(json_string_value(email), json_string_length(email));
    }
    if (hash != NULL && !json_is_null(hash)) {
        if (!json_is_string(hash) || strlen(json_string_value(hash)) != json_string_length(hash))
            return fail(im, ERR_INVALID, "\"password_hash\" must be a string");
        *password_hash = json_string_value(hash);
    }
    return ERR_OK;
}

static err_t insert_thing(importer_t *im, const app_type_t *type, const value_t *values,
                          const char *password_hash)
{
    const value_t *id = &values[0];
    const int idn = id->u.s.n > 64 ? 64 : (int)id->u.s.n;
    err_t err = store_insert(im->conn, type, values, password_hash);
    if (err == ERR_CONFLICT)
        return fail(im, err,
                    "%s \"%.*s\" already exists (in the database or earlier in the dump), or its "
                    "email is taken",
                    type->name, idn, id->u.s.p);
    if (err != ERR_OK)
        return fail(im, err, "cannot insert %s \"%.*s\": %s", type->name, idn, id->u.s.p,
                    err_name(err));
    im->stats->things[type - im->app->types]++;
    im->things++;
    return ERR_OK;
}

static err_t import_thing(importer_t *im, json_t *root)
{
    static const char *const keys[] = {"type", "values", "email", "password_hash", NULL};
    err_t err = check_keys(im, root, keys, "a thing");
    if (err != ERR_OK)
        return err;
    json_t *name = json_object_get(root, "type");
    if (!json_is_string(name))
        return fail(im, ERR_INVALID, "\"type\" must be a string");
    const app_type_t *type =
        app_find_type(im->app, json_string_value(name), json_string_length(name));
    if (type == NULL)
        return fail(im, ERR_INVALID, "unknown type \"%s\": the app definition has no such type",
                    json_string_value(name));
    thing_line_t t = {.root = root, .values = json_object_get(root, "values")};
    if (!json_is_object(t.values))
        return fail(im, ERR_INVALID, "\"values\" must be an object");
    if (json_object_size(t.values) > type->nfields)
        return fail(im, ERR_INVALID, "\"values\" has more keys than %s has fields", type->name);

    value_t *values = arena_calloc(im->arena, type->nfields, sizeof(*values));
    const app_field_t **fields = arena_calloc(im->arena, type->nfields, sizeof(*fields));
    if (values == NULL || fields == NULL)
        return fail(im, ERR_NOMEM, "out of memory");
    err = resolve_fields(im, type, t.values, fields);
    size_t i = 0;
    for (void *it = json_object_iter(t.values); it != NULL && err == ERR_OK;
         it = json_object_iter_next(t.values, it), i++)
        err = convert(im, type, fields[i], json_object_iter_value(it), &t, i,
                      &values[fields[i]->index]);
    const char *password_hash = NULL;
    if (err == ERR_OK)
        err = user_keys(im, type, root, values, &password_hash);
    if (err == ERR_OK)
        err = check_required(im, type, values);
    if (err == ERR_OK && values[0].kind != VAL_TEXT)
        err = fail(im, ERR_INVALID, "%s thing without \"_id\"", type->name);
    if (err == ERR_OK)
        err = insert_thing(im, type, values, password_hash);
    return err;
}

/* ---- Sessions and admin tokens ---------------------------------------------------------- */

static err_t import_session(importer_t *im, json_t *obj)
{
    static const char *const keys[] = {"id",         "user_id",        "created_ms", "last_used_ms",
                                       "expires_ms", "idle_ms",        "two_factor", "revoked",
                                       "token_hash", "client_address", "user_agent", NULL};
    const char *record = "a session";
    if (!json_is_object(obj))
        return fail(im, ERR_INVALID, "\"session\" must be an object");
    store_session_t s = {0};
    unsigned char hash[32];
    err_t err = check_keys(im, obj, keys, record);
    if (err == ERR_OK)
        err = get_text(im, obj, "id", record, s.id, sizeof(s.id));
    if (err == ERR_OK)
        err = get_text(im, obj, "user_id", record, s.user_id, sizeof(s.user_id));
    if (err == ERR_OK)
        err = get_int(im, obj, "created_ms", record, &s.created_ms);
    if (err == ERR_OK)
        err = get_int(im, obj, "last_used_ms", record, &s.last_used_ms);
    if (err == ERR_OK)
        err = get_int(im, obj, "expires_ms", record, &s.expires_ms);
    if (err == ERR_OK)
        err = get_int(im, obj, "idle_ms", record, &s.idle_ms);
    if (err == ERR_OK)
        err = get_bool(im, obj, "two_factor", record, &s.two_factor);
    if (err == ERR_OK)
        err = get_bool(im, obj, "revoked", record, &s.revoked);
    if (err == ERR_OK)
        err = get_hash(im, obj, record, hash);
    if (err == ERR_OK)
        err = get_optional_text(im, obj, "client_address", record, s.client_address,
                                sizeof(s.client_address));
    if (err == ERR_OK)
        err = get_optional_text(im, obj, "user_agent", record, s.user_agent, sizeof(s.user_agent));
    if (err != ERR_OK)
        return err;

    err = store_session_insert(im->conn, hash, &s);
    if (err == ERR_CONFLICT)
        return fail(im, err, "session \"%s\" already exists (same id or token hash)", s.id);
    if (err != ERR_OK)
        return fail(im, err, "cannot insert session \"%s\": %s", s.id, err_name(err));
    im->stats->sessions++;
    return ERR_OK;
}

static err_t import_admin_token(importer_t *im, json_t *obj)
{
    static const char *const keys[] = {"label", "token_hash", "created_ms", "last_used_ms", NULL};
    const char *record = "an admin token";
    if (!json_is_object(obj))
        return fail(im, ERR_INVALID, "\"admin_token\" must be an object");
    store_admin_token_t t = {0};
    unsigned char hash[32];
    err_t err = check_keys(im, obj, keys, record);
    if (err == ERR_OK)
        err = get_text(im, obj, "label", record, t.label, sizeof(t.label));
    if (err == ERR_OK)
        err = get_hash(im, obj, record, hash);
    if (err == ERR_OK)
        err = get_int(im, obj, "created_ms", record, &t.created_ms);
    if (err == ERR_OK)
        err = get_int(im, obj, "last_used_ms", record, &t.last_used_ms);
    if (err != ERR_OK)
        return err;

    err = store_admin_token_insert(im->conn, t.label, hash, t.created_ms);
    if (err == ERR_OK && t.last_used_ms != 0)
        err = store_admin_token_touch(im->conn, hash, t.last_used_ms);
    if (err == ERR_CONFLICT)
        return fail(im, err,
                    "an admin token labelled \"%s\", or with the same token hash, "
                    "already exists",
                    t.label);
    if (err != ERR_OK)
        return fail(im, err, "cannot insert admin token \"%s\": %s", t.label, err_name(err));
    im->stats->admin_tokens++;
    return ERR_OK;
}

static err_t import_audit(importer_t *im, json_t *obj)
{
    static const char *const keys[] = {"time_ms",     "event",          "user_id",
                                       "admin_label", "client_address", "user_agent",
                                       "session_id",  "detail",         NULL};
    const char *record = "an audit row";
    if (!json_is_object(obj))
        return fail(im, ERR_INVALID, "\"audit\" must be an object");
    store_audit_t row = {0};
    err_t err = check_keys(im, obj, keys, record);
    if (err == ERR_OK)
        err = get_int(im, obj, "time_ms", record, &row.time_ms);
    if (err == ERR_OK)
        err = get_text(im, obj, "event", record, row.event, sizeof(row.event));
    struct {
        const char *key;
        char *out;
        size_t size;
    } const texts[] = {
        {"user_id", row.user_id, sizeof(row.user_id)},
        {"admin_label", row.admin_label, sizeof(row.admin_label)},
        {"client_address", row.client_address, sizeof(row.client_address)},
        {"user_agent", row.user_agent, sizeof(row.user_agent)},
        {"session_id", row.session_id, sizeof(row.session_id)},
        {"detail", row.detail, sizeof(row.detail)},
    };
    for (size_t i = 0; err == ERR_OK && i < sizeof(texts) / sizeof(texts[0]); i++)
        err = get_optional_text(im, obj, texts[i].key, record, texts[i].out, texts[i].size);
    if (err != ERR_OK)
        return err;
    err = store_audit_insert(im->conn, &row);
    if (err != ERR_OK)
        return fail(im, err, "cannot insert an audit row: %s", err_name(err));
    im->stats->audit++;
    return ERR_OK;
}

/* ---- Two-factor state and scheduled runs ------------------------------------------------ */

/* Reads an optional string member into *out (NULL when absent or null), pointing into obj. */
static err_t get_optional_string(importer_t *im, json_t *obj, const char *key,
                                 const char *record, const char **out)
{
    json_t *j = json_object_get(obj, key);
    *out = NULL;
    if (j == NULL || json_is_null(j))
        return ERR_OK;
    if (!json_is_string(j) || json_string_length(j) == 0 ||
        strlen(json_string_value(j)) != json_string_length(j))
        return fail(im, ERR_INVALID, "%s needs \"%s\" as a non-empty string", record, key);
    *out = json_string_value(j);
    return ERR_OK;
}

/* The state is written as the export read it: the secret stays encrypted under the key of the
 * database it came from, and the recovery codes stay hashes. */
static err_t import_two_factor(importer_t *im, json_t *obj)
{
    static const char *const keys[] = {"user_id", "secret", "enabled", "last_step",
                                       "recovery_codes", NULL};
    const char *record = "two-factor state";
    if (!json_is_object(obj))
        return fail(im, ERR_INVALID, "\"two_factor\" must be an object");
    char user_id[128];
    const char *secret = NULL, *codes = NULL;
    store_two_factor_t tf = {0};
    err_t err = check_keys(im, obj, keys, record);
    if (err == ERR_OK)
        err = get_text(im, obj, "user_id", record, user_id, sizeof(user_id));
    if (err == ERR_OK)
        err = get_optional_string(im, obj, "secret", record, &secret);
    if (err == ERR_OK && secret == NULL)
        err = fail(im, ERR_INVALID, "%s needs \"secret\"", record);
    if (err == ERR_OK)
        err = get_bool(im, obj, "enabled", record, &tf.enabled);
    if (err == ERR_OK)
        err = get_int(im, obj, "last_step", record, &tf.last_step);
    if (err == ERR_OK)
        err = get_optional_string(im, obj, "recovery_codes", record, &codes);
    if (err != ERR_OK)
        return err;

    tf.secret = (char *)secret;
    tf.recovery_codes = (char *)codes;
    err = store_two_factor_set(im->conn, &im->app->types[im->app->user_type], user_id, &tf);
    if (err == ERR_NOT_FOUND)
        return fail(im, err,
                    "two-factor state of user \"%s\", who is not in the database or earlier in "
                    "the dump",
                    user_id);
    if (err != ERR_OK)
        return fail(im, err, "cannot store the two-factor state of user \"%s\": %s", user_id,
                    err_name(err));
    im->stats->two_factor++;
    return ERR_OK;
}

/* A run comes back as pending with no attempts, whatever its state was in the source, so a run
 * that was in progress there runs again here. */
static err_t import_job(importer_t *im, json_t *obj)
{
    static const char *const keys[] = {"id",          "workflow",  "run_at_ms", "params",
                                       "caller_kind", "caller_id", NULL};
    const char *record = "a scheduled run";
    if (!json_is_object(obj))
        return fail(im, ERR_INVALID, "\"job\" must be an object");
    store_job_t job = {0};
    int64_t kind = 0;
    err_t err = check_keys(im, obj, keys, record);
    if (err == ERR_OK)
        err = get_text(im, obj, "id", record, job.id, sizeof(job.id));
    if (err == ERR_OK)
        err = get_text(im, obj, "workflow", record, job.workflow, sizeof(job.workflow));
    if (err == ERR_OK)
        err = get_int(im, obj, "run_at_ms", record, &job.run_at_ms);
    if (err == ERR_OK)
        err = get_int(im, obj, "caller_kind", record, &kind);
    if (err == ERR_OK && (kind < 0 || kind > 2))
        err = fail(im, ERR_INVALID, "%s needs \"caller_kind\" 0 (anonymous), 1 (user) or 2 (admin)",
                   record);
    /* An anonymous caller has an empty id, which get_text would reject. */
    json_t *caller = json_object_get(obj, "caller_id");
    const size_t caller_n = json_is_string(caller) ? json_string_length(caller) : 0;
    if (err == ERR_OK && (!json_is_string(caller) || caller_n >= sizeof(job.caller_id) ||
                          strlen(json_string_value(caller)) != caller_n))
        err = fail(im, ERR_INVALID, "%s needs \"caller_id\" as a string of at most %zu bytes",
                   record, sizeof(job.caller_id) - 1);
    else if (err == ERR_OK)
        memcpy(job.caller_id, json_string_value(caller), caller_n + 1);
    json_t *params = json_object_get(obj, "params");
    if (err == ERR_OK && !json_is_object(params))
        err = fail(im, ERR_INVALID, "%s needs \"params\" as an object", record);
    if (err == ERR_OK && app_find_workflow(im->app, job.workflow, strlen(job.workflow)) == NULL)
        err = fail(im, ERR_INVALID, "scheduled run \"%s\" of unknown workflow \"%s\"", job.id,
                   job.workflow);
    if (err != ERR_OK)
        return err;

    job.caller_kind = (int)kind;
    job.params = json_dumps(params, JSON_COMPACT);
    if (job.params == NULL)
        return fail(im, ERR_NOMEM, "out of memory");
    err = store_job_insert(im->conn, &job);
    free(job.params);
    if (err == ERR_CONFLICT)
        return fail(im, err, "scheduled run \"%s\" already exists", job.id);
    if (err != ERR_OK)
        return fail(im, err, "cannot insert scheduled run \"%s\": %s", job.id, err_name(err));
    im->stats->jobs++;
    return ERR_OK;
}

/* ---- Lines ------------------------------------------------------------------------------ */

/* Routes a parsed line by its key: the header must come first, the closing line last. */
static err_t import_record(importer_t *im, json_t *root)
{
    const bool single = json_object_size(root) == 1;
    if (!im->have_header) {
        if (json_object_get(root, "froth_export") == NULL)
            return fail(im, ERR_INVALID,
                        "expected the header {\"froth_export\":1,...}: this is "
                        "not a dump written by froth export");
        return import_header(im, root);
    }
    if (json_object_get(root, "froth_export") != NULL)
        return fail(im, ERR_INVALID, "a second header");
    if (json_object_get(root, "type") != NULL)
        return import_thing(im, root);
    json_t *session = json_object_get(root, "session");
    if (session != NULL && single)
        return import_session(im, session);
    json_t *admin_token = json_object_get(root, "admin_token");
    if (admin_token != NULL && single)
        return import_admin_token(im, admin_token);
    json_t *audit = json_object_get(root, "audit");
    if (audit != NULL && single)
        return import_audit(im, audit);
    json_t *two_factor = json_object_get(root, "two_factor");
    if (two_factor != NULL && single)
        return import_two_factor(im, two_factor);
    json_t *job = json_object_get(root, "job");
    if (job != NULL && single)
        return import_job(im, job);
    json_t *end = json_object_get(root, "froth_export_end");
    if (end != NULL && single)
        return import_end(im, end);
    return fail(im, ERR_INVALID,
                "unknown record: expected an object with the key \"type\", or with "
                "\"session\", \"admin_token\", \"two_factor\", \"job\", \"audit\" or "
                "\"froth_export_end\" alone");
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != ' ' && p[i] != '\t')
            return false;
    }
    return true;
}

static err_t import_line(importer_t *im, const char *line, size_t n)
{
    if (blank(line, n))
        return ERR_OK;
    if (im->have_end)
        return fail(im, ERR_INVALID, "more data after the closing line");
    json_error_t error;
    json_t *root = json_loadb(line, n, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        /* The line can hold a password hash or a token hash; the column finds the fault. */
        char reason[sizeof(error.text)];
        jsonx_error_reason(&error, reason, sizeof(reason));
        return fail(im, ERR_INVALID, "invalid JSON at column %d: %s", error.column, reason);
    }
    im->line = line;
    im->line_len = n;
    arena_reset(im->arena);
    err_t err = json_is_object(root) ? import_record(im, root)
                                     : fail(im, ERR_INVALID, "expected a JSON object");
    json_decref(root);
    return err;
}

/* ---- The import ------------------------------------------------------------------------- */

/* Rejects a database that contains any thing of the app. */
static err_t check_empty(importer_t *im)
{
    for (size_t i = 0; i < im->app->ntypes; i++) {
        const app_type_t *type = &im->app->types[i];
        const store_query_t query = {.limit = 1};
        store_row_t *rows = NULL;
        size_t n = 0;
        arena_reset(im->arena);
        err_t err = store_search(im->conn, type, &query, im->arena, &rows, &n, NULL);
        if (err != ERR_OK)
            return fail(im, err, "cannot check whether the database is empty: %s", err_name(err));
        if (n > 0)
            return fail(im, ERR_CONFLICT,
                        "the database already holds things of this app (of type \"%s\"); "
                        "import into an empty database, or pass --force to add the dump to "
                        "what is there",
                        type->name);
    }
    return ERR_OK;
}

static err_t import_all(importer_t *im, int fd, bool force)
{
    err_t err = force ? ERR_OK : check_empty(im);
    reader_t reader = {.fd = fd, .buf = malloc(READ_CHUNK)};
    sbuf_t line;
    sbuf_init(&line, STORE__DUMP_MAX_LINE);
    if (err == ERR_OK && reader.buf == NULL)
        err = fail(im, ERR_NOMEM, "out of memory");
    for (bool got = true; err == ERR_OK && got;) {
        im->line_no++;
        err = read_line(&reader, &line, &got);
        if (err == ERR_TOO_LARGE)
            err = fail(im, err, "longer than the limit of %zu MiB", STORE__DUMP_MAX_LINE >> 20);
        else if (err == ERR_IO)
            err = fail(im, err, "cannot read the dump: %s", strerror(errno));
        else if (err != ERR_OK)
            err = fail(im, err, "out of memory");
        else if (got)
            err = import_line(im, sbuf_cstr(&line), line.len);
    }
    const size_t last = im->line_no - 1;
    im->line_no = 0;
    if (err == ERR_OK && !im->have_header)
        err = fail(im, ERR_INVALID, "the dump is empty");
    else if (err == ERR_OK && !im->have_end)
        err = fail(im, ERR_INVALID,
                   "the dump ends after line %zu without its closing line, so it is incomplete "
                   "(an export that failed or was cut short)",
                   last);
    sbuf_deinit(&line);
    free(reader.buf);
    return err;
}

err_t store_import(store_t *store, const app_t *app, int fd, bool force, store_dump_stats_t *stats,
                   char *errbuf, size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (store == NULL || app == NULL || stats == NULL || stats->things == NULL || fd < 0)
        return ERR_INVALID;
    importer_t im = {.app = app, .stats = stats, .errbuf = errbuf, .errlen = errlen};
    im.arena = arena_new(16 << 10, LINE_ARENA_MAX);
    err_t err = im.arena == NULL ? ERR_NOMEM : store_acquire(store, &im.conn);
    if (err != ERR_OK) {
        snprintf(errbuf, errlen, "cannot start the import: %s", err_name(err));
        arena_free(im.arena);
        return err;
    }
    err = store_begin(im.conn, true);
    if (err != ERR_OK)
        snprintf(errbuf, errlen, "cannot start a write transaction: %s", err_name(err));
    else
        err = import_all(&im, fd, force);
    if (err == ERR_OK) {
        err = store_commit(im.conn);
        if (err != ERR_OK)
            snprintf(errbuf, errlen, "cannot commit the import: %s", err_name(err));
    }
    if (err != ERR_OK)
        store_rollback(im.conn);
    store_release(im.conn);
    arena_free(im.arena);
    return err;
}
