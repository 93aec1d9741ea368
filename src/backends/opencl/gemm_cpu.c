/* The GEMMs of the CPU paths (vnni, portable): conv forward and dgrad as packed GEMMs over
 * register-blocked micro-kernels, and the weight gradient in the transposed form, all launched
 * as tasks of one work-item (cl/gemm_cpu.cl). */
#include <stdint.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

/* A micro-kernel: RM rows x NV panels of 16 columns per work-item. */
typedef struct mk_cfg {
    int kid, RM, NV;
} mk_cfg;

static mk_cfg choose_mk(const cl_impl *im, int ncols)
{
    mk_cfg c;
    if (im->gemm == GEMM_VNNI) {
        if (ncols <= 16) c.kid = K_VNNI_12x1, c.RM = 12, c.NV = 1;
        else if (ncols <= 32) c.kid = K_VNNI_8x2, c.RM = 8, c.NV = 2;
        else c.kid = K_VNNI_4x4, c.RM = 4, c.NV = 4;
    } else {
        if (ncols <= 16) c.kid = K_F32_6x1, c.RM = 6, c.NV = 1;
        else c.kid = K_F32_4x2, c.RM = 4, c.NV = 2;
    }
    return c;
}

/* Largest reduction chunk (terms) whose int32 partial sum is exact on both CPU paths. */
#define NITI_CPU_CHUNK 65536

/* Chunks of a reduction of kp4 groups of 4 terms: exact (<= NITI_CPU_CHUNK terms each) and, when
 * the output has fewer than `want` work-items, split further for parallelism (but never below
 * 1024 terms per chunk). */
static void cpu_chunks(const cl_impl *im, size_t kp4, size_t items, int allow_par, int *S, int *kc4)
{
    size_t s = cdiv(kp4, NITI_CPU_CHUNK / 4);
    size_t want = 8 * (size_t)(im->info.compute_units ? im->info.compute_units : 1);
    if (allow_par && items * s < want) {
        size_t par = cdiv(want, items), lim = kp4 / 256;
        if (par > lim) par = lim;
        if (par > s) s = par;
    }
    if (s < 1) s = 1;
    size_t c = cdiv(kp4, s);
    *kc4 = (int)c;
    *S = (int)cdiv(kp4, c);
}

/* The row operand of a micro-kernel, as an image view (see gemm_cpu.cl). */
typedef struct row_view {
    cl_mem X;
    int Hin, Win, Cin, Hout, Wout, k, pad;
    cl_uint xorv;
} row_view;

static row_view packed_view(cl_mem X, size_t Kp, cl_uint xorv)
{
    row_view v = {X, 1, 1, (int)Kp, 1, 1, 1, 0, xorv};
    return v;
}
/* The most partial maxima a GEMM hands to requant (each requant task reads them all). */
#define NITI_GEMM_MAX_PARTS 256

/* The vnni wgrad's row groups: each work-item builds its panel operand and then runs all the
 * row blocks of its row group over it; the fewer row groups, the fewer builds, but the outputs a
 * work-item adds to at every sub-chunk (RM x NV x 64 bytes per row block) should stay in its
 * core's L2: at most NITI_WG_C_BYTES of them. */
#define NITI_WG_C_BYTES ((size_t)256 << 10)
static size_t wg_row_groups(mk_cfg c, int Mst)
{
    size_t cap = NITI_WG_C_BYTES / ((size_t)c.RM * c.NV * 64);
    return cdiv(cdiv((size_t)Mst, (size_t)c.RM), cap ? cap : 1);
}

/* Runs the micro-kernel: C[m, n] (+)= sum over the reduction of row(m) * B(n), rows Mst, Np panel
 * columns (Nst valid), S chunks of kc4 groups of 4 terms. With maxp (one chunk, int32 output) and
 * a grid of at most NITI_GEMM_MAX_PARTS work-items, their partial maxima |C| go to maxp and *np
 * is their count (else 0). eg: the vnni wgrad's E geometry (N, Ho, Wo, Hg, Wg; B is E), else
 * NULL. */
