/* niti train --augment and --val (issue #19) at the level of src/io/data.c:
 *   modes   the mode texts (parse, canonical form, the refusals), the defaults per dataset and
 *           the refusal of a mirror for MNIST;
 *   mapping every output pixel of niti_make_batch / niti_make_batch_at for cropP, cropP-flip
 *           and flip against the mapping documented at the top of data.c, computed here from
 *           niti_philox_x0 alone; and crop4-flip (CIFAR-10's default) against a verbatim copy
 *           of the batch assembly from before --augment existed;
 *   split   niti_dataset_split_tail: the held-out images are the last N, copied, and the
 *           training part (all that orders and batches ever index) no longer reaches them.
 *   usage: test_augment [modes | mapping | split | all]      (default all) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/numerics.h"
#include "io/data.h"

/* ---------------------------------------------------------------------------------------- */

static void test_modes(void)
{
    static const struct {
        const char *text;
        int pad, flip;
    } good[] = {{"none", 0, 0},        {"flip", 0, 1},        {"crop1", 1, 0},
                {"crop4", 4, 0},       {"crop8", 8, 0},       {"crop1-flip", 1, 1},
                {"crop2-flip", 2, 1},  {"crop4-flip", 4, 1},  {"crop8-flip", 8, 1}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        niti_augment a = {-1, -1};
        CHECK_EQ(niti_augment_parse(good[i].text, &a), NITI_OK);
        CHECK_EQ(a.pad, good[i].pad);
        CHECK_EQ(a.flip, good[i].flip);
        char t[NITI_AUGMENT_TEXT];
        niti_augment_format(a, t, sizeof t);
        CHECK(!strcmp(t, good[i].text)); /* canonical text round trip */
    }
    static const char *const bad[] = {"",           "crop",       "crop0",     "crop9",
                                      "crop10",     "crop04",     "cropx",     "crop-1",
                                      "crop4-flop", "crop4flip",  "crop4-",    "flip-crop4",
                                      "Flip",       "none ",      " none",     "crop 4",
                                      "crop4-flip-flip", "mirror", "crop0-flip", "crop9-flip"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        niti_augment a = {7, 7};
        niti_status s = niti_augment_parse(bad[i], &a);
        if (s != NITI_ERR_INVALID) fprintf(stderr, "accepted '%s'\n", bad[i]);
        CHECK_EQ(s, NITI_ERR_INVALID);
        CHECK(a.pad == 7 && a.flip == 7); /* untouched */
        CHECK(strstr(niti_last_error(), "1..8") != NULL); /* the message says what is valid */
    }
    niti_augment a;
    CHECK_EQ(niti_augment_parse(NULL, &a), NITI_ERR_INVALID);

    /* defaults: CIFAR-10 crop4-flip, the 28x28 sets none */
    a = niti_augment_default(NITI_DATA_CIFAR10);
    CHECK(a.pad == 4 && a.flip == 1);
    a = niti_augment_default(NITI_DATA_MNIST);
    CHECK(a.pad == 0 && a.flip == 0);
    a = niti_augment_default(NITI_DATA_FASHION_MNIST);
    CHECK(a.pad == 0 && a.flip == 0);

    /* a mirror is refused for MNIST only, with the reason */
    const niti_augment flip = {0, 1}, c2f = {2, 1}, c2 = {2, 0}, none = {0, 0};
    CHECK_EQ(niti_augment_check(flip, NITI_DATA_MNIST), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "mirrored digit") != NULL);
    CHECK_EQ(niti_augment_check(c2f, NITI_DATA_MNIST), NITI_ERR_INVALID);
    CHECK_EQ(niti_augment_check(c2, NITI_DATA_MNIST), NITI_OK);
    CHECK_EQ(niti_augment_check(none, NITI_DATA_MNIST), NITI_OK);
    CHECK_EQ(niti_augment_check(flip, NITI_DATA_FASHION_MNIST), NITI_OK);
    CHECK_EQ(niti_augment_check(c2f, NITI_DATA_FASHION_MNIST), NITI_OK);
    CHECK_EQ(niti_augment_check(flip, NITI_DATA_CIFAR10), NITI_OK);

    /* a run's mode: "" is the dataset's default */
    CHECK_EQ(niti_augment_resolve("", NITI_DATA_CIFAR10, &a), NITI_OK);
    CHECK(a.pad == 4 && a.flip == 1);
    CHECK_EQ(niti_augment_resolve("", NITI_DATA_MNIST, &a), NITI_OK);
    CHECK(a.pad == 0 && a.flip == 0);
    CHECK_EQ(niti_augment_resolve("none", NITI_DATA_CIFAR10, &a), NITI_OK);
    CHECK(a.pad == 0 && a.flip == 0);
    CHECK_EQ(niti_augment_resolve("crop3", NITI_DATA_MNIST, &a), NITI_OK);
    CHECK(a.pad == 3 && a.flip == 0);
    CHECK_EQ(niti_augment_resolve("flip", NITI_DATA_MNIST, &a), NITI_ERR_INVALID);
    CHECK_EQ(niti_augment_resolve("crop9", NITI_DATA_CIFAR10, &a), NITI_ERR_INVALID);
}

