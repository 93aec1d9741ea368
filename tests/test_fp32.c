/* The fp32 baseline. Modes (one ctest each):
 *   test_fp32 unit         sgemm against a naive loop; conv forward against a direct loop;
 *                          dropout masks against Philox; the Xavier init mapping; API errors
 *   test_fp32 grad         finite-difference gradient check (conv, pool, relu, dropout,
 *                          linear, and the input gradient) on a tiny net, ref path
 *   test_fp32 cl           the CLBlast path gives the ref path's logits and training steps
 *                          (77 = skipped: no OpenCL device)
 *   test_fp32 mnist DIR    LeNet, 2 epochs on the first 2048 MNIST images: the loss falls and
 *                          the accuracy on 1000 test images beats 50% (77 = no data)
 *                          optional third argument: device (default ref) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/data.h"
#include "fp32/fp32.h"
#include "fp32/fp32_internal.h"
#include "core/model.h"
#include "core/numerics.h"

/* A small deterministic generator for test data (not the library's Philox). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 40) / 8388608.0 - 1.0);
}

static niti_f32_net *make_net(const char *device, const char *spec, int batch, float mom,
                              float wd, uint64_t seed)
{
    niti_model_spec *m = NULL;
    if (niti_model_from_arg(spec, &m) != NITI_OK) {
        fprintf(stderr, "model '%s': %s\n", spec, niti_last_error());
        return NULL;
    }
    niti_f32_cfg cfg = {0.01f, mom, wd, seed};
    niti_f32_net *net = NULL;
    if (niti_f32_create(device, m, batch, &cfg, &net) != NITI_OK) {
        fprintf(stderr, "niti_f32_create(%s): %s\n", device ? device : "(default)",
                niti_last_error());
        net = NULL;
    }
    niti_model_free(m);
    return net;
}

/* ---------------------------------------------------------------- unit */

static void test_sgemm(void)
{
    const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 8, 256}, {17, 9, 300}, {130, 33, 20},
                            {5, 600, 3}, {70, 513, 257}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                float *A = malloc(sizeof(float) * (size_t)(ta ? K : M) * lda);
                float *B = malloc(sizeof(float) * (size_t)(tb ? N : K) * ldb);
                float *C = malloc(sizeof(float) * (size_t)M * ldc);
                for (int i = 0; i < (ta ? K : M) * lda; i++) A[i] = frand();
                for (int i = 0; i < (tb ? N : K) * ldb; i++) B[i] = frand();
                for (int i = 0; i < M * ldc; i++) C[i] = 1234.5f; /* padding must survive */
                niti_f32_sgemm_ref(ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
                double maxerr = 0;
                int pad_ok = 1;
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < N; j++) {
                        double r = 0;
                        for (int p = 0; p < K; p++)
                            r += (double)(ta ? A[p * lda + i] : A[i * lda + p]) *
                                 (tb ? B[j * ldb + p] : B[p * ldb + j]);
                        double e = fabs(r - C[i * ldc + j]);
                        if (e > maxerr) maxerr = e;
                    }
                    for (int j = N; j < ldc; j++) pad_ok &= C[i * ldc + j] == 1234.5f;
                }
                if (maxerr > 1e-5 * sqrt((double)K) * 4) {
                    fprintf(stderr, "sgemm M=%d N=%d K=%d ta=%d tb=%d: max error %g\n", M, N, K,
                            ta, tb, maxerr);
                }
                CHECK(maxerr <= 1e-5 * sqrt((double)K) * 4);
                CHECK(pad_ok);
                free(A), free(B), free(C);
            }
    }
}

