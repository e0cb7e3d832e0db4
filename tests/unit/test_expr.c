/* Unit tests for the expression language: parsing and type errors with columns, evaluation,
 * compilation to store conditions checked against a small interpreter, and robustness on garbage.
 *
 * The app is built by hand here, so these tests do not depend on the app loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

/* ---- the app ---------------------------------------------------------------------------- */

enum { T_USER, T_TASK, T_UNIT, NTYPES };

enum { F_ID, F_CREATED_DATE, F_MODIFIED_DATE, F_CREATED_BY, F_SLUG };
enum { U_EMAIL = 5, U_NAME, U_ROLE, U_MANAGER, U_ROLES, U_FRIENDS, U_NFIELDS };
enum {
    K_TITLE = 5,
    K_DONE,
    K_DUE,
    K_ESTIMATE,
    K_PRIORITY,
    K_TAGS,
    K_ASSIGNEE,
    K_NOTES,
    K_WATCHERS,
    K_WHERE,
    K_COUNTS,
    K_NFIELDS
};
enum { R_UNIT_NAME = 5, R_UNIT, R_NFIELDS };

static app_field_t user_fields[U_NFIELDS];
static app_field_t task_fields[K_NFIELDS];
static app_field_t unit_fields[R_NFIELDS];
static app_type_t types[NTYPES];
static const char *priority_values[] = {"Low", "Medium", "High"};
static app_option_set_t option_sets[1];
static app_t app;

static app_vtype_t vtype(app_kind_t kind, bool list, int ref, int set)
{
    app_vtype_t t = {.kind = kind, .is_list = list, .ref_type = ref, .option_set = set};
    return t;
}

static app_vtype_t scalar(app_kind_t kind)
{
    return vtype(kind, false, -1, -1);
}

static void add_field(app_type_t *t, const char *name, app_vtype_t type, app_builtin_t builtin)
{
    app_field_t *f = &t->fields[t->nfields];
    f->name = name;
    f->id = name;
    f->squashed = name;
    f->column = name;
    f->type = type;
    f->builtin = builtin;
    f->index = (int)t->nfields;
    t->nfields++;
}

static void add_type(int index, const char *name, app_field_t *fields)
{
    app_type_t *t = &types[index];
    t->name = name;
    t->url_name = name;
    t->table = name;
    t->expose = true;
    t->is_user = index == T_USER;
    t->fields = fields;
    add_field(t, "_id", scalar(FK_TEXT), BUILTIN_ID);
    add_field(t, "Created Date", scalar(FK_DATE), BUILTIN_CREATED_DATE);
    add_field(t, "Modified Date", scalar(FK_DATE), BUILTIN_MODIFIED_DATE);
    add_field(t, "Created By", vtype(FK_THING, false, T_USER, -1), BUILTIN_CREATED_BY);
    add_field(t, "Slug", scalar(FK_TEXT), BUILTIN_SLUG);
    if (index == T_USER)
        add_field(t, "email", scalar(FK_TEXT), BUILTIN_EMAIL);
}

static int setup_app(void **state)
{
    (void)state;
    add_type(T_USER, "User", user_fields);
    add_field(&types[T_USER], "name", scalar(FK_TEXT), BUILTIN_NONE);
    add_field(&types[T_USER], "role", scalar(FK_TEXT), BUILTIN_NONE);
    add_field(&types[T_USER], "manager", vtype(FK_THING, false, T_USER, -1), BUILTIN_NONE);
    add_field(&types[T_USER], "roles", vtype(FK_TEXT, true, -1, -1), BUILTIN_NONE);
    add_field(&types[T_USER], "friends", vtype(FK_THING, true, T_USER, -1), BUILTIN_NONE);

    app_type_t *task = &types[T_TASK];
    add_type(T_TASK, "Task", task_fields);
    add_field(task, "title", scalar(FK_TEXT), BUILTIN_NONE);
    add_field(task, "done", scalar(FK_BOOL), BUILTIN_NONE);
    add_field(task, "due", scalar(FK_DATE), BUILTIN_NONE);
    add_field(task, "estimate", scalar(FK_NUMBER), BUILTIN_NONE);
    add_field(task, "priority", vtype(FK_OPTION, false, -1, 0), BUILTIN_NONE);
    add_field(task, "tags", vtype(FK_TEXT, true, -1, -1), BUILTIN_NONE);
    add_field(task, "assignee", vtype(FK_THING, false, T_USER, -1), BUILTIN_NONE);
    add_field(task, "notes", scalar(FK_TEXT), BUILTIN_NONE);
    add_field(task, "watchers", vtype(FK_THING, true, T_USER, -1), BUILTIN_NONE);
    add_field(task, "where", scalar(FK_GEO), BUILTIN_NONE);
    add_field(task, "counts", vtype(FK_NUMBER, true, -1, -1), BUILTIN_NONE);

    add_type(T_UNIT, "Rental Unit", unit_fields);
    add_field(&types[T_UNIT], "Unit name", scalar(FK_TEXT), BUILTIN_NONE);
    add_field(&types[T_UNIT], "Unit", scalar(FK_NUMBER), BUILTIN_NONE);

    option_sets[0].name = "Priority";
    option_sets[0].values = priority_values;
    option_sets[0].nvalues = 3;

    app.name = "test";
    app.types = types;
    app.ntypes = NTYPES;
    app.user_type = T_USER;
    app.option_sets = option_sets;
    app.noption_sets = 1;
    return 0;
}

static expr_scope_t rule_scope(int type)
{
    expr_scope_t s = {.app = &app, .this_type = type};
    return s;
}

static app_param_t wf_params[3];
static app_vtype_t wf_steps[2];

/* Parameters task (Task), email (text) and code (optional text); step 1 gives a Task and step 2
 * a User. */
static expr_scope_t workflow_scope(size_t nsteps)
{
    wf_params[0] = (app_param_t){.name = "task", .type = vtype(FK_THING, false, T_TASK, -1)};
    wf_params[1] = (app_param_t){.name = "email", .type = scalar(FK_TEXT)};
    wf_params[2] = (app_param_t){.name = "code", .type = scalar(FK_TEXT), .optional = true};
    wf_steps[0] = vtype(FK_THING, false, T_TASK, -1);
    wf_steps[1] = vtype(FK_THING, false, T_USER, -1);
    expr_scope_t s = {.app = &app,
                      .this_type = -1,
                      .params = wf_params,
                      .nparams = 3,
                      .steps = wf_steps,
                      .nsteps = nsteps};
    return s;
}

/* ---- parsing helpers -------------------------------------------------------------------- */

static arena_t *arena;

static int setup_arena(void **state)
{
    (void)state;
    arena = arena_new(64 * 1024, 256u * 1024 * 1024);
    return arena == NULL ? -1 : 0;
}

static int teardown_arena(void **state)
{
    (void)state;
    arena_free(arena);
    arena = NULL;
    return 0;
}

static expr_t *parse_ok(const expr_scope_t *scope, const char *text)
{
    expr_t *e = NULL;
    expr_error_t err;
    const err_t rc = expr_parse(arena, scope, text, &e, &err);
    if (rc != ERR_OK)
        fail_msg("%s\n  column %d: %s", text, err.column, err.message);
    assert_non_null(e);
    return e;
}

static expr_t *parse_bool(const expr_scope_t *scope, const char *text)
{
    expr_t *e = parse_ok(scope, text);
    if (e->type.kind != FK_BOOL || e->type.is_list)
        fail_msg("%s: not a yes/no expression", text);
    return e;
}

static void parse_fails(const expr_scope_t *scope, const char *text, int column,
                        const char *message)
{
    expr_t *e = (expr_t *)&e;
    expr_error_t err;
    const err_t rc = expr_parse(arena, scope, text, &e, &err);
    if (rc != ERR_INVALID)
        fail_msg("%s: expected ERR_INVALID, got %d", text, rc);
    assert_null(e);
    if (err.column != column || strcmp(err.message, message) != 0)
        fail_msg("%s\n  expected column %d: %s\n  got      column %d: %s", text, column, message,
                 err.column, err.message);
}

/* ---- parsing: successes ----------------------------------------------------------------- */

static void parse_rule_examples(void **state)
{
    (void)state;
    const expr_scope_t task = rule_scope(T_TASK);
    const expr_scope_t user = rule_scope(T_USER);
    static const char *const task_rules[] = {
        "This Task's Creator is Current User",
        "This Task's Created By is Current User",
        "This Task's assignee is Current User",
        "Current User is logged in",
        "Current User is not logged in",
        "This Task's done is yes",
        "This Task's estimate > 3",
        "This Task's estimate <= 2.5",
        "This Task's estimate >= -1",
        "This Task's estimate < 10",
        "This Task's title is 'Buy milk'",
        "This Task's title is not 'x'",
        "This Task's priority is 'High'",
        "'Low' is not This Task's priority",
        "This Task's tags contains 'home'",
        "This Task's tags doesn't contain 'x'",
        "This Task's tags doesn\xE2\x80\x99t contain 'x'",
        "This Task's notes is empty",
        "This Task's notes is not empty",
        "This Task's assignee's name is 'Bob'",
        "This Task\xE2\x80\x99s assignee\xE2\x80\x99s name is 'Bob'",
        "Current User's name is 'admin'",
        "Current User's email is not empty",
        "(This Task's done is yes or This Task's estimate > 3) and not This Task's title is empty",
        "This Task's due < Current date/time",
        "This Task's Created Date < Current date/time",
        "This Task's watchers contains Current User",
        "This Task's title contains 'milk'",
        "This Task's done",
        "not This Task's done",
        "This Task's title is 'it''s'",
        "This Task's _id is 'x'",
        "This Task's Slug is empty",
        "This Task's assignee is logged in",
        "Current User's roles contains This Task's title",
        "  This   Task's   title   is   'a'  ",
        "This Task's title is This Task's notes",
        "This Task's counts contains 3",
        "This Task's where is empty",
        "yes",
    };
    for (size_t i = 0; i < sizeof(task_rules) / sizeof(task_rules[0]); i++)
        parse_bool(&task, task_rules[i]);

    parse_bool(&user, "This User is Current User");
    parse_bool(&user, "This User's manager's manager's name is 'Bob'");
    const expr_scope_t unit = rule_scope(T_UNIT);
    parse_bool(&unit, "This Rental Unit's Unit name is 'A'");
    parse_bool(&unit, "This Rental Unit's Unit > 3");
}

