/* Tests for the store on each backend: SQLite on a real database file in a temporary directory,
 * and PostgreSQL when FROTH_TEST_PG_URL names a database on a server that may be written to
 * (tests/pg/cluster.sh starts one). Each PostgreSQL test works in a fresh schema of that
 * database. FROTH_TEST_STORE=postgres runs only the PostgreSQL tests, =sqlite only SQLite's.
 *
 * The app model is built by hand (a User type and a Task type) so that these tests do not
 * depend on the app loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/log.h"
#include "expr/expr.h"
#include "store/store.h"

/* ---- A hand-built model ----------------------------------------------------------------- */

enum { U_ID, U_CREATED, U_MODIFIED, U_CREATOR, U_SLUG, U_EMAIL, U_NAME, U_AGE, U_NFIELDS };
enum {
    T_ID, T_CREATED, T_MODIFIED, T_CREATOR, T_SLUG,
    T_TITLE, T_ESTIMATE, T_DONE, T_DUE, T_TAGS, T_ASSIGNEE, T_WHERE, T_WATCHERS, T_NOTES,
    T_NFIELDS_MAX
};

typedef struct {
    app_t app;
    app_type_t types[2];
    app_field_t user[U_NFIELDS];
    app_field_t task[T_NFIELDS_MAX];
} model_t;

static void set_field(app_field_t *f, int index, const char *name, const char *column,
                      app_kind_t kind, bool list, int ref, app_builtin_t builtin)
{
    memset(f, 0, sizeof(*f));
    f->name = name;
    f->id = name;
    f->squashed = name;
    f->column = column;
    f->type.kind = kind;
    f->type.is_list = list;
    f->type.ref_type = ref;
    f->type.option_set = -1;
    f->builtin = builtin;
    f->index = index;
}

static void set_builtins(app_field_t *f)
{
    set_field(&f[0], 0, "_id", "_id", FK_TEXT, false, -1, BUILTIN_ID);
    set_field(&f[1], 1, "Created Date", "_created", FK_DATE, false, -1, BUILTIN_CREATED_DATE);
    set_field(&f[2], 2, "Modified Date", "_modified", FK_DATE, false, -1, BUILTIN_MODIFIED_DATE);
    set_field(&f[3], 3, "Created By", "_created_by", FK_THING, false, 0, BUILTIN_CREATED_BY);
    set_field(&f[4], 4, "Slug", "_slug", FK_TEXT, false, -1, BUILTIN_SLUG);
}

/* Builds User and Task. with_notes adds a text field "notes" to Task; estimate_as_text declares
 * estimate as text instead of number, to test a changed type. */
static void model_build(model_t *m, bool with_notes, bool estimate_as_text)
{
    memset(m, 0, sizeof(*m));
    set_builtins(m->user);
    set_field(&m->user[U_EMAIL], U_EMAIL, "email", "_email", FK_TEXT, false, -1, BUILTIN_EMAIL);
    set_field(&m->user[U_NAME], U_NAME, "name", "name", FK_TEXT, false, -1, BUILTIN_NONE);
    set_field(&m->user[U_AGE], U_AGE, "age", "age", FK_NUMBER, false, -1, BUILTIN_NONE);

    set_builtins(m->task);
    set_field(&m->task[T_TITLE], T_TITLE, "title", "title", FK_TEXT, false, -1, BUILTIN_NONE);
    set_field(&m->task[T_ESTIMATE], T_ESTIMATE, "estimate", "estimate",
              estimate_as_text ? FK_TEXT : FK_NUMBER, false, -1, BUILTIN_NONE);
    set_field(&m->task[T_DONE], T_DONE, "done", "done", FK_BOOL, false, -1, BUILTIN_NONE);
    set_field(&m->task[T_DUE], T_DUE, "due", "due", FK_DATE, false, -1, BUILTIN_NONE);
    set_field(&m->task[T_TAGS], T_TAGS, "tags", "tags", FK_TEXT, true, -1, BUILTIN_NONE);
    set_field(&m->task[T_ASSIGNEE], T_ASSIGNEE, "assignee", "assignee", FK_THING, false, 0,
              BUILTIN_NONE);
    set_field(&m->task[T_WHERE], T_WHERE, "where", "where", FK_GEO, false, -1, BUILTIN_NONE);
    set_field(&m->task[T_WATCHERS], T_WATCHERS, "watchers", "watchers", FK_THING, true, 0,
              BUILTIN_NONE);
    set_field(&m->task[T_NOTES], T_NOTES, "notes", "notes", FK_TEXT, false, -1, BUILTIN_NONE);

    m->types[0] = (app_type_t){.name = "User", .url_name = "user", .table = "user",
                               .expose = true, .is_user = true, .fields = m->user,
                               .nfields = U_NFIELDS};
    m->types[1] = (app_type_t){.name = "Task", .url_name = "task", .table = "task",
                               .expose = true, .fields = m->task,
                               .nfields = with_notes ? T_NFIELDS_MAX : T_NOTES};
    m->app = (app_t){.name = "test", .types = m->types, .ntypes = 2, .user_type = 0};
}

/* ---- Backends ------------------------------------------------------------------------- */

/* Whether the running group tests PostgreSQL rather than SQLite, set by its group setup. */
static bool on_pg;
/* A connection of the test's own to FROTH_TEST_PG_URL, for creating schemas and reading the
 * catalogue. */
static PGconn *pg_admin;
static const char *pg_base_url;
static unsigned schema_serial;

static int group_sqlite(void **state)
{
    on_pg = false;
    return 0;
}

static int group_pg(void **state)
{
    on_pg = true;
    pg_base_url = getenv("FROTH_TEST_PG_URL");
    pg_admin = PQconnectdb(pg_base_url);
    if (PQstatus(pg_admin) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to FROTH_TEST_PG_URL: %s", PQerrorMessage(pg_admin));
        return -1;
    }
    /* DROP SCHEMA ... CASCADE lists every table it drops. */
    PGresult *res = PQexec(pg_admin, "SET client_min_messages = warning");
    PQclear(res);
    return 0;
}

static int group_pg_end(void **state)
{
    PQfinish(pg_admin);
    pg_admin = NULL;
    return 0;
}

/* Runs SQL on the admin connection and fails the test unless it succeeds. */
static void pg_admin_exec(const char *sql)
{
    PGresult *res = PQexec(pg_admin, sql);
    const ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg_admin));
    PQclear(res);
}

/* Picks the text a check expects on the backend under test. */
static const char *expect(const char *on_sqlite, const char *on_postgres)
{
    return on_pg ? on_postgres : on_sqlite;
}

/* ---- Fixture ---------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    char path[128];
    char schema[64]; /* PostgreSQL: the schema this test owns */
    char url[1024];
    model_t model;
    const app_type_t *user;
    const app_type_t *task;
    store_t *store;
    store_conn_t *conn;
    arena_t *arena;
} fixture_t;

/* Writes into url the PostgreSQL URL of a store that works in schema, on the test database. The
 * schema also names the connections, so a test can find its own in pg_stat_activity. */
static void pg_url_for(const char *schema, const char *application, char *url, size_t size)
{
    const char *sep = strchr(pg_base_url, '?') != NULL ? "&" : "?";
    snprintf(url, size, "%s%soptions=-csearch_path%%3D%s&application_name=%s", pg_base_url, sep,
             schema, application);
}

/* Makes an empty place for a store: a temporary directory and, on PostgreSQL, a new schema. */
static fixture_t *fixture_new(void)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/froth-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
    if (on_pg) {
        snprintf(f->schema, sizeof(f->schema), "froth_test_%ld_%u", (long)getpid(),
                 ++schema_serial);
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE SCHEMA \"%s\"", f->schema);
        pg_admin_exec(sql);
        pg_url_for(f->schema, f->schema, f->url, sizeof(f->url));
    } else {
        snprintf(f->url, sizeof(f->url), "sqlite:%s", f->path);
    }
    model_build(&f->model, false, false);
    f->user = &f->model.types[0];
    f->task = &f->model.types[1];
    return f;
}

static void remove_db_files(const char *path)
{
    char name[200];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof(name), "%s%s", path, suffixes[i]);
        unlink(name);
    }
}

static void fixture_free(fixture_t *f)
{
    if (on_pg) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP SCHEMA \"%s\" CASCADE", f->schema);
        pg_admin_exec(sql);
    }
    remove_db_files(f->path);
    rmdir(f->dir);
    free(f);
}

