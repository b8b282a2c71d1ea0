/*
 * ptys: pseudo-terminals, as programs like script(1), ssh and expect use
 * them. The parent opens a master with posix_openpt, grantpt, unlockpt and
 * ptsname; a child starts a session, opens the slave (its controlling
 * terminal) and talks through it. The parent checks what crosses the pty:
 * output processing (\n as \r\n), echo and canonical input, ^C as SIGINT
 * for the foreground group, a window-size change as SIGWINCH, raw mode, and
 * the master's EIO once the slave side is gone.
 *
 * Usage: ptys
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int master;

/* Print bytes with control characters escaped. */
static void show(const char *what, const char *b, size_t n)
{
    printf("%s: \"", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (c == '\r') printf("\\r");
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    printf("\"\n");
    fflush(stdout);
}

/* Read the master until `want` has come (or 5 s pass); show it. */
static void expect(const char *what, const char *want)
{
    char buf[4096];
    size_t n = 0;
    for (int tries = 0; tries < 500 && !memmem(buf, n, want, strlen(want)); tries++) {
        struct pollfd p = { master, POLLIN, 0 };
        if (poll(&p, 1, 10) <= 0) continue;
        ssize_t r = read(master, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break;
        n += r;
    }
    show(what, buf, n);
}

static void put(const char *s)
{
    if (write(master, s, strlen(s)) != (ssize_t)strlen(s)) perror("write master");
}

static volatile sig_atomic_t got_int, got_winch;
static void on_int(int s) { (void)s; got_int = 1; }
static void on_winch(int s) { (void)s; got_winch = 1; }

static void say(const char *s)
{
    if (write(1, s, strlen(s)) < 0) _exit(3);
}

static void child(const char *slave_name)
{
    if (setsid() < 0) _exit(10);
    int s = open(slave_name, O_RDWR); /* a session leader's first tty: its controlling terminal */
    if (s < 0) _exit(11);
    dup2(s, 0); dup2(s, 1); dup2(s, 2);
    if (s > 2) close(s);
    signal(SIGINT, on_int);
    signal(SIGWINCH, on_winch);
    say("hello from the slave\n");
    char line[256];
    ssize_t n = read(0, line, sizeof line - 1);     /* canonical: one line */
    if (n < 0) _exit(12);
    line[n] = 0;
    char out[300];
    snprintf(out, sizeof out, "got %zd bytes: %s", n, line);
    say(out);
    while (!got_int) pause();
    say("SIGINT came\n");
    while (!got_winch) pause();
    struct winsize w;
    ioctl(0, TIOCGWINSZ, &w);
    snprintf(out, sizeof out, "SIGWINCH came: %d rows %d columns\n", w.ws_row, w.ws_col);
    say(out);
    /* Wait for the go-ahead line, then raw mode: no echo, bytes as they come. */
    if (read(0, line, sizeof line) <= 0) _exit(13);
    struct termios t;
    tcgetattr(0, &t);
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
    say("raw\n");
    char c[8];
    n = read(0, c, sizeof c);
    snprintf(out, sizeof out, "raw read %zd byte(s): %02x\n", n, n > 0 ? (unsigned char)c[0] : 0);
    say(out);
    _exit(0);
}

int main(void)
{
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
        perror("posix_openpt");
        return 1;
    }
    char *name = ptsname(master);
    printf("ptsname: %s\n", name && !strncmp(name, "/dev/pts/", 9) ? "/dev/pts/N" : "wrong");
    struct winsize w = { 24, 80, 0, 0 };
    ioctl(master, TIOCSWINSZ, &w);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) child(name);
    expect("first output", "slave\r\n");
    put("echo this\n");
    expect("echo and reply", "bytes: echo this\r\n");
    put("\x03");
    expect("^C", "came\r\n");
    w.ws_row = 40; w.ws_col = 132;
    ioctl(master, TIOCSWINSZ, &w);
    expect("resize", "columns\r\n");
    put("go\n");
    expect("go-ahead and raw mode", "raw\n");
    put("x");
    expect("raw byte", "(s): 78\n");
    int st;
    waitpid(pid, &st, 0);
    printf("child: %s %d\n", WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    char b[16];
    ssize_t r = read(master, b, sizeof b);
    printf("master read after the slave side closed: %zd (%s)\n", r, r < 0 ? strerror(errno) : "data");
    return 0;
}
