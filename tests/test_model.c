/* Model spec parser: presets, shapes, sizes, canonical round trips, the golden `net` specs and
 * a table of malformed specs that must be rejected with a line/column message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/model.h"
#include "niti.h"

static int same_layers(const niti_model_spec *a, const niti_model_spec *b)
{
    if (a->in_h != b->in_h || a->in_w != b->in_w || a->in_c != b->in_c) return 0;
    if (a->n_layers != b->n_layers) return 0;
    for (int i = 0; i < a->n_layers; i++) {
        const niti_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        if (x->kind != y->kind || x->out_ch != y->out_ch || x->k != y->k || x->pad != y->pad ||
            x->in_h != y->in_h || x->in_w != y->in_w || x->in_c != y->in_c ||
            x->out_h != y->out_h || x->out_w != y->out_w || x->out_c != y->out_c ||
            x->flat != y->flat)
            return 0;
    }
    return 1;
}

/* Parses m->canonical again: same layers, same canonical text. */
static void check_round_trip(const niti_model_spec *m)
{
    niti_model_spec *r = NULL;
    CHECK_EQ(niti_model_parse(m->canonical, &r), NITI_OK);
    if (!r) return;
    CHECK(same_layers(m, r));
    CHECK(!strcmp(m->canonical, r->canonical));
    CHECK(!strcmp(r->name, "custom"));
    niti_model_free(r);
}

/* Shape invariants every parsed model satisfies. */
static void check_chain(const niti_model_spec *m)
{
    int h = m->in_h, w = m->in_w, c = m->in_c, flat = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const niti_layer_spec *l = &m->layers[i];
        if (l->kind == NITI_LAYER_LINEAR || l->kind == NITI_LAYER_DROPOUT) {
            CHECK(flat);
            CHECK_EQ(l->in_h, 1);
            CHECK_EQ(l->in_w, 1);
        } else {
            CHECK_EQ(l->in_h, h);
            CHECK_EQ(l->in_w, w);
        }
        CHECK_EQ(l->in_c, c);
        if (l->kind == NITI_LAYER_LINEAR) {
            CHECK_EQ(l->k, 1);
            CHECK_EQ(l->pad, 0);
        }
        h = l->out_h, w = l->out_w, c = l->out_c, flat = l->flat;
    }
    CHECK_EQ(m->layers[m->n_layers - 1].kind, NITI_LAYER_LINEAR);
    CHECK_EQ(niti_model_classes(m), c);
}

