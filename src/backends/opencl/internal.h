/* Internal to the OpenCL backend and its tests. The backend is split by concern:
 *   runtime.c     error names, devices, host capabilities, program build and on-disk cache
 *   backend.c     creating and destroying a backend: context, queue, program, kernels
 *   probe.c       the GEMM path (NITI_GEMM, capabilities) and the probe kernels behind it
 *   launch.c      launches (work-group shapes), scratch buffers and work-space regions
 *   buffers.c     device buffers: alloc, views, upload, download, finish
 *   gemm_cpu.c    conv/linear GEMMs of the CPU paths (vnni, portable)    -> cl/gemm_cpu.cl
 *   gemm_tiled.c  conv/linear GEMMs of the GPU paths (tiled, dp4a, khr-dot) and the tile
 *                 choice                                                 -> cl/gemm_tiled.cl
 *   ops.c         the op table: requant, elementwise, loss, update      -> cl/requant.cl,
 *                 cl/elementwise.cl, cl/loss.cl, cl/update.cl, cl/cpu_ops.cl (CPU forms) */
#ifndef NITI_CL_INTERNAL_H
#define NITI_CL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdio.h>

#include "backends/backends.h"

/* Conv tile configuration, passed to the kernels as -D options. */
typedef struct niti_cl_tiles {
    int TM, TN, TK, RM, RN;
} niti_cl_tiles;

typedef struct niti_cl_device_info {
    cl_platform_id platform;
    cl_device_id device;
    int pidx, didx;
    char platform_name[128];
    char device_name[128];
    char driver_version[128];
    char device_version[128];
    char c_version[128];
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong local_mem;
    size_t max_wg;
    int c_major, c_minor; /* OpenCL C version */
} niti_cl_device_info;

const char *niti_cl_error_name(cl_int err);
/* Fails with NITI_ERR_DEVICE: "<what>: <call> failed: <CL_ERROR_NAME> (<code>)". */
niti_status niti_cl_fail(cl_int err, const char *call, const char *what);

/* Fills info for a device. */
void niti_cl_query(cl_platform_id p, cl_device_id d, int pidx, int didx, niti_cl_device_info *info);
/* Resolves a device spec (see niti_backend_cl_create). */
niti_status niti_cl_select(const char *spec, niti_cl_device_info *out);

/* Builds the program of all embedded kernel sources for ctx/dev with options, through the on-disk
 * binary cache. *from_cache tells whether the binary came from the cache. */
niti_status niti_cl_build_program(cl_context ctx, const niti_cl_device_info *info,
                                  const char *options, cl_program *out, int *from_cache);
/* The cache directory ("" when disabled). */
void niti_cl_cache_dir(char *buf, size_t size);

/* Whether the host CPU executes AVX-512 VNNI (cpuid leaf 7 ECX bit 11 with AVX-512F, and the OS
 * saves the AVX-512 state). The vnni GEMM path also needs a probe kernel to pass on the device. */
int niti_cl_host_vnni(void);
/* Whether a device reports what the dot-product paths of the tiled kernels need: dp4a (NVIDIA,
 * cl_nv_device_attribute_query with compute capability >= 6.1) and khr-dot
 * (cl_khr_integer_dot_product with the 4x8-bit packed form). why (may be NULL) gets the reason
 * either way. Both paths also need their probe kernel to pass when the backend opens. */
int niti_cl_can_dp4a(const niti_cl_device_info *info, char *why, size_t size);
int niti_cl_can_khr_dot(const niti_cl_device_info *info, char *why, size_t size);
/* The GEMM path NITI_GEMM=auto would choose for a device before the probes: "vnni" or "portable"
 * (CPUs), else "dp4a", "khr-dot" or "tiled". */
const char *niti_cl_default_gemm(const niti_cl_device_info *info);

/* Test hooks: whether the backend's program was loaded from the binary cache, and its build
 * options. */
int niti_cl_program_from_cache(const niti_backend *be);
const char *niti_cl_build_options(const niti_backend *be);

