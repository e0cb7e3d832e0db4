/* In-memory evaluation of a parsed expression for one thing and one caller.
 *
 * The value rules here (how empty values compare, what contains means) are also the rules that
 * expr_to_cond folds constants with, so both back ends agree by construction where they can.
 */
#include <string.h>

#include "expr/expr_internal.h"

const app_field_t *expr__id_field(const app_type_t *type)
{
    for (size_t i = 0; i < type->nfields; i++)
        if (type->fields[i].builtin == BUILTIN_ID)
            return &type->fields[i];
    return NULL;
}

bool expr__is_logged_out_user(const expr_t *e, const expr_env_t *env)
{
    return e->kind == EXPR_CURRENT_USER && (env->user_id == NULL || env->user_id[0] == '\0');
}

static bool values_equal(value_t a, value_t b)
{
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case VAL_NULL:
        return true;
    case VAL_TEXT:
    case VAL_JSON:
        return a.u.s.n == b.u.s.n && memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case VAL_NUMBER:
        return a.u.num == b.u.num;
    case VAL_BOOL:
        return a.u.b == b.u.b;
    case VAL_DATE:
        return a.u.ms == b.u.ms;
    }
    return false;
}

/* Orders two non-empty values of one kind. Returns false when they have no order. */
static bool order(value_t a, value_t b, int *out)
{
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case VAL_NUMBER:
        *out = (a.u.num > b.u.num) - (a.u.num < b.u.num);
        return true;
    case VAL_DATE:
        *out = (a.u.ms > b.u.ms) - (a.u.ms < b.u.ms);
        return true;
    case VAL_TEXT: {
        const size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        const int c = memcmp(a.u.s.p, b.u.s.p, n);
        *out = c != 0 ? (c > 0) - (c < 0) : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
        return true;
    }
    case VAL_NULL:
    case VAL_BOOL:
    case VAL_JSON:
        return false;
    }
    return false;
}

