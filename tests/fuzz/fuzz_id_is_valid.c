/* Fuzz target for id_is_valid, checked against an independent reading of the rule: exactly one
 * 'x', with 1 to 20 ASCII digits on each side and nothing else. */
#include <string.h>

#include "core/ids.h"
#include "fuzz.h"

static bool digits_only(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
    }
    return true;
}

static bool reference_valid(const uint8_t *data, size_t size)
{
    const uint8_t *x = memchr(data, 'x', size);
    if (x == NULL)
        return false;
    const size_t left = (size_t)(x - data);
    const size_t right = size - left - 1;
    return left >= 1 && left <= 20 && right >= 1 && right <= 20 && digits_only(data, left) &&
           digits_only(x + 1, right);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const bool valid = id_is_valid((const char *)data, size);
    FUZZ_CHECK(valid == reference_valid(data, size));

    if (size <= ID_LEN) {
        char id[ID_SIZE];
        id_generate(id);
        FUZZ_CHECK(id_is_valid(id, strlen(id)));
    }
    return 0;
}
