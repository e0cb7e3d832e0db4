/* Private to the PostgreSQL backend (postgres*.c): its store and connection structs and the
 * helpers its files share. Nothing outside src/store/postgres*.c includes this header.
 */
#ifndef FROTH_STORE_POSTGRES_INTERNAL_H
#define FROTH_STORE_POSTGRES_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

#include "store/store_internal.h"

#define STORE__PG_CACHE_SIZE 64

/* A statement prepared on one connection, named "froth_<serial>". */
typedef struct {
    char *sql; /* malloc'd copy of the key; NULL marks a free slot */
    size_t len;
    uint64_t hash;
    char name[32];
} store__pg_cached_t;

typedef struct store__pg_events store__pg_events_t;

typedef struct {
    store_t base;
    char *conninfo; /* malloc'd URI or key=value string; NULL = the PG* environment variables */
    char *display;  /* malloc'd conninfo with any password masked, for messages */
    store__pg_events_t *events; /* the listener, once store_events_start ran */
    pthread_mutex_t aux_lock;   /* guards aux */
    store_conn_t *aux;          /* a connection of its own for counters, opened on first use */
} store__pg_t;

typedef struct {
    store_conn_t base;
    PGconn *pg;
    bool broken;      /* the server connection was lost; store_acquire reconnects */
    bool write_tx;    /* inside store_begin(write = true): store_get locks the row it reads */
    uint64_t serial;  /* numbers prepared statement names */
    store__pg_cached_t cache[STORE__PG_CACHE_SIZE];
} store__pg_conn_t;

static inline store__pg_conn_t *store__pg_conn(store_conn_t *conn)
{
    return (store__pg_conn_t *)conn;
}

extern const store__dialect_t store__pg_dialect;

/* Maps a failed statement to an err_t and logs it once. res may be NULL (the call itself failed).
 * unique_violation gives ERR_CONFLICT, serialization failures, deadlocks and lock timeouts
 * ERR_BUSY, data exceptions and program limits (a value or statement PostgreSQL rejects)
 * ERR_INVALID. A lost connection is marked broken and gives ERR_STORE, as does anything else. The
 * log line names op, the SQLSTATE and the server's primary message, never a bound value. */
err_t store__pg_fail(store__pg_conn_t *c, const PGresult *res, const char *op);

/* Runs sql with params bound in order (text format; VAL_NULL binds NULL) and returns the result
 * in *out on success, for the caller to PQclear. Statements up to a size limit are prepared once
 * per connection and reused. Text containing a NUL byte, which PostgreSQL cannot store, is
 * ERR_INVALID. */
err_t store__pg_query(store__pg_conn_t *c, const char *sql, size_t len, const value_t *params,
                      size_t nparams, const char *op, PGresult **out);

/* store__pg_query without the cache, for statements that run once, such as migration steps.
 * sql must be NUL-terminated. */
err_t store__pg_query_once(store__pg_conn_t *c, const char *sql, const value_t *params,
                           size_t nparams, const char *op, PGresult **out);

/* store__pg_query for a statement built in q; q's own error comes first. */
err_t store__pg_query_sql(store__pg_conn_t *c, const store__sql_t *q, const char *op,
                          PGresult **out);

/* Runs fixed SQL text without parameters (BEGIN, DDL) through the simple query protocol, so it
 * may hold several statements. */
err_t store__pg_exec(store__pg_conn_t *c, const char *sql, const char *op);

/* Returns the number of rows an INSERT, UPDATE or DELETE changed. */
size_t store__pg_changes(const PGresult *res);

/* Backend operations, gathered into the backend structs by postgres.c. */
err_t store__pg_migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen);
err_t store__pg_migrate_internal(store_conn_t *conn, char *errbuf, size_t errlen);

err_t store__pg_get(store_conn_t *conn, const app_type_t *type, const char *id,
                    const store_query_t *query, arena_t *arena, store_row_t *out);
err_t store__pg_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                       arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total);
err_t store__pg_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                       const char *password_hash);
err_t store__pg_update(store_conn_t *conn, const app_type_t *type, const char *id,
                       const bool *mask, const value_t *values);
err_t store__pg_delete(store_conn_t *conn, const app_type_t *type, const char *id);
err_t store__pg_user_by_email(store_conn_t *conn, const app_type_t *user_type,
                              const char *email_norm, arena_t *arena, char **id,
                              char **password_hash);
err_t store__pg_user_set_password(store_conn_t *conn, const app_type_t *user_type,
                                  const char *id, const char *password_hash);

err_t store__pg_session_insert(store_conn_t *conn, const unsigned char hash[32],
                               const store_session_t *session);
err_t store__pg_session_get(store_conn_t *conn, const unsigned char hash[32],
                            store_session_t *out);
err_t store__pg_session_touch(store_conn_t *conn, const unsigned char hash[32],
                              int64_t last_used_ms);
