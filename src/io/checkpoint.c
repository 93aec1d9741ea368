#include "io/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/data.h"
#include "io/fileio.h"
#include "io/safetensors.h"

#define CKPT_FORMAT "niti-checkpoint"
/* Version 2: the checksum covers the metadata too. Version 1 (tensors only) is still read. */
#define CKPT_VERSION "2"


static int meta_key_cmp(const void *a, const void *b)
{
    return strcmp((*(const niti_st_meta *const *)a)->key, (*(const niti_st_meta *const *)b)->key);
}

/* FNV-1a 64 over (name, dtype, bytes) of every tensor in file order; from format version 2 on,
 * then over (key, value) of every metadata entry except "checksum", sorted by key. */
static niti_status st_checksum(const niti_st *st, int version, uint64_t *out)
{
    uint64_t h = NITI_FNV_INIT;
    for (int i = 0; i < st->n_tensors; i++) {
        const niti_st_tensor *t = &st->tensors[i];
        h = niti_fnv1a(h, t->name, strlen(t->name) + 1);
        unsigned char d = (unsigned char)t->dtype;
        h = niti_fnv1a(h, &d, 1);
        h = niti_fnv1a(h, t->data, t->nbytes);
    }
    if (version >= 2 && st->n_meta > 0) {
        const niti_st_meta **m = malloc(sizeof *m * (size_t)st->n_meta);
        if (!m) return niti_fail(NITI_ERR_NOMEM, "checkpoint checksum");
        int n = 0;
        for (int i = 0; i < st->n_meta; i++)
            if (strcmp(st->meta[i].key, "checksum")) m[n++] = &st->meta[i];
        qsort(m, (size_t)n, sizeof *m, meta_key_cmp);
        for (int i = 0; i < n; i++) {
            h = niti_fnv1a(h, m[i]->key, strlen(m[i]->key) + 1);
            h = niti_fnv1a(h, m[i]->value, strlen(m[i]->value) + 1);
        }
        free(m);
    }
    *out = h;
    return NITI_OK;
}

niti_status niti_checkpoint_checksum(const niti_st *st, char out[17])
{
    uint64_t h;
    NITI_TRY(st_checksum(st, 2, &h));
    snprintf(out, 17, "%016" PRIx64, h);
    return NITI_OK;
}

static const char *round_name(niti_rounding r) { return r == NITI_PSR ? "psr" : "round"; }

static niti_status set_meta_int(niti_st *st, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return niti_st_set_meta(st, key, buf);
}

static niti_status fill(niti_net *net, const niti_run_state *rs, niti_st *st)
{
    const niti_model_spec *m = niti_net_model(net);
    char key[64];
    for (int l = 0; l < m->n_layers; l++) {
        const niti_layer_spec *s = &m->layers[l];
        if (!niti_layer_has_weights(s)) continue;
        int64_t shape[4];
        int nd;
        if (s->kind == NITI_LAYER_CONV) {
            shape[0] = s->out_ch, shape[1] = s->k, shape[2] = s->k, shape[3] = s->in_c;
            nd = 4;
        } else {
            shape[0] = s->out_ch, shape[1] = s->in_c;
            nd = 2;
        }
        size_t n = (size_t)niti_layer_params(s);
        int8_t *w = malloc(n);
        int16_t *mm = rs->cfg.master16 ? malloc(n * 2) : NULL;
        if (!w || (rs->cfg.master16 && !mm)) {
            free(w), free(mm);
            return niti_fail(NITI_ERR_NOMEM, "checkpoint of layer %d", l);
        }
        int exp = 0;
        niti_status s1 = niti_net_get_weights(net, l, w, &exp);
        if (s1 == NITI_OK) {
            snprintf(key, sizeof key, "L%d.weight", l);
            s1 = niti_st_add(st, key, NITI_I8, nd, shape, w);
        }
        if (s1 == NITI_OK && mm) {
            s1 = niti_net_get_master(net, l, mm);
            snprintf(key, sizeof key, "L%d.master", l);
            if (s1 == NITI_OK) s1 = niti_st_add(st, key, NITI_I16, nd, shape, mm);
        }
        if (s1 == NITI_OK) {
            snprintf(key, sizeof key, "L%d.weight_exp", l);
            s1 = set_meta_int(st, key, exp);
        }
        free(w), free(mm);
        NITI_TRY(s1);
    }
    return niti_checkpoint_put_state(st, m, rs);
}

