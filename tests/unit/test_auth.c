/* Tests for the auth module: password hashing, tokens, email normalisation, and sessions and
 * admin tokens on a real SQLite store in a temporary directory.
 *
 * Time is moved forward with clock_set_offset_ms, as a server under test would see it; every
 * test that moves it puts it back in its teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <sodium.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

static const char user_id[] = "1700000000000x100000000000000001";

/* ---- Passwords ---------------------------------------------------------------------------- */

static void password_hash_verify_round_trip(void **state)
{
    (void)state;
    static const char pw[] = "correct horse battery staple";
    char hash[AUTH_HASH_SIZE];
    assert_int_equal(auth_password_hash(pw, strlen(pw), hash), ERR_OK);
    assert_non_null(memchr(hash, '\0', sizeof(hash)));
    assert_memory_equal(hash, "$argon2id$", 10);

    bool ok = false;
    assert_int_equal(auth_password_verify(hash, pw, strlen(pw), &ok), ERR_OK);
    assert_true(ok);

    /* A second hash of the same password uses a new salt. */
    char again[AUTH_HASH_SIZE];
    assert_int_equal(auth_password_hash(pw, strlen(pw), again), ERR_OK);
    assert_string_not_equal(hash, again);
}

static void password_wrong_is_rejected(void **state)
{
    (void)state;
    static const char pw[] = "s3cret";
    char hash[AUTH_HASH_SIZE];
    assert_int_equal(auth_password_hash(pw, strlen(pw), hash), ERR_OK);

    bool ok = true;
    assert_int_equal(auth_password_verify(hash, "s3creT", 6, &ok), ERR_OK);
    assert_false(ok);
    ok = true;
    assert_int_equal(auth_password_verify(hash, pw, strlen(pw) - 1, &ok), ERR_OK);
    assert_false(ok);
    ok = true;
    assert_int_equal(auth_password_verify(hash, "", 0, &ok), ERR_OK);
    assert_false(ok);
}

/* An unknown user must cost about as much as a wrong password, or response times would tell which
 * emails exist. Only a gross gap is asserted, because machine load makes timings noisy. */
static void password_unknown_user_takes_comparable_time(void **state)
{
    (void)state;
    static const char pw[] = "guess";
    char hash[AUTH_HASH_SIZE];
    assert_int_equal(auth_password_hash("the real one", 12, hash), ERR_OK);

    bool ok = true;
    int64_t real_ns = 0, dummy_ns = 0;
    for (int i = 0; i < 3; i++) {
        int64_t t0 = clock_mono_ns();
        assert_int_equal(auth_password_verify(hash, pw, strlen(pw), &ok), ERR_OK);
        int64_t t1 = clock_mono_ns();
        assert_false(ok);
        ok = true;
        assert_int_equal(auth_password_verify(NULL, pw, strlen(pw), &ok), ERR_OK);
        int64_t t2 = clock_mono_ns();
        assert_false(ok);
        real_ns += t1 - t0;
        dummy_ns += t2 - t1;
    }
    assert_true(dummy_ns * 10 > real_ns);
}

/* ---- Tokens ------------------------------------------------------------------------------- */

static bool is_base64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static void token_new_is_43_base64url_chars(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++) {
        char token[AUTH_TOKEN_SIZE];
        unsigned char hash[32];
        auth_token_new(token, hash);
        assert_int_equal(strlen(token), 43);
        for (size_t k = 0; k < 43; k++)
            assert_true(is_base64url(token[k]));
    }
}

static void origin_copy_cuts_and_cleans(void **state)
{
    char out[8];
    auth_origin_copy(NULL, out, sizeof(out));
    assert_string_equal(out, "");
    auth_origin_copy("curl/8", out, sizeof(out));
    assert_string_equal(out, "curl/8");
    auth_origin_copy("a\tb\x7f\xc3\xa9z", out, sizeof(out));
    assert_string_equal(out, "a?b???z");
    auth_origin_copy("abcdefghijk", out, sizeof(out));
    assert_string_equal(out, "abcdefg");
}

static void token_new_is_distinct(void **state)
{
    (void)state;
    enum { N = 200 };
    static char tokens[N][AUTH_TOKEN_SIZE];
    unsigned char hash[32];
    for (int i = 0; i < N; i++) {
        auth_token_new(tokens[i], hash);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(tokens[i], tokens[k]);
    }
}

