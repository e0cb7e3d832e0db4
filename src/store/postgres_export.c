/* PostgreSQL: the pages that froth export reads, with the columns no other statement returns
 * (password hashes, token hashes). The dump itself is written by export.c.
 *
 * Token hashes travel as hex text through encode() and decode(), so the result does not depend
 * on the server's bytea_output setting.
 */
#include "store/export_internal.h"
#include "store/postgres_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define HASH_LEN 32

/* Numbers and dates arrive as decimal text. PostgreSQL 12 and later print a double precision
 * value with the fewest digits that read back as the same value, so strtod restores it
 * exactly. strtod sets ERANGE for a subnormal value too, which is still exact, so only an
 * integer's ERANGE counts. Text that does not parse (a column whose type changed under the
 * model) reads as empty, as it does through the Data API, and is logged. */
static value_t parse_value(const char *p, store__storage_t storage)
{
    char *end = NULL;
    errno = 0;
    value_t v;
    if (storage == STORAGE_REAL) {
        v = value_number(strtod(p, &end));
        if (!isfinite(v.u.num))
            end = (char *)p;
    } else {
        v = value_date((int64_t)strtoll(p, &end, 10));
        if (errno == ERANGE)
            end = (char *)p;
    }
    if (end != p && *end == '\0')
        return v;
    LOG_WARN("store value does not parse, exported as empty", "op=%s kind=%s", "export things",
             storage == STORAGE_REAL ? "number" : "date");
    return value_null();
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
    case STORAGE_DATE:
        *out = parse_value(p, storage);
        return ERR_OK;
    case STORAGE_BOOL:
        /* 't' from a BOOLEAN column; '1' from an integer column another tool created. */
        *out = value_bool(p[0] == 't' || p[0] == '1');
        return ERR_OK;
    }
    return ERR_INTERNAL;
}

static err_t read_thing(const PGresult *res, int r, const app_type_t *type, arena_t *arena,
                        store_row_t *row, char **password_hash)
{
    row->values = arena_calloc(arena, type->nfields, sizeof(*row->values));
    row->flags = NULL;
    *password_hash = NULL;
    if (row->values == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < type->nfields; i++) {
        err_t err = read_value(res, r, (int)i, &type->fields[i], arena, &row->values[i]);
        if (err != ERR_OK)
            return err;
    }
    const int col = (int)type->nfields;
    if (!type->is_user || PQgetisnull(res, r, col))
        return ERR_OK;
    *password_hash = arena_strdup(arena, PQgetvalue(res, r, col));
    return *password_hash == NULL ? ERR_NOMEM : ERR_OK;
}

/* Checks that a result has the columns a page reads and no more rows than asked for. */
static err_t check_shape(const PGresult *res, int columns, size_t limit, const char *op)
{
    if (PQnfields(res) < columns || (size_t)PQntuples(res) > limit) {
        LOG_ERROR("store result has an unexpected shape", "op=%s columns=%d rows=%d", op,
                  PQnfields(res), PQntuples(res));
        return ERR_INTERNAL;
    }
    return ERR_OK;
}

