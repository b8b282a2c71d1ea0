/*
 * fp_x87: long double (80-bit x87) arithmetic. Exercises the x87 register
 * stack, glibc's libm long double functions (which use fsqrt, fsin, fcos,
 * fpatan, fyl2x, f2xm1, fscale, frndint ...), a few of those instructions
 * directly through inline asm, the x87 control word (rounding and precision
 * control, which the translator must preserve as guest state), special
 * values, and long series sums whose rounding errors pile up, so that any
 * difference in a single operation shows. Every result is printed with
 * %.18Lg and as its 80 bits in hex (sign+exponent:mantissa).
 *
 * Usage: fp_x87 [ITER]     (series of ITER*100000 terms; default 1;
 *                           about 55 run for a second natively)
 */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Print a long double as a decimal and as its 80 bits. */
static void show(const char *name, long double x)
{
    unsigned char b[sizeof(long double)];
    uint64_t mant;
    uint16_t se;

    memcpy(b, &x, sizeof b);
    memcpy(&mant, b, 8);
    memcpy(&se, b + 8, 2);
    printf("%-14s %.18Lg  %04x:%016llx\n", name, x, se, (unsigned long long)mant);
}

/* Run one x87 instruction on st(0) (and st(1)) through inline asm. */
static long double x87_fsin(long double x) { __asm__("fsin" : "+t"(x)); return x; }
static long double x87_fcos(long double x) { __asm__("fcos" : "+t"(x)); return x; }
static long double x87_f2xm1(long double x) { __asm__("f2xm1" : "+t"(x)); return x; }
static long double x87_frndint(long double x) { __asm__("frndint" : "+t"(x)); return x; }

static long double x87_fyl2x(long double x, long double y)
{
    long double r;
    __asm__("fyl2x" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
    return r;
}

static long double x87_fpatan(long double y, long double x)
{
    long double r;
    __asm__("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)");
    return r;
}

static long double x87_fprem(long double x, long double y)
{
    long double r;
    __asm__("1: fprem\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tjnz 1b"
            : "=t"(r) : "0"(x), "u"(y) : "ax");
    return r;
}

static long double x87_fldpi(void) { long double r; __asm__("fldpi" : "=t"(r)); return r; }
static long double x87_fldl2e(void) { long double r; __asm__("fldl2e" : "=t"(r)); return r; }
static long double x87_fldln2(void) { long double r; __asm__("fldln2" : "=t"(r)); return r; }

/* Set the precision-control field of the x87 control word (0=24, 2=53, 3=64 bits). */
static void set_precision(int pc)
{
    uint16_t cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw = (cw & ~0x300) | (pc << 8);
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

int main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 1;
    long n = iter * 100000, k;
    volatile long double zero = 0.0L, one = 1.0L, three = 3.0L;
    long double s;
    static const int modes[] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };
    static const char *mode_name[] = { "nearest", "down", "up", "zero" };
    int i;

    printf("sizeof(long double) %zu, LDBL_MANT_DIG %d\n", sizeof(long double), LDBL_MANT_DIG);

    /* libm */
    show("sqrtl(2)", sqrtl(2.0L));
    show("sinl(1)", sinl(1.0L));
    show("cosl(1)", cosl(1.0L));
    show("tanl(0.5)", tanl(0.5L));
    show("sinl(1e6)", sinl(1e6L));
    show("expl(1)", expl(1.0L));
    show("expl(-20.5)", expl(-20.5L));
    show("logl(10)", logl(10.0L));
    show("log2l(3)", log2l(3.0L));
    show("exp2l(0.3)", exp2l(0.3L));
    show("powl(2,0.5)", powl(2.0L, 0.5L));
    show("atan2l(1,1)*4", atan2l(1.0L, 1.0L) * 4);
    show("fmodl(10,3)", fmodl(10.0L, 3.0L));
    show("cbrtl(27)", cbrtl(27.0L));
    show("ldexpl(1,-16400)", ldexpl(1.0L, -16400));  /* a denormal */

    /* instructions directly */
    show("fsin(0.5)", x87_fsin(0.5L));
    show("fcos(0.5)", x87_fcos(0.5L));
    show("f2xm1(0.25)", x87_f2xm1(0.25L));
    show("frndint(2.5)", x87_frndint(2.5L));
    show("fyl2x(10,1)", x87_fyl2x(10.0L, 1.0L));
    show("fpatan(1,2)", x87_fpatan(1.0L, 2.0L));
    show("fprem(1e20,7)", x87_fprem(1e20L, 7.0L));
    show("fldpi", x87_fldpi());
    show("fldl2e", x87_fldl2e());
    show("fldln2", x87_fldln2());

    /* special values */
    show("1/0", one / zero);
    show("-1/0", -one / zero);
    show("0/0", zero / zero);
    show("sqrtl(-1)", sqrtl(-one));
    show("LDBL_MAX", LDBL_MAX);
    show("LDBL_MIN/3", LDBL_MIN / three);

    /* rounding modes */
    for (i = 0; i < 4; i++) {
        char name[32];
        fesetround(modes[i]);
        snprintf(name, sizeof name, "1/3 %s", mode_name[i]);
        show(name, one / three);
        snprintf(name, sizeof name, "rintl(-2.5) %s", mode_name[i]);
        show(name, rintl(-2.5L));
    }
    fesetround(FE_TONEAREST);

    /* precision control: the same division rounded to 24 and 53 bits */
    set_precision(0);
    show("1/3 pc=24", one / three);
    set_precision(2);
    show("1/3 pc=53", one / three);
    set_precision(3);
    show("1/3 pc=64", one / three);

    /* series: errors of single operations pile up */
    printf("terms %ld\n", n);
    s = 0;
    for (k = n; k >= 1; k--)
        s += 1.0L / ((long double)k * k);
    show("sum 1/k^2", s);
    show("sqrt(6*sum)", sqrtl(6 * s));
    s = 0;
    for (k = 0; k < n; k++)
        s += (k & 1 ? -4.0L : 4.0L) / (2 * k + 1);
    show("leibniz pi", s);
    s = 0;
    for (k = 1; k <= n; k++)
        s += 1.0L / k;
    show("harmonic-ln(n)", s - logl((long double)n));
    s = 0;
    for (k = 1; k <= n; k++)
        s += sinl((long double)k) / k;
    show("sum sin(k)/k", s);
    return 0;
}
