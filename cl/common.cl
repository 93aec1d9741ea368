/* Contract primitives (shared/design/numerics.md) in OpenCL C 1.2, the same definitions as
 * src/numerics.c. Right shifts only ever act on non-negative (unsigned) values; signs are applied
 * to magnitudes. This file is concatenated first into the program (see src/backends/opencl/runtime.c).
 *
 * Every OpenCL compiler must give the same bits, so the kernels keep to forms that all of them
 * tested (POCL, Mesa rusticl, Oclgrind, clang/NVPTX) get right: |x| and signs branchless on
 * unsigned values (no select on a signed 64-bit comparison: rusticl on llvmpipe miscompiles it),
 * divisions by powers of two as shifts of magnitudes (no 64-bit division by a constant), byte
 * masks instead of selects of bytes in loops (one crashed rusticl's code generator). */
#ifdef NITI_FORCE_BUILD_ERROR
#error "niti: NITI_FORCE_BUILD_ERROR is defined (forced kernel build failure, a test hook)"
#endif

#ifndef NITI_RED_WG
#define NITI_RED_WG 256 /* work-group size of the reductions */
#endif

/* Stores of 8 and 16 bytes (any vector type of that size) at any address. On CPU devices (the
 * vnni and portable paths) a plain store through an unaligned type: POCL splits vstore8/vstore16
 * of bytes into byte stores. Elsewhere the vstore builtins. */
#if defined(NITI_VNNI) || defined(NITI_PORTABLE)
typedef ulong niti_ulong_u __attribute__((aligned(1)));
typedef char16 niti_char16_u __attribute__((aligned(1)));
#define NITI_ST8(p, v) (*(__global niti_ulong_u *)(p) = as_ulong(v))
#define NITI_ST16(p, v) (*(__global niti_char16_u *)(p) = as_char16(v))
#else
#define NITI_ST8(p, v) vstore8(as_uchar8(v), 0, (__global uchar *)(p))
#define NITI_ST16(p, v) vstore16(as_uchar16(v), 0, (__global uchar *)(p))
#endif

/* |x| of 16 int32 (8 int64) lanes as magnitudes (INT_MIN, LONG_MIN too), and the largest
 * lane. OpenCL C has no generics: one pair per width. */
inline uint16 niti_vabs32(int16 v)
{
    uint16 u = as_uint16(v), m = (uint16)0 - (u >> 31); /* all ones where v < 0 */
    return (u ^ m) - m;
}
inline uint niti_hmax16(uint16 v)
{
    uint8 a = max(v.lo, v.hi);
    uint4 b = max(a.lo, a.hi);
    uint2 c = max(b.lo, b.hi);
    return max(c.lo, c.hi);
}
inline ulong8 niti_vabs64(long8 v)
{
    ulong8 u = as_ulong8(v), m = (ulong8)0 - (u >> 63);
    return (u ^ m) - m;
}
inline ulong niti_hmax8(ulong8 v)
{
    ulong4 b = max(v.lo, v.hi);
    ulong2 c = max(b.lo, b.hi);
    return max(c.lo, c.hi);
}

/* |x| as a magnitude, defined for LONG_MIN too. Branchless, on unsigned values: Mesa rusticl
 * (llvmpipe, LLVM 15) miscompiles the select form `x < 0 ? 0 - (ulong)x : (ulong)x` (it returns
 * (ulong)x for x = -7). m is all ones when x < 0, and (x ^ m) - m = ~x + 1 = -x then. */
inline ulong niti_abs64(long x)
{
    ulong u = (ulong)x, m = (ulong)0 - (u >> 63);
#ifdef NITI_TEST_MISCOMPILE
    /* Tests only (-DNITI_TEST_MISCOMPILE through NITI_CL_EXTRA_OPTIONS): what a compiler that
     * miscompiles the 64-bit |x| produces (|-7| = 2^64 - 7), so that the known-answer battery
     * is seen to refuse such a device. */
    if (x < 0 && x > -16) return u;
#endif
    return (u ^ m) - m;
}

inline int niti_clamp127(long x) { return (int)clamp(x, -127L, 127L); }

/* Section 2: 0 if m == 0, else the smallest b >= 0 with m <= 2^b. */
inline int niti_bw(ulong m) { return m <= 1 ? 0 : 64 - (int)clz(m - 1); }

/* sign(x) * min(q, 127), in 32-bit arithmetic: m is all ones when x < 0, and (v ^ m) - m = -v
 * then. */
inline int niti_signed_q(long x, ulong q)
{
    uint v = (uint)min(q, (ulong)127), m = 0u - (uint)((ulong)x >> 63);
    return (int)((v ^ m) - m);
}

