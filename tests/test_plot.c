/* Training-log plots (src/tools/plot.c): log reading, runs split by start records and run ids,
 * and their errors; output formats; PNG, SVG and PDF rendering in memory; the atomic writer; and
 * checks of files written by `niti plot`.
 *
 * Usage: test_plot unit DATA_DIR TMP_DIR  (DATA_DIR: plot_int8.jsonl, plot_fp32.jsonl, ...)
 *        test_plot png FILE W H SERIES    (decodes with cairo: W x H, and each series' colour
 *                                          drawn in both panels, the next colour nowhere there)
 *        test_plot pdf FILE W H           (header, %%EOF, the xref table's offsets, one page of
 *                                          W x H points)
 * The SVG files are checked by data/plot_svg_check.py (python3, xml.etree). */
#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* A PNG held in memory, for cairo_image_surface_create_from_png_stream. */
typedef struct {
    const unsigned char *p;
    size_t len, off;
} mem_reader;

static cairo_status_t mem_read(void *closure, unsigned char *data, unsigned int length)
{
    mem_reader *m = closure;
    if (m->len - m->off < length) return CAIRO_STATUS_READ_ERROR;
    memcpy(data, m->p + m->off, length);
    m->off += length;
    return CAIRO_STATUS_SUCCESS;
}

/* Pixels of (about) colour c in the rectangle [x0, x1) x [y0, y1) of an RGB24/ARGB32 image. */
static long count_colour(cairo_surface_t *img, int x0, int y0, int x1, int y1,
                         const unsigned char c[3])
{
    const unsigned char *d = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint32_t px = *(const uint32_t *)(d + (size_t)y * (size_t)stride + (size_t)x * 4);
            int r = (int)(px >> 16 & 255), g = (int)(px >> 8 & 255), b = (int)(px & 255);
            if (abs(r - c[0]) <= 8 && abs(g - c[1]) <= 8 && abs(b - c[2]) <= 8) n++;
        }
    return n;
}

/* The panels lie above the x-axis labels and the legend: the top 80 % of the figure, left and
 * right halves (the legend, with the same colours, is below that). */
#define PANEL_FRAC 0.8

/* 1 if img is W x H and series k's colour covers at least 40 pixels in each of the two panels
 * for k < series (in panel 0 only for k in skip_acc, a bit mask), and the next palette colour
 * at most 4 pixels. */
static int png_image_ok(cairo_surface_t *img, const char *what, int w, int h, int series,
                        unsigned skip_acc)
{
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "%s: does not decode: %s\n", what,
                cairo_status_to_string(cairo_surface_status(img)));
        return 0;
    }
    int gw = cairo_image_surface_get_width(img), gh = cairo_image_surface_get_height(img);
    cairo_format_t f = cairo_image_surface_get_format(img);
    if (gw != w || gh != h || (f != CAIRO_FORMAT_RGB24 && f != CAIRO_FORMAT_ARGB32)) {
        fprintf(stderr, "%s: %dx%d (format %d), expected %dx%d RGB\n", what, gw, gh, (int)f, w, h);
        return 0;
    }
    cairo_surface_flush(img);
    int ok = 1, ph = (int)(h * PANEL_FRAC);
    for (int k = 0; k <= series && k < 10; k++) {
        unsigned char c[3];
        niti_plot_series_rgb(k, c);
        long left = count_colour(img, 0, 0, w / 2, ph, c);
        long right = count_colour(img, w / 2, 0, w, ph, c);
        if (k == series) {
            if (left + right > 4) {
                fprintf(stderr, "%s: %ld pixels in the colour of series %d, expected %d series\n",
                        what, left + right, k + 1, series);
                ok = 0;
            }
        } else if ((!(skip_acc >> k & 1) && left < 40) || (skip_acc >> k & 1 && left > 4) ||
                   right < 40) {
            fprintf(stderr, "%s: series %d (#%02x%02x%02x): %ld pixels in the accuracy panel, "
                            "%ld in the loss panel\n", what, k + 1, c[0], c[1], c[2], left, right);
            ok = 0;
        }
    }
    return ok;
}

