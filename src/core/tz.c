/* Time zones from the system tz database, for reading dates written without a UTC offset.
 *
 * A zone is read once from its TZif file (RFC 8536) into a table of transitions plus the POSIX TZ
 * rule of the file's footer, which covers the years after the last transition. Lookups only read
 * that table, so one zone serves every thread without locks. Nothing here touches the TZ
 * environment variable or the C library's localtime state. Leap seconds are ignored, as in POSIX
 * time.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/clock_internal.h"

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_MAX_FILE (1 << 20) /* real TZif files are under 4 KiB */
#define TZ_MAX_NAME 128

/* A change of offset on a day of a year: M<month>.<week>.<weekday>, J<day> or <day>. */
typedef struct {
    char form;    /* 'M', 'J' or 'D' (a zero-based day of the year) */
    int month;    /* 1..12, form 'M' */
    int week;     /* 1..5, 5 = the last, form 'M' */
    int day;      /* weekday 0..6 (Sunday = 0) for 'M'; 1..365 for 'J'; 0..365 for 'D' */
    int32_t time; /* seconds after local midnight; may be negative or over a day */
} tz_rule_date_t;

/* The footer: a standard offset, and optionally a daylight saving offset with its two dates. */
typedef struct {
    bool present;
    int32_t std_offset; /* seconds east of UTC */
    bool has_dst;
    int32_t dst_offset;
    tz_rule_date_t start, end;
} tz_rule_t;

struct clock_zone {
    size_t ntransitions;
    int64_t *transitions; /* UTC seconds, ascending */
    int32_t *offsets;     /* offset in force from each transition on, seconds east of UTC */
    int32_t initial;      /* offset before the first transition */
    tz_rule_t rule;       /* for instants after the last transition */
};

/* ---- The POSIX TZ rule of the footer --------------------------------------------------------- */

static bool rule_number(const char **p, int max, int *out)
{
    int v = 0, n = 0;
    while (**p >= '0' && **p <= '9' && n < 4) {
        v = v * 10 + (*(*p)++ - '0');
        n++;
    }
    *out = v;
    return n > 0 && v <= max;
}

