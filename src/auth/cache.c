/* Sharded open-addressing table of credentials keyed by token hash.
 *
 * Token hashes are uniformly random, so their first bytes pick the shard and the slot with no
 * further hashing. Deletions leave tombstones. A shard that fills up is cleared wholesale rather
 * than evicting one entry at a time, because that keeps the code small and only costs database
 * reads.
 */
#include "auth/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64

typedef enum { SLOT_EMPTY = 0, SLOT_USED, SLOT_DELETED } slot_state_t;

typedef struct {
    slot_state_t state;
    unsigned char hash[32];
    auth__cache_entry_t entry;
} slot_t;

typedef struct {
    pthread_mutex_t lock;
    slot_t *slots;
    size_t mask;  /* slot count - 1, a power of two */
    size_t used;  /* used and deleted slots, for the load limit */
} shard_t;

static shard_t shards[SHARDS];

/* Incremented before every removal, so a reader that fetched an entry from the store before a
 * revocation cannot put it back after the revocation removed it. */
static _Atomic uint64_t invalidations;

uint64_t auth__cache_epoch(void)
{
    return atomic_load(&invalidations);
}

void auth__cache_init(size_t capacity)
{
    static bool done;
    if (done)
        return;
    done = true;
    size_t per_shard = 16;
    while (per_shard * SHARDS < capacity * 2)
        per_shard *= 2;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
        shards[i].slots = calloc(per_shard, sizeof(slot_t));
        shards[i].mask = shards[i].slots == NULL ? 0 : per_shard - 1;
        shards[i].used = 0;
    }
}

static shard_t *shard_of(const unsigned char hash[32])
{
    return &shards[hash[0] % SHARDS];
}

static size_t start_of(const shard_t *s, const unsigned char hash[32])
{
    size_t h;
    memcpy(&h, hash + 1, sizeof(h));
    return h & s->mask;
}

/* Returns the slot holding hash, or NULL. The shard lock must be held. */
static slot_t *find(shard_t *s, const unsigned char hash[32])
{
    if (s->slots == NULL)
        return NULL;
    size_t i = start_of(s, hash);
    for (size_t n = 0; n <= s->mask; n++, i = (i + 1) & s->mask) {
        slot_t *slot = &s->slots[i];
        if (slot->state == SLOT_EMPTY)
            return NULL;
        if (slot->state == SLOT_USED && memcmp(slot->hash, hash, 32) == 0)
            return slot;
    }
    return NULL;
}

bool auth__cache_get(const unsigned char hash[32], auth__cache_entry_t *out)
{
    shard_t *s = shard_of(hash);
    pthread_mutex_lock(&s->lock);
    slot_t *slot = find(s, hash);
    if (slot != NULL)
        *out = slot->entry;
    pthread_mutex_unlock(&s->lock);
    return slot != NULL;
}

static void clear_shard(shard_t *s)
{
    if (s->slots != NULL)
        memset(s->slots, 0, (s->mask + 1) * sizeof(slot_t));
    s->used = 0;
}

void auth__cache_put(const unsigned char hash[32], const auth__cache_entry_t *entry,
                     uint64_t epoch)
{
    shard_t *s = shard_of(hash);
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&invalidations) != epoch) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    slot_t *slot = find(s, hash);
    if (slot == NULL && s->slots != NULL) {
        /* Keep the load under 3/4 so probes stay short and always end at an empty slot. */
        if ((s->used + 1) * 4 > (s->mask + 1) * 3)
            clear_shard(s);
        size_t i = start_of(s, hash);
        while (s->slots[i].state == SLOT_USED)
            i = (i + 1) & s->mask;
        slot = &s->slots[i];
        if (slot->state == SLOT_EMPTY)
            s->used++;
        slot->state = SLOT_USED;
        memcpy(slot->hash, hash, 32);
    }
    if (slot != NULL)
        slot->entry = *entry;
    pthread_mutex_unlock(&s->lock);
}

void auth__cache_touch(const unsigned char hash[32], int64_t last_used_ms)
{
    shard_t *s = shard_of(hash);
    pthread_mutex_lock(&s->lock);
    slot_t *slot = find(s, hash);
    if (slot != NULL)
        slot->entry.last_used_ms = last_used_ms;
    pthread_mutex_unlock(&s->lock);
}

void auth__cache_remove(const unsigned char hash[32])
{
    atomic_fetch_add(&invalidations, 1);
    shard_t *s = shard_of(hash);
    pthread_mutex_lock(&s->lock);
    slot_t *slot = find(s, hash);
    if (slot != NULL)
        slot->state = SLOT_DELETED;
    pthread_mutex_unlock(&s->lock);
}

void auth__cache_remove_user(const char *user_id)
{
    atomic_fetch_add(&invalidations, 1);
    for (size_t i = 0; i < SHARDS; i++) {
        shard_t *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        for (size_t k = 0; s->slots != NULL && k <= s->mask; k++) {
            slot_t *slot = &s->slots[k];
            if (slot->state == SLOT_USED && slot->entry.kind == CALLER_USER &&
                strcmp(slot->entry.user_id, user_id) == 0)
                slot->state = SLOT_DELETED;
        }
        pthread_mutex_unlock(&s->lock);
    }
}

void auth__cache_clear(void)
{
    atomic_fetch_add(&invalidations, 1);
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&shards[i].lock);
        clear_shard(&shards[i]);
        pthread_mutex_unlock(&shards[i].lock);
    }
}
