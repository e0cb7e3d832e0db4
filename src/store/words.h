/* Private to the store module: the words that the search constraint "text contains" compares.
 *
 * A text is split into words, each lowercased and reduced to its stem by the Snowball English
 * stemmer (libstemmer), so "Peppers" and "pepper" give the same word. The store keeps the words
 * of every text field in a hidden column next to the field, and a query matches when every one
 * of its words, English stop words left out, is among them. Both stores compare the same words
 * with the same substring test, so they return the same things.
 */
#ifndef FROTH_STORE_WORDS_H
#define FROTH_STORE_WORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "app/app.h"
#include "core/err.h"
#include "core/sbuf.h"

/* Longest hidden column name: a field's column (63 bytes at most) with a 3-byte prefix, or a
 * shortened form with a hash when that would pass PostgreSQL's 63-byte identifier limit. */
#define STORE__WORDS_COLUMN_MAX 63

/* Appends the stemmed words of the UTF-8 text p[0..n) to out as " w1 w2 ... wN ", one space
 * before and after every word, so that searching for " word " finds whole words only. A text
 * without words gives " ". With query set, stop words and repeated words are left out, and a
 * query without words gives "". Bytes that are not valid UTF-8 separate words. Returns
 * ERR_NOMEM when the stemmer cannot be created, or out's error when out reaches its maximum,
 * which 2 * n + 2 bytes always satisfy. Thread-safe. */
err_t store__words_of(const char *p, size_t n, bool query, sbuf_t *out);

/* True when word (lowercase, n bytes) is one of the English stop words that queries leave out. */
bool store__words_is_stop(const char *word, size_t n);

/* Writes into out (STORE__WORDS_COLUMN_MAX + 1 bytes) the name of the hidden column that keeps
 * the words of field: "_w_" and the field's column, shortened with a hash when too long. Returns
 * false when the field has no such column: only text fields that are not lists have one, apart
 * from _id, which is one word by construction and is searched in place. Declared fields' columns
 * start with "f_" and built-ins' with "_" followed by a letter, so no field's column can take
 * one of these names. */
bool store__words_column(const app_field_t *field, char *out, size_t size);

#endif
