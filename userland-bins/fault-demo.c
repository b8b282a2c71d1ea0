/*
 * fault-demo: demand paging. A teaching demo for vxos (docs/TOUR.md,
 * "Page tables and demand paging"): it reads vxos's fault counters in
 * /proc/self/status (faults_demand_zero, faults_file, faults_invalid),
 * which Linux does not have (natively they print as n/a).
 *
 * mmap only makes a VMA; the first touch of each page faults. It touches
 * anonymous pages in a scattered order (one demand-zero fault each), then
 * in order (vxos maps a growing run ahead of sequential touches: fewer
 * faults than pages), reads a file through mmap (file faults: the page
 * cache reads 32-page windows), and touches a PROT_NONE page, which is
 * an invalid fault: SIGSEGV, caught here.
 *
 * Usage: fault-demo
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 64

static long status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static const char *kinds[] = {"faults_demand_zero", "faults_file", "faults_invalid"};
static long before[3];

static void mark(void)
{
    for (int i = 0; i < 3; i++)
        before[i] = status_field(kinds[i]);
}

static void report(const char *what)
{
    printf("%-44s", what);
    for (int i = 0; i < 3; i++) {
        long now = status_field(kinds[i]);
        if (now < 0)
            printf(" %s n/a", kinds[i] + 7);
        else
            printf(" %s +%ld", kinds[i] + 7, now - before[i]);
    }
    printf("\n");
}

static sigjmp_buf back;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(back, 1);
}

int main(int argc, char **argv)
{
    (void)argc;
    volatile char sum = 0;
    printf("fault-demo: each first touch of a page faults; the kernel decides what fills it.\n");

    char *a = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mark();
    for (int i = PAGES - 1; i >= 0; i -= 2)
        a[i * 4096] = 1;
    report("32 anonymous pages, scattered:");

    char *b = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mark();
    for (int i = 0; i < PAGES; i++)
        b[i * 4096] = 1;
    report("64 anonymous pages, in order (map-ahead):");

    int fd = open(argv[0], O_RDONLY);
    off_t len = fd < 0 ? 0 : lseek(fd, 0, SEEK_END);
    char *f = len > 0 ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    if (f != MAP_FAILED) {
        mark();
        for (off_t o = 0; o < len; o += 4096)
            sum += f[o];
        char what[64];
        snprintf(what, sizeof what, "%ld pages of this program's file:", (long)((len + 4095) / 4096));
        report(what);
    }

    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    signal(SIGSEGV, on_segv);
    mark();
    if (sigsetjmp(back, 1) == 0)
        sum += *(volatile char *)none;
    report("a PROT_NONE page (SIGSEGV, caught):");
    printf("  demand-zero: a fresh zeroed frame; file: read through the page cache; invalid: a signal.\n");
    return 0;
}