static void test_lenet(void)
{
    niti_model_spec *m = NULL;
    CHECK_EQ(niti_model_from_arg("lenet", &m), NITI_OK);
    if (!m) return;
    CHECK(!strcmp(m->name, "lenet"));
    CHECK(!strcmp(m->canonical, "input 28x28x1; conv 20 k5 p0; relu; maxpool 2; conv 50 k5 p0; "
                                "relu; maxpool 2; flatten; linear 500; relu; linear 10"));
    CHECK_EQ(m->in_h, 28);
    CHECK_EQ(m->in_w, 28);
    CHECK_EQ(m->in_c, 1);
    CHECK_EQ(m->n_layers, 10);
    /* kind, out h, w, c, flat */
    static const int want[10][5] = {
        {NITI_LAYER_CONV, 24, 24, 20, 0},    {NITI_LAYER_RELU, 24, 24, 20, 0},
        {NITI_LAYER_MAXPOOL, 12, 12, 20, 0}, {NITI_LAYER_CONV, 8, 8, 50, 0},
        {NITI_LAYER_RELU, 8, 8, 50, 0},      {NITI_LAYER_MAXPOOL, 4, 4, 50, 0},
        {NITI_LAYER_FLATTEN, 1, 1, 800, 1},  {NITI_LAYER_LINEAR, 1, 1, 500, 1},
        {NITI_LAYER_RELU, 1, 1, 500, 1},     {NITI_LAYER_LINEAR, 1, 1, 10, 1}};
    for (int i = 0; i < 10 && i < m->n_layers; i++) {
        const niti_layer_spec *l = &m->layers[i];
        CHECK_EQ(l->kind, want[i][0]);
        CHECK_EQ(l->out_h, want[i][1]);
        CHECK_EQ(l->out_w, want[i][2]);
        CHECK_EQ(l->out_c, want[i][3]);
        CHECK_EQ(l->flat, want[i][4]);
    }
    CHECK_EQ(m->layers[0].k, 5);
    CHECK_EQ(m->layers[0].pad, 0);
    CHECK_EQ(m->layers[0].out_ch, 20);
    CHECK_EQ(m->layers[3].in_c, 20);
    CHECK_EQ(m->layers[7].in_c, 800);
    CHECK_EQ(m->layers[9].in_c, 500);
    /* 20*25 + 50*20*25 + 500*800 + 10*500 = 500 + 25000 + 400000 + 5000 */
    CHECK_EQ(niti_layer_params(&m->layers[0]), 500);
    CHECK_EQ(niti_layer_params(&m->layers[3]), 25000);
    CHECK_EQ(niti_layer_params(&m->layers[7]), 400000);
    CHECK_EQ(niti_layer_params(&m->layers[9]), 5000);
    CHECK_EQ(niti_layer_params(&m->layers[1]), 0);
    CHECK_EQ(niti_model_params(m), 430500);
    CHECK_EQ(niti_layer_macs(&m->layers[0]), 24 * 24 * 20 * 25);
    CHECK_EQ(niti_layer_macs(&m->layers[3]), 8 * 8 * 50 * 25 * 20);
    CHECK_EQ(niti_model_macs(m), 288000 + 1600000 + 400000 + 5000);
    CHECK_EQ(niti_model_classes(m), 10);
    for (int i = 0; i < m->n_layers; i++)
        CHECK_EQ(niti_layer_fwd_acc_bits(&m->layers[i]),
                 niti_layer_has_weights(&m->layers[i]) ? 32 : 0);
    char buf[64];
    niti_layer_format(&m->layers[0], buf, sizeof buf);
    CHECK(!strcmp(buf, "conv 20 k5 p0"));
    niti_layer_format(&m->layers[2], buf, sizeof buf);
    CHECK(!strcmp(buf, "maxpool 2"));
    niti_layer_format(&m->layers[9], buf, sizeof buf);
    CHECK(!strcmp(buf, "linear 10"));
    check_chain(m);
    check_round_trip(m);

    niti_model_spec *c = NULL;
    CHECK_EQ(niti_model_copy(m, &c), NITI_OK);
    if (c) {
        CHECK(same_layers(m, c));
        CHECK(!strcmp(c->name, "lenet"));
        CHECK(!strcmp(c->canonical, m->canonical));
        CHECK(c->layers != m->layers);
        niti_model_free(c);
    }
    niti_model_free(m);
}

