/* The SQLite backend: opening the file, per-connection settings, the prepared-statement cache,
 * error mapping and transactions. Schema lives in sqlite_schema.c, things and users in
 * sqlite_things.c, sessions and admin tokens in sqlite_auth.c.
 *
 * Each connection is opened with SQLITE_OPEN_NOMUTEX, because the pool in store.c guarantees
 * that only one thread uses it at a time.
 */
#include "store/sqlite_internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

/* How long a statement waits for another connection's write lock before failing with
 * SQLITE_BUSY, in milliseconds. */
#define BUSY_TIMEOUT_MS 5000

/* Statements longer than this are one-offs (long IN lists, large privacy trees) and are not
 * worth a cache slot. */
#define CACHE_MAX_SQL 8192

/* ---- Errors ----------------------------------------------------------------------------- */

err_t store__sqlite_fail(store__sqlite_conn_t *c, int rc, const char *op)
{
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        LOG_DEBUG("store unique constraint violated", "op=%s error=%s", op,
                  log_quote(sqlite3_errmsg(c->db)));
        return ERR_CONFLICT;
    }
    const int primary = rc & 0xff;
    const char *message = sqlite3_errmsg(c->db);
    /* SQLite's parser has a fixed-size stack and expression trees are limited to 1000 levels, so
     * a condition within STORE__MAX_COND_DEPTH can still be too complex for it. */
    if (primary == SQLITE_ERROR && (strstr(message, "parser stack overflow") != NULL ||
                                    strstr(message, "Expression tree is too large") != NULL)) {
        LOG_WARN("store statement too complex", "op=%s error=%s", op, log_quote(message));
        return ERR_INVALID;
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        LOG_WARN("store busy", "op=%s error=%s", op, log_quote(message));
        return ERR_BUSY;
    }
    LOG_ERROR("store operation failed", "op=%s code=%d error=%s", op, rc, log_quote(message));
    return primary == SQLITE_NOMEM ? ERR_NOMEM : ERR_STORE;
}

/* ---- Prepared statements ---------------------------------------------------------------- */

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static store__sqlite_cached_t *cache_slot(store__sqlite_conn_t *c)
{
    store__sqlite_cached_t *victim = &c->cache[0];
    for (size_t i = 0; i < STORE__SQLITE_CACHE_SIZE; i++) {
        store__sqlite_cached_t *e = &c->cache[i];
        if (e->sql == NULL)
            return e;
        if (e->last_used < victim->last_used)
            victim = e;
    }
    sqlite3_finalize(victim->stmt);
    free(victim->sql);
    memset(victim, 0, sizeof(*victim));
    return victim;
}

/* Logs SQLite's plan for a statement at debug level, one line per step, when the statement is
 * first prepared on a connection. The plan names the tables and indexes a search reads, which is
 * how bench/scale.sh shows which searches stay flat as a table grows. Nothing is bound, so the
 * lines carry no values. */
static void log_query_plan(store__sqlite_conn_t *c, const char *sql, size_t len, const char *op)
{
    static const char prefix[] = "EXPLAIN QUERY PLAN ";
    char *text = malloc(sizeof(prefix) + len);
    if (text == NULL)
        return;
    memcpy(text, prefix, sizeof(prefix) - 1);
    memcpy(text + sizeof(prefix) - 1, sql, len);
    text[sizeof(prefix) - 1 + len] = '\0';
    sqlite3_stmt *plan = NULL;
    if (sqlite3_prepare_v2(c->db, text, -1, &plan, NULL) == SQLITE_OK) {
        while (sqlite3_step(plan) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(plan, 3);
            LOG_DEBUG("sqlite query plan", "op=%s step=%s", log_quote(op),
                      log_quote(detail != NULL ? detail : ""));
        }
    }
    sqlite3_finalize(plan);
    free(text);
}

err_t store__sqlite_prepare(store__sqlite_conn_t *c, const char *sql, size_t len,
                            sqlite3_stmt **out, const char *op)
{
    *out = NULL;
    if (len > INT_MAX)
        return ERR_TOO_LARGE;
    c->base.statements++;
    const uint64_t hash = fnv1a(sql, len);
    c->clock++;
    for (size_t i = 0; i < STORE__SQLITE_CACHE_SIZE; i++) {
        store__sqlite_cached_t *e = &c->cache[i];
        if (e->sql != NULL && e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0) {
            e->last_used = c->clock;
            *out = e->stmt;
            return ERR_OK;
        }
    }

    const bool keep = len <= CACHE_MAX_SQL;
    sqlite3_stmt *stmt = NULL;
    int rc =
        sqlite3_prepare_v3(c->db, sql, (int)len, keep ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, NULL);
    if (rc != SQLITE_OK)
        return store__sqlite_fail(c, rc, op);
    if (log_level >= LOG_LEVEL_DEBUG)
        log_query_plan(c, sql, len, op);
    char *copy = keep ? malloc(len + 1) : NULL;
    if (copy != NULL) {
        memcpy(copy, sql, len);
        copy[len] = '\0';
        store__sqlite_cached_t *e = cache_slot(c);
        *e = (store__sqlite_cached_t){
            .sql = copy, .len = len, .hash = hash, .last_used = c->clock, .stmt = stmt};
    }
    *out = stmt;
    return ERR_OK;
}

