/* Rule evaluation: compiled plans for searches, in-memory checks for single things. */
#include "privacy/privacy.h"

#include <string.h>

#include "core/log.h"

/* ---- Field loads for expressions ----------------------------------------------------------- */

static err_t load_raw(void *ud, const app_type_t *type, const char *id, size_t id_len,
                      const app_field_t *field, value_t *out)
{
    const privacy_ctx_t *ctx = ud;
    *out = value_null();
    char *copy = arena_strndup(ctx->arena, id, id_len);
    if (copy == NULL)
        return ERR_NOMEM;
    store_row_t row;
    err_t err = store_get(ctx->conn, type, copy, NULL, ctx->arena, &row);
    if (err == ERR_NOT_FOUND)
        return ERR_OK;
    if (err != ERR_OK)
        return err;
    *out = row.values[field->index];
    return ERR_OK;
}

/* A hidden thing reads as empty, as a missing one does, after the same one statement. */
static err_t load_visible(void *ud, const app_type_t *type, const char *id, size_t id_len,
                          const app_field_t *field, value_t *out)
{
    const privacy_ctx_t *ctx = ud;
    if (ctx->bypass)
        return load_raw(ud, type, id, id_len, field, out);
    *out = value_null();
    char *copy = arena_strndup(ctx->arena, id, id_len);
    if (copy == NULL)
        return ERR_NOMEM;
    store_row_t row;
    privacy_perms_t perms;
    const err_t err = privacy_get_visible(ctx, type, copy, &row, &perms);
    if (err == ERR_NOT_FOUND)
        return ERR_OK;
    if (err != ERR_OK)
        return err;
    if (privacy_can_view(&perms, field))
        *out = row.values[field->index];
    return ERR_OK;
}

static void env_init(const privacy_ctx_t *ctx, expr_env_t *env)
{
    memset(env, 0, sizeof(*env));
    env->app = ctx->app;
    env->user_id = ctx->user_id;
    env->is_admin = ctx->is_admin;
    env->now_ms = ctx->now_ms;
    env->arena = ctx->arena;
    env->ud = (void *)ctx;
}

void privacy_env_for_rules(const privacy_ctx_t *ctx, expr_env_t *env)
{
    env_init(ctx, env);
    env->load_field = load_raw;
}

void privacy_env_for_reads(const privacy_ctx_t *ctx, expr_env_t *env)
{
    env_init(ctx, env);
    env->load_field = load_visible;
}

/* ---- Permission sets ----------------------------------------------------------------------- */

static const app_rule_t *baseline_rule(const app_type_t *type)
{
    for (size_t i = 0; i < type->nrules; i++) {
        if (type->rules[i].everyone_else)
            return &type->rules[i];
    }
    return NULL;
}

static void perms_clear(const privacy_ctx_t *ctx, const app_type_t *type, privacy_perms_t *p)
{
    memset(p, 0, sizeof(*p));
    p->view_fields = arena_calloc(ctx->arena, type->nfields, sizeof(bool));
}

static void perms_all(privacy_perms_t *p)
{
    p->find = p->view_all = p->view_files = p->create = p->modify = p->del = true;
}

static void perms_add_rule(const app_type_t *type, const app_rule_t *rule, privacy_perms_t *p)
{
    p->find |= rule->find;
    p->view_all |= rule->view_all;
    p->view_files |= rule->view_files;
    p->create |= rule->create_via_api;
    p->modify |= rule->modify_via_api;
    p->del |= rule->delete_via_api;
    if (rule->view_fields != NULL && p->view_fields != NULL) {
        for (size_t i = 0; i < type->nfields; i++) {
            p->view_fields[i] |= rule->view_fields[i];
            p->view_some |= rule->view_fields[i];
        }
    }
}

/* A type without privacy rules is public, but the three via-API permissions stay off, as in
 * Bubble: exposing a type never makes it writable by itself. */
static void perms_baseline(const app_type_t *type, privacy_perms_t *p)
{
    if (type->public_by_default) {
        p->find = true;
        p->view_all = true;
        p->view_files = true;
        return;
    }
    const app_rule_t *base = baseline_rule(type);
    if (base != NULL)
        perms_add_rule(type, base, p);
}

