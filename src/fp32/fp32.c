/* The fp32 baseline (see fp32.h): the model's layer list trained in float with SGD + momentum +
 * L2 weight decay and softmax cross-entropy averaged over the batch.
 *
 * Like the integer network, the layer list has no biases: conv and linear layers are pure
 * weight products, so the float baseline has none either.
 *
 * Layout: activations and gradients NHWC on the host; conv weights [O,k,k,I], linear [O,F] (a
 * linear layer is a 1x1 conv over a 1x1 image with I = F). A conv is im2col + GEMM:
 *   forward  Y[M,O]  = col[M,K] * W[O,K]^T           (M = n*Ho*Wo, K = k*k*I)
 *   weights  dW[O,K] = dY[M,O]^T * col[M,K]
 *   data     dcol[M,K] = dY[M,O] * W[O,K], then col2im into dX
 * (1x1 convs without padding and linear layers use the input as col directly). The GEMMs run in
 * plain C (device "ref", fp32_gemm.c) or through CLBlast (fp32_cl.c); the rest runs on the host.
 *
 * Randomness comes from Philox (numerics.h): Xavier-uniform init from stream 5 with the mapping
 * of niti_net_init_xavier (float weights kept, no quantisation), and inverted dropout p = 1/2 with
 * one draw per element: keep = x0(seed, i = n*F + j, t, stream 2, tag = layer index) & 1, kept
 * values scaled by 2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fp32/fp32.h"
#include "fp32/fp32_internal.h"
#include "core/numerics.h"

typedef struct f32_layer {
    niti_layer_spec s;
    int k, pad;              /* conv geometry (linear: 1, 0) */
    int use_col;             /* 1 if the GEMM needs im2col */
    size_t nw;               /* weight count */
    float *W, *V, *dW;       /* weights, momentum buffer, last gradient */
    float *out;              /* owned output (conv, linear, maxpool, dropout) */
    int32_t *arg;            /* maxpool: input index of each output's maximum */
    uint8_t *mask;           /* dropout: keep bits of the last training pass */
    float *in_cur, *out_cur; /* what the last forward pass read and wrote */
} f32_layer;

struct niti_f32_net {
    niti_model_spec *model;
    niti_f32_cfg cfg;
    int max_batch, classes, nl;
    f32_layer *L;
    float *x;          /* the batch as floats */
    float *col;        /* im2col / dcol scratch */
    float *gA, *gB;    /* gradient ping-pong buffers */
    size_t in_elems;   /* per image */
    niti_f32_cl *cl;   /* NULL: plain C */
    char name[320];
};

static size_t in_elems(const niti_layer_spec *s) { return (size_t)s->in_h * s->in_w * s->in_c; }
static size_t out_elems(const niti_layer_spec *s)
{
    return (size_t)s->out_h * s->out_w * s->out_c;
}

static void *xcalloc(size_t n, size_t size, int *ok)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) *ok = 0;
    return p;
}

