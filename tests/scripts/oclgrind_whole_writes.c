/* A test aid for runs under Oclgrind (tests/portability.cmake, tests/scripts/port_oclgrind.sh),
 * preloaded in front of Oclgrind's runtime: every host write into a buffer (clEnqueueWriteBuffer,
 * clEnqueueFillBuffer) becomes one write of the WHOLE buffer (its parent's, for a sub-buffer) at
 * offset 0, with the same resulting contents (the rest is read back first).
 *
 * Why: Oclgrind 21.10's --uninitialized plugin handles a host write by re-allocating the shadow
 * (the initialisedness map) of the written buffer with the size of that write, at its offset. After
 * a write that does not cover the buffer from byte 0 -- a part of a buffer, or a fill, which it
 * runs as one host write per pattern (niti zero-fills new buffers with a 1-byte pattern) -- later
 * kernel stores beyond that range are dropped from the shadow, and every later kernel read there
 * is reported as uninitialised, although the memory was written (by the fill or a kernel). The
 * shadow of a buffer handle also carries over to the next buffer that reuses it. Measured: a
 * buffer zero-filled, then written by a kernel, then read by another kernel gives 1000 reports
 * ("Controlflow depends on uninitialized value") without this shim and none with it; the same
 * for a buffer that gets the handle of a released one into which 100 bytes had been written by
 * the host (hence clReleaseMemObject below). With whole-buffer writes and handles never reused,
 * the shadow always spans the buffer and kernel stores are tracked.
 *
 * What it does not hide: reads of memory that no kernel and no host write ever initialised (those
 * are still reported: the shim never writes bytes the program did not write, except that a
 * partial write's read-back marks the rest of the buffer as written, which niti's buffers are --
 * zero-filled when allocated), data races and API errors. Not linked into anything; used only by
 * the Oclgrind tests. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef cl_int (*write_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
                           const cl_event *, cl_event *);
typedef cl_int (*read_fn)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint,
                          const cl_event *, cl_event *);
typedef cl_int (*fill_fn)(cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint,
                          const cl_event *, cl_event *);

static write_fn next_write(void) { return (write_fn)dlsym(RTLD_NEXT, "clEnqueueWriteBuffer"); }
static read_fn next_read(void) { return (read_fn)dlsym(RTLD_NEXT, "clEnqueueReadBuffer"); }
static fill_fn next_fill(void) { return (fill_fn)dlsym(RTLD_NEXT, "clEnqueueFillBuffer"); }

/* The buffer that owns b's memory (b itself, or its parent) and b's offset in it. */
static cl_int owner(cl_mem b, cl_mem *whole, size_t *base, size_t *total)
{
    cl_mem parent = NULL;
    *base = 0;
    cl_int err = clGetMemObjectInfo(b, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL);
    if (err != CL_SUCCESS) return err;
    if (parent) {
        err = clGetMemObjectInfo(b, CL_MEM_OFFSET, sizeof *base, base, NULL);
        if (err != CL_SUCCESS) return err;
    }
    *whole = parent ? parent : b;
    return clGetMemObjectInfo(*whole, CL_MEM_SIZE, sizeof *total, total, NULL);
}

/* Reads the whole owner of b, lets patch() change [base + off, base + off + size) of the copy,
 * writes it back whole. Blocking (the events the caller waits for are waited for first). */
static cl_int whole_write(cl_command_queue q, cl_mem b, size_t off, size_t size, cl_uint nev,
                          const cl_event *evs, cl_event *ev,
                          void (*patch)(unsigned char *dst, size_t size, const void *arg),
                          const void *arg)
{
    cl_mem whole;
    size_t base, total;
    cl_int err = owner(b, &whole, &base, &total);
    if (err != CL_SUCCESS) return err;
    if (nev && (err = clWaitForEvents(nev, evs)) != CL_SUCCESS) return err;
    unsigned char *tmp = malloc(total ? total : 1);
    if (!tmp) return CL_OUT_OF_HOST_MEMORY;
    err = next_read()(q, whole, CL_TRUE, 0, total, tmp, 0, NULL, NULL);
    if (err == CL_SUCCESS) {
        patch(tmp + base + off, size, arg);
        err = next_write()(q, whole, CL_TRUE, 0, total, tmp, 0, NULL, ev);
    }
    free(tmp);
    return err;
}

static void copy_patch(unsigned char *dst, size_t size, const void *arg) { memcpy(dst, arg, size); }

struct pattern {
    const void *p;
    size_t n;
};
static void fill_patch(unsigned char *dst, size_t size, const void *arg)
{
    const struct pattern *pt = arg;
    for (size_t i = 0; i + pt->n <= size; i += pt->n) memcpy(dst + i, pt->p, pt->n);
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueWriteBuffer(cl_command_queue q, cl_mem b, cl_bool blocking,
                                                     size_t off, size_t size, const void *ptr,
                                                     cl_uint nev, const cl_event *evs, cl_event *ev)
{
    cl_mem whole;
    size_t base, total;
    if (owner(b, &whole, &base, &total) == CL_SUCCESS && base == 0 && off == 0 && size == total)
        return next_write()(q, b, blocking, off, size, ptr, nev, evs, ev);
    return whole_write(q, b, off, size, nev, evs, ev, copy_patch, ptr);
}

/* Buffers are never released: Oclgrind gives a new buffer the handle (and the shadow) of a released
 * one, sized by the last host write into the old buffer, so kernel stores past that size into the
 * new buffer would be dropped and read back as uninitialised. Never reusing a handle keeps every
 * buffer's shadow its own: uninitialised at creation, then tracked write by write. (The tests'
 * buffers are small; the memory is returned when the process ends.) */
CL_API_ENTRY cl_int CL_API_CALL clReleaseMemObject(cl_mem b)
{
    (void)b;
    return CL_SUCCESS;
}

CL_API_ENTRY cl_int CL_API_CALL clEnqueueFillBuffer(cl_command_queue q, cl_mem b,
                                                    const void *pattern, size_t pattern_size,
                                                    size_t off, size_t size, cl_uint nev,
                                                    const cl_event *evs, cl_event *ev)
{
    if (!pattern || !pattern_size || size % pattern_size || off % pattern_size)
        return next_fill()(q, b, pattern, pattern_size, off, size, nev, evs, ev); /* its error */
    struct pattern pt = {pattern, pattern_size};
    return whole_write(q, b, off, size, nev, evs, ev, fill_patch, &pt);
}
