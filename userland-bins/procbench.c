/*
 * procbench: process costs for bench/run.sh (fork, exec, wait, pipes).
 *
 *   procbench fork N              N times: fork, the child _exit(0)s, the
 *                                 parent wait4s for it
 *   procbench forkexec N PROG [ARG...]
 *                                 N times: fork, the child execve()s PROG
 *                                 with ARGs (it must exit 0 and print
 *                                 nothing; `procbench exit0` does that),
 *                                 the parent wait4s for it
 *   procbench pingpong N          a child and its parent pass one byte back
 *                                 and forth over two pipes, N round trips
 *   procbench clone64 N           the parent writes every page of 64 MiB of
 *                                 private anonymous memory, then forks N
 *                                 times; each child _exit(0)s at once and
 *                                 the parent wait4s for it: the cost of
 *                                 cloning an address space with 64 MiB
 *                                 resident
 *   procbench thread N            N times: pthread_create a thread that
 *                                 returns at once, pthread_join it
 *   procbench futex N             two threads pass a turn back and forth
 *                                 through one futex word (FUTEX_WAKE, and
 *                                 FUTEX_WAIT while it is not their turn),
 *                                 N round trips
 *   procbench exit0               exit 0 at once (the target for forkexec)
 *
 * stdout gets one deterministic line saying what was done (checked against
 * the native run, like every bench program's output). The timing goes to
 * stderr, on one line, in microseconds per operation (fork+exit+wait,
 * fork+exec+wait, round trip) measured with CLOCK_MONOTONIC around the
 * loop only, set-up and start-up left out:
 *
 *   procbench MODE: T us/op (N ops in S s)
 *
 * bench/run.sh reads T from that line. Any failed call, a child that does
 * not exit 0 or a byte that comes back wrong ends the program with status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("procbench: clock_gettime");
        exit(1);
    }
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "procbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void report(const char *mode, long n, double t)
{
    fprintf(stderr, "procbench %s: %.3f us/op (%ld ops in %.6f s)\n",
            mode, n > 0 ? t * 1e6 / n : 0.0, n, t);
}

/* Wait for child pid; it must have exited with status 0. */
static void reap(pid_t pid)
{
    int st;
    pid_t r;
    do r = wait4(pid, &st, 0, NULL); while (r < 0 && errno == EINTR);
    if (r != pid) die("wait4");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "procbench: child %s %d\n",
                WIFEXITED(st) ? "exited with status" : "killed by signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        exit(1);
    }
}

/* N times fork; the child exits at once; wait. */
static long fork_loop(long n)
{
    long ok = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) _exit(0);
        reap(pid);
        ok++;
    }
    return ok;
}

static int bench_fork(long n)
{
    double t0 = now();
    long ok = fork_loop(n);
    double t = now() - t0;
    printf("fork: %ld children forked, exited 0 and reaped\n", ok);
    report("fork", n, t);
    return 0;
}

static int bench_forkexec(long n, char **argv)
{
    long ok = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            execve(argv[0], argv, environ);
            fprintf(stderr, "procbench: execve %s: %s\n", argv[0], strerror(errno));
            _exit(127);
        }
        reap(pid);
        ok++;
    }
    double t = now() - t0;
    printf("forkexec: %ld children forked, exec'd, exited 0 and reaped\n", ok);
    report("forkexec", n, t);
    return 0;
}

static void xread(int fd, unsigned char *b)
{
    ssize_t r;
    do r = read(fd, b, 1); while (r < 0 && errno == EINTR);
    if (r != 1) {
        if (r == 0) errno = EPIPE;
        die("read");
    }
}

static void xwrite(int fd, unsigned char b)
{
    ssize_t r;
    do r = write(fd, &b, 1); while (r < 0 && errno == EINTR);
    if (r != 1) die("write");
}

