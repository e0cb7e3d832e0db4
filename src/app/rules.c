/* Privacy rules of each type: their conditions, and which fields each one shows or lets callers
 * constrain on.
 *
 * This file only reads and checks the rules. Deciding what a caller may find, view or change is
 * the privacy module's job.
 */
#include <string.h>
#include <strings.h>

#include "app/app_internal.h"

static bool is_everyone_else(const char *name)
{
    return name != NULL && strcasecmp(name, "everyone else") == 0;
}

/* Marks the field named by the string at the current path in flags. A name declared in app.json
 * whose own definition was invalid is skipped without a second error. */
static void mark_field(app__loader_t *ld, const app_type_t *type, const json_t *declared,
                       const json_t *name, bool *flags)
{
    const char *text = json_string_value(name);
    if (text == NULL) {
        app__error(ld, "expected a field name");
        return;
    }
    const app_field_t *f = app_find_field(type, text, json_string_length(name));
    if (f != NULL)
        flags[f->index] = true;
    else if (json_object_get(declared, text) == NULL)
        app__error(ld, "unknown field \"%s\" on type \"%s\"", text, type->name);
}

static void mark_fields(app__loader_t *ld, const app_type_t *type, const json_t *declared,
                        const json_t *names, bool *flags)
{
    size_t i;
    const json_t *name;
    json_array_foreach(names, i, name)
    {
        size_t mark = app__path_index(ld, i);
        mark_field(ld, type, declared, name, flags);
        app__path_restore(ld, mark);
    }
}

static void read_view(app__loader_t *ld, const app_type_t *type, const json_t *declared,
                      const json_t *def, app_rule_t *rule)
{
    const json_t *view = json_object_get(def, "view");
    if (view == NULL)
        return;

    size_t mark = app__path_key(ld, "view");
    const char *text = json_string_value(view);
    if (text != NULL && strcmp(text, "all") == 0) {
        rule->view_all = true;
        for (size_t i = 0; i < type->nfields; i++)
            rule->view_fields[i] = true;
    } else if (json_is_array(view)) {
        mark_fields(ld, type, declared, view, rule->view_fields);
    } else {
        app__error(ld, "expected \"all\" or an array of field names");
    }
    app__path_restore(ld, mark);
}

static void read_constrain(app__loader_t *ld, const app_type_t *type, const json_t *declared,
                           const json_t *def, app_rule_t *rule)
{
    const json_t *constrain = json_object_get(def, "constrain");
    if (constrain == NULL)
        return;

    size_t mark = app__path_key(ld, "constrain");
    if (json_is_array(constrain))
        mark_fields(ld, type, declared, constrain, rule->constrain_fields);
    else
        app__error(ld, "expected an array of field names");
    app__path_restore(ld, mark);
}

static err_t load_nothing(void *ud, const app_type_t *type, const char *id, size_t id_len,
                          const app_field_t *field, value_t *out)
{
    *out = value_null();
    return ERR_OK;
}

/* A rule's condition must compile into a search condition, or every search of the type would
 * fail at run time. It is compiled once for a logged-in and once for a logged-out caller, since
 * constant folding takes different paths for the two. */
static void check_searchable(app__loader_t *ld, int type_index, const expr_t *when)
{
    expr_error_t why;
    if (!expr_check_searchable(when, &why)) {
        app__report_expr_error(ld, "when", &why);
        return;
    }
    arena_t *scratch = arena_new(4096, 1 << 20);
    if (scratch == NULL) {
        ld->fatal = ERR_NOMEM;
        return;
    }
    static const char *const callers[] = {"1700000000000x1", NULL};
    for (size_t i = 0; i < 2; i++) {
        expr_env_t env = {.app = ld->app, .user_id = callers[i], .arena = scratch,
                          .this_type = &ld->app->types[type_index], .load_field = load_nothing};
        store_cond_t *cond = NULL;
        err_t err = expr_to_cond(when, &env, &cond);
        if (err == ERR_INVALID) {
            app__error_at(ld, "when",
                          "this condition cannot be evaluated in a search: compare a field of "
                          "This with a value that does not depend on This");
            break;
        }
        if (err == ERR_NOMEM)
            ld->fatal = ERR_NOMEM;
    }
    arena_free(scratch);
}