static int png_mem_ok(const unsigned char *buf, size_t len, int w, int h, int series,
                      unsigned skip_acc)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 8 || memcmp(buf, sig, 8)) {
        fprintf(stderr, "png: bad signature\n");
        return 0;
    }
    mem_reader m = {buf, len, 0};
    cairo_surface_t *img = cairo_image_surface_create_from_png_stream(mem_read, &m);
    int ok = png_image_ok(img, "png", w, h, series, skip_acc);
    cairo_surface_destroy(img);
    return ok;
}

/* The offset of the first s in p[from, len), or -1 (binary-safe: PDF streams hold NULs). */
static long find_bytes(const unsigned char *p, size_t len, size_t from, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = from; i + n <= len; i++)
        if (p[i] == (unsigned char)s[0] && !memcmp(p + i, s, n)) return (long)i;
    return -1;
}

static int has_bytes(const unsigned char *p, size_t len, const char *s)
{
    return find_bytes(p, len, 0, s) >= 0;
}

/* A PDF's structure, without a PDF library: "%PDF-1.x" first, "%%EOF" last, startxref pointing
 * at a classic xref table whose in-use entries point at "N 0 obj" of their own number; one
 * /Type /Page whose MediaBox is W x H, and a /Pages tree with /Count 1. */
static int pdf_ok(const unsigned char *p, size_t len, int w, int h)
{
    const char *s = (const char *)p;
    if (len < 64 || memcmp(s, "%PDF-1.", 7)) {
        fprintf(stderr, "pdf: no %%PDF-1.x header\n");
        return 0;
    }
    size_t end = len;
    while (end && (s[end - 1] == '\n' || s[end - 1] == '\r' || s[end - 1] == ' ')) end--;
    if (end < 5 || memcmp(s + end - 5, "%%EOF", 5)) {
        fprintf(stderr, "pdf: no %%%%EOF at the end\n");
        return 0;
    }
    /* startxref: the last one in the file, followed by a decimal offset */
    long sx = -1;
    for (long q = 0; (q = find_bytes(p, len, (size_t)q, "startxref")) >= 0; q++) sx = q;
    long xref = sx >= 0 ? strtol(s + sx + 9, NULL, 10) : -1; /* digits, then "%%EOF" */
    if (xref <= 0 || (size_t)xref + 4 > len || memcmp(s + xref, "xref", 4)) {
        fprintf(stderr, "pdf: startxref does not point at an xref table\n");
        return 0;
    }
    char *e;
    long first = strtol(s + xref + 4, &e, 10), count = strtol(e, &e, 10);
    while (*e == '\r' || *e == '\n' || *e == ' ') e++;
    if (first != 0 || count < 2 || e + 20 * count > s + len) {
        fprintf(stderr, "pdf: bad xref subsection header\n");
        return 0;
    }
    int ok = 1;
    for (long i = 0; i < count && ok; i++) {
        const char *ent = e + 20 * i;
        long off = strtol(ent, NULL, 10);
        if (ent[17] != 'n') continue;
        char want[32];
        int wl = snprintf(want, sizeof want, "%ld 0 obj", first + i);
        if (off <= 0 || (size_t)off + (size_t)wl > len || memcmp(s + off, want, (size_t)wl)) {
            fprintf(stderr, "pdf: xref entry %ld does not point at its object\n", first + i);
            ok = 0;
        }
    }
    int pages = 0;
    for (long q = 0; (q = find_bytes(p, len, (size_t)q, "/Type /Page")) >= 0; q++)
        if ((size_t)q + 11 < len && s[q + 11] != 's') pages++;
    char box[64];
    snprintf(box, sizeof box, "/MediaBox [ 0 0 %d %d ]", w, h);
    if (pages != 1 || !has_bytes(p, len, "/Count 1") || !has_bytes(p, len, box)) {
        fprintf(stderr, "pdf: %d pages (expected one, %s)\n", pages, box);
        ok = 0;
    }
    return ok;
}