static niti_status gemm(niti_f32_net *net, int ta, int tb, int M, int N, int K, const float *A,
                        int lda, const float *B, int ldb, float *C, int ldc)
{
    if (net->cl) return niti_f32_cl_gemm(net->cl, ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
    niti_f32_sgemm_ref(ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
    return NITI_OK;
}

/* Xavier-uniform from Philox stream 5, the mapping of niti_net_init_xavier. */
static void init_xavier(niti_f32_net *net)
{
    for (int l = 0; l < net->nl; l++) {
        f32_layer *L = &net->L[l];
        if (!L->W) continue;
        double fan_in = (double)L->s.in_c * L->k * L->k;
        double fan_out = (double)L->s.out_ch * L->k * L->k;
        double bound = sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < L->nw; i++) {
            uint32_t x = niti_philox_x0(net->cfg.seed, (uint32_t)i, 0, NITI_STREAM_INIT,
                                        (uint32_t)l);
            L->W[i] = (float)((((double)(x >> 8) + 0.5) / 16777216.0 * 2.0 - 1.0) * bound);
        }
    }
}

niti_status niti_f32_create(const char *device, const niti_model_spec *m, int max_batch,
                            const niti_f32_cfg *cfg, niti_f32_net **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "fp32: no output pointer");
    *out = NULL;
    if (!m || m->n_layers <= 0) return niti_fail(NITI_ERR_INVALID, "fp32: empty model");
    if (max_batch <= 0 || max_batch > (1 << 20))
        return niti_fail(NITI_ERR_INVALID, "fp32: batch size %d is out of range (1..1048576)",
                         max_batch);
    if (!cfg) return niti_fail(NITI_ERR_INVALID, "fp32: no training configuration");
    if (!(cfg->lr >= 0) || !(cfg->momentum >= 0) || !(cfg->weight_decay >= 0))
        return niti_fail(NITI_ERR_INVALID,
                         "fp32: lr, momentum and weight decay must be >= 0 (got %g, %g, %g)",
                         (double)cfg->lr, (double)cfg->momentum, (double)cfg->weight_decay);
    niti_f32_net *net = calloc(1, sizeof *net);
    if (!net) return niti_fail(NITI_ERR_NOMEM, "fp32: network");
    net->cfg = *cfg;
    net->max_batch = max_batch;
    net->nl = m->n_layers;
    net->classes = niti_model_classes(m);
    niti_status st = niti_model_copy(m, &net->model);
    if (st != NITI_OK) {
        free(net);
        return st;
    }
    net->L = calloc((size_t)net->nl, sizeof *net->L);
    if (!net->L) {
        niti_f32_free(net);
        return niti_fail(NITI_ERR_NOMEM, "fp32: layers");
    }
    size_t N = (size_t)max_batch, col_max = 1, g_max = 1;
    net->in_elems = (size_t)m->in_h * m->in_w * m->in_c;
    int ok = 1;
    for (int l = 0; l < net->nl && ok; l++) {
        f32_layer *L = &net->L[l];
        L->s = m->layers[l];
        const niti_layer_spec *s = &L->s;
        size_t ie = in_elems(s), oe = out_elems(s);
        if (ie == 0 || oe == 0) {
            niti_f32_free(net);
            return niti_fail(NITI_ERR_INVALID, "fp32: layer %d has an empty shape", l);
        }
        if (N * ie > g_max) g_max = N * ie;
        if (N * oe > g_max) g_max = N * oe;
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            L->k = s->kind == NITI_LAYER_CONV ? s->k : 1;
            L->pad = s->kind == NITI_LAYER_CONV ? s->pad : 0;
            if (s->kind == NITI_LAYER_LINEAR && (s->in_h != 1 || s->in_w != 1)) {
                niti_f32_free(net);
                return niti_fail(NITI_ERR_INVALID,
                                 "fp32: layer %d (linear) needs a flattened input", l);
            }
            if (s->out_h != s->in_h + 2 * L->pad - L->k + 1 ||
                s->out_w != s->in_w + 2 * L->pad - L->k + 1 || s->out_c != s->out_ch) {
                niti_f32_free(net);
                return niti_fail(NITI_ERR_INVALID, "fp32: layer %d has inconsistent shapes", l);
            }
            size_t K = (size_t)L->k * L->k * s->in_c;
            size_t Mrows = N * (size_t)s->out_h * s->out_w;
            if (Mrows > 0x7fffffff || K > 0x7fffffff || (size_t)s->out_ch > 0x7fffffff) {
                niti_f32_free(net);
                return niti_fail(NITI_ERR_INVALID, "fp32: layer %d is too large for one GEMM",
                                 l);
            }
            L->use_col = !(L->k == 1 && L->pad == 0);
            if (L->use_col && Mrows * K > col_max) col_max = Mrows * K;
            L->nw = (size_t)niti_layer_params(s);
            L->W = xcalloc(L->nw, sizeof(float), &ok);
            L->V = xcalloc(L->nw, sizeof(float), &ok);
            L->dW = xcalloc(L->nw, sizeof(float), &ok);
            L->out = xcalloc(N * oe, sizeof(float), &ok);
            break;
        }
        case NITI_LAYER_MAXPOOL:
            L->out = xcalloc(N * oe, sizeof(float), &ok);
            L->arg = xcalloc(N * oe, sizeof(int32_t), &ok);
            break;
        case NITI_LAYER_DROPOUT:
            L->out = xcalloc(N * oe, sizeof(float), &ok);
            L->mask = xcalloc(N * oe, 1, &ok);
            break;
        case NITI_LAYER_RELU:
        case NITI_LAYER_FLATTEN:
            break;
        }
    }
    if (ok) {
        net->x = xcalloc(N * net->in_elems, sizeof(float), &ok);
        net->col = xcalloc(col_max, sizeof(float), &ok);
        net->gA = xcalloc(g_max, sizeof(float), &ok);
        net->gB = xcalloc(g_max, sizeof(float), &ok);
    }
    if (!ok) {
        niti_f32_free(net);
        return niti_fail(NITI_ERR_NOMEM, "fp32: buffers for batch %d", max_batch);
    }
    init_xavier(net);

    if (device && !strcmp(device, "ref")) {
        snprintf(net->name, sizeof net->name, "ref (plain C reference)");
    } else {
        st = niti_f32_cl_open(device, &net->cl, net->name, sizeof net->name);
        if (st != NITI_OK) {
            /* The default choice falls back to plain C when there is no usable OpenCL device
             * (or no CLBlast); an explicit device spec is an error. */
            if (!(device && *device) && st == NITI_ERR_UNSUPPORTED) {
                net->cl = NULL;
                snprintf(net->name, sizeof net->name, "ref (plain C reference)");
                niti_clear_error();
            } else {
                niti_f32_free(net);
                return niti_fail_ctx(st, "fp32");
            }
        }
    }
    *out = net;
    return NITI_OK;
}

