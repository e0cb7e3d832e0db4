/* Building an RFC 5322 message from the outbox's fields, and checking addresses.
 *
 * Header values never pass through as the caller gave them unless they are plain printable
 * ASCII: anything else is encoded (RFC 2047) or rejected, so no value can add a header line. The
 * message carries one text/plain part; attachments and HTML are not supported.
 */
#include "mail/mail.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* RFC 5322 limits a line to 998 characters; longer body lines force base64. */
#define LINE_MAX_7BIT 998
/* A longer ASCII subject is encoded too, because encoded words can be folded onto several lines. */
#define SUBJECT_PLAIN_MAX 900
/* Raw bytes per encoded word: 45 bytes make 60 base64 characters, and with "=?UTF-8?B?" and "?="
 * the word stays within the 75 characters RFC 2047 allows. */
#define WORD_BYTES 45
/* Raw bytes per base64 body line: 57 bytes make the customary 76 characters. */
#define BODY_LINE_BYTES 57

/* Returns true when s is valid UTF-8 without control characters, so it fits on one header line
 * once encoded. */
static bool is_header_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        size_t len = utf8_sequence(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

static bool is_printable_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e)
            return false;
    }
    return true;
}

static bool is_domain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

bool mail_address_is_valid(const char *address)
{
    const size_t n = strlen(address);
    const char *at = strchr(address, '@');
    if (n == 0 || n > MAIL_ADDRESS_MAX || at == NULL || at == address || strchr(at + 1, '@'))
        return false;
    for (const char *p = address; p < at; p++) {
        if (*p <= ' ' || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p) != NULL)
            return false;
    }
    const char *domain = at + 1;
    if (*domain == '\0' || *domain == '.' || *domain == '-' || address[n - 1] == '.')
        return false;
    for (const char *p = domain; *p != '\0'; p++) {
        if (!is_domain_char(*p) || (p[0] == '.' && p[1] == '.'))
            return false;
    }
    return true;
}

static void trim(const char **start, const char **end)
{
    while (*start < *end && (**start == ' ' || **start == '\t'))
        (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}

err_t mail_mailbox_parse(const char *text, mail_mailbox_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *open = strchr(text, '<');
    const char *start = text, *end = text + strlen(text);
    if (open != NULL) {
        const char *name_end = open;
        trim(&start, &name_end);
        if (name_end - start >= 2 && *start == '"' && name_end[-1] == '"') {
            start++;
            name_end--;
        }
        if ((size_t)(name_end - start) > MAIL_NAME_MAX || memchr(start, '"', name_end - start))
            return ERR_INVALID;
        memcpy(out->name, start, (size_t)(name_end - start));
        if (!is_header_text(out->name))
            return ERR_INVALID;
        trim(&open, &end);
        if (end - open < 2 || end[-1] != '>')
            return ERR_INVALID;
        start = open + 1;
        end--;
    } else {
        trim(&start, &end);
    }
    if ((size_t)(end - start) > MAIL_ADDRESS_MAX)
        return ERR_INVALID;
    memcpy(out->address, start, (size_t)(end - start));
    out->address[end - start] = '\0';
    return mail_address_is_valid(out->address) ? ERR_OK : ERR_INVALID;
}

/* Appends text as RFC 2047 "B" encoded words, cut only between UTF-8 characters and folded onto
 * continuation lines. text must be valid UTF-8. */
static void put_encoded_words(sbuf_t *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t n = strlen(text);
    bool first = true;
    while (n > 0) {
        size_t take = 0;
        while (take < n) {
            size_t len = utf8_sequence(p + take, n - take);
            if (len == 0 || take + len > WORD_BYTES)
                break;
            take += len;
        }
        char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), p, take, sodium_base64_VARIANT_ORIGINAL);
        sbuf_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = false;
        p += take;
        n -= take;
    }
}

/* True when a display name can be written as atoms and spaces without quoting. */
static bool is_phrase_of_atoms(const char *name)
{
    for (const char *p = name; *p != '\0'; p++) {
        const char c = *p;
        const bool atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || strchr(" !#$%&'*+-/=?^_`{|}~", c) != NULL;
        if (!atext)
            return false;
    }
    return strstr(name, "=?") == NULL;
}

