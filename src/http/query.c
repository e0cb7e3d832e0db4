/* Query strings and x-www-form-urlencoded bodies: percent-decoding and name=value lookup.
 *
 * The server hands handlers the raw, still-encoded query and decodes it here rather than through
 * libmicrohttpd's argument parsing, so the rules for '+' (a space) and %2B (a literal plus) are
 * this project's own. Nothing here checks that the decoded bytes are valid UTF-8.
 */
#include "http/http.h"

#include <string.h>

/* A query string or form body beyond these caps is rejected as a whole, so a hostile request
 * cannot make a lookup walk or allocate without bound. */
#define QUERY_MAX_BYTES (64 * 1024)
#define QUERY_MAX_PAIRS 1000

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_url_decode(arena_t *arena, const char *s, size_t n, size_t *out_len)
{
    char *out = arena_alloc(arena, n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (n - i < 3)
                return NULL;
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        /* A NUL, raw or decoded, would silently cut the value short for every C-string user. */
        if (c == '\0')
            return NULL;
        out[o++] = c;
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return out;
}

/* One name=value pair of a query string, still encoded. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} raw_pair_t;

/* Reads the next non-empty pair at *cursor, skipping empty segments ("a=1&&b=2"), and moves the
 * cursor past it. Returns false at the end of the query. */
static bool next_pair(const char **cursor, const char *end, raw_pair_t *pair)
{
    const char *p = *cursor;
    while (p < end && *p == '&')
        p++;
    if (p >= end)
        return false;

    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    pair->name = p;
    pair->name_len = (size_t)((eq != NULL ? eq : stop) - p);
    pair->value = eq != NULL ? eq + 1 : stop;
    pair->value_len = (size_t)(stop - pair->value);
    *cursor = stop;
    return true;
}

/* Checks the caps before any pair is looked at, so that a query over them is rejected whole
 * rather than looked up in its first part. Sets *end on success. */
static bool query_within_caps(const char *query, const char **end)
{
    const size_t len = strnlen(query, QUERY_MAX_BYTES + 1);
    if (len > QUERY_MAX_BYTES)
        return false;
    *end = query + len;

    const char *cursor = query;
    raw_pair_t pair;
    int count = 0;
    while (next_pair(&cursor, *end, &pair)) {
        if (++count > QUERY_MAX_PAIRS)
            return false;
    }
    return true;
}

/* Compares an encoded name with a plain one without allocating when the name has no escapes,
 * which is the common case. */
static bool name_matches(arena_t *arena, const raw_pair_t *pair, const char *name)
{
    const size_t want = strlen(name);
    if (memchr(pair->name, '%', pair->name_len) == NULL &&
        memchr(pair->name, '+', pair->name_len) == NULL)
        return pair->name_len == want && memcmp(pair->name, name, want) == 0;

    size_t got = 0;
    const char *decoded = http_url_decode(arena, pair->name, pair->name_len, &got);
    return decoded != NULL && got == want && memcmp(decoded, name, want) == 0;
}

bool http_query_get(arena_t *arena, const char *query, const char *name, char **value)
{
    *value = NULL;
    const char *end;
    if (query == NULL || name == NULL || !query_within_caps(query, &end))
        return false;

    const char *cursor = query;
    raw_pair_t pair;
    while (next_pair(&cursor, end, &pair)) {
        if (name_matches(arena, &pair, name)) {
            *value = http_url_decode(arena, pair.value, pair.value_len, NULL);
            return true;
        }
    }
    return false;
}

bool http_query_each(arena_t *arena, const char *query,
                     bool (*fn)(void *ud, const char *name, const char *value), void *ud)
{
    if (query == NULL)
        return true;
    const char *end;
    if (!query_within_caps(query, &end))
        return false;

    const char *cursor = query;
    raw_pair_t pair;
    while (next_pair(&cursor, end, &pair)) {
        const char *name = http_url_decode(arena, pair.name, pair.name_len, NULL);
        const char *value = http_url_decode(arena, pair.value, pair.value_len, NULL);
        if (name == NULL || value == NULL || !fn(ud, name, value))
            return false;
    }
    return true;
}
