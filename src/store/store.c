/* The backend-neutral half of the store: URL dispatch, the connection pool, condition builders and
 * the rules every backend applies to values before writing them.
 *
 * No SQL is built here (see sql.c) and no driver is called (see sqlite.c and postgres.c).
 */
#include "store/store_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"

/* How long store_acquire waits for a busy pool before it gives up with ERR_BUSY. A request that
 * waited this long has already lost its client, and the wait must end even if a connection leaked. */
#define ACQUIRE_TIMEOUT_S 30

static const store__backend_t *const backends[] = {
    &store__sqlite_backend, &store__postgres_backend, &store__postgresql_backend};

/* ---- Conditions ------------------------------------------------------------------------- */

store_cond_t *store_cond_new(arena_t *arena, store_cond_kind_t kind)
{
    store_cond_t *c = arena_calloc(arena, 1, sizeof(*c));
    if (c != NULL)
        c->kind = kind;
    return c;
}

store_cond_t *store_cond_cmp(arena_t *arena, const app_field_t *field, store_cmp_t op, value_t v)
{
    store_cond_t *c = store_cond_new(arena, COND_CMP);
    if (c == NULL)
        return NULL;
    c->field = field;
    c->op = op;
    c->value = v;
    return c;
}

static size_t kids_to_merge(const store_cond_t *c, store_cond_kind_t kind)
{
    return c->kind == kind ? c->nkids : 1;
}

static size_t merge_kids(store_cond_t **into, const store_cond_t *c, store_cond_kind_t kind)
{
    if (c->kind != kind) {
        into[0] = (store_cond_t *)c;
        return 1;
    }
    for (size_t i = 0; i < c->nkids; i++)
        into[i] = c->kids[i];
    return c->nkids;
}

/* Joins a and b into a new node of kind, taking over the kids of either side that already has
 * that kind. Callers chain these builders once per rule or constraint, and without the merge
 * each link would add a level and soon pass STORE__MAX_COND_DEPTH. Neither input is changed,
 * because privacy plans share nodes between conditions. */
static store_cond_t *join(arena_t *arena, store_cond_kind_t kind, store_cond_t *a, store_cond_t *b)
{
    if (a == NULL || b == NULL)
        return NULL;
    store_cond_t *c = store_cond_new(arena, kind);
    if (c == NULL)
        return NULL;
    size_t n = kids_to_merge(a, kind) + kids_to_merge(b, kind);
    c->kids = arena_calloc(arena, n == 0 ? 1 : n, sizeof(*c->kids));
    if (c->kids == NULL)
        return NULL;
    c->nkids = merge_kids(c->kids, a, kind);
    c->nkids += merge_kids(c->kids + c->nkids, b, kind);
    return c;
}

store_cond_t *store_cond_and(arena_t *arena, store_cond_t *a, store_cond_t *b)
{
    return join(arena, COND_AND, a, b);
}

store_cond_t *store_cond_or(arena_t *arena, store_cond_t *a, store_cond_t *b)
{
    return join(arena, COND_OR, a, b);
}

store_cond_t *store_cond_not(arena_t *arena, store_cond_t *a)
{
    if (a == NULL)
        return NULL;
    store_cond_t *c = store_cond_new(arena, COND_NOT);
    if (c == NULL)
        return NULL;
    c->kids = arena_alloc(arena, sizeof(*c->kids));
    if (c->kids == NULL)
        return NULL;
    c->kids[0] = a;
    c->nkids = 1;
    return c;
}

/* ---- Fields and values ------------------------------------------------------------------ */

