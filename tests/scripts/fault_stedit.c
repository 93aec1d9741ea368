/* Makes damaged copies of a checkpoint for the fault tests (tests/faults.cmake):
 *   fault_stedit shape IN OUT TENSOR D0,D1,...  give TENSOR another shape of the same element
 *                                               count (data, checksum and offsets unchanged, so
 *                                               only the check against the model can catch it)
 *   fault_stedit meta IN OUT KEY VALUE          set a metadata entry (the checksum, which covers
 *                                               the metadata, no longer matches)
 *   fault_stedit meta-resum IN OUT KEY VALUE    the same, then recompute the checksum, so that
 *                                               only the deeper checks can catch it
 *   fault_stedit flip IN OUT FROM_END           flip the lowest bit of byte (size - FROM_END) of
 *                                               the raw file (FROM_END 1: the last data byte)
 *   fault_stedit header IN OUT                  overwrite the 8-byte header length with 2^40 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/safetensors.h"

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

static int spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n) return 1;
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: fault_stedit shape|meta|flip|header IN OUT ...\n");
        return 2;
    }
    const char *op = argv[1], *in = argv[2], *out = argv[3];
    if (!strcmp(op, "flip") || !strcmp(op, "header")) {
        size_t n;
        unsigned char *b = slurp(in, &n);
        if (!b || n < 9) return fprintf(stderr, "fault_stedit: cannot read %s\n", in), 1;
        if (!strcmp(op, "flip")) {
            size_t k = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 1;
            if (k < 1 || k > n) return fprintf(stderr, "fault_stedit: bad offset\n"), 2;
            b[n - k] ^= 1;
        } else {
            memset(b, 0, 8);
            b[5] = 1; /* 2^40 */
        }
        int rc = spit(out, b, n);
        free(b);
        return rc;
    }
    niti_st *st;
    if (niti_st_read(in, &st) != NITI_OK)
        return fprintf(stderr, "fault_stedit: %s\n", niti_last_error()), 1;
    if (!strcmp(op, "shape") && argc == 6) {
        niti_st_tensor *t = (niti_st_tensor *)niti_st_find(st, argv[4]);
        if (!t) return fprintf(stderr, "fault_stedit: no tensor %s\n", argv[4]), 1;
        int64_t shape[NITI_ST_MAX_DIMS];
        int nd = 0;
        size_t count = 1;
        for (char *p = argv[5]; *p && nd < NITI_ST_MAX_DIMS; p += *p == ',') {
            shape[nd] = strtoll(p, &p, 10);
            count *= (size_t)shape[nd++];
        }
        if (count != t->count)
            return fprintf(stderr, "fault_stedit: %zu elements, the tensor has %zu\n", count,
                           t->count), 2;
        t->ndim = nd;
        memset(t->shape, 0, sizeof t->shape);
        memcpy(t->shape, shape, sizeof *shape * (size_t)nd);
    } else if ((!strcmp(op, "meta") || !strcmp(op, "meta-resum")) && argc == 6) {
        if (niti_st_set_meta(st, argv[4], argv[5]) != NITI_OK)
            return fprintf(stderr, "fault_stedit: %s\n", niti_last_error()), 1;
        char sum[17];
        if (!strcmp(op, "meta-resum") && (niti_checkpoint_checksum(st, sum) != NITI_OK ||
                                           niti_st_set_meta(st, "checksum", sum) != NITI_OK))
            return fprintf(stderr, "fault_stedit: %s\n", niti_last_error()), 1;
    } else {
        fprintf(stderr, "fault_stedit: bad arguments\n");
        return 2;
    }
    niti_status s = niti_st_write(st, out);
    niti_st_free(st);
    if (s != NITI_OK) return fprintf(stderr, "fault_stedit: %s\n", niti_last_error()), 1;
    return 0;
}