static int setup(void **state)
{
    fixture_t *f = fixture_new();
    char errbuf[512];
    assert_int_equal(store_open(f->url, NULL, &f->store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate(f->store, &f->model.app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(store_acquire(f->store, &f->conn), ERR_OK);
    f->arena = arena_new(4096, 64u << 20);
    assert_non_null(f->arena);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_release(f->conn);
    store_close(f->store);
    arena_free(f->arena);
    fixture_free(f);
    return 0;
}

/* A place for a store with nothing opened or migrated yet. */
static int setup_empty(void **state)
{
    *state = fixture_new();
    return 0;
}

static int teardown_empty(void **state)
{
    fixture_free(*state);
    return 0;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

static value_t txt(const char *s)
{
    return value_text(s, strlen(s));
}

static value_t json(const char *s)
{
    return value_json(s, strlen(s));
}

static void task_values(value_t v[T_NFIELDS_MAX], const char *id, int64_t created)
{
    for (size_t i = 0; i < T_NFIELDS_MAX; i++)
        v[i] = value_null();
    v[T_ID] = txt(id);
    v[T_CREATED] = value_date(created);
    v[T_MODIFIED] = value_date(created);
}

static void user_values(value_t v[U_NFIELDS], const char *id, const char *email,
                        const char *name, double age)
{
    for (size_t i = 0; i < U_NFIELDS; i++)
        v[i] = value_null();
    v[U_ID] = txt(id);
    v[U_CREATED] = value_date(1);
    v[U_MODIFIED] = value_date(1);
    if (email != NULL)
        v[U_EMAIL] = txt(email);
    if (name != NULL)
        v[U_NAME] = txt(name);
    v[U_AGE] = value_number(age);
}

/* Four tasks and two users that the search tests share. t3 has every field empty; t4's title
 * looks like an SQL injection. */
static void seed(fixture_t *f)
{
    value_t u[U_NFIELDS];
    user_values(u, "u1", "Alice@Example.com", "Alice", 30);
    assert_int_equal(store_insert(f->conn, f->user, u, "hash-a"), ERR_OK);
    user_values(u, "u2", "bob@example.com", "Bob", 40);
    assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_OK);

    value_t v[T_NFIELDS_MAX];
    task_values(v, "t1", 1);
    v[T_TITLE] = txt("Buy milk");
    v[T_ESTIMATE] = value_number(1);
    v[T_DONE] = value_bool(true);
    v[T_DUE] = value_date(1000);
    v[T_TAGS] = json("[\"a\",\"b\"]");
    v[T_ASSIGNEE] = txt("u1");
    v[T_WATCHERS] = json("[\"u1\"]");
    v[T_CREATOR] = txt("u1");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    task_values(v, "t2", 2);
    v[T_TITLE] = txt("Walk dog");
    v[T_ESTIMATE] = value_number(5);
    v[T_DONE] = value_bool(false);
    v[T_DUE] = value_date(2000);
    v[T_TAGS] = json("[\"b\"]");
    v[T_ASSIGNEE] = txt("u2");
    v[T_WATCHERS] = json("[\"u1\",\"u2\"]");
    v[T_CREATOR] = txt("u2");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    task_values(v, "t3", 3);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    task_values(v, "t4", 4);
    v[T_TITLE] = txt("x' OR 1=1 --");
    v[T_ESTIMATE] = value_number(3);
    v[T_DONE] = value_bool(false);
    v[T_CREATOR] = txt("u1");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
}

/* Runs a search and returns the ids found, comma-separated, in an arena string. */
static err_t search_ids(fixture_t *f, const store_query_t *query, const char **ids,
                        size_t *total)
{
    store_row_t *rows = NULL;
    size_t n = 0;
    err_t err = store_search(f->conn, f->task, query, f->arena, &rows, &n, total);
    char buf[1024] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, sizeof(buf) - len, "%s%.*s", i > 0 ? "," : "",
                 (int)rows[i].values[T_ID].u.s.n, rows[i].values[T_ID].u.s.p);
    }
    *ids = arena_strdup(f->arena, buf);
    return err;
}

/* The ids matching where, in default order. */
static const char *where_ids(fixture_t *f, const store_cond_t *where)
{
    store_query_t query = {.where = where, .limit = 100};
    const char *ids = NULL;
    size_t total = 0;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    return ids;
}

static store_cond_t *cmp(fixture_t *f, int field, store_cmp_t op, value_t v)
{
    return store_cond_cmp(f->arena, &f->task->fields[field], op, v);
}

static store_cond_t *cond_on(fixture_t *f, store_cond_kind_t kind, const app_type_t *type,
                             int field, value_t v)
{
    store_cond_t *c = store_cond_new(f->arena, kind);
    c->field = &type->fields[field];
    c->value = v;
    return c;
}

static void assert_value_text(const value_t *v, const char *expected)
{
    assert_int_equal(v->kind, VAL_TEXT);
    assert_int_equal(v->u.s.n, strlen(expected));
    assert_memory_equal(v->u.s.p, expected, v->u.s.n);
}

static void assert_value_json(const value_t *v, const char *expected)
{
    assert_int_equal(v->kind, VAL_JSON);
    assert_int_equal(v->u.s.n, strlen(expected));
    assert_memory_equal(v->u.s.p, expected, v->u.s.n);
}

/* Returns the declared SQL type of table.column read straight from the database, "" when
 * absent. */
static void column_type(const fixture_t *f, const char *table, const char *column, char *out,
                        size_t size)
{
    out[0] = '\0';
    if (on_pg) {
        const char *params[] = {f->schema, table, column};
        PGresult *res = PQexecParams(pg_admin,
                                     "SELECT data_type FROM information_schema.columns WHERE "
                                     "table_schema = $1 AND table_name = $2 AND column_name = $3",
                                     3, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
        if (PQntuples(res) > 0)
            snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        return;
    }
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT type FROM pragma_table_info(?) WHERE name = ?",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, column, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* ---- Opening and schema ----------------------------------------------------------------- */

static void open_rejects_bad_urls(void **state)
{
    store_t *store = NULL;
    char errbuf[256];
    assert_int_equal(store_open("mysql://x", NULL, &store, errbuf, sizeof(errbuf)), ERR_INVALID);
    assert_null(store);
    assert_true(strlen(errbuf) > 0);
    assert_int_equal(store_open("sqlite:", NULL, &store, errbuf, sizeof(errbuf)), ERR_INVALID);
    assert_int_equal(store_open("sqlite:/nonexistent-froth-dir/x/y.db", NULL, &store, errbuf,
                                sizeof(errbuf)),
                     ERR_STORE);
    assert_non_null(strstr(errbuf, "nonexistent-froth-dir"));
    assert_null(store);
}

static void open_memory_database_works(void **state)
{
    model_t m;
    model_build(&m, false, false);
    store_t *store = NULL;
    char errbuf[256];
    assert_int_equal(store_open("sqlite::memory:", NULL, &store, errbuf, sizeof(errbuf)),
                     ERR_OK);
    assert_int_equal(store_migrate(store, &m.app, errbuf, sizeof(errbuf)), ERR_OK);
    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    value_t v[T_NFIELDS_MAX];
    task_values(v, "m1", 1);
    assert_int_equal(store_insert(conn, &m.types[1], v, NULL), ERR_OK);
    arena_t *arena = arena_new(1024, 1 << 20);
    store_row_t row;
    assert_int_equal(store_get(conn, &m.types[1], "m1", NULL, arena, &row), ERR_OK);
    store_release(conn);
    assert_int_equal(store_ping(store), ERR_OK);
    arena_free(arena);
    store_close(store);
}

static void migrate_twice_is_idempotent(void **state)
{
    fixture_t *f = *state;
    seed(f);
    char errbuf[512];
    assert_int_equal(store_migrate(f->store, &f->model.app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_string_equal(errbuf, "");
    assert_int_equal(store_migrate(f->store, &f->model.app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_string_equal(errbuf, "");

    char type[32];
    column_type(f, "task", "estimate", type, sizeof(type));
    assert_string_equal(type, expect("REAL", "double precision"));
    column_type(f, "task", "done", type, sizeof(type));
    assert_string_equal(type, expect("INTEGER", "boolean"));
    column_type(f, "task", "due", type, sizeof(type));
    assert_string_equal(type, expect("INTEGER", "bigint"));
    column_type(f, "task", "_created", type, sizeof(type));
    assert_string_equal(type, expect("INTEGER", "bigint"));
    column_type(f, "task", "tags", type, sizeof(type));
    assert_string_equal(type, expect("TEXT", "text"));
    column_type(f, "user", "_email_norm", type, sizeof(type));
    assert_string_equal(type, expect("TEXT", "text"));
    column_type(f, "_froth_sessions", "token_hash", type, sizeof(type));
    assert_string_equal(type, expect("BLOB", "bytea"));

    size_t total = 0;
    const char *ids = NULL;
    store_query_t query = {.limit = 10, .count_total = true};
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_int_equal(total, 4);
}

static void migrate_adds_column_and_keeps_rows(void **state)
{
    fixture_t *f = *state;
    seed(f);
    model_t wider;
    model_build(&wider, true, false);
    char errbuf[512];
    assert_int_equal(store_migrate(f->store, &wider.app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_string_equal(errbuf, "");
    char type[32];
    column_type(f, "task", "notes", type, sizeof(type));
    assert_string_equal(type, expect("TEXT", "text"));

    store_row_t row;
    const app_type_t *task = &wider.types[1];
    assert_int_equal(store_get(f->conn, task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_TITLE], "Buy milk");
    assert_int_equal(row.values[T_NOTES].kind, VAL_NULL);

    bool mask[T_NFIELDS_MAX] = {false};
    mask[T_NOTES] = true;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "t1", 1);
    v[T_NOTES] = txt("remember oat milk");
    v[T_MODIFIED] = value_date(50);
    assert_int_equal(store_update(f->conn, task, "t1", mask, v), ERR_OK);
    assert_int_equal(store_get(f->conn, task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_NOTES], "remember oat milk");
    assert_value_text(&row.values[T_TITLE], "Buy milk");
}

static void migrate_warns_on_changed_type(void **state)
{
    fixture_t *f = *state;
    seed(f);
    model_t changed;
    model_build(&changed, false, true);
    char errbuf[512];
    assert_int_equal(store_migrate(f->store, &changed.app, errbuf, sizeof(errbuf)), ERR_OK);
    assert_non_null(strstr(errbuf, "estimate"));
    char type[32];
    column_type(f, "task", "estimate", type, sizeof(type));
    assert_string_equal(type, expect("REAL", "double precision"));
}

static void migrate_internal_creates_own_tables(void **state)
{
    fixture_t *f = *state;
    store_t *store = NULL;
    char errbuf[256];
    assert_int_equal(store_open(f->url, NULL, &store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate_internal(store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate_internal(store, errbuf, sizeof(errbuf)), ERR_OK);
    store_close(store);
    char type[32];
    column_type(f, "_froth_admin_tokens", "label", type, sizeof(type));
    assert_string_equal(type, expect("TEXT", "text"));
    column_type(f, "_froth_sessions", "revoked", type, sizeof(type));
    assert_string_equal(type, expect("INTEGER", "boolean"));
}

/* ---- Things ----------------------------------------------------------------------------- */

static void insert_get_round_trips_every_kind(void **state)
{
    fixture_t *f = *state;
    const char *title = "Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x8e\x89 quotes ' \" and \\ backslash";
    const char *tags = "[\"\xf0\x9f\x8e\x89\",\"x\"]";
    const char *where = "{\"address\":\"Paris\",\"lat\":48.8566,\"lng\":2.3522}";
    value_t v[T_NFIELDS_MAX];
    task_values(v, "1700000000000x123456789012345678", 1700000000123);
    v[T_MODIFIED] = value_date(1700000000456);
    v[T_CREATOR] = txt("u9");
    v[T_SLUG] = txt("cafe");
    v[T_TITLE] = txt(title);
    v[T_ESTIMATE] = value_number(3.25);
    v[T_DONE] = value_bool(false);
    v[T_DUE] = value_date(-86400000);
    v[T_TAGS] = json(tags);
    v[T_ASSIGNEE] = txt("u1");
    v[T_WHERE] = json(where);
    v[T_WATCHERS] = json("[\"u1\",\"u2\"]");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "1700000000000x123456789012345678", NULL,
                               f->arena, &row),
                     ERR_OK);
    const value_t *r = row.values;
    assert_value_text(&r[T_ID], "1700000000000x123456789012345678");
    assert_int_equal(r[T_CREATED].kind, VAL_DATE);
    assert_int_equal(r[T_CREATED].u.ms, 1700000000123);
    assert_int_equal(r[T_MODIFIED].u.ms, 1700000000456);
    assert_value_text(&r[T_CREATOR], "u9");
    assert_value_text(&r[T_SLUG], "cafe");
    assert_value_text(&r[T_TITLE], title);
    assert_int_equal(r[T_ESTIMATE].kind, VAL_NUMBER);
    assert_true(r[T_ESTIMATE].u.num == 3.25);
    assert_int_equal(r[T_DONE].kind, VAL_BOOL);
    assert_false(r[T_DONE].u.b);
    assert_int_equal(r[T_DUE].kind, VAL_DATE);
    assert_int_equal(r[T_DUE].u.ms, -86400000);
    assert_value_json(&r[T_TAGS], tags);
    assert_value_text(&r[T_ASSIGNEE], "u1");
    assert_value_json(&r[T_WHERE], where);
    assert_value_json(&r[T_WATCHERS], "[\"u1\",\"u2\"]");
}

static void insert_get_round_trips_nulls(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "empty", 5);
    v[T_TITLE] = (value_t){.kind = VAL_TEXT, .u.s = {"", 0}};
    v[T_TAGS] = json(" [ ] ");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "empty", NULL, f->arena, &row), ERR_OK);
    for (int i = T_CREATOR; i < T_NOTES; i++)
        assert_int_equal(row.values[i].kind, VAL_NULL);

    store_cond_t *empty = cond_on(f, COND_IS_EMPTY, f->task, T_TAGS, value_null());
    assert_string_equal(where_ids(f, empty), "empty");
}

static void insert_rejects_values_that_do_not_fit(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "bad", 1);
    v[T_ESTIMATE] = txt("five");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    task_values(v, "bad", 1);
    v[T_ESTIMATE] = value_number(NAN);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    task_values(v, "bad", 1);
    v[T_TAGS] = json("[\"a\",");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    task_values(v, "bad", 1);
    v[T_TAGS] = txt("[\"a\"]");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    task_values(v, "bad", 1);
    v[T_ID] = value_null();
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    task_values(v, "bad", 1);
    v[T_CREATED] = value_null();
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);

    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "bad", NULL, f->arena, &row), ERR_NOT_FOUND);
}

static void insert_duplicate_id_conflicts(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "same", 1);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_CONFLICT);
}

