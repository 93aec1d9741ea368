/* Conv/linear as explicit packing + register-blocked GEMM for CPU devices (the "vnni" and
 * "portable" paths; the GPU path is the tiled implicit GEMM of gemm_tiled.cl).
 *
 * Every GEMM here is C[m, n] = sum_kk A[m, kk] * B[n, kk] with
 *   A: "row operand", int8 rows of Kp bytes (Kp a multiple of 4, rows padded to a multiple of the
 *      micro-kernel's RM). The vnni path stores A as unsigned bytes A + 128 (x ^ 0x80).
 *   B: "panel operand", column panels of 16 columns: vnni [panel][Kp/4][16][4] (one int16 vector
 *      per 4 reduction steps, as vpdpbusd wants it), portable [panel][Kp][16].
 * Forward: A = im2col(X), B = W. Dgrad: A = im2col(E) with pad' = k-1-pad, B = flipped W^T.
 * Wgrad:   see "wgrad, transposed form" below (rows kk read from a transposed, zero-padded copy
 *          of A without im2col; columns o; reduction over the error positions).
 *
 * Exactness (contract section 5). The reduction runs in chunks (grid dim 2) of at most 65536
 * terms, each an exact int32 partial sum; several chunks are added in int64 by a reduce kernel.
 *   vnni: vpdpbusd sums u8(a + 128) * s8(b) over a sub-chunk of kb4 groups, from which
 *         128 * sum_kk b over the sub-chunk is subtracted (NITI_SUB_PREP); the exact signed
 *         sums of the sub-chunks are then added up: |partial| <= 65536 * 128 * 128 = 2^30.
 *   portable: fp32 FMA of int8 products, converted to int after every 1024 terms:
 *         |partial| <= 1024 * 128 * 128 = 2^24, so every fp32 partial sum is an exact integer. */

#define NITI_GI inline __attribute__((always_inline))
#ifndef NITI_PACK_WG
#define NITI_PACK_WG __attribute__((reqd_work_group_size(1, 1, 1)))
#endif

/* ---------------------------------------------------------------- long-loop probe */
/* The CPU paths' kernels run loops of thousands of iterations in one work-item, with small
 * private arrays indexed by loop variables (the transposes' staging rows, the micro-kernels'
 * pointers and accumulators). Mesa rusticl 22.3 on llvmpipe loses such a work-item after a few
 * hundred iterations: its stores stop, silently (each iteration seems to take stack that is never
 * given back). The backend runs this probe before it uses a CPU path: n iterations over a private
 * array written and read at computed indices, every iteration's hash stored; the host compares
 * them all with its own (probe.c, loop_probe_ok). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void niti_loop_probe(
    __global const uint *seed, __global uint *out, int n)
{
    uint t[64];
    uint h = seed[0];
    for (int it = 0; it < n; it++) {
        for (int i = 0; i < 64; i++) t[(i * 7 + it) & 63] = h + (uint)(i * it);
        h ^= t[(h + (uint)it) & 63u];
        h = h * 1664525u + 1013904223u;
#ifdef NITI_TEST_LOSE_LOOPS
        /* Tests only (-DNITI_TEST_LOSE_LOOPS through NITI_CL_EXTRA_OPTIONS): what such a driver
         * does, so that the probe is seen to refuse the CPU paths. */
        if (it >= 993) return;
#endif
        out[it] = h;
    }
}

/* ---------------------------------------------------------------- packing */

NITI_GI void niti_pack_row(__global const uchar *X, __global uchar *out, int Hin, int Win,
                           int Cin, int Hout, int Wout, int k, int pad, int M, int K, int Kp,
                           int xorv, int m)
{
    __global uchar *o = out + (long)m * Kp;
    const uchar z = (uchar)xorv;
    const uchar16 z16 = (uchar16)z;
    int kk = 0;
    if (m < M) {
        int HWo = Hout * Wout;
        int img = m / HWo, r = m - img * HWo;
        int y = r / Wout, x = r - y * Wout;
        __global const uchar *base = X + (long)img * Hin * Win * Cin;
        for (int ky = 0; ky < k; ky++) {
            int iy = y + ky - pad;
            if (iy >= 0 && iy < Hin && x - pad >= 0 && x - pad + k <= Win) {
                /* the whole kernel row is inside: k * Cin contiguous bytes */
                __global const uchar *s = base + ((long)iy * Win + x - pad) * Cin;
                __global uchar *d = o + kk;
                int n = k * Cin, c = 0;
                for (; c + 16 <= n; c += 16) NITI_ST16(d + c, vload16(0, s + c) ^ z16);
                for (; c < n; c++) d[c] = s[c] ^ z;
                kk += n;
                continue;
            }
            for (int kx = 0; kx < k; kx++, kk += Cin) {
                int ix = x + kx - pad;
                __global uchar *d = o + kk;
                if (iy >= 0 && iy < Hin && ix >= 0 && ix < Win) {
                    __global const uchar *s = base + ((long)iy * Win + ix) * Cin;
                    int c = 0;
                    for (; c + 16 <= Cin; c += 16) NITI_ST16(d + c, vload16(0, s + c) ^ z16);
                    for (; c < Cin; c++) d[c] = s[c] ^ z;
                } else {
                    int c = 0;
                    for (; c + 16 <= Cin; c += 16) NITI_ST16(d + c, z16);
                    for (; c < Cin; c++) d[c] = z;
                }
            }
        }
    }
    for (; kk < Kp; kk++) o[kk] = z;
}

/* Row operand from im2col: out[m, kk] = im2col(X)[m, kk] ^ xorv for m < M, kk < K, else xorv
 * (a zero). One work-item per row m < Mp. */
__kernel NITI_PACK_WG void niti_pack_rows(__global const uchar *X, __global uchar *out, int Hin, int Win,
                             int Cin, int Hout, int Wout, int k, int pad, int M, int Mp, int K,
                             int Kp, int xorv, int per)
{
    const int m0 = (int)get_global_id(0) * per, m1 = min(Mp, m0 + per);
    for (int m = m0; m < m1; m++)
        niti_pack_row(X, out, Hin, Win, Cin, Hout, Wout, k, pad, M, K, Kp, xorv, m);
}

/* Channel padding: out[r, c] = X[r, c] for c < Cin, 0 for Cin <= c < Cp (rows r < R, pixels of
 * an NHWC tensor). Tasks of `per` rows. */
