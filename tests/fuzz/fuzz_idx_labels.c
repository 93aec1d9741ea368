/* Fuzz target: the IDX labels parser (niti_idx_parse_labels, used by the MNIST loader). */
#include "io/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int count = -1;
    if (niti_idx_parse_labels(data, size, "fuzz-labels", &count) == NITI_OK) {
        FUZZ_CHECK(count > 0 && size == 8 + (size_t)count);
        for (int k = 0; k < count; k++) FUZZ_CHECK(data[8 + k] < 10);
    }
    return 0;
}
