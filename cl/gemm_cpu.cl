/* Conv/linear as explicit packing + register-blocked GEMM for CPU devices (the "vnni" and
 * "portable" paths; the GPU path is the tiled implicit GEMM of conv_i8.cl).
 *
 * Every GEMM here is C[m, n] = sum_kk A[m, kk] * B[n, kk] with
 *   A: "row operand", int8 rows of Kp bytes (Kp a multiple of 4, rows padded to a multiple of the
 *      micro-kernel's RM). The vnni path stores A as unsigned bytes A + 128 (x ^ 0x80).
 *   B: "panel operand", column panels of 16 columns: vnni [panel][Kp/4][16][4] (one int16 vector
 *      per 4 reduction steps, as vpdpbusd wants it), portable [panel][Kp][16].
 * Forward: A = im2col(X), B = W. Dgrad: A = im2col(E) with pad' = k-1-pad, B = flipped W^T.
 * Wgrad:   A = E^T (rows o), B = im2col(A)^T (columns kk), reduction over m = (img, y, x).
 *
 * Exactness (contract section 5). The reduction runs in chunks (grid dim 2) of at most 65536
 * terms, each an exact int32 partial sum; several chunks are added in int64 by a reduce kernel.
 *   vnni: vpdpbusd sums u8(a + 128) * s8(b): |sum| <= 65536 * 255 * 128 < 2^31, and the chunk's
 *         128 * sum_kk b (csum, or the "ones" row of wgrad) is subtracted afterwards.
 *   portable: fp32 FMA of int8 products, converted to int after every 1024 terms:
 *         |partial| <= 1024 * 128 * 128 = 2^24, so every fp32 partial sum is an exact integer. */

