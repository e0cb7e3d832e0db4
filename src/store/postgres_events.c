/* PostgreSQL: change notifications between nodes, and throttling counters shared by all nodes.
 *
 * Every node LISTENs on one channel on a connection of its own. Revocations publish an event in
 * the same transaction as the change (pg_notify is delivered at commit), so caches on every node
 * learn of it. A node cannot tell a quiet channel from a dead one, so the listener also publishes
 * a "ping" of its own every PING_MS and waits for it to come back. PostgreSQL delivers
 * notifications in commit order, so the return of a ping sent at time t proves that every event
 * committed before t has been delivered. store_events_current is true only within TRUST_MS of the
 * send time of the newest returned ping, which bounds how stale a cache can be when the listener
 * stalls, and a listener that reconnects reports "reset", because events may have been lost while
 * it was away.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/postgres_internal.h"

#define PING_MS 25
#define TRUST_MS 75 /* a cache may lag at most this long behind committed revocations */
#define PINGS_REMEMBERED 64
#define RETRY_MS 200

struct store__pg_events {
    store__pg_t *store;
    store_event_fn fn;
    void *ud;
    pthread_t thread;
    atomic_bool stop;
    _Atomic int64_t current_until_ms; /* monotonic ms; 0 = not current */
    uint64_t nonce;                   /* distinguishes this node's pings from other nodes' */
    int64_t sent_ms[PINGS_REMEMBERED];
};

static int64_t mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Handles one notification: our own ping extends the trust window, anything else goes to fn. */
static void handle(store__pg_events_t *ev, const char *payload)
{
    uint64_t nonce, seq;
    if (sscanf(payload, "ping %" SCNx64 " %" SCNu64, &nonce, &seq) == 2) {
        if (nonce != ev->nonce)
            return;
        int64_t until = ev->sent_ms[seq % PINGS_REMEMBERED] + TRUST_MS;
        if (until > atomic_load(&ev->current_until_ms))
            atomic_store(&ev->current_until_ms, until);
        return;
    }
    ev->fn(ev->ud, payload);
}

static void drain(store__pg_events_t *ev, PGconn *pg)
{
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
        handle(ev, n->extra);
        PQfreemem(n);
    }
}

static bool run_ok(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
                              PQresultStatus(res) == PGRES_TUPLES_OK);
    PQclear(res);
    return ok;
}

/* Opens the listening connection and subscribes. Returns NULL, logged, on failure. */
static PGconn *listen_connect(store__pg_events_t *ev, bool *logged_failure)
{
    store_conn_t *conn = NULL;
    char errbuf[512] = "";
    if (ev->store->base.backend->conn_open(&ev->store->base, &conn, errbuf, sizeof(errbuf)) !=
        ERR_OK) {
        if (!*logged_failure)
            LOG_ERROR("store events connection failed; caches are off until it returns",
                      "reason=%s", log_quote(errbuf));
        *logged_failure = true;
        return NULL;
    }
    /* Only the libpq handle is kept: the listener runs plain statements, no cached ones. */
    store__pg_conn_t *c = store__pg_conn(conn);
    PGconn *pg = c->pg;
    c->pg = NULL;
    ev->store->base.backend->conn_close(conn);
    if (!run_ok(pg, "LISTEN " STORE__PG_CHANNEL)) {
        LOG_ERROR("store events LISTEN failed", "%s", "");
        PQfinish(pg);
        return NULL;
    }
    *logged_failure = false;
    LOG_INFO("store events listening", "channel=%s", STORE__PG_CHANNEL);
    return pg;
}

static bool send_ping(store__pg_events_t *ev, PGconn *pg, uint64_t seq)
{
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT pg_notify('" STORE__PG_CHANNEL "', 'ping %016" PRIx64 " %" PRIu64 "')",
             ev->nonce, seq);
    ev->sent_ms[seq % PINGS_REMEMBERED] = mono_ms();
    return run_ok(pg, sql);
}

