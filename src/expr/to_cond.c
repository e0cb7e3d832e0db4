/* Compiles a yes/no expression over This <Type> into a store condition for a search.
 *
 * Every part that does not mention This is evaluated once with expr_eval and becomes a constant,
 * so the caller's values are bound per request, never per row. What remains are conditions on a
 * path "This's f1's f2's ... fn", which become a condition on fn wrapped in one COND_REF_MATCH per
 * hop. The compiled condition must hold exactly when expr_eval would return yes for that thing.
 */
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"

/* A condition on the last field of a path, before the hops are wrapped around it. */
typedef struct {
    store_cond_kind_t kind; /* COND_CMP, COND_IS_[NOT_]EMPTY, COND_*_CONTAINS or COND_IN */
    store_cmp_t op;
    value_t value;
    const value_t *values;
    size_t nvalues;
    bool negate;
} leaf_t;

static bool mentions_this(const expr_t *e)
{
    if (e == NULL)
        return false;
    if (e->kind == EXPR_THIS)
        return true;
    return mentions_this(e->left) || mentions_this(e->right);
}

static err_t const_cond(arena_t *arena, bool b, store_cond_t **out)
{
    *out = store_cond_new(arena, b ? COND_TRUE : COND_FALSE);
    return *out != NULL ? ERR_OK : ERR_NOMEM;
}

static bool is_const(const store_cond_t *c)
{
    return c->kind == COND_TRUE || c->kind == COND_FALSE;
}

/* Negates c, in place where an exact opposite exists. Conditions built here are never shared,
 * so changing one cannot affect another. */
static store_cond_t *negate(arena_t *arena, store_cond_t *c)
{
    switch (c->kind) {
    case COND_TRUE:
        c->kind = COND_FALSE;
        return c;
    case COND_FALSE:
        c->kind = COND_TRUE;
        return c;
    case COND_IS_EMPTY:
        c->kind = COND_IS_NOT_EMPTY;
        return c;
    case COND_IS_NOT_EMPTY:
        c->kind = COND_IS_EMPTY;
        return c;
    case COND_NOT:
        return c->kids[0];
    case COND_CMP:
        /* CMP_NE holds on an empty field where CMP_EQ does not, so the two are exact
         * opposites. The orderings are not: both "<" and ">=" fail on an empty field. */
        if (c->op == CMP_EQ || c->op == CMP_NE) {
            c->op = c->op == CMP_EQ ? CMP_NE : CMP_EQ;
            return c;
        }
        break;
    default:
        break;
    }
    return store_cond_not(arena, c);
}

static store_cmp_t flip(store_cmp_t op)
{
    switch (op) {
    case CMP_LT:
        return CMP_GT;
    case CMP_LE:
        return CMP_GE;
    case CMP_GT:
        return CMP_LT;
    case CMP_GE:
        return CMP_LE;
    case CMP_EQ:
    case CMP_NE:
        break;
    }
    return op;
}

/* What the leaf yields for a thing whose field is empty, or that a hop fails to reach: expr_eval
 * reads an empty value in both cases. */
static bool leaf_holds_on_empty(const leaf_t *leaf)
{
    bool holds = false;
    if (leaf->kind == COND_CMP)
        holds = expr__apply_cmp(leaf->op, value_null(), leaf->value);
    else if (leaf->kind == COND_IS_EMPTY)
        holds = true;
    return holds != leaf->negate;
}

static store_cond_t *leaf_on_field(arena_t *arena, const app_field_t *field, const leaf_t *leaf)
{
    const bool empty = expr__value_is_empty(leaf->value);
    store_cond_t *c;

    switch (leaf->kind) {
    case COND_CMP:
        if (!empty)
            c = store_cond_cmp(arena, field, leaf->op, leaf->value);
        else if (leaf->op == CMP_EQ || leaf->op == CMP_NE)
            c = store_cond_new(arena, leaf->op == CMP_EQ ? COND_IS_EMPTY : COND_IS_NOT_EMPTY);
        else
            c = store_cond_new(arena, COND_FALSE);
        break;
    case COND_LIST_CONTAINS:
    case COND_TEXT_CONTAINS:
        c = store_cond_new(arena, empty ? COND_FALSE : leaf->kind);
        if (c != NULL && !empty)
            c->value = leaf->value;
        break;
    case COND_IN:
        c = store_cond_new(arena, leaf->nvalues == 0 ? COND_FALSE : COND_IN);
        if (c != NULL) {
            c->values = leaf->values;
            c->nvalues = leaf->nvalues;
        }
        break;
    default:
        c = store_cond_new(arena, leaf->kind);
        break;
    }
    if (c == NULL)
        return NULL;
    if (!is_const(c))
        c->field = field;
    return leaf->negate ? negate(arena, c) : c;
}

