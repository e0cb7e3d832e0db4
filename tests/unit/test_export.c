/* Tests for store_export and store_import on in-memory SQLite stores: values that must survive
 * the round trip byte for byte, and malformed dumps that must be rejected with their line
 * number and leave the store empty. The API tests (tests/api/test_export.py) run the same
 * commands on both stores through the CLI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "core/arena.h"
#include "core/log.h"
#include "store/store.h"

static const char APP_JSON[] =
    "{\"name\": \"shop\","
    " \"option_sets\": {\"Size\": [\"S\", \"M\"]},"
    " \"types\": {"
    "  \"User\": {\"fields\": {\"name\": \"text\"}},"
    "  \"Item\": {\"fields\": {\"title\": \"text\", \"price\": \"number\", \"sold\": \"yes/no\","
    "    \"due\": \"date\", \"tags\": \"list of text\", \"where\": \"geographic address\","
    "    \"size\": \"option Size\", \"counts\": \"list of number\", \"owner\": \"User\"}}}}";

typedef struct {
    app_t *app;
    store_t *source;
    store_t *target;
    arena_t *arena;
    size_t things[2];
    store_dump_stats_t stats;
    char message[512];
} fixture_t;

static store_t *open_memory_store(const app_t *app)
{
    store_t *store = NULL;
    char message[256];
    assert_int_equal(store_open("sqlite::memory:", NULL, &store, message, sizeof(message)), ERR_OK);
    assert_int_equal(store_migrate(store, app, message, sizeof(message)), ERR_OK);
    return store;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    app_errors_t errors = {0};
    if (f == NULL || app_load_buffer(APP_JSON, strlen(APP_JSON), &f->app, &errors) != ERR_OK) {
        app_errors_free(&errors);
        free(f);
        return -1;
    }
    f->source = open_memory_store(f->app);
    f->target = open_memory_store(f->app);
    f->arena = arena_new(4096, 16 << 20);
    f->stats.things = f->things;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_close(f->source);
    store_close(f->target);
    arena_free(f->arena);
    app_free(f->app);
    free(f);
    return 0;
}

static const app_type_t *type_named(const fixture_t *f, const char *name)
{
    const app_type_t *type = app_find_type(f->app, name, strlen(name));
    assert_non_null(type);
    return type;
}

static value_t text(const char *s)
{
    return value_text(s, strlen(s));
}

static value_t json(const char *s)
{
    return value_json(s, strlen(s));
}

/* Sets the value of the field with this display name. */
static void set(const app_type_t *type, value_t *values, const char *name, value_t v)
{
    const app_field_t *field = app_find_field(type, name, strlen(name));
    assert_non_null(field);
    values[field->index] = v;
}

static void insert(store_t *store, const app_type_t *type, const value_t *values,
                   const char *password_hash)
{
    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    assert_int_equal(store_insert(conn, type, values, password_hash), ERR_OK);
    store_release(conn);
}

