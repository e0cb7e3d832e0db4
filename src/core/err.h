/* Project-wide error codes.
 *
 * Every function that can fail returns an err_t; results travel through pointer parameters
 * placed last. The mapping from an error to an HTTP status and a Bubble error envelope lives in
 * the api module, not here, because core knows nothing about HTTP.
 */
#ifndef FROTH_CORE_ERR_H
#define FROTH_CORE_ERR_H

typedef enum {
    ERR_OK = 0,
    ERR_NOMEM = -1,     /* allocation failed or an arena or buffer cap was reached */
    ERR_INVALID = -2,   /* input is malformed or out of range */
    ERR_NOT_FOUND = -3, /* the thing, row or name does not exist */
    ERR_CONFLICT = -4,  /* a unique value already exists (duplicate email, label) */
    ERR_DENIED = -5,    /* the caller may not do this */
    ERR_TOO_LARGE = -6, /* input exceeds a configured limit */
    ERR_STORE = -7,     /* the database failed */
    ERR_IO = -8,        /* a file or socket operation failed */
    ERR_INTERNAL = -9,  /* a condition believed impossible happened */
    ERR_BUSY = -10,     /* a bounded resource is saturated; retry later */
    ERR_EXPIRED = -11,  /* a token or code is no longer valid */
} err_t;

#define WARN_UNUSED __attribute__((warn_unused_result))

/* Returns a short lowercase name for an error code, such as "not_found". Never NULL. */
const char *err_name(err_t err);

#endif
