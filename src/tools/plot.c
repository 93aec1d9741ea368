/* Training-log plots: the JSON Lines reader (one series per run), the figure's layout, and its
 * drawing with cairo onto a PNG image, an SVG or a PDF surface. See plot.h. */
#include "tools/plot.h"
#include "io/fileio.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/error.h"

/* ------------------------------------------------------------------------------------------ */
/* Reading logs                                                                               */

typedef struct {
    double epoch, acc, loss;
    int order;
} plot_rec;

static int rec_cmp(const void *a, const void *b)
{
    const plot_rec *x = a, *y = b;
    if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return NAN;
    return v->valuedouble;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void niti_plot_run_free(niti_plot_run *run)
{
    if (!run) return;
    free(run->path);
    free(run->label);
    free(run->run_id);
    free(run->epoch);
    free(run->test_acc);
    free(run->train_loss);
    memset(run, 0, sizeof *run);
}

void niti_plot_runs_free(niti_plot_run *runs, int n_runs)
{
    for (int k = 0; runs && k < n_runs; k++) niti_plot_run_free(&runs[k]);
    free(runs);
}

/* One series while the file is read. */
typedef struct {
    char *label, *run_id;
    plot_rec *recs;
    int n, cap;
} series_acc;

typedef struct {
    const char *path;
    series_acc *s;
    int n, cap;
    int cur; /* the series records without "run" go to; -1 before the first */
} log_reader;

static void reader_free(log_reader *rd)
{
    for (int i = 0; i < rd->n; i++) {
        free(rd->s[i].label);
        free(rd->s[i].run_id);
        free(rd->s[i].recs);
    }
    free(rd->s);
    rd->s = NULL, rd->n = rd->cap = 0;
}

/* Appends an empty series and makes it the current one; its index, or -1 (out of memory). */
static int reader_new_series(log_reader *rd)
{
    if (rd->n == rd->cap) {
        int nc = rd->cap ? rd->cap * 2 : 4;
        series_acc *s = realloc(rd->s, (size_t)nc * sizeof *s);
        if (!s) return -1;
        rd->s = s, rd->cap = nc;
    }
    memset(&rd->s[rd->n], 0, sizeof rd->s[rd->n]);
    return rd->cur = rd->n++;
}

/* The record's "run" as text (a string, or a number's decimal form) in buf; NULL if absent or
 * of another type. */
static const char *json_run_id(const cJSON *o, char *buf, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "run");
    if (cJSON_IsString(v) && v->valuestring) return v->valuestring;
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    return NULL;
}

/* Picks the series a start or epoch record belongs to (rd->cur); NITI_OK or out of memory. */
static niti_status reader_pick_series(log_reader *rd, const cJSON *o, int is_start)
{
    char num[40];
    const char *rid = json_run_id(o, num, sizeof num);
    if (rid) {
        int idx = -1;
        for (int i = 0; i < rd->n && idx < 0; i++)
            if (rd->s[i].run_id && !strcmp(rd->s[i].run_id, rid)) idx = i;
        /* A series opened by records without a run id and nothing in it yet takes this one. */
        if (idx < 0 && rd->cur >= 0 && !rd->s[rd->cur].run_id && rd->s[rd->cur].n == 0)
            idx = rd->cur;
        if (idx < 0 && (idx = reader_new_series(rd)) < 0)
            return niti_fail(NITI_ERR_NOMEM, "%s: series", rd->path);
        if (!rd->s[idx].run_id && !(rd->s[idx].run_id = dup_str(rid)))
            return niti_fail(NITI_ERR_NOMEM, "%s: run id", rd->path);
        rd->cur = idx;
        return NITI_OK;
    }
    int resume = is_start && json_num(o, "resumed_at_step") > 0 && rd->cur >= 0 &&
                 !rd->s[rd->cur].run_id;
    if ((is_start && !resume) || rd->cur < 0) {
        if (reader_new_series(rd) < 0) return niti_fail(NITI_ERR_NOMEM, "%s: series", rd->path);
    }
    return NITI_OK;
}

