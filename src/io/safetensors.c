/* safetensors reading and writing, strictly validated (see safetensors.h).
 *
 * File layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object of tensor
 * entries plus an optional "__metadata__" object of strings), then the data section, which the
 * tensors must tile exactly (sorted by begin offset: no gaps, no overlaps, nothing left over).
 * Tensor data is stored little-endian in the file and held in host byte order in memory. */
#include "io/safetensors.h"
#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/error.h"

/* The header may not be larger than this (the format's reference implementation uses 100 MB). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
/* Integers in the JSON header are doubles in cJSON: only values up to 2^53 are exact. */
#define ST_MAX_JSON_INT 9007199254740992.0

/* ------------------------------------------------------------------------------------------ */
/* byte order */

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Reverses the bytes of each element (little-endian file <-> big-endian host). */
static void swap_elements(void *data, size_t count, size_t size)
{
    unsigned char *p = data;
    if (size <= 1) return;
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ------------------------------------------------------------------------------------------ */
/* small helpers */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF, no NUL bytes). Returns the
 * offset of the first bad byte, or len if all is well. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == 0) return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c == 0xE0) n = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) n = 2;
        else if (c == 0xED) n = 2, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) n = 2;
        else if (c == 0xF0) n = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) n = 3;
        else if (c == 0xF4) n = 3, hi = 0x8F;
        else return i;
        if (len - i - 1 < n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += n + 1;
    }
    return len;
}

static int utf8_ok(const char *s) { return utf8_check((const unsigned char *)s, strlen(s)) == strlen(s); }

static int parse_dtype(const char *s, niti_dtype *out)
{
    static const struct {
        const char *name;
        niti_dtype t;
    } tab[] = {{"I8", NITI_I8},   {"U8", NITI_U8},   {"I16", NITI_I16},
               {"I32", NITI_I32}, {"I64", NITI_I64}, {"F32", NITI_F32}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (!strcmp(s, tab[i].name)) {
            *out = tab[i].t;
            return 1;
        }
    return 0;
}

static int dtype_valid(niti_dtype t) { return (int)t >= (int)NITI_I8 && (int)t <= (int)NITI_F32; }

/* A JSON number that is an exact non-negative integer (<= 2^53). */
static int json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT)) return 0; /* also rejects NaN */
    uint64_t v = (uint64_t)d;
    if ((double)v != d) return 0;
    *out = v;
    return 1;
}

/* count = product of shape, nbytes = count * size, both without overflow. */
static int shape_size(int ndim, const int64_t *shape, size_t esize, size_t *count, size_t *nbytes)
{
    size_t c = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return 0;
        uint64_t s = (uint64_t)shape[d];
        if (s > SIZE_MAX) return 0;
        if (s != 0 && c > SIZE_MAX / (size_t)s) return 0;
        c *= (size_t)s;
    }
    if (esize != 0 && c > SIZE_MAX / esize) return 0;
    *count = c;
    *nbytes = c * esize;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* the container */

niti_st *niti_st_new(void) { return calloc(1, sizeof(niti_st)); }

void niti_st_free(niti_st *st)
{
    if (!st) return;
    for (int i = 0; i < st->n_tensors; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    free(st);
}

const niti_st_tensor *niti_st_find(const niti_st *st, const char *name)
{
    if (!st || !name) return NULL;
    for (int i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *niti_st_meta_get(const niti_st *st, const char *key)
{
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}

niti_status niti_st_meta_int(const niti_st *st, const char *key, int64_t *out)
{
    const char *v = niti_st_meta_get(st, key);
    if (!v) return niti_fail(NITI_ERR_FORMAT, "metadata '%s' is missing", key ? key : "(null)");
    const char *p = v;
    int neg = 0;
    if (*p == '-') neg = 1, p++;
    if (!*p) return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = '%s' is not a decimal integer", key, v);
    uint64_t mag = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = '%s' is not a decimal integer",
                             key, v);
        unsigned dgt = (unsigned)(*p - '0');
        if (mag > (limit - dgt) / 10)
            return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = '%s' does not fit in 64 bits", key,
                             v);
        mag = mag * 10 + dgt;
    }
    if (neg) *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else *out = (int64_t)mag;
    return NITI_OK;
}

