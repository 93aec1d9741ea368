/* The fp32 baseline's OpenCL path: GEMMs through CLBlast on a context and queue of our own on
 * the device that niti_cl_select picks for the --device spec. Operands live on the host (the
 * rest of the fp32 network runs there); each GEMM stages them through three device buffers that
 * grow on demand, runs CLBlastSgemm and reads C back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/opencl/internal.h"
#include "core/error.h"
#include "fp32/fp32_internal.h"

#ifdef NITI_HAVE_CLBLAST
#include <clblast_c.h>

struct niti_f32_cl {
    cl_context ctx;
    cl_command_queue q;
    cl_mem buf[3]; /* A, B, C */
    size_t cap[3];
    char name[300];
};

int niti_f32_have_clblast(void) { return 1; }

static const char *clblast_status_name(CLBlastStatusCode s)
{
    switch (s) {
#define N_(x) case x: return #x;
    N_(CLBlastSuccess) N_(CLBlastOpenCLCompilerNotAvailable) N_(CLBlastTempBufferAllocFailure)
    N_(CLBlastOpenCLOutOfResources) N_(CLBlastOpenCLOutOfHostMemory)
    N_(CLBlastOpenCLBuildProgramFailure) N_(CLBlastInvalidValue) N_(CLBlastInvalidCommandQueue)
    N_(CLBlastInvalidMemObject) N_(CLBlastInvalidBinary) N_(CLBlastInvalidBuildOptions)
    N_(CLBlastInvalidProgram) N_(CLBlastInvalidProgramExecutable) N_(CLBlastInvalidKernelName)
    N_(CLBlastInvalidKernelDefinition) N_(CLBlastInvalidKernel) N_(CLBlastInvalidArgIndex)
    N_(CLBlastInvalidArgValue) N_(CLBlastInvalidArgSize) N_(CLBlastInvalidKernelArgs)
    N_(CLBlastInvalidLocalNumDimensions) N_(CLBlastInvalidLocalThreadsTotal)
    N_(CLBlastInvalidLocalThreadsDim) N_(CLBlastInvalidGlobalOffset)
    N_(CLBlastInvalidEventWaitList) N_(CLBlastInvalidEvent) N_(CLBlastInvalidOperation)
    N_(CLBlastInvalidBufferSize) N_(CLBlastInvalidGlobalWorkSize) N_(CLBlastNotImplemented)
    N_(CLBlastInvalidMatrixA) N_(CLBlastInvalidMatrixB) N_(CLBlastInvalidMatrixC)
    N_(CLBlastInvalidVectorX) N_(CLBlastInvalidVectorY) N_(CLBlastInvalidDimension)
    N_(CLBlastInvalidLeadDimA) N_(CLBlastInvalidLeadDimB) N_(CLBlastInvalidLeadDimC)
    N_(CLBlastInvalidIncrementX) N_(CLBlastInvalidIncrementY) N_(CLBlastInsufficientMemoryA)
    N_(CLBlastInsufficientMemoryB) N_(CLBlastInsufficientMemoryC) N_(CLBlastInsufficientMemoryX)
    N_(CLBlastInsufficientMemoryY) N_(CLBlastInsufficientMemoryTemp)
    N_(CLBlastInvalidBatchCount) N_(CLBlastInvalidOverrideKernel)
    N_(CLBlastMissingOverrideParameter) N_(CLBlastInvalidLocalMemUsage)
    N_(CLBlastNoHalfPrecision) N_(CLBlastNoDoublePrecision) N_(CLBlastInvalidVectorScalar)
    N_(CLBlastInsufficientMemoryScalar) N_(CLBlastDatabaseError) N_(CLBlastUnknownError)
    N_(CLBlastUnexpectedError)
#undef N_
    }
    return "unknown CLBlast status";
}

niti_status niti_f32_cl_open(const char *spec, niti_f32_cl **out, char *name, size_t name_size)
{
    niti_cl_device_info info;
    NITI_TRY(niti_cl_select(spec, &info));
    niti_f32_cl *cl = calloc(1, sizeof *cl);
    if (!cl) return niti_fail(NITI_ERR_NOMEM, "fp32: OpenCL state");
    char what[300];
    snprintf(what, sizeof what, "fp32 on %s: %s", info.platform_name, info.device_name);
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)info.platform,
                                     0};
    cl->ctx = clCreateContext(props, 1, &info.device, NULL, NULL, &err);
    if (!cl->ctx) {
        free(cl);
        return niti_cl_fail(err, "clCreateContext", what);
    }
    cl->q = clCreateCommandQueue(cl->ctx, info.device, 0, &err);
    if (!cl->q) {
        clReleaseContext(cl->ctx);
        free(cl);
        return niti_cl_fail(err, "clCreateCommandQueue", what);
    }
    snprintf(cl->name, sizeof cl->name, "%s: %s (CLBlast)", info.platform_name, info.device_name);
    if (name && name_size) snprintf(name, name_size, "%s", cl->name);
    *out = cl;
    return NITI_OK;
}

