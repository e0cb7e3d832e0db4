/* The runner's authentication actions: sign-up, log-in and log-out, passwords, two-factor. */
#include "workflow/runner_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "json/jsonx.h"

/* Creates a session for user_id; a login that passed 2FA gets the shorter "stay logged in"
 * lifetime Bubble gives such sessions. The new session's id is copied into session_id. */
static err_t issue_token(run_t *r, const app_action_t *a, const char *user_id, bool two_factor,
                         char session_id[40])
{
    bool stay = false;
    if (a->stay_logged_in != NULL) {
        err_t err = expr_eval_bool(a->stay_logged_in, &r->env, &stay);
        if (err != ERR_OK)
            return err;
    }
    int64_t lifetime;
    store_session_t session;
    err_t err = auth_session_create(r->ctx->conn, user_id, stay, two_factor, &r->ctx->origin,
                                    r->ctx->now_ms, r->out->token, &session, &lifetime);
    if (err != ERR_OK)
        return err;
    memcpy(session_id, session.id, sizeof(session.id));
    char detail[96];
    snprintf(detail, sizeof(detail), "action=%s lifetime_s=%lld two_factor=%s",
             a->kind == ACT_SIGN_UP ? "sign_up" : "log_in", (long long)lifetime,
             two_factor ? "yes" : "no");
    err = wf__audit(r, (auth_audit_t){.event = "token.issued",
                                      .user_id = user_id,
                                      .session_id = session.id,
                                      .detail = detail});
    if (err != ERR_OK) {
        sodium_memzero(r->out->token, sizeof(r->out->token));
        return err;
    }
    r->out->has_token = true;
    r->out->user_id = arena_strdup(r->ctx->arena, user_id);
    r->out->expires_s = lifetime;
    return ERR_OK;
}

err_t wf__sign_up(run_t *r, const app_action_t *a, value_t *result)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *email, *password;
    size_t email_n, password_n;
    err_t err = wf__eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK)
        err = wf__eval_text(r, a->password, &password, &password_n);
    if (err != ERR_OK)
        return err;
    char norm[256];
    if (auth_email_normalize(email, email_n, norm, sizeof(norm)) != ERR_OK) {
        wf__fail(r, 400, "NOT_VALID_EMAIL", "The email address is not valid");
        return ERR_OK;
    }
    if (!wf__password_ok(r, password, password_n))
        return ERR_OK;
    value_t *values;
    err = wf__new_thing_values(r, users, &values);
    if (err != ERR_OK)
        return err;
    values[3] = values[0]; /* a user who signs up is their own creator */
    while (email_n > 0 && (*email == ' ' || *email == '\t')) {
        email++;
        email_n--;
    }
    while (email_n > 0 && (email[email_n - 1] == ' ' || email[email_n - 1] == '\t'))
        email_n--;
    values[5] = value_text(email, email_n);
    err = wf__apply_bindings(r, a->set, a->nset, values, NULL);
    if (err != ERR_OK)
        return err;

    char hash[AUTH_HASH_SIZE];
    if (r->pre.done) {
        memcpy(hash, r->pre.hash, sizeof(hash));
    } else {
        err = auth_password_hash(password, password_n, hash);
        if (err != ERR_OK)
            return err;
    }
    err = store_insert(r->ctx->conn, users, values, hash);
    sodium_memzero(hash, sizeof(hash));
    if (err == ERR_CONFLICT) {
        wf__fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    LOG_INFO("user signed up", "new_user_id=%.*s", (int)values[0].u.s.n, values[0].u.s.p);
    wf__set_current_user(r, values[0].u.s.p, values[0].u.s.n);
    *result = values[0];
    char session_id[40];
    return issue_token(r, a, r->user_id, false, session_id);
}

static void fail_code(run_t *r)
{
    wf__fail(r, 400, "INVALID_2FA_CODE", "The two-factor code is not valid");
}

/* Records a failed login. The run fails and rolls back, so the row is written after it. */
static void audit_login_failed(run_t *r, const char *user_id, const char *reason)
{
    char *detail = arena_printf(r->ctx->arena, "reason=%s", reason);
    wf__audit_late(r, (auth_audit_t){.event = "login.failed",
                                     .user_id = user_id,
                                     .detail = detail != NULL ? detail : reason});
}

