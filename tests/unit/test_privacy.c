/* Tests for the privacy rule engine on an app loaded from JSON and a real SQLite store.
 *
 * The callers are owners, an assignee, a stranger, an anonymous visitor and an admin. Searches
 * compare the two back ends: the plan compiled into the SQL statement and the in-memory
 * evaluation of a single thing must grant the same permissions on every row.
 */
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
#include "core/arena.h"
#include "core/log.h"
#include "privacy/privacy.h"
#include "store/store.h"

/* Task follows the todo example. Post's baseline lets everyone find posts and read their title,
 * and two conditional rules widen that. Notice has no "privacy" key, so it is public. */
static const char app_json[] =
    "{\"name\": \"privacy-test\","
    " \"types\": {"
    "  \"User\": {"
    "   \"fields\": {\"name\": \"text\"},"
    "   \"privacy\": ["
    "    {\"name\": \"self\", \"when\": \"This User is Current User\", \"view\": \"all\","
    "     \"find\": true, \"modify_via_api\": true},"
    "    {\"name\": \"everyone else\", \"view\": [\"name\"], \"find\": true}]},"
    "  \"Task\": {"
    "   \"fields\": {\"title\": \"text\", \"done\": \"yes/no\", \"due\": \"date\","
    "                \"notes\": \"text\", \"assignee\": \"User\"},"
    "   \"privacy\": ["
    "    {\"name\": \"mine\", \"when\": \"This Task's Creator is Current User\", \"view\": \"all\","
    "     \"find\": true, \"create_via_api\": true, \"modify_via_api\": true,"
    "     \"delete_via_api\": true},"
    "    {\"name\": \"assigned\", \"when\": \"This Task's assignee is Current User\","
    "     \"view\": [\"title\", \"done\", \"due\"], \"find\": true},"
    "    {\"name\": \"everyone else\", \"find\": false}]},"
    "  \"Post\": {"
    "   \"fields\": {\"title\": \"text\", \"body\": \"text\", \"featured\": \"yes/no\","
    "                \"author\": \"User\"},"
    "   \"privacy\": ["
    "    {\"name\": \"author\", \"when\": \"This Post's author is Current User\","
    "     \"view\": \"all\", \"find\": true, \"modify_via_api\": true, \"delete_via_api\": true},"
    "    {\"name\": \"featured\", \"when\": \"This Post's featured is yes\","
    "     \"view\": [\"title\", \"body\"]},"
    "    {\"name\": \"everyone else\", \"view\": [\"title\"], \"find\": true}]},"
    "  \"Notice\": {\"fields\": {\"text\": \"text\"}}"
    " }}";

enum { ALICE, BOB, CAROL, DAVE, ANONYMOUS, ADMIN, NCALLERS };

static const char *const caller_names[NCALLERS] = {"alice", "bob",       "carol",
                                                    "dave",  "anonymous", "admin"};

static const char *const user_ids[] = {
    "1700000000000x100000000000000001", /* alice */
    "1700000000000x100000000000000002", /* bob */
    "1700000000000x100000000000000003", /* carol: owns nothing, assigned nothing */
    "1700000000000x100000000000000004", /* dave */
};

/* Tasks: t1 alice's, assigned to bob; t2 alice's; t3 bob's, assigned to alice; t4 dave's;
 * t5 created anonymously, so no caller owns it. */
enum { T1, T2, T3, T4, T5, NTASKS };
static const char *const task_ids[NTASKS] = {
    "1700000000001x200000000000000001", "1700000000001x200000000000000002",
    "1700000000001x200000000000000003", "1700000000001x200000000000000004",
    "1700000000001x200000000000000005",
};
static const int task_creator[NTASKS] = {ALICE, ALICE, BOB, DAVE, -1};
static const int task_assignee[NTASKS] = {BOB, -1, ALICE, -1, -1};

