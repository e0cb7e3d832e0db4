/* Calendar arithmetic shared by clock.c and tz.c; private to them. */
#ifndef FROTH_CORE_CLOCK_INTERNAL_H
#define FROTH_CORE_CLOCK_INTERNAL_H

#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
int64_t clock__days_from_civil(int64_t y, unsigned m, unsigned d);

/* The date of a day counted from 1970-01-01; the inverse of clock__days_from_civil. */
void clock__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
