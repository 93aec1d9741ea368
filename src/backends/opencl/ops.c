/* The op table of the OpenCL backend: conv/linear (dispatched to the GEMM of the path),
 * requantisation, elementwise ops, loss and update. GPU paths use the work-group kernels of
 * cl/requant.cl, cl/elementwise.cl, cl/loss.cl and cl/update.cl; CPU paths (vnni, portable) the
 * task kernels of cl/cpu_ops.cl, which take the same arguments followed by their task size. */
#include <stdint.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

static niti_status check_acc_t(niti_dtype t, const char *op)
{
    if (t != NITI_I32 && t != NITI_I64)
        return niti_fail(NITI_ERR_INVALID, "OpenCL %s: accumulator type %s (need I32 or I64)", op,
                         niti_dtype_name(t));
    return NITI_OK;
}

/* ---------------------------------------------------------------- conv: the GEMM of the path */

static niti_status cl_conv_fwd(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                               niti_buf *W, niti_buf *acc, niti_dtype acc_t)
{
    NITI_TRY(check_acc_t(acc_t, "conv_fwd"));
    cl_impl *im = IMPL(be);
    if (tiled_path(im->gemm)) return ocl_tiled_fwd(im, g, A, W, acc, acc_t);
    int M = g->N * g->Ho * g->Wo, K = g->k * g->k * g->I;
    return ocl_cpu_conv(im, 0, A->m, W->m, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad, M, g->O,
                        K, g->O, acc, acc_t, "conv_fwd");
}

static niti_status cl_conv_dgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *E,
                                 niti_buf *W, niti_buf *accE, niti_dtype acc_t)
{
    NITI_TRY(check_acc_t(acc_t, "conv_dgrad"));
    cl_impl *im = IMPL(be);
    if (tiled_path(im->gemm)) return ocl_tiled_dgrad(im, g, E, W, accE, acc_t);
    return ocl_cpu_conv(im, 1, E->m, W->m, g->Ho, g->Wo, g->O, g->H, g->W, g->k,
                        g->k - 1 - g->pad, g->N * g->H * g->W, g->I, g->k * g->k * g->O, g->O,
                        accE, acc_t, "conv_dgrad");
}

static niti_status cl_conv_wgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                                 niti_buf *E, niti_buf *G, niti_buf *ws)
{
    cl_impl *im = IMPL(be);
    size_t OK = (size_t)g->O * (size_t)(g->k * g->k * g->I);
    if (G->bytes < OK * 8)
        return niti_fail(NITI_ERR_INVALID, "OpenCL conv_wgrad: G has %zu bytes, need %zu",
                         G->bytes, OK * 8);
    if (tiled_path(im->gemm)) return ocl_tiled_wgrad(im, g, A, E, G, ws);
    return ocl_cpu_wgrad(im, g, A->m, E->m, ws, G);
}

/* ---------------------------------------------------------------- requant */

/* Work-groups of the max-|x| reductions: a grid-stride loop, at most 256 partials. */
static size_t red_groups(const cl_impl *im, size_t n)
{
    size_t g = cdiv(n ? n : 1, im->red_wg * 4);
    return g > 256 ? 256 : g;
}

static niti_status max_abs(cl_impl *im, cl_mem x, int is64, size_t n, size_t groups, cl_mem part,
                           const char *op)
{
    kargs a = ka_begin(im, is64 ? K_MAX_I64 : K_MAX_I32);
    ka_mem(&a, x);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    size_t gs = groups * im->red_wg, ls = im->red_wg;
    return ocl_launch(im, &a, 1, &gs, &ls, op);
}

/* Stage 1 of max |x| on a CPU device: *np partials. */
static niti_status cpu_max_abs(cl_impl *im, cl_mem x, int is64, size_t n, cl_mem part,
                               size_t *np, const char *op)
{
    kargs a = ka_begin(im, is64 ? K_CPU_MAX_I64 : K_CPU_MAX_I32);
    ka_mem(&a, x);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    return ocl_launch_range(im, &a, n, np, op);
}

