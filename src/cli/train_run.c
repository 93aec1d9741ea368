/* niti train: settling the run (train_cmd.h): a new run from the options, or a resumed one from
 * its checkpoint, and every check before any work starts. */
#include "cli/train_cmd.h"

/* ---- the run ---- */


void run_free(run *r)
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
int settle_new(run *r, const niti_run_state *init_rs, niti_model_spec *init_model)
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
    int def_batch, def_epochs;
    char def_mu[sizeof rs->mu];
    niti_model_train_defaults(r->model, &def_batch, &def_epochs, def_mu, sizeof def_mu);
    rs->batch = g->batch > 0 ? (int)g->batch : def_batch;
    rs->epochs = g->epochs > 0 ? (int)g->epochs : def_epochs;
    if (g->has_seed) rs->cfg.seed = g->seed;
    snprintf(rs->mu, sizeof rs->mu, "%s", g->has_mu ? g->mu : def_mu);
    if (g->rule >= 0) rs->cfg.rule = (niti_rule)g->rule;
    if (g->act_round >= 0) rs->cfg.act_round = (niti_rounding)g->act_round;
    if (g->err_round >= 0) rs->cfg.err_round = (niti_rounding)g->err_round;
    if (rs->cfg.rule == NITI_RULE_NITI20) rs->cfg.act_round = rs->cfg.err_round = NITI_PSR;
    rs->cfg.weight_decay = r->o.weight_decay;
    rs->cfg.master16 = g->master16 == 1;
    snprintf(rs->precision, sizeof rs->precision, "%s", r->fp32 ? "fp32" : "int8");
    if (r->fp32) {
        int vgg = is_vgg(r->model);
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
    if (g->has_augment) snprintf(rs->augment, sizeof rs->augment, "%s", g->augment);
    rs->val = g->val > 0 ? (int)g->val : 0;
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

const char *round_name(int r) { return r == NITI_PSR ? "psr" : "round"; }

/* A resumed run: the checkpoint's settings; an option that differs from them is refused. */
int settle_resume(run *r, const niti_run_state *ck, niti_model_spec *ck_model)
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
    /* --mu: a new schedule is taken when it gives every epoch already trained, in part or
     * whole (epochs 0..trained-1), the run's mu; the run then equals a fresh one with it */
    int new_mu = 0, trained = c->epoch + (c->batch_pos > 0);
    if (g->has_mu) {
        niti_mu_schedule was, want;
        char canon[256] = "";
        int ok = niti_mu_parse(c->mu, &was) == NITI_OK && niti_mu_parse(g->mu, &want) == NITI_OK;
        niti_clear_error();
        if (ok) niti_mu_format(&was, canon, sizeof canon);
        int bad = ok ? -1 : 0;
        for (int e = 0; ok && bad < 0 && e < trained; e++)
            if (niti_mu_at(&was, e) != niti_mu_at(&want, e)) bad = e;
        if (!ok)
            add_diff(&d, "--mu %s (the run's: %s)", g->mu, c->mu);
        else if (bad >= 0)
            add_diff(&d, "--mu %s (the run's: %s; a new schedule must keep the mu of the %d "
                     "epoch%s trained so far, and it gives epoch %d mu %d instead of %d)",
                     g->mu, c->mu, trained, trained == 1 ? "" : "s", bad + 1,
                     niti_mu_at(&want, bad), niti_mu_at(&was, bad));
        else
            new_mu = strcmp(canon, g->mu) != 0;
    }
    if (g->has_augment) {
        /* compared as modes: "" in the run is its dataset's default */
        niti_dataset_id ck_did;
        niti_augment want, was;
        char was_text[NITI_AUGMENT_TEXT] = "?";
        if (niti_dataset_parse_name(c->dataset[0] ? c->dataset : (ck_model->in_c == 3
                                                                      ? "cifar10"
                                                                      : "fashion-mnist"),
                                    &ck_did) == NITI_OK &&
            niti_augment_parse(g->augment, &want) == NITI_OK) {
            was = niti_augment_default(ck_did);
            if (!c->augment[0] || niti_augment_parse(c->augment, &was) == NITI_OK)
                niti_augment_format(was, was_text, sizeof was_text);
        }
        niti_clear_error();
        if (strcmp(was_text, g->augment))
            add_diff(&d, "--augment %s (the run's: %s%s)", g->augment, was_text,
                     c->augment[0] ? "" : ", its dataset's default");
    }
    if (g->val >= 0 && g->val != c->val)
        add_diff(&d, "--val %lld (the run's: %d)", g->val, c->val);
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
                  "--device, --data, --save, --log, --train-limit, --test-limit, --eval-every, "
                  "--max-steps and, for the epochs still to come, --mu may change when resuming; "
                  "drop the other%s, or start a new run "
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
    if (new_mu) {
        note("--mu %s replaces the run's %s from epoch %d on (the epochs trained so far had the "
             "same mu)\n", g->mu, rs->mu, trained + 1);
        snprintf(rs->mu, sizeof rs->mu, "%s", g->mu);
    }
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
float fp32_lr(const run *r, int epoch)
{
    float lr = r->rs.lr;
    for (int i = 0; i < r->n_lr_steps; i++)
        if (epoch >= r->lr_steps[i]) lr /= 10;
    return lr;
}

/* The options that only one precision has, and the environment, checked against the run. */
int check_applicable(run *r)
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
int settle_data(run *r)
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

/* The run's augmentation against its dataset (a flip is refused for MNIST), before any work. */
int check_augment(run *r)
{
    if (niti_augment_resolve(r->rs.augment, r->did, &r->aug) != NITI_OK) {
        cli_error("%s%s", r->o.augment ? "--augment: " : "", niti_last_error());
        return 0;
    }
    return 1;
}

/* --val N: the last N images of the training set, held out once it is loaded (its size is
 * known only then); refused when nothing would be left to train on. */
int split_val(loop *L)
{
    run *r = L->r;
    int n = L->train.n, v = r->rs.val;
    if (v <= 0) return 1;
    if (v >= n) {
        cli_error("--val %d: the %s training set in %s has %d images, so at most %d can be held "
                  "out for validation (at least one must be left to train on)",
                  v, r->rs.dataset, L->train.source, n, n - 1);
        return 0;
    }
    if (niti_dataset_split_tail(&L->train, v, &L->val) != NITI_OK) {
        cli_error("--val %d: %s", v, niti_last_error());
        return 0;
    }
    return 1;
}

/* The shapes: the dataset's images and classes against the model, with a preset to suggest. */
int check_shapes(run *r)
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
int settle_files(run *r)
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
