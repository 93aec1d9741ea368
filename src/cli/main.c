#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dist/dist.h"
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

/* Under mpirun with several processes, errors name their rank. */
static int error_rank = -1;

void cli_error(const char *fmt, ...)
{
    /* one write, so that the lines of several processes do not interleave */
    char msg[8192];
    int off = error_rank >= 0 ? snprintf(msg, sizeof msg, "niti: rank %d: error: ", error_rank)
                              : snprintf(msg, sizeof msg, "niti: error: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof msg - (size_t)off - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    msg[len] = '\n';
    fwrite(msg, 1, len + 1, stderr);
}

const char *cli_device_spec(const char *opt)
{
    if (opt && *opt) return opt;
    const char *env = getenv("NITI_DEVICE");
    return env && *env ? env : NULL;
}

static int run_command(int argc, char **argv);

/* Under mpirun (a build with -DNITI_MPI=ON) every process runs the command; with several, only
 * niti train is distributed, and a process that fails ends them all (MPI_Abort after its message,
 * "niti: rank K: error: ..."), so that no rank waits forever for one that has gone. */
int main(int argc, char **argv)
{
    if (niti_dist_init(&argc, &argv) != 0) return 1;
    niti_comm *world = niti_dist_world();
    if (world->size > 1) {
        error_rank = world->rank;
        if (argc >= 2 && strcmp(argv[1], "train")) {
            if (world->rank == 0) /* every rank knows; rank 0 says it */
                cli_error("under mpirun only 'niti train' runs on several processes (%d were "
                          "started); run 'niti %s' in one process", world->size, argv[1]);
            niti_dist_barrier();
            if (world->rank) sleep(10); /* rank 0's abort ends them (one abort, one message) */
            niti_dist_abort(2);
        }
    }
    int rc = run_command(argc, argv);
    fflush(stdout);
    if (world->size > 1 && rc != 0 && rc != 130) niti_dist_abort(rc);
    niti_dist_finalize();
    return rc;
}

static int run_command(int argc, char **argv)
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