bool expr__apply_cmp(store_cmp_t op, value_t a, value_t b)
{
    const bool a_empty = expr__value_is_empty(a), b_empty = expr__value_is_empty(b);
    if (op == CMP_EQ || op == CMP_NE) {
        bool equal = a_empty || b_empty ? a_empty && b_empty : values_equal(a, b);
        return op == CMP_EQ ? equal : !equal;
    }
    int c;
    if (a_empty || b_empty || !order(a, b, &c))
        return false;
    switch (op) {
    case CMP_LT:
        return c < 0;
    case CMP_LE:
        return c <= 0;
    case CMP_GT:
        return c > 0;
    case CMP_GE:
        return c >= 0;
    case CMP_EQ:
    case CMP_NE:
        break;
    }
    return false;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* NOTE: case folding covers ASCII letters only, as SQLite's LIKE does by default, so "É" does not
 * match "é". */
bool expr__text_contains(value_t hay, value_t needle)
{
    if (hay.kind != VAL_TEXT || needle.kind != VAL_TEXT || needle.u.s.n == 0 ||
        needle.u.s.n > hay.u.s.n)
        return false;
    const unsigned char *h = (const unsigned char *)hay.u.s.p;
    const unsigned char *n = (const unsigned char *)needle.u.s.p;
    for (size_t i = 0; i + needle.u.s.n <= hay.u.s.n; i++) {
        size_t j = 0;
        while (j < needle.u.s.n && ascii_lower(h[i + j]) == ascii_lower(n[j]))
            j++;
        if (j == needle.u.s.n)
            return true;
    }
    return false;
}

/* ---- evaluation ----------------------------------------------------------------------------- */

static err_t eval_this(const expr_env_t *env, value_t *out)
{
    if (env->this_type == NULL || env->this_values == NULL)
        return ERR_INVALID;
    const app_field_t *id = expr__id_field(env->this_type);
    if (id == NULL)
        return ERR_INVALID;
    *out = env->this_values[id->index];
    return ERR_OK;
}

/* Reads a field of This from the values in env, or of any other thing through load_field. */
static err_t eval_field(const expr_t *e, const expr_env_t *env, value_t *out)
{
    const app_field_t *f = e->field;
    *out = value_null();
    if (e->left->kind == EXPR_THIS) {
        const app_type_t *t = env->this_type;
        if (t == NULL || env->this_values == NULL || f->index < 0 ||
            (size_t)f->index >= t->nfields || &t->fields[f->index] != f)
            return ERR_INVALID;
        *out = env->this_values[f->index];
        return ERR_OK;
    }

    value_t thing;
    err_t rc = expr_eval(e->left, env, &thing);
    if (rc != ERR_OK)
        return rc;
    if (thing.kind != VAL_TEXT || thing.u.s.n == 0)
        return ERR_OK;
    const int ref = e->left->type.ref_type;
    if (env->load_field == NULL || env->app == NULL || ref < 0 || (size_t)ref >= env->app->ntypes)
        return ERR_INVALID;
    return env->load_field(env->ud, &env->app->types[ref], thing.u.s.p, thing.u.s.n, f, out);
}

static err_t eval_cmp(const expr_t *e, const expr_env_t *env, value_t *out)
{
    if ((e->op == CMP_EQ || e->op == CMP_NE) &&
        (expr__is_logged_out_user(e->left, env) || expr__is_logged_out_user(e->right, env))) {
        *out = value_bool(e->op == CMP_NE);
        return ERR_OK;
    }
    value_t a, b;
    err_t rc = expr_eval(e->left, env, &a);
    if (rc == ERR_OK)
        rc = expr_eval(e->right, env, &b);
    if (rc == ERR_OK)
        *out = value_bool(expr__apply_cmp(e->op, a, b));
    return rc;
}

static err_t eval_contains(const expr_t *e, const expr_env_t *env, value_t *out)
{
    value_t a, b;
    err_t rc = expr_eval(e->left, env, &a);
    if (rc == ERR_OK)
        rc = expr_eval(e->right, env, &b);
    if (rc != ERR_OK)
        return rc;

    bool found;
    if (e->left->type.is_list) {
        rc = expr__list_contains(a, b, &found);
        if (rc != ERR_OK)
            return rc;
    } else {
        found = expr__text_contains(a, b);
    }
    *out = value_bool(e->kind == EXPR_CONTAINS ? found : !found);
    return ERR_OK;
}

/* A user is logged in, for this request, when it is the caller. */
static err_t eval_logged_in(const expr_t *e, const expr_env_t *env, value_t *out)
{
    value_t user;
    const err_t rc = expr_eval(e->left, env, &user);
    if (rc != ERR_OK)
        return rc;
    const char *id = env->user_id;
    const bool in = id != NULL && user.kind == VAL_TEXT && user.u.s.n > 0 &&
                    strlen(id) == user.u.s.n && memcmp(id, user.u.s.p, user.u.s.n) == 0;
    *out = value_bool(e->kind == EXPR_LOGGED_IN ? in : !in);
    return ERR_OK;
}

static err_t eval_logic(const expr_t *e, const expr_env_t *env, value_t *out)
{
    bool a;
    err_t rc = expr_eval_bool(e->left, env, &a);
    if (rc != ERR_OK)
        return rc;
    if (e->kind == EXPR_NOT) {
        *out = value_bool(!a);
        return ERR_OK;
    }
    /* Short-circuit: the right side may need a load that the left side makes pointless. */
    if ((e->kind == EXPR_AND && !a) || (e->kind == EXPR_OR && a)) {
        *out = value_bool(a);
        return ERR_OK;
    }
    bool b;
    rc = expr_eval_bool(e->right, env, &b);
    if (rc == ERR_OK)
        *out = value_bool(b);
    return rc;
}

err_t expr_eval(const expr_t *e, const expr_env_t *env, value_t *out)
{
    *out = value_null();
    switch (e->kind) {
    case EXPR_LITERAL:
        *out = e->literal;
        return ERR_OK;
    case EXPR_THIS:
        return eval_this(env, out);
    case EXPR_CURRENT_USER:
        if (env->user_id != NULL)
            *out = value_text(env->user_id, strlen(env->user_id));
        return ERR_OK;
    case EXPR_NOW:
        *out = value_date(env->now_ms);
        return ERR_OK;
    case EXPR_PARAM:
        if (env->params == NULL)
            return ERR_INVALID;
        *out = env->params[e->index];
        return ERR_OK;
    case EXPR_STEP:
        if (env->steps == NULL)
            return ERR_INVALID;
        *out = env->steps[e->index];
        return ERR_OK;
    case EXPR_FIELD:
        return eval_field(e, env, out);
    case EXPR_NOT:
    case EXPR_AND:
    case EXPR_OR:
        return eval_logic(e, env, out);
    case EXPR_CMP:
        return eval_cmp(e, env, out);
    case EXPR_CONTAINS:
    case EXPR_NOT_CONTAINS:
        return eval_contains(e, env, out);
    case EXPR_IS_EMPTY:
    case EXPR_IS_NOT_EMPTY: {
        value_t v;
        const err_t rc = expr_eval(e->left, env, &v);
        if (rc == ERR_OK)
            *out = value_bool(expr__value_is_empty(v) == (e->kind == EXPR_IS_EMPTY));
        return rc;
    }
    case EXPR_LOGGED_IN:
    case EXPR_NOT_LOGGED_IN:
        return eval_logged_in(e, env, out);
    case EXPR_ARITH:
    case EXPR_DATE_ADD:
    case EXPR_COUNT:
    case EXPR_LOWERCASE:
    case EXPR_UPPERCASE:
    case EXPR_TRIMMED:
    case EXPR_LENGTH:
    case EXPR_QR_CODE:
        return expr__eval_op(e, env, out);
    }
    return ERR_INTERNAL;
}

err_t expr_eval_bool(const expr_t *e, const expr_env_t *env, bool *out)
{
    value_t v;
    *out = false;
    const err_t rc = expr_eval(e, env, &v);
    if (rc != ERR_OK)
        return rc;
    if (v.kind == VAL_BOOL)
        *out = v.u.b;
    else if (v.kind != VAL_NULL)
        return ERR_INVALID;
    return ERR_OK;
}
