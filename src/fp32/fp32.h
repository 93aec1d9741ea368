/* The fp32 baseline: the same layer list trained in float with SGD + momentum, so int8 and fp32
 * runs share one tool and one data pipeline. Inputs are the same int8 batches as the integer
 * path, read as x = V * 2^-5 (the contract's input exponent). On OpenCL devices the GEMMs run
 * through CLBlast; on "ref" in plain C. */
#ifndef NITI_FP32_H
#define NITI_FP32_H

#include <stdint.h>

#include "core/model.h"
#include "niti.h"

typedef struct niti_f32_cfg {
    float lr;           /* learning rate */
    float momentum;     /* SGD momentum */
    float weight_decay; /* L2 weight decay */
    uint64_t seed;      /* initialisation and dropout */
} niti_f32_cfg;

typedef struct niti_f32_net niti_f32_net;

/* device: the --device spec (NULL = default, "ref" = plain C). */
niti_status niti_f32_create(const char *device, const niti_model_spec *m, int max_batch,
                            const niti_f32_cfg *cfg, niti_f32_net **out);
void niti_f32_free(niti_f32_net *net);
const char *niti_f32_device_name(const niti_f32_net *net);
/* lr: this step's learning rate. t: global step (dropout randomness). logits_out may be NULL. */
niti_status niti_f32_train_step(niti_f32_net *net, const int8_t *inputs, const int32_t *labels,
                                int n, float lr, uint32_t t, float *logits_out,
                                double *loss_sum);
niti_status niti_f32_forward(niti_f32_net *net, const int8_t *inputs, int n, float *logits_out);

#endif
