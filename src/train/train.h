/* Training-loop helpers shared by the CLI and the C API: the mu schedule and evaluation. */
#ifndef NITI_TRAIN_H
#define NITI_TRAIN_H

#include <stdint.h>

#include "io/data.h"
#include "core/net.h"

#define NITI_MU_MAX_STAGES 32

/* A mu schedule: "5" (constant) or "5,100:4,150:3" (5 from epoch 0, 4 from epoch 100, 3 from
 * 150). Epochs strictly increasing; mu in [-64, 64]. */
typedef struct niti_mu_schedule {
    int n;
    int from_epoch[NITI_MU_MAX_STAGES];
    int mu[NITI_MU_MAX_STAGES];
} niti_mu_schedule;

niti_status niti_mu_parse(const char *text, niti_mu_schedule *out);
int niti_mu_at(const niti_mu_schedule *s, int epoch);
/* Canonical text of a schedule (buf of at least 16 * NITI_MU_MAX_STAGES bytes). */
void niti_mu_format(const niti_mu_schedule *s, char *buf, size_t len);

/* Index of the largest logit (the first on ties). */
int niti_argmax_i8(const int8_t *v, int n);

/* Evaluates the network on a dataset (evaluation mode). confusion (classes*classes, row = true
 * label, column = prediction) may be NULL. loss_sum receives the sum of display losses (may be
 * NULL). limit > 0 evaluates only the first `limit` images. */
niti_status niti_evaluate(niti_net *net, const niti_dataset *d, const int8_t tables[3][256],
                          int batch, int limit, int64_t *correct, int64_t *total,
                          int64_t *confusion, double *loss_sum);

#endif
