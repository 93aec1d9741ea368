#include <stdio.h>

#include "cli.h"

int niti_cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti eval: not implemented yet\n");
    return 2;
}
