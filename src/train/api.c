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

/* Copies a NUL-terminated string of a fixed-size field into another; 0 if it does not fit. */
static int copy_field(char *dst, size_t dsize, const char *src, size_t ssize)
{
    const char *end = memchr(src, 0, ssize);
    if (!end || (size_t)(end - src) >= dsize) return 0;
    memcpy(dst, src, (size_t)(end - src) + 1);
    return 1;
}

#define COPY_FIELD(dst, src) copy_field((dst), sizeof(dst), (src), sizeof(src))

niti_status niti_checkpoint_save_info(niti_net *net, const niti_run_info *ri, const char *path)
{
    if (!net || !ri || !path)
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_save_info: a required argument is NULL");
    niti_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = ri->cfg;
    if (!COPY_FIELD(rs.mu, ri->mu) || !COPY_FIELD(rs.dataset, ri->dataset) ||
        !COPY_FIELD(rs.run_id, ri->run_id) || !COPY_FIELD(rs.label, ri->label) ||
        !COPY_FIELD(rs.save, ri->save) || !COPY_FIELD(rs.log, ri->log) ||
        !COPY_FIELD(rs.data, ri->data) || !COPY_FIELD(rs.device, ri->device) ||
        !COPY_FIELD(rs.device_spec, ri->device_spec) || !COPY_FIELD(rs.augment, ri->augment))
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_save_info: a text field is too long "
                                           "or not terminated");
    strcpy(rs.precision, "int8");
    rs.batch = ri->batch;
    rs.step = ri->step;
    rs.epoch = ri->epoch;
    rs.batch_pos = ri->batch_pos;
    rs.epochs = ri->epochs;
    rs.train_limit = ri->train_limit;
    rs.test_limit = ri->test_limit;
    rs.eval_every = ri->eval_every;
    rs.epoch_loss_sum = ri->epoch_loss_sum;
    rs.epoch_correct = ri->epoch_correct;
    rs.epoch_seen = ri->epoch_seen;
    rs.val = ri->val;
    return niti_checkpoint_save(net, &rs, path);
}

/* The integer run's fields of a run state. */
static void info_of(const niti_run_state *rs, niti_run_info *ri)
{
    memset(ri, 0, sizeof *ri);
    ri->cfg = rs->cfg;
    /* fields of the same size, or larger ones whose content a save limited to these sizes */
    snprintf(ri->mu, sizeof ri->mu, "%s", rs->mu);
    snprintf(ri->dataset, sizeof ri->dataset, "%s", rs->dataset);
    snprintf(ri->run_id, sizeof ri->run_id, "%s", rs->run_id);
    snprintf(ri->label, sizeof ri->label, "%s", rs->label);
    snprintf(ri->save, sizeof ri->save, "%s", rs->save);
    snprintf(ri->log, sizeof ri->log, "%s", rs->log);
    snprintf(ri->data, sizeof ri->data, "%s", rs->data);
    snprintf(ri->device, sizeof ri->device, "%s", rs->device);
    snprintf(ri->device_spec, sizeof ri->device_spec, "%s", rs->device_spec);
    snprintf(ri->augment, sizeof ri->augment, "%s", rs->augment);
    ri->batch = rs->batch;
    ri->step = rs->step;
    ri->epoch = rs->epoch;
    ri->batch_pos = rs->batch_pos;
    ri->epochs = rs->epochs;
    ri->train_limit = rs->train_limit;
    ri->test_limit = rs->test_limit;
    ri->eval_every = rs->eval_every;
    ri->epoch_loss_sum = rs->epoch_loss_sum;
    ri->epoch_correct = rs->epoch_correct;
    ri->epoch_seen = rs->epoch_seen;
    ri->val = rs->val;
}

niti_status niti_checkpoint_load_info(const char *path, niti_backend *be, int max_batch,
                                      niti_net **net_out, niti_run_info *ri_out)
{
    if (!path || !be || !net_out)
        return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_load_info: a required argument is NULL");
    niti_run_state rs;
    NITI_TRY(niti_checkpoint_load(path, be, max_batch, net_out, &rs));
    if (ri_out) info_of(&rs, ri_out);
    return NITI_OK;
}

niti_status niti_checkpoint_info(const char *path, niti_run_info *ri_out, char *model_text,
                                 size_t size)
{
    if (!path) return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_info: no path");
    niti_st *st = NULL;
    niti_run_state rs;
    niti_model_spec *model = NULL;
    niti_status s = niti_checkpoint_read(path, &st);
    if (s != NITI_OK) return s;
    s = niti_checkpoint_validate(st, 1, &rs, &model);
    niti_st_free(st);
    if (s == NITI_OK && !strcmp(rs.precision, "fp32"))
        s = niti_fail(NITI_ERR_UNSUPPORTED, "it holds the float weights of an fp32 run (niti train "
                                            "--precision fp32 continues it)");
    if (s == NITI_OK && model_text && size) snprintf(model_text, size, "%s", model->canonical);
    niti_model_free(model);
    if (s != NITI_OK) return niti_fail_ctx(s, "checkpoint %s", path);
    if (ri_out) info_of(&rs, ri_out);
    return NITI_OK;
}
