/* PostgreSQL: scheduled workflow runs in "_froth_jobs".
 *
 * Several nodes poll for due runs at once. The claim picks rows with FOR UPDATE SKIP LOCKED, so a
 * row one node is claiming is invisible to the others' claims, and leases it in the same
 * statement: a run is handed to exactly one node. A node that stops mid-run leaves a lease that
 * ends, after which another node claims the run again.
 */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static value_t text(const char *s)
{
    return value_text(s, strlen(s));
}

static value_t number(int64_t v)
{
    return value_date(v); /* bound as its decimal text, like any integer */
}

err_t store__pg_job_insert(store_conn_t *conn, const store_job_t *job)
{
    static const char sql[] =
        "INSERT INTO \"_froth_jobs\" (\"id\", \"workflow\", \"run_at\", \"params\", "
        "\"caller_kind\", \"caller_id\", \"status\", \"lease_until\", \"attempts\", \"created\") "
        "VALUES ($1, $2, $3::bigint, $4, $5::integer, $6, 'pending', 0, 0, $3::bigint)";
    const value_t params[] = {text(job->id), text(job->workflow), number(job->run_at_ms),
                              text(job->params), number(job->caller_kind), text(job->caller_id)};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 6,
                                "insert job", &res);
    PQclear(res);
    return err;
}

err_t store__pg_job_cancel(store_conn_t *conn, const char *id)
{
    static const char sql[] = "UPDATE \"_froth_jobs\" SET \"status\" = 'cancelled' "
                              "WHERE \"id\" = $1 AND \"status\" = 'pending'";
    const value_t params[] = {text(id)};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 1,
                                "cancel job", &res);
    if (err == ERR_OK && store__pg_changes(res) == 0)
        err = ERR_NOT_FOUND;
    PQclear(res);
    return err;
}

/* Reads row i of id, workflow, run_at, params, caller_kind, caller_id and attempts. */
static err_t read_job(const PGresult *res, int i, arena_t *arena, store_job_t *j)
{
    err_t err = store__pg_copy_text(res, i, 0, j->id, sizeof(j->id));
    if (err == ERR_OK)
        err = store__pg_copy_text(res, i, 1, j->workflow, sizeof(j->workflow));
    if (err == ERR_OK)
        err = store__pg_copy_text(res, i, 5, j->caller_id, sizeof(j->caller_id));
    j->run_at_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
    j->params = arena_strdup(arena, PQgetvalue(res, i, 3));
    j->caller_kind = atoi(PQgetvalue(res, i, 4));
    j->attempts = atoi(PQgetvalue(res, i, 6));
    if (err == ERR_OK && j->params == NULL)
        err = ERR_NOMEM;
    return err;
}

err_t store__pg_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                          arena_t *arena, store_job_t **jobs, size_t *count)
{
    static const char sql[] =
        "UPDATE \"_froth_jobs\" SET \"status\" = 'running', "
        "\"lease_until\" = $1::bigint + $2::bigint, \"attempts\" = \"attempts\" + 1 "
        "WHERE \"id\" IN (SELECT \"id\" FROM \"_froth_jobs\" WHERE \"run_at\" <= $1::bigint "
        "AND (\"status\" = 'pending' OR (\"status\" = 'running' AND \"lease_until\" <= $1::bigint)) "
        "ORDER BY \"run_at\", \"id\" LIMIT $3::bigint FOR UPDATE SKIP LOCKED) "
        "RETURNING \"id\", \"workflow\", \"run_at\", \"params\", \"caller_kind\", \"caller_id\", "
        "\"attempts\"";
    const value_t params[] = {number(now_ms), number(lease_ms), number((int64_t)max)};
    *count = 0;
    *jobs = arena_calloc(arena, max, sizeof(store_job_t));
    if (*jobs == NULL)
        return ERR_NOMEM;
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 3,
                                "claim jobs", &res);
    const int rows = err == ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; err == ERR_OK && i < rows && (size_t)i < max; i++) {
        err = read_job(res, i, arena, &(*jobs)[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}

err_t store__pg_job_finish(store_conn_t *conn, const char *id, const char *status, int64_t now_ms)
{
    static const char sql[] =
        "UPDATE \"_froth_jobs\" SET \"status\" = $1, \"finished\" = $2::bigint WHERE \"id\" = $3";
    const value_t params[] = {text(status), number(now_ms), text(id)};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 3,
                                "finish job", &res);
    PQclear(res);
    return err;
}

err_t store__pg_export_jobs(store_conn_t *conn, const char *after_id, size_t limit, arena_t *arena,
                            store_job_t *jobs, size_t *count)
{
    static const char sql[] =
        "SELECT \"id\", \"workflow\", \"run_at\", \"params\", \"caller_kind\", \"caller_id\", "
        "\"attempts\" FROM \"_froth_jobs\" WHERE \"status\" IN ('pending', 'running') "
        "AND ($1::text IS NULL OR \"id\" > $1::text) ORDER BY \"id\" LIMIT $2::bigint";
    const value_t params[] = {after_id == NULL ? value_null() : text(after_id),
                              number((int64_t)limit)};
    *count = 0;
    PGresult *res = NULL;
    err_t err =
        store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 2, "export jobs", &res);
    const int rows = err == ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; err == ERR_OK && i < rows && *count < limit; i++) {
        err = read_job(res, i, arena, &jobs[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}
