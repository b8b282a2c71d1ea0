/*
 * qsort64: sorts 100000 pseudo-random 64-bit keys with glibc's qsort, ITER
 * times. Exercises 64-bit compares done in 32-bit halves (cmp/sbb chains),
 * indirect calls to the comparison function (the translator's indirect
 * branch lookup and return-address cache), malloc of a large temporary
 * buffer (glibc's merge sort: brk or mmap) and memcpy. The keys come from a
 * 64-bit LCG, so every run sorts the same data; it prints a checksum of the
 * sorted array and checks that it is in order.
 *
 * Usage: qsort64 [ITER]    (default 1; about 70 run for a second natively)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define N 100000

/* Order two uint64_t without the overflow of a subtraction. */
static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 1, r;
    uint64_t *key = malloc(N * sizeof *key);
    uint64_t seed = 0x0123456789abcdefULL, sum = 0;
    long i, bad = 0;

    if (key == NULL) {
        printf("malloc failed\n");
        return 1;
    }
    for (r = 0; r < iter; r++) {
        for (i = 0; i < N; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            key[i] = seed ^ (seed >> 29);
        }
        qsort(key, N, sizeof *key, cmp64);
        for (i = 1; i < N; i++)
            if (key[i - 1] > key[i])
                bad++;
        for (i = 0; i < N; i++)
            sum = sum * 31 + key[i];
    }
    printf("rounds %ld keys %d\n", iter, N);
    printf("min %016llx max %016llx\n", (unsigned long long)key[0],
           (unsigned long long)key[N - 1]);
    printf("checksum %016llx\n", (unsigned long long)sum);
    printf("sorted %s\n", bad == 0 ? "ok" : "NO");
    free(key);
    return bad == 0 ? 0 : 1;
}
