#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

niti_status niti_atomic_open(const char *path, niti_atomic_file *f)
{
    f->fd = -1;
    f->tmp = NULL;
    f->path = path;
    if (!path || !*path) return niti_fail(NITI_ERR_INVALID, "no output path");
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = slash ? slash + 1 : path;
    size_t tlen = dirlen + 1 + strlen(base) + 12 + 1;
    f->tmp = malloc(tlen);
    if (!f->tmp) return niti_fail(NITI_ERR_NOMEM, "%s: temp name", path);
    snprintf(f->tmp, tlen, "%.*s.%s.tmpXXXXXX", (int)dirlen, path, base);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        niti_status s = niti_fail(NITI_ERR_IO, "%s: cannot create a temporary file in its folder: %s",
                                  path, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return s;
    }
    /* mkstemp makes the file 0600; keep the target's permissions, or 0644 for a new file. */
    struct stat sb;
    mode_t mode = stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (sb.st_mode & 07777) : 0644;
    if (fchmod(f->fd, mode) != 0) {
        niti_status s = niti_fail(NITI_ERR_IO, "%s: cannot set permissions: %s", f->tmp,
                                  strerror(errno));
        niti_atomic_abort(f);
        return s;
    }
    return NITI_OK;
}

niti_status niti_atomic_write(niti_atomic_file *f, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len) {
        size_t chunk = len > ((size_t)1 << 30) ? ((size_t)1 << 30) : len;
        ssize_t w = write(f->fd, p, chunk);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return niti_fail(NITI_ERR_IO, "%s: write failed: %s", f->path, strerror(errno));
        if (w == 0) return niti_fail(NITI_ERR_IO, "%s: write failed (no progress)", f->path);
        p += w;
        len -= (size_t)w;
    }
    return NITI_OK;
}

void niti_atomic_abort(niti_atomic_file *f)
{
    if (f->fd >= 0) close(f->fd);
    if (f->tmp) unlink(f->tmp);
    free(f->tmp);
    f->fd = -1;
    f->tmp = NULL;
}

niti_status niti_atomic_commit(niti_atomic_file *f)
{
    niti_status s = NITI_OK;
    if (fsync(f->fd) != 0)
        s = niti_fail(NITI_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (close(f->fd) != 0 && s == NITI_OK)
        s = niti_fail(NITI_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    f->fd = -1;
    if (s == NITI_OK && rename(f->tmp, f->path) != 0)
        s = niti_fail(NITI_ERR_IO, "%s: cannot replace the file: %s", f->path, strerror(errno));
    if (s != NITI_OK) {
        niti_atomic_abort(f);
        return s;
    }
    /* Make the rename durable (best effort): fsync the folder. */
    const char *slash = strrchr(f->path, '/');
    char dir[4096];
    if (!slash) strcpy(dir, ".");
    else if (slash == f->path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - f->path), f->path);
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(f->tmp);
    f->tmp = NULL;
    return NITI_OK;
}

niti_status niti_write_file_atomic(const char *path, const void *buf, size_t len)
{
    niti_atomic_file f;
    NITI_TRY(niti_atomic_open(path, &f));
    niti_status s = niti_atomic_write(&f, buf, len);
    if (s != NITI_OK) {
        niti_atomic_abort(&f);
        return s;
    }
    return niti_atomic_commit(&f);
}
