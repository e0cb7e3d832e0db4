/* RFC 6238 time-based one-time passwords on OpenSSL's HMAC-SHA-1. libsodium has no SHA-1, and the
 * one-shot HMAC() function is not deprecated in OpenSSL 3. */
#include "auth/totp.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void auth__base32_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    unsigned buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        buffer = (buffer << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(buffer << (5 - bits)) & 31];
    out[o] = '\0';
}

long auth__base32_decode(const char *in, unsigned char *out, size_t size)
{
    size_t o = 0;
    unsigned buffer = 0;
    int bits = 0;
    for (const char *p = in; *p != '\0'; p++) {
        if (*p == ' ' || *p == '=' || *p == '-')
            continue;
        const char *at = strchr(alphabet, toupper((unsigned char)*p));
        if (at == NULL || *at == '\0')
            return -1;
        buffer = (buffer << 5) | (unsigned)(at - alphabet);
        bits += 5;
        if (bits >= 8) {
            if (o == size)
                return -1;
            out[o++] = (unsigned char)(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    return (long)o;
}

uint32_t auth__hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits)
{
    unsigned char msg[8];
    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof(msg), mac, &mac_len);
    /* Dynamic truncation, RFC 4226 section 5.3. */
    int offset = mac[mac_len - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[offset] & 0x7f) << 24) | ((uint32_t)mac[offset + 1] << 16) |
                   ((uint32_t)mac[offset + 2] << 8) | mac[offset + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    sodium_memzero(mac, sizeof(mac));
    return bin % mod;
}

bool auth__totp_check(const unsigned char *key, size_t key_len, const char *code, int64_t now_ms,
                      int64_t last_step, int64_t *step)
{
    if (code == NULL || strlen(code) != TOTP_DIGITS)
        return false;
    for (int i = 0; i < TOTP_DIGITS; i++) {
        if (!isdigit((unsigned char)code[i]))
            return false;
    }
    int64_t now_step = now_ms / 1000 / TOTP_STEP_S;
    bool found = false;
    int64_t matched = 0;
    /* Every candidate is computed and compared, so the time taken does not reveal which step
     * matched, or whether one did. */
    for (int64_t s = now_step - 1; s <= now_step + 1; s++) {
        char expected[TOTP_DIGITS + 1];
        snprintf(expected, sizeof(expected), "%06u",
                 (unsigned)auth__hotp(key, key_len, (uint64_t)s, TOTP_DIGITS));
        bool same = sodium_memcmp(expected, code, TOTP_DIGITS) == 0;
        if (same && s > last_step && !found) {
            found = true;
            matched = s;
        }
    }
    if (found)
        *step = matched;
    return found;
}
