/* Recursive-descent parser for expressions, with name resolution and type checks as it goes.
 *
 * The grammar is in expr.h. Recursion happens only through "not" and parentheses, and both count
 * against EXPR_MAX_DEPTH, so hostile input cannot exhaust the stack. Operators chain in loops.
 */
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"

#define WORD_SIZE 48

static expr_t *parse_or(expr_parser_t *p);
static expr_t *parse_unary(expr_parser_t *p);

static app_vtype_t scalar_type(app_kind_t kind)
{
    app_vtype_t t = {.kind = kind, .is_list = false, .ref_type = -1, .option_set = -1};
    return t;
}

static app_vtype_t thing_type(int ref_type)
{
    app_vtype_t t = scalar_type(FK_THING);
    t.ref_type = ref_type;
    return t;
}

static expr_t *node_new(expr_parser_t *p, expr_kind_t kind, size_t pos, app_vtype_t type)
{
    expr_t *e = arena_calloc(p->arena, 1, sizeof(*e));
    if (e == NULL)
        return expr__nomem(p);
    e->kind = kind;
    e->type = type;
    e->column = expr__column(p, pos);
    return e;
}

static expr_t *binary_new(expr_parser_t *p, expr_kind_t kind, expr_t *left, expr_t *right)
{
    expr_t *e = node_new(p, kind, 0, scalar_type(FK_BOOL));
    if (e == NULL)
        return NULL;
    e->column = left->column;
    e->left = left;
    e->right = right;
    return e;
}

/* Fails with "expected <what>, found <the word at the current position>". */
static void *fail_expected(expr_parser_t *p, const char *what)
{
    if (expr__at_end(p)) {
        expr__fail(p, p->pos, "expected %s, found the end of the expression", what);
        return NULL;
    }
    char word[WORD_SIZE];
    expr__word_at(p, p->pos, word, sizeof(word));
    expr__fail(p, p->pos, "expected %s, found \"%s\"", what, word);
    return NULL;
}

static bool enter(expr_parser_t *p, size_t pos)
{
    if (p->depth >= EXPR_MAX_DEPTH) {
        expr__fail(p, pos, "expression nests deeper than %d levels", EXPR_MAX_DEPTH);
        return false;
    }
    p->depth++;
    return true;
}

/* ---- primaries ---------------------------------------------------------------------------- */

static expr_t *parse_this(expr_parser_t *p, size_t pos)
{
    const app_t *app = p->scope->app;
    const int this_type = p->scope->this_type;
    if (this_type < 0 || (size_t)this_type >= app->ntypes) {
        expr__fail(p, pos, "This is not available here");
        return NULL;
    }

    expr__skip_space(p);
    size_t best = 0;
    int found = -1;
    for (size_t i = 0; i < app->ntypes; i++) {
        const size_t n = expr__match_phrase(p, app->types[i].name);
        if (n > best) {
            best = n;
            found = (int)i;
        }
    }
    if (found < 0) {
        if (expr__at_end(p))
            return fail_expected(p, "a type name after \"This\"");
        char word[WORD_SIZE];
        expr__word_at(p, p->pos, word, sizeof(word));
        expr__fail(p, p->pos, "unknown type \"%s\" after \"This\"", word);
        return NULL;
    }
    if (found != this_type) {
        expr__fail(p, p->pos, "this condition is about %s, not %s", app->types[this_type].name,
                   app->types[found].name);
        return NULL;
    }
    p->pos += best;
    return node_new(p, EXPR_THIS, pos, thing_type(found));
}

static expr_t *parse_step(expr_parser_t *p, size_t pos)
{
    expr__skip_space(p);
    const size_t num_pos = p->pos;
    size_t i = p->pos;
    unsigned long n = 0;
    while (i < p->len && p->text[i] >= '0' && p->text[i] <= '9' && i - num_pos < 9)
        n = n * 10 + (unsigned long)(p->text[i++] - '0');
    if (i == num_pos)
        return fail_expected(p, "a step number after \"Result of step\"");
    p->pos = i;
    if (i < p->len && p->text[i] >= '0' && p->text[i] <= '9') {
        expr__fail(p, num_pos, "step number is too large");
        return NULL;
    }

    const size_t nsteps = p->scope->nsteps;
    if (n == 0 || n > nsteps) {
        if (nsteps == 0)
            expr__fail(p, num_pos,
                       "Result of step %lu is not available because no step comes "
                       "before this one",
                       n);
        else
            expr__fail(p, num_pos,
                       "Result of step %lu is not available because only steps 1 "
                       "to %zu come before this one",
                       n, nsteps);
        return NULL;
    }
    expr_t *e = node_new(p, EXPR_STEP, pos, p->scope->steps[n - 1]);
    if (e != NULL)
        e->index = (int)(n - 1);
    return e;
}

