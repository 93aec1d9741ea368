/* Several processes of one run (data-parallel training under mpirun): the MPI side of the
 * communicator core/comm.h describes. Built with MPI only with -DNITI_MPI=ON; otherwise every
 * function here describes one process (size 1), so the CLI calls them unconditionally.
 * Only the CLI uses this layer: the library (libniti) never links MPI. */
#ifndef NITI_DIST_H
#define NITI_DIST_H

#include <stdint.h>

#include "core/comm.h"

/* 1 if this binary was built with MPI. */
int niti_dist_built(void);
/* Starts MPI when built with it and started by an MPI launcher (mpirun / mpiexec / srun set
 * OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK); otherwise one process, without touching MPI.
 * Returns 0, or -1 after printing why MPI could not start. */
int niti_dist_init(int *argc, char ***argv);
/* 1 if niti_dist_init started MPI (even with one process). */
int niti_dist_active(void);
/* The world: every process of the job (size 1 in one process). Never NULL. */
niti_comm *niti_dist_world(void);
/* This process's rank among the processes on its node (MPI_COMM_TYPE_SHARED), and how many
 * there are: the device a rank takes with --device gpu. */
int niti_dist_local_rank(void);
int niti_dist_local_size(void);
/* Ends every process of the job with `code` (MPI_Abort); exit(code) in one process. */
void niti_dist_abort(int code);
/* Finalises MPI if it was started. */
void niti_dist_finalize(void);

/* Collective helpers for the CLI (every rank calls them in the same order). */
/* all[r] = rank r's v (all has size entries). 0 on success, -1 with a message in niti's last
 * error. */
int niti_dist_allgather_u64(const uint64_t *v, int n, uint64_t *all);
/* Waits until every rank has called it. */
void niti_dist_barrier(void);
/* 1 if flag is non-zero on any rank (0 or 1; -1 on a failure). */
int niti_dist_any(int flag);

#endif
