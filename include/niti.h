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
    /* The rest describes the run around the arithmetic, so that `niti train --resume CKPT`
     * alone continues it as it was started. All optional: "" or 0 = not recorded. */
    char precision[8];      /* "int8" (also "") or "fp32" (the float baseline) */
    char run_id[64];        /* the run's id in every record of its log */
    char label[256];        /* the run's name in logs and plots (--label) */
    char save[1024];        /* absolute path the run saves its checkpoints to (--save) */
    char log[1024];         /* absolute path of the run's JSON Lines log (--log) */
    char data[1024];        /* absolute path of the dataset folder the run used */
    char device[256];       /* the device it last trained on (its full name) */
    char device_spec[128];  /* --device as given ("" = the default choice) */
    int train_limit;        /* training images used per epoch (0 = all) */
    int test_limit;         /* test images evaluated (0 = all) */
    int eval_every;         /* evaluate every N epochs; 0 = not recorded (1); -1 = at the end */
    float lr, momentum, weight_decay; /* fp32 only: SGD settings */
    char lr_steps[128];     /* fp32 only: epochs at which lr is divided by 10 ("" = none) */
    /* The epoch in progress so far (batch_pos > 0): its summed training loss, correct
     * predictions and images, so that its record after a resume is the uninterrupted one's. */
    double epoch_loss_sum;
    int64_t epoch_correct, epoch_seen;
    /* Training augmentation (niti train --augment): "none", "cropP", "cropP-flip" or "flip"
     * (P = 1..8); "" = the dataset's default (cifar10 crop4-flip, the others none). */
    char augment[16];
    /* Validation images held out from the end of the training file(s) (--val; 0 = none). */
    int val;
} niti_run_state;

/* Writes atomically (temp file + rename): a failed save leaves the previous file intact. */
niti_status niti_checkpoint_save(niti_net *net, const niti_run_state *rs, const char *path);
/* Verifies (checksum, shapes against the model) and builds the network on be for batches of up
 * to max_batch (0 = the checkpoint's batch size). rs_out may be NULL. */
niti_status niti_checkpoint_load(const char *path, niti_backend *be, int max_batch,
                                 niti_net **net_out, niti_run_state *rs_out);

/* ==========================================================================================
 * BINDINGS API (issue #18): what the Python package (python/niti) calls besides the functions
 * above. `niti train` runs its epoch loop from internal helpers; these expose the same steps on
 * plain arrays, so that a binding can run the very same loop and get the same bits: devices,
 * model facts, datasets, the epoch order, batch assembly with augmentation, statistics of
 * logits, evaluation, the mu schedule, and checkpoints with a run state of fixed layout.
 * Implemented in src/backends/opencl/device_list.c, src/io/data_api.c and src/train/api.c.
 * Keep python/niti/_lib.py in step with this block (and raise NITI_BINDINGS_LEVEL on a change
 * of any signature or struct here).
 * ========================================================================================== */

#define NITI_BINDINGS_LEVEL 4

/* Ok if the library was built with bindings level `level` and the caller's idea of the sizes of
 * niti_run_info and niti_device_desc is right; else NITI_ERR_UNSUPPORTED with a message that
 * says what differs (a binding built for another version of the library). */
niti_status niti_bindings_check(int level, size_t run_info_size, size_t device_desc_size);

/* ---- devices */
typedef struct niti_device_desc {
    char spec[16];      /* what niti_backend_open takes for this device: "P:D" or "ref" */
    char name[128];     /* device name ("plain-C reference" for ref) */
    char platform[128]; /* OpenCL platform name ("" for ref) */
    char type[16];      /* "cpu", "gpu", "accelerator", "other", or "ref" */
    char gemm[16];      /* conv/linear GEMM path auto mode picks (vnni, portable, tiled, dp4a,
                           khr-dot; vnni/dp4a/khr-dot are confirmed by a probe when opened, and
                           NITI_GEMM overrides it); "" for ref */
    char driver[128];   /* driver version ("" for ref) */
    int32_t usable;     /* 1: niti can run on it (OpenCL C >= 1.2, compiler available) */
    int32_t compute_units;
    uint64_t global_mem; /* bytes (0 for ref) */
} niti_device_desc;

/* Every OpenCL device, then ref (always present). Writes min(max, total) entries to out (may be
 * NULL when max is 0) and the total to *count. No OpenCL platform is not an error: only ref. */
niti_status niti_devices_list(niti_device_desc *out, int max, int *count);

