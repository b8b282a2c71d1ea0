/*
 * evfds: a differential test of the event descriptors: eventfd, timerfd,
 * signalfd and epoll. Each subtest prints facts that do not depend on the
 * host or on timing (never pids, addresses or times; durations only as
 * "at least so long" booleans).
 *
 * Usage: evfds LIST   the subtest names
 *        evfds NAME   run one subtest
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Print what a call returned: its value, or -1 and the errno's name. */
static void show(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s: %ld\n", what, r);
}

static long ms_since(struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static long rd64(int fd, uint64_t *v)
{
    return read(fd, v, 8);
}

static long wr64(int fd, uint64_t v)
{
    return write(fd, &v, 8);
}

static short revents(int fd, short events)
{
    struct pollfd p = {fd, events, 0};
    poll(&p, 1, 0);
    return p.revents;
}

/* epoll_wait, printing how many events and each one's flags and data. */
static int ewait(const char *what, int ep, int timeout)
{
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, timeout);
    if (n < 0) {
        printf("%s: -1 %s\n", what, strerrorname_np(errno));
        return n;
    }
    printf("%s: %d", what, n);
    for (int i = 0; i < n; i++)
        printf(" [events %#x data %#llx]", ev[i].events, (unsigned long long)ev[i].data.u64);
    printf("\n");
    return n;
}

static int ectl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, op, fd, &ev);
}

static void t_eventfd_counter(void)
{
    uint64_t v = 0;
    int fd = eventfd(5, 0);
    printf("F_GETFL %#o, revents %#x\n", fcntl(fd, F_GETFL), revents(fd, POLLIN | POLLOUT));
    show("write 3", wr64(fd, 3));
    show("read", rd64(fd, &v));
    printf("value %llu, revents now %#x\n", (unsigned long long)v, revents(fd, POLLIN | POLLOUT));
    char small[4] = {0};
    show("read 4 bytes", read(fd, small, 4));
    show("write 4 bytes", write(fd, small, 4));
    show("write ~0", wr64(fd, ~0ULL));
    show("write 0", wr64(fd, 0));
    char big[16];
    wr64(fd, 9);
    show("read 16 bytes", read(fd, big, 16));
    memcpy(&v, big, 8);
    printf("value %llu\n", (unsigned long long)v);
    show("pread", pread(fd, &v, 8, 0));
    show("lseek", lseek(fd, 0, SEEK_CUR));
    show("fsync", fsync(fd));
    show("eventfd2 bad flags", eventfd(0, 0x10));

    int nb = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    printf("F_GETFL %#o, FD_CLOEXEC %d\n", fcntl(nb, F_GETFL), fcntl(nb, F_GETFD));
    show("read empty", rd64(nb, &v));
    show("write max", wr64(nb, 0xfffffffffffffffeULL));
    printf("revents at max %#x\n", revents(nb, POLLIN | POLLOUT));
    show("write 1 more", wr64(nb, 1));
    show("read", rd64(nb, &v));
    printf("value %#llx\n", (unsigned long long)v);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(nb, &r);
    struct timeval tv = {0, 0};
    show("select readable when 0", select(nb + 1, &r, 0, 0, &tv));
    wr64(nb, 2);
    FD_SET(nb, &r);
    show("select readable when 2", select(nb + 1, &r, 0, 0, &tv));
}

static void t_eventfd_semaphore(void)
{
    uint64_t v = 0;
    int fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    for (int i = 0; i < 4; i++) {
        v = 0;
        long r = rd64(fd, &v);
        if (r < 0)
            printf("read %d: -1 %s\n", i, strerrorname_np(errno));
        else
            printf("read %d: %ld value %llu\n", i, r, (unsigned long long)v);
    }
    wr64(fd, 2);
    printf("revents %#x\n", revents(fd, POLLIN));
}

