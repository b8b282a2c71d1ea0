/*
 * strings: glibc's string and memory functions over many lengths (0..80,
 * then odd and power-of-two sizes up to 64 KiB) and source/destination
 * alignments 0..64. glibc chooses among SSE2, SSSE3, SSE4.2, AVX2 and
 * EVEX variants of these functions at start-up from cpuid, so this program
 * runs whichever ones the (real or translated) cpuid allows: unaligned
 * vector loads, pcmpeqb/pmovmskb/bsf, pcmpistri, rep movsb, backward copies.
 * Each result is checked against a plain byte loop, and the program prints,
 * per function, the number of calls and errors (with the first error), and
 * a checksum of all results. Only what C defines is compared: the sign of
 * memcmp and strcmp, offsets rather than pointers. A last part puts strings
 * against a PROT_NONE page: the vector variants read ahead in aligned
 * blocks and must never fault past the end of a string.
 *
 * Usage: strings [ITER]    (runs everything ITER times; default 1;
 *                           about 15 run for a second natively)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAXLEN 65536
#define PAD 128                 /* room for alignments 0..64 and guard bytes */
#define GUARD 16                /* bytes checked on each side of a write */
#define BUFSZ (MAXLEN + 2 * PAD)

static unsigned char A[BUFSZ] __attribute__((aligned(64)));  /* string data */
static unsigned char B[BUFSZ] __attribute__((aligned(64)));  /* destination */
static unsigned char C[BUFSZ] __attribute__((aligned(64)));  /* second operand */

static const size_t big_len[] = {
    95, 96, 97, 127, 128, 129, 255, 256, 257, 511, 512, 1000, 1023, 1024, 1025,
    2047, 4095, 4096, 4097, 8191, 16384, 32767, 65535, 65536,
};
#define NBIG (sizeof big_len / sizeof big_len[0])
static const int some_align[] = { 0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64 };
#define NSOME (int)(sizeof some_align / sizeof some_align[0])
static const int few_align[] = { 0, 1, 15, 16, 33, 63, 64 };
#define NFEW (int)(sizeof few_align / sizeof few_align[0])

/* Byte values never found in A, used as search targets. */
#define NEEDLE_LO 0x01
#define NEEDLE_HI 0xfe

/* Per-function tally. */
struct tally {
    const char *name;
    long calls, errors;
    char first[120];
};
static struct tally T[] = {
    { .name = "memcpy" }, { .name = "memmove" }, { .name = "memset" },
    { .name = "strlen" }, { .name = "strchr" }, { .name = "strrchr" },
    { .name = "memchr" }, { .name = "memcmp" }, { .name = "strcmp" },
    { .name = "strstr" }, { .name = "page-edge" },
};
enum { MEMCPY, MEMMOVE, MEMSET, STRLEN, STRCHR, STRRCHR, MEMCHR, MEMCMP, STRCMP, STRSTR, EDGE };

static uint32_t hash = 2166136261u;

/* Fold v into the checksum (FNV-1a over its four bytes). */
static void mix(uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++) {
        hash ^= (v >> (8 * i)) & 0xff;
        hash *= 16777619u;
    }
}

/* Count one call of function f; if ok is false, count an error and remember the first. */
static void tally(int f, int ok, size_t n, int sa, int da)
{
    T[f].calls++;
    if (!ok && T[f].errors++ == 0)
        snprintf(T[f].first, sizeof T[f].first, "len %zu align %d/%d", n, sa, da);
}

/* The byte B holds at offset i when untouched. */
static unsigned char pat(size_t i) { return (unsigned char)(i * 13 + 5); }

/* Return the offset of p in s, or -1 for NULL; pointers differ between runs. */
static int32_t off(const void *p, const void *s)
{
    return p ? (int32_t)((const char *)p - (const char *)s) : -1;
}

/* Return -1, 0 or 1 for the sign of x. */
static int sign(int x) { return (x > 0) - (x < 0); }

/* Fill A with non-zero bytes that avoid the search targets, and B with pat. */
static void fill(void)
{
    uint32_t x = 1;
    size_t i;

    for (i = 0; i < BUFSZ; i++) {
        unsigned char c;
        do {
            x = x * 1664525 + 1013904223;
            c = x >> 24;
        } while (c == 0 || c == NEEDLE_LO || c == NEEDLE_HI);
        A[i] = c;
        B[i] = pat(i);
    }
}

/* Check B around [d, d+n) against want (NULL: the byte c), then restore pat. */
static int check_dst(unsigned char *d, size_t n, const unsigned char *want, int c)
{
    volatile unsigned char *v = d;
    size_t base = d - B, i;
    int ok = 1;

    for (i = 0; i < GUARD; i++)
        if (v[-1 - (long)i] != pat(base - 1 - i) || v[n + i] != pat(base + n + i))
            ok = 0;
    for (i = 0; i < n; i++) {
        if (v[i] != (want ? want[i] : (unsigned char)c))
            ok = 0;
        v[i] = pat(base + i);
    }
    return ok;
}