/* Builds the leaf on the last field of path and wraps it in one COND_REF_MATCH per hop. A leaf
 * that holds on an empty value must also hold when a hop is empty or points at nothing, so it is
 * written as "no referenced thing fails it" rather than "some referenced thing passes it".
 * NOTE: expr_eval reads hops through load_field, which hides things the caller may not see, while
 * COND_REF_MATCH as store.h defines it matches the referenced row whatever its privacy rules. */
static err_t compile_path(const expr_t *path, const expr_env_t *env, const leaf_t *leaf,
                          store_cond_t **out)
{
    const app_t *app = env->app;
    const expr_t *cur = path;
    const app_field_t *field;

    if (cur->kind == EXPR_THIS) {
        field = expr__id_field(&app->types[cur->type.ref_type]);
    } else if (cur->kind == EXPR_FIELD) {
        field = cur->field;
        cur = cur->left;
    } else {
        return ERR_INVALID;
    }
    if (field == NULL)
        return ERR_INVALID;

    store_cond_t *c = leaf_on_field(env->arena, field, leaf);
    if (c == NULL)
        return ERR_NOMEM;
    const bool holds = leaf_holds_on_empty(leaf);
    while (!is_const(c) && cur->kind == EXPR_FIELD) {
        store_cond_t *match = store_cond_new(env->arena, COND_REF_MATCH);
        if (match == NULL)
            return ERR_NOMEM;
        match->field = cur->field;
        match->sub_type = &app->types[cur->field->type.ref_type];
        match->sub = holds ? negate(env->arena, c) : c;
        c = holds ? negate(env->arena, match) : match;
        if (match->sub == NULL || c == NULL)
            return ERR_NOMEM;
        cur = cur->left;
    }
    if (!is_const(c) && cur->kind != EXPR_THIS)
        return ERR_INVALID;
    *out = c;
    return ERR_OK;
}

static err_t compile(const expr_t *e, const expr_env_t *env, store_cond_t **out);

/* Strips constant date shifts off a path ("This Task's due + 3 days - 1 hours"), so that the
 * comparison can move them to the constant side. Sets *shift to their sum, or *always_empty when
 * one of them yields an empty date whatever the row holds. */
static err_t strip_shifts(const expr_t **path, const expr_env_t *env, int64_t *shift,
                          bool *always_empty)
{
    *shift = 0;
    *always_empty = false;
    while ((*path)->kind == EXPR_DATE_ADD && !mentions_this((*path)->right)) {
        value_t amount;
        const err_t rc = expr_eval((*path)->right, env, &amount);
        if (rc != ERR_OK)
            return rc;
        int64_t one;
        if (!expr__date_shift(amount, (*path)->unit_ms, (*path)->arith, &one) ||
            __builtin_add_overflow(*shift, one, shift)) {
            *always_empty = true;
            return ERR_OK;
        }
        *path = (*path)->left;
    }
    return ERR_OK;
}

/* Compiles "path op value" where path may carry date shifts: "due + 3 days < now" becomes
 * "due < now - 3 days", exact because both sides are whole milliseconds. */
static err_t compile_shifted(const expr_t *path, const expr_env_t *env, leaf_t *leaf,
                             store_cond_t **out)
{
    int64_t shift;
    bool always_empty;
    const err_t rc = strip_shifts(&path, env, &shift, &always_empty);
    if (rc != ERR_OK)
        return rc;
    if (always_empty)
        return const_cond(env->arena, leaf_holds_on_empty(leaf), out);
    /* Dates the store accepts are far from the int64_t limits, so this only rejects a constant
     * that no stored date could reach. */
    if (leaf->kind == COND_CMP && leaf->value.kind == VAL_DATE &&
        __builtin_sub_overflow(leaf->value.u.ms, shift, &leaf->value.u.ms))
        return ERR_INVALID;
    return compile_path(path, env, leaf, out);
}

/* A yes/no expression that is not a path, compared with a constant: "(A and B) is no". */
static err_t compile_bool_cmp(const expr_t *cond, store_cmp_t op, value_t v, const expr_env_t *env,
                              store_cond_t **out)
{
    if (v.kind != VAL_BOOL)
        return const_cond(env->arena, op == CMP_NE, out);
    store_cond_t *c;
    const err_t rc = compile(cond, env, &c);
    if (rc != ERR_OK)
        return rc;
    *out = v.u.b == (op == CMP_EQ) ? c : negate(env->arena, c);
    return *out != NULL ? ERR_OK : ERR_NOMEM;
}

