/* The backend-neutral store: things, users, sessions and admin tokens.
 *
 * Handlers speak to the store only through this header; SQL text, dialects and driver handles stay
 * inside the backends (sqlite.c, postgres.c). Filters are given as a condition tree
 * (store_cond_t) that each backend renders into its own SQL with every value bound as a parameter,
 * never spliced into the statement text.
 *
 * Threading: a store_t is shared by all threads. Each thread takes a connection with
 * store_acquire and gives it back with store_release; a connection is never used by two threads at
 * once. A thing's values are a value_t array aligned with app_type_t.fields, built-ins included
 * (values[0] is _id, values[1] Created Date, and so on).
 */
#ifndef FROTH_STORE_H
#define FROTH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/value.h"

typedef struct store store_t;
typedef struct store_conn store_conn_t;

/* ---- Conditions ------------------------------------------------------------------------- */

typedef enum {
    COND_TRUE = 0,
    COND_FALSE,
    COND_AND,           /* all kids hold; no kids = true */
    COND_OR,            /* any kid holds; no kids = false */
    COND_NOT,           /* kids[0] does not hold */
    COND_CMP,           /* field <op> value; a NULL field never satisfies a comparison except NE */
    COND_IS_EMPTY,      /* field has no value (NULL, or an empty list) */
    COND_IS_NOT_EMPTY,
    COND_LIST_CONTAINS, /* list field contains value */
    COND_IN,            /* field's value is one of values[] */
    COND_REF_MATCH,     /* field references a thing of sub_type for which sub holds */
    COND_TEXT_CONTAINS, /* text field contains value, case-insensitive substring */
    COND_TEXT_WORDS,    /* text field holds every word of value, as the search constraint "text
                           contains" compares them: stemmed, whole words, English stop words
                           left out of value (a value of stop words alone always holds) */
    COND_GEO_WITHIN,    /* geographic address field lies within values[2] miles (great-circle)
                           of latitude values[0], longitude values[1]; all three VAL_NUMBER, and
                           a field without lat and lng never does */
    COND_LIST_SUBSET,   /* every element of the list field is one of values[] (true when the
                           list is empty) */
} store_cond_kind_t;

typedef enum {
    CMP_EQ = 0,
    CMP_NE,             /* also true when the field is empty */
    CMP_LT,
    CMP_LE,
    CMP_GT,
    CMP_GE,
} store_cmp_t;

/* A value computed from a field, which a condition tests in place of the field itself. Each
 * step applies to the field's value, or to inner's result when inner is set. An empty input
 * gives an empty result except where noted, and so does an arithmetic result that is not a
 * finite number. No stored value makes the statement fail: the store guards the arithmetic that
 * PostgreSQL would reject on overflow or underflow. */
typedef enum {
    CALC_COUNT = 0, /* elements of a list; 0 when empty */
    CALC_LENGTH,    /* characters (Unicode code points) of a text; 0 when empty */
    CALC_LOWER,     /* the text with ASCII letters lowercased, other characters kept */
    CALC_UPPER,     /* the text with ASCII letters uppercased, other characters kept */
    CALC_TRIM,      /* the text without ASCII white space at either end; empty if nothing is
                       left */
    CALC_ADD,       /* input + number */
    CALC_SUB,       /* input - number */
    CALC_MUL,       /* input * number */
    CALC_DIV,       /* input / number; empty when number is 0 */
    CALC_SUB_FROM,  /* number - input */
    CALC_DIV_INTO,  /* number / input; empty when input is 0 */
} store_calc_kind_t;

/* Maximum number of computed steps a condition may carry. Each arithmetic step repeats the steps
 * under it in the SQL text up to three times, so the statement grows with 3^steps. */
#define STORE_MAX_CALC 6

typedef struct store_calc {
    store_calc_kind_t kind;
    double number;                  /* the arithmetic operand; finite */
    const struct store_calc *inner; /* applied first; NULL = the field's value */
} store_calc_t;

