/* Fuzz target for http_url_decode and http_query_each, with http_query_get alongside.
 *
 * The input is decoded whole as one component, then read as a query string up to its first NUL,
 * as the server hands queries over. Decoded text never contains a NUL and is never longer than its
 * source.
 */
#include <string.h>

#include "core/arena.h"
#include "fuzz.h"
#include "http/http.h"

typedef struct {
    size_t pairs;
    size_t query_len;
} walk_t;

static bool visit(void *ud, const char *name, const char *value)
{
    walk_t *w = ud;
    w->pairs++;
    FUZZ_CHECK(strlen(name) + strlen(value) <= w->query_len);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t *arena = arena_new(4096, 16u << 20);
    if (arena == NULL)
        return 0;

    size_t len = 0;
    const char *decoded = http_url_decode(arena, (const char *)data, size, &len);
    if (decoded != NULL) {
        FUZZ_CHECK(len <= size);
        FUZZ_CHECK(strlen(decoded) == len);
    }

    char *query = arena_strndup(arena, (const char *)data, size);
    if (query != NULL) {
        walk_t w = {.query_len = strlen(query)};
        (void)http_query_each(arena, query, visit, &w);
        /* Pairs are separated by '&', so there are never more pairs than pieces between them. */
        size_t pieces = 1;
        for (const char *p = query; *p != '\0'; p++)
            pieces += *p == '&';
        FUZZ_CHECK(w.pairs <= pieces);

        char *value = NULL;
        if (http_query_get(arena, query, "constraints", &value) && value != NULL)
            FUZZ_CHECK(strlen(value) < w.query_len);
        value = NULL;
        if (http_query_get(arena, query, "api token", &value) && value != NULL)
            FUZZ_CHECK(strlen(value) < w.query_len);
    }
    arena_free(arena);
    return 0;
}
