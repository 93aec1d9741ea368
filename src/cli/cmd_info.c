/* niti info: a model's canonical spec, layers, shapes, weights and MACs; --list shows presets. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/train_util.h"
#include "core/model.h"
#include "io/checkpoint.h"
#include "io/data.h"
#include "io/safetensors.h"
#include "niti.h"

static void info_usage(FILE *f)
{
    fprintf(f,
            "usage: niti info [--spec] MODEL\n"
            "       niti info CKPT\n"
            "       niti info --list\n\n"
            "Shows a model: its canonical spec, one row per layer (kind, arguments, output shape,\n"
            "weights, multiply-accumulates per image, forward accumulator width) and the totals.\n"
            "For a checkpoint (niti train --save) also the run it holds: precision, position (epoch,\n"
            "step), rule and roundings or SGD settings, mu schedule, seed, batch, dataset and data\n"
            "folder, limits, augmentation, validation set, the device it trained on, its --save\n"
            "and --log files, run id, and whether its checksum matches its content.\n\n"
            "MODEL is a preset name (see --list), a file holding a spec, or the spec itself, e.g.\n"
            "  niti info 'input 28x28x1; conv 20 k5 p0; relu; maxpool 2; flatten; linear 10'\n"
            "Spec notation: 'input HxWxC' first, then layers separated by ';' or new lines:\n"
            "  conv O kK pP   KxK convolution, O outputs, zero padding P, stride 1, no bias\n"
            "  relu           ReLU\n"
            "  maxpool 2      2x2 max-pool, stride 2\n"
            "  flatten        image to a feature vector ((h, w, c) order)\n"
            "  dropout        dropout p = 1/2 (training only; after flatten)\n"
            "  linear O       fully connected, O outputs, no bias (after flatten)\n"
            "'#' starts a comment. The last layer must be 'linear' (the classifier).\n\n"
            "options:\n"
            "  --list       list the presets and the augmentation modes of niti train\n"
            "  --spec       print only the canonical spec\n"
            "  -h, --help   this help\n\n"
            "The 'acc' column is the accumulator a forward sum of K = k*k*I (conv) or F (linear)\n"
            "int8 products needs: int32 if K*128*127 < 2^31, else int64. Weight gradients always\n"
            "need int64. Exit status: 0 ok, 2 bad usage or an invalid model.\n");
}

static void list_presets(void)
{
    const char *const *names = niti_model_preset_names();
    for (int i = 0; names[i]; i++) {
        niti_model_spec *m = NULL;
        const char *d = niti_model_preset_description(names[i]);
        if (niti_model_from_arg(names[i], &m) == NITI_OK) {
            int batch, epochs;
            char mu[64];
            niti_model_train_defaults(m, &batch, &epochs, mu, sizeof mu);
            printf("  %-12s %9.2f M weights  %8.1f M MACs  %s\n", names[i],
                   (double)niti_model_params(m) / 1e6, (double)niti_model_macs(m) / 1e6,
                   d ? d : "");
            printf("  %-12s niti train defaults: batch %d, %d epochs, mu %s\n", "", batch, epochs,
                   mu);
            niti_model_free(m);
        } else {
            printf("  %-12s %s\n", names[i], d ? d : "");
        }
    }
}

/* The modes of niti train --augment (src/io/data.c documents the Philox mapping). */
static void list_augmentations(void)
{
    printf("  %-12s %s\n", "none", "no augmentation: the default for mnist and fashion-mnist");
    printf("  %-12s %s\n", "cropP", "random crop of the image padded by P = 1..8 black pixels");
    printf("  %-12s %s\n", "cropP-flip",
           "that crop, then a random left-right mirror; crop4-flip: the default for cifar10");
    printf("  %-12s %s\n", "flip", "a random left-right mirror only");
}

static void shape_text(const niti_layer_spec *l, char *buf, size_t n)
{
    if (l->flat) snprintf(buf, n, "%d", l->out_c);
    else snprintf(buf, n, "%dx%dx%d", l->out_h, l->out_w, l->out_c);
}