#define NITI_GI inline __attribute__((always_inline))
#ifndef NITI_PACK_WG
#define NITI_PACK_WG __attribute__((reqd_work_group_size(1, 1, 1)))
#endif

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
                for (; c + 16 <= n; c += 16) vstore16(vload16(0, s + c) ^ z16, 0, d + c);
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
                    for (; c + 16 <= Cin; c += 16) vstore16(vload16(0, s + c) ^ z16, 0, d + c);
                    for (; c < Cin; c++) d[c] = s[c] ^ z;
                } else {
                    int c = 0;
                    for (; c + 16 <= Cin; c += 16) vstore16(z16, 0, d + c);
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
__kernel NITI_PACK_WG void niti_pack_panels(__global const char *src, __global char *out, int mode, int N,
                               int K, int k, int O, int Kp, int vnni, int NP, int per)
{
    const int Kp4 = Kp >> 2;
    const int t0 = (int)get_global_id(0) * per, t1 = min(Kp4 * NP, t0 + per);
    for (int t = t0; t < t1; t++) {
    const int p = t / Kp4, g = t - p * Kp4;
    for (int l = 0; l < 16; l++)
        for (int q = 0; q < 4; q++) {
            int n = p * 16 + l, kk = 4 * g + q;
            long idx = vnni ? (((long)p * Kp4 + g) * 16 + l) * 4 + q : ((long)p * Kp + kk) * 16 + l;
            out[idx] = (char)niti_bval(src, mode, n, kk, N, K, k, O);
        }
    }
}

/* csum[s, n] = 128 * sum of the vnni panel column n over the k4 groups of chunk s. */
__kernel void niti_panel_colsum(__global const char *B, __global int *csum, int Kp4, int kc4,
                                int Np)
{
    int n = (int)get_global_id(0), s = (int)get_global_id(1);
    if (n >= Np) return;
    int p = n >> 4, l = n & 15;
    int g0 = s * kc4, g1 = min(Kp4, g0 + kc4);
    __global const char *b = B + ((long)p * Kp4 * 16 + l) * 4;
    int sum = 0;
    for (int g = g0; g < g1; g++) {
        char4 v = vload4(0, b + (long)g * 64);
        sum += v.s0 + v.s1 + v.s2 + v.s3;
    }
    csum[(long)s * Np + n] = sum * 128;
}

/* Wgrad row operand: out[o, m] = E[m, o] ^ xorv (o < O, m < M; xorv elsewhere); with ones, row O
 * is 1 for m < M (its GEMM row is sum_m B[n, m], the vnni offset correction). Rows up to Op.
 * Tasks: groups g of 4 columns m, all rows o each. */
__kernel NITI_PACK_WG void niti_pack_et(__global const uchar *E, __global uchar *out, int M,
                                        int O, int Op, int Mp, int xorv, int ones, int per)
{
    const int Mp4 = Mp >> 2;
    const int g0 = (int)get_global_id(0) * per, g1 = min(Mp4, g0 + per);
    const uchar x = (uchar)xorv;
    for (int g = g0; g < g1; g++) {
        const int m = 4 * g;
        __global const uchar *e0 = E + (long)m * O;
        for (int o = 0; o < O; o++) {
            uchar4 v;
            v.s0 = m < M ? e0[o] ^ x : x;
            v.s1 = m + 1 < M ? e0[O + o] ^ x : x;
            v.s2 = m + 2 < M ? e0[2 * O + o] ^ x : x;
            v.s3 = m + 3 < M ? e0[3 * O + o] ^ x : x;
            vstore4(v, 0, out + (long)o * Mp + m);
        }
        for (int o = O; o < Op; o++) {
            uchar4 v = (uchar4)x;
            if (o == O && ones)
                v = (uchar4)(m < M ? 1 : 0, m + 1 < M ? 1 : 0, m + 2 < M ? 1 : 0, m + 3 < M ? 1 : 0);
            vstore4(v, 0, out + (long)o * Mp + m);
        }
    }
}

/* Wgrad panel operand: column kk = (ky, kx, c) of im2col(A), rows m. vnni layout
 * [p][Mp/4][16][4], portable [p][Mp][16]. Tasks: groups g of 4 rows, all panels each. */
__kernel NITI_PACK_WG void niti_pack_imcol(__global const uchar *A, __global uchar *out, int H, int W, int I,
                              int Ho, int Wo, int k, int pad, int M, int Mp, int K, int vnni,
                              int NP, int per)
{
    const int Mp4 = Mp >> 2;
    const int gA = (int)get_global_id(0) * per, gB = min(Mp4, gA + per);
    for (int g = gA; g < gB; g++) {
    int HWo = Ho * Wo;
    long base[4];
    int ys[4], xs[4];
    for (int q = 0; q < 4; q++) {
        int m = 4 * g + q;
        if (m < M) {
            int img = m / HWo, r = m - img * HWo;
            ys[q] = r / Wo;
            xs[q] = r - ys[q] * Wo;
            base[q] = (long)img * H * W * I;
        } else {
            ys[q] = -1000000;
            xs[q] = 0;
            base[q] = 0;
        }
    }
    int t0 = 0, c0 = 0; /* tap and channel of kk0 = 16 p, kept incrementally */
    for (int p = 0; p < NP; p++, c0 += 16) {
    while (c0 >= I) c0 -= I, t0++;
    uchar16 rows[4];
    int kk0 = p * 16;
    if (c0 + 16 <= I && kk0 + 16 <= K) {
        /* 16 channels of one (ky, kx): one load per row */
        int ky = t0 / k, kx = t0 - ky * k;
        for (int q = 0; q < 4; q++) {
            int iy = ys[q] + ky - pad, ix = xs[q] + kx - pad;
            rows[q] = (iy >= 0 && iy < H && ix >= 0 && ix < W)
                          ? vload16(0, A + base[q] + ((long)iy * W + ix) * I + c0)
                          : (uchar16)0;
        }
    } else {
        for (int l = 0; l < 16; l++) {
            int kk = kk0 + l;
            int t = kk / I, c = kk - t * I;
            int ky = t / k, kx = t - ky * k;
            for (int q = 0; q < 4; q++) {
                int iy = ys[q] + ky - pad, ix = xs[q] + kx - pad;
                uchar v = 0;
                if (kk < K && iy >= 0 && iy < H && ix >= 0 && ix < W)
                    v = A[base[q] + ((long)iy * W + ix) * I + c];
                ((uchar *)&rows[q])[l] = v;
            }
        }
    }
    if (vnni) {
        __global uchar *d = out + ((long)p * Mp4 + g) * 64;
        uchar16 o0 = (uchar16)(rows[0].s0, rows[1].s0, rows[2].s0, rows[3].s0, rows[0].s1,
                               rows[1].s1, rows[2].s1, rows[3].s1, rows[0].s2, rows[1].s2,
                               rows[2].s2, rows[3].s2, rows[0].s3, rows[1].s3, rows[2].s3,
                               rows[3].s3);
        uchar16 o1 = (uchar16)(rows[0].s4, rows[1].s4, rows[2].s4, rows[3].s4, rows[0].s5,
                               rows[1].s5, rows[2].s5, rows[3].s5, rows[0].s6, rows[1].s6,
                               rows[2].s6, rows[3].s6, rows[0].s7, rows[1].s7, rows[2].s7,
                               rows[3].s7);
        uchar16 o2 = (uchar16)(rows[0].s8, rows[1].s8, rows[2].s8, rows[3].s8, rows[0].s9,
                               rows[1].s9, rows[2].s9, rows[3].s9, rows[0].sa, rows[1].sa,
                               rows[2].sa, rows[3].sa, rows[0].sb, rows[1].sb, rows[2].sb,
                               rows[3].sb);
        uchar16 o3 = (uchar16)(rows[0].sc, rows[1].sc, rows[2].sc, rows[3].sc, rows[0].sd,
                               rows[1].sd, rows[2].sd, rows[3].sd, rows[0].se, rows[1].se,
                               rows[2].se, rows[3].se, rows[0].sf, rows[1].sf, rows[2].sf,
                               rows[3].sf);
        vstore16(o0, 0, d);
        vstore16(o1, 0, d + 16);
        vstore16(o2, 0, d + 32);
        vstore16(o3, 0, d + 48);
    } else {
        __global uchar *d = out + ((long)p * Mp + 4 * g) * 16;
        for (int q = 0; q < 4; q++) vstore16(rows[q], 0, d + 16 * q);
    }
    }
    }
}

/* G[o, kk] = sum_s P[s, o, kk] - (ones ? 128 * P[s, O, kk] : 0), exactly in int64. */
__kernel void niti_wgrad_reduce(__global const int *P, int S, int O, int K, int ones,
                                __global long *G)
{
    int kk = (int)get_global_id(0), o = (int)get_global_id(1);
    if (kk >= K || o >= O) return;
    long rows = O + (ones ? 1 : 0);
    long s = 0;
    for (int j = 0; j < S; j++) {
        __global const int *Pj = P + (long)j * rows * K;
        s += Pj[(long)o * K + kk];
        if (ones) s -= 128 * (long)Pj[(long)O * K + kk];
    }
    G[(long)o * K + kk] = s;
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
 * row blocks pass), accumulated in C: C + s * cstride (ldc per row, int32, or int64 if out64). */
#define NITI_MK_ARGS                                                                               \
    __global const uint *X, __global const uint *Z, int Hin, int Win, int Cin, int Hout, int Wout, \
        int k, int pad, uint xorv, __global const uchar *B, __global const int *csum,             \
        int use_csum, __global void *C, int out64, int Mst, int Nst, int ldc, long cstride,       \
        int Kp4, int kc4, int kb4, int Np, int RB
#define NITI_MK_PASS                                                                               \
    X, Z, Hin, Win, Cin, Hout, Wout, k, pad, xorv, B, csum, use_csum, C, out64, Mst, Nst, ldc,     \
        cstride, Kp4, kc4, kb4, Np, RB

/* Adds (or, first, stores) v to the 16 outputs at off (lanes below Nst - n0). */
NITI_GI void niti_acc16(int16 v, __global void *C, int out64, long off, int n0, int Nst, int first)
{
    if (n0 + 16 <= Nst) {
        if (out64) {
            __global long *c = (__global long *)C + off;
            long16 x = convert_long16(v);
            vstore16(first ? x : x + vload16(0, c), 0, c);
        } else {
            __global uint *c = (__global uint *)C + off;
            uint16 x = as_uint16(v);
            vstore16(first ? x : x + vload16(0, c), 0, c);
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
                *c = first ? (uint)x : *c + (uint)x;
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

#define NITI_MK_BODY(RM, NV, STEP)                                                                 \
    const int pg = (int)get_global_id(0), rbg = (int)get_global_id(1), s = (int)get_global_id(2); \
    const int g0 = s * kc4, g1 = min(Kp4, g0 + kc4);                                               \
    const int Cin4 = Cin >> 2;                                                                     \
    __global void *Cs = (__global char *)C + (out64 ? 8 : 4) * s * cstride;                       \
    for (int gb = g0; gb < g1; gb += kb4) {                                                        \
        const int ge = min(g1, gb + kb4);                                                          \
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

#define NITI_ACC_DECL(RM, NV)                                                                      \
    int16 acc[RM][NV];                                                                             \
    _Pragma("unroll") for (int r = 0; r < RM; r++) _Pragma("unroll") for (int v = 0; v < NV; v++) \
        acc[r][v] = (int16)0
#define NITI_VNNI_STEP(RM, NV)                                                                     \
    int16 bv[NV];                                                                                  \
    _Pragma("unroll") for (int v = 0; v < NV; v++) bv[v] = Bp[(long)v * Kp4 + g];               \
    _Pragma("unroll") for (int r = 0; r < RM; r++)                                                 \
    {                                                                                              \
        int16 av = (int16)((int)(ap[r][j] ^ xorv));                                                \
        _Pragma("unroll") for (int v = 0; v < NV; v++) NITI_DP(acc[r][v], av, bv[v]);             \
    }
#define NITI_ACC_STORE(RM, NV)                                                                     \
    _Pragma("unroll") for (int v = 0; v < NV; v++)                                                 \
    {                                                                                              \
        const int n0 = (pg * NV + v) * 16;                                                         \
        if (n0 < Nst) {                                                                            \
            int16 cs = use_csum && gb == g0 ? vload16(0, csum + (long)s * Np + n0) : (int16)0;     \
            _Pragma("unroll") for (int r = 0; r < RM; r++) if (m0 + r < Mst)                       \
                niti_acc16(acc[r][v] - cs, Cs, out64, (long)(m0 + r) * ldc + n0, n0, Nst,          \
                           gb == g0);                                                              \
        }                                                                                          \
    }

#define NITI_VNNI_KERNEL(RM, NV)                                                                   \
    __kernel __attribute__((reqd_work_group_size(1, 1, 1))) void niti_gemm_vnni_##RM##x##NV(       \
        NITI_MK_ARGS)                                                                              \
    {                                                                                              \
        __global const int16 *Bp = (__global const int16 *)B + (long)get_global_id(0) * NV * Kp4; \
        NITI_MK_BODY(RM, NV, NITI_VNNI_STEP)                                                       \
    }
NITI_VNNI_KERNEL(4, 4)
NITI_VNNI_KERNEL(8, 2)
NITI_VNNI_KERNEL(12, 1)

#undef NITI_ACC_DECL
#undef NITI_ACC_STORE
#endif /* NITI_VNNI */

/* ---------------------------------------------------------------- portable micro-kernel */
#ifdef NITI_PORTABLE

/* fp32 partial sums over at most 1024 terms (256 groups of 4), then added to int32 exactly. The
 * sub-chunk kb4 is at most 256 groups, so every sub-chunk's float sums are exact. */
#define NITI_ACC_DECL(RM, NV)                                                                      \
    float16 f[RM][NV];                                                                             \
    _Pragma("unroll") for (int r = 0; r < RM; r++) _Pragma("unroll") for (int v = 0; v < NV; v++) \
        f[r][v] = (float16)0.0f
#define NITI_F32_STEP(RM, NV)                                                                      \
    float16 bv[NV][4];                                                                             \
    _Pragma("unroll") for (int v = 0; v < NV; v++)                                                 \
    {                                                                                              \
        __global const char *bq = Bp + ((long)v * Kp4 * 4 + (long)g * 4) * 16;                     \
        _Pragma("unroll") for (int q = 0; q < 4; q++) bv[v][q] = convert_float16(vload16(q, bq)); \
    }                                                                                              \
    _Pragma("unroll") for (int r = 0; r < RM; r++)                                                 \
    {                                                                                              \
        char4 a4 = as_char4(ap[r][j]);                                                             \
        _Pragma("unroll") for (int v = 0; v < NV; v++)                                             \
        {                                                                                          \
            f[r][v] = fma((float16)((float)a4.s0), bv[v][0], f[r][v]);                             \
            f[r][v] = fma((float16)((float)a4.s1), bv[v][1], f[r][v]);                             \
            f[r][v] = fma((float16)((float)a4.s2), bv[v][2], f[r][v]);                             \
            f[r][v] = fma((float16)((float)a4.s3), bv[v][3], f[r][v]);                             \
        }                                                                                          \
    }
#define NITI_ACC_STORE(RM, NV)                                                                     \
    _Pragma("unroll") for (int v = 0; v < NV; v++)                                                 \
    {                                                                                              \
        const int n0 = (pg * NV + v) * 16;                                                         \
        if (n0 < Nst) {                                                                            \
            _Pragma("unroll") for (int r = 0; r < RM; r++) if (m0 + r < Mst)                       \
                niti_acc16(convert_int16(f[r][v]), Cs, out64, (long)(m0 + r) * ldc + n0, n0, Nst,  \
                           gb == g0);                                                              \
        }                                                                                          \
    }

#define NITI_F32_KERNEL(RM, NV)                                                                    \
    __kernel __attribute__((reqd_work_group_size(1, 1, 1))) void niti_gemm_f32_##RM##x##NV(        \
        NITI_MK_ARGS)                                                                              \
    {                                                                                              \
        __global const char *Bp = (__global const char *)B + (long)get_global_id(0) * NV * Kp4 * 64; \
        NITI_MK_BODY(RM, NV, NITI_F32_STEP)                                                        \
    }
NITI_F32_KERNEL(4, 2)
NITI_F32_KERNEL(6, 1)

#undef NITI_ACC_DECL
#undef NITI_ACC_STORE
#endif /* NITI_PORTABLE */
