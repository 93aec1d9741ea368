/* Datasets (src/data.c): loaders on synthetic IDX / CIFAR-10 files (raw and gzip) written here
 * into a temporary folder, their error reports, folder search, input tables, shuffle, batches
 * and augmentation; and, when the real data is present, counts and label histograms.
 *
 * Usage: test_data unit
 *        test_data mnist|cifar10 DATA_DIR         (skips with 77 when DATA_DIR/<name> is absent)
 *        test_data fashion-mnist SYSTEM_DIR       (skips with 77 when SYSTEM_DIR is absent) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "io/data.h"
#include "core/numerics.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

static char g_root[1024];

static void path_of(char *out, size_t sz, const char *rel)
{
    snprintf(out, sz, "%s/%s", g_root, rel);
}

static void mkdirs(const char *rel)
{
    char p[2048];
    path_of(p, sizeof p, rel);
    for (char *s = p + strlen(g_root) + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0700);
            *s = '/';
        }
    }
    mkdir(p, 0700);
}

/* Writes data to g_root/rel; gz: through gzopen "wb". */
static void write_file(const char *rel, const void *data, size_t len, int gz)
{
    char p[2048];
    path_of(p, sizeof p, rel);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        CHECK(f != NULL);
        if (!f) return;
        CHECK_EQ(gzwrite(f, data, (unsigned)len), (long long)len);
        CHECK_EQ(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        CHECK(f != NULL);
        if (!f) return;
        CHECK_EQ(fwrite(data, 1, len, f), len);
        CHECK_EQ(fclose(f), 0);
    }
}

static uint8_t *read_raw(const char *rel, size_t *len)
{
    char p[2048];
    path_of(p, sizeof p, rel);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void rm_tree(const char *p)
{
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char q[2048];
            snprintf(q, sizeof q, "%s/%s", p, e->d_name);
            rm_tree(q);
        }
        closedir(d);
        rmdir(p);
    } else {
        unlink(p);
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Synthetic content. variant changes every value (to tell two copies apart). */
static uint8_t px_idx(int k, int y, int x, int variant)
{
    return (uint8_t)(k * 37 + y * 5 + x * 3 + 1 + variant * 101);
}
static uint8_t lab_idx(int k, int variant) { return (uint8_t)((k * 3 + variant) % 10); }

/* IDX images file: n images of rows x cols; returns the buffer and its length. */
static uint8_t *make_idx_images(int n, int rows, int cols, uint32_t magic, int variant, size_t *len)
{
    *len = 16 + (size_t)n * rows * cols;
    uint8_t *b = malloc(*len);
    put32(b, magic);
    put32(b + 4, (uint32_t)n);
    put32(b + 8, (uint32_t)rows);
    put32(b + 12, (uint32_t)cols);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                b[16 + ((size_t)k * rows + y) * cols + x] = px_idx(k, y, x, variant);
    return b;
}

static uint8_t *make_idx_labels(int n, uint32_t magic, int variant, size_t *len)
{
    *len = 8 + (size_t)n;
    uint8_t *b = malloc(*len);
    put32(b, magic);
    put32(b + 4, (uint32_t)n);
    for (int k = 0; k < n; k++) b[8 + k] = lab_idx(k, variant);
    return b;
}

/* Writes a complete IDX set (train or t10k) into folder rel. */
static void write_idx_set(const char *rel, int train, int n, int gz, int variant)
{
    char p[1024];
    size_t len;
    uint8_t *b = make_idx_images(n, 28, 28, 0x803, variant, &len);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", rel, train ? "train" : "t10k", gz ? ".gz" : "");
    write_file(p, b, len, gz);
    free(b);
    b = make_idx_labels(n, 0x801, variant, &len);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", rel, train ? "train" : "t10k", gz ? ".gz" : "");
    write_file(p, b, len, gz);
    free(b);
}

static int check_idx_content(const niti_dataset *d, int n, int variant)
{
    int bad = 0;
    if (d->n != n || d->h != 28 || d->w != 28 || d->c != 1 || d->classes != 10) return 0;
    for (int k = 0; k < n; k++) {
        if (d->labels[k] != lab_idx(k, variant)) bad++;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
                if (d->pixels[((size_t)k * 28 + y) * 28 + x] != px_idx(k, y, x, variant)) bad++;
    }
    return bad == 0;
}

/* CIFAR record r (global index g over the set): label, then R, G, B planes. */
static uint8_t cifar_lab(int g) { return (uint8_t)((g * 7 + 3) % 10); }
static uint8_t cifar_px(int g, int c, int k)
{
    return (uint8_t)(g * (11 + 2 * c) + k * (c + 1) + c * 50 + (k >> 5) * 7);
}

static uint8_t *make_cifar(int first, int n, size_t *len)
{
    *len = (size_t)n * 3073;
    uint8_t *b = malloc(*len);
    for (int r = 0; r < n; r++) {
        uint8_t *rec = b + (size_t)r * 3073;
        rec[0] = cifar_lab(first + r);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 1024; k++) rec[1 + c * 1024 + k] = cifar_px(first + r, c, k);
    }
    return b;
}

