/* Names of the project-wide error codes, for log lines. */
#include "core/err.h"

const char *err_name(err_t err)
{
    switch (err) {
    case ERR_OK: return "ok";
    case ERR_NOMEM: return "out_of_memory";
    case ERR_INVALID: return "invalid";
    case ERR_NOT_FOUND: return "not_found";
    case ERR_CONFLICT: return "conflict";
    case ERR_DENIED: return "denied";
    case ERR_TOO_LARGE: return "too_large";
    case ERR_STORE: return "store_failed";
    case ERR_IO: return "io_failed";
    case ERR_INTERNAL: return "internal";
    case ERR_BUSY: return "busy";
    case ERR_EXPIRED: return "expired";
    }
    return "unknown";
}
