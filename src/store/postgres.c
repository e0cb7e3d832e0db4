/* The PostgreSQL backend: connection URLs, per-connection setup and recovery, the
 * prepared-statement cache, error mapping and transactions. Schema lives in postgres_schema.c,
 * things and users in postgres_things.c, sessions and admin tokens in postgres_auth.c.
 *
 * Every value travels as a text-format parameter of PQexecParams or PQexecPrepared, and the
 * server infers its type from the statement. No value is ever spliced into SQL text.
 */
#include "store/postgres_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Statements longer than this are one-offs (long IN lists, large privacy trees) and are not
 * worth preparing. */
#define CACHE_MAX_SQL 8192

/* Seconds libpq waits for a server to accept a connection, unless the URL sets connect_timeout. */
#define CONNECT_TIMEOUT_S "10"

/* ---- Errors ----------------------------------------------------------------------------- */

/* Copies libpq's connection message without its trailing newline. */
static const char *conn_message(const store__pg_conn_t *c, char *buf, size_t size)
{
    snprintf(buf, size, "%s", c->pg == NULL ? "no connection" : PQerrorMessage(c->pg));
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

static bool sqlstate_is(const char *state, const char *code)
{
    return state != NULL && strcmp(state, code) == 0;
}

static bool sqlstate_class(const char *state, const char *cls)
{
    return state != NULL && strncmp(state, cls, 2) == 0;
}

/* Class 08 is a connection exception. 57P01 to 57P03 mean that the server is shutting down or
 * restarting and has dropped or refused the session. */
static bool connection_lost(const store__pg_conn_t *c, const char *state)
{
    return PQstatus(c->pg) != CONNECTION_OK || sqlstate_class(state, "08") ||
           sqlstate_is(state, "57P01") || sqlstate_is(state, "57P02") ||
           sqlstate_is(state, "57P03");
}

err_t store__pg_fail(store__pg_conn_t *c, const PGresult *res, const char *op)
{
    const char *state = res == NULL ? NULL : PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = res == NULL ? NULL : PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char buf[512];
    if (connection_lost(c, state)) {
        if (!c->broken)
            LOG_ERROR("store connection lost", "op=%s sqlstate=%s error=%s", op,
                      state == NULL ? "none" : state, log_quote(conn_message(c, buf, sizeof(buf))));
        c->broken = true;
        return ERR_STORE;
    }
    if (state == NULL || primary == NULL) {
        LOG_ERROR("store operation failed", "op=%s sqlstate=none error=%s", op,
                  log_quote(conn_message(c, buf, sizeof(buf))));
        return ERR_STORE;
    }
    /* Only the primary message is logged: the DETAIL of a unique violation quotes the key. */
    if (sqlstate_is(state, "23505")) {
        LOG_DEBUG("store unique constraint violated", "op=%s sqlstate=%s error=%s", op, state,
                  log_quote(primary));
        return ERR_CONFLICT;
    }
    if (sqlstate_is(state, "40001") || sqlstate_is(state, "40P01") ||
        sqlstate_is(state, "55P03")) {
        LOG_WARN("store busy", "op=%s sqlstate=%s error=%s", op, state, log_quote(primary));
        return ERR_BUSY;
    }
    /* Data exceptions are caused by a bound value, and their messages often quote it, so the
     * message is withheld. */
    if (sqlstate_class(state, "22")) {
        LOG_WARN("store value rejected", "op=%s sqlstate=%s", op, state);
        return ERR_INVALID;
    }
    /* Program limits, such as max_stack_depth for a deeply nested condition. */
    if (sqlstate_class(state, "54")) {
        LOG_WARN("store statement too complex", "op=%s sqlstate=%s error=%s", op, state,
                 log_quote(primary));
        return ERR_INVALID;
    }
    LOG_ERROR("store operation failed", "op=%s sqlstate=%s error=%s", op, state,
              log_quote(primary));
    return ERR_STORE;
}

/* ---- Parameters ------------------------------------------------------------------------- */

/* Bytes a parameter needs in text form, with its NUL. */
static size_t text_size(const value_t *v)
{
    switch (v->kind) {
    case VAL_NULL:
        return 0;
    case VAL_TEXT:
    case VAL_JSON:
        return v->u.s.n + 1;
    case VAL_NUMBER:
        return 32;
    case VAL_BOOL:
        return 2;
    case VAL_DATE:
        return 24;
    }
    return 0;
}

/* Writes v's text form at out (text_size bytes). Numbers keep 17 significant digits, which
 * round-trips every double. */
static void write_text(const value_t *v, char *out)
{
    switch (v->kind) {
    case VAL_NULL:
        return;
    case VAL_TEXT:
    case VAL_JSON:
        if (v->u.s.n > 0)
            memcpy(out, v->u.s.p, v->u.s.n);
        out[v->u.s.n] = '\0';
        return;
    case VAL_NUMBER:
        snprintf(out, 32, "%.17g", v->u.num);
        return;
    case VAL_BOOL:
        out[0] = v->u.b ? 't' : 'f';
        out[1] = '\0';
        return;
    case VAL_DATE:
        snprintf(out, 24, "%lld", (long long)v->u.ms);
        return;
    }
}

/* Renders params as the C strings libpq sends, in one malloc'd block returned in *block. libpq
 * sends text parameters as NUL-terminated strings, so a NUL inside a value would silently cut it.
 * Such a value is rejected instead. */
static err_t render_params(const value_t *params, size_t n, const char ***values, char **block,
                           const char *op)
{
    *values = NULL;
    *block = NULL;
    if (n == 0)
        return ERR_OK;
    size_t bytes = n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        const value_t *v = &params[i];
        if ((v->kind == VAL_TEXT || v->kind == VAL_JSON) && v->u.s.n > 0 &&
            memchr(v->u.s.p, '\0', v->u.s.n) != NULL) {
            LOG_WARN("store value rejected", "op=%s reason=%s", op,
                     log_quote("text contains a NUL byte"));
            return ERR_INVALID;
        }
        bytes += text_size(v);
    }
    char *mem = malloc(bytes);
    if (mem == NULL)
        return ERR_NOMEM;
    const char **ptrs = (const char **)(void *)mem;
    char *text = mem + n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        const value_t *v = &params[i];
        if (v->kind == VAL_NULL) {
            ptrs[i] = NULL;
            continue;
        }
        write_text(v, text);
        ptrs[i] = text;
        text += text_size(v);
    }
    *values = ptrs;
    *block = mem;
    return ERR_OK;
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