static niti_status run_mk(cl_impl *im, mk_cfg c, const row_view *rv, cl_mem B, cl_mem C,
                          int out64, int Mst, int Nst, int ldc, size_t cstride, int Kp4, int kc4,
                          int Np, int S, cl_mem maxp, size_t *np, const int *eg, const char *op)
{
    size_t pg = (size_t)Np / 16 / (size_t)c.NV;
    size_t mb = cdiv((size_t)Mst, (size_t)c.RM);
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t rb = mb * pg * (size_t)S / (16 * cu);
    /* the vnni wgrad builds its panel operand in every work-item: the row groups of
     * wg_row_groups, more when panels x chunks x row groups leave cores idle (as cpu_chunks) */
    if (eg) {
        size_t rg = wg_row_groups(c, Mst);
        if (pg * (size_t)S * rg < 8 * cu) rg = cdiv(8 * cu, pg * (size_t)S);
        if (rg > mb) rg = mb;
        rb = cdiv(mb, rg);
    }
    if (rb < 1) rb = 1;
    /* sub-chunks: B's sub-panel (NV x 16 columns) within 32 KiB, which is also the vnni wgrad's
     * local array (NITI_WG_SUB in gemm_cpu.cl); fp32 sums exact (<= 1024 terms) */
    int kb4 = 512 / c.NV;
    if (im->gemm == GEMM_PORTABLE && kb4 > 256) kb4 = 256;
    /* a short reduction: one pass (not the vnni wgrad, whose sub-panel is a local array) */
    if (im->gemm == GEMM_VNNI && kc4 <= 2 * kb4 && !eg) kb4 = kc4;
    cl_mem Z = NULL;
    NITI_TRY(ocl_zeros(im, (size_t)rv->Cin, &Z));
    kargs a = ka_begin(im, c.kid);
    ka_mem(&a, rv->X);
    ka_mem(&a, Z);
    ka_window(&a, rv->Hin, rv->Win, rv->Cin, rv->Hout, rv->Wout, rv->k, rv->pad);
    ka_uint(&a, rv->xorv);
    ka_mem(&a, B);
    ka_mem(&a, C);
    ka_ints(&a, 4, (const int[]){out64, Mst, Nst, ldc});
    cl_long cs = (cl_long)cstride;
    ka_raw(&a, sizeof cs, &cs);
    ka_ints(&a, 4, (const int[]){Kp4, kc4, kb4, (int)rb});
    size_t gs[3] = {pg, cdiv(mb, rb), (size_t)S}, ls[3] = {1, 1, 1};
    int want_max = maxp && S == 1 && !out64 && gs[0] * gs[1] <= NITI_GEMM_MAX_PARTS;
    ka_mem(&a, want_max ? maxp : B);
    ka_int(&a, want_max);
    for (int i = 0; eg && i < 5; i++) ka_int(&a, eg[i]);
    if (np) *np = want_max ? gs[0] * gs[1] : 0;
    return ocl_launch(im, &a, 3, gs, ls, op);
}

/* Forward (mode 0) and dgrad (mode 1): out[m, n] = sum_kk im2col(X)[m, kk] * B(n, kk). The
 * row operand is read in place when Cin % 4 == 0, else packed (im2col) first. */
