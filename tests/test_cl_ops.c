/* Every op of backend.h on the OpenCL device against the reference backend, byte for byte
 * (outputs and scalars), on many random shapes and hostile values. Returns 77 (skip) only when
 * no OpenCL device exists. NITI_TEST_DEVICE picks the OpenCL device (default: cpu, else any);
 * NITI_TEST_SEED changes the random seed; NITI_TEST_QUICK=1 runs fewer shapes;
 * NITI_TEST_CONV="N,H,W,I,O,k,pad,amode,emode,i64" runs that one conv shape alone (to chase a
 * mismatch). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "check.h"
#include "core/numerics.h"

static niti_backend *R, *D; /* reference, device */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static int quick;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}
static int rint_in(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

typedef struct pb {
    niti_buf *r, *d;
    size_t bytes;
} pb;

static pb pb_new(const void *data, size_t bytes, const char *what)
{
    pb p = {NULL, NULL, bytes};
    niti_status s1 = R->ops->alloc(R, bytes, what, &p.r);
    niti_status s2 = D->ops->alloc(D, bytes, what, &p.d);
    if (s1 || s2) {
        fprintf(stderr, "alloc %s (%zu bytes) failed: %s\n", what, bytes, niti_last_error());
        exit(1);
    }
    if (data && bytes) {
        R->ops->upload(R, p.r, 0, data, bytes);
        D->ops->upload(D, p.d, 0, data, bytes);
    }
    return p;
}

static void pb_free(pb *p)
{
    R->ops->release(R, p->r);
    D->ops->release(D, p->d);
}

static int failures_shown;

/* Downloads both and compares; prints the first difference. Returns 1 if equal. */
static int pb_same(pb *p, size_t elem, const char *name, const char *ctx)
{
    unsigned char *a = malloc(p->bytes + 1), *b = malloc(p->bytes + 1);
    niti_status s1 = R->ops->download(R, p->r, 0, a, p->bytes);
    niti_status s2 = D->ops->download(D, p->d, 0, b, p->bytes);
    int same = s1 == NITI_OK && s2 == NITI_OK && memcmp(a, b, p->bytes) == 0;
    if (s2 != NITI_OK) fprintf(stderr, "%s: download %s: %s\n", ctx, name, niti_last_error());
    if (!same && s2 == NITI_OK && failures_shown++ < 20) {
        size_t i = 0;
        while (i < p->bytes && a[i] == b[i]) i++;
        size_t e = i / elem, diff = 0;
        for (size_t j = 0; j < p->bytes / elem; j++)
            if (memcmp(a + j * elem, b + j * elem, elem)) diff++;
        long long va = 0, vb = 0;
        if (elem == 1) va = (int8_t)a[e], vb = (int8_t)b[e];
        if (elem == 2) va = ((int16_t *)a)[e], vb = ((int16_t *)b)[e];
        if (elem == 4) va = ((int32_t *)a)[e], vb = ((int32_t *)b)[e];
        if (elem == 8) va = ((int64_t *)a)[e], vb = ((int64_t *)b)[e];
        fprintf(stderr, "MISMATCH %s: %s: %zu of %zu elements differ, first at %zu: ref %lld, "
                        "device %lld\n",
                ctx, name, diff, p->bytes / elem, e, va, vb);
    }
    free(a);
    free(b);
    return same;
}

#define RUN(call_r, call_d, ctx)                                                                   \
    do {                                                                                           \
        niti_status sr_ = (call_r);                                                                \
        niti_status sd_ = (call_d);                                                                \
        if (sd_ != NITI_OK) fprintf(stderr, "%s: device op failed: %s\n", ctx, niti_last_error()); \
        CHECK_EQ(sr_, NITI_OK);                                                                    \
        CHECK_EQ(sd_, NITI_OK);                                                                    \
    } while (0)

/* Fills int8 data: mode 0 uniform [-127,127] (+ -128 if allow128), 1 sparse, 2 zero, 3 extremes,
 * 4 tiny range (ties). */
static void fill_i8(int8_t *v, size_t n, int mode, int allow128)
{
    for (size_t i = 0; i < n; i++) {
        int x;
        switch (mode) {
        case 0: x = allow128 ? rint_in(-128, 127) : rint_in(-127, 127); break;
        case 1: x = rnd() % 8 == 0 ? rint_in(-127, 127) : 0; break;
        case 2: x = 0; break;
        case 3: x = allow128 ? (rnd() & 1 ? -128 : 127) : (rnd() & 1 ? -127 : 127); break;
        default: x = rint_in(-2, 2); break;
        }
        v[i] = (int8_t)x;
    }
}

/* ---------------------------------------------------------------- conv */

static void test_conv_one(int N, int H, int W, int I, int O, int k, int pad, int amode, int emode,
                          int force64)
{
    niti_conv_geom g;
    if (niti_conv_geom_init(&g, N, H, W, I, O, k, pad) != NITI_OK) return;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "conv N%d %dx%d I%d O%d k%d p%d a%d e%d f%d", N, H, W, I, O, k, pad,
             amode, emode, force64);
    size_t na = (size_t)N * H * W * I, nw = (size_t)O * k * k * I, ne = (size_t)N * g.Ho * g.Wo * O;
    int8_t *a = malloc(na), *w = malloc(nw), *e = malloc(ne);
    fill_i8(a, na, amode, 1);
    fill_i8(w, nw, amode == 3 ? 3 : 0, 0);
    fill_i8(e, ne, emode, 0);
    pb A = pb_new(a, na, "A"), Wb = pb_new(w, nw, "W"), E = pb_new(e, ne, "E");

    niti_dtype tf = force64 ? NITI_I64 : niti_acc_dtype((int64_t)k * k * I);
    size_t sf = niti_dtype_size(tf);
    /* Pre-fill outputs with garbage so that unwritten elements show up. */
    size_t bf = ne * sf;
    unsigned char *junk = malloc(bf + na * 8 + nw * 8 + 16);
    for (size_t i = 0; i < bf + na * 8 + nw * 8 + 16; i++) junk[i] = (unsigned char)rnd();
    pb acc = pb_new(junk, bf, "acc");
    RUN(R->ops->conv_fwd(R, &g, A.r, Wb.r, acc.r, tf), D->ops->conv_fwd(D, &g, A.d, Wb.d, acc.d, tf),
        ctx);
    CHECK(pb_same(&acc, sf, "conv_fwd acc", ctx));

    niti_dtype td = force64 ? NITI_I64 : niti_acc_dtype((int64_t)k * k * O);
    size_t sd = niti_dtype_size(td);
    pb accE = pb_new(junk, na * sd, "accE");
    RUN(R->ops->conv_dgrad(R, &g, E.r, Wb.r, accE.r, td),
        D->ops->conv_dgrad(D, &g, E.d, Wb.d, accE.d, td), ctx);
    CHECK(pb_same(&accE, sd, "conv_dgrad accE", ctx));

    pb G = pb_new(junk, nw * 8, "G");
    /* With a work space full of junk, large enough for any scratch the device wants (the network
     * passes its accumulators): the result must not depend on the junk, and the op must take its
     * scratch from the work space, allocating nothing but a small zero row (a silent fallback to
     * allocations would undo the memory savings). Then again without a work space. */
    {
        size_t wsb = 64 * (na + ne + nw) + ((size_t)4 << 20);
        unsigned char *wj = malloc(wsb);
        for (size_t i = 0; wj && i < wsb; i++) wj[i] = (unsigned char)rnd();
        niti_buf *ws = NULL;
        if (!wj || D->ops->alloc(D, wsb, "work space", &ws) != NITI_OK ||
            D->ops->upload(D, ws, 0, wj, wsb) != NITI_OK) {
            fprintf(stderr, "%s: work space: %s\n", ctx, niti_last_error());
            exit(1);
        }
        size_t before = D->mem_in_use;
        RUN(R->ops->conv_wgrad(R, &g, A.r, E.r, G.r, NULL),
            D->ops->conv_wgrad(D, &g, A.d, E.d, G.d, ws), ctx);
        CHECK(pb_same(&G, 8, "conv_wgrad G (work space)", ctx));
        if (D->mem_in_use > before + 65536)
            fprintf(stderr, "%s: conv_wgrad with a %zu-byte work space allocated %zu bytes\n", ctx,
                    wsb, D->mem_in_use - before);
        CHECK(D->mem_in_use <= before + 65536);
        D->ops->release(D, ws);
        free(wj);
    }
    RUN(R->ops->conv_wgrad(R, &g, A.r, E.r, G.r, NULL),
        D->ops->conv_wgrad(D, &g, A.d, E.d, G.d, NULL), ctx);
    CHECK(pb_same(&G, 8, "conv_wgrad G", ctx));

    pb_free(&A), pb_free(&Wb), pb_free(&E), pb_free(&acc), pb_free(&accE), pb_free(&G);
    free(a), free(w), free(e), free(junk);
}