static int is_fp32(const niti_run_state *rs) { return !strcmp(rs->precision, "fp32"); }

static niti_status set_meta_float(niti_st *st, const char *key, float v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.9g", (double)v); /* 9 significant digits: the float exactly */
    return niti_st_set_meta(st, key, buf);
}

niti_status niti_checkpoint_put_state(niti_st *st, const niti_model_spec *m,
                                      const niti_run_state *rs)
{
    NITI_TRY(niti_st_set_meta(st, "format", CKPT_FORMAT));
    NITI_TRY(niti_st_set_meta(st, "format_version", CKPT_VERSION));
    NITI_TRY(niti_st_set_meta(st, "contract", "numerics v1"));
    NITI_TRY(niti_st_set_meta(st, "niti_version", niti_version()));
    NITI_TRY(niti_st_set_meta(st, "model", m->canonical));
    NITI_TRY(niti_st_set_meta(st, "model_name", m->name ? m->name : "custom"));
    NITI_TRY(niti_st_set_meta(st, "rule", rs->cfg.rule == NITI_RULE_NITI20 ? "niti20" : "niti21"));
    NITI_TRY(niti_st_set_meta(st, "act_round", round_name(rs->cfg.act_round)));
    NITI_TRY(niti_st_set_meta(st, "err_round", round_name(rs->cfg.err_round)));
    NITI_TRY(niti_st_set_meta(st, "mu", rs->mu));
    NITI_TRY(niti_st_set_meta(st, "dataset", rs->dataset));
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, rs->cfg.seed);
    NITI_TRY(niti_st_set_meta(st, "seed", buf));
    NITI_TRY(set_meta_int(st, "weight_decay", rs->cfg.weight_decay));
    NITI_TRY(set_meta_int(st, "master_weights", rs->cfg.master16 ? 16 : 0));
    NITI_TRY(set_meta_int(st, "batch", rs->batch));
    NITI_TRY(set_meta_int(st, "step", rs->step));
    NITI_TRY(set_meta_int(st, "epoch", rs->epoch));
    NITI_TRY(set_meta_int(st, "batch_pos", rs->batch_pos));
    NITI_TRY(set_meta_int(st, "epochs", rs->epochs));
    NITI_TRY(niti_st_set_meta(st, "precision", is_fp32(rs) ? "fp32" : "int8"));
    NITI_TRY(niti_st_set_meta(st, "run_id", rs->run_id));
    NITI_TRY(niti_st_set_meta(st, "label", rs->label));
    NITI_TRY(niti_st_set_meta(st, "save", rs->save));
    NITI_TRY(niti_st_set_meta(st, "log", rs->log));
    NITI_TRY(niti_st_set_meta(st, "data", rs->data));
    NITI_TRY(niti_st_set_meta(st, "device", rs->device));
    NITI_TRY(niti_st_set_meta(st, "device_spec", rs->device_spec));
    NITI_TRY(set_meta_int(st, "train_limit", rs->train_limit));
    NITI_TRY(set_meta_int(st, "test_limit", rs->test_limit));
    NITI_TRY(set_meta_int(st, "eval_every", rs->eval_every));
    char sum[48];
    snprintf(sum, sizeof sum, "%.17g", rs->epoch_loss_sum); /* 17 digits: the double exactly */
    NITI_TRY(niti_st_set_meta(st, "epoch_loss_sum", sum));
    NITI_TRY(set_meta_int(st, "epoch_correct", rs->epoch_correct));
    NITI_TRY(set_meta_int(st, "epoch_seen", rs->epoch_seen));
    niti_augment aug;
    if (memchr(rs->augment, 0, sizeof rs->augment) == NULL)
        return niti_fail(NITI_ERR_INVALID, "the run state's augmentation is not terminated");
    if (rs->augment[0] && niti_augment_parse(rs->augment, &aug) != NITI_OK)
        return niti_fail_ctx(NITI_ERR_INVALID, "the run state's augmentation");
    if (rs->val < 0)
        return niti_fail(NITI_ERR_INVALID, "the run state holds out %d validation images", rs->val);
    NITI_TRY(niti_st_set_meta(st, "augment", rs->augment));
    NITI_TRY(set_meta_int(st, "val", rs->val));
    if (is_fp32(rs)) {
        NITI_TRY(set_meta_float(st, "fp32_lr", rs->lr));
        NITI_TRY(set_meta_float(st, "fp32_momentum", rs->momentum));
        NITI_TRY(set_meta_float(st, "fp32_weight_decay", rs->weight_decay));
        NITI_TRY(niti_st_set_meta(st, "fp32_lr_steps", rs->lr_steps));
    }
    return NITI_OK;
}

