/* PostgreSQL: the store's own tables for user sessions and admin tokens.
 *
 * Both are looked up by the SHA-256 of a token, stored as a 32-byte BYTEA and bound in
 * PostgreSQL's hex text form; the token itself never reaches the database. The tables are created
 * by store__pg_migrate_internal.
 */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define HASH_LEN 32
#define HASH_TEXT_SIZE (2 + 2 * HASH_LEN + 1) /* "\x", two hex digits a byte, NUL */

/* Writes hash as a bytea literal in hex format ("\x0a1b...") and returns it as a text value. */
static value_t hash_value(const unsigned char hash[HASH_LEN], char text[HASH_TEXT_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    text[0] = '\\';
    text[1] = 'x';
    for (size_t i = 0; i < HASH_LEN; i++) {
        text[2 + 2 * i] = digits[hash[i] >> 4];
        text[3 + 2 * i] = digits[hash[i] & 0xf];
    }
    text[HASH_TEXT_SIZE - 1] = '\0';
    return value_text(text, HASH_TEXT_SIZE - 1);
}

static value_t cstr_value(const char *s)
{
    return value_text(s, strlen(s));
}

/* Runs fixed SQL text with params and returns the result for the caller to PQclear. */
static err_t run(store_conn_t *conn, const char *sql, const value_t *params, size_t nparams,
                 const char *op, PGresult **res)
{
    return store__pg_query(store__pg_conn(conn), sql, strlen(sql), params, nparams, op, res);
}

/* Runs an INSERT, UPDATE or DELETE and returns unchanged when it changed no row. */
static err_t run_change(store_conn_t *conn, const char *sql, const value_t *params,
                        size_t nparams, const char *op, err_t unchanged)
{
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, nparams, op, &res);
    if (err == ERR_OK && store__pg_changes(res) == 0)
        err = unchanged;
    PQclear(res);
    return err;
}

/* Copies a text column into a fixed buffer. A value that does not fit was not written by this
 * store, so it is reported as a store failure rather than cut. */
static err_t copy_column(const PGresult *res, int col, char *out, size_t size, const char *op)
{
    const size_t n = (size_t)PQgetlength(res, 0, col);
    if (n >= size) {
        LOG_ERROR("store value too long", "op=%s column=%d bytes=%zu", op, col, n);
        out[0] = '\0';
        return ERR_STORE;
    }
    memcpy(out, PQgetvalue(res, 0, col), n);
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

/* ---- Sessions --------------------------------------------------------------------------- */

/* A fixed-size text member as a parameter, NULL when it is empty. */
static value_t optional_text(const char *s, size_t size)
{
    const size_t n = strnlen(s, size);
    return n == 0 ? value_null() : value_text(s, n);
}

/* ON CONFLICT DO NOTHING reports a duplicate hash or id without aborting the caller's
 * transaction. */
err_t store__pg_session_insert(store_conn_t *conn, const unsigned char hash[32],
                               const store_session_t *session)
{
    if (strnlen(session->id, sizeof(session->id)) == sizeof(session->id) ||
        strnlen(session->user_id, sizeof(session->user_id)) == sizeof(session->user_id))
        return ERR_INVALID;
    static const char sql[] =
        "INSERT INTO \"_froth_sessions\" (\"token_hash\", \"id\", \"user_id\", \"created\", "
        "\"last_used\", \"expires\", \"idle_ms\", \"two_factor\", \"revoked\", "
        "\"client_address\", \"user_agent\") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {
        hash_value(hash, text),          cstr_value(session->id),
        cstr_value(session->user_id),    value_date(session->created_ms),
        value_date(session->last_used_ms), value_date(session->expires_ms),
        value_date(session->idle_ms),    value_bool(session->two_factor),
        value_bool(session->revoked),
        optional_text(session->client_address, sizeof(session->client_address)),
        optional_text(session->user_agent, sizeof(session->user_agent)),
    };
    return run_change(conn, sql, params, 11, "insert session", ERR_CONFLICT);
}

err_t store__pg_session_get(store_conn_t *conn, const unsigned char hash[32],
                            store_session_t *out)
{
    memset(out, 0, sizeof(*out));
    static const char sql[] =
        "SELECT \"id\", \"user_id\", \"created\", \"last_used\", \"expires\", \"idle_ms\", "
        "\"two_factor\", \"revoked\", \"client_address\", \"user_agent\" "
        "FROM \"_froth_sessions\" WHERE \"token_hash\" = $1";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {hash_value(hash, text)};
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, 1, "get session", &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK)
        err = copy_column(res, 0, out->id, sizeof(out->id), "get session");
    if (err == ERR_OK)
        err = copy_column(res, 1, out->user_id, sizeof(out->user_id), "get session");
    if (err == ERR_OK) {
        out->created_ms = int_column(res, 0, 2);
        out->last_used_ms = int_column(res, 0, 3);
        out->expires_ms = int_column(res, 0, 4);
        out->idle_ms = int_column(res, 0, 5);
        out->two_factor = bool_column(res, 0, 6);
        out->revoked = bool_column(res, 0, 7);
        err = copy_column(res, 8, out->client_address, sizeof(out->client_address), "get session");
    }
    if (err == ERR_OK)
        err = copy_column(res, 9, out->user_agent, sizeof(out->user_agent), "get session");
    PQclear(res);
    return err;
}

