/* A network on a backend and its training step (see net.h). Written once, against backend.h.
 *
 * Buffers (all allocated once, for max_batch images):
 *   input            int8 [N,H,W,C]               the batch, exponent e0 = -5
 *   out[l]           int8 output of layer l       conv/linear/maxpool/dropout own one; relu
 *                                                 works in place (relu_bwd only needs Y > 0,
 *                                                 which equals A > 0); flatten aliases its input
 *   argmax[l]        u8 for maxpool layers
 *   acc              int32/int64 scratch shared by every forward and error accumulator; dead
 *                    while a weight gradient is computed, so conv_wgrad may use it as work space
 *   G                int64 scratch shared by every weight gradient (update follows at once)
 *   eA, eB           int8 ping-pong error buffers;  err/q: the loss output
 *   sat              int64 per layer: saturation counts, made on the device (transient outputs
 *                    during the forward pass, the others when asked)
 * Transient outputs: a conv/linear layer followed by relu and maxpool (with a weight layer
 * somewhere after the pool) writes its output into eA, which no error occupies during the
 * forward pass: only the pool reads it, and the backward pass needs it only for the ReLU mask,
 * which equals (pool output > 0) at the routed positions. So the pool's backward first masks
 * its error with its own output (relu_bwd on the pool output), then routes it, and the relu's
 * backward is skipped: the same values, without keeping the layer's output (VGG-small-7 at
 * batch 256: 59 MB less). Its saturation is counted on the device before the pool reads it.
 *   scalars          int32 slots: per layer l: [3l] forward shift, [3l+1] error shift,
 *                    [3l+2] sum of forward shifts up to l; the last slot holds the loss's e.
 * Exponents: out_exp = e0 + sum(weight exponents) + sum(shifts) + (#dropout in training); the
 * shift sum is kept on the device, so a step needs no host round trip. */
#include "core/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/comm.h"
#include "core/error.h"
#include "core/numerics.h"

typedef struct net_layer {
    niti_layer_spec spec;
    niti_conv_geom geom;  /* for conv/linear at max_batch */
    niti_dtype acc_fwd, acc_err;
    int weight_exp;
    int sends_error;      /* conv/linear with a weight layer before it */
    niti_buf *W, *M;      /* weights, 16-bit master weights (optional) */
    niti_buf *out;        /* owned output buffer, or NULL */
    niti_buf *argmax;
    int transient;        /* conv/linear whose output feeds relu -> maxpool only: see below */
    int fused_relu;       /* relu / maxpool of such a pattern (backward: mask at the pool) */
    niti_buf *in_cur;     /* the buffer this layer read in the last forward pass */
    niti_buf *out_cur;    /* the buffer it wrote */
} net_layer;

struct niti_net {
    niti_backend *be;
    niti_model_spec model; /* deep copy */
    niti_train_cfg cfg;
    int max_batch, classes;
    net_layer *L;
    niti_buf *input, *labels, *acc, *G, *eA, *eB, *err, *q, *scalars, *sat;
    size_t g_off; /* > 0: G is acc's bytes from g_off on (a view made for each layer) */
    int n_slots;
    int32_t *host_scalars;
    int last_n;
    int trained; /* 1 if the last pass was a training step (q/err valid) */
    /* Data-parallel training (niti_net_set_comm; see "Several processes" below). */
    niti_comm *comm;       /* NULL: one process */
    int global_max;        /* the largest global batch */
    int last_n_global;     /* the global batch of the last pass */
    niti_buf *g_logits, *g_labels, *g_q, *g_err; /* the whole batch's loss */
    int8_t *h_logits;      /* the whole batch's logits (global_max x classes) */
    int8_t *h_slice;       /* this rank's logits or errors (max_batch x classes) */
    int64_t *h_g;          /* a weight gradient on its way through the all-reduce */
    int32_t *h_g32;        /* the same, when the contract's bound lets it travel as int32 */
    int *counts;           /* per rank: bytes of the logits gather */
    niti_comm_stats stats;
};

static int distributed(const niti_net *net) { return net->comm != NULL; }

void niti_train_cfg_default(niti_train_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->rule = NITI_RULE_NITI21;
    cfg->act_round = NITI_ROUND;
    cfg->err_round = NITI_ROUND;
    cfg->seed = 0;
}

static size_t layer_in_elems(const niti_layer_spec *l)
{
    return (size_t)l->in_h * l->in_w * l->in_c;
}
static size_t layer_out_elems(const niti_layer_spec *l)
{
    return (size_t)l->out_h * l->out_w * l->out_c;
}

static niti_status copy_model(niti_model_spec *dst, const niti_model_spec *src)
{
    *dst = *src;
    dst->layers = malloc(sizeof(niti_layer_spec) * (size_t)src->n_layers);
    dst->canonical = strdup(src->canonical ? src->canonical : "");
    dst->name = strdup(src->name ? src->name : "custom");
    if (!dst->layers || !dst->canonical || !dst->name) {
        free(dst->layers), free(dst->canonical), free(dst->name);
        memset(dst, 0, sizeof *dst);
        return niti_fail(NITI_ERR_NOMEM, "copying the model spec");
    }
    memcpy(dst->layers, src->layers, sizeof(niti_layer_spec) * (size_t)src->n_layers);
    return NITI_OK;
}