typedef struct store_cond {
    store_cond_kind_t kind;
    struct store_cond **kids;
    size_t nkids;
    const app_field_t *field;
    store_cmp_t op;
    value_t value;
    const value_t *values; /* COND_IN, COND_GEO_WITHIN, COND_LIST_SUBSET */
    size_t nvalues;
    const app_type_t *sub_type; /* COND_REF_MATCH */
    struct store_cond *sub;
    /* COND_CMP, COND_IS_[NOT_]EMPTY, COND_TEXT_CONTAINS and COND_IN: when set, the condition
     * tests this value computed from field instead of field's value. */
    const store_calc_t *calc;
} store_cond_t;

/* Helpers that build nodes in an arena. They return NULL when the arena is exhausted. */
store_cond_t *store_cond_new(arena_t *arena, store_cond_kind_t kind);
store_cond_t *store_cond_cmp(arena_t *arena, const app_field_t *field, store_cmp_t op, value_t v);
store_cond_t *store_cond_and(arena_t *arena, store_cond_t *a, store_cond_t *b);
store_cond_t *store_cond_or(arena_t *arena, store_cond_t *a, store_cond_t *b);
store_cond_t *store_cond_not(arena_t *arena, store_cond_t *a);

/* ---- Opening and schema ----------------------------------------------------------------- */

typedef struct {
    unsigned pool_size; /* connections kept open; 0 picks a default */
} store_options_t;

/* Opens the store named by url: "sqlite:PATH", a libpq URI ("postgres://USER@HOST:PORT/DBNAME",
 * "postgresql://..."), "postgres:" followed by a libpq key=value string, or "postgres:" alone to
 * connect with the PG* environment variables. On failure returns an error and writes a message
 * for the operator into errbuf, with any password masked. */
err_t store_open(const char *url, const store_options_t *options, store_t **out, char *errbuf,
                 size_t errlen) WARN_UNUSED;
void store_close(store_t *store);

/* Copies url into out (size bytes, cut to fit and NUL-terminated) with every password replaced
 * by "***": the password in a URL's user information and the value of any password parameter.
 * Use it wherever a store URL is logged or printed. */
void store_redact_url(const char *url, char *out, size_t size);

/* Creates missing tables, columns and indexes for the app, and the store's own tables. Never drops
 * or rewrites data; a column whose type changed is reported and left alone. On success errbuf
 * contains those warnings, or "" when there are none. */
err_t store_migrate(store_t *store, const app_t *app, char *errbuf, size_t errlen) WARN_UNUSED;

/* Creates only the store's own tables (sessions, admin tokens), for commands that have no app. */
err_t store_migrate_internal(store_t *store, char *errbuf, size_t errlen) WARN_UNUSED;

/* Is the database reachable? Used by the health endpoint. */
err_t store_ping(store_t *store) WARN_UNUSED;

/* ---- Connections and transactions ------------------------------------------------------- */

err_t store_acquire(store_t *store, store_conn_t **out) WARN_UNUSED;

/* Returns the store a connection belongs to. */
store_t *store_of(const store_conn_t *conn);

/* Returns how many SQL statements the connection has sent to the database since it was opened,
 * transaction control included. The difference across a request is that request's count, which
 * the access log records. */
uint64_t store_conn_statements(const store_conn_t *conn);
void store_release(store_conn_t *conn);

/* Starts a transaction. write = true declares that it will write. SQLite then takes its write
 * lock at once, so two writers never deadlock half-way. PostgreSQL instead makes store_get lock
 * the row it reads until the transaction ends, and a deadlock between two such transactions
 * fails one of them with ERR_BUSY. Nested calls are not supported. */
err_t store_begin(store_conn_t *conn, bool write) WARN_UNUSED;
err_t store_commit(store_conn_t *conn) WARN_UNUSED;
void store_rollback(store_conn_t *conn);

/* ---- Things ----------------------------------------------------------------------------- */