static void put_mailbox(sbuf_t *out, const mail_mailbox_t *box)
{
    if (box->name[0] == '\0') {
        sbuf_puts(out, box->address);
        return;
    }
    if (is_phrase_of_atoms(box->name)) {
        sbuf_puts(out, box->name);
    } else if (is_printable_ascii(box->name) && strstr(box->name, "=?") == NULL) {
        sbuf_putc(out, '"');
        for (const char *p = box->name; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_putc(out, '\\');
            sbuf_putc(out, *p);
        }
        sbuf_putc(out, '"');
    } else {
        put_encoded_words(out, box->name);
    }
    sbuf_printf(out, " <%s>", box->address);
}

static void put_date(sbuf_t *out, int64_t ms)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    sbuf_printf(out, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* True when the body can go as 7bit: ASCII, no control characters but tab and line ends, and
 * no line longer than RFC 5322 allows. */
static bool body_is_7bit(const char *body)
{
    size_t line = 0;
    for (const unsigned char *p = (const unsigned char *)body; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r') {
            line = 0;
            continue;
        }
        if (*p > 0x7e || (*p < 0x20 && *p != '\t') || ++line > LINE_MAX_7BIT)
            return false;
    }
    return true;
}

/* Appends body with every line end (LF, CRLF or a lone CR) as CRLF, ending with one. */
static void put_crlf_text(sbuf_t *out, const char *body)
{
    const char *p = body;
    while (*p != '\0') {
        const size_t n = strcspn(p, "\r\n");
        sbuf_append(out, p, n);
        sbuf_puts(out, "\r\n");
        p += n;
        if (*p == '\r')
            p++;
        if (*p == '\n')
            p++;
    }
}

static err_t put_body(sbuf_t *out, const char *body)
{
    if (body_is_7bit(body)) {
        sbuf_puts(out, "Content-Transfer-Encoding: 7bit\r\n\r\n");
        put_crlf_text(out, body);
        return ERR_OK;
    }
    sbuf_puts(out, "Content-Transfer-Encoding: base64\r\n\r\n");
    sbuf_t text;
    sbuf_init(&text, out->max);
    put_crlf_text(&text, body);
    const err_t err = sbuf_error(&text);
    const unsigned char *p = (const unsigned char *)sbuf_cstr(&text);
    for (size_t i = 0; err == ERR_OK && i < text.len; i += BODY_LINE_BYTES) {
        const size_t take = text.len - i < BODY_LINE_BYTES ? text.len - i : BODY_LINE_BYTES;
        char b64[sodium_base64_ENCODED_LEN(BODY_LINE_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof(b64), p + i, take, sodium_base64_VARIANT_ORIGINAL);
        sbuf_printf(out, "%s\r\n", b64);
    }
    if (text.data != NULL)
        sodium_memzero(text.data, text.len); /* the body may hold a reset link */
    sbuf_deinit(&text);
    return err;
}

static bool message_id_is_valid(const char *id)
{
    const size_t n = strlen(id);
    return n >= 5 && n <= 250 && id[0] == '<' && id[n - 1] == '>' && strchr(id, '@') != NULL &&
           strchr(id + 1, '<') == NULL && strchr(id, '>') == id + n - 1 &&
           strchr(id, ' ') == NULL && is_printable_ascii(id);
}

err_t mail_message_write(const mail_message_t *m, sbuf_t *out)
{
    if (!mail_address_is_valid(m->from->address) || !mail_address_is_valid(m->to) ||
        !is_header_text(m->from->name) || !is_header_text(m->subject) ||
        !message_id_is_valid(m->message_id))
        return ERR_INVALID;

    sbuf_puts(out, "From: ");
    put_mailbox(out, m->from);
    sbuf_printf(out, "\r\nTo: %s\r\nSubject: ", m->to);
    if (is_printable_ascii(m->subject) && strstr(m->subject, "=?") == NULL &&
        strlen(m->subject) <= SUBJECT_PLAIN_MAX)
        sbuf_puts(out, m->subject);
    else
        put_encoded_words(out, m->subject);
    sbuf_puts(out, "\r\nDate: ");
    put_date(out, m->date_ms);
    sbuf_printf(out,
                "\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n",
                m->message_id);
    const err_t err = put_body(out, m->body);
    return err != ERR_OK ? err : sbuf_error(out);
}
