/* Unit tests for the app definition loader: the example app, broken definitions and lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core/clock.h"
#include "expr/expr.h"

/* The example lives in the source tree; __FILE__ is this file's absolute path under CMake. */
static char *example_path(void)
{
    static char path[4096];
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/test_app.c");
    assert_non_null(tail);
    snprintf(path, sizeof(path), "%.*sexamples/todo/app.json", (int)(tail - self), self);
    return path;
}

static app_t *load_ok(const char *json)
{
    app_t *app = NULL;
    app_errors_t errors = {0};
    err_t rc = app_load_buffer(json, strlen(json), &app, &errors);
    for (size_t i = 0; i < errors.count; i++)
        print_error("unexpected error: %s: %s\n", errors.items[i].path, errors.items[i].message);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(errors.count, 0);
    assert_non_null(app);
    app_errors_free(&errors);
    return app;
}

/* Returns the index of the error at path, or -1. */
static int find_error(const app_errors_t *errors, const char *path)
{
    for (size_t i = 0; i < errors->count; i++) {
        if (strcmp(errors->items[i].path, path) == 0)
            return (int)i;
    }
    return -1;
}

static void print_errors(const app_errors_t *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        print_error("  %s: %s\n", errors->items[i].path, errors->items[i].message);
}

static const app_field_t *field(const app_type_t *type, const char *name)
{
    const app_field_t *f = app_find_field(type, name, strlen(name));
    if (f == NULL)
        print_error("no field \"%s\" on %s\n", name, type->name);
    assert_non_null(f);
    return f;
}

/* ---- the example app ---- */

static void todo_example_loads(void **state)
{
    (void)state;
    app_t *app = NULL;
    app_errors_t errors = {0};
    err_t rc = app_load_file(example_path(), &app, &errors);
    print_errors(&errors);
    assert_int_equal(rc, ERR_OK);
    assert_int_equal(errors.count, 0);
    assert_non_null(app);

    assert_string_equal(app->name, "todo");
    assert_true(app->settings.data_api);
    assert_true(app->settings.workflow_api);
    assert_false(app->settings.swagger);
    assert_int_equal(app->settings.search_privacy, SEARCH_PRIVACY_STRICT);
    assert_string_equal(app->settings.timezone, "UTC");
    assert_string_equal(app->settings.two_factor_issuer, "todo");

    assert_int_equal(app->noption_sets, 1);
    assert_string_equal(app->option_sets[0].name, "Priority");
    assert_int_equal(app->option_sets[0].nvalues, 3);
    assert_string_equal(app->option_sets[0].values[2], "High");

    assert_int_equal(app->ntypes, 2);
    assert_int_equal(app->user_type, 0);
    assert_true(app->types[0].is_user);
    assert_false(app->types[1].is_user);
    assert_string_equal(app->types[1].url_name, "task");
    assert_string_equal(app->types[1].table, "t_task");
    assert_string_equal(app->types[0].table, "t_user");
    assert_int_equal(app->nworkflows, 5);
    app_free(app);
    app_errors_free(&errors);
}

static void todo_example_fields(void **state)
{
    (void)state;
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_file(example_path(), &app, &errors), ERR_OK);

    const app_type_t *user = &app->types[app->user_type];
    assert_int_equal(user->nfields, 7);
    assert_string_equal(user->fields[5].name, "email");
    assert_int_equal(user->fields[5].builtin, BUILTIN_EMAIL);
    assert_string_equal(user->fields[5].column, "_email");
    assert_string_equal(user->fields[6].id, "name_text");

    const app_type_t *task = app_find_type(app, "Task", 4);
    assert_non_null(task);
    assert_int_equal(task->nfields, 5 + 8);
    static const char *const builtin_names[] = {"_id", "Created Date", "Modified Date",
                                                "Created By", "Slug"};
    static const char *const builtin_columns[] = {"_id", "_created", "_modified", "_created_by",
                                                  "_slug"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(task->fields[i].name, builtin_names[i]);
        assert_string_equal(task->fields[i].column, builtin_columns[i]);
        assert_int_equal(task->fields[i].builtin, i + 1);
        assert_int_equal(task->fields[i].index, i);
    }
    assert_int_equal(task->fields[3].type.kind, FK_THING);
    assert_int_equal(task->fields[3].type.ref_type, app->user_type);
    assert_string_equal(task->fields[1].id, "created_date");
    assert_string_equal(task->fields[1].squashed, "createddate");

    const app_field_t *title = field(task, "title");
    assert_int_equal(title->index, 5);
    assert_string_equal(title->id, "title_text");
    assert_string_equal(title->column, "f_title");
    assert_string_equal(field(task, "done")->id, "done_boolean");
    assert_string_equal(field(task, "due")->id, "due_date");
    assert_string_equal(field(task, "estimate")->id, "estimate_number");

    const app_field_t *tags = field(task, "tags");
    assert_string_equal(tags->id, "tags_list_text");
    assert_true(tags->type.is_list);
    assert_int_equal(tags->type.kind, FK_TEXT);

    const app_field_t *assignee = field(task, "assignee");
    assert_string_equal(assignee->id, "assignee_user");
    assert_int_equal(assignee->type.kind, FK_THING);
    assert_int_equal(assignee->type.ref_type, app->user_type);

    const app_field_t *priority = field(task, "priority");
    assert_string_equal(priority->id, "priority_option_priority");
    assert_int_equal(priority->type.kind, FK_OPTION);
    assert_int_equal(priority->type.option_set, 0);
    assert_int_equal(field(task, "notes")->index, 12);
    app_free(app);
}

