/* SQL text for the store's statements about things, shared by every backend.
 *
 * Identifiers come only from the app model and are checked and quoted here. Values never enter
 * the text: each becomes a placeholder and a parameter that the backend binds. Where dialects
 * differ, store__dialect_t supplies the fragment. Running the statements is the backend's job.
 */
#include "store/store_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/words.h"

/* A copy kept for a parameter, freed with the statement. */
struct store__sql_block {
    struct store__sql_block *next;
    char data[];
};

void store__sql_init(store__sql_t *q, const store__dialect_t *dialect)
{
    memset(q, 0, sizeof(*q));
    q->dialect = dialect;
    q->next_alias = 1; /* t0 is the statement's own table */
    sbuf_init(&q->sql, STORE__MAX_SQL);
}

void store__sql_deinit(store__sql_t *q)
{
    sbuf_deinit(&q->sql);
    free(q->params);
    q->params = NULL;
    q->nparams = 0;
    q->cap = 0;
    while (q->kept != NULL) {
        struct store__sql_block *next = q->kept->next;
        free(q->kept);
        q->kept = next;
    }
}

err_t store__sql_error(const store__sql_t *q)
{
    return q->err != ERR_OK ? q->err : sbuf_error(&q->sql);
}

void store__sql_fail(store__sql_t *q, err_t err)
{
    if (q->err == ERR_OK)
        q->err = err;
}

static bool failed(const store__sql_t *q)
{
    return store__sql_error(q) != ERR_OK;
}

/* Rejects a condition or query that cannot be rendered. The reason goes to the log because the
 * caller only sees ERR_INVALID; it names no value, since values may be private. */
static void reject(store__sql_t *q, const char *reason)
{
    if (q->err == ERR_OK)
        LOG_WARN("store statement rejected", "reason=%s", log_quote(reason));
    store__sql_fail(q, ERR_INVALID);
}

void store__sql_puts(store__sql_t *q, const char *s)
{
    if (!failed(q))
        sbuf_puts(&q->sql, s);
}

static bool ident_valid(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n > 0 && n <= STORE__MAX_IDENT;
}

void store__sql_ident(store__sql_t *q, const char *name)
{
    if (failed(q))
        return;
    if (name == NULL || !ident_valid(name)) {
        reject(q, "identifier is not 1 to 128 characters of [a-z0-9_]");
        return;
    }
    sbuf_putc(&q->sql, '"');
    sbuf_puts(&q->sql, name);
    sbuf_putc(&q->sql, '"');
}

void store__sql_param(store__sql_t *q, value_t v)
{
    if (failed(q))
        return;
    if (q->replaying) {
        if (q->replay_next >= q->replay_end) {
            store__sql_fail(q, ERR_INTERNAL);
            return;
        }
        q->dialect->placeholder(&q->sql, ++q->replay_next);
        return;
    }
    if (q->nparams >= STORE__MAX_PARAMS) {
        reject(q, "too many parameters");
        return;
    }
    if (q->nparams == q->cap) {
        size_t cap = q->cap == 0 ? 16 : q->cap * 2;
        value_t *grown = realloc(q->params, cap * sizeof(*grown));
        if (grown == NULL) {
            store__sql_fail(q, ERR_NOMEM);
            return;
        }
        q->params = grown;
        q->cap = cap;
    }
    q->params[q->nparams++] = store__stored_value(v);
    q->dialect->placeholder(&q->sql, q->nparams);
}

const char *store__sql_keep(store__sql_t *q, const char *p, size_t n)
{
    if (failed(q))
        return NULL;
    struct store__sql_block *block = malloc(sizeof(*block) + n + 1);
    if (block == NULL) {
        store__sql_fail(q, ERR_NOMEM);
        return NULL;
    }
    if (n > 0)
        memcpy(block->data, p, n);
    block->data[n] = '\0';
    block->next = q->kept;
    q->kept = block;
    return block->data;
}

void store__sql_put_decimal(sbuf_t *sql, size_t n)
{
    char digits[24];
    size_t i = sizeof(digits);
    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    sbuf_append(sql, digits + i, sizeof(digits) - i);
}

static value_t cstr_value(const char *s)
{
    return s == NULL ? value_null() : value_text(s, strlen(s));
}

static void alias_ref(store__sql_t *q, char letter, unsigned alias)
{
    if (failed(q))
        return;
    sbuf_putc(&q->sql, letter);
    store__sql_put_decimal(&q->sql, alias);
}

/* Appends t<alias>."<column>". Every SELECT names every field this way, so the text is put
 * together on the stack and appended once rather than piece by piece. */
static void column(store__sql_t *q, unsigned alias, const app_field_t *field)
{
    const char *name = store__column_name(field);
    if (failed(q))
        return;
    if (name == NULL || !ident_valid(name)) {
        reject(q, "identifier is not 1 to 128 characters of [a-z0-9_]");
        return;
    }
    char text[STORE__MAX_IDENT + 16];
    size_t n = sizeof(text);
    text[--n] = '"';
    const size_t len = strlen(name);
    n -= len;
    memcpy(text + n, name, len);
    text[--n] = '"';
    text[--n] = '.';
    unsigned rest = alias;
    do {
        text[--n] = (char)('0' + rest % 10);
        rest /= 10;
    } while (rest > 0);
    text[--n] = 't';
    sbuf_append(&q->sql, text + n, sizeof(text) - n);
}

/* ---- Conditions ------------------------------------------------------------------------- */

