/* Makes broken copies of golden cases for the conformance runner's own tests.
 *   st_corrupt elem IN OUT TENSOR INDEX   flip the lowest bit of one element of TENSOR
 *   st_corrupt meta IN OUT KEY VALUE      set a metadata entry
 *   st_corrupt drop IN OUT TENSOR         remove a tensor
 *   st_corrupt truncate IN OUT BYTES      copy only the first BYTES bytes (a malformed file) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static int die(const char *what)
{
    fprintf(stderr, "st_corrupt: %s: %s\n", what, niti_last_error());
    return 1;
}

static int truncate_copy(const char *in, const char *out, long n)
{
    FILE *f = fopen(in, "rb"), *g = NULL;
    if (!f) return perror(in), 1;
    unsigned char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    int rc = 1;
    if (buf && got == (size_t)n && (g = fopen(out, "wb")) && fwrite(buf, 1, got, g) == got)
        rc = 0;
    if (g && fclose(g)) rc = 1;
    free(buf);
    if (rc) fprintf(stderr, "st_corrupt: truncate failed\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: st_corrupt elem|meta|drop|truncate IN OUT ARGS...\n");
        return 2;
    }
    const char *op = argv[1], *in = argv[2], *out = argv[3];
    if (!strcmp(op, "truncate")) return truncate_copy(in, out, atol(argv[4]));
    niti_st *st = NULL;
    if (niti_st_read(in, &st) != NITI_OK) return die(in);
    int rc = 0;
    if (!strcmp(op, "elem") && argc == 6) {
        niti_st_tensor *t = (niti_st_tensor *)niti_st_find(st, argv[4]);
        size_t i = (size_t)atol(argv[5]);
        if (!t || i >= t->count) {
            fprintf(stderr, "st_corrupt: no element %zu in tensor %s\n", i, argv[4]);
            rc = 1;
        } else {
            unsigned char *p = (unsigned char *)t->data + i * niti_dtype_size(t->dtype);
            /* lowest-order byte of the element in host order */
            const uint16_t one = 1;
            int le = *(const unsigned char *)&one == 1;
            p[le ? 0 : niti_dtype_size(t->dtype) - 1] ^= 1;
        }
    } else if (!strcmp(op, "meta") && argc == 6) {
        if (niti_st_set_meta(st, argv[4], argv[5]) != NITI_OK) rc = die("set_meta");
    } else if (!strcmp(op, "drop") && argc == 5) {
        niti_st *o = niti_st_new();
        for (int i = 0; o && !rc && i < st->n_tensors; i++) {
            const niti_st_tensor *t = &st->tensors[i];
            if (strcmp(t->name, argv[4]) &&
                niti_st_add(o, t->name, t->dtype, t->ndim, t->shape, t->data) != NITI_OK)
                rc = die("add");
        }
        for (int i = 0; o && !rc && i < st->n_meta; i++)
            if (niti_st_set_meta(o, st->meta[i].key, st->meta[i].value) != NITI_OK)
                rc = die("set_meta");
        niti_st_free(st);
        st = o;
        if (!st) rc = 1;
    } else {
        fprintf(stderr, "st_corrupt: bad arguments for '%s'\n", op);
        rc = 2;
    }
    if (!rc && niti_st_write(st, out) != NITI_OK) rc = die(out);
    niti_st_free(st);
    return rc;
}
