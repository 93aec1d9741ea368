/* Model specs: a network as a layer list, in the notation of the golden `net` cases, e.g.
 *   input 28x28x1; conv 20 k5 p0; relu; maxpool 2; conv 50 k5 p0; relu; maxpool 2; flatten;
 *   linear 500; relu; linear 10
 * Layers are separated by ';' or newlines; '#' starts a comment to the end of the line.
 * This file is the one place that lists the supported layers. */
#ifndef NITI_MODEL_H
#define NITI_MODEL_H

#include <stdint.h>

#include "niti.h"

typedef enum niti_layer_kind {
    NITI_LAYER_CONV = 0,    /* conv O kK pP: KxK, zero padding P, stride 1, no bias */
    NITI_LAYER_RELU = 1,    /* relu */
    NITI_LAYER_MAXPOOL = 2, /* maxpool 2: 2x2 stride 2 (odd sizes: last row/column dropped) */
    NITI_LAYER_FLATTEN = 3, /* flatten: (h, w, c) order; NHWC makes it a no-op in memory */
    NITI_LAYER_DROPOUT = 4, /* dropout: p = 1/2, training only, flattened input only */
    NITI_LAYER_LINEAR = 5   /* linear O: flattened input only, no bias */
} niti_layer_kind;

typedef struct niti_layer_spec {
    niti_layer_kind kind;
    int out_ch;          /* conv / linear: O */
    int k, pad;          /* conv: kernel size, padding (linear: k = 1, pad = 0) */
    int in_h, in_w, in_c;    /* inferred input shape (flattened tensors: 1 x 1 x F) */
    int out_h, out_w, out_c; /* inferred output shape */
    int flat;            /* 1 if the output is a flattened [N, F] tensor */
} niti_layer_spec;

typedef struct niti_model_spec {
    int in_h, in_w, in_c;
    int n_layers;
    niti_layer_spec *layers;
    char *canonical;     /* normalised spec text ("input 28x28x1; conv 20 k5 p0; ...") */
    char *name;          /* preset name, or "custom" */
} niti_model_spec;

/* Parses spec text. Errors (NITI_ERR_FORMAT) name the line, column and what was expected. */
/* public (niti.h): niti_status niti_model_parse(const char *text, niti_model_spec **out); */
/* A preset name, a file (if a file of that name exists), or inline spec text. */
/* public (niti.h): niti_status niti_model_from_arg(const char *arg, niti_model_spec **out); */
/* public (niti.h): void niti_model_free(niti_model_spec *m); */

/* Presets: NULL-terminated name list, and the spec text of one (NULL if unknown). */
const char *const *niti_model_preset_names(void);
const char *niti_model_preset_text(const char *name);

static inline int niti_layer_has_weights(const niti_layer_spec *l)
{
    return l->kind == NITI_LAYER_CONV || l->kind == NITI_LAYER_LINEAR;
}
/* Weight count of a layer (0 for layers without weights). */
int64_t niti_layer_params(const niti_layer_spec *l);
/* Multiply-accumulates per image in the forward pass. */
int64_t niti_layer_macs(const niti_layer_spec *l);
/* public (niti.h): int64_t niti_model_params(const niti_model_spec *m); */
int64_t niti_model_macs(const niti_model_spec *m);
/* Number of classes = output size of the last layer. */
/* public (niti.h): int niti_model_classes(const niti_model_spec *m); */

/* Additions (model.c): one-line description of a preset (NULL if unknown); the keyword of a
 * layer kind ("conv"); a layer in spec notation ("conv 20 k5 p0", "linear 10", "relu") written
 * to buf like snprintf; the number of terms K of one forward sum of a conv/linear output
 * (k*k*I or F; 0 for other layers) and the accumulator width that holds it exactly even with
 * -128 inputs (32 if K*128*127 < 2^31, else 64; 0 for layers without weights); a deep copy. */
const char *niti_model_preset_description(const char *name);
const char *niti_layer_kind_name(niti_layer_kind k);
int niti_layer_format(const niti_layer_spec *l, char *buf, size_t n);
int64_t niti_layer_fwd_terms(const niti_layer_spec *l);
int niti_layer_fwd_acc_bits(const niti_layer_spec *l);
niti_status niti_model_copy(const niti_model_spec *m, niti_model_spec **out);

#endif
