/* Option sets, data types and their fields: the schema part of app.json.
 *
 * Types are created in two passes because a field may reference any type, including one declared
 * later: first every name, then every field. Privacy rules, which need the finished fields, are
 * read afterwards in rules.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/app_internal.h"

static const struct {
    const char *word;
    app_kind_t kind;
} scalar_types[] = {
    {"text", FK_TEXT}, {"number", FK_NUMBER},         {"yes/no", FK_BOOL},
    {"date", FK_DATE}, {"date range", FK_DATE_RANGE}, {"geographic address", FK_GEO},
    {"file", FK_FILE}, {"image", FK_IMAGE},
};

#define LIST_PREFIX "list of "
#define OPTION_PREFIX "option "

/* The built-in fields, in BUILTIN_* order; the last one belongs to User only. */
static const struct {
    const char *name;
    const char *id;
    const char *column;
    app_kind_t kind;
    app_builtin_t builtin;
} builtins[] = {
    {"_id", "_id", "_id", FK_TEXT, BUILTIN_ID},
    {"Created Date", "created_date", "_created", FK_DATE, BUILTIN_CREATED_DATE},
    {"Modified Date", "modified_date", "_modified", FK_DATE, BUILTIN_MODIFIED_DATE},
    {"Created By", "created_by", "_created_by", FK_THING, BUILTIN_CREATED_BY},
    {"Slug", "slug", "_slug", FK_TEXT, BUILTIN_SLUG},
    {"email", "email", "_email", FK_TEXT, BUILTIN_EMAIL},
};
#define NBUILTINS_COMMON 5
#define NBUILTINS_USER 6

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- option sets ---- */

static void load_option_values(app__loader_t *ld, app_option_set_t *set, const json_t *values)
{
    if (!json_is_array(values)) {
        app__error(ld, "expected an array of option texts");
        return;
    }
    if (!app__within_limit(ld, json_array_size(values), APP__MAX_OPTIONS, "options"))
        return;
    set->values = app__calloc(ld, json_array_size(values), sizeof(*set->values));
    if (set->values == NULL)
        return;

    size_t i;
    const json_t *v;
    json_array_foreach(values, i, v)
    {
        size_t mark = app__path_index(ld, i);
        const char *text = json_string_value(v);
        if (text == NULL || text[0] == '\0') {
            app__error(ld, "expected a non-empty string");
        } else {
            bool seen = false;
            for (size_t j = 0; j < set->nvalues && !seen; j++)
                seen = strcmp(set->values[j], text) == 0;
            if (seen)
                app__error(ld, "duplicate option \"%s\"", text);
            else if ((set->values[set->nvalues] = app__strdup(ld, text)) != NULL)
                set->nvalues++;
        }
        app__path_restore(ld, mark);
    }
}

static void load_option_set(app__loader_t *ld, const char *name, const json_t *values)
{
    app_t *app = ld->app;
    if (name[0] == '\0') {
        app__error(ld, "option set name must not be empty");
        return;
    }

    /* Option set ids are squashed names, so "Priority" and "priority" would share one. */
    for (size_t i = 0; i < app->noption_sets; i++) {
        if (app__equal_squashed(name, strlen(name), app->option_sets[i].name))
            app__error(ld, "option set \"%s\" has the same id as option set \"%s\"", name,
                       app->option_sets[i].name);
    }

    app_option_set_t *set = &app->option_sets[app->noption_sets];
    set->name = app__strdup(ld, name);
    if (set->name == NULL)
        return;
    app->noption_sets++;
    load_option_values(ld, set, values);
}

