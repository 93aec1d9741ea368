/* Rough timings of the OpenCL conv kernels on LeNet/VGG-like shapes (run by hand):
 *   cl_bench [device] [reps] [shape-name substring]   (NITI_BENCH_VGG_BATCH, default 64)
 * Prints ms per call and GOPS (2 ops per multiply-accumulate) for fwd, dgrad and wgrad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    niti_backend *be;
    if (niti_backend_open(argc > 1 ? argv[1] : "cpu", &be) != NITI_OK) {
        fprintf(stderr, "%s\n", niti_last_error());
        return 1;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    printf("device: %s\n", be->name);
    int vb = getenv("NITI_BENCH_VGG_BATCH") ? atoi(getenv("NITI_BENCH_VGG_BATCH")) : 64;
    const char *only = argc > 3 ? argv[3] : NULL;
    struct { const char *name; int N, H, W, I, O, k, pad; } shapes[] = {
        {"lenet conv5x5 1->20 28x28 b64", 64, 28, 28, 1, 20, 5, 0},
        {"lenet conv5x5 20->50 12x12 b64", 64, 12, 12, 20, 50, 5, 0},
        {"linear 800->500 b64", 64, 1, 1, 800, 500, 1, 0},
        {"linear 500->10 b64", 64, 1, 1, 500, 10, 1, 0},
        {"vgg conv3x3 3->128 32x32", vb, 32, 32, 3, 128, 3, 1},
        {"vgg conv3x3 128->128 32x32", vb, 32, 32, 128, 128, 3, 1},
        {"vgg conv3x3 256->256 16x16", vb, 16, 16, 256, 256, 3, 1},
        {"vgg conv3x3 512->512 8x8", vb, 8, 8, 512, 512, 3, 1},
        {"linear 8192->1024", vb, 1, 1, 8192, 1024, 1, 0},
    };
    if (strstr(shapes[4].name, "vgg")) printf("VGG/big-linear batch %d (NITI_BENCH_VGG_BATCH)\n", vb);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (only && !strstr(shapes[s].name, only)) continue;
        niti_conv_geom g;
        niti_conv_geom_init(&g, shapes[s].N, shapes[s].H, shapes[s].W, shapes[s].I, shapes[s].O,
                            shapes[s].k, shapes[s].pad);
        size_t na = (size_t)g.N * g.H * g.W * g.I, nw = (size_t)g.O * g.k * g.k * g.I;
        size_t ne = (size_t)g.N * g.Ho * g.Wo * g.O;
        niti_dtype tf = niti_acc_dtype((int64_t)g.k * g.k * g.I);
        niti_dtype td = niti_acc_dtype((int64_t)g.k * g.k * g.O);
        signed char *h = malloc(na > nw ? (na > ne ? na : ne) : (nw > ne ? nw : ne));
        for (size_t i = 0; i < (na > nw ? (na > ne ? na : ne) : (nw > ne ? nw : ne)); i++)
            h[i] = (signed char)(rand() % 255 - 127);
        niti_buf *A, *W, *E, *acc, *accE, *G;
        niti_buf_from_host(be, h, na, "A", &A);
        niti_buf_from_host(be, h, nw, "W", &W);
        niti_buf_from_host(be, h, ne, "E", &E);
        be->ops->alloc(be, ne * 8, "acc", &acc);
        be->ops->alloc(be, na * 8, "accE", &accE);
        be->ops->alloc(be, nw * 8, "G", &G);
        double macs = (double)g.N * g.Ho * g.Wo * g.O * g.k * g.k * g.I;
        const char *names[3] = {"fwd", "dgrad", "wgrad"};
        printf("%s:", shapes[s].name);
        for (int op = 0; op < 3; op++) {
            double best = 1e30;
            for (int r = 0; r < reps + 1; r++) {
                be->ops->finish(be);
                double t0 = now();
                niti_status st = op == 0   ? be->ops->conv_fwd(be, &g, A, W, acc, tf)
                                 : op == 1 ? be->ops->conv_dgrad(be, &g, E, W, accE, td)
                                           : be->ops->conv_wgrad(be, &g, A, E, G, NULL);
                be->ops->finish(be);
                double dt = now() - t0;
                if (st != NITI_OK) fprintf(stderr, "%s\n", niti_last_error());
                if (r && dt < best) best = dt; /* the first call warms up */
            }
            printf("  %s %.2f ms %.1f GOPS", names[op], best * 1e3, 2 * macs / best * 1e-9);
        }
        printf("\n");
        be->ops->release(be, A), be->ops->release(be, W), be->ops->release(be, E);
        be->ops->release(be, acc), be->ops->release(be, accE), be->ops->release(be, G);
        free(h);
    }
    niti_backend_close(be);
    return 0;
}
