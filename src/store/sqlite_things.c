/* SQLite: reading and writing things and users' hidden columns.
 *
 * The statements come from sql.c; this file binds them, steps them and turns rows back into
 * value_t arrays in the caller's arena.
 */
#include "store/sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* ---- Reading rows ----------------------------------------------------------------------- */

static err_t read_text(sqlite3_stmt *stmt, int col, arena_t *arena, bool json, value_t *out)
{
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    const int n = sqlite3_column_bytes(stmt, col);
    if (p == NULL || n <= 0) {
        *out = value_null();
        return ERR_OK;
    }
    const char *copy = arena_strndup(arena, p, (size_t)n);
    if (copy == NULL)
        return ERR_NOMEM;
    *out = json ? store__stored_value(value_json(copy, (size_t)n)) : value_text(copy, (size_t)n);
    return ERR_OK;
}

static err_t read_value(sqlite3_stmt *stmt, int col, const app_field_t *field, arena_t *arena,
                        value_t *out)
{
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL) {
        *out = value_null();
        return ERR_OK;
    }
    switch (store__field_storage(field)) {
    case STORAGE_TEXT:
        return read_text(stmt, col, arena, false, out);
    case STORAGE_JSON:
        return read_text(stmt, col, arena, true, out);
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

/* Fills row from the current result row: the fields, then one column per flag. */
static err_t read_row(sqlite3_stmt *stmt, const app_type_t *type, size_t nflags, arena_t *arena,
                      store_row_t *row)
{
    row->values = arena_calloc(arena, type->nfields == 0 ? 1 : type->nfields,
                               sizeof(*row->values));
    row->flags = arena_calloc(arena, nflags == 0 ? 1 : nflags, sizeof(*row->flags));
    if (row->values == NULL || row->flags == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < type->nfields; i++) {
        err_t err = read_value(stmt, (int)i, &type->fields[i], arena, &row->values[i]);
        if (err != ERR_OK)
            return err;
    }
    for (size_t k = 0; k < nflags; k++)
        row->flags[k] = sqlite3_column_int(stmt, (int)(type->nfields + k)) != 0;
    return ERR_OK;
}

/* ---- Get and search --------------------------------------------------------------------- */

err_t store__sqlite_get(store_conn_t *conn, const app_type_t *type, const char *id,
                        const store_query_t *query, arena_t *arena, store_row_t *out)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    memset(out, 0, sizeof(*out));
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_get(&q, type, id, query);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "get thing");
    if (err != ERR_OK)
        goto out;

    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        err = read_row(stmt, type, query == NULL ? 0 : query->nflags, arena, out);
    else if (rc == SQLITE_DONE)
        err = ERR_NOT_FOUND;
    else
        err = store__sqlite_fail(c, rc, "get thing");
    store__sqlite_finish(c, stmt);
out:
    store__sql_deinit(&q);
    return err;
}

/* Appends a zeroed row to an array that lives in the arena, doubling its capacity as needed. The
 * old array stays in the arena until the request ends, which at most doubles the space used. */
static store_row_t *push_row(arena_t *arena, store_row_t **rows, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t grown = *cap == 0 ? 16 : *cap * 2;
        store_row_t *bigger = arena_calloc(arena, grown, sizeof(*bigger));
        if (bigger == NULL)
            return NULL;
        if (*n > 0)
            memcpy(bigger, *rows, *n * sizeof(*bigger));
        *rows = bigger;
        *cap = grown;
    }
    return &(*rows)[(*n)++];
}

static err_t count_matches(store__sqlite_conn_t *c, const app_type_t *type,
                           const store_cond_t *where, size_t *total)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_count(&q, type, where);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "count things");
    if (err != ERR_OK)
        goto out;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *total = (size_t)sqlite3_column_int64(stmt, 0);
    else
        err = store__sqlite_fail(c, rc, "count things");
    store__sqlite_finish(c, stmt);
out:
    store__sql_deinit(&q);
    return err;
}

static err_t fetch_rows(store__sqlite_conn_t *c, sqlite3_stmt *stmt, const app_type_t *type,
                        const store_query_t *query, arena_t *arena, store_row_t **rows,
                        size_t *nrows, size_t *total)
{
    size_t cap = 0;
    for (;;) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            return ERR_OK;
        if (rc != SQLITE_ROW)
            return store__sqlite_fail(c, rc, "search things");
        store_row_t *row = push_row(arena, rows, nrows, &cap);
        if (row == NULL)
            return ERR_NOMEM;
        err_t err = read_row(stmt, type, query->nflags, arena, row);
        if (err != ERR_OK)
            return err;
        if (query->count_total && *nrows == 1)
            *total = (size_t)sqlite3_column_int64(stmt, (int)(type->nfields + query->nflags));
    }
}

/* One statement returns the page and, in a column of every row, the number of matches. A page
 * past the end has no row to carry that count, so a second statement counts. */
