/* Data API writes and reads by id: GET, POST, PATCH, PUT and DELETE on /obj/<type>. */
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "core/ids.h"
#include "core/log.h"
#include "json/jsonx.h"

/* Parses the body as a JSON object, or replies 400 and returns NULL. */
static json_t *body_object_or_reply(api_call_t *call)
{
    char msg[256];
    json_t *root = NULL;
    if (call->req->body_len == 0) {
        api__reply_envelope(call, 400, "ERROR", "Missing request body: expected a JSON object");
        return NULL;
    }
    if (jsonx_parse(call->req->body, call->req->body_len, &root, msg, sizeof(msg)) != ERR_OK) {
        api__reply_envelope(call, 400, "ERROR", "Invalid request body: %s", msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        api__reply_envelope(call, 400, "ERROR", "Invalid request body: expected a JSON object");
        json_decref(root);
        return NULL;
    }
    return root;
}

typedef struct {
    value_t *values;
    bool *mask;
    const char *password; /* user creation only */
    size_t password_len;
} write_body_t;

/* Reads the fields of a write body into values and mask. Returns ERR_INVALID with the problem
 * described on the first bad key or value, naming it; other errors are infrastructure failures. */
static err_t read_fields(api_call_t *call, const app_type_t *type, json_t *body, bool creating,
                         write_body_t *out, api__problem_t *problem)
{
    out->values = arena_calloc(call->req->arena, type->nfields, sizeof(value_t));
    out->mask = arena_calloc(call->req->arena, type->nfields, sizeof(bool));
    out->password = NULL;
    if (out->values == NULL || out->mask == NULL)
        return ERR_NOMEM;
    call->accept_uploads = true;
    const char *key;
    json_t *j;
    json_object_foreach(body, key, j)
    {
        if (type->is_user && strcmp(key, "password") == 0 && creating) {
            if (!json_is_string(j) || json_string_length(j) == 0 ||
                json_string_length(j) > AUTH_PASSWORD_MAX)
                return api__problem(problem, 400, "INVALID_DATA",
                                    "Invalid data for field password: expected non-empty text");
            char why[160];
            if (!auth_password_allowed(call->app, json_string_value(j), json_string_length(j),
                                       why, sizeof(why)))
                return api__problem(problem, 400, "INVALID_DATA",
                                    "Invalid data for field password: %s", why);
            out->password = json_string_value(j);
            out->password_len = json_string_length(j);
            continue;
        }
        const app_field_t *f = app_find_field(type, key, strlen(key));
        if (f == NULL)
            return api__problem(problem, 400, "ERROR", "Unrecognized field: %s", key);
        if (f->builtin != BUILTIN_NONE && f->builtin != BUILTIN_SLUG && f->builtin != BUILTIN_EMAIL)
            return api__problem(problem, 400, "ERROR", "Field %s is read-only", key);
        const char *reason = NULL;
        err_t err = api__value_from_json(call, f->type, j, &out->values[f->index], &reason);
        if (err == ERR_INVALID)
            return api__problem(problem, 400, "INVALID_DATA", "Invalid data for field %s: %s", key,
                                reason);
        if (err == ERR_TOO_LARGE && reason != NULL)
            return api__problem(problem, 413, "ERROR", "File too large for field %s: %s", key,
                                reason);
        if (err != ERR_OK)
            return err;
        if (f->builtin == BUILTIN_EMAIL) {
            const value_t *v = &out->values[f->index];
            char norm[256];
            if (v->kind != VAL_TEXT ||
                auth_email_normalize(v->u.s.p, v->u.s.n, norm, sizeof(norm)) != ERR_OK)
                return api__problem(problem, 400, "INVALID_DATA",
                                    "Invalid data for field email: expected an email address");
        }
        out->mask[f->index] = true;
    }
    return ERR_OK;
}

/* Replies with a problem, or with the failure when err is not ERR_INVALID. */
static void reply_result(api_call_t *call, err_t err, const api__problem_t *problem,
                         const char *what)
{
    if (err == ERR_INVALID)
        api__reply_problem(call, problem);
    else
        api__reply_failure(call, err, what);
}

static void reply_missing(api_call_t *call, const app_type_t *type, const char *id)
{
    api__reply_envelope(call, 404, "MISSING_DATA",
                        "Missing object of type %s: object with id %s does not exist",
                        type->url_name, id);
}

/* Loads a thing the caller can find, with its permissions. Replies 404 when it does not exist or
 * the caller cannot find it (the two are indistinguishable on purpose). */
static bool load_findable_or_reply(api_call_t *call, const app_type_t *type, const char *id,
                                   store_row_t *row, privacy_perms_t *perms)
{
    if (!id_is_valid(id, strlen(id))) {
        reply_missing(call, type, id);
        return false;
    }
    privacy_plan_t plan;
    err_t err = privacy_plan_build(&call->pctx, type, &plan);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "build privacy plan");
        return false;
    }
    store_query_t q = {.where = plan.find, .flags = plan.flags, .nflags = plan.nflags};
    err = store_get(call->conn, type, id, &q, call->req->arena, row);
    if (err == ERR_NOT_FOUND) {
        reply_missing(call, type, id);
        return false;
    }
    if (err != ERR_OK) {
        api__reply_failure(call, err, "get thing");
        return false;
    }
    privacy_perms_from_flags(&call->pctx, &plan, row->flags, perms);
    return true;
}

