/* The GEMM path of a device: NITI_GEMM or the device's capabilities, and the probe kernels that
 * prove an instruction (vpdpbusd, dp4a, the khr dot product) works in the device's compiler
 * before a path that stands on it is used. */
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

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
        ok = ocl_launch(im, &k, 1, &one, &one, ocl_kernel_names[kid]) == NITI_OK &&
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

niti_status ocl_choose_path(cl_impl *im, const char *name)
{
    niti_status s = choose_gemm(im, name);
    if (s != NITI_OK) return s;
    /* A path that stands on one instruction must build and pass its probe kernel. Forced, it is an
     * error if it does not; in auto mode the next path is tried (vnni: portable; dp4a: khr-dot
     * where the device reports it, else tiled; khr-dot: tiled). */
    for (;;) {
        s = ocl_build_tiles(im, name);
        const char *instr = path_instruction(im);
        if (!instr) return s;
        int probe_ok = s == NITI_OK && (im->gemm == GEMM_VNNI ? vnni_probe_ok(im)
                                                              : dot4_probe_ok(im));
        if (probe_ok) return NITI_OK;
        if (im->gemm_forced) {
            if (s == NITI_OK)
                return niti_fail(NITI_ERR_UNSUPPORTED,
                                 "OpenCL %s: NITI_GEMM=%s: the %s probe kernel fails or gives "
                                 "wrong results on this device",
                                 name, ocl_gemm_names[im->gemm], instr);
            return niti_fail_ctx(s, "OpenCL %s: NITI_GEMM=%s: the kernels with %s do not build",
                                 name, ocl_gemm_names[im->gemm], instr);
        }
        ocl_release_program(im);
        im->gemm = im->gemm == GEMM_VNNI ? GEMM_PORTABLE : next_tiled_path(im, im->gemm);
    }
}
