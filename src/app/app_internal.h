/* Private to src/app: the loader state shared by the files that validate each part of app.json.
 *
 * The loader reads the jansson tree once, builds the app in its arena and records every problem
 * with the JSON path where it was found. Nothing here is used after app_load_* returns.
 */
#ifndef FROTH_APP_INTERNAL_H
#define FROTH_APP_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "core/arena.h"
#include "expr/expr.h"

/* The largest app.json accepted, and the most memory one loaded app may use. */
#define APP__MAX_FILE_SIZE ((size_t)16 * 1024 * 1024)
#define APP__MAX_MEMORY ((size_t)256 * 1024 * 1024)

/* Errors beyond this many are counted but not stored, so a huge broken document cannot make the
 * error list itself the problem. */
#define APP__MAX_ERRORS 1000

/* PostgreSQL silently truncates identifiers longer than 63 bytes, so tables and columns stay
 * within that. */
#define APP__MAX_IDENT 63

/* Upper bounds on the parts of one definition. They are generous guesses (a large Bubble app has
 * some dozens of types with some dozens of fields each) that keep the quadratic duplicate checks
 * and the per-rule field arrays small. */
#define APP__MAX_TYPES 1000
#define APP__MAX_FIELDS 2000 /* declared fields of one type */
#define APP__MAX_RULES 200   /* privacy rules of one type */
#define APP__MAX_OPTION_SETS 1000
#define APP__MAX_OPTIONS 10000 /* values of one option set */

typedef struct {
    arena_t *arena; /* becomes app->mem on success */
    app_t *app;
    app_errors_t *errors; /* may be NULL: errors are then only counted */
    size_t nerrors;       /* errors found during this load */
    err_t fatal;          /* ERR_NOMEM once an allocation has failed */
    char path[1024];      /* JSON path of the value being read, e.g. "types.Task.fields" */
    size_t path_len;
} app__loader_t;

/* A requirement on an expression's result type. */
typedef enum {
    APP__WANT_ANY = 0,
    APP__WANT_BOOL,  /* a single yes/no */
    APP__WANT_TEXT,  /* a single text */
    APP__WANT_THING, /* a single thing of any type */
} app__want_t;

/* ---- read.c: paths, errors and typed access to the jansson tree ---- */

/* Appends ".key" (or "key" at the root) or "[i]" to the current path and returns the previous
 * length, which app__path_restore takes to pop it again. */
size_t app__path_key(app__loader_t *ld, const char *key);
size_t app__path_index(app__loader_t *ld, size_t i);
void app__path_restore(app__loader_t *ld, size_t mark);

/* Records an error at the current path, or at the current path plus key. */
void app__error(app__loader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void app__error_at(app__loader_t *ld, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Arena helpers that record ERR_NOMEM in ld->fatal when the arena fails. */
void *app__calloc(app__loader_t *ld, size_t count, size_t size);
char *app__strdup(app__loader_t *ld, const char *name);

/* Reports an error and returns false when count is over max; what names the items counted. */
bool app__within_limit(app__loader_t *ld, size_t count, size_t max, const char *what);

/* Reports each key of obj that is not in allowed (a NULL-terminated list). */
void app__check_keys(app__loader_t *ld, const json_t *obj, const char *const *allowed);

/* Reads an optional boolean member; reports a non-boolean and returns def when absent or bad. */
bool app__read_bool(app__loader_t *ld, const json_t *obj, const char *key, bool def);

/* Reads a string member. Returns NULL when it is absent (reported only when required), not a
 * string or empty (both reported). The result points into the jansson tree. */
const char *app__read_string(app__loader_t *ld, const json_t *obj, const char *key, bool required);

/* Reports an error unless v is an object; the message names what was expected. */
bool app__expect_object(app__loader_t *ld, const json_t *v);

/* Parses text in scope. Returns NULL with err filled when it is invalid, or with ld->fatal set
 * when memory ran out. Reports nothing. */
struct expr *app__parse_expr(app__loader_t *ld, const char *text, const expr_scope_t *scope,
                             expr_error_t *err);

/* Reports a parse failure at path.key as "column N: message". */
void app__report_expr_error(app__loader_t *ld, const char *key, const expr_error_t *err);

/* Reports at path.key and returns false when e's result type does not meet want. */
bool app__check_want(app__loader_t *ld, const char *key, const struct expr *e, app__want_t want);

/* Parses the expression string at obj[key] in scope and checks its result against want. Returns
 * NULL when absent (reported only when required) or invalid (reported at path.key). */
struct expr *app__read_expr(app__loader_t *ld, const json_t *obj, const char *key,
                            const expr_scope_t *scope, app__want_t want, bool required);

/* ---- types.c: option sets, types and fields ---- */

void app__load_option_sets(app__loader_t *ld, const json_t *sets);

/* Creates every type with its name, URL name and table, adding User when absent. */
void app__load_type_names(app__loader_t *ld, const json_t *types);

/* Builds each type's field list. Needs every type name and option set. */
void app__load_fields(app__loader_t *ld, const json_t *types);

/* Parses a field or parameter type string such as "list of option Priority". Reports a problem
 * at the current path and returns false. */
bool app__parse_vtype(app__loader_t *ld, const char *s, app_vtype_t *out);

/* ---- rules.c: privacy rules ---- */

/* Reads each type's privacy rules. Needs every type's fields. */
void app__load_rules(app__loader_t *ld, const json_t *types);

/* ---- workflows.c and actions.c ---- */

void app__load_workflows(app__loader_t *ld, const json_t *workflows);

/* Reads the actions of wf from the array at the current path. */
void app__load_actions(app__loader_t *ld, app_workflow_t *wf, const json_t *actions);

/* ---- names.c: name normalisation ---- */

/* Compares a (an bytes) with b, ASCII case-insensitively and ignoring spaces on both sides. */
bool app__equal_squashed(const char *a, size_t an, const char *b);

/* Returns s lowercased (ASCII only) with spaces removed, in the arena. */
char *app__squash(app__loader_t *ld, const char *name);

/* Writes the id suffix of a value type ("text", "option_priority", "custom_task", "user",
 * "list_text") with sep between the parts: '_' for field ids, '.' for Bubble type names. */
void app__vtype_suffix(const app_t *app, app_vtype_t t, char sep, char *out, size_t size);

/* Writes a value type the way app.json spells it ("yes/no", "list of Task", "option Priority"),
 * for messages to the author of the definition. */
void app__describe_vtype(const app_t *app, app_vtype_t t, char *out, size_t size);

/* Returns the 32-bit FNV-1a hash of s. */
uint32_t app__fnv1a(const char *name);

/* Returns the SQL identifier prefix + name, lowercased, with each run of bytes outside [a-z0-9_]
 * replaced by one '_', and shortened with a hash of name when over APP__MAX_IDENT bytes. */
char *app__sql_ident(app__loader_t *ld, const char *prefix, const char *name);

/* Returns ident + "_" + 8 hex digits of the FNV-1a hash of name, used when two names would
 * otherwise map to the same SQL identifier. Stays within APP__MAX_IDENT bytes. */
char *app__sql_ident_hashed(app__loader_t *ld, const char *ident, const char *name);

#endif