/* ---------------------------------------------------------------------------------------- */

/* n images h x w x c with pixels 1..255 (never 0, so only the padding reads pixel value 0) */
static void make_mem(niti_dataset *d, int n, int h, int w, int c)
{
    memset(d, 0, sizeof *d);
    d->id = c == 3 ? NITI_DATA_CIFAR10 : NITI_DATA_FASHION_MNIST;
    d->n = n, d->h = h, d->w = w, d->c = c, d->classes = 10;
    size_t sz = (size_t)n * h * w * c;
    d->pixels = malloc(sz);
    d->labels = malloc((size_t)n);
    for (size_t k = 0; k < sz; k++)
        d->pixels[k] = (uint8_t)(1 + niti_philox_x0(77, (uint32_t)k, 1, 0, 0) % 255);
    for (int k = 0; k < n; k++) d->labels[k] = (uint8_t)(k * 3 % 10);
}

/* The documented mapping, written from the comment at the top of data.c and nothing else: the
 * image is copied into a (h+2P) x (w+2P) canvas of pixel value 0, the offsets and the mirror
 * are drawn from Philox stream 4 at the image's position b in the batch and the step t, and
 * out(y, x, c) = table[c][canvas(y + dy, X + dx, c)], X = flip ? w-1-x : x. */
static void expected(const niti_dataset *d, int img, int b, int pad, int flips, uint64_t seed,
                     uint32_t t, const int8_t tab[3][256], int8_t *out)
{
    int H = d->h, W = d->w, C = d->c, PH = H + 2 * pad, PW = W + 2 * pad;
    uint8_t *canvas = calloc((size_t)PH * PW * C, 1);
    const uint8_t *src = d->pixels + (size_t)img * H * W * C;
    for (int y = 0; y < H; y++)
        memcpy(canvas + ((size_t)(y + pad) * PW + pad) * C, src + (size_t)y * W * C,
               (size_t)W * C);
    uint64_t span = (uint64_t)(2 * pad + 1);
    int dx = (int)(niti_philox_x0(seed, (uint32_t)b, t, 4, 0) % span);
    int dy = (int)(niti_philox_x0(seed, (uint32_t)b, t, 4, 1) % span);
    int flip = flips ? (int)(niti_philox_x0(seed, (uint32_t)b, t, 4, 2) & 1) : 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int X = flip ? W - 1 - x : x;
            for (int c = 0; c < C; c++)
                out[((size_t)y * W + x) * C + c] =
                    tab[c][canvas[((size_t)(y + dy) * PW + X + dx) * C + c]];
        }
    free(canvas);
}

