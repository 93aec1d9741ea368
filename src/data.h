/* Datasets: MNIST and Fashion-MNIST (IDX, .gz or raw) and CIFAR-10 (binary batches, .gz or
 * raw), input quantisation (contract section 10), deterministic shuffling and augmentation. */
#ifndef NITI_DATA_H
#define NITI_DATA_H

#include <stdint.h>

#include "niti.h"

typedef enum niti_dataset_id {
    NITI_DATA_MNIST = 0,
    NITI_DATA_FASHION_MNIST = 1,
    NITI_DATA_CIFAR10 = 2
} niti_dataset_id;

typedef struct niti_dataset {
    niti_dataset_id id;
    int n, h, w, c;   /* images are n x h x w x c (NHWC) */
    int classes;
    uint8_t *pixels;  /* n*h*w*c, NHWC */
    uint8_t *labels;  /* n */
    char source[512]; /* folder the files came from */
} niti_dataset;

/* "mnist", "fashion-mnist", "cifar10" (NITI_ERR_INVALID for another name). */
niti_status niti_dataset_parse_name(const char *name, niti_dataset_id *out);
const char *niti_dataset_name(niti_dataset_id id);

/* Finds the folder: dir if given, else $NITI_DATA, else ./data; for Fashion-MNIST also
 * /usr/share/datasets/fashion-mnist. Within a folder the files may sit directly or in a
 * subfolder named mnist / fashion-mnist / cifar10 (or cifar-10-batches-bin). */
niti_status niti_dataset_load(niti_dataset_id id, const char *dir, int train, niti_dataset *out);
void niti_dataset_free(niti_dataset *d);

/* Per-channel input tables (section 10) for a dataset: table[c][p]. */
void niti_dataset_input_tables(niti_dataset_id id, int8_t tables[3][256]);

/* Epoch order: a permutation of 0..n-1 from Philox stream 3 (documented in data.c). */
void niti_shuffle(uint64_t seed, uint32_t epoch, int n, int32_t *perm);

/* Builds an int8 batch: images idx[0..count-1] quantised with the tables; with augment (CIFAR-10
 * training) random crop (pad 4, black) and horizontal flip from Philox stream 4 keyed by seed and
 * the global step t. inputs: count*h*w*c int8; labels: count int32. */
void niti_make_batch(const niti_dataset *d, const int32_t *idx, int count,
                     const int8_t tables[3][256], int augment, uint64_t seed, uint32_t t,
                     int8_t *inputs, int32_t *labels);

#endif
