/* Weight update (contract section 7) over one tensor: the max |G| comes from niti_max_abs_i64
 * (stage 1); each kernel here re-reduces the partials it needs (stage 2). */

/* Weight decay in place: G += decay(W, bw(G)), and stage 1 of the new max |G| into partials_out
 * (launched on the same grid as the first niti_max_abs_i64). */
__kernel __attribute__((reqd_work_group_size(NITI_RED_WG, 1, 1))) void niti_update_decay(
    ulong n, __global long *G, __global const char *W, __global const ulong *partials_in, int np,
    __global ulong *partials_out)
{
    __local ulong scratch[NITI_RED_WG];
    int b0 = niti_bw(niti_reduce_partials(partials_in, np, scratch));
    ulong m = 0;
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
        long g = G[i] + niti_decay_term(W[i], b0);
        G[i] = g;
        m = max(m, niti_abs64(g));
    }
    m = niti_local_max(m, scratch);
    if (get_local_id(0) == 0) partials_out[get_group_id(0)] = m;
}

/* g = gradquant(G, mu); optionally g_out = g; W = clamp127(W - g), or with the int16 master
 * M = clamp(M - g, +-32512), W = round(M, 8). */
__kernel __attribute__((reqd_work_group_size(NITI_RED_WG, 1, 1))) void niti_update_apply(
    ulong n, __global const long *G, __global const ulong *partials, int np, int mu,
    __global char *W, __global short *master, int has_master, __global char *g_out, int has_gout)
{
    __local ulong scratch[NITI_RED_WG];
    int s = niti_gradquant_shift(niti_bw(niti_reduce_partials(partials, np, scratch)), mu);
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
        niti_update_one(i, G, s, W, master, has_master, g_out, has_gout);
    }
}