/* Expected sizes of every preset, computed independently (by hand and a short script). */
static void test_presets(void)
{
    static const struct {
        const char *name;
        int in_h, in_c, n_layers, features;
        long long params, macs;
        int dropout;
    } want[] = {
        {"lenet", 28, 1, 10, 800, 430500, 2293000, 0},
        {"vgg-small-7", 32, 3, 18, 8192, 4656512, 607600640, 1},
        {"vgg-small-8", 32, 3, 20, 8192, 4803968, 758595584, 1},
        {"vgg-small-9", 32, 3, 22, 8192, 5393792, 909590528, 1},
        {"vgg-small-28", 28, 1, 18, 2304, 1166400, 116080128, 1},
        {"vgg9", 32, 3, 17, 512, 3914432, 67834880, 0},
        {"vgg11", 32, 3, 23, 512, 9222848, 152769536, 0},
        {"vgg13", 32, 3, 27, 512, 9407168, 228267008, 0},
        {"vgg16", 32, 3, 33, 512, 14715584, 313201664, 0},
    };
    const size_t nw = sizeof want / sizeof *want;
    const char *const *names = niti_model_preset_names();
    size_t n = 0;
    while (names[n]) n++;
    CHECK_EQ(n, nw);
    for (size_t i = 0; i < nw; i++) {
        CHECK(i < n && !strcmp(names[i], want[i].name));
        CHECK(niti_model_preset_text(want[i].name) != NULL);
        CHECK(niti_model_preset_description(want[i].name) != NULL);
        niti_model_spec *m = NULL;
        CHECK_EQ(niti_model_from_arg(want[i].name, &m), NITI_OK);
        if (!m) {
            fprintf(stderr, "preset %s: %s\n", want[i].name, niti_last_error());
            continue;
        }
        CHECK(!strcmp(m->name, want[i].name));
        CHECK_EQ(m->in_h, want[i].in_h);
        CHECK_EQ(m->in_w, want[i].in_h);
        CHECK_EQ(m->in_c, want[i].in_c);
        CHECK_EQ(m->n_layers, want[i].n_layers);
        CHECK_EQ(niti_model_params(m), want[i].params);
        CHECK_EQ(niti_model_macs(m), want[i].macs);
        CHECK_EQ(niti_model_classes(m), 10);
        int has_dropout = 0, flat_at = -1;
        for (int j = 0; j < m->n_layers; j++) {
            if (m->layers[j].kind == NITI_LAYER_DROPOUT) {
                has_dropout = 1;
                CHECK_EQ(j, m->n_layers - 2); /* right before the classifier */
            }
            if (m->layers[j].kind == NITI_LAYER_FLATTEN) flat_at = j;
            if (m->layers[j].kind == NITI_LAYER_CONV && want[i].in_h == 32) {
                CHECK_EQ(m->layers[j].k, 3);
                CHECK_EQ(m->layers[j].pad, 1);
            }
        }
        CHECK_EQ(has_dropout, want[i].dropout);
        CHECK(flat_at >= 0);
        if (flat_at >= 0) CHECK_EQ(m->layers[flat_at].out_c, want[i].features);
        check_chain(m);
        check_round_trip(m);
        niti_model_free(m);
    }
    CHECK(niti_model_preset_text("nope") == NULL);
    CHECK(niti_model_preset_text(NULL) == NULL);
    /* training defaults: per preset, and lenet's for a spec that is no preset */
    static const struct {
        const char *arg;
        int batch, epochs;
        const char *mu;
    } dw[] = {{"lenet", 64, 5, "4,3:3,4:2"},
              {"vgg-small-7", 256, 200, "5,100:4,150:3"},
              {"vgg16", 256, 200, "5,100:4,150:3"},
              {"vgg-small-28", 256, 40, "5,20:4,30:3,35:2"},
              {"input 28x28x1; flatten; linear 10", 64, 5, "4,3:3,4:2"}};
    for (size_t i = 0; i < sizeof dw / sizeof *dw; i++) {
        niti_model_spec *m = NULL;
        CHECK_EQ(niti_model_from_arg(dw[i].arg, &m), NITI_OK);
        if (!m) continue;
        int b = -1, e = -1;
        char mu[8]; /* too small for the VGG schedules: truncated like snprintf */
        char full[64];
        niti_model_train_defaults(m, &b, &e, full, sizeof full);
        CHECK_EQ(b, dw[i].batch);
        CHECK_EQ(e, dw[i].epochs);
        CHECK(!strcmp(full, dw[i].mu));
        niti_model_train_defaults(m, NULL, NULL, mu, sizeof mu);
        CHECK(!strncmp(mu, dw[i].mu, sizeof mu - 1) && strlen(mu) < sizeof mu);
        niti_model_free(m);
    }
}

