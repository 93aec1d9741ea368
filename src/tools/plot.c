/* Training-log plots: JSON Lines reader, figure layout, SVG writer, and a small rasteriser with a
 * built-in bitmap font and PNG encoder (zlib). See plot.h. */
#include "tools/plot.h"
#include "io/fileio.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

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
    free(run->epoch);
    free(run->test_acc);
    free(run->train_loss);
    memset(run, 0, sizeof *run);
}

/* One line: NITI_OK (record appended or line ignored) or a failure naming path:lineno. */
static niti_status read_line(const char *path, long lineno, const char *line, size_t len,
                             niti_plot_run *run, plot_rec **recs, int *n, int *cap)
{
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
    niti_status s = NITI_OK;
    const cJSON *ev = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "event") : NULL;
    if (!cJSON_IsObject(o)) {
        s = niti_fail(NITI_ERR_FORMAT, "%s:%ld: not a JSON object", path, lineno);
    } else if (cJSON_IsString(ev) && !strcmp(ev->valuestring, "start")) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "label");
        if (!run->label && cJSON_IsString(l) && l->valuestring[0]) {
            run->label = dup_str(l->valuestring);
            if (!run->label) s = niti_fail(NITI_ERR_NOMEM, "%s: label", path);
        }
    } else if (cJSON_IsString(ev) && !strcmp(ev->valuestring, "epoch")) {
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 64;
            plot_rec *r = realloc(*recs, (size_t)nc * sizeof *r);
            if (!r) {
                cJSON_Delete(o);
                return niti_fail(NITI_ERR_NOMEM, "%s: %d epoch records", path, nc);
            }
            *recs = r, *cap = nc;
        }
        plot_rec r;
        r.epoch = json_num(o, "epoch");
        if (isnan(r.epoch)) r.epoch = *n ? (*recs)[*n - 1].epoch + 1 : 1;
        r.acc = json_num(o, "test_acc") * 100.0;
        r.loss = json_num(o, "train_loss");
        r.order = *n;
        (*recs)[(*n)++] = r;
    }
    cJSON_Delete(o);
    return s;
}

niti_status niti_plot_read_log(const char *path, niti_plot_run *run)
{
    memset(run, 0, sizeof *run);
    if (!path) return niti_fail(NITI_ERR_INVALID, "plot: no log path");
    FILE *f = fopen(path, "rb");
    if (!f) return niti_fail(NITI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    run->path = dup_str(path);
    if (!run->path) {
        fclose(f);
        return niti_fail(NITI_ERR_NOMEM, "%s: path", path);
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    plot_rec *recs = NULL;
    int n = 0, cap = 0;
    niti_status s = NITI_OK;
    errno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        s = read_line(path, ++lineno, line, (size_t)len, run, &recs, &n, &cap);
        if (s != NITI_OK) break;
        errno = 0;
    }
    if (s == NITI_OK && ferror(f))
        s = niti_fail(NITI_ERR_IO, "%s: read error: %s", path, strerror(errno ? errno : EIO));
    free(line);
    fclose(f);
    if (s == NITI_OK && n == 0) s = niti_fail(NITI_ERR_FORMAT, "%s: no epoch records", path);
    if (s == NITI_OK) {
        /* Sorted by epoch; of records with the same epoch the last one read wins. */
        qsort(recs, (size_t)n, sizeof *recs, rec_cmp);
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (m && recs[m - 1].epoch == recs[i].epoch) recs[m - 1] = recs[i];
            else recs[m++] = recs[i];
        }
        run->epoch = malloc((size_t)m * sizeof(double));
        run->test_acc = malloc((size_t)m * sizeof(double));
        run->train_loss = malloc((size_t)m * sizeof(double));
        if (!run->epoch || !run->test_acc || !run->train_loss) {
            s = niti_fail(NITI_ERR_NOMEM, "%s: %d epoch records", path, m);
        } else {
            for (int i = 0; i < m; i++) {
                run->epoch[i] = recs[i].epoch;
                run->test_acc[i] = recs[i].acc;
                run->train_loss[i] = recs[i].loss;
            }
            run->n = m;
        }
    }
    free(recs);
    if (s != NITI_OK) niti_plot_run_free(run);
    return s;
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
        }
    }
    return niti_fail(NITI_ERR_INVALID,
                     "%s: unknown output format (the file name must end in .svg or .png)",
                     path ? path : "(null)");
}

/* ------------------------------------------------------------------------------------------ */
/* Text helpers: UTF-8 code points, truncation, XML escaping                                  */

