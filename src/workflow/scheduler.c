/* The scheduler: a thread that runs scheduled workflows when they are due.
 *
 * Runs wait in the store, so they survive restarts. Every node polls, and the store hands each due
 * run to exactly one node with a lease. When a node stops mid-run, its lease ends and another node
 * runs the run again. A run is therefore started at least once and, unless a node
 * dies in the middle of it, exactly once.
 */
#include "workflow/workflow.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "json/jsonx.h"

#define CLAIM_BATCH 16
#define LEASE_MS (5 * 60 * 1000) /* longer than any run; Bubble stops a run after 300 s */

/* Audit rows are pruned this often, so the table keeps at most an hour's rows past the retention.
 * Each node prunes on its own, and the deletes of several nodes overlap harmlessly. */
#define PRUNE_INTERVAL_MS (60 * 60 * 1000)
#define DAY_MS ((int64_t)24 * 60 * 60 * 1000)

struct wf_scheduler {
    const app_t *app;
    store_t *store;
    unsigned poll_ms;
    unsigned audit_days;
    int64_t next_prune_ms; /* clock_now_ms time of the next audit prune; 0 = at once */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

/* Converts one parameter from the wire form it was saved in. */
static err_t param_from_wire(arena_t *arena, app_vtype_t t, const json_t *j, value_t *out)
{
    *out = value_null();
    if (j == NULL || json_is_null(j))
        return ERR_OK;
    if (t.is_list || t.kind == FK_GEO || t.kind == FK_DATE_RANGE) {
        sbuf_t sb;
        sbuf_init(&sb, 16 << 20);
        jsonx_write(&sb, j);
        err_t err = sbuf_error(&sb);
        char *p = err == ERR_OK ? arena_strndup(arena, sbuf_cstr(&sb), sb.len) : NULL;
        size_t n = sb.len;
        sbuf_deinit(&sb);
        if (p == NULL)
            return err != ERR_OK ? err : ERR_NOMEM;
        *out = value_json(p, n);
        return ERR_OK;
    }
    switch (t.kind) {
    case FK_NUMBER:
        if (!json_is_number(j))
            return ERR_INVALID;
        *out = value_number(json_number_value(j));
        return ERR_OK;
    case FK_BOOL:
        if (!json_is_boolean(j))
            return ERR_INVALID;
        *out = value_bool(json_is_true(j));
        return ERR_OK;
    case FK_DATE: {
        int64_t ms;
        if (!json_is_string(j) ||
            clock_parse_date(json_string_value(j), json_string_length(j), NULL, &ms) != ERR_OK)
            return ERR_INVALID;
        *out = value_date(ms);
        return ERR_OK;
    }
    default:
        break;
    }
    if (!json_is_string(j))
        return ERR_INVALID;
    char *p = arena_strndup(arena, json_string_value(j), json_string_length(j));
    if (p == NULL)
        return ERR_NOMEM;
    *out = value_text(p, json_string_length(j));
    return ERR_OK;
}

static const char *run_one(wf_scheduler_t *s, store_conn_t *conn, arena_t *arena,
                           const store_job_t *job)
{
    const app_workflow_t *wf = app_find_workflow(s->app, job->workflow, strlen(job->workflow));
    if (wf == NULL) {
        LOG_ERROR("scheduled workflow no longer exists", "job=%s workflow=%s", job->id,
                  log_quote(job->workflow));
        return "failed";
    }
    json_t *root = NULL;
    char msg[160];
    if (jsonx_parse(job->params, strlen(job->params), &root, msg, sizeof(msg)) != ERR_OK ||
        !json_is_object(root)) {
        json_decref(root);
        LOG_ERROR("scheduled run has unreadable parameters", "job=%s", job->id);
        return "failed";
    }
    value_t *params = arena_calloc(arena, wf->nparams + 1, sizeof(value_t));
    err_t err = params == NULL ? ERR_NOMEM : ERR_OK;
    for (size_t i = 0; err == ERR_OK && i < wf->nparams; i++) {
        err = param_from_wire(arena, wf->params[i].type,
                              json_object_get(root, wf->params[i].name), &params[i]);
        if (err == ERR_OK && params[i].kind == VAL_NULL && !wf->params[i].optional)
            err = ERR_INVALID;
    }
    json_decref(root);
    if (err != ERR_OK) {
        LOG_ERROR("scheduled run's parameters do not fit the workflow", "job=%s workflow=%s err=%s",
                  job->id, wf->name, err_name(err));
        return "failed";
    }

    auth_caller_t caller = {.kind = (auth_caller_kind_t)job->caller_kind};
    if (caller.kind == CALLER_USER)
        snprintf(caller.user_id, sizeof(caller.user_id), "%.39s", job->caller_id);
    else if (caller.kind == CALLER_ADMIN)
        snprintf(caller.admin_label, sizeof(caller.admin_label), "%s", job->caller_id);
    else
        caller.kind = CALLER_ANONYMOUS;
    wf_ctx_t ctx = {.app = s->app, .conn = conn, .arena = arena, .now_ms = clock_now_ms(),
                    .caller = &caller};
    wf_result_t result;
    err = wf_run(&ctx, wf, params, &result);
    if (err != ERR_OK) {
        LOG_ERROR("scheduled run failed", "job=%s workflow=%s err=%s", job->id, wf->name,
                  err_name(err));
        return "failed";
    }
    if (result.status == WF_NOT_RUN)
        return "not_run";
    if (result.status == WF_FAILED) {
        LOG_WARN("scheduled run failed", "job=%s workflow=%s code=%s message=%s", job->id,
                 wf->name, result.code, log_quote(result.message));
        return "failed";
    }
    return "done";
}

/* Claims and runs one batch of due runs. Returns how many ran. */
static size_t run_due(wf_scheduler_t *s)
{
    store_conn_t *conn;
    if (store_acquire(s->store, &conn) != ERR_OK)
        return 0;
    arena_t *arena = arena_new(64 * 1024, 256u << 20);
    store_job_t *jobs = NULL;
    size_t n = 0;
    err_t err = arena == NULL ? ERR_NOMEM
                              : store_job_claim(conn, clock_now_ms(), LEASE_MS, CLAIM_BATCH, arena,
                                                &jobs, &n);
    if (err != ERR_OK)
        LOG_ERROR("claiming scheduled runs failed", "err=%s", err_name(err));
    for (size_t i = 0; err == ERR_OK && i < n; i++) {
        const char *status = run_one(s, conn, arena, &jobs[i]);
        LOG_INFO("scheduled run finished", "job=%s workflow=%s status=%s attempt=%d", jobs[i].id,
                 log_quote(jobs[i].workflow), status, jobs[i].attempts);
        if (store_job_finish(conn, jobs[i].id, status, clock_now_ms()) != ERR_OK)
            LOG_ERROR("recording a scheduled run's end failed", "job=%s", jobs[i].id);
    }
    arena_free(arena);
    store_release(conn);
    return err == ERR_OK ? n : 0;
}

/* Deletes the audit rows past the retention when the prune is due. */
static void prune_audit(wf_scheduler_t *s)
{
    const int64_t now = clock_now_ms();
    if (s->audit_days == 0 || now < s->next_prune_ms)
        return;
    s->next_prune_ms = now + PRUNE_INTERVAL_MS;
    store_conn_t *conn;
    size_t count = 0;
    err_t err = store_acquire(s->store, &conn);
    if (err == ERR_OK) {
        err = store_audit_prune(conn, now - (int64_t)s->audit_days * DAY_MS, &count);
        store_release(conn);
    }
    if (err != ERR_OK)
        LOG_ERROR("pruning the audit log failed", "err=%s", err_name(err));
    else if (count > 0)
        LOG_INFO("audit log pruned", "rows=%zu audit_days=%u", count, s->audit_days);
}

static void *scheduler_main(void *arg)
{
    wf_scheduler_t *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        pthread_mutex_unlock(&s->lock);
        prune_audit(s);
        size_t ran = run_due(s);
        pthread_mutex_lock(&s->lock);
        if (ran == CLAIM_BATCH || s->stop)
            continue; /* more may be due at once */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(s->poll_ms % 1000) * 1000000L;
        until.tv_sec += s->poll_ms / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->wake, &s->lock, &until);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

err_t wf_scheduler_start(const app_t *app, store_t *store, unsigned poll_ms, unsigned audit_days,
                         wf_scheduler_t **out)
{
    wf_scheduler_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    s->app = app;
    s->store = store;
    s->poll_ms = poll_ms == 0 ? 1000 : poll_ms;
    s->audit_days = audit_days;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        free(s);
        return ERR_INTERNAL;
    }
    *out = s;
    return ERR_OK;
}

void wf_scheduler_stop(wf_scheduler_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
