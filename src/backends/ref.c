/* The reference backend: plain, readable C of every op of backend.h, written straight from the
 * contract. It is the oracle for every other backend and a real device choice (--device ref). */
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "core/error.h"
#include "core/numerics.h"

struct niti_buf {
    size_t bytes;
    unsigned char *p;
    int view; /* aliases another buffer's memory */
};

#define I8(b) ((int8_t *)(b)->p)
#define U8(b) ((uint8_t *)(b)->p)
#define I16(b) ((int16_t *)(b)->p)
#define I32(b) ((int32_t *)(b)->p)
#define I64(b) ((int64_t *)(b)->p)

static void ref_destroy(niti_backend *be) { free(be); }

static niti_status ref_alloc(niti_backend *be, size_t bytes, const char *what, niti_buf **out)
{
    niti_buf *b = calloc(1, sizeof *b);
    unsigned char *p = calloc(bytes ? bytes : 1, 1);
    if (!b || !p) {
        free(b);
        free(p);
        return niti_fail(NITI_ERR_NOMEM, "ref: cannot allocate %zu bytes for %s", bytes,
                         what ? what : "a buffer");
    }
    b->bytes = bytes;
    b->p = p;
    niti_backend_count_alloc(be, bytes);
    *out = b;
    return NITI_OK;
}

static niti_status ref_view(niti_backend *be, niti_buf *parent, size_t off, size_t bytes,
                            niti_buf **out)
{
    (void)be;
    if (off % NITI_VIEW_ALIGN || off > parent->bytes || bytes > parent->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "ref view: [%zu, +%zu) of a %zu-byte buffer", off,
                         bytes, parent->bytes);
    niti_buf *b = calloc(1, sizeof *b);
    if (!b) return niti_fail(NITI_ERR_NOMEM, "ref view");
    b->bytes = bytes;
    b->p = parent->p + off;
    b->view = 1;
    *out = b;
    return NITI_OK;
}

static void ref_release(niti_backend *be, niti_buf *b)
{
    if (!b) return;
    if (b->view) {
        free(b);
        return;
    }
    niti_backend_count_release(be, b->bytes);
    free(b->p);
    free(b);
}

static niti_status ref_upload(niti_backend *be, niti_buf *dst, size_t off, const void *src,
                              size_t bytes)
{
    (void)be;
    if (off > dst->bytes || bytes > dst->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "ref: upload of %zu bytes at %zu into a %zu-byte buffer",
                         bytes, off, dst->bytes);
    if (bytes) memcpy(dst->p + off, src, bytes);
    return NITI_OK;
}

static niti_status ref_download(niti_backend *be, niti_buf *src, size_t off, void *dst,
                                size_t bytes)
{
    (void)be;
    if (off > src->bytes || bytes > src->bytes - off)
        return niti_fail(NITI_ERR_INVALID,
                         "ref: download of %zu bytes at %zu from a %zu-byte buffer", bytes, off,
                         src->bytes);
    if (bytes) memcpy(dst, src->p + off, bytes);
    return NITI_OK;
}

static niti_status ref_finish(niti_backend *be)
{
    (void)be;
    return NITI_OK;
}

static void acc_store(niti_buf *acc, niti_dtype t, size_t i, int64_t v)
{
    if (t == NITI_I64) I64(acc)[i] = v;
    else I32(acc)[i] = (int32_t)v;
}

static int64_t acc_load(const niti_buf *acc, niti_dtype t, size_t i)
{
    return t == NITI_I64 ? I64(acc)[i] : I32(acc)[i];
}

