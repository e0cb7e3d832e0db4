/* Declarations shared by the workflow runner's files: the state of one run and its helpers. */
#ifndef FROTH_WORKFLOW_RUNNER_INTERNAL_H
#define FROTH_WORKFLOW_RUNNER_INTERNAL_H

#include "workflow/workflow.h"

#include "expr/expr.h"
#include "privacy/privacy.h"

/* Bubble caps lists returned by a workflow at 50 items. */
#define RETURN_LIST_MAX 50

typedef struct {
    const wf_ctx_t *ctx;
    const app_workflow_t *wf;
    privacy_ctx_t pctx;
    expr_env_t env;
    value_t *steps;
    const char *user_id; /* Current User: changes after sign_up or log_in */
    char user_buf[40];
    wf_result_t *out;
    /* Credentials revoked by this run, dropped from the cache again once the run has committed,
     * because a concurrent request may have cached them between the revocation and the commit. */
    bool logged_out;
    char forget_users[4][40];
    size_t nforget;
    bool forget_all; /* more users than forget_users holds: the whole cache is dropped */
    /* Audit rows of failed logins. The run then fails and rolls back, so they are written after
     * the rollback, outside any transaction. */
    auth_audit_t late_audit[2];
    size_t nlate_audit;
    /* Password work done for step 1 before the run's transaction began, so the transaction, and
     * with it SQLite's write lock, is not held for the length of an argon2id hash. */
    struct {
        bool done;
        char hash[AUTH_HASH_SIZE]; /* sign_up: the new password's hash */
        bool known;                /* log_in: the email belongs to a user */
        bool ok;                   /* log_in: and the password matched */
        char *user_id;
    } pre;
    /* A log_in of a user with 2FA whose code a later check_2fa step checks: no token is issued,
     * and Current User is not set, until that step accepts a code. */
    struct {
        const app_action_t *action; /* NULL when no login waits */
        value_t *result;            /* the log_in step's result, set once the login completes */
        char *user_id;
        char norm[256]; /* the normalised email, for the account lockout */
    } pending_login;
} run_t;

void wf__fail(run_t *r, int status, const char *code, const char *message);
/* Writes an audit row in the run's transaction, with the request's origin and, for an admin
 * caller, the token's label. A failed write fails the run. */
err_t wf__audit(run_t *r, auth_audit_t entry);
/* Queues an audit row to be written after the run whatever its outcome (failed logins). */
void wf__audit_late(run_t *r, auth_audit_t entry);
bool wf__password_ok(run_t *r, const char *password, size_t n);
void wf__set_current_user(run_t *r, const char *id, size_t n);
err_t wf__eval(run_t *r, const expr_t *e, value_t *out);
err_t wf__eval_text(run_t *r, const expr_t *e, const char **s, size_t *n);
void wf__forget_after_commit(run_t *r, const char *user_id);
err_t wf__apply_bindings(run_t *r, const app_binding_t *set, size_t nset, value_t *values,
                         bool *mask);
err_t wf__new_thing_values(run_t *r, const app_type_t *type, value_t **values);
err_t wf__sign_up(run_t *r, const app_action_t *a, value_t *result);
err_t wf__log_in(run_t *r, const app_action_t *a, value_t *result);
err_t wf__log_out(run_t *r);
err_t wf__log_out_others(run_t *r);
err_t wf__change_password(run_t *r, const app_action_t *a);
err_t wf__send_password_reset(run_t *r, const app_action_t *a);
err_t wf__reset_password(run_t *r, const app_action_t *a, value_t *result);
err_t wf__enable_2fa_start(run_t *r, const app_action_t *a, value_t *result);
err_t wf__enable_2fa_confirm(run_t *r, const app_action_t *a, value_t *result);
err_t wf__disable_2fa(run_t *r, const app_action_t *a);
err_t wf__regenerate_recovery_codes(run_t *r, const app_action_t *a, value_t *result);
err_t wf__prepare_first_step(run_t *r);
err_t wf__check_2fa(run_t *r, const app_action_t *a, value_t *result);
/* Fails the run with 2FA_REQUIRED when a log_in still waits for its check_2fa step. */
err_t wf__finish_pending_login(run_t *r);

#endif