static expr_t *parse_literal(expr_parser_t *p, size_t pos, value_t v, app_kind_t kind)
{
    expr_t *e = node_new(p, EXPR_LITERAL, pos, scalar_type(kind));
    if (e != NULL)
        e->literal = v;
    return e;
}

static expr_t *parse_group(expr_parser_t *p, size_t pos)
{
    if (!enter(p, pos))
        return NULL;
    p->pos++;
    expr_t *e = parse_or(p);
    if (e == NULL)
        return NULL;
    expr__skip_space(p);
    if (expr__at_end(p) || p->text[p->pos] != ')') {
        char what[64];
        snprintf(what, sizeof(what), "\")\" to close the \"(\" at column %d", expr__column(p, pos));
        return fail_expected(p, what);
    }
    p->pos++;
    p->depth--;
    return e;
}

static expr_t *parse_primary(expr_parser_t *p)
{
    expr__skip_space(p);
    const size_t pos = p->pos;
    if (expr__at_end(p))
        return fail_expected(p, "a value");

    const char c = p->text[pos];
    if (c == '(')
        return parse_group(p, pos);
    if (c == '\'') {
        value_t v;
        if (!expr__lex_quoted(p, &v))
            return NULL;
        return parse_literal(p, pos, v, FK_TEXT);
    }
    if ((c >= '0' && c <= '9') ||
        (c == '-' && pos + 1 < p->len && p->text[pos + 1] >= '0' && p->text[pos + 1] <= '9')) {
        double num;
        if (!expr__lex_number(p, &num))
            return NULL;
        return parse_literal(p, pos, value_number(num), FK_NUMBER);
    }

    size_t n;
    if ((n = expr__match_keyword(p, "This")) > 0) {
        p->pos += n;
        return parse_this(p, pos);
    }
    if ((n = expr__match_keyword(p, "Current User")) > 0) {
        p->pos += n;
        return node_new(p, EXPR_CURRENT_USER, pos, thing_type(p->scope->app->user_type));
    }
    if ((n = expr__match_keyword(p, "Current date/time")) > 0) {
        p->pos += n;
        return node_new(p, EXPR_NOW, pos, scalar_type(FK_DATE));
    }
    if ((n = expr__match_keyword(p, "Result of step")) > 0) {
        p->pos += n;
        return parse_step(p, pos);
    }
    if ((n = expr__match_keyword(p, "yes")) > 0 || (n = expr__match_keyword(p, "no")) > 0) {
        const bool yes = p->text[pos] == 'y';
        p->pos += n;
        return parse_literal(p, pos, value_bool(yes), FK_BOOL);
    }

    size_t index = 0;
    if ((n = expr__match_param(p, &index)) > 0) {
        p->pos += n;
        expr_t *e = node_new(p, EXPR_PARAM, pos, p->scope->params[index].type);
        if (e != NULL)
            e->index = (int)index;
        return e;
    }

    const unsigned char u = (unsigned char)c;
    if (u >= 0x80 || u == '_' || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) {
        char word[WORD_SIZE];
        expr__word_at(p, pos, word, sizeof(word));
        expr__fail(p, pos, "unknown name \"%s\"", word);
        return NULL;
    }
    return fail_expected(p, "a value");
}

/* ---- field access ------------------------------------------------------------------------- */

/* Returns the length of "'s " (or with a typographic apostrophe) at the current position, not
 * counting the space, or 0. A word character right after it means something else. */
static size_t match_possessive(const expr_parser_t *p)
{
    static const char *const forms[] = {"'s", "\xE2\x80\x99s"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        const size_t n = strlen(forms[i]);
        if (p->len - p->pos < n || memcmp(p->text + p->pos, forms[i], n) != 0)
            continue;
        const char next = p->pos + n < p->len ? p->text[p->pos + n] : ' ';
        if (next == ' ' || next == '\t' || next == '\n' || next == '\r')
            return n;
    }
    return 0;
}