bool privacy_can_view(const privacy_perms_t *perms, const app_field_t *field)
{
    if (field->builtin != BUILTIN_NONE && field->builtin != BUILTIN_EMAIL)
        return true;
    if (perms->view_all)
        return true;
    return perms->view_fields != NULL && perms->view_fields[field->index];
}

bool privacy_visible(const privacy_perms_t *perms)
{
    return perms->find || perms->view_all || perms->view_some;
}

err_t privacy_perms_for_values(const privacy_ctx_t *ctx, const app_type_t *type,
                               const value_t *values, privacy_perms_t *out)
{
    perms_clear(ctx, type, out);
    if (out->view_fields == NULL)
        return ERR_NOMEM;
    if (ctx->bypass) {
        perms_all(out);
        return ERR_OK;
    }
    perms_baseline(type, out);

    for (size_t i = 0; i < type->nrules; i++) {
        const app_rule_t *rule = &type->rules[i];
        if (rule->everyone_else || rule->when == NULL)
            continue;
        bool holds = false;
        err_t err = privacy_rule_holds(ctx, type, rule, values, &holds);
        if (err != ERR_OK)
            return err;
        if (holds)
            perms_add_rule(type, rule, out);
    }
    return ERR_OK;
}

err_t privacy_rule_holds(const privacy_ctx_t *ctx, const app_type_t *type, const app_rule_t *rule,
                         const value_t *values, bool *holds)
{
    *holds = rule->when == NULL;
    if (rule->when == NULL)
        return ERR_OK;
    expr_env_t env;
    privacy_env_for_rules(ctx, &env);
    env.this_type = type;
    env.this_values = values;
    err_t err = expr_eval_bool(rule->when, &env, holds);
    if (err != ERR_OK)
        LOG_ERROR("privacy rule evaluation failed", "type=%s rule=%s err=%s",
                  log_quote(type->name), log_quote(rule->name), err_name(err));
    return err;
}

/* ---- Plans for searches -------------------------------------------------------------------- */

err_t privacy_plan_build(const privacy_ctx_t *ctx, const app_type_t *type, privacy_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    out->type = type;
    out->bypass = ctx->bypass;
    if (ctx->bypass)
        return ERR_OK;

    out->flags = arena_calloc(ctx->arena, type->nrules + 1, sizeof(*out->flags));
    out->flag_rules = arena_calloc(ctx->arena, type->nrules + 1, sizeof(*out->flag_rules));
    if (out->flags == NULL || out->flag_rules == NULL)
        return ERR_NOMEM;

    privacy_perms_t base;
    perms_clear(ctx, type, &base);
    perms_baseline(type, &base);

    expr_env_t env;
    privacy_env_for_rules(ctx, &env);
    env.this_type = type;

    store_cond_t *find = store_cond_new(ctx->arena, base.find ? COND_TRUE : COND_OR);
    if (find == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < type->nrules; i++) {
        const app_rule_t *rule = &type->rules[i];
        if (rule->everyone_else || rule->when == NULL)
            continue;
        store_cond_t *cond = NULL;
        err_t err = expr_to_cond(rule->when, &env, &cond);
        if (err != ERR_OK) {
            LOG_ERROR("privacy rule compilation failed", "type=%s rule=%s err=%s",
                      log_quote(type->name), log_quote(rule->name), err_name(err));
            return err;
        }
        out->flags[out->nflags] = cond;
        out->flag_rules[out->nflags] = rule;
        out->nflags++;
        if (rule->find && find->kind == COND_OR) {
            find = store_cond_or(ctx->arena, find, cond);
            if (find == NULL)
                return ERR_NOMEM;
        }
    }
    out->find = find;
    return ERR_OK;
}

void privacy_perms_from_flags(const privacy_ctx_t *ctx, const privacy_plan_t *plan,
                              const bool *flags, privacy_perms_t *out)
{
    perms_clear(ctx, plan->type, out);
    if (plan->bypass) {
        perms_all(out);
        return;
    }
    perms_baseline(plan->type, out);
    for (size_t i = 0; i < plan->nflags; i++) {
        if (flags != NULL && flags[i])
            perms_add_rule(plan->type, plan->flag_rules[i], out);
    }
}

static bool rule_views(const app_rule_t *rule, const app_field_t *field)
{
    return rule->view_all || (rule->view_fields != NULL && rule->view_fields[field->index]);
}