/* Where a condition is rendered: the type it tests, that table's alias, how deep in the tree it
 * sits, and whether an odd number of enclosing NOTs applies to it. */
typedef struct {
    const app_type_t *type;
    unsigned alias;
    unsigned depth;
    bool negated;
} scope_t;

/* Groups longer than this are split in two, recursively. A flat "a OR b OR c ..." parses into a
 * chain as deep as the list is long, and SQLite rejects expression trees deeper than 1000 by
 * default. Every split costs a level of parentheses, so short groups stay flat. */
#define FLAT_KIDS 256

static void cond(store__sql_t *q, scope_t s, const store_cond_t *c);

static bool field_usable(store__sql_t *q, scope_t s, const app_field_t *field)
{
    if (field == NULL || !store__field_of(s.type, field)) {
        reject(q, "condition field is not a field of the type searched");
        return false;
    }
    return true;
}

static bool is_list(const app_field_t *field)
{
    return field->builtin == BUILTIN_NONE && field->type.is_list;
}

static void literal(store__sql_t *q, bool value)
{
    store__sql_puts(q, value ? q->dialect->true_sql : q->dialect->false_sql);
}

/* A negated leaf is wrapped so that an unknown (NULL) result becomes true: "not (due < X)"
 * holds for a thing with no due date, as "due < X" does not. */
static void wrap_open(store__sql_t *q, scope_t s)
{
    if (s.negated)
        store__sql_puts(q, "(");
}

static void wrap_close(store__sql_t *q, scope_t s)
{
    if (!s.negated)
        return;
    store__sql_puts(q, ")");
    store__sql_puts(q, q->dialect->is_not_true);
}

static void kid_range(store__sql_t *q, scope_t s, const store_cond_t *c, size_t lo, size_t hi,
                      const char *op)
{
    store__sql_puts(q, "(");
    if (hi - lo <= FLAT_KIDS) {
        for (size_t i = lo; i < hi && !failed(q); i++) {
            if (i > lo)
                store__sql_puts(q, op);
            cond(q, s, c->kids[i]);
        }
    } else {
        const size_t mid = lo + (hi - lo) / 2;
        kid_range(q, s, c, lo, mid, op);
        store__sql_puts(q, op);
        kid_range(q, s, c, mid, hi, op);
    }
    store__sql_puts(q, ")");
}

/* Under a NOT, AND becomes OR of negated kids and the other way round (De Morgan). */
static void group(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    const bool all = (c->kind == COND_AND) != s.negated;
    if (c->nkids == 0) {
        literal(q, all);
        return;
    }
    if (c->kids == NULL) {
        reject(q, "condition group has no kids array");
        return;
    }
    s.depth++;
    if (c->nkids == 1)
        cond(q, s, c->kids[0]);
    else
        kid_range(q, s, c, 0, c->nkids, all ? " AND " : " OR ");
}

/* NOT is pushed down to the leaves rather than wrapped around its operand. SQLite's parser has a
 * fixed-size stack (SQLite 3.40 on Debian 12 overflows at about 100 nested parentheses), and each
 * wrapped level would cost two entries. */
static void negation(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (c->nkids != 1 || c->kids == NULL) {
        reject(q, "negation needs exactly one kid");
        return;
    }
    s.depth++;
    s.negated = !s.negated;
    cond(q, s, c->kids[0]);
}

/* ---- Computed values -------------------------------------------------------------------- */

/* Arithmetic must give the evaluator's results, and PostgreSQL raises an error where a double
 * overflows, or underflows to zero from non-zero operands, while SQLite yields Inf and C yields
 * Inf or 0. So each arithmetic step tests its input against bounds computed here with the same
 * C arithmetic: beyond one the result is empty (the evaluator's result for a value that is not
 * finite), beyond the other it is 0, and only in between does the database compute. */

typedef bool (*calc_pred_t)(double x, double number);

static bool product_finite(double x, double a)
{
    return isfinite(x * a);
}
static bool product_zero(double x, double a)
{
    return x * a == 0;
}
static bool quotient_finite(double x, double a)
{
    return isfinite(x / a);
}
static bool quotient_zero(double x, double a)
{
    return x / a == 0;
}
static bool sum_finite(double x, double a)
{
    return isfinite(x + a);
}
static bool inverse_infinite(double x, double a)
{
    return !isfinite(a / x);
}
static bool inverse_nonzero(double x, double a)
{
    return a / x != 0;
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Returns the largest x in [0, DBL_MAX] for which holds(x, a) is true, given that it is true on
 * [0, x] and false above, or -1 when it is false even at 0. The bit patterns of non-negative
 * doubles are ordered as their values, so a binary search over them takes 64 steps at most. */
static double last_holding(calc_pred_t holds, double a)
{
    if (!holds(0, a))
        return -1;
    if (holds(DBL_MAX, a))
        return DBL_MAX;
    uint64_t lo = double_bits(0), hi = double_bits(DBL_MAX);
    while (hi - lo > 1) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (holds(bits_double(mid), a))
            lo = mid;
        else
            hi = mid;
    }
    return bits_double(lo);
}

static void calc_value(store__sql_t *q, scope_t s, const app_field_t *field,
                       const store_calc_t *calc, unsigned depth);

