/* Splitting texts into stemmed words for "text contains" (see words.h).
 *
 * A word is a run of letters and digits: ASCII letters and digits, and every other character
 * except the punctuation and symbol blocks listed in is_separator. An apostrophe between two word
 * characters stays in the word, as the English stemmer expects ("cat's" stems to "cat"). Case is
 * folded for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic letters; other scripts keep
 * their case. No language detection: every text goes through the English stemmer, which leaves
 * words without English suffixes as they are.
 *
 * NOTE: the stored words depend on this file and on libstemmer's output (Debian 12 ships
 * libstemmer 2.2.0). A change to either leaves the words of existing rows stale until their
 * hidden "_w_" columns are set to NULL, which the next migration (froth serve or froth migrate)
 * fills again.
 */
#include "store/words.h"

#include <libstemmer.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

/* A short, fixed list of English function words, the same on every install so that both stores
 * and every version of the database agree. docs/api.md lists them for API users. */
static const char *const stop_words[] = {
    "a",    "an",   "and",   "are",  "as",    "at",   "be",   "but",   "by",
    "for",  "if",   "in",    "into", "is",    "it",   "no",   "not",   "of",
    "on",   "or",   "such",  "that", "the",   "their", "then", "there", "these",
    "they", "this", "to",    "was",  "will",  "with",
};

bool store__words_is_stop(const char *word, size_t n)
{
    for (size_t i = 0; i < sizeof(stop_words) / sizeof(stop_words[0]); i++) {
        if (strlen(stop_words[i]) == n && memcmp(stop_words[i], word, n) == 0)
            return true;
    }
    return false;
}

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* Decodes the character at p[0..n), n > 0, into *cp and returns its length in bytes. Invalid
 * sequences (overlong forms, surrogates, values past U+10FFFF, cut-off tails) give *cp = -1 and
 * length 1, so the caller skips one byte and goes on. */
static size_t decode(const unsigned char *p, size_t n, int32_t *cp)
{
    const unsigned char b = p[0];
    *cp = -1;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t len;
    int32_t c, min;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2, c = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3, c = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4, c = b & 0x07, min = 0x10000;
    } else {
        return 1;
    }
    if (len > n)
        return 1;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 1;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 1;
    *cp = c;
    return len;
}

static void encode(sbuf_t *out, int32_t c)
{
    char b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (char)(0xC0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (c >> 18));
        b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    sbuf_append(out, b, n);
}

/* ---- Characters ------------------------------------------------------------------------- */

static bool between(int32_t c, int32_t lo, int32_t hi)
{
    return c >= lo && c <= hi;
}

/* Punctuation, symbols, spaces and invisible marks outside ASCII. Letters and digits of every
 * script, and anything not listed, count as word characters. */
static bool is_separator(int32_t c)
{
    if (c < 0x80)
        return !(between(c, '0', '9') || between(c, 'a', 'z') || between(c, 'A', 'Z'));
    return between(c, 0x80, 0xBF) || c == 0xD7 || c == 0xF7 || /* Latin-1 controls and signs */
           between(c, 0x2000, 0x2BFF) ||   /* general punctuation to miscellaneous symbols */
           between(c, 0x3000, 0x303F) ||   /* CJK punctuation */
           between(c, 0xFE00, 0xFE0F) ||   /* variation selectors */
           between(c, 0xFE30, 0xFE6F) ||   /* CJK compatibility and small form punctuation */
           c == 0xFEFF ||             /* byte order mark */
           between(c, 0xFF00, 0xFF0F) || between(c, 0xFF1A, 0xFF20) || between(c, 0xFF3B, 0xFF40) ||
           between(c, 0xFF5B, 0xFF65) ||   /* full-width punctuation */
           between(c, 0x1F000, 0x1FAFF);   /* emoji and pictographs */
}

static bool is_apostrophe(int32_t c)
{
    return c == '\'' || c == 0x2019;
}

/* Lowercases the letters of the scripts most texts use. The ranges follow the Unicode charts:
 * Latin-1 and Greek capitals sit 0x20 below their small letters, Latin Extended-A alternates
 * capital and small letter with a few runs shifted by one, and Cyrillic has two blocks. */
