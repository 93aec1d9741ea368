/* The OpenCL runtime: device specs, the program-binary cache (a hit on the second creation, a
 * corrupt entry ignored and rebuilt, NITI_CACHE_DIR=off) and the build log in the error message
 * of a failed kernel build. Returns 77 (skip) when no OpenCL device exists. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backends.h"
#include "check.h"
#include "backends/opencl/internal.h"

static char dir[512];

static int count_entries(const char *d, char *first, size_t fsize)
{
    DIR *dp = opendir(d);
    if (!dp) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strstr(e->d_name, ".clbin")) {
            if (first && !n) snprintf(first, fsize, "%s/%s", d, e->d_name);
            n++;
        }
    closedir(dp);
    return n;
}

static int create_ok(const char *spec, niti_backend **be)
{
    niti_status s = niti_backend_cl_create(spec, be);
    if (s != NITI_OK) fprintf(stderr, "create(%s): %s\n", spec ? spec : "NULL", niti_last_error());
    return s == NITI_OK;
}

/* A tiny op on the backend, to check it really works after a cache load. */
static int works(niti_backend *be)
{
    niti_buf *a = NULL, *y = NULL;
    int8_t in[5] = {-3, 4, 0, 127, -128}, out[5] = {9, 9, 9, 9, 9};
    if (niti_buf_from_host(be, in, 5, "a", &a) != NITI_OK) return 0;
    if (be->ops->alloc(be, 5, "y", &y) != NITI_OK) return 0;
    int ok = be->ops->relu_fwd(be, 5, a, y) == NITI_OK &&
             be->ops->download(be, y, 0, out, 5) == NITI_OK && out[0] == 0 && out[1] == 4 &&
             out[2] == 0 && out[3] == 127 && out[4] == 0;
    be->ops->release(be, a);
    be->ops->release(be, y);
    return ok;
}