static int svg_ok(const char *s, size_t len)
{
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
    return len > 10 && !strncmp(s, "<?xml", 5) && strstr(s, "<svg") &&
           !strncmp(s + len - 6, "</svg>", 6);
}

/* Reads one log into a fresh list; NITI_OK only with exactly the expected series. */
static niti_status read1(const char *dir, const char *name, niti_plot_run **runs, int *n)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    *runs = NULL, *n = 0;
    return niti_plot_read_log(p, runs, n);
}

static int name_is(const niti_plot_run *r, const char *label, const char *want)
{
    char buf[256];
    niti_plot_series_name(r, label, buf, sizeof buf);
    if (strcmp(buf, want)) fprintf(stderr, "legend name '%s', expected '%s'\n", buf, want);
    return !strcmp(buf, want);
}

/* ---------------------------------------------------------------------------------------- */
/* Unit tests                                                                               */

static void test_read(const char *data)
{
    niti_plot_run *r = NULL;
    int n = 0;
    CHECK_EQ(read1(data, "plot_int8.jsonl", &r, &n), NITI_OK);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(r->n, 5);
        CHECK(r->label && !strcmp(r->label, "int8 lenet mnist"));
        CHECK(!r->run_id && r->series == 1 && r->n_series == 1);
        CHECK(r->n == 5 && r->epoch[0] == 1 && r->epoch[4] == 5);
        CHECK(r->n == 5 && fabs(r->test_acc[0] - 94.71) < 1e-9);
        CHECK(r->n == 5 && isnan(r->test_acc[1])); /* epoch 2 has no evaluation */
        CHECK(r->n == 5 && fabs(r->train_loss[1] - 0.139) < 1e-12);
        CHECK(name_is(r, NULL, "int8 lenet mnist"));
        CHECK(name_is(r, "", "int8 lenet mnist"));
        CHECK(name_is(r, "mine", "mine"));
    }

    /* Appending: a second log's series follow; a failing read appends nothing. */
    char p[2048];
    snprintf(p, sizeof p, "%s/plot_fp32.jsonl", data); /* holds a blank line */
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_OK);
    CHECK_EQ(n, 2);
    CHECK(n == 2 && r[1].n == 5 && fabs(r[1].test_acc[4] - 98.81) < 1e-9);
    CHECK(n == 2 && r[0].n == 5 && r[1].series == 1 && r[1].n_series == 1);
    snprintf(p, sizeof p, "%s/plot_bad_json.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_bad_json.jsonl:2: not valid JSON") != NULL);
    CHECK_EQ(n, 2);
    CHECK(n == 2 && r[0].n == 5 && r[1].n == 5);
    niti_plot_runs_free(r, n);

    CHECK_EQ(read1(data, "plot_no_epochs.jsonl", &r, &n), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_no_epochs.jsonl: no epoch records") != NULL);
    CHECK(n == 0 && r == NULL);

    CHECK_EQ(read1(data, "no_such_log.jsonl", &r, &n), NITI_ERR_IO);
    CHECK(strstr(niti_last_error(), "no_such_log.jsonl: cannot open") != NULL);
    CHECK(n == 0 && r == NULL);

    r = NULL, n = 0;
    CHECK_EQ(niti_plot_read_log(data, &r, &n), NITI_ERR_IO); /* a folder */
    CHECK(n == 0 && r == NULL);
    CHECK_EQ(niti_plot_read_log(NULL, &r, &n), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_read_log(data, NULL, &n), NITI_ERR_INVALID);
}