/* [+-]hh[:mm[:ss]] into seconds, hours up to max_hours. */
static bool rule_time(const char **p, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (**p == '+' || **p == '-')
        sign = *(*p)++ == '-' ? -1 : 1;
    if (!rule_number(p, max_hours, &h))
        return false;
    if (**p == ':' && (++*p, !rule_number(p, 59, &m)))
        return false;
    if (**p == ':' && (++*p, !rule_number(p, 59, &s)))
        return false;
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

/* A zone abbreviation: three or more letters, or <...> with letters, digits, '+' and '-'. */
static bool rule_name(const char **p)
{
    const char *start = *p;
    if (**p == '<') {
        while (**p != '\0' && **p != '>')
            (*p)++;
        if (**p != '>')
            return false;
        (*p)++;
        return *p - start >= 5;
    }
    while ((**p >= 'A' && **p <= 'Z') || (**p >= 'a' && **p <= 'z'))
        (*p)++;
    return *p - start >= 3;
}

static bool rule_date(const char **p, tz_rule_date_t *out)
{
    out->time = 2 * 3600;
    if (**p == 'M') {
        (*p)++;
        out->form = 'M';
        if (!rule_number(p, 12, &out->month) || out->month < 1 || *(*p)++ != '.' ||
            !rule_number(p, 5, &out->week) || out->week < 1 || *(*p)++ != '.' ||
            !rule_number(p, 6, &out->day))
            return false;
    } else if (**p == 'J') {
        (*p)++;
        out->form = 'J';
        if (!rule_number(p, 365, &out->day) || out->day < 1)
            return false;
    } else {
        out->form = 'D';
        if (!rule_number(p, 365, &out->day))
            return false;
    }
    if (**p == '/') {
        (*p)++;
        return rule_time(p, 167, &out->time);
    }
    return true;
}

/* Parses "CET-1CEST,M3.5.0,M10.5.0/3"; POSIX offsets count west of UTC, so the signs flip. */
static bool parse_rule(const char *s, tz_rule_t *out)
{
    memset(out, 0, sizeof(*out));
    if (*s == '\0')
        return true;
    const char *p = s;
    int32_t west;
    if (!rule_name(&p) || !rule_time(&p, 24, &west))
        return false;
    out->present = true;
    out->std_offset = -west;
    if (*p == '\0')
        return true;
    if (!rule_name(&p))
        return false;
    out->has_dst = true;
    out->dst_offset = out->std_offset + 3600;
    if (*p != ',' && *p != '\0') {
        if (!rule_time(&p, 24, &west))
            return false;
        out->dst_offset = -west;
    }
    if (*p != ',')
        return false; /* a zone with daylight saving time and no dates: not in the tz database */
    p++;
    if (!rule_date(&p, &out->start) || *p++ != ',' || !rule_date(&p, &out->end))
        return false;
    return *p == '\0';
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of the date a rule names in year y. */
static int64_t rule_day(const tz_rule_date_t *d, int64_t y)
{
    const int64_t jan1 = clock__days_from_civil(y, 1, 1);
    if (d->form == 'J')
        return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60);
    if (d->form == 'D')
        return jan1 + d->day;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const int64_t first = clock__days_from_civil(y, (unsigned)d->month, 1);
    const int first_weekday = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int mday = 1 + (d->day - first_weekday + 7) % 7 + (d->week - 1) * 7;
    const int length = mdays[d->month - 1] + (d->month == 2 && is_leap(y));
    while (mday > length)
        mday -= 7;
    return first + mday - 1;
}

static int32_t rule_offset(const tz_rule_t *rule, int64_t t)
{
    if (!rule->has_dst)
        return rule->std_offset;
    int64_t y;
    unsigned m, d;
    const int64_t local = t + rule->std_offset;
    clock__civil_from_days(local >= 0 ? local / 86400 : (local - 86399) / 86400, &y, &m, &d);
    /* The start is given in standard time and the end in daylight saving time. */
    const int64_t start = rule_day(&rule->start, y) * 86400 + rule->start.time - rule->std_offset;
    const int64_t end = rule_day(&rule->end, y) * 86400 + rule->end.time - rule->dst_offset;
    const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? rule->dst_offset : rule->std_offset;
}

/* ---- TZif files ----------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct {
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_counts_t;

static bool read_header(const unsigned char *p, size_t n, char *version, tzif_counts_t *c)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    *version = (char)p[4];
    c->isutcnt = be32(p + 20);
    c->isstdcnt = be32(p + 24);
    c->leapcnt = be32(p + 28);
    c->timecnt = be32(p + 32);
    c->typecnt = be32(p + 36);
    c->charcnt = be32(p + 40);
    return c->typecnt > 0 && c->typecnt <= 256 && c->timecnt <= 100000 && c->leapcnt <= 1000 &&
           c->charcnt <= 65536 && (c->isutcnt == 0 || c->isutcnt == c->typecnt) &&
           (c->isstdcnt == 0 || c->isstdcnt == c->typecnt);
}

static size_t block_size(const tzif_counts_t *c, size_t time_size)
{
    return c->timecnt * time_size + c->timecnt + c->typecnt * 6 + c->charcnt +
           c->leapcnt * (time_size + 4) + c->isstdcnt + c->isutcnt;
}

/* Fills zone from one data block of times of time_size bytes (4 in version 1, 8 after). */
static err_t read_block(const unsigned char *p, const tzif_counts_t *c, size_t time_size,
                        clock_zone_t *zone)
{
    const unsigned char *indexes = p + c->timecnt * time_size;
    const unsigned char *types = indexes + c->timecnt;
    zone->transitions = calloc(c->timecnt + 1, sizeof(*zone->transitions));
    zone->offsets = calloc(c->timecnt + 1, sizeof(*zone->offsets));
    if (zone->transitions == NULL || zone->offsets == NULL)
        return ERR_NOMEM;
    /* RFC 8536 keeps offsets within (-25, +26) hours; anything else is a damaged file. */
    for (uint32_t i = 0; i < c->typecnt; i++) {
        const int32_t offset = (int32_t)be32(types + i * 6);
        if (offset < -89999 || offset > 93599)
            return ERR_INVALID;
    }
    for (uint32_t i = 0; i < c->timecnt; i++) {
        const int64_t t = time_size == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
        if (indexes[i] >= c->typecnt || (i > 0 && t <= zone->transitions[i - 1]))
            return ERR_INVALID;
        zone->transitions[i] = t;
        zone->offsets[i] = (int32_t)be32(types + indexes[i] * 6);
    }
    zone->ntransitions = c->timecnt;
    zone->initial = (int32_t)be32(types);
    return ERR_OK;
}

static err_t parse_tzif(const unsigned char *p, size_t n, clock_zone_t *zone)
{
    char version;
    tzif_counts_t c;
    if (!read_header(p, n, &version, &c) || n - 44 < block_size(&c, 4))
        return ERR_INVALID;
    if (version == '\0')
        return read_block(p + 44, &c, 4, zone);

    /* Version 2 and later repeat the data with 64-bit times, then add the footer rule. */
    const size_t second = 44 + block_size(&c, 4);
    if (!read_header(p + second, n - second, &version, &c) || n - second - 44 < block_size(&c, 8))
        return ERR_INVALID;
    err_t err = read_block(p + second + 44, &c, 8, zone);
    if (err != ERR_OK)
        return err;
    const char *footer = (const char *)p + second + 44 + block_size(&c, 8);
    const char *end = (const char *)p + n;
    if (footer >= end || *footer != '\n')
        return ERR_INVALID;
    const char *close = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
    if (close == NULL || close - footer - 1 >= 256)
        return ERR_INVALID;
    char rule[256];
    memcpy(rule, footer + 1, (size_t)(close - footer - 1));
    rule[close - footer - 1] = '\0';
    return parse_rule(rule, &zone->rule) ? ERR_OK : ERR_INVALID;
}

/* IANA names such as "America/Argentina/Buenos_Aires" or "Etc/GMT+3": no empty, "." or ".."
 * component, so the name cannot leave the database's directory. */
static bool name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_MAX_NAME || name[0] == '/' || name[n - 1] == '/')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        const char c = *p;
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' || c == '+' ||
                        c == '.';
        if (!ok || (c == '/' && p[1] == '/'))
            return false;
        if (c == '.' && (p == name || p[-1] == '/'))
            return false; /* no component starts with a dot: no "..", no hidden files */
    }
    return true;
}