#define ALLOC(bytes, what, dst)                                                                    \
    do {                                                                                           \
        niti_status s_ = be->ops->alloc(be, (bytes), (what), (dst));                               \
        if (s_ != NITI_OK) {                                                                       \
            niti_net_free(net);                                                                    \
            return s_;                                                                             \
        }                                                                                          \
    } while (0)

/* G lives at the end of acc when acc is at least twice its size: acc is dead from the
 * requantisation of a layer's error until the next layer's conv_dgrad, and G is live only from
 * that layer's conv_wgrad to its update. conv_wgrad gets the part before G as work space. */
void niti_net_acc_plan(const niti_model_spec *m, int max_batch, size_t *acc_bytes,
                       size_t *g_bytes, size_t *g_off)
{
    size_t N = (size_t)max_batch, acc = 0, g = 8;
    int seen_weights = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const niti_layer_spec *s = &m->layers[l];
        if (s->kind != NITI_LAYER_CONV && s->kind != NITI_LAYER_LINEAR) continue;
        int k = s->kind == NITI_LAYER_CONV ? s->k : 1;
        niti_dtype tf = niti_acc_dtype((int64_t)k * k * s->in_c);
        niti_dtype te = niti_acc_dtype((int64_t)k * k * s->out_ch);
        size_t a = N * layer_out_elems(s) * niti_dtype_size(tf);
        if (a > acc) acc = a;
        if (seen_weights) {
            a = N * layer_in_elems(s) * niti_dtype_size(te);
            if (a > acc) acc = a;
        }
        seen_weights = 1;
        if ((size_t)niti_layer_params(s) * 8 > g) g = (size_t)niti_layer_params(s) * 8;
    }
    size_t g_space = (g + NITI_VIEW_ALIGN - 1) / NITI_VIEW_ALIGN * NITI_VIEW_ALIGN;
    *acc_bytes = acc;
    *g_bytes = g;
    *g_off = acc >= 2 * g_space ? (acc - g) / NITI_VIEW_ALIGN * NITI_VIEW_ALIGN : 0;
}

niti_status niti_net_create(niti_backend *be, const niti_model_spec *m, int max_batch,
                            const niti_train_cfg *cfg, niti_net **out)
{
    if (max_batch <= 0 || max_batch > (1 << 20))
        return niti_fail(NITI_ERR_INVALID, "batch size %d is out of range (1..1048576)", max_batch);
    if (!m || m->n_layers <= 0) return niti_fail(NITI_ERR_INVALID, "empty model");
    niti_net *net = calloc(1, sizeof *net);
    if (!net) return niti_fail(NITI_ERR_NOMEM, "network");
    net->be = be;
    net->max_batch = max_batch;
    if (cfg) net->cfg = *cfg;
    else niti_train_cfg_default(&net->cfg);
    if (net->cfg.rule == NITI_RULE_NITI20) net->cfg.act_round = net->cfg.err_round = NITI_PSR;
    niti_status st = copy_model(&net->model, m);
    if (st != NITI_OK) {
        free(net);
        return st;
    }
    int nl = m->n_layers;
    net->L = calloc((size_t)nl, sizeof(net_layer));
    net->n_slots = 3 * nl + 1;
    net->host_scalars = calloc((size_t)net->n_slots, sizeof(int32_t));
    if (!net->L || !net->host_scalars) {
        niti_net_free(net);
        return niti_fail(NITI_ERR_NOMEM, "network layers");
    }
    net->classes = niti_model_classes(m);

    size_t N = (size_t)max_batch;
    size_t err_elems = (size_t)net->classes;
    int seen_weights = 0;
    char what[96];
    /* Transient outputs (see the top of this file). */
    for (int l = 0; l + 2 < nl; l++) {
        if ((m->layers[l].kind != NITI_LAYER_CONV && m->layers[l].kind != NITI_LAYER_LINEAR) ||
            m->layers[l + 1].kind != NITI_LAYER_RELU || m->layers[l + 2].kind != NITI_LAYER_MAXPOOL)
            continue;
        int later_weights = 0;
        for (int j = l + 3; j < nl; j++)
            later_weights |= m->layers[j].kind == NITI_LAYER_CONV ||
                             m->layers[j].kind == NITI_LAYER_LINEAR;
        if (!later_weights) continue;
        net->L[l].transient = 1;
        net->L[l + 1].fused_relu = net->L[l + 2].fused_relu = 1;
    }
    for (int l = 0; l < nl; l++) {
        net_layer *L = &net->L[l];
        L->spec = m->layers[l];
        const niti_layer_spec *s = &L->spec;
        size_t in_e = layer_in_elems(s), out_e = layer_out_elems(s);
        if (in_e > err_elems) err_elems = in_e;
        if (out_e > err_elems) err_elems = out_e;
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            int k = s->kind == NITI_LAYER_CONV ? s->k : 1;
            int pad = s->kind == NITI_LAYER_CONV ? s->pad : 0;
            st = niti_conv_geom_init(&L->geom, max_batch, s->in_h, s->in_w, s->in_c, s->out_ch,
                                     k, pad);
            if (st != NITI_OK) {
                niti_net_free(net);
                return niti_fail_ctx(st, "layer %d", l);
            }
            L->acc_fwd = niti_acc_dtype((int64_t)k * k * s->in_c);
            L->acc_err = niti_acc_dtype((int64_t)k * k * s->out_ch);
            L->sends_error = seen_weights;
            seen_weights = 1;
            size_t nw = (size_t)niti_layer_params(s);
            snprintf(what, sizeof what, "layer %d weights", l);
            ALLOC(nw, what, &L->W);
            if (net->cfg.master16) {
                snprintf(what, sizeof what, "layer %d master weights", l);
                ALLOC(nw * 2, what, &L->M);
            }
            if (!L->transient) {
                snprintf(what, sizeof what, "layer %d output", l);
                ALLOC(N * out_e, what, &L->out);
            }
            break;
        }
        case NITI_LAYER_MAXPOOL:
            snprintf(what, sizeof what, "layer %d output", l);
            ALLOC(N * out_e, what, &L->out);
            snprintf(what, sizeof what, "layer %d pool argmax", l);
            ALLOC(N * out_e, what, &L->argmax);
            break;
        case NITI_LAYER_DROPOUT:
            snprintf(what, sizeof what, "layer %d output", l);
            ALLOC(N * out_e, what, &L->out);
            break;
        case NITI_LAYER_RELU:
        case NITI_LAYER_FLATTEN:
            break;
        }
    }
    size_t in_bytes = N * (size_t)m->in_h * m->in_w * m->in_c;
    ALLOC(in_bytes, "input batch", &net->input);
    ALLOC(N * sizeof(int32_t), "labels", &net->labels);
    size_t acc_bytes, g_bytes;
    niti_net_acc_plan(m, max_batch, &acc_bytes, &g_bytes, &net->g_off);
    ALLOC(acc_bytes ? acc_bytes : 8, "accumulators", &net->acc);
    if (!net->g_off) ALLOC(g_bytes, "weight gradients", &net->G);
    ALLOC(N * err_elems, "errors A", &net->eA);
    ALLOC(N * err_elems, "errors B", &net->eB);
    ALLOC(N * (size_t)net->classes, "loss error", &net->err);
    ALLOC(N * (size_t)net->classes * 8, "loss q", &net->q);
    ALLOC((size_t)net->n_slots * sizeof(int32_t), "scalars", &net->scalars);
    ALLOC((size_t)nl * 8, "saturation counts", &net->sat);
    *out = net;
    return NITI_OK;
}

