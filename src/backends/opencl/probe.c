/* The GEMM path of a device: NITI_GEMM or the device's capabilities, and the probe kernels that
 * prove an instruction (vpdpbusd, dp4a, the khr dot product) works in the device's compiler
 * before a path that stands on it is used. */
#include <stdint.h>
#include <stdio.h>
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

/* Runs the long-loop probe kernel (gemm_cpu.cl, niti_loop_probe) and compares each iteration's
 * hash with the host's. 1 when all agree; else 0 with *at the first iteration that differs. */
#define NITI_LOOP_PROBE_N 4096
static int loop_probe_ok(cl_impl *im, int *at)
{
    const cl_uint seed = 12345u;
    cl_uint *out = malloc(NITI_LOOP_PROBE_N * sizeof *out);
    const void *in[1] = {&seed};
    const size_t bytes[1] = {sizeof seed};
    *at = 0;
    int ok = out && run_probe(im, K_LOOP_PROBE, 1, in, bytes, out,
                              NITI_LOOP_PROBE_N * sizeof *out, NITI_LOOP_PROBE_N);
    cl_uint t[64], h = seed;
    for (int it = 0; ok && it < NITI_LOOP_PROBE_N; it++) {
        for (int i = 0; i < 64; i++) t[(i * 7 + it) & 63] = h + (cl_uint)(i * it);
        h ^= t[(h + (cl_uint)it) & 63u];
        h = h * 1664525u + 1013904223u;
        if (out[it] != h) ok = 0, *at = it;
    }
    free(out);
    return ok;
}

/* ---------------------------------------------------------------- known answers against ref
 * Before a path is used, its program runs a battery of small cases of the ops every step relies
 * on (both GEMM forms with their requantisation, requant of int64 values around every edge, the
 * update with and without master weights, the loss) and their outputs must equal the reference
 * backend's, byte for byte. Compilers have miscompiled integer code in each of these (a 64-bit
 * select, a 64-bit division by a power of two); a device whose compiler does is refused with the
 * name of the op instead of training with wrong bits. */

#define NITI_KA_MAX 8 /* cases */
typedef struct ka_out {
    unsigned char *bytes;
    size_t len, cap;
    int ncase;
    const char *name[NITI_KA_MAX];
    size_t end[NITI_KA_MAX];
} ka_out;

static niti_status ka_take(niti_backend *be, niti_buf *b, size_t bytes, ka_out *o)
{
    if (o->len + bytes > o->cap) {
        size_t cap = (o->len + bytes) * 2;
        unsigned char *nb = realloc(o->bytes, cap);
        if (!nb) return niti_fail(NITI_ERR_NOMEM, "known-answer probe");
        o->bytes = nb, o->cap = cap;
    }
    NITI_TRY(be->ops->download(be, b, 0, o->bytes + o->len, bytes));
    o->len += bytes;
    return NITI_OK;
}

static void ka_case(ka_out *o, const char *name)
{
    if (o->ncase < NITI_KA_MAX) o->name[o->ncase] = name, o->end[o->ncase++] = o->len;
}

/* Deterministic test data: a small LCG, so both backends get the same inputs. */
static uint32_t ka_rand(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return *x >> 8;
}

