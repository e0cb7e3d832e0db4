/* PostgreSQL: reading and writing things and users' hidden columns.
 *
 * The statements come from sql.c; this file adds what only PostgreSQL needs (row locks in write
 * transactions, ON CONFLICT on inserts), runs them and turns text-format rows back into value_t
 * arrays in the caller's arena.
 */
#include "store/postgres_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* ---- Reading rows ----------------------------------------------------------------------- */

/* Numbers and dates come back as decimal text. Text that does not parse (a column whose type
 * changed under the model, say) reads as empty rather than as a made-up number. */
static value_t parse_number(const char *p)
{
    char *end = NULL;
    errno = 0;
    const double d = strtod(p, &end);
    if (end == p || *end != '\0')
        return value_null();
    return value_number(d);
}

static value_t parse_date(const char *p)
{
    char *end = NULL;
    errno = 0;
    const long long ms = strtoll(p, &end, 10);
    if (end == p || *end != '\0' || errno == ERANGE)
        return value_null();
    return value_date((int64_t)ms);
}

static err_t read_value(const PGresult *res, int row, int col, const app_field_t *field,
                        arena_t *arena, value_t *out)
{
    *out = value_null();
    if (PQgetisnull(res, row, col))
        return ERR_OK;
    const char *p = PQgetvalue(res, row, col);
    const int n = PQgetlength(res, row, col);
    const store__storage_t storage = store__field_storage(field);
    switch (storage) {
    case STORAGE_TEXT:
    case STORAGE_JSON: {
        if (n <= 0)
            return ERR_OK;
        const char *copy = arena_strndup(arena, p, (size_t)n);
        if (copy == NULL)
            return ERR_NOMEM;
        *out = storage == STORAGE_JSON ? store__stored_value(value_json(copy, (size_t)n))
                                       : value_text(copy, (size_t)n);
        return ERR_OK;
    }
    case STORAGE_REAL:
        *out = parse_number(p);
        return ERR_OK;
    case STORAGE_BOOL:
        /* 't' from a BOOLEAN column; '1' from an integer column another tool created. */
        *out = value_bool(p[0] == 't' || p[0] == '1');
        return ERR_OK;
    case STORAGE_DATE:
        *out = parse_date(p);
        return ERR_OK;
    }
    return ERR_INTERNAL;
}

/* Fills out from result row: the fields, then one 0/1 column per flag. */
static err_t read_row(const PGresult *res, int r, const app_type_t *type, size_t nflags,
                      arena_t *arena, store_row_t *out)
{
    if ((size_t)PQnfields(res) < type->nfields + nflags) {
        LOG_ERROR("store result has too few columns", "have=%d want=%zu", PQnfields(res),
                  type->nfields + nflags);
        return ERR_INTERNAL;
    }
    out->values = arena_calloc(arena, type->nfields == 0 ? 1 : type->nfields,
                               sizeof(*out->values));
    out->flags = arena_calloc(arena, nflags == 0 ? 1 : nflags, sizeof(*out->flags));
    if (out->values == NULL || out->flags == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < type->nfields; i++) {
        err_t err = read_value(res, r, (int)i, &type->fields[i], arena, &out->values[i]);
        if (err != ERR_OK)
            return err;
    }
    for (size_t k = 0; k < nflags; k++)
        out->flags[k] = PQgetvalue(res, r, (int)(type->nfields + k))[0] == '1';
    return ERR_OK;
}

static size_t read_count(const PGresult *res, int row, int col)
{
    return (size_t)strtoull(PQgetvalue(res, row, col), NULL, 10);
}

/* ---- Get and search --------------------------------------------------------------------- */

err_t store__pg_get(store_conn_t *conn, const app_type_t *type, const char *id,
                    const store_query_t *query, arena_t *arena, store_row_t *out)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    memset(out, 0, sizeof(*out));
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_get(&q, type, id, query);
    /* The lock holds until the transaction ends, so a concurrent writer of the same thing waits
     * for this one and then reads what it wrote. */
    if (c->write_tx)
        store__sql_puts(&q, " FOR UPDATE OF t0");
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(c, &q, "get thing", &res);
    if (err == ERR_OK) {
        if (PQntuples(res) == 0)
            err = ERR_NOT_FOUND;
        else
            err = read_row(res, 0, type, query == NULL ? 0 : query->nflags, arena, out);
    }
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

static err_t count_matches(store__pg_conn_t *c, const app_type_t *type, const store_cond_t *where,
                           size_t *total)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_count(&q, type, where);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(c, &q, "count things", &res);
    if (err == ERR_OK)
        *total = PQntuples(res) > 0 ? read_count(res, 0, 0) : 0;
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

