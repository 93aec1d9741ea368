/* Checkpoints of the fp32 baseline (see fp32.h): the integer checkpoint's container and run-state
 * metadata (io/checkpoint.c) with float weights and momentum buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "fp32/fp32.h"
#include "fp32/fp32_internal.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

static int weight_shape(const niti_layer_spec *s, int64_t shape[4])
{
    if (s->kind == NITI_LAYER_CONV) {
        shape[0] = s->out_ch, shape[1] = s->k, shape[2] = s->k, shape[3] = s->in_c;
        return 4;
    }
    shape[0] = s->out_ch, shape[1] = s->in_c;
    return 2;
}

niti_status niti_f32_checkpoint_save(niti_f32_net *net, const niti_run_state *rs,
                                     const char *path)
{
    if (!net || !rs || !path) return niti_fail(NITI_ERR_INVALID, "fp32 checkpoint: missing argument");
    if (strcmp(rs->precision, "fp32"))
        return niti_fail(NITI_ERR_INVALID, "fp32 checkpoint: the run state's precision is '%s', "
                         "not fp32", rs->precision);
    const niti_model_spec *m = niti_f32_model(net);
    niti_st *st = niti_st_new();
    if (!st) return niti_fail(NITI_ERR_NOMEM, "fp32 checkpoint");
    niti_status s = NITI_OK;
    char key[64];
    for (int l = 0; s == NITI_OK && l < m->n_layers; l++) {
        if (!niti_layer_has_weights(&m->layers[l])) continue;
        int64_t shape[4];
        int nd = weight_shape(&m->layers[l], shape);
        snprintf(key, sizeof key, "L%d.weight", l);
        s = niti_st_add(st, key, NITI_F32, nd, shape, niti_f32_weights(net, l, NULL));
        snprintf(key, sizeof key, "L%d.momentum", l);
        if (s == NITI_OK) s = niti_st_add(st, key, NITI_F32, nd, shape, niti_f32_momentum(net, l, NULL));
    }
    if (s == NITI_OK) s = niti_checkpoint_put_state(st, m, rs);
    if (s == NITI_OK) s = niti_checkpoint_seal(st);
    if (s == NITI_OK) s = niti_st_write(st, path);
    niti_st_free(st);
    if (s != NITI_OK) return niti_fail_ctx(s, "saving checkpoint %s", path);
    return NITI_OK;
}

/* Reads and validates an fp32 checkpoint (checksum included). */
static niti_status read_f32(const char *path, niti_st **st, niti_run_state *rs,
                            niti_model_spec **model)
{
    NITI_TRY(niti_checkpoint_read(path, st));
    niti_status s = niti_checkpoint_validate(*st, 1, rs, model);
    if (s == NITI_OK && strcmp(rs->precision, "fp32")) {
        niti_model_free(*model);
        *model = NULL;
        s = niti_fail(NITI_ERR_INVALID, "it holds the int8 weights of an integer run, not an "
                      "fp32 one");
    }
    if (s != NITI_OK) {
        niti_st_free(*st);
        *st = NULL;
        return niti_fail_ctx(s, "checkpoint %s", path);
    }
    return NITI_OK;
}

static niti_status copy_in(niti_f32_net *net, const niti_st *st, int momentum)
{
    const niti_model_spec *m = niti_f32_model(net);
    char key[64];
    for (int l = 0; l < m->n_layers; l++) {
        if (!niti_layer_has_weights(&m->layers[l])) continue;
        for (int which = 0; which < (momentum ? 2 : 1); which++) {
            snprintf(key, sizeof key, "L%d.%s", l, which ? "momentum" : "weight");
            const niti_st_tensor *t = niti_st_find(st, key);
            size_t n = 0;
            float *dst = which ? niti_f32_momentum(net, l, &n) : niti_f32_weights(net, l, &n);
            if (!t || !dst || t->dtype != NITI_F32 || t->count != n)
                return niti_fail(NITI_ERR_FORMAT, "tensor '%s' does not fit layer %d", key, l);
            memcpy(dst, t->data, n * sizeof(float));
        }
    }
    return NITI_OK;
}

niti_status niti_f32_checkpoint_load(const char *path, const char *device, int max_batch,
                                     niti_f32_net **out, niti_run_state *rs_out)
{
    if (!path || !out) return niti_fail(NITI_ERR_INVALID, "fp32 checkpoint: missing argument");
    *out = NULL;
    niti_st *st = NULL;
    niti_run_state rs;
    niti_model_spec *model = NULL;
    NITI_TRY(read_f32(path, &st, &rs, &model));
    niti_f32_cfg cfg = {rs.lr, rs.momentum, rs.weight_decay, rs.cfg.seed};
    niti_f32_net *net = NULL;
    niti_status s = niti_f32_create(device, model, max_batch > 0 ? max_batch : rs.batch, &cfg, &net);
    if (s == NITI_OK) s = copy_in(net, st, 1);
    niti_model_free(model);
    niti_st_free(st);
    if (s != NITI_OK) {
        niti_f32_free(net);
        return niti_fail_ctx(s, "checkpoint %s", path);
    }
    *out = net;
    if (rs_out) *rs_out = rs;
    return NITI_OK;
}

niti_status niti_f32_checkpoint_weights(niti_f32_net *net, const char *path, int momentum)
{
    niti_st *st = NULL;
    niti_run_state rs;
    niti_model_spec *model = NULL;
    NITI_TRY(read_f32(path, &st, &rs, &model));
    niti_status s = NITI_OK;
    if (strcmp(model->canonical, niti_f32_model(net)->canonical))
        s = niti_fail(NITI_ERR_INVALID, "its model (%s) is not this network's (%s)",
                      model->canonical, niti_f32_model(net)->canonical);
    if (s == NITI_OK) s = copy_in(net, st, momentum);
    niti_model_free(model);
    niti_st_free(st);
    if (s != NITI_OK) return niti_fail_ctx(s, "checkpoint %s", path);
    return NITI_OK;
}
