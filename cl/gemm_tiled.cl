/* Convolution (contract section 5) as register-blocked, local-memory-tiled implicit GEMM.
 * Linear layers are convs with H = W = k = 1.
 *
 *  niti_conv_gemm:   Y[m, n] = sum_kk im2col(X)[m, kk] * B[n, kk], m = (img, y, x), kk = (ky, kx, c).
 *                    Forward: X = A, B = W [O, k*k*I]. Dgrad: X = E, B = the flipped/transposed
 *                    weights (niti_wt_transpose), pad' = k-1-pad (it may be negative).
 *                    Partial sums are int32; with several K splits (group id 2) each split writes
 *                    its own int32 slice and niti_sum_splits_* adds them exactly. A split never
 *                    covers more than 131056 terms, so |partial| <= 131056*128*128 < 2^31.
 *  niti_conv_wgrad:  G[o, kk] = sum_m E[m, o] * im2col(A)[m, kk], int32 per split of m (same
 *                    bound), written as int64; several splits are added by niti_sum_splits_i64.
 *
 * Work-group: (TN/RN) x (TM/RM) items, each owning RM x RN outputs strided by the work-group
 * dims (so stores and local reads are unit-stride across neighbouring items). The reduction
 * runs in chunks of TK staged in __local memory, packed so that the 4 bytes of reduction indices
 * 4g..4g+3 of one row (or column) form one 32-bit word: byte ((q>>2)*T + row)*4 + (q&3) of a tile
 * of T rows. The inner loop takes one word of each operand and adds their 4-term signed dot
 * product with NITI_DOT4_ACC (below), so a dot-product instruction can do 4 terms at once. */
#ifndef NITI_TM
#define NITI_TM 64
#endif
#ifndef NITI_TN
#define NITI_TN 64
#endif
#ifndef NITI_TK
#define NITI_TK 16
#endif
#ifndef NITI_RM
#define NITI_RM 4
#endif
#ifndef NITI_RN
#define NITI_RN 4
#endif
#define NITI_WGX (NITI_TN / NITI_RN)
#define NITI_WGY (NITI_TM / NITI_RM)
#define NITI_NT (NITI_WGX * NITI_WGY)
#define NITI_LA (NITI_TM * NITI_TK / NITI_NT)
#define NITI_LB (NITI_TN * NITI_TK / NITI_NT)
/* Fast tile forms: every item loads fixed rows/columns of each tile, decomposed once. They need
 * a work-group of at least TK items that the tiles divide evenly; smaller work-groups (a device
 * whose kernels allow only 1, 4 or 8 items, or NITI_CL_MAX_WG) use general forms that
 * decompose every element they load. Both give the same sums, so the same bits. */
#if NITI_NT % NITI_TM == 0 && NITI_NT % NITI_TN == 0 && NITI_NT % NITI_TK == 0 &&                \
    NITI_NT % NITI_WGY == 0 && (NITI_TM * NITI_TK) % NITI_NT == 0 &&                             \
    NITI_TM * NITI_TK / NITI_NT <= 8
#define NITI_TILE_FAST 1
#else
#define NITI_TILE_FAST 0
#endif

#define NITI_INLINE inline __attribute__((always_inline))
#define NITI_FAR (-1000000000) /* an offset that puts a row/column outside every image */

/* ---------------------------------------------------------------- 4-term dot products
 * NITI_DOT4_ACC(acc, a, b): acc += sum over the 4 bytes of a and b of s8(a byte) * s8(b byte),
 * bytes paired by position. acc is int32; every partial sum the kernels form is exact in int32
 * (see the bound above), so no implementation below ever wraps or saturates.
 *   default            portable OpenCL C (sign-extend each byte by shifts, multiply, add)
 *   -DNITI_DOT_DP4A    NVIDIA dp4a.s32.s32 through inline PTX (sm_61 and newer)
 *   -DNITI_DOT_KHR     cl_khr_integer_dot_product, dot_acc_sat_4x8packed_ss_int
 *   -DNITI_DOT_EMULATE with one of the two: a portable function of the same semantics instead of
 *                      the instruction, so that the packed kernels can be tested on any device. */