static void test_conv(void)
{
    /* Fixed shapes: LeNet/VGG-like layers, linear layers, odd sizes. */
    test_conv_one(2, 28, 28, 1, 20, 5, 0, 0, 0, 0);
    test_conv_one(3, 12, 12, 20, 50, 5, 0, 0, 0, 0);
    test_conv_one(4, 8, 8, 64, 64, 3, 1, 0, 0, 0);
    test_conv_one(2, 32, 32, 3, 128, 3, 1, 0, 0, 0);
    test_conv_one(5, 1, 1, 800, 500, 1, 0, 0, 0, 0);  /* linear */
    test_conv_one(7, 1, 1, 500, 10, 1, 0, 0, 0, 0);   /* linear, classifier */
    test_conv_one(1, 1, 1, 1, 1, 1, 0, 0, 0, 0);      /* scalar */
    test_conv_one(1, 3, 3, 2, 3, 3, 2, 0, 0, 0);      /* pad > k/2 */
    test_conv_one(1, 2, 2, 3, 2, 1, 2, 0, 0, 0);      /* k1 with padding: pad' negative */
    test_conv_one(2, 5, 7, 3, 5, 5, 2, 3, 3, 0);      /* extremes */
    test_conv_one(2, 9, 9, 17, 33, 3, 1, 2, 2, 0);    /* zeros */
    test_conv_one(2, 9, 9, 17, 33, 3, 1, 1, 1, 1);    /* sparse, int64 */
    test_conv_one(3, 6, 6, 65, 67, 3, 0, 0, 0, 1);    /* int64 accumulators */
    test_conv_one(1, 4, 4, 16, 16, 3, 1, 4, 4, 0);
    /* wgrad transposes: blocks of 64 and 8 channels and single bytes, runs of 8 positions with
     * a remainder, an interior narrower than 8 */
    test_conv_one(2, 5, 19, 141, 20, 3, 1, 0, 0, 0);
    test_conv_one(3, 7, 6, 72, 17, 3, 2, 0, 0, 0);
    test_conv_one(2, 10, 16, 128, 36, 3, 1, 2, 2, 0);
    /* the same in the tap-expanded wgrad layout (narrow padded rows, given a work space) */
    test_conv_one(2, 6, 12, 136, 24, 3, 0, 0, 0, 0);
    test_conv_one(2, 6, 16, 136, 24, 5, 0, 0, 0, 0);
    /* the vnni wgrad's panel operand, built from E per sub-chunk with its table of group
     * offsets: several sub-chunks, row groups and chunks, a partial and an empty panel (O = 40 of
     * 64 columns); the compact grid (vnni; the portable path: row-padded, with gaps), the
     * row-padded grid (Wo = 19), several chunks */
    test_conv_one(4, 20, 20, 24, 40, 3, 1, 0, 0, 0);
    test_conv_one(4, 19, 19, 24, 40, 3, 1, 0, 0, 0);
    test_conv_one(8, 32, 32, 8, 20, 3, 1, 0, 0, 0);
    /* Random shapes. */
    int reps = quick ? 60 : 300;
    for (int r = 0; r < reps; r++) {
        int k = (int[]){1, 3, 5}[rint_in(0, 2)];
        int pad = rint_in(0, 2);
        int H = rint_in(1, 12), W = rint_in(1, 12);
        if (H + 2 * pad < k || W + 2 * pad < k) continue;
        int N = rint_in(1, 4), I = rint_in(1, 40), O = rint_in(1, 70);
        if (rnd() % 4 == 0) I = rint_in(1, 4) * 16;
        if (rnd() % 4 == 0) O = rint_in(1, 4) * 16;
        int mode = rint_in(0, 4), emode = rnd() % 3 ? 0 : rint_in(0, 4);
        test_conv_one(N, H, W, I, O, k, pad, mode, emode, rnd() % 5 == 0);
    }
    /* Random linear layers (k = 1 on 1x1), with larger F. */
    for (int r = 0; r < (quick ? 10 : 40); r++)
        test_conv_one(rint_in(1, 64), 1, 1, rint_in(1, 3000), rint_in(1, 300), 1, 0,
                      rint_in(0, 3), rint_in(0, 3), rnd() % 4 == 0);
    /* A long reduction: K > 131071 (forward needs int64; several exact int32 splits) and a long
     * wgrad reduction M = N*Ho*Wo > 131071 whose sum needs more than 31 bits. */
    test_conv_one(2, 1, 1, 140000, 2, 1, 0, 3, 3, 0);
    test_conv_one(2, 260, 260, 1, 1, 1, 0, 3, 3, 0);
}

