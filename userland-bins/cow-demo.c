/*
 * cow-demo: what fork copies. A teaching demo for vxos (docs/TOUR.md,
 * "Copy-on-write"): it reads vxos's lines of /proc/self/status
 * (faults_cow_copy, faults_cow_takeover) and /proc/self/vxmaps, which
 * Linux does not have (natively they print as n/a).
 *
 * The parent touches 64 pages, then forks. fork copies no memory: the
 * child's page table points at the parent's frames, marked copy-on-write
 * in both (vxmaps: shared and cow). Each page the child writes faults
 * once and gets its own copy (a CoW copy). When the child has exited, the
 * parent is the last user of its frames: its writes take them over
 * without copying (a CoW takeover).
 *
 * Usage: cow-demo
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64

/* Return the value of line NAME of /proc/self/status, or -1. */
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

/* Print the /proc/self/vxmaps line of the VMA holding ADDR. */
static void vxmaps_line(const char *who, void *addr)
{
    FILE *f = fopen("/proc/self/vxmaps", "r");
    char line[512];
    unsigned long a = (unsigned long)addr;
    if (!f) {
        printf("%s: vxmaps n/a (not vxos)\n", who);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s <= a && a < e)
            printf("%s: vxmaps %s", who, line);
    }
    fclose(f);
}

static void counters(const char *who, const char *when, long *copy, long *take)
{
    long c = status_field("faults_cow_copy"), t = status_field("faults_cow_takeover");
    if (c < 0) {
        printf("%s %s: faults_cow_copy n/a (not vxos)\n", who, when);
    } else if (copy) {
        printf("%s %s: faults_cow_copy %ld (+%ld), faults_cow_takeover %ld (+%ld)\n", who, when, c, c - *copy, t,
               t - *take);
    } else {
        printf("%s %s: faults_cow_copy %ld, faults_cow_takeover %ld\n", who, when, c, t);
    }
    if (copy) {
        *copy = c;
        *take = t;
    }
}

int main(void)
{
    long copy, take;
    char *buf = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return perror("mmap"), 1;
    printf("cow-demo: the parent writes %d pages, forks, and the child writes them again.\n", PAGES);
    for (int i = 0; i < PAGES; i++)
        buf[i * 4096] = 'p';
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), 1;
    if (pid == 0) {
        copy = status_field("faults_cow_copy");
        take = status_field("faults_cow_takeover");
        counters("child", "after fork", NULL, NULL);
        vxmaps_line("child before writing", buf);
        for (int i = 0; i < PAGES; i++)
            buf[i * 4096] = 'c';
        counters("child", "after writing", &copy, &take);
        vxmaps_line("child after writing", buf);
        printf("  each page the child wrote was shared with the parent: the write faulted and copied it.\n");
        fflush(stdout);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    copy = status_field("faults_cow_copy");
    take = status_field("faults_cow_takeover");
    for (int i = 0; i < PAGES; i++)
        buf[i * 4096] = 'P';
    counters("parent", "after the child exited and the parent wrote", &copy, &take);
    vxmaps_line("parent", buf);
    printf("  the child's copies left the parent the last user of its frames: it took them over, no copy.\n");
    return buf[0] == 'P' ? 0 : 1;
}
