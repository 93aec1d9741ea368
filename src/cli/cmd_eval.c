/* niti eval: accuracy, per-class accuracy and confusion matrix of a checkpoint (int8 or fp32) on
 * a dataset, as text or (--json) one JSON object. Everything that can be checked without a
 * device (the checkpoint, the dataset's shape, the data folder, the environment) is checked
 * before a device is opened or data is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/train_util.h"
#include "fp32/fp32.h"
#include "io/checkpoint.h"
#include "io/data.h"
#include "train/train.h"

static const char *usage_text =
    "usage: niti eval CKPT [options]\n"
    "\n"
    "Evaluates a checkpoint written by niti train --save (int8 or fp32) on a dataset's test set\n"
    "(or training set) and prints the accuracy, the accuracy of each class and the confusion\n"
    "matrix.\n"
    "\n"
    "  --dataset D    mnist | fashion-mnist | cifar10 (default: the checkpoint's dataset)\n"
    "  --data DIR     dataset folder, used or refused (else $NITI_DATA, else the folder the\n"
    "                 checkpoint's run read, else ./data; Fashion-MNIST then\n"
    "                 /usr/share/datasets/fashion-mnist)\n"
    "  --split S      test (default) | train\n"
    "  --device D     ref | cpu | gpu | P:D | name substring (default $NITI_DEVICE, else auto)\n"
    "  --batch N      evaluation batch size (default 256)\n"
    "  --limit N      evaluate only the first N images\n"
    "  --json         print one JSON object (accuracy, loss, per-class counts with the class\n"
    "                 names, confusion matrix) instead of the text report\n";

int niti_cmd_eval(int argc, char **argv)
{
    const char *dataset = NULL, *data = NULL, *split = NULL, *device = NULL, *batch_s = NULL,
               *limit_s = NULL;
    int json = 0;
    const cli_opt opts[] = {
        {"dataset", 1, &dataset, NULL}, {"data", 1, &data, NULL},     {"split", 1, &split, NULL},
        {"device", 1, &device, NULL},   {"batch", 1, &batch_s, NULL}, {"limit", 1, &limit_s, NULL},
        {"json", 0, NULL, &json},
    };
    const char *pos[1];
    int npos;
    int pr = cli_parse("eval", argc, argv, opts, (int)(sizeof opts / sizeof *opts), pos, 1, &npos);
    if (pr == 1) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (pr) return 2;
    if (npos != 1) {
        fprintf(stderr, "niti eval: give one checkpoint file (see niti eval --help)\n");
        return 2;
    }
    long long batch = 256, limit = 0;
    if (batch_s && !cli_int("eval", "batch", batch_s, 1, 1 << 16, &batch)) return 2;
    if (limit_s && !cli_int("eval", "limit", limit_s, 1, 1 << 30, &limit)) return 2;
    int train_split = 0;
    if (split) {
        if (!strcmp(split, "train")) train_split = 1;
        else if (strcmp(split, "test")) {
            fprintf(stderr, "niti eval: --split must be test or train (got '%s')\n", split);
            return 2;
        }
    }

    int rc = 2;
    niti_backend *be = NULL;
    niti_net *net = NULL;
    niti_f32_net *fnet = NULL;
    niti_model_spec *model = NULL;
    niti_dataset d = {0};
    int64_t *conf = NULL;
    niti_run_state rs;
    const char *path = pos[0];

    /* the checkpoint, the dataset, its folder and the environment: before any work */
    if (!cli_read_checkpoint(path, &rs, &model)) goto out;
    int fp32 = !strcmp(rs.precision, "fp32");
    niti_dataset_id id;
    const char *dname = dataset ? dataset : rs.dataset;
    if (!dname || !*dname) {
        cli_error("the checkpoint %s names no dataset: give --dataset", path);
        goto out;
    }
    if (niti_dataset_parse_name(dname, &id) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    int h, w, c;
    niti_dataset_shape(id, &h, &w, &c);
    if (model->in_h != h || model->in_w != w || model->in_c != c) {
        cli_error("the checkpoint's model takes %dx%dx%d images but %s has %dx%dx%d", model->in_h,
                  model->in_w, model->in_c, niti_dataset_name(id), h, w, c);
        goto out;
    }
    if (niti_model_classes(model) < 10) {
        cli_error("the checkpoint's model has %d outputs but %s has 10 classes",
                  niti_model_classes(model), niti_dataset_name(id));
        goto out;
    }
    const char *env = getenv("NITI_DATA");
    const char *dir = data && *data ? data
                      : env && *env ? env
                      : rs.data[0] && !strcmp(rs.dataset, niti_dataset_name(id)) ? rs.data
                                                                                  : NULL;
    char folder[1024];
    if (niti_dataset_locate(id, dir, train_split, folder, sizeof folder) != NITI_OK) {
        if (dir == rs.data)
            cli_error("%s (the folder the checkpoint's run read; give --data DIR)", niti_last_error());
        else cli_error("%s", niti_last_error());
        goto out;
    }
    const char *dev = cli_device_spec(device);
    if (!cli_check_gemm_env(dev, fp32)) goto out;

    /* the work */
    if (fp32) {
        if (niti_f32_checkpoint_load(path, dev, (int)batch, &fnet, NULL) != NITI_OK) {
            cli_error("%s", niti_last_error());
            goto out;
        }
    } else if (niti_backend_open(dev, &be) != NITI_OK ||
               niti_checkpoint_load(path, be, (int)batch, &net, NULL) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    if (niti_dataset_load(id, folder, train_split, &d) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    int C = niti_model_classes(model);
    conf = calloc((size_t)C * C, sizeof *conf);
    if (!conf) {
        cli_error("out of memory");
        goto out;
    }
    int8_t tables[3][256];
    niti_dataset_input_tables(id, tables);
    int64_t correct, total;
    double loss;
    niti_status s = fp32 ? niti_f32_evaluate(fnet, &d, tables, (int)batch, (int)limit, &correct,
                                             &total, conf, &loss)
                         : niti_evaluate(net, &d, tables, (int)batch, (int)limit, &correct,
                                         &total, conf, &loss);
    if (s != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    const char *device_name = fp32 ? niti_f32_device_name(fnet) : be->name;
    const char *mname = model->name ? model->name : "custom";
    char where[96];
    cli_describe_position(&rs, where, sizeof where);
    if (json) {
        printf("{\"checkpoint\":");
        cli_json_str(stdout, path);
        printf(",\"model\":");
        cli_json_str(stdout, mname);
        printf(",\"precision\":\"%s\",\"epoch\":%d,\"step\":%u,\"device\":", rs.precision, rs.epoch,
               rs.step);
        cli_json_str(stdout, device_name);
        printf(",\"dataset\":\"%s\",\"split\":\"%s\",\"data\":", niti_dataset_name(id),
               train_split ? "train" : "test");
        cli_json_str(stdout, d.source);
        printf(",\"images\":%lld,\"correct\":%lld,\"accuracy\":%.6f,\"loss\":%.6f,\"classes\":[",
               (long long)total, (long long)correct, (double)correct / total, loss / total);
        for (int k = 0; k < C; k++) {
            int64_t n = 0;
            for (int p = 0; p < C; p++) n += conf[(size_t)k * C + p];
            const char *cn = niti_dataset_class_name(id, k);
            printf("%s{\"index\":%d,\"name\":", k ? "," : "", k);
            if (cn) cli_json_str(stdout, cn);
            else printf("null");
            printf(",\"images\":%lld,\"correct\":%lld,\"accuracy\":", (long long)n,
                   (long long)conf[(size_t)k * C + k]);
            if (n) printf("%.6f}", (double)conf[(size_t)k * C + k] / n);
            else printf("null}");
        }
        printf("],\"confusion\":[");
        for (int k = 0; k < C; k++) {
            printf("%s[", k ? "," : "");
            for (int p = 0; p < C; p++) printf("%s%lld", p ? "," : "", (long long)conf[(size_t)k * C + p]);
            printf("]");
        }
        printf("]}\n");
        rc = 0;
        goto out;
    }
    printf("checkpoint: %s (%s, %s, %s)\n", path, mname, rs.precision, where);
    printf("device:     %s\n", device_name);
    printf("dataset:    %s %s from %s, %lld images\n", niti_dataset_name(id),
           train_split ? "train" : "test", d.source, (long long)total);
    printf("accuracy:   %.2f%% (%lld/%lld)\n", 100.0 * correct / total, (long long)correct,
           (long long)total);
    printf("loss:       %.4f (display only)\n\n", loss / total);
    printf("per class:\n");
    for (int k = 0; k < C; k++) {
        int64_t n = 0;
        for (int p = 0; p < C; p++) n += conf[(size_t)k * C + p];
        const char *cn = id == NITI_DATA_MNIST ? NULL : niti_dataset_class_name(id, k);
        if (n) printf("  %2d %-12s %6.2f%% (%lld/%lld)\n", k, cn ? cn : "", 100.0 * conf[(size_t)k * C + k] / n,
                      (long long)conf[(size_t)k * C + k], (long long)n);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted):\n                 ");
    for (int p = 0; p < C; p++) printf(" %6d", p);
    printf("\n");
    for (int k = 0; k < C; k++) {
        const char *cn = id == NITI_DATA_MNIST ? NULL : niti_dataset_class_name(id, k);
        printf("  %2d %-12s", k, cn ? cn : "");
        for (int p = 0; p < C; p++) printf(" %6lld", (long long)conf[(size_t)k * C + p]);
        printf("\n");
    }
    rc = 0;
out:
    free(conf);
    niti_dataset_free(&d);
    niti_net_free(net);
    niti_f32_free(fnet);
    niti_model_free(model);
    niti_backend_close(be);
    return rc;
}
