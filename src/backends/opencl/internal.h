/* Internal to the OpenCL backend (backend_cl.c, cl_runtime.c) and its tests. */
#ifndef NITI_CL_INTERNAL_H
#define NITI_CL_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stdio.h>

#include "backends/backends.h"

/* Conv tile configuration, passed to the kernels as -D options. */
typedef struct niti_cl_tiles {
    int TM, TN, TK, RM, RN;
} niti_cl_tiles;

typedef struct niti_cl_device_info {
    cl_platform_id platform;
    cl_device_id device;
    int pidx, didx;
    char platform_name[128];
    char device_name[128];
    char driver_version[128];
    char device_version[128];
    char c_version[128];
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem;
    cl_ulong local_mem;
    size_t max_wg;
    int c_major, c_minor; /* OpenCL C version */
} niti_cl_device_info;

const char *niti_cl_error_name(cl_int err);
/* Fails with NITI_ERR_DEVICE: "<what>: <call> failed: <CL_ERROR_NAME> (<code>)". */
niti_status niti_cl_fail(cl_int err, const char *call, const char *what);

/* Fills info for a device. */
void niti_cl_query(cl_platform_id p, cl_device_id d, int pidx, int didx, niti_cl_device_info *info);
/* Resolves a device spec (see niti_backend_cl_create). */
niti_status niti_cl_select(const char *spec, niti_cl_device_info *out);

/* Builds the program of all embedded kernel sources for ctx/dev with options, through the on-disk
 * binary cache. *from_cache tells whether the binary came from the cache. */
niti_status niti_cl_build_program(cl_context ctx, const niti_cl_device_info *info,
                                  const char *options, cl_program *out, int *from_cache);
/* The cache directory ("" when disabled). */
void niti_cl_cache_dir(char *buf, size_t size);

/* Whether the host CPU executes AVX-512 VNNI (cpuid leaf 7 ECX bit 11 with AVX-512F, and the OS
 * saves the AVX-512 state). The vnni GEMM path also needs a probe kernel to pass on the device. */
int niti_cl_host_vnni(void);
/* Whether a device reports what the dot-product paths of the tiled kernels need: dp4a (NVIDIA,
 * cl_nv_device_attribute_query with compute capability >= 6.1) and khr-dot
 * (cl_khr_integer_dot_product with the 4x8-bit packed form). why (may be NULL) gets the reason
 * either way. Both paths also need their probe kernel to pass when the backend opens. */
int niti_cl_can_dp4a(const niti_cl_device_info *info, char *why, size_t size);
int niti_cl_can_khr_dot(const niti_cl_device_info *info, char *why, size_t size);
/* The GEMM path NITI_GEMM=auto would choose for a device before the probes: "vnni" or "portable"
 * (CPUs), else "dp4a", "khr-dot" or "tiled". */
const char *niti_cl_default_gemm(const niti_cl_device_info *info);

/* Test hooks: whether the backend's program was loaded from the binary cache, and its build
 * options. */
int niti_cl_program_from_cache(const niti_backend *be);
const char *niti_cl_build_options(const niti_backend *be);

#endif