static niti_status ref_conv_fwd(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                                niti_buf *W, niti_buf *acc, niti_dtype acc_t)
{
    (void)be;
    const int8_t *a = I8(A), *w = I8(W);
    for (int n = 0; n < g->N; n++)
        for (int y = 0; y < g->Ho; y++)
            for (int x = 0; x < g->Wo; x++)
                for (int o = 0; o < g->O; o++) {
                    int64_t s = 0;
                    for (int ky = 0; ky < g->k; ky++) {
                        int iy = y + ky - g->pad;
                        if (iy < 0 || iy >= g->H) continue;
                        for (int kx = 0; kx < g->k; kx++) {
                            int ix = x + kx - g->pad;
                            if (ix < 0 || ix >= g->W) continue;
                            const int8_t *ap = a + (((size_t)n * g->H + iy) * g->W + ix) * g->I;
                            const int8_t *wp = w + (((size_t)o * g->k + ky) * g->k + kx) * g->I;
                            for (int i = 0; i < g->I; i++) s += (int32_t)ap[i] * wp[i];
                        }
                    }
                    acc_store(acc, acc_t, (((size_t)n * g->Ho + y) * g->Wo + x) * g->O + o, s);
                }
    return NITI_OK;
}

static niti_status ref_conv_dgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *E,
                                  niti_buf *W, niti_buf *accE, niti_dtype acc_t)
{
    (void)be;
    const int8_t *e = I8(E), *w = I8(W);
    for (int n = 0; n < g->N; n++)
        for (int y = 0; y < g->H; y++)
            for (int x = 0; x < g->W; x++)
                for (int i = 0; i < g->I; i++) {
                    int64_t s = 0;
                    for (int ky = 0; ky < g->k; ky++) {
                        int oy = y - ky + g->pad;
                        if (oy < 0 || oy >= g->Ho) continue;
                        for (int kx = 0; kx < g->k; kx++) {
                            int ox = x - kx + g->pad;
                            if (ox < 0 || ox >= g->Wo) continue;
                            const int8_t *ep = e + (((size_t)n * g->Ho + oy) * g->Wo + ox) * g->O;
                            for (int o = 0; o < g->O; o++)
                                s += (int32_t)ep[o] *
                                     w[(((size_t)o * g->k + ky) * g->k + kx) * g->I + i];
                        }
                    }
                    acc_store(accE, acc_t, (((size_t)n * g->H + y) * g->W + x) * g->I + i, s);
                }
    return NITI_OK;
}

static niti_status ref_conv_wgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                                  niti_buf *E, niti_buf *G, niti_buf *ws)
{
    (void)ws; /* no scratch needed */
    (void)be;
    const int8_t *a = I8(A), *e = I8(E);
    int64_t *gr = I64(G);
    for (int o = 0; o < g->O; o++)
        for (int ky = 0; ky < g->k; ky++)
            for (int kx = 0; kx < g->k; kx++)
                for (int i = 0; i < g->I; i++) {
                    int64_t s = 0;
                    for (int n = 0; n < g->N; n++)
                        for (int y = 0; y < g->Ho; y++) {
                            int iy = y + ky - g->pad;
                            if (iy < 0 || iy >= g->H) continue;
                            for (int x = 0; x < g->Wo; x++) {
                                int ix = x + kx - g->pad;
                                if (ix < 0 || ix >= g->W) continue;
                                s += (int32_t)a[(((size_t)n * g->H + iy) * g->W + ix) * g->I + i] *
                                     e[(((size_t)n * g->Ho + y) * g->Wo + x) * g->O + o];
                            }
                        }
                    gr[(((size_t)o * g->k + ky) * g->k + kx) * g->I + i] = s;
                }
    return NITI_OK;
}

static niti_status ref_max_abs(niti_backend *be, niti_buf *x, niti_dtype dtype, size_t n,
                               uint64_t *out)
{
    (void)be;
    if (dtype != NITI_I32 && dtype != NITI_I64)
        return niti_fail(NITI_ERR_INVALID, "ref max_abs: type %s (need I32 or I64)",
                         niti_dtype_name(dtype));
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = niti_abs64(acc_load(x, dtype, i));
        if (a > m) m = a;
    }
    *out = m;
    return NITI_OK;
}