/* Copy n bytes one at a time: the reference that must not become a memcpy call. */
static void slow_copy(unsigned char *d, const unsigned char *s, size_t n)
{
    volatile unsigned char *vd = d;
    size_t i;
    for (i = 0; i < n; i++)
        vd[i] = s[i];
}

/* memcpy and memset from every alignment into B. */
static void test_copy_set(size_t n, int sa, int da)
{
    unsigned char *s = A + PAD + sa, *d = B + PAD + da;
    void *r;
    int ok;

    r = memcpy(d, s, n);
    ok = r == d && check_dst(d, n, s, 0);
    tally(MEMCPY, ok, n, sa, da);
    mix(ok);

    r = memset(d, 0xa5 ^ sa, n);
    ok = r == d && check_dst(d, n, NULL, 0xa5 ^ sa);
    tally(MEMSET, ok, n, sa, da);
    mix(ok);
}

/* memmove within B, the regions overlapping when the alignments are close. */
static void test_move(size_t n, int sa, int da)
{
    static unsigned char want[MAXLEN];
    unsigned char *s = B + PAD + sa, *d = B + PAD + da;
    void *r;
    int ok;

    slow_copy(want, s, n);
    r = memmove(d, s, n);
    ok = r == d && check_dst(d, n, want, 0);
    /* restore the source part that d did not cover */
    if (ok)
        check_dst(s, n, s, 0);
    else
        for (size_t i = 0; i < BUFSZ; i++)
            B[i] = pat(i);
    tally(MEMMOVE, ok, n, sa, da);
    mix(ok);
}

/* strlen, strchr, strrchr and memchr on the n bytes of A at alignment sa. */
static void test_search(size_t n, int sa)
{
    unsigned char *s = A + PAD + sa;
    unsigned char save = s[n];
    size_t p[3] = { 0, n / 2, n ? n - 1 : 0 };
    int i, c;

    s[n] = 0;
    tally(STRLEN, strlen((char *)s) == n, n, sa, 0);
    mix(n);
    for (c = NEEDLE_LO; c <= NEEDLE_HI; c += NEEDLE_HI - NEEDLE_LO) {
        int32_t o;

        o = off(strchr((char *)s, c), s);
        tally(STRCHR, o == -1, n, sa, 0);
        o = off(strchr((char *)s, 0), s);
        tally(STRCHR, o == (int32_t)n, n, sa, 0);
        o = off(strrchr((char *)s, c), s);
        tally(STRRCHR, o == -1, n, sa, 0);
        o = off(strrchr((char *)s, 0), s);
        tally(STRRCHR, o == (int32_t)n, n, sa, 0);
        o = off(memchr(s, c, n), s);
        tally(MEMCHR, o == -1, n, sa, 0);

        for (i = 0; i < 3 && n > 0; i++) {
            unsigned char old = s[p[i]], old0 = s[0];

            s[p[i]] = c;
            o = off(strchr((char *)s, c), s);
            tally(STRCHR, o == (int32_t)p[i], n, sa, 0);
            mix(o);
            o = off(memchr(s, c, n), s);
            tally(MEMCHR, o == (int32_t)p[i], n, sa, 0);
            o = off(memchr(s, c, p[i]), s);         /* just out of reach */
            tally(MEMCHR, o == -1, n, sa, 0);
            s[0] = c;                               /* a second, earlier one */
            o = off(strrchr((char *)s, c), s);
            tally(STRRCHR, o == (int32_t)p[i], n, sa, 0);
            mix(o);
            s[0] = old0;
            s[p[i]] = old;
        }
    }
    s[n] = save;
}

/* memcmp and strcmp of A+sa against a copy at C+da, equal and with one byte changed. */
static void test_compare(size_t n, int sa, int da)
{
    unsigned char *a = A + PAD + sa, *c = C + PAD + da;
    unsigned char save = a[n];
    size_t p[3] = { 0, n / 2, n ? n - 1 : 0 };
    int i, r;

    slow_copy(c, a, n);
    a[n] = 0;
    c[n] = 0;
    r = sign(memcmp(a, c, n));
    tally(MEMCMP, r == 0, n, sa, da);
    r = sign(strcmp((char *)a, (char *)c));
    tally(STRCMP, r == 0, n, sa, da);
    for (i = 0; i < 3 && n > 0; i++) {
        unsigned char old = c[p[i]];
        int want;

        c[p[i]] = old ^ 0x80;   /* differs in the top bit: the compare is unsigned */
        want = old < c[p[i]] ? -1 : 1;
        r = sign(memcmp(a, c, n));
        tally(MEMCMP, r == want, n, sa, da);
        mix(r);
        r = sign(memcmp(c, a, n));
        tally(MEMCMP, r == -want, n, sa, da);
        r = sign(memcmp(a, c, p[i]));               /* the difference is out of reach */
        tally(MEMCMP, r == 0, n, sa, da);
        r = sign(strcmp((char *)a, (char *)c));
        tally(STRCMP, r == want, n, sa, da);
        mix(r);
        c[p[i]] = 0;                                /* c is now a prefix of a */
        r = sign(strcmp((char *)a, (char *)c));
        tally(STRCMP, r == 1, n, sa, da);
        r = sign(strcmp((char *)c, (char *)a));
        tally(STRCMP, r == -1, n, sa, da);
        c[p[i]] = old;
    }
    a[n] = save;
}

