/* Plots of training logs: reads the JSON Lines that `niti train --log` writes and renders one
 * figure with two panels side by side, test accuracy (%) and training loss against epoch, one
 * line per run, as SVG (text) or PNG (a small built-in rasteriser and bitmap font, zlib).
 *
 * Log events read: "start" (its "label"), "epoch" ("epoch", "train_loss", "test_acc" as a
 * fraction 0..1; either value may be absent). Other events and keys are ignored. When a log holds
 * the same epoch twice (a resumed run appends), the later record wins. */
#ifndef NITI_PLOT_H
#define NITI_PLOT_H

#include <stddef.h>

#include "niti.h"

typedef struct niti_plot_run {
    char *path;        /* the log file it was read from */
    char *label;       /* the first start event's "label", or NULL */
    int n;             /* epoch records, sorted by epoch, one per epoch */
    double *epoch;     /* [n] */
    double *test_acc;  /* [n] in percent; NAN where the record has none */
    double *train_loss; /* [n]; NAN where the record has none */
} niti_plot_run;

/* Reads a log. Errors: NITI_ERR_IO (cannot open/read, message names the file), NITI_ERR_FORMAT
 * ("FILE:LINE: ..." for a line that is not a JSON object; "FILE: no epoch records"). */
niti_status niti_plot_read_log(const char *path, niti_plot_run *run);
void niti_plot_run_free(niti_plot_run *run);

typedef enum niti_plot_format { NITI_PLOT_SVG = 0, NITI_PLOT_PNG = 1 } niti_plot_format;

/* From the output file's extension (.svg or .png, any case); NITI_ERR_INVALID otherwise. */
niti_status niti_plot_format_from_path(const char *path, niti_plot_format *fmt);

typedef struct niti_plot_opts {
    const char *title; /* main title above the panels, or NULL */
    int width, height; /* pixels; 0 = 1200 x 500. At least 400 x 250. */
} niti_plot_opts;

/* Renders the figure into a malloc'ed buffer (*out, *out_len; the caller frees it). labels[i]
 * names run i in the legend; a NULL labels or entry falls back to the run's label, then to the
 * file's base name. */
niti_status niti_plot_render(const niti_plot_run *runs, int n_runs, const char *const *labels,
                             const niti_plot_opts *opts, niti_plot_format fmt,
                             unsigned char **out, size_t *out_len);

/* Writes buf to path atomically: a temporary file in the same folder, fsync, then rename. */
niti_status niti_plot_write_file(const char *path, const unsigned char *buf, size_t len);

#endif
