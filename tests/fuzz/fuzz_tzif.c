/* Fuzz target for clock_zone_parse, the TZif reader behind the app setting "timezone". Offsets of
 * a zone it accepts must stay within the range RFC 8536 allows, whatever instant or clock time is
 * asked. */
#include <stdlib.h>

#include "core/clock.h"
#include "fuzz.h"

/* TZif offsets lie within (-25, +26) hours: a POSIX rule's standard offset within 24:59:59 and
 * its daylight saving offset, by default, one hour more. */
#define MIN_OFFSET_S (-25 * 3600)
#define MAX_OFFSET_S (26 * 3600)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clock_zone_t *zone = NULL;
    if (clock_zone_parse(data, size, &zone) != ERR_OK)
        return 0;
    static const int64_t instants[] = {-4000000000LL, 0, 1000000000LL, 1743298200LL, 2540282400LL,
                                       32503680000LL};
    for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
        const int32_t at = clock_zone_offset_at(zone, instants[i]);
        FUZZ_CHECK(at > MIN_OFFSET_S && at < MAX_OFFSET_S);
        const int32_t local = clock_zone_offset_local(zone, instants[i]);
        FUZZ_CHECK(local > MIN_OFFSET_S && local < MAX_OFFSET_S);
    }
    clock_zone_free(zone);
    return 0;
}
