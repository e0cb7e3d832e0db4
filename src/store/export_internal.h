/* Private to the store module: what export.c, import.c and the backends' export files share.
 *
 * The dump format itself is described at the top of export.c.
 */
#ifndef FROTH_STORE_EXPORT_INTERNAL_H
#define FROTH_STORE_EXPORT_INTERNAL_H

#include <stdint.h>

#include "store/store_internal.h"

/* The longest line a dump may hold, in bytes. Export fails on a thing that would need a longer
 * line rather than write one that import rejects. A thing that large is far beyond any request
 * body the server accepts by default (1 MiB). */
#define STORE__DUMP_MAX_LINE ((size_t)64 << 20)

/* Writes the 32 bytes of hash as 64 lowercase hex digits and a NUL. */
void store__hex_encode(const unsigned char hash[32], char out[65]);

/* Reads exactly 64 hex digits (either case) from p into hash. Returns false for anything else. */
bool store__hex_decode(const char *p, size_t n, unsigned char hash[32]);

/* SELECT of every field of type, then "_password_hash" for the User type, of at most limit rows
 * after the row (after_created, after_id) in (_created, _id) order; after_id NULL starts at the
 * first row. The row-value comparison lets both SQLite and PostgreSQL start each page with a
 * range scan of the (_created, _id) index, so a whole table costs one pass however many pages
 * it takes. */
void store__sql_export_things(store__sql_t *q, const app_type_t *type, int64_t after_created,
                              const char *after_id, size_t limit);

#endif