static void update_writes_masked_fields(void **state)
{
    fixture_t *f = *state;
    seed(f);
    bool mask[T_NFIELDS_MAX] = {false};
    mask[T_TITLE] = true;
    mask[T_DUE] = true;
    mask[T_TAGS] = true;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "ignored", 0);
    v[T_TITLE] = txt("Buy oat milk \xf0\x9f\xa5\x9b");
    v[T_DUE] = value_null();
    v[T_TAGS] = json("[]");
    v[T_ESTIMATE] = value_number(99); /* not masked: must not be written */
    v[T_MODIFIED] = value_date(777);
    assert_int_equal(store_update(f->conn, f->task, "t1", mask, v), ERR_OK);

    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_TITLE], "Buy oat milk \xf0\x9f\xa5\x9b");
    assert_int_equal(row.values[T_DUE].kind, VAL_NULL);
    assert_int_equal(row.values[T_TAGS].kind, VAL_NULL);
    assert_true(row.values[T_ESTIMATE].u.num == 1);
    assert_int_equal(row.values[T_MODIFIED].u.ms, 777);
    assert_int_equal(row.values[T_CREATED].u.ms, 1);

    assert_int_equal(store_update(f->conn, f->task, "nope", mask, v), ERR_NOT_FOUND);
    mask[T_ID] = true;
    assert_int_equal(store_update(f->conn, f->task, "t1", mask, v), ERR_INVALID);
}

static void delete_removes_once(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_int_equal(store_delete(f->conn, f->task, "t2"), ERR_OK);
    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "t2", NULL, f->arena, &row), ERR_NOT_FOUND);
    assert_int_equal(store_delete(f->conn, f->task, "t2"), ERR_NOT_FOUND);
    assert_string_equal(where_ids(f, NULL), "t1,t3,t4");
}

static void get_applies_where_and_flags(void **state)
{
    fixture_t *f = *state;
    seed(f);
    const store_cond_t *flags[] = {
        cmp(f, T_DONE, CMP_EQ, value_bool(true)),
        cond_on(f, COND_IS_EMPTY, f->task, T_TITLE, value_null()),
    };
    store_query_t query = {.flags = flags, .nflags = 2};
    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "t1", &query, f->arena, &row), ERR_OK);
    assert_true(row.flags[0]);
    assert_false(row.flags[1]);
    assert_int_equal(store_get(f->conn, f->task, "t3", &query, f->arena, &row), ERR_OK);
    assert_false(row.flags[0]);
    assert_true(row.flags[1]);

    query.where = cmp(f, T_DONE, CMP_EQ, value_bool(false));
    assert_int_equal(store_get(f->conn, f->task, "t1", &query, f->arena, &row), ERR_NOT_FOUND);
    assert_int_equal(store_get(f->conn, f->task, "t2", &query, f->arena, &row), ERR_OK);
    assert_int_equal(store_get(f->conn, f->task, "zz", NULL, f->arena, &row), ERR_NOT_FOUND);
}

/* ---- Search ----------------------------------------------------------------------------- */

static void search_comparisons(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_EQ, txt("Buy milk"))), "t1");
    assert_string_equal(where_ids(f, cmp(f, T_ESTIMATE, CMP_LT, value_number(4))), "t1,t4");
    assert_string_equal(where_ids(f, cmp(f, T_ESTIMATE, CMP_LE, value_number(3))), "t1,t4");
    assert_string_equal(where_ids(f, cmp(f, T_ESTIMATE, CMP_GT, value_number(3))), "t2");
    assert_string_equal(where_ids(f, cmp(f, T_ESTIMATE, CMP_GE, value_number(3))), "t2,t4");
    assert_string_equal(where_ids(f, cmp(f, T_DONE, CMP_EQ, value_bool(true))), "t1");
    assert_string_equal(where_ids(f, cmp(f, T_DONE, CMP_EQ, value_bool(false))), "t2,t4");
    assert_string_equal(where_ids(f, cmp(f, T_DUE, CMP_LT, value_date(1500))), "t1");
    assert_string_equal(where_ids(f, cmp(f, T_DUE, CMP_GE, value_date(1500))), "t2");
    assert_string_equal(where_ids(f, cmp(f, T_CREATED, CMP_GT, value_date(2))), "t3,t4");
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_EQ, value_null())), "t3");
}

static void search_not_equal_matches_empty(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_NE, txt("Buy milk"))), "t2,t3,t4");
    assert_string_equal(where_ids(f, cmp(f, T_DONE, CMP_NE, value_bool(false))), "t1,t3");
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_NE, value_null())), "t1,t2,t4");
}

static void search_emptiness_and_lists(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_string_equal(where_ids(f, cond_on(f, COND_IS_EMPTY, f->task, T_TITLE, value_null())),
                        "t3");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_IS_NOT_EMPTY, f->task, T_TAGS, value_null())), "t1,t2");
    assert_string_equal(where_ids(f, cond_on(f, COND_IS_EMPTY, f->task, T_TAGS, value_null())),
                        "t3,t4");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, txt("b"))), "t1,t2");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, txt("a"))), "t1");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, txt("a' OR 1=1"))), "");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_TEXT_CONTAINS, f->task, T_TITLE, txt("MILK"))), "t1");
    assert_string_equal(
        where_ids(f, cond_on(f, COND_TEXT_CONTAINS, f->task, T_TITLE, txt("' or 1"))), "t4");
}

static void search_in_values(void **state)
{
    fixture_t *f = *state;
    seed(f);
    const value_t titles[] = {txt("Buy milk"), txt("Walk dog"), txt("zzz")};
    store_cond_t *in = cond_on(f, COND_IN, f->task, T_TITLE, value_null());
    in->values = titles;
    in->nvalues = 3;
    assert_string_equal(where_ids(f, in), "t1,t2");
    in->nvalues = 0;
    assert_string_equal(where_ids(f, in), "");
}

static void search_logic(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_cond_t *done = cmp(f, T_DONE, CMP_EQ, value_bool(true));
    store_cond_t *big = cmp(f, T_ESTIMATE, CMP_GT, value_number(4));
    assert_string_equal(where_ids(f, store_cond_or(f->arena, done, big)), "t1,t2");
    assert_string_equal(where_ids(f, store_cond_and(f->arena, done, big)), "");
    /* NOT treats an unknown (empty) field as "does not hold", so t3 is included. */
    assert_string_equal(where_ids(f, store_cond_not(f->arena, done)), "t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_new(f->arena, COND_TRUE)), "t1,t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_new(f->arena, COND_FALSE)), "");
    assert_string_equal(where_ids(f, store_cond_new(f->arena, COND_AND)), "t1,t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_new(f->arena, COND_OR)), "");

    store_cond_t *chain = store_cond_new(f->arena, COND_OR);
    chain = store_cond_or(f->arena, chain, done);
    chain = store_cond_or(f->arena, chain, big);
    assert_int_equal(chain->kind, COND_OR);
    assert_int_equal(chain->nkids, 2);
    assert_string_equal(where_ids(f, chain), "t1,t2");
    store_cond_t *both = store_cond_and(f->arena, store_cond_and(f->arena, done, big), done);
    assert_int_equal(both->nkids, 3);
}

/* A negation is true wherever its operand is not, including things whose field is empty. */
static void search_negations(void **state)
{
    fixture_t *f = *state;
    seed(f);
    arena_t *a = f->arena;
    store_cond_t *done = cmp(f, T_DONE, CMP_EQ, value_bool(true));
    store_cond_t *big = cmp(f, T_ESTIMATE, CMP_GT, value_number(4));
    store_cond_t *small = cmp(f, T_ESTIMATE, CMP_LT, value_number(4));
    assert_string_equal(where_ids(f, store_cond_not(a, small)), "t2,t3");
    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_and(a, done, small))),
                        "t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_or(a, done, big))), "t3,t4");
    assert_string_equal(
        where_ids(f, store_cond_not(a, cond_on(f, COND_IS_EMPTY, f->task, T_TITLE, value_null()))),
        "t1,t2,t4");
    assert_string_equal(
        where_ids(f, store_cond_not(a, cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, txt("b")))),
        "t3,t4");
    assert_string_equal(
        where_ids(f, store_cond_not(a, cond_on(f, COND_TEXT_CONTAINS, f->task, T_TITLE,
                                               txt("milk")))),
        "t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_not(a, cmp(f, T_TITLE, CMP_NE, txt("Buy milk")))),
                        "t1");
    assert_string_equal(where_ids(f, store_cond_not(a, cmp(f, T_TITLE, CMP_EQ, value_null()))),
                        "t1,t2,t4");
    assert_string_equal(where_ids(f, store_cond_not(a, cmp(f, T_TITLE, CMP_EQ, txt("Walk dog")))),
                        "t1,t3,t4");

    const value_t titles[] = {txt("Buy milk"), txt("Walk dog")};
    store_cond_t *in = cond_on(f, COND_IN, f->task, T_TITLE, value_null());
    in->values = titles;
    in->nvalues = 2;
    assert_string_equal(where_ids(f, store_cond_not(a, in)), "t3,t4");
    store_cond_t *in_nothing = cond_on(f, COND_IN, f->task, T_TITLE, value_null());
    assert_string_equal(where_ids(f, store_cond_not(a, in_nothing)), "t1,t2,t3,t4");

    store_cond_t *ref = cond_on(f, COND_REF_MATCH, f->task, T_ASSIGNEE, value_null());
    ref->sub_type = f->user;
    ref->sub = store_cond_cmp(a, &f->user->fields[U_NAME], CMP_EQ, txt("Bob"));
    assert_string_equal(where_ids(f, store_cond_not(a, ref)), "t1,t3,t4");
    store_cond_t *watched = cond_on(f, COND_REF_MATCH, f->task, T_WATCHERS, value_null());
    watched->sub_type = f->user;
    watched->sub = store_cond_cmp(a, &f->user->fields[U_AGE], CMP_GT, value_number(35));
    assert_string_equal(where_ids(f, store_cond_not(a, watched)), "t1,t3,t4");

    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_new(a, COND_TRUE))), "");
    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_new(a, COND_AND))), "");
    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_new(a, COND_OR))),
                        "t1,t2,t3,t4");
    assert_string_equal(where_ids(f, store_cond_not(a, store_cond_not(a, done))), "t1");
}

