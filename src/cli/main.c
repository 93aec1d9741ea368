#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "niti.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"train", niti_cmd_train, "train a network (default: LeNet on Fashion-MNIST, 1 epoch)"},
    {"eval", niti_cmd_eval, "evaluate a checkpoint on a dataset"},
    {"info", niti_cmd_info, "show a model's layers, shapes, parameters and MACs"},
    {"devices", niti_cmd_devices, "list the compute devices"},
    {"conformance", niti_cmd_conformance, "run golden test vectors on a device"},
    {"bench", niti_cmd_bench, "measure op and training speed"},
    {"plot", niti_cmd_plot, "plot training logs (accuracy and loss against epoch)"},
};

static void usage(FILE *f)
{
    fprintf(f, "niti %s: integer-only neural network training on OpenCL devices\n\n"
               "usage: niti <command> [options]   (niti <command> --help for details)\n\n"
               "commands:\n", niti_version());
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "  %-12s %s\n", "version", "print the version");
    fprintf(f, "\nDevices: --device ref | cpu | gpu | P:D | <name substring> (or NITI_DEVICE).\n");
    fprintf(f, "Conv/linear GEMM path: NITI_GEMM=auto|vnni|portable|tiled|dp4a|khr-dot (see niti "
               "devices --help).\n");
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("niti: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *cli_device_spec(const char *opt)
{
    if (opt && *opt) return opt;
    const char *env = getenv("NITI_DEVICE");
    return env && *env ? env : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        /* `niti` alone trains the default network, as `niti train` does. */
        char *targv[] = {"train", NULL};
        return niti_cmd_train(1, targv);
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("niti %s\n", niti_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "niti: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
