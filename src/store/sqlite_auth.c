/* SQLite: the store's own tables for user sessions and admin tokens.
 *
 * Both are looked up by the SHA-256 of a token, stored as a 32-byte BLOB; the token itself never
 * reaches the database. The tables are created by store__sqlite_migrate_internal.
 */
#include "store/sqlite_internal.h"

#include <string.h>

#include "core/log.h"

#define HASH_LEN 32

/* Prepares fixed SQL text and binds the token hash as parameter hash_index when hash is given. */
static err_t prepare_fixed(store__sqlite_conn_t *c, const char *sql, const unsigned char *hash,
                           int hash_index, sqlite3_stmt **out, const char *op)
{
    err_t err = store__sqlite_prepare(c, sql, strlen(sql), out, op);
    if (err != ERR_OK || hash == NULL)
        return err;
    int rc = sqlite3_bind_blob(*out, hash_index, hash, HASH_LEN, SQLITE_STATIC);
    if (rc != SQLITE_OK) {
        err = store__sqlite_fail(c, rc, op);
        store__sqlite_finish(c, *out);
        *out = NULL;
    }
    return err;
}

/* Runs an UPDATE or DELETE; ERR_NOT_FOUND when it matched no row. */
static err_t run_change(store__sqlite_conn_t *c, sqlite3_stmt *stmt, const char *op)
{
    err_t err = store__sqlite_run(c, stmt, op);
    if (err == ERR_OK && sqlite3_changes(c->db) == 0)
        return ERR_NOT_FOUND;
    return err;
}

/* Copies a text column into a fixed buffer. A value that does not fit was not written by this
 * store, so it is reported as a store failure rather than cut. */
static err_t copy_column(sqlite3_stmt *stmt, int col, char *out, size_t size, const char *op)
{
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    const size_t n = (size_t)sqlite3_column_bytes(stmt, col);
    if (n >= size) {
        LOG_ERROR("store value too long", "op=%s column=%d bytes=%zu", op, col, n);
        out[0] = '\0';
        return ERR_STORE;
    }
    if (n > 0)
        memcpy(out, p, n);
    out[n] = '\0';
    return ERR_OK;
}

/* ---- Sessions --------------------------------------------------------------------------- */

/* Binds a fixed-size text member, or NULL when it is empty. */
static void bind_optional_text(sqlite3_stmt *stmt, int index, const char *s, size_t size)
{
    const size_t n = strnlen(s, size);
    if (n == 0)
        sqlite3_bind_null(stmt, index);
    else
        sqlite3_bind_text(stmt, index, s, (int)n, SQLITE_STATIC);
}

err_t store__sqlite_session_insert(store_conn_t *conn, const unsigned char hash[32],
                                   const store_session_t *session)
{
    if (strnlen(session->id, sizeof(session->id)) == sizeof(session->id) ||
        strnlen(session->user_id, sizeof(session->user_id)) == sizeof(session->user_id))
        return ERR_INVALID;
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "INSERT INTO \"_froth_sessions\" (\"token_hash\", \"id\", \"user_id\", \"created\", "
        "\"last_used\", \"expires\", \"idle_ms\", \"two_factor\", \"revoked\", "
        "\"client_address\", \"user_agent\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 1, &stmt, "insert session");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 2, session->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, session->user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, session->created_ms);
    sqlite3_bind_int64(stmt, 5, session->last_used_ms);
    sqlite3_bind_int64(stmt, 6, session->expires_ms);
    sqlite3_bind_int64(stmt, 7, session->idle_ms);
    sqlite3_bind_int(stmt, 8, session->two_factor ? 1 : 0);
    sqlite3_bind_int(stmt, 9, session->revoked ? 1 : 0);
    bind_optional_text(stmt, 10, session->client_address, sizeof(session->client_address));
    bind_optional_text(stmt, 11, session->user_agent, sizeof(session->user_agent));
    return store__sqlite_run(c, stmt, "insert session");
}

static err_t read_session(sqlite3_stmt *stmt, store_session_t *out)
{
    err_t err = copy_column(stmt, 0, out->id, sizeof(out->id), "get session");
    if (err == ERR_OK)
        err = copy_column(stmt, 1, out->user_id, sizeof(out->user_id), "get session");
    out->created_ms = sqlite3_column_int64(stmt, 2);
    out->last_used_ms = sqlite3_column_int64(stmt, 3);
    out->expires_ms = sqlite3_column_int64(stmt, 4);
    out->idle_ms = sqlite3_column_int64(stmt, 5);
    out->two_factor = sqlite3_column_int(stmt, 6) != 0;
    out->revoked = sqlite3_column_int(stmt, 7) != 0;
    if (err == ERR_OK)
        err = copy_column(stmt, 8, out->client_address, sizeof(out->client_address), "get session");
    if (err == ERR_OK)
        err = copy_column(stmt, 9, out->user_agent, sizeof(out->user_agent), "get session");
    return err;
}

