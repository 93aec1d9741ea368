/* niti train: trains a network on MNIST, Fashion-MNIST or CIFAR-10, integer (default) or fp32.
 *
 * Every option and environment variable is honoured or refused with a clear error before any
 * work starts (loading data, opening a device, training). The order:
 *   1. parse every option's value (numbers, names, schedules);
 *   2. --resume / --init: read and verify the checkpoint (no device needed);
 *   3. settle the run: a new run's settings from the options and the model's defaults, or a
 *      resumed run's from its checkpoint, where an option that differs is refused (only --epochs,
 *      --device, --data, --save, --log and the limits may change; a changed limit is stated);
 *   4. check what the run will need: the dataset's shape against the model, the data folder,
 *      the checkpoint and log files, the environment (NITI_GEMM, NITI_DOT_EMULATE);
 *   5. then open the device, load the data and train.
 * The checkpoint keeps the run's --save, --log, data folder, limits and run id, so that
 * `niti train --resume CKPT` alone continues the run where, and as, it stopped. */
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

static const char *usage_text =
    "usage: niti train [options]\n"
    "\n"
    "Trains a network with integer-only arithmetic (or the fp32 baseline) and prints the test\n"
    "accuracy. With no options: LeNet on Fashion-MNIST for 1 epoch on the default device.\n"
    "Every option is either honoured or refused before any work starts.\n"
    "\n"
    "  --model M          preset (lenet, vgg-small-7, ...; see niti info --list), a spec file, or\n"
    "                     inline spec text (default lenet; with --init the checkpoint's model)\n"
    "  --dataset D        mnist | fashion-mnist | cifar10 (default: fashion-mnist for 28x28x1\n"
    "                     models, cifar10 for 32x32x3 models)\n"
    "  --data DIR         dataset folder, used or refused (else $NITI_DATA; with neither: ./data,\n"
    "                     and for Fashion-MNIST then /usr/share/datasets/fashion-mnist)\n"
    "  --epochs N         epochs to train (default 1; VGG presets 200)\n"
    "  --batch N          batch size (default 64; VGG presets 256)\n"
    "  --seed N           seed of initialisation, data order, augmentation, dropout and the\n"
    "                     loss's stochastic rounding (default 1)\n"
    "  --device D         ref | cpu | gpu | P:D | name substring (default: $NITI_DEVICE, else\n"
    "                     the first GPU, else the first CPU, else ref)\n"
    "  --precision P      int8 (default) | fp32 (float baseline, same data pipeline)\n"
    "  --rule R           niti21 (default) | niti20 (requantisation rule set)\n"
    "  --act-round R      round (default) | psr: rounding of activations (niti21)\n"
    "  --err-round R      round (default) | psr: rounding of errors (niti21)\n"
    "  --mu S             gradient bit-width schedule, e.g. 5,100:4,150:3 (mu 5 from epoch 0, 4\n"
    "                     from epoch 100, 3 from 150); default 0 (LeNet), 5,100:4,150:3 (VGG)\n"
    "  --weight-decay     integer weight decay (contract section 7)\n"
    "  --master-weights 16  keep 16-bit master weights (contract section 7)\n"
    "  --lr X, --momentum X, --wd X, --lr-steps E1,E2  fp32 only: SGD settings (defaults as the\n"
    "                     NITI authors: LeNet lr 0.01 momentum 0.5; VGG lr 0.01 momentum 0.9\n"
    "                     wd 5e-4, lr /10 at epoch 100)\n"
    "  --save CKPT        save a checkpoint after every epoch, at the end, and on Ctrl-C\n"
    "  --resume CKPT      continue a run from its checkpoint (bit-identical to not stopping);\n"
    "                     alone it saves, logs and reads data where the run did before. Options\n"
    "                     that equal the run's are accepted; only --epochs, --device, --data,\n"
    "                     --save, --log, --train-limit, --test-limit, --eval-every and\n"
    "                     --max-steps may differ\n"
    "  --init CKPT        start from a checkpoint's model and weights with a fresh run state\n"
    "  --log FILE         append JSON Lines records (start, epoch, stop, end) for niti plot; every\n"
    "                     record carries the run's id (\"run\"), a resumed run keeps its id\n"
    "  --label TEXT       the run's name in logs and plots\n"
    "  --run-id ID        the run's id in its log records (default: date, time and process id)\n"
    "  --eval-every N     evaluate on the test set every N epochs (default 1; 0 = only at end)\n"
    "  --train-limit N    use only the first N training images of each epoch's order\n"
    "  --test-limit N     evaluate only the first N test images\n"
    "  --max-steps N      stop after global step N (saving a checkpoint with --save), e.g. to\n"
    "                     split a long run; --resume continues it\n"
    "  --quiet            no progress output\n"
    "\n"
    "Environment: NITI_DEVICE (as --device), NITI_DATA (as --data), NITI_GEMM and\n"
    "NITI_DOT_EMULATE (the OpenCL GEMM path, see niti devices --help; refused with --device ref\n"
    "and --precision fp32, which have no such paths), NITI_CACHE_DIR (compiled kernels).\n";

static volatile sig_atomic_t interrupted;

/* Data-parallel training (mpirun -np R niti train, README "Scaling out"): every process runs
 * this command with the same options, holds the same weights and takes its slice of every
 * batch; only rank 0 prints progress, writes the log and saves checkpoints. */
static niti_comm *world;
static int is_root(void) { return !world || world->rank == 0; }