err_t store__sqlite_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                           arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    err_t err = ERR_OK;
    if (query->limit > 0) {
        store__sql_t q;
        store__sql_init(&q, &store__sqlite_dialect);
        store__sql_search(&q, type, query);
        sqlite3_stmt *stmt = NULL;
        err = store__sqlite_prepare_sql(c, &q, &stmt, "search things");
        if (err == ERR_OK) {
            err = fetch_rows(c, stmt, type, query, arena, rows, nrows, total);
            store__sqlite_finish(c, stmt);
        }
        store__sql_deinit(&q);
    }
    if (err == ERR_OK && query->count_total && *nrows == 0)
        err = count_matches(c, type, query->where, total);
    if (err != ERR_OK) {
        *rows = NULL;
        *nrows = 0;
    }
    return err;
}

/* ---- Writes ----------------------------------------------------------------------------- */

/* Runs a write built in q. A write that matched no row is ERR_NOT_FOUND when missing_is_error. */
static err_t run_write(store__sqlite_conn_t *c, store__sql_t *q, const char *op,
                       bool missing_is_error)
{
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, q, &stmt, op);
    if (err == ERR_OK)
        err = store__sqlite_run(c, stmt, op);
    if (err == ERR_OK && missing_is_error && sqlite3_changes(c->db) == 0)
        err = ERR_NOT_FOUND;
    store__sql_deinit(q);
    return err;
}

/* Returns the normalised email from values in *norm (malloc'd, NULL when the user has none). */
static err_t email_norm_of(const app_type_t *type, const value_t *values, char **norm)
{
    *norm = NULL;
    const app_field_t *email = store__builtin_field(type, BUILTIN_EMAIL);
    if (!type->is_user || email == NULL)
        return ERR_OK;
    const value_t *v = &values[email - type->fields];
    if (v->kind != VAL_TEXT)
        return ERR_OK;
    *norm = store__email_norm(v->u.s.p, v->u.s.n);
    return *norm == NULL ? ERR_NOMEM : ERR_OK;
}

err_t store__sqlite_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                           const char *password_hash)
{
    char *norm = NULL;
    err_t err = email_norm_of(type, values, &norm);
    if (err != ERR_OK)
        return err;
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_insert(&q, type, values, norm, password_hash);
    err = run_write(store__sqlite_conn(conn), &q, "insert thing", false);
    free(norm);
    return err;
}

err_t store__sqlite_update(store_conn_t *conn, const app_type_t *type, const char *id,
                           const bool *mask, const value_t *values)
{
    char *norm = NULL;
    err_t err = email_norm_of(type, values, &norm);
    if (err != ERR_OK)
        return err;
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_update(&q, type, id, mask, values, norm);
    err = run_write(store__sqlite_conn(conn), &q, "update thing", true);
    free(norm);
    return err;
}

err_t store__sqlite_delete(store_conn_t *conn, const app_type_t *type, const char *id)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_delete(&q, type, id);
    return run_write(store__sqlite_conn(conn), &q, "delete thing", true);
}

/* ---- Users ------------------------------------------------------------------------------ */

static err_t read_user(sqlite3_stmt *stmt, arena_t *arena, char **id, char **password_hash)
{
    const char *p = (const char *)sqlite3_column_text(stmt, 0);
    *id = arena_strdup(arena, p == NULL ? "" : p);
    if (*id == NULL)
        return ERR_NOMEM;
    p = (const char *)sqlite3_column_text(stmt, 1);
    if (p == NULL)
        return ERR_OK;
    *password_hash = arena_strdup(arena, p);
    return *password_hash == NULL ? ERR_NOMEM : ERR_OK;
}

err_t store__sqlite_user_by_email(store_conn_t *conn, const app_type_t *user_type,
                                  const char *email_norm, arena_t *arena, char **id,
                                  char **password_hash)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    char *norm = store__email_norm(email_norm, strlen(email_norm));
    if (norm == NULL)
        return ERR_NOMEM;
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_user_by_email(&q, user_type, norm);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "find user by email");
    if (err != ERR_OK)
        goto out;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        err = read_user(stmt, arena, id, password_hash);
    else if (rc == SQLITE_DONE)
        err = ERR_NOT_FOUND;
    else
        err = store__sqlite_fail(c, rc, "find user by email");
    store__sqlite_finish(c, stmt);
out:
    store__sql_deinit(&q);
    free(norm);
    if (err != ERR_OK) {
        *id = NULL;
        *password_hash = NULL;
    }
    return err;
}

err_t store__sqlite_user_set_password(store_conn_t *conn, const app_type_t *user_type,
                                      const char *id, const char *password_hash)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_set_password(&q, user_type, id, password_hash);
    return run_write(store__sqlite_conn(conn), &q, "set user password", true);
}
