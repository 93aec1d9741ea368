/* Integer cross-entropy backward (contract section 6), entirely on the device.
 * Launched as ONE work-group; its items loop over the samples. The exponent is read from the
 * scalars buffer before a barrier, and only then does item 0 write e to e_out_slot (the slots may
 * coincide). q is an int64 [N,C] buffer (the caller's, or scratch) that first holds p[c]. */
__kernel void niti_loss_bwd(int N, int C, __global const char *logits, __global const int *labels,
                            __global int *scalars, int exp_base, int exp_slot, int e_out_slot,
                            ulong seed, uint t, __global long *q, __global char *err)
{
    int lid = (int)get_local_id(0), lsz = (int)get_local_size(0);
    int e = exp_base + (exp_slot >= 0 ? scalars[exp_slot] : 0);
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (lid == 0) scalars[e_out_slot] = e;
    int e_ok = e >= -25 && e <= 40;
    for (int n = lid; n < N; n += lsz) {
        __global const char *o = logits + (ulong)n * C;
        __global long *qr = q + (ulong)n * C;
        __global char *er = err + (ulong)n * C;
        int label = labels[n];
        if (!e_ok || label < 0 || label >= C) {
            for (int c = 0; c < C; c++) {
                qr[c] = 0;
                er[c] = 0;
            }
            continue;
        }
        long P = 0;
        if (e > -7) {
            /* s = tdiv(o * 47274, 2^15), then s * 2^e or tdiv(s, 2^-e): |o * 47274| < 2^23 and
             * |s| <= 184, so the divisions are shifts of 32-bit magnitudes (niti_tdiv_pow2) and
             * s * 2^e (e <= 40) fits in 64 bits; no 64-bit division, no 64-bit select. */
            long smax = LONG_MIN;
            for (int c = 0; c < C; c++) {
                int s32 = niti_tdiv_pow2((int)o[c] * 47274, 15);
                long s = e >= 0 ? (long)((ulong)(long)s32 << e) : (long)niti_tdiv_pow2(s32, -e);
                qr[c] = s;
                smax = max(smax, s);
            }
            for (int c = 0; c < C; c++) {
                long u = max(qr[c] - (smax - 10), 0L); /* in [0, 10] */
                qr[c] = (1L << u) - 1;
                P += qr[c];
            }
        } else {
            for (int c = 0; c < C; c++) {
                long oc = o[c];
                qr[c] = (1L << (1 - 2 * e)) + oc * (1L << (1 - e)) + oc * oc;
                P += qr[c];
            }
        }
        long sum = 0;
        for (int c = 0; c < C; c++) {
            long v = (long)(((ulong)qr[c] * 2048u) / (ulong)P);
            qr[c] = v;
            sum += v;
        }
        qr[label] -= sum;
        for (int c = 0; c < C; c++) {
            uint u = niti_philox_x0(seed, (uint)(n * C + c), t, 1u, 0u) & 15u;
            er[c] = (char)niti_shift_sr(qr[c], 4, (ulong)u);
        }
    }
}