static void t_eventfd_fork(void)
{
    /* A reader blocked at 0 wakes when a child writes; a writer blocked at
     * the maximum wakes when the parent reads. */
    int fd = eventfd(0, 0);
    pid_t c = fork();
    if (c == 0) {
        msleep(30);
        wr64(fd, 7);
        _exit(0);
    }
    uint64_t v = 0;
    show("blocking read", rd64(fd, &v));
    printf("value %llu\n", (unsigned long long)v);
    waitpid(c, 0, 0);

    wr64(fd, 0xfffffffffffffff0ULL);
    c = fork();
    if (c == 0) {
        long r = wr64(fd, 0x20); /* blocks until the parent reads */
        _exit(r == 8 ? 0 : 1);
    }
    msleep(30);
    show("read the big value", rd64(fd, &v));
    int st;
    waitpid(c, &st, 0);
    printf("child's write went through: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
    show("read", rd64(fd, &v));
    printf("value %#llx\n", (unsigned long long)v);
}

static int thread_fd;

static void *writer(void *arg)
{
    (void)arg;
    msleep(30);
    wr64(thread_fd, 42);
    return 0;
}

static void t_eventfd_thread(void)
{
    thread_fd = eventfd(0, 0);
    pthread_t t;
    pthread_create(&t, 0, writer, 0);
    uint64_t v = 0;
    show("blocking read", rd64(thread_fd, &v));
    printf("value %llu\n", (unsigned long long)v);
    pthread_join(t, 0);

    /* epoll_wait woken by a thread's write. */
    int ep = epoll_create1(0);
    ectl(ep, EPOLL_CTL_ADD, thread_fd, EPOLLIN, 77);
    pthread_create(&t, 0, writer, 0);
    ewait("epoll_wait -1", ep, -1);
    pthread_join(t, 0);
}

static void t_timerfd_oneshot(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec it, old;
    timerfd_gettime(fd, &it);
    printf("disarmed: value %ld.%09ld interval %ld.%09ld\n", (long)it.it_value.tv_sec, it.it_value.tv_nsec,
           (long)it.it_interval.tv_sec, it.it_interval.tv_nsec);
    memset(&it, 0, sizeof it);
    it.it_value.tv_nsec = 40 * 1000000;
    show("settime 40 ms", timerfd_settime(fd, 0, &it, &old));
    printf("old value zero: %d\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0);
    uint64_t v = 0;
    show("read before", rd64(fd, &v));
    timerfd_gettime(fd, &it);
    printf("value left in (0, 40 ms]: %d, interval zero: %d\n",
           it.it_value.tv_sec == 0 && it.it_value.tv_nsec > 0 && it.it_value.tv_nsec <= 40000000,
           it.it_interval.tv_sec == 0 && it.it_interval.tv_nsec == 0);
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("poll", poll(&p, 1, 2000));
    printf("revents %#x, waited at least 30 ms: %d\n", p.revents, ms_since(&t0) >= 30);
    show("read", rd64(fd, &v));
    printf("expirations %llu\n", (unsigned long long)v);
    show("read again", rd64(fd, &v));
    timerfd_gettime(fd, &it);
    printf("after: value %ld.%09ld\n", (long)it.it_value.tv_sec, it.it_value.tv_nsec);

    /* A blocking read waits for the expiration. */
    int b = timerfd_create(CLOCK_BOOTTIME, 0);
    it.it_value.tv_nsec = 20 * 1000000;
    timerfd_settime(b, 0, &it, 0);
    show("blocking read", rd64(b, &v));
    printf("expirations %llu\n", (unsigned long long)v);

    char small[4];
    show("read 4 bytes", read(fd, small, 4));
    show("write", wr64(fd, 1));
    show("create bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
    show("create bad flags", timerfd_create(CLOCK_MONOTONIC, 1));
    show("settime bad flags", timerfd_settime(fd, 4, &it, 0));
    it.it_value.tv_nsec = 1000000000;
    show("settime bad nsec", timerfd_settime(fd, 0, &it, 0));
    it.it_value.tv_nsec = 1;
    int e = eventfd(0, 0);
    show("settime on an eventfd", timerfd_settime(e, 0, &it, 0));
    show("gettime on an eventfd", timerfd_gettime(e, &it));
    show("settime bad fd", timerfd_settime(99, 0, &it, 0));
}

static void t_timerfd_interval(void)
{
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec it = {{0, 10000000}, {0, 10000000}}, cur;
    timerfd_settime(fd, 0, &it, 0);
    msleep(55);
    uint64_t v = 0;
    show("read", rd64(fd, &v));
    printf("at least 4 expirations: %d\n", v >= 4);
    timerfd_gettime(fd, &cur);
    printf("interval %ld.%09ld, value in (0, 10 ms]: %d\n", (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10000000);
    show("blocking read", rd64(fd, &v));
    printf("at least 1: %d\n", v >= 1);
    struct itimerspec off = {{0, 0}, {0, 0}}, old;
    show("disarm", timerfd_settime(fd, 0, &off, &old));
    printf("old interval %ld.%09ld\n", (long)old.it_interval.tv_sec, old.it_interval.tv_nsec);
    int nb = fcntl(fd, F_SETFL, O_NONBLOCK);
    (void)nb;
    show("read disarmed", rd64(fd, &v));
}

static void t_timerfd_abstime(void)
{
    uint64_t v = 0;
    struct timespec now;
    /* An absolute time in the past fires at once. */
    int fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
    clock_gettime(CLOCK_REALTIME, &now);
    struct itimerspec it = {{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
    show("settime past", timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, 0));
    show("read", rd64(fd, &v));
    printf("expirations %llu\n", (unsigned long long)v);
    /* ... with an interval: the missed ones count too. */
    it.it_interval.tv_nsec = 100000000;
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, 0);
    show("read", rd64(fd, &v));
    printf("expirations with 100 ms interval 1 s ago: in [10, 20]: %d\n", v >= 10 && v <= 20);

    /* An absolute time 30 ms ahead on the monotonic clock. */
    int m = timerfd_create(CLOCK_MONOTONIC, 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct itimerspec a = {{0, 0}, {t0.tv_sec, t0.tv_nsec + 30000000}};
    if (a.it_value.tv_nsec >= 1000000000) {
        a.it_value.tv_sec++;
        a.it_value.tv_nsec -= 1000000000;
    }
    show("settime abs +30 ms", timerfd_settime(m, TFD_TIMER_ABSTIME, &a, 0));
    show("blocking read", rd64(m, &v));
    printf("expirations %llu, waited at least 29 ms: %d\n", (unsigned long long)v, ms_since(&t0) >= 29);
    /* The time64 calls, as glibc makes them for a 64-bit time_t. */
    long long ts64[4] = {0, 0, 0, 5000000};
    show("timerfd_settime64", syscall(411, m, 0, ts64, 0));
    long long cur64[4];
    show("timerfd_gettime64", syscall(410, m, cur64));
    printf("value in (0, 5 ms]: %d\n", cur64[2] == 0 && cur64[3] > 0 && cur64[3] <= 5000000);
    show("blocking read", rd64(m, &v));
}

static void t_signalfd_self(void)
{
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, 0);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    int fd = signalfd(-1, &one, SFD_NONBLOCK);
    struct signalfd_siginfo si[2];
    show("read with none pending", read(fd, si, sizeof si));
    printf("revents %#x\n", revents(fd, POLLIN));
    kill(getpid(), SIGUSR1);
    printf("revents after kill %#x\n", revents(fd, POLLIN));
    memset(si, 0, sizeof si);
    show("read", read(fd, si, sizeof si));
    printf("ssi_signo %u ssi_code %d ssi_pid is me %d\n", si[0].ssi_signo, si[0].ssi_code,
           si[0].ssi_pid == (uint32_t)getpid());
    show("read again", read(fd, si, sizeof si));
    char small[100];
    show("read 100 bytes", read(fd, small, sizeof small));

    /* A new mask; signals outside it stay pending. */
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    show("signalfd on the same fd", signalfd(fd, &one, 0) == fd);
    raise(SIGUSR1);
    raise(SIGUSR2);
    show("read", read(fd, si, sizeof si));
    printf("ssi_signo %u ssi_code %d\n", si[0].ssi_signo, si[0].ssi_code);
    sigset_t p;
    sigpending(&p);
    printf("SIGUSR1 still pending %d, SIGUSR2 %d\n", sigismember(&p, SIGUSR1), sigismember(&p, SIGUSR2));
    /* Two at once. */
    sigaddset(&one, SIGUSR1);
    signalfd(fd, &one, 0);
    raise(SIGUSR2);
    show("read two", read(fd, si, sizeof si));
    printf("ssi_signo %u and %u\n", si[0].ssi_signo, si[1].ssi_signo);

    struct stat st;
    fstat(fd, &st);
    printf("F_GETFL %#o\n", fcntl(fd, F_GETFL));
    show("signalfd size 4", syscall(SYS_signalfd4, -1, &one, 4, 0));
    show("signalfd bad flags", signalfd(-1, &one, 1));
    int e = eventfd(0, 0);
    show("signalfd on an eventfd", signalfd(e, &one, 0));
    show("signalfd on a bad fd", signalfd(77, &one, 0));
    show("write", write(fd, si, sizeof si[0]));
}

static void t_signalfd_child(void)
{
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGCHLD);
    sigprocmask(SIG_BLOCK, &m, 0);
    int fd = signalfd(-1, &m, 0);
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        msleep(30);
        kill(me, SIGUSR1);
        msleep(10);
        _exit(3);
    }
    struct signalfd_siginfo si;
    show("blocking read", read(fd, &si, sizeof si));
    printf("ssi_signo %u ssi_code %d from the child %d\n", si.ssi_signo, si.ssi_code, si.ssi_pid == (uint32_t)c);
    struct pollfd p = {fd, POLLIN, 0};
    show("poll for SIGCHLD", poll(&p, 1, 5000));
    show("read", read(fd, &si, sizeof si));
    printf("ssi_signo %u ssi_code %d ssi_status %d from the child %d\n", si.ssi_signo, si.ssi_code, si.ssi_status,
           si.ssi_pid == (uint32_t)c);
    int st;
    waitpid(c, &st, 0);
    printf("child exited %d\n", WEXITSTATUS(st));
}

static void t_epoll_level(void)
{
    int p[2];
    pipe(p);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    printf("FD_CLOEXEC %d\n", fcntl(ep, F_GETFD));
    show("add", ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0x1122334455667788ULL));
    ewait("empty pipe", ep, 0);
    write(p[1], "abc", 3);
    ewait("data", ep, 0);
    ewait("data still", ep, 0);
    char b[8];
    read(p[0], b, 8);
    ewait("drained", ep, 0);
    show("add write end", ectl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 2));
    ewait("write end", ep, 0);
    show("del write end", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], 0));
    close(p[1]);
    ewait("writer closed", ep, 0);
    printf("poll on the epoll fd %#x\n", revents(ep, POLLIN));
}