static void parse_builds_expected_tree(void **state)
{
    (void)state;
    const expr_scope_t task = rule_scope(T_TASK);

    expr_t *e = parse_bool(&task, "This Task's Creator is Current User");
    assert_int_equal(e->kind, EXPR_CMP);
    assert_int_equal(e->op, CMP_EQ);
    assert_int_equal(e->left->kind, EXPR_FIELD);
    assert_ptr_equal(e->left->field, &task_fields[F_CREATED_BY]);
    assert_int_equal(e->left->left->kind, EXPR_THIS);
    assert_int_equal(e->right->kind, EXPR_CURRENT_USER);

    e = parse_bool(&task, "This Task's assignee's name is not 'Bob'");
    assert_int_equal(e->op, CMP_NE);
    assert_ptr_equal(e->left->field, &user_fields[U_NAME]);
    assert_ptr_equal(e->left->left->field, &task_fields[K_ASSIGNEE]);
    assert_int_equal(e->right->literal.kind, VAL_TEXT);
    assert_int_equal(e->right->column, 36);

    e = parse_bool(&task, "This Task's priority is 'High'");
    assert_int_equal(e->right->type.kind, FK_OPTION);
    assert_int_equal(e->right->type.option_set, 0);

    e = parse_bool(&task, "This Task's title is 'it''s'");
    assert_int_equal(e->right->literal.u.s.n, 4);
    assert_memory_equal(e->right->literal.u.s.p, "it's", 4);

    e = parse_bool(&task, "yes or no and no");
    assert_int_equal(e->kind, EXPR_OR);
    assert_int_equal(e->right->kind, EXPR_AND);

    e = parse_bool(&task, "not This Task's done is yes and yes");
    assert_int_equal(e->kind, EXPR_AND);
    assert_int_equal(e->left->kind, EXPR_NOT);
    assert_int_equal(e->left->left->kind, EXPR_CMP);

    const expr_scope_t unit = rule_scope(T_UNIT);
    e = parse_bool(&unit, "This Rental Unit's Unit name is 'A'");
    assert_ptr_equal(e->left->field, &unit_fields[R_UNIT_NAME]);
    e = parse_bool(&unit, "This Rental Unit's Unit > 3");
    assert_ptr_equal(e->left->field, &unit_fields[R_UNIT]);
}

static void parse_workflow_scope(void **state)
{
    (void)state;
    const expr_scope_t wf = workflow_scope(2);

    expr_t *e = parse_bool(&wf, "task's Creator is Current User");
    assert_int_equal(e->left->left->kind, EXPR_PARAM);
    assert_int_equal(e->left->left->index, 0);
    parse_bool(&wf, "email is not empty");
    parse_bool(&wf, "code is empty");

    e = parse_ok(&wf, "yes");
    assert_int_equal(e->type.kind, FK_BOOL);
    assert_true(e->literal.u.b);
    e = parse_ok(&wf, "no");
    assert_false(e->literal.u.b);
    e = parse_ok(&wf, "42");
    assert_int_equal(e->type.kind, FK_NUMBER);
    assert_true(e->literal.u.num == 42.0);
    e = parse_ok(&wf, "'text'");
    assert_int_equal(e->type.kind, FK_TEXT);
    e = parse_ok(&wf, "email");
    assert_int_equal(e->kind, EXPR_PARAM);
    assert_int_equal(e->index, 1);

    e = parse_ok(&wf, "Result of step 1");
    assert_int_equal(e->kind, EXPR_STEP);
    assert_int_equal(e->index, 0);
    assert_int_equal(e->type.ref_type, T_TASK);
    e = parse_ok(&wf, "Result of step 1's title");
    assert_int_equal(e->type.kind, FK_TEXT);
    e = parse_ok(&wf, "Result of step 2's name");
    assert_ptr_equal(e->field, &user_fields[U_NAME]);
    e = parse_ok(&wf, "Current date/time");
    assert_int_equal(e->type.kind, FK_DATE);
    e = parse_ok(&wf, "task");
    assert_int_equal(e->type.kind, FK_THING);
}

/* A parameter whose name starts with a keyword is matched whole. */
static void parse_longest_parameter_wins(void **state)
{
    (void)state;
    app_param_t params[] = {
        {.name = "not done", .type = scalar(FK_BOOL)},
        {.name = "empty box", .type = scalar(FK_TEXT)},
        {.name = "notes", .type = scalar(FK_TEXT)},
    };
    expr_scope_t s = {.app = &app, .this_type = -1, .params = params, .nparams = 3};

    expr_t *e = parse_bool(&s, "not done");
    assert_int_equal(e->kind, EXPR_PARAM);
    e = parse_bool(&s, "notes is empty box");
    assert_int_equal(e->kind, EXPR_CMP);
    assert_int_equal(e->right->index, 1);
    e = parse_bool(&s, "notes is empty");
    assert_int_equal(e->kind, EXPR_IS_EMPTY);
}

/* ---- parsing: failures ------------------------------------------------------------------ */

typedef struct {
    int scope; /* a type index, or -1 for the workflow scope */
    const char *text;
    int column;
    const char *message;
} failure_case_t;

static const failure_case_t failures[] = {
    {T_TASK, "This Task's ownr is Current User", 13, "unknown field \"ownr\" on type Task"},
    {T_TASK, "This Task's estimate > 'a'", 22, "cannot compare number with text"},
    {T_TASK, "This Task's estimate is 'a'", 22, "cannot compare number with text"},
    {T_TASK, "This Task's estimate > yes", 22, "cannot compare number with yes/no"},
    {T_TASK, "This Task's title and yes", 1,
     "expected a yes/no expression before \"and\", found text"},
    {T_TASK, "yes or This Task's title", 8,
     "expected a yes/no expression after \"or\", found text"},
    {T_TASK, "not 3", 5, "expected a yes/no expression after \"not\", found number"},
    {-1, "This Task's title is 'a'", 1, "This is not available here"},
    {T_TASK, "foo is yes", 1, "unknown name \"foo\""},
    {T_TASK, "This Task's priority is 'Urgent'", 25,
     "option \"Urgent\" is not in option set Priority"},
    {T_TASK, "'Urgent' is This Task's priority", 1,
     "option \"Urgent\" is not in option set Priority"},
    {T_TASK, "This Task's title is", 21, "expected a value, found the end of the expression"},
    {T_TASK, "This Task's done is yes and", 28,
     "expected a value, found the end of the expression"},
    {T_TASK, "This Task's title is 'abc", 22, "quoted text has no closing quote"},
    {T_TASK, "This User is Current User", 6, "this condition is about Task, not User"},
    {T_TASK, "This Foo's x is yes", 6, "unknown type \"Foo\" after \"This\""},
    {T_TASK, "This", 5, "expected a type name after \"This\", found the end of the expression"},
    {T_TASK, "This Task's estimate is 3 3", 27,
     "expected \"and\", \"or\" or the end of the expression, found \"3\""},
    {T_TASK, "This Task's title iz 'a'", 19,
     "expected an operator such as \"is\", \"contains\" or \">\", found \"iz\""},
    {T_TASK, "(This Task's done is yes", 25,
     "expected \")\" to close the \"(\" at column 1, found the end of the expression"},
    {T_TASK, "This Task's done is yes)", 24,
     "expected \"and\", \"or\" or the end of the expression, found \")\""},
    {T_TASK, "This Task is logged in", 11, "\"logged in\" applies only to a User, found Task"},
    {T_TASK, "This Task's estimate contains 3", 22,
     "\"contains\" needs a list or a text on its left, found number"},
    {T_TASK, "This Task's tags contains 3", 18, "cannot compare text with number"},
    {T_TASK, "This Task's title contains 3", 19, "a text can only contain a text, found number"},
    {T_TASK, "This Task's tags contains This Task's tags", 18,
     "\"contains\" needs a single value on its right, found list of text"},
    {T_TASK, "This Task's tags is 'a'", 18,
     "\"is\" cannot compare a list of text, so use \"contains\" or \"is empty\" instead"},
    {T_TASK, "This Task's done's x is yes", 17, "\"'s\" needs a thing on its left, found yes/no"},
    {T_TASK, "This Task's watchers's name is 'a'", 21,
     "cannot read a field of a list of User, only of a single thing"},
    {T_TASK, "This Task's where is This Task's where", 19,
     "\"is\" cannot compare values of type geographic address"},
    {T_TASK, "This Task's done > no", 18, "\">\" needs numbers, dates or texts, found yes/no"},
    {T_TASK, "Result of step 1", 16,
     "Result of step 1 is not available because no step comes before this one"},
    {-1, "Result of step 3", 16,
     "Result of step 3 is not available because only steps 1 to 2 come before this one"},
    {-1, "Result of step", 15,
     "expected a step number after \"Result of step\", found the end of the expression"},
    {T_TASK, "This Task's assignee is Current User's name", 22, "cannot compare User with text"},
    {T_TASK, "This Task's assignee is This Task", 22, "cannot compare User with Task"},
    {T_TASK, "", 1, "expression is empty"},
    {T_TASK, "   ", 4, "expression is empty"},
    {T_TASK, "This Task's estimate > 3abc", 24, "invalid number \"3abc\""},
    {T_TASK, "This Task's estimate > 1.2.3", 24, "invalid number \"1.2.3\""},
    {T_TASK, "This Task's title is '\xff'", 23, "expression is not valid UTF-8"},
    {T_TASK, "Current User's nme is 'a'", 16, "unknown field \"nme\" on type User"},
    {T_TASK, "Current User's", 15,
     "expected a field name after \"'s\", found the end of the expression"},
    {T_TASK, "This Task's title = 'a'", 19,
     "expected an operator such as \"is\", \"contains\" or \">\", found \"=\""},
    {T_TASK, "= 'a'", 1, "expected a value, found \"=\""},
    {-1, "emial is empty", 1, "unknown name \"emial\""},
    {T_TASK, "This Task's title is '\xC3\xA9' or zz", 29, "unknown name \"zz\""},
    {-1, "task's Creator is Current User and code", 36,
     "expected a yes/no expression after \"and\", found text"},
    {T_TASK, "This Task's title + 1 is 'a'", 19,
     "\"+\" needs two numbers, or a date on its left, found text and number"},
    {T_TASK, "1 + This Task's due > 2", 3,
     "\"+\" needs two numbers, or a date on its left, found number and date"},
    {T_TASK, "This Task's estimate * 'a' is 1", 22,
     "\"*\" needs two numbers, found number and text"},
    {T_TASK, "Current date/time * 2 > 1", 19, "\"*\" needs two numbers, found date and number"},
    {T_TASK, "This Task's due + 3 is Current date/time", 21,
     "expected a time unit (seconds, minutes, hours, days or weeks), found \"is\""},
    {T_TASK, "This Task's due + 3", 20,
     "expected a time unit (seconds, minutes, hours, days or weeks), found the end of the "
     "expression"},
    {T_TASK, "This Task's due + 'a' days > Current date/time", 17,
     "expected a number of time units after \"+\" on a date, found text"},
    {T_TASK, "This Task's due < Current date/time + 7 dayz", 41,
     "expected a time unit (seconds, minutes, hours, days or weeks), found \"dayz\""},
    {T_TASK, "This Task's due < Current date/time + 7 days + 1", 49,
     "expected a time unit (seconds, minutes, hours, days or weeks), found the end of the "
     "expression"},
    {T_TASK, "This Task's due is 3 days", 17, "cannot compare date with number"},
    {T_TASK, "This Task's title:count > 1", 18, "\":count\" needs a list on its left, found text"},
    {T_TASK, "This Task's estimate:lowercase is 'a'", 21,
     "\":lowercase\" needs a text on its left, found number"},
    {T_TASK, "This Task's tags:trimmed is 'a'", 17,
     "\":trimmed\" needs a text on its left, found list of text"},
    {T_TASK, "This Task's title:foo is 'a'", 19,
     "expected \"count\", \"lowercase\", \"uppercase\", \"trimmed\", \"number of "
     "characters\" or \"QR code\" after \":\", found \"foo\""},
    {T_TASK, "This Task's estimate:QR code is 'a'", 21,
     "\":QR code\" needs a text on its left, found number"},
    {T_TASK, "This Task's tags:count is 'a'", 24, "cannot compare number with text"},
    {T_TASK, "This Task's title:number of characters is 'a'", 40,
     "cannot compare number with text"},
    {T_TASK, "This Task's title:uppercase > 3", 29, "cannot compare text with number"},
    {T_TASK, "This Task's tags:count's x is 1", 23,
     "\"'s\" needs a thing on its left, found number"},
};