static int check_cifar_content(const niti_dataset *d, int first, int n)
{
    int bad = 0;
    if (d->n != n || d->h != 32 || d->w != 32 || d->c != 3 || d->classes != 10) return 0;
    for (int r = 0; r < n; r++) {
        if (d->labels[r] != cifar_lab(first + r)) bad++;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                for (int c = 0; c < 3; c++) /* HWC: ((r*32 + y)*32 + x)*3 + c */
                    if (d->pixels[(((size_t)r * 32 + y) * 32 + x) * 3 + c] !=
                        cifar_px(first + r, c, y * 32 + x))
                        bad++;
    }
    return bad == 0;
}

static int has(const char *hay, const char *needle)
{
    int ok = strstr(hay, needle) != NULL;
    if (!ok) fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", hay, needle);
    return ok;
}

/* Loads from g_root/rel, expecting failure with status st; returns the message. */
static const char *expect_fail(niti_dataset_id id, const char *rel, int train, niti_status st)
{
    char p[2048];
    path_of(p, sizeof p, rel);
    niti_dataset d;
    niti_status got = niti_dataset_load(id, p, train, &d);
    CHECK_EQ(got, st);
    if (got == NITI_OK) niti_dataset_free(&d);
    CHECK(d.pixels == NULL && d.labels == NULL);
    printf("  [%s] %s\n", rel, niti_last_error());
    return niti_last_error();
}

/* ---------------------------------------------------------------------------------------- */
/* Loader tests                                                                             */

static void test_names(void)
{
    niti_dataset_id id;
    CHECK_EQ(niti_dataset_parse_name("mnist", &id), NITI_OK);
    CHECK_EQ(id, NITI_DATA_MNIST);
    CHECK_EQ(niti_dataset_parse_name("fashion-mnist", &id), NITI_OK);
    CHECK_EQ(id, NITI_DATA_FASHION_MNIST);
    CHECK_EQ(niti_dataset_parse_name("cifar10", &id), NITI_OK);
    CHECK_EQ(id, NITI_DATA_CIFAR10);
    CHECK_EQ(niti_dataset_parse_name("imagenet", &id), NITI_ERR_INVALID);
    CHECK(has(niti_last_error(), "imagenet"));
    CHECK(!strcmp(niti_dataset_name(NITI_DATA_MNIST), "mnist"));
    CHECK(!strcmp(niti_dataset_name(NITI_DATA_FASHION_MNIST), "fashion-mnist"));
    CHECK(!strcmp(niti_dataset_name(NITI_DATA_CIFAR10), "cifar10"));
}

static void test_idx_load(void)
{
    char p[2048], q[2048];
    niti_dataset d;

    /* a: raw files in subfolder mnist, train (5 images) and test (3). */
    mkdirs("a/mnist");
    write_idx_set("a/mnist", 1, 5, 0, 0);
    write_idx_set("a/mnist", 0, 3, 0, 1);
    path_of(p, sizeof p, "a");
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, p, 1, &d), NITI_OK);
    CHECK(check_idx_content(&d, 5, 0));
    CHECK_EQ(d.id, NITI_DATA_MNIST);
    path_of(q, sizeof q, "a/mnist");
    CHECK(!strcmp(d.source, q));
    niti_dataset_free(&d);
    CHECK(d.pixels == NULL);
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, p, 0, &d), NITI_OK);
    CHECK(check_idx_content(&d, 3, 1));
    niti_dataset_free(&d);

    /* b: gzip files directly in the folder. */
    mkdirs("b");
    write_idx_set("b", 1, 4, 1, 2);
    path_of(p, sizeof p, "b");
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, p, 1, &d), NITI_OK);
    CHECK(check_idx_content(&d, 4, 2));
    CHECK(!strcmp(d.source, p));
    niti_dataset_free(&d);

    /* c: both .gz and raw, different content, in fashion-mnist/: the .gz wins. */
    mkdirs("c/fashion-mnist");
    write_idx_set("c/fashion-mnist", 1, 2, 0, 3);
    write_idx_set("c/fashion-mnist", 1, 3, 1, 4);
    path_of(p, sizeof p, "c");
    CHECK_EQ(niti_dataset_load(NITI_DATA_FASHION_MNIST, p, 1, &d), NITI_OK);
    CHECK(check_idx_content(&d, 3, 4));
    CHECK_EQ(d.id, NITI_DATA_FASHION_MNIST);
    niti_dataset_free(&d);

    /* $NITI_DATA when dir is NULL, and "" counts as not given. */
    path_of(p, sizeof p, "a");
    setenv("NITI_DATA", p, 1);
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, NULL, 1, &d), NITI_OK);
    CHECK(check_idx_content(&d, 5, 0));
    niti_dataset_free(&d);
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, "", 0, &d), NITI_OK);
    CHECK(check_idx_content(&d, 3, 1));
    niti_dataset_free(&d);
    /* dir beats $NITI_DATA */
    path_of(p, sizeof p, "b");
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, p, 1, &d), NITI_OK);
    CHECK(check_idx_content(&d, 4, 2));
    niti_dataset_free(&d);
    unsetenv("NITI_DATA");

    /* ./data when neither is given. */
    mkdirs("cwd/data");
    write_idx_set("cwd/data", 0, 6, 1, 5);
    char old[2048];
    CHECK(getcwd(old, sizeof old) != NULL);
    path_of(p, sizeof p, "cwd");
    CHECK_EQ(chdir(p), 0);
    CHECK_EQ(niti_dataset_load(NITI_DATA_MNIST, NULL, 0, &d), NITI_OK);
    CHECK(check_idx_content(&d, 6, 5));
    CHECK(d.source[0] == '/' && has(d.source, "/cwd/data")); /* the folder used, absolute */
    niti_dataset_free(&d);
    CHECK_EQ(chdir(old), 0);
}