niti_status niti_checkpoint_seal(niti_st *st)
{
    char buf[32];
    uint64_t sum;
    NITI_TRY(st_checksum(st, 2, &sum));
    snprintf(buf, sizeof buf, "%016" PRIx64, sum);
    return niti_st_set_meta(st, "checksum", buf);
}

niti_status niti_checkpoint_save(niti_net *net, const niti_run_state *rs, const char *path)
{
    niti_st *st = niti_st_new();
    if (!st) return niti_fail(NITI_ERR_NOMEM, "checkpoint");
    niti_status s = is_fp32(rs) ? niti_fail(NITI_ERR_INVALID, "the run state says fp32; an "
                                            "integer network is saved with precision int8")
                                : fill(net, rs, st);
    if (s == NITI_OK) s = niti_checkpoint_seal(st);
    if (s == NITI_OK) s = niti_st_write(st, path);
    niti_st_free(st);
    if (s != NITI_OK) return niti_fail_ctx(s, "saving checkpoint %s", path);
    return NITI_OK;
}

static niti_status meta_str(const niti_st *st, const char *key, const char **out)
{
    *out = niti_st_meta_get(st, key);
    if (!*out) return niti_fail(NITI_ERR_FORMAT, "metadata '%s' is missing", key);
    return NITI_OK;
}

static niti_status meta_int_range(const niti_st *st, const char *key, int64_t lo, int64_t hi,
                                  int64_t *out)
{
    NITI_TRY(niti_st_meta_int(st, key, out));
    if (*out < lo || *out > hi)
        return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = %lld is outside %lld..%lld", key,
                         (long long)*out, (long long)lo, (long long)hi);
    return NITI_OK;
}

static niti_status parse_round(const char *v, const char *key, niti_rounding *r)
{
    if (!strcmp(v, "round")) *r = NITI_ROUND;
    else if (!strcmp(v, "psr")) *r = NITI_PSR;
    else return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = '%s' (expected round or psr)", key, v);
    return NITI_OK;
}

static niti_status opt_str(const niti_st *st, const char *key, char *out, size_t size)
{
    const char *v = niti_st_meta_get(st, key);
    out[0] = 0;
    if (!v) return NITI_OK;
    if (strlen(v) >= size)
        return niti_fail(NITI_ERR_FORMAT, "metadata '%s' is too long (%zu bytes, at most %zu)", key,
                         strlen(v), size - 1);
    memcpy(out, v, strlen(v) + 1);
    return NITI_OK;
}

static niti_status opt_int(const niti_st *st, const char *key, int lo, int hi, int *out)
{
    *out = 0;
    if (!niti_st_meta_get(st, key)) return NITI_OK;
    int64_t x;
    NITI_TRY(meta_int_range(st, key, lo, hi, &x));
    *out = (int)x;
    return NITI_OK;
}

static niti_status opt_float(const niti_st *st, const char *key, float *out)
{
    const char *v = niti_st_meta_get(st, key);
    *out = 0;
    if (!v) return niti_fail(NITI_ERR_FORMAT, "metadata '%s' is missing", key);
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end) return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = '%s' is not a number", key, v);
    *out = (float)d;
    return NITI_OK;
}

/* The format entry comes first: a file that is not a niti checkpoint says so, whatever else it
 * lacks (even the checksum). */