/* ================================================================ the backend's own state */

#pragma GCC visibility push(hidden)

struct niti_buf {
    cl_mem m;
    size_t bytes;
    int view;      /* a sub-buffer of another buffer: */
    cl_mem parent; /* that buffer (OpenCL allows no sub-buffer of a sub-buffer) */
    size_t origin; /* and where in it this one starts */
};

/* The backend's own scratch buffers, grown on demand (ocl_scratch). */
enum {
    SCR_WT, SCR_SPLIT, SCR_PART1, SCR_PART2, SCR_LOSSQ, SCR_DUMMY, SCR_PACKA, SCR_PACKB,
    SCR_MAXP, SCR_ZERO, SCR_MASK, SCR_SATPART, SCR_COUNT
};

/* GEMM paths of conv/linear (NITI_GEMM): the tiled implicit GEMM (gemm_tiled.cl, GPUs), or
 * packing + register-blocked micro-kernels for CPUs (gemm_cpu.cl): fp32-FMA "portable" or
 * "vnni". The tiled kernels reduce 4 bytes at a time with NITI_DOT4_ACC: portable code
 * ("tiled"), NVIDIA's dp4a ("dp4a") or cl_khr_integer_dot_product ("khr-dot"). */
enum { GEMM_TILED, GEMM_PORTABLE, GEMM_VNNI, GEMM_DP4A, GEMM_KHR_DOT };
extern const char *const ocl_gemm_names[];

/* Every kernel of the program; ocl_kernel_names (backend.c) holds their names in this order. */
enum {
    K_CONV_GEMM, K_WT_TRANSPOSE, K_SUM_TO_I32, K_SUM_TO_I64, K_SUM_I64, K_CONV_WGRAD, K_MAX_I32,
    K_MAX_I64, K_REQUANT_I32, K_REQUANT_I64, K_RELU_FWD, K_RELU_BWD, K_POOL_FWD, K_POOL_BWD,
    K_DROPOUT, K_LOSS, K_DECAY, K_UPDATE, K_CONV_GEMM_NC, K_CONV_WGRAD_NR, K_PACK_ROWS,
    K_PACK_PANELS, K_VNNI_PROBE,
    K_VNNI_4x4, K_VNNI_8x2, K_VNNI_12x1, K_F32_4x2, K_F32_6x1, K_CPU_MAX_I32, K_CPU_MAX_I64,
    K_CPU_REQUANT_I32, K_CPU_REQUANT_I64, K_CPU_DECAY, K_CPU_UPDATE, K_CPU_RELU_FWD,
    K_CPU_RELU_BWD, K_CPU_POOL_FWD, K_CPU_POOL_BWD, K_DROPOUT_MASK, K_CPU_DROPOUT, K_PACK_APAD,
    K_PACK_EPANEL, K_WGRAD_REDUCE_T, K_VNNI_WG_4x4, K_VNNI_WG_8x2, K_VNNI_WG_12x1, K_F32_WG_6x2,
    K_F32_WG_6x1, K_PAD_CHANNELS, K_DOT4_PROBE, K_COUNT_SAT, K_COUNT_SAT_SUM, K_PACK_APAD_KX, K_LOOP_PROBE,
    K_COUNT
};
extern const char *const ocl_kernel_names[K_COUNT];

/* Whether a GEMM path uses the tiled kernels of gemm_tiled.cl (else the CPU micro-kernels). */
static inline int tiled_path(int gemm)
{
    return gemm == GEMM_TILED || gemm == GEMM_DP4A || gemm == GEMM_KHR_DOT;
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
    size_t red_wg; /* work-group size of the reductions (-DNITI_RED_WG) */
    size_t wg_cap; /* the most work-items of any work-group: the device's limits, NITI_CL_MAX_WG */
    size_t max_items[3];  /* CL_DEVICE_MAX_WORK_ITEM_SIZES */
    size_t kwg[K_COUNT];  /* per kernel: CL_KERNEL_WORK_GROUP_SIZE, within wg_cap */
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

#define IMPL(be) ((cl_impl *)(be)->impl)

/* CPU devices (the vnni and portable GEMM paths) use the task kernels of cpu_ops.cl for the
 * reductions and elementwise ops; the tiled (GPU) paths keep the work-group kernels. */
static inline int cpu_ops(const cl_impl *im) { return !tiled_path(im->gemm); }

static inline size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
static inline size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }
static inline int check_slot(const niti_buf *sc, int slot)
{
    return slot < 0 || (size_t)(slot + 1) * 4 <= sc->bytes;
}

