/* The explain report: which privacy rules of a type apply to a caller, and what they grant.
 *
 *   GET /_froth/explain?type=<type>[&user_id=<user id>][&id=<thing id>]   (admin tokens only)
 *   froth explain --type <type> [--user <user id>] [--id <thing id>]
 *
 * Every value in the report comes from the code that enforces the rules, so the report cannot
 * drift from what callers get. That code is the plan that searches run, the per-row flags the
 * store computes for one thing (as GET /obj/<type>/<id> does), and the evaluator that checks
 * writes. SQL is shown as the
 * store renders it, with placeholders, so no bound value appears in the report.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/ids.h"
#include "core/log.h"

/* One thing's flags, as the store evaluated them in one statement: whether the caller finds it,
 * then one per conditional rule of the plan, then one per field for "may view" and one per field
 * for "may constrain on". */
typedef struct {
    store_row_t row;
    bool found;
    const bool *rule_flags;
    const bool *visible;
    const bool *constrainable;
} explained_thing_t;

typedef struct {
    const app_t *app;
    const app_type_t *type;
    privacy_ctx_t ctx;
    privacy_plan_t plan;
    sbuf_t *out;
    const explained_thing_t *thing; /* NULL when no id was given */
} explain_t;

static void put_key(sbuf_t *out, const char *key, bool first)
{
    if (!first)
        sbuf_putc(out, ',');
    sbuf_put_json_string(out, key, strlen(key));
    sbuf_putc(out, ':');
}

static void put_bool(sbuf_t *out, const char *key, bool value)
{
    put_key(out, key, false);
    sbuf_puts(out, value ? "true" : "false");
}

static void put_string(sbuf_t *out, const char *key, const char *value)
{
    put_key(out, key, false);
    if (value == NULL)
        sbuf_puts(out, "null");
    else
        sbuf_put_json_string(out, value, strlen(value));
}

/* Writes the names of the fields whose entry in flags is set, in the type's order. */
static void put_field_list(sbuf_t *out, const app_type_t *type, const bool *flags)
{
    bool first = true;
    sbuf_putc(out, '[');
    for (size_t i = 0; flags != NULL && i < type->nfields; i++) {
        if (!flags[i])
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        sbuf_put_json_string(out, type->fields[i].name, strlen(type->fields[i].name));
    }
    sbuf_putc(out, ']');
}

/* Writes the SQL of cond and its parameter count under key_sql and key_params. */
static err_t put_sql(explain_t *ex, bool first, const char *key_sql, const char *key_params,
                     const store_cond_t *cond)
{
    char *sql = NULL;
    size_t nparams = 0;
    err_t err =
        store_cond_sql(store_of(ex->ctx.conn), ex->type, cond, ex->ctx.arena, &sql, &nparams);
    if (err != ERR_OK)
        return err;
    put_key(ex->out, key_sql, first);
    sbuf_put_json_string(ex->out, sql, strlen(sql));
    put_key(ex->out, key_params, false);
    sbuf_put_int(ex->out, (int64_t)nparams);
    return ERR_OK;
}

static void put_grants(explain_t *ex, const app_rule_t *rule)
{
    sbuf_t *out = ex->out;
    put_key(out, "grants", false);
    sbuf_puts(out, "{\"find\":");
    sbuf_puts(out, rule->find ? "true" : "false");
    put_key(out, "view", false);
    if (rule->view_all)
        sbuf_puts(out, "\"all\"");
    else
        put_field_list(out, ex->type, rule->view_fields);
    put_bool(out, "view_files", rule->view_files);
    put_key(out, "constrain", false);
    put_field_list(out, ex->type, rule->constrain_fields);
    put_bool(out, "create_via_api", rule->create_via_api);
    put_bool(out, "modify_via_api", rule->modify_via_api);
    put_bool(out, "delete_via_api", rule->delete_via_api);
    sbuf_putc(out, '}');
}