static void token_hash_is_sha256(void **state)
{
    (void)state;
    char token[AUTH_TOKEN_SIZE];
    unsigned char hash[32], expected[32];
    auth_token_new(token, hash);
    crypto_hash_sha256(expected, (const unsigned char *)token, strlen(token));
    assert_memory_equal(hash, expected, 32);

    unsigned char again[32];
    auth_token_hash(token, strlen(token), again);
    assert_memory_equal(again, expected, 32);

    /* FIPS 180-2, appendix B.1: SHA-256("abc"). */
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22,
        0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
        0x15, 0xad,
    };
    auth_token_hash("abc", 3, again);
    assert_memory_equal(again, abc, 32);
}

/* ---- Email normalisation ------------------------------------------------------------------ */

static err_t normalize(const char *in, char *out, size_t size)
{
    return auth_email_normalize(in, strlen(in), out, size);
}

static void email_normalize_trims_and_lowercases(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"a@example.com", "a@example.com"},
        {"  Alice@Example.COM\t", "alice@example.com"},
        {"\tBOB@X.IO  ", "bob@x.io"},
        {"first.last+tag@sub.example.org", "first.last+tag@sub.example.org"},
        {"x@y", "x@y"},
        {"\xc3\x89lise@example.com", "\xc3\x89lise@example.com"}, /* non-ASCII kept as is */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[300];
        assert_int_equal(normalize(cases[i].in, out, sizeof(out)), ERR_OK);
        assert_string_equal(out, cases[i].out);
    }
}

static void email_normalize_rejects_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "no-at-sign.example.com",
        "two@at@example.com",
        "@example.com",
        "alice@",
        "ali ce@example.com",
        "alice@exa mple.com",
        "alice\t@example.com",
        "alice\n@example.com",
        "alice@example.com\r",
        "alice\x7f@example.com",
        "alice\x01@example.com",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[300];
        assert_int_equal(normalize(bad[i], out, sizeof(out)), ERR_INVALID);
    }

    /* An embedded NUL counts as a control character, not as the end of the input. */
    char out[300];
    assert_int_equal(auth_email_normalize("a\0b@example.com", 15, out, sizeof(out)), ERR_INVALID);
}

static void email_normalize_length_limits(void **state)
{
    (void)state;
    /* auth.h documents 254 bytes as the longest accepted address. */
    char email[300];
    memset(email, 'a', sizeof(email));
    memcpy(email + 254 - 12, "@example.com", 12);
    email[254] = '\0';
    char out[300];
    assert_int_equal(normalize(email, out, sizeof(out)), ERR_OK);
    assert_int_equal(strlen(out), 254);

    memset(email, 'a', sizeof(email));
    memcpy(email + 255 - 12, "@example.com", 12);
    email[255] = '\0';
    assert_int_equal(normalize(email, out, sizeof(out)), ERR_INVALID);

    /* Surrounding blanks do not count towards the limit. */
    char padded[320];
    memset(email, 'a', sizeof(email));
    memcpy(email + 254 - 12, "@example.com", 12);
    email[254] = '\0';
    snprintf(padded, sizeof(padded), "   %s   ", email);
    assert_int_equal(normalize(padded, out, sizeof(out)), ERR_OK);

    /* An output buffer too small for the result is an error, never a cut address. */
    char small[8];
    assert_int_equal(normalize("abc@example.com", small, sizeof(small)), ERR_INVALID);
    assert_int_equal(normalize("ab@x.io", small, sizeof(small)), ERR_OK);
    assert_string_equal(small, "ab@x.io");
}

/* ---- Secret key --------------------------------------------------------------------------- */

