/* CPU versions of the reductions and elementwise ops (used with the "vnni" and "portable" GEMM
 * paths, i.e. on CPU devices). A CPU runtime such as POCL runs a work-group as a loop over its
 * work-items in one thread and pays about a microsecond per work-group, and barriers force private
 * variables into memory; so these kernels are "tasks": work-groups of one item, each over a
 * contiguous range of `chunk` elements (or rows), with explicit vectors. The results are the
 * same as the kernels of requant.cl, update.cl and elementwise.cl, element for element.
 *
 * Two-stage max |x|: niti_cpu_max_abs_* writes one ulong partial per task; the consumers
 * (requant, decay, update) reduce the np partials (a few dozen) in every task. */

#define NITI_TASK __attribute__((reqd_work_group_size(1, 1, 1)))

inline ulong niti_partials_max(__global const ulong *p, int np)
{
    ulong m = 0;
    for (int j = 0; j < np; j++) m = max(m, p[j]);
    return m;
}

/* The range [*i0, *i1) of this task. */
inline void niti_task_range(ulong n, ulong chunk, ulong *i0, ulong *i1)
{
    ulong t = get_global_id(0);
    *i0 = t * chunk;
    *i1 = min(n, *i0 + chunk);
    if (*i0 > *i1) *i0 = *i1;
}

/* Stage 1 of max |x| over int32 or int64 values T: W-lane vectors of magnitudes (MT: uint16 of
 * niti_vabs32 or ulong8 of niti_vabs64, reduced by HMAX), then the tail value by value. */
