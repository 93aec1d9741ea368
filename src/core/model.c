/* Model specs: the layer-list parser, shape inference, presets and size helpers.
 *
 * Grammar (see model.h): entries separated by ';' or newlines, '#' comments to the end of a line,
 * tokens separated by blanks, keywords case-sensitive. The first entry is `input HxWxC`; then
 *   conv O kK pP | relu | maxpool 2 | flatten | dropout | linear O
 * Every error is NITI_ERR_FORMAT with "model spec line L, column C: <what was expected>, got
 * <what was found>" (or a shape explanation at the layer's position). */
#include "core/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

#define DIM_MAX 65536                 /* sizes (H, W, C, O, k, p) are 1..65536 (p: 0..65536) */
#define ELEMS_MAX ((int64_t)INT32_MAX) /* any tensor, per image, and any weight tensor */
#define LAYERS_MAX 4096
#define FILE_MAX (1 << 20)            /* a spec file larger than 1 MiB is not a spec */
#define TOK_MAX 5                     /* tokens kept per entry: keyword + 3 arguments + 1 extra */

/* ------------------------------------------------------------------------------------------ */
/* Presets                                                                                      */

typedef struct preset {
    const char *name, *description, *text;
    int batch, epochs; /* training defaults (niti_model_train_defaults) */
    const char *mu;
} preset;

/* Training defaults. lenet: the schedule and length that gave the best validation accuracy of
 * those tried within a minute of training on 2 cores (Fashion-MNIST, 50,000 training images,
 * the other 10,000 held out; the test set not used): mu 4,3:3,4:2 for 5 epochs, 90.86 %, against
 * 90.46 % (4,4:3), 90.34 % (5,2:4,3:3), 90.27 % (4,3:3), 88.74 % (3 for 3 epochs) and 87.38 %
 * (4 for 4 epochs); see README "Results". The authors' CIFAR-10 presets: their batch 256, 200
 * epochs, mu 5 / 4 / 3 from epochs 0 / 100 / 150. vgg-small-28: that schedule scaled to 40
 * epochs. */
#define LENET_DEFAULTS 64, 5, "4,3:3,4:2"
#define AUTHORS_DEFAULTS 256, 200, "5,100:4,150:3"

/* Sources (read on GitHub, wangmaolin/niti, the authors' code; nothing copied):
 * - lenet: ti_lenet.py — conv 20 5x5, relu, maxpool, conv 50 5x5, relu, maxpool, flatten,
 *   linear 800->500, relu, linear 500->10; no padding, no bias. Exactly the authors' net.
 * - vgg-small-7/8/9: ti_vgg.py of the 2021 code (cifar_cfg 7, 8, 9): 3x3 pad-1 convs (TiConv2d's
 *   defaults) each followed by relu, maxpool 2x2/2 at 'M', then flatten, dropout and
 *   linear 512*4*4 -> 10. Exactly the authors' nets.
 * - vgg9/11/13/16: vgg.py's `cfg` table (used by the 2020 ti_vgg.py): 3x3 pad-1 convs with relu,
 *   maxpool at 'M', then flatten and linear 512 -> 10 (no dropout, no hidden FC layers). Layer
 *   lists are the authors'; the class count 10 (CIFAR-10) is the num_classes the paper uses.
 *   Note the authors' "vgg9" is 5 convs + 1 linear ([64,M,128,M,256,M,512,M,512,M]).
 * - vgg-small-28: ours, not the authors': vgg-small-7's pattern (pairs of 3x3 pad-1 convs with
 *   relu, maxpool after each pair, dropout, one linear layer) for 28x28x1 inputs at half the
 *   width (64-128-256), so that a Fashion-MNIST epoch takes about a minute on 2 CPU cores;
 *   28 -> 14 -> 7 -> 3 (the last pool drops row and column 7), linear 256*3*3 -> 10.
 * Differences everywhere: our layers have no bias (theirs have none either) and no batch-norm. */