static void cache_clear(store__pg_conn_t *c)
{
    for (size_t i = 0; i < STORE__PG_CACHE_SIZE; i++) {
        free(c->cache[i].sql);
        memset(&c->cache[i], 0, sizeof(c->cache[i]));
    }
}

/* Finds or prepares sql on this connection and returns its name in *name, or NULL when the
 * statement is to run unprepared. A full cache keeps what it has rather than evicting: an
 * eviction costs a DEALLOCATE round trip, which is more than an unprepared statement costs, and
 * the statements a server runs most often are among the first it prepares. */
static err_t prepared_name(store__pg_conn_t *c, const char *sql, size_t len, size_t nparams,
                           const char **name, const char *op)
{
    *name = NULL;
    /* A failed transaction rejects PREPARE too, so the statement runs only to report that. */
    if (len > CACHE_MAX_SQL || PQtransactionStatus(c->pg) == PQTRANS_INERROR)
        return ERR_OK;
    const uint64_t hash = fnv1a(sql, len);
    store__pg_cached_t *slot = NULL;
    for (size_t i = 0; i < STORE__PG_CACHE_SIZE; i++) {
        store__pg_cached_t *e = &c->cache[i];
        if (e->sql == NULL) {
            if (slot == NULL)
                slot = e;
            continue;
        }
        if (e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0) {
            *name = e->name;
            return ERR_OK;
        }
    }
    if (slot == NULL)
        return ERR_OK;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return ERR_OK;
    memcpy(copy, sql, len);
    copy[len] = '\0';
    char statement[sizeof(slot->name)];
    snprintf(statement, sizeof(statement), "froth_%llu", (unsigned long long)++c->serial);
    PGresult *res = PQprepare(c->pg, statement, sql, (int)nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err_t err = store__pg_fail(c, res, op);
        PQclear(res);
        free(copy);
        return err;
    }
    PQclear(res);
    *slot = (store__pg_cached_t){.sql = copy, .len = len, .hash = hash};
    memcpy(slot->name, statement, sizeof(statement));
    *name = slot->name;
    return ERR_OK;
}

