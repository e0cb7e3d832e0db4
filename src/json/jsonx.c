/* Strict parsing of request bodies with a depth cap. */
#include "json/jsonx.h"

#include <stdio.h>

size_t jsonx_depth(const json_t *value, size_t limit)
{
    if (limit == 0)
        return 1;
    size_t max = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)value, key, child)
        {
            size_t d = jsonx_depth(child, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    if (json_is_array(value)) {
        size_t i;
        json_t *child;
        json_array_foreach(value, i, child)
        {
            size_t d = jsonx_depth(child, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    return 0;
}

err_t jsonx_parse(const char *buf, size_t len, json_t **out, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        snprintf(msg, msglen, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return ERR_INVALID;
    }
    if (jsonx_depth(root, JSONX_MAX_DEPTH) > JSONX_MAX_DEPTH) {
        snprintf(msg, msglen, "invalid JSON: nesting deeper than %d levels", JSONX_MAX_DEPTH);
        json_decref(root);
        return ERR_INVALID;
    }
    *out = root;
    return ERR_OK;
}
