/* The GEMMs of the GPU paths (tiled, dp4a, khr-dot): conv, dgrad and wgrad as implicit GEMMs
 * of the local-memory tiled kernels of cl/gemm_tiled.cl, with reductions split into exact int32
 * partials; and the choice of the tile configuration the program is built with. */
#include <stdio.h>
#include <stdlib.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

/* Largest number of int8*int8 terms whose int32 partial sum is exact: n*128*128 < 2^31. */
#define NITI_EXACT_TERMS 131071

/* Splits of a reduction of length K in tiles of TK: enough for exactness (int32 partials) and,
 * when there are few output tiles, for parallelism. */
static void choose_splits(const cl_impl *im, size_t K, size_t out_tiles, int *S, int *chunk)
{
    size_t TK = (size_t)im->t.TK;
    size_t kmax = NITI_EXACT_TERMS / TK * TK;
    size_t s = cdiv(K, kmax);
    size_t target = 4 * (size_t)(im->info.compute_units ? im->info.compute_units : 1);
    if (out_tiles < target) {
        size_t par = cdiv(target, out_tiles), lim = cdiv(K, TK * 8);
        if (par > lim) par = lim;
        if (par > s) s = par;
    }
    if (s < 1) s = 1;
    size_t c = round_up(cdiv(K, s), TK);
    *chunk = (int)c;
    *S = (int)cdiv(K, c);
}

/* Y[m, n] = sum_kk im2col(X)[m, kk] * B[n, kk] into out (acc_t). */
static niti_status tiled_gemm(cl_impl *im, cl_mem X, cl_mem B, int Hin, int Win, int Cin, int Hout,
                            int Wout, int k, int pad, int M, int Ncol, int K, niti_buf *out,
                            niti_dtype acc_t, const char *op)
{
    /* Wide tiles, or narrow ones (TN = WGX, RN = 1) when they waste half the columns. */
    size_t wx = (size_t)(im->t.TN / im->t.RN), wy = (size_t)(im->t.TM / im->t.RM);
    int narrow = cdiv((size_t)Ncol, wx) * wx * 2 <= cdiv((size_t)Ncol, (size_t)im->t.TN) * im->t.TN;
    size_t TN = narrow ? wx : (size_t)im->t.TN;
    size_t tm = cdiv((size_t)M, (size_t)im->t.TM), tn = cdiv((size_t)Ncol, TN);
    int S, chunk;
    choose_splits(im, (size_t)K, tm * tn, &S, &chunk);
    size_t MN = (size_t)M * (size_t)Ncol;
    if (out->bytes < MN * niti_dtype_size(acc_t))
        return niti_fail(NITI_ERR_INVALID, "OpenCL %s: output buffer of %zu bytes, need %zu", op,
                         out->bytes, MN * niti_dtype_size(acc_t));
    int direct = S == 1 && acc_t == NITI_I32;
    cl_mem Y = out->m;
    if (!direct) NITI_TRY(ocl_scratch(im, SCR_SPLIT, MN * 4 * (size_t)S, &Y));
    kargs a = ka_begin(im, narrow ? K_CONV_GEMM_NC : K_CONV_GEMM);
    ka_mem(&a, X);
    ka_mem(&a, B);
    ka_mem(&a, Y);
    ka_window(&a, Hin, Win, Cin, Hout, Wout, k, pad);
    ka_ints(&a, 4, (const int[]){M, Ncol, K, chunk});
    size_t gs[3] = {tn * wx, tm * wy, (size_t)S}, ls[3] = {wx, wy, 1};
    NITI_TRY(ocl_launch(im, &a, 3, gs, ls, op));
    if (direct) return NITI_OK;
    return ocl_sum_splits(im, Y, S, MN, out->m, acc_t, op);
}

/* acc = conv(A, W): the implicit GEMM with the weights as they are. */
niti_status ocl_tiled_fwd(cl_impl *im, const niti_conv_geom *g, niti_buf *A, niti_buf *W,
                          niti_buf *acc, niti_dtype acc_t)
{
    int M = g->N * g->Ho * g->Wo, K = g->k * g->k * g->I;
    return tiled_gemm(im, A->m, W->m, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad, M, g->O, K,
                      acc, acc_t, "conv_fwd");
}

