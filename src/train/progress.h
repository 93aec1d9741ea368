/* Training progress: images per second and the time left in an epoch, measured only after the
 * first batches, which also pay for one-time work (kernel compilation, specialisation of the
 * kernels to the batch's work sizes, caches warming up) and would make the rate and the ETA of
 * the first seconds absurd ("7 img/s ETA 4:49"). */
#ifndef NITI_PROGRESS_H
#define NITI_PROGRESS_H

#include <stdint.h>

/* Batches of an epoch left out of its rate. */
#define NITI_PROGRESS_WARMUP 2

typedef struct niti_progress {
    int batches;         /* batches done this epoch */
    int64_t images;      /* images done this epoch */
    double t_start;      /* when the epoch started */
    double t_warm;       /* when the warm-up batches were done */
    int64_t images_warm; /* images done by then */
    double t_now;
} niti_progress;

void niti_progress_start(niti_progress *p, double now);
/* After a batch of `images` images, at time now (seconds, monotonic). */
void niti_progress_batch(niti_progress *p, int images, double now);
/* Images per second after the warm-up batches; < 0 while not yet known. */
double niti_progress_rate(const niti_progress *p);
/* Seconds left for images_left more images at that rate; < 0 while not yet known. */
double niti_progress_eta(const niti_progress *p, int64_t images_left);

#endif
