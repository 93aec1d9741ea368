/* The conformance runner (see conformance.h and shared/golden/README.md). Every kind except
 * `round` (host primitives by definition) goes through the backend's ops; `net` goes through
 * net.h, which is itself written against the ops. Comparison is exact. */
#include "tools/conformance.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/model.h"
#include "core/net.h"
#include "core/numerics.h"

#define MAX_BUFS 32
#define MAX_HOST 64

typedef struct {
    niti_backend *be;
    const niti_st *st;
    const char *name;
    FILE *out;
    int flags;
    int fails; /* FAIL lines printed for this case */
    niti_buf *bufs[MAX_BUFS];
    int nbufs;
    void *host[MAX_HOST];
    int nhost;
} cc_t;

#define DT(t) (1u << (t))
#define DT_INT (DT(NITI_I8) | DT(NITI_U8) | DT(NITI_I16) | DT(NITI_I32) | DT(NITI_I64))

static void cfail(cc_t *c, const char *fmt, ...) NITI_PRINTF(2, 3);
static void cfail(cc_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(c->out, "FAIL %s: ", c->name);
    vfprintf(c->out, fmt, ap);
    fputc('\n', c->out);
    va_end(ap);
    c->fails++;
}

/* ------------------------------------------------------------------------------------------ */
/* resources of one case, released together */

static void *hmem(cc_t *c, size_t bytes)
{
    if (c->nhost == MAX_HOST) {
        cfail(c, "runner: too many host buffers");
        return NULL;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) {
        cfail(c, "runner: out of host memory (%zu bytes)", bytes);
        return NULL;
    }
    c->host[c->nhost++] = p;
    return p;
}

static niti_buf *balloc(cc_t *c, size_t bytes, const char *what)
{
    if (c->nbufs == MAX_BUFS) {
        cfail(c, "runner: too many device buffers");
        return NULL;
    }
    niti_buf *b = NULL;
    niti_status s = c->be->ops->alloc(c->be, bytes, what, &b);
    if (s != NITI_OK) {
        cfail(c, "alloc of %s (%zu bytes) failed: %s", what, bytes, niti_last_error());
        return NULL;
    }
    c->bufs[c->nbufs++] = b;
    return b;
}

/* A device buffer holding the tensor's data. */
static niti_buf *bupload(cc_t *c, const niti_st_tensor *t)
{
    niti_buf *b = balloc(c, t->nbytes, t->name);
    if (!b) return NULL;
    niti_status s = c->be->ops->upload(c->be, b, 0, t->data, t->nbytes);
    if (s != NITI_OK) {
        cfail(c, "upload of %s failed: %s", t->name, niti_last_error());
        return NULL;
    }
    return b;
}

static int op_ok(cc_t *c, niti_status s, const char *what)
{
    if (s == NITI_OK) return 1;
    cfail(c, "%s failed: %s: %s", what, niti_status_name(s), niti_last_error());
    return 0;
}

static int bdown(cc_t *c, niti_buf *b, size_t off, void *dst, size_t bytes, const char *what)
{
    return op_ok(c, c->be->ops->download(c->be, b, off, dst, bytes), what);
}

