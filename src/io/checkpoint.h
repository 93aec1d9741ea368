/* Checkpoints: a safetensors file with the int8 weights of every conv/linear layer
 * ("L{k}.weight", contract layouts), optional 16-bit master weights ("L{k}.master"), and in its
 * metadata everything needed to resume bit-identically: model spec, rule, roundings, mu schedule,
 * seed, global step, epoch, position in the epoch's data order, batch size, dataset, the weight
 * exponents ("L{k}.weight_exp"), and a checksum of the tensors (FNV-1a 64, "checksum").
 * Since the run's settings are kept too (optional keys, absent in older files): precision,
 * run_id, label, save, log, data, device, device_spec, train_limit, test_limit, eval_every,
 * augment ("" = the dataset's default), val (0 = no validation set), and
 * for the fp32 baseline ("precision" = "fp32": F32 "L{k}.weight" and "L{k}.momentum", no
 * exponents) fp32_lr, fp32_momentum, fp32_weight_decay, fp32_lr_steps.
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
/* NITI_OK if the checksum the file carries matches its content; else a message saying which. */
niti_status niti_checkpoint_verify(const niti_st *st);

/* Reads a file that should be a niti checkpoint: one that is not (no safetensors at all, or a
 * safetensors file without niti's "format" entry) is refused as "PATH is not a niti checkpoint
 * (why)" before anything else is checked. Validate the result with niti_checkpoint_validate. */
niti_status niti_checkpoint_read(const char *path, niti_st **out);

/* Writing, shared by the int8 (niti_checkpoint_save) and fp32 (fp32/) checkpoints: the run
 * state's and model's metadata, then the checksum over everything (call it last). */
niti_status niti_checkpoint_put_state(niti_st *st, const niti_model_spec *m,
                                      const niti_run_state *rs);
niti_status niti_checkpoint_seal(niti_st *st);

#endif