static void search_ref_match_on_creator(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_cond_t *ref = cond_on(f, COND_REF_MATCH, f->task, T_CREATOR, value_null());
    ref->sub_type = f->user;
    ref->sub = store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Alice"));
    assert_string_equal(where_ids(f, ref), "t1,t4");

    /* Users created by users created by ... nested past what SQLite's parser accepts. */
    store_cond_t *deep = store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Alice"));
    for (int i = 0; i < 30; i++) {
        store_cond_t *up = cond_on(f, COND_REF_MATCH, f->user, U_CREATOR, value_null());
        up->sub_type = f->user;
        up->sub = deep;
        deep = up;
    }
    ref->sub = deep;
    store_query_t query = {.where = ref, .limit = 10};
    const char *ids = NULL;
    size_t total = 0;
    /* PostgreSQL's parser has no such limit, and nobody's creator has a creator. */
    if (on_pg) {
        assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
        assert_string_equal(ids, "");
    } else {
        assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);
    }
}

static void search_ref_match_through_user(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_cond_t *bob = store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Bob"));
    store_cond_t *ref = cond_on(f, COND_REF_MATCH, f->task, T_ASSIGNEE, value_null());
    ref->sub_type = f->user;
    ref->sub = bob;
    assert_string_equal(where_ids(f, ref), "t2");

    ref->sub = cond_on(f, COND_TEXT_CONTAINS, f->user, U_EMAIL, txt("EXAMPLE.COM"));
    assert_string_equal(where_ids(f, ref), "t1,t2");

    ref->sub = NULL;
    assert_string_equal(where_ids(f, ref), "t1,t2");

    store_cond_t *watched = cond_on(f, COND_REF_MATCH, f->task, T_WATCHERS, value_null());
    watched->sub_type = f->user;
    watched->sub = store_cond_cmp(f->arena, &f->user->fields[U_AGE], CMP_GT, value_number(35));
    assert_string_equal(where_ids(f, watched), "t2");
    watched->sub = store_cond_cmp(f->arena, &f->user->fields[U_ID], CMP_EQ, txt("u1"));
    assert_string_equal(where_ids(f, watched), "t1,t2");
}

/* ---- Computed values: the statement agrees with the evaluator ----------------------------- */

/* Rules with counts, arithmetic and text operators on fields of This compile into conditions
 * that carry a store_calc_t, which only a real database can check: each backend must compute
 * exactly what expr_eval computes, including results that overflow, underflow or divide by zero
 * (PostgreSQL raises an error on those where C gives Inf or 0). Random tasks with extreme
 * numbers and awkward texts are searched with each rule and compared with expr_eval. */

#define CALC_TASKS 80
#define CALC_E60 "1000000000000000000000000000000000000000000000000000000000000"
/* About 1e308, as a product because expressions take no exponents. */
#define CALC_BIG                                                                                   \
    "(" CALC_E60 " * " CALC_E60 " * " CALC_E60 " * " CALC_E60 " * " CALC_E60 " * 100000000)"

static const char *const calc_rules[] = {
    "This Task's tags:count > 1",
    "This Task's tags:count is 0",
    "This Task's tags:count is not 2",
    "This Task's tags:count * 2 + 1 >= 5",
    "10 - This Task's watchers:count < 9",
    "This Task's estimate * 2 < 10",
    "This Task's estimate * 2 is empty",
    "This Task's estimate * 2 is not empty",
    "This Task's estimate * 0.5 is 0",
    "This Task's estimate * 0.5 < 0",
    "This Task's estimate * 0 is 0",
    "This Task's estimate * -3 > 1",
    "This Task's estimate / 0.001 is empty",
    "This Task's estimate / 3 > 1",
    "This Task's estimate / 0 is empty",
    "This Task's estimate / " CALC_BIG " is 0",
    "10 / This Task's estimate > 2",
    "10 / This Task's estimate is empty",
    "0.0001 / This Task's estimate is 0",
    "0 / This Task's estimate is 0",
    "This Task's estimate + " CALC_BIG " is empty",
    "This Task's estimate - " CALC_BIG " is empty",
    CALC_BIG " - This Task's estimate is empty",
    "5 - This Task's estimate >= 2",
    "(This Task's estimate + 1) * 2 - 3 < 4",
    "This Task's estimate * (1 / 0) is empty",
    "This Task's estimate * 3 / 3 is 2.5",
    "This Task's title:lowercase contains 'x'",
    "This Task's title:lowercase is 'buy milk'",
    "This Task's title:uppercase is 'MIXED'",
    "This Task's title:uppercase doesn't contain 'MILK'",
    "This Task's title:trimmed is 'x'",
    "This Task's title:trimmed is empty",
    "This Task's title:trimmed is not empty",
    "This Task's title:number of characters is 5",
    "This Task's title:number of characters < 3",
    "This Task's title:trimmed:number of characters > 1",
    "This Task's title:lowercase:trimmed:uppercase is 'X'",
    "This Task's title:lowercase is '\xC3\x89t\xC3\xA9 x'",
    "This Task's title:trimmed > 'W'",
    "This Task's title is ''",
    "This Task's title > ''",
    "This Task's assignee's age * 2 > 70",
    "This Task's assignee's age / 0 is empty",
    "This Task's assignee's age * 2 is empty",
    "This Task's assignee's name:lowercase is 'bob'",
    "This Task's assignee's name:number of characters is 0",
    "This Task's Creator's name:uppercase is not 'ALICE'",
};

static uint64_t calc_state = 0x2545F4914F6CDD1Du;

static size_t calc_pick(size_t n)
{
    calc_state ^= calc_state << 13;
    calc_state ^= calc_state >> 7;
    calc_state ^= calc_state << 17;
    return (size_t)(calc_state % n);
}

static const double calc_numbers[] = {0,
                                      -0.0,
                                      1,
                                      2.5,
                                      -3,
                                      10,
                                      0.1,
                                      35,
                                      1e308,
                                      -1e308,
                                      1.7976931348623157e308,
                                      1e-308,
                                      4.9e-324,
                                      -2.5e-310,
                                      123456.789,
                                      1e-5};

static void calc_seed(fixture_t *f)
{
    static const char *const names[] = {"Alice", "bob", "\xC3\x89T\xC3\xA9", NULL};
    value_t u[U_NFIELDS];
    for (int i = 0; i < 4; i++) {
        char id[8], email[32];
        snprintf(id, sizeof(id), "u%d", i + 1);
        snprintf(email, sizeof(email), "u%d@example.com", i + 1);
        user_values(u, id, email, names[i], 0);
        u[U_AGE] = i == 3 ? value_null() : value_number(calc_numbers[calc_pick(16)]);
        assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_OK);
    }

    static const char *const titles[] = {
        NULL, "Buy milk", "  x ", " \t\n", "\xC3\x89t\xC3\xA9 X", "MiXeD", "x", "Walk", "ab"};
    static const char *const tags[] = {NULL, "[\"a\"]", "[\"a\",\"b\",\"c\"]", "[\"a\",\"b\"]"};
    static const char *const refs[] = {NULL, "u1", "u2", "u3", "u4", "u9"};
    value_t v[T_NFIELDS_MAX];
    for (int i = 0; i < CALC_TASKS; i++) {
        char *id = arena_printf(f->arena, "t%d", i);
        task_values(v, id, i);
        const char *title = titles[calc_pick(9)];
        const char *tag = tags[calc_pick(4)];
        const char *creator = refs[calc_pick(6)];
        const char *assignee = refs[calc_pick(6)];
        if (title != NULL)
            v[T_TITLE] = txt(title);
        if (calc_pick(5) != 0)
            v[T_ESTIMATE] = value_number(calc_numbers[calc_pick(16)]);
        if (tag != NULL)
            v[T_TAGS] = json(tag);
        if (creator != NULL)
            v[T_CREATOR] = txt(creator);
        if (assignee != NULL)
            v[T_ASSIGNEE] = txt(assignee);
        assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
    }
}

/* Reads a referenced thing's field as stored, as rule conditions do. */
static err_t calc_load_field(void *ud, const app_type_t *type, const char *id, size_t id_len,
                             const app_field_t *field, value_t *out)
{
    fixture_t *f = ud;
    *out = value_null();
    store_row_t row;
    const err_t err =
        store_get(f->conn, type, arena_strndup(f->arena, id, id_len), NULL, f->arena, &row);
    if (err == ERR_OK)
        *out = row.values[field->index];
    return err == ERR_NOT_FOUND ? ERR_OK : err;
}