niti_status niti_st_add(niti_st *st, const char *name, niti_dtype dtype, int ndim,
                        const int64_t *shape, const void *data)
{
    if (!st || !name) return niti_fail(NITI_ERR_INVALID, "safetensors: add: no container or name");
    if (!*name || !strcmp(name, "__metadata__") || !utf8_ok(name))
        return niti_fail(NITI_ERR_INVALID, "safetensors: invalid tensor name '%s'", name);
    if (!dtype_valid(dtype))
        return niti_fail(NITI_ERR_INVALID, "safetensors: tensor '%s': invalid dtype %d", name,
                         (int)dtype);
    if (ndim < 0 || ndim > NITI_ST_MAX_DIMS || (ndim > 0 && !shape))
        return niti_fail(NITI_ERR_INVALID, "safetensors: tensor '%s': %d dimensions (at most %d)",
                         name, ndim, NITI_ST_MAX_DIMS);
    size_t count, nbytes;
    if (!shape_size(ndim, shape, niti_dtype_size(dtype), &count, &nbytes))
        return niti_fail(NITI_ERR_INVALID,
                         "safetensors: tensor '%s': negative shape or size overflow", name);
    if (nbytes && !data)
        return niti_fail(NITI_ERR_INVALID, "safetensors: tensor '%s': no data", name);

    void *copy = malloc(nbytes ? nbytes : 1);
    if (!copy) return niti_fail(NITI_ERR_NOMEM, "safetensors: tensor '%s': %zu bytes", name, nbytes);
    if (nbytes) memcpy(copy, data, nbytes);

    niti_st_tensor *t = (niti_st_tensor *)niti_st_find(st, name);
    if (t) {
        free(t->data);
    } else {
        if (st->n_tensors == INT_MAX) {
            free(copy);
            return niti_fail(NITI_ERR_INVALID, "safetensors: too many tensors");
        }
        char *nm = dup_str(name);
        niti_st_tensor *nt = realloc(st->tensors, sizeof *nt * ((size_t)st->n_tensors + 1));
        if (!nm || !nt) {
            free(nm);
            free(copy);
            if (nt) st->tensors = nt;
            return niti_fail(NITI_ERR_NOMEM, "safetensors: tensor '%s'", name);
        }
        st->tensors = nt;
        t = &st->tensors[st->n_tensors++];
        memset(t, 0, sizeof *t);
        t->name = nm;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    memset(t->shape, 0, sizeof t->shape);
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->count = count;
    t->nbytes = nbytes;
    t->data = copy;
    return NITI_OK;
}

niti_status niti_st_set_meta(niti_st *st, const char *key, const char *value)
{
    if (!st || !key || !value)
        return niti_fail(NITI_ERR_INVALID, "safetensors: set_meta: missing argument");
    if (!utf8_ok(key) || !utf8_ok(value))
        return niti_fail(NITI_ERR_INVALID, "safetensors: metadata '%s' is not valid UTF-8", key);
    char *v = dup_str(value);
    if (!v) return niti_fail(NITI_ERR_NOMEM, "safetensors: metadata '%s'", key);
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) {
            free(st->meta[i].value);
            st->meta[i].value = v;
            return NITI_OK;
        }
    char *k = dup_str(key);
    niti_st_meta *nm = st->n_meta < INT_MAX ? realloc(st->meta, sizeof *nm * ((size_t)st->n_meta + 1)) : NULL;
    if (!k || !nm) {
        free(k);
        free(v);
        if (nm) st->meta = nm;
        return niti_fail(NITI_ERR_NOMEM, "safetensors: metadata '%s'", key);
    }
    st->meta = nm;
    st->meta[st->n_meta].key = k;
    st->meta[st->n_meta].value = v;
    st->n_meta++;
    return NITI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* parsing */

typedef struct {
    const cJSON *j; /* the entry (its ->string is the name) */
    size_t idx;     /* index in file order */
    uint64_t begin, end;
} st_entry;

static int cmp_entry_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts names and reports the first duplicate (NULL if none). names is reordered. */
static const char *find_duplicate(const char **names, size_t n)
{
    if (n < 2) return NULL;
    qsort(names, n, sizeof *names, cmp_name_ptr);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(names[i - 1], names[i])) return names[i];
    return NULL;
}

