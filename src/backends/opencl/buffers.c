/* Device buffers: allocation (zero-filled), views, upload, download and the queue finish. */
#include <stdlib.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

niti_status ocl_alloc(niti_backend *be, size_t bytes, const char *what, niti_buf **out)
{
    cl_impl *im = IMPL(be);
    const char *w = what ? what : "a buffer";
    if (bytes > im->max_alloc)
        return niti_fail(NITI_ERR_NOMEM,
                         "OpenCL %s: cannot allocate %zu bytes for %s: the device allows at most "
                         "%llu bytes per buffer",
                         be->short_name, bytes, w, (unsigned long long)im->max_alloc);
    niti_buf *b = calloc(1, sizeof *b);
    if (!b) return niti_fail(NITI_ERR_NOMEM, "OpenCL: cannot allocate a handle for %s", w);
    cl_int err;
    size_t sz = bytes ? bytes : 1;
    b->m = clCreateBuffer(im->ctx, CL_MEM_READ_WRITE, sz, NULL, &err);
    if (err != CL_SUCCESS) {
        free(b);
        niti_cl_fail(err, "clCreateBuffer", w);
        return niti_fail_ctx(NITI_ERR_NOMEM, "OpenCL %s: cannot allocate %zu bytes for %s",
                             be->short_name, bytes, w);
    }
    b->bytes = bytes;
    cl_uchar zero = 0;
    im->seq++;
    err = clEnqueueFillBuffer(im->q, b->m, &zero, 1, 0, sz, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(b->m);
        free(b);
        niti_cl_fail(err, "clEnqueueFillBuffer", w);
        return niti_fail_ctx(err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                                     err == CL_OUT_OF_RESOURCES || err == CL_OUT_OF_HOST_MEMORY
                                 ? NITI_ERR_NOMEM
                                 : NITI_ERR_DEVICE,
                             "OpenCL %s: zero-filling %zu bytes for %s", be->short_name, bytes, w);
    }
    niti_backend_count_alloc(be, bytes);
    *out = b;
    return NITI_OK;
}

/* A sub-buffer of b's bytes [off, off + bytes): of b's own parent when b is a view (OpenCL allows
 * no sub-buffer of a sub-buffer). *origin gets its place in that parent. */
cl_mem ocl_sub_buffer(const niti_buf *b, size_t off, size_t bytes, size_t *origin, cl_int *err)
{
    cl_buffer_region reg = {(b->view ? b->origin : 0) + off, bytes ? bytes : 1};
    if (origin) *origin = reg.origin;
    return clCreateSubBuffer(b->view ? b->parent : b->m, CL_MEM_READ_WRITE,
                             CL_BUFFER_CREATE_TYPE_REGION, &reg, err);
}

niti_status ocl_view(niti_backend *be, niti_buf *parent, size_t off, size_t bytes,
                           niti_buf **out)
{
    cl_impl *im = IMPL(be);
    if (off % NITI_VIEW_ALIGN || off % im->sub_align || off > parent->bytes ||
        bytes > parent->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "OpenCL view: [%zu, +%zu) of a %zu-byte buffer", off,
                         bytes, parent->bytes);
    niti_buf *b = calloc(1, sizeof *b);
    if (!b) return niti_fail(NITI_ERR_NOMEM, "OpenCL view");
    cl_int err;
    b->m = ocl_sub_buffer(parent, off, bytes, &b->origin, &err);
    if (err != CL_SUCCESS) {
        free(b);
        return niti_cl_fail(err, "clCreateSubBuffer", "view");
    }
    b->bytes = bytes;
    b->view = 1;
    b->parent = parent->view ? parent->parent : parent->m;
    *out = b;
    return NITI_OK;
}

void ocl_release(niti_backend *be, niti_buf *b)
{
    if (!b) return;
    if (!b->view) niti_backend_count_release(be, b->bytes);
    IMPL(be)->seq++; /* a later buffer may get the same handle */
    if (b->m) clReleaseMemObject(b->m);
    free(b);
}

niti_status ocl_upload(niti_backend *be, niti_buf *dst, size_t off, const void *src,
                             size_t bytes)
{
    if (off > dst->bytes || bytes > dst->bytes - off)
        return niti_fail(NITI_ERR_INVALID, "OpenCL: upload of %zu bytes at %zu into a %zu-byte buffer",
                         bytes, off, dst->bytes);
    if (!bytes) return NITI_OK;
    /* Blocking: the caller may reuse src as soon as we return. */
    IMPL(be)->seq++;
    cl_int err = clEnqueueWriteBuffer(IMPL(be)->q, dst->m, CL_TRUE, off, bytes, src, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueWriteBuffer", "upload");
    return NITI_OK;
}

niti_status ocl_download(niti_backend *be, niti_buf *src, size_t off, void *dst,
                               size_t bytes)
{
    if (off > src->bytes || bytes > src->bytes - off)
        return niti_fail(NITI_ERR_INVALID,
                         "OpenCL: download of %zu bytes at %zu from a %zu-byte buffer", bytes, off,
                         src->bytes);
    cl_int err;
    if (!bytes) {
        err = clFinish(IMPL(be)->q);
        return err == CL_SUCCESS ? NITI_OK : niti_cl_fail(err, "clFinish", "download");
    }
    err = clEnqueueReadBuffer(IMPL(be)->q, src->m, CL_TRUE, off, bytes, dst, 0, NULL, NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueReadBuffer", "download");
    return NITI_OK;
}

niti_status ocl_finish(niti_backend *be)
{
    cl_int err = clFinish(IMPL(be)->q);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clFinish", "finish");
    return NITI_OK;
}