static void print_model(const niti_model_spec *m)
{
    printf("model:  %s\n", m->name);
    printf("spec:   %s\n", m->canonical);
    printf("input:  %dx%dx%d\n\n", m->in_h, m->in_w, m->in_c);
    printf("%5s  %-8s %-14s %-14s %12s %14s  %s\n", "#", "layer", "args", "output", "weights",
           "MACs", "acc");
    for (int i = 0; i < m->n_layers; i++) {
        const niti_layer_spec *l = &m->layers[i];
        char args[64] = "", shape[64], full[96];
        niti_layer_format(l, full, sizeof full);
        const char *kind = niti_layer_kind_name(l->kind);
        size_t kl = strlen(kind);
        if (strlen(full) > kl) snprintf(args, sizeof args, "%s", full + kl + 1);
        shape_text(l, shape, sizeof shape);
        if (niti_layer_has_weights(l))
            printf("%5d  %-8s %-14s %-14s %12lld %14lld  int%d\n", i, kind, args, shape,
                   (long long)niti_layer_params(l), (long long)niti_layer_macs(l),
                   niti_layer_fwd_acc_bits(l));
        else
            printf("%5d  %-8s %-14s %-14s %12s %14s\n", i, kind, args, shape, "-", "-");
    }
    int64_t p = niti_model_params(m), macs = niti_model_macs(m);
    printf("\ntotal:  %lld parameters (int8 weights, no biases; %.2f M)\n", (long long)p,
           (double)p / 1e6);
    printf("        %lld MACs per image, forward (%.2f M)\n", (long long)macs, (double)macs / 1e6);
    printf("        %d classes\n", niti_model_classes(m));
}

/* Whether path is a file that starts like a safetensors file (8-byte length, then '{'). */
static int looks_like_safetensors(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char head[9];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == 9 && head[8] == '{';
}

static const char *or_none(const char *s, const char *none) { return s && *s ? s : none; }

static int info_checkpoint(const char *path, int spec_only)
{
    niti_st *st = NULL;
    niti_run_state rs;
    niti_model_spec *m = NULL;
    if (niti_checkpoint_read(path, &st) != NITI_OK) {
        cli_error("%s", niti_last_error());
        return 2;
    }
    /* everything but the checksum, which is reported rather than enforced */
    if (niti_checkpoint_validate(st, 0, &rs, &m) != NITI_OK) {
        cli_error("checkpoint %s: %s", path, niti_last_error());
        niti_st_free(st);
        return 2;
    }
    char sum[256];
    if (niti_checkpoint_verify(st) == NITI_OK)
        snprintf(sum, sizeof sum, "ok (%s)", niti_st_meta_get(st, "checksum"));
    else snprintf(sum, sizeof sum, "MISMATCH: %s", niti_last_error());
    const char *ver = niti_st_meta_get(st, "niti_version");
    const char *fmt = niti_st_meta_get(st, "format_version");
    if (spec_only) {
        printf("%s\n", m->canonical);
        niti_st_free(st);
        niti_model_free(m);
        return 0;
    }
    int fp32 = !strcmp(rs.precision, "fp32");
    char where[96];
    cli_describe_position(&rs, where, sizeof where);
    printf("checkpoint: %s\n", path);
    printf("checksum:   %s\n", sum);
    printf("written by: niti %s, checkpoint format %s\n", or_none(ver, "?"), or_none(fmt, "?"));
    printf("precision:  %s\n", rs.precision);
    printf("position:   %s (of %d epoch%s)\n", where, rs.epochs, rs.epochs == 1 ? "" : "s");
    if (fp32) {
        printf("sgd:        lr %g, momentum %g, weight decay %g, lr /10 at epochs %s\n",
               (double)rs.lr, (double)rs.momentum, (double)rs.weight_decay,
               or_none(rs.lr_steps, "(none)"));
    } else {
        printf("rule:       %s, activations %s, errors %s\n",
               rs.cfg.rule == NITI_RULE_NITI20 ? "niti20" : "niti21",
               rs.cfg.act_round == NITI_PSR ? "psr" : "round",
               rs.cfg.err_round == NITI_PSR ? "psr" : "round");
        printf("mu:         %s\n", rs.mu);
        printf("options:    weight decay %s, master weights %s\n",
               rs.cfg.weight_decay ? "on" : "off", rs.cfg.master16 ? "16-bit" : "none");
    }
    printf("seed:       %llu\n", (unsigned long long)rs.cfg.seed);
    printf("batch:      %d\n", rs.batch);
    printf("dataset:    %s%s%s\n", or_none(rs.dataset, "(not recorded)"), rs.data[0] ? " from " : "",
           rs.data);
    char tl[32], el[32], ev[48];
    snprintf(tl, sizeof tl, "%d", rs.train_limit);
    snprintf(el, sizeof el, "%d", rs.test_limit);
    if (rs.eval_every < 0) snprintf(ev, sizeof ev, "at the end only");
    else if (rs.eval_every > 1) snprintf(ev, sizeof ev, "every %d epochs", rs.eval_every);
    else snprintf(ev, sizeof ev, "every epoch");
    printf("limits:     training images %s, test images %s, evaluation %s\n",
           rs.train_limit ? tl : "all", rs.test_limit ? el : "all", ev);
    niti_dataset_id did;
    char aug_text[NITI_AUGMENT_TEXT + 40];
    if (rs.augment[0]) {
        snprintf(aug_text, sizeof aug_text, "%s", rs.augment);
    } else if (rs.dataset[0] && niti_dataset_parse_name(rs.dataset, &did) == NITI_OK) {
        niti_augment_format(niti_augment_default(did), aug_text, sizeof aug_text);
        snprintf(aug_text + strlen(aug_text), sizeof aug_text - strlen(aug_text),
                 " (the dataset's default)");
    } else {
        snprintf(aug_text, sizeof aug_text, "the dataset's default");
    }
    printf("augment:    %s\n", aug_text);
    if (rs.val > 0)
        printf("validation: the last %d training images, held out\n", rs.val);
    else printf("validation: none\n");
    printf("device:     %s%s%s%s\n", or_none(rs.device, "(not recorded)"),
           rs.device_spec[0] ? " (--device " : "", rs.device_spec, rs.device_spec[0] ? ")" : "");
    printf("run:        %s%s%s%s\n", or_none(rs.run_id, "(no id recorded)"), rs.label[0] ? ", label '" : "",
           rs.label, rs.label[0] ? "'" : "");
    printf("saves to:   %s\n", or_none(rs.save, "(not recorded)"));
    printf("logs to:    %s\n", or_none(rs.log, "(no log)"));
    printf("\n");
    print_model(m);
    niti_st_free(st);
    niti_model_free(m);
    return 0;
}

