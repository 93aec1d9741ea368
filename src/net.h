/* A network instance on a backend: weights, activations and the training step, written once
 * against backend.h. One step = forward (training mode), integer loss backward, backward in
 * reverse order with each conv/linear forming its error with its pre-update weights, then its
 * weight gradient, quantisation with this step's mu, and the update right away. The whole step
 * is enqueued and the host synchronises once, reading back the logits and the scalars. */
#ifndef NITI_NET_H
#define NITI_NET_H

#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "niti.h"

typedef struct niti_train_cfg {
    niti_rule rule;           /* default niti21 */
    niti_rounding act_round;  /* niti21: round (default) or psr; niti20: psr always */
    niti_rounding err_round;  /* niti21: round (default) or psr; niti20: psr always */
    uint64_t seed;            /* Philox key for dropout and the loss's stochastic rounding */
    int weight_decay;         /* 1: the optional weight decay of section 7 */
    int master16;             /* 1: 16-bit master weights (section 7) */
} niti_train_cfg;

void niti_train_cfg_default(niti_train_cfg *cfg);

typedef struct niti_net niti_net;

/* Allocates every buffer once for batches of up to max_batch images. The model is copied. */
niti_status niti_net_create(niti_backend *be, const niti_model_spec *m, int max_batch,
                            const niti_train_cfg *cfg, niti_net **out);
void niti_net_free(niti_net *net);

const niti_model_spec *niti_net_model(const niti_net *net);
niti_backend *niti_net_backend(const niti_net *net);

/* Weights of layer `layer` (index in the layer list; conv/linear only), golden layouts
 * ([O,k,k,I] / [O,F]), and the layer's fixed weight exponent. Setting weights also resets the
 * layer's 16-bit master weights to W * 2^8. */
niti_status niti_net_set_weights(niti_net *net, int layer, const int8_t *w, int exp);
niti_status niti_net_get_weights(niti_net *net, int layer, int8_t *w, int *exp);
/* 16-bit master weights (only with cfg.master16). */
niti_status niti_net_set_master(niti_net *net, int layer, const int16_t *m);
niti_status niti_net_get_master(niti_net *net, int layer, int16_t *m);
/* Xavier-uniform initialisation of every weight layer from Philox stream 5 (section 11). */
niti_status niti_net_init_xavier(niti_net *net, uint64_t seed);

/* One training step on n <= max_batch images: inputs int8 [n,H,W,C] at exponent e0 = -5,
 * labels in [0, classes). t is the global step (Philox counter word). logits_out (n*classes,
 * may be NULL) receives the int8 logits of the forward pass. Fails with NITI_ERR_RANGE (naming
 * the layer exponents) if the logits' exponent leaves the loss's valid range. */
niti_status niti_net_train_step(niti_net *net, const int8_t *inputs, const int32_t *labels,
                                int n, int mu, uint32_t t, int8_t *logits_out);

/* Forward pass in evaluation mode (no dropout). logits_out: n*classes int8. */
niti_status niti_net_forward(niti_net *net, const int8_t *inputs, int n, int8_t *logits_out,
                             int *out_exp);

/* After a step or forward: the logits' exponent, and per layer the forward shift and the shift
 * of the error it sent back (-1 where the layer has none). */
int niti_net_out_exp(const niti_net *net);
int niti_net_layer_shift(const niti_net *net, int layer);
int niti_net_layer_err_shift(const niti_net *net, int layer);

/* After a training step: the loss's q (int64 [n,classes]) and err (int8 [n,classes]). */
niti_status niti_net_last_loss(niti_net *net, int64_t *q, int8_t *err);

#endif