/* conv_fwd / conv_dgrad, then requant of their output at once (as a network does): the CPU GEMM
 * paths hand their partial maxima |acc| to that requant instead of a max pass. The input is
 * small (|x| <= 2) but for one pixel (or one error position) of extreme values, placed at random,
 * so that the maximum lies in few outputs of one work-item: a partial maximum that is lost or
 * taken from the wrong outputs changes the shift. */
static void test_conv_requant_one(int N, int H, int W, int I, int O, int k, int pad, int where)
{
    niti_conv_geom g;
    if (niti_conv_geom_init(&g, N, H, W, I, O, k, pad) != NITI_OK) return;
    char ctx[160];
    snprintf(ctx, sizeof ctx, "conv+requant N%d %dx%d I%d O%d k%d p%d at %d", N, H, W, I, O, k,
             pad, where);
    size_t na = (size_t)N * H * W * I, nw = (size_t)O * k * k * I, ne = (size_t)N * g.Ho * g.Wo * O;
    int8_t *a = malloc(na), *w = malloc(nw), *e = malloc(ne);
    fill_i8(a, na, 4, 0);
    fill_i8(w, nw, 0, 0);
    fill_i8(e, ne, 4, 0);
    /* the extreme pixel: random (where < 0), first (0) or last (1) */
    size_t pa = (size_t)rint_in(0, (int)(na / I) - 1) * I, pe = (size_t)rint_in(0, (int)(ne / O) - 1) * O;
    if (where >= 0) pa = where ? na - I : 0, pe = where ? ne - O : 0;
    for (int c = 0; c < I; c++) a[pa + c] = (int8_t)(rnd() & 1 ? 127 : -127);
    for (int o = 0; o < O; o++) e[pe + o] = (int8_t)(rnd() & 1 ? 127 : -127);
    pb A = pb_new(a, na, "A"), Wb = pb_new(w, nw, "W"), E = pb_new(e, ne, "E");
    for (int dir = 0; dir < 2; dir++) {
        size_t n = dir ? na : ne;
        niti_dtype t = niti_acc_dtype((int64_t)k * k * (dir ? O : I));
        size_t es = niti_dtype_size(t);
        unsigned char *junk = malloc(n * es + 1);
        for (size_t i = 0; i < n * es; i++) junk[i] = (unsigned char)rnd();
        int32_t sc[4] = {0, 0, 0, 0};
        pb acc = pb_new(junk, n * es, "acc"), out = pb_new(junk, n, "out");
        pb S = pb_new(sc, sizeof sc, "scalars");
        niti_rule rule = rnd() & 1 ? NITI_RULE_NITI20 : NITI_RULE_NITI21;
        if (dir == 0)
            RUN(R->ops->conv_fwd(R, &g, A.r, Wb.r, acc.r, t),
                D->ops->conv_fwd(D, &g, A.d, Wb.d, acc.d, t), ctx);
        else
            RUN(R->ops->conv_dgrad(R, &g, E.r, Wb.r, acc.r, t),
                D->ops->conv_dgrad(D, &g, E.d, Wb.d, acc.d, t), ctx);
        RUN(R->ops->requant(R, acc.r, t, n, rule, NITI_ROUND, out.r, S.r, 0, 1, 0, 2, NULL),
            D->ops->requant(D, acc.d, t, n, rule, NITI_ROUND, out.d, S.d, 0, 1, 0, 2, NULL), ctx);
        CHECK(pb_same(&acc, es, dir ? "dgrad acc" : "fwd acc", ctx));
        CHECK(pb_same(&out, 1, "requant values", ctx));
        CHECK(pb_same(&S, 4, "requant scalars", ctx));
        /* max_abs straight after the GEMM (the CPU paths take the GEMM's own partial maxima),
         * then requant with that maximum given: the same bytes as above */
        if (dir == 0)
            RUN(R->ops->conv_fwd(R, &g, A.r, Wb.r, acc.r, t),
                D->ops->conv_fwd(D, &g, A.d, Wb.d, acc.d, t), ctx);
        else
            RUN(R->ops->conv_dgrad(R, &g, E.r, Wb.r, acc.r, t),
                D->ops->conv_dgrad(D, &g, E.d, Wb.d, acc.d, t), ctx);
        uint64_t mr = 1, md = 2;
        RUN(R->ops->max_abs(R, acc.r, t, n, &mr), D->ops->max_abs(D, acc.d, t, n, &md), ctx);
        CHECK_EQ(mr, md);
        RUN(R->ops->requant(R, acc.r, t, n, rule, NITI_ROUND, out.r, S.r, 0, 1, 0, 2, &mr),
            D->ops->requant(D, acc.d, t, n, rule, NITI_ROUND, out.d, S.d, 0, 1, 0, 2, &md), ctx);
        CHECK(pb_same(&out, 1, "requant values (given max)", ctx));
        CHECK(pb_same(&S, 4, "requant scalars (given max)", ctx));
        pb_free(&acc), pb_free(&out), pb_free(&S);
        free(junk);
    }
    pb_free(&A), pb_free(&Wb), pb_free(&E);
    free(a), free(w), free(e);
}

