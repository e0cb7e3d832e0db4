/* Scanning for the expression parser: white space, keywords, names, numbers and quoted text.
 *
 * There is no separate token stream, because names may contain spaces and only the schema
 * defines where a name ends ("This Rental Unit's Unit name is 'A'"). The parser asks at each
 * position for what the grammar allows there, and the longest match wins.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

/* Maximum length of a number literal, in characters. Sixty-four digits already exceed any
 * precision a double keeps. */
#define MAX_NUMBER_LEN 64

/* Maximum bytes of input quoted back in a message. */
#define MAX_WORD_LEN 40

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Bytes of UTF-8 sequences count as letters, so names in any script end at the same places. */
static bool is_word_byte(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

/* True when a word goes on at s[i]. A typographic apostrophe (U+2019) ends a word, as in
 * "Task’s", although its bytes are above 0x7F like letters. */
static bool word_continues(const char *s, size_t i, size_t n)
{
    if (i >= n || !is_word_byte((unsigned char)s[i]))
        return false;
    return !(n - i >= 3 && memcmp(s + i, "\xE2\x80\x99", 3) == 0);
}

int expr__column(const expr_parser_t *p, size_t pos)
{
    int column = 1;
    for (size_t i = 0; i < pos && i < p->len; i++)
        if (((unsigned char)p->text[i] & 0xC0) != 0x80)
            column++;
    return column;
}

static void fail_v(expr_parser_t *p, int column, const char *fmt, va_list ap)
{
    if (p->status != ERR_OK)
        return;
    p->status = ERR_INVALID;
    p->err->column = column;
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
}

void expr__fail(expr_parser_t *p, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(p, expr__column(p, pos), fmt, ap);
    va_end(ap);
}

void expr__fail_at(expr_parser_t *p, const expr_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(p, e->column, fmt, ap);
    va_end(ap);
}

void *expr__nomem(expr_parser_t *p)
{
    if (p->status == ERR_OK) {
        p->status = ERR_NOMEM;
        p->err->column = 0;
        snprintf(p->err->message, sizeof(p->err->message), "out of memory");
    }
    return NULL;
}

void expr__skip_space(expr_parser_t *p)
{
    while (p->pos < p->len && is_space((unsigned char)p->text[p->pos]))
        p->pos++;
}

bool expr__at_end(const expr_parser_t *p)
{
    return p->pos >= p->len;
}

size_t expr__match_phrase(const expr_parser_t *p, const char *phrase)
{
    const char *s = p->text + p->pos;
    const size_t n = p->len - p->pos;
    size_t i = 0;
    const char *q = phrase;

    if (*q == '\0')
        return 0;
    while (*q != '\0') {
        if (*q == ' ') {
            if (i >= n || !is_space((unsigned char)s[i]))
                return 0;
            while (i < n && is_space((unsigned char)s[i]))
                i++;
            while (*q == ' ')
                q++;
            continue;
        }
        if (i >= n || s[i] != *q)
            return 0;
        i++;
        q++;
    }
    if (is_word_byte((unsigned char)s[i - 1]) && word_continues(s, i, n))
        return 0;
    return i;
}

size_t expr__match_param(const expr_parser_t *p, size_t *index)
{
    size_t best = 0;
    for (size_t i = 0; i < p->scope->nparams; i++) {
        const char *name = p->scope->params[i].name;
        if (name == NULL)
            continue;
        const size_t n = expr__match_phrase(p, name);
        if (n > best) {
            best = n;
            *index = i;
        }
    }
    return best;
}

size_t expr__match_keyword(const expr_parser_t *p, const char *keyword)
{
    const size_t n = expr__match_phrase(p, keyword);
    if (n == 0)
        return 0;
    size_t index;
    return expr__match_param(p, &index) > n ? 0 : n;
}

void expr__word_at(const expr_parser_t *p, size_t pos, char *buf, size_t size)
{
    static const char stops[] = "()'<>=,";
    size_t end = pos;

    if (pos < p->len && strchr(stops, p->text[pos]) != NULL) {
        end = pos + 1;
    } else {
        while (end < p->len && !is_space((unsigned char)p->text[end]) &&
               strchr(stops, p->text[end]) == NULL &&
               (end == pos || word_continues(p->text, end, p->len) ||
                !is_word_byte((unsigned char)p->text[end])))
            end++;
    }
    size_t n = end - pos;
    if (n > MAX_WORD_LEN)
        n = MAX_WORD_LEN;
    if (n > size - 1)
        n = size - 1;
    /* Never cut a UTF-8 sequence in half: the message is shown as text. */
    if (pos + n < p->len)
        while (n > 0 && ((unsigned char)p->text[pos + n] & 0xC0) == 0x80)
            n--;
    memcpy(buf, p->text + pos, n);
    buf[n] = '\0';
}

bool expr__lex_number(expr_parser_t *p, double *out)
{
    const size_t start = p->pos;
    size_t i = start;

    if (i < p->len && p->text[i] == '-')
        i++;
    while (i < p->len && is_digit((unsigned char)p->text[i]))
        i++;
    if (i + 1 < p->len && p->text[i] == '.' && is_digit((unsigned char)p->text[i + 1])) {
        i++;
        while (i < p->len && is_digit((unsigned char)p->text[i]))
            i++;
    }
    if (i < p->len && (is_word_byte((unsigned char)p->text[i]) || p->text[i] == '.')) {
        char word[MAX_WORD_LEN + 1];
        expr__word_at(p, start, word, sizeof(word));
        expr__fail(p, start, "invalid number \"%s\"", word);
        return false;
    }
    if (i - start > MAX_NUMBER_LEN) {
        expr__fail(p, start, "number is longer than %d characters", MAX_NUMBER_LEN);
        return false;
    }

    char buf[MAX_NUMBER_LEN + 1];
    memcpy(buf, p->text + start, i - start);
    buf[i - start] = '\0';
    *out = strtod(buf, NULL);
    p->pos = i;
    return true;
}

bool expr__lex_quoted(expr_parser_t *p, value_t *out)
{
    const size_t start = p->pos;

    /* The decoded text is never longer than the quoted form, so one allocation of that size
     * suffices. */
    char *buf = arena_alloc(p->arena, p->len - start + 1);
    if (buf == NULL) {
        expr__nomem(p);
        return false;
    }
    size_t n = 0;
    size_t i = start + 1;
    for (;;) {
        if (i >= p->len) {
            expr__fail(p, start, "quoted text has no closing quote");
            return false;
        }
        if (p->text[i] == '\'') {
            if (i + 1 < p->len && p->text[i + 1] == '\'') {
                buf[n++] = '\'';
                i += 2;
                continue;
            }
            i++;
            break;
        }
        buf[n++] = p->text[i++];
    }
    buf[n] = '\0';
    *out = value_text(buf, n);
    p->pos = i;
    return true;
}

/* Length of the UTF-8 sequence starting at s[0], or 0 when it is invalid: overlong forms,
 * surrogates and code points above U+10FFFF are rejected. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    const unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

size_t expr__utf8_check(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        const size_t len = utf8_sequence(u + i, n - i);
        if (len == 0)
            return i;
        i += len;
    }
    return n;
}