/* One line: NITI_OK (record taken or line ignored) or a failure naming path:lineno. */
static niti_status read_line(log_reader *rd, long lineno, const char *line, size_t len)
{
    const char *path = rd->path;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
        i++;
    if (i == len) return NITI_OK; /* blank line */
    if (memchr(line, 0, len))
        return niti_fail(NITI_ERR_FORMAT, "%s:%ld: the line holds a NUL byte", path, lineno);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(line, &end, 1);
    if (!o) {
        long col = end && end >= line ? (long)(end - line) + 1 : 0;
        return niti_fail(NITI_ERR_FORMAT, "%s:%ld: not valid JSON (at column %ld)", path, lineno,
                         col);
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return niti_fail(NITI_ERR_FORMAT, "%s:%ld: not a JSON object", path, lineno);
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
    int is_start = cJSON_IsString(ev) && !strcmp(ev->valuestring, "start");
    int is_epoch = cJSON_IsString(ev) && !strcmp(ev->valuestring, "epoch");
    niti_status s = NITI_OK;
    if (is_start || is_epoch) s = reader_pick_series(rd, o, is_start);
    if (s == NITI_OK && is_start) {
        series_acc *sr = &rd->s[rd->cur];
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "label");
        if (!sr->label && cJSON_IsString(l) && l->valuestring[0] &&
            !(sr->label = dup_str(l->valuestring)))
            s = niti_fail(NITI_ERR_NOMEM, "%s: label", path);
    } else if (s == NITI_OK && is_epoch) {
        series_acc *sr = &rd->s[rd->cur];
        if (sr->n == sr->cap) {
            int nc = sr->cap ? sr->cap * 2 : 64;
            plot_rec *r = realloc(sr->recs, (size_t)nc * sizeof *r);
            if (!r) s = niti_fail(NITI_ERR_NOMEM, "%s: %d epoch records", path, nc);
            else sr->recs = r, sr->cap = nc;
        }
        if (s == NITI_OK) {
            plot_rec r;
            r.epoch = json_num(o, "epoch");
            if (isnan(r.epoch)) r.epoch = sr->n ? sr->recs[sr->n - 1].epoch + 1 : 1;
            r.acc = json_num(o, "test_acc") * 100.0;
            r.loss = json_num(o, "train_loss");
            r.order = sr->n;
            sr->recs[sr->n++] = r;
        }
    }
    cJSON_Delete(o);
    return s;
}

/* The reader's series with epoch records, as runs (sorted by epoch, one record per epoch). */
static niti_status reader_finish(log_reader *rd, niti_plot_run **out, int *out_n)
{
    int m = 0;
    for (int i = 0; i < rd->n; i++) m += rd->s[i].n > 0;
    if (m == 0) return niti_fail(NITI_ERR_FORMAT, "%s: no epoch records", rd->path);
    niti_plot_run *runs = calloc((size_t)m, sizeof *runs);
    if (!runs) return niti_fail(NITI_ERR_NOMEM, "%s: %d series", rd->path, m);
    int k = 0;
    for (int i = 0; i < rd->n; i++) {
        series_acc *sr = &rd->s[i];
        if (sr->n == 0) continue;
        niti_plot_run *r = &runs[k++];
        /* Of records with the same epoch the last one read wins. */
        qsort(sr->recs, (size_t)sr->n, sizeof *sr->recs, rec_cmp);
        int u = 0;
        for (int j = 0; j < sr->n; j++) {
            if (u && sr->recs[u - 1].epoch == sr->recs[j].epoch) sr->recs[u - 1] = sr->recs[j];
            else sr->recs[u++] = sr->recs[j];
        }
        r->path = dup_str(rd->path);
        r->label = sr->label, sr->label = NULL;
        r->run_id = sr->run_id, sr->run_id = NULL;
        r->series = k, r->n_series = m;
        r->epoch = malloc((size_t)u * sizeof(double));
        r->test_acc = malloc((size_t)u * sizeof(double));
        r->train_loss = malloc((size_t)u * sizeof(double));
        if (!r->path || !r->epoch || !r->test_acc || !r->train_loss) {
            niti_plot_runs_free(runs, m);
            return niti_fail(NITI_ERR_NOMEM, "%s: %d epoch records", rd->path, u);
        }
        for (int j = 0; j < u; j++) {
            r->epoch[j] = sr->recs[j].epoch;
            r->test_acc[j] = sr->recs[j].acc;
            r->train_loss[j] = sr->recs[j].loss;
        }
        r->n = u;
    }
    *out = runs, *out_n = m;
    return NITI_OK;
}

niti_status niti_plot_read_log(const char *path, niti_plot_run **runs, int *n_runs)
{
    if (!path) return niti_fail(NITI_ERR_INVALID, "plot: no log path");
    if (!runs || !n_runs || *n_runs < 0) return niti_fail(NITI_ERR_INVALID, "plot: no run list");
    FILE *f = fopen(path, "rb");
    if (!f) return niti_fail(NITI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    log_reader rd = {path, NULL, 0, 0, -1};
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    niti_status s = NITI_OK;
    errno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        s = read_line(&rd, ++lineno, line, (size_t)len);
        if (s != NITI_OK) break;
        errno = 0;
    }
    if (s == NITI_OK && ferror(f))
        s = niti_fail(NITI_ERR_IO, "%s: read error: %s", path, strerror(errno ? errno : EIO));
    free(line);
    fclose(f);
    niti_plot_run *got = NULL;
    int m = 0;
    if (s == NITI_OK) s = reader_finish(&rd, &got, &m);
    reader_free(&rd);
    if (s != NITI_OK) return s;
    niti_plot_run *all = realloc(*runs, (size_t)(*n_runs + m) * sizeof *all);
    if (!all) {
        niti_plot_runs_free(got, m);
        return niti_fail(NITI_ERR_NOMEM, "%s: %d series", path, m);
    }
    memcpy(all + *n_runs, got, (size_t)m * sizeof *got);
    free(got);
    *runs = all, *n_runs += m;
    return NITI_OK;
}

