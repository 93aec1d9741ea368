#include <stdio.h>

#include "cli.h"

int niti_cmd_info(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti info: not implemented yet\n");
    return 2;
}
