/* Loading app.json: reading the file, parsing the JSON and validating the document top-down.
 *
 * The document is parsed with jansson and read in passes (option sets, type names, fields,
 * privacy rules, workflows) because later parts refer to earlier ones by name. Every problem is
 * collected with its JSON path rather than stopping at the first. The app lives in one arena, so
 * a failed load or app_free releases it in one call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"
#include "core/clock.h"

/* Loads the zone named by the timezone setting, reporting at its path a name that the system tz
 * database does not have. */
static void load_timezone(app__loader_t *ld, const json_t *settings)
{
    app_settings_t *s = &ld->app->settings;
    const char *tz = settings != NULL ? app__read_string(ld, settings, "timezone", false) : NULL;
    if (tz != NULL)
        s->timezone = app__strdup(ld, tz);
    if (s->timezone == NULL)
        return;
    err_t err = clock_zone_load(s->timezone, &s->zone);
    if (err == ERR_NOMEM) {
        ld->fatal = ERR_NOMEM;
    } else if (err == ERR_NOT_FOUND) {
        app__error_at(ld, "timezone",
                      "unknown time zone \"%s\": not in the tz database under "
                      "/usr/share/zoneinfo (or $TZDIR); expected a name such as \"UTC\" or "
                      "\"Europe/Paris\"",
                      s->timezone);
    } else if (err == ERR_INVALID) {
        app__error_at(ld, "timezone",
                      "invalid time zone \"%s\": expected a name of the tz database such as "
                      "\"UTC\" or \"Europe/Paris\"",
                      s->timezone);
    } else if (err != ERR_OK) {
        app__error_at(ld, "timezone", "cannot read time zone \"%s\" from the tz database: %s",
                      s->timezone, err_name(err));
    }
}

static void load_two_factor(app__loader_t *ld, const json_t *two_factor)
{
    static const char *const keys[] = {"issuer", NULL};
    if (two_factor == NULL)
        return;
    size_t mark = app__path_key(ld, "two_factor");
    if (app__expect_object(ld, two_factor)) {
        app__check_keys(ld, two_factor, keys);
        const char *issuer = app__read_string(ld, two_factor, "issuer", false);
        if (issuer != NULL)
            ld->app->settings.two_factor_issuer = app__strdup(ld, issuer);
    }
    app__path_restore(ld, mark);
}

static void load_search_privacy(app__loader_t *ld, const json_t *settings)
{
    const json_t *v = json_object_get(settings, "search_privacy");
    if (v == NULL)
        return;
    const char *text = json_string_value(v);
    app_settings_t *s = &ld->app->settings;
    if (text != NULL && strcmp(text, "strict") == 0)
        s->search_privacy = SEARCH_PRIVACY_STRICT;
    else if (text != NULL && strcmp(text, "automatic") == 0)
        s->search_privacy = SEARCH_PRIVACY_AUTOMATIC;
    else if (text != NULL && strcmp(text, "off") == 0)
        s->search_privacy = SEARCH_PRIVACY_OFF;
    else
        app__error_at(ld, "search_privacy", "expected \"strict\", \"automatic\" or \"off\"");
}

static void load_password_policy(app__loader_t *ld, const json_t *policy)
{
    static const char *const keys[] = {"min_length", "require_number", "require_capital",
                                       "require_symbol", NULL};
    if (policy == NULL)
        return;
    size_t mark = app__path_key(ld, "password_policy");
    if (app__expect_object(ld, policy)) {
        app__check_keys(ld, policy, keys);
        app_settings_t *s = &ld->app->settings;
        const json_t *min = json_object_get(policy, "min_length");
        if (min != NULL && (!json_is_integer(min) || json_integer_value(min) < 1 ||
                            json_integer_value(min) > 1024))
            app__error_at(ld, "min_length", "expected an integer from 1 to 1024");
        else if (min != NULL)
            s->password_policy.min_length = (unsigned)json_integer_value(min);
        s->password_policy.require_number = app__read_bool(ld, policy, "require_number", false);
        s->password_policy.require_capital = app__read_bool(ld, policy, "require_capital", false);
        s->password_policy.require_symbol = app__read_bool(ld, policy, "require_symbol", false);
    }
    app__path_restore(ld, mark);
}

/* Checks the sender's shape only: the serve command parses it fully when a relay is set. It may
 * never hold a line break, because it becomes the From header. */
static void load_email(app__loader_t *ld, const json_t *email)
{
    static const char *const keys[] = {"from", NULL};
    if (email == NULL)
        return;
    size_t mark = app__path_key(ld, "email");
    if (app__expect_object(ld, email)) {
        app__check_keys(ld, email, keys);
        const char *from = app__read_string(ld, email, "from", false);
        bool control = false;
        for (const char *p = from; p != NULL && *p != '\0'; p++)
            control = control || (unsigned char)*p < 0x20 || *p == 0x7f;
        if (from != NULL && (control || strchr(from, '@') == NULL || strlen(from) > 460))
            app__error_at(ld, "from",
                          "expected an address or \"Name <address>\" on one line, such as "
                          "\"Todo <no-reply@todo.example>\"");
        else if (from != NULL)
            ld->app->settings.email_from = app__strdup(ld, from);
    }
    app__path_restore(ld, mark);
}