void api__data_get(api_call_t *call, const app_type_t *type, const char *id)
{
    store_row_t row;
    privacy_perms_t perms;
    if (!load_findable_or_reply(call, type, id, &row, &perms))
        return;
    sbuf_t *out = &call->res->body;
    sbuf_puts(out, "{\"response\":");
    api__write_thing(out, call, type, row.values, &perms);
    sbuf_putc(out, '}');
    call->res->status = 200;
}

static void fill_new_builtins(api_call_t *call, value_t *values, char *id)
{
    id_generate(id);
    values[0] = value_text(id, strlen(id));
    values[1] = value_date(call->now_ms);
    values[2] = value_date(call->now_ms);
    const char *creator = api__creator_id(call);
    values[3] = creator == NULL ? value_null() : value_text(creator, strlen(creator));
}

/* Creates one thing from a JSON object: fields, create permission, insert. Writes the new id
 * into id. Returns ERR_INVALID with the problem described when the client is at fault. */
static err_t create_one(api_call_t *call, const app_type_t *type, json_t *body, char *id,
                        api__problem_t *problem)
{
    write_body_t w;
    err_t err = read_fields(call, type, body, true, &w, problem);
    if (err != ERR_OK)
        return err;
    if (type->is_user && w.values[5].kind == VAL_NULL)
        return api__problem(problem, 400, "MISSING_DATA",
                            "Missing data for field email: a user needs an email");
    fill_new_builtins(call, w.values, id);

    privacy_perms_t perms;
    err = privacy_perms_for_values(&call->pctx, type, w.values, &perms);
    if (err != ERR_OK)
        return err;
    if (!perms.create)
        return api__problem(problem, 401, NULL, "Permission denied: cannot create this object");

    char hash[AUTH_HASH_SIZE];
    const char *password_hash = NULL;
    if (w.password != NULL) {
        err = auth_password_hash(w.password, w.password_len, hash);
        if (err != ERR_OK)
            return err;
        password_hash = hash;
    }
    err = store_insert(call->conn, type, w.values, password_hash);
    if (err == ERR_CONFLICT)
        return api__problem(problem, 400, "USED_EMAIL", "This email is already in use");
    if (err == ERR_OK)
        LOG_INFO("thing created", "type=%s id=%s", log_quote(type->name), id);
    return err;
}

void api__data_create(api_call_t *call, const app_type_t *type)
{
    json_t *body = body_object_or_reply(call);
    if (body == NULL)
        return;
    char id[ID_SIZE];
    api__problem_t problem;
    err_t err = create_one(call, type, body, id, &problem);
    json_decref(body);
    if (err != ERR_OK) {
        reply_result(call, err, &problem, "create thing");
        return;
    }
    call->res->status = 201;
    sbuf_printf(&call->res->body, "{\"status\":\"success\",\"id\":\"%s\"}", id);
}

/* Bubble's limit on the lines of one bulk request. */
#define BULK_LINES_MAX 1000

static void bulk_line_error(sbuf_t *out, const char *message)
{
    sbuf_puts(out, "{\"status\":\"error\",\"message\":");
    sbuf_put_json_string(out, message, strlen(message));
    sbuf_puts(out, "}\n");
}

/* Creates one thing per line and returns one result line per input line, in order. A bad line does not
 * stop the others, as on Bubble. */
void api__data_bulk(api_call_t *call, const app_type_t *type)
{
    const char *ct = http_header(call->req, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "text/plain", 10) != 0 || call->req->body_len == 0) {
        api__reply_envelope(call, 400, "ERROR",
                            "Expecting a newline-seperated list of JSON objects.  Make sure the "
                            "Content-Type header is text/plain");
        return;
    }
    size_t lines = 1;
    for (size_t i = 0; i + 1 < call->req->body_len; i++)
        lines += call->req->body[i] == '\n';
    if (lines > BULK_LINES_MAX) {
        api__reply_envelope(call, 400, "ERROR", "Too many lines: a bulk request takes at most %d",
                            BULK_LINES_MAX);
        return;
    }

    sbuf_t *out = &call->res->body;
    size_t created = 0, failed = 0;
    const char *p = call->req->body, *end = p + call->req->body_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl != NULL ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        const char *line = p;
        p = nl != NULL ? nl + 1 : end;
        if (n == 0 && nl == NULL)
            break;

        json_t *obj = NULL;
        char msg[256];
        if (jsonx_parse(line, n, &obj, msg, sizeof(msg)) != ERR_OK || !json_is_object(obj)) {
            json_decref(obj);
            char *text = arena_printf(call->req->arena, "Could not parse as JSON: %.*s",
                                      (int)(n > 500 ? 500 : n), line);
            bulk_line_error(out, text != NULL ? text : "Could not parse as JSON");
            failed++;
            continue;
        }
        char id[ID_SIZE];
        api__problem_t problem;
        const size_t uploads_before = call->nuploads;
        err_t err = create_one(call, type, obj, id, &problem);
        json_decref(obj);
        if (err != ERR_OK)
            api__files_discard(call, uploads_before);
        if (err == ERR_OK) {
            sbuf_printf(out, "{\"status\":\"success\",\"id\":\"%s\"}\n", id);
            created++;
        } else {
            bulk_line_error(out, err == ERR_INVALID ? problem.message : "Internal error");
            if (err != ERR_INVALID)
                LOG_ERROR("bulk line failed", "type=%s err=%s", log_quote(type->name),
                          err_name(err));
            failed++;
        }
    }
    LOG_INFO("bulk create done", "type=%s created=%zu failed=%zu", log_quote(type->name), created,
             failed);
    call->res->status = 200;
    call->res->content_type = "text/plain";
}

