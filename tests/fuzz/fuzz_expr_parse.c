/* Fuzz target for expr_parse against a fixed app loaded once.
 *
 * The first byte picks the scope. 'T' is a privacy rule on Task, 'U' a privacy rule on User and
 * 'W' the parameters and steps of the workflow "edit". Any other byte picks one of the three by
 * its value. The rest of the input is the expression text, read up to its first NUL as a C
 * string would be. An expression that parses is then evaluated, logged in and logged out, against
 * a thing whose fields are all empty. A rule is also compiled to a store condition.
 */
#include <string.h>

#include "app/app.h"
#include "core/arena.h"
#include "expr/expr.h"
#include "fuzz.h"

static const char app_json[] =
    "{\"name\": \"fuzz\","
    " \"option_sets\": {\"Priority\": [\"Low\", \"Medium\", \"High\"]},"
    " \"types\": {"
    "  \"User\": {\"fields\": {\"name\": \"text\", \"role\": \"text\", \"manager\": \"User\","
    "             \"roles\": \"list of text\", \"friends\": \"list of User\"},"
    "   \"privacy\": [{\"name\": \"everyone else\", \"find\": true}]},"
    "  \"Task\": {\"fields\": {\"title\": \"text\", \"done\": \"yes/no\", \"due\": \"date\","
    "             \"estimate\": \"number\", \"priority\": \"option Priority\","
    "             \"tags\": \"list of text\", \"assignee\": \"User\", \"watchers\": \"list of User\","
    "             \"where\": \"geographic address\", \"span\": \"date range\","
    "             \"unit\": \"Rental Unit\"}},"
    "  \"Rental Unit\": {\"fields\": {\"Unit name\": \"text\", \"Unit\": \"number\"}}"
    " },"
    " \"api_workflows\": {"
    "  \"edit\": {"
    "   \"parameters\": {\"task\": \"Task\", \"title\": \"text\", \"count\": \"number\","
    "                  \"flag\": \"yes/no\", \"when\": \"date\", \"tags\": \"list of text\","
    "                  \"level\": \"option Priority\", \"Unit name\": \"text\"},"
    "   \"actions\": ["
    "    {\"action\": \"create_thing\", \"type\": \"Task\", \"set\": {\"title\": \"title\"}},"
    "    {\"action\": \"make_changes\", \"thing\": \"task\", \"set\": {\"done\": \"flag\"}},"
    "    {\"action\": \"return_data\", \"data\": {\"n\": \"count\"}}]}"
    " }}";

#define MAX_STEPS 8

typedef struct {
    app_t *app;
    int task;
    int user;
    const app_workflow_t *workflow;
    app_vtype_t steps[MAX_STEPS];
    size_t nsteps;
} fixture_t;

static fixture_t *fixture(void)
{
    static fixture_t fx;
    if (fx.app != NULL)
        return &fx;
    app_errors_t errors = {0};
    if (app_load_buffer(app_json, strlen(app_json), &fx.app, &errors) != ERR_OK) {
        for (size_t i = 0; i < errors.count; i++)
            fprintf(stderr, "fuzz app: %s: %s\n", errors.items[i].path, errors.items[i].message);
        abort();
    }
    app_errors_free(&errors);
    fx.task = app_type_index(fx.app, app_find_type(fx.app, "Task", 4));
    fx.user = fx.app->user_type;
    fx.workflow = app_find_workflow(fx.app, "edit", 4);
    FUZZ_CHECK(fx.task >= 0 && fx.workflow != NULL && fx.workflow->nactions <= MAX_STEPS);
    for (size_t i = 0; i < fx.workflow->nactions; i++)
        fx.steps[i] = fx.workflow->actions[i].result;
    fx.nsteps = fx.workflow->nactions;
    return &fx;
}

static err_t load_nothing(void *ud, const app_type_t *type, const char *id, size_t id_len,
                          const app_field_t *field, value_t *out)
{
    *out = value_null();
    return ERR_OK;
}

/* Evaluates e as a caller who is logged in (user_id set) or not, and compiles it when it is a
 * rule. Returned errors are expected, so only a crash or a sanitizer report is a bug. */
static void exercise(const fixture_t *fx, const expr_scope_t *scope, const expr_t *e,
                     arena_t *arena, const char *user_id)
{
    value_t empty[64];
    for (size_t i = 0; i < 64; i++)
        empty[i] = value_null();

    expr_env_t env = {
        .app = fx->app,
        .user_id = user_id,
        .now_ms = 1700000000000,
        .arena = arena,
        .load_field = load_nothing,
        .params = empty,
        .steps = empty,
    };
    if (scope->this_type >= 0) {
        env.this_type = &fx->app->types[scope->this_type];
        FUZZ_CHECK(env.this_type->nfields <= 64);
        env.this_values = empty;
    }
    value_t v;
    err_t rc = expr_eval(e, &env, &v);
    bool b;
    rc = expr_eval_bool(e, &env, &b);
    if (scope->this_type >= 0) {
        store_cond_t *cond = NULL;
        rc = expr_to_cond(e, &env, &cond);
    }
    (void)rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const fixture_t *fx = fixture();
    if (size == 0)
        return 0;

    expr_scope_t scope = {.app = fx->app, .this_type = -1};
    int mode = data[0] % 3;
    if (data[0] == 'T')
        mode = 0;
    else if (data[0] == 'U')
        mode = 1;
    else if (data[0] == 'W')
        mode = 2;
    if (mode == 0) {
        scope.this_type = fx->task;
    } else if (mode == 1) {
        scope.this_type = fx->user;
    } else {
        scope.params = fx->workflow->params;
        scope.nparams = fx->workflow->nparams;
        scope.steps = fx->steps;
        scope.nsteps = fx->nsteps;
    }

    arena_t *arena = arena_new(4096, 16u << 20);
    char *text = arena != NULL ? arena_strndup(arena, (const char *)data + 1, size - 1) : NULL;
    if (text == NULL) {
        arena_free(arena);
        return 0;
    }
    expr_t *e = NULL;
    expr_error_t err;
    memset(&err, 0, sizeof(err));
    if (expr_parse(arena, &scope, text, &e, &err) == ERR_OK) {
        FUZZ_CHECK(e != NULL);
        exercise(fx, &scope, e, arena, "1700000000000x100000000000000001");
        exercise(fx, &scope, e, arena, NULL);
    } else {
        FUZZ_CHECK(err.message[0] != '\0');
        FUZZ_CHECK(err.column >= 0 && (size_t)err.column <= strlen(text) + 1);
    }
    arena_free(arena);
    return 0;
}
