/* Tests for the core utilities: arena, bounded string buffer, clock and ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/sbuf.h"

/* ---- arena ---- */

static void arena_alloc_is_aligned_to_16(void **state)
{
    arena_t *arena = arena_new(1024, 1 << 20);
    assert_non_null(arena);
    const size_t sizes[] = {1, 3, 16, 17, 100, 1, 2000, 5};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = arena_alloc(arena, sizes[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, sizes[i]);
    }
    arena_free(arena);
}

static void arena_allocations_do_not_overlap(void **state)
{
    arena_t *arena = arena_new(256, 1 << 20);
    char *a = arena_alloc(arena, 100);
    char *b = arena_alloc(arena, 100);
    char *c = arena_alloc(arena, 100);
    memset(a, 'a', 100);
    memset(b, 'b', 100);
    memset(c, 'c', 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(a[i], 'a');
        assert_int_equal(b[i], 'b');
    }
    arena_free(arena);
}

static void arena_cap_returns_null(void **state)
{
    arena_t *arena = arena_new(256, 1024);
    assert_null(arena_alloc(arena, 2000));

    int granted = 0;
    while (arena_alloc(arena, 100) != NULL) {
        granted++;
        assert_true(granted < 100);
    }
    assert_true(granted > 0);
    assert_true(arena_used(arena) <= 1024);
    assert_null(arena_alloc(arena, SIZE_MAX));
    assert_null(arena_alloc(arena, SIZE_MAX - 8));
    arena_free(arena);
}

static void arena_calloc_checks_overflow(void **state)
{
    arena_t *arena = arena_new(256, 1 << 20);
    assert_null(arena_calloc(arena, SIZE_MAX / 2, 4));
    unsigned char *zeros = arena_calloc(arena, 10, 10);
    assert_non_null(zeros);
    for (int i = 0; i < 100; i++)
        assert_int_equal(zeros[i], 0);
    arena_free(arena);
}

static void arena_reset_releases_everything(void **state)
{
    arena_t *arena = arena_new(256, 4096);
    for (int i = 0; i < 10; i++)
        assert_non_null(arena_alloc(arena, 200));
    assert_true(arena_used(arena) > 0);
    assert_null(arena_alloc(arena, 4096));

    arena_reset(arena);
    assert_int_equal(arena_used(arena), 0);
    for (int i = 0; i < 10; i++)
        assert_non_null(arena_alloc(arena, 200));
    arena_reset(arena);
    assert_non_null(arena_alloc(arena, 3000));
    arena_free(arena);
}

static void arena_strings_are_copied(void **state)
{
    arena_t *arena = arena_new(256, 1 << 20);
    assert_string_equal(arena_strndup(arena, "hello world", 5), "hello");
    assert_string_equal(arena_strndup(arena, "", 0), "");
    assert_string_equal(arena_strdup(arena, "copy"), "copy");
    assert_null(arena_strdup(arena, NULL));
    arena_free(arena);
    arena_free(NULL);
}