/* Bytes in the code point at s (1 for an invalid or truncated sequence). */
static size_t utf8_len(const unsigned char *s, int *valid)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
                                 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && s[0] < 0xC2) || (n == 4 && s[0] > 0xF4)) return *valid = 0, 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return *valid = 0, 1;
    *valid = 1;
    return n;
}

static int text_chars(const char *s)
{
    int c = 0, v;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += utf8_len(p, &v)) c++;
    return c;
}

/* Copies s into out (size n), cut to at most max_chars code points with "..." at the end. */
static void text_fit(const char *s, int max_chars, char *out, size_t n)
{
    if (max_chars < 4) max_chars = 4;
    if (max_chars > 100) max_chars = 100; /* at most 400 bytes: callers' buffers hold 512 */
    if (text_chars(s) <= max_chars) {
        snprintf(out, n, "%s", s);
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    int v;
    for (int c = 0; c < max_chars - 3 && *p; c++) p += utf8_len(p, &v);
    size_t keep = (size_t)(p - (const unsigned char *)s);
    if (keep + 4 > n) keep = n > 4 ? n - 4 : 0;
    memcpy(out, s, keep);
    memcpy(out + keep, "...", 4);
}

/* ------------------------------------------------------------------------------------------ */
/* Canvas: the same drawing calls write SVG elements or paint an RGB raster                   */

typedef struct {
    unsigned char r, g, b;
} rgb;

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) NITI_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 16384;
        while (nc - b->len <= (size_t)n) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = nc;
    }
}

enum { ANCHOR_START, ANCHOR_MIDDLE, ANCHOR_END };

typedef struct {
    niti_plot_format fmt;
    int w, h;
    sbuf svg;
    unsigned char *px; /* w * h * 3, row-major RGB */
    int clip, clip_id;
    int cx0, cy0, cx1, cy1; /* raster clip: pixels with cx0 <= x < cx1, cy0 <= y < cy1 */
} canvas;

static void svg_color(char out[8], rgb c) { snprintf(out, 8, "#%02x%02x%02x", c.r, c.g, c.b); }

static void px_blend(canvas *c, int x, int y, rgb col, double a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || !(a > 0)) return;
    if (c->clip && (x < c->cx0 || x >= c->cx1 || y < c->cy0 || y >= c->cy1)) return;
    if (a > 1) a = 1;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = (unsigned char)(p[0] * (1 - a) + col.r * a + 0.5);
    p[1] = (unsigned char)(p[1] * (1 - a) + col.g * a + 0.5);
    p[2] = (unsigned char)(p[2] * (1 - a) + col.b * a + 0.5);
}

/* A filled axis-aligned rectangle on whole pixels. */
static void cv_rect(canvas *c, int x, int y, int w, int h, rgb col)
{
    if (w <= 0 || h <= 0) return;
    if (c->fmt == NITI_PLOT_SVG) {
        char cs[8];
        svg_color(cs, col);
        sb_printf(&c->svg, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", x,
                  y, w, h, cs);
        return;
    }
    for (int j = y; j < y + h; j++)
        for (int i = x; i < x + w; i++) px_blend(c, i, j, col, 1.0);
}

static void cv_clip(canvas *c, int x, int y, int w, int h)
{
    if (c->fmt == NITI_PLOT_SVG) {
        c->clip_id++;
        sb_printf(&c->svg,
                  "<clipPath id=\"clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>"
                  "</clipPath>\n<g clip-path=\"url(#clip%d)\">\n",
                  c->clip_id, x, y, w, h, c->clip_id);
    }
    c->clip = 1;
    c->cx0 = x, c->cy0 = y, c->cx1 = x + w, c->cy1 = y + h;
}

static void cv_unclip(canvas *c)
{
    if (c->fmt == NITI_PLOT_SVG) sb_printf(&c->svg, "</g>\n");
    c->clip = 0;
}

/* Anti-aliased thick segment: coverage from each pixel centre's distance to the segment. */
static void px_segment(canvas *c, double x0, double y0, double x1, double y1, double hw, rgb col)
{
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    int ix0 = (int)floor(fmin(x0, x1) - hw - 1), ix1 = (int)ceil(fmax(x0, x1) + hw + 1);
    int iy0 = (int)floor(fmin(y0, y1) - hw - 1), iy1 = (int)ceil(fmax(y0, y1) + hw + 1);
    if (ix0 < 0) ix0 = 0;
    if (iy0 < 0) iy0 = 0;
    if (ix1 > c->w) ix1 = c->w;
    if (iy1 > c->h) iy1 = c->h;
    for (int y = iy0; y < iy1; y++)
        for (int x = ix0; x < ix1; x++) {
            double px = x + 0.5, py = y + 0.5;
            double t = l2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / l2 : 0;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double d = hypot(px - (x0 + t * dx), py - (y0 + t * dy));
            px_blend(c, x, y, col, hw + 0.5 - d);
        }
}

