/* OpenCL runtime: error names, device enumeration and choice, `niti devices`, and the program
 * build through an on-disk binary cache. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/opencl/internal.h"
#include "core/error.h"
#include "niti_kernels.h"

#include <CL/cl_ext.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif
/* cl_khr_integer_dot_product and cl_nv_device_attribute_query, for older headers. */
#ifndef CL_DEVICE_INTEGER_DOT_PRODUCT_CAPABILITIES_KHR
#define CL_DEVICE_INTEGER_DOT_PRODUCT_CAPABILITIES_KHR 0x1073
#endif
#ifndef CL_DEVICE_INTEGER_DOT_PRODUCT_INPUT_4x8BIT_PACKED_KHR
#define CL_DEVICE_INTEGER_DOT_PRODUCT_INPUT_4x8BIT_PACKED_KHR (1 << 0)
#endif
#ifndef CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV
#define CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV 0x4000
#endif
#ifndef CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV
#define CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV 0x4001
#endif

const char *niti_cl_error_name(cl_int err)
{
    switch (err) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT)
    E(CL_INVALID_BUFFER_SIZE) E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE)
    E(CL_INVALID_PROPERTY) E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS)
    E(CL_INVALID_LINKER_OPTIONS) E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case CL_PLATFORM_NOT_FOUND_KHR: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
    return "unknown OpenCL error";
}

niti_status niti_cl_fail(cl_int err, const char *call, const char *what)
{
    niti_status s = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY
                        ? NITI_ERR_NOMEM
                        : NITI_ERR_DEVICE;
    return niti_fail(s, "OpenCL: %s: %s failed: %s (%d)", what ? what : "?", call,
                     niti_cl_error_name(err), (int)err);
}

/* ---------------------------------------------------------------- host capabilities */

int niti_cl_host_vnni(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0; /* OSXSAVE */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if ((lo & 0xE6) != 0xE6) return 0; /* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM enabled */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) && (b & (1u << 30)) && (c & (1u << 11)); /* avx512f, bw, vnni */
#else
    return 0;
#endif
}


/* ---------------------------------------------------------------- enumeration */

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) snprintf(buf, size, "?");
    buf[size - 1] = 0;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
}

void niti_cl_query(cl_platform_id p, cl_device_id d, int pidx, int didx, niti_cl_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform = p;
    info->device = d;
    info->pidx = pidx;
    info->didx = didx;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL) != CL_SUCCESS)
        snprintf(info->platform_name, sizeof info->platform_name, "?");
    info->platform_name[sizeof info->platform_name - 1] = 0;
    get_str(d, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    get_str(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_str(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof info->c_version);
    trim(info->platform_name);
    trim(info->device_name);
    trim(info->driver_version);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units,
                    &info->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem, &info->global_mem,
                    NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem, &info->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_wg, &info->max_wg, NULL);
    /* "OpenCL C <major>.<minor> ..." */
    if (sscanf(info->c_version, "OpenCL C %d.%d", &info->c_major, &info->c_minor) != 2)
        info->c_major = info->c_minor = 0;
}

typedef struct dev_list {
    niti_cl_device_info *v;
    int n;
    cl_int err; /* of clGetPlatformIDs */
} dev_list;

static void list_free(dev_list *l) { free(l->v); }

/* All devices of all platforms. l->err is the clGetPlatformIDs status (no platform: not an
 * error, n = 0). */
