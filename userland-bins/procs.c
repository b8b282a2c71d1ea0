/*
 * procs: a differential test of the Linux process calls, for the process
 * work (T4): fork, vfork, clone (process-level: exit signal in the low byte,
 * CLONE_VM|CLONE_VFORK, CLONE_PARENT_SETTID, CLONE_CHILD_SETTID,
 * CLONE_SETTLS), execve (static ELF programs and #! scripts, and its
 * errors), exit and exit_group, wait4 and waitpid (WNOHANG, a given pid,
 * -1, 0 and -pgid, __WALL/__WCLONE; statuses of exits and of deaths by
 * signal), getppid, setpgid, getpgid, getpgrp, setsid, getsid, kill with the
 * default actions (terminate, ignore) to processes and groups, pipes
 * (blocking reads and writes across processes, EOF, EPIPE and death by
 * SIGPIPE, O_NONBLOCK, FIONREAD, fstat), close-on-exec, descriptors and
 * their offsets shared across fork and exec, posix_spawn, and a bounded
 * fork loop.
 *
 * Each subtest prints one line per fact: results, errno names, data read,
 * exit statuses ("exited 3", "killed by SIGTERM"; the core-dump bit is left
 * out, it depends on the host's core settings) and relations ("getppid ==
 * parent's pid: 1"). It never prints pids, fd numbers, addresses, times or
 * paths (the program's own path prints as SELF, the directory it runs in as
 * CWD), so the output is the same natively and under vxos. Signal handlers,
 * threads and stop/continue are not tested (they come later).
 *
 * Children never print while their parent may be printing: the parent
 * flushes stdout before every fork and before letting a child go on, a
 * child flushes before it exits, and the parent prints what concerns a
 * child after reaping it.
 *
 * The program runs itself as the child of many tests: `procs CHILD MODE
 * ARGS...` (see child_main), and as a #! interpreter: `#!SELF SCRIPTARGS`
 * (script_main). Its own path is argv[0] made absolute with the working
 * directory at start-up; children get it in the environment variable
 * PROCS_SELF.
 *
 * Usage: procs LIST   the subtest names, one a line
 *        procs NAME   run one subtest in the current directory, which must
 *                     be writable (some subtests write files there and
 *                     remove them)
 *        procs all    every subtest but execself in order, each in a fresh
 *                     subdirectory NAME that is created and removed
 * Exit status 0; 1 when a subtest left files, an fd or a child behind; 2
 * for a usage error. execself ends with the status of the program it
 * becomes (0).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <asm/ldt.h>
#include <unistd.h>

#define SC syscall

extern char **environ;

/* ------------------------------------------------------------------ */
/* Printing.                                                           */

static const char *ename(int e)
{
    static char other[16];
    switch (e) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG) E(ENOEXEC)
    E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(ENOTBLK)
    E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL)
    E(ENFILE) E(EMFILE) E(ENOTTY) E(ETXTBSY) E(EFBIG) E(ENOSPC) E(ESPIPE)
    E(EROFS) E(EMLINK) E(EPIPE) E(EDOM) E(ERANGE) E(EDEADLK) E(ENAMETOOLONG)
    E(ENOLCK) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(ENOMSG) E(ENODATA)
    E(EOVERFLOW) E(EBADFD) E(EILSEQ) E(ENOTSOCK) E(EOPNOTSUPP) E(ESTALE)
    E(EDQUOT) E(ECANCELED)
#undef E
    }
    snprintf(other, sizeof other, "E%d", e);
    return other;
}

static const char *sname(int s)
{
    static const char *names[] = {
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
        "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
        "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
        "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
        "SIGSYS",
    };
    static char other[16];
    if (s >= 0 && s < (int)(sizeof names / sizeof names[0]))
        return names[s];
    snprintf(other, sizeof other, "SIG%d", s);
    return other;
}

/* A wait status: "exited N", "killed by SIGX" (core-dump bit left out),
 * with the raw value less that bit, so that the encoding is checked too. */
static const char *stname(int st)
{
    static char b[80];
    if (WIFEXITED(st))
        snprintf(b, sizeof b, "exited %d (0x%04x)", WEXITSTATUS(st), st);
    else if (WIFSIGNALED(st))
        snprintf(b, sizeof b, "killed by %s (0x%04x)", sname(WTERMSIG(st)), st & ~0x80);
    else if (WIFSTOPPED(st))
        snprintf(b, sizeof b, "stopped by %s (0x%04x)", sname(WSTOPSIG(st)), st);
    else
        snprintf(b, sizeof b, "status 0x%x", st);
    return b;
}

static void vlabel(const char *fmt, va_list ap)
{
    vprintf(fmt, ap);
    fputs(": ", stdout);
}

/* "LABEL: R" or "LABEL: -1 ENAME". */
static void res(long r, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r == -1)
        printf("-1 %s\n", ename(e));
    else
        printf("%ld\n", r);
    errno = e;
}

/* As res, for calls returning a descriptor or a pid: "ok", never the number. */
static void resok(long r, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0)
        printf("-1 %s\n", ename(e));
    else
        printf("ok\n");
    errno = e;
}

/* As res, for wait4 and waitpid: "0", "a pid" (never the number) or the error. */
static void resw(long r, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r == -1)
        printf("-1 %s\n", ename(e));
    else if (r == 0)
        printf("0\n");
    else
        printf("a pid\n");
    errno = e;
}

/* As res, for functions returning an error number (posix_spawn). */
static void reserr(int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    printf("%s\n", r ? ename(r) : "0");
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void flush(void)
{
    fflush(stdout);
    fflush(stderr);
}

/* ------------------------------------------------------------------ */
/* Processes.                                                          */

static char self[4096];  /* this program's absolute path */
static char cwd[4096];   /* the directory a subtest started in */

/* fork (glibc's: clone with SIGCHLD), stdout flushed first. */
static pid_t xfork(void)
{
    flush();
    return fork();
}

/* End a child: flush what it printed, then _exit. */
static void cexit(int code)
{
    flush();
    _exit(code);
}

/* Reap PID; print "LABEL: STATUS" (or the error). Returns the status. */
static int reap(pid_t pid, const char *fmt, ...)
{
    int st = 0;
    long r;
    va_list ap;
    do
        r = SC(SYS_wait4, pid, &st, 0, NULL);
    while (r == -1 && errno == EINTR);
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r == -1)
        printf("wait4: -1 %s\n", ename(errno));
    else if (r != pid)
        printf("wait4 returned another pid\n");
    else
        printf("%s\n", stname(st));
    return st;
}

/* Close a descriptor that lets children go on (a pipe they wait on). */
static void release(int fd)
{
    flush();
    close(fd);
}

/* Block until FD is at end of file or an error; the bytes read. */
static long drain(int fd)
{
    char b[4096];
    long n = 0, r;
    while ((r = read(fd, b, sizeof b)) > 0)
        n += r;
    return r < 0 ? -1 : n;
}

static void xpipe(int p[2])
{
    if (pipe(p) < 0) {
        printf("SETUP pipe: -1 %s\n", ename(errno));
        flush();
        exit(1);
    }
}

/* Write a file with MODE; it is for the subtest to remove. */
static void mkfile(const char *p, const char *data, size_t n, int mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n)
        printf("SETUP %s: -1 %s\n", p, ename(errno));
    if (fd >= 0)
        close(fd);
    chmod(p, mode);
}

static void rm(const char *p)
{
    if (unlink(p) < 0)
        printf("SETUP unlink %s: -1 %s\n", p, ename(errno));
}

/* Print a file's contents, line by line, prefixed. */
static void cat(const char *p, const char *prefix)
{
    char b[8192];
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        printf("%scannot open: %s\n", prefix, ename(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n < 0)
        n = 0;
    b[n] = 0;
    for (char *l = b, *e; *l; l = e + 1) {
        e = strchr(l, '\n');
        if (!e) {
            printf("%s%s (no newline)\n", prefix, l);
            break;
        }
        *e = 0;
        printf("%s%s\n", prefix, l);
    }
}

/* execve(SELF, {SELF, "CHILD", args..., NULL}, environ) in a child: the pid. */
static pid_t spawn_child(const char *a1, const char *a2, const char *a3)
{
    pid_t pid = xfork();
    if (pid == 0) {
        char *argv[] = {self, "CHILD", (char *)a1, (char *)a2, (char *)a3, NULL};
        execve(self, argv, environ);
        printf("execve SELF: -1 %s\n", ename(errno));
        cexit(127);
    }
    return pid;
}

/* ------------------------------------------------------------------ */
/* Raw clone, for flags glibc never passes. In the child, call FN on the
 * stack given (or a copy of this one, when STACK is 0) and exit with what it
 * returns: no C library code runs in the child but FN. */

long raw_clone(unsigned long flags, void *stack, int *ptid, void *tls, int *ctid,
               int (*fn)(void));
__asm__(".text\n"
        ".globl raw_clone\n"
        ".type raw_clone,@function\n"
        "raw_clone:\n"
        "  push %ebp\n"
        "  push %ebx\n"
        "  push %esi\n"
        "  push %edi\n"
        "  mov 20(%esp), %ebx\n"
        "  mov 24(%esp), %ecx\n"
        "  mov 28(%esp), %edx\n"
        "  mov 32(%esp), %esi\n"
        "  mov 36(%esp), %edi\n"
        "  mov 40(%esp), %ebp\n"
        "  mov $120, %eax\n"
        "  int $0x80\n"
        "  test %eax, %eax\n"
        "  jz 1f\n"
        "  pop %edi\n"
        "  pop %esi\n"
        "  pop %ebx\n"
        "  pop %ebp\n"
        "  ret\n"
        "1:\n"
        "  and $-16, %esp\n"
        "  call *%ebp\n"
        "  mov %eax, %ebx\n"
        "  mov $1, %eax\n"
        "  int $0x80\n"
        "  hlt\n"
        ".size raw_clone, .-raw_clone\n");

/* raw_clone with errno set the C library's way. */
static long xclone(unsigned long flags, void *stack, int *ptid, void *tls, int *ctid,
                   int (*fn)(void))
{
    flush();
    long r = raw_clone(flags, stack, ptid, tls, ctid, fn);
    if (r < 0 && r > -4096) {
        errno = -r;
        return -1;
    }
    return r;
}

static long raw_getpid(void)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(20L) : "memory");
    return r;
}