/* PATCH changes the fields given; PUT also clears every editable field not given. The modify
 * permission must hold on the stored thing and again on the changed thing, so a caller cannot
 * edit a thing out of its own reach or into someone else's. */
void api__data_modify(api_call_t *call, const app_type_t *type, const char *id, bool replace)
{
    json_t *body = body_object_or_reply(call);
    if (body == NULL)
        return;
    write_body_t w;
    api__problem_t problem;
    err_t err = read_fields(call, type, body, false, &w, &problem);
    json_decref(body);
    if (err != ERR_OK) {
        reply_result(call, err, &problem, "read fields");
        return;
    }

    err = store_begin(call->conn, true);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "begin transaction");
        return;
    }
    store_row_t row;
    privacy_perms_t perms;
    if (!load_findable_or_reply(call, type, id, &row, &perms))
        goto rollback;
    err = privacy_perms_for_values(&call->pctx, type, row.values, &perms);
    if (err != ERR_OK)
        goto fail;
    if (!perms.modify) {
        api__reply_unauthorized(call, 401, "You do not have permission to modify this object", id);
        goto rollback;
    }

    for (size_t i = 0; i < type->nfields; i++) {
        const app_field_t *f = &type->fields[i];
        bool editable = f->builtin == BUILTIN_NONE || f->builtin == BUILTIN_SLUG;
        if (w.mask[i]) {
            row.values[i] = w.values[i];
        } else if (replace && editable) {
            row.values[i] = value_null();
            w.mask[i] = true;
        }
    }
    row.values[2] = value_date(call->now_ms);
    w.mask[2] = true;

    err = privacy_perms_for_values(&call->pctx, type, row.values, &perms);
    if (err != ERR_OK)
        goto fail;
    if (!perms.modify) {
        api__reply_unauthorized(call, 401, "You do not have permission to modify this object", id);
        goto rollback;
    }
    err = store_update(call->conn, type, id, w.mask, row.values);
    if (err == ERR_CONFLICT) {
        api__reply_envelope(call, 400, "USED_EMAIL", "This email is already in use");
        goto rollback;
    }
    if (err != ERR_OK)
        goto fail;
    err = store_commit(call->conn);
    if (err != ERR_OK)
        goto fail;
    call->res->status = 204;
    return;

fail:
    api__reply_failure(call, err, "modify thing");
rollback:
    store_rollback(call->conn);
}

void api__data_delete(api_call_t *call, const app_type_t *type, const char *id)
{
    err_t err = store_begin(call->conn, true);
    if (err != ERR_OK) {
        api__reply_failure(call, err, "begin transaction");
        return;
    }
    store_row_t row;
    privacy_perms_t perms;
    if (!load_findable_or_reply(call, type, id, &row, &perms))
        goto rollback;
    err = privacy_perms_for_values(&call->pctx, type, row.values, &perms);
    if (err != ERR_OK)
        goto fail;
    if (!perms.del) {
        api__reply_unauthorized(call, 401, "You do not have permission to delete this object", id);
        goto rollback;
    }
    err = store_delete(call->conn, type, id);
    const bool user = type == &call->app->types[call->app->user_type];
    const auth_origin_t origin = api__origin(call);
    if (err == ERR_OK && user)
        err = auth_user_deleted(call->conn, id,
                                (auth_audit_t){.admin_label = call->caller.kind == CALLER_ADMIN
                                                                  ? call->caller.admin_label
                                                                  : NULL,
                                               .origin = &origin},
                                call->now_ms);
    if (err != ERR_OK)
        goto fail;
    err = store_commit(call->conn);
    if (err != ERR_OK)
        goto fail;
    if (user)
        auth_forget_user(id);
    LOG_INFO("thing deleted", "type=%s id=%s", log_quote(type->name), id);
    call->res->status = 204;
    return;

fail:
    api__reply_failure(call, err, "delete thing");
rollback:
    store_rollback(call->conn);
}
