/* Fuzz target for store__words_of, which splits stored texts and search queries into stemmed
 * words. Whatever the bytes, the stored form must be " w1 ... wN " with non-empty words and no
 * ASCII capital, fit in 2 * n + 2 bytes, and contain every word of the same text read as a query,
 * so that "text contains" always finds a text by its own words. */
#include <string.h>

#include "core/sbuf.h"
#include "fuzz.h"
#include "store/words.h"

static void check_stored(const sbuf_t *out, size_t n)
{
    FUZZ_CHECK(out->len >= 1 && out->len <= 2 * n + 2);
    FUZZ_CHECK(out->data[0] == ' ' && out->data[out->len - 1] == ' ');
    for (size_t i = 0; i < out->len; i++) {
        const char c = out->data[i];
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK(c != '\0');
        if (i > 0 && c == ' ')
            FUZZ_CHECK(out->data[i - 1] != ' ');
    }
}

static bool occurs(const sbuf_t *haystack, const char *needle, size_t n)
{
    for (size_t i = 0; i + n <= haystack->len; i++) {
        if (memcmp(haystack->data + i, needle, n) == 0)
            return true;
    }
    return false;
}

/* Every " word " of query occurs in stored. */
static void check_query_found(const sbuf_t *query, const sbuf_t *stored)
{
    for (size_t start = 0; start + 1 < query->len;) {
        const char *end = memchr(query->data + start + 1, ' ', query->len - start - 1);
        FUZZ_CHECK(end != NULL);
        const size_t len = (size_t)(end - query->data) - start + 1;
        FUZZ_CHECK(occurs(stored, query->data + start, len));
        start += len - 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    sbuf_t stored, query;
    sbuf_init(&stored, 2 * size + 2);
    sbuf_init(&query, 2 * size + 2);
    FUZZ_CHECK(store__words_of(text, size, false, &stored) == ERR_OK);
    FUZZ_CHECK(store__words_of(text, size, true, &query) == ERR_OK);
    check_stored(&stored, size);
    FUZZ_CHECK(query.len == 0 || query.data[0] == ' ');
    check_query_found(&query, &stored);
    sbuf_deinit(&query);
    sbuf_deinit(&stored);
    return 0;
}