/* Posts: p1 alice's; p2 bob's and featured; p3 carol's; p4 without an author. */
enum { P1, P2, P3, P4, NPOSTS };
static const char *const post_ids[NPOSTS] = {
    "1700000000002x300000000000000001", "1700000000002x300000000000000002",
    "1700000000002x300000000000000003", "1700000000002x300000000000000004",
};
static const int post_author[NPOSTS] = {ALICE, BOB, CAROL, -1};
static const bool post_featured[NPOSTS] = {false, true, false, false};

static const char *const notice_ids[] = {
    "1700000000003x400000000000000001",
    "1700000000003x400000000000000002",
};

typedef struct {
    char dir[64];
    char path[128];
    app_t *app;
    const app_type_t *user;
    const app_type_t *task;
    const app_type_t *post;
    const app_type_t *notice;
    store_t *store;
    store_conn_t *conn;
    arena_t *arena;
} fixture_t;

/* ---- Building things ---------------------------------------------------------------------- */

static value_t txt(const char *s)
{
    return value_text(s, strlen(s));
}

static const app_field_t *field(const app_type_t *type, const char *name)
{
    const app_field_t *f = app_find_field(type, name, strlen(name));
    if (f == NULL)
        fail_msg("no field \"%s\" on %s", name, type->name);
    return f;
}

static value_t *thing_new(fixture_t *f, const app_type_t *type, const char *id, int creator)
{
    value_t *v = arena_calloc(f->arena, type->nfields, sizeof(value_t));
    assert_non_null(v);
    v[0] = txt(id);
    v[field(type, "Created Date")->index] = value_date(1700000000000);
    v[field(type, "Modified Date")->index] = value_date(1700000000000);
    if (creator >= 0)
        v[field(type, "Created By")->index] = txt(user_ids[creator]);
    return v;
}

static void set(const app_type_t *type, value_t *values, const char *name, value_t v)
{
    values[field(type, name)->index] = v;
}

static void insert(fixture_t *f, const app_type_t *type, const value_t *values)
{
    assert_int_equal(store_insert(f->conn, type, values, NULL), ERR_OK);
}

static void seed(fixture_t *f)
{
    static const char *const names[] = {"Alice", "Bob", "Carol", "Dave"};
    for (int u = ALICE; u <= DAVE; u++) {
        value_t *v = thing_new(f, f->user, user_ids[u], -1);
        set(f->user, v, "name", txt(names[u]));
        set(f->user, v, "email", txt(arena_printf(f->arena, "%s@example.com", caller_names[u])));
        insert(f, f->user, v);
    }
    for (int t = 0; t < NTASKS; t++) {
        value_t *v = thing_new(f, f->task, task_ids[t], task_creator[t]);
        set(f->task, v, "title", txt(arena_printf(f->arena, "task %d", t + 1)));
        set(f->task, v, "done", value_bool(t % 2 == 0));
        set(f->task, v, "notes", txt("secret notes"));
        if (task_assignee[t] >= 0)
            set(f->task, v, "assignee", txt(user_ids[task_assignee[t]]));
        insert(f, f->task, v);
    }
    for (int p = 0; p < NPOSTS; p++) {
        value_t *v = thing_new(f, f->post, post_ids[p], post_author[p]);
        set(f->post, v, "title", txt(arena_printf(f->arena, "post %d", p + 1)));
        set(f->post, v, "body", txt("draft body"));
        set(f->post, v, "featured", value_bool(post_featured[p]));
        if (post_author[p] >= 0)
            set(f->post, v, "author", txt(user_ids[post_author[p]]));
        insert(f, f->post, v);
    }
    for (size_t n = 0; n < sizeof(notice_ids) / sizeof(notice_ids[0]); n++) {
        value_t *v = thing_new(f, f->notice, notice_ids[n], ALICE);
        set(f->notice, v, "text", txt("office closed on friday"));
        insert(f, f->notice, v);
    }
}

/* ---- Fixture ------------------------------------------------------------------------------ */