typedef struct {
    value_t *values; /* aligned with type->fields */
    bool *flags;     /* results of store_query_t.flags, one per flag */
} store_row_t;

typedef struct {
    const app_field_t *field;
    bool descending;
    const store_cond_t *visible; /* NULL = always; rows where it fails sort as if the field were
                                    empty, so a sort never reveals a hidden value */
} store_sort_t;

typedef struct {
    const store_cond_t *where;          /* NULL = every thing */
    const store_cond_t *const *flags;   /* conditions evaluated per row and returned */
    size_t nflags;
    const store_sort_t *sort;           /* then Created Date, then _id, ascending */
    size_t nsort;
    size_t offset;
    size_t limit;
    bool count_total;                   /* fill *total with every match, ignoring offset/limit */
} store_query_t;

/* Reads the thing with this id if it exists and matches where (NULL = no filter). Flags are
 * evaluated as in store_search. Returns ERR_NOT_FOUND otherwise. Memory comes from arena. */
err_t store_get(store_conn_t *conn, const app_type_t *type, const char *id,
                const store_query_t *query, arena_t *arena, store_row_t *out) WARN_UNUSED;

/* Renders cond as the boolean SQL expression that store_search and store_get put in their
 * statements on this store, over the type's table aliased t0, for diagnostics. Each value is a
 * numbered placeholder ("?1" on SQLite, "$1" on PostgreSQL) and never part of the text; *nparams
 * is how many there are. *sql lives in arena. Returns ERR_INVALID for a condition the store
 * cannot run, ERR_TOO_LARGE for one over 1 MiB of SQL, ERR_NOMEM when out of memory. */
err_t store_cond_sql(const store_t *store, const app_type_t *type, const store_cond_t *cond,
                     arena_t *arena, char **sql, size_t *nparams) WARN_UNUSED;

/* Runs a search. rows and their values live in arena. total is set when query->count_total.
 * Returns ERR_INVALID for a query the store cannot run: a condition on a field of another type,
 * nested deeper than 64 levels or binding more than 10,000 values, or a sort on a list field. */
err_t store_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                   arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total) WARN_UNUSED;

/* Inserts a new thing; values[0] must carry its id and the dates must be set. For the User type,
 * password_hash may be given (NULL = none) and the email, values of BUILTIN_EMAIL, must be unique
 * after normalisation: ERR_CONFLICT otherwise, and also when the id exists. Returns ERR_INVALID
 * when a value's kind does not fit its field (lists, geographic addresses and date ranges are
 * VAL_JSON and must parse), or a number is not finite. */
err_t store_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                   const char *password_hash) WARN_UNUSED;

/* Writes the fields whose mask entry is true, and Modified Date. ERR_NOT_FOUND when the id is
 * unknown. Values are checked as in store_insert; the _id cannot be masked (ERR_INVALID), and a
 * new email must be unique in the same way (ERR_CONFLICT). */
err_t store_update(store_conn_t *conn, const app_type_t *type, const char *id, const bool *mask,
                   const value_t *values) WARN_UNUSED;

err_t store_delete(store_conn_t *conn, const app_type_t *type, const char *id) WARN_UNUSED;

/* ---- Users ------------------------------------------------------------------------------ */

/* Finds a user by normalised email (lowercase, trimmed). Returns ERR_NOT_FOUND when absent.
 * id and password_hash (possibly NULL) are copied into arena. */
err_t store_user_by_email(store_conn_t *conn, const app_type_t *user_type, const char *email_norm,
                          arena_t *arena, char **id, char **password_hash) WARN_UNUSED;

err_t store_user_set_password(store_conn_t *conn, const app_type_t *user_type, const char *id,
                              const char *password_hash) WARN_UNUSED;

/* ---- Sessions (user tokens) ------------------------------------------------------------- */

/* Maximum length of the client address and User-Agent kept with a session or an audit row, in bytes. An IPv6
 * address in text takes at most 45; a longer User-Agent is cut (auth_origin_copy). */