static int bench_pingpong(long n)
{
    int down[2], up[2];   /* down: parent -> child, up: child -> parent */
    if (pipe(down) != 0 || pipe(up) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        unsigned char b;
        for (;;) {
            ssize_t r;
            do r = read(down[0], &b, 1); while (r < 0 && errno == EINTR);
            if (r == 0) _exit(0);   /* the parent closed its end: done */
            if (r != 1) _exit(3);
            b ^= 0xff;
            if (write(up[1], &b, 1) != 1) _exit(4);
        }
    }
    close(down[0]);
    close(up[1]);
    long ok = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        unsigned char b;
        xwrite(down[1], (unsigned char)i);
        xread(up[0], &b);
        if (b != (unsigned char)(i ^ 0xff)) {
            fprintf(stderr, "procbench: round trip %ld: got byte %u, want %u\n",
                    i, b, (unsigned)(unsigned char)(i ^ 0xff));
            return 1;
        }
        ok++;
    }
    double t = now() - t0;
    close(down[1]);
    reap(pid);
    close(up[0]);
    printf("pingpong: %ld one-byte round trips over two pipes, all bytes right\n", ok);
    report("pingpong", n, t);
    return 0;
}

static int bench_clone64(long n)
{
    const size_t len = (size_t)64 << 20;
    unsigned char *p = mmap(0, len, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) die("mmap 64 MiB");
    for (size_t i = 0; i < len; i += 4096) p[i] = (unsigned char)(i >> 12 | 1);
    double t0 = now();
    long ok = fork_loop(n);
    double t = now() - t0;
    unsigned long sum = 0;
    for (size_t i = 0; i < len; i += 4096) sum += p[i];
    munmap(p, len);
    printf("clone64: 64 MiB resident (page sum %lu), %ld children forked, exited 0 and reaped\n",
           sum, ok);
    report("clone64", n, t);
    return 0;
}

static void *thread_noop(void *arg)
{
    return arg;
}

static int bench_thread(long n)
{
    long ok = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pthread_t th;
        void *r;
        int e = pthread_create(&th, NULL, thread_noop, (void *)i);
        if (e) { errno = e; die("pthread_create"); }
        e = pthread_join(th, &r);
        if (e) { errno = e; die("pthread_join"); }
        if (r != (void *)i) {
            fprintf(stderr, "procbench: thread %ld returned %p\n", i, r);
            exit(1);
        }
        ok++;
    }
    double t = now() - t0;
    printf("thread: %ld threads created, returned their argument and joined\n", ok);
    report("thread", n, t);
    return 0;
}

/* The futex word: whose turn it is (0 the main thread, 1 the other), and
 * the number of round trips the other thread is to make. */
static _Atomic int turn;
static long futex_rounds;

static void futex_wait(int val)
{
    while (atomic_load(&turn) == val)
        if (syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0) != 0 && errno != EAGAIN && errno != EINTR)
            die("futex wait");
}

static void futex_give(int to)
{
    atomic_store(&turn, to);
    if (syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
        die("futex wake");
}

static void *futex_partner(void *arg)
{
    for (long i = 0; i < futex_rounds; i++) {
        futex_wait(0);
        futex_give(0);
    }
    return arg;
}

static int bench_futex(long n)
{
    pthread_t th;
    futex_rounds = n;
    int e = pthread_create(&th, NULL, futex_partner, NULL);
    if (e) { errno = e; die("pthread_create"); }
    double t0 = now();
    for (long i = 0; i < n; i++) {
        futex_give(1);
        futex_wait(1);
    }
    double t = now() - t0;
    e = pthread_join(th, NULL);
    if (e) { errno = e; die("pthread_join"); }
    printf("futex: %ld round trips through one futex word\n", n);
    report("futex", n, t);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: procbench fork N | forkexec N PROG [ARG...] | pingpong N |"
                    " clone64 N | thread N | futex N | exit0\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "exit0")) _exit(0);
    if (argc < 3) return usage();
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n < 1) return usage();
    const char *m = argv[1];
    if (!strcmp(m, "forkexec")) return argc < 4 ? usage() : bench_forkexec(n, argv + 3);
    if (argc != 3) return usage();
    if (!strcmp(m, "fork")) return bench_fork(n);
    if (!strcmp(m, "pingpong")) return bench_pingpong(n);
    if (!strcmp(m, "clone64")) return bench_clone64(n);
    if (!strcmp(m, "thread")) return bench_thread(n);
    if (!strcmp(m, "futex")) return bench_futex(n);
    return usage();
}