/* The plan's flag number for a conditional rule, or -1 for "everyone else". */
static long flag_of(const explain_t *ex, const app_rule_t *rule)
{
    for (size_t k = 0; k < ex->plan.nflags; k++) {
        if (ex->plan.flag_rules[k] == rule)
            return (long)k;
    }
    return -1;
}

/* "never" when the condition folded to false for this caller (Current User is logged out, say),
 * "always" when it folded to true, "conditional" when it depends on the thing. */
static const char *applies_in_search(const store_cond_t *cond)
{
    if (cond->kind == COND_FALSE)
        return "never";
    if (cond->kind == COND_TRUE)
        return "always";
    return "conditional";
}

static err_t put_rule(explain_t *ex, const app_rule_t *rule)
{
    sbuf_t *out = ex->out;
    sbuf_puts(out, "{\"name\":");
    sbuf_put_json_string(out, rule->name, strlen(rule->name));
    put_string(out, "when", rule->when_text);
    put_bool(out, "baseline", rule->everyone_else);
    put_grants(ex, rule);

    const long k = flag_of(ex, rule);
    if (k >= 0) {
        put_string(out, "applies_in_search", applies_in_search(ex->plan.flags[k]));
        err_t err = put_sql(ex, false, "condition_sql", "condition_parameters", ex->plan.flags[k]);
        if (err != ERR_OK)
            return err;
    } else {
        put_string(out, "applies_in_search", "always");
    }

    if (ex->thing != NULL) {
        put_bool(out, "matched", k < 0 || ex->thing->rule_flags[k]);
        bool holds = false;
        err_t err = privacy_rule_holds(&ex->ctx, ex->type, rule, ex->thing->row.values, &holds);
        if (err != ERR_OK)
            return err;
        put_bool(out, "matched_in_memory", holds);
    }
    sbuf_putc(out, '}');
    return ERR_OK;
}

/* Writes the caller's permissions on the thing: the union of the baseline and the matched
 * rules, computed by the same functions the Data API calls. */
static err_t put_permissions(explain_t *ex)
{
    const explained_thing_t *thing = ex->thing;
    privacy_perms_t perms;
    privacy_perms_from_flags(&ex->ctx, &ex->plan, thing->rule_flags, &perms);

    sbuf_t *out = ex->out;
    put_key(out, "permissions", false);
    sbuf_puts(out, "{\"find\":");
    sbuf_puts(out, thing->found ? "true" : "false");
    put_key(out, "view", false);
    if (perms.view_all)
        sbuf_puts(out, "\"all\"");
    else
        put_field_list(out, ex->type, perms.view_fields);

    bool *visible = arena_calloc(ex->ctx.arena, ex->type->nfields, sizeof(bool));
    if (visible == NULL || perms.view_fields == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < ex->type->nfields; i++)
        visible[i] = privacy_visible(&perms) && privacy_can_view(&perms, &ex->type->fields[i]);
    put_key(out, "visible_fields", false);
    put_field_list(out, ex->type, visible);
    put_key(out, "constrain", false);
    put_field_list(out, ex->type, thing->constrainable);
    put_bool(out, "view_files", perms.view_files);
    put_bool(out, "create_via_api", perms.create);
    put_bool(out, "modify_via_api", perms.modify);
    put_bool(out, "delete_via_api", perms.del);
    sbuf_putc(out, '}');
    return ERR_OK;
}