/* The layer lists of the golden `net` cases (shared/golden/README.md). */
static void test_golden_nets(void)
{
    static const struct {
        const char *spec;
        int n_layers, features;
        long long params;
        const char *weight_layers, *dropout_layers;
    } nets[] = {
        {"input 8x8x3; conv 8 k3 p1; relu; maxpool 2; conv 16 k3 p1; relu; maxpool 2; flatten; "
         "dropout; linear 10",
         9, 64, 8 * 9 * 3 + 16 * 9 * 8 + 10 * 64, "0,3,8", "7"},
        {"input 12x12x1; conv 5 k5 p0; relu; conv 12 k5 p0; relu; maxpool 2; flatten; linear 20; "
         "relu; linear 10",
         9, 2 * 2 * 12, 5 * 25 + 12 * 25 * 5 + 20 * 48 + 10 * 20, "0,2,6,8", ""},
        {"input 10x10x3; conv 7 k3 p1; relu; maxpool 2; conv 13 k1 p0; relu; conv 6 k3 p0; relu; "
         "flatten; dropout; linear 10",
         10, 3 * 3 * 6, 7 * 9 * 3 + 13 * 7 + 6 * 9 * 13 + 10 * 54, "0,3,5,9", "8"},
    };
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        niti_model_spec *m = NULL;
        CHECK_EQ(niti_model_parse(nets[i].spec, &m), NITI_OK);
        if (!m) {
            fprintf(stderr, "golden net %zu: %s\n", i, niti_last_error());
            continue;
        }
        CHECK(!strcmp(m->canonical, nets[i].spec));
        CHECK(!strcmp(m->name, "custom"));
        CHECK_EQ(m->n_layers, nets[i].n_layers);
        CHECK_EQ(niti_model_params(m), nets[i].params);
        char wl[64] = "", dl[64] = "";
        for (int j = 0; j < m->n_layers; j++) {
            char *d = niti_layer_has_weights(&m->layers[j]) ? wl
                      : m->layers[j].kind == NITI_LAYER_DROPOUT ? dl : NULL;
            if (d) snprintf(d + strlen(d), 64 - strlen(d), "%s%d", *d ? "," : "", j);
            if (m->layers[j].kind == NITI_LAYER_FLATTEN)
                CHECK_EQ(m->layers[j].out_c, nets[i].features);
        }
        CHECK(!strcmp(wl, nets[i].weight_layers));
        CHECK(!strcmp(dl, nets[i].dropout_layers));
        check_chain(m);
        check_round_trip(m);
        niti_model_free(m);
    }
}

