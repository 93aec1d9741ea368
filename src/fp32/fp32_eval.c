/* Evaluation of the fp32 baseline on a dataset: the twin of niti_evaluate (train/train.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fp32/fp32.h"
#include "io/data.h"

niti_status niti_f32_evaluate(niti_f32_net *net, const niti_dataset *d,
                              const int8_t tables[3][256], int batch, int limit, int64_t *correct,
                              int64_t *total, int64_t *confusion, double *loss_sum)
{
    const niti_model_spec *m = niti_f32_model(net);
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
    float *logits = malloc(sizeof(float) * (size_t)batch * C);
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)batch);
    int32_t *lab = malloc(sizeof(int32_t) * (size_t)batch);
    niti_status s = in && logits && idx && lab ? NITI_OK
                                               : niti_fail(NITI_ERR_NOMEM, "evaluation buffers");
    int64_t ok = 0;
    double ls = 0;
    if (confusion) memset(confusion, 0, sizeof(int64_t) * (size_t)C * C);
    for (int start = 0; s == NITI_OK && start < n; start += batch) {
        int cnt = n - start < batch ? n - start : batch;
        for (int i = 0; i < cnt; i++) idx[i] = start + i;
        niti_make_batch(d, idx, cnt, tables, NITI_AUGMENT_NONE, 0, 0, in, lab);
        s = niti_f32_forward(net, in, cnt, logits);
        for (int i = 0; s == NITI_OK && i < cnt; i++) {
            const float *o = logits + (size_t)i * C;
            int best = 0;
            double mx = o[0], sum = 0;
            for (int c = 1; c < C; c++) {
                if (o[c] > o[best]) best = c;
                if (o[c] > mx) mx = o[c];
            }
            for (int c = 0; c < C; c++) sum += exp(o[c] - mx);
            ls += log(sum) - (o[lab[i]] - mx);
            ok += best == lab[i];
            if (confusion) confusion[(size_t)lab[i] * C + best]++;
        }
    }
    free(in), free(logits), free(idx), free(lab);
    if (s != NITI_OK) return s;
    *correct = ok;
    *total = n;
    if (loss_sum) *loss_sum = ls;
    return NITI_OK;
}
