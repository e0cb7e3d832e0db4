/* The workflow runner: runs an API workflow's actions for one caller with typed parameters.
 *
 * Parameters arrive already parsed and type-checked (the api module does that). The run is one
 * write transaction: a failing step rolls back everything the earlier steps wrote. Privacy rules
 * limit what the run can read through references (unless the workflow ignores them), but the
 * Data API's create, modify and delete permissions do not apply to workflow actions, as in Bubble.
 */
#ifndef FROTH_WORKFLOW_H
#define FROTH_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "auth/auth.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/value.h"
#include "store/store.h"

typedef enum {
    WF_DONE = 0,    /* every step ran (or was skipped by its own condition) */
    WF_NOT_RUN,     /* the workflow's only_when was false */
    WF_FAILED,      /* a step failed in a way the client caused; see code and message */
} wf_status_t;

typedef struct {
    const char *key;
    app_vtype_t type;
    value_t value;
} wf_output_t;

typedef struct {
    wf_status_t status;
    int http_status;          /* WF_FAILED: 400, 401 or 429 */
    const char *code;         /* WF_FAILED: "USED_EMAIL", "INVALID_LOGIN_CREDENTIALS", "ERROR" */
    const char *message;      /* WF_FAILED */
    int64_t retry_after_s;    /* WF_FAILED with 429: when to try again */
    bool has_token;           /* a sign_up or log_in step issued a token */
    char token[AUTH_TOKEN_SIZE];
    const char *user_id;
    int64_t expires_s;
    wf_output_t *outputs;     /* from return_data steps, in order */
    size_t noutputs;
    /* The body of the last return_data step that ran, when it was not JSON: the response is then
     * body as it is, sent with this Content-Type, in place of the JSON envelope. NULL otherwise. */
    const char *content_type;
    const char *body;
    size_t body_n;
} wf_result_t;

typedef struct {
    const app_t *app;
    store_conn_t *conn;
    arena_t *arena;
    int64_t now_ms;
    const auth_caller_t *caller;
    /* The request's client address (after --trusted-proxies) and User-Agent, recorded with the
     * sessions the run creates and in its audit rows; both NULL for scheduled runs. */
    auth_origin_t origin;
} wf_ctx_t;

/* Runs wf with params aligned with wf->params (VAL_NULL for absent optional ones). Returns an
 * infrastructure error (store, memory, busy) as err_t; outcomes the client caused are reported in
 * out->status. The token in out must be wiped by the caller after it is sent. */
err_t wf_run(const wf_ctx_t *ctx, const app_workflow_t *wf, const value_t *params,
             wf_result_t *out) WARN_UNUSED;

/* ---- The scheduler (scheduler.c) ---- */

typedef struct wf_scheduler wf_scheduler_t;

/* Starts a thread that claims due scheduled runs from store every poll_ms and runs them as the
 * caller who scheduled them. Several nodes may run schedulers on one store: each run goes to one
 * node. The same thread deletes audit rows older than audit_days days when it starts and then
 * once an hour (audit_days 0 keeps them forever). */
err_t wf_scheduler_start(const app_t *app, store_t *store, unsigned poll_ms, unsigned audit_days,
                         wf_scheduler_t **out) WARN_UNUSED;

/* Stops the thread after the run in progress, if any. Accepts NULL. */
void wf_scheduler_stop(wf_scheduler_t *scheduler);

#endif
