/* niti train, shared by its files: cmd_train.c (options and the command), train_run.c
 * (settling a new or resumed run before any work) and train_loop.c (the device, the epoch loop,
 * several processes). Internal to the CLI. */
#ifndef NITI_CLI_TRAIN_CMD_H
#define NITI_CLI_TRAIN_CMD_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backends.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/train_util.h"
#include "core/error.h"
#include "core/model.h"
#include "core/net.h"
#include "core/numerics.h"
#include "dist/dist.h"
#include "fp32/fp32.h"
#include "io/checkpoint.h"
#include "io/data.h"
#include "train/progress.h"
#include "train/train.h"

extern volatile sig_atomic_t interrupted;
extern niti_comm *world;

typedef struct options {
    const char *model, *dataset, *data, *epochs, *batch, *seed, *device, *precision, *rule,
        *act_round, *err_round, *mu, *master, *lr, *momentum, *wd, *lr_steps, *save, *resume,
        *init, *log, *label, *run_id, *eval_every, *train_limit, *test_limit, *max_steps,
        *augment, *val;
    int weight_decay, quiet;
} options;

/* Every option's value, parsed and range-checked; has_* / -1 = not given. */
typedef struct given {
    niti_model_spec *model;
    int has_dataset;
    niti_dataset_id dataset;
    long long epochs, batch, eval_every, train_limit, test_limit, max_steps, val; /* -1: not given */
    int has_seed;
    uint64_t seed;
    int fp32;                       /* -1 not given, 0 int8, 1 fp32 */
    int rule, act_round, err_round; /* -1 not given */
    int has_mu;
    char mu[256];                   /* canonical */
    int master16;                   /* -1 not given */
    int has_lr, has_momentum, has_wd, has_lr_steps;
    float lr, momentum, wd;
    char lr_steps[128];             /* canonical */
    int has_augment;
    char augment[NITI_AUGMENT_TEXT]; /* canonical (checked against the dataset later) */
} given;

typedef struct run {
    options o;
    given g;
    niti_run_state rs;     /* the run's state: what every checkpoint of it stores */
    niti_model_spec *model;
    niti_mu_schedule sched;
    niti_dataset_id did;
    niti_augment aug;      /* the run's training augmentation (rs.augment, or the default) */
    int fp32, resumed;
    int lr_steps[64], n_lr_steps;
    long long max_steps;   /* 0: none */
    const char *dev;       /* device spec in effect (NULL: the default choice) */
    const char *dev_from;  /* where it came from, for messages */
    const char *data_dir;  /* data folder given to the loader (NULL: the default search) */
    const char *data_from;
} run;

typedef struct loop {
    run *r;
    niti_net *net;
    niti_f32_net *fnet;
    const char *device_name;
    niti_dataset train, test, val; /* val: the last rs.val training images (--val) */
    int8_t tables[3][256];
    int classes, ntrain, steps_per_epoch;
    FILE *logf;
    int8_t *logits8;
    float *logitsf;
} loop;

int is_root(void);
void NITI_CLI_PRINTF(1, 2) note(const char *fmt, ...);
void on_sigint(int sig);
double now_s(void);
void fmt_time(double s, char *buf, size_t n);
void given_free(given *g);
int is_vgg(const niti_model_spec *m);
void run_free(run *r);
int settle_new(run *r, const niti_run_state *init_rs, niti_model_spec *init_model);
const char *round_name(int r);
int settle_resume(run *r, const niti_run_state *ck, niti_model_spec *ck_model);
float fp32_lr(const run *r, int epoch);
int check_applicable(run *r);
int settle_data(run *r);
int check_shapes(run *r);
int settle_files(run *r);
niti_status open_backend(const char *spec, int quiet, niti_backend **be);
niti_status evaluate(loop *L, const niti_dataset *d, int limit, int64_t *correct, int64_t *total,
                     double *loss);
int check_augment(run *r);
int split_val(loop *L);
void log_start(loop *L);
int same_run_everywhere(loop *L);
int run_loop(loop *L);

#endif
