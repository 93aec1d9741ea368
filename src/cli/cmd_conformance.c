/* niti conformance: run golden test vectors on a device (see src/conformance.h). */
#include <stdio.h>
#include <string.h>

#include "backends/backends.h"
#include "cli/cli.h"
#include "tools/conformance.h"
#include "niti.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: niti conformance [--device D] [--quiet] PATH...\n"
            "\n"
            "Runs golden test vectors (safetensors case files, e.g. shared/golden) through the\n"
            "ops of a device and compares every output with exact integer equality.\n"
            "PATH is a case file or a folder (every *.safetensors in it, sorted by name, not\n"
            "recursive).\n"
            "\n"
            "options:\n"
            "  --device D, -d D, --device=D\n"
            "               ref | cpu | gpu | P:D | <name substring> (default: $NITI_DEVICE,\n"
            "               else the first GPU, else the first CPU, else ref)\n"
            "  --quiet, -q  print only failures and the summary\n"
            "  --help, -h   show this help\n"
            "\n"
            "Prints the device, then one line per case: 'PASS name' or 'FAIL name: ...'\n"
            "(the first differing element of each differing tensor), then 'N passed, M failed'.\n"
            "Exit status: 0 all passed, 1 a case failed, 2 bad usage, an unknown device or a\n"
            "PATH that is missing or unreadable (or a folder without case files).\n");
}

int niti_cmd_conformance(int argc, char **argv)
{
    const char *device = NULL;
    int flags = 0, npaths = 0, opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !a[1]) {
            argv[1 + npaths++] = argv[i]; /* compact the paths in place */
        } else if (!strcmp(a, "--")) {
            opts_done = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            flags |= NITI_CONF_QUIET;
        } else if (!strcmp(a, "--device") || !strcmp(a, "-d")) {
            if (i + 1 >= argc) {
                cli_error("conformance: %s needs a value", a);
                return 2;
            }
            device = argv[++i];
        } else if (!strncmp(a, "--device=", 9)) {
            device = a + 9;
        } else {
            cli_error("conformance: unknown option '%s'", a);
            usage(stderr);
            return 2;
        }
    }
    if (npaths == 0) {
        cli_error("conformance: no PATH given");
        usage(stderr);
        return 2;
    }

    niti_backend *be = NULL;
    niti_status s = niti_backend_open(cli_device_spec(device), &be);
    if (s != NITI_OK) {
        cli_error("conformance: cannot open device '%s': %s",
                  cli_device_spec(device) ? cli_device_spec(device) : "(default)",
                  niti_last_error());
        return 2;
    }
    printf("device: %s\n", be->name);
    fflush(stdout);

    int passed = 0, failed = 0, bad_path = 0;
    for (int i = 0; i < npaths; i++) {
        s = niti_conformance_run_ex(be, argv[1 + i], stdout, flags, &passed, &failed);
        if (s != NITI_OK) {
            fflush(stdout);
            cli_error("conformance: %s", niti_last_error());
            bad_path = 1;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    niti_backend_close(be);
    return bad_path ? 2 : failed ? 1 : 0;
}
