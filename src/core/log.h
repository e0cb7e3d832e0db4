/* Logging: one logfmt line per event on stderr, or one JSON object per line.
 *
 * The macros check the level before formatting. A message is a short lowercase fact; the fields
 * are a printf format of key=value pairs. Text values that may hold spaces or quotes go through
 * log_quote. The request context of the calling thread (request id, client address, route, user
 * id) is appended to every line automatically. Never pass a token, password, TOTP secret or code,
 * Authorization header or request body to these functions.
 */
#ifndef FROTH_CORE_LOG_H
#define FROTH_CORE_LOG_H

#include <stdbool.h>

typedef enum {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
} log_level_t;

extern log_level_t log_level;

/* Sets the level and the format (logfmt when json is false). Call once before threads start. */
void log_init(log_level_t level, bool json);

/* Parses "error", "warn", "info" or "debug". Returns false for anything else. */
bool log_level_parse(const char *s, log_level_t *out);

void log_write(log_level_t level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes an access-log line: always written at info level and above, without the level check. */
void log_access(const char *fields, ...) __attribute__((format(printf, 1, 2)));

/* Returns s as a quoted, escaped logfmt value in a thread-local ring of buffers, so several
 * calls may appear in one log_write. Values longer than 200 bytes are cut and marked. */
const char *log_quote(const char *s);

/* Per-thread request context added to every line; NULL clears a key. Strings must live until
 * log_context_clear is called. */
typedef struct {
    const char *request_id;
    const char *client;
    const char *route;
    const char *user_id;
} log_context_t;

log_context_t *log_context(void);
void log_context_clear(void);

#define LOG_AT(lvl, msg, ...)                                                                  \
    do {                                                                                       \
        if ((lvl) <= log_level)                                                                \
            log_write((lvl), (msg), __VA_ARGS__);                                              \
    } while (0)

#define LOG_ERROR(msg, ...) LOG_AT(LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) LOG_AT(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) LOG_AT(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define LOG_DEBUG(msg, ...) LOG_AT(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)

#endif
