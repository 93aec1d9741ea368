/* Placeholder until the fp32 baseline lands. */
#include "fp32.h"
#include "error.h"

niti_status niti_f32_create(const char *device, const niti_model_spec *m, int max_batch,
                            const niti_f32_cfg *cfg, niti_f32_net **out)
{
    (void)device, (void)m, (void)max_batch, (void)cfg, (void)out;
    return niti_fail(NITI_ERR_UNSUPPORTED, "the fp32 baseline is not built yet");
}
void niti_f32_free(niti_f32_net *net) { (void)net; }
const char *niti_f32_device_name(const niti_f32_net *net) { (void)net; return "none"; }
niti_status niti_f32_train_step(niti_f32_net *net, const int8_t *inputs, const int32_t *labels,
                                int n, float lr, uint32_t t, float *logits_out, double *loss_sum)
{
    (void)net, (void)inputs, (void)labels, (void)n, (void)lr, (void)t, (void)logits_out, (void)loss_sum;
    return NITI_ERR_UNSUPPORTED;
}
niti_status niti_f32_forward(niti_f32_net *net, const int8_t *inputs, int n, float *logits_out)
{
    (void)net, (void)inputs, (void)n, (void)logits_out;
    return NITI_ERR_UNSUPPORTED;
}
