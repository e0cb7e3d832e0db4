/* Fuzz target for auth_email_normalize: an accepted address must come out trimmed, lowercase,
 * with one '@' that is neither first nor last, no blank or control byte, at most 254 bytes, and
 * normalising it again must change nothing. */
#include <string.h>

#include "auth/auth.h"
#include "fuzz.h"

static void check_normalized(const char *out)
{
    const size_t n = strlen(out);
    FUZZ_CHECK(n >= 3 && n <= 254);
    size_t ats = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c > 0x20 && c != 0x7f);
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        ats += c == '@';
    }
    FUZZ_CHECK(ats == 1);
    FUZZ_CHECK(out[0] != '@' && out[n - 1] != '@');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[300];
    if (auth_email_normalize((const char *)data, size, out, sizeof(out)) != ERR_OK)
        return 0;
    check_normalized(out);

    char again[300];
    FUZZ_CHECK(auth_email_normalize(out, strlen(out), again, sizeof(again)) == ERR_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);

    /* An output buffer one byte short of the result must be rejected, never overrun. */
    const size_t need = strlen(out) + 1;
    char *tight = malloc(need - 1);
    if (tight != NULL) {
        FUZZ_CHECK(auth_email_normalize((const char *)data, size, tight, need - 1) == ERR_INVALID);
        free(tight);
    }
    return 0;
}
