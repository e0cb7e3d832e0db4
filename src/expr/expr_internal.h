/* Declarations shared by the files of the expression module: the parser state, the scanning
 * helpers of lex.c, the type rules of check.c and the value operations that expr_eval and
 * expr_to_cond must apply identically. Nothing outside src/expr includes this header.
 */
#ifndef FROTH_EXPR_INTERNAL_H
#define FROTH_EXPR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "expr/expr.h"

/* Maximum length of an expression text, in bytes. */
#define EXPR_MAX_LEN 4096

/* Maximum nesting of parentheses and "not". The parser recurses once per level. */
#define EXPR_MAX_DEPTH 64

/* Maximum fields read in a row ("a's b's c"). Each hop from This becomes a nested subquery in
 * the store's SQL, and databases limit how deep those may go. */
#define EXPR_MAX_HOPS 16

typedef struct {
    const expr_scope_t *scope;
    arena_t *arena;
    const char *text;
    size_t len;
    size_t pos;
    int depth;
    expr_error_t *err;
    err_t status; /* ERR_OK until the first failure, which is the one reported */
} expr_parser_t;

/* ---- lex.c ---------------------------------------------------------------------------- */

/* Returns the 1-based column of byte offset pos, counting UTF-8 characters, not bytes. */
int expr__column(const expr_parser_t *p, size_t pos);

/* Records the first failure: ERR_INVALID with a message and the column of byte offset pos. */
void expr__fail(expr_parser_t *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first failure at the column where the node e starts. */
void expr__fail_at(expr_parser_t *p, const expr_t *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an allocation failure. Always returns NULL, for use in return statements. */
void *expr__nomem(expr_parser_t *p);

void expr__skip_space(expr_parser_t *p);
bool expr__at_end(const expr_parser_t *p);

/* Returns the bytes of text at p->pos that match phrase, or 0. A space in phrase matches any run
 * of white space, and a match that ends inside a word does not count ("no" does not match
 * "note"). */
size_t expr__match_phrase(const expr_parser_t *p, const char *phrase);

/* Like expr__match_phrase for a keyword where a value may stand, so a parameter whose name is
 * longer ("empty box" against "empty") wins over the keyword. */
size_t expr__match_keyword(const expr_parser_t *p, const char *keyword);

/* Returns the length of the longest parameter name at p->pos, and its index in *index. */
size_t expr__match_param(const expr_parser_t *p, size_t *index);

/* Copies the word at byte offset pos into buf for a message, cut at a safe length. */
void expr__word_at(const expr_parser_t *p, size_t pos, char *buf, size_t size);

/* Scans a number at p->pos ([-]digits[.digits]) and advances past it. Returns false with the
 * failure recorded when the text there is not a valid number. */
bool expr__lex_number(expr_parser_t *p, double *out);

/* Scans 'quoted text' at p->pos, where '' stands for one quote, into an arena copy. */
bool expr__lex_quoted(expr_parser_t *p, value_t *out);

/* Returns the byte offset of the first invalid UTF-8 sequence in s, or n when s is valid. */
size_t expr__utf8_check(const char *s, size_t n);

/* ---- check.c -------------------------------------------------------------------------- */

/* Writes the Bubble name of a value type ("text", "list of Task", "Priority") into buf. */
void expr__describe_type(const app_t *app, app_vtype_t t, char *buf, size_t size);

/* Each check fails the parse with a message at pos (the operator's or operand's column) and
 * returns false when the operands do not fit. They may retype a text literal as an option. */
bool expr__check_bool(expr_parser_t *p, const expr_t *e, const char *where);
bool expr__check_field_owner(expr_parser_t *p, const expr_t *left, size_t pos);
bool expr__check_is(expr_parser_t *p, expr_t *e, size_t pos, const char *op_word);
bool expr__check_order(expr_parser_t *p, expr_t *e, size_t pos, const char *op_word);
bool expr__check_contains(expr_parser_t *p, expr_t *e, size_t pos);
bool expr__check_logged_in(expr_parser_t *p, const expr_t *user, size_t pos);
/* Checks an EXPR_ARITH or EXPR_DATE_ADD node; pos is the operator's. */
bool expr__check_arith(expr_parser_t *p, expr_t *e, size_t pos);
/* Checks a ":count" or text operator node (word is the suffix) and sets its result type. */
bool expr__check_suffix(expr_parser_t *p, expr_t *e, size_t pos, const char *word);

/* ---- eval.c --------------------------------------------------------------------------- */

/* Applies a comparison to two evaluated values. Empty equals only empty, and an empty value never
 * satisfies an ordering. Values of different kinds are never equal. */
bool expr__apply_cmp(store_cmp_t op, value_t a, value_t b);

/* Case-insensitive (ASCII) substring test. An empty text contains nothing and is in nothing. */
bool expr__text_contains(value_t hay, value_t needle);

/* True when e is Current User and the caller is logged out, where "is" never holds. */
bool expr__is_logged_out_user(const expr_t *e, const expr_env_t *env);

/* Returns the field holding a thing's _id, or NULL when the type has none. */
const app_field_t *expr__id_field(const app_type_t *type);

/* ---- ops.c ---------------------------------------------------------------------------- */

/* Largest time shift, in milliseconds, that date arithmetic accepts (2^53, where doubles stop
 * holding every integer). A larger shift yields an empty date. */
#define EXPR_MAX_SHIFT_MS 9007199254740992.0

/* Converts an amount of time units into a signed shift in milliseconds (negated for ARITH_SUB).
 * Returns false when the amount is empty, not a number, or the shift is out of range; the date
 * arithmetic then yields an empty date. */
bool expr__date_shift(value_t amount, int64_t unit_ms, expr_arith_t op, int64_t *out);

/* Applies arithmetic to two numbers. A division by zero and a result that is not finite give an
 * empty value. */
value_t expr__arith(expr_arith_t op, double a, double b);

/* Evaluates the arithmetic and text operators: EXPR_ARITH, EXPR_DATE_ADD, EXPR_COUNT,
 * EXPR_LOWERCASE, EXPR_UPPERCASE, EXPR_TRIMMED and EXPR_LENGTH. */
err_t expr__eval_op(const expr_t *e, const expr_env_t *env, value_t *out);

/* ---- list.c --------------------------------------------------------------------------- */

/* Tests whether a JSON array value contains item (numbers compare numerically). An empty or
 * VAL_NULL list contains nothing. Returns ERR_INVALID when list is not a JSON array. */
err_t expr__list_contains(value_t list, value_t item, bool *out);

/* True for VAL_NULL and for a JSON empty array. */
bool expr__value_is_empty(value_t v);

/* Counts the elements of a JSON array value; VAL_NULL counts as an empty list. Returns
 * ERR_INVALID when list is not a JSON array. */
err_t expr__list_count(value_t list, size_t *out);

/* Decodes the scalar elements of a JSON array into values in arena, converting them to the
 * element kind (numbers and date texts become dates for FK_DATE). Other elements are skipped. */
err_t expr__list_values(arena_t *arena, value_t list, app_kind_t elem, value_t **out,
                        size_t *count);

#endif