/* ------------------------------------------------------------------ */
/* The subtests.                                                       */

static volatile int global = 1;

/* fork, exit and exit_group, exit codes, copied memory, nesting. */
static void t_fork(void)
{
    pid_t me = getpid(), pid;
    int st;

    /* The fork system call itself (glibc's fork() is clone). */
    flush();
    pid = SC(SYS_fork);
    if (pid == 0) {
        global = 2;
        say("child: fork returned 0");
        say("child: getppid == parent's pid: %d", getppid() == me);
        say("child: getpid differs from the parent's: %d", getpid() != me);
        cexit(3);
    }
    say("parent: fork returned a pid: %d", pid > 0);
    struct rusage ru;
    long r = SC(SYS_wait4, pid, &st, 0, &ru);
    say("wait4 returned the child's pid: %d", r == pid);
    say("  status: %s", stname(st));
    say("parent's global unchanged by the child: %d", global == 1);

    /* glibc's fork (clone with CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID). */
    pid = xfork();
    if (pid == 0) {
        say("child of fork(): getppid == parent's pid: %d", getppid() == me);
        cexit(4);
    }
    reap(pid, "fork() child");

    /* Exit codes, by exit, _exit, exit and exit_group. */
    static const int codes[] = {0, 1, 42, 127, 128, 255, 256, 257, -1, -2};
    for (unsigned i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        pid = xfork();
        if (pid == 0)
            _exit(codes[i]);
        reap(pid, "_exit(%d)", codes[i]);
    }
    pid = xfork();
    if (pid == 0)
        SC(SYS_exit, 5);
    reap(pid, "exit system call (1) 5");
    pid = xfork();
    if (pid == 0)
        SC(SYS_exit_group, 6);
    reap(pid, "exit_group 6");
    pid = xfork();
    if (pid == 0) {
        printf("buffered in the child, flushed by exit()");
        exit(7);
    }
    reap(pid, "\nexit(7) after buffered output");

    /* Copy-on-write both ways: a MiB the parent changes after the fork and
     * the child checks, then changes itself. */
    enum { N = 1 << 20 };
    unsigned char *buf = malloc(N);
    for (int i = 0; i < N; i++)
        buf[i] = (unsigned char)(i * 7);
    int go[2];
    xpipe(go);
    pid = xfork();
    if (pid == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 0)
            cexit(9);
        int ok = 1;
        for (int i = 0; i < N; i++)
            ok &= buf[i] == (unsigned char)(i * 7);
        memset(buf, 0xee, N);
        cexit(ok ? 0 : 1);
    }
    close(go[0]);
    for (int i = 0; i < N; i += 4096)
        buf[i] = 0x55;
    release(go[1]);
    reap(pid, "child sees the memory as it was at fork (0: yes)");
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= buf[i] == (i % 4096 ? (unsigned char)(i * 7) : 0x55);
    say("parent's memory unchanged by the child: %d", ok);
    free(buf);

    /* A grandchild, reaped by the child, whose status the child passes on. */
    pid = xfork();
    if (pid == 0) {
        pid_t parent = getpid();
        pid_t g = xfork();
        if (g == 0)
            _exit(getppid() == parent ? 9 : 99);
        int gst;
        if (waitpid(g, &gst, 0) != g)
            _exit(98);
        _exit(WEXITSTATUS(gst) + 1);
    }
    reap(pid, "child that reaped its own child (exit 9) and exits with 10");
}

/* wait4 and waitpid: no children, WNOHANG, a given pid, -1, 0, -pgid. */
static void t_wait(void)
{
    int st = 12345;
    long r;
    pid_t pid, a, b;
    int p[2];

    resw(SC(SYS_wait4, -1, &st, 0, NULL), "wait4 -1 with no children");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "wait4 -1 WNOHANG with no children");
    resw(SC(SYS_waitpid, -1, &st, 0), "waitpid -1 with no children");
    resw(SC(SYS_wait4, 0, &st, 0, NULL), "wait4 0 with no children");
    resw(SC(SYS_wait4, 1, &st, 0, NULL), "wait4 1 (not a child)");
    resw(SC(SYS_wait4, 0x3fffffff, &st, 0, NULL), "wait4 0x3fffffff");
    resw(SC(SYS_wait4, -0x3fffffff, &st, 0, NULL), "wait4 -0x3fffffff");
    say("  status untouched: %d", st == 12345);

    /* WNOHANG while the child runs (blocked on a pipe). */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(4);
    }
    close(p[0]);
    resw(SC(SYS_wait4, pid, &st, WNOHANG, NULL), "wait4 pid WNOHANG, child running");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "wait4 -1 WNOHANG, child running");
    resw(SC(SYS_waitpid, pid, &st, WNOHANG), "waitpid pid WNOHANG, child running");
    resw(SC(SYS_wait4, -1, &st, 0x100, NULL), "wait4 options 0x100");
    release(p[1]);
    r = SC(SYS_waitpid, pid, &st, 0);
    say("waitpid pid after the child exits returns it: %d", r == pid);
    say("  status: %s", stname(st));
    resw(SC(SYS_wait4, pid, &st, 0, NULL), "wait4 the same pid again");
    resw(SC(SYS_wait4, pid, &st, WNOHANG, NULL), "wait4 the same pid again WNOHANG");

    /* Three children; -1 returns each once, in any order. */
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = xfork();
        if (kids[i] == 0)
            _exit(21 + i);
    }
    int seen[3] = {0, 0, 0}, bad = 0;
    for (int i = 0; i < 3; i++) {
        r = SC(SYS_wait4, -1, &st, 0, NULL);
        int k = 0;
        while (k < 3 && kids[k] != r)
            k++;
        if (k == 3 || !WIFEXITED(st) || WEXITSTATUS(st) != 21 + k)
            bad++;
        else
            seen[k]++;
    }
    say("wait4 -1 three times: each child once with its status: %d",
        !bad && seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    resw(SC(SYS_wait4, -1, &st, 0, NULL), "wait4 -1 then");

    /* A given pid among several, in the order asked. */
    xpipe(p);
    a = xfork();
    if (a == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(31);
    }
    b = xfork();
    if (b == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(32);
    }
    close(p[0]);
    release(p[1]);
    reap(b, "second child, waited for first");
    reap(a, "first child");

    /* 0: children in the caller's group; -pgid: in that group. */
    xpipe(p);
    a = xfork();
    if (a == 0) {
        close(p[1]);
        setpgid(0, 0);
        drain(p[0]);
        _exit(41);
    }
    close(p[0]);
    res(setpgid(a, a), "setpgid child into its own group");
    b = xfork();
    if (b == 0)
        _exit(42);
    r = SC(SYS_wait4, 0, &st, 0, NULL);
    say("wait4 0 returns the child in our group: %d", r == b);
    say("  status: %s", stname(st));
    resw(SC(SYS_wait4, 0, &st, WNOHANG, NULL), "wait4 0 WNOHANG, only a child in another group left");
    resw(SC(SYS_wait4, -a, &st, WNOHANG, NULL), "wait4 -pgid WNOHANG, its child running");
    resw(SC(SYS_wait4, -getpgrp(), &st, WNOHANG, NULL), "wait4 -(our pgid) WNOHANG");
    release(p[1]);
    r = SC(SYS_wait4, -a, &st, 0, NULL);
    say("wait4 -pgid returns the child in that group: %d", r == a);
    say("  status: %s", stname(st));

    /* A NULL status pointer, and bad ones: the child is reaped all the same. */
    pid = xfork();
    if (pid == 0)
        _exit(51);
    r = SC(SYS_wait4, pid, NULL, 0, NULL);
    say("wait4 with a NULL status returns the pid: %d", r == pid);
    pid = xfork();
    if (pid == 0)
        _exit(52);
    resw(SC(SYS_wait4, pid, (int *)1, 0, NULL), "wait4 status (int*)1");
    resw(SC(SYS_wait4, pid, &st, WNOHANG, NULL), "  then wait4 the pid");
    pid = xfork();
    if (pid == 0)
        _exit(53);
    resw(SC(SYS_wait4, pid, &st, 0, (struct rusage *)1), "wait4 rusage (void*)1");
    resw(SC(SYS_wait4, pid, &st, WNOHANG, NULL), "  then wait4 the pid");
    pid = xfork();
    if (pid == 0)
        _exit(54);
    resw(SC(SYS_waitpid, pid, (int *)1, 0), "waitpid status (int*)1");
}