/* True when verify accepted a recovery code rather than a TOTP code: it tries the code as TOTP
 * only when it has a TOTP code's shape. */
static bool is_recovery_code(const char *code, size_t n)
{
    char digits[7];
    const bool totp = auth_totp_code_digits(code, n, digits);
    sodium_memzero(digits, sizeof(digits));
    return !totp;
}

/* Tells whether a check_2fa step follows the log_in step a, to check its code. */
static bool has_later_check(const run_t *r, const app_action_t *a)
{
    for (size_t i = (size_t)(a - r->wf->actions) + 1; i < r->wf->nactions; i++) {
        if (r->wf->actions[i].kind == ACT_CHECK_2FA)
            return true;
    }
    return false;
}

/* Checks the code of a login whose password was right, when the user has 2FA enabled; otherwise
 * sets nothing. A missing code fails with 2FA_REQUIRED, and a wrong code counts toward the account
 * lockout like a wrong password, so codes cannot be guessed faster than passwords. *recovery is
 * set when the code was a recovery code. A log_in without a code of its own, followed by a
 * check_2fa step, sets *deferred instead: that step checks the code. */
static err_t check_login_code(run_t *r, const app_action_t *a, const char *id, const char *norm,
                              bool *two_factor, bool *recovery, bool *deferred)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *code = "";
    size_t n = 0;
    err_t err =
        a->two_factor_code == NULL ? ERR_OK : wf__eval_text(r, a->two_factor_code, &code, &n);
    bool enabled = false, ok = false;
    if (err == ERR_OK)
        err = auth_two_factor_verify(r->ctx->conn, users, id, code, n, r->ctx->now_ms,
                                     r->ctx->arena, &enabled, &ok);
    if (err != ERR_OK || !enabled)
        return err;
    if (n == 0 && a->two_factor_code == NULL && has_later_check(r, a)) {
        *deferred = true;
        return ERR_OK;
    }
    if (n == 0) {
        LOG_INFO("login needs a two-factor code", "%s", "");
        audit_login_failed(r, id, "two_factor_code_missing");
        wf__fail(r, 400, "2FA_REQUIRED",
                 "This account uses two-factor authentication; send a code");
        return ERR_OK;
    }
    if (!ok) {
        auth_throttle_account_failed(store_of(r->ctx->conn), norm, r->ctx->now_ms);
        LOG_INFO("login failed", "reason=%s", "wrong_2fa_code");
        audit_login_failed(r, id, "wrong_two_factor_code");
        fail_code(r);
        return ERR_OK;
    }
    *two_factor = true;
    *recovery = is_recovery_code(code, n);
    return ERR_OK;
}

/* Looks the user up by normalised email (NULL: not a valid email) and verifies the password.
 * An unknown email costs the same hash as a known one. */
static err_t check_password(run_t *r, const char *norm, const char *password, size_t password_n,
                            bool *known, bool *ok, char **id)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    char *hash = NULL;
    *known = norm != NULL;
    *ok = false;
    if (*known) {
        err_t err = store_user_by_email(r->ctx->conn, users, norm, r->ctx->arena, id, &hash);
        if (err == ERR_NOT_FOUND)
            *known = false;
        else if (err != ERR_OK)
            return err;
    }
    if (password_n > AUTH_PASSWORD_MAX)
        password_n = AUTH_PASSWORD_MAX;
    return auth_password_verify(*known ? hash : NULL, password, password_n, ok);
}

/* Does the password work of a first sign_up or log_in step before the transaction. Its inputs can
 * only use parameters, because nothing ran before it. Errors are left for the step itself to
 * meet again inside the transaction, where they are reported. */