/* "abs(<input>) <op> <bound>" */
static void abs_test(store__sql_t *q, scope_t s, const app_field_t *field, const store_calc_t *calc,
                     unsigned depth, const char *op, double bound)
{
    store__sql_puts(q, "abs(");
    calc_value(q, s, field, calc->inner, depth + 1);
    store__sql_puts(q, ")");
    store__sql_puts(q, op);
    store__sql_param(q, value_number(bound));
}

/* input * number or input / number, as "CASE WHEN abs(x) > B THEN NULL WHEN abs(x) <= Z THEN 0
 * ELSE x op number END" with the branches that can occur. */
static void scaled(store__sql_t *q, scope_t s, const app_field_t *field, const store_calc_t *calc,
                   unsigned depth)
{
    const bool mul = calc->kind == CALC_MUL;
    const double a = fabs(calc->number);
    const double finite_max = last_holding(mul ? product_finite : quotient_finite, a);
    const double zero_max = last_holding(mul ? product_zero : quotient_zero, a);
    const bool overflows = finite_max<DBL_MAX, underflows = zero_max> 0;

    store__sql_puts(q, "(");
    if (overflows || underflows)
        store__sql_puts(q, "CASE");
    if (overflows) {
        store__sql_puts(q, " WHEN ");
        abs_test(q, s, field, calc, depth, " > ", finite_max);
        store__sql_puts(q, " THEN NULL");
    }
    if (underflows) {
        store__sql_puts(q, " WHEN ");
        abs_test(q, s, field, calc, depth, " <= ", zero_max);
        store__sql_puts(q, " THEN 0.0");
    }
    if (overflows || underflows)
        store__sql_puts(q, " ELSE ");
    calc_value(q, s, field, calc->inner, depth + 1);
    store__sql_puts(q, mul ? " * " : " / ");
    store__sql_param(q, value_number(calc->number));
    if (overflows || underflows)
        store__sql_puts(q, " END");
    store__sql_puts(q, ")");
}

/* input + number, input - number or number - input. Only one direction can overflow: x + a for
 * a >= 0 overflows above a bound, and x + a for a < 0 below the negated bound for |a|. */
static void shifted(store__sql_t *q, scope_t s, const app_field_t *field, const store_calc_t *calc,
                    unsigned depth)
{
    const double a = calc->kind == CALC_ADD ? calc->number : -calc->number;
    const double bound = last_holding(sum_finite, fabs(a));
    store__sql_puts(q, "(");
    if (bound < DBL_MAX) {
        store__sql_puts(q, "CASE WHEN ");
        calc_value(q, s, field, calc->inner, depth + 1);
        store__sql_puts(q, a >= 0 ? " > " : " < ");
        store__sql_param(q, value_number(a >= 0 ? bound : -bound));
        store__sql_puts(q, " THEN NULL ELSE ");
    }
    if (calc->kind == CALC_SUB_FROM) {
        store__sql_param(q, value_number(calc->number));
        store__sql_puts(q, " - ");
        calc_value(q, s, field, calc->inner, depth + 1);
    } else {
        calc_value(q, s, field, calc->inner, depth + 1);
        store__sql_puts(q, calc->kind == CALC_ADD ? " + " : " - ");
        store__sql_param(q, value_number(calc->number));
    }
    if (bound < DBL_MAX)
        store__sql_puts(q, " END");
    store__sql_puts(q, ")");
}

/* number / input: empty for an input of 0 or so small that the quotient overflows, and 0 for an
 * input so large that it underflows. */
static void inverted(store__sql_t *q, scope_t s, const app_field_t *field, const store_calc_t *calc,
                     unsigned depth)
{
    const double a = fabs(calc->number);
    const double empty_max = last_holding(inverse_infinite, a);
    const double nonzero_max = last_holding(inverse_nonzero, a);
    store__sql_puts(q, "(CASE WHEN ");
    abs_test(q, s, field, calc, depth, " <= ", empty_max);
    store__sql_puts(q, " THEN NULL");
    if (nonzero_max < DBL_MAX) {
        store__sql_puts(q, " WHEN ");
        abs_test(q, s, field, calc, depth, " > ", nonzero_max);
        store__sql_puts(q, " THEN 0.0");
    }
    store__sql_puts(q, " ELSE ");
    store__sql_param(q, value_number(calc->number));
    store__sql_puts(q, " / ");
    calc_value(q, s, field, calc->inner, depth + 1);
    store__sql_puts(q, " END)");
}

/* The white space the evaluator's ":trimmed" removes. */
static const char trim_characters[] = " \t\n\r\f\v";

/* Appends the value calc computes from field, or the field's column when calc is NULL. Counts
 * and lengths are cast to a double so that arithmetic on them and comparisons with a bound
 * number never take the integer path. */