void niti_net_free(niti_net *net)
{
    if (!net) return;
    niti_backend *be = net->be;
    if (net->L) {
        for (int l = 0; l < net->model.n_layers; l++) {
            net_layer *L = &net->L[l];
            be->ops->release(be, L->W);
            be->ops->release(be, L->M);
            be->ops->release(be, L->out);
            be->ops->release(be, L->argmax);
        }
    }
    niti_buf *bufs[] = {net->G,  net->input, net->labels, net->acc,    net->eA,
                        net->eB, net->err,     net->q,     net->scalars, net->sat};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->release(be, bufs[i]);
    niti_net_set_comm(net, NULL, 0);
    free(net->L);
    free(net->host_scalars);
    free(net->model.layers);
    free(net->model.canonical);
    free(net->model.name);
    free(net);
}

const niti_model_spec *niti_net_model(const niti_net *net) { return &net->model; }
niti_backend *niti_net_backend(const niti_net *net) { return net->be; }

/* ---- Several processes (data-parallel training) ----
 * With a communicator of size R > 1 every process holds the same weights and takes its slice of
 * each global batch (niti_batch_slice). Everything that depends on the whole batch is made
 * global, so that every rank computes exactly what one process computes on the whole batch:
 *   - each requantisation's shift comes from the maximum over the whole tensor: the local
 *     maximum (backend max_abs), the maximum over the ranks (comm max_u64), then requant with
 *     that maximum given; the shifts and exponents are then known on the host;
 *   - the loss runs on the whole batch on every rank (its stochastic rounding draws Philox
 *     with the sample's index in the whole batch): the logits of all ranks are gathered (int8,
 *     N x classes), and each rank keeps its own rows of the error;
 *   - each weight gradient is summed over the ranks (exact integers; int32 on the wire where
 *     the contract's bound allows, else int64) before the update, which then sees the whole
 *     batch's gradient and its maximum; dropout masks are shared by the batch already.
 * This costs a host round trip per requantisation and per weight gradient; one process keeps
 * the step on the device with one synchronisation (comm NULL or of size 1). */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static niti_status comm_done(niti_net *net, niti_status st, double t0, size_t bytes,
                             const char *what)
{
    net->stats.seconds += wall_s() - t0;
    net->stats.calls++;
    net->stats.bytes += bytes;
    if (st != NITI_OK) return niti_fail_ctx(st, "%s", what);
    return NITI_OK;
}

static niti_status comm_max(niti_net *net, uint64_t *v, size_t n, const char *what)
{
    double t0 = wall_s();
    return comm_done(net, net->comm->max_u64(net->comm, v, n), t0, n * 8, what);
}

static niti_status comm_sum64(niti_net *net, int64_t *v, size_t n, const char *what)
{
    double t0 = wall_s();
    return comm_done(net, net->comm->sum_i64(net->comm, v, n), t0, n * 8, what);
}

static niti_status comm_sum32(niti_net *net, int32_t *v, size_t n, const char *what)
{
    double t0 = wall_s();
    return comm_done(net, net->comm->sum_i32(net->comm, v, n), t0, n * 4, what);
}

