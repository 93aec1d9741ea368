/* Bindings API (niti.h, issue #18): niti_devices_list, the devices of `niti devices` as
 * structs (the same enumeration order and P:D numbering, then ref). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static const char *type_word(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static int usable(const niti_cl_device_info *d)
{
    cl_bool avail = CL_FALSE, comp = CL_FALSE;
    clGetDeviceInfo(d->device, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_COMPILER_AVAILABLE, sizeof comp, &comp, NULL);
    return avail && comp && (d->c_major > 1 || (d->c_major == 1 && d->c_minor >= 2));
}

/* Appends one entry if there is room; counts it either way. */
static void put(niti_device_desc *out, int max, int *count, const niti_device_desc *d)
{
    if (out && *count < max) out[*count] = *d;
    (*count)++;
}

niti_status niti_devices_list(niti_device_desc *out, int max, int *count)
{
    if (!count || max < 0 || (max > 0 && !out))
        return niti_fail(NITI_ERR_INVALID, "niti_devices_list: bad arguments");
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err != CL_SUCCESS && err != CL_PLATFORM_NOT_FOUND_KHR)
        return niti_cl_fail(err, "clGetPlatformIDs", "listing platforms");
    if (err == CL_SUCCESS && np > 0) {
        cl_platform_id *ps = calloc(np, sizeof *ps);
        if (!ps) return niti_fail(NITI_ERR_NOMEM, "OpenCL: platform list");
        err = clGetPlatformIDs(np, ps, NULL);
        if (err != CL_SUCCESS) {
            free(ps);
            return niti_cl_fail(err, "clGetPlatformIDs", "listing platforms");
        }
        for (cl_uint p = 0; p < np; p++) {
            cl_uint nd = 0;
            if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
                continue; /* an empty platform */
            cl_device_id *ds = calloc(nd, sizeof *ds);
            if (!ds) {
                free(ps);
                return niti_fail(NITI_ERR_NOMEM, "OpenCL: device list");
            }
            if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS)
                for (cl_uint i = 0; i < nd; i++) {
                    niti_cl_device_info info;
                    niti_cl_query(ps[p], ds[i], (int)p, (int)i, &info);
                    niti_device_desc d;
                    memset(&d, 0, sizeof d);
                    snprintf(d.spec, sizeof d.spec, "%d:%d", info.pidx, info.didx);
                    copy_str(d.name, sizeof d.name, info.device_name);
                    copy_str(d.platform, sizeof d.platform, info.platform_name);
                    copy_str(d.type, sizeof d.type, type_word(info.type));
                    copy_str(d.gemm, sizeof d.gemm, niti_cl_default_gemm(&info));
                    copy_str(d.driver, sizeof d.driver, info.driver_version);
                    d.usable = usable(&info);
                    d.compute_units = (int32_t)info.compute_units;
                    d.global_mem = info.global_mem;
                    put(out, max, count, &d);
                }
            free(ds);
        }
        free(ps);
    }
    niti_device_desc r;
    memset(&r, 0, sizeof r);
    copy_str(r.spec, sizeof r.spec, "ref");
    copy_str(r.name, sizeof r.name, "plain-C reference");
    copy_str(r.type, sizeof r.type, "ref");
    r.usable = 1;
    r.compute_units = 1;
    put(out, max, count, &r);
    return NITI_OK;
}
