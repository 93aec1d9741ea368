/* Checkpoints: a safetensors file with the int8 weights of every conv/linear layer
 * ("L{k}.weight", contract layouts), optional 16-bit master weights ("L{k}.master"), and in its
 * metadata everything needed to resume bit-identically: model spec, rule, roundings, mu schedule,
 * seed, global step, epoch, position in the epoch's data order, batch size, dataset, the weight
 * exponents ("L{k}.weight_exp"), and a checksum of the tensors (FNV-1a 64, "checksum").
 * Writes are atomic: a temp file in the same folder, then rename. */
#ifndef NITI_CHECKPOINT_H
#define NITI_CHECKPOINT_H

#include <stdint.h>

#include "core/net.h"

/* niti_run_state, niti_checkpoint_save and niti_checkpoint_load are public: see niti.h. */

#include "io/safetensors.h"

/* Everything niti_checkpoint_load checks before it touches a device, on a parsed file: the
 * checksum (skipped when verify_checksum is 0: the checkpoint fuzz target uses that to reach the
 * checks behind it), the run-state metadata, the model spec, and every weight/master tensor's
 * dtype and shape and every weight exponent against that model. On success rs_out (may be NULL)
 * receives the run state and *model_out (may be NULL) the model, which the caller frees. */
niti_status niti_checkpoint_validate(const niti_st *st, int verify_checksum,
                                     niti_run_state *rs_out, niti_model_spec **model_out);

/* The checksum a checkpoint with this content must carry (format version 2): 16 hex digits. */
niti_status niti_checkpoint_checksum(const niti_st *st, char out[17]);

#endif