niti_status niti_plot_format_from_path(const char *path, niti_plot_format *fmt)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    const char *base = slash ? slash + 1 : path;
    const char *dot = base ? strrchr(base, '.') : NULL;
    if (dot && dot != base) {
        char ext[8] = {0};
        size_t n = strlen(dot + 1);
        if (n < sizeof ext) {
            for (size_t i = 0; i < n; i++) {
                char c = dot[1 + i];
                ext[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            }
            if (!strcmp(ext, "svg")) return *fmt = NITI_PLOT_SVG, NITI_OK;
            if (!strcmp(ext, "png")) return *fmt = NITI_PLOT_PNG, NITI_OK;
            if (!strcmp(ext, "pdf")) return *fmt = NITI_PLOT_PDF, NITI_OK;
        }
    }
    return niti_fail(NITI_ERR_INVALID,
                     "%s: unknown output format (the file name must end in .png, .svg or .pdf)",
                     path ? path : "(null)");
}

/* ------------------------------------------------------------------------------------------ */
/* Legend names and text clean-up                                                             */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

static const char *series_base(const niti_plot_run *run, const char *label)
{
    if (label && label[0]) return label;
    if (run->label && run->label[0]) return run->label;
    return base_name(run->path ? run->path : "?");
}

/* " (run S)" for series S >= 2 of a file that holds several, else "". */
static void series_suffix(const niti_plot_run *run, char *buf, size_t n)
{
    if (run->n_series > 1 && run->series > 1) snprintf(buf, n, " (run %d)", run->series);
    else if (n) buf[0] = 0;
}

void niti_plot_series_name(const niti_plot_run *run, const char *label, char *buf, size_t n)
{
    if (!buf || !n) return;
    if (!run) {
        buf[0] = 0;
        return;
    }
    char suffix[32];
    series_suffix(run, suffix, sizeof suffix);
    snprintf(buf, n, "%s%s", series_base(run, label), suffix);
}

/* Bytes in the code point at s (1 for an invalid or truncated sequence, *valid then 0). */
static size_t utf8_len(const unsigned char *s, int *valid)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                                 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && s[0] < 0xC2) || (n == 4 && s[0] > 0xF4)) return *valid = 0, 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return *valid = 0, 1;
    /* overlong 3- and 4-byte forms and UTF-16 surrogates: cairo refuses them */
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
        return *valid = 0, 1;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
        return *valid = 0, 1;
    *valid = 1;
    return n;
}

/* A malloc'ed copy of s that cairo can draw: invalid UTF-8 bytes become '?', control
 * characters ' ' (never longer than s). NULL when out of memory. */
static char *text_clean(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int valid;
        size_t k = utf8_len(p, &valid);
        if (!valid) *o++ = '?';
        else if (k > 1) memcpy(o, p, k), o += k;
        else *o++ = (char)(*p < 0x20 || *p == 0x7f ? ' ' : *p);
        p += k;
    }
    *o = 0;
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Axes                                                                                       */

typedef struct {
    double lo, hi;   /* the visible range */
    double step;     /* between ticks: 1, 2 or 5 times a power of ten */
    int decimals;    /* for tick labels; -1: %g style (very large or small values) */
} axis;

/* The smallest 1, 2 or 5 times a power of ten that is >= x (x > 0). */
static double nice_up(double x)
{
    double m = pow(10.0, floor(log10(x)));
    double f = x / m;
    return (f <= 1.0 + 1e-9 ? 1 : f <= 2.0 + 1e-9 ? 2 : f <= 5.0 + 1e-9 ? 5 : 10) * m;
}

/* Data in [dmin, dmax] on an axis px_len pixels long; ticks at least min_px apart. half: the
 * half-width used when all data is one value; pad: the margin around the data, a fraction of
 * the span, at least min_pad. integer: steps of at least 1. */