/* Runs the battery on be; its outputs, case by case, go to o. */
static niti_status ka_battery(niti_backend *be, ka_out *o)
{
    const niti_backend_ops *op = be->ops;
    enum { NB = 13 };
    niti_buf *b[NB] = {NULL};
    niti_status s = NITI_OK;
    uint32_t x = 2024u;
    int8_t a8[2 * 6 * 6 * 8], w8[24 * 3 * 3 * 8], lg[4 * 10];
    int64_t g64[300];
    int32_t lab[4], sc[8] = {0};
    for (size_t i = 0; i < sizeof a8; i++) a8[i] = (int8_t)(ka_rand(&x) % 255 - 127);
    a8[5] = -128; /* an input image's extreme */
    for (size_t i = 0; i < sizeof w8; i++) w8[i] = (int8_t)(ka_rand(&x) % 255 - 127);
    for (size_t i = 0; i < sizeof lg; i++) lg[i] = (int8_t)(ka_rand(&x) % 255 - 127);
    for (int i = 0; i < 4; i++) lab[i] = (int32_t)(ka_rand(&x) % 10);
    /* int64 values with every sign and magnitude class, -7 and the extremes among them */
    for (int i = 0; i < 300; i++) {
        int64_t v = (int64_t)(ka_rand(&x) % 2001) - 1000;
        if (i % 7 == 0) v *= (int64_t)1 << (ka_rand(&x) % 40);
        g64[i] = v;
    }
    g64[0] = -7, g64[1] = 7, g64[2] = -((int64_t)1 << 41) + 3, g64[3] = ((int64_t)1 << 41) - 5;
#define KA(call)                                                                                   \
    do {                                                                                           \
        if ((s = (call)) != NITI_OK) goto done;                                                    \
    } while (0)
    KA(niti_buf_from_host(be, a8, sizeof a8, "probe A", &b[0]));
    KA(niti_buf_from_host(be, w8, sizeof w8, "probe W", &b[1]));
    KA(op->alloc(be, 24 * 6 * 6 * 2 * 8, "probe acc", &b[2]));
    KA(op->alloc(be, 24 * 6 * 6 * 2, "probe out", &b[3]));
    KA(niti_buf_from_host(be, sc, sizeof sc, "probe scalars", &b[4]));
    /* conv k3 p1 on 2 x 6 x 6 images: 3 channels (packed rows) and 8 (read in place), 24 and 5
     * outputs (wide and narrow micro-kernels / tiles), then requant of the int32 sums */
    static const int shapes[3][3] = {{3, 24, 0}, {8, 5, 1}, {8, 24, 2}};
    for (int c = 0; c < 3; c++) {
        niti_conv_geom g;
        KA(niti_conv_geom_init(&g, 2, 6, 6, shapes[c][0], shapes[c][1], 3, 1));
        size_t n = (size_t)g.N * g.Ho * g.Wo * g.O;
        KA(op->conv_fwd(be, &g, b[0], b[1], b[2], NITI_I32));
        KA(op->requant(be, b[2], NITI_I32, n, c == 2 ? NITI_RULE_NITI20 : NITI_RULE_NITI21,
                       c == 1 ? NITI_PSR : NITI_ROUND, b[3], b[4], 0, -1, 0, 1, NULL));
        KA(ka_take(be, b[3], n, o));
        if (c == 0) { /* dgrad of the same shape: E = the requantised output */
            KA(op->conv_dgrad(be, &g, b[3], b[1], b[2], NITI_I32));
            KA(ka_take(be, b[2], (size_t)g.N * g.H * g.W * g.I * 4, o));
            KA(op->conv_wgrad(be, &g, b[0], b[3], b[2], NULL));
            KA(ka_take(be, b[2], (size_t)g.O * 9 * g.I * 8, o));
        }
    }
    KA(ka_take(be, b[4], sizeof sc, o));
    ka_case(o, "conv forward, dgrad, wgrad and requant (int32)");
    /* the weight gradient of one pixel of 65536 channels, 2 outputs: on the CPU paths one
     * work-item transposes all the channels in a loop of 1024 iterations */
    {
        enum { BIG = 65536 };
        niti_conv_geom g;
        int8_t *big = malloc(BIG), e2[2] = {-128, 93};
        if (!big) KA(niti_fail(NITI_ERR_NOMEM, "known-answer probe"));
        for (int i = 0; i < BIG; i++) big[i] = (int8_t)(ka_rand(&x) % 256 - 128);
        s = niti_conv_geom_init(&g, 1, 1, 1, BIG, 2, 1, 0);
        if (s == NITI_OK) s = niti_buf_from_host(be, big, BIG, "probe A (wide)", &b[10]);
        free(big);
        KA(s);
        KA(niti_buf_from_host(be, e2, sizeof e2, "probe E (wide)", &b[11]));
        KA(op->alloc(be, (size_t)2 * BIG * 8, "probe G (wide)", &b[12]));
        KA(op->conv_wgrad(be, &g, b[10], b[11], b[12], NULL));
        KA(ka_take(be, b[12], (size_t)2 * BIG * 8, o));
    }
    ka_case(o, "conv wgrad over 65536 channels");
    /* requant of int64 values: both rules and roundings */
    KA(niti_buf_from_host(be, g64, sizeof g64, "probe G", &b[5]));
    for (int r = 0; r < 3; r++) {
        KA(op->requant(be, b[5], NITI_I64, 300, r == 2 ? NITI_RULE_NITI20 : NITI_RULE_NITI21,
                       r == 1 ? NITI_PSR : NITI_ROUND, b[3], b[4], 2, 0, 5, 3, NULL));
        KA(ka_take(be, b[3], 300, o));
    }
    KA(ka_take(be, b[4], sizeof sc, o));
    ka_case(o, "requant (int64) and max |x|");
    /* update: plain, with decay, with master weights */
    int16_t m16[300];
    for (int i = 0; i < 300; i++) m16[i] = (int16_t)((int)(ka_rand(&x) % 65025) - 32512);
    KA(niti_buf_from_host(be, m16, sizeof m16, "probe master", &b[6]));
    KA(op->alloc(be, 300, "probe g", &b[7]));
    for (int u = 0; u < 3; u++) {
        KA(op->upload(be, b[5], 0, g64, sizeof g64));
        KA(op->upload(be, b[3], 0, w8, 300));
        KA(op->update(be, 300, b[5], 2 - u, u == 1, b[3], u == 2 ? b[6] : NULL, b[7]));
        KA(ka_take(be, b[3], 300, o));
        KA(ka_take(be, b[7], 300, o));
    }
    KA(ka_take(be, b[6], sizeof m16, o));
    ka_case(o, "update (gradient quantisation, decay, master weights)");
    /* loss of 4 samples x 10 classes at exponents on both sides of the contract's branch */
    KA(niti_buf_from_host(be, lg, sizeof lg, "probe logits", &b[8]));
    KA(niti_buf_from_host(be, lab, sizeof lab, "probe labels", &b[9]));
    for (int e = -9; e <= 3; e += 4) {
        KA(op->loss_bwd(be, 4, 10, b[8], b[9], b[4], e, -1, 6, 99u, 5u, b[5], b[3]));
        KA(ka_take(be, b[5], 4 * 10 * 8, o));
        KA(ka_take(be, b[3], 4 * 10, o));
    }
    ka_case(o, "loss");
#undef KA
done:
    for (int i = 0; i < NB; i++)
        if (b[i]) op->release(be, b[i]);
    return s;
}

