/* Private to the store module: the backend vtable, the shared connection pool, value rules and
 * the dialect-neutral SQL builder.
 *
 * store.c owns the pool and dispatches every public call to the backend named by the URL scheme.
 * A backend (sqlite.c, postgres.c) embeds store_t and store_conn_t as the first member of its own
 * structs and fills in one store__backend_t. Nothing here is specific to one database.
 */
#ifndef FROTH_STORE_INTERNAL_H
#define FROTH_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sbuf.h"
#include "store/store.h"

/* Limits on what a condition tree may ask of the database. No real request needs deeper trees or
 * more parameters, so both are rejected with ERR_INVALID. */
#define STORE__MAX_COND_DEPTH 64
#define STORE__MAX_PARAMS 10000
#define STORE__MAX_SQL (1u << 20) /* bytes of SQL text in one statement */

#define STORE__DEFAULT_POOL 8
/* Maximum identifier length in bytes. App tables and columns are far shorter, and index names add
 * a suffix to the table name. */
#define STORE__MAX_IDENT 128

/* ---- Backend vtable -------------------------------------------------------------------- */

/* One function per public operation. The arguments have been checked for NULL by store.c, and
 * write values have passed store__check_write. */
typedef struct store__dialect store__dialect_t;

typedef struct store__backend {
    const char *scheme; /* the URL prefix before ':' */
    const store__dialect_t *dialect; /* the SQL its statements are written in */

    /* Allocates the backend's store (store_t first) for target, the URL after "scheme:". It may
     * lower *pool_size, for example to 1 for a private in-memory database. */
    err_t (*open)(const char *target, unsigned *pool_size, store_t **out, char *errbuf,
                  size_t errlen);
    void (*close)(store_t *store); /* every connection has been closed already */
    err_t (*conn_open)(store_t *store, store_conn_t **out, char *errbuf, size_t errlen);
    void (*conn_close)(store_conn_t *conn);
    /* Called on an idle connection before store_acquire hands it out; NULL when connections
     * never break. Returns ERR_OK when the connection works, reconnecting it first if it was
     * lost. On failure the pool closes it, and the next store_acquire opens a new one. */
    err_t (*conn_revive)(store_conn_t *conn);

    err_t (*migrate)(store_conn_t *conn, const app_t *app, char *errbuf, size_t errlen);
    err_t (*migrate_internal)(store_conn_t *conn, char *errbuf, size_t errlen);
    err_t (*ping)(store_conn_t *conn);

    err_t (*begin)(store_conn_t *conn, bool write);
    err_t (*commit)(store_conn_t *conn);
    void (*rollback)(store_conn_t *conn);

    err_t (*get)(store_conn_t *conn, const app_type_t *type, const char *id,
                 const store_query_t *query, arena_t *arena, store_row_t *out);
    err_t (*search)(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                    arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total);
    err_t (*insert)(store_conn_t *conn, const app_type_t *type, const value_t *values,
                    const char *password_hash);
    err_t (*update)(store_conn_t *conn, const app_type_t *type, const char *id, const bool *mask,
                    const value_t *values);
    err_t (*delete_thing)(store_conn_t *conn, const app_type_t *type, const char *id);

    err_t (*user_by_email)(store_conn_t *conn, const app_type_t *user_type,
                           const char *email_norm, arena_t *arena, char **id,
                           char **password_hash);
    err_t (*user_set_password)(store_conn_t *conn, const app_type_t *user_type, const char *id,
                               const char *password_hash);

    err_t (*session_insert)(store_conn_t *conn, const unsigned char hash[32],
                            const store_session_t *session);
    err_t (*session_get)(store_conn_t *conn, const unsigned char hash[32], store_session_t *out);
    err_t (*session_touch)(store_conn_t *conn, const unsigned char hash[32],
                           int64_t last_used_ms);
    err_t (*session_revoke)(store_conn_t *conn, const unsigned char hash[32]);

    err_t (*admin_token_insert)(store_conn_t *conn, const char *label,
                                const unsigned char hash[32], int64_t created_ms);
    err_t (*admin_token_find)(store_conn_t *conn, const unsigned char hash[32],
                              store_admin_token_t *out);
    err_t (*admin_token_touch)(store_conn_t *conn, const unsigned char hash[32],
                               int64_t last_used_ms);
    err_t (*admin_token_first_use)(store_conn_t *conn, const unsigned char hash[32],
                                   int64_t used_ms, bool *first);
    err_t (*admin_token_list)(store_conn_t *conn, arena_t *arena, store_admin_token_t **out,
                              size_t *count);
    err_t (*admin_token_revoke)(store_conn_t *conn, const char *label);

    /* Change notifications and shared counters (store_events_start, store_counter_hit). A
     * backend without events_start delivers no events and is never "current". */
    err_t (*events_start)(store_t *store, store_event_fn fn, void *ud);
    void (*events_stop)(store_t *store);
    bool (*events_current)(store_t *store);
    err_t (*counter_hit)(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                         int64_t delta, int64_t *count, int64_t *window_end_ms);
    err_t (*counter_clear)(store_t *store, const char *key);

    /* Sessions of one user (store_session_revoke_user, _list, _revoke_id). */
    err_t (*session_revoke_user)(store_conn_t *conn, const char *user_id,
                                 const unsigned char *keep, size_t *count);
    err_t (*session_list)(store_conn_t *conn, const char *user_id, int64_t now_ms,
                          arena_t *arena, store_session_t **out, size_t *count);
    err_t (*session_revoke_id)(store_conn_t *conn, const char *user_id, const char *id);

    /* Password resets and the outbox (store_reset_*, store_outbox_*). */
    err_t (*reset_insert)(store_conn_t *conn, const unsigned char hash[32], const char *user_id,
                          int64_t expires_ms);
    err_t (*reset_take)(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                        char user_id[40]);
    err_t (*outbox_insert)(store_conn_t *conn, const char *recipient, const char *subject,
                           const char *body, int64_t now_ms);
    err_t (*outbox_claim)(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, const char *domain,
                          size_t max, arena_t *arena, store_mail_t **mails, size_t *count);
    err_t (*outbox_finish)(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                           int64_t now_ms, int64_t next_attempt_ms, const char *error);

    /* Scheduled workflow runs (store_job_*). */
    err_t (*job_insert)(store_conn_t *conn, const store_job_t *job);
    err_t (*job_cancel)(store_conn_t *conn, const char *id);
    err_t (*job_claim)(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                       arena_t *arena, store_job_t **jobs, size_t *count);
    err_t (*job_finish)(store_conn_t *conn, const char *id, const char *status, int64_t now_ms);

    /* Export (export.c): pages of rows with their hidden columns, in key order, after the given
     * key (NULL = from the first row). Each fills at most limit entries of the caller's arrays
     * and sets *count; a page shorter than limit is the last. */
    err_t (*export_things)(store_conn_t *conn, const app_type_t *type, int64_t after_created,
                           const char *after_id, size_t limit, arena_t *arena, store_row_t *rows,
                           char **password_hashes, size_t *count);
    err_t (*export_sessions)(store_conn_t *conn, const unsigned char *after_hash, size_t limit,
                             unsigned char (*hashes)[32], store_session_t *sessions,
                             size_t *count);
    err_t (*export_admin_tokens)(store_conn_t *conn, const char *after_label, size_t limit,
                                 unsigned char (*hashes)[32], store_admin_token_t *tokens,
                                 size_t *count);

    /* The audit log (store_audit_*), in sqlite_audit.c and postgres_audit.c, running the
     * statements audit.c builds. */
    err_t (*audit_insert)(store_conn_t *conn, store_audit_t *row);
    err_t (*audit_list)(store_conn_t *conn, const store_audit_query_t *query, store_audit_t *rows,
                        size_t *count);
    err_t (*audit_prune)(store_conn_t *conn, int64_t before_ms, size_t *count);

    /* Two-factor authentication (store_two_factor_*), in sqlite_2fa.c and postgres_2fa.c. */
    err_t (*two_factor_get)(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                            arena_t *arena, store_two_factor_t *out);
    err_t (*two_factor_set)(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                            const store_two_factor_t *tf);
    err_t (*two_factor_accept_step)(store_conn_t *conn, const app_type_t *user_type,
                                    const char *user_id, int64_t step, bool *accepted);
    err_t (*two_factor_replace_codes)(store_conn_t *conn, const app_type_t *user_type,
                                      const char *user_id, const char *expected,
                                      const char *codes, bool *replaced);
    err_t (*two_factor_replace_secret)(store_conn_t *conn, const app_type_t *user_type,
                                       const char *user_id, const char *expected,
                                       const char *secret, bool *replaced);

    /* Export of two-factor state and of unfinished scheduled runs, paged like export_things:
     * users with a TOTP secret in _id order, and pending or running jobs in id order, after
     * after_id (NULL = from the first). Strings are copied into arena. */
    err_t (*export_two_factor)(store_conn_t *conn, const app_type_t *user_type,
                               const char *after_id, size_t limit, arena_t *arena, char **ids,
                               store_two_factor_t *states, size_t *count);
    err_t (*export_jobs)(store_conn_t *conn, const char *after_id, size_t limit, arena_t *arena,
                         store_job_t *jobs, size_t *count);
} store__backend_t;