static niti_status list_devices(dev_list *l)
{
    memset(l, 0, sizeof *l);
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    l->err = err;
    if (err == CL_PLATFORM_NOT_FOUND_KHR || (err == CL_SUCCESS && np == 0)) return NITI_OK;
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clGetPlatformIDs", "listing platforms");
    cl_platform_id *ps = calloc(np, sizeof *ps);
    if (!ps) return niti_fail(NITI_ERR_NOMEM, "OpenCL: platform list");
    err = clGetPlatformIDs(np, ps, NULL);
    if (err != CL_SUCCESS) {
        free(ps);
        return niti_cl_fail(err, "clGetPlatformIDs", "listing platforms");
    }
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err != CL_SUCCESS || nd == 0) continue; /* CL_DEVICE_NOT_FOUND: an empty platform */
        cl_device_id *ds = calloc(nd, sizeof *ds);
        niti_cl_device_info *nv = realloc(l->v, sizeof *nv * (size_t)(l->n + (int)nd));
        if (!ds || !nv) {
            free(ds);
            if (nv) l->v = nv;
            free(ps);
            return niti_fail(NITI_ERR_NOMEM, "OpenCL: device list");
        }
        l->v = nv;
        if (clGetDeviceIDs(ps[p], CL_DEVICE_TYPE_ALL, nd, ds, NULL) == CL_SUCCESS)
            for (cl_uint d = 0; d < nd; d++) niti_cl_query(ps[p], ds[d], (int)p, (int)d, &l->v[l->n++]);
        free(ds);
    }
    free(ps);
    return NITI_OK;
}

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static int has_ext(cl_device_id d, const char *name)
{
    size_t sz = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &sz) != CL_SUCCESS || !sz) return 0;
    char *buf = malloc(sz + 1);
    if (!buf) return 0;
    int found = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sz, buf, NULL) == CL_SUCCESS) {
        buf[sz] = 0;
        size_t n = strlen(name);
        for (char *p = strstr(buf, name); p; p = strstr(p + 1, name))
            if ((p == buf || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) found = 1;
    }
    free(buf);
    return found;
}

/* ---------------------------------------------------------------- GPU dot-product paths */

/* Writes the reason (if why) and returns ok. */
static int because(char *why, size_t size, int ok, const char *reason)
{
    if (why && size) snprintf(why, size, "%s", reason);
    return ok;
}

int niti_cl_can_dp4a(const niti_cl_device_info *info, char *why, size_t size)
{
    cl_uint major = 0, minor = 0;
    if (!has_ext(info->device, "cl_nv_device_attribute_query"))
        return because(why, size, 0,
                       "the device does not report cl_nv_device_attribute_query, through which "
                       "NVIDIA GPUs give their compute capability");
    if (clGetDeviceInfo(info->device, CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV, sizeof major, &major,
                        NULL) != CL_SUCCESS ||
        clGetDeviceInfo(info->device, CL_DEVICE_COMPUTE_CAPABILITY_MINOR_NV, sizeof minor, &minor,
                        NULL) != CL_SUCCESS)
        return because(why, size, 0, "its compute capability cannot be read");
    int ok = major > 6 || (major == 6 && minor >= 1);
    if (why && size)
        snprintf(why, size, "compute capability %u.%u%s", major, minor,
                 ok ? "" : "; dp4a needs 6.1 or newer");
    return ok;
}

int niti_cl_can_khr_dot(const niti_cl_device_info *info, char *why, size_t size)
{
    cl_bitfield caps = 0;
    if (!has_ext(info->device, "cl_khr_integer_dot_product"))
        return because(why, size, 0, "the device does not report cl_khr_integer_dot_product");
    if (clGetDeviceInfo(info->device, CL_DEVICE_INTEGER_DOT_PRODUCT_CAPABILITIES_KHR, sizeof caps,
                        &caps, NULL) != CL_SUCCESS)
        return because(why, size, 0,
                       "CL_DEVICE_INTEGER_DOT_PRODUCT_CAPABILITIES_KHR cannot be read");
    if (!(caps & CL_DEVICE_INTEGER_DOT_PRODUCT_INPUT_4x8BIT_PACKED_KHR))
        return because(why, size, 0,
                       "cl_khr_integer_dot_product without the 4x8-bit packed input form");
    return because(why, size, 1, "cl_khr_integer_dot_product with the 4x8-bit packed form");
}

const char *niti_cl_default_gemm(const niti_cl_device_info *info)
{
    int is_cpu = (info->type & CL_DEVICE_TYPE_CPU) && !(info->type & CL_DEVICE_TYPE_GPU);
    if (is_cpu) return niti_cl_host_vnni() ? "vnni" : "portable";
    if (niti_cl_can_dp4a(info, NULL, 0)) return "dp4a";
    if (niti_cl_can_khr_dot(info, NULL, 0)) return "khr-dot";
    return "tiled";
}

