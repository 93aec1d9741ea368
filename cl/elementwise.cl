/* Elementwise ops: ReLU, 2x2 max-pool and the batch-shared dropout mask (contract section 5). */

__kernel void niti_relu_fwd(ulong n, __global const char *A, __global char *Y)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    char a = A[i];
    Y[i] = a > 0 ? a : (char)0;
}

/* Eprev may be E (each item reads its element before writing it). */
__kernel void niti_relu_bwd(ulong n, __global const char *A, __global const char *E,
                            __global char *Eprev)
{
    ulong i = get_global_id(0);
    if (i >= n) return;
    char e = E[i];
    Eprev[i] = A[i] > 0 ? e : (char)0;
}

/* One item per output element (n, y, x, c); first maximum in row-major window order. */
__kernel void niti_maxpool_fwd(int N, int H, int W, int C, __global const char *A,
                               __global char *Y, __global uchar *argmax)
{
    int Ho = H / 2, Wo = W / 2;
    ulong o = get_global_id(0);
    ulong total = (ulong)N * Ho * Wo * C;
    if (o >= total) return;
    int c, x, y, n;
    if (total <= 0xffffffffUL) { /* 32-bit divisions: several times cheaper on CPUs */
        uint q = (uint)o, pp = q / (uint)C;
        c = (int)(q - pp * (uint)C);
        uint p2 = pp / (uint)Wo;
        x = (int)(pp - p2 * (uint)Wo);
        n = (int)(p2 / (uint)Ho);
        y = (int)(p2 - (uint)n * (uint)Ho);
    } else {
        c = (int)(o % (ulong)C);
        ulong p = o / (ulong)C;
        x = (int)(p % (ulong)Wo);
        p /= (ulong)Wo;
        y = (int)(p % (ulong)Ho);
        n = (int)(p / (ulong)Ho);
    }
    int best = -1000, arg = 0;
    for (int d = 0; d < 4; d++) {
        int v = A[(((ulong)n * H + 2 * y + d / 2) * W + 2 * x + d % 2) * C + c];
        if (v > best) {
            best = v;
            arg = d;
        }
    }
    Y[o] = (char)best;
    argmax[o] = (uchar)arg;
}

/* One item per element of Eprev [N,H,W,C]: the window's error if this is its argmax, else 0
 * (this also zeroes the dropped last row/column of odd sizes). */
__kernel void niti_maxpool_bwd(int N, int H, int W, int C, __global const char *E,
                               __global const uchar *argmax, __global char *Eprev)
{
    int Ho = H / 2, Wo = W / 2;
    ulong i = get_global_id(0);
    ulong total = (ulong)N * H * W * C;
    if (i >= total) return;
    int c, x, y, n;
    if (total <= 0xffffffffUL) { /* 32-bit divisions: several times cheaper on CPUs */
        uint q = (uint)i, pp = q / (uint)C;
        c = (int)(q - pp * (uint)C);
        uint p2 = pp / (uint)W;
        x = (int)(pp - p2 * (uint)W);
        n = (int)(p2 / (uint)H);
        y = (int)(p2 - (uint)n * (uint)H);
    } else {
        c = (int)(i % (ulong)C);
        ulong p = i / (ulong)C;
        x = (int)(p % (ulong)W);
        p /= (ulong)W;
        y = (int)(p % (ulong)H);
        n = (int)(p / (ulong)H);
    }
    char v = 0;
    if (y < 2 * Ho && x < 2 * Wo) {
        ulong o = (((ulong)n * Ho + y / 2) * Wo + x / 2) * C + c;
        if (argmax[o] == (uchar)((y & 1) * 2 + (x & 1))) v = E[o];
    }
    Eprev[i] = v;
}

/* One item per feature j: the keep bit (Philox stream 2, tag = layer), applied to all N rows.
 * out may be in. */
__kernel void niti_dropout(int N, int F, ulong seed, uint t, uint layer, __global const char *in,
                           __global char *out)
{
    int j = (int)get_global_id(0);
    if (j >= F) return;
    /* all ones (keep) or zero: an AND, not a select of bytes in the loop, which crashes Mesa
     * rusticl's code generator (llvmpipe, LLVM 15: SIGSEGV in SelectionDAG::LegalizeTypes) */
    char mask = (char)(0u - (niti_philox_x0(seed, (uint)j, t, 2u, layer) & 1u));
    for (int n = 0; n < N; n++) {
        ulong i = (ulong)n * F + j;
        out[i] = in[i] & mask;
    }
}

/* Saturation count: part[g] = number of x[i] equal to +-127 in the g-th of G contiguous ranges
 * (G = the global size), then niti_count_sat_sum stores the total in counts[index]. Used on
 * activations the network does not keep, so any device runs the same two small kernels. */
__kernel void niti_count_sat(__global const char *x, ulong n, __global long *part)
{
    ulong g = get_global_id(0), G = get_global_size(0);
    ulong per = (n + G - 1) / G, i0 = g * per, i1 = min(n, i0 + per);
    long c = 0;
    for (ulong i = i0; i < i1; i++) c += x[i] == 127 || x[i] == -127;
    part[g] = c;
}

__kernel void niti_count_sat_sum(__global const long *part, int G, __global long *counts,
                                 int index)
{
    if (get_global_id(0) != 0) return;
    long s = 0;
    for (int g = 0; g < G; g++) s += part[g];
    counts[index] = s;
}
