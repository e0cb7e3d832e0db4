/* Fuzz target for app_load_buffer. A rejected definition must come with at least one error
 * message. An accepted one is walked type by type and field by field, and every name in it must
 * be found again by the lookup functions. */
#include <string.h>

#include "app/app.h"
#include "fuzz.h"

static void walk(const app_t *app)
{
    FUZZ_CHECK(app->user_type >= 0 && (size_t)app->user_type < app->ntypes);
    for (size_t t = 0; t < app->ntypes; t++) {
        const app_type_t *type = &app->types[t];
        FUZZ_CHECK(app_find_type(app, type->name, strlen(type->name)) == type);
        FUZZ_CHECK(app_find_type_by_url(app, type->url_name, strlen(type->url_name)) != NULL);
        for (size_t f = 0; f < type->nfields; f++) {
            const app_field_t *field = &type->fields[f];
            FUZZ_CHECK(field->index == (int)f);
            FUZZ_CHECK(strspn(field->column, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
                       strlen(field->column));
            char name[128];
            app_vtype_name(app, field->type, name, sizeof(name));
            FUZZ_CHECK(app_find_field_any(type, field->name, strlen(field->name)) != NULL);
        }
    }
    for (size_t w = 0; w < app->nworkflows; w++) {
        const char *name = app->workflows[w].name;
        FUZZ_CHECK(app_find_workflow(app, name, strlen(name)) == &app->workflows[w]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app_t *app = NULL;
    app_errors_t errors = {0};
    const err_t rc = app_load_buffer((const char *)data, size, &app, &errors);
    if (rc == ERR_OK) {
        FUZZ_CHECK(app != NULL);
        FUZZ_CHECK(errors.count == 0);
        walk(app);
        app_free(app);
    } else {
        FUZZ_CHECK(app == NULL);
        FUZZ_CHECK(rc != ERR_INVALID || errors.count > 0);
        for (size_t i = 0; i < errors.count; i++)
            FUZZ_CHECK(errors.items[i].message[0] != '\0');
    }
    app_errors_free(&errors);
    return 0;
}