static niti_status ref_requant(niti_backend *be, niti_buf *acc, niti_dtype acc_t, size_t n,
                               niti_rule rule, niti_rounding rounding, niti_buf *out,
                               niti_buf *scalars, int shift_slot, int exp_in_slot, int exp_add,
                               int exp_slot, const uint64_t *given_max)
{
    uint64_t m = 0;
    if (given_max) m = *given_max;
    else ref_max_abs(be, acc, acc_t, n, &m);
    int s = niti_requant_shift(niti_bw(m), rule);
    niti_rounding r = rule == NITI_RULE_NITI20 ? NITI_PSR : rounding;
    int8_t *v = I8(out);
    for (size_t i = 0; i < n; i++) {
        int64_t x = acc_load(acc, acc_t, i);
        v[i] = (int8_t)(s ? niti_shift(x, s, r) : niti_clamp127(x));
    }
    int32_t *sc = I32(scalars);
    sc[shift_slot] = s;
    if (exp_slot >= 0) sc[exp_slot] = (exp_in_slot >= 0 ? sc[exp_in_slot] : 0) + exp_add + s;
    return NITI_OK;
}

static niti_status ref_relu_fwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *Y)
{
    (void)be;
    for (size_t i = 0; i < n; i++) I8(Y)[i] = I8(A)[i] > 0 ? I8(A)[i] : 0;
    return NITI_OK;
}

static niti_status ref_relu_bwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *E,
                                niti_buf *Eprev)
{
    (void)be;
    for (size_t i = 0; i < n; i++) I8(Eprev)[i] = I8(A)[i] > 0 ? I8(E)[i] : 0;
    return NITI_OK;
}

static niti_status ref_maxpool_fwd(niti_backend *be, int N, int H, int W, int C, niti_buf *A,
                                   niti_buf *Y, niti_buf *argmax)
{
    (void)be;
    int Ho = H / 2, Wo = W / 2;
    const int8_t *a = I8(A);
    for (int n = 0; n < N; n++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++)
                for (int c = 0; c < C; c++) {
                    int best = -1000, arg = 0;
                    for (int d = 0; d < 4; d++) {
                        int v = a[(((size_t)n * H + 2 * y + d / 2) * W + 2 * x + d % 2) * C + c];
                        if (v > best) {
                            best = v;
                            arg = d;
                        }
                    }
                    size_t o = (((size_t)n * Ho + y) * Wo + x) * C + c;
                    I8(Y)[o] = (int8_t)best;
                    U8(argmax)[o] = (uint8_t)arg;
                }
    return NITI_OK;
}

static niti_status ref_count_sat(niti_backend *be, niti_buf *x, size_t n, niti_buf *counts,
                                 int index)
{
    (void)be;
    if (index < 0 || (size_t)(index + 1) * 8 > counts->bytes || n > x->bytes)
        return niti_fail(NITI_ERR_INVALID, "ref count_sat: index %d or %zu values out of range",
                         index, n);
    int64_t c = 0;
    for (size_t i = 0; i < n; i++) c += I8(x)[i] == 127 || I8(x)[i] == -127;
    I64(counts)[index] = c;
    return NITI_OK;
}

static niti_status ref_maxpool_bwd(niti_backend *be, int N, int H, int W, int C, niti_buf *E,
                                   niti_buf *argmax, niti_buf *Eprev)
{
    (void)be;
    int Ho = H / 2, Wo = W / 2;
    memset(Eprev->p, 0, (size_t)N * H * W * C);
    for (int n = 0; n < N; n++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++)
                for (int c = 0; c < C; c++) {
                    size_t o = (((size_t)n * Ho + y) * Wo + x) * C + c;
                    int d = U8(argmax)[o];
                    I8(Eprev)[(((size_t)n * H + 2 * y + d / 2) * W + 2 * x + d % 2) * C + c] =
                        I8(E)[o];
                }
    return NITI_OK;
}