static void cv_polyline(canvas *c, const double *xs, const double *ys, int n, rgb col,
                        double width)
{
    if (n < 2) return;
    if (c->fmt == NITI_PLOT_SVG) {
        char cs[8];
        svg_color(cs, col);
        sb_printf(&c->svg, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
                           "stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"",
                  cs, width);
        for (int i = 0; i < n; i++) sb_printf(&c->svg, "%s%.2f,%.2f", i ? " " : "", xs[i], ys[i]);
        sb_printf(&c->svg, "\"/>\n");
        return;
    }
    for (int i = 0; i + 1 < n; i++)
        px_segment(c, xs[i], ys[i], xs[i + 1], ys[i + 1], width / 2, col);
}

/* A point marker of radius r: shape 0 a disc, 1 a square; white rim so overlaps stay apart. */
static void cv_marker(canvas *c, double x, double y, double r, int shape, rgb col)
{
    const rgb white = {255, 255, 255};
    if (c->fmt == NITI_PLOT_SVG) {
        char cs[8];
        svg_color(cs, col);
        if (shape == 0)
            sb_printf(&c->svg, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\" "
                               "stroke=\"#ffffff\" stroke-width=\"1\"/>\n", x, y, r, cs);
        else
            sb_printf(&c->svg, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                               "fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n",
                      x - r, y - r, 2 * r, 2 * r, cs);
        return;
    }
    /* The rim first (one pixel wider), then the fill. */
    for (int pass = 0; pass < 2; pass++) {
        double rr = pass ? r : r + 1;
        rgb k = pass ? col : white;
        int iy0 = (int)floor(y - rr - 1), iy1 = (int)ceil(y + rr + 1);
        int ix0 = (int)floor(x - rr - 1), ix1 = (int)ceil(x + rr + 1);
        for (int py = iy0; py <= iy1; py++)
            for (int px = ix0; px <= ix1; px++) {
                double ddx = fabs(px + 0.5 - x), ddy = fabs(py + 0.5 - y);
                double cov = shape == 0 ? rr + 0.5 - hypot(ddx, ddy)
                                        : fmin(rr + 0.5 - ddx, rr + 0.5 - ddy);
                px_blend(c, px, py, k, cov);
            }
    }
}

/* A 5x9 bitmap font for printable ASCII (32..126), drawn for this file: rows 0..6 hold capitals
 * and digits (the baseline is under row 6), rows 7..8 the descenders. '#' is ink. A NULL row is
 * blank. */