static void test_idx_errors(void)
{
    size_t len;
    uint8_t *b;
    const char *m;
    char p[2048];

    /* missing everywhere: every path tried is named, with the hint. */
    mkdirs("empty");
    m = expect_fail(NITI_DATA_MNIST, "empty", 1, NITI_ERR_IO);
    path_of(p, sizeof p, "empty/mnist/train-images-idx3-ubyte.gz");
    CHECK(has(m, p));
    path_of(p, sizeof p, "empty/mnist/train-images-idx3-ubyte");
    CHECK(has(m, p));
    path_of(p, sizeof p, "empty/train-images-idx3-ubyte.gz");
    CHECK(has(m, p));
    CHECK(has(m, "--data"));
    CHECK(has(m, "NITI_DATA"));
    /* "c" holds only fashion-mnist/, so MNIST is not found there. */
    expect_fail(NITI_DATA_MNIST, "c", 1, NITI_ERR_IO);

    /* An explicit folder is used or refused: Fashion-MNIST does not fall back to the Debian
     * copy from it (issue #20), though the message points there when it is installed. */
    {
        niti_dataset d;
        struct stat sb;
        int debian = stat("/usr/share/datasets/fashion-mnist", &sb) == 0;
        path_of(p, sizeof p, "empty");
        CHECK_EQ(niti_dataset_load(NITI_DATA_FASHION_MNIST, p, 0, &d), NITI_ERR_IO);
        CHECK(has(niti_last_error(), p));
        CHECK(!has(niti_last_error(), "/usr/share/datasets/fashion-mnist/t10k-images"));
        CHECK(has(niti_last_error(), debian ? "give neither --data nor NITI_DATA"
                                            : "apt-get install dataset-fashion-mnist"));
        setenv("NITI_DATA", p, 1);
        CHECK_EQ(niti_dataset_load(NITI_DATA_FASHION_MNIST, NULL, 0, &d), NITI_ERR_IO);
        CHECK(has(niti_last_error(), "NITI_DATA"));
        unsetenv("NITI_DATA");
        /* With neither, ./data and then /usr/share/datasets/fashion-mnist. */
        char old[2048];
        CHECK(getcwd(old, sizeof old) != NULL);
        CHECK_EQ(chdir(p), 0);
        niti_status st = niti_dataset_load(NITI_DATA_FASHION_MNIST, NULL, 0, &d);
        if (st == NITI_OK) {
            CHECK(!strcmp(d.source, "/usr/share/datasets/fashion-mnist"));
            CHECK_EQ(d.n, 10000);
            niti_dataset_free(&d);
        } else {
            CHECK_EQ(st, NITI_ERR_IO);
            CHECK(has(niti_last_error(), "apt-get install dataset-fashion-mnist"));
            CHECK(has(niti_last_error(), "/usr/share/datasets/fashion-mnist/t10k-images"));
        }
        CHECK_EQ(chdir(old), 0);
    }

    /* images without labels */
    mkdirs("nolabels");
    b = make_idx_images(2, 28, 28, 0x803, 0, &len);
    write_file("nolabels/train-images-idx3-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "nolabels", 1, NITI_ERR_IO);
    CHECK(has(m, "train-labels-idx1-ubyte.gz"));

    /* bad magic (images, labels, and labels/images swapped) */
    mkdirs("magic_i");
    write_idx_set("magic_i", 1, 2, 0, 0);
    b = make_idx_images(2, 28, 28, 0x804, 0, &len);
    write_file("magic_i/train-images-idx3-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "magic_i", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "train-images-idx3-ubyte") && has(m, "0x00000804") && has(m, "0x00000803"));

    mkdirs("magic_l");
    write_idx_set("magic_l", 1, 2, 0, 0);
    b = make_idx_labels(2, 0x0801 ^ 0x01000000, 0, &len);
    write_file("magic_l/train-labels-idx1-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "magic_l", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "train-labels-idx1-ubyte") && has(m, "magic"));

    /* wrong dims */
    mkdirs("dims");
    write_idx_set("dims", 1, 2, 0, 0);
    b = make_idx_images(2, 27, 28, 0x803, 0, &len);
    write_file("dims/train-images-idx3-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "dims", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "27x28"));

    /* truncated images (raw and gzip): 16 + 3*784 = 2368 expected, 2358 found */
    for (int gz = 0; gz < 2; gz++) {
        const char *dir = gz ? "trunc_gz" : "trunc";
        mkdirs(dir);
        write_idx_set(dir, 1, 3, gz, 0);
        b = make_idx_images(3, 28, 28, 0x803, 0, &len);
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
        write_file(p, b, len - 10, gz);
        free(b);
        m = expect_fail(NITI_DATA_MNIST, dir, 1, NITI_ERR_FORMAT);
        CHECK(has(m, "train-images-idx3-ubyte") && has(m, "truncated") && has(m, "2368") &&
              has(m, "2358"));
    }

    /* trailing bytes in images, then in labels */
    mkdirs("trail");
    write_idx_set("trail", 1, 3, 0, 0);
    b = make_idx_images(3, 28, 28, 0x803, 0, &len);
    b = realloc(b, len + 3);
    memset(b + len, 0, 3);
    write_file("trail/train-images-idx3-ubyte", b, len + 3, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "trail", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "trailing") && has(m, "2368") && has(m, "2371"));

    mkdirs("trail_l");
    write_idx_set("trail_l", 0, 3, 1, 0);
    b = make_idx_labels(3, 0x801, 0, &len);
    b = realloc(b, len + 1);
    b[len] = 1;
    write_file("trail_l/t10k-labels-idx1-ubyte.gz", b, len + 1, 1);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "trail_l", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "t10k-labels-idx1-ubyte.gz") && has(m, "trailing") && has(m, "expected 11") &&
          has(m, "found 12"));

    mkdirs("trunc_l");
    write_idx_set("trunc_l", 0, 3, 0, 0);
    b = make_idx_labels(3, 0x801, 0, &len);
    write_file("trunc_l/t10k-labels-idx1-ubyte", b, 5, 0); /* not even a header */
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "trunc_l", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "t10k-labels-idx1-ubyte"));

    /* count mismatch: 5 images, 4 labels */
    mkdirs("count");
    write_idx_set("count", 1, 5, 0, 0);
    b = make_idx_labels(4, 0x801, 0, &len);
    write_file("count/train-labels-idx1-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "count", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "5 images") && has(m, "4 labels"));

    /* label 10 */
    mkdirs("label10");
    write_idx_set("label10", 1, 5, 0, 0);
    b = make_idx_labels(5, 0x801, 0, &len);
    b[8 + 3] = 10;
    write_file("label10/train-labels-idx1-ubyte", b, len, 0);
    free(b);
    m = expect_fail(NITI_DATA_MNIST, "label10", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "label 10") && has(m, "image 3"));

    /* corrupt gzip: (1) CRC-32 in the trailer flipped, (2) stream cut short, (3) garbage in the
     * deflate data. */
    for (int kind = 0; kind < 3; kind++) {
        char dir[64], rel[128];
        snprintf(dir, sizeof dir, "gzbad%d", kind);
        mkdirs(dir);
        write_idx_set(dir, 1, 40, 1, 0);
        snprintf(rel, sizeof rel, "%s/train-images-idx3-ubyte.gz", dir);
        uint8_t *z = read_raw(rel, &len);
        CHECK(z != NULL && len > 100);
        if (!z) continue;
        if (kind == 0) z[len - 8] ^= 0x55;      /* CRC-32 */
        else if (kind == 1) len = len / 2;      /* truncated stream */
        else for (size_t k = 20; k < 60; k++) z[k] ^= 0xA5;
        write_file(rel, z, len, 0);
        free(z);
        m = expect_fail(NITI_DATA_MNIST, dir, 1, NITI_ERR_FORMAT);
        CHECK(has(m, "train-images-idx3-ubyte.gz"));
        if (kind == 0) CHECK(has(m, "incorrect data check"));
        if (kind == 1) CHECK(has(m, "truncated"));
    }

    /* empty images file */
    mkdirs("emptyfile");
    write_idx_set("emptyfile", 1, 2, 0, 0);
    write_file("emptyfile/train-images-idx3-ubyte", "", 0, 0);
    m = expect_fail(NITI_DATA_MNIST, "emptyfile", 1, NITI_ERR_FORMAT);
    CHECK(has(m, "header"));
}

