/* Helpers of the CLI's train, eval and info commands: checkpoints read before any work, paths,
 * run ids, JSON strings, the environment's GEMM settings, positions in a run. */
#ifndef NITI_CLI_TRAIN_UTIL_H
#define NITI_CLI_TRAIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/model.h"
#include "core/net.h"
#include "niti.h"

#if defined(__GNUC__)
#define NITI_CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NITI_CLI_PRINTF(a, b)
#endif

/* A whole decimal number 0..UINT64_MAX. */
int cli_parse_u64(const char *text, uint64_t *out);
/* "E1,E2,...": increasing epochs (1..2^24); steps/n receive them. */
int cli_parse_lr_steps(const char *text, int *steps, int max, int *n);
/* The same, written back canonically ("100,150") into out. */
int cli_canonical_lr_steps(const char *text, char *out, size_t size);

/* Run ids: 1..63 printable ASCII characters, no quotes or backslashes. */
int cli_valid_run_id(const char *id);
/* A new id from the date, time and process id, e.g. "20250101-120000-4242". */
void cli_new_run_id(char *out, size_t size);

/* The absolute form of path (its folder must exist); 0 if it does not or it is too long. */
int cli_abs_path(const char *path, char *out, size_t size);
/* Whether a file can be created next to path (and path is not a folder). */
int cli_check_writable(const char *path);
/* path quoted for a POSIX shell where needed. */
void cli_shell_quote(const char *path, char *out, size_t size);

/* s as a JSON string; bytes that are not valid UTF-8 become U+FFFD. */
void cli_json_str(FILE *f, const char *s);

/* Where a run state stands, in words that match the progress lines (epochs counted from 1):
 * "after epoch 2, step 1876" or "in epoch 3 at step 2000, 124 batches into the epoch". */
void cli_describe_position(const niti_run_state *rs, char *out, size_t size);

/* NITI_GEMM / NITI_DOT_EMULATE against the device spec and precision: refused (message printed,
 * 0 returned) where they would do nothing: the ref backend and the fp32 baseline have no GEMM
 * paths; NITI_DOT_EMULATE needs NITI_GEMM=dp4a or khr-dot. */
int cli_check_gemm_env(const char *device_spec, int fp32);

/* Reads and verifies a checkpoint without a device (any precision); prints the error. */
int cli_read_checkpoint(const char *path, niti_run_state *rs, niti_model_spec **model);

/* A new integer network for model/cfg on be with the weights of checkpoint path (--init). */
niti_status cli_init_from(const char *path, niti_backend *be, const niti_model_spec *model,
                          int batch, const niti_train_cfg *cfg, niti_net **out);

#endif