static void release_all(cc_t *c)
{
    for (int i = 0; i < c->nbufs; i++) c->be->ops->release(c->be, c->bufs[i]);
    c->nbufs = 0;
    for (int i = 0; i < c->nhost; i++) free(c->host[i]);
    c->nhost = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* inputs */

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* The tensor `tname` with a dtype in `dtypes` and, if ndim >= 0, that many dimensions and (if
 * shape is not NULL) exactly that shape. NULL (after a FAIL line) otherwise. */
static const niti_st_tensor *need_t(cc_t *c, const char *tname, unsigned dtypes, int ndim,
                                    const int64_t *shape)
{
    const niti_st_tensor *t = niti_st_find(c->st, tname);
    if (!t) {
        cfail(c, "tensor %s is missing", tname);
        return NULL;
    }
    if (!(dtypes & DT(t->dtype))) {
        cfail(c, "tensor %s has an unexpected dtype %s", tname, niti_dtype_name(t->dtype));
        return NULL;
    }
    int bad = ndim >= 0 && t->ndim != ndim;
    if (!bad && ndim >= 0 && shape)
        for (int d = 0; d < ndim; d++) bad |= t->shape[d] != shape[d];
    if (bad) {
        char got[160], want[160];
        fmt_shape(got, sizeof got, t->ndim, t->shape);
        if (shape) fmt_shape(want, sizeof want, ndim, shape);
        else snprintf(want, sizeof want, "%d dimension(s)", ndim);
        cfail(c, "tensor %s has shape %s, expected %s", tname, got, want);
        return NULL;
    }
    return t;
}

/* Integer metadata in [lo, hi]; 0 (after a FAIL line) if missing or invalid. */
static int need_int(cc_t *c, const char *key, int64_t lo, int64_t hi, int64_t *v)
{
    int64_t x;
    if (niti_st_meta_int(c->st, key, &x) != NITI_OK) {
        cfail(c, "%s", niti_last_error());
        return 0;
    }
    if (x < lo || x > hi) {
        cfail(c, "metadata '%s' = %lld is outside [%lld, %lld]", key, (long long)x,
              (long long)lo, (long long)hi);
        return 0;
    }
    *v = x;
    return 1;
}

static const char *need_str(cc_t *c, const char *key)
{
    const char *v = niti_st_meta_get(c->st, key);
    if (!v) cfail(c, "metadata '%s' is missing", key);
    return v;
}

static int need_rule(cc_t *c, niti_rule *rule)
{
    const char *r = need_str(c, "rule");
    if (!r) return 0;
    if (!strcmp(r, "niti21")) *rule = NITI_RULE_NITI21;
    else if (!strcmp(r, "niti20")) *rule = NITI_RULE_NITI20;
    else {
        cfail(c, "metadata 'rule' = '%s' is not niti21 or niti20", r);
        return 0;
    }
    return 1;
}

/* Rounding mode metadata; niti20 always uses psr (the entry may then be absent). */
static int need_mode(cc_t *c, const char *key, niti_rule rule, niti_rounding *r)
{
    const char *m = niti_st_meta_get(c->st, key);
    if (rule == NITI_RULE_NITI20 && !m) {
        *r = NITI_PSR;
        return 1;
    }
    if (!m) {
        cfail(c, "metadata '%s' is missing", key);
        return 0;
    }
    if (!strcmp(m, "round")) *r = NITI_ROUND;
    else if (!strcmp(m, "psr")) *r = NITI_PSR;
    else {
        cfail(c, "metadata '%s' = '%s' is not round or psr", key, m);
        return 0;
    }
    if (rule == NITI_RULE_NITI20) *r = NITI_PSR;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* comparison */

static int64_t elem(const void *p, niti_dtype t, size_t i)
{
    switch (t) {
    case NITI_I8: return ((const int8_t *)p)[i];
    case NITI_U8: return ((const uint8_t *)p)[i];
    case NITI_I16: return ((const int16_t *)p)[i];
    case NITI_I32: return ((const int32_t *)p)[i];
    case NITI_I64: return ((const int64_t *)p)[i];
    case NITI_F32: break;
    }
    return 0;
}

/* Compares got (want->count elements of type got_t) with the expected tensor. */
static int cmp_tensor(cc_t *c, const char *label, const niti_st_tensor *want, const void *got,
                      niti_dtype got_t)
{
    size_t ndiff = 0, first = 0;
    for (size_t i = 0; i < want->count; i++)
        if (elem(got, got_t, i) != elem(want->data, want->dtype, i)) {
            if (!ndiff) first = i;
            ndiff++;
        }
    if (!ndiff) return 1;
    char mi[200];
    size_t n = (size_t)snprintf(mi, sizeof mi, "[");
    size_t rest = first;
    int64_t idx[NITI_ST_MAX_DIMS] = {0};
    for (int d = want->ndim - 1; d >= 0; d--) {
        size_t dim = want->shape[d] > 0 ? (size_t)want->shape[d] : 1;
        idx[d] = (int64_t)(rest % dim);
        rest /= dim;
    }
    for (int d = 0; d < want->ndim && n < sizeof mi; d++)
        n += (size_t)snprintf(mi + n, sizeof mi - n, "%s%lld", d ? "," : "", (long long)idx[d]);
    if (n < sizeof mi) snprintf(mi + n, sizeof mi - n, "]");
    cfail(c, "tensor %s differs at %zu element(s), first at index %zu (multi-index %s): got %lld, "
             "want %lld",
          label, ndiff, first, mi, (long long)elem(got, got_t, first),
          (long long)elem(want->data, want->dtype, first));
    return 0;
}

/* Compares with the tensor `tname` if it exists with the right element count. */
static int cmp_named(cc_t *c, const char *tname, unsigned dtypes, int ndim, const int64_t *shape,
                     const void *got, niti_dtype got_t)
{
    const niti_st_tensor *w = need_t(c, tname, dtypes, ndim, shape);
    return w ? cmp_tensor(c, tname, w, got, got_t) : 0;
}

static int cmp_scalar(cc_t *c, const char *label, int64_t got, int64_t want)
{
    if (got == want) return 1;
    cfail(c, "%s: got %lld, want %lld", label, (long long)got, (long long)want);
    return 0;
}

/* Compares with integer metadata `key`. */
static int cmp_meta(cc_t *c, const char *key, int64_t got)
{
    int64_t want;
    if (!need_int(c, key, INT64_MIN, INT64_MAX, &want)) return 0;
    return cmp_scalar(c, key, got, want);
}

/* ------------------------------------------------------------------------------------------ */
/* round: host primitives */

static void run_round(cc_t *c)
{
    const niti_st_tensor *x = need_t(c, "x", DT(NITI_I64), 1, NULL);
    if (!x) return;
    int64_t n = x->shape[0];
    const niti_st_tensor *s = need_t(c, "s", DT(NITI_I32) | DT(NITI_I64), 1, &n);
    if (!s) return;
    int8_t *r = hmem(c, x->count), *p = hmem(c, x->count);
    if (!r || !p) return;
    for (size_t i = 0; i < x->count; i++) {
        int64_t sh = elem(s->data, s->dtype, i);
        if (sh < 1 || sh > 63) {
            cfail(c, "input s[%zu] = %lld is outside 1..63", i, (long long)sh);
            return;
        }
        int64_t xv = ((const int64_t *)x->data)[i];
        r[i] = (int8_t)niti_shift_round(xv, (int)sh);
        p[i] = (int8_t)niti_shift_psr(xv, (int)sh);
    }
    cmp_named(c, "round", DT_INT, 1, &n, r, NITI_I8);
    cmp_named(c, "psr", DT_INT, 1, &n, p, NITI_I8);
}

/* ------------------------------------------------------------------------------------------ */
/* requant: each row its own tensor */

static void run_requant(cc_t *c)
{
    niti_rule rule;
    niti_rounding mode;
    if (!need_rule(c, &rule) || !need_mode(c, "mode", rule, &mode)) return;
    const niti_st_tensor *acc = need_t(c, "acc", DT(NITI_I32) | DT(NITI_I64), 2, NULL);
    if (!acc) return;
    size_t R = (size_t)acc->shape[0], n = (size_t)acc->shape[1], es = niti_dtype_size(acc->dtype);
    niti_buf *ab = balloc(c, n * es, "acc"), *vb = balloc(c, n, "v"),
             *sc = balloc(c, 4 * sizeof(int32_t), "scalars");
    int8_t *v = hmem(c, R * n);
    int32_t *shift = hmem(c, R * sizeof(int32_t)), *bw = hmem(c, R * sizeof(int32_t));
    if (!ab || !vb || !sc || !v || !shift || !bw) return;
    for (size_t r = 0; r < R; r++) {
        const unsigned char *row = (const unsigned char *)acc->data + r * n * es;
        uint64_t m = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t a = niti_abs64(elem(row, acc->dtype, i));
            if (a > m) m = a;
        }
        bw[r] = niti_bw(m);
        if (!op_ok(c, c->be->ops->upload(c->be, ab, 0, row, n * es), "upload of acc row") ||
            !op_ok(c, c->be->ops->requant(c->be, ab, acc->dtype, n, rule, mode, vb, sc, 0, -1, 0,
                                          -1, NULL),
                   "requant") ||
            !bdown(c, vb, 0, v + r * n, n, "download of v") ||
            !bdown(c, sc, 0, &shift[r], sizeof(int32_t), "download of shift"))
            return;
    }
    int64_t sh2[2] = {(int64_t)R, (int64_t)n}, sh1 = (int64_t)R;
    cmp_named(c, "v", DT_INT, 2, sh2, v, NITI_I8);
    cmp_named(c, "shift", DT_INT, 1, &sh1, shift, NITI_I32);
    cmp_named(c, "bw", DT_INT, 1, &sh1, bw, NITI_I32);
}

/* ------------------------------------------------------------------------------------------ */
/* gradquant: quantisation and update, per row */

static void run_gradquant(cc_t *c)
{
    int64_t mu, decay;
    if (!need_int(c, "mu", -32, 64, &mu) || !need_int(c, "decay", 0, 1, &decay)) return;
    const niti_st_tensor *G = need_t(c, "G", DT(NITI_I64), 2, NULL);
    if (!G) return;
    const niti_st_tensor *W = need_t(c, "W", DT(NITI_I8), 2, G->shape);
    if (!W) return;
    size_t R = (size_t)G->shape[0], n = (size_t)G->shape[1];
    niti_buf *gb = balloc(c, n * 8, "G"), *wb = balloc(c, n, "W"), *qb = balloc(c, n, "g");
    int64_t *Gd = hmem(c, R * n * 8);
    int8_t *g = hmem(c, R * n), *w = hmem(c, R * n);
    if (!gb || !wb || !qb || !Gd || !g || !w) return;
    for (size_t r = 0; r < R; r++) {
        if (!op_ok(c, c->be->ops->upload(c->be, gb, 0, (const int64_t *)G->data + r * n, n * 8),
                   "upload of G row") ||
            !op_ok(c, c->be->ops->upload(c->be, wb, 0, (const int8_t *)W->data + r * n, n),
                   "upload of W row") ||
            !op_ok(c, c->be->ops->update(c->be, n, gb, (int)mu, (int)decay, wb, NULL, qb),
                   "update") ||
            !bdown(c, qb, 0, g + r * n, n, "download of g") ||
            !bdown(c, wb, 0, w + r * n, n, "download of W") ||
            !bdown(c, gb, 0, Gd + r * n, n * 8, "download of G"))
            return;
    }
    if (decay) cmp_named(c, "G_decayed", DT_INT, 2, G->shape, Gd, NITI_I64);
    cmp_named(c, "g", DT_INT, 2, G->shape, g, NITI_I8);
    cmp_named(c, "w_new", DT_INT, 2, G->shape, w, NITI_I8);
}

/* ------------------------------------------------------------------------------------------ */
/* loss */

static void run_loss(cc_t *c)
{
    int64_t e, seed, step, N, C;
    if (!need_int(c, "out_exp", -1000, 1000, &e) || !need_int(c, "seed", 0, INT64_MAX, &seed) ||
        !need_int(c, "step", 0, UINT32_MAX, &step) || !need_int(c, "N", 1, INT32_MAX, &N) ||
        !need_int(c, "C", 1, INT32_MAX, &C))
        return;
    int64_t shNC[2] = {N, C};
    const niti_st_tensor *lg = need_t(c, "logits", DT(NITI_I8), 2, shNC);
    const niti_st_tensor *lb = need_t(c, "labels", DT(NITI_I32), 1, &N);
    if (!lg || !lb) return;
    size_t nc = (size_t)N * (size_t)C;
    niti_buf *lgb = bupload(c, lg), *lbb = bupload(c, lb),
             *sc = balloc(c, 4 * sizeof(int32_t), "scalars"), *qb = balloc(c, nc * 8, "q"),
             *eb = balloc(c, nc, "err");
    int64_t *q = hmem(c, nc * 8);
    int8_t *err = hmem(c, nc);
    int32_t eo = 0;
    if (!lgb || !lbb || !sc || !qb || !eb || !q || !err) return;
    if (!op_ok(c, c->be->ops->loss_bwd(c->be, (int)N, (int)C, lgb, lbb, sc, (int)e, -1, 0,
                                       (uint64_t)seed, (uint32_t)step, qb, eb),
               "loss_bwd") ||
        !bdown(c, qb, 0, q, nc * 8, "download of q") ||
        !bdown(c, eb, 0, err, nc, "download of err") ||
        !bdown(c, sc, 0, &eo, sizeof eo, "download of the loss exponent"))
        return;
    cmp_scalar(c, "loss exponent (scalars[e_out_slot])", eo, e);
    cmp_named(c, "q", DT_INT, 2, shNC, q, NITI_I64);
    cmp_named(c, "err", DT_INT, 2, shNC, err, NITI_I8);
}

/* ------------------------------------------------------------------------------------------ */
/* conv / linear: one layer forward, backward and update */

static void run_layer(cc_t *c, int linear)
{
    niti_rule rule;
    niti_rounding act_r, err_r;
    int64_t mu, first = 0, k = 1, pad = 0, stride = 1;
    if (!need_rule(c, &rule) || !need_mode(c, "act_mode", rule, &act_r) ||
        !need_mode(c, "err_mode", rule, &err_r) || !need_int(c, "mu", -32, 64, &mu))
        return;
    if (!linear) {
        if (!need_int(c, "k", 1, 4096, &k) || !need_int(c, "pad", 0, 4096, &pad) ||
            !need_int(c, "stride", 1, 1, &stride) || !need_int(c, "first_layer", 0, 1, &first))
            return;
    } else if (niti_st_meta_get(c->st, "first_layer")) {
        if (!need_int(c, "first_layer", 0, 1, &first)) return;
    }
    const niti_st_tensor *A = need_t(c, "A", DT(NITI_I8), linear ? 2 : 4, NULL);
    const niti_st_tensor *W = need_t(c, "W", DT(NITI_I8), linear ? 2 : 4, NULL);
    if (!A || !W) return;
    int64_t N = A->shape[0], H = 1, Wd = 1, I, O = W->shape[0];
    if (linear) {
        I = A->shape[1];
        if (W->shape[1] != I) {
            cfail(c, "tensor W has %lld inputs but A has %lld features", (long long)W->shape[1],
                  (long long)I);
            return;
        }
    } else {
        H = A->shape[1], Wd = A->shape[2], I = A->shape[3];
        if (W->shape[1] != k || W->shape[2] != k || W->shape[3] != I) {
            cfail(c, "tensor W has shape [%lld,%lld,%lld,%lld], expected [O,%lld,%lld,%lld]",
                  (long long)W->shape[0], (long long)W->shape[1], (long long)W->shape[2],
                  (long long)W->shape[3], (long long)k, (long long)k, (long long)I);
            return;
        }
    }
    niti_conv_geom g;
    if (N > INT32_MAX || H > INT32_MAX || Wd > INT32_MAX || I > INT32_MAX || O > INT32_MAX ||
        !op_ok(c, niti_conv_geom_init(&g, (int)N, (int)H, (int)Wd, (int)I, (int)O, (int)k,
                                      (int)pad),
               "geometry"))
        return;
    int64_t shOut[4] = {N, g.Ho, g.Wo, O}, shOut2[2] = {N, O};
    int64_t *sOut = linear ? shOut2 : shOut;
    int nd = linear ? 2 : 4;
    const niti_st_tensor *E = need_t(c, "E", DT(NITI_I8), nd, sOut);
    if (!E) return;
    if (first && (niti_st_find(c->st, "accE") || niti_st_find(c->st, "e_prev") ||
                  niti_st_meta_get(c->st, "e_shift"))) {
        cfail(c, "first_layer = 1 but accE / e_prev / e_shift are present");
        return;
    }

    size_t nA = A->count, nW = W->count, nOut = E->count;
    niti_dtype tf = niti_acc_dtype(k * k * I), tb = niti_acc_dtype(O * k * k);
    niti_buf *Ab = bupload(c, A), *Wb = bupload(c, W), *Eb = bupload(c, E),
             *accb = balloc(c, nOut * niti_dtype_size(tf), "acc"), *yb = balloc(c, nOut, "y"),
             *sc = balloc(c, 4 * sizeof(int32_t), "scalars"), *Gb = balloc(c, nW * 8, "G"),
             *gb = balloc(c, nW, "g");
    niti_buf *accEb = NULL, *epb = NULL;
    if (!first) {
        accEb = balloc(c, nA * niti_dtype_size(tb), "accE");
        epb = balloc(c, nA, "e_prev");
        if (!accEb || !epb) return;
    }
    void *acc = hmem(c, nOut * 8), *accE = hmem(c, nA * 8);
    int8_t *y = hmem(c, nOut), *ep = hmem(c, nA), *gq = hmem(c, nW), *wn = hmem(c, nW);
    int64_t *G = hmem(c, nW * 8);
    int32_t scal[4] = {0};
    if (!Ab || !Wb || !Eb || !accb || !yb || !sc || !Gb || !gb || !acc || !accE || !y || !ep ||
        !gq || !wn || !G)
        return;
    const niti_backend_ops *ops = c->be->ops;
    niti_backend *be = c->be;
    if (!op_ok(c, ops->conv_fwd(be, &g, Ab, Wb, accb, tf), "conv_fwd") ||
        !op_ok(c, ops->requant(be, accb, tf, nOut, rule, act_r, yb, sc, 0, -1, 0, -1, NULL),
               "requant of acc"))
        return;
    if (!first && (!op_ok(c, ops->conv_dgrad(be, &g, Eb, Wb, accEb, tb), "conv_dgrad") ||
                   !op_ok(c, ops->requant(be, accEb, tb, nA, rule, err_r, epb, sc, 1, -1, 0, -1, NULL),
                          "requant of accE")))
        return;
    if (!op_ok(c, ops->conv_wgrad(be, &g, Ab, Eb, Gb, NULL), "conv_wgrad") ||
        !bdown(c, Gb, 0, G, nW * 8, "download of G") ||
        !op_ok(c, ops->update(be, nW, Gb, (int)mu, 0, Wb, NULL, gb), "update") ||
        !bdown(c, accb, 0, acc, nOut * niti_dtype_size(tf), "download of acc") ||
        !bdown(c, yb, 0, y, nOut, "download of y") ||
        !bdown(c, sc, 0, scal, sizeof scal, "download of the shifts") ||
        !bdown(c, gb, 0, gq, nW, "download of g") || !bdown(c, Wb, 0, wn, nW, "download of W"))
        return;
    if (!first && (!bdown(c, accEb, 0, accE, nA * niti_dtype_size(tb), "download of accE") ||
                   !bdown(c, epb, 0, ep, nA, "download of e_prev")))
        return;

    cmp_named(c, "acc", DT_INT, nd, sOut, acc, tf);
    cmp_named(c, "y", DT_INT, nd, sOut, y, NITI_I8);
    cmp_meta(c, "y_shift", scal[0]);
    if (!first) {
        cmp_named(c, "accE", DT_INT, A->ndim, A->shape, accE, tb);
        cmp_named(c, "e_prev", DT_INT, A->ndim, A->shape, ep, NITI_I8);
        cmp_meta(c, "e_shift", scal[1]);
    }
    cmp_named(c, "G", DT_INT, W->ndim, W->shape, G, NITI_I64);
    cmp_named(c, "g", DT_INT, W->ndim, W->shape, gq, NITI_I8);
    cmp_named(c, "W_new", DT_INT, W->ndim, W->shape, wn, NITI_I8);
}

/* ------------------------------------------------------------------------------------------ */
/* pool, relu */

static void run_pool(cc_t *c)
{
    const niti_st_tensor *A = need_t(c, "A", DT(NITI_I8), 4, NULL);
    if (!A) return;
    int64_t N = A->shape[0], H = A->shape[1], W = A->shape[2], C = A->shape[3];
    if (N < 1 || H < 2 || W < 2 || C < 1 || N > INT32_MAX || H > INT32_MAX || W > INT32_MAX ||
        C > INT32_MAX) {
        cfail(c, "tensor A is too small or too large for a 2x2 pool");
        return;
    }
    int64_t shY[4] = {N, H / 2, W / 2, C};
    const niti_st_tensor *E = need_t(c, "E", DT(NITI_I8), 4, shY);
    if (!E) return;
    size_t nY = E->count;
    niti_buf *Ab = bupload(c, A), *Eb = bupload(c, E), *Yb = balloc(c, nY, "y"),
             *amb = balloc(c, nY, "argmax"), *Pb = balloc(c, A->count, "e_prev");
    int8_t *y = hmem(c, nY), *ep = hmem(c, A->count);
    uint8_t *am = hmem(c, nY);
    if (!Ab || !Eb || !Yb || !amb || !Pb || !y || !ep || !am) return;
    if (!op_ok(c, c->be->ops->maxpool_fwd(c->be, (int)N, (int)H, (int)W, (int)C, Ab, Yb, amb),
               "maxpool_fwd") ||
        !op_ok(c, c->be->ops->maxpool_bwd(c->be, (int)N, (int)H, (int)W, (int)C, Eb, amb, Pb),
               "maxpool_bwd") ||
        !bdown(c, Yb, 0, y, nY, "download of y") || !bdown(c, amb, 0, am, nY, "download of argmax") ||
        !bdown(c, Pb, 0, ep, A->count, "download of e_prev"))
        return;
    cmp_named(c, "y", DT_INT, 4, shY, y, NITI_I8);
    cmp_named(c, "argmax", DT_INT, 4, shY, am, NITI_U8);
    cmp_named(c, "e_prev", DT_INT, 4, A->shape, ep, NITI_I8);
}

static void run_relu(cc_t *c)
{
    const niti_st_tensor *A = need_t(c, "A", DT(NITI_I8), -1, NULL);
    if (!A) return;
    const niti_st_tensor *E = need_t(c, "E", DT(NITI_I8), A->ndim, A->shape);
    if (!E) return;
    size_t n = A->count;
    niti_buf *Ab = bupload(c, A), *Eb = bupload(c, E), *Yb = balloc(c, n, "y"),
             *Pb = balloc(c, n, "e_prev");
    int8_t *y = hmem(c, n), *ep = hmem(c, n);
    if (!Ab || !Eb || !Yb || !Pb || !y || !ep) return;
    if (!op_ok(c, c->be->ops->relu_fwd(c->be, n, Ab, Yb), "relu_fwd") ||
        !op_ok(c, c->be->ops->relu_bwd(c->be, n, Ab, Eb, Pb), "relu_bwd") ||
        !bdown(c, Yb, 0, y, n, "download of y") || !bdown(c, Pb, 0, ep, n, "download of e_prev"))
        return;
    cmp_named(c, "y", DT_INT, A->ndim, A->shape, y, NITI_I8);
    cmp_named(c, "e_prev", DT_INT, A->ndim, A->shape, ep, NITI_I8);
}

/* ------------------------------------------------------------------------------------------ */
/* net: a small network trained for several steps through net.h */

static int input_stats(const char *norm, int ch, double *mean, double *std)
{
    static const double cm[3] = {0.49139968, 0.48215827, 0.44653124};
    static const double cs[3] = {0.24703233, 0.24348505, 0.26158768};
    if (!strcmp(norm, "mnist")) {
        *mean = 0.1307, *std = 0.3081;
    } else if (!strcmp(norm, "fashion-mnist") || !strcmp(norm, "fashion_mnist") ||
               !strcmp(norm, "fashion")) {
        *mean = 0.2860, *std = 0.3530;
    } else if (!strcmp(norm, "cifar10") && ch >= 0 && ch < 3) {
        *mean = cm[ch], *std = cs[ch];
    } else {
        return 0;
    }
    return 1;
}

static void run_net_steps(cc_t *c, niti_net *net, const niti_model_spec *m, uint64_t seed,
                          uint32_t t0, int64_t steps, int64_t batch, int classes,
                          const int8_t *inputs, const int32_t *labels)
{
    size_t img = (size_t)m->in_h * m->in_w * m->in_c, nc = (size_t)batch * classes;
    int8_t *logits = hmem(c, nc), *err = hmem(c, nc), *w = NULL;
    int64_t *q = hmem(c, nc * 8);
    int64_t maxw = 0;
    for (int k = 0; k < m->n_layers; k++)
        if (niti_layer_params(&m->layers[k]) > maxw) maxw = niti_layer_params(&m->layers[k]);
    w = hmem(c, (size_t)maxw);
    if (!logits || !err || !q || !w) return;
    int64_t shL[2] = {batch, classes};
    char key[128], key2[128];
    for (int64_t s = 0; s < steps; s++) {
        int before = c->fails;
        int64_t mu;
        snprintf(key, sizeof key, "step%lld.mu", (long long)s);
        if (!need_int(c, key, -32, 64, &mu)) return;
        uint32_t t = (uint32_t)(t0 + (uint64_t)s);
        snprintf(key, sizeof key, "step%lld.t", (long long)s);
        if (niti_st_meta_get(c->st, key)) cmp_meta(c, key, t);
        niti_status st = niti_net_train_step(net, inputs + (size_t)s * batch * img,
                                             labels + (size_t)s * batch, (int)batch, (int)mu, t,
                                             logits);
        if (st != NITI_OK) {
            cfail(c, "step %lld: train_step failed: %s: %s", (long long)s, niti_status_name(st),
                  niti_last_error());
            return;
        }
        snprintf(key, sizeof key, "step%lld.logits", (long long)s);
        cmp_named(c, key, DT_INT, 2, shL, logits, NITI_I8);
        snprintf(key, sizeof key, "step%lld.out_exp", (long long)s);
        cmp_meta(c, key, niti_net_out_exp(net));
        if (op_ok(c, niti_net_last_loss(net, q, err), "net_last_loss")) {
            snprintf(key, sizeof key, "step%lld.q", (long long)s);
            cmp_named(c, key, DT_INT, 2, shL, q, NITI_I64);
            snprintf(key, sizeof key, "step%lld.err", (long long)s);
            cmp_named(c, key, DT_INT, 2, shL, err, NITI_I8);
        }
        for (int k = 0; k < m->n_layers; k++) {
            const niti_layer_spec *l = &m->layers[k];
            if (l->kind == NITI_LAYER_DROPOUT) {
                size_t F = (size_t)l->out_h * l->out_w * l->out_c;
                uint8_t *mask = hmem(c, F);
                if (!mask) return;
                for (size_t j = 0; j < F; j++)
                    mask[j] = (uint8_t)niti_dropout_keep(seed, t, (uint32_t)k, (uint32_t)j);
                int64_t shF = (int64_t)F;
                snprintf(key, sizeof key, "step%lld.L%d.mask", (long long)s, k);
                cmp_named(c, key, DT_INT, 1, &shF, mask, NITI_U8);
            }
            if (!niti_layer_has_weights(l)) continue;
            snprintf(key, sizeof key, "step%lld.L%d.shift", (long long)s, k);
            cmp_meta(c, key, niti_net_layer_shift(net, k));
            snprintf(key, sizeof key, "step%lld.L%d.err_shift", (long long)s, k);
            if (k != 0 || niti_st_meta_get(c->st, key))
                cmp_meta(c, key, niti_net_layer_err_shift(net, k));
            int exp = 0;
            if (!op_ok(c, niti_net_get_weights(net, k, w, &exp), "net_get_weights")) continue;
            snprintf(key, sizeof key, "step%lld.L%d.weight", (long long)s, k);
            snprintf(key2, sizeof key2, "L%d.weight", k);
            const niti_st_tensor *w0 = niti_st_find(c->st, key2);
            if (w0) cmp_named(c, key, DT_INT, w0->ndim, w0->shape, w, NITI_I8);
            snprintf(key2, sizeof key2, "L%d.weight_exp", k);
            cmp_meta(c, key2, exp);
        }
        if (c->fails != before) {
            if (s + 1 < steps)
                cfail(c, "stopped at step %lld of %lld (later steps diverge)", (long long)s,
                      (long long)steps);
            return;
        }
    }
}

static void run_net(cc_t *c)
{
    const char *spec = need_str(c, "net");
    niti_rule rule;
    niti_rounding act_r, err_r;
    int64_t seed, t0, batch, steps, classes, e0;
    const char *norm = need_str(c, "input_norm");
    if (!spec || !norm || !need_rule(c, &rule) || !need_mode(c, "act_mode", rule, &act_r) ||
        !need_mode(c, "err_mode", rule, &err_r) || !need_int(c, "seed", 0, INT64_MAX, &seed) ||
        !need_int(c, "t0", 0, UINT32_MAX, &t0) || !need_int(c, "batch", 1, 1 << 20, &batch) ||
        !need_int(c, "steps", 0, 1 << 20, &steps) ||
        !need_int(c, "classes", 1, 1 << 20, &classes) ||
        !need_int(c, "e0", NITI_INPUT_EXP, NITI_INPUT_EXP, &e0))
        return;
    niti_model_spec *m = NULL;
    niti_status st = niti_model_parse(spec, &m);
    if (st != NITI_OK) {
        cfail(c, "cannot parse the net spec '%s': %s", spec, niti_last_error());
        return;
    }
    niti_net *net = NULL;
    if (niti_model_classes(m) != classes) {
        cfail(c, "the net has %d classes, metadata 'classes' says %lld", niti_model_classes(m),
              (long long)classes);
        goto out;
    }
    int64_t shIn[5] = {steps, batch, m->in_h, m->in_w, m->in_c}, shLab[2] = {steps, batch};
    const niti_st_tensor *px = need_t(c, "pixels", DT(NITI_U8), 5, shIn);
    const niti_st_tensor *in = need_t(c, "inputs", DT(NITI_I8), 5, shIn);
    const niti_st_tensor *lab = need_t(c, "labels", DT(NITI_I32), 2, shLab);
    if (!px || !in || !lab) goto out;
    for (size_t i = 0; i < lab->count; i++) {
        int32_t v = ((const int32_t *)lab->data)[i];
        if (v < 0 || v >= classes) {
            cfail(c, "labels[%zu] = %d is not a class index", i, (int)v);
            goto out;
        }
    }

    /* The §10 input table applied to the pixels must give `inputs`. */
    int8_t *q0 = hmem(c, px->count);
    if (!q0) goto out;
    {
        int C = m->in_c;
        int8_t table[256];
        for (int ch = 0; ch < C; ch++) {
            double mean, sd;
            if (!input_stats(norm, ch, &mean, &sd)) {
                cfail(c, "input_norm '%s' has no statistics for channel %d of %d", norm, ch, C);
                goto out;
            }
            niti_input_table(mean, sd, table);
            for (size_t i = (size_t)ch; i < px->count; i += (size_t)C)
                q0[i] = table[((const uint8_t *)px->data)[i]];
        }
        cmp_tensor(c, "inputs", in, q0, NITI_I8);
    }

    niti_train_cfg cfg;
    niti_train_cfg_default(&cfg);
    cfg.rule = rule;
    cfg.act_round = act_r;
    cfg.err_round = err_r;
    cfg.seed = (uint64_t)seed;
    cfg.weight_decay = 0;
    cfg.master16 = 0;
    st = niti_net_create(c->be, m, (int)batch, &cfg, &net);
    if (st != NITI_OK) {
        cfail(c, "net_create failed: %s: %s", niti_status_name(st), niti_last_error());
        goto out;
    }
    for (int k = 0; k < m->n_layers; k++) {
        if (!niti_layer_has_weights(&m->layers[k])) continue;
        char key[64];
        int64_t we;
        snprintf(key, sizeof key, "L%d.weight", k);
        const niti_st_tensor *w = need_t(c, key, DT(NITI_I8), -1, NULL);
        snprintf(key, sizeof key, "L%d.weight_exp", k);
        if (!w || !need_int(c, key, -64, 64, &we)) goto out;
        if ((int64_t)w->count != niti_layer_params(&m->layers[k])) {
            cfail(c, "tensor L%d.weight has %zu elements, the layer has %lld weights", k,
                  w->count, (long long)niti_layer_params(&m->layers[k]));
            goto out;
        }
        if (!op_ok(c, niti_net_set_weights(net, k, w->data, (int)we), "net_set_weights")) goto out;
    }
    /* The steps get the inputs quantised here (from `pixels`), so that a wrong `inputs` tensor
     * is reported once above instead of spoiling every step. */
    run_net_steps(c, net, m, (uint64_t)seed, (uint32_t)t0, steps, batch, (int)classes, q0,
                  lab->data);
out:
    if (net) niti_net_free(net);
    if (m) niti_model_free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* dispatch */

int niti_conformance_case(niti_backend *be, const niti_st *st, const char *name, FILE *out,
                          int flags)
{
    cc_t c = {0};
    c.be = be, c.st = st, c.name = name, c.out = out, c.flags = flags;
    const char *kind = niti_st_meta_get(st, "kind");
    const char *contract = niti_st_meta_get(st, "contract");
    if (!kind) {
        cfail(&c, "metadata 'kind' is missing");
    } else if (!contract || strcmp(contract, "numerics v1")) {
        cfail(&c, "metadata 'contract' is %s%s%s, expected 'numerics v1'", contract ? "'" : "",
              contract ? contract : "missing", contract ? "'" : "");
    } else if (!strcmp(kind, "round")) {
        run_round(&c);
    } else if (!strcmp(kind, "requant")) {
        run_requant(&c);
    } else if (!strcmp(kind, "gradquant")) {
        run_gradquant(&c);
    } else if (!strcmp(kind, "loss")) {
        run_loss(&c);
    } else if (!strcmp(kind, "conv")) {
        run_layer(&c, 0);
    } else if (!strcmp(kind, "linear")) {
        run_layer(&c, 1);
    } else if (!strcmp(kind, "pool")) {
        run_pool(&c);
    } else if (!strcmp(kind, "relu")) {
        run_relu(&c);
    } else if (!strcmp(kind, "net")) {
        run_net(&c);
    } else {
        cfail(&c, "unknown kind '%s'", kind);
    }
    release_all(&c);
    if (!c.fails && !(flags & NITI_CONF_QUIET)) fprintf(out, "PASS %s\n", name);
    fflush(out);
    return c.fails == 0;
}

/* Case name: the file name without folders and without ".safetensors". */
static char *case_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *ext = ".safetensors";
    size_t el = strlen(ext);
    if (n > el && !strcmp(b + n - el, ext)) n -= el;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, b, n);
        s[n] = 0;
    }
    return s;
}