/* Returns a new temporary file's descriptor, already unlinked. */
static int temp_fd(void)
{
    char path[] = "/tmp/froth-export-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* Writes text to a new temporary file and returns it rewound. */
static int fd_with(const char *text)
{
    const int fd = temp_fd();
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* Reads a whole file from its start into a malloc'd string. */
static char *read_all(int fd)
{
    const off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    return text;
}

static char *export_text(fixture_t *f, store_t *store)
{
    const int fd = temp_fd();
    memset(f->things, 0, sizeof(f->things));
    f->stats.sessions = f->stats.admin_tokens = 0;
    assert_int_equal(store_export(store, f->app, fd, &f->stats, f->message, sizeof(f->message)),
                     ERR_OK);
    char *text = read_all(fd);
    close(fd);
    return text;
}

static err_t import_text(fixture_t *f, const char *dump, bool force)
{
    const int fd = fd_with(dump);
    memset(f->things, 0, sizeof(f->things));
    f->stats.sessions = f->stats.admin_tokens = 0;
    const err_t err =
        store_import(f->target, f->app, fd, force, &f->stats, f->message, sizeof(f->message));
    close(fd);
    return err;
}

static size_t count_things(fixture_t *f, store_t *store, const app_type_t *type)
{
    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(store, &conn), ERR_OK);
    const store_query_t query = {.limit = 1, .count_total = true};
    store_row_t *rows = NULL;
    size_t n = 0, total = 0;
    assert_int_equal(store_search(conn, type, &query, f->arena, &rows, &n, &total), ERR_OK);
    store_release(conn);
    return total;
}

/* The dump without its first line, whose export time differs between two exports. */
static const char *after_header(const char *dump)
{
    const char *newline = strchr(dump, '\n');
    assert_non_null(newline);
    return newline + 1;
}

/* ---- Round trip ------------------------------------------------------------------------- */

static void fill_source(fixture_t *f)
{
    const app_type_t *user = type_named(f, "User");
    const app_type_t *item = type_named(f, "Item");
    value_t u[16] = {0};
    set(user, u, "_id", text("1700000000000x1"));
    set(user, u, "Created Date", value_date(1700000000000));
    set(user, u, "Modified Date", value_date(1700000000001));
    set(user, u, "Created By", text("1700000000000x1"));
    set(user, u, "email", text("Ann@Example.com"));
    set(user, u, "name", text("Ann \"Quote\"\nNew line \xc3\xa9"));
    insert(f->source, user, u, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");

    value_t v[16] = {0};
    set(item, v, "_id", text("1700000000000x2"));
    set(item, v, "Created Date", value_date(1700000000000));
    set(item, v, "Modified Date", value_date(1700000000000));
    set(item, v, "title", text("tab\there"));
    set(item, v, "price", value_number(0.1));
    set(item, v, "sold", value_bool(false));
    set(item, v, "due", value_date(-86400000));
    /* Brackets and quotes inside strings, escapes and spaces between tokens must all come back
     * exactly as stored. */
    set(item, v, "tags", json("[ \"a]\\\"}\" , \"\\\\\", \"{\", \"\\u00e9\" ]"));
    set(item, v, "where", json("{\"address\":\"1 Main St\",\"lat\":51.5,\"lng\":-0.12}"));
    set(item, v, "size", text("M"));
    set(item, v, "counts", json("[1,2.5,1e300]"));
    set(item, v, "owner", text("1700000000000x1"));
    insert(f->source, item, v, NULL);

    value_t w[16] = {0};
    set(item, w, "_id", text("1700000000000x3"));
    set(item, w, "Created Date", value_date(1700000000000));
    set(item, w, "Modified Date", value_date(1700000000000));
    set(item, w, "price", value_number(5e-324));
    insert(f->source, item, w, NULL);

    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(f->source, &conn), ERR_OK);
    unsigned char hash[32];
    memset(hash, 0xab, sizeof(hash));
    const store_session_t session = {.id = "s1",
                                     .user_id = "1700000000000x1",
                                     .created_ms = 1,
                                     .last_used_ms = 2,
                                     .expires_ms = 3,
                                     .idle_ms = 4,
                                     .two_factor = true,
                                     .revoked = true};
    assert_int_equal(store_session_insert(conn, hash, &session), ERR_OK);
    memset(hash, 0x01, sizeof(hash));
    assert_int_equal(store_admin_token_insert(conn, "ops", hash, 10), ERR_OK);
    assert_int_equal(store_admin_token_touch(conn, hash, 20), ERR_OK);
    store_release(conn);
}

static void round_trip_keeps_every_byte(void **state)
{
    fixture_t *f = *state;
    fill_source(f);
    char *first = export_text(f, f->source);
    assert_int_equal(f->things[0], 1);
    assert_int_equal(f->things[1], 2);
    assert_int_equal(f->stats.sessions, 1);
    assert_int_equal(f->stats.admin_tokens, 1);
    assert_non_null(strstr(first, "\"tags\":[ \"a]\\\"}\" , \"\\\\\", \"{\", \"\\u00e9\" ]"));
    assert_non_null(strstr(first, "\"price\":5e-324"));

    assert_int_equal(import_text(f, first, false), ERR_OK);
    assert_false(f->stats.other_app);
    assert_string_equal(f->stats.dump_app, "shop");
    char *second = export_text(f, f->target);
    assert_string_equal(after_header(second), after_header(first));

    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(f->target, &conn), ERR_OK);
    char *id = NULL, *password_hash = NULL;
    assert_int_equal(store_user_by_email(conn, type_named(f, "User"), "ann@example.com", f->arena,
                                         &id, &password_hash),
                     ERR_OK);
    assert_string_equal(id, "1700000000000x1");
    assert_string_equal(password_hash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
    unsigned char hash[32];
    memset(hash, 0xab, sizeof(hash));
    store_session_t session;
    assert_int_equal(store_session_get(conn, hash, &session), ERR_OK);
    assert_true(session.revoked);
    assert_true(session.two_factor);
    assert_int_equal(session.idle_ms, 4);
    memset(hash, 0x01, sizeof(hash));
    store_admin_token_t token;
    assert_int_equal(store_admin_token_find(conn, hash, &token), ERR_OK);
    assert_string_equal(token.label, "ops");
    assert_int_equal(token.last_used_ms, 20);
    store_release(conn);
    free(first);
    free(second);
}

static void import_refuses_non_empty_store(void **state)
{
    fixture_t *f = *state;
    fill_source(f);
    char *dump = export_text(f, f->source);
    assert_int_equal(import_text(f, dump, false), ERR_OK);
    assert_int_equal(import_text(f, dump, false), ERR_CONFLICT);
    assert_non_null(strstr(f->message, "already holds things"));
    assert_int_equal(import_text(f, dump, true), ERR_CONFLICT);
    assert_non_null(strstr(f->message, "line 2: User \"1700000000000x1\" already exists"));
    assert_int_equal(count_things(f, f->target, type_named(f, "Item")), 2);
    free(dump);
}

/* ---- Malformed dumps -------------------------------------------------------------------- */

#define HEADER "{\"froth_export\":1,\"app\":\"shop\",\"exported_at\":\"x\"}\n"
#define ITEM                                                                                       \
    "{\"type\":\"Item\",\"values\":{\"_id\":\"1x1\",\"Created Date\":1,\"Modified Date\":1}}\n"
#define END(n) "{\"froth_export_end\":{\"things\":" #n ",\"sessions\":0,\"admin_tokens\":0}}\n"

/* Imports dump, expects err and a message that contains expected, and an empty store. */
static void assert_rejected(fixture_t *f, const char *dump, err_t err, const char *expected)
{
    assert_int_equal(import_text(f, dump, false), err);
    if (strstr(f->message, expected) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", f->message, expected);
    assert_int_equal(count_things(f, f->target, type_named(f, "Item")), 0);
    assert_int_equal(count_things(f, f->target, type_named(f, "User")), 0);
}

static void malformed_line_rejected_with_number(void **state)
{
    fixture_t *f = *state;
    assert_rejected(f, HEADER ITEM "{\"type\":\"Item\",\n" END(2), ERR_INVALID,
                    "line 3: invalid JSON at column");
    assert_rejected(f, HEADER ITEM "{\"type\":\"Order\",\"values\":{}}\n" END(2), ERR_INVALID,
                    "line 3: unknown type \"Order\"");
    assert_rejected(f, HEADER "[1]\n" ITEM END(1), ERR_INVALID, "line 2: expected a JSON object");
    assert_rejected(f, HEADER "\n\n{\"type\":\"Item\",\"values\":{\"colour\":\"red\"}}\n" END(1),
                    ERR_INVALID, "line 4: type \"Item\" has no field \"colour\"");
    assert_rejected(f,
                    HEADER "{\"type\":\"Item\",\"values\":{\"_id\":\"1x2\",\"Created Date\":1.5,"
                           "\"Modified Date\":1}}\n" END(1),
                    ERR_INVALID, "line 2: field \"Created Date\" of Item: expected a date");
    assert_rejected(f, HEADER "{\"type\":\"Item\",\"values\":{\"_id\":\"1x2\"}}\n" END(1),
                    ERR_INVALID, "line 2: Item thing without \"Created Date\"");
    assert_rejected(f, HEADER "{\"type\":\"Item\",\"values\":{},\"password_hash\":\"h\"}\n" END(1),
                    ERR_INVALID, "line 2: only User things carry");
    assert_rejected(f, HEADER ITEM, ERR_INVALID, "ends after line 2 without its closing line");
    assert_rejected(f, "", ERR_INVALID, "the dump is empty");
    assert_rejected(f,
                    HEADER "{\"admin_token\":{\"label\":\"x\",\"token_hash\":\"zz\","
                           "\"created_ms\":1,\"last_used_ms\":0}}\n" END(0),
                    ERR_INVALID, "line 2: an admin token needs \"token_hash\" as 64 hex digits");
    assert_rejected(f, "{\"froth_export\":2,\"app\":\"shop\",\"exported_at\":\"x\"}\n" END(0),
                    ERR_INVALID, "line 1: unsupported dump format");
    assert_rejected(f, HEADER "{\"type\":\"Item\",\"values\":{},\"type\":\"Item\"}\n" END(1),
                    ERR_INVALID, "line 2: invalid JSON");
}

static void invalid_json_message_quotes_nothing(void **state)
{
    fixture_t *f = *state;
    assert_rejected(f,
                    HEADER "{\"type\":\"User\",\"values\":{},"
                           "\"password_hash\":\"$argon2id$hidden\\q\"}\n" END(1),
                    ERR_INVALID, "line 2: invalid JSON at column 62: invalid escape");
    assert_null(strstr(f->message, "hidden"));
}

static void crlf_and_escaped_keys_accepted(void **state)
{
    fixture_t *f = *state;
    /* "t\u0061gs" is "tags": its raw text has an escape, so the key's position finds it. */
    const char *dump = "{\"froth_export\":1,\"app\":\"other\",\"exported_at\":\"x\"}\r\n"
                       "{\"type\":\"Item\",\"values\":{\"_id\":\"1x9\",\"Created Date\":5,"
                       "\"t\\u0061gs\":[\"x\",  \"y\"],\"Modified Date\":6,"
                       "\"where\":{\"a\":[1,{\"b\":\"}\"}]}}}\r\n" END(1);
    assert_int_equal(import_text(f, dump, false), ERR_OK);
    assert_true(f->stats.other_app);
    assert_string_equal(f->stats.dump_app, "other");

    store_conn_t *conn = NULL;
    assert_int_equal(store_acquire(f->target, &conn), ERR_OK);
    const app_type_t *item = type_named(f, "Item");
    store_row_t row;
    assert_int_equal(store_get(conn, item, "1x9", NULL, f->arena, &row), ERR_OK);
    const app_field_t *tags = app_find_field(item, "tags", 4);
    const app_field_t *where = app_find_field(item, "where", 5);
    const value_t *v = &row.values[tags->index];
    assert_int_equal(v->kind, VAL_JSON);
    assert_memory_equal(v->u.s.p, "[\"x\",  \"y\"]", v->u.s.n);
    v = &row.values[where->index];
    assert_int_equal(v->u.s.n, strlen("{\"a\":[1,{\"b\":\"}\"}]}"));
    assert_memory_equal(v->u.s.p, "{\"a\":[1,{\"b\":\"}\"}]}", v->u.s.n);
    store_release(conn);
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(round_trip_keeps_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(import_refuses_non_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_line_rejected_with_number, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_json_message_quotes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(crlf_and_escaped_keys_accepted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