static void t_epoll_edge(void)
{
    int p[2];
    pipe(p);
    int ep = epoll_create(1);
    ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 1);
    ewait("empty", ep, 0);
    write(p[1], "ab", 2);
    ewait("written", ep, 0);
    ewait("again", ep, 0);
    char b[8];
    read(p[0], b, 1);
    ewait("after a partial read", ep, 0);
    write(p[1], "c", 1);
    ewait("more written", ep, 0);
    read(p[0], b, 8);
    ewait("drained", ep, 0);
    write(p[1], "d", 1);
    ewait("written after drain", ep, 0);
    read(p[0], b, 8);
    write(p[1], "e", 1);
    ewait("drained and written between waits", ep, 0);
    show("mod", ectl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 3));
    ewait("after mod", ep, 0);

    int out = epoll_create1(0);
    ectl(out, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLET, 2);
    ewait("write end", out, 0);
    ewait("write end again", out, 0);
    read(p[0], b, 8);
    ewait("write end after a read", out, 0);

    int e = eventfd(0, EFD_NONBLOCK);
    int eev = epoll_create1(0);
    ectl(eev, EPOLL_CTL_ADD, e, EPOLLIN | EPOLLET, 4);
    wr64(e, 1);
    ewait("eventfd written", eev, 0);
    ewait("eventfd again", eev, 0);
    wr64(e, 1);
    ewait("eventfd written again", eev, 0);
}

