/* Small shared helpers: atomic file replacement and the FNV-1a 64 hash. */
#ifndef NITI_FILEIO_H
#define NITI_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "niti.h"

/* Atomic replacement of a file: write to a temporary file in the target's folder (named
 * ".<name>.tmpXXXXXX"), then fsync and rename it over the target. A failure at any point
 * removes the temporary file and leaves the old target untouched. The new file keeps the
 * target's permissions (0644 for a new file). */
typedef struct niti_atomic_file {
    int fd;
    char *tmp;        /* temporary file name */
    const char *path; /* the target */
} niti_atomic_file;

niti_status niti_atomic_open(const char *path, niti_atomic_file *f);
/* Writes all of buf (retrying short writes and EINTR). */
niti_status niti_atomic_write(niti_atomic_file *f, const void *buf, size_t len);
/* fsync, close, rename over the target, fsync the folder (best effort). Always ends f. */
niti_status niti_atomic_commit(niti_atomic_file *f);
/* Closes and removes the temporary file. */
void niti_atomic_abort(niti_atomic_file *f);
/* The whole of buf as the new content of path. */
niti_status niti_write_file_atomic(const char *path, const void *buf, size_t len);

#define NITI_FNV_INIT UINT64_C(0xcbf29ce484222325)
static inline uint64_t niti_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#endif
