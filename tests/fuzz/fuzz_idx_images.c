/* Fuzz target: the IDX images parser (niti_idx_parse_images, used by the MNIST loader). */
#include "io/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int count = -1;
    if (niti_idx_parse_images(data, size, "fuzz-images", &count) == NITI_OK) {
        FUZZ_CHECK(count > 0 && size == 16 + (size_t)count * 784);
        /* touch every pixel the loader would keep */
        unsigned sum = 0;
        for (size_t i = 16; i < size; i++) sum += data[i];
        (void)sum;
    }
    return 0;
}