/* Whitespace, newlines, comments, empty entries: the same model as the lenet preset. */
static void test_layout(void)
{
    const char *text =
        "# LeNet, written out\n"
        "  input   28x28x1  \n"
        "\tconv 20 k5 p0 ; relu;maxpool 2   # first block\r\n"
        "conv 50 k5 p0\n\n"
        "relu\n"
        "maxpool 2;;\n"
        "flatten\n"
        "linear 500; relu\n"
        "linear 10;\n"
        "# end\n";
    niti_model_spec *a = NULL, *b = NULL;
    CHECK_EQ(niti_model_parse(text, &a), NITI_OK);
    CHECK_EQ(niti_model_from_arg("lenet", &b), NITI_OK);
    if (a && b) {
        CHECK(same_layers(a, b));
        CHECK(!strcmp(a->canonical, b->canonical));
        CHECK(!strcmp(a->name, "custom"));
    } else {
        fprintf(stderr, "layout: %s\n", niti_last_error());
    }
    niti_model_free(a);
    niti_model_free(b);

    /* odd sizes: maxpool drops the last row/column; conv with padding grows the image */
    CHECK_EQ(niti_model_parse("input 7x5x2; maxpool 2; conv 4 k1 p2; flatten; linear 3", &a),
             NITI_OK);
    if (a) {
        CHECK_EQ(a->layers[0].out_h, 3);
        CHECK_EQ(a->layers[0].out_w, 2);
        CHECK_EQ(a->layers[1].out_h, 7);
        CHECK_EQ(a->layers[1].out_w, 6);
        CHECK_EQ(a->layers[2].out_c, 7 * 6 * 4);
        CHECK_EQ(niti_model_classes(a), 3);
        check_chain(a);
        niti_model_free(a);
    }
    /* the largest single sizes are accepted; a wide linear layer needs int64 accumulators */
    CHECK_EQ(niti_model_parse("input 1x1x65536; flatten; linear 32767; relu; dropout; linear 1",
                              &a), NITI_OK);
    if (a) {
        CHECK_EQ(niti_model_params(a), 65536LL * 32767 + 32767);
        CHECK_EQ(niti_layer_fwd_acc_bits(&a->layers[1]), 32); /* 65536*128*127 < 2^31 */
        niti_model_free(a);
    }
    CHECK_EQ(niti_model_parse("input 400x400x1; flatten; linear 2", &a), NITI_OK);
    if (a) {
        CHECK_EQ(niti_layer_fwd_terms(&a->layers[1]), 160000);
        CHECK_EQ(niti_layer_fwd_acc_bits(&a->layers[1]), 64); /* 160000*128*127 >= 2^31 */
        niti_model_free(a);
    }
}

static void test_bad_specs(void)
{
    static const struct {
        const char *spec, *needle; /* the message must contain "line", "column" and needle */
    } bad[] = {
        {"", "empty"},
        {"   \n# only a comment\n", "input"},
        {"conv 20 k5 p0; relu; flatten; linear 10", "'input HxWxC'"},
        {"Input 28x28x1; flatten; linear 10", "lower case"},
        {"input 28x28; flatten; linear 10", "input shape"},
        {"input 28x28x1x1; flatten; linear 10", "input shape"},
        {"input; flatten; linear 10", "input shape"},
        {"input 0x28x1; flatten; linear 10", "input height"},
        {"input 65537x1x1; flatten; linear 10", "65536"},
        {"input 65536x65536x1; flatten; linear 10", "elements"},
        {"input 28x28x1", "at least one layer"},
        {"input 28x28x1; conv 20 x5 p0; flatten; linear 10", "line 1, column 24: expected a "
                                                             "kernel size like 'k5' after 'conv 20', got 'x5'"},
        {"input 28x28x1; conv twenty k5 p0; flatten; linear 10", "output channels"},
        {"input 28x28x1; conv 20 k5; flatten; linear 10", "padding"},
        {"input 28x28x1; conv 20 k5 p-1; flatten; linear 10", "padding"},
        {"input 28x28x1; conv 0 k5 p0; flatten; linear 10", "conv output channels"},
        {"input 28x28x1; conv 20 k0 p0; flatten; linear 10", "kernel size"},
        {"input 28x28x1; conv 99999999999999999999 k5 p0; flatten; linear 10", "1..65536"},
        {"input 28x28x1; conv 20 k5 p0 extra; flatten; linear 10", "after 'conv 20 k5 p0', got 'extra'"},
        {"input 28x28x1; relu 3; flatten; linear 10", "after 'relu'"},
        {"input 28x28x1; flatten; linear 10 10", "after 'linear 10', got '10'"},
        {"input 28x28x1; pool 2; flatten; linear 10", "expected a layer"},
        {"input 28x28x1; Conv 20 k5 p0; flatten; linear 10", "lower case"},
        {"input 28x28x1; maxpool 3; flatten; linear 10", "'2' after 'maxpool'"},
        {"input 28x28x1; maxpool; flatten; linear 10", "'2' after 'maxpool'"},
        {"input 28x28x1; conv 20 k5 p0; linear 10", "add 'flatten'"},
        {"input 28x28x1; dropout; flatten; linear 10", "flattened input"},
        {"input 28x28x1; flatten; conv 20 k5 p0; linear 10", "before 'flatten'"},
        {"input 28x28x1; flatten; maxpool 2; linear 10", "before 'flatten'"},
        {"input 28x28x1; flatten; flatten; linear 10", "already"},
        {"input 2x2x1; conv 3 k5 p0; flatten; linear 10", "no output"},
        {"input 1x8x1; maxpool 2; flatten; linear 10", "at least 2x2"},
        {"input 28x28x1; conv 20 k5 p0; relu", "last layer"},
        {"input 28x28x1; flatten; linear 10; relu", "last layer"},
        {"input 28x28x1; flatten; linear 10; input 3x3x3", "only once"},
        {"input 64x64x64; conv 65536 k64 p0; flatten; linear 10", "weights"},
        {"input 32768x32768x1; conv 2 k1 p0; flatten; linear 10", "elements"},
        {"input 50000x1x1; conv 50000 k1 p0; flatten; linear 10", "elements"},
        {"input 1x1x1; conv 1 k1 p40000; flatten; linear 10", "limited to 65536"},
        {"input 256x256x64; flatten; linear 65536", "weights"},
        {"input 28x28x1; flatten; linear 10 \xff", "\\xff"},
        {"input 28x28x1\nflatten\nlinear\n", "line 3, column 7"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        niti_model_spec *m = (niti_model_spec *)&m; /* must be reset to NULL */
        niti_status s = niti_model_parse(bad[i].spec, &m);
        const char *msg = niti_last_error();
        int ok = s == NITI_ERR_FORMAT && m == NULL && strstr(msg, "line") &&
                 strstr(msg, "column") && strstr(msg, bad[i].needle);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "bad spec %zu \"%s\": status %d, message \"%s\" (want \"%s\")\n", i,
                    bad[i].spec, (int)s, msg, bad[i].needle);
        if (s == NITI_OK) niti_model_free(m);
    }
    niti_model_spec *m = NULL;
    CHECK_EQ(niti_model_parse(NULL, &m), NITI_ERR_INVALID);
    CHECK_EQ(niti_model_from_arg(NULL, &m), NITI_ERR_INVALID);
    CHECK(m == NULL);
}