static niti_status check_format_of(const niti_st *st, const char *path)
{
    const char *v = niti_st_meta_get(st, "format");
    const char *what = path ? path : "the file", *verb = path ? " is" : "";
    if (!v)
        return niti_fail(NITI_ERR_FORMAT, "%s%s not a niti checkpoint (a safetensors file without "
                         "niti's metadata: it has no 'format' entry)", path ? what : "", verb);
    if (strcmp(v, CKPT_FORMAT))
        return niti_fail(NITI_ERR_FORMAT, "%s%s not a niti checkpoint (its metadata says format "
                         "'%.64s', not '%s')", path ? what : "", verb, v, CKPT_FORMAT);
    return NITI_OK;
}

static niti_status check_format(const niti_st *st) { return check_format_of(st, NULL); }

static niti_status load_state(const niti_st *st, niti_run_state *rs)
{
    const char *v;
    int64_t x;
    memset(rs, 0, sizeof *rs);
    niti_train_cfg_default(&rs->cfg);
    NITI_TRY(check_format(st));
    NITI_TRY(meta_str(st, "format_version", &v));
    if (strcmp(v, CKPT_VERSION) && strcmp(v, "1"))
        return niti_fail(NITI_ERR_UNSUPPORTED,
                         "checkpoint format version %s (this niti reads 1 and %s)", v, CKPT_VERSION);
    NITI_TRY(meta_str(st, "rule", &v));
    if (!strcmp(v, "niti21")) rs->cfg.rule = NITI_RULE_NITI21;
    else if (!strcmp(v, "niti20")) rs->cfg.rule = NITI_RULE_NITI20;
    else return niti_fail(NITI_ERR_FORMAT, "metadata 'rule' = '%s'", v);
    NITI_TRY(meta_str(st, "act_round", &v));
    NITI_TRY(parse_round(v, "act_round", &rs->cfg.act_round));
    NITI_TRY(meta_str(st, "err_round", &v));
    NITI_TRY(parse_round(v, "err_round", &rs->cfg.err_round));
    NITI_TRY(meta_str(st, "mu", &v));
    if (strlen(v) >= sizeof rs->mu) return niti_fail(NITI_ERR_FORMAT, "metadata 'mu' is too long");
    strcpy(rs->mu, v);
    NITI_TRY(meta_str(st, "dataset", &v));
    if (strlen(v) >= sizeof rs->dataset)
        return niti_fail(NITI_ERR_FORMAT, "metadata 'dataset' is too long");
    strcpy(rs->dataset, v);
    NITI_TRY(meta_str(st, "seed", &v));
    /* Decimal digits only, and no overflow: strtoull alone would accept " 5" or "+5" and
     * saturate "99999999999999999999" to UINT64_MAX silently (a different run). */
    uint64_t seed = 0;
    int seed_ok = *v != 0;
    for (const char *p = v; seed_ok && *p; p++) {
        unsigned dgt = (unsigned)(*p - '0');
        if (*p < '0' || *p > '9' || seed > (UINT64_MAX - dgt) / 10) seed_ok = 0;
        else seed = seed * 10 + dgt;
    }
    if (!seed_ok)
        return niti_fail(NITI_ERR_FORMAT, "metadata 'seed' = '%s' is not a 64-bit unsigned "
                         "decimal integer", v);
    rs->cfg.seed = seed;
    NITI_TRY(meta_int_range(st, "weight_decay", 0, 1, &x));
    rs->cfg.weight_decay = (int)x;
    NITI_TRY(meta_int_range(st, "master_weights", 0, 16, &x));
    if (x != 0 && x != 16) return niti_fail(NITI_ERR_FORMAT, "metadata 'master_weights' = %lld", (long long)x);
    rs->cfg.master16 = x == 16;
    NITI_TRY(meta_int_range(st, "batch", 1, 1 << 20, &x));
    rs->batch = (int)x;
    NITI_TRY(meta_int_range(st, "step", 0, UINT32_MAX, &x));
    rs->step = (uint32_t)x;
    NITI_TRY(meta_int_range(st, "epoch", 0, 1 << 24, &x));
    rs->epoch = (int)x;
    NITI_TRY(meta_int_range(st, "batch_pos", 0, 1 << 30, &x));
    rs->batch_pos = (int)x;
    NITI_TRY(meta_int_range(st, "epochs", 0, 1 << 24, &x));
    rs->epochs = (int)x;
    /* Optional (written since the run's settings are kept): absent in older checkpoints. */
    NITI_TRY(opt_str(st, "precision", rs->precision, sizeof rs->precision));
    if (rs->precision[0] && strcmp(rs->precision, "int8") && strcmp(rs->precision, "fp32"))
        return niti_fail(NITI_ERR_FORMAT, "metadata 'precision' = '%s' (expected int8 or fp32)",
                         rs->precision);
    if (!rs->precision[0]) strcpy(rs->precision, "int8");
    NITI_TRY(opt_str(st, "run_id", rs->run_id, sizeof rs->run_id));
    NITI_TRY(opt_str(st, "label", rs->label, sizeof rs->label));
    NITI_TRY(opt_str(st, "save", rs->save, sizeof rs->save));
    NITI_TRY(opt_str(st, "log", rs->log, sizeof rs->log));
    NITI_TRY(opt_str(st, "data", rs->data, sizeof rs->data));
    NITI_TRY(opt_str(st, "device", rs->device, sizeof rs->device));
    NITI_TRY(opt_str(st, "device_spec", rs->device_spec, sizeof rs->device_spec));
    NITI_TRY(opt_int(st, "train_limit", 0, 1 << 30, &rs->train_limit));
    NITI_TRY(opt_int(st, "test_limit", 0, 1 << 30, &rs->test_limit));
    NITI_TRY(opt_int(st, "eval_every", -1, 1 << 24, &rs->eval_every));
    if (niti_st_meta_get(st, "epoch_loss_sum")) {
        const char *v = niti_st_meta_get(st, "epoch_loss_sum");
        char *end;
        rs->epoch_loss_sum = strtod(v, &end);
        if (!*v || *end || !isfinite(rs->epoch_loss_sum) || rs->epoch_loss_sum < 0)
            return niti_fail(NITI_ERR_FORMAT, "metadata 'epoch_loss_sum' = '%s'", v);
        NITI_TRY(meta_int_range(st, "epoch_correct", 0, INT64_C(1) << 40, &rs->epoch_correct));
        NITI_TRY(meta_int_range(st, "epoch_seen", rs->epoch_correct, INT64_C(1) << 40,
                                &rs->epoch_seen));
    }
    /* Optional since --augment and --val (absent: the dataset's default, no validation set) */
    NITI_TRY(opt_str(st, "augment", rs->augment, sizeof rs->augment));
    if (rs->augment[0]) {
        niti_augment aug;
        if (niti_augment_parse(rs->augment, &aug) != NITI_OK)
            return niti_fail(NITI_ERR_FORMAT, "metadata 'augment': %s", niti_last_error());
    }
    NITI_TRY(opt_int(st, "val", 0, 1 << 30, &rs->val));
    if (is_fp32(rs)) {
        NITI_TRY(opt_float(st, "fp32_lr", &rs->lr));
        NITI_TRY(opt_float(st, "fp32_momentum", &rs->momentum));
        NITI_TRY(opt_float(st, "fp32_weight_decay", &rs->weight_decay));
        NITI_TRY(opt_str(st, "fp32_lr_steps", rs->lr_steps, sizeof rs->lr_steps));
        if (!(rs->lr > 0) || !(rs->momentum >= 0) || !(rs->weight_decay >= 0) ||
            !isfinite(rs->lr) || !isfinite(rs->momentum) || !isfinite(rs->weight_decay))
            return niti_fail(NITI_ERR_FORMAT, "fp32 settings lr %g, momentum %g, weight decay "
                             "%g are out of range", (double)rs->lr, (double)rs->momentum,
                             (double)rs->weight_decay);
    }
    return NITI_OK;
}