static void todo_example_rules(void **state)
{
    (void)state;
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_file(example_path(), &app, &errors), ERR_OK);

    const app_type_t *task = app_find_type(app, "Task", 4);
    assert_false(task->public_by_default);
    assert_true(task->expose);
    assert_int_equal(task->nrules, 3);

    const app_rule_t *mine = &task->rules[0];
    assert_string_equal(mine->name, "mine");
    assert_non_null(mine->when);
    assert_int_equal(mine->when->type.kind, FK_BOOL);
    assert_true(mine->find);
    assert_true(mine->view_all);
    assert_true(mine->create_via_api);
    assert_true(mine->modify_via_api);
    assert_true(mine->delete_via_api);
    assert_false(mine->everyone_else);

    const app_rule_t *assigned = &task->rules[1];
    assert_false(assigned->view_all);
    assert_true(assigned->view_fields[field(task, "title")->index]);
    assert_true(assigned->view_fields[field(task, "due")->index]);
    assert_false(assigned->view_fields[field(task, "notes")->index]);
    assert_false(assigned->create_via_api);

    const app_rule_t *rest = &task->rules[2];
    assert_true(rest->everyone_else);
    assert_null(rest->when);
    assert_false(rest->find);
    for (size_t i = 0; i < task->nfields; i++)
        assert_false(rest->view_fields[i]);

    const app_type_t *user = &app->types[app->user_type];
    assert_int_equal(user->nrules, 2);
    assert_true(user->rules[1].view_fields[field(user, "name")->index]);
    assert_false(user->rules[1].view_fields[field(user, "email")->index]);
    app_free(app);
}

static void todo_example_workflows(void **state)
{
    (void)state;
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_file(example_path(), &app, &errors), ERR_OK);

    const app_workflow_t *signup = app_find_workflow(app, "signup", 6);
    assert_non_null(signup);
    assert_int_equal(signup->auth, WF_AUTH_NONE);
    assert_false(signup->method_get);
    assert_true(signup->expose);
    assert_int_equal(signup->nparams, 3);
    assert_string_equal(signup->params[2].name, "name");
    assert_true(signup->params[2].optional);
    assert_false(signup->params[0].optional);
    assert_int_equal(signup->nactions, 1);
    const app_action_t *sign_up = &signup->actions[0];
    assert_int_equal(sign_up->kind, ACT_SIGN_UP);
    assert_non_null(sign_up->email);
    assert_non_null(sign_up->password);
    assert_non_null(sign_up->stay_logged_in);
    assert_int_equal(sign_up->nset, 1);
    assert_string_equal(sign_up->set[0].key, "name");
    assert_int_equal(sign_up->set[0].field, 6);
    assert_true(sign_up->has_result);
    assert_int_equal(sign_up->result.kind, FK_THING);
    assert_int_equal(sign_up->result.ref_type, app->user_type);

    const app_workflow_t *logout = app_find_workflow(app, "logout", 6);
    assert_int_equal(logout->auth, WF_AUTH_USER_OR_ADMIN);
    assert_int_equal(logout->actions[0].kind, ACT_LOG_OUT);
    assert_false(logout->actions[0].has_result);

    const app_workflow_t *add = app_find_workflow(app, "add-task", 8);
    const app_type_t *task = app_find_type(app, "Task", 4);
    assert_int_equal(add->nparams, 3);
    assert_true(add->params[2].type.is_list);
    assert_int_equal(add->actions[0].kind, ACT_CREATE_THING);
    assert_int_equal(add->actions[0].type, app_type_index(app, task));
    assert_int_equal(add->actions[0].nset, 3);
    assert_int_equal(add->actions[0].result.ref_type, app_type_index(app, task));
    assert_int_equal(add->actions[1].kind, ACT_RETURN_DATA);
    assert_int_equal(add->actions[1].ndata, 2);
    assert_string_equal(add->actions[1].data[1].key, "title");
    assert_int_equal(add->actions[1].data[1].field, -1);
    assert_int_equal(add->actions[1].data[1].value->type.kind, FK_TEXT);

    const app_workflow_t *complete = app_find_workflow(app, "complete-task", 13);
    assert_non_null(complete->only_when);
    assert_int_equal(complete->params[0].type.kind, FK_THING);
    const app_action_t *change = &complete->actions[0];
    assert_int_equal(change->kind, ACT_MAKE_CHANGES);
    assert_non_null(change->thing);
    assert_int_equal(change->type, app_type_index(app, task));
    assert_int_equal(change->set[0].field, field(task, "done")->index);
    assert_true(change->has_result);
    assert_null(app_find_workflow(app, "Complete-task", 13));
    app_free(app);
}

