/* The communicator of core/comm.h over MPI (dist.h). Without NITI_MPI: one process. */
#include "dist/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#ifdef NITI_MPI
#include <mpi.h>

static int started, local_rank, local_size = 1;

static niti_status mpi_fail(int rc, const char *what)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "code %d", rc);
    return niti_fail(NITI_ERR_DEVICE, "MPI %s failed: %s", what, msg);
}

/* MPI counts are ints: long vectors go in pieces. */
#define MPI_PIECE ((size_t)1 << 28)

static niti_status allreduce(void *v, size_t n, size_t size, MPI_Datatype t, MPI_Op op,
                             const char *what)
{
    char *p = v;
    for (size_t off = 0; off < n; off += MPI_PIECE) {
        size_t k = n - off < MPI_PIECE ? n - off : MPI_PIECE;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p + off * size, (int)k, t, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
    }
    return NITI_OK;
}

static niti_status c_max_u64(niti_comm *c, uint64_t *v, size_t n)
{
    (void)c;
    return allreduce(v, n, 8, MPI_UINT64_T, MPI_MAX, "Allreduce (max)");
}
static niti_status c_sum_i64(niti_comm *c, int64_t *v, size_t n)
{
    (void)c;
    return allreduce(v, n, 8, MPI_INT64_T, MPI_SUM, "Allreduce (sum)");
}
static niti_status c_sum_i32(niti_comm *c, int32_t *v, size_t n)
{
    (void)c;
    return allreduce(v, n, 4, MPI_INT32_T, MPI_SUM, "Allreduce (sum)");
}
static niti_status c_allgatherv(niti_comm *c, const void *send, void *recv, const int *counts)
{
    int *displs = malloc(sizeof(int) * (size_t)c->size);
    if (!displs) return niti_fail(NITI_ERR_NOMEM, "MPI Allgatherv");
    long long d = 0;
    for (int r = 0; r < c->size; r++) {
        if (d > INT_MAX) {
            free(displs);
            return niti_fail(NITI_ERR_INVALID, "MPI Allgatherv: more than 2 GiB");
        }
        displs[r] = (int)d;
        d += counts[r];
    }
    int rc = MPI_Allgatherv(send, counts[c->rank], MPI_BYTE, recv, counts, displs, MPI_BYTE,
                            MPI_COMM_WORLD);
    free(displs);
    return rc == MPI_SUCCESS ? NITI_OK : mpi_fail(rc, "Allgatherv");
}

static niti_comm world = {0, 1, NULL, c_max_u64, c_sum_i64, c_sum_i32, c_allgatherv};

static int launched(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int niti_dist_built(void) { return 1; }

int niti_dist_init(int *argc, char ***argv)
{
    if (!launched()) return 0;
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) {
        fprintf(stderr, "niti: error: MPI_Init failed (code %d)\n", rc);
        return -1;
    }
    started = 1;
    /* errors come back as codes, so that the failing rank can say what failed */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world.size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                            &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &local_rank);
        MPI_Comm_size(node, &local_size);
        MPI_Comm_free(&node);
    }
    return 0;
}

int niti_dist_active(void) { return started; }

void niti_dist_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    if (started && world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void niti_dist_finalize(void)
{
    if (started) MPI_Finalize();
    started = 0;
}

int niti_dist_allgather_u64(const uint64_t *v, int n, uint64_t *all)
{
    if (world.size == 1) {
        memcpy(all, v, sizeof *v * (size_t)n);
        return 0;
    }
    int rc = MPI_Allgather(v, n, MPI_UINT64_T, all, n, MPI_UINT64_T, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) {
        mpi_fail(rc, "Allgather");
        return -1;
    }
    return 0;
}

void niti_dist_barrier(void)
{
    if (started && world.size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

int niti_dist_any(int flag)
{
    if (world.size == 1) return flag != 0;
    uint64_t v = flag != 0;
    if (c_max_u64(&world, &v, 1) != NITI_OK) return -1;
    return v != 0;
}

#else /* one process */

static niti_comm world = {0, 1, NULL, NULL, NULL, NULL, NULL};
static const int local_rank = 0, local_size = 1;

int niti_dist_built(void) { return 0; }
int niti_dist_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* started by mpirun with several processes: each would train alone, all writing the same
     * files; say so instead */
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) {
            fprintf(stderr, "niti: error: this niti was built without MPI, but was started as one "
                            "of %d processes (%s); configure with -DNITI_MPI=ON to train on "
                            "several processes, or run it without mpirun\n", atoi(v), vars[i]);
            return -1;
        }
    }
    return 0;
}
int niti_dist_active(void) { return 0; }
void niti_dist_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
    exit(code);
}
void niti_dist_finalize(void) {}
int niti_dist_allgather_u64(const uint64_t *v, int n, uint64_t *all)
{
    memcpy(all, v, sizeof *v * (size_t)n);
    return 0;
}
void niti_dist_barrier(void) {}
int niti_dist_any(int flag) { return flag != 0; }

#endif

niti_comm *niti_dist_world(void) { return &world; }
int niti_dist_local_rank(void) { return local_rank; }
int niti_dist_local_size(void) { return local_size; }