err_t wf__prepare_first_step(run_t *r)
{
    if (r->wf->nactions == 0)
        return ERR_OK;
    const app_action_t *a = &r->wf->actions[0];
    if (a->only_when != NULL || (a->kind != ACT_SIGN_UP && a->kind != ACT_LOG_IN))
        return ERR_OK;
    const char *email, *password;
    size_t email_n, password_n;
    if (wf__eval_text(r, a->email, &email, &email_n) != ERR_OK ||
        wf__eval_text(r, a->password, &password, &password_n) != ERR_OK)
        return ERR_OK;
    if (a->kind == ACT_SIGN_UP) {
        char why[160];
        if (!auth_password_allowed(r->ctx->app, password, password_n, why, sizeof(why)))
            return ERR_OK;
        err_t err = auth_password_hash(password, password_n, r->pre.hash);
        r->pre.done = err == ERR_OK;
        return err == ERR_BUSY ? err : ERR_OK;
    }
    char norm[256];
    const bool valid = auth_email_normalize(email, email_n, norm, sizeof(norm)) == ERR_OK;
    err_t err = check_password(r, valid ? norm : NULL, password, password_n, &r->pre.known,
                               &r->pre.ok, &r->pre.user_id);
    r->pre.done = err == ERR_OK;
    return err == ERR_BUSY ? err : ERR_OK;
}

/* Returns the id of the user with this normalised email for the audit row of a login refused
 * by the lockout, or NULL when there is none or the lookup fails. */
static const char *locked_user(run_t *r, const char *norm)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    char *id = NULL, *hash = NULL;
    if (store_user_by_email(r->ctx->conn, users, norm, r->ctx->arena, &id, &hash) != ERR_OK)
        return NULL;
    return id;
}

static err_t complete_login(run_t *r, const app_action_t *a, const char *id, const char *norm,
                            bool two_factor, bool recovery, value_t *result);

/* Unknown emails and wrong passwords get the same response and cost the same hash, so the
 * response does not reveal which emails have accounts. The log records the real reason. */
err_t wf__log_in(run_t *r, const app_action_t *a, value_t *result)
{
    const char *email, *password;
    size_t email_n, password_n;
    err_t err = wf__eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK)
        err = wf__eval_text(r, a->password, &password, &password_n);
    if (err != ERR_OK)
        return err;
    char norm[256];
    char *id = NULL;
    const bool valid = auth_email_normalize(email, email_n, norm, sizeof(norm)) == ERR_OK;
    store_t *store = store_of(r->ctx->conn);
    if (valid) {
        int64_t retry_after = 0;
        err = auth_throttle_account_check(store, norm, r->ctx->now_ms, &retry_after);
        if (err == ERR_DENIED) {
            LOG_INFO("login refused: account locked", "retry_after_s=%lld", (long long)retry_after);
            audit_login_failed(r, locked_user(r, norm), "account_locked");
            wf__fail(r, 429, "TOO_MANY_ATTEMPTS",
                     "Too many failed logins for this account; try again later");
            r->out->retry_after_s = retry_after;
            return ERR_OK;
        }
        if (err != ERR_OK)
            return err;
    }
    bool known = valid, ok = false;
    if (r->pre.done) {
        known = r->pre.known;
        ok = r->pre.ok;
        id = r->pre.user_id;
    } else {
        err = check_password(r, valid ? norm : NULL, password, password_n, &known, &ok, &id);
        if (err != ERR_OK)
            return err;
    }
    if (!known || !ok) {
        if (valid)
            auth_throttle_account_failed(store, norm, r->ctx->now_ms);
        const char *reason = "wrong_password";
        if (!valid)
            reason = "invalid_email";
        else if (!known)
            reason = "unknown_email";
        LOG_INFO("login failed", "reason=%s", reason);
        audit_login_failed(r, known ? id : NULL, reason);
        wf__fail(r, 400, "INVALID_LOGIN_CREDENTIALS",
                 "We didn't find an account with those credentials");
        return ERR_OK;
    }
    bool two_factor = false, recovery = false, deferred = false;
    err = check_login_code(r, a, id, norm, &two_factor, &recovery, &deferred);
    if (err != ERR_OK || r->out->status != WF_DONE)
        return err;
    if (deferred) {
        r->pending_login.action = a;
        r->pending_login.result = result;
        r->pending_login.user_id = id;
        snprintf(r->pending_login.norm, sizeof(r->pending_login.norm), "%s", norm);
        return ERR_OK;
    }
    return complete_login(r, a, id, norm, two_factor, recovery, result);
}

/* Completes a login whose password, and code when the user has 2FA, were accepted: Current User
 * becomes the user, and a token is issued. */