__kernel NITI_PACK_WG void niti_pad_channels(__global const uchar *X, __global uchar *out, int R,
                                             int Cin, int Cp, int per)
{
    const int r0 = (int)get_global_id(0) * per, r1 = min(R, r0 + per);
    for (int r = r0; r < r1; r++) {
        __global const uchar *s = X + (long)r * Cin;
        __global uchar *d = out + (long)r * Cp;
        int c = 0;
        for (; c + 16 <= Cin; c += 16) NITI_ST16(d + c, vload16(0, s + c));
        for (; c < Cin; c++) d[c] = s[c];
        for (; c < Cp; c++) d[c] = 0;
    }
}

/* The value B[n, kk] of the panel operand of forward (mode 0: src is [N, K]) or dgrad (mode 1:
 * src is W [O, k, k, I], n = i, kk = (ky', kx', o), value W[o, k-1-ky', k-1-kx', i]). */
NITI_GI int niti_bval(__global const char *src, int mode, int n, int kk, int N, int K, int k,
                      int O)
{
    if (n >= N || kk >= K) return 0;
    if (mode == 0) return src[(long)n * K + kk];
    int t = kk / O, o = kk - t * O;
    int ky = t / k, kx = t - ky * k;
    return src[(((long)o * k + (k - 1 - ky)) * k + (k - 1 - kx)) * N + n];
}

/* Panel operand from weights. One work-item per (4 reduction steps g, panel p). */
/* With Cp > Cin the reduction index is kk' = (ky, kx, c') over Cp channels (the row operand is
 * the channel-padded copy of niti_pad_channels): c' >= Cin gives 0, else kk = (ky, kx, c'). */
__kernel NITI_PACK_WG void niti_pack_panels(__global const char *src, __global char *out, int mode, int N,
                               int K, int k, int O, int Kp, int vnni, int NP, int Cin, int Cp,
                               int per)
{
    const int Kp4 = Kp >> 2;
    const int t0 = (int)get_global_id(0) * per, t1 = min(Kp4 * NP, t0 + per);
    for (int t = t0; t < t1; t++) {
        const int p = t / Kp4, g = t - p * Kp4;
        /* the 4 reduction steps: B[n, kk] = src[base + n * stride], or 0 */
        long base[4], stride[4];
        int ok[4];
        for (int q = 0; q < 4; q++) {
            int kk = 4 * g + q, kv = kk;
            if (Cp != Cin) {
                int tap = kk / Cp, c = kk - tap * Cp;
                kv = c < Cin ? tap * Cin + c : K;
            }
            ok[q] = kv < K;
            if (mode == 0) {
                base[q] = kv, stride[q] = K;
            } else {
                int tt = kv / O, o = kv - tt * O;
                int ky = tt / k, kx = tt - ky * k;
                base[q] = (((long)o * k + (k - 1 - ky)) * k + (k - 1 - kx)) * N, stride[q] = 1;
            }
        }
        char v[64];
        for (int l = 0; l < 16; l++) {
            int n = p * 16 + l;
            for (int q = 0; q < 4; q++)
                v[vnni ? l * 4 + q : q * 16 + l] =
                    n < N && ok[q] ? src[base[q] + (long)n * stride[q]] : (char)0;
        }
        if (vnni) {
            __global char *d = out + ((long)p * Kp4 + g) * 64;
            for (int j = 0; j < 4; j++) vstore16(vload16(j, v), j, d);
        } else {
            for (int q = 0; q < 4; q++) vstore16(vload16(q, v), 0, out + ((long)p * Kp + 4 * g + q) * 16);
        }
    }
}

/* ---------------------------------------------------------------- micro-kernels */

/* Common arguments of every micro-kernel. Grid: dim 0 = panel group (NV panels), dim 1 = group of
 * RB row blocks of RM rows, dim 2 = reduction chunk s of kc4 groups of 4 terms.
 * The row operand is read through an image view: row m = (img, y, x) of an [*, Hin, Win, Cin]
 * tensor X, reduction index kk = (ky, kx, c) at X[img, y+ky-pad, x+kx-pad, c] (zero outside,
 * read from Z, Cin zero bytes); Cin % 4 == 0. A packed operand is the view H = W = k = 1,
 * Cin = Kp. Rows >= Mst read row Mst-1 (computed, never stored). xorv is xor-ed into every
 * 4-byte word (0x80808080: the vnni offset, 0: packed operands that carry it already).
 * The chunk runs in sub-chunks of kb4 groups (so B's sub-panels stay in cache while the item's
 * row blocks pass), accumulated in C: C + s * cstride (ldc per row, int32, or int64 if out64).
 * With want_max (one chunk, int32 outputs), the largest |output| of the work-item is written to
 * maxp[item] (item = id(1) * size(0) + id(0)): the partial maxima of requant, which then needs no
 * pass of its own over the outputs. */
#define NITI_MK_ARGS                                                                               \
    __global const uint *X, __global const uint *Z, int Hin, int Win, int Cin, int Hout, int Wout, \
        int k, int pad, uint xorv, __global const uchar *B, __global void *C, int out64, int Mst, \
        int Nst, int ldc, long cstride, int Kp4, int kc4, int kb4, int RB, __global ulong *maxp,   \
        int want_max
/* A micro-kernel is a task (work-groups of one item): NITI_MK_KERNEL name(NITI_MK_ARGS ...). */
#define NITI_MK_KERNEL __kernel __attribute__((reqd_work_group_size(1, 1, 1))) void
/* Adds (or, first, stores) v to the 16 outputs at off (lanes below Nst - n0). */
/* With track (int32 outputs), the largest |stored value| is kept in *mx. */
NITI_GI void niti_acc16(int16 v, __global void *C, int out64, long off, int n0, int Nst, int first,
                        int track, uint16 *mx)
{
    if (n0 + 16 <= Nst) {
        if (out64) {
            __global long *c = (__global long *)C + off;
            long16 x = convert_long16(v);
            vstore16(first ? x : x + vload16(0, c), 0, c);
        } else {
            __global uint *c = (__global uint *)C + off;
            uint16 x = as_uint16(v);
            x = first ? x : x + vload16(0, c);
            vstore16(x, 0, c);
            if (track) *mx = max(*mx, niti_vabs32(as_int16(x)));
        }
    } else {
        int lim = Nst - n0;
        for (int l = 0; l < lim; l++) {
            int x = ((int *)&v)[l];
            if (out64) {
                __global long *c = (__global long *)C + off + l;
                *c = first ? (long)x : *c + x;
            } else {
                __global uint *c = (__global uint *)C + off + l;
                uint y = first ? (uint)x : *c + (uint)x;
                *c = y;
                if (track) *mx = max(*mx, niti_vabs32((int16)((int)y)));
            }
        }
    }
}