/* "niti: note: ..." on stderr, from rank 0 only. */
static void NITI_CLI_PRINTF(1, 2) note(const char *fmt, ...)
{
    if (!is_root()) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("niti: note: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_time(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* ---- the options ---- */

typedef struct options {
    const char *model, *dataset, *data, *epochs, *batch, *seed, *device, *precision, *rule,
        *act_round, *err_round, *mu, *master, *lr, *momentum, *wd, *lr_steps, *save, *resume,
        *init, *log, *label, *run_id, *eval_every, *train_limit, *test_limit, *max_steps;
    int weight_decay, quiet;
} options;

/* Every option's value, parsed and range-checked; has_* / -1 = not given. */
typedef struct given {
    niti_model_spec *model;
    int has_dataset;
    niti_dataset_id dataset;
    long long epochs, batch, eval_every, train_limit, test_limit, max_steps; /* -1: not given */
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
} given;

static int parse_round_opt(const char *name, const char *v, int *r)
{
    *r = -1;
    if (!v) return 1;
    if (!strcmp(v, "round")) *r = NITI_ROUND;
    else if (!strcmp(v, "psr")) *r = NITI_PSR;
    else {
        cli_error("--%s must be round or psr (got '%s')", name, v);
        return 0;
    }
    return 1;
}

static int parse_float_opt(const char *name, const char *v, int nonzero, float *out)
{
    char *end;
    errno = 0;
    float f = v && *v ? strtof(v, &end) : NAN;
    if (!v || !*v || *end || errno || !isfinite(f) || f < 0 || (nonzero && !(f > 0))) {
        cli_error("--%s must be a finite number %s 0 (got '%s')", name, nonzero ? ">" : ">=",
                  v ? v : "");
        return 0;
    }
    *out = f;
    return 1;
}

static int opt_ll(const char *name, const char *v, long long lo, long long hi, long long *out)
{
    *out = -1;
    return !v || cli_int("train", name, v, lo, hi, out);
}

static void given_free(given *g) { niti_model_free(g->model); }

/* Step 1: every value that was given, checked on its own. 0 on a usage error (printed). */
static int parse_given(const options *o, given *g)
{
    memset(g, 0, sizeof *g);
    g->fp32 = g->rule = g->master16 = -1;
    if (!opt_ll("epochs", o->epochs, 1, 1 << 24, &g->epochs) ||
        !opt_ll("batch", o->batch, 1, 1 << 16, &g->batch) ||
        !opt_ll("eval-every", o->eval_every, 0, 1 << 24, &g->eval_every) ||
        !opt_ll("train-limit", o->train_limit, 1, 1 << 30, &g->train_limit) ||
        !opt_ll("test-limit", o->test_limit, 1, 1 << 30, &g->test_limit) ||
        !opt_ll("max-steps", o->max_steps, 1, UINT32_MAX, &g->max_steps))
        return 0;
    if (o->seed) {
        if (!cli_parse_u64(o->seed, &g->seed)) {
            cli_error("--seed must be a whole number in 0..18446744073709551615 (got '%s')", o->seed);
            return 0;
        }
        g->has_seed = 1;
    }
    if (o->precision) {
        if (!strcmp(o->precision, "fp32")) g->fp32 = 1;
        else if (!strcmp(o->precision, "int8")) g->fp32 = 0;
        else {
            cli_error("--precision must be int8 or fp32 (got '%s')", o->precision);
            return 0;
        }
    }
    if (o->rule) {
        if (!strcmp(o->rule, "niti21")) g->rule = NITI_RULE_NITI21;
        else if (!strcmp(o->rule, "niti20")) g->rule = NITI_RULE_NITI20;
        else {
            cli_error("--rule must be niti21 or niti20 (got '%s')", o->rule);
            return 0;
        }
    }
    if (!parse_round_opt("act-round", o->act_round, &g->act_round) ||
        !parse_round_opt("err-round", o->err_round, &g->err_round))
        return 0;
    if (g->rule == NITI_RULE_NITI20 &&
        (g->act_round == NITI_ROUND || g->err_round == NITI_ROUND)) {
        cli_error("the niti20 rule set always uses psr for activations and errors");
        return 0;
    }
    if (o->mu) {
        niti_mu_schedule s;
        if (niti_mu_parse(o->mu, &s) != NITI_OK) {
            cli_error("--mu: %s", niti_last_error());
            return 0;
        }
        niti_mu_format(&s, g->mu, sizeof g->mu);
        g->has_mu = 1;
    }
    if (o->master) {
        if (strcmp(o->master, "16")) {
            cli_error("--master-weights takes 16 (got '%s')", o->master);
            return 0;
        }
        g->master16 = 1;
    }
    if ((o->lr && !parse_float_opt("lr", o->lr, 1, &g->lr)) ||
        (o->momentum && !parse_float_opt("momentum", o->momentum, 0, &g->momentum)) ||
        (o->wd && !parse_float_opt("wd", o->wd, 0, &g->wd)))
        return 0;
    g->has_lr = !!o->lr, g->has_momentum = !!o->momentum, g->has_wd = !!o->wd;
    if (o->lr_steps) {
        if (!cli_canonical_lr_steps(o->lr_steps, g->lr_steps, sizeof g->lr_steps)) {
            cli_error("--lr-steps must be increasing epochs like 100,150 (got '%s')", o->lr_steps);
            return 0;
        }
        g->has_lr_steps = 1;
    }
    if (o->dataset) {
        if (niti_dataset_parse_name(o->dataset, &g->dataset) != NITI_OK) {
            cli_error("--dataset: %s", niti_last_error());
            return 0;
        }
        g->has_dataset = 1;
    }
    if (o->model && niti_model_from_arg(o->model, &g->model) != NITI_OK) {
        cli_error("--model: %s", niti_last_error());
        return 0;
    }
    if (o->label && strlen(o->label) >= sizeof(((niti_run_state *)0)->label)) {
        cli_error("--label is too long (at most %zu bytes)", sizeof(((niti_run_state *)0)->label) - 1);
        return 0;
    }
    if (o->run_id && !cli_valid_run_id(o->run_id)) {
        cli_error("--run-id must be 1 to 63 printable characters without quotes or backslashes "
                  "(got '%s')", o->run_id);
        return 0;
    }
    return 1;
}

static int is_vgg(const niti_model_spec *m) { return m->name && !strncmp(m->name, "vgg", 3); }

/* ---- the run ---- */

typedef struct run {
    options o;
    given g;
    niti_run_state rs;     /* the run's state: what every checkpoint of it stores */
    niti_model_spec *model;
    niti_mu_schedule sched;
    niti_dataset_id did;
    int fp32, resumed;
    int lr_steps[64], n_lr_steps;
    long long max_steps;   /* 0: none */
    const char *dev;       /* device spec in effect (NULL: the default choice) */
    const char *dev_from;  /* where it came from, for messages */
    const char *data_dir;  /* data folder given to the loader (NULL: the default search) */
    const char *data_from;
} run;

static void run_free(run *r)
{
    given_free(&r->g);
    niti_model_free(r->model);
}

static void default_label(run *r)
{
    snprintf(r->rs.label, sizeof r->rs.label, "%s %s %s", r->fp32 ? "fp32" : "int8",
             r->model->name ? r->model->name : "custom", niti_dataset_name(r->did));
}

/* A new run: its settings from the options and the model's defaults. */
static int settle_new(run *r, const niti_run_state *init_rs, niti_model_spec *init_model)
{
    const given *g = &r->g;
    niti_run_state *rs = &r->rs;
    memset(rs, 0, sizeof *rs);
    niti_train_cfg_default(&rs->cfg);
    rs->cfg.seed = 1;
    if (init_model && g->model && strcmp(init_model->canonical, g->model->canonical)) {
        cli_error("--init: the checkpoint's model (%s) is not --model (%s); omit --model to "
                  "train the checkpoint's model", init_model->canonical, g->model->canonical);
        return 0;
    }
    const niti_model_spec *src = init_model ? init_model : g->model;
    if (src) {
        if (niti_model_copy(src, &r->model) != NITI_OK) {
            cli_error("%s", niti_last_error());
            return 0;
        }
    } else if (niti_model_from_arg("lenet", &r->model) != NITI_OK) {
        cli_error("%s", niti_last_error());
        return 0;
    }
    r->fp32 = g->fp32 == 1;
    if (init_rs && (strcmp(init_rs->precision, "fp32") == 0) != r->fp32) {
        cli_error("--init: %s holds the weights of an %s run; this run is %s (%s)", r->o.init,
                  init_rs->precision, r->fp32 ? "fp32" : "int8",
                  r->fp32 ? "drop --precision fp32" : "add --precision fp32");
        return 0;
    }
    int vgg = is_vgg(r->model);
    rs->batch = g->batch > 0 ? (int)g->batch : vgg ? 256 : 64;
    rs->epochs = g->epochs > 0 ? (int)g->epochs : vgg ? 200 : 1;
    if (g->has_seed) rs->cfg.seed = g->seed;
    snprintf(rs->mu, sizeof rs->mu, "%s", g->has_mu ? g->mu : vgg ? "5,100:4,150:3" : "0");
    if (g->rule >= 0) rs->cfg.rule = (niti_rule)g->rule;
    if (g->act_round >= 0) rs->cfg.act_round = (niti_rounding)g->act_round;
    if (g->err_round >= 0) rs->cfg.err_round = (niti_rounding)g->err_round;
    if (rs->cfg.rule == NITI_RULE_NITI20) rs->cfg.act_round = rs->cfg.err_round = NITI_PSR;
    rs->cfg.weight_decay = r->o.weight_decay;
    rs->cfg.master16 = g->master16 == 1;
    snprintf(rs->precision, sizeof rs->precision, "%s", r->fp32 ? "fp32" : "int8");
    if (r->fp32) {
        rs->lr = g->has_lr ? g->lr : 0.01f;
        rs->momentum = g->has_momentum ? g->momentum : vgg ? 0.9f : 0.5f;
        rs->weight_decay = g->has_wd ? g->wd : vgg ? 5e-4f : 0.0f;
        snprintf(rs->lr_steps, sizeof rs->lr_steps, "%s", g->has_lr_steps ? g->lr_steps
                                                          : vgg                ? "100"
                                                                               : "");
    }
    /* the dataset: --dataset, else (with --init) the checkpoint's, else the model's kind */
    if (g->has_dataset) r->did = g->dataset;
    else if (init_rs && init_rs->dataset[0] &&
             niti_dataset_parse_name(init_rs->dataset, &r->did) == NITI_OK)
        ;
    else r->did = r->model->in_c == 3 ? NITI_DATA_CIFAR10 : NITI_DATA_FASHION_MNIST;
    snprintf(rs->dataset, sizeof rs->dataset, "%s", niti_dataset_name(r->did));
    rs->train_limit = g->train_limit > 0 ? (int)g->train_limit : 0;
    rs->test_limit = g->test_limit > 0 ? (int)g->test_limit : 0;
    rs->eval_every = g->eval_every < 0 ? 1 : g->eval_every == 0 ? -1 : (int)g->eval_every;
    if (r->o.label) snprintf(rs->label, sizeof rs->label, "%s", r->o.label);
    else default_label(r);
    if (r->o.run_id) snprintf(rs->run_id, sizeof rs->run_id, "%s", r->o.run_id);
    else cli_new_run_id(rs->run_id, sizeof rs->run_id);
    return 1;
}

/* differences between the options and a checkpoint, "--opt X (the run's: Y)", comma-separated */
typedef struct diffs {
    char text[4096];
    int n;
} diffs;

static void NITI_CLI_PRINTF(2, 3) add_diff(diffs *d, const char *fmt, ...)
{
    size_t len = strlen(d->text);
    if (len + 4 >= sizeof d->text) return;
    if (d->n++) len += (size_t)snprintf(d->text + len, sizeof d->text - len, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->text + len, sizeof d->text - len, fmt, ap);
    va_end(ap);
}

/* A preset's name, else the spec. */
static const char *model_words(const niti_model_spec *m)
{
    return m->name && strcmp(m->name, "custom") ? m->name : m->canonical;
}

static const char *round_name(int r) { return r == NITI_PSR ? "psr" : "round"; }

/* A resumed run: the checkpoint's settings; an option that differs from them is refused. */
static int settle_resume(run *r, const niti_run_state *ck, niti_model_spec *ck_model)
{
    const given *g = &r->g;
    const options *o = &r->o;
    const niti_run_state *c = ck;
    diffs d = {"", 0};
    int ck_fp32 = !strcmp(c->precision, "fp32");
    if (g->model && strcmp(g->model->canonical, ck_model->canonical))
        add_diff(&d, "--model '%s' (the run's: '%s')", model_words(g->model), model_words(ck_model));
    if (g->has_dataset && strcmp(niti_dataset_name(g->dataset), c->dataset))
        add_diff(&d, "--dataset %s (the run's: %s)", niti_dataset_name(g->dataset),
                 c->dataset[0] ? c->dataset : "none recorded");
    if (g->batch > 0 && g->batch != c->batch)
        add_diff(&d, "--batch %lld (the run's: %d)", g->batch, c->batch);
    if (g->has_seed && g->seed != c->cfg.seed)
        add_diff(&d, "--seed %llu (the run's: %llu)", (unsigned long long)g->seed,
                 (unsigned long long)c->cfg.seed);
    if (g->fp32 >= 0 && g->fp32 != ck_fp32)
        add_diff(&d, "--precision %s (the run's: %s)", g->fp32 ? "fp32" : "int8", c->precision);
    if (g->rule >= 0 && g->rule != (int)c->cfg.rule)
        add_diff(&d, "--rule %s (the run's: %s)", g->rule == NITI_RULE_NITI20 ? "niti20" : "niti21",
                 c->cfg.rule == NITI_RULE_NITI20 ? "niti20" : "niti21");
    if (g->act_round >= 0 && g->act_round != (int)c->cfg.act_round)
        add_diff(&d, "--act-round %s (the run's: %s)", round_name(g->act_round),
                 round_name(c->cfg.act_round));
    if (g->err_round >= 0 && g->err_round != (int)c->cfg.err_round)
        add_diff(&d, "--err-round %s (the run's: %s)", round_name(g->err_round),
                 round_name(c->cfg.err_round));
    if (g->has_mu) {
        niti_mu_schedule s;
        char canon[256] = "";
        if (niti_mu_parse(c->mu, &s) == NITI_OK) niti_mu_format(&s, canon, sizeof canon);
        if (strcmp(canon, g->mu)) add_diff(&d, "--mu %s (the run's: %s)", g->mu, c->mu);
    }
    if (g->master16 == 1 && !c->cfg.master16)
        add_diff(&d, "--master-weights 16 (the run has no master weights)");
    if (o->weight_decay && !c->cfg.weight_decay)
        add_diff(&d, "--weight-decay (the run has no weight decay)");
    if (ck_fp32) {
        if (g->has_lr && g->lr != c->lr) add_diff(&d, "--lr %s (the run's: %g)", o->lr, (double)c->lr);
        if (g->has_momentum && g->momentum != c->momentum)
            add_diff(&d, "--momentum %s (the run's: %g)", o->momentum, (double)c->momentum);
        if (g->has_wd && g->wd != c->weight_decay)
            add_diff(&d, "--wd %s (the run's: %g)", o->wd, (double)c->weight_decay);
        if (g->has_lr_steps && strcmp(g->lr_steps, c->lr_steps))
            add_diff(&d, "--lr-steps %s (the run's: %s)", g->lr_steps,
                     c->lr_steps[0] ? c->lr_steps : "none");
    }
    if (o->label && c->label[0] && strcmp(o->label, c->label))
        add_diff(&d, "--label '%s' (the run's: '%s')", o->label, c->label);
    if (o->run_id && c->run_id[0] && strcmp(o->run_id, c->run_id))
        add_diff(&d, "--run-id %s (the run's: %s)", o->run_id, c->run_id);
    if (d.n) {
        cli_error("--resume continues the run stored in %s, and %s from it: %s. Only --epochs, "
                  "--device, --data, --save, --log, --train-limit, --test-limit, --eval-every and "
                  "--max-steps may change when resuming; drop the other%s, or start a new run "
                  "(--init %s starts from its weights)", o->resume,
                  d.n == 1 ? "this option differs" : "these options differ", d.text,
                  d.n == 1 ? "" : "s", o->resume);
        return 0;
    }
    /* the run's settings, then what may change */
    r->rs = *c;
    r->model = ck_model;
    r->fp32 = ck_fp32;
    r->resumed = 1;
    niti_run_state *rs = &r->rs;
    if (niti_dataset_parse_name(rs->dataset[0] ? rs->dataset : (ck_model->in_c == 3 ? "cifar10"
                                                                                   : "fashion-mnist"),
                                &r->did) != NITI_OK) {
        cli_error("checkpoint %s: %s", o->resume, niti_last_error());
        return 0;
    }
    snprintf(rs->dataset, sizeof rs->dataset, "%s", niti_dataset_name(r->did));
    if (!rs->label[0]) {
        if (o->label) snprintf(rs->label, sizeof rs->label, "%s", o->label);
        else default_label(r);
    }
    if (!rs->run_id[0]) { /* a checkpoint from before run ids: a new id for the series */
        if (o->run_id) snprintf(rs->run_id, sizeof rs->run_id, "%s", o->run_id);
        else cli_new_run_id(rs->run_id, sizeof rs->run_id);
    }
    if (g->epochs > 0) rs->epochs = (int)g->epochs;
    if (rs->epoch >= rs->epochs && rs->batch_pos == 0) {
        cli_error("the run in %s has finished its %d epoch%s; give --epochs N with N > %d to "
                  "train it further", o->resume, rs->epoch, rs->epoch == 1 ? "" : "s", rs->epoch);
        return 0;
    }
    if (rs->epoch >= rs->epochs) {
        cli_error("--epochs %d: the run in %s is already in epoch %d; give --epochs %d or more",
                  rs->epochs, o->resume, rs->epoch + 1, rs->epoch + 1);
        return 0;
    }
    /* the limits may change; say so */
    struct {
        const char *name;
        long long given;
        int *field;
    } lim[] = {{"train-limit", g->train_limit, &rs->train_limit},
               {"test-limit", g->test_limit, &rs->test_limit}};
    for (int i = 0; i < 2; i++) {
        if (lim[i].given < 0 || lim[i].given == *lim[i].field) continue;
        char was[32];
        if (*lim[i].field) snprintf(was, sizeof was, "%d", *lim[i].field);
        else snprintf(was, sizeof was, "none");
        note("--%s %lld replaces the run's %s from here on\n", lim[i].name,
                lim[i].given, was);
        *lim[i].field = (int)lim[i].given;
    }
    if (g->eval_every >= 0) {
        int e = g->eval_every == 0 ? -1 : (int)g->eval_every;
        int was = rs->eval_every ? rs->eval_every : 1;
        if (e != was)
            note("--eval-every %lld replaces the run's %d from here on\n",
                    g->eval_every, was < 0 ? 0 : was);
        rs->eval_every = e;
    }
    return 1;
}

/* The fp32 learning rate of an epoch: lr / 10 at each of the run's lr steps. */
static float fp32_lr(const run *r, int epoch)
{
    float lr = r->rs.lr;
    for (int i = 0; i < r->n_lr_steps; i++)
        if (epoch >= r->lr_steps[i]) lr /= 10;
    return lr;
}

/* The options that only one precision has, and the environment, checked against the run. */
static int check_applicable(run *r)
{
    const options *o = &r->o;
    if (r->fp32) {
        const char *int_only[] = {o->rule ? "--rule" : NULL,
                                  o->act_round ? "--act-round" : NULL,
                                  o->err_round ? "--err-round" : NULL,
                                  o->mu ? "--mu" : NULL,
                                  o->master ? "--master-weights" : NULL,
                                  o->weight_decay ? "--weight-decay" : NULL};
        char names[128] = "";
        for (size_t i = 0; i < sizeof int_only / sizeof *int_only; i++)
            if (int_only[i])
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         names[0] ? ", " : "", int_only[i]);
        if (names[0]) {
            cli_error("%s %s for the integer path; the fp32 baseline trains with SGD (--lr, "
                      "--momentum, --wd, --lr-steps)", names, strchr(names, ',') ? "are" : "is");
            return 0;
        }
    } else if (o->lr || o->momentum || o->wd || o->lr_steps) {
        cli_error("--lr, --momentum, --wd and --lr-steps are for --precision fp32; the integer "
                  "path's learning rate is --mu");
        return 0;
    }
    return cli_check_gemm_env(r->dev, r->fp32);
}

/* Data folder: --data, else $NITI_DATA, else (resuming) the run's folder, else the default. */
static int settle_data(run *r)
{
    const char *env = getenv("NITI_DATA");
    if (r->o.data && *r->o.data) r->data_dir = r->o.data, r->data_from = "--data";
    else if (env && *env) r->data_dir = NULL, r->data_from = "NITI_DATA"; /* the loader reads it */
    else if (r->resumed && r->rs.data[0]) r->data_dir = r->rs.data, r->data_from = "the run's";
    else r->data_dir = NULL, r->data_from = "default";
    char train_dir[1024], test_dir[1024];
    if (niti_dataset_locate(r->did, r->data_dir, 1, train_dir, sizeof train_dir) != NITI_OK ||
        niti_dataset_locate(r->did, r->data_dir, 0, test_dir, sizeof test_dir) != NITI_OK) {
        if (!strcmp(r->data_from, "the run's"))
            cli_error("%s (the folder the run in %s used; give --data DIR where the dataset is "
                      "now)", niti_last_error(), r->o.resume);
        else cli_error("%s", niti_last_error());
        return 0;
    }
    if (r->resumed && r->rs.data[0] && strcmp(train_dir, r->rs.data))
        note("reading %s from %s (%s); the run used %s\n", r->rs.dataset,
                train_dir, r->data_from, r->rs.data);
    snprintf(r->rs.data, sizeof r->rs.data, "%s", train_dir);
    return 1;
}

/* The shapes: the dataset's images and classes against the model, with a preset to suggest. */
static int check_shapes(run *r)
{
    int h, w, c;
    niti_dataset_shape(r->did, &h, &w, &c);
    const niti_model_spec *m = r->model;
    if (m->in_h != h || m->in_w != w || m->in_c != c) {
        cli_error("the model takes %dx%dx%d images but %s has %dx%dx%d; %s", m->in_h, m->in_w,
                  m->in_c, niti_dataset_name(r->did), h, w, c,
                  c == 3 ? "for CIFAR-10 use a 32x32x3 model, e.g. --model vgg-small-7 (niti info "
                           "--list shows the presets)"
                         : "for MNIST and Fashion-MNIST use a 28x28x1 model, e.g. --model lenet");
        return 0;
    }
    if (niti_model_classes(m) < 10) {
        cli_error("the model has %d outputs but %s has 10 classes; end the model with linear 10",
                  niti_model_classes(m), niti_dataset_name(r->did));
        return 0;
    }
    return 1;
}

/* --save and --log: absolute paths (the checkpoint keeps them), and both writable. */
static int settle_files(run *r)
{
    niti_run_state *rs = &r->rs;
    if (r->o.save) {
        if (!cli_abs_path(r->o.save, rs->save, sizeof rs->save)) {
            cli_error("cannot write the checkpoint %s (its folder does not exist, or the path is "
                      "too long)", r->o.save);
            return 0;
        }
    }
    if (rs->save[0] && !cli_check_writable(rs->save)) {
        cli_error("cannot write the checkpoint %s%s (is its folder missing or read-only, or is it "
                  "a folder?)", rs->save, r->o.save ? "" : " (the run's --save; give --save to "
                  "save elsewhere)");
        return 0;
    }
    if (r->o.log) {
        if (!cli_abs_path(r->o.log, rs->log, sizeof rs->log)) {
            cli_error("cannot open the log file %s (its folder does not exist, or the path is too "
                      "long)", r->o.log);
            return 0;
        }
    }
    if (rs->log[0]) {
        FILE *f = fopen(rs->log, "a");
        if (!f) {
            cli_error("cannot open the log file %s for appending: %s%s", rs->log, strerror(errno),
                      r->o.log ? "" : " (the run's --log; give --log to log elsewhere)");
            return 0;
        }
        fclose(f);
    }
    return 1;
}

/* ---- opening the device, with word of kernels being compiled ---- */

typedef struct open_watch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, said;
    const char *name;
} open_watch;

