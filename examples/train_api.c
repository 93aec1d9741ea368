/* Embedding niti from C: build a network from a spec, train it on your own int8 batches,
 * evaluate, save a checkpoint and load it back. Uses only the public header.
 *
 *   cc train_api.c $(pkg-config --cflags --libs niti) -o train_api && ./train_api [device]
 *
 * The task: 8x8 one-channel images holding a bright bar that is either horizontal (class 0) or
 * vertical (class 1), at a random position, on a noisy background. */
#include <niti.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 32

static unsigned rng_state = 12345;
static unsigned rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 16;
}

/* Images at the contract's input exponent -5: value 32 means 1.0. */
static void make_batch(int8_t *x, int32_t *y)
{
    for (int n = 0; n < N; n++) {
        int cls = (int)(rnd() & 1), pos = (int)(rnd() % 8);
        y[n] = cls;
        for (int i = 0; i < 64; i++) x[n * 64 + i] = (int8_t)((int)(rnd() % 17) - 8);
        for (int k = 0; k < 8; k++) x[n * 64 + (cls ? k * 8 + pos : pos * 8 + k)] = 64;
    }
}

static int fail(const char *what, niti_status s)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, niti_status_name(s), niti_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    const char *device = argc > 1 ? argv[1] : "ref";
    const char *ckpt = argc > 2 ? argv[2] : "train_api_example.safetensors";
    niti_backend *be;
    niti_model_spec *model;
    niti_net *net;
    niti_status s;

    if ((s = niti_backend_open(device, &be))) return fail("niti_backend_open", s);
    printf("device: %s\n", niti_backend_name(be));
    s = niti_model_parse("input 8x8x1; conv 8 k3 p1; relu; maxpool 2; flatten; linear 2", &model);
    if (s) return fail("niti_model_parse", s);

    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.seed = 42;
    if ((s = niti_net_create(be, model, N, &cfg, &net))) return fail("niti_net_create", s);
    if ((s = niti_net_init_xavier(net, 42))) return fail("niti_net_init_xavier", s);

    int8_t x[N * 64], logits[N * 2];
    int32_t y[N];
    for (uint32_t t = 0; t < 150; t++) {
        make_batch(x, y);
        if ((s = niti_net_train_step(net, x, y, N, /*mu=*/2, t, NULL)))
            return fail("niti_net_train_step", s);
    }

    int correct = 0, total = 0, e;
    for (int b = 0; b < 8; b++) {
        make_batch(x, y);
        if ((s = niti_net_forward(net, x, N, logits, &e))) return fail("niti_net_forward", s);
        for (int n = 0; n < N; n++, total++)
            correct += (logits[2 * n + 1] > logits[2 * n]) == (y[n] == 1);
    }
    printf("accuracy after 150 steps: %d/%d (logit exponent %d)\n", correct, total, e);

    /* Save, load into a second network, and check that both give the same logits. */
    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cfg;
    strcpy(rs.mu, "2");
    rs.batch = N;
    rs.step = 150;
    if ((s = niti_checkpoint_save(net, &rs, ckpt))) return fail("niti_checkpoint_save", s);
    niti_net *net2;
    niti_run_state rs2;
    if ((s = niti_checkpoint_load(ckpt, be, N, &net2, &rs2))) return fail("niti_checkpoint_load", s);
    int8_t logits2[N * 2];
    if ((s = niti_net_forward(net, x, N, logits, NULL)) ||
        (s = niti_net_forward(net2, x, N, logits2, NULL)))
        return fail("niti_net_forward", s);
    int same = !memcmp(logits, logits2, sizeof logits) && rs2.step == 150;
    printf("checkpoint round trip: %s\n", same ? "identical" : "DIFFERENT");

    niti_net_free(net2);
    niti_net_free(net);
    niti_model_free(model);
    niti_backend_close(be);
    remove(ckpt);
    if (!same || correct * 10 < total * 9) {
        fprintf(stderr, "example failed: accuracy %d/%d, round trip %s\n", correct, total,
                same ? "ok" : "different");
        return 1;
    }
    return 0;
}
