/* A small long-option parser shared by the subcommands: --name VALUE, --name=VALUE, flags. */
#ifndef NITI_CLI_ARGS_H
#define NITI_CLI_ARGS_H

typedef struct cli_opt {
    const char *name;   /* without the leading "--" */
    int takes_value;    /* 1: --name VALUE; 0: a flag */
    const char **value; /* receives the value (takes_value) */
    int *flag;          /* set to 1 (flags) */
} cli_opt;

/* Returns 0 on success, 1 if --help/-h was given, 2 on a usage error (message printed).
 * Positional arguments are collected into pos (at most maxpos). */
int cli_parse(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts,
              const char **pos, int maxpos, int *npos);
/* Parses a whole decimal number in [lo, hi]; prints an error naming the option on failure. */
int cli_int(const char *cmd, const char *opt, const char *text, long long lo, long long hi,
            long long *out);
#endif
