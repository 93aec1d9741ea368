/* Writes the seed corpora of the fuzz targets: gen_seeds OUTDIR makes OUTDIR/<target>/ for every
 * target and fills it with small valid inputs and a few near misses. Everything is made here from
 * the library's own writers (no downloaded data). The committed tests/fuzz/corpus/ was made by
 *   build/tests/fuzz_gen_seeds tests/fuzz/corpus
 * Run it again after a format change; keep the corpus small (it is replayed in every CTest run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backends.h"
#include "io/checkpoint.h"
#include "core/model.h"
#include "core/net.h"
#include "io/safetensors.h"

static const char *outdir;

static void die(const char *what)
{
    fprintf(stderr, "gen_seeds: %s: %s\n", what, niti_last_error());
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", outdir, target) >= (int)sizeof path) die("path too long");
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path);
    if (snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name) >= (int)sizeof path) die("path too long");
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) die(path);
}

static void put_str(const char *target, const char *name, const char *s)
{
    put(target, name, s, strlen(s));
}

static void put_file(const char *target, const char *name, const char *src)
{
    FILE *f = fopen(src, "rb");
    if (!f) die(src);
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    put(target, name, buf, n);
}

static void be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void idx_seeds(void)
{
    static unsigned char b[16 + 2 * 784];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(i * 7);
    be32(b, 0x803), be32(b + 4, 1), be32(b + 8, 28), be32(b + 12, 28);
    put("fuzz_idx_images", "one_image", b, 16 + 784);
    be32(b + 4, 2);
    put("fuzz_idx_images", "two_images", b, sizeof b);
    put("fuzz_idx_images", "truncated", b, sizeof b - 5);
    be32(b, 0x801);
    put("fuzz_idx_images", "labels_magic", b, 16 + 784);
    put("fuzz_idx_images", "header_only", b, 16);

    unsigned char l[8 + 10];
    be32(l, 0x801), be32(l + 4, 10);
    for (int i = 0; i < 10; i++) l[8 + i] = (unsigned char)i;
    put("fuzz_idx_labels", "ten_labels", l, sizeof l);
    l[8 + 4] = 10;
    put("fuzz_idx_labels", "label_10", l, sizeof l);
    be32(l + 4, 1);
    l[8] = 3;
    put("fuzz_idx_labels", "one_label", l, 9);
    be32(l, 0x803);
    put("fuzz_idx_labels", "images_magic", l, 9);
}

static void cifar_seeds(void)
{
    static unsigned char r[2 * 3073];
    for (size_t i = 0; i < sizeof r; i++) r[i] = (unsigned char)(i * 13 + 1);
    r[0] = 3, r[3073] = 9;
    put("fuzz_cifar", "two_records", r, sizeof r);
    put("fuzz_cifar", "one_record", r, 3073);
    put("fuzz_cifar", "partial", r, 3073 + 100);
    r[3073] = 10;
    put("fuzz_cifar", "bad_label", r, sizeof r);
}

static void st_seeds(const char *tmpdir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/seed.st", tmpdir) >= (int)sizeof path) die("path too long");
    niti_st *st = niti_st_new();
    int8_t a[6] = {1, -2, 3, -4, 5, -6};
    int16_t b[3] = {-300, 0, 300};
    int32_t c[2] = {-70000, 70000};
    int64_t d[1] = {-5000000000LL};
    float e[2] = {0.5f, -1.25f};
    uint8_t u[4] = {0, 1, 254, 255};
    int64_t s23[2] = {2, 3}, s3[1] = {3}, s2[1] = {2}, s0[1] = {0}, s1111[4] = {1, 1, 1, 1};
    if (niti_st_add(st, "a", NITI_I8, 2, s23, a) || niti_st_add(st, "b.w", NITI_I16, 1, s3, b) ||
        niti_st_add(st, "c", NITI_I32, 1, s2, c) || niti_st_add(st, "scalar", NITI_I64, 0, NULL, d) ||
        niti_st_add(st, "f", NITI_F32, 1, s2, e) || niti_st_add(st, "empty", NITI_U8, 1, s0, NULL) ||
        niti_st_add(st, "u", NITI_U8, 4, s1111, u) || niti_st_set_meta(st, "kind", "relu") ||
        niti_st_set_meta(st, "n", "-42") || niti_st_set_meta(st, "big", "9223372036854775807") ||
        niti_st_set_meta(st, "utf8", "\xc3\xa9\xe2\x82\xac") || niti_st_set_meta(st, "q", "a\"b\\c\n") ||
        niti_st_write(st, path))
        die("safetensors seed");
    niti_st_free(st);
    put_file("fuzz_safetensors", "all_dtypes.st", path);
    st = niti_st_new();
    if (niti_st_write(st, path)) die("empty safetensors");
    niti_st_free(st);
    put_file("fuzz_safetensors", "empty.st", path);
    /* hand-made headers: metadata only, an unsupported dtype, offsets past the end, a gap */
    static const char *const raw[] = {
        "{\"__metadata__\":{\"format\":\"x\"}}",
        "{\"t\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"t\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}",
        "{\"t\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
        "{\"t\":{\"dtype\":\"I16\",\"shape\":[1,2],\"data_offsets\":[0,4]},"
        "\"s\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[4,5]}}",
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        unsigned char buf[512];
        size_t hl = strlen(raw[i]);
        for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)hl >> (8 * k));
        memcpy(buf + 8, raw[i], hl);
        memset(buf + 8 + hl, 7, 5); /* 5 data bytes */
        char name[32];
        snprintf(name, sizeof name, "raw_%zu.st", i);
        put("fuzz_safetensors", name, buf, 8 + hl + (i == 4 ? 5 : i == 2 ? 2 : i == 3 ? 2 : 0));
    }
}

