/* The OpenCL backend: device choice, program build (cl_runtime.c), buffers and the launch of
 * every op of backend.h. The kernels (the .cl files in cl/) match backend_ref.c bit for bit.
 * Everything is enqueued on one in-order queue; only download() and finish() wait. Reductions
 * (the max |x| of requant and update) stay on the device: no op reads anything back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

struct niti_buf {
    cl_mem m;
    size_t bytes;
    int view;      /* a sub-buffer of another buffer: */
    cl_mem parent; /* that buffer (OpenCL allows no sub-buffer of a sub-buffer) */
    size_t origin; /* and where in it this one starts */
};

enum {
    SCR_WT, SCR_SPLIT, SCR_PART1, SCR_PART2, SCR_LOSSQ, SCR_DUMMY, SCR_PACKA, SCR_PACKB,
    SCR_MAXP, SCR_ZERO, SCR_MASK, SCR_SATPART, SCR_COUNT
};

/* GEMM paths of conv/linear (NITI_GEMM): the tiled implicit GEMM (conv_i8.cl, GPUs), or packing
 * + register-blocked micro-kernels for CPUs (gemm_cpu.cl): fp32-FMA "portable" or "vnni". The
 * tiled kernels reduce 4 bytes at a time with NITI_DOT4_ACC: portable code ("tiled"), NVIDIA's
 * dp4a ("dp4a") or cl_khr_integer_dot_product ("khr-dot"). */
enum { GEMM_TILED, GEMM_PORTABLE, GEMM_VNNI, GEMM_DP4A, GEMM_KHR_DOT };
static const char *const gemm_names[] = {"tiled", "portable", "vnni", "dp4a", "khr-dot"};

enum {
    K_CONV_GEMM, K_WT_TRANSPOSE, K_SUM_TO_I32, K_SUM_TO_I64, K_SUM_I64, K_CONV_WGRAD, K_MAX_I32,
    K_MAX_I64, K_REQUANT_I32, K_REQUANT_I64, K_RELU_FWD, K_RELU_BWD, K_POOL_FWD, K_POOL_BWD,
    K_DROPOUT, K_LOSS, K_DECAY, K_UPDATE, K_CONV_GEMM_NC, K_CONV_WGRAD_NR, K_PACK_ROWS,
    K_PACK_PANELS, K_VNNI_PROBE,
    K_VNNI_4x4, K_VNNI_8x2, K_VNNI_12x1, K_F32_4x2, K_F32_6x1, K_CPU_MAX_I32, K_CPU_MAX_I64,
    K_CPU_REQUANT_I32, K_CPU_REQUANT_I64, K_CPU_DECAY, K_CPU_UPDATE, K_CPU_RELU_FWD,
    K_CPU_RELU_BWD, K_CPU_POOL_FWD, K_CPU_POOL_BWD, K_DROPOUT_MASK, K_CPU_DROPOUT, K_PACK_APAD,
    K_PACK_EPANEL, K_WGRAD_REDUCE_T, K_VNNI_WG_4x4, K_VNNI_WG_8x2, K_VNNI_WG_12x1, K_F32_WG_6x2,
    K_F32_WG_6x1, K_PAD_CHANNELS, K_DOT4_PROBE, K_COUNT_SAT, K_COUNT_SAT_SUM, K_PACK_APAD_KX, K_COUNT
};

static const char *const kernel_names[K_COUNT] = {
    "niti_conv_gemm",   "niti_wt_transpose", "niti_sum_splits_to_i32", "niti_sum_splits_to_i64",
    "niti_sum_splits_i64", "niti_conv_wgrad", "niti_max_abs_i32",      "niti_max_abs_i64",
    "niti_requant_i32", "niti_requant_i64",  "niti_relu_fwd",          "niti_relu_bwd",
    "niti_maxpool_fwd", "niti_maxpool_bwd",  "niti_dropout",           "niti_loss_bwd",
    "niti_update_decay", "niti_update_apply", "niti_conv_gemm_nc", "niti_conv_wgrad_nr",
    "niti_pack_rows", "niti_pack_panels", "niti_vnni_probe", "niti_gemm_vnni_4x4", "niti_gemm_vnni_8x2",
    "niti_gemm_vnni_12x1", "niti_gemm_f32_4x2", "niti_gemm_f32_6x1", "niti_cpu_max_abs_i32",
    "niti_cpu_max_abs_i64", "niti_cpu_requant_i32", "niti_cpu_requant_i64",
    "niti_cpu_update_decay", "niti_cpu_update_apply", "niti_cpu_relu_fwd", "niti_cpu_relu_bwd",
    "niti_cpu_maxpool_fwd", "niti_cpu_maxpool_bwd", "niti_dropout_mask", "niti_cpu_dropout_apply",
    "niti_pack_apad_t", "niti_pack_epanel", "niti_wgrad_reduce_t", "niti_gemm_vnni_wg_4x4",
    "niti_gemm_vnni_wg_8x2", "niti_gemm_vnni_wg_12x1", "niti_gemm_f32_wg_6x2",
    "niti_gemm_f32_wg_6x1", "niti_pad_channels", "niti_dot4_probe", "niti_count_sat", "niti_count_sat_sum", "niti_pack_apad_kx"};

/* Whether a GEMM path uses the tiled kernels of conv_i8.cl (else the CPU micro-kernels). */
static int tiled_path(int gemm)
{
    return gemm == GEMM_TILED || gemm == GEMM_DP4A || gemm == GEMM_KHR_DOT;
}

/* Whether the program built for GEMM path `gemm` has (and the backend needs) kernel kid. */
static int kernel_in_path(int kid, int gemm)
{
    if (kid == K_VNNI_PROBE || (kid >= K_VNNI_4x4 && kid <= K_VNNI_12x1) ||
        (kid >= K_VNNI_WG_4x4 && kid <= K_VNNI_WG_12x1))
        return gemm == GEMM_VNNI;
    if (kid == K_F32_4x2 || kid == K_F32_6x1 || kid == K_F32_WG_6x2 || kid == K_F32_WG_6x1)
        return gemm == GEMM_PORTABLE;
    if (kid == K_DOT4_PROBE) return gemm == GEMM_DP4A || gemm == GEMM_KHR_DOT;
    return 1;
}

typedef struct cl_impl {
    niti_backend *be;
    niti_cl_device_info info;
    int gemm;        /* GEMM_* */
    int gemm_forced; /* chosen by NITI_GEMM */
    int dot_emulate; /* NITI_DOT_EMULATE=1 with a forced dp4a/khr-dot: the portable stand-in */
    int profile;     /* NITI_CL_PROFILE */
    double prof_ns[K_COUNT];
    long prof_n[K_COUNT];
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k[K_COUNT];
    niti_cl_tiles t;
    size_t red_wg; /* work-group size of the reductions (NITI_RED_WG) */
    cl_ulong max_alloc;
    size_t sub_align; /* alignment of sub-buffer origins (CL_DEVICE_MEM_BASE_ADDR_ALIGN) */
    int from_cache;
    char options[2048];
    struct {
        cl_mem m;
        size_t bytes, grown;
    } scr[SCR_COUNT];
    unsigned long seq; /* commands enqueued that may write device memory */
    /* The partial maxima |x| a CPU GEMM left in SCR_MAXP for its int32 output m of n values
     * (np of them), valid while seq is unchanged: requant of that output, enqueued next, takes
     * them instead of a max pass of its own. */
    struct {
        cl_mem m;
        size_t n, np;
        unsigned long seq;
    } gemm_max;
} cl_impl;

static const niti_backend_ops cl_ops;

#define IMPL(be) ((cl_impl *)(be)->impl)

/* ---------------------------------------------------------------- helpers */

/* Kernel arguments: the first failure is kept and reported at launch. */
typedef struct kargs {
    cl_kernel k;
    cl_uint n;
    cl_int err;
} kargs;

