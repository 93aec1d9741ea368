/* niti bench: op-level timings of the conv/linear ops of model layer shapes, and end-to-end
 * training/eval throughput with peak device and host memory (measurement in src/bench.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "tools/bench.h"
#include "cli/cli.h"
#include "core/model.h"

static const char *usage_text =
    "usage: niti bench [options]\n"
    "\n"
    "Measures the speed of the conv/linear ops of each distinct layer shape of the chosen models\n"
    "(random int8 data, through the backend ops) and end-to-end training and evaluation\n"
    "throughput (niti_net_train_step / niti_net_forward on random inputs and labels), with the\n"
    "peak device memory and the peak host resident memory.\n"
    "\n"
    "  --device D      ref | cpu | gpu | P:D | name substring (default: $NITI_DEVICE, else the\n"
    "                  first GPU, else the first CPU, else ref)\n"
    "  --model M[,M..] presets, spec files or inline specs, comma-separated (default\n"
    "                  lenet,vgg-small-7; inline specs containing commas: one per --model is\n"
    "                  not supported, use a file)\n"
    "  --batch N       batch size for every model (default: the model's training default, 64;\n"
    "                  VGG presets 256)\n"
    "  --repeats R     timed samples; results are medians (default 3)\n"
    "  --warmup W      untimed runs before the samples (default 1)\n"
    "  --steps S       end to end: training steps (and forward passes) per sample (default 5;\n"
    "                  1 for models over 1 GMAC per batch forward)\n"
    "  --ops-only      only the op-level table\n"
    "  --train-only    only the end-to-end table\n"
    "  --seed N        seed of the random data and initialisation (default 1)\n"
    "  --split         op level: also time each conv kernel alone (without the requant or\n"
    "                  update that follows it): a second table; JSON key conv_median_ms\n"
    "  --json          print one JSON object on stdout instead of the tables\n"
    "  --quiet         no progress lines on stderr\n"
    "\n"
    "Ops: fwd = conv_fwd + requant; dgrad = conv_dgrad + requant (not timed for a model's first\n"
    "weight layer, which sends no error back, as in training); wgrad = conv_wgrad + update. One\n"
    "sample = enqueue the op(s), then finish. GOPS = 2 * multiply-accumulates / median time,\n"
    "counting int8 operations of the nominal shape (padding included).\n"
    "On ref, models over 2 GMAC per batch forward (the VGG presets) are skipped unless --model\n"
    "names them: ref would need many minutes per step.\n"
    "Host peak RSS covers the end-to-end run of each model (reset per model where Linux allows);\n"
    "on POCL it includes the device buffers, which live in host memory.\n"
    "\n"
    "JSON keys: bench_schema, niti_version, device, device_short, date, batch, repeats, warmup,\n"
    "gops_definition, models, skipped, ops[] (model, shape, kind, layer, count, batch, geom, op,\n"
    "macs, acc_bits, median_ms, min_ms, gops[, conv_median_ms]), train[] (model, batch, mu,\n"
    "steps, repeats, warmup, macs_per_image, train_step_ms, train_img_s, eval_batch_ms,\n"
    "eval_img_s, device_peak_bytes, host_peak_rss_bytes, host_peak_rss_scope,\n"
    "host_base_rss_bytes, range_errors), host_peak_rss_bytes (the largest peak RSS seen).\n"
    "Models skipped on ref appear under skipped (model, reason), not in ops or train.\n";

#define MAX_MODELS 16
/* Forward MACs per batch above which ref skips a model that --model did not name. */
#define REF_SKIP_MACS 2000000000.0
/* Forward MACs per batch above which the default --steps is 1. */
#define ONE_STEP_MACS 1000000000.0

typedef struct bench_opts {
    const char *device, *model, *batch, *repeats, *warmup, *steps, *seed;
    int ops_only, train_only, json, quiet, split;
} bench_opts;

static void on_progress(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "niti bench: %s\n", line);
    fflush(stderr);
}