static void axis_make(axis *a, double dmin, double dmax, double half, double pad, double min_pad,
                      int integer, double px_len, double min_px)
{
    if (!(dmax > dmin)) dmin -= half, dmax += half;
    double p = (dmax - dmin) * pad;
    if (p < min_pad) p = min_pad;
    a->lo = dmin - p, a->hi = dmax + p;
    double span = a->hi - a->lo;
    double step = nice_up(span / 5);
    if (integer && step < 1) step = 1;
    if (px_len > 0)
        for (int guard = 0; guard < 30 && step * px_len / span < min_px; guard++)
            step = nice_up(step * 1.5);
    a->step = step;
    double mag = fmax(fabs(a->lo), fabs(a->hi));
    if (mag >= 1e6 || step < 1e-4) a->decimals = -1;
    else a->decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

/* Tick k's value: the multiples of step inside [lo, hi]; returns the count. */
static int axis_ticks(const axis *a, double *vals, int max)
{
    double first = ceil(a->lo / a->step - 1e-9);
    int n = 0;
    for (int k = 0; n < max; k++) {
        double v = (first + k) * a->step;
        if (v > a->hi + a->step * 1e-9) break;
        if (fabs(v) < a->step * 1e-9) v = 0; /* no "-0" */
        vals[n++] = v;
    }
    return n;
}

static void axis_label(const axis *a, double v, char *buf, size_t n)
{
    if (a->decimals < 0) snprintf(buf, n, "%.3g", v);
    else snprintf(buf, n, "%.*f", a->decimals, v);
}

/* ------------------------------------------------------------------------------------------ */
/* Drawing                                                                                    */

#define PLOT_PI 3.14159265358979323846
#define MAX_TICKS 64

static const unsigned char PALETTE[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
static const unsigned char INK[3] = {34, 34, 34}, FRAME[3] = {90, 90, 90},
                           GRID[3] = {228, 228, 228}, MUTED[3] = {150, 150, 150};

void niti_plot_series_rgb(int k, unsigned char rgb[3])
{
    k %= 10;
    if (k < 0) k += 10;
    memcpy(rgb, PALETTE[k], 3);
}

static void set_rgb(cairo_t *cr, const unsigned char c[3])
{
    cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
}

/* The figure being drawn: sizes in pixels (PDF: points). */
typedef struct {
    cairo_t *cr;
    int w, h;
    double fs, tfs;       /* body and title font sizes */
    double asc, desc, lh; /* the body font's ascent, descent and line height */
    double cap;           /* the height of a digit in the body font */
    double g, tick;       /* the usual gap; tick length */
    double lw, mr;        /* series line width; marker radius */
    double plot_top, plot_bottom;
    axis x;
} fig;

enum { ANCHOR_START, ANCHOR_MIDDLE, ANCHOR_END };

static void set_font(fig *f, double size, int bold)
{
    cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, size);
}

/* The advance width of s (valid UTF-8) in the current font. */
static double text_w(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Text (valid UTF-8) with its baseline at y; anchor says whether x is its start, middle or end.
 * rotated: turned 90 degrees anticlockwise (reads upwards), x then being the baseline's. */
static void draw_text(fig *f, double x, double y, const char *s, int anchor, int rotated)
{
    double w = anchor == ANCHOR_START ? 0 : text_w(f->cr, s);
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    if (rotated) cairo_rotate(f->cr, -PLOT_PI / 2);
    cairo_move_to(f->cr, anchor == ANCHOR_START ? 0 : anchor == ANCHOR_MIDDLE ? -w / 2 : -w, 0);
    cairo_show_text(f->cr, s);
    cairo_restore(f->cr);
}

/* Bytes in the first k code points of s (valid UTF-8). */
static size_t utf8_prefix(const char *s, size_t k)
{
    size_t i = 0;
    for (size_t c = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && c++ == k) break;
    }
    return i;
}

/* A malloc'ed copy of s, cleaned for cairo, followed by suffix; when that is wider than max_w
 * in the current font, s is cut at a code point and ends in "..." (at least one code point
 * stays), the suffix is kept. NULL when out of memory. */
static char *text_fit(cairo_t *cr, const char *s, const char *suffix, double max_w)
{
    char *c = text_clean(s);
    if (!c) return NULL;
    size_t cl = strlen(c), sl = strlen(suffix);
    char *out = malloc(cl + 3 + sl + 1);
    if (!out) {
        free(c);
        return NULL;
    }
    memcpy(out, c, cl);
    memcpy(out + cl, suffix, sl + 1);
    if (text_w(cr, out) > max_w) {
        size_t ncp = 0;
        for (const char *p = c; *p; p++) ncp += ((unsigned char)*p & 0xC0) != 0x80;
        /* The longest prefix of k code points that fits with "..." and the suffix. */
        size_t lo = 1, hi = ncp > 1 ? ncp - 1 : 1;
        while (lo < hi) {
            size_t mid = (lo + hi + 1) / 2, b = utf8_prefix(c, mid);
            memcpy(out, c, b);
            memcpy(out + b, "...", 3);
            memcpy(out + b + 3, suffix, sl + 1);
            if (text_w(cr, out) <= max_w) lo = mid;
            else hi = mid - 1;
        }
        size_t b = utf8_prefix(c, lo);
        memcpy(out, c, b);
        memcpy(out + b, "...", 3);
        memcpy(out + b + 3, suffix, sl + 1);
    }
    free(c);
    return out;
}

/* Point markers at every stride-th point and the last: discs (shape 0) or squares, with a
 * white rim so that overlapping ones stay apart. */
static void draw_markers(cairo_t *cr, const double *xs, const double *ys, int m, int stride,
                         double r, int shape, const unsigned char col[3])
{
    for (int pass = 0; pass < 2; pass++) {
        double rr = pass ? r : r + 1;
        cairo_new_path(cr);
        for (int i = 0; i < m; i++) {
            if (i % stride && i != m - 1) continue;
            if (shape == 0) {
                cairo_new_sub_path(cr);
                cairo_arc(cr, xs[i], ys[i], rr, 0, 2 * PLOT_PI);
            } else {
                cairo_rectangle(cr, xs[i] - rr, ys[i] - rr, 2 * rr, 2 * rr);
            }
        }
        if (pass) set_rgb(cr, col);
        else cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_fill(cr);
    }
}

static double series_value(const niti_plot_run *r, int panel, int i)
{
    return panel == 0 ? r->test_acc[i] : r->train_loss[i];
}

/* One panel: frame, grid, ticks, labels, titles and the runs' lines (panel 0 accuracy, 1 loss).
 * xs, ys: room for the longest run's points. */
static niti_status draw_panel(fig *f, int panel, const niti_plot_run *runs, int n_runs,
                              double *xs, double *ys)
{
    cairo_t *cr = f->cr;
    const double g = f->g, tl = f->tick;
    double pw = f->w / 2.0, px0 = panel * pw;
    double top = f->plot_top, bottom = f->plot_bottom, ph = bottom - top;

    /* The value range over all runs. */
    double vmin = INFINITY, vmax = -INFINITY;
    for (int k = 0; k < n_runs; k++)
        for (int i = 0; i < runs[k].n; i++) {
            double v = series_value(&runs[k], panel, i);
            if (isfinite(v)) vmin = fmin(vmin, v), vmax = fmax(vmax, v);
        }
    int empty = !(vmin <= vmax);
    if (empty) vmin = 0, vmax = panel == 0 ? 100 : 1;
    axis y;
    double half = panel == 0 ? 1.0 : fmax(fabs(vmin) * 0.1, 0.01);
    axis_make(&y, vmin, vmax, half, 0.06, 0, 0, ph, 2.2 * f->lh);

    set_font(f, f->fs, 0);
    double yt[MAX_TICKS];
    int nyt = axis_ticks(&y, yt, MAX_TICKS);
    char buf[64];
    double maxw = 0;
    for (int i = 0; i < nyt; i++) {
        axis_label(&y, yt[i], buf, sizeof buf);
        maxw = fmax(maxw, text_w(cr, buf));
    }
    double ytitle_x = px0 + g + f->asc; /* baseline of the rotated axis title */
    double left = round(ytitle_x + f->desc + g + maxw + g / 2 + tl);
    double right = round(px0 + pw - 2 * g);
    if (right - left < 40) return niti_fail(NITI_ERR_INVALID, "plot: the figure is too small");
    double wpx = right - left;

    /* The epoch range is shared; only the step depends on this panel's width. */
    axis x = f->x;
    {
        char lo[64], hi[64];
        snprintf(lo, sizeof lo, "%.0f", floor(x.lo));
        snprintf(hi, sizeof hi, "%.0f", ceil(x.hi));
        double lw = fmax(text_w(cr, lo), text_w(cr, hi)), span = x.hi - x.lo;
        x.step = nice_up(fmax(span / 6, 1));
        for (int guard = 0; guard < 30 && x.step * wpx / span < lw + 2 * g; guard++)
            x.step = nice_up(x.step * 1.5);
        x.decimals = 0;
    }
    double xt[MAX_TICKS];
    int nxt = axis_ticks(&x, xt, MAX_TICKS);

#define MAPX(v) (left + ((v) - x.lo) / (x.hi - x.lo) * wpx)
#define MAPY(v) (bottom - ((v) - y.lo) / (y.hi - y.lo) * ph)
#define CRISP(v) (floor(v) + 0.5) /* the middle of a pixel, for sharp 1-pixel lines */

    /* Grid, frame, ticks. */
    cairo_set_line_width(cr, 1);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_new_path(cr);
    for (int i = 0; i < nyt; i++) {
        double py = CRISP(MAPY(yt[i]));
        if (py <= top + 1 || py >= bottom - 1) continue;
        cairo_move_to(cr, left + 1, py);
        cairo_line_to(cr, right - 1, py);
    }
    for (int i = 0; i < nxt; i++) {
        double px = CRISP(MAPX(xt[i]));
        if (px <= left + 1 || px >= right - 1) continue;
        cairo_move_to(cr, px, top + 1);
        cairo_line_to(cr, px, bottom - 1);
    }
    set_rgb(cr, GRID);
    cairo_stroke(cr);
    cairo_rectangle(cr, left + 0.5, top + 0.5, wpx - 1, ph - 1);
    for (int i = 0; i < nyt; i++) {
        double py = CRISP(MAPY(yt[i]));
        cairo_move_to(cr, left - tl, py);
        cairo_line_to(cr, left, py);
    }
    for (int i = 0; i < nxt; i++) {
        double px = CRISP(MAPX(xt[i]));
        cairo_move_to(cr, px, bottom);
        cairo_line_to(cr, px, bottom + tl);
    }
    set_rgb(cr, FRAME);
    cairo_stroke(cr);

    /* Tick labels and titles. */
    set_rgb(cr, INK);
    for (int i = 0; i < nyt; i++) {
        axis_label(&y, yt[i], buf, sizeof buf);
        draw_text(f, left - tl - g / 2, CRISP(MAPY(yt[i])) + f->cap / 2, buf, ANCHOR_END, 0);
    }
    double xlab_base = bottom + tl + g / 2 + f->cap;
    for (int i = 0; i < nxt; i++) {
        axis_label(&x, xt[i], buf, sizeof buf);
        draw_text(f, CRISP(MAPX(xt[i])), xlab_base, buf, ANCHOR_MIDDLE, 0);
    }
    draw_text(f, (left + right) / 2, xlab_base + g / 2 + f->asc, "epoch", ANCHOR_MIDDLE, 0);
    draw_text(f, ytitle_x, (top + bottom) / 2, panel == 0 ? "accuracy (%)" : "loss",
              ANCHOR_MIDDLE, 1);
    set_font(f, f->fs, 1);
    draw_text(f, (left + right) / 2, top - g / 2 - f->desc,
              panel == 0 ? "test accuracy (%)" : "training loss", ANCHOR_MIDDLE, 0);
    set_font(f, f->fs, 0);

    if (empty) {
        set_rgb(cr, MUTED);
        draw_text(f, (left + right) / 2, (top + bottom) / 2,
                  panel == 0 ? "no test accuracy in the logs" : "no training loss in the logs",
                  ANCHOR_MIDDLE, 0);
        return NITI_OK;
    }

    /* The runs, clipped to the plot area, in order (the first run drawn first): one stroked
     * path per run, then its markers. */
    cairo_save(cr);
    cairo_rectangle(cr, left + 1, top + 1, wpx - 2, ph - 2);
    cairo_clip(cr);
    cairo_set_line_width(cr, f->lw);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (int k = 0; k < n_runs; k++) {
        const niti_plot_run *r = &runs[k];
        int m = 0;
        for (int i = 0; i < r->n; i++) {
            double v = series_value(r, panel, i);
            if (!isfinite(v)) continue;
            xs[m] = MAPX(r->epoch[i]);
            ys[m] = MAPY(v);
            m++;
        }
        if (m == 0) continue;
        if (m > 1) {
            cairo_new_path(cr);
            cairo_move_to(cr, xs[0], ys[0]);
            for (int i = 1; i < m; i++) cairo_line_to(cr, xs[i], ys[i]);
            set_rgb(cr, PALETTE[k % 10]);
            cairo_stroke(cr);
        }
        /* Dense series: a marker on every stride-th point only, so that they stay apart. */
        int stride = 1;
        if (m > 1) {
            double spacing = fabs(xs[m - 1] - xs[0]) / (m - 1);
            while (stride < m && spacing * stride < 5 * f->mr) stride++;
        }
        draw_markers(cr, xs, ys, m, stride, f->mr, (k / 10) % 2, PALETTE[k % 10]);
    }
    cairo_restore(cr);
#undef MAPX
#undef MAPY
#undef CRISP
    return NITI_OK;
}

/* The whole figure on cr (W x H). */
static niti_status draw_figure(cairo_t *cr, int W, int H, const niti_plot_run *runs, int n_runs,
                               const char *const *labels, const char *title)
{
    fig F;
    memset(&F, 0, sizeof F);
    F.cr = cr, F.w = W, F.h = H;
    /* 13 px text at the default 1200 x 500, scaled with the figure, 9 to 40 px. */
    F.fs = fmin(fmax(13 * fmin(W / 1200.0, H / 500.0), 9), 40);
    F.tfs = 1.25 * F.fs;
    F.g = round(0.6 * F.fs);
    F.tick = round(0.4 * F.fs);
    F.lw = fmax(1.5, 2.5 * F.fs / 13);
    F.mr = fmax(2.5, 3.5 * F.fs / 13);

    /* The same glyph advances in every format, whatever the rasteriser hints. */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);

    set_font(&F, F.fs, 0);
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    F.asc = fe.ascent, F.desc = fe.descent, F.lh = fe.height;
    cairo_text_extents_t te;
    cairo_text_extents(cr, "0", &te);
    F.cap = te.height;

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    int max_n = 0;
    double xmin = INFINITY, xmax = -INFINITY;
    for (int k = 0; k < n_runs; k++) {
        if (runs[k].n > max_n) max_n = runs[k].n;
        for (int i = 0; i < runs[k].n; i++)
            if (isfinite(runs[k].epoch[i]))
                xmin = fmin(xmin, runs[k].epoch[i]), xmax = fmax(xmax, runs[k].epoch[i]);
    }
    if (!(xmin <= xmax)) xmin = xmax = 1;
    axis_make(&F.x, xmin, xmax, 1.0, 0.04, 0.3, 1, 0, 0);

    niti_status s = NITI_OK;
    double *xs = malloc((size_t)max_n * sizeof *xs), *ys = malloc((size_t)max_n * sizeof *ys);
    char **names = calloc((size_t)n_runs, sizeof *names);
    int *row_of = malloc((size_t)n_runs * sizeof *row_of);
    double *row_w = malloc((size_t)n_runs * sizeof *row_w);
    if (!xs || !ys || !names || !row_of || !row_w) {
        s = niti_fail(NITI_ERR_NOMEM, "plot: buffers");
        goto done;
    }

    /* Title. */
    double top = F.g;
    if (title && title[0]) {
        set_font(&F, F.tfs, 1);
        cairo_font_extents_t tfe;
        cairo_font_extents(cr, &tfe);
        char *t = text_fit(cr, title, "", W - 4 * F.g);
        if (!t) {
            s = niti_fail(NITI_ERR_NOMEM, "plot: title");
            goto done;
        }
        set_rgb(cr, INK);
        draw_text(&F, W / 2.0, top + tfe.ascent, t, ANCHOR_MIDDLE, 0);
        free(t);
        top += tfe.height + F.g / 2;
        set_font(&F, F.fs, 0);
    }
    F.plot_top = round(top + F.lh + F.g / 2);

    /* Legend: entries left to right, wrapped into centred rows at the bottom. */
    const double sw = 2 * F.fs, sgap = 0.5 * F.fs, egap = 1.5 * F.fs, avail = W - 4 * F.g;
    int rows = 0;
    double x_in_row = 0;
    for (int k = 0; k < n_runs; k++) {
        char suffix[32];
        series_suffix(&runs[k], suffix, sizeof suffix);
        names[k] = text_fit(cr, series_base(&runs[k], labels ? labels[k] : NULL), suffix,
                            avail - sw - sgap);
        if (!names[k]) {
            s = niti_fail(NITI_ERR_NOMEM, "plot: legend");
            goto done;
        }
        double ew = sw + sgap + text_w(cr, names[k]);
        if (rows == 0 || x_in_row + egap + ew > avail) {
            row_w[rows++] = ew;
            x_in_row = ew;
        } else {
            x_in_row += egap + ew;
            row_w[rows - 1] = x_in_row;
        }
        row_of[k] = rows - 1;
    }
    const double row_h = F.lh + F.g / 4;
    double legend_top = H - F.g - rows * row_h;
    F.plot_bottom = round(legend_top - F.g - F.lh - F.g - F.cap - F.tick);
    if (F.plot_bottom - F.plot_top < 60) {
        s = niti_fail(NITI_ERR_INVALID, "plot: %d runs do not fit in a %dx%d figure", n_runs, W,
                      H);
        goto done;
    }
    cairo_set_line_width(cr, F.lw);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    double x = 0;
    for (int k = 0, row = -1; k < n_runs; k++) {
        if (row_of[k] != row) row = row_of[k], x = round((W - row_w[row]) / 2);
        double base = legend_top + row * row_h + F.asc, mid = base - F.cap / 2;
        set_rgb(cr, PALETTE[k % 10]);
        cairo_move_to(cr, x, mid);
        cairo_line_to(cr, x + sw, mid);
        cairo_stroke(cr);
        double mx = x + sw / 2;
        draw_markers(cr, &mx, &mid, 1, 1, F.mr, (k / 10) % 2, PALETTE[k % 10]);
        set_rgb(cr, INK);
        draw_text(&F, x + sw + sgap, base, names[k], ANCHOR_START, 0);
        x += sw + sgap + text_w(cr, names[k]) + egap;
    }

    for (int panel = 0; panel < 2 && s == NITI_OK; panel++)
        s = draw_panel(&F, panel, runs, n_runs, xs, ys);
done:
    for (int k = 0; names && k < n_runs; k++) free(names[k]);
    free(names);
    free(xs), free(ys), free(row_of), free(row_w);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Output                                                                                     */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int oom;
} obuf;