static kargs ka_begin(cl_impl *im, int kid)
{
    kargs a = {im->k[kid], 0, CL_SUCCESS};
    return a;
}
static void ka_raw(kargs *a, size_t sz, const void *p)
{
    if (a->err == CL_SUCCESS) a->err = clSetKernelArg(a->k, a->n, sz, p);
    a->n++;
}
static void ka_mem(kargs *a, cl_mem m) { ka_raw(a, sizeof m, &m); }
static void ka_int(kargs *a, int v)
{
    cl_int x = v;
    ka_raw(a, sizeof x, &x);
}
/* The convolution window arguments every conv-shaped kernel takes, in this order. */
static void ka_window(kargs *a, int Hin, int Win, int Cin, int Hout, int Wout, int k, int pad)
{
    const int v[7] = {Hin, Win, Cin, Hout, Wout, k, pad};
    for (int i = 0; i < 7; i++) ka_int(a, v[i]);
}
static void ka_uint(kargs *a, uint32_t v)
{
    cl_uint x = v;
    ka_raw(a, sizeof x, &x);
}
static void ka_ulong(kargs *a, uint64_t v)
{
    cl_ulong x = v;
    ka_raw(a, sizeof x, &x);
}

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

static niti_status launch(cl_impl *im, kargs *a, cl_uint dims, const size_t *gs, const size_t *ls,
                          const char *op)
{
    if (a->err != CL_SUCCESS) return niti_cl_fail(a->err, "clSetKernelArg", op);
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(im->q, a->k, dims, NULL, gs, ls, 0, NULL,
                                        im->profile ? &ev : NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueNDRangeKernel", op);
    im->seq++;
    if (ev) { /* NITI_CL_PROFILE=1: per-kernel times, printed when the backend closes */
        cl_ulong t0 = 0, t1 = 0;
        clWaitForEvents(1, &ev);
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        clReleaseEvent(ev);
        for (int i = 0; i < K_COUNT; i++)
            if (im->k[i] == a->k) {
                im->prof_ns[i] += (double)(t1 - t0), im->prof_n[i]++;
                if (im->profile > 1)
                    fprintf(stderr, "profile %s %s %.3f ms\n", op, kernel_names[i],
                            (double)(t1 - t0) * 1e-6);
            }
    }
    return NITI_OK;
}

/* 1-D launch of n items in groups of 64 (kernels check the bound). */
static niti_status launch1(cl_impl *im, kargs *a, size_t n, const char *op)
{
    size_t gs = round_up(n ? n : 1, 64), ls = 64;
    return launch(im, a, 1, &gs, &ls, op);
}

/* CPU devices (the vnni and portable GEMM paths) use the task kernels of cpu_ops.cl for the
 * reductions and elementwise ops; the tiled (GPU) path keeps the work-group kernels. */
static int cpu_ops(const cl_impl *im) { return !tiled_path(im->gemm); }

/* Task launch over n elements (cpu_ops.cl): ranges of chunk elements (a multiple of 64), at most
 * NITI_MAX_TASKS tasks; the kernel's last argument is chunk. *tasks gets the number of tasks
 * (= the number of partials a max-|x| task kernel writes). */
#define NITI_MAX_TASKS 64
static niti_status launch_range(cl_impl *im, kargs *a, size_t n, size_t *tasks, const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t maxt = 8 * cu < NITI_MAX_TASKS ? 8 * cu : NITI_MAX_TASKS;
    size_t nn = n ? n : 1;
    size_t t = cdiv(nn, 32768);
    if (t > maxt) t = maxt;
    if (t < 1) t = 1;
    size_t chunk = round_up(cdiv(nn, t), 64);
    t = cdiv(nn, chunk);
    ka_ulong(a, chunk);
    if (tasks) *tasks = t;
    size_t ls = 1;
    return launch(im, a, 1, &t, &ls, op);
}

/* Task launch over `rows` rows, `per` rows per task (the kernel's last argument). */
static niti_status launch_rows(cl_impl *im, kargs *a, size_t rows, size_t row_bytes,
                               const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t maxt = 8 * cu < NITI_MAX_TASKS ? 8 * cu : NITI_MAX_TASKS;
    size_t nr = rows ? rows : 1;
    size_t t = cdiv(nr * (row_bytes ? row_bytes : 1), 32768);
    if (t > maxt) t = maxt;
    if (t > nr) t = nr;
    if (t < 1) t = 1;
    size_t per = cdiv(nr, t);
    t = cdiv(nr, per);
    ka_int(a, (int)per);
    size_t ls = 1;
    return launch(im, a, 1, &t, &ls, op);
}

static niti_status scratch(cl_impl *im, int id, size_t bytes, cl_mem *out)
{
    if (!bytes) bytes = 8;
    if (im->scr[id].bytes < bytes) {
        if (im->scr[id].m) clReleaseMemObject(im->scr[id].m); /* kept alive by queued work */
        niti_backend_count_release(im->be, im->scr[id].bytes);
        im->scr[id].m = NULL;
        im->scr[id].bytes = 0;
        /* grow geometrically, so that slowly growing shapes do not reallocate every call */
        if (bytes < im->scr[id].grown / 4 * 5) bytes = im->scr[id].grown / 4 * 5;
        cl_int err;
        cl_mem m = clCreateBuffer(im->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS) {
            niti_cl_fail(err, "clCreateBuffer", "scratch");
            return niti_fail_ctx(NITI_ERR_NOMEM, "OpenCL: cannot allocate %zu bytes of scratch",
                                 bytes);
        }
        im->scr[id].m = m;
        im->scr[id].bytes = bytes;
        im->scr[id].grown = bytes;
        niti_backend_count_alloc(im->be, bytes);
    }
    *out = im->scr[id].m;
    return NITI_OK;
}

static int check_slot(const niti_buf *sc, int slot) { return slot < 0 || (size_t)(slot + 1) * 4 <= sc->bytes; }

/* ---------------------------------------------------------------- memory */

static void cl_destroy(niti_backend *be)
{
    cl_impl *im = IMPL(be);
    if (im) {
        if (im->q) clFinish(im->q);
        for (int i = 0; im->profile && i < K_COUNT; i++)
            if (im->prof_n[i])
                fprintf(stderr, "profile %-24s %8ld calls %10.3f ms\n", kernel_names[i],
                        im->prof_n[i], im->prof_ns[i] * 1e-6);
        for (int i = 0; i < SCR_COUNT; i++)
            if (im->scr[i].m) clReleaseMemObject(im->scr[i].m);
        for (int i = 0; i < K_COUNT; i++)
            if (im->k[i]) clReleaseKernel(im->k[i]);
        if (im->prog) clReleaseProgram(im->prog);
        if (im->q) clReleaseCommandQueue(im->q);
        if (im->ctx) clReleaseContext(im->ctx);
        free(im);
    }
    free(be);
}

static niti_status cl_alloc(niti_backend *be, size_t bytes, const char *what, niti_buf **out)
{
    cl_impl *im = IMPL(be);
    const char *w = what ? what : "a buffer";
    if (bytes > im->max_alloc)
        return niti_fail(NITI_ERR_NOMEM,
                         "OpenCL %s: cannot allocate %zu bytes for %s: the device allows at most "
                         "%llu bytes per buffer",
                         be->short_name, bytes, w, (unsigned long long)im->max_alloc);
    niti_buf *b = calloc(1, sizeof *b);
    if (!b) return niti_fail(NITI_ERR_NOMEM, "OpenCL: cannot allocate a handle for %s", w);
    cl_int err;
    size_t sz = bytes ? bytes : 1;
    b->m = clCreateBuffer(im->ctx, CL_MEM_READ_WRITE, sz, NULL, &err);
    if (err != CL_SUCCESS) {
        free(b);
        niti_cl_fail(err, "clCreateBuffer", w);
        return niti_fail_ctx(NITI_ERR_NOMEM, "OpenCL %s: cannot allocate %zu bytes for %s",
                             be->short_name, bytes, w);
    }
    b->bytes = bytes;
    cl_uchar zero = 0;
    im->seq++;
    err = clEnqueueFillBuffer(im->q, b->m, &zero, 1, 0, sz, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(b->m);
        free(b);
        niti_cl_fail(err, "clEnqueueFillBuffer", w);
        return niti_fail_ctx(err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                                     err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY
                                 ? NITI_ERR_NOMEM
                                 : NITI_ERR_DEVICE,
                             "OpenCL %s: zero-filling %zu bytes for %s", be->short_name, bytes, w);
    }
    niti_backend_count_alloc(be, bytes);
    *out = b;
    return NITI_OK;
}

/* A sub-buffer of b's bytes [off, off + bytes): of b's own parent when b is a view (OpenCL allows
 * no sub-buffer of a sub-buffer). *origin gets its place in that parent. */
static cl_mem sub_buffer(const niti_buf *b, size_t off, size_t bytes, size_t *origin, cl_int *err)
{
    cl_buffer_region reg = {(b->view ? b->origin : 0) + off, bytes ? bytes : 1};
    if (origin) *origin = reg.origin;
    return clCreateSubBuffer(b->view ? b->parent : b->m, CL_MEM_READ_WRITE,
                             CL_BUFFER_CREATE_TYPE_REGION, &reg, err);
}

static niti_status cl_view(niti_backend *be, niti_buf *parent, size_t off, size_t bytes,
                           niti_buf **out)
{
    cl_impl *im = IMPL(be);
    if (off % NITI_VIEW_ALIGN || off % im->sub_align || off > parent->bytes ||
        bytes > parent->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "OpenCL view: [%zu, +%zu) of a %zu-byte buffer", off,
                         bytes, parent->bytes);
    niti_buf *b = calloc(1, sizeof *b);
    if (!b) return niti_fail(NITI_ERR_NOMEM, "OpenCL view");
    cl_int err;
    b->m = sub_buffer(parent, off, bytes, &b->origin, &err);
    if (err != CL_SUCCESS) {
        free(b);
        return niti_cl_fail(err, "clCreateSubBuffer", "view");
    }
    b->bytes = bytes;
    b->view = 1;
    b->parent = parent->view ? parent->parent : parent->m;
    *out = b;
    return NITI_OK;
}

static void cl_release(niti_backend *be, niti_buf *b)
{
    if (!b) return;
    if (!b->view) niti_backend_count_release(be, b->bytes);
    IMPL(be)->seq++; /* a later buffer may get the same handle */
    if (b->m) clReleaseMemObject(b->m);
    free(b);
}

static niti_status cl_upload(niti_backend *be, niti_buf *dst, size_t off, const void *src,
                             size_t bytes)
{
    if (off > dst->bytes || bytes > dst->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "OpenCL: upload of %zu bytes at %zu into a %zu-byte buffer",
                         bytes, off, dst->bytes);
    if (!bytes) return NITI_OK;
    /* Blocking: the caller may reuse src as soon as we return. */
    IMPL(be)->seq++;
    cl_int err = clEnqueueWriteBuffer(IMPL(be)->q, dst->m, CL_TRUE, off, bytes, src, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueWriteBuffer", "upload");
    return NITI_OK;
}

static niti_status cl_download(niti_backend *be, niti_buf *src, size_t off, void *dst,
                               size_t bytes)
{
    if (off > src->bytes || bytes > src->bytes - off)
        return niti_fail(NITI_ERR_INVALID,
                         "OpenCL: download of %zu bytes at %zu from a %zu-byte buffer", bytes, off,
                         src->bytes);
    cl_int err;
    if (!bytes) {
        err = clFinish(IMPL(be)->q);
        return err == CL_SUCCESS ? NITI_OK : niti_cl_fail(err, "clFinish", "download");
    }
    err = clEnqueueReadBuffer(IMPL(be)->q, src->m, CL_TRUE, off, bytes, dst, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueReadBuffer", "download");
    return NITI_OK;
}

static niti_status cl_finish(niti_backend *be)
{
    cl_int err = clFinish(IMPL(be)->q);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clFinish", "finish");
    return NITI_OK;
}

/* ---------------------------------------------------------------- conv */

static niti_status cpu_conv(cl_impl *im, int mode, cl_mem X, cl_mem Wsrc, int Hin, int Win,
                            int Cin, int Hout, int Wout, int k, int pad, int M, int Ncol, int K,
                            int O, niti_buf *out, niti_dtype acc_t, const char *op);
static niti_status cpu_wgrad(cl_impl *im, const niti_conv_geom *g, cl_mem A, cl_mem E, niti_buf *ws,
                             niti_buf *G);

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
static niti_status run_gemm(cl_impl *im, cl_mem X, cl_mem B, int Hin, int Win, int Cin, int Hout,
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
    if (!direct) NITI_TRY(scratch(im, SCR_SPLIT, MN * 4 * (size_t)S, &Y));
    kargs a = ka_begin(im, narrow ? K_CONV_GEMM_NC : K_CONV_GEMM);
    ka_mem(&a, X);
    ka_mem(&a, B);
    ka_mem(&a, Y);
    ka_window(&a, Hin, Win, Cin, Hout, Wout, k, pad);
    ka_int(&a, M);
    ka_int(&a, Ncol);
    ka_int(&a, K);
    ka_int(&a, chunk);
    size_t gs[3] = {tn * wx, tm * wy, (size_t)S}, ls[3] = {wx, wy, 1};
    NITI_TRY(launch(im, &a, 3, gs, ls, op));
    if (direct) return NITI_OK;
    kargs r = ka_begin(im, acc_t == NITI_I64 ? K_SUM_TO_I64 : K_SUM_TO_I32);
    ka_mem(&r, Y);
    ka_int(&r, S);
    ka_ulong(&r, MN);
    ka_mem(&r, out->m);
    return launch1(im, &r, MN, op);
}

static niti_status check_acc_t(niti_dtype t, const char *op)
{
    if (t != NITI_I32 && t != NITI_I64)
        return niti_fail(NITI_ERR_INVALID, "OpenCL %s: accumulator type %s (need I32 or I64)", op,
                         niti_dtype_name(t));
    return NITI_OK;
}

static niti_status cl_conv_fwd(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                               niti_buf *W, niti_buf *acc, niti_dtype acc_t)
{
    NITI_TRY(check_acc_t(acc_t, "conv_fwd"));
    int M = g->N * g->Ho * g->Wo, K = g->k * g->k * g->I;
    if (!tiled_path(IMPL(be)->gemm))
        return cpu_conv(IMPL(be), 0, A->m, W->m, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad, M,
                        g->O, K, g->O, acc, acc_t, "conv_fwd");
    return run_gemm(IMPL(be), A->m, W->m, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad, M, g->O,
                    K, acc, acc_t, "conv_fwd");
}

static niti_status cl_conv_dgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *E,
                                 niti_buf *W, niti_buf *accE, niti_dtype acc_t)
{
    NITI_TRY(check_acc_t(acc_t, "conv_dgrad"));
    cl_impl *im = IMPL(be);
    if (!tiled_path(im->gemm))
        return cpu_conv(im, 1, E->m, W->m, g->Ho, g->Wo, g->O, g->H, g->W, g->k,
                        g->k - 1 - g->pad, g->N * g->H * g->W, g->I, g->k * g->k * g->O, g->O,
                        accE, acc_t, "conv_dgrad");
    size_t nw = (size_t)g->O * g->k * g->k * g->I;
    cl_mem Wt = NULL;
    NITI_TRY(scratch(im, SCR_WT, nw, &Wt));
    kargs a = ka_begin(im, K_WT_TRANSPOSE);
    ka_mem(&a, W->m);
    ka_mem(&a, Wt);
    ka_int(&a, g->O);
    ka_int(&a, g->k);
    ka_int(&a, g->I);
    NITI_TRY(launch1(im, &a, nw, "conv_dgrad"));
    /* accE = conv(E, flipped W^T) with padding k-1-pad over the Ho x Wo error. */
    int M = g->N * g->H * g->W, K = g->k * g->k * g->O;
    return run_gemm(im, E->m, Wt, g->Ho, g->Wo, g->O, g->H, g->W, g->k, g->k - 1 - g->pad, M, g->I,
                    K, accE, acc_t, "conv_dgrad");
}

/* Scratch regions for one op: sub-buffers of the caller's work space when all of them fit in
 * it (origins aligned for the device), else the backend's own scratch buffers `ids`. The
 * sub-buffers are released by ws_done once the op is enqueued (queued work keeps them alive). */
typedef struct ws_regions {
    int n;
    cl_mem sub[4];
} ws_regions;

/* Whether n regions of these sizes fit in ws, each at an aligned offset. */
static int ws_fits(const cl_impl *im, const niti_buf *ws, int n, const size_t *bytes)
{
    size_t need = 0;
    for (int i = 0; i < n; i++) need += round_up(bytes[i] ? bytes[i] : 8, im->sub_align);
    return ws && ws->m && need <= ws->bytes && (ws->view ? ws->origin : 0) % im->sub_align == 0;
}

static niti_status ws_take(cl_impl *im, niti_buf *ws, int n, const size_t *bytes, const int *ids,
                           cl_mem *out, ws_regions *r)
{
    r->n = 0;
    if (ws_fits(im, ws, n, bytes)) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            size_t sz = bytes[i] ? bytes[i] : 8;
            cl_int err;
            out[i] = sub_buffer(ws, off, sz, NULL, &err);
            if (err != CL_SUCCESS) { /* not fatal: the own scratch instead */
                for (int j = 0; j < r->n; j++) clReleaseMemObject(r->sub[j]);
                r->n = 0;
                goto own;
            }
            r->sub[r->n++] = out[i];
            off += round_up(sz, im->sub_align);
        }
        return NITI_OK;
    }
own:
    for (int i = 0; i < n; i++) NITI_TRY(scratch(im, ids[i], bytes[i], &out[i]));
    return NITI_OK;
}

