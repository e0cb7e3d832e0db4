/* Error replies in the two envelopes Bubble clients parse. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/log.h"

void api__reply_envelope(api_call_t *call, int status, const char *code, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    http_response_t *res = call->res;
    res->status = status;
    sbuf_clear(&res->body);
    sbuf_printf(&res->body, "{\"statusCode\":%d,\"body\":{\"status\":", status);
    sbuf_put_json_string(&res->body, code, strlen(code));
    sbuf_puts(&res->body, ",\"message\":");
    sbuf_put_json_string(&res->body, message, strlen(message));
    sbuf_puts(&res->body, "}}");
    LOG_INFO("request rejected", "status=%d code=%s message=%s", status, code, log_quote(message));
}

void api__reply_unauthorized(api_call_t *call, int status, const char *translation, const char *id)
{
    http_response_t *res = call->res;
    res->status = status;
    sbuf_clear(&res->body);
    sbuf_puts(&res->body, "{\"error_class\":\"Unauthorized\",\"args\":{");
    if (id != NULL) {
        sbuf_puts(&res->body, "\"code\":");
        sbuf_put_json_string(&res->body, id, strlen(id));
    }
    sbuf_puts(&res->body, "},\"message\":null,\"translation\":");
    sbuf_put_json_string(&res->body, translation, strlen(translation));
    sbuf_putc(&res->body, '}');
    LOG_INFO("request unauthorized", "status=%d reason=%s", status, log_quote(translation));
}

void api__reply_message(api_call_t *call, int status, const char *message)
{
    http_response_t *res = call->res;
    res->status = status;
    sbuf_clear(&res->body);
    sbuf_puts(&res->body, "{\"message\":");
    sbuf_put_json_string(&res->body, message, strlen(message));
    sbuf_putc(&res->body, '}');
}

void api__reply_failure(api_call_t *call, err_t err, const char *what)
{
    switch (err) {
    case ERR_BUSY:
        LOG_WARN("server busy", "operation=%s", what);
        http_response_header(call->res, "Retry-After", "1");
        api__reply_message(call, 503, "The server is busy; retry shortly");
        return;
    case ERR_STORE:
        /* The store has logged the cause. Most often the database is restarting or unreachable,
         * which a client should retry rather than treat as a bug. */
        LOG_ERROR("request failed: database unavailable", "operation=%s", what);
        http_response_header(call->res, "Retry-After", "1");
        api__reply_message(call, 503, "The database is unavailable; retry shortly");
        return;
    case ERR_NOMEM:
    case ERR_TOO_LARGE:
        LOG_WARN("request too large to process", "operation=%s err=%s", what, err_name(err));
        api__reply_envelope(call, 413, "ERROR", "The request is too large to process");
        return;
    default:
        LOG_ERROR("request failed", "operation=%s err=%s", what, err_name(err));
        call->res->status = 500;
        sbuf_clear(&call->res->body);
        sbuf_puts(&call->res->body, "{\"code\":\"INTERNAL\",\"message\":");
        char msg[128];
        snprintf(msg, sizeof(msg), "Internal error; the server log has request %s",
                 call->req->request_id);
        sbuf_put_json_string(&call->res->body, msg, strlen(msg));
        sbuf_putc(&call->res->body, '}');
    }
}

err_t api__problem(api__problem_t *problem, int status, const char *code, const char *fmt, ...)
{
    problem->status = status;
    problem->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem->message, sizeof(problem->message), fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

void api__reply_problem(api_call_t *call, const api__problem_t *problem)
{
    if (problem->code == NULL)
        api__reply_unauthorized(call, problem->status, problem->message, NULL);
    else
        api__reply_envelope(call, problem->status, problem->code, "%s", problem->message);
}