static int usable(const niti_cl_device_info *d)
{
    cl_bool avail = CL_FALSE, comp = CL_FALSE;
    clGetDeviceInfo(d->device, CL_DEVICE_AVAILABLE, sizeof avail, &avail, NULL);
    clGetDeviceInfo(d->device, CL_DEVICE_COMPILER_AVAILABLE, sizeof comp, &comp, NULL);
    return avail && comp && (d->c_major > 1 || (d->c_major == 1 && d->c_minor >= 2));
}

int niti_cl_list_devices(void *file)
{
    FILE *f = file;
    dev_list l;
    if (list_devices(&l) != NITI_OK) {
        fprintf(f, "OpenCL: cannot list devices: %s\n", niti_last_error());
        list_free(&l);
        return 0;
    }
    if (l.n == 0) {
        fprintf(f, "No OpenCL platform or device found%s. Use --device ref (the plain-C reference "
                   "backend).\n",
                l.err == CL_PLATFORM_NOT_FOUND_KHR ? " (no ICD installed: CL_PLATFORM_NOT_FOUND_KHR)"
                                                   : "");
        list_free(&l);
        return 0;
    }
    static const char *exts[] = {"cl_khr_int64_base_atomics", "cl_khr_integer_dot_product",
                                 "cl_khr_fp16",           "cl_khr_subgroups",
                                 "cl_intel_subgroups",    "cl_arm_integer_dot_product_int8",
                                 "cl_khr_global_int32_base_atomics", "cl_nv_device_attribute_query"};
    for (int i = 0; i < l.n; i++) {
        const niti_cl_device_info *d = &l.v[i];
        fprintf(f, "%d:%d  %s: %s\n", d->pidx, d->didx, d->platform_name, d->device_name);
        cl_ulong max_alloc = 0; /* CL_DEVICE_MAX_MEM_ALLOC_SIZE: the largest single buffer */
        clGetDeviceInfo(d->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc,
                        NULL);
        fprintf(f, "     type %s, driver %s, %s, %u compute units, %.1f GiB global memory, "
                   "%lu KiB local memory, max work-group %zu, max buffer %llu bytes\n",
                type_name(d->type), d->driver_version, d->c_version, d->compute_units,
                (double)d->global_mem / (1024.0 * 1024.0 * 1024.0),
                (unsigned long)(d->local_mem / 1024), d->max_wg, (unsigned long long)max_alloc);
        fprintf(f, "     extensions:");
        int any = 0;
        for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++)
            if (has_ext(d->device, exts[e])) {
                fprintf(f, " %s", exts[e]);
                any = 1;
            }
        fprintf(f, "%s\n", any ? "" : " (none of interest)");
        const char *ge = getenv("NITI_GEMM"), *gemm = niti_cl_default_gemm(d);
        /* the first choice; opening the device proves it (probe.c) or moves on */
        fprintf(f, "     conv/linear GEMM path: %s%s%s\n", gemm,
                !strcmp(gemm, "vnni") ? " first (host CPU has avx512_vnni), if the probes pass "
                                        "when opened; else portable, else tiled"
                : !strcmp(gemm, "portable") ? " first, if the probes pass when opened; else tiled"
                : strcmp(gemm, "tiled")
                    ? " first, if the probes pass when opened; else the next of khr-dot, tiled"
                    : "",
                ge && *ge && strcmp(ge, "auto") ? " (NITI_GEMM overrides it)" : "");
        char why_dp4a[160], why_khr[160];
        int dp4a = niti_cl_can_dp4a(d, why_dp4a, sizeof why_dp4a);
        int khr = niti_cl_can_khr_dot(d, why_khr, sizeof why_khr);
        fprintf(f, "     dot-product paths: dp4a %s (%s); khr-dot %s (%s)\n", dp4a ? "yes" : "no",
                why_dp4a, khr ? "yes" : "no", why_khr);
        fprintf(f, "     %s (select with --device %d:%d)\n",
                usable(d) ? "usable: int8 kernels"
                          : "NOT usable by niti (needs OpenCL C >= 1.2 and an online compiler)",
                d->pidx, d->didx);
    }
    int n = l.n;
    list_free(&l);
    return n;
}

