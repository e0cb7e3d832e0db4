/* PostgreSQL: the sessions of one user. Every revocation publishes one event per session in the
 * same statement, so every node drops the credentials from its cache when the change commits. */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

#define LIST_MAX 100

static value_t text(const char *s)
{
    return value_text(s, strlen(s));
}

err_t store__pg_session_revoke_user(store_conn_t *conn, const char *user_id,
                                    const unsigned char *keep, size_t *count)
{
    static const char sql[] =
        "WITH r AS (UPDATE \"_froth_sessions\" SET \"revoked\" = TRUE "
        "WHERE \"user_id\" = $1 AND NOT \"revoked\" "
        "AND ($2::bytea IS NULL OR \"token_hash\" <> $2::bytea) RETURNING \"token_hash\") "
        "SELECT pg_notify('" STORE__PG_CHANNEL "', 'session ' || encode(\"token_hash\", 'hex')) "
        "FROM r";
    char hex[2 + 64 + 1];
    value_t keep_value = value_null();
    if (keep != NULL) {
        static const char digits[] = "0123456789abcdef";
        hex[0] = '\\';
        hex[1] = 'x';
        for (size_t i = 0; i < 32; i++) {
            hex[2 + 2 * i] = digits[keep[i] >> 4];
            hex[3 + 2 * i] = digits[keep[i] & 0xf];
        }
        hex[sizeof(hex) - 1] = '\0';
        keep_value = value_text(hex, sizeof(hex) - 1);
    }
    const value_t params[] = {text(user_id), keep_value};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 2,
                                "revoke user sessions", &res);
    *count = err == ERR_OK ? (size_t)PQntuples(res) : 0;
    PQclear(res);
    return err;
}

err_t store__pg_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms,
                             arena_t *arena, store_session_t **out, size_t *count)
{
    static const char sql[] =
        "SELECT \"id\", \"user_id\", \"created\", \"last_used\", \"expires\", \"idle_ms\", "
        "\"two_factor\", \"client_address\", \"user_agent\" FROM \"_froth_sessions\" "
        "WHERE \"user_id\" = $1 AND NOT \"revoked\" "
        "AND \"expires\" > $2::bigint AND \"last_used\" + \"idle_ms\" > $2::bigint "
        "ORDER BY \"last_used\" DESC, \"id\" LIMIT 100";
    *count = 0;
    *out = arena_calloc(arena, LIST_MAX, sizeof(store_session_t));
    if (*out == NULL)
        return ERR_NOMEM;
    const value_t params[] = {text(user_id), value_date(now_ms)};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 2,
                                "list sessions", &res);
    const int rows = err == ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; err == ERR_OK && i < rows && i < LIST_MAX; i++) {
        store_session_t *s = &(*out)[*count];
        err = store__pg_copy_text(res, i, 0, s->id, sizeof(s->id));
        if (err == ERR_OK)
            err = store__pg_copy_text(res, i, 1, s->user_id, sizeof(s->user_id));
        s->created_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        s->last_used_ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
        s->expires_ms = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        s->idle_ms = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        s->two_factor = PQgetvalue(res, i, 6)[0] == 't';
        if (err == ERR_OK)
            err = store__pg_copy_text(res, i, 7, s->client_address, sizeof(s->client_address));
        if (err == ERR_OK)
            err = store__pg_copy_text(res, i, 8, s->user_agent, sizeof(s->user_agent));
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}

err_t store__pg_session_revoke_id(store_conn_t *conn, const char *user_id, const char *id)
{
    static const char sql[] =
        "WITH r AS (UPDATE \"_froth_sessions\" SET \"revoked\" = TRUE "
        "WHERE \"id\" = $1 AND \"user_id\" = $2 AND NOT \"revoked\" RETURNING \"token_hash\") "
        "SELECT pg_notify('" STORE__PG_CHANNEL "', 'session ' || encode(\"token_hash\", 'hex')) "
        "FROM r";
    const value_t params[] = {text(id), text(user_id)};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 2,
                                "revoke session by id", &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    PQclear(res);
    return err;
}

err_t store__pg_copy_text(const PGresult *res, int row, int col, char *out, size_t size)
{
    const size_t n = (size_t)PQgetlength(res, row, col);
    if (n >= size)
        return ERR_STORE;
    memcpy(out, PQgetvalue(res, row, col), n);
    out[n] = '\0';
    return ERR_OK;
}
