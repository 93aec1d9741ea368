/* Fault test (f): layers whose forward sums can leave int32 (K*128*127 >= 2^31) take the exact
 * int64 accumulator path, on the reference backend and on an OpenCL device alike.
 *
 *   fault_acc64 DEVICE    (ref is always used; DEVICE: an OpenCL device such as cpu, or "-" for
 *                          ref only; exit 77 when DEVICE cannot be opened for lack of a device)
 *
 * Two tiny models: a linear layer on F = 364*364 = 132496 features, and a conv whose k*k*I is
 * 132496 (k364 on a 364x364x1 input). Their weights are all 127 and the first image is all -128,
 * so every forward sum of the big layer is exactly -132496*128*127 = -2153854976 < -2^31: an
 * int32 accumulator would wrap it to +2141112320 and flip the sign of the logits. The test
 * requires (1) the layer is routed to 64 bits, (2) the logits of that image are negative on every
 * backend (exact sums), (3) two training steps (forward + backward + update) give identical
 * logits and weight bytes on ref and DEVICE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "core/model.h"
#include "core/net.h"

static int failures;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: FAILED: %s (%s)\n", __FILE__, __LINE__, #c, niti_last_error()); \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static void set_all_weights(niti_net *net, const niti_model_spec *m)
{
    for (int l = 0; l < m->n_layers; l++) {
        if (!niti_layer_has_weights(&m->layers[l])) continue;
        size_t n = (size_t)niti_layer_params(&m->layers[l]);
        int8_t *w = malloc(n);
        memset(w, 127, n);
        EXPECT(niti_net_set_weights(net, l, w, -7) == NITI_OK);
        free(w);
    }
}

static int run_model(const char *spec, niti_backend *ref, niti_backend *dev)
{
    niti_model_spec *m;
    if (niti_model_parse(spec, &m) != NITI_OK) {
        fprintf(stderr, "%s: %s\n", spec, niti_last_error());
        return 1;
    }
    printf("model: %s\n", m->canonical);
    int big = -1;
    for (int l = 0; l < m->n_layers; l++)
        if (niti_layer_fwd_terms(&m->layers[l]) * 128 * 127 >= ((int64_t)1 << 31)) big = l;
    EXPECT(big >= 0);
    if (big < 0) return 1;
    EXPECT(niti_layer_fwd_acc_bits(&m->layers[big]) == 64);
    EXPECT(niti_acc_dtype(niti_layer_fwd_terms(&m->layers[big])) == NITI_I64);
    printf("layer %d: K = %lld terms, accumulator %d bits\n", big,
           (long long)niti_layer_fwd_terms(&m->layers[big]),
           niti_layer_fwd_acc_bits(&m->layers[big]));

    const int N = 2, C = niti_model_classes(m);
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    int8_t *in = malloc(N * img);
    memset(in, -128, img); /* image 0: the worst case */
    uint32_t x = 12345;    /* image 1: pseudo-random, mostly negative */
    for (size_t i = 0; i < img; i++) {
        x = x * 1664525u + 1013904223u;
        in[img + i] = (int8_t)(x >> 24 & 0x80 ? -128 + (int)(x >> 28) : (int)(x >> 25) - 100);
    }
    int32_t lab[2] = {0, 3};
    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.seed = 9;
    niti_backend *bes[2] = {ref, dev};
    niti_net *nets[2] = {NULL, NULL};
    int8_t *logits[2];
    int nb = dev ? 2 : 1;
    for (int b = 0; b < nb; b++) {
        logits[b] = malloc((size_t)N * C);
        EXPECT(niti_net_create(bes[b], m, N, &cfg, &nets[b]) == NITI_OK);
        if (!nets[b]) return 1;
        set_all_weights(nets[b], m);
        int e = 0;
        EXPECT(niti_net_forward(nets[b], in, N, logits[b], &e) == NITI_OK);
        for (int c = 0; c < C; c++) EXPECT(logits[b][c] < 0); /* a wrapped sum would be > 0 */
        printf("%s: forward logits of the all -128 image: %d .. (exp %d)\n", bes[b]->name,
               logits[b][0], e);
    }
    if (nb == 2) EXPECT(!memcmp(logits[0], logits[1], (size_t)N * C));
    for (int step = 0; step < 2; step++) {
        for (int b = 0; b < nb; b++)
            EXPECT(niti_net_train_step(nets[b], in, lab, N, 3, (uint32_t)step, logits[b]) ==
                   NITI_OK);
        if (nb < 2) continue;
        EXPECT(!memcmp(logits[0], logits[1], (size_t)N * C));
        for (int l = 0; l < m->n_layers; l++) {
            if (!niti_layer_has_weights(&m->layers[l])) continue;
            size_t n = (size_t)niti_layer_params(&m->layers[l]);
            int8_t *wa = malloc(n), *wb = malloc(n);
            int ea = 0, eb = 1;
            EXPECT(niti_net_get_weights(nets[0], l, wa, &ea) == NITI_OK);
            EXPECT(niti_net_get_weights(nets[1], l, wb, &eb) == NITI_OK);
            EXPECT(ea == eb && !memcmp(wa, wb, n));
            free(wa);
            free(wb);
        }
        printf("step %d: ref and %s identical (logits, weights)\n", step, dev->name);
    }
    for (int b = 0; b < nb; b++) {
        niti_net_free(nets[b]);
        free(logits[b]);
    }
    free(in);
    niti_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fault_acc64 DEVICE|-\n");
        return 2;
    }
    niti_backend *ref = NULL, *dev = NULL;
    if (niti_backend_ref_create(&ref) != NITI_OK) return 1;
    if (strcmp(argv[1], "-")) {
        niti_status s = niti_backend_cl_create(argv[1], &dev);
        if (s == NITI_ERR_UNSUPPORTED) {
            printf("SKIP: no OpenCL device '%s': %s\n", argv[1], niti_last_error());
            niti_backend_close(ref);
            return 77;
        }
        if (s != NITI_OK) {
            fprintf(stderr, "opening %s: %s\n", argv[1], niti_last_error());
            return 1;
        }
    }
    run_model("input 364x364x1; flatten; linear 10", ref, dev);
    run_model("input 364x364x1; conv 2 k364 p0; flatten; linear 10", ref, dev);
    niti_backend_close(dev);
    niti_backend_close(ref);
    printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