static niti_status cl_requant(niti_backend *be, niti_buf *acc, niti_dtype acc_t, size_t n,
                              niti_rule rule, niti_rounding rounding, niti_buf *out,
                              niti_buf *scalars, int shift_slot, int exp_in_slot, int exp_add,
                              int exp_slot, const uint64_t *given_max)
{
    cl_impl *im = IMPL(be);
    NITI_TRY(check_acc_t(acc_t, "requant"));
    if (shift_slot < 0 || !check_slot(scalars, shift_slot) || !check_slot(scalars, exp_in_slot) ||
        !check_slot(scalars, exp_slot))
        return niti_fail(NITI_ERR_INVALID, "OpenCL requant: scalar slot out of range (%d, %d, %d)",
                         shift_slot, exp_in_slot, exp_slot);
    if (acc->bytes < n * niti_dtype_size(acc_t) || out->bytes < n)
        return niti_fail(NITI_ERR_INVALID, "OpenCL requant: buffers too small for %zu values", n);
    int is64 = acc_t == NITI_I64;
    cl_mem part = NULL;
    NITI_TRY(ocl_scratch(im, SCR_PART1, 256 * 8, &part));
    /* The shift needs the whole tensor's max |acc|: partial maxima first, then one pass. */
    int cpu = cpu_ops(im);
    size_t np = 0;
    if (given_max) {
        /* The maximum of a larger tensor, from the caller: it becomes the only partial that is
         * not 0 (the GPU form keeps its usual number of work-groups, one per partial). */
        np = cpu ? 1 : red_groups(im, n);
        uint64_t given[256] = {0};
        given[0] = *given_max;
        im->seq++;
        cl_int err = clEnqueueWriteBuffer(im->q, part, CL_TRUE, 0, np * 8, given, 0, NULL, NULL);
        if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueWriteBuffer", "requant");
    } else if (cpu && !is64 && im->gemm_max.m == acc->m && im->gemm_max.n == n &&
        im->gemm_max.seq == im->seq && im->gemm_max.np) {
        /* the GEMM that wrote acc just now left its maxima */
        part = im->scr[SCR_MAXP].m;
        np = im->gemm_max.np;
    } else if (cpu) {
        NITI_TRY(cpu_max_abs(im, acc->m, is64, n, part, &np, "requant"));
    } else {
        np = red_groups(im, n);
        NITI_TRY(max_abs(im, acc->m, is64, n, np, part, "requant"));
    }
    int kid = cpu ? (is64 ? K_CPU_REQUANT_I64 : K_CPU_REQUANT_I32)
                  : (is64 ? K_REQUANT_I64 : K_REQUANT_I32);
    kargs a = ka_begin(im, kid);
    ka_mem(&a, acc->m);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    ka_ints(&a, 3, (const int[]){(int)np, rule == NITI_RULE_NITI20 ? 1 : 0,
                                 rounding == NITI_PSR ? 1 : 0});
    ka_mem(&a, out->m);
    ka_mem(&a, scalars->m);
    ka_ints(&a, 4, (const int[]){shift_slot, exp_in_slot, exp_add, exp_slot});
    if (cpu) return ocl_launch_range(im, &a, n, NULL, "requant");
    size_t gs = np * im->red_wg, ls = im->red_wg;
    return ocl_launch(im, &a, 1, &gs, &ls, "requant");
}

/* max |x| to the host: the partial maxima (those a CPU GEMM left for x, else a pass of the
 * first stage of the reduction), downloaded and reduced here. */
