/* Bindings API (niti.h, issue #18): datasets, the epoch order and batch assembly on plain
 * arrays, over the loaders, niti_shuffle and niti_make_batch of data.c (the functions `niti
 * train` uses), so that a binding gets the same orders and the same int8 batches. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/data.h"

struct niti_data {
    niti_dataset d;
};

niti_status niti_data_load(const char *name, const char *dir, int train, niti_data **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "niti_data_load: out is NULL");
    *out = NULL;
    niti_dataset_id id;
    NITI_TRY(niti_dataset_parse_name(name, &id));
    niti_data *d = calloc(1, sizeof *d);
    if (!d) return niti_fail(NITI_ERR_NOMEM, "dataset");
    niti_status s = niti_dataset_load(id, dir && *dir ? dir : NULL, train ? 1 : 0, &d->d);
    if (s != NITI_OK) {
        free(d);
        return s;
    }
    *out = d;
    return NITI_OK;
}

void niti_data_free(niti_data *d)
{
    if (!d) return;
    niti_dataset_free(&d->d);
    free(d);
}

void niti_data_shape(const niti_data *d, int *n, int *h, int *w, int *c, int *classes)
{
    if (n) *n = d->d.n;
    if (h) *h = d->d.h;
    if (w) *w = d->d.w;
    if (c) *c = d->d.c;
    if (classes) *classes = d->d.classes;
}

const uint8_t *niti_data_pixels(const niti_data *d) { return d->d.pixels; }
const uint8_t *niti_data_labels(const niti_data *d) { return d->d.labels; }
const char *niti_data_folder(const niti_data *d) { return d->d.source; }

niti_status niti_data_describe(const char *name, char canonical[32], int8_t tables[3][256],
                               int *augment)
{
    niti_dataset_id id;
    NITI_TRY(niti_dataset_parse_name(name, &id));
    if (canonical) {
        strncpy(canonical, niti_dataset_name(id), 31);
        canonical[31] = 0;
    }
    if (tables) niti_dataset_input_tables(id, tables);
    if (augment) *augment = id == NITI_DATA_CIFAR10;
    return NITI_OK;
}

niti_status niti_epoch_order(uint64_t seed, uint32_t epoch, int n, int32_t *perm)
{
    if (n < 0) return niti_fail(NITI_ERR_INVALID, "niti_epoch_order: n = %d", n);
    if (n > 0 && !perm) return niti_fail(NITI_ERR_INVALID, "niti_epoch_order: perm is NULL");
    niti_shuffle(seed, epoch, n, perm);
    return NITI_OK;
}

static niti_status batch_make(const uint8_t *pixels, const uint8_t *labels, int n, int h, int w,
                              int c, const int8_t tables[3][256], const int32_t *idx, int count,
                              niti_augment aug, uint64_t seed, uint32_t t, int8_t *inputs,
                              int32_t *labels_out)
{
    if (n < 0 || h < 1 || w < 1 || c < 1 || c > 3 || count < 0)
        return niti_fail(NITI_ERR_INVALID,
                         "niti_batch_make: images %d x %dx%dx%d, batch of %d (need 1..3 channels)",
                         n, h, w, c, count);
    if (count == 0) return NITI_OK;
    if (!pixels || !tables || !idx || !inputs || (labels && !labels_out))
        return niti_fail(NITI_ERR_INVALID, "niti_batch_make: a required pointer is NULL");
    for (int b = 0; b < count; b++)
        if (idx[b] < 0 || idx[b] >= n)
            return niti_fail(NITI_ERR_INVALID,
                             "niti_batch_make: index %d (position %d of the batch) is outside "
                             "0..%d", idx[b], b, n - 1);
    niti_dataset d;
    memset(&d, 0, sizeof d);
    d.n = n, d.h = h, d.w = w, d.c = c;
    d.pixels = (uint8_t *)pixels; /* niti_make_batch only reads them */
    d.labels = (uint8_t *)labels;
    niti_make_batch(&d, idx, count, tables, aug, seed, t, inputs, labels ? labels_out : NULL);
    return NITI_OK;
}

niti_status niti_batch_make(const uint8_t *pixels, const uint8_t *labels, int n, int h, int w,
                            int c, const int8_t tables[3][256], const int32_t *idx, int count,
                            int augment, uint64_t seed, uint32_t t, int8_t *inputs,
                            int32_t *labels_out)
{
    /* augment: the default of `niti train` for CIFAR-10 (crop4-flip), as before --augment */
    niti_augment aug = augment ? niti_augment_default(NITI_DATA_CIFAR10) : NITI_AUGMENT_NONE;
    return batch_make(pixels, labels, n, h, w, c, tables, idx, count, aug, seed, t, inputs,
                      labels_out);
}

niti_status niti_batch_make_mode(const uint8_t *pixels, const uint8_t *labels, int n, int h,
                                 int w, int c, const int8_t tables[3][256], const int32_t *idx,
                                 int count, const char *augment, uint64_t seed, uint32_t t,
                                 int8_t *inputs, int32_t *labels_out)
{
    niti_augment aug = NITI_AUGMENT_NONE;
    if (augment && *augment && niti_augment_parse(augment, &aug) != NITI_OK)
        return niti_fail(NITI_ERR_INVALID, "niti_batch_make_mode: %s", niti_last_error());
    return batch_make(pixels, labels, n, h, w, c, tables, idx, count, aug, seed, t, inputs,
                      labels_out);
}

niti_status niti_augment_describe(const char *name, const char *mode, char canonical[16])
{
    niti_dataset_id id;
    niti_augment a;
    NITI_TRY(niti_dataset_parse_name(name, &id));
    NITI_TRY(niti_augment_resolve(mode, id, &a));
    if (canonical) niti_augment_format(a, canonical, NITI_AUGMENT_TEXT);
    return NITI_OK;
}