/* The row-operand geometry of one row m. */
NITI_GI void niti_row_geom(int m, int Mst, int Hout, int Wout, int Hin, int Win, int Cin4,
                           long *base, int *y, int *x)
{
    m = min(m, Mst - 1);
    int HWo = Hout * Wout;
    int img = m / HWo, r = m - img * HWo;
    *y = r / Wout;
    *x = r - *y * Wout;
    *base = (long)img * Hin * Win * Cin4;
}

/* The parts common to both micro-kernel bodies (NITI_MK_BODY, NITI_MK_BODY_WG), with hooks that
 * each path (vnni, portable) defines in its section and #undefs at its end:
 *   NITI_ACC_T           the accumulators' vector type (int16 sums, float16 exact fp32 sums);
 *   NITI_ACC_OUT(r, v)   the exact int16 sums of accumulator [r][v] over the sub-chunk;
 *   NITI_SUB_PREP(NV)    once per sub-chunk, before its row blocks (NITI_WG_PREP in the wgrad,
 *                        with NITI_WG_PF(rb, NV) per row block). */
/* The work-item's panel group pg, group of row blocks rbg and chunk s (the grid above), and the
 * chunk's groups [g0, g1). */
#define NITI_MK_GRID                                                                               \
    const int pg = (int)get_global_id(0), rbg = (int)get_global_id(1), s = (int)get_global_id(2); \
    const int g0 = s * kc4, g1 = min(Kp4, g0 + kc4)
/* The chunk's slice Cs of C, and the largest |output| so far, written at the end (NITI_MK_MAXP)
 * as the work-item's partial max for requant. (Declared after a body's own constants: that order
 * gives POCL's compiler the same code as before the bodies shared these lines.) */
#define NITI_MK_OUT                                                                                \
    __global void *Cs = (__global char *)C + (out64 ? 8 : 4) * s * cstride;                       \
    uint16 mx = (uint16)0
#define NITI_MK_MAXP                                                                               \
    if (want_max) maxp[get_global_id(1) * get_global_size(0) + pg] = niti_hmax16(mx)
/* The RM x NV accumulators of a row block (registers: the loops unroll fully). */
#define NITI_ACC_DECL(RM, NV)                                                                      \
    NITI_ACC_T acc[RM][NV];                                                                        \
    _Pragma("unroll") for (int r = 0; r < RM; r++) _Pragma("unroll") for (int v = 0; v < NV; v++) \
        acc[r][v] = (NITI_ACC_T)0
/* The row block's sums of the sub-chunk into C (rows m0 + r < Mst, columns below Nst). */
#define NITI_ACC_STORE(RM, NV)                                                                     \
    _Pragma("unroll") for (int v = 0; v < NV; v++)                                                 \
    {                                                                                              \
        const int n0 = (pg * NV + v) * 16;                                                         \
        if (n0 < Nst) {                                                                            \
            _Pragma("unroll") for (int r = 0; r < RM; r++) if (m0 + r < Mst)                       \
                niti_acc16(NITI_ACC_OUT(r, v), Cs, out64, (long)(m0 + r) * ldc + n0, n0, Nst,     \
                           gb == g0, want_max && ge == g1, &mx);                                   \
        }                                                                                          \
    }

#define NITI_MK_BODY(RM, NV, STEP)                                                                 \
    NITI_MK_GRID;                                                                                  \
    const int Cin4 = Cin >> 2;                                                                     \
    NITI_MK_OUT;                                                                                   \
    for (int gb = g0; gb < g1; gb += kb4) {                                                        \
        const int ge = min(g1, gb + kb4);                                                          \
        NITI_SUB_PREP(NV);                                                                         \
        for (int rb = 0; rb < RB; rb++) {                                                          \
            const int m0 = (rbg * RB + rb) * RM;                                                   \
            if (m0 >= Mst) break;                                                                  \
            long rbase[RM];                                                                        \
            int ry[RM], rx[RM];                                                                    \
            _Pragma("unroll") for (int r = 0; r < RM; r++)                                         \
                niti_row_geom(m0 + r, Mst, Hout, Wout, Hin, Win, Cin4, &rbase[r], &ry[r], &rx[r]); \
            NITI_ACC_DECL(RM, NV);                                                                 \
            for (int g = gb; g < ge;) {                                                            \
                const int t = g / Cin4, c4 = g - t * Cin4;                                         \
                const int run = min(ge - g, Cin4 - c4);                                            \
                const int ky = t / k, kx = t - ky * k;                                             \
                __global const uint *ap[RM];                                                       \
                _Pragma("unroll") for (int r = 0; r < RM; r++)                                     \
                {                                                                                  \
                    int iy = ry[r] + ky - pad, ix = rx[r] + kx - pad;                              \
                    ap[r] = (iy >= 0 && iy < Hin && ix >= 0 && ix < Win)                           \
                                ? X + rbase[r] + ((long)iy * Win + ix) * Cin4 + c4                 \
                                : Z + c4;                                                          \
                }                                                                                  \
                for (int j = 0; j < run; j++, g++) {                                               \
                    STEP(RM, NV);                                                                  \
                }                                                                                  \
            }                                                                                      \
            NITI_ACC_STORE(RM, NV);                                                                \
        }                                                                                          \
    }                                                                                              \
    NITI_MK_MAXP;

/* ---------------------------------------------------------------- wgrad, transposed form */
/* G[o, ky, kx, c] = sum_m E[m, o] * A[img, y+ky-pad, x+kx-pad, c] as a GEMM with rows
 * kk = (ky, kx, c), columns o and the reduction over E positions, without an im2col:
 *   row operand  niti_pack_apad_t: Apad^T[c][P] = A[img, Y-pad, X-pad, c] ^ xorv at the position
 *                P = (img * Hp + Y) * Wp + X of the padded grid (Hp = H + 2 pad; xorv outside),
 *                rows of Pst bytes. Row kk reads Apad^T[c] from ky * Wp + kx on. The pitch Wp is
 *                W + pad where pad <= k - 1 (the host's wg_pitch): no right padding of its own,
 *                a read past a row's end lands in the next row's left padding; else W + 2 pad.
 *   panel operand E^T in panel layout over a reduction index q of a grid (img, Y, X) of Hg x Wg
 *                per image: E[img, Y, X, :] for Y < Ho, X < Wo, else 0; packed by
 *                niti_pack_epanel (portable) or built per sub-chunk in the micro-kernel from E
 *                itself (vnni: niti_wg_subpanel, no packed copy in memory).
 * The grid is the E tensor itself (Hg = Ho, Wg = Wo, needs Wo % 4 == 0: "compact", exactly the
 * N Ho Wo terms), or Ho x Wp per image ("row-padded", needs Ho Wp % 4 == 0, zero terms in the
 * columns X >= Wo), or the padded grid (Hg = Hp, Wg = Wp: any shape). The micro-kernel walks the
 * reduction in runs of L groups of 4 (compact: one E row; row-padded: one image; padded: one run)
 * and points each row at the run's position in the padded grid of Apad^T. Exactness as above:
 * chunks of at most 65536 terms; the vnni offset is corrected with the column sums of E^T
 * (NITI_SUB_PREP). */