static niti_status parse_metadata(const cJSON *m, niti_st *st)
{
    if (!cJSON_IsObject(m))
        return niti_fail(NITI_ERR_FORMAT, "__metadata__ is not a JSON object");
    size_t n = 0;
    for (const cJSON *c = m->child; c; c = c->next) n++;
    const char **names = malloc(sizeof *names * (n ? n : 1));
    if (!names) return niti_fail(NITI_ERR_NOMEM, "metadata of %zu entries", n);
    size_t i = 0;
    for (const cJSON *c = m->child; c; c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring) {
            free(names);
            return niti_fail(NITI_ERR_FORMAT, "__metadata__ entry '%s' is not a string",
                             c->string ? c->string : "");
        }
        names[i++] = c->string ? c->string : "";
    }
    const char *dup = find_duplicate(names, n);
    if (dup) {
        niti_status s = niti_fail(NITI_ERR_FORMAT, "__metadata__ has the key '%s' twice", dup);
        free(names);
        return s;
    }
    free(names);
    for (const cJSON *c = m->child; c; c = c->next)
        NITI_TRY(niti_st_set_meta(st, c->string ? c->string : "", c->valuestring));
    return NITI_OK;
}

/* Validates one tensor entry; fills dtype/shape/count/nbytes and the offsets. */
static niti_status parse_entry(const cJSON *e, niti_st_tensor *t, uint64_t data_len,
                               uint64_t *begin, uint64_t *end)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': entry is not a JSON object", name);
    const cJSON *jd = NULL, *js = NULL, *jo = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const char *k = c->string ? c->string : "";
        const cJSON **slot = !strcmp(k, "dtype") ? &jd : !strcmp(k, "shape") ? &js
                           : !strcmp(k, "data_offsets") ? &jo : NULL;
        if (!slot) return niti_fail(NITI_ERR_FORMAT, "tensor '%s': unexpected key '%s'", name, k);
        if (*slot) return niti_fail(NITI_ERR_FORMAT, "tensor '%s': key '%s' given twice", name, k);
        *slot = c;
    }
    if (!jd) return niti_fail(NITI_ERR_FORMAT, "tensor '%s': no dtype", name);
    if (!js) return niti_fail(NITI_ERR_FORMAT, "tensor '%s': no shape", name);
    if (!jo) return niti_fail(NITI_ERR_FORMAT, "tensor '%s': no data_offsets", name);

    if (!cJSON_IsString(jd) || !jd->valuestring)
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': dtype is not a string", name);
    if (!parse_dtype(jd->valuestring, &t->dtype))
        return niti_fail(NITI_ERR_FORMAT,
                         "tensor '%s': unsupported dtype '%s' (supported: I8 U8 I16 I32 I64 F32)",
                         name, jd->valuestring);

    if (!cJSON_IsArray(js))
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': shape is not an array", name);
    int nd = 0;
    for (const cJSON *c = js->child; c; c = c->next) {
        uint64_t v;
        if (nd == NITI_ST_MAX_DIMS)
            return niti_fail(NITI_ERR_FORMAT, "tensor '%s': more than %d dimensions", name,
                             NITI_ST_MAX_DIMS);
        if (!json_uint(c, &v))
            return niti_fail(NITI_ERR_FORMAT,
                             "tensor '%s': shape entry %d is not a non-negative integer", name, nd);
        t->shape[nd++] = (int64_t)v;
    }
    t->ndim = nd;
    if (!shape_size(nd, t->shape, niti_dtype_size(t->dtype), &t->count, &t->nbytes))
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': element count overflows", name);

    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': data_offsets is not [begin, end]", name);
    if (!json_uint(jo->child, begin) || !json_uint(jo->child->next, end))
        return niti_fail(NITI_ERR_FORMAT,
                         "tensor '%s': data_offsets are not non-negative integers", name);
    if (*begin > *end)
        return niti_fail(NITI_ERR_FORMAT, "tensor '%s': data_offsets [%llu, %llu] end before begin",
                         name, (unsigned long long)*begin, (unsigned long long)*end);
    if (*end > data_len)
        return niti_fail(NITI_ERR_FORMAT,
                         "tensor '%s': data_offsets [%llu, %llu] beyond the %llu-byte data section",
                         name, (unsigned long long)*begin, (unsigned long long)*end,
                         (unsigned long long)data_len);
    if (*end - *begin != (uint64_t)t->nbytes)
        return niti_fail(NITI_ERR_FORMAT,
                         "tensor '%s': data_offsets span %llu bytes but %s of %zu elements needs %zu",
                         name, (unsigned long long)(*end - *begin), niti_dtype_name(t->dtype),
                         t->count, t->nbytes);
    return NITI_OK;
}