static void test_cifar(void)
{
    static const int sizes[5] = {2, 1, 3, 1, 2};
    char rel[256], p[2048], q[2048];
    size_t len;
    uint8_t *b;
    niti_dataset d;

    /* Training batches in cifar-10-batches-bin (mixed .gz / raw), the test batch in cifar10/. */
    mkdirs("cf/cifar-10-batches-bin");
    mkdirs("cf/cifar10");
    int first = 0;
    for (int k = 0; k < 5; k++) {
        b = make_cifar(first, sizes[k], &len);
        snprintf(rel, sizeof rel, "cf/cifar-10-batches-bin/data_batch_%d.bin%s", k + 1,
                 k % 2 ? ".gz" : "");
        write_file(rel, b, len, k % 2);
        free(b);
        first += sizes[k];
    }
    b = make_cifar(100, 4, &len);
    write_file("cf/cifar10/test_batch.bin.gz", b, len, 1);
    free(b);

    path_of(p, sizeof p, "cf");
    CHECK_EQ(niti_dataset_load(NITI_DATA_CIFAR10, p, 1, &d), NITI_OK);
    CHECK(check_cifar_content(&d, 0, 9));
    path_of(q, sizeof q, "cf/cifar-10-batches-bin");
    CHECK(!strcmp(d.source, q));
    CHECK_EQ(d.id, NITI_DATA_CIFAR10);
    /* Spelled out once: image 1, pixel (y=2, x=5) is k = 69 of each plane. */
    CHECK_EQ(d.pixels[((1 * 32 + 2) * 32 + 5) * 3 + 0], cifar_px(1, 0, 69));
    CHECK_EQ(d.pixels[((1 * 32 + 2) * 32 + 5) * 3 + 1], cifar_px(1, 1, 69));
    CHECK_EQ(d.pixels[((1 * 32 + 2) * 32 + 5) * 3 + 2], cifar_px(1, 2, 69));
    niti_dataset_free(&d);
    CHECK_EQ(niti_dataset_load(NITI_DATA_CIFAR10, p, 0, &d), NITI_OK);
    CHECK(check_cifar_content(&d, 100, 4));
    path_of(q, sizeof q, "cf/cifar10");
    CHECK(!strcmp(d.source, q));
    niti_dataset_free(&d);

    /* errors: a missing batch, a partial record, trailing bytes, label 10, an empty file */
    const char *m;
    mkdirs("cfm");
    for (int k = 0; k < 5; k++) {
        if (k == 2) continue;
        b = make_cifar(0, 1, &len);
        snprintf(rel, sizeof rel, "cfm/data_batch_%d.bin", k + 1);
        write_file(rel, b, len, 0);
        free(b);
    }
    m = expect_fail(NITI_DATA_CIFAR10, "cfm", 1, NITI_ERR_IO);
    CHECK(has(m, "data_batch_3.bin.gz") && has(m, "data_batch_3.bin"));

    mkdirs("cft");
    b = make_cifar(0, 3, &len);
    write_file("cft/test_batch.bin.gz", b, len - 100, 1);
    m = expect_fail(NITI_DATA_CIFAR10, "cft", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "test_batch.bin.gz") && has(m, "3073") && has(m, "9119") &&
          has(m, "2 whole records and 2973 extra bytes"));
    b = realloc(b, len + 1);
    b[len] = 0;
    write_file("cft/test_batch.bin.gz", b, len + 1, 1);
    m = expect_fail(NITI_DATA_CIFAR10, "cft", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "3 whole records and 1 extra bytes"));
    b[2 * 3073] = 10; /* label of record 2 */
    write_file("cft/test_batch.bin.gz", b, len, 1);
    m = expect_fail(NITI_DATA_CIFAR10, "cft", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "label 10") && has(m, "record 2"));
    free(b);
    write_file("cft/test_batch.bin.gz", "", 0, 1);
    m = expect_fail(NITI_DATA_CIFAR10, "cft", 0, NITI_ERR_FORMAT);
    CHECK(has(m, "empty"));
}

