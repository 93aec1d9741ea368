/* Device selection: niti_backend_open and friends (niti.h) over the backends of backends.h. */
#include <stdio.h>
#include <string.h>

#include "backends/backends.h"
#include "core/error.h"

niti_status niti_backend_open(const char *spec, niti_backend **out)
{
    if (spec && !strcmp(spec, "ref")) return niti_backend_ref_create(out);
    niti_status s = niti_backend_cl_create(spec, out);
    if (s == NITI_OK) return s;
    if ((!spec || !*spec) && s == NITI_ERR_UNSUPPORTED) {
        fprintf(stderr, "niti: notice: no OpenCL device found (%s); using the plain-C reference "
                        "backend (--device ref)\n", niti_last_error());
        return niti_backend_ref_create(out);
    }
    return s;
}

void niti_backend_close(niti_backend *be)
{
    if (be) be->ops->destroy(be);
}

const char *niti_backend_name(const niti_backend *be) { return be->name; }
