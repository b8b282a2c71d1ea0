/*
 * tasks: a differential test of signals, threads, waiting for descriptors,
 * credentials and limits, as a process sees them. Each subtest prints
 * facts that do not depend on the host (never pids, addresses or times).
 *
 * Usage: tasks LIST   the subtest names
 *        tasks NAME   run one subtest
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sched.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static sigjmp_buf jb;

static void on_sig(int s) { got = s; }

static void on_info(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    printf("  handler: signo %d code %d addr %s\n", si->si_signo, si->si_code,
           si->si_addr == (void *)0x10 ? "0x10" : "other");
    got = s;
    siglongjmp(jb, 1);
}

static void t_handlers(void)
{
    signal(SIGUSR1, on_sig);
    raise(SIGUSR1);
    printf("raise SIGUSR1: handler ran for %d\n", got);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, 0);
    volatile int *volatile bad = (volatile int *)0x10;
    for (int i = 0; i < 2; i++) {
        got = 0;
        if (!sigsetjmp(jb, 1))
            *bad = 1;
        printf("write to 0x10: recovered with siglongjmp after %d\n", got);
    }
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, 0);
    signal(SIGUSR2, on_sig);
    got = 0;
    raise(SIGUSR2);
    sigset_t p;
    sigpending(&p);
    printf("blocked SIGUSR2: handler ran %d, pending %d\n", got, sigismember(&p, SIGUSR2));
    sigprocmask(SIG_UNBLOCK, &m, 0);
    printf("unblocked: handler ran for %d\n", got);
    double x = 1.5;
    for (int i = 0; i < 3; i++)
        x *= 1.25;
    printf("FPU state survives handlers: %.4f\n", x);
}

static void t_restart(void)
{
    int fds[2];
    if (pipe(fds) < 0)
        exit(1);
    pid_t c = fork();
    if (c == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sig;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, 0);
        char b;
        ssize_t r = read(fds[0], &b, 1);
        printf("SA_RESTART read after the handler: %zd (handler ran for %d)\n", r, got);
        sa.sa_flags = 0;
        sigaction(SIGALRM, &sa, 0);
        alarm(1);
        r = read(fds[0], &b, 1);
        printf("read without SA_RESTART: %zd %s\n", r, r < 0 ? strerror(errno) : "");
        _exit(0);
    }
    usleep(50000);
    kill(c, SIGALRM);
    usleep(50000);
    if (write(fds[1], "x", 1) != 1)
        exit(1);
    int st;
    waitpid(c, &st, 0);
    printf("child: exit status %d\n", WEXITSTATUS(st));
}

static void t_stopcont(void)
{
    int st;
    pid_t c = fork();
    if (c == 0) {
        for (int i = 0; i < 20; i++)
            usleep(10000);
        _exit(5);
    }
    usleep(20000);
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    printf("stopped: %d by %d\n", WIFSTOPPED(st), WSTOPSIG(st));
    kill(c, SIGCONT);
    waitpid(c, &st, WCONTINUED);
    printf("continued: %d\n", WIFCONTINUED(st));
    waitpid(c, &st, 0);
    printf("then exited %d with %d\n", WIFEXITED(st), WEXITSTATUS(st));
    c = fork();
    if (c == 0) {
        /* A group of its own, whose parent is in another group of the
         * session: not orphaned, so SIGTSTP stops it. */
        setpgid(0, 0);
        raise(SIGTSTP);
        _exit(6);
    }
    waitpid(c, &st, WUNTRACED);
    printf("SIGTSTP stops: %d by %d\n", WIFSTOPPED(st), WSTOPSIG(st));
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
    printf("SIGKILL while stopped: %d by %d\n", WIFSIGNALED(st), WTERMSIG(st));
    siginfo_t si;
    c = fork();
    if (c == 0) {
        raise(SIGSTOP);
        _exit(7);
    }
    waitid(P_PID, c, &si, WSTOPPED);
    printf("waitid WSTOPPED: code %d status %d\n", si.si_code, si.si_status);
    kill(c, SIGCONT);
    waitid(P_PID, c, &si, WEXITED);
    printf("waitid WEXITED: code %d status %d\n", si.si_code, si.si_status);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static __thread int tls = 5;
static long counter;
static int ready;

static void *worker(void *arg)
{
    long id = (long)arg;
    tls += id;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&mu);
        counter++;
        pthread_mutex_unlock(&mu);
    }
    pthread_barrier_wait(&bar);
    pthread_mutex_lock(&mu);
    ready++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return (void *)(long)(tls * 10);
}