static void t_epoll_oneshot(void)
{
    int p[2];
    pipe(p);
    int ep = epoll_create1(0);
    ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLONESHOT, 5);
    write(p[1], "x", 1);
    ewait("oneshot", ep, 0);
    ewait("disarmed", ep, 0);
    show("mod", ectl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 6));
    ewait("re-armed as level", ep, 0);
    ewait("level again", ep, 0);
    show("del", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0));
    ewait("deleted", ep, 0);
    show("del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0));
    show("mod missing", ectl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0));
    show("add", ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 7));
    show("add twice", ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 7));
    show("add a bad fd", ectl(ep, EPOLL_CTL_ADD, 99, EPOLLIN, 0));
    show("bad epfd", ectl(98, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
    show("epfd not epoll", ectl(p[1], EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
    show("add itself", ectl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0));
    show("bad op", ectl(ep, 9, p[0], EPOLLIN, 0));
    show("add NULL event", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], 0));
    show("exclusive mod", ectl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
    show("exclusive oneshot", ectl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
    int f = open("/proc/self/exe", O_RDONLY);
    show("add a regular file", ectl(ep, EPOLL_CTL_ADD, f, EPOLLIN, 0));
    show("epoll_create 0", epoll_create(0));
    show("epoll_create1 bad flags", epoll_create1(1));
    struct epoll_event ev[1];
    show("wait maxevents 0", epoll_wait(ep, ev, 0, 0));
    show("wait on a pipe", epoll_wait(p[0], ev, 1, 0));
    show("wait on a bad fd", epoll_wait(97, ev, 1, 0));
    show("read the epoll fd", read(ep, ev, sizeof ev));
}

static void t_epoll_close(void)
{
    /* Entries belong to (fd, open file description): a dup keeps one
     * alive, closing the last descriptor removes it. */
    int p[2];
    pipe(p);
    write(p[1], "x", 1);
    int ep = epoll_create1(0);
    ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 8);
    int d = dup(p[0]);
    close(p[0]);
    ewait("closed but dup'd", ep, 0);
    show("del by the closed number", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], 0));
    show("del by the dup", epoll_ctl(ep, EPOLL_CTL_DEL, d, 0));
    close(d);
    ewait("closed everywhere", ep, 0);
    /* The same number, another file: a new entry. */
    int q[2];
    pipe(q);
    printf("reused number %d\n", q[0] == p[0]);
    show("add the new file", ectl(ep, EPOLL_CTL_ADD, q[0], EPOLLIN, 9));
    write(q[1], "y", 1);
    ewait("new file", ep, 0);
    /* Several entries, each with its data. */
    int e1 = eventfd(1, 0), e2 = eventfd(0, 0), e3 = eventfd(2, 0);
    ectl(ep, EPOLL_CTL_ADD, e1, EPOLLIN, 0xa1);
    ectl(ep, EPOLL_CTL_ADD, e2, EPOLLIN, 0xa2);
    ectl(ep, EPOLL_CTL_ADD, e3, EPOLLIN | EPOLLOUT, 0xffffffff000000a3ULL);
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, 8, 0);
    unsigned long long seen = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == 0xa1)
            seen |= 1;
        if (ev[i].data.u64 == 0xa2)
            seen |= 2;
        if (ev[i].data.u64 == 0xffffffff000000a3ULL && ev[i].events == (EPOLLIN | EPOLLOUT))
            seen |= 4;
        if (ev[i].data.u64 == 9)
            seen |= 8;
    }
    printf("%d events, seen %#llx\n", n, seen);
    /* maxevents 1 takes them in turn. */
    unsigned long long turn = 0;
    for (int i = 0; i < 3; i++) {
        epoll_wait(ep, ev, 1, 0);
        turn |= ev[0].data.u64 == 0xa1 ? 1 : ev[0].data.u64 == 9 ? 2 : 4;
    }
    printf("three waits of one saw all three: %d\n", turn == 7);
}