/* The batch assembly of niti before --augment (src/io/data.c at commit 552058b), verbatim but
 * for its name: `augment` was an int, the padding the constant 4. The reference crop4-flip
 * must reproduce bit for bit (checkpoints and tests of CIFAR-10 runs depend on it). */
#define OLD_AUG_PAD 4
static void old_make_batch_at(const niti_dataset *d, const int32_t *idx, int count, int pos0,
                              const int8_t tables[3][256], int augment, uint64_t seed,
                              uint32_t t, int8_t *inputs, int32_t *labels)
{
    const int H = d->h, W = d->w, C = d->c;
    const size_t img = (size_t)H * W * C;
    for (int b = 0; b < count; b++) {
        const uint8_t *src = d->pixels + (size_t)idx[b] * img;
        int8_t *dst = inputs + (size_t)b * img;
        if (labels) labels[b] = d->labels[idx[b]];
        if (!augment) {
            for (size_t p = 0; p < (size_t)H * W; p++)
                for (int c = 0; c < C; c++) dst[p * C + c] = tables[c][src[p * C + c]];
            continue;
        }
        uint32_t pos = (uint32_t)(pos0 + b); /* the image's position in the whole batch */
        int dx = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 0) % 9u);
        int dy = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 1) % 9u);
        int flip = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 2) & 1u);
        for (int y = 0; y < H; y++) {
            int sy = y + dy - OLD_AUG_PAD;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + dx - OLD_AUG_PAD;
                int8_t *o = dst + ((size_t)y * W + x) * C;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
                    for (int c = 0; c < C; c++) o[c] = tables[c][0];
                } else {
                    const uint8_t *s = src + ((size_t)sy * W + sx) * C;
                    for (int c = 0; c < C; c++) o[c] = tables[c][s[c]];
                }
            }
        }
    }
}