static niti_status ws_done(ws_regions *r, niti_status s)
{
    for (int j = 0; j < r->n; j++) clReleaseMemObject(r->sub[j]);
    r->n = 0;
    return s;
}

#define WS_TRY(wr, x)                                                                              \
    do {                                                                                           \
        niti_status s_ = (x);                                                                      \
        if (s_ != NITI_OK) return ws_done((wr), s_);                                               \
    } while (0)

static niti_status cl_conv_wgrad(niti_backend *be, const niti_conv_geom *g, niti_buf *A,
                                 niti_buf *E, niti_buf *G, niti_buf *ws)
{
    cl_impl *im = IMPL(be);
    int M = g->N * g->Ho * g->Wo, K = g->k * g->k * g->I;
    size_t OK = (size_t)g->O * (size_t)K;
    if (G->bytes < OK * 8)
        return niti_fail(NITI_ERR_INVALID, "OpenCL conv_wgrad: G has %zu bytes, need %zu",
                         G->bytes, OK * 8);
    if (!tiled_path(im->gemm)) return cpu_wgrad(im, g, A->m, E->m, ws, G);
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
        NITI_TRY(ws_take(im, ws, 1, &bytes, &id, &out, &wr));
    }
    kargs a = ka_begin(im, narrow ? K_CONV_WGRAD_NR : K_CONV_WGRAD);
    ka_mem(&a, A->m);
    ka_mem(&a, E->m);
    ka_mem(&a, out);
    ka_window(&a, g->H, g->W, g->I, g->Ho, g->Wo, g->k, g->pad);
    ka_int(&a, g->O);
    ka_int(&a, K);
    ka_int(&a, M);
    ka_int(&a, chunk);
    size_t gs[3] = {tk * wx, to * wy, (size_t)S}, ls[3] = {wx, wy, 1};
    WS_TRY(&wr, launch(im, &a, 3, gs, ls, "conv_wgrad"));
    if (S == 1) return NITI_OK;
    kargs r = ka_begin(im, K_SUM_I64);
    ka_mem(&r, out);
    ka_int(&r, S);
    ka_ulong(&r, OK);
    ka_mem(&r, G->m);
    return ws_done(&wr, launch1(im, &r, OK, "conv_wgrad"));
}