static void calc_value(store__sql_t *q, scope_t s, const app_field_t *field,
                       const store_calc_t *calc, unsigned depth)
{
    if (calc == NULL) {
        column(q, s.alias, field);
        return;
    }
    if (depth >= STORE_MAX_CALC) {
        reject(q, "computed value has too many steps");
        return;
    }
    const store__dialect_t *d = q->dialect;
    switch (calc->kind) {
    case CALC_COUNT:
    case CALC_LENGTH:
        store__sql_puts(q, "CAST(COALESCE(");
        store__sql_puts(q, calc->kind == CALC_COUNT ? d->list_length_open : "length(");
        calc_value(q, s, field, calc->inner, depth + 1);
        store__sql_puts(q, calc->kind == CALC_COUNT ? d->list_length_close : ")");
        store__sql_puts(q, ", 0) AS DOUBLE PRECISION)");
        return;
    case CALC_LOWER:
    case CALC_UPPER:
        store__sql_puts(q, calc->kind == CALC_LOWER ? d->ascii_lower_open : d->ascii_upper_open);
        calc_value(q, s, field, calc->inner, depth + 1);
        store__sql_puts(q, calc->kind == CALC_LOWER ? d->ascii_lower_close : d->ascii_upper_close);
        return;
    case CALC_TRIM:
        store__sql_puts(q, "NULLIF(");
        store__sql_puts(q, d->trim_function);
        store__sql_puts(q, "(");
        calc_value(q, s, field, calc->inner, depth + 1);
        store__sql_puts(q, ", ");
        store__sql_param(q, value_text(trim_characters, sizeof(trim_characters) - 1));
        store__sql_puts(q, "), '')");
        return;
    case CALC_MUL:
    case CALC_DIV:
        if (calc->kind == CALC_DIV && calc->number == 0)
            break;
        if (isfinite(calc->number))
            scaled(q, s, field, calc, depth);
        else
            reject(q, "computed value with a number that is not finite");
        return;
    case CALC_ADD:
    case CALC_SUB:
    case CALC_SUB_FROM:
        if (isfinite(calc->number))
            shifted(q, s, field, calc, depth);
        else
            reject(q, "computed value with a number that is not finite");
        return;
    case CALC_DIV_INTO:
        if (isfinite(calc->number))
            inverted(q, s, field, calc, depth);
        else
            reject(q, "computed value with a number that is not finite");
        return;
    }
    /* A division by zero is empty whatever the input, as is an unknown step. */
    if (calc->kind != CALC_DIV)
        reject(q, "unknown computed value");
    else
        store__sql_puts(q, "(CASE WHEN 1 = 0 THEN 0.0 END)");
}

/* Appends what a condition on field tests: the field's column, or the value computed from it. */
static void operand(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    calc_value(q, s, c->field, c->calc, 0);
}

/* EQ and NE use the NULL-safe operators where an empty field must match: NE holds for an empty
 * field, "= empty" means "is empty", and a negated EQ is an NE. */
static const char *comparison_operator(const store__sql_t *q, scope_t s, const store_cond_t *c)
{
    static const char *const ordered[] = {
        [CMP_LT] = " < ", [CMP_LE] = " <= ", [CMP_GT] = " > ", [CMP_GE] = " >= "};
    const bool null_value = store__stored_value(c->value).kind == VAL_NULL;
    switch (c->op) {
    case CMP_EQ:
        if (s.negated)
            return q->dialect->is_not_op;
        return null_value ? q->dialect->is_op : " = ";
    case CMP_NE:
        return s.negated ? q->dialect->is_op : q->dialect->is_not_op;
    case CMP_LT:
    case CMP_LE:
    case CMP_GT:
    case CMP_GE:
        return ordered[c->op];
    }
    return NULL;
}

static void comparison(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    const char *op = comparison_operator(q, s, c);
    if (op == NULL) {
        reject(q, "unknown comparison operator");
        return;
    }
    const bool wrapped = c->op != CMP_EQ && c->op != CMP_NE;
    scope_t leaf = s;
    leaf.negated = s.negated && wrapped;
    wrap_open(q, leaf);
    operand(q, s, c);
    store__sql_puts(q, op);
    store__sql_param(q, c->value);
    wrap_close(q, leaf);
}

/* Lists are stored as NULL when empty, but "[]" written by another tool counts as empty too. */
static void emptiness(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    const bool empty = (c->kind == COND_IS_EMPTY) != s.negated;
    if (!is_list(c->field) || c->calc != NULL) {
        operand(q, s, c);
        store__sql_puts(q, empty ? " IS NULL" : " IS NOT NULL");
        return;
    }
    store__sql_puts(q, "(");
    column(q, s.alias, c->field);
    store__sql_puts(q, empty ? " IS NULL OR " : " IS NOT NULL AND ");
    column(q, s.alias, c->field);
    store__sql_puts(q, empty ? " = '[]')" : " <> '[]')");
}

/* Opens "[NOT ]EXISTS (SELECT 1 FROM <elements of field> AS jN WHERE " and returns N; the caller
 * adds the test on the element and the closing parenthesis. EXISTS is never NULL, so a negation
 * needs no wrapping. */
static unsigned elements_exist_open(store__sql_t *q, scope_t s, const app_field_t *field)
{
    const unsigned j = q->next_alias++;
    store__sql_puts(q, s.negated ? "NOT EXISTS (SELECT 1 FROM " : "EXISTS (SELECT 1 FROM ");
    store__sql_puts(q, q->dialect->elements_open);
    column(q, s.alias, field);
    store__sql_puts(q, q->dialect->elements_close);
    store__sql_puts(q, " AS ");
    alias_ref(q, 'j', j);
    store__sql_puts(q, " WHERE ");
    return j;
}

/* Writes "jN.<element column>" into buf. */
static const char *element_ref(const store__sql_t *q, unsigned j, char *buf, size_t size)
{
    snprintf(buf, size, "j%u.%s", j, q->dialect->element_column);
    return buf;
}

static void element_equals(store__sql_t *q, const char *element, value_t v)
{
    if (q->dialect->element_equals != NULL) {
        q->dialect->element_equals(q, element, v);
        return;
    }
    store__sql_puts(q, element);
    store__sql_puts(q, " = ");
    store__sql_param(q, v);
}

