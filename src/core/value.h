/* A typed scalar value: what a field holds, a parameter carries, or an expression yields.
 *
 * Texts, references (a thing's _id), option values and JSON-encoded compound values (lists,
 * geographic addresses, date ranges) are slices that point into memory the caller owns, usually a
 * request arena. Empty text and empty lists are represented as VAL_NULL everywhere, so "is empty"
 * has one meaning.
 */
#ifndef FROTH_CORE_VALUE_H
#define FROTH_CORE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VAL_NULL = 0,
    VAL_TEXT,   /* text, thing id, option display text */
    VAL_NUMBER,
    VAL_BOOL,
    VAL_DATE,   /* epoch milliseconds */
    VAL_JSON,   /* JSON text: a list, a geographic address object or a date range */
} value_kind_t;

typedef struct {
    value_kind_t kind;
    union {
        struct {
            const char *p;
            size_t n;
        } s; /* VAL_TEXT and VAL_JSON */
        double num;
        bool b;
        int64_t ms;
    } u;
} value_t;

static inline value_t value_null(void)
{
    value_t v = {.kind = VAL_NULL};
    return v;
}

static inline value_t value_text(const char *p, size_t n)
{
    value_t v = {.kind = n == 0 ? VAL_NULL : VAL_TEXT};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

static inline value_t value_number(double num)
{
    value_t v = {.kind = VAL_NUMBER};
    v.u.num = num;
    return v;
}

static inline value_t value_bool(bool b)
{
    value_t v = {.kind = VAL_BOOL};
    v.u.b = b;
    return v;
}

static inline value_t value_date(int64_t ms)
{
    value_t v = {.kind = VAL_DATE};
    v.u.ms = ms;
    return v;
}

static inline value_t value_json(const char *p, size_t n)
{
    value_t v = {.kind = VAL_JSON};
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}

#endif
