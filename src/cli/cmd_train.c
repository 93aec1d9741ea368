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
#include "cli/train_cmd.h"

static const char *usage_text =
    "usage: niti train [options]\n"
    "\n"
    "Trains a network with integer-only arithmetic (or the fp32 baseline) and prints the test\n"
    "accuracy. With no options: LeNet on Fashion-MNIST for 5 epochs on the default device.\n"
    "Every option is either honoured or refused before any work starts.\n"
    "\n"
    "  --model M          preset (lenet, vgg-small-7, ...; see niti info --list), a spec file, or\n"
    "                     inline spec text (default lenet; with --init the checkpoint's model)\n"
    "  --dataset D        mnist | fashion-mnist | cifar10 (default: fashion-mnist for 28x28x1\n"
    "                     models, cifar10 for 32x32x3 models)\n"
    "  --data DIR         dataset folder, used or refused (else $NITI_DATA; with neither: ./data,\n"
    "                     and for Fashion-MNIST then /usr/share/datasets/fashion-mnist)\n"
    "  --epochs N         epochs to train (default: the model's, niti info --list; lenet 5,\n"
    "                     the authors' CIFAR-10 presets 200, vgg-small-28 40)\n"
    "  --batch N          batch size (default: the model's; lenet 64, vgg presets 256)\n"
    "  --seed N           seed of initialisation, data order, augmentation, dropout and the\n"
    "                     loss's stochastic rounding (default 1)\n"
    "  --device D         ref | cpu | gpu | P:D | name substring (default: $NITI_DEVICE, else\n"
    "                     the first GPU, else the first CPU, else ref)\n"
    "  --precision P      int8 (default) | fp32 (float baseline, same data pipeline)\n"
    "  --rule R           niti21 (default) | niti20 (requantisation rule set)\n"
    "  --act-round R      round (default) | psr: rounding of activations (niti21)\n"
    "  --err-round R      round (default) | psr: rounding of errors (niti21)\n"
    "  --mu S             gradient bit-width schedule, e.g. 5,100:4,150:3 (mu 5 from epoch 0, 4\n"
    "                     from epoch 100, 3 from 150); default: the model's (lenet 4,3:3,4:2;\n"
    "                     the authors' presets 5,100:4,150:3; vgg-small-28 5,20:4,30:3,35:2)\n"
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
    "                     --max-steps may differ, and --mu where it keeps the mu of every\n"
    "                     epoch trained so far (a new tail for the schedule)\n"
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
    "  --augment MODE     training augmentation: none | cropP | cropP-flip | flip, P = 1..8\n"
    "                     pixels of padding (random crop of the padded image; random\n"
    "                     left-right mirror). Default: crop4-flip for cifar10, none for mnist\n"
    "                     and fashion-mnist; a flip is refused for mnist. Philox stream 4, see\n"
    "                     niti info --list\n"
    "  --val N            hold out the last N training images (fixed, whatever the seed) as a\n"
    "                     validation set: training uses the first ones only, and every\n"
    "                     evaluation also reports val_acc (default 0: none)\n"
    "  --quiet            no progress output\n"
    "\n"
    "Environment: NITI_DEVICE (as --device), NITI_DATA (as --data), NITI_GEMM and\n"
    "NITI_DOT_EMULATE (the OpenCL GEMM path, see niti devices --help; refused with --device ref\n"
    "and --precision fp32, which have no such paths), NITI_CACHE_DIR (compiled kernels).\n";

volatile sig_atomic_t interrupted;

/* Data-parallel training (mpirun -np R niti train, README "Scaling out"): every process runs
 * this command with the same options, holds the same weights and takes its slice of every
 * batch; only rank 0 prints progress, writes the log and saves checkpoints. */
niti_comm *world;
int is_root(void) { return !world || world->rank == 0; }

/* "niti: note: ..." on stderr, from rank 0 only. */
void NITI_CLI_PRINTF(1, 2) note(const char *fmt, ...)
{
    if (!is_root()) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("niti: note: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}
void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void fmt_time(double s, char *buf, size_t n)
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

void given_free(given *g) { niti_model_free(g->model); }

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
        !opt_ll("max-steps", o->max_steps, 1, UINT32_MAX, &g->max_steps) ||
        !opt_ll("val", o->val, 0, 1 << 30, &g->val))
        return 0;
    if (o->augment) {
        niti_augment a;
        if (niti_augment_parse(o->augment, &a) != NITI_OK) {
            cli_error("--augment: %s", niti_last_error());
            return 0;
        }
        niti_augment_format(a, g->augment, sizeof g->augment);
        g->has_augment = 1;
    }
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

int is_vgg(const niti_model_spec *m) { return m->name && !strncmp(m->name, "vgg", 3); }

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
        {"max-steps", 1, &o->max_steps, NULL}, {"augment", 1, &o->augment, NULL},
        {"val", 1, &o->val, NULL},             {"weight-decay", 0, NULL, &o->weight_decay},
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
    if (!check_applicable(&r) || !check_shapes(&r) || !check_augment(&r) || !settle_data(&r) ||
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
    if (!split_val(&L)) goto out;
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
        if (r.aug.pad || r.aug.flip) {
            char t[NITI_AUGMENT_TEXT];
            niti_augment_format(r.aug, t, sizeof t);
            fprintf(stderr, ", augment %s", t);
        }
        if (r.rs.val > 0) fprintf(stderr, ", %d held out for validation", r.rs.val);
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
    niti_dataset_free(&L.val);
    niti_backend_close(be);
    niti_model_free(ck_model);
    run_free(&r);
    return rc;
}