/* ---------------------------------------------------------------------------------------- */
/* Tables, shuffle, batches                                                                 */

static void test_tables(void)
{
    int8_t t[3][256], ref[256];
    memset(t, 0x7f, sizeof t);
    niti_dataset_input_tables(NITI_DATA_MNIST, t);
    /* MNIST: p=0: (0 - 0.1307)/0.3081 = -0.424213, *32 = -13.5748 -> -14
     *        p=1: (1/255 - 0.1307)/0.3081 = -0.411485, *32 = -13.1675 -> -13
     *        p=128: 1.205001 * 32 = 38.560 -> 39;  p=255: 2.821487 * 32 = 90.2876 -> 90 */
    CHECK_EQ(t[0][0], -14);
    CHECK_EQ(t[0][1], -13);
    CHECK_EQ(t[0][128], 39);
    CHECK_EQ(t[0][255], 90);
    for (int p = 0; p < 256; p++) CHECK(t[1][p] == 0 && t[2][p] == 0);
    niti_input_table(0.1307, 0.3081, ref);
    CHECK(!memcmp(ref, t[0], 256));

    /* Fashion-MNIST: p=0: -0.2860/0.3530 = -0.810198, *32 = -25.926 -> -26
     *                p=128: 0.611787*32 = 19.577 -> 20;  p=255: 2.022663*32 = 64.725 -> 65 */
    niti_dataset_input_tables(NITI_DATA_FASHION_MNIST, t);
    CHECK_EQ(t[0][0], -26);
    CHECK_EQ(t[0][128], 20);
    CHECK_EQ(t[0][255], 65);
    niti_input_table(0.2860, 0.3530, ref);
    CHECK(!memcmp(ref, t[0], 256));

    /* CIFAR-10: R p=0: -0.49139968/0.24703233 = -1.989212, *32 = -63.655 -> -64;
     *             p=255: 2.058841*32 = 65.883 -> 66;   p=128: 1.368 -> 1
     *           G p=0: -1.980238*32 = -63.368 -> -63;  p=255: 68.057 -> 68;  p=128: 2.603 -> 3
     *           B p=0: -1.707004*32 = -54.624 -> -55;  p=255: 67.706 -> 68;  p=128: 6.781 -> 7 */
    niti_dataset_input_tables(NITI_DATA_CIFAR10, t);
    CHECK_EQ(t[0][0], -64);
    CHECK_EQ(t[0][255], 66);
    CHECK_EQ(t[0][128], 1);
    CHECK_EQ(t[1][0], -63);
    CHECK_EQ(t[1][255], 68);
    CHECK_EQ(t[1][128], 3);
    CHECK_EQ(t[2][0], -55);
    CHECK_EQ(t[2][255], 68);
    CHECK_EQ(t[2][128], 7);
    niti_input_table(0.44653124, 0.26158768, ref);
    CHECK(!memcmp(ref, t[2], 256));
}

