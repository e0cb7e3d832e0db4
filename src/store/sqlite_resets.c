/* SQLite: password reset tokens (stored as SHA-256 only) and the outbox of emails to send. */
#include "store/sqlite_internal.h"

#include <string.h>

err_t store__sqlite_reset_insert(store_conn_t *conn, const unsigned char hash[32],
                                 const char *user_id, int64_t expires_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "INSERT INTO \"_froth_password_resets\" (\"token_hash\", "
                              "\"user_id\", \"expires\", \"used\") VALUES (?, ?, ?, 0)";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "insert password reset");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, expires_ms);
    return store__sqlite_run(c, stmt, "insert password reset");
}

err_t store__sqlite_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                               char user_id[40])
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "UPDATE \"_froth_password_resets\" SET \"used\" = 1 "
                              "WHERE \"token_hash\" = ? AND \"used\" = 0 AND \"expires\" > ? "
                              "RETURNING \"user_id\"";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "use password reset");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_blob(stmt, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now_ms);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(stmt, 0);
        size_t n = (size_t)sqlite3_column_bytes(stmt, 0);
        if (p == NULL || n >= 40) {
            err = ERR_STORE;
        } else {
            memcpy(user_id, p, n);
            user_id[n] = '\0';
        }
        rc = sqlite3_step(stmt);
    } else if (rc == SQLITE_DONE) {
        err = ERR_NOT_FOUND;
    }
    if (err == ERR_OK && rc != SQLITE_DONE)
        err = store__sqlite_fail(c, rc, "use password reset");
    store__sqlite_finish(c, stmt);
    return err;
}

err_t store__sqlite_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                                  const char *body, int64_t now_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "INSERT INTO \"_froth_outbox\" (\"recipient\", \"subject\", "
                              "\"body\", \"created\") VALUES (?, ?, ?, ?)";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "queue email");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, now_ms);
    return store__sqlite_run(c, stmt, "queue email");
}
