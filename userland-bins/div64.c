/*
 * div64: 64-bit division and remainder, signed and unsigned. An i386 has no
 * 64-bit divide instruction, so gcc calls libgcc's __divdi3, __udivdi3,
 * __moddi3 and __umoddi3, which are built from 32-bit div, shifts, bsr and
 * carry chains. It prints a table of edge cases (signs, powers of two,
 * divisors above 2^32, the largest values), checks n == q*d + r and the sign
 * of r for pseudo-random operands, and prints a checksum of ITER*1000000
 * divisions. The operands pass through volatile so none is folded at
 * compile time. INT64_MIN / -1 is left out: it is undefined in C.
 *
 * Usage: div64 [ITER]      (default 1; about 28 run for a second natively)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const int64_t cases[][2] = {
    { 7, 2 }, { -7, 2 }, { 7, -2 }, { -7, -2 },
    { 1LL << 40, 3 }, { -(1LL << 40), 3 },
    { INT64_MAX, 1 }, { INT64_MAX, -1 }, { INT64_MIN, 1 }, { INT64_MIN, 2 },
    { INT64_MAX, INT64_MAX }, { INT64_MIN, INT64_MAX }, { INT64_MAX, INT64_MIN },
    { 0x123456789abcdefLL, 0x100000001LL }, { 0x123456789abcdefLL, 0xfffffffLL },
    { -0x123456789abcdefLL, 0x7fffffffffLL }, { 1000000007LL * 998244353LL, 998244353LL },
    { 5, 0x100000000LL }, { 0, -5 },
};

int main(int argc, char **argv)
{
    long long iter = argc > 1 ? atoll(argv[1]) : 1, total = iter * 1000000, r;
    volatile int64_t vn, vd;
    volatile uint64_t un, ud;
    uint64_t x = 0x9e3779b97f4a7c15ULL, sum = 0;
    long bad = 0;
    unsigned i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vn = cases[i][0];
        vd = cases[i][1];
        un = (uint64_t)cases[i][0];
        ud = (uint64_t)cases[i][1];
        printf("%20lld / %20lld = %20lld rem %20lld\n", (long long)vn, (long long)vd,
               (long long)(vn / vd), (long long)(vn % vd));
        printf("%20llu u/ %19llu = %20llu rem %20llu\n", (unsigned long long)un,
               (unsigned long long)ud, (unsigned long long)(un / ud),
               (unsigned long long)(un % ud));
    }

    for (r = 0; r < total; r++) {
        int64_t n, d, q, m;
        uint64_t uq, um;

        x ^= x << 13; x ^= x >> 7; x ^= x << 17;            /* xorshift64 */
        n = (int64_t)x;
        d = (int64_t)(x * 0xff51afd7ed558ccdULL) >> (x & 63);  /* all sizes */
        if (d == 0 || (n == INT64_MIN && d == -1))
            continue;
        vn = n; vd = d;
        q = vn / vd;
        m = vn % vd;
        if (q * d + m != n || (m != 0 && (m < 0) != (n < 0)))
            bad++;
        un = (uint64_t)n; ud = (uint64_t)d;
        uq = un / ud;
        um = un % ud;
        if (uq * (uint64_t)d + um != (uint64_t)n || um >= (uint64_t)d)
            bad++;
        sum = sum * 1000003 + (uint64_t)q + (uint64_t)m * 3 + uq * 5 + um * 7;
    }
    printf("divisions %lld checksum %016llx identity %s\n", total,
           (unsigned long long)sum, bad ? "BROKEN" : "ok");
    return bad ? 1 : 0;
}