/* 64 bytes at any address as 8 words (little-endian, as on every CPU device). */
NITI_GI ulong8 niti_load64(__global const uchar *p)
{
    return (ulong8)(as_ulong2(vload16(0, p)), as_ulong2(vload16(1, p)), as_ulong2(vload16(2, p)),
                    as_ulong2(vload16(3, p)));
}

/* 8 x 8 byte matrices held in 8 words r[j] (byte l of r[j]: row j, column l) are transposed by
 * three rounds of masked swaps (blocks of 4, 2 and 1 bytes); with T = ulong8, 8 such matrices
 * side by side. */
#define NITI_TR8_ROUND(T, r, a, b, sh, mask)                                                        \
    {                                                                                              \
        T t_ = ((r[a] >> (sh)) ^ r[b]) & (T)(mask);                                                \
        r[b] ^= t_;                                                                                \
        r[a] ^= t_ << (sh);                                                                        \
    }
#define NITI_TR8(T, r)                                                                             \
    NITI_TR8_ROUND(T, r, 0, 4, 32, 0x00000000FFFFFFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 1, 5, 32, 0x00000000FFFFFFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 2, 6, 32, 0x00000000FFFFFFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 3, 7, 32, 0x00000000FFFFFFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 0, 2, 16, 0x0000FFFF0000FFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 1, 3, 16, 0x0000FFFF0000FFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 4, 6, 16, 0x0000FFFF0000FFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 5, 7, 16, 0x0000FFFF0000FFFFUL)                                           \
    NITI_TR8_ROUND(T, r, 0, 1, 8, 0x00FF00FF00FF00FFUL)                                            \
    NITI_TR8_ROUND(T, r, 2, 3, 8, 0x00FF00FF00FF00FFUL)                                            \
    NITI_TR8_ROUND(T, r, 4, 5, 8, 0x00FF00FF00FF00FFUL)                                            \
    NITI_TR8_ROUND(T, r, 6, 7, 8, 0x00FF00FF00FF00FFUL)

/* A 64-byte store that bypasses the caches where the compiler offers it (clang): for output
 * written once and read by a later kernel, it saves reading each line before it is overwritten. */
#if defined(__clang__) && defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store)
#define NITI_STNT(p, v) __builtin_nontemporal_store((v), (p))
#endif
#endif
#ifndef NITI_STNT
#define NITI_STNT(p, v) (*(p) = (v))
#endif

/* One block of 64 positions of a transposed row operand: d[c * Pst + j] = A[src[j] + c] ^ x for
 * the I channels c and j < 64 (src[j] < 0: a padding position, x alone); x8 = x in all 8 bytes.
 * Octets of 8 positions of 64 channels are transposed in ulong8 vectors (8 matrices of 8 x 8).
 * d is 64-byte aligned and Pst a multiple of 64, so each channel's 64 bytes of the block are one
 * cache line: blocks of 64 channels gather their lines in private memory and store each whole
 * (NITI_STNT; measured: 5.2 -> 3.0 ms for 128 channels at 32 x 32, batch 256); the channel tails
 * store one 8-byte word (or byte) per channel and octet. */
NITI_GI void niti_transpose_block(__global const uchar *A, const long *src, int I,
                                  __global uchar *d, long Pst, ulong x8)
{
    int c = 0;
    for (; c + 64 <= I; c += 64) {
        ulong t[64 * 8]; /* t[8 i + o / 8]: channel c + i, positions o..o+7 */
        for (int o = 0; o < 64; o += 8) {
            ulong8 r[8];
            for (int j = 0; j < 8; j++) {
                const long sj = src[o + j];
                r[j] = (sj >= 0 ? niti_load64(A + sj + c) : (ulong8)0) ^ (ulong8)x8;
            }
            NITI_TR8(ulong8, r)
            /* r[b] lane l: channel c + 8 l + b, positions o..o+7 */
            for (int b = 0; b < 8; b++) {
                t[(b + 0) * 8 + o / 8] = r[b].s0;
                t[(b + 8) * 8 + o / 8] = r[b].s1;
                t[(b + 16) * 8 + o / 8] = r[b].s2;
                t[(b + 24) * 8 + o / 8] = r[b].s3;
                t[(b + 32) * 8 + o / 8] = r[b].s4;
                t[(b + 40) * 8 + o / 8] = r[b].s5;
                t[(b + 48) * 8 + o / 8] = r[b].s6;
                t[(b + 56) * 8 + o / 8] = r[b].s7;
            }
        }
        for (int i = 0; i < 64; i++)
            NITI_STNT((__global ulong8 *)(d + (long)(c + i) * Pst), vload8(i, t));
    }
    for (; c + 8 <= I; c += 8)
        for (int o = 0; o < 64; o += 8) {
            ulong r[8];
            for (int j = 0; j < 8; j++) {
                const long sj = src[o + j];
                r[j] = (sj >= 0 ? as_ulong(vload8(0, A + sj + c)) : 0) ^ x8;
            }
            NITI_TR8(ulong, r)
            for (int b = 0; b < 8; b++) NITI_ST8(d + (long)(c + b) * Pst + o, r[b]);
        }
    for (; c < I; c++)
        for (int j = 0; j < 64; j++) {
            const long sj = src[j];
            d[(long)c * Pst + j] = (sj >= 0 ? A[sj + c] : 0) ^ (uchar)x8;
        }
}

/* src[j]: where position P0 + j of a grid of Hp x Wg per image starts in A (NHWC, N x H x W x I),
 * reading column X + dx - pad of row Y - pad; -1 outside A (padding, or past the last image). */
NITI_GI void niti_block_src(long *src, long P0, int N, int H, int W, int I, int pad, int Hp,
                            int Wg, int dx)
{
    long img = P0 / ((long)Hp * Wg);
    int r = (int)(P0 - img * Hp * Wg), Y = r / Wg, X = r - Y * Wg;
    for (int j = 0; j < 64; j++) {
        const int iy = Y - pad, ix = X + dx - pad;
        src[j] = img < N && iy >= 0 && iy < H && ix >= 0 && ix < W ? ((img * H + iy) * W + ix) * I
                                                                     : -1;
        if (++X == Wg) {
            X = 0;
            if (++Y == Hp) Y = 0, img++;
        }
    }
}

