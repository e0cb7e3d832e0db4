/* Private to auth: an in-memory cache of live credentials keyed by token hash.
 *
 * A hit lets a request skip the database entirely. Entries are only ever removed by revocation,
 * expiry checks or a clear; the caller decides when the cache may be trusted at all (see
 * auth_set_cache_enabled). Thread-safe: the table is split into shards with a mutex each.
 */
#ifndef FROTH_AUTH_CACHE_H
#define FROTH_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

typedef struct {
    auth_caller_kind_t kind;
    char user_id[40];
    char admin_label[128];
    bool two_factor;
    int64_t expires_ms;      /* absolute expiry; INT64_MAX for admin tokens */
    int64_t idle_ms;         /* idle window; 0 for admin tokens */
    int64_t last_used_ms;    /* last use known to the store */
} auth__cache_entry_t;

/* Credentials the cache holds before shards start to be emptied. */
#define AUTH_CACHE_CAPACITY 65536

/* Sizes the cache for about capacity entries. Call once, before threads start (auth_init does). */
void auth__cache_init(size_t capacity);

/* Copies the entry for hash into out. Returns false on a miss. */
bool auth__cache_get(const unsigned char hash[32], auth__cache_entry_t *out);

/* Returns the invalidation epoch: a counter that every removal and clear increments. */
uint64_t auth__cache_epoch(void);

/* Inserts or replaces the entry for hash, unless an invalidation happened since epoch was read:
 * the entry was read from the store before that epoch and may be revoked already. A full shard is
 * emptied first, which only costs database reads. */
void auth__cache_put(const unsigned char hash[32], const auth__cache_entry_t *entry,
                     uint64_t epoch);

/* Records a write of last-used, so the next touch waits another interval. */
void auth__cache_touch(const unsigned char hash[32], int64_t last_used_ms);

void auth__cache_remove(const unsigned char hash[32]);

/* Removes every session of a user (log out everywhere, password change). */
void auth__cache_remove_user(const char *user_id);

/* Removes every entry. */
void auth__cache_clear(void);

#endif