static void read_when(app__loader_t *ld, int type_index, const json_t *def, app_rule_t *rule)
{
    if (rule->everyone_else) {
        if (json_object_get(def, "when") != NULL)
            app__error_at(ld, "when",
                          "the \"everyone else\" rule applies when no other rule "
                          "does, so it takes no condition");
        return;
    }
    const expr_scope_t scope = {.app = ld->app, .this_type = type_index};
    rule->when = app__read_expr(ld, def, "when", &scope, APP__WANT_BOOL, true);
    if (rule->when == NULL)
        return;
    check_searchable(ld, type_index, rule->when);
    rule->when_text = app__strdup(ld, json_string_value(json_object_get(def, "when")));
}

static void load_rule(app__loader_t *ld, int type_index, const json_t *declared, const json_t *def,
                      app_rule_t *rule)
{
    static const char *const keys[] = {
        "name",      "when",           "find",           "view",           "view_files",
        "constrain", "create_via_api", "modify_via_api", "delete_via_api", NULL,
    };
    const app_type_t *type = &ld->app->types[type_index];

    app__check_keys(ld, def, keys);
    rule->name = app__read_string(ld, def, "name", true);
    rule->everyone_else = is_everyone_else(rule->name);
    if (rule->name != NULL && (rule->name = app__strdup(ld, rule->name)) == NULL)
        return;

    read_when(ld, type_index, def, rule);
    rule->find = app__read_bool(ld, def, "find", false);
    rule->view_files = app__read_bool(ld, def, "view_files", false);
    rule->create_via_api = app__read_bool(ld, def, "create_via_api", false);
    rule->modify_via_api = app__read_bool(ld, def, "modify_via_api", false);
    rule->delete_via_api = app__read_bool(ld, def, "delete_via_api", false);

    rule->view_fields = app__calloc(ld, type->nfields, sizeof(bool));
    rule->constrain_fields = app__calloc(ld, type->nfields, sizeof(bool));
    if (rule->view_fields == NULL || rule->constrain_fields == NULL)
        return;
    read_view(ld, type, declared, def, rule);
    read_constrain(ld, type, declared, def, rule);
}

static void load_type_rules(app__loader_t *ld, int type_index, const json_t *def)
{
    app_type_t *type = &ld->app->types[type_index];
    const json_t *rules = json_object_get(def, "privacy");
    const json_t *declared = json_object_get(def, "fields");

    /* A type defined without a "privacy" key is public, as a new Bubble type is. A User type
     * added because app.json has none is not, because it contains the credentials. */
    type->public_by_default = json_is_object(def) && rules == NULL;
    if (rules == NULL)
        return;
    if (!json_is_array(rules)) {
        app__error(ld, "expected an array of rules");
        return;
    }

    if (!app__within_limit(ld, json_array_size(rules), APP__MAX_RULES, "rules"))
        return;
    type->rules = app__calloc(ld, json_array_size(rules), sizeof(*type->rules));
    if (type->rules == NULL)
        return;
    const app_rule_t *everyone_else = NULL;
    size_t i;
    const json_t *rule_def;
    json_array_foreach(rules, i, rule_def)
    {
        size_t mark = app__path_index(ld, i);
        if (app__expect_object(ld, rule_def)) {
            app_rule_t *rule = &type->rules[type->nrules++];
            load_rule(ld, type_index, declared, rule_def, rule);
            if (rule->everyone_else && everyone_else != NULL)
                app__error_at(ld, "name", "a type has at most one \"everyone else\" rule");
            else if (rule->everyone_else)
                everyone_else = rule;
        }
        app__path_restore(ld, mark);
        if (ld->fatal != ERR_OK)
            return;
    }
}

void app__load_rules(app__loader_t *ld, const json_t *types)
{
    app_t *app = ld->app;
    for (size_t i = 0; i < app->ntypes && ld->fatal == ERR_OK; i++) {
        const app_type_t *type = &app->types[i];
        size_t mark = app__path_key(ld, "types");
        app__path_key(ld, type->name);
        app__path_key(ld, "privacy");
        load_type_rules(ld, (int)i, json_object_get(types, type->name));
        app__path_restore(ld, mark);
    }
}

static void collect_this_fields(const expr_t *e, const app_field_t **out, size_t max, size_t *n)
{
    if (e == NULL)
        return;
    if (e->kind == EXPR_FIELD && e->left != NULL && e->left->kind == EXPR_THIS && e->field != NULL) {
        bool seen = false;
        for (size_t i = 0; i < *n; i++)
            seen = seen || out[i] == e->field;
        if (!seen && *n < max)
            out[(*n)++] = e->field;
    }
    collect_this_fields(e->left, out, max, n);
    collect_this_fields(e->right, out, max, n);
}

size_t app_rule_fields(const app_rule_t *rule, const app_field_t **out, size_t max)
{
    size_t n = 0;
    collect_this_fields(rule->when, out, max, &n);
    return n;
}