/* Reads the thing with every condition of interest as a flag of one statement. */
static err_t load_thing(explain_t *ex, const char *id, explained_thing_t *thing)
{
    const size_t nfields = ex->type->nfields;
    const size_t nflags = 1 + ex->plan.nflags + 2 * nfields;
    const store_cond_t **flags = arena_calloc(ex->ctx.arena, nflags, sizeof(*flags));
    if (flags == NULL)
        return ERR_NOMEM;
    flags[0] = ex->plan.find;
    for (size_t k = 0; k < ex->plan.nflags; k++)
        flags[1 + k] = ex->plan.flags[k];
    for (size_t i = 0; i < nfields; i++) {
        const app_field_t *f = &ex->type->fields[i];
        flags[1 + ex->plan.nflags + i] = privacy_field_visible_cond(&ex->ctx, &ex->plan, f);
        flags[1 + ex->plan.nflags + nfields + i] =
            privacy_field_constrainable_cond(&ex->ctx, &ex->plan, f);
        if (flags[1 + ex->plan.nflags + i] == NULL ||
            flags[1 + ex->plan.nflags + nfields + i] == NULL)
            return ERR_NOMEM;
    }

    const store_query_t q = {.flags = flags, .nflags = nflags};
    err_t err = store_get(ex->ctx.conn, ex->type, id, &q, ex->ctx.arena, &thing->row);
    if (err != ERR_OK)
        return err;
    thing->found = thing->row.flags[0];
    thing->rule_flags = thing->row.flags + 1;
    thing->visible = thing->row.flags + 1 + ex->plan.nflags;
    thing->constrainable = thing->visible + nfields;
    return ERR_OK;
}

static const char *search_privacy_name(app_search_privacy_t mode)
{
    switch (mode) {
    case SEARCH_PRIVACY_STRICT:
        return "strict";
    case SEARCH_PRIVACY_AUTOMATIC:
        return "automatic";
    case SEARCH_PRIVACY_OFF:
        return "off";
    }
    return "strict";
}

static err_t write_report(explain_t *ex, const char *id)
{
    sbuf_t *out = ex->out;
    sbuf_puts(out, "{\"type\":");
    sbuf_put_json_string(out, ex->type->name, strlen(ex->type->name));
    put_key(out, "caller", false);
    if (ex->ctx.user_id != NULL) {
        sbuf_puts(out, "{\"user_id\":");
        sbuf_put_json_string(out, ex->ctx.user_id, strlen(ex->ctx.user_id));
        sbuf_puts(out, ",\"anonymous\":false}");
    } else {
        sbuf_puts(out, "{\"user_id\":null,\"anonymous\":true}");
    }
    put_bool(out, "public", ex->type->public_by_default);
    put_string(out, "search_privacy", search_privacy_name(ex->app->settings.search_privacy));

    put_key(out, "rules", false);
    sbuf_putc(out, '[');
    for (size_t i = 0; i < ex->type->nrules; i++) {
        if (i > 0)
            sbuf_putc(out, ',');
        err_t err = put_rule(ex, &ex->type->rules[i]);
        if (err != ERR_OK)
            return err;
    }
    sbuf_putc(out, ']');

    put_key(out, "search", false);
    sbuf_putc(out, '{');
    err_t err = put_sql(ex, true, "find_sql", "find_parameters", ex->plan.find);
    if (err != ERR_OK)
        return err;
    sbuf_putc(out, '}');

    if (ex->thing != NULL) {
        put_key(out, "thing", false);
        sbuf_puts(out, "{\"id\":");
        sbuf_put_json_string(out, id, strlen(id));
        err = put_permissions(ex);
        if (err != ERR_OK)
            return err;
        sbuf_putc(out, '}');
    }
    sbuf_putc(out, '}');
    return sbuf_error(out);
}

static err_t check_user(const app_t *app, store_conn_t *conn, arena_t *arena, const char *user_id,
                        char *why, size_t whylen)
{
    const app_type_t *users = &app->types[app->user_type];
    store_row_t row;
    err_t err = id_is_valid(user_id, strlen(user_id))
                    ? store_get(conn, users, user_id, NULL, arena, &row)
                    : ERR_NOT_FOUND;
    if (err == ERR_NOT_FOUND)
        snprintf(why, whylen, "Missing object of type %s: object with id %s does not exist",
                 users->url_name, user_id);
    return err;
}