/* The part of every backend's store that store.c manages: the pool of idle connections. */
struct store {
    const store__backend_t *backend;
    unsigned pool_size; /* connections opened at most */
    unsigned nopen;     /* connections open now, idle or in use */
    store_conn_t *idle; /* singly linked through next_idle */
    pthread_mutex_t lock;
    pthread_cond_t released;
};

struct store_conn {
    store_t *store;
    store_conn_t *next_idle;
    bool in_transaction;
    uint64_t statements; /* statements sent to the database, counted by the backend */
};

extern const store__backend_t store__sqlite_backend;

/* Creates one index on the store's table being migrated: name suffix and column list. */
typedef err_t (*store__index_fn)(void *ud, const char *suffix, const char *columns);

/* Privacy rules run inside every search of their type, so each field of This that a rule reads
 * gets an index (with the default order after it, so the page needs no sort) through create. A
 * list field cannot be served by an index, so such a rule is logged as a warning instead. */
err_t store__create_rule_indexes(const app_type_t *type, store__index_fn create, void *ud);

/* Counters kept in this process (counters.c), for backends that serve one process. */
err_t store__memory_counter_hit(const char *key, int64_t now_ms, int64_t window_ms, int64_t delta,
                                int64_t *count, int64_t *window_end_ms);
err_t store__memory_counter_clear(const char *key);
extern const store__backend_t store__postgres_backend;   /* postgres: */
extern const store__backend_t store__postgresql_backend; /* postgresql:, the same backend */

