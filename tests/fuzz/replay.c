/* A main() for fuzz targets without libFuzzer: feeds every file named on the command line, or
 * found directly inside a directory named there, to LLVMFuzzerTestOneInput once.
 *
 * Each input gets a heap buffer of exactly its size, so AddressSanitizer catches a read one byte
 * past the end just as it does under libFuzzer. Files starting with '.' are skipped. It fails
 * when no input was found, so a missing corpus cannot pass unnoticed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Corpus seeds are small by design; anything larger is a mistake in the tree. */
#define MAX_INPUT_BYTES (1024 * 1024)

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || st.st_size > MAX_INPUT_BYTES) {
        fprintf(stderr, "replay: cannot read %s, or it is over %d bytes\n", path, MAX_INPUT_BYTES);
        fclose(fp);
        return -1;
    }
    const size_t n = (size_t)st.st_size;
    /* malloc(0) may return NULL, so an empty input still gets a one-byte allocation. */
    uint8_t *buf = malloc(n > 0 ? n : 1);
    const bool ok = buf != NULL && fread(buf, 1, n, fp) == n;
    fclose(fp);
    if (!ok) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int replay_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    const int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        if (names[i]->d_name[0] != '.' && rc == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            rc = replay_file(path);
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        const int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count)
                                           : (count++, replay_file(argv[i]));
        if (rc != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...; no inputs were found\n", argv[0]);
        return 1;
    }
    printf("replayed %zu inputs\n", count);
    return 0;
}
