/* safetensors read/write (https://github.com/huggingface/safetensors format), strictly
 * validated: header length, JSON, dtypes, shapes, offsets in bounds, contiguous and covering
 * the data section exactly. Supported dtypes: I8, U8, I16, I32, I64, F32. */
#ifndef NITI_SAFETENSORS_H
#define NITI_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "niti.h"

#define NITI_ST_MAX_DIMS 8

typedef struct niti_st_tensor {
    char *name;
    niti_dtype dtype;
    int ndim;
    int64_t shape[NITI_ST_MAX_DIMS];
    size_t count;  /* number of elements */
    size_t nbytes; /* count * dtype size */
    void *data;    /* little-endian host data (owned by the niti_st) */
} niti_st_tensor;

typedef struct niti_st_meta {
    char *key;
    char *value;
} niti_st_meta;

typedef struct niti_st {
    int n_tensors;
    niti_st_tensor *tensors; /* in file order */
    int n_meta;
    niti_st_meta *meta;
} niti_st;

/* Reading. Errors name the file and the problem (NITI_ERR_IO / NITI_ERR_FORMAT). */
niti_status niti_st_read(const char *path, niti_st **out);
niti_status niti_st_parse(const void *bytes, size_t len, niti_st **out);
const niti_st_tensor *niti_st_find(const niti_st *st, const char *name);
const char *niti_st_meta_get(const niti_st *st, const char *key);
/* Metadata as an integer: NITI_ERR_FORMAT if missing or not a decimal integer. */
niti_status niti_st_meta_int(const niti_st *st, const char *key, int64_t *out);
void niti_st_free(niti_st *st);

/* Writing: build in memory, then write atomically (temp file in the same folder + rename). */
niti_st *niti_st_new(void);
/* Copies data. Replaces a tensor of the same name. */
niti_status niti_st_add(niti_st *st, const char *name, niti_dtype dtype, int ndim,
                        const int64_t *shape, const void *data);
niti_status niti_st_set_meta(niti_st *st, const char *key, const char *value);
niti_status niti_st_write(const niti_st *st, const char *path);

#endif