/* ---- Values ---------------------------------------------------------------------------- */

/* How a field is kept in a column, which decides both the SQL type and the value_t kind. */
typedef enum {
    STORAGE_TEXT = 0, /* text, option, thing, file, image, and the text built-ins */
    STORAGE_REAL,     /* number */
    STORAGE_BOOL,     /* yes/no as 0 or 1 */
    STORAGE_DATE,     /* epoch milliseconds */
    STORAGE_JSON,     /* lists, geographic address and date range, as JSON text */
} store__storage_t;

store__storage_t store__field_storage(const app_field_t *field);

/* Returns the column that stores field: fixed names for the built-ins, field->column otherwise. */
const char *store__column_name(const app_field_t *field);

/* True when field is one of type's fields, by address. */
bool store__field_of(const app_type_t *type, const app_field_t *field);

/* Returns type's field for a built-in, or NULL. */
const app_field_t *store__builtin_field(const app_type_t *type, app_builtin_t builtin);

/* Checks the values a write is about to store: each value's kind must fit its field's storage,
 * numbers must be finite, JSON must parse, _id and the dates must be present. mask NULL means
 * every field (an insert). Returns ERR_INVALID and logs the field's name otherwise. */
err_t store__check_write(const app_type_t *type, const bool *mask, const value_t *values);