static const app_field_t *match_field(const expr_parser_t *p, const app_type_t *type, size_t *len)
{
    const app_field_t *best = NULL;
    *len = 0;
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *f = &type->fields[i];
        size_t n = f->name != NULL ? expr__match_phrase(p, f->name) : 0;
        if (f->builtin == BUILTIN_CREATED_BY) {
            const size_t alias = expr__match_phrase(p, "Creator");
            if (alias > n)
                n = alias;
        }
        if (n > *len) {
            *len = n;
            best = f;
        }
    }
    return best;
}

/* Parses ":count", ":lowercase" and the other operators written after a colon. */
static expr_t *parse_suffix(expr_parser_t *p, expr_t *left)
{
    static const struct {
        const char *word;
        expr_kind_t kind;
    } suffixes[] = {
        {"count", EXPR_COUNT},
        {"lowercase", EXPR_LOWERCASE},
        {"uppercase", EXPR_UPPERCASE},
        {"trimmed", EXPR_TRIMMED},
        {"number of characters", EXPR_LENGTH},
        {"QR code", EXPR_QR_CODE},
    };
    const size_t colon = p->pos;
    p->pos++;
    expr__skip_space(p);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        const size_t n = expr__match_phrase(p, suffixes[i].word);
        if (n == 0)
            continue;
        expr_t *e = node_new(p, suffixes[i].kind, colon, left->type);
        if (e == NULL)
            return NULL;
        e->left = left;
        e->column = left->column;
        if (!expr__check_suffix(p, e, colon, suffixes[i].word))
            return NULL;
        p->pos += n;
        return e;
    }
    return fail_expected(p, "\"count\", \"lowercase\", \"uppercase\", \"trimmed\", "
                            "\"number of characters\" or \"QR code\" after \":\"");
}

static expr_t *parse_operand(expr_parser_t *p)
{
    expr_t *e = parse_primary(p);
    for (int hops = 0; e != NULL; hops++) {
        if (p->pos < p->len && p->text[p->pos] == ':') {
            e = parse_suffix(p, e);
            continue;
        }
        const size_t n = match_possessive(p);
        if (n == 0)
            break;
        if (hops == EXPR_MAX_HOPS) {
            expr__fail(p, p->pos, "expression reads more than %d fields in a row", EXPR_MAX_HOPS);
            return NULL;
        }
        if (!expr__check_field_owner(p, e, p->pos))
            return NULL;
        p->pos += n;
        expr__skip_space(p);

        const app_type_t *type = &p->scope->app->types[e->type.ref_type];
        size_t len;
        const app_field_t *field = match_field(p, type, &len);
        if (field == NULL) {
            if (expr__at_end(p))
                return fail_expected(p, "a field name after \"'s\"");
            char word[WORD_SIZE];
            expr__word_at(p, p->pos, word, sizeof(word));
            expr__fail(p, p->pos, "unknown field \"%s\" on type %s", word, type->name);
            return NULL;
        }
        expr_t *f = node_new(p, EXPR_FIELD, p->pos, field->type);
        if (f == NULL)
            return NULL;
        f->column = e->column;
        f->field = field;
        f->left = e;
        p->pos += len;
        e = f;
    }
    return e;
}

/* ---- arithmetic --------------------------------------------------------------------------- */

/* Returns the arithmetic operator at the current position, or -1. */
static int match_arith(const expr_parser_t *p, const char *ops)
{
    if (expr__at_end(p))
        return -1;
    static const char symbols[] = "+-*/";
    const char c = p->text[p->pos];
    if (c == '\0' || strchr(ops, c) == NULL)
        return -1;
    return (int)(strchr(symbols, c) - symbols);
}

/* Parses the time unit after "date + amount", longest spelling first so "days" is not read as
 * "day" followed by "s". */
static bool parse_time_unit(expr_parser_t *p, int64_t *unit_ms)
{
    static const struct {
        const char *word;
        int64_t ms;
    } units[] = {
        {"seconds", 1000},    {"second", 1000},    {"minutes", 60000}, {"minute", 60000},
        {"hours", 3600000},   {"hour", 3600000},   {"days", 86400000}, {"day", 86400000},
        {"weeks", 604800000}, {"week", 604800000},
    };
    expr__skip_space(p);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        const size_t n = expr__match_phrase(p, units[i].word);
        if (n > 0) {
            p->pos += n;
            *unit_ms = units[i].ms;
            return true;
        }
    }
    fail_expected(p, "a time unit (seconds, minutes, hours, days or weeks)");
    return false;
}