store__storage_t store__field_storage(const app_field_t *field)
{
    switch (field->builtin) {
    case BUILTIN_CREATED_DATE:
    case BUILTIN_MODIFIED_DATE:
        return STORAGE_DATE;
    case BUILTIN_ID:
    case BUILTIN_CREATED_BY:
    case BUILTIN_SLUG:
    case BUILTIN_EMAIL:
        return STORAGE_TEXT;
    case BUILTIN_NONE:
        break;
    }
    if (field->type.is_list)
        return STORAGE_JSON;
    switch (field->type.kind) {
    case FK_NUMBER:
        return STORAGE_REAL;
    case FK_BOOL:
        return STORAGE_BOOL;
    case FK_DATE:
        return STORAGE_DATE;
    case FK_DATE_RANGE:
    case FK_GEO:
        return STORAGE_JSON;
    case FK_TEXT:
    case FK_FILE:
    case FK_IMAGE:
    case FK_OPTION:
    case FK_THING:
        break;
    }
    return STORAGE_TEXT;
}

const char *store__column_name(const app_field_t *field)
{
    switch (field->builtin) {
    case BUILTIN_ID:
        return "_id";
    case BUILTIN_CREATED_DATE:
        return "_created";
    case BUILTIN_MODIFIED_DATE:
        return "_modified";
    case BUILTIN_CREATED_BY:
        return "_created_by";
    case BUILTIN_SLUG:
        return "_slug";
    case BUILTIN_EMAIL:
        return "_email";
    case BUILTIN_NONE:
        break;
    }
    return field->column;
}

bool store__field_of(const app_type_t *type, const app_field_t *field)
{
    for (size_t i = 0; i < type->nfields; i++) {
        if (&type->fields[i] == field)
            return true;
    }
    return false;
}