static void load_settings(app__loader_t *ld, const json_t *settings)
{
    static const char *const keys[] = {
        "data_api", "workflow_api",    "swagger", "two_factor", "search_privacy",
        "timezone", "password_policy", "email",   NULL,
    };
    app_settings_t *s = &ld->app->settings;
    s->data_api = true;
    s->workflow_api = true;
    s->swagger = false;
    s->search_privacy = SEARCH_PRIVACY_STRICT;
    s->timezone = "UTC";
    s->password_policy.min_length = 1;
    if (settings == NULL) {
        load_timezone(ld, NULL);
        return;
    }

    size_t mark = app__path_key(ld, "settings");
    if (app__expect_object(ld, settings)) {
        app__check_keys(ld, settings, keys);
        s->data_api = app__read_bool(ld, settings, "data_api", true);
        s->workflow_api = app__read_bool(ld, settings, "workflow_api", true);
        s->swagger = app__read_bool(ld, settings, "swagger", false);
        load_two_factor(ld, json_object_get(settings, "two_factor"));
        load_search_privacy(ld, settings);
        load_password_policy(ld, json_object_get(settings, "password_policy"));
        load_timezone(ld, settings);
        load_email(ld, json_object_get(settings, "email"));
    }
    app__path_restore(ld, mark);
}

static void load_document(app__loader_t *ld, const json_t *root)
{
    static const char *const keys[] = {
        "name", "settings", "option_sets", "types", "api_workflows", NULL,
    };
    app_t *app = ld->app;

    if (!json_is_object(root)) {
        app__error(ld, "expected a JSON object at the top level");
        return;
    }
    app__check_keys(ld, root, keys);

    const char *name = app__read_string(ld, root, "name", true);
    app->name = app__strdup(ld, name != NULL ? name : "");
    load_settings(ld, json_object_get(root, "settings"));
    if (app->settings.two_factor_issuer == NULL)
        app->settings.two_factor_issuer = app->name;

    const json_t *types = json_object_get(root, "types");
    app__load_option_sets(ld, json_object_get(root, "option_sets"));
    app__load_type_names(ld, types);
    /* Without a User type, fields and expressions have nothing for "Created By" to refer to; the
     * reason has been reported already. */
    if (ld->fatal != ERR_OK || app->user_type < 0)
        return;
    app__load_fields(ld, types);
    if (ld->fatal != ERR_OK)
        return;
    app__load_rules(ld, types);
    if (ld->fatal != ERR_OK)
        return;
    app__load_workflows(ld, json_object_get(root, "api_workflows"));
}

err_t app_load_buffer(const char *json, size_t len, app_t **out, app_errors_t *errors)
{
    *out = NULL;
    app__loader_t ld = {.errors = errors};

    if (len > APP__MAX_FILE_SIZE) {
        app__error(&ld, "the definition is %zu bytes, over the limit of %zu", len,
                   APP__MAX_FILE_SIZE);
        return ERR_INVALID;
    }

    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        app__error(&ld, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                   jerr.text);
        return ERR_INVALID;
    }

    ld.arena = arena_new(64 * 1024, APP__MAX_MEMORY);
    ld.app = ld.arena != NULL ? arena_calloc(ld.arena, 1, sizeof(app_t)) : NULL;
    if (ld.app == NULL) {
        json_decref(root);
        arena_free(ld.arena);
        return ERR_NOMEM;
    }
    ld.app->mem = ld.arena;
    ld.app->user_type = -1;

    load_document(&ld, root);
    json_decref(root);

    if (ld.fatal != ERR_OK || ld.nerrors > 0) {
        clock_zone_free(ld.app->settings.zone);
        arena_free(ld.arena);
        return ld.fatal != ERR_OK ? ld.fatal : ERR_INVALID;
    }
    *out = ld.app;
    return ERR_OK;
}

/* Reads at most APP__MAX_FILE_SIZE + 1 bytes, so an oversized file is detected without trusting
 * its reported size (a pipe or /proc file has none). */
static err_t read_file(FILE *f, char **data, size_t *len)
{
    const size_t limit = APP__MAX_FILE_SIZE + 1;
    size_t cap = 64 * 1024;
    size_t n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return ERR_NOMEM;

    while (n < limit) {
        if (n == cap) {
            cap = cap * 2 < limit ? cap * 2 : limit;
            char *grown = realloc(buf, cap);
            if (grown == NULL) {
                free(buf);
                return ERR_NOMEM;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return ERR_IO;
    }
    *data = buf;
    *len = n;
    return ERR_OK;
}

err_t app_load_file(const char *path, app_t **out, app_errors_t *errors)
{
    *out = NULL;
    app__loader_t ld = {.errors = errors};

    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        app__error(&ld, "cannot open \"%s\": %s", path, strerror(errno));
        return ld.fatal != ERR_OK ? ld.fatal : ERR_IO;
    }
    char *data = NULL;
    size_t len = 0;
    err_t rc = read_file(f, &data, &len);
    fclose(f);
    if (rc == ERR_IO)
        app__error(&ld, "cannot read \"%s\"", path);
    if (rc != ERR_OK)
        return rc;

    rc = app_load_buffer(data, len, out, errors);
    free(data);
    return rc;
}

void app_free(app_t *app)
{
    if (app == NULL)
        return;
    clock_zone_free(app->settings.zone);
    arena_free(app->mem);
}

void app_errors_free(app_errors_t *errors)
{
    if (errors == NULL)
        return;
    free(errors->items);
    errors->items = NULL;
    errors->count = 0;
    errors->cap = 0;
}