static err_t complete_login(run_t *r, const app_action_t *a, const char *id, const char *norm,
                            bool two_factor, bool recovery, value_t *result)
{
    auth_throttle_account_succeeded(store_of(r->ctx->conn), norm);
    wf__set_current_user(r, id, strlen(id));
    *result = value_text(r->user_id, strlen(r->user_id));
    char session_id[40];
    err_t err = issue_token(r, a, id, two_factor, session_id);
    if (err == ERR_OK)
        err = wf__audit(r, (auth_audit_t){.event = "login.succeeded",
                                          .user_id = id,
                                          .session_id = session_id,
                                          .detail = !two_factor ? "two_factor=no"
                                                    : recovery  ? "two_factor=recovery_code"
                                                                : "two_factor=totp"});
    if (err == ERR_OK && recovery)
        err = wf__audit(r, (auth_audit_t){.event = "two_factor.recovery_code_used",
                                          .user_id = id,
                                          .detail = "action=log_in"});
    return err;
}

err_t wf__log_out(run_t *r)
{
    const auth_caller_t *caller = r->ctx->caller;
    if (caller->kind != CALLER_USER)
        return ERR_OK;
    r->logged_out = true;
    store_session_t session;
    err_t err = store_session_get(r->ctx->conn, caller->token_hash, &session);
    if (err == ERR_OK)
        err = auth_session_revoke(r->ctx->conn, caller->token_hash);
    if (err == ERR_NOT_FOUND)
        return ERR_OK;
    if (err != ERR_OK)
        return err;
    LOG_INFO("user logged out", "logged_out_user=%s", caller->user_id);
    return wf__audit(r, (auth_audit_t){.event = "session.revoked",
                                       .user_id = caller->user_id,
                                       .session_id = session.id,
                                       .detail = "by=user reason=log_out"});
}

/* Revokes every session of the Current User but the one this request came with, recording who
 * did it (by) and why in the audit log when any was revoked. */
static err_t revoke_others(run_t *r, const char *by, const char *reason)
{
    if (r->user_id == NULL)
        return ERR_OK;
    const auth_caller_t *caller = r->ctx->caller;
    const bool same_user = caller->kind == CALLER_USER && strcmp(caller->user_id, r->user_id) == 0;
    size_t n = 0;
    err_t err = store_session_revoke_user(r->ctx->conn, r->user_id,
                                          same_user ? caller->token_hash : NULL, &n);
    wf__forget_after_commit(r, r->user_id);
    if (err != ERR_OK)
        return err;
    LOG_INFO("other sessions logged out", "sessions=%zu", n);
    if (n == 0)
        return ERR_OK;
    if (caller->kind == CALLER_ADMIN)
        by = "admin";
    char *detail = arena_printf(r->ctx->arena, "by=%s reason=%s count=%zu", by, reason, n);
    if (detail == NULL)
        return ERR_NOMEM;
    return wf__audit(
        r, (auth_audit_t){.event = "session.revoked", .user_id = r->user_id, .detail = detail});
}

err_t wf__log_out_others(run_t *r)
{
    return revoke_others(r, "other_session", "log_out_other_sessions");
}

/* Checks the Current User's password; false when it does not match or the user has none. */
static err_t check_current_password(run_t *r, const char *password, size_t n, bool *ok)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    store_row_t row;
    *ok = false;
    err_t err = store_get(r->ctx->conn, users, r->user_id, NULL, r->ctx->arena, &row);
    if (err != ERR_OK)
        return err == ERR_NOT_FOUND ? ERR_OK : err;
    const value_t email = row.values[5];
    char norm[256], *id = NULL, *hash = NULL;
    if (email.kind != VAL_TEXT ||
        auth_email_normalize(email.u.s.p, email.u.s.n, norm, sizeof(norm)) != ERR_OK)
        return ERR_OK;
    /* Guessing the current password through this action counts towards the account lockout,
     * like guessing it at login. */
    store_t *store = store_of(r->ctx->conn);
    int64_t retry_after;
    err = auth_throttle_account_check(store, norm, r->ctx->now_ms, &retry_after);
    if (err == ERR_DENIED)
        return ERR_OK;
    if (err != ERR_OK)
        return err;
    err = store_user_by_email(r->ctx->conn, users, norm, r->ctx->arena, &id, &hash);
    if (err != ERR_OK)
        return err == ERR_NOT_FOUND ? ERR_OK : err;
    err = auth_password_verify(hash, password, n, ok);
    if (err == ERR_OK && !*ok)
        auth_throttle_account_failed(store, norm, r->ctx->now_ms);
    return err;
}