static void release_dist(niti_net *net)
{
    niti_backend *be = net->be;
    niti_buf *bufs[] = {net->g_logits, net->g_labels, net->g_q, net->g_err};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) be->ops->release(be, bufs[i]);
    net->g_logits = net->g_labels = net->g_q = net->g_err = NULL;
    free(net->h_logits), free(net->h_slice), free(net->h_g), free(net->h_g32), free(net->counts);
    net->h_logits = net->h_slice = NULL;
    net->h_g = NULL;
    net->h_g32 = NULL;
    net->counts = NULL;
    net->comm = NULL;
    net->global_max = 0;
}

niti_status niti_net_set_comm(niti_net *net, niti_comm *comm, int global_max_batch)
{
    release_dist(net);
    memset(&net->stats, 0, sizeof net->stats);
    if (!comm || comm->size <= 1) return NITI_OK;
    int first, most;
    niti_batch_slice(global_max_batch, 0, comm->size, &first, &most);
    if (global_max_batch <= 0 || most > net->max_batch)
        return niti_fail(NITI_ERR_INVALID, "a global batch of %d split over %d processes needs "
                         "slices of %d images; this network holds %d", global_max_batch,
                         comm->size, most, net->max_batch);
    niti_backend *be = net->be;
    size_t C = (size_t)net->classes, G = (size_t)global_max_batch, np = 1;
    for (int l = 0; l < net->model.n_layers; l++)
        if (net->L[l].W && (size_t)niti_layer_params(&net->L[l].spec) > np)
            np = (size_t)niti_layer_params(&net->L[l].spec);
    niti_status st = be->ops->alloc(be, G * C, "whole-batch logits", &net->g_logits);
    if (st == NITI_OK) st = be->ops->alloc(be, G * 4, "whole-batch labels", &net->g_labels);
    if (st == NITI_OK) st = be->ops->alloc(be, G * C * 8, "whole-batch loss q", &net->g_q);
    if (st == NITI_OK) st = be->ops->alloc(be, G * C, "whole-batch loss error", &net->g_err);
    if (st != NITI_OK) {
        release_dist(net);
        return st;
    }
    net->h_logits = malloc(G * C);
    net->h_slice = malloc((size_t)net->max_batch * C);
    net->h_g = malloc(np * 8);
    net->h_g32 = malloc(np * 4);
    net->counts = malloc(sizeof(int) * (size_t)comm->size);
    if (!net->h_logits || !net->h_slice || !net->h_g || !net->h_g32 || !net->counts) {
        release_dist(net);
        return niti_fail(NITI_ERR_NOMEM, "buffers of the data-parallel step");
    }
    net->comm = comm;
    net->global_max = global_max_batch;
    return NITI_OK;
}

void niti_net_comm_stats(const niti_net *net, niti_comm_stats *out) { *out = net->stats; }
const niti_comm *niti_net_comm(const niti_net *net) { return net->comm; }

static niti_status weight_layer(niti_net *net, int layer, net_layer **out)
{
    if (layer < 0 || layer >= net->model.n_layers || !net->L[layer].W)
        return niti_fail(NITI_ERR_INVALID, "layer %d has no weights", layer);
    *out = &net->L[layer];
    return NITI_OK;
}

niti_status niti_net_set_weights(niti_net *net, int layer, const int8_t *w, int exp)
{
    net_layer *L = NULL;
    NITI_TRY(weight_layer(net, layer, &L));
    size_t n = (size_t)niti_layer_params(&L->spec);
    for (size_t i = 0; i < n; i++)
        if (w[i] < -127)
            return niti_fail(NITI_ERR_RANGE, "layer %d weight %zu is %d (weights are in [-127, 127])",
                             layer, i, w[i]);
    NITI_TRY(net->be->ops->upload(net->be, L->W, 0, w, n));
    L->weight_exp = exp;
    if (L->M) {
        int16_t *m = malloc(n * sizeof *m);
        if (!m) return niti_fail(NITI_ERR_NOMEM, "master weights");
        for (size_t i = 0; i < n; i++) m[i] = (int16_t)(w[i] * 256);
        niti_status s = net->be->ops->upload(net->be, L->M, 0, m, n * sizeof *m);
        free(m);
        return s;
    }
    return NITI_OK;
}

niti_status niti_net_get_weights(niti_net *net, int layer, int8_t *w, int *exp)
{
    net_layer *L = NULL;
    NITI_TRY(weight_layer(net, layer, &L));
    if (exp) *exp = L->weight_exp;
    return net->be->ops->download(net->be, L->W, 0, w, (size_t)niti_layer_params(&L->spec));
}

niti_status niti_net_set_master(niti_net *net, int layer, const int16_t *m)
{
    net_layer *L = NULL;
    NITI_TRY(weight_layer(net, layer, &L));
    if (!L->M) return niti_fail(NITI_ERR_INVALID, "the network has no 16-bit master weights");
    size_t n = (size_t)niti_layer_params(&L->spec);
    for (size_t i = 0; i < n; i++)
        if (m[i] < -32512 || m[i] > 32512)
            return niti_fail(NITI_ERR_RANGE, "layer %d master weight %zu is %d (range +-32512)",
                             layer, i, m[i]);
    return net->be->ops->upload(net->be, L->M, 0, m, n * sizeof *m);
}

niti_status niti_net_get_master(niti_net *net, int layer, int16_t *m)
{
    net_layer *L = NULL;
    NITI_TRY(weight_layer(net, layer, &L));
    if (!L->M) return niti_fail(NITI_ERR_INVALID, "the network has no 16-bit master weights");
    return net->be->ops->download(net->be, L->M, 0, m,
                                  (size_t)niti_layer_params(&L->spec) * sizeof *m);
}

