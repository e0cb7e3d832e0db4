/* Wall-clock and monotonic time, and ISO-8601 dates as Bubble writes them. */
#ifndef FROTH_CORE_CLOCK_H
#define FROTH_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Milliseconds since the Unix epoch. Tests may shift it with clock_set_offset_ms. */
int64_t clock_now_ms(void);

/* Monotonic nanoseconds, for durations. */
int64_t clock_mono_ns(void);

/* Adds an offset to clock_now_ms, so tests can move time forward. Thread-safe. */
void clock_set_offset_ms(int64_t offset);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters and a NUL) into out. */
void clock_format_iso(int64_t ms, char out[32]);

/* Parses a date given as ISO-8601 (with or without time, milliseconds and an offset), a string of
 * epoch milliseconds, MM/DD/YYYY, JavaScript's Date.toString() form or RFC 2822. Naive values are
 * taken as UTC. Returns ERR_INVALID for anything else. */
err_t clock_parse_date(const char *s, size_t n, int64_t *ms) WARN_UNUSED;

#endif
