/* The privacy rule engine: what a caller may find, view, create, modify and delete.
 *
 * Semantics follow Bubble: a type's rules grant permissions and never deny. The "everyone else"
 * rule is the baseline every caller gets; each rule whose condition holds for a thing adds its
 * permissions (a union). Admin tokens and workflows that ignore privacy bypass all of it. For
 * searches the rules compile into one store condition (find) plus one flag per conditional rule,
 * evaluated inside the SQL statement, so counts never include hidden things and field visibility
 * is known per row without a second query. Writes are checked in memory with the evaluator on
 * stored or prospective values, never on copies a client sent.
 */
#ifndef FROTH_PRIVACY_H
#define FROTH_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/arena.h"
#include "core/err.h"
#include "expr/expr.h"
#include "store/store.h"

/* Who is asking, and with what. Lives for one request. */
typedef struct privacy_ctx {
    const app_t *app;
    store_conn_t *conn;
    arena_t *arena;
    const char *user_id; /* NULL when anonymous or admin */
    bool is_admin;
    bool bypass;         /* admin token, or a workflow that ignores privacy rules */
    int64_t now_ms;
} privacy_ctx_t;

/* Permissions a caller holds on one thing. */
typedef struct {
    bool find;
    bool view_all;
    bool *view_fields; /* per field index, when !view_all */
    bool view_some;    /* at least one entry of view_fields is set */
    bool view_files;   /* may read the private files attached to the thing */
    bool create;
    bool modify;
    bool del;
} privacy_perms_t;

/* A compiled plan for searching one type as one caller. */
typedef struct {
    const app_type_t *type;
    bool bypass;
    const store_cond_t *find;         /* NULL when bypass */
    const store_cond_t **flags;       /* one per conditional rule */
    const app_rule_t **flag_rules;
    size_t nflags;
} privacy_plan_t;

/* Fills env for evaluating rule conditions as this caller: field reads through references go
 * straight to the store, because a rule's condition may look at data the caller cannot see. */
void privacy_env_for_rules(const privacy_ctx_t *ctx, expr_env_t *env);

/* Fills env for workflow expressions: field reads through references honour the caller's view
 * permissions (hidden fields read as empty) unless ctx->bypass. */
void privacy_env_for_reads(const privacy_ctx_t *ctx, expr_env_t *env);

/* Compiles the rules of type for the caller. Memory comes from ctx->arena. */
err_t privacy_plan_build(const privacy_ctx_t *ctx, const app_type_t *type,
                         privacy_plan_t *out) WARN_UNUSED;

/* Computes a row's permissions from the flags a search returned for it. */
void privacy_perms_from_flags(const privacy_ctx_t *ctx, const privacy_plan_t *plan,
                              const bool *flags, privacy_perms_t *out);

/* Computes permissions on a thing from its values by evaluating every rule in memory. */
err_t privacy_perms_for_values(const privacy_ctx_t *ctx, const app_type_t *type,
                               const value_t *values, privacy_perms_t *out) WARN_UNUSED;

/* Evaluates one rule's condition in memory on a thing's values, as privacy_perms_for_values does
 * for each rule. A rule without a condition ("everyone else") holds. Logs and returns the error
 * when evaluation fails. */
err_t privacy_rule_holds(const privacy_ctx_t *ctx, const app_type_t *type, const app_rule_t *rule,
                         const value_t *values, bool *holds) WARN_UNUSED;

/* Can the caller see this field of a thing? Built-in fields are visible on every visible thing. */
bool privacy_can_view(const privacy_perms_t *perms, const app_field_t *field);

/* Is any part of the thing visible (found or any field viewable)? */
bool privacy_visible(const privacy_perms_t *perms);

/* A condition true for rows where the caller may view (and so constrain or sort on) the field:
 * TRUE when the baseline grants it or the caller bypasses rules. NULL when out of memory. */
const store_cond_t *privacy_field_visible_cond(const privacy_ctx_t *ctx, const privacy_plan_t *plan,
                                               const app_field_t *field);

/* A condition true for rows where the caller may constrain a search on the field: where it may
 * view it, or where a matching rule lists it under "constrain". With the app setting
 * "search_privacy": "off" every field may be constrained on everywhere, as in Bubble. */
const store_cond_t *privacy_field_constrainable_cond(const privacy_ctx_t *ctx,
                                                     const privacy_plan_t *plan,
                                                     const app_field_t *field);

/* Reads the thing with this id when it exists and the caller may see it (find it, or view all or
 * some of its fields), with the caller's permissions on it. Returns ERR_NOT_FOUND otherwise. A
 * missing and a hidden thing cost the same single statement and give the same result, so a
 * caller cannot tell them apart. With ctx->bypass any existing thing is read. Memory comes from
 * ctx->arena. */
err_t privacy_get_visible(const privacy_ctx_t *ctx, const app_type_t *type, const char *id,
                          store_row_t *row, privacy_perms_t *perms) WARN_UNUSED;

#endif