/* Section 11. Uniform floats from Philox stream 5: element e of layer l draws
 * x0 = philox(counter (e, 0, 5, l), key seed) and w = ((x0 >> 8) + 0.5) / 2^24 * 2b - b. */
niti_status niti_net_init_xavier(niti_net *net, uint64_t seed)
{
    for (int l = 0; l < net->model.n_layers; l++) {
        net_layer *L = &net->L[l];
        if (!L->W) continue;
        const niti_layer_spec *s = &L->spec;
        int k = s->kind == NITI_LAYER_CONV ? s->k : 1;
        double fan_in = (double)s->in_c * k * k, fan_out = (double)s->out_ch * k * k;
        double bound = sqrt(6.0 / (fan_in + fan_out));
        size_t n = (size_t)niti_layer_params(s);
        double *f = malloc(n * sizeof *f);
        int8_t *w = malloc(n);
        if (!f || !w) {
            free(f), free(w);
            return niti_fail(NITI_ERR_NOMEM, "initialising layer %d", l);
        }
        double mx = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = niti_philox_x0(seed, (uint32_t)i, 0, NITI_STREAM_INIT, (uint32_t)l);
            f[i] = (((double)(x >> 8) + 0.5) / 16777216.0 * 2.0 - 1.0) * bound;
            if (fabs(f[i]) > mx) mx = fabs(f[i]);
        }
        for (size_t i = 0; i < n; i++) w[i] = (int8_t)nearbyint(f[i] / mx * 127.0);
        int ex;
        double fr = frexp(mx, &ex); /* mx = fr * 2^ex, fr in [0.5, 1) */
        int ceil_log2 = fr == 0.5 ? ex - 1 : ex;
        niti_status st = niti_net_set_weights(net, l, w, ceil_log2 - 7);
        free(f), free(w);
        NITI_TRY(st);
    }
    return NITI_OK;
}

/* n: the (global) batch; *first, *cnt: this process's slice of it (all of it in one process). */
static niti_status check_batch(niti_net *net, int n, int *first, int *cnt)
{
    int most = distributed(net) ? net->global_max : net->max_batch;
    if (n <= 0 || n > most)
        return niti_fail(NITI_ERR_INVALID, "batch of %d images (this network holds 1..%d)", n,
                         most);
    *first = 0, *cnt = n;
    if (distributed(net)) niti_batch_slice(n, net->comm->rank, net->comm->size, first, cnt);
    return NITI_OK;
}

/* Requantises the n accumulators in acc into dst. One process: the backend takes the maximum
 * itself, on the device. Several: local maximum -> maximum over the ranks -> requant with it;
 * the shift (*shift) is then known here. n may be 0 (a rank without samples still takes part). */
static niti_status requant_acc(niti_net *net, niti_dtype t, size_t n, niti_rounding rounding,
                               niti_buf *dst, int shift_slot, int exp_in_slot, int exp_slot,
                               int *shift)
{
    niti_backend *be = net->be;
    if (!distributed(net))
        return be->ops->requant(be, net->acc, t, n, net->cfg.rule, rounding, dst, net->scalars,
                                shift_slot, exp_in_slot, 0, exp_slot, NULL);
    uint64_t m = 0;
    if (n) NITI_TRY(be->ops->max_abs(be, net->acc, t, n, &m));
    NITI_TRY(comm_max(net, &m, 1, "the maximum of a requantisation over the processes"));
    *shift = niti_requant_shift(niti_bw(m), net->cfg.rule);
    if (!n) return NITI_OK;
    return be->ops->requant(be, net->acc, t, n, net->cfg.rule, rounding, dst, net->scalars,
                            shift_slot, exp_in_slot, 0, exp_slot, &m);
}

static void geom_for(const net_layer *L, int n, niti_conv_geom *g)
{
    *g = L->geom;
    g->N = n;
}

/* Forward pass of n images (this process's slice; n = 0 only with several processes); training
 * selects dropout. Leaves shift sums in the scalars buffer, and with several processes the
 * shifts and their sums in host_scalars too. */
static niti_status forward(niti_net *net, int n, int training, uint32_t t)
{
    niti_backend *be = net->be;
    const niti_backend_ops *op = be->ops;
    niti_buf *cur = net->input;
    int prev_sum_slot = -1;
    for (int l = 0; l < net->model.n_layers; l++) {
        net_layer *L = &net->L[l];
        const niti_layer_spec *s = &L->spec;
        size_t cnt = (size_t)n * layer_out_elems(s);
        L->in_cur = cur;
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            niti_conv_geom g;
            geom_for(L, n, &g);
            if (n) NITI_TRY(op->conv_fwd(be, &g, cur, L->W, net->acc, L->acc_fwd));
            niti_buf *dst = L->transient ? net->eA : L->out;
            int shift = 0;
            NITI_TRY(requant_acc(net, L->acc_fwd, cnt, net->cfg.act_round, dst, 3 * l,
                                 prev_sum_slot, 3 * l + 2, &shift));
            if (distributed(net)) {
                net->host_scalars[3 * l] = shift;
                net->host_scalars[3 * l + 2] =
                    (prev_sum_slot >= 0 ? net->host_scalars[prev_sum_slot] : 0) + shift;
            }
            prev_sum_slot = 3 * l + 2;
            cur = dst;
            break;
        }
        case NITI_LAYER_RELU:
            if (n) NITI_TRY(op->relu_fwd(be, cnt, cur, cur));
            break;
        case NITI_LAYER_MAXPOOL:
            if (n && L->fused_relu) /* the transient output of layer l-2, after its relu */
                NITI_TRY(op->count_sat(be, cur, (size_t)n * layer_in_elems(s), net->sat, l - 2));
            if (n)
                NITI_TRY(op->maxpool_fwd(be, n, s->in_h, s->in_w, s->in_c, cur, L->out,
                                         L->argmax));
            cur = L->out;
            break;
        case NITI_LAYER_FLATTEN:
            break;
        case NITI_LAYER_DROPOUT:
            if (training) {
                if (n)
                    NITI_TRY(op->dropout(be, n, s->in_c, net->cfg.seed, t, (uint32_t)l, cur,
                                         L->out));
                cur = L->out;
            }
            break;
        }
        L->out_cur = cur;
    }
    return NITI_OK;
}