/* ---------------------------------------------------------------- CPU GEMM paths */

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

/* Launches a kernel of reqd_work_group_size 1 over `tasks` tasks, `per` tasks per work-item (POCL
 * pays about a microsecond per work-group: a few hundred large ones, not millions of tiny ones).
 * The kernel's last argument is per. */
static niti_status launch_tasks(cl_impl *im, kargs *a, size_t tasks, const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t items = 64 * cu;
    if (tiled_path(im->gemm) || !(im->info.type & CL_DEVICE_TYPE_CPU)) items = 65536;
    size_t per = cdiv(tasks ? tasks : 1, items);
    ka_int(a, (int)per);
    size_t gs = cdiv(tasks ? tasks : 1, per), ls = 1;
    return launch(im, a, 1, &gs, &ls, op);
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

/* A zero-filled buffer of at least `bytes` bytes (the image view's padding). */
static niti_status zeros(cl_impl *im, size_t bytes, cl_mem *out)
{
    int grow = im->scr[SCR_ZERO].bytes < (bytes ? bytes : 8);
    NITI_TRY(scratch(im, SCR_ZERO, bytes, out));
    if (grow) {
        cl_uchar z = 0;
        im->seq++;
        cl_int err = clEnqueueFillBuffer(im->q, *out, &z, 1, 0, im->scr[SCR_ZERO].bytes, 0, NULL,
                                         NULL);
        if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueFillBuffer", "zeros");
    }
    return NITI_OK;
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
    NITI_TRY(zeros(im, (size_t)rv->Cin, &Z));
    kargs a = ka_begin(im, c.kid);
    ka_mem(&a, rv->X);
    ka_mem(&a, Z);
    ka_window(&a, rv->Hin, rv->Win, rv->Cin, rv->Hout, rv->Wout, rv->k, rv->pad);
    ka_uint(&a, rv->xorv);
    ka_mem(&a, B);
    ka_mem(&a, C);
    ka_int(&a, out64);
    ka_int(&a, Mst);
    ka_int(&a, Nst);
    ka_int(&a, ldc);
    cl_long cs = (cl_long)cstride;
    ka_raw(&a, sizeof cs, &cs);
    ka_int(&a, Kp4);
    ka_int(&a, kc4);
    ka_int(&a, kb4);
    ka_int(&a, (int)rb);
    size_t gs[3] = {pg, cdiv(mb, rb), (size_t)S}, ls[3] = {1, 1, 1};
    int want_max = maxp && S == 1 && !out64 && gs[0] * gs[1] <= NITI_GEMM_MAX_PARTS;
    ka_mem(&a, want_max ? maxp : B);
    ka_int(&a, want_max);
    for (int i = 0; eg && i < 5; i++) ka_int(&a, eg[i]);
    if (np) *np = want_max ? gs[0] * gs[1] : 0;
    return launch(im, &a, 3, gs, ls, op);
}

/* Forward (mode 0) and dgrad (mode 1): out[m, n] = sum_kk im2col(X)[m, kk] * B(n, kk). The
 * row operand is read in place when Cin % 4 == 0, else packed (im2col) first. */
static niti_status cpu_conv(cl_impl *im, int mode, cl_mem X, cl_mem Wsrc, int Hin, int Win,
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
    NITI_TRY(scratch(im, SCR_PACKB, Np * Kp, &PB));
    int direct = S == 1;
    if (!direct) NITI_TRY(scratch(im, SCR_SPLIT, MN * 4 * (size_t)S, &Y));

    row_view rv = {X, Hin, Win, Cin, Hout, Wout, k, pad, xorv};
    if (pad_ch) {
        size_t R = (size_t)(M / (Hout * Wout)) * (size_t)Hin * (size_t)Win;
        NITI_TRY(scratch(im, SCR_PACKA, R * (size_t)Cp, &PA));
        kargs a = ka_begin(im, K_PAD_CHANNELS);
        ka_mem(&a, X);
        ka_mem(&a, PA);
        ka_int(&a, (int)R);
        ka_int(&a, Cin);
        ka_int(&a, Cp);
        NITI_TRY(launch_tasks(im, &a, R, op));
        rv.X = PA;
        rv.Cin = Cp;
    } else if (Cin % 4 != 0) {
        NITI_TRY(scratch(im, SCR_PACKA, (size_t)M * Kp, &PA));
        kargs a = ka_begin(im, K_PACK_ROWS);
        ka_mem(&a, X);
        ka_mem(&a, PA);
        ka_window(&a, Hin, Win, Cin, Hout, Wout, k, pad);
        ka_int(&a, M);
        ka_int(&a, M);
        ka_int(&a, K);
        ka_int(&a, (int)Kp);
        ka_int(&a, vnni ? 0x80 : 0);
        NITI_TRY(launch_tasks(im, &a, (size_t)M, op));
        rv = packed_view(PA, Kp, 0);
    }

    kargs b = ka_begin(im, K_PACK_PANELS);
    ka_mem(&b, Wsrc);
    ka_mem(&b, PB);
    ka_int(&b, mode);
    ka_int(&b, Ncol);
    ka_int(&b, K);
    ka_int(&b, k);
    ka_int(&b, O);
    ka_int(&b, (int)Kp);
    ka_int(&b, vnni);
    ka_int(&b, (int)NP);
    ka_int(&b, pad_ch ? Cin : 1);
    ka_int(&b, pad_ch ? Cp : 1);
    NITI_TRY(launch_tasks(im, &b, Kp4 * NP, op));

    size_t np = 0;
    if (direct && acc_t == NITI_I32)
        NITI_TRY(scratch(im, SCR_MAXP, NITI_GEMM_MAX_PARTS * sizeof(cl_ulong), &MX));
    NITI_TRY(run_mk(im, c, &rv, PB, Y, direct && acc_t == NITI_I64, M, Ncol, Ncol, MN,
                    (int)Kp4, kc4, (int)Np, S, MX, &np, NULL, op));
    if (np) {
        im->gemm_max.m = out->m, im->gemm_max.n = MN, im->gemm_max.np = np;
        im->gemm_max.seq = im->seq;
    }
    if (direct) return NITI_OK;
    kargs r = ka_begin(im, acc_t == NITI_I64 ? K_SUM_TO_I64 : K_SUM_TO_I32);
    ka_mem(&r, Y);
    ka_int(&r, S);
    ka_ulong(&r, MN);
    ka_mem(&r, out->m);
    return launch1(im, &r, MN, op);
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
static niti_status cpu_wgrad(cl_impl *im, const niti_conv_geom *g, cl_mem A, cl_mem E, niti_buf *ws,
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
        if (p3.ok && ws_fits(im, ws, 3, p3.bytes)) p = p3;
    }
    if (!p.ok) return niti_fail(NITI_ERR_INVALID, "OpenCL conv_wgrad: shape too large");
    mode = p.mode;
    int Hg = p.Hg, Wg = p.Wg, S = p.S, kc4 = p.kc4;
    size_t Qp = p.Qp, Qp4 = Qp / 4, Pst = p.Pst;
    cl_mem PA = NULL, PB = NULL, P = NULL;
    static const int rid[3] = {SCR_PACKA, SCR_PACKB, SCR_SPLIT};
    cl_mem reg[3];
    ws_regions wr;
    NITI_TRY(ws_take(im, ws, 3, p.bytes, rid, reg, &wr));
    PA = reg[0], PB = reg[1], P = reg[2];

    kargs a = ka_begin(im, mode == 3 ? K_PACK_APAD_KX : K_PACK_APAD);
    ka_mem(&a, A);
    ka_mem(&a, PA);
    ka_int(&a, N);
    ka_int(&a, g->H);
    ka_int(&a, g->W);
    ka_int(&a, I);
    ka_int(&a, g->pad);
    ka_int(&a, Hp);
    ka_int(&a, mode == 3 ? g->Wo : Wp);
    if (mode == 3) ka_int(&a, k);
    cl_long pst = (cl_long)Pst;
    ka_raw(&a, sizeof pst, &pst);
    ka_int(&a, vnni ? 0x80 : 0);
    WS_TRY(&wr, launch_tasks(im, &a, Pst / 64, "conv_wgrad")); /* blocks of 64 positions */

    /* the panel operand: packed here (portable), or built from E inside the kernel (vnni) */
    const int eg[5] = {N, g->Ho, g->Wo, Hg, Wg};
    if (!vnni) {
        kargs b = ka_begin(im, K_PACK_EPANEL);
        ka_mem(&b, E);
        ka_mem(&b, PB);
        ka_int(&b, N);
        ka_int(&b, g->Ho);
        ka_int(&b, g->Wo);
        ka_int(&b, O);
        ka_int(&b, Hg);
        ka_int(&b, Wg);
        ka_int(&b, (int)Qp);
        ka_int(&b, (int)NP);
        WS_TRY(&wr, launch_tasks(im, &b, Qp4, "conv_wgrad"));
    }

    /* Row view fields in the transposed form: see NITI_MK_BODY_WG. */
    int L = mode == 0 ? g->Wo / 4 : mode == 1 ? g->Ho * Wp / 4 : mode == 3 ? g->Ho * g->Wo / 4 : (int)Qp4;
    int Hq = mode == 0 ? g->Ho : 1;
    row_view rv = {PA, Hp, mode == 3 ? g->Wo : Wp, I, Hq, L, k, (int)Pst, mode == 3 ? 1u : 0u};
    WS_TRY(&wr, run_mk(im, c, &rv, vnni ? E : PB, P, 0, K, O, O, KO, (int)Qp4, kc4, (int)Np, S,
                       NULL, NULL, vnni ? eg : NULL, "conv_wgrad"));
    kargs r = ka_begin(im, K_WGRAD_REDUCE_T);
    ka_mem(&r, P);
    ka_int(&r, S);
    ka_int(&r, K);
    ka_int(&r, O);
    ka_mem(&r, G->m);
    return ws_done(&wr, launch_tasks(im, &r, cdiv((size_t)K, 16), "conv_wgrad"));
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
    return launch(im, &a, 1, &gs, &ls, op);
}

/* Stage 1 of max |x| on a CPU device: *np partials. */
static niti_status cpu_max_abs(cl_impl *im, cl_mem x, int is64, size_t n, cl_mem part,
                               size_t *np, const char *op)
{
    kargs a = ka_begin(im, is64 ? K_CPU_MAX_I64 : K_CPU_MAX_I32);
    ka_mem(&a, x);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    return launch_range(im, &a, n, np, op);
}

static niti_status cl_requant(niti_backend *be, niti_buf *acc, niti_dtype acc_t, size_t n,
                              niti_rule rule, niti_rounding rounding, niti_buf *out,
                              niti_buf *scalars, int shift_slot, int exp_in_slot, int exp_add,
                              int exp_slot)
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
    NITI_TRY(scratch(im, SCR_PART1, 256 * 8, &part));
    /* The shift needs the whole tensor's max |acc|: partial maxima first, then one pass. */
    int cpu = cpu_ops(im);
    size_t np = 0;
    if (cpu && !is64 && im->gemm_max.m == acc->m && im->gemm_max.n == n &&
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
    ka_int(&a, (int)np);
    ka_int(&a, rule == NITI_RULE_NITI20 ? 1 : 0);
    ka_int(&a, rounding == NITI_PSR ? 1 : 0);
    ka_mem(&a, out->m);
    ka_mem(&a, scalars->m);
    ka_int(&a, shift_slot);
    ka_int(&a, exp_in_slot);
    ka_int(&a, exp_add);
    ka_int(&a, exp_slot);
    if (cpu) return launch_range(im, &a, n, NULL, "requant");
    size_t gs = np * im->red_wg, ls = im->red_wg;
    return launch(im, &a, 1, &gs, &ls, "requant");
}

/* ---------------------------------------------------------------- elementwise */

static niti_status cl_relu_fwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *Y)
{
    cl_impl *im = IMPL(be);
    if (cpu_ops(im)) {
        kargs c = ka_begin(im, K_CPU_RELU_FWD);
        ka_ulong(&c, n);
        ka_mem(&c, A->m);
        ka_mem(&c, Y->m);
        return launch_range(im, &c, n, NULL, "relu_fwd");
    }
    kargs a = ka_begin(im, K_RELU_FWD);
    ka_ulong(&a, n);
    ka_mem(&a, A->m);
    ka_mem(&a, Y->m);
    return launch1(im, &a, n, "relu_fwd");
}