static void list_contains(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    if (!is_list(c->field)) {
        reject(q, "list-contains on a field that is not a list");
        return;
    }
    char element[64];
    element_ref(q, elements_exist_open(q, s, c->field), element, sizeof(element));
    element_equals(q, element, c->value);
    store__sql_puts(q, ")");
}

/* "No element is outside values": NOT EXISTS (... WHERE (<element is one of values>) IS NOT
 * TRUE), which also holds for an empty list. A dialect whose elements keep their JSON type takes
 * one IN list, because a chain of ORs as long as the list would pass SQLite's expression depth
 * limit. */
static void list_subset(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    if (!is_list(c->field) || (c->nvalues > 0 && c->values == NULL)) {
        reject(q, "list-subset on a field that is not a list, or without values");
        return;
    }
    scope_t outside = s;
    outside.negated = !s.negated;
    char element[64];
    element_ref(q, elements_exist_open(q, outside, c->field), element, sizeof(element));
    store__sql_puts(q, "(");
    if (c->nvalues == 0) {
        literal(q, false);
    } else if (q->dialect->element_equals == NULL) {
        store__sql_puts(q, element);
        store__sql_puts(q, " IN (");
        for (size_t i = 0; i < c->nvalues && !failed(q); i++) {
            if (i > 0)
                store__sql_puts(q, ", ");
            store__sql_param(q, c->values[i]);
        }
        store__sql_puts(q, ")");
    } else {
        for (size_t i = 0; i < c->nvalues && !failed(q); i++) {
            if (i > 0)
                store__sql_puts(q, " OR ");
            element_equals(q, element, c->values[i]);
        }
    }
    store__sql_puts(q, ")");
    store__sql_puts(q, q->dialect->is_not_true);
    store__sql_puts(q, ")");
}

static void membership(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    if (c->nvalues == 0) {
        literal(q, s.negated);
        return;
    }
    if (c->values == NULL) {
        reject(q, "in-condition has no values array");
        return;
    }
    wrap_open(q, s);
    operand(q, s, c);
    store__sql_puts(q, " IN (");
    for (size_t i = 0; i < c->nvalues && !failed(q); i++) {
        if (i > 0)
            store__sql_puts(q, ", ");
        store__sql_param(q, c->values[i]);
    }
    store__sql_puts(q, ")");
    wrap_close(q, s);
}

/* A scalar reference is "col IN (SELECT _id ...)"; a list of references tests whether any element
 * is in that set. The sub-condition starts a new scope on the referenced table. */
static void ref_match(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    const bool reference = c->field->builtin == BUILTIN_CREATED_BY ||
                           (c->field->builtin == BUILTIN_NONE && c->field->type.kind == FK_THING);
    if (!reference || c->sub_type == NULL) {
        reject(q, "reference match on a field that is not a thing reference");
        return;
    }
    const bool list = is_list(c->field);
    if (list) {
        char element[64];
        store__sql_puts(
            q, element_ref(q, elements_exist_open(q, s, c->field), element, sizeof(element)));
    } else {
        wrap_open(q, s);
        column(q, s.alias, c->field);
    }
    const scope_t sub = {c->sub_type, q->next_alias++, s.depth + 1, false};
    store__sql_puts(q, " IN (SELECT ");
    alias_ref(q, 't', sub.alias);
    store__sql_puts(q, ".\"_id\" FROM ");
    store__sql_ident(q, c->sub_type->table);
    store__sql_puts(q, " AS ");
    alias_ref(q, 't', sub.alias);
    store__sql_puts(q, " WHERE ");
    if (c->sub == NULL)
        literal(q, true);
    else
        cond(q, sub, c->sub);
    store__sql_puts(q, ")");
    if (list)
        store__sql_puts(q, ")");
    else
        wrap_close(q, s);
}

static void text_contains(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    wrap_open(q, s);
    store__sql_puts(q, q->dialect->contains_open);
    operand(q, s, c);
    store__sql_puts(q, q->dialect->contains_middle);
    store__sql_param(q, c->value);
    store__sql_puts(q, q->dialect->contains_close);
    wrap_close(q, s);
}

/* Writes the SQL text that contains the stemmed words of field on table t<alias>, " w1 w2 ... ",
 * into out. Returns false (and fails q) for a field without words. */
static bool words_source(store__sql_t *q, unsigned alias, const app_field_t *field, char *out,
                         size_t size)
{
    char column[STORE__WORDS_COLUMN_MAX + 1];
    int n;
    if (field->builtin == BUILTIN_ID)
        n = snprintf(out, size, "(' ' || t%u.\"_id\" || ' ')", alias);
    else if (store__words_column(field, column, sizeof(column)))
        n = snprintf(out, size, "t%u.\"%s\"", alias, column);
    else
        n = -1;
    if (n < 0 || (size_t)n >= size) {
        reject(q, "text-words condition on a field that is not text");
        return false;
    }
    return true;
}

/* Each query word, as " word ", must occur in the text's words, which are kept with a space
 * before and after every word, so only whole words match. The words stay in one kept copy and
 * each parameter is a slice of it that shares its spaces with its neighbours. */