static void t_epoll_evfd_timerfd(void)
{
    int e = eventfd(0, 0);
    int t = timerfd_create(CLOCK_MONOTONIC, 0);
    int ep = epoll_create1(0);
    ectl(ep, EPOLL_CTL_ADD, e, EPOLLIN, 1);
    ectl(ep, EPOLL_CTL_ADD, t, EPOLLIN, 2);
    ewait("nothing yet", ep, 0);
    struct itimerspec it = {{0, 0}, {0, 30000000}};
    timerfd_settime(t, 0, &it, 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ewait("timer", ep, -1);
    printf("waited at least 25 ms: %d\n", ms_since(&t0) >= 25);
    uint64_t v;
    rd64(t, &v);
    ewait("timer read", ep, 0);
    wr64(e, 5);
    ewait("eventfd", ep, 0);
    show("mod to EPOLLOUT", ectl(ep, EPOLL_CTL_MOD, e, EPOLLOUT, 3));
    ewait("eventfd writable", ep, 0);

    /* A signalfd in an epoll set. */
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, 0);
    int s = signalfd(-1, &m, 0);
    int ep2 = epoll_create1(0);
    ectl(ep2, EPOLL_CTL_ADD, s, EPOLLIN, 4);
    ewait("signalfd", ep2, 0);
    raise(SIGUSR2);
    ewait("signalfd after raise", ep2, 0);
    struct signalfd_siginfo si;
    read(s, &si, sizeof si);
    ewait("signalfd read", ep2, 0);

    /* Nested: an epoll fd in another epoll set. */
    int outer = epoll_create1(0);
    show("add epoll to epoll", ectl(outer, EPOLL_CTL_ADD, ep, EPOLLIN, 5));
    ewait("outer", outer, 0);
    show("loop", ectl(ep, EPOLL_CTL_ADD, outer, EPOLLIN, 6));
}