static niti_status cl_relu_bwd(niti_backend *be, size_t n, niti_buf *A, niti_buf *E,
                               niti_buf *Eprev)
{
    cl_impl *im = IMPL(be);
    if (cpu_ops(im)) {
        kargs c = ka_begin(im, K_CPU_RELU_BWD);
        ka_ulong(&c, n);
        ka_mem(&c, A->m);
        ka_mem(&c, E->m);
        ka_mem(&c, Eprev->m);
        return launch_range(im, &c, n, NULL, "relu_bwd");
    }
    kargs a = ka_begin(im, K_RELU_BWD);
    ka_ulong(&a, n);
    ka_mem(&a, A->m);
    ka_mem(&a, E->m);
    ka_mem(&a, Eprev->m);
    return launch1(im, &a, n, "relu_bwd");
}

static niti_status cl_maxpool_fwd(niti_backend *be, int N, int H, int W, int C, niti_buf *A,
                                  niti_buf *Y, niti_buf *argmax)
{
    cl_impl *im = IMPL(be);
    size_t total = (size_t)N * (size_t)(H / 2) * (size_t)(W / 2) * (size_t)C;
    if (!total) return NITI_OK;
    if (cpu_ops(im)) {
        kargs c = ka_begin(im, K_CPU_POOL_FWD);
        ka_int(&c, N);
        ka_int(&c, H);
        ka_int(&c, W);
        ka_int(&c, C);
        ka_mem(&c, A->m);
        ka_mem(&c, Y->m);
        ka_mem(&c, argmax->m);
        return launch_rows(im, &c, (size_t)N * (size_t)(H / 2), (size_t)W * 2 * (size_t)C,
                           "maxpool_fwd");
    }
    kargs a = ka_begin(im, K_POOL_FWD);
    ka_int(&a, N);
    ka_int(&a, H);
    ka_int(&a, W);
    ka_int(&a, C);
    ka_mem(&a, A->m);
    ka_mem(&a, Y->m);
    ka_mem(&a, argmax->m);
    return launch1(im, &a, total, "maxpool_fwd");
}