static void *watch_open(void *arg)
{
    open_watch *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 500 * 1000000L;
    until.tv_sec += 1; /* 1.5 s: opening from the cache takes less */
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until)) break;
    if (!w->done) {
        fprintf(stderr, "compiling kernels for %s... (once after a change of kernels or driver; "
                        "cached for later runs)\n", w->name);
        w->said = 1;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* niti_backend_open, and if it takes a while, "compiling kernels for DEVICE..." on stderr while
 * it compiles (library code prints nothing; the backend says afterwards whether its kernels
 * came from the cache). */
static niti_status open_backend(const char *spec, int quiet, niti_backend **be)
{
    char name[300];
    if (quiet || niti_backend_peek(spec, name, sizeof name) != NITI_OK || !strcmp(name, "ref"))
        return niti_backend_open(spec, be);
    open_watch w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, name};
    pthread_t th;
    int threaded = pthread_create(&th, NULL, watch_open, &w) == 0;
    double t0 = now_s();
    niti_status s = niti_backend_open(spec, be);
    if (threaded) {
        pthread_mutex_lock(&w.mu);
        w.done = 1;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(th, NULL);
    }
    if (s == NITI_OK && niti_backend_kernels_from_cache(*be) == 0)
        fprintf(stderr, "compiled kernels for %s in %.1f s (cached for later runs)\n", name,
                now_s() - t0);
    return s;
}