/* ---------------------------------------------------------------- kernel arguments */

/* Kernel arguments, set in order: the first failure is kept and reported at launch. */
typedef struct kargs {
    cl_kernel k;
    int kid;
    cl_uint n;
    cl_int err;
} kargs;

static inline kargs ka_begin(cl_impl *im, int kid)
{
    kargs a = {im->k[kid], kid, 0, CL_SUCCESS};
    return a;
}
static inline void ka_raw(kargs *a, size_t sz, const void *p)
{
    if (a->err == CL_SUCCESS) a->err = clSetKernelArg(a->k, a->n, sz, p);
    a->n++;
}
static inline void ka_mem(kargs *a, cl_mem m) { ka_raw(a, sizeof m, &m); }
static inline void ka_int(kargs *a, int v)
{
    cl_int x = v;
    ka_raw(a, sizeof x, &x);
}
static inline void ka_uint(kargs *a, uint32_t v)
{
    cl_uint x = v;
    ka_raw(a, sizeof x, &x);
}
static inline void ka_ulong(kargs *a, uint64_t v)
{
    cl_ulong x = v;
    ka_raw(a, sizeof x, &x);
}
/* Several int arguments in a row. */
static inline void ka_ints(kargs *a, int n, const int *v)
{
    for (int i = 0; i < n; i++) ka_int(a, v[i]);
}
/* The convolution window arguments every conv-shaped kernel takes, in this order. */
static inline void ka_window(kargs *a, int Hin, int Win, int Cin, int Hout, int Wout, int k,
                             int pad)
{
    const int v[7] = {Hin, Win, Cin, Hout, Wout, k, pad};
    ka_ints(a, 7, v);
}

/* ---------------------------------------------------------------- launch.c */

niti_status ocl_launch(cl_impl *im, kargs *a, cl_uint dims, const size_t *gs, const size_t *ls,
                       const char *op);
/* 1-D launch of n items (kernels check the bound) in work-groups of up to 64 items, fewer where
 * the kernel allows fewer. */
niti_status ocl_launch1(cl_impl *im, kargs *a, size_t n, const char *op);
/* The largest power of two <= min(want, the kernel's work-group limit). */
size_t ocl_wg(const cl_impl *im, int kid, size_t want);
/* Task launches of the CPU kernels (work-groups of one item); each appends its own last
 * argument (chunk, rows per task, tasks per item). */
niti_status ocl_launch_range(cl_impl *im, kargs *a, size_t n, size_t *tasks, const char *op);
niti_status ocl_launch_rows(cl_impl *im, kargs *a, size_t rows, size_t row_bytes, const char *op);
niti_status ocl_launch_tasks(cl_impl *im, kargs *a, size_t tasks, const char *op);
/* out (int32 or int64 by acc_t, MN values) = the sum of the S int32 partial outputs of a split
 * GEMM reduction in Y. */
niti_status ocl_sum_splits(cl_impl *im, cl_mem Y, int S, size_t MN, cl_mem out, niti_dtype acc_t,
                           const char *op);
/* The backend's scratch buffer `id`, grown to at least `bytes`. */
niti_status ocl_scratch(cl_impl *im, int id, size_t bytes, cl_mem *out);
/* A zero-filled scratch buffer of at least `bytes` bytes. */
niti_status ocl_zeros(cl_impl *im, size_t bytes, cl_mem *out);