static void test_conv_requant(void)
{
    for (int where = 0; where < 2; where++) {
        test_conv_requant_one(4, 16, 16, 32, 64, 3, 1, where);
        test_conv_requant_one(2, 9, 7, 20, 30, 3, 1, where); /* partial panels and row blocks */
        test_conv_requant_one(64, 1, 1, 300, 100, 1, 0, where); /* linear */
    }
    for (int r = 0; r < (quick ? 10 : 40); r++) {
        int k = (int[]){1, 3, 5}[rint_in(0, 2)], pad = rint_in(0, k / 2);
        int H = rint_in(k, 20), W = rint_in(k, 20);
        test_conv_requant_one(rint_in(1, 8), H, W, rint_in(1, 64), rint_in(1, 80), k, pad, -1);
    }
}

/* ---------------------------------------------------------------- requant */

static void test_requant_one(int64_t *vals, size_t n, niti_dtype t, niti_rule rule,
                             niti_rounding rnd_mode, const char *what)
{
    char ctx[200];
    snprintf(ctx, sizeof ctx, "requant %s n=%zu %s rule=%d round=%d", what, n,
             niti_dtype_name(t), (int)rule, (int)rnd_mode);
    size_t es = niti_dtype_size(t);
    unsigned char *buf = malloc(n * es + 1);
    for (size_t i = 0; i < n; i++) {
        if (t == NITI_I64) ((int64_t *)buf)[i] = vals[i];
        else ((int32_t *)buf)[i] = (int32_t)vals[i];
    }
    pb acc = pb_new(buf, n * es, "acc");
    int8_t *junk = malloc(n + 1);
    for (size_t i = 0; i < n; i++) junk[i] = (int8_t)rnd();
    pb out = pb_new(junk, n, "out");
    int32_t sc[8];
    for (int i = 0; i < 8; i++) sc[i] = rint_in(-50, 50);
    pb S = pb_new(sc, sizeof sc, "scalars");
    int shift_slot = rint_in(0, 7), exp_in = rint_in(-1, 7), exp_slot = rint_in(-1, 7);
    int exp_add = rint_in(-20, 20);
    RUN(R->ops->requant(R, acc.r, t, n, rule, rnd_mode, out.r, S.r, shift_slot, exp_in, exp_add,
                        exp_slot, NULL),
        D->ops->requant(D, acc.d, t, n, rule, rnd_mode, out.d, S.d, shift_slot, exp_in, exp_add,
                        exp_slot, NULL),
        ctx);
    CHECK(pb_same(&out, 1, "requant values", ctx));
    CHECK(pb_same(&S, 4, "requant scalars", ctx));
    /* max_abs to the host, and requant with a given maximum at least max |acc| (the maximum of
     * a larger tensor, as data-parallel training passes it) */
    uint64_t mr = 1, md = 2;
    RUN(R->ops->max_abs(R, acc.r, t, n, &mr), D->ops->max_abs(D, acc.d, t, n, &md), ctx);
    CHECK_EQ(mr, md);
    uint64_t given = mr;
    int up = rint_in(0, 3);
    if (up == 1 && given < (UINT64_C(1) << 60)) given += rnd() % (given + 1);
    if (up == 2 && given < (UINT64_C(1) << 50)) given <<= rint_in(1, 10);
    RUN(R->ops->requant(R, acc.r, t, n, rule, rnd_mode, out.r, S.r, shift_slot, exp_in, exp_add,
                        exp_slot, &given),
        D->ops->requant(D, acc.d, t, n, rule, rnd_mode, out.d, S.d, shift_slot, exp_in, exp_add,
                        exp_slot, &given),
        ctx);
    CHECK(pb_same(&out, 1, "requant values (given max)", ctx));
    CHECK(pb_same(&S, 4, "requant scalars (given max)", ctx));
    pb_free(&acc), pb_free(&out), pb_free(&S);
    free(buf), free(junk);
}