static void parse_failures_name_column_and_word(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
        const failure_case_t *c = &failures[i];
        const expr_scope_t scope = c->scope < 0 ? workflow_scope(2) : rule_scope(c->scope);
        parse_fails(&scope, c->text, c->column, c->message);
    }
}

static void parse_limits_rejected(void **state)
{
    (void)state;
    const expr_scope_t task = rule_scope(T_TASK);
    static char text[8192];

    /* Exactly the limit parses; one byte more does not. */
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "yes");
    while (n + 7 <= 4096)
        n += (size_t)snprintf(text + n, sizeof(text) - n, " and no");
    while (n < 4096)
        text[n++] = ' ';
    text[n] = '\0';
    assert_int_equal(strlen(text), 4096);
    expr_t *e = parse_bool(&task, text);
    bool b = true;
    expr_env_t env = {.app = &app, .arena = arena};
    assert_int_equal(expr_eval_bool(e, &env, &b), ERR_OK);
    assert_false(b);

    text[4096] = ' ';
    text[4097] = '\0';
    parse_fails(&task, text, 0, "expression is longer than 4096 bytes");

    /* 64 levels of parentheses are accepted, 65 are not. */
    n = 0;
    for (int i = 0; i < 64; i++)
        text[n++] = '(';
    n += (size_t)snprintf(text + n, sizeof(text) - n, "yes");
    for (int i = 0; i < 64; i++)
        text[n++] = ')';
    text[n] = '\0';
    parse_bool(&task, text);
    memmove(text + 1, text, n + 1);
    text[0] = '(';
    parse_fails(&task, text, 65, "expression nests deeper than 64 levels");

    n = 0;
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "not ");
    snprintf(text + n, sizeof(text) - n, "yes");
    parse_fails(&task, text, 257, "expression nests deeper than 64 levels");
    parse_bool(&task, text + 4);

    /* 16 fields in a row are accepted, 17 are not. */
    n = (size_t)snprintf(text, sizeof(text), "Current User");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "'s manager");
    parse_ok(&task, text);
    snprintf(text + n, sizeof(text) - n, "'s name is 'x'");
    parse_fails(&task, text, 173, "expression reads more than 16 fields in a row");

    /* Thousands of unmatched parentheses stop at the depth limit, not the stack's. */
    memset(text, '(', 4000);
    text[4000] = '\0';
    parse_fails(&task, text, 65, "expression nests deeper than 64 levels");
}

/* ---- evaluation ------------------------------------------------------------------------- */

#define ID_BOB "1700000000000x1"
#define ID_ADMIN "1700000000000x2"
#define ID_NONAME "1700000000000x3"
#define ID_LOWER_BOB "1700000000000x4"
#define ID_GONE "1700000000000x999"
#define NOW_MS 5000

typedef struct {
    value_t *values;
} row_t;

typedef struct {
    row_t rows[64];
    size_t nrows;
} table_t;

static table_t tables[NTYPES];

static value_t val_text(const char *s)
{
    return s == NULL ? value_null() : value_text(s, strlen(s));
}

static value_t val_json(const char *s)
{
    return s == NULL ? value_null() : value_json(s, strlen(s));
}

static value_t *row_add(int type)
{
    table_t *t = &tables[type];
    assert_true(t->nrows < sizeof(t->rows) / sizeof(t->rows[0]));
    value_t *values = arena_calloc(arena, types[type].nfields, sizeof(value_t));
    assert_non_null(values);
    t->rows[t->nrows++].values = values;
    return values;
}

static const row_t *row_find(int type, const char *id, size_t n)
{
    const table_t *t = &tables[type];
    for (size_t i = 0; i < t->nrows; i++) {
        const value_t v = t->rows[i].values[F_ID];
        if (v.kind == VAL_TEXT && v.u.s.n == n && memcmp(v.u.s.p, id, n) == 0)
            return &t->rows[i];
    }
    return NULL;
}

static int loads;

static err_t load_field(void *ud, const app_type_t *type, const char *id, size_t id_len,
                        const app_field_t *field, value_t *out)
{
    (void)ud;
    loads++;
    const int index = (int)(type - types);
    assert_true(index >= 0 && index < NTYPES);
    assert_ptr_equal(&type->fields[field->index], field);
    const row_t *row = row_find(index, id, id_len);
    *out = row != NULL ? row->values[field->index] : value_null();
    return ERR_OK;
}

static void add_user(const char *id, const char *name, const char *manager, const char *roles,
                     const char *friends)
{
    value_t *u = row_add(T_USER);
    u[F_ID] = val_text(id);
    u[F_CREATED_DATE] = value_date(1000);
    u[F_CREATED_BY] = val_text(id);
    u[U_EMAIL] = val_text(name != NULL ? "someone@example.com" : NULL);
    u[U_NAME] = val_text(name);
    u[U_MANAGER] = val_text(manager);
    u[U_ROLES] = val_json(roles);
    u[U_FRIENDS] = val_json(friends);
}

/* Users: Bob (manager admin), admin, a user with no name whose manager is gone, and bob. Friends
 * lists include a user that does not exist. */
static void add_users(void)
{
    memset(tables, 0, sizeof(tables));
    add_user(ID_BOB, "Bob", ID_ADMIN, "[\"x\",\"Buy milk\"]",
             "[\"" ID_ADMIN "\",\"" ID_NONAME "\"]");
    add_user(ID_ADMIN, "admin", NULL, NULL, NULL);
    add_user(ID_NONAME, NULL, ID_GONE, "[\"y\"]", "[\"" ID_GONE "\"]");
    add_user(ID_LOWER_BOB, "bob", ID_BOB, NULL, "[\"" ID_BOB "\"]");
}

/* The task most truth-table rows read: created by admin, assigned to Bob. */
static value_t *add_sample_task(void)
{
    value_t *t = row_add(T_TASK);
    t[F_ID] = val_text("1700000000000x100");
    t[F_CREATED_DATE] = value_date(1000);
    t[F_CREATED_BY] = val_text(ID_ADMIN);
    t[K_TITLE] = val_text("Buy milk");
    t[K_DONE] = value_bool(true);
    t[K_DUE] = value_date(1000);
    t[K_ESTIMATE] = value_number(3);
    t[K_PRIORITY] = val_text("High");
    t[K_TAGS] = val_json("[\"home\",\"work\"]");
    t[K_ASSIGNEE] = val_text(ID_BOB);
    t[K_WATCHERS] = val_json("[\"" ID_BOB "\"]");
    t[K_COUNTS] = val_json("[1, 2.5]");
    return t;
}

static expr_env_t env_for(const char *user_id, int type, const value_t *values)
{
    expr_env_t env = {
        .app = &app,
        .user_id = user_id,
        .this_type = type >= 0 ? &types[type] : NULL,
        .this_values = values,
        .now_ms = NOW_MS,
        .arena = arena,
        .load_field = load_field,
    };
    return env;
}

static bool eval_rule(const char *rule, int type, const char *user_id, const value_t *values)
{
    const expr_scope_t scope = rule_scope(type);
    expr_t *e = parse_bool(&scope, rule);
    const expr_env_t env = env_for(user_id, type, values);
    bool b;
    const err_t rc = expr_eval_bool(e, &env, &b);
    if (rc != ERR_OK)
        fail_msg("%s: eval returned %d", rule, rc);
    return b;
}

typedef struct {
    const char *rule;
    const char *user; /* NULL = logged out */
    bool expected;
} truth_row_t;

