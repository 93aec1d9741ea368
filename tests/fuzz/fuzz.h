/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c). Each target defines LLVMFuzzerTestOneInput;
 * it is linked either with libFuzzer (clang, -DNITI_FUZZ=ON, tools/fuzz.sh) or with replay.c,
 * a plain main() that feeds files to it (the fuzz_replay_* CTest tests, any compiler).
 * FUZZ_CHECK aborts on a broken invariant, so that libFuzzer records the input as a crash. */
#ifndef NITI_FUZZ_H
#define NITI_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of the input (text parsers take C strings; the copy ends at the first NUL
 * byte of the input, as a C string would). The caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}
#endif
