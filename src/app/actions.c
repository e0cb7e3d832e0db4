/* The actions of an API workflow: which kind each is, its inputs as typed expressions, and what
 * "Result of step N" yields afterwards.
 *
 * Expressions in action N may use the workflow's parameters and the results of steps 1 to N-1.
 * The expression parser needs a result type for every earlier step, so a step without a result
 * (log_out, delete_thing, delete_list, return_data) gets a yes/no placeholder. A reference to such a step is
 * then reported here, by walking the parsed expression or, when parsing failed, by its text.
 */
#include <string.h>

#include "app/app_internal.h"

typedef struct {
    const char *name;
    app_action_kind_t kind;
    const char *const keys[6]; /* keys besides "action" and "only_when", NULL-terminated */
} action_spec_t;

static const action_spec_t specs[] = {
    {"sign_up", ACT_SIGN_UP, {"email", "password", "stay_logged_in", "set", NULL}},
    {"log_in", ACT_LOG_IN, {"email", "password", "stay_logged_in", "two_factor_code", NULL}},
    {"log_out", ACT_LOG_OUT, {NULL}},
    {"create_thing", ACT_CREATE_THING, {"type", "set", NULL}},
    {"make_changes", ACT_MAKE_CHANGES, {"thing", "set", NULL}},
    {"delete_thing", ACT_DELETE_THING, {"thing", NULL}},
    {"delete_list", ACT_DELETE_LIST, {"list", NULL}},
    {"return_data", ACT_RETURN_DATA, {"data", "content_type", "text", NULL}},
    {"schedule_workflow", ACT_SCHEDULE_WORKFLOW, {"workflow", "at", "parameters", NULL}},
    {"cancel_scheduled", ACT_CANCEL_SCHEDULED, {"id", NULL}},
    {"log_out_other_sessions", ACT_LOG_OUT_OTHER_SESSIONS, {NULL}},
    {"change_password", ACT_CHANGE_PASSWORD, {"password", "current_password", NULL}},
    {"send_password_reset", ACT_SEND_PASSWORD_RESET, {"email", "link", NULL}},
    {"reset_password", ACT_RESET_PASSWORD, {"token", "password", NULL}},
    {"enable_2fa_start", ACT_ENABLE_2FA_START, {"password", NULL}},
    {"enable_2fa_confirm", ACT_ENABLE_2FA_CONFIRM, {"code", NULL}},
    {"disable_2fa", ACT_DISABLE_2FA, {"password", "code", NULL}},
    {"regenerate_recovery_codes", ACT_REGENERATE_RECOVERY_CODES, {"code", NULL}},
    {"check_2fa", ACT_CHECK_2FA, {"code", NULL}},
};

/* State shared by the actions of one workflow while they are read. */
typedef struct {
    app__loader_t *ld;
    app_workflow_t *wf;
    app_vtype_t *steps; /* result type of each action read so far, a placeholder if none */
    bool *broken;       /* actions whose kind or target was invalid and already reported */
    expr_scope_t scope;
} actions_ctx_t;

static const action_spec_t *find_spec(const char *name)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (strcmp(specs[i].name, name) == 0)
            return &specs[i];
    }
    return NULL;
}

static const char *action_name(app_action_kind_t kind)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (specs[i].kind == kind)
            return specs[i].name;
    }
    return "unknown";
}

static void check_action_keys(app__loader_t *ld, const json_t *def, const action_spec_t *spec)
{
    const char *allowed[8] = {"action", "only_when"};
    size_t n = 2;
    for (size_t i = 0; spec->keys[i] != NULL; i++)
        allowed[n++] = spec->keys[i];
    allowed[n] = NULL;
    app__check_keys(ld, def, allowed);
}

/* Returns the 1-based number of a step without a result that e refers to, or 0. */
static int resultless_step(const actions_ctx_t *ctx, const expr_t *e)
{
    if (e == NULL)
        return 0;
    if (e->kind == EXPR_STEP && e->index >= 0 && (size_t)e->index < ctx->wf->nactions) {
        const app_action_t *step = &ctx->wf->actions[e->index];
        if (!step->has_result && !ctx->broken[e->index])
            return e->index + 1;
    }
    int n = resultless_step(ctx, e->left);
    return n != 0 ? n : resultless_step(ctx, e->right);
}