/* Several runs in one log (issue 20 item 8): the files in tests/data. */
static void test_read_runs(const char *data)
{
    niti_plot_run *r = NULL;
    int n = 0;

    /* Two runs appended, no run ids: every start record begins a series. */
    CHECK_EQ(read1(data, "plot_two_runs.jsonl", &r, &n), NITI_OK);
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK(r[0].n == 3 && r[1].n == 4);
        CHECK(r[0].series == 1 && r[1].series == 2 && r[0].n_series == 2 && r[1].n_series == 2);
        CHECK(fabs(r[0].test_acc[0] - 93.1) < 1e-9 && fabs(r[1].test_acc[0] - 94.1) < 1e-9);
        CHECK(fabs(r[1].train_loss[3] - 0.08) < 1e-12);
        CHECK(!r[0].label && !r[1].label);
        CHECK(name_is(&r[0], NULL, "plot_two_runs.jsonl"));
        CHECK(name_is(&r[1], NULL, "plot_two_runs.jsonl (run 2)"));
        CHECK(name_is(&r[1], "int8", "int8 (run 2)"));
    }
    niti_plot_runs_free(r, n);

    /* A run stopped after epoch 3 and resumed from its epoch-2 checkpoint: one series, the
     * redone epoch 3 replaces the first one. */
    CHECK_EQ(read1(data, "plot_resumed.jsonl", &r, &n), NITI_OK);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(r->n, 5);
        CHECK(r->n == 5 && fabs(r->train_loss[2] - 0.094) < 1e-12 &&
              fabs(r->test_acc[2] - 97.79) < 1e-9);
        CHECK(r->n_series == 1 && name_is(r, NULL, "resumed lenet"));
    }
    niti_plot_runs_free(r, n);

    /* Run ids: run a1, then b2, then a1 resumed after b2: two series, grouped by id. */
    CHECK_EQ(read1(data, "plot_run_ids.jsonl", &r, &n), NITI_OK);
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK(r[0].run_id && !strcmp(r[0].run_id, "20240601-a1"));
        CHECK(r[1].run_id && !strcmp(r[1].run_id, "20240601-b2"));
        CHECK_EQ(r[0].n, 4);
        CHECK_EQ(r[1].n, 3);
        CHECK(r[0].n == 4 && r[0].epoch[3] == 4 && fabs(r[0].test_acc[3] - 98.12) < 1e-9);
        CHECK(name_is(&r[0], NULL, "int8 lenet mnist"));
        CHECK(name_is(&r[1], NULL, "int8 lenet mnist (run 2)"));
    }
    niti_plot_runs_free(r, n);
}