err_t store__sqlite_session_get(store_conn_t *conn, const unsigned char hash[32],
                                store_session_t *out)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    memset(out, 0, sizeof(*out));
    static const char sql[] =
        "SELECT \"id\", \"user_id\", \"created\", \"last_used\", \"expires\", \"idle_ms\", "
        "\"two_factor\", \"revoked\", \"client_address\", \"user_agent\" "
        "FROM \"_froth_sessions\" WHERE \"token_hash\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 1, &stmt, "get session");
    if (err != ERR_OK)
        return err;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        err = read_session(stmt, out);
    else if (rc == SQLITE_DONE)
        err = ERR_NOT_FOUND;
    else
        err = store__sqlite_fail(c, rc, "get session");
    store__sqlite_finish(c, stmt);
    return err;
}

err_t store__sqlite_session_touch(store_conn_t *conn, const unsigned char hash[32],
                                  int64_t last_used_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "UPDATE \"_froth_sessions\" SET \"last_used\" = ? WHERE \"token_hash\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 2, &stmt, "touch session");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, last_used_ms);
    return run_change(c, stmt, "touch session");
}

err_t store__sqlite_session_revoke(store_conn_t *conn, const unsigned char hash[32])
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "UPDATE \"_froth_sessions\" SET \"revoked\" = 1 WHERE \"token_hash\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 1, &stmt, "revoke session");
    if (err != ERR_OK)
        return err;
    return run_change(c, stmt, "revoke session");
}

/* ---- Admin tokens ----------------------------------------------------------------------- */

err_t store__sqlite_admin_token_insert(store_conn_t *conn, const char *label,
                                       const unsigned char hash[32], int64_t created_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "INSERT INTO \"_froth_admin_tokens\" (\"label\", \"token_hash\", \"created\", "
        "\"last_used\") VALUES (?, ?, ?, 0)";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 2, &stmt, "insert admin token");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, created_ms);
    return store__sqlite_run(c, stmt, "insert admin token");
}

static err_t read_admin_token(sqlite3_stmt *stmt, store_admin_token_t *out, const char *op)
{
    out->created_ms = sqlite3_column_int64(stmt, 1);
    out->last_used_ms = sqlite3_column_int64(stmt, 2);
    return copy_column(stmt, 0, out->label, sizeof(out->label), op);
}

err_t store__sqlite_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                                     store_admin_token_t *out)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    memset(out, 0, sizeof(*out));
    static const char sql[] = "SELECT \"label\", \"created\", \"last_used\" "
                              "FROM \"_froth_admin_tokens\" WHERE \"token_hash\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 1, &stmt, "find admin token");
    if (err != ERR_OK)
        return err;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        err = read_admin_token(stmt, out, "find admin token");
    else if (rc == SQLITE_DONE)
        err = ERR_NOT_FOUND;
    else
        err = store__sqlite_fail(c, rc, "find admin token");
    store__sqlite_finish(c, stmt);
    return err;
}

err_t store__sqlite_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                                      int64_t last_used_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "UPDATE \"_froth_admin_tokens\" SET \"last_used\" = ? WHERE \"token_hash\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 2, &stmt, "touch admin token");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, last_used_ms);
    return run_change(c, stmt, "touch admin token");
}

err_t store__sqlite_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32],
                                          int64_t used_ms, bool *first)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "UPDATE \"_froth_admin_tokens\" SET \"last_used\" = ? "
                              "WHERE \"token_hash\" = ? AND \"last_used\" = 0";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, hash, 2, &stmt, "record first admin token use");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, used_ms);
    err = store__sqlite_run(c, stmt, "record first admin token use");
    *first = err == ERR_OK && sqlite3_changes(c->db) > 0;
    return err;
}

static err_t collect_tokens(store__sqlite_conn_t *c, sqlite3_stmt *stmt, arena_t *arena,
                            store_admin_token_t **out, size_t *count)
{
    size_t cap = 0;
    for (;;) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            return ERR_OK;
        if (rc != SQLITE_ROW)
            return store__sqlite_fail(c, rc, "list admin tokens");
        if (*count == cap) {
            size_t grown = cap == 0 ? 8 : cap * 2;
            store_admin_token_t *bigger = arena_calloc(arena, grown, sizeof(*bigger));
            if (bigger == NULL)
                return ERR_NOMEM;
            if (*count > 0)
                memcpy(bigger, *out, *count * sizeof(*bigger));
            *out = bigger;
            cap = grown;
        }
        err_t err = read_admin_token(stmt, &(*out)[*count], "list admin tokens");
        if (err != ERR_OK)
            return err;
        (*count)++;
    }
}

err_t store__sqlite_admin_token_list(store_conn_t *conn, arena_t *arena,
                                     store_admin_token_t **out, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "SELECT \"label\", \"created\", \"last_used\" "
                              "FROM \"_froth_admin_tokens\" ORDER BY \"created\", \"label\"";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, NULL, 0, &stmt, "list admin tokens");
    if (err != ERR_OK)
        return err;
    err = collect_tokens(c, stmt, arena, out, count);
    store__sqlite_finish(c, stmt);
    if (err != ERR_OK) {
        *out = NULL;
        *count = 0;
    }
    return err;
}

err_t store__sqlite_admin_token_revoke(store_conn_t *conn, const char *label)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "DELETE FROM \"_froth_admin_tokens\" WHERE \"label\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = prepare_fixed(c, sql, NULL, 0, &stmt, "revoke admin token");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, label, -1, SQLITE_STATIC);
    return run_change(c, stmt, "revoke admin token");
}