/* ---- broken definitions ---- */

typedef struct {
    const char *name;
    const char *json;
    const char *path;    /* where the error must be reported */
    const char *message; /* a part of its message */
} broken_case_t;

#define TASK_WITH(privacy)                                                                         \
    "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"title\":\"text\",\"n\":\"number\"},"       \
    "\"privacy\":" privacy "}}}"
#define WORKFLOW(body)                                                                             \
    "{\"name\":\"t\",\"option_sets\":{\"Level\":[\"Low\",\"High\"]},\"types\":{\"Task\":{"         \
    "\"fields\":{\"title\":\"text\",\"n\":\"number\",\"level\":\"option Level\"}}},"               \
    "\"api_workflows\":{\"w\":" body "}}"

static const broken_case_t broken_cases[] = {
    {"unknown top-level key", "{\"name\":\"t\",\"foo\":1}", "foo", "unknown key \"foo\""},
    {"missing name", "{\"types\":{}}", "name", "missing"},
    {"unknown settings key", "{\"name\":\"t\",\"settings\":{\"x\":true}}", "settings.x",
     "unknown key"},
    {"bad search privacy", "{\"name\":\"t\",\"settings\":{\"search_privacy\":\"loose\"}}",
     "settings.search_privacy", "strict"},
    {"non-boolean setting", "{\"name\":\"t\",\"settings\":{\"swagger\":\"yes\"}}",
     "settings.swagger", "true or false"},
    {"unknown field type", "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"owner\":\"Usr\"}}}}",
     "types.Task.fields.owner", "unknown type \"Usr\""},
    {"bad option set", "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"p\":\"option Prio\"}}}}",
     "types.Task.fields.p", "unknown option set \"Prio\""},
    {"list of lists",
     "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"p\":\"list of list of text\"}}}}",
     "types.Task.fields.p", "lists of lists"},
    {"built-in field name",
     "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"Slug\":\"text\"}}}}",
     "types.Task.fields.Slug", "built-in"},
    {"password field on User",
     "{\"name\":\"t\",\"types\":{\"User\":{\"fields\":{\"password\":\"text\"}}}}",
     "types.User.fields.password", "built-in"},
    {"empty field name", "{\"name\":\"t\",\"types\":{\"Task\":{\"fields\":{\"\":\"text\"}}}}",
     "types.Task.fields.", "must not be empty"},
    {"duplicate option", "{\"name\":\"t\",\"option_sets\":{\"P\":[\"a\",\"a\"]}}",
     "option_sets.P[1]", "duplicate option"},
    {"option set id collision",
     "{\"name\":\"t\",\"option_sets\":{\"Job Level\":[],\"joblevel\":[]}}", "option_sets.joblevel",
     "same id"},
    {"unknown type key", "{\"name\":\"t\",\"types\":{\"Task\":{\"expose\":true,\"x\":1}}}",
     "types.Task.x", "unknown key"},
    {"duplicate url names", "{\"name\":\"t\",\"types\":{\"Foo Bar\":{},\"FooBar\":{}}}",
     "types.FooBar", "same URL name \"foobar\""},
    {"unknown field in view list",
     TASK_WITH("[{\"name\":\"everyone else\",\"view\":[\"title\",\"nope\"]}]"),
     "types.Task.privacy[0].view[1]", "unknown field \"nope\""},
    {"unknown field in constrain list",
     TASK_WITH("[{\"name\":\"everyone else\",\"constrain\":[\"nope\"]}]"),
     "types.Task.privacy[0].constrain[0]", "unknown field \"nope\""},
    {"bad view value", TASK_WITH("[{\"name\":\"everyone else\",\"view\":\"some\"}]"),
     "types.Task.privacy[0].view", "\"all\""},
    {"rule without when", TASK_WITH("[{\"name\":\"mine\",\"find\":true}]"),
     "types.Task.privacy[0].when", "missing"},
    {"rule without name", TASK_WITH("[{\"when\":\"This Task's n > 3\"}]"),
     "types.Task.privacy[0].name", "missing"},
    {"when on everyone else",
     TASK_WITH("[{\"name\":\"Everyone Else\",\"when\":\"This Task's n > 3\"}]"),
     "types.Task.privacy[0].when", "no condition"},
    {"two everyone else rules",
     TASK_WITH("[{\"name\":\"everyone else\"},{\"name\":\"everyone else\"}]"),
     "types.Task.privacy[1].name", "at most one"},
    {"unknown rule key", TASK_WITH("[{\"name\":\"everyone else\",\"edit\":true}]"),
     "types.Task.privacy[0].edit", "unknown key"},
    {"bad when expression",
     TASK_WITH("[{\"name\":\"mine\",\"when\":\"This Task's ownr is Current User\"}]"),
     "types.Task.privacy[0].when", "column "},
    {"when not yes/no", TASK_WITH("[{\"name\":\"mine\",\"when\":\"This Task's n\"}]"),
     "types.Task.privacy[0].when", "yes/no"},
    {"when not searchable",
     TASK_WITH("[{\"name\":\"mine\",\"when\":\"This Task's n > This Task's n\"}]"),
     "types.Task.privacy[0].when", "cannot be used in a privacy rule"},
    {"bad auth value", WORKFLOW("{\"auth\":\"anyone\",\"actions\":[]}"), "api_workflows.w.auth",
     "user_or_admin"},
    {"bad method", WORKFLOW("{\"method\":\"PUT\",\"actions\":[]}"), "api_workflows.w.method",
     "GET"},
    {"bad workflow name", "{\"name\":\"t\",\"api_workflows\":{\"a b\":{\"actions\":[]}}}",
     "api_workflows.a b", "letters, digits"},
    {"missing actions", WORKFLOW("{}"), "api_workflows.w.actions", "missing"},
    {"bad parameter type", WORKFLOW("{\"parameters\":{\"p\":{\"type\":\"Tsk\"}},\"actions\":[]}"),
     "api_workflows.w.parameters.p.type", "unknown type \"Tsk\""},
    {"unknown parameter key",
     WORKFLOW("{\"parameters\":{\"p\":{\"type\":\"text\",\"opt\":true}},\"actions\":[]}"),
     "api_workflows.w.parameters.p.opt", "unknown key"},
    {"only_when not yes/no",
     WORKFLOW("{\"parameters\":{\"p\":\"text\"},\"only_when\":\"p\","
              "\"actions\":[]}"),
     "api_workflows.w.only_when", "yes/no"},
    {"unknown action", WORKFLOW("{\"actions\":[{\"action\":\"fly\"}]}"),
     "api_workflows.w.actions[0].action", "unknown action \"fly\""},
    {"unknown action key", WORKFLOW("{\"actions\":[{\"action\":\"log_out\",\"email\":\"x\"}]}"),
     "api_workflows.w.actions[0].email", "unknown key"},
    {"log_in without email",
     WORKFLOW("{\"parameters\":{\"p\":\"text\"},\"actions\":[{\"action\":\"log_in\","
              "\"password\":\"p\"}]}"),
     "api_workflows.w.actions[0].email", "missing"},
    {"email not text",
     WORKFLOW("{\"parameters\":{\"p\":\"text\",\"n\":\"number\"},\"actions\":[{\"action\":"
              "\"log_in\",\"email\":\"n\",\"password\":\"p\"}]}"),
     "api_workflows.w.actions[0].email", "text"},
    {"create unknown type",
     WORKFLOW("{\"actions\":[{\"action\":\"create_thing\",\"type\":\"Tsk\"}]}"),
     "api_workflows.w.actions[0].type", "unknown type \"Tsk\""},
    {"set on unknown field",
     WORKFLOW("{\"actions\":[{\"action\":\"create_thing\",\"type\":\"Task\","
              "\"set\":{\"nope\":\"'x'\"}}]}"),
     "api_workflows.w.actions[0].set.nope", "unknown field \"nope\""},
    {"set on built-in field",
     WORKFLOW("{\"actions\":[{\"action\":\"create_thing\",\"type\":\"Task\","
              "\"set\":{\"Slug\":\"'x'\"}}]}"),
     "api_workflows.w.actions[0].set.Slug", "cannot be set"},
    {"type mismatch in set",
     WORKFLOW("{\"actions\":[{\"action\":\"create_thing\",\"type\":\"Task\","
              "\"set\":{\"title\":\"5\"}}]}"),
     "api_workflows.w.actions[0].set.title", "number"},
    {"invalid option in set",
     WORKFLOW("{\"actions\":[{\"action\":\"create_thing\",\"type\":\"Task\","
              "\"set\":{\"level\":\"'Medium'\"}}]}"),
     "api_workflows.w.actions[0].set.level", "not an option"},
    {"make_changes on a text",
     WORKFLOW("{\"parameters\":{\"p\":\"text\"},\"actions\":[{\"action\":\"make_changes\","
              "\"thing\":\"p\",\"set\":{}}]}"),
     "api_workflows.w.actions[0].thing", "thing"},
    {"step without result",
     WORKFLOW("{\"actions\":[{\"action\":\"log_out\"},{\"action\":\"return_data\","
              "\"data\":{\"x\":\"Result of step 1\"}}]}"),
     "api_workflows.w.actions[1].data.x", "step 1 (log_out) has no result"},
    {"field of step without result",
     WORKFLOW("{\"actions\":[{\"action\":\"log_out\"},{\"action\":\"return_data\","
              "\"data\":{\"x\":\"Result of step 1's title\"}}]}"),
     "api_workflows.w.actions[1].data.x", "step 1 (log_out) has no result"},
    {"type with the User URL name", "{\"name\":\"t\",\"types\":{\"user\":{}}}", "types.user",
     "built-in User type"},
    {"field id collision",
     "{\"name\":\"t\",\"types\":{\"T\":{\"fields\":{\"A b\":\"text\",\"a_b\":\"text\"}}}}",
     "types.T.fields.a_b", "same id \"a_b_text\""},
    {"Creator field name", "{\"name\":\"t\",\"types\":{\"T\":{\"fields\":{\"creator\":\"text\"}}}}",
     "types.T.fields.creator", "built-in"},
    {"reserved type name", "{\"name\":\"t\",\"types\":{\"list of x\":{}}}", "types.list of x",
     "reserved"},
    {"bad timezone", "{\"name\":\"t\",\"settings\":{\"timezone\":\"UTC; DROP\"}}",
     "settings.timezone", "invalid time zone"},
    {"unknown timezone", "{\"name\":\"t\",\"settings\":{\"timezone\":\"Mars/Olympus_Mons\"}}",
     "settings.timezone", "unknown time zone \"Mars/Olympus_Mons\": not in the tz database"},
    {"timezone path", "{\"name\":\"t\",\"settings\":{\"timezone\":\"../../etc/passwd\"}}",
     "settings.timezone", "invalid time zone"},
    {"unknown two_factor key", "{\"name\":\"t\",\"settings\":{\"two_factor\":{\"x\":1}}}",
     "settings.two_factor.x", "unknown key"},
    {"later step",
     WORKFLOW("{\"actions\":[{\"action\":\"return_data\","
              "\"data\":{\"x\":\"Result of step 1\"}}]}"),
     "api_workflows.w.actions[0].data.x", ""},
    {"return_data without data", WORKFLOW("{\"actions\":[{\"action\":\"return_data\"}]}"),
     "api_workflows.w.actions[0].data", "missing"},
    {"duplicate JSON keys", "{\"name\":\"t\",\"name\":\"u\"}", "", "duplicate"},
    {"invalid JSON", "{\"name\":\"t\",}", "", "line 1"},
    {"top level not an object", "[1]", "", "object"},
    {"empty document", "", "", "invalid JSON"},
};