static int32_t fold(int32_t c)
{
    if (between(c, 'A', 'Z') || (between(c, 0xC0, 0xDE) && c != 0xD7))
        return c + 0x20;
    if (c == 0x130)
        return 'i'; /* capital I with dot above */
    if ((between(c, 0x100, 0x137) || between(c, 0x14A, 0x177)) && c % 2 == 0)
        return c + 1;
    if ((between(c, 0x139, 0x148) || between(c, 0x179, 0x17E)) && c % 2 == 1)
        return c + 1;
    if (c == 0x178)
        return 0xFF; /* Y with diaeresis */
    if (between(c, 0x391, 0x3AB) && c != 0x3A2)
        return c + 0x20;
    if (c == 0x386)
        return 0x3AC;
    if (between(c, 0x388, 0x38A))
        return c + 0x25;
    if (c == 0x38C)
        return 0x3CC;
    if (between(c, 0x38E, 0x38F))
        return c + 0x3F;
    if (between(c, 0x410, 0x42F))
        return c + 0x20;
    if (between(c, 0x400, 0x40F))
        return c + 0x50;
    return c;
}

/* ---- Words ------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t n;
    size_t at;
} cursor_t;

static bool word_char_at(const cursor_t *t, size_t at, size_t *len, int32_t *cp)
{
    if (at >= t->n)
        return false;
    *len = decode(t->p + at, t->n - at, cp);
    return *cp >= 0 && !is_separator(*cp);
}

/* Appends the next word, folded, to word and returns true; returns false at the end of the text.
 * An apostrophe joins the word only when a word character follows it. */
static bool next_word(cursor_t *t, sbuf_t *word)
{
    size_t len;
    int32_t cp;
    while (t->at < t->n && !word_char_at(t, t->at, &len, &cp))
        t->at += len;
    if (t->at >= t->n)
        return false;
    sbuf_clear(word);
    for (;;) {
        if (word_char_at(t, t->at, &len, &cp)) {
            encode(word, fold(cp));
            t->at += len;
            continue;
        }
        size_t next_len;
        int32_t next_cp;
        if (t->at < t->n && cp >= 0 && is_apostrophe(cp) &&
            word_char_at(t, t->at + len, &next_len, &next_cp)) {
            sbuf_putc(word, '\'');
            t->at += len;
            continue;
        }
        return true;
    }
}

/* True when out already holds " stem ". Used for queries only, which are short. */
static bool already_has(const sbuf_t *out, const char *stem, size_t n)
{
    if (out->len < n + 2)
        return false;
    for (size_t i = 0; i + n + 2 <= out->len; i++) {
        if (out->data[i] == ' ' && out->data[i + n + 1] == ' ' &&
            memcmp(out->data + i + 1, stem, n) == 0)
            return true;
    }
    return false;
}

err_t store__words_of(const char *p, size_t n, bool query, sbuf_t *out)
{
    struct sb_stemmer *stemmer = sb_stemmer_new("english", "UTF_8");
    if (stemmer == NULL)
        return ERR_NOMEM;
    sbuf_t word;
    sbuf_init(&word, n + 4);
    cursor_t t = {(const unsigned char *)p, n, 0};
    const size_t start = out->len;
    err_t err = ERR_OK;
    while (err == ERR_OK && next_word(&t, &word)) {
        err = sbuf_error(&word);
        if (err != ERR_OK)
            break;
        if (query && store__words_is_stop(word.data, word.len))
            continue;
        const sb_symbol *stem = sb_stemmer_stem(stemmer, (const sb_symbol *)word.data,
                                                (int)word.len);
        if (stem == NULL) {
            err = ERR_NOMEM;
            break;
        }
        const size_t stem_len = (size_t)sb_stemmer_length(stemmer);
        if (query && already_has(out, (const char *)stem, stem_len))
            continue;
        if (out->len == start)
            sbuf_putc(out, ' ');
        sbuf_append(out, (const char *)stem, stem_len);
        sbuf_putc(out, ' ');
        err = sbuf_error(out);
    }
    if (err == ERR_OK && !query && out->len == start)
        sbuf_putc(out, ' ');
    if (err == ERR_OK)
        err = sbuf_error(out);
    sbuf_deinit(&word);
    sb_stemmer_delete(stemmer);
    return err;
}

/* ---- Hidden columns --------------------------------------------------------------------- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

bool store__words_column(const app_field_t *field, char *out, size_t size)
{
    const char *column = store__column_name(field);
    if (field->type.kind != FK_TEXT || field->builtin == BUILTIN_ID ||
        (field->builtin == BUILTIN_NONE && field->type.is_list) || column == NULL ||
        size < STORE__WORDS_COLUMN_MAX + 1)
        return false;
    if (strlen(column) + 3 <= STORE__WORDS_COLUMN_MAX)
        snprintf(out, size, "_w_%s", column);
    else
        snprintf(out, size, "_w_%.*s_%08x", STORE__WORDS_COLUMN_MAX - 12, column,
                 (unsigned)fnv1a(column));
    return true;
}
