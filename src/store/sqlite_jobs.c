/* SQLite: scheduled workflow runs in "_froth_jobs".
 *
 * One process serves a SQLite file, so claiming needs no row locks: the claim runs in one write
 * transaction, which SQLite serialises with every other writer.
 */
#include "store/sqlite_internal.h"

#include <string.h>

#include "core/log.h"

err_t store__sqlite_job_insert(store_conn_t *conn, const store_job_t *job)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "INSERT INTO \"_froth_jobs\" (\"id\", \"workflow\", \"run_at\", \"params\", "
        "\"caller_kind\", \"caller_id\", \"status\", \"lease_until\", \"attempts\", \"created\") "
        "VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?)";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "insert job");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, job->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, job->workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, job->run_at_ms);
    sqlite3_bind_text(stmt, 4, job->params, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 5, job->caller_kind);
    sqlite3_bind_text(stmt, 6, job->caller_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 7, job->run_at_ms);
    return store__sqlite_run(c, stmt, "insert job");
}

err_t store__sqlite_job_cancel(store_conn_t *conn, const char *id)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] = "UPDATE \"_froth_jobs\" SET \"status\" = 'cancelled' "
                              "WHERE \"id\" = ? AND \"status\" = 'pending'";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "cancel job");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    err = store__sqlite_run(c, stmt, "cancel job");
    if (err == ERR_OK && sqlite3_changes(c->db) == 0)
        return ERR_NOT_FOUND;
    return err;
}

/* Reads a row of id, workflow, run_at, params, caller_kind, caller_id and attempts. */
static err_t read_job(sqlite3_stmt *stmt, arena_t *arena, store_job_t *j)
{
    err_t err = store__sqlite_copy_text(stmt, 0, j->id, sizeof(j->id));
    if (err == ERR_OK)
        err = store__sqlite_copy_text(stmt, 1, j->workflow, sizeof(j->workflow));
    if (err == ERR_OK)
        err = store__sqlite_copy_text(stmt, 5, j->caller_id, sizeof(j->caller_id));
    j->run_at_ms = sqlite3_column_int64(stmt, 2);
    const char *params = (const char *)sqlite3_column_text(stmt, 3);
    j->params = arena_strdup(arena, params == NULL ? "" : params);
    j->caller_kind = sqlite3_column_int(stmt, 4);
    j->attempts = sqlite3_column_int(stmt, 6);
    if (err == ERR_OK && j->params == NULL)
        err = ERR_NOMEM;
    return err;
}

/* Selects due runs and leases them, inside the caller's write transaction or its own. */
static err_t claim(store__sqlite_conn_t *c, int64_t now_ms, int64_t lease_ms, size_t max,
                   arena_t *arena, store_job_t **jobs, size_t *count)
{
    static const char select_sql[] =
        "SELECT \"id\", \"workflow\", \"run_at\", \"params\", \"caller_kind\", \"caller_id\", "
        "\"attempts\" FROM \"_froth_jobs\" WHERE \"run_at\" <= ? AND (\"status\" = 'pending' "
        "OR (\"status\" = 'running' AND \"lease_until\" <= ?)) ORDER BY \"run_at\", \"id\" "
        "LIMIT ?";
    static const char lease_sql[] =
        "UPDATE \"_froth_jobs\" SET \"status\" = 'running', \"lease_until\" = ?, "
        "\"attempts\" = \"attempts\" + 1 WHERE \"id\" = ?";
    *jobs = arena_calloc(arena, max, sizeof(store_job_t));
    *count = 0;
    if (*jobs == NULL)
        return ERR_NOMEM;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, select_sql, sizeof(select_sql) - 1, &stmt, "claim jobs");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_int64(stmt, 1, now_ms);
    sqlite3_bind_int64(stmt, 2, now_ms);
    sqlite3_bind_int64(stmt, 3, (int64_t)max);
    int rc;
    while (err == ERR_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_job_t *j = &(*jobs)[*count];
        err = read_job(stmt, arena, j);
        j->attempts++;
        if (err == ERR_OK)
            (*count)++;
    }
    if (err == ERR_OK && rc != SQLITE_DONE)
        err = store__sqlite_fail(c, rc, "claim jobs");
    store__sqlite_finish(c, stmt);
    for (size_t i = 0; err == ERR_OK && i < *count; i++) {
        err = store__sqlite_prepare(c, lease_sql, sizeof(lease_sql) - 1, &stmt, "lease job");
        if (err != ERR_OK)
            break;
        sqlite3_bind_int64(stmt, 1, now_ms + lease_ms);
        sqlite3_bind_text(stmt, 2, (*jobs)[i].id, -1, SQLITE_STATIC);
        err = store__sqlite_run(c, stmt, "lease job");
    }
    return err;
}

err_t store__sqlite_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                              arena_t *arena, store_job_t **jobs, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    if (conn->in_transaction)
        return claim(c, now_ms, lease_ms, max, arena, jobs, count);
    err_t err = store_begin(conn, true);
    if (err != ERR_OK)
        return err;
    err = claim(c, now_ms, lease_ms, max, arena, jobs, count);
    if (err != ERR_OK) {
        store_rollback(conn);
        return err;
    }
    return store_commit(conn);
}

err_t store__sqlite_job_finish(store_conn_t *conn, const char *id, const char *status,
                               int64_t now_ms)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "UPDATE \"_froth_jobs\" SET \"status\" = ?, \"finished\" = ? WHERE \"id\" = ?";
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "finish job");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, now_ms);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_STATIC);
    return store__sqlite_run(c, stmt, "finish job");
}

err_t store__sqlite_export_jobs(store_conn_t *conn, const char *after_id, size_t limit,
                                arena_t *arena, store_job_t *jobs, size_t *count)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    static const char sql[] =
        "SELECT \"id\", \"workflow\", \"run_at\", \"params\", \"caller_kind\", \"caller_id\", "
        "\"attempts\" FROM \"_froth_jobs\" WHERE \"status\" IN ('pending', 'running') "
        "AND \"id\" > ? ORDER BY \"id\" LIMIT ?";
    *count = 0;
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, sizeof(sql) - 1, &stmt, "export jobs");
    if (err != ERR_OK)
        return err;
    sqlite3_bind_text(stmt, 1, after_id == NULL ? "" : after_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, (int64_t)limit);
    int rc = SQLITE_DONE;
    while (err == ERR_OK && *count < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        err = read_job(stmt, arena, &jobs[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    if (err == ERR_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = store__sqlite_fail(c, rc, "export jobs");
    store__sqlite_finish(c, stmt);
    return err;
}
