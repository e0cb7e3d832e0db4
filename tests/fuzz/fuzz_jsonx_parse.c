/* Fuzz target for jsonx_parse: what it accepts is nested at most JSONX_MAX_DEPTH levels and
 * serialises again; what it rejects comes with a message. */
#include <string.h>

#include "fuzz.h"
#include "json/jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = NULL;
    char msg[256];
    msg[0] = '\0';
    if (jsonx_parse((const char *)data, size, &root, msg, sizeof(msg)) != ERR_OK) {
        FUZZ_CHECK(root == NULL);
        FUZZ_CHECK(msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(root != NULL);
    FUZZ_CHECK(jsonx_depth(root, JSONX_MAX_DEPTH) <= JSONX_MAX_DEPTH);

    char *text = json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    json_t *again = NULL;
    FUZZ_CHECK(jsonx_parse(text, strlen(text), &again, msg, sizeof(msg)) == ERR_OK);
    FUZZ_CHECK(json_equal(root, again));
    json_decref(again);
    free(text);
    json_decref(root);
    return 0;
}