static const truth_row_t task_truths[] = {
    {"This Task's Creator is Current User", ID_ADMIN, true},
    {"This Task's Creator is Current User", ID_BOB, false},
    {"This Task's Creator is Current User", NULL, false},
    {"This Task's Creator is not Current User", ID_ADMIN, false},
    {"This Task's Creator is not Current User", ID_BOB, true},
    {"This Task's Creator is not Current User", NULL, true},
    {"This Task's assignee is Current User", ID_BOB, true},
    {"Current User is logged in", ID_BOB, true},
    {"Current User is logged in", NULL, false},
    {"Current User is not logged in", NULL, true},
    {"Current User is not logged in", ID_BOB, false},
    {"This Task's done is yes", NULL, true},
    {"This Task's done is no", NULL, false},
    {"This Task's done", NULL, true},
    {"This Task's estimate > 3", NULL, false},
    {"This Task's estimate >= 3", NULL, true},
    {"This Task's estimate <= 2.5", NULL, false},
    {"2.5 < This Task's estimate", NULL, true},
    {"This Task's title is 'Buy milk'", NULL, true},
    {"This Task's title is 'buy milk'", NULL, false},
    {"This Task's title is not 'x'", NULL, true},
    {"This Task's title contains 'MILK'", NULL, true},
    {"This Task's title doesn't contain 'bread'", NULL, true},
    {"This Task's title < 'C'", NULL, true},
    {"This Task's priority is 'High'", NULL, true},
    {"This Task's priority is not 'Low'", NULL, true},
    {"This Task's tags contains 'home'", NULL, true},
    {"This Task's tags contains 'hom'", NULL, false},
    {"This Task's tags doesn't contain 'x'", NULL, true},
    {"This Task's counts contains 2.5", NULL, true},
    {"This Task's counts contains 2", NULL, false},
    {"This Task's watchers contains Current User", ID_BOB, true},
    {"This Task's watchers contains Current User", ID_ADMIN, false},
    {"This Task's watchers contains Current User", NULL, false},
    {"This Task's watchers doesn't contain Current User", NULL, true},
    {"This Task's notes is empty", NULL, true},
    {"This Task's notes is not empty", NULL, false},
    {"This Task's notes is This Task's Slug", NULL, true},
    {"This Task's assignee's name is 'Bob'", NULL, true},
    {"This Task's assignee's manager's name is 'admin'", NULL, true},
    {"This Task's assignee's manager is Current User", ID_ADMIN, true},
    {"This Task's assignee is logged in", ID_BOB, true},
    {"This Task's assignee is logged in", ID_ADMIN, false},
    {"This Task's assignee is not logged in", NULL, true},
    {"Current User's name is 'admin'", ID_ADMIN, true},
    {"Current User's name is 'admin'", ID_BOB, false},
    {"Current User's name is 'admin'", NULL, false},
    {"Current User's email is not empty", ID_BOB, true},
    {"Current User's email is not empty", NULL, false},
    {"Current User's name is empty", NULL, true},
    {"Current User's roles contains This Task's title", ID_BOB, true},
    {"Current User's roles contains This Task's title", ID_ADMIN, false},
    {"(This Task's done is yes or This Task's estimate > 3) and not This Task's title is empty",
     NULL, true},
    {"This Task's due < Current date/time", NULL, true},
    {"This Task's due > Current date/time", NULL, false},
    {"(This Task's done is yes) is no", NULL, false},
    {"This Task's tags:count is 2", NULL, true},
    {"This Task's counts:count is 2", NULL, true},
    {"This Task's watchers:count > 0", NULL, true},
    {"Current User's roles:count is 0", ID_ADMIN, true},
    {"Current User's roles:count is 2", ID_BOB, true},
    {"Current User's roles:count is 0", NULL, true},
    {"This Task's estimate * 2 is 6", NULL, true},
    {"This Task's estimate + 1 * 2 is 5", NULL, true},
    {"(This Task's estimate + 1) * 2 is 8", NULL, true},
    {"This Task's estimate - 1 - 1 is 1", NULL, true},
    {"This Task's estimate / 2 is 1.5", NULL, true},
    {"12 / This Task's estimate / 2 is 2", NULL, true},
    {"This Task's estimate / 0 is empty", NULL, true},
    {"This Task's estimate - 4 < 0", NULL, true},
    {"This Task's estimate-4 < 0", NULL, true},
    {"This Task's estimate - -1 is 4", NULL, true},
    {"This Task's estimate + Current User's roles:count is 5", ID_BOB, true},
    {"This Task's title:lowercase is 'buy milk'", NULL, true},
    {"This Task's title:uppercase is 'BUY MILK'", NULL, true},
    {"This Task's title:number of characters is 8", NULL, true},
    {"'\xC3\xA9t\xC3\xA9':number of characters is 3", NULL, true},
    {"'  a b  ':trimmed is 'a b'", NULL, true},
    {"'   ':trimmed is empty", NULL, true},
    {"This Task's notes:number of characters is 0", NULL, true},
    {"This Task's notes:lowercase is empty", NULL, true},
    {"This Task's priority:lowercase is 'high'", NULL, true},
    {"This Task's title:lowercase:uppercase is 'BUY MILK'", NULL, true},
    {"This Task's due + 4 seconds is Current date/time", NULL, true},
    {"This Task's due < Current date/time - 3 seconds", NULL, true},
    {"This Task's due < Current date/time - 4 seconds", NULL, false},
    {"Current date/time + 1 days > Current date/time + 23 hours", NULL, true},
    {"Current date/time + 1 day is Current date/time + 24 hours", NULL, true},
    {"Current date/time + 1 week is Current date/time + 7 days", NULL, true},
    {"Current date/time + 2 minutes is Current date/time + 120 seconds", NULL, true},
    {"Current date/time - 1.5 hours is Current date/time - 90 minutes", NULL, true},
    {"This Task's due + 1 weeks > Current date/time", NULL, true},
    {"This Task's due + This Task's estimate seconds > Current date/time", NULL, false},
    {"This Task's due + 100000000000000000000 days is empty", NULL, true},
    {"This Task's notes:trimmed is This Task's Slug", NULL, true},
};

static void eval_truth_table(void **state)
{
    (void)state;
    add_users();
    const value_t *task = add_sample_task();
    for (size_t i = 0; i < sizeof(task_truths) / sizeof(task_truths[0]); i++) {
        const truth_row_t *r = &task_truths[i];
        const bool got = eval_rule(r->rule, T_TASK, r->user, task);
        if (got != r->expected)
            fail_msg("%s as %s: expected %s", r->rule, r->user ? r->user : "logged out",
                     r->expected ? "yes" : "no");
    }

    const value_t *bob = tables[T_USER].rows[0].values;
    assert_true(eval_rule("This User is Current User", T_USER, ID_BOB, bob));
    assert_false(eval_rule("This User is Current User", T_USER, ID_ADMIN, bob));
    assert_false(eval_rule("This User is Current User", T_USER, NULL, bob));
    assert_true(eval_rule("This User is not Current User", T_USER, NULL, bob));
    assert_true(eval_rule("This User is logged in", T_USER, ID_BOB, bob));
    assert_false(eval_rule("This User is logged in", T_USER, NULL, bob));
}

/* An anonymous caller is nobody: "is" with a logged-out Current User never holds, even against
 * an empty value. */
static void eval_logged_out_user_matches_nothing(void **state)
{
    (void)state;
    add_users();
    value_t *task = add_sample_task();
    task[F_CREATED_BY] = value_null();
    task[K_ASSIGNEE] = value_null();

    assert_false(eval_rule("This Task's Creator is Current User", T_TASK, NULL, task));
    assert_true(eval_rule("This Task's Creator is not Current User", T_TASK, NULL, task));
    assert_false(eval_rule("Current User is This Task's assignee", T_TASK, NULL, task));
    assert_true(eval_rule("This Task's Creator is empty", T_TASK, NULL, task));
    assert_true(eval_rule("This Task's Creator is This Task's assignee", T_TASK, NULL, task));
    /* A hop through an empty reference gives an empty value, which equals empty. */
    assert_true(eval_rule("This Task's assignee's name is This Task's notes", T_TASK, NULL, task));
}

static void eval_workflow_inputs(void **state)
{
    (void)state;
    add_users();
    add_sample_task();
    const expr_scope_t wf = workflow_scope(2);
    value_t params[3] = {val_text("1700000000000x100"), val_text("a@example.com"), value_null()};
    value_t steps[2] = {val_text("1700000000000x100"), val_text(ID_BOB)};
    expr_env_t env = env_for(ID_ADMIN, -1, NULL);
    env.params = params;
    env.steps = steps;
    bool b;

    assert_int_equal(expr_eval_bool(parse_bool(&wf, "task's Creator is Current User"), &env, &b),
                     ERR_OK);
    assert_true(b);
    assert_int_equal(expr_eval_bool(parse_bool(&wf, "email is not empty"), &env, &b), ERR_OK);
    assert_true(b);
    assert_int_equal(expr_eval_bool(parse_bool(&wf, "code is empty"), &env, &b), ERR_OK);
    assert_true(b);

    value_t v;
    assert_int_equal(expr_eval(parse_ok(&wf, "Result of step 1's title"), &env, &v), ERR_OK);
    assert_int_equal(v.kind, VAL_TEXT);
    assert_memory_equal(v.u.s.p, "Buy milk", 8);
    assert_int_equal(expr_eval(parse_ok(&wf, "Result of step 2's manager's name"), &env, &v),
                     ERR_OK);
    assert_memory_equal(v.u.s.p, "admin", 5);
    assert_int_equal(expr_eval(parse_ok(&wf, "42"), &env, &v), ERR_OK);
    assert_true(v.kind == VAL_NUMBER && v.u.num == 42);
    assert_int_equal(expr_eval(parse_ok(&wf, "'text'"), &env, &v), ERR_OK);
    assert_true(v.kind == VAL_TEXT && v.u.s.n == 4);
    assert_int_equal(expr_eval(parse_ok(&wf, "Current date/time"), &env, &v), ERR_OK);
    assert_true(v.kind == VAL_DATE && v.u.ms == NOW_MS);
    assert_int_equal(expr_eval(parse_ok(&wf, "Current User"), &env, &v), ERR_OK);
    assert_true(v.kind == VAL_TEXT && strcmp(v.u.s.p, ID_ADMIN) == 0);

    /* Short-circuit: the right side is never loaded when the left decides. */
    loads = 0;
    assert_int_equal(expr_eval_bool(parse_bool(&wf, "no and task's title is 'x'"), &env, &b),
                     ERR_OK);
    assert_false(b);
    assert_int_equal(loads, 0);
}

/* Parameters estimate (number), n (number), start (date), words (list of text) and name (text). */
static app_param_t op_params[5];

static expr_scope_t operator_scope(void)
{
    op_params[0] = (app_param_t){.name = "estimate", .type = scalar(FK_NUMBER)};
    op_params[1] = (app_param_t){.name = "n", .type = scalar(FK_NUMBER)};
    op_params[2] = (app_param_t){.name = "start", .type = scalar(FK_DATE)};
    op_params[3] = (app_param_t){.name = "words", .type = vtype(FK_TEXT, true, -1, -1)};
    op_params[4] = (app_param_t){.name = "name", .type = scalar(FK_TEXT)};
    expr_scope_t s = {.app = &app, .this_type = -1, .params = op_params, .nparams = 5};
    return s;
}

static value_t eval_with(const expr_scope_t *scope, const value_t *params, const char *text)
{
    expr_env_t env = env_for(ID_BOB, -1, NULL);
    env.params = params;
    value_t v;
    const err_t rc = expr_eval(parse_ok(scope, text), &env, &v);
    if (rc != ERR_OK)
        fail_msg("%s: eval returned %d", text, rc);
    return v;
}