static err_t read_rows(const PGresult *res, const app_type_t *type, const store_query_t *query,
                       arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total)
{
    const int n = PQntuples(res);
    if (n == 0)
        return ERR_OK;
    *rows = arena_calloc(arena, (size_t)n, sizeof(**rows));
    if (*rows == NULL)
        return ERR_NOMEM;
    for (int r = 0; r < n; r++) {
        err_t err = read_row(res, r, type, query->nflags, arena, &(*rows)[r]);
        if (err != ERR_OK)
            return err;
    }
    *nrows = (size_t)n;
    if (query->count_total)
        *total = read_count(res, 0, (int)(type->nfields + query->nflags));
    return ERR_OK;
}

/* One statement returns the page and, in a column of every row, the number of matches. A page
 * past the end has no row to carry that count, so a second statement counts. */
err_t store__pg_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                       arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    err_t err = ERR_OK;
    if (query->limit > 0) {
        store__sql_t q;
        store__sql_init(&q, &store__pg_dialect);
        store__sql_search(&q, type, query);
        PGresult *res = NULL;
        err = store__pg_query_sql(c, &q, "search things", &res);
        if (err == ERR_OK)
            err = read_rows(res, type, query, arena, rows, nrows, total);
        PQclear(res);
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

/* Runs a write built in q and returns unchanged when it changed no row: ERR_NOT_FOUND for an
 * update or delete of an unknown id, ERR_CONFLICT for an insert that ON CONFLICT skipped. */
static err_t run_write(store__pg_conn_t *c, store__sql_t *q, const char *op, err_t unchanged)
{
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(c, q, op, &res);
    if (err == ERR_OK && store__pg_changes(res) == 0)
        err = unchanged;
    PQclear(res);
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

/* ON CONFLICT DO NOTHING turns a duplicate id or email into "no row inserted" instead of an
 * error that would abort the caller's transaction. Against a concurrent insert of the same email
 * that has not committed yet, it waits for that transaction, so two nodes signing up one email
 * at once create exactly one user. */
err_t store__pg_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                       const char *password_hash)
{
    char *norm = NULL;
    err_t err = email_norm_of(type, values, &norm);
    if (err != ERR_OK)
        return err;
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_insert(&q, type, values, norm, password_hash);
    store__sql_puts(&q, " ON CONFLICT DO NOTHING");
    err = run_write(store__pg_conn(conn), &q, "insert thing", ERR_CONFLICT);
    if (err == ERR_CONFLICT)
        LOG_DEBUG("store insert skipped", "type=%s reason=%s", log_quote(type->name),
                  log_quote("duplicate id or email"));
    free(norm);
    return err;
}

err_t store__pg_update(store_conn_t *conn, const app_type_t *type, const char *id,
                       const bool *mask, const value_t *values)
{
    char *norm = NULL;
    err_t err = email_norm_of(type, values, &norm);
    if (err != ERR_OK)
        return err;
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_update(&q, type, id, mask, values, norm);
    err = run_write(store__pg_conn(conn), &q, "update thing", ERR_NOT_FOUND);
    free(norm);
    return err;
}

err_t store__pg_delete(store_conn_t *conn, const app_type_t *type, const char *id)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_delete(&q, type, id);
    return run_write(store__pg_conn(conn), &q, "delete thing", ERR_NOT_FOUND);
}

/* ---- Users ------------------------------------------------------------------------------ */

err_t store__pg_user_by_email(store_conn_t *conn, const app_type_t *user_type,
                              const char *email_norm, arena_t *arena, char **id,
                              char **password_hash)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    char *norm = store__email_norm(email_norm, strlen(email_norm));
    if (norm == NULL)
        return ERR_NOMEM;
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_user_by_email(&q, user_type, norm);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(c, &q, "find user by email", &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK) {
        *id = arena_strdup(arena, PQgetvalue(res, 0, 0));
        if (*id == NULL)
            err = ERR_NOMEM;
    }
    if (err == ERR_OK && !PQgetisnull(res, 0, 1)) {
        *password_hash = arena_strdup(arena, PQgetvalue(res, 0, 1));
        if (*password_hash == NULL)
            err = ERR_NOMEM;
    }
    PQclear(res);
    store__sql_deinit(&q);
    free(norm);
    if (err != ERR_OK) {
        *id = NULL;
        *password_hash = NULL;
    }
    return err;
}

err_t store__pg_user_set_password(store_conn_t *conn, const app_type_t *user_type,
                                  const char *id, const char *password_hash)
{
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_set_password(&q, user_type, id, password_hash);
    return run_write(store__pg_conn(conn), &q, "set user password", ERR_NOT_FOUND);
}
