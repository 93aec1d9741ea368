#include <stdio.h>

#include "cli.h"

int niti_cmd_devices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti devices: not implemented yet\n");
    return 2;
}