err_t store__pg_session_revoke(store_conn_t *conn, const unsigned char hash[32]);
err_t store__pg_admin_token_insert(store_conn_t *conn, const char *label,
                                   const unsigned char hash[32], int64_t created_ms);
err_t store__pg_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                                 store_admin_token_t *out);
err_t store__pg_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                                  int64_t last_used_ms);
err_t store__pg_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32],
                                      int64_t used_ms, bool *first);
err_t store__pg_admin_token_list(store_conn_t *conn, arena_t *arena, store_admin_token_t **out,
                                 size_t *count);
err_t store__pg_admin_token_revoke(store_conn_t *conn, const char *label);

/* Events and counters (postgres_events.c). */
err_t store__pg_events_start(store_t *store, store_event_fn fn, void *ud);
void store__pg_events_stop(store_t *store);
bool store__pg_events_current(store_t *store);
err_t store__pg_counter_hit(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                            int64_t delta, int64_t *count, int64_t *window_end_ms);
err_t store__pg_counter_clear(store_t *store, const char *key);
/* Copies a text column of a row into a fixed buffer; a value too long for it is ERR_STORE. */
err_t store__pg_copy_text(const PGresult *res, int row, int col, char *out, size_t size);

/* Sessions of one user (postgres_sessions.c). */
err_t store__pg_session_revoke_user(store_conn_t *conn, const char *user_id,
                                    const unsigned char *keep, size_t *count);
err_t store__pg_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms,
                             arena_t *arena, store_session_t **out, size_t *count);
err_t store__pg_session_revoke_id(store_conn_t *conn, const char *user_id, const char *id);

/* Password resets and the outbox (postgres_resets.c). */
err_t store__pg_reset_insert(store_conn_t *conn, const unsigned char hash[32],
                             const char *user_id, int64_t expires_ms);
err_t store__pg_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                           char user_id[40]);
err_t store__pg_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                              const char *body, int64_t now_ms);

/* Claiming emails for delivery and recording the outcome (postgres_outbox.c). */
err_t store__pg_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms,
                             const char *domain, size_t max, arena_t *arena, store_mail_t **mails,
                             size_t *count);
err_t store__pg_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                              int64_t now_ms, int64_t next_attempt_ms, const char *error);

/* Scheduled runs (postgres_jobs.c). */
err_t store__pg_job_insert(store_conn_t *conn, const store_job_t *job);
err_t store__pg_job_cancel(store_conn_t *conn, const char *id);
err_t store__pg_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                          arena_t *arena, store_job_t **jobs, size_t *count);
err_t store__pg_job_finish(store_conn_t *conn, const char *id, const char *status,
                           int64_t now_ms);

/* Closes the counters' connection; called when the store closes. */
void store__pg_aux_close(store_t *store);

/* The channel every node listens on. Payloads are the event texts of store_event_fn. */
#define STORE__PG_CHANNEL "froth_events"

/* Export pages (postgres_export.c); see export_things and the others in store__backend_t. */
err_t store__pg_export_things(store_conn_t *conn, const app_type_t *type, int64_t after_created,
                              const char *after_id, size_t limit, arena_t *arena,
                              store_row_t *rows, char **password_hashes, size_t *count);
err_t store__pg_export_sessions(store_conn_t *conn, const unsigned char *after_hash, size_t limit,
                                unsigned char (*hashes)[32], store_session_t *sessions,
                                size_t *count);
err_t store__pg_export_admin_tokens(store_conn_t *conn, const char *after_label, size_t limit,
                                    unsigned char (*hashes)[32], store_admin_token_t *tokens,
                                    size_t *count);

/* The audit log (postgres_audit.c). */
err_t store__pg_audit_insert(store_conn_t *conn, store_audit_t *row);
err_t store__pg_audit_list(store_conn_t *conn, const store_audit_query_t *query,
                           store_audit_t *rows, size_t *count);
err_t store__pg_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count);

/* Two-factor state (postgres_2fa.c). */
err_t store__pg_two_factor_get(store_conn_t *conn, const app_type_t *user_type,
                               const char *user_id, arena_t *arena, store_two_factor_t *out);
err_t store__pg_two_factor_set(store_conn_t *conn, const app_type_t *user_type,
                               const char *user_id, const store_two_factor_t *tf);
err_t store__pg_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                       const char *user_id, int64_t step, bool *accepted);
err_t store__pg_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                         const char *user_id, const char *expected,
                                         const char *codes, bool *replaced);
err_t store__pg_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                          const char *user_id, const char *expected,
                                          const char *secret, bool *replaced);
err_t store__pg_export_two_factor(store_conn_t *conn, const app_type_t *user_type,
                                  const char *after_id, size_t limit, arena_t *arena, char **ids,
                                  store_two_factor_t *states, size_t *count);
err_t store__pg_export_jobs(store_conn_t *conn, const char *after_id, size_t limit, arena_t *arena,
                            store_job_t *jobs, size_t *count);

#endif