static double round_to(double x, double unit) { return (double)(long long)(x / unit + 0.5) * unit; }

static void fmt_bytes(size_t b, char *buf, size_t n)
{
    if (b == 0) snprintf(buf, n, "-");
    else if (b >= (size_t)1 << 30) snprintf(buf, n, "%.2f GiB", (double)b / (1 << 30));
    else if (b >= (size_t)1 << 20) snprintf(buf, n, "%.1f MiB", (double)b / (1 << 20));
    else snprintf(buf, n, "%.1f KiB", (double)b / (1 << 10));
}

static void iso_date(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm)) strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else snprintf(buf, n, "unknown");
}

/* Splits a comma-separated list in place. */
static int split_models(char *list, const char **names, int max)
{
    int n = 0;
    for (char *p = strtok(list, ","); p; p = strtok(NULL, ",")) {
        while (*p == ' ') p++;
        if (!*p) continue;
        if (n == max) return -1;
        names[n++] = p;
    }
    return n;
}

static double gops(int64_t macs, double s) { return s > 0 ? 2.0 * (double)macs / s * 1e-9 : 0; }

static void print_tables(const niti_backend *be, const bench_opts *o, const char *date,
                         int repeats, int warmup, const niti_model_spec *const *models,
                         const int *batches, int n_models, const char (*skip)[200],
                         const niti_bench_shape *sh, int n_sh, const niti_bench_train *tr,
                         int n_tr, size_t host_peak)
{
    printf("niti %s bench on %s\n", niti_version(), be->name);
    printf("date %s; batch ", date);
    if (o->batch) printf("%d (all models)", batches[0]);
    else
        for (int i = 0; i < n_models; i++)
            printf("%s%s %d", i ? ", " : "", models[i]->name, batches[i]);
    printf(" (model default unless --batch); repeats %d (median), warm-up %d\n", repeats, warmup);
    for (int i = 0; i < n_models; i++)
        if (skip[i][0]) printf("note: %s skipped: %s\n", models[i]->name, skip[i]);

    if (!o->train_only) {
        printf("\nOp level: fwd = conv_fwd+requant, dgrad = conv_dgrad+requant, "
               "wgrad = conv_wgrad+update\n"
               "GOPS = 2 x int8 multiply-accumulates / median time (nominal shape, padding "
               "included); ms = median\n\n");
        printf("%-26s %-14s %5s %9s | %9s %7s | %9s %7s | %9s %7s\n", "shape", "model", "batch",
               "MMAC/op", "fwd ms", "GOPS", "dgrad ms", "GOPS", "wgrad ms", "GOPS");
        for (int i = 0; i < n_sh; i++) {
            const niti_bench_shape *s = &sh[i];
            printf("%-26s %-14s %5d %9.3f", s->label, s->models, s->g.N, (double)s->macs * 1e-6);
            for (int op = 0; op < NITI_BENCH_N_OPS; op++) {
                if (s->ran[op])
                    printf(" | %9.2f %7.2f", s->median_s[op] * 1e3, gops(s->macs, s->median_s[op]));
                else printf(" | %9s %7s", "-", "-");
            }
            printf("\n");
        }
        if (o->split) {
            printf("\nThe conv kernel alone (conv_fwd / conv_dgrad / conv_wgrad, no requant or "
                   "update); ms = median\n\n");
            printf("%-26s %-14s %5s %9s | %9s %7s | %9s %7s | %9s %7s\n", "shape", "model",
                   "batch", "MMAC/op", "fwd ms", "GOPS", "dgrad ms", "GOPS", "wgrad ms", "GOPS");
            for (int i = 0; i < n_sh; i++) {
                const niti_bench_shape *s = &sh[i];
                printf("%-26s %-14s %5d %9.3f", s->label, s->models, s->g.N,
                       (double)s->macs * 1e-6);
                for (int op = 0; op < NITI_BENCH_N_OPS; op++) {
                    if (s->ran[op])
                        printf(" | %9.2f %7.2f", s->conv_median_s[op] * 1e3,
                               gops(s->macs, s->conv_median_s[op]));
                    else printf(" | %9s %7s", "-", "-");
                }
                printf("\n");
            }
        }
        int any_first = 0;
        for (int i = 0; i < n_sh; i++) any_first |= !sh[i].has_dgrad;
        if (any_first) printf("(dgrad '-': the model's first weight layer sends no error back)\n");
        if (n_sh == 0) printf("(no shapes measured)\n");
    }
    if (!o->ops_only) {
        printf("\nEnd to end: niti_net_train_step / niti_net_forward on random int8 inputs and "
               "labels (median of %d samples)\n\n", repeats);
        printf("%-14s %5s %5s | %11s %10s | %11s %10s | %11s %12s %10s\n", "model", "batch",
               "steps", "train ms/st", "train im/s", "eval ms/bt", "eval im/s", "device peak",
               "host peakRSS", "(base)");
        int range = 0, process_scope = 0;
        for (int i = 0; i < n_tr; i++) {
            const niti_bench_train *r = &tr[i];
            if (!r->ran) {
                printf("%-14s %5d %5s | skipped (see the note above)\n", r->model, r->batch, "-");
                continue;
            }
            char dev[32], host[32], base[32];
            fmt_bytes(r->device_peak_bytes, dev, sizeof dev);
            fmt_bytes(r->host_peak_rss_bytes, host, sizeof host);
            fmt_bytes(r->host_base_rss_bytes, base, sizeof base);
            printf("%-14s %5d %5d | %11.2f %10.1f | %11.2f %10.1f | %11s %12s %10s\n", r->model,
                   r->batch, r->steps, r->train_step_s * 1e3, r->train_img_s,
                   r->eval_batch_s * 1e3, r->eval_img_s, dev, host, base);
            range |= r->range_errors > 0;
            process_scope |= !r->host_peak_scope_model;
        }
        if (n_tr == 0) printf("(no models measured)\n");
        if (range)
            printf("note: on random data some steps' logits left the loss's exponent range; "
                   "those steps still ran every op and were timed\n");
        printf("device peak: be->mem_peak while the network existed. host peak RSS: VmHWM of "
               "the process%s;\n  (base): VmRSS just before the network was created. With POCL "
               "host RSS includes the device\n  buffers (host memory).\n",
               process_scope ? " since start (could not reset per model)"
                             : " during that model's run");
    }
    char hp[32];
    fmt_bytes(host_peak, hp, sizeof hp);
    printf("\nprocess peak RSS: %s\n", hp);
}