static niti_status cl_max_abs(niti_backend *be, niti_buf *x, niti_dtype dtype, size_t n,
                              uint64_t *out)
{
    cl_impl *im = IMPL(be);
    NITI_TRY(check_acc_t(dtype, "max_abs"));
    if (x->bytes < n * niti_dtype_size(dtype))
        return niti_fail(NITI_ERR_INVALID, "OpenCL max_abs: buffer too small for %zu values", n);
    *out = 0;
    if (!n) return NITI_OK;
    int is64 = dtype == NITI_I64, cpu = cpu_ops(im);
    cl_mem part = NULL;
    size_t np = 0;
    if (cpu && !is64 && im->gemm_max.m == x->m && im->gemm_max.n == n &&
        im->gemm_max.seq == im->seq && im->gemm_max.np) {
        part = im->scr[SCR_MAXP].m;
        np = im->gemm_max.np;
    } else {
        NITI_TRY(ocl_scratch(im, SCR_PART1, 256 * 8, &part));
        if (cpu) {
            NITI_TRY(cpu_max_abs(im, x->m, is64, n, part, &np, "max_abs"));
        } else {
            np = red_groups(im, n);
            NITI_TRY(max_abs(im, x->m, is64, n, np, part, "max_abs"));
        }
    }
    uint64_t p[256];
    if (np > 256) return niti_fail(NITI_ERR_INVALID, "OpenCL max_abs: %zu partials", np);
    cl_int err = clEnqueueReadBuffer(im->q, part, CL_TRUE, 0, np * 8, p, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueReadBuffer", "max_abs");
    uint64_t m = 0;
    for (size_t i = 0; i < np; i++) m = p[i] > m ? p[i] : m;
    *out = m;
    return NITI_OK;
}

/* ---------------------------------------------------------------- elementwise */

/* Elementwise ops take the same arguments on both forms; the CPU form (cpu_ops.cl) is launched
 * as tasks over ranges or rows, the GPU form one item per element. */
static niti_status cl_relu_fwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *Y)
{
    cl_impl *im = IMPL(be);
    kargs a = ka_begin(im, cpu_ops(im) ? K_CPU_RELU_FWD : K_RELU_FWD);
    ka_ulong(&a, n);
    ka_mem(&a, A->m);
    ka_mem(&a, Y->m);
    return cpu_ops(im) ? ocl_launch_range(im, &a, n, NULL, "relu_fwd")
                       : ocl_launch1(im, &a, n, "relu_fwd");
}

static niti_status cl_relu_bwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *E,
                               niti_buf *Eprev)
{
    cl_impl *im = IMPL(be);
    kargs a = ka_begin(im, cpu_ops(im) ? K_CPU_RELU_BWD : K_RELU_BWD);
    ka_ulong(&a, n);
    ka_mem(&a, A->m);
    ka_mem(&a, E->m);
    ka_mem(&a, Eprev->m);
    return cpu_ops(im) ? ocl_launch_range(im, &a, n, NULL, "relu_bwd")
                       : ocl_launch1(im, &a, n, "relu_bwd");
}

/* Pooling, both directions: arguments N, H, W, C and three buffers; the CPU form runs tasks of
 * whole output rows (rows of `row_bytes` input bytes), the GPU form one item per element. */
static niti_status pool(cl_impl *im, int kid_cpu, int kid_gpu, int N, int H, int W, int C,
                        cl_mem b0, cl_mem b1, cl_mem b2, size_t rows, size_t row_bytes,
                        size_t total, const char *op)
{
    if (!total) return NITI_OK;
    kargs a = ka_begin(im, cpu_ops(im) ? kid_cpu : kid_gpu);
    ka_ints(&a, 4, (const int[]){N, H, W, C});
    ka_mem(&a, b0);
    ka_mem(&a, b1);
    ka_mem(&a, b2);
    return cpu_ops(im) ? ocl_launch_rows(im, &a, rows, row_bytes, op)
                       : ocl_launch1(im, &a, total, op);
}

static niti_status cl_maxpool_fwd(niti_backend *be, int N, int H, int W, int C, niti_buf *A,
                                  niti_buf *Y, niti_buf *argmax)
{
    size_t total = (size_t)N * (size_t)(H / 2) * (size_t)(W / 2) * (size_t)C;
    return pool(IMPL(be), K_CPU_POOL_FWD, K_POOL_FWD, N, H, W, C, A->m, Y->m, argmax->m,
                (size_t)N * (size_t)(H / 2), (size_t)W * 2 * (size_t)C, total, "maxpool_fwd");
}