static niti_status parse_json(const cJSON *root, const unsigned char *data, uint64_t data_len,
                              niti_st *st)
{
    if (!cJSON_IsObject(root)) return niti_fail(NITI_ERR_FORMAT, "header is not a JSON object");
    size_t n = 0;
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c->string && !strcmp(c->string, "__metadata__")) {
            if (meta) return niti_fail(NITI_ERR_FORMAT, "__metadata__ given twice");
            meta = c;
        } else {
            n++;
        }
    }
    if (n > (size_t)INT_MAX / 2) return niti_fail(NITI_ERR_FORMAT, "too many tensors (%zu)", n);
    if (meta) NITI_TRY(parse_metadata(meta, st));

    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st_entry *ent = calloc(n ? n : 1, sizeof *ent);
    const char **names = calloc(n ? n : 1, sizeof *names);
    niti_status s = NITI_OK;
    if (!st->tensors || !ent || !names) {
        s = niti_fail(NITI_ERR_NOMEM, "header of %zu tensors", n);
        goto done;
    }
    size_t i = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        if (!c->string || !*c->string) {
            s = niti_fail(NITI_ERR_FORMAT, "a tensor has an empty name");
            goto done;
        }
        niti_st_tensor *t = &st->tensors[i];
        s = parse_entry(c, t, data_len, &ent[i].begin, &ent[i].end);
        if (s != NITI_OK) goto done;
        ent[i].j = c;
        ent[i].idx = i;
        names[i] = c->string;
        i++;
    }
    const char *dup = find_duplicate(names, n);
    if (dup) {
        s = niti_fail(NITI_ERR_FORMAT, "tensor '%s' is defined twice", dup);
        goto done;
    }

    /* The tensors, sorted by offset, must tile [0, data_len) exactly. */
    qsort(ent, n, sizeof *ent, cmp_entry_begin);
    uint64_t pos = 0;
    for (size_t k = 0; k < n; k++) {
        if (ent[k].begin > pos) {
            s = niti_fail(NITI_ERR_FORMAT,
                          "data section has a gap: bytes %llu..%llu (before tensor '%s') belong "
                          "to no tensor",
                          (unsigned long long)pos, (unsigned long long)ent[k].begin,
                          ent[k].j->string);
            goto done;
        }
        if (ent[k].begin < pos) {
            s = niti_fail(NITI_ERR_FORMAT,
                          "tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (ending at %llu)",
                          ent[k].j->string, (unsigned long long)ent[k].begin,
                          (unsigned long long)ent[k].end, ent[k - 1].j->string,
                          (unsigned long long)pos);
            goto done;
        }
        pos = ent[k].end;
    }
    if (pos != data_len) {
        s = niti_fail(NITI_ERR_FORMAT,
                      "data section has %llu bytes but the tensors cover only %llu "
                      "(trailing bytes)",
                      (unsigned long long)data_len, (unsigned long long)pos);
        goto done;
    }

    /* Copy the data. */
    for (size_t k = 0; k < n; k++) {
        niti_st_tensor *t = &st->tensors[ent[k].idx];
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!t->data) {
            s = niti_fail(NITI_ERR_NOMEM, "%zu bytes for tensor '%s'", t->nbytes,
                          ent[k].j->string);
            goto done;
        }
        if (t->nbytes) memcpy(t->data, data + ent[k].begin, t->nbytes);
        if (!host_is_le()) swap_elements(t->data, t->count, niti_dtype_size(t->dtype));
    }
    /* Names last, so that a failure above leaves every name NULL or owned. */
    i = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        st->tensors[i].name = dup_str(c->string);
        if (!st->tensors[i].name) {
            s = niti_fail(NITI_ERR_NOMEM, "tensor name");
            goto done;
        }
        i++;
    }
done:
    st->n_tensors = (int)n; /* entries not filled in are zero: free() of NULL is fine */
    free(ent);
    free(names);
    return s;
}

