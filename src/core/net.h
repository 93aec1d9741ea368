/* A network instance on a backend: weights, activations and the training step, written once
 * against backend.h. One step = forward (training mode), integer loss backward, backward in
 * reverse order with each conv/linear forming its error with its pre-update weights, then its
 * weight gradient, quantisation with this step's mu, and the update right away. The whole step
 * is enqueued and the host synchronises once, reading back the logits and the scalars. */
#ifndef NITI_NET_H
#define NITI_NET_H

#include <stdint.h>

#include "core/backend.h"
#include "core/model.h"
#include "niti.h"

/* The network API is public: see niti.h. */

/* The accumulator buffer a network of model m at batch max_batch allocates (*acc_bytes: the
 * largest int32/int64 accumulator of its conv/linear forward and error passes) and its weight
 * gradients (*g_bytes, int64 for the largest layer). They live at the end of the accumulators
 * from *g_off on when those are at least twice their size (*g_off = 0: their own buffer);
 * conv_wgrad's work space is the accumulators before *g_off, or all of them. */
void niti_net_acc_plan(const niti_model_spec *m, int max_batch, size_t *acc_bytes,
                       size_t *g_bytes, size_t *g_off);

#endif
