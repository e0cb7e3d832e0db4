/* Time sources and date parsing and formatting. */
#include "core/clock.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t offset_ms;

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&offset_ms);
}

int64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clock_set_offset_ms(int64_t offset)
{
    atomic_store(&offset_ms, offset);
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's civil algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void clock_format_iso(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int millis = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int rem = (int)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d, rem / 3600,
             rem / 60 % 60, rem % 60, millis);
}

/* Reads exactly `width` digits at *p. */
static bool digits(const char **p, const char *end, int width, int *out)
{
    int v = 0;
    for (int i = 0; i < width; i++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return true;
}

static bool valid_ymd(int y, int m, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || y < 1 || y > 9999)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = mdays[m - 1] + (m == 2 && leap);
    return d <= max;
}

static err_t parse_iso(const char *p, const char *end, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
    if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &d))
        return ERR_INVALID;
    if (!valid_ymd(y, mo, d))
        return ERR_INVALID;
    int64_t offset_min = 0;
    if (p < end && (*p == 'T' || *p == ' ')) {
        p++;
        if (!digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi))
            return ERR_INVALID;
        if (p < end && *p == ':') {
            p++;
            if (!digits(&p, end, 2, &s))
                return ERR_INVALID;
            if (p < end && *p == '.') {
                p++;
                int scale = 100, n = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (n++ < 3) {
                        frac += (*p - '0') * scale;
                        scale /= 10;
                    }
                    p++;
                }
                if (n == 0)
                    return ERR_INVALID;
            }
        }
        if (h > 23 || mi > 59 || s > 60)
            return ERR_INVALID;
        if (p < end && (*p == 'Z' || *p == 'z')) {
            p++;
        } else if (p < end && (*p == '+' || *p == '-')) {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!digits(&p, end, 2, &oh))
                return ERR_INVALID;
            /* Minutes are optional ("+02"), but a colon must be followed by them. */
            bool colon = p < end && *p == ':';
            if (colon)
                p++;
            if ((colon || p < end) && !digits(&p, end, 2, &om))
                return ERR_INVALID;
            if (oh > 23 || om > 59)
                return ERR_INVALID;
            offset_min = sign * (oh * 60 + om);
        }
    }
    if (p != end)
        return ERR_INVALID;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
    *ms = secs * 1000 + frac;
    return ERR_OK;
}

static err_t parse_us_date(const char *p, const char *end, int64_t *ms)
{
    int m, d, y;
    if (!digits(&p, end, 2, &m) || p >= end || *p++ != '/' || !digits(&p, end, 2, &d) ||
        p >= end || *p++ != '/' || !digits(&p, end, 4, &y) || p != end)
        return ERR_INVALID;
    if (!valid_ymd(y, m, d))
        return ERR_INVALID;
    *ms = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400000;
    return ERR_OK;
}

err_t clock_parse_date(const char *s, size_t n, int64_t *ms)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > 64)
        return ERR_INVALID;
    const char *end = s + n;
    bool all_digits = true;
    for (size_t i = (s[0] == '-' ? 1 : 0); i < n; i++)
        all_digits = all_digits && isdigit((unsigned char)s[i]);
    /* Epoch milliseconds: at least 5 digits, so a bare year is never read as a timestamp. */
    if (all_digits && n >= 5 && n <= 16) {
        long long v = 0;
        for (size_t i = (s[0] == '-' ? 1 : 0); i < n; i++)
            v = v * 10 + (s[i] - '0');
        *ms = s[0] == '-' ? -v : v;
        return ERR_OK;
    }
    if (n >= 10 && s[2] == '/')
        return parse_us_date(s, end, ms);
    return parse_iso(s, end, ms);
}