/* Returns the number N of the first "Result of step N" in text whose step has no result, or 0.
 * Used only after a parse failure, because the placeholder type of such a step makes the
 * parser's own message ("'s needs a thing on its left") point away from the real mistake. */
static int resultless_step_in_text(const actions_ctx_t *ctx, const char *text)
{
    static const char phrase[] = "Result of step";
    for (const char *p = strstr(text, phrase); p != NULL; p = strstr(p + 1, phrase)) {
        const char *q = p + strlen(phrase);
        while (*q == ' ' || *q == '\t')
            q++;
        long n = 0;
        while (*q >= '0' && *q <= '9' && n < 100000)
            n = n * 10 + (*q++ - '0');
        if (n >= 1 && (size_t)n <= ctx->wf->nactions && !ctx->wf->actions[n - 1].has_result &&
            !ctx->broken[n - 1])
            return (int)n;
    }
    return 0;
}

static expr_t *read_expr(actions_ctx_t *ctx, const json_t *def, const char *key, app__want_t want,
                         bool required)
{
    app__loader_t *ld = ctx->ld;
    const char *text = app__read_string(ld, def, key, required);
    if (text == NULL)
        return NULL;

    expr_error_t err;
    expr_t *e = app__parse_expr(ld, text, &ctx->scope, &err);
    int step = e != NULL ? resultless_step(ctx, e) : resultless_step_in_text(ctx, text);
    if (ld->fatal != ERR_OK)
        return NULL;
    if (step != 0) {
        app__error_at(ld, key, "step %d (%s) has no result to refer to", step,
                      action_name(ctx->wf->actions[step - 1].kind));
        return NULL;
    }
    if (e == NULL) {
        app__report_expr_error(ld, key, &err);
        return NULL;
    }
    return app__check_want(ld, key, e, want) ? e : NULL;
}

/* Reports why e cannot be stored in field f, if it cannot. A text literal may set an option field
 * when it is one of the set's options, the way Bubble accepts an option's display text. */
static void check_assignable(app__loader_t *ld, const app_field_t *f, const expr_t *e)
{
    const app_vtype_t ft = f->type;
    const app_vtype_t et = e->type;

    if (ft.kind == FK_OPTION && !ft.is_list && e->kind == EXPR_LITERAL && et.kind == FK_TEXT &&
        !et.is_list) {
        const app_option_set_t *set = &ld->app->option_sets[ft.option_set];
        const value_t *v = &e->literal;
        for (size_t i = 0; v->kind == VAL_TEXT && i < set->nvalues; i++) {
            if (strlen(set->values[i]) == v->u.s.n &&
                memcmp(set->values[i], v->u.s.p, v->u.s.n) == 0)
                return;
        }
        app__error(ld, "\"%.*s\" is not an option of option set \"%s\"",
                   v->kind == VAL_TEXT ? (int)v->u.s.n : 0, v->kind == VAL_TEXT ? v->u.s.p : "",
                   set->name);
        return;
    }

    bool same = ft.kind == et.kind && ft.is_list == et.is_list;
    if (same && ft.kind == FK_THING)
        same = ft.ref_type == et.ref_type;
    if (same && ft.kind == FK_OPTION)
        same = ft.option_set == et.option_set;
    if (same)
        return;

    char want[128];
    char got[128];
    app__describe_vtype(ld->app, ft, want, sizeof(want));
    app__describe_vtype(ld->app, et, got, sizeof(got));
    app__error(ld, "field \"%s\" holds %s, but the expression yields %s", f->name, want, got);
}

