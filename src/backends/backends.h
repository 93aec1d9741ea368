/* The backends and the device chooser behind niti_backend_open (niti.h): every backend
 * implements the interface of core/backend.h. */
#ifndef NITI_BACKENDS_H
#define NITI_BACKENDS_H

#include "core/backend.h"

/* The plain-C reference backend (ref.c): the oracle every other backend is checked against. */
niti_status niti_backend_ref_create(niti_backend **out);

/* OpenCL (opencl/). spec: NULL/"" = default choice, "cpu", "gpu", "P:D", or a name
 * substring. Returns NITI_ERR_UNSUPPORTED if no OpenCL platform or no matching device. */
niti_status niti_backend_cl_create(const char *spec, niti_backend **out);
/* Prints the OpenCL devices (niti devices). Returns the number of devices found (>= 0). */
int niti_cl_list_devices(void *file /* FILE* */);

/* niti_backend_open (select.c) resolves --device / NITI_DEVICE: "ref", or an OpenCL spec.
 * NULL/"" = default: first GPU, else first CPU, else ref with a notice on stderr (never when
 * NITI_GEMM forces a path: that is an error naming the device).
 * niti_backend_open / niti_backend_close / niti_backend_name are public (niti.h). */

/* NITI_GEMM when it forces a path (set, not empty, not "auto"), else NULL. */
const char *niti_backend_forced_gemm(void);
/* The name of the device niti_backend_open(spec) would open ("ref" for the reference backend),
 * without opening it: for messages shown before the (possibly slow) open. */
niti_status niti_backend_peek(const char *spec, char *name, size_t size);
/* After opening: 1 if the OpenCL kernels came from the on-disk cache, 0 if they were compiled
 * now, -1 for a backend without kernels (ref). */
int niti_backend_kernels_from_cache(const niti_backend *be);

#endif