/* The conv forward against a direct loop over the contract's definition, with padding. */
static void test_conv_forward(void)
{
    const char *spec = "input 5x6x3; conv 4 k3 p1; flatten; linear 2";
    niti_f32_net *net = make_net("ref", spec, 2, 0, 0, 7);
    CHECK(net != NULL);
    if (!net) return;
    const int n = 2, H = 5, W = 6, I = 3, O = 4, k = 3, p = 1;
    size_t nw = 0, nw2 = 0;
    float *W0 = niti_f32_weights(net, 0, &nw);
    float *W1 = niti_f32_weights(net, 2, &nw2);
    CHECK(W0 && nw == (size_t)O * k * k * I && W1 && nw2 == (size_t)2 * H * W * O);
    if (!W0 || !W1) {
        niti_f32_free(net);
        return;
    }
    float x[2 * 5 * 6 * 3], logits[4];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = frand();
    CHECK(niti_f32_forward_f(net, x, n, logits) == NITI_OK);
    double maxerr = 0;
    for (int b = 0; b < n; b++)
        for (int c = 0; c < 2; c++) {
            double lo = 0;
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++)
                    for (int o = 0; o < O; o++) {
                        double acc = 0;
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                for (int i = 0; i < I; i++) {
                                    int iy = y + ky - p, ix = xx + kx - p;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                    acc += (double)x[((b * H + iy) * W + ix) * I + i] *
                                           W0[((o * k + ky) * k + kx) * I + i];
                                }
                        lo += acc * W1[(size_t)c * H * W * O + (size_t)(y * W + xx) * O + o];
                    }
            double e = fabs(lo - logits[b * 2 + c]);
            if (e > maxerr) maxerr = e;
        }
    CHECK(maxerr < 1e-4);
    niti_f32_free(net);
}

/* Dropout: one Philox draw per element, i = n*F + j, stream 2, tag = layer; kept values x2. */
static void test_dropout(void)
{
    const int F = 37, n = 3;
    char spec[128];
    snprintf(spec, sizeof spec, "input 1x1x%d; flatten; dropout; linear %d", F, F);
    const uint64_t seed = 0x1234567890abcdefull;
    niti_f32_net *net = make_net("ref", spec, n, 0, 0, seed);
    CHECK(net != NULL);
    if (!net) return;
    size_t nw = 0;
    float *Wl = niti_f32_weights(net, 2, &nw);
    CHECK(Wl && nw == (size_t)F * F);
    for (int o = 0; o < F; o++)
        for (int j = 0; j < F; j++) Wl[o * F + j] = o == j ? 1.0f : 0.0f;
    float x[3 * 37], lg[3 * 37];
    int32_t labels[3] = {0, 1, 2};
    for (int i = 0; i < n * F; i++) x[i] = frand();
    const uint32_t t = 41;
    double loss;
    CHECK(niti_f32_grad_f(net, x, labels, n, 1, t, &loss, NULL, lg) == NITI_OK);
    int bad = 0, kept = 0;
    for (int b = 0; b < n; b++)
        for (int j = 0; j < F; j++) {
            uint32_t i = (uint32_t)(b * F + j);
            int keep = (int)(niti_philox_x0(seed, i, t, NITI_STREAM_DROPOUT, 1) & 1u);
            kept += keep;
            float want = keep ? 2.0f * x[i] : 0.0f;
            bad += lg[i] != want;
        }
    CHECK_EQ(bad, 0);
    CHECK(kept > 0 && kept < n * F);
    /* Inference: no dropout. */
    CHECK(niti_f32_forward_f(net, x, n, lg) == NITI_OK);
    bad = 0;
    for (int i = 0; i < n * F; i++) bad += lg[i] != x[i];
    CHECK_EQ(bad, 0);
    niti_f32_free(net);
}