static void read_binding(actions_ctx_t *ctx, const app_type_t *target, const json_t *set,
                         const char *key, app_binding_t *b)
{
    app__loader_t *ld = ctx->ld;
    const app_field_t *f = app_find_field(target, key, strlen(key));
    if (f == NULL) {
        app__error_at(ld, key, "unknown field \"%s\" on type \"%s\"", key, target->name);
        return;
    }
    if (f->builtin != BUILTIN_NONE) {
        app__error_at(ld, key, "built-in field \"%s\" cannot be set", key);
        return;
    }

    expr_t *e = read_expr(ctx, set, key, APP__WANT_ANY, true);
    if (e == NULL)
        return;
    size_t mark = app__path_key(ld, key);
    check_assignable(ld, f, e);
    app__path_restore(ld, mark);

    b->key = f->name;
    b->field = f->index;
    b->value = e;
}

/* Reads "set": field display names of target bound to expressions. */
static void read_set(actions_ctx_t *ctx, const json_t *def, const app_type_t *target,
                     app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    const json_t *set = json_object_get(def, "set");
    if (set == NULL)
        return;
    size_t mark = app__path_key(ld, "set");
    if (app__expect_object(ld, set) && target != NULL) {
        act->set = app__calloc(ld, json_object_size(set), sizeof(*act->set));
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)set, key, value)
        {
            if (act->set == NULL)
                break;
            app_binding_t *b = &act->set[act->nset];
            read_binding(ctx, target, set, key, b);
            if (b->value != NULL)
                act->nset++;
        }
    }
    app__path_restore(ld, mark);
}

static void read_json_data(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    const json_t *data = json_object_get(def, "data");
    if (data == NULL) {
        app__error_at(ld, "data", "missing required key \"data\"");
        return;
    }
    size_t mark = app__path_key(ld, "data");
    if (app__expect_object(ld, data)) {
        act->data = app__calloc(ld, json_object_size(data), sizeof(*act->data));
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)data, key, value)
        {
            if (act->data == NULL)
                break;
            if (key[0] == '\0') {
                app__error_at(ld, key, "key must not be empty");
                continue;
            }
            expr_t *e = read_expr(ctx, data, key, APP__WANT_ANY, true);
            const char *copy = app__strdup(ld, key);
            if (e != NULL && copy != NULL)
                act->data[act->ndata++] = (app_binding_t){.key = copy, .field = -1, .value = e};
        }
    }
    app__path_restore(ld, mark);
}

/* Is c allowed in a MIME type or subtype name (RFC 6838 restricted-name characters)? */
static bool is_mime_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$&-^_.+", c) != NULL);
}

/* Checks a Content-Type value: type/subtype, then optional parameters in printable ASCII. It
 * becomes a response header, so a control character would let an app inject headers. */
static bool mime_type_is_valid(const char *s)
{
    size_t n = 0;
    while (is_mime_name_char(s[n]))
        n++;
    if (n == 0 || s[n] != '/')
        return false;
    size_t m = n + 1;
    while (is_mime_name_char(s[m]))
        m++;
    if (m == n + 1 || strlen(s) > 200)
        return false;
    for (const char *p = s + m; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            return false;
    }
    return s[m] == '\0' || s[m] == ';' || s[m] == ' ';
}

/* Reads return_data: "data" for a JSON response (content_type "json", the default), or "text"
 * for a body sent as it is under the given content type ("text" means text/plain). */
static void read_data(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    const char *type = app__read_string(ld, def, "content_type", false);
    if (type == NULL || strcmp(type, "json") == 0) {
        if (json_object_get(def, "text") != NULL)
            app__error_at(ld, "text", "\"text\" needs a content_type other than \"json\"");
        read_json_data(ctx, def, act);
        return;
    }
    if (strcmp(type, "text") == 0) {
        act->content_type = "text/plain; charset=utf-8";
    } else if (mime_type_is_valid(type)) {
        act->content_type = app__strdup(ld, type);
    } else {
        app__error_at(ld, "content_type",
                      "invalid content type \"%s\": expected \"json\", \"text\" or a MIME type "
                      "such as \"text/csv\"", type);
    }
    if (json_object_get(def, "data") != NULL)
        app__error_at(ld, "data", "\"data\" is only for content_type \"json\": use \"text\"");
    act->text = read_expr(ctx, def, "text", APP__WANT_TEXT, true);
}

