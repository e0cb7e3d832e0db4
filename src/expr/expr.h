/* The expression language of privacy rules, "only when" conditions and action inputs.
 *
 * Expressions use Bubble's wording ("This Task's Creator is Current User"). Parsing resolves every
 * name against the app's schema at load time, so a typo is a load error with a column, never a
 * runtime surprise; the result is a typed AST. One AST has two back ends: expr_eval evaluates it
 * for one thing in memory, and expr_to_cond compiles it into a store condition for a search, with
 * the caller's values bound once. Both must agree; a test checks it.
 *
 * Grammar (case-sensitive keywords, field and type names may contain spaces):
 *   expr     := or
 *   or       := and ("or" and)*
 *   and      := unary ("and" unary)*
 *   unary    := "not" unary | cond
 *   cond     := sum [ "is" sum | "is not" sum | "is empty" | "is not empty"
 *                   | "is logged in" | "is not logged in" | "contains" sum
 *                   | "doesn't contain" sum | ">" sum | "<" sum | ">=" sum | "<=" sum ]
 *   sum      := term (("+" | "-") term [time-unit])*   a time unit follows when the left is a date
 *   term     := operand (("*" | "/") operand)*
 *   operand  := primary ("'s" field-name | ":" suffix)*
 *   suffix   := "count" | "lowercase" | "uppercase" | "trimmed" | "number of characters"
 *             | "QR code"
 *   time-unit := "seconds" | "minutes" | "hours" | "days" | "weeks", or the singular
 *   primary  := "This" type-name | "Current User" | "Current date/time" | "Result of step" N
 *             | parameter-name | number | "yes" | "no" | 'quoted text' | "(" expr ")"
 * "Creator" names the built-in Created By field in expressions.
 */
#ifndef FROTH_EXPR_H
#define FROTH_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/value.h"
#include "store/store.h"

typedef enum {
    EXPR_LITERAL = 0,  /* literal: a text, number or yes/no */
    EXPR_THIS,         /* This <Type> */
    EXPR_CURRENT_USER,
    EXPR_NOW,          /* Current date/time */
    EXPR_PARAM,        /* a workflow parameter; index into the scope's params */
    EXPR_STEP,         /* Result of step N; index = N - 1 */
    EXPR_FIELD,        /* left's field */
    EXPR_NOT,
    EXPR_AND,
    EXPR_OR,
    EXPR_CMP,          /* left op right, op a store_cmp_t (EQ for "is", NE for "is not") */
    EXPR_CONTAINS,     /* list left contains right, or text left contains text right */
    EXPR_NOT_CONTAINS,
    EXPR_IS_EMPTY,
    EXPR_IS_NOT_EMPTY,
    EXPR_LOGGED_IN,     /* left (a user) is logged in */
    EXPR_NOT_LOGGED_IN,
    EXPR_ARITH,        /* number left op right, op an expr_arith_t */
    EXPR_DATE_ADD,     /* date left plus or minus (arith) number right times unit_ms */
    EXPR_COUNT,        /* list left:count, a number */
    EXPR_LOWERCASE,    /* text left:lowercase */
    EXPR_UPPERCASE,    /* text left:uppercase */
    EXPR_TRIMMED,      /* text left:trimmed */
    EXPR_LENGTH,       /* text left:number of characters, a number */
    EXPR_QR_CODE,      /* text left:QR code, an SVG image of its QR code as a data URI */
} expr_kind_t;

typedef enum {
    ARITH_ADD = 0,
    ARITH_SUB,
    ARITH_MUL,
    ARITH_DIV,
} expr_arith_t;

typedef struct expr {
    expr_kind_t kind;
    app_vtype_t type;         /* result type, set by the parser */
    int column;               /* 1-based column in the source, for messages */
    value_t literal;          /* EXPR_LITERAL */
    int index;                /* EXPR_PARAM, EXPR_STEP */
    const app_field_t *field; /* EXPR_FIELD */
    store_cmp_t op;           /* EXPR_CMP */
    expr_arith_t arith;       /* EXPR_ARITH; ARITH_ADD or ARITH_SUB for EXPR_DATE_ADD */
    int64_t unit_ms;          /* EXPR_DATE_ADD: milliseconds in one unit of the amount */
    struct expr *left;
    struct expr *right;
} expr_t;

/* What names an expression may use. */
typedef struct {
    const app_t *app;         /* types and option sets must already be loaded */
    int this_type;            /* index of the type "This <Type>" may name, or -1 */
    const app_param_t *params;
    size_t nparams;
    const app_vtype_t *steps; /* result types of the steps before this one */
    size_t nsteps;
} expr_scope_t;

typedef struct {
    int column;               /* 1-based; 0 when the error is not tied to a column */
    char message[256];
} expr_error_t;

/* Parses and type-checks text. The AST is allocated in arena and points into the app. Returns
 * ERR_INVALID with err filled (column and message naming the bad word) when the text is not a
 * valid expression in this scope. */
err_t expr_parse(arena_t *arena, const expr_scope_t *scope, const char *text, expr_t **out,
                 expr_error_t *err) WARN_UNUSED;

/* The data an expression is evaluated against. */
typedef struct expr_env {
    const app_t *app;
    const char *user_id;        /* Current User's id; NULL when logged out or admin */
    bool is_admin;
    const app_type_t *this_type;
    const value_t *this_values; /* the thing "This" refers to, aligned with this_type->fields */
    const value_t *params;      /* aligned with the scope's params */
    const value_t *steps;       /* results of earlier steps */
    int64_t now_ms;
    arena_t *arena;
    /* Reads a field of the thing with this id, honouring whatever privacy applies to the caller.
     * Sets *out to VAL_NULL and returns ERR_OK when the thing does not exist or is hidden. */
    err_t (*load_field)(void *ud, const app_type_t *type, const char *id, size_t id_len,
                        const app_field_t *field, value_t *out);
    void *ud;
} expr_env_t;

/* Evaluates e. Comparisons with a logged-out Current User are false: an anonymous caller is
 * nobody, so "This Task's Creator is Current User" never holds for it, even for things created
 * anonymously. */
err_t expr_eval(const expr_t *e, const expr_env_t *env, value_t *out) WARN_UNUSED;

/* Evaluates a yes/no expression; an empty result counts as no. */
err_t expr_eval_bool(const expr_t *e, const expr_env_t *env, bool *out) WARN_UNUSED;

/* Compiles a yes/no expression over This <Type> into a condition on that type's table. Parts that
 * do not depend on This (Current User, parameters, literals) are evaluated once with env; parts
 * that do become column conditions, with :count, the text operators and arithmetic on a field of
 * This as computed values (store_calc_t). Fields read through references are read as stored,
 * whatever the caller may see of the referenced thing. The result lives in env->arena. Returns
 * ERR_INVALID when a part that depends on This has no store condition (two sides that both
 * depend on This, for one); expr_check_searchable names that part. */
err_t expr_to_cond(const expr_t *e, const expr_env_t *env, store_cond_t **out) WARN_UNUSED;

/* Checks, without an environment, that expr_to_cond can compile e: every operator applied to a
 * value that depends on This must have a store condition. Returns true, or false with err filled
 * (the column of the offending part and a message naming it). A rule loader calls it once per
 * rule so that the error points at the part to change. Thread-safe. */
bool expr_check_searchable(const expr_t *e, expr_error_t *err);

#endif