static err_t compile_cmp(const expr_t *e, const expr_env_t *env, store_cond_t **out)
{
    const bool left_this = mentions_this(e->left);
    /* NOTE: a comparison of two This-dependent sides ("This Task's start < This Task's end")
     * would need a column-to-column condition, which store_cond_t cannot express yet. */
    if (left_this && mentions_this(e->right))
        return ERR_INVALID;

    const expr_t *path = left_this ? e->left : e->right;
    const expr_t *other = left_this ? e->right : e->left;
    const store_cmp_t op = left_this ? e->op : flip(e->op);
    if ((op == CMP_EQ || op == CMP_NE) && expr__is_logged_out_user(other, env))
        return const_cond(env->arena, op == CMP_NE, out);

    leaf_t leaf = {.kind = COND_CMP, .op = op};
    const err_t rc = expr_eval(other, env, &leaf.value);
    if (rc != ERR_OK)
        return rc;
    if (path->kind != EXPR_FIELD && path->kind != EXPR_THIS && path->type.kind == FK_BOOL)
        return compile_bool_cmp(path, op, leaf.value, env, out);
    return compile_shifted(path, env, &leaf, out);
}

static err_t compile_contains(const expr_t *e, const expr_env_t *env, store_cond_t **out)
{
    const bool left_this = mentions_this(e->left);
    const bool right_this = mentions_this(e->right);
    leaf_t leaf = {.negate = e->kind == EXPR_NOT_CONTAINS};
    err_t rc;

    if (left_this && !right_this) {
        leaf.kind = e->left->type.is_list ? COND_LIST_CONTAINS : COND_TEXT_CONTAINS;
        rc = expr_eval(e->right, env, &leaf.value);
        return rc != ERR_OK ? rc : compile_path(e->left, env, &leaf, out);
    }
    /* A constant list containing This's field is a membership test on that field. */
    if (right_this && !left_this && e->left->type.is_list) {
        value_t list;
        rc = expr_eval(e->left, env, &list);
        if (rc == ERR_OK) {
            value_t *values;
            rc = expr__list_values(env->arena, list, e->left->type.kind, &values, &leaf.nvalues);
            leaf.values = values;
        }
        leaf.kind = COND_IN;
        return rc != ERR_OK ? rc : compile_path(e->right, env, &leaf, out);
    }
    /* NOTE: a constant text containing This's text, and a list or text of This containing
     * another value of This, have no store condition yet. */
    return ERR_INVALID;
}

static err_t compile_logic(const expr_t *e, const expr_env_t *env, store_cond_t **out)
{
    store_cond_t *a, *b;
    err_t rc = compile(e->left, env, &a);
    if (rc != ERR_OK)
        return rc;
    if (e->kind == EXPR_NOT) {
        *out = negate(env->arena, a);
        return *out != NULL ? ERR_OK : ERR_NOMEM;
    }
    rc = compile(e->right, env, &b);
    if (rc != ERR_OK)
        return rc;

    const store_cond_kind_t absorbing = e->kind == EXPR_AND ? COND_FALSE : COND_TRUE;
    if (a->kind == absorbing || b->kind == absorbing)
        *out = a->kind == absorbing ? a : b;
    else if (is_const(a))
        *out = b;
    else if (is_const(b))
        *out = a;
    else
        *out = e->kind == EXPR_AND ? store_cond_and(env->arena, a, b)
                                   : store_cond_or(env->arena, a, b);
    return *out != NULL ? ERR_OK : ERR_NOMEM;
}

static err_t compile(const expr_t *e, const expr_env_t *env, store_cond_t **out)
{
    if (!mentions_this(e)) {
        bool b;
        const err_t rc = expr_eval_bool(e, env, &b);
        return rc != ERR_OK ? rc : const_cond(env->arena, b, out);
    }

    leaf_t leaf = {.kind = COND_CMP, .op = CMP_EQ, .value = value_bool(true)};
    switch (e->kind) {
    case EXPR_AND:
    case EXPR_OR:
    case EXPR_NOT:
        return compile_logic(e, env, out);
    case EXPR_FIELD:
        return compile_path(e, env, &leaf, out);
    case EXPR_CMP:
        return compile_cmp(e, env, out);
    case EXPR_CONTAINS:
    case EXPR_NOT_CONTAINS:
        return compile_contains(e, env, out);
    case EXPR_IS_EMPTY:
    case EXPR_IS_NOT_EMPTY:
        leaf.kind = e->kind == EXPR_IS_EMPTY ? COND_IS_EMPTY : COND_IS_NOT_EMPTY;
        return compile_shifted(e->left, env, &leaf, out);
    case EXPR_LOGGED_IN:
    case EXPR_NOT_LOGGED_IN:
        if (env->user_id == NULL || env->user_id[0] == '\0')
            return const_cond(env->arena, e->kind == EXPR_NOT_LOGGED_IN, out);
        leaf.op = e->kind == EXPR_LOGGED_IN ? CMP_EQ : CMP_NE;
        leaf.value = value_text(env->user_id, strlen(env->user_id));
        return compile_path(e->left, env, &leaf, out);
    default:
        return ERR_INVALID;
    }
}

