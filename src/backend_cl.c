/* Placeholder until the OpenCL backend lands: reports that OpenCL is not available. */
#include <stdio.h>

#include "backend.h"
#include "error.h"

niti_status niti_backend_cl_create(const char *spec, niti_backend **out)
{
    (void)spec;
    (void)out;
    return niti_fail(NITI_ERR_UNSUPPORTED, "the OpenCL backend is not built yet");
}

int niti_cl_list_devices(void *file)
{
    fprintf((FILE *)file, "no OpenCL support in this build\n");
    return 0;
}