/* The tasks of both packs below: blocks of 64 positions P of a grid of Hp x Wg per image (then the
 * tail up to Pst, a multiple of 64), each block transposed k times: copy kx reads column
 * X + kx - pad and goes to out + kx I Pst. */
NITI_GI void niti_pack_apad(__global const uchar *A, __global uchar *out, int N, int H, int W,
                            int I, int pad, int Hp, int Wg, int k, long Pst, int xorv, int per)
{
    const int blocks = (int)(Pst / 64);
    const int u0 = (int)get_global_id(0) * per, u1 = min(blocks, u0 + per);
    const ulong x8 = (ulong)(uchar)xorv * 0x0101010101010101UL;
    for (int u = u0; u < u1; u++) {
        const long P0 = (long)u * 64;
        for (int kx = 0; kx < k; kx++) {
            long src[64];
            niti_block_src(src, P0, N, H, W, I, pad, Hp, Wg, kx);
            niti_transpose_block(A, src, I, out + (long)kx * I * Pst + P0, Pst, x8);
        }
    }
}

/* Apad^T (see above): the padded grid, Hp x Wp per image, one copy. */
__kernel NITI_PACK_WG void niti_pack_apad_t(__global const uchar *A, __global uchar *out, int N,
                                            int H, int W, int I, int pad, int Hp, int Wp,
                                            long Pst, int xorv, int per)
{
    niti_pack_apad(A, out, N, H, W, I, pad, Hp, Wp, 1, Pst, xorv, per);
}

/* The tap-expanded row operand: out[(kx * I + c) * Pst + (img * Hp + Y) * Wo + x] =
 * A[img, Y - pad, x + kx - pad, c] ^ xorv (xorv outside A), for x < Wo; the grid Hp x Wo per
 * image, all k copies of each block. */
__kernel NITI_PACK_WG void niti_pack_apad_kx(__global const uchar *A, __global uchar *out, int N,
                                             int H, int W, int I, int pad, int Hp, int Wo, int k,
                                             long Pst, int xorv, int per)
{
    niti_pack_apad(A, out, N, H, W, I, pad, Hp, Wo, k, Pst, xorv, per);
}

/* 16 bytes of an E row from column o0 on (0 past O; row 0: a position outside E). */
NITI_GI uchar16 niti_e16(__global const uchar *row, int o0, int O)
{
    if (!row || o0 >= O) return (uchar16)0;
    if (o0 + 16 <= O) return vload16(0, row + o0);
    uchar t[16];
    for (int l = 0; l < 16; l++) t[l] = o0 + l < O ? row[o0 + l] : 0;
    return vload16(0, t);
}

/* Panel operand E^T over the grid (see above) for the portable path, Qp reduction positions (a
 * multiple of 4), layout [p][Qp][16]. Tasks: groups g of 4 positions, all panels each. (The vnni
 * path builds its panel operand inside the micro-kernel: niti_wg_subpanel.) */
__kernel NITI_PACK_WG void niti_pack_epanel(__global const uchar *E, __global char *out, int N,
                                            int Ho, int Wo, int O, int Hg, int Wg, int Qp,
                                            int NP, int per)
{
    const int Qp4 = Qp >> 2;
    const int gA = (int)get_global_id(0) * per, gB = min(Qp4, gA + per);
    const int HWg = Hg * Wg;
    for (int g = gA; g < gB; g++) {
        __global const uchar *row[4];
        for (int q = 0; q < 4; q++) {
            int P = 4 * g + q;
            int img = P / HWg, r = P - img * HWg;
            int Y = r / Wg, X = r - Y * Wg;
            row[q] = img < N && Y < Ho && X < Wo ? E + (((long)img * Ho + Y) * Wo + X) * O : 0;
        }
        for (int p = 0; p < NP; p++) {
            __global char *d = out + ((long)p * Qp + 4 * g) * 16;
            for (int q = 0; q < 4; q++) NITI_ST16(d + 16 * q, niti_e16(row[q], p * 16, O));
        }
    }
}

/* G[o, kk] = sum_s P[s, kk, o] in int64 (P: the transposed form's int32 partials [S][K][O]).
 * Tasks of `per` tiles of 16 rows kk (16 contiguous G values per o). With whole tiles and
 * K % 8 == 0, the 16 values of an o are gathered into one vector and stored as two aligned
 * 64-byte words (measured: a third faster than value by value). */
__kernel NITI_PACK_WG void niti_wgrad_reduce_t(__global const int *P, int S, int K, int O,
                                               __global long *G, int per)
{
    const int t0 = (int)get_global_id(0) * per, t1 = min((K + 15) / 16, t0 + per);
    const long KO = (long)K * O;
    for (int t = t0; t < t1; t++) {
        const int k0 = t * 16, k1 = min(K, k0 + 16);
        if (k1 - k0 == 16 && K % 8 == 0) {
            for (int o = 0; o < O; o++) {
                long16 v = (long16)0;
                for (int j = 0; j < S; j++) {
                    __global const int *q = P + j * KO + (long)k0 * O + o;
                    v += convert_long16((int16)(q[0], q[O], q[2 * O], q[3 * O], q[4 * O], q[5 * O],
                                                q[6 * O], q[7 * O], q[8 * O], q[9 * O], q[10 * O],
                                                q[11 * O], q[12 * O], q[13 * O], q[14 * O],
                                                q[15 * O]));
                }
                __global long8 *g = (__global long8 *)(G + (long)o * K + k0);
                g[0] = v.lo;
                g[1] = v.hi;
            }
            continue;
        }
        for (int o = 0; o < O; o++)
            for (int kk = k0; kk < k1; kk++) {
                long s = 0;
                for (int j = 0; j < S; j++) s += P[j * KO + (long)kk * O + o];
                G[(long)o * K + kk] = s;
            }
    }
}

/* The first row of row block rbi of the transposed wgrad: blocks in the order (channel block, tap)
 * when the blocks hold whole channel blocks (reord: Cin % RM == 0), so that the k * k taps of RM
 * channels, which read the same rows of Apad^T at small shifts, run one after another and find
 * them in cache; else in row order. */
NITI_GI int niti_wg_m0(int rbi, int RM, int Cin, int k, int reord)
{
    if (!reord) return rbi * RM;
    const int cb = rbi / (k * k), tb = rbi - cb * (k * k);
    return tb * Cin + cb * RM;
}

