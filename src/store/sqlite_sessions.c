/* SQLite: the sessions of one user, for "log out other sessions", password changes and the
 * sessions API. SQLite serves one process, so revocations publish no events. */
#include "store/sqlite_internal.h"

#include <string.h>

#define LIST_MAX 100

err_t store__sqlite_session_revoke_user(store_conn_t *conn, const char *user_id,
                                        const unsigned char *keep, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql_all[] = "UPDATE \"_froth_sessions\" SET \"revoked\" = 1 "
                                  "WHERE \"user_id\" = ? AND \"revoked\" = 0";
    static const char sql_keep[] = "UPDATE \"_froth_sessions\" SET \"revoked\" = 1 "
                                   "WHERE \"user_id\" = ? AND \"revoked\" = 0 "
                                   "AND \"token_hash\" <> ?";
    const char *sql = keep == NULL ? sql_all : sql_keep;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, strlen(sql), &stmt, "revoke user sessions");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, user_id, -1, SQLITE_STATIC);
    if (keep != NULL)
        sqlite3_bind_blob(stmt, 2, keep, 32, SQLITE_STATIC);
    err = store__sqlite_run(c, stmt, "revoke user sessions");
    *count = err == ERR_OK ? (size_t)sqlite3_changes(c->db) : 0;
    return err;
}

err_t store__sqlite_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms,
                                 arena_t *arena, store_session_t **out, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "SELECT \"id\", \"user_id\", \"created\", \"last_used\", \"expires\", \"idle_ms\", "
        "\"two_factor\", \"client_address\", \"user_agent\" FROM \"_froth_sessions\" "
        "WHERE \"user_id\" = ? AND \"revoked\" = 0 "
        "AND \"expires\" > ? AND \"last_used\" + \"idle_ms\" > ? "
        "ORDER BY \"last_used\" DESC, \"id\" LIMIT 100";
    *count = 0;
    *out = arena_calloc(arena, LIST_MAX, sizeof(store_session_t));
    if (*out == NULL)
        return ERR_NOMEM;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "list sessions");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now_ms);
    sqlite3_bind_int64(stmt, 3, now_ms);
    int rc;
    while (err == ERR_OK && *count < LIST_MAX && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_session_t *s = &(*out)[*count];
        err = store__sqlite_copy_text(stmt, 0, s->id, sizeof(s->id));
        if (err == ERR_OK)
            err = store__sqlite_copy_text(stmt, 1, s->user_id, sizeof(s->user_id));
        s->created_ms = sqlite3_column_int64(stmt, 2);
        s->last_used_ms = sqlite3_column_int64(stmt, 3);
        s->expires_ms = sqlite3_column_int64(stmt, 4);
        s->idle_ms = sqlite3_column_int64(stmt, 5);
        s->two_factor = sqlite3_column_int(stmt, 6) != 0;
        if (err == ERR_OK)
            err = store__sqlite_copy_text(stmt, 7, s->client_address, sizeof(s->client_address));
        if (err == ERR_OK)
            err = store__sqlite_copy_text(stmt, 8, s->user_agent, sizeof(s->user_agent));
        if (err == ERR_OK)
            (*count)++;
    }
    if (err == ERR_OK && *count < LIST_MAX && rc != SQLITE_DONE)
        err = store__sqlite_fail(c, rc, "list sessions");
    store__sqlite_finish(c, stmt);
    return err;
}

err_t store__sqlite_session_revoke_id(store_conn_t *conn, const char *user_id, const char *id)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "UPDATE \"_froth_sessions\" SET \"revoked\" = 1 "
                              "WHERE \"id\" = ? AND \"user_id\" = ? AND \"revoked\" = 0";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "revoke session by id");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
    err = store__sqlite_run(c, stmt, "revoke session by id");
    if (err == ERR_OK && sqlite3_changes(c->db) == 0)
        return ERR_NOT_FOUND;
    return err;
}

err_t store__sqlite_copy_text(sqlite3_stmt *stmt, int col, char *out, size_t size)
{
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    size_t n = (size_t)sqlite3_column_bytes(stmt, col);
    if (n >= size)
        return ERR_STORE;
    memcpy(out, p == NULL ? "" : p, n);
    out[n] = '\0';
    return ERR_OK;
}
