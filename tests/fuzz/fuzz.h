/* Shared declarations for the fuzz targets in this directory.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput. Built with clang and -fsanitize=fuzzer it is
 * a libFuzzer binary; built with replay.c instead it feeds the files of a corpus to the same
 * function once each, which is how the normal test run replays corpus/<name>/.
 */
#ifndef FROTH_TESTS_FUZZ_H
#define FROTH_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once per input. Returns 0; a bug shows as a sanitizer report or an abort. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition when a property of a parser's output does not hold, so that
 * libFuzzer records the input as a crash. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