void store__sqlite_finish(store__sqlite_conn_t *c, sqlite3_stmt *stmt)
{
    if (stmt == NULL)
        return;
    for (size_t i = 0; i < STORE__SQLITE_CACHE_SIZE; i++) {
        if (c->cache[i].stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            return;
        }
    }
    sqlite3_finalize(stmt);
}

int store__sqlite_bind_value(sqlite3_stmt *stmt, int index, const value_t *v)
{
    switch (v->kind) {
    case VAL_NULL:
        return sqlite3_bind_null(stmt, index);
    case VAL_TEXT:
    case VAL_JSON:
        if (v->u.s.n > INT_MAX)
            return SQLITE_TOOBIG;
        return sqlite3_bind_text(stmt, index, v->u.s.p, (int)v->u.s.n, SQLITE_STATIC);
    case VAL_NUMBER:
        return sqlite3_bind_double(stmt, index, v->u.num);
    case VAL_BOOL:
        return sqlite3_bind_int(stmt, index, v->u.b ? 1 : 0);
    case VAL_DATE:
        return sqlite3_bind_int64(stmt, index, v->u.ms);
    }
    return SQLITE_MISUSE;
}

err_t store__sqlite_prepare_sql(store__sqlite_conn_t *c, const store__sql_t *q, sqlite3_stmt **out,
                                const char *op)
{
    *out = NULL;
    err_t err = store__sql_error(q);
    if (err != ERR_OK)
        return err;
    sqlite3_stmt *stmt = NULL;
    err = store__sqlite_prepare(c, sbuf_cstr(&q->sql), q->sql.len, &stmt, op);
    if (err != ERR_OK)
        return err;
    for (size_t i = 0; i < q->nparams; i++) {
        int rc = store__sqlite_bind_value(stmt, (int)i + 1, &q->params[i]);
        if (rc != SQLITE_OK) {
            err = store__sqlite_fail(c, rc, op);
            store__sqlite_finish(c, stmt);
            return err;
        }
    }
    *out = stmt;
    return ERR_OK;
}

err_t store__sqlite_run(store__sqlite_conn_t *c, sqlite3_stmt *stmt, const char *op)
{
    const int rc = sqlite3_step(stmt);
    err_t err = rc == SQLITE_DONE ? ERR_OK : store__sqlite_fail(c, rc, op);
    store__sqlite_finish(c, stmt);
    return err;
}

err_t store__sqlite_exec(store__sqlite_conn_t *c, const char *sql, const char *op)
{
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, sql, strlen(sql), &stmt, op);
    if (err != ERR_OK)
        return err;
    return store__sqlite_run(c, stmt, op);
}

/* ---- Opening ---------------------------------------------------------------------------- */

static err_t backend_open(const char *target, unsigned *pool_size, store_t **out, char *errbuf,
                          size_t errlen)
{
    if (target == NULL || target[0] == '\0') {
        snprintf(errbuf, errlen, "missing SQLite path: expected sqlite:PATH");
        return ERR_INVALID;
    }
    /* SQLITE_OPEN_NOMUTEX still needs a library built with thread support. */
    if (!sqlite3_threadsafe()) {
        snprintf(errbuf, errlen, "the SQLite library was built without thread support");
        return ERR_STORE;
    }
    store__sqlite_t *s = calloc(1, sizeof(*s));
    char *path = strdup(target);
    if (s == NULL || path == NULL) {
        free(s);
        free(path);
        snprintf(errbuf, errlen, "out of memory opening the store");
        return ERR_NOMEM;
    }
    s->path = path;
    /* Every connection to ":memory:" opens a separate empty database, so the pool keeps one. */
    if (strcmp(path, ":memory:") == 0)
        *pool_size = 1;
    *out = &s->base;
    return ERR_OK;
}

static void backend_close(store_t *store)
{
    store__sqlite_t *s = (store__sqlite_t *)store;
    free(s->path);
    free(s);
}

