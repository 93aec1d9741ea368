#include <stdio.h>

#include "cli.h"

int niti_cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "niti train: not implemented yet\n");
    return 2;
}
