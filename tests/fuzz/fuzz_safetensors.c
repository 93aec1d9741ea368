/* Fuzz target: the safetensors parser (niti_st_parse: header length, UTF-8, JSON, dtypes, shapes,
 * offsets, tiling of the data section) and the accessors used on what it returns. */
#include "fuzz.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    niti_st *st = NULL;
    if (niti_st_parse(data, size, &st) != NITI_OK) {
        FUZZ_CHECK(st == NULL);
        return 0;
    }
    FUZZ_CHECK(st != NULL);
    size_t total = 0;
    for (int i = 0; i < st->n_tensors; i++) {
        const niti_st_tensor *t = &st->tensors[i];
        FUZZ_CHECK(t->name && t->name[0]);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= NITI_ST_MAX_DIMS);
        FUZZ_CHECK(t->nbytes == t->count * niti_dtype_size(t->dtype));
        FUZZ_CHECK(niti_st_find(st, t->name) == t);
        total += t->nbytes;
        if (t->nbytes) FUZZ_CHECK(t->data != NULL);
        /* read every byte (ASan checks the bounds) */
        unsigned x = 0;
        for (size_t b = 0; b < t->nbytes; b++) x += ((const unsigned char *)t->data)[b];
        (void)x;
    }
    FUZZ_CHECK(total <= size);
    for (int i = 0; i < st->n_meta; i++) {
        FUZZ_CHECK(niti_st_meta_get(st, st->meta[i].key) == st->meta[i].value);
        int64_t v;
        (void)niti_st_meta_int(st, st->meta[i].key, &v);
    }
    niti_st_free(st);
    return 0;
}