/* Section 3, s in [1, 63]. */
inline int niti_shift_round(long x, int s)
{
    ulong a = niti_abs64(x);
    ulong q = a >> s;
    ulong r = a & ((1UL << s) - 1);
    q += r >= (1UL << (s - 1)) ? 1 : 0;
    return niti_signed_q(x, q);
}

inline int niti_shift_psr(long x, int s)
{
    ulong a = niti_abs64(x);
    ulong q = a >> s;
    ulong r = a & ((1UL << s) - 1);
    int h = s >> 1;
    ulong hi = r >> h;
    ulong lo = r & ((1UL << h) - 1);
    if (s & 1) lo <<= 1;
    q += hi > lo ? 1 : 0;
    return niti_signed_q(x, q);
}

inline int niti_shift_sr(long x, int s, ulong u)
{
    ulong a = niti_abs64(x);
    ulong q = a >> s;
    ulong r = a & ((1UL << s) - 1);
    q += r > u ? 1 : 0;
    return niti_signed_q(x, q);
}

/* Section 4. rule: 0 = niti21, 1 = niti20. */
inline int niti_requant_shift(int bw, int rule)
{
    int s = bw - 7;
    if (rule == 1) {
        if (s == 1) return 2;
        return s > 1 ? s : 0;
    }
    return s > 0 ? s : 0;
}

/* Section 7: -1 means g = 0, 0 means clamp127(G), s > 0 means psr(G, s). */
inline int niti_gradquant_shift(int b, int mu)
{
    if (b == 0) return -1;
    if (b - mu < 1) return 0;
    return b - mu;
}

inline int niti_gradquant_apply(long G, int s)
{
    return s < 0 ? 0 : s == 0 ? niti_clamp127(G) : niti_shift_psr(G, s);
}

/* tdiv(x, 2^k) for k in [0, 31]: the quotient rounded toward zero, as C's x / 2^k, computed as
 * sign(x) * (|x| >> k) (a shift of the magnitude; no division, no select). */
inline int niti_tdiv_pow2(int x, int k)
{
    uint q = abs(x) >> k, m = 0u - ((uint)x >> 31); /* m: all ones when x < 0 */
    return (int)((q ^ m) - m);
}

/* Section 7 weight decay: d = bw(G) - 15; W * 2^d or tdiv(W, 2^-d). */
inline long niti_decay_term(int w, int bwG)
{
    int d = bwG - 15;
    if (d >= 0) return (long)((ulong)(long)w << d); /* w * 2^d (|w| <= 128, d <= 49: exact) */
    if (d <= -8) return 0;
    return (long)niti_tdiv_pow2(w, -d);
}

/* The final step of the two-stage max-|x| reduction, done redundantly by every work-group that
 * needs the maximum: reduces np partial maxima into one (local scratch of NITI_RED_WG). */
inline ulong niti_reduce_partials(__global const ulong *partials, int np, __local ulong *scratch)
{
    int lid = (int)get_local_id(0), lsz = (int)get_local_size(0);
    ulong m = 0;
    for (int i = lid; i < np; i += lsz) m = max(m, partials[i]);
    scratch[lid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = lsz / 2; off > 0; off >>= 1) {
        if (lid < off) scratch[lid] = max(scratch[lid], scratch[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return m;
}

/* Work-group local reduction of per-item maxima; item 0 gets the result. */
inline ulong niti_local_max(ulong m, __local ulong *scratch)
{
    int lid = (int)get_local_id(0), lsz = (int)get_local_size(0);
    scratch[lid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int off = lsz / 2; off > 0; off >>= 1) {
        if (lid < off) scratch[lid] = max(scratch[lid], scratch[lid + off]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return scratch[0];
}

/* Contract section 7 for weight i: g = gradquant(G[i]) with shift s (niti_gradquant_shift);
 * optionally g_out[i] = g; W = clamp127(W - g), or with the int16 master weights
 * M = clamp(M - g, +-32512), W = round(M, 8). */
inline void niti_update_one(ulong i, __global const long *G, int s, __global char *W,
                            __global short *master, int has_master, __global char *g_out,
                            int has_gout)
{
    int g = niti_gradquant_apply(G[i], s);
    if (has_gout) g_out[i] = (char)g;
    if (has_master) {
        int v = clamp((int)master[i] - g, -32512, 32512);
        master[i] = (short)v;
        W[i] = (char)niti_shift_round((long)v, 8);
    } else {
        W[i] = (char)niti_clamp127((long)W[i] - g);
    }
}
