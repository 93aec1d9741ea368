/* Fuzz target: the model spec parser (niti_model_parse) and its shape inference. Invariants: a
 * spec that parses has its canonical text parse again to the same layers and the same text, and
 * every size helper stays in range. */
#include "fuzz.h"
#include "core/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    niti_model_spec *m = NULL;
    if (niti_model_parse(text, &m) == NITI_OK) {
        FUZZ_CHECK(m && m->canonical && m->n_layers > 0);
        FUZZ_CHECK(niti_model_classes(m) > 0);
        FUZZ_CHECK(niti_model_params(m) >= 0 && niti_model_macs(m) >= 0);
        for (int i = 0; i < m->n_layers; i++) {
            const niti_layer_spec *l = &m->layers[i];
            FUZZ_CHECK(l->out_h > 0 && l->out_w > 0 && l->out_c > 0);
            FUZZ_CHECK((int64_t)l->out_h * l->out_w * l->out_c <= INT32_MAX);
            FUZZ_CHECK(niti_layer_params(l) <= INT32_MAX);
            int bits = niti_layer_fwd_acc_bits(l);
            if (niti_layer_has_weights(l)) FUZZ_CHECK(bits == 32 || bits == 64);
            else FUZZ_CHECK(bits == 0);
        }
        niti_model_spec *again = NULL, *copy = NULL;
        FUZZ_CHECK(niti_model_parse(m->canonical, &again) == NITI_OK);
        FUZZ_CHECK(!strcmp(again->canonical, m->canonical));
        FUZZ_CHECK(again->n_layers == m->n_layers);
        FUZZ_CHECK(!memcmp(again->layers, m->layers, sizeof *m->layers * (size_t)m->n_layers));
        FUZZ_CHECK(niti_model_copy(m, &copy) == NITI_OK);
        FUZZ_CHECK(!strcmp(copy->canonical, m->canonical));
        niti_model_free(copy);
        niti_model_free(again);
        niti_model_free(m);
    } else {
        FUZZ_CHECK(m == NULL);
    }
    free(text);
    return 0;
}