int main(void)
{
    niti_backend *be = NULL;
    niti_status s = niti_backend_cl_create("cpu", &be);
    if (s == NITI_ERR_UNSUPPORTED) s = niti_backend_cl_create(NULL, &be);
    if (s == NITI_ERR_UNSUPPORTED) {
        printf("cl_runtime: skipped, no OpenCL device: %s\n", niti_last_error());
        return 77;
    }
    CHECK_EQ(s, NITI_OK);
    if (s != NITI_OK) return check_report("cl_runtime");
    char shortname[64], devname[256];
    snprintf(shortname, sizeof shortname, "%s", be->short_name);
    snprintf(devname, sizeof devname, "%s", be->name);
    /* be->name ends with the GEMM path, " [gemm: <path>]" or " [gemm: <path>, emulated]";
     * device lists do not */
    CHECK(strstr(devname, " [gemm: ") != NULL);
    if (strstr(devname, " [gemm: ")) *strstr(devname, " [gemm: ") = 0;
    printf("device: %s (%s), options: %s\n", be->name, be->short_name, niti_cl_build_options(be));
    CHECK(!strncmp(shortname, "cl", 2));
    CHECK(strstr(devname, ": ") != NULL);
    niti_backend_close(be);

    /* Device specs. */
    char pd[64];
    snprintf(pd, sizeof pd, "%s", shortname + 2); /* "P:D" */
    CHECK(create_ok(pd, &be));
    if (be) CHECK(!strcmp(be->short_name, shortname));
    niti_backend_close(be), be = NULL;
    CHECK(create_ok(NULL, &be));
    niti_backend_close(be), be = NULL;
    CHECK(create_ok("", &be));
    niti_backend_close(be), be = NULL;
    /* a name substring, in another case */
    const char *dn = strstr(devname, ": ") + 2;
    char sub[8] = {0};
    for (int i = 0; i < 4 && dn[i]; i++) sub[i] = (char)(dn[i] >= 'a' && dn[i] <= 'z' ? dn[i] - 32 : dn[i] >= 'A' && dn[i] <= 'Z' ? dn[i] + 32 : dn[i]);
    CHECK(create_ok(sub, &be));
    niti_backend_close(be), be = NULL;
    s = niti_backend_cl_create("no-such-device-xyz", &be);
    CHECK_EQ(s, NITI_ERR_UNSUPPORTED);
    CHECK(strstr(niti_last_error(), "no-such-device-xyz") != NULL);
    CHECK(strstr(niti_last_error(), dn) != NULL); /* the list of devices */
    s = niti_backend_cl_create("97:3", &be);
    CHECK_EQ(s, NITI_ERR_UNSUPPORTED);
    CHECK(strstr(niti_last_error(), "97:3") != NULL);
    /* niti_backend_open: "ref" and the OpenCL spec */
    CHECK_EQ(niti_backend_open("ref", &be), NITI_OK);
    if (be) CHECK(!strcmp(be->short_name, "ref"));
    niti_backend_close(be), be = NULL;
    CHECK_EQ(niti_backend_open(pd, &be), NITI_OK);
    niti_backend_close(be), be = NULL;

    /* The binary cache, in a fresh directory. */
    const char *base = getenv("NITI_CACHE_DIR");
    snprintf(dir, sizeof dir, "%s/cl_runtime_test_%d", base && strcmp(base, "off") ? base : "/tmp",
             (int)getpid());
    setenv("NITI_CACHE_DIR", dir, 1);
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 0);
    CHECK(works(be));
    niti_backend_close(be), be = NULL;
    char entry[1024] = "";
    CHECK_EQ(count_entries(dir, entry, sizeof entry), 1);
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 1); /* a hit */
    CHECK(works(be));
    niti_backend_close(be), be = NULL;
    /* Corrupt the entry: it is ignored, rebuilt and rewritten. */
    FILE *f = fopen(entry, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 40, SEEK_SET);
        fputs("garbage garbage garbage", f);
        fclose(f);
    }
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 0);
    CHECK(works(be));
    niti_backend_close(be), be = NULL;
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 1);
    niti_backend_close(be), be = NULL;
    /* A truncated entry too. */
    f = fopen(entry, "wb");
    if (f) fputs("NITICLB1", f), fclose(f);
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 0);
    niti_backend_close(be), be = NULL;
    /* Different build options give a different entry. */
    setenv("NITI_CL_EXTRA_OPTIONS", "-DNITI_UNUSED_TEST_DEFINE=1", 1);
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 0);
    CHECK(strstr(niti_cl_build_options(be), "NITI_UNUSED_TEST_DEFINE") != NULL);
    niti_backend_close(be), be = NULL;
    CHECK_EQ(count_entries(dir, NULL, 0), 2);
    unsetenv("NITI_CL_EXTRA_OPTIONS");
    /* Disabled cache. */
    setenv("NITI_CACHE_DIR", "off", 1);
    CHECK(create_ok(pd, &be));
    CHECK_EQ(niti_cl_program_from_cache(be), 0);
    niti_backend_close(be), be = NULL;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);

    /* A kernel build failure: NITI_ERR_DEVICE with the device name and the full build log. */
    setenv("NITI_CL_EXTRA_OPTIONS", "-DNITI_FORCE_BUILD_ERROR", 1);
    s = niti_backend_cl_create(pd, &be);
    CHECK_EQ(s, NITI_ERR_DEVICE);
    const char *msg = niti_last_error();
    CHECK(strstr(msg, "NITI_FORCE_BUILD_ERROR is defined") != NULL); /* the #error text */
    CHECK(strstr(msg, "build log") != NULL);
    CHECK(strstr(msg, dn) != NULL);
    if (s == NITI_ERR_DEVICE) printf("build failure message (first 400 chars): %.400s\n", msg);
    /* niti_backend_open does not fall back to ref for a build failure of a named device */
    CHECK_EQ(niti_backend_open(pd, &be), NITI_ERR_DEVICE);
    unsetenv("NITI_CL_EXTRA_OPTIONS");
    return check_report("cl_runtime");
}
