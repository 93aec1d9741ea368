#include <stdio.h>

#include "cli.h"

int niti_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti bench: not implemented yet\n");
    return 2;
}