static err_t query(store__pg_conn_t *c, const char *sql, size_t len, const value_t *params,
                   size_t nparams, bool cache, const char *op, PGresult **out)
{
    *out = NULL;
    if (c->broken)
        return ERR_STORE;
    if (nparams > INT_MAX)
        return ERR_TOO_LARGE;
    const char **values = NULL;
    char *block = NULL;
    err_t err = render_params(params, nparams, &values, &block, op);
    if (err != ERR_OK)
        return err;
    c->base.statements++;
    const char *name = NULL;
    if (cache)
        err = prepared_name(c, sql, len, nparams, &name, op);
    if (err != ERR_OK) {
        free(block);
        return err;
    }
    PGresult *res = name != NULL
                        ? PQexecPrepared(c->pg, name, (int)nparams, values, NULL, NULL, 0)
                        : PQexecParams(c->pg, sql, (int)nparams, NULL, values, NULL, NULL, 0);
    free(block);
    const ExecStatusType status = PQresultStatus(res);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        *out = res;
        return ERR_OK;
    }
    err = store__pg_fail(c, res, op);
    PQclear(res);
    return err;
}

err_t store__pg_query(store__pg_conn_t *c, const char *sql, size_t len, const value_t *params,
                      size_t nparams, const char *op, PGresult **out)
{
    return query(c, sql, len, params, nparams, true, op, out);
}

err_t store__pg_query_once(store__pg_conn_t *c, const char *sql, const value_t *params,
                           size_t nparams, const char *op, PGresult **out)
{
    return query(c, sql, strlen(sql), params, nparams, false, op, out);
}

err_t store__pg_query_sql(store__pg_conn_t *c, const store__sql_t *q, const char *op,
                          PGresult **out)
{
    *out = NULL;
    err_t err = store__sql_error(q);
    if (err != ERR_OK)
        return err;
    return store__pg_query(c, sbuf_cstr(&q->sql), q->sql.len, q->params, q->nparams, op, out);
}

err_t store__pg_exec(store__pg_conn_t *c, const char *sql, const char *op)
{
    if (c->broken)
        return ERR_STORE;
    c->base.statements++;
    PGresult *res = PQexec(c->pg, sql);
    const ExecStatusType status = PQresultStatus(res);
    err_t err = ERR_OK;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        err = store__pg_fail(c, res, op);
    PQclear(res);
    return err;
}

size_t store__pg_changes(const PGresult *res)
{
    const char *n = PQcmdTuples((PGresult *)res);
    return n == NULL || n[0] == '\0' ? 0 : strtoull(n, NULL, 10);
}

/* ---- Opening ---------------------------------------------------------------------------- */

/* Opens the store for target, the URL after "scheme:". An empty target means the PG*
 * environment variables, and "//..." is a libpq URI, which is passed on with its scheme. Anything
 * else must be a key=value connection string. */
static err_t backend_open(const char *scheme, const char *target, store_t **out, char *errbuf,
                          size_t errlen)
{
    char *conninfo = NULL;
    if (strncmp(target, "//", 2) == 0) {
        const size_t n = strlen(scheme) + 1 + strlen(target) + 1;
        conninfo = malloc(n);
        if (conninfo != NULL)
            snprintf(conninfo, n, "%s:%s", scheme, target);
    } else if (target[0] != '\0') {
        if (strchr(target, '=') == NULL) {
            snprintf(errbuf, errlen,
                     "invalid PostgreSQL URL: expected %s://USER@HOST:PORT/DBNAME, a key=value "
                     "connection string after \"%s:\", or \"%s:\" alone to use the PG* "
                     "environment variables",
                     scheme, scheme, scheme);
            return ERR_INVALID;
        }
        conninfo = strdup(target);
    }
    if (target[0] != '\0' && conninfo == NULL)
        goto nomem;

    if (conninfo != NULL) {
        char *message = NULL;
        PQconninfoOption *options = PQconninfoParse(conninfo, &message);
        if (options == NULL) {
            char shown[512];
            store_redact_url(conninfo, shown, sizeof(shown));
            /* libpq's message may quote any part of the URL, the password included. */
            const bool secret = strcmp(shown, conninfo) != 0;
            snprintf(errbuf, errlen, "invalid PostgreSQL URL \"%s\": %s", shown,
                     secret ? "libpq rejected its syntax (details withheld because the URL "
                              "holds a password)"
                     : message != NULL ? message
                                       : "out of memory");
            PQfreemem(message);
            free(conninfo);
            return ERR_INVALID;
        }
        PQconninfoFree(options);
    }

    store__pg_t *s = calloc(1, sizeof(*s));
    const char *shown = conninfo != NULL ? conninfo : "postgres: (PG* environment variables)";
    const size_t shown_size = strlen(shown) + 1;
    char *display = malloc(shown_size);
    if (s == NULL || display == NULL) {
        free(s);
        free(display);
        free(conninfo);
        goto nomem;
    }
    store_redact_url(shown, display, shown_size);
    pthread_mutex_init(&s->aux_lock, NULL);
    s->conninfo = conninfo;
    s->display = display;
    *out = &s->base;
    return ERR_OK;

nomem:
    snprintf(errbuf, errlen, "out of memory opening the store");
    return ERR_NOMEM;
}