static void text_words(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    char source[STORE__WORDS_COLUMN_MAX + 32];
    if (!words_source(q, s.alias, c->field, source, sizeof(source)))
        return;
    const value_t v = store__stored_value(c->value);
    if (v.kind != VAL_TEXT && v.kind != VAL_NULL) {
        reject(q, "text-words condition with a value that is not text");
        return;
    }
    const size_t n = v.kind == VAL_TEXT ? v.u.s.n : 0;
    sbuf_t words;
    sbuf_init(&words, 2 * n + 2);
    err_t err = n > 0 ? store__words_of(v.u.s.p, n, true, &words) : ERR_OK;
    const char *kept =
        err == ERR_OK && words.len > 0 ? store__sql_keep(q, words.data, words.len) : NULL;
    const size_t len = words.len;
    sbuf_deinit(&words);
    if (err != ERR_OK) {
        store__sql_fail(q, err == ERR_TOO_LARGE ? ERR_INTERNAL : err);
        return;
    }
    if (len == 0) {
        literal(q, !s.negated);
        return;
    }
    if (kept == NULL)
        return;

    /* Every FLAT_KIDS words start a new parenthesised group, so a long query stays within
     * SQLite's expression depth limit, as kid_range does for condition groups. */
    wrap_open(q, s);
    store__sql_puts(q, "((");
    size_t count = 0;
    for (size_t start = 0; start + 1 < len && !failed(q); count++) {
        const char *end = memchr(kept + start + 1, ' ', len - start - 1);
        if (end == NULL)
            break;
        const size_t stop = (size_t)(end - kept);
        if (count > 0)
            store__sql_puts(q, count % FLAT_KIDS == 0 ? ") AND (" : " AND ");
        store__sql_puts(q, q->dialect->find_function);
        store__sql_puts(q, "(");
        store__sql_puts(q, source);
        store__sql_puts(q, ", ");
        store__sql_param(q, value_text(kept + start, stop - start + 1));
        store__sql_puts(q, ") > 0");
        start = stop;
    }
    store__sql_puts(q, "))");
    wrap_close(q, s);
}

#define EARTH_RADIUS_MILES 3958.8
#define PI 3.14159265358979323846

/* Great-circle distance by the haversine formula, d = 2R asin(sqrt(a)) with
 * a = sin²(dlat/2) + cos(lat0) cos(lat) sin²(dlng/2). Comparing a with sin²(range / 2R),
 * computed here, gives the same result as comparing d with the range, and needs neither asin,
 * whose argument rounding can push past 1, nor sqrt in SQL. A range of half the Earth's
 * circumference or more covers the globe. */
static void geo_within(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (!field_usable(q, s, c->field))
        return;
    const bool numbers = c->nvalues == 3 && c->values != NULL && c->values[0].kind == VAL_NUMBER &&
                         c->values[1].kind == VAL_NUMBER && c->values[2].kind == VAL_NUMBER;
    if (c->field->builtin != BUILTIN_NONE || c->field->type.kind != FK_GEO ||
        c->field->type.is_list || !numbers || !isfinite(c->values[0].u.num) ||
        !isfinite(c->values[1].u.num) || !(c->values[2].u.num >= 0)) {
        reject(q, "geographic condition on a field that is not an address, or without "
                  "latitude, longitude and range");
        return;
    }
    const double lat0 = c->values[0].u.num;
    const double half_angle = c->values[2].u.num / (2 * EARTH_RADIUS_MILES);
    const double limit = half_angle >= PI / 2 ? 2.0 : sin(half_angle) * sin(half_angle);
    char column[STORE__MAX_IDENT + 32];
    const int n =
        snprintf(column, sizeof(column), "t%u.\"%s\"", s.alias, store__column_name(c->field));
    if (n < 0 || (size_t)n >= sizeof(column) || q->dialect->json_number == NULL) {
        reject(q, "geographic condition cannot be rendered");
        return;
    }

    wrap_open(q, s);
    store__sql_puts(q, "(power(sin(radians(");
    q->dialect->json_number(q, column, "lat");
    store__sql_puts(q, " - ");
    store__sql_param(q, value_number(lat0));
    store__sql_puts(q, ") / 2), 2) + ");
    store__sql_param(q, value_number(cos(lat0 * PI / 180)));
    store__sql_puts(q, " * cos(radians(");
    q->dialect->json_number(q, column, "lat");
    store__sql_puts(q, ")) * power(sin(radians(");
    q->dialect->json_number(q, column, "lng");
    store__sql_puts(q, " - ");
    store__sql_param(q, c->values[1]);
    store__sql_puts(q, ") / 2), 2) <= ");
    store__sql_param(q, value_number(limit));
    store__sql_puts(q, ")");
    wrap_close(q, s);
}

static void cond(store__sql_t *q, scope_t s, const store_cond_t *c)
{
    if (failed(q))
        return;
    if (c == NULL) {
        reject(q, "condition kid is NULL");
        return;
    }
    if (s.depth > STORE__MAX_COND_DEPTH) {
        reject(q, "condition nested too deeply");
        return;
    }
    switch (c->kind) {
    case COND_TRUE:
    case COND_FALSE:
        literal(q, (c->kind == COND_TRUE) != s.negated);
        return;
    case COND_AND:
    case COND_OR:
        group(q, s, c);
        return;
    case COND_NOT:
        negation(q, s, c);
        return;
    case COND_CMP:
        comparison(q, s, c);
        return;
    case COND_IS_EMPTY:
    case COND_IS_NOT_EMPTY:
        emptiness(q, s, c);
        return;
    case COND_LIST_CONTAINS:
        list_contains(q, s, c);
        return;
    case COND_IN:
        membership(q, s, c);
        return;
    case COND_REF_MATCH:
        ref_match(q, s, c);
        return;
    case COND_TEXT_CONTAINS:
        text_contains(q, s, c);
        return;
    case COND_TEXT_WORDS:
        text_words(q, s, c);
        return;
    case COND_GEO_WITHIN:
        geo_within(q, s, c);
        return;
    case COND_LIST_SUBSET:
        list_subset(q, s, c);
        return;
    }
    reject(q, "unknown condition kind");
}