static niti_status cl_maxpool_bwd(niti_backend *be, int N, int H, int W, int C, niti_buf *E,
                                  niti_buf *argmax, niti_buf *Eprev)
{
    size_t total = (size_t)N * (size_t)H * (size_t)W * (size_t)C;
    return pool(IMPL(be), K_CPU_POOL_BWD, K_POOL_BWD, N, H, W, C, E->m, argmax->m, Eprev->m,
                (size_t)N * (size_t)H, (size_t)W * (size_t)C, total, "maxpool_bwd");
}

static niti_status cl_count_sat(niti_backend *be, niti_buf *x, size_t n, niti_buf *counts,
                                int index)
{
    cl_impl *im = IMPL(be);
    if (index < 0 || (size_t)(index + 1) * 8 > counts->bytes || n > x->bytes)
        return niti_fail(NITI_ERR_INVALID, "OpenCL count_sat: index %d or %zu values out of range",
                         index, n);
    size_t G = 64 * (im->info.compute_units ? im->info.compute_units : 1);
    if (G > 4096) G = 4096;
    if (G > n) G = n ? n : 1;
    cl_mem part = NULL;
    NITI_TRY(ocl_scratch(im, SCR_SATPART, G * 8, &part));
    kargs a = ka_begin(im, K_COUNT_SAT);
    ka_mem(&a, x->m);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    size_t one = 1;
    NITI_TRY(ocl_launch(im, &a, 1, &G, &one, "count_sat"));
    kargs b = ka_begin(im, K_COUNT_SAT_SUM);
    ka_mem(&b, part);
    ka_int(&b, (int)G);
    ka_mem(&b, counts->m);
    ka_int(&b, index);
    return ocl_launch(im, &b, 1, &one, &one, "count_sat");
}

static niti_status cl_dropout(niti_backend *be, int N, int F, uint64_t seed, uint32_t t,
                              uint32_t layer, niti_buf *in, niti_buf *out)
{
    cl_impl *im = IMPL(be);
    if (N <= 0 || F <= 0) return NITI_OK;
    if (cpu_ops(im)) {
        cl_mem mask = NULL;
        NITI_TRY(ocl_scratch(im, SCR_MASK, (size_t)F, &mask));
        kargs m = ka_begin(im, K_DROPOUT_MASK);
        ka_int(&m, F);
        ka_ulong(&m, seed);
        ka_uint(&m, t);
        ka_uint(&m, layer);
        ka_mem(&m, mask);
        NITI_TRY(ocl_launch1(im, &m, (size_t)F, "dropout"));
        kargs c = ka_begin(im, K_CPU_DROPOUT);
        ka_int(&c, N);
        ka_int(&c, F);
        ka_mem(&c, mask);
        ka_mem(&c, in->m);
        ka_mem(&c, out->m);
        return ocl_launch_rows(im, &c, (size_t)N, (size_t)F, "dropout");
    }
    kargs a = ka_begin(im, K_DROPOUT);
    ka_int(&a, N);
    ka_int(&a, F);
    ka_ulong(&a, seed);
    ka_uint(&a, t);
    ka_uint(&a, layer);
    ka_mem(&a, in->m);
    ka_mem(&a, out->m);
    return ocl_launch1(im, &a, (size_t)F, "dropout");
}

/* ---------------------------------------------------------------- loss */

static niti_status cl_loss_bwd(niti_backend *be, int N, int C, niti_buf *logits, niti_buf *labels,
                               niti_buf *scalars, int exp_base, int exp_slot, int e_out_slot,
                               uint64_t seed, uint32_t t, niti_buf *q, niti_buf *err)
{
    cl_impl *im = IMPL(be);
    if (e_out_slot < 0 || !check_slot(scalars, e_out_slot) || !check_slot(scalars, exp_slot))
        return niti_fail(NITI_ERR_INVALID, "OpenCL loss_bwd: scalar slot out of range (%d, %d)",
                         exp_slot, e_out_slot);
    size_t nc = (size_t)(N > 0 ? N : 0) * (size_t)(C > 0 ? C : 0);
    cl_mem qm = NULL;
    if (q) qm = q->m;
    else NITI_TRY(ocl_scratch(im, SCR_LOSSQ, nc * 8, &qm));
    kargs a = ka_begin(im, K_LOSS);
    ka_int(&a, N);
    ka_int(&a, C);
    ka_mem(&a, logits->m);
    ka_mem(&a, labels->m);
    ka_mem(&a, scalars->m);
    ka_ints(&a, 3, (const int[]){exp_base, exp_slot, e_out_slot});
    ka_ulong(&a, seed);
    ka_uint(&a, t);
    ka_mem(&a, qm);
    ka_mem(&a, err->m);
    size_t ls = ocl_wg(im, K_LOSS, 64), gs = ls; /* one work-group */
    return ocl_launch(im, &a, 1, &gs, &ls, "loss_bwd");
}