static cairo_status_t obuf_write(void *closure, const unsigned char *data, unsigned int length)
{
    obuf *b = closure;
    if (b->oom) return CAIRO_STATUS_WRITE_ERROR;
    if (b->cap - b->len < length) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc - b->len < length) nc *= 2;
        unsigned char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        b->p = p, b->cap = nc;
    }
    memcpy(b->p + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static niti_status cairo_failed(cairo_status_t cs, const char *what)
{
    niti_status s = cs == CAIRO_STATUS_NO_MEMORY  ? NITI_ERR_NOMEM
                    : cs == CAIRO_STATUS_WRITE_ERROR ? NITI_ERR_IO
                                                     : NITI_ERR_UNSUPPORTED;
    return niti_fail(s, "plot: cairo: %s: %s", what, cairo_status_to_string(cs));
}

niti_status niti_plot_render(const niti_plot_run *runs, int n_runs, const char *const *labels,
                             const niti_plot_opts *opts, niti_plot_format fmt,
                             unsigned char **out, size_t *out_len)
{
    if (!runs || n_runs < 1 || !out || !out_len ||
        (fmt != NITI_PLOT_SVG && fmt != NITI_PLOT_PNG && fmt != NITI_PLOT_PDF))
        return niti_fail(NITI_ERR_INVALID, "plot: nothing to render");
    *out = NULL, *out_len = 0;
    int W = opts && opts->width > 0 ? opts->width : 1200;
    int H = opts && opts->height > 0 ? opts->height : 500;
    if (W < 400 || H < 250 || W > 8000 || H > 8000)
        return niti_fail(NITI_ERR_INVALID,
                         "plot: size %dx%d is out of range (400x250 to 8000x8000)", W, H);
    for (int k = 0; k < n_runs; k++)
        if (runs[k].n < 1 || !runs[k].epoch || !runs[k].test_acc || !runs[k].train_loss)
            return niti_fail(NITI_ERR_INVALID, "%s: no epoch records",
                             runs[k].path ? runs[k].path : "plot");
    const char *title = opts && opts->title && opts->title[0] ? opts->title : NULL;

    obuf ob = {NULL, 0, 0, 0};
    cairo_surface_t *sf;
    if (fmt == NITI_PLOT_PNG) {
        sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    } else if (fmt == NITI_PLOT_SVG) {
        sf = cairo_svg_surface_create_for_stream(obuf_write, &ob, W, H);
        cairo_svg_surface_set_document_unit(sf, CAIRO_SVG_UNIT_PX);
    } else {
        sf = cairo_pdf_surface_create_for_stream(obuf_write, &ob, W, H);
        cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATOR, "niti plot");
        if (title) {
            char *t = text_clean(title);
            if (t) cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_TITLE, t);
            free(t);
        }
    }
    niti_status s = NITI_OK;
    cairo_status_t cs = cairo_surface_status(sf);
    if (cs != CAIRO_STATUS_SUCCESS) s = cairo_failed(cs, "surface");
    if (s == NITI_OK) {
        cairo_t *cr = cairo_create(sf);
        s = draw_figure(cr, W, H, runs, n_runs, labels, title);
        cs = cairo_status(cr);
        if (s == NITI_OK && cs != CAIRO_STATUS_SUCCESS) s = cairo_failed(cs, "drawing");
        cairo_destroy(cr);
    }
    if (fmt == NITI_PLOT_PNG) {
        if (s == NITI_OK) {
            cs = cairo_surface_write_to_png_stream(sf, obuf_write, &ob);
            if (cs != CAIRO_STATUS_SUCCESS && !ob.oom) s = cairo_failed(cs, "PNG");
        }
    } else {
        cairo_surface_finish(sf); /* writes the document */
        cs = cairo_surface_status(sf);
        if (s == NITI_OK && cs != CAIRO_STATUS_SUCCESS && !ob.oom)
            s = cairo_failed(cs, fmt == NITI_PLOT_SVG ? "SVG" : "PDF");
    }
    cairo_surface_destroy(sf);
    if (s == NITI_OK && ob.oom) s = niti_fail(NITI_ERR_NOMEM, "plot: %zu bytes of output", ob.len);
    if (s != NITI_OK) {
        free(ob.p);
        return s;
    }
    *out = ob.p, *out_len = ob.len;
    return NITI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Atomic write                                                                               */

niti_status niti_plot_write_file(const char *path, const unsigned char *buf, size_t len)
{
    if (!path || !*path) return niti_fail(NITI_ERR_INVALID, "plot: no output path");
    return niti_write_file_atomic(path, buf, len);
}
