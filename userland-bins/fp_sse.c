/*
 * fp_sse: float and double arithmetic in SSE/SSE2 registers (built with
 * -msse2 -mfpmath=sse, so no x87 is involved). Exercises scalar ops
 * (addsd, mulsd, divsd, sqrtsd, cvt*), loops gcc vectorizes into packed ops
 * (mulpd, addps ...), a few intrinsics (shuffles, min/max with NaN, integer
 * SIMD), and the MXCSR register: rounding modes and flush-to-zero, which the
 * translator must keep as guest state across system calls and host code.
 * Results are printed exactly, with %a.
 *
 * Usage: fp_sse [ITER]     (ITER passes over the vector loops; default 1000;
 *                           about 3000000 run for a second natively)
 */
#include <emmintrin.h>
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 1024

static double xd[N], yd[N];
static float xf[N], yf[N];

/* y = a*x + y over doubles: vectorized to mulpd/addpd. */
static void daxpy(double a, const double *x, double *y)
{
    int i;
    for (i = 0; i < N; i++)
        y[i] = a * x[i] + y[i];
}

/* y = a*x + y over floats: vectorized to mulps/addps. */
static void saxpy(float a, const float *x, float *y)
{
    int i;
    for (i = 0; i < N; i++)
        y[i] = a * x[i] + y[i];
}

/* Dot product, summed in order (not reassociated, so not vectorized). */
static double ddot(const double *x, const double *y)
{
    double s = 0;
    int i;
    for (i = 0; i < N; i++)
        s += x[i] * y[i];
    return s;
}

int main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 1000, r;
    volatile double vzero = 0.0, vone = 1.0, vthree = 3.0, vtiny = 0x1p-1022;
    volatile float fone = 1.0f, fthree = 3.0f;
    static const int modes[] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };
    static const char *mode_name[] = { "nearest", "down", "up", "zero" };
    double fsum;
    int i;

    /* scalar */
    printf("1/3           %a\n", vone / vthree);
    printf("1/3f          %a\n", (double)(fone / fthree));
    printf("sqrt(2)       %a\n", sqrt(2.0 * vone));
    printf("sqrtf(2)      %a\n", (double)sqrtf(2.0f * fone));
    printf("tiny/3        %a\n", vtiny / vthree);        /* denormal */
    printf("1/0           %a\n", vone / vzero);
    printf("(int)-2.7     %d\n", (int)(-2.7 * vone));     /* cvttsd2si */
    printf("(int)1e10     %d\n", (int)(1e10 * vone));     /* integer indefinite */
    printf("(double)-7    %a\n", (double)(int)(-7 * vone));
    printf("(float)0.1    %a\n", (double)(float)(0.1 * vone));

    /* rounding modes live in MXCSR */
    for (i = 0; i < 4; i++) {
        fesetround(modes[i]);
        printf("1/3 %-9s %a   rint(-2.5) %a\n", mode_name[i], vone / vthree, rint(-2.5 * vone));
    }
    fesetround(FE_TONEAREST);

    /* flush-to-zero: a denormal result becomes 0 */
    _mm_setcsr(_mm_getcsr() | 0x8000);
    printf("tiny/3 ftz    %a\n", vtiny / vthree);
    _mm_setcsr(_mm_getcsr() & ~0x8000);
    printf("tiny/3 again  %a\n", vtiny / vthree);

    /* intrinsics: packed ops, shuffles, min/max with NaN, integer SIMD */
    {
        __m128d a = _mm_set_pd(2.0, -0.5), b = _mm_set_pd(NAN, 3.0);
        __m128d mn = _mm_min_pd(a, b), mx = _mm_max_pd(b, a);
        __m128 p = _mm_set_ps(1.0f, 2.0f, 3.0f, 4.0f);
        __m128 q = _mm_shuffle_ps(p, p, _MM_SHUFFLE(0, 1, 2, 3));
        __m128i u = _mm_set_epi32(0x7fffffff, -1, 5, 0x10000);
        __m128i v = _mm_set_epi32(1, 1, -5, 0x10000);
        double d[2];
        float f[4];
        int32_t w[4];

        _mm_storeu_pd(d, mn);
        printf("minpd         %a %a\n", d[0], d[1]);
        _mm_storeu_pd(d, mx);
        printf("maxpd         %a %a\n", d[0], d[1]);
        _mm_storeu_pd(d, _mm_sqrt_pd(_mm_set_pd(9.0, 2.0)));
        printf("sqrtpd        %a %a\n", d[0], d[1]);
        _mm_storeu_ps(f, _mm_mul_ps(q, _mm_rcp_ps(p)));
        printf("shufps*rcpps  %d %d %d %d\n", (int)(f[0] * 1000), (int)(f[1] * 1000),
               (int)(f[2] * 1000), (int)(f[3] * 1000));
        _mm_storeu_si128((__m128i *)w, _mm_add_epi32(u, v));
        printf("paddd         %08x %08x %08x %08x\n", w[0], w[1], w[2], w[3]);
        _mm_storeu_si128((__m128i *)w, _mm_mullo_epi16(u, v));
        printf("pmullw        %08x %08x %08x %08x\n", w[0], w[1], w[2], w[3]);
        _mm_storeu_si128((__m128i *)w, _mm_adds_epi16(u, v));
        printf("paddsw        %08x %08x %08x %08x\n", w[0], w[1], w[2], w[3]);
        printf("movmskpd      %d\n", _mm_movemask_pd(_mm_cmplt_pd(a, b)));
    }

    /* vectorized loops */
    for (i = 0; i < N; i++) {
        xd[i] = 1.0 / (i + 1);
        yd[i] = i * 0.25;
        xf[i] = (float)i / 7;
        yf[i] = 1.0f;
    }
    for (r = 0; r < iter; r++) {
        daxpy(0.999, xd, yd);
        saxpy(-0.5f, yf, xf);
        saxpy(0.75f, xf, yf);
    }
    fsum = 0;
    for (i = 0; i < N; i++)
        fsum += yf[i];
    printf("passes        %ld\n", iter);
    printf("dot(x,y)      %a\n", ddot(xd, yd));
    printf("y[N-1]        %a\n", yd[N - 1]);
    printf("sum yf        %a\n", fsum);
    printf("yf[3]         %a\n", (double)yf[3]);
    return 0;
}
