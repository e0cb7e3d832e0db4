/* Runs workflow actions in one transaction. */
#include "workflow/workflow.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "expr/expr.h"
#include "json/jsonx.h"
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
    /* Password work done for step 1 before the run's transaction began, so the transaction, and
     * with it SQLite's write lock, is not held for the length of an argon2id hash. */
    struct {
        bool done;
        char hash[AUTH_HASH_SIZE]; /* sign_up: the new password's hash */
        bool known;                /* log_in: the email belongs to a user */
        bool ok;                   /* log_in: and the password matched */
        char *user_id;
    } pre;
} run_t;

static void forget_after_commit(run_t *r, const char *user_id)
{
    auth_forget_user(user_id);
    if (r->nforget < sizeof(r->forget_users) / sizeof(r->forget_users[0]))
        snprintf(r->forget_users[r->nforget++], sizeof(r->forget_users[0]), "%s", user_id);
}

static void fail(run_t *r, int status, const char *code, const char *message)
{
    r->out->status = WF_FAILED;
    r->out->http_status = status;
    r->out->code = code;
    r->out->message = message;
}

/* Checks a new password against the app's policy, failing the run with a 400 naming the rule. */
static bool password_ok(run_t *r, const char *password, size_t n)
{
    char why[160];
    if (auth_password_allowed(r->ctx->app, password, n, why, sizeof(why)))
        return true;
    const char *message = arena_strdup(r->ctx->arena, why);
    fail(r, 400, "INVALID_PASSWORD",
         message != NULL ? message : "The password does not meet the password policy");
    return false;
}

static void set_current_user(run_t *r, const char *id, size_t n)
{
    snprintf(r->user_buf, sizeof(r->user_buf), "%.*s", (int)n, id);
    r->user_id = r->user_buf;
    r->pctx.user_id = r->user_buf;
    r->env.user_id = r->user_buf;
}

static err_t eval(run_t *r, const expr_t *e, value_t *out)
{
    if (e == NULL) {
        *out = value_null();
        return ERR_OK;
    }
    return expr_eval(e, &r->env, out);
}

static err_t eval_text(run_t *r, const expr_t *e, const char **s, size_t *n)
{
    value_t v;
    err_t err = eval(r, e, &v);
    if (err != ERR_OK)
        return err;
    *s = v.kind == VAL_TEXT ? v.u.s.p : "";
    *n = v.kind == VAL_TEXT ? v.u.s.n : 0;
    return ERR_OK;
}

/* Evaluates set bindings into a values array for the type; fields not bound stay as they are. */
static err_t apply_bindings(run_t *r, const app_binding_t *set, size_t nset, value_t *values,
                            bool *mask)
{
    for (size_t i = 0; i < nset; i++) {
        value_t v;
        err_t err = eval(r, set[i].value, &v);
        if (err != ERR_OK)
            return err;
        values[set[i].field] = v;
        if (mask != NULL)
            mask[set[i].field] = true;
    }
    return ERR_OK;
}

static err_t new_thing_values(run_t *r, const app_type_t *type, value_t **values)
{
    *values = arena_calloc(r->ctx->arena, type->nfields, sizeof(value_t));
    char *id = arena_alloc(r->ctx->arena, ID_SIZE);
    if (*values == NULL || id == NULL)
        return ERR_NOMEM;
    id_generate(id);
    (*values)[0] = value_text(id, strlen(id));
    (*values)[1] = value_date(r->ctx->now_ms);
    (*values)[2] = value_date(r->ctx->now_ms);
    if (r->user_id != NULL)
        (*values)[3] = value_text(r->user_id, strlen(r->user_id));
    return ERR_OK;
}

/* Creates a session for user_id; a login that passed 2FA gets the shorter "stay logged in"
 * lifetime Bubble gives such sessions. */