const app_field_t *store__builtin_field(const app_type_t *type, app_builtin_t builtin)
{
    for (size_t i = 0; i < type->nfields; i++) {
        if (type->fields[i].builtin == builtin)
            return &type->fields[i];
    }
    return NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

value_t store__stored_value(value_t v)
{
    if ((v.kind == VAL_TEXT || v.kind == VAL_JSON) && (v.u.s.n == 0 || v.u.s.p == NULL))
        return value_null();
    if (v.kind != VAL_JSON)
        return v;
    const char *p = v.u.s.p;
    size_t a = 0;
    size_t b = v.u.s.n;
    while (a < b && is_space(p[a]))
        a++;
    while (b > a && is_space(p[b - 1]))
        b--;
    if (b - a < 2 || p[a] != '[' || p[b - 1] != ']')
        return v;
    for (size_t i = a + 1; i < b - 1; i++) {
        if (!is_space(p[i]))
            return v;
    }
    return value_null();
}

static bool json_parses(const char *p, size_t n)
{
    json_error_t error;
    json_t *doc = json_loadb(p, n, 0, &error);
    if (doc == NULL)
        return false;
    json_decref(doc);
    return true;
}

static bool builtin_required(const app_field_t *field)
{
    return field->builtin == BUILTIN_ID || field->builtin == BUILTIN_CREATED_DATE ||
           field->builtin == BUILTIN_MODIFIED_DATE;
}

static bool value_fits(const app_field_t *field, const value_t *v)
{
    if (v->kind == VAL_NULL)
        return !builtin_required(field);
    switch (store__field_storage(field)) {
    case STORAGE_TEXT:
        return v->kind == VAL_TEXT && v->u.s.p != NULL;
    case STORAGE_REAL:
        return v->kind == VAL_NUMBER && isfinite(v->u.num);
    case STORAGE_BOOL:
        return v->kind == VAL_BOOL;
    case STORAGE_DATE:
        return v->kind == VAL_DATE;
    case STORAGE_JSON:
        return v->kind == VAL_JSON && v->u.s.p != NULL && json_parses(v->u.s.p, v->u.s.n);
    }
    return false;
}

err_t store__check_write(const app_type_t *type, const bool *mask, const value_t *values)
{
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *field = &type->fields[i];
        bool written = mask == NULL || mask[i] || field->builtin == BUILTIN_MODIFIED_DATE;
        if (!written)
            continue;
        if (mask != NULL && field->builtin == BUILTIN_ID) {
            LOG_WARN("store update rejected: _id cannot change", "type=%s",
                     log_quote(type->name));
            return ERR_INVALID;
        }
        if (!value_fits(field, &values[i])) {
            LOG_WARN("store write rejected", "type=%s field=%s kind=%d", log_quote(type->name),
                     log_quote(field->name), (int)values[i].kind);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

char *store__email_norm(const char *p, size_t n)
{
    while (n > 0 && is_space(*p)) {
        p++;
        n--;
    }
    while (n > 0 && is_space(p[n - 1]))
        n--;
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return out;
}

/* ---- Opening and the pool --------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n;
    size_t size;
} redacted_t;

static void redacted_put(redacted_t *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n && r->n + 1 < r->size; i++)
        r->p[r->n++] = s[i];
}

/* Returns where the password of a "scheme://user:password@host" URL starts, setting *end to the
 * '@' after it, or NULL when the URL has none. */
static const char *userinfo_password(const char *url, const char **end)
{
    const char *authority = strstr(url, "://");
    if (authority == NULL)
        return NULL;
    authority += 3;
    const size_t span = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < span; i++) {
        if (authority[i] == '@')
            at = authority + i;
    }
    if (at == NULL)
        return NULL;
    const char *colon = memchr(authority, ':', (size_t)(at - authority));
    if (colon == NULL)
        return NULL;
    *end = at;
    return colon + 1;
}

/* Matches "password", optional blanks and '=' where a URI query parameter or a key=value pair
 * starts, and returns the length matched (0 for no match). */
static size_t password_key(const char *url, const char *p)
{
    if (p != url && strchr("?&:; \t", p[-1]) == NULL)
        return 0;
    if (strncasecmp(p, "password", 8) != 0)
        return 0;
    size_t n = 8;
    while (p[n] == ' ' || p[n] == '\t')
        n++;
    return p[n] == '=' ? n + 1 : 0;
}

/* Skips a key=value value: up to '&' or a blank, or a single-quoted string with its escapes. */
static const char *skip_value(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\'') {
        while (*p != '\0' && *p != '&' && *p != ' ' && *p != '\t')
            p++;
        return p;
    }
    for (p++; *p != '\0' && *p != '\''; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
    }
    return *p == '\'' ? p + 1 : p;
}

void store_redact_url(const char *url, char *out, size_t size)
{
    if (size == 0)
        return;
    redacted_t r = {out, 0, size};
    const char *end = NULL;
    const char *secret = url == NULL ? NULL : userinfo_password(url, &end);
    for (const char *p = url == NULL ? "" : url; *p != '\0';) {
        if (p == secret) {
            redacted_put(&r, "***", 3);
            p = end;
            continue;
        }
        const size_t key = password_key(url, p);
        if (key > 0) {
            redacted_put(&r, p, key);
            redacted_put(&r, "***", 3);
            p = skip_value(p + key);
            continue;
        }
        redacted_put(&r, p, 1);
        p++;
    }
    out[r.n] = '\0';
}

static const store__backend_t *backend_for(const char *url, const char **target)
{
    const char *colon = strchr(url, ':');
    if (colon == NULL)
        return NULL;
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->scheme) == n && strncmp(url, backends[i]->scheme, n) == 0) {
            *target = colon + 1;
            return backends[i];
        }
    }
    return NULL;
}

static err_t pool_init(store_t *store)
{
    if (pthread_mutex_init(&store->lock, NULL) != 0)
        return ERR_NOMEM;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_mutex;
    /* The deadline must not move when the wall clock is set. */
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&store->released, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        goto fail_mutex;
    return ERR_OK;

fail_mutex:
    pthread_mutex_destroy(&store->lock);
    return ERR_NOMEM;
}