void niti_f32_free(niti_f32_net *net)
{
    if (!net) return;
    niti_f32_cl_close(net->cl);
    if (net->L)
        for (int l = 0; l < net->nl; l++) {
            f32_layer *L = &net->L[l];
            free(L->W), free(L->V), free(L->dW), free(L->out), free(L->arg), free(L->mask);
        }
    free(net->L);
    free(net->x), free(net->col), free(net->gA), free(net->gB);
    niti_model_free(net->model);
    free(net);
}

const char *niti_f32_device_name(const niti_f32_net *net) { return net ? net->name : "none"; }

/* ---------------------------------------------------------------- layers */

/* col[(n,y,x), (ky,kx,i)] = in[n, y+ky-p, x+kx-p, i] (0 outside). */
static void im2col(const f32_layer *L, int n, const float *in, float *col)
{
    const niti_layer_spec *s = &L->s;
    int H = s->in_h, W = s->in_w, I = s->in_c, k = L->k, p = L->pad;
    int Ho = s->out_h, Wo = s->out_w;
    size_t K = (size_t)k * k * I;
    for (int b = 0; b < n; b++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++) {
                float *row = col + (((size_t)b * Ho + y) * Wo + x) * K;
                for (int ky = 0; ky < k; ky++) {
                    int iy = y + ky - p;
                    float *dst = row + (size_t)ky * k * I;
                    if (iy < 0 || iy >= H) {
                        memset(dst, 0, sizeof(float) * (size_t)k * I);
                        continue;
                    }
                    for (int kx = 0; kx < k; kx++) {
                        int ix = x + kx - p;
                        float *d = dst + (size_t)kx * I;
                        if (ix < 0 || ix >= W) memset(d, 0, sizeof(float) * (size_t)I);
                        else memcpy(d, in + (((size_t)b * H + iy) * W + ix) * I,
                                    sizeof(float) * (size_t)I);
                    }
                }
            }
}

