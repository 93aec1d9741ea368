/* Bindings API (niti.h, issue #18): model facts, the mu schedule, statistics of logits,
 * evaluation of int8 arrays, and checkpoints with a run state of fixed layout. Each one is the
 * helper `niti train` uses (niti_mu_parse/niti_mu_at, niti_display_loss, niti_argmax_i8, the
 * batch-by-batch evaluation of niti_evaluate, niti_checkpoint_save/load), on plain arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/model.h"
#include "core/numerics.h"
#include "io/checkpoint.h"
#include "train/train.h"

niti_status niti_bindings_check(int level, size_t run_info_size, size_t device_desc_size)
{
    if (level != NITI_BINDINGS_LEVEL)
        return niti_fail(NITI_ERR_UNSUPPORTED,
                         "this libniti (%s) has bindings level %d, the caller wants level %d: the "
                         "package and the library come from different versions of niti",
                         NITI_VERSION_STRING, NITI_BINDINGS_LEVEL, level);
    if (run_info_size != sizeof(niti_run_info) || device_desc_size != sizeof(niti_device_desc))
        return niti_fail(NITI_ERR_UNSUPPORTED,
                         "struct sizes differ: niti_run_info %zu here, %zu in the caller; "
                         "niti_device_desc %zu here, %zu in the caller",
                         sizeof(niti_run_info), run_info_size, sizeof(niti_device_desc),
                         device_desc_size);
    return NITI_OK;
}

/* ---------------------------------------------------------------- models */

const char *niti_model_name(const niti_model_spec *m)
{
    return m && m->name && *m->name ? m->name : "custom";
}

const char *niti_model_text(const niti_model_spec *m)
{
    return m && m->canonical ? m->canonical : "";
}

void niti_model_input_shape(const niti_model_spec *m, int *h, int *w, int *c)
{
    if (h) *h = m->in_h;
    if (w) *w = m->in_w;
    if (c) *c = m->in_c;
}

int niti_model_layer_count(const niti_model_spec *m) { return m->n_layers; }

int niti_model_layer_text(const niti_model_spec *m, int layer, char *buf, size_t size)
{
    if (layer < 0 || layer >= m->n_layers) return -1;
    return niti_layer_format(&m->layers[layer], buf, size);
}