/* Init: the float weights of niti_net_init_xavier's mapping (Philox stream 5, tag = layer). */
static void test_init(void)
{
    const uint64_t seed = 99;
    niti_f32_net *net = make_net("ref", "input 4x4x2; conv 3 k3 p0; flatten; linear 5", 1, 0, 0,
                                 seed);
    CHECK(net != NULL);
    if (!net) return;
    size_t nw = 0;
    const float *W0 = niti_f32_weights(net, 0, &nw);
    double bound = sqrt(6.0 / (2 * 9 + 3 * 9));
    int bad = 0;
    for (size_t i = 0; i < nw; i++) {
        uint32_t x = niti_philox_x0(seed, (uint32_t)i, 0, NITI_STREAM_INIT, 0);
        double want = (((double)(x >> 8) + 0.5) / 16777216.0 * 2.0 - 1.0) * bound;
        bad += fabs(W0[i] - want) > 1e-7;
    }
    CHECK_EQ(nw, 3 * 9 * 2);
    CHECK_EQ(bad, 0);
    const float *W2 = niti_f32_weights(net, 2, &nw);
    bound = sqrt(6.0 / (12 + 5));
    bad = 0;
    for (size_t i = 0; i < nw; i++) {
        uint32_t x = niti_philox_x0(seed, (uint32_t)i, 0, NITI_STREAM_INIT, 2);
        double want = (((double)(x >> 8) + 0.5) / 16777216.0 * 2.0 - 1.0) * bound;
        bad += fabs(W2[i] - want) > 1e-7;
    }
    CHECK_EQ(nw, 12 * 5);
    CHECK_EQ(bad, 0);
    CHECK(niti_f32_weights(net, 1, NULL) == NULL);
    CHECK(!strcmp(niti_f32_device_name(net), "ref (plain C reference)"));
    niti_f32_free(net);
}

static void test_errors(void)
{
    niti_model_spec *m = NULL;
    CHECK(niti_model_from_arg("lenet", &m) == NITI_OK);
    niti_f32_cfg cfg = {0.01f, 0.5f, 0, 1};
    niti_f32_net *net = NULL;
    CHECK(niti_f32_create("ref", m, 0, &cfg, &net) == NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "batch") != NULL);
    CHECK(niti_f32_create("no-such-device-xyz", m, 4, &cfg, &net) != NITI_OK);
    CHECK(net == NULL);
    CHECK(strlen(niti_last_error()) > 0);
    CHECK(niti_f32_create("ref", m, 4, &cfg, &net) == NITI_OK);
    if (net) {
        int8_t in[4 * 28 * 28] = {0};
        int32_t lab[4] = {0, 1, 2, 10};
        double ls;
        CHECK(niti_f32_train_step(net, in, lab, 5, 0.01f, 0, NULL, &ls) == NITI_ERR_INVALID);
        CHECK(niti_f32_train_step(net, in, lab, 4, 0.01f, 0, NULL, &ls) == NITI_ERR_INVALID);
        CHECK(strstr(niti_last_error(), "label 10") != NULL);
        lab[3] = 3;
        CHECK(niti_f32_train_step(net, in, lab, 4, 0.01f, 0, NULL, &ls) == NITI_OK);
        CHECK(fabs(ls - 4 * log(10.0)) < 1e-3); /* zero input: uniform softmax */
        niti_f32_free(net);
    }
    niti_model_free(m);
}

/* ---------------------------------------------------------------- grad */

/* Central differences of the mean loss against the analytic gradient, for every weight and
 * every 2nd input. Float arithmetic: eps 1e-3, tolerance 2e-4 absolute + 1% relative (float
 * rounding of a loss near 1 gives ~5e-5 of noise at this eps). A relu or maxpool kink inside
 * [-eps, eps] makes the difference quotient meaningless; such a point shows as a disagreement
 * between the quotients at eps and eps/2 and is counted as a kink, not checked (< 3% allowed). */
static double fd_at(niti_f32_net *net, float *v, float eps, const float *x, const int32_t *lab,
                    int n, int training, uint32_t t)
{
    float v0 = *v;
    double lp = 0, lm = 0;
    *v = v0 + eps;
    niti_f32_grad_f(net, x, lab, n, training, t, &lp, NULL, NULL);
    *v = v0 - eps;
    niti_f32_grad_f(net, x, lab, n, training, t, &lm, NULL, NULL);
    *v = v0;
    return (lp - lm) / (2.0 * (double)eps);
}

