#include "cli/train_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backends.h"
#include "cli/cli.h"
#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

int cli_parse_u64(const char *text, uint64_t *out)
{
    if (!*text) return 0;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

int cli_parse_lr_steps(const char *text, int *steps, int max, int *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9') return 0;
        long e = strtol(p, &end, 10);
        if (end == p || e < 1 || e > (1 << 24) || *n == max || (*n && e <= steps[*n - 1])) return 0;
        steps[(*n)++] = (int)e;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) return 0;
        } else if (*p) return 0;
    }
    return *n > 0;
}

int cli_canonical_lr_steps(const char *text, char *out, size_t size)
{
    int steps[64], n;
    if (!cli_parse_lr_steps(text, steps, 64, &n)) return 0;
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + o, size - o, "%s%d", i ? "," : "", steps[i]);
        if (w < 0 || (size_t)w >= size - o) return 0;
        o += (size_t)w;
    }
    return 1;
}

int cli_valid_run_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 63) return 0;
    for (const char *p = id; *p; p++)
        if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\' || *p == '\'') return 0;
    return 1;
}

void cli_new_run_id(char *out, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    char stamp[32] = "run";
    if (localtime_r(&t, &tm)) strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, size, "%s-%ld", stamp, (long)getpid());
}

int cli_abs_path(const char *path, char *out, size_t size)
{
    if (!path || !*path) return 0;
    const char *slash = strrchr(path, '/');
    char dir[4096];
    const char *base = slash ? slash + 1 : path;
    if (!*base) return 0;
    if (slash) {
        size_t dl = slash == path ? 1 : (size_t)(slash - path);
        if (dl >= sizeof dir) return 0;
        memcpy(dir, path, dl);
        dir[dl] = 0;
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    char *real = realpath(dir, NULL);
    if (!real) return 0;
    int n = snprintf(out, size, "%s%s%s", real, real[strlen(real) - 1] == '/' ? "" : "/", base);
    free(real);
    return n > 0 && (size_t)n < size;
}

int cli_check_writable(const char *path)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    if (snprintf(tmp, sizeof tmp, "%.*s%s.niti-write-test-XXXXXX", dirlen, path,
                 slash ? "/" : "") >= (int)sizeof tmp)
        return 0;
    int fd = mkstemp(tmp);
    if (fd < 0) return 0;
    close(fd);
    unlink(tmp);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    return 1;
}

void cli_shell_quote(const char *s, char *out, size_t size)
{
    int plain = *s != 0;
    for (const char *p = s; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@%=",
                       *p) != NULL;
    if (plain) {
        snprintf(out, size, "%s", s);
        return;
    }
    size_t o = 0;
    if (size < 3) {
        if (size) out[0] = 0;
        return;
    }
    out[o++] = '\'';
    for (const char *p = s; *p && o + 6 < size; p++) {
        if (*p == '\'') {
            memcpy(out + o, "'\\''", 4);
            o += 4;
        } else out[o++] = *p;
    }
    out[o++] = '\'';
    out[o] = 0;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!n) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

void cli_json_str(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    while (*s) {
        int n = utf8_len(s);
        if (!n) {
            fputs("\\ufffd", f);
            s++;
        } else if (*s == '"' || *s == '\\') {
            fprintf(f, "\\%c", *s++);
        } else if (*s < 0x20) {
            fprintf(f, "\\u%04x", *s++);
        } else {
            fwrite(s, 1, (size_t)n, f);
            s += n;
        }
    }
    fputc('"', f);
}

void cli_describe_position(const niti_run_state *rs, char *out, size_t size)
{
    if (rs->batch_pos == 0)
        snprintf(out, size, "after epoch %d, step %u", rs->epoch, rs->step);
    else
        snprintf(out, size, "in epoch %d at step %u, %d batch%s into the epoch", rs->epoch + 1,
                 rs->step, rs->batch_pos, rs->batch_pos == 1 ? "" : "es");
}

int cli_check_gemm_env(const char *device_spec, int fp32)
{
    const char *gemm = niti_backend_forced_gemm();
    const char *emu = getenv("NITI_DOT_EMULATE");
    int emulate = emu && *emu && strcmp(emu, "0");
    int ref = device_spec && !strcmp(device_spec, "ref");
    if ((gemm || emulate) && (ref || fp32)) {
        cli_error("%s%s%s is set, but %s has no OpenCL GEMM paths; unset it%s", gemm ? "NITI_GEMM=" : "",
                  gemm ? gemm : "", gemm ? "" : "NITI_DOT_EMULATE",
                  fp32 ? "the fp32 baseline (CLBlast or plain C)" : "--device ref (plain C)",
                  fp32 ? " for --precision fp32" : " or choose an OpenCL device");
        return 0;
    }
    if (emulate && !(gemm && (!strcmp(gemm, "dp4a") || !strcmp(gemm, "khr-dot")))) {
        cli_error("NITI_DOT_EMULATE=%s only applies with NITI_GEMM=dp4a or NITI_GEMM=khr-dot "
                  "(NITI_GEMM is %s)", emu, gemm ? gemm : "not set");
        return 0;
    }
    return 1;
}

int cli_read_checkpoint(const char *path, niti_run_state *rs, niti_model_spec **model)
{
    niti_st *st = NULL;
    niti_status s = niti_checkpoint_read(path, &st);
    if (s == NITI_OK) {
        s = niti_checkpoint_validate(st, 1, rs, model);
        if (s != NITI_OK) niti_fail_ctx(s, "checkpoint %s", path);
    }
    niti_st_free(st);
    if (s != NITI_OK) {
        cli_error("%s", niti_last_error());
        return 0;
    }
    return 1;
}

niti_status cli_init_from(const char *path, niti_backend *be, const niti_model_spec *model,
                          int batch, const niti_train_cfg *cfg, niti_net **out)
{
    *out = NULL;
    niti_net *src = NULL, *net = NULL;
    niti_status s = niti_checkpoint_load(path, be, 1, &src, NULL);
    if (s == NITI_OK) s = niti_net_create(be, model, batch, cfg, &net);
    for (int l = 0; s == NITI_OK && l < model->n_layers; l++) {
        if (!niti_layer_has_weights(&model->layers[l])) continue;
        int8_t *w = malloc((size_t)niti_layer_params(&model->layers[l]));
        int e;
        s = w ? niti_net_get_weights(src, l, w, &e) : NITI_ERR_NOMEM;
        if (s == NITI_OK) s = niti_net_set_weights(net, l, w, e);
        free(w);
    }
    niti_net_free(src);
    if (s != NITI_OK) {
        niti_net_free(net);
        return s;
    }
    *out = net;
    return NITI_OK;
}
