/* API workflows: their names, access settings, parameters and "only when" conditions. The actions
 * of each workflow are read in actions.c.
 */
#include <string.h>

#include "app/app_internal.h"

/* Workflow names are URL path segments (/api/1.1/wf/<name>), so they keep to characters that
 * need no escaping. */
static bool valid_workflow_name(const char *name)
{
    if (name[0] == '\0')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static app_wf_auth_t read_auth(app__loader_t *ld, const json_t *def)
{
    const json_t *v = json_object_get(def, "auth");
    if (v == NULL)
        return WF_AUTH_USER_OR_ADMIN;
    const char *text = json_string_value(v);
    if (text != NULL && strcmp(text, "none") == 0)
        return WF_AUTH_NONE;
    if (text != NULL && strcmp(text, "user_or_admin") == 0)
        return WF_AUTH_USER_OR_ADMIN;
    if (text != NULL && strcmp(text, "admin") == 0)
        return WF_AUTH_ADMIN;
    app__error_at(ld, "auth", "expected \"none\", \"user_or_admin\" or \"admin\"");
    return WF_AUTH_USER_OR_ADMIN;
}

static bool read_method_get(app__loader_t *ld, const json_t *def)
{
    const json_t *v = json_object_get(def, "method");
    if (v == NULL)
        return false;
    const char *text = json_string_value(v);
    if (text != NULL && strcmp(text, "GET") == 0)
        return true;
    if (text == NULL || strcmp(text, "POST") != 0)
        app__error_at(ld, "method", "expected \"POST\" or \"GET\"");
    return false;
}

/* Reads one parameter definition at the current path: a type string, or an object with "type",
 * "optional" and "querystring". */
static bool load_param(app__loader_t *ld, const char *name, const json_t *def, app_param_t *param)
{
    static const char *const keys[] = {"type", "optional", "querystring", NULL};

    if (name[0] == '\0') {
        app__error(ld, "parameter name must not be empty");
        return false;
    }
    param->name = app__strdup(ld, name);
    if (param->name == NULL)
        return false;

    if (json_is_string(def))
        return app__parse_vtype(ld, json_string_value(def), &param->type);
    if (!json_is_object(def)) {
        app__error(ld, "expected a type name or an object with \"type\"");
        return false;
    }

    app__check_keys(ld, def, keys);
    param->optional = app__read_bool(ld, def, "optional", false);
    param->querystring = app__read_bool(ld, def, "querystring", false);
    const char *type = app__read_string(ld, def, "type", true);
    if (type == NULL)
        return false;
    size_t mark = app__path_key(ld, "type");
    bool ok = app__parse_vtype(ld, type, &param->type);
    app__path_restore(ld, mark);
    return ok;
}

static void load_params(app__loader_t *ld, app_workflow_t *wf, const json_t *params)
{
    if (params == NULL)
        return;
    size_t mark = app__path_key(ld, "parameters");
    if (app__expect_object(ld, params)) {
        wf->params = app__calloc(ld, json_object_size(params), sizeof(*wf->params));
        const char *name;
        json_t *def;
        json_object_foreach((json_t *)params, name, def)
        {
            if (wf->params == NULL)
                break;
            size_t inner = app__path_key(ld, name);
            if (load_param(ld, name, def, &wf->params[wf->nparams]))
                wf->nparams++;
            app__path_restore(ld, inner);
        }
    }
    app__path_restore(ld, mark);
}

/* Reads a workflow's name, settings and parameters. */
static void load_workflow_head(app__loader_t *ld, const char *name, const json_t *def,
                               app_workflow_t *wf)
{
    static const char *const keys[] = {
        "auth",
        "method",
        "expose",
        "ignore_privacy_rules",
        "return_200_if_condition_not_met",
        "only_when",
        "parameters",
        "actions",
        NULL,
    };

    if (!valid_workflow_name(name))
        app__error(ld, "workflow name \"%s\" may only contain letters, digits, \"_\" and \"-\"",
                   name);
    wf->name = app__strdup(ld, name);
    if (wf->name == NULL || !app__expect_object(ld, def))
        return;

    app__check_keys(ld, def, keys);
    wf->auth = read_auth(ld, def);
    wf->method_get = read_method_get(ld, def);
    wf->expose = app__read_bool(ld, def, "expose", true);
    wf->ignore_privacy = app__read_bool(ld, def, "ignore_privacy_rules", false);
    wf->return_200_if_not_met = app__read_bool(ld, def, "return_200_if_condition_not_met", false);
    load_params(ld, wf, json_object_get(def, "parameters"));
}

/* Reads the condition and the actions. Runs after every workflow's head is read, so an action may
 * schedule a workflow defined further down. */
static void load_workflow_body(app__loader_t *ld, const json_t *def, app_workflow_t *wf)
{
    if (wf->name == NULL || !json_is_object(def))
        return;
    const expr_scope_t scope = {
        .app = ld->app, .this_type = -1, .params = wf->params, .nparams = wf->nparams};
    wf->only_when = app__read_expr(ld, def, "only_when", &scope, APP__WANT_BOOL, false);

    const json_t *actions = json_object_get(def, "actions");
    if (actions == NULL) {
        app__error_at(ld, "actions", "missing required key \"actions\"");
        return;
    }
    size_t mark = app__path_key(ld, "actions");
    app__load_actions(ld, wf, actions);
    app__path_restore(ld, mark);
}

void app__load_workflows(app__loader_t *ld, const json_t *workflows)
{
    app_t *app = ld->app;
    if (workflows == NULL)
        return;
    size_t mark = app__path_key(ld, "api_workflows");
    if (app__expect_object(ld, workflows)) {
        app->workflows = app__calloc(ld, json_object_size(workflows), sizeof(*app->workflows));
        const char *name;
        json_t *def;
        json_object_foreach((json_t *)workflows, name, def)
        {
            if (app->workflows == NULL || ld->fatal != ERR_OK)
                break;
            size_t inner = app__path_key(ld, name);
            load_workflow_head(ld, name, def, &app->workflows[app->nworkflows++]);
            app__path_restore(ld, inner);
        }
        size_t i = 0;
        json_object_foreach((json_t *)workflows, name, def)
        {
            if (app->workflows == NULL || ld->fatal != ERR_OK || i >= app->nworkflows)
                break;
            size_t inner = app__path_key(ld, name);
            load_workflow_body(ld, def, &app->workflows[i++]);
            app__path_restore(ld, inner);
        }
    }
    app__path_restore(ld, mark);
}