static err_t open_postgres(const char *target, unsigned *pool_size, store_t **out, char *errbuf,
                           size_t errlen)
{
    (void)pool_size;
    return backend_open("postgres", target, out, errbuf, errlen);
}

static err_t open_postgresql(const char *target, unsigned *pool_size, store_t **out,
                             char *errbuf, size_t errlen)
{
    (void)pool_size;
    return backend_open("postgresql", target, out, errbuf, errlen);
}

static void backend_close(store_t *store)
{
    store__pg_t *s = (store__pg_t *)store;
    store__pg_aux_close(store);
    pthread_mutex_destroy(&s->aux_lock);
    free(s->conninfo);
    free(s->display);
    free(s);
}

/* Notices ("relation already exists, skipping") would otherwise go straight to stderr. */
static void notice_receiver(void *arg, const PGresult *res)
{
    (void)arg;
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    LOG_DEBUG("store notice", "message=%s", log_quote(primary == NULL ? "" : primary));
}

/* libpq applies the keywords in order and the last value wins. The URL (in dbname) therefore
 * overrides the default connect_timeout, and client_encoding, last, always makes values UTF-8. */
static err_t conn_open(store_t *store, store_conn_t **out, char *errbuf, size_t errlen)
{
    const store__pg_t *s = (const store__pg_t *)store;
    *out = NULL;
    store__pg_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory opening a PostgreSQL connection");
        return ERR_NOMEM;
    }
    const char *keywords[] = {"connect_timeout", "fallback_application_name", "dbname",
                              "client_encoding", NULL};
    const char *values[] = {CONNECT_TIMEOUT_S, "froth", s->conninfo, "UTF8", NULL};
    if (s->conninfo == NULL) {
        keywords[2] = "client_encoding";
        values[2] = "UTF8";
        keywords[3] = NULL;
    }
    c->pg = PQconnectdbParams(keywords, values, 1);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        char message[512];
        snprintf(errbuf, errlen, "cannot connect to PostgreSQL at %s: %s", s->display,
                 conn_message(c, message, sizeof(message)));
        PQfinish(c->pg);
        free(c);
        return ERR_STORE;
    }
    PQsetNoticeReceiver(c->pg, notice_receiver, NULL);
    *out = &c->base;
    return ERR_OK;
}

static void conn_close(store_conn_t *conn)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    cache_clear(c);
    PQfinish(c->pg);
    free(c);
}

/* Reads, without blocking, whatever the server sent while the connection sat idle, so that a
 * server that restarted or ended the session is noticed before a request's statement fails. A
 * server that ends a session sends a FATAL message and then closes the socket. The first read
 * takes the message (PQisBusy parses it as a notice), and the second detects the close. */
static bool still_connected(PGconn *pg)
{
    for (int i = 0; i < 2; i++) {
        if (PQconsumeInput(pg) == 0)
            return false;
        (void)PQisBusy(pg);
    }
    return PQstatus(pg) == CONNECTION_OK;
}

/* Reconnects a connection that was lost, with the same parameters. Statements prepared on the
 * old session are gone, so the cache starts empty. */
static err_t conn_revive(store_conn_t *conn)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    if (!c->broken && still_connected(c->pg))
        return ERR_OK;
    if (!c->broken) {
        char message[512];
        LOG_WARN("store connection lost while idle", "error=%s",
                 log_quote(conn_message(c, message, sizeof(message))));
    }
    const store__pg_t *s = (const store__pg_t *)conn->store;
    cache_clear(c);
    c->write_tx = false;
    PQreset(c->pg);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char message[512];
        LOG_ERROR("store reconnect failed", "url=%s error=%s", log_quote(s->display),
                  log_quote(conn_message(c, message, sizeof(message))));
        return ERR_STORE;
    }
    c->broken = false;
    LOG_INFO("store connection reopened", "url=%s", log_quote(s->display));
    return ERR_OK;
}

/* ---- Transactions and health ------------------------------------------------------------ */

