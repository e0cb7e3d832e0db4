/* Unique ids in Bubble's form: 13 digits of epoch milliseconds, 'x', 18 random digits. */
#ifndef FROTH_CORE_IDS_H
#define FROTH_CORE_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ID_LEN 32 /* 13 + 1 + 18 */
#define ID_SIZE (ID_LEN + 1)

/* Writes a new id and a NUL into out. Uses the operating system's random source; thread-safe. */
void id_generate(char out[ID_SIZE]);

/* True when s has the shape digits 'x' digits (any lengths from 1 to 20 digits each), which is
 * what clients and Bubble itself accept as an id. */
bool id_is_valid(const char *s, size_t n);

#endif