static err_t issue_token(run_t *r, const app_action_t *a, const char *user_id, bool two_factor)
{
    bool stay = false;
    if (a->stay_logged_in != NULL) {
        err_t err = expr_eval_bool(a->stay_logged_in, &r->env, &stay);
        if (err != ERR_OK)
            return err;
    }
    int64_t lifetime;
    err_t err = auth_session_create(r->ctx->conn, user_id, stay, two_factor, r->ctx->now_ms,
                                    r->out->token, &lifetime);
    if (err != ERR_OK)
        return err;
    r->out->has_token = true;
    r->out->user_id = arena_strdup(r->ctx->arena, user_id);
    r->out->expires_s = lifetime;
    return ERR_OK;
}

static err_t do_sign_up(run_t *r, const app_action_t *a, value_t *result)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *email, *password;
    size_t email_n, password_n;
    err_t err = eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK)
        err = eval_text(r, a->password, &password, &password_n);
    if (err != ERR_OK)
        return err;
    char norm[256];
    if (auth_email_normalize(email, email_n, norm, sizeof(norm)) != ERR_OK) {
        fail(r, 400, "NOT_VALID_EMAIL", "The email address is not valid");
        return ERR_OK;
    }
    if (!password_ok(r, password, password_n))
        return ERR_OK;
    value_t *values;
    err = new_thing_values(r, users, &values);
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
    err = apply_bindings(r, a->set, a->nset, values, NULL);
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
        fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    LOG_INFO("user signed up", "new_user_id=%.*s", (int)values[0].u.s.n, values[0].u.s.p);
    set_current_user(r, values[0].u.s.p, values[0].u.s.n);
    *result = values[0];
    return issue_token(r, a, r->user_id, false);
}

static void fail_code(run_t *r)
{
    fail(r, 400, "INVALID_2FA_CODE", "The two-factor code is not valid");
}

/* Checks the code of a login whose password was right, when the user has 2FA enabled; otherwise
 * sets nothing. A missing code fails with 2FA_REQUIRED, and a wrong code counts toward the account lockout
 * like a wrong password, so codes cannot be guessed faster than passwords. */
static err_t check_login_code(run_t *r, const app_action_t *a, const char *id, const char *norm,
                              bool *two_factor)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *code = "";
    size_t n = 0;
    err_t err = a->two_factor_code == NULL ? ERR_OK : eval_text(r, a->two_factor_code, &code, &n);
    bool enabled = false, ok = false;
    if (err == ERR_OK)
        err = auth_two_factor_verify(r->ctx->conn, users, id, code, n, r->ctx->now_ms,
                                     r->ctx->arena, &enabled, &ok);
    if (err != ERR_OK || !enabled)
        return err;
    if (n == 0) {
        LOG_INFO("login needs a two-factor code", "%s", "");
        fail(r, 400, "2FA_REQUIRED", "This account uses two-factor authentication; send a code");
        return ERR_OK;
    }
    if (!ok) {
        auth_throttle_account_failed(store_of(r->ctx->conn), norm, r->ctx->now_ms);
        LOG_INFO("login failed", "reason=%s", "wrong_2fa_code");
        fail_code(r);
        return ERR_OK;
    }
    *two_factor = true;
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
static err_t prepare_first_step(run_t *r)
{
    if (r->wf->nactions == 0)
        return ERR_OK;
    const app_action_t *a = &r->wf->actions[0];
    if (a->only_when != NULL || (a->kind != ACT_SIGN_UP && a->kind != ACT_LOG_IN))
        return ERR_OK;
    const char *email, *password;
    size_t email_n, password_n;
    if (eval_text(r, a->email, &email, &email_n) != ERR_OK ||
        eval_text(r, a->password, &password, &password_n) != ERR_OK)
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

/* Unknown emails and wrong passwords get the same response and cost the same hash, so the
 * response does not reveal which emails have accounts. The log records the real reason. */
static err_t do_log_in(run_t *r, const app_action_t *a, value_t *result)
{
    const char *email, *password;
    size_t email_n, password_n;
    err_t err = eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK)
        err = eval_text(r, a->password, &password, &password_n);
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
            fail(r, 429, "TOO_MANY_ATTEMPTS",
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
        LOG_INFO("login failed", "reason=%s", known ? "wrong_password" : "unknown_email");
        fail(r, 400, "INVALID_LOGIN_CREDENTIALS", "We didn't find an account with those credentials");
        return ERR_OK;
    }
    bool two_factor = false;
    err = check_login_code(r, a, id, norm, &two_factor);
    if (err != ERR_OK || r->out->status != WF_DONE)
        return err;
    auth_throttle_account_succeeded(store, norm);
    set_current_user(r, id, strlen(id));
    *result = value_text(r->user_id, strlen(r->user_id));
    return issue_token(r, a, id, two_factor);
}

