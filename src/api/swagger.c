/* GET /api/1.1/meta/swagger.json: a Swagger 2.0 document generated from the app definition.
 *
 * Served only when the app sets "swagger": true, without authentication, as on Bubble. It lists
 * exposed types and workflows only, so it reveals nothing a caller could not learn from /meta.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"

static void key(sbuf_t *out, const char *k)
{
    sbuf_put_json_string(out, k, strlen(k));
    sbuf_putc(out, ':');
}

static void scalar_schema(sbuf_t *out, app_kind_t kind)
{
    switch (kind) {
    case FK_NUMBER:
        sbuf_puts(out, "{\"type\":\"number\"}");
        return;
    case FK_BOOL:
        sbuf_puts(out, "{\"type\":\"boolean\"}");
        return;
    case FK_DATE:
        sbuf_puts(out, "{\"type\":\"string\",\"format\":\"date-time\"}");
        return;
    case FK_GEO:
        sbuf_puts(out, "{\"type\":\"object\",\"properties\":{\"address\":{\"type\":\"string\"},"
                       "\"lat\":{\"type\":\"number\"},\"lng\":{\"type\":\"number\"}}}");
        return;
    case FK_DATE_RANGE:
        sbuf_puts(out, "{\"type\":\"object\",\"properties\":{"
                       "\"start\":{\"type\":\"string\",\"format\":\"date-time\"},"
                       "\"end\":{\"type\":\"string\",\"format\":\"date-time\"}}}");
        return;
    case FK_TEXT:
    case FK_FILE:
    case FK_IMAGE:
    case FK_OPTION:
    case FK_THING:
        break;
    }
    sbuf_puts(out, "{\"type\":\"string\"}");
}

static void type_schema(sbuf_t *out, app_vtype_t t)
{
    if (!t.is_list) {
        scalar_schema(out, t.kind);
        return;
    }
    sbuf_puts(out, "{\"type\":\"array\",\"items\":");
    scalar_schema(out, t.kind);
    sbuf_putc(out, '}');
}

/* The read shape of a thing (writable = false) or the body of a write (writable = true). */
static void thing_definition(sbuf_t *out, const app_type_t *type, bool writable)
{
    sbuf_puts(out, "{\"type\":\"object\",\"properties\":{");
    bool first = true;
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *f = &type->fields[i];
        bool builtin = f->builtin != BUILTIN_NONE;
        if (writable && builtin && f->builtin != BUILTIN_SLUG && f->builtin != BUILTIN_EMAIL)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        if (f->builtin == BUILTIN_EMAIL && !writable) {
            key(out, "authentication");
            sbuf_puts(out, "{\"type\":\"object\"}");
            continue;
        }
        key(out, f->name);
        type_schema(out, f->type);
    }
    if (writable && type->is_user)
        sbuf_puts(out, first ? "\"password\":{\"type\":\"string\"}" : ",\"password\":{\"type\":\"string\"}");
    sbuf_puts(out, "}}");
}

static void ref(sbuf_t *out, const char *name, const char *suffix)
{
    sbuf_puts(out, "{\"$ref\":\"#/definitions/");
    sbuf_puts(out, name);
    sbuf_puts(out, suffix);
    sbuf_puts(out, "\"}");
}

static void type_paths(sbuf_t *out, const app_type_t *type)
{
    const char *u = type->url_name;
    sbuf_printf(out, "\"/obj/%s\":{\"get\":{\"tags\":[\"Data\"],\"parameters\":["
                     "{\"name\":\"constraints\",\"in\":\"query\",\"type\":\"string\"},"
                     "{\"name\":\"cursor\",\"in\":\"query\",\"type\":\"integer\"},"
                     "{\"name\":\"limit\",\"in\":\"query\",\"type\":\"integer\",\"maximum\":100},"
                     "{\"name\":\"sort_field\",\"in\":\"query\",\"type\":\"string\"},"
                     "{\"name\":\"descending\",\"in\":\"query\",\"type\":\"boolean\"},"
                     "{\"name\":\"exclude_remaining\",\"in\":\"query\",\"type\":\"boolean\"}],"
                     "\"responses\":{\"200\":{\"description\":\"A page of results\"}}},",
                u);
    sbuf_puts(out, "\"post\":{\"tags\":[\"Data\"],\"parameters\":[{\"name\":\"body\",\"in\":\"body\","
                   "\"required\":true,\"schema\":");
    ref(out, u, "Body");
    sbuf_puts(out, "}],\"responses\":{\"201\":{\"description\":\"Created\"}}}},");
    sbuf_printf(out, "\"/obj/%s/{UniqueID}\":{\"parameters\":[{\"name\":\"UniqueID\",\"in\":"
                     "\"path\",\"required\":true,\"type\":\"string\"}],"
                     "\"get\":{\"tags\":[\"Data\"],\"responses\":{\"200\":{\"description\":"
                     "\"The thing\",\"schema\":",
                u);
    ref(out, u, "");
    sbuf_puts(out, "},\"404\":{\"description\":\"Not found\"}}},");
    for (int i = 0; i < 2; i++) {
        sbuf_printf(out, "\"%s\":{\"tags\":[\"Data\"],\"parameters\":[{\"name\":\"body\",\"in\":"
                         "\"body\",\"required\":true,\"schema\":",
                    i == 0 ? "patch" : "put");
        ref(out, u, "Body");
        sbuf_puts(out, "}],\"responses\":{\"204\":{\"description\":\"Changed\"}}},");
    }
    sbuf_puts(out, "\"delete\":{\"tags\":[\"Data\"],\"responses\":{\"204\":{\"description\":"
                   "\"Deleted\"}}}}");
}