static void test_requant(void)
{
    size_t cap = 300000;
    int64_t *v = malloc(cap * sizeof *v);
    for (int r = 0; r < (quick ? 150 : 600); r++) {
        size_t n = rnd() % 3 == 0 ? (size_t)rint_in(1, 20) : (size_t)rint_in(1, 6000);
        if (r % 50 == 0) n = (size_t)rint_in(100000, 300000);
        niti_dtype t = rnd() & 1 ? NITI_I64 : NITI_I32;
        int maxbits = t == NITI_I64 ? 46 : 31;
        int bits = rint_in(0, maxbits);
        int kind = rint_in(0, 5);
        for (size_t i = 0; i < n; i++) {
            int64_t x = bits ? (int64_t)(rnd() % ((uint64_t)1 << bits)) : 0;
            if (rnd() & 1) x = -x;
            if (kind == 1) x = 0;
            v[i] = x;
        }
        if (kind >= 2 && bits < (t == NITI_I64 ? 45 : 30)) {
            /* max exactly 2^k, 2^k+1, 2^k-1 (either sign), placed anywhere */
            int64_t m = ((int64_t)1 << bits) + (kind == 2 ? 0 : kind == 3 ? 1 : kind == 4 ? -1 : 0);
            if (kind == 5) m = (int64_t[]){127, 128, 129, 255, 256, 257, 1, 0}[rnd() % 8];
            for (size_t i = 0; i < n; i++)
                if (niti_abs64(v[i]) > (uint64_t)m) v[i] = v[i] % (m ? m : 1);
            v[rnd() % n] = rnd() & 1 ? m : -m;
        }
        niti_rule rule = rnd() & 1 ? NITI_RULE_NITI20 : NITI_RULE_NITI21;
        niti_rounding rm = rnd() & 1 ? NITI_PSR : NITI_ROUND;
        test_requant_one(v, n, t, rule, rm, "random");
    }
    /* Each power of two and its neighbours as the maximum, both rules and roundings. */
    for (int k = 0; k <= 45; k++)
        for (int d = -1; d <= 1; d++) {
            size_t n = 37;
            int64_t m = ((int64_t)1 << k) + d;
            for (size_t i = 0; i < n; i++) v[i] = (int64_t)(rnd() % (uint64_t)(m > 0 ? m : 1)) - m / 2;
            v[5] = -m;
            niti_dtype t = k <= 30 ? NITI_I32 : NITI_I64;
            for (int rule = 0; rule < 2; rule++)
                for (int rm = 0; rm < 2; rm++)
                    test_requant_one(v, n, t, (niti_rule)rule, (niti_rounding)rm, "pow2");
        }
    /* INT32_MIN and a huge int64. */
    v[0] = INT32_MIN, v[1] = 5;
    test_requant_one(v, 2, NITI_I32, NITI_RULE_NITI21, NITI_ROUND, "int32min");
    v[0] = INT64_MIN / 2, v[1] = -7;
    test_requant_one(v, 2, NITI_I64, NITI_RULE_NITI20, NITI_PSR, "big64");
    free(v);
}

