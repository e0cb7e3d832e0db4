/* GET /api/1.1/meta: the exposed types and workflows, in the shape Bubble returns. */
#include <string.h>

#include "api/api_internal.h"

static void write_workflow(sbuf_t *out, const app_t *app, const app_workflow_t *wf)
{
    sbuf_puts(out, "{\"endpoint\":");
    sbuf_put_json_string(out, wf->name, strlen(wf->name));
    sbuf_printf(out, ",\"method\":\"%s\",\"auth_unecessary\":", wf->method_get ? "get" : "post");
    /* Bubble's key is spelt this way, and clients read it as spelt. */
    switch (wf->auth) {
    case WF_AUTH_NONE: sbuf_puts(out, "true"); break;
    case WF_AUTH_USER_OR_ADMIN: sbuf_puts(out, "false"); break;
    case WF_AUTH_ADMIN: sbuf_puts(out, "\"admin_only\""); break;
    }
    sbuf_puts(out, ",\"parameters\":[");
    for (size_t i = 0; i < wf->nparams; i++) {
        const app_param_t *p = &wf->params[i];
        char tname[128];
        app_vtype_name(app, p->type, tname, sizeof(tname));
        if (i > 0)
            sbuf_putc(out, ',');
        sbuf_puts(out, "{\"key\":");
        sbuf_put_json_string(out, p->name, strlen(p->name));
        sbuf_puts(out, ",\"value\":");
        sbuf_put_json_string(out, tname, strlen(tname));
        sbuf_printf(out, ",\"optional\":%s,\"param_in\":\"%s\"}", p->optional ? "true" : "false",
                    wf->method_get || p->querystring ? "querystring" : "body");
    }
    sbuf_puts(out, "]}");
}

void api__meta(api_call_t *call)
{
    const app_t *app = call->app;
    sbuf_t *out = &call->res->body;
    bool first = true;
    sbuf_puts(out, "{\"get\":[");
    for (size_t i = 0; app->settings.data_api && i < app->ntypes; i++) {
        if (!app->types[i].expose)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        sbuf_put_json_string(out, app->types[i].url_name, strlen(app->types[i].url_name));
    }
    sbuf_puts(out, "],\"post\":[");
    first = true;
    for (size_t i = 0; app->settings.workflow_api && i < app->nworkflows; i++) {
        if (!app->workflows[i].expose)
            continue;
        if (!first)
            sbuf_putc(out, ',');
        first = false;
        write_workflow(out, app, &app->workflows[i]);
    }
    sbuf_puts(out, "]}");
    call->res->status = 200;
}
