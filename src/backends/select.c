/* Device selection: niti_backend_open and friends (niti.h) over the backends of backends.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backends.h"
#include "backends/opencl/internal.h"
#include "core/error.h"

const char *niti_backend_forced_gemm(void)
{
    const char *e = getenv("NITI_GEMM");
    return e && *e && strcmp(e, "auto") ? e : NULL;
}

niti_status niti_backend_open(const char *spec, niti_backend **out)
{
    if (spec && !strcmp(spec, "ref")) return niti_backend_ref_create(out);
    niti_status s = niti_backend_cl_create(spec, out);
    if (s == NITI_OK) return s;
    if ((!spec || !*spec) && s == NITI_ERR_UNSUPPORTED) {
        /* The default choice falls back to ref only when there is no OpenCL device. A device
         * that exists but cannot run a forced NITI_GEMM path is an error: ref has no GEMM paths,
         * so falling back would drop the setting silently. */
        const char *gemm = niti_backend_forced_gemm();
        niti_cl_device_info info;
        if (gemm) {
            char why[2048];
            snprintf(why, sizeof why, "%s", niti_last_error());
            if (niti_cl_select(NULL, &info) == NITI_OK)
                return niti_fail(NITI_ERR_UNSUPPORTED, "a forced NITI_GEMM=%.40s cannot run on "
                                 "device %s (unset NITI_GEMM or set it to auto to let the device "
                                 "choose): %s", gemm, info.device_name, why);
            return niti_fail(s, "a forced NITI_GEMM=%.40s needs an OpenCL device and none was "
                             "found: %s", gemm, why);
        }
        fprintf(stderr, "niti: notice: no OpenCL device found (%s); using the plain-C reference "
                        "backend (--device ref)\n", niti_last_error());
        return niti_backend_ref_create(out);
    }
    return s;
}

niti_status niti_backend_peek(const char *spec, char *name, size_t size)
{
    if (spec && !strcmp(spec, "ref")) {
        snprintf(name, size, "ref");
        return NITI_OK;
    }
    niti_cl_device_info info;
    niti_status s = niti_cl_select(spec, &info);
    if (s != NITI_OK) {
        if ((!spec || !*spec) && s == NITI_ERR_UNSUPPORTED) {
            niti_clear_error();
            snprintf(name, size, "ref");
            return NITI_OK;
        }
        return s;
    }
    snprintf(name, size, "%s: %s", info.platform_name, info.device_name);
    return NITI_OK;
}

int niti_backend_kernels_from_cache(const niti_backend *be) { return niti_cl_program_from_cache(be); }

void niti_backend_close(niti_backend *be)
{
    if (be) be->ops->destroy(be);
}

const char *niti_backend_name(const niti_backend *be) { return be->name; }
