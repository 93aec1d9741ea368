/* Plots of training logs: reads the JSON Lines that `niti train --log` writes and renders one
 * figure with two panels side by side, test accuracy (%) and training loss against epoch, one
 * line per series, as PNG, SVG or PDF (drawn with cairo).
 *
 * Log events read: "start" (its "label", "resumed_at_step"), "epoch" ("epoch", "train_loss",
 * "test_acc" as a fraction 0..1; either value may be absent); on either, "run" (a string or a
 * number). Other events and keys are ignored.
 *
 * Series: one log file may hold several runs (`--log` appends). Records that carry "run" are
 * grouped by it: all records of one run id form one series, wherever they are in the file (a
 * resumed run keeps its id and so its series). A "start" record without "run" begins a new
 * series, except a resume ("resumed_at_step" > 0), which continues the series before it when
 * that one has no run id either. Epoch records before any start record form a series of their
 * own. Series without epoch records (a run that stopped before its first epoch) are dropped.
 * Within a series, when the same epoch appears twice (a resumed run appends), the later record
 * wins. */
#ifndef NITI_PLOT_H
#define NITI_PLOT_H

#include <stddef.h>

#include "niti.h"

typedef struct niti_plot_run {
    char *path;         /* the log file it was read from */
    char *label;        /* the series' first non-empty start "label", or NULL */
    char *run_id;       /* the series' "run" (a number as its decimal text), or NULL */
    int series;         /* 1-based number of this series in its file, in order of appearance */
    int n_series;       /* how many series its file holds */
    int n;              /* epoch records, sorted by epoch, one per epoch */
    double *epoch;      /* [n] */
    double *test_acc;   /* [n] in percent; NAN where the record has none */
    double *train_loss; /* [n]; NAN where the record has none */
} niti_plot_run;

/* Reads every series of a log and appends them to *runs (an array grown with realloc; *n_runs
 * counts its entries; start with NULL and 0). On failure nothing is appended and *runs, *n_runs
 * are as before. Errors: NITI_ERR_IO (cannot open/read, message names the file),
 * NITI_ERR_FORMAT ("FILE:LINE: ..." for a line that is not a JSON object; "FILE: no epoch
 * records"). */
niti_status niti_plot_read_log(const char *path, niti_plot_run **runs, int *n_runs);
/* Frees one run's contents (not the run itself) and zeroes it. */
void niti_plot_run_free(niti_plot_run *run);
/* Frees n runs' contents and the array. */
void niti_plot_runs_free(niti_plot_run *runs, int n_runs);

/* The legend text of a run: label if non-empty, else the run's label, else the base name of its
 * file; then " (run S)" for series S >= 2 of a file that holds several. Always 0-terminated
 * (cut to n - 1 bytes when longer). */
void niti_plot_series_name(const niti_plot_run *run, const char *label, char *buf, size_t n);

/* Series k's colour (a palette of 10, repeated), 0..255 per channel. */
void niti_plot_series_rgb(int k, unsigned char rgb[3]);

typedef enum niti_plot_format {
    NITI_PLOT_SVG = 0,
    NITI_PLOT_PNG = 1,
    NITI_PLOT_PDF = 2
} niti_plot_format;

/* From the output file's extension (.png, .svg or .pdf, any case); NITI_ERR_INVALID, with a
 * message naming the accepted extensions, otherwise. */
niti_status niti_plot_format_from_path(const char *path, niti_plot_format *fmt);

typedef struct niti_plot_opts {
    const char *title; /* main title above the panels, or NULL */
    int width, height; /* pixels (PDF: points); 0 = 1200 x 500. 400 x 250 to 8000 x 8000. */
} niti_plot_opts;

/* Renders the figure into a malloc'ed buffer (*out, *out_len; the caller frees it): PNG (8-bit
 * RGB), SVG (text drawn as glyph outlines) or a one-page PDF. labels[i] names run i in the
 * legend (see niti_plot_series_name; NULL labels or entries use the defaults). */
niti_status niti_plot_render(const niti_plot_run *runs, int n_runs, const char *const *labels,
                             const niti_plot_opts *opts, niti_plot_format fmt,
                             unsigned char **out, size_t *out_len);

/* Writes buf to path atomically: a temporary file in the same folder, fsync, then rename. */
niti_status niti_plot_write_file(const char *path, const unsigned char *buf, size_t len);

#endif