static err_t read_file(const char *path, unsigned char **data, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? ERR_NOT_FOUND : ERR_IO;
    *data = malloc(TZ_MAX_FILE);
    err_t err = *data == NULL ? ERR_NOMEM : ERR_OK;
    if (err == ERR_OK) {
        *n = fread(*data, 1, TZ_MAX_FILE, f);
        if (ferror(f))
            err = errno == EISDIR ? ERR_NOT_FOUND : ERR_IO;
        else if (*n == TZ_MAX_FILE)
            err = ERR_INVALID;
    }
    fclose(f);
    if (err != ERR_OK) {
        free(*data);
        *data = NULL;
    }
    return err;
}

err_t clock_zone_load(const char *name, clock_zone_t **out)
{
    *out = NULL;
    if (!name_valid(name))
        return ERR_INVALID;
    /* UTC needs no file, so apps that keep the default run where tzdata is not installed. */
    if (strcmp(name, "UTC") == 0) {
        *out = calloc(1, sizeof(**out));
        return *out != NULL ? ERR_OK : ERR_NOMEM;
    }

    const char *dir = getenv("TZDIR");
    char path[TZ_MAX_NAME + 512];
    int len = snprintf(path, sizeof(path), "%s/%s",
                       dir != NULL && *dir != '\0' ? dir : TZ_DEFAULT_DIR, name);
    unsigned char *data = NULL;
    size_t n = 0;
    err_t err = len < 0 || (size_t)len >= sizeof(path) ? ERR_INVALID : read_file(path, &data, &n);
    if (err == ERR_OK)
        err = clock_zone_parse(data, n, out);
    free(data);
    return err;
}

err_t clock_zone_parse(const unsigned char *data, size_t n, clock_zone_t **out)
{
    *out = NULL;
    clock_zone_t *zone = calloc(1, sizeof(*zone));
    if (zone == NULL)
        return ERR_NOMEM;
    err_t err = parse_tzif(data, n, zone);
    if (err != ERR_OK) {
        clock_zone_free(zone);
        return err;
    }
    *out = zone;
    return ERR_OK;
}

void clock_zone_free(clock_zone_t *zone)
{
    if (zone == NULL)
        return;
    free(zone->transitions);
    free(zone->offsets);
    free(zone);
}

int32_t clock_zone_offset_at(const clock_zone_t *zone, int64_t t)
{
    if (zone == NULL)
        return 0;
    const size_t n = zone->ntransitions;
    if (n == 0)
        return zone->rule.present ? rule_offset(&zone->rule, t) : zone->initial;
    if (t < zone->transitions[0])
        return zone->initial;
    if (t >= zone->transitions[n - 1] && zone->rule.present)
        return rule_offset(&zone->rule, t);
    size_t lo = 0, hi = n; /* the last transition <= t lies in [lo, hi) */
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (zone->transitions[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return zone->offsets[lo];
}

/* The offsets a day before and a day after are taken as the only candidates for a clock time.
 * That holds while no zone changes its offset twice within two days, which is true of every zone
 * in tzdata 2025b from 1970 on (checked over /usr/share/zoneinfo). */
int32_t clock_zone_offset_local(const clock_zone_t *zone, int64_t local)
{
    if (zone == NULL)
        return 0;
    const int32_t before = clock_zone_offset_at(zone, local - 86400);
    const int32_t after = clock_zone_offset_at(zone, local + 86400);
    const bool before_fits = clock_zone_offset_at(zone, local - before) == before;
    const bool after_fits = clock_zone_offset_at(zone, local - after) == after;
    /* Twice on the day clocks go back: the earlier instant, the larger offset. */
    if (before_fits && after_fits)
        return before > after ? before : after;
    if (after_fits)
        return after;
    /* Never (the hour skipped when clocks go forward), or both offsets agree: the offset in force
     * before the change, so 02:30 reads as 03:30 of the new offset. */
    return before;
}
