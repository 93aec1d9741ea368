/* The backend interface: one struct of function pointers per device. The training step
 * (net.c) and the conformance runner are written once against it. Every op exists first in
 * backend_ref.c (the oracle); another backend is correct when it matches it bit for bit.
 *
 * Ops are enqueued; a backend may run them asynchronously in order. Only download() and
 * finish() synchronise. Buffers are opaque and owned by the backend.
 *
 * Layouts: activations/errors NHWC int8; conv weights [O,k,k,I] int8; linear = conv with
 * H = W = k = 1, pad = 0 and I = F (so there is one set of conv ops). Accumulators are int32 or
 * int64 (acc_t), chosen by the caller from the contract's bound K*128*127 < 2^31 (see
 * niti_acc_dtype). Weight gradients are always int64. */
#ifndef NITI_BACKEND_H
#define NITI_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "niti.h"

typedef struct niti_buf niti_buf;
#define NITI_VIEW_ALIGN 4096
typedef struct niti_backend niti_backend;

typedef struct niti_conv_geom {
    int N, H, W, I; /* input [N,H,W,I] */
    int O, k, pad;  /* output channels, kernel size, zero padding (stride 1) */
    int Ho, Wo;     /* output size: H + 2*pad - k + 1 */
} niti_conv_geom;

/* Fills Ho/Wo; returns NITI_ERR_INVALID if the output would be empty. */
niti_status niti_conv_geom_init(niti_conv_geom *g, int N, int H, int W, int I, int O, int k,
                                int pad);
/* Accumulator type that holds a sum of K int8*int8 products exactly (inputs may hold -128). */
niti_dtype niti_acc_dtype(int64_t K);

/* Slots of the int32 "scalars" buffer. The caller lays them out; see net.c. */