static void search_calc_agrees_with_eval(void **state)
{
    fixture_t *f = *state;
    calc_seed(f);
    store_query_t all = {.limit = 1000};
    store_row_t *rows = NULL;
    size_t nrows = 0, total = 0;
    assert_int_equal(store_search(f->conn, f->task, &all, f->arena, &rows, &nrows, &total), ERR_OK);
    assert_int_equal(nrows, CALC_TASKS);

    const expr_scope_t scope = {.app = &f->model.app, .this_type = 1};
    expr_env_t env = {.app = &f->model.app,
                      .this_type = f->task,
                      .arena = f->arena,
                      .load_field = calc_load_field,
                      .ud = f};
    for (size_t r = 0; r < sizeof(calc_rules) / sizeof(calc_rules[0]); r++) {
        expr_t *e = NULL;
        expr_error_t error;
        if (expr_parse(f->arena, &scope, calc_rules[r], &e, &error) != ERR_OK)
            fail_msg("%s: column %d: %s", calc_rules[r], error.column, error.message);
        store_cond_t *cond = NULL;
        env.this_values = NULL;
        const err_t compiled = expr_to_cond(e, &env, &cond);
        if (compiled != ERR_OK)
            fail_msg("%s: expr_to_cond failed with %s", calc_rules[r], err_name(compiled));

        store_query_t query = {.where = cond, .limit = 1000, .count_total = true};
        store_row_t *found = NULL;
        size_t nfound = 0;
        const err_t err = store_search(f->conn, f->task, &query, f->arena, &found, &nfound, &total);
        if (err != ERR_OK)
            fail_msg("%s: the search failed with %s", calc_rules[r], err_name(err));
        assert_int_equal(total, nfound);

        size_t k = 0;
        for (size_t i = 0; i < nrows; i++) {
            env.this_values = rows[i].values;
            bool expected;
            const err_t evaluated = expr_eval_bool(e, &env, &expected);
            if (evaluated != ERR_OK)
                fail_msg("%s: expr_eval failed with %s", calc_rules[r], err_name(evaluated));
            const value_t id = rows[i].values[T_ID];
            const bool matched = k < nfound && found[k].values[T_ID].u.s.n == id.u.s.n &&
                                 memcmp(found[k].values[T_ID].u.s.p, id.u.s.p, id.u.s.n) == 0;
            if (matched)
                k++;
            if (matched != expected)
                fail_msg("%s on %.*s: expr_eval says %s, the search says %s", calc_rules[r],
                         (int)id.u.s.n, id.u.s.p, expected ? "yes" : "no", matched ? "yes" : "no");
        }
        assert_int_equal(k, nfound);
    }
}

static void search_text_with_sql_matches_literally(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_EQ, txt("x' OR 1=1 --"))), "t4");
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_EQ, txt("' OR '1'='1"))), "");
    assert_string_equal(where_ids(f, cmp(f, T_TITLE, CMP_EQ, txt("\"; DROP TABLE task; --"))), "");
    assert_string_equal(where_ids(f, NULL), "t1,t2,t3,t4");
}

static void search_sorts_with_nulls_first(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_sort_t sort = {.field = &f->task->fields[T_ESTIMATE]};
    store_query_t query = {.sort = &sort, .nsort = 1, .limit = 10};
    const char *ids = NULL;
    size_t total = 0;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t3,t1,t4,t2");
    sort.descending = true;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2,t4,t1,t3");

    sort = (store_sort_t){.field = &f->task->fields[T_TITLE]};
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t3,t1,t2,t4");

    /* Equal keys fall back to Created Date. */
    sort = (store_sort_t){.field = &f->task->fields[T_DONE], .descending = true};
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t1,t2,t4,t3");

    sort = (store_sort_t){.field = &f->task->fields[T_TAGS]};
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);
}

static void search_pages_and_counts(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_query_t query = {.offset = 1, .limit = 2, .count_total = true};
    const char *ids = NULL;
    size_t total = 0;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2,t3");
    assert_int_equal(total, 4);

    query.offset = 10;
    total = 99;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "");
    assert_int_equal(total, 4);

    query.offset = 0;
    query.limit = 0;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "");
    assert_int_equal(total, 4);

    query.where = cmp(f, T_DONE, CMP_EQ, value_bool(false));
    query.limit = 1;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2");
    assert_int_equal(total, 2);

    /* The count repeats the filter, parameters and all. */
    store_cond_t *named = store_cond_or(
        f->arena, store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Bob")),
        store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Alice")));
    store_cond_t *ref = cond_on(f, COND_REF_MATCH, f->task, T_ASSIGNEE, value_null());
    ref->sub_type = f->user;
    ref->sub = named;
    const value_t titles[] = {txt("Buy milk"), txt("Walk dog"), txt("x' OR 1=1 --")};
    store_cond_t *in = cond_on(f, COND_IN, f->task, T_TITLE, value_null());
    in->values = titles;
    in->nvalues = 3;
    query.where = store_cond_and(f->arena, ref, in);
    query.limit = 1;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t1");
    assert_int_equal(total, 2);
    query.offset = 1;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2");
    assert_int_equal(total, 2);

    query.where = cmp(f, T_DONE, CMP_EQ, value_bool(false));
    query.offset = 0;
    query.count_total = false;
    query.limit = SIZE_MAX;
    total = 99;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2,t4");
    assert_int_equal(total, 0);
}

static void search_returns_flags_per_row(void **state)
{
    fixture_t *f = *state;
    seed(f);
    const store_cond_t *flags[] = {
        cmp(f, T_CREATOR, CMP_EQ, txt("u1")),
        cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, txt("b")),
    };
    store_query_t query = {.flags = flags, .nflags = 2, .limit = 10, .count_total = true};
    store_row_t *rows = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(store_search(f->conn, f->task, &query, f->arena, &rows, &n, &total), ERR_OK);
    assert_int_equal(n, 4);
    assert_int_equal(total, 4);
    const bool expected[4][2] = {{true, true}, {false, true}, {false, false}, {true, false}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(rows[i].flags[0], expected[i][0]);
        assert_int_equal(rows[i].flags[1], expected[i][1]);
    }
}

static void search_rejects_runaway_conditions(void **state)
{
    fixture_t *f = *state;
    seed(f);
    store_cond_t *c = cmp(f, T_DONE, CMP_EQ, value_bool(true));
    for (int i = 0; i < 60; i++)
        c = store_cond_not(f->arena, c);
    store_query_t query = {.where = c, .limit = 10};
    const char *ids = NULL;
    size_t total = 0;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t1");

    for (int i = 0; i < 10; i++)
        c = store_cond_not(f->arena, c);
    query.where = c;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);

    enum { MANY = 10001 };
    value_t *values = arena_calloc(f->arena, MANY, sizeof(*values));
    for (size_t i = 0; i < MANY; i++)
        values[i] = txt("v");
    store_cond_t *in = cond_on(f, COND_IN, f->task, T_TITLE, value_null());
    in->values = values;
    in->nvalues = MANY;
    query.where = in;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);
    in->nvalues = 5000;
    values[4999] = txt("Walk dog");
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t2");

    /* A flat OR of thousands of kids must not hit SQLite's expression depth limit. */
    store_cond_t *wide = store_cond_new(f->arena, COND_OR);
    for (int i = 0; i < 3000; i++)
        wide = store_cond_or(f->arena, wide, store_cond_new(f->arena, COND_FALSE));
    wide = store_cond_or(f->arena, wide, cmp(f, T_DONE, CMP_EQ, value_bool(true)));
    query.where = wide;
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_OK);
    assert_string_equal(ids, "t1");

    query.where = store_cond_cmp(f->arena, &f->user->fields[U_NAME], CMP_EQ, txt("Bob"));
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);
    query.where = cond_on(f, COND_LIST_CONTAINS, f->task, T_TITLE, txt("x"));
    assert_int_equal(search_ids(f, &query, &ids, &total), ERR_INVALID);
}

/* ---- Users ------------------------------------------------------------------------------ */

static void user_email_is_unique_case_insensitive(void **state)
{
    fixture_t *f = *state;
    seed(f);
    value_t u[U_NFIELDS];
    user_values(u, "u3", "  ALICE@example.COM ", "Other", 1);
    assert_int_equal(store_insert(f->conn, f->user, u, "hash"), ERR_CONFLICT);

    user_values(u, "u4", NULL, "No email", 1);
    assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_OK);
    user_values(u, "u5", NULL, "No email either", 1);
    assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_OK);

    bool mask[U_NFIELDS] = {false};
    mask[U_EMAIL] = true;
    user_values(u, "u2", "alice@EXAMPLE.com", NULL, 0);
    assert_int_equal(store_update(f->conn, f->user, "u2", mask, u), ERR_CONFLICT);
    user_values(u, "u2", "Bobby@Example.com", NULL, 0);
    assert_int_equal(store_update(f->conn, f->user, "u2", mask, u), ERR_OK);

    char *id = NULL, *hash = NULL;
    assert_int_equal(store_user_by_email(f->conn, f->user, "bobby@example.com", f->arena, &id,
                                         &hash),
                     ERR_OK);
    assert_string_equal(id, "u2");
    assert_null(hash);
    assert_int_equal(store_user_by_email(f->conn, f->user, "bob@example.com", f->arena, &id,
                                         &hash),
                     ERR_NOT_FOUND);

    store_row_t row;
    assert_int_equal(store_get(f->conn, f->user, "u2", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[U_EMAIL], "Bobby@Example.com");
    assert_value_text(&row.values[U_NAME], "Bob");
}

static void user_password_lookup_and_change(void **state)
{
    fixture_t *f = *state;
    seed(f);
    char *id = NULL, *hash = NULL;
    assert_int_equal(store_user_by_email(f->conn, f->user, "alice@example.com", f->arena, &id,
                                         &hash),
                     ERR_OK);
    assert_string_equal(id, "u1");
    assert_string_equal(hash, "hash-a");
    assert_int_equal(store_user_set_password(f->conn, f->user, "u1", "hash-b"), ERR_OK);
    assert_int_equal(store_user_by_email(f->conn, f->user, "alice@example.com", f->arena, &id,
                                         &hash),
                     ERR_OK);
    assert_string_equal(hash, "hash-b");
    assert_int_equal(store_user_set_password(f->conn, f->user, "nobody", "x"), ERR_NOT_FOUND);
    assert_int_equal(store_user_by_email(f->conn, f->user, "carol@example.com", f->arena, &id,
                                         &hash),
                     ERR_NOT_FOUND);
    assert_null(id);
}

/* ---- Sessions and admin tokens ---------------------------------------------------------- */

static void fill_hash(unsigned char hash[32], unsigned char seed_byte)
{
    for (int i = 0; i < 32; i++)
        hash[i] = (unsigned char)(seed_byte + i * 7);
    hash[5] = 0; /* an embedded zero byte must not cut the BLOB */
}

static void sessions_insert_get_touch_revoke(void **state)
{
    fixture_t *f = *state;
    unsigned char hash[32], other[32];
    fill_hash(hash, 1);
    fill_hash(other, 2);
    store_session_t s = {.created_ms = 100, .last_used_ms = 100, .expires_ms = 86400100,
                         .idle_ms = 2592000000, .two_factor = true};
    snprintf(s.id, sizeof(s.id), "sess-1");
    snprintf(s.user_id, sizeof(s.user_id), "u1");
    assert_int_equal(store_session_insert(f->conn, hash, &s), ERR_OK);
    assert_int_equal(store_session_insert(f->conn, hash, &s), ERR_CONFLICT);

    store_session_t got;
    assert_int_equal(store_session_get(f->conn, hash, &got), ERR_OK);
    assert_string_equal(got.id, "sess-1");
    assert_string_equal(got.user_id, "u1");
    assert_int_equal(got.created_ms, 100);
    assert_int_equal(got.expires_ms, 86400100);
    assert_int_equal(got.idle_ms, 2592000000);
    assert_true(got.two_factor);
    assert_false(got.revoked);

    assert_int_equal(store_session_touch(f->conn, hash, 5000), ERR_OK);
    assert_int_equal(store_session_get(f->conn, hash, &got), ERR_OK);
    assert_int_equal(got.last_used_ms, 5000);

    assert_int_equal(store_session_revoke(f->conn, hash), ERR_OK);
    assert_int_equal(store_session_get(f->conn, hash, &got), ERR_OK);
    assert_true(got.revoked);

    assert_int_equal(store_session_get(f->conn, other, &got), ERR_NOT_FOUND);
    assert_int_equal(store_session_touch(f->conn, other, 1), ERR_NOT_FOUND);
    assert_int_equal(store_session_revoke(f->conn, other), ERR_NOT_FOUND);
}