/* accE = conv(E, flipped W^T) with padding k-1-pad over the Ho x Wo error. */
niti_status ocl_tiled_dgrad(cl_impl *im, const niti_conv_geom *g, niti_buf *E, niti_buf *W,
                            niti_buf *accE, niti_dtype acc_t)
{
    size_t nw = (size_t)g->O * g->k * g->k * g->I;
    cl_mem Wt = NULL;
    NITI_TRY(ocl_scratch(im, SCR_WT, nw, &Wt));
    kargs a = ka_begin(im, K_WT_TRANSPOSE);
    ka_mem(&a, W->m);
    ka_mem(&a, Wt);
    ka_ints(&a, 3, (const int[]){g->O, g->k, g->I});
    NITI_TRY(ocl_launch1(im, &a, nw, "conv_dgrad"));
    int M = g->N * g->H * g->W, K = g->k * g->k * g->O;
    return tiled_gemm(im, E->m, Wt, g->Ho, g->Wo, g->O, g->H, g->W, g->k, g->k - 1 - g->pad, M,
                      g->I, K, accE, acc_t, "conv_dgrad");
}

/* G[o, kk] = sum over positions of E * im2col(A), int64: split reductions in int32 partials
 * (from the work space ws when they fit), then summed. */
niti_status ocl_tiled_wgrad(cl_impl *im, const niti_conv_geom *g, niti_buf *A, niti_buf *E,
                            niti_buf *G, niti_buf *ws)
{
    int M = g->N * g->Ho * g->Wo, K = g->k * g->k * g->I;
    size_t OK = (size_t)g->O * (size_t)K;
    /* Wide tiles, or narrow ones (TM = WGY, RM = 1) when they waste half the rows. */
    size_t wx = (size_t)(im->t.TN / im->t.RN), wy = (size_t)(im->t.TM / im->t.RM);
    int narrow = cdiv((size_t)g->O, wy) * wy * 2 <= cdiv((size_t)g->O, (size_t)im->t.TM) * im->t.TM;
    size_t TM = narrow ? wy : (size_t)im->t.TM;
    size_t to = cdiv((size_t)g->O, TM), tk = cdiv((size_t)K, (size_t)im->t.TN);
    int S, chunk;
    choose_splits(im, (size_t)M, to * tk, &S, &chunk);
    cl_mem out = G->m;
    ws_regions wr = {0, {NULL}};
    if (S > 1) {
        size_t bytes = OK * 8 * (size_t)S;
        static const int id = SCR_SPLIT;
        NITI_TRY(ocl_ws_take(im, ws, 1, &bytes, &id, &out, &wr));
    }
    kargs a = ka_begin(im, narrow ? K_CONV_WGRAD_NR : K_CONV_WGRAD);
    ka_mem(&a, A->m);
    ka_mem(&a, E->m);
    ka_mem(&a, out);
    ka_window(&a, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad);
    ka_ints(&a, 4, (const int[]){g->O, K, M, chunk});
    size_t gs[3] = {tk * wx, to * wy, (size_t)S}, ls[3] = {wx, wy, 1};
    WS_TRY(&wr, ocl_launch(im, &a, 3, gs, ls, "conv_wgrad"));
    if (S == 1) return NITI_OK;
    kargs r = ka_begin(im, K_SUM_I64);
    ka_mem(&r, out);
    ka_int(&r, S);
    ka_ulong(&r, OK);
    ka_mem(&r, G->m);
    return ocl_ws_done(&wr, ocl_launch1(im, &r, OK, "conv_wgrad"));
}

/* Tile configurations {TM, TN, TK, RM, RN}, largest work-group first: (TN/RN) x (TM/RM) items of
 * 256, 64, 64, 32, 16, 8, 4 and 1. The first whose kernels fit the device is used; from 8 items
 * down the kernels take their general forms (gemm_tiled.cl, NITI_TILE_FAST). */
static const niti_cl_tiles configs[] = {{64, 64, 16, 4, 4}, {32, 32, 16, 4, 4}, {16, 16, 16, 2, 2}, {16, 16, 16, 2, 4}, {8, 8, 16, 2, 2}, {8, 8, 16, 2, 4}, {8, 8, 16, 4, 4}, {4, 4, 16, 4, 4}};

/* The kernels whose work-group shape is fixed at build time (reqd_work_group_size): the tiled
 * GEMMs, (TN/RN) x (TM/RM), and the reductions, NITI_RED_WG. */
