/* Datasets: loaders (MNIST / Fashion-MNIST IDX, CIFAR-10 binary), input tables (contract §10),
 * epoch shuffling, training augmentation and the validation split.
 *
 * RANDOM NUMBER MAPPINGS (contract §9 leaves streams 3 and 4 to the project; these are fixed and
 * users rely on them for reproducibility; changing them changes every training run).
 * All draws are word x0 of Philox4x32-10 with key = (seed & 0xffffffff, seed >> 32) and
 * counter = (i, t, stream, tag), i.e. niti_philox_x0(seed, i, t, stream, tag).
 *
 *   Shuffle, stream 3 (niti_shuffle(seed, epoch, n, perm)):
 *     perm[k] = k for k = 0..n-1; then Fisher-Yates from the end:
 *     for i = n-1 down to 1:
 *         hi = x0(seed, i, epoch, 3, 0)           -- counter (i, epoch, 3, 0)
 *         lo = x0(seed, i, epoch, 3, 1)           -- counter (i, epoch, 3, 1)
 *         r  = hi * 2^32 + lo                     -- unsigned 64-bit
 *         j  = r mod (i + 1)
 *         swap(perm[i], perm[j])
 *     The 64-bit modulo is biased by at most (i+1)/2^64 (< 2^-33 for any int n), i.e. not
 *     measurably. The epoch number takes the place of t in the counter.
 *
 *   Augmentation, stream 4 (niti_make_batch with a mode (pad P, flip F) other than none;
 *   `niti train --augment MODE`; t = the global step):
 *     MODE        P   F   what it does
 *     none        0   0   nothing (the image as it is)
 *     cropP       P   0   a random crop of the image padded by P pixels, P = 1..8
 *     cropP-flip  P   1   that crop, then a random left-right mirror
 *     flip        0   1   a random left-right mirror only
 *     Defaults: cifar10 crop4-flip; mnist and fashion-mnist none. A flip is refused for mnist
 *     (a mirrored digit is another digit, or none).
 *     For the image at position b (0-based) of the batch:
 *         dx   = x0(seed, b, t, 4, 0) mod (2P+1)  -- horizontal crop offset, 0..2P
 *         dy   = x0(seed, b, t, 4, 1) mod (2P+1)  -- vertical crop offset, 0..2P
 *         flip = F ? x0(seed, b, t, 4, 2) & 1 : 0 -- 1: mirror left-right
 *     With P = 0 (none, flip) dx = dy = 0 and neither is drawn; with F = 0 no flip is drawn.
 *     (2^32 mod (2P+1) is at most 2P, so the offsets are biased by less than 4e-9.)
 *     The image (h x w) is padded by P pixels of value p = 0 on every side (so the padding
 *     quantises to table[c][0], not to int8 0); the crop is the h x w window whose top-left
 *     corner is at (row dy, column dx) of the padded image; then, if flip, it is mirrored:
 *         out(y, x, c) = table[c][ S(y + dy - P, X + dx - P, c) ],  X = flip ? w-1-x : x,
 *     where S(r, s, c) is the source pixel, or 0 when (r, s) lies outside the image.
 *     dx = dy = P with flip = 0 is the identity. crop4-flip (CIFAR-10's default) is the mapping
 *     of every niti before --augment existed: dx, dy = x0 mod 9, flip = x0 & 1, padding 4.
 *     b is the position in the whole batch, also when several processes each build a slice
 *     of it (niti_make_batch_at), so the batch does not depend on the number of processes.
 *
 *   Validation split (`niti train --val N`): the last N images of the training file(s) are
 *   held out (niti_dataset_split_tail), before anything is drawn: the shuffle, the batches and
 *   --train-limit see only the first n - N images, so the split does not depend on the seed.
 *
 * Files. The folder is dir if given, else $NITI_DATA if set and not empty: an explicit folder is
 * the only one searched (used or refused). Without either, ./data is searched, and for
 * Fashion-MNIST then /usr/share/datasets/fashion-mnist (the Debian package dataset-fashion-mnist).
 * Within a folder, the dataset's subfolder is tried first (mnist; fashion-mnist; cifar10, then
 * cifar-10-batches-bin), then the folder itself. MNIST and Fashion-MNIST use the same file
 * names, so files placed directly in a folder are taken for whichever of the two was asked for.
 * The first folder holding the first file (images / data_batch_1.bin / test_batch.bin) is used
 * for all files of the set. Each file is read as NAME.gz if that exists, else NAME (zlib reads
 * uncompressed content transparently). Every file must have exactly the length its header
 * announces (IDX) or a whole, non-zero number of 3073-byte records (CIFAR-10; the official
 * batches hold 10000, smaller subsets are accepted); labels must be 0..9. A file's content is
 * read whole (at most 1 GiB) and then checked, so a wrong count in a header never sizes an
 * allocation. Errors: a file not found -> NITI_ERR_IO naming every path tried; a malformed file
 * (length, magic, dims, labels, gzip CRC / truncated stream) -> NITI_ERR_FORMAT naming the file.
 */