/* The shape a layer's weight (and master) tensor must have: [O,k,k,I] or [O,F]. */
static int weight_shape(const niti_layer_spec *s, int64_t want[4])
{
    if (s->kind == NITI_LAYER_CONV) {
        want[0] = s->out_ch, want[1] = s->k, want[2] = s->k, want[3] = s->in_c;
        return 4;
    }
    want[0] = s->out_ch, want[1] = s->in_c;
    return 2;
}

/* Device-free: every weight (and, with master16, master) tensor exists with the dtype and shape
 * the model needs, and every weight exponent is present and in range. */
static niti_status check_weights(const niti_st *st, const niti_model_spec *m, int master16,
                                 int fp32)
{
    char key[64];
    for (int l = 0; l < m->n_layers; l++) {
        const niti_layer_spec *s = &m->layers[l];
        if (!niti_layer_has_weights(s)) continue;
        int64_t want[4];
        int nd = weight_shape(s, want);
        const char *names[2] = {"weight", fp32 ? "momentum" : "master"};
        for (int which = 0; which < (master16 || fp32 ? 2 : 1); which++) {
            snprintf(key, sizeof key, "L%d.%s", l, names[which]);
            const niti_st_tensor *t = niti_st_find(st, key);
            if (!t) return niti_fail(NITI_ERR_FORMAT, "tensor '%s' is missing", key);
            niti_dtype dt = fp32 ? NITI_F32 : which ? NITI_I16 : NITI_I8;
            int ok = t->dtype == dt && t->ndim == nd;
            for (int d = 0; ok && d < nd; d++) ok = t->shape[d] == want[d];
            if (!ok) {
                char got[256] = "", exp[128] = "";
                for (int d = 0; d < t->ndim && d < NITI_ST_MAX_DIMS; d++)
                    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "",
                             (long long)t->shape[d]);
                for (int d = 0; d < nd; d++)
                    snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", d ? "," : "",
                             (long long)want[d]);
                return niti_fail(NITI_ERR_FORMAT,
                                 "tensor '%s' is %s [%s]; the model's layer %d needs %s [%s]", key,
                                 niti_dtype_name(t->dtype), got, l, niti_dtype_name(dt), exp);
            }
        }
        if (fp32) continue; /* float weights carry no exponent */
        int64_t e;
        snprintf(key, sizeof key, "L%d.weight_exp", l);
        NITI_TRY(niti_st_meta_int(st, key, &e));
        if (e < -64 || e > 64)
            return niti_fail(NITI_ERR_FORMAT, "metadata '%s' = %lld", key, (long long)e);
    }
    return NITI_OK;
}