niti_status niti_st_parse(const void *bytes, size_t len, niti_st **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "safetensors: no output pointer");
    *out = NULL;
    if (!bytes && len) return niti_fail(NITI_ERR_INVALID, "safetensors: no input");
    const unsigned char *b = bytes;
    if (len < 8)
        return niti_fail(NITI_ERR_FORMAT,
                         "truncated: %zu bytes, shorter than the 8-byte header length", len);
    uint64_t hlen = load_le64(b);
    if (hlen > ST_MAX_HEADER)
        return niti_fail(NITI_ERR_FORMAT, "header length %llu is larger than the %llu-byte limit",
                         (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    if (hlen > len - 8)
        return niti_fail(NITI_ERR_FORMAT,
                         "header length %llu runs past the end of the %zu-byte file",
                         (unsigned long long)hlen, len);
    if (hlen < 2) return niti_fail(NITI_ERR_FORMAT, "header of %llu bytes cannot be a JSON object",
                                   (unsigned long long)hlen);
    size_t bad = utf8_check(b + 8, (size_t)hlen);
    if (bad != (size_t)hlen)
        return niti_fail(NITI_ERR_FORMAT, "header is not valid UTF-8 (byte %zu of the header)",
                         bad);

    char *text = malloc((size_t)hlen + 1);
    if (!text) return niti_fail(NITI_ERR_NOMEM, "header of %llu bytes", (unsigned long long)hlen);
    memcpy(text, b + 8, (size_t)hlen);
    text[hlen] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        size_t at = ep && ep >= text && ep <= text + hlen ? (size_t)(ep - text) : 0;
        free(text);
        return niti_fail(NITI_ERR_FORMAT, "header is not valid JSON (near byte %zu)", at);
    }
    for (const char *p = end; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            size_t at = (size_t)(p - text);
            cJSON_Delete(root);
            free(text);
            return niti_fail(NITI_ERR_FORMAT,
                             "header has bytes after the JSON object (byte %zu)", at);
        }

    niti_st *st = niti_st_new();
    niti_status s = st ? parse_json(root, b + 8 + hlen, (uint64_t)(len - 8 - hlen), st)
                       : niti_fail(NITI_ERR_NOMEM, "safetensors container");
    cJSON_Delete(root);
    free(text);
    if (s != NITI_OK) {
        niti_st_free(st);
        return s;
    }
    *out = st;
    return NITI_OK;
}

niti_status niti_st_read(const char *path, niti_st **out)
{
    if (!out || !path) return niti_fail(NITI_ERR_INVALID, "safetensors: read: missing argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return niti_fail(NITI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return niti_fail(NITI_ERR_IO, "%s: not a regular file", path);
    }
    size_t cap = sb.st_size > 0 && (uint64_t)sb.st_size < SIZE_MAX ? (size_t)sb.st_size : 0;
    unsigned char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return niti_fail(NITI_ERR_NOMEM, "%s: %zu bytes", path, cap);
    }
    size_t len = fread(buf, 1, cap, f);
    int err = ferror(f);
    int more = !err && len == cap && fgetc(f) != EOF; /* the file grew while reading */
    fclose(f);
    if (err || len != cap || more) {
        free(buf);
        return niti_fail(NITI_ERR_IO, "%s: read error (%zu of %zu bytes)", path, len, cap);
    }
    niti_status s = niti_st_parse(buf, len, out);
    free(buf);
    if (s != NITI_OK) return niti_fail_ctx(s, "%s", path);
    return NITI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* writing */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) {
            if (nc > SIZE_MAX / 2) {
                b->oom = 1;
                return;
            }
            nc *= 2;
        }
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_fmt_u64(sbuf *b, uint64_t v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_str(b, tmp);
}

/* A JSON string literal (input is valid UTF-8; control characters escaped). */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"') sb_put(b, "\\\"", 2);
        else if (*p == '\\') sb_put(b, "\\\\", 2);
        else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            sb_put(b, esc, 6);
        } else sb_put(b, (const char *)p, 1);
    }
    sb_put(b, "\"", 1);
}

/* The writer's state. pause_at/pause_ms implement a TEST-ONLY hook: when the environment variable
 * NITI_TEST_WRITE_PAUSE_MS is set to a positive number of milliseconds, the writer stops once half
 * of the temp file is written, prints "niti: test hook: paused ... writing TEMP" on stderr and
 * sleeps that long before going on, so that a test can SIGKILL the process in the middle of a
 * write (tests/scripts/fault_kill_write.sh). Unset (always, outside tests) it costs nothing. */
typedef struct st_writer {
    niti_atomic_file *f;
    uint64_t written, total, pause_at;
    long pause_ms;
} st_writer;

