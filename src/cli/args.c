#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int maxpos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || !a[1]) {
            if (*npos >= maxpos) {
                fprintf(stderr, "niti %s: unexpected argument '%s' (see niti %s --help)\n", cmd,
                        a, cmd);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (a[1] != '-') {
            fprintf(stderr, "niti %s: unknown option '%s' (see niti %s --help)\n", cmd, a, cmd);
            return 2;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len)) o = &opts[k];
        if (!o) {
            fprintf(stderr, "niti %s: unknown option '--%.*s' (see niti %s --help)\n", cmd,
                    (int)len, name, cmd);
            return 2;
        }
        if (o->takes_value) {
            if (eq) *o->value = eq + 1;
            else if (i + 1 < argc) *o->value = argv[++i];
            else {
                fprintf(stderr, "niti %s: option '--%s' needs a value\n", cmd, o->name);
                return 2;
            }
        } else {
            if (eq) {
                fprintf(stderr, "niti %s: option '--%s' takes no value\n", cmd, o->name);
                return 2;
            }
            *o->flag = 1;
        }
    }
    return 0;
}

int cli_int(const char *cmd, const char *opt, const char *text, long long lo, long long hi,
            long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "niti %s: --%s must be a whole number in %lld..%lld (got '%s')\n", cmd,
                opt, lo, hi, text);
        return 0;
    }
    *out = v;
    return 1;
}
