/* Throttling of logins and sign-ups, on by default.
 *
 * Two kinds of counter, kept by the store so they hold across nodes: attempts per client address
 * (logins per minute, sign-ups per hour) and failed logins per account. An account with too many
 * failures in the window is locked until the window ends, even for the right password, so
 * guessing gains nothing. Accounts are keyed by a hash of the normalised email whether or not it
 * belongs to a user, so a locked unknown email looks exactly like a locked real one.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "core/log.h"

#define MINUTE_MS 60000LL
#define HOUR_MS (60 * MINUTE_MS)
#define LOCK_WINDOW_MS (15 * MINUTE_MS)

static auth_throttle_config_t config = {
    .login_per_ip_per_minute = 20,
    .signup_per_ip_per_hour = 30,
    .failures_before_lock = 10,
};

void auth_throttle_configure(const auth_throttle_config_t *c)
{
    config = *c;
}

static int64_t seconds_until(int64_t end_ms, int64_t now_ms)
{
    int64_t s = (end_ms - now_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

err_t auth_throttle_address(store_t *store, auth_attempt_t attempt, const char *address,
                            int64_t now_ms, int64_t *retry_after_s)
{
    const bool login = attempt == AUTH_ATTEMPT_LOGIN;
    const int64_t limit = login ? config.login_per_ip_per_minute : config.signup_per_ip_per_hour;
    if (limit <= 0)
        return ERR_OK;
    char key[128];
    snprintf(key, sizeof(key), "%s-ip:%s", login ? "login" : "signup", address);
    int64_t count, end;
    err_t err = store_counter_hit(store, key, now_ms, login ? MINUTE_MS : HOUR_MS, 1, &count, &end);
    if (err != ERR_OK)
        return err;
    if (count <= limit)
        return ERR_OK;
    *retry_after_s = seconds_until(end, now_ms);
    if (count == limit + 1)
        LOG_WARN("client throttled", "attempt=%s counted_address=%s retry_after_s=%lld",
                 login ? "login" : "signup", log_quote(address), (long long)*retry_after_s);
    return ERR_DENIED;
}

static void account_key(const char *email_norm, char key[96])
{
    unsigned char hash[32];
    crypto_hash_sha256(hash, (const unsigned char *)email_norm, strlen(email_norm));
    memcpy(key, "login-fail:", 11);
    sodium_bin2hex(key + 11, 65, hash, sizeof(hash));
}

err_t auth_throttle_account_check(store_t *store, const char *email_norm, int64_t now_ms,
                                  int64_t *retry_after_s)
{
    if (config.failures_before_lock <= 0)
        return ERR_OK;
    char key[96];
    account_key(email_norm, key);
    int64_t count, end;
    err_t err = store_counter_hit(store, key, now_ms, LOCK_WINDOW_MS, 0, &count, &end);
    if (err != ERR_OK)
        return err;
    if (count < config.failures_before_lock)
        return ERR_OK;
    *retry_after_s = seconds_until(end, now_ms);
    return ERR_DENIED;
}

void auth_throttle_account_failed(store_t *store, const char *email_norm, int64_t now_ms)
{
    if (config.failures_before_lock <= 0)
        return;
    char key[96];
    account_key(email_norm, key);
    int64_t count, end;
    err_t err = store_counter_hit(store, key, now_ms, LOCK_WINDOW_MS, 1, &count, &end);
    if (err != ERR_OK)
        LOG_ERROR("failed login not counted", "err=%s", err_name(err));
    else if (count == config.failures_before_lock)
        LOG_WARN("account locked after failed logins", "failures=%lld lock_s=%lld",
                 (long long)count, (long long)seconds_until(end, now_ms));
}

void auth_throttle_account_succeeded(store_t *store, const char *email_norm)
{
    if (config.failures_before_lock <= 0)
        return;
    char key[96];
    account_key(email_norm, key);
    err_t err = store_counter_clear(store, key);
    if (err != ERR_OK)
        LOG_ERROR("failed-login counter not cleared", "err=%s", err_name(err));
}