/* Several processes: every rank's logits of the whole batch of n (this rank's slice: first,
 * cnt) into h_logits, in sample order. */
static niti_status gather_logits(niti_net *net, int n, int first, int cnt)
{
    (void)first;
    niti_backend *be = net->be;
    size_t C = (size_t)net->classes;
    if (cnt)
        NITI_TRY(be->ops->download(be, net->L[net->model.n_layers - 1].out_cur, 0, net->h_slice,
                                   (size_t)cnt * C));
    for (int r = 0; r < net->comm->size; r++) {
        int f, c;
        niti_batch_slice(n, r, net->comm->size, &f, &c);
        net->counts[r] = c * (int)C;
    }
    double t0 = wall_s();
    return comm_done(net, net->comm->allgatherv(net->comm, net->h_slice, net->h_logits,
                                                net->counts),
                     t0, (size_t)cnt * C, "gathering the logits");
}

/* e0 + sum of weight exponents (+ number of dropout layers when training). */
static int exp_base(const niti_net *net, int training)
{
    int e = NITI_INPUT_EXP;
    for (int l = 0; l < net->model.n_layers; l++) {
        const net_layer *L = &net->L[l];
        if (L->W) e += L->weight_exp;
        if (training && L->spec.kind == NITI_LAYER_DROPOUT) e += 1;
    }
    return e;
}

static int last_sum_slot(const niti_net *net)
{
    for (int l = net->model.n_layers - 1; l >= 0; l--)
        if (net->L[l].W) return 3 * l + 2;
    return -1;
}

static niti_status sync_results(niti_net *net, int n, int8_t *logits_out)
{
    niti_backend *be = net->be;
    /* The first read waits for the whole queue; the second is then immediate. */
    NITI_TRY(be->ops->download(be, net->scalars, 0, net->host_scalars,
                               (size_t)net->n_slots * sizeof(int32_t)));
    if (logits_out)
        NITI_TRY(be->ops->download(be, net->L[net->model.n_layers - 1].out_cur, 0, logits_out,
                                   (size_t)n * (size_t)net->classes));
    return NITI_OK;
}

static niti_status exp_range_error(niti_net *net, int e)
{
    char buf[2048];
    int off = snprintf(buf, sizeof buf, "e0=%d", NITI_INPUT_EXP);
    for (int l = 0; l < net->model.n_layers && off < (int)sizeof buf - 64; l++) {
        const net_layer *L = &net->L[l];
        if (L->W)
            off += snprintf(buf + off, sizeof buf - (size_t)off, ", layer %d: weight_exp %d shift %d",
                            l, L->weight_exp, net->host_scalars[3 * l]);
        else if (L->spec.kind == NITI_LAYER_DROPOUT)
            off += snprintf(buf + off, sizeof buf - (size_t)off, ", layer %d: dropout +1", l);
    }
    return niti_fail(NITI_ERR_RANGE,
                     "the logits' exponent %d is outside the loss's valid range [%d, %d] (%s); "
                     "the step was not applied to the loss (errors are zero)",
                     e, NITI_LOSS_EXP_MIN, NITI_LOSS_EXP_MAX, buf);
}

/* Several processes: the weight gradient G (np values; this rank's part, or nothing when it has
 * no samples) becomes the sum over the ranks. Each value sums n * Ho * Wo products of an
 * activation and an error, int8 each (|product| <= 2^14), so when that bound stays below 2^31
 * the sum travels as int32: half the bytes. */
static niti_status reduce_gradient(niti_net *net, const net_layer *L, niti_buf *G, size_t np,
                                   int have_part)
{
    niti_backend *be = net->be;
    int64_t *h = net->h_g;
    if (have_part) NITI_TRY(be->ops->download(be, G, 0, h, np * 8));
    else memset(h, 0, np * 8);
    int64_t terms = (int64_t)net->last_n_global * L->geom.Ho * L->geom.Wo;
    if (terms < ((int64_t)1 << 17)) { /* terms * 2^14 < 2^31 */
        int32_t *h32 = net->h_g32;
        for (size_t i = 0; i < np; i++) h32[i] = (int32_t)h[i];
        NITI_TRY(comm_sum32(net, h32, np, "summing a weight gradient over the processes"));
        for (size_t i = 0; i < np; i++) h[i] = h32[i];
    } else {
        NITI_TRY(comm_sum64(net, h, np, "summing a weight gradient over the processes"));
    }
    return be->ops->upload(be, G, 0, h, np * 8);
}