static void secret_key_parse_hex_and_base64(void **state)
{
    unsigned char expected[AUTH_SECRET_KEY_BYTES], key[AUTH_SECRET_KEY_BYTES];
    for (size_t i = 0; i < sizeof(expected); i++)
        expected[i] = (unsigned char)(i * 7 + 1);
    char hex[AUTH_SECRET_KEY_BYTES * 2 + 1], b64[64], padded[128];
    sodium_bin2hex(hex, sizeof(hex), expected, sizeof(expected));
    sodium_bin2base64(b64, sizeof(b64), expected, sizeof(expected),
                      sodium_base64_VARIANT_ORIGINAL);

    assert_int_equal(auth_secret_key_parse(hex, strlen(hex), key), ERR_OK);
    assert_memory_equal(key, expected, sizeof(key));
    snprintf(padded, sizeof(padded), "  %s\n", b64);
    assert_int_equal(auth_secret_key_parse(padded, strlen(padded), key), ERR_OK);
    assert_memory_equal(key, expected, sizeof(key));
    for (char *p = hex; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    assert_int_equal(auth_secret_key_parse(hex, strlen(hex), key), ERR_OK);
    assert_memory_equal(key, expected, sizeof(key));
}

static void secret_key_parse_rejects_other_sizes(void **state)
{
    unsigned char key[AUTH_SECRET_KEY_BYTES];
    static const char *const bad[] = {
        "",
        "00112233",
        "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", /* 31 bytes */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", /* 33 bytes */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(auth_secret_key_parse(bad[i], strlen(bad[i]), key), ERR_INVALID);
}

static void secret_key_file_created_once(void **state)
{
    char dir[] = "/tmp/froth-key-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], msg[256];
    snprintf(path, sizeof(path), "%s/k", dir);
    bool created = false;

    assert_int_equal(auth_secret_key_load(path, false, &created, msg, sizeof(msg)),
                     ERR_NOT_FOUND);
    assert_int_equal(auth_secret_key_load(path, true, &created, msg, sizeof(msg)), ERR_OK);
    assert_true(created);
    assert_true(auth_secret_key_present());
    assert_true(auth_secret_key_file_is_private(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, AUTH_SECRET_KEY_BYTES * 2 + 1);

    /* The second start reads the same file rather than making a new key. */
    assert_int_equal(auth_secret_key_load(path, true, &created, msg, sizeof(msg)), ERR_OK);
    assert_false(created);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, AUTH_SECRET_KEY_BYTES * 2 + 1);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(auth_secret_key_load(path, true, &created, msg, sizeof(msg)), ERR_INVALID);
    assert_non_null(strstr(msg, "64 hex digits or as base64"));
    auth_secret_key_set(NULL);
    assert_false(auth_secret_key_present());
    unlink(path);
    rmdir(dir);
}

/* ---- Store fixture ------------------------------------------------------------------------ */

typedef struct {
    char dir[64];
    char path[128];
    store_t *store;
    store_conn_t *conn;
} fixture_t;

static int setup_store(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/froth-auth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
    char url[160];
    snprintf(url, sizeof(url), "sqlite:%s", f->path);

    char errbuf[512];
    assert_int_equal(store_open(url, NULL, &f->store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_migrate_internal(f->store, errbuf, sizeof(errbuf)), ERR_OK);
    assert_int_equal(store_acquire(f->store, &f->conn), ERR_OK);
    clock_set_offset_ms(0);
    *state = f;
    return 0;
}

static int teardown_store(void **state)
{
    fixture_t *f = *state;
    clock_set_offset_ms(0);
    store_release(f->conn);
    store_close(f->store);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char name[160];
        snprintf(name, sizeof(name), "%s%s", f->path, suffixes[i]);
        unlink(name);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Identifies token as the server would at the current (possibly shifted) time. */
static err_t identify(fixture_t *f, const char *token, auth_caller_t *caller)
{
    return auth_identify(f->conn, token, strlen(token), clock_now_ms(), caller);
}

static err_t identify_at(fixture_t *f, const char *token, int64_t offset_ms, auth_caller_t *caller)
{
    clock_set_offset_ms(offset_ms);
    return identify(f, token, caller);
}

static store_session_t session_of(fixture_t *f, const char *token)
{
    unsigned char hash[32];
    auth_token_hash(token, strlen(token), hash);
    store_session_t s;
    assert_int_equal(store_session_get(f->conn, hash, &s), ERR_OK);
    return s;
}

/* ---- Sessions ----------------------------------------------------------------------------- */

static void session_lifetimes_follow_stay_logged_in(void **state)
{
    fixture_t *f = *state;
    static const struct {
        bool stay;
        bool two_factor;
        int64_t lifetime_s;
    } cases[] = {
        {false, false, 24 * 3600},
        {false, true, 24 * 3600},
        {true, false, 365 * 24 * 3600},
        {true, true, 30 * 24 * 3600},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char token[AUTH_TOKEN_SIZE];
        int64_t lifetime = -1;
        const int64_t now = clock_now_ms();
        assert_int_equal(auth_session_create(f->conn, user_id, cases[i].stay, cases[i].two_factor,
                                             NULL, now, token, NULL, &lifetime),
                         ERR_OK);
        assert_int_equal(lifetime, cases[i].lifetime_s);
        assert_int_equal(strlen(token), 43);

        auth_caller_t caller;
        assert_int_equal(identify(f, token, &caller), ERR_OK);
        assert_int_equal(caller.kind, CALLER_USER);
        assert_string_equal(caller.user_id, user_id);
        assert_int_equal(caller.two_factor, cases[i].two_factor);
        unsigned char hash[32];
        auth_token_hash(token, strlen(token), hash);
        assert_memory_equal(caller.token_hash, hash, 32);

        const store_session_t s = session_of(f, token);
        assert_int_equal(s.expires_ms, now + cases[i].lifetime_s * 1000);
        assert_int_equal(s.idle_ms, 30 * DAY_MS);
        assert_string_equal(s.user_id, user_id);
    }
}

static void identify_unknown_token_expired(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    unsigned char hash[32];
    auth_token_new(token, hash);
    auth_caller_t caller;
    assert_int_equal(identify(f, token, &caller), ERR_EXPIRED);
    assert_int_equal(caller.kind, CALLER_ANONYMOUS);

    assert_int_equal(auth_identify(f->conn, "", 0, clock_now_ms(), &caller), ERR_EXPIRED);
    char huge[600];
    memset(huge, 'A', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(identify(f, huge, &caller), ERR_EXPIRED);
    assert_int_equal(identify(f, "not a token \xff\x01", &caller), ERR_EXPIRED);
}

static void identify_after_revoke_expired(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    assert_int_equal(auth_session_create(f->conn, user_id, true, false, NULL, clock_now_ms(), token,
                                         NULL, &lifetime),
                     ERR_OK);
    auth_caller_t caller;
    assert_int_equal(identify(f, token, &caller), ERR_OK);
    assert_int_equal(auth_session_revoke(f->conn, caller.token_hash), ERR_OK);
    assert_int_equal(identify(f, token, &caller), ERR_EXPIRED);

    unsigned char unknown[32] = {0};
    assert_int_equal(auth_session_revoke(f->conn, unknown), ERR_NOT_FOUND);
}

static void short_session_expires_after_24_hours(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    assert_int_equal(auth_session_create(f->conn, user_id, false, false, NULL, clock_now_ms(),
                                         token, NULL, &lifetime),
                     ERR_OK);
    auth_caller_t caller;
    assert_int_equal(identify_at(f, token, 23 * HOUR_MS, &caller), ERR_OK);
    assert_int_equal(identify_at(f, token, 25 * HOUR_MS, &caller), ERR_EXPIRED);
}

static void long_session_expires_when_idle(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    assert_int_equal(auth_session_create(f->conn, user_id, true, false, NULL, clock_now_ms(), token,
                                         NULL, &lifetime),
                     ERR_OK);
    auth_caller_t caller;
    assert_int_equal(identify_at(f, token, 31 * DAY_MS, &caller), ERR_EXPIRED);
    /* An expired lookup does not revive the session. */
    assert_int_equal(identify_at(f, token, 31 * DAY_MS + MINUTE_MS, &caller), ERR_EXPIRED);
}

static void long_session_use_extends_idle_window(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    const int64_t created = clock_now_ms();
    assert_int_equal(auth_session_create(f->conn, user_id, true, false, NULL, created, token, NULL,
                                         &lifetime),
                     ERR_OK);
    auth_caller_t caller;
    assert_int_equal(identify_at(f, token, 20 * DAY_MS, &caller), ERR_OK);
    assert_int_equal(identify_at(f, token, 40 * DAY_MS, &caller), ERR_OK);
    const store_session_t s = session_of(f, token);
    assert_true(s.last_used_ms >= created + 40 * DAY_MS);

    /* Unused for 31 days after day 40, it expires after all. */
    assert_int_equal(identify_at(f, token, 71 * DAY_MS, &caller), ERR_EXPIRED);
}

static void long_session_expires_after_12_months_despite_use(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    assert_int_equal(auth_session_create(f->conn, user_id, true, false, NULL, clock_now_ms(), token,
                                         NULL, &lifetime),
                     ERR_OK);
    auth_caller_t caller;
    for (int day = 20; day <= 360; day += 20)
        assert_int_equal(identify_at(f, token, day * DAY_MS, &caller), ERR_OK);
    assert_int_equal(identify_at(f, token, 364 * DAY_MS, &caller), ERR_OK);
    assert_int_equal(identify_at(f, token, 366 * DAY_MS, &caller), ERR_EXPIRED);
}

static void session_last_used_written_once_a_minute(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    int64_t lifetime;
    const int64_t created = clock_now_ms();
    assert_int_equal(auth_session_create(f->conn, user_id, false, false, NULL, created, token, NULL,
                                         &lifetime),
                     ERR_OK);
    auth_caller_t caller;

    /* Uses within a minute of the last write leave last-used alone. */
    assert_int_equal(identify_at(f, token, 10 * 1000, &caller), ERR_OK);
    assert_int_equal(identify_at(f, token, 59 * 1000, &caller), ERR_OK);
    assert_int_equal(session_of(f, token).last_used_ms, created);

    assert_int_equal(identify_at(f, token, 61 * 1000, &caller), ERR_OK);
    const int64_t written = session_of(f, token).last_used_ms;
    assert_true(written >= created + 61 * 1000);

    assert_int_equal(identify_at(f, token, 100 * 1000, &caller), ERR_OK);
    assert_int_equal(session_of(f, token).last_used_ms, written);
    assert_int_equal(identify_at(f, token, 125 * 1000, &caller), ERR_OK);
    assert_true(session_of(f, token).last_used_ms >= created + 125 * 1000);
}

/* ---- Admin tokens ------------------------------------------------------------------------- */

static void admin_token_identifies_with_label(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    assert_int_equal(auth_admin_token_create(f->conn, "ci", clock_now_ms(), token), ERR_OK);
    assert_int_equal(strlen(token), 43);

    auth_caller_t caller;
    assert_int_equal(identify(f, token, &caller), ERR_OK);
    assert_int_equal(caller.kind, CALLER_ADMIN);
    assert_string_equal(caller.admin_label, "ci");
    assert_string_equal(caller.user_id, "");

    /* Admin tokens have no lifetime, so the token still works 400 days later. */
    assert_int_equal(identify_at(f, token, 400 * DAY_MS, &caller), ERR_OK);
    assert_int_equal(caller.kind, CALLER_ADMIN);
}

static void admin_token_duplicate_label_conflicts(void **state)
{
    fixture_t *f = *state;
    char first[AUTH_TOKEN_SIZE], second[AUTH_TOKEN_SIZE];
    assert_int_equal(auth_admin_token_create(f->conn, "deploy", clock_now_ms(), first), ERR_OK);
    assert_int_equal(auth_admin_token_create(f->conn, "deploy", clock_now_ms(), second),
                     ERR_CONFLICT);
    /* The rejected token was never stored and is not handed out. */
    assert_int_equal(second[0], '\0');

    auth_caller_t caller;
    assert_int_equal(identify(f, first, &caller), ERR_OK);
    assert_string_equal(caller.admin_label, "deploy");
}

static void admin_token_revoked_expired(void **state)
{
    fixture_t *f = *state;
    char token[AUTH_TOKEN_SIZE];
    assert_int_equal(auth_admin_token_create(f->conn, "old", clock_now_ms(), token), ERR_OK);
    auth_caller_t caller;
    assert_int_equal(identify(f, token, &caller), ERR_OK);
    assert_int_equal(store_admin_token_revoke(f->conn, "old"), ERR_OK);
    assert_int_equal(identify(f, token, &caller), ERR_EXPIRED);

    /* The label is free again, and the new token is a different one. */
    char again[AUTH_TOKEN_SIZE];
    assert_int_equal(auth_admin_token_create(f->conn, "old", clock_now_ms(), again), ERR_OK);
    assert_string_not_equal(token, again);
    assert_int_equal(identify(f, token, &caller), ERR_EXPIRED);
    assert_int_equal(identify(f, again, &caller), ERR_OK);
}

int main(void)
{
    log_init(LOG_LEVEL_ERROR, false);
    if (auth_init(2) != ERR_OK) {
        fprintf(stderr, "auth_init failed: libsodium could not start\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_hash_verify_round_trip),
        cmocka_unit_test(password_wrong_is_rejected),
        cmocka_unit_test(password_unknown_user_takes_comparable_time),
        cmocka_unit_test(token_new_is_43_base64url_chars),
        cmocka_unit_test(token_new_is_distinct),
        cmocka_unit_test(origin_copy_cuts_and_cleans),
        cmocka_unit_test(token_hash_is_sha256),
        cmocka_unit_test(email_normalize_trims_and_lowercases),
        cmocka_unit_test(email_normalize_rejects_malformed),
        cmocka_unit_test(email_normalize_length_limits),
        cmocka_unit_test(secret_key_parse_hex_and_base64),
        cmocka_unit_test(secret_key_parse_rejects_other_sizes),
        cmocka_unit_test(secret_key_file_created_once),
        cmocka_unit_test_setup_teardown(session_lifetimes_follow_stay_logged_in, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(identify_unknown_token_expired, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(identify_after_revoke_expired, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(short_session_expires_after_24_hours, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(long_session_expires_when_idle, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(long_session_use_extends_idle_window, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(long_session_expires_after_12_months_despite_use,
                                        setup_store, teardown_store),
        cmocka_unit_test_setup_teardown(session_last_used_written_once_a_minute, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(admin_token_identifies_with_label, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(admin_token_duplicate_label_conflicts, setup_store,
                                        teardown_store),
        cmocka_unit_test_setup_teardown(admin_token_revoked_expired, setup_store, teardown_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