err_t store_open(const char *url, const store_options_t *options, store_t **out, char *errbuf,
                 size_t errlen)
{
    *out = NULL;
    if (errlen > 0)
        errbuf[0] = '\0';
    const char *target = NULL;
    const store__backend_t *backend = url == NULL ? NULL : backend_for(url, &target);
    if (backend == NULL) {
        char shown[256];
        store_redact_url(url, shown, sizeof(shown));
        snprintf(errbuf, errlen,
                 "unsupported store URL \"%s\": expected sqlite:PATH or "
                 "postgres://USER@HOST:PORT/DBNAME",
                 shown);
        return ERR_INVALID;
    }

    unsigned pool_size = STORE__DEFAULT_POOL;
    if (options != NULL && options->pool_size > 0)
        pool_size = options->pool_size;
    store_t *store = NULL;
    err_t err = backend->open(target, &pool_size, &store, errbuf, errlen);
    if (err != ERR_OK)
        return err;
    store->backend = backend;
    store->pool_size = pool_size;
    store->nopen = 0;
    store->idle = NULL;
    err = pool_init(store);
    if (err != ERR_OK) {
        backend->close(store);
        snprintf(errbuf, errlen, "out of memory opening the store");
        return err;
    }

    /* Open one connection now so that a bad path or a locked file is reported at start-up. */
    store_conn_t *conn = NULL;
    err = backend->conn_open(store, &conn, errbuf, errlen);
    if (err != ERR_OK) {
        pthread_cond_destroy(&store->released);
        pthread_mutex_destroy(&store->lock);
        backend->close(store);
        return err;
    }
    conn->store = store;
    conn->next_idle = NULL;
    conn->in_transaction = false;
    store->nopen = 1;
    store_release(conn);
    *out = store;
    return ERR_OK;
}

void store_close(store_t *store)
{
    if (store == NULL)
        return;
    if (store->backend->events_stop != NULL)
        store->backend->events_stop(store);
    pthread_mutex_lock(&store->lock);
    unsigned idle = 0;
    for (store_conn_t *c = store->idle; c != NULL; c = c->next_idle)
        idle++;
    if (idle < store->nopen)
        LOG_ERROR("store closed with connections in use", "in_use=%u", store->nopen - idle);
    store_conn_t *conn = store->idle;
    store->idle = NULL;
    pthread_mutex_unlock(&store->lock);
    while (conn != NULL) {
        store_conn_t *next = conn->next_idle;
        store->backend->conn_close(conn);
        conn = next;
    }
    pthread_cond_destroy(&store->released);
    pthread_mutex_destroy(&store->lock);
    store->backend->close(store);
}

static err_t open_conn(store_t *store, store_conn_t **out)
{
    char errbuf[256] = "";
    err_t err = store->backend->conn_open(store, out, errbuf, sizeof(errbuf));
    if (err != ERR_OK) {
        LOG_ERROR("store connection failed", "error=%s", log_quote(errbuf));
        pthread_mutex_lock(&store->lock);
        store->nopen--;
        pthread_cond_signal(&store->released);
        pthread_mutex_unlock(&store->lock);
        return err;
    }
    (*out)->store = store;
    (*out)->next_idle = NULL;
    (*out)->in_transaction = false;
    return ERR_OK;
}

/* Closes a connection that could not be revived and frees its place in the pool. */
static void discard_conn(store_t *store, store_conn_t *conn)
{
    store->backend->conn_close(conn);
    pthread_mutex_lock(&store->lock);
    store->nopen--;
    pthread_cond_signal(&store->released);
    pthread_mutex_unlock(&store->lock);
}