/* conv_wgrad then update of one layer (g->N = 0: a rank without samples, which only takes part
 * in the sum of the gradient). With g_off, G and conv_wgrad's work space are views of acc made
 * for this layer only (long-lived sub-buffers slow down every use of their parent buffer on
 * POCL). */
static niti_status wgrad_update(niti_net *net, net_layer *L, const niti_conv_geom *g,
                                niti_buf *E, int mu)
{
    niti_backend *be = net->be;
    const niti_backend_ops *op = be->ops;
    size_t np = (size_t)niti_layer_params(&L->spec);
    niti_buf *G = net->G, *ws = net->acc;
    niti_status st = NITI_OK;
    if (net->g_off) {
        G = ws = NULL;
        st = op->view(be, net->acc, net->g_off, np * 8, &G);
        if (st == NITI_OK) st = op->view(be, net->acc, 0, net->g_off, &ws);
    }
    if (st == NITI_OK && g->N > 0) st = op->conv_wgrad(be, g, L->in_cur, E, G, ws);
    if (st == NITI_OK && distributed(net)) st = reduce_gradient(net, L, G, np, g->N > 0);
    if (st == NITI_OK) st = op->update(be, np, G, mu, net->cfg.weight_decay, L->W, L->M, NULL);
    if (net->g_off) {
        op->release(be, ws);
        op->release(be, G);
    }
    return st;
}

/* Several processes: the loss of the whole batch of n on every rank (so that its stochastic
 * rounding draws with each sample's index in the whole batch), from the gathered logits; this
 * rank's rows of the error (first, cnt) go to err for its backward pass. */
static niti_status loss_whole_batch(niti_net *net, int n, int first, int cnt, uint32_t t)
{
    niti_backend *be = net->be;
    size_t C = (size_t)net->classes;
    int nl = net->model.n_layers;
    NITI_TRY(gather_logits(net, n, first, cnt));
    NITI_TRY(be->ops->upload(be, net->g_logits, 0, net->h_logits, (size_t)n * C));
    int slot = last_sum_slot(net);
    int e = exp_base(net, 1) + (slot >= 0 ? net->host_scalars[slot] : 0);
    net->host_scalars[3 * nl] = e;
    NITI_TRY(be->ops->loss_bwd(be, n, (int)C, net->g_logits, net->g_labels, net->scalars, e, -1,
                               3 * nl, net->cfg.seed, t, net->g_q, net->g_err));
    if (!cnt) return NITI_OK;
    NITI_TRY(be->ops->download(be, net->g_err, (size_t)first * C, net->h_slice, (size_t)cnt * C));
    return be->ops->upload(be, net->err, 0, net->h_slice, (size_t)cnt * C);
}

/* One training step. With several processes, n is the whole batch, inputs this rank's slice of
 * it (niti_batch_slice) and labels the whole batch's labels; logits_out gets the whole batch's
 * logits. One process: the slice is the batch. */
niti_status niti_net_train_step(niti_net *net, const int8_t *inputs, const int32_t *labels,
                                int n, int mu, uint32_t t, int8_t *logits_out)
{
    int first, cnt;
    NITI_TRY(check_batch(net, n, &first, &cnt));
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= net->classes)
            return niti_fail(NITI_ERR_INVALID, "label %d of image %d is outside 0..%d", labels[i],
                             i, net->classes - 1);
    niti_backend *be = net->be;
    const niti_backend_ops *op = be->ops;
    const niti_model_spec *m = &net->model;
    int dist = distributed(net);
    size_t in_bytes = (size_t)cnt * m->in_h * m->in_w * m->in_c;
    if (cnt) NITI_TRY(op->upload(be, net->input, 0, inputs, in_bytes));
    NITI_TRY(op->upload(be, dist ? net->g_labels : net->labels, 0, labels,
                        (size_t)n * sizeof(int32_t)));
    net->last_n_global = n;
    NITI_TRY(forward(net, cnt, 1, t));

    int nl = m->n_layers;
    if (dist)
        NITI_TRY(loss_whole_batch(net, n, first, cnt, t));
    else
        NITI_TRY(op->loss_bwd(be, n, net->classes, net->L[nl - 1].out_cur, net->labels,
                              net->scalars, exp_base(net, 1), last_sum_slot(net), 3 * nl,
                              net->cfg.seed, t, net->q, net->err));

    /* From here on, n is this process's slice. */
    n = cnt;
    niti_buf *E = net->err;
    for (int l = nl - 1; l >= 0; l--) {
        net_layer *L = &net->L[l];
        const niti_layer_spec *s = &L->spec;
        niti_buf *other = E == net->eA ? net->eB : net->eA;
        switch (s->kind) {
        case NITI_LAYER_CONV:
        case NITI_LAYER_LINEAR: {
            niti_conv_geom g;
            geom_for(L, n, &g);
            niti_buf *Eprev = NULL;
            if (L->sends_error) {
                if (n) NITI_TRY(op->conv_dgrad(be, &g, E, L->W, net->acc, L->acc_err));
                int shift = 0;
                NITI_TRY(requant_acc(net, L->acc_err, (size_t)n * layer_in_elems(s),
                                     net->cfg.err_round, other, 3 * l + 1, -1, -1, &shift));
                if (dist) net->host_scalars[3 * l + 1] = shift;
                Eprev = other;
            }
            NITI_TRY(wgrad_update(net, L, &g, E, mu));
            if (!Eprev) goto done; /* nothing before this layer learns */
            E = Eprev;
            break;
        }
        case NITI_LAYER_RELU:
            if (n && !L->fused_relu) /* else masked at the pool */
                NITI_TRY(op->relu_bwd(be, (size_t)n * layer_out_elems(s), L->out_cur, E, E));
            break;
        case NITI_LAYER_MAXPOOL:
            if (n && L->fused_relu) /* E is eA or eB here (a weight layer follows) */
                NITI_TRY(op->relu_bwd(be, (size_t)n * layer_out_elems(s), L->out_cur, E, E));
            if (n)
                NITI_TRY(op->maxpool_bwd(be, n, s->in_h, s->in_w, s->in_c, E, L->argmax, other));
            E = other;
            break;
        case NITI_LAYER_FLATTEN:
            break;
        case NITI_LAYER_DROPOUT: {
            /* The error may still be the loss's own buffer: never write into it. */
            niti_buf *dst = E == net->err ? other : E;
            if (n) NITI_TRY(op->dropout(be, n, s->in_c, net->cfg.seed, t, (uint32_t)l, E, dst));
            E = dst;
            break;
        }
        }
    }
