#include "core/numerics.h"

#include <math.h>

int niti_bw(uint64_t m)
{
    if (m <= 1) return 0;
    return 64 - __builtin_clzll(m - 1);
}

int niti_shift_round(int64_t x, int s)
{
    uint64_t a = niti_abs64(x);
    uint64_t q = a >> s;
    uint64_t r = a & ((UINT64_C(1) << s) - 1);
    q += r >= (UINT64_C(1) << (s - 1));
    if (q > 127) q = 127;
    return x < 0 ? -(int)q : (int)q;
}

int niti_shift_psr(int64_t x, int s)
{
    uint64_t a = niti_abs64(x);
    uint64_t q = a >> s;
    uint64_t r = a & ((UINT64_C(1) << s) - 1);
    int h = s >> 1;
    uint64_t hi = r >> h;
    uint64_t lo = r & ((UINT64_C(1) << h) - 1);
    if (s & 1) lo <<= 1;
    q += hi > lo;
    if (q > 127) q = 127;
    return x < 0 ? -(int)q : (int)q;
}

int niti_shift_sr(int64_t x, int s, uint64_t u)
{
    uint64_t a = niti_abs64(x);
    uint64_t q = a >> s;
    uint64_t r = a & ((UINT64_C(1) << s) - 1);
    q += r > u;
    if (q > 127) q = 127;
    return x < 0 ? -(int)q : (int)q;
}

int niti_requant_shift(int bw, niti_rule rule)
{
    int s = bw - 7;
    if (rule == NITI_RULE_NITI20) {
        if (s == 1) return 2;
        return s > 1 ? s : 0;
    }
    return s > 0 ? s : 0;
}

int niti_gradquant_shift(int b, int mu)
{
    if (b == 0) return -1;
    if (b - mu < 1) return 0;
    return b - mu;
}

int64_t niti_decay_term(int8_t w, int bwG)
{
    int d = bwG - 15;
    if (d >= 0) return (int64_t)w * ((int64_t)1 << d);
    if (d <= -8) return 0; /* |w| <= 128 = 2^7: truncating division by 2^8 or more gives 0 */
    return (int64_t)w / ((int64_t)1 << -d);
}

static inline void philox_round(uint32_t c[4], const uint32_t k[2])
{
    uint64_t p0 = (uint64_t)0xD2511F53u * c[0];
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void niti_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r) {
            k[0] += 0x9E3779B9u;
            k[1] += 0xBB67AE85u;
        }
        philox_round(c, k);
    }
    for (int i = 0; i < 4; i++) out[i] = c[i];
}

uint32_t niti_philox_x0(uint64_t seed, uint32_t i, uint32_t t, uint32_t stream, uint32_t tag)
{
    uint32_t ctr[4] = {i, t, stream, tag};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    niti_philox4x32_10(ctr, key, out);
    return out[0];
}

static int64_t tdiv_pow2(int64_t x, int s) { return x / ((int64_t)1 << s); }

void niti_loss_row(const int8_t *o, int C, int label, int e, uint64_t seed, uint32_t t, int n,
                   int64_t *q, int8_t *err)
{
    int64_t P = 0;
    if (e > -7) {
        int64_t smax = INT64_MIN;
        for (int c = 0; c < C; c++) {
            int64_t s = ((int64_t)o[c] * 47274) / 32768;
            s = e >= 0 ? s * ((int64_t)1 << e) : tdiv_pow2(s, -e);
            q[c] = s;
            if (s > smax) smax = s;
        }
        for (int c = 0; c < C; c++) {
            int64_t u = q[c] - (smax - 10);
            if (u < 0) u = 0;
            q[c] = ((int64_t)1 << u) - 1;
            P += q[c];
        }
    } else {
        for (int c = 0; c < C; c++) {
            int64_t oc = o[c];
            q[c] = ((int64_t)1 << (1 - 2 * e)) + oc * ((int64_t)1 << (1 - e)) + oc * oc;
            P += q[c];
        }
    }
    /* P >= 1 always: the max class has p >= 2^10 - 1 (first branch), and p > 0 (second). */
    int64_t sum = 0;
    for (int c = 0; c < C; c++) {
        q[c] = (int64_t)(((uint64_t)q[c] * 2048u) / (uint64_t)P);
        sum += q[c];
    }
    q[label] -= sum;
    for (int c = 0; c < C; c++) {
        uint32_t u = niti_philox_x0(seed, (uint32_t)(n * C + c), t, NITI_STREAM_LOSS, 0) & 15u;
        err[c] = (int8_t)niti_shift_sr(q[c], 4, u);
    }
}

void niti_input_table(double mean, double std, int8_t table[256])
{
    for (int p = 0; p < 256; p++) {
        double x = ((double)p / 255.0 - mean) / std;
        double v = nearbyint(x * 32.0); /* default rounding mode: half to even */
        if (v < -128) v = -128;
        if (v > 127) v = 127;
        table[p] = (int8_t)v;
    }
}

double niti_display_loss(const int8_t *o, int C, int label, int e)
{
    double scale = ldexp(1.0, e), mx = -INFINITY, sum = 0;
    for (int c = 0; c < C; c++)
        if (o[c] * scale > mx) mx = o[c] * scale;
    for (int c = 0; c < C; c++) sum += exp(o[c] * scale - mx);
    return log(sum) - (o[label] * scale - mx);
}
