/* Internal to the fp32 baseline (fp32.c, fp32_gemm.c, fp32_cl.c) and its tests.
 *
 * GEMM convention (both paths): row-major, C[M,N] = op(A)[M,K] * op(B)[K,N], C overwritten.
 * op(A) = A (ta = 0, A stored [M, lda >= K]) or A^T (ta = 1, A stored [K, lda >= M]);
 * likewise op(B) with B stored [K, ldb >= N] or [N, ldb >= K]; C stored [M, ldc >= N]. */
#ifndef NITI_FP32_INTERNAL_H
#define NITI_FP32_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fp32/fp32.h"

/* The plain-C blocked sgemm of the "ref" path. M, N, K >= 1. */
void niti_f32_sgemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float *C, int ldc);

/* The CLBlast path: its own context and queue on the device chosen by spec (see
 * niti_cl_select). name receives "<platform>: <device> (CLBlast)". Without CLBlast in the build
 * open fails with NITI_ERR_UNSUPPORTED. */
typedef struct niti_f32_cl niti_f32_cl;
niti_status niti_f32_cl_open(const char *spec, niti_f32_cl **out, char *name, size_t name_size);
void niti_f32_cl_close(niti_f32_cl *cl);
/* Same convention as niti_f32_sgemm_ref, on host arrays (staged through device buffers). */
niti_status niti_f32_cl_gemm(niti_f32_cl *cl, int ta, int tb, int M, int N, int K,
                             const float *A, int lda, const float *B, int ldb, float *C, int ldc);
/* 1 if this build has CLBlast. */
int niti_f32_have_clblast(void);

/* ---- test hooks ---- */
/* Forward + backward on float inputs x (NHWC) without updating the weights. loss_mean: the
 * softmax cross-entropy averaged over the batch; the weight gradients (of loss_mean) are left
 * in each weight layer's gradient buffer (niti_f32_weight_grad); dx (optional, [n, H, W, C])
 * receives dloss_mean/dx. training selects dropout (step t). logits (optional) [n, classes]. */
niti_status niti_f32_grad_f(niti_f32_net *net, const float *x, const int32_t *labels, int n,
                            int training, uint32_t t, double *loss_mean, float *dx,
                            float *logits);
/* Inference on float inputs. */
niti_status niti_f32_forward_f(niti_f32_net *net, const float *x, int n, float *logits);
/* The host weights of a layer (NULL if it has none), [O,k,k,I] or [O,F]; writable. */
float *niti_f32_weights(niti_f32_net *net, int layer, size_t *count);
const float *niti_f32_weight_grad(const niti_f32_net *net, int layer);
/* The SGD momentum buffer of a layer (NULL if it has no weights); writable. */
float *niti_f32_momentum(niti_f32_net *net, int layer, size_t *count);

#endif
