#include "train/train.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "core/comm.h"
#include "core/error.h"
#include "core/numerics.h"

static niti_status parse_int(const char **p, const char *text, const char *what, long lo, long hi,
                             int *out)
{
    const char *s = *p;
    char *end;
    if (!(*s == '-' || (*s >= '0' && *s <= '9')))
        return niti_fail(NITI_ERR_FORMAT, "mu schedule '%s' at column %d: expected %s", text,
                         (int)(s - text) + 1, what);
    long v = strtol(s, &end, 10);
    if (end == s || v < lo || v > hi)
        return niti_fail(NITI_ERR_FORMAT, "mu schedule '%s' at column %d: %s must be in %ld..%ld",
                         text, (int)(s - text) + 1, what, lo, hi);
    *out = (int)v;
    *p = end;
    return NITI_OK;
}

niti_status niti_mu_parse(const char *text, niti_mu_schedule *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) return niti_fail(NITI_ERR_FORMAT, "empty mu schedule");
    const char *p = text;
    int v;
    NITI_TRY(parse_int(&p, text, "a mu value", -64, 64, &v));
    out->n = 1;
    out->from_epoch[0] = 0;
    out->mu[0] = v;
    while (*p) {
        if (*p != ',')
            return niti_fail(NITI_ERR_FORMAT,
                             "mu schedule '%s' at column %d: expected ',EPOCH:MU', got '%c'", text,
                             (int)(p - text) + 1, *p);
        p++;
        if (out->n == NITI_MU_MAX_STAGES)
            return niti_fail(NITI_ERR_FORMAT, "mu schedule '%s' has more than %d stages", text,
                             NITI_MU_MAX_STAGES);
        int e = 0;
        NITI_TRY(parse_int(&p, text, "an epoch", 1, 1 << 24, &e));
        if (e <= out->from_epoch[out->n - 1])
            return niti_fail(NITI_ERR_FORMAT, "mu schedule '%s': epoch %d does not come after %d",
                             text, e, out->from_epoch[out->n - 1]);
        if (*p != ':')
            return niti_fail(NITI_ERR_FORMAT, "mu schedule '%s' at column %d: expected ':' after "
                                              "the epoch", text, (int)(p - text) + 1);
        p++;
        NITI_TRY(parse_int(&p, text, "a mu value", -64, 64, &v));
        out->from_epoch[out->n] = e;
        out->mu[out->n] = v;
        out->n++;
    }
    return NITI_OK;
}

int niti_mu_at(const niti_mu_schedule *s, int epoch)
{
    int mu = s->mu[0];
    for (int i = 1; i < s->n; i++)
        if (epoch >= s->from_epoch[i]) mu = s->mu[i];
    return mu;
}

void niti_mu_format(const niti_mu_schedule *s, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n && off < len; i++) {
        int n = i ? snprintf(buf + off, len - off, ",%d:%d", s->from_epoch[i], s->mu[i])
                  : snprintf(buf + off, len - off, "%d", s->mu[i]);
        if (n < 0) break;
        off += (size_t)n;
    }
}

int niti_argmax_i8(const int8_t *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

niti_status niti_evaluate(niti_net *net, const niti_dataset *d, const int8_t tables[3][256],
                          int batch, int limit, int64_t *correct, int64_t *total,
                          int64_t *confusion, double *loss_sum)
{
    const niti_model_spec *m = niti_net_model(net);
    int C = niti_model_classes(m);
    if (m->in_h != d->h || m->in_w != d->w || m->in_c != d->c)
        return niti_fail(NITI_ERR_INVALID, "the model takes %dx%dx%d images, the dataset has %dx%dx%d",
                         m->in_h, m->in_w, m->in_c, d->h, d->w, d->c);
    if (C < d->classes)
        return niti_fail(NITI_ERR_INVALID, "the model has %d outputs, the dataset %d classes", C,
                         d->classes);
    int n = limit > 0 && limit < d->n ? limit : d->n;
    size_t img = (size_t)d->h * d->w * d->c;
    int8_t *in = malloc((size_t)batch * img);
    int8_t *logits = malloc((size_t)batch * C);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)batch);
    niti_status s = NITI_OK;
    if (!in || !logits || !idx || !lab) s = niti_fail(NITI_ERR_NOMEM, "evaluation buffers");
    int64_t ok = 0;
    double ls = 0;
    if (confusion) memset(confusion, 0, sizeof(int64_t) * (size_t)C * C);
    /* With several processes (niti_net_set_comm) each builds its slice of every batch and
     * gets the whole batch's logits back, so every rank counts the same. */
    const niti_comm *comm = niti_net_comm(net);
    for (int start = 0; s == NITI_OK && start < n; start += batch) {
        int cnt = n - start < batch ? n - start : batch;
        for (int i = 0; i < cnt; i++) idx[i] = start + i;
        int first = 0, mine = cnt;
        if (comm) niti_batch_slice(cnt, comm->rank, comm->size, &first, &mine);
        niti_make_batch_at(d, idx + first, mine, first, tables, NITI_AUGMENT_NONE, 0, 0, in,
                           NULL);
        for (int i = 0; i < cnt; i++) lab[i] = d->labels[idx[i]];
        int e = 0;
        s = niti_net_forward(net, in, cnt, logits, &e);
        if (s != NITI_OK) break;
        for (int i = 0; i < cnt; i++) {
            int pred = niti_argmax_i8(logits + (size_t)i * C, C);
            ok += pred == lab[i];
            if (confusion) confusion[(size_t)lab[i] * C + pred]++;
            if (loss_sum) ls += niti_display_loss(logits + (size_t)i * C, C, lab[i], e);
        }
    }
    free(in), free(logits), free(idx), free(lab);
    if (s != NITI_OK) return s;
    *correct = ok;
    *total = n;
    if (loss_sum) *loss_sum = ls;
    return NITI_OK;
}