static const preset presets[] = {
    {"lenet", "the paper's MNIST LeNet (2 conv 5x5 + 2 linear), 28x28x1 input",
     "input 28x28x1; conv 20 k5 p0; relu; maxpool 2; conv 50 k5 p0; relu; maxpool 2; flatten; "
     "linear 500; relu; linear 10",
     LENET_DEFAULTS},
    {"vgg-small-7", "authors' 2021 CIFAR-10 VGG-small, 6 conv (128-128-256-256-512-512) + dropout + linear",
     "input 32x32x3; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; dropout; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg-small-8", "authors' 2021 CIFAR-10 VGG-small, 7 conv (3x128, 2x256, 2x512) + dropout + linear",
     "input 32x32x3; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; dropout; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg-small-9", "authors' 2021 CIFAR-10 VGG-small, 8 conv (3x128, 3x256, 2x512) + dropout + linear",
     "input 32x32x3; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; dropout; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg-small-28", "VGG-small for 28x28x1 (Fashion-)MNIST, 6 conv (64-64-128-128-256-256) + dropout + linear",
     "input 28x28x1; "
     "conv 64 k3 p1; relu; conv 64 k3 p1; relu; maxpool 2; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "flatten; dropout; linear 10",
     256, 40, "5,20:4,30:3,35:2"},
    {"vgg9", "the paper's CIFAR-10 VGG9 (authors' cfg 9): 5 conv 64..512 + linear 512->10",
     "input 32x32x3; "
     "conv 64 k3 p1; relu; maxpool 2; "
     "conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; maxpool 2; "
     "flatten; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg11", "the paper's CIFAR-10 VGG11: 8 conv 64..512 + linear 512->10",
     "input 32x32x3; "
     "conv 64 k3 p1; relu; maxpool 2; "
     "conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg13", "the paper's CIFAR-10 VGG13: 10 conv 64..512 + linear 512->10",
     "input 32x32x3; "
     "conv 64 k3 p1; relu; conv 64 k3 p1; relu; maxpool 2; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; linear 10",
     AUTHORS_DEFAULTS},
    {"vgg16", "the paper's CIFAR-10 VGG16: 13 conv 64..512 + linear 512->10",
     "input 32x32x3; "
     "conv 64 k3 p1; relu; conv 64 k3 p1; relu; maxpool 2; "
     "conv 128 k3 p1; relu; conv 128 k3 p1; relu; maxpool 2; "
     "conv 256 k3 p1; relu; conv 256 k3 p1; relu; conv 256 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "conv 512 k3 p1; relu; conv 512 k3 p1; relu; conv 512 k3 p1; relu; maxpool 2; "
     "flatten; linear 10",
     AUTHORS_DEFAULTS},
};
#define N_PRESETS (sizeof presets / sizeof *presets)

static const char *const preset_names[N_PRESETS + 1] = {
    "lenet", "vgg-small-7", "vgg-small-8", "vgg-small-9", "vgg-small-28", "vgg9", "vgg11", "vgg13", "vgg16", NULL};

const char *const *niti_model_preset_names(void) { return preset_names; }

static const preset *find_preset(const char *name);

void niti_model_train_defaults(const niti_model_spec *m, int *batch, int *epochs, char *mu,
                               size_t mu_size)
{
    const preset *p = find_preset(m ? m->name : NULL);
    if (!p) p = find_preset("lenet");
    if (batch) *batch = p->batch;
    if (epochs) *epochs = p->epochs;
    if (mu && mu_size) snprintf(mu, mu_size, "%s", p->mu);
}