#if defined(NITI_DOT_DP4A) && defined(NITI_DOT_KHR)
#error "niti: NITI_DOT_DP4A and NITI_DOT_KHR are exclusive"
#endif
#if defined(NITI_DOT_EMULATE) && !defined(NITI_DOT_DP4A) && !defined(NITI_DOT_KHR)
#error "niti: NITI_DOT_EMULATE needs NITI_DOT_DP4A or NITI_DOT_KHR"
#endif

/* Byte k (0..3) of a packed word as a signed value. */
#define NITI_S8(w, k) ((int)((w) << (24 - 8 * (k))) >> 24)

/* acc + the 4-term dot product, in portable OpenCL C. The products are added one by one: on POCL
 * this compiles to better code than summing them first. */
NITI_INLINE int niti_dot4_acc(int acc, uint a, uint b)
{
    acc += NITI_S8(a, 0) * NITI_S8(b, 0);
    acc += NITI_S8(a, 1) * NITI_S8(b, 1);
    acc += NITI_S8(a, 2) * NITI_S8(b, 2);
    acc += NITI_S8(a, 3) * NITI_S8(b, 3);
    return acc;
}

#if defined(NITI_DOT_DP4A)
#ifdef NITI_DOT_EMULATE
/* dp4a.s32.s32 d, a, b, c: d = c + the signed 4-byte dot product, modulo 2^32. */
NITI_INLINE int niti_dp4a(uint a, uint b, int c)
{
    return (int)((uint)c + (uint)niti_dot4_acc(0, a, b));
}
#else
NITI_INLINE int niti_dp4a(uint a, uint b, int c)
{
    int d;
    __asm__("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}
#endif
#define NITI_DOT4_ACC(acc, a, b) ((acc) = niti_dp4a((a), (b), (acc)))

#elif defined(NITI_DOT_KHR)
/* The saturating form adds the accumulator inside the instruction. It saturates only when the
 * exact result leaves the int32 range, which the split sizes rule out, so it is exact here. */
#ifdef NITI_DOT_EMULATE
NITI_INLINE int niti_dot_acc_sat_emulated(uint a, uint b, int c)
{
    long s = (long)c + (long)niti_dot4_acc(0, a, b);
    return (int)clamp(s, (long)INT_MIN, (long)INT_MAX);
}
#define NITI_KHR_DOT_ACC_SAT(a, b, c) niti_dot_acc_sat_emulated((a), (b), (c))
#else
#pragma OPENCL EXTENSION cl_khr_integer_dot_product : enable
#define NITI_KHR_DOT_ACC_SAT(a, b, c) dot_acc_sat_4x8packed_ss_int((a), (b), (c))
#endif
#define NITI_DOT4_ACC(acc, a, b) ((acc) = NITI_KHR_DOT_ACC_SAT((a), (b), (acc)))

#else
#define NITI_DOT4_ACC(acc, a, b) ((acc) = niti_dot4_acc((acc), (a), (b)))
#endif

/* Byte q (reduction index within the tile) of row r of a packed local tile of T rows. */
#define NITI_PK(q, r, T) ((((q) >> 2) * (T) + (r)) * 4 + ((q) & 3))

/* The probe the backend runs before using a dot-product path: out[i] = NITI_DOT4_ACC(c[i], a[i],
 * b[i]), compared with the host's exact result. */
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void niti_dot4_probe(
    __global const uint *a, __global const uint *b, __global const int *c, __global int *out, int n)
{
    for (int i = 0; i < n; i++) {
        int acc = c[i];
        NITI_DOT4_ACC(acc, a[i], b[i]);
        out[i] = acc;
    }
}

/* Output row m = (img, y, x) of the implicit GEMM: its pixel offset in X and its (y, x); a row
 * past M gets y = FAR (outside every image). */
NITI_INLINE void niti_m_pixel(int m, int M, int HWo, int Wout, int Hin, int Win, int Cin,
                              long *pix, int *y, int *x)
{
    if (m < M) {
        int img = m / HWo, r = m - img * HWo;
        *y = r / Wout;
        *x = r - *y * Wout;
        *pix = (long)img * Hin * Win * Cin + ((long)*y * Win + *x) * Cin;
    } else {
        *y = NITI_FAR;
        *x = 0;
        *pix = 0;
    }
}

/* One entry of the per-tile im2col table of the reduction index kk = (ky, kx, c): dy = ky - pad,
 * dx = kx - pad and the element offset relative to the output pixel. Out of range: dy = FAR. */
NITI_INLINE void niti_kk_entry(int kk, int ke, int Cin, int k, int Win, int pad, __local int *tbl,
                               int slot)
{
    int dy = NITI_FAR, dx = 0, off = 0;
    if (kk < ke) {
        int t = kk / Cin, c = kk - t * Cin;
        int ky = t / k, kx = t - ky * k;
        dy = ky - pad;
        dx = kx - pad;
        off = (dy * Win + dx) * Cin + c;
    }
    tbl[slot] = dy;
    tbl[NITI_TK + slot] = dx;
    tbl[2 * NITI_TK + slot] = off;
}

/* The implicit-GEMM body, specialised by the constant tile sizes of each kernel below (always
 * inlined, so the loops over RM/RN unroll into registers). */
NITI_INLINE void niti_gemm_body(__global const char *X, __global const char *B, __global int *Y,
                                int Hin, int Win, int Cin, int Hout, int Wout, int k, int pad,
                                int M, int Ncol, int K, int kchunk, __local uint *As,
                                __local uint *Bs, __local int *tbl, const int TM, const int TN,
                                const int RM, const int RN)
{
    const int WGX = TN / RN, WGY = TM / RM, NT = WGX * WGY, LA = TM * NITI_TK / NT;
    const int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
    const int lid = ty * WGX + tx;
    const int m0 = (int)get_group_id(1) * TM, n0 = (int)get_group_id(0) * TN;
    const int split = (int)get_group_id(2);
    const int kb = split * kchunk, ke = min(K, kb + kchunk);
    const int HWo = Hout * Wout;
    __local char *Ab = (__local char *)As, *Bb = (__local char *)Bs;
#if NITI_TILE_FAST
    const int kq = lid % NITI_TK; /* this item's column of every A tile */
    /* The A rows this item loads never change: decompose them once. */
    long a_pix[8];
    int a_y[8], a_x[8];
    for (int j = 0; j < LA; j++) {
        int m = m0 + lid / NITI_TK + j * (NT / NITI_TK);
        niti_m_pixel(m, M, HWo, Wout, Hin, Win, Cin, &a_pix[j], &a_y[j], &a_x[j]);
    }
#endif
    for (int s = lid; s < NITI_TK; s += NT) niti_kk_entry(kb + s, ke, Cin, k, Win, pad, tbl, s);
    barrier(CLK_LOCAL_MEM_FENCE);

    int acc[4][4];
    for (int i = 0; i < RM; i++)
        for (int j = 0; j < RN; j++) acc[i][j] = 0;

    int cur = 0;
    for (int k0 = kb; k0 < ke; k0 += NITI_TK) {
        __local int *t = tbl + cur * 3 * NITI_TK;
#if NITI_TILE_FAST
        int dy = t[kq], dx = t[NITI_TK + kq], off = t[2 * NITI_TK + kq];
        for (int j = 0; j < LA; j++) {
            int mm = lid / NITI_TK + j * (NT / NITI_TK);
            int iy = a_y[j] + dy, ix = a_x[j] + dx;
            Ab[NITI_PK(kq, mm, TM)] =
                (iy >= 0 && iy < Hin && ix >= 0 && ix < Win) ? X[a_pix[j] + off] : (char)0;
        }
#else
        for (int e = lid; e < TM * NITI_TK; e += NT) {
            int mm = e / NITI_TK, q = e - mm * NITI_TK;
            long pix;
            int y, x;
            niti_m_pixel(m0 + mm, M, HWo, Wout, Hin, Win, Cin, &pix, &y, &x);
            int iy = y + t[q], ix = x + t[NITI_TK + q];
            Ab[NITI_PK(q, mm, TM)] = (iy >= 0 && iy < Hin && ix >= 0 && ix < Win)
                                         ? X[pix + t[2 * NITI_TK + q]]
                                         : (char)0;
        }
#endif
        for (int e = lid; e < TN * NITI_TK; e += NT) {
            int nn = e / NITI_TK, q = e - nn * NITI_TK;
            int kk = k0 + q, n = n0 + nn;
            Bb[NITI_PK(q, nn, TN)] = (n < Ncol && kk < ke) ? B[(long)n * K + kk] : (char)0;
        }
        /* the table of the next tile, into the other half */
        for (int s = lid; s < NITI_TK; s += NT)
            niti_kk_entry(k0 + NITI_TK + s, ke, Cin, k, Win, pad, tbl + (cur ^ 1) * 3 * NITI_TK, s);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int g = 0; g < NITI_TK / 4; g++) {
            uint a[4], b[4];
            for (int i = 0; i < RM; i++) a[i] = As[g * TM + ty + i * WGY];
            for (int j = 0; j < RN; j++) b[j] = Bs[g * TN + tx + j * WGX];
            for (int i = 0; i < RM; i++)
                for (int j = 0; j < RN; j++) NITI_DOT4_ACC(acc[i][j], a[i], b[j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        cur ^= 1;
    }

    __global int *Ys = Y + (long)split * M * Ncol;
    for (int i = 0; i < RM; i++) {
        int m = m0 + ty + i * WGY;
        if (m >= M) continue;
        for (int j = 0; j < RN; j++) {
            int n = n0 + tx + j * WGX;
            if (n < Ncol) Ys[(long)m * Ncol + n] = acc[i][j];
        }
    }
}

#define NITI_GEMM_ARGS                                                                             \
    __global const char *X, __global const char *B, __global int *Y, int Hin, int Win, int Cin,   \
        int Hout, int Wout, int k, int pad, int M, int Ncol, int K, int kchunk
#define NITI_GEMM_PASS X, B, Y, Hin, Win, Cin, Hout, Wout, k, pad, M, Ncol, K, kchunk

/* Wide tiles: TM x TN outputs, RM x RN per item. */
__kernel __attribute__((reqd_work_group_size(NITI_WGX, NITI_WGY, 1))) void niti_conv_gemm(
    NITI_GEMM_ARGS)
{
    __local uint As[NITI_TK / 4 * NITI_TM];
    __local uint Bs[NITI_TK / 4 * NITI_TN];
    __local int tbl[6 * NITI_TK];
    niti_gemm_body(NITI_GEMM_PASS, As, Bs, tbl, NITI_TM, NITI_TN, NITI_RM, NITI_RN);
}

/* Narrow outputs (few columns: a classifier, the dgrad of a layer with few inputs): TM x WGX
 * tiles, RM x 1 per item, the same work-group shape. */
__kernel __attribute__((reqd_work_group_size(NITI_WGX, NITI_WGY, 1))) void niti_conv_gemm_nc(
    NITI_GEMM_ARGS)
{
    __local uint As[NITI_TK / 4 * NITI_TM];
    __local uint Bs[NITI_TK / 4 * NITI_WGX];
    __local int tbl[6 * NITI_TK];
    niti_gemm_body(NITI_GEMM_PASS, As, Bs, tbl, NITI_TM, NITI_WGX, NITI_RM, 1);
}

/* Wt[i, ky', kx', o] = W[o, k-1-ky', k-1-kx', i]: dgrad as a forward conv of E. */
__kernel void niti_wt_transpose(__global const char *W, __global char *Wt, int O, int k, int I)
{
    ulong idx = get_global_id(0);
    ulong total = (ulong)O * k * k * I;
    if (idx >= total) return;
    int o = (int)(idx % (ulong)O);
    ulong r = idx / (ulong)O;
    int kx = (int)(r % (ulong)k);
    r /= (ulong)k;
    int ky = (int)(r % (ulong)k);
    int i = (int)(r / (ulong)k);
    Wt[idx] = W[(((ulong)o * k + (k - 1 - ky)) * k + (k - 1 - kx)) * I + i];
}

/* out[i] = sum over S slices of part[s*MN + i], exactly (in int64). */
__kernel void niti_sum_splits_to_i32(__global const int *part, int S, ulong MN, __global int *out)
{
    ulong i = get_global_id(0);
    if (i >= MN) return;
    long s = 0;
    for (int j = 0; j < S; j++) s += part[(ulong)j * MN + i];
    out[i] = (int)s;
}

__kernel void niti_sum_splits_to_i64(__global const int *part, int S, ulong MN, __global long *out)
{
    ulong i = get_global_id(0);
    if (i >= MN) return;
    long s = 0;
    for (int j = 0; j < S; j++) s += part[(ulong)j * MN + i];
    out[i] = s;
}

__kernel void niti_sum_splits_i64(__global const long *part, int S, ulong MN, __global long *out)
{
    ulong i = get_global_id(0);
    if (i >= MN) return;
    long s = 0;
    for (int j = 0; j < S; j++) s += part[(ulong)j * MN + i];
    out[i] = s;
}

/* One entry of the per-tile table of the reduction index m = (img, y, x) of wgrad. */
NITI_INLINE void niti_m_entry(int m, int me, int HWo, int Wo, int H, int W, int I,
                              __local long *base, __local int *ys, __local int *xs, int slot)
{
    int y = NITI_FAR, x = 0;
    long b = 0;
    if (m < me) {
        int img = m / HWo, r = m - img * HWo;
        y = r / Wo;
        x = r - y * Wo;
        b = (long)img * H * W * I + ((long)y * W + x) * I;
    }
    base[slot] = b;
    ys[slot] = y;
    xs[slot] = x;
}

/* im2col column kk = (ky, kx, c) of wgrad: dy, dx and the element offset relative to the output
 * pixel; a column past K gets dy = FAR. */
NITI_INLINE void niti_kk_col(int kk, int K, int I, int k, int W, int pad, int *dy, int *dx,
                             int *off)
{
    *dy = NITI_FAR, *dx = 0, *off = 0;
    if (kk < K) {
        int t = kk / I, c = kk - t * I;
        int ky = t / k, kx = t - ky * k;
        *dy = ky - pad;
        *dx = kx - pad;
        *off = (*dy * W + *dx) * I + c;
    }
}

NITI_INLINE void niti_wgrad_body(__global const char *A, __global const char *E, __global long *G,
                                 int H, int W, int I, int Ho, int Wo, int k, int pad, int O, int K,
                                 int M, int mchunk, __local uint *Es, __local uint *As,
                                 __local long *tb, __local int *tyx, const int TM, const int TN,
                                 const int RM, const int RN)
{
    const int WGX = TN / RN, WGY = TM / RM, NT = WGX * WGY;
    const int tx = (int)get_local_id(0), ty = (int)get_local_id(1);
    const int lid = ty * WGX + tx;
    const int o0 = (int)get_group_id(1) * TM, c0 = (int)get_group_id(0) * TN;
    const int split = (int)get_group_id(2);
    const int mb = split * mchunk, me = min(M, mb + mchunk);
    const int HWo = Ho * Wo;

    __local char *Eb = (__local char *)Es, *Ab = (__local char *)As;
#if NITI_TILE_FAST
    /* The im2col column this item loads never changes (NT is a multiple of TN): decompose it. */
    const int col = lid % TN;
    int b_dy, b_dx, b_off;
    niti_kk_col(c0 + col, K, I, k, W, pad, &b_dy, &b_dx, &b_off);
    const int orow = lid % TM, o_ok = o0 + orow < O;
#endif

    for (int s = lid; s < NITI_TK; s += NT)
        niti_m_entry(mb + s, me, HWo, Wo, H, W, I, tb, tyx, tyx + NITI_TK, s);
    barrier(CLK_LOCAL_MEM_FENCE);

    int acc[4][4];
    for (int i = 0; i < RM; i++)
        for (int j = 0; j < RN; j++) acc[i][j] = 0;

    int cur = 0;
    for (int mt = mb; mt < me; mt += NITI_TK) {
        __local long *tbase = tb + cur * NITI_TK;
        __local int *tys = tyx + cur * 2 * NITI_TK, *txs = tys + NITI_TK;
        for (int e = lid; e < TM * NITI_TK; e += NT) {
            int mq = e / TM, m = mt + mq;
#if !NITI_TILE_FAST
            int orow = e - mq * TM, o_ok = o0 + orow < O;
#endif
            Eb[NITI_PK(mq, orow, TM)] = (o_ok && m < me) ? E[(long)m * O + o0 + orow] : (char)0;
        }
        for (int e = lid; e < TN * NITI_TK; e += NT) {
            int mq = e / TN;
#if !NITI_TILE_FAST
            int col = e - mq * TN, b_dy, b_dx, b_off;
            niti_kk_col(c0 + col, K, I, k, W, pad, &b_dy, &b_dx, &b_off);
#endif
            int iy = tys[mq] + b_dy, ix = txs[mq] + b_dx;
            Ab[NITI_PK(mq, col, TN)] =
                (iy >= 0 && iy < H && ix >= 0 && ix < W) ? A[tbase[mq] + b_off] : (char)0;
        }
        for (int s = lid; s < NITI_TK; s += NT) {
            int nxt = cur ^ 1;
            niti_m_entry(mt + NITI_TK + s, me, HWo, Wo, H, W, I, tb + nxt * NITI_TK,
                         tyx + nxt * 2 * NITI_TK, tyx + nxt * 2 * NITI_TK + NITI_TK, s);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int g = 0; g < NITI_TK / 4; g++) {
            uint a[4], b[4];
            for (int i = 0; i < RM; i++) a[i] = Es[g * TM + ty + i * WGY];
            for (int j = 0; j < RN; j++) b[j] = As[g * TN + tx + j * WGX];
            for (int i = 0; i < RM; i++)
                for (int j = 0; j < RN; j++) NITI_DOT4_ACC(acc[i][j], a[i], b[j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        cur ^= 1;
    }

    __global long *Gs = G + (long)split * O * K;
    for (int i = 0; i < RM; i++) {
        int o = o0 + ty + i * WGY;
        if (o >= O) continue;
        for (int j = 0; j < RN; j++) {
            int c = c0 + tx + j * WGX;
            if (c < K) Gs[(long)o * K + c] = (long)acc[i][j];
        }
    }
}

#define NITI_WGRAD_ARGS                                                                            \
    __global const char *A, __global const char *E, __global long *G, int H, int W, int I,       \
        int Ho, int Wo, int k, int pad, int O, int K, int M, int mchunk
#define NITI_WGRAD_PASS A, E, G, H, W, I, Ho, Wo, k, pad, O, K, M, mchunk

__kernel __attribute__((reqd_work_group_size(NITI_WGX, NITI_WGY, 1))) void niti_conv_wgrad(
    NITI_WGRAD_ARGS)
{
    __local uint Es[NITI_TK / 4 * NITI_TM];
    __local uint As[NITI_TK / 4 * NITI_TN];
    __local long tb[2 * NITI_TK];
    __local int tyx[4 * NITI_TK];
    niti_wgrad_body(NITI_WGRAD_PASS, Es, As, tb, tyx, NITI_TM, NITI_TN, NITI_RM, NITI_RN);
}

/* Few output rows (a classifier's O = 10): WGY x TN tiles, 1 x RN per item. */
__kernel __attribute__((reqd_work_group_size(NITI_WGX, NITI_WGY, 1))) void niti_conv_wgrad_nr(
    NITI_WGRAD_ARGS)
{
    __local uint Es[NITI_TK / 4 * NITI_WGY];
    __local uint As[NITI_TK / 4 * NITI_TN];
    __local long tb[2 * NITI_TK];
    __local int tyx[4 * NITI_TK];
    niti_wgrad_body(NITI_WGRAD_PASS, Es, As, tb, tyx, NITI_WGY, NITI_TN, 1, NITI_RN);
}

#if NITI_TK % 4 != 0 || NITI_TM % NITI_RM != 0 || NITI_TN % NITI_RN != 0 || NITI_RM > 4 ||      \
    NITI_RN > 4
#error "niti: unsupported conv tile configuration"
#endif