/* ---- the training loop ---- */

typedef struct loop {
    run *r;
    niti_net *net;
    niti_f32_net *fnet;
    const char *device_name;
    niti_dataset train, test;
    int8_t tables[3][256];
    int classes, ntrain, steps_per_epoch;
    FILE *logf;
    int8_t *logits8;
    float *logitsf;
} loop;

static niti_status step_batch(loop *L, const int8_t *in, const int32_t *lab, int n, int mu,
                              float lr, uint32_t t, double *loss, int *correct)
{
    int C = L->classes;
    *correct = 0;
    *loss = 0;
    if (L->fnet) {
        niti_status s = niti_f32_train_step(L->fnet, in, lab, n, lr, t, L->logitsf, loss);
        if (s != NITI_OK) return s;
        for (int i = 0; i < n; i++) {
            const float *o = L->logitsf + (size_t)i * C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (o[c] > o[best]) best = c;
            *correct += best == lab[i];
        }
        return NITI_OK;
    }
    niti_status s = niti_net_train_step(L->net, in, lab, n, mu, t, L->logits8);
    if (s != NITI_OK) return s;
    int e = niti_net_out_exp(L->net);
    for (int i = 0; i < n; i++) {
        const int8_t *o = L->logits8 + (size_t)i * C;
        *correct += niti_argmax_i8(o, C) == lab[i];
        *loss += niti_display_loss(o, C, lab[i], e);
    }
    return NITI_OK;
}