/* The offset of row m = (ky, kx, c) in the row operand (layouts: see NITI_MK_BODY_WG). */
NITI_GI long niti_wg_roff(int m, int Cin, int k, int Pst, int Win, uint tapx)
{
    int tap = m / Cin, c = m - tap * Cin;
    int ky = tap / k, kx = tap - ky * k;
    return tapx ? ((long)kx * Cin + c) * Pst + ky * Win : (long)c * Pst + ky * Win + kx;
}

/* The vnni wgrad's panel operand is not packed in memory: each work-item builds the sub-panel of
 * its sub-chunk (groups gb <= g < ge, panels pg NV + v) in local memory from E, NHWC, itself:
 * Bs[v * kb4 + g - gb] lane l = the bytes E[P, o] of the 4 grid positions P = 4 g + q (byte q),
 * o = (pg NV + v) 16 + l, 0 for positions outside E and columns o >= O. kb4 NV <= NITI_WG_SUB.
 * T[g - gb] = the offset in a row of the row operand (grid Hin x Win per image) of group g's
 * first position (img, Y, X) on the reduction grid: (img Hin + Y) Win + X. The group's 4
 * positions are consecutive there (see "wgrad, transposed form"), so one word holds them. */
#define NITI_WG_SUB 512

NITI_GI long niti_wg_subpanel(__global const uchar *E, __local int16 *Bs, __local int *T, int gb,
                              int ge, int kb4, int NV, int pg, int N, int Ho, int Wo, int O, int Hg,
                              int Wg, int Hin, int Win)
{
    const int HWg = Hg * Wg, P = 4 * gb;
    int img = P / HWg, r = P - img * HWg, Y = r / Wg, X = r - Y * Wg;
    for (int g = gb; g < ge; g++) {
        T[g - gb] = (img * Hin + Y) * Win + X;
        __global const uchar *row[4];
        for (int q = 0; q < 4; q++) {
            row[q] = img < N && Y < Ho && X < Wo ? E + (((long)img * Ho + Y) * Wo + X) * O : 0;
            if (++X == Wg) {
                X = 0;
                if (++Y == Hg) Y = 0, img++;
            }
        }
        for (int v = 0; v < NV; v++) {
            const int o0 = (pg * NV + v) * 16;
            Bs[v * kb4 + g - gb] = convert_int16(niti_e16(row[0], o0, O)) |
                                   convert_int16(niti_e16(row[1], o0, O)) << 8 |
                                   convert_int16(niti_e16(row[2], o0, O)) << 16 |
                                   convert_int16(niti_e16(row[3], o0, O)) << 24;
        }
    }
    /* the E row of the next position on the grid (-1: none) */
    if (X >= Wo) X = 0, Y++;
    if (Y >= Ho) X = 0, Y = Ho;
    return img < N ? ((long)img * Ho + Y) * Wo + X : -1;
}

/* The micro-kernel body of the transposed wgrad. Arguments as NITI_MK_ARGS with: X = Apad^T
 * (bytes), Cin = I, k, Win = Wp, Hin = Hp, Hout = E rows per image in the run structure (Hq),
 * Wout = groups per run (L), pad = Pst (row stride of Apad^T in bytes). Rows m = (ky, kx, c).
 * xorv (no offset is xor-ed here: the packs carry it) selects the row layout: 0 the padded grid
 * above; 1 the tap-expanded copy of niti_pack_apad_kx (rows (kx, c) over a grid of Hp x Wo per
 * image, Win = Wo), where row (ky, kx, c) starts at row (kx, c) + ky * Wo and a whole image's
 * E positions are one run with no zero terms. Row blocks run in the order of niti_wg_m0. LOOP
 * walks a row block's sub-chunk: NITI_WG_LOOP_RUNS (Hout, Wout) or NITI_WG_LOOP_TABLE.
 * Row reads are 4-byte words at any byte offset (CPU devices only). */
#define NITI_MK_BODY_WG(RM, NV, STEP, LOOP)                                                        \
    NITI_MK_GRID;                                                                                  \
    __global const uchar *Xb = (__global const uchar *)X;                                          \
    const int reord = Cin % RM == 0;                                                               \
    NITI_MK_OUT;                                                                                   \
    for (int gb = g0; gb < g1; gb += kb4) {                                                        \
        const int ge = min(g1, gb + kb4);                                                          \
        NITI_WG_PREP(NV);                                                                          \
        for (int rb = 0; rb < RB; rb++) {                                                          \
            const int rbi = rbg * RB + rb;                                                         \
            if (rbi * RM >= Mst) break;                                                            \
            NITI_WG_PF(rb, NV);                                                                    \
            /* a block of whole channels (reord): rows RM consecutive channels of one tap */       \
            const int m0 = niti_wg_m0(rbi, RM, Cin, k, reord);                                    \
            const long r0 = niti_wg_roff(m0, Cin, k, pad, Win, xorv);                              \
            __global const uchar *aq[RM];                                                          \
            _Pragma("unroll") for (int r = 0; r < RM; r++) aq[r] =                                 \
                Xb + (reord ? r0 + (long)r * pad                                                   \
                            : niti_wg_roff(min(m0 + r, Mst - 1), Cin, k, pad, Win, xorv));         \
            NITI_ACC_DECL(RM, NV);                                                                 \
            LOOP(RM, NV, STEP);                                                                    \
            NITI_ACC_STORE(RM, NV);                                                                \
        }                                                                                          \
    }                                                                                              \
    NITI_MK_MAXP;

/* The reduction of one row block over a sub-chunk in runs: from the sub-chunk's first position
 * on, runs of up to Wout groups, stepping over the grid's gaps between them (portable). */
#define NITI_WG_LOOP_RUNS(RM, NV, STEP)                                                            \
    {                                                                                              \
        const int R0 = gb / Wout, img0 = R0 / Hout;                                                \
        int j0 = gb - R0 * Wout, yy = R0 - img0 * Hout;                                            \
        const long pos = ((long)img0 * Hin + yy) * Win + 4 * j0;                                  \
        _Pragma("unroll") for (int r = 0; r < RM; r++) aq[r] += pos;                               \
        for (int g = gb; g < ge;) {                                                                \
            const int run = min(ge - g, Wout - j0);                                                \
            __global const uint *ap[RM];                                                           \
            _Pragma("unroll") for (int r = 0; r < RM; r++) ap[r] = (__global const uint *)aq[r];   \
            for (int j = 0; j < run; j++, g++) {                                                   \
                STEP(RM, NV);                                                                      \
            }                                                                                      \
            long adv = 4 * run;                                                                    \
            if (j0 + run == Wout) {                                                                \
                adv += Win - 4 * Wout;                                                             \
                if (++yy == Hout) yy = 0, adv += (long)(Hin - Hout) * Win;                         \
            }                                                                                      \
            j0 = 0;                                                                                \
            _Pragma("unroll") for (int r = 0; r < RM; r++) aq[r] += adv;                           \
        }                                                                                          \
    }