#define STORE_ADDRESS_MAX 63
#define STORE_USER_AGENT_MAX 256

typedef struct {
    char id[40];        /* public session id, never the token */
    char user_id[40];
    int64_t created_ms;
    int64_t last_used_ms;
    int64_t expires_ms; /* absolute expiry */
    int64_t idle_ms;    /* idle window length */
    bool two_factor;
    bool revoked;
    char client_address[STORE_ADDRESS_MAX + 1]; /* of the request that created it; "" unknown */
    char user_agent[STORE_USER_AGENT_MAX + 1];  /* of that request; "" when it sent none */
} store_session_t;

/* Stores a session under the SHA-256 of its token. */
err_t store_session_insert(store_conn_t *conn, const unsigned char hash[32],
                           const store_session_t *session) WARN_UNUSED;

/* Reads a session by token hash, revoked or not. ERR_NOT_FOUND when unknown. */
err_t store_session_get(store_conn_t *conn, const unsigned char hash[32],
                        store_session_t *out) WARN_UNUSED;

err_t store_session_touch(store_conn_t *conn, const unsigned char hash[32],
                          int64_t last_used_ms) WARN_UNUSED;

/* Marks a session revoked. ERR_NOT_FOUND when unknown. */
err_t store_session_revoke(store_conn_t *conn, const unsigned char hash[32]) WARN_UNUSED;

/* ---- Change notifications between nodes ------------------------------------------------ */

/* Receives one event another process (or this one) published: "session <hex hash>" when a
 * session was revoked, "admin <hex hash>" when an admin token was revoked, "reset" when events
 * may have been missed (the listening connection was lost) and every cache must be dropped. Runs
 * on the store's listener thread. */
typedef void (*store_event_fn)(void *ud, const char *event);

/* Starts delivering events to fn. Backends that serve one process only (SQLite) deliver none and
 * return ERR_OK. Call once, before serving. */
err_t store_events_start(store_t *store, store_event_fn fn, void *ud) WARN_UNUSED;

/* True when several processes may serve this store at once (PostgreSQL), false when the store is
 * served by this process alone (SQLite). */
bool store_is_shared(const store_t *store);

/* True while every event published up to a moment at most 75 ms ago is known to have been
 * delivered, so an in-memory cache that applies events may be trusted. Always false for backends
 * without events. Thread-safe and cheap: one atomic load and a clock read. */
bool store_events_current(store_t *store);

/* ---- Scheduled workflow runs ----------------------------------------------------------- */

typedef struct {
    char id[40];
    char workflow[128];
    int64_t run_at_ms;
    char *params;        /* JSON object of parameter values in wire form; arena or caller memory */
    int caller_kind;     /* an auth_caller_kind_t: who scheduled the run, and who it runs as */
    char caller_id[128]; /* the user id, or the admin token's label */
    int attempts;        /* claims so far, this one included */
} store_job_t;

/* Records a run to start at or after run_at_ms. Part of the caller's transaction, if any. */
err_t store_job_insert(store_conn_t *conn, const store_job_t *job) WARN_UNUSED;

/* Cancels a run that has not started. ERR_NOT_FOUND when there is no pending run with this id. */
err_t store_job_cancel(store_conn_t *conn, const char *id) WARN_UNUSED;

/* Claims up to max runs that are due (run_at <= now) and not claimed, or whose claim's lease
 * ended without the run finishing (its node stopped), and leases them for lease_ms. Two nodes
 * never claim the same run at once. Runs are ordered by run_at; memory comes from arena. */
err_t store_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                      arena_t *arena, store_job_t **jobs, size_t *count) WARN_UNUSED;

/* Marks a claimed run finished with a status: "done", "failed" or "not_run". */
err_t store_job_finish(store_conn_t *conn, const char *id, const char *status,
                       int64_t now_ms) WARN_UNUSED;

/* ---- Counters for throttling ----------------------------------------------------------- */