static void t_threads(void)
{
    pthread_t t[4];
    pthread_barrier_init(&bar, 0, 4);
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], 0, worker, (void *)i);
    pthread_mutex_lock(&mu);
    while (ready < 4)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("4 threads: counter %ld, joined values sum %ld, main's TLS %d\n", counter, sum, tls);
}

static void *sleeper(void *a)
{
    (void)a;
    sleep(10);
    return 0;
}

static void t_thread_exit(void)
{
    int st;
    pid_t c = fork();
    if (c == 0) {
        pthread_t s;
        pthread_create(&s, 0, sleeper, 0);
        usleep(20000);
        _exit(3);
    }
    waitpid(c, &st, 0);
    printf("exit_group with a sleeping thread: exited %d\n", WEXITSTATUS(st));
    c = fork();
    if (c == 0) {
        pthread_t s;
        pthread_create(&s, 0, sleeper, 0);
        pause();
        _exit(0);
    }
    usleep(20000);
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    printf("SIGTERM to a threaded process: killed by %d\n", WTERMSIG(st));
}

static void t_poll(void)
{
    int a[2];
    if (pipe(a) < 0)
        exit(1);
    struct pollfd f[2] = {{a[0], POLLIN, 0}, {a[1], POLLOUT, 0}};
    int r = poll(f, 2, 0);
    printf("poll an empty pipe: %d, read end %#x, write end %#x\n", r, f[0].revents, f[1].revents);
    pid_t c = fork();
    if (c == 0) {
        usleep(30000);
        if (write(a[1], "x", 1) != 1)
            _exit(1);
        _exit(0);
    }
    f[1].fd = -1;
    r = poll(f, 2, 5000);
    printf("poll until a child writes: %d, read end %#x\n", r, f[0].revents);
    char b;
    if (read(a[0], &b, 1) != 1)
        exit(1);
    waitpid(c, 0, 0);
    close(a[1]);
    r = poll(f, 1, 1000);
    printf("poll after the writers closed: %d, read end %#x\n", r, f[0].revents);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(a[0], &rs);
    struct timeval tv = {0, 50000};
    r = select(a[0] + 1, &rs, 0, 0, &tv);
    printf("select: %d, set %d\n", r, FD_ISSET(a[0], &rs));
    int e[2];
    if (pipe(e) < 0)
        exit(1);
    FD_ZERO(&rs);
    FD_SET(e[0], &rs);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    r = select(e[0] + 1, &rs, 0, 0, &tv);
    printf("select times out: %d\n", r);
    /* A descriptor that was just closed, below 64: Linux clamps the
       select range to the size of its descriptor table, so a high
       number such as 99 may simply be ignored there. */
    close(e[1]);
    FD_ZERO(&rs);
    FD_SET(e[1], &rs);
    r = select(e[1] + 1, &rs, 0, 0, &tv);
    printf("select a closed descriptor: %d %s\n", r, r < 0 ? strerror(errno) : "");
}

static void t_creds(void)
{
    uid_t r, e, s;
    if (geteuid() != 0) {
        printf("not root: credential changes not tried\n");
        return;
    }
    gid_t g[2] = {5, 6};
    printf("setgroups: %d, getgroups counts %d\n", setgroups(2, g), getgroups(0, 0));
    printf("setresgid 100: %d\n", setresgid(100, 100, 100));
    printf("setreuid 1000 2000: %d\n", setreuid(1000, 2000));
    getresuid(&r, &e, &s);
    printf("  real %d effective %d saved %d\n", r, e, s);
    int rc = setuid(0);
    printf("setuid 0 now: %d %s\n", rc, rc < 0 ? strerror(errno) : "");
    printf("seteuid 1000: %d\n", seteuid(1000));
    getresuid(&r, &e, &s);
    printf("  real %d effective %d saved %d\n", r, e, s);
    rc = setgroups(0, 0);
    printf("setgroups without privilege: %d %s\n", rc, rc < 0 ? strerror(errno) : "");
}

