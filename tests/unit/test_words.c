/* The words that "text contains" compares (src/store/words.c): splitting, case folding,
 * stemming, stop words in queries, and the names of the hidden words columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/words.h"

/* Returns the words of text (query or stored form) in a static buffer. */
static const char *words_of(const char *text, bool query)
{
    static char result[512];
    sbuf_t out;
    sbuf_init(&out, 2 * strlen(text) + 2);
    assert_int_equal(store__words_of(text, strlen(text), query, &out), ERR_OK);
    assert_true(out.len < sizeof(result));
    memcpy(result, out.len > 0 ? out.data : "", out.len);
    result[out.len] = '\0';
    sbuf_deinit(&out);
    return result;
}

static void stored_words_stemmed(void **state)
{
    assert_string_equal(words_of("The cat in the hat", false), " the cat in the hat ");
    assert_string_equal(words_of("Peter picked PEPPERS", false), " peter pick pepper ");
    assert_string_equal(words_of("running runs", false), " run run ");
    assert_string_equal(words_of("red,green;blue_sky", false), " red green blue sky ");
}

static void stored_words_empty_text(void **state)
{
    assert_string_equal(words_of("", false), " ");
    assert_string_equal(words_of("... !?", false), " ");
}

static void query_drops_stop_words_and_repeats(void **state)
{
    assert_string_equal(words_of("the cat in the hat", true), " cat hat ");
    assert_string_equal(words_of("cats CAT cat's", true), " cat ");
    assert_string_equal(words_of("the and of", true), "");
    assert_string_equal(words_of("", true), "");
}

static void apostrophes_join_words(void **state)
{
    assert_string_equal(words_of("Bob's", false), " bob ");
    assert_string_equal(words_of("don\xe2\x80\x99t", false), " don't ");
    assert_string_equal(words_of("'quoted'", false), " quot ");
    assert_string_equal(words_of("rock 'n' roll", false), " rock n roll ");
}

static void non_ascii_letters_folded(void **state)
{
    assert_string_equal(words_of("CAF\xc3\x89", false), " caf\xc3\xa9 ");
    assert_string_equal(words_of("\xc4\xb0stanbul", false), " istanbul ");
    assert_string_equal(words_of("\xce\x91\xce\x98\xce\x97\xce\x9d\xce\x91", false),
                        " \xce\xb1\xce\xb8\xce\xb7\xce\xbd\xce\xb1 ");
    assert_string_equal(words_of("\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", false),
                        " \xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0 ");
}

static void separators_outside_ascii(void **state)
{
    /* An em dash, a no-break space and an emoji separate words. */
    assert_string_equal(words_of("left\xe2\x80\x94right\xc2\xa0" "up\xf0\x9f\x98\x80" "down", false),
                        " left right up down ");
}

static void invalid_utf8_separates(void **state)
{
    assert_string_equal(words_of("cat\xff" "dog\xc3", false), " cat dog ");
    assert_string_equal(words_of("\xed\xa0\x80" "x", false), " x ");
}

static void stop_words_fixed(void **state)
{
    assert_true(store__words_is_stop("the", 3));
    assert_true(store__words_is_stop("with", 4));
    assert_false(store__words_is_stop("they'", 5));
    assert_false(store__words_is_stop("cat", 3));
    assert_false(store__words_is_stop("", 0));
}

static app_field_t field(const char *column, app_kind_t kind, bool list, app_builtin_t builtin)
{
    return (app_field_t){.name = "f", .column = column, .builtin = builtin,
                         .type = {.kind = kind, .is_list = list, .ref_type = -1,
                                  .option_set = -1}};
}

static void words_column_names(void **state)
{
    char out[STORE__WORDS_COLUMN_MAX + 1];
    app_field_t f = field("f_title", FK_TEXT, false, BUILTIN_NONE);
    assert_true(store__words_column(&f, out, sizeof(out)));
    assert_string_equal(out, "_w_f_title");

    f = field(NULL, FK_TEXT, false, BUILTIN_SLUG);
    assert_true(store__words_column(&f, out, sizeof(out)));
    assert_string_equal(out, "_w__slug");

    const char *long_column = "f_a_very_long_field_name_that_fills_the_whole_identifier_limits";
    assert_int_equal(strlen(long_column), 63);
    f = field(long_column, FK_TEXT, false, BUILTIN_NONE);
    assert_true(store__words_column(&f, out, sizeof(out)));
    assert_int_equal(strlen(out), STORE__WORDS_COLUMN_MAX);
    assert_memory_equal(out, "_w_f_a_very_long", 16);
}

static void words_column_only_for_text(void **state)
{
    char out[STORE__WORDS_COLUMN_MAX + 1];
    app_field_t f = field("f_tags", FK_TEXT, true, BUILTIN_NONE);
    assert_false(store__words_column(&f, out, sizeof(out)));
    f = field("f_n", FK_NUMBER, false, BUILTIN_NONE);
    assert_false(store__words_column(&f, out, sizeof(out)));
    f = field(NULL, FK_TEXT, false, BUILTIN_ID);
    assert_false(store__words_column(&f, out, sizeof(out)));
    f = field("f_title", FK_TEXT, false, BUILTIN_NONE);
    assert_false(store__words_column(&f, out, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_words_stemmed),
        cmocka_unit_test(stored_words_empty_text),
        cmocka_unit_test(query_drops_stop_words_and_repeats),
        cmocka_unit_test(apostrophes_join_words),
        cmocka_unit_test(non_ascii_letters_folded),
        cmocka_unit_test(separators_outside_ascii),
        cmocka_unit_test(invalid_utf8_separates),
        cmocka_unit_test(stop_words_fixed),
        cmocka_unit_test(words_column_names),
        cmocka_unit_test(words_column_only_for_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
