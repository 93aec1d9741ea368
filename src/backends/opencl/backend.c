/* The OpenCL backend: creating one (context, queue, the program for the chosen GEMM path and its
 * kernels) and destroying it. The rest of the backend is split by concern; see internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

const char *const ocl_gemm_names[] = {"tiled", "portable", "vnni", "dp4a", "khr-dot"};

const char *const ocl_kernel_names[K_COUNT] = {
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
    "niti_gemm_f32_wg_6x1", "niti_pad_channels", "niti_dot4_probe", "niti_count_sat", "niti_count_sat_sum", "niti_pack_apad_kx",
    "niti_loop_probe"};
static int kernel_in_path(int kid, int gemm)
{
    if (kid == K_VNNI_PROBE || (kid >= K_VNNI_4x4 && kid <= K_VNNI_12x1) ||
        (kid >= K_VNNI_WG_4x4 && kid <= K_VNNI_WG_12x1))
        return gemm == GEMM_VNNI;
    if (kid == K_F32_4x2 || kid == K_F32_6x1 || kid == K_F32_WG_6x2 || kid == K_F32_WG_6x1)
        return gemm == GEMM_PORTABLE;
    if (kid == K_DOT4_PROBE) return gemm == GEMM_DP4A || gemm == GEMM_KHR_DOT;
    if (kid == K_LOOP_PROBE) return !tiled_path(gemm);
    return 1;
}
/* ---------------------------------------------------------------- memory */

void ocl_destroy(niti_backend *be)
{
    cl_impl *im = IMPL(be);
    if (im) {
        if (im->q) clFinish(im->q);
        for (int i = 0; im->profile && i < K_COUNT; i++)
            if (im->prof_n[i])
                fprintf(stderr, "profile %-24s %8ld calls %10.3f ms\n", ocl_kernel_names[i],
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
/* ---------------------------------------------------------------- creation */

int niti_cl_program_from_cache(const niti_backend *be)
{
    return be && be->ops == &ocl_ops ? IMPL(be)->from_cache : -1;
}

const char *niti_cl_build_options(const niti_backend *be)
{
    return be && be->ops == &ocl_ops ? IMPL(be)->options : "";
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

niti_status ocl_build(cl_impl *im)
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
        im->k[i] = clCreateKernel(im->prog, ocl_kernel_names[i], &err);
        if (err != CL_SUCCESS) return niti_cl_fail(err, "clCreateKernel", ocl_kernel_names[i]);
        size_t wg = 0;
        if (clGetKernelWorkGroupInfo(im->k[i], im->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                                     sizeof wg, &wg, NULL) != CL_SUCCESS || !wg)
            wg = 1;
        im->kwg[i] = wg < im->wg_cap ? wg : im->wg_cap;
    }
    return NITI_OK;
}

void ocl_release_program(cl_impl *im)
{
    for (int i = 0; i < K_COUNT; i++)
        if (im->k[i]) clReleaseKernel(im->k[i]), im->k[i] = NULL;
    if (im->prog) clReleaseProgram(im->prog), im->prog = NULL;
}
/* The work-group cap: the device's CL_DEVICE_MAX_WORK_GROUP_SIZE and first work-item size, and
 * NITI_CL_MAX_WG (a positive integer) when set. */
static niti_status wg_limits(cl_impl *im, const char *name)
{
    size_t sizes[3] = {0, 0, 0};
    if (clGetDeviceInfo(im->info.device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof sizes, sizes,
                        NULL) != CL_SUCCESS)
        sizes[0] = sizes[1] = sizes[2] = 1;
    for (int d = 0; d < 3; d++) im->max_items[d] = sizes[d] ? sizes[d] : 1;
    im->wg_cap = im->info.max_wg ? im->info.max_wg : 1;
    if (im->max_items[0] < im->wg_cap) im->wg_cap = im->max_items[0];
    const char *e = getenv("NITI_CL_MAX_WG");
    if (e && *e) {
        char *end = NULL;
        long v = strtol(e, &end, 10);
        if (*end || v < 1 || v > 1 << 20)
            return niti_fail(NITI_ERR_INVALID,
                             "OpenCL %s: NITI_CL_MAX_WG=\"%.40s\": expected a whole number of "
                             "work-items from 1 to 1048576",
                             name, e);
        if ((size_t)v < im->wg_cap) im->wg_cap = (size_t)v;
    }
    return NITI_OK;
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
    be->ops = &ocl_ops;
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
    s = wg_limits(im, be->name);
    if (s != NITI_OK) goto fail;

    s = ocl_choose_path(im, be->name);
    if (s != NITI_OK) goto fail;
    {
        size_t len = strlen(be->name);
        snprintf(be->name + len, sizeof be->name - len, " [gemm: %s%s]", ocl_gemm_names[im->gemm],
                 im->dot_emulate ? ", emulated" : "");
    }
    *out = be;
    return NITI_OK;
fail:
    ocl_destroy(be);
    return s;
}