static niti_status evaluate(loop *L, int64_t *correct, int64_t *total, double *loss)
{
    int batch = L->r->rs.batch, limit = L->r->rs.test_limit;
    if (L->net) return niti_evaluate(L->net, &L->test, L->tables, batch, limit, correct, total, NULL, loss);
    return niti_f32_evaluate(L->fnet, &L->test, L->tables, batch, limit, correct, total, NULL,
                             loss);
}

static int save_ckpt(loop *L, const niti_run_state *rs, int quiet)
{
    const char *path = L->r->rs.save;
    if (!path[0] || !is_root()) return 1;
    niti_status s = L->fnet ? niti_f32_checkpoint_save(L->fnet, rs, path)
                            : niti_checkpoint_save(L->net, rs, path);
    if (s != NITI_OK) {
        cli_error("%s", niti_last_error());
        return 0;
    }
    char where[96];
    cli_describe_position(rs, where, sizeof where);
    if (!quiet) fprintf(stderr, "saved checkpoint %s: %s\n", path, where);
    return 1;
}

static void log_head(loop *L, const char *event)
{
    fprintf(L->logf, "{\"event\":\"%s\",\"run\":", event);
    cli_json_str(L->logf, L->r->rs.run_id);
}

static void log_start(loop *L)
{
    run *r = L->r;
    niti_run_state *rs = &r->rs;
    log_head(L, "start");
    fprintf(L->logf, ",\"label\":");
    cli_json_str(L->logf, rs->label);
    fprintf(L->logf, ",\"model\":");
    cli_json_str(L->logf, r->model->name ? r->model->name : "custom");
    fprintf(L->logf, ",\"spec\":");
    cli_json_str(L->logf, r->model->canonical);
    fprintf(L->logf, ",\"dataset\":\"%s\",\"data\":", rs->dataset);
    cli_json_str(L->logf, L->train.source);
    fprintf(L->logf, ",\"train_images\":%d,\"train_limit\":%d,\"test_limit\":%d,\"precision\":\"%s\","
                     "\"device\":", L->ntrain, rs->train_limit, rs->test_limit, rs->precision);
    cli_json_str(L->logf, L->device_name);
    fprintf(L->logf, ",\"batch\":%d,\"epochs\":%d,\"seed\":%llu", rs->batch, rs->epochs,
            (unsigned long long)rs->cfg.seed);
    if (r->fp32) {
        fprintf(L->logf, ",\"lr\":%.9g,\"momentum\":%.9g,\"wd\":%.9g,\"lr_steps\":", (double)rs->lr,
                (double)rs->momentum, (double)rs->weight_decay);
        cli_json_str(L->logf, rs->lr_steps);
    } else {
        fprintf(L->logf, ",\"rule\":\"%s\",\"act_round\":\"%s\",\"err_round\":\"%s\",\"mu\":",
                rs->cfg.rule == NITI_RULE_NITI20 ? "niti20" : "niti21",
                round_name(rs->cfg.act_round), round_name(rs->cfg.err_round));
        cli_json_str(L->logf, rs->mu);
    }
    if (rs->save[0]) {
        fprintf(L->logf, ",\"save\":");
        cli_json_str(L->logf, rs->save);
    }
    fprintf(L->logf, ",\"resumed_at_step\":%u}\n", rs->step);
    fflush(L->logf);
}

/* ---- several processes: the same run everywhere ---- */

/* FNV-1a over 64-bit words (and the tail bytes): fast enough for a whole dataset at start-up. */
static uint64_t fnv_words(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * UINT64_C(0x100000001b3);
    }
    for (; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}
static uint64_t fnv_str(uint64_t h, const char *s) { return fnv_words(h, s, strlen(s) + 1); }
static uint64_t fnv_int(uint64_t h, long long v) { return fnv_words(h, &v, sizeof v); }

static uint64_t fnv_dataset(uint64_t h, const niti_dataset *d)
{
    h = fnv_int(h, d->id), h = fnv_int(h, d->n), h = fnv_int(h, d->h), h = fnv_int(h, d->w);
    h = fnv_int(h, d->c), h = fnv_int(h, d->classes);
    h = fnv_words(h, d->pixels, (size_t)d->n * d->h * d->w * d->c);
    return fnv_words(h, d->labels, (size_t)d->n);
}

/* Every process must train the same run: the ranks compare hashes of (0) the model spec and
 * every setting that enters the arithmetic or the data order, with the position in the run,
 * (1) the training and test sets as loaded, (2) the starting weights. A rank that differs from
 * rank 0 says so (and rank 0 names every such rank); the job then ends. */
static int same_run_everywhere(loop *L)
{
    const run *r = L->r;
    const niti_run_state *rs = &r->rs;
    uint64_t h[3], init = UINT64_C(0xcbf29ce484222325);
    h[0] = fnv_str(init, r->model->canonical);
    h[0] = fnv_str(h[0], rs->precision), h[0] = fnv_str(h[0], rs->mu);
    long long v[] = {rs->cfg.rule, rs->cfg.act_round, rs->cfg.err_round, (long long)rs->cfg.seed,
                     rs->cfg.weight_decay, rs->cfg.master16, rs->batch, rs->epochs,
                     rs->train_limit, rs->test_limit, rs->eval_every, r->max_steps, rs->epoch,
                     rs->step, rs->batch_pos, L->ntrain, L->steps_per_epoch};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) h[0] = fnv_int(h[0], v[i]);
    h[1] = fnv_dataset(fnv_dataset(fnv_str(init, rs->dataset), &L->train), &L->test);
    h[2] = init;
    for (int l = 0; l < r->model->n_layers; l++) {
        if (!niti_layer_has_weights(&r->model->layers[l])) continue;
        size_t n = (size_t)niti_layer_params(&r->model->layers[l]);
        int8_t *w = malloc(n);
        int16_t *m = rs->cfg.master16 ? malloc(n * 2) : NULL;
        int e = 0;
        niti_status st = w && (m || !rs->cfg.master16) ? niti_net_get_weights(L->net, l, w, &e)
                                                        : NITI_ERR_NOMEM;
        if (st == NITI_OK && m) st = niti_net_get_master(L->net, l, m);
        if (st == NITI_OK) {
            h[2] = fnv_int(fnv_words(h[2], w, n), e);
            if (m) h[2] = fnv_words(h[2], m, n * 2);
        }
        free(w), free(m);
        if (st != NITI_OK) {
            cli_error("reading the weights: %s", niti_last_error());
            return 0;
        }
    }
    int R = world->size;
    uint64_t *all = malloc(sizeof *all * 3 * (size_t)R);
    if (!all || niti_dist_allgather_u64(h, 3, all) != 0) {
        cli_error("comparing the processes' runs: %s", all ? niti_last_error() : "out of memory");
        free(all);
        return 0;
    }
    static const char *const what[3] = {
        "model or options (--model, --batch, --seed, --mu, --rule, limits, the checkpoint's "
        "position)", "dataset (the files under --data)", "starting weights (--resume / --init "
        "checkpoint)"};
    /* every rank knows the verdict; rank 0 names each difference, and no rank ends the job
     * before it has (the barrier) */
    int ok = 1;
    for (int q = 1; q < R; q++)
        for (int k = 0; k < 3; k++) {
            if (all[3 * q + k] == all[k]) continue;
            ok = 0;
            if (is_root())
                cli_error("rank %d's %s differ%s from rank 0's (hash %016llx, rank 0: %016llx): "
                          "every process must train the same run", q, what[k],
                          k == 1 ? "s" : "", (unsigned long long)all[3 * q + k],
                          (unsigned long long)all[k]);
        }
    free(all);
    if (!ok) niti_dist_barrier();
    return ok;
}

/* Under mpirun: the time of a training step (after the first), split into the collectives
 * (their calls, waiting for the slowest process included) and the rest (compute, transfers to
 * and from the device, batch assembly), with the bytes each process gives to the collectives. */
