/* niti train: trains a network on MNIST, Fashion-MNIST or CIFAR-10, integer (default) or fp32. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "io/checkpoint.h"
#include "cli/cli.h"
#include "io/data.h"
#include "fp32/fp32.h"
#include "core/model.h"
#include "core/net.h"
#include "core/numerics.h"
#include "train/train.h"

static const char *usage_text =
    "usage: niti train [options]\n"
    "\n"
    "Trains a network with integer-only arithmetic (or the fp32 baseline) and prints the test\n"
    "accuracy. With no options: LeNet on Fashion-MNIST for 1 epoch on the default device.\n"
    "\n"
    "  --model M          preset (lenet, vgg-small-7, ...; see niti info --list), a spec file, or\n"
    "                     inline spec text (default lenet)\n"
    "  --dataset D        mnist | fashion-mnist | cifar10 (default: fashion-mnist for 28x28x1\n"
    "                     models, cifar10 for 32x32x3 models)\n"
    "  --data DIR         dataset folder (else $NITI_DATA, else ./data; Fashion-MNIST also\n"
    "                     /usr/share/datasets/fashion-mnist)\n"
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
    "  --resume CKPT      continue a run from its checkpoint (bit-identical to not stopping)\n"
    "  --init CKPT        start from a checkpoint's weights with a fresh run state\n"
    "  --log FILE         append JSON Lines records (start, epoch, end) for niti plot\n"
    "  --label TEXT       the run's name in logs and plots\n"
    "  --eval-every N     evaluate on the test set every N epochs (default 1; 0 = only at end)\n"
    "  --train-limit N    use only the first N training images (quick runs)\n"
    "  --test-limit N     evaluate only the first N test images\n"
    "  --max-steps N      stop after global step N (saving a checkpoint with --save), e.g. to\n"
    "                     split a long run; --resume continues it\n"
    "  --quiet            no progress output\n";

static volatile sig_atomic_t interrupted;
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

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

/* Writes s as a JSON string; bytes that are not valid UTF-8 become U+FFFD. */
static void json_str(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        int n = utf8_len(s);
        if (!n) {
            fputs("\\ufffd", f);
            s++;
        } else if (*s == '"' || *s == '\\') {
            fprintf(f, "\\%c", *s++);
        } else if (*s < 0x20) {
            fprintf(f, "\\u%04x", *s++);
        } else {
            fwrite(s, 1, (size_t)n, f);
            s += n;
        }
    }
    fputc('"', f);
}

/* A whole decimal number 0..UINT64_MAX. */
static int parse_u64(const char *text, uint64_t *out)
{
    if (!*text) return 0;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* "E1,E2,...": increasing epochs at which the fp32 learning rate is divided by 10. */
static int parse_lr_steps(const char *text, int *steps, int max, int *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long e = strtol(p, &end, 10);
        if (end == p || e < 1 || e > (1 << 24) || *n == max || (*n && e <= steps[*n - 1])) return 0;
        steps[(*n)++] = (int)e;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) return 0;
        } else if (*p) return 0;
    }
    return *n > 0;
}

/* Fails early (before any training) if a checkpoint cannot be written next to path. */
static int check_writable(const char *path)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s%s.niti-write-test-XXXXXX", dirlen, path,
                 slash ? "/" : "") >= (int)sizeof tmp)
        return 0;
    int fd = mkstemp(tmp);
    if (fd < 0) return 0;
    close(fd);
    unlink(tmp);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return 1;
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

/* ---- one interface over the int8 network and the fp32 baseline ---- */
typedef struct trainer {
    int fp32;
    niti_net *net;
    niti_f32_net *fnet;
    niti_f32_cfg fcfg;
    int classes;
    int8_t *logits8;
    float *logitsf;
} trainer;

