/*
 * ns-demo: per-process namespaces, Plan 9 style. A teaching demo for
 * vxos (docs/TOUR.md, "Namespaces"): it reads and writes /proc/self/ns,
 * vxos's namespace file (Linux has none: natively it says so and stops).
 *
 * A forked child shares its parent's namespace: a bind it writes to
 * /proc/self/ns shows in the parent too. After unshare(CLONE_NEWNS) a
 * child has its own copy, and its binds are its alone.
 *
 * Usage: ns-demo
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64 /* /proc inode numbers need 64 bits under vxos */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Write a bind or mount line to our namespace; 0 on success. */
static int ns_write(const char *line)
{
    FILE *f = fopen("/proc/self/ns", "w");
    if (!f)
        return -1;
    int r = fputs(line, f) < 0;
    return fclose(f) || r ? -1 : 0;
}

/* Report whether DIR holds NAME. */
static int has(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        found |= strcmp(e->d_name, name) == 0;
    closedir(d);
    return found;
}

static void child(int private, const char *from)
{
    if (private && unshare(CLONE_NEWNS) < 0)
        perror("unshare");
    char line[128];
    snprintf(line, sizeof line, "bind %s /mnt\n", from);
    if (ns_write(line) < 0)
        perror("write /proc/self/ns");
    _exit(0);
}

int main(void)
{
    struct stat st;
    if (stat("/proc/self/ns", &st) < 0 || !S_ISREG(st.st_mode)) {
        printf("ns-demo: /proc/self/ns is not a namespace file here (not vxos)\n");
        return 0;
    }
    FILE *f = fopen("/proc/self/ns", "r");
    char line[256];
    int n = 0;
    if (!f)
        return perror("/proc/self/ns"), 1;
    printf("ns-demo: the namespace is a mount table; /proc/self/ns lists it:\n");
    while (fgets(line, sizeof line, f))
        if (n++ < 4)
            printf("  %s", line);
    fclose(f);
    printf("  ... (%d lines)\n", n);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        child(0, "/etc");
    waitpid(pid, NULL, 0);
    printf("a child (shared namespace) bound /etc on /mnt: the parent sees /mnt/passwd? %s\n",
           has("/mnt", "passwd") ? "yes" : "no");

    fflush(stdout);
    pid = fork();
    if (pid == 0)
        child(1, "/proc");
    waitpid(pid, NULL, 0);
    printf("a child after unshare(CLONE_NEWNS) bound /proc on /mnt: the parent sees /mnt/self? %s\n",
           has("/mnt", "self") ? "yes" : "no");
    return 0;
}
