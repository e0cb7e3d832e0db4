/* Private to the SQLite backend (sqlite*.c): its store and connection structs and the helpers
 * its files share. Nothing outside src/store/sqlite*.c includes this header.
 */
#ifndef FROTH_STORE_SQLITE_INTERNAL_H
#define FROTH_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store_internal.h"

#define STORE__SQLITE_CACHE_SIZE 32

typedef struct {
    char *sql; /* malloc'd copy of the key; NULL marks a free slot */
    size_t len;
    uint64_t hash;
    uint64_t last_used;
    sqlite3_stmt *stmt;
} store__sqlite_cached_t;

typedef struct {
    store_t base;
    char *path; /* malloc'd */
} store__sqlite_t;

typedef struct {
    store_conn_t base;
    sqlite3 *db;
    uint64_t clock; /* for least-recently-used eviction */
    store__sqlite_cached_t cache[STORE__SQLITE_CACHE_SIZE];
} store__sqlite_conn_t;

static inline store__sqlite_conn_t *store__sqlite_conn(store_conn_t *conn)
{
    return (store__sqlite_conn_t *)conn;
}

extern const store__dialect_t store__sqlite_dialect;

/* Maps a failed SQLite call to an err_t. Unique and primary-key violations give ERR_CONFLICT,
 * SQLITE_BUSY and SQLITE_LOCKED (after busy_timeout) ERR_BUSY, a statement too complex for the
 * parser ERR_INVALID. Anything else is ERR_STORE, logged once as an error naming op and SQLite's
 * message. */
err_t store__sqlite_fail(store__sqlite_conn_t *c, int rc, const char *op);

/* Returns a prepared statement for sql, from the connection's cache when it has one. The caller
 * must hand it back with store__sqlite_finish before preparing the same text again. */
err_t store__sqlite_prepare(store__sqlite_conn_t *c, const char *sql, size_t len,
                            sqlite3_stmt **out, const char *op);
void store__sqlite_finish(store__sqlite_conn_t *c, sqlite3_stmt *stmt);

/* Binds q's parameters in order and returns a ready statement, or logs and fails. */
err_t store__sqlite_prepare_sql(store__sqlite_conn_t *c, const store__sql_t *q,
                                sqlite3_stmt **out, const char *op);

int store__sqlite_bind_value(sqlite3_stmt *stmt, int index, const value_t *v);

/* Runs a statement that returns no rows and finishes it. */
err_t store__sqlite_run(store__sqlite_conn_t *c, sqlite3_stmt *stmt, const char *op);

/* Runs fixed SQL text without parameters, such as BEGIN or a CREATE TABLE. */
err_t store__sqlite_exec(store__sqlite_conn_t *c, const char *sql, const char *op);

/* Backend operations, gathered into store__sqlite_backend by sqlite.c. */
err_t store__sqlite_migrate(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen);
err_t store__sqlite_migrate_internal(store_conn_t *conn, char *errbuf, size_t errlen);

err_t store__sqlite_get(store_conn_t *conn, const app_type_t *type, const char *id,
                        const store_query_t *query, arena_t *arena, store_row_t *out);
err_t store__sqlite_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                           arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total);
err_t store__sqlite_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                           const char *password_hash);
err_t store__sqlite_update(store_conn_t *conn, const app_type_t *type, const char *id,
                           const bool *mask, const value_t *values);
err_t store__sqlite_delete(store_conn_t *conn, const app_type_t *type, const char *id);
err_t store__sqlite_user_by_email(store_conn_t *conn, const app_type_t *user_type,
                                  const char *email_norm, arena_t *arena, char **id,
                                  char **password_hash);
err_t store__sqlite_user_set_password(store_conn_t *conn, const app_type_t *user_type,
                                      const char *id, const char *password_hash);

err_t store__sqlite_session_insert(store_conn_t *conn, const unsigned char hash[32],
                                   const store_session_t *session);
err_t store__sqlite_session_get(store_conn_t *conn, const unsigned char hash[32],
                                store_session_t *out);
err_t store__sqlite_session_touch(store_conn_t *conn, const unsigned char hash[32],
                                  int64_t last_used_ms);
err_t store__sqlite_session_revoke(store_conn_t *conn, const unsigned char hash[32]);
err_t store__sqlite_admin_token_insert(store_conn_t *conn, const char *label,
                                       const unsigned char hash[32], int64_t created_ms);
