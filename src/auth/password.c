/* Password hashing with argon2id behind a concurrency limit.
 *
 * Each hash uses 19 MiB and tens of milliseconds of one core, so unbounded parallel logins would
 * exhaust memory and latency. A counting semaphore admits max_hashes at a time, and a short queue
 * waits for them. A request beyond the queue, or one that waits too long, is turned away with
 * ERR_BUSY (503) rather than queued without bound.
 */
#include "auth/auth.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/cache.h"
#include "core/log.h"

static sem_t hash_slots;
static _Atomic unsigned waiting;   /* requests waiting for a slot */
static unsigned max_waiting;       /* beyond this many, requests are turned away at once */

/* Argon2id cost: 19 MiB and two passes, OWASP's baseline for argon2id. A hash takes tens of
 * milliseconds here, and two running at once stay far under the server's memory target, where
 * libsodium's "interactive" 64 MiB would not. Hashes record their parameters, so changing these
 * keeps old hashes valid. */
#define HASH_OPSLIMIT 2
#define HASH_MEMLIMIT (19u * 1024 * 1024)
static char dummy_hash[crypto_pwhash_STRBYTES];

/* How long a queued request waits for a hashing slot before it fails with 503. */
#define SLOT_WAIT_MS 1000

err_t auth_init(unsigned max_hashes)
{
    if (sodium_init() < 0)
        return ERR_INTERNAL;
    if (sem_init(&hash_slots, 0, max_hashes == 0 ? 1 : max_hashes) != 0)
        return ERR_INTERNAL;
    max_waiting = 4 * (max_hashes == 0 ? 1 : max_hashes);
    /* The table is allocated zeroed and untouched, so its pages cost memory only once used. */
    auth__cache_init(AUTH_CACHE_CAPACITY);
    /* A real hash of a random password, verified against when the email is unknown. */
    char random_pw[33];
    randombytes_buf(random_pw, 32);
    for (int i = 0; i < 32; i++)
        random_pw[i] = (char)('a' + ((unsigned char)random_pw[i] % 26));
    random_pw[32] = '\0';
    if (crypto_pwhash_str(dummy_hash, random_pw, 32, HASH_OPSLIMIT, HASH_MEMLIMIT) != 0)
        return ERR_NOMEM;
    sodium_memzero(random_pw, sizeof(random_pw));
    return ERR_OK;
}

static err_t wait_slot(void);

/* A bounded queue: up to max_waiting requests wait for a slot, the rest fail at once, so an
 * overload of logins gets quick 503s instead of ever-growing latency. */
static err_t take_slot(void)
{
    if (sem_trywait(&hash_slots) == 0)
        return ERR_OK;
    if (atomic_fetch_add(&waiting, 1) >= max_waiting) {
        atomic_fetch_sub(&waiting, 1);
        return ERR_BUSY;
    }
    err_t err = wait_slot();
    atomic_fetch_sub(&waiting, 1);
    return err;
}

static err_t wait_slot(void)
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
    int rc = crypto_pwhash_str(out, password, len, HASH_OPSLIMIT, HASH_MEMLIMIT);
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

bool auth_password_allowed(const app_t *app, const char *password, size_t len, char *why,
                           size_t size)
{
    const unsigned min = app->settings.password_policy.min_length;
    size_t chars = 0;
    bool number = false, capital = false, symbol = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)password[i];
        if ((c & 0xc0) != 0x80)
            chars++; /* counts UTF-8 characters, not bytes */
        number |= c >= '0' && c <= '9';
        capital |= c >= 'A' && c <= 'Z';
        const bool letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        symbol |= c >= 0x80 || (c > ' ' && !letter && !(c >= '0' && c <= '9'));
    }
    if (len == 0 || len > AUTH_PASSWORD_MAX)
        snprintf(why, size, "The password must be between 1 and %d bytes", AUTH_PASSWORD_MAX);
    else if (chars < min)
        snprintf(why, size, "The password is too short: it needs at least %u characters", min);
    else if (app->settings.password_policy.require_number && !number)
        snprintf(why, size, "The password must contain a number");
    else if (app->settings.password_policy.require_capital && !capital)
        snprintf(why, size, "The password must contain a capital letter");
    else if (app->settings.password_policy.require_symbol && !symbol)
        snprintf(why, size, "The password must contain a symbol");
    else
        return true;
    return false;
}
