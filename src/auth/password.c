/* Password hashing with argon2id behind a concurrency limit.
 *
 * Each hash uses 64 MiB and about 50 ms of one core, so unbounded parallel logins would exhaust
 * memory. A counting semaphore admits max_hashes at a time; a request that cannot get a slot
 * within a short wait is turned away with ERR_BUSY (503) rather than queued without bound.
 */
#include "auth/auth.h"

#include <errno.h>
#include <semaphore.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "auth/cache.h"
#include "core/log.h"

static sem_t hash_slots;
static char dummy_hash[crypto_pwhash_STRBYTES];

/* How long a request waits for a hashing slot before the request fails with 503. */
#define SLOT_WAIT_MS 2000

err_t auth_init(unsigned max_hashes)
{
    if (sodium_init() < 0)
        return ERR_INTERNAL;
    if (sem_init(&hash_slots, 0, max_hashes == 0 ? 1 : max_hashes) != 0)
        return ERR_INTERNAL;
    /* The table is allocated zeroed and untouched, so its pages cost memory only once used. */
    auth__cache_init(AUTH_CACHE_CAPACITY);
    /* A real hash of a random password, verified against when the email is unknown. */
    char random_pw[33];
    randombytes_buf(random_pw, 32);
    for (int i = 0; i < 32; i++)
        random_pw[i] = (char)('a' + ((unsigned char)random_pw[i] % 26));
    random_pw[32] = '\0';
    if (crypto_pwhash_str(dummy_hash, random_pw, 32, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return ERR_NOMEM;
    sodium_memzero(random_pw, sizeof(random_pw));
    return ERR_OK;
}

static err_t take_slot(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += (long)(SLOT_WAIT_MS % 1000) * 1000000L;
    deadline.tv_sec += SLOT_WAIT_MS / 1000 + deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    while (sem_timedwait(&hash_slots, &deadline) != 0) {
        if (errno == EINTR)
            continue;
        LOG_WARN("password hashing saturated", "wait_ms=%d", SLOT_WAIT_MS);
        return ERR_BUSY;
    }
    return ERR_OK;
}

err_t auth_password_hash(const char *password, size_t len, char out[AUTH_HASH_SIZE])
{
    _Static_assert(crypto_pwhash_STRBYTES <= AUTH_HASH_SIZE, "hash buffer too small");
    err_t err = take_slot();
    if (err != ERR_OK)
        return err;
    int rc = crypto_pwhash_str(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sem_post(&hash_slots);
    return rc == 0 ? ERR_OK : ERR_NOMEM;
}

err_t auth_password_verify(const char *hash, const char *password, size_t len, bool *ok)
{
    err_t err = take_slot();
    if (err != ERR_OK)
        return err;
    int rc = crypto_pwhash_str_verify(hash != NULL ? hash : dummy_hash, password, len);
    sem_post(&hash_slots);
    *ok = hash != NULL && rc == 0;
    return ERR_OK;
}

err_t auth_email_normalize(const char *email, size_t len, char *out, size_t size)
{
    while (len > 0 && (*email == ' ' || *email == '\t')) {
        email++;
        len--;
    }
    while (len > 0 && (email[len - 1] == ' ' || email[len - 1] == '\t'))
        len--;
    if (len == 0 || len > 254 || len >= size)
        return ERR_INVALID;
    size_t at = 0, ats = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= 0x20 || c == 0x7f)
            return ERR_INVALID;
        if (c == '@') {
            ats++;
            at = i;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    out[len] = '\0';
    if (ats != 1 || at == 0 || at == len - 1)
        return ERR_INVALID;
    return ERR_OK;
}