/* ---------------------------------------------------------------- selection */

static int ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

static void append_list(char *buf, size_t size, const dev_list *l)
{
    size_t used = strlen(buf);
    for (int i = 0; i < l->n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%d:%d %s: %s", i ? "; " : "", l->v[i].pidx,
                         l->v[i].didx, l->v[i].platform_name, l->v[i].device_name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

niti_status niti_cl_select(const char *spec, niti_cl_device_info *out)
{
    dev_list l;
    niti_status st = list_devices(&l);
    if (st != NITI_OK) {
        list_free(&l);
        return st;
    }
    if (l.n == 0) {
        list_free(&l);
        return niti_fail(NITI_ERR_UNSUPPORTED,
                         "no OpenCL platform or device found%s; use --device ref",
                         l.err == CL_PLATFORM_NOT_FOUND_KHR ? " (CL_PLATFORM_NOT_FOUND_KHR)" : "");
    }
    int pick = -1;
    int p = -1, d = -1, nth = -1;
    char tail = 0, kind[4] = "";
    if (spec && sscanf(spec, "%3[cpugCPUG]#%d%c", kind, &nth, &tail) == 2 && nth >= 0 &&
        (!strcmp(kind, "cpu") || !strcmp(kind, "gpu") || !strcmp(kind, "CPU") ||
         !strcmp(kind, "GPU"))) {
        /* "gpu#K": the K-th usable GPU (K from 0), e.g. a process's local rank */
        cl_device_type want = tolower((unsigned char)kind[0]) == 'g' ? CL_DEVICE_TYPE_GPU
                                                                     : CL_DEVICE_TYPE_CPU;
        int seen = 0;
        for (int i = 0; i < l.n && pick < 0; i++)
            if ((l.v[i].type & want) && usable(&l.v[i]) && seen++ == nth) pick = i;
        if (pick < 0) {
            char msg[4096];
            snprintf(msg, sizeof msg, "device \"%s\" is the %s %s number %d (counting from 0), "
                     "but there %s only %d usable; devices: ", spec, "OpenCL",
                     want == CL_DEVICE_TYPE_GPU ? "GPU" : "CPU", nth, seen == 1 ? "is" : "are",
                     seen);
            append_list(msg, sizeof msg, &l);
            list_free(&l);
            return niti_fail(NITI_ERR_UNSUPPORTED, "%s", msg);
        }
    } else if (!spec || !*spec) {
        for (int pass = 0; pass < 3 && pick < 0; pass++)
            for (int i = 0; i < l.n && pick < 0; i++) {
                cl_device_type want = pass == 0   ? CL_DEVICE_TYPE_GPU
                                      : pass == 1 ? CL_DEVICE_TYPE_CPU
                                                  : CL_DEVICE_TYPE_ALL;
                if ((l.v[i].type & want) && usable(&l.v[i])) pick = i;
            }
    } else if (!strcmp(spec, "cpu") || !strcmp(spec, "gpu") || !strcmp(spec, "CPU") ||
               !strcmp(spec, "GPU")) {
        cl_device_type want = tolower((unsigned char)spec[0]) == 'g' ? CL_DEVICE_TYPE_GPU
                                                                     : CL_DEVICE_TYPE_CPU;
        for (int i = 0; i < l.n && pick < 0; i++)
            if ((l.v[i].type & want) && usable(&l.v[i])) pick = i;
        if (pick < 0)
            for (int i = 0; i < l.n && pick < 0; i++)
                if (l.v[i].type & want) pick = i; /* reported as unusable below */
    } else if (sscanf(spec, "%d:%d%c", &p, &d, &tail) == 2) {
        for (int i = 0; i < l.n && pick < 0; i++)
            if (l.v[i].pidx == p && l.v[i].didx == d) pick = i;
    } else {
        for (int i = 0; i < l.n && pick < 0; i++)
            if (ci_contains(l.v[i].device_name, spec)) pick = i;
        for (int i = 0; i < l.n && pick < 0; i++)
            if (ci_contains(l.v[i].platform_name, spec)) pick = i;
    }
    if (pick < 0) {
        char msg[4096];
        snprintf(msg, sizeof msg, "no OpenCL device matches \"%s\"; devices: ",
                 spec && *spec ? spec : "(default)");
        append_list(msg, sizeof msg, &l);
        list_free(&l);
        return niti_fail(NITI_ERR_UNSUPPORTED, "%s (or use --device ref)", msg);
    }
    if (!usable(&l.v[pick])) {
        niti_cl_device_info bad = l.v[pick];
        list_free(&l);
        return niti_fail(NITI_ERR_UNSUPPORTED,
                         "OpenCL device %d:%d %s: %s is not usable: needs OpenCL C >= 1.2 and an "
                         "online compiler (it reports \"%s\")",
                         bad.pidx, bad.didx, bad.platform_name, bad.device_name, bad.c_version);
    }
    *out = l.v[pick];
    list_free(&l);
    return NITI_OK;
}

/* ---------------------------------------------------------------- program cache */

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t fnv_str(uint64_t h, const char *s) { return fnv1a(h, s, strlen(s) + 1); }

void niti_cl_cache_dir(char *buf, size_t size)
{
    buf[0] = 0;
    const char *e = getenv("NITI_CACHE_DIR");
    if (e && *e) {
        if (!strcmp(e, "off") || !strcmp(e, "0") || !strcmp(e, "none")) return;
        snprintf(buf, size, "%s", e);
        return;
    }
    e = getenv("XDG_CACHE_HOME");
    if (e && *e) {
        snprintf(buf, size, "%s/niti", e);
        return;
    }
    e = getenv("HOME");
    if (e && *e) snprintf(buf, size, "%s/.cache/niti", e);
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static const char CACHE_MAGIC[8] = {'N', 'I', 'T', 'I', 'C', 'L', 'B', '1'};

/* Reads a cache entry: magic, u64 length, bytes, u64 FNV of the bytes. NULL if bad. */
static unsigned char *cache_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char magic[8];
    uint64_t n = 0, h = 0;
    unsigned char *buf = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, CACHE_MAGIC, 8) || fread(&n, 8, 1, f) != 1 ||
        n == 0 || n > (UINT64_C(1) << 30))
        goto bad;
    buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != n || fread(&h, 8, 1, f) != 1 ||
        h != fnv1a(FNV_INIT, buf, (size_t)n))
        goto bad;
    fclose(f);
    *len = (size_t)n;
    return buf;