typedef struct step_times {
    long steps;
    double seconds, cpu_seconds;
    niti_comm_stats comm;
} step_times;

/* CPU time of this process (all its threads: the host and POCL's workers) */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void print_step_times(const step_times *t)
{
    double n = (double)t->steps;
    fprintf(stderr, "niti: %d process%s: %ld steps timed (after the first): %.1f ms per step = "
                    "%.1f ms compute + %.1f ms communication (%.0f collectives, %.0f bytes sent "
                    "per step by each process); CPU time %.1f ms per step and process\n",
            world->size, world->size == 1 ? "" : "es", t->steps, 1e3 * t->seconds / n,
            1e3 * (t->seconds - t->comm.seconds) / n, 1e3 * t->comm.seconds / n,
            (double)t->comm.calls / n, (double)t->comm.bytes / n, 1e3 * t->cpu_seconds / n);
}

static int run_loop(loop *L)
{
    run *r = L->r;
    niti_run_state *rs = &r->rs;
    int quiet = r->o.quiet, batch = rs->batch, C = L->classes;
    size_t img = (size_t)L->train.h * L->train.w * L->train.c;
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)L->train.n);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)batch);
    int8_t *in = malloc((size_t)batch * img);
    double *sat_frac = malloc(sizeof(double) * (size_t)r->model->n_layers);
    int *shift_of = malloc(sizeof(int) * (size_t)r->model->n_layers);
    L->logits8 = malloc((size_t)batch * C);
    L->logitsf = malloc(sizeof(float) * (size_t)batch * C);
    int rc = 1;
    if (!perm || !idx || !lab || !in || !sat_frac || !shift_of || !L->logits8 || !L->logitsf) {
        cli_error("out of memory");
        goto done;
    }
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    int tty = isatty(2) && !quiet;
    double t_start = now_s();
    double last_acc = -1;
    int64_t last_correct = 0, last_total = 0;
    int augment = r->did == NITI_DATA_CIFAR10;
    /* Several processes stop together: whether any was interrupted is agreed before each step
     * (stop); one process reads the flag itself. */
    int R = world->size, stop = 0;
#define STOPPING() (R > 1 ? stop : interrupted)
    /* time per step after the first (kernels compiled, caches warm), and the collectives' share */
    step_times times = {0, 0, 0, {0, 0, 0}};
    int warm = 0;
    rc = 0;
    for (; rs->epoch < rs->epochs; rs->epoch++, rs->batch_pos = 0) {
        int mu = r->fp32 ? 0 : niti_mu_at(&r->sched, rs->epoch);
        float lr = r->fp32 ? fp32_lr(r, rs->epoch) : 0;
        niti_shuffle(rs->cfg.seed, (uint32_t)rs->epoch, L->train.n, perm);
        /* With --train-limit the epoch uses the first N images of the shuffled order. */
        if (rs->batch_pos == 0) rs->epoch_loss_sum = 0, rs->epoch_correct = rs->epoch_seen = 0;
        double ep_t0 = now_s(), last_print = 0;
        /* the epoch so far: from the checkpoint when it resumes one in the middle */
        double loss_sum = rs->batch_pos ? rs->epoch_loss_sum : 0;
        int64_t ep_correct = rs->batch_pos ? rs->epoch_correct : 0;
        int64_t ep_seen = rs->batch_pos ? rs->epoch_seen : 0, ep_seen0 = ep_seen;
        niti_progress prog;
        niti_progress_start(&prog, ep_t0);
        for (; rs->batch_pos < L->steps_per_epoch; rs->batch_pos++) {
            if (R > 1) {
                stop = niti_dist_any(interrupted);
                if (stop < 0) {
                    cli_error("epoch %d step %u: %s", rs->epoch + 1, rs->step, niti_last_error());
                    rc = 1;
                    goto out_sig;
                }
            }
            if (STOPPING() || (r->max_steps && rs->step >= r->max_steps)) break;
            int start = rs->batch_pos * batch;
            int cnt = L->ntrain - start < batch ? L->ntrain - start : batch;
            for (int i = 0; i < cnt; i++) idx[i] = perm[start + i];
            /* this process's slice of the batch (all of it in one process); the labels of all */
            int first = 0, mine = cnt;
            niti_batch_slice(cnt, world->rank, R, &first, &mine);
            niti_make_batch_at(&L->train, idx + first, mine, first, L->tables, augment,
                               rs->cfg.seed, rs->step, in, NULL);
            for (int i = 0; i < cnt; i++) lab[i] = L->train.labels[idx[i]];
            double l, t_step = now_s(), c_step = cpu_s();
            int ok;
            niti_comm_stats c0 = {0, 0, 0}, c1 = {0, 0, 0};
            if (L->net) niti_net_comm_stats(L->net, &c0);
            niti_status st = step_batch(L, in, lab, cnt, mu, lr, rs->step, &l, &ok);
            if (st == NITI_OK && L->net) {
                niti_net_comm_stats(L->net, &c1);
                if (warm++) { /* the first step (kernels, caches) is not timed */
                    times.steps++;
                    times.seconds += now_s() - t_step;
                    times.cpu_seconds += cpu_s() - c_step;
                    times.comm.calls += c1.calls - c0.calls;
                    times.comm.bytes += c1.bytes - c0.bytes;
                    times.comm.seconds += c1.seconds - c0.seconds;
                }
            }
            if (st != NITI_OK) {
                if (tty) fputc('\n', stderr);
                cli_error("epoch %d step %u: %s", rs->epoch + 1, rs->step, niti_last_error());
                rc = 1;
                goto out_sig;
            }
            rs->step++;
            loss_sum += l;
            ep_correct += ok;
            ep_seen += cnt;
            rs->epoch_loss_sum = loss_sum, rs->epoch_correct = ep_correct, rs->epoch_seen = ep_seen;
            double t = now_s();
            niti_progress_batch(&prog, cnt, t);
            if (!quiet && (t - last_print > (tty ? 0.25 : 30.0) ||
                           rs->batch_pos + 1 == L->steps_per_epoch)) {
                last_print = t;
                double done = (double)(rs->batch_pos + 1) / L->steps_per_epoch;
                double ips = niti_progress_rate(&prog);
                char eta[32], rate[32];
                fmt_time(niti_progress_eta(&prog, L->ntrain - (int64_t)(start + cnt)), eta, sizeof eta);
                if (ips >= 0) snprintf(rate, sizeof rate, "%7.0f img/s", ips);
                else snprintf(rate, sizeof rate, "    ... img/s");
                if (tty) {
                    char bar[31];
                    int fill = (int)(done * 30);
                    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
                    bar[30] = 0;
                    fprintf(stderr, "\repoch %d/%d [%s] %3.0f%% %s ETA %s loss %.3f acc %.2f%% ",
                            rs->epoch + 1, rs->epochs, bar, done * 100, rate, eta,
                            loss_sum / ep_seen, 100.0 * ep_correct / ep_seen);
                } else {
                    fprintf(stderr, "epoch %d/%d: %3.0f%% (%lld images) %s ETA %s loss %.3f acc %.2f%%\n",
                            rs->epoch + 1, rs->epochs, done * 100, (long long)ep_seen, rate, eta,
                            loss_sum / ep_seen, 100.0 * ep_correct / ep_seen);
                }
            }
        }
        if (tty) fputc('\n', stderr);
        if (STOPPING() || rs->batch_pos < L->steps_per_epoch) break;
        double ep_time = now_s() - ep_t0;
        /* Saturation (share of +-127 outputs) of each conv/linear layer in the epoch's last
         * training batch, read before evaluation overwrites the activations. */
        int train_out_exp = r->fp32 ? 0 : niti_net_out_exp(L->net);
        for (int l = 0; l < r->model->n_layers; l++) {
            int64_t sat, tot;
            sat_frac[l] = -1;
            shift_of[l] = r->fp32 ? -1 : niti_net_layer_shift(L->net, l);
            if (!r->fp32 && niti_layer_has_weights(&r->model->layers[l]) &&
                niti_net_layer_saturation(L->net, l, &sat, &tot) == NITI_OK && tot)
                sat_frac[l] = (double)sat / tot;
        }
        int every = rs->eval_every ? rs->eval_every : 1;
        int do_eval = rs->epoch + 1 == rs->epochs || (every > 0 && (rs->epoch + 1) % every == 0);
        double test_loss = 0;
        if (do_eval) {
            if (evaluate(L, &last_correct, &last_total, &test_loss) != NITI_OK) {
                cli_error("evaluation: %s", niti_last_error());
                rc = 1;
                goto out_sig;
            }
            last_acc = (double)last_correct / last_total;
        }
        double train_loss = ep_seen ? loss_sum / ep_seen : 0,
               train_acc = ep_seen ? (double)ep_correct / ep_seen : 0;
        printf("epoch %d/%d: train loss %.4f acc %.2f%%", rs->epoch + 1, rs->epochs, train_loss,
               100 * train_acc);
        if (do_eval) printf(" | test loss %.4f acc %.2f%%", test_loss / last_total, 100 * last_acc);
        double ep_ips = (ep_seen - ep_seen0) / ep_time;
        printf(" | %.0f img/s, %.1f s\n", ep_ips, ep_time);
        fflush(stdout);
        if (L->logf) {
            log_head(L, "epoch");
            fprintf(L->logf, ",\"epoch\":%d,\"step\":%u,\"mu\":%d,\"train_loss\":%.6f,"
                             "\"train_acc\":%.6f",
                    rs->epoch + 1, rs->step, mu, train_loss, train_acc);
            if (r->fp32) fprintf(L->logf, ",\"lr\":%.9g", (double)lr);
            if (do_eval)
                fprintf(L->logf, ",\"test_loss\":%.6f,\"test_acc\":%.6f", test_loss / last_total,
                        last_acc);
            fprintf(L->logf, ",\"img_per_s\":%.1f,\"wall_s\":%.3f", ep_ips,
                    now_s() - t_start);
            if (!r->fp32) {
                fprintf(L->logf, ",\"out_exp\":%d,\"shifts\":{", train_out_exp);
                int first = 1;
                for (int l = 0; l < r->model->n_layers; l++)
                    if (niti_layer_has_weights(&r->model->layers[l])) {
                        fprintf(L->logf, "%s\"L%d\":%d", first ? "" : ",", l, shift_of[l]);
                        first = 0;
                    }
                fputs("},\"saturation\":{", L->logf);
                first = 1;
                for (int l = 0; l < r->model->n_layers; l++)
                    if (sat_frac[l] >= 0) {
                        fprintf(L->logf, "%s\"L%d\":%.6f", first ? "" : ",", l, sat_frac[l]);
                        first = 0;
                    }
                fputc('}', L->logf);
            }
            fprintf(L->logf, "}\n");
            fflush(L->logf);
        }
        niti_run_state next = *rs;
        next.epoch = rs->epoch + 1;
        next.batch_pos = 0;
        next.epoch_loss_sum = 0, next.epoch_correct = next.epoch_seen = 0;
        if (!save_ckpt(L, &next, quiet)) {
            rc = 1;
            goto out_sig;
        }
    }
    if (niti_dist_active() && !quiet && times.steps > 0) print_step_times(&times);
    if (rs->epoch < rs->epochs) { /* interrupted, or stopped by --max-steps */
        char where[96];
        int by_signal = STOPPING();
        cli_describe_position(rs, where, sizeof where);
        if (is_root()) fprintf(stderr, "%s %s\n", by_signal ? "\ninterrupted" : "stopped", where);
        if (L->logf) {
            log_head(L, "stop");
            fprintf(L->logf, ",\"reason\":\"%s\",\"epoch\":%d,\"batch\":%d,\"step\":%u,"
                             "\"wall_s\":%.3f}\n", by_signal ? "interrupted" : "max-steps",
                    rs->epoch + 1, rs->batch_pos, rs->step, now_s() - t_start);
            fflush(L->logf);
        }
        if (!is_root()) {
            /* rank 0 saves and says how to resume */
        } else if (rs->save[0]) {
            if (!save_ckpt(L, rs, 0)) rc = 1;
            else {
                char q[2200];
                cli_shell_quote(rs->save, q, sizeof q); /* absolute: works from any folder */
                fprintf(stderr, "resume with: niti train --resume %s\n", q);
            }
        } else {
            fprintf(stderr, "no checkpoint was saved (no --save), so the run cannot be resumed\n");
        }
        if (!rc && by_signal) rc = 130;
        goto out_sig;
    }
    double wall = now_s() - t_start;
    if (last_acc < 0) {
        if (evaluate(L, &last_correct, &last_total, &(double){0}) != NITI_OK) {
            cli_error("evaluation: %s", niti_last_error());
            rc = 1;
            goto out_sig;
        }
        last_acc = (double)last_correct / last_total;
    }
    printf("test accuracy: %.2f%% (%lld/%lld) — %s, %s, %s, %d epoch(s), %.1f s on %s\n",
           100 * last_acc, (long long)last_correct, (long long)last_total,
           r->model->name ? r->model->name : "custom", rs->dataset, rs->precision, rs->epochs,
           wall, L->device_name);
    if (L->logf) {
        log_head(L, "end");
        fprintf(L->logf, ",\"epochs\":%d,\"step\":%u,\"test_acc\":%.6f,\"wall_s\":%.3f}\n",
                rs->epochs, rs->step, last_acc, wall);
        fflush(L->logf);
    }