/* Sets the Current User's password and revokes their other sessions, so anyone who knew the
 * old password is logged out everywhere but here. */
err_t wf__change_password(run_t *r, const app_action_t *a)
{
    if (r->user_id == NULL) {
        wf__fail(r, 400, "ERROR", "No user is logged in");
        return ERR_OK;
    }
    const char *password;
    size_t n;
    err_t err = wf__eval_text(r, a->password, &password, &n);
    if (err != ERR_OK)
        return err;
    if (!wf__password_ok(r, password, n))
        return ERR_OK;
    if (a->current_password != NULL) {
        const char *current;
        size_t current_n;
        bool ok = false;
        err = wf__eval_text(r, a->current_password, &current, &current_n);
        if (err == ERR_OK)
            err = check_current_password(r, current, current_n, &ok);
        if (err != ERR_OK)
            return err;
        if (!ok) {
            wf__fail(r, 400, "INVALID_LOGIN_CREDENTIALS", "The current password is not correct");
            return ERR_OK;
        }
    }
    char hash[AUTH_HASH_SIZE];
    err = auth_password_hash(password, n, hash);
    if (err != ERR_OK)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = store_user_set_password(r->ctx->conn, users, r->user_id, hash);
    sodium_memzero(hash, sizeof(hash));
    if (err != ERR_OK)
        return err;
    LOG_INFO("password changed", "%s", "");
    err = wf__audit(r, (auth_audit_t){.event = "password.changed", .user_id = r->user_id});
    if (err != ERR_OK)
        return err;
    return revoke_others(r, "password_change", "password_changed");
}

/* A reset link works once and for one hour. */
#define RESET_LIFETIME_MS (60 * 60 * 1000)

/* Queues a reset email when the email belongs to a user. The response is the same either way, so
 * the action cannot be used to find out which emails have accounts. The token exists only in the
 * email and, as a hash, in the store. */
err_t wf__send_password_reset(run_t *r, const app_action_t *a)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *email, *link = "";
    size_t email_n, link_n = 0;
    err_t err = wf__eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK && a->link != NULL)
        err = wf__eval_text(r, a->link, &link, &link_n);
    if (err != ERR_OK)
        return err;
    char norm[256], *id = NULL, *hash = NULL;
    if (auth_email_normalize(email, email_n, norm, sizeof(norm)) != ERR_OK)
        return ERR_OK;
    err = store_user_by_email(r->ctx->conn, users, norm, r->ctx->arena, &id, &hash);
    if (err == ERR_NOT_FOUND) {
        LOG_INFO("password reset requested for an unknown email", "%s", "");
        return wf__audit(
            r, (auth_audit_t){.event = "password_reset.requested", .detail = "account=unknown"});
    }
    if (err != ERR_OK)
        return err;

    char token[AUTH_TOKEN_SIZE];
    unsigned char token_hash[32];
    auth_token_new(token, token_hash);
    err = store_reset_insert(r->ctx->conn, token_hash, id, r->ctx->now_ms + RESET_LIFETIME_MS);
    char *body = NULL;
    if (err == ERR_OK) {
        body = link_n > 0
                   ? arena_printf(r->ctx->arena,
                                  "Someone asked to reset the password of your account. To "
                                  "choose a new password, open this link within one hour:\n\n"
                                  "%.*s%stoken=%s\n\nIf you did not ask for this, ignore this "
                                  "email.\n",
                                  (int)link_n, link, memchr(link, '?', link_n) ? "&" : "?", token)
                   : arena_printf(r->ctx->arena,
                                  "Someone asked to reset the password of your account. Your "
                                  "reset code, valid for one hour:\n\n%s\n\nIf you did not "
                                  "ask for this, ignore this email.\n",
                                  token);
        err = body == NULL ? ERR_NOMEM
                           : store_outbox_insert(r->ctx->conn, norm, "Reset your password", body,
                                                 r->ctx->now_ms);
    }
    sodium_memzero(token, sizeof(token));
    if (body != NULL)
        sodium_memzero(body, strlen(body));
    if (err != ERR_OK)
        return err;
    LOG_INFO("password reset email queued", "%s", "");
    return wf__audit(r, (auth_audit_t){.event = "password_reset.requested", .user_id = id});
}