/* Adds delta (0 only reads) to the counter named key in a fixed window of window_ms that starts
 * at the first hit; a hit after the window has ended starts a new one. Sets *count to the value
 * after the hit and *window_end_ms to when the window ends. Counters are shared by every node of
 * a PostgreSQL store; SQLite keeps them in this process, which serves the file alone. Thread-safe;
 * uses no connection of the caller's, so it may run while the caller holds a transaction. */
err_t store_counter_hit(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                        int64_t delta, int64_t *count, int64_t *window_end_ms) WARN_UNUSED;

/* Deletes a counter (for example after a successful login). */
err_t store_counter_clear(store_t *store, const char *key) WARN_UNUSED;

/* Revokes every session of user_id except the one whose token hash is keep (NULL keeps none),
 * publishing a revocation event for each. Sets *count to the number revoked. */
err_t store_session_revoke_user(store_conn_t *conn, const char *user_id,
                                const unsigned char *keep, size_t *count) WARN_UNUSED;

/* Lists the user's sessions that are neither revoked nor past their absolute expiry at now_ms,
 * most recently used first, at most 100. Memory comes from arena. */
err_t store_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms, arena_t *arena,
                         store_session_t **out, size_t *count) WARN_UNUSED;

/* Revokes the session with this public id when it belongs to user_id, publishing an event.
 * ERR_NOT_FOUND otherwise (also for another user's session, so the two cannot be distinguished). */
err_t store_session_revoke_id(store_conn_t *conn, const char *user_id,
                              const char *id) WARN_UNUSED;

/* ---- Password resets and the outbox ------------------------------------------------------ */

/* Stores a single-use password reset token by its SHA-256, valid until expires_ms. */
err_t store_reset_insert(store_conn_t *conn, const unsigned char hash[32], const char *user_id,
                         int64_t expires_ms) WARN_UNUSED;

/* Uses up a reset token: when it exists, is unused and has not expired at now_ms, marks it used
 * and copies its user id into user_id. ERR_NOT_FOUND otherwise, whichever the reason. */
err_t store_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                       char user_id[40]) WARN_UNUSED;

/* Queues an email for delivery. */
err_t store_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                          const char *body, int64_t now_ms) WARN_UNUSED;

/* One queued email, claimed for a delivery attempt. Strings come from the claim's arena. */
typedef struct {
    int64_t id;
    const char *recipient;
    const char *subject;
    const char *body;
    const char *message_id; /* "<...@domain>", the same on every attempt */
    int64_t created_ms;
    int attempt; /* 1 for the first attempt */
} store_mail_t;

typedef enum {
    STORE_MAIL_SENT,   /* delivered: the body is cleared */
    STORE_MAIL_RETRY,  /* failed for now: tried again at next_attempt_ms */
    STORE_MAIL_FAILED, /* given up: the body is cleared */
} store_mail_outcome_t;

/* Claims up to max emails that wait for an attempt (next attempt due at now_ms) or whose claim's
 * lease ended without an outcome (the node stopped), and leases them for lease_ms. Two nodes never
 * claim the same email at once. An email claimed for the first time gets a random Message-ID
 * ending in "@" domain. Ordered by due time; memory comes from arena. */
err_t store_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, const char *domain,
                         size_t max, arena_t *arena, store_mail_t **mails,
                         size_t *count) WARN_UNUSED;

/* Records the outcome of the attempt on a claimed email: sent at now_ms, to be retried at
 * next_attempt_ms, or failed at now_ms. error (NULL when sent) is the reason kept in the row. It
 * must hold no secret. */
err_t store_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                          int64_t now_ms, int64_t next_attempt_ms, const char *error) WARN_UNUSED;

/* ---- Admin tokens ----------------------------------------------------------------------- */

typedef struct {
    char label[128];
    int64_t created_ms;
    int64_t last_used_ms; /* 0 = never */
} store_admin_token_t;