/* The same from the sub-chunk's offset table Tl (niti_wg_subpanel): no run structure, so the
 * compact grid costs nothing per E row (vnni). */
#define NITI_WG_LOOP_TABLE(RM, NV, STEP)                                                           \
    for (int g = gb; g < ge; g++) {                                                                \
        const int o_ = Tl[g], j = 0;                                                               \
        __global const uint *ap[RM];                                                               \
        _Pragma("unroll") for (int r = 0; r < RM; r++) ap[r] =                                     \
            (__global const uint *)(aq[r] + o_);                                                   \
        STEP(RM, NV);                                                                              \
    }

/* ---------------------------------------------------------------- vnni micro-kernel */
#ifdef NITI_VNNI

#define NITI_DP(acc, a, b)                                                                          \
    __asm__("vpdpbusd %[bb], %[aa], %[cc]" : [cc] "+v"(acc) : [aa] "v"(a), [bb] "v"(b))

/* The capability probe: out[l] = 5 + sum_q u8(a[q]) * s8(b[4l+q]). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void niti_vnni_probe(
    __global const uint *a, __global const int16 *b, __global int16 *out)
{
    int16 acc = (int16)(5), av = (int16)((int)a[0]), bv = b[0];
    NITI_DP(acc, av, bv);
    out[0] = acc;
}

/* The offset correction of a sub-chunk, from the B sub-panel itself (before its row blocks, which
 * then find it in cache): cs[v] = 128 * the column sums of B over the sub-chunk, by vpdpbusd with
 * a row of ones. Every row block subtracts it from its sub-chunk sums, which makes each of them
 * the exact signed partial dot product. */
#define NITI_SUB_PREP_B(NV, BV)                                                                    \
    int16 cs[NV];                                                                                  \
    {                                                                                              \
        const int16 ones = (int16)(0x01010101);                                                    \
        _Pragma("unroll") for (int v = 0; v < NV; v++) cs[v] = (int16)0;                           \
        for (int g = gb; g < ge; g++) {                                                            \
            _Pragma("unroll") for (int v = 0; v < NV; v++)                                         \
            {                                                                                      \
                int16 bv = BV(v, g);                                                               \
                NITI_DP(cs[v], ones, bv);                                                          \
            }                                                                                      \
        }                                                                                          \
        _Pragma("unroll") for (int v = 0; v < NV; v++) cs[v] <<= 7;                                \
    }
/* The panel operand's vector of groups g, panel v: global (packed), or the wgrad's local
 * sub-panel */
#define NITI_BG(v, g) Bp[(long)(v) * Kp4 + (g)]
#define NITI_BL(v, g) Bl[(long)(v) * kb4 + (g)]
#define NITI_SUB_PREP(NV) NITI_SUB_PREP_B(NV, NITI_BG)
/* int32 sums of u8(a + 128) * s8(b), less 128 * the column sums of b */
#define NITI_ACC_T int16
#define NITI_ACC_OUT(r, v) (acc[r][v] - cs[v])
/* One row word broadcast straight from memory (a load, no shuffle), then the offset xor-ed in
 * as a vector: a scalar xor would make the compiler broadcast from a general register, which
 * costs a shuffle per row and step on the pipes that also run vpdpbusd. */
#define NITI_BCAST(dst, p) __asm__("vpbroadcastd %[m], %[d]" : [d] "=v"(dst) : [m] "m"(*(p)))
#define NITI_VNNI_STEP_X(RM, NV, XOR, BV)                                                          \
    int16 bv[NV];                                                                                  \
    _Pragma("unroll") for (int v = 0; v < NV; v++) bv[v] = BV(v, g);                               \
    _Pragma("unroll") for (int r = 0; r < RM; r++)                                                 \
    {                                                                                              \
        int16 av;                                                                                  \
        NITI_BCAST(av, ap[r] + j);                                                                 \
        XOR;                                                                                       \
        _Pragma("unroll") for (int v = 0; v < NV; v++) NITI_DP(acc[r][v], av, bv[v]);             \
    }
#define NITI_VNNI_STEP(RM, NV) NITI_VNNI_STEP_X(RM, NV, av ^= x16, NITI_BG)
/* the transposed wgrad form's rows carry the offset already (its xorv is 0); its panel operand is
 * the local sub-panel */
#define NITI_VNNI_STEP_WG(RM, NV) NITI_VNNI_STEP_X(RM, NV, (void)0, NITI_BL)

#define NITI_VNNI_KERNEL(RM, NV)                                                                   \
    NITI_MK_KERNEL niti_gemm_vnni_##RM##x##NV(NITI_MK_ARGS)                                        \
    {                                                                                              \
        __global const int16 *Bp = (__global const int16 *)B + (long)get_global_id(0) * NV * Kp4; \
        const int16 x16 = (int16)((int)xorv);                                                      \
        NITI_MK_BODY(RM, NV, NITI_VNNI_STEP)                                                       \
    }
/* One kernel per register blocking (RM and NV must be constants for the RM x NV accumulators to
 * stay in zmm registers, the loops fully unrolled); the host picks by the number of output columns
 * (choose_mk): 12x1 for at most 16, 8x2 for at most 32, else 4x4; the wgrad keeps the blocking. */
NITI_VNNI_KERNEL(4, 4)
NITI_VNNI_KERNEL(8, 2)
NITI_VNNI_KERNEL(12, 1)

/* The wgrad's sub-panel, built from E (B) for each sub-chunk, then its offset correction. */
#define NITI_WG_PREP(NV)                                                                           \
    const long enext =                                                                             \
        niti_wg_subpanel(B, Bs, Ts, gb, ge, kb4, NV, pg, eN, eHo, eWo, Nst, eHg, eWg, Hin, Win);   \
    __local const int16 *Bl = Bs - gb; /* indexed by g, as the packed panel */                     \
    __local const int *Tl = Ts - gb;                                                               \
    NITI_SUB_PREP_B(NV, NITI_BL)
#define NITI_PREFETCH(p) __asm__ volatile("prefetcht0 %0" : : "m"(*(p)))
/* Row block rb's share of the prefetch of the next sub-chunk's E rows (its columns of them) */
#define NITI_WG_PF(rb, NV)                                                                         \
    if (enext >= 0 && ge < g1) {                                                                   \
        const long ne = (long)eN * eHo * eWo;                                                      \
        const int n = (4 * kb4 + RB - 1) / RB, p0 = (rb) * n, p1 = min(4 * kb4, p0 + n);           \
        for (int p = p0; p < p1 && enext + p < ne; p++)                                            \
            NITI_PREFETCH(B + (enext + p) * Nst + pg * NV * 16);                                   \
    }