done:
    if (dist) {
        /* the shifts and the loss's exponent are on the host already */
        if (logits_out) memcpy(logits_out, net->h_logits, (size_t)net->last_n_global * net->classes);
    } else {
        NITI_TRY(sync_results(net, n, logits_out));
    }
    net->last_n = n;
    net->trained = 1;
    int e = net->host_scalars[3 * nl];
    if (e < NITI_LOSS_EXP_MIN || e > NITI_LOSS_EXP_MAX) return exp_range_error(net, e);
    return NITI_OK;
}

/* Inference on a batch of n. With several processes, as niti_net_train_step: inputs is this
 * rank's slice, logits_out gets the whole batch's logits. */
niti_status niti_net_forward(niti_net *net, const int8_t *inputs, int n, int8_t *logits_out,
                             int *out_exp)
{
    int first, cnt;
    NITI_TRY(check_batch(net, n, &first, &cnt));
    niti_backend *be = net->be;
    const niti_model_spec *m = &net->model;
    size_t in_bytes = (size_t)cnt * m->in_h * m->in_w * m->in_c;
    if (cnt) NITI_TRY(be->ops->upload(be, net->input, 0, inputs, in_bytes));
    net->last_n_global = n;
    NITI_TRY(forward(net, cnt, 0, 0));
    if (distributed(net)) {
        NITI_TRY(gather_logits(net, n, first, cnt));
        if (logits_out) memcpy(logits_out, net->h_logits, (size_t)n * net->classes);
    } else {
        NITI_TRY(sync_results(net, n, logits_out));
    }
    int slot = last_sum_slot(net);
    int e = exp_base(net, 0) + (slot >= 0 ? net->host_scalars[slot] : 0);
    net->host_scalars[3 * m->n_layers] = e;
    net->last_n = cnt;
    net->trained = 0;
    if (out_exp) *out_exp = e;
    return NITI_OK;
}

int niti_net_out_exp(const niti_net *net) { return net->host_scalars[3 * net->model.n_layers]; }

int niti_net_layer_shift(const niti_net *net, int layer)
{
    if (layer < 0 || layer >= net->model.n_layers || !net->L[layer].W) return -1;
    return net->host_scalars[3 * layer];
}

int niti_net_layer_err_shift(const niti_net *net, int layer)
{
    if (layer < 0 || layer >= net->model.n_layers || !net->L[layer].sends_error) return -1;
    return net->host_scalars[3 * layer + 1];
}

niti_status niti_net_last_loss(niti_net *net, int64_t *q, int8_t *err)
{
    if (!net->trained) return niti_fail(NITI_ERR_INVALID, "no training step has run");
    int dist = distributed(net);
    size_t cnt = (size_t)net->last_n_global * (size_t)net->classes;
    niti_buf *bq = dist ? net->g_q : net->q, *be_ = dist ? net->g_err : net->err;
    if (q) NITI_TRY(net->be->ops->download(net->be, bq, 0, q, cnt * sizeof(int64_t)));
    if (err) NITI_TRY(net->be->ops->download(net->be, be_, 0, err, cnt));
    return NITI_OK;
}

/* With several processes this is collective (every rank calls it for the same layers in the
 * same order): the counts of every rank's slice are summed. */
niti_status niti_net_layer_saturation(niti_net *net, int layer, int64_t *saturated,
                                      int64_t *total)
{
    net_layer *L = NULL;
    NITI_TRY(weight_layer(net, layer, &L));
    if (!net->last_n_global || !L->out_cur)
        return niti_fail(NITI_ERR_INVALID, "no forward pass has run");
    size_t n = (size_t)net->last_n * layer_out_elems(&L->spec);
    int64_t c = 0;
    if (n) {
        /* Counted on the device (a transient output during the forward pass, else now), so no
         * copy of the output comes to the host. */
        if (!L->transient)
            NITI_TRY(net->be->ops->count_sat(net->be, L->out, n, net->sat, layer));
        NITI_TRY(net->be->ops->download(net->be, net->sat, (size_t)layer * 8, &c, 8));
    }
    if (distributed(net)) NITI_TRY(comm_sum64(net, &c, 1, "summing saturation counts"));
    *saturated = c;
    *total = (int64_t)net->last_n_global * (int64_t)layer_out_elems(&L->spec);
    return NITI_OK;
}