static void broken_definitions_rejected(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(broken_cases) / sizeof(broken_cases[0]); i++) {
        const broken_case_t *c = &broken_cases[i];
        app_t *app = (app_t *)1;
        app_errors_t errors = {0};
        err_t rc = app_load_buffer(c->json, strlen(c->json), &app, &errors);
        int at = find_error(&errors, c->path);
        bool ok = rc == ERR_INVALID && app == NULL && at >= 0 &&
                  strstr(errors.items[at].message, c->message) != NULL;
        if (!ok) {
            print_error("case \"%s\": rc=%d, wanted an error at \"%s\" containing \"%s\", got:\n",
                        c->name, rc, c->path, c->message);
            print_errors(&errors);
            failures++;
        }
        app_errors_free(&errors);
    }
    assert_int_equal(failures, 0);
}

static void all_errors_reported(void **state)
{
    (void)state;
    const char *json =
        "{\"name\":\"t\",\"extra\":1,"
        "\"types\":{\"Task\":{\"fields\":{\"a\":\"Usr\",\"b\":\"option X\",\"c\":\"text\"},"
        "\"privacy\":[{\"name\":\"r\"},{\"name\":\"everyone else\",\"view\":[\"zz\"]}]}},"
        "\"api_workflows\":{\"w\":{\"auth\":\"x\",\"actions\":[{\"action\":\"nope\"}]}}}";
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_buffer(json, strlen(json), &app, &errors), ERR_INVALID);
    assert_null(app);
    print_errors(&errors);
    assert_int_equal(errors.count, 7);
    assert_true(find_error(&errors, "extra") >= 0);
    assert_true(find_error(&errors, "types.Task.fields.a") >= 0);
    assert_true(find_error(&errors, "types.Task.fields.b") >= 0);
    assert_true(find_error(&errors, "types.Task.privacy[0].when") >= 0);
    assert_true(find_error(&errors, "types.Task.privacy[1].view[0]") >= 0);
    assert_true(find_error(&errors, "api_workflows.w.auth") >= 0);
    assert_true(find_error(&errors, "api_workflows.w.actions[0].action") >= 0);
    app_errors_free(&errors);
    assert_null(errors.items);
}

