/* PostgreSQL: a user's two-factor state in the hidden columns of the User type's table. */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

static err_t copy_column(const PGresult *res, int row, int col, arena_t *arena, char **out)
{
    *out = NULL;
    if (PQgetisnull(res, row, col))
        return ERR_OK;
    *out = arena_strdup(arena, PQgetvalue(res, row, col));
    return *out == NULL ? ERR_NOMEM : ERR_OK;
}

/* Reads the four state columns of row that start at column first. */
static err_t read_state(const PGresult *res, int row, int first, arena_t *arena,
                        store_two_factor_t *out)
{
    err_t err = copy_column(res, row, first, arena, &out->secret);
    out->enabled = !PQgetisnull(res, row, first + 1) && PQgetvalue(res, row, first + 1)[0] == 't';
    out->last_step =
        PQgetisnull(res, row, first + 2) ? 0 : strtoll(PQgetvalue(res, row, first + 2), NULL, 10);
    if (err == ERR_OK)
        err = copy_column(res, row, first + 3, arena, &out->recovery_codes);
    return err;
}

err_t store__pg_two_factor_get(store_conn_t *conn, const app_type_t *user_type,
                               const char *user_id, arena_t *arena, store_two_factor_t *out)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_get(&q, user_type, user_id);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "read two-factor state", &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK)
        err = read_state(res, 0, 0, arena, out);
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

/* Runs the write in q and sets *changed to whether it changed a row. */
static err_t run_update(store_conn_t *conn, store__sql_t *q, const char *op, bool *changed)
{
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), q, op, &res);
    *changed = err == ERR_OK && store__pg_changes(res) > 0;
    PQclear(res);
    store__sql_deinit(q);
    return err;
}

err_t store__pg_two_factor_set(store_conn_t *conn, const app_type_t *user_type,
                               const char *user_id, const store_two_factor_t *tf)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_set(&q, user_type, user_id, tf);
    bool changed = false;
    err_t err = run_update(conn, &q, "write two-factor state", &changed);
    if (err == ERR_OK && !changed)
        err = ERR_NOT_FOUND;
    return err;
}

err_t store__pg_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                       const char *user_id, int64_t step, bool *accepted)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_accept_step(&q, user_type, user_id, step);
    return run_update(conn, &q, "accept a TOTP step", accepted);
}

err_t store__pg_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                         const char *user_id, const char *expected,
                                         const char *codes, bool *replaced)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_replace_codes(&q, user_type, user_id, expected, codes);
    return run_update(conn, &q, "replace recovery codes", replaced);
}

err_t store__pg_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                          const char *user_id, const char *expected,
                                          const char *secret, bool *replaced)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_replace_secret(&q, user_type, user_id, expected, secret);
    return run_update(conn, &q, "replace a TOTP secret", replaced);
}

err_t store__pg_export_two_factor(store_conn_t *conn, const app_type_t *user_type,
                                  const char *after_id, size_t limit, arena_t *arena, char **ids,
                                  store_two_factor_t *states, size_t *count)
{
    *count = 0;
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_two_factor_export(&q, user_type, after_id, limit);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "export two-factor state", &res);
    const int rows = err == ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; err == ERR_OK && i < rows && *count < limit; i++) {
        memset(&states[*count], 0, sizeof(states[*count]));
        err = copy_column(res, i, 0, arena, &ids[*count]);
        if (err == ERR_OK)
            err = read_state(res, i, 1, arena, &states[*count]);
        if (err == ERR_OK && ids[*count] != NULL)
            (*count)++;
    }
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}
