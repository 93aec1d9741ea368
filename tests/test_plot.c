/* Training-log plots (src/plot.c): log reading and its errors, output formats, SVG and PNG
 * rendering in memory, the atomic writer; and checks of files written by `niti plot`.
 *
 * Usage: test_plot unit DATA_DIR TMP_DIR     (DATA_DIR: plot_int8.jsonl, plot_fp32.jsonl, ...)
 *        test_plot svg FILE LABEL...         (starts "<svg", ends "</svg>", holds each LABEL)
 *        test_plot png FILE WIDTH HEIGHT     (signature, IHDR size, chunk CRCs, IDAT size) */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "tools/plot.h"

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                  */

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap + 1);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) free(buf);
            buf = nb, cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks a PNG's chunks: 1 if the signature, IHDR (first, W x H, 8-bit RGB), every CRC, the
 * IDAT data (inflating to H rows of 1 + 3W bytes) and IEND (last) are right. */
static int png_ok(const unsigned char *p, size_t len, uint32_t w, uint32_t h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(p, sig, 8)) {
        fprintf(stderr, "png: bad signature\n");
        return 0;
    }
    size_t off = 8, idat_len = 0;
    unsigned char *idat = NULL;
    int chunks = 0, ok = 1, seen_end = 0;
    while (ok && off + 12 <= len) {
        uint32_t n = be32(p + off);
        if (off + 12 + (size_t)n > len) {
            fprintf(stderr, "png: chunk %d runs past the end\n", chunks);
            ok = 0;
            break;
        }
        const unsigned char *type = p + off + 4, *data = p + off + 8;
        uLong crc = crc32(crc32(0L, Z_NULL, 0), type, n + 4);
        if (crc != be32(data + n)) {
            fprintf(stderr, "png: chunk %.4s: CRC mismatch\n", (const char *)type);
            ok = 0;
        }
        if (chunks == 0) {
            if (memcmp(type, "IHDR", 4) || n != 13) {
                fprintf(stderr, "png: the first chunk is not a 13-byte IHDR\n");
                ok = 0;
            } else if (be32(data) != w || be32(data + 4) != h) {
                fprintf(stderr, "png: IHDR says %ux%u, expected %ux%u\n", be32(data),
                        be32(data + 4), w, h);
                ok = 0;
            } else if (data[8] != 8 || data[9] != 2 || data[10] || data[11] || data[12]) {
                fprintf(stderr, "png: IHDR is not 8-bit RGB, deflate, no interlace\n");
                ok = 0;
            }
        }
        if (!memcmp(type, "IDAT", 4)) {
            unsigned char *ni = realloc(idat, idat_len + n + 1);
            if (!ni) ok = 0;
            else idat = ni, memcpy(idat + idat_len, data, n), idat_len += n;
        }
        chunks++;
        off += 12 + (size_t)n;
        if (!memcmp(type, "IEND", 4)) {
            seen_end = 1;
            break;
        }
    }
    if (ok && (!seen_end || off != len)) {
        fprintf(stderr, "png: IEND missing or not last\n");
        ok = 0;
    }
    if (ok) {
        uLongf raw_len = (uLongf)h * (3 * (uLongf)w + 1);
        unsigned char *raw = malloc(raw_len + 1);
        uLongf got = raw_len + 1;
        if (!raw || uncompress(raw, &got, idat, idat_len) != Z_OK || got != raw_len) {
            fprintf(stderr, "png: IDAT does not inflate to %lu bytes\n", (unsigned long)raw_len);
            ok = 0;
        }
        for (uint32_t y = 0; ok && y < h; y++)
            if (raw[(size_t)y * (3 * w + 1)] > 4) ok = 0; /* filter type */
        free(raw);
    }
    free(idat);
    return ok;
}

static int svg_ok(const char *s, size_t len)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
    return len > 10 && !strncmp(s, "<svg", 4) && !strncmp(s + len - 6, "</svg>", 6);
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Unit tests                                                                               */

