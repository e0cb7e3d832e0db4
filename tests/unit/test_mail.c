/* Unit tests for the mail module: addresses, mailboxes, relay URLs and the RFC 5322 message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mail/mail.h"

/* 2026-12-04T23:36:03Z, a Friday. */
#define DATE_MS 1796427363000LL

static mail_mailbox_t sender(void)
{
    mail_mailbox_t from;
    assert_int_equal(mail_mailbox_parse("Todo <no-reply@todo.example>", &from), ERR_OK);
    return from;
}

/* Builds a message into a fresh buffer and returns its text, or NULL when it was rejected. */
static char *build(const char *to, const char *subject, const char *body, err_t *err)
{
    static char text[8192];
    const mail_mailbox_t from = sender();
    const mail_message_t m = {.from = &from,
                              .to = to,
                              .subject = subject,
                              .body = body,
                              .message_id = "<abc123@todo.example>",
                              .date_ms = DATE_MS};
    sbuf_t out;
    sbuf_init(&out, sizeof(text) - 1);
    *err = mail_message_write(&m, &out);
    if (*err == ERR_OK)
        snprintf(text, sizeof(text), "%s", sbuf_cstr(&out));
    sbuf_deinit(&out);
    return *err == ERR_OK ? text : NULL;
}

static void address_validation(void **state)
{
    assert_true(mail_address_is_valid("rita@example.com"));
    assert_true(mail_address_is_valid("first.last+tag@mail.example.co.uk"));
    assert_false(mail_address_is_valid(""));
    assert_false(mail_address_is_valid("no-at-sign"));
    assert_false(mail_address_is_valid("@example.com"));
    assert_false(mail_address_is_valid("rita@"));
    assert_false(mail_address_is_valid("a@b@example.com"));
    assert_false(mail_address_is_valid("rita smith@example.com"));
    assert_false(mail_address_is_valid("rita@example..com"));
    assert_false(mail_address_is_valid("rita@.example.com"));
    assert_false(mail_address_is_valid("rita@example.com."));
    assert_false(mail_address_is_valid("rita@exa_mple.com"));
    assert_false(mail_address_is_valid("<rita@example.com>"));
    assert_false(mail_address_is_valid("rita@example.com\r\nBcc: x@example.com"));
    assert_false(mail_address_is_valid("rita\n@example.com"));
    assert_false(mail_address_is_valid("ríta@example.com"));
}

static void mailbox_forms(void **state)
{
    mail_mailbox_t box;
    assert_int_equal(mail_mailbox_parse("rita@example.com", &box), ERR_OK);
    assert_string_equal(box.name, "");
    assert_string_equal(box.address, "rita@example.com");

    assert_int_equal(mail_mailbox_parse("  Rita Smith   <rita@example.com> ", &box), ERR_OK);
    assert_string_equal(box.name, "Rita Smith");
    assert_string_equal(box.address, "rita@example.com");

    assert_int_equal(mail_mailbox_parse("\"Smith, Rita\" <rita@example.com>", &box), ERR_OK);
    assert_string_equal(box.name, "Smith, Rita");

    assert_int_equal(mail_mailbox_parse("Équipe Todo <todo@example.com>", &box), ERR_OK);
    assert_string_equal(box.name, "Équipe Todo");
}

static void mailbox_injection_rejected(void **state)
{
    mail_mailbox_t box;
    assert_int_equal(mail_mailbox_parse("Rita\r\nBcc: x@example.com <rita@example.com>", &box),
                     ERR_INVALID);
    assert_int_equal(mail_mailbox_parse("rita@example.com\r\nBcc: x@example.com", &box),
                     ERR_INVALID);
    assert_int_equal(mail_mailbox_parse("Rita <rita@example.com> trailing", &box), ERR_INVALID);
    assert_int_equal(mail_mailbox_parse("Rita <rita@example.com", &box), ERR_INVALID);
    assert_int_equal(mail_mailbox_parse("Ri\"ta <rita@example.com>", &box), ERR_INVALID);
    assert_int_equal(mail_mailbox_parse("\xff\xfe <rita@example.com>", &box), ERR_INVALID);
}

