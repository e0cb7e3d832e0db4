/* A thing as Bubble returns it: display-name keys, built-ins, hidden and empty fields omitted. */
#include <string.h>

#include "api/api_internal.h"

const char *api__creator_id(const api_call_t *call)
{
    switch (call->caller.kind) {
    case CALLER_USER:
        return call->caller.user_id;
    case CALLER_ADMIN:
        return arena_printf(call->req->arena, "admin_user_%s_%s", call->app->name,
                            call->env_name);
    case CALLER_ANONYMOUS:
        break;
    }
    return NULL;
}

static void write_key(sbuf_t *out, const char *key, bool *first)
{
    if (!*first)
        sbuf_putc(out, ',');
    *first = false;
    sbuf_put_json_string(out, key, strlen(key));
    sbuf_putc(out, ':');
}

/* Users carry their email under "authentication", as Bubble shows it, and only when a rule lets
 * the caller view the email field. The password hash is never part of a thing's values. */
static void write_authentication(sbuf_t *out, value_t email, bool *first)
{
    write_key(out, "authentication", first);
    sbuf_puts(out, "{\"email\":{\"email\":");
    sbuf_put_json_string(out, email.u.s.p, email.u.s.n);
    sbuf_puts(out, ",\"email_confirmed\":false}}");
}

void api__write_thing(sbuf_t *out, const api_call_t *call, const app_type_t *type,
                      const value_t *values, const privacy_perms_t *perms)
{
    bool first = true;
    sbuf_putc(out, '{');
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *f = &type->fields[i];
        if (f->builtin != BUILTIN_NONE || values[i].kind == VAL_NULL)
            continue;
        if (!privacy_can_view(perms, f))
            continue;
        write_key(out, f->name, &first);
        api__write_value(out, f->type, values[i]);
    }
    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *f = &type->fields[i];
        if (f->builtin == BUILTIN_NONE || f->builtin == BUILTIN_ID || values[i].kind == VAL_NULL)
            continue;
        if (!privacy_can_view(perms, f))
            continue;
        if (f->builtin == BUILTIN_EMAIL) {
            write_authentication(out, values[i], &first);
            continue;
        }
        write_key(out, f->name, &first);
        api__write_value(out, f->type, values[i]);
    }
    write_key(out, "_id", &first);
    api__write_value(out, type->fields[0].type, values[0]);
    sbuf_putc(out, '}');
}
