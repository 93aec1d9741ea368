/* niti: integer-only neural network training (NITI, arXiv 2009.13108) on OpenCL devices.
 *
 * This is the only header a user includes. Every function returns a niti_status; on failure
 * niti_last_error() holds a message with context (for OpenCL, the device and the build log). */
#ifndef NITI_H
#define NITI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NITI_VERSION_MAJOR 0
#define NITI_VERSION_MINOR 1
#define NITI_VERSION_PATCH 0
#define NITI_VERSION_STRING "0.1.0"

typedef enum niti_status {
    NITI_OK = 0,
    NITI_ERR_INVALID = 1,     /* bad argument or configuration */
    NITI_ERR_IO = 2,          /* a file could not be opened, read or written */
    NITI_ERR_FORMAT = 3,      /* a file or string is malformed */
    NITI_ERR_NOMEM = 4,       /* host or device allocation failed */
    NITI_ERR_DEVICE = 5,      /* an OpenCL call or kernel build failed */
    NITI_ERR_UNSUPPORTED = 6, /* not available on this build/device */
    NITI_ERR_RANGE = 7,       /* a value left the range the contract allows */
    NITI_ERR_INTERRUPTED = 8  /* stopped on request */
} niti_status;

/* Element types of tensors (safetensors names in brackets). */
typedef enum niti_dtype {
    NITI_I8 = 0,  /* I8 */
    NITI_U8 = 1,  /* U8 */
    NITI_I16 = 2, /* I16 */
    NITI_I32 = 3, /* I32 */
    NITI_I64 = 4, /* I64 */
    NITI_F32 = 5  /* F32 */
} niti_dtype;

size_t niti_dtype_size(niti_dtype t);
const char *niti_dtype_name(niti_dtype t);

/* Requantisation rule sets (contract section 4). */
typedef enum niti_rule { NITI_RULE_NITI21 = 0, NITI_RULE_NITI20 = 1 } niti_rule;
/* Rounding of a right shift (contract section 3). */
typedef enum niti_rounding { NITI_ROUND = 0, NITI_PSR = 1 } niti_rounding;

/* The message of the last failure on this thread ("" if none). */
const char *niti_last_error(void);
const char *niti_status_name(niti_status s);
const char *niti_version(void);

/* ------------------------------------------------------------------------------------------
 * Devices. spec: "ref" (plain C reference), "cpu", "gpu", "P:D" (OpenCL platform:device
 * indices), or a substring of a device name; NULL/"" = the first GPU, else the first CPU, else
 * ref (with a notice on stderr). */
typedef struct niti_backend niti_backend;
niti_status niti_backend_open(const char *spec, niti_backend **out);
void niti_backend_close(niti_backend *be);
const char *niti_backend_name(const niti_backend *be);

/* ------------------------------------------------------------------------------------------
 * Models: a layer list such as "input 28x28x1; conv 20 k5 p0; relu; maxpool 2; flatten;
 * linear 10", a preset name (lenet, vgg-small-7, ...) or a file holding such text. */
typedef struct niti_model_spec niti_model_spec;
niti_status niti_model_parse(const char *text, niti_model_spec **out);
niti_status niti_model_from_arg(const char *preset_file_or_text, niti_model_spec **out);
void niti_model_free(niti_model_spec *m);
int niti_model_classes(const niti_model_spec *m);
int64_t niti_model_params(const niti_model_spec *m);

/* ------------------------------------------------------------------------------------------
 * Networks and the training step. */
typedef struct niti_train_cfg {
    niti_rule rule;           /* default niti21 */
    niti_rounding act_round;  /* niti21: round (default) or psr; niti20: psr always */
    niti_rounding err_round;  /* niti21: round (default) or psr; niti20: psr always */
    uint64_t seed;            /* Philox key for dropout and the loss's stochastic rounding */
    int weight_decay;         /* 1: the optional weight decay of contract section 7 */
    int master16;             /* 1: 16-bit master weights (contract section 7) */
} niti_train_cfg;

void niti_train_cfg_default(niti_train_cfg *cfg);

typedef struct niti_net niti_net;

/* Allocates every buffer once for batches of up to max_batch images. The model is copied. */
niti_status niti_net_create(niti_backend *be, const niti_model_spec *m, int max_batch,
                            const niti_train_cfg *cfg, niti_net **out);
void niti_net_free(niti_net *net);
const niti_model_spec *niti_net_model(const niti_net *net);
niti_backend *niti_net_backend(const niti_net *net);

/* Weights of layer `layer` (index in the layer list; conv/linear only) in the contract's
 * layouts ([O,k,k,I] / [O,F]) and the layer's fixed weight exponent. Setting weights also
 * resets the layer's 16-bit master weights to W * 2^8. */
niti_status niti_net_set_weights(niti_net *net, int layer, const int8_t *w, int exp);
niti_status niti_net_get_weights(niti_net *net, int layer, int8_t *w, int *exp);
niti_status niti_net_set_master(niti_net *net, int layer, const int16_t *m);
niti_status niti_net_get_master(niti_net *net, int layer, int16_t *m);
/* Xavier-uniform initialisation of every weight layer from Philox stream 5 (section 11). */
niti_status niti_net_init_xavier(niti_net *net, uint64_t seed);

/* One training step on n <= max_batch images: inputs int8 [n,H,W,C] (NHWC) at exponent -5
 * (see niti_input_table), labels in [0, classes). t is the global step (the Philox counter
 * word; count from 0). logits_out (n*classes, may be NULL) receives the int8 logits. Fails
 * with NITI_ERR_RANGE, naming the layer exponents, if the logits' exponent leaves the loss's
 * valid range. */
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
/* After a step or forward: how many of conv/linear layer `layer`'s int8 outputs in the last
 * batch sit at the clamp (+-127), and how many outputs there are. A ReLU that follows the layer
 * works in place, so only +127 is visible where one does. */
niti_status niti_net_layer_saturation(niti_net *net, int layer, int64_t *saturated,
                                      int64_t *total);
/* After a training step: the loss's q (int64 [n,classes]) and err (int8 [n,classes]). */
niti_status niti_net_last_loss(niti_net *net, int64_t *q, int8_t *err);

/* Section 10: the 256-entry input table of one channel: V = clamp(round_half_even(
 * ((p/255 - mean)/std) * 32), -128, 127) at exponent -5. */
void niti_input_table(double mean, double std, int8_t table[256]);

/* ------------------------------------------------------------------------------------------
 * Checkpoints (safetensors): weights, master weights, and everything needed to resume. */
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

/* Writes atomically (temp file + rename): a failed save leaves the previous file intact. */
niti_status niti_checkpoint_save(niti_net *net, const niti_run_state *rs, const char *path);
/* Verifies (checksum, shapes against the model) and builds the network on be for batches of up
 * to max_batch (0 = the checkpoint's batch size). rs_out may be NULL. */
niti_status niti_checkpoint_load(const char *path, niti_backend *be, int max_batch,
                                 niti_net **net_out, niti_run_state *rs_out);

#ifdef __cplusplus
}
#endif
#endif