static niti_status ref_dropout(niti_backend *be, int N, int F, uint64_t seed, uint32_t t,
                               uint32_t layer, niti_buf *in, niti_buf *out)
{
    (void)be;
    for (int j = 0; j < F; j++) {
        int keep = niti_dropout_keep(seed, t, layer, (uint32_t)j);
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)n * F + j;
            I8(out)[i] = keep ? I8(in)[i] : 0;
        }
    }
    return NITI_OK;
}

static niti_status ref_loss_bwd(niti_backend *be, int N, int C, niti_buf *logits,
                                niti_buf *labels, niti_buf *scalars, int exp_base, int exp_slot,
                                int e_out_slot, uint64_t seed, uint32_t t, niti_buf *q,
                                niti_buf *err)
{
    (void)be;
    int32_t *sc = I32(scalars);
    int e = exp_base + (exp_slot >= 0 ? sc[exp_slot] : 0);
    sc[e_out_slot] = e;
    int64_t *qrow = malloc(sizeof(int64_t) * (size_t)C);
    if (!qrow) return niti_fail(NITI_ERR_NOMEM, "ref: loss scratch");
    for (int n = 0; n < N; n++) {
        int8_t *erow = I8(err) + (size_t)n * C;
        int label = I32(labels)[n];
        if (e < NITI_LOSS_EXP_MIN || e > NITI_LOSS_EXP_MAX || label < 0 || label >= C) {
            memset(qrow, 0, sizeof(int64_t) * (size_t)C);
            memset(erow, 0, (size_t)C);
        } else {
            niti_loss_row(I8(logits) + (size_t)n * C, C, label, e, seed, t, n, qrow, erow);
        }
        if (q) memcpy(I64(q) + (size_t)n * C, qrow, sizeof(int64_t) * (size_t)C);
    }
    free(qrow);
    return NITI_OK;
}

static niti_status ref_update(niti_backend *be, size_t n, niti_buf *G, int mu, int decay,
                              niti_buf *W, niti_buf *master, niti_buf *g_out)
{
    (void)be;
    int64_t *gr = I64(G);
    int8_t *w = I8(W);
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (niti_abs64(gr[i]) > m) m = niti_abs64(gr[i]);
    if (decay) {
        int b0 = niti_bw(m);
        m = 0;
        for (size_t i = 0; i < n; i++) {
            gr[i] += niti_decay_term(w[i], b0);
            if (niti_abs64(gr[i]) > m) m = niti_abs64(gr[i]);
        }
    }
    int s = niti_gradquant_shift(niti_bw(m), mu);
    for (size_t i = 0; i < n; i++) {
        int g = niti_gradquant_apply(gr[i], s);
        if (g_out) I8(g_out)[i] = (int8_t)g;
        if (master) w[i] = (int8_t)niti_master_update(&I16(master)[i], g);
        else w[i] = (int8_t)niti_clamp127((int)w[i] - g);
    }
    return NITI_OK;
}

static const niti_backend_ops ref_ops = {
    .destroy = ref_destroy,
    .alloc = ref_alloc,
    .release = ref_release,
    .upload = ref_upload,
    .download = ref_download,
    .finish = ref_finish,
    .conv_fwd = ref_conv_fwd,
    .conv_dgrad = ref_conv_dgrad,
    .conv_wgrad = ref_conv_wgrad,
    .requant = ref_requant,
    .max_abs = ref_max_abs,
    .relu_fwd = ref_relu_fwd,
    .relu_bwd = ref_relu_bwd,
    .maxpool_fwd = ref_maxpool_fwd,
    .maxpool_bwd = ref_maxpool_bwd,
    .view = ref_view,
    .count_sat = ref_count_sat,
    .dropout = ref_dropout,
    .loss_bwd = ref_loss_bwd,
    .update = ref_update,
};

niti_status niti_backend_ref_create(niti_backend **out)
{
    niti_backend *be = calloc(1, sizeof *be);
    if (!be) return niti_fail(NITI_ERR_NOMEM, "ref: backend");
    be->ops = &ref_ops;
    strcpy(be->name, "ref (plain C reference)");
    strcpy(be->short_name, "ref");
    *out = be;
    return NITI_OK;
}