/* Sets a new password with a reset token, which is then used up, and logs the user out
 * everywhere. Every way a token can be wrong gets the same response. */
err_t wf__reset_password(run_t *r, const app_action_t *a, value_t *result)
{
    const char *token, *password;
    size_t token_n, password_n;
    err_t err = wf__eval_text(r, a->reset_token, &token, &token_n);
    if (err == ERR_OK)
        err = wf__eval_text(r, a->password, &password, &password_n);
    if (err != ERR_OK)
        return err;
    if (!wf__password_ok(r, password, password_n))
        return ERR_OK;
    unsigned char hash[32];
    auth_token_hash(token, token_n, hash);
    char user_id[40];
    err = token_n == 0 ? ERR_NOT_FOUND
                       : store_reset_take(r->ctx->conn, hash, r->ctx->now_ms, user_id);
    if (err == ERR_NOT_FOUND) {
        wf__fail(r, 400, "INVALID_RESET_TOKEN", "The reset link is invalid, used or expired");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    char password_hash[AUTH_HASH_SIZE];
    err = auth_password_hash(password, password_n, password_hash);
    if (err != ERR_OK)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = store_user_set_password(r->ctx->conn, users, user_id, password_hash);
    sodium_memzero(password_hash, sizeof(password_hash));
    if (err != ERR_OK)
        return err;
    size_t revoked = 0;
    err = store_session_revoke_user(r->ctx->conn, user_id, NULL, &revoked);
    wf__forget_after_commit(r, user_id);
    if (err != ERR_OK)
        return err;
    LOG_INFO("password reset", "sessions_revoked=%zu", revoked);
    err = wf__audit(r, (auth_audit_t){.event = "password_reset.completed", .user_id = user_id});
    char *detail =
        arena_printf(r->ctx->arena, "by=password_reset reason=password_reset count=%zu", revoked);
    if (err == ERR_OK && detail == NULL)
        err = ERR_NOMEM;
    if (err == ERR_OK && revoked > 0)
        err = wf__audit(
            r, (auth_audit_t){.event = "session.revoked", .user_id = user_id, .detail = detail});
    if (err != ERR_OK)
        return err;
    char *copy = arena_strdup(r->ctx->arena, user_id);
    if (copy == NULL)
        return ERR_NOMEM;
    *result = value_text(copy, strlen(copy));
    return ERR_OK;
}

/* ---- Two-factor authentication ------------------------------------------------------- */

static bool require_user(run_t *r)
{
    if (r->user_id == NULL)
        wf__fail(r, 400, "ERROR", "No user is logged in");
    return r->user_id != NULL;
}

/* Reads the Current User's email into *email and its normalised form into norm ("" when the
 * user has no valid email). */
static err_t current_email(run_t *r, value_t *email, char norm[256])
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    store_row_t row;
    norm[0] = '\0';
    *email = value_null();
    err_t err = store_get(r->ctx->conn, users, r->user_id, NULL, r->ctx->arena, &row);
    if (err != ERR_OK)
        return err;
    *email = row.values[5];
    if (email->kind == VAL_TEXT &&
        auth_email_normalize(email->u.s.p, email->u.s.n, norm, 256) != ERR_OK)
        norm[0] = '\0';
    return ERR_OK;
}

/* Checks the password of a 2FA action; a wrong one has failed the run. */
static err_t check_action_password(run_t *r, const app_action_t *a, bool *ok)
{
    const char *password;
    size_t n;
    err_t err = wf__eval_text(r, a->password, &password, &n);
    if (err == ERR_OK)
        err =
            check_current_password(r, password, n > AUTH_PASSWORD_MAX ? AUTH_PASSWORD_MAX : n, ok);
    if (err == ERR_OK && !*ok)
        wf__fail(r, 400, "INVALID_LOGIN_CREDENTIALS", "The password is not correct");
    return err;
}

/* Evaluates the action's code and checks the account lockout first, so a locked account accepts
 * no code at all. *locked means the run has failed with 429. */