err_t store__sqlite_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                                     store_admin_token_t *out);
err_t store__sqlite_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                                      int64_t last_used_ms);
err_t store__sqlite_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32],
                                          int64_t used_ms, bool *first);
err_t store__sqlite_admin_token_list(store_conn_t *conn, arena_t *arena,
                                     store_admin_token_t **out, size_t *count);
err_t store__sqlite_admin_token_revoke(store_conn_t *conn, const char *label);

/* Export pages (sqlite_export.c); see export_things and the others in store__backend_t. */
err_t store__sqlite_export_things(store_conn_t *conn, const app_type_t *type,
                                  int64_t after_created, const char *after_id, size_t limit,
                                  arena_t *arena, store_row_t *rows, char **password_hashes,
                                  size_t *count);
err_t store__sqlite_export_sessions(store_conn_t *conn, const unsigned char *after_hash,
                                    size_t limit, unsigned char (*hashes)[32],
                                    store_session_t *sessions, size_t *count);
err_t store__sqlite_export_admin_tokens(store_conn_t *conn, const char *after_label, size_t limit,
                                        unsigned char (*hashes)[32], store_admin_token_t *tokens,
                                        size_t *count);

/* Copies a text column into a fixed buffer. A value too long for it was not written by this
 * store, so it is ERR_STORE rather than cut. */
err_t store__sqlite_copy_text(sqlite3_stmt *stmt, int col, char *out, size_t size);

/* Sessions of one user (sqlite_sessions.c). */
err_t store__sqlite_session_revoke_user(store_conn_t *conn, const char *user_id,
                                        const unsigned char *keep, size_t *count);
err_t store__sqlite_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms,
                                 arena_t *arena, store_session_t **out, size_t *count);
err_t store__sqlite_session_revoke_id(store_conn_t *conn, const char *user_id, const char *id);

/* Password resets and the outbox (sqlite_resets.c). */
err_t store__sqlite_reset_insert(store_conn_t *conn, const unsigned char hash[32],
                                 const char *user_id, int64_t expires_ms);
err_t store__sqlite_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                               char user_id[40]);
err_t store__sqlite_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                                  const char *body, int64_t now_ms);

/* Claiming emails for delivery and recording the outcome (sqlite_outbox.c). */
err_t store__sqlite_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms,
                                 const char *domain, size_t max, arena_t *arena,
                                 store_mail_t **mails, size_t *count);
err_t store__sqlite_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                                  int64_t now_ms, int64_t next_attempt_ms, const char *error);

/* Scheduled runs (sqlite_jobs.c). */
err_t store__sqlite_job_insert(store_conn_t *conn, const store_job_t *job);
err_t store__sqlite_job_cancel(store_conn_t *conn, const char *id);
err_t store__sqlite_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                              arena_t *arena, store_job_t **jobs, size_t *count);
err_t store__sqlite_job_finish(store_conn_t *conn, const char *id, const char *status,
                               int64_t now_ms);

/* The audit log (sqlite_audit.c). */
err_t store__sqlite_audit_insert(store_conn_t *conn, store_audit_t *row);
err_t store__sqlite_audit_list(store_conn_t *conn, const store_audit_query_t *query,
                               store_audit_t *rows, size_t *count);
err_t store__sqlite_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count);

/* Two-factor state (sqlite_2fa.c). */
err_t store__sqlite_two_factor_get(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, arena_t *arena, store_two_factor_t *out);
err_t store__sqlite_two_factor_set(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, const store_two_factor_t *tf);
err_t store__sqlite_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                           const char *user_id, int64_t step, bool *accepted);
err_t store__sqlite_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                             const char *user_id, const char *expected,
                                             const char *codes, bool *replaced);
err_t store__sqlite_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                              const char *user_id, const char *expected,
                                              const char *secret, bool *replaced);
err_t store__sqlite_export_two_factor(store_conn_t *conn, const app_type_t *user_type,
                                      const char *after_id, size_t limit, arena_t *arena,
                                      char **ids, store_two_factor_t *states, size_t *count);
err_t store__sqlite_export_jobs(store_conn_t *conn, const char *after_id, size_t limit,
                                arena_t *arena, store_job_t *jobs, size_t *count);

#endif