static void arena_printf_formats(void **state)
{
    arena_t *arena = arena_new(256, 1 << 20);
    assert_string_equal(arena_printf(arena, "%s-%d-%05.1f", "x", 42, 3.14159), "x-42-003.1");
    assert_string_equal(arena_printf(arena, "%s", ""), "");

    char long_text[1000];
    memset(long_text, 'z', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    const char *formatted = arena_printf(arena, "<%s>", long_text);
    assert_non_null(formatted);
    assert_int_equal(strlen(formatted), 1001);
    assert_int_equal(formatted[0], '<');
    assert_int_equal(formatted[1000], '>');
    arena_free(arena);
}

static void arena_printf_respects_cap(void **state)
{
    arena_t *arena = arena_new(256, 512);
    char long_text[1000];
    memset(long_text, 'z', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    assert_null(arena_printf(arena, "%s", long_text));
    arena_free(arena);
}

/* ---- sbuf ---- */

static void sbuf_max_is_enforced_and_sticky(void **state)
{
    sbuf_t sb;
    sbuf_init(&sb, 10);
    assert_string_equal(sbuf_cstr(&sb), "");
    sbuf_puts(&sb, "12345678");
    assert_int_equal(sbuf_error(&sb), ERR_OK);
    sbuf_puts(&sb, "abc");
    assert_int_equal(sbuf_error(&sb), ERR_TOO_LARGE);
    assert_int_equal(sb.len, 8);
    assert_string_equal(sbuf_cstr(&sb), "12345678");

    sbuf_putc(&sb, '9');
    assert_int_equal(sbuf_error(&sb), ERR_TOO_LARGE);
    assert_int_equal(sb.len, 8);

    sbuf_clear(&sb);
    assert_int_equal(sbuf_error(&sb), ERR_OK);
    sbuf_puts(&sb, "0123456789");
    assert_int_equal(sbuf_error(&sb), ERR_OK);
    assert_string_equal(sbuf_cstr(&sb), "0123456789");
    sbuf_putc(&sb, 'x');
    assert_int_equal(sbuf_error(&sb), ERR_TOO_LARGE);
    sbuf_deinit(&sb);
}

static void sbuf_printf_grows_and_respects_max(void **state)
{
    sbuf_t sb;
    sbuf_init(&sb, 1000);
    char text[600];
    memset(text, 'q', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    sbuf_printf(&sb, "[%s]", text);
    assert_int_equal(sbuf_error(&sb), ERR_OK);
    assert_int_equal(sb.len, 601);
    sbuf_printf(&sb, "[%s]", text);
    assert_int_equal(sbuf_error(&sb), ERR_TOO_LARGE);
    assert_int_equal(sb.len, 601);
    sbuf_deinit(&sb);
}

static void sbuf_detach_hands_over_data(void **state)
{
    sbuf_t sb;
    sbuf_init(&sb, 100);
    size_t len = 99;
    char *empty = sbuf_detach(&sb, &len);
    assert_string_equal(empty, "");
    assert_int_equal(len, 0);
    free(empty);

    sbuf_put_int(&sb, INT64_MIN);
    char *data = sbuf_detach(&sb, &len);
    assert_string_equal(data, "-9223372036854775808");
    assert_int_equal(len, 20);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sbuf_cstr(&sb), "");
    free(data);
}

static void expect_json_string(const char *in, size_t n, const char *expected)
{
    sbuf_t sb;
    sbuf_init(&sb, 1024);
    sbuf_put_json_string(&sb, in, n);
    assert_int_equal(sbuf_error(&sb), ERR_OK);
    assert_string_equal(sbuf_cstr(&sb), expected);
    sbuf_deinit(&sb);
}

static void sbuf_json_string_escapes(void **state)
{
    expect_json_string("plain", 5, "\"plain\"");
    expect_json_string("", 0, "\"\"");
    expect_json_string("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    expect_json_string("back\\slash", 10, "\"back\\\\slash\"");
    expect_json_string("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
    expect_json_string("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
    expect_json_string("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"");
    expect_json_string("nul\0in", 6, "\"nul\\u0000in\"");
    expect_json_string("</script>", 9, "\"</script>\"");
}

static void sbuf_json_string_replaces_invalid_utf8(void **state)
{
    expect_json_string("task\xff\xfe", 6, "\"task\xef\xbf\xbd\xef\xbf\xbd\"");
    expect_json_string("\x80", 1, "\"\xef\xbf\xbd\"");                 /* stray continuation */
    expect_json_string("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong */
    expect_json_string("\xed\xa0\x80", 3,
                       "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    expect_json_string("\xf4\x90\x80\x80", 4,
                       "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* > U+10FFFF */
    expect_json_string("\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");          /* cut short */
    expect_json_string("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");          /* U+1F600 */
}

static void expect_number(double v, const char *expected)
{
    sbuf_t sb;
    sbuf_init(&sb, 64);
    sbuf_put_number(&sb, v);
    assert_string_equal(sbuf_cstr(&sb), expected);
    sbuf_deinit(&sb);
}

static void sbuf_put_number_formats(void **state)
{
    expect_number(3, "3");
    expect_number(3.5, "3.5");
    expect_number(0.1, "0.1");
    expect_number(-2, "-2");
    expect_number(1e21, "1e+21");
    expect_number(0, "0");
    expect_number(1.0 / 3.0, "0.3333333333333333");
    expect_number(0.1 + 0.2, "0.30000000000000004");
    expect_number(123456789012.0, "123456789012");
    expect_number(-0.000125, "-0.000125");
    expect_number(-0.0, "-0");
    expect_number(9007199254740991.0, "9007199254740991");
    expect_number(-9007199254740991.0, "-9007199254740991");
    expect_number(9007199254740992.0, "9007199254740992");
    expect_number(NAN, "null");
    expect_number(INFINITY, "null");
    expect_number(-INFINITY, "null");
}

/* ---- clock ---- */

static void clock_format_iso_writes_utc(void **state)
{
    char out[32];
    clock_format_iso(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    clock_format_iso(1671702337369, out);
    assert_string_equal(out, "2022-12-22T09:45:37.369Z");
    clock_format_iso(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    clock_format_iso(951782400000, out);
    assert_string_equal(out, "2000-02-29T00:00:00.000Z");
    clock_format_iso(253402300799999, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    clock_format_iso(-62135596800000, out);
    assert_string_equal(out, "0001-01-01T00:00:00.000Z");
}

static void clock_format_iso_clamps_year(void **state)
{
    char out[32];
    clock_format_iso(INT64_MAX / 2, out);
    assert_int_equal(strlen(out), 24);
    assert_memory_equal(out, "9999-", 5);
    clock_format_iso(-62135596800000 * 2, out);
    assert_int_equal(strlen(out), 24);
    assert_memory_equal(out, "0000-", 5);
}

static void expect_date(const char *text, int64_t expected)
{
    int64_t ms = 0;
    if (clock_parse_date(text, strlen(text), NULL, &ms) != ERR_OK)
        fail_msg("\"%s\" should parse", text);
    assert_int_equal(ms, expected);
}

static void expect_bad_date(const char *text)
{
    int64_t ms = 0;
    if (clock_parse_date(text, strlen(text), NULL, &ms) != ERR_INVALID)
        fail_msg("\"%s\" should be rejected", text);
}

static void clock_parse_date_accepts_formats(void **state)
{
    expect_date("2022-12-22T09:45:37.369Z", 1671702337369);
    expect_date("2022-12-22T11:45:37.369+02:00", 1671702337369);
    expect_date("2022-12-22T07:15:37.369-0230", 1671702337369);
    expect_date("2022-12-22T09:45:37.369", 1671702337369);
    expect_date("2022-12-22T09:45:37Z", 1671702337000);
    expect_date("2022-12-22T09:45Z", 1671702300000);
    expect_date("2022-12-22", 1671667200000);
    expect_date("1453398788637", 1453398788637);
    expect_date("01/13/2016", 1452643200000);
    expect_date("  2022-12-22  ", 1671667200000);
    expect_date("2020-02-29", 1582934400000);
    expect_date("Wed Jan 13 2016", 1452643200000);
    expect_date("Wed Jan 13 2016 10:00:00 GMT+0100 (Central European Standard Time)",
                1452675600000);
    expect_date("Wed, 13 Jan 2016 10:00:00 +0000", 1452679200000);
    expect_date("13 Jan 2016", 1452643200000);
}

static clock_zone_t *load_zone(const char *name)
{
    clock_zone_t *zone = NULL;
    if (clock_zone_load(name, &zone) != ERR_OK)
        fail_msg("time zone \"%s\" should load from the system tz database", name);
    return zone;
}

static void expect_zoned_date(const clock_zone_t *zone, const char *text, int64_t expected)
{
    int64_t ms = 0;
    if (clock_parse_date(text, strlen(text), zone, &ms) != ERR_OK)
        fail_msg("\"%s\" should parse", text);
    assert_int_equal(ms, expected);
}

/* Expected values computed with Python's zoneinfo (fold=0) from the same tz database. */
static void clock_parse_date_applies_zone(void **state)
{
    clock_zone_t *paris = load_zone("Europe/Paris");
    expect_zoned_date(paris, "2025-01-15T10:00:00", 1736931600000);
    expect_zoned_date(paris, "2025-07-15T10:00:00", 1752566400000);
    expect_zoned_date(paris, "2025-01-15", 1736895600000);
    expect_zoned_date(paris, "01/15/2025", 1736895600000);
    expect_zoned_date(paris, "Wed Jan 15 2025 10:00:00", 1736931600000);
    /* An offset, Z or epoch milliseconds name the instant whatever the zone. */
    expect_zoned_date(paris, "2025-07-15T10:00:00Z", 1752573600000);
    expect_zoned_date(paris, "2025-07-15T12:00:00+02:00", 1752573600000);
    expect_zoned_date(paris, "Wed Jan 15 2025 10:00:00 GMT+0000", 1736935200000);
    expect_zoned_date(paris, "1752573600000", 1752573600000);
    clock_zone_free(paris);
}

static void clock_zone_handles_changes(void **state)
{
    clock_zone_t *paris = load_zone("Europe/Paris");
    /* Skipped when clocks go forward: read with the offset before, as 03:30 summer time. */
    expect_zoned_date(paris, "2025-03-30T02:30:00", 1743298200000);
    /* Twice when clocks go back: the first of the two. */
    expect_zoned_date(paris, "2025-10-26T02:30:00", 1761438600000);
    /* After the file's last transition the footer rule applies. */
    expect_zoned_date(paris, "2050-07-01T12:00:00", 2540282400000);
    expect_zoned_date(paris, "2050-01-01T12:00:00", 2524647600000);
    assert_int_equal(clock_zone_offset_at(paris, 2540282400), 7200);
    clock_zone_free(paris);

    clock_zone_t *sydney = load_zone("Australia/Sydney");
    expect_zoned_date(sydney, "2025-01-15T10:00:00", 1736895600000);
    expect_zoned_date(sydney, "2025-07-15T10:00:00", 1752537600000);
    expect_zoned_date(sydney, "2050-01-15T10:00:00", 2525814000000);
    expect_zoned_date(sydney, "2050-07-15T10:00:00", 2541456000000);
    clock_zone_free(sydney);

    clock_zone_t *new_york = load_zone("America/New_York");
    expect_zoned_date(new_york, "2025-03-09T12:00:00", 1741536000000);
    expect_zoned_date(new_york, "2060-11-01T12:00:00", 2866550400000);
    expect_zoned_date(new_york, "2060-11-10T12:00:00", 2867331600000);
    clock_zone_free(new_york);
}

static void expect_zone_error(const char *name, err_t expected)
{
    clock_zone_t *zone = (clock_zone_t *)1;
    err_t err = clock_zone_load(name, &zone);
    if (err != expected)
        fail_msg("loading \"%s\" gave %s, expected %s", name, err_name(err), err_name(expected));
    assert_null(zone);
}

static void clock_zone_load_rejects_bad_names(void **state)
{
    expect_zone_error("", ERR_INVALID);
    expect_zone_error("../../etc/passwd", ERR_INVALID);
    expect_zone_error("/etc/localtime", ERR_INVALID);
    expect_zone_error("Europe//Paris", ERR_INVALID);
    expect_zone_error("Europe/.hidden", ERR_INVALID);
    expect_zone_error("Europe/Paris ", ERR_INVALID);
    expect_zone_error("Mars/Olympus_Mons", ERR_NOT_FOUND);
    expect_zone_error("Europe", ERR_NOT_FOUND);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* TZDIR moves the database: UTC still needs no file, and a damaged file is rejected. */
static void clock_zone_load_checks_files(void **state)
{
    char dir[] = "/tmp/froth-tzdir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/Broken", dir);
    write_file(path, "TZif2 not really", 16);
    char truncated[256];
    snprintf(truncated, sizeof(truncated), "%s/Truncated", dir);
    FILE *real = fopen("/usr/share/zoneinfo/Europe/Paris", "rb");
    assert_non_null(real);
    unsigned char head[600];
    size_t n = fread(head, 1, sizeof(head), real);
    fclose(real);
    assert_int_equal(n, sizeof(head));
    write_file(truncated, head, sizeof(head));

    const char *saved = getenv("TZDIR");
    setenv("TZDIR", dir, 1);
    clock_zone_t *utc = NULL;
    assert_int_equal(clock_zone_load("UTC", &utc), ERR_OK);
    assert_int_equal(clock_zone_offset_at(utc, 1752573600), 0);
    clock_zone_free(utc);
    expect_zone_error("Europe/Paris", ERR_NOT_FOUND);
    expect_zone_error("Broken", ERR_INVALID);
    expect_zone_error("Truncated", ERR_INVALID);
    if (saved != NULL)
        setenv("TZDIR", saved, 1);
    else
        unsetenv("TZDIR");
    unlink(path);
    unlink(truncated);
    rmdir(dir);
}

static void clock_parse_date_rejects_invalid(void **state)
{
    expect_bad_date("2020-13-01");
    expect_bad_date("2021-02-29");
    expect_bad_date("2021-04-31");
    expect_bad_date("hello");
    expect_bad_date("");
    expect_bad_date("   ");
    expect_bad_date("2022-12-22T25:00Z");
    expect_bad_date("2022-12-22T10:60Z");
    expect_bad_date("2022-12-22T10:00:00.Z");
    expect_bad_date("2022-12-22T10:00+02:");
    expect_bad_date("2022-12-22T10:00+2");
    expect_bad_date("2022-12-22T10:00Zjunk");
    expect_bad_date("13/01/2016");
    expect_bad_date("2022");
    expect_bad_date("Wed Jan 32 2016");
    expect_bad_date("Wed Foo 13 2016");
    expect_bad_date("Wed Jan 13 2016 25:00:00");
    expect_bad_date("Jan 13 2016 10:00:00 GMT+25");
    expect_bad_date("hello world");
}

static void clock_offset_moves_now(void **state)
{
    const int64_t before = clock_now_ms();
    clock_set_offset_ms(86400000);
    const int64_t shifted = clock_now_ms();
    clock_set_offset_ms(0);
    assert_true(shifted - before >= 86400000);
    assert_true(shifted - before < 86400000 + 5000);

    const int64_t a = clock_mono_ns();
    const int64_t b = clock_mono_ns();
    assert_true(b >= a);
}

/* ---- ids ---- */

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

static void id_generate_has_bubble_shape(void **state)
{
    char id[ID_SIZE];
    id_generate(id);
    assert_int_equal(strlen(id), ID_LEN);
    assert_true(all_digits(id, 13));
    assert_int_equal(id[13], 'x');
    assert_true(all_digits(id + 14, 18));
    assert_true(id_is_valid(id, strlen(id)));

    /* The first 13 digits are the creation time in epoch milliseconds. */
    const long long stamp = strtoll(id, NULL, 10);
    assert_true(llabs(stamp - clock_now_ms()) < 5000);
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void id_generate_is_unique(void **state)
{
    enum { COUNT = 1000 };
    char(*ids)[ID_SIZE] = malloc(sizeof(*ids) * COUNT);
    assert_non_null(ids);
    for (int i = 0; i < COUNT; i++)
        id_generate(ids[i]);
    qsort(ids, COUNT, sizeof(ids[0]), compare_ids);
    for (int i = 1; i < COUNT; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

static void id_is_valid_checks_shape(void **state)
{
    static const struct {
        const char *text;
        bool valid;
    } cases[] = {
        {"1671702337369x123456789012345678", true},
        {"1x1", true},
        {"12345678901234567890x12345678901234567890", true},
        {"123456789012345678901x1", false},
        {"1x123456789012345678901", false},
        {"x1", false},
        {"1x", false},
        {"1x1x", false},
        {"1X1", false},
        {"12a3x45", false},
        {" 1x1", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (id_is_valid(cases[i].text, strlen(cases[i].text)) != cases[i].valid)
            fail_msg("id_is_valid(\"%s\") should be %s", cases[i].text,
                     cases[i].valid ? "true" : "false");
    }
    assert_true(id_is_valid("1x1trailing", 3));
}

/* ---- log ---- */

/* Runs fn with stderr sent to a temporary file and copies what was written into out. */
static void capture_stderr(void (*fn)(void), char *out, size_t size)
{
    char path[] = "/tmp/froth-test-core-log-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    const ssize_t n = pread(fd, out, size - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* Unquoted "= " pairs triple in size when rewritten as JSON, and a long key then arrives when the
 * output buffer is nearly full. The number of pairs is swept because the exact fill level that
 * overran the buffer depends on the length of the timestamp and message. */
static void log_hostile_unquoted_fields(void)
{
    static char fields[4000];
    log_init(LOG_LEVEL_INFO, true);
    for (size_t pairs_bytes = 2600; pairs_bytes < 2760; pairs_bytes += 2) {
        size_t o = 0;
        while (o < pairs_bytes) {
            fields[o++] = '=';
            fields[o++] = ' ';
        }
        memset(fields + o, 'k', 1200);
        o += 1200;
        fields[o++] = '=';
        fields[o] = '\0';
        log_write(LOG_LEVEL_INFO, "hostile", "%s", fields);
    }
    log_init(LOG_LEVEL_INFO, false);
}

static void json_log_line_is_cut_not_overrun(void **state)
{
    static char captured[1 << 20];
    capture_stderr(log_hostile_unquoted_fields, captured, sizeof(captured));
    int lines = 0;
    for (const char *line = captured; *line != '\0'; lines++) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        assert_true(end - line < 8192);
        assert_int_equal(line[0], '{');
        assert_int_equal(end[-1], '}');
        line = end + 1;
    }
    assert_int_equal(lines, 80);
}

static void log_quote_escapes_and_cuts(void)
{
    char long_text[400];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    log_write(LOG_LEVEL_WARN, "quoted", "a=%s b=%s c=%s", log_quote("say \"hi\"\nnext"),
              log_quote(NULL), log_quote(long_text));
}

static void logfmt_values_cannot_split_lines(void **state)
{
    static char captured[16384];
    capture_stderr(log_quote_escapes_and_cuts, captured, sizeof(captured));
    assert_non_null(strstr(captured, "level=warn msg=\"quoted\""));
    assert_non_null(strstr(captured, "a=\"say \\\"hi\\\"\\x0anext\""));
    assert_non_null(strstr(captured, "b=\"\""));
    assert_non_null(strstr(captured, "...\""));
    assert_int_equal(strchr(captured, '\n') - captured, (long)strlen(captured) - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_alloc_is_aligned_to_16),
        cmocka_unit_test(arena_allocations_do_not_overlap),
        cmocka_unit_test(arena_cap_returns_null),
        cmocka_unit_test(arena_calloc_checks_overflow),
        cmocka_unit_test(arena_reset_releases_everything),
        cmocka_unit_test(arena_strings_are_copied),
        cmocka_unit_test(arena_printf_formats),
        cmocka_unit_test(arena_printf_respects_cap),
        cmocka_unit_test(sbuf_max_is_enforced_and_sticky),
        cmocka_unit_test(sbuf_printf_grows_and_respects_max),
        cmocka_unit_test(sbuf_detach_hands_over_data),
        cmocka_unit_test(sbuf_json_string_escapes),
        cmocka_unit_test(sbuf_json_string_replaces_invalid_utf8),
        cmocka_unit_test(sbuf_put_number_formats),
        cmocka_unit_test(clock_format_iso_writes_utc),
        cmocka_unit_test(clock_format_iso_clamps_year),
        cmocka_unit_test(clock_parse_date_accepts_formats),
        cmocka_unit_test(clock_parse_date_rejects_invalid),
        cmocka_unit_test(clock_parse_date_applies_zone),
        cmocka_unit_test(clock_zone_handles_changes),
        cmocka_unit_test(clock_zone_load_rejects_bad_names),
        cmocka_unit_test(clock_zone_load_checks_files),
        cmocka_unit_test(clock_offset_moves_now),
        cmocka_unit_test(id_generate_has_bubble_shape),
        cmocka_unit_test(id_generate_is_unique),
        cmocka_unit_test(id_is_valid_checks_shape),
        cmocka_unit_test(json_log_line_is_cut_not_overrun),
        cmocka_unit_test(logfmt_values_cannot_split_lines),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