void app__load_option_sets(app__loader_t *ld, const json_t *sets)
{
    if (sets == NULL)
        return;
    size_t mark = app__path_key(ld, "option_sets");
    if (app__expect_object(ld, sets) &&
        app__within_limit(ld, json_object_size(sets), APP__MAX_OPTION_SETS, "option sets")) {
        ld->app->option_sets = app__calloc(ld, json_object_size(sets), sizeof(app_option_set_t));
        const char *name;
        json_t *values;
        json_object_foreach((json_t *)sets, name, values)
        {
            if (ld->app->option_sets == NULL)
                break;
            size_t inner = app__path_key(ld, name);
            load_option_set(ld, name, values);
            app__path_restore(ld, inner);
        }
    }
    app__path_restore(ld, mark);
}

/* ---- type names ---- */

/* A type may not be named like a field type, or "list of X" would be ambiguous. */
static bool reserved_type_name(const char *name)
{
    for (size_t i = 0; i < sizeof(scalar_types) / sizeof(scalar_types[0]); i++) {
        if (strcmp(name, scalar_types[i].word) == 0)
            return true;
    }
    return has_prefix(name, LIST_PREFIX) || has_prefix(name, OPTION_PREFIX);
}

/* Gives the type a table name no earlier type uses. */
static void assign_table(app__loader_t *ld, app_type_t *type, size_t index)
{
    const app_t *app = ld->app;
    char *table = app__sql_ident(ld, "t_", type->url_name);
    for (int attempt = 0; table != NULL; attempt++) {
        bool taken = false;
        for (size_t i = 0; i < index && !taken; i++)
            taken = app->types[i].table != NULL && strcmp(app->types[i].table, table) == 0;
        if (!taken)
            break;
        if (attempt > 0) {
            app__error(ld, "table name \"%s\" of type \"%s\" collides with another type's", table,
                       type->name);
            break;
        }
        table = app__sql_ident_hashed(ld, table, type->name);
    }
    type->table = table;
}

static app_type_t *add_type(app__loader_t *ld, const char *name)
{
    app_t *app = ld->app;
    app_type_t *type = &app->types[app->ntypes];
    type->name = app__strdup(ld, name);
    type->url_name = app__squash(ld, name);
    if (type->name == NULL || type->url_name == NULL)
        return NULL;
    type->is_user = strcmp(name, "User") == 0;

    if (type->url_name[0] == '\0') {
        app__error(ld, "type name must contain a character other than a space");
        return NULL;
    }
    for (size_t i = 0; i < app->ntypes; i++) {
        if (strcmp(app->types[i].url_name, type->url_name) == 0) {
            app__error(ld, "type \"%s\" has the same URL name \"%s\" as type \"%s\"", name,
                       type->url_name, app->types[i].name);
            return NULL;
        }
    }

    assign_table(ld, type, app->ntypes);
    if (type->table == NULL)
        return NULL;
    if (type->is_user)
        app->user_type = (int)app->ntypes;
    app->ntypes++;
    return type;
}

static void load_type_name(app__loader_t *ld, const char *name, const json_t *def)
{
    static const char *const keys[] = {"fields", "expose", "privacy", NULL};

    if (name[0] == '\0') {
        app__error(ld, "type name must not be empty");
        return;
    }
    if (reserved_type_name(name)) {
        app__error(ld, "type name \"%s\" is reserved for a field type", name);
        return;
    }
    const char *url_name = app__squash(ld, name);
    if (url_name != NULL && strcmp(url_name, "user") == 0 && strcmp(name, "User") != 0) {
        app__error(ld, "type \"%s\" has the URL name \"user\" of the built-in User type", name);
        return;
    }
    if (!app__expect_object(ld, def))
        return;
    app__check_keys(ld, def, keys);

    app_type_t *type = add_type(ld, name);
    if (type != NULL)
        type->expose = app__read_bool(ld, def, "expose", false);
}