/* ---- models */
const char *niti_model_name(const niti_model_spec *m); /* preset name, or "custom" */
const char *niti_model_text(const niti_model_spec *m); /* canonical spec text */
/* The training defaults of `niti train` and Python's fit for model m: its preset's (lenet and
 * other 28x28 specs that are not presets: batch 64, 5 epochs, mu "4,3:3,4:2"; the vgg presets:
 * batch 256, 200 epochs, mu "5,100:4,150:3"). mu is written like snprintf into mu[mu_size]. */
void niti_model_train_defaults(const niti_model_spec *m, int *batch, int *epochs, char *mu,
                               size_t mu_size);
void niti_model_input_shape(const niti_model_spec *m, int *h, int *w, int *c);
int niti_model_layer_count(const niti_model_spec *m);
/* Layer `layer` in spec notation ("conv 20 k5 p0") written to buf like snprintf; -1 for a bad
 * index. */
int niti_model_layer_text(const niti_model_spec *m, int layer, char *buf, size_t size);
/* The shape of layer `layer`'s weight tensor in the contract's layouts: conv [O,k,k,I] (returns
 * 4), linear [O,F] (returns 2); 0 for a layer without weights, -1 for a bad index. */
int niti_model_weight_shape(const niti_model_spec *m, int layer, int64_t shape[4]);

/* ---- datasets (the files and layouts of `niti train --dataset`) */
typedef struct niti_data niti_data;
/* name: "mnist", "fashion-mnist" or "cifar10"; dir: as --data (NULL: $NITI_DATA, else ./data;
 * Fashion-MNIST also /usr/share/datasets/fashion-mnist); train: 1 training set, 0 test set. */
niti_status niti_data_load(const char *name, const char *dir, int train, niti_data **out);
void niti_data_free(niti_data *d);
void niti_data_shape(const niti_data *d, int *n, int *h, int *w, int *c, int *classes);
const uint8_t *niti_data_pixels(const niti_data *d); /* n*h*w*c bytes, NHWC */
const uint8_t *niti_data_labels(const niti_data *d); /* n bytes, 0..classes-1 */
const char *niti_data_folder(const niti_data *d);    /* the folder the files came from */
/* For a dataset name: its canonical name (as checkpoints store it; may be NULL), its input
 * tables (section 10, tables[c][p] for c < its channels, the rest zero; may be NULL), and
 * whether `niti train` augments its training batches by default, i.e. without --augment
 * (CIFAR-10: 1, crop4-flip; may be NULL). */
niti_status niti_data_describe(const char *name, char canonical[32], int8_t tables[3][256],
                               int *augment);
/* The order of epoch `epoch`: a permutation of 0..n-1 (Philox stream 3, see src/io/data.c).
 * `niti train` shuffles the whole training set and, with --train-limit N, takes the first N. */
niti_status niti_epoch_order(uint64_t seed, uint32_t epoch, int n, int32_t *perm);
/* Builds an int8 batch as `niti train` does: images idx[0..count-1] of pixels (n images of
 * h x w x c, NHWC, c <= 3) quantised with tables, and their labels (labels may be NULL; then
 * labels_out is not written, and may be NULL too). augment: nonzero = random crop (pad 4) and
 * flip from Philox stream 4 keyed by seed and the global step t (mode crop4-flip: what `niti
 * train` does for CIFAR-10 by default; niti_batch_make_mode takes any --augment mode).
 * NITI_ERR_INVALID for an index outside 0..n-1. inputs: count*h*w*c int8. */
niti_status niti_batch_make(const uint8_t *pixels, const uint8_t *labels, int n, int h, int w,
                            int c, const int8_t tables[3][256], const int32_t *idx, int count,
                            int augment, uint64_t seed, uint32_t t, int8_t *inputs,
                            int32_t *labels_out);
/* The training augmentation of dataset `name` for a --augment mode (issue #19): mode "" or NULL
 * = the dataset's default; else "none", "cropP", "cropP-flip" or "flip" (P = 1..8), checked
 * against the dataset (a flip is refused for MNIST). canonical (may be NULL): the mode's text,
 * e.g. "crop4-flip", as checkpoints and logs store it. NITI_ERR_INVALID with the reason. */
niti_status niti_augment_describe(const char *name, const char *mode, char canonical[16]);
/* niti_batch_make with any --augment mode (text as niti_augment_describe's canonical, or
 * "none"; NULL or "" = none), Philox stream 4 mapped as src/io/data.c documents. */