/* Deaths by signal and exits, and kill to processes and groups. */
static int sig_self(int sig)
{
    pid_t pid = xfork();
    if (pid == 0) {
        SC(SYS_kill, getpid(), sig);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return st;
}

static void t_kill(void)
{
    static const int sigs[] = {
        SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGABRT, SIGFPE, SIGKILL, SIGUSR1,
        SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGCONT, SIGURG,
        SIGWINCH, SIGXCPU, SIGPWR, SIGSYS, 34 /* SIGRTMIN */, 64 /* SIGRTMAX */,
    };
    int p[2];
    pid_t pid, a, b;

    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        say("kill self %s (default action): %s", sname(sigs[i]), stname(sig_self(sigs[i])));

    /* Faults. */
    pid = xfork();
    if (pid == 0) {
        *(volatile int *)0 = 1;
        _exit(0);
    }
    reap(pid, "write to NULL");

    /* SIG_IGN, and SIGKILL that cannot be ignored. */
    signal(SIGTERM, SIG_IGN);
    say("kill self SIGTERM, SIG_IGN: %s", stname(sig_self(SIGTERM)));
    signal(SIGTERM, SIG_DFL);
    res(signal(SIGKILL, SIG_IGN) == SIG_ERR ? -1 : 0, "signal SIGKILL SIG_IGN");

    /* Another process: kill 0 probes, kill SIGTERM ends it. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(0);
    }
    close(p[0]);
    res(SC(SYS_kill, pid, 0), "kill child 0");
    res(SC(SYS_kill, pid, SIGTERM), "kill child SIGTERM");
    reap(pid, "child");
    res(SC(SYS_kill, pid, 0), "kill reaped child 0");
    close(p[1]);

    /* A zombie can be signalled; its status stays. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        _exit(17);
    }
    close(p[1]);
    drain(p[0]);
    close(p[0]);
    res(SC(SYS_kill, pid, 0), "kill exited, unreaped child 0");
    res(SC(SYS_kill, pid, SIGKILL), "kill exited, unreaped child SIGKILL");
    reap(pid, "that child");

    /* A child ignoring SIGTERM survives it. */
    int ready[2];
    char c;
    xpipe(p);
    xpipe(ready);
    pid = xfork();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        close(p[1]);
        close(ready[0]);
        close(ready[1]); /* SIG_IGN is set: the parent reads EOF */
        drain(p[0]);
        _exit(0);
    }
    close(p[0]);
    close(ready[1]);
    res(read(ready[0], &c, 1), "child ignoring SIGTERM is ready");
    close(ready[0]);
    res(SC(SYS_kill, pid, SIGTERM), "kill child ignoring SIGTERM");
    res(SC(SYS_kill, pid, SIGUSR1), "kill it SIGUSR1");
    release(p[1]);
    reap(pid, "child");

    /* A signal whose default action is to ignore it, to another process. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(5);
    }
    close(p[0]);
    res(SC(SYS_kill, pid, SIGWINCH), "kill child SIGWINCH (default: ignore)");
    res(SC(SYS_kill, pid, SIGCHLD), "kill child SIGCHLD (default: ignore)");
    res(SC(SYS_kill, pid, 0), "  still there");
    release(p[1]);
    reap(pid, "child");

    /* A child blocked writing into a full pipe dies of SIGKILL. */
    xpipe(p);
    xpipe(ready);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        close(ready[0]);
        static char big[1 << 20];
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        while (write(p[1], big, sizeof big) > 0)
            ;
        _exit(2);
    }
    close(p[1]);
    close(ready[1]);
    res(read(ready[0], &c, 1), "child about to fill a pipe is ready");
    close(ready[0]);
    /* Wait until the pipe holds something: the child is writing. */
    for (int k = 0, i = 0; k == 0 && i < 1000000; i++) {
        ioctl(p[0], FIONREAD, &k);
        if (k == 0)
            sched_yield();
    }
    res(SC(SYS_kill, pid, SIGKILL), "kill child blocked in write SIGKILL");
    reap(pid, "child");
    close(p[0]);

    /* A child blocked in wait4 for its own child dies of SIGTERM. */
    xpipe(p);
    xpipe(ready);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        pid_t g = xfork();
        if (g == 0) {
            close(ready[0]);
            close(ready[1]);
            drain(p[0]);
            _exit(0);
        }
        close(ready[0]);
        close(ready[1]);
        int gst;
        waitpid(g, &gst, 0);
        _exit(3);
    }
    close(p[0]);
    close(ready[1]);
    res(read(ready[0], &c, 1), "child and its child are ready");
    close(ready[0]);
    res(SC(SYS_kill, pid, SIGTERM), "kill child blocked in wait4 SIGTERM");
    reap(pid, "child");
    release(p[1]); /* its child, an orphan now, exits */
    /* If we are the reaper of orphans (pid 1 of a kernel), reap it. */
    {
        int st2;
        while (waitpid(-1, &st2, 0) > 0)
            ;
    }

    /* Errors. */
    res(SC(SYS_kill, 0x3fffffff, 0), "kill 0x3fffffff 0");
    res(SC(SYS_kill, 0x3fffffff, SIGTERM), "kill 0x3fffffff SIGTERM");
    res(SC(SYS_kill, -0x3fffffff, SIGTERM), "kill -0x3fffffff SIGTERM");
    res(SC(SYS_kill, getpid(), 65), "kill self 65");
    res(SC(SYS_kill, getpid(), -1), "kill self -1");
    res(SC(SYS_kill, getpid(), 0), "kill self 0");

    /* A group of two: kill -pgid ends both. */
    xpipe(p);
    a = xfork();
    if (a == 0) {
        close(p[1]);
        setpgid(0, 0);
        drain(p[0]);
        _exit(0);
    }
    setpgid(a, a);
    b = xfork();
    if (b == 0) {
        close(p[1]);
        setpgid(0, a);
        drain(p[0]);
        _exit(0);
    }
    setpgid(b, a);
    close(p[0]);
    res(SC(SYS_kill, -a, 0), "kill -pgid 0");
    res(SC(SYS_kill, -a, SIGTERM), "kill -pgid SIGTERM");
    reap(a, "group leader");
    reap(b, "other member");
    res(SC(SYS_kill, -a, 0), "kill -pgid 0 after");
    close(p[1]);

    /* kill 0 in a child that leads a group of three and ignores SIGUSR1. */
    pid = xfork();
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGUSR1, SIG_IGN);
        xpipe(p);
        xpipe(ready);
        pid_t g[2];
        for (int i = 0; i < 2; i++) {
            g[i] = xfork();
            if (g[i] == 0) {
                signal(SIGUSR1, SIG_DFL);
                close(p[1]);
                close(ready[0]);
                close(ready[1]);
                drain(p[0]);
                _exit(0);
            }
        }
        close(p[0]);
        close(ready[1]);
        res(read(ready[0], &c, 1), "child: its two children are ready");
        close(ready[0]);
        res(SC(SYS_kill, 0, SIGUSR1), "child: kill 0 SIGUSR1");
        reap(g[0], "child: its first child");
        reap(g[1], "child: its second child");
        close(p[1]);
        cexit(0);
    }
    reap(pid, "the child that sent kill 0 and ignores it");
}

/* SIGCHLD ignored and SA_NOCLDWAIT: children are not left as zombies. */
static void t_nozombie(void)
{
    int st;
    pid_t pid;
    signal(SIGCHLD, SIG_IGN);
    pid = xfork();
    if (pid == 0)
        _exit(3);
    resw(SC(SYS_wait4, pid, &st, 0, NULL), "SIGCHLD SIG_IGN: wait4 the child");
    resw(SC(SYS_wait4, -1, &st, 0, NULL), "  wait4 -1");
    signal(SIGCHLD, SIG_DFL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigaction(SIGCHLD, &sa, NULL);
    pid = xfork();
    if (pid == 0)
        _exit(3);
    resw(SC(SYS_wait4, pid, &st, 0, NULL), "SA_NOCLDWAIT: wait4 the child");
    sa.sa_flags = 0;
    sigaction(SIGCHLD, &sa, NULL);
    pid = xfork();
    if (pid == 0)
        _exit(3);
    reap(pid, "SIGCHLD back to SIG_DFL: child");
}

/* execve of programs: arguments, environment, pid, signal dispositions. */
static void t_exec(void)
{
    pid_t pid;
    char *env[] = {"A=1", "EMPTY=", "NOEQUALS", "B=two words", NULL};

    pid = xfork();
    if (pid == 0) {
        char *argv[] = {"zeroth", "CHILD", "args", "a", "b c", "", "--", NULL};
        execve(self, argv, env);
        cexit(127);
    }
    reap(pid, "execve SELF CHILD args a 'b c' '' --");

    pid = xfork();
    if (pid == 0) {
        char *argv[] = {self, "CHILD", "env", NULL};
        execve(self, argv, env);
        cexit(127);
    }
    reap(pid, "execve with 4 environment strings");
    pid = xfork();
    if (pid == 0) {
        char *argv[] = {self, "CHILD", "env", NULL};
        SC(SYS_execve, self, argv, NULL);
        cexit(127);
    }
    reap(pid, "execve with a NULL environment");

    /* The pid and the parent stay. */
    pid = xfork();
    if (pid == 0) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d", getpid());
        snprintf(b, sizeof b, "%d", getppid());
        char *argv[] = {self, "CHILD", "ids", a, b, NULL};
        execve(self, argv, environ);
        cexit(127);
    }
    reap(pid, "execve keeps pid and ppid");

    pid = spawn_child("exit", "33", NULL);
    reap(pid, "execve SELF CHILD exit 33");

    /* Ignored signals stay ignored; caught ones are reset to default. */
    pid = xfork();
    if (pid == 0) {
        signal(SIGTERM, SIG_IGN);
        char *argv[] = {self, "CHILD", "sigign", "15", NULL};
        execve(self, argv, environ);
        cexit(127);
    }
    reap(pid, "SIGTERM ignored before execve");
    pid = xfork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = (void (*)(int))cexit;
        sigaction(SIGUSR1, &sa, NULL);
        char *argv[] = {self, "CHILD", "sigign", "10", NULL};
        execve(self, argv, environ);
        cexit(127);
    }
    reap(pid, "SIGUSR1 caught before execve");

    /* Exec from a child that is itself the result of an exec, twice. */
    pid = spawn_child("execchain", "3", NULL);
    reap(pid, "three execs in a row, then exit 3");
}

