/* In-process counters for backends whose database serves one process (SQLite).
 *
 * A SQLite file is served by one froth process, so keeping throttling counters in memory is
 * exact, and it keeps counter updates out of the write lock that a request's own transaction may
 * be holding. A restart loses the counters, which resets throttling and nothing else.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define BUCKETS 1024
#define MAX_ENTRIES 100000 /* beyond this, expired counters are swept before adding more */

typedef struct counter {
    struct counter *next;
    int64_t window_end_ms;
    int64_t count;
    char key[];
} counter_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static counter_t *buckets[BUCKETS];
static size_t entries;

static size_t bucket_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h % BUCKETS);
}

static void sweep_expired(int64_t now_ms)
{
    for (size_t b = 0; b < BUCKETS; b++) {
        counter_t **link = &buckets[b];
        while (*link != NULL) {
            counter_t *c = *link;
            if (c->window_end_ms <= now_ms) {
                *link = c->next;
                free(c);
                entries--;
            } else {
                link = &c->next;
            }
        }
    }
}

err_t store__memory_counter_hit(const char *key, int64_t now_ms, int64_t window_ms, int64_t delta,
                                int64_t *count, int64_t *window_end_ms)
{
    pthread_mutex_lock(&lock);
    size_t b = bucket_of(key);
    counter_t *c = buckets[b];
    while (c != NULL && strcmp(c->key, key) != 0)
        c = c->next;
    if (c == NULL) {
        if (entries >= MAX_ENTRIES)
            sweep_expired(now_ms);
        size_t n = strlen(key);
        c = entries < MAX_ENTRIES ? malloc(sizeof(*c) + n + 1) : NULL;
        if (c == NULL) {
            pthread_mutex_unlock(&lock);
            return ERR_NOMEM;
        }
        memcpy(c->key, key, n + 1);
        c->count = 0;
        c->window_end_ms = now_ms + window_ms;
        c->next = buckets[b];
        buckets[b] = c;
        entries++;
    }
    if (c->window_end_ms <= now_ms) {
        c->count = 0;
        c->window_end_ms = now_ms + window_ms;
    }
    c->count += delta;
    *count = c->count;
    *window_end_ms = c->window_end_ms;
    pthread_mutex_unlock(&lock);
    return ERR_OK;
}

err_t store__memory_counter_clear(const char *key)
{
    pthread_mutex_lock(&lock);
    counter_t **link = &buckets[bucket_of(key)];
    while (*link != NULL && strcmp((*link)->key, key) != 0)
        link = &(*link)->next;
    if (*link != NULL) {
        counter_t *c = *link;
        *link = c->next;
        free(c);
        entries--;
    }
    pthread_mutex_unlock(&lock);
    return ERR_OK;
}
