#include <stdio.h>

#include "cli.h"

int niti_cmd_conformance(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti conformance: not implemented yet\n");
    return 2;
}