typedef struct gc_stats {
    int checked, bad, kinks;
    double worst;
} gc_stats;

static void gc_one(gc_stats *st, const char *what, int l, int i, double an, double fd1,
                   double fd2)
{
    double tol = 2e-4 + 1e-2 * fabs(fd1);
    if (fabs(fd1 - fd2) > tol) {
        st->kinks++;
        return;
    }
    st->checked++;
    double err = fabs(fd1 - an), rel = err / (1e-4 + fabs(fd1));
    if (rel > st->worst) st->worst = rel;
    if (err > tol) {
        if (st->bad++ < 5)
            fprintf(stderr, "%s %d[%d]: analytic %.6g, numeric %.6g\n", what, l, i, an, fd1);
    }
}

static void grad_check(const char *spec, int n, int training)
{
    niti_model_spec *m = NULL;
    if (niti_model_from_arg(spec, &m) != NITI_OK) {
        CHECK(0);
        return;
    }
    int in_e = m->in_h * m->in_w * m->in_c, C = niti_model_classes(m), nl = m->n_layers;
    niti_model_free(m);
    niti_f32_net *net = make_net("ref", spec, n, 0, 0, 5);
    CHECK(net != NULL);
    if (!net) return;
    float *x = malloc(sizeof(float) * (size_t)n * in_e);
    float *dx = malloc(sizeof(float) * (size_t)n * in_e);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n * in_e; i++) x[i] = 2 * frand();
    for (int i = 0; i < n; i++) lab[i] = i % C;
    const uint32_t t = 3;
    const float eps = 1e-3f;
    double L0;
    CHECK(niti_f32_grad_f(net, x, lab, n, training, t, &L0, dx, NULL) == NITI_OK);
    gc_stats st = {0, 0, 0, 0};
    for (int l = 0; l < nl; l++) {
        size_t nw = 0;
        float *W = niti_f32_weights(net, l, &nw);
        if (!W) continue;
        float *g = malloc(sizeof(float) * nw);
        memcpy(g, niti_f32_weight_grad(net, l), sizeof(float) * nw);
        for (size_t i = 0; i < nw; i++)
            gc_one(&st, "layer", l, (int)i, g[i],
                   fd_at(net, &W[i], eps, x, lab, n, training, t),
                   fd_at(net, &W[i], eps / 2, x, lab, n, training, t));
        free(g);
    }
    for (int i = 0; i < n * in_e; i += 2)
        gc_one(&st, "input", 0, i, dx[i], fd_at(net, &x[i], eps, x, lab, n, training, t),
               fd_at(net, &x[i], eps / 2, x, lab, n, training, t));
    printf("grad check '%s' (training %d): loss %.4f, %d values checked, %d off, %d skipped at "
           "kinks, worst relative error %.2g\n",
           spec, training, L0, st.checked, st.bad, st.kinks, st.worst);
    CHECK(st.checked > 100);
    CHECK_EQ(st.bad, 0);
    CHECK(st.kinks * 100 <= 3 * (st.checked + st.kinks));
    free(x), free(dx), free(lab);
    niti_f32_free(net);
}

/* ---------------------------------------------------------------- cl */