static expr_t *arith_new(expr_parser_t *p, expr_kind_t kind, int op, expr_t *left, expr_t *right)
{
    expr_t *e = binary_new(p, kind, left, right);
    if (e != NULL) {
        e->arith = (expr_arith_t)op;
        e->type = left->type;
    }
    return e;
}

static expr_t *parse_term(expr_parser_t *p)
{
    expr_t *left = parse_operand(p);
    while (left != NULL) {
        expr__skip_space(p);
        const size_t op_pos = p->pos;
        const int op = match_arith(p, "*/");
        if (op < 0)
            break;
        p->pos++;
        expr_t *right = parse_operand(p);
        if (right == NULL)
            return NULL;
        left = arith_new(p, EXPR_ARITH, op, left, right);
        if (left != NULL && !expr__check_arith(p, left, op_pos))
            return NULL;
    }
    return left;
}

static expr_t *parse_sum(expr_parser_t *p)
{
    expr_t *left = parse_term(p);
    while (left != NULL) {
        expr__skip_space(p);
        const size_t op_pos = p->pos;
        const int op = match_arith(p, "+-");
        if (op < 0)
            break;
        p->pos++;
        expr_t *right = parse_term(p);
        if (right == NULL)
            return NULL;
        const bool is_date = left->type.kind == FK_DATE && !left->type.is_list;
        left = arith_new(p, is_date ? EXPR_DATE_ADD : EXPR_ARITH, op, left, right);
        if (left == NULL || !expr__check_arith(p, left, op_pos))
            return NULL;
        if (is_date && !parse_time_unit(p, &left->unit_ms))
            return NULL;
    }
    return left;
}

/* ---- conditions --------------------------------------------------------------------------- */

static expr_t *unary_new(expr_parser_t *p, expr_kind_t kind, expr_t *left)
{
    expr_t *e = node_new(p, kind, 0, scalar_type(FK_BOOL));
    if (e != NULL) {
        e->column = left->column;
        e->left = left;
    }
    return e;
}

/* Parses what follows "is": empty, logged in, or a value to compare with. */
static expr_t *parse_is(expr_parser_t *p, expr_t *left, size_t op_pos)
{
    expr__skip_space(p);
    size_t n;
    if ((n = expr__match_keyword(p, "not empty")) > 0) {
        p->pos += n;
        return unary_new(p, EXPR_IS_NOT_EMPTY, left);
    }
    if ((n = expr__match_keyword(p, "empty")) > 0) {
        p->pos += n;
        return unary_new(p, EXPR_IS_EMPTY, left);
    }
    const size_t not_logged = expr__match_keyword(p, "not logged in");
    const size_t logged = not_logged > 0 ? 0 : expr__match_keyword(p, "logged in");
    if (not_logged > 0 || logged > 0) {
        if (!expr__check_logged_in(p, left, op_pos))
            return NULL;
        p->pos += not_logged + logged;
        return unary_new(p, not_logged > 0 ? EXPR_NOT_LOGGED_IN : EXPR_LOGGED_IN, left);
    }

    const size_t negated = expr__match_keyword(p, "not");
    p->pos += negated;
    expr_t *right = parse_sum(p);
    if (right == NULL)
        return NULL;
    expr_t *e = binary_new(p, EXPR_CMP, left, right);
    if (e == NULL)
        return NULL;
    e->op = negated > 0 ? CMP_NE : CMP_EQ;
    return expr__check_is(p, e, op_pos, negated > 0 ? "is not" : "is") ? e : NULL;
}

static expr_t *parse_binary(expr_parser_t *p, expr_t *left, size_t op_pos, expr_kind_t kind,
                            store_cmp_t op, const char *op_word)
{
    expr_t *right = parse_sum(p);
    if (right == NULL)
        return NULL;
    expr_t *e = binary_new(p, kind, left, right);
    if (e == NULL)
        return NULL;
    e->op = op;
    const bool ok = kind == EXPR_CMP ? expr__check_order(p, e, op_pos, op_word)
                                     : expr__check_contains(p, e, op_pos);
    return ok ? e : NULL;
}