/* Copies the (already checked) weights into the network. */
static niti_status load_weights(const niti_st *st, niti_net *net, int master16)
{
    const niti_model_spec *m = niti_net_model(net);
    char key[64];
    for (int l = 0; l < m->n_layers; l++) {
        const niti_layer_spec *s = &m->layers[l];
        if (!niti_layer_has_weights(s)) continue;
        int64_t e;
        snprintf(key, sizeof key, "L%d.weight_exp", l);
        NITI_TRY(niti_st_meta_int(st, key, &e));
        snprintf(key, sizeof key, "L%d.weight", l);
        const niti_st_tensor *t = niti_st_find(st, key);
        if (!t) return niti_fail(NITI_ERR_FORMAT, "tensor '%s' is missing", key);
        NITI_TRY(niti_net_set_weights(net, l, t->data, (int)e));
        if (master16) {
            snprintf(key, sizeof key, "L%d.master", l);
            t = niti_st_find(st, key);
            if (!t) return niti_fail(NITI_ERR_FORMAT, "tensor '%s' is missing", key);
            NITI_TRY(niti_net_set_master(net, l, t->data));
        }
    }
    return NITI_OK;
}

niti_status niti_checkpoint_verify(const niti_st *st)
{
    const char *sum = niti_st_meta_get(st, "checksum");
    const char *ver = niti_st_meta_get(st, "format_version");
    int version = ver && !strcmp(ver, "1") ? 1 : 2;
    char want[32];
    uint64_t h = 0;
    NITI_TRY(st_checksum(st, version, &h));
    snprintf(want, sizeof want, "%016" PRIx64, h);
    if (!sum) return niti_fail(NITI_ERR_FORMAT, "metadata 'checksum' is missing");
    if (strcmp(sum, want))
        return niti_fail(NITI_ERR_FORMAT, "checksum mismatch (file says %s, its content gives "
                                          "%s): the file is damaged", sum, want);
    return NITI_OK;
}