void niti_f32_cl_close(niti_f32_cl *cl)
{
    if (!cl) return;
    if (cl->q) clFinish(cl->q);
    for (int i = 0; i < 3; i++)
        if (cl->buf[i]) clReleaseMemObject(cl->buf[i]);
    if (cl->q) clReleaseCommandQueue(cl->q);
    if (cl->ctx) clReleaseContext(cl->ctx);
    free(cl);
}

static niti_status ensure(niti_f32_cl *cl, int i, size_t bytes)
{
    static const char *names[3] = {"GEMM operand A", "GEMM operand B", "GEMM result C"};
    if (cl->buf[i] && cl->cap[i] >= bytes) return NITI_OK;
    if (cl->buf[i]) clReleaseMemObject(cl->buf[i]);
    cl->buf[i] = NULL;
    cl->cap[i] = 0;
    size_t want = bytes + bytes / 4; /* some headroom against a run of growing requests */
    cl_int err = CL_SUCCESS;
    cl->buf[i] = clCreateBuffer(cl->ctx, CL_MEM_READ_WRITE, want, NULL, &err);
    if (!cl->buf[i]) {
        char what[400];
        snprintf(what, sizeof what, "%s: %s of %zu bytes", cl->name, names[i], want);
        return niti_cl_fail(err, "clCreateBuffer", what);
    }
    cl->cap[i] = want;
    return NITI_OK;
}

niti_status niti_f32_cl_gemm(niti_f32_cl *cl, int ta, int tb, int M, int N, int K,
                             const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    size_t a_bytes = (size_t)(ta ? K : M) * (size_t)lda * sizeof(float);
    size_t b_bytes = (size_t)(tb ? N : K) * (size_t)ldb * sizeof(float);
    size_t c_bytes = (size_t)M * (size_t)ldc * sizeof(float);
    NITI_TRY(ensure(cl, 0, a_bytes));
    NITI_TRY(ensure(cl, 1, b_bytes));
    NITI_TRY(ensure(cl, 2, c_bytes));
    cl_int err = clEnqueueWriteBuffer(cl->q, cl->buf[0], CL_FALSE, 0, a_bytes, A, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueWriteBuffer (GEMM A)", cl->name);
    err = clEnqueueWriteBuffer(cl->q, cl->buf[1], CL_FALSE, 0, b_bytes, B, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clFinish(cl->q);
        return niti_cl_fail(err, "clEnqueueWriteBuffer (GEMM B)", cl->name);
    }
    CLBlastStatusCode s = CLBlastSgemm(
        CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)M, (size_t)N, (size_t)K, 1.0f,
        cl->buf[0], 0, (size_t)lda, cl->buf[1], 0, (size_t)ldb, 0.0f, cl->buf[2], 0,
        (size_t)ldc, &cl->q, NULL);
    if (s != CLBlastSuccess) {
        clFinish(cl->q);
        return niti_fail(NITI_ERR_DEVICE,
                         "%s: CLBlastSgemm(%s%s, M=%d, N=%d, K=%d) failed: %s (%d)", cl->name,
                         ta ? "T" : "N", tb ? "T" : "N", M, N, K, clblast_status_name(s), (int)s);
    }
    /* Blocking: also guarantees the non-blocking writes of A and B have completed. */
    err = clEnqueueReadBuffer(cl->q, cl->buf[2], CL_TRUE, 0, c_bytes, C, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clFinish(cl->q);
        return niti_cl_fail(err, "clEnqueueReadBuffer (GEMM C)", cl->name);
    }
    return NITI_OK;
}

#else /* !NITI_HAVE_CLBLAST */

int niti_f32_have_clblast(void) { return 0; }

niti_status niti_f32_cl_open(const char *spec, niti_f32_cl **out, char *name, size_t name_size)
{
    (void)out, (void)name, (void)name_size;
    return niti_fail(NITI_ERR_UNSUPPORTED,
                     "device '%s': the fp32 baseline runs on OpenCL devices through CLBlast, and "
                     "this build has no CLBlast (install libclblast-dev and rebuild); use "
                     "--device ref",
                     spec && *spec ? spec : "(default)");
}
void niti_f32_cl_close(niti_f32_cl *cl) { (void)cl; }
niti_status niti_f32_cl_gemm(niti_f32_cl *cl, int ta, int tb, int M, int N, int K,
                             const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    (void)cl, (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B;
    (void)ldb, (void)C, (void)ldc;
    return niti_fail(NITI_ERR_UNSUPPORTED, "fp32: no CLBlast in this build");
}

#endif
