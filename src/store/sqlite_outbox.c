/* SQLite: claiming queued emails in "_froth_outbox" for delivery and recording the outcome.
 *
 * One process serves a SQLite file, so claiming needs no row locks: the claim runs in one write
 * transaction, which SQLite serialises with every other writer.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

static char *column_text(arena_t *arena, sqlite3_stmt *stmt, int col)
{
    const char *p = (const char *)sqlite3_column_text(stmt, col);
    return arena_strndup(arena, p != NULL ? p : "", (size_t)sqlite3_column_bytes(stmt, col));
}

static err_t select_due(store__sqlite_conn_t *c, int64_t now_ms, size_t max, arena_t *arena,
                        store_mail_t *mails, size_t *count)
{
    static const char sql[] =
        "SELECT \"id\", \"recipient\", \"subject\", \"body\", \"message_id\", \"created\", "
        "\"attempts\" FROM \"_froth_outbox\" WHERE (\"status\" = 'pending' AND "
        "\"next_attempt\" <= ?) OR (\"status\" = 'sending' AND \"lease_until\" <= ?) "
        "ORDER BY \"next_attempt\", \"id\" LIMIT ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "claim emails");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, now_ms);
    sqlite3_bind_int64(stmt, 2, now_ms);
    sqlite3_bind_int64(stmt, 3, (int64_t)max);
    int rc;
    while (err == ERR_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_mail_t *m = &mails[*count];
        m->id = sqlite3_column_int64(stmt, 0);
        m->recipient = column_text(arena, stmt, 1);
        m->subject = column_text(arena, stmt, 2);
        m->body = column_text(arena, stmt, 3);
        m->message_id =
            sqlite3_column_type(stmt, 4) == SQLITE_NULL ? NULL : column_text(arena, stmt, 4);
        m->created_ms = sqlite3_column_int64(stmt, 5);
        m->attempt = sqlite3_column_int(stmt, 6) + 1;
        if (m->recipient == NULL || m->subject == NULL || m->body == NULL)
            err = ERR_NOMEM;
        else
            (*count)++;
    }
    if (err == ERR_OK && rc != SQLITE_DONE)
        err = store__sqlite_fail(c, rc, "claim emails");
    store__sqlite_finish(c, stmt);
    return err;
}

/* Leases one selected email, giving it a Message-ID on its first claim. */
static err_t lease(store__sqlite_conn_t *c, store_mail_t *m, int64_t lease_until,
                   const char *domain, arena_t *arena)
{
    static const char sql[] = "UPDATE \"_froth_outbox\" SET \"status\" = 'sending', "
                              "\"lease_until\" = ?, \"attempts\" = \"attempts\" + 1, "
                              "\"message_id\" = ? WHERE \"id\" = ?";
    if (m->message_id == NULL) {
        unsigned char random[16];
        sqlite3_randomness(sizeof(random), random);
        char hex[33];
        for (size_t i = 0; i < sizeof(random); i++)
            snprintf(hex + 2 * i, 3, "%02x", random[i]);
        m->message_id = arena_printf(arena, "<%s@%s>", hex, domain);
        if (m->message_id == NULL)
            return ERR_NOMEM;
    }
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "lease email");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, lease_until);
    sqlite3_bind_text(stmt, 2, m->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, m->id);
    return store__sqlite_run(c, stmt, "lease email");
}

static err_t claim(store__sqlite_conn_t *c, int64_t now_ms, int64_t lease_ms, const char *domain,
                   size_t max, arena_t *arena, store_mail_t **mails, size_t *count)
{
    *count = 0;
    *mails = arena_calloc(arena, max, sizeof(store_mail_t));
    if (*mails == NULL)
        return ERR_NOMEM;
    err_t err = select_due(c, now_ms, max, arena, *mails, count);
    for (size_t i = 0; err == ERR_OK && i < *count; i++)
        err = lease(c, &(*mails)[i], now_ms + lease_ms, domain, arena);
    return err;
}

err_t store__sqlite_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms,
                                 const char *domain, size_t max, arena_t *arena,
                                 store_mail_t **mails, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    if (conn->in_transaction)
        return claim(c, now_ms, lease_ms, domain, max, arena, mails, count);
    err_t err = store_begin(conn, true);
    if (err != ERR_OK)
        return err;
    err = claim(c, now_ms, lease_ms, domain, max, arena, mails, count);
    if (err != ERR_OK) {
        store_rollback(conn);
        *count = 0;
        return err;
    }
    return store_commit(conn);
}

err_t store__sqlite_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                                  int64_t now_ms, int64_t next_attempt_ms, const char *error)
{
    /* The body contains the reset link, so it is cleared as soon as it can no longer be sent. */
    static const char sent_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'sent', \"sent\" = ?2, \"body\" = '', "
        "\"lease_until\" = 0, \"last_error\" = NULL WHERE \"id\" = ?1";
    static const char retry_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'pending', \"next_attempt\" = ?2, "
        "\"lease_until\" = 0, \"last_error\" = ?3 WHERE \"id\" = ?1";
    static const char failed_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'failed', \"failed\" = ?2, \"body\" = '', "
        "\"lease_until\" = 0, \"last_error\" = ?3 WHERE \"id\" = ?1";
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    const char *sql = outcome == STORE_MAIL_SENT    ? sent_sql
                      : outcome == STORE_MAIL_RETRY ? retry_sql
                                                    : failed_sql;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, strlen(sql), &stmt, "record email outcome");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_int64(stmt, 2, outcome == STORE_MAIL_RETRY ? next_attempt_ms : now_ms);
    if (outcome != STORE_MAIL_SENT)
        sqlite3_bind_text(stmt, 3, error, -1, SQLITE_STATIC);
    return store__sqlite_run(c, stmt, "record email outcome");
}
