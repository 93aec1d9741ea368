/* Launches (the work-group shape of every kind of kernel), the backend's scratch buffers and
 * the regions an op takes from the caller's work space. */
#include <stdio.h>

#include "backends/opencl/internal.h"
#include "core/error.h"

niti_status ocl_launch(cl_impl *im, kargs *a, cl_uint dims, const size_t *gs, const size_t *ls,
                          const char *op)
{
    if (a->err != CL_SUCCESS) return niti_cl_fail(a->err, "clSetKernelArg", op);
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(im->q, a->k, dims, NULL, gs, ls, 0, NULL,
                                        im->profile ? &ev : NULL);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueNDRangeKernel", op);
    im->seq++;
    if (ev) { /* NITI_CL_PROFILE=1: per-kernel times, printed when the backend closes */
        cl_ulong t0 = 0, t1 = 0;
        clWaitForEvents(1, &ev);
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        clReleaseEvent(ev);
        for (int i = 0; i < K_COUNT; i++)
            if (im->k[i] == a->k) {
                im->prof_ns[i] += (double)(t1 - t0), im->prof_n[i]++;
                if (im->profile > 1)
                    fprintf(stderr, "profile %s %s %.3f ms\n", op, ocl_kernel_names[i],
                            (double)(t1 - t0) * 1e-6);
            }
    }
    return NITI_OK;
}

size_t ocl_wg(const cl_impl *im, int kid, size_t want)
{
    size_t lim = im->kwg[kid] ? im->kwg[kid] : 1, w = 1;
    if (want < lim) lim = want;
    while (w * 2 <= lim) w *= 2;
    return w;
}

niti_status ocl_launch1(cl_impl *im, kargs *a, size_t n, const char *op)
{
    size_t ls = ocl_wg(im, a->kid, 64), gs = round_up(n ? n : 1, ls);
    return ocl_launch(im, a, 1, &gs, &ls, op);
}

/* Task launch over n elements (cpu_ops.cl): ranges of chunk elements (a multiple of 64), at most
 * NITI_MAX_TASKS tasks; the kernel's last argument is chunk. *tasks gets the number of tasks
 * (= the number of partials a max-|x| task kernel writes). */
#define NITI_MAX_TASKS 64
niti_status ocl_launch_range(cl_impl *im, kargs *a, size_t n, size_t *tasks, const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t maxt = 8 * cu < NITI_MAX_TASKS ? 8 * cu : NITI_MAX_TASKS;
    size_t nn = n ? n : 1;
    size_t t = cdiv(nn, 32768);
    if (t > maxt) t = maxt;
    if (t < 1) t = 1;
    size_t chunk = round_up(cdiv(nn, t), 64);
    t = cdiv(nn, chunk);
    ka_ulong(a, chunk);
    if (tasks) *tasks = t;
    size_t ls = 1;
    return ocl_launch(im, a, 1, &t, &ls, op);
}

/* Task launch over `rows` rows, `per` rows per task (the kernel's last argument). */
niti_status ocl_launch_rows(cl_impl *im, kargs *a, size_t rows, size_t row_bytes,
                               const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t maxt = 8 * cu < NITI_MAX_TASKS ? 8 * cu : NITI_MAX_TASKS;
    size_t nr = rows ? rows : 1;
    size_t t = cdiv(nr * (row_bytes ? row_bytes : 1), 32768);
    if (t > maxt) t = maxt;
    if (t > nr) t = nr;
    if (t < 1) t = 1;
    size_t per = cdiv(nr, t);
    t = cdiv(nr, per);
    ka_int(a, (int)per);
    size_t ls = 1;
    return ocl_launch(im, a, 1, &t, &ls, op);
}