int niti_model_weight_shape(const niti_model_spec *m, int layer, int64_t shape[4])
{
    if (layer < 0 || layer >= m->n_layers) return -1;
    const niti_layer_spec *l = &m->layers[layer];
    if (l->kind == NITI_LAYER_CONV) {
        shape[0] = l->out_ch, shape[1] = l->k, shape[2] = l->k, shape[3] = l->in_c;
        return 4;
    }
    if (l->kind == NITI_LAYER_LINEAR) {
        shape[0] = l->out_ch, shape[1] = l->in_c;
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------- training-loop helpers */

niti_status niti_mu_schedule_at(const char *schedule, int epoch, int *mu)
{
    niti_mu_schedule s;
    NITI_TRY(niti_mu_parse(schedule, &s));
    if (mu) *mu = niti_mu_at(&s, epoch);
    return NITI_OK;
}

niti_status niti_logits_stats(const int8_t *logits, const int32_t *labels, int n, int classes,
                              int exp, double *loss_sum, int64_t *correct)
{
    if (n < 0 || classes < 1)
        return niti_fail(NITI_ERR_INVALID, "niti_logits_stats: %d rows of %d classes", n, classes);
    if (n > 0 && (!logits || !labels))
        return niti_fail(NITI_ERR_INVALID, "niti_logits_stats: logits or labels is NULL");
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return niti_fail(NITI_ERR_INVALID, "label %d of row %d is outside 0..%d", labels[i], i,
                             classes - 1);
    double loss = 0;
    int64_t ok = 0;
    for (int i = 0; i < n; i++) {
        const int8_t *o = logits + (size_t)i * classes;
        ok += niti_argmax_i8(o, classes) == labels[i];
        loss += niti_display_loss(o, classes, labels[i], exp);
    }
    if (loss_sum) *loss_sum = loss;
    if (correct) *correct = ok;
    return NITI_OK;
}

niti_status niti_net_evaluate(niti_net *net, const int8_t *inputs, const int32_t *labels, int n,
                              int batch, int64_t *correct, int64_t *confusion, double *loss_sum,
                              int32_t *pred)
{
    if (!net) return niti_fail(NITI_ERR_INVALID, "niti_net_evaluate: no network");
    const niti_model_spec *m = niti_net_model(net);
    int C = niti_model_classes(m);
    if (n < 0 || batch < 1)
        return niti_fail(NITI_ERR_INVALID, "niti_net_evaluate: %d images in batches of %d", n,
                         batch);
    if (!labels && (correct || confusion || loss_sum))
        return niti_fail(NITI_ERR_INVALID, "niti_net_evaluate: accuracy and loss need labels");
    if (n > 0 && !inputs) return niti_fail(NITI_ERR_INVALID, "niti_net_evaluate: inputs is NULL");
    if (labels)
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= C)
                return niti_fail(NITI_ERR_INVALID, "label %d of image %d is outside 0..%d",
                                 labels[i], i, C - 1);
    size_t img = (size_t)m->in_h * m->in_w * m->in_c;
    int8_t *logits = malloc((size_t)batch * C);
    if (!logits) return niti_fail(NITI_ERR_NOMEM, "evaluation logits");
    if (confusion) memset(confusion, 0, sizeof(int64_t) * (size_t)C * C);
    niti_status s = NITI_OK;
    int64_t ok = 0;
    double ls = 0;
    for (int start = 0; start < n; start += batch) {
        int cnt = n - start < batch ? n - start : batch;
        int e = 0;
        s = niti_net_forward(net, inputs + (size_t)start * img, cnt, logits, &e);
        if (s != NITI_OK) break;
        for (int i = 0; i < cnt; i++) {
            const int8_t *o = logits + (size_t)i * C;
            int p = niti_argmax_i8(o, C);
            if (pred) pred[start + i] = p;
            if (!labels) continue;
            int y = labels[start + i];
            ok += p == y;
            if (confusion) confusion[(size_t)y * C + p]++;
            if (loss_sum) ls += niti_display_loss(o, C, y, e);
        }
    }
    free(logits);
    if (s != NITI_OK) return s;
    if (correct) *correct = ok;
    if (loss_sum) *loss_sum = ls;
    return NITI_OK;
}

/* ---------------------------------------------------------------- checkpoints */

niti_status niti_checkpoint_save_info(niti_net *net, const niti_run_info *ri, const char *path)
{
    if (!net || !ri || !path)
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_save_info: a required argument is NULL");
    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = ri->cfg;
    if (memchr(ri->mu, 0, sizeof ri->mu) == NULL || strlen(ri->mu) >= sizeof rs.mu ||
        memchr(ri->dataset, 0, sizeof ri->dataset) == NULL ||
        strlen(ri->dataset) >= sizeof rs.dataset)
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_save_info: mu or dataset too long");
    strcpy(rs.mu, ri->mu);
    strcpy(rs.dataset, ri->dataset);
    rs.batch = ri->batch;
    rs.step = ri->step;
    rs.epoch = ri->epoch;
    rs.batch_pos = ri->batch_pos;
    rs.epochs = ri->epochs;
    return niti_checkpoint_save(net, &rs, path);
}

niti_status niti_checkpoint_load_info(const char *path, niti_backend *be, int max_batch,
                                      niti_net **net_out, niti_run_info *ri_out)
{
    if (!path || !be || !net_out)
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_load_info: a required argument is NULL");
    niti_run_state rs;
    NITI_TRY(niti_checkpoint_load(path, be, max_batch, net_out, &rs));
    if (ri_out) {
        memset(ri_out, 0, sizeof *ri_out);
        ri_out->cfg = rs.cfg;
        snprintf(ri_out->mu, sizeof ri_out->mu, "%s", rs.mu);
        snprintf(ri_out->dataset, sizeof ri_out->dataset, "%s", rs.dataset);
        ri_out->batch = rs.batch;
        ri_out->step = rs.step;
        ri_out->epoch = rs.epoch;
        ri_out->batch_pos = rs.batch_pos;
        ri_out->epochs = rs.epochs;
    }
    return NITI_OK;
}
