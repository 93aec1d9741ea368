/* Checkpoints: a safetensors file with the int8 weights of every conv/linear layer
 * ("L{k}.weight", contract layouts), optional 16-bit master weights ("L{k}.master"), and in its
 * metadata everything needed to resume bit-identically: model spec, rule, roundings, mu schedule,
 * seed, global step, epoch, position in the epoch's data order, batch size, dataset, the weight
 * exponents ("L{k}.weight_exp"), and a checksum of the tensors (FNV-1a 64, "checksum").
 * Writes are atomic: a temp file in the same folder, then rename. */
#ifndef NITI_CHECKPOINT_H
#define NITI_CHECKPOINT_H

#include <stdint.h>

#include "net.h"

typedef struct niti_run_state {
    niti_train_cfg cfg;
    char mu[256];      /* mu schedule text, e.g. "5,100:4,150:3" */
    char dataset[32];  /* "mnist", "fashion-mnist", "cifar10" or "" */
    int batch;         /* training batch size */
    uint32_t step;     /* global steps done (the next step's t) */
    int epoch;         /* epoch in progress (0-based) */
    int batch_pos;     /* batches of that epoch already done */
    int epochs;        /* epochs asked for */
} niti_run_state;

niti_status niti_checkpoint_save(niti_net *net, const niti_run_state *rs, const char *path);

/* Reads and verifies a checkpoint (checksum, tensors against the model) and builds the network
 * on be with batches of up to max_batch (0 = the checkpoint's batch size). */
niti_status niti_checkpoint_load(const char *path, niti_backend *be, int max_batch,
                                 niti_net **net_out, niti_run_state *rs_out);

#endif