/* Find needle in hay the slow way. */
static const char *slow_strstr(const char *hay, const char *needle)
{
    size_t i, j;
    for (i = 0; hay[i]; i++) {
        for (j = 0; needle[j] && hay[i + j] == needle[j]; j++)
            ;
        if (!needle[j])
            return hay + i;
    }
    return *needle ? NULL : hay;
}

/* strstr in the n bytes of A at sa, for needles taken from it and absent ones. */
static void test_strstr(size_t n, int sa)
{
    static const size_t mlen[] = { 0, 1, 2, 3, 8, 16, 17, 40 };
    char *s = (char *)A + PAD + sa;
    char needle[64];
    unsigned char save = s[n];
    unsigned i;

    s[n] = 0;
    for (i = 0; i < sizeof mlen / sizeof mlen[0]; i++) {
        size_t m = mlen[i], p;
        int32_t o, want;

        if (m > n)
            break;
        for (p = 0; p + m <= n; p += (n - m) / 2 + 1) {
            memcpy(needle, s + p, m);
            needle[m] = 0;
            o = off(strstr(s, needle), s);
            want = off(slow_strstr(s, needle), s);
            tally(STRSTR, o == want, n, sa, (int)m);
            mix(o);
            if (m > 0) {
                needle[m - 1] = NEEDLE_LO;          /* now absent */
                o = off(strstr(s, needle), s);
                tally(STRSTR, o == -1, n, sa, (int)m);
            }
        }
    }
    s[n] = save;
}

/* Strings that end on the last byte before a PROT_NONE page, and start just after one. */
static void test_page_edge(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *lo, *hi;
    size_t n;

    if (m == MAP_FAILED) {
        printf("page-edge: mmap failed\n");
        return;
    }
    mprotect(m, pg, PROT_NONE);
    mprotect(m + 2 * pg, pg, PROT_NONE);
    lo = m + pg;            /* first byte after a PROT_NONE page */
    hi = m + 2 * pg;        /* first byte of the PROT_NONE page above */
    memset(lo, 'x', pg);
    for (n = 0; n < 200; n++) {
        unsigned char *s = hi - n - 1;  /* n bytes and the NUL, then no access */
        int32_t o;
        int ok;

        s[n] = 0;
        o = off(strchr((char *)s, 'y'), s);
        ok = strlen((char *)s) == n && o == -1;
        o = off(strrchr((char *)s, 'x'), s);
        ok &= o == (int32_t)n - 1 || (n == 0 && o == -1);
        ok &= memchr(s, 'y', n + 1) == NULL;
        ok &= memcmp(s, lo, n) == 0;
        ok &= strnlen((char *)s, n + 100) == n;
        memcpy(lo + 300, s, n + 1);
        ok &= strcmp((char *)lo + 300, (char *)s) == 0;
        /* backward scans from a string at the start of the page */
        ok &= memrchr(lo, 'y', n) == NULL;
        ok &= memrchr(lo, 'x', n) == (n ? lo + n - 1 : NULL);
        ok &= memchr(lo, 'y', n) == NULL;
        memset(lo + 300, 'x', n + 1);
        s[n] = 'x';
        tally(EDGE, ok, n, 0, 0);
        mix(ok);
    }
    munmap(m, 3 * pg);
}

/* Run every test once. */
static void run_all(void)
{
    size_t n;
    unsigned k;
    int sa, da;

    for (n = 0; n <= 80; n++) {
        for (sa = 0; sa <= 64; sa++) {
            for (da = 0; da < NSOME; da++) {
                test_copy_set(n, sa, some_align[da]);
                test_move(n, sa, some_align[da]);
            }
            for (da = 0; da < NFEW; da++)
                test_compare(n, sa, few_align[da]);
            test_search(n, sa);
            test_strstr(n, sa);
        }
    }
    for (k = 0; k < NBIG; k++) {
        n = big_len[k];
        for (sa = 0; sa < NFEW; sa++) {
            for (da = 0; da < NFEW; da++) {
                test_copy_set(n, few_align[sa], few_align[da]);
                test_move(n, few_align[sa], few_align[da]);
                if (n <= 4096 || da == sa || da == 0)
                    test_compare(n, few_align[sa], few_align[da]);
            }
            test_search(n, few_align[sa]);
            if (n <= 4096 || sa == 0)
                test_strstr(n, few_align[sa]);
        }
    }
    test_page_edge();
}

int main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 1, r;
    long errors = 0;
    unsigned i;

    fill();
    for (r = 0; r < iter; r++)
        run_all();
    for (i = 0; i < sizeof T / sizeof T[0]; i++) {
        printf("%-10s %8ld calls %5ld errors", T[i].name, T[i].calls, T[i].errors);
        if (T[i].errors)
            printf(" (first: %s)", T[i].first);
        printf("\n");
        errors += T[i].errors;
    }
    printf("rounds %ld checksum %08x\n", iter, hash);
    return errors ? 1 : 0;
}