static void test_from_arg(void)
{
    char path[] = "/tmp/niti_test_model_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *good = "input 8x8x3 # tiny\nconv 8 k3 p1\nrelu\nmaxpool 2\nflatten\nlinear 10\n";
    CHECK_EQ(write(fd, good, strlen(good)), (long long)strlen(good));
    close(fd);
    niti_model_spec *m = NULL;
    CHECK_EQ(niti_model_from_arg(path, &m), NITI_OK);
    if (m) {
        CHECK(!strcmp(m->name, "custom"));
        CHECK(!strcmp(m->canonical,
                      "input 8x8x3; conv 8 k3 p1; relu; maxpool 2; flatten; linear 10"));
        niti_model_free(m);
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("input 8x8x3\nconv 8 k3 p1\nlinear 10\n", f);
        fclose(f);
    }
    CHECK_EQ(niti_model_from_arg(path, &m), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), path) != NULL);
    CHECK(strstr(niti_last_error(), "line 3, column 1") != NULL);
    unlink(path);

    /* a mistyped preset name */
    CHECK_EQ(niti_model_from_arg("lenett", &m), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "not a preset") != NULL);
    CHECK(strstr(niti_last_error(), "column") != NULL);
    /* inline text */
    CHECK_EQ(niti_model_from_arg("input 4x4x1; flatten; linear 2", &m), NITI_OK);
    if (m) {
        CHECK_EQ(niti_model_params(m), 32);
        niti_model_free(m);
    }
}

int main(void)
{
    test_lenet();
    test_presets();
    test_golden_nets();
    test_layout();
    test_bad_specs();
    test_from_arg();
    return check_report("test_model");
}
