/* The application definition: app.json loaded into an immutable in-memory model.
 *
 * app_load reads and validates the whole document, resolving every type, field, option set and
 * expression, and reports each error with its JSON path. Once loaded, an app_t is read-only and
 * shared by all threads without locks. This module does not touch the store or HTTP.
 */
#ifndef FROTH_APP_H
#define FROTH_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct expr;

/* The kind of a field, parameter or expression value. */
typedef enum {
    FK_TEXT = 0,
    FK_NUMBER,
    FK_BOOL,       /* yes/no */
    FK_DATE,
    FK_DATE_RANGE,
    FK_GEO,        /* geographic address */
    FK_FILE,
    FK_IMAGE,
    FK_OPTION,     /* a value of an option set */
    FK_THING,      /* a reference to a thing of another (or the same) type */
} app_kind_t;

/* A value type: the kind, whether it is a list, and what a reference or option points to. */
typedef struct {
    app_kind_t kind;
    bool is_list;
    int ref_type;   /* index into app_t.types when kind == FK_THING, else -1 */
    int option_set; /* index into app_t.option_sets when kind == FK_OPTION, else -1 */
} app_vtype_t;

/* Built-in fields every thing has. The User type also has BUILTIN_EMAIL. */
typedef enum {
    BUILTIN_NONE = 0,
    BUILTIN_ID,            /* "_id" */
    BUILTIN_CREATED_DATE,  /* "Created Date" */
    BUILTIN_MODIFIED_DATE, /* "Modified Date" */
    BUILTIN_CREATED_BY,    /* "Created By", called "Creator" in expressions */
    BUILTIN_SLUG,          /* "Slug" */
    BUILTIN_EMAIL,         /* User only: shown under "authentication" */
} app_builtin_t;

typedef struct {
    const char *name;   /* display name: the JSON key on the wire */
    const char *id;     /* Bubble's internal id, e.g. "unit_name_text", "owner_user" */
    const char *squashed; /* lowercase, spaces removed: "unitname" */
    const char *column; /* SQL column name, always [a-z0-9_] */
    app_vtype_t type;
    app_builtin_t builtin;
    int index;          /* position in app_type_t.fields */
} app_field_t;

/* One privacy rule. The "everyone else" rule has when == NULL and everyone_else set. */
typedef struct {
    const char *name;
    struct expr *when;  /* a yes/no expression over This <Type> and Current User; NULL = always */
    const char *when_text; /* that expression as written in app.json; NULL with when */
    bool everyone_else;
    bool find;
    bool view_all;
    bool *view_fields;  /* per field index, meaningful when !view_all */
    bool view_files;
    bool create_via_api;
    bool modify_via_api;
    bool delete_via_api;
    bool *constrain_fields; /* per field index: fields this rule lets the caller constrain on */
} app_rule_t;

typedef struct {
    const char *name;     /* display name as written in app.json */
    const char *url_name; /* lowercase, spaces removed: the /obj/<name> segment */
    const char *table;    /* SQL table name, always [a-z0-9_] */
    bool expose;
    bool is_user;
    app_field_t *fields;  /* built-ins first (BUILTIN_* order), then the declared fields */
    size_t nfields;
    app_rule_t *rules;    /* in declaration order; at most one everyone_else rule */
    size_t nrules;
    bool public_by_default; /* no "privacy" key: everyone finds and views everything */
} app_type_t;

typedef struct {
    const char *name;
    const char **values; /* display texts in declaration order */
    size_t nvalues;
} app_option_set_t;

typedef enum {
    WF_AUTH_NONE = 0,
    WF_AUTH_USER_OR_ADMIN,
    WF_AUTH_ADMIN,
} app_wf_auth_t;

typedef struct {
    const char *name;
    app_vtype_t type;
    bool optional;
    bool querystring;
} app_param_t;

typedef enum {
    ACT_SIGN_UP = 0,
    ACT_LOG_IN,
    ACT_LOG_OUT,
    ACT_CREATE_THING,
    ACT_MAKE_CHANGES,
    ACT_DELETE_THING,
    ACT_RETURN_DATA,
    ACT_SCHEDULE_WORKFLOW,
    ACT_CANCEL_SCHEDULED,
    ACT_LOG_OUT_OTHER_SESSIONS,
    ACT_CHANGE_PASSWORD,
    ACT_SEND_PASSWORD_RESET,
    ACT_RESET_PASSWORD,
    ACT_ENABLE_2FA_START,
    ACT_ENABLE_2FA_CONFIRM,
    ACT_DISABLE_2FA,
    ACT_REGENERATE_RECOVERY_CODES,
    ACT_CHECK_2FA,
    ACT_DELETE_LIST,
} app_action_kind_t;

/* A key bound to an expression: a field to set (field >= 0) or a key of returned data. */
typedef struct {
    const char *key;
    int field;          /* index into the target type's fields, or -1 for return_data keys */
    struct expr *value;
} app_binding_t;

