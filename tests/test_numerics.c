/* Unit tests of the contract primitives (numerics.c): edge cases of every rule. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/numerics.h"

static void test_bw(void)
{
    CHECK_EQ(niti_bw(0), 0);
    CHECK_EQ(niti_bw(1), 0);
    CHECK_EQ(niti_bw(2), 1);
    CHECK_EQ(niti_bw(3), 2);
    CHECK_EQ(niti_bw(127), 7);
    CHECK_EQ(niti_bw(128), 7);
    CHECK_EQ(niti_bw(129), 8);
    for (int k = 1; k < 63; k++) {
        uint64_t p = UINT64_C(1) << k;
        CHECK_EQ(niti_bw(p), k);         /* max exactly 2^k */
        CHECK_EQ(niti_bw(p + 1), k + 1); /* 2^k + 1 */
        CHECK_EQ(niti_bw(p - 1), k == 1 ? 0 : k);
    }
    CHECK_EQ(niti_bw(UINT64_MAX), 64);
    CHECK_EQ(niti_bw(niti_abs64(INT64_MIN)), 63);
}

static void test_shifts(void)
{
    /* The contract's worked examples (section 3): (s, x) -> round / psr. */
    static const struct { int s; int64_t x; int r, p; } ex[] = {
        {5, 1000, 31, 32}, {5, -1000, -31, -32}, {4, 1000, 63, 63}, {4, -24, -2, -2},
        {2, 7, 2, 1},      {2, 6, 2, 2},         {1, 3, 2, 2},
    };
    for (size_t i = 0; i < sizeof ex / sizeof *ex; i++) {
        CHECK_EQ(niti_shift_round(ex[i].x, ex[i].s), ex[i].r);
        CHECK_EQ(niti_shift_psr(ex[i].x, ex[i].s), ex[i].p);
    }
    /* ties round half away from zero; 0 and +-1 */
    CHECK_EQ(niti_shift_round(2, 2), 1);
    CHECK_EQ(niti_shift_round(-2, 2), -1);
    CHECK_EQ(niti_shift_round(1, 1), 1);
    CHECK_EQ(niti_shift_round(-1, 1), -1);
    CHECK_EQ(niti_shift_round(0, 7), 0);
    CHECK_EQ(niti_shift_psr(0, 7), 0);
    CHECK_EQ(niti_shift_psr(1, 1), 1); /* s = 1: hi = r = 1, lo = 0 << 1 = 0: 1 > 0 -> up */
    /* s = 1 is deterministic: r = 1 -> h = 0, hi = 1, lo = 0 -> up */
    CHECK_EQ(niti_shift_psr(3, 1), 2);
    CHECK_EQ(niti_shift_psr(5, 1), 3);
    /* s = 2 rounds .75 down: 7 = 1.75*4 -> 1 */
    CHECK_EQ(niti_shift_psr(7, 2), 1);
    CHECK_EQ(niti_shift_psr(-7, 2), -1);
    /* clamp to +-127 */
    CHECK_EQ(niti_shift_round(INT64_C(1) << 40, 1), 127);
    CHECK_EQ(niti_shift_round(-(INT64_C(1) << 40), 1), -127);
    CHECK_EQ(niti_shift_round(255, 1), 127); /* 127.5 rounds to 128, clamps */
    CHECK_EQ(niti_shift_psr(INT64_MIN, 3), -127);
    /* sr: up = r > u */
    CHECK_EQ(niti_shift_sr(17, 4, 0), 2);
    CHECK_EQ(niti_shift_sr(17, 4, 1), 1);
    CHECK_EQ(niti_shift_sr(-31, 4, 14), -2);
    CHECK_EQ(niti_shift_sr(-31, 4, 15), -1);
    CHECK_EQ(niti_clamp127(128), 127);
    CHECK_EQ(niti_clamp127(-128), -127);
}