static niti_status cl_maxpool_bwd(niti_backend *be, int N, int H, int W, int C, niti_buf *E,
                                  niti_buf *argmax, niti_buf *Eprev)
{
    cl_impl *im = IMPL(be);
    size_t total = (size_t)N * (size_t)H * (size_t)W * (size_t)C;
    if (!total) return NITI_OK;
    if (cpu_ops(im)) {
        kargs c = ka_begin(im, K_CPU_POOL_BWD);
        ka_int(&c, N);
        ka_int(&c, H);
        ka_int(&c, W);
        ka_int(&c, C);
        ka_mem(&c, E->m);
        ka_mem(&c, argmax->m);
        ka_mem(&c, Eprev->m);
        return launch_rows(im, &c, (size_t)N * (size_t)H, (size_t)W * (size_t)C, "maxpool_bwd");
    }
    kargs a = ka_begin(im, K_POOL_BWD);
    ka_int(&a, N);
    ka_int(&a, H);
    ka_int(&a, W);
    ka_int(&a, C);
    ka_mem(&a, E->m);
    ka_mem(&a, argmax->m);
    ka_mem(&a, Eprev->m);
    return launch1(im, &a, total, "maxpool_bwd");
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
    NITI_TRY(scratch(im, SCR_SATPART, G * 8, &part));
    kargs a = ka_begin(im, K_COUNT_SAT);
    ka_mem(&a, x->m);
    ka_ulong(&a, n);
    ka_mem(&a, part);
    size_t one = 1;
    NITI_TRY(launch(im, &a, 1, &G, &one, "count_sat"));
    kargs b = ka_begin(im, K_COUNT_SAT_SUM);
    ka_mem(&b, part);
    ka_int(&b, (int)G);
    ka_mem(&b, counts->m);
    ka_int(&b, index);
    return launch(im, &b, 1, &one, &one, "count_sat");
}

static niti_status cl_dropout(niti_backend *be, int N, int F, uint64_t seed, uint32_t t,
                              uint32_t layer, niti_buf *in, niti_buf *out)
{
    cl_impl *im = IMPL(be);
    if (N <= 0 || F <= 0) return NITI_OK;
    if (cpu_ops(im)) {
        cl_mem mask = NULL;
        NITI_TRY(scratch(im, SCR_MASK, (size_t)F, &mask));
        kargs m = ka_begin(im, K_DROPOUT_MASK);
        ka_int(&m, F);
        ka_ulong(&m, seed);
        ka_uint(&m, t);
        ka_uint(&m, layer);
        ka_mem(&m, mask);
        NITI_TRY(launch1(im, &m, (size_t)F, "dropout"));
        kargs c = ka_begin(im, K_CPU_DROPOUT);
        ka_int(&c, N);
        ka_int(&c, F);
        ka_mem(&c, mask);
        ka_mem(&c, in->m);
        ka_mem(&c, out->m);
        return launch_rows(im, &c, (size_t)N, (size_t)F, "dropout");
    }
    kargs a = ka_begin(im, K_DROPOUT);
    ka_int(&a, N);
    ka_int(&a, F);
    ka_ulong(&a, seed);
    ka_uint(&a, t);
    ka_uint(&a, layer);
    ka_mem(&a, in->m);
    ka_mem(&a, out->m);
    return launch1(im, &a, (size_t)F, "dropout");
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
    else NITI_TRY(scratch(im, SCR_LOSSQ, nc * 8, &qm));
    kargs a = ka_begin(im, K_LOSS);
    ka_int(&a, N);
    ka_int(&a, C);
    ka_mem(&a, logits->m);
    ka_mem(&a, labels->m);
    ka_mem(&a, scalars->m);
    ka_int(&a, exp_base);
    ka_int(&a, exp_slot);
    ka_int(&a, e_out_slot);
    ka_ulong(&a, seed);
    ka_uint(&a, t);
    ka_mem(&a, qm);
    ka_mem(&a, err->m);
    size_t ls = im->red_wg < 64 ? im->red_wg : 64, gs = ls; /* one work-group */
    return launch(im, &a, 1, &gs, &ls, "loss_bwd");
}

/* ---------------------------------------------------------------- update */

static niti_status cl_update(niti_backend *be, size_t n, niti_buf *G, int mu, int decay,
                             niti_buf *W, niti_buf *master, niti_buf *g_out)
{
    cl_impl *im = IMPL(be);
    if (G->bytes < n * 8 || W->bytes < n || (master && master->bytes < n * 2) ||
        (g_out && g_out->bytes < n))
        return niti_fail(NITI_ERR_INVALID, "OpenCL update: buffers too small for %zu weights", n);
    size_t groups = red_groups(im, n);
    cl_mem p1 = NULL, p2 = NULL, dummy = NULL;
    NITI_TRY(scratch(im, SCR_PART1, 256 * 8, &p1));
    NITI_TRY(scratch(im, SCR_PART2, 256 * 8, &p2));
    NITI_TRY(scratch(im, SCR_DUMMY, 8, &dummy));
    if (cpu_ops(im)) {
        size_t np = 0;
        NITI_TRY(cpu_max_abs(im, G->m, 1, n, p1, &np, "update"));
        if (decay) {
            kargs d = ka_begin(im, K_CPU_DECAY);
            ka_ulong(&d, n);
            ka_mem(&d, G->m);
            ka_mem(&d, W->m);
            ka_mem(&d, p1);
            ka_int(&d, (int)np);
            ka_mem(&d, p2);
            NITI_TRY(launch_range(im, &d, n, NULL, "update (decay)"));
        }
        kargs a = ka_begin(im, K_CPU_UPDATE);
        ka_ulong(&a, n);
        ka_mem(&a, G->m);
        ka_mem(&a, decay ? p2 : p1);
        ka_int(&a, (int)np);
        ka_int(&a, mu);
        ka_mem(&a, W->m);
        ka_mem(&a, master ? master->m : dummy);
        ka_int(&a, master != NULL);
        ka_mem(&a, g_out ? g_out->m : dummy);
        ka_int(&a, g_out != NULL);
        return launch_range(im, &a, n, NULL, "update");
    }
    NITI_TRY(max_abs(im, G->m, 1, n, groups, p1, "update"));
    size_t gs = groups * im->red_wg, ls = im->red_wg;
    if (decay) {
        kargs d = ka_begin(im, K_DECAY);
        ka_ulong(&d, n);
        ka_mem(&d, G->m);
        ka_mem(&d, W->m);
        ka_mem(&d, p1);
        ka_int(&d, (int)groups);
        ka_mem(&d, p2);
        NITI_TRY(launch(im, &d, 1, &gs, &ls, "update (decay)"));
    }
    kargs a = ka_begin(im, K_UPDATE);
    ka_ulong(&a, n);
    ka_mem(&a, G->m);
    ka_mem(&a, decay ? p2 : p1);
    ka_int(&a, (int)groups);
    ka_int(&a, mu);
    ka_mem(&a, W->m);
    ka_mem(&a, master ? master->m : dummy);
    ka_int(&a, master != NULL);
    ka_mem(&a, g_out ? g_out->m : dummy);
    ka_int(&a, g_out != NULL);
    return launch(im, &a, 1, &gs, &ls, "update");
}

static const niti_backend_ops cl_ops = {
    .destroy = cl_destroy,
    .alloc = cl_alloc,
    .release = cl_release,
    .upload = cl_upload,
    .download = cl_download,
    .finish = cl_finish,
    .conv_fwd = cl_conv_fwd,
    .conv_dgrad = cl_conv_dgrad,
    .conv_wgrad = cl_conv_wgrad,
    .requant = cl_requant,
    .relu_fwd = cl_relu_fwd,
    .relu_bwd = cl_relu_bwd,
    .maxpool_fwd = cl_maxpool_fwd,
    .maxpool_bwd = cl_maxpool_bwd,
    .view = cl_view,
    .count_sat = cl_count_sat,
    .dropout = cl_dropout,
    .loss_bwd = cl_loss_bwd,
    .update = cl_update,
};

