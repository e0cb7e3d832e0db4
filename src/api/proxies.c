/* The client address behind trusted reverse proxies.
 *
 * Behind a proxy every request comes from the proxy's address, so per-address throttling would
 * count all clients together. When the peer is a configured trusted proxy, the client is the
 * rightmost address in X-Forwarded-For that is not itself a trusted proxy. Addresses further left
 * were written by the client, so they are never believed. Without trusted proxies the header is ignored.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/log.h"

struct api_proxy {
    int family;               /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;          /* bits that must match */
};

static bool parse_address(const char *s, int *family, unsigned char out[16])
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool prefix_matches(const api_proxy_t *p, const unsigned char addr[16])
{
    unsigned bits = p->prefix;
    for (size_t i = 0; bits > 0; i++, bits = bits >= 8 ? bits - 8 : 0) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((p->addr[i] & mask) != (addr[i] & mask))
            return false;
    }
    return true;
}

static bool trusted(const api_t *api, const char *address)
{
    int family;
    unsigned char addr[16] = {0};
    if (!parse_address(address, &family, addr))
        return false;
    for (size_t i = 0; i < api->nproxies; i++) {
        if (api->proxies[i].family == family && prefix_matches(&api->proxies[i], addr))
            return true;
    }
    return false;
}

err_t api_proxies_parse(const char *list, api_proxy_t **out, size_t *count, char *errbuf,
                        size_t errlen)
{
    *out = NULL;
    *count = 0;
    if (list == NULL || *list == '\0')
        return ERR_OK;
    size_t cap = 1;
    for (const char *p = list; *p != '\0'; p++)
        cap += *p == ',';
    api_proxy_t *proxies = calloc(cap, sizeof(*proxies));
    char *copy = strdup(list);
    if (proxies == NULL || copy == NULL) {
        free(proxies);
        free(copy);
        return ERR_NOMEM;
    }
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        api_proxy_t *p = &proxies[n];
        char *slash = strchr(tok, '/');
        if (slash != NULL)
            *slash = '\0';
        if (!parse_address(tok, &p->family, p->addr)) {
            snprintf(errbuf, errlen, "invalid trusted proxy \"%s\": expected an IP address or "
                     "CIDR range such as 10.0.0.0/8", tok);
            free(proxies);
            free(copy);
            return ERR_INVALID;
        }
        unsigned max = p->family == AF_INET ? 32 : 128;
        p->prefix = max;
        if (slash != NULL) {
            char *end;
            long bits = strtol(slash + 1, &end, 10);
            if (*end != '\0' || end == slash + 1 || bits < 0 || bits > (long)max) {
                snprintf(errbuf, errlen, "invalid prefix length in trusted proxy \"%s/%s\"", tok,
                         slash + 1);
                free(proxies);
                free(copy);
                return ERR_INVALID;
            }
            p->prefix = (unsigned)bits;
        }
        n++;
    }
    free(copy);
    *out = proxies;
    *count = n;
    return ERR_OK;
}

const char *api__client_address(const api_call_t *call)
{
    const char *peer = call->req->client_ip;
    if (call->api->nproxies == 0 || peer == NULL || !trusted(call->api, peer))
        return peer;
    const char *header = http_header(call->req, "X-Forwarded-For");
    if (header == NULL)
        return peer;
    char *list = arena_strdup(call->req->arena, header);
    if (list == NULL)
        return peer;
    /* Walk from the right: each hop appended the address it received the request from. */
    const char *client = peer;
    for (;;) {
        char *comma = strrchr(list, ',');
        char *item = comma != NULL ? comma + 1 : list;
        while (*item == ' ')
            item++;
        size_t n = strlen(item);
        while (n > 0 && item[n - 1] == ' ')
            item[--n] = '\0';
        int family;
        unsigned char addr[16];
        if (!parse_address(item, &family, addr))
            break; /* garbage: keep the last address that was sure */
        client = item;
        if (!trusted(call->api, item) || comma == NULL)
            break;
        *comma = '\0';
    }
    return client;
}