err_t store__pg_export_things(store_conn_t *conn, const app_type_t *type, int64_t after_created,
                              const char *after_id, size_t limit, arena_t *arena, store_row_t *rows,
                              char **password_hashes, size_t *count)
{
    *count = 0;
    store__sql_t q;
    store__sql_init(&q, &store__pg_dialect);
    store__sql_export_things(&q, type, after_created, after_id, limit);
    PGresult *res = NULL;
    err_t err = store__pg_query_sql(store__pg_conn(conn), &q, "export things", &res);
    const int columns = (int)type->nfields + (type->is_user ? 1 : 0);
    if (err == ERR_OK)
        err = check_shape(res, columns, limit, "export things");
    const int n = err == ERR_OK ? PQntuples(res) : 0;
    for (int r = 0; r < n && err == ERR_OK; r++) {
        err = read_thing(res, r, type, arena, &rows[r], &password_hashes[r]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    store__sql_deinit(&q);
    return err;
}

/* ---- Sessions and admin tokens ---------------------------------------------------------- */

static err_t read_hash(const PGresult *res, int row, int col, unsigned char hash[HASH_LEN],
                       const char *op)
{
    if (!store__hex_decode(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col), hash)) {
        LOG_ERROR("store token hash has the wrong length", "op=%s bytes=%d", op,
                  PQgetlength(res, row, col) / 2);
        return ERR_STORE;
    }
    return ERR_OK;
}

/* Copies a text column into a fixed buffer; a value that does not fit was not written by
 * this store. */
static err_t read_text(const PGresult *res, int row, int col, char *out, size_t size,
                       const char *op)
{
    const size_t n = (size_t)PQgetlength(res, row, col);
    if (n >= size) {
        LOG_ERROR("store value too long", "op=%s column=%d bytes=%zu", op, col, n);
        return ERR_STORE;
    }
    memcpy(out, PQgetvalue(res, row, col), n);
    out[n] = '\0';
    return ERR_OK;
}

static int64_t int_column(const PGresult *res, int row, int col)
{
    return (int64_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool bool_column(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col)[0] == 't';
}

static err_t read_session(const PGresult *res, int r, unsigned char hash[HASH_LEN],
                          store_session_t *s)
{
    memset(s, 0, sizeof(*s));
    err_t err = read_hash(res, r, 0, hash, "export sessions");
    if (err == ERR_OK)
        err = read_text(res, r, 1, s->id, sizeof(s->id), "export sessions");
    if (err == ERR_OK)
        err = read_text(res, r, 2, s->user_id, sizeof(s->user_id), "export sessions");
    s->created_ms = int_column(res, r, 3);
    s->last_used_ms = int_column(res, r, 4);
    s->expires_ms = int_column(res, r, 5);
    s->idle_ms = int_column(res, r, 6);
    s->two_factor = bool_column(res, r, 7);
    s->revoked = bool_column(res, r, 8);
    if (err == ERR_OK)
        err = read_text(res, r, 9, s->client_address, sizeof(s->client_address), "export sessions");
    if (err == ERR_OK)
        err = read_text(res, r, 10, s->user_agent, sizeof(s->user_agent), "export sessions");
    return err;
}

/* Runs a page query: with after (a text parameter) when given, without it otherwise. */
static err_t run_page(store_conn_t *conn, const char *first_sql, const char *next_sql,
                      const char *after, size_t limit, int columns, const char *op, PGresult **res)
{
    const value_t params[] = {
        after == NULL ? store__int_value((int64_t)limit) : value_text(after, strlen(after)),
        store__int_value((int64_t)limit),
    };
    const char *sql = after == NULL ? first_sql : next_sql;
    err_t err = store__pg_query(store__pg_conn(conn), sql, strlen(sql), params,
                                after == NULL ? 1 : 2, op, res);
    if (err == ERR_OK)
        err = check_shape(*res, columns, limit, op);
    return err;
}

#define SESSION_COLUMNS                                                                            \
    "SELECT encode(\"token_hash\", 'hex'), \"id\", \"user_id\", \"created\", \"last_used\", "      \
    "\"expires\", \"idle_ms\", \"two_factor\", \"revoked\", \"client_address\", "                  \
    "\"user_agent\" FROM \"_froth_sessions\" "

err_t store__pg_export_sessions(store_conn_t *conn, const unsigned char *after_hash, size_t limit,
                                unsigned char (*hashes)[32], store_session_t *sessions,
                                size_t *count)
{
    *count = 0;
    char after[2 * HASH_LEN + 1];
    if (after_hash != NULL)
        store__hex_encode(after_hash, after);
    PGresult *res = NULL;
    err_t err = run_page(conn, SESSION_COLUMNS "ORDER BY \"token_hash\" LIMIT $1",
                         SESSION_COLUMNS "WHERE \"token_hash\" > decode($1, 'hex') "
                                         "ORDER BY \"token_hash\" LIMIT $2",
                         after_hash == NULL ? NULL : after, limit, 11, "export sessions", &res);
    const int n = err == ERR_OK ? PQntuples(res) : 0;
    for (int r = 0; r < n && err == ERR_OK; r++) {
        err = read_session(res, r, hashes[r], &sessions[r]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}

#define ADMIN_TOKEN_COLUMNS                                                                        \
    "SELECT \"label\", encode(\"token_hash\", 'hex'), \"created\", \"last_used\" "                 \
    "FROM \"_froth_admin_tokens\" "

err_t store__pg_export_admin_tokens(store_conn_t *conn, const char *after_label, size_t limit,
                                    unsigned char (*hashes)[32], store_admin_token_t *tokens,
                                    size_t *count)
{
    *count = 0;
    PGresult *res = NULL;
    err_t err = run_page(conn, ADMIN_TOKEN_COLUMNS "ORDER BY \"label\" LIMIT $1",
                         ADMIN_TOKEN_COLUMNS "WHERE \"label\" > $1 ORDER BY \"label\" LIMIT $2",
                         after_label, limit, 4, "export admin tokens", &res);
    const int n = err == ERR_OK ? PQntuples(res) : 0;
    for (int r = 0; r < n && err == ERR_OK; r++) {
        store_admin_token_t *t = &tokens[r];
        memset(t, 0, sizeof(*t));
        err = read_text(res, r, 0, t->label, sizeof(t->label), "export admin tokens");
        if (err == ERR_OK)
            err = read_hash(res, r, 1, hashes[r], "export admin tokens");
        t->created_ms = int_column(res, r, 2);
        t->last_used_ms = int_column(res, r, 3);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}
