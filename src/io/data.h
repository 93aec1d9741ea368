/* Datasets: MNIST and Fashion-MNIST (IDX, .gz or raw) and CIFAR-10 (binary batches, .gz or
 * raw), input quantisation (contract section 10), deterministic shuffling and augmentation. */
#ifndef NITI_DATA_H
#define NITI_DATA_H

#include <stddef.h>
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

/* Finds the folder: dir if given, else $NITI_DATA; an explicit folder is the only one searched
 * (it holds the dataset or the load fails). With neither, ./data, and for Fashion-MNIST then
 * /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist). Within a folder the files
 * may sit directly or in a subfolder named mnist / fashion-mnist / cifar10 (or
 * cifar-10-batches-bin). out->source receives the absolute path of the folder used. */
niti_status niti_dataset_load(niti_dataset_id id, const char *dir, int train, niti_dataset *out);
/* The folder niti_dataset_load would read (absolute), found without reading the files: for
 * checks before any work starts. */
niti_status niti_dataset_locate(niti_dataset_id id, const char *dir, int train, char *folder,
                                size_t size);
/* The name of class c (0..9) of a dataset: "0".."9" for MNIST, the article names of
 * Fashion-MNIST, the CIFAR-10 class names. NULL if out of range. */
const char *niti_dataset_class_name(niti_dataset_id id, int c);
/* Image shape of a dataset (known without loading it). */
void niti_dataset_shape(niti_dataset_id id, int *h, int *w, int *c);
void niti_dataset_free(niti_dataset *d);

/* In-memory parsers of one file's complete (decompressed) content; niti_dataset_load uses them,
 * and the fuzz targets (tests/fuzz/) call them on arbitrary bytes. `name` (the path) starts every
 * error message (NITI_ERR_FORMAT). IDX images: magic 0x803, 28x28, exactly 16 + count*784 bytes;
 * the pixels start at buf + 16. IDX labels: magic 0x801, exactly 8 + count bytes, labels 0..9;
 * the labels start at buf + 8. CIFAR-10: a whole, non-zero number of 3073-byte records (label
 * 0..9, then 1024 R, 1024 G, 1024 B bytes); niti_cifar_unpack writes records*3072 NHWC pixels
 * and `records` labels. */
niti_status niti_idx_parse_images(const uint8_t *buf, size_t len, const char *name, int *count);
niti_status niti_idx_parse_labels(const uint8_t *buf, size_t len, const char *name, int *count);
niti_status niti_cifar_parse(const uint8_t *buf, size_t len, const char *name, size_t *records);
void niti_cifar_unpack(const uint8_t *buf, size_t records, uint8_t *pixels, uint8_t *labels);

/* Per-channel input tables (section 10) for a dataset: table[c][p]. */
void niti_dataset_input_tables(niti_dataset_id id, int8_t tables[3][256]);

/* Epoch order: a permutation of 0..n-1 from Philox stream 3 (documented in data.c). */
void niti_shuffle(uint64_t seed, uint32_t epoch, int n, int32_t *perm);

/* Training augmentation (`niti train --augment MODE`): a random crop of the image padded by
 * `pad` pixels on every side (0: no crop) and, with `flip`, a random left-right mirror, drawn
 * from Philox stream 4 (the mapping is documented at the top of data.c). {0, 0} is none. */
typedef struct niti_augment {
    int pad;  /* 0 (no crop) or 1..NITI_AUGMENT_MAX_PAD */
    int flip; /* 0 or 1 */
} niti_augment;
#define NITI_AUGMENT_MAX_PAD 8
#define NITI_AUGMENT_NONE ((niti_augment){0, 0})
/* Longest canonical mode text ("crop8-flip") plus its NUL fits in this many bytes. */
#define NITI_AUGMENT_TEXT 16

/* A mode's text: exactly "none", "cropP", "cropP-flip" or "flip", P = 1..8 without leading
 * zeros (NITI_ERR_INVALID with the reason for anything else). Says nothing of datasets: see
 * niti_augment_check. */
niti_status niti_augment_parse(const char *text, niti_augment *out);
/* The canonical text of a mode (buf of at least NITI_AUGMENT_TEXT bytes). */
void niti_augment_format(niti_augment a, char *buf, size_t size);
/* The mode a dataset trains with when none is given: CIFAR-10 crop4-flip, the others none. */
niti_augment niti_augment_default(niti_dataset_id id);
/* Whether a mode suits a dataset: a flip is refused for MNIST (a mirrored digit is another
 * digit, or none), NITI_ERR_INVALID with that reason. */
niti_status niti_augment_check(niti_augment a, niti_dataset_id id);
/* The mode of a run: text "" = the dataset's default, else niti_augment_parse(text) checked
 * against the dataset. */
niti_status niti_augment_resolve(const char *text, niti_dataset_id id, niti_augment *out);

/* Holds out the last n_tail images of d (0 <= n_tail < d->n) as a dataset of their own (tail:
 * a copy, same id, shape, classes and source; freed with niti_dataset_free) and shortens d to
 * its first d->n - n_tail images, so nothing built from d (orders, batches) reaches them.
 * n_tail = 0 leaves d as it is and gives an empty tail. NITI_ERR_INVALID when n_tail is out of
 * range (d unchanged). */
niti_status niti_dataset_split_tail(niti_dataset *d, int n_tail, niti_dataset *tail);

/* Builds an int8 batch: images idx[0..count-1] quantised with the tables; with aug (training)
 * a random crop (padding aug.pad, value table[c][0]) and, with aug.flip, a horizontal flip from
 * Philox stream 4 keyed by seed and the global step t. inputs: count*h*w*c int8; labels: count
 * int32 (may be NULL). */
void niti_make_batch(const niti_dataset *d, const int32_t *idx, int count,
                     const int8_t tables[3][256], niti_augment aug, uint64_t seed, uint32_t t,
                     int8_t *inputs, int32_t *labels);
/* The same for the images at positions pos0 .. pos0 + count - 1 of a batch (idx[0] is the image
 * at position pos0): one process's slice of a batch in data-parallel training, augmented exactly
 * as those positions of the whole batch are. */
void niti_make_batch_at(const niti_dataset *d, const int32_t *idx, int count, int pos0,
                        const int8_t tables[3][256], niti_augment aug, uint64_t seed, uint32_t t,
                        int8_t *inputs, int32_t *labels);

#endif
