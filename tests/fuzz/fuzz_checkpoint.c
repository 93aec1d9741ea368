/* Fuzz target: the checkpoint loader's device-free path: niti_st_parse, then
 * niti_checkpoint_validate (checksum, run-state metadata, model spec, weight shapes and exponents
 * against the model). Each parsed file is validated twice: as niti_checkpoint_load does (checksum
 * first), and with the checksum skipped, so that mutated files reach the checks behind it. */
#include <inttypes.h>

#include "io/checkpoint.h"
#include "fuzz.h"
#include "core/model.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    niti_st *st = NULL;
    if (niti_st_parse(data, size, &st) != NITI_OK) return 0;
    for (int verify = 1; verify >= 0; verify--) {
        niti_run_state rs;
        niti_model_spec *m = NULL;
        if (niti_checkpoint_validate(st, verify, &rs, &m) == NITI_OK) {
            FUZZ_CHECK(m != NULL && m->n_layers > 0);
            FUZZ_CHECK(rs.batch >= 1 && rs.mu[sizeof rs.mu - 1] == 0);
            FUZZ_CHECK(rs.dataset[sizeof rs.dataset - 1] == 0);
            /* the seed is exactly the stored decimal number (no saturation, no " 5" or "+5":
             * tests/fuzz/regress/fuzz_checkpoint/seed_*.st); leading zeros are allowed */
            char seed[32];
            snprintf(seed, sizeof seed, "%" PRIu64, rs.cfg.seed);
            const char *stored = niti_st_meta_get(st, "seed");
            while (stored[0] == '0' && stored[1]) stored++;
            FUZZ_CHECK(!strcmp(seed, stored));
            /* every weight tensor the network would read has exactly the model's size */
            for (int l = 0; l < m->n_layers; l++) {
                if (!niti_layer_has_weights(&m->layers[l])) continue;
                char key[32];
                snprintf(key, sizeof key, "L%d.weight", l);
                const niti_st_tensor *t = niti_st_find(st, key);
                FUZZ_CHECK(t && t->dtype == NITI_I8 &&
                           t->count == (size_t)niti_layer_params(&m->layers[l]));
                if (rs.cfg.master16) {
                    snprintf(key, sizeof key, "L%d.master", l);
                    t = niti_st_find(st, key);
                    FUZZ_CHECK(t && t->dtype == NITI_I16 &&
                               t->count == (size_t)niti_layer_params(&m->layers[l]));
                }
            }
            niti_model_free(m);
        } else {
            FUZZ_CHECK(m == NULL);
        }
    }
    niti_st_free(st);
    return 0;
}