const store_cond_t *privacy_field_visible_cond(const privacy_ctx_t *ctx, const privacy_plan_t *plan,
                                               const app_field_t *field)
{
    if (plan->bypass || (field->builtin != BUILTIN_NONE && field->builtin != BUILTIN_EMAIL))
        return store_cond_new(ctx->arena, COND_TRUE);
    privacy_perms_t base;
    perms_clear(ctx, plan->type, &base);
    perms_baseline(plan->type, &base);
    if (privacy_can_view(&base, field))
        return store_cond_new(ctx->arena, COND_TRUE);
    store_cond_t *any = store_cond_new(ctx->arena, COND_OR);
    for (size_t i = 0; any != NULL && i < plan->nflags; i++) {
        if (rule_views(plan->flag_rules[i], field))
            any = store_cond_or(ctx->arena, any, (store_cond_t *)plan->flags[i]);
    }
    return any;
}

static bool rule_constrains(const app_rule_t *rule, const app_field_t *field)
{
    return rule_views(rule, field) ||
           (rule->constrain_fields != NULL && rule->constrain_fields[field->index]);
}

const store_cond_t *privacy_field_constrainable_cond(const privacy_ctx_t *ctx,
                                                     const privacy_plan_t *plan,
                                                     const app_field_t *field)
{
    if (ctx->app->settings.search_privacy == SEARCH_PRIVACY_OFF)
        return store_cond_new(ctx->arena, COND_TRUE);
    if (plan->bypass || (field->builtin != BUILTIN_NONE && field->builtin != BUILTIN_EMAIL))
        return store_cond_new(ctx->arena, COND_TRUE);
    privacy_perms_t base;
    perms_clear(ctx, plan->type, &base);
    perms_baseline(plan->type, &base);
    const app_rule_t *everyone = baseline_rule(plan->type);
    if (privacy_can_view(&base, field) || (everyone != NULL && rule_constrains(everyone, field)))
        return store_cond_new(ctx->arena, COND_TRUE);
    store_cond_t *any = store_cond_new(ctx->arena, COND_OR);
    for (size_t i = 0; any != NULL && i < plan->nflags; i++) {
        if (rule_constrains(plan->flag_rules[i], field))
            any = store_cond_or(ctx->arena, any, (store_cond_t *)plan->flags[i]);
    }
    return any;
}

/* ---- Single things the caller may see ------------------------------------------------------ */

static bool rule_shows(const app_type_t *type, const app_rule_t *rule)
{
    if (rule->find || rule->view_all)
        return true;
    for (size_t i = 0; rule->view_fields != NULL && i < type->nfields; i++) {
        if (rule->view_fields[i])
            return true;
    }
    return false;
}

/* A condition true for the rows privacy_visible would accept. */
static const store_cond_t *visible_cond(const privacy_ctx_t *ctx, const privacy_plan_t *plan)
{
    privacy_perms_t base;
    perms_clear(ctx, plan->type, &base);
    perms_baseline(plan->type, &base);
    if (privacy_visible(&base))
        return store_cond_new(ctx->arena, COND_TRUE);
    store_cond_t *any = store_cond_new(ctx->arena, COND_OR);
    for (size_t i = 0; any != NULL && i < plan->nflags; i++) {
        if (rule_shows(plan->type, plan->flag_rules[i]))
            any = store_cond_or(ctx->arena, any, (store_cond_t *)plan->flags[i]);
    }
    return any;
}

err_t privacy_get_visible(const privacy_ctx_t *ctx, const app_type_t *type, const char *id,
                          store_row_t *row, privacy_perms_t *perms)
{
    privacy_plan_t plan;
    err_t err = privacy_plan_build(ctx, type, &plan);
    if (err != ERR_OK)
        return err;
    store_query_t query = {.flags = plan.flags, .nflags = plan.nflags};
    if (!plan.bypass && (query.where = visible_cond(ctx, &plan)) == NULL)
        return ERR_NOMEM;
    err = store_get(ctx->conn, type, id, &query, ctx->arena, row);
    if (err == ERR_OK && perms != NULL)
        privacy_perms_from_flags(ctx, &plan, row->flags, perms);
    return err;
}