err_t expr_to_cond(const expr_t *e, const expr_env_t *env, store_cond_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (e == NULL || env == NULL || env->app == NULL || env->arena == NULL || out == NULL)
        return ERR_INVALID;
    if (e->type.kind != FK_BOOL || e->type.is_list)
        return ERR_INVALID;
    return compile(e, env, out);
}

/* ---- the same decisions, without an environment ---------------------------------------------- */

static const char *suffix_word(expr_kind_t kind)
{
    switch (kind) {
    case EXPR_COUNT:
        return ":count";
    case EXPR_LOWERCASE:
        return ":lowercase";
    case EXPR_UPPERCASE:
        return ":uppercase";
    case EXPR_TRIMMED:
        return ":trimmed";
    case EXPR_LENGTH:
        return ":number of characters";
    case EXPR_QR_CODE:
        return ":QR code";
    default:
        return "this operator";
    }
}

static bool reject(const expr_t *e, expr_error_t *err, const char *part)
{
    err->column = e->column;
    snprintf(err->message, sizeof(err->message),
             "%s cannot be used in a privacy rule yet, only in workflows, because a search has "
             "no condition for it",
             part);
    return false;
}

/* Mirrors compile_shifted and compile_path: after constant date shifts, a path is This or a
 * chain of fields read from This. */
static bool path_searchable(const expr_t *path, expr_error_t *err)
{
    while (path->kind == EXPR_DATE_ADD && !mentions_this(path->right))
        path = path->left;
    const expr_t *cur = path;
    while (cur->kind == EXPR_FIELD)
        cur = cur->left;
    if (cur->kind == EXPR_THIS)
        return true;

    char part[64];
    switch (cur->kind) {
    case EXPR_ARITH:
        return reject(cur, err, "arithmetic on a value of This");
    case EXPR_DATE_ADD:
        return reject(cur, err, "a date shift by an amount read from This");
    default:
        snprintf(part, sizeof(part), "\"%s\" on a value of This", suffix_word(cur->kind));
        return reject(cur, err, part);
    }
}

static bool searchable(const expr_t *e, expr_error_t *err)
{
    if (!mentions_this(e))
        return true;
    const bool left_this = mentions_this(e->left);
    const bool right_this = mentions_this(e->right);

    switch (e->kind) {
    case EXPR_AND:
    case EXPR_OR:
        return searchable(e->left, err) && searchable(e->right, err);
    case EXPR_NOT:
        return searchable(e->left, err);
    case EXPR_CMP: {
        if (left_this && right_this)
            return reject(e, err, "a comparison of two values that both depend on This");
        const expr_t *path = left_this ? e->left : e->right;
        if (path->kind != EXPR_FIELD && path->kind != EXPR_THIS && path->type.kind == FK_BOOL)
            return searchable(path, err);
        return path_searchable(path, err);
    }
    case EXPR_CONTAINS:
    case EXPR_NOT_CONTAINS:
        if (left_this && !right_this)
            return path_searchable(e->left, err);
        if (right_this && !left_this && e->left->type.is_list)
            return path_searchable(e->right, err);
        return reject(e, err,
                      "\"contains\" with This on both sides, or with a text that does not "
                      "depend on This on its left,");
    case EXPR_IS_EMPTY:
    case EXPR_IS_NOT_EMPTY:
    case EXPR_LOGGED_IN:
    case EXPR_NOT_LOGGED_IN:
    case EXPR_FIELD:
        return path_searchable(e->kind == EXPR_FIELD ? e : e->left, err);
    default:
        return reject(e, err, "this expression");
    }
}

bool expr_check_searchable(const expr_t *e, expr_error_t *err)
{
    expr_error_t spare;
    if (err == NULL)
        err = &spare;
    memset(err, 0, sizeof(*err));
    if (e == NULL)
        return reject(&(expr_t){.column = 0}, err, "an empty expression");
    return searchable(e, err);
}