/* Sets the journal mode and logs a warning when SQLite kept another one. An in-memory database
 * returns "memory", which is expected. */
static err_t set_wal(store__sqlite_conn_t *c, const char *path)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        return store__sqlite_fail(c, rc, "set journal mode");
    }
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    if (mode != NULL && strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
        LOG_WARN("sqlite journal mode is not wal", "path=%s mode=%s", log_quote(path),
                 log_quote(mode));
    sqlite3_finalize(stmt);
    return ERR_OK;
}

/* Double-quoted string literals are turned off so that a misspelt quoted column name is an
 * error rather than a string that silently compares unequal. */
static err_t configure(store__sqlite_conn_t *c, const char *path)
{
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    err_t err = set_wal(c, path);
    if (err != ERR_OK)
        return err;
    int rc =
        sqlite3_exec(c->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    return rc == SQLITE_OK ? ERR_OK : store__sqlite_fail(c, rc, "configure connection");
}

static err_t conn_open(store_t *store, store_conn_t **out, char *errbuf, size_t errlen)
{
    const store__sqlite_t *s = (const store__sqlite_t *)store;
    *out = NULL;
    store__sqlite_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory opening a SQLite connection");
        return ERR_NOMEM;
    }
    /* The database contains password hashes and reset links, so a new one is readable by its owner
     * only. SQLite gives its -wal and -shm files the database file's mode. An empty file is an
     * empty database to SQLite. */
    if (strcmp(s->path, ":memory:") != 0) {
        const int fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
    err_t err = ERR_OK;
    if (rc != SQLITE_OK)
        err = ERR_STORE;
    else
        err = configure(c, s->path);
    if (err != ERR_OK) {
        snprintf(errbuf, errlen, "cannot open SQLite database \"%s\": %s", s->path,
                 c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return err;
    }
    *out = &c->base;
    return ERR_OK;
}

static void conn_close(store_conn_t *conn)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    for (size_t i = 0; i < STORE__SQLITE_CACHE_SIZE; i++) {
        sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql);
    }
    int rc = sqlite3_close(c->db);
    if (rc != SQLITE_OK)
        LOG_ERROR("sqlite close failed", "error=%s", log_quote(sqlite3_errstr(rc)));
    free(c);
}

/* ---- Transactions and health ------------------------------------------------------------ */

/* BEGIN IMMEDIATE takes the write lock at once. A deferred transaction that reads first and
 * writes later can fail with SQLITE_BUSY without waiting, because SQLite cannot upgrade a
 * reader whose snapshot another writer has already moved past. */
static err_t begin(store_conn_t *conn, bool write)
{
    return store__sqlite_exec(store__sqlite_conn(conn), write ? "BEGIN IMMEDIATE" : "BEGIN",
                              "begin transaction");
}

static err_t commit(store_conn_t *conn)
{
    return store__sqlite_exec(store__sqlite_conn(conn), "COMMIT", "commit transaction");
}

/* Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) make SQLite roll back on its own, and a
 * second ROLLBACK would then fail with "no transaction is active". */
static void rollback(store_conn_t *conn)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    if (sqlite3_get_autocommit(c->db))
        return;
    err_t err = store__sqlite_exec(c, "ROLLBACK", "roll back transaction");
    (void)err;
}

static err_t ping(store_conn_t *conn)
{
    store__sqlite_conn_t *c = store__sqlite_conn(conn);
    sqlite3_stmt *stmt = NULL;
    err_t err = store__sqlite_prepare(c, "SELECT 1", 8, &stmt, "ping");
    if (err != ERR_OK)
        return err;
    int rc = sqlite3_step(stmt);
    err = rc == SQLITE_ROW ? ERR_OK : store__sqlite_fail(c, rc, "ping");
    store__sqlite_finish(c, stmt);
    return err;
}

/* ---- Dialect and vtable ----------------------------------------------------------------- */

static void placeholder(sbuf_t *sql, size_t n)
{
    sbuf_putc(sql, '?');
    store__sql_put_decimal(sql, n);
}

/* json_type and json_extract raise an error on malformed JSON rather than returning NULL, so
 * json_valid guards them, inside a CASE because SQLite does not promise to stop evaluating an AND
 * early. */
static void json_number(store__sql_t *q, const char *column, const char *key)
{
    store__sql_puts(q, "CASE WHEN json_valid(");
    store__sql_puts(q, column);
    store__sql_puts(q, ") THEN CASE WHEN json_type(");
    store__sql_puts(q, column);
    store__sql_puts(q, ", '$.");
    store__sql_puts(q, key);
    store__sql_puts(q, "') IN ('integer', 'real') THEN json_extract(");
    store__sql_puts(q, column);
    store__sql_puts(q, ", '$.");
    store__sql_puts(q, key);
    store__sql_puts(q, "') END END");
}

