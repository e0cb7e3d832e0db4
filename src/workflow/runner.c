/* Runs workflow actions in one transaction. */
#include "workflow/runner_internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "expr/expr.h"
#include "privacy/privacy.h"
#include "json/jsonx.h"

void wf__forget_after_commit(run_t *r, const char *user_id)
{
    auth_forget_user(user_id);
    if (r->nforget < sizeof(r->forget_users) / sizeof(r->forget_users[0]))
        snprintf(r->forget_users[r->nforget++], sizeof(r->forget_users[0]), "%s", user_id);
    else
        r->forget_all = true;
}

void wf__fail(run_t *r, int status, const char *code, const char *message)
{
    r->out->status = WF_FAILED;
    r->out->http_status = status;
    r->out->code = code;
    r->out->message = message;
}

static void add_origin(run_t *r, auth_audit_t *entry)
{
    entry->origin = &r->ctx->origin;
    if (entry->admin_label == NULL && r->ctx->caller->kind == CALLER_ADMIN)
        entry->admin_label = r->ctx->caller->admin_label;
}

err_t wf__audit(run_t *r, auth_audit_t entry)
{
    add_origin(r, &entry);
    return auth_audit(r->ctx->conn, &entry, r->ctx->now_ms);
}

void wf__audit_late(run_t *r, auth_audit_t entry)
{
    add_origin(r, &entry);
    if (r->nlate_audit < sizeof(r->late_audit) / sizeof(r->late_audit[0]))
        r->late_audit[r->nlate_audit++] = entry;
    else
        LOG_ERROR("audit row dropped: too many in one run", "event=%s", entry.event);
}

static void write_late_audit(run_t *r)
{
    for (size_t i = 0; i < r->nlate_audit; i++)
        auth_audit_or_log(r->ctx->conn, &r->late_audit[i], r->ctx->now_ms);
}

/* Checks a new password against the app's policy, failing the run with a 400 naming the rule. */
bool wf__password_ok(run_t *r, const char *password, size_t n)
{
    char why[160];
    if (auth_password_allowed(r->ctx->app, password, n, why, sizeof(why)))
        return true;
    const char *message = arena_strdup(r->ctx->arena, why);
    wf__fail(r, 400, "INVALID_PASSWORD",
             message != NULL ? message : "The password does not meet the password policy");
    return false;
}

void wf__set_current_user(run_t *r, const char *id, size_t n)
{
    snprintf(r->user_buf, sizeof(r->user_buf), "%.*s", (int)n, id);
    r->user_id = r->user_buf;
    r->pctx.user_id = r->user_buf;
    r->env.user_id = r->user_buf;
}

err_t wf__eval(run_t *r, const expr_t *e, value_t *out)
{
    if (e == NULL) {
        *out = value_null();
        return ERR_OK;
    }
    return expr_eval(e, &r->env, out);
}

err_t wf__eval_text(run_t *r, const expr_t *e, const char **s, size_t *n)
{
    value_t v;
    err_t err = wf__eval(r, e, &v);
    if (err != ERR_OK)
        return err;
    *s = v.kind == VAL_TEXT ? v.u.s.p : "";
    *n = v.kind == VAL_TEXT ? v.u.s.n : 0;
    return ERR_OK;
}

/* Evaluates set bindings into a values array for the type; fields not bound stay as they are. */
err_t wf__apply_bindings(run_t *r, const app_binding_t *set, size_t nset, value_t *values,
                         bool *mask)
{
    for (size_t i = 0; i < nset; i++) {
        value_t v;
        err_t err = wf__eval(r, set[i].value, &v);
        if (err != ERR_OK)
            return err;
        values[set[i].field] = v;
        if (mask != NULL)
            mask[set[i].field] = true;
    }
    return ERR_OK;
}

err_t wf__new_thing_values(run_t *r, const app_type_t *type, value_t **values)
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