/* ERR_CONFLICT when the label exists. */
err_t store_admin_token_insert(store_conn_t *conn, const char *label,
                               const unsigned char hash[32], int64_t created_ms) WARN_UNUSED;

/* Finds a token by hash; ERR_NOT_FOUND when unknown or revoked. */
err_t store_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                             store_admin_token_t *out) WARN_UNUSED;

err_t store_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                              int64_t last_used_ms) WARN_UNUSED;

/* Records the first use of a token: sets last-used to used_ms when it was never used, in one
 * statement, so of two concurrent first requests only one sets *first. */
err_t store_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32], int64_t used_ms,
                                  bool *first) WARN_UNUSED;

/* Lists tokens in creation order into arena. */
err_t store_admin_token_list(store_conn_t *conn, arena_t *arena, store_admin_token_t **out,
                             size_t *count) WARN_UNUSED;

/* Deletes the token with this label. ERR_NOT_FOUND when there is none. */
err_t store_admin_token_revoke(store_conn_t *conn, const char *label) WARN_UNUSED;

/* ---- Audit log ---------------------------------------------------------------------------- */

#define STORE_AUDIT_EVENT_MAX 47
#define STORE_AUDIT_DETAIL_MAX 255
#define STORE_AUDIT_PAGE_MAX 500 /* rows one store_audit_list call returns at most */

/* One row of the audit log. Empty strings are stored as NULL and read back as "". Callers put
 * only ids, labels and reasons in it, so no field contains a token, password, code, secret or
 * hash. */
typedef struct {
    int64_t id; /* assigned by store_audit_insert, increasing with each insert */
    int64_t time_ms;
    char event[STORE_AUDIT_EVENT_MAX + 1]; /* "login.failed", "session.revoked", ... */
    char user_id[40];
    char admin_label[128];
    char client_address[STORE_ADDRESS_MAX + 1];
    char user_agent[STORE_USER_AGENT_MAX + 1];
    char session_id[40];
    char detail[STORE_AUDIT_DETAIL_MAX + 1];
} store_audit_t;

/* Which rows store_audit_list returns. NULL and 0 members do not filter. */
typedef struct {
    const char *user_id;
    const char *event;
    int64_t since_ms;  /* rows with time_ms >= since_ms */
    int64_t before_id; /* newest first: rows with id < before_id (the previous page's last) */
    int64_t after_id;  /* with oldest_first: rows with id > after_id */
    bool oldest_first; /* ascending id order, for export; newest first otherwise */
    size_t limit;      /* 1 to STORE_AUDIT_PAGE_MAX */
} store_audit_query_t;

/* Appends a row, as part of the caller's transaction if one is open, and sets row->id. A string
 * member that is not NUL-terminated within its array, or an empty event, is ERR_INVALID. */
err_t store_audit_insert(store_conn_t *conn, store_audit_t *row) WARN_UNUSED;

/* Reads the rows query selects into rows (query->limit entries that the caller provides) and
 * sets *count. ERR_INVALID for a limit outside 1 to STORE_AUDIT_PAGE_MAX. */
err_t store_audit_list(store_conn_t *conn, const store_audit_query_t *query, store_audit_t *rows,
                       size_t *count) WARN_UNUSED;

/* Deletes the rows older than before_ms and sets *count to how many went. */
err_t store_audit_prune(store_conn_t *conn, int64_t before_ms, size_t *count) WARN_UNUSED;

/* ---- Export and import ------------------------------------------------------------------ */

/* Counts of what an export wrote or an import read. */
typedef struct {
    size_t *things;      /* per type, aligned with app->types: app->ntypes entries that the
                            caller allocates and zeroes */
    size_t sessions;
    size_t admin_tokens;
    size_t audit;        /* audit log rows */
    size_t two_factor;   /* users with two-factor state */
    size_t jobs;         /* scheduled workflow runs that have not finished */
    char dump_app[128];  /* import: the app name in the dump's header, cut to fit; "" until the
                            header is read */
    bool other_app;      /* import: that name differs from app->name */
} store_dump_stats_t;