static void test_read(const char *data)
{
    char p[2048];
    niti_plot_run r;
    snprintf(p, sizeof p, "%s/plot_int8.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_OK);
    CHECK_EQ(r.n, 5);
    CHECK(r.label && !strcmp(r.label, "int8 lenet mnist"));
    CHECK(r.n == 5 && r.epoch[0] == 1 && r.epoch[4] == 5);
    CHECK(r.n == 5 && fabs(r.test_acc[0] - 94.71) < 1e-9);
    CHECK(r.n == 5 && isnan(r.test_acc[1])); /* epoch 2 has no evaluation */
    CHECK(r.n == 5 && fabs(r.train_loss[1] - 0.139) < 1e-12);
    niti_plot_run_free(&r);

    snprintf(p, sizeof p, "%s/plot_fp32.jsonl", data); /* holds a blank line */
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_OK);
    CHECK_EQ(r.n, 5);
    CHECK(r.n == 5 && fabs(r.test_acc[4] - 98.81) < 1e-9);
    niti_plot_run_free(&r);

    snprintf(p, sizeof p, "%s/plot_bad_json.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_bad_json.jsonl:2:") != NULL);
    CHECK(r.n == 0 && !r.epoch && !r.path);

    snprintf(p, sizeof p, "%s/plot_no_epochs.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "no epoch records") != NULL);

    snprintf(p, sizeof p, "%s/no_such_log.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_IO);
    CHECK(strstr(niti_last_error(), "no_such_log.jsonl") != NULL);

    CHECK_EQ(niti_plot_read_log(data, &r), NITI_ERR_IO); /* a folder */
}

static void test_read_edge(const char *tmp)
{
    char p[2048];
    niti_plot_run r;
    snprintf(p, sizeof p, "%s/plot_edge.jsonl", tmp);

    /* A resumed run: epochs 3 and 4 again; the later records win, sorted by epoch. Records
     * without "epoch" count on from the one before; values of the wrong type are absent. */
    CHECK(write_text(p, "{\"event\":\"start\"}\r\n"
                        "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1.0,\"test_acc\":0.5}\n"
                        "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":0.9}\n"
                        "{\"event\":\"epoch\",\"epoch\":3,\"train_loss\":0.8}\n"
                        "{\"event\":\"epoch\",\"epoch\":4,\"train_loss\":0.7}\n"
                        "{\"event\":\"start\",\"label\":\"resumed\"}\n"
                        "{\"event\":\"epoch\",\"epoch\":3,\"train_loss\":0.6,\"test_acc\":0.7}\n"
                        "{\"event\":\"epoch\",\"train_loss\":0.5,\"test_acc\":\"high\"}\n"
                        "{\"event\":42}\n{\"no_event\":true}\n   \n"
                        "{\"event\":\"epoch\",\"epoch\":5,\"train_loss\":null,\"test_acc\":0.75}"));
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_OK);
    CHECK_EQ(r.n, 5);
    CHECK(r.label && !strcmp(r.label, "resumed"));
    if (r.n == 5) {
        CHECK(r.epoch[2] == 3 && fabs(r.train_loss[2] - 0.6) < 1e-12 &&
              fabs(r.test_acc[2] - 70) < 1e-9);
        CHECK(r.epoch[3] == 4 && fabs(r.train_loss[3] - 0.5) < 1e-12 && isnan(r.test_acc[3]));
        CHECK(r.epoch[4] == 5 && isnan(r.train_loss[4]) && fabs(r.test_acc[4] - 75) < 1e-9);
    }
    niti_plot_run_free(&r);

    CHECK(write_text(p, "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1}\n[1,2]\n"));
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_edge.jsonl:2: not a JSON object") != NULL);

    CHECK(write_text(p, "{\"event\":\"epoch\",\"epoch\":1} trailing\n"));
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_edge.jsonl:1:") != NULL);

    CHECK(write_text(p, ""));
    CHECK_EQ(niti_plot_read_log(p, &r), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "no epoch records") != NULL);
    unlink(p);
}

static void test_formats(void)
{
    niti_plot_format f = NITI_PLOT_PNG;
    CHECK_EQ(niti_plot_format_from_path("out/fig.svg", &f), NITI_OK);
    CHECK_EQ(f, NITI_PLOT_SVG);
    CHECK_EQ(niti_plot_format_from_path("FIG.PNG", &f), NITI_OK);
    CHECK_EQ(f, NITI_PLOT_PNG);
    CHECK_EQ(niti_plot_format_from_path("fig.pdf", &f), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), ".svg or .png") != NULL);
    CHECK_EQ(niti_plot_format_from_path("svg", &f), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_format_from_path("dir.svg/fig", &f), NITI_ERR_INVALID);
}