static void *listen_main(void *arg)
{
    store__pg_events_t *ev = arg;
    PGconn *pg = NULL;
    uint64_t seq = 0;
    int64_t last_ping = 0;
    bool logged_failure = false;
    while (!atomic_load(&ev->stop)) {
        if (pg == NULL) {
            atomic_store(&ev->current_until_ms, 0);
            pg = listen_connect(ev, &logged_failure);
            if (pg == NULL) {
                sleep_ms(RETRY_MS);
                continue;
            }
            /* Events committed while no connection listened are gone: drop what depends on them. */
            ev->fn(ev->ud, "reset");
            last_ping = 0;
        }
        int64_t now = mono_ms();
        if (now - last_ping >= PING_MS) {
            if (!send_ping(ev, pg, seq++)) {
                LOG_WARN("store events connection lost; reconnecting", "%s", "");
                PQfinish(pg);
                pg = NULL;
                continue;
            }
            last_ping = now;
        }
        drain(ev, pg);
        int wait = (int)(PING_MS - (mono_ms() - last_ping));
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        if (wait > 0 && poll(&pfd, 1, wait) < 0 && errno != EINTR) {
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        if (PQconsumeInput(pg) == 0) {
            LOG_WARN("store events connection lost; reconnecting", "%s", "");
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        drain(ev, pg);
    }
    atomic_store(&ev->current_until_ms, 0);
    if (pg != NULL)
        PQfinish(pg);
    return NULL;
}

err_t store__pg_events_start(store_t *store, store_event_fn fn, void *ud)
{
    store__pg_t *s = (store__pg_t *)store;
    if (s->events != NULL)
        return ERR_INVALID;
    store__pg_events_t *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return ERR_NOMEM;
    ev->store = s;
    ev->fn = fn;
    ev->ud = ud;
    randombytes_buf(&ev->nonce, sizeof(ev->nonce));
    atomic_init(&ev->stop, false);
    atomic_init(&ev->current_until_ms, 0);
    if (pthread_create(&ev->thread, NULL, listen_main, ev) != 0) {
        free(ev);
        return ERR_INTERNAL;
    }
    s->events = ev;
    return ERR_OK;
}

void store__pg_events_stop(store_t *store)
{
    store__pg_t *s = (store__pg_t *)store;
    if (s->events == NULL)
        return;
    atomic_store(&s->events->stop, true);
    pthread_join(s->events->thread, NULL);
    free(s->events);
    s->events = NULL;
}

bool store__pg_events_current(store_t *store)
{
    const store__pg_t *s = (const store__pg_t *)store;
    return s->events != NULL && mono_ms() < atomic_load(&s->events->current_until_ms);
}

/* ---- Counters ------------------------------------------------------------------------------ */

/* Counters run on a connection of their own, outside any transaction a request holds, so a
 * failed login's count survives the rollback of that login's workflow. */
static err_t with_aux(store__pg_t *s, store__pg_conn_t **out)
{
    if (s->aux != NULL && store__pg_conn(s->aux)->broken) {
        s->base.backend->conn_close(s->aux);
        s->aux = NULL;
    }
    if (s->aux == NULL) {
        char errbuf[512] = "";
        err_t err = s->base.backend->conn_open(&s->base, &s->aux, errbuf, sizeof(errbuf));
        if (err != ERR_OK) {
            LOG_ERROR("counter connection failed", "reason=%s", log_quote(errbuf));
            s->aux = NULL;
            return err;
        }
    }
    *out = store__pg_conn(s->aux);
    return ERR_OK;
}

/* Runs a query on the counters' connection. The connection sits idle between logins, so a
 * database restart is usually noticed only by the query itself: a query that finds the connection
 * lost is retried once on a new one. aux_lock must be held. */
static err_t aux_query(store__pg_t *s, const char *sql, size_t len, const value_t *params,
                       size_t nparams, const char *op, store__pg_conn_t **c, PGresult **res)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        err_t err = with_aux(s, c);
        if (err != ERR_OK)
            return err;
        err = store__pg_query(*c, sql, len, params, nparams, op, res);
        if (err != ERR_STORE || !(*c)->broken || attempt == 1)
            return err;
        LOG_INFO("counter connection lost; retrying on a new one", "op=%s", op);
        PQclear(*res);
        *res = NULL;
    }
    return ERR_STORE;
}

err_t store__pg_counter_hit(store_t *store, const char *key, int64_t now_ms, int64_t window_ms,
                            int64_t delta, int64_t *count, int64_t *window_end_ms)
{
    static const char sql[] =
        "INSERT INTO \"_froth_counters\" (\"key\", \"window_end\", \"count\") "
        "VALUES ($1, $2::bigint + $3::bigint, $4::bigint) "
        "ON CONFLICT (\"key\") DO UPDATE SET "
        "\"count\" = CASE WHEN \"_froth_counters\".\"window_end\" <= $2::bigint THEN $4::bigint "
        "ELSE \"_froth_counters\".\"count\" + $4::bigint END, "
        "\"window_end\" = CASE WHEN \"_froth_counters\".\"window_end\" <= $2::bigint "
        "THEN $2::bigint + $3::bigint ELSE \"_froth_counters\".\"window_end\" END "
        "RETURNING \"count\", \"window_end\"";
    store__pg_t *s = (store__pg_t *)store;
    const value_t params[] = {value_text(key, strlen(key)), value_date(now_ms),
                              value_date(window_ms), value_date(delta)};
    pthread_mutex_lock(&s->aux_lock);
    store__pg_conn_t *c;
    PGresult *res = NULL;
    err_t err = aux_query(s, sql, sizeof(sql) - 1, params, 4, "count attempt", &c, &res);
    if (err == ERR_OK && PQntuples(res) == 1) {
        *count = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *window_end_ms = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    } else if (err == ERR_OK) {
        err = ERR_STORE;
    }
    PQclear(res);
    pthread_mutex_unlock(&s->aux_lock);
    return err;
}

err_t store__pg_counter_clear(store_t *store, const char *key)
{
    static const char sql[] = "DELETE FROM \"_froth_counters\" WHERE \"key\" = $1";
    store__pg_t *s = (store__pg_t *)store;
    const value_t params[] = {value_text(key, strlen(key))};
    pthread_mutex_lock(&s->aux_lock);
    store__pg_conn_t *c;
    PGresult *res = NULL;
    err_t err = aux_query(s, sql, sizeof(sql) - 1, params, 1, "clear counter", &c, &res);
    PQclear(res);
    pthread_mutex_unlock(&s->aux_lock);
    return err;
}

void store__pg_aux_close(store_t *store)
{
    store__pg_t *s = (store__pg_t *)store;
    pthread_mutex_lock(&s->aux_lock);
    if (s->aux != NULL)
        s->base.backend->conn_close(s->aux);
    s->aux = NULL;
    pthread_mutex_unlock(&s->aux_lock);
}