/* ---------------------------------------------------------------- elementwise */

static void test_elementwise(void)
{
    for (int r = 0; r < (quick ? 40 : 150); r++) {
        int N = rint_in(1, 5), H = rint_in(1, 13), W = rint_in(1, 13), C = rint_in(1, 40);
        if (r % 30 == 0) N = 8, H = 32, W = 32, C = 64;
        char ctx[100];
        snprintf(ctx, sizeof ctx, "elementwise N%d %dx%d C%d", N, H, W, C);
        size_t n = (size_t)N * H * W * C;
        int8_t *a = malloc(n), *e = malloc(n);
        fill_i8(a, n, rint_in(0, 4), 1);
        fill_i8(e, n, rint_in(0, 4), 0);
        pb A = pb_new(a, n, "A"), E = pb_new(e, n, "E"), Y = pb_new(e, n, "Y");
        RUN(R->ops->relu_fwd(R, n, A.r, Y.r), D->ops->relu_fwd(D, n, A.d, Y.d), ctx);
        CHECK(pb_same(&Y, 1, "relu_fwd", ctx));
        RUN(R->ops->relu_bwd(R, n, A.r, E.r, Y.r), D->ops->relu_bwd(D, n, A.d, E.d, Y.d), ctx);
        CHECK(pb_same(&Y, 1, "relu_bwd", ctx));
        RUN(R->ops->relu_bwd(R, n, A.r, E.r, E.r), D->ops->relu_bwd(D, n, A.d, E.d, E.d), ctx);
        CHECK(pb_same(&E, 1, "relu_bwd in place", ctx));
        int Ho = H / 2, Wo = W / 2;
        size_t no = (size_t)N * Ho * Wo * C;
        if (no) {
            pb P = pb_new(NULL, no, "pool out"), AM = pb_new(NULL, no, "argmax");
            RUN(R->ops->maxpool_fwd(R, N, H, W, C, A.r, P.r, AM.r),
                D->ops->maxpool_fwd(D, N, H, W, C, A.d, P.d, AM.d), ctx);
            CHECK(pb_same(&P, 1, "maxpool_fwd Y", ctx));
            CHECK(pb_same(&AM, 1, "maxpool_fwd argmax", ctx));
            int8_t *pe = malloc(no);
            fill_i8(pe, no, 0, 0);
            pb PE = pb_new(pe, no, "pool E");
            pb EP = pb_new(a, n, "Eprev"); /* garbage to be overwritten */
            RUN(R->ops->maxpool_bwd(R, N, H, W, C, PE.r, AM.r, EP.r),
                D->ops->maxpool_bwd(D, N, H, W, C, PE.d, AM.d, EP.d), ctx);
            CHECK(pb_same(&EP, 1, "maxpool_bwd", ctx));
            pb_free(&P), pb_free(&AM), pb_free(&PE), pb_free(&EP);
            free(pe);
        }
        /* saturation counts: both backends against a count made here, at slot 1 of 3 */
        {
            int64_t want = 0, got[2] = {-1, -1};
            for (size_t i = 0; i < n; i++) want += a[i] == 127 || a[i] == -127;
            pb CNT = pb_new(NULL, 24, "counts");
            RUN(R->ops->count_sat(R, A.r, n, CNT.r, 1), D->ops->count_sat(D, A.d, n, CNT.d, 1),
                ctx);
            R->ops->download(R, CNT.r, 8, &got[0], 8);
            D->ops->download(D, CNT.d, 8, &got[1], 8);
            if (got[0] != want || got[1] != want)
                fprintf(stderr, "MISMATCH %s: count_sat: want %lld, ref %lld, device %lld\n", ctx,
                        (long long)want, (long long)got[0], (long long)got[1]);
            CHECK(got[0] == want && got[1] == want);
            pb_free(&CNT);
        }
        /* dropout on [N, F] with F = H*W*C */
        int F = H * W * C;
        uint64_t seed = rnd() >> (rnd() % 64);
        uint32_t t = (uint32_t)rnd(), layer = (uint32_t)rint_in(0, 20);
        RUN(R->ops->dropout(R, N, F, seed, t, layer, A.r, Y.r),
            D->ops->dropout(D, N, F, seed, t, layer, A.d, Y.d), ctx);
        CHECK(pb_same(&Y, 1, "dropout", ctx));
        RUN(R->ops->dropout(R, N, F, seed, t, layer, A.r, A.r),
            D->ops->dropout(D, N, F, seed, t, layer, A.d, A.d), ctx);
        CHECK(pb_same(&A, 1, "dropout in place", ctx));
        pb_free(&A), pb_free(&E), pb_free(&Y);
        free(a), free(e);
    }
}

