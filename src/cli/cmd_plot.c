#include <stdio.h>

#include "cli.h"

int niti_cmd_plot(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti plot: not implemented yet\n");
    return 2;
}
