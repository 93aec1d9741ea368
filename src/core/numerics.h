/* The arithmetic contract's scalar primitives (shared/design/numerics.md, version 1).
 * This file is the single source of truth on the host: the reference backend, the conformance
 * runner and the host side of every other backend use these functions. The OpenCL kernels in
 * cl/ implement the same definitions and are checked against these bit for bit. */
#ifndef NITI_NUMERICS_H
#define NITI_NUMERICS_H

#include <stdint.h>

#include "niti.h"

static inline int niti_clamp127(int64_t x) { return x > 127 ? 127 : x < -127 ? -127 : (int)x; }

/* Contract section 2: 0 if m == 0, else the smallest b >= 0 with m <= 2^b. m is a magnitude. */
int niti_bw(uint64_t maxabs);
/* |x| as an unsigned magnitude (defined for INT64_MIN too). */
static inline uint64_t niti_abs64(int64_t x) { return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x; }

/* Contract section 3, s >= 1 (s up to 63). Results are clamped to [-127, 127]. */
int niti_shift_round(int64_t x, int s);
int niti_shift_psr(int64_t x, int s);
/* Stochastic: up = r > u, u uniform in [0, 2^s). */
int niti_shift_sr(int64_t x, int s, uint64_t u);
static inline int niti_shift(int64_t x, int s, niti_rounding r)
{
    return r == NITI_PSR ? niti_shift_psr(x, s) : niti_shift_round(x, s);
}

/* Contract section 4: the shift that requantises a tensor of bit-width bw, and the rounding
 * actually applied with it (niti20 always psr; its s == 1 case shifts by 2). The caller then
 * computes V = shift ? niti_shift(acc, shift, rounding) : niti_clamp127(acc). */
int niti_requant_shift(int bw, niti_rule rule);

/* Contract section 7: the shift used to quantise a weight gradient of bit-width b with mu.
 * Returns -1 for "g = 0" (b == 0), 0 for "g = clamp127(G)", else s > 0 for "g = psr(G, s)". */
int niti_gradquant_shift(int b, int mu);
static inline int niti_gradquant_apply(int64_t G, int shift)
{
    return shift < 0 ? 0 : shift == 0 ? niti_clamp127(G) : niti_shift_psr(G, shift);
}
/* Weight-decay term of section 7: d = bw(G) - 15, returns W * 2^d or tdiv(W, 2^-d). */
int64_t niti_decay_term(int8_t w, int bwG);

/* Section 7, 16-bit master weights: M <- clamp(M - g, -32512, 32512); returns round(M, 8). */
static inline int niti_master_update(int16_t *m, int g)
{
    int32_t v = (int32_t)*m - g;
    if (v > 32512) v = 32512;
    if (v < -32512) v = -32512;
    *m = (int16_t)v;
    return niti_shift_round(v, 8);
}

/* Contract section 9: Philox4x32-10 as in Random123. */
void niti_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* Word x0 of Philox with counter (i, t, stream, tag) and key (seed lo, seed hi). */
uint32_t niti_philox_x0(uint64_t seed, uint32_t i, uint32_t t, uint32_t stream, uint32_t tag);

enum { NITI_STREAM_LOSS = 1, NITI_STREAM_DROPOUT = 2, NITI_STREAM_SHUFFLE = 3,
       NITI_STREAM_AUGMENT = 4, NITI_STREAM_INIT = 5 };

/* Dropout keep bit of feature j at step t in layer k (section 5, 9). */
static inline int niti_dropout_keep(uint64_t seed, uint32_t t, uint32_t layer, uint32_t j)
{
    return (int)(niti_philox_x0(seed, j, t, NITI_STREAM_DROPOUT, layer) & 1u);
}

/* Section 6: valid out_exp range of the integer cross-entropy backward. */
#define NITI_LOSS_EXP_MIN (-25)
#define NITI_LOSS_EXP_MAX 40

/* Section 6 for one sample: logits o[C], label t; writes q[C] (after the label correction) and
 * err[C] = sr(q, 4) with u from Philox stream 1, i = n*C + c. Requires e in
 * [NITI_LOSS_EXP_MIN, NITI_LOSS_EXP_MAX] (the caller checks). */
void niti_loss_row(const int8_t *o, int C, int label, int e, uint64_t seed, uint32_t t, int n,
                   int64_t *q, int8_t *err);

/* Section 10: the 256-entry input table of one channel. */
/* niti_input_table(mean, std, table) is public (niti.h). */
#define NITI_INPUT_EXP (-5)

/* Section 6, for display only: float cross-entropy of int8 logits at exponent e (natural log). */
double niti_display_loss(const int8_t *o, int C, int label, int e);

#endif