/* SQLite reads an unquoted TRUE as a column when the table has a column named "true", so the
 * literals are plain integers. The distance test of geographic_search needs the math functions
 * (sin, cos, radians, power), which SQLite has when built with SQLITE_ENABLE_MATH_FUNCTIONS, as
 * Debian's libsqlite3 3.40 is.
 * NOTE: SQLite's lower() folds ASCII letters only, so "contains" ignores case for ASCII text
 * alone ("É" does not match "é"). */
const store__dialect_t store__sqlite_dialect = {
    .placeholder = placeholder,
    .true_sql = "1",
    .false_sql = "0",
    .is_not_true = " IS NOT 1",
    .is_op = " IS ",
    .is_not_op = " IS NOT ",
    .elements_open = "json_each(",
    .elements_close = ")",
    .element_column = "value",
    .contains_open = "instr(lower(",
    .contains_middle = "), lower(",
    .contains_close = ")) > 0",
    .find_function = "instr",
    .json_number = json_number,
    .ascii_lower_open = "lower(",
    .ascii_lower_close = ")",
    .ascii_upper_open = "upper(",
    .ascii_upper_close = ")",
    .trim_function = "trim",
    .list_length_open = "json_array_length(",
    .list_length_close = ")",
};

static err_t sqlite_counter_hit(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                                int64_t delta, int64_t *count, int64_t *window_end_ms)
{
    return store__memory_counter_hit(key, now_ms, window_ms, delta, count, window_end_ms);
}

static err_t sqlite_counter_clear(store_t *store, const char *key)
{
    return store__memory_counter_clear(key);
}

const store__backend_t store__sqlite_backend = {
    .scheme = "sqlite",
    .dialect = &store__sqlite_dialect,
    .open = backend_open,
    .close = backend_close,
    .conn_open = conn_open,
    .conn_close = conn_close,
    .migrate = store__sqlite_migrate,
    .migrate_internal = store__sqlite_migrate_internal,
    .ping = ping,
    .begin = begin,
    .commit = commit,
    .rollback = rollback,
    .get = store__sqlite_get,
    .search = store__sqlite_search,
    .insert = store__sqlite_insert,
    .update = store__sqlite_update,
    .delete_thing = store__sqlite_delete,
    .user_by_email = store__sqlite_user_by_email,
    .user_set_password = store__sqlite_user_set_password,
    .session_insert = store__sqlite_session_insert,
    .session_get = store__sqlite_session_get,
    .session_touch = store__sqlite_session_touch,
    .session_revoke = store__sqlite_session_revoke,
    .admin_token_insert = store__sqlite_admin_token_insert,
    .admin_token_find = store__sqlite_admin_token_find,
    .admin_token_touch = store__sqlite_admin_token_touch,
    .admin_token_first_use = store__sqlite_admin_token_first_use,
    .admin_token_list = store__sqlite_admin_token_list,
    .admin_token_revoke = store__sqlite_admin_token_revoke,
    .counter_hit = sqlite_counter_hit,
    .counter_clear = sqlite_counter_clear,
    .session_revoke_user = store__sqlite_session_revoke_user,
    .session_list = store__sqlite_session_list,
    .session_revoke_id = store__sqlite_session_revoke_id,
    .reset_insert = store__sqlite_reset_insert,
    .reset_take = store__sqlite_reset_take,
    .outbox_insert = store__sqlite_outbox_insert,
    .outbox_claim = store__sqlite_outbox_claim,
    .outbox_finish = store__sqlite_outbox_finish,
    .job_insert = store__sqlite_job_insert,
    .job_cancel = store__sqlite_job_cancel,
    .job_claim = store__sqlite_job_claim,
    .job_finish = store__sqlite_job_finish,
    .export_things = store__sqlite_export_things,
    .export_sessions = store__sqlite_export_sessions,
    .export_admin_tokens = store__sqlite_export_admin_tokens,
    .audit_insert = store__sqlite_audit_insert,
    .audit_list = store__sqlite_audit_list,
    .audit_prune = store__sqlite_audit_prune,
    .two_factor_get = store__sqlite_two_factor_get,
    .two_factor_set = store__sqlite_two_factor_set,
    .two_factor_accept_step = store__sqlite_two_factor_accept_step,
    .two_factor_replace_codes = store__sqlite_two_factor_replace_codes,
    .two_factor_replace_secret = store__sqlite_two_factor_replace_secret,
    .export_two_factor = store__sqlite_export_two_factor,
    .export_jobs = store__sqlite_export_jobs,
};
