/* Benchmarks behind `niti bench` (see bench.h). */
#include "tools/bench.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/error.h"
#include "core/net.h"

const char *niti_bench_op_name(niti_bench_op op)
{
    switch (op) {
    case NITI_BENCH_FWD: return "fwd";
    case NITI_BENCH_DGRAD: return "dgrad";
    case NITI_BENCH_WGRAD: return "wgrad";
    }
    return "?";
}

void niti_bench_cfg_default(niti_bench_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->repeats = 3;
    cfg->warmup = 1;
    cfg->steps = 1;
    cfg->seed = 1;
}

static int is_vgg(const niti_model_spec *m) { return m->name && !strncmp(m->name, "vgg", 3); }

int niti_bench_default_batch(const niti_model_spec *m) { return is_vgg(m) ? 256 : 64; }
int niti_bench_default_mu(const niti_model_spec *m) { return is_vgg(m) ? 5 : 0; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double niti_bench_median(double *v, int n)
{
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double min_of(const double *v, int n)
{
    double m = n > 0 ? v[0] : 0;
    for (int i = 1; i < n; i++)
        if (v[i] < m) m = v[i];
    return m;
}

static void progress(const niti_bench_cfg *cfg, const char *fmt, ...)
{
    if (!cfg->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    cfg->progress(cfg->progress_ctx, line);
}

/* splitmix64: the bench's own data generator (any deterministic bytes will do). */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n random int8 values in [lo, 127] (lo = -128 or -127). */
static void fill_i8(int8_t *p, size_t n, int lo, uint64_t *s)
{
    unsigned span = (unsigned)(127 - lo + 1);
    for (size_t i = 0; i < n; i++) p[i] = (int8_t)(lo + (int)(next_u64(s) % span));
}

/* ------------------------------------------------------------------------------------------ */
/* Shapes                                                                                       */

static void shape_label(const niti_layer_spec *l, char *buf, size_t n)
{
    if (l->kind == NITI_LAYER_LINEAR)
        snprintf(buf, n, "linear %d->%d", l->in_c, l->out_ch);
    else
        snprintf(buf, n, "conv %dx%d %d->%d @%dx%d", l->k, l->k, l->in_c, l->out_ch, l->in_h,
                 l->in_w);
}

static int same_geom(const niti_conv_geom *a, const niti_conv_geom *b)
{
    return a->N == b->N && a->H == b->H && a->W == b->W && a->I == b->I && a->O == b->O &&
           a->k == b->k && a->pad == b->pad;
}

static void add_model_name(char *list, size_t cap, const char *name)
{
    /* Whole-word check on the comma-separated list. */
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == len && !strncmp(p, name, len)) return;
        if (!c) break;
        p = c + 1;
    }
    size_t used = strlen(list);
    if (used) snprintf(list + used, cap - used, ",%s", name);
    else snprintf(list, cap, "%s", name);
}

niti_status niti_bench_collect_shapes(const niti_model_spec *const *models, const int *batches,
                                      int n_models, niti_bench_shape **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    int cap = 0;
    for (int i = 0; i < n_models; i++) cap += models[i]->n_layers;
    niti_bench_shape *v = calloc(cap > 0 ? (size_t)cap : 1, sizeof *v);
    if (!v) return niti_fail(NITI_ERR_NOMEM, "bench shapes");
    int n = 0;
    for (int i = 0; i < n_models; i++) {
        const niti_model_spec *m = models[i];
        const char *mname = m->name ? m->name : "custom";
        /* the work space a network lends conv_wgrad (net.c) */
        size_t acc_b, g_b, g_off;
        niti_net_acc_plan(m, batches[i], &acc_b, &g_b, &g_off);
        size_t model_ws = g_off ? g_off : acc_b;
        int seen_weights = 0;
        for (int l = 0; l < m->n_layers; l++) {
            const niti_layer_spec *s = &m->layers[l];
            if (!niti_layer_has_weights(s)) continue;
            int lin = s->kind == NITI_LAYER_LINEAR;
            int k = lin ? 1 : s->k, pad = lin ? 0 : s->pad;
            niti_conv_geom g;
            niti_status st = niti_conv_geom_init(&g, batches[i], s->in_h, s->in_w, s->in_c,
                                                 s->out_ch, k, pad);
            if (st != NITI_OK) {
                free(v);
                return niti_fail_ctx(st, "model %s layer %d", mname, l);
            }
            int sends_error = seen_weights;
            seen_weights = 1;
            niti_bench_shape *sh = NULL;
            for (int j = 0; j < n; j++)
                if (v[j].linear == lin && same_geom(&v[j].g, &g)) sh = &v[j];
            if (!sh) {
                sh = &v[n++];
                shape_label(s, sh->label, sizeof sh->label);
                sh->layer = l;
                sh->linear = lin;
                sh->g = g;
                sh->acc_bits_fwd = niti_acc_dtype((int64_t)k * k * s->in_c) == NITI_I64 ? 64 : 32;
                sh->acc_bits_err = niti_acc_dtype((int64_t)k * k * s->out_ch) == NITI_I64 ? 64 : 32;
                sh->mu = niti_bench_default_mu(m);
                sh->macs = (int64_t)g.N * g.Ho * g.Wo * g.O * g.k * g.k * g.I;
            }
            if (model_ws > sh->ws_bytes) sh->ws_bytes = model_ws;
            add_model_name(sh->models, sizeof sh->models, mname);
            sh->count++;
            if (sends_error) sh->has_dgrad = 1;
        }
    }
    *out = v;
    *n_out = n;
    return NITI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Op timings                                                                                   */

typedef struct op_bufs {
    niti_buf *A, *W, *E, *acc, *out, *G, *scalars;
} op_bufs;

/* conv_only: the conv/wgrad kernel without the requant/update that follows it. */
static niti_status enqueue_op(niti_backend *be, const niti_bench_shape *s, niti_bench_op op,
                              int conv_only, op_bufs *b)
{
    const niti_backend_ops *o = be->ops;
    const niti_conv_geom *g = &s->g;
    niti_dtype tf = s->acc_bits_fwd == 64 ? NITI_I64 : NITI_I32;
    niti_dtype td = s->acc_bits_err == 64 ? NITI_I64 : NITI_I32;
    size_t n_out = (size_t)g->N * g->Ho * g->Wo * g->O, n_in = (size_t)g->N * g->H * g->W * g->I;
    size_t n_w = (size_t)g->O * g->k * g->k * g->I;
    switch (op) {
    case NITI_BENCH_FWD:
        NITI_TRY(o->conv_fwd(be, g, b->A, b->W, b->acc, tf));
        if (conv_only) return NITI_OK;
        return o->requant(be, b->acc, tf, n_out, NITI_RULE_NITI21, NITI_ROUND, b->out, b->scalars,
                          0, -1, 0, 2, NULL);
    case NITI_BENCH_DGRAD:
        NITI_TRY(o->conv_dgrad(be, g, b->E, b->W, b->acc, td));
        if (conv_only) return NITI_OK;
        return o->requant(be, b->acc, td, n_in, NITI_RULE_NITI21, NITI_ROUND, b->out, b->scalars,
                          1, -1, 0, -1, NULL);
    case NITI_BENCH_WGRAD:
        NITI_TRY(o->conv_wgrad(be, g, b->A, b->E, b->G, b->acc));
        if (conv_only) return NITI_OK;
        return o->update(be, n_w, b->G, s->mu, 0, b->W, NULL, NULL);
    }
    return niti_fail(NITI_ERR_INVALID, "unknown bench op %d", (int)op);
}

niti_status niti_bench_shape_run(niti_backend *be, niti_bench_shape *s, const niti_bench_cfg *cfg)
{
    const niti_conv_geom *g = &s->g;
    size_t n_in = (size_t)g->N * g->H * g->W * g->I, n_out = (size_t)g->N * g->Ho * g->Wo * g->O;
    size_t n_w = (size_t)g->O * g->k * g->k * g->I;
    size_t acc_bytes = n_out * (size_t)(s->acc_bits_fwd / 8);
    if (s->has_dgrad && n_in * (size_t)(s->acc_bits_err / 8) > acc_bytes)
        acc_bytes = n_in * (size_t)(s->acc_bits_err / 8);
    size_t big = n_in > n_out ? n_in : n_out;
    if (n_w > big) big = n_w;
    int R = cfg->repeats > 0 ? cfg->repeats : 1;
    int8_t *host = malloc(big);
    double *t = malloc(sizeof(double) * (size_t)R);
    op_bufs b = {0};
    niti_status st = NITI_OK;
    if (!host || !t) {
        st = niti_fail(NITI_ERR_NOMEM, "bench data for %s", s->label);
        goto out;
    }
    uint64_t rng = cfg->seed ^ (uint64_t)s->macs;
    fill_i8(host, n_in, -128, &rng);
    if ((st = niti_buf_from_host(be, host, n_in, "bench A", &b.A)) != NITI_OK) goto out;
    fill_i8(host, n_w, -127, &rng);
    if ((st = niti_buf_from_host(be, host, n_w, "bench W", &b.W)) != NITI_OK) goto out;
    fill_i8(host, n_out, -127, &rng);
    if ((st = niti_buf_from_host(be, host, n_out, "bench E", &b.E)) != NITI_OK) goto out;
    /* one buffer for the accumulators and, as in a network, conv_wgrad's work space */
    if ((st = be->ops->alloc(be, acc_bytes > s->ws_bytes ? acc_bytes : s->ws_bytes,
                             "bench accumulators", &b.acc)) != NITI_OK)
        goto out;
    if ((st = be->ops->alloc(be, s->has_dgrad && n_in > n_out ? n_in : n_out, "bench output",
                             &b.out)) != NITI_OK)
        goto out;
    if ((st = be->ops->alloc(be, n_w * 8, "bench weight gradients", &b.G)) != NITI_OK) goto out;
    if ((st = be->ops->alloc(be, 4 * sizeof(int32_t), "bench scalars", &b.scalars)) != NITI_OK)
        goto out;

    for (int op = 0; op < NITI_BENCH_N_OPS; op++) {
        s->ran[op] = 0;
        if (op == NITI_BENCH_DGRAD && !s->has_dgrad) continue;
        for (int conv_only = 0; conv_only <= (cfg->split ? 1 : 0); conv_only++) {
            if ((st = be->ops->finish(be)) != NITI_OK) goto out;
            for (int r = 0; r < cfg->warmup + R; r++) {
                double t0 = now_s();
                st = enqueue_op(be, s, (niti_bench_op)op, conv_only, &b);
                if (st == NITI_OK) st = be->ops->finish(be);
                double dt = now_s() - t0;
                if (st != NITI_OK) {
                    st = niti_fail_ctx(st, "bench %s %s", s->label, niti_bench_op_name(op));
                    goto out;
                }
                if (r >= cfg->warmup) t[r - cfg->warmup] = dt;
            }
            if (conv_only) {
                s->conv_median_s[op] = niti_bench_median(t, R);
                continue;
            }
            s->min_s[op] = min_of(t, R);
            s->median_s[op] = niti_bench_median(t, R);
        }
        s->ran[op] = 1;
        if (cfg->split)
            progress(cfg, "%-26s %-5s %9.3f ms %8.2f GOPS (kernel alone %9.3f ms)", s->label,
                     niti_bench_op_name(op), s->median_s[op] * 1e3,
                     s->median_s[op] > 0 ? 2.0 * (double)s->macs / s->median_s[op] * 1e-9 : 0.0,
                     s->conv_median_s[op] * 1e3);
        else
            progress(cfg, "%-26s %-5s %9.3f ms %8.2f GOPS", s->label, niti_bench_op_name(op),
                     s->median_s[op] * 1e3,
                     s->median_s[op] > 0 ? 2.0 * (double)s->macs / s->median_s[op] * 1e-9
                                         : 0.0);
    }
out:
    be->ops->release(be, b.A);
    be->ops->release(be, b.W);
    be->ops->release(be, b.E);
    be->ops->release(be, b.acc);
    be->ops->release(be, b.out);
    be->ops->release(be, b.G);
    be->ops->release(be, b.scalars);
    free(host);
    free(t);
    return st;
}

/* ------------------------------------------------------------------------------------------ */
/* Host memory                                                                                  */

/* A "Key: N kB" line of /proc/self/status in bytes; 0 if absent. */
static size_t proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t len = strlen(key), bytes = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (!strncmp(line, key, len) && line[len] == ':' &&
            sscanf(line + len + 1, " %llu kB", &kb) == 1) {
            bytes = (size_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return bytes;
}

size_t niti_bench_host_rss(void) { return proc_status_kb("VmRSS"); }

size_t niti_bench_host_peak_rss(void)
{
    size_t b = proc_status_kb("VmHWM");
    if (b) return b;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0)
        return (size_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
    return 0;
}

int niti_bench_reset_host_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    if (fclose(f) != 0) ok = 0;
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* End to end                                                                                   */

niti_status niti_bench_train_run(niti_backend *be, const niti_model_spec *m, int batch, int mu,
                                 const niti_bench_cfg *cfg, niti_bench_train *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->model, sizeof r->model, "%s", m->name ? m->name : "custom");
    r->batch = batch;
    r->mu = mu;
    r->steps = cfg->steps > 0 ? cfg->steps : 1;
    r->repeats = cfg->repeats > 0 ? cfg->repeats : 1;
    r->warmup = cfg->warmup > 0 ? cfg->warmup : 0;
    r->macs_per_image = niti_model_macs(m);

    int classes = niti_model_classes(m);
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    int8_t *in = malloc(img * (size_t)batch);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)batch);
    int8_t *logits = malloc((size_t)batch * (size_t)(classes > 0 ? classes : 1));
    double *t = malloc(sizeof(double) * (size_t)r->repeats);
    niti_net *net = NULL;
    niti_status st = NITI_OK;
    size_t saved_peak = be->mem_peak, base = be->mem_in_use;
    if (!in || !lab || !logits || !t) {
        st = niti_fail(NITI_ERR_NOMEM, "bench data for %s", r->model);
        goto out;
    }
    /* Random pixels through the input table of a typical normalisation, so activations have
     * the magnitudes of real data; random labels. */
    int8_t table[256];
    niti_input_table(0.5, 0.25, table);
    uint64_t rng = cfg->seed * 0x2545F4914F6CDD1Dull + 7;
    for (size_t i = 0; i < img * (size_t)batch; i++) in[i] = table[next_u64(&rng) & 255];
    for (int i = 0; i < batch; i++) lab[i] = (int32_t)(next_u64(&rng) % (uint64_t)classes);

    r->host_peak_scope_model = niti_bench_reset_host_peak();
    r->host_base_rss_bytes = niti_bench_host_rss();
    be->mem_peak = base;
    niti_train_cfg tc;
    niti_train_cfg_default(&tc);
    tc.seed = cfg->seed;
    if ((st = niti_net_create(be, m, batch, &tc, &net)) != NITI_OK) goto out;
    if ((st = niti_net_init_xavier(net, cfg->seed)) != NITI_OK) goto out;

    uint32_t step = 0;
    for (int w = 0; w < r->warmup; w++) {
        progress(cfg, "%s: warm-up training step %d/%d", r->model, w + 1, r->warmup);
        st = niti_net_train_step(net, in, lab, batch, mu, step++, logits);
        if (st == NITI_ERR_RANGE) r->range_errors++, st = NITI_OK;
        if (st != NITI_OK) goto out;
    }
    for (int k = 0; k < r->repeats; k++) {
        double t0 = now_s();
        for (int s = 0; s < r->steps; s++) {
            st = niti_net_train_step(net, in, lab, batch, mu, step++, logits);
            if (st == NITI_ERR_RANGE) r->range_errors++, st = NITI_OK;
            if (st != NITI_OK) goto out;
        }
        t[k] = (now_s() - t0) / r->steps;
        progress(cfg, "%s: training sample %d/%d: %.3f s/step, %.1f img/s", r->model, k + 1,
                 r->repeats, t[k], t[k] > 0 ? batch / t[k] : 0.0);
    }
    r->train_step_s = niti_bench_median(t, r->repeats);
    r->train_img_s = r->train_step_s > 0 ? batch / r->train_step_s : 0;

    int e;
    for (int w = 0; w < r->warmup; w++)
        if ((st = niti_net_forward(net, in, batch, logits, &e)) != NITI_OK) goto out;
    for (int k = 0; k < r->repeats; k++) {
        double t0 = now_s();
        for (int s = 0; s < r->steps; s++)
            if ((st = niti_net_forward(net, in, batch, logits, &e)) != NITI_OK) goto out;
        t[k] = (now_s() - t0) / r->steps;
        progress(cfg, "%s: eval sample %d/%d: %.3f s/batch, %.1f img/s", r->model, k + 1,
                 r->repeats, t[k], t[k] > 0 ? batch / t[k] : 0.0);
    }
    r->eval_batch_s = niti_bench_median(t, r->repeats);
    r->eval_img_s = r->eval_batch_s > 0 ? batch / r->eval_batch_s : 0;
    r->device_peak_bytes = be->mem_peak - base;
    r->host_peak_rss_bytes = niti_bench_host_peak_rss();
    r->ran = 1;
out:
    niti_net_free(net);
    if (be->mem_peak < saved_peak) be->mem_peak = saved_peak;
    free(in);
    free(lab);
    free(logits);
    free(t);
    if (st != NITI_OK) return niti_fail_ctx(st, "bench %s at batch %d", r->model, batch);
    return NITI_OK;
}