/* dx[n, y+ky-p, x+kx-p, i] += dcol[(n,y,x), (ky,kx,i)]; dx is zeroed first. */
static void col2im(const f32_layer *L, int n, const float *col, float *dx)
{
    const niti_layer_spec *s = &L->s;
    int H = s->in_h, W = s->in_w, I = s->in_c, k = L->k, p = L->pad;
    int Ho = s->out_h, Wo = s->out_w;
    size_t K = (size_t)k * k * I;
    memset(dx, 0, sizeof(float) * (size_t)n * H * W * I);
    for (int b = 0; b < n; b++)
        for (int y = 0; y < Ho; y++)
            for (int x = 0; x < Wo; x++) {
                const float *row = col + (((size_t)b * Ho + y) * Wo + x) * K;
                for (int ky = 0; ky < k; ky++) {
                    int iy = y + ky - p;
                    if (iy < 0 || iy >= H) continue;
                    for (int kx = 0; kx < k; kx++) {
                        int ix = x + kx - p;
                        if (ix < 0 || ix >= W) continue;
                        const float *src = row + ((size_t)ky * k + kx) * I;
                        float *d = dx + (((size_t)b * H + iy) * W + ix) * I;
                        for (int i = 0; i < I; i++) d[i] += src[i];
                    }
                }
            }
}

static niti_status forward(niti_f32_net *net, int n, int training, uint32_t t)
{
    float *cur = net->x;
    for (int l = 0; l < net->nl; l++) {
        f32_layer *L = &net->L[l];
        const niti_layer_spec *s = &L->s;
        size_t cnt = (size_t)n * out_elems(s);
        L->in_cur = cur;
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            int M = n * s->out_h * s->out_w, K = L->k * L->k * s->in_c;
            const float *A = cur;
            if (L->use_col) {
                im2col(L, n, cur, net->col);
                A = net->col;
            }
            niti_status st = gemm(net, 0, 1, M, s->out_ch, K, A, K, L->W, K, L->out, s->out_ch);
            if (st != NITI_OK) return niti_fail_ctx(st, "fp32 layer %d forward", l);
            cur = L->out;
            break;
        }
        case NITI_LAYER_RELU: /* in place: the backward mask out > 0 equals in > 0 */
            for (size_t i = 0; i < cnt; i++)
                if (!(cur[i] > 0)) cur[i] = 0;
            break;
        case NITI_LAYER_MAXPOOL: {
            int H = s->in_h, W = s->in_w, C = s->in_c, Ho = s->out_h, Wo = s->out_w;
            for (int b = 0; b < n; b++)
                for (int y = 0; y < Ho; y++)
                    for (int x = 0; x < Wo; x++)
                        for (int c = 0; c < C; c++) {
                            size_t o = (((size_t)b * Ho + y) * Wo + x) * C + c;
                            size_t best = (((size_t)b * H + 2 * y) * W + 2 * x) * C + c;
                            for (int d = 1; d < 4; d++) {
                                size_t i = (((size_t)b * H + 2 * y + d / 2) * W + 2 * x + d % 2) *
                                               C + c;
                                if (cur[i] > cur[best]) best = i; /* first maximum wins */
                            }
                            L->out[o] = cur[best];
                            L->arg[o] = (int32_t)best;
                        }
            cur = L->out;
            break;
        }
        case NITI_LAYER_FLATTEN: /* NHWC: (h, w, c) order is the memory order */
            break;
        case NITI_LAYER_DROPOUT:
            if (!training) break;
            {
                size_t F = out_elems(s);
                for (int b = 0; b < n; b++)
                    for (size_t j = 0; j < F; j++) {
                        size_t i = (size_t)b * F + j;
                        uint8_t keep = (uint8_t)(niti_philox_x0(net->cfg.seed, (uint32_t)i, t,
                                                                NITI_STREAM_DROPOUT,
                                                                (uint32_t)l) & 1u);
                        L->mask[i] = keep;
                        L->out[i] = keep ? 2.0f * cur[i] : 0.0f;
                    }
                cur = L->out;
            }
            break;
        }
        L->out_cur = cur;
    }
    return NITI_OK;
}