static void test_pause(st_writer *w)
{
    fprintf(stderr, "niti: test hook: paused %ld ms after %llu of %llu bytes writing %s\n",
            w->pause_ms, (unsigned long long)w->written, (unsigned long long)w->total, w->f->tmp);
    fflush(stderr);
    struct timespec ts = {w->pause_ms / 1000, (w->pause_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    w->pause_ms = 0;
}

static niti_status write_all(st_writer *w, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (w->pause_ms > 0 && w->written < w->pause_at && n > w->pause_at - w->written) {
        size_t first = (size_t)(w->pause_at - w->written);
        NITI_TRY(niti_atomic_write(w->f, p, first));
        w->written += first;
        p += first;
        n -= first;
    }
    if (w->pause_ms > 0 && w->written >= w->pause_at) test_pause(w);
    NITI_TRY(niti_atomic_write(w->f, p, n));
    w->written += n;
    return NITI_OK;
}

static niti_status write_tensor_data(st_writer *w, const niti_st_tensor *t)
{
    size_t es = niti_dtype_size(t->dtype);
    if (host_is_le() || es <= 1 || !t->nbytes) return write_all(w, t->data, t->nbytes);
    /* Big-endian host: swap a copy, in chunks. */
    unsigned char tmp[4096];
    size_t per = sizeof tmp / es, done = 0;
    while (done < t->count) {
        size_t k = t->count - done < per ? t->count - done : per;
        memcpy(tmp, (const unsigned char *)t->data + done * es, k * es);
        swap_elements(tmp, k, es);
        NITI_TRY(write_all(w, tmp, k * es));
        done += k;
    }
    return NITI_OK;
}

niti_status niti_st_write(const niti_st *st, const char *path)
{
    if (!st || !path || !*path) return niti_fail(NITI_ERR_INVALID, "safetensors: write: missing argument");

    /* Header JSON: tensors in order with consecutive offsets, then the metadata. */
    sbuf h = {0};
    uint64_t off = 0;
    sb_str(&h, "{");
    for (int i = 0; i < st->n_tensors; i++) {
        const niti_st_tensor *t = &st->tensors[i];
        if (i) sb_str(&h, ",");
        sb_json_string(&h, t->name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, niti_dtype_name(t->dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(&h, ",");
            sb_fmt_u64(&h, (uint64_t)t->shape[d]);
        }
        sb_str(&h, "],\"data_offsets\":[");
        sb_fmt_u64(&h, off);
        sb_str(&h, ",");
        off += t->nbytes;
        sb_fmt_u64(&h, off);
        sb_str(&h, "]}");
    }
    if (st->n_meta) {
        if (st->n_tensors) sb_str(&h, ",");
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < st->n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, st->meta[i].key);
            sb_str(&h, ":");
            sb_json_string(&h, st->meta[i].value);
        }
        sb_str(&h, "}");
    }
    sb_str(&h, "}");
    while (!h.oom && h.len % 8) sb_str(&h, " ");
    if (h.oom) {
        free(h.p);
        return niti_fail(NITI_ERR_NOMEM, "%s: safetensors header", path);
    }
    unsigned char lenbuf[8];
    store_le64(lenbuf, (uint64_t)h.len);

    /* Temp file in the target's folder, then rename over the target. */
    niti_atomic_file f;
    niti_status s = niti_atomic_open(path, &f);
    if (s != NITI_OK) {
        free(h.p);
        return s;
    }
    st_writer w = {&f, 0, 8 + (uint64_t)h.len + off, 0, 0};
    const char *pause = getenv("NITI_TEST_WRITE_PAUSE_MS"); /* test-only hook, see st_writer */
    if (pause && *pause) {
        long ms = strtol(pause, NULL, 10);
        w.pause_ms = ms > 0 ? (ms > 600000 ? 600000 : ms) : 0;
        w.pause_at = w.total / 2;
    }
    s = write_all(&w, lenbuf, 8);
    if (s == NITI_OK) s = write_all(&w, h.p, h.len);
    for (int i = 0; s == NITI_OK && i < st->n_tensors; i++)
        s = write_tensor_data(&w, &st->tensors[i]);
    if (s == NITI_OK) s = niti_atomic_commit(&f);
    else niti_atomic_abort(&f);
    free(h.p);
    return s;
}
