/* RFC 4648 base32 and RFC 6238 TOTP against the published test vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/totp.h"

static void base32_rfc4648_vectors(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"", ""}, {"f", "MY"}, {"fo", "MZXQ"}, {"foo", "MZXW6"}, {"foob", "MZXW6YQ"},
        {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[32];
        auth__base32_encode((const unsigned char *)cases[i].in, strlen(cases[i].in), out);
        assert_string_equal(out, cases[i].out);
        unsigned char back[32];
        long n = auth__base32_decode(cases[i].out, back, sizeof(back));
        assert_int_equal(n, (long)strlen(cases[i].in));
        assert_memory_equal(back, cases[i].in, (size_t)n);
    }
}

static void base32_decode_rejects_bad_input(void **state)
{
    unsigned char out[4];
    assert_int_equal(auth__base32_decode("MZ1W", out, sizeof(out)), -1);
    assert_int_equal(auth__base32_decode("MZXW6YTBOI", out, sizeof(out)), -1);
    assert_int_equal(auth__base32_decode("mzxw 6===", out, sizeof(out)), 3);
}

static void totp_rfc6238_sha1_vectors(void **state)
{
    /* RFC 6238 appendix B: the SHA-1 key is the ASCII text "12345678901234567890". */
    const unsigned char *key = (const unsigned char *)"12345678901234567890";
    static const struct {
        uint64_t time_s;
        uint32_t code;
    } cases[] = {
        {59, 94287082}, {1111111109, 7081804}, {1111111111, 14050471},
        {1234567890, 89005924}, {2000000000, 69279037}, {20000000000ULL, 65353130},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(auth__hotp(key, 20, cases[i].time_s / 30, 8), cases[i].code);
}

static void totp_check_accepts_drift_once(void **state)
{
    const unsigned char *key = (const unsigned char *)"12345678901234567890";
    const int64_t now_ms = 1111111111000;
    const int64_t step = 1111111111 / 30;
    char code[8];
    snprintf(code, sizeof(code), "%06u", (unsigned)auth__hotp(key, 20, (uint64_t)(step - 1), 6));
    int64_t used = 0;
    assert_true(auth__totp_check(key, 20, code, now_ms, 0, &used));
    assert_int_equal(used, step - 1);
    /* The same code again is a replay. */
    assert_false(auth__totp_check(key, 20, code, now_ms, used, &used));
}

static void totp_check_rejects_far_and_malformed(void **state)
{
    const unsigned char *key = (const unsigned char *)"12345678901234567890";
    const int64_t now_ms = 1111111111000;
    const int64_t step = 1111111111 / 30;
    char code[8];
    snprintf(code, sizeof(code), "%06u", (unsigned)auth__hotp(key, 20, (uint64_t)(step + 2), 6));
    int64_t used = 0;
    assert_false(auth__totp_check(key, 20, code, now_ms, 0, &used));
    assert_false(auth__totp_check(key, 20, "12345", now_ms, 0, &used));
    assert_false(auth__totp_check(key, 20, "12345a", now_ms, 0, &used));
    assert_false(auth__totp_check(key, 20, "1234567", now_ms, 0, &used));
    assert_false(auth__totp_check(key, 20, NULL, now_ms, 0, &used));
}

static void totp_code_shapes(void **state)
{
    char digits[7];
    assert_true(auth_totp_code_digits("123456", 6, digits));
    assert_string_equal(digits, "123456");
    assert_true(auth_totp_code_digits("123 456", 7, digits));
    assert_string_equal(digits, "123456");
    assert_true(auth_totp_code_digits("  123 456 ", 10, digits));
    assert_string_equal(digits, "123456");
    assert_false(auth_totp_code_digits("12 3456", 7, digits));
    assert_false(auth_totp_code_digits("12345a", 6, digits));
    assert_false(auth_totp_code_digits("12345", 5, digits));
    assert_false(auth_totp_code_digits("ABCDE-FGHIJ", 11, digits));
    assert_false(auth_totp_code_digits("", 0, digits));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base32_rfc4648_vectors),
        cmocka_unit_test(base32_decode_rejects_bad_input),
        cmocka_unit_test(totp_rfc6238_sha1_vectors),
        cmocka_unit_test(totp_check_accepts_drift_once),
        cmocka_unit_test(totp_check_rejects_far_and_malformed),
        cmocka_unit_test(totp_code_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