static void run_file(niti_backend *be, const char *path, FILE *out, int flags, int *passed,
                     int *failed)
{
    char *name = case_name(path);
    const char *nm = name ? name : path;
    niti_st *st = NULL;
    if (niti_st_read(path, &st) != NITI_OK) {
        fprintf(out, "FAIL %s: %s\n", nm, niti_last_error());
        fflush(out);
        (*failed)++;
    } else if (niti_conformance_case(be, st, nm, out, flags)) {
        (*passed)++;
    } else {
        (*failed)++;
    }
    niti_st_free(st);
    free(name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

niti_status niti_conformance_run_ex(niti_backend *be, const char *path, FILE *out, int flags,
                                    int *passed, int *failed)
{
    if (!be || !path || !out || !passed || !failed)
        return niti_fail(NITI_ERR_INVALID, "conformance: missing argument");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return niti_fail(NITI_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        FILE *f = fopen(path, "rb");
        if (!f) return niti_fail(NITI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        fclose(f);
        run_file(be, path, out, flags, passed, failed);
        return NITI_OK;
    }
    if (!S_ISDIR(sb.st_mode))
        return niti_fail(NITI_ERR_IO, "%s: not a file or folder", path);

    DIR *d = opendir(path);
    if (!d) return niti_fail(NITI_ERR_IO, "%s: cannot open the folder: %s", path, strerror(errno));
    char **files = NULL;
    size_t n = 0, cap = 0;
    niti_status s = NITI_OK;
    const char *ext = ".safetensors";
    size_t el = strlen(ext);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len <= el || strcmp(e->d_name + len - el, ext) || e->d_name[0] == '.') continue;
        size_t plen = strlen(path) + 1 + len + 1;
        char *full = malloc(plen);
        if (!full) {
            s = niti_fail(NITI_ERR_NOMEM, "conformance: file list");
            break;
        }
        snprintf(full, plen, "%s/%s", path, e->d_name);
        struct stat fs;
        if (stat(full, &fs) != 0 || !S_ISREG(fs.st_mode)) {
            free(full);
            continue;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nf = realloc(files, nc * sizeof *nf);
            if (!nf) {
                free(full);
                s = niti_fail(NITI_ERR_NOMEM, "conformance: file list");
                break;
            }
            files = nf, cap = nc;
        }
        files[n++] = full;
    }
    closedir(d);
    if (s == NITI_OK && n == 0)
        s = niti_fail(NITI_ERR_IO, "%s: no *.safetensors case files in this folder", path);
    if (s == NITI_OK) {
        qsort(files, n, sizeof *files, cmp_str);
        for (size_t i = 0; i < n; i++) run_file(be, files[i], out, flags, passed, failed);
    }
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
    return s;
}

niti_status niti_conformance_run(niti_backend *be, const char *path, FILE *out, int *passed,
                                 int *failed)
{
    return niti_conformance_run_ex(be, path, out, 0, passed, failed);
}