static void workflow_path(sbuf_t *out, const app_t *app, const app_workflow_t *wf)
{
    sbuf_printf(out, "\"/wf/%s\":{\"%s\":{\"tags\":[\"Workflow\"],\"parameters\":[", wf->name,
                wf->method_get ? "get" : "post");
    bool in_body = false;
    bool first = true;
    for (size_t i = 0; i < wf->nparams; i++) {
        const app_param_t *p = &wf->params[i];
        if (!wf->method_get && !p->querystring) {
            in_body = true;
            continue;
        }
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        sbuf_puts(out, "{\"name\":");
        sbuf_put_json_string(out, p->name, strlen(p->name));
        sbuf_printf(out, ",\"in\":\"query\",\"required\":%s,\"type\":\"string\"}",
                    p->optional ? "false" : "true");
    }
    if (in_body) {
        if (!first)
            sbuf_putc(out, ',');
        sbuf_puts(out, "{\"name\":\"body\",\"in\":\"body\",\"required\":true,\"schema\":{"
                       "\"type\":\"object\",\"properties\":{");
        bool first_prop = true;
        for (size_t i = 0; i < wf->nparams; i++) {
            const app_param_t *p = &wf->params[i];
            if (p->querystring)
                continue;
            if (!first_prop)
                sbuf_putc(out, ',');
            first_prop = false;
            key(out, p->name);
            type_schema(out, p->type);
        }
        sbuf_puts(out, "}}}");
    }
    sbuf_puts(out, "],\"responses\":{\"200\":{\"description\":\"The workflow ran\"},"
                   "\"400\":{\"description\":\"Invalid parameters or condition not met\"}}");
    if (wf->auth == WF_AUTH_NONE)
        sbuf_puts(out, ",\"security\":[]");
    sbuf_puts(out, "}}");
}

void api__swagger(api_call_t *call)
{
    const app_t *app = call->app;
    if (!app->settings.swagger) {
        api__reply_envelope(call, 404, "NOT_FOUND",
                            "The Swagger document is off: set \"swagger\": true in the app's settings");
        return;
    }
    const char *host = http_header(call->req, "Host");
    sbuf_t *out = &call->res->body;
    sbuf_puts(out, "{\"swagger\":\"2.0\",\"info\":{\"title\":");
    sbuf_put_json_string(out, app->name, strlen(app->name));
    sbuf_puts(out, ",\"version\":\"1.1\"},");
    if (host != NULL) {
        key(out, "host");
        sbuf_put_json_string(out, host, strlen(host));
        sbuf_putc(out, ',');
    }
    sbuf_printf(out, "\"basePath\":\"%s/api/1.1\",\"schemes\":[\"https\",\"http\"],"
                     "\"consumes\":[\"application/json\"],\"produces\":[\"application/json\"],"
                     "\"securityDefinitions\":{\"api_token\":{\"type\":\"apiKey\",\"name\":"
                     "\"api_token\",\"in\":\"query\"},\"bearer\":{\"type\":\"apiKey\",\"name\":"
                     "\"Authorization\",\"in\":\"header\"}},"
                     "\"security\":[{\"bearer\":[]},{\"api_token\":[]}],\"paths\":{",
                strcmp(call->env_name, "test") == 0 ? "/version-test" : "");
    bool first = true;
    for (size_t i = 0; app->settings.data_api && i < app->ntypes; i++) {
        if (!app->types[i].expose)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        type_paths(out, &app->types[i]);
    }
    for (size_t i = 0; app->settings.workflow_api && i < app->nworkflows; i++) {
        if (!app->workflows[i].expose)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        workflow_path(out, app, &app->workflows[i]);
    }
    sbuf_puts(out, "},\"definitions\":{");
    first = true;
    for (size_t i = 0; app->settings.data_api && i < app->ntypes; i++) {
        const app_type_t *type = &app->types[i];
        if (!type->expose)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        key(out, type->url_name);
        thing_definition(out, type, false);
        sbuf_putc(out, ',');
        char body_name[160];
        snprintf(body_name, sizeof(body_name), "%sBody", type->url_name);
        key(out, body_name);
        thing_definition(out, type, true);
    }
    sbuf_puts(out, "}}");
    call->res->status = 200;
}