/* The documented mapping, written out independently. */
static void ref_shuffle(uint64_t seed, uint32_t epoch, int n, int32_t *perm)
{
    for (int k = 0; k < n; k++) perm[k] = k;
    for (int i = n - 1; i > 0; i--) {
        uint64_t r = (uint64_t)niti_philox_x0(seed, (uint32_t)i, epoch, 3, 0) << 32 |
                     niti_philox_x0(seed, (uint32_t)i, epoch, 3, 1);
        int j = (int)(r % (uint64_t)(i + 1));
        int32_t s = perm[i];
        perm[i] = perm[j];
        perm[j] = s;
    }
}

static int is_perm(const int32_t *p, int n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int k = 0; k < n; k++) {
        if (p[k] < 0 || p[k] >= n || seen[p[k]]) ok = 0;
        else seen[p[k]] = 1;
    }
    free(seen);
    return ok;
}

static void test_shuffle(void)
{
    enum { N = 1000 };
    static int32_t a[N], b[N], c[N], r[N];
    niti_shuffle(42, 0, N, a);
    CHECK(is_perm(a, N));
    niti_shuffle(42, 0, N, b);
    CHECK(!memcmp(a, b, sizeof a));
    ref_shuffle(42, 0, N, r);
    CHECK(!memcmp(a, r, sizeof a));
    niti_shuffle(42, 1, N, b);
    CHECK(is_perm(b, N));
    CHECK(memcmp(a, b, sizeof a) != 0);
    niti_shuffle(43, 0, N, c);
    CHECK(is_perm(c, N));
    CHECK(memcmp(a, c, sizeof a) != 0);
    niti_shuffle(0x123456789abcdef0ull, 7, N, c); /* the seed's high word matters too */
    ref_shuffle(0x123456789abcdef0ull, 7, N, r);
    CHECK(!memcmp(c, r, sizeof c));
    niti_shuffle(0x023456789abcdef0ull, 7, N, r);
    CHECK(memcmp(c, r, sizeof c) != 0);
    int fixed = 0;
    for (int k = 0; k < N; k++) fixed += a[k] == k;
    CHECK(fixed < 10); /* about 1 expected */

    /* edge cases */
    int32_t one = -5, two[2];
    niti_shuffle(1, 0, 0, &one);
    CHECK_EQ(one, -5);
    niti_shuffle(1, 0, 1, &one);
    CHECK_EQ(one, 0);
    niti_shuffle(1, 0, 2, two);
    CHECK(is_perm(two, 2));

    /* n = 3 over 6000 epochs: each of the 6 orders about 1000 times (sd about 29). */
    int count[6] = {0};
    for (uint32_t e = 0; e < 6000; e++) {
        int32_t p3[3];
        niti_shuffle(7, e, 3, p3);
        count[p3[0] * 2 + (p3[1] > p3[2])]++;
    }
    for (int k = 0; k < 6; k++) CHECK(count[k] > 850 && count[k] < 1150);
}

/* A synthetic in-memory dataset with pixels 1..255 (never 0, so only padding maps to p = 0). */
static void make_mem(niti_dataset *d, int n, int h, int w, int c)
{
    memset(d, 0, sizeof *d);
    d->id = c == 3 ? NITI_DATA_CIFAR10 : NITI_DATA_MNIST;
    d->n = n;
    d->h = h;
    d->w = w;
    d->c = c;
    d->classes = 10;
    size_t sz = (size_t)n * h * w * c;
    d->pixels = malloc(sz);
    d->labels = malloc((size_t)n);
    for (size_t k = 0; k < sz; k++) d->pixels[k] = (uint8_t)(1 + niti_philox_x0(99, (uint32_t)k, 0, 0, 0) % 255);
    for (int k = 0; k < n; k++) d->labels[k] = (uint8_t)(k % 10);
}

/* out(y, x, c) for crop offsets (dx, dy) and flip, written independently of data.c: the image
 * is first padded into a (h+8) x (w+8) canvas of zeros. */
static void ref_aug(const niti_dataset *d, int img, const int8_t t[3][256], int dx, int dy,
                    int flip, int8_t *out)
{
    int H = d->h, W = d->w, C = d->c, PH = H + 8, PW = W + 8;
    uint8_t *pad = calloc((size_t)PH * PW * C, 1);
    const uint8_t *src = d->pixels + (size_t)img * H * W * C;
    for (int y = 0; y < H; y++)
        memcpy(pad + ((size_t)(y + 4) * PW + 4) * C, src + (size_t)y * W * C, (size_t)W * C);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int cx = flip ? W - 1 - x : x;
            for (int c = 0; c < C; c++)
                out[((size_t)y * W + x) * C + c] = t[c][pad[((size_t)(y + dy) * PW + cx + dx) * C + c]];
        }
    free(pad);
}