err_t store_acquire(store_t *store, store_conn_t **out)
{
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ACQUIRE_TIMEOUT_S;

    pthread_mutex_lock(&store->lock);
    for (;;) {
        if (store->idle != NULL) {
            store_conn_t *conn = store->idle;
            store->idle = conn->next_idle;
            pthread_mutex_unlock(&store->lock);
            conn->next_idle = NULL;
            if (store->backend->conn_revive != NULL && store->backend->conn_revive(conn) != ERR_OK) {
                discard_conn(store, conn);
                return ERR_STORE;
            }
            *out = conn;
            return ERR_OK;
        }
        if (store->nopen < store->pool_size) {
            store->nopen++;
            pthread_mutex_unlock(&store->lock);
            return open_conn(store, out);
        }
        int rc = pthread_cond_timedwait(&store->released, &store->lock, &deadline);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&store->lock);
            LOG_WARN("store connection pool exhausted", "pool_size=%u wait_s=%d",
                     store->pool_size, ACQUIRE_TIMEOUT_S);
            return ERR_BUSY;
        }
    }
}

void store_release(store_conn_t *conn)
{
    if (conn == NULL)
        return;
    store_t *store = conn->store;
    if (conn->in_transaction) {
        LOG_WARN("store connection released inside a transaction", "action=%s", "rollback");
        store_rollback(conn);
    }
    pthread_mutex_lock(&store->lock);
    conn->next_idle = store->idle;
    store->idle = conn;
    pthread_cond_signal(&store->released);
    pthread_mutex_unlock(&store->lock);
}

/* ---- Schema ----------------------------------------------------------------------------- */

err_t store_migrate(store_t *store, const app_t *app, char *errbuf, size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (store == NULL || app == NULL)
        return ERR_INVALID;
    store_conn_t *conn = NULL;
    err_t err = store_acquire(store, &conn);
    if (err != ERR_OK) {
        snprintf(errbuf, errlen, "no store connection: %s", err_name(err));
        return err;
    }
    err = store->backend->migrate(conn, app, errbuf, errlen);
    store_release(conn);
    return err;
}

err_t store_migrate_internal(store_t *store, char *errbuf, size_t errlen)
{
    if (errlen > 0)
        errbuf[0] = '\0';
    if (store == NULL)
        return ERR_INVALID;
    store_conn_t *conn = NULL;
    err_t err = store_acquire(store, &conn);
    if (err != ERR_OK) {
        snprintf(errbuf, errlen, "no store connection: %s", err_name(err));
        return err;
    }
    err = store->backend->migrate_internal(conn, errbuf, errlen);
    store_release(conn);
    return err;
}

err_t store_ping(store_t *store)
{
    store_conn_t *conn = NULL;
    err_t err = store_acquire(store, &conn);
    if (err != ERR_OK)
        return err;
    err = store->backend->ping(conn);
    store_release(conn);
    return err;
}

/* ---- Transactions ----------------------------------------------------------------------- */

err_t store_begin(store_conn_t *conn, bool write)
{
    if (conn->in_transaction)
        return ERR_INVALID;
    err_t err = conn->store->backend->begin(conn, write);
    if (err == ERR_OK)
        conn->in_transaction = true;
    return err;
}

/* A failed commit leaves the transaction open, so the caller's rollback still has work to do. */
err_t store_commit(store_conn_t *conn)
{
    if (!conn->in_transaction)
        return ERR_INVALID;
    err_t err = conn->store->backend->commit(conn);
    if (err == ERR_OK)
        conn->in_transaction = false;
    return err;
}

void store_rollback(store_conn_t *conn)
{
    if (!conn->in_transaction)
        return;
    conn->store->backend->rollback(conn);
    conn->in_transaction = false;
}

/* ---- Things ----------------------------------------------------------------------------- */

err_t store_get(store_conn_t *conn, const app_type_t *type, const char *id,
                const store_query_t *query, arena_t *arena, store_row_t *out)
{
    if (type == NULL || id == NULL || arena == NULL || out == NULL)
        return ERR_INVALID;
    return conn->store->backend->get(conn, type, id, query, arena, out);
}