niti_status ocl_cpu_conv(cl_impl *im, int mode, cl_mem X, cl_mem Wsrc, int Hin, int Win,
                            int Cin, int Hout, int Wout, int k, int pad, int M, int Ncol, int K,
                            int O, niti_buf *out, niti_dtype acc_t, const char *op)
{
    size_t MN = (size_t)M * (size_t)Ncol;
    if (out->bytes < MN * niti_dtype_size(acc_t))
        return niti_fail(NITI_ERR_INVALID, "OpenCL %s: output buffer of %zu bytes, need %zu", op,
                         out->bytes, MN * niti_dtype_size(acc_t));
    int vnni = im->gemm == GEMM_VNNI;
    cl_uint xorv = vnni ? 0x80808080u : 0;
    mk_cfg c = choose_mk(im, Ncol);
    size_t Kp = round_up((size_t)K, 4), Kp4 = Kp / 4;
    /* Cin % 4 != 0: a channel-padded copy of X read in place when the padding adds at most a
     * quarter to the reduction (cheaper than an im2col pack), else im2col rows. */
    int Cp = round_up((size_t)Cin, 4) == (size_t)Cin ? Cin : (int)round_up((size_t)Cin, 4);
    int pad_ch = Cp != Cin && (size_t)k * k * (size_t)Cp * 4 <= Kp * 5;
    if (pad_ch) Kp = (size_t)k * k * (size_t)Cp, Kp4 = Kp / 4;
    size_t NP = round_up(cdiv((size_t)Ncol, 16), (size_t)c.NV), Np = NP * 16;
    size_t items = cdiv((size_t)M, (size_t)c.RM) * (NP / (size_t)c.NV);
    int S, kc4;
    cpu_chunks(im, Kp4, items, 1, &S, &kc4);
    cl_mem PA = NULL, PB = NULL, MX = NULL, Y = out->m;
    NITI_TRY(ocl_scratch(im, SCR_PACKB, Np * Kp, &PB));
    int direct = S == 1;
    if (!direct) NITI_TRY(ocl_scratch(im, SCR_SPLIT, MN * 4 * (size_t)S, &Y));

    row_view rv = {X, Hin, Win, Cin, Hout, Wout, k, pad, xorv};
    if (pad_ch) {
        size_t R = (size_t)(M / (Hout * Wout)) * (size_t)Hin * (size_t)Win;
        NITI_TRY(ocl_scratch(im, SCR_PACKA, R * (size_t)Cp, &PA));
        kargs a = ka_begin(im, K_PAD_CHANNELS);
        ka_mem(&a, X);
        ka_mem(&a, PA);
        ka_ints(&a, 3, (const int[]){(int)R, Cin, Cp});
        NITI_TRY(ocl_launch_tasks(im, &a, R, op));
        rv.X = PA;
        rv.Cin = Cp;
    } else if (Cin % 4 != 0) {
        NITI_TRY(ocl_scratch(im, SCR_PACKA, (size_t)M * Kp, &PA));
        kargs a = ka_begin(im, K_PACK_ROWS);
        ka_mem(&a, X);
        ka_mem(&a, PA);
        ka_window(&a, Hin, Win, Cin, Hout, Wout, k, pad);
        ka_ints(&a, 5, (const int[]){M, M, K, (int)Kp, vnni ? 0x80 : 0});
        NITI_TRY(ocl_launch_tasks(im, &a, (size_t)M, op));
        rv = packed_view(PA, Kp, 0);
    }

    kargs b = ka_begin(im, K_PACK_PANELS);
    ka_mem(&b, Wsrc);
    ka_mem(&b, PB);
    ka_ints(&b, 10, (const int[]){mode, Ncol, K, k, O, (int)Kp, vnni, (int)NP, pad_ch ? Cin : 1,
                                  pad_ch ? Cp : 1});
    NITI_TRY(ocl_launch_tasks(im, &b, Kp4 * NP, op));

    size_t np = 0;
    if (direct && acc_t == NITI_I32)
        NITI_TRY(ocl_scratch(im, SCR_MAXP, NITI_GEMM_MAX_PARTS * sizeof(cl_ulong), &MX));
    NITI_TRY(run_mk(im, c, &rv, PB, Y, direct && acc_t == NITI_I64, M, Ncol, Ncol, MN,
                    (int)Kp4, kc4, (int)Np, S, MX, &np, NULL, op));
    if (np) {
        im->gemm_max.m = out->m, im->gemm_max.n = MN, im->gemm_max.np = np;
        im->gemm_max.seq = im->seq;
    }
    if (direct) return NITI_OK;
    return ocl_sum_splits(im, Y, S, MN, out->m, acc_t, op);
}

/* The transposed-form micro-kernel of a conv micro-kernel (same blocking, except the portable
 * 4x2, whose transposed form runs 6 rows per block: the panel's int8 -> float conversions are
 * then shared by more rows, which the weight gradient, reading no weights, gains from). */
static int wg_kernel(int kid)
{
    switch (kid) {
    case K_VNNI_4x4: return K_VNNI_WG_4x4;
    case K_VNNI_8x2: return K_VNNI_WG_8x2;
    case K_VNNI_12x1: return K_VNNI_WG_12x1;
    case K_F32_4x2: return K_F32_WG_6x2;
    default: return K_F32_WG_6x1;
    }
}


/* The layout of one transposed-form wgrad with reduction grid `mode` (see cpu_wgrad): the grid
 * (Hg x Wg per image, Qp positions), the row operand (rows of Pst bytes), the chunks, and the
 * bytes of its three scratch regions (row operand, panel operand, partials). */
typedef struct wg_plan {
    int mode, Hg, Wg, S, kc4, ok;
    size_t Qp, Pst, bytes[3];
} wg_plan;

