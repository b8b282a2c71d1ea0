/*
 * mmbench: memory-management costs for bench/run.sh.
 *
 *   mmbench touch MIB      map MIB MiB of anonymous memory, write one byte
 *                          in every page (first-touch faults), unmap
 *   mmbench mapunmap N     N times: mmap 16 MiB anonymous, munmap it
 *
 * Prints a checksum of what it did, never times or addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: mmbench touch MIB | mapunmap N\n");
        return 2;
    }
    long n = atol(argv[2]);
    if (!strcmp(argv[1], "touch")) {
        size_t len = (size_t)n << 20;
        unsigned char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        for (size_t i = 0; i < len; i += 4096) p[i] = 1;
        unsigned long s = 0;
        for (size_t i = 0; i < len; i += 4096) s += p[i];
        munmap(p, len);
        printf("touched %lu pages\n", s);
    } else if (!strcmp(argv[1], "mapunmap")) {
        long ok = 0;
        for (long i = 0; i < n; i++) {
            void *p = mmap(0, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) { perror("mmap"); return 1; }
            ok += munmap(p, 16 << 20) == 0;
        }
        printf("mapped and unmapped 16 MiB %ld times\n", ok);
    } else {
        fprintf(stderr, "mmbench: unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