static void sessions_keep_client(void **state)
{
    fixture_t *f = *state;
    unsigned char hash[32], bare[32];
    fill_hash(hash, 3);
    fill_hash(bare, 4);
    store_session_t s = {.created_ms = 100, .last_used_ms = 100, .expires_ms = 86400100,
                         .idle_ms = 2592000000};
    snprintf(s.id, sizeof(s.id), "sess-client");
    snprintf(s.user_id, sizeof(s.user_id), "u1");
    snprintf(s.client_address, sizeof(s.client_address), "2001:db8::7");
    memset(s.user_agent, 'a', STORE_USER_AGENT_MAX);
    assert_int_equal(store_session_insert(f->conn, hash, &s), ERR_OK);
    store_session_t without = s;
    snprintf(without.id, sizeof(without.id), "sess-bare");
    without.client_address[0] = '\0';
    without.user_agent[0] = '\0';
    assert_int_equal(store_session_insert(f->conn, bare, &without), ERR_OK);

    store_session_t got;
    assert_int_equal(store_session_get(f->conn, hash, &got), ERR_OK);
    assert_string_equal(got.client_address, "2001:db8::7");
    assert_int_equal(strlen(got.user_agent), STORE_USER_AGENT_MAX);
    assert_int_equal(store_session_get(f->conn, bare, &got), ERR_OK);
    assert_string_equal(got.client_address, "");
    assert_string_equal(got.user_agent, "");

    store_session_t *listed;
    size_t n = 0;
    assert_int_equal(store_session_list(f->conn, "u1", 200, f->arena, &listed, &n), ERR_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        const bool bare_one = strcmp(listed[i].id, "sess-bare") == 0;
        assert_string_equal(listed[i].client_address, bare_one ? "" : "2001:db8::7");
    }
}

static void audit_row(store_audit_t *row, int64_t time_ms, const char *event, const char *user)
{
    memset(row, 0, sizeof(*row));
    row->time_ms = time_ms;
    snprintf(row->event, sizeof(row->event), "%s", event);
    snprintf(row->user_id, sizeof(row->user_id), "%s", user);
    snprintf(row->client_address, sizeof(row->client_address), "192.0.2.1");
    snprintf(row->detail, sizeof(row->detail), "reason=test");
}

static void audit_insert_list_prune(void **state)
{
    fixture_t *f = *state;
    static const char *const events[] = {"login.failed", "token.issued", "login.failed",
                                         "session.revoked", "login.failed"};
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        store_audit_t row;
        audit_row(&row, 1000 * (i + 1), events[i], i % 2 == 0 ? "u1" : "u2");
        assert_int_equal(store_audit_insert(f->conn, &row), ERR_OK);
        ids[i] = row.id;
        assert_true(i == 0 || ids[i] > ids[i - 1]);
    }
    store_audit_t empty = {0};
    assert_int_equal(store_audit_insert(f->conn, &empty), ERR_INVALID);

    store_audit_t rows[STORE_AUDIT_PAGE_MAX];
    size_t n = 0;
    store_audit_query_t all = {.limit = 10};
    assert_int_equal(store_audit_list(f->conn, &all, rows, &n), ERR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(rows[0].id, ids[4]);
    assert_int_equal(rows[0].time_ms, 5000);
    assert_string_equal(rows[0].client_address, "192.0.2.1");
    assert_string_equal(rows[0].admin_label, "");

    store_audit_query_t filtered = {.user_id = "u1", .event = "login.failed", .since_ms = 2000,
                                    .limit = 10};
    assert_int_equal(store_audit_list(f->conn, &filtered, rows, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, ids[4]);
    assert_int_equal(rows[1].id, ids[2]);

    store_audit_query_t page = {.before_id = ids[3], .limit = 2};
    assert_int_equal(store_audit_list(f->conn, &page, rows, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, ids[2]);
    assert_int_equal(rows[1].id, ids[1]);
    store_audit_query_t oldest = {.oldest_first = true, .after_id = ids[2], .limit = 10};
    assert_int_equal(store_audit_list(f->conn, &oldest, rows, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].id, ids[3]);

    store_audit_query_t too_many = {.limit = STORE_AUDIT_PAGE_MAX + 1};
    assert_int_equal(store_audit_list(f->conn, &too_many, rows, &n), ERR_INVALID);

    size_t pruned = 0;
    assert_int_equal(store_audit_prune(f->conn, 3000, &pruned), ERR_OK);
    assert_int_equal(pruned, 2);
    assert_int_equal(store_audit_list(f->conn, &all, rows, &n), ERR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[2].time_ms, 3000);
}

/* A database whose sessions table predates the client columns gains them at migration, and its
 * sessions read back with an empty client. */
static void old_sessions_table_gains_client_columns(void **state)
{
    fixture_t *f = *state;
    static const char old_table[] =
        "CREATE TABLE \"_froth_sessions\" (\"token_hash\" %s PRIMARY KEY NOT NULL, "
        "\"id\" TEXT NOT NULL UNIQUE, \"user_id\" TEXT NOT NULL, \"created\" BIGINT NOT NULL, "
        "\"last_used\" BIGINT NOT NULL, \"expires\" BIGINT NOT NULL, "
        "\"idle_ms\" BIGINT NOT NULL, \"two_factor\" %s NOT NULL, "
        "\"revoked\" %s NOT NULL); INSERT INTO \"_froth_sessions\" VALUES "
        "(%s, 'old', 'u1', 1, 1, 9000000000000, 86400000, %s, %s)";
    char sql[1200];
    if (on_pg) {
        char create[1024];
        snprintf(create, sizeof(create), old_table, "BYTEA", "BOOLEAN", "BOOLEAN",
                 "'\\x0102'::bytea", "FALSE", "FALSE");
        snprintf(sql, sizeof(sql), "SET search_path TO \"%s\"; %s; RESET search_path",
                 f->schema, create);
        pg_admin_exec(sql);
    } else {
        snprintf(sql, sizeof(sql), old_table, "BLOB", "INTEGER", "INTEGER", "x'0102'", "0", "0");
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
    }

    store_t *store;
    char errbuf[512];
    assert_int_equal(store_open(f->url, NULL, &store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate_internal(store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate_internal(store, errbuf, sizeof(errbuf)), ERR_OK);
    store_conn_t *conn;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    arena_t *arena = arena_new(4096, 1u << 20);
    store_session_t *listed;
    size_t n = 0;
    assert_int_equal(store_session_list(conn, "u1", 2, arena, &listed, &n), ERR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(listed[0].id, "old");
    assert_string_equal(listed[0].client_address, "");

    unsigned char hash[32];
    fill_hash(hash, 9);
    store_session_t s = {.created_ms = 1, .last_used_ms = 1, .expires_ms = 9000000000000,
                         .idle_ms = 86400000};
    snprintf(s.id, sizeof(s.id), "new");
    snprintf(s.user_id, sizeof(s.user_id), "u1");
    snprintf(s.client_address, sizeof(s.client_address), "192.0.2.9");
    assert_int_equal(store_session_insert(conn, hash, &s), ERR_OK);
    store_session_t got;
    assert_int_equal(store_session_get(conn, hash, &got), ERR_OK);
    assert_string_equal(got.client_address, "192.0.2.9");
    arena_free(arena);
    store_release(conn);
    store_close(store);
}

static void admin_tokens_insert_find_list_revoke(void **state)
{
    fixture_t *f = *state;
    unsigned char a[32], b[32], c[32];
    fill_hash(a, 10);
    fill_hash(b, 20);
    fill_hash(c, 30);
    assert_int_equal(store_admin_token_insert(f->conn, "ci", a, 100), ERR_OK);
    assert_int_equal(store_admin_token_insert(f->conn, "ci", b, 200), ERR_CONFLICT);
    assert_int_equal(store_admin_token_insert(f->conn, "deploy", b, 200), ERR_OK);

    store_admin_token_t t;
    assert_int_equal(store_admin_token_find(f->conn, a, &t), ERR_OK);
    assert_string_equal(t.label, "ci");
    assert_int_equal(t.created_ms, 100);
    assert_int_equal(t.last_used_ms, 0);
    assert_int_equal(store_admin_token_find(f->conn, c, &t), ERR_NOT_FOUND);

    assert_int_equal(store_admin_token_touch(f->conn, a, 150), ERR_OK);
    assert_int_equal(store_admin_token_find(f->conn, a, &t), ERR_OK);
    assert_int_equal(t.last_used_ms, 150);

    store_admin_token_t *list = NULL;
    size_t n = 0;
    assert_int_equal(store_admin_token_list(f->conn, f->arena, &list, &n), ERR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].label, "ci");
    assert_string_equal(list[1].label, "deploy");

    assert_int_equal(store_admin_token_revoke(f->conn, "ci"), ERR_OK);
    assert_int_equal(store_admin_token_find(f->conn, a, &t), ERR_NOT_FOUND);
    assert_int_equal(store_admin_token_revoke(f->conn, "ci"), ERR_NOT_FOUND);
    assert_int_equal(store_admin_token_list(f->conn, f->arena, &list, &n), ERR_OK);
    assert_int_equal(n, 1);
}

/* Runs a search on a type whose table does not exist, with stderr captured in a file, and returns
 * what was logged. */
static void capture_failed_search(fixture_t *f, const store_cond_t *where, err_t *err, char *log,
                                  size_t size)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/stderr.txt", f->dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    FILE *capture = fopen(path, "w+");
    assert_non_null(capture);
    dup2(fileno(capture), STDERR_FILENO);

    app_type_t missing = *f->task;
    missing.table = "missing";
    store_query_t query = {.where = where, .limit = 10};
    store_row_t *rows = NULL;
    size_t n = 0;
    *err = store_search(f->conn, &missing, &query, f->arena, &rows, &n, NULL);

    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    size_t got = fread(log, 1, size - 1, capture);
    log[got] = '\0';
    fclose(capture);
    unlink(path);
}

static void store_error_log_omits_values(void **state)
{
    fixture_t *f = *state;
    char log[4096];
    err_t err = ERR_OK;
    store_cond_t *where = cond_on(f, COND_TEXT_CONTAINS, f->task, T_TITLE,
                                  txt("planted-secret-4242"));
    capture_failed_search(f, where, &err, log, sizeof(log));
    assert_int_equal(err, ERR_STORE);
    assert_non_null(strstr(log, expect("no such table", "does not exist")));
    assert_null(strstr(log, "planted-secret-4242"));
}

/* ---- Transactions and concurrency ------------------------------------------------------- */

static void transactions_commit_and_roll_back(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    store_row_t row;

    assert_int_equal(store_begin(f->conn, true), ERR_OK);
    assert_int_equal(store_begin(f->conn, true), ERR_INVALID);
    task_values(v, "rolled", 1);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
    store_rollback(f->conn);
    assert_int_equal(store_get(f->conn, f->task, "rolled", NULL, f->arena, &row), ERR_NOT_FOUND);

    assert_int_equal(store_begin(f->conn, true), ERR_OK);
    task_values(v, "kept", 1);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
    assert_int_equal(store_commit(f->conn), ERR_OK);
    assert_int_equal(store_commit(f->conn), ERR_INVALID);
    assert_int_equal(store_get(f->conn, f->task, "kept", NULL, f->arena, &row), ERR_OK);

    assert_int_equal(store_begin(f->conn, false), ERR_OK);
    assert_int_equal(store_get(f->conn, f->task, "kept", NULL, f->arena, &row), ERR_OK);
    assert_int_equal(store_commit(f->conn), ERR_OK);
}

typedef struct {
    fixture_t *f;
    int worker;
    err_t err;
} inserter_t;

static void *insert_many(void *arg)
{
    inserter_t *in = arg;
    store_conn_t *conn = NULL;
    in->err = store_acquire(in->f->store, &conn);
    for (int i = 0; in->err == ERR_OK && i < 500; i++) {
        char id[32];
        snprintf(id, sizeof(id), "w%d-%d", in->worker, i);
        value_t v[T_NFIELDS_MAX];
        task_values(v, id, 1000 + i);
        v[T_ESTIMATE] = value_number(in->worker);
        in->err = store_insert(conn, in->f->task, v, NULL);
    }
    store_release(conn);
    return NULL;
}

static void concurrent_inserts_lose_nothing(void **state)
{
    fixture_t *f = *state;
    pthread_t threads[2];
    inserter_t workers[2] = {{f, 1, ERR_OK}, {f, 2, ERR_OK}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, insert_many, &workers[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].err, ERR_OK);
    }
    store_query_t query = {.count_total = true};
    store_row_t *rows = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(store_search(f->conn, f->task, &query, f->arena, &rows, &n, &total), ERR_OK);
    assert_int_equal(total, 1000);
    query.where = cmp(f, T_ESTIMATE, CMP_EQ, value_number(2));
    assert_int_equal(store_search(f->conn, f->task, &query, f->arena, &rows, &n, &total), ERR_OK);
    assert_int_equal(total, 500);
}

typedef struct {
    store_t *store;
    atomic_bool acquired;
    err_t err;
} waiter_t;

static void *acquire_one(void *arg)
{
    waiter_t *w = arg;
    store_conn_t *conn = NULL;
    w->err = store_acquire(w->store, &conn);
    atomic_store(&w->acquired, true);
    store_release(conn);
    return NULL;
}

static void pool_waits_for_a_free_connection(void **state)
{
    fixture_t *f = *state;
    store_t *store = NULL;
    char errbuf[256];
    store_options_t options = {.pool_size = 1};
    assert_int_equal(store_open(f->url, &options, &store, errbuf, sizeof(errbuf)), ERR_OK);
    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);

    waiter_t w = {.store = store};
    atomic_init(&w.acquired, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, acquire_one, &w), 0);
    struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_false(atomic_load(&w.acquired));
    store_release(conn);
    pthread_join(thread, NULL);
    assert_true(atomic_load(&w.acquired));
    assert_int_equal(w.err, ERR_OK);
    store_close(store);
}