static const preset *find_preset(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

const char *niti_model_preset_text(const char *name)
{
    const preset *p = find_preset(name);
    return p ? p->text : NULL;
}

const char *niti_model_preset_description(const char *name)
{
    const preset *p = find_preset(name);
    return p ? p->description : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Layer helpers                                                                                */

const char *niti_layer_kind_name(niti_layer_kind k)
{
    switch (k) {
    case NITI_LAYER_CONV: return "conv";
    case NITI_LAYER_RELU: return "relu";
    case NITI_LAYER_MAXPOOL: return "maxpool";
    case NITI_LAYER_FLATTEN: return "flatten";
    case NITI_LAYER_DROPOUT: return "dropout";
    case NITI_LAYER_LINEAR: return "linear";
    }
    return "?";
}

int niti_layer_format(const niti_layer_spec *l, char *buf, size_t n)
{
    switch (l->kind) {
    case NITI_LAYER_CONV: return snprintf(buf, n, "conv %d k%d p%d", l->out_ch, l->k, l->pad);
    case NITI_LAYER_MAXPOOL: return snprintf(buf, n, "maxpool 2");
    case NITI_LAYER_LINEAR: return snprintf(buf, n, "linear %d", l->out_ch);
    default: return snprintf(buf, n, "%s", niti_layer_kind_name(l->kind));
    }
}

int64_t niti_layer_params(const niti_layer_spec *l)
{
    switch (l->kind) {
    case NITI_LAYER_CONV: return (int64_t)l->out_ch * l->k * l->k * l->in_c;
    case NITI_LAYER_LINEAR: return (int64_t)l->out_ch * l->in_c;
    default: return 0;
    }
}

int64_t niti_layer_macs(const niti_layer_spec *l)
{
    switch (l->kind) {
    case NITI_LAYER_CONV:
        return (int64_t)l->out_h * l->out_w * l->out_ch * l->k * l->k * l->in_c;
    case NITI_LAYER_LINEAR: return (int64_t)l->out_ch * l->in_c;
    default: return 0;
    }
}

int64_t niti_layer_fwd_terms(const niti_layer_spec *l)
{
    switch (l->kind) {
    case NITI_LAYER_CONV: return (int64_t)l->k * l->k * l->in_c;
    case NITI_LAYER_LINEAR: return (int64_t)l->in_c;
    default: return 0;
    }
}

int niti_layer_fwd_acc_bits(const niti_layer_spec *l)
{
    int64_t K = niti_layer_fwd_terms(l);
    if (K <= 0) return 0;
    return K * 128 * 127 < ((int64_t)1 << 31) ? 32 : 64;
}

int64_t niti_model_params(const niti_model_spec *m)
{
    int64_t s = 0;
    for (int i = 0; m && i < m->n_layers; i++) s += niti_layer_params(&m->layers[i]);
    return s;
}

int64_t niti_model_macs(const niti_model_spec *m)
{
    int64_t s = 0;
    for (int i = 0; m && i < m->n_layers; i++) s += niti_layer_macs(&m->layers[i]);
    return s;
}

int niti_model_classes(const niti_model_spec *m)
{
    if (!m || m->n_layers <= 0) return 0;
    const niti_layer_spec *l = &m->layers[m->n_layers - 1];
    return l->out_h * l->out_w * l->out_c;
}

void niti_model_free(niti_model_spec *m)
{
    if (!m) return;
    free(m->layers);
    free(m->canonical);
    free(m->name);
    free(m);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

niti_status niti_model_copy(const niti_model_spec *m, niti_model_spec **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "niti_model_copy: out is NULL");
    *out = NULL;
    if (!m) return niti_fail(NITI_ERR_INVALID, "niti_model_copy: model is NULL");
    niti_model_spec *c = calloc(1, sizeof *c);
    if (!c) return niti_fail(NITI_ERR_NOMEM, "out of memory copying a model spec");
    *c = *m;
    c->layers = NULL;
    c->canonical = dup_str(m->canonical ? m->canonical : "");
    c->name = dup_str(m->name ? m->name : "custom");
    if (m->n_layers > 0) {
        c->layers = malloc((size_t)m->n_layers * sizeof *c->layers);
        if (c->layers) memcpy(c->layers, m->layers, (size_t)m->n_layers * sizeof *c->layers);
    }
    if (!c->canonical || !c->name || (m->n_layers > 0 && !c->layers)) {
        niti_model_free(c);
        return niti_fail(NITI_ERR_NOMEM, "out of memory copying a model spec");
    }
    *out = c;
    return NITI_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Scanner                                                                                      */

typedef struct tok {
    const char *s;
    int len, line, col;
} tok;

typedef struct entry {
    tok t[TOK_MAX];
    int n;                /* tokens seen (may exceed TOK_MAX; only the first TOK_MAX are kept) */
    int end_line, end_col; /* where the entry ended: ';', '#', a newline or the end of the text */
    char end_ch;          /* that character ('\0' for the end of the text) */
} entry;

typedef struct scanner {
    const char *p;
    int line, col;
} scanner;

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static int is_tok_char(char c) { return c && !is_blank(c) && c != ';' && c != '\n' && c != '#'; }

/* Reads one entry. Returns 0 at the end of the text (with no tokens pending), else 1. */
static int next_entry(scanner *sc, entry *e)
{
    if (!*sc->p) return 0;
    e->n = 0;
    for (;;) {
        while (is_blank(*sc->p)) sc->p++, sc->col++;
        char c = *sc->p;
        if (is_tok_char(c)) {
            tok t = {sc->p, 0, sc->line, sc->col};
            while (is_tok_char(*sc->p)) sc->p++, sc->col++, t.len++;
            if (e->n < TOK_MAX) e->t[e->n] = t;
            e->n++;
            continue;
        }
        e->end_line = sc->line;
        e->end_col = sc->col;
        e->end_ch = c;
        if (c == '#') {
            while (*sc->p && *sc->p != '\n') sc->p++;
            c = *sc->p;
        }
        if (c == '\n') sc->p++, sc->line++, sc->col = 1;
        else if (c == ';') sc->p++, sc->col++;
        return 1;
    }
}

/* A token for a message: quoted, at most 40 characters, odd bytes as \xNN. */
static void show_tok(const tok *t, char *buf, size_t n)
{
    size_t o = 0;
    buf[o++] = '\'';
    for (int i = 0; i < t->len && o + 8 < n; i++) {
        unsigned char c = (unsigned char)t->s[i];
        if (i >= 40) {
            o += (size_t)snprintf(buf + o, n - o, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
    }
    buf[o++] = '\'';
    buf[o] = 0;
}

static void show_end(const entry *e, char *buf, size_t n)
{
    switch (e->end_ch) {
    case ';': snprintf(buf, n, "';'"); break;
    case '#': snprintf(buf, n, "a comment"); break;
    case '\n': snprintf(buf, n, "the end of the line"); break;
    default: snprintf(buf, n, "the end of the text"); break;
    }
}

static niti_status fail_at(int line, int col, const char *fmt, ...) NITI_PRINTF(3, 4);
static niti_status fail_at(int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return niti_fail(NITI_ERR_FORMAT, "model spec line %d, column %d: %s", line, col, msg);
}

/* "expected <what>, got <token i or the end of the entry>" */
static niti_status fail_expected(const entry *e, int i, const char *what)
{
    char got[200];
    if (i < e->n && i < TOK_MAX) {
        show_tok(&e->t[i], got, sizeof got);
        return fail_at(e->t[i].line, e->t[i].col, "expected %s, got %s", what, got);
    }
    show_end(e, got, sizeof got);
    return fail_at(e->end_line, e->end_col, "expected %s, got %s", what, got);
}

static int tok_is(const tok *t, const char *s)
{
    size_t n = strlen(s);
    return (size_t)t->len == n && !memcmp(t->s, s, n);
}

static int tok_is_ci(const tok *t, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)t->len != n) return 0;
    for (size_t i = 0; i < n; i++) {
        char a = t->s[i], b = s[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

/* Parses decimal digits s[0..len) into *v (capped at 10^9 to stay in range). 0 if not digits. */
static int parse_digits(const char *s, int len, int64_t *v)
{
    if (len <= 0) return 0;
    int64_t x = 0;
    for (int i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        if (x < 1000000000) x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

/* Token i as a number (after an optional one-letter prefix), range-checked. */
static niti_status get_num(const entry *e, int i, char prefix, int64_t lo, int64_t hi,
                           const char *expected, const char *what, int *out)
{
    if (i >= e->n) return fail_expected(e, i, expected);
    const tok *t = &e->t[i];
    const char *s = t->s;
    int len = t->len;
    if (prefix) {
        if (len < 1 || s[0] != prefix) return fail_expected(e, i, expected);
        s++, len--;
    }
    int64_t v;
    if (!parse_digits(s, len, &v)) return fail_expected(e, i, expected);
    if (v < lo || v > hi) {
        char got[200];
        show_tok(t, got, sizeof got);
        return fail_at(t->line, t->col, "%s must be %lld..%lld, got %s", what, (long long)lo,
                       (long long)hi, got);
    }
    *out = (int)v;
    return NITI_OK;
}

/* The entry must have exactly n tokens. */
static niti_status no_more(const entry *e, int n, const char *after)
{
    if (e->n <= n) return NITI_OK;
    char what[200];
    snprintf(what, sizeof what, "';' or a new line after '%s'", after);
    return fail_expected(e, n, what);
}

/* ------------------------------------------------------------------------------------------ */
/* Growable text buffer                                                                         */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

/* ------------------------------------------------------------------------------------------ */
/* Parser                                                                                       */

typedef struct parse_state {
    niti_model_spec *m;
    int cap;
    int *lines, *cols; /* position of each layer's keyword */
    /* current shape */
    int h, w, c, flat;
} parse_state;

static const char *layer_list = "conv, relu, maxpool, flatten, dropout, linear";

static niti_status push_layer(parse_state *ps, const niti_layer_spec *l, const tok *kw)
{
    niti_model_spec *m = ps->m;
    if (m->n_layers >= LAYERS_MAX)
        return fail_at(kw->line, kw->col, "too many layers (at most %d)", LAYERS_MAX);
    if (m->n_layers == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 16;
        niti_layer_spec *nl = realloc(m->layers, (size_t)cap * sizeof *nl);
        if (!nl) return niti_fail(NITI_ERR_NOMEM, "out of memory parsing a model spec");
        m->layers = nl;
        int *li = realloc(ps->lines, (size_t)cap * sizeof *li);
        if (!li) return niti_fail(NITI_ERR_NOMEM, "out of memory parsing a model spec");
        ps->lines = li;
        int *co = realloc(ps->cols, (size_t)cap * sizeof *co);
        if (!co) return niti_fail(NITI_ERR_NOMEM, "out of memory parsing a model spec");
        ps->cols = co;
        ps->cap = cap;
    }
    m->layers[m->n_layers] = *l;
    ps->lines[m->n_layers] = kw->line;
    ps->cols[m->n_layers] = kw->col;
    m->n_layers++;
    ps->h = l->out_h, ps->w = l->out_w, ps->c = l->out_c, ps->flat = l->flat;
    return NITI_OK;
}

static void shape_str(const parse_state *ps, char *buf, size_t n)
{
    if (ps->flat) snprintf(buf, n, "a flattened tensor of %d features", ps->c);
    else snprintf(buf, n, "%dx%dx%d", ps->h, ps->w, ps->c);
}

static niti_status parse_input(const entry *e, parse_state *ps)
{
    niti_model_spec *m = ps->m;
    const char *exp_shape = "an input shape like '28x28x1' (height x width x channels) after 'input'";
    if (e->n < 2) return fail_expected(e, 1, exp_shape);
    const tok *t = &e->t[1];
    int64_t v[3];
    int part = 0, start = 0;
    for (int i = 0; i <= t->len; i++) {
        if (i == t->len || t->s[i] == 'x') {
            if (part >= 3 || !parse_digits(t->s + start, i - start, &v[part]))
                return fail_expected(e, 1, exp_shape);
            part++;
            start = i + 1;
        }
    }
    if (part != 3) return fail_expected(e, 1, exp_shape);
    static const char *const names[3] = {"input height", "input width", "input channels"};
    for (int i = 0; i < 3; i++)
        if (v[i] < 1 || v[i] > DIM_MAX) {
            char got[200];
            show_tok(t, got, sizeof got);
            return fail_at(t->line, t->col, "%s must be 1..%d, got %lld in %s", names[i], DIM_MAX,
                           (long long)v[i], got);
        }
    if (v[0] * v[1] * v[2] > ELEMS_MAX)
        return fail_at(t->line, t->col, "input %lldx%lldx%lld has more than %lld elements per image",
                       (long long)v[0], (long long)v[1], (long long)v[2], (long long)ELEMS_MAX);
    char after[96];
    snprintf(after, sizeof after, "input %lldx%lldx%lld", (long long)v[0], (long long)v[1],
             (long long)v[2]);
    NITI_TRY(no_more(e, 2, after));
    m->in_h = ps->h = (int)v[0];
    m->in_w = ps->w = (int)v[1];
    m->in_c = ps->c = (int)v[2];
    ps->flat = 0;
    return NITI_OK;
}

static niti_status parse_layer(const entry *e, parse_state *ps)
{
    const tok *kw = &e->t[0];
    niti_layer_spec l;
    memset(&l, 0, sizeof l);
    l.in_h = ps->h, l.in_w = ps->w, l.in_c = ps->c;
    char shape[96], got[200];
    shape_str(ps, shape, sizeof shape);

    if (tok_is(kw, "conv") || tok_is(kw, "maxpool")) {
        int is_conv = tok_is(kw, "conv");
        if (is_conv) {
            l.kind = NITI_LAYER_CONV;
            NITI_TRY(get_num(e, 1, 0, 1, DIM_MAX, "the number of output channels after 'conv'",
                             "conv output channels", &l.out_ch));
            char exp[128];
            snprintf(exp, sizeof exp, "a kernel size like 'k5' after 'conv %d'", l.out_ch);
            NITI_TRY(get_num(e, 2, 'k', 1, DIM_MAX, exp, "conv kernel size", &l.k));
            snprintf(exp, sizeof exp, "a padding like 'p0' after 'conv %d k%d'", l.out_ch, l.k);
            NITI_TRY(get_num(e, 3, 'p', 0, DIM_MAX, exp, "conv padding", &l.pad));
            snprintf(exp, sizeof exp, "conv %d k%d p%d", l.out_ch, l.k, l.pad);
            NITI_TRY(no_more(e, 4, exp));
        } else {
            l.kind = NITI_LAYER_MAXPOOL;
            if (e->n < 2 || !tok_is(&e->t[1], "2"))
                return fail_expected(e, 1, "'2' after 'maxpool' (only 2x2 stride-2 pooling exists)");
            NITI_TRY(no_more(e, 2, "maxpool 2"));
            l.k = 2;
        }
        if (ps->flat)
            return fail_at(kw->line, kw->col,
                           "'%s' needs an image (HxWxC) input, but its input is %s; conv and "
                           "maxpool must come before 'flatten'", is_conv ? "conv" : "maxpool",
                           shape);
        int64_t oh, ow, oc;
        if (is_conv) {
            oh = (int64_t)ps->h + 2 * (int64_t)l.pad - l.k + 1;
            ow = (int64_t)ps->w + 2 * (int64_t)l.pad - l.k + 1;
            oc = l.out_ch;
            if (oh <= 0 || ow <= 0)
            {
                int hd = oh <= 0;
                return fail_at(kw->line, kw->col,
                               "'conv %d k%d p%d' on a %s input leaves no output: %s + 2P - K + 1 "
                               "= %d + %d - %d + 1 = %lld (must be at least 1); use a smaller "
                               "kernel or more padding", l.out_ch, l.k, l.pad, shape,
                               hd ? "H" : "W", hd ? ps->h : ps->w, 2 * l.pad, l.k,
                               (long long)(hd ? oh : ow));
            }
            if (oh > DIM_MAX || ow > DIM_MAX)
                return fail_at(kw->line, kw->col,
                               "'conv %d k%d p%d' on a %s input gives a %lldx%lld output; sizes "
                               "are limited to %d", l.out_ch, l.k, l.pad, shape, (long long)oh,
                               (long long)ow, DIM_MAX);
            if ((int64_t)l.out_ch * l.k * l.k * ps->c > ELEMS_MAX)
                return fail_at(kw->line, kw->col,
                               "'conv %d k%d p%d' on %d input channels has %lld weights, more "
                               "than %lld", l.out_ch, l.k, l.pad, ps->c,
                               (long long)((int64_t)l.out_ch * l.k * l.k * ps->c),
                               (long long)ELEMS_MAX);
        } else {
            if (ps->h < 2 || ps->w < 2)
                return fail_at(kw->line, kw->col,
                               "'maxpool 2' needs an input of at least 2x2, but its input is %s",
                               shape);
            oh = ps->h / 2, ow = ps->w / 2, oc = ps->c;
        }
        if (oh * ow * oc > ELEMS_MAX)
            return fail_at(kw->line, kw->col,
                           "the output of this layer, %lldx%lldx%lld, has more than %lld elements "
                           "per image", (long long)oh, (long long)ow, (long long)oc,
                           (long long)ELEMS_MAX);
        l.out_h = (int)oh, l.out_w = (int)ow, l.out_c = (int)oc;
        return push_layer(ps, &l, kw);
    }
    if (tok_is(kw, "relu")) {
        NITI_TRY(no_more(e, 1, "relu"));
        l.kind = NITI_LAYER_RELU;
        l.out_h = ps->h, l.out_w = ps->w, l.out_c = ps->c, l.flat = ps->flat;
        return push_layer(ps, &l, kw);
    }
    if (tok_is(kw, "flatten")) {
        NITI_TRY(no_more(e, 1, "flatten"));
        if (ps->flat)
            return fail_at(kw->line, kw->col, "'flatten' twice: its input is already %s", shape);
        l.kind = NITI_LAYER_FLATTEN;
        l.out_h = 1, l.out_w = 1, l.out_c = ps->h * ps->w * ps->c, l.flat = 1;
        return push_layer(ps, &l, kw);
    }
    if (tok_is(kw, "dropout") || tok_is(kw, "linear")) {
        int is_linear = tok_is(kw, "linear");
        if (is_linear) {
            l.kind = NITI_LAYER_LINEAR;
            NITI_TRY(get_num(e, 1, 0, 1, DIM_MAX, "the number of outputs after 'linear'",
                             "linear outputs", &l.out_ch));
            char after[48];
            snprintf(after, sizeof after, "linear %d", l.out_ch);
            NITI_TRY(no_more(e, 2, after));
        } else {
            l.kind = NITI_LAYER_DROPOUT;
            NITI_TRY(no_more(e, 1, "dropout"));
        }
        if (!ps->flat)
            return fail_at(kw->line, kw->col,
                           "'%s' needs a flattened input, but its input is %s; add 'flatten' "
                           "before it", is_linear ? "linear" : "dropout", shape);
        if (is_linear && (int64_t)l.out_ch * ps->c > ELEMS_MAX)
            return fail_at(kw->line, kw->col,
                           "'linear %d' on %d features has %lld weights, more than %lld", l.out_ch,
                           ps->c, (long long)((int64_t)l.out_ch * ps->c), (long long)ELEMS_MAX);
        l.in_h = l.in_w = 1;
        l.out_h = l.out_w = 1, l.flat = 1;
        l.out_c = is_linear ? l.out_ch : ps->c;
        if (is_linear) l.k = 1, l.pad = 0;
        return push_layer(ps, &l, kw);
    }
    if (tok_is(kw, "input"))
        return fail_at(kw->line, kw->col, "'input' may appear only once, as the first entry");
    show_tok(kw, got, sizeof got);
    const char *kws[] = {"conv", "relu", "maxpool", "flatten", "dropout", "linear", "input"};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (tok_is_ci(kw, kws[i]))
            return fail_at(kw->line, kw->col, "expected a layer (%s), got %s (keywords are lower "
                           "case: '%s')", layer_list, got, kws[i]);
    return fail_at(kw->line, kw->col, "expected a layer (%s), got %s", layer_list, got);
}

static niti_status build_canonical(niti_model_spec *m)
{
    sbuf b = {0};
    char tmp[96];
    snprintf(tmp, sizeof tmp, "input %dx%dx%d", m->in_h, m->in_w, m->in_c);
    sb_add(&b, tmp);
    for (int i = 0; i < m->n_layers; i++) {
        sb_add(&b, "; ");
        niti_layer_format(&m->layers[i], tmp, sizeof tmp);
        sb_add(&b, tmp);
    }
    if (b.oom || !b.s) {
        free(b.s);
        return niti_fail(NITI_ERR_NOMEM, "out of memory formatting a model spec");
    }
    m->canonical = b.s;
    return NITI_OK;
}

static niti_status parse_into(const char *text, parse_state *ps)
{
    scanner sc = {text, 1, 1};
    entry e;
    int have_input = 0;
    int last_line = 1, last_col = 1;
    while (next_entry(&sc, &e)) {
        last_line = e.end_line, last_col = e.end_col;
        if (e.n == 0) continue; /* blank line, comment or an empty ';' entry */
        if (!have_input) {
            if (!tok_is(&e.t[0], "input")) {
                if (tok_is_ci(&e.t[0], "input"))
                    return fail_expected(&e, 0, "'input HxWxC' as the first entry (keywords are "
                                                "lower case)");
                return fail_expected(&e, 0, "'input HxWxC' (e.g. 'input 28x28x1') as the first "
                                            "entry");
            }
            NITI_TRY(parse_input(&e, ps));
            have_input = 1;
            continue;
        }
        NITI_TRY(parse_layer(&e, ps));
    }
    if (!have_input)
        return fail_at(sc.line, sc.col, "expected 'input HxWxC' (e.g. 'input 28x28x1') as the "
                                        "first entry, got the end of the text (the spec is empty)");
    niti_model_spec *m = ps->m;
    if (m->n_layers == 0)
        return fail_at(last_line, last_col, "expected at least one layer after 'input %dx%dx%d' "
                       "(a model ends with 'linear N'), got the end of the text",
                       m->in_h, m->in_w, m->in_c);
    const niti_layer_spec *last = &m->layers[m->n_layers - 1];
    if (last->kind != NITI_LAYER_LINEAR) {
        char what[96];
        niti_layer_format(last, what, sizeof what);
        return fail_at(ps->lines[m->n_layers - 1], ps->cols[m->n_layers - 1],
                       "the last layer must be 'linear N' (the classifier), got '%s'%s", what,
                       ps->flat ? "" : "; add 'flatten; linear N'");
    }
    return NITI_OK;
}

static niti_status parse_named(const char *text, const char *name, niti_model_spec **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "niti_model_parse: out is NULL");
    *out = NULL;
    if (!text) return niti_fail(NITI_ERR_INVALID, "niti_model_parse: text is NULL");
    parse_state ps;
    memset(&ps, 0, sizeof ps);
    ps.m = calloc(1, sizeof *ps.m);
    if (!ps.m) return niti_fail(NITI_ERR_NOMEM, "out of memory parsing a model spec");
    niti_status s = parse_into(text, &ps);
    if (s == NITI_OK) s = build_canonical(ps.m);
    if (s == NITI_OK) {
        ps.m->name = dup_str(name);
        if (!ps.m->name) s = niti_fail(NITI_ERR_NOMEM, "out of memory parsing a model spec");
    }
    free(ps.lines);
    free(ps.cols);
    if (s != NITI_OK) {
        niti_model_free(ps.m);
        return s;
    }
    *out = ps.m;
    return NITI_OK;
}

niti_status niti_model_parse(const char *text, niti_model_spec **out)
{
    return parse_named(text, "custom", out);
}

/* Reads a whole spec file (at most FILE_MAX bytes, no NUL bytes) into *text. */
static niti_status read_spec_file(const char *path, char **text)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return niti_fail(NITI_ERR_IO, "cannot open model spec file '%s': %s", path,
                             strerror(errno));
    char *buf = malloc(FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return niti_fail(NITI_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    size_t n = fread(buf, 1, FILE_MAX + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return niti_fail(NITI_ERR_IO, "cannot read model spec file '%s'", path);
    }
    if (n > FILE_MAX) {
        free(buf);
        return niti_fail(NITI_ERR_FORMAT, "model spec file '%s' is larger than %d bytes", path,
                         FILE_MAX);
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        return niti_fail(NITI_ERR_FORMAT, "model spec file '%s' contains a NUL byte (not a text "
                         "file)", path);
    }
    buf[n] = 0;
    *text = buf;
    return NITI_OK;
}

niti_status niti_model_from_arg(const char *arg, niti_model_spec **out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "niti_model_from_arg: out is NULL");
    *out = NULL;
    if (!arg) return niti_fail(NITI_ERR_INVALID, "niti_model_from_arg: no model given");
    const preset *p = find_preset(arg);
    if (p) return parse_named(p->text, p->name, out);

    struct stat st;
    if (*arg && stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        char *text;
        NITI_TRY(read_spec_file(arg, &text));
        niti_status s = parse_named(text, "custom", out);
        free(text);
        if (s != NITI_OK) return niti_fail_ctx(s, "%s", arg);
        return NITI_OK;
    }

    niti_status s = niti_model_parse(arg, out);
    if (s != NITI_OK && *arg && !strpbrk(arg, " \t;\n")) {
        /* A single word: most likely a mistyped preset or file name. */
        char names[256] = "";
        for (size_t i = 0; i < N_PRESETS; i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, presets[i].name, sizeof names - strlen(names) - 1);
        }
        return niti_fail_ctx(s, "'%s' is not a preset (%s), not a file, and not a valid model "
                             "spec", arg, names);
    }
    return s;
}