err_t store__pg_session_touch(store_conn_t *conn, const unsigned char hash[32],
                              int64_t last_used_ms)
{
    static const char sql[] =
        "UPDATE \"_froth_sessions\" SET \"last_used\" = $1 WHERE \"token_hash\" = $2";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {value_date(last_used_ms), hash_value(hash, text)};
    return run_change(conn, sql, params, 2, "touch session", ERR_NOT_FOUND);
}

/* Runs a change that publishes one event per changed row (see postgres_events.c) and returns
 * ERR_NOT_FOUND when no row changed. The event is delivered when the transaction commits. */
static err_t run_published(store_conn_t *conn, const char *sql, const value_t *params,
                           size_t nparams, const char *op)
{
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, nparams, op, &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    PQclear(res);
    return err;
}

err_t store__pg_session_revoke(store_conn_t *conn, const unsigned char hash[32])
{
    static const char sql[] =
        "WITH r AS (UPDATE \"_froth_sessions\" SET \"revoked\" = TRUE "
        "WHERE \"token_hash\" = $1 RETURNING \"token_hash\") "
        "SELECT pg_notify('" STORE__PG_CHANNEL "', 'session ' || encode(\"token_hash\", 'hex')) "
        "FROM r";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {hash_value(hash, text)};
    return run_published(conn, sql, params, 1, "revoke session");
}

/* ---- Admin tokens ----------------------------------------------------------------------- */

err_t store__pg_admin_token_insert(store_conn_t *conn, const char *label,
                                   const unsigned char hash[32], int64_t created_ms)
{
    static const char sql[] =
        "INSERT INTO \"_froth_admin_tokens\" (\"label\", \"token_hash\", \"created\", "
        "\"last_used\") VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {cstr_value(label), hash_value(hash, text), value_date(created_ms)};
    return run_change(conn, sql, params, 3, "insert admin token", ERR_CONFLICT);
}

static err_t read_admin_token(const PGresult *res, int row, store_admin_token_t *out,
                              const char *op)
{
    const size_t n = (size_t)PQgetlength(res, row, 0);
    if (n >= sizeof(out->label)) {
        LOG_ERROR("store value too long", "op=%s column=%s bytes=%zu", op, "label", n);
        return ERR_STORE;
    }
    memcpy(out->label, PQgetvalue(res, row, 0), n);
    out->label[n] = '\0';
    out->created_ms = int_column(res, row, 1);
    out->last_used_ms = int_column(res, row, 2);
    return ERR_OK;
}

err_t store__pg_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                                 store_admin_token_t *out)
{
    memset(out, 0, sizeof(*out));
    static const char sql[] = "SELECT \"label\", \"created\", \"last_used\" "
                              "FROM \"_froth_admin_tokens\" WHERE \"token_hash\" = $1";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {hash_value(hash, text)};
    PGresult *res = NULL;
    err_t err = run(conn, sql, params, 1, "find admin token", &res);
    if (err == ERR_OK && PQntuples(res) == 0)
        err = ERR_NOT_FOUND;
    if (err == ERR_OK)
        err = read_admin_token(res, 0, out, "find admin token");
    PQclear(res);
    return err;
}

err_t store__pg_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                                  int64_t last_used_ms)
{
    static const char sql[] =
        "UPDATE \"_froth_admin_tokens\" SET \"last_used\" = $1 WHERE \"token_hash\" = $2";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {value_date(last_used_ms), hash_value(hash, text)};
    return run_change(conn, sql, params, 2, "touch admin token", ERR_NOT_FOUND);
}

err_t store__pg_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32],
                                      int64_t used_ms, bool *first)
{
    static const char sql[] = "UPDATE \"_froth_admin_tokens\" SET \"last_used\" = $1 "
                              "WHERE \"token_hash\" = $2 AND \"last_used\" = 0";
    char text[HASH_TEXT_SIZE];
    const value_t params[] = {value_date(used_ms), hash_value(hash, text)};
    err_t err = run_change(conn, sql, params, 2, "record first admin token use", ERR_NOT_FOUND);
    *first = err == ERR_OK;
    return err == ERR_NOT_FOUND ? ERR_OK : err;
}

err_t store__pg_admin_token_list(store_conn_t *conn, arena_t *arena, store_admin_token_t **out,
                                 size_t *count)
{
    static const char sql[] = "SELECT \"label\", \"created\", \"last_used\" "
                              "FROM \"_froth_admin_tokens\" ORDER BY \"created\", \"label\"";
    PGresult *res = NULL;
    err_t err = run(conn, sql, NULL, 0, "list admin tokens", &res);
    const int n = err == ERR_OK ? PQntuples(res) : 0;
    if (n > 0) {
        *out = arena_calloc(arena, (size_t)n, sizeof(**out));
        if (*out == NULL)
            err = ERR_NOMEM;
    }
    for (int i = 0; err == ERR_OK && i < n; i++)
        err = read_admin_token(res, i, &(*out)[i], "list admin tokens");
    PQclear(res);
    if (err != ERR_OK) {
        *out = NULL;
        return err;
    }
    *count = (size_t)n;
    return ERR_OK;
}

err_t store__pg_admin_token_revoke(store_conn_t *conn, const char *label)
{
    static const char sql[] =
        "WITH d AS (DELETE FROM \"_froth_admin_tokens\" WHERE \"label\" = $1 "
        "RETURNING \"token_hash\") "
        "SELECT pg_notify('" STORE__PG_CHANNEL "', 'admin ' || encode(\"token_hash\", 'hex')) "
        "FROM d";
    const value_t params[] = {cstr_value(label)};
    return run_published(conn, sql, params, 1, "revoke admin token");
}