/* The row pitch of the padded grid of Apad^T: W + pad, not W + 2 pad. A row's right padding is
 * then the next row's left padding (a read past a row's end lands in the next row's first pad
 * columns, which are zero, or in the next image's top padding), and the row-padded reduction grid
 * (Ho x pitch per image) carries half the zero columns. Possible when the grid still holds a row
 * of E: W + pad >= Wo, that is pad <= k - 1. */
static int wg_pitch(const niti_conv_geom *g)
{
    return g->pad <= g->k - 1 ? g->W + g->pad : g->W + 2 * g->pad;
}

static void wg_plan_make(const cl_impl *im, const niti_conv_geom *g, int mode, size_t items,
                         size_t Np, size_t KO, wg_plan *p)
{
    int Hp = g->H + 2 * g->pad, Wp = wg_pitch(g);
    p->mode = mode;
    p->Hg = mode == 2 ? Hp : g->Ho;
    p->Wg = mode == 0 || mode == 3 ? g->Wo : Wp;
    p->Qp = round_up((size_t)g->N * p->Hg * p->Wg, 4);
    size_t span = mode == 3 ? (size_t)g->N * Hp * g->Wo
                            : (size_t)g->N * Hp * Wp + (size_t)(g->k - 1) * (size_t)(Wp + 1);
    p->Pst = round_up(span + 4, 64);
    size_t rows = mode == 3 ? (size_t)g->k * g->I : (size_t)g->I;
    p->ok = p->Qp / 4 <= INT32_MAX / 2 && p->Pst <= INT32_MAX / 2 &&
            rows * p->Pst <= ((size_t)1 << 40);
    cpu_chunks(im, p->Qp / 4, items, 1, &p->S, &p->kc4);
    p->bytes[0] = rows * p->Pst;
    p->bytes[1] = im->gemm == GEMM_VNNI ? 0 : Np * p->Qp; /* vnni: built in the kernel */
    p->bytes[2] = KO * 4 * (size_t)p->S;
}

/* G[o, kk] in the transposed form of gemm_cpu.cl ("wgrad, transposed form"): GEMM rows
 * kk = (ky, kx, c) read from Apad^T (A transposed onto the zero-padded grid, packed once, no
 * im2col), columns o from E^T in panel layout (portable: packed once; vnni: built from E by each
 * work-item, a sub-chunk at a time), reduction over E positions; int32 partials per chunk, then
 * summed into G (int64, [O, K]). Scratch from the work space ws when it fits. */