static cJSON *json_output(const niti_backend *be, const bench_opts *o, const char *date,
                          int repeats, int warmup, const niti_model_spec *const *models,
                          const int *batches, int n_models, const char (*skip)[200],
                          const niti_bench_shape *sh, int n_sh, const niti_bench_train *tr,
                          int n_tr, size_t host_peak)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "bench_schema", 1);
    cJSON_AddStringToObject(j, "niti_version", niti_version());
    cJSON_AddStringToObject(j, "device", be->name);
    cJSON_AddStringToObject(j, "device_short", be->short_name);
    cJSON_AddStringToObject(j, "date", date);
    if (o->batch) cJSON_AddNumberToObject(j, "batch", batches[0]);
    else cJSON_AddNullToObject(j, "batch");
    cJSON_AddNumberToObject(j, "repeats", repeats);
    cJSON_AddNumberToObject(j, "warmup", warmup);
    cJSON_AddStringToObject(j, "gops_definition",
                            "2 * int8 multiply-accumulates of the nominal shape / median seconds");
    cJSON *jm = cJSON_AddArrayToObject(j, "models");
    cJSON *js = cJSON_AddArrayToObject(j, "skipped");
    for (int i = 0; i < n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "name", models[i]->name);
        cJSON_AddStringToObject(m, "spec", models[i]->canonical ? models[i]->canonical : "");
        cJSON_AddNumberToObject(m, "batch", batches[i]);
        cJSON_AddNumberToObject(m, "macs_per_image", (double)niti_model_macs(models[i]));
        cJSON_AddNumberToObject(m, "params", (double)niti_model_params(models[i]));
        cJSON_AddItemToArray(jm, m);
        if (skip[i][0]) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "model", models[i]->name);
            cJSON_AddStringToObject(s, "reason", skip[i]);
            cJSON_AddItemToArray(js, s);
        }
    }
    cJSON *jo = cJSON_AddArrayToObject(j, "ops");
    for (int i = 0; i < n_sh && !o->train_only; i++) {
        const niti_bench_shape *s = &sh[i];
        for (int op = 0; op < NITI_BENCH_N_OPS; op++) {
            if (!s->ran[op]) continue;
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "model", s->models);
            cJSON_AddStringToObject(e, "shape", s->label);
            cJSON_AddStringToObject(e, "kind", s->linear ? "linear" : "conv");
            cJSON_AddNumberToObject(e, "layer", s->layer);
            cJSON_AddNumberToObject(e, "count", s->count);
            cJSON_AddNumberToObject(e, "batch", s->g.N);
            cJSON *g = cJSON_AddObjectToObject(e, "geom");
            cJSON_AddNumberToObject(g, "N", s->g.N);
            cJSON_AddNumberToObject(g, "H", s->g.H);
            cJSON_AddNumberToObject(g, "W", s->g.W);
            cJSON_AddNumberToObject(g, "I", s->g.I);
            cJSON_AddNumberToObject(g, "O", s->g.O);
            cJSON_AddNumberToObject(g, "k", s->g.k);
            cJSON_AddNumberToObject(g, "pad", s->g.pad);
            cJSON_AddStringToObject(e, "op", niti_bench_op_name((niti_bench_op)op));
            cJSON_AddNumberToObject(e, "macs", (double)s->macs);
            cJSON_AddNumberToObject(e, "acc_bits",
                                    op == NITI_BENCH_FWD     ? s->acc_bits_fwd
                                    : op == NITI_BENCH_DGRAD ? s->acc_bits_err
                                                             : 64);
            cJSON_AddNumberToObject(e, "median_ms", round_to(s->median_s[op] * 1e3, 1e-4));
            cJSON_AddNumberToObject(e, "min_ms", round_to(s->min_s[op] * 1e3, 1e-4));
            cJSON_AddNumberToObject(e, "gops", round_to(gops(s->macs, s->median_s[op]), 1e-3));
            if (o->split)
                cJSON_AddNumberToObject(e, "conv_median_ms",
                                        round_to(s->conv_median_s[op] * 1e3, 1e-4));
            cJSON_AddItemToArray(jo, e);
        }
    }
    cJSON *jt = cJSON_AddArrayToObject(j, "train");
    for (int i = 0; i < n_tr && !o->ops_only; i++) {
        const niti_bench_train *r = &tr[i];
        if (!r->ran) continue; /* listed under "skipped" */
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model", r->model);
        cJSON_AddNumberToObject(e, "batch", r->batch);
        cJSON_AddNumberToObject(e, "mu", r->mu);
        cJSON_AddNumberToObject(e, "steps", r->steps);
        cJSON_AddNumberToObject(e, "repeats", r->repeats);
        cJSON_AddNumberToObject(e, "warmup", r->warmup);
        cJSON_AddNumberToObject(e, "macs_per_image", (double)r->macs_per_image);
        cJSON_AddNumberToObject(e, "train_step_ms", round_to(r->train_step_s * 1e3, 1e-3));
        cJSON_AddNumberToObject(e, "train_img_s", round_to(r->train_img_s, 1e-2));
        cJSON_AddNumberToObject(e, "eval_batch_ms", round_to(r->eval_batch_s * 1e3, 1e-3));
        cJSON_AddNumberToObject(e, "eval_img_s", round_to(r->eval_img_s, 1e-2));
        cJSON_AddNumberToObject(e, "device_peak_bytes", (double)r->device_peak_bytes);
        cJSON_AddNumberToObject(e, "host_peak_rss_bytes", (double)r->host_peak_rss_bytes);
        cJSON_AddNumberToObject(e, "host_base_rss_bytes", (double)r->host_base_rss_bytes);
        cJSON_AddStringToObject(e, "host_peak_rss_scope",
                                r->host_peak_scope_model ? "model" : "process");
        cJSON_AddNumberToObject(e, "range_errors", r->range_errors);
        cJSON_AddItemToArray(jt, e);
    }
    cJSON_AddNumberToObject(j, "host_peak_rss_bytes", (double)host_peak);
    return j;
}