typedef struct niti_backend_ops {
    void (*destroy)(niti_backend *be);

    /* --- memory --- what: a tensor name for error messages. New buffers are zero-filled. */
    niti_status (*alloc)(niti_backend *be, size_t bytes, const char *what, niti_buf **out);
    void (*release)(niti_backend *be, niti_buf *b);
    niti_status (*upload)(niti_backend *be, niti_buf *dst, size_t offset, const void *src,
                          size_t bytes);
    /* Waits for queued work, then copies. */
    niti_status (*download)(niti_backend *be, niti_buf *src, size_t offset, void *dst,
                            size_t bytes);
    niti_status (*finish)(niti_backend *be);

    /* A buffer that aliases parent's bytes [off, off + bytes) (off a multiple of
     * NITI_VIEW_ALIGN), for memory one part of a step lends another. release frees the view
     * only; views are not counted in mem_in_use. */
    niti_status (*view)(niti_backend *be, niti_buf *parent, size_t off, size_t bytes,
                        niti_buf **out);

    /* --- conv / linear (contract section 5) --- */
    /* acc[n,y,x,o] = sum A[n,y+ky-p,x+kx-p,i] * W[o,ky,kx,i] */
    niti_status (*conv_fwd)(niti_backend *be, const niti_conv_geom *g, niti_buf *A, niti_buf *W,
                            niti_buf *acc, niti_dtype acc_t);
    /* accE[n,y,x,i] = sum_{o,ky,kx} E[n,y-ky+p,x-kx+p,o] * W[o,ky,kx,i]; E is [N,Ho,Wo,O] */
    niti_status (*conv_dgrad)(niti_backend *be, const niti_conv_geom *g, niti_buf *E,
                              niti_buf *W, niti_buf *accE, niti_dtype acc_t);
    /* G[o,ky,kx,i] = sum_{n,y,x} A[n,y+ky-p,x+kx-p,i] * E[n,y,x,o], int64.
     * ws: optional work space (NULL: none) whose contents the op may overwrite; a backend that
     * needs scratch memory takes it from ws when ws is large enough, instead of allocating
     * (the network passes its accumulator buffer, dead at that point of the step). */
    niti_status (*conv_wgrad)(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                              niti_buf *E, niti_buf *G, niti_buf *ws);

    /* --- requantisation (section 4) over the whole tensor of n elements ---
     * Writes int8 values to out and the shift to scalars[shift_slot]. If exp_slot >= 0 it
     * also sets scalars[exp_slot] = scalars[exp_in_slot] + exp_add + shift (exponent
     * bookkeeping on the device; exp_in_slot < 0 means 0).
     * given_max: NULL = the shift comes from max |acc| over these n values (on the device, no
     * host round trip); else from *given_max, which the caller has made the maximum of a larger
     * tensor this one is a part of (data-parallel training: the maximum over every process's
     * slice of the batch, see net.c). The shift is niti_requant_shift(niti_bw(max), rule)
     * either way. */
    niti_status (*requant)(niti_backend *be, niti_buf *acc, niti_dtype acc_t, size_t n,
                           niti_rule rule, niti_rounding rounding, niti_buf *out,
                           niti_buf *scalars, int shift_slot, int exp_in_slot, int exp_add,
                           int exp_slot, const uint64_t *given_max);
    /* max |x| over n int32 or int64 values of x, to the host (synchronous: waits for the
     * queue). With requant's given_max it splits a requantisation into "local maximum ->
     * global maximum -> shift" for data-parallel training. */
    niti_status (*max_abs)(niti_backend *be, niti_buf *x, niti_dtype dtype, size_t n,
                           uint64_t *out);

    /* --- elementwise --- (in and out may be the same buffer where noted) */
    niti_status (*relu_fwd)(niti_backend *be, size_t n, niti_buf *A, niti_buf *Y);
    /* Eprev = E where A > 0, else 0 (A is the stored input). Eprev may be E. */
    niti_status (*relu_bwd)(niti_backend *be, size_t n, niti_buf *A, niti_buf *E,
                            niti_buf *Eprev);
    /* 2x2 stride 2 (odd H/W: the last row/column is dropped). argmax: u8 dy*2+dx of the first
     * maximum in row-major window order. Y, argmax are [N,H/2,W/2,C]. */
    niti_status (*maxpool_fwd)(niti_backend *be, int N, int H, int W, int C, niti_buf *A,
                               niti_buf *Y, niti_buf *argmax);
    /* Eprev [N,H,W,C] gets E routed to the argmax position, 0 elsewhere. */
    niti_status (*maxpool_bwd)(niti_backend *be, int N, int H, int W, int C, niti_buf *E,
                               niti_buf *argmax, niti_buf *Eprev);
    /* counts[index] (int64) = how many of the n int8 values in x are +127 or -127. */
    niti_status (*count_sat)(niti_backend *be, niti_buf *x, size_t n, niti_buf *counts,
                             int index);
    /* out[n,j] = in[n,j] * keep(seed, t, layer, j), the batch-shared mask (sections 5, 9).
     * Used for forward and backward. out may be in. */
    niti_status (*dropout)(niti_backend *be, int N, int F, uint64_t seed, uint32_t t,
                           uint32_t layer, niti_buf *in, niti_buf *out);

    /* --- loss (section 6) ---
     * e = exp_base + scalars[exp_slot] (exp_slot < 0: e = exp_base). Writes e to
     * scalars[e_out_slot]. If e is outside [NITI_LOSS_EXP_MIN, NITI_LOSS_EXP_MAX] q and err are
     * all zero (the caller reads e back and reports the error). q (int64 [N,C]) may be NULL. */
    niti_status (*loss_bwd)(niti_backend *be, int N, int C, niti_buf *logits, niti_buf *labels,
                            niti_buf *scalars, int exp_base, int exp_slot, int e_out_slot,
                            uint64_t seed, uint32_t t, niti_buf *q, niti_buf *err);

    /* --- weight update (section 7) over one tensor of n weights ---
     * decay: G += decay term (in place, so G holds G_decayed afterwards). Then
     * g = gradquant(G, mu) (written to g_out if not NULL) and W = clamp127(W - g), or with
     * master (int16, may be NULL): M = clamp(M - g, +-32512), W = round(M, 8). */
    niti_status (*update)(niti_backend *be, size_t n, niti_buf *G, int mu, int decay,
                          niti_buf *W, niti_buf *master, niti_buf *g_out);
} niti_backend_ops;

struct niti_backend {
    const niti_backend_ops *ops;
    char name[256];       /* "ref" or "<platform>: <device>" */
    char short_name[64];  /* "ref", "cl0:0" */
    void *impl;
    size_t mem_in_use;    /* bytes of live buffers (kept by every backend's alloc/release) */
    size_t mem_peak;      /* the most ever live at once */
};

/* The backends themselves and the chooser behind niti_backend_open: src/backends/backends.h. */

/* Memory accounting, called by every backend's alloc/release. */
static inline void niti_backend_count_alloc(niti_backend *be, size_t bytes)
{
    be->mem_in_use += bytes;
    if (be->mem_in_use > be->mem_peak) be->mem_peak = be->mem_in_use;
}
static inline void niti_backend_count_release(niti_backend *be, size_t bytes)
{
    be->mem_in_use -= bytes < be->mem_in_use ? bytes : be->mem_in_use;
}

/* Helpers: allocate and upload in one call. */
niti_status niti_buf_from_host(niti_backend *be, const void *src, size_t bytes, const char *what,
                               niti_buf **out);

#endif