void store__sql_cond(store__sql_t *q, const app_type_t *type, unsigned alias, const store_cond_t *c)
{
    if (c == NULL) {
        literal(q, true);
        return;
    }
    const scope_t s = {type, alias, 1, false};
    cond(q, s, c);
}

err_t store_cond_sql(const store_t *store, const app_type_t *type, const store_cond_t *cond,
                     arena_t *arena, char **sql, size_t *nparams)
{
    store__sql_t q;
    store__sql_init(&q, store->backend->dialect);
    store__sql_cond(&q, type, 0, cond);
    err_t err = store__sql_error(&q);
    if (err == ERR_OK) {
        *sql = arena_strdup(arena, sbuf_cstr(&q.sql));
        *nparams = q.nparams;
        if (*sql == NULL)
            err = ERR_NOMEM;
    }
    store__sql_deinit(&q);
    return err;
}

/* ---- Things ----------------------------------------------------------------------------- */

/* "SELECT <fields>, <flags>[, <total>] FROM <table> AS t0 WHERE " */
static void select_head(store__sql_t *q, const app_type_t *type, const store_query_t *query)
{
    store__sql_puts(q, "SELECT ");
    for (size_t i = 0; i < type->nfields; i++) {
        if (i > 0)
            store__sql_puts(q, ", ");
        column(q, 0, &type->fields[i]);
    }
    const size_t nflags = query == NULL ? 0 : query->nflags;
    if (nflags > 0 && query->flags == NULL)
        reject(q, "query has flags but no flags array");
    for (size_t k = 0; k < nflags && !failed(q); k++) {
        if (query->flags[k] == NULL) {
            reject(q, "query flag is NULL");
            return;
        }
        store__sql_puts(q, ", CASE WHEN ");
        store__sql_cond(q, type, 0, query->flags[k]);
        store__sql_puts(q, " THEN 1 ELSE 0 END");
    }
}