static void t_rlimit(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    printf("RLIMIT_AS unlimited: %d\n", rl.rlim_cur == RLIM_INFINITY);
    rl.rlim_cur = 64 << 20;
    printf("lower it to 64 MiB: %d\n", setrlimit(RLIMIT_AS, &rl));
    void *p = mmap(0, 128 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap 128 MiB: %s\n", p == MAP_FAILED ? strerror(errno) : "mapped");
    rl.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_AS, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit bad = {rl.rlim_max + 1, rl.rlim_max};
    int rc = setrlimit(RLIMIT_NOFILE, &bad);
    printf("soft above hard: %d %s\n", rc, rc < 0 ? strerror(errno) : "");
}

static void t_sigwait(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    sigprocmask(SIG_BLOCK, &s, 0);
    struct timespec t = {0, 30000000};
    siginfo_t si;
    int r = sigtimedwait(&s, &si, &t);
    printf("sigtimedwait with nothing sent: %d %s\n", r, r < 0 ? strerror(errno) : "");
    pid_t me = getpid();
    if (fork() == 0) {
        usleep(20000);
        kill(me, SIGUSR1);
        _exit(0);
    }
    t.tv_sec = 5;
    r = sigtimedwait(&s, &si, &t);
    printf("sigtimedwait for a child's kill: %d, si_code %d, si_pid is the child: %d\n", r, si.si_code,
           si.si_pid != me && si.si_pid != 0);
    wait(0);
}

static void t_orphan(void)
{
    int p[2];
    if (pipe(p) < 0)
        exit(1);
    pid_t c = fork();
    if (c == 0) {
        pid_t mid = getpid();
        if (fork() == 0) {
            close(p[0]);
            usleep(50000); /* its parent has exited by now */
            pid_t pp = getppid();
            char r = pp != mid && pp > 0 ? 'y' : 'n';
            if (write(p[1], &r, 1) != 1)
                _exit(1);
            _exit(0);
        }
        _exit(0);
    }
    close(p[1]);
    int st;
    waitpid(c, &st, 0);
    printf("middle process exited: %d\n", WIFEXITED(st));
    char r = '?';
    if (read(p[0], &r, 1) != 1)
        r = '?';
    printf("the orphan was adopted (its parent is no longer the dead one): %c\n", r);
    printf("and it is not our child: %d\n", waitpid(-1, 0, WNOHANG) < 0 && errno == ECHILD);
}

static void t_sendfile_pipe(void)
{
    /* A child blocks in sendfile into a full pipe while the parent closes
     * its copy of the same write end (the same open file description). */
    int fd = open("sendfile-data", O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char block[65536];
    for (int i = 0; i < 4; i++)
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block)
            exit(1);
    int p[2];
    if (pipe(p) < 0)
        exit(1);
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        off_t off = 0;
        ssize_t total = 0, n;
        while ((n = sendfile(p[1], fd, &off, 4 * sizeof block - total)) > 0)
            total += n;
        _exit(total == 4 * (ssize_t)sizeof block ? 0 : 1);
    }
    usleep(50000); /* the child now waits for room in the pipe */
    close(p[1]);
    long got = 0;
    ssize_t n;
    char buf[8192];
    while ((n = read(p[0], buf, sizeof buf)) > 0)
        got += n;
    int st;
    waitpid(c, &st, 0);
    printf("read %ld bytes through the pipe; the child exited %d with %d\n", got, WIFEXITED(st), WEXITSTATUS(st));
    close(fd);
    unlink("sendfile-data");
}

static void t_blocked_kill(void)
{
    /* A signal another process sends while it is blocked waits, and is
     * delivered when unblocked; sigpending shows it meanwhile. */
    signal(SIGUSR1, on_sig);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigprocmask(SIG_BLOCK, &m, 0);
    got = 0;
    pid_t me = getpid();
    if (fork() == 0) {
        kill(me, SIGUSR1);
        _exit(0);
    }
    wait(0);
    sigset_t p;
    sigpending(&p);
    printf("while blocked: handler ran %d, pending %d\n", got, sigismember(&p, SIGUSR1));
    sigprocmask(SIG_UNBLOCK, &m, 0);
    printf("unblocked: handler ran for %d\n", got);
}

static void *fs_changer(void *a)
{
    if (a)
        printf("unshare(CLONE_FS) %d\n", unshare(CLONE_FS));
    printf("thread chdir %d\n", chdir(a ? ".." : "tfs-dir"));
    umask(a ? 0 : 077);
    return 0;
}

static const char *cwd_name(void)
{
    static char buf[4096];
    if (!getcwd(buf, sizeof buf))
        return "?";
    char *s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

static void t_thread_fs(void)
{
    /* Threads share the working directory and umask (CLONE_FS), until one
     * unshares them. */
    mkdir("tfs-dir", 0755);
    char here[4096];
    if (!getcwd(here, sizeof here))
        return;
    umask(022);
    pthread_t t;
    pthread_create(&t, 0, fs_changer, 0);
    pthread_join(t, 0);
    mode_t m = umask(022);
    printf("after the thread: cwd %s, umask %03o\n", cwd_name(), (unsigned)m);
    pthread_create(&t, 0, fs_changer, "unshare");
    pthread_join(t, 0);
    m = umask(022);
    printf("after the unsharing thread: cwd %s, umask %03o\n", cwd_name(), (unsigned)m);
    chdir(here);
    /* A vfork child borrows the memory, not the working directory. */
    if (vfork() == 0) {
        if (chdir("tfs-dir") == 0)
            umask(0);
        _exit(0);
    }
    wait(0);
    m = umask(022);
    printf("after a vfork child's chdir: cwd %s, umask %03o\n", cwd_name(), (unsigned)m);
    printf("rmdir %d\n", rmdir("tfs-dir"));
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock l = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &l) == 0 ? 0 : errno;
}