static const app_type_t *user_type(const app__loader_t *ld)
{
    return &ld->app->types[ld->app->user_type];
}

static void read_credentials(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    act->email = read_expr(ctx, def, "email", APP__WANT_TEXT, true);
    act->password = read_expr(ctx, def, "password", APP__WANT_TEXT, true);
    act->stay_logged_in = read_expr(ctx, def, "stay_logged_in", APP__WANT_BOOL, false);
    act->has_result = true;
    act->result.kind = FK_THING;
    act->result.ref_type = ctx->ld->app->user_type;
}

/* Reads "type" of create_thing. Returns false when it names no type. */
static bool read_create_type(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    const char *name = app__read_string(ld, def, "type", true);
    if (name == NULL)
        return false;
    const app_type_t *type = app_find_type(ld->app, name, strlen(name));
    if (type == NULL) {
        app__error_at(ld, "type", "unknown type \"%s\"", name);
        return false;
    }
    act->type = app_type_index(ld->app, type);
    return true;
}

/* Is a value of type from acceptable for a parameter of type to? Things must be of the same type,
 * and a list only fills a list. */
static bool param_accepts(app_vtype_t to, app_vtype_t from)
{
    if (to.is_list != from.is_list || to.kind != from.kind)
        return false;
    if (to.kind == FK_THING)
        return to.ref_type == from.ref_type;
    if (to.kind == FK_OPTION)
        return to.option_set == from.option_set;
    return true;
}

static const app_param_t *find_param(const app_workflow_t *wf, const char *name)
{
    for (size_t i = 0; i < wf->nparams; i++) {
        if (strcmp(wf->params[i].name, name) == 0)
            return &wf->params[i];
    }
    return NULL;
}

/* Reads schedule_workflow: the target must exist (it may be defined later in the document and
 * need not be exposed), every parameter given must be one of the target's with a matching type,
 * and every required parameter must be given. */
static void read_schedule(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    act->target_workflow = -1;
    act->at = read_expr(ctx, def, "at", APP__WANT_ANY, false);
    if (act->at != NULL && (act->at->type.kind != FK_DATE || act->at->type.is_list)) {
        app__error_at(ld, "at", "expected a date expression");
        act->at = NULL;
    }
    const char *name = app__read_string(ld, def, "workflow", true);
    if (name == NULL)
        return;
    const app_workflow_t *target = NULL;
    for (size_t i = 0; i < ld->app->nworkflows; i++) {
        if (ld->app->workflows[i].name != NULL && strcmp(ld->app->workflows[i].name, name) == 0) {
            target = &ld->app->workflows[i];
            act->target_workflow = (int)i;
        }
    }
    if (target == NULL) {
        app__error_at(ld, "workflow", "unknown workflow \"%s\"", name);
        return;
    }
    const json_t *args = json_object_get(def, "parameters");
    size_t mark = app__path_key(ld, "parameters");
    size_t given = args == NULL ? 0 : json_object_size(args);
    if (args != NULL && !app__expect_object(ld, args))
        given = 0;
    act->args = given == 0 ? NULL : app__calloc(ld, given, sizeof(*act->args));
    const char *key;
    json_t *value;
    if (given > 0) {
        json_object_foreach((json_t *)args, key, value)
        {
            const app_param_t *p = find_param(target, key);
            if (p == NULL) {
                app__error_at(ld, key, "workflow %s has no parameter \"%s\"", target->name, key);
                continue;
            }
            expr_t *e = read_expr(ctx, args, key, APP__WANT_ANY, true);
            if (e == NULL || act->args == NULL)
                continue;
            if (!param_accepts(p->type, e->type)) {
                app__error_at(ld, key, "the value does not fit parameter \"%s\"", key);
                continue;
            }
            act->args[act->nargs++] = (app_binding_t){
                .key = p->name, .field = (int)(p - target->params), .value = e};
        }
    }
    app__path_restore(ld, mark);
    for (size_t i = 0; i < target->nparams; i++) {
        if (!target->params[i].optional && (args == NULL || json_object_get(args, target->params[i].name) == NULL))
            app__error_at(ld, "parameters", "missing required parameter \"%s\" of workflow %s",
                          target->params[i].name, target->name);
    }
}

