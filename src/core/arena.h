/* Per-request memory pool.
 *
 * Allocations come from large blocks and are released all at once by arena_free or arena_reset,
 * so request handlers never free individual objects. An arena has a hard cap on its total size:
 * a request that needs more gets NULL back, which handlers turn into a 413 or 400, never a crash.
 * An arena is not thread-safe; each request owns its own.
 */
#ifndef FROTH_CORE_ARENA_H
#define FROTH_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena_t;

/* Creates an arena whose blocks hold at least block_size bytes and whose total size never
 * exceeds max_total bytes. Returns NULL when out of memory. */
arena_t *arena_new(size_t block_size, size_t max_total);

/* Releases every block. Accepts NULL. */
void arena_free(arena_t *arena);

/* Releases all allocations but keeps the first block for reuse. */
void arena_reset(arena_t *arena);

/* Returns n bytes aligned to 16, or NULL when out of memory or over the cap. */
void *arena_alloc(arena_t *arena, size_t n);

/* Like arena_alloc, with the bytes set to zero. Checks count * size for overflow. */
void *arena_calloc(arena_t *arena, size_t count, size_t size);

/* Copies n bytes of s and appends a NUL. Returns NULL on failure. */
char *arena_strndup(arena_t *arena, const char *s, size_t n);

/* Copies a NUL-terminated string. Returns NULL on failure or when s is NULL. */
char *arena_strdup(arena_t *arena, const char *s);

/* Formats into a new string. Returns NULL on failure. */
char *arena_printf(arena_t *arena, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena_t *arena, const char *fmt, va_list ap);

/* Total bytes handed out since creation or the last reset. */
size_t arena_used(const arena_t *arena);

#endif