static void ckpt_seed(niti_backend *be, const char *spec, int master16, int niti20,
                      const char *tmpdir, const char *name)
{
    niti_model_spec *m;
    if (niti_model_parse(spec, &m)) die(spec);
    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.master16 = master16;
    if (niti20) cfg.rule = NITI_RULE_NITI20, cfg.act_round = cfg.err_round = NITI_PSR;
    cfg.seed = 7;
    niti_net *net;
    if (niti_net_create(be, m, 2, &cfg, &net) || niti_net_init_xavier(net, 3)) die("net");
    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cfg;
    snprintf(rs.mu, sizeof rs.mu, "%s", niti20 ? "5,1:4" : "0");
    snprintf(rs.dataset, sizeof rs.dataset, "mnist");
    rs.batch = 2, rs.step = 5, rs.epoch = 1, rs.batch_pos = 1, rs.epochs = 3;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", tmpdir, name) >= (int)sizeof path) die("path too long");
    if (niti_checkpoint_save(net, &rs, path)) die("checkpoint");
    put_file("fuzz_checkpoint", name, path);
    put_file("fuzz_safetensors", name, path);
    niti_net_free(net);
    niti_model_free(m);
}

static void model_seeds(void)
{
    const char *const *names = niti_model_preset_names();
    for (int i = 0; names[i]; i++) put_str("fuzz_model", names[i], niti_model_preset_text(names[i]));
    put_str("fuzz_model", "comments",
            "# a small net\ninput 8x8x3\nconv 4 k3 p1 # same size\nrelu\nmaxpool 2\n\n"
            "flatten;dropout;linear 10\n");
    put_str("fuzz_model", "odd_pool", "input 7x5x2; maxpool 2; conv 3 k1 p0; flatten; linear 2");
    put_str("fuzz_model", "acc64", "input 28x28x1; conv 169 k1 p0; flatten; linear 10");
    put_str("fuzz_model", "bad_conv", "input 2x2x1; conv 3 k5 p0; linear 10");
    put_str("fuzz_model", "big", "input 65536x65536x1; conv 65536 k1 p0; flatten; linear 1");
    put_str("fuzz_model", "upper", "INPUT 1x1x1; Linear 2");
}

static void mu_seeds(void)
{
    put_str("fuzz_mu", "zero", "0");
    put_str("fuzz_mu", "vgg", "5,100:4,150:3");
    put_str("fuzz_mu", "range", "-64,1:64,16777216:-1");
    char buf[512] = "1";
    for (int i = 1; i < 32; i++) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ",%d:%d", i * 3, i % 9 - 4);
    put_str("fuzz_mu", "max_stages", buf);
    put_str("fuzz_mu", "bad", "5,100:4,90:3");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) die(outdir);
    char tmpdir[2048];
    if (strlen(outdir) > 1000) return 2;
    snprintf(tmpdir, sizeof tmpdir, "%s/.tmp", outdir);
    if (mkdir(tmpdir, 0755) != 0 && errno != EEXIST) die(tmpdir);
    idx_seeds();
    cifar_seeds();
    st_seeds(tmpdir);
    niti_backend *be;
    if (niti_backend_ref_create(&be)) die("ref backend");
    ckpt_seed(be, "input 4x4x1; flatten; linear 3", 0, 0, tmpdir, "linear.st");
    ckpt_seed(be, "input 6x6x2; conv 3 k3 p1; relu; maxpool 2; flatten; dropout; linear 4", 1, 1,
              tmpdir, "conv_master16.st");
    niti_backend_close(be);
    model_seeds();
    mu_seeds();
    char path[4096];
    if (snprintf(path, sizeof path, "%s/seed.st", tmpdir) >= (int)sizeof path) die("path too long");
    remove(path);
    if (snprintf(path, sizeof path, "%s/linear.st", tmpdir) >= (int)sizeof path) die("path too long");
    remove(path);
    if (snprintf(path, sizeof path, "%s/conv_master16.st", tmpdir) >= (int)sizeof path) die("path too long");
    remove(path);
    rmdir(tmpdir);
    return 0;
}