int niti_cmd_bench(int argc, char **argv)
{
    bench_opts o = {0};
    const cli_opt opts[] = {
        {"device", 1, &o.device, NULL},   {"model", 1, &o.model, NULL},
        {"batch", 1, &o.batch, NULL},     {"repeats", 1, &o.repeats, NULL},
        {"warmup", 1, &o.warmup, NULL},   {"steps", 1, &o.steps, NULL},
        {"seed", 1, &o.seed, NULL},       {"ops-only", 0, NULL, &o.ops_only},
        {"train-only", 0, NULL, &o.train_only}, {"json", 0, NULL, &o.json},
        {"quiet", 0, NULL, &o.quiet},     {"split", 0, NULL, &o.split},
    };
    const char *pos[1];
    int npos = 0;
    int pr = cli_parse("bench", argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 0, &npos);
    if (pr == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (pr) return 2;
    if (o.ops_only && o.train_only) {
        cli_error("--ops-only and --train-only cannot be combined");
        return 2;
    }
    niti_bench_cfg cfg;
    niti_bench_cfg_default(&cfg);
    long long v, batch = 0, steps = 0;
    if (o.batch) {
        if (!cli_int("bench", "batch", o.batch, 1, 1 << 16, &v)) return 2;
        batch = v;
    }
    if (o.repeats) {
        if (!cli_int("bench", "repeats", o.repeats, 1, 1000000, &v)) return 2;
        cfg.repeats = (int)v;
    }
    if (o.warmup) {
        if (!cli_int("bench", "warmup", o.warmup, 0, 1000000, &v)) return 2;
        cfg.warmup = (int)v;
    }
    if (o.steps) {
        if (!cli_int("bench", "steps", o.steps, 1, 1000000, &v)) return 2;
        steps = v;
    }
    if (o.seed) {
        if (!cli_int("bench", "seed", o.seed, 0, 0x7fffffffffffffffLL, &v)) return 2;
        cfg.seed = (uint64_t)v;
    }
    if (!o.quiet) cfg.progress = on_progress;
    cfg.split = o.split;

    /* Models. */
    char *list = strdup(o.model ? o.model : "lenet,vgg-small-7");
    const char *names[MAX_MODELS];
    niti_model_spec *models[MAX_MODELS] = {0};
    int batches[MAX_MODELS];
    char skip[MAX_MODELS][200];
    memset(skip, 0, sizeof skip);
    int n_models = list ? split_models(list, names, MAX_MODELS) : 0;
    int rc = 2;
    niti_backend *be = NULL;
    niti_bench_shape *shapes = NULL;
    niti_bench_train *train = NULL;
    int n_shapes = 0, n_train = 0;
    if (n_models < 0) {
        cli_error("--model: at most %d models", MAX_MODELS);
        goto out;
    }
    if (n_models == 0) {
        cli_error("--model: no model given");
        goto out;
    }
    for (int i = 0; i < n_models; i++) {
        if (niti_model_from_arg(names[i], &models[i]) != NITI_OK) {
            cli_error("--model: %s", niti_last_error());
            goto out;
        }
        batches[i] = batch ? (int)batch : niti_bench_default_batch(models[i]);
    }

    niti_status st = niti_backend_open(cli_device_spec(o.device), &be);
    if (st != NITI_OK) {
        cli_error("bench: cannot open device '%s': %s",
                  cli_device_spec(o.device) ? cli_device_spec(o.device) : "(default)",
                  niti_last_error());
        goto out;
    }
    rc = 1;
    int is_ref = !strcmp(be->short_name, "ref");
    for (int i = 0; i < n_models; i++) {
        double macs = (double)niti_model_macs(models[i]) * batches[i];
        if (is_ref && !o.model && macs > REF_SKIP_MACS)
            snprintf(skip[i], sizeof skip[i],
                     "ref backend, %.0f GMAC per batch forward would take many minutes per step "
                     "(name it with --model to run it)", macs * 1e-9);
    }
    if (!o.quiet) fprintf(stderr, "niti bench: device %s\n", be->name);

    /* End to end first, so that each model's host RSS is not inflated by memory the op-level
     * buffers left behind (allocators and POCL keep freed memory). Each model's run may reset
     * the kernel's peak RSS counter, so the process peak is the largest value seen. */
    size_t host_peak = niti_bench_host_peak_rss();
    if (!o.ops_only) {
        train = calloc((size_t)n_models, sizeof *train);
        if (!train) {
            cli_error("out of memory");
            goto out;
        }
        for (int i = 0; i < n_models; i++, n_train++) {
            niti_bench_train *r = &train[i];
            if (skip[i][0]) {
                snprintf(r->model, sizeof r->model, "%s", models[i]->name);
                r->batch = batches[i];
                snprintf(r->skip_reason, sizeof r->skip_reason, "%.199s", skip[i]);
                continue;
            }
            niti_bench_cfg c = cfg;
            double macs = (double)niti_model_macs(models[i]) * batches[i];
            c.steps = steps ? (int)steps : macs > ONE_STEP_MACS ? 1 : 5;
            if (niti_bench_train_run(be, models[i], batches[i],
                                     niti_bench_default_mu(models[i]), &c, r) != NITI_OK) {
                cli_error("%s", niti_last_error());
                goto out;
            }
            if (r->host_peak_rss_bytes > host_peak) host_peak = r->host_peak_rss_bytes;
        }
    }

    /* Op level (printed first). */
    if (!o.train_only) {
        const niti_model_spec *sel[MAX_MODELS];
        int selb[MAX_MODELS], n_sel = 0;
        for (int i = 0; i < n_models; i++)
            if (!skip[i][0]) sel[n_sel] = models[i], selb[n_sel++] = batches[i];
        if (niti_bench_collect_shapes(sel, selb, n_sel, &shapes, &n_shapes) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
        for (int i = 0; i < n_shapes; i++) {
            if (niti_bench_shape_run(be, &shapes[i], &cfg) != NITI_OK) {
                cli_error("%s", niti_last_error());
                goto out;
            }
        }
    }

    char date[40];
    iso_date(date, sizeof date);
    if (niti_bench_host_peak_rss() > host_peak) host_peak = niti_bench_host_peak_rss();
    const niti_model_spec *const *cm = (const niti_model_spec *const *)models;
    if (o.json) {
        cJSON *j = json_output(be, &o, date, cfg.repeats, cfg.warmup, cm, batches, n_models,
                               (const char(*)[200])skip, shapes, n_shapes, train, n_train,
                               host_peak);
        char *text = j ? cJSON_Print(j) : NULL;
        cJSON_Delete(j);
        if (!text) {
            cli_error("out of memory writing JSON");
            goto out;
        }
        printf("%s\n", text);
        cJSON_free(text);
    } else {
        print_tables(be, &o, date, cfg.repeats, cfg.warmup, cm, batches, n_models,
                     (const char(*)[200])skip, shapes, n_shapes, train, n_train, host_peak);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    free(shapes);
    free(train);
    for (int i = 0; i < n_models && i < MAX_MODELS; i++) niti_model_free(models[i]);
    if (be) niti_backend_close(be);
    free(list);
    return rc;
}