/* ---- URLs and PostgreSQL ---------------------------------------------------------------- */

static void redact_url_masks_passwords(void **state)
{
    char out[256];
    store_redact_url("postgres://froth:s3cret@db.example:5432/app?sslmode=require", out,
                     sizeof(out));
    assert_string_equal(out, "postgres://froth:***@db.example:5432/app?sslmode=require");
    store_redact_url("postgres://a:b@c@db/app", out, sizeof(out));
    assert_string_equal(out, "postgres://a:***@db/app");
    store_redact_url("postgresql://froth@/app?host=/run/pg&password=s3cret&port=5433", out,
                     sizeof(out));
    assert_string_equal(out, "postgresql://froth@/app?host=/run/pg&password=***&port=5433");
    store_redact_url("postgres:host=db password = 's3 \\' cret' dbname=app", out, sizeof(out));
    assert_string_equal(out, "postgres:host=db password =*** dbname=app");
    store_redact_url("postgres:PASSWORD=s3cret", out, sizeof(out));
    assert_string_equal(out, "postgres:PASSWORD=***");
    store_redact_url("postgres://froth@db/app", out, sizeof(out));
    assert_string_equal(out, "postgres://froth@db/app");
    store_redact_url("sqlite:/var/lib/mypassword=x.db", out, sizeof(out));
    assert_string_equal(out, "sqlite:/var/lib/mypassword=x.db");
    store_redact_url("postgres://froth:s3cret@db/app", out, 15);
    assert_string_equal(out, "postgres://fro");
}

static void pg_open_reports_errors_without_password(void **state)
{
    char url[1024];
    char errbuf[512];
    store_t *store = NULL;
    snprintf(url, sizeof(url),
             "postgres://postgres:planted-pw-4242@/froth_no_such_db?host=%s&port=%s",
             PQhost(pg_admin), PQport(pg_admin));
    assert_int_equal(store_open(url, NULL, &store, errbuf, sizeof(errbuf)), ERR_STORE);
    assert_null(store);
    assert_non_null(strstr(errbuf, "froth_no_such_db"));
    assert_non_null(strstr(errbuf, "postgres:***@"));
    assert_null(strstr(errbuf, "planted-pw-4242"));

    snprintf(url, sizeof(url),
             "postgres:host=%s port=%s user=postgres password=planted-pw-4242 "
             "dbname=froth_no_such_db",
             PQhost(pg_admin), PQport(pg_admin));
    assert_int_equal(store_open(url, NULL, &store, errbuf, sizeof(errbuf)), ERR_STORE);
    assert_non_null(strstr(errbuf, "froth_no_such_db"));
    assert_null(strstr(errbuf, "planted-pw-4242"));

    assert_int_equal(store_open("postgres:nonsense", NULL, &store, errbuf, sizeof(errbuf)),
                     ERR_INVALID);
    assert_non_null(strstr(errbuf, "postgres://USER@HOST:PORT/DBNAME"));
    assert_int_equal(store_open("postgresql://u:planted-pw-4242@[::1/db", NULL, &store, errbuf,
                                sizeof(errbuf)),
                     ERR_INVALID);
    assert_null(strstr(errbuf, "planted-pw-4242"));
    assert_null(store);
}

static void pg_env_url_uses_pg_variables(void **state)
{
    fixture_t *f = *state;
    seed(f);
    char options[128];
    snprintf(options, sizeof(options), "-c search_path=%s", f->schema);
    setenv("PGHOST", PQhost(pg_admin), 1);
    setenv("PGPORT", PQport(pg_admin), 1);
    setenv("PGUSER", PQuser(pg_admin), 1);
    setenv("PGDATABASE", PQdb(pg_admin), 1);
    setenv("PGOPTIONS", options, 1);

    store_t *store = NULL;
    char errbuf[512];
    assert_int_equal(store_open("postgres:", NULL, &store, errbuf, sizeof(errbuf)), ERR_OK);
    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    store_row_t row;
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_TITLE], "Buy milk");
    store_release(conn);
    store_close(store);
    unsetenv("PGOPTIONS");
    unsetenv("PGDATABASE");
}

/* A second writer of one thing, on its own connection: it reads the thing inside a write
 * transaction, appends " +B" to the title and commits. */
typedef struct {
    fixture_t *f;
    atomic_bool began;
    atomic_bool read;
    char title[64];
    err_t err;
} writer_t;

static void *append_to_title(void *arg)
{
    writer_t *w = arg;
    store_conn_t *conn = NULL;
    arena_t *arena = arena_new(4096, 1u << 20);
    w->err = store_acquire(w->f->store, &conn);
    if (w->err == ERR_OK)
        w->err = store_begin(conn, true);
    atomic_store(&w->began, true);
    store_row_t row;
    if (w->err == ERR_OK)
        w->err = store_get(conn, w->f->task, "t1", NULL, arena, &row);
    atomic_store(&w->read, true);
    if (w->err == ERR_OK) {
        snprintf(w->title, sizeof(w->title), "%.*s", (int)row.values[T_TITLE].u.s.n,
                 row.values[T_TITLE].u.s.p);
        char title[80];
        snprintf(title, sizeof(title), "%s +B", w->title);
        bool mask[T_NFIELDS_MAX] = {false};
        mask[T_TITLE] = true;
        row.values[T_TITLE] = txt(title);
        w->err = store_update(conn, w->f->task, "t1", mask, row.values);
    }
    if (w->err == ERR_OK)
        w->err = store_commit(conn);
    store_rollback(conn);
    store_release(conn);
    arena_free(arena);
    return NULL;
}

static void pause_ms(long ms)
{
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
}

static void pg_write_transaction_locks_row(void **state)
{
    fixture_t *f = *state;
    seed(f);
    assert_int_equal(store_begin(f->conn, true), ERR_OK);
    store_row_t row;
    assert_int_equal(store_get(f->conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);

    writer_t w = {.f = f};
    atomic_init(&w.began, false);
    atomic_init(&w.read, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, append_to_title, &w), 0);
    while (!atomic_load(&w.began))
        pause_ms(5);
    pause_ms(200);
    assert_false(atomic_load(&w.read)); /* the other writer waits for this transaction */

    bool mask[T_NFIELDS_MAX] = {false};
    mask[T_TITLE] = true;
    row.values[T_TITLE] = txt("Buy milk +A");
    assert_int_equal(store_update(f->conn, f->task, "t1", mask, row.values), ERR_OK);
    assert_int_equal(store_commit(f->conn), ERR_OK);
    pthread_join(thread, NULL);
    assert_int_equal(w.err, ERR_OK);
    assert_string_equal(w.title, "Buy milk +A"); /* it read the committed write, not the old row */

    assert_int_equal(store_get(f->conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_TITLE], "Buy milk +A +B");
}