niti_status ocl_cpu_wgrad(cl_impl *im, const niti_conv_geom *g, cl_mem A, cl_mem E, niti_buf *ws,
                             niti_buf *G)
{
    int N = g->N, K = g->k * g->k * g->I, O = g->O, I = g->I, k = g->k;
    int Hp = g->H + 2 * g->pad, Wp = wg_pitch(g);
    int vnni = im->gemm == GEMM_VNNI;
    /* The grid of the reduction (gemm_cpu.cl, "wgrad, transposed form"), by a rough cost: terms
     * plus, on the portable path, about two steps of pointer set-up per run (the vnni kernel
     * reads each group's offset from a table instead: no cost per run):
     *   0 compact     E itself (needs Wo % 4 == 0), runs of one E row (Wo/4 groups);
     *   1 row-padded  Ho x Wp per image (needs Ho Wp % 4 == 0), runs of one image;
     *   2 padded      Hp x Wp per image, one run. */
    double cost[3], run = vnni ? 0.0 : 8.0;
    cost[0] = g->Wo % 4 == 0 ? (double)g->Ho * g->Wo * (1.0 + run / g->Wo) : 1e300;
    cost[1] = ((size_t)g->Ho * Wp) % 4 == 0
                  ? (double)g->Ho * Wp * (1.0 + run / ((double)g->Ho * Wp))
                  : 1e300;
    cost[2] = (double)Hp * Wp * (1.0 + run / ((double)N * Hp * Wp));
    int mode = cost[0] <= cost[1] && cost[0] <= cost[2] ? 0 : cost[1] <= cost[2] ? 1 : 2;
    mk_cfg c = choose_mk(im, O);
    c.kid = wg_kernel(c.kid);
    if (c.kid == K_F32_WG_6x2) c.RM = 6;
    size_t NP = round_up(cdiv((size_t)O, 16), (size_t)c.NV), Np = NP * 16;
    /* work-items before the reduction is split (vnni: per panel group and row group, run_mk) */
    size_t rows = vnni ? wg_row_groups(c, K) : cdiv((size_t)K, (size_t)c.RM);
    size_t items = rows * (NP / (size_t)c.NV);
    size_t KO = (size_t)K * (size_t)O;
    /*   3 tap-expanded: the compact grid of E with k copies of A^T shifted by kx (no zero terms,
     *     one run per image), when the padded grid would carry many zero columns and the copies
     *     fit in the caller's work space (never at the cost of more memory). Worth its k-fold
     *     pack when the padded grid wastes enough: measured on POCL, from 20% of zero terms
     *     (8 x 8 images) with vnni, from 5% with the slower portable GEMM. */
    wg_plan p;
    wg_plan_make(im, g, mode, items, Np, KO, &p);
    double waste = (double)(Wp - g->Wo) / Wp;
    if (mode != 0 && k > 1 && ((size_t)g->Ho * g->Wo) % 4 == 0 && waste >= (vnni ? 0.15 : 0.05)) {
        wg_plan p3;
        wg_plan_make(im, g, 3, items, Np, KO, &p3);
        if (p3.ok && ocl_ws_fits(im, ws, 3, p3.bytes)) p = p3;
    }
    if (!p.ok) return niti_fail(NITI_ERR_INVALID, "OpenCL conv_wgrad: shape too large");
    mode = p.mode;
    int Hg = p.Hg, Wg = p.Wg, S = p.S, kc4 = p.kc4;
    size_t Qp = p.Qp, Qp4 = Qp / 4, Pst = p.Pst;
    cl_mem PA = NULL, PB = NULL, P = NULL;
    static const int rid[3] = {SCR_PACKA, SCR_PACKB, SCR_SPLIT};
    cl_mem reg[3];
    ws_regions wr;
    NITI_TRY(ocl_ws_take(im, ws, 3, p.bytes, rid, reg, &wr));
    PA = reg[0], PB = reg[1], P = reg[2];

    kargs a = ka_begin(im, mode == 3 ? K_PACK_APAD_KX : K_PACK_APAD);
    ka_mem(&a, A);
    ka_mem(&a, PA);
    ka_ints(&a, 7, (const int[]){N, g->H, g->W, I, g->pad, Hp, mode == 3 ? g->Wo : Wp});
    if (mode == 3) ka_int(&a, k);
    cl_long pst = (cl_long)Pst;
    ka_raw(&a, sizeof pst, &pst);
    ka_int(&a, vnni ? 0x80 : 0);
    WS_TRY(&wr, ocl_launch_tasks(im, &a, Pst / 64, "conv_wgrad")); /* blocks of 64 positions */

    /* the panel operand: packed here (portable), or built from E inside the kernel (vnni) */
    const int eg[5] = {N, g->Ho, g->Wo, Hg, Wg};
    if (!vnni) {
        kargs b = ka_begin(im, K_PACK_EPANEL);
        ka_mem(&b, E);
        ka_mem(&b, PB);
        ka_ints(&b, 8, (const int[]){N, g->Ho, g->Wo, O, Hg, Wg, (int)Qp, (int)NP});
        WS_TRY(&wr, ocl_launch_tasks(im, &b, Qp4, "conv_wgrad"));
    }

    /* Row view fields in the transposed form: see NITI_MK_BODY_WG. */
    int L = mode == 0 ? g->Wo / 4 : mode == 1 ? g->Ho * Wp / 4 : mode == 3 ? g->Ho * g->Wo / 4 : (int)Qp4;
    int Hq = mode == 0 ? g->Ho : 1;
    row_view rv = {PA, Hp, mode == 3 ? g->Wo : Wp, I, Hq, L, k, (int)Pst, mode == 3 ? 1u : 0u};
    WS_TRY(&wr, run_mk(im, c, &rv, vnni ? E : PB, P, 0, K, O, O, KO, (int)Qp4, kc4, (int)Np, S,
                       NULL, NULL, vnni ? eg : NULL, "conv_wgrad"));
    kargs r = ka_begin(im, K_WGRAD_REDUCE_T);
    ka_mem(&r, P);
    ka_ints(&r, 3, (const int[]){S, K, O});
    ka_mem(&r, G->m);
    return ocl_ws_done(&wr, ocl_launch_tasks(im, &r, cdiv((size_t)K, 16), "conv_wgrad"));
}