static void invalid_json_reports_position(void **state)
{
    (void)state;
    const char *json = "{\n  \"name\": \"t\",\n  \"types\": {,}\n}";
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_buffer(json, strlen(json), &app, &errors), ERR_INVALID);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.items[0].path, "");
    assert_non_null(strstr(errors.items[0].message, "line 3, column"));
    app_errors_free(&errors);
}

static void duplicate_json_keys_rejected(void **state)
{
    (void)state;
    const char *json = "{\"name\":\"t\",\"types\":{\"Task\":{},\"Task\":{}}}";
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_buffer(json, strlen(json), &app, &errors), ERR_INVALID);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.items[0].message, "duplicate"));
    app_errors_free(&errors);
}

static void oversized_definition_rejected(void **state)
{
    (void)state;
    size_t len = (size_t)16 * 1024 * 1024 + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_buffer(big, len, &app, &errors), ERR_INVALID);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.items[0].message, "limit"));
    app_errors_free(&errors);
    free(big);

    char path[] = "/tmp/test_app_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    close(fd);
    assert_int_equal(app_load_file(path, &app, &errors), ERR_INVALID);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.items[0].message, "limit"));
    app_errors_free(&errors);
    unlink(path);
}

static void too_many_fields_rejected(void **state)
{
    (void)state;
    size_t cap = 64 * 1024;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = (size_t)snprintf(json, cap, "{\"name\":\"t\",\"types\":{\"T\":{\"fields\":{");
    for (int i = 0; i < 2001; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"f%d\":\"text\"", i > 0 ? "," : "", i);
    snprintf(json + n, cap - n, "}}}}");

    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_buffer(json, strlen(json), &app, &errors), ERR_INVALID);
    assert_int_equal(errors.count, 1);
    assert_string_equal(errors.items[0].path, "types.T.fields");
    assert_non_null(strstr(errors.items[0].message, "too many fields: 2001"));
    app_errors_free(&errors);
    free(json);
}