static void test_mapping_shape(int h, int w, int c)
{
    enum { N = 37, B = 20 };
    niti_dataset d;
    make_mem(&d, N, h, w, c);
    size_t img = (size_t)h * w * c;
    int32_t idx[B], lab[B];
    for (int b = 0; b < B; b++) idx[b] = (b * 11 + 5) % N;
    int8_t *in = malloc(B * img), *part = malloc(B * img), *ref = malloc(img);
    int8_t inj[3][256], real[3][256];
    for (int ch = 0; ch < 3; ch++)
        for (int p = 0; p < 256; p++) inj[ch][p] = (int8_t)((p * 7 + 29 * ch) % 256 - 128);
    niti_dataset_input_tables(c == 3 ? NITI_DATA_CIFAR10 : NITI_DATA_FASHION_MNIST, real);

    /* every mode, the two crop sizes the issue names first, and the padding's extremes */
    static const niti_augment modes[] = {{2, 0}, {2, 1}, {0, 1}, {1, 0}, {1, 1},
                                         {4, 0}, {4, 1}, {8, 0}, {8, 1}, {3, 1}};
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        niti_augment a = modes[m];
        int mismatched = 0, flipped = 0, shifted = 0, padded = 0;
        for (int tab = 0; tab < 2; tab++) {
            const int8_t(*t)[256] = (const int8_t(*)[256])(tab ? real : inj);
            for (uint32_t step = 0; step < 6; step++) {
                uint64_t seed = step < 3 ? 1234 : UINT64_C(0x9e3779b97f4a7c15);
                uint32_t tt = step < 3 ? step : 4000000000u + step;
                niti_make_batch(&d, idx, B, t, a, seed, tt, in, lab);
                for (int b = 0; b < B; b++) {
                    CHECK_EQ(lab[b], d.labels[idx[b]]);
                    expected(&d, idx[b], b, a.pad, a.flip, seed, tt, t, ref);
                    for (size_t k = 0; k < img; k++) mismatched += ref[k] != in[b * img + k];
                    uint64_t span = (uint64_t)(2 * a.pad + 1);
                    int dx = (int)(niti_philox_x0(seed, (uint32_t)b, tt, 4, 0) % span);
                    int dy = (int)(niti_philox_x0(seed, (uint32_t)b, tt, 4, 1) % span);
                    int fl = (int)(niti_philox_x0(seed, (uint32_t)b, tt, 4, 2) & 1);
                    flipped += a.flip && fl;
                    shifted += dx != a.pad || dy != a.pad;
                    if (dy < a.pad) { /* padding rows on top: table[c][0], never int8 0 */
                        padded++;
                        for (int ch = 0; ch < c; ch++) CHECK_EQ(in[b * img + ch], t[ch][0]);
                    }
                }
                /* a batch built in slices (as several processes do) is the same batch */
                for (int first = 0; first < B;) {
                    int cnt = first % 3 + 5 < B - first ? first % 3 + 5 : B - first;
                    niti_make_batch_at(&d, idx + first, cnt, first, t, a, seed, tt,
                                       part + (size_t)first * img, NULL);
                    first += cnt;
                }
                CHECK(!memcmp(in, part, B * img));
            }
        }
        if (mismatched)
            fprintf(stderr, "mode pad %d flip %d, %dx%dx%d: %d pixels differ from the documented "
                    "mapping\n", a.pad, a.flip, h, w, c, mismatched);
        CHECK_EQ(mismatched, 0);
        /* the draws do something: mirrors and offsets happen (the test could fail) */
        if (a.flip) CHECK(flipped > 20);
        if (a.pad) CHECK(shifted > 20);
        else CHECK_EQ(shifted, 0);
        if (a.pad) CHECK(padded > 5);
    }

    /* cropP alone never mirrors: the crop2 batch differs from the crop2-flip one exactly on the
     * images whose flip draw is 1 */
    const niti_augment c2 = {2, 0}, c2f = {2, 1};
    niti_make_batch(&d, idx, B, (const int8_t(*)[256])inj, c2, 5, 77, in, NULL);
    niti_make_batch(&d, idx, B, (const int8_t(*)[256])inj, c2f, 5, 77, part, NULL);
    for (int b = 0; b < B; b++) {
        int fl = (int)(niti_philox_x0(5, (uint32_t)b, 77, 4, 2) & 1);
        CHECK_EQ(memcmp(in + b * img, part + b * img, img) != 0, fl);
    }

    /* none: the plain table lookup */
    niti_make_batch(&d, idx, B, (const int8_t(*)[256])inj, NITI_AUGMENT_NONE, 5, 9, in, NULL);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (size_t k = 0; k < img; k++)
            bad += in[b * img + k] != inj[k % c][d.pixels[idx[b] * img + k]];
    CHECK_EQ(bad, 0);

    /* crop4-flip and none are what niti did before --augment, bit for bit */
    const niti_augment c4f = {4, 1};
    int differ = 0;
    for (int tab = 0; tab < 2; tab++) {
        const int8_t(*t)[256] = (const int8_t(*)[256])(tab ? real : inj);
        for (uint32_t step = 0; step < 50; step++) {
            uint64_t seed = 1 + step % 3;
            int pos0 = (int)(step % 4) * 7;
            niti_make_batch_at(&d, idx, B, pos0, t, c4f, seed, step * 977, in, lab);
            old_make_batch_at(&d, idx, B, pos0, t, 1, seed, step * 977, part, NULL);
            differ += memcmp(in, part, B * img) != 0;
            niti_make_batch_at(&d, idx, B, pos0, t, NITI_AUGMENT_NONE, seed, step, in, NULL);
            old_make_batch_at(&d, idx, B, pos0, t, 0, seed, step, part, NULL);
            differ += memcmp(in, part, B * img) != 0;
        }
    }
    CHECK_EQ(differ, 0);
    /* ... and the comparison can fail: crop4 without the flip is not it */
    const niti_augment c4 = {4, 0};
    niti_make_batch(&d, idx, B, (const int8_t(*)[256])inj, c4, 1, 3, in, NULL);
    old_make_batch_at(&d, idx, B, 0, (const int8_t(*)[256])inj, 1, 1, 3, part, NULL);
    CHECK(memcmp(in, part, B * img) != 0);

    free(in), free(part), free(ref);
    niti_dataset_free(&d);
}

