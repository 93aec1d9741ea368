/* Backend-independent helpers of the backend interface. */
#include <stdio.h>
#include <stdlib.h>

#include "core/backend.h"
#include "core/error.h"

niti_status niti_conv_geom_init(niti_conv_geom *g, int N, int H, int W, int I, int O, int k,
                                int pad)
{
    if (N <= 0 || H <= 0 || W <= 0 || I <= 0 || O <= 0 || k <= 0 || pad < 0)
        return niti_fail(NITI_ERR_INVALID, "conv geometry N=%d H=%d W=%d I=%d O=%d k=%d pad=%d",
                         N, H, W, I, O, k, pad);
    g->N = N, g->H = H, g->W = W, g->I = I, g->O = O, g->k = k, g->pad = pad;
    g->Ho = H + 2 * pad - k + 1;
    g->Wo = W + 2 * pad - k + 1;
    if (g->Ho <= 0 || g->Wo <= 0)
        return niti_fail(NITI_ERR_INVALID, "conv k%d p%d on %dx%d gives an empty output", k, pad,
                         H, W);
    return NITI_OK;
}

niti_dtype niti_acc_dtype(int64_t K)
{
    /* |a| <= 128 (input images), |w| <= 127: K*128*127 must stay below 2^31. */
    return K * 128 * 127 < ((int64_t)1 << 31) ? NITI_I32 : NITI_I64;
}

niti_status niti_buf_from_host(niti_backend *be, const void *src, size_t bytes, const char *what,
                               niti_buf **out)
{
    niti_buf *b = NULL;
    NITI_TRY(be->ops->alloc(be, bytes, what, &b));
    niti_status s = be->ops->upload(be, b, 0, src, bytes);
    if (s != NITI_OK) {
        be->ops->release(be, b);
        return s;
    }
    *out = b;
    return NITI_OK;
}
