/* Checkpoints: round trip, the checksum covers tensors and metadata (format 2), format-1 files
 * (tensor-only checksum) still load, and damage is reported without touching the device. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/checkpoint.h"
#include "niti.h"
#include "io/safetensors.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The format-1 checksum, written out independently of checkpoint.c. */
static void set_v1_checksum(niti_st *st)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < st->n_tensors; i++) {
        niti_st_tensor *t = &st->tensors[i];
        unsigned char d = (unsigned char)t->dtype;
        h = fnv(fnv(fnv(h, t->name, strlen(t->name) + 1), &d, 1), t->data, t->nbytes);
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%016" PRIx64, h);
    niti_st_set_meta(st, "format_version", "1");
    niti_st_set_meta(st, "checksum", buf);
}

static niti_st *reread(const char *path)
{
    niti_st *st = NULL;
    CHECK_EQ(niti_st_read(path, &st), NITI_OK);
    return st;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/ckpt_a.st", dir);
    snprintf(b, sizeof b, "%s/ckpt_b.st", dir);

    niti_backend *be;
    niti_model_spec *m;
    niti_net *net, *net2;
    CHECK_EQ(niti_backend_open("ref", &be), NITI_OK);
    CHECK_EQ(niti_model_parse("input 6x6x2; conv 4 k3 p1; relu; maxpool 2; flatten; linear 3", &m),
             NITI_OK);
    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.seed = 99;
    cfg.master16 = 1;
    CHECK_EQ(niti_net_create(be, m, 4, &cfg, &net), NITI_OK);
    CHECK_EQ(niti_net_init_xavier(net, 5), NITI_OK);
    int8_t x[4 * 72];
    int32_t y[4] = {0, 1, 2, 1};
    for (int i = 0; i < 4 * 72; i++) x[i] = (int8_t)((i * 37) % 200 - 100);
    for (uint32_t t = 0; t < 3; t++) CHECK_EQ(niti_net_train_step(net, x, y, 4, 1, t, NULL), NITI_OK);

    /* saturation: 0 <= saturated <= outputs of the last batch (4 images x 6x6x4) */
    int64_t sat = -1, tot = -1;
    CHECK_EQ(niti_net_layer_saturation(net, 0, &sat, &tot), NITI_OK);
    CHECK_EQ(tot, 4 * 6 * 6 * 4);
    CHECK(sat >= 0 && sat <= tot);
    CHECK(niti_net_layer_saturation(net, 1, &sat, &tot) != NITI_OK); /* relu has no weights */

    /* conv -> relu -> maxpool keeps no conv output (net.c, "transient outputs"): the same net
     * with a second (no-op) relu keeps it. Both must train to the same weights and report the
     * same saturation, on inputs big enough that outputs do reach +127. */
    {
        niti_model_spec *m2 = NULL;
        niti_net *fa = NULL, *fb = NULL;
        CHECK_EQ(niti_model_parse("input 6x6x2; conv 4 k3 p1; relu; relu; maxpool 2; flatten; "
                                  "linear 3",
                                  &m2),
                 NITI_OK);
        niti_train_cfg c2;
        niti_train_cfg_default(&c2);
        c2.seed = 7;
        CHECK_EQ(niti_net_create(be, m, 4, &c2, &fa), NITI_OK);
        CHECK_EQ(niti_net_create(be, m2, 4, &c2, &fb), NITI_OK);
        CHECK_EQ(niti_net_init_xavier(fa, 3), NITI_OK);
        int8_t w[128], wb[128]; /* conv 4x3x3x2 = 72, linear 3x36 = 108 weights */
        int e = 0, eb = 0;
        const int la[2] = {0, 4}, lb[2] = {0, 5};
        for (int k = 0; k < 2; k++) {
            CHECK_EQ(niti_net_get_weights(fa, la[k], w, &e), NITI_OK);
            CHECK_EQ(niti_net_set_weights(fb, lb[k], w, e), NITI_OK);
        }
        /* Inputs 127 and conv weights summing to 2048 per output (16 x 127 + 16 + 0): every
         * interior output's accumulator is 127 * 2^11, which requantises to exactly 127. */
        int8_t xs[4 * 72], cw[72];
        for (int i = 0; i < 4 * 72; i++) xs[i] = 127;
        for (int i = 0; i < 72; i++) cw[i] = (int8_t)(i % 18 < 16 ? 127 : i % 18 == 16 ? 16 : 0);
        CHECK_EQ(niti_net_set_weights(fa, 0, cw, -7), NITI_OK);
        CHECK_EQ(niti_net_set_weights(fb, 0, cw, -7), NITI_OK);
        int64_t sa = -1, ta = -1, sb = -2, tb = -2, seen = 0;
        for (uint32_t t = 0; t < 4; t++) {
            CHECK_EQ(niti_net_train_step(fa, xs, y, 4, 2, t, NULL), NITI_OK);
            CHECK_EQ(niti_net_train_step(fb, xs, y, 4, 2, t, NULL), NITI_OK);
            CHECK_EQ(niti_net_layer_saturation(fa, 0, &sa, &ta), NITI_OK);
            CHECK_EQ(niti_net_layer_saturation(fb, 0, &sb, &tb), NITI_OK);
            CHECK_EQ(sa, sb);
            CHECK_EQ(ta, tb);
            seen += sa;
        }
        CHECK(seen > 0);
        for (int k = 0; k < 2; k++) {
            CHECK_EQ(niti_net_get_weights(fa, la[k], w, &e), NITI_OK);
            CHECK_EQ(niti_net_get_weights(fb, lb[k], wb, &eb), NITI_OK);
            CHECK(e == eb && memcmp(w, wb, k ? 3 * 36 : 4 * 18) == 0);
        }
        niti_net_free(fa);
        niti_net_free(fb);
        niti_model_free(m2);
    }

    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cfg;
    strcpy(rs.mu, "1");
    strcpy(rs.dataset, "mnist");
    rs.batch = 4;
    rs.step = 3;
    rs.epochs = 1;
    CHECK_EQ(niti_checkpoint_save(net, &rs, a), NITI_OK);

    /* round trip: same logits, same master weights, same state */
    niti_run_state rs2;
    CHECK_EQ(niti_checkpoint_load(a, be, 4, &net2, &rs2), NITI_OK);
    int8_t l1[12], l2[12];
    CHECK_EQ(niti_net_forward(net, x, 4, l1, NULL), NITI_OK);
    CHECK_EQ(niti_net_forward(net2, x, 4, l2, NULL), NITI_OK);
    CHECK(!memcmp(l1, l2, sizeof l1));
    int16_t m1[72], m2[72];
    CHECK_EQ(niti_net_get_master(net, 0, m1), NITI_OK);
    CHECK_EQ(niti_net_get_master(net2, 0, m2), NITI_OK);
    CHECK(!memcmp(m1, m2, sizeof m1));
    CHECK_EQ(rs2.step, 3);
    CHECK_EQ(rs2.cfg.seed, 99);
    CHECK_EQ(rs2.cfg.master16, 1);
    niti_net_free(net2);

    /* a changed metadata value (the seed) is caught by the checksum */
    niti_st *st = reread(a);
    CHECK_EQ(niti_st_set_meta(st, "seed", "100"), NITI_OK);
    CHECK_EQ(niti_st_write(st, b), NITI_OK);
    niti_st_free(st);
    CHECK_EQ(niti_checkpoint_load(b, be, 4, &net2, NULL), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "checksum mismatch") != NULL);
    CHECK(strstr(niti_last_error(), b) != NULL);

    /* a flipped weight byte too */
    st = reread(a);
    ((int8_t *)st->tensors[0].data)[0] ^= 1;
    CHECK_EQ(niti_st_write(st, b), NITI_OK);
    niti_st_free(st);
    CHECK_EQ(niti_checkpoint_load(b, be, 4, &net2, NULL), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "checksum mismatch") != NULL);

    /* a format-1 file (tensor-only checksum) still loads and gives the same logits */
    st = reread(a);
    set_v1_checksum(st);
    CHECK_EQ(niti_st_write(st, b), NITI_OK);
    niti_st_free(st);
    CHECK_EQ(niti_checkpoint_load(b, be, 4, &net2, NULL), NITI_OK);
    if (net2) {
        CHECK_EQ(niti_net_forward(net2, x, 4, l2, NULL), NITI_OK);
        CHECK(!memcmp(l1, l2, sizeof l1));
        niti_net_free(net2);
    }
    /* an unknown format version is refused with a clear message */
    st = reread(a);
    CHECK_EQ(niti_st_set_meta(st, "format_version", "7"), NITI_OK);
    CHECK_EQ(niti_st_write(st, b), NITI_OK);
    niti_st_free(st);
    CHECK(niti_checkpoint_load(b, be, 4, &net2, NULL) != NITI_OK);

    niti_net_free(net);
    niti_model_free(m);
    niti_backend_close(be);
    remove(a);
    remove(b);
    return check_report("test_checkpoint");
}
