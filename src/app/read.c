/* Typed, path-aware access to the jansson tree of app.json, and the error list the loader fills.
 *
 * Every reader here reports what is wrong with the JSON path of the value and carries on, so one
 * load lists all the problems of a document. Nothing here allocates outside the loader's arena
 * except the caller's error list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"

static void path_append(app__loader_t *ld, const char *text)
{
    size_t room = sizeof(ld->path) - ld->path_len;
    int n = snprintf(ld->path + ld->path_len, room, "%s", text);
    if (n < 0)
        return;
    /* A path that does not fit is cut; it only ever appears in messages. */
    ld->path_len += (size_t)n < room ? (size_t)n : room - 1;
}

size_t app__path_key(app__loader_t *ld, const char *key)
{
    size_t mark = ld->path_len;
    if (ld->path_len > 0)
        path_append(ld, ".");
    path_append(ld, key);
    return mark;
}

size_t app__path_index(app__loader_t *ld, size_t i)
{
    size_t mark = ld->path_len;
    char text[32];
    snprintf(text, sizeof(text), "[%zu]", i);
    path_append(ld, text);
    return mark;
}

void app__path_restore(app__loader_t *ld, size_t mark)
{
    ld->path_len = mark;
    ld->path[mark] = '\0';
}

/* Copies the path, marking a cut one with a trailing "..." so it is not mistaken for a whole. */
static void copy_path(char *dst, size_t size, const char *src, size_t len)
{
    if (len < size) {
        memcpy(dst, src, len + 1);
        return;
    }
    memcpy(dst, src, size - 4);
    memcpy(dst + size - 4, "...", 4);
}

static void error_add(app__loader_t *ld, const char *fmt, va_list ap)
{
    ld->nerrors++;
    app_errors_t *errors = ld->errors;
    if (errors == NULL || errors->count >= APP__MAX_ERRORS)
        return;

    if (errors->count == errors->cap) {
        size_t cap = errors->cap == 0 ? 16 : errors->cap * 2;
        app_error_t *items = realloc(errors->items, cap * sizeof(*items));
        if (items == NULL) {
            ld->fatal = ERR_NOMEM;
            return;
        }
        errors->items = items;
        errors->cap = cap;
    }

    app_error_t *e = &errors->items[errors->count++];
    copy_path(e->path, sizeof(e->path), ld->path, ld->path_len);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

void app__error(app__loader_t *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_add(ld, fmt, ap);
    va_end(ap);
}

void app__error_at(app__loader_t *ld, const char *key, const char *fmt, ...)
{
    size_t mark = app__path_key(ld, key);
    va_list ap;
    va_start(ap, fmt);
    error_add(ld, fmt, ap);
    va_end(ap);
    app__path_restore(ld, mark);
}

void *app__calloc(app__loader_t *ld, size_t count, size_t size)
{
    /* Zero-length arrays still get a valid pointer, so callers need no special case. */
    void *p = arena_calloc(ld->arena, count == 0 ? 1 : count, size == 0 ? 1 : size);
    if (p == NULL)
        ld->fatal = ERR_NOMEM;
    return p;
}

char *app__strdup(app__loader_t *ld, const char *s)
{
    char *p = arena_strdup(ld->arena, s);
    if (p == NULL)
        ld->fatal = ERR_NOMEM;
    return p;
}

bool app__within_limit(app__loader_t *ld, size_t count, size_t max, const char *what)
{
    if (count <= max)
        return true;
    app__error(ld, "too many %s: %zu, the limit is %zu", what, count, max);
    return false;
}

void app__check_keys(app__loader_t *ld, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known)
            app__error_at(ld, key, "unknown key \"%s\"", key);
    }
}

bool app__read_bool(app__loader_t *ld, const json_t *obj, const char *key, bool def)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return def;
    if (!json_is_boolean(v)) {
        app__error_at(ld, key, "expected true or false");
        return def;
    }
    return json_is_true(v);
}

const char *app__read_string(app__loader_t *ld, const json_t *obj, const char *key, bool required)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            app__error_at(ld, key, "missing required key \"%s\"", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        app__error_at(ld, key, "expected a string");
        return NULL;
    }
    if (json_string_length(v) == 0) {
        app__error_at(ld, key, "must not be empty");
        return NULL;
    }
    return json_string_value(v);
}

bool app__expect_object(app__loader_t *ld, const json_t *v)
{
    if (json_is_object(v))
        return true;
    app__error(ld, "expected an object");
    return false;
}

static bool want_met(app__want_t want, app_vtype_t t)
{
    switch (want) {
    case APP__WANT_ANY:
        return true;
    case APP__WANT_BOOL:
        return t.kind == FK_BOOL && !t.is_list;
    case APP__WANT_TEXT:
        return t.kind == FK_TEXT && !t.is_list;
    case APP__WANT_THING:
        return t.kind == FK_THING && !t.is_list;
    }
    return false;
}

static const char *want_name(app__want_t want)
{
    switch (want) {
    case APP__WANT_BOOL:
        return "a yes/no";
    case APP__WANT_TEXT:
        return "a text";
    case APP__WANT_THING:
        return "a thing";
    case APP__WANT_ANY:
        break;
    }
    return "any";
}

struct expr *app__parse_expr(app__loader_t *ld, const char *text, const expr_scope_t *scope,
                             expr_error_t *err)
{
    expr_t *e = NULL;
    memset(err, 0, sizeof(*err));
    err_t rc = expr_parse(ld->arena, scope, text, &e, err);
    if (rc == ERR_NOMEM)
        ld->fatal = ERR_NOMEM;
    if (rc != ERR_OK)
        return NULL;
    return e;
}

void app__report_expr_error(app__loader_t *ld, const char *key, const expr_error_t *err)
{
    if (err->column > 0)
        app__error_at(ld, key, "column %d: %s", err->column, err->message);
    else
        app__error_at(ld, key, "%s", err->message[0] != '\0' ? err->message : "invalid expression");
}

bool app__check_want(app__loader_t *ld, const char *key, const expr_t *e, app__want_t want)
{
    if (want_met(want, e->type))
        return true;
    char got[128];
    app__describe_vtype(ld->app, e->type, got, sizeof(got));
    app__error_at(ld, key, "expected %s expression, got %s", want_name(want), got);
    return false;
}

struct expr *app__read_expr(app__loader_t *ld, const json_t *obj, const char *key,
                            const expr_scope_t *scope, app__want_t want, bool required)
{
    const char *text = app__read_string(ld, obj, key, required);
    if (text == NULL)
        return NULL;

    expr_error_t err;
    expr_t *e = app__parse_expr(ld, text, scope, &err);
    if (e == NULL) {
        if (ld->fatal == ERR_OK)
            app__report_expr_error(ld, key, &err);
        return NULL;
    }
    return app__check_want(ld, key, e, want) ? e : NULL;
}