static err_t do_log_out(run_t *r)
{
    const auth_caller_t *caller = r->ctx->caller;
    if (caller->kind != CALLER_USER)
        return ERR_OK;
    r->logged_out = true;
    err_t err = auth_session_revoke(r->ctx->conn, caller->token_hash);
    if (err == ERR_NOT_FOUND)
        return ERR_OK;
    if (err == ERR_OK)
        LOG_INFO("user logged out", "logged_out_user=%s", caller->user_id);
    return err;
}

static err_t do_create(run_t *r, const app_action_t *a, value_t *result)
{
    const app_type_t *type = &r->ctx->app->types[a->type];
    value_t *values;
    err_t err = new_thing_values(r, type, &values);
    if (err == ERR_OK)
        err = apply_bindings(r, a->set, a->nset, values, NULL);
    if (err == ERR_OK)
        err = store_insert(r->ctx->conn, type, values, NULL);
    if (err == ERR_CONFLICT) {
        fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    *result = values[0];
    return ERR_OK;
}

/* Loads the thing an action names; fails the run with a 400 when it is empty or gone. */
static err_t load_target(run_t *r, const app_action_t *a, const app_type_t **type,
                         store_row_t *row, bool *found)
{
    value_t v;
    *found = false;
    err_t err = eval(r, a->thing, &v);
    if (err != ERR_OK)
        return err;
    *type = &r->ctx->app->types[a->thing->type.ref_type];
    if (v.kind != VAL_TEXT) {
        fail(r, 400, "ERROR", "The thing to change is empty");
        return ERR_OK;
    }
    char *id = arena_strndup(r->ctx->arena, v.u.s.p, v.u.s.n);
    if (id == NULL)
        return ERR_NOMEM;
    err = store_get(r->ctx->conn, *type, id, NULL, r->ctx->arena, row);
    if (err == ERR_NOT_FOUND) {
        fail(r, 400, "ERROR", "The thing to change no longer exists");
        return ERR_OK;
    }
    if (err == ERR_OK)
        *found = true;
    return err;
}

/* Copies the ids of a list of things, held as the JSON text of an array of ids, into *ids. */
static err_t list_ids(run_t *r, value_t v, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (v.kind != VAL_JSON)
        return v.kind == VAL_NULL ? ERR_OK : ERR_INTERNAL;
    json_t *list = NULL;
    char msg[160];
    err_t err = jsonx_parse(v.u.s.p, v.u.s.n, &list, msg, sizeof(msg));
    if (err != ERR_OK)
        return ERR_INTERNAL;
    size_t count = json_is_array(list) ? json_array_size(list) : 0;
    *ids = arena_calloc(r->ctx->arena, count + 1, sizeof(char *));
    if (*ids == NULL)
        err = ERR_NOMEM;
    for (size_t i = 0; err == ERR_OK && i < count; i++) {
        const json_t *item = json_array_get(list, i);
        if (!json_is_string(item))
            continue;
        (*ids)[*n] = arena_strdup(r->ctx->arena, json_string_value(item));
        if ((*ids)[*n] == NULL)
            err = ERR_NOMEM;
        else
            (*n)++;
    }
    json_decref(list);
    return err;
}

/* Changes every thing of a list the same way, evaluating the bindings once. Things deleted since
 * the list was made are skipped, as they are no longer part of it. The result is the list. */
static err_t make_changes_to_list(run_t *r, const app_action_t *a, value_t list, value_t *result)
{
    const app_type_t *type = &r->ctx->app->types[a->type];
    char **ids;
    size_t n;
    err_t err = list_ids(r, list, &ids, &n);
    value_t *set = arena_calloc(r->ctx->arena, type->nfields, sizeof(value_t));
    bool *mask = arena_calloc(r->ctx->arena, type->nfields, sizeof(bool));
    if (err == ERR_OK && (set == NULL || mask == NULL))
        err = ERR_NOMEM;
    if (err == ERR_OK)
        err = apply_bindings(r, a->set, a->nset, set, mask);
    for (size_t i = 0; err == ERR_OK && i < n; i++) {
        store_row_t row;
        err = store_get(r->ctx->conn, type, ids[i], NULL, r->ctx->arena, &row);
        if (err == ERR_NOT_FOUND) {
            err = ERR_OK;
            continue;
        }
        if (err != ERR_OK)
            break;
        for (size_t f = 0; f < type->nfields; f++) {
            if (mask[f])
                row.values[f] = set[f];
        }
        row.values[2] = value_date(r->ctx->now_ms);
        mask[2] = true;
        err = store_update(r->ctx->conn, type, ids[i], mask, row.values);
    }
    if (err == ERR_CONFLICT) {
        fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err == ERR_OK)
        *result = list;
    return err;
}

static err_t do_make_changes(run_t *r, const app_action_t *a, value_t *result)
{
    if (a->thing->type.is_list) {
        value_t list;
        err_t err = eval(r, a->thing, &list);
        return err != ERR_OK ? err : make_changes_to_list(r, a, list, result);
    }
    const app_type_t *type;
    store_row_t row;
    bool found;
    err_t err = load_target(r, a, &type, &row, &found);
    if (err != ERR_OK || !found)
        return err;
    bool *mask = arena_calloc(r->ctx->arena, type->nfields, sizeof(bool));
    if (mask == NULL)
        return ERR_NOMEM;
    err = apply_bindings(r, a->set, a->nset, row.values, mask);
    if (err != ERR_OK)
        return err;
    row.values[2] = value_date(r->ctx->now_ms);
    mask[2] = true;
    err = store_update(r->ctx->conn, type, row.values[0].u.s.p, mask, row.values);
    if (err == ERR_CONFLICT) {
        fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    *result = row.values[0];
    return ERR_OK;
}

/* Deletes every thing of a list, skipping things already gone. */
static err_t do_delete_list(run_t *r, const app_action_t *a)
{
    const app_type_t *type = &r->ctx->app->types[a->type];
    value_t list;
    err_t err = eval(r, a->list, &list);
    char **ids = NULL;
    size_t n = 0;
    if (err == ERR_OK)
        err = list_ids(r, list, &ids, &n);
    for (size_t i = 0; err == ERR_OK && i < n; i++) {
        err = store_delete(r->ctx->conn, type, ids[i]);
        if (err == ERR_NOT_FOUND)
            err = ERR_OK;
    }
    return err;
}

static err_t do_delete(run_t *r, const app_action_t *a)
{
    const app_type_t *type;
    store_row_t row;
    bool found;
    err_t err = load_target(r, a, &type, &row, &found);
    if (err != ERR_OK || !found)
        return err;
    return store_delete(r->ctx->conn, type, row.values[0].u.s.p);
}

/* Keeps at most RETURN_LIST_MAX items of a returned list. */
static value_t cap_list(run_t *r, value_t v)
{
    if (v.kind != VAL_JSON || v.u.s.n == 0 || v.u.s.p[0] != '[')
        return v;
    size_t items = 1, depth = 0;
    bool in_string = false;
    for (size_t i = 1; i + 1 < v.u.s.n; i++) {
        char c = v.u.s.p[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == ',' && depth == 0 && ++items > RETURN_LIST_MAX) {
            char *p = arena_strndup(r->ctx->arena, v.u.s.p, i + 1);
            if (p == NULL)
                return v;
            p[i] = ']';
            return value_json(p, i + 1);
        }
    }
    return v;
}

/* A return_data step with a content type other than JSON makes its text the whole response. */
static err_t return_text(run_t *r, const app_action_t *a)
{
    const char *text;
    size_t n;
    err_t err = eval_text(r, a->text, &text, &n);
    if (err != ERR_OK)
        return err;
    r->out->content_type = a->content_type;
    r->out->body = text;
    r->out->body_n = n;
    return ERR_OK;
}

static err_t do_return_data(run_t *r, const app_action_t *a)
{
    if (a->content_type != NULL)
        return return_text(r, a);
    r->out->content_type = NULL;
    size_t n = r->out->noutputs + a->ndata;
    wf_output_t *outs = arena_calloc(r->ctx->arena, n, sizeof(*outs));
    if (outs == NULL)
        return ERR_NOMEM;
    if (r->out->noutputs > 0)
        memcpy(outs, r->out->outputs, r->out->noutputs * sizeof(*outs));
    for (size_t i = 0; i < a->ndata; i++) {
        wf_output_t *o = &outs[r->out->noutputs + i];
        o->key = a->data[i].key;
        o->type = a->data[i].value->type;
        err_t err = eval(r, a->data[i].value, &o->value);
        if (err != ERR_OK)
            return err;
        o->value = cap_list(r, o->value);
    }
    r->out->outputs = outs;
    r->out->noutputs = n;
    return ERR_OK;
}

/* Records a run of another workflow for the scheduler. It is part of this run's transaction, so
 * a run that fails later schedules nothing. The scheduled run acts as the Current User of the
 * moment it was scheduled. */
static err_t do_schedule(run_t *r, const app_action_t *a, value_t *result)
{
    const app_workflow_t *target = &r->ctx->app->workflows[a->target_workflow];
    int64_t at = r->ctx->now_ms;
    if (a->at != NULL) {
        value_t when;
        err_t err = eval(r, a->at, &when);
        if (err != ERR_OK)
            return err;
        if (when.kind == VAL_DATE)
            at = when.u.ms;
    }
    sbuf_t params;
    sbuf_init(&params, 1 << 20);
    sbuf_putc(&params, '{');
    for (size_t i = 0; i < a->nargs; i++) {
        value_t v;
        err_t err = eval(r, a->args[i].value, &v);
        if (err != ERR_OK) {
            sbuf_deinit(&params);
            return err;
        }
        if (i > 0)
            sbuf_putc(&params, ',');
        sbuf_put_json_string(&params, a->args[i].key, strlen(a->args[i].key));
        sbuf_putc(&params, ':');
        jsonx_write_value(&params, v);
    }
    sbuf_putc(&params, '}');
    if (sbuf_error(&params) != ERR_OK) {
        err_t err = sbuf_error(&params);
        sbuf_deinit(&params);
        return err;
    }

    store_job_t job = {.run_at_ms = at, .params = params.data};
    id_generate(job.id);
    snprintf(job.workflow, sizeof(job.workflow), "%s", target->name);
    if (r->user_id != NULL) {
        job.caller_kind = CALLER_USER;
        snprintf(job.caller_id, sizeof(job.caller_id), "%s", r->user_id);
    } else if (r->ctx->caller->kind == CALLER_ADMIN) {
        job.caller_kind = CALLER_ADMIN;
        snprintf(job.caller_id, sizeof(job.caller_id), "%s", r->ctx->caller->admin_label);
    }
    err_t err = store_job_insert(r->ctx->conn, &job);
    sbuf_deinit(&params);
    if (err != ERR_OK)
        return err;
    char *id = arena_strdup(r->ctx->arena, job.id);
    if (id == NULL)
        return ERR_NOMEM;
    LOG_INFO("workflow scheduled", "job=%s workflow=%s run_at_ms=%lld", id, target->name,
             (long long)at);
    *result = value_text(id, strlen(id));
    return ERR_OK;
}

/* Cancels a scheduled run that has not started; an unknown or finished one is left alone, as
 * Bubble does. */
static err_t do_cancel(run_t *r, const app_action_t *a)
{
    const char *id;
    size_t n;
    err_t err = eval_text(r, a->job_id, &id, &n);
    if (err != ERR_OK || n == 0)
        return err;
    char *copy = arena_strndup(r->ctx->arena, id, n);
    if (copy == NULL)
        return ERR_NOMEM;
    err = store_job_cancel(r->ctx->conn, copy);
    return err == ERR_NOT_FOUND ? ERR_OK : err;
}

/* Revokes every session of the Current User but the one this request came with. */
static err_t do_log_out_others(run_t *r)
{
    if (r->user_id == NULL)
        return ERR_OK;
    const auth_caller_t *caller = r->ctx->caller;
    const bool same_user = caller->kind == CALLER_USER && strcmp(caller->user_id, r->user_id) == 0;
    size_t n = 0;
    err_t err = store_session_revoke_user(r->ctx->conn, r->user_id,
                                          same_user ? caller->token_hash : NULL, &n);
    forget_after_commit(r, r->user_id);
    if (err == ERR_OK)
        LOG_INFO("other sessions logged out", "sessions=%zu", n);
    return err;
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
    if (email.kind != VAL_TEXT || auth_email_normalize(email.u.s.p, email.u.s.n, norm,
                                                       sizeof(norm)) != ERR_OK)
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
static err_t do_change_password(run_t *r, const app_action_t *a)
{
    if (r->user_id == NULL) {
        fail(r, 400, "ERROR", "No user is logged in");
        return ERR_OK;
    }
    const char *password;
    size_t n;
    err_t err = eval_text(r, a->password, &password, &n);
    if (err != ERR_OK)
        return err;
    if (!password_ok(r, password, n))
        return ERR_OK;
    if (a->current_password != NULL) {
        const char *current;
        size_t current_n;
        bool ok = false;
        err = eval_text(r, a->current_password, &current, &current_n);
        if (err == ERR_OK)
            err = check_current_password(r, current, current_n, &ok);
        if (err != ERR_OK)
            return err;
        if (!ok) {
            fail(r, 400, "INVALID_LOGIN_CREDENTIALS", "The current password is not correct");
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
    return do_log_out_others(r);
}

/* A reset link works once and for one hour. */
#define RESET_LIFETIME_MS (60 * 60 * 1000)

/* Queues a reset email when the email belongs to a user. The response is the same either way, so
 * the action cannot be used to find out which emails have accounts. The token exists only in the
 * email and, as a hash, in the store. */
static err_t do_send_password_reset(run_t *r, const app_action_t *a)
{
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    const char *email, *link = "";
    size_t email_n, link_n = 0;
    err_t err = eval_text(r, a->email, &email, &email_n);
    if (err == ERR_OK && a->link != NULL)
        err = eval_text(r, a->link, &link, &link_n);
    if (err != ERR_OK)
        return err;
    char norm[256], *id = NULL, *hash = NULL;
    if (auth_email_normalize(email, email_n, norm, sizeof(norm)) != ERR_OK)
        return ERR_OK;
    err = store_user_by_email(r->ctx->conn, users, norm, r->ctx->arena, &id, &hash);
    if (err == ERR_NOT_FOUND) {
        LOG_INFO("password reset requested for an unknown email", "%s", "");
        return ERR_OK;
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
    if (err == ERR_OK)
        LOG_INFO("password reset email queued", "%s", "");
    return err;
}

/* Sets a new password with a reset token, which is then used up, and logs the user out
 * everywhere. Every way a token can be wrong gets the same response. */
static err_t do_reset_password(run_t *r, const app_action_t *a, value_t *result)
{
    const char *token, *password;
    size_t token_n, password_n;
    err_t err = eval_text(r, a->reset_token, &token, &token_n);
    if (err == ERR_OK)
        err = eval_text(r, a->password, &password, &password_n);
    if (err != ERR_OK)
        return err;
    if (!password_ok(r, password, password_n))
        return ERR_OK;
    unsigned char hash[32];
    auth_token_hash(token, token_n, hash);
    char user_id[40];
    err = token_n == 0 ? ERR_NOT_FOUND : store_reset_take(r->ctx->conn, hash, r->ctx->now_ms, user_id);
    if (err == ERR_NOT_FOUND) {
        fail(r, 400, "INVALID_RESET_TOKEN", "The reset link is invalid, used or expired");
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
    forget_after_commit(r, user_id);
    if (err != ERR_OK)
        return err;
    LOG_INFO("password reset", "sessions_revoked=%zu", revoked);
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
        fail(r, 400, "ERROR", "No user is logged in");
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
    err_t err = eval_text(r, a->password, &password, &n);
    if (err == ERR_OK)
        err = check_current_password(r, password, n > AUTH_PASSWORD_MAX ? AUTH_PASSWORD_MAX : n,
                                     ok);
    if (err == ERR_OK && !*ok)
        fail(r, 400, "INVALID_LOGIN_CREDENTIALS", "The password is not correct");
    return err;
}

/* Evaluates the action's code and checks the account lockout first, so a locked account accepts
 * no code at all. *locked means the run has failed with 429. */
static err_t code_or_locked(run_t *r, const app_action_t *a, const char *norm, const char **code,
                            size_t *n, bool *locked)
{
    *locked = false;
    err_t err = eval_text(r, a->two_factor_code, code, n);
    if (err != ERR_OK || norm[0] == '\0')
        return err;
    int64_t retry_after = 0;
    err = auth_throttle_account_check(store_of(r->ctx->conn), norm, r->ctx->now_ms, &retry_after);
    if (err == ERR_DENIED) {
        *locked = true;
        fail(r, 429, "TOO_MANY_ATTEMPTS", "Too many failed attempts for this account; try again later");
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
 * failed the run. */
static err_t check_action_code(run_t *r, const app_action_t *a, bool *ok)
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
        fail(r, 400, "2FA_NOT_ENABLED", "Two-factor authentication is not enabled");
    else if (!*ok)
        count_failed_code(r, norm);
    return ERR_OK;
}

/* Stores a new pending secret; the result is its otpauth:// URI, which carries the secret. */
static err_t do_enable_2fa_start(run_t *r, const app_action_t *a, value_t *result)
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
        fail(r, 400, "2FA_ALREADY_ENABLED", "Two-factor authentication is already enabled");
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
static err_t do_enable_2fa_confirm(run_t *r, const app_action_t *a, value_t *result)
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
        fail(r, 400, "2FA_NOT_STARTED", "Start two-factor enrolment before confirming it");
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
    return do_log_out_others(r);
}

static err_t do_disable_2fa(run_t *r, const app_action_t *a)
{
    bool ok = false;
    if (!require_user(r))
        return ERR_OK;
    err_t err = check_action_password(r, a, &ok);
    if (err == ERR_OK && ok)
        err = check_action_code(r, a, &ok);
    if (err != ERR_OK || !ok)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    err = auth_two_factor_disable(r->ctx->conn, users, r->user_id);
    if (err != ERR_OK)
        return err;
    LOG_INFO("two-factor authentication disabled", "%s", "");
    return do_log_out_others(r);
}

static err_t do_regenerate_recovery_codes(run_t *r, const app_action_t *a, value_t *result)
{
    bool ok = false;
    if (!require_user(r))
        return ERR_OK;
    err_t err = check_action_code(r, a, &ok);
    if (err != ERR_OK || !ok)
        return err;
    const app_type_t *users = &r->ctx->app->types[r->ctx->app->user_type];
    char *codes = NULL;
    err = auth_two_factor_regenerate(r->ctx->conn, users, r->user_id, r->ctx->arena, &codes);
    if (err != ERR_OK)
        return err;
    LOG_INFO("recovery codes replaced", "%s", "");
    *result = value_text(codes, strlen(codes));
    return ERR_OK;
}

static err_t run_action(run_t *r, const app_action_t *a, value_t *result)
{
    switch (a->kind) {
    case ACT_SIGN_UP:
        return do_sign_up(r, a, result);
    case ACT_LOG_IN:
        return do_log_in(r, a, result);
    case ACT_LOG_OUT:
        return do_log_out(r);
    case ACT_CREATE_THING:
        return do_create(r, a, result);
    case ACT_MAKE_CHANGES:
        return do_make_changes(r, a, result);
    case ACT_DELETE_THING:
        return do_delete(r, a);
    case ACT_DELETE_LIST:
        return do_delete_list(r, a);
    case ACT_RETURN_DATA:
        return do_return_data(r, a);
    case ACT_SCHEDULE_WORKFLOW:
        return do_schedule(r, a, result);
    case ACT_CANCEL_SCHEDULED:
        return do_cancel(r, a);
    case ACT_LOG_OUT_OTHER_SESSIONS:
        return do_log_out_others(r);
    case ACT_CHANGE_PASSWORD:
        return do_change_password(r, a);
    case ACT_ENABLE_2FA_START:
        return do_enable_2fa_start(r, a, result);
    case ACT_ENABLE_2FA_CONFIRM:
        return do_enable_2fa_confirm(r, a, result);
    case ACT_DISABLE_2FA:
        return do_disable_2fa(r, a);
    case ACT_REGENERATE_RECOVERY_CODES:
        return do_regenerate_recovery_codes(r, a, result);
    case ACT_SEND_PASSWORD_RESET:
        return do_send_password_reset(r, a);
    case ACT_RESET_PASSWORD:
        return do_reset_password(r, a, result);
    }
    return ERR_INTERNAL;
}

static err_t run_steps(run_t *r)
{
    const app_workflow_t *wf = r->wf;
    for (size_t i = 0; i < wf->nactions; i++) {
        const app_action_t *a = &wf->actions[i];
        r->env.steps = r->steps;
        if (a->only_when != NULL) {
            bool go = false;
            err_t err = expr_eval_bool(a->only_when, &r->env, &go);
            if (err != ERR_OK)
                return err;
            if (!go)
                continue;
        }
        err_t err = run_action(r, a, &r->steps[i]);
        if (err != ERR_OK || r->out->status != WF_DONE)
            return err;
    }
    return ERR_OK;
}

err_t wf_run(const wf_ctx_t *ctx, const app_workflow_t *wf, const value_t *params,
             wf_result_t *out)
{
    memset(out, 0, sizeof(*out));
    run_t r = {.ctx = ctx, .wf = wf, .out = out};
    r.steps = arena_calloc(ctx->arena, wf->nactions + 1, sizeof(value_t));
    if (r.steps == NULL)
        return ERR_NOMEM;
    const auth_caller_t *caller = ctx->caller;
    r.pctx = (privacy_ctx_t){
        .app = ctx->app,
        .conn = ctx->conn,
        .arena = ctx->arena,
        .user_id = caller->kind == CALLER_USER ? caller->user_id : NULL,
        .is_admin = caller->kind == CALLER_ADMIN,
        .bypass = caller->kind == CALLER_ADMIN || wf->ignore_privacy,
        .now_ms = ctx->now_ms,
    };
    r.user_id = r.pctx.user_id;
    privacy_env_for_reads(&r.pctx, &r.env);
    r.env.params = params;
    r.env.steps = r.steps;

    if (wf->only_when != NULL) {
        bool go = false;
        err_t err = expr_eval_bool(wf->only_when, &r.env, &go);
        if (err != ERR_OK)
            return err;
        if (!go) {
            out->status = WF_NOT_RUN;
            return ERR_OK;
        }
    }

    /* NOTE: password work of later steps (a log_in after another step) still runs inside the
     * transaction and holds SQLite's write lock for one argon2id hash. */
    err_t err = prepare_first_step(&r);
    if (err != ERR_OK)
        return err;
    err = store_begin(ctx->conn, true);
    if (err != ERR_OK)
        return err;
    err = run_steps(&r);
    sodium_memzero(r.pre.hash, sizeof(r.pre.hash));
    if (err != ERR_OK || out->status != WF_DONE) {
        store_rollback(ctx->conn);
        if (out->has_token) {
            sodium_memzero(out->token, sizeof(out->token));
            out->has_token = false;
        }
        return err;
    }
    err = store_commit(ctx->conn);
    if (err != ERR_OK) {
        sodium_memzero(out->token, sizeof(out->token));
        out->has_token = false;
        return err;
    }
    if (r.logged_out)
        auth_forget_token(ctx->caller->token_hash);
    for (size_t i = 0; i < r.nforget; i++)
        auth_forget_user(r.forget_users[i]);
    return ERR_OK;
}
