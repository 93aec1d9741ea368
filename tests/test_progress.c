/* src/train/progress.c: the rate and ETA of an epoch leave out its first batches. */
#include "check.h"
#include "train/progress.h"

int main(void)
{
    niti_progress p;
    niti_progress_start(&p, 100.0);
    /* the first batch took 10 s (kernels compiling), then 0.1 s each */
    niti_progress_batch(&p, 64, 110.0);
    CHECK(niti_progress_rate(&p) < 0);
    CHECK(niti_progress_eta(&p, 6400) < 0);
    niti_progress_batch(&p, 64, 110.1);
    CHECK(niti_progress_rate(&p) < 0); /* still warming up */
    niti_progress_batch(&p, 64, 110.2);
    niti_progress_batch(&p, 64, 110.3);
    double r = niti_progress_rate(&p);
    CHECK(r > 639 && r < 641); /* 128 images in 0.2 s, not 256 in 10.3 s */
    double eta = niti_progress_eta(&p, 6400);
    CHECK(eta > 9.9 && eta < 10.1);
    CHECK(niti_progress_eta(&p, 0) == 0);
    niti_progress_start(&p, 200.0); /* a new epoch starts over */
    CHECK(niti_progress_rate(&p) < 0);
    return check_report("test_progress");
}