static void assert_number(value_t v, double expected)
{
    assert_int_equal(v.kind, VAL_NUMBER);
    assert_true(v.u.num == expected);
}

static void eval_operators_on_parameters(void **state)
{
    (void)state;
    const expr_scope_t s = operator_scope();
    value_t params[5] = {value_number(4), value_number(3), value_date(1000),
                         val_json("[\"a\",\"b\",\"c\"]"), val_text("  Ann ")};

    assert_number(eval_with(&s, params, "estimate * 2"), 8);
    assert_number(eval_with(&s, params, "estimate * 2 + n"), 11);
    assert_number(eval_with(&s, params, "n + estimate * 2"), 11);
    assert_number(eval_with(&s, params, "estimate - n - 1"), 0);
    assert_number(eval_with(&s, params, "estimate / n * 3"), 4);
    assert_int_equal(eval_with(&s, params, "estimate / 0").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, params, "estimate / (n - 3)").kind, VAL_NULL);
    assert_number(eval_with(&s, params, "words:count"), 3);
    assert_number(eval_with(&s, params, "words:count * 2"), 6);

    value_t v = eval_with(&s, params, "start + n days");
    assert_int_equal(v.kind, VAL_DATE);
    assert_true(v.u.ms == 1000 + 3 * 86400000LL);
    v = eval_with(&s, params, "start - n hours + estimate minutes");
    assert_true(v.kind == VAL_DATE && v.u.ms == 1000 - 3 * 3600000LL + 4 * 60000LL);
    v = eval_with(&s, params, "start + estimate * 2 seconds");
    assert_true(v.kind == VAL_DATE && v.u.ms == 9000);

    v = eval_with(&s, params, "name:trimmed");
    assert_true(v.kind == VAL_TEXT && v.u.s.n == 3 && memcmp(v.u.s.p, "Ann", 3) == 0);
    v = eval_with(&s, params, "name:trimmed:uppercase");
    assert_true(v.kind == VAL_TEXT && v.u.s.n == 3 && memcmp(v.u.s.p, "ANN", 3) == 0);
    v = eval_with(&s, params, "name:lowercase");
    assert_true(v.kind == VAL_TEXT && v.u.s.n == 6 && memcmp(v.u.s.p, "  ann ", 6) == 0);
    assert_number(eval_with(&s, params, "name:number of characters"), 6);
    assert_number(eval_with(&s, params, "name:trimmed:number of characters"), 3);
    /* The source text is left as it was. */
    assert_memory_equal(params[4].u.s.p, "  Ann ", 6);

    /* Empty inputs give empty results, except counts and lengths, which are 0. */
    value_t empty[5] = {value_null(), value_null(), value_null(), value_null(), value_null()};
    assert_int_equal(eval_with(&s, empty, "estimate * 2").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, empty, "2 - estimate").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, empty, "start + 1 days").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, params, "start + estimate days").kind, VAL_DATE);
    empty[2] = value_date(0);
    assert_int_equal(eval_with(&s, empty, "start + n days").kind, VAL_NULL);
    assert_number(eval_with(&s, empty, "words:count"), 0);
    assert_number(eval_with(&s, empty, "name:number of characters"), 0);
    assert_int_equal(eval_with(&s, empty, "name:uppercase").kind, VAL_NULL);

    /* Results no JSON number or date can hold are empty, never infinite. */
    value_t huge[5] = {value_number(1e308), value_number(1e308), value_date(1000), value_null(),
                       value_null()};
    assert_int_equal(eval_with(&s, huge, "estimate * n").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, huge, "estimate + n").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, huge, "start + n seconds").kind, VAL_NULL);
    assert_int_equal(eval_with(&s, huge, "start - n weeks").kind, VAL_NULL);
    huge[2] = value_date(INT64_MAX - 10);
    huge[1] = value_number(1);
    assert_int_equal(eval_with(&s, huge, "start + n seconds").kind, VAL_NULL);
}

/* The AST follows the usual precedence: "*" and "/" before "+" and "-", both left to right, and
 * all of them before comparisons. */
static void parse_operator_precedence(void **state)
{
    (void)state;
    const expr_scope_t s = operator_scope();
    expr_t *e = parse_ok(&s, "n + estimate * 2 - 1");
    assert_int_equal(e->kind, EXPR_ARITH);
    assert_int_equal(e->arith, ARITH_SUB);
    assert_int_equal(e->left->kind, EXPR_ARITH);
    assert_int_equal(e->left->arith, ARITH_ADD);
    assert_int_equal(e->left->right->arith, ARITH_MUL);
    assert_int_equal(e->type.kind, FK_NUMBER);

    e = parse_bool(&s, "start + n days < start + 1 weeks");
    assert_int_equal(e->kind, EXPR_CMP);
    assert_int_equal(e->left->kind, EXPR_DATE_ADD);
    assert_int_equal(e->left->unit_ms, 86400000);
    assert_int_equal(e->right->unit_ms, 604800000);
    assert_int_equal(e->right->type.kind, FK_DATE);

    e = parse_ok(&s, "words:count");
    assert_int_equal(e->kind, EXPR_COUNT);
    assert_int_equal(e->type.kind, FK_NUMBER);
    assert_false(e->type.is_list);
    e = parse_ok(&s, "name:trimmed:number of characters");
    assert_int_equal(e->kind, EXPR_LENGTH);
    assert_int_equal(e->left->kind, EXPR_TRIMMED);
    assert_int_equal(e->column, 1);

    e = parse_bool(&s, "words:count > 2 and name:lowercase is 'ann'");
    assert_int_equal(e->kind, EXPR_AND);
    assert_int_equal(e->right->left->kind, EXPR_LOWERCASE);
}

/* ---- compilation: shapes ---------------------------------------------------------------- */

static store_cond_t *compile_rule(const char *rule, int type, const char *user_id)
{
    const expr_scope_t scope = rule_scope(type);
    expr_t *e = parse_bool(&scope, rule);
    const expr_env_t env = env_for(user_id, type, NULL);
    store_cond_t *c = NULL;
    const err_t rc = expr_to_cond(e, &env, &c);
    if (rc != ERR_OK)
        fail_msg("%s: expr_to_cond returned %d", rule, rc);
    assert_non_null(c);
    return c;
}

static void to_cond_shapes(void **state)
{
    (void)state;
    add_users();

    store_cond_t *c = compile_rule("This Task's Creator is Current User", T_TASK, ID_BOB);
    assert_int_equal(c->kind, COND_CMP);
    assert_int_equal(c->op, CMP_EQ);
    assert_ptr_equal(c->field, &task_fields[F_CREATED_BY]);
    assert_int_equal(c->value.kind, VAL_TEXT);
    assert_memory_equal(c->value.u.s.p, ID_BOB, strlen(ID_BOB));

    assert_int_equal(compile_rule("This Task's Creator is Current User", T_TASK, NULL)->kind,
                     COND_FALSE);
    assert_int_equal(compile_rule("This Task's Creator is not Current User", T_TASK, NULL)->kind,
                     COND_TRUE);

    c = compile_rule("This User is Current User", T_USER, ID_BOB);
    assert_int_equal(c->kind, COND_CMP);
    assert_ptr_equal(c->field, &user_fields[F_ID]);

    c = compile_rule("This Task's notes is empty", T_TASK, NULL);
    assert_int_equal(c->kind, COND_IS_EMPTY);
    assert_ptr_equal(c->field, &task_fields[K_NOTES]);

    c = compile_rule("This Task's title is Current User's name", T_TASK, ID_NONAME);
    assert_int_equal(c->kind, COND_IS_EMPTY);

    c = compile_rule("This Task's tags contains 'home'", T_TASK, NULL);
    assert_int_equal(c->kind, COND_LIST_CONTAINS);
    c = compile_rule("This Task's tags doesn't contain 'home'", T_TASK, NULL);
    assert_int_equal(c->kind, COND_NOT);
    assert_int_equal(c->kids[0]->kind, COND_LIST_CONTAINS);
    c = compile_rule("This Task's title contains 'milk'", T_TASK, NULL);
    assert_int_equal(c->kind, COND_TEXT_CONTAINS);

    c = compile_rule("This Task's estimate > 3", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->op == CMP_GT && c->value.u.num == 3);
    c = compile_rule("3 > This Task's estimate", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->op == CMP_LT);

    c = compile_rule("This Task's assignee's name is 'Bob'", T_TASK, NULL);
    assert_int_equal(c->kind, COND_REF_MATCH);
    assert_ptr_equal(c->field, &task_fields[K_ASSIGNEE]);
    assert_ptr_equal(c->sub_type, &types[T_USER]);
    assert_int_equal(c->sub->kind, COND_CMP);
    assert_ptr_equal(c->sub->field, &user_fields[U_NAME]);

    /* "is not" holds when the assignee is missing, so it becomes "no assignee named Bob". */
    c = compile_rule("This Task's assignee's name is not 'Bob'", T_TASK, NULL);
    assert_int_equal(c->kind, COND_NOT);
    assert_int_equal(c->kids[0]->kind, COND_REF_MATCH);
    assert_int_equal(c->kids[0]->sub->op, CMP_EQ);

    c = compile_rule("(This Task's done is yes or This Task's estimate > 3) and Current User is "
                     "logged in",
                     T_TASK, NULL);
    assert_int_equal(c->kind, COND_FALSE);
    c = compile_rule("(This Task's done is yes or This Task's estimate > 3) and Current User is "
                     "logged in",
                     T_TASK, ID_BOB);
    assert_int_equal(c->kind, COND_OR);
    assert_int_equal(c->nkids, 2);

    c = compile_rule("Current User's roles contains This Task's title", T_TASK, ID_BOB);
    assert_int_equal(c->kind, COND_IN);
    assert_int_equal(c->nvalues, 2);
    assert_ptr_equal(c->field, &task_fields[K_TITLE]);

    c = compile_rule("Current User's friends contains This User", T_USER, ID_BOB);
    assert_int_equal(c->kind, COND_IN);
    assert_ptr_equal(c->field, &user_fields[F_ID]);
    assert_int_equal(c->nvalues, 2);
    c = compile_rule("Current User's friends contains This User", T_USER, ID_ADMIN);
    assert_int_equal(c->kind, COND_FALSE);

    /* Constant date shifts move to the constant side, computed once. */
    c = compile_rule("This Task's due + 2 seconds < Current date/time", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->op == CMP_LT);
    assert_ptr_equal(c->field, &task_fields[K_DUE]);
    assert_true(c->value.kind == VAL_DATE && c->value.u.ms == NOW_MS - 2000);
    c = compile_rule("This Task's due < Current date/time + 7 days", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->op == CMP_LT);
    assert_true(c->value.kind == VAL_DATE && c->value.u.ms == NOW_MS + 7 * 86400000LL);
    c = compile_rule("Current date/time - 1 hours >= This Task's due - 1 minutes", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->op == CMP_LE);
    assert_true(c->value.u.ms == NOW_MS - 3600000 + 60000);
    c = compile_rule("This Task's due + 3 days is not empty", T_TASK, NULL);
    assert_int_equal(c->kind, COND_IS_NOT_EMPTY);
    c = compile_rule("This Task's due + 100000000000000000000 days is empty", T_TASK, NULL);
    assert_int_equal(c->kind, COND_TRUE);
    c = compile_rule("This Task's estimate > 2 * 3 - 1", T_TASK, NULL);
    assert_true(c->kind == COND_CMP && c->value.u.num == 5);
    c = compile_rule("This Task's title is Current User's name:lowercase", T_TASK, ID_BOB);
    assert_true(c->kind == COND_CMP && c->value.u.s.n == 3 &&
                memcmp(c->value.u.s.p, "bob", 3) == 0);
    c = compile_rule("Current User's roles:count is 2 and This Task's done", T_TASK, ID_BOB);
    assert_int_equal(c->kind, COND_CMP);
    assert_ptr_equal(c->field, &task_fields[K_DONE]);

    /* Comparing two sides that both depend on This has no store condition yet. */
    const expr_scope_t scope = rule_scope(T_TASK);
    const expr_env_t env = env_for(NULL, T_TASK, NULL);
    store_cond_t *none = NULL;
    expr_t *e = parse_bool(&scope, "This Task's title is This Task's notes");
    assert_int_equal(expr_to_cond(e, &env, &none), ERR_INVALID);
    e = parse_ok(&scope, "This Task's title");
    assert_int_equal(expr_to_cond(e, &env, &none), ERR_INVALID);
}