static void test_batch_aug(int h, int w, int c)
{
    enum { N = 40, B = 24 };
    niti_dataset d;
    make_mem(&d, N, h, w, c);
    size_t img = (size_t)h * w * c;
    int32_t idx[B], labels[B];
    for (int b = 0; b < B; b++) idx[b] = (b * 7 + 3) % N;
    int8_t *in = malloc(B * img), *in2 = malloc(B * img), *ref = malloc(img);
    int8_t real[3][256], inj[3][256];
    const niti_augment c4f = {4, 1};
    niti_dataset_input_tables(c == 3 ? NITI_DATA_CIFAR10 : NITI_DATA_MNIST, real);
    for (int ch = 0; ch < 3; ch++)
        for (int p = 0; p < 256; p++) inj[ch][p] = (int8_t)((p + 37 * ch) % 256 - 128);

    /* no augmentation: plain table lookup, labels as int32 */
    niti_make_batch(&d, idx, B, (const int8_t(*)[256])real, NITI_AUGMENT_NONE, 5, 9, in, labels);
    int bad = 0;
    for (int b = 0; b < B; b++) {
        CHECK_EQ(labels[b], d.labels[idx[b]]);
        for (size_t k = 0; k < img; k++)
            if (in[b * img + k] != real[k % c][d.pixels[idx[b] * img + k]]) bad++;
    }
    CHECK_EQ(bad, 0);

    /* crop4-flip (CIFAR-10's default), an injective table: exactly one of the 9x9x2 crops/flips matches, and it is
     * the documented one. Then the real table: the documented one matches (the table is not
     * injective, so others may too) and the padding shows table[c][0], never int8 0. */
    for (int pass = 0; pass < 2; pass++) {
        const int8_t(*t)[256] = (const int8_t(*)[256])(pass ? real : inj);
        int flips[2] = {0, 0}, dxs[9] = {0}, padded = 0;
        for (uint32_t step = 0; step < 4; step++) {
            niti_make_batch(&d, idx, B, t, c4f, 1234, step, in, labels);
            niti_make_batch(&d, idx, B, t, c4f, 1234, step, in2, NULL);
            CHECK(!memcmp(in, in2, B * img));
            for (int b = 0; b < B; b++) {
                CHECK_EQ(labels[b], d.labels[idx[b]]);
                int ddx = (int)(niti_philox_x0(1234, (uint32_t)b, step, 4, 0) % 9);
                int ddy = (int)(niti_philox_x0(1234, (uint32_t)b, step, 4, 1) % 9);
                int dfl = (int)(niti_philox_x0(1234, (uint32_t)b, step, 4, 2) & 1);
                int matches = 0, documented = 0;
                for (int dy = 0; dy < 9; dy++)
                    for (int dx = 0; dx < 9; dx++)
                        for (int fl = 0; fl < 2; fl++) {
                            ref_aug(&d, idx[b], t, dx, dy, fl, ref);
                            if (!memcmp(ref, in + b * img, img)) {
                                matches++;
                                if (dx == ddx && dy == ddy && fl == dfl) documented = 1;
                            }
                        }
                CHECK(documented);
                if (!pass) CHECK_EQ(matches, 1);
                flips[dfl]++;
                dxs[ddx]++;
                /* padding: rows above the image when dy < 4 */
                if (ddy < 4) {
                    padded++;
                    for (int x = 0; x < w; x++)
                        for (int ch = 0; ch < c; ch++) {
                            int8_t v = in[b * img + (size_t)x * c + ch];
                            CHECK_EQ(v, t[ch][0]);
                            CHECK(v != 0);
                        }
                }
            }
            if (step == 0) { /* a different step gives different crops */
                niti_make_batch(&d, idx, B, t, c4f, 1234, 1000, in2, NULL);
                CHECK(memcmp(in, in2, B * img) != 0);
                niti_make_batch(&d, idx, B, t, c4f, 1235, 0, in2, NULL);
                CHECK(memcmp(in, in2, B * img) != 0);
            }
        }
        CHECK(flips[0] > 10 && flips[1] > 10);
        int distinct = 0;
        for (int k = 0; k < 9; k++) distinct += dxs[k] > 0;
        CHECK(distinct >= 6);
        CHECK(padded > 10);
    }
    free(in);
    free(in2);
    free(ref);
    niti_dataset_free(&d);
}

/* ---------------------------------------------------------------------------------------- */
/* Real data                                                                                */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int dir_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void check_hist(const niti_dataset *d, int from, int n, const int expect[10], const char *what)
{
    int h[10] = {0};
    for (int k = from; k < from + n && k < d->n; k++) h[d->labels[k] < 10 ? d->labels[k] : 0]++;
    int ok = 1;
    for (int c = 0; c < 10; c++) ok &= h[c] == expect[c];
    if (!ok) fprintf(stderr, "label histogram of %s differs\n", what);
    CHECK(ok);
}

static niti_status timed_load(niti_dataset_id id, const char *dir, int train, niti_dataset *d)
{
    double t0 = now_s();
    niti_status st = niti_dataset_load(id, dir, train, d);
    double dt = now_s() - t0;
    if (st != NITI_OK) fprintf(stderr, "load failed: %s\n", niti_last_error());
    else printf("%s %s: %d images from %s in %.3f s\n", niti_dataset_name(id),
                train ? "train" : "test", d->n, d->source, dt);
    return st;
}