/* Maps the empty forms that value.h forbids (empty text, "[]") to VAL_NULL, so "is empty" tests
 * one thing in SQL. */
value_t store__stored_value(value_t v);

/* Returns a malloc'd copy of email trimmed of ASCII whitespace and lowercased (ASCII only), or
 * NULL when out of memory. An email that trims to nothing gives "". */
char *store__email_norm(const char *p, size_t n);

/* ---- SQL building ---------------------------------------------------------------------- */

typedef struct store__sql store__sql_t;

/* The few places where SQL dialects differ in the statements built below. */
struct store__dialect {
    /* Appends the placeholder for parameter number n, counting from 1 ("?n" or "$n"). */
    void (*placeholder)(sbuf_t *sql, size_t n);
    const char *true_sql;        /* a literal true that no column can shadow */
    const char *false_sql;
    const char *is_not_true;     /* suffix that turns false and NULL into true */
    const char *is_op;           /* NULL-safe equality, " IS " */
    const char *is_not_op;       /* NULL-safe inequality, " IS NOT " */
    const char *elements_open;   /* table function over a JSON list's elements, "json_each(" */
    const char *elements_close;  /* ")" */
    const char *element_column;  /* the element column of that function, "value" */
    /* Appends a test that element (such as "j1.value") equals v, binding v. NULL appends
     * "<element> = <placeholder>", which suits elements that keep their JSON type. */
    void (*element_equals)(store__sql_t *q, const char *element, value_t v);
    const char *contains_open;   /* case-insensitive substring test: open, middle and close */
    const char *contains_middle;
    const char *contains_close;
    /* Name of the function that returns the 1-based position of its second argument in its
     * first, or 0: "instr" or "strpos". Matches stemmed words for "text contains". */
    const char *find_function;
    /* Appends an expression for the number stored under key in the JSON object in column (SQL
     * text such as t0."f_place"), NULL when the key is missing or its value is not a number.
     * key is a fixed lowercase name from the store's code, never client input. */
    void (*json_number)(store__sql_t *q, const char *column, const char *key);
    /* Computed values (store_calc_t). The lower and upper pairs wrap a text expression so that
     * only ASCII letters change, as the expression evaluator does. */
    const char *ascii_lower_open;
    const char *ascii_lower_close;
    const char *ascii_upper_open;
    const char *ascii_upper_close;
    const char *trim_function;     /* trim(text, characters) at both ends: "trim" or "btrim" */
    const char *list_length_open;  /* elements of a JSON list held in a text column, NULL for */
    const char *list_length_close; /* NULL: "json_array_length(" and ")" */
};

/* A statement under construction and its parameters, in placeholder order. The first failure
 * (ERR_INVALID, ERR_NOMEM, ERR_TOO_LARGE) is sticky and later appends do nothing. Parameters
 * point into memory the caller keeps alive until the statement has run. */
struct store__sql {
    const store__dialect_t *dialect;
    sbuf_t sql;
    value_t *params; /* malloc'd */
    size_t nparams;
    size_t cap;
    unsigned next_alias; /* for t<N> (tables) and j<N> (list elements) */
    bool replaying;      /* placeholders reuse parameters replay_next + 1 .. replay_end */
    size_t replay_next;
    size_t replay_end;
    struct store__sql_block *kept; /* copies that parameters point into (store__sql_keep) */
    err_t err;
};

void store__sql_init(store__sql_t *q, const store__dialect_t *dialect);
void store__sql_deinit(store__sql_t *q);
err_t store__sql_error(const store__sql_t *q);
void store__sql_fail(store__sql_t *q, err_t err);

void store__sql_puts(store__sql_t *q, const char *s);
/* Appends "name" after checking it is 1 to STORE__MAX_IDENT characters of [a-z0-9_]. */
void store__sql_ident(store__sql_t *q, const char *name);
/* Appends a placeholder and records v (after store__stored_value) as its parameter. */
void store__sql_param(store__sql_t *q, value_t v);