static void test_read_edge(const char *tmp)
{
    char p[2048];
    niti_plot_run *r = NULL;
    int n = 0;
    snprintf(p, sizeof p, "%s/plot_edge.jsonl", tmp);

    /* A resumed run: epochs 3 and 4 again; the later records win, sorted by epoch. Records
     * without "epoch" count on from the one before; values of the wrong type are absent. */
    CHECK(write_text(p, "{\"event\":\"start\"}\r\n"
                        "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1.0,\"test_acc\":0.5}\n"
                        "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":0.9}\n"
                        "{\"event\":\"epoch\",\"epoch\":3,\"train_loss\":0.8}\n"
                        "{\"event\":\"epoch\",\"epoch\":4,\"train_loss\":0.7}\n"
                        "{\"event\":\"start\",\"label\":\"resumed\",\"resumed_at_step\":200}\n"
                        "{\"event\":\"epoch\",\"epoch\":3,\"train_loss\":0.6,\"test_acc\":0.7}\n"
                        "{\"event\":\"epoch\",\"train_loss\":0.5,\"test_acc\":\"high\"}\n"
                        "{\"event\":42}\n{\"no_event\":true}\n   \n"
                        "{\"event\":\"epoch\",\"epoch\":5,\"train_loss\":null,\"test_acc\":0.75}"));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_OK);
    CHECK_EQ(n, 1);
    if (n == 1) {
        CHECK_EQ(r->n, 5);
        CHECK(r->label && !strcmp(r->label, "resumed"));
    }
    if (n == 1 && r->n == 5) {
        CHECK(r->epoch[2] == 3 && fabs(r->train_loss[2] - 0.6) < 1e-12 &&
              fabs(r->test_acc[2] - 70) < 1e-9);
        CHECK(r->epoch[3] == 4 && fabs(r->train_loss[3] - 0.5) < 1e-12 && isnan(r->test_acc[3]));
        CHECK(r->epoch[4] == 5 && isnan(r->train_loss[4]) && fabs(r->test_acc[4] - 75) < 1e-9);
    }
    niti_plot_runs_free(r, n), r = NULL, n = 0;

    /* The same without "resumed_at_step": a second run (epochs counted from 1 again), whose
     * records no longer overwrite the first run's. Epoch records before any start record form
     * a series of their own; a start without epoch records (a run that stopped at once)
     * makes none. */
    CHECK(write_text(p, "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":2.0}\n"
                        "{\"event\":\"start\",\"label\":\"A\",\"resumed_at_step\":0}\n"
                        "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1.0}\n"
                        "{\"event\":\"epoch\",\"epoch\":2,\"train_loss\":0.9}\n"
                        "{\"event\":\"start\",\"label\":\"died\"}\n"
                        "{\"event\":\"end\",\"epochs\":0}\n"
                        "{\"event\":\"start\",\"label\":\"B\"}\n"
                        "{\"event\":\"epoch\",\"train_loss\":0.8}\n"));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_OK);
    CHECK_EQ(n, 3);
    if (n == 3) {
        CHECK(r[0].n == 1 && !r[0].label && fabs(r[0].train_loss[0] - 2.0) < 1e-12);
        CHECK(r[1].n == 2 && r[1].label && !strcmp(r[1].label, "A"));
        CHECK(r[2].n == 1 && r[2].label && !strcmp(r[2].label, "B") && r[2].epoch[0] == 1);
        CHECK(r[2].series == 3 && r[2].n_series == 3);
        CHECK(name_is(&r[0], NULL, "plot_edge.jsonl"));
        CHECK(name_is(&r[2], NULL, "B (run 3)"));
    }
    niti_plot_runs_free(r, n), r = NULL, n = 0;

    /* Run ids (strings or numbers) group records wherever they are, start records included; a
     * start record with a new id begins a series even with "resumed_at_step"; records without
     * an id stay with the current series; an id on the first records of a series opened
     * without one is adopted. */
    CHECK(write_text(p, "{\"event\":\"start\",\"label\":\"seven\"}\n"
                        "{\"event\":\"epoch\",\"run\":7,\"epoch\":1,\"train_loss\":1.0}\n"
                        "{\"event\":\"start\",\"run\":\"x\",\"label\":\"ex\","
                        "\"resumed_at_step\":5}\n"
                        "{\"event\":\"epoch\",\"run\":\"x\",\"epoch\":1,\"train_loss\":0.5}\n"
                        "{\"event\":\"epoch\",\"run\":7,\"epoch\":2,\"train_loss\":0.9}\n"
                        "{\"event\":\"epoch\",\"epoch\":3,\"train_loss\":0.8}\n"
                        "{\"event\":\"start\",\"run\":\"x\",\"label\":\"later\"}\n"
                        "{\"event\":\"epoch\",\"run\":\"x\",\"epoch\":2,\"train_loss\":0.4}\n"
                        "{\"event\":\"epoch\",\"run\":[1],\"epoch\":3,\"train_loss\":0.3}\n"));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_OK);
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK(r[0].run_id && !strcmp(r[0].run_id, "7") && r[0].label &&
              !strcmp(r[0].label, "seven"));
        CHECK(r[0].n == 3 && r[0].epoch[2] == 3 && fabs(r[0].train_loss[2] - 0.8) < 1e-12);
        CHECK(r[1].run_id && !strcmp(r[1].run_id, "x") && r[1].label &&
              !strcmp(r[1].label, "ex"));
        CHECK(r[1].n == 3 && fabs(r[1].train_loss[2] - 0.3) < 1e-12);
    }
    niti_plot_runs_free(r, n), r = NULL, n = 0;

    CHECK(write_text(p, "{\"event\":\"epoch\",\"epoch\":1,\"train_loss\":1}\n[1,2]\n"));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_edge.jsonl:2: not a JSON object") != NULL);
    CHECK(n == 0 && r == NULL);

    CHECK(write_text(p, "{\"event\":\"epoch\",\"epoch\":1} trailing\n"));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "plot_edge.jsonl:1:") != NULL);

    CHECK(write_text(p, ""));
    CHECK_EQ(niti_plot_read_log(p, &r, &n), NITI_ERR_FORMAT);
    CHECK(strstr(niti_last_error(), "no epoch records") != NULL);
    CHECK(n == 0 && r == NULL);
    unlink(p);
}