static int run_mnist(const char *data)
{
    char sub[2048];
    snprintf(sub, sizeof sub, "%s/mnist", data);
    if (!dir_exists(sub)) {
        printf("SKIP: %s does not exist\n", sub);
        return 77;
    }
    static const int train_h[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const int test_h[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    static const uint8_t train_first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    static const uint8_t test_first[10] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
    niti_dataset d;
    CHECK_EQ(timed_load(NITI_DATA_MNIST, data, 1, &d), NITI_OK);
    CHECK_EQ(d.n, 60000);
    CHECK(d.h == 28 && d.w == 28 && d.c == 1);
    check_hist(&d, 0, 60000, train_h, "mnist train");
    CHECK(d.labels && !memcmp(d.labels, train_first, 10));
    niti_dataset_free(&d);
    CHECK_EQ(timed_load(NITI_DATA_MNIST, data, 0, &d), NITI_OK);
    CHECK_EQ(d.n, 10000);
    check_hist(&d, 0, 10000, test_h, "mnist test");
    CHECK(d.labels && !memcmp(d.labels, test_first, 10));
    niti_dataset_free(&d);
    return check_report("test_data mnist");
}

static int run_cifar(const char *data)
{
    char sub[2048];
    snprintf(sub, sizeof sub, "%s/cifar10", data);
    if (!dir_exists(sub)) {
        printf("SKIP: %s does not exist\n", sub);
        return 77;
    }
    static const int batch_h[5][10] = {
        {1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981},
        {984, 1007, 1010, 995, 1010, 988, 1008, 1026, 987, 985},
        {994, 1042, 965, 997, 990, 1029, 978, 1015, 961, 1029},
        {1003, 963, 1041, 976, 1004, 1021, 1004, 981, 1024, 983},
        {1014, 1014, 952, 1016, 997, 1025, 980, 977, 1003, 1022}};
    static const int all_h[10] = {5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000, 5000};
    static const int test_h[10] = {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
    niti_dataset d;
    CHECK_EQ(timed_load(NITI_DATA_CIFAR10, data, 1, &d), NITI_OK);
    CHECK_EQ(d.n, 50000);
    CHECK(d.h == 32 && d.w == 32 && d.c == 3);
    for (int k = 0; k < 5; k++) {
        char what[64];
        snprintf(what, sizeof what, "data_batch_%d", k + 1);
        check_hist(&d, k * 10000, 10000, batch_h[k], what);
    }
    check_hist(&d, 0, 50000, all_h, "cifar10 train");
    if (d.pixels) {
        /* data_batch_1 record 0: label 6; R, G, B planes start 59 43 / 62 46 / 63 45. */
        CHECK_EQ(d.labels[0], 6);
        CHECK(d.pixels[0] == 59 && d.pixels[1] == 62 && d.pixels[2] == 63);
        CHECK(d.pixels[3] == 43 && d.pixels[4] == 46 && d.pixels[5] == 45);
    }
    niti_dataset_free(&d);
    CHECK_EQ(timed_load(NITI_DATA_CIFAR10, data, 0, &d), NITI_OK);
    CHECK_EQ(d.n, 10000);
    check_hist(&d, 0, 10000, test_h, "cifar10 test");
    if (d.labels) CHECK_EQ(d.labels[0], 3);
    niti_dataset_free(&d);
    return check_report("test_data cifar10");
}

static int run_fashion(const char *sys)
{
    if (!dir_exists(sys)) {
        printf("SKIP: %s does not exist (apt-get install dataset-fashion-mnist)\n", sys);
        return 77;
    }
    static const int train_h[10] = {6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000};
    static const int test_h[10] = {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
    static const uint8_t train_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    static const uint8_t test_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    niti_dataset d;
    CHECK_EQ(timed_load(NITI_DATA_FASHION_MNIST, sys, 1, &d), NITI_OK);
    CHECK_EQ(d.n, 60000);
    CHECK(d.h == 28 && d.w == 28 && d.c == 1);
    check_hist(&d, 0, 60000, train_h, "fashion-mnist train");
    CHECK(d.labels && !memcmp(d.labels, train_first, 10));
    niti_dataset_free(&d);
    CHECK_EQ(timed_load(NITI_DATA_FASHION_MNIST, sys, 0, &d), NITI_OK);
    CHECK_EQ(d.n, 10000);
    check_hist(&d, 0, 10000, test_h, "fashion-mnist test");
    CHECK(d.labels && !memcmp(d.labels, test_first, 10));
    niti_dataset_free(&d);
    return check_report("test_data fashion-mnist");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "unit";
    if (!strcmp(mode, "mnist")) return run_mnist(argc > 2 ? argv[2] : "data");
    if (!strcmp(mode, "cifar10")) return run_cifar(argc > 2 ? argv[2] : "data");
    if (!strcmp(mode, "fashion-mnist"))
        return run_fashion(argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist");
    if (strcmp(mode, "unit")) {
        fprintf(stderr, "usage: %s [unit | mnist DIR | cifar10 DIR | fashion-mnist DIR]\n", argv[0]);
        return 2;
    }

    unsetenv("NITI_DATA");
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/niti_data_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_names();
    test_idx_load();
    test_idx_errors();
    test_cifar();
    test_tables();
    test_shuffle();
    test_batch_aug(32, 32, 3);
    test_batch_aug(28, 28, 1);
    rm_tree(g_root);
    return check_report("test_data unit");
}