/* Softmax cross-entropy: loss sum over the batch; g = d(mean loss)/dlogits. */
static niti_status loss_grad(niti_f32_net *net, int n, const int32_t *labels, double *loss_sum,
                             float *g)
{
    int C = net->classes;
    const float *o = net->L[net->nl - 1].out_cur;
    double ls = 0;
    for (int b = 0; b < n; b++) {
        int y = labels[b];
        if (y < 0 || y >= C)
            return niti_fail(NITI_ERR_INVALID, "fp32: label %d of image %d is outside 0..%d", y,
                             b, C - 1);
        const float *ob = o + (size_t)b * C;
        float *gb = g + (size_t)b * C;
        double mx = ob[0], sum = 0;
        for (int c = 1; c < C; c++)
            if (ob[c] > mx) mx = ob[c];
        for (int c = 0; c < C; c++) sum += exp((double)ob[c] - mx);
        double lse = mx + log(sum);
        ls += lse - ob[y];
        for (int c = 0; c < C; c++) {
            double p = exp((double)ob[c] - lse);
            gb[c] = (float)((p - (c == y)) / n);
        }
    }
    if (!isfinite(ls))
        return niti_fail(NITI_ERR_RANGE, "fp32: the loss is not finite (training diverged; try a "
                                         "smaller --lr)");
    if (loss_sum) *loss_sum = ls;
    return NITI_OK;
}

/* Backward from g = dloss/dlogits (in net->gA). Weight gradients into L->dW. If dx is not NULL
 * the gradient is carried down to the input and copied there. */
static niti_status backward(niti_f32_net *net, int n, float *dx)
{
    int first = 0; /* the lowest layer that must pass a gradient down */
    if (!dx)
        for (first = 0; first < net->nl; first++)
            if (net->L[first].W) break;
    float *g = net->gA, *other = net->gB;
    for (int l = net->nl - 1; l >= 0; l--) {
        f32_layer *L = &net->L[l];
        const niti_layer_spec *s = &L->s;
        size_t cnt = (size_t)n * out_elems(s);
        int pass_down = l > first || (dx && l == 0);
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            int M = n * s->out_h * s->out_w, K = L->k * L->k * s->in_c, O = s->out_ch;
            const float *A = L->in_cur;
            if (L->use_col) {
                im2col(L, n, L->in_cur, net->col); /* the scratch was reused since forward */
                A = net->col;
            }
            niti_status st = gemm(net, 1, 0, O, K, M, g, O, A, K, L->dW, K);
            if (st != NITI_OK) return niti_fail_ctx(st, "fp32 layer %d weight gradient", l);
            if (pass_down) {
                float *dst = L->use_col ? net->col : other;
                st = gemm(net, 0, 0, M, K, O, g, O, L->W, K, dst, K);
                if (st != NITI_OK) return niti_fail_ctx(st, "fp32 layer %d data gradient", l);
                if (L->use_col) col2im(L, n, net->col, other);
                float *t = g;
                g = other, other = t;
            }
            break;
        }
        case NITI_LAYER_RELU:
            for (size_t i = 0; i < cnt; i++)
                if (!(L->out_cur[i] > 0)) g[i] = 0;
            break;
        case NITI_LAYER_MAXPOOL: {
            if (!pass_down) break;
            memset(other, 0, sizeof(float) * (size_t)n * in_elems(s));
            for (size_t i = 0; i < cnt; i++) other[L->arg[i]] = g[i];
            float *t = g;
            g = other, other = t;
            break;
        }
        case NITI_LAYER_FLATTEN:
            break;
        case NITI_LAYER_DROPOUT:
            if (L->out_cur != L->in_cur)
                for (size_t i = 0; i < cnt; i++) g[i] = L->mask[i] ? 2.0f * g[i] : 0.0f;
            break;
        }
        if (l <= first && !dx) break;
    }
    if (dx) memcpy(dx, g, sizeof(float) * (size_t)n * net->in_elems);
    return NITI_OK;
}

static void sgd(niti_f32_net *net, float lr)
{
    float mom = net->cfg.momentum, wd = net->cfg.weight_decay;
    for (int l = 0; l < net->nl; l++) {
        f32_layer *L = &net->L[l];
        if (!L->W) continue;
        for (size_t i = 0; i < L->nw; i++) {
            float gi = L->dW[i] + wd * L->W[i];
            L->V[i] = mom * L->V[i] + gi;
            L->W[i] -= lr * L->V[i];
        }
    }
}