/* Writes a dump of the app's data to the file descriptor fd: a header line, one JSON line per
 * thing of every type (all fields and built-ins; for users also the email and password hash),
 * one per session and one per admin token (with its token hash), one per audit log row, then a
 * closing line with the counts. export.c describes the format. Everything is read in one read
 * transaction, so the dump is consistent while others write, and in pages, so memory does not
 * grow with the tables.
 * Returns ERR_IO when a write fails and another error when reading fails, with a message for the
 * operator in errbuf. A dump cut short by an error has no closing line, which store_import
 * rejects. fd is not closed. */
err_t store_export(store_t *store, const app_t *app, int fd, store_dump_stats_t *stats,
                   char *errbuf, size_t errlen) WARN_UNUSED;

/* Reads a dump written by store_export from fd and inserts everything in one write transaction,
 * so on any error nothing is written. The app's schema must exist (store_migrate). Unless force,
 * a database that already contains any thing of the app is rejected with ERR_CONFLICT. Nothing is
 * ever overwritten: with force, a thing whose _id or email exists, or a session or admin token
 * that exists, fails the import with ERR_CONFLICT. Malformed JSON, an unknown type or field, a
 * value of the wrong kind or a missing closing line give ERR_INVALID, and a line longer than
 * 64 MiB ERR_TOO_LARGE. Every message in errbuf about a line names its number. stats count
 * what was read, also on failure. Audit rows are appended with new ids and their recorded
 * times, so they never conflict. fd is not closed. */
err_t store_import(store_t *store, const app_t *app, int fd, bool force,
                   store_dump_stats_t *stats, char *errbuf, size_t errlen) WARN_UNUSED;

/* ---- Two-factor authentication (two_factor.c) ------------------------------------------- */

/* A user's TOTP state, kept in hidden columns of the User type's table that no API response
 * reads. */
typedef struct {
    char *secret;         /* TOTP secret as the auth module stores it (encrypted, or base32 from
                             before encryption), NULL when none; pending while !enabled */
    bool enabled;
    int64_t last_step;    /* the last accepted TOTP time step, 0 when none */
    char *recovery_codes; /* hex SHA-256 of each unused recovery code, separated by spaces; NULL
                             when none */
} store_two_factor_t;

/* Reads the user's two-factor state, strings copied into arena. ERR_NOT_FOUND when there is no
 * such user. */
err_t store_two_factor_get(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                           arena_t *arena, store_two_factor_t *out) WARN_UNUSED;

/* Overwrites the user's whole two-factor state with tf. ERR_NOT_FOUND when there is no such
 * user. */
err_t store_two_factor_set(store_conn_t *conn, const app_type_t *user_type, const char *user_id,
                           const store_two_factor_t *tf) WARN_UNUSED;

/* Records step as the last accepted time step when it is later than the stored one, in one
 * statement, so two requests with the same code cannot both succeed. *accepted is set when it
 * was recorded. */
err_t store_two_factor_accept_step(store_conn_t *conn, const app_type_t *user_type,
                                   const char *user_id, int64_t step, bool *accepted) WARN_UNUSED;

/* Replaces the recovery code hashes with codes (NULL stores none) when they still equal expected,
 * so a recovery code is used once even by concurrent requests. *replaced is set when they
 * were. */
err_t store_two_factor_replace_codes(store_conn_t *conn, const app_type_t *user_type,
                                     const char *user_id, const char *expected, const char *codes,
                                     bool *replaced) WARN_UNUSED;

/* Replaces the stored TOTP secret with secret when it still equals expected, leaving the rest of
 * the state alone, so rewriting a secret in another form cannot undo a concurrent request's
 * accepted step. *replaced is set when it was. */
err_t store_two_factor_replace_secret(store_conn_t *conn, const app_type_t *user_type,
                                      const char *user_id, const char *expected,
                                      const char *secret, bool *replaced) WARN_UNUSED;

#endif