static void test_requant_and_gradquant(void)
{
    /* niti21: s = bw - 7 if > 0 */
    CHECK_EQ(niti_requant_shift(0, NITI_RULE_NITI21), 0);
    CHECK_EQ(niti_requant_shift(7, NITI_RULE_NITI21), 0);
    CHECK_EQ(niti_requant_shift(8, NITI_RULE_NITI21), 1);
    CHECK_EQ(niti_requant_shift(20, NITI_RULE_NITI21), 13);
    /* niti20: s == 1 shifts by 2 */
    CHECK_EQ(niti_requant_shift(7, NITI_RULE_NITI20), 0);
    CHECK_EQ(niti_requant_shift(8, NITI_RULE_NITI20), 2);
    CHECK_EQ(niti_requant_shift(9, NITI_RULE_NITI20), 2);
    CHECK_EQ(niti_requant_shift(10, NITI_RULE_NITI20), 3);
    /* gradquant: b == 0 -> 0; b - mu < 1 -> clamp; else psr(b - mu) */
    CHECK_EQ(niti_gradquant_shift(0, 5), -1);
    CHECK_EQ(niti_gradquant_shift(0, -3), -1);
    CHECK_EQ(niti_gradquant_shift(5, 5), 0);
    CHECK_EQ(niti_gradquant_shift(5, 7), 0);
    CHECK_EQ(niti_gradquant_shift(6, 5), 1);
    CHECK_EQ(niti_gradquant_shift(3, -1), 4); /* mu <= 0 */
    CHECK_EQ(niti_gradquant_shift(3, 0), 3);
    CHECK_EQ(niti_gradquant_apply(1000, -1), 0);
    CHECK_EQ(niti_gradquant_apply(128, 0), 127);
    CHECK_EQ(niti_gradquant_apply(-128, 0), -127);
    CHECK_EQ(niti_gradquant_apply(1000, 4), niti_shift_psr(1000, 4));
    /* decay term: d = bw - 15 */
    CHECK_EQ(niti_decay_term(100, 15), 100);
    CHECK_EQ(niti_decay_term(-100, 17), -400);
    CHECK_EQ(niti_decay_term(-100, 13), -25);
    CHECK_EQ(niti_decay_term(-101, 13), -25); /* truncates toward zero */
    CHECK_EQ(niti_decay_term(127, 0), 0);
    /* master weights: M = clamp(M - g, +-32512), W = round(M, 8) */
    int16_t m = 127 * 256;
    CHECK_EQ(niti_master_update(&m, -127), 127);
    CHECK_EQ(m, 32512);
    m = 128;
    CHECK_EQ(niti_master_update(&m, 0), 1); /* 0.5 rounds away from zero */
    m = -128;
    CHECK_EQ(niti_master_update(&m, 1), -1);
    CHECK_EQ(m, -129);
}

static void test_philox(void)
{
    /* Random123 known answers for philox4x32-10. */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        niti_philox4x32_10(kat[i], kat[i] + 4, out);
        for (int j = 0; j < 4; j++) CHECK_EQ(out[j], kat[i][6 + j]);
    }
    /* key = (seed lo, seed hi); counter = (i, t, stream, tag) */
    uint32_t ctr[4] = {7, 9, 2, 3}, key[2] = {0x89abcdef, 0x01234567}, out[4];
    niti_philox4x32_10(ctr, key, out);
    CHECK_EQ(niti_philox_x0(UINT64_C(0x0123456789abcdef), 7, 9, 2, 3), out[0]);
    CHECK_EQ(niti_dropout_keep(UINT64_C(0x0123456789abcdef), 9, 3, 7), (int)(out[0] & 1));
}

static void test_loss(void)
{
    int8_t o[10] = {0}, err[10];
    int64_t q[10];
    /* all-zero logits, e > -7: every p = 2^10 - 1, q = floor(1023*2048/10230) = 204 */
    niti_loss_row(o, 10, 3, -3, 1, 0, 0, q, err);
    for (int c = 0; c < 10; c++) CHECK_EQ(q[c], c == 3 ? 204 - 2040 : 204);
    /* second branch e <= -7: p = 2^(1-2e) + o*2^(1-e) + o^2 with o = 0 -> equal p */
    niti_loss_row(o, 10, 0, -7, 1, 0, 0, q, err);
    for (int c = 0; c < 10; c++) CHECK_EQ(q[c], c == 0 ? 204 - 2040 : 204);
    /* sr(q, 4): |err| is q >> 4 or one more */
    for (int c = 0; c < 10; c++) {
        int64_t a = q[c] < 0 ? -q[c] : q[c];
        int e = err[c] < 0 ? -err[c] : err[c];
        CHECK(e == (int)(a >> 4) || e == (int)(a >> 4) + 1);
        CHECK((err[c] < 0) == (q[c] < 0) || err[c] == 0);
    }
    /* one dominant logit in the first branch */
    int8_t o2[3] = {127, 0, -127};
    niti_loss_row(o2, 3, 0, 0, 5, 0, 0, q, err);
    /* s = tdiv(o*47274, 32768) = 183, 0, -183 -> u = 10, 0, 0 -> p = 1023, 0, 0 */
    CHECK_EQ(q[0], 2048 - 2048);
    CHECK_EQ(q[1], 0);
    CHECK_EQ(q[2], 0);
    /* the extreme valid exponent keeps int64 exact: e = -25, o = +-127 */
    int8_t o3[2] = {127, -127};
    niti_loss_row(o3, 2, 1, NITI_LOSS_EXP_MIN, 9, 4, 2, q, err);
    CHECK(q[0] > 0 && q[1] < 0 && q[0] + q[1] <= 0);
}

static void test_input_table(void)
{
    int8_t t[256];
    niti_input_table(0.1307, 0.3081, t);
    CHECK_EQ(t[0], -14);  /* -0.42421 * 32 = -13.57 */
    CHECK_EQ(t[255], 90); /* 2.82154 * 32 = 90.29 */
    niti_input_table(0.5, 0.0625, t); /* x*32 = (p/255 - 0.5) * 512: p = 0 -> -256 -> -128 */
    CHECK_EQ(t[0], -128);
    CHECK_EQ(t[255], 127);
}

int main(void)
{
    test_bw();
    test_shifts();
    test_requant_and_gradquant();
    test_philox();
    test_loss();
    test_input_table();
    return check_report("test_numerics");
}
