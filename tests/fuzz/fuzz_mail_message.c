/* Fuzz target for mail_mailbox_parse and mail_message_write. The input is four fields separated
 * by NUL bytes: the sender, the recipient, the subject and the body. Whatever they hold, an
 * accepted message must have exactly the headers froth writes, each on lines that end in CRLF
 * and contain only printable ASCII, so no field can add a header or end the header block. */
#include <string.h>

#include "fuzz.h"
#include "mail/mail.h"

static const char *const HEADERS[] = {
    "From: ",       "To: ",           "Subject: ",      "Date: ",
    "Message-ID: ", "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: "};
#define NHEADERS (sizeof(HEADERS) / sizeof(HEADERS[0]))

/* Checks the header block (text up to the blank line): every line a known header, in order, or a
 * folded continuation of the one before it. */
static void check_headers(const char *text, size_t n)
{
    size_t next = 0;
    for (size_t i = 0; i < n;) {
        const char *eol = strstr(text + i, "\r\n");
        FUZZ_CHECK(eol != NULL && (size_t)(eol - text) <= n);
        const size_t len = (size_t)(eol - (text + i));
        for (size_t k = 0; k < len; k++)
            FUZZ_CHECK(text[i + k] >= 0x20 && text[i + k] <= 0x7e);
        if (text[i] == ' ') {
            FUZZ_CHECK(next > 0);
        } else {
            FUZZ_CHECK(next < NHEADERS);
            FUZZ_CHECK(strncmp(text + i, HEADERS[next], strlen(HEADERS[next])) == 0);
            next++;
        }
        i += len + 2;
    }
    FUZZ_CHECK(next == NHEADERS);
}

static void check_body(const char *body)
{
    for (const char *p = body; *p != '\0';) {
        const char *eol = strstr(p, "\r\n");
        FUZZ_CHECK(eol != NULL);
        FUZZ_CHECK(eol - p <= 998);
        FUZZ_CHECK(memchr(p, '\r', (size_t)(eol - p)) == NULL);
        FUZZ_CHECK(memchr(p, '\n', (size_t)(eol - p)) == NULL);
        p = eol + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 4);
    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    memset(copy + size, 0, 4);
    const char *fields[4];
    const char *p = copy;
    for (size_t i = 0; i < 4; i++) {
        fields[i] = p;
        p += strlen(p) + (p < copy + size ? 1 : 0);
    }

    mail_mailbox_t from;
    if (mail_mailbox_parse(fields[0], &from) == ERR_OK) {
        FUZZ_CHECK(strpbrk(from.name, "\r\n") == NULL);
        FUZZ_CHECK(mail_address_is_valid(from.address));
        const mail_message_t m = {.from = &from,
                                  .to = fields[1],
                                  .subject = fields[2],
                                  .body = fields[3],
                                  .message_id = "<fuzz@froth.test>",
                                  .date_ms = 0};
        sbuf_t out;
        sbuf_init(&out, 1u << 20);
        if (mail_message_write(&m, &out) == ERR_OK) {
            const char *text = sbuf_cstr(&out);
            const char *blank = strstr(text, "\r\n\r\n");
            FUZZ_CHECK(blank != NULL);
            check_headers(text, (size_t)(blank - text) + 2);
            check_body(blank + 4);
        }
        sbuf_deinit(&out);
    }
    free(copy);
    return 0;
}
