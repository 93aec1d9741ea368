/* Replays inputs through one fuzz target without libFuzzer (any compiler): every regular file
 * named on the command line, and every regular file inside a folder named there (not recursive),
 * is fed once to LLVMFuzzerTestOneInput. A crash or failed invariant aborts the process, so the
 * CTest test fails; a missing folder counts as empty (tests/fuzz/regress/<target>/ exists only once
 * a crash was found). Prints the number of inputs replayed. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 0;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) abort();
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (len < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        return 0;
    }
    /* libFuzzer hands over a buffer of exactly `len` bytes: copy so ASan sees the same bound. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) abort();
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) continue; /* no such folder: nothing to replay */
        if (S_ISREG(sb.st_mode)) {
            if (replay_file(argv[i])) n++;
            else bad++;
            continue;
        }
        if (!S_ISDIR(sb.st_mode)) continue;
        DIR *d = opendir(argv[i]);
        if (!d) {
            perror(argv[i]);
            bad++;
            continue;
        }
        char **names = NULL;
        size_t nn = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            char *p = malloc(l);
            char **nl = realloc(names, sizeof *names * (nn + 1));
            if (!p || !nl) abort();
            names = nl;
            snprintf(p, l, "%s/%s", argv[i], e->d_name);
            names[nn++] = p;
        }
        closedir(d);
        qsort(names, nn, sizeof *names, cmp_str); /* a fixed order: reproducible runs */
        for (size_t k = 0; k < nn; k++) {
            if (stat(names[k], &sb) == 0 && S_ISREG(sb.st_mode)) {
                if (replay_file(names[k])) n++;
                else bad++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d input(s), %d unreadable\n", n, bad);
    return bad ? 1 : (n ? 0 : 1); /* replaying nothing means the corpus is missing: fail */
}
