/* niti train: opening the device, the training loop and, under mpirun, agreeing on the same run
 * everywhere (train_cmd.h). */
#include "cli/train_cmd.h"

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
niti_status open_backend(const char *spec, int quiet, niti_backend **be)
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

/* Evaluation of the test set (limit: --test-limit) or the validation set (limit 0: all). */
niti_status evaluate(loop *L, const niti_dataset *d, int limit, int64_t *correct, int64_t *total,
                     double *loss)
{
    int batch = L->r->rs.batch;
    if (L->net) return niti_evaluate(L->net, d, L->tables, batch, limit, correct, total, NULL, loss);
    return niti_f32_evaluate(L->fnet, d, L->tables, batch, limit, correct, total, NULL, loss);
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

void log_start(loop *L)
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
    char aug[NITI_AUGMENT_TEXT];
    niti_augment_format(r->aug, aug, sizeof aug);
    fprintf(L->logf, ",\"augment\":\"%s\",\"val\":%d", aug, rs->val);
    fprintf(L->logf, ",\"resumed_at_step\":%u}\n", rs->step);
    fflush(L->logf);
}

/* ---- several processes: the same run everywhere ---- */

/* FNV-1a over 64-bit words (and the tail bytes): fast enough for a whole dataset at start-up. */
uint64_t fnv_words(uint64_t h, const void *p, size_t n)
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
uint64_t fnv_str(uint64_t h, const char *s) { return fnv_words(h, s, strlen(s) + 1); }
uint64_t fnv_int(uint64_t h, long long v) { return fnv_words(h, &v, sizeof v); }

uint64_t fnv_dataset(uint64_t h, const niti_dataset *d)
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
int same_run_everywhere(loop *L)
{
    const run *r = L->r;
    const niti_run_state *rs = &r->rs;
    uint64_t h[3], init = UINT64_C(0xcbf29ce484222325);
    h[0] = fnv_str(init, r->model->canonical);
    h[0] = fnv_str(h[0], rs->precision), h[0] = fnv_str(h[0], rs->mu);
    h[0] = fnv_str(h[0], rs->augment);
    long long v[] = {rs->cfg.rule, rs->cfg.act_round, rs->cfg.err_round, (long long)rs->cfg.seed,
                     rs->cfg.weight_decay, rs->cfg.master16, rs->batch, rs->epochs,
                     rs->train_limit, rs->test_limit, rs->eval_every, r->max_steps, rs->epoch,
                     rs->step, rs->batch_pos, L->ntrain, L->steps_per_epoch, rs->val,
                     r->aug.pad, r->aug.flip};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) h[0] = fnv_int(h[0], v[i]);
    h[1] = fnv_dataset(fnv_dataset(fnv_str(init, rs->dataset), &L->train), &L->test);
    if (rs->val > 0) h[1] = fnv_dataset(h[1], &L->val);
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
        "model or options (--model, --batch, --seed, --mu, --rule, limits, --augment, --val, "
        "the checkpoint's position)", "dataset (the files under --data)", "starting weights (--resume / --init "
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

int run_loop(loop *L)
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
    double last_val_acc = -1;
    int64_t last_val_correct = 0, last_val_total = 0;
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
            niti_make_batch_at(&L->train, idx + first, mine, first, L->tables, r->aug,
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
        double test_loss = 0, val_loss = 0;
        if (do_eval) {
            if (evaluate(L, &L->test, rs->test_limit, &last_correct, &last_total, &test_loss) !=
                NITI_OK) {
                cli_error("evaluation: %s", niti_last_error());
                rc = 1;
                goto out_sig;
            }
            last_acc = (double)last_correct / last_total;
            if (rs->val > 0) {
                if (evaluate(L, &L->val, 0, &last_val_correct, &last_val_total, &val_loss) !=
                    NITI_OK) {
                    cli_error("evaluation of the validation set: %s", niti_last_error());
                    rc = 1;
                    goto out_sig;
                }
                last_val_acc = (double)last_val_correct / last_val_total;
            }
        }
        double train_loss = ep_seen ? loss_sum / ep_seen : 0,
               train_acc = ep_seen ? (double)ep_correct / ep_seen : 0;
        printf("epoch %d/%d: train loss %.4f acc %.2f%%", rs->epoch + 1, rs->epochs, train_loss,
               100 * train_acc);
        if (do_eval) printf(" | test loss %.4f acc %.2f%%", test_loss / last_total, 100 * last_acc);
        if (do_eval && rs->val > 0)
            printf(" | val loss %.4f acc %.2f%%", val_loss / last_val_total, 100 * last_val_acc);
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
            if (do_eval && rs->val > 0)
                fprintf(L->logf, ",\"val_loss\":%.6f,\"val_acc\":%.6f", val_loss / last_val_total,
                        last_val_acc);
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
        if (evaluate(L, &L->test, rs->test_limit, &last_correct, &last_total, &(double){0}) !=
            NITI_OK) {
            cli_error("evaluation: %s", niti_last_error());
            rc = 1;
            goto out_sig;
        }
        last_acc = (double)last_correct / last_total;
    }
    if (rs->val > 0 && last_val_acc < 0) {
        if (evaluate(L, &L->val, 0, &last_val_correct, &last_val_total, &(double){0}) !=
            NITI_OK) {
            cli_error("evaluation of the validation set: %s", niti_last_error());
            rc = 1;
            goto out_sig;
        }
        last_val_acc = (double)last_val_correct / last_val_total;
    }
    char val_text[96] = "";
    if (rs->val > 0)
        snprintf(val_text, sizeof val_text, ", validation accuracy: %.2f%% (%lld/%lld)",
                 100 * last_val_acc, (long long)last_val_correct, (long long)last_val_total);
    printf("test accuracy: %.2f%% (%lld/%lld)%s — %s, %s, %s, %d epoch(s), %.1f s on %s\n",
           100 * last_acc, (long long)last_correct, (long long)last_total, val_text,
           r->model->name ? r->model->name : "custom", rs->dataset, rs->precision, rs->epochs,
           wall, L->device_name);
    if (L->logf) {
        log_head(L, "end");
        fprintf(L->logf, ",\"epochs\":%d,\"step\":%u,\"test_acc\":%.6f", rs->epochs, rs->step,
                last_acc);
        if (rs->val > 0) fprintf(L->logf, ",\"val_acc\":%.6f", last_val_acc);
        fprintf(L->logf, ",\"wall_s\":%.3f}\n", wall);
        fflush(L->logf);
    }
out_sig:
    sigaction(SIGINT, &old_sa, NULL);
done:
    free(perm), free(idx), free(lab), free(in), free(sat_frac), free(shift_of);
    return rc;
}
