/* Fuzz target for clock_parse_date. A date it accepts between the years 1 and 9999 must survive
 * a round trip through clock_format_iso unchanged. */
#include "core/clock.h"
#include "fuzz.h"

/* 0001-01-01T00:00:00.000Z and 10000-01-01T00:00:00.000Z in epoch milliseconds. */
#define YEAR_1_MS (-62135596800000LL)
#define YEAR_10000_MS 253402300800000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms = 0;
    if (clock_parse_date((const char *)data, size, NULL, &ms) != ERR_OK)
        return 0;

    char iso[32];
    clock_format_iso(ms, iso);
    if (ms < YEAR_1_MS || ms >= YEAR_10000_MS)
        return 0;
    int64_t again = 0;
    FUZZ_CHECK(clock_parse_date(iso, 24, NULL, &again) == ERR_OK);
    FUZZ_CHECK(again == ms);
    return 0;
}