/* Scratch regions for one op: sub-buffers of the caller's work space when all of them fit in
 * it (origins aligned for the device), else the backend's own scratch buffers `ids`. The
 * sub-buffers are released by ocl_ws_done once the op is enqueued (queued work keeps them
 * alive). */
typedef struct ws_regions {
    int n;
    cl_mem sub[4];
} ws_regions;
int ocl_ws_fits(const cl_impl *im, const niti_buf *ws, int n, const size_t *bytes);
niti_status ocl_ws_take(cl_impl *im, niti_buf *ws, int n, const size_t *bytes, const int *ids,
                        cl_mem *out, ws_regions *r);
niti_status ocl_ws_done(ws_regions *r, niti_status s);
#define WS_TRY(wr, x)                                                                              \
    do {                                                                                           \
        niti_status s_ = (x);                                                                      \
        if (s_ != NITI_OK) return ocl_ws_done((wr), s_);                                           \
    } while (0)

/* ---------------------------------------------------------------- buffers.c */

niti_status ocl_alloc(niti_backend *be, size_t bytes, const char *what, niti_buf **out);
niti_status ocl_view(niti_backend *be, niti_buf *parent, size_t off, size_t bytes,
                     niti_buf **out);
void ocl_release(niti_backend *be, niti_buf *b);
niti_status ocl_upload(niti_backend *be, niti_buf *dst, size_t off, const void *src,
                       size_t bytes);
niti_status ocl_download(niti_backend *be, niti_buf *src, size_t off, void *dst, size_t bytes);
niti_status ocl_finish(niti_backend *be);
/* A sub-buffer of b's bytes [off, off + bytes): of b's own parent when b is a view. *origin
 * gets its place in that parent. */
cl_mem ocl_sub_buffer(const niti_buf *b, size_t off, size_t bytes, size_t *origin, cl_int *err);

/* ---------------------------------------------------------------- the GEMMs */

/* gemm_cpu.c: forward (mode 0) and dgrad (mode 1) of the CPU paths, and their weight gradient. */
niti_status ocl_cpu_conv(cl_impl *im, int mode, cl_mem X, cl_mem Wsrc, int Hin, int Win, int Cin,
                         int Hout, int Wout, int k, int pad, int M, int Ncol, int K, int O,
                         niti_buf *out, niti_dtype acc_t, const char *op);
niti_status ocl_cpu_wgrad(cl_impl *im, const niti_conv_geom *g, cl_mem A, cl_mem E,
                          niti_buf *ws, niti_buf *G);
/* gemm_tiled.c: the same three on the tiled paths, and the tile choice. */
niti_status ocl_tiled_fwd(cl_impl *im, const niti_conv_geom *g, niti_buf *A, niti_buf *W,
                          niti_buf *acc, niti_dtype acc_t);
niti_status ocl_tiled_dgrad(cl_impl *im, const niti_conv_geom *g, niti_buf *E, niti_buf *W,
                            niti_buf *accE, niti_dtype acc_t);
niti_status ocl_tiled_wgrad(cl_impl *im, const niti_conv_geom *g, niti_buf *A, niti_buf *E,
                            niti_buf *G, niti_buf *ws);
/* Builds the program for im->gemm with the largest tile configuration whose kernels fit. */
niti_status ocl_build_tiles(cl_impl *im, const char *name);

/* ---------------------------------------------------------------- backend.c, probe.c, ops.c */

/* Builds the program with im's options, creates its kernels and records their work-group limits
 * (kwg); releases them. */
niti_status ocl_build(cl_impl *im);
void ocl_release_program(cl_impl *im);
void ocl_destroy(niti_backend *be);
/* Chooses im->gemm (NITI_GEMM and the device), builds the program for it and runs the probe
 * kernels of the paths that stand on one instruction (a failing path falls back in auto mode,
 * and is an error when forced). */
niti_status ocl_choose_path(cl_impl *im, const char *name);
extern const niti_backend_ops ocl_ops;

#pragma GCC visibility pop

#endif
