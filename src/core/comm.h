/* Data-parallel training: the communicator the training step (net.c) talks to when several
 * processes train one network together, each on its own slice of every batch. Core never sees
 * MPI: a layer above it (src/dist, built with -DNITI_MPI=ON) fills this struct of functions.
 *
 * The split of a batch (niti_batch_slice): a global batch of n samples is cut into `size`
 * contiguous slices in rank order; when size does not divide n the first n % size ranks get one
 * sample more (a rank may get none when n < size, e.g. in the last batch of an epoch).
 *
 * Every function is collective: every rank calls it, in the same order, with the same n.
 * A failure is returned as a niti_status (the caller ends the job: a collective that one rank
 * left cannot be resumed). */
#ifndef NITI_COMM_H
#define NITI_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "niti.h"

typedef struct niti_comm niti_comm;
struct niti_comm {
    int rank, size;
    void *impl;
    /* v[i] = the maximum of v[i] over every rank, in place */
    niti_status (*max_u64)(niti_comm *c, uint64_t *v, size_t n);
    /* v[i] = the sum of v[i] over every rank, in place (exact: the caller guarantees the sums
     * fit the type) */
    niti_status (*sum_i64)(niti_comm *c, int64_t *v, size_t n);
    niti_status (*sum_i32)(niti_comm *c, int32_t *v, size_t n);
    /* recv = every rank's send bytes, in rank order; rank r sends counts[r] bytes */
    niti_status (*allgatherv)(niti_comm *c, const void *send, void *recv, const int *counts);
};

/* Slice of rank `rank` of `size` in a global batch of n samples: samples [*first, *first +
 * *count). */
static inline void niti_batch_slice(int n, int rank, int size, int *first, int *count)
{
    int q = n / size, r = n % size;
    *count = q + (rank < r);
    *first = rank * q + (rank < r ? rank : r);
}

/* What a network's collectives cost so far (niti_net_comm_stats): calls, seconds inside them
 * (waiting for the slowest rank included), and bytes this rank contributed (the payload given
 * to each collective, not what the MPI library moves on the wire). */
typedef struct niti_comm_stats {
    uint64_t calls, bytes;
    double seconds;
} niti_comm_stats;

#endif