static void missing_file_is_io_error(void **state)
{
    (void)state;
    app_t *app = NULL;
    app_errors_t errors = {0};
    assert_int_equal(app_load_file("/nonexistent/app.json", &app, &errors), ERR_IO);
    assert_null(app);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.items[0].message, "/nonexistent/app.json"));
    app_errors_free(&errors);
}

static void null_error_list_allowed(void **state)
{
    (void)state;
    app_t *app = NULL;
    assert_int_equal(app_load_buffer("{}", 2, &app, NULL), ERR_INVALID);
    assert_null(app);
}

/* ---- defaults, names and lookups ---- */

static void user_type_added(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"bare\",\"settings\":{\"two_factor\":{}}}");
    assert_int_equal(app->ntypes, 1);
    assert_int_equal(app->user_type, 0);
    const app_type_t *user = &app->types[0];
    assert_string_equal(user->name, "User");
    assert_true(user->is_user);
    assert_false(user->expose);
    assert_false(user->public_by_default);
    assert_int_equal(user->nrules, 0);
    assert_int_equal(user->nfields, 6);
    assert_string_equal(user->fields[5].name, "email");
    assert_string_equal(app->settings.two_factor_issuer, "bare");
    assert_string_equal(app->settings.timezone, "UTC");
    assert_non_null(app->settings.zone);
    assert_true(app->settings.data_api);
    assert_int_equal(app->nworkflows, 0);
    app_free(app);
}

