/* niti devices: the OpenCL devices this machine offers, plus the always-present reference. */
#include <stdio.h>
#include <string.h>

#include "backends/backends.h"
#include "cli/cli.h"

static void devices_usage(FILE *f)
{
    fprintf(f,
            "usage: niti devices\n\n"
            "Lists every OpenCL device as P:D (platform and device index) with its platform, name,\n"
            "type, driver, OpenCL C version, compute units, memory, the largest single buffer\n"
            "(max buffer: CL_DEVICE_MAX_MEM_ALLOC_SIZE) and the extensions niti cares about, then\n"
            "the plain-C reference backend 'ref', which is always available.\n"
            "Choose one for other commands with --device (or NITI_DEVICE): ref, cpu, gpu, P:D or a\n"
            "case-insensitive part of the device name. The default is the first GPU, else the first\n"
            "CPU, else ref.\n\n"
            "Each OpenCL device also shows the conv/linear GEMM path auto mode picks for it, and\n"
            "whether it reports what the GPU dot-product paths need. Environment:\n"
            "  NITI_GEMM=auto|vnni|portable|tiled|dp4a|khr-dot\n"
            "               force a path (an impossible one is an error): vnni, portable (CPUs);\n"
            "               tiled (GPUs); dp4a, khr-dot: tiled with NVIDIA's dp4a or with\n"
            "               cl_khr_integer_dot_product\n"
            "  NITI_DOT_EMULATE=1\n"
            "               testing aid: a forced dp4a or khr-dot runs with a portable stand-in\n"
            "               for the instruction, on any device\n\n"
            "options:\n"
            "  -h, --help   this help\n\n"
            "Exit status: 0 (also when no OpenCL platform is installed), 2 bad usage.\n");
}

int niti_cmd_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            devices_usage(stdout);
            return 0;
        }
        cli_error("devices: unknown argument '%s' (see niti devices --help)", argv[i]);
        return 2;
    }
    printf("OpenCL devices:\n");
    niti_cl_list_devices(stdout);
    printf("\nref  plain-C reference backend (always available; select with --device ref)\n");
    return 0;
}