/* ---- compilation agrees with evaluation ------------------------------------------------- */

static bool value_empty(value_t v)
{
    if (v.kind == VAL_NULL)
        return true;
    if (v.kind == VAL_JSON) {
        json_t *root = json_loadb(v.u.s.p, v.u.s.n, 0, NULL);
        const bool empty = json_is_array(root) && json_array_size(root) == 0;
        json_decref(root);
        return empty;
    }
    return false;
}

static bool same_value(value_t a, value_t b)
{
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case VAL_TEXT:
        return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case VAL_NUMBER:
        return a.u.num == b.u.num;
    case VAL_BOOL:
        return a.u.b == b.u.b;
    case VAL_DATE:
        return a.u.ms == b.u.ms;
    default:
        return false;
    }
}

/* Orders two values of one kind the way a database would: numbers and dates numerically, text
 * by bytes. */
static int order_values(value_t a, value_t b)
{
    if (a.kind == VAL_NUMBER)
        return (a.u.num > b.u.num) - (a.u.num < b.u.num);
    if (a.kind == VAL_DATE)
        return (a.u.ms > b.u.ms) - (a.u.ms < b.u.ms);
    const size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    const int c = memcmp(a.u.s.p, b.u.s.p, n);
    return c != 0 ? c : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
}

static bool list_has(value_t list, value_t item)
{
    json_t *root = json_loadb(list.u.s.p, list.u.s.n, 0, NULL);
    assert_non_null(root);
    bool found = false;
    size_t i;
    json_t *elem;
    json_array_foreach(root, i, elem)
    {
        if (item.kind == VAL_TEXT && json_is_string(elem))
            found |= strlen(json_string_value(elem)) == item.u.s.n &&
                     memcmp(json_string_value(elem), item.u.s.p, item.u.s.n) == 0;
        else if (item.kind == VAL_NUMBER && json_is_number(elem))
            found |= json_number_value(elem) == item.u.num;
    }
    json_decref(root);
    return found;
}

static bool text_has(value_t hay, value_t needle)
{
    char h[256], n[256];
    assert_true(hay.u.s.n < sizeof(h) && needle.u.s.n < sizeof(n));
    for (size_t i = 0; i <= hay.u.s.n; i++)
        h[i] = i < hay.u.s.n ? (char)tolower((unsigned char)hay.u.s.p[i]) : '\0';
    for (size_t i = 0; i <= needle.u.s.n; i++)
        n[i] = i < needle.u.s.n ? (char)tolower((unsigned char)needle.u.s.p[i]) : '\0';
    return strstr(h, n) != NULL;
}

/* Applies a computed value's steps to a field's value, following the contract in store.h
 * rather than the evaluator's code. */
static value_t calc_apply(const store_calc_t *calc, value_t v)
{
    if (calc == NULL)
        return v;
    v = calc_apply(calc->inner, v);
    switch (calc->kind) {
    case CALC_COUNT: {
        if (v.kind == VAL_NULL)
            return value_number(0);
        json_t *root = json_loadb(v.u.s.p, v.u.s.n, 0, NULL);
        assert_true(json_is_array(root));
        const double n = (double)json_array_size(root);
        json_decref(root);
        return value_number(n);
    }
    case CALC_LENGTH: {
        double n = 0;
        for (size_t i = 0; v.kind == VAL_TEXT && i < v.u.s.n; i++)
            n += ((unsigned char)v.u.s.p[i] & 0xC0) != 0x80;
        return value_number(n);
    }
    case CALC_LOWER:
    case CALC_UPPER: {
        if (v.kind != VAL_TEXT)
            return value_null();
        char *copy = arena_strndup(arena, v.u.s.p, v.u.s.n);
        assert_non_null(copy);
        for (size_t i = 0; i < v.u.s.n; i++)
            if ((unsigned char)copy[i] < 0x80)
                copy[i] = (char)(calc->kind == CALC_LOWER ? tolower(copy[i]) : toupper(copy[i]));
        return value_text(copy, v.u.s.n);
    }
    case CALC_TRIM: {
        if (v.kind != VAL_TEXT)
            return value_null();
        size_t a = 0, b = v.u.s.n;
        while (a < b && strchr(" \t\n\r\f\v", v.u.s.p[a]) != NULL)
            a++;
        while (b > a && strchr(" \t\n\r\f\v", v.u.s.p[b - 1]) != NULL)
            b--;
        return b > a ? value_text(v.u.s.p + a, b - a) : value_null();
    }
    case CALC_ADD:
    case CALC_SUB:
    case CALC_MUL:
    case CALC_DIV:
    case CALC_SUB_FROM:
    case CALC_DIV_INTO:
        break;
    }
    if (v.kind != VAL_NUMBER)
        return value_null();
    const double x = v.u.num, n = calc->number;
    double r = 0;
    switch (calc->kind) {
    case CALC_ADD:
        r = x + n;
        break;
    case CALC_SUB:
        r = x - n;
        break;
    case CALC_MUL:
        r = x * n;
        break;
    case CALC_DIV:
        if (n == 0)
            return value_null();
        r = x / n;
        break;
    case CALC_SUB_FROM:
        r = n - x;
        break;
    case CALC_DIV_INTO:
        if (x == 0)
            return value_null();
        r = n / x;
        break;
    default:
        fail_msg("unknown computed value %d", calc->kind);
    }
    return isfinite(r) ? value_number(r) : value_null();
}

/* Evaluates a store condition on one row, following the contract in store.h, the way a backend
 * would. */