static err_t code_or_locked(run_t *r, const app_action_t *a, const char *norm, const char **code,
                            size_t *n, bool *locked)
{
    *locked = false;
    err_t err = wf__eval_text(r, a->two_factor_code, code, n);
    if (err != ERR_OK || norm[0] == '\0')
        return err;
    int64_t retry_after = 0;
    err = auth_throttle_account_check(store_of(r->ctx->conn), norm, r->ctx->now_ms, &retry_after);
    if (err == ERR_DENIED) {
        *locked = true;
        wf__fail(r, 429, "TOO_MANY_ATTEMPTS",
                 "Too many failed attempts for this account; try again later");
        r->out->retry_after_s = retry_after;
        return ERR_OK;
    }
    return err;
}

static void count_failed_code(run_t *r, const char *norm)
{
    if (norm[0] != '\0')
        auth_throttle_account_failed(store_of(r->ctx->conn), norm, r->ctx->now_ms);
    LOG_INFO("two-factor code rejected", "%s", "");
    fail_code(r);
}

/* Checks the code of an action that needs 2FA enabled (disable, regenerate); any failure has
 * failed the run. A recovery code that was used up is recorded in the audit log. */
static err_t check_action_code(run_t *r, const app_action_t *a, const char *action, bool *ok)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    *ok = false;
    value_t email;
    char norm[256];
    const char *code;
    size_t n;
    bool locked, enabled = false;
    err_t err = current_email(r, &email, norm);
    if (err == ERR_OK)
        err = code_or_locked(r, a, norm, &code, &n, &locked);
    if (err != ERR_OK || locked)
        return err;
    err = auth_two_factor_verify(r->ctx->conn, users, r->user_id, code, n, r->ctx->now_ms,
                                 r->ctx->arena, &enabled, ok);
    if (err != ERR_OK)
        return err;
    if (!enabled)
        wf__fail(r, 400, "2FA_NOT_ENABLED", "Two-factor authentication is not enabled");
    else if (!*ok)
        count_failed_code(r, norm);
    else if (is_recovery_code(code, n))
        return wf__audit(r, (auth_audit_t){.event = "two_factor.recovery_code_used",
                                           .user_id = r->user_id,
                                           .detail = action});
    return ERR_OK;
}