void app__load_type_names(app__loader_t *ld, const json_t *types)
{
    app_t *app = ld->app;
    app->user_type = -1;

    size_t mark = app__path_key(ld, "types");
    bool usable = types != NULL && app__expect_object(ld, types) &&
                  app__within_limit(ld, json_object_size(types), APP__MAX_TYPES, "types");
    size_t ndeclared = usable ? json_object_size(types) : 0;
    app->types = app__calloc(ld, ndeclared + 1, sizeof(*app->types));
    if (app->types == NULL)
        goto out;

    if (usable) {
        const char *name;
        json_t *def;
        json_object_foreach((json_t *)types, name, def)
        {
            size_t inner = app__path_key(ld, name);
            load_type_name(ld, name, def);
            app__path_restore(ld, inner);
        }
    }

    /* Every app has a User type. One added here has no fields of its own, is not exposed and
     * has no privacy rules, so nothing about its users is visible to non-admins. It also replaces
     * a declared User that was invalid, so later passes can rely on user_type. */
    if (app->user_type < 0)
        add_type(ld, "User");
out:
    app__path_restore(ld, mark);
}

/* ---- field types ---- */

static bool parse_scalar(app__loader_t *ld, const char *s, app_vtype_t *out)
{
    for (size_t i = 0; i < sizeof(scalar_types) / sizeof(scalar_types[0]); i++) {
        if (strcmp(s, scalar_types[i].word) == 0) {
            out->kind = scalar_types[i].kind;
            return true;
        }
    }

    const app_t *app = ld->app;
    if (has_prefix(s, OPTION_PREFIX)) {
        const char *set = s + strlen(OPTION_PREFIX);
        for (size_t i = 0; i < app->noption_sets; i++) {
            if (strcmp(app->option_sets[i].name, set) == 0) {
                out->kind = FK_OPTION;
                out->option_set = (int)i;
                return true;
            }
        }
        app__error(ld, "unknown option set \"%s\"", set);
        return false;
    }

    const app_type_t *type = app_find_type(app, s, strlen(s));
    if (type == NULL) {
        app__error(ld, "unknown type \"%s\"", s);
        return false;
    }
    out->kind = FK_THING;
    out->ref_type = app_type_index(app, type);
    return true;
}

bool app__parse_vtype(app__loader_t *ld, const char *s, app_vtype_t *out)
{
    *out = (app_vtype_t){.kind = FK_TEXT, .ref_type = -1, .option_set = -1};
    if (has_prefix(s, LIST_PREFIX)) {
        s += strlen(LIST_PREFIX);
        out->is_list = true;
        if (has_prefix(s, LIST_PREFIX)) {
            app__error(ld, "lists of lists are not supported");
            return false;
        }
    }
    if (s[0] == '\0') {
        app__error(ld, "missing type: expected a type such as \"text\" or \"list of text\"");
        return false;
    }
    return parse_scalar(ld, s, out);
}

/* ---- fields ---- */

static void add_builtins(app__loader_t *ld, app_type_t *type)
{
    size_t n = type->is_user ? NBUILTINS_USER : NBUILTINS_COMMON;
    for (size_t i = 0; i < n; i++) {
        app_field_t *f = &type->fields[type->nfields];
        f->name = builtins[i].name;
        f->id = builtins[i].id;
        f->column = builtins[i].column;
        f->squashed = app__squash(ld, builtins[i].name);
        f->builtin = builtins[i].builtin;
        f->type = (app_vtype_t){.kind = builtins[i].kind, .ref_type = -1, .option_set = -1};
        if (builtins[i].kind == FK_THING)
            f->type.ref_type = ld->app->user_type;
        f->index = (int)type->nfields++;
    }
}

/* Built-in names, "Creator" (how expressions name Created By) and User's credentials may not be
 * declared again: a second field of that name would make rules and constraints ambiguous. */
static bool reserved_field_name(const app_type_t *type, const char *name)
{
    size_t n = type->is_user ? NBUILTINS_USER : NBUILTINS_COMMON;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(name, builtins[i].name) == 0)
            return true;
    }
    if (strcasecmp(name, "Creator") == 0)
        return true;
    return type->is_user && strcasecmp(name, "password") == 0;
}

