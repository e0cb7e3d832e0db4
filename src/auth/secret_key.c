/* The server's secret key, which encrypts TOTP secrets at rest (two_factor.c).
 *
 * The key is 32 random bytes kept in a file as 64 hex digits or as base64. It is set once at
 * start-up, before any thread reads it, and never logged. This file does not decide where the key
 * comes from; froth serve does (a flag, or a file beside a SQLite database).
 */
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/secret_key.h"

/* A key file contains one line, so anything longer is not a key file. */
#define KEY_FILE_MAX 256

static unsigned char secret_key[AUTH_SECRET_KEY_BYTES];
static bool have_key;

void auth_secret_key_set(const unsigned char *key)
{
    if (key == NULL) {
        sodium_memzero(secret_key, sizeof(secret_key));
        have_key = false;
        return;
    }
    memcpy(secret_key, key, sizeof(secret_key));
    have_key = true;
}

bool auth_secret_key_present(void)
{
    return have_key;
}

const unsigned char *auth__secret_key(void)
{
    return have_key ? secret_key : NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

err_t auth_secret_key_parse(const char *text, size_t n, unsigned char key[AUTH_SECRET_KEY_BYTES])
{
    while (n > 0 && is_space(text[0])) {
        text++;
        n--;
    }
    while (n > 0 && is_space(text[n - 1]))
        n--;
    size_t len = 0;
    if (n == AUTH_SECRET_KEY_BYTES * 2) {
        if (sodium_hex2bin(key, AUTH_SECRET_KEY_BYTES, text, n, NULL, &len, NULL) == 0 &&
            len == AUTH_SECRET_KEY_BYTES)
            return ERR_OK;
    } else if (sodium_base642bin(key, AUTH_SECRET_KEY_BYTES, text, n, NULL, &len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) == 0 &&
               len == AUTH_SECRET_KEY_BYTES) {
        return ERR_OK;
    }
    sodium_memzero(key, AUTH_SECRET_KEY_BYTES);
    return ERR_INVALID;
}

/* Creates path with a new random key, readable by its owner only. ERR_CONFLICT when the file
 * appeared meanwhile, so a concurrent start cannot overwrite another's key. */
static err_t create_key_file(const char *path, unsigned char key[AUTH_SECRET_KEY_BYTES], char *msg,
                             size_t msglen)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return ERR_CONFLICT;
        snprintf(msg, msglen, "cannot create the secret key file %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    randombytes_buf(key, AUTH_SECRET_KEY_BYTES);
    char hex[AUTH_SECRET_KEY_BYTES * 2 + 2];
    sodium_bin2hex(hex, sizeof(hex) - 1, key, AUTH_SECRET_KEY_BYTES);
    hex[AUTH_SECRET_KEY_BYTES * 2] = '\n';
    const ssize_t w = write(fd, hex, AUTH_SECRET_KEY_BYTES * 2 + 1);
    const bool ok = w == AUTH_SECRET_KEY_BYTES * 2 + 1 && fsync(fd) == 0;
    const int saved = errno;
    sodium_memzero(hex, sizeof(hex));
    close(fd);
    if (!ok) {
        unlink(path);
        snprintf(msg, msglen, "cannot write the secret key file %s: %s", path,
                 w < 0 ? strerror(saved) : "short write");
        return ERR_IO;
    }
    return ERR_OK;
}

static err_t read_key_file(const char *path, unsigned char key[AUTH_SECRET_KEY_BYTES], char *msg,
                           size_t msglen)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot open the secret key file %s: %s", path, strerror(errno));
        return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
    }
    char text[KEY_FILE_MAX + 1];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(text) && (r = read(fd, text + n, sizeof(text) - n)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    err_t err = n <= KEY_FILE_MAX ? auth_secret_key_parse(text, n, key) : ERR_INVALID;
    sodium_memzero(text, sizeof(text));
    if (err != ERR_OK)
        snprintf(msg, msglen,
                 "invalid secret key file %s: expected 32 bytes as 64 hex digits or as base64, "
                 "such as the output of: openssl rand -hex 32",
                 path);
    return err;
}

err_t auth_secret_key_load(const char *path, bool create, bool *created, char *msg, size_t msglen)
{
    unsigned char key[AUTH_SECRET_KEY_BYTES];
    *created = false;
    err_t err = ERR_CONFLICT;
    if (create && access(path, F_OK) != 0 && errno == ENOENT) {
        err = create_key_file(path, key, msg, msglen);
        *created = err == ERR_OK;
    }
    if (err == ERR_CONFLICT)
        err = read_key_file(path, key, msg, msglen);
    if (err == ERR_OK)
        auth_secret_key_set(key);
    sodium_memzero(key, sizeof(key));
    return err;
}

bool auth_secret_key_file_is_private(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) == 0;
}
