/* Requantisation (contract section 4) over a whole tensor, without host round trips:
 *   niti_max_abs_i32/_i64: stage 1 of the max-|x| reduction, one ulong partial per work-group
 *                          (grid-stride loop, so any n fits any number of groups);
 *   niti_requant_i32/_i64: every work-group reduces the partials (stage 2, at most a few hundred
 *                          values), derives bw and the shift, then writes its share of the int8
 *                          output. Global item 0 writes the scalars exactly as backend.h says. */

#define NITI_MAX_ABS_KERNEL(NAME, T)                                                               \
    __kernel __attribute__((reqd_work_group_size(NITI_RED_WG, 1, 1))) void NAME(                   \
        __global const T *x, ulong n, __global ulong *partials)                                    \
    {                                                                                              \
        __local ulong scratch[NITI_RED_WG];                                                        \
        ulong m = 0;                                                                               \
        for (ulong i = get_global_id(0); i < n; i += get_global_size(0))                           \
            m = max(m, niti_abs64((long)x[i]));                                                    \
        m = niti_local_max(m, scratch);                                                            \
        if (get_local_id(0) == 0) partials[get_group_id(0)] = m;                                   \
    }

NITI_MAX_ABS_KERNEL(niti_max_abs_i32, int)
NITI_MAX_ABS_KERNEL(niti_max_abs_i64, long)

#define NITI_REQUANT_KERNEL(NAME, T)                                                               \
    __kernel __attribute__((reqd_work_group_size(NITI_RED_WG, 1, 1))) void NAME(                   \
        __global const T *acc, ulong n, __global const ulong *partials, int np, int rule,         \
        int rounding, __global char *out, __global int *scalars, int shift_slot,                  \
        int exp_in_slot, int exp_add, int exp_slot)                                                \
    {                                                                                              \
        __local ulong scratch[NITI_RED_WG];                                                        \
        ulong m = niti_reduce_partials(partials, np, scratch);                                     \
        int s = niti_requant_shift(niti_bw(m), rule);                                              \
        int psr = rule == 1 || rounding == 1;                                                      \
        for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {                         \
            long v = (long)acc[i];                                                                 \
            int r = s == 0 ? niti_clamp127(v) : psr ? niti_shift_psr(v, s)                         \
                                                    : niti_shift_round(v, s);                      \
            out[i] = (char)r;                                                                      \
        }                                                                                          \
        if (get_global_id(0) == 0) {                                                               \
            scalars[shift_slot] = s;                                                               \
            if (exp_slot >= 0)                                                                     \
                scalars[exp_slot] = (exp_in_slot >= 0 ? scalars[exp_in_slot] : 0) + exp_add + s;  \
        }                                                                                          \
    }

NITI_REQUANT_KERNEL(niti_requant_i32, int)
NITI_REQUANT_KERNEL(niti_requant_i64, long)