/* execve errors. */
static void t_execerr(void)
{
    char *argv[] = {"x", NULL};
    char *badargv[] = {"x", (char *)1, NULL};
    char *volatile badp = (char *)1;

    res(SC(SYS_execve, "./missing", argv, environ), "execve ./missing");
    res(SC(SYS_execve, "", argv, environ), "execve \"\"");
    res(SC(SYS_execve, "/no/such/dir/prog", argv, environ), "execve /no/such/dir/prog");
    mkfile("noexec", "#!/bin/sh\nexit 0\n", 17, 0644);
    res(SC(SYS_execve, "./noexec", argv, environ), "execve a file without x bits");
    mkfile("garbage", "garbage\n\001\002\003 not a program\n", 28, 0755);
    res(SC(SYS_execve, "./garbage", argv, environ), "execve garbage with x bits");
    mkfile("empty", "", 0, 0755);
    res(SC(SYS_execve, "./empty", argv, environ), "execve an empty file");
    res(SC(SYS_execve, "./garbage/x", argv, environ), "execve through a file");
    res(SC(SYS_execve, ".", argv, environ), "execve .");
    mkdir("dir", 0755);
    res(SC(SYS_execve, "./dir", argv, environ), "execve a directory");
    res(SC(SYS_execve, "./dir/", argv, environ), "execve a directory/");
    res(SC(SYS_execve, badp, argv, environ), "execve path (char*)1");
    res(SC(SYS_execve, NULL, argv, environ), "execve path NULL");
    res(SC(SYS_execve, self, (char **)1, environ), "execve argv (char**)1");
    res(SC(SYS_execve, self, badargv, environ), "execve argv[1] (char*)1");
    res(SC(SYS_execve, self, argv, (char **)1), "execve envp (char**)1");
    res(SC(SYS_execve, self, argv, badargv), "execve envp[1] (char*)1");

    /* Argument sizes: one string over 128 KiB is too long; 100 KiB and
     * 10000 arguments are fine. */
    static char huge[200001];
    memset(huge, 'h', sizeof huge - 1);
    char *hargv[] = {self, "CHILD", "arglen", huge, NULL};
    res(SC(SYS_execve, self, hargv, environ), "execve with a 200000-byte argument");
    char *henv[] = {huge, NULL};
    res(SC(SYS_execve, self, argv, henv), "execve with a 200000-byte environment string");
    huge[100000] = 0;
    pid_t pid = xfork();
    if (pid == 0) {
        execve(self, hargv, environ);
        cexit(127);
    }
    reap(pid, "execve with a 100000-byte argument");
    static char *many[10004];
    many[0] = self;
    many[1] = "CHILD";
    many[2] = "arglen";
    for (int i = 3; i < 10003; i++)
        many[i] = "an argument";
    pid = xfork();
    if (pid == 0) {
        execve(self, many, environ);
        cexit(127);
    }
    reap(pid, "execve with 10003 arguments");

    /* An ELF header for another machine, and a truncated program. */
    int fd = open(self, O_RDONLY);
    static char img[1 << 16];
    ssize_t n = read(fd, img, sizeof img);
    close(fd);
    if (n < 1024)
        say("SETUP read SELF");
    img[18] = 40; /* e_machine: EM_ARM */
    mkfile("arm", img, n, 0755);
    res(SC(SYS_execve, "./arm", argv, environ), "execve an ELF for EM_ARM");
    img[18] = 3;
    mkfile("short", img, 40, 0755);
    res(SC(SYS_execve, "./short", argv, environ), "execve the first 40 bytes of an ELF");

    /* Nothing changed: this process goes on. */
    say("still here after the failed execs: %d", getpid() > 0);
    rm("noexec");
    rm("garbage");
    rm("empty");
    rm("arm");
    rm("short");
    rmdir("dir");
}

/* #! scripts: the interpreter's arguments, nesting, errors. */
static void t_script(void)
{
    char line[4400];
    pid_t pid;

    snprintf(line, sizeof line, "#!%s SCRIPTARGS\necho not run\n", self);
    mkfile("script-1", line, strlen(line), 0755);
    snprintf(line, sizeof line, "#!%s\n", self);
    mkfile("script-2", line, strlen(line), 0755);
    snprintf(line, sizeof line, "#! \t%s \t SCRIPTARGS two\t words \t \n", self);
    mkfile("script-3", line, strlen(line), 0755);
    snprintf(line, sizeof line, "#!%s SCRIPTARGS", self);
    mkfile("script-4", line, strlen(line), 0755);
    snprintf(line, sizeof line, "#!%s/script-1 outer-arg\n", cwd);
    mkfile("script-5", line, strlen(line), 0755);
    snprintf(line, sizeof line, "#!%s SCRIPTARGS\n", self);
    mkfile("script-noexec", line, strlen(line), 0644);
    mkfile("script-missing", "#!/no/such/interpreter arg\n", 27, 0755);
    mkfile("script-empty", "#!\n", 3, 0755);
    mkfile("script-spaces", "#!   \n", 6, 0755);
    mkfile("script-noexec-interp", "#!./script-noexec\n", 18, 0755);

    struct { const char *path; const char *what; } ok[] = {
        {"./script-1", "#!SELF SCRIPTARGS"},
        {"./script-2", "#!SELF (no argument)"},
        {"./script-3", "#! SELF SCRIPTARGS two words, spaces and tabs"},
        {"./script-4", "#!SELF SCRIPTARGS without a newline"},
        {"./script-5", "#!CWD/script-1 outer-arg: a script as interpreter"},
        {"script-1", "a relative path without ./"},
    };
    for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        pid = xfork();
        if (pid == 0) {
            char *argv[] = {"orig-argv0", "x", "y z", NULL};
            SC(SYS_execve, ok[i].path, argv, environ);
            printf("execve: -1 %s\n", ename(errno));
            cexit(127);
        }
        reap(pid, "execve %s (%s)", ok[i].path, ok[i].what);
    }
    snprintf(line, sizeof line, "%s/script-1", cwd);
    pid = xfork();
    if (pid == 0) {
        char *argv[] = {"orig-argv0", NULL};
        SC(SYS_execve, line, argv, environ);
        cexit(127);
    }
    reap(pid, "execve CWD/script-1");

    char *argv[] = {"x", NULL};
    res(SC(SYS_execve, "./script-noexec", argv, environ), "execve a script without x bits");
    res(SC(SYS_execve, "./script-missing", argv, environ), "execve a script with a missing interpreter");
    res(SC(SYS_execve, "./script-empty", argv, environ), "execve #! and nothing");
    res(SC(SYS_execve, "./script-spaces", argv, environ), "execve #! and spaces");
    res(SC(SYS_execve, "./script-noexec-interp", argv, environ),
        "execve a script whose interpreter has no x bits");

    static const char *names[] = {
        "script-1", "script-2", "script-3", "script-4", "script-5", "script-noexec",
        "script-missing", "script-empty", "script-spaces", "script-noexec-interp",
    };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        rm(names[i]);
}

/* The top process replaces itself (not in `all`). */
static void t_execself(void)
{
    char *argv[] = {self, "CHILD", "args", "replaced", "the", "top", "process", NULL};
    say("before execve");
    flush();
    execve(self, argv, environ);
    say("execve: -1 %s", ename(errno));
}

/* Pipes within one process. */
static void t_pipe(void)
{
    int p[2], q[2], n;
    char b[8192];
    struct stat s;

    res(pipe(p), "pipe");
    res(fstat(p[0], &s), "fstat read end");
    say("  fifo: %d, mode %04o, size %lld", S_ISFIFO(s.st_mode), s.st_mode & 07777,
        (long long)s.st_size);
    res(fstat(p[1], &s), "fstat write end");
    say("  fifo: %d, mode %04o", S_ISFIFO(s.st_mode), s.st_mode & 07777);
    say("F_GETFL read end O_RDONLY: %d", fcntl(p[0], F_GETFL) == O_RDONLY);
    say("F_GETFL write end O_WRONLY: %d", fcntl(p[1], F_GETFL) == O_WRONLY);
    res(fcntl(p[0], F_GETFD), "F_GETFD");
    res(write(p[1], "hello", 5), "write 5");
    res(ioctl(p[0], FIONREAD, &n), "FIONREAD read end");
    say("  %d", n);
    res(ioctl(p[1], FIONREAD, &n), "FIONREAD write end");
    say("  %d", n);
    res(read(p[0], b, 3), "read 3");
    say("  \"%.3s\"", b);
    res(read(p[0], b, 100), "read 100 (2 left)");
    say("  \"%.2s\"", b);
    res(write(p[1], "ab", 2), "write 2");
    res(write(p[1], "cd", 2), "write 2");
    res(read(p[0], b, 100), "read 100 (two writes)");
    res(write(p[1], "", 0), "write 0");
    res(read(p[0], b, 0), "read 0 from an empty pipe");
    res(read(p[1], b, 1), "read write end");
    res(write(p[0], "x", 1), "write read end");
    res(lseek(p[0], 0, SEEK_SET), "lseek read end");
    res(pread(p[0], b, 1, 0), "pread read end");
    res(pwrite(p[1], "x", 1, 0), "pwrite write end");
    res(fcntl(p[0], F_SETFL, O_NONBLOCK), "F_SETFL O_NONBLOCK read end");
    res(read(p[0], b, 1), "read an empty pipe, O_NONBLOCK");

    /* EOF only when every write end is closed. */
    q[0] = dup(p[1]);
    close(p[1]);
    res(read(p[0], b, 1), "read, one of two write ends closed");
    res(write(q[0], "z", 1), "write through the dup");
    res(read(p[0], b, 10), "read");
    close(q[0]);
    res(read(p[0], b, 1), "read, all write ends closed");
    close(p[0]);

    /* pipe2 flags. */
    res(SC(SYS_pipe2, p, O_NONBLOCK | O_CLOEXEC), "pipe2 O_NONBLOCK|O_CLOEXEC");
    say("  F_GETFL read end O_NONBLOCK: %d", (fcntl(p[0], F_GETFL) & O_NONBLOCK) != 0);
    say("  F_GETFL write end O_NONBLOCK: %d", (fcntl(p[1], F_GETFL) & O_NONBLOCK) != 0);
    res(fcntl(p[0], F_GETFD), "  F_GETFD read end");
    res(fcntl(p[1], F_GETFD), "  F_GETFD write end");
    res(read(p[0], b, 1), "  read empty");

    /* Filling: O_NONBLOCK writes stop with EAGAIN. */
    memset(b, 'f', sizeof b);
    long total = 0, r;
    while ((r = write(p[1], b, 1024)) > 0)
        total += r;
    res(r, "write 1 KiB at a time until");
    say("  capacity at least 4096 and a multiple of 1024: %d", total >= 4096 && total % 1024 == 0);
    res(ioctl(p[0], FIONREAD, &n), "FIONREAD full pipe");
    say("  == bytes written: %d", n == total);
    res(write(p[1], b, 1), "write 1 to the full pipe");
    res(read(p[0], b, 4096), "read 4096");
    res(write(p[1], b, 4096), "write 4096 (PIPE_BUF) into the room made");
    long got = 0;
    while ((r = read(p[0], b, sizeof b)) > 0)
        got += r;
    res(r, "read everything until");
    say("  all written bytes read: %d", got == total);
    r = write(p[1], b, sizeof b);
    say("write 8192 to an empty O_NONBLOCK pipe: %ld", r);
    close(p[0]);

    /* Writing with no reader. */
    signal(SIGPIPE, SIG_IGN);
    res(write(p[1], "x", 1), "write, read end closed, SIGPIPE ignored");
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);

    /* Errors. */
    res(SC(SYS_pipe, (int *)1), "pipe (int*)1");
    res(SC(SYS_pipe2, (int *)1, 0), "pipe2 (int*)1");
    res(SC(SYS_pipe2, p, 1), "pipe2 flags 1");
    res(SC(SYS_pipe2, p, O_APPEND), "pipe2 O_APPEND");
}