static void settings_read(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"s\",\"settings\":{\"data_api\":false,\"swagger\":true,"
                         "\"two_factor\":{\"issuer\":\"Acme\"},\"search_privacy\":\"off\","
                         "\"timezone\":\"Europe/Paris\"}}");
    assert_false(app->settings.data_api);
    assert_true(app->settings.workflow_api);
    assert_true(app->settings.swagger);
    assert_string_equal(app->settings.two_factor_issuer, "Acme");
    assert_int_equal(app->settings.search_privacy, SEARCH_PRIVACY_OFF);
    assert_string_equal(app->settings.timezone, "Europe/Paris");
    assert_non_null(app->settings.zone);
    /* 2025-07-15T12:00:00Z, when Paris is on summer time. */
    assert_int_equal(clock_zone_offset_at(app->settings.zone, 1752580800), 7200);
    app_free(app);
}

static void public_type_without_privacy(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"p\",\"types\":{\"Note\":{\"fields\":{}}}}");
    const app_type_t *note = app_find_type(app, "Note", 4);
    assert_true(note->public_by_default);
    assert_int_equal(note->nrules, 0);
    assert_false(note->expose);
    app_free(app);
}

static void find_type_by_url(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"q\",\"types\":{\"Question Tag\":{},\"Question\":{}}}");
    const app_type_t *tag = app_find_type(app, "Question Tag", 12);
    assert_non_null(tag);
    assert_string_equal(tag->url_name, "questiontag");
    assert_string_equal(tag->table, "t_questiontag");
    assert_ptr_equal(app_find_type_by_url(app, "QuestionTag", 11), tag);
    assert_ptr_equal(app_find_type_by_url(app, "questiontag", 11), tag);
    assert_ptr_equal(app_find_type_by_url(app, "question tag", 12), tag);
    assert_ptr_equal(app_find_type_by_url(app, "QUESTION TAG", 12), tag);
    assert_ptr_equal(app_find_type_by_url(app, "questiontagx", 11), tag);
    assert_string_equal(app_find_type_by_url(app, "question", 8)->name, "Question");
    assert_null(app_find_type_by_url(app, "questiontagx", 12));
    assert_null(app_find_type_by_url(app, "questio", 7));
    assert_null(app_find_type_by_url(app, "", 0));
    assert_null(app_find_type(app, "question tag", 12));
    assert_null(app_find_type(app, "Question Ta", 11));
    assert_int_equal(app_type_index(app, tag), 0);
    assert_int_equal(app_type_index(app, NULL), -1);
    assert_ptr_equal(app_find_type_by_url(app, "user", 4), &app->types[app->user_type]);
    app_free(app);
}

static void find_field_any_spelling(void **state)
{
    (void)state;
    app_t *app =
        load_ok("{\"name\":\"f\",\"types\":{\"Unit\":{\"fields\":{"
                "\"Unit name\":\"text\",\"Owner\":\"User\",\"Parts\":\"list of Unit\"}}}}");
    const app_type_t *unit = app_find_type(app, "Unit", 4);
    const app_field_t *name = field(unit, "Unit name");
    assert_string_equal(name->id, "unit_name_text");
    assert_string_equal(name->squashed, "unitname");
    assert_string_equal(name->column, "f_unit_name");
    assert_ptr_equal(app_find_field_any(unit, "Unit name", 9), name);
    assert_ptr_equal(app_find_field_any(unit, "unit_name_text", 14), name);
    assert_ptr_equal(app_find_field_any(unit, "unitname", 8), name);
    assert_ptr_equal(app_find_field_any(unit, "UnitName", 8), name);
    assert_null(app_find_field(unit, "unit name", 9));
    assert_null(app_find_field_any(unit, "unit_name", 9));

    assert_string_equal(field(unit, "Owner")->id, "owner_user");
    assert_string_equal(field(unit, "Parts")->id, "parts_list_custom_unit");
    assert_ptr_equal(app_find_field_any(unit, "Created Date", 12), &unit->fields[1]);
    assert_ptr_equal(app_find_field_any(unit, "created_date", 12), &unit->fields[1]);
    assert_ptr_equal(app_find_field_any(unit, "_id", 3), &unit->fields[0]);
    assert_null(app_find_field(unit, "email", 5));
    app_free(app);
}

