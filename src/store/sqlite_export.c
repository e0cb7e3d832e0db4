/* SQLite: the pages that froth export reads, with the columns no other statement returns
 * (password hashes, token hashes). The dump itself is written by export.c.
 */
#include "store/export_internal.h"
#include "store/sqlite_internal.h"

#include <string.h>

#include "core/log.h"

#define HASH_LEN 32

/* Reads a column as the value_t kind of field's storage, as the reads of things do. */
static err_t read_value(sqlite3_stmt *stmt, int col, const app_field_t *field, arena_t *arena,
                        value_t *out)
{
    *out = value_null();
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return ERR_OK;
    const store__storage_t storage = store__field_storage(field);
    switch (storage) {
    case STORAGE_TEXT:
    case STORAGE_JSON: {
        const char *p = (const char *)sqlite3_column_text(stmt, col);
        const int n = sqlite3_column_bytes(stmt, col);
        if (p == NULL || n <= 0)
            return ERR_OK;
        const char *copy = arena_strndup(arena, p, (size_t)n);
        if (copy == NULL)
            return ERR_NOMEM;
        *out = storage == STORAGE_JSON ? store__stored_value(value_json(copy, (size_t)n))
                                       : value_text(copy, (size_t)n);
        return ERR_OK;
    }
    case STORAGE_REAL:
        *out = value_number(sqlite3_column_double(stmt, col));
        return ERR_OK;
    case STORAGE_BOOL:
        *out = value_bool(sqlite3_column_int64(stmt, col) != 0);
        return ERR_OK;
    case STORAGE_DATE:
        *out = value_date(sqlite3_column_int64(stmt, col));
        return ERR_OK;
    }
    return ERR_INTERNAL;
}

static err_t read_thing(sqlite3_stmt *stmt, const app_type_t *type, arena_t *arena,
                        store_row_t *row, char **password_hash)
{
    row->values = arena_calloc(arena, type->nfields, sizeof(*row->values));
    row->flags = NULL;
    *password_hash = NULL;
    if (row->values == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < type->nfields; i++) {
        err_t err = read_value(stmt, (int)i, &type->fields[i], arena, &row->values[i]);
        if (err != ERR_OK)
            return err;
    }
    const int col = (int)type->nfields;
    if (!type->is_user || sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return ERR_OK;
    *password_hash = arena_strdup(arena, (const char *)sqlite3_column_text(stmt, col));
    return *password_hash == NULL ? ERR_NOMEM : ERR_OK;
}

/* Copies a token hash column, which must hold exactly HASH_LEN bytes. */
static err_t read_hash(sqlite3_stmt *stmt, int col, unsigned char hash[HASH_LEN], const char *op)
{
    const void *p = sqlite3_column_blob(stmt, col);
    const int n = sqlite3_column_bytes(stmt, col);
    if (p == NULL || n != HASH_LEN) {
        LOG_ERROR("store token hash has the wrong length", "op=%s bytes=%d", op, n);
        return ERR_STORE;
    }
    memcpy(hash, p, HASH_LEN);
    return ERR_OK;
}

/* Copies a text column into a fixed buffer; a value that does not fit was not written by
 * this store. */
static err_t read_text(sqlite3_stmt *stmt, int col, char *out, size_t size, const char *op)
{
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    const size_t n = (size_t)sqlite3_column_bytes(stmt, col);
    if (n >= size) {
        LOG_ERROR("store value too long", "op=%s column=%d bytes=%zu", op, col, n);
        return ERR_STORE;
    }
    if (n > 0)
        memcpy(out, p, n);
    out[n] = '\0';
    return ERR_OK;
}

static err_t read_session(sqlite3_stmt *stmt, unsigned char hash[HASH_LEN], store_session_t *s)
{
    memset(s, 0, sizeof(*s));
    err_t err = read_hash(stmt, 0, hash, "export sessions");
    if (err == ERR_OK)
        err = read_text(stmt, 1, s->id, sizeof(s->id), "export sessions");
    if (err == ERR_OK)
        err = read_text(stmt, 2, s->user_id, sizeof(s->user_id), "export sessions");
    s->created_ms = sqlite3_column_int64(stmt, 3);
    s->last_used_ms = sqlite3_column_int64(stmt, 4);
    s->expires_ms = sqlite3_column_int64(stmt, 5);
    s->idle_ms = sqlite3_column_int64(stmt, 6);
    s->two_factor = sqlite3_column_int(stmt, 7) != 0;
    s->revoked = sqlite3_column_int(stmt, 8) != 0;
    if (err == ERR_OK)
        err = read_text(stmt, 9, s->client_address, sizeof(s->client_address), "export sessions");
    if (err == ERR_OK)
        err = read_text(stmt, 10, s->user_agent, sizeof(s->user_agent), "export sessions");
    return err;
}

static err_t read_admin_token(sqlite3_stmt *stmt, unsigned char hash[HASH_LEN],
                              store_admin_token_t *t)
{
    memset(t, 0, sizeof(*t));
    err_t err = read_hash(stmt, 1, hash, "export admin tokens");
    if (err == ERR_OK)
        err = read_text(stmt, 0, t->label, sizeof(t->label), "export admin tokens");
    t->created_ms = sqlite3_column_int64(stmt, 2);
    t->last_used_ms = sqlite3_column_int64(stmt, 3);
    return err;
}

/* Steps stmt for up to limit rows, calling read_row on each with its index. */
typedef err_t (*read_row_fn)(sqlite3_stmt *stmt, size_t i, void *ud);

static err_t step_rows(store__sqlite_conn_t *c, sqlite3_stmt *stmt, size_t limit,
                       read_row_fn read_row, void *ud, size_t *count, const char *op)
{
    err_t err = ERR_OK;
    while (err == ERR_OK && *count < limit) {
        const int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            err = store__sqlite_fail(c, rc, op);
            break;
        }
        err = read_row(stmt, *count, ud);
        if (err == ERR_OK)
            (*count)++;
    }
    store__sqlite_finish(c, stmt);
    return err;
}

