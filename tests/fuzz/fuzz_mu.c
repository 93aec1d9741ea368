/* Fuzz target: the mu schedule parser (niti_mu_parse). Invariants: values and epochs in range,
 * epochs increasing, and the canonical text (niti_mu_format) parses back to the same schedule. */
#include "fuzz.h"
#include "train/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    niti_mu_schedule s;
    if (niti_mu_parse(text, &s) == NITI_OK) {
        FUZZ_CHECK(s.n >= 1 && s.n <= NITI_MU_MAX_STAGES && s.from_epoch[0] == 0);
        for (int i = 0; i < s.n; i++) {
            FUZZ_CHECK(s.mu[i] >= -64 && s.mu[i] <= 64);
            if (i) FUZZ_CHECK(s.from_epoch[i] > s.from_epoch[i - 1]);
        }
        char buf[16 * NITI_MU_MAX_STAGES];
        niti_mu_format(&s, buf, sizeof buf);
        niti_mu_schedule t;
        FUZZ_CHECK(niti_mu_parse(buf, &t) == NITI_OK);
        FUZZ_CHECK(t.n == s.n);
        FUZZ_CHECK(!memcmp(t.mu, s.mu, sizeof s.mu) && !memcmp(t.from_epoch, s.from_epoch,
                                                                sizeof s.from_epoch));
        FUZZ_CHECK(niti_mu_at(&s, 0) == s.mu[0]);
        FUZZ_CHECK(niti_mu_at(&s, 1 << 30) == s.mu[s.n - 1]);
    }
    free(text);
    return 0;
}