niti_status niti_batch_make_mode(const uint8_t *pixels, const uint8_t *labels, int n, int h,
                                 int w, int c, const int8_t tables[3][256], const int32_t *idx,
                                 int count, const char *augment, uint64_t seed, uint32_t t,
                                 int8_t *inputs, int32_t *labels_out);

/* ---- training-loop helpers */
/* The mu of epoch `epoch` (0-based) under a schedule ("5" or "5,100:4,150:3"); a malformed
 * schedule gives NITI_ERR_FORMAT naming the column. */
niti_status niti_mu_schedule_at(const char *schedule, int epoch, int *mu);
/* Over n rows of int8 logits at exponent `exp`: the sum of the display losses (section 6,
 * summed in row order from 0, as `niti train` does; may be NULL) and the number of rows whose
 * largest logit (the first on ties) is the label (may be NULL). Labels outside 0..classes-1
 * give NITI_ERR_INVALID. */
niti_status niti_logits_stats(const int8_t *logits, const int32_t *labels, int n, int classes,
                              int exp, double *loss_sum, int64_t *correct);
/* Evaluation mode over n int8 images in consecutive batches of `batch` (<= the network's max
 * batch; each batch has its own requantisation shifts, so the batch size matters), as `niti
 * train` and `niti eval` evaluate: correct predictions, the confusion matrix (classes x
 * classes, row = label, column = prediction; may be NULL), the sum of display losses (may be
 * NULL) and each image's prediction (may be NULL). labels may be NULL only if correct,
 * confusion and loss_sum are all NULL. */
niti_status niti_net_evaluate(niti_net *net, const int8_t *inputs, const int32_t *labels, int n,
                              int batch, int64_t *correct, int64_t *confusion, double *loss_sum,
                              int32_t *pred);

/* ---- checkpoints with a run state of fixed layout (niti_run_state may grow; this does not):
 * the integer run's fields of niti_run_state, with the same meanings. */
typedef struct niti_run_info {
    niti_train_cfg cfg;
    char mu[256];      /* mu schedule text */
    char dataset[32];  /* canonical dataset name or "" */
    int32_t batch;     /* training batch size */
    uint32_t step;     /* global steps done (the next step's t) */
    int32_t epoch;     /* epoch in progress (0-based) */
    int32_t batch_pos; /* batches of that epoch already done */
    int32_t epochs;    /* epochs asked for */
    /* the run around the arithmetic ("" or 0: not recorded) */
    int32_t train_limit;    /* training images used per epoch (0 = all) */
    int32_t test_limit;     /* test images evaluated (0 = all) */
    int32_t eval_every;     /* evaluate every N epochs; 0 = not recorded (1); -1 = at the end */
    char run_id[64];        /* the run's id in every record of its log */
    char label[256];        /* the run's name in logs and plots */
    char save[1024];        /* absolute path the run saves its checkpoints to */
    char log[1024];         /* absolute path of the run's JSON Lines log */
    char data[1024];        /* absolute path of the dataset folder the run used */
    char device[256];       /* the device it last trained on (its full name) */
    char device_spec[128];  /* the device as asked for ("" = the default choice) */
    double epoch_loss_sum;  /* the epoch in progress so far (batch_pos > 0): summed training */
    int64_t epoch_correct;  /* loss, correct predictions and images, so that its record */
    int64_t epoch_seen;     /* after a resume is the uninterrupted one's */
    char augment[16];       /* training augmentation ("" = the dataset's default), as in */
    int32_t val;            /* niti_run_state; validation images held out (0 = none) */
} niti_run_info;

/* niti_checkpoint_save / niti_checkpoint_load with a niti_run_info, for integer networks
 * (precision int8; fields niti_run_state has beyond these are saved as zero; an fp32 checkpoint
 * is refused on load). */
niti_status niti_checkpoint_save_info(niti_net *net, const niti_run_info *ri, const char *path);
niti_status niti_checkpoint_load_info(const char *path, niti_backend *be, int max_batch,
                                      niti_net **net_out, niti_run_info *ri_out);
/* Reads and verifies a checkpoint of an integer run without a device (before choosing one, as
 * `niti train --resume` does): its run state (ri_out, may be NULL) and its model's canonical
 * spec text (model_text of size bytes, may be NULL). */
niti_status niti_checkpoint_info(const char *path, niti_run_info *ri_out, char *model_text,
                                 size_t size);
/* ================================================================ end of the bindings API */

#ifdef __cplusplus
}
#endif
#endif