/* 1 when the battery gives the reference's bytes on im's program; 0 with *bad naming the first
 * case that differs; an error when it cannot run at all. */
static niti_status known_answers(cl_impl *im, int *ok, const char **bad)
{
    niti_backend *ref = NULL;
    ka_out want = {0}, got = {0};
    *ok = 0, *bad = "?";
    niti_status s = niti_backend_ref_create(&ref);
    if (s == NITI_OK) s = ka_battery(ref, &want);
    if (s == NITI_OK) s = ka_battery(im->be, &got);
    if (s == NITI_OK) {
        *ok = got.len == want.len && !memcmp(got.bytes, want.bytes, got.len);
        for (int c = 0; !*ok && c < want.ncase; c++) {
            size_t from = c ? want.end[c - 1] : 0;
            if (got.len < want.end[c] ||
                memcmp(got.bytes + from, want.bytes + from, want.end[c] - from)) {
                *bad = want.name[c];
                break;
            }
        }
    }
    niti_backend_close(ref);
    im->be->mem_peak = im->be->mem_in_use; /* the battery's buffers are not the user's */
    free(want.bytes);
    free(got.bytes);
    return s;
}

/* The path auto mode tries after path g is refused (-1: none is left): vnni, portable, tiled on a
 * CPU device; dp4a, khr-dot (where reported), tiled on others. */
static int next_auto_path(const cl_impl *im, int g)
{
    if (g == GEMM_VNNI) return GEMM_PORTABLE;
    if (g == GEMM_PORTABLE) return GEMM_TILED;
    if (g == GEMM_TILED) return -1;
    return next_tiled_path(im, g);
}

niti_status ocl_choose_path(cl_impl *im, const char *name)
{
    niti_status s = choose_gemm(im, name);
    if (s != NITI_OK) return s;
    /* Every path must build, pass the probe kernel of the instruction it stands on, pass the
     * long-loop probe (the CPU paths) and give the known answers. Forced with NITI_GEMM, a path
     * that does not is an error; in auto mode the next path is tried (next_auto_path), and the
     * error of the last one names those refused before it. */
    char tried[160] = "";
    for (;;) {
        s = ocl_build_tiles(im, name);
        const char *instr = path_instruction(im);
        const char *path = ocl_gemm_names[im->gemm];
        int at = -1;
        if (s != NITI_OK) {
            if (instr)
                s = niti_fail_ctx(s, "OpenCL %s: %s%s: the kernels with %s do not build", name,
                                  im->gemm_forced ? "NITI_GEMM=" : "the path ", path, instr);
        } else if (instr && !(im->gemm == GEMM_VNNI ? vnni_probe_ok(im) : dot4_probe_ok(im))) {
            s = niti_fail(NITI_ERR_UNSUPPORTED,
                          "OpenCL %s: %s%s: the %s probe kernel fails or gives wrong results on "
                          "this device",
                          name, im->gemm_forced ? "NITI_GEMM=" : "the path ", path, instr);
        } else if (!tiled_path(im->gemm) && !loop_probe_ok(im, &at)) {
            s = niti_fail(NITI_ERR_UNSUPPORTED,
                          "OpenCL %s: the %s kernels cannot run on this device: its compiler "
                          "loses a work-item's private arrays in long loops (the loop probe "
                          "went wrong at iteration %d of %d; Mesa rusticl 22 on llvmpipe does "
                          "this), and the CPU paths run loops of thousands of iterations per "
                          "work-item%s",
                          name, path, at, NITI_LOOP_PROBE_N,
                          im->gemm_forced ? " (NITI_GEMM=tiled runs here)" : "");
        } else if (!getenv("NITI_CL_NO_KNOWN_ANSWERS")) {
            int agree = 0;
            const char *bad = NULL;
            s = known_answers(im, &agree, &bad);
            if (s != NITI_OK) return s;
            if (!agree)
                s = niti_fail(NITI_ERR_UNSUPPORTED,
                              "OpenCL %s: the %s kernels give wrong results for %s (known "
                              "answers compared with the reference backend): this device's "
                              "compiler miscompiles them",
                              name, path, bad);
        }
        if (s == NITI_OK) return NITI_OK;
        int next = im->gemm_forced ? -1 : next_auto_path(im, im->gemm);
        if (next < 0) {
            if (!*tried) return s;
            char last[768];
            snprintf(last, sizeof last, "%s", niti_last_error());
            return niti_fail(s, "%s (auto mode refused %s before; no other path is left)", last,
                             tried);
        }
        size_t l = strlen(tried);
        snprintf(tried + l, sizeof tried - l, "%s%s", l ? ", " : "", path);
        ocl_release_program(im);
        im->gemm = next;
    }
}