#include "io/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/error.h"
#include "core/numerics.h"

#define NITI_DATA_PATH_MAX 4096
#define NITI_DATA_MAX_FILE ((size_t)1 << 30) /* 1 GiB of decompressed content per file */
#define NITI_DEBIAN_FASHION_MNIST "/usr/share/datasets/fashion-mnist"

static const char *const data_hint_generic = "pass --data DIR or set NITI_DATA";

niti_status niti_dataset_parse_name(const char *name, niti_dataset_id *out)
{
    if (!name) return niti_fail(NITI_ERR_INVALID, "dataset name is missing");
    if (!strcmp(name, "mnist")) *out = NITI_DATA_MNIST;
    else if (!strcmp(name, "fashion-mnist") || !strcmp(name, "fashion_mnist"))
        *out = NITI_DATA_FASHION_MNIST;
    else if (!strcmp(name, "cifar10") || !strcmp(name, "cifar-10")) *out = NITI_DATA_CIFAR10;
    else
        return niti_fail(NITI_ERR_INVALID,
                         "unknown dataset '%s' (expected mnist, fashion-mnist or cifar10)", name);
    return NITI_OK;
}

const char *niti_dataset_name(niti_dataset_id id)
{
    switch (id) {
    case NITI_DATA_MNIST: return "mnist";
    case NITI_DATA_FASHION_MNIST: return "fashion-mnist";
    case NITI_DATA_CIFAR10: return "cifar10";
    }
    return "?";
}