static expr_t *parse_cond(expr_parser_t *p)
{
    static const struct {
        const char *word;
        expr_kind_t kind;
        store_cmp_t op;
    } ops[] = {
        {"contains", EXPR_CONTAINS, CMP_EQ},
        {"doesn't contain", EXPR_NOT_CONTAINS, CMP_EQ},
        {"doesn\xE2\x80\x99t contain", EXPR_NOT_CONTAINS, CMP_EQ},
        {">=", EXPR_CMP, CMP_GE},
        {"<=", EXPR_CMP, CMP_LE},
        {">", EXPR_CMP, CMP_GT},
        {"<", EXPR_CMP, CMP_LT},
    };

    expr_t *left = parse_sum(p);
    if (left == NULL)
        return NULL;
    expr__skip_space(p);
    const size_t op_pos = p->pos;

    size_t n = expr__match_phrase(p, "is");
    if (n > 0) {
        p->pos += n;
        return parse_is(p, left, op_pos);
    }
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        n = expr__match_phrase(p, ops[i].word);
        if (n > 0) {
            p->pos += n;
            return parse_binary(p, left, op_pos, ops[i].kind, ops[i].op, ops[i].word);
        }
    }

    if (expr__at_end(p) || p->text[p->pos] == ')' || expr__match_phrase(p, "and") > 0 ||
        expr__match_phrase(p, "or") > 0)
        return left;
    return fail_expected(p, "an operator such as \"is\", \"contains\" or \">\"");
}

static expr_t *parse_unary(expr_parser_t *p)
{
    expr__skip_space(p);
    const size_t pos = p->pos;
    const size_t n = expr__match_keyword(p, "not");
    if (n == 0)
        return parse_cond(p);

    if (!enter(p, pos))
        return NULL;
    p->pos += n;
    expr_t *operand = parse_unary(p);
    if (operand == NULL)
        return NULL;
    p->depth--;
    if (!expr__check_bool(p, operand, "after \"not\""))
        return NULL;
    expr_t *e = unary_new(p, EXPR_NOT, operand);
    if (e != NULL)
        e->column = expr__column(p, pos);
    return e;
}

/* Parses operands joined by one of "and" or "or", each operand parsed by next. */
static expr_t *parse_chain(expr_parser_t *p, const char *word, expr_kind_t kind,
                           expr_t *(*next)(expr_parser_t *))
{
    expr_t *left = next(p);
    while (left != NULL) {
        expr__skip_space(p);
        const size_t n = expr__match_phrase(p, word);
        if (n == 0)
            break;
        char where[32];
        snprintf(where, sizeof(where), "before \"%s\"", word);
        if (!expr__check_bool(p, left, where))
            return NULL;
        p->pos += n;
        expr_t *right = next(p);
        if (right == NULL)
            return NULL;
        snprintf(where, sizeof(where), "after \"%s\"", word);
        if (!expr__check_bool(p, right, where))
            return NULL;
        left = binary_new(p, kind, left, right);
    }
    return left;
}

static expr_t *parse_and(expr_parser_t *p)
{
    return parse_chain(p, "and", EXPR_AND, parse_unary);
}

static expr_t *parse_or(expr_parser_t *p)
{
    return parse_chain(p, "or", EXPR_OR, parse_and);
}

err_t expr_parse(arena_t *arena, const expr_scope_t *scope, const char *text, expr_t **out,
                 expr_error_t *err)
{
    expr_error_t spare;
    if (err == NULL)
        err = &spare;
    memset(err, 0, sizeof(*err));
    if (out != NULL)
        *out = NULL;
    if (arena == NULL || scope == NULL || scope->app == NULL || text == NULL || out == NULL) {
        snprintf(err->message, sizeof(err->message), "expression is missing");
        return ERR_INVALID;
    }

    const size_t len = strnlen(text, EXPR_MAX_LEN + 1);
    if (len > EXPR_MAX_LEN) {
        snprintf(err->message, sizeof(err->message), "expression is longer than %d bytes",
                 EXPR_MAX_LEN);
        return ERR_INVALID;
    }

    expr_parser_t p = {.scope = scope, .arena = arena, .text = text, .len = len, .err = err};
    const size_t bad = expr__utf8_check(text, len);
    if (bad < len) {
        expr__fail(&p, bad, "expression is not valid UTF-8");
        return p.status;
    }
    expr__skip_space(&p);
    if (expr__at_end(&p)) {
        expr__fail(&p, p.pos, "expression is empty");
        return p.status;
    }

    expr_t *e = parse_or(&p);
    if (e != NULL) {
        expr__skip_space(&p);
        if (!expr__at_end(&p))
            e = fail_expected(&p, "\"and\", \"or\" or the end of the expression");
    }
    if (e == NULL)
        return p.status != ERR_OK ? p.status : ERR_INTERNAL;
    *out = e;
    return ERR_OK;
}