typedef struct {
    fixture_t *f;
    atomic_bool done;
    err_t err;
} signup_t;

static void *sign_up_same_email(void *arg)
{
    signup_t *s = arg;
    store_conn_t *conn = NULL;
    s->err = store_acquire(s->f->store, &conn);
    if (s->err == ERR_OK)
        s->err = store_begin(conn, true);
    value_t u[U_NFIELDS];
    user_values(u, "u9", "same@example.com", "Second", 2);
    if (s->err == ERR_OK)
        s->err = store_insert(conn, s->f->user, u, "hash-9");
    if (s->err == ERR_OK)
        s->err = store_commit(conn);
    store_rollback(conn);
    store_release(conn);
    atomic_store(&s->done, true);
    return NULL;
}

static void pg_concurrent_signups_create_one_user(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(store_begin(f->conn, true), ERR_OK);
    value_t u[U_NFIELDS];
    user_values(u, "u8", " Same@Example.com", "First", 1);
    assert_int_equal(store_insert(f->conn, f->user, u, "hash-8"), ERR_OK);

    signup_t s = {.f = f};
    atomic_init(&s.done, false);
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, sign_up_same_email, &s), 0);
    pause_ms(200);
    assert_false(atomic_load(&s.done)); /* the second insert waits for the first to end */
    assert_int_equal(store_commit(f->conn), ERR_OK);
    pthread_join(thread, NULL);
    assert_int_equal(s.err, ERR_CONFLICT);

    char *id = NULL, *hash = NULL;
    assert_int_equal(store_user_by_email(f->conn, f->user, "same@example.com", f->arena, &id,
                                         &hash),
                     ERR_OK);
    assert_string_equal(id, "u8");
    store_row_t row;
    assert_int_equal(store_get(f->conn, f->user, "u9", NULL, f->arena, &row), ERR_NOT_FOUND);

    /* A conflict inside a transaction leaves it usable. */
    assert_int_equal(store_begin(f->conn, true), ERR_OK);
    user_values(u, "u10", "SAME@example.com", "Third", 3);
    assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_CONFLICT);
    user_values(u, "u10", "other@example.com", "Third", 3);
    assert_int_equal(store_insert(f->conn, f->user, u, NULL), ERR_OK);
    assert_int_equal(store_commit(f->conn), ERR_OK);
    assert_int_equal(store_get(f->conn, f->user, "u10", NULL, f->arena, &row), ERR_OK);
}

static void pg_reconnects_after_connection_loss(void **state)
{
    fixture_t *f = *state;
    seed(f);
    char application[80], url[1024];
    snprintf(application, sizeof(application), "%s_lost", f->schema);
    pg_url_for(f->schema, application, url, sizeof(url));
    store_options_t options = {.pool_size = 1};
    store_t *store = NULL;
    char errbuf[512];
    assert_int_equal(store_open(url, &options, &store, errbuf, sizeof(errbuf)), ERR_OK);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
             "WHERE application_name = '%s'",
             application);

    /* Lost while in use: the request fails, and the next one gets a new session. */
    store_conn_t *conn = NULL;
    store_row_t row;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    pg_admin_exec(sql);
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_STORE);
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_STORE);
    store_release(conn);
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    assert_value_text(&row.values[T_TITLE], "Buy milk");
    store_release(conn);

    /* Lost while idle in the pool: noticed when taken, so no request fails. */
    pg_admin_exec(sql);
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    assert_int_equal(store_get(conn, f->task, "t1", NULL, f->arena, &row), ERR_OK);
    store_release(conn);
    assert_int_equal(store_ping(store), ERR_OK);
    store_close(store);
}

typedef struct {
    const fixture_t *f;
    err_t err;
    char errbuf[256];
} migrator_t;

static void *open_and_migrate(void *arg)
{
    migrator_t *m = arg;
    store_t *store = NULL;
    m->err = store_open(m->f->url, NULL, &store, m->errbuf, sizeof(m->errbuf));
    if (m->err == ERR_OK)
        m->err = store_migrate(store, &m->f->model.app, m->errbuf, sizeof(m->errbuf));
    store_close(store);
    return NULL;
}

static void pg_concurrent_migrations_succeed(void **state)
{
    fixture_t *f = *state;
    migrator_t m[3] = {{.f = f}, {.f = f}, {.f = f}};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, open_and_migrate, &m[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(m[i].err, ERR_OK);
        assert_string_equal(m[i].errbuf, "");
    }
    char type[32];
    column_type(f, "user", "_password_hash", type, sizeof(type));
    assert_string_equal(type, "text");
}

/* Values PostgreSQL cannot store are rejected as invalid input, not as a database failure. */
static void pg_rejects_text_it_cannot_store(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "nul", 1);
    v[T_TITLE] = value_text("a\0b", 3);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);
    task_values(v, "utf8", 1);
    v[T_TITLE] = txt("bad \xff byte");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_INVALID);
    task_values(v, "fine", 1);
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
}

/* Lists hold JSON numbers, strings and booleans; "contains" compares each as its own kind. */
static void pg_list_contains_matches_kinds(void **state)
{
    fixture_t *f = *state;
    value_t v[T_NFIELDS_MAX];
    task_values(v, "n1", 1);
    v[T_TAGS] = json("[0.10000000000000001, 5.0, \"x\", true, null, {\"a\": 1}]");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);
    task_values(v, "n2", 2);
    v[T_TAGS] = json("[\"0.1\", 7, false]");
    assert_int_equal(store_insert(f->conn, f->task, v, NULL), ERR_OK);

    const struct {
        value_t value;
        const char *ids;
    } cases[] = {
        {value_number(0.1), "n1,n2"}, {value_number(5), "n1"},  {value_number(7), "n2"},
        {value_number(6), ""},        {txt("x"), "n1"},         {txt("0.1"), "n2"},
        {value_bool(true), "n1"},     {value_bool(false), "n2"}, {txt("true"), "n1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        store_cond_t *c = cond_on(f, COND_LIST_CONTAINS, f->task, T_TAGS, cases[i].value);
        assert_string_equal(where_ids(f, c), cases[i].ids);
    }
}

/* The tests that run on every backend. */
#define COMMON_TESTS                                                                           \
    cmocka_unit_test_setup_teardown(migrate_internal_creates_own_tables, setup_empty,          \
                                    teardown_empty),                                           \
    cmocka_unit_test_setup_teardown(migrate_twice_is_idempotent, setup, teardown), \
    cmocka_unit_test_setup_teardown(migrate_adds_column_and_keeps_rows, setup, teardown), \
    cmocka_unit_test_setup_teardown(migrate_warns_on_changed_type, setup, teardown), \
    cmocka_unit_test_setup_teardown(insert_get_round_trips_every_kind, setup, teardown), \
    cmocka_unit_test_setup_teardown(insert_get_round_trips_nulls, setup, teardown), \
    cmocka_unit_test_setup_teardown(insert_rejects_values_that_do_not_fit, setup, teardown), \
    cmocka_unit_test_setup_teardown(insert_duplicate_id_conflicts, setup, teardown), \
    cmocka_unit_test_setup_teardown(update_writes_masked_fields, setup, teardown), \
    cmocka_unit_test_setup_teardown(delete_removes_once, setup, teardown), \
    cmocka_unit_test_setup_teardown(get_applies_where_and_flags, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_comparisons, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_not_equal_matches_empty, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_emptiness_and_lists, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_in_values, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_logic, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_negations, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_ref_match_on_creator, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_ref_match_through_user, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_calc_agrees_with_eval, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_text_with_sql_matches_literally, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_sorts_with_nulls_first, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_pages_and_counts, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_returns_flags_per_row, setup, teardown), \
    cmocka_unit_test_setup_teardown(search_rejects_runaway_conditions, setup, teardown), \
    cmocka_unit_test_setup_teardown(user_email_is_unique_case_insensitive, setup, teardown), \
    cmocka_unit_test_setup_teardown(user_password_lookup_and_change, setup, teardown), \
    cmocka_unit_test_setup_teardown(sessions_insert_get_touch_revoke, setup, teardown), \
    cmocka_unit_test_setup_teardown(sessions_keep_client, setup, teardown), \
    cmocka_unit_test_setup_teardown(audit_insert_list_prune, setup, teardown), \
    cmocka_unit_test_setup_teardown(old_sessions_table_gains_client_columns, setup_empty, \
                                    teardown_empty), \
    cmocka_unit_test_setup_teardown(admin_tokens_insert_find_list_revoke, setup, teardown), \
    cmocka_unit_test_setup_teardown(store_error_log_omits_values, setup, teardown), \
    cmocka_unit_test_setup_teardown(transactions_commit_and_roll_back, setup, teardown), \
    cmocka_unit_test_setup_teardown(concurrent_inserts_lose_nothing, setup, teardown), \
    cmocka_unit_test_setup_teardown(pool_waits_for_a_free_connection, setup, teardown)

int main(void)
{
    log_init(LOG_LEVEL_ERROR, false);
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test(redact_url_masks_passwords),
        cmocka_unit_test(open_rejects_bad_urls),
        cmocka_unit_test(open_memory_database_works),
        COMMON_TESTS,
    };
    const struct CMUnitTest pg_tests[] = {
        COMMON_TESTS,
        cmocka_unit_test(pg_open_reports_errors_without_password),
        cmocka_unit_test_setup_teardown(pg_env_url_uses_pg_variables, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_write_transaction_locks_row, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_concurrent_signups_create_one_user, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_reconnects_after_connection_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_concurrent_migrations_succeed, setup_empty,
                                        teardown_empty),
        cmocka_unit_test_setup_teardown(pg_rejects_text_it_cannot_store, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_list_contains_matches_kinds, setup, teardown),
    };

    const char *only = getenv("FROTH_TEST_STORE");
    const char *pg_url = getenv("FROTH_TEST_PG_URL");
    const bool have_pg = pg_url != NULL && pg_url[0] != '\0';
    if (only != NULL && strcmp(only, "sqlite") != 0 && strcmp(only, "postgres") != 0) {
        fprintf(stderr, "FROTH_TEST_STORE must be sqlite or postgres, not \"%s\"\n", only);
        return 1;
    }
    if (only != NULL && strcmp(only, "postgres") == 0 && !have_pg) {
        fprintf(stderr, "FROTH_TEST_STORE=postgres needs FROTH_TEST_PG_URL\n");
        return 1;
    }
    int failed = 0;
    if (only == NULL || strcmp(only, "sqlite") == 0)
        failed += cmocka_run_group_tests_name("sqlite", sqlite_tests, group_sqlite, NULL);
    if (have_pg && (only == NULL || strcmp(only, "postgres") == 0))
        failed += cmocka_run_group_tests_name("postgres", pg_tests, group_pg, group_pg_end);
    return failed;
}
