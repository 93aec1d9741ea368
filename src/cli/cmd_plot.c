/* niti plot: training logs (JSON Lines from `niti train --log`) to a PNG, SVG or PDF figure with
 * test accuracy and training loss against epoch, one line per run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "niti.h"
#include "tools/plot.h"

static void plot_usage(FILE *f)
{
    fprintf(f,
            "usage: niti plot LOG... -o OUT [--title T] [--labels A,B,...] [--size WxH]\n\n"
            "Plots training logs written by `niti train --log FILE` (JSON Lines) into one figure\n"
            "with two panels side by side: test accuracy (%%) against epoch on the left, training\n"
            "loss against epoch on the right, one coloured line with point markers per run, and a\n"
            "legend below. Epochs without a test evaluation are skipped on the accuracy line.\n\n"
            "One log may hold several runs (--log appends): records that carry a \"run\" id are\n"
            "grouped by it; otherwise every \"start\" record begins a new run, except a resumed\n"
            "one (\"resumed_at_step\" > 0), which continues the run before it. When a run holds\n"
            "an epoch twice (a resumed run), the later record is plotted.\n\n"
            "options:\n"
            "  -o, --output OUT   the figure to write; its extension picks the format: .png\n"
            "                     (8-bit RGB image), .svg or .pdf (vector, one page). Written\n"
            "                     atomically (temp file, then rename).\n"
            "  --title T          a main title above the panels\n"
            "  --labels A,B,...   legend labels, one per LOG in order (an empty entry keeps the\n"
            "                     default). Default: the run's start event \"label\", else the\n"
            "                     file's name; the second and later runs of a log that holds\n"
            "                     several get \" (run 2)\", \" (run 3)\"... after it.\n"
            "  --size WxH         figure size in pixels (PDF: points; default 1200x500; 400x250\n"
            "                     to 8000x8000)\n"
            "  -h, --help         this help\n\n"
            "Exit status: 0 ok; 1 the figure could not be written; 2 bad usage or unreadable\n"
            "input (a missing log, a line that is not JSON, a log without epoch records, an\n"
            "output name without .png, .svg or .pdf).\n");
}

static int need_value(int i, int argc, const char *opt)
{
    if (i + 1 >= argc) {
        cli_error("plot: %s needs a value", opt);
        return 0;
    }
    return 1;
}

int niti_cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *title = NULL, *labels_arg = NULL, *size = NULL;
    int nlogs = 0, opts_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || !a[1]) {
            argv[1 + nlogs++] = argv[i]; /* compact the logs in place */
        } else if (!strcmp(a, "--")) {
            opts_done = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            plot_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!need_value(i, argc, a)) return 2;
            out = argv[++i];
        } else if (!strncmp(a, "--output=", 9)) {
            out = a + 9;
        } else if (!strcmp(a, "--title")) {
            if (!need_value(i, argc, a)) return 2;
            title = argv[++i];
        } else if (!strncmp(a, "--title=", 8)) {
            title = a + 8;
        } else if (!strcmp(a, "--labels")) {
            if (!need_value(i, argc, a)) return 2;
            labels_arg = argv[++i];
        } else if (!strncmp(a, "--labels=", 9)) {
            labels_arg = a + 9;
        } else if (!strcmp(a, "--size")) {
            if (!need_value(i, argc, a)) return 2;
            size = argv[++i];
        } else if (!strncmp(a, "--size=", 7)) {
            size = a + 7;
        } else {
            cli_error("plot: unknown option '%s' (see niti plot --help)", a);
            return 2;
        }
    }
    if (nlogs == 0) {
        cli_error("plot: no LOG given");
        plot_usage(stderr);
        return 2;
    }
    if (!out || !*out) {
        cli_error("plot: no output file given (-o OUT.png, OUT.svg or OUT.pdf)");
        return 2;
    }
    niti_plot_format fmt;
    if (niti_plot_format_from_path(out, &fmt) != NITI_OK) {
        cli_error("plot: %s", niti_last_error());
        return 2;
    }
    niti_plot_opts po = {title, 0, 0};
    if (size) {
        char *end = NULL;
        long w = strtol(size, &end, 10), h = -1;
        if (end && (*end == 'x' || *end == 'X')) h = strtol(end + 1, &end, 10);
        if (!end || *end || w < 400 || h < 250 || w > 8000 || h > 8000) {
            cli_error("plot: --size '%s': expected WxH from 400x250 to 8000x8000", size);
            return 2;
        }
        po.width = (int)w, po.height = (int)h;
    }

    /* --labels: split on commas; one entry per log. */
    char *lab_buf = NULL;
    const char **labels = NULL;
    if (labels_arg) {
        int n = 1;
        for (const char *p = labels_arg; *p; p++) n += *p == ',';
        if (n != nlogs) {
            cli_error("plot: --labels has %d entr%s but %d LOG%s given", n, n == 1 ? "y" : "ies",
                      nlogs, nlogs == 1 ? " is" : "s are");
            return 2;
        }
        size_t len = strlen(labels_arg) + 1;
        lab_buf = malloc(len);
        labels = malloc((size_t)nlogs * sizeof *labels);
        if (!lab_buf || !labels) {
            free(lab_buf), free(labels);
            cli_error("plot: out of memory");
            return 1;
        }
        memcpy(lab_buf, labels_arg, len);
        char *p = lab_buf;
        for (int k = 0; k < nlogs; k++) {
            labels[k] = p;
            char *comma = strchr(p, ',');
            if (comma) *comma = 0, p = comma + 1;
        }
    }

    /* Every log's runs in order; label_of[k]: the --labels entry of run k's log. */
    int rc = 0, nruns = 0;
    niti_plot_run *runs = NULL;
    const char **label_of = NULL;
    for (int i = 0; rc == 0 && i < nlogs; i++) {
        int before = nruns;
        niti_status s = niti_plot_read_log(argv[1 + i], &runs, &nruns);
        if (s != NITI_OK) {
            cli_error("plot: %s", niti_last_error());
            rc = s == NITI_ERR_NOMEM ? 1 : 2;
            break;
        }
        if (labels) {
            const char **nl = realloc(label_of, (size_t)nruns * sizeof *nl);
            if (!nl) {
                cli_error("plot: out of memory");
                rc = 1;
                break;
            }
            label_of = nl;
            for (int k = before; k < nruns; k++) label_of[k] = labels[i];
        }
    }
    if (rc == 0) {
        unsigned char *buf = NULL;
        size_t len = 0;
        niti_status s = niti_plot_render(runs, nruns, label_of, &po, fmt, &buf, &len);
        if (s == NITI_OK) s = niti_plot_write_file(out, buf, len);
        if (s != NITI_OK) {
            cli_error("plot: %s", niti_last_error());
            rc = s == NITI_ERR_INVALID ? 2 : 1;
        }
        free(buf);
    }
    niti_plot_runs_free(runs, nruns);
    free(label_of);
    free(labels);
    free(lab_buf);
    return rc;
}