err_t store_search(store_conn_t *conn, const app_type_t *type, const store_query_t *query,
                   arena_t *arena, store_row_t **rows, size_t *nrows, size_t *total)
{
    *rows = NULL;
    *nrows = 0;
    if (total != NULL)
        *total = 0;
    if (type == NULL || query == NULL || arena == NULL)
        return ERR_INVALID;
    if (query->count_total && total == NULL)
        return ERR_INVALID;
    return conn->store->backend->search(conn, type, query, arena, rows, nrows, total);
}

err_t store_insert(store_conn_t *conn, const app_type_t *type, const value_t *values,
                   const char *password_hash)
{
    if (type == NULL || values == NULL)
        return ERR_INVALID;
    err_t err = store__check_write(type, NULL, values);
    if (err != ERR_OK)
        return err;
    return conn->store->backend->insert(conn, type, values, type->is_user ? password_hash : NULL);
}

err_t store_update(store_conn_t *conn, const app_type_t *type, const char *id, const bool *mask,
                   const value_t *values)
{
    if (type == NULL || id == NULL || mask == NULL || values == NULL)
        return ERR_INVALID;
    err_t err = store__check_write(type, mask, values);
    if (err != ERR_OK)
        return err;
    return conn->store->backend->update(conn, type, id, mask, values);
}

err_t store_delete(store_conn_t *conn, const app_type_t *type, const char *id)
{
    if (type == NULL || id == NULL)
        return ERR_INVALID;
    return conn->store->backend->delete_thing(conn, type, id);
}

/* ---- Users ------------------------------------------------------------------------------ */

err_t store_user_by_email(store_conn_t *conn, const app_type_t *user_type, const char *email_norm,
                          arena_t *arena, char **id, char **password_hash)
{
    *id = NULL;
    *password_hash = NULL;
    if (user_type == NULL || !user_type->is_user || email_norm == NULL || arena == NULL)
        return ERR_INVALID;
    return conn->store->backend->user_by_email(conn, user_type, email_norm, arena, id,
                                               password_hash);
}

err_t store_user_set_password(store_conn_t *conn, const app_type_t *user_type, const char *id,
                              const char *password_hash)
{
    if (user_type == NULL || !user_type->is_user || id == NULL)
        return ERR_INVALID;
    return conn->store->backend->user_set_password(conn, user_type, id, password_hash);
}

/* ---- Sessions and admin tokens ---------------------------------------------------------- */