static void test_mapping(void)
{
    test_mapping_shape(28, 28, 1);
    test_mapping_shape(32, 32, 3);
    test_mapping_shape(5, 9, 2); /* not square, smaller than the largest padding */
}

/* ---------------------------------------------------------------------------------------- */

static void test_split(void)
{
    enum { N = 50, V = 12 };
    niti_dataset d, v, orig;
    make_mem(&d, N, 6, 5, 1);
    make_mem(&orig, N, 6, 5, 1); /* the same content, kept whole */
    snprintf(d.source, sizeof d.source, "/some/folder");
    size_t img = 30;

    /* out of range: refused, d unchanged */
    CHECK_EQ(niti_dataset_split_tail(&d, -1, &v), NITI_ERR_INVALID);
    CHECK_EQ(niti_dataset_split_tail(&d, N, &v), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "0..49") != NULL);
    CHECK_EQ(d.n, N);
    /* 0: nothing held out */
    CHECK_EQ(niti_dataset_split_tail(&d, 0, &v), NITI_OK);
    CHECK_EQ(d.n, N);
    CHECK_EQ(v.n, 0);
    niti_dataset_free(&v);

    CHECK_EQ(niti_dataset_split_tail(&d, V, &v), NITI_OK);
    CHECK_EQ(d.n, N - V);
    CHECK_EQ(v.n, V);
    CHECK(v.h == 6 && v.w == 5 && v.c == 1 && v.classes == 10 && v.id == d.id);
    CHECK(!strcmp(v.source, "/some/folder"));
    /* the held-out images are the last V, in order; the training part the first N - V */
    CHECK(!memcmp(v.pixels, orig.pixels + (N - V) * img, V * img));
    CHECK(!memcmp(v.labels, orig.labels + N - V, V));
    CHECK(!memcmp(d.pixels, orig.pixels, (N - V) * img));
    CHECK(v.pixels != d.pixels + (N - V) * img); /* a copy: freed on its own */

    /* every order of the training part, as niti train draws it, stays inside it, and a whole
     * epoch of batches from it never shows a held-out image */
    int32_t perm[N];
    int8_t tab[3][256];
    for (int p = 0; p < 256; p++) tab[0][p] = (int8_t)(p - 128);
    int8_t *batch = malloc((size_t)(N - V) * img);
    int leaked = 0;
    for (uint32_t epoch = 0; epoch < 20; epoch++) {
        niti_shuffle(3, epoch, d.n, perm);
        for (int k = 0; k < d.n; k++) CHECK(perm[k] >= 0 && perm[k] < N - V);
        niti_make_batch(&d, perm, d.n, (const int8_t(*)[256])tab, NITI_AUGMENT_NONE, 3, epoch,
                        batch, NULL);
        for (int k = 0; k < d.n; k++)
            for (int h = 0; h < V; h++) {
                int same = 1;
                for (size_t q = 0; q < img && same; q++)
                    same = batch[k * img + q] == (int8_t)(v.pixels[h * img + q] - 128);
                leaked += same;
            }
    }
    CHECK_EQ(leaked, 0);
    free(batch);
    niti_dataset_free(&v);
    niti_dataset_free(&d); /* frees the whole buffers */
    niti_dataset_free(&orig);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    int all = !strcmp(what, "all"), known = all;
    if (all || !strcmp(what, "modes")) test_modes(), known = 1;
    if (all || !strcmp(what, "mapping")) test_mapping(), known = 1;
    if (all || !strcmp(what, "split")) test_split(), known = 1;
    if (!known) {
        fprintf(stderr, "usage: %s [modes | mapping | split | all]\n", argv[0]);
        return 2;
    }
    return check_report("test_augment");
}
