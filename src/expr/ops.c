/* Evaluation of the operators that compute a new value: arithmetic on numbers, date shifts,
 * ":count" on lists and the text operators. An empty operand gives an empty result, and so do a
 * division by zero and a result no JSON number can hold. The one operator that fails at run time
 * is ":QR code" on a text too long for a QR code (ERR_TOO_LARGE).
 */
#include <math.h>
#include <string.h>

#include "core/qr_svg.h"
#include "expr/expr_internal.h"

bool expr__date_shift(value_t amount, int64_t unit_ms, expr_arith_t op, int64_t *out)
{
    *out = 0;
    if (amount.kind != VAL_NUMBER)
        return false;
    double shift = amount.u.num * (double)unit_ms;
    if (op == ARITH_SUB)
        shift = -shift;
    if (!(shift >= -EXPR_MAX_SHIFT_MS && shift <= EXPR_MAX_SHIFT_MS))
        return false;
    *out = (int64_t)llround(shift);
    return true;
}

value_t expr__arith(expr_arith_t op, double a, double b)
{
    double r = 0;
    switch (op) {
    case ARITH_ADD:
        r = a + b;
        break;
    case ARITH_SUB:
        r = a - b;
        break;
    case ARITH_MUL:
        r = a * b;
        break;
    case ARITH_DIV:
        if (b == 0)
            return value_null();
        r = a / b;
        break;
    }
    return isfinite(r) ? value_number(r) : value_null();
}

static err_t eval_binary(const expr_t *e, const expr_env_t *env, value_t *out)
{
    value_t a, b;
    err_t rc = expr_eval(e->left, env, &a);
    if (rc == ERR_OK)
        rc = expr_eval(e->right, env, &b);
    if (rc != ERR_OK)
        return rc;

    if (e->kind == EXPR_ARITH) {
        if (a.kind == VAL_NUMBER && b.kind == VAL_NUMBER)
            *out = expr__arith(e->arith, a.u.num, b.u.num);
        return ERR_OK;
    }
    int64_t shift, ms;
    if (a.kind != VAL_DATE || !expr__date_shift(b, e->unit_ms, e->arith, &shift) ||
        __builtin_add_overflow(a.u.ms, shift, &ms))
        return ERR_OK;
    *out = value_date(ms);
    return ERR_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* NOTE: lowercase and uppercase change ASCII letters only, the same folding "contains" uses, so
 * "É" stays "É". */
static err_t eval_text(const expr_t *e, const expr_env_t *env, value_t v, value_t *out)
{
    if (v.kind != VAL_TEXT)
        return ERR_OK;
    const char *s = v.u.s.p;
    size_t n = v.u.s.n;

    if (e->kind == EXPR_LENGTH) {
        /* Characters are code points: count every byte that does not continue a sequence. */
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
            count += ((unsigned char)s[i] & 0xC0) != 0x80;
        *out = value_number((double)count);
        return ERR_OK;
    }
    if (e->kind == EXPR_TRIMMED) {
        while (n > 0 && is_space(s[0])) {
            s++;
            n--;
        }
        while (n > 0 && is_space(s[n - 1]))
            n--;
        /* A text of white space alone trims to nothing, which is an empty value. */
        if (n > 0)
            *out = value_text(s, n);
        return ERR_OK;
    }

    if (env->arena == NULL)
        return ERR_INVALID;
    if (e->kind == EXPR_QR_CODE) {
        char *uri = NULL;
        const err_t err = qr_svg_data_uri(s, n, env->arena, &uri);
        if (err == ERR_OK)
            *out = value_text(uri, strlen(uri));
        return err;
    }
    char *copy = arena_strndup(env->arena, s, n);
    if (copy == NULL)
        return ERR_NOMEM;
    const bool lower = e->kind == EXPR_LOWERCASE;
    for (size_t i = 0; i < n; i++) {
        if (lower && copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] - 'A' + 'a');
        else if (!lower && copy[i] >= 'a' && copy[i] <= 'z')
            copy[i] = (char)(copy[i] - 'a' + 'A');
    }
    *out = value_text(copy, n);
    return ERR_OK;
}

err_t expr__eval_op(const expr_t *e, const expr_env_t *env, value_t *out)
{
    *out = value_null();
    if (e->kind == EXPR_ARITH || e->kind == EXPR_DATE_ADD)
        return eval_binary(e, env, out);

    value_t v;
    err_t rc = expr_eval(e->left, env, &v);
    if (rc != ERR_OK)
        return rc;
    if (e->kind == EXPR_COUNT) {
        size_t count;
        rc = expr__list_count(v, &count);
        if (rc == ERR_OK)
            *out = value_number((double)count);
        return rc;
    }
    if (e->kind == EXPR_LENGTH && v.kind == VAL_NULL) {
        *out = value_number(0);
        return ERR_OK;
    }
    return eval_text(e, env, v, out);
}
