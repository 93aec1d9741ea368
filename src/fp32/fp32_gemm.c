/* The plain-C sgemm of the fp32 baseline's "ref" path (convention in fp32_internal.h).
 *
 * A small GotoBLAS-style loop nest: op(B) is packed in KC x NC panels (NR-wide column strips),
 * op(A) in MC x KC blocks (MR-tall row strips), and an MR x NR micro-kernel keeps its block of
 * C in registers while it runs down the shared K. Packing handles the transposes and pads the
 * edges with zeros, so the micro-kernel has no branches. With GCC/Clang the micro-kernel uses
 * vector extensions (8 floats: two SSE registers on baseline x86-64); elsewhere plain loops. */
#include <stdlib.h>
#include <string.h>

#include "fp32/fp32_internal.h"

enum { MR = 4, NR = 8, KC = 256, MC = 128, NC = 512 };

static float *pack_buf(float **buf, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*buf);
        *buf = malloc(n * sizeof(float));
        *cap = *buf ? n : 0;
    }
    return *buf;
}

/* op(A) rows i0..i0+mc, cols p0..p0+kc into strips of MR rows: dst[s][p][r]. */
static void pack_a(int ta, const float *A, int lda, int i0, int mc, int p0, int kc, float *dst)
{
    for (int s = 0; s < mc; s += MR) {
        int rows = mc - s < MR ? mc - s : MR;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (size_t)s * kc + (size_t)p * MR;
            for (int r = 0; r < rows; r++) {
                size_t i = (size_t)(i0 + s + r), k = (size_t)(p0 + p);
                d[r] = ta ? A[k * (size_t)lda + i] : A[i * (size_t)lda + k];
            }
            for (int r = rows; r < MR; r++) d[r] = 0.0f;
        }
    }
}

/* op(B) rows p0..p0+kc, cols j0..j0+nc into strips of NR columns: dst[s][p][c]. */
static void pack_b(int tb, const float *B, int ldb, int p0, int kc, int j0, int nc, float *dst)
{
    for (int s = 0; s < nc; s += NR) {
        int cols = nc - s < NR ? nc - s : NR;
        for (int p = 0; p < kc; p++) {
            float *d = dst + (size_t)s * kc + (size_t)p * NR;
            size_t k = (size_t)(p0 + p);
            if (!tb && cols == NR) {
                memcpy(d, B + k * (size_t)ldb + (size_t)(j0 + s), NR * sizeof(float));
                continue;
            }
            for (int c = 0; c < cols; c++) {
                size_t j = (size_t)(j0 + s + c);
                d[c] = tb ? B[j * (size_t)ldb + k] : B[k * (size_t)ldb + j];
            }
            for (int c = cols; c < NR; c++) d[c] = 0.0f;
        }
    }
}

/* C[mr x nr] (+)= a-strip * b-strip over kc. */
static void micro(int kc, const float *a, const float *b, float *C, int ldc, int mr, int nr,
                  int accumulate)
{
    float t[MR][NR];
#if defined(__GNUC__)
    typedef float v8 __attribute__((vector_size(NR * sizeof(float))));
    v8 c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
    for (int p = 0; p < kc; p++) {
        v8 bv;
        memcpy(&bv, b + (size_t)p * NR, sizeof bv);
        const float *ap = a + (size_t)p * MR;
        c0 += ap[0] * bv;
        c1 += ap[1] * bv;
        c2 += ap[2] * bv;
        c3 += ap[3] * bv;
    }
    memcpy(t[0], &c0, sizeof c0);
    memcpy(t[1], &c1, sizeof c1);
    memcpy(t[2], &c2, sizeof c2);
    memcpy(t[3], &c3, sizeof c3);
#else
    memset(t, 0, sizeof t);
    for (int p = 0; p < kc; p++)
        for (int r = 0; r < MR; r++)
            for (int c = 0; c < NR; c++) t[r][c] += a[(size_t)p * MR + r] * b[(size_t)p * NR + c];
#endif
    for (int r = 0; r < mr; r++) {
        float *cr = C + (size_t)r * ldc;
        if (accumulate)
            for (int c = 0; c < nr; c++) cr[c] += t[r][c];
        else
            for (int c = 0; c < nr; c++) cr[c] = t[r][c];
    }
}

void niti_f32_sgemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float *C, int ldc)
{
    /* Per-thread scratch would need C11 threads or TLS; the library is single-threaded per
     * network, so the packs live on the heap for the duration of the call. */
    float *ap = NULL, *bp = NULL;
    size_t acap = 0, bcap = 0;
    int kc_max = K < KC ? K : KC;
    int nc_max = N < NC ? N : NC, mc_max = M < MC ? M : MC;
    size_t bn = (size_t)kc_max * (size_t)((nc_max + NR - 1) / NR * NR);
    size_t an = (size_t)kc_max * (size_t)((mc_max + MR - 1) / MR * MR);
    if (!pack_buf(&ap, &acap, an) || !pack_buf(&bp, &bcap, bn)) {
        /* Out of memory for a few hundred KB: fall back to the unpacked triple loop. */
        free(ap), free(bp);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float s = 0;
                for (int p = 0; p < K; p++)
                    s += (ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *
                         (tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j]);
                C[(size_t)i * ldc + j] = s;
            }
        return;
    }
    for (int j0 = 0; j0 < N; j0 += NC) {
        int nc = N - j0 < NC ? N - j0 : NC;
        for (int p0 = 0; p0 < K; p0 += KC) {
            int kc = K - p0 < KC ? K - p0 : KC;
            pack_b(tb, B, ldb, p0, kc, j0, nc, bp);
            for (int i0 = 0; i0 < M; i0 += MC) {
                int mc = M - i0 < MC ? M - i0 : MC;
                pack_a(ta, A, lda, i0, mc, p0, kc, ap);
                for (int js = 0; js < nc; js += NR) {
                    int nr = nc - js < NR ? nc - js : NR;
                    for (int is = 0; is < mc; is += MR) {
                        int mr = mc - is < MR ? mc - is : MR;
                        micro(kc, ap + (size_t)is * kc, bp + (size_t)js * kc,
                              C + (size_t)(i0 + is) * ldc + (size_t)(j0 + js), ldc, mr, nr,
                              p0 > 0);
                    }
                }
            }
        }
    }
    free(ap), free(bp);
}