static void vtype_names(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"v\",\"option_sets\":{\"Job Level\":[\"a\"]},"
                         "\"types\":{\"Big Task\":{}}}");
    char buf[64];
    app_vtype_t t = {.kind = FK_TEXT, .ref_type = -1, .option_set = -1};
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "text");
    t.kind = FK_BOOL;
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "boolean");
    t.kind = FK_GEO;
    t.is_list = true;
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "list.geographic_address");
    t = (app_vtype_t){.kind = FK_OPTION, .ref_type = -1, .option_set = 0};
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "option.joblevel");
    t = (app_vtype_t){.kind = FK_THING, .ref_type = 0, .option_set = -1};
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "custom.bigtask");
    t.ref_type = app->user_type;
    t.is_list = true;
    app_vtype_name(app, t, buf, sizeof(buf));
    assert_string_equal(buf, "list.user");
    char small[5];
    app_vtype_name(app, t, small, sizeof(small));
    assert_string_equal(small, "list");
    app_free(app);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void colliding_columns_get_hash(void **state)
{
    (void)state;
    app_t *app =
        load_ok("{\"name\":\"c\",\"types\":{\"T\":{\"fields\":{"
                "\"a b\":\"text\",\"a-b\":\"number\",\"A B\":\"date\",\"a  b!\":\"file\"}}}}");
    const app_type_t *t = app_find_type(app, "T", 1);
    assert_string_equal(field(t, "a b")->column, "f_a_b");
    char want[64];
    snprintf(want, sizeof(want), "f_a_b_%08x", (unsigned)fnv1a("a-b"));
    assert_string_equal(field(t, "a-b")->column, want);
    snprintf(want, sizeof(want), "f_a_b_%08x", (unsigned)fnv1a("A B"));
    assert_string_equal(field(t, "A B")->column, want);
    assert_string_equal(field(t, "a  b!")->column, "f_a_b_");
    assert_string_equal(t->table, "t_t");
    app_free(app);
}

static void long_names_fit_sql(void **state)
{
    (void)state;
    char json[1024];
    const char *long_name = "a very long field name that goes on and on well past what postgres "
                            "keeps";
    snprintf(json, sizeof(json),
             "{\"name\":\"l\",\"types\":{\"%s\":{\"fields\":{\"%s\":\"text\",\"%s!\":\"text\"}}}}",
             long_name, long_name, long_name);
    app_t *app = load_ok(json);
    const app_type_t *t = app_find_type(app, long_name, strlen(long_name));
    assert_true(strlen(t->table) <= 63);
    for (size_t i = 0; i < t->nfields; i++) {
        const char *c = t->fields[i].column;
        assert_true(strlen(c) <= 63);
        assert_int_equal(strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(c));
    }
    assert_string_not_equal(t->fields[5].column, t->fields[6].column);
    app_free(app);
}

static void tables_collide_get_hash(void **state)
{
    (void)state;
    app_t *app = load_ok("{\"name\":\"c\",\"types\":{\"A.b\":{},\"A-b\":{}}}");
    assert_string_equal(app->types[0].table, "t_a_b");
    char want[64];
    snprintf(want, sizeof(want), "t_a_b_%08x", (unsigned)fnv1a("A-b"));
    assert_string_equal(app->types[1].table, want);
    app_free(app);
}

static void option_text_sets_option_field(void **state)
{
    (void)state;
    app_t *app = load_ok(WORKFLOW("{\"parameters\":{\"t\":{\"type\":\"Task\",\"querystring\":"
                                  "true}},\"method\":\"GET\",\"expose\":false,\"actions\":[{"
                                  "\"action\":\"make_changes\",\"thing\":\"t\",\"set\":{"
                                  "\"level\":\"'High'\"}},{\"action\":\"delete_thing\","
                                  "\"thing\":\"Result of step 1\"}]}"));
    const app_workflow_t *w = app_find_workflow(app, "w", 1);
    assert_true(w->method_get);
    assert_false(w->expose);
    assert_true(w->params[0].querystring);
    assert_int_equal(w->actions[0].nset, 1);
    assert_int_equal(w->actions[1].kind, ACT_DELETE_THING);
    assert_false(w->actions[1].has_result);
    assert_int_equal(w->actions[1].type, app_type_index(app, app_find_type(app, "Task", 4)));
    app_free(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(todo_example_loads),
        cmocka_unit_test(todo_example_fields),
        cmocka_unit_test(todo_example_rules),
        cmocka_unit_test(todo_example_workflows),
        cmocka_unit_test(broken_definitions_rejected),
        cmocka_unit_test(all_errors_reported),
        cmocka_unit_test(invalid_json_reports_position),
        cmocka_unit_test(duplicate_json_keys_rejected),
        cmocka_unit_test(oversized_definition_rejected),
        cmocka_unit_test(too_many_fields_rejected),
        cmocka_unit_test(missing_file_is_io_error),
        cmocka_unit_test(null_error_list_allowed),
        cmocka_unit_test(user_type_added),
        cmocka_unit_test(settings_read),
        cmocka_unit_test(public_type_without_privacy),
        cmocka_unit_test(find_type_by_url),
        cmocka_unit_test(find_field_any_spelling),
        cmocka_unit_test(vtype_names),
        cmocka_unit_test(colliding_columns_get_hash),
        cmocka_unit_test(long_names_fit_sql),
        cmocka_unit_test(tables_collide_get_hash),
        cmocka_unit_test(option_text_sets_option_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