bad:
    free(buf);
    fclose(f);
    return NULL;
}

static void cache_write(const char *dir, const char *path, const unsigned char *bin, size_t len)
{
    if (mkdir_p(dir) != 0) return;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s/.niti-cache-XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return;
    }
    uint64_t n = len, h = fnv1a(FNV_INIT, bin, len);
    int ok = fwrite(CACHE_MAGIC, 1, 8, f) == 8 && fwrite(&n, 8, 1, f) == 1 &&
             fwrite(bin, 1, len, f) == len && fwrite(&h, 8, 1, f) == 1;
    ok = fflush(f) == 0 && ok;
    if (ok) fsync(fileno(f));
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) unlink(tmp);
}

static niti_status build_log_fail(cl_program prog, const niti_cl_device_info *info, cl_int err,
                                  const char *options)
{
    size_t sz = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, info->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &sz) ==
            CL_SUCCESS &&
        sz) {
        log = malloc(sz + 1);
        if (log && clGetProgramBuildInfo(prog, info->device, CL_PROGRAM_BUILD_LOG, sz, log, NULL) !=
                       CL_SUCCESS)
            log[0] = 0;
        if (log) log[sz] = 0;
    }
    niti_status s = niti_fail(NITI_ERR_DEVICE,
                              "OpenCL: building the niti kernels for %s: %s: %s failed: %s (%d) "
                              "with options \"%s\"; build log:\n%s",
                              info->platform_name, info->device_name, "clBuildProgram", niti_cl_error_name(err),
                              (int)err, options, log && log[0] ? log : "(empty)");
    free(log);
    return s;
}

