/* Cross-backend identity: trains the same network from the same initial weights on the
 * reference backend and on another device, step by step, on real images, and requires identical
 * logits, shifts, loss errors and weight bytes after every step.
 *
 *   test_cross_backend DEVICE DATASET DATA_DIR STEPS BATCH RULE OPTS MODEL
 *   OPTS: comma list of decay, master16, psr (act/err rounding psr), or "-"
 * Exit 77 (skip) only when DEVICE cannot be opened because no OpenCL device exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "io/data.h"
#include "core/model.h"
#include "core/net.h"
#include "core/numerics.h"

static int die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, niti_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: %s DEVICE DATASET DATA_DIR STEPS BATCH RULE OPTS MODEL\n", argv[0]);
        return 2;
    }
    const char *dev = argv[1];
    int steps = atoi(argv[4]), batch = atoi(argv[5]);
    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.seed = 2026;
    cfg.rule = strcmp(argv[6], "niti20") ? NITI_RULE_NITI21 : NITI_RULE_NITI20;
    if (strstr(argv[7], "decay")) cfg.weight_decay = 1;
    if (strstr(argv[7], "master16")) cfg.master16 = 1;
    if (strstr(argv[7], "psr")) cfg.act_round = cfg.err_round = NITI_PSR;

    niti_backend *ref, *other;
    if (niti_backend_ref_create(&ref)) return die("ref");
    niti_status s = niti_backend_cl_create(dev, &other);
    if (s == NITI_ERR_UNSUPPORTED) {
        printf("SKIP: no OpenCL device '%s': %s\n", dev, niti_last_error());
        return 77;
    }
    if (s) return die("opening the device");
    printf("comparing ref with %s\n", other->name);

    niti_dataset_id id;
    niti_dataset d;
    if (niti_dataset_parse_name(argv[2], &id) || niti_dataset_load(id, argv[3], 1, &d))
        return die("dataset");
    niti_model_spec *m;
    if (niti_model_from_arg(argv[8], &m)) return die("model");
    niti_net *a, *b;
    if (niti_net_create(ref, m, batch, &cfg, &a) || niti_net_create(other, m, batch, &cfg, &b))
        return die("net");
    if (niti_net_init_xavier(a, 7) || niti_net_init_xavier(b, 7)) return die("init");

    int8_t tables[3][256];
    niti_dataset_input_tables(id, tables);
    size_t img = (size_t)d.h * d.w * d.c;
    int C = niti_model_classes(m);
    int8_t *in = malloc((size_t)batch * img), *la = malloc((size_t)batch * C),
           *lb = malloc((size_t)batch * C);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch), *lab = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)d.n);
    niti_shuffle(1, 0, d.n, perm);
    int failures = 0;
    for (int st = 0; st < steps && !failures; st++) {
        /* The last step uses a smaller batch, as the end of an epoch does. */
        int n = st == steps - 1 && batch > 3 ? batch - 3 : batch;
        for (int i = 0; i < n; i++) idx[i] = perm[(st * batch + i) % d.n];
        niti_make_batch(&d, idx, n, tables, niti_augment_default(id), cfg.seed, (uint32_t)st, in,
                        lab);
        /* a mu schedule that changes within the run, including mu <= 0 */
        int mu = (st % 4) - 1;
        niti_status sa = niti_net_train_step(a, in, lab, n, mu, (uint32_t)st, la);
        niti_status sb = niti_net_train_step(b, in, lab, n, mu, (uint32_t)st, lb);
        if (sa != sb) {
            printf("step %d: status ref %d, device %d (%s)\n", st, sa, sb, niti_last_error());
            failures++;
            break;
        }
        if (memcmp(la, lb, (size_t)n * C)) {
            printf("step %d: logits differ\n", st);
            failures++;
        }
        if (niti_net_out_exp(a) != niti_net_out_exp(b)) {
            printf("step %d: out_exp %d vs %d\n", st, niti_net_out_exp(a), niti_net_out_exp(b));
            failures++;
        }
        int64_t *qa = malloc(sizeof(int64_t) * (size_t)n * C), *qb = malloc(sizeof(int64_t) * (size_t)n * C);
        int8_t *ea = malloc((size_t)n * C), *eb = malloc((size_t)n * C);
        if (niti_net_last_loss(a, qa, ea) || niti_net_last_loss(b, qb, eb)) return die("loss");
        if (memcmp(qa, qb, sizeof(int64_t) * (size_t)n * C) || memcmp(ea, eb, (size_t)n * C)) {
            printf("step %d: loss q/err differ\n", st);
            failures++;
        }
        free(qa), free(qb), free(ea), free(eb);
        size_t changed = 0;
        for (int l = 0; l < m->n_layers; l++) {
            if (!niti_layer_has_weights(&m->layers[l])) continue;
            if (niti_net_layer_shift(a, l) != niti_net_layer_shift(b, l) ||
                niti_net_layer_err_shift(a, l) != niti_net_layer_err_shift(b, l)) {
                printf("step %d layer %d: shifts %d/%d vs %d/%d\n", st, l, niti_net_layer_shift(a, l),
                       niti_net_layer_err_shift(a, l), niti_net_layer_shift(b, l),
                       niti_net_layer_err_shift(b, l));
                failures++;
            }
            size_t nw = (size_t)niti_layer_params(&m->layers[l]);
            int8_t *wa = malloc(nw), *wb = malloc(nw);
            int xa, xb;
            if (niti_net_get_weights(a, l, wa, &xa) || niti_net_get_weights(b, l, wb, &xb))
                return die("weights");
            for (size_t i = 0; i < nw; i++) {
                if (wa[i] != wb[i]) {
                    printf("step %d layer %d: weight %zu is %d on ref, %d on the device\n", st, l,
                           i, wa[i], wb[i]);
                    failures++;
                    break;
                }
            }
            if (cfg.master16) {
                int16_t *ma = malloc(nw * 2), *mb = malloc(nw * 2);
                if (niti_net_get_master(a, l, ma) || niti_net_get_master(b, l, mb)) return die("master");
                if (memcmp(ma, mb, nw * 2)) {
                    printf("step %d layer %d: master weights differ\n", st, l);
                    failures++;
                }
                free(ma), free(mb);
            }
            free(wa), free(wb);
            changed += nw;
        }
        printf("step %2d: mu %2d, out_exp %d, %zu weights identical%s\n", st, mu,
               niti_net_out_exp(a), changed, failures ? " -- MISMATCH" : "");
    }
    niti_net_free(a);
    niti_net_free(b);
    niti_model_free(m);
    niti_dataset_free(&d);
    niti_backend_close(ref);
    niti_backend_close(other);
    free(in), free(la), free(lb), free(idx), free(lab), free(perm);
    printf("%s: %d mismatches\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
