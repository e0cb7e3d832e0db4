/* Time sources and date parsing and formatting. */
#include "core/clock.h"
#include "core/clock_internal.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
int64_t clock__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void clock__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
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

/* Writes v as exactly width decimal digits, zero-padded, and returns the end. v < 10^width. */
static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void clock_format_iso(int64_t ms, char out[32])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int millis = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int rem = (int)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    clock__civil_from_days(days, &y, &m, &d);
    /* Years outside 0..9999 never come from parsed input, but a stored number can hold any
     * value; they are clamped so the text always fits its 24 characters. */
    if (y < 0)
        y = 0;
    if (y > 9999)
        y = 9999;
    /* Written digit by digit rather than with snprintf: every date field of every thing in a
     * response comes through here, and the format string cost several times more. */
    char *p = out;
    p = put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m % 100, 2);
    *p++ = '-';
    p = put_digits(p, d % 100, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rem / 3600 % 100), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rem % 60), 2);
    *p++ = '.';
    p = put_digits(p, (unsigned)(millis % 1000), 3);
    *p++ = 'Z';
    *p = '\0';
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

static err_t parse_iso(const char *p, const char *end, int64_t *ms, bool *naive)
{
    int y, mo, d, h = 0, mi = 0, s = 0, frac = 0;
    if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
        p >= end || *p++ != '-' || !digits(&p, end, 2, &d))
        return ERR_INVALID;
    if (!valid_ymd(y, mo, d))
        return ERR_INVALID;
    int64_t offset_min = 0;
    *naive = true;
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
            *naive = false;
        } else if (p < end && (*p == '+' || *p == '-')) {
            *naive = false;
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
    int64_t days = clock__days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
    *ms = secs * 1000 + frac;
    return ERR_OK;
}

static err_t parse_us_date(const char *p, const char *end, int64_t *ms, bool *naive)
{
    *naive = true;
    int m, d, y;
    if (!digits(&p, end, 2, &m) || p >= end || *p++ != '/' || !digits(&p, end, 2, &d) || p >= end ||
        *p++ != '/' || !digits(&p, end, 4, &y) || p != end)
        return ERR_INVALID;
    if (!valid_ymd(y, m, d))
        return ERR_INVALID;
    *ms = clock__days_from_civil(y, (unsigned)m, (unsigned)d) * 86400000;
    return ERR_OK;
}

static int month_of(const char *w, size_t n)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    if (n < 3)
        return 0;
    for (int i = 0; i < 12; i++) {
        if (strncasecmp(w, names[i], 3) == 0)
            return i + 1;
    }
    return 0;
}

static bool is_weekday(const char *w, size_t n)
{
    static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    for (int i = 0; n >= 3 && i < 7; i++) {
        if (strncasecmp(w, names[i], 3) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)w[i]))
            return false;
    }
    return n > 0;
}

/* Reads "+HHMM", "-HH:MM" (after an optional GMT or UTC) into minutes east of UTC. */
static bool parse_zone(const char *w, size_t n, int64_t *offset_min)
{
    if (n >= 3 && (strncasecmp(w, "GMT", 3) == 0 || strncasecmp(w, "UTC", 3) == 0)) {
        w += 3;
        n -= 3;
    } else if (n == 1 && (*w == 'Z' || *w == 'z')) {
        w++;
        n--;
    }
    if (n == 0) {
        *offset_min = 0;
        return true;
    }
    if (*w != '+' && *w != '-')
        return false;
    int sign = *w == '-' ? -1 : 1;
    char digitsbuf[5];
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (w[i] == ':')
            continue;
        if (!isdigit((unsigned char)w[i]) || k == 4)
            return false;
        digitsbuf[k++] = w[i];
    }
    if (k != 4)
        return false;
    int h = (digitsbuf[0] - '0') * 10 + digitsbuf[1] - '0';
    int m = (digitsbuf[2] - '0') * 10 + digitsbuf[3] - '0';
    if (h > 23 || m > 59)
        return false;
    *offset_min = sign * (h * 60 + m);
    return true;
}

/* Reads the human forms clients send: JavaScript's Date.toString() ("Wed Jan 13 2016 10:00:00
 * GMT+0100 (Central European Standard Time)"), RFC 2822 ("Wed, 13 Jan 2016 10:00:00 +0000")
 * and their date-only prefixes ("Wed Jan 13 2016"). A parenthesised zone name is ignored. */
static err_t parse_textual(const char *p, const char *end, int64_t *ms, bool *naive)
{
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    bool have_time = false, have_zone = false;
    int64_t offset_min = 0;
    int words = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == ','))
            p++;
        if (p >= end || *p == '(')
            break;
        const char *w = p;
        while (p < end && *p != ' ' && *p != ',')
            p++;
        size_t n = (size_t)(p - w);
        if (++words > 8)
            return ERR_INVALID;
        if (words == 1 && is_weekday(w, n) && !all_digits(w, n))
            continue;
        if (mo == 0 && month_of(w, n) != 0 && !isdigit((unsigned char)w[0])) {
            mo = month_of(w, n);
        } else if (d == 0 && all_digits(w, n) && n <= 2 && y == 0) {
            /* A word is a slice of the input, not a C string, so atoi would read past it. */
            const char *q = w;
            digits(&q, w + n, (int)n, &d);
        } else if (y == 0 && all_digits(w, n) && n == 4) {
            const char *q = w;
            digits(&q, w + n, 4, &y);
        } else if (!have_time && n >= 5 && w[2] == ':') {
            const char *q = w;
            if (!digits(&q, w + n, 2, &h) || *q++ != ':' || !digits(&q, w + n, 2, &mi))
                return ERR_INVALID;
            if (q < w + n && (*q++ != ':' || !digits(&q, w + n, 2, &sec)))
                return ERR_INVALID;
            if (q != w + n || h > 23 || mi > 59 || sec > 60)
                return ERR_INVALID;
            have_time = true;
        } else if (!have_zone && parse_zone(w, n, &offset_min)) {
            have_zone = true;
        } else {
            return ERR_INVALID;
        }
    }
    if (!valid_ymd(y, mo, d))
        return ERR_INVALID;
    int64_t secs = clock__days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
                   mi * 60 + sec - offset_min * 60;
    *ms = secs * 1000;
    *naive = !have_zone;
    return ERR_OK;
}

static err_t parse_date_text(const char *s, const char *end, int64_t *ms, bool *naive)
{
    const size_t n = (size_t)(end - s);
    if (n >= 10 && s[2] == '/')
        return parse_us_date(s, end, ms, naive);
    if (isalpha((unsigned char)s[0]) || (n > 2 && isdigit((unsigned char)s[0]) && s[1] == ' ') ||
        (n > 3 && isdigit((unsigned char)s[1]) && s[2] == ' '))
        return parse_textual(s, end, ms, naive);
    return parse_iso(s, end, ms, naive);
}

err_t clock_parse_date(const char *s, size_t n, const clock_zone_t *zone, int64_t *ms)
{
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > 128)
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
    bool naive = false;
    err_t err = parse_date_text(s, end, ms, &naive);
    if (err != ERR_OK || !naive || zone == NULL)
        return err;
    /* The clock time was read as if it were UTC; the zone's offset at that clock time moves it
     * to the instant it names. */
    const int64_t local = *ms >= 0 ? *ms / 1000 : (*ms - 999) / 1000;
    *ms -= (int64_t)clock_zone_offset_local(zone, local) * 1000;
    return ERR_OK;
}