static void relay_url_checks(void **state)
{
    char msg[256];
    assert_int_equal(mail_url_check("smtp://127.0.0.1:2525", msg, sizeof(msg)), ERR_OK);
    assert_int_equal(mail_url_check("smtps://mail.example.com", msg, sizeof(msg)), ERR_OK);
    assert_int_equal(
        mail_url_check("smtp://mail.example.com:587/froth.example.com", msg, sizeof(msg)), ERR_OK);
    assert_int_equal(mail_url_check("https://mail.example.com", msg, sizeof(msg)), ERR_INVALID);
    assert_non_null(strstr(msg, "smtp://"));
    assert_int_equal(mail_url_check("smtp://", msg, sizeof(msg)), ERR_INVALID);
    assert_int_equal(mail_url_check("smtp://:25", msg, sizeof(msg)), ERR_INVALID);
    assert_int_equal(mail_url_check("smtp://u:p@mail.example.com", msg, sizeof(msg)), ERR_INVALID);
    assert_non_null(strstr(msg, "--smtp-user"));
    assert_int_equal(mail_url_check("smtp://mail.example.com/a b", msg, sizeof(msg)), ERR_INVALID);
    assert_int_equal(mail_url_check("smtp://mail.example.com#x", msg, sizeof(msg)), ERR_INVALID);
}

static void message_headers(void **state)
{
    err_t err;
    const char *text = build("rita@example.com", "Reset your password", "Hello\nBye\n", &err);
    assert_non_null(text);
    assert_string_equal(text, "From: Todo <no-reply@todo.example>\r\n"
                              "To: rita@example.com\r\n"
                              "Subject: Reset your password\r\n"
                              "Date: Fri, 04 Dec 2026 23:36:03 +0000\r\n"
                              "Message-ID: <abc123@todo.example>\r\n"
                              "MIME-Version: 1.0\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Content-Transfer-Encoding: 7bit\r\n"
                              "\r\n"
                              "Hello\r\n"
                              "Bye\r\n");
}

static void line_ends_become_crlf(void **state)
{
    err_t err;
    const char *text = build("rita@example.com", "s", "a\r\nb\rc\nd", &err);
    assert_non_null(text);
    assert_non_null(strstr(text, "\r\n\r\na\r\nb\r\nc\r\nd\r\n"));
    assert_null(strstr(text, "\r\r"));
}

static void subject_encoded_when_not_ascii(void **state)
{
    err_t err;
    const char *text = build("rita@example.com", "Réinitialiser", "x", &err);
    assert_non_null(text);
    /* base64 of the UTF-8 bytes of "Réinitialiser" */
    assert_non_null(strstr(text, "Subject: =?UTF-8?B?UsOpaW5pdGlhbGlzZXI=?=\r\n"));
}