static void t_locks(void)
{
    /* Waiting locks: F_SETLKW and flock without LOCK_NB sleep until the
     * holder lets go; a wait that would close a cycle is EDEADLK. */
    int fd = open("locks-data", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "0123456789", 10);
    int go[2], done[2];
    pipe(go);
    pipe(done);
    printf("parent F_SETLK write 0-5: %d\n", setlk(fd, F_SETLK, F_WRLCK, 0, 5));
    pid_t c = fork();
    if (c == 0) {
        int e1 = setlk(fd, F_SETLK, F_WRLCK, 0, 5);
        int e2 = setlk(fd, F_SETLK, F_WRLCK, 5, 5); /* free: taken */
        write(done[1], "r", 1);
        int e3 = setlk(fd, F_SETLKW, F_WRLCK, 0, 5); /* waits for the parent */
        _exit((e1 == EAGAIN) << 0 | (e2 == 0) << 1 | (e3 == 0) << 2);
    }
    char ch;
    read(done[0], &ch, 1);
    usleep(100000);
    /* The child waits for 0-5 and holds 5-10: wanting 5-10 closes a cycle. */
    printf("parent F_SETLKW 5-10 while the child waits for 0-5: %s\n",
           setlk(fd, F_SETLKW, F_WRLCK, 5, 5) == EDEADLK ? "EDEADLK" : "no deadlock seen");
    setlk(fd, F_SETLK, F_UNLCK, 0, 5);
    int st;
    waitpid(c, &st, 0);
    printf("child: F_SETLK refused %d, free range taken %d, F_SETLKW got it once free %d\n", WEXITSTATUS(st) & 1,
           WEXITSTATUS(st) >> 1 & 1, WEXITSTATUS(st) >> 2 & 1);
    /* flock: owned by the description, so the child opens its own. */
    printf("parent flock LOCK_EX: %d\n", flock(fd, LOCK_EX));
    c = fork();
    if (c == 0) {
        int f2 = open("locks-data", O_RDWR);
        int nb = flock(f2, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
        write(done[1], "r", 1);
        int got = flock(f2, LOCK_EX) == 0;
        _exit(nb | got << 1);
    }
    read(done[0], &ch, 1);
    usleep(100000);
    int still = waitpid(c, &st, WNOHANG) == 0;
    printf("the child still waits for the flock after 0.1 s: %d\n", still);
    flock(fd, LOCK_UN);
    waitpid(c, &st, 0);
    printf("child: LOCK_NB refused %d, LOCK_EX got it once free %d\n", WEXITSTATUS(st) & 1, WEXITSTATUS(st) >> 1 & 1);
    close(fd);
    unlink("locks-data");
}

static void *cpu_burner(void *a)
{
    volatile unsigned long n = 0;
    for (unsigned long i = 0; i < 20000000; i++)
        n += i;
    return a;
}

static void t_clocks(void)
{
    /* The clocks programs name: TAI, the alarm clocks, and the CPU clocks
     * of a process and of a thread as their ids encode them. */
    struct timespec r, t;
    clock_gettime(CLOCK_REALTIME, &r);
    printf("CLOCK_TAI: %d\n", clock_gettime(CLOCK_TAI, &t));
    printf("  TAI - REALTIME within [0, 40] s: %d\n", t.tv_sec - r.tv_sec >= 0 && t.tv_sec - r.tv_sec <= 40);
    /* (The alarm clocks work where the host has an RTC that can wake it.) */
    errno = 0;
    int ra = clock_gettime(CLOCK_REALTIME_ALARM, &t), ra_e = errno;
    errno = 0;
    int ba = clock_gettime(CLOCK_BOOTTIME_ALARM, &t), ba_e = errno;
    printf("CLOCK_REALTIME_ALARM: %d %d, CLOCK_BOOTTIME_ALARM: %d %d\n", ra, ra_e, ba, ba_e);
    int c10 = clock_gettime(10, &t);
    printf("clock 10: %d %s\n", c10, strerror(errno));
    pthread_t th;
    pthread_create(&th, 0, cpu_burner, 0);
    pthread_join(th, 0);
    clockid_t c;
    printf("clock_getcpuclockid(self): %d\n", clock_getcpuclockid(getpid(), &c));
    printf("  readable, and counts: %d\n", clock_gettime(c, &t) == 0 && (t.tv_sec > 0 || t.tv_nsec > 0));
    printf("pthread_getcpuclockid(self): %d\n", pthread_getcpuclockid(pthread_self(), &c));
    printf("  readable: %d\n", clock_gettime(c, &t) == 0);
    printf("clock_getres(CLOCK_MONOTONIC): %d\n", clock_getres(CLOCK_MONOTONIC, &t));
    printf("clock_gettime of a missing process's clock: %d\n", clock_gettime((clockid_t)(~99999u << 3 | 2), &t) == -1 ? errno : 0);
}

static void on_alrm(int s) { (void)s; }

static void t_fifo(void)
{
    /* Named pipes: opens that wait for the other side, O_NONBLOCK's rules,
     * O_RDWR, end of file once the writer goes, EINTR in a waiting open. */
    unlink("fifo-node");
    printf("mkfifo: %d\n", mkfifo("fifo-node", 0600));
    struct stat st;
    stat("fifo-node", &st);
    printf("stat: fifo %d, mode %o\n", S_ISFIFO(st.st_mode), st.st_mode & 0777);
    int w = open("fifo-node", O_WRONLY | O_NONBLOCK);
    printf("O_WRONLY|O_NONBLOCK with no reader: %d %s\n", w, w < 0 ? strerror(errno) : "");
    int r = open("fifo-node", O_RDONLY | O_NONBLOCK);
    printf("O_RDONLY|O_NONBLOCK: ok %d\n", r >= 0);
    w = open("fifo-node", O_WRONLY | O_NONBLOCK);
    printf("O_WRONLY|O_NONBLOCK with a reader: ok %d\n", w >= 0);
    struct stat fs;
    fstat(w, &fs);
    printf("fstat of the end: fifo %d\n", S_ISFIFO(fs.st_mode));
    printf("write: %zd\n", write(w, "abc", 3));
    char b[16];
    printf("read: %zd\n", read(r, b, sizeof b));
    close(w);
    printf("read after the writer closed: %zd\n", read(r, b, sizeof b));
    close(r);
    pid_t c = fork();
    if (c == 0) {
        int fd = open("fifo-node", O_WRONLY); /* waits for the reader */
        write(fd, "x", 1);
        _exit(0);
    }
    usleep(100000);
    int still = waitpid(c, 0, WNOHANG) == 0;
    r = open("fifo-node", O_RDONLY);
    ssize_t n1 = read(r, b, 1);
    ssize_t n2 = read(r, b, 1);
    printf("the writer waited for a reader: %d, read %zd, then %zd\n", still, n1, n2);
    waitpid(c, 0, 0);
    close(r);
    int rw = open("fifo-node", O_RDWR);
    ssize_t nw = write(rw, "yz", 2);
    printf("O_RDWR: write %zd, read %zd\n", nw, read(rw, b, sizeof b));
    close(rw);
    struct sigaction sa = {.sa_handler = on_alrm};
    sigaction(SIGALRM, &sa, 0);
    alarm(1);
    errno = 0;
    r = open("fifo-node", O_RDONLY);
    printf("a reader waiting alone, then SIGALRM: %d %s\n", r, strerror(errno));
    unlink("fifo-node");
}

static void t_devtty(void)
{
    /* /dev/tty is the controlling terminal: ENXIO without one (as under a
     * test harness), else a terminal. */
    errno = 0;
    int fd = open("/dev/tty", O_RDWR);
    int e = errno;
    printf("open /dev/tty: %s", fd >= 0 ? "ok" : strerror(e));
    if (fd >= 0)
        printf(", a terminal: %d", isatty(fd));
    printf("\n");
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"handlers", t_handlers}, {"restart", t_restart},   {"stopcont", t_stopcont}, {"threads", t_threads},
    {"thread_exit", t_thread_exit}, {"poll", t_poll}, {"creds", t_creds},       {"rlimit", t_rlimit},
    {"sigwait", t_sigwait},         {"orphan", t_orphan},
    {"sendfile_pipe", t_sendfile_pipe}, {"blocked_kill", t_blocked_kill}, {"thread_fs", t_thread_fs},
    {"locks", t_locks}, {"clocks", t_clocks}, {"fifo", t_fifo}, {"devtty", t_devtty},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: tasks LIST | NAME\n");
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
        fprintf(stderr, "tasks: no subtest %s\n", argv[1]);
        return 2;
    }
    return 0;
}