typedef struct {
    app_action_kind_t kind;
    struct expr *only_when;      /* NULL = always */
    /* sign_up and log_in */
    struct expr *email;
    struct expr *password;
    struct expr *stay_logged_in; /* yes/no; NULL = no */
    struct expr *two_factor_code; /* log_in; also the code of the 2FA actions */
    struct expr *current_password; /* change_password: checked when given */
    struct expr *link;             /* send_password_reset: the page the email links to */
    struct expr *reset_token;      /* reset_password */
    /* create_thing: the type; make_changes and delete_thing: the thing expression and its type;
     * delete_list: the type of the things in list. type is -1 for the other kinds. The thing of
     * make_changes may also be a list of things, each changed the same way. */
    int type;
    struct expr *thing;
    struct expr *list;           /* delete_list: a list of things */
    app_binding_t *set;          /* create_thing and make_changes */
    size_t nset;
    app_binding_t *data;         /* return_data with content_type "json" */
    size_t ndata;
    /* return_data: NULL for "json"; otherwise the response's Content-Type ("text" is stored as
     * "text/plain; charset=utf-8") and text, the expression that yields the whole body */
    const char *content_type;
    struct expr *text;
    /* schedule_workflow: the workflow to run, when (NULL = now), and its parameters, each
     * binding's field being the target's parameter index; cancel_scheduled: the run's id */
    int target_workflow;
    struct expr *at;
    app_binding_t *args;
    size_t nargs;
    struct expr *job_id;
    bool has_result;             /* false for log_out and return_data */
    app_vtype_t result;          /* what "Result of step N" yields: the user or the thing */
} app_action_t;

typedef struct {
    const char *name;
    app_wf_auth_t auth;
    bool method_get;             /* false = POST */
    bool expose;
    bool ignore_privacy;
    bool return_200_if_not_met;
    struct expr *only_when;
    app_param_t *params;
    size_t nparams;
    app_action_t *actions;
    size_t nactions;
} app_workflow_t;

typedef enum {
    SEARCH_PRIVACY_STRICT = 0,
    SEARCH_PRIVACY_AUTOMATIC,
    SEARCH_PRIVACY_OFF,
} app_search_privacy_t;

typedef struct {
    bool data_api;                 /* default true */
    bool workflow_api;             /* default true */
    bool swagger;                  /* default false */
    const char *two_factor_issuer; /* default: the app's name */
    app_search_privacy_t search_privacy;
    const char *timezone;    /* default "UTC" */
    struct clock_zone *zone; /* that zone, loaded from the tz database; never NULL in a
                                loaded app, and read-only like the rest of it */
    const char *email_from;        /* email.from: the sender of emails; NULL when unset */
    struct {
        unsigned min_length;       /* characters; default 1 */
        bool require_number;
        bool require_capital;
        bool require_symbol;       /* anything but a letter, digit or space */
    } password_policy;
} app_settings_t;

typedef struct app {
    const char *name;
    app_settings_t settings;
    app_type_t *types;
    size_t ntypes;
    int user_type;               /* index of the User type; always present */
    app_option_set_t *option_sets;
    size_t noption_sets;
    app_workflow_t *workflows;
    size_t nworkflows;
    void *mem;                   /* owner of everything above */
} app_t;

/* One load error: a JSON path such as "types.Task.privacy[0].when" and a message. */
typedef struct {
    char path[256];
    char message[512];
} app_error_t;

typedef struct {
    app_error_t *items;
    size_t count;
    size_t cap;
} app_errors_t;

/* Loads and validates the definition in the file at path. On success stores a new app in *out
 * and returns ERR_OK. On failure returns ERR_INVALID (or ERR_IO, ERR_NOMEM) and fills errors with
 * every problem found, each with its JSON path; the caller frees errors with app_errors_free. */
err_t app_load_file(const char *path, app_t **out, app_errors_t *errors) WARN_UNUSED;

/* Same as app_load_file, from a buffer of JSON text. */
err_t app_load_buffer(const char *json, size_t len, app_t **out, app_errors_t *errors) WARN_UNUSED;

void app_free(app_t *app);
void app_errors_free(app_errors_t *errors);

/* Finds an exposed or unexposed type by URL segment: case-insensitive, spaces ignored. */
const app_type_t *app_find_type_by_url(const app_t *app, const char *segment, size_t n);

/* Finds a type by display name, exactly. Returns NULL when absent. */
const app_type_t *app_find_type(const app_t *app, const char *name, size_t n);
int app_type_index(const app_t *app, const app_type_t *type);

/* Finds a field by display name (exact), for write bodies and sort keys. */
const app_field_t *app_find_field(const app_type_t *type, const char *name, size_t n);

/* Finds a field by any spelling a constraint key may use: display name, internal id, or the
 * squashed lowercase name. */
const app_field_t *app_find_field_any(const app_type_t *type, const char *name, size_t n);

const app_workflow_t *app_find_workflow(const app_t *app, const char *name, size_t n);

/* Lists, without repeats, the fields of This that a rule's condition reads directly (for
 * "This Task's assignee's name" that is assignee), so the store can index them. Writes at most
 * max fields into out and returns how many. */
size_t app_rule_fields(const app_rule_t *rule, const app_field_t **out, size_t max);

/* Writes a value type as Bubble names it ("text", "number", "custom.task", "list.text",
 * "option.priority") into out. */
void app_vtype_name(const app_t *app, app_vtype_t t, char *out, size_t size);

#endif