/* The 2FA actions: the password where the action checks it, the code in two_factor_code. All but
 * disable_2fa yield text: the otpauth:// URI, or the new recovery codes. */
static void read_two_factor(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    if (act->kind == ACT_ENABLE_2FA_START || act->kind == ACT_DISABLE_2FA)
        act->password = read_expr(ctx, def, "password", APP__WANT_TEXT, true);
    if (act->kind != ACT_ENABLE_2FA_START)
        act->two_factor_code = read_expr(ctx, def, "code", APP__WANT_TEXT, true);
    if (act->kind != ACT_DISABLE_2FA) {
        act->has_result = true;
        act->result = (app_vtype_t){.kind = FK_TEXT, .ref_type = -1, .option_set = -1};
    }
}

/* Reads key as an expression yielding one thing, or a list of things when allow_list is set. */
static expr_t *read_things(actions_ctx_t *ctx, const json_t *def, const char *key, bool allow_list)
{
    app__loader_t *ld = ctx->ld;
    expr_t *e = read_expr(ctx, def, key, allow_list ? APP__WANT_ANY : APP__WANT_THING, true);
    if (e == NULL)
        return NULL;
    if (e->type.kind != FK_THING || e->type.ref_type < 0 ||
        (size_t)e->type.ref_type >= ld->app->ntypes) {
        char got[128];
        app__describe_vtype(ld->app, e->type, got, sizeof(got));
        app__error_at(ld, key, "expected a thing or a list of things, got %s", got);
        return NULL;
    }
    return e;
}

static expr_t *read_list_of_things(actions_ctx_t *ctx, const json_t *def)
{
    app__loader_t *ld = ctx->ld;
    expr_t *e = read_expr(ctx, def, "list", APP__WANT_ANY, true);
    if (e == NULL)
        return NULL;
    if (e->type.kind != FK_THING || !e->type.is_list || e->type.ref_type < 0 ||
        (size_t)e->type.ref_type >= ld->app->ntypes) {
        char got[128];
        app__describe_vtype(ld->app, e->type, got, sizeof(got));
        app__error_at(ld, "list", "expected a list of things, got %s", got);
        return NULL;
    }
    return e;
}

/* Reads the inputs of one action of a known kind. Returns false when the action has no usable
 * target, so later references to its result are not reported a second time. */