/* ---------------------------------------------------------------- loss */

static void test_loss_one(int N, int C, int exp_base, int use_slot, int with_q, int bad_labels,
                          int lmode)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "loss N%d C%d base%d slot%d q%d bad%d mode%d", N, C, exp_base,
             use_slot, with_q, bad_labels, lmode);
    size_t nc = (size_t)N * C;
    int8_t *lo = malloc(nc);
    fill_i8(lo, nc, lmode, 0);
    if (lmode == 5)
        for (size_t i = 0; i < nc; i++) lo[i] = (int8_t)(100 + rint_in(0, 1)); /* near-constant */
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)N);
    for (int n = 0; n < N; n++) {
        lab[n] = rint_in(0, C - 1);
        if (bad_labels && rnd() % 3 == 0) lab[n] = rnd() & 1 ? -1 : C + rint_in(0, 3);
    }
    int32_t sc[6];
    for (int i = 0; i < 6; i++) sc[i] = rint_in(-30, 30);
    int exp_slot = use_slot ? rint_in(0, 5) : -1, e_out = rint_in(0, 5);
    if (use_slot == 2) e_out = exp_slot; /* the same slot */
    pb L = pb_new(lo, nc, "logits"), Lab = pb_new(lab, sizeof(int32_t) * (size_t)N, "labels");
    pb S = pb_new(sc, sizeof sc, "scalars");
    int64_t *junk = malloc(nc * 8);
    for (size_t i = 0; i < nc; i++) junk[i] = (int64_t)rnd();
    pb Q = pb_new(junk, nc * 8, "q"), Er = pb_new(junk, nc, "err");
    uint64_t seed = rnd() >> (rnd() % 64);
    uint32_t t = (uint32_t)rnd();
    RUN(R->ops->loss_bwd(R, N, C, L.r, Lab.r, S.r, exp_base, exp_slot, e_out, seed, t,
                         with_q ? Q.r : NULL, Er.r),
        D->ops->loss_bwd(D, N, C, L.d, Lab.d, S.d, exp_base, exp_slot, e_out, seed, t,
                         with_q ? Q.d : NULL, Er.d),
        ctx);
    CHECK(pb_same(&Er, 1, "loss err", ctx));
    if (with_q) CHECK(pb_same(&Q, 8, "loss q", ctx));
    CHECK(pb_same(&S, 4, "loss scalars", ctx));
    pb_free(&L), pb_free(&Lab), pb_free(&S), pb_free(&Q), pb_free(&Er);
    free(lo), free(lab), free(junk);
}

static void test_loss(void)
{
    for (int e = -30; e <= 45; e++) test_loss_one(rint_in(1, 9), rint_in(1, 12), e, 0, 1, 0, 0);
    for (int r = 0; r < (quick ? 60 : 250); r++) {
        int C = rnd() % 5 == 0 ? rint_in(90, 120) : rint_in(1, 20);
        int N = rint_in(1, 100);
        test_loss_one(N, C, rint_in(-40, 40), rint_in(0, 2), rint_in(0, 1), rnd() % 4 == 0,
                      rint_in(0, 5));
    }
}

/* ---------------------------------------------------------------- update */