static void test_render(const char *data, const char *tmp)
{
    char p[2048];
    niti_plot_run runs[2];
    snprintf(p, sizeof p, "%s/plot_int8.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &runs[0]), NITI_OK);
    snprintf(p, sizeof p, "%s/plot_fp32.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &runs[1]), NITI_OK);

    unsigned char *buf = NULL;
    size_t len = 0;
    niti_plot_opts o = {"int8 & fp32 <LeNet>", 0, 0};
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_SVG, &buf, &len), NITI_OK);
    CHECK(buf && svg_ok((const char *)buf, len));
    CHECK(buf && strlen((const char *)buf) == len);
    CHECK(buf && strstr((const char *)buf, ">int8 lenet mnist<"));
    CHECK(buf && strstr((const char *)buf, ">fp32 lenet mnist<"));
    CHECK(buf && strstr((const char *)buf, "int8 &amp; fp32 &lt;LeNet&gt;"));
    CHECK(buf && strstr((const char *)buf, "test accuracy (%)"));
    CHECK(buf && strstr((const char *)buf, "training loss"));
    free(buf);

    /* Labels override the start events'; an empty or NULL one keeps it. */
    const char *labels[2] = {"mine\x01", ""};
    CHECK_EQ(niti_plot_render(runs, 2, labels, NULL, NITI_PLOT_SVG, &buf, &len), NITI_OK);
    CHECK(buf && strstr((const char *)buf, ">mine <"));
    CHECK(buf && !strstr((const char *)buf, ">int8 lenet mnist<"));
    CHECK(buf && strstr((const char *)buf, ">fp32 lenet mnist<"));
    free(buf);

    CHECK_EQ(niti_plot_render(runs, 2, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_ok(buf, len, 1200, 500));
    free(buf);
    o.width = 640, o.height = 300;
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_ok(buf, len, 640, 300));

    /* The atomic writer: the bytes arrive, no temporary file stays behind. */
    snprintf(p, sizeof p, "%s/plot_unit.png", tmp);
    CHECK_EQ(niti_plot_write_file(p, buf, len), NITI_OK);
    size_t got_len = 0;
    unsigned char *got = read_all(p, &got_len);
    CHECK(got && got_len == len && !memcmp(got, buf, len));
    CHECK_EQ(count_tmp_files(tmp), 0);
    free(got);
    unlink(p);
    snprintf(p, sizeof p, "%s/no_such_dir/plot.png", tmp);
    CHECK_EQ(niti_plot_write_file(p, buf, len), NITI_ERR_IO);
    free(buf);

    o.width = 100;
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_PNG, &buf, &len), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_render(runs, 0, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_ERR_INVALID);

    /* Many runs wrap the legend; a run without test accuracy leaves that panel's line out. */
    niti_plot_run many[14];
    for (int k = 0; k < 14; k++) many[k] = runs[k % 2];
    CHECK_EQ(niti_plot_render(many, 14, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_ok(buf, len, 1200, 500));
    free(buf);
    double nan_acc[5] = {NAN, NAN, NAN, NAN, NAN};
    niti_plot_run lossonly = runs[0];
    lossonly.test_acc = nan_acc;
    CHECK_EQ(niti_plot_render(&lossonly, 1, NULL, NULL, NITI_PLOT_SVG, &buf, &len), NITI_OK);
    CHECK(buf && strstr((const char *)buf, "no test accuracy in the logs"));
    free(buf);

    niti_plot_run_free(&runs[0]);
    niti_plot_run_free(&runs[1]);
}

/* ---------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "unit")) {
        test_read(argv[2]);
        test_read_edge(argv[3]);
        test_formats();
        test_render(argv[2], argv[3]);
        return check_report("plot unit");
    }
    if (argc >= 3 && !strcmp(argv[1], "svg")) {
        size_t len = 0;
        unsigned char *s = read_all(argv[2], &len);
        CHECK(s != NULL);
        CHECK(s && svg_ok((const char *)s, len));
        for (int i = 3; s && i < argc; i++) {
            int found = strstr((const char *)s, argv[i]) != NULL;
            if (!found) fprintf(stderr, "%s: label '%s' missing\n", argv[2], argv[i]);
            CHECK(found);
        }
        free(s);
        return check_report("plot svg");
    }
    if (argc == 5 && !strcmp(argv[1], "png")) {
        size_t len = 0;
        unsigned char *s = read_all(argv[2], &len);
        CHECK(s != NULL);
        CHECK(s && png_ok(s, len, (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4])));
        free(s);
        return check_report("plot png");
    }
    fprintf(stderr, "usage: test_plot unit DATA_DIR TMP_DIR | svg FILE LABEL... | png FILE W H\n");
    return 2;
}