static bool read_inputs(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    switch (act->kind) {
    case ACT_SIGN_UP:
        read_credentials(ctx, def, act);
        read_set(ctx, def, user_type(ld), act);
        return true;
    case ACT_LOG_IN:
        read_credentials(ctx, def, act);
        act->two_factor_code = read_expr(ctx, def, "two_factor_code", APP__WANT_TEXT, false);
        return true;
    case ACT_LOG_OUT:
        return true;
    case ACT_CREATE_THING:
        if (!read_create_type(ctx, def, act))
            return false;
        read_set(ctx, def, &ld->app->types[act->type], act);
        act->has_result = true;
        act->result.kind = FK_THING;
        act->result.ref_type = act->type;
        return true;
    case ACT_MAKE_CHANGES:
        act->thing = read_things(ctx, def, "thing", true);
        if (act->thing == NULL)
            return false;
        act->type = act->thing->type.ref_type;
        read_set(ctx, def, &ld->app->types[act->type], act);
        act->has_result = true;
        act->result = act->thing->type;
        return true;
    case ACT_DELETE_THING:
        act->thing = read_things(ctx, def, "thing", false);
        if (act->thing == NULL)
            return false;
        act->type = act->thing->type.ref_type;
        return true;
    case ACT_DELETE_LIST:
        act->list = read_list_of_things(ctx, def);
        if (act->list == NULL)
            return false;
        act->type = act->list->type.ref_type;
        return true;
    case ACT_RETURN_DATA:
        read_data(ctx, def, act);
        return true;
    case ACT_SCHEDULE_WORKFLOW:
        read_schedule(ctx, def, act);
        act->has_result = true;
        act->result = (app_vtype_t){.kind = FK_TEXT, .ref_type = -1, .option_set = -1};
        return true;
    case ACT_CANCEL_SCHEDULED:
        act->job_id = read_expr(ctx, def, "id", APP__WANT_TEXT, true);
        return true;
    case ACT_LOG_OUT_OTHER_SESSIONS:
        return true;
    case ACT_CHANGE_PASSWORD:
        act->password = read_expr(ctx, def, "password", APP__WANT_TEXT, true);
        act->current_password = read_expr(ctx, def, "current_password", APP__WANT_TEXT, false);
        return true;
    case ACT_SEND_PASSWORD_RESET:
        act->email = read_expr(ctx, def, "email", APP__WANT_TEXT, true);
        act->link = read_expr(ctx, def, "link", APP__WANT_TEXT, false);
        return true;
    case ACT_RESET_PASSWORD:
        act->reset_token = read_expr(ctx, def, "token", APP__WANT_TEXT, true);
        act->password = read_expr(ctx, def, "password", APP__WANT_TEXT, true);
        act->has_result = true;
        act->result.kind = FK_THING;
        act->result.ref_type = ctx->ld->app->user_type;
        return true;
    case ACT_ENABLE_2FA_START:
    case ACT_ENABLE_2FA_CONFIRM:
    case ACT_DISABLE_2FA:
    case ACT_REGENERATE_RECOVERY_CODES:
        read_two_factor(ctx, def, act);
        return true;
    case ACT_CHECK_2FA:
        act->two_factor_code = read_expr(ctx, def, "code", APP__WANT_TEXT, true);
        act->has_result = true;
        return true;
    }
    return false;
}

/* Reads action number i at the current path. Returns false when it is not usable as a step. */
static bool load_action(actions_ctx_t *ctx, const json_t *def, app_action_t *act)
{
    app__loader_t *ld = ctx->ld;
    act->type = -1;
    act->result = (app_vtype_t){.kind = FK_BOOL, .ref_type = -1, .option_set = -1};
    if (!app__expect_object(ld, def))
        return false;

    const char *name = app__read_string(ld, def, "action", true);
    if (name == NULL)
        return false;
    const action_spec_t *spec = find_spec(name);
    if (spec == NULL) {
        app__error_at(ld, "action", "unknown action \"%s\"", name);
        return false;
    }
    act->kind = spec->kind;
    check_action_keys(ld, def, spec);

    act->only_when = read_expr(ctx, def, "only_when", APP__WANT_BOOL, false);
    return read_inputs(ctx, def, act);
}

void app__load_actions(app__loader_t *ld, app_workflow_t *wf, const json_t *actions)
{
    if (!json_is_array(actions)) {
        app__error(ld, "expected an array of actions");
        return;
    }
    size_t n = json_array_size(actions);
    actions_ctx_t ctx = {
        .ld = ld,
        .wf = wf,
        .steps = app__calloc(ld, n, sizeof(app_vtype_t)),
        .broken = app__calloc(ld, n, sizeof(bool)),
    };
    wf->actions = app__calloc(ld, n, sizeof(*wf->actions));
    if (ctx.steps == NULL || ctx.broken == NULL || wf->actions == NULL)
        return;

    /* The step count grows as actions are read, so each action can refer only to earlier ones. */
    ctx.scope = (expr_scope_t){.app = ld->app,
                               .this_type = -1,
                               .params = wf->params,
                               .nparams = wf->nparams,
                               .steps = ctx.steps};
    for (size_t i = 0; i < n && ld->fatal == ERR_OK; i++) {
        size_t mark = app__path_index(ld, i);
        app_action_t *act = &wf->actions[i];
        ctx.broken[i] = !load_action(&ctx, json_array_get(actions, i), act);
        ctx.steps[i] = act->result;
        wf->nactions = i + 1;
        ctx.scope.nsteps = i + 1;
        app__path_restore(ld, mark);
    }
}