static char *field_id(app__loader_t *ld, const char *name, app_vtype_t t)
{
    char suffix[512];
    app__vtype_suffix(ld->app, t, '_', suffix, sizeof(suffix));
    char *id = arena_printf(ld->arena, "%s_%s", name, suffix);
    if (id == NULL) {
        ld->fatal = ERR_NOMEM;
        return NULL;
    }
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        if (id[i] == ' ')
            id[i] = '_';
        else if (id[i] >= 'A' && id[i] <= 'Z')
            id[i] = (char)(id[i] - 'A' + 'a');
    }
    return id;
}

/* Gives the field a column name no earlier field of its type uses. */
static char *field_column(app__loader_t *ld, const app_type_t *type, const char *name)
{
    char *column = app__sql_ident(ld, "f_", name);
    for (int attempt = 0; column != NULL; attempt++) {
        bool taken = false;
        for (size_t i = 0; i < type->nfields && !taken; i++)
            taken = strcmp(type->fields[i].column, column) == 0;
        if (!taken)
            return column;
        if (attempt > 0) {
            app__error(ld, "column name \"%s\" collides with another field's", column);
            return NULL;
        }
        column = app__sql_ident_hashed(ld, column, name);
    }
    return NULL;
}

static void add_field(app__loader_t *ld, app_type_t *type, const char *name, const json_t *def)
{
    if (name[0] == '\0') {
        app__error(ld, "field name must not be empty");
        return;
    }
    if (reserved_field_name(type, name)) {
        app__error(ld, "\"%s\" is the name of a built-in field", name);
        return;
    }
    const char *text = json_string_value(def);
    if (text == NULL) {
        app__error(ld, "expected a type name such as \"text\"");
        return;
    }

    app_field_t f = {.name = app__strdup(ld, name), .builtin = BUILTIN_NONE};
    if (f.name == NULL || !app__parse_vtype(ld, text, &f.type))
        return;
    f.id = field_id(ld, name, f.type);
    f.squashed = app__squash(ld, name);
    if (f.id == NULL || f.squashed == NULL)
        return;
    for (size_t i = 0; i < type->nfields; i++) {
        if (strcmp(type->fields[i].id, f.id) == 0) {
            app__error(ld, "field \"%s\" has the same id \"%s\" as field \"%s\"", name, f.id,
                       type->fields[i].name);
            return;
        }
    }
    f.column = field_column(ld, type, name);
    if (f.column == NULL)
        return;

    f.index = (int)type->nfields;
    type->fields[type->nfields++] = f;
}

static void load_type_fields(app__loader_t *ld, app_type_t *type, const json_t *fields)
{
    bool usable = fields != NULL && app__expect_object(ld, fields) &&
                  app__within_limit(ld, json_object_size(fields), APP__MAX_FIELDS, "fields");
    size_t ndeclared = usable ? json_object_size(fields) : 0;
    type->fields = app__calloc(ld, NBUILTINS_USER + ndeclared, sizeof(*type->fields));
    if (type->fields == NULL)
        return;
    add_builtins(ld, type);
    if (!usable)
        return;

    const char *name;
    json_t *def;
    json_object_foreach((json_t *)fields, name, def)
    {
        size_t mark = app__path_key(ld, name);
        add_field(ld, type, name, def);
        app__path_restore(ld, mark);
    }
}

void app__load_fields(app__loader_t *ld, const json_t *types)
{
    app_t *app = ld->app;
    for (size_t i = 0; i < app->ntypes && ld->fatal == ERR_OK; i++) {
        app_type_t *type = &app->types[i];
        const json_t *def = json_object_get(types, type->name);
        size_t mark = app__path_key(ld, "types");
        app__path_key(ld, type->name);
        app__path_key(ld, "fields");
        load_type_fields(ld, type, json_object_get(def, "fields"));
        app__path_restore(ld, mark);
    }
}