static void test_update_one(size_t n, int bits, int mu, int decay, int with_master, int with_g,
                            int gmode)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "update n=%zu bits=%d mu=%d decay=%d master=%d g=%d mode=%d", n,
             bits, mu, decay, with_master, with_g, gmode);
    int64_t *G = malloc(n * 8 + 8);
    int8_t *W = malloc(n + 1);
    int16_t *M = malloc(n * 2 + 2);
    for (size_t i = 0; i < n; i++) {
        int64_t x = bits ? (int64_t)(rnd() % ((uint64_t)1 << bits)) : 0;
        if (gmode == 1) x = (int64_t[]){0, 1, 127, 128, 129}[rnd() % 5];
        if (gmode == 2) x = 0;
        G[i] = rnd() & 1 ? -x : x;
        W[i] = (int8_t)rint_in(-127, 127);
        M[i] = (int16_t)(W[i] * 256 + rint_in(-128, 127));
        if (rnd() % 16 == 0) M[i] = (int16_t)(rnd() & 1 ? 32512 : -32512);
    }
    if (n > 2) W[0] = 127, W[1] = -127;
    pb Gb = pb_new(G, n * 8, "G"), Wb = pb_new(W, n, "W"), Mb = pb_new(M, n * 2, "master");
    pb gb = pb_new(W, n, "g");
    RUN(R->ops->update(R, n, Gb.r, mu, decay, Wb.r, with_master ? Mb.r : NULL,
                       with_g ? gb.r : NULL),
        D->ops->update(D, n, Gb.d, mu, decay, Wb.d, with_master ? Mb.d : NULL,
                       with_g ? gb.d : NULL),
        ctx);
    CHECK(pb_same(&Gb, 8, "update G", ctx));
    CHECK(pb_same(&Wb, 1, "update W", ctx));
    if (with_master) CHECK(pb_same(&Mb, 2, "update master", ctx));
    if (with_g) CHECK(pb_same(&gb, 1, "update g", ctx));
    pb_free(&Gb), pb_free(&Wb), pb_free(&Mb), pb_free(&gb);
    free(G), free(W), free(M);
}

static void test_update(void)
{
    for (int r = 0; r < (quick ? 150 : 600); r++) {
        size_t n = rnd() % 3 == 0 ? (size_t)rint_in(1, 30) : (size_t)rint_in(1, 20000);
        if (r % 60 == 0) n = (size_t)rint_in(100000, 600000);
        test_update_one(n, rint_in(0, 46), rint_in(-4, 10), rnd() & 1, rnd() & 1, rnd() & 1,
                        rnd() % 5 == 0 ? rint_in(1, 2) : 0);
    }
}

static niti_status open_device(const char *spec, niti_backend **out)
{
    niti_status s = niti_backend_cl_create(spec ? spec : "cpu", out);
    if (s == NITI_ERR_UNSUPPORTED && !spec) s = niti_backend_cl_create(NULL, out);
    return s;
}

int main(void)
{
    const char *spec = getenv("NITI_TEST_DEVICE");
    const char *seed = getenv("NITI_TEST_SEED");
    if (seed) rng_state = strtoull(seed, NULL, 0);
    quick = getenv("NITI_TEST_QUICK") && atoi(getenv("NITI_TEST_QUICK"));
    niti_status s = open_device(spec, &D);
    const char *gemm = getenv("NITI_GEMM");
    if (s == NITI_ERR_UNSUPPORTED && gemm && *gemm) {
        /* A GEMM path forced with NITI_GEMM that cannot run fails the test (not a skip) when the
         * device opens without it. */
        char why[1024];
        snprintf(why, sizeof why, "%s", niti_last_error());
        unsetenv("NITI_GEMM");
        niti_backend *any = NULL;
        if (open_device(spec, &any) == NITI_OK) {
            niti_backend_close(any);
            fprintf(stderr, "test_cl_ops: the forced GEMM path cannot run: %s\n", why);
            return 1;
        }
    }
    if (s == NITI_ERR_UNSUPPORTED) {
        printf("test_cl_ops: skipped, no OpenCL device: %s\n", niti_last_error());
        return 77;
    }
    if (s != NITI_OK) {
        fprintf(stderr, "test_cl_ops: cannot open the OpenCL device: %s\n", niti_last_error());
        return 1;
    }
    if (niti_backend_ref_create(&R) != NITI_OK) return 1;
    printf("device: %s (%s)\n", D->name, D->short_name);
    const char *one = getenv("NITI_TEST_CONV");
    if (one && *one) {
        int v[10];
        if (sscanf(one, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7], &v[8], &v[9]) != 10) {
            fprintf(stderr, "test_cl_ops: NITI_TEST_CONV wants 10 integers, got '%s'\n", one);
            return 2;
        }
        test_conv_one(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
        niti_backend_close(D);
        niti_backend_close(R);
        return check_report("test_cl_ops");
    }
    test_conv();
    test_conv_requant();
    test_requant();
    test_elementwise();
    test_loss();
    test_update();
    niti_backend_close(D);
    niti_backend_close(R);
    return check_report("test_cl_ops");
}