static const char *const font5x9[95][9] = {
    /* ' ' */ {NULL},
    /* '!' */ {"..#..", "..#..", "..#..", "..#..", "..#..", ".....", "..#.."},
    /* '"' */ {".#.#.", ".#.#."},
    /* '#' */ {".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."},
    /* '$' */ {"..#..", ".####", "#.#..", ".###.", "..#.#", "####.", "..#.."},
    /* '%' */ {"##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"},
    /* '&' */ {".##..", "#..#.", "#.#..", ".#...", "#.#.#", "#..#.", ".##.#"},
    /* ''' */ {"..#..", "..#.."},
    /* '(' */ {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
    /* ')' */ {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
    /* '*' */ {".....", "..#..", "#.#.#", ".###.", "#.#.#", "..#..", "....."},
    /* '+' */ {".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."},
    /* ',' */ {".....", ".....", ".....", ".....", ".....", ".##..", ".##..", "..#..", ".#..."},
    /* '-' */ {".....", ".....", ".....", "#####"},
    /* '.' */ {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
    /* '/' */ {"....#", "...#.", "...#.", "..#..", ".#...", ".#...", "#...."},
    /* '0' */ {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."},
    /* '1' */ {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."},
    /* '2' */ {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"},
    /* '3' */ {"#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."},
    /* '4' */ {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."},
    /* '5' */ {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."},
    /* '6' */ {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."},
    /* '7' */ {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."},
    /* '8' */ {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."},
    /* '9' */ {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."},
    /* ':' */ {".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."},
    /* ';' */ {".....", ".##..", ".##..", ".....", ".##..", ".##..", "..#..", ".#..."},
    /* '<' */ {"...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."},
    /* '=' */ {".....", ".....", "#####", ".....", "#####", ".....", "....."},
    /* '>' */ {".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."},
    /* '?' */ {".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."},
    /* '@' */ {".###.", "#...#", "....#", ".##.#", "#.#.#", "#.#.#", ".###."},
    /* 'A' */ {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
    /* 'B' */ {"####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."},
    /* 'C' */ {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
    /* 'D' */ {"###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."},
    /* 'E' */ {"#####", "#....", "#....", "####.", "#....", "#....", "#####"},
    /* 'F' */ {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
    /* 'G' */ {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
    /* 'H' */ {"#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
    /* 'I' */ {".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
    /* 'J' */ {"..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
    /* 'K' */ {"#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"},
    /* 'L' */ {"#....", "#....", "#....", "#....", "#....", "#....", "#####"},
    /* 'M' */ {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
    /* 'N' */ {"#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"},
    /* 'O' */ {".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
    /* 'P' */ {"####.", "#...#", "#...#", "####.", "#....", "#....", "#...."},
    /* 'Q' */ {".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"},
    /* 'R' */ {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
    /* 'S' */ {".####", "#....", "#....", ".###.", "....#", "....#", "####."},
    /* 'T' */ {"#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
    /* 'U' */ {"#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."},
    /* 'V' */ {"#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
    /* 'W' */ {"#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."},
    /* 'X' */ {"#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"},
    /* 'Y' */ {"#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."},
    /* 'Z' */ {"#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"},
    /* '[' */ {".###.", ".#...", ".#...", ".#...", ".#...", ".#...", ".###."},
    /* '\' */ {"#....", ".#...", ".#...", "..#..", "...#.", "...#.", "....#"},
    /* ']' */ {".###.", "...#.", "...#.", "...#.", "...#.", "...#.", ".###."},
    /* '^' */ {"..#..", ".#.#.", "#...#"},
    /* '_' */ {".....", ".....", ".....", ".....", ".....", ".....", ".....", "#####"},
    /* '`' */ {".#...", "..#.."},
    /* 'a' */ {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"},
    /* 'b' */ {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "####."},
    /* 'c' */ {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."},
    /* 'd' */ {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"},
    /* 'e' */ {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."},
    /* 'f' */ {"..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."},
    /* 'g' */ {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."},
    /* 'h' */ {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"},
    /* 'i' */ {"..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."},
    /* 'j' */ {"...#.", ".....", "..##.", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."},
    /* 'k' */ {"#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."},
    /* 'l' */ {".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."},
    /* 'm' */ {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#"},
    /* 'n' */ {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"},
    /* 'o' */ {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."},
    /* 'p' */ {".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."},
    /* 'q' */ {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"},
    /* 'r' */ {".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."},
    /* 's' */ {".....", ".....", ".####", "#....", ".###.", "....#", "####."},
    /* 't' */ {".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."},
    /* 'u' */ {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"},
    /* 'v' */ {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."},
    /* 'w' */ {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."},
    /* 'x' */ {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"},
    /* 'y' */ {".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."},
    /* 'z' */ {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"},
    /* '{' */ {"...#.", "..#..", "..#..", ".#...", "..#..", "..#..", "...#."},
    /* '|' */ {"..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."},
    /* '}' */ {".#...", "..#..", "..#..", "...#.", "..#..", "..#..", ".#..."},
    /* '~' */ {".....", ".....", ".#...", "#.#.#", "...#."},
};

/* Width in pixels of s at font scale fs: 6 * fs per character (5 columns and a gap). */
static int text_width(const char *s, int fs)
{
    int n = text_chars(s);
    return n ? n * 6 * fs - fs : 0;
}

static void svg_escaped(sbuf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int valid;
        size_t n = utf8_len(p, &valid);
        if (!valid) sb_printf(b, "?");
        else if (n > 1) sb_printf(b, "%.*s", (int)n, (const char *)p);
        else if (*p < 0x20 || *p == 0x7f) sb_printf(b, " ");
        else if (*p == '&') sb_printf(b, "&amp;");
        else if (*p == '<') sb_printf(b, "&lt;");
        else if (*p == '>') sb_printf(b, "&gt;");
        else if (*p == '"') sb_printf(b, "&quot;");
        else sb_printf(b, "%c", *p);
        p += n;
    }
}

/* Text with its baseline at y; anchor says whether x is its start, middle or end. rotated: turned
 * 90 degrees anticlockwise (reads upwards), x then being the baseline's position. */
static void cv_text(canvas *c, double x, double y, const char *s, int fs, rgb col, int anchor,
                    int rotated, int bold)
{
    if (c->fmt == NITI_PLOT_SVG) {
        static const char *const anchors[] = {"start", "middle", "end"};
        char cs[8];
        svg_color(cs, col);
        sb_printf(&c->svg, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" fill=\"%s\" "
                           "text-anchor=\"%s\"%s", x, y, 7.0 * fs / 0.72, cs, anchors[anchor],
                  bold ? " font-weight=\"bold\"" : "");
        if (rotated) sb_printf(&c->svg, " transform=\"rotate(-90 %.1f %.1f)\"", x, y);
        sb_printf(&c->svg, ">");
        svg_escaped(&c->svg, s);
        sb_printf(&c->svg, "</text>\n");
        return;
    }
    int w = text_width(s, fs);
    int start = anchor == ANCHOR_START ? 0 : anchor == ANCHOR_MIDDLE ? -w / 2 : -w;
    int ax = (int)lround(x), ay = (int)lround(y);
    int ci = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int valid;
        size_t n = utf8_len(p, &valid);
        int ch = n == 1 && valid ? *p : '?';
        if (ch < 32 || ch > 126) ch = ch < 32 ? ' ' : '?';
        p += n;
        const char *const *g = font5x9[ch - 32];
        for (int r = 0; r < 9; r++) {
            if (!g[r]) break;
            for (int k = 0; k < 5; k++) {
                if (g[r][k] != '#') continue;
                /* the font pixel's square, relative to the anchor, text running rightwards */
                int ux = start + ci * 6 * fs + k * fs, uy = -7 * fs + r * fs;
                for (int j = 0; j < fs; j++)
                    for (int i = 0; i < fs + (bold ? 1 : 0); i++) {
                        int X = ux + i, Y = uy + j;
                        if (rotated) px_blend(c, ax + Y, ay - X - 1, col, 1.0);
                        else px_blend(c, ax + X, ay + Y, col, 1.0);
                    }
            }
        }
        ci++;
    }
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
/* The figure                                                                                 */

#define MAX_TICKS 64

static const rgb PALETTE[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34}, {23, 190, 207}};
static const rgb INK = {34, 34, 34}, FRAME = {90, 90, 90}, GRID = {228, 228, 228},
                 MUTED = {150, 150, 150}, WHITE = {255, 255, 255};

typedef struct {
    int fs, gap, tick;
    int plot_top, plot_bottom;
    axis x;
} layout;

static double series_value(const niti_plot_run *r, int panel, int i)
{
    return panel == 0 ? r->test_acc[i] : r->train_loss[i];
}

/* One panel: frame, grid, ticks, labels, titles and the runs' lines (panel 0 accuracy, 1 loss). */
static niti_status draw_panel(canvas *c, const layout *L, int panel, const niti_plot_run *runs,
                              int n_runs, double *xs, double *ys)
{
    const int fs = L->fs, g = L->gap, tl = L->tick;
    int pw = c->w / 2, px0 = panel * pw;
    int top = L->plot_top, bottom = L->plot_bottom, ph = bottom - top;

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
    axis_make(&y, vmin, vmax, half, 0.06, 0, 0, ph, 7 * fs + 3 * g);

    double yt[MAX_TICKS];
    int nyt = axis_ticks(&y, yt, MAX_TICKS);
    char buf[64];
    int maxw = 0;
    for (int i = 0; i < nyt; i++) {
        axis_label(&y, yt[i], buf, sizeof buf);
        int w = text_width(buf, fs);
        if (w > maxw) maxw = w;
    }
    int ytitle_x = px0 + g + 7 * fs; /* baseline of the rotated axis title */
    int left = ytitle_x + 2 * fs + g + maxw + g / 2 + tl;
    int right = px0 + pw - 2 * g;
    if (right - left < 40) return niti_fail(NITI_ERR_INVALID, "plot: the figure is too small");
    int wpx = right - left;

    /* The epoch range is shared; only the step depends on this panel's width. */
    axis x = L->x;
    {
        char lo[64], hi[64];
        snprintf(lo, sizeof lo, "%.0f", floor(x.lo));
        snprintf(hi, sizeof hi, "%.0f", ceil(x.hi));
        int lw = text_width(strlen(lo) > strlen(hi) ? lo : hi, fs);
        double span = x.hi - x.lo;
        x.step = nice_up(fmax(span / 6, 1));
        for (int guard = 0; guard < 30 && x.step * wpx / span < lw + 3 * g; guard++)
            x.step = nice_up(x.step * 1.5);
        x.decimals = 0;
    }
    double xt[MAX_TICKS];
    int nxt = axis_ticks(&x, xt, MAX_TICKS);

#define MAPX(v) (left + ((v) - x.lo) / (x.hi - x.lo) * wpx)
#define MAPY(v) (bottom - ((v) - y.lo) / (y.hi - y.lo) * ph)

    /* Grid, frame, ticks, tick labels. */
    for (int i = 0; i < nyt; i++) {
        int py = (int)lround(MAPY(yt[i]));
        if (py > top && py < bottom - 1) cv_rect(c, left + 1, py, wpx - 2, 1, GRID);
    }
    for (int i = 0; i < nxt; i++) {
        int px = (int)lround(MAPX(xt[i]));
        if (px > left && px < right - 1) cv_rect(c, px, top + 1, 1, ph - 2, GRID);
    }
    cv_rect(c, left, top, wpx, 1, FRAME);
    cv_rect(c, left, bottom - 1, wpx, 1, FRAME);
    cv_rect(c, left, top, 1, ph, FRAME);
    cv_rect(c, right - 1, top, 1, ph, FRAME);
    for (int i = 0; i < nyt; i++) {
        int py = (int)lround(MAPY(yt[i]));
        cv_rect(c, left - tl, py, tl, 1, FRAME);
        axis_label(&y, yt[i], buf, sizeof buf);
        cv_text(c, left - tl - g / 2, py + (7 * fs) / 2, buf, fs, INK, ANCHOR_END, 0, 0);
    }
    int xlab_base = bottom + tl + g / 2 + 7 * fs;
    for (int i = 0; i < nxt; i++) {
        int px = (int)lround(MAPX(xt[i]));
        cv_rect(c, px, bottom, 1, tl, FRAME);
        axis_label(&x, xt[i], buf, sizeof buf);
        cv_text(c, px, xlab_base, buf, fs, INK, ANCHOR_MIDDLE, 0, 0);
    }
    cv_text(c, (left + right) / 2.0, xlab_base + g + 7 * fs, "epoch", fs, INK, ANCHOR_MIDDLE, 0, 0);
    cv_text(c, ytitle_x, (top + bottom) / 2.0, panel == 0 ? "accuracy (%)" : "loss", fs, INK,
            ANCHOR_MIDDLE, 1, 0);
    cv_text(c, (left + right) / 2.0, top - 2 * fs - g, panel == 0 ? "test accuracy (%)" :
            "training loss", fs, INK, ANCHOR_MIDDLE, 0, 1);

    if (empty) {
        cv_text(c, (left + right) / 2.0, (top + bottom) / 2.0,
                panel == 0 ? "no test accuracy in the logs" : "no training loss in the logs", fs,
                MUTED, ANCHOR_MIDDLE, 0, 0);
        return NITI_OK;
    }

    /* The runs, clipped to the plot area, in order (the first run drawn first). */
    cv_clip(c, left + 1, top + 1, wpx - 2, ph - 2);
    double lw = fs >= 2 ? 2.5 : 1.5, mr = fs >= 2 ? 3.5 : 2.5;
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
        rgb col = PALETTE[k % 10];
        cv_polyline(c, xs, ys, m, col, lw);
        /* Dense series: a marker on every stride-th point only, so that they stay apart. */
        int stride = 1;
        if (m > 1) {
            double spacing = fabs(xs[m - 1] - xs[0]) / (m - 1);
            while (stride < m && spacing * stride < 5 * mr) stride++;
        }
        for (int i = 0; i < m; i++)
            if (i % stride == 0 || i == m - 1) cv_marker(c, xs[i], ys[i], mr, (k / 10) % 2, col);
    }
    cv_unclip(c);
#undef MAPX
#undef MAPY
    return NITI_OK;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* Fills in a chunk whose data already lies at p + 8: length, type and CRC (over type and data).
 * Returns the byte after the chunk. */
static unsigned char *png_chunk(unsigned char *p, const char type[4], size_t len)
{
    put32(p, (uint32_t)len);
    memcpy(p + 4, type, 4);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, (uInt)(len + 4));
    put32(p + 8 + len, (uint32_t)crc);
    return p + 12 + len;
}

/* 8-bit RGB, no interlace; every row with filter type 0. */
static niti_status png_encode(const canvas *c, unsigned char **out, size_t *out_len)
{
    size_t stride = (size_t)c->w * 3 + 1, raw_len = stride * (size_t)c->h;
    unsigned char *raw = malloc(raw_len);
    if (!raw) return niti_fail(NITI_ERR_NOMEM, "plot: %zu bytes for the image", raw_len);
    for (int y = 0; y < c->h; y++) {
        raw[(size_t)y * stride] = 0;
        memcpy(raw + (size_t)y * stride + 1, c->px + (size_t)y * (size_t)c->w * 3, stride - 1);
    }
    uLongf zlen = compressBound((uLong)raw_len);
    size_t cap = 8 + 25 + 12 + (size_t)zlen + 12;
    unsigned char *png = malloc(cap);
    if (!png) {
        free(raw);
        return niti_fail(NITI_ERR_NOMEM, "plot: %zu bytes for the PNG", cap);
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(png, sig, 8);
    unsigned char *p = png + 8;
    put32(p + 8, (uint32_t)c->w);
    put32(p + 12, (uint32_t)c->h);
    /* bit depth 8, colour type 2 (RGB), deflate, filter method 0, no interlace */
    p[16] = 8, p[17] = 2, p[18] = 0, p[19] = 0, p[20] = 0;
    p = png_chunk(p, "IHDR", 13);
    int zs = compress2(p + 8, &zlen, raw, (uLong)raw_len, 9);
    free(raw);
    if (zs != Z_OK) {
        free(png);
        return niti_fail(NITI_ERR_NOMEM, "plot: zlib compress2 failed (%d)", zs);
    }
    p = png_chunk(p, "IDAT", zlen);
    p = png_chunk(p, "IEND", 0);
    *out = png;
    *out_len = (size_t)(p - png);
    return NITI_OK;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

niti_status niti_plot_render(const niti_plot_run *runs, int n_runs, const char *const *labels,
                             const niti_plot_opts *opts, niti_plot_format fmt,
                             unsigned char **out, size_t *out_len)
{
    if (!runs || n_runs < 1 || !out || !out_len || (fmt != NITI_PLOT_SVG && fmt != NITI_PLOT_PNG))
        return niti_fail(NITI_ERR_INVALID, "plot: nothing to render");
    *out = NULL, *out_len = 0;
    int W = opts && opts->width > 0 ? opts->width : 1200;
    int H = opts && opts->height > 0 ? opts->height : 500;
    if (W < 400 || H < 250 || W > 8000 || H > 8000)
        return niti_fail(NITI_ERR_INVALID,
                         "plot: size %dx%d is out of range (400x250 to 8000x8000)", W, H);
    int max_n = 0;
    double xmin = INFINITY, xmax = -INFINITY;
    for (int k = 0; k < n_runs; k++) {
        if (runs[k].n < 1 || !runs[k].epoch || !runs[k].test_acc || !runs[k].train_loss)
            return niti_fail(NITI_ERR_INVALID, "%s: no epoch records",
                             runs[k].path ? runs[k].path : "plot");
        if (runs[k].n > max_n) max_n = runs[k].n;
        for (int i = 0; i < runs[k].n; i++)
            if (isfinite(runs[k].epoch[i]))
                xmin = fmin(xmin, runs[k].epoch[i]), xmax = fmax(xmax, runs[k].epoch[i]);
    }
    if (!(xmin <= xmax)) xmin = xmax = 1;

    layout L;
    const int fs = W >= 800 && H >= 400 ? 2 : 1, tfs = fs + 1, g = 4 * fs;
    L.fs = fs, L.gap = g, L.tick = 2 * fs + 1;
    axis_make(&L.x, xmin, xmax, 1.0, 0.04, 0.3, 1, 0, 0);

    canvas c;
    memset(&c, 0, sizeof c);
    c.fmt = fmt, c.w = W, c.h = H;
    double *xs = malloc((size_t)max_n * sizeof *xs), *ys = malloc((size_t)max_n * sizeof *ys);
    const char **names = malloc((size_t)n_runs * sizeof *names);
    int *row_of = malloc((size_t)n_runs * sizeof *row_of);
    int *row_w = malloc((size_t)n_runs * sizeof *row_w);
    char text[512];
    niti_status s = NITI_OK;
    if (!xs || !ys || !names || !row_of || !row_w) {
        s = niti_fail(NITI_ERR_NOMEM, "plot: buffers");
        goto done;
    }
    if (fmt == NITI_PLOT_PNG) {
        c.px = malloc((size_t)W * (size_t)H * 3);
        if (!c.px) {
            s = niti_fail(NITI_ERR_NOMEM, "plot: %dx%d image", W, H);
            goto done;
        }
        memset(c.px, 255, (size_t)W * (size_t)H * 3);
    } else {
        sb_printf(&c.svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Verdana, Arial, "
                          "sans-serif\">\n", W, H, W, H);
        cv_rect(&c, 0, 0, W, H, WHITE);
    }

    /* Title. */
    int top = g;
    if (opts && opts->title && opts->title[0]) {
        text_fit(opts->title, (W - 4 * g) / (6 * tfs), text, sizeof text);
        cv_text(&c, W / 2.0, top + 7 * tfs, text, tfs, INK, ANCHOR_MIDDLE, 0, 1);
        top += 9 * tfs + g;
    }
    L.plot_top = top + 9 * fs + g;

    /* Legend: entries left to right, wrapped into centred rows at the bottom. */
    const int sw = 14 * fs, sgap = 3 * fs, egap = 12 * fs, avail = W - 4 * g;
    const int max_chars = (avail - sw - sgap) / (6 * fs);
    int rows = 0, x_in_row = 0;
    for (int k = 0; k < n_runs; k++) {
        const char *l = labels && labels[k] && labels[k][0] ? labels[k]
                        : runs[k].label && runs[k].label[0] ? runs[k].label
                        : base_name(runs[k].path ? runs[k].path : "?");
        names[k] = l;
        text_fit(l, max_chars, text, sizeof text);
        int ew = sw + sgap + text_width(text, fs);
        if (rows == 0 || x_in_row + egap + ew > avail) {
            row_w[rows++] = ew;
            x_in_row = ew;
        } else {
            x_in_row += egap + ew;
            row_w[rows - 1] = x_in_row;
        }
        row_of[k] = rows - 1;
    }
    const int row_h = 9 * fs + g / 2;
    int legend_top = H - (rows * row_h + g);
    L.plot_bottom = legend_top - L.tick - 2 * g - 16 * fs;
    if (L.plot_bottom - L.plot_top < 60) {
        s = niti_fail(NITI_ERR_INVALID, "plot: %d runs do not fit in a %dx%d figure", n_runs, W, H);
        goto done;
    }
    {
        int row = -1, x = 0;
        for (int k = 0; k < n_runs; k++) {
            if (row_of[k] != row) row = row_of[k], x = (W - row_w[row]) / 2;
            double base = legend_top + g / 2 + row * row_h + 7 * fs, mid = base - 3.5 * fs;
            rgb col = PALETTE[k % 10];
            double lx[2] = {x, x + sw}, ly[2] = {mid, mid};
            cv_polyline(&c, lx, ly, 2, col, fs >= 2 ? 2.5 : 1.5);
            cv_marker(&c, x + sw / 2.0, mid, fs >= 2 ? 3.5 : 2.5, (k / 10) % 2, col);
            text_fit(names[k], max_chars, text, sizeof text);
            cv_text(&c, x + sw + sgap, base, text, fs, INK, ANCHOR_START, 0, 0);
            x += sw + sgap + text_width(text, fs) + egap;
        }
    }

    for (int panel = 0; panel < 2 && s == NITI_OK; panel++)
        s = draw_panel(&c, &L, panel, runs, n_runs, xs, ys);
    if (s != NITI_OK) goto done;

    if (fmt == NITI_PLOT_PNG) {
        s = png_encode(&c, out, out_len);
    } else {
        sb_printf(&c.svg, "</svg>\n");
        if (c.svg.oom) {
            s = niti_fail(NITI_ERR_NOMEM, "plot: SVG text");
        } else {
            *out = (unsigned char *)c.svg.p, *out_len = c.svg.len;
            c.svg.p = NULL;
        }
    }
done:
    free(c.svg.p);
    free(c.px);
    free(xs), free(ys), free(names), free(row_of), free(row_w);
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* Atomic write                                                                               */

niti_status niti_plot_write_file(const char *path, const unsigned char *buf, size_t len)
{
    if (!path || !*path) return niti_fail(NITI_ERR_INVALID, "plot: no output path");
    return niti_write_file_atomic(path, buf, len);
}
