/* Benchmarks behind `niti bench`: op-level timings of the conv/linear ops of a model's layer
 * shapes through the backend interface, and end-to-end training/eval throughput of a network.
 * Measurement only: nothing here prints (progress goes to an optional callback); the CLI
 * (src/cli/cmd_bench.c) formats the table and the JSON.
 *
 * Timing rule: before a run the queue is drained (finish); a run = enqueue the op(s), then
 * finish; its wall time (CLOCK_MONOTONIC) is one sample. `warmup` untimed runs come first, then
 * `repeats` timed ones; results give the median and the minimum. GOPS counts 2 int8 operations
 * per multiply-accumulate of the nominal shape (padding zeros included). */
#ifndef NITI_BENCH_H
#define NITI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/model.h"
#include "niti.h"

typedef enum niti_bench_op {
    NITI_BENCH_FWD = 0,   /* conv_fwd + requant (as the forward pass) */
    NITI_BENCH_DGRAD = 1, /* conv_dgrad + requant (as the backward pass; not for a first layer) */
    NITI_BENCH_WGRAD = 2  /* conv_wgrad + update (as the backward pass) */
} niti_bench_op;
#define NITI_BENCH_N_OPS 3

const char *niti_bench_op_name(niti_bench_op op); /* "fwd", "dgrad", "wgrad" */

/* Progress callback: one line of text without a newline. */
typedef void (*niti_bench_progress_fn)(void *ctx, const char *line);

typedef struct niti_bench_cfg {
    int repeats;   /* timed samples (>= 1) */
    int warmup;    /* untimed runs before them (>= 0) */
    int steps;     /* end to end: steps (or forward passes) per sample (>= 1) */
    uint64_t seed; /* random data, labels, Xavier init */
    int split;     /* op level: also time the conv/wgrad kernel alone (no requant/update) */
    niti_bench_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} niti_bench_cfg;

void niti_bench_cfg_default(niti_bench_cfg *cfg);

/* The default batch of a model, as niti train uses it: 256 for VGG presets, else 64. */
int niti_bench_default_batch(const niti_model_spec *m);
/* The first mu of niti train's default schedule: 5 for VGG presets, else 0. */
int niti_bench_default_mu(const niti_model_spec *m);

/* One distinct conv/linear shape. */
typedef struct niti_bench_shape {
    char label[96];        /* "conv 3x3 128->128 @32x32" or "linear 800->500" */
    char models[128];      /* the models (comma-separated) it occurs in */
    int layer;             /* layer index of its first occurrence in its first model */
    int count;             /* occurrences over all models */
    int linear;            /* 1 for a linear layer */
    niti_conv_geom g;      /* N = the batch */
    int has_dgrad;         /* 0 if it occurs only as a first weight layer */
    int acc_bits_fwd, acc_bits_err; /* accumulator widths (32 or 64) */
    int mu;                /* mu passed to update */
    int64_t macs;          /* multiply-accumulates of one op over the batch */
    size_t ws_bytes;       /* work space a network lends this layer's conv_wgrad (its model's
                              accumulators, as net.c sizes them; the largest over its models) */
    /* Per op (niti_bench_op): timings in seconds; ran = 0 where skipped (dgrad of a first layer). */
    int ran[NITI_BENCH_N_OPS];
    double median_s[NITI_BENCH_N_OPS], min_s[NITI_BENCH_N_OPS];
    /* With cfg->split: the median of conv_fwd / conv_dgrad / conv_wgrad alone. */
    double conv_median_s[NITI_BENCH_N_OPS];
} niti_bench_shape;

/* Collects the distinct conv/linear shapes of the models (in order of first occurrence), each
 * at batch batches[i] of models[i]. Two layers share a shape when their geometry (batch
 * included) and kind match; dgrad is timed if any occurrence sends an error back.
 * *out is malloc'd (free()); *n_out its length. */
niti_status niti_bench_collect_shapes(const niti_model_spec *const *models, const int *batches,
                                      int n_models, niti_bench_shape **out, int *n_out);

/* Times the ops of one shape on be with random int8 data; fills ran/median_s/min_s. Buffers are
 * allocated and released here (they count in be->mem_peak). */
niti_status niti_bench_shape_run(niti_backend *be, niti_bench_shape *s, const niti_bench_cfg *cfg);

/* End-to-end throughput of one model. */
typedef struct niti_bench_train {
    char model[64];
    int batch, mu;
    int steps, repeats, warmup;
    int ran;                   /* 0: skipped (see skip_reason) */
    char skip_reason[200];
    int64_t macs_per_image;    /* forward multiply-accumulates per image */
    double train_step_s;       /* median seconds per training step (median over samples) */
    double train_img_s;        /* batch / train_step_s */
    double eval_batch_s;       /* median seconds per forward pass */
    double eval_img_s;
    size_t device_peak_bytes;  /* be->mem_peak while the network existed, minus what was live
                                  before it was created */
    size_t host_peak_rss_bytes; /* peak resident set of the process (0 if unknown) */
    int host_peak_scope_model; /* 1: the peak was reset before this model (Linux clear_refs),
                                  so it covers this model's run only; 0: process lifetime */
    size_t host_base_rss_bytes; /* resident set just before the network was created (what the
                                   process already held: runtime, earlier allocations) */
    int range_errors;          /* steps whose logits' exponent left the loss's range (timed
                                  anyway: the step still runs every op) */
} niti_bench_train;

/* Creates a network for m at batch on be (Xavier init), runs cfg->warmup untimed steps, then
 * cfg->repeats samples of cfg->steps training steps each on random inputs/labels; then the same
 * for forward passes. Fills r (r->model, r->batch, r->mu from the arguments). */
niti_status niti_bench_train_run(niti_backend *be, const niti_model_spec *m, int batch, int mu,
                                 const niti_bench_cfg *cfg, niti_bench_train *r);

/* Peak resident set size of this process in bytes: VmHWM from /proc/self/status, else
 * getrusage's ru_maxrss; 0 if neither is available. */
size_t niti_bench_host_peak_rss(void);
/* Current resident set size of this process in bytes (VmRSS; 0 if unknown). */
size_t niti_bench_host_rss(void);
/* Resets the peak resident set (writes 5 to /proc/self/clear_refs). Returns 1 on success. */
int niti_bench_reset_host_peak(void);

/* Median of n values (sorts v in place); 0 for n = 0. */
double niti_bench_median(double *v, int n);

#endif
