#include "train/progress.h"

#include <string.h>

void niti_progress_start(niti_progress *p, double now)
{
    memset(p, 0, sizeof *p);
    p->t_start = p->t_now = p->t_warm = now;
}

void niti_progress_batch(niti_progress *p, int images, double now)
{
    p->batches++;
    p->images += images;
    p->t_now = now;
    if (p->batches == NITI_PROGRESS_WARMUP) {
        p->t_warm = now;
        p->images_warm = p->images;
    }
}

double niti_progress_rate(const niti_progress *p)
{
    double dt = p->t_now - p->t_warm;
    if (p->batches <= NITI_PROGRESS_WARMUP || !(dt > 0)) return -1;
    return (double)(p->images - p->images_warm) / dt;
}

double niti_progress_eta(const niti_progress *p, int64_t images_left)
{
    if (images_left <= 0) return 0;
    double r = niti_progress_rate(p);
    return r > 0 ? (double)images_left / r : -1;
}