static void test_formats(void)
{
    niti_plot_format f = NITI_PLOT_PNG;
    CHECK_EQ(niti_plot_format_from_path("out/fig.svg", &f), NITI_OK);
    CHECK_EQ(f, NITI_PLOT_SVG);
    CHECK_EQ(niti_plot_format_from_path("FIG.PNG", &f), NITI_OK);
    CHECK_EQ(f, NITI_PLOT_PNG);
    CHECK_EQ(niti_plot_format_from_path("a.b/fig.Pdf", &f), NITI_OK);
    CHECK_EQ(f, NITI_PLOT_PDF);
    CHECK_EQ(niti_plot_format_from_path("fig.jpg", &f), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "fig.jpg: unknown output format") != NULL);
    CHECK(strstr(niti_last_error(), ".png, .svg or .pdf") != NULL);
    CHECK_EQ(niti_plot_format_from_path("svg", &f), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_format_from_path(".pdf", &f), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_format_from_path("dir.svg/fig", &f), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_format_from_path("fig.png.gz", &f), NITI_ERR_INVALID);
}

static void test_render(const char *data, const char *tmp)
{
    char p[2048];
    niti_plot_run *runs = NULL;
    int n = 0;
    snprintf(p, sizeof p, "%s/plot_int8.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &runs, &n), NITI_OK);
    snprintf(p, sizeof p, "%s/plot_fp32.jsonl", data);
    CHECK_EQ(niti_plot_read_log(p, &runs, &n), NITI_OK);
    if (n != 2) return;

    unsigned char *buf = NULL;
    size_t len = 0;
    niti_plot_opts o = {"int8 & fp32 <LeNet>", 0, 0};
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_SVG, &buf, &len), NITI_OK);
    CHECK(buf && svg_ok((const char *)buf, len));
    CHECK(buf && strlen((const char *)buf) == len);
    free(buf), buf = NULL;

    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_PDF, &buf, &len), NITI_OK);
    CHECK(buf && pdf_ok(buf, len, 1200, 500));
    CHECK(buf && has_bytes(buf, len, "(niti plot)")); /* the creator, in the Info dictionary */
    free(buf), buf = NULL;

    CHECK_EQ(niti_plot_render(runs, 2, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_mem_ok(buf, len, 1200, 500, 2, 0));
    free(buf), buf = NULL;
    o.width = 640, o.height = 300;
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_mem_ok(buf, len, 640, 300, 2, 0));
    free(buf), buf = NULL;
    CHECK_EQ(niti_plot_render(runs, 1, NULL, &o, NITI_PLOT_PDF, &buf, &len), NITI_OK);

    /* The atomic writer: the bytes arrive, no temporary file stays behind. */
    snprintf(p, sizeof p, "%s/plot_unit.pdf", tmp);
    CHECK_EQ(niti_plot_write_file(p, buf, len), NITI_OK);
    size_t got_len = 0;
    unsigned char *got = read_all(p, &got_len);
    CHECK(got && got_len == len && !memcmp(got, buf, len));
    CHECK(got && pdf_ok(got, got_len, 640, 300));
    CHECK_EQ(count_tmp_files(tmp), 0);
    free(got);
    unlink(p);
    snprintf(p, sizeof p, "%s/no_such_dir/plot.png", tmp);
    CHECK_EQ(niti_plot_write_file(p, buf, len), NITI_ERR_IO);
    free(buf), buf = NULL;

    /* Labels that cairo cannot take as they are (a control character, invalid UTF-8, very
     * long) are cleaned and cut, not refused. */
    char longl[3000];
    memset(longl, 'x', sizeof longl - 1);
    longl[sizeof longl - 1] = 0;
    const char *labels[2] = {"mine\x01 \xff\xfe\xc3", longl};
    niti_plot_opts bad_title = {"\xe2\x82 title \x7f", 0, 0};
    for (int fmt = 0; fmt < 3; fmt++) {
        CHECK_EQ(niti_plot_render(runs, 2, labels, &bad_title, (niti_plot_format)fmt, &buf, &len),
                 NITI_OK);
        free(buf), buf = NULL;
    }

    o.width = 100;
    CHECK_EQ(niti_plot_render(runs, 2, NULL, &o, NITI_PLOT_PNG, &buf, &len), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "out of range") != NULL);
    CHECK_EQ(niti_plot_render(runs, 0, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_ERR_INVALID);
    CHECK_EQ(niti_plot_render(runs, 2, NULL, NULL, (niti_plot_format)7, &buf, &len),
             NITI_ERR_INVALID);
    CHECK(buf == NULL);

    /* Many runs wrap the legend; too many for the figure are refused. */
    niti_plot_run many[14], lots[200];
    for (int k = 0; k < 14; k++) many[k] = runs[k % 2];
    for (int k = 0; k < 200; k++) lots[k] = runs[k % 2];
    CHECK_EQ(niti_plot_render(many, 14, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && len > 8);
    free(buf), buf = NULL;
    CHECK_EQ(niti_plot_render(lots, 200, NULL, NULL, NITI_PLOT_SVG, &buf, &len), NITI_ERR_INVALID);
    CHECK(strstr(niti_last_error(), "200 runs do not fit") != NULL);

    /* A run without test accuracy leaves that panel's line out, the loss line stays. */
    double nan_acc[5] = {NAN, NAN, NAN, NAN, NAN};
    niti_plot_run lossonly[2] = {runs[0], runs[1]};
    lossonly[0].test_acc = nan_acc;
    CHECK_EQ(niti_plot_render(lossonly, 2, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_mem_ok(buf, len, 1200, 500, 2, 1u << 0));
    free(buf), buf = NULL;
    lossonly[1].test_acc = nan_acc; /* no accuracy at all: the panel says so */
    CHECK_EQ(niti_plot_render(lossonly, 2, NULL, NULL, NITI_PLOT_PNG, &buf, &len), NITI_OK);
    CHECK(buf && png_mem_ok(buf, len, 1200, 500, 2, 3u));
    free(buf), buf = NULL;

    niti_plot_runs_free(runs, n);
}

/* ---------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int rc = 2;
    if (argc >= 4 && !strcmp(argv[1], "unit")) {
        test_read(argv[2]);
        test_read_runs(argv[2]);
        test_read_edge(argv[3]);
        test_formats();
        test_render(argv[2], argv[3]);
        rc = check_report("plot unit");
    } else if (argc == 6 && !strcmp(argv[1], "png")) {
        cairo_surface_t *img = cairo_image_surface_create_from_png(argv[2]);
        CHECK(png_image_ok(img, argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), 0));
        cairo_surface_destroy(img);
        rc = check_report("plot png");
    } else if (argc == 5 && !strcmp(argv[1], "pdf")) {
        size_t len = 0;
        unsigned char *s = read_all(argv[2], &len);
        CHECK(s != NULL);
        CHECK(s && pdf_ok(s, len, atoi(argv[3]), atoi(argv[4])));
        free(s);
        rc = check_report("plot pdf");
    } else {
        fprintf(stderr, "usage: test_plot unit DATA_DIR TMP_DIR | png FILE W H SERIES | "
                        "pdf FILE W H\n");
    }
    cairo_debug_reset_static_data(); /* so that leak checkers see only our own leaks */
    return rc;
}