static void t_epoll_timeouts(void)
{
    int ep = epoll_create1(0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ewait("timeout 0", ep, 0);
    printf("returned within 20 ms: %d\n", ms_since(&t0) < 20);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ewait("timeout 30", ep, 30);
    printf("waited at least 29 ms: %d\n", ms_since(&t0) >= 29);
    struct epoll_event ev[1];
    long long ts[2] = {0, 20000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    show("epoll_pwait2 20 ms", syscall(441, ep, ev, 1, ts, 0, 8));
    printf("waited at least 19 ms: %d\n", ms_since(&t0) >= 19);
    long long bad[2] = {0, 1000000000};
    show("epoll_pwait2 bad timespec", syscall(441, ep, ev, 1, bad, 0, 8));
    sigset_t m;
    sigemptyset(&m);
    show("epoll_pwait bad sigsetsize", syscall(SYS_epoll_pwait, ep, ev, 1, 0, &m, 4));
}

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

static void t_epoll_pwait_eintr(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART; /* epoll_wait is never restarted */
    sigaction(SIGUSR1, &sa, 0);
    sigset_t block, empty;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, 0);
    raise(SIGUSR1);
    int ep = epoll_create1(0);
    struct epoll_event ev[1];
    show("pwait with SIGUSR1 still blocked, 10 ms", epoll_pwait(ep, ev, 1, 10, &block));
    printf("handler ran: %d\n", got);
    show("pwait unblocking it", epoll_pwait(ep, ev, 1, -1, &empty));
    printf("handler ran: %d\n", got);
    sigset_t now;
    sigprocmask(SIG_BLOCK, 0, &now);
    printf("mask restored: SIGUSR1 blocked %d\n", sigismember(&now, SIGUSR1));

    /* A signal from another process ends a wait with no timeout. */
    sigprocmask(SIG_UNBLOCK, &block, 0);
    got = 0;
    pid_t me = getpid();
    pid_t c = fork();
    if (c == 0) {
        msleep(30);
        kill(me, SIGUSR1);
        _exit(0);
    }
    show("epoll_wait -1", epoll_wait(ep, ev, 1, -1));
    printf("handler ran: %d\n", got);
    waitpid(c, 0, 0);
}

static void t_epoll_stress(void)
{
    /* An edge-triggered event loop draining to EAGAIN while a child
     * feeds an eventfd and a pipe: nothing is lost, nothing hangs. */
    int e = eventfd(0, EFD_NONBLOCK);
    int p[2];
    pipe2(p, O_NONBLOCK);
    pid_t c = fork();
    if (c == 0) {
        fcntl(p[1], F_SETFL, 0);
        for (int i = 1; i <= 300; i++) {
            wr64(e, i);
            write(p[1], "z", 1);
            if (i % 50 == 0)
                msleep(2);
        }
        _exit(0);
    }
    close(p[1]);
    int ep = epoll_create1(0);
    ectl(ep, EPOLL_CTL_ADD, e, EPOLLIN | EPOLLET, 1);
    ectl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLRDHUP | EPOLLET, 2);
    unsigned long long sum = 0;
    long bytes = 0;
    int hup = 0;
    while (!hup || sum < 300 * 301 / 2) {
        struct epoll_event ev[4];
        int n = epoll_wait(ep, ev, 4, 5000);
        if (n <= 0) {
            printf("epoll_wait gave %d\n", n);
            break;
        }
        for (int i = 0; i < n; i++) {
            if (ev[i].data.u64 == 1) {
                uint64_t v;
                while (rd64(e, &v) == 8)
                    sum += v;
            } else {
                char b[64];
                long r;
                while ((r = read(p[0], b, sizeof b)) > 0)
                    bytes += r;
                if (r == 0)
                    hup = 1;
            }
        }
    }
    printf("sum %llu, bytes %ld, writer gone %d\n", sum, bytes, hup);
    waitpid(c, 0, 0);
}