err_t api_explain(const app_t *app, store_conn_t *conn, arena_t *arena, int64_t now_ms,
                  const api_explain_request_t *req, sbuf_t *out, char *why, size_t whylen)
{
    const app_type_t *type =
        req->type == NULL ? NULL : app_find_type_by_url(app, req->type, strlen(req->type));
    if (req->type == NULL || *req->type == '\0') {
        snprintf(why, whylen, "Missing parameter type: the name of the type to explain");
        return ERR_INVALID;
    }
    if (type == NULL) {
        snprintf(why, whylen, "Invalid parameter type: there is no type named %s", req->type);
        return ERR_INVALID;
    }
    if (req->user_id != NULL) {
        err_t err = check_user(app, conn, arena, req->user_id, why, whylen);
        if (err != ERR_OK)
            return err;
    }

    explain_t ex = {
        .app = app,
        .type = type,
        .ctx =
            {.app = app, .conn = conn, .arena = arena, .user_id = req->user_id, .now_ms = now_ms},
        .out = out,
    };
    err_t err = privacy_plan_build(&ex.ctx, type, &ex.plan);
    if (err != ERR_OK)
        return err;

    explained_thing_t thing;
    if (req->thing_id != NULL) {
        err = id_is_valid(req->thing_id, strlen(req->thing_id))
                  ? load_thing(&ex, req->thing_id, &thing)
                  : ERR_NOT_FOUND;
        if (err == ERR_NOT_FOUND) {
            snprintf(why, whylen, "Missing object of type %s: object with id %s does not exist",
                     type->url_name, req->thing_id);
            return err;
        }
        if (err != ERR_OK)
            return err;
        ex.thing = &thing;
    }
    return write_report(&ex, req->thing_id);
}

/* ---- GET /_froth/explain ------------------------------------------------------------------ */

typedef struct {
    api_explain_request_t req;
    const char *unknown;
} query_params_t;

static bool take_param(void *ud, const char *name, const char *value)
{
    query_params_t *p = ud;
    if (strcmp(name, "type") == 0)
        p->req.type = value;
    else if (strcmp(name, "user_id") == 0)
        p->req.user_id = *value == '\0' ? NULL : value;
    else if (strcmp(name, "id") == 0)
        p->req.thing_id = *value == '\0' ? NULL : value;
    else if (strcmp(name, "api_token") != 0 && p->unknown == NULL)
        p->unknown = name;
    return true;
}

void api__explain(api_call_t *call)
{
    if (!api__authenticate_or_reply(call))
        return;
    if (call->caller.kind != CALLER_ADMIN) {
        api__reply_unauthorized(call, 401, "The explain route requires an admin API token", NULL);
        return;
    }
    if (strcmp(call->req->method, "GET") != 0) {
        http_response_header(call->res, "Allow", "GET");
        api__reply_message(call, 405, "Wrong method");
        return;
    }

    query_params_t params = {0};
    if (!http_query_each(call->req->arena, call->req->query, take_param, &params)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid query string");
        return;
    }
    if (params.unknown != NULL) {
        api__reply_envelope(call, 400, "ERROR",
                            "Unrecognized parameter: %s (expected type, user_id and id)",
                            params.unknown);
        return;
    }

    char why[512];
    sbuf_t *out = &call->res->body;
    err_t err = api_explain(call->app, call->conn, call->req->arena, call->now_ms, &params.req, out,
                            why, sizeof(why));
    if (err == ERR_INVALID) {
        api__reply_envelope(call, 400, "INVALID_DATA", "%s", why);
    } else if (err == ERR_NOT_FOUND) {
        api__reply_envelope(call, 404, "MISSING_DATA", "%s", why);
    } else if (err != ERR_OK) {
        sbuf_clear(out);
        api__reply_failure(call, err, "explain privacy rules");
    } else {
        call->res->status = 200;
    }
}