/* A printable excerpt of a file's first bytes, for "it begins with ..." */
static void excerpt(const unsigned char *b, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < size; i++)
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\') out[o++] = (char)b[i];
        else o += (size_t)snprintf(out + o, size - o, "\\x%02x", b[i]);
    out[o] = 0;
}

niti_status niti_checkpoint_read(const char *path, niti_st **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return niti_fail(NITI_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    unsigned char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    /* safetensors: an 8-byte little-endian header length, then the JSON header, which starts
     * with '{'. Anything else is some other kind of file: say so rather than report its first
     * bytes as an absurd header length. (A checkpoint whose length field alone is damaged
     * still starts its header with '{', and gets the safetensors reader's exact message.) */
    if (n < 9 || head[8] != '{') {
        char ex[80];
        excerpt(head, n, ex, sizeof ex);
        if (n == 0) return niti_fail(NITI_ERR_FORMAT, "%s is not a niti checkpoint (the file is "
                                     "empty)", path);
        return niti_fail(NITI_ERR_FORMAT, "%s is not a niti checkpoint (not a safetensors file: "
                         "it begins with '%s')", path, ex);
    }
    niti_status s = niti_st_read(path, out);
    if (s != NITI_OK) return s;
    s = check_format_of(*out, path);
    if (s != NITI_OK) {
        niti_st_free(*out);
        *out = NULL;
    }
    return s;
}

niti_status niti_checkpoint_validate(const niti_st *st, int verify_checksum,
                                     niti_run_state *rs_out, niti_model_spec **model_out)
{
    if (model_out) *model_out = NULL;
    if (!st) return niti_fail(NITI_ERR_INVALID, "niti_checkpoint_validate: no container");
    niti_run_state rs;
    niti_model_spec *model = NULL;
    niti_status s = check_format(st);
    if (s == NITI_OK && verify_checksum) s = niti_checkpoint_verify(st);
    if (s == NITI_OK) s = load_state(st, &rs);
    const char *spec = NULL;
    if (s == NITI_OK) s = meta_str(st, "model", &spec);
    if (s == NITI_OK) {
        s = niti_model_parse(spec, &model);
        if (s != NITI_OK) s = niti_fail_ctx(s, "the checkpoint's model spec");
    }
    if (s == NITI_OK) {
        const char *mn = niti_st_meta_get(st, "model_name");
        if (mn && model->name) {
            char *dup = strdup(mn);
            if (dup) {
                free(model->name);
                model->name = dup;
            }
        }
        s = check_weights(st, model, rs.cfg.master16, is_fp32(&rs));
    }
    if (s != NITI_OK) {
        niti_model_free(model);
        return s;
    }
    if (rs_out) *rs_out = rs;
    if (model_out) *model_out = model;
    else niti_model_free(model);
    return NITI_OK;
}

niti_status niti_checkpoint_load(const char *path, niti_backend *be, int max_batch,
                                 niti_net **net_out, niti_run_state *rs_out)
{
    niti_st *st = NULL;
    niti_status s = niti_checkpoint_read(path, &st);
    if (s != NITI_OK) return s;
    niti_run_state rs;
    niti_model_spec *model = NULL;
    niti_net *net = NULL;
    /* Everything that can be checked without a device is checked before one is touched. */
    s = niti_checkpoint_validate(st, 1, &rs, &model);
    if (s == NITI_OK && is_fp32(&rs))
        s = niti_fail(NITI_ERR_UNSUPPORTED, "it holds the float weights of an fp32 run (use "
                      "niti_f32_checkpoint_load, or niti train --precision fp32)");
    if (s == NITI_OK)
        s = niti_net_create(be, model, max_batch > 0 ? max_batch : rs.batch, &rs.cfg, &net);
    if (s == NITI_OK) s = load_weights(st, net, rs.cfg.master16);
    niti_model_free(model);
    niti_st_free(st);
    if (s != NITI_OK) {
        niti_net_free(net);
        return niti_fail_ctx(s, "checkpoint %s", path);
    }
    *net_out = net;
    if (rs_out) *rs_out = rs;
    return NITI_OK;
}