static void long_subject_folded_on_characters(void **state)
{
    char subject[400] = "";
    for (int i = 0; i < 60; i++)
        strcat(subject, "é€"); /* 2 + 3 bytes each */
    err_t err;
    const char *text = build("rita@example.com", subject, "x", &err);
    assert_non_null(text);
    const char *start = strstr(text, "Subject: ");
    const char *end = strstr(text, "\r\nDate: ");
    assert_non_null(start);
    assert_non_null(end);
    /* Every folded line holds one encoded word of at most 75 characters, and each word decodes
     * to whole UTF-8 characters. */
    size_t words = 0;
    for (const char *p = start + strlen("Subject: "); p < end;) {
        const char *line_end = strstr(p, "\r\n");
        if (line_end == NULL || line_end > end)
            line_end = end;
        while (*p == ' ')
            p++;
        assert_true(line_end - p <= 75);
        assert_memory_equal(p, "=?UTF-8?B?", 10);
        unsigned char raw[64];
        size_t raw_len = 0;
        assert_int_equal(sodium_base642bin(raw, sizeof(raw), p + 10, (size_t)(line_end - p - 12),
                                           NULL, &raw_len, NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_true(raw_len > 0);
        assert_true((raw[0] & 0xc0) != 0x80); /* starts a character */
        words++;
        p = line_end == end ? end : line_end + 2;
    }
    assert_true(words > 1);
}

static void injection_in_subject_rejected(void **state)
{
    err_t err;
    assert_null(build("rita@example.com", "Hi\r\nBcc: victim@example.com", "x", &err));
    assert_int_equal(err, ERR_INVALID);
    assert_null(build("rita@example.com", "Hi\nBcc: victim@example.com", "x", &err));
    assert_int_equal(err, ERR_INVALID);
    assert_null(build("rita@example.com", "bad \xc3\x28 utf-8", "x", &err));
    assert_int_equal(err, ERR_INVALID);
}

static void injection_in_recipient_rejected(void **state)
{
    err_t err;
    assert_null(build("rita@example.com\r\nBcc: victim@example.com", "s", "x", &err));
    assert_int_equal(err, ERR_INVALID);
    assert_null(build("rita@example.com>\r\nRCPT TO:<victim@example.com", "s", "x", &err));
    assert_int_equal(err, ERR_INVALID);
}

static void utf8_body_sent_as_base64(void **state)
{
    err_t err;
    const char *text = build("rita@example.com", "s", "Grüße\n", &err);
    assert_non_null(text);
    assert_non_null(strstr(text, "Content-Transfer-Encoding: base64\r\n\r\n"));
    /* base64 of "Grüße\r\n" */
    assert_non_null(strstr(text, "\r\n\r\nR3LDvMOfZQ0K\r\n"));
}

static void long_body_line_sent_as_base64(void **state)
{
    static char body[1200];
    memset(body, 'a', sizeof(body) - 1);
    err_t err;
    const char *text = build("rita@example.com", "s", body, &err);
    assert_non_null(text);
    assert_non_null(strstr(text, "Content-Transfer-Encoding: base64"));
    for (const char *p = strstr(text, "\r\n\r\n") + 4; *p != '\0';) {
        const char *eol = strstr(p, "\r\n");
        assert_non_null(eol);
        assert_true(eol - p <= 76);
        p = eol + 2;
    }
}

static void display_names_quoted_or_encoded(void **state)
{
    const char *cases[][2] = {
        {"Smith, Rita <r@example.com>", "From: \"Smith, Rita\" <r@example.com>\r\n"},
        {"\"Back\\slash\" <r@example.com>", "From: \"Back\\\\slash\" <r@example.com>\r\n"},
        {"Ri\"ta <r@example.com>", NULL},
        {"Équipe <r@example.com>", "From: =?UTF-8?B?w4lxdWlwZQ==?= <r@example.com>\r\n"},
        {"r@example.com", "From: r@example.com\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mail_mailbox_t from;
        const err_t parsed = mail_mailbox_parse(cases[i][0], &from);
        if (cases[i][1] == NULL) {
            assert_int_equal(parsed, ERR_INVALID);
            continue;
        }
        assert_int_equal(parsed, ERR_OK);
        const mail_message_t m = {.from = &from,
                                  .to = "rita@example.com",
                                  .subject = "s",
                                  .body = "x",
                                  .message_id = "<a@b.example>",
                                  .date_ms = DATE_MS};
        sbuf_t out;
        sbuf_init(&out, 4096);
        assert_int_equal(mail_message_write(&m, &out), ERR_OK);
        assert_memory_equal(sbuf_cstr(&out), cases[i][1], strlen(cases[i][1]));
        sbuf_deinit(&out);
    }
}

static void bad_message_id_rejected(void **state)
{
    const mail_mailbox_t from = sender();
    const char *ids[] = {"abc@x", "<abc>", "<a b@x>", "<a@x>\r\nBcc: v@x>", ""};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const mail_message_t m = {.from = &from,
                                  .to = "rita@example.com",
                                  .subject = "s",
                                  .body = "x",
                                  .message_id = ids[i],
                                  .date_ms = DATE_MS};
        sbuf_t out;
        sbuf_init(&out, 4096);
        assert_int_equal(mail_message_write(&m, &out), ERR_INVALID);
        sbuf_deinit(&out);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_validation),
        cmocka_unit_test(mailbox_forms),
        cmocka_unit_test(mailbox_injection_rejected),
        cmocka_unit_test(relay_url_checks),
        cmocka_unit_test(message_headers),
        cmocka_unit_test(line_ends_become_crlf),
        cmocka_unit_test(subject_encoded_when_not_ascii),
        cmocka_unit_test(long_subject_folded_on_characters),
        cmocka_unit_test(injection_in_subject_rejected),
        cmocka_unit_test(injection_in_recipient_rejected),
        cmocka_unit_test(utf8_body_sent_as_base64),
        cmocka_unit_test(long_body_line_sent_as_base64),
        cmocka_unit_test(display_names_quoted_or_encoded),
        cmocka_unit_test(bad_message_id_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