niti_status ocl_scratch(cl_impl *im, int id, size_t bytes, cl_mem *out)
{
    if (!bytes) bytes = 8;
    if (im->scr[id].bytes < bytes) {
        if (im->scr[id].m) clReleaseMemObject(im->scr[id].m); /* kept alive by queued work */
        niti_backend_count_release(im->be, im->scr[id].bytes);
        im->scr[id].m = NULL;
        im->scr[id].bytes = 0;
        /* grow geometrically, so that slowly growing shapes do not reallocate every call */
        if (bytes < im->scr[id].grown / 4 * 5) bytes = im->scr[id].grown / 4 * 5;
        cl_int err;
        cl_mem m = clCreateBuffer(im->ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS) {
            niti_cl_fail(err, "clCreateBuffer", "scratch");
            return niti_fail_ctx(NITI_ERR_NOMEM, "OpenCL: cannot allocate %zu bytes of scratch",
                                 bytes);
        }
        im->scr[id].m = m;
        im->scr[id].bytes = bytes;
        im->scr[id].grown = bytes;
        niti_backend_count_alloc(im->be, bytes);
    }
    *out = im->scr[id].m;
    return NITI_OK;
}
/* Whether n regions of these sizes fit in ws, each at an aligned offset. */
int ocl_ws_fits(const cl_impl *im, const niti_buf *ws, int n, const size_t *bytes)
{
    size_t need = 0;
    for (int i = 0; i < n; i++) need += round_up(bytes[i] ? bytes[i] : 8, im->sub_align);
    return ws && ws->m && need <= ws->bytes && (ws->view ? ws->origin : 0) % im->sub_align == 0;
}

niti_status ocl_ws_take(cl_impl *im, niti_buf *ws, int n, const size_t *bytes, const int *ids,
                           cl_mem *out, ws_regions *r)
{
    r->n = 0;
    if (ocl_ws_fits(im, ws, n, bytes)) {
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            size_t sz = bytes[i] ? bytes[i] : 8;
            cl_int err;
            out[i] = ocl_sub_buffer(ws, off, sz, NULL, &err);
            if (err != CL_SUCCESS) { /* not fatal: the own scratch instead */
                for (int j = 0; j < r->n; j++) clReleaseMemObject(r->sub[j]);
                r->n = 0;
                goto own;
            }
            r->sub[r->n++] = out[i];
            off += round_up(sz, im->sub_align);
        }
        return NITI_OK;
    }
own:
    for (int i = 0; i < n; i++) NITI_TRY(ocl_scratch(im, ids[i], bytes[i], &out[i]));
    return NITI_OK;
}

niti_status ocl_ws_done(ws_regions *r, niti_status s)
{
    for (int j = 0; j < r->n; j++) clReleaseMemObject(r->sub[j]);
    r->n = 0;
    return s;
}

/* Launches a kernel of reqd_work_group_size 1 over `tasks` tasks, `per` tasks per work-item (POCL
 * pays about a microsecond per work-group: a few hundred large ones, not millions of tiny ones).
 * The kernel's last argument is per. */
niti_status ocl_launch_tasks(cl_impl *im, kargs *a, size_t tasks, const char *op)
{
    size_t cu = im->info.compute_units ? im->info.compute_units : 1;
    size_t items = 64 * cu;
    if (tiled_path(im->gemm) || !(im->info.type & CL_DEVICE_TYPE_CPU)) items = 65536;
    size_t per = cdiv(tasks ? tasks : 1, items);
    ka_int(a, (int)per);
    size_t gs = cdiv(tasks ? tasks : 1, per), ls = 1;
    return ocl_launch(im, a, 1, &gs, &ls, op);
}

/* A zero-filled buffer of at least `bytes` bytes (the image view's padding). */
niti_status ocl_zeros(cl_impl *im, size_t bytes, cl_mem *out)
{
    int grow = im->scr[SCR_ZERO].bytes < (bytes ? bytes : 8);
    NITI_TRY(ocl_scratch(im, SCR_ZERO, bytes, out));
    if (grow) {
        cl_uchar z = 0;
        im->seq++;
        cl_int err = clEnqueueFillBuffer(im->q, *out, &z, 1, 0, im->scr[SCR_ZERO].bytes, 0, NULL,
                                         NULL);
        if (err != CL_SUCCESS) return niti_cl_fail(err, "clEnqueueFillBuffer", "zeros");
    }
    return NITI_OK;
}


niti_status ocl_sum_splits(cl_impl *im, cl_mem Y, int S, size_t MN, cl_mem out, niti_dtype acc_t,
                           const char *op)
{
    kargs r = ka_begin(im, acc_t == NITI_I64 ? K_SUM_TO_I64 : K_SUM_TO_I32);
    ka_mem(&r, Y);
    ka_int(&r, S);
    ka_ulong(&r, MN);
    ka_mem(&r, out);
    return ocl_launch1(im, &r, MN, op);
}
