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

/* Data-parallel training (core/comm.h): with a communicator of size R > 1, the network is one
 * of R replicas, each of which holds the same weights and takes its slice of every batch
 * (niti_batch_slice); niti_net_train_step and niti_net_forward then take n = the whole batch,
 * inputs = this rank's slice, labels = the whole batch's labels, and give the whole batch's
 * logits, and every rank's weights after each step are byte for byte those of one process
 * training on the whole batch. The network must hold the largest slice (max_batch >=
 * ceil(global_max_batch / R)); comm must outlive it or be unset (NULL). Every rank must make the
 * same calls in the same order: steps, forward passes and niti_net_layer_saturation are
 * collective. comm NULL or of size 1: one process (the default). */
typedef struct niti_comm niti_comm;
niti_status niti_net_set_comm(niti_net *net, niti_comm *comm, int global_max_batch);
/* The communicator in use, or NULL (one process). */
const niti_comm *niti_net_comm(const niti_net *net);
/* The collectives' cost since niti_net_set_comm. */
typedef struct niti_comm_stats niti_comm_stats;
void niti_net_comm_stats(const niti_net *net, niti_comm_stats *out);

#endif