static const int tile_kernels[] = {K_CONV_GEMM, K_CONV_GEMM_NC, K_CONV_WGRAD, K_CONV_WGRAD_NR};
static const int red_kernels[] = {K_MAX_I32, K_MAX_I64, K_REQUANT_I32, K_REQUANT_I64, K_DECAY,
                                  K_UPDATE};

/* Whether kernel kid, built for work-groups of `items`, can run them: its work-group limit and
 * its local memory (the build's limits are in kwg; the device's local memory in info). */
static int kernel_fits(const cl_impl *im, int kid, size_t items)
{
    cl_ulong lmem = 0;
    clGetKernelWorkGroupInfo(im->k[kid], im->info.device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof lmem,
                             &lmem, NULL);
    return im->kwg[kid] >= items && (!im->info.local_mem || lmem <= im->info.local_mem);
}

/* The largest work-group size of the reductions that every reduction kernel of this build
 * allows (a power of two), or `want` if they all allow it. */
static size_t red_fit(const cl_impl *im, size_t want)
{
    size_t w = want;
    for (size_t i = 0; i < sizeof red_kernels / sizeof red_kernels[0]; i++)
        while (w > 1 && !kernel_fits(im, red_kernels[i], w)) w /= 2;
    return w;
}

static int tiles_fit(const cl_impl *im, size_t nt)
{
    for (size_t i = 0; i < sizeof tile_kernels / sizeof tile_kernels[0]; i++)
        if (!kernel_fits(im, tile_kernels[i], nt)) return 0;
    return 1;
}

/* Builds the program for im->gemm with the largest tile configuration and reduction work-group
 * whose kernels fit: a configuration is skipped when its work-group exceeds the cap or the
 * device's work-item sizes; after a build, the kernels' own limits (CL_KERNEL_WORK_GROUP_SIZE,
 * local memory) decide, and the program is rebuilt with smaller reductions or the next
 * configuration. The last configuration (one work-item, reductions of one) fits any device
 * that builds the program. NITI_CL_TILES=TM,TN,TK,RM,RN forces a configuration. */
niti_status ocl_build_tiles(cl_impl *im, const char *name)
{
    niti_cl_tiles forced;
    const char *tenv = getenv("NITI_CL_TILES");
    int have_forced = tenv && *tenv;
    if (have_forced &&
        (sscanf(tenv, "%d,%d,%d,%d,%d", &forced.TM, &forced.TN, &forced.TK, &forced.RM,
                &forced.RN) != 5 ||
         forced.TM < 1 || forced.TN < 1 || forced.TK < 4 || forced.TK % 4 || forced.RM < 1 ||
         forced.RN < 1 || forced.RM > 4 || forced.RN > 4 || forced.TM % forced.RM ||
         forced.TN % forced.RN || forced.TM > 256 || forced.TN > 256 || forced.TK > 256))
        return niti_fail(NITI_ERR_INVALID,
                         "NITI_CL_TILES=\"%.60s\": expected TM,TN,TK,RM,RN with TK a multiple "
                         "of 4, RM and RN from 1 to 4 dividing TM and TN",
                         tenv);
    size_t ncfg = have_forced ? 1 : sizeof configs / sizeof configs[0];
    size_t red = 256;
    while (red > im->wg_cap) red /= 2;
    for (size_t c = 0; c < ncfg; c++) {
        im->t = have_forced ? forced : configs[c];
        size_t wx = (size_t)(im->t.TN / im->t.RN), wy = (size_t)(im->t.TM / im->t.RM);
        size_t nt = wx * wy;
        if (!have_forced && c + 1 < ncfg &&
            (nt > im->wg_cap || wx > im->max_items[0] || wy > im->max_items[1]))
            continue;
        for (;;) {
            im->red_wg = red;
            NITI_TRY(ocl_build(im));
            size_t r = red_fit(im, red);
            int tfit = tiles_fit(im, nt);
            if (tfit && r == red) return NITI_OK;
            ocl_release_program(im);
            if (r == red) break; /* the reductions fit; the tiles do not: next configuration */
            red = r;             /* smaller reductions, and build this configuration again */
        }
    }
    return niti_fail(NITI_ERR_UNSUPPORTED,
                     "OpenCL %s: the kernels do not fit the device's work-group limits even with "
                     "%s (work-group cap %zu%s)",
                     name, have_forced ? "the tiles of NITI_CL_TILES" : "one work-item",
                     im->wg_cap, getenv("NITI_CL_MAX_WG") ? ", NITI_CL_MAX_WG" : "");
}