/* Returns a NUL-terminated copy of p[0..n) that lives until store__sql_deinit, for parameters
 * computed while the statement is built. Returns NULL and fails q when out of memory. */
const char *store__sql_keep(store__sql_t *q, const char *p, size_t n);

/* Appends n in decimal, without the cost of a printf on every placeholder and alias. */
void store__sql_put_decimal(sbuf_t *sql, size_t n);

/* Integers such as LIMIT travel as VAL_DATE, which every backend binds as a 64-bit integer. */
static inline value_t store__int_value(int64_t n)
{
    return value_date(n);
}

/* Appends the condition as a boolean SQL expression over the table aliased t<alias>. NULL cond
 * renders as true. */
void store__sql_cond(store__sql_t *q, const app_type_t *type, unsigned alias,
                     const store_cond_t *cond);

/* SELECT of every field, one 0/1 column per flag and, when query->count_total, the match count
 * from a scalar subquery; filtered, ordered and paged as store_search describes. The subquery
 * and the outer WHERE share their parameters, so the dialect's placeholders must be numbered. */
void store__sql_search(store__sql_t *q, const app_type_t *type, const store_query_t *query);

/* The same SELECT for one id, with flags and where but no order, total or paging. */
void store__sql_get(store__sql_t *q, const app_type_t *type, const char *id,
                    const store_query_t *query);

void store__sql_count(store__sql_t *q, const app_type_t *type, const store_cond_t *where);

/* INSERT of every field, and of the stemmed words of each text field into its hidden column
 * (words.h). For the User type, email_norm and password_hash fill the hidden columns (NULL
 * stores NULL). */
void store__sql_insert(store__sql_t *q, const app_type_t *type, const value_t *values,
                       const char *email_norm, const char *password_hash);

/* UPDATE of the masked fields, the words of those that are text, and Modified Date
 * (values[BUILTIN_MODIFIED_DATE's index]). */
void store__sql_update(store__sql_t *q, const app_type_t *type, const char *id, const bool *mask,
                       const value_t *values, const char *email_norm);

void store__sql_delete(store__sql_t *q, const app_type_t *type, const char *id);

/* SELECT "_id", "_password_hash" of the user with this normalised email. */
void store__sql_user_by_email(store__sql_t *q, const app_type_t *user_type,
                              const char *email_norm);

void store__sql_set_password(store__sql_t *q, const app_type_t *user_type, const char *id,
                             const char *password_hash);

/* Statements of the audit log (audit.c). The SELECT returns "id", "time", "event", "user_id",
 * "admin_label", "client_address", "user_agent", "session_id" and "detail" in that order; the
 * INSERT returns nothing, so each backend adds its own way of reading the new id. */
void store__sql_audit_insert(store__sql_t *q, const store_audit_t *row);
void store__sql_audit_list(store__sql_t *q, const store_audit_query_t *query);
void store__sql_audit_prune(store__sql_t *q, int64_t before_ms);

/* Statements of the two-factor operations (two_factor.c), over the User type's hidden columns
 * "_totp_secret", "_totp_enabled", "_totp_last_step" and "_recovery_codes". */
void store__sql_two_factor_get(store__sql_t *q, const app_type_t *user_type, const char *user_id);
void store__sql_two_factor_set(store__sql_t *q, const app_type_t *user_type, const char *user_id,
                               const store_two_factor_t *tf);
void store__sql_two_factor_accept_step(store__sql_t *q, const app_type_t *user_type,
                                       const char *user_id, int64_t step);
void store__sql_two_factor_replace_codes(store__sql_t *q, const app_type_t *user_type,
                                         const char *user_id, const char *expected,
                                         const char *codes);
void store__sql_two_factor_replace_secret(store__sql_t *q, const app_type_t *user_type,
                                          const char *user_id, const char *expected,
                                          const char *secret);
/* SELECT "_id" and the four columns of the get statement, for export_two_factor. */
void store__sql_two_factor_export(store__sql_t *q, const app_type_t *user_type,
                                  const char *after_id, size_t limit);

#endif