/* ---------------------------------------------------------------- creation */

int niti_cl_program_from_cache(const niti_backend *be)
{
    return be && be->ops == &cl_ops ? IMPL(be)->from_cache : -1;
}

const char *niti_cl_build_options(const niti_backend *be)
{
    return be && be->ops == &cl_ops ? IMPL(be)->options : "";
}

/* The -D options that select a GEMM path's kernels. */
static const char *path_options(const cl_impl *im)
{
    switch (im->gemm) {
    case GEMM_VNNI: return " -DNITI_VNNI=1";
    case GEMM_PORTABLE: return " -DNITI_PORTABLE=1";
    case GEMM_DP4A:
        return im->dot_emulate ? " -DNITI_DOT_DP4A=1 -DNITI_DOT_EMULATE=1" : " -DNITI_DOT_DP4A=1";
    case GEMM_KHR_DOT:
        return im->dot_emulate ? " -DNITI_DOT_KHR=1 -DNITI_DOT_EMULATE=1" : " -DNITI_DOT_KHR=1";
    }
    return "";
}

static niti_status build(cl_impl *im)
{
    const char *extra = getenv("NITI_CL_EXTRA_OPTIONS");
    /* The kernels are OpenCL C 1.2, except that compilers may declare the builtins of
     * cl_khr_integer_dot_product only for OpenCL C 3.0: khr-dot asks for 3.0 where the device
     * has it. */
    int cl3 = im->gemm == GEMM_KHR_DOT && !im->dot_emulate && im->info.c_major >= 3;
    snprintf(im->options, sizeof im->options,
             "-cl-std=%s -DNITI_TM=%d -DNITI_TN=%d -DNITI_TK=%d -DNITI_RM=%d -DNITI_RN=%d "
             "-DNITI_RED_WG=%zu%s%s%.1000s",
             cl3 ? "CL3.0" : "CL1.2", im->t.TM, im->t.TN, im->t.TK, im->t.RM, im->t.RN,
             im->red_wg, path_options(im), extra ? " " : "", extra ? extra : "");
    niti_status s = niti_cl_build_program(im->ctx, &im->info, im->options, &im->prog,
                                          &im->from_cache);
    if (s != NITI_OK) return s;
    for (int i = 0; i < K_COUNT; i++) {
        cl_int err;
        if (!kernel_in_path(i, im->gemm)) continue;
        im->k[i] = clCreateKernel(im->prog, kernel_names[i], &err);
        if (err != CL_SUCCESS) return niti_cl_fail(err, "clCreateKernel", kernel_names[i]);
    }
    return NITI_OK;
}

static void release_program(cl_impl *im)
{
    for (int i = 0; i < K_COUNT; i++)
        if (im->k[i]) clReleaseKernel(im->k[i]), im->k[i] = NULL;
    if (im->prog) clReleaseProgram(im->prog), im->prog = NULL;
}

static size_t kernel_wg(cl_impl *im, int kid)
{
    size_t wg = 0;
    if (clGetKernelWorkGroupInfo(im->k[kid], im->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                 sizeof wg, &wg, NULL) != CL_SUCCESS)
        return 0;
    return wg;
}

/* Builds the program for im->gemm with the largest tile configuration whose kernels fit. */
static niti_status build_tiles(cl_impl *im, const char *name)
{
    niti_cl_device_info info = im->info;
    niti_status s = NITI_OK;
    /* Tile configurations, largest first; the first whose kernels fit the device is used. */
    static const niti_cl_tiles configs[] = {{64, 64, 16, 4, 4}, {32, 32, 16, 4, 4}, {16, 16, 16, 2, 2}};
    size_t ncfg = sizeof configs / sizeof configs[0];
    niti_cl_tiles forced;
    const char *tenv = getenv("NITI_CL_TILES");
    int have_forced = tenv && sscanf(tenv, "%d,%d,%d,%d,%d", &forced.TM, &forced.TN, &forced.TK,
                                     &forced.RM, &forced.RN) == 5;
    for (size_t c = 0; c < (have_forced ? 1 : ncfg); c++) {
        im->t = have_forced ? forced : configs[c];
        size_t nt = (size_t)(im->t.TM / im->t.RM) * (size_t)(im->t.TN / im->t.RN);
        if (!have_forced && nt > info.max_wg && c + 1 < ncfg) continue;
        im->red_wg = 256;
        while (im->red_wg > info.max_wg && im->red_wg > 1) im->red_wg /= 2;
        s = build(im);
        if (s != NITI_OK) return s;
        if (kernel_wg(im, K_CONV_GEMM) >= nt && kernel_wg(im, K_CONV_WGRAD) >= nt &&
            kernel_wg(im, K_CONV_GEMM_NC) >= nt && kernel_wg(im, K_CONV_WGRAD_NR) >= nt &&
            kernel_wg(im, K_MAX_I64) >= im->red_wg && kernel_wg(im, K_REQUANT_I64) >= im->red_wg &&
            kernel_wg(im, K_UPDATE) >= im->red_wg && kernel_wg(im, K_DECAY) >= im->red_wg)
            break;
        if (have_forced || c + 1 == ncfg) {
            s = niti_fail(NITI_ERR_UNSUPPORTED,
                          "OpenCL %s: the kernels do not fit the device's work-group limits",
                          name);
            return s;
        }
        release_program(im);
    }
    return NITI_OK;
}

/* The tiled path auto mode takes on a non-CPU device after path `after` (-1: the first choice):
 * dp4a, then khr-dot, where the device reports them, then the portable tiled kernels. */
static int next_tiled_path(const cl_impl *im, int after)
{
    if (after < 0 && niti_cl_can_dp4a(&im->info, NULL, 0)) return GEMM_DP4A;
    if (after != GEMM_KHR_DOT && niti_cl_can_khr_dot(&im->info, NULL, 0)) return GEMM_KHR_DOT;
    return GEMM_TILED;
}

/* NITI_GEMM (auto | vnni | portable | tiled | dp4a | khr-dot) and the device's capabilities.
 * NITI_DOT_EMULATE=1 (a testing aid) lets a forced dp4a or khr-dot run without the instruction:
 * a portable function of the same semantics replaces it (auto mode never emulates). */
static niti_status choose_gemm(cl_impl *im, const char *name)
{
    const char *e = getenv("NITI_GEMM"), *emu = getenv("NITI_DOT_EMULATE");
    int is_cpu = (im->info.type & CL_DEVICE_TYPE_CPU) && !(im->info.type & CL_DEVICE_TYPE_GPU);
    int can_vnni = is_cpu && niti_cl_host_vnni();
    im->gemm_forced = 0;
    im->dot_emulate = 0;
    if (!e || !*e || !strcmp(e, "auto")) {
        im->gemm = can_vnni ? GEMM_VNNI : is_cpu ? GEMM_PORTABLE : next_tiled_path(im, -1);
        return NITI_OK;
    }
    im->gemm_forced = 1;
    if (!strcmp(e, "tiled")) im->gemm = GEMM_TILED;
    else if (!strcmp(e, "portable")) im->gemm = GEMM_PORTABLE;
    else if (!strcmp(e, "vnni")) {
        if (!can_vnni)
            return niti_fail(NITI_ERR_UNSUPPORTED,
                             "OpenCL %s: NITI_GEMM=vnni needs a CPU device on a host whose CPU "
                             "has AVX-512 VNNI (%s)",
                             name, is_cpu ? "this host CPU lacks avx512_vnni or the OS does not "
                                            "enable AVX-512"
                                          : "this is not a CPU device");
        im->gemm = GEMM_VNNI;
    } else if (!strcmp(e, "dp4a") || !strcmp(e, "khr-dot")) {
        char why[192];
        im->gemm = e[0] == 'd' ? GEMM_DP4A : GEMM_KHR_DOT;
        im->dot_emulate = emu && *emu && strcmp(emu, "0");
        int can = im->gemm == GEMM_DP4A ? niti_cl_can_dp4a(&im->info, why, sizeof why)
                                        : niti_cl_can_khr_dot(&im->info, why, sizeof why);
        if (!can && !im->dot_emulate)
            return niti_fail(NITI_ERR_UNSUPPORTED,
                             "OpenCL %s: NITI_GEMM=%s cannot run on this device: %s "
                             "(NITI_DOT_EMULATE=1 runs the path with a portable stand-in for the "
                             "instruction, for testing)",
                             name, e, why);
    } else
        return niti_fail(NITI_ERR_INVALID,
                         "NITI_GEMM=\"%.60s\": expected auto, vnni, portable, tiled, dp4a or "
                         "khr-dot",
                         e);
    return NITI_OK;
}

