/* The fp32 baseline: the same layer list trained in float with SGD + momentum, so int8 and fp32
 * runs share one tool and one data pipeline. Inputs are the same int8 batches as the integer
 * path, read as x = V * 2^-5 (the contract's input exponent). On OpenCL devices the GEMMs run
 * through CLBlast; on "ref" in plain C. */
#ifndef NITI_FP32_H
#define NITI_FP32_H

#include <stdint.h>

#include "core/model.h"
#include "io/data.h"
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
const niti_model_spec *niti_f32_model(const niti_f32_net *net);

/* Evaluation mode on a dataset (the images from the first on), as niti_evaluate (train.h) for
 * the integer network: correct/total, confusion (classes*classes, may be NULL), the summed
 * softmax cross-entropy (may be NULL). */
niti_status niti_f32_evaluate(niti_f32_net *net, const niti_dataset *d,
                              const int8_t tables[3][256], int batch, int limit, int64_t *correct,
                              int64_t *total, int64_t *confusion, double *loss_sum);

/* Checkpoints of the float baseline (fp32_checkpoint.c): the same safetensors container and
 * run-state metadata as the integer checkpoints (io/checkpoint.h) with precision "fp32", the
 * float weights ("L{k}.weight", F32, the integer layouts) and SGD momentum buffers
 * ("L{k}.momentum"), so that a resumed run continues bit-identically on the same device.
 * rs->precision must be "fp32"; rs->lr, momentum, weight_decay are the run's SGD settings. */
niti_status niti_f32_checkpoint_save(niti_f32_net *net, const niti_run_state *rs,
                                     const char *path);
/* Verifies and builds the network on device (as niti_f32_create) for batches of up to max_batch
 * (0 = the checkpoint's batch size), weights and momentum from the file. rs_out may be NULL. */
niti_status niti_f32_checkpoint_load(const char *path, const char *device, int max_batch,
                                     niti_f32_net **out, niti_run_state *rs_out);
/* Copies an fp32 checkpoint's weights (and, with momentum, the momentum buffers) into net, whose
 * model must be the checkpoint's (checked). path names the file in messages. */
niti_status niti_f32_checkpoint_weights(niti_f32_net *net, const char *path, int momentum);

#endif
