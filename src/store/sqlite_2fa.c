/* SQLite: a user's two-factor state in the hidden columns of the User type's table. */
#include "store/sqlite_internal.h"

#include <string.h>

static err_t copy_column(sqlite3_stmt *stmt, int col, arena_t *arena, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return ERR_OK;
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    const size_t n = (size_t)sqlite3_column_bytes(stmt, col);
    *out = arena_strndup(arena, p == NULL ? "" : p, n);
    return *out == NULL ? ERR_NOMEM : ERR_OK;
}

/* Reads the four state columns that start at column first. */
static err_t read_state(sqlite3_stmt *stmt, int first, arena_t *arena, store_two_factor_t *out)
{
    err_t err = copy_column(stmt, first, arena, &out->secret);
    out->enabled = sqlite3_column_int64(stmt, first + 1) != 0;
    out->last_step = sqlite3_column_int64(stmt, first + 2);
    if (err == ERR_OK)
        err = copy_column(stmt, first + 3, arena, &out->recovery_codes);
    return err;
}

err_t store__sqlite_two_factor_get(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, arena_t *arena, store_two_factor_t *out)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_get(&q, user_type, user_id);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "read two-factor state");
    if (err != ERR_OK)
        goto out;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        err = read_state(stmt, 0, arena, out);
    } else if (rc == SQLITE_DONE) {
        err = ERR_NOT_FOUND;
    } else {
        err = store__sqlite_fail(c, rc, "read two-factor state");
    }
    store__sqlite_finish(c, stmt);
out:
    store__sql_deinit(&q);
    return err;
}

/* Runs the write in q and sets *changed to whether it changed a row. */
static err_t run_update(store__sqlite_conn_t *c, store__sql_t *q, const char *op, bool *changed)
{
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, q, &stmt, op);
    if (err == ERR_OK)
        err = store__sqlite_run(c, stmt, op);
    *changed = err == ERR_OK && sqlite3_changes(c->db) > 0;
    store__sql_deinit(q);
    return err;
}

err_t store__sqlite_two_factor_set(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, const store_two_factor_t *tf)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_set(&q, user_type, user_id, tf);
    bool changed = false;
    err_t err = run_update(store__sqlite_conn(conn), &q, "write two-factor state", &changed);
    if (err == ERR_OK && !changed)
        err = ERR_NOT_FOUND;
    return err;
}

err_t store__sqlite_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                           const char *user_id, int64_t step, bool *accepted)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_accept_step(&q, user_type, user_id, step);
    return run_update(store__sqlite_conn(conn), &q, "accept a TOTP step", accepted);
}

err_t store__sqlite_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                             const char *user_id, const char *expected,
                                             const char *codes, bool *replaced)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_replace_codes(&q, user_type, user_id, expected, codes);
    return run_update(store__sqlite_conn(conn), &q, "replace recovery codes", replaced);
}

err_t store__sqlite_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                              const char *user_id, const char *expected,
                                              const char *secret, bool *replaced)
{
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_replace_secret(&q, user_type, user_id, expected, secret);
    return run_update(store__sqlite_conn(conn), &q, "replace a TOTP secret", replaced);
}

err_t store__sqlite_export_two_factor(store_conn_t *conn, const app_type_t *user_type,
                                      const char *after_id, size_t limit, arena_t *arena,
                                      char **ids, store_two_factor_t *states, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    *count = 0;
    store__sql_t q;
    store__sql_init(&q, &store__sqlite_dialect);
    store__sql_two_factor_export(&q, user_type, after_id, limit);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare_sql(c, &q, &stmt, "export two-factor state");
    int rc = SQLITE_DONE;
    while (err == ERR_OK && *count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        memset(&states[*count], 0, sizeof(states[*count]));
        err = copy_column(stmt, 0, arena, &ids[*count]);
        if (err == ERR_OK)
            err = read_state(stmt, 1, arena, &states[*count]);
        if (err == ERR_OK && ids[*count] != NULL)
            (*count)++;
    }
    if (err == ERR_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = store__sqlite_fail(c, rc, "export two-factor state");
    if (stmt != NULL)
        store__sqlite_finish(c, stmt);
    store__sql_deinit(&q);
    return err;
}
