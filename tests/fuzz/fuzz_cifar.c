/* Fuzz target: the CIFAR-10 batch parser and unpacker (niti_cifar_parse, niti_cifar_unpack: the
 * CIFAR-10 loader's code). */
#include "io/data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t recs = 0;
    if (niti_cifar_parse(data, size, "fuzz-cifar", &recs) != NITI_OK) return 0;
    FUZZ_CHECK(recs > 0 && recs * 3073 == size);
    uint8_t *pix = malloc(recs * 3072), *lab = malloc(recs);
    FUZZ_CHECK(pix && lab);
    niti_cifar_unpack(data, recs, pix, lab);
    for (size_t r = 0; r < recs; r++) {
        FUZZ_CHECK(lab[r] < 10);
        /* channel order: R of pixel k is byte 1 + k of the record */
        FUZZ_CHECK(pix[r * 3072 + 3 * 5 + 2] == data[r * 3073 + 1 + 2048 + 5]);
    }
    free(pix);
    free(lab);
    return 0;
}