/* B is E itself (NHWC, N x eHo x eWo x Nst), the reduction grid eHg x eWg per image. Not one
 * macro with NITI_VNNI_KERNEL: the arguments differ (E's shape) and so does the panel operand
 * (built in local memory per sub-chunk, not read packed). */
#define NITI_VNNI_WG_KERNEL(RM, NV)                                                                \
    NITI_MK_KERNEL niti_gemm_vnni_wg_##RM##x##NV(NITI_MK_ARGS, int eN, int eHo, int eWo, int eHg,  \
                                                 int eWg)                                          \
    {                                                                                              \
        __local int16 Bs[NITI_WG_SUB];                                                             \
        __local int Ts[NITI_WG_SUB];                                                               \
        NITI_MK_BODY_WG(RM, NV, NITI_VNNI_STEP_WG, NITI_WG_LOOP_TABLE)                             \
    }
NITI_VNNI_WG_KERNEL(4, 4)
NITI_VNNI_WG_KERNEL(8, 2)
NITI_VNNI_WG_KERNEL(12, 1)

#undef NITI_SUB_PREP
#undef NITI_WG_PREP
#undef NITI_WG_PF
#undef NITI_ACC_T
#undef NITI_ACC_OUT
#endif /* NITI_VNNI */

/* ---------------------------------------------------------------- portable micro-kernel */
#ifdef NITI_PORTABLE

#define NITI_SUB_PREP(NV) (void)0
#define NITI_WG_PREP(NV) (void)0
#define NITI_WG_PF(rb, NV) (void)0
/* The float value of each int8, indexed by its byte read as unsigned. The row operand's values
 * are broadcast from this table straight from memory (a load, no arithmetic) instead of being
 * converted one by one and then broadcast: measured on POCL (AVX-512), the micro-kernel's steps
 * were bound by those conversions, and the table made the GEMMs about a quarter faster. */
__constant float niti_i8f[256] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63,
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
    -128, -127, -126, -125, -124, -123, -122, -121, -120, -119, -118, -117, -116, -115, -114, -113,
    -112, -111, -110, -109, -108, -107, -106, -105, -104, -103, -102, -101, -100, -99, -98, -97,
    -96, -95, -94, -93, -92, -91, -90, -89, -88, -87, -86, -85, -84, -83, -82, -81,
    -80, -79, -78, -77, -76, -75, -74, -73, -72, -71, -70, -69, -68, -67, -66, -65,
    -64, -63, -62, -61, -60, -59, -58, -57, -56, -55, -54, -53, -52, -51, -50, -49,
    -48, -47, -46, -45, -44, -43, -42, -41, -40, -39, -38, -37, -36, -35, -34, -33,
    -32, -31, -30, -29, -28, -27, -26, -25, -24, -23, -22, -21, -20, -19, -18, -17,
    -16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1,
};
/* fp32 partial sums over at most 1024 terms (256 groups of 4), then added to int32 exactly. The
 * sub-chunk kb4 is at most 256 groups, so every sub-chunk's float sums are exact. */
#define NITI_ACC_T float16
#define NITI_ACC_OUT(r, v) convert_int16(acc[r][v])
#define NITI_F32_STEP(RM, NV)                                                                      \
    float16 bv[NV][4];                                                                             \
    _Pragma("unroll") for (int v = 0; v < NV; v++)                                                 \
    {                                                                                              \
        __global const char *bq = Bp + ((long)v * Kp4 * 4 + (long)g * 4) * 16;                     \
        _Pragma("unroll") for (int q = 0; q < 4; q++) bv[v][q] = convert_float16(vload16(q, bq)); \
    }                                                                                              \
    _Pragma("unroll") for (int r = 0; r < RM; r++)                                                 \
    {                                                                                              \
        const uchar4 a4 = as_uchar4(ap[r][j]);                                                     \
        _Pragma("unroll") for (int v = 0; v < NV; v++)                                             \
        {                                                                                          \
            acc[r][v] = fma((float16)niti_i8f[a4.s0], bv[v][0], acc[r][v]);                        \
            acc[r][v] = fma((float16)niti_i8f[a4.s1], bv[v][1], acc[r][v]);                        \
            acc[r][v] = fma((float16)niti_i8f[a4.s2], bv[v][2], acc[r][v]);                        \
            acc[r][v] = fma((float16)niti_i8f[a4.s3], bv[v][3], acc[r][v]);                        \
        }                                                                                          \
    }
/* The portable micro-kernels, forward/dgrad (NITI_MK_BODY) and transposed wgrad
 * (NITI_MK_BODY_RUNS), take the same arguments and a packed panel operand alike (the wgrad's from
 * niti_pack_epanel): one macro, the body a parameter. */
#define NITI_MK_BODY_RUNS(RM, NV, STEP) NITI_MK_BODY_WG(RM, NV, STEP, NITI_WG_LOOP_RUNS)
#define NITI_F32_KERNEL_X(NAME, RM, NV, BODY)                                                      \
    NITI_MK_KERNEL NAME(NITI_MK_ARGS)                                                              \
    {                                                                                              \
        __global const char *Bp = (__global const char *)B + (long)get_global_id(0) * NV * Kp4 * 64; \
        BODY(RM, NV, NITI_F32_STEP)                                                                \
    }
#define NITI_F32_KERNEL(RM, NV) NITI_F32_KERNEL_X(niti_gemm_f32_##RM##x##NV, RM, NV, NITI_MK_BODY)
#define NITI_F32_WG_KERNEL(RM, NV)                                                                 \
    NITI_F32_KERNEL_X(niti_gemm_f32_wg_##RM##x##NV, RM, NV, NITI_MK_BODY_RUNS)
/* The host picks by the number of output columns (choose_mk): 6x1 for at most 16, else 4x2; the
 * wgrad of a 4x2 runs 6x2 (wg_kernel: more rows share each panel's int8 -> float conversions).
 * RM and NV must be constants for the blocks to stay in registers, hence one kernel each. */
NITI_F32_KERNEL(4, 2)
NITI_F32_KERNEL(6, 1)
NITI_F32_WG_KERNEL(6, 2)
NITI_F32_WG_KERNEL(6, 1)

#undef NITI_SUB_PREP
#undef NITI_WG_PREP
#undef NITI_WG_PF
#undef NITI_ACC_T
#undef NITI_ACC_OUT
#endif /* NITI_PORTABLE */