static void from_table(store__sql_t *q, const app_type_t *type)
{
    store__sql_puts(q, " FROM ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " AS t0 WHERE ");
}

static int64_t clamp_to_int64(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

/* Sort keys, then Created Date and _id so that paging is stable. NULLs sort as the smallest
 * value in both directions, which PostgreSQL does not do by default, so it is spelled out. */
static void order_and_page(store__sql_t *q, const app_type_t *type, const store_query_t *query)
{
    store__sql_puts(q, " ORDER BY ");
    if (query->nsort > 0 && query->sort == NULL)
        reject(q, "query has sort keys but no sort array");
    for (size_t i = 0; i < query->nsort && !failed(q); i++) {
        const app_field_t *field = query->sort[i].field;
        const scope_t s = {type, 0, 1, false};
        if (!field_usable(q, s, field))
            return;
        if (is_list(field)) {
            reject(q, "sort on a list field");
            return;
        }
        /* Rows where the caller may not view the field sort as if it were empty. */
        if (query->sort[i].visible != NULL) {
            store__sql_puts(q, "CASE WHEN ");
            store__sql_cond(q, type, 0, query->sort[i].visible);
            store__sql_puts(q, " THEN ");
            column(q, 0, field);
            store__sql_puts(q, " END");
        } else {
            column(q, 0, field);
        }
        store__sql_puts(q, query->sort[i].descending ? " DESC NULLS LAST, " : " ASC NULLS FIRST, ");
    }
    store__sql_puts(q, "t0.\"_created\", t0.\"_id\" LIMIT ");
    store__sql_param(q, store__int_value(clamp_to_int64(query->limit)));
    store__sql_puts(q, " OFFSET ");
    store__sql_param(q, store__int_value(clamp_to_int64(query->offset)));
}

void store__sql_search(store__sql_t *q, const app_type_t *type, const store_query_t *query)
{
    select_head(q, type, query);
    if (!query->count_total) {
        from_table(q, type);
        store__sql_cond(q, type, 0, query->where);
        order_and_page(q, type, query);
        return;
    }

    /* The count is a subquery rather than COUNT(*) OVER (): a window makes SQLite read and sort
     * every match, while the subquery runs once on an index and the page can stop after LIMIT
     * rows. Its WHERE is the outer one rendered again, reusing the same parameters. */
    const unsigned alias = q->next_alias++;
    const size_t first = q->nparams;
    store__sql_puts(q, ", (SELECT COUNT(*) FROM ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " AS ");
    alias_ref(q, 't', alias);
    store__sql_puts(q, " WHERE ");
    store__sql_cond(q, type, alias, query->where);
    store__sql_puts(q, ")");
    from_table(q, type);

    q->replaying = true;
    q->replay_next = first;
    q->replay_end = q->nparams;
    store__sql_cond(q, type, 0, query->where);
    q->replaying = false;
    if (q->replay_next != q->replay_end)
        store__sql_fail(q, ERR_INTERNAL);
    order_and_page(q, type, query);
}

void store__sql_get(store__sql_t *q, const app_type_t *type, const char *id,
                    const store_query_t *query)
{
    select_head(q, type, query);
    from_table(q, type);
    store__sql_puts(q, "t0.\"_id\" = ");
    store__sql_param(q, cstr_value(id));
    store__sql_puts(q, " AND ");
    store__sql_cond(q, type, 0, query == NULL ? NULL : query->where);
}

void store__sql_count(store__sql_t *q, const app_type_t *type, const store_cond_t *where)
{
    store__sql_puts(q, "SELECT COUNT(*) FROM ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " AS t0 WHERE ");
    store__sql_cond(q, type, 0, where);
}

/* Binds the stemmed words of v, a text field's value, for its hidden words column: NULL when
 * the field is empty. */
static void words_param(store__sql_t *q, value_t v)
{
    v = store__stored_value(v);
    if (v.kind != VAL_TEXT) {
        store__sql_param(q, value_null());
        return;
    }
    sbuf_t words;
    sbuf_init(&words, 2 * v.u.s.n + 2);
    const err_t err = store__words_of(v.u.s.p, v.u.s.n, false, &words);
    const char *kept = err == ERR_OK ? store__sql_keep(q, words.data, words.len) : NULL;
    const size_t len = words.len;
    sbuf_deinit(&words);
    if (err != ERR_OK)
        store__sql_fail(q, err == ERR_TOO_LARGE ? ERR_INTERNAL : err);
    else if (kept != NULL)
        store__sql_param(q, value_text(kept, len));
}

void store__sql_insert(store__sql_t *q, const app_type_t *type, const value_t *values,
                       const char *email_norm, const char *password_hash)
{
    char words[STORE__WORDS_COLUMN_MAX + 1];
    store__sql_puts(q, "INSERT INTO ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " (");
    for (size_t i = 0; i < type->nfields; i++) {
        if (i > 0)
            store__sql_puts(q, ", ");
        store__sql_ident(q, store__column_name(&type->fields[i]));
    }
    for (size_t i = 0; i < type->nfields; i++) {
        if (store__words_column(&type->fields[i], words, sizeof(words))) {
            store__sql_puts(q, ", ");
            store__sql_ident(q, words);
        }
    }
    if (type->is_user)
        store__sql_puts(q, ", \"_email_norm\", \"_password_hash\"");
    store__sql_puts(q, ") VALUES (");
    for (size_t i = 0; i < type->nfields; i++) {
        if (i > 0)
            store__sql_puts(q, ", ");
        store__sql_param(q, values[i]);
    }
    for (size_t i = 0; i < type->nfields; i++) {
        if (store__words_column(&type->fields[i], words, sizeof(words))) {
            store__sql_puts(q, ", ");
            words_param(q, values[i]);
        }
    }
    if (type->is_user) {
        store__sql_puts(q, ", ");
        store__sql_param(q, cstr_value(email_norm));
        store__sql_puts(q, ", ");
        store__sql_param(q, cstr_value(password_hash));
    }
    store__sql_puts(q, ")");
}

static void set_column(store__sql_t *q, const char *name, value_t v)
{
    store__sql_ident(q, name);
    store__sql_puts(q, " = ");
    store__sql_param(q, v);
    store__sql_puts(q, ", ");
}

void store__sql_update(store__sql_t *q, const app_type_t *type, const char *id, const bool *mask,
                       const value_t *values, const char *email_norm)
{
    const app_field_t *modified = store__builtin_field(type, BUILTIN_MODIFIED_DATE);
    if (modified == NULL) {
        reject(q, "type has no Modified Date field");
        return;
    }
    store__sql_puts(q, "UPDATE ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " SET ");
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *field = &type->fields[i];
        if (!mask[i] || field->builtin == BUILTIN_ID || field == modified)
            continue;
        set_column(q, store__column_name(field), values[i]);
        char words[STORE__WORDS_COLUMN_MAX + 1];
        if (store__words_column(field, words, sizeof(words))) {
            store__sql_ident(q, words);
            store__sql_puts(q, " = ");
            words_param(q, values[i]);
            store__sql_puts(q, ", ");
        }
        if (field->builtin == BUILTIN_EMAIL && type->is_user)
            set_column(q, "_email_norm", cstr_value(email_norm));
    }
    store__sql_puts(q, "\"_modified\" = ");
    store__sql_param(q, values[modified - type->fields]);
    store__sql_puts(q, " WHERE \"_id\" = ");
    store__sql_param(q, cstr_value(id));
}

void store__sql_delete(store__sql_t *q, const app_type_t *type, const char *id)
{
    store__sql_puts(q, "DELETE FROM ");
    store__sql_ident(q, type->table);
    store__sql_puts(q, " WHERE \"_id\" = ");
    store__sql_param(q, cstr_value(id));
}

void store__sql_user_by_email(store__sql_t *q, const app_type_t *user_type, const char *email_norm)
{
    store__sql_puts(q, "SELECT \"_id\", \"_password_hash\" FROM ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " WHERE \"_email_norm\" = ");
    store__sql_param(q, cstr_value(email_norm));
}

void store__sql_set_password(store__sql_t *q, const app_type_t *user_type, const char *id,
                             const char *password_hash)
{
    store__sql_puts(q, "UPDATE ");
    store__sql_ident(q, user_type->table);
    store__sql_puts(q, " SET \"_password_hash\" = ");
    store__sql_param(q, cstr_value(password_hash));
    store__sql_puts(q, " WHERE \"_id\" = ");
    store__sql_param(q, cstr_value(id));
}
