/* PostgreSQL: claiming queued emails in "_froth_outbox" for delivery and recording the outcome.
 *
 * Several nodes send at once. The claim picks rows with FOR UPDATE SKIP LOCKED and leases them in
 * the same statement, so each email is handed to one node. A node that stops mid-attempt leaves a
 * lease that ends, after which another node claims the email again.
 */
#include "store/postgres_internal.h"

#include <stdlib.h>
#include <string.h>

static value_t text(const char *s)
{
    return value_text(s, strlen(s));
}

static value_t number(int64_t v)
{
    return value_date(v); /* bound as its decimal text, like any integer */
}

static err_t read_mail(PGresult *res, int row, arena_t *arena, store_mail_t *m)
{
    m->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    m->recipient = arena_strdup(arena, PQgetvalue(res, row, 1));
    m->subject = arena_strdup(arena, PQgetvalue(res, row, 2));
    m->body = arena_strdup(arena, PQgetvalue(res, row, 3));
    m->message_id = arena_strdup(arena, PQgetvalue(res, row, 4));
    m->created_ms = strtoll(PQgetvalue(res, row, 5), NULL, 10);
    m->attempt = atoi(PQgetvalue(res, row, 6));
    if (m->recipient == NULL || m->subject == NULL || m->body == NULL || m->message_id == NULL)
        return ERR_NOMEM;
    return ERR_OK;
}

err_t store__pg_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms,
                             const char *domain, size_t max, arena_t *arena, store_mail_t **mails,
                             size_t *count)
{
    static const char sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'sending', "
        "\"lease_until\" = $1::bigint + $2::bigint, \"attempts\" = \"attempts\" + 1, "
        "\"message_id\" = COALESCE(\"message_id\", '<' || "
        "replace(gen_random_uuid()::text, '-', '') || '@' || $4 || '>') "
        "WHERE \"id\" IN (SELECT \"id\" FROM \"_froth_outbox\" WHERE "
        "(\"status\" = 'pending' AND \"next_attempt\" <= $1::bigint) OR "
        "(\"status\" = 'sending' AND \"lease_until\" <= $1::bigint) "
        "ORDER BY \"next_attempt\", \"id\" LIMIT $3::bigint FOR UPDATE SKIP LOCKED) "
        "RETURNING \"id\", \"recipient\", \"subject\", \"body\", \"message_id\", \"created\", "
        "\"attempts\"";
    const value_t params[] = {number(now_ms), number(lease_ms), number((int64_t)max), text(domain)};
    *count = 0;
    *mails = arena_calloc(arena, max, sizeof(store_mail_t));
    if (*mails == NULL)
        return ERR_NOMEM;
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, sizeof(sql) - 1, params, 4,
                                "claim emails", &res);
    const int rows = err == ERR_OK ? PQntuples(res) : 0;
    for (int i = 0; err == ERR_OK && i < rows && (size_t)i < max; i++) {
        err = read_mail(res, i, arena, &(*mails)[*count]);
        if (err == ERR_OK)
            (*count)++;
    }
    PQclear(res);
    return err;
}

err_t store__pg_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                              int64_t now_ms, int64_t next_attempt_ms, const char *error)
{
    /* The body contains the reset link, so it is cleared as soon as it can no longer be sent. */
    static const char sent_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'sent', \"sent\" = $2::bigint, \"body\" = '', "
        "\"lease_until\" = 0, \"last_error\" = NULL WHERE \"id\" = $1::bigint";
    static const char retry_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'pending', \"next_attempt\" = $2::bigint, "
        "\"lease_until\" = 0, \"last_error\" = $3 WHERE \"id\" = $1::bigint";
    static const char failed_sql[] =
        "UPDATE \"_froth_outbox\" SET \"status\" = 'failed', \"failed\" = $2::bigint, "
        "\"body\" = '', \"lease_until\" = 0, \"last_error\" = $3 WHERE \"id\" = $1::bigint";
    const char *sql = outcome == STORE_MAIL_SENT    ? sent_sql
                      : outcome == STORE_MAIL_RETRY ? retry_sql
                                                    : failed_sql;
    const value_t params[] = {number(id),
                              number(outcome == STORE_MAIL_RETRY ? next_attempt_ms : now_ms),
                              error != NULL ? text(error) : value_null()};
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), sql, strlen(sql), params,
                                outcome == STORE_MAIL_SENT ? 2 : 3, "record email outcome", &res);
    PQclear(res);
    return err;
}
