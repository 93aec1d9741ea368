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

/* niti_run_state, niti_checkpoint_save and niti_checkpoint_load are public: see niti.h. */

#endif