/* Pipes between processes: blocking both ways, EOF, EPIPE, SIGPIPE. */
static void t_pipeio(void)
{
    int p[2], q[2], st;
    pid_t pid;
    char b[7000];
    long n, r;

    /* The child writes 200000 bytes in 3000-byte writes; we read to EOF. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        char w[3000];
        long left = 200000;
        while (left > 0) {
            int k = left < 3000 ? (int)left : 3000;
            for (int i = 0; i < k; i++)
                w[i] = (char)((200000 - left + i) % 251);
            if (write(p[1], w, k) != k)
                _exit(1);
            left -= k;
        }
        _exit(0);
    }
    close(p[1]);
    unsigned ok = 1;
    n = 0;
    while ((r = read(p[0], b, sizeof b)) > 0) {
        for (int i = 0; i < r; i++)
            ok &= (unsigned char)b[i] == (n + i) % 251;
        n += r;
    }
    res(r, "read child's 200000 bytes until");
    say("  bytes %ld, all in order: %u", n, ok);
    close(p[0]);
    reap(pid, "writer");

    /* We write 300000 bytes; the child counts them and reports on another pipe. */
    xpipe(p);
    xpipe(q);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        close(q[0]);
        unsigned s = 0;
        long k = 0;
        while ((r = read(p[0], b, sizeof b)) > 0) {
            for (int i = 0; i < r; i++)
                s = s * 31 + (unsigned char)b[i];
            k += r;
        }
        dprintf(q[1], "child read %ld bytes, hash %08x", k, s);
        _exit(0);
    }
    close(p[0]);
    close(q[1]);
    unsigned s = 0;
    for (long left = 300000; left > 0;) {
        int k = left < (long)sizeof b ? (int)left : (int)sizeof b;
        for (int i = 0; i < k; i++) {
            b[i] = (char)((300000 - left + i) * 13);
            s = s * 31 + (unsigned char)b[i];
        }
        if (write(p[1], b, k) != k) {
            say("write: -1 %s", ename(errno));
            break;
        }
        left -= k;
    }
    close(p[1]);
    n = read(q[0], b, sizeof b - 1);
    b[n > 0 ? n : 0] = 0;
    say("%s; hash as written: %d", b, strstr(b, "hash") && strtoul(strstr(b, "hash") + 5, NULL, 16) == s);
    close(q[0]);
    reap(pid, "reader");

    /* A blocked read ends with EOF when the writer exits without writing. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        sched_yield();
        _exit(0);
    }
    close(p[1]);
    res(read(p[0], b, 10), "read until the writing child exits");
    close(p[0]);
    reap(pid, "writer");

    /* A writer blocked on a full pipe gets EPIPE when the reader closes. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        memset(b, 'w', sizeof b);
        while ((r = write(p[1], b, sizeof b)) > 0)
            ;
        cexit(r < 0 && errno == EPIPE ? 0 : 1);
    }
    close(p[1]);
    n = 0;
    while (n < 1000 && (r = read(p[0], b, 1000 - n)) > 0)
        n += r;
    close(p[0]);
    reap(pid, "writer ignoring SIGPIPE (0: write failed with EPIPE)");

    /* With SIGPIPE's default action, the writer dies. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        memset(b, 'w', sizeof b);
        while (write(p[1], b, sizeof b) > 0)
            ;
        _exit(0);
    }
    close(p[1]);
    n = read(p[0], b, 100);
    close(p[0]);
    reap(pid, "writer, SIGPIPE default");

    /* Bytes left by an exited writer stay readable; FIONREAD counts them. */
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        if (write(p[1], "0123456789", 10) != 10)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    reap(pid, "writer of 10 bytes");
    int k = -1;
    res(ioctl(p[0], FIONREAD, &k), "FIONREAD");
    say("  %d", k);
    res(read(p[0], b, sizeof b), "read");
    res(read(p[0], b, sizeof b), "read again");
    close(p[0]);

    /* A blocked O_NONBLOCK-free writer and reader on both sides of two pipes:
     * ping-pong 1000 times. */
    xpipe(p);
    xpipe(q);
    pid = xfork();
    if (pid == 0) {
        close(p[1]);
        close(q[0]);
        unsigned char c;
        while (read(p[0], &c, 1) == 1) {
            c++;
            if (write(q[1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    close(p[0]);
    close(q[1]);
    unsigned char c = 0;
    int rounds = 0;
    for (; rounds < 1000; rounds++) {
        unsigned char d = c;
        if (write(p[1], &d, 1) != 1 || read(q[0], &c, 1) != 1 || c != (unsigned char)(d + 1))
            break;
    }
    say("ping-pong rounds: %d", rounds);
    close(p[1]);
    close(q[0]);
    reap(pid, "ping-pong partner");
    (void)st;
}

/* Two children joined by a pipe, each an execve of SELF. */
static void t_pipeline(void)
{
    int p[2];
    pid_t a, b;

    xpipe(p);
    a = xfork();
    if (a == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char *argv[] = {self, "CHILD", "gen", "3000", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    b = xfork();
    if (b == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        char *argv[] = {self, "CHILD", "count", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    close(p[0]);
    close(p[1]);
    reap(b, "gen 3000 | count: count");
    reap(a, "gen 3000 | count: gen");

    /* The reader stops early: the writer dies of SIGPIPE. */
    xpipe(p);
    a = xfork();
    if (a == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char *argv[] = {self, "CHILD", "yes", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    b = xfork();
    if (b == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        char *argv[] = {self, "CHILD", "head", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    close(p[0]);
    close(p[1]);
    reap(b, "yes | head: head");
    reap(a, "yes | head: yes");

    /* Three stages, the middle one a fork without exec, reaped with -1. */
    int p2[2];
    xpipe(p);
    xpipe(p2);
    pid_t c;
    a = xfork();
    if (a == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        close(p2[0]);
        close(p2[1]);
        char *argv[] = {self, "CHILD", "gen", "500", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    b = xfork();
    if (b == 0) {
        /* Upper-case every byte. */
        close(p[1]);
        close(p2[0]);
        char buf[512];
        ssize_t r;
        while ((r = read(p[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < r; i++)
                if (buf[i] >= 'a' && buf[i] <= 'z')
                    buf[i] -= 32;
            if (write(p2[1], buf, r) != r)
                _exit(1);
        }
        _exit(0);
    }
    c = xfork();
    if (c == 0) {
        dup2(p2[0], 0);
        close(p[0]);
        close(p[1]);
        close(p2[0]);
        close(p2[1]);
        char *argv[] = {self, "CHILD", "count", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    close(p[0]);
    close(p[1]);
    close(p2[0]);
    close(p2[1]);
    int left = 3, bad = 0, st;
    while (left > 0) {
        pid_t r = waitpid(-1, &st, 0);
        if (r != a && r != b && r != c)
            break;
        bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
        left--;
    }
    say("gen | upper-case | count: all three reaped, all exited 0: %d", left == 0 && !bad);
}

/* Descriptors across fork and exec: shared offsets, close-on-exec. */
static void t_fds(void)
{
    int fd, st;
    pid_t pid;
    char b[64];

    mkfile("f", "0123456789", 10, 0644);
    fd = open("f", O_RDONLY);
    pid = xfork();
    if (pid == 0) {
        if (read(fd, b, 3) != 3)
            _exit(1);
        close(fd);
        _exit(0);
    }
    reap(pid, "child read 3 and closed its fd");
    res(lseek(fd, 0, SEEK_CUR), "parent's offset (shared)");
    res(read(fd, b, 2), "parent reads 2 (fd still open)");
    say("  \"%.2s\"", b);
    close(fd);

    /* O_APPEND writes from both sides land one after the other. */
    fd = open("f", O_WRONLY | O_APPEND);
    pid = xfork();
    if (pid == 0) {
        if (write(fd, "child", 5) != 5)
            _exit(1);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    if (write(fd, "parent", 6) != 6)
        say("write: -1 %s", ename(errno));
    close(fd);
    cat("f", "file after appends: ");

    /* Close-on-exec: set by O_CLOEXEC, F_SETFD, F_DUPFD_CLOEXEC, dup3,
     * pipe2; cleared by dup2; kept by fork. */
    int plain = open("f", O_RDONLY);
    int cloexec = open("f", O_RDONLY | O_CLOEXEC);
    int dup2ed = dup2(cloexec, 20);
    int setfd = open("f", O_RDONLY);
    fcntl(setfd, F_SETFD, FD_CLOEXEC);
    int dupfd = fcntl(plain, F_DUPFD_CLOEXEC, 30);
    int dup3ed = dup3(plain, 25, O_CLOEXEC);
    int pp[2];
    SC(SYS_pipe2, pp, O_CLOEXEC);
    lseek(plain, 4, SEEK_SET);
    pid = xfork();
    if (pid == 0) {
        say("child after fork: F_GETFD of O_CLOEXEC fd %d, plain fd %d",
            fcntl(cloexec, F_GETFD), fcntl(plain, F_GETFD));
        flush();
        char a[7][16];
        int fds[7] = {plain, cloexec, dup2ed, setfd, dupfd, dup3ed, pp[0]};
        for (int i = 0; i < 7; i++)
            snprintf(a[i], sizeof a[i], "%d", fds[i]);
        char *argv[] = {self, "CHILD", "fds", a[0], a[1], a[2], a[3], a[4], a[5], a[6], NULL};
        execve(self, argv, environ);
        cexit(127);
    }
    reap(pid, "after execve: plain, O_CLOEXEC, dup2 of it, F_SETFD, F_DUPFD_CLOEXEC, dup3 "
              "O_CLOEXEC, pipe2 O_CLOEXEC");
    close(plain);
    close(cloexec);
    close(dup2ed);
    close(setfd);
    close(dupfd);
    close(dup3ed);
    close(pp[0]);
    close(pp[1]);

    /* Standard output redirected to a file for an exec'd child. */
    pid = xfork();
    if (pid == 0) {
        int o = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        close(o);
        char *argv[] = {self, "CHILD", "args", "into", "a file", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    reap(pid, "child with stdout to a file");
    cat("out", "out: ");

    /* A pipe read end as a child's stdin after exec; the parent writes. */
    int p[2];
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[0]);
        close(p[1]);
        char *argv[] = {self, "CHILD", "count", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    close(p[0]);
    for (int i = 0; i < 100; i++)
        dprintf(p[1], "parent line %d\n", i);
    release(p[1]);
    reap(pid, "count of 100 lines from the parent");

    rm("f");
    rm("out");
}

/* Process groups and sessions. */
static void t_pgrp(void)
{
    int p[2], r2[2];
    pid_t a, b, c, d, pg = getpgrp();
    char ch;

    say("getpgrp == getpgid(0): %d", SC(SYS_getpgrp) == SC(SYS_getpgid, 0));
    say("getpgid(getpid()) == getpgrp: %d", SC(SYS_getpgid, getpid()) == pg);
    say("getsid(0) == getsid(getpid()): %d", SC(SYS_getsid, 0) == SC(SYS_getsid, getpid()));
    res(SC(SYS_getpgid, 0x3fffffff), "getpgid 0x3fffffff");
    res(SC(SYS_getsid, 0x3fffffff), "getsid 0x3fffffff");
    res(SC(SYS_getpgid, -1), "getpgid -1");
    res(SC(SYS_setpgid, 0x3fffffff, 0), "setpgid 0x3fffffff 0");
    res(SC(SYS_setpgid, 0, -1), "setpgid 0 -1");
    res(SC(SYS_setpgid, -1, 0), "setpgid -1 0");
    res(SC(SYS_setpgid, 0, 0x3fffffff), "setpgid 0 0x3fffffff (no such group)");

    /* A: its own group; B: joins A's group. */
    xpipe(p);
    a = xfork();
    if (a == 0) {
        close(p[1]);
        long r = SC(SYS_setpgid, 0, 0);
        int ok = (r == 0) + 2 * (SC(SYS_getpgrp) == getpid()) + 4 * (SC(SYS_getpgid, getppid()) == pg) +
                 8 * (SC(SYS_getsid, 0) == SC(SYS_getsid, getppid()));
        drain(p[0]);
        _exit(ok);
    }
    res(SC(SYS_setpgid, a, a), "parent: setpgid child child");
    say("getpgid(child) == child: %d", SC(SYS_getpgid, a) == a);
    say("getsid(child) == our sid: %d", SC(SYS_getsid, a) == SC(SYS_getsid, 0));
    b = xfork();
    if (b == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(0);
    }
    say("second child starts in our group: %d", SC(SYS_getpgid, b) == pg);
    res(SC(SYS_setpgid, b, a), "setpgid second child into the first's group");
    say("  getpgid(second) == first: %d", SC(SYS_getpgid, b) == a);
    res(SC(SYS_setpgid, b, b), "setpgid second child into a group of its own");
    res(SC(SYS_setpgid, b, pg), "setpgid second child back into ours");
    say("  getpgid(second) == ours: %d", SC(SYS_getpgid, b) == pg);
    release(p[1]);
    close(p[0]);
    reap(a, "first child (exit bits: 1 setpgid 0 0 ok, 2 getpgrp == getpid, "
            "4 getpgid(getppid()) == our group, 8 same session)");
    reap(b, "second child");

    /* C: a new session. */
    xpipe(p);
    c = xfork();
    if (c == 0) {
        close(p[1]);
        pid_t old_sid = SC(SYS_getsid, 0);
        long r = SC(SYS_setsid);
        int ok = (r == getpid()) + 2 * (SC(SYS_getsid, 0) == getpid()) +
                 4 * (SC(SYS_getpgrp) == getpid()) + 8 * (SC(SYS_getsid, 0) != old_sid);
        r = SC(SYS_setsid);
        ok += 16 * (r == -1 && errno == EPERM);
        r = SC(SYS_setpgid, 0, 0);
        ok += 32 * (r == 0);
        r = SC(SYS_setpgid, 0, pg);
        ok += 64 * (r == -1 && errno == EPERM);
        drain(p[0]);
        _exit(ok);
    }
    close(p[0]);
    /* Wait until it has called setsid: its sid changes. */
    for (int i = 0; i < 1000000 && SC(SYS_getsid, c) != c; i++)
        sched_yield();
    say("getsid(child after setsid) == child: %d", SC(SYS_getsid, c) == c);
    say("getpgid(child after setsid) == child: %d", SC(SYS_getpgid, c) == c);
    res(SC(SYS_setpgid, c, pg), "setpgid session leader child into our group");
    res(SC(SYS_setpgid, c, c), "setpgid session leader child child");
    release(p[1]);
    reap(c, "session leader child (exit bits: 1 setsid returns its pid, 2 getsid == pid, "
            "4 getpgrp == pid, 8 new sid, 16 setsid again EPERM, 32 setpgid 0 0 ok, "
            "64 setpgid 0 ourgroup EPERM)");

    /* A group whose only member is a zombie still exists: a shell's
       pipeline whose first command has ended joins its next one to it. */
    a = xfork();
    if (a == 0) {
        SC(SYS_setpgid, 0, 0);
        _exit(0);
    }
    SC(SYS_setpgid, a, a);
    {
        siginfo_t si;
        res(waitid(P_PID, a, &si, WEXITED | WNOWAIT), "waitid WNOWAIT: the group leader is a zombie");
    }
    res(kill(a, 0), "kill the zombie 0");
    res(kill(-a, 0), "kill the zombie's group 0");
    res(kill(-a, SIGCONT), "kill the zombie's group SIGCONT");
    xpipe(p);
    b = xfork();
    if (b == 0) {
        close(p[1]);
        drain(p[0]);
        _exit(0);
    }
    close(p[0]);
    res(SC(SYS_setpgid, b, a), "setpgid into a group of one zombie");
    say("  getpgid(second) == the zombie's group: %d", SC(SYS_getpgid, b) == a);
    release(p[1]);
    reap(b, "child in the zombie's group");
    reap(a, "zombie group leader");

    /* setsid in a group leader fails. */
    c = xfork();
    if (c == 0) {
        SC(SYS_setpgid, 0, 0);
        long r = SC(SYS_setsid);
        _exit(r == -1 && errno == EPERM ? 0 : 1);
    }
    reap(c, "child leading a group: setsid fails with EPERM (0: yes)");

    /* D: setpgid after the child's execve fails with EACCES. */
    xpipe(p);
    xpipe(r2);
    d = xfork();
    if (d == 0) {
        close(p[1]);
        close(r2[0]);
        char w[16], rd[16];
        snprintf(w, sizeof w, "%d", r2[1]);
        snprintf(rd, sizeof rd, "%d", p[0]);
        char *argv[] = {self, "CHILD", "wait", w, rd, NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    close(p[0]);
    close(r2[1]);
    res(read(r2[0], &ch, 1), "child after execve is ready");
    close(r2[0]);
    res(SC(SYS_setpgid, d, d), "setpgid child after its execve");
    release(p[1]);
    reap(d, "exec'd child");

    /* setpgid of a grandchild (not our child). */
    xpipe(p);
    xpipe(r2);
    a = xfork();
    if (a == 0) {
        close(p[1]);
        close(r2[0]);
        pid_t g = xfork();
        if (g == 0) {
            close(r2[1]);
            drain(p[0]);
            _exit(0);
        }
        if (write(r2[1], &g, sizeof g) != sizeof g)
            _exit(1);
        close(r2[1]);
        drain(p[0]);
        int gst;
        waitpid(g, &gst, 0);
        _exit(0);
    }
    close(p[0]);
    close(r2[1]);
    pid_t g = 0;
    if (read(r2[0], &g, sizeof g) != sizeof g)
        say("SETUP read grandchild");
    close(r2[0]);
    res(SC(SYS_setpgid, g, g), "setpgid grandchild");
    res(SC(SYS_setpgid, g, 0), "setpgid grandchild 0");
    say("getpgid(grandchild) == ours: %d", SC(SYS_getpgid, g) == pg);
    release(p[1]);
    reap(a, "child");
}

/* getppid of a child whose parent has exited changes. */
static void t_orphan(void)
{
    int p[2], ready[2];
    pid_t pid;
    xpipe(p);
    pid = xfork();
    if (pid == 0) {
        close(p[0]);
        xpipe(ready);
        pid_t me = getpid();
        pid_t g = xfork();
        if (g == 0) {
            int ok = getppid() == me;
            close(ready[0]);
            close(ready[1]); /* the parent may exit now */
            for (int i = 0; i < 2000 && getppid() == me; i++) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            ok += 2 * (getppid() != me);
            dprintf(p[1], "grandchild: ppid was its parent: %d, changed after the parent "
                    "exited: %d\n", ok & 1, (ok & 2) != 0);
            _exit(0);
        }
        close(ready[1]);
        char c;
        if (read(ready[0], &c, 1) != 0)
            _exit(1);
        _exit(0);
    }
    close(p[1]);
    reap(pid, "parent of the grandchild");
    char b[200];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof b - 1 && (r = read(p[0], b + n, sizeof b - 1 - n)) > 0)
        n += r;
    b[n] = 0;
    fputs(b, stdout);
    close(p[0]);
    /* If we are the reaper of orphans (pid 1 of a kernel), reap it. */
    int st;
    while (waitpid(-1, &st, 0) > 0)
        ;
}

/* vfork: the parent waits for the child's exit or execve; memory is shared. */
static volatile int vshared;
static volatile int verr;
static volatile pid_t vppid;

static int child_vm(void)
{
    vshared = 5;
    return 6;
}

static void t_vfork(void)
{
    pid_t pid, me = getpid();
    vshared = 0;
    flush();
    pid = vfork();
    if (pid == 0) {
        vshared = 1;
        vppid = getppid();
        _exit(3);
    }
    say("child's write seen after vfork returns (shared memory, parent suspended): %d", vshared == 1);
    say("child's getppid == parent's pid: %d", vppid == me);
    reap(pid, "vfork child");

    flush();
    pid = vfork();
    if (pid == 0) {
        char *argv[] = {self, "CHILD", "exit", "9", NULL};
        execve(self, argv, environ);
        _exit(127);
    }
    reap(pid, "vfork child that ran execve SELF CHILD exit 9");

    flush();
    verr = 0;
    pid = vfork();
    if (pid == 0) {
        char *argv[] = {"missing", NULL};
        execve("./missing", argv, environ);
        verr = errno;
        _exit(127);
    }
    say("vfork child's execve error, seen by the parent: %s", ename(verr));
    reap(pid, "that child");

    /* glibc's vfork() above is the vfork system call; now the clone flags
     * posix_spawn uses, with the child on a stack of its own. */
    static char stack[65536] __attribute__((aligned(16)));
    vshared = 0;
    pid = xclone(CLONE_VM | CLONE_VFORK | SIGCHLD, stack + sizeof stack, NULL, NULL, NULL, child_vm);
    say("clone CLONE_VM|CLONE_VFORK on a new stack: child's write seen: %d", vshared == 5);
    reap(pid, "that child");
}

/* clone flags of process-level clones. */
static int ptid_var, ctid_var;
static int tlsbuf[4] = {42, 43, 44, 45};

static int child_ptid(void)
{
    return ptid_var == 0 ? 0 : 1;
}

static int child_ctid(void)
{
    return ctid_var == raw_getpid() ? 0 : 1;
}

static int child_tls(void)
{
    int v;
    __asm__ volatile("movl %%gs:0, %0" : "=r"(v));
    return v;
}

static int child_seven(void)
{
    return 7;
}

static void t_clone(void)
{
    pid_t pid;
    int st;

    pid = xclone(SIGCHLD, NULL, NULL, NULL, NULL, child_seven);
    resok(pid, "clone SIGCHLD");
    reap(pid, "  child");

    ptid_var = 0;
    pid = xclone(CLONE_PARENT_SETTID | SIGCHLD, NULL, &ptid_var, NULL, NULL, child_ptid);
    say("clone CLONE_PARENT_SETTID: parent's ptid == pid: %d", ptid_var == pid);
    reap(pid, "  child (0: its copy of ptid unset)");

    ctid_var = 0;
    pid = xclone(CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, NULL, &ctid_var, child_ctid);
    reap(pid, "clone CLONE_CHILD_SETTID: child (0: its ctid == its pid)");
    say("  parent's ctid untouched: %d", ctid_var == 0);

    /* CLONE_SETTLS: a new TLS segment for the child in the slot %gs uses. */
    unsigned short gs;
    int before, after;
    __asm__ volatile("mov %%gs, %0" : "=r"(gs));
    __asm__ volatile("movl %%gs:0, %0" : "=r"(before));
    struct user_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.entry_number = gs >> 3;
    desc.base_addr = (unsigned)(uintptr_t)tlsbuf;
    desc.limit = 0xfffff;
    desc.seg_32bit = 1;
    desc.limit_in_pages = 1;
    desc.useable = 1;
    pid = xclone(CLONE_SETTLS | SIGCHLD, NULL, NULL, &desc, NULL, child_tls);
    reap(pid, "clone CLONE_SETTLS: child's %%gs:0 (42: the new segment)");
    __asm__ volatile("movl %%gs:0, %0" : "=r"(after));
    say("  parent's %%gs:0 unchanged: %d", before == after);

    /* Exit signal 0: a "clone" child, seen by wait only with __WALL/__WCLONE. */
    pid = xclone(0, NULL, NULL, NULL, NULL, child_seven);
    resok(pid, "clone exit signal 0");
    resw(SC(SYS_wait4, pid, &st, 0, NULL), "  wait4 pid");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "  wait4 -1 WNOHANG");
    long r = SC(SYS_wait4, pid, &st, __WALL, NULL);
    say("  wait4 pid __WALL returns it: %d", r == pid);
    say("  status: %s", stname(st));
    pid = xclone(0, NULL, NULL, NULL, NULL, child_seven);
    r = SC(SYS_wait4, pid, &st, __WCLONE, NULL);
    say("clone exit signal 0: wait4 pid __WCLONE returns it: %d", r == pid);
    say("  status: %s", stname(st));
    pid = xclone(SIGCHLD, NULL, NULL, NULL, NULL, child_seven);
    resw(SC(SYS_wait4, pid, &st, __WCLONE, NULL), "clone SIGCHLD: wait4 pid __WCLONE");
    reap(pid, "  then wait4 pid");

    /* Flag combinations Linux refuses. */
    res(xclone(CLONE_SIGHAND | SIGCHLD, NULL, NULL, NULL, NULL, child_seven),
        "clone CLONE_SIGHAND without CLONE_VM");
    res(xclone(CLONE_THREAD | SIGCHLD, NULL, NULL, NULL, NULL, child_seven),
        "clone CLONE_THREAD without CLONE_SIGHAND");
}

/* posix_spawn: file actions, attributes, errors. */
static void t_spawn(void)
{
    pid_t pid;
    int r;
    char *argv[] = {self, "CHILD", "args", "spawned", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;

    flush();
    r = posix_spawn(&pid, self, NULL, NULL, argv, environ);
    reserr(r, "posix_spawn SELF CHILD args spawned");
    reap(pid, "  child");

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv2[] = {self, "CHILD", "args", "to", "out", NULL};
    flush();
    r = posix_spawn(&pid, self, &fa, NULL, argv2, environ);
    posix_spawn_file_actions_destroy(&fa);
    reserr(r, "posix_spawn with stdout opened on out");
    reap(pid, "  child");
    cat("out", "  out: ");
    rm("out");

    int p[2];
    xpipe(p);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    char *argv3[] = {self, "CHILD", "gen", "1000", NULL};
    flush();
    r = posix_spawn(&pid, self, &fa, NULL, argv3, environ);
    posix_spawn_file_actions_destroy(&fa);
    reserr(r, "posix_spawn gen 1000 into a pipe");
    close(p[1]);
    say("  bytes read from the pipe: %ld", drain(p[0]));
    close(p[0]);
    reap(pid, "  child");

    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    char *argv4[] = {self, "CHILD", "pgrp", NULL};
    flush();
    r = posix_spawn(&pid, self, NULL, &at, argv4, environ);
    posix_spawnattr_destroy(&at);
    reserr(r, "posix_spawn POSIX_SPAWN_SETPGROUP 0");
    reap(pid, "  child");

    signal(SIGTERM, SIG_IGN);
    char *argv5[] = {self, "CHILD", "sigign", "15", NULL};
    flush();
    r = posix_spawn(&pid, self, NULL, NULL, argv5, environ);
    reserr(r, "posix_spawn with SIGTERM ignored");
    reap(pid, "  child");
    posix_spawnattr_init(&at);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    posix_spawnattr_setsigdefault(&at, &set);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    flush();
    r = posix_spawn(&pid, self, NULL, &at, argv5, environ);
    posix_spawnattr_destroy(&at);
    reserr(r, "posix_spawn POSIX_SPAWN_SETSIGDEF SIGTERM");
    reap(pid, "  child");
    signal(SIGTERM, SIG_DFL);

    /* Errors come back from the child; no child is left. */
    char *argv6[] = {"x", NULL};
    int st;
    flush();
    r = posix_spawn(&pid, "./missing", NULL, NULL, argv6, environ);
    reserr(r, "posix_spawn ./missing");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "  wait4 -1 WNOHANG");
    mkfile("noexec", "#!/bin/sh\n", 10, 0644);
    flush();
    r = posix_spawn(&pid, "./noexec", NULL, NULL, argv6, environ);
    reserr(r, "posix_spawn a file without x bits");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "  wait4 -1 WNOHANG");
    mkfile("garbage", "garbage garbage\n", 16, 0755);
    flush();
    r = posix_spawn(&pid, "./garbage", NULL, NULL, argv6, environ);
    reserr(r, "posix_spawn garbage");
    resw(SC(SYS_wait4, -1, &st, WNOHANG, NULL), "  wait4 -1 WNOHANG");
    flush();
    r = posix_spawnp(&pid, "no-such-program-in-path", NULL, NULL, argv6, environ);
    reserr(r, "posix_spawnp no-such-program-in-path");
    rm("noexec");
    rm("garbage");

    /* A #! script through posix_spawn. */
    char line[4200];
    snprintf(line, sizeof line, "#!%s SCRIPTARGS\n", self);
    mkfile("script-spawn", line, strlen(line), 0755);
    char *argv7[] = {"./script-spawn", "arg", NULL};
    flush();
    r = posix_spawn(&pid, "./script-spawn", NULL, NULL, argv7, environ);
    reserr(r, "posix_spawn ./script-spawn arg");
    reap(pid, "  child");
    rm("script-spawn");
}

/* Fork until EAGAIN or 200 children, all alive at once, then reap them. */
static void t_forkbomb(void)
{
    enum { MAX = 200 };
    static pid_t kids[MAX];
    int p[2], n = 0, err = 0;
    xpipe(p);
    flush();
    while (n < MAX) {
        pid_t c = fork();
        if (c < 0) {
            err = errno;
            break;
        }
        if (c == 0) {
            close(p[1]);
            drain(p[0]);
            _exit(0);
        }
        kids[n++] = c;
    }
    close(p[0]);
    close(p[1]);
    if (n == MAX || err == EAGAIN)
        say("forked until EAGAIN or %d children: 1", MAX);
    else
        say("fork failed with %s after %d children", ename(err), n);
    int reaped = 0, bad = 0, st;
    pid_t r;
    while ((r = waitpid(-1, &st, 0)) > 0) {
        int k = 0;
        while (k < n && kids[k] != r)
            k++;
        if (k == n || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
        else
            kids[k] = 0;
        reaped++;
    }
    say("all reaped, each once, all exited 0: %d", reaped == n && !bad);
    say("then waitpid: %s", ename(errno));
    pid_t c = xfork();
    if (c == 0)
        _exit(0);
    say("a fork works again: %d", c > 0 && waitpid(c, &st, 0) == c);
}

/* ------------------------------------------------------------------ */
/* SELF as a child: procs CHILD MODE ARGS...                           */

/* An argument, with this program's path as SELF and the cwd as CWD. */
static const char *show_arg(const char *a)
{
    static char b[4400];
    const char *s = getenv("PROCS_SELF");
    size_t n = strlen(cwd);
    if (s && !strcmp(a, s))
        return "SELF";
    if (n > 1 && !strncmp(a, cwd, n) && a[n] == '/') {
        snprintf(b, sizeof b, "CWD%s", a + n);
        return b;
    }
    return a;
}

static int child_main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    const char *m = argc > 2 ? argv[2] : "";
    if (!strcmp(m, "exit") && argc > 3)
        return atoi(argv[3]);
    if (!strcmp(m, "args")) {
        printf("  CHILD args: argc %d\n", argc);
        for (int i = 0; i < argc; i++)
            printf("  argv[%d] \"%s\"\n", i, show_arg(argv[i]));
        printf("  argv[argc] NULL: %d\n", argv[argc] == NULL);
        return 0;
    }
    if (!strcmp(m, "env")) {
        int n = 0;
        for (char **e = environ; *e; e++, n++)
            printf("  env \"%s\"\n", *e);
        printf("  CHILD env: %d strings\n", n);
        return 0;
    }
    if (!strcmp(m, "ids") && argc > 4) {
        printf("  CHILD ids: pid unchanged: %d, ppid unchanged: %d\n", getpid() == atoi(argv[3]),
               getppid() == atoi(argv[4]));
        return 0;
    }
    if (!strcmp(m, "gen") && argc > 3) {
        setvbuf(stdout, NULL, _IOFBF, 1 << 14);
        for (int i = 0, n = atoi(argv[3]); i < n; i++)
            printf("line %d of the generator\n", i);
        return 0;
    }
    if (!strcmp(m, "count")) {
        char b[4096];
        long bytes = 0, lines = 0;
        unsigned sum = 0;
        ssize_t r;
        while ((r = read(0, b, sizeof b)) > 0)
            for (ssize_t i = 0; i < r; i++) {
                bytes++;
                lines += b[i] == '\n';
                sum = sum * 31 + (unsigned char)b[i];
            }
        printf("  CHILD count: %ld lines, %ld bytes, hash %08x%s\n", lines, bytes, sum,
               r < 0 ? ", read error" : "");
        return 0;
    }
    if (!strcmp(m, "yes")) {
        char b[4096];
        for (unsigned i = 0; i < sizeof b; i += 2)
            memcpy(b + i, "y\n", 2);
        for (;;)
            if (write(1, b, sizeof b) < 0) {
                printf("  CHILD yes: write: %s\n", ename(errno));
                return 1;
            }
    }
    if (!strcmp(m, "head")) {
        char b[64];
        ssize_t r = read(0, b, sizeof b);
        printf("  CHILD head: read something: %d\n", r > 0);
        return 0;
    }
    if (!strcmp(m, "wait") && argc > 4) {
        int w = atoi(argv[3]), r = atoi(argv[4]);
        if (write(w, "r", 1) != 1)
            return 1;
        close(w);
        drain(r);
        return 0;
    }
    if (!strcmp(m, "fds")) {
        for (int i = 3; i < argc; i++) {
            int fd = atoi(argv[i]), f = fcntl(fd, F_GETFD);
            if (f < 0)
                printf("  CHILD fds: #%d: closed (%s)\n", i - 3, ename(errno));
            else
                printf("  CHILD fds: #%d: open, F_GETFD %d, offset %ld\n", i - 3, f,
                       (long)lseek(fd, 0, SEEK_CUR));
        }
        return 0;
    }
    if (!strcmp(m, "arglen")) {
        size_t total = 0, longest = 0;
        for (int i = 3; i < argc; i++) {
            size_t n = strlen(argv[i]);
            total += n;
            longest = n > longest ? n : longest;
        }
        printf("  CHILD arglen: argc %d, %zu bytes, longest %zu\n", argc, total, longest);
        return 0;
    }
    if (!strcmp(m, "pgrp")) {
        printf("  CHILD pgrp: in a group of its own: %d\n", getpgrp() == getpid());
        return 0;
    }
    if (!strcmp(m, "sigign") && argc > 3) {
        int sig = atoi(argv[3]);
        struct sigaction sa;
        sigaction(sig, NULL, &sa);
        printf("  CHILD sigign: %s is SIG_IGN: %d, SIG_DFL: %d\n", sname(sig),
               sa.sa_handler == SIG_IGN, sa.sa_handler == SIG_DFL);
        fflush(stdout);
        SC(SYS_kill, getpid(), sig);
        printf("  CHILD sigign: survived %s\n", sname(sig));
        return 0;
    }
    if (!strcmp(m, "execchain") && argc > 3) {
        int n = atoi(argv[3]);
        printf("  CHILD execchain %d\n", n);
        fflush(stdout);
        if (n <= 0)
            return 3;
        char a[16];
        snprintf(a, sizeof a, "%d", n - 1);
        char *av[] = {argv[0], "CHILD", "execchain", a, NULL};
        execve(argv[0], av, environ);
        printf("  execve: -1 %s\n", ename(errno));
        return 127;
    }
    fprintf(stderr, "procs: bad CHILD mode %s\n", m);
    return 2;
}

/* SELF as a #! interpreter: print what it was given. */
static int script_main(int argc, char **argv)
{
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    printf("  interpreter: argc %d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("  argv[%d] \"%s\"\n", i, show_arg(argv[i]));
    return 0;
}

static int is_script_call(const char *a)
{
    return !strncmp(a, "SCRIPTARGS", 10) || strstr(a, "script-") != NULL;
}

/* ------------------------------------------------------------------ */

static const struct test {
    const char *name;
    void (*fn)(void);
    int alone; /* not in `all` */
} tests[] = {
    {"fork", t_fork, 0},       {"wait", t_wait, 0},         {"kill", t_kill, 0},
    {"nozombie", t_nozombie, 0}, {"exec", t_exec, 0},       {"execerr", t_execerr, 0},
    {"script", t_script, 0},   {"execself", t_execself, 1}, {"pipe", t_pipe, 0},
    {"pipeio", t_pipeio, 0},   {"pipeline", t_pipeline, 0}, {"fds", t_fds, 0},
    {"pgrp", t_pgrp, 0},       {"orphan", t_orphan, 0},     {"vfork", t_vfork, 0},
    {"clone", t_clone, 0},     {"spawn", t_spawn, 0},       {"forkbomb", t_forkbomb, 0},
};
#define NTESTS (int)(sizeof tests / sizeof tests[0])

static int lowest_free(void)
{
    for (int i = 0;; i++)
        if (fcntl(i, F_GETFD) < 0 && errno == EBADF)
            return i;
}

/* Run one subtest in the current directory; 0 when it left nothing behind. */
static int run(const struct test *t)
{
    int fds = lowest_free(), ok = 1, st;
    if (!getcwd(cwd, sizeof cwd)) {
        printf("getcwd failed: %s\n", ename(errno));
        return 1;
    }
    umask(022);
    t->fn();
    flush();
    if (chdir(cwd) < 0)
        printf("chdir back: -1 %s\n", ename(errno));
    if (lowest_free() != fds) {
        say("LEFT AN FD OPEN");
        ok = 0;
    }
    pid_t r = waitpid(-1, &st, WNOHANG);
    if (r >= 0) {
        say("LEFT A CHILD (%s)", r ? stname(st) : "running");
        ok = 0;
        while (waitpid(-1, &st, 0) > 0)
            ;
    }
    DIR *d = opendir(".");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            say("LEFT BEHIND: %s", e->d_name);
            ok = 0;
        }
    if (d)
        closedir(d);
    flush();
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "CHILD"))
        return child_main(argc, argv);
    if (argc >= 2 && is_script_call(argv[1]))
        return script_main(argc, argv);
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    /* No core files from the children killed by SIGQUIT, SIGSEGV, ...: they
     * would be left in the directory natively. */
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    if (argc != 2) {
        fprintf(stderr, "usage: procs LIST | all | NAME\n");
        return 2;
    }
    if (!strcmp(argv[1], "LIST")) {
        for (int i = 0; i < NTESTS; i++)
            puts(tests[i].name);
        return 0;
    }
    /* Our own absolute path, for execve and #! lines. */
    if (argv[0][0] == '/') {
        snprintf(self, sizeof self, "%s", argv[0]);
    } else {
        char here[4096];
        if (!getcwd(here, sizeof here)) {
            fprintf(stderr, "procs: getcwd: %s\n", ename(errno));
            return 2;
        }
        if (snprintf(self, sizeof self, "%s/%s", here, argv[0]) >= (int)sizeof self) {
            fprintf(stderr, "procs: path too long\n");
            return 2;
        }
    }
    setenv("PROCS_SELF", self, 1);
    const struct test *one = NULL;
    for (int i = 0; i < NTESTS; i++)
        if (!strcmp(argv[1], tests[i].name))
            one = &tests[i];
    if (!one && strcmp(argv[1], "all")) {
        fprintf(stderr, "procs: no subtest %s (try LIST)\n", argv[1]);
        return 2;
    }
    if (one)
        return run(one);
    int status = 0;
    for (int i = 0; i < NTESTS; i++) {
        if (tests[i].alone)
            continue;
        printf("== %s\n", tests[i].name);
        if (mkdir(tests[i].name, 0755) < 0 || chdir(tests[i].name) < 0) {
            printf("cannot make and enter %s: %s\n", tests[i].name, ename(errno));
            status = 1;
            continue;
        }
        status |= run(&tests[i]);
        if (chdir("..") < 0 || rmdir(tests[i].name) < 0) {
            printf("cannot remove %s: %s\n", tests[i].name, ename(errno));
            status = 1;
        }
    }
    flush();
    return status;
}