#define NITI_CPU_MAX_ABS_KERNEL(NAME, T, W, MT, VABS, HMAX)                                        \
    __kernel NITI_TASK void NAME(__global const T *x, ulong n, __global ulong *partials,          \
                                 ulong chunk)                                                      \
    {                                                                                              \
        ulong i0, i1;                                                                              \
        niti_task_range(n, chunk, &i0, &i1);                                                       \
        MT mv = (MT)0;                                                                             \
        ulong i = i0;                                                                              \
        for (; i + W <= i1; i += W) mv = max(mv, VABS(vload##W(0, x + i)));                        \
        ulong m = HMAX(mv);                                                                        \
        for (; i < i1; i++) m = max(m, niti_abs64((long)x[i]));                                    \
        partials[get_global_id(0)] = m;                                                            \
    }

NITI_CPU_MAX_ABS_KERNEL(niti_cpu_max_abs_i32, int, 16, uint16, niti_vabs32, niti_hmax16)
NITI_CPU_MAX_ABS_KERNEL(niti_cpu_max_abs_i64, long, 8, ulong8, niti_vabs64, niti_hmax8)

/* Section 3 rounding of 16 int32 values by s in [1, 31] (psr or round), clamped to +-127. */
inline char16 niti_vshift32(int16 v, int s, int psr)
{
    uint16 a = niti_vabs32(v);
    uint16 q = a >> (uint)s;
    uint16 r = a & (uint16)((1u << s) - 1u);
    int16 up;
    if (psr) {
        int h = s >> 1;
        uint16 hi = r >> (uint)h;
        uint16 lo = (r & (uint16)((1u << h) - 1u)) << (uint)(s & 1);
        up = hi > lo;
    } else {
        up = r >= (uint16)(1u << (s - 1));
    }
    q = min(q - as_uint16(up), (uint16)127); /* up is -1 where true */
    int16 qs = as_int16(q);
    return convert_char16(select(qs, -qs, v < 0));
}

/* Requant of int32 or int64 accumulators T: the shift from the partials of max |x|, then this
 * task's range, first by VEC (a loop over whole vectors from i on, or nothing), then value by
 * value; task 0 writes the scalars. The value loop's body and the scalar writes are the same lines
 * as requant.cl's NITI_REQUANT_KERNEL (the GPU form: work-groups of NITI_RED_WG, a grid-stride
 * loop); one copy of them would be a helper in common.cl (the program's first part), not here. */
#define NITI_CPU_REQUANT_KERNEL(NAME, T, VEC)                                                      \
    __kernel NITI_TASK void NAME(__global const T *acc, ulong n, __global const ulong *partials,  \
                                 int np, int rule, int rounding, __global char *out,              \
                                 __global int *scalars, int shift_slot, int exp_in_slot,          \
                                 int exp_add, int exp_slot, ulong chunk)                          \
    {                                                                                              \
        int s = niti_requant_shift(niti_bw(niti_partials_max(partials, np)), rule);                \
        int psr = rule == 1 || rounding == 1;                                                      \
        ulong i0, i1;                                                                              \
        niti_task_range(n, chunk, &i0, &i1);                                                       \
        ulong i = i0;                                                                              \
        VEC;                                                                                       \
        for (; i < i1; i++) {                                                                      \
            long v = (long)acc[i];                                                                 \
            out[i] = (char)(s == 0 ? niti_clamp127(v) : psr ? niti_shift_psr(v, s)                 \
                                                             : niti_shift_round(v, s));            \
        }                                                                                          \
        if (get_global_id(0) == 0) {                                                               \
            scalars[shift_slot] = s;                                                               \
            if (exp_slot >= 0)                                                                     \
                scalars[exp_slot] = (exp_in_slot >= 0 ? scalars[exp_in_slot] : 0) + exp_add + s;  \
        }                                                                                          \
    }

/* The int32 vectors: 16 values at a time (int32 values give s <= 25; the test s < 32 keeps
 * niti_vshift32's 32-bit shifts defined whatever the partials say). */
#define NITI_REQUANT_VEC16                                                                         \
    if (s == 0) {                                                                                  \
        for (; i + 16 <= i1; i += 16)                                                              \
            NITI_ST16(out + i, convert_char16(clamp(vload16(0, acc + i), -127, 127)));             \
    } else if (s < 32) {                                                                           \
        for (; i + 16 <= i1; i += 16)                                                              \
            NITI_ST16(out + i, niti_vshift32(vload16(0, acc + i), s, psr));                        \
    }

NITI_CPU_REQUANT_KERNEL(niti_cpu_requant_i32, int, NITI_REQUANT_VEC16)
/* int64 accumulators stay value by value (no 64-bit twin of niti_vshift32): they come only from
 * reductions too long for an exact int32 sum (niti_acc_dtype: K * 128 * 127 >= 2^31, K >= 132104
 * terms, far beyond any preset's layer), so this kernel is cold. */
NITI_CPU_REQUANT_KERNEL(niti_cpu_requant_i64, long, (void)0)

/* ---------------------------------------------------------------- update (section 7) */

__kernel NITI_TASK void niti_cpu_update_decay(ulong n, __global long *G, __global const char *W,
                                              __global const ulong *partials_in, int np,
                                              __global ulong *partials_out, ulong chunk)
{
    int b0 = niti_bw(niti_partials_max(partials_in, np));
    ulong i0, i1;
    niti_task_range(n, chunk, &i0, &i1);
    ulong m = 0;
    for (ulong i = i0; i < i1; i++) {
        long g = G[i] + niti_decay_term(W[i], b0);
        G[i] = g;
        m = max(m, niti_abs64(g));
    }
    partials_out[get_global_id(0)] = m;
}

/* gradquant of 8 values with shift s (section 7: -1 zero, 0 clamp, else psr). */
inline long8 niti_vgradquant(long8 G, int s)
{
    if (s < 0) return (long8)0;
    if (s == 0) return clamp(G, (long8)-127, (long8)127);
    ulong8 a = niti_vabs64(G);
    ulong8 q = a >> (ulong)s;
    ulong8 r = a & (ulong8)((1UL << s) - 1UL);
    int h = s >> 1;
    ulong8 hi = r >> (ulong)h;
    ulong8 lo = (r & (ulong8)((1UL << h) - 1UL)) << (ulong)(s & 1);
    q = min(q - as_ulong8(hi > lo), (ulong8)127);
    long8 qs = as_long8(q);
    return select(qs, -qs, G < 0);
}

__kernel NITI_TASK void niti_cpu_update_apply(ulong n, __global const long *G,
                                              __global const ulong *partials, int np, int mu,
                                              __global char *W, __global short *master,
                                              int has_master, __global char *g_out, int has_gout,
                                              ulong chunk)
{
    int s = niti_gradquant_shift(niti_bw(niti_partials_max(partials, np)), mu);
    ulong i0, i1;
    niti_task_range(n, chunk, &i0, &i1);
    ulong i = i0;
    for (; i + 8 <= i1; i += 8) {
        long8 g = niti_vgradquant(vload8(0, G + i), s);
        if (has_gout) NITI_ST8(g_out + i, convert_char8(g));
        if (has_master) {
            long8 v = clamp(convert_long8(vload8(0, master + i)) - g, (long8)-32512, (long8)32512);
            NITI_ST16(master + i, convert_short8(v));
            ulong8 a = niti_vabs64(v);
            ulong8 q = min((a >> 8) - as_ulong8((a & (ulong8)255) >= (ulong8)128), (ulong8)127);
            long8 qs = as_long8(q);
            NITI_ST8(W + i, convert_char8(select(qs, -qs, v < 0)));
        } else {
            long8 w = clamp(convert_long8(vload8(0, W + i)) - g, (long8)-127, (long8)127);
            NITI_ST8(W + i, convert_char8(w));
        }
    }
    for (; i < i1; i++) {
        niti_update_one(i, G, s, W, master, has_master, g_out, has_gout);
    }
}

/* ---------------------------------------------------------------- elementwise */

__kernel NITI_TASK void niti_cpu_relu_fwd(ulong n, __global const char *A, __global char *Y,
                                          ulong chunk)
{
    ulong i0, i1;
    niti_task_range(n, chunk, &i0, &i1);
    ulong i = i0;
    for (; i + 16 <= i1; i += 16) NITI_ST16(Y + i, max(vload16(0, A + i), (char16)0));
    for (; i < i1; i++) Y[i] = max(A[i], (char)0);
}

__kernel NITI_TASK void niti_cpu_relu_bwd(ulong n, __global const char *A, __global const char *E,
                                          __global char *Eprev, ulong chunk)
{
    ulong i0, i1;
    niti_task_range(n, chunk, &i0, &i1);
    ulong i = i0;
    for (; i + 16 <= i1; i += 16) {
        char16 a = vload16(0, A + i), e = vload16(0, E + i);
        NITI_ST16(Eprev + i, select((char16)0, e, a > (char16)0));
    }
    for (; i < i1; i++) Eprev[i] = A[i] > 0 ? E[i] : (char)0;
}

/* Tasks of `per` output rows (n, y) each. */
__kernel NITI_TASK void niti_cpu_maxpool_fwd(int N, int H, int W, int C, __global const char *A,
                                             __global char *Y, __global uchar *argmax, int per)
{
    const int Ho = H / 2, Wo = W / 2;
    const int r0 = (int)get_global_id(0) * per, r1 = min(N * Ho, r0 + per);
    for (int row = r0; row < r1; row++) {
        int n = row / Ho, y = row - n * Ho;
        __global const char *a0 = A + (((long)n * H + 2 * y) * W) * C;
        __global const char *a1 = a0 + (long)W * C;
        __global char *yo = Y + (long)row * Wo * C;
        __global uchar *am = argmax + (long)row * Wo * C;
        for (int x = 0; x < Wo; x++) {
            __global const char *p0 = a0 + 2 * x * C, *p1 = a1 + 2 * x * C;
            long o = (long)x * C;
            int c = 0;
            for (; c + 16 <= C; c += 16) {
                char16 v0 = vload16(0, p0 + c), v1 = vload16(0, p0 + C + c);
                char16 v2 = vload16(0, p1 + c), v3 = vload16(0, p1 + C + c);
                char16 best = v0;
                uchar16 arg = (uchar16)0;
                char16 gt = v1 > best;
                best = select(best, v1, gt), arg = select(arg, (uchar16)1, gt);
                gt = v2 > best;
                best = select(best, v2, gt), arg = select(arg, (uchar16)2, gt);
                gt = v3 > best;
                best = select(best, v3, gt), arg = select(arg, (uchar16)3, gt);
                NITI_ST16(yo + o + c, best);
                NITI_ST16(am + o + c, arg);
            }
            for (; c < C; c++) {
                char v[4] = {p0[c], p0[C + c], p1[c], p1[C + c]};
                char best = v[0];
                uchar arg = 0;
                for (int d = 1; d < 4; d++)
                    if (v[d] > best) best = v[d], arg = (uchar)d;
                yo[o + c] = best;
                am[o + c] = arg;
            }
        }
    }
}

/* Tasks of `per` rows (n, y) of Eprev [N,H,W,C]. */
__kernel NITI_TASK void niti_cpu_maxpool_bwd(int N, int H, int W, int C, __global const char *E,
                                             __global const uchar *argmax, __global char *Eprev,
                                             int per)
{
    const int Ho = H / 2, Wo = W / 2;
    const int r0 = (int)get_global_id(0) * per, r1 = min(N * H, r0 + per);
    for (int row = r0; row < r1; row++) {
        int n = row / H, y = row - n * H;
        __global char *d = Eprev + (long)row * W * C;
        if (y >= 2 * Ho) {
            long i = 0, len = (long)W * C;
            for (; i + 16 <= len; i += 16) NITI_ST16(d + i, (char16)0);
            for (; i < len; i++) d[i] = 0;
            continue;
        }
        long ob = ((long)n * Ho + y / 2) * Wo * C;
        uchar dy = (uchar)((y & 1) * 2);
        for (int x = 0; x < W; x++) {
            __global char *dx = d + (long)x * C;
            int c = 0;
            if (x >= 2 * Wo) {
                for (; c + 16 <= C; c += 16) NITI_ST16(dx + c, (char16)0);
                for (; c < C; c++) dx[c] = 0;
                continue;
            }
            long o = ob + (long)(x / 2) * C;
            uchar want = dy + (uchar)(x & 1);
            for (; c + 16 <= C; c += 16) {
                uchar16 am = vload16(0, argmax + o + c);
                char16 e = vload16(0, E + o + c);
                NITI_ST16(dx + c, select((char16)0, e, as_char16(am == (uchar16)want)));
            }
            for (; c < C; c++) dx[c] = argmax[o + c] == want ? E[o + c] : (char)0;
        }
    }
}

/* Dropout: the keep bits of F features (one byte each), then the mask on N rows in tasks of
 * `per` rows. out may be in. */
__kernel void niti_dropout_mask(int F, ulong seed, uint t, uint layer, __global uchar *mask)
{
    int j = (int)get_global_id(0);
    if (j >= F) return;
    mask[j] = (uchar)(niti_philox_x0(seed, (uint)j, t, 2u, layer) & 1u);
}

__kernel NITI_TASK void niti_cpu_dropout_apply(int N, int F, __global const uchar *mask,
                                               __global const char *in, __global char *out,
                                               int per)
{
    const int r0 = (int)get_global_id(0) * per, r1 = min(N, r0 + per);
    for (int row = r0; row < r1; row++) {
        __global const char *s = in + (long)row * F;
        __global char *d = out + (long)row * F;
        int j = 0;
        for (; j + 16 <= F; j += 16) {
            uchar16 k = vload16(0, mask + j);
            NITI_ST16(d + j, select((char16)0, vload16(0, s + j), as_char16(k != (uchar16)0)));
        }
        for (; j < F; j++) d[j] = mask[j] ? s[j] : (char)0;
    }
}
