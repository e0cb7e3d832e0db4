/* Type rules of the expression language, applied while parsing so that a misuse is a load error
 * with a column. Each check names the operator and the types involved in its message.
 */
#include <stdio.h>
#include <string.h>

#include "expr/expr_internal.h"

#define TYPE_NAME_SIZE 96

static const char *kind_name(app_kind_t kind)
{
    switch (kind) {
    case FK_TEXT:
        return "text";
    case FK_NUMBER:
        return "number";
    case FK_BOOL:
        return "yes/no";
    case FK_DATE:
        return "date";
    case FK_DATE_RANGE:
        return "date range";
    case FK_GEO:
        return "geographic address";
    case FK_FILE:
        return "file";
    case FK_IMAGE:
        return "image";
    case FK_OPTION:
        return "option";
    case FK_THING:
        return "thing";
    }
    return "value";
}

void expr__describe_type(const app_t *app, app_vtype_t t, char *buf, size_t size)
{
    const char *base = kind_name(t.kind);
    if (t.kind == FK_THING && t.ref_type >= 0 && (size_t)t.ref_type < app->ntypes)
        base = app->types[t.ref_type].name;
    else if (t.kind == FK_OPTION && t.option_set >= 0 && (size_t)t.option_set < app->noption_sets)
        base = app->option_sets[t.option_set].name;
    snprintf(buf, size, "%s%s", t.is_list ? "list of " : "", base);
}

static void describe(const expr_parser_t *p, app_vtype_t t, char buf[TYPE_NAME_SIZE])
{
    expr__describe_type(p->scope->app, t, buf, TYPE_NAME_SIZE);
}

static bool is_text(app_vtype_t t)
{
    return t.kind == FK_TEXT && !t.is_list;
}

bool expr__check_bool(expr_parser_t *p, const expr_t *e, const char *where)
{
    if (e->type.kind == FK_BOOL && !e->type.is_list)
        return true;
    char found[TYPE_NAME_SIZE];
    describe(p, e->type, found);
    expr__fail_at(p, e, "expected a yes/no expression %s, found %s", where, found);
    return false;
}

bool expr__check_field_owner(expr_parser_t *p, const expr_t *left, size_t pos)
{
    if (left->type.kind == FK_THING && !left->type.is_list && left->type.ref_type >= 0)
        return true;
    char found[TYPE_NAME_SIZE];
    describe(p, left->type, found);
    if (left->type.kind == FK_THING)
        expr__fail(p, pos, "cannot read a field of a %s, only of a single thing", found);
    else
        expr__fail(p, pos, "\"'s\" needs a thing on its left, found %s", found);
    return false;
}

/* A text literal compared with an option must be one of the set's values, and it then takes the
 * option type. Texts computed at run time are not checked. */
static bool check_option_text(expr_parser_t *p, expr_t *text, app_vtype_t option)
{
    if (text->kind != EXPR_LITERAL || text->literal.kind != VAL_TEXT)
        return true;
    const app_option_set_t *set = &p->scope->app->option_sets[option.option_set];
    for (size_t i = 0; i < set->nvalues; i++) {
        const char *v = set->values[i];
        if (strlen(v) == text->literal.u.s.n && memcmp(v, text->literal.u.s.p, strlen(v)) == 0) {
            text->type = option;
            text->type.is_list = false;
            return true;
        }
    }
    expr__fail_at(p, text, "option \"%.*s\" is not in option set %s",
                  text->literal.u.s.n > 60 ? 60 : (int)text->literal.u.s.n, text->literal.u.s.p,
                  set->name);
    return false;
}

/* Decides whether a value of type b may be compared with one of type a by equality. Texts and
 * options mix, with the literal check above. */
static bool check_same(expr_parser_t *p, expr_t *a_node, app_vtype_t a, expr_t *b_node,
                       app_vtype_t b, size_t pos)
{
    if (a.kind == FK_OPTION && b.kind == FK_TEXT && a.option_set >= 0)
        return check_option_text(p, b_node, a);
    if (b.kind == FK_OPTION && a.kind == FK_TEXT && b.option_set >= 0)
        return check_option_text(p, a_node, b);

    bool same = a.kind == b.kind;
    if (same && a.kind == FK_THING)
        same = a.ref_type == b.ref_type;
    if (same && a.kind == FK_OPTION)
        same = a.option_set == b.option_set;
    if (!same) {
        char an[TYPE_NAME_SIZE], bn[TYPE_NAME_SIZE];
        describe(p, a, an);
        describe(p, b, bn);
        expr__fail(p, pos, "cannot compare %s with %s", an, bn);
        return false;
    }
    return true;
}