out_sig:
    sigaction(SIGINT, &old_sa, NULL);
done:
    free(perm), free(idx), free(lab), free(in), free(sat_frac), free(shift_of);
    return rc;
}

/* ---- the command ---- */

int niti_cmd_train(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    options *o = &r.o;
    const cli_opt opts[] = {
        {"model", 1, &o->model, NULL},         {"dataset", 1, &o->dataset, NULL},
        {"data", 1, &o->data, NULL},           {"epochs", 1, &o->epochs, NULL},
        {"batch", 1, &o->batch, NULL},         {"seed", 1, &o->seed, NULL},
        {"device", 1, &o->device, NULL},       {"precision", 1, &o->precision, NULL},
        {"rule", 1, &o->rule, NULL},           {"act-round", 1, &o->act_round, NULL},
        {"err-round", 1, &o->err_round, NULL}, {"mu", 1, &o->mu, NULL},
        {"master-weights", 1, &o->master, NULL}, {"lr", 1, &o->lr, NULL},
        {"momentum", 1, &o->momentum, NULL},   {"wd", 1, &o->wd, NULL},
        {"lr-steps", 1, &o->lr_steps, NULL},   {"save", 1, &o->save, NULL},
        {"resume", 1, &o->resume, NULL},       {"init", 1, &o->init, NULL},
        {"log", 1, &o->log, NULL},             {"label", 1, &o->label, NULL},
        {"run-id", 1, &o->run_id, NULL},       {"eval-every", 1, &o->eval_every, NULL},
        {"train-limit", 1, &o->train_limit, NULL}, {"test-limit", 1, &o->test_limit, NULL},
        {"max-steps", 1, &o->max_steps, NULL}, {"weight-decay", 0, NULL, &o->weight_decay},
        {"quiet", 0, NULL, &o->quiet},
    };
    const char *pos[1];
    int npos;
    int pr = cli_parse("train", argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 0, &npos);
    if (pr == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (pr) return 2;
    if (o->resume && o->init) {
        cli_error("--resume and --init cannot be combined (--resume continues a run; --init starts "
                  "a new one from a checkpoint's weights)");
        return 2;
    }

    world = niti_dist_world();
    int R = world->size;
    if (!is_root()) {
        /* rank 0 speaks for the run; the others only report their own errors (stderr) */
        o->quiet = 1;
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0) {
            fflush(stdout);
            dup2(null_fd, STDOUT_FILENO);
            close(null_fd);
        }
    }
    int rc = 2;
    niti_backend *be = NULL;
    niti_run_state ck;
    niti_model_spec *ck_model = NULL;
    loop L;
    memset(&L, 0, sizeof L);
    L.r = &r;

    /* 1. values */
    if (!parse_given(o, &r.g)) goto out;

    /* 2. the checkpoint, verified without a device */
    const char *ck_path = o->resume ? o->resume : o->init;
    if (ck_path && !cli_read_checkpoint(ck_path, &ck, &ck_model)) goto out;

    /* 3. the run's settings */
    if (o->resume) {
        int ok = settle_resume(&r, &ck, ck_model);
        if (r.model == ck_model) ck_model = NULL; /* owned by r.model now */
        if (!ok) goto out;
    } else if (!settle_new(&r, o->init ? &ck : NULL, ck_model)) {
        goto out;
    }
    if (niti_mu_parse(r.rs.mu, &r.sched) != NITI_OK) {
        cli_error("mu schedule: %s", niti_last_error());
        goto out;
    }
    if (r.fp32 && r.rs.lr_steps[0] &&
        !cli_parse_lr_steps(r.rs.lr_steps, r.lr_steps, 64, &r.n_lr_steps)) {
        cli_error("lr steps '%s' are not increasing epochs", r.rs.lr_steps);
        goto out;
    }
    r.max_steps = r.g.max_steps > 0 ? r.g.max_steps : 0;
    if (r.max_steps && r.max_steps <= r.rs.step) {
        cli_error("--max-steps %lld: the run is already at step %u; give a larger step", r.max_steps,
                  r.rs.step);
        goto out;
    }
    /* the device: --device, else $NITI_DEVICE, else (resuming) the run's, else the default */
    const char *env_dev = getenv("NITI_DEVICE");
    if (o->device && *o->device) r.dev = o->device, r.dev_from = "--device";
    else if (env_dev && *env_dev) r.dev = env_dev, r.dev_from = "NITI_DEVICE";
    else if (r.resumed && r.rs.device_spec[0]) r.dev = r.rs.device_spec, r.dev_from = "the run's";
    else r.dev = NULL, r.dev_from = "default";
    char dev_spec[sizeof r.rs.device_spec];
    snprintf(dev_spec, sizeof dev_spec, "%s", r.dev ? r.dev : "");
    snprintf(r.rs.device_spec, sizeof r.rs.device_spec, "%s", dev_spec);
    r.dev = r.rs.device_spec[0] ? r.rs.device_spec : NULL;

    if (R > 1 && r.fp32) {
        cli_error("the fp32 baseline trains in one process; run it without mpirun (%d processes "
                  "were started)", R);
        goto out;
    }
    /* 4. what the run needs, before any work (rank 0 alone writes the checkpoint and log) */
    if (!check_applicable(&r) || !check_shapes(&r) || !settle_data(&r) ||
        (is_root() && !settle_files(&r)))
        goto out;
    if (r.resumed && r.rs.batch_pos > 0 && r.rs.train_limit > 0 &&
        (long long)r.rs.batch_pos * r.rs.batch >= r.rs.train_limit) {
        cli_error("the run in %s stopped after batch %d of its epoch; --train-limit %d leaves "
                  "only %d batches of %d", o->resume, r.rs.batch_pos, r.rs.train_limit,
                  (r.rs.train_limit + r.rs.batch - 1) / r.rs.batch, r.rs.batch);
        goto out;
    }

    /* 5. the work: device, data, network, loop. Several processes: each takes the GPU of its
     * local rank (--device gpu, or the default on a node with GPUs); every process of the job
     * opens the same CPU device (POCL shares it) or ref. Each network holds a slice. */
    const char *open_spec = r.dev;
    char local_spec[32];
    if (R > 1 && (!r.dev || !strcmp(r.dev, "gpu") || !strcmp(r.dev, "GPU"))) {
        char name[300];
        if (r.dev || niti_backend_peek("gpu", name, sizeof name) == NITI_OK) {
            snprintf(local_spec, sizeof local_spec, "gpu#%d", niti_dist_local_rank());
            open_spec = local_spec;
        }
        niti_clear_error();
    }
    int local_batch = (r.rs.batch + R - 1) / R;
    if (!r.fp32) {
        if (open_backend(open_spec, o->quiet, &be) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
    }
    if (r.fp32) {
        niti_status s;
        if (r.resumed) {
            s = niti_f32_checkpoint_load(o->resume, r.dev, r.rs.batch, &L.fnet, NULL);
        } else {
            niti_f32_cfg fc = {r.rs.lr, r.rs.momentum, r.rs.weight_decay, r.rs.cfg.seed};
            s = niti_f32_create(r.dev, r.model, r.rs.batch, &fc, &L.fnet);
            if (s == NITI_OK && o->init) s = niti_f32_checkpoint_weights(L.fnet, o->init, 0);
        }
        if (s != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        L.device_name = niti_f32_device_name(L.fnet);
    } else {
        niti_status s;
        if (r.resumed) s = niti_checkpoint_load(o->resume, be, local_batch, &L.net, NULL);
        else if (o->init) s = cli_init_from(o->init, be, r.model, local_batch, &r.rs.cfg, &L.net);
        else {
            s = niti_net_create(be, r.model, local_batch, &r.rs.cfg, &L.net);
            if (s == NITI_OK) s = niti_net_init_xavier(L.net, r.rs.cfg.seed);
        }
        if (s == NITI_OK && R > 1) s = niti_net_set_comm(L.net, world, r.rs.batch);
        if (s != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        L.device_name = be->name;
    }
    snprintf(r.rs.device, sizeof r.rs.device, "%s", L.device_name);
    if (!o->quiet) fprintf(stderr, "loading %s from %s ...\n", r.rs.dataset, r.rs.data);
    if (niti_dataset_load(r.did, r.rs.data, 1, &L.train) != NITI_OK ||
        niti_dataset_load(r.did, r.rs.data, 0, &L.test) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    L.classes = niti_model_classes(r.model);
    niti_dataset_input_tables(r.did, L.tables);
    L.ntrain = r.rs.train_limit && r.rs.train_limit < L.train.n ? r.rs.train_limit : L.train.n;
    L.steps_per_epoch = (L.ntrain + r.rs.batch - 1) / r.rs.batch;
    if (r.rs.batch_pos > L.steps_per_epoch) {
        cli_error("the checkpoint is at batch %d of an epoch that has %d batches here "
                  "(different --train-limit or dataset?)", r.rs.batch_pos, L.steps_per_epoch);
        goto out;
    }
    if (R > 1 && !same_run_everywhere(&L)) {
        rc = 1;
        goto out;
    }
    if (r.rs.log[0] && is_root()) {
        L.logf = fopen(r.rs.log, "a");
        if (!L.logf) {
            cli_error("cannot open the log file %s: %s", r.rs.log, strerror(errno));
            goto out;
        }
    }
    if (!o->quiet) {
        fprintf(stderr, "%s %s on %s from %s (%d images, batch %d, %s) on %s, epochs %d..%d",
                r.resumed ? "resuming" : "training", r.model->name ? r.model->name : "custom",
                r.rs.dataset, L.train.source, L.ntrain, r.rs.batch, r.rs.precision,
                L.device_name, r.rs.epoch + 1, r.rs.epochs);
        if (R > 1) fprintf(stderr, ", %d processes (slices of %d)", R, local_batch);
        if (!r.fp32) fprintf(stderr, ", mu %s", r.rs.mu);
        else fprintf(stderr, ", lr %g", (double)fp32_lr(&r, r.rs.epoch));
        if (r.resumed) fprintf(stderr, ", from step %u", r.rs.step);
        if (o->init) fprintf(stderr, ", starting from the weights in %s", o->init);
        fprintf(stderr, "\n");
        if (r.rs.save[0] || r.rs.log[0])
            fprintf(stderr, "%s%s%s%s%s (run %s)\n", r.rs.save[0] ? "checkpoints: " : "",
                    r.rs.save, r.rs.save[0] && r.rs.log[0] ? ", " : "", r.rs.log[0] ? "log: " : "",
                    r.rs.log, r.rs.run_id);
    }
    if (L.logf) log_start(&L);
    rc = run_loop(&L);

out:
    if (L.logf) fclose(L.logf);
    free(L.logits8), free(L.logitsf);
    niti_net_free(L.net);
    niti_f32_free(L.fnet);
    niti_dataset_free(&L.train);
    niti_dataset_free(&L.test);
    niti_backend_close(be);
    niti_model_free(ck_model);
    run_free(&r);
    return rc;
}