/* A write transaction runs at READ COMMITTED, and store_get inside it locks the row it reads
 * (SELECT ... FOR UPDATE), so "read the thing, check privacy, write it" cannot interleave with
 * another node's write to the same thing. A read transaction gets one snapshot for all its
 * statements, as it does on SQLite. */
static err_t begin(store_conn_t *conn, bool write)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    err_t err = store__pg_exec(c, write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ",
                               "begin transaction");
    if (err == ERR_OK)
        c->write_tx = write;
    return err;
}

/* COMMIT of a transaction that an earlier error aborted succeeds and reports ROLLBACK, which must
 * not pass for a commit. */
static err_t commit(store_conn_t *conn)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    if (c->broken)
        return ERR_STORE;
    if (PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        LOG_WARN("store commit refused", "reason=%s",
                 log_quote("the transaction was aborted by an earlier error"));
        return ERR_STORE;
    }
    c->base.statements++;
    PGresult *res = PQexec(c->pg, "COMMIT");
    err_t err = ERR_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = store__pg_fail(c, res, "commit transaction");
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
        err = ERR_STORE;
    PQclear(res);
    if (err == ERR_OK)
        c->write_tx = false;
    return err;
}

static void rollback(store_conn_t *conn)
{
    store__pg_conn_t *c = store__pg_conn(conn);
    c->write_tx = false;
    if (c->broken || PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    err_t err = store__pg_exec(c, "ROLLBACK", "roll back transaction");
    (void)err;
}

static err_t ping(store_conn_t *conn)
{
    PGresult *res = NULL;
    err_t err = store__pg_query(store__pg_conn(conn), "SELECT 1", 8, NULL, 0, "ping", &res);
    PQclear(res);
    return err;
}

/* ---- Dialect and vtable ----------------------------------------------------------------- */

static void placeholder(sbuf_t *sql, size_t n)
{
    sbuf_putc(sql, '$');
    store__sql_put_decimal(sql, n);
}

/* jsonb_array_elements_text returns every element as text, so the test depends on the kind of
 * the value sought. A number compares as a double, but only with elements that look like JSON
 * numbers, because a failed cast would abort the statement. A yes/no compares with JSON's true
 * and false, and anything else compares as text. */
static void element_equals(store__sql_t *q, const char *element, value_t v)
{
    switch (store__stored_value(v).kind) {
    case VAL_NUMBER:
        store__sql_puts(q, "CASE WHEN ");
        store__sql_puts(q, element);
        store__sql_puts(q, " ~ '^-?[0-9]+([.][0-9]+)?$' THEN ");
        store__sql_puts(q, element);
        store__sql_puts(q, "::float8 = ");
        store__sql_param(q, v);
        store__sql_puts(q, " END");
        return;
    case VAL_BOOL:
        store__sql_puts(q, element);
        store__sql_puts(q, " = CASE WHEN ");
        store__sql_param(q, v);
        store__sql_puts(q, "::boolean THEN 'true' ELSE 'false' END");
        return;
    case VAL_NULL:
    case VAL_TEXT:
    case VAL_JSON:
    case VAL_DATE:
        break;
    }
    store__sql_puts(q, element);
    store__sql_puts(q, " = ");
    store__sql_param(q, v);
    store__sql_puts(q, "::text");
}

/* The column contains JSON text that the store checked on every write, so the cast to jsonb does
 * not fail on rows froth wrote. jsonb_typeof keeps a non-numeric value from reaching the cast to
 * float8, which would abort the statement. */
static void json_number(store__sql_t *q, const char *column, const char *key)
{
    store__sql_puts(q, "CASE WHEN jsonb_typeof(");
    store__sql_puts(q, column);
    store__sql_puts(q, "::jsonb -> '");
    store__sql_puts(q, key);
    store__sql_puts(q, "') = 'number' THEN (");
    store__sql_puts(q, column);
    store__sql_puts(q, "::jsonb ->> '");
    store__sql_puts(q, key);
    store__sql_puts(q, "')::float8 END");
}

/* The casts to text let "contains" run on any column, as SQLite's instr does. */
const store__dialect_t store__pg_dialect = {
    .placeholder = placeholder,
    .true_sql = "TRUE",
    .false_sql = "FALSE",
    .is_not_true = " IS NOT TRUE",
    .is_op = " IS NOT DISTINCT FROM ",
    .is_not_op = " IS DISTINCT FROM ",
    .elements_open = "jsonb_array_elements_text(",
    .elements_close = "::jsonb)",
    .element_column = "value",
    .element_equals = element_equals,
    .contains_open = "strpos(lower(",
    .contains_middle = "::text), lower(",
    .contains_close = "::text)) > 0",
    .find_function = "strpos",
    .json_number = json_number,
    /* lower() and upper() follow the database's locale, which changes more than ASCII. */
    .ascii_lower_open = "translate(",
    .ascii_lower_close = ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
    .ascii_upper_open = "translate(",
    .ascii_upper_close = ", 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')",
    .trim_function = "btrim",
    .list_length_open = "jsonb_array_length(",
    .list_length_close = "::jsonb)",
};

#define PG_OPERATIONS                                                                          \
    .close = backend_close, .conn_open = conn_open, .conn_close = conn_close,                 \
    .conn_revive = conn_revive, .migrate = store__pg_migrate,                                  \
    .migrate_internal = store__pg_migrate_internal, .ping = ping, .begin = begin,              \
    .commit = commit, .rollback = rollback, .get = store__pg_get, .search = store__pg_search,  \
    .insert = store__pg_insert, .update = store__pg_update, .delete_thing = store__pg_delete,  \
    .user_by_email = store__pg_user_by_email, .user_set_password = store__pg_user_set_password, \
    .session_insert = store__pg_session_insert, .session_get = store__pg_session_get,         \
    .session_touch = store__pg_session_touch, .session_revoke = store__pg_session_revoke,     \
    .admin_token_insert = store__pg_admin_token_insert,                                        \
    .admin_token_find = store__pg_admin_token_find,                                            \
    .admin_token_touch = store__pg_admin_token_touch,                                          \
    .admin_token_first_use = store__pg_admin_token_first_use,                                  \
    .admin_token_list = store__pg_admin_token_list,                                            \
    .admin_token_revoke = store__pg_admin_token_revoke, .events_start = store__pg_events_start, \
    .events_stop = store__pg_events_stop, .events_current = store__pg_events_current,          \
    .counter_hit = store__pg_counter_hit, .counter_clear = store__pg_counter_clear,            \
    .session_revoke_user = store__pg_session_revoke_user,                                      \
    .session_list = store__pg_session_list, .session_revoke_id = store__pg_session_revoke_id,  \
    .reset_insert = store__pg_reset_insert, .reset_take = store__pg_reset_take,                \
    .outbox_insert = store__pg_outbox_insert, .outbox_claim = store__pg_outbox_claim,          \
    .outbox_finish = store__pg_outbox_finish,                                                  \
    .job_insert = store__pg_job_insert, .job_cancel = store__pg_job_cancel,                    \
    .job_claim = store__pg_job_claim, .job_finish = store__pg_job_finish

/* froth export's pages (postgres_export.c). */
#define PG_EXPORT_OPERATIONS                                                                   \
    .export_things = store__pg_export_things, .export_sessions = store__pg_export_sessions,   \
    .export_admin_tokens = store__pg_export_admin_tokens

/* The audit log (postgres_audit.c). */
#define PG_AUDIT_OPERATIONS                                                                    \
    .audit_insert = store__pg_audit_insert, .audit_list = store__pg_audit_list,               \
    .audit_prune = store__pg_audit_prune

/* Two-factor state (postgres_2fa.c). */
#define PG_TWO_FACTOR_OPERATIONS                                                               \
    .two_factor_get = store__pg_two_factor_get, .two_factor_set = store__pg_two_factor_set,   \
    .two_factor_accept_step = store__pg_two_factor_accept_step,                                \
    .two_factor_replace_codes = store__pg_two_factor_replace_codes,                            \
    .two_factor_replace_secret = store__pg_two_factor_replace_secret,                          \
    .export_two_factor = store__pg_export_two_factor, .export_jobs = store__pg_export_jobs

/* libpq accepts both URI schemes, so both name this backend. */
const store__backend_t store__postgres_backend = {
    .scheme = "postgres",
    .dialect = &store__pg_dialect,
    .open = open_postgres,
    PG_OPERATIONS,
    PG_EXPORT_OPERATIONS,
    PG_AUDIT_OPERATIONS,
    PG_TWO_FACTOR_OPERATIONS,
};

const store__backend_t store__postgresql_backend = {
    .scheme = "postgresql",
    .dialect = &store__pg_dialect,
    .open = open_postgresql,
    PG_OPERATIONS,
    PG_EXPORT_OPERATIONS,
    PG_AUDIT_OPERATIONS,
    PG_TWO_FACTOR_OPERATIONS,
};