/* The caller's arrays that one page fills. */
typedef struct {
    const app_type_t *type;
    arena_t *arena;
    store_row_t *rows;
    char **password_hashes;
    unsigned char (*hashes)[HASH_LEN];
    store_session_t *sessions;
    store_admin_token_t *tokens;
} page_t;

static err_t thing_row(sqlite3_stmt *stmt, size_t i, void *ud)
{
    page_t *page = ud;
    return read_thing(stmt, page->type, page->arena, &page->rows[i], &page->password_hashes[i]);
}

static err_t session_row(sqlite3_stmt *stmt, size_t i, void *ud)
{
    page_t *page = ud;
    return read_session(stmt, page->hashes[i], &page->sessions[i]);
}

static err_t admin_token_row(sqlite3_stmt *stmt, size_t i, void *ud)
{
    page_t *page = ud;
    return read_admin_token(stmt, page->hashes[i], &page->tokens[i]);
}

/* Binds the page's limit as the last parameter and, when after is given, the key before it. */
static err_t prepare_page(store__sqlite_conn_t *c, const char *sql, const void *after,
                          int after_len, bool after_is_blob, size_t limit, sqlite3_stmt **stmt,
                          const char *op)
{
    err_t err = store__sqlite_prepare(c, sql, strlen(sql), stmt, op);
    if (err != ERR_OK)
        return err;
    int rc = SQLITE_OK;
    int index = 1;
    if (after != NULL)
        rc = after_is_blob ? sqlite3_bind_blob(*stmt, index++, after, after_len, SQLITE_STATIC)
                           : sqlite3_bind_text(*stmt, index++, after, after_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(*stmt, index, (sqlite3_int64)limit);
    if (rc != SQLITE_OK) {
        err = store__sqlite_fail(c, rc, op);
        store__sqlite_finish(c, *stmt);
        *stmt = NULL;
    }
    return err;
}

err_t store__sqlite_export_things(store_conn_t *conn, const app_type_t *type, int64_t after_created,
                                  const char *after_id, size_t limit, arena_t *arena,
                                  store_row_t *rows, char **password_hashes, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    *count = 0;
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_export_things(&q, type, after_created, after_id, limit);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "export things");
    if (err == ERR_OK) {
        page_t page = {
            .type = type, .arena = arena, .rows = rows, .password_hashes = password_hashes};
        err = step_rows(c, stmt, limit, thing_row, &page, count, "export things");
    }
    store__sql_deinit(&q);
    return err;
}

#define SESSION_COLUMNS                                                                            \
    "SELECT \"token_hash\", \"id\", \"user_id\", \"created\", \"last_used\", \"expires\", "        \
    "\"idle_ms\", \"two_factor\", \"revoked\", \"client_address\", \"user_agent\" "                \
    "FROM \"_froth_sessions\" "

err_t store__sqlite_export_sessions(store_conn_t *conn, const unsigned char *after_hash,
                                    size_t limit, unsigned char (*hashes)[32],
                                    store_session_t *sessions, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    *count = 0;
    static const char first[] = SESSION_COLUMNS "ORDER BY \"token_hash\" LIMIT ?1";
    static const char next[] =
        SESSION_COLUMNS "WHERE \"token_hash\" > ?1 ORDER BY \"token_hash\" LIMIT ?2";
    const char *sql = after_hash == NULL ? first : next;
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_page(c, sql, after_hash, HASH_LEN, true, limit, &stmt, "export sessions");
    if (err != ERR_OK)
        return err;
    page_t page = {.hashes = hashes, .sessions = sessions};
    return step_rows(c, stmt, limit, session_row, &page, count, "export sessions");
}

#define ADMIN_TOKEN_COLUMNS                                                                        \
    "SELECT \"label\", \"token_hash\", \"created\", \"last_used\" FROM \"_froth_admin_tokens\" "

err_t store__sqlite_export_admin_tokens(store_conn_t *conn, const char *after_label, size_t limit,
                                        unsigned char (*hashes)[32], store_admin_token_t *tokens,
                                        size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    *count = 0;
    static const char first[] = ADMIN_TOKEN_COLUMNS "ORDER BY \"label\" LIMIT ?1";
    static const char next[] =
        ADMIN_TOKEN_COLUMNS "WHERE \"label\" > ?1 ORDER BY \"label\" LIMIT ?2";
    const char *sql = after_label == NULL ? first : next;
    const int after_len = after_label == NULL ? 0 : (int)strlen(after_label);
    sqlite3_stmt *stmt = NULL;
    err_t err =
        prepare_page(c, sql, after_label, after_len, false, limit, &stmt, "export admin tokens");
    if (err != ERR_OK)
        return err;
    page_t page = {.hashes = hashes, .tokens = tokens};
    return step_rows(c, stmt, limit, admin_token_row, &page, count, "export admin tokens");
}