/* Stores a new pending secret; the result is its otpauth:// URI, which carries the secret. */
err_t wf__enable_2fa_start(run_t *r, const app_action_t *a, value_t *result)
{
    bool ok = false;
    if (!require_user(r))
        return ERR_OK;
    err_t err = check_action_password(r, a, &ok);
    if (err != ERR_OK || !ok)
        return err;

    value_t email;
    char norm[256], *uri = NULL;
    err = current_email(r, &email, norm);
    if (err != ERR_OK)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = auth_two_factor_start(r->ctx->conn, users, r->user_id,
                                r->ctx->app->settings.two_factor_issuer,
                                email.kind == VAL_TEXT ? email.u.s.p : "",
                                email.kind == VAL_TEXT ? email.u.s.n : 0, r->ctx->arena, &uri);
    if (err == ERR_CONFLICT) {
        wf__fail(r, 400, "2FA_ALREADY_ENABLED", "Two-factor authentication is already enabled");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    LOG_INFO("two-factor enrolment started", "%s", "");
    *result = value_text(uri, strlen(uri));
    return ERR_OK;
}

/* Enables 2FA with the first code from the authenticator; the result is the recovery codes.
 * Other sessions are logged out, since they were opened without a second factor. */
err_t wf__enable_2fa_confirm(run_t *r, const app_action_t *a, value_t *result)
{
    if (!require_user(r))
        return ERR_OK;
    value_t email;
    char norm[256], *codes = NULL;
    const char *code;
    size_t n;
    bool locked;
    err_t err = current_email(r, &email, norm);
    if (err == ERR_OK)
        err = code_or_locked(r, a, norm, &code, &n, &locked);
    if (err != ERR_OK || locked)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = auth_two_factor_confirm(r->ctx->conn, users, r->user_id, code, n, r->ctx->now_ms,
                                  r->ctx->arena, &codes);
    if (err == ERR_NOT_FOUND) {
        wf__fail(r, 400, "2FA_NOT_STARTED", "Start two-factor enrolment before confirming it");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    if (codes == NULL) {
        count_failed_code(r, norm);
        return ERR_OK;
    }
    LOG_INFO("two-factor authentication enabled", "%s", "");
    *result = value_text(codes, strlen(codes));
    err = wf__audit(r, (auth_audit_t){.event = "two_factor.enabled", .user_id = r->user_id});
    if (err != ERR_OK)
        return err;
    return revoke_others(r, "two_factor_change", "two_factor_enabled");
}

err_t wf__disable_2fa(run_t *r, const app_action_t *a)
{
    bool ok = false;
    if (!require_user(r))
        return ERR_OK;
    err_t err = check_action_password(r, a, &ok);
    if (err == ERR_OK && ok)
        err = check_action_code(r, a, "action=disable_2fa", &ok);
    if (err != ERR_OK || !ok)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = auth_two_factor_disable(r->ctx->conn, users, r->user_id);
    if (err != ERR_OK)
        return err;
    LOG_INFO("two-factor authentication disabled", "%s", "");
    err = wf__audit(r, (auth_audit_t){.event = "two_factor.disabled", .user_id = r->user_id});
    if (err != ERR_OK)
        return err;
    return revoke_others(r, "two_factor_change", "two_factor_disabled");
}

err_t wf__regenerate_recovery_codes(run_t *r, const app_action_t *a, value_t *result)
{
    bool ok = false;
    if (!require_user(r))
        return ERR_OK;
    err_t err = check_action_code(r, a, "action=regenerate_recovery_codes", &ok);
    if (err != ERR_OK || !ok)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    char *codes = NULL;
    err = auth_two_factor_regenerate(r->ctx->conn, users, r->user_id, r->ctx->arena, &codes);
    if (err != ERR_OK)
        return err;
    LOG_INFO("recovery codes replaced", "%s", "");
    *result = value_text(codes, strlen(codes));
    return wf__audit(
        r, (auth_audit_t){.event = "two_factor.recovery_codes_regenerated", .user_id = r->user_id});
}

/* Checks the code of the login that waits for this step, or else the Current User's code before
 * a sensitive step. The result is yes when a code was accepted, and no when the user has no 2FA
 * and there was nothing to check. A wrong code fails the run and counts toward the lockout. */
err_t wf__check_2fa(run_t *r, const app_action_t *a, value_t *result)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const bool login = r->pending_login.action != NULL;
    const char *id = login ? r->pending_login.user_id : r->user_id;
    if (!login && !require_user(r))
        return ERR_OK;
    char norm[256];
    value_t email;
    err_t err = ERR_OK;
    if (login)
        snprintf(norm, sizeof(norm), "%s", r->pending_login.norm);
    else
        err = current_email(r, &email, norm);
    const char *code;
    size_t n;
    bool locked = false, enabled = false, ok = false;
    if (err == ERR_OK)
        err = code_or_locked(r, a, norm, &code, &n, &locked);
    if (err != ERR_OK || locked)
        return err;
    err = auth_two_factor_verify(r->ctx->conn, users, id, code, n, r->ctx->now_ms, r->ctx->arena,
                                 &enabled, &ok);
    if (err != ERR_OK)
        return err;
    if (!enabled) {
        /* A login waits only for users with 2FA, so this is a check before a sensitive step. */
        *result = value_bool(false);
        return ERR_OK;
    }
    if (!ok) {
        if (login)
            audit_login_failed(r, id, "wrong_two_factor_code");
        count_failed_code(r, norm);
        return ERR_OK;
    }
    *result = value_bool(true);
    const bool recovery = is_recovery_code(code, n);
    if (login) {
        const app_action_t *log_in = r->pending_login.action;
        r->pending_login.action = NULL;
        return complete_login(r, log_in, id, norm, true, recovery, r->pending_login.result);
    }
    if (recovery)
        return wf__audit(r, (auth_audit_t){.event = "two_factor.recovery_code_used",
                                           .user_id = id,
                                           .detail = "action=check_2fa"});
    return ERR_OK;
}

err_t wf__finish_pending_login(run_t *r)
{
    if (r->pending_login.action == NULL)
        return ERR_OK;
    LOG_INFO("login needs a two-factor code", "%s", "");
    audit_login_failed(r, r->pending_login.user_id, "two_factor_code_missing");
    wf__fail(r, 400, "2FA_REQUIRED", "This account uses two-factor authentication; send a code");
    return ERR_OK;
}