static void t_fstat(void)
{
    sigset_t m;
    sigemptyset(&m);
    int fds[4] = {eventfd(0, 0), timerfd_create(CLOCK_MONOTONIC, 0), signalfd(-1, &m, 0), epoll_create1(0)};
    const char *names[4] = {"eventfd", "timerfd", "signalfd", "epoll"};
    for (int i = 0; i < 4; i++) {
        struct stat st;
        fstat(fds[i], &st);
        printf("%s: mode %o size %lld nlink %d blksize %ld F_GETFL %#o lseek %ld\n", names[i], st.st_mode,
               (long long)st.st_size, (int)st.st_nlink, (long)st.st_blksize, fcntl(fds[i], F_GETFL),
               (long)lseek(fds[i], 0, SEEK_SET));
    }
    printf("eventfd and timerfd share an inode: %d\n", ({
               struct stat a, b;
               fstat(fds[0], &a);
               fstat(fds[1], &b);
               a.st_ino == b.st_ino && a.st_dev == b.st_dev;
           }));
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"eventfd_counter", t_eventfd_counter},
    {"eventfd_semaphore", t_eventfd_semaphore},
    {"eventfd_fork", t_eventfd_fork},
    {"eventfd_thread", t_eventfd_thread},
    {"timerfd_oneshot", t_timerfd_oneshot},
    {"timerfd_interval", t_timerfd_interval},
    {"timerfd_abstime", t_timerfd_abstime},
    {"signalfd_self", t_signalfd_self},
    {"signalfd_child", t_signalfd_child},
    {"epoll_level", t_epoll_level},
    {"epoll_edge", t_epoll_edge},
    {"epoll_oneshot", t_epoll_oneshot},
    {"epoll_close", t_epoll_close},
    {"epoll_evfd_timerfd", t_epoll_evfd_timerfd},
    {"epoll_timeouts", t_epoll_timeouts},
    {"epoll_pwait_eintr", t_epoll_pwait_eintr},
    {"epoll_stress", t_epoll_stress},
    {"fstat", t_fstat},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: evfds LIST | NAME\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (!strcmp(argv[1], "LIST"))
            printf("%s\n", tests[i].name);
        else if (!strcmp(argv[1], tests[i].name)) {
            tests[i].fn();
            return 0;
        }
    }
    if (strcmp(argv[1], "LIST")) {
        fprintf(stderr, "evfds: no subtest %s\n", argv[1]);
        return 2;
    }
    return 0;
}