/* Runs probe kernel kid as one work-item. Its arguments: nin input buffers copied from in[],
 * then an output buffer of out_bytes (read back into out), then n when n >= 0. Returns whether
 * everything ran. */
static int run_probe(cl_impl *im, int kid, int nin, const void *const in[],
                     const size_t in_bytes[], void *out, size_t out_bytes, int n)
{
    cl_mem m[4] = {NULL, NULL, NULL, NULL};
    cl_int err = CL_SUCCESS;
    int ok = nin >= 0 && nin < 4;
    for (int i = 0; ok && i <= nin; i++) {
        m[i] = i < nin ? clCreateBuffer(im->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                        in_bytes[i], (void *)in[i], &err)
                       : clCreateBuffer(im->ctx, CL_MEM_WRITE_ONLY, out_bytes, NULL, &err);
        ok = err == CL_SUCCESS;
    }
    if (ok) {
        kargs k = ka_begin(im, kid);
        for (int i = 0; i <= nin; i++) ka_mem(&k, m[i]);
        if (n >= 0) ka_int(&k, n);
        size_t one = 1;
        ok = launch(im, &k, 1, &one, &one, kernel_names[kid]) == NITI_OK &&
             clEnqueueReadBuffer(im->q, m[nin], CL_TRUE, 0, out_bytes, out, 0, NULL, NULL) ==
                 CL_SUCCESS;
    }
    for (int i = 0; i < 4; i++)
        if (m[i]) clReleaseMemObject(m[i]);
    return ok;
}

/* Runs the vpdpbusd probe kernel: is the operand order right and does the device execute it? */
static int vnni_probe_ok(cl_impl *im)
{
    cl_uchar a[4] = {200, 1, 255, 0};
    cl_char b[64];
    cl_int out[16];
    for (int i = 0; i < 64; i++) b[i] = (cl_char)(i * 7 - 100);
    const void *in[2] = {a, b};
    const size_t bytes[2] = {sizeof a, sizeof b};
    if (!run_probe(im, K_VNNI_PROBE, 2, in, bytes, out, sizeof out, -1)) return 0;
    for (int l = 0; l < 16; l++) {
        int want = 5;
        for (int q = 0; q < 4; q++) want += a[q] * b[4 * l + q];
        if (out[l] != want) return 0;
    }
    return 1;
}

/* Byte k of a packed word as a signed value. */
static int s8_of(cl_uint w, int k)
{
    int v = (int)((w >> (8 * k)) & 0xffu);
    return v > 127 ? v - 256 : v;
}

/* Runs the NITI_DOT4_ACC probe kernel of the dp4a and khr-dot paths against exact host results:
 * all-extreme bytes with results at both ends of the int32 range, then pseudo-random words (whose
 * differing bytes also catch operands paired in the wrong order or taken as unsigned). */
#define NITI_DOT_PROBE_N 32
static int dot4_probe_ok(cl_impl *im)
{
    cl_uint a[NITI_DOT_PROBE_N] = {0x80808080u, 0x80808080u, 0x80808080u, 0x7f7f7f7fu};
    cl_uint b[NITI_DOT_PROBE_N] = {0x80808080u, 0x7f7f7f7fu, 0x80808080u, 0x80808080u};
    cl_int c[NITI_DOT_PROBE_N] = {0, -7, 2147483647 - 65536, -2147483647 - 1 + 65024};
    cl_int out[NITI_DOT_PROBE_N];
    cl_uint x = 12345u;
    for (int i = 4; i < NITI_DOT_PROBE_N; i++) {
        x = x * 1664525u + 1013904223u;
        a[i] = x;
        x = x * 1664525u + 1013904223u;
        b[i] = x;
        x = x * 1664525u + 1013904223u;
        c[i] = (cl_int)(x >> 2) - (1 << 29);
    }
    const void *in[3] = {a, b, c};
    const size_t bytes[3] = {sizeof a, sizeof b, sizeof c};
    if (!run_probe(im, K_DOT4_PROBE, 3, in, bytes, out, sizeof out, NITI_DOT_PROBE_N)) return 0;
    for (int i = 0; i < NITI_DOT_PROBE_N; i++) {
        long long want = c[i];
        for (int k = 0; k < 4; k++) want += (long long)s8_of(a[i], k) * s8_of(b[i], k);
        if (out[i] != want) return 0;
    }
    return 1;
}

/* The instruction a probed GEMM path stands on (NULL: a path without a probe). */
static const char *path_instruction(const cl_impl *im)
{
    switch (im->gemm) {
    case GEMM_VNNI: return "vpdpbusd";
    case GEMM_DP4A: return im->dot_emulate ? "dp4a (emulated)" : "dp4a";
    case GEMM_KHR_DOT:
        return im->dot_emulate ? "dot_acc_sat_4x8packed_ss_int (emulated)"
                               : "dot_acc_sat_4x8packed_ss_int";
    }
    return NULL;
}

niti_status niti_backend_cl_create(const char *spec, niti_backend **out)
{
    niti_cl_device_info info;
    NITI_TRY(niti_cl_select(spec, &info));
    niti_backend *be = calloc(1, sizeof *be);
    cl_impl *im = calloc(1, sizeof *im);
    if (!be || !im) {
        free(be);
        free(im);
        return niti_fail(NITI_ERR_NOMEM, "OpenCL: backend");
    }
    be->ops = &cl_ops;
    be->impl = im;
    im->be = be;
    im->info = info;
    snprintf(be->name, sizeof be->name, "%.120s: %.120s", info.platform_name, info.device_name);
    snprintf(be->short_name, sizeof be->short_name, "cl%d:%d", info.pidx, info.didx);

    niti_status s = NITI_OK;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)info.platform, 0};
    im->ctx = clCreateContext(props, 1, &info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        s = niti_cl_fail(err, "clCreateContext", be->name);
        goto fail;
    }
    im->profile = getenv("NITI_CL_PROFILE") ? atoi(getenv("NITI_CL_PROFILE")) : 0;
    im->q = clCreateCommandQueue(im->ctx, info.device,
                                 im->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        s = niti_cl_fail(err, "clCreateCommandQueue", be->name);
        goto fail;
    }
    im->max_alloc = 0;
    clGetDeviceInfo(info.device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof im->max_alloc,
                    &im->max_alloc, NULL);
    if (!im->max_alloc) im->max_alloc = (cl_ulong)1 << 30;
    cl_uint align_bits = 0;
    clGetDeviceInfo(info.device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits, &align_bits,
                    NULL);
    im->sub_align = align_bits / 8 > 256 ? align_bits / 8 : 256;

    s = choose_gemm(im, be->name);
    if (s != NITI_OK) goto fail;
    /* A path that stands on one instruction must build and pass its probe kernel. Forced, it is an
     * error if it does not; in auto mode the next path is tried (vnni: portable; dp4a: khr-dot
     * where the device reports it, else tiled; khr-dot: tiled). */
    for (;;) {
        s = build_tiles(im, be->name);
        const char *instr = path_instruction(im);
        if (!instr) break;
        int probe_ok = s == NITI_OK && (im->gemm == GEMM_VNNI ? vnni_probe_ok(im)
                                                              : dot4_probe_ok(im));
        if (probe_ok) break;
        if (im->gemm_forced) {
            if (s == NITI_OK)
                s = niti_fail(NITI_ERR_UNSUPPORTED,
                              "OpenCL %s: NITI_GEMM=%s: the %s probe kernel fails or gives wrong "
                              "results on this device",
                              be->name, gemm_names[im->gemm], instr);
            else
                s = niti_fail_ctx(s, "OpenCL %s: NITI_GEMM=%s: the kernels with %s do not build",
                                  be->name, gemm_names[im->gemm], instr);
            goto fail;
        }
        release_program(im);
        im->gemm = im->gemm == GEMM_VNNI ? GEMM_PORTABLE : next_tiled_path(im, im->gemm);
    }
    if (s != NITI_OK) goto fail;
    {
        size_t len = strlen(be->name);
        snprintf(be->name + len, sizeof be->name - len, " [gemm: %s%s]", gemm_names[im->gemm],
                 im->dot_emulate ? ", emulated" : "");
    }
    *out = be;
    return NITI_OK;
fail:
    cl_destroy(be);
    return s;
}
