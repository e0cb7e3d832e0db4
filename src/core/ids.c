/* Bubble-style unique ids. */
#include "core/ids.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

#include "core/clock.h"

void id_generate(char out[ID_SIZE])
{
    uint64_t r[2];
    while (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    }
    /* 18 decimal digits: 9 from each 64-bit draw, so both halves stay uniform enough. */
    snprintf(out, ID_SIZE, "%013" PRId64 "x%09" PRIu64 "%09" PRIu64, clock_now_ms(),
             r[0] % 1000000000u, r[1] % 1000000000u);
}

bool id_is_valid(const char *s, size_t n)
{
    size_t i = 0, a = 0, b = 0;
    while (i < n && isdigit((unsigned char)s[i])) {
        i++;
        a++;
    }
    if (i >= n || s[i] != 'x')
        return false;
    i++;
    while (i < n && isdigit((unsigned char)s[i])) {
        i++;
        b++;
    }
    return i == n && a >= 1 && a <= 20 && b >= 1 && b <= 20;
}