static bool cond_holds(const store_cond_t *c, const app_type_t *type, const value_t *values)
{
    if (c->field != NULL)
        assert_ptr_equal(&type->fields[c->field->index], c->field);
    const value_t v =
        c->field != NULL ? calc_apply(c->calc, values[c->field->index]) : value_null();

    switch (c->kind) {
    case COND_TRUE:
        return true;
    case COND_FALSE:
        return false;
    case COND_AND:
        for (size_t i = 0; i < c->nkids; i++)
            if (!cond_holds(c->kids[i], type, values))
                return false;
        return true;
    case COND_OR:
        for (size_t i = 0; i < c->nkids; i++)
            if (cond_holds(c->kids[i], type, values))
                return true;
        return false;
    case COND_NOT:
        return !cond_holds(c->kids[0], type, values);
    case COND_CMP:
        if (value_empty(v))
            return c->op == CMP_NE;
        switch (c->op) {
        case CMP_EQ:
            return same_value(v, c->value);
        case CMP_NE:
            return !same_value(v, c->value);
        case CMP_LT:
            return order_values(v, c->value) < 0;
        case CMP_LE:
            return order_values(v, c->value) <= 0;
        case CMP_GT:
            return order_values(v, c->value) > 0;
        case CMP_GE:
            return order_values(v, c->value) >= 0;
        }
        return false;
    case COND_IS_EMPTY:
        return value_empty(v);
    case COND_IS_NOT_EMPTY:
        return !value_empty(v);
    case COND_LIST_CONTAINS:
        return !value_empty(v) && list_has(v, c->value);
    case COND_IN:
        for (size_t i = 0; i < c->nvalues && !value_empty(v); i++)
            if (same_value(v, c->values[i]))
                return true;
        return false;
    case COND_REF_MATCH: {
        if (v.kind != VAL_TEXT)
            return false;
        const int sub = (int)(c->sub_type - types);
        const row_t *row = row_find(sub, v.u.s.p, v.u.s.n);
        return row != NULL && cond_holds(c->sub, c->sub_type, row->values);
    }
    case COND_TEXT_CONTAINS:
        return v.kind == VAL_TEXT && text_has(v, c->value);
    case COND_TEXT_WORDS:
    case COND_GEO_WITHIN:
    case COND_LIST_SUBSET:
        break; /* built by the search API only, never from an expression */
    }
    fail_msg("unknown condition kind %d", c->kind);
    return false;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t pick(size_t n)
{
    return (size_t)(rng_next() % n);
}

static value_t random_user_ref(void)
{
    static const char *const refs[] = {NULL, ID_BOB, ID_ADMIN, ID_NONAME, ID_LOWER_BOB, ID_GONE};
    return val_text(refs[pick(6)]);
}

static void add_random_task(int i)
{
    static const char *const titles[] = {NULL,  "Buy milk", "buy MILK now",      "x",  "home",
                                         "Bob", " \t x ",   "\xC3\x89t\xC3\xA9", "  ", "Milk"};
    static const char *const priorities[] = {NULL, "Low", "Medium", "High"};
    static const char *const tags[] = {NULL, "[\"home\"]", "[\"home\",\"work\"]", "[\"x\"]",
                                       "[]"};
    static const char *const counts[] = {NULL, "[1,2]", "[3]", "[2.5,3]"};
    static const double estimates[] = {
        0, 1, 2.5, 3, 3.5, 10, -1, -0.0, 1e308, -1e308, 1e-308, 4.9e-324, 0.1, 1.7e308, -2.5e-310};
    static const char *const watchers[] = {NULL, "[\"" ID_BOB "\"]",
                                           "[\"" ID_ADMIN "\",\"" ID_NONAME "\"]"};

    value_t *t = row_add(T_TASK);
    t[F_ID] = val_text(arena_printf(arena, "1700000000000x%d", 200 + i));
    t[F_CREATED_DATE] = value_date((int64_t)pick(10000));
    t[F_CREATED_BY] = random_user_ref();
    t[K_TITLE] = val_text(titles[pick(10)]);
    t[K_DONE] = pick(3) == 0 ? value_null() : value_bool(pick(2) == 0);
    t[K_DUE] = pick(4) == 0 ? value_null() : value_date((int64_t)pick(10000));
    t[K_ESTIMATE] = pick(5) == 0 ? value_null() : value_number(estimates[pick(15)]);
    t[K_PRIORITY] = val_text(priorities[pick(4)]);
    t[K_TAGS] = val_json(tags[pick(5)]);
    t[K_ASSIGNEE] = random_user_ref();
    t[K_NOTES] = val_text(pick(2) == 0 ? NULL : "Buy milk");
    t[K_WATCHERS] = val_json(watchers[pick(3)]);
    t[K_COUNTS] = val_json(counts[pick(4)]);
}

/* About 1e308, as a product because expressions take no exponents and numbers of at most 64
 * characters. */
#define E60 "1000000000000000000000000000000000000000000000000000000000000"
#define BIG_NUMBER "(" E60 " * " E60 " * " E60 " * " E60 " * " E60 " * 100000000)"

static const char *const property_task_rules[] = {
    "This Task's Creator is Current User",
    "This Task's Creator is not Current User",
    "Current User is This Task's assignee",
    "This Task's done is yes",
    "This Task's done is no",
    "This Task's done is not no",
    "This Task's done",
    "not This Task's done",
    "This Task's estimate > 3",
    "This Task's estimate <= 2.5",
    "3 < This Task's estimate",
    "This Task's estimate is 3",
    "This Task's estimate is not 3",
    "This Task's title is 'Buy milk'",
    "This Task's title is not 'x'",
    "This Task's title contains 'milk'",
    "This Task's title doesn't contain 'MILK'",
    "This Task's title < 'c'",
    "This Task's title >= 'Bob'",
    "This Task's priority is 'High'",
    "This Task's priority is not 'Low'",
    "This Task's tags contains 'home'",
    "This Task's tags doesn't contain 'x'",
    "This Task's tags is empty",
    "This Task's counts contains 3",
    "This Task's notes is empty",
    "This Task's notes is not empty",
    "This Task's assignee's name is 'Bob'",
    "This Task's assignee's name is not 'Bob'",
    "This Task's assignee's name is empty",
    "This Task's assignee's name is not empty",
    "This Task's assignee's manager's name is 'admin'",
    "This Task's assignee's manager's name is not 'admin'",
    "This Task's assignee's manager is Current User",
    "This Task's assignee's manager is not Current User",
    "This Task's assignee's roles contains 'x'",
    "This Task's assignee's roles doesn't contain 'x'",
    "This Task's Creator's name is Current User's name",
    "This Task's Creator's name > 'a'",
    "Current User's name is 'admin'",
    "Current User is logged in",
    "Current User is not logged in",
    "(This Task's done is yes or This Task's estimate > 3) and not This Task's title is empty",
    "This Task's due < Current date/time",
    "This Task's due >= Current date/time or This Task's due is empty",
    "This Task's watchers contains Current User",
    "This Task's watchers doesn't contain Current User",
    "Current User's roles contains This Task's title",
    "Current User's roles doesn't contain This Task's notes",
    "This Task's assignee is logged in",
    "This Task's assignee is not logged in",
    "(This Task's done is yes) is no",
    "(This Task's done is yes and Current User's name is 'Bob') is not yes",
    "This Task is not empty",
    "not (This Task's assignee is Current User or This Task's Creator is Current User)",
    "This Task's due < Current date/time + 2 seconds",
    "This Task's due + 2 seconds < Current date/time",
    "This Task's due - 1 seconds >= Current date/time - 3 seconds",
    "Current date/time - 2 seconds < This Task's due + 0.5 seconds",
    "This Task's due + 1 seconds is Current date/time - 1 seconds",
    "This Task's due + 1 seconds is not Current date/time",
    "This Task's Created Date + 1 seconds - 500 minutes + 500 minutes > Current date/time",
    "This Task's due + 1 seconds is empty",
    "This Task's due - 1 weeks is not empty",
    "This Task's due + 100000000000000000000 days is empty",
    "This Task's due + 100000000000000000000 days < Current date/time",
    "This Task's due + 100000000000000000000 days is not Current date/time",
    "(This Task's due + 3 seconds) <= Current date/time",
    "This Task's estimate > 1 + 2 * 1",
    "This Task's estimate is 6 / 2",
    "This Task's estimate < 10 / 0",
    "This Task's estimate is not 10 / 0",
    "This Task's title is 'BUY MILK':lowercase:uppercase:lowercase",
    "This Task's title contains '  milk ':trimmed",
    "Current User's roles:count > 1 and This Task's done",
    "Current User's name:number of characters is 3 or This Task's done is no",
    "This Task's title is Current User's name:uppercase",
    "This Task's assignee's name is Current User's name:lowercase",
    "This Task's estimate >= Current User's friends:count",
    "This Task's tags:count > 1",
    "This Task's tags:count is 0",
    "This Task's tags:count is not 0",
    "This Task's tags:count * 2 + 1 >= 3",
    "This Task's counts:count < Current User's roles:count",
    "This Task's assignee's roles:count is 0",
    "This Task's assignee's roles:count > 1",
    "This Task's assignee's manager's roles:count >= 1",
    "This Task's estimate * 2 < 10",
    "This Task's estimate * 2 is empty",
    "This Task's estimate * 10 > 1",
    "This Task's estimate * 0.0000000001 is 0",
    "This Task's estimate * 0.5 > 0",
    "This Task's estimate / 2 >= 1",
    "This Task's estimate / 0.001 is empty",
    "This Task's estimate / 0 is empty",
    "This Task's estimate / 0.0000000001 is empty",
    "This Task's estimate / " BIG_NUMBER " is 0",
    "10 / This Task's estimate > 2",
    "10 / This Task's estimate is empty",
    "0.0001 / This Task's estimate is 0",
    "This Task's estimate * 0 is 0",
    BIG_NUMBER " / This Task's estimate is not empty",
    "This Task's estimate + 1 > 3",
    "This Task's estimate + " BIG_NUMBER " is empty",
    "This Task's estimate - " BIG_NUMBER " is empty",
    BIG_NUMBER " - This Task's estimate is empty",
    "5 - This Task's estimate >= 2",
    "(This Task's estimate + 1) * 2 - 3 < 4",
    "This Task's estimate * Current User's friends:count > 3",
    "This Task's estimate * (1 / 0) is empty",
    "This Task's estimate * (1 / 0) is not 3",
    "This Task's estimate / Current User's manager's roles:count is empty",
    "This Task's assignee's manager's roles:count * 3 > 2",
    "This Task's title:lowercase contains 'x'",
    "This Task's title:lowercase is 'buy milk'",
    "This Task's title:uppercase doesn't contain 'MILK'",
    "This Task's title:uppercase < 'C'",
    "This Task's title:trimmed is 'x'",
    "This Task's title:trimmed is empty",
    "This Task's title:trimmed:number of characters is 1",
    "This Task's title:number of characters > 3",
    "This Task's title:number of characters is 3",
    "This Task's title:number of characters + 1 is 1",
    "This Task's title:lowercase:trimmed is not empty",
    "This Task's title is ''",
    "This Task's title is not ''",
    "This Task's title > ''",
    "This Task's title:trimmed < ''",
    "This Task's assignee's name:lowercase is 'bob'",
    "This Task's assignee's name:uppercase is not 'BOB'",
    "This Task's Creator's name:number of characters > 3",
    "Current User's roles contains This Task's title:lowercase",
    "Current User's roles doesn't contain This Task's title:trimmed",
};

static const char *const property_user_rules[] = {
    "This User is Current User",
    "This User is not Current User",
    "This User is logged in",
    "This User's manager is Current User",
    "This User's manager's manager is not Current User",
    "This User's name is Current User's name",
    "This User's roles contains 'x' or This User is Current User",
    "Current User's friends contains This User",
    "Current User's friends doesn't contain This User",
    "Current User's friends contains This User's manager",
    "This User's friends contains Current User",
};

/* Compares expr_eval with the compiled condition on every row of This's table. */
static void check_rows_agree(const char *rule, const expr_t *e, const store_cond_t *c,
                             const char *user_id, int type)
{
    for (size_t i = 0; i < tables[type].nrows; i++) {
        const value_t *values = tables[type].rows[i].values;
        const expr_env_t env = env_for(user_id, type, values);
        bool evaluated;
        assert_int_equal(expr_eval_bool(e, &env, &evaluated), ERR_OK);
        const bool compiled = cond_holds(c, &types[type], values);
        if (evaluated != compiled)
            fail_msg("%s as %s, row %zu: expr_eval says %s, the condition says %s", rule,
                     user_id ? user_id : "logged out", i, evaluated ? "yes" : "no",
                     compiled ? "yes" : "no");
    }
}

static void check_agreement(const char *rule, int type, const char *user_id)
{
    const expr_scope_t scope = rule_scope(type);
    expr_t *e = parse_bool(&scope, rule);
    const expr_env_t cenv = env_for(user_id, type, NULL);
    store_cond_t *c = NULL;
    const err_t rc = expr_to_cond(e, &cenv, &c);
    if (rc != ERR_OK)
        fail_msg("%s: expr_to_cond returned %d", rule, rc);
    check_rows_agree(rule, e, c, user_id, type);
}

static void to_cond_agrees_with_eval(void **state)
{
    (void)state;
    static const char *const callers[] = {NULL, ID_BOB, ID_ADMIN, ID_NONAME, ID_LOWER_BOB,
                                          "1700000000000x77"};
    add_users();
    add_sample_task();
    for (int i = 0; i < 50; i++)
        add_random_task(i);

    for (size_t u = 0; u < sizeof(callers) / sizeof(callers[0]); u++) {
        for (size_t r = 0; r < sizeof(property_task_rules) / sizeof(property_task_rules[0]); r++)
            check_agreement(property_task_rules[r], T_TASK, callers[u]);
        for (size_t r = 0; r < sizeof(property_user_rules) / sizeof(property_user_rules[0]); r++)
            check_agreement(property_user_rules[r], T_USER, callers[u]);
    }
}

typedef struct {
    const char *rule;
    int column;
    const char *message_start;
} unsearchable_case_t;

static const unsearchable_case_t unsearchable[] = {
    {"This Task's estimate * This Task's estimate > 3", 1,
     "arithmetic on two values that both depend on This"},
    {"This Task's done and 3 < This Task's estimate + This Task's tags:count", 26,
     "arithmetic on two values that both depend on This"},
    {"This Task's estimate + 1 + 1 + 1 + 1 + 1 + 1 + 1 > 3", 1,
     "a value of This computed in more than 6 steps"},
    {"This Task's title:lowercase:uppercase:lowercase:uppercase:trimmed:lowercase:uppercase "
     "is 'a'",
     1, "a value of This computed in more than 6 steps"},
    {"This Task's due + This Task's estimate days < Current date/time", 1,
     "a date shift by an amount read from This"},
    {"Current date/time + This Task's estimate days > Current date/time", 1,
     "a date shift by an amount read from This"},
    {"This Task's title is This Task's notes", 1,
     "a comparison of two values that both depend on This"},
    {"This Task's due + 1 days < This Task's Created Date", 1,
     "a comparison of two values that both depend on This"},
    {"'Buy milk now' contains This Task's title", 1, "\"contains\" with This on both sides"},
    {"not (yes and (This Task's estimate - This Task's estimate) is 1)", 15,
     "arithmetic on two values that both depend on This"},
};

/* Rules that expr_to_cond cannot compile are exactly those that expr_check_searchable rejects,
 * and the check names the part to change. */
static void searchable_names_rejected_part(void **state)
{
    (void)state;
    add_users();
    const expr_scope_t scope = rule_scope(T_TASK);
    for (size_t i = 0; i < sizeof(unsearchable) / sizeof(unsearchable[0]); i++) {
        const unsearchable_case_t *u = &unsearchable[i];
        expr_t *e = parse_bool(&scope, u->rule);
        expr_error_t err;
        if (expr_check_searchable(e, &err))
            fail_msg("%s: expected expr_check_searchable to reject it", u->rule);
        if (err.column != u->column ||
            strncmp(err.message, u->message_start, strlen(u->message_start)) != 0)
            fail_msg("%s\n  expected column %d: %s...\n  got      column %d: %s", u->rule,
                     u->column, u->message_start, err.column, err.message);
        assert_non_null(strstr(err.message, "cannot be used in a privacy rule yet"));
        for (int caller = 0; caller < 2; caller++) {
            const expr_env_t env = env_for(caller ? ID_BOB : NULL, T_TASK, NULL);
            store_cond_t *c = NULL;
            if (expr_to_cond(e, &env, &c) != ERR_INVALID)
                fail_msg("%s: expected expr_to_cond to return ERR_INVALID", u->rule);
        }
    }
    for (size_t r = 0; r < sizeof(property_task_rules) / sizeof(property_task_rules[0]); r++) {
        expr_error_t err;
        if (!expr_check_searchable(parse_bool(&scope, property_task_rules[r]), &err))
            fail_msg("%s: rejected at column %d: %s", property_task_rules[r], err.column,
                     err.message);
    }
    assert_false(expr_check_searchable(NULL, NULL));
}

/* ---- robustness ------------------------------------------------------------------------- */

static const char *const fuzz_tokens[] = {
    "This ", "Task", "User", "'s ", "\xE2\x80\x99s ", "Current User", "Current date/time",
    "Result of step ", "1", "-3.5", "is ", "is not ", "empty", "logged in", "contains ",
    "doesn't contain ", ">", "<=", "and ", "or ", "not ", "(", ")", "'", "'a''b'", " ", "yes",
    "no", "title", "assignee", "name", "Creator", "tags", "estimate", "priority", "'High'",
    "task", "email", "code", "\xff", "\xC3\xA9", "\t", "''", " + ", "-", " * ", "/", " days",
    " hours", "week", ":", ":count", ":lowercase", ":trimmed", ":number of characters", "due",
    "1e308", "0",
};

static int fuzz_parsed;

static void fuzz_one(const char *text, size_t n)
{
    /* An exact-size copy lets ASan catch any read past the terminator. */
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    copy[n] = '\0';

    const expr_scope_t scopes[] = {rule_scope(T_TASK), workflow_scope(2)};
    for (size_t s = 0; s < 2; s++) {
        expr_t *e = NULL;
        expr_error_t err;
        const err_t rc = expr_parse(arena, &scopes[s], copy, &e, &err);
        if (rc != ERR_OK) {
            assert_int_equal(rc, ERR_INVALID);
            assert_null(e);
            assert_true(err.column >= 0 && (size_t)err.column <= n + 1);
            assert_true(strlen(err.message) > 0);
            continue;
        }
        /* Whatever parses must also evaluate and compile without crashing. */
        fuzz_parsed++;
        value_t params[3] = {val_text("1700000000000x100"), val_text("a@example.com"),
                             value_null()};
        value_t steps[2] = {val_text("1700000000000x100"), val_text(ID_BOB)};
        expr_env_t env = env_for(ID_BOB, s == 0 ? T_TASK : -1, tables[T_TASK].rows[0].values);
        env.params = params;
        env.steps = steps;
        value_t v;
        err_t outcome = expr_eval(e, &env, &v);
        store_cond_t *c;
        if (s == 0 && e->type.kind == FK_BOOL && !e->type.is_list) {
            const err_t compiled = expr_to_cond(e, &env, &c);
            if (compiled == ERR_OK)
                check_rows_agree(copy, e, c, ID_BOB, T_TASK);
            if ((compiled == ERR_INVALID) == expr_check_searchable(e, NULL))
                fail_msg("%s: expr_to_cond returned %d but expr_check_searchable disagrees", copy,
                         compiled);
        }
        (void)outcome;
    }
    free(copy);
}

static const char *const fuzz_operands[] = {
    "This Task's title", "This Task's estimate", "Current User", "This Task's assignee's name",
    "'High'", "3", "yes", "task's title", "email", "Result of step 1's done", "This Task's tags",
    "This Task's assignee", "Current User's name", "This Task's priority", "Current date/time",
    "This Task's due", "This Task's done", "Result of step 2", "This Task's counts",
    "This Task's due + 1 seconds", "Current date/time - 2 seconds", "This Task's tags:count",
    "This Task's estimate * 2", "Current User's roles:count", "This Task's title:lowercase",
    "'A b':uppercase", "Current User's name:number of characters", "2 / 0",
};

static const char *const fuzz_operators[] = {
    " is ", " is not ", " > ", " <= ", " contains ", " doesn't contain ", " and ", " or ",
};

static const char *const fuzz_suffixes[] = {"", "", " is empty", " is not logged in"};

/* Writes operands joined by operators, often well-typed, so the evaluator and the compiler see
 * many shapes. Returns the length. */
static size_t random_condition(char *buf, size_t size)
{
    size_t n = 0;
    const size_t count = 1 + pick(4);
    for (size_t k = 0; k < count && n + 128 < size; k++) {
        if (k > 0)
            n += (size_t)snprintf(buf + n, size - n, "%s", pick(2) ? " and " : " or ");
        const char *a = fuzz_operands[pick(sizeof(fuzz_operands) / sizeof(fuzz_operands[0]))];
        const char *op = fuzz_operators[pick(sizeof(fuzz_operators) / sizeof(fuzz_operators[0]))];
        const char *b = fuzz_operands[pick(sizeof(fuzz_operands) / sizeof(fuzz_operands[0]))];
        const char *suffix = fuzz_suffixes[pick(4)];
        if (suffix[0] != '\0')
            n += (size_t)snprintf(buf + n, size - n, "%s%s%s", pick(2) ? "not " : "", a, suffix);
        else
            n += (size_t)snprintf(buf + n, size - n, "%s(%s%s%s)", pick(2) ? "not " : "", a, op,
                                  b);
    }
    return n;
}

static void parse_survives_garbage(void **state)
{
    (void)state;
    add_users();
    add_sample_task();
    char buf[512];

    for (int i = 0; i < 2000; i++) {
        arena_reset(arena);
        add_users();
        add_sample_task();
        for (int k = 0; k < 5; k++)
            add_random_task(k);
        size_t n = 0;
        if (i % 3 == 0) {
            const size_t len = pick(120);
            for (; n < len; n++)
                buf[n] = (char)(1 + pick(255));
        } else if (i % 3 == 1) {
            n = random_condition(buf, sizeof(buf));
        } else {
            const size_t count = 1 + pick(12);
            for (size_t k = 0; k < count; k++) {
                const char *t = fuzz_tokens[pick(sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]))];
                const size_t len = strlen(t);
                if (n + len >= sizeof(buf))
                    break;
                memcpy(buf + n, t, len);
                n += len;
            }
        }
        fuzz_one(buf, n);
    }

    /* The token mix must reach the evaluator and the compiler, not only the parser's errors. */
    assert_true(fuzz_parsed > 100);

    /* Every prefix of every valid example. */
    for (size_t r = 0; r < sizeof(property_task_rules) / sizeof(property_task_rules[0]); r++) {
        const char *rule = property_task_rules[r];
        for (size_t n = 0; n <= strlen(rule); n++) {
            arena_reset(arena);
            add_users();
            add_sample_task();
            fuzz_one(rule, n);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rule_examples),
        cmocka_unit_test(parse_builds_expected_tree),
        cmocka_unit_test(parse_workflow_scope),
        cmocka_unit_test(parse_longest_parameter_wins),
        cmocka_unit_test(parse_failures_name_column_and_word),
        cmocka_unit_test(parse_limits_rejected),
        cmocka_unit_test(eval_truth_table),
        cmocka_unit_test(eval_logged_out_user_matches_nothing),
        cmocka_unit_test(eval_workflow_inputs),
        cmocka_unit_test(to_cond_shapes),
        cmocka_unit_test(to_cond_agrees_with_eval),
        cmocka_unit_test(searchable_names_rejected_part),
        cmocka_unit_test(eval_operators_on_parameters),
        cmocka_unit_test(parse_operator_precedence),
        cmocka_unit_test(parse_survives_garbage),
    };
    setup_app(NULL);
    return cmocka_run_group_tests(tests, setup_arena, teardown_arena);
}