err_t store_session_insert(store_conn_t *conn, const unsigned char hash[32],
                           const store_session_t *session)
{
    if (hash == NULL || session == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_insert(conn, hash, session);
}

err_t store_admin_token_first_use(store_conn_t *conn, const unsigned char hash[32], int64_t used_ms,
                                  bool *first)
{
    if (first != NULL)
        *first = false;
    if (conn == NULL || hash == NULL || first == NULL)
        return ERR_INVALID;
    return conn->store->backend->admin_token_first_use(conn, hash, used_ms, first);
}

err_t store_session_get(store_conn_t *conn, const unsigned char hash[32], store_session_t *out)
{
    if (hash == NULL || out == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_get(conn, hash, out);
}

err_t store_session_touch(store_conn_t *conn, const unsigned char hash[32], int64_t last_used_ms)
{
    if (hash == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_touch(conn, hash, last_used_ms);
}

err_t store_session_revoke(store_conn_t *conn, const unsigned char hash[32])
{
    if (hash == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_revoke(conn, hash);
}

err_t store_admin_token_insert(store_conn_t *conn, const char *label, const unsigned char hash[32],
                               int64_t created_ms)
{
    if (label == NULL || hash == NULL || strlen(label) >= sizeof(((store_admin_token_t *)0)->label))
        return ERR_INVALID;
    return conn->store->backend->admin_token_insert(conn, label, hash, created_ms);
}

err_t store_admin_token_find(store_conn_t *conn, const unsigned char hash[32],
                             store_admin_token_t *out)
{
    if (hash == NULL || out == NULL)
        return ERR_INVALID;
    return conn->store->backend->admin_token_find(conn, hash, out);
}

err_t store_admin_token_touch(store_conn_t *conn, const unsigned char hash[32],
                              int64_t last_used_ms)
{
    if (hash == NULL)
        return ERR_INVALID;
    return conn->store->backend->admin_token_touch(conn, hash, last_used_ms);
}

err_t store_admin_token_list(store_conn_t *conn, arena_t *arena, store_admin_token_t **out,
                             size_t *count)
{
    *out = NULL;
    *count = 0;
    if (arena == NULL)
        return ERR_INVALID;
    return conn->store->backend->admin_token_list(conn, arena, out, count);
}

err_t store_admin_token_revoke(store_conn_t *conn, const char *label)
{
    if (label == NULL)
        return ERR_INVALID;
    return conn->store->backend->admin_token_revoke(conn, label);
}

/* ---- Events and counters ------------------------------------------------------------------ */

err_t store_events_start(store_t *store, store_event_fn fn, void *ud)
{
    if (store == NULL || fn == NULL)
        return ERR_INVALID;
    if (store->backend->events_start == NULL)
        return ERR_OK;
    return store->backend->events_start(store, fn, ud);
}

bool store_events_current(store_t *store)
{
    if (store == NULL || store->backend->events_current == NULL)
        return false;
    return store->backend->events_current(store);
}

err_t store_counter_hit(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                        int64_t delta, int64_t *count, int64_t *window_end_ms)
{
    if (store == NULL || key == NULL || count == NULL || window_end_ms == NULL || window_ms <= 0 ||
        delta < 0 || strlen(key) > 512)
        return ERR_INVALID;
    return store->backend->counter_hit(store, key, now_ms, window_ms, delta, count, window_end_ms);
}

err_t store_counter_clear(store_t *store, const char *key)
{
    if (store == NULL || key == NULL)
        return ERR_INVALID;
    return store->backend->counter_clear(store, key);
}

store_t *store_of(const store_conn_t *conn)
{
    return conn->store;
}

uint64_t store_conn_statements(const store_conn_t *conn)
{
    return conn->statements;
}

/* ---- Scheduled runs ----------------------------------------------------------------------- */

err_t store_job_insert(store_conn_t *conn, const store_job_t *job)
{
    if (conn == NULL || job == NULL || job->params == NULL || job->id[0] == '\0' ||
        job->workflow[0] == '\0')
        return ERR_INVALID;
    return conn->store->backend->job_insert(conn, job);
}

err_t store_job_cancel(store_conn_t *conn, const char *id)
{
    if (conn == NULL || id == NULL)
        return ERR_INVALID;
    return conn->store->backend->job_cancel(conn, id);
}

err_t store_job_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, size_t max,
                      arena_t *arena, store_job_t **jobs, size_t *count)
{
    if (conn == NULL || arena == NULL || jobs == NULL || count == NULL || max == 0 || max > 1000 ||
        lease_ms <= 0)
        return ERR_INVALID;
    return conn->store->backend->job_claim(conn, now_ms, lease_ms, max, arena, jobs, count);
}

err_t store_job_finish(store_conn_t *conn, const char *id, const char *status, int64_t now_ms)
{
    if (conn == NULL || id == NULL || status == NULL)
        return ERR_INVALID;
    return conn->store->backend->job_finish(conn, id, status, now_ms);
}

/* ---- Sessions of one user ----------------------------------------------------------------- */

err_t store_session_revoke_user(store_conn_t *conn, const char *user_id,
                                const unsigned char *keep, size_t *count)
{
    if (conn == NULL || user_id == NULL || count == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_revoke_user(conn, user_id, keep, count);
}

err_t store_session_list(store_conn_t *conn, const char *user_id, int64_t now_ms, arena_t *arena,
                         store_session_t **out, size_t *count)
{
    if (conn == NULL || user_id == NULL || arena == NULL || out == NULL || count == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_list(conn, user_id, now_ms, arena, out, count);
}

err_t store_session_revoke_id(store_conn_t *conn, const char *user_id, const char *id)
{
    if (conn == NULL || user_id == NULL || id == NULL)
        return ERR_INVALID;
    return conn->store->backend->session_revoke_id(conn, user_id, id);
}

/* ---- Password resets and the outbox ------------------------------------------------------- */

err_t store_reset_insert(store_conn_t *conn, const unsigned char hash[32], const char *user_id,
                         int64_t expires_ms)
{
    if (conn == NULL || hash == NULL || user_id == NULL || strlen(user_id) >= 40)
        return ERR_INVALID;
    return conn->store->backend->reset_insert(conn, hash, user_id, expires_ms);
}

err_t store_reset_take(store_conn_t *conn, const unsigned char hash[32], int64_t now_ms,
                       char user_id[40])
{
    if (conn == NULL || hash == NULL || user_id == NULL)
        return ERR_INVALID;
    return conn->store->backend->reset_take(conn, hash, now_ms, user_id);
}

err_t store_outbox_insert(store_conn_t *conn, const char *recipient, const char *subject,
                          const char *body, int64_t now_ms)
{
    if (conn == NULL || recipient == NULL || subject == NULL || body == NULL)
        return ERR_INVALID;
    return conn->store->backend->outbox_insert(conn, recipient, subject, body, now_ms);
}

err_t store_outbox_claim(store_conn_t *conn, int64_t now_ms, int64_t lease_ms, const char *domain,
                         size_t max, arena_t *arena, store_mail_t **mails, size_t *count)
{
    if (conn == NULL || domain == NULL || arena == NULL || mails == NULL || count == NULL ||
        max == 0 || max > 1000 || lease_ms <= 0)
        return ERR_INVALID;
    return conn->store->backend->outbox_claim(conn, now_ms, lease_ms, domain, max, arena, mails,
                                              count);
}

err_t store_outbox_finish(store_conn_t *conn, int64_t id, store_mail_outcome_t outcome,
                          int64_t now_ms, int64_t next_attempt_ms, const char *error)
{
    if (conn == NULL || (outcome != STORE_MAIL_SENT && error == NULL))
        return ERR_INVALID;
    return conn->store->backend->outbox_finish(conn, id, outcome, now_ms, next_attempt_ms, error);
}

bool store_is_shared(const store_t *store)
{
    return store != NULL && store->backend->events_start != NULL;
}

/* ---- Indexes for privacy rules ------------------------------------------------------------ */

err_t store__create_rule_indexes(const app_type_t *type, store__index_fn create, void *ud)
{
    for (size_t r = 0; r < type->nrules; r++) {
        const app_field_t *fields[16];
        size_t n = app_rule_fields(&type->rules[r], fields, 16);
        for (size_t i = 0; i < n; i++) {
            const app_field_t *f = fields[i];
            if (f->builtin == BUILTIN_ID || f->builtin == BUILTIN_CREATED_BY ||
                f->builtin == BUILTIN_CREATED_DATE)
                continue;
            if (f->type.is_list) {
                LOG_WARN("privacy rule reads a list field, which no index serves; searches of "
                         "this type scan the table",
                         "type=%s rule=%s field=%s", log_quote(type->name),
                         log_quote(type->rules[r].name), log_quote(f->name));
                continue;
            }
            char columns[STORE__MAX_IDENT + 32];
            snprintf(columns, sizeof(columns), "\"%s\", \"_created\", \"_id\"",
                     store__column_name(f));
            char suffix[STORE__MAX_IDENT];
            snprintf(suffix, sizeof(suffix), "rule_%s", store__column_name(f));
            err_t err = create(ud, suffix, columns);
            if (err != ERR_OK)
                return err;
        }
    }
    return ERR_OK;
}