static niti_status trainer_step(trainer *tr, const int8_t *in, const int32_t *lab, int n, int mu,
                                float lr, uint32_t t, double *loss, int *correct)
{
    int C = tr->classes;
    *correct = 0;
    *loss = 0;
    if (tr->fp32) {
        niti_status s = niti_f32_train_step(tr->fnet, in, lab, n, lr, t, tr->logitsf, loss);
        if (s != NITI_OK) return s;
        for (int i = 0; i < n; i++) {
            const float *o = tr->logitsf + (size_t)i * C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (o[c] > o[best]) best = c;
            *correct += best == lab[i];
        }
        return NITI_OK;
    }
    niti_status s = niti_net_train_step(tr->net, in, lab, n, mu, t, tr->logits8);
    if (s != NITI_OK) return s;
    int e = niti_net_out_exp(tr->net);
    for (int i = 0; i < n; i++) {
        const int8_t *o = tr->logits8 + (size_t)i * C;
        *correct += niti_argmax_i8(o, C) == lab[i];
        *loss += niti_display_loss(o, C, lab[i], e);
    }
    return NITI_OK;
}

static niti_status trainer_eval(trainer *tr, const niti_dataset *d, const int8_t tables[3][256],
                                int batch, int limit, int64_t *correct, int64_t *total,
                                double *loss)
{
    if (!tr->fp32)
        return niti_evaluate(tr->net, d, tables, batch, limit, correct, total, NULL, loss);
    int C = tr->classes, n = limit > 0 && limit < d->n ? limit : d->n;
    size_t img = (size_t)d->h * d->w * d->c;
    int8_t *in = malloc((size_t)batch * img);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch), *lab = malloc(sizeof(int32_t) * (size_t)batch);
    niti_status s = in && idx && lab ? NITI_OK : NITI_ERR_NOMEM;
    *correct = 0;
    *loss = 0;
    for (int start = 0; s == NITI_OK && start < n; start += batch) {
        int cnt = n - start < batch ? n - start : batch;
        for (int i = 0; i < cnt; i++) idx[i] = start + i;
        niti_make_batch(d, idx, cnt, tables, 0, 0, 0, in, lab);
        s = niti_f32_forward(tr->fnet, in, cnt, tr->logitsf);
        for (int i = 0; s == NITI_OK && i < cnt; i++) {
            const float *o = tr->logitsf + (size_t)i * C;
            int best = 0;
            double mx = o[0], sum = 0;
            for (int c = 1; c < C; c++) {
                if (o[c] > o[best]) best = c;
                if (o[c] > mx) mx = o[c];
            }
            for (int c = 0; c < C; c++) sum += exp(o[c] - mx);
            *loss += log(sum) - (o[lab[i]] - mx);
            *correct += best == lab[i];
        }
    }
    free(in), free(idx), free(lab);
    *total = n;
    return s;
}

typedef struct options {
    const char *model, *dataset, *data, *epochs, *batch, *seed, *device, *precision, *rule,
        *act_round, *err_round, *mu, *master, *lr, *momentum, *wd, *lr_steps, *save, *resume,
        *init, *log, *label, *eval_every, *train_limit, *test_limit, *max_steps;
    int weight_decay, quiet;
} options;

static int parse_round_opt(const char *name, const char *v, niti_rounding *r)
{
    if (!v) return 1;
    if (!strcmp(v, "round")) *r = NITI_ROUND;
    else if (!strcmp(v, "psr")) *r = NITI_PSR;
    else {
        fprintf(stderr, "niti train: --%s must be round or psr (got '%s')\n", name, v);
        return 0;
    }
    return 1;
}

static int is_vgg(const niti_model_spec *m) { return m->name && !strncmp(m->name, "vgg", 3); }

static int save_ckpt(trainer *tr, const niti_run_state *rs, const char *path, int quiet)
{
    if (!path || tr->fp32) return 1;
    if (niti_checkpoint_save(tr->net, rs, path) != NITI_OK) {
        cli_error("%s", niti_last_error());
        return 0;
    }
    if (!quiet) fprintf(stderr, "saved checkpoint %s (epoch %d, step %u)\n", path, rs->epoch, rs->step);
    return 1;
}