static int run_cl(void)
{
    niti_model_spec *m = NULL;
    if (niti_model_from_arg("lenet", &m) != NITI_OK) return 1;
    niti_f32_cfg cfg = {0.05f, 0.9f, 5e-4f, 11};
    niti_f32_net *ref = NULL, *cl = NULL;
    if (niti_f32_create("ref", m, 16, &cfg, &ref) != NITI_OK) {
        fprintf(stderr, "ref: %s\n", niti_last_error());
        niti_model_free(m);
        return 1;
    }
    niti_status s = niti_f32_create("", m, 16, &cfg, &cl);
    if (s == NITI_OK && !strncmp(niti_f32_device_name(cl), "ref", 3)) {
        niti_f32_free(cl);
        niti_f32_free(ref);
        niti_model_free(m);
        printf("SKIP: no OpenCL device (or no CLBlast in this build): the default device is %s\n",
               "ref");
        return 77;
    }
    if (s != NITI_OK) {
        fprintf(stderr, "OpenCL fp32: %s\n", niti_last_error());
        niti_f32_free(ref);
        niti_model_free(m);
        return 1;
    }
    printf("device: %s\n", niti_f32_device_name(cl));
    CHECK(strstr(niti_f32_device_name(cl), "(CLBlast)") != NULL);
    const int n = 16, C = 10, img = 28 * 28;
    int8_t *in = malloc((size_t)n * img);
    int32_t lab[16];
    float lr[16 * 10], lc[16 * 10];
    for (int i = 0; i < n * img; i++) in[i] = (int8_t)(frand() * 120);
    for (int i = 0; i < n; i++) lab[i] = i % C;
    /* Inference, then three training steps (dropout-free LeNet; momentum and decay on). */
    for (int step = 0; step < 4; step++) {
        double lsr = 0, lsc = 0;
        if (step == 0) {
            CHECK(niti_f32_forward(ref, in, n, lr) == NITI_OK);
            CHECK(niti_f32_forward(cl, in, n, lc) == NITI_OK);
        } else {
            CHECK(niti_f32_train_step(ref, in, lab, n, 0.05f, (uint32_t)step, lr, &lsr) == NITI_OK);
            CHECK(niti_f32_train_step(cl, in, lab, n, 0.05f, (uint32_t)step, lc, &lsc) == NITI_OK);
        }
        double mx = 0, err = 0;
        for (int i = 0; i < n * C; i++) {
            if (fabs(lr[i]) > mx) mx = fabs(lr[i]);
            if (fabs(lr[i] - lc[i]) > err) err = fabs(lr[i] - lc[i]);
        }
        printf("step %d: max |logit| %.4g, max |ref - cl| %.3g, loss ref %.6f cl %.6f\n", step, mx,
               err, lsr / n, lsc / n);
        CHECK(mx > 0);
        CHECK(err <= 1e-4 * mx + 1e-6);
        CHECK(fabs(lsr - lsc) <= 1e-4 * fabs(lsr) + 1e-6);
    }
    /* The weights after the steps. */
    for (int l = 0; l < m->n_layers; l++) {
        size_t nw = 0;
        const float *wr = niti_f32_weights(ref, l, &nw), *wc = niti_f32_weights(cl, l, NULL);
        if (!wr) continue;
        double mx = 0, err = 0;
        for (size_t i = 0; i < nw; i++) {
            if (fabs(wr[i]) > mx) mx = fabs(wr[i]);
            if (fabs(wr[i] - wc[i]) > err) err = fabs(wr[i] - wc[i]);
        }
        CHECK(err <= 1e-4 * mx);
    }
    free(in);
    niti_f32_free(ref);
    niti_f32_free(cl);
    niti_model_free(m);
    return check_report("test_fp32 cl");
}

/* ---------------------------------------------------------------- mnist */