/* ---------------------------------------------------------------- update */

/* The max |G| pass of the update, then decay (optional) and the update itself, each with the same
 * arguments on both forms: the CPU form runs tasks over ranges and has np partial maxima, the GPU
 * form `groups` work-groups of red_wg items and that many partials. */
static niti_status cl_update(niti_backend *be, size_t n, niti_buf *G, int mu, int decay,
                             niti_buf *W, niti_buf *master, niti_buf *g_out)
{
    cl_impl *im = IMPL(be);
    if (G->bytes < n * 8 || W->bytes < n || (master && master->bytes < n * 2) ||
        (g_out && g_out->bytes < n))
        return niti_fail(NITI_ERR_INVALID, "OpenCL update: buffers too small for %zu weights", n);
    int cpu = cpu_ops(im);
    size_t np = red_groups(im, n);
    cl_mem p1 = NULL, p2 = NULL, dummy = NULL;
    NITI_TRY(ocl_scratch(im, SCR_PART1, 256 * 8, &p1));
    NITI_TRY(ocl_scratch(im, SCR_PART2, 256 * 8, &p2));
    NITI_TRY(ocl_scratch(im, SCR_DUMMY, 8, &dummy));
    if (cpu) NITI_TRY(cpu_max_abs(im, G->m, 1, n, p1, &np, "update"));
    else NITI_TRY(max_abs(im, G->m, 1, n, np, p1, "update"));
    size_t gs = np * im->red_wg, ls = im->red_wg;
    if (decay) {
        kargs d = ka_begin(im, cpu ? K_CPU_DECAY : K_DECAY);
        ka_ulong(&d, n);
        ka_mem(&d, G->m);
        ka_mem(&d, W->m);
        ka_mem(&d, p1);
        ka_int(&d, (int)np);
        ka_mem(&d, p2);
        NITI_TRY(cpu ? ocl_launch_range(im, &d, n, NULL, "update (decay)")
                     : ocl_launch(im, &d, 1, &gs, &ls, "update (decay)"));
    }
    kargs a = ka_begin(im, cpu ? K_CPU_UPDATE : K_UPDATE);
    ka_ulong(&a, n);
    ka_mem(&a, G->m);
    ka_mem(&a, decay ? p2 : p1);
    ka_ints(&a, 2, (const int[]){(int)np, mu});
    ka_mem(&a, W->m);
    ka_mem(&a, master ? master->m : dummy);
    ka_int(&a, master != NULL);
    ka_mem(&a, g_out ? g_out->m : dummy);
    ka_int(&a, g_out != NULL);
    return cpu ? ocl_launch_range(im, &a, n, NULL, "update") : ocl_launch(im, &a, 1, &gs, &ls, "update");
}

const niti_backend_ops ocl_ops = {
    .destroy = ocl_destroy,
    .alloc = ocl_alloc,
    .release = ocl_release,
    .upload = ocl_upload,
    .download = ocl_download,
    .finish = ocl_finish,
    .conv_fwd = cl_conv_fwd,
    .conv_dgrad = cl_conv_dgrad,
    .conv_wgrad = cl_conv_wgrad,
    .requant = cl_requant,
    .max_abs = cl_max_abs,
    .relu_fwd = cl_relu_fwd,
    .relu_bwd = cl_relu_bwd,
    .maxpool_fwd = cl_maxpool_fwd,
    .maxpool_bwd = cl_maxpool_bwd,
    .view = ocl_view,
    .count_sat = cl_count_sat,
    .dropout = cl_dropout,
    .loss_bwd = cl_loss_bwd,
    .update = cl_update,
};
