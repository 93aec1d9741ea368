/* niti eval: accuracy, per-class accuracy and confusion matrix of a checkpoint on a dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "io/checkpoint.h"
#include "cli/cli.h"
#include "io/data.h"
#include "train/train.h"

static const char *usage_text =
    "usage: niti eval CKPT [options]\n"
    "\n"
    "Evaluates a checkpoint written by niti train --save on a dataset's test set (or training\n"
    "set) and prints the accuracy, the accuracy of each class and the confusion matrix.\n"
    "\n"
    "  --dataset D    mnist | fashion-mnist | cifar10 (default: the checkpoint's dataset)\n"
    "  --data DIR     dataset folder (else $NITI_DATA, else ./data)\n"
    "  --split S      test (default) | train\n"
    "  --device D     ref | cpu | gpu | P:D | name substring (default $NITI_DEVICE, else auto)\n"
    "  --batch N      evaluation batch size (default 256)\n"
    "  --limit N      evaluate only the first N images\n";

int niti_cmd_eval(int argc, char **argv)
{
    const char *dataset = NULL, *data = NULL, *split = NULL, *device = NULL, *batch_s = NULL,
               *limit_s = NULL;
    const cli_opt opts[] = {
        {"dataset", 1, &dataset, NULL}, {"data", 1, &data, NULL},   {"split", 1, &split, NULL},
        {"device", 1, &device, NULL},   {"batch", 1, &batch_s, NULL}, {"limit", 1, &limit_s, NULL},
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
    niti_dataset d = {0};
    int64_t *conf = NULL;
    niti_run_state rs;
    if (niti_backend_open(cli_device_spec(device), &be) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    if (niti_checkpoint_load(pos[0], be, (int)batch, &net, &rs) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    const char *dname = dataset ? dataset : rs.dataset;
    if (!dname || !*dname) {
        cli_error("the checkpoint names no dataset: give --dataset");
        goto out;
    }
    niti_dataset_id id;
    if (niti_dataset_parse_name(dname, &id) != NITI_OK ||
        niti_dataset_load(id, data, train_split, &d) != NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    const niti_model_spec *m = niti_net_model(net);
    int C = niti_model_classes(m);
    conf = calloc((size_t)C * C, sizeof *conf);
    if (!conf) {
        cli_error("out of memory");
        goto out;
    }
    int8_t tables[3][256];
    niti_dataset_input_tables(id, tables);
    int64_t correct, total;
    double loss;
    if (niti_evaluate(net, &d, tables, (int)batch, (int)limit, &correct, &total, conf, &loss) !=
        NITI_OK) {
        cli_error("%s", niti_last_error());
        goto out;
    }
    printf("checkpoint: %s (%s, epoch %d, step %u)\n", pos[0], m->name ? m->name : "custom",
           rs.epoch, rs.step);
    printf("device:     %s\n", be->name);
    printf("dataset:    %s %s, %lld images\n", niti_dataset_name(id), train_split ? "train" : "test",
           (long long)total);
    printf("accuracy:   %.2f%% (%lld/%lld)\n", 100.0 * correct / total, (long long)correct,
           (long long)total);
    printf("loss:       %.4f (display only)\n\n", loss / total);
    printf("per class:\n");
    for (int c = 0; c < C; c++) {
        int64_t n = 0;
        for (int p = 0; p < C; p++) n += conf[(size_t)c * C + p];
        if (n) printf("  class %2d: %6.2f%% (%lld/%lld)\n", c, 100.0 * conf[(size_t)c * C + c] / n,
                      (long long)conf[(size_t)c * C + c], (long long)n);
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted):\n      ");
    for (int p = 0; p < C; p++) printf(" %6d", p);
    printf("\n");
    for (int c = 0; c < C; c++) {
        printf("  %2d: ", c);
        for (int p = 0; p < C; p++) printf(" %6lld", (long long)conf[(size_t)c * C + p]);
        printf("\n");
    }
    rc = 0;
out:
    free(conf);
    niti_dataset_free(&d);
    niti_net_free(net);
    niti_backend_close(be);
    return rc;
}