bool expr__check_is(expr_parser_t *p, expr_t *e, size_t pos, const char *op_word)
{
    const app_vtype_t a = e->left->type, b = e->right->type;
    char name[TYPE_NAME_SIZE];

    if (a.is_list || b.is_list) {
        describe(p, a.is_list ? a : b, name);
        expr__fail(p, pos,
                   "\"%s\" cannot compare a %s, so use \"contains\" or \"is empty\" instead",
                   op_word, name);
        return false;
    }
    if (!check_same(p, e->left, a, e->right, b, pos))
        return false;
    /* Geographic addresses and date ranges are JSON objects whose text has no canonical form,
     * so equality on them would depend on how each was written. */
    if (a.kind == FK_GEO || a.kind == FK_DATE_RANGE) {
        describe(p, a, name);
        expr__fail(p, pos, "\"%s\" cannot compare values of type %s", op_word, name);
        return false;
    }
    return true;
}

bool expr__check_order(expr_parser_t *p, expr_t *e, size_t pos, const char *op_word)
{
    const app_vtype_t a = e->left->type, b = e->right->type;
    char an[TYPE_NAME_SIZE], bn[TYPE_NAME_SIZE];
    describe(p, a, an);
    describe(p, b, bn);

    if (a.kind != b.kind || a.is_list != b.is_list) {
        expr__fail(p, pos, "cannot compare %s with %s", an, bn);
        return false;
    }
    if (a.is_list || (a.kind != FK_NUMBER && a.kind != FK_DATE && a.kind != FK_TEXT)) {
        expr__fail(p, pos, "\"%s\" needs numbers, dates or texts, found %s", op_word, an);
        return false;
    }
    return true;
}

bool expr__check_contains(expr_parser_t *p, expr_t *e, size_t pos)
{
    const app_vtype_t a = e->left->type, b = e->right->type;
    char an[TYPE_NAME_SIZE], bn[TYPE_NAME_SIZE];
    describe(p, a, an);
    describe(p, b, bn);

    if (is_text(a)) {
        if (is_text(b))
            return true;
        expr__fail(p, pos, "a text can only contain a text, found %s", bn);
        return false;
    }
    if (!a.is_list) {
        expr__fail(p, pos, "\"contains\" needs a list or a text on its left, found %s", an);
        return false;
    }
    if (a.kind == FK_GEO || a.kind == FK_DATE_RANGE) {
        expr__fail(p, pos, "\"contains\" cannot search a %s", an);
        return false;
    }
    if (b.is_list) {
        expr__fail(p, pos, "\"contains\" needs a single value on its right, found %s", bn);
        return false;
    }
    app_vtype_t elem = a;
    elem.is_list = false;
    return check_same(p, e->left, elem, e->right, b, pos);
}

bool expr__check_logged_in(expr_parser_t *p, const expr_t *user, size_t pos)
{
    const app_vtype_t a = user->type;
    if (a.kind == FK_THING && !a.is_list && a.ref_type == p->scope->app->user_type)
        return true;
    char an[TYPE_NAME_SIZE];
    describe(p, a, an);
    expr__fail(p, pos, "\"logged in\" applies only to a User, found %s", an);
    return false;
}

bool expr__check_arith(expr_parser_t *p, expr_t *e, size_t pos)
{
    static const char symbols[] = "+-*/";
    const char op = symbols[e->arith];
    const app_vtype_t a = e->left->type, b = e->right->type;
    const bool a_number = a.kind == FK_NUMBER && !a.is_list;
    const bool b_number = b.kind == FK_NUMBER && !b.is_list;
    char an[TYPE_NAME_SIZE], bn[TYPE_NAME_SIZE];
    describe(p, a, an);
    describe(p, b, bn);

    if (e->kind == EXPR_DATE_ADD) {
        if (b_number)
            return true;
        expr__fail(p, pos, "expected a number of time units after \"%c\" on a date, found %s", op,
                   bn);
        return false;
    }
    if (a_number && b_number)
        return true;
    if (op == '+' || op == '-')
        expr__fail(p, pos, "\"%c\" needs two numbers, or a date on its left, found %s and %s", op,
                   an, bn);
    else
        expr__fail(p, pos, "\"%c\" needs two numbers, found %s and %s", op, an, bn);
    return false;
}

bool expr__check_suffix(expr_parser_t *p, expr_t *e, size_t pos, const char *word)
{
    const app_vtype_t a = e->left->type;
    char an[TYPE_NAME_SIZE];
    describe(p, a, an);

    if (e->kind == EXPR_COUNT) {
        if (a.is_list) {
            e->type = (app_vtype_t){.kind = FK_NUMBER, .ref_type = -1, .option_set = -1};
            return true;
        }
        expr__fail(p, pos, "\":count\" needs a list on its left, found %s", an);
        return false;
    }
    /* An option's value is its display text, so the text operators apply to it too. */
    if (a.is_list || (a.kind != FK_TEXT && a.kind != FK_OPTION)) {
        expr__fail(p, pos, "\":%s\" needs a text on its left, found %s", word, an);
        return false;
    }
    const app_kind_t kind = e->kind == EXPR_LENGTH ? FK_NUMBER : FK_TEXT;
    e->type = (app_vtype_t){.kind = kind, .ref_type = -1, .option_set = -1};
    return true;
}