static niti_status check_batch(const niti_f32_net *net, int n)
{
    if (!net) return niti_fail(NITI_ERR_INVALID, "fp32: no network");
    if (n <= 0 || n > net->max_batch)
        return niti_fail(NITI_ERR_INVALID, "fp32: batch of %d images (this network holds 1..%d)",
                         n, net->max_batch);
    return NITI_OK;
}

static void load_inputs(niti_f32_net *net, const int8_t *inputs, int n)
{
    size_t cnt = (size_t)n * net->in_elems;
    const float scale = 1.0f / 32.0f; /* x = V * 2^-5 (NITI_INPUT_EXP) */
    for (size_t i = 0; i < cnt; i++) net->x[i] = (float)inputs[i] * scale;
}

static void copy_logits(const niti_f32_net *net, int n, float *logits)
{
    if (logits)
        memcpy(logits, net->L[net->nl - 1].out_cur, sizeof(float) * (size_t)n * net->classes);
}

niti_status niti_f32_train_step(niti_f32_net *net, const int8_t *inputs, const int32_t *labels,
                                int n, float lr, uint32_t t, float *logits_out,
                                double *loss_sum)
{
    NITI_TRY(check_batch(net, n));
    if (!(lr >= 0) || !isfinite(lr))
        return niti_fail(NITI_ERR_INVALID, "fp32: learning rate %g", (double)lr);
    load_inputs(net, inputs, n);
    NITI_TRY(forward(net, n, 1, t));
    NITI_TRY(loss_grad(net, n, labels, loss_sum, net->gA));
    copy_logits(net, n, logits_out); /* before backward: relu masks edit nothing of them */
    NITI_TRY(backward(net, n, NULL));
    sgd(net, lr);
    return NITI_OK;
}

niti_status niti_f32_forward(niti_f32_net *net, const int8_t *inputs, int n, float *logits_out)
{
    NITI_TRY(check_batch(net, n));
    load_inputs(net, inputs, n);
    NITI_TRY(forward(net, n, 0, 0));
    copy_logits(net, n, logits_out);
    return NITI_OK;
}

/* ---------------------------------------------------------------- test hooks */

niti_status niti_f32_grad_f(niti_f32_net *net, const float *x, const int32_t *labels, int n,
                            int training, uint32_t t, double *loss_mean, float *dx,
                            float *logits)
{
    NITI_TRY(check_batch(net, n));
    memcpy(net->x, x, sizeof(float) * (size_t)n * net->in_elems);
    NITI_TRY(forward(net, n, training, t));
    double ls = 0;
    NITI_TRY(loss_grad(net, n, labels, &ls, net->gA));
    copy_logits(net, n, logits);
    if (loss_mean) *loss_mean = ls / n;
    return backward(net, n, dx);
}

niti_status niti_f32_forward_f(niti_f32_net *net, const float *x, int n, float *logits)
{
    NITI_TRY(check_batch(net, n));
    memcpy(net->x, x, sizeof(float) * (size_t)n * net->in_elems);
    NITI_TRY(forward(net, n, 0, 0));
    copy_logits(net, n, logits);
    return NITI_OK;
}

float *niti_f32_weights(niti_f32_net *net, int layer, size_t *count)
{
    if (!net || layer < 0 || layer >= net->nl || !net->L[layer].W) return NULL;
    if (count) *count = net->L[layer].nw;
    return net->L[layer].W;
}

const float *niti_f32_weight_grad(const niti_f32_net *net, int layer)
{
    if (!net || layer < 0 || layer >= net->nl) return NULL;
    return net->L[layer].dW;
}

float *niti_f32_momentum(niti_f32_net *net, int layer, size_t *count)
{
    if (!net || layer < 0 || layer >= net->nl || !net->L[layer].V) return NULL;
    if (count) *count = net->L[layer].nw;
    return net->L[layer].V;
}

const niti_model_spec *niti_f32_model(const niti_f32_net *net) { return net ? net->model : NULL; }