int niti_cmd_info(int argc, char **argv)
{
    const char *model = NULL;
    int list = 0, spec_only = 0, opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            info_usage(stdout);
            return 0;
        } else if (opts && !strcmp(a, "--list")) {
            list = 1;
        } else if (opts && !strcmp(a, "--spec")) {
            spec_only = 1;
        } else if (opts && !strcmp(a, "--")) {
            opts = 0;
        } else if (opts && a[0] == '-' && a[1]) {
            cli_error("info: unknown option '%s' (see niti info --help)", a);
            return 2;
        } else if (!model) {
            model = a;
        } else {
            cli_error("info: more than one MODEL given ('%s' and '%s'); quote a spec that has "
                      "spaces", model, a);
            return 2;
        }
    }
    if (list) {
        if (model) {
            cli_error("info: --list takes no MODEL");
            return 2;
        }
        printf("presets (niti info NAME for details):\n");
        list_presets();
        printf("\naugmentations (niti train --augment MODE; a mirror is refused for mnist; the "
               "Philox mapping\nis documented in src/io/data.c):\n");
        list_augmentations();
        return 0;
    }
    if (!model) {
        cli_error("info: no MODEL given");
        info_usage(stderr);
        return 2;
    }
    if (looks_like_safetensors(model)) return info_checkpoint(model, spec_only);
    niti_model_spec *m = NULL;
    if (niti_model_from_arg(model, &m) != NITI_OK) {
        struct stat sb;
        if (stat(model, &sb) == 0 && S_ISREG(sb.st_mode))
            cli_error("%s is neither a model spec nor a niti checkpoint: %s", model,
                      niti_last_error());
        else cli_error("%s", niti_last_error());
        return 2;
    }
    if (spec_only) printf("%s\n", m->canonical);
    else print_model(m);
    niti_model_free(m);
    return 0;
}