/* Sources in program order: the prelude (contract primitives, Philox) first. */
static int source_order(const char **srcs, size_t *lens)
{
    static const char *prelude[] = {"common.cl", "philox.cl"};
    int n = 0;
    for (size_t p = 0; p < sizeof prelude / sizeof prelude[0]; p++)
        for (int i = 0; i < niti_kernel_source_count; i++)
            if (!strcmp(niti_kernel_sources[i].name, prelude[p])) {
                srcs[n] = niti_kernel_sources[i].data;
                lens[n++] = niti_kernel_sources[i].len;
            }
    for (int i = 0; i < niti_kernel_source_count; i++) {
        int is_prelude = 0;
        for (size_t p = 0; p < sizeof prelude / sizeof prelude[0]; p++)
            if (!strcmp(niti_kernel_sources[i].name, prelude[p])) is_prelude = 1;
        if (is_prelude) continue;
        srcs[n] = niti_kernel_sources[i].data;
        lens[n++] = niti_kernel_sources[i].len;
    }
    return n;
}

niti_status niti_cl_build_program(cl_context ctx, const niti_cl_device_info *info,
                                  const char *options, cl_program *out, int *from_cache)
{
    *from_cache = 0;
    const char *srcs[64];
    size_t lens[64];
    if (niti_kernel_source_count > 64 || niti_kernel_source_count == 0)
        return niti_fail(NITI_ERR_DEVICE, "OpenCL: %d embedded kernel sources",
                         niti_kernel_source_count);
    int ns = source_order(srcs, lens);

    uint64_t h = FNV_INIT;
    for (int i = 0; i < ns; i++) h = fnv1a(h, srcs[i], lens[i]);
    h = fnv_str(h, options);
    h = fnv_str(h, info->device_name);
    h = fnv_str(h, info->platform_name);
    h = fnv_str(h, info->driver_version);
    h = fnv_str(h, info->device_version);

    char dir[1024], path[1200];
    niti_cl_cache_dir(dir, sizeof dir);
    path[0] = 0;
    if (dir[0]) snprintf(path, sizeof path, "%s/niti-%016llx.clbin", dir, (unsigned long long)h);

    cl_int err;
    if (path[0]) {
        size_t len = 0;
        unsigned char *bin = cache_read(path, &len);
        if (bin) {
            const unsigned char *bp = bin;
            cl_int bstatus = CL_SUCCESS;
            cl_program prog =
                clCreateProgramWithBinary(ctx, 1, &info->device, &len, &bp, &bstatus, &err);
            if (err == CL_SUCCESS && bstatus == CL_SUCCESS &&
                clBuildProgram(prog, 1, &info->device, options, NULL, NULL) == CL_SUCCESS) {
                free(bin);
                *out = prog;
                *from_cache = 1;
                return NITI_OK;
            }
            if (err == CL_SUCCESS) clReleaseProgram(prog);
            free(bin); /* unloadable: ignore it and rebuild (the rebuild overwrites it) */
        }
    }

    cl_program prog = clCreateProgramWithSource(ctx, (cl_uint)ns, srcs, lens, &err);
    if (err != CL_SUCCESS) return niti_cl_fail(err, "clCreateProgramWithSource", "kernels");
    err = clBuildProgram(prog, 1, &info->device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        niti_status s = build_log_fail(prog, info, err, options);
        clReleaseProgram(prog);
        return s;
    }
    if (path[0]) {
        size_t bsz = 0;
        if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bsz, &bsz, NULL) ==
                CL_SUCCESS &&
            bsz) {
            unsigned char *bin = malloc(bsz);
            unsigned char *bins[1] = {bin};
            if (bin &&
                clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS)
                cache_write(dir, path, bin, bsz);
            free(bin);
        }
    }
    *out = prog;
    return NITI_OK;
}
