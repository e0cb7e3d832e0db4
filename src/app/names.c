/* Name normalisation and lookups on a loaded app.
 *
 * URL segments, Bubble's internal field ids and SQL identifiers are all derived from display
 * names here, so the loader and the lookups agree on one spelling. Case folding is ASCII only:
 * bytes above 0x7F are compared and kept as they are.
 */
#include <stdio.h>
#include <string.h>

#include "app/app_internal.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

char *app__squash(app__loader_t *ld, const char *s)
{
    char *out = app__calloc(ld, strlen(s) + 1, 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (; *s != '\0'; s++) {
        if (*s != ' ')
            out[n++] = lower(*s);
    }
    out[n] = '\0';
    return out;
}

uint32_t app__fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

char *app__sql_ident(app__loader_t *ld, const char *prefix, const char *name)
{
    size_t plen = strlen(prefix);
    char *out = app__calloc(ld, plen + strlen(name) + 1, 1);
    if (out == NULL)
        return NULL;
    memcpy(out, prefix, plen);

    size_t n = plen;
    bool in_run = false;
    for (const char *s = name; *s != '\0'; s++) {
        char c = lower(*s);
        if (ident_char(c)) {
            out[n++] = c;
            in_run = false;
        } else if (!in_run) {
            out[n++] = '_';
            in_run = true;
        }
    }
    out[n] = '\0';

    /* A long name is cut and given its hash, so two long names sharing a prefix stay apart. */
    if (n > APP__MAX_IDENT)
        return app__sql_ident_hashed(ld, out, name);
    return out;
}

char *app__sql_ident_hashed(app__loader_t *ld, const char *ident, const char *name)
{
    char buf[APP__MAX_IDENT + 1];
    size_t keep = strlen(ident);
    if (keep > APP__MAX_IDENT - 9)
        keep = APP__MAX_IDENT - 9;
    snprintf(buf, sizeof(buf), "%.*s_%08x", (int)keep, ident, (unsigned)app__fnv1a(name));
    return app__strdup(ld, buf);
}

static void put(char *out, size_t size, size_t *len, const char *s)
{
    for (; *s != '\0' && *len + 1 < size; s++)
        out[(*len)++] = *s;
    out[*len] = '\0';
}

static void put_squashed(char *out, size_t size, size_t *len, const char *s)
{
    for (; *s != '\0' && *len + 1 < size; s++) {
        if (*s != ' ')
            out[(*len)++] = lower(*s);
    }
    out[*len] = '\0';
}

static const char *scalar_suffix(app_kind_t kind)
{
    switch (kind) {
    case FK_TEXT:
        return "text";
    case FK_NUMBER:
        return "number";
    case FK_BOOL:
        return "boolean";
    case FK_DATE:
        return "date";
    case FK_DATE_RANGE:
        return "date_range";
    case FK_GEO:
        return "geographic_address";
    case FK_FILE:
        return "file";
    case FK_IMAGE:
        return "image";
    case FK_OPTION:
    case FK_THING:
        break;
    }
    return NULL;
}

void app__vtype_suffix(const app_t *app, app_vtype_t t, char sep, char *out, size_t size)
{
    size_t len = 0;
    char sep_text[2] = {sep, '\0'};
    if (size == 0)
        return;
    out[0] = '\0';

    if (t.is_list) {
        put(out, size, &len, "list");
        put(out, size, &len, sep_text);
    }

    const char *scalar = scalar_suffix(t.kind);
    if (scalar != NULL) {
        put(out, size, &len, scalar);
    } else if (t.kind == FK_OPTION) {
        put(out, size, &len, "option");
        put(out, size, &len, sep_text);
        if (app != NULL && t.option_set >= 0 && (size_t)t.option_set < app->noption_sets)
            put_squashed(out, size, &len, app->option_sets[t.option_set].name);
    } else if (app != NULL && t.ref_type >= 0 && (size_t)t.ref_type < app->ntypes) {
        /* Bubble spells references to its built-in User type plainly as "user". */
        const app_type_t *type = &app->types[t.ref_type];
        if (!type->is_user) {
            put(out, size, &len, "custom");
            put(out, size, &len, sep_text);
        }
        put_squashed(out, size, &len, type->name);
    } else {
        put(out, size, &len, "custom");
    }
}

void app__describe_vtype(const app_t *app, app_vtype_t t, char *out, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    if (t.is_list)
        put(out, size, &len, "list of ");

    const char *scalar = NULL;
    switch (t.kind) {
    case FK_BOOL:
        scalar = "yes/no";
        break;
    case FK_DATE_RANGE:
        scalar = "date range";
        break;
    case FK_GEO:
        scalar = "geographic address";
        break;
    case FK_OPTION:
        put(out, size, &len, "option ");
        if (app != NULL && t.option_set >= 0 && (size_t)t.option_set < app->noption_sets)
            scalar = app->option_sets[t.option_set].name;
        break;
    case FK_THING:
        if (app != NULL && t.ref_type >= 0 && (size_t)t.ref_type < app->ntypes)
            scalar = app->types[t.ref_type].name;
        break;
    default:
        scalar = scalar_suffix(t.kind);
        break;
    }
    put(out, size, &len, scalar != NULL ? scalar : "?");
}

void app_vtype_name(const app_t *app, app_vtype_t t, char *out, size_t size)
{
    app__vtype_suffix(app, t, '.', out, size);
}

bool app__equal_squashed(const char *a, size_t an, const char *b)
{
    size_t i = 0;
    for (;;) {
        while (i < an && a[i] == ' ')
            i++;
        while (*b == ' ')
            b++;
        if (i == an || *b == '\0')
            return i == an && *b == '\0';
        if (lower(a[i]) != lower(*b))
            return false;
        i++;
        b++;
    }
}

static bool equal_exact(const char *a, size_t an, const char *b)
{
    return strlen(b) == an && memcmp(a, b, an) == 0;
}

const app_type_t *app_find_type_by_url(const app_t *app, const char *segment, size_t n)
{
    for (size_t i = 0; i < app->ntypes; i++) {
        if (app__equal_squashed(segment, n, app->types[i].url_name))
            return &app->types[i];
    }
    return NULL;
}

const app_type_t *app_find_type(const app_t *app, const char *name, size_t n)
{
    for (size_t i = 0; i < app->ntypes; i++) {
        if (equal_exact(name, n, app->types[i].name))
            return &app->types[i];
    }
    return NULL;
}

int app_type_index(const app_t *app, const app_type_t *type)
{
    if (type == NULL || type < app->types || type >= app->types + app->ntypes)
        return -1;
    return (int)(type - app->types);
}

const app_field_t *app_find_field(const app_type_t *type, const char *name, size_t n)
{
    for (size_t i = 0; i < type->nfields; i++) {
        if (equal_exact(name, n, type->fields[i].name))
            return &type->fields[i];
    }
    return NULL;
}

const app_field_t *app_find_field_any(const app_type_t *type, const char *name, size_t n)
{
    const app_field_t *f = app_find_field(type, name, n);
    if (f != NULL)
        return f;
    for (size_t i = 0; i < type->nfields; i++) {
        if (equal_exact(name, n, type->fields[i].id))
            return &type->fields[i];
    }
    for (size_t i = 0; i < type->nfields; i++) {
        if (app__equal_squashed(name, n, type->fields[i].squashed))
            return &type->fields[i];
    }
    return NULL;
}

const app_workflow_t *app_find_workflow(const app_t *app, const char *name, size_t n)
{
    for (size_t i = 0; i < app->nworkflows; i++) {
        if (equal_exact(name, n, app->workflows[i].name))
            return &app->workflows[i];
    }
    return NULL;
}