static err_t do_create(run_t *r, const app_action_t *a, value_t *result)
{
    const app_type_t *type = &r->ctx->app->types[a->type];
    value_t *values;
    err_t err = wf__new_thing_values(r, type, &values);
    if (err == ERR_OK)
        err = wf__apply_bindings(r, a->set, a->nset, values, NULL);
    if (err == ERR_OK)
        err = store_insert(r->ctx->conn, type, values, NULL);
    if (err == ERR_CONFLICT) {
        wf__fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    *result = values[0];
    return ERR_OK;
}

/* Loads the thing an action names; fails the run with a 400 when it is empty or gone. */
static err_t load_target(run_t *r, const app_action_t *a, const app_type_t **type, store_row_t *row,
                         bool *found)
{
    value_t v;
    *found = false;
    err_t err = wf__eval(r, a->thing, &v);
    if (err != ERR_OK)
        return err;
    *type = &r->ctx->app->types[a->thing->type.ref_type];
    if (v.kind != VAL_TEXT) {
        wf__fail(r, 400, "ERROR", "The thing to change is empty");
        return ERR_OK;
    }
    char *id = arena_strndup(r->ctx->arena, v.u.s.p, v.u.s.n);
    if (id == NULL)
        return ERR_NOMEM;
    err = store_get(r->ctx->conn, *type, id, NULL, r->ctx->arena, row);
    if (err == ERR_NOT_FOUND) {
        wf__fail(r, 400, "ERROR", "The thing to change no longer exists");
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
        err = wf__apply_bindings(r, a->set, a->nset, set, mask);
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
        wf__fail(r, 400, "USED_EMAIL", "This email is already in use");
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
        err_t err = wf__eval(r, a->thing, &list);
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
    err = wf__apply_bindings(r, a->set, a->nset, row.values, mask);
    if (err != ERR_OK)
        return err;
    row.values[2] = value_date(r->ctx->now_ms);
    mask[2] = true;
    err = store_update(r->ctx->conn, type, row.values[0].u.s.p, mask, row.values);
    if (err == ERR_CONFLICT) {
        wf__fail(r, 400, "USED_EMAIL", "This email is already in use");
        return ERR_OK;
    }
    if (err != ERR_OK)
        return err;
    *result = row.values[0];
    return ERR_OK;
}

/* Deletes one thing. Deleting a user revokes their sessions, so the account's tokens stop working
 * when the run commits. */
static err_t delete_thing(run_t *r, const app_type_t *type, const char *id)
{
    err_t err = store_delete(r->ctx->conn, type, id);
    if (err != ERR_OK || type != &r->ctx->app->types[r->ctx->app->user_type])
        return err;
    auth_audit_t entry = {0};
    add_origin(r, &entry);
    err = auth_user_deleted(r->ctx->conn, id, entry, r->ctx->now_ms);
    wf__forget_after_commit(r, id);
    return err;
}

/* Deletes every thing of a list, skipping things already gone. */
static err_t do_delete_list(run_t *r, const app_action_t *a)
{
    const app_type_t *type = &r->ctx->app->types[a->type];
    value_t list;
    err_t err = wf__eval(r, a->list, &list);
    char **ids = NULL;
    size_t n = 0;
    if (err == ERR_OK)
        err = list_ids(r, list, &ids, &n);
    for (size_t i = 0; err == ERR_OK && i < n; i++) {
        err = delete_thing(r, type, ids[i]);
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
    return delete_thing(r, type, row.values[0].u.s.p);
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
    err_t err = wf__eval_text(r, a->text, &text, &n);
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
        err_t err = wf__eval(r, a->data[i].value, &o->value);
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
        err_t err = wf__eval(r, a->at, &when);
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
        err_t err = wf__eval(r, a->args[i].value, &v);
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
    err_t err = wf__eval_text(r, a->job_id, &id, &n);
    if (err != ERR_OK || n == 0)
        return err;
    char *copy = arena_strndup(r->ctx->arena, id, n);
    if (copy == NULL)
        return ERR_NOMEM;
    err = store_job_cancel(r->ctx->conn, copy);
    return err == ERR_NOT_FOUND ? ERR_OK : err;
}

static err_t run_action(run_t *r, const app_action_t *a, value_t *result)
{
    switch (a->kind) {
    case ACT_SIGN_UP:
        return wf__sign_up(r, a, result);
    case ACT_LOG_IN:
        return wf__log_in(r, a, result);
    case ACT_LOG_OUT:
        return wf__log_out(r);
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
        return wf__log_out_others(r);
    case ACT_CHANGE_PASSWORD:
        return wf__change_password(r, a);
    case ACT_ENABLE_2FA_START:
        return wf__enable_2fa_start(r, a, result);
    case ACT_ENABLE_2FA_CONFIRM:
        return wf__enable_2fa_confirm(r, a, result);
    case ACT_DISABLE_2FA:
        return wf__disable_2fa(r, a);
    case ACT_CHECK_2FA:
        return wf__check_2fa(r, a, result);
    case ACT_REGENERATE_RECOVERY_CODES:
        return wf__regenerate_recovery_codes(r, a, result);
    case ACT_SEND_PASSWORD_RESET:
        return wf__send_password_reset(r, a);
    case ACT_RESET_PASSWORD:
        return wf__reset_password(r, a, result);
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
    return wf__finish_pending_login(r);
}

err_t wf_run(const wf_ctx_t *ctx, const app_workflow_t *wf, const value_t *params, wf_result_t *out)
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
    err_t err = wf__prepare_first_step(&r);
    if (err != ERR_OK)
        return err;
    err = store_begin(ctx->conn, true);
    if (err != ERR_OK)
        return err;
    err = run_steps(&r);
    sodium_memzero(r.pre.hash, sizeof(r.pre.hash));
    if (err != ERR_OK || out->status != WF_DONE) {
        store_rollback(ctx->conn);
        write_late_audit(&r);
        if (out->has_token) {
            sodium_memzero(out->token, sizeof(out->token));
            out->has_token = false;
        }
        return err;
    }
    err = store_commit(ctx->conn);
    write_late_audit(&r);
    if (err != ERR_OK) {
        sodium_memzero(out->token, sizeof(out->token));
        out->has_token = false;
        return err;
    }
    if (r.logged_out)
        auth_forget_token(ctx->caller->token_hash);
    for (size_t i = 0; i < r.nforget; i++)
        auth_forget_user(r.forget_users[i]);
    if (r.forget_all)
        auth_forget_all();
    return ERR_OK;
}