void niti_dataset_free(niti_dataset *d)
{
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    d->pixels = NULL;
    d->labels = NULL;
    d->n = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading a whole (possibly gzip-compressed) file.                                          */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* zlib's gzerror message, without the "path: " prefix zlib puts in front. */
static const char *gz_message(gzFile f, const char *path, int *errnum)
{
    const char *m = gzerror(f, errnum);
    if (!m || !m[0]) return "unknown zlib error";
    size_t pl = strlen(path);
    if (!strncmp(m, path, pl) && m[pl] == ':' && m[pl + 1] == ' ') m += pl + 2;
    return m;
}

/* Reads the complete decompressed content of path into a malloc'd buffer. hint: the expected
 * length (only sizes the first allocation). Gzip errors (bad CRC, truncated stream, invalid
 * deflate data) are NITI_ERR_FORMAT; system read errors NITI_ERR_IO. */
static niti_status read_whole(const char *path, size_t hint, uint8_t **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return niti_fail(NITI_ERR_IO, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 20);
    size_t cap = hint + 1 < 4096 ? 4096 : hint + 1, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return niti_fail(NITI_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, cap);
    }
    niti_status st = NITI_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= NITI_DATA_MAX_FILE) {
                st = niti_fail(NITI_ERR_FORMAT, "%s: more than %zu bytes of content; not a "
                               "dataset file", path, NITI_DATA_MAX_FILE);
                break;
            }
            size_t ncap = cap * 2 > NITI_DATA_MAX_FILE ? NITI_DATA_MAX_FILE : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                st = niti_fail(NITI_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - len;
        if (want > (size_t)1 << 30) want = (size_t)1 << 30;
        int r = gzread(f, buf + len, (unsigned)want);
        if (r < 0) {
            int en = Z_OK;
            const char *m = gz_message(f, path, &en);
            if (en == Z_ERRNO)
                st = niti_fail(NITI_ERR_IO, "%s: read error: %s", path, strerror(errno));
            else
                st = niti_fail(NITI_ERR_FORMAT, "%s: corrupt gzip data: %s", path, m);
            break;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    if (st == NITI_OK) {
        int en = Z_OK;
        const char *m = gz_message(f, path, &en);
        if (en != Z_OK)
            st = niti_fail(en == Z_ERRNO ? NITI_ERR_IO : NITI_ERR_FORMAT,
                           "%s: %s after %zu bytes of content: %s", path,
                           en == Z_BUF_ERROR ? "gzip stream is truncated" : "corrupt gzip data",
                           len, m);
    }
    int rc = gzclose(f);
    if (st == NITI_OK && rc != Z_OK)
        st = niti_fail(rc == Z_ERRNO ? NITI_ERR_IO : NITI_ERR_FORMAT, "%s: %s", path,
                       rc == Z_BUF_ERROR ? "gzip stream is truncated (ends in the middle)"
                                         : "error when closing (corrupt gzip data?)");
    if (st != NITI_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *outlen = len;
    return NITI_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Folder search.                                                                            */

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

static niti_status join(char *out, size_t sz, const char *a, const char *b)
{
    size_t la = strlen(a);
    int n;
    if (!b[0]) n = snprintf(out, sz, "%s", a);
    else if (la && a[la - 1] == '/') n = snprintf(out, sz, "%s%s", a, b);
    else n = snprintf(out, sz, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= sz)
        return niti_fail(NITI_ERR_INVALID, "path too long: %s/%s", a, b);
    return NITI_OK;
}

/* Looks for folder/name.gz, then folder/name. Appends every path tried to tried (if not NULL). */
static niti_status find_in(const char *folder, const char *name, char *path, size_t sz,
                           int *found, char *tried, size_t tsz)
{
    char base[NITI_DATA_PATH_MAX];
    NITI_TRY(join(base, sizeof base, folder, name));
    *found = 0;
    for (int gz = 1; gz >= 0; gz--) {
        int n = snprintf(path, sz, "%s%s", base, gz ? ".gz" : "");
        if (n < 0 || (size_t)n >= sz) return niti_fail(NITI_ERR_INVALID, "path too long: %s", base);
        if (tried) {
            size_t tl = strlen(tried);
            if (tl + 8 < tsz) snprintf(tried + tl, tsz - tl, "%s%s", tl ? ", " : "", path);
        }
        if (is_file(path)) {
            *found = 1;
            return NITI_OK;
        }
    }
    return NITI_OK;
}

/* The set of files of a dataset split. */
typedef struct {
    const char *files[5];
    int nfiles;
} file_set;

static file_set files_of(niti_dataset_id id, int train)
{
    file_set s = {{NULL}, 0};
    if (id == NITI_DATA_CIFAR10) {
        if (train) {
            static const char *const b[5] = {"data_batch_1.bin", "data_batch_2.bin",
                                             "data_batch_3.bin", "data_batch_4.bin",
                                             "data_batch_5.bin"};
            for (int i = 0; i < 5; i++) s.files[i] = b[i];
            s.nfiles = 5;
        } else {
            s.files[0] = "test_batch.bin";
            s.nfiles = 1;
        }
    } else {
        s.files[0] = train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
        s.files[1] = train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
        s.nfiles = 2;
    }
    return s;
}

/* The absolute, symlink-free form of a folder that exists (for messages, logs, checkpoints). */
static niti_status absolute_folder(const char *folder, char *out, size_t size)
{
    char *abs = realpath(folder, NULL);
    const char *use = abs ? abs : folder;
    if (strlen(use) >= size) {
        niti_status st = niti_fail(NITI_ERR_INVALID, "%s: folder path too long (%zu bytes, at most "
                                   "%zu)", use, strlen(use), size - 1);
        free(abs);
        return st;
    }
    memcpy(out, use, strlen(use) + 1);
    free(abs);
    return NITI_OK;
}

/* Chooses the folder and the full path of every file (paths[k], NITI_DATA_PATH_MAX each). */
static niti_status locate(niti_dataset_id id, const char *dir, const file_set *fs,
                          char folder[NITI_DATA_PATH_MAX], char (*paths)[NITI_DATA_PATH_MAX])
{
    const char *bases[2];
    int nbases = 0;
    const char *env = getenv("NITI_DATA");
    /* An explicit folder (dir, else $NITI_DATA) is the only one searched: it is used or the
     * load fails. Only when neither is given does Fashion-MNIST fall back to the Debian copy. */
    int explicit_dir = 1;
    if (dir && dir[0]) bases[nbases++] = dir;
    else if (env && env[0]) bases[nbases++] = env;
    else {
        explicit_dir = 0;
        bases[nbases++] = "./data";
        if (id == NITI_DATA_FASHION_MNIST) bases[nbases++] = NITI_DEBIAN_FASHION_MNIST;
    }

    const char *subs[3];
    int nsubs = 0;
    switch (id) {
    case NITI_DATA_MNIST: subs[nsubs++] = "mnist"; break;
    case NITI_DATA_FASHION_MNIST: subs[nsubs++] = "fashion-mnist"; break;
    case NITI_DATA_CIFAR10:
        subs[nsubs++] = "cifar10";
        subs[nsubs++] = "cifar-10-batches-bin";
        break;
    }
    subs[nsubs++] = "";

    char tried[8192] = "";
    for (int b = 0; b < nbases; b++) {
        for (int s = 0; s < nsubs; s++) {
            int found = 0;
            NITI_TRY(join(folder, NITI_DATA_PATH_MAX, bases[b], subs[s]));
            NITI_TRY(find_in(folder, fs->files[0], paths[0], NITI_DATA_PATH_MAX, &found, tried,
                             sizeof tried));
            if (!found) continue;
            for (int k = 1; k < fs->nfiles; k++) {
                char here[1024] = "";
                NITI_TRY(find_in(folder, fs->files[k], paths[k], NITI_DATA_PATH_MAX, &found,
                                 here, sizeof here));
                if (!found)
                    return niti_fail(NITI_ERR_IO,
                                     "%s: found %s in %s but not %s (tried %s); the folder holds "
                                     "an incomplete copy; %s", niti_dataset_name(id),
                                     fs->files[0], folder, fs->files[k], here, data_hint_generic);
            }
            return NITI_OK;
        }
    }
    const char *hint = "";
    if (id == NITI_DATA_FASHION_MNIST) {
        struct stat sb;
        int have_debian = stat(NITI_DEBIAN_FASHION_MNIST, &sb) == 0 && S_ISDIR(sb.st_mode);
        if (explicit_dir && have_debian)
            hint = " (or give neither --data nor NITI_DATA to use the Debian package's copy in "
                   NITI_DEBIAN_FASHION_MNIST ")";
        else if (!have_debian)
            hint = ", or install it with: apt-get install dataset-fashion-mnist";
    }
    return niti_fail(NITI_ERR_IO, "%s: %s not found in %s folder; tried %s; %s%s",
                     niti_dataset_name(id), fs->files[0],
                     explicit_dir ? (dir && dir[0] ? "the given" : "the $NITI_DATA") : "any default",
                     tried,
                     explicit_dir ? "an explicit folder (--data DIR or NITI_DATA) is the only one "
                                    "searched; give the folder that holds the files"
                                  : data_hint_generic,
                     hint);
}

niti_status niti_dataset_locate(niti_dataset_id id, const char *dir, int train, char *folder,
                                size_t size)
{
    if (id != NITI_DATA_MNIST && id != NITI_DATA_FASHION_MNIST && id != NITI_DATA_CIFAR10)
        return niti_fail(NITI_ERR_INVALID, "unknown dataset id %d", (int)id);
    file_set fs = files_of(id, train);
    char found[NITI_DATA_PATH_MAX];
    char paths[5][NITI_DATA_PATH_MAX];
    NITI_TRY(locate(id, dir, &fs, found, paths));
    return absolute_folder(found, folder, size);
}

static const char *const class_names[3][10] = {
    {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
    {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"},
    {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
};

const char *niti_dataset_class_name(niti_dataset_id id, int c)
{
    if ((int)id < 0 || (int)id > 2 || c < 0 || c >= 10) return NULL;
    return class_names[id][c];
}

/* ---------------------------------------------------------------------------------------- */
/* IDX.                                                                                      */

static const char *length_problem(size_t found, uint64_t expected)
{
    return found < expected ? "file is truncated" : "file has trailing bytes";
}

/* In-memory IDX parsers (data.h). The file loader below uses exactly these; the fuzz targets
 * (tests/fuzz/) call them directly on arbitrary bytes. */
niti_status niti_idx_parse_images(const uint8_t *buf, size_t len, const char *name, int *count_out)
{
    if (!name) name = "(IDX images)";
    if (!buf && len) return niti_fail(NITI_ERR_INVALID, "%s: no data", name);
    if (len < 16)
        return niti_fail(NITI_ERR_FORMAT, "%s: %zu bytes, shorter than the 16-byte IDX image header",
                         name, len);
    uint32_t magic = be32(buf), count = be32(buf + 4), rows = be32(buf + 8), cols = be32(buf + 12);
    if (magic != 0x803)
        return niti_fail(NITI_ERR_FORMAT,
                         "%s: bad magic 0x%08x, expected 0x00000803 (IDX 3-D unsigned-byte "
                         "images, big-endian)%s", name, (unsigned)magic,
                         magic == 0x801 ? "; this is a labels file" : "");
    if (rows != 28 || cols != 28)
        return niti_fail(NITI_ERR_FORMAT, "%s: images are %ux%u, expected 28x28", name,
                         (unsigned)rows, (unsigned)cols);
    uint64_t iexp = 16 + (uint64_t)count * 784;
    if (len != iexp)
        return niti_fail(NITI_ERR_FORMAT,
                         "%s: %s: expected %llu bytes (16-byte header + %u images of 28x28), "
                         "found %zu", name, length_problem(len, iexp), (unsigned long long)iexp,
                         (unsigned)count, len);
    if (count == 0 || count > INT_MAX / 784)
        return niti_fail(NITI_ERR_FORMAT, "%s: image count %u is out of range", name,
                         (unsigned)count);
    *count_out = (int)count;
    return NITI_OK;
}

niti_status niti_idx_parse_labels(const uint8_t *buf, size_t len, const char *name, int *count_out)
{
    if (!name) name = "(IDX labels)";
    if (!buf && len) return niti_fail(NITI_ERR_INVALID, "%s: no data", name);
    if (len < 8)
        return niti_fail(NITI_ERR_FORMAT, "%s: %zu bytes, shorter than the 8-byte IDX label header",
                         name, len);
    uint32_t lmagic = be32(buf), lcount = be32(buf + 4);
    if (lmagic != 0x801)
        return niti_fail(NITI_ERR_FORMAT,
                         "%s: bad magic 0x%08x, expected 0x00000801 (IDX 1-D unsigned-byte "
                         "labels, big-endian)%s", name, (unsigned)lmagic,
                         lmagic == 0x803 ? "; this is an images file" : "");
    uint64_t lexp = 8 + (uint64_t)lcount;
    if (len != lexp)
        return niti_fail(NITI_ERR_FORMAT,
                         "%s: %s: expected %llu bytes (8-byte header + %u labels), found %zu",
                         name, length_problem(len, lexp), (unsigned long long)lexp,
                         (unsigned)lcount, len);
    if (lcount == 0 || lcount > INT_MAX)
        return niti_fail(NITI_ERR_FORMAT, "%s: label count %u is out of range", name,
                         (unsigned)lcount);
    for (uint32_t k = 0; k < lcount; k++)
        if (buf[8 + k] >= 10)
            return niti_fail(NITI_ERR_FORMAT, "%s: label %u of image %u is out of range 0..9",
                             name, (unsigned)buf[8 + k], (unsigned)k);
    *count_out = (int)lcount;
    return NITI_OK;
}

static niti_status load_idx(const char *ipath, const char *lpath, int train, niti_dataset *d)
{
    uint8_t *img = NULL, *lab = NULL;
    size_t ilen = 0, llen = 0;
    size_t hint_n = train ? 60000 : 10000;
    int count = 0, lcount = 0;
    niti_status st = read_whole(ipath, 16 + hint_n * 784, &img, &ilen);
    if (st != NITI_OK) return st;
    st = niti_idx_parse_images(img, ilen, ipath, &count);
    if (st != NITI_OK) goto fail;
    st = read_whole(lpath, 8 + hint_n, &lab, &llen);
    if (st != NITI_OK) goto fail;
    st = niti_idx_parse_labels(lab, llen, lpath, &lcount);
    if (st != NITI_OK) goto fail;
    if (lcount != count) {
        st = niti_fail(NITI_ERR_FORMAT, "%s holds %d images but %s holds %d labels", ipath,
                       count, lpath, lcount);
        goto fail;
    }
    /* Drop the headers in place. */
    size_t npix = (size_t)count * 784;
    memmove(img, img + 16, npix);
    memmove(lab, lab + 8, (size_t)count);
    uint8_t *p = realloc(img, npix);
    if (p) img = p;
    p = realloc(lab, (size_t)count);
    if (p) lab = p;
    d->n = count;
    d->h = 28;
    d->w = 28;
    d->c = 1;
    d->pixels = img;
    d->labels = lab;
    return NITI_OK;
fail:
    free(img);
    free(lab);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* CIFAR-10.                                                                                 */

#define CIFAR_REC 3073

/* In-memory CIFAR-10 parser (data.h): validates one batch file's content (a whole, non-zero
 * number of 3073-byte records, labels 0..9) and returns the record count. The file loader below
 * uses it, and niti_cifar_unpack for the pixels; the fuzz targets call both on arbitrary bytes. */
niti_status niti_cifar_parse(const uint8_t *buf, size_t len, const char *name, size_t *records)
{
    if (!name) name = "(CIFAR-10 batch)";
    if (!buf && len) return niti_fail(NITI_ERR_INVALID, "%s: no data", name);
    if (len == 0)
        return niti_fail(NITI_ERR_FORMAT, "%s: file is empty, expected records of %d bytes "
                         "(10000 in an official batch)", name, CIFAR_REC);
    if (len % CIFAR_REC)
        return niti_fail(NITI_ERR_FORMAT,
                         "%s: %zu bytes is not a whole number of %d-byte records (%zu whole "
                         "records and %zu extra bytes; an official batch is exactly %d bytes): "
                         "the file is truncated or has trailing bytes",
                         name, len, CIFAR_REC, len / CIFAR_REC, len % CIFAR_REC,
                         10000 * CIFAR_REC);
    size_t recs = len / CIFAR_REC;
    if (recs > (size_t)INT_MAX / 3072)
        return niti_fail(NITI_ERR_FORMAT, "%s: too many records", name);
    for (size_t r = 0; r < recs; r++) {
        unsigned l = buf[r * CIFAR_REC];
        if (l >= 10)
            return niti_fail(NITI_ERR_FORMAT, "%s: label %u of record %zu is out of range 0..9",
                             name, l, r);
    }
    *records = recs;
    return NITI_OK;
}

void niti_cifar_unpack(const uint8_t *buf, size_t records, uint8_t *pixels, uint8_t *labels)
{
    for (size_t r = 0; r < records; r++) {
        const uint8_t *rec = buf + r * CIFAR_REC;
        labels[r] = rec[0];
        const uint8_t *R = rec + 1, *G = rec + 1 + 1024, *B = rec + 1 + 2048;
        uint8_t *o = pixels + r * 3072;
        for (int k = 0; k < 1024; k++) {
            o[3 * k] = R[k];
            o[3 * k + 1] = G[k];
            o[3 * k + 2] = B[k];
        }
    }
}

static niti_status load_cifar(char (*paths)[NITI_DATA_PATH_MAX], int nfiles, niti_dataset *d)
{
    size_t cap = (size_t)nfiles * 10000, n = 0;
    uint8_t *pix = malloc(cap * 3072), *lab = malloc(cap);
    niti_status st = NITI_OK;
    if (!pix || !lab) {
        st = niti_fail(NITI_ERR_NOMEM, "cifar10: cannot allocate %zu images", cap);
        goto fail;
    }
    for (int f = 0; f < nfiles; f++) {
        uint8_t *buf = NULL;
        size_t len = 0, recs = 0;
        st = read_whole(paths[f], (size_t)10000 * CIFAR_REC, &buf, &len);
        if (st != NITI_OK) goto fail;
        st = niti_cifar_parse(buf, len, paths[f], &recs);
        if (st == NITI_OK && n + recs > (size_t)INT_MAX / 3072)
            st = niti_fail(NITI_ERR_FORMAT, "%s: too many records", paths[f]);
        if (st != NITI_OK) {
            free(buf);
            goto fail;
        }
        if (n + recs > cap) {
            size_t ncap = n + recs;
            uint8_t *np = realloc(pix, ncap * 3072);
            if (np) pix = np;
            uint8_t *nl = np ? realloc(lab, ncap) : NULL;
            if (nl) lab = nl;
            if (!np || !nl) {
                st = niti_fail(NITI_ERR_NOMEM, "cifar10: cannot allocate %zu images", ncap);
                free(buf);
                goto fail;
            }
            cap = ncap;
        }
        niti_cifar_unpack(buf, recs, pix + n * 3072, lab + n);
        n += recs;
        free(buf);
    }
    if (n < cap) {
        uint8_t *np = realloc(pix, n * 3072);
        if (np) pix = np;
        uint8_t *nl = realloc(lab, n);
        if (nl) lab = nl;
    }
    d->n = (int)n;
    d->h = 32;
    d->w = 32;
    d->c = 3;
    d->pixels = pix;
    d->labels = lab;
    return NITI_OK;
fail:
    free(pix);
    free(lab);
    return st;
}

niti_status niti_dataset_load(niti_dataset_id id, const char *dir, int train, niti_dataset *out)
{
    if (!out) return niti_fail(NITI_ERR_INVALID, "niti_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (id != NITI_DATA_MNIST && id != NITI_DATA_FASHION_MNIST && id != NITI_DATA_CIFAR10)
        return niti_fail(NITI_ERR_INVALID, "unknown dataset id %d", (int)id);
    file_set fs = files_of(id, train);
    char folder[NITI_DATA_PATH_MAX];
    char paths[5][NITI_DATA_PATH_MAX];
    NITI_TRY(locate(id, dir, &fs, folder, paths));
    char source[sizeof out->source];
    NITI_TRY(absolute_folder(folder, source, sizeof source));
    niti_status st = id == NITI_DATA_CIFAR10 ? load_cifar(paths, fs.nfiles, out)
                                             : load_idx(paths[0], paths[1], train, out);
    if (st != NITI_OK) {
        niti_dataset_free(out);
        return st;
    }
    out->id = id;
    out->classes = 10;
    memcpy(out->source, source, strlen(source) + 1);
    return NITI_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Input tables, shuffle.                                                                   */

void niti_dataset_input_tables(niti_dataset_id id, int8_t tables[3][256])
{
    memset(tables, 0, 3 * 256);
    switch (id) {
    case NITI_DATA_MNIST: niti_input_table(0.1307, 0.3081, tables[0]); break;
    case NITI_DATA_FASHION_MNIST: niti_input_table(0.2860, 0.3530, tables[0]); break;
    case NITI_DATA_CIFAR10: {
        static const double mean[3] = {0.49139968, 0.48215827, 0.44653124};
        static const double std[3] = {0.24703233, 0.24348505, 0.26158768};
        for (int c = 0; c < 3; c++) niti_input_table(mean[c], std[c], tables[c]);
        break;
    }
    }
}

void niti_shuffle(uint64_t seed, uint32_t epoch, int n, int32_t *perm)
{
    for (int k = 0; k < n; k++) perm[k] = k;
    for (int i = n - 1; i >= 1; i--) {
        uint64_t hi = niti_philox_x0(seed, (uint32_t)i, epoch, NITI_STREAM_SHUFFLE, 0);
        uint64_t lo = niti_philox_x0(seed, (uint32_t)i, epoch, NITI_STREAM_SHUFFLE, 1);
        uint64_t r = hi << 32 | lo;
        int j = (int)(r % (uint64_t)(i + 1));
        int32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Augmentation modes, the validation split, batches.                                        */

niti_status niti_augment_parse(const char *text, niti_augment *out)
{
    static const char *const expect =
        "expected none, cropP, cropP-flip or flip with P = 1..8 pixels of padding";
    if (!text) return niti_fail(NITI_ERR_INVALID, "augmentation mode is missing (%s)", expect);
    niti_augment a = {0, 0};
    if (!strcmp(text, "none")) {
    } else if (!strcmp(text, "flip")) {
        a.flip = 1;
    } else if (!strncmp(text, "crop", 4)) {
        const char *p = text + 4;
        if (*p < '0' || *p > '9')
            return niti_fail(NITI_ERR_INVALID, "augmentation mode '%s': 'crop' needs the padding "
                             "in pixels after it, e.g. crop4 (%s)", text, expect);
        if (p[1] >= '0' && p[1] <= '9')
            return niti_fail(NITI_ERR_INVALID, "augmentation mode '%s': the padding must be 1..%d "
                             "pixels (%s)", text, NITI_AUGMENT_MAX_PAD, expect);
        a.pad = *p - '0';
        if (a.pad < 1 || a.pad > NITI_AUGMENT_MAX_PAD)
            return niti_fail(NITI_ERR_INVALID, "augmentation mode '%s': the padding must be 1..%d "
                             "pixels (%s)", text, NITI_AUGMENT_MAX_PAD, expect);
        p++;
        if (!strcmp(p, "-flip")) a.flip = 1;
        else if (*p)
            return niti_fail(NITI_ERR_INVALID, "augmentation mode '%s': unexpected '%s' after "
                             "crop%d (%s)", text, p, a.pad, expect);
    } else {
        return niti_fail(NITI_ERR_INVALID, "unknown augmentation mode '%s' (%s)", text, expect);
    }
    *out = a;
    return NITI_OK;
}

void niti_augment_format(niti_augment a, char *buf, size_t size)
{
    if (a.pad > 0) snprintf(buf, size, "crop%d%s", a.pad, a.flip ? "-flip" : "");
    else snprintf(buf, size, "%s", a.flip ? "flip" : "none");
}

niti_augment niti_augment_default(niti_dataset_id id)
{
    niti_augment a = {0, 0};
    if (id == NITI_DATA_CIFAR10) a.pad = 4, a.flip = 1;
    return a;
}

niti_status niti_augment_check(niti_augment a, niti_dataset_id id)
{
    if (a.pad < 0 || a.pad > NITI_AUGMENT_MAX_PAD || (a.flip != 0 && a.flip != 1))
        return niti_fail(NITI_ERR_INVALID, "augmentation with padding %d and flip %d is out of "
                         "range", a.pad, a.flip);
    if (a.flip && id == NITI_DATA_MNIST) {
        char t[NITI_AUGMENT_TEXT];
        niti_augment_format(a, t, sizeof t);
        return niti_fail(NITI_ERR_INVALID, "augmentation '%s' mirrors images, which MNIST cannot "
                         "take: a mirrored digit is a different digit or no valid digit at all; "
                         "use none or cropP", t);
    }
    return NITI_OK;
}

niti_status niti_augment_resolve(const char *text, niti_dataset_id id, niti_augment *out)
{
    niti_augment a = niti_augment_default(id);
    if (text && *text) NITI_TRY(niti_augment_parse(text, &a));
    NITI_TRY(niti_augment_check(a, id));
    *out = a;
    return NITI_OK;
}

niti_status niti_dataset_split_tail(niti_dataset *d, int n_tail, niti_dataset *tail)
{
    if (!d || !tail) return niti_fail(NITI_ERR_INVALID, "niti_dataset_split_tail: NULL argument");
    if (n_tail < 0 || n_tail >= d->n)
        return niti_fail(NITI_ERR_INVALID, "cannot hold out %d of %d images (0..%d can be)",
                         n_tail, d->n, d->n - 1);
    memset(tail, 0, sizeof *tail);
    tail->id = d->id;
    tail->h = d->h, tail->w = d->w, tail->c = d->c;
    tail->classes = d->classes;
    memcpy(tail->source, d->source, sizeof tail->source);
    if (n_tail == 0) return NITI_OK;
    size_t img = (size_t)d->h * d->w * d->c, keep = (size_t)(d->n - n_tail);
    tail->pixels = malloc((size_t)n_tail * img);
    tail->labels = malloc((size_t)n_tail);
    if (!tail->pixels || !tail->labels) {
        niti_dataset_free(tail);
        return niti_fail(NITI_ERR_NOMEM, "cannot allocate %d held-out images", n_tail);
    }
    memcpy(tail->pixels, d->pixels + keep * img, (size_t)n_tail * img);
    memcpy(tail->labels, d->labels + keep, (size_t)n_tail);
    tail->n = n_tail;
    d->n = (int)keep; /* the buffers keep their size; niti_dataset_free frees them whole */
    return NITI_OK;
}

void niti_make_batch(const niti_dataset *d, const int32_t *idx, int count,
                     const int8_t tables[3][256], niti_augment aug, uint64_t seed, uint32_t t,
                     int8_t *inputs, int32_t *labels)
{
    niti_make_batch_at(d, idx, count, 0, tables, aug, seed, t, inputs, labels);
}

void niti_make_batch_at(const niti_dataset *d, const int32_t *idx, int count, int pos0,
                        const int8_t tables[3][256], niti_augment aug, uint64_t seed, uint32_t t,
                        int8_t *inputs, int32_t *labels)
{
    const int H = d->h, W = d->w, C = d->c, P = aug.pad;
    const size_t img = (size_t)H * W * C;
    for (int b = 0; b < count; b++) {
        const uint8_t *src = d->pixels + (size_t)idx[b] * img;
        int8_t *dst = inputs + (size_t)b * img;
        if (labels) labels[b] = d->labels[idx[b]];
        if (P <= 0 && !aug.flip) {
            for (size_t p = 0; p < (size_t)H * W; p++)
                for (int c = 0; c < C; c++) dst[p * C + c] = tables[c][src[p * C + c]];
            continue;
        }
        uint32_t pos = (uint32_t)(pos0 + b); /* the image's position in the whole batch */
        int dx = P, dy = P, flip = 0;
        if (P > 0) {
            uint32_t span = (uint32_t)(2 * P + 1);
            dx = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 0) % span);
            dy = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 1) % span);
        }
        if (aug.flip) flip = (int)(niti_philox_x0(seed, pos, t, NITI_STREAM_AUGMENT, 2) & 1u);
        for (int y = 0; y < H; y++) {
            int sy = y + dy - P;
            for (int x = 0; x < W; x++) {
                int sx = (flip ? W - 1 - x : x) + dx - P;
                int8_t *o = dst + ((size_t)y * W + x) * C;
                if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
                    for (int c = 0; c < C; c++) o[c] = tables[c][0];
                } else {
                    const uint8_t *s = src + ((size_t)sy * W + sx) * C;
                    for (int c = 0; c < C; c++) o[c] = tables[c][s[c]];
                }
            }
        }
    }
}

void niti_dataset_shape(niti_dataset_id id, int *h, int *w, int *c)
{
    int cifar = id == NITI_DATA_CIFAR10;
    *h = *w = cifar ? 32 : 28;
    *c = cifar ? 3 : 1;
}
