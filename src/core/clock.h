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

/* A time zone of the tz database, loaded once and then read-only: safe to share between threads
 * without locks. */
typedef struct clock_zone clock_zone_t;

/* Loads the zone with this IANA name ("Europe/Paris") from the system tz database: the directory
 * in the TZDIR environment variable, else /usr/share/zoneinfo. "UTC" needs no file. Returns
 * ERR_INVALID for a malformed name or file, ERR_NOT_FOUND when there is no such zone, ERR_IO when
 * the file cannot be read. The caller frees the zone with clock_zone_free. */
err_t clock_zone_load(const char *name, clock_zone_t **out) WARN_UNUSED;
void clock_zone_free(clock_zone_t *zone);

/* Reads a zone from the n bytes of a TZif file (RFC 8536, versions 1 to 4). Returns ERR_INVALID
 * for malformed data, ERR_NOMEM when out of memory. */
err_t clock_zone_parse(const unsigned char *data, size_t n, clock_zone_t **out) WARN_UNUSED;

/* Returns the zone's offset from UTC, in seconds east, at the instant t (seconds since the epoch).
 * A NULL zone is UTC. */
int32_t clock_zone_offset_at(const clock_zone_t *zone, int64_t t);

/* Returns the offset in seconds east of UTC that the zone's clocks show at the clock time local
 * (seconds since the epoch, counted as if the clock time were UTC). A clock time that occurs twice
 * when clocks go back gets the earlier instant's offset; one skipped when clocks go forward gets
 * the offset before the change. A NULL zone is UTC. */
int32_t clock_zone_offset_local(const clock_zone_t *zone, int64_t local);

/* Parses a date given as ISO-8601 (with or without time, milliseconds and an offset), a string of
 * epoch milliseconds, MM/DD/YYYY, JavaScript's Date.toString() form or RFC 2822. A date without an
 * offset is a clock time in zone (NULL = UTC); a date alone is its midnight there. Returns
 * ERR_INVALID for anything else. */
err_t clock_parse_date(const char *s, size_t n, const clock_zone_t *zone, int64_t *ms) WARN_UNUSED;

#endif