int niti_cmd_train(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    const cli_opt opts[] = {
        {"model", 1, &o.model, NULL},         {"dataset", 1, &o.dataset, NULL},
        {"data", 1, &o.data, NULL},           {"epochs", 1, &o.epochs, NULL},
        {"batch", 1, &o.batch, NULL},         {"seed", 1, &o.seed, NULL},
        {"device", 1, &o.device, NULL},       {"precision", 1, &o.precision, NULL},
        {"rule", 1, &o.rule, NULL},           {"act-round", 1, &o.act_round, NULL},
        {"err-round", 1, &o.err_round, NULL}, {"mu", 1, &o.mu, NULL},
        {"master-weights", 1, &o.master, NULL}, {"lr", 1, &o.lr, NULL},
        {"momentum", 1, &o.momentum, NULL},   {"wd", 1, &o.wd, NULL},
        {"lr-steps", 1, &o.lr_steps, NULL},   {"save", 1, &o.save, NULL},
        {"resume", 1, &o.resume, NULL},       {"init", 1, &o.init, NULL},
        {"log", 1, &o.log, NULL},             {"label", 1, &o.label, NULL},
        {"eval-every", 1, &o.eval_every, NULL}, {"train-limit", 1, &o.train_limit, NULL},
        {"test-limit", 1, &o.test_limit, NULL}, {"max-steps", 1, &o.max_steps, NULL},
        {"weight-decay", 0, NULL, &o.weight_decay},
        {"quiet", 0, NULL, &o.quiet},
    };
    const char *pos[1];
    int npos;
    int pr = cli_parse("train", argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 0, &npos);
    if (pr == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (pr) return 2;
    if (o.resume && o.init) {
        cli_error("--resume and --init cannot be combined");
        return 2;
    }
    if (o.resume && (o.model || o.rule || o.act_round || o.err_round || o.mu || o.master ||
                     o.weight_decay || o.batch || o.seed || o.precision)) {
        cli_error("--resume continues a run with the settings stored in its checkpoint; "
                  "only --epochs, --data, --dataset, --device, --save, --log and limits may be given");
        return 2;
    }

    int rc = 2;
    niti_backend *be = NULL;
    niti_model_spec *model = NULL;
    niti_dataset train = {0}, test = {0};
    trainer tr;
    memset(&tr, 0, sizeof tr);
    FILE *logf = NULL;
    int32_t *perm = NULL, *idx = NULL, *lab = NULL;
    int8_t *in = NULL;
    double *sat_frac = NULL;
    int *shift_of = NULL;
    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    niti_train_cfg_default(&rs.cfg);
    rs.cfg.seed = 1;
    niti_mu_schedule sched;
    long long v;

    tr.fp32 = o.precision && !strcmp(o.precision, "fp32");
    if (o.precision && !tr.fp32 && strcmp(o.precision, "int8")) {
        cli_error("--precision must be int8 or fp32 (got '%s')", o.precision);
        return 2;
    }

    int lr_steps[64], n_lr_steps = 0;
    if (o.lr_steps && !parse_lr_steps(o.lr_steps, lr_steps, 64, &n_lr_steps)) {
        cli_error("--lr-steps must be increasing epochs like 100,150 (got '%s')", o.lr_steps);
        return 2;
    }
    if ((o.lr || o.momentum || o.wd || o.lr_steps) && !tr.fp32) {
        cli_error("--lr, --momentum, --wd and --lr-steps are for --precision fp32; the integer "
                  "path's learning rate is --mu");
        return 2;
    }
    if (o.save && !check_writable(o.save)) {
        cli_error("cannot write the checkpoint %s (is its folder missing or read-only, or is it "
                  "a folder?)", o.save);
        return 2;
    }
    const char *dev = cli_device_spec(o.device);
    if (!tr.fp32) {
        if (niti_backend_open(dev, &be) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
    }

    if (o.resume) {
        if (niti_checkpoint_load(o.resume, be, 0, &tr.net, &rs) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        if (o.epochs) {
            if (!cli_int("train", "epochs", o.epochs, 1, 1 << 24, &v)) goto out;
            rs.epochs = (int)v;
        }
        if (niti_model_parse(niti_net_model(tr.net)->canonical, &model) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        free(model->name);
        model->name = strdup(niti_net_model(tr.net)->name);
    } else {
        if (niti_model_from_arg(o.model ? o.model : "lenet", &model) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        int vgg = is_vgg(model);
        rs.batch = vgg ? 256 : 64;
        rs.epochs = vgg ? 200 : 1;
        snprintf(rs.mu, sizeof rs.mu, "%s", vgg ? "5,100:4,150:3" : "0");
        if (o.batch) {
            if (!cli_int("train", "batch", o.batch, 1, 1 << 16, &v)) goto out;
            rs.batch = (int)v;
        }
        if (o.epochs) {
            if (!cli_int("train", "epochs", o.epochs, 1, 1 << 24, &v)) goto out;
            rs.epochs = (int)v;
        }
        if (o.seed && !parse_u64(o.seed, &rs.cfg.seed)) {
            cli_error("--seed must be a whole number in 0..18446744073709551615 (got '%s')", o.seed);
            goto out;
        }
        if (o.mu) {
            if (strlen(o.mu) >= sizeof rs.mu) {
                cli_error("--mu is too long");
                goto out;
            }
            strcpy(rs.mu, o.mu);
        }
        if (o.rule) {
            if (!strcmp(o.rule, "niti21")) rs.cfg.rule = NITI_RULE_NITI21;
            else if (!strcmp(o.rule, "niti20")) rs.cfg.rule = NITI_RULE_NITI20;
            else {
                cli_error("--rule must be niti21 or niti20 (got '%s')", o.rule);
                goto out;
            }
        }
        if (!parse_round_opt("act-round", o.act_round, &rs.cfg.act_round) ||
            !parse_round_opt("err-round", o.err_round, &rs.cfg.err_round))
            goto out;
        if (rs.cfg.rule == NITI_RULE_NITI20) {
            if ((o.act_round && rs.cfg.act_round != NITI_PSR) ||
                (o.err_round && rs.cfg.err_round != NITI_PSR)) {
                cli_error("the niti20 rule set always uses psr for activations and errors");
                goto out;
            }
            rs.cfg.act_round = rs.cfg.err_round = NITI_PSR;
        }
        rs.cfg.weight_decay = o.weight_decay;
        if (o.master) {
            if (strcmp(o.master, "16")) {
                cli_error("--master-weights takes 16 (got '%s')", o.master);
                goto out;
            }
            rs.cfg.master16 = 1;
        }
    }
    if (niti_mu_parse(rs.mu, &sched) != NITI_OK) {
        cli_error("--mu: %s", niti_last_error());
        goto out;
    }

    /* dataset */
    niti_dataset_id did;
    const char *dname = o.dataset ? o.dataset : (rs.dataset[0] ? rs.dataset : NULL);
    if (!dname) dname = model->in_c == 3 ? "cifar10" : "fashion-mnist";
    if (niti_dataset_parse_name(dname, &did) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    snprintf(rs.dataset, sizeof rs.dataset, "%s", niti_dataset_name(did));
    if (!o.quiet) fprintf(stderr, "loading %s ...\n", rs.dataset);
    if (niti_dataset_load(did, o.data, 1, &train) != NITI_OK ||
        niti_dataset_load(did, o.data, 0, &test) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    if (train.h != model->in_h || train.w != model->in_w || train.c != model->in_c) {
        cli_error("the model takes %dx%dx%d images but %s has %dx%dx%d", model->in_h,
                  model->in_w, model->in_c, rs.dataset, train.h, train.w, train.c);
        goto out;
    }
    tr.classes = niti_model_classes(model);
    if (tr.classes < train.classes) {
        cli_error("the model has %d outputs but %s has %d classes", tr.classes, rs.dataset,
                  train.classes);
        goto out;
    }
    int8_t tables[3][256];
    niti_dataset_input_tables(did, tables);
    long long train_limit = 0, test_limit = 0, eval_every = 1, max_steps = 0;
    if (o.max_steps && !cli_int("train", "max-steps", o.max_steps, 1, UINT32_MAX, &max_steps)) goto out;
    if (o.train_limit && !cli_int("train", "train-limit", o.train_limit, 1, 1 << 30, &train_limit)) goto out;
    if (o.test_limit && !cli_int("train", "test-limit", o.test_limit, 1, 1 << 30, &test_limit)) goto out;
    if (o.eval_every && !cli_int("train", "eval-every", o.eval_every, 0, 1 << 24, &eval_every)) goto out;
    int ntrain = train_limit && train_limit < train.n ? (int)train_limit : train.n;

    /* network */
    const char *device_name;
    if (tr.fp32) {
        int vgg = is_vgg(model);
        tr.fcfg.lr = 0.01f;
        tr.fcfg.momentum = vgg ? 0.9f : 0.5f;
        tr.fcfg.weight_decay = vgg ? 5e-4f : 0.0f;
        tr.fcfg.seed = rs.cfg.seed;
        if (o.lr) tr.fcfg.lr = strtof(o.lr, NULL);
        if (o.momentum) tr.fcfg.momentum = strtof(o.momentum, NULL);
        if (o.wd) tr.fcfg.weight_decay = strtof(o.wd, NULL);
        if (!(tr.fcfg.lr > 0) || !isfinite(tr.fcfg.lr) || !(tr.fcfg.momentum >= 0) ||
            !isfinite(tr.fcfg.momentum) || !(tr.fcfg.weight_decay >= 0) ||
            !isfinite(tr.fcfg.weight_decay)) {
            cli_error("--lr must be a finite number > 0, --momentum and --wd finite and >= 0");
            goto out;
        }
        if (niti_f32_create(dev, model, rs.batch, &tr.fcfg, &tr.fnet) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        device_name = niti_f32_device_name(tr.fnet);
    } else {
        if (!tr.net) {
            if (o.init) {
                niti_run_state irs;
                if (niti_checkpoint_load(o.init, be, rs.batch, &tr.net, &irs) != NITI_OK) {
                    cli_error("%s", niti_last_error());
                    goto out;
                }
                if (strcmp(niti_net_model(tr.net)->canonical, model->canonical)) {
                    cli_error("--init: the checkpoint's model (%s) is not --model (%s)",
                              niti_net_model(tr.net)->canonical, model->canonical);
                    goto out;
                }
                niti_net_free(tr.net);
                tr.net = NULL;
                /* Rebuild with this run's settings, then copy the weights over. */
                niti_net *src;
                if (niti_checkpoint_load(o.init, be, 1, &src, NULL) != NITI_OK ||
                    niti_net_create(be, model, rs.batch, &rs.cfg, &tr.net) != NITI_OK) {
                    cli_error("%s", niti_last_error());
                    goto out;
                }
                for (int l = 0; l < model->n_layers; l++) {
                    if (!niti_layer_has_weights(&model->layers[l])) continue;
                    int8_t *w = malloc((size_t)niti_layer_params(&model->layers[l]));
                    int e;
                    niti_status s = w ? niti_net_get_weights(src, l, w, &e) : NITI_ERR_NOMEM;
                    if (s == NITI_OK) s = niti_net_set_weights(tr.net, l, w, e);
                    free(w);
                    if (s != NITI_OK) {
                        niti_net_free(src);
                        cli_error("--init: %s", niti_last_error());
                        goto out;
                    }
                }
                niti_net_free(src);
            } else {
                if (niti_net_create(be, model, rs.batch, &rs.cfg, &tr.net) != NITI_OK ||
                    niti_net_init_xavier(tr.net, rs.cfg.seed) != NITI_OK) {
                    cli_error("%s", niti_last_error());
                    goto out;
                }
            }
        }
        device_name = be->name;
    }

    int batch = rs.batch;
    int steps_per_epoch = (ntrain + batch - 1) / batch;
    if (rs.batch_pos > steps_per_epoch) {
        cli_error("the checkpoint is at batch %d of an epoch that has %d batches here "
                  "(different --train-limit or dataset?)", rs.batch_pos, steps_per_epoch);
        goto out;
    }
    size_t img = (size_t)train.h * train.w * train.c;
    perm = malloc(sizeof(int32_t) * (size_t)train.n);
    idx = malloc(sizeof(int32_t) * (size_t)batch);
    lab = malloc(sizeof(int32_t) * (size_t)batch);
    in = malloc((size_t)batch * img);
    tr.logits8 = malloc((size_t)batch * tr.classes);
    tr.logitsf = malloc(sizeof(float) * (size_t)batch * tr.classes);
    sat_frac = malloc(sizeof(double) * (size_t)model->n_layers);
    shift_of = malloc(sizeof(int) * (size_t)model->n_layers);
    if (!perm || !idx || !lab || !in || !tr.logits8 || !tr.logitsf || !sat_frac || !shift_of) {
        cli_error("out of memory");
        goto out;
    }
    if (o.log) {
        logf = fopen(o.log, "a");
        if (!logf) {
            cli_error("cannot open log file %s", o.log);
            goto out;
        }
    }
    char label[256];
    if (o.label) snprintf(label, sizeof label, "%s", o.label);
    else snprintf(label, sizeof label, "%s %s %s", tr.fp32 ? "fp32" : "int8",
                  model->name ? model->name : "custom", rs.dataset);

    if (!o.quiet) {
        fprintf(stderr, "training %s on %s (%d images, batch %d, %s) on %s, epochs %d..%d",
                model->name ? model->name : "custom", rs.dataset, ntrain, batch,
                tr.fp32 ? "fp32" : "int8", device_name, rs.epoch + 1, rs.epochs);
        if (!tr.fp32) fprintf(stderr, ", mu %s", rs.mu);
        fprintf(stderr, "\n");
    }
    if (logf) {
        fprintf(logf, "{\"event\":\"start\",\"label\":");
        json_str(logf, label);
        fprintf(logf, ",\"model\":");
        json_str(logf, model->name ? model->name : "custom");
        fprintf(logf, ",\"spec\":");
        json_str(logf, model->canonical);
        fprintf(logf, ",\"dataset\":\"%s\",\"precision\":\"%s\",\"device\":", rs.dataset,
                tr.fp32 ? "fp32" : "int8");
        json_str(logf, device_name);
        fprintf(logf, ",\"batch\":%d,\"epochs\":%d,\"seed\":%llu,\"rule\":\"%s\",\"mu\":", batch,
                rs.epochs, (unsigned long long)rs.cfg.seed,
                rs.cfg.rule == NITI_RULE_NITI20 ? "niti20" : "niti21");
        json_str(logf, rs.mu);
        fprintf(logf, ",\"resumed_at_step\":%u}\n", rs.step);
        fflush(logf);
    }

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_sa);
    int tty = isatty(2) && !o.quiet;
    double t_start = now_s();
    double last_acc = -1;
    int64_t last_correct = 0, last_total = 0;
    rc = 0;
    for (; rs.epoch < rs.epochs; rs.epoch++, rs.batch_pos = 0) {
        int mu = niti_mu_at(&sched, rs.epoch);
        float lr = tr.fcfg.lr;
        if (tr.fp32) {
            int e100 = is_vgg(model) ? 100 : 0;
            if (n_lr_steps) {
                for (int i = 0; i < n_lr_steps; i++)
                    if (rs.epoch >= lr_steps[i]) lr /= 10;
            } else if (e100 && rs.epoch >= e100) lr /= 10;
        }
        niti_shuffle(rs.cfg.seed, (uint32_t)rs.epoch, train.n, perm);
        /* With --train-limit the epoch uses the first N images of the shuffled order. */
        double ep_t0 = now_s(), last_print = 0, loss_sum = 0;
        int64_t ep_correct = 0, ep_seen = 0;
        int augment = did == NITI_DATA_CIFAR10;
        for (; rs.batch_pos < steps_per_epoch; rs.batch_pos++) {
            if (interrupted || (max_steps && rs.step >= max_steps)) break;
            int start = rs.batch_pos * batch;
            int cnt = ntrain - start < batch ? ntrain - start : batch;
            for (int i = 0; i < cnt; i++) idx[i] = perm[start + i];
            niti_make_batch(&train, idx, cnt, tables, augment, rs.cfg.seed, rs.step, in, lab);
            double l;
            int ok;
            niti_status s = trainer_step(&tr, in, lab, cnt, mu, lr, rs.step, &l, &ok);
            if (s != NITI_OK) {
                if (tty) fputc('\n', stderr);
                cli_error("epoch %d step %u: %s", rs.epoch + 1, rs.step, niti_last_error());
                rc = 1;
                goto out_sig;
            }
            rs.step++;
            loss_sum += l;
            ep_correct += ok;
            ep_seen += cnt;
            double t = now_s();
            if (!o.quiet && (t - last_print > (tty ? 0.25 : 30.0) || rs.batch_pos + 1 == steps_per_epoch)) {
                last_print = t;
                double done = (double)(rs.batch_pos + 1) / steps_per_epoch;
                double ips = ep_seen / (t - ep_t0);
                char eta[32];
                fmt_time((steps_per_epoch - rs.batch_pos - 1) * (double)batch / ips, eta, sizeof eta);
                if (tty) {
                    char bar[31];
                    int fill = (int)(done * 30);
                    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
                    bar[30] = 0;
                    fprintf(stderr, "\repoch %d/%d [%s] %3.0f%% %7.0f img/s ETA %s loss %.3f acc %.2f%% ",
                            rs.epoch + 1, rs.epochs, bar, done * 100, ips, eta,
                            loss_sum / ep_seen, 100.0 * ep_correct / ep_seen);
                } else {
                    fprintf(stderr, "epoch %d/%d: %3.0f%% (%lld images) %.0f img/s ETA %s loss %.3f acc %.2f%%\n",
                            rs.epoch + 1, rs.epochs, done * 100, (long long)ep_seen, ips, eta,
                            loss_sum / ep_seen, 100.0 * ep_correct / ep_seen);
                }
            }
        }
        if (tty) fputc('\n', stderr);
        if (interrupted || rs.batch_pos < steps_per_epoch) break;
        double ep_time = now_s() - ep_t0;
        /* Saturation (share of +-127 outputs) of each conv/linear layer in the epoch's last
         * training batch, read before evaluation overwrites the activations. */
        int train_out_exp = tr.fp32 ? 0 : niti_net_out_exp(tr.net);
        for (int l = 0; l < model->n_layers; l++) {
            int64_t sat, tot;
            sat_frac[l] = -1;
            shift_of[l] = tr.fp32 ? -1 : niti_net_layer_shift(tr.net, l);
            if (!tr.fp32 && niti_layer_has_weights(&model->layers[l]) &&
                niti_net_layer_saturation(tr.net, l, &sat, &tot) == NITI_OK && tot)
                sat_frac[l] = (double)sat / tot;
        }
        int do_eval = rs.epoch + 1 == rs.epochs || (eval_every > 0 && (rs.epoch + 1) % eval_every == 0);
        double test_loss = 0;
        if (do_eval) {
            if (trainer_eval(&tr, &test, tables, batch, (int)test_limit, &last_correct,
                             &last_total, &test_loss) != NITI_OK) {
                cli_error("evaluation: %s", niti_last_error());
                rc = 1;
                goto out_sig;
            }
            last_acc = (double)last_correct / last_total;
        }
        double train_loss = ep_seen ? loss_sum / ep_seen : 0, train_acc = ep_seen ? (double)ep_correct / ep_seen : 0;
        printf("epoch %d/%d: train loss %.4f acc %.2f%%", rs.epoch + 1, rs.epochs, train_loss,
               100 * train_acc);
        if (do_eval) printf(" | test loss %.4f acc %.2f%%", test_loss / last_total, 100 * last_acc);
        printf(" | %.0f img/s, %.1f s\n", ep_seen / ep_time, ep_time);
        fflush(stdout);
        if (logf) {
            fprintf(logf, "{\"event\":\"epoch\",\"epoch\":%d,\"step\":%u,\"mu\":%d,\"train_loss\":%.6f,"
                          "\"train_acc\":%.6f",
                    rs.epoch + 1, rs.step, mu, train_loss, train_acc);
            if (do_eval) fprintf(logf, ",\"test_loss\":%.6f,\"test_acc\":%.6f", test_loss / last_total, last_acc);
            fprintf(logf, ",\"img_per_s\":%.1f,\"wall_s\":%.3f", ep_seen / ep_time, now_s() - t_start);
            if (!tr.fp32) {
                fprintf(logf, ",\"out_exp\":%d,\"shifts\":{", train_out_exp);
                int first = 1;
                for (int l = 0; l < model->n_layers; l++)
                    if (niti_layer_has_weights(&model->layers[l])) {
                        fprintf(logf, "%s\"L%d\":%d", first ? "" : ",", l, shift_of[l]);
                        first = 0;
                    }
                fputs("},\"saturation\":{", logf);
                first = 1;
                for (int l = 0; l < model->n_layers; l++)
                    if (sat_frac[l] >= 0) {
                        fprintf(logf, "%s\"L%d\":%.6f", first ? "" : ",", l, sat_frac[l]);
                        first = 0;
                    }
                fputc('}', logf);
            }
            fprintf(logf, "}\n");
            fflush(logf);
        }
        if (o.save) {
            niti_run_state next = rs;
            next.epoch = rs.epoch + 1;
            next.batch_pos = 0;
            if (!save_ckpt(&tr, &next, o.save, o.quiet)) {
                rc = 1;
                goto out_sig;
            }
        }
    }
    if (rs.epoch < rs.epochs) { /* interrupted, or stopped by --max-steps */
        fprintf(stderr, "%s at epoch %d, step %u\n", interrupted ? "\ninterrupted" : "stopped",
                rs.epoch + 1, rs.step);
        if (o.save) {
            if (!save_ckpt(&tr, &rs, o.save, 0)) rc = 1;
            else fprintf(stderr, "resume with: niti train --resume %s\n", o.save);
        }
        if (!rc && interrupted) rc = 130;
        goto out_sig;
    }
    double wall = now_s() - t_start;
    if (last_acc < 0) {
        if (trainer_eval(&tr, &test, tables, batch, (int)test_limit, &last_correct, &last_total,
                         &(double){0}) != NITI_OK) {
            cli_error("evaluation: %s", niti_last_error());
            rc = 1;
            goto out_sig;
        }
        last_acc = (double)last_correct / last_total;
    }
    printf("test accuracy: %.2f%% (%lld/%lld) — %s, %s, %s, %d epoch(s), %.1f s on %s\n",
           100 * last_acc, (long long)last_correct, (long long)last_total,
           model->name ? model->name : "custom", rs.dataset, tr.fp32 ? "fp32" : "int8",
           rs.epochs, wall, device_name);
    if (logf) {
        fprintf(logf, "{\"event\":\"end\",\"epochs\":%d,\"test_acc\":%.6f,\"wall_s\":%.3f}\n",
                rs.epochs, last_acc, wall);
        fflush(logf);
    }
out_sig:
    sigaction(SIGINT, &old_sa, NULL);
out:
    if (logf) fclose(logf);
    free(perm), free(idx), free(lab), free(in), free(tr.logits8), free(tr.logitsf), free(sat_frac), free(shift_of);
    niti_net_free(tr.net);
    niti_f32_free(tr.fnet);
    niti_model_free(model);
    niti_dataset_free(&train);
    niti_dataset_free(&test);
    niti_backend_close(be);
    return rc;
}