static const app_type_t *type_named(const app_t *app, const char *name)
{
    const app_type_t *t = app_find_type(app, name, strlen(name));
    assert_non_null(t);
    return t;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);

    app_errors_t errors = {0};
    err_t rc = app_load_buffer(app_json, strlen(app_json), &f->app, &errors);
    for (size_t i = 0; i < errors.count; i++)
        print_error("app error: %s: %s\n", errors.items[i].path, errors.items[i].message);
    app_errors_free(&errors);
    assert_int_equal(rc, ERR_OK);
    f->user = type_named(f->app, "User");
    f->task = type_named(f->app, "Task");
    f->post = type_named(f->app, "Post");
    f->notice = type_named(f->app, "Notice");

    snprintf(f->dir, sizeof(f->dir), "/tmp/froth-privacy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    char url[160];
    snprintf(url, sizeof(url), "sqlite:%s", f->path);
    char errbuf[512];
    assert_int_equal(store_open(url, NULL, &f->store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate(f->store, f->app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_acquire(f->store, &f->conn), ERR_OK);
    f->arena = arena_new(64 * 1024, 64u << 20);
    assert_non_null(f->arena);

    seed(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_release(f->conn);
    store_close(f->store);
    arena_free(f->arena);
    app_free(f->app);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s%s", f->path, suffixes[i]);
        unlink(name);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The context the router builds for each kind of caller. */
static privacy_ctx_t ctx_for(const fixture_t *f, int caller)
{
    privacy_ctx_t ctx = {
        .app = f->app,
        .conn = f->conn,
        .arena = f->arena,
        .user_id = caller <= DAVE ? user_ids[caller] : NULL,
        .is_admin = caller == ADMIN,
        .bypass = caller == ADMIN,
        .now_ms = 1800000000000,
    };
    return ctx;
}

/* ---- Helpers over the store --------------------------------------------------------------- */

static store_row_t get_row(fixture_t *f, const app_type_t *type, const char *id)
{
    store_row_t row;
    assert_int_equal(store_get(f->conn, type, id, NULL, f->arena, &row), ERR_OK);
    return row;
}

static privacy_perms_t perms_of(fixture_t *f, int caller, const app_type_t *type, const char *id)
{
    const privacy_ctx_t ctx = ctx_for(f, caller);
    const store_row_t row = get_row(f, type, id);
    privacy_perms_t perms;
    assert_int_equal(privacy_perms_for_values(&ctx, type, row.values, &perms), ERR_OK);
    return perms;
}

static bool can_view(const privacy_perms_t *perms, const app_type_t *type, const char *name)
{
    return privacy_can_view(perms, field(type, name));
}

static bool row_id_is(const store_row_t *row, const char *id)
{
    return row->values[0].kind == VAL_TEXT && row->values[0].u.s.n == strlen(id) &&
           memcmp(row->values[0].u.s.p, id, strlen(id)) == 0;
}

/* Runs a search on the plan's type with where and the plan's flags, and returns a bit per id in
 * ids (bit i set when ids[i] came back). Fails on any row whose id is not in ids. */
static unsigned search_mask(fixture_t *f, const privacy_plan_t *plan, const store_cond_t *where,
                            const char *const *ids, size_t nids)
{
    store_query_t q = {.where = where, .flags = plan->flags, .nflags = plan->nflags, .limit = 100,
                       .count_total = true};
    store_row_t *rows = NULL;
    size_t nrows = 0, total = 0;
    assert_int_equal(store_search(f->conn, plan->type, &q, f->arena, &rows, &nrows, &total),
                     ERR_OK);
    /* The count a client sees must not include rows the condition hides. */
    assert_int_equal(total, nrows);
    unsigned mask = 0;
    for (size_t r = 0; r < nrows; r++) {
        size_t i = 0;
        while (i < nids && !row_id_is(&rows[r], ids[i]))
            i++;
        assert_true(i < nids);
        mask |= 1u << i;
    }
    return mask;
}

static void assert_perms_equal(const app_type_t *type, const privacy_perms_t *a,
                               const privacy_perms_t *b, const char *who, const char *id)
{
    if (a->find != b->find || a->view_all != b->view_all || a->view_some != b->view_some ||
        a->create != b->create || a->modify != b->modify || a->del != b->del)
        fail_msg("%s on %s %s: flags and evaluation disagree", who, type->name, id);
    for (size_t i = 0; i < type->nfields; i++) {
        if (privacy_can_view(a, &type->fields[i]) != privacy_can_view(b, &type->fields[i]))
            fail_msg("%s on %s %s: field \"%s\" visibility disagrees", who, type->name, id,
                     type->fields[i].name);
    }
}

/* Checks, for one caller and type, that the search finds exactly the rows that in-memory
 * evaluation lets the caller find, that this is expected_mask, and that the flags of every row
 * (found or not) give the same permissions as evaluating its values. */
static void check_backends_agree(fixture_t *f, int caller, const app_type_t *type,
                                 const char *const *ids, size_t nids, unsigned expected_mask)
{
    const privacy_ctx_t ctx = ctx_for(f, caller);
    privacy_plan_t plan;
    assert_int_equal(privacy_plan_build(&ctx, type, &plan), ERR_OK);

    const unsigned found = search_mask(f, &plan, plan.find, ids, nids);
    if (found != expected_mask)
        fail_msg("%s on %s: search found mask 0x%x, expected 0x%x", caller_names[caller],
                 type->name, found, expected_mask);

    store_query_t q = {.flags = plan.flags, .nflags = plan.nflags, .limit = 100};
    store_row_t *rows = NULL;
    size_t nrows = 0, total = 0;
    assert_int_equal(store_search(f->conn, type, &q, f->arena, &rows, &nrows, &total), ERR_OK);
    assert_int_equal(nrows, nids);
    for (size_t r = 0; r < nrows; r++) {
        privacy_perms_t from_flags, from_values;
        privacy_perms_from_flags(&ctx, &plan, rows[r].flags, &from_flags);
        assert_int_equal(privacy_perms_for_values(&ctx, type, rows[r].values, &from_values),
                         ERR_OK);
        const char *id = arena_strndup(f->arena, rows[r].values[0].u.s.p, rows[r].values[0].u.s.n);
        assert_perms_equal(type, &from_flags, &from_values, caller_names[caller], id);

        size_t i = 0;
        while (i < nids && strcmp(ids[i], id) != 0)
            i++;
        assert_true(i < nids);
        assert_int_equal(from_values.find, (expected_mask >> i) & 1u);
    }
}

#define BIT(i) (1u << (i))

/* ---- Single things: privacy_perms_for_values ---------------------------------------------- */

static void task_owner_gets_everything(void **state)
{
    fixture_t *f = *state;
    const privacy_perms_t p = perms_of(f, ALICE, f->task, task_ids[T1]);
    assert_true(p.find);
    assert_true(p.view_all);
    assert_true(p.create);
    assert_true(p.modify);
    assert_true(p.del);
    assert_true(privacy_visible(&p));
    assert_true(can_view(&p, f->task, "notes"));
    assert_true(can_view(&p, f->task, "assignee"));
}

static void task_assignee_sees_listed_fields(void **state)
{
    fixture_t *f = *state;
    const privacy_perms_t p = perms_of(f, BOB, f->task, task_ids[T1]);
    assert_true(p.find);
    assert_false(p.view_all);
    assert_true(p.view_some);
    assert_true(can_view(&p, f->task, "title"));
    assert_true(can_view(&p, f->task, "done"));
    assert_true(can_view(&p, f->task, "due"));
    assert_false(can_view(&p, f->task, "notes"));
    assert_false(can_view(&p, f->task, "assignee"));
    /* Built-in fields come with any visible thing. */
    assert_true(can_view(&p, f->task, "_id"));
    assert_true(can_view(&p, f->task, "Created By"));
    assert_false(p.create);
    assert_false(p.modify);
    assert_false(p.del);
}

static void task_stranger_and_anonymous_get_nothing(void **state)
{
    fixture_t *f = *state;
    static const int callers[] = {CAROL, ANONYMOUS};
    for (size_t c = 0; c < 2; c++) {
        for (int t = 0; t < NTASKS; t++) {
            const privacy_perms_t p = perms_of(f, callers[c], f->task, task_ids[t]);
            assert_false(p.find);
            assert_false(p.view_all);
            assert_false(p.view_some);
            assert_false(privacy_visible(&p));
            assert_false(can_view(&p, f->task, "title"));
            assert_false(p.create);
            assert_false(p.modify);
            assert_false(p.del);
        }
    }
}

/* "Creator is Current User" must be false for an anonymous caller on a thing created
 * anonymously. Both sides are empty, but an anonymous visitor is no user at all. */
static void anonymous_does_not_own_anonymous_things(void **state)
{
    fixture_t *f = *state;
    const privacy_perms_t p = perms_of(f, ANONYMOUS, f->task, task_ids[T5]);
    assert_false(p.find);
    assert_false(p.modify);
}

static void admin_bypasses_rules(void **state)
{
    fixture_t *f = *state;
    for (int t = 0; t < NTASKS; t++) {
        const privacy_perms_t p = perms_of(f, ADMIN, f->task, task_ids[t]);
        assert_true(p.find);
        assert_true(p.view_all);
        assert_true(p.create);
        assert_true(p.modify);
        assert_true(p.del);
        assert_true(can_view(&p, f->task, "notes"));
    }
    const privacy_perms_t u = perms_of(f, ADMIN, f->user, user_ids[BOB]);
    assert_true(can_view(&u, f->user, "email"));
}

static void user_email_visible_only_to_self(void **state)
{
    fixture_t *f = *state;
    const privacy_perms_t self = perms_of(f, ALICE, f->user, user_ids[ALICE]);
    assert_true(can_view(&self, f->user, "email"));
    assert_true(self.modify);

    const privacy_perms_t other = perms_of(f, BOB, f->user, user_ids[ALICE]);
    assert_true(other.find);
    assert_true(can_view(&other, f->user, "name"));
    assert_false(can_view(&other, f->user, "email"));
    assert_false(other.modify);

    const privacy_perms_t anonymous = perms_of(f, ANONYMOUS, f->user, user_ids[ALICE]);
    assert_false(can_view(&anonymous, f->user, "email"));
}

static void post_baseline_grants_one_field(void **state)
{
    fixture_t *f = *state;
    const privacy_perms_t p = perms_of(f, CAROL, f->post, post_ids[P1]);
    assert_true(p.find);
    assert_false(p.view_all);
    assert_true(p.view_some);
    assert_true(can_view(&p, f->post, "title"));
    assert_false(can_view(&p, f->post, "body"));
    assert_false(can_view(&p, f->post, "author"));
    assert_false(p.modify);

    /* A featured post adds its body, even for an anonymous caller. */
    const privacy_perms_t featured = perms_of(f, ANONYMOUS, f->post, post_ids[P2]);
    assert_true(can_view(&featured, f->post, "body"));
    assert_false(can_view(&featured, f->post, "featured"));
    assert_false(featured.modify);

    const privacy_perms_t own = perms_of(f, CAROL, f->post, post_ids[P3]);
    assert_true(own.view_all);
    assert_true(own.modify);
    assert_true(own.del);
    assert_false(own.create);
}

static void public_type_is_read_only(void **state)
{
    fixture_t *f = *state;
    assert_true(f->notice->public_by_default);
    for (int caller = ALICE; caller < ADMIN; caller++) {
        const privacy_perms_t p = perms_of(f, caller, f->notice, notice_ids[0]);
        assert_true(p.find);
        assert_true(p.view_all);
        assert_true(can_view(&p, f->notice, "text"));
        /* Alice created the notice, and it stays read-only for her too. */
        assert_false(p.create);
        assert_false(p.modify);
        assert_false(p.del);
    }
}

/* ---- Searches: the plan agrees with evaluation -------------------------------------------- */

static void task_search_finds_exactly_findable(void **state)
{
    fixture_t *f = *state;
    const unsigned expected[NCALLERS] = {
        [ALICE] = BIT(T1) | BIT(T2) | BIT(T3),
        [BOB] = BIT(T1) | BIT(T3),
        [CAROL] = 0,
        [DAVE] = BIT(T4),
        [ANONYMOUS] = 0,
        [ADMIN] = BIT(NTASKS) - 1,
    };
    for (int caller = 0; caller < NCALLERS; caller++)
        check_backends_agree(f, caller, f->task, task_ids, NTASKS, expected[caller]);
}

static void post_search_finds_everything(void **state)
{
    fixture_t *f = *state;
    for (int caller = 0; caller < NCALLERS; caller++)
        check_backends_agree(f, caller, f->post, post_ids, NPOSTS, BIT(NPOSTS) - 1);
}

static void user_search_finds_everyone(void **state)
{
    fixture_t *f = *state;
    for (int caller = 0; caller < NCALLERS; caller++)
        check_backends_agree(f, caller, f->user, user_ids, 4, BIT(4) - 1);
}

static void public_type_search_finds_everything(void **state)
{
    fixture_t *f = *state;
    for (int caller = 0; caller < NCALLERS; caller++) {
        check_backends_agree(f, caller, f->notice, notice_ids, 2, BIT(2) - 1);
        const privacy_ctx_t ctx = ctx_for(f, caller);
        privacy_plan_t plan;
        assert_int_equal(privacy_plan_build(&ctx, f->notice, &plan), ERR_OK);
        assert_int_equal(plan.nflags, 0);
        if (caller != ADMIN)
            assert_int_equal(plan.find->kind, COND_TRUE);
    }
}

static void plan_for_admin_has_no_conditions(void **state)
{
    fixture_t *f = *state;
    const privacy_ctx_t ctx = ctx_for(f, ADMIN);
    privacy_plan_t plan;
    assert_int_equal(privacy_plan_build(&ctx, f->task, &plan), ERR_OK);
    assert_true(plan.bypass);
    assert_null(plan.find);
    assert_int_equal(plan.nflags, 0);
}

/* ---- Field visibility conditions ---------------------------------------------------------- */

/* Checks privacy_field_visible_cond for one caller and field: COND_TRUE exactly when
 * expect_true, and in every case selecting the rows where evaluation lets the caller view it. */
static void check_visible_cond(fixture_t *f, int caller, const app_type_t *type,
                               const char *const *ids, size_t nids, const char *name,
                               bool expect_true, unsigned expected_mask)
{
    const privacy_ctx_t ctx = ctx_for(f, caller);
    privacy_plan_t plan;
    assert_int_equal(privacy_plan_build(&ctx, type, &plan), ERR_OK);
    const app_field_t *checked = field(type, name);
    const store_cond_t *cond = privacy_field_visible_cond(&ctx, &plan, checked);
    assert_non_null(cond);
    if ((cond->kind == COND_TRUE) != expect_true)
        fail_msg("%s on %s.%s: condition kind %d", caller_names[caller], type->name, name,
                 (int)cond->kind);

    const unsigned mask = search_mask(f, &plan, cond, ids, nids);
    if (mask != expected_mask)
        fail_msg("%s on %s.%s: rows 0x%x, expected 0x%x", caller_names[caller], type->name, name,
                 mask, expected_mask);

    unsigned evaluated = 0;
    for (size_t i = 0; i < nids; i++) {
        const privacy_perms_t p = perms_of(f, caller, type, ids[i]);
        if (privacy_can_view(&p, checked))
            evaluated |= BIT(i);
    }
    assert_int_equal(evaluated, expected_mask);
}

static void visible_cond_task_fields(void **state)
{
    fixture_t *f = *state;
    const unsigned all = BIT(NTASKS) - 1;
    /* Only "mine" views notes; "assigned" adds the title. */
    check_visible_cond(f, ALICE, f->task, task_ids, NTASKS, "notes", false, BIT(T1) | BIT(T2));
    check_visible_cond(f, ALICE, f->task, task_ids, NTASKS, "title", false,
                       BIT(T1) | BIT(T2) | BIT(T3));
    check_visible_cond(f, BOB, f->task, task_ids, NTASKS, "notes", false, BIT(T3));
    check_visible_cond(f, BOB, f->task, task_ids, NTASKS, "title", false, BIT(T1) | BIT(T3));
    check_visible_cond(f, CAROL, f->task, task_ids, NTASKS, "title", false, 0);
    check_visible_cond(f, ANONYMOUS, f->task, task_ids, NTASKS, "done", false, 0);
    check_visible_cond(f, ADMIN, f->task, task_ids, NTASKS, "notes", true, all);
    /* Built-in fields are visible wherever the thing is, so they need no condition. */
    check_visible_cond(f, CAROL, f->task, task_ids, NTASKS, "Created Date", true, all);
}

static void visible_cond_post_fields(void **state)
{
    fixture_t *f = *state;
    const unsigned all = BIT(NPOSTS) - 1;
    for (int caller = 0; caller < NCALLERS; caller++)
        check_visible_cond(f, caller, f->post, post_ids, NPOSTS, "title", true, all);
    check_visible_cond(f, CAROL, f->post, post_ids, NPOSTS, "body", false, BIT(P2) | BIT(P3));
    check_visible_cond(f, ALICE, f->post, post_ids, NPOSTS, "body", false, BIT(P1) | BIT(P2));
    check_visible_cond(f, ANONYMOUS, f->post, post_ids, NPOSTS, "body", false, BIT(P2));
    check_visible_cond(f, ANONYMOUS, f->post, post_ids, NPOSTS, "author", false, 0);
    check_visible_cond(f, DAVE, f->post, post_ids, NPOSTS, "featured", false, 0);
    check_visible_cond(f, ADMIN, f->post, post_ids, NPOSTS, "body", true, all);
}

static void visible_cond_user_email(void **state)
{
    fixture_t *f = *state;
    /* The email is not a built-in for visibility: only the self rule shows it. */
    check_visible_cond(f, BOB, f->user, user_ids, 4, "email", false, BIT(BOB));
    check_visible_cond(f, ANONYMOUS, f->user, user_ids, 4, "email", false, 0);
    check_visible_cond(f, CAROL, f->user, user_ids, 4, "name", true, BIT(4) - 1);
}

static void visible_cond_public_type(void **state)
{
    fixture_t *f = *state;
    check_visible_cond(f, ANONYMOUS, f->notice, notice_ids, 2, "text", true, BIT(2) - 1);
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR, false);
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(task_owner_gets_everything),
        TEST(task_assignee_sees_listed_fields),
        TEST(task_stranger_and_anonymous_get_nothing),
        TEST(anonymous_does_not_own_anonymous_things),
        TEST(admin_bypasses_rules),
        TEST(user_email_visible_only_to_self),
        TEST(post_baseline_grants_one_field),
        TEST(public_type_is_read_only),
        TEST(task_search_finds_exactly_findable),
        TEST(post_search_finds_everything),
        TEST(user_search_finds_everyone),
        TEST(public_type_search_finds_everything),
        TEST(plan_for_admin_has_no_conditions),
        TEST(visible_cond_task_fields),
        TEST(visible_cond_post_fields),
        TEST(visible_cond_user_email),
        TEST(visible_cond_public_type),
    };
#undef TEST
    return cmocka_run_group_tests(tests, NULL, NULL);
}
