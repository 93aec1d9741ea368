/* A network instance on a backend: weights, activations and the training step, written once
 * against backend.h. One step = forward (training mode), integer loss backward, backward in
 * reverse order with each conv/linear forming its error with its pre-update weights, then its
 * weight gradient, quantisation with this step's mu, and the update right away. The whole step
 * is enqueued and the host synchronises once, reading back the logits and the scalars. */
#ifndef NITI_NET_H
#define NITI_NET_H

#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "niti.h"

/* The network API is public: see niti.h. */

#endif