static int run_mnist(const char *dir, const char *device)
{
    niti_dataset train, test;
    memset(&train, 0, sizeof train);
    memset(&test, 0, sizeof test);
    if (niti_dataset_load(NITI_DATA_MNIST, dir, 1, &train) != NITI_OK) {
        printf("SKIP: no MNIST under %s: %s\n", dir, niti_last_error());
        return 77;
    }
    if (niti_dataset_load(NITI_DATA_MNIST, dir, 0, &test) != NITI_OK) {
        printf("SKIP: no MNIST test set under %s: %s\n", dir, niti_last_error());
        niti_dataset_free(&train);
        return 77;
    }
    int8_t tables[3][256];
    niti_dataset_input_tables(NITI_DATA_MNIST, tables);
    niti_f32_net *net = make_net(device, "lenet", 64, 0.5f, 0, 1);
    CHECK(net != NULL);
    if (!net) {
        niti_dataset_free(&train), niti_dataset_free(&test);
        return check_report("test_fp32 mnist");
    }
    printf("device: %s\n", niti_f32_device_name(net));
    const int ntrain = 2048, batch = 64, ntest = 1000, img = 28 * 28;
    int8_t *in = malloc((size_t)batch * img);
    int32_t idx[64], lab[64], *perm = malloc(sizeof(int32_t) * ntrain);
    float logits[64 * 10];
    double first_loss = 0, last_loss = 0;
    uint32_t t = 0;
    for (int ep = 0; ep < 2; ep++) {
        niti_shuffle(1, (uint32_t)ep, ntrain, perm);
        double ls_ep = 0;
        for (int s = 0; s < ntrain; s += batch, t++) {
            for (int i = 0; i < batch; i++) idx[i] = perm[s + i];
            niti_make_batch(&train, idx, batch, tables, NITI_AUGMENT_NONE, 0, 0, in, lab);
            double ls = 0;
            if (niti_f32_train_step(net, in, lab, batch, 0.01f, t, NULL, &ls) != NITI_OK) {
                fprintf(stderr, "train step: %s\n", niti_last_error());
                CHECK(0);
                goto done;
            }
            ls_ep += ls;
        }
        ls_ep /= ntrain;
        printf("epoch %d: train loss %.4f\n", ep + 1, ls_ep);
        if (ep == 0) first_loss = ls_ep;
        last_loss = ls_ep;
    }
    int correct = 0;
    for (int s = 0; s < ntest; s += batch) {
        int cnt = ntest - s < batch ? ntest - s : batch;
        for (int i = 0; i < cnt; i++) idx[i] = s + i;
        niti_make_batch(&test, idx, cnt, tables, NITI_AUGMENT_NONE, 0, 0, in, lab);
        CHECK(niti_f32_forward(net, in, cnt, logits) == NITI_OK);
        for (int i = 0; i < cnt; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++)
                if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
            correct += best == lab[i];
        }
    }
    printf("test accuracy on %d images: %.2f%%\n", ntest, 100.0 * correct / ntest);
    CHECK(last_loss < first_loss);
    CHECK(first_loss < log(10.0)); /* epoch 1 already learns */
    CHECK(correct * 2 > ntest);
done:
    free(in), free(perm);
    niti_f32_free(net);
    niti_dataset_free(&train), niti_dataset_free(&test);
    return check_report("test_fp32 mnist");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "unit";
    if (!strcmp(mode, "unit")) {
        test_sgemm();
        test_conv_forward();
        test_dropout();
        test_init();
        test_errors();
        return check_report("test_fp32 unit");
    }
    if (!strcmp(mode, "grad")) {
        /* Odd-sized maxpool (7 -> 3 drops the last row/column), padding, 1x1-free convs. */
        grad_check("input 7x7x2; conv 3 k3 p1; relu; maxpool 2; conv 4 k2 p0; relu; flatten; "
                   "linear 6; relu; linear 3",
                   3, 0);
        /* Dropout in training mode, a padded conv straight into flatten, 1x1 conv. */
        grad_check("input 4x4x3; conv 2 k1 p0; relu; conv 3 k3 p2; maxpool 2; flatten; dropout; "
                   "linear 5; relu; dropout; linear 4",
                   2, 1);
        return check_report("test_fp32 grad");
    }
    if (!strcmp(mode, "cl")) return run_cl();
    if (!strcmp(mode, "mnist")) {
        if (argc < 3) {
            fprintf(stderr, "usage: test_fp32 mnist DATA_DIR [DEVICE]\n");
            return 2;
        }
        return run_mnist(argv[2], argc > 3 ? argv[3] : "ref");
    }
    fprintf(stderr, "usage: test_fp32 unit | grad | cl | mnist DATA_DIR [DEVICE]\n");
    return 2;
}
