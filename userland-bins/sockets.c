/*
 * sockets: a differential test of AF_UNIX sockets: socketpair, datagrams,
 * sequenced packets, names in the file system and abstract names, listen
 * and accept, errors, non-blocking calls, MSG_PEEK, shutdown, EPIPE and
 * SIGPIPE, passing descriptors (SCM_RIGHTS), credentials, poll; and TCP
 * and UDP over IPv4 and IPv6 on loopback. Each subtest prints facts that
 * do not depend on the host (never pids, port numbers or times).
 *
 * Usage: sockets LIST   the subtest names
 *        sockets NAME   run one subtest
 *        sockets inet   what a sandbox with only loopback answers (not
 *                       listed: natively the host's network answers)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case 0: return "ok";
    case EAGAIN: return "EAGAIN";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    case ENOTSOCK: return "ENOTSOCK";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EADDRINUSE: return "EADDRINUSE";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EISCONN: return "EISCONN";
    case ENOTCONN: return "ENOTCONN";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case ECONNRESET: return "ECONNRESET";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ESPIPE: return "ESPIPE";
    case ENXIO: return "ENXIO";
    case EINTR: return "EINTR";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETUNREACH: return "ENETUNREACH";
    case EINPROGRESS: return "EINPROGRESS";
    case EPERM: return "EPERM";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    default: return "other";
    }
}

/* Print what a call returned: its value, or -1 and the errno's name. */
static void say(const char *what, long r)
{
    if (r < 0)
        printf("%s: -1 %s\n", what, ename(errno));
    else
        printf("%s: %ld\n", what, r);
}

/* A unique path in /tmp for this run (the pid is never printed). */
static void tmpname(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "/tmp/vxos-sock-%d-%s", (int)getpid(), tag);
}

static socklen_t addr_path(struct sockaddr_un *a, const char *path)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strncpy(a->sun_path, path, sizeof a->sun_path - 1);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

/* An abstract name: NUL then `name`, unique with the pid. */
static socklen_t addr_abstract(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "vxos-%d-%s", (int)getpid(), name);
    return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

static void child_status(pid_t c)
{
    int st;
    waitpid(c, &st, 0);
    if (WIFEXITED(st))
        printf("child exited %d\n", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("child killed by signal %d\n", WTERMSIG(st));
}

/* socketpair, a stream across fork: echo in upper case; read, write,
 * readv, writev, send, recv all work; EOF when the peer closes. */
static void t_pair_stream(void)
{
    int sv[2];
    say("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pid_t c = fork();
    if (c == 0) {
        close(sv[0]);
        char buf[256];
        ssize_t n;
        long total = 0;
        while ((n = read(sv[1], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] >= 'a' && buf[i] <= 'z')
                    buf[i] -= 32;
            write(sv[1], buf, n);
            total += n;
        }
        printf("child: end of file after %ld bytes\n", total);
        _exit(n == 0 ? 3 : 4);
    }
    close(sv[1]);
    char buf[64] = {0};
    say("write", write(sv[0], "hello", 5));
    ssize_t n = 0;
    while (n < 5)
        n += read(sv[0], buf + n, 5 - n);
    printf("echo: %.5s\n", buf);
    struct iovec iov[2] = {{"abc", 3}, {"defg", 4}};
    say("writev", writev(sv[0], iov, 2));
    char a[3], b[10];
    struct iovec in[2] = {{a, 3}, {b, 4}};
    int avail = 0;
    while (ioctl(sv[0], FIONREAD, &avail) == 0 && avail < 7)
        usleep(1000);
    say("readv", readv(sv[0], in, 2));
    printf("readv: %.3s %.4s\n", a, b);
    say("send", send(sv[0], "xyz", 3, 0));
    memset(buf, 0, sizeof buf);
    say("recv MSG_WAITALL", recv(sv[0], buf, 3, MSG_WAITALL));
    printf("got %s\n", buf);
    say("lseek", lseek(sv[0], 0, SEEK_SET));
    say("pread", pread(sv[0], buf, 1, 0));
    struct stat st;
    fstat(sv[0], &st);
    printf("fstat: socket %d, mode %o\n", S_ISSOCK(st.st_mode), st.st_mode & 0777);
    printf("F_GETFL: %o\n", fcntl(sv[0], F_GETFL) & ~0100000);
    close(sv[0]);
    child_status(c);
}

/* Datagrams keep their boundaries; a short buffer truncates (MSG_TRUNC). */
static void t_dgram(void)
{
    int sv[2];
    say("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    send(sv[0], "one", 3, 0);
    send(sv[0], "second", 6, 0);
    send(sv[0], "", 0, 0);
    send(sv[0], "0123456789", 10, 0);
    send(sv[0], "0123456789", 10, 0);
    char buf[64];
    for (int i = 0; i < 3; i++) {
        ssize_t n = recv(sv[1], buf, sizeof buf, 0);
        printf("datagram %d: %zd bytes \"%.*s\"\n", i, n, (int)(n > 0 ? n : 0), buf);
    }
    struct iovec iov = {buf, 4};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(sv[1], &m, 0);
    printf("recvmsg into 4: %zd \"%.4s\", MSG_TRUNC %d\n", n, buf, !!(m.msg_flags & MSG_TRUNC));
    n = recv(sv[1], buf, 4, MSG_TRUNC);
    printf("recv MSG_TRUNC into 4: %zd\n", n);
    say("recv, nothing queued, MSG_DONTWAIT", recv(sv[1], buf, 4, MSG_DONTWAIT));
    close(sv[0]);
    close(sv[1]);

    /* Named datagram sockets: sendto and recvfrom with addresses. */
    char pa[64], pb[64];
    tmpname(pa, sizeof pa, "dga");
    tmpname(pb, sizeof pb, "dgb");
    int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un sa, sb, from;
    socklen_t la = addr_path(&sa, pa), lb = addr_path(&sb, pb);
    say("bind a", bind(a, (struct sockaddr *)&sa, la));
    say("bind b", bind(b, (struct sockaddr *)&sb, lb));
    say("sendto b", sendto(a, "to b", 4, 0, (struct sockaddr *)&sb, lb));
    socklen_t fl = sizeof from;
    memset(&from, 0, sizeof from);
    n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom: %zd \"%.4s\" from a: %d (length %d)\n", n, buf, strcmp(from.sun_path, pa) == 0,
           (int)(fl - strlen(pa)));
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    say("sendto b from an unnamed socket", sendto(u, "anon", 4, 0, (struct sockaddr *)&sb, lb));
    fl = sizeof from;
    n = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    printf("recvfrom: %zd, address length %d\n", n, (int)fl);
    say("send unconnected", send(u, "x", 1, 0));
    say("connect u to a", connect(u, (struct sockaddr *)&sa, la));
    say("send", send(u, "via connect", 11, 0));
    n = recv(a, buf, sizeof buf, 0);
    printf("a got %zd\n", n);
    say("b sends to a, connected to u", sendto(b, "no", 2, 0, (struct sockaddr *)&sa, la));
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    say("disconnect u", connect(u, &unspec, sizeof unspec));
    say("send after disconnect", send(u, "x", 1, 0));
    close(a);
    say("sendto a closed name", sendto(b, "x", 1, 0, (struct sockaddr *)&sa, la));
    unlink(pa);
    say("sendto a removed name", sendto(b, "x", 1, 0, (struct sockaddr *)&sa, la));
    unlink(pb);
    close(b);
    close(u);
}

/* Sequenced packets: boundaries kept, connection-based, EOF on close. */
static void t_seqpacket(void)
{
    int sv[2];
    say("socketpair", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    send(sv[0], "alpha", 5, 0);
    send(sv[0], "be", 2, 0);
    write(sv[0], "gamma-delta", 11);
    char buf[64];
    for (int i = 0; i < 2; i++) {
        ssize_t n = read(sv[1], buf, sizeof buf);
        printf("packet %d: %zd \"%.*s\"\n", i, n, (int)n, buf);
    }
    struct iovec iov = {buf, 5};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(sv[1], &m, 0);
    printf("recvmsg into 5: %zd \"%.5s\", MSG_TRUNC %d\n", n, buf, !!(m.msg_flags & MSG_TRUNC));
    close(sv[0]);
    say("read after the peer closed", read(sv[1], buf, sizeof buf));
    close(sv[1]);

    struct sockaddr_un sa;
    socklen_t la = addr_abstract(&sa, "seq");
    int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    say("bind", bind(l, (struct sockaddr *)&sa, la));
    say("listen", listen(l, 4));
    int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    say("send before connect", send(c, "x", 1, MSG_NOSIGNAL));
    say("connect", connect(c, (struct sockaddr *)&sa, la));
    int s = accept(l, 0, 0);
    say("accept", s >= 0 ? 0 : -1);
    send(c, "first", 5, 0);
    send(c, "second", 6, 0);
    n = recv(s, buf, sizeof buf, 0);
    printf("server got %zd\n", n);
    n = recv(s, buf, sizeof buf, 0);
    printf("server got %zd\n", n);
    int d = socket(AF_UNIX, SOCK_STREAM, 0);
    say("stream connect to a seqpacket listener", connect(d, (struct sockaddr *)&sa, la));
    close(d);
    close(c);
    close(s);
    close(l);
}

/* bind, listen, connect and accept on a path; names seen from both ends. */
static void t_path(void)
{
    char path[64];
    tmpname(path, sizeof path, "srv");
    struct sockaddr_un sa;
    socklen_t la = addr_path(&sa, path);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    say("bind", bind(l, (struct sockaddr *)&sa, la));
    struct stat st;
    say("stat the name", stat(path, &st));
    printf("a socket node: %d\n", S_ISSOCK(st.st_mode));
    say("open the node", open(path, O_RDONLY));
    say("read before listen", read(l, path + 60, 1));
    say("listen", listen(l, 5));
    say("accept without flags checked", accept4(l, 0, 0, 0x1234) == -1 && errno == EINVAL ? 0 : -1);
    pid_t c = fork();
    if (c == 0) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&sa, la) < 0)
            _exit(1);
        struct sockaddr_un peer;
        socklen_t pl = sizeof peer;
        getpeername(s, (struct sockaddr *)&peer, &pl);
        printf("client: peer is the path: %d\n", strcmp(peer.sun_path, path) == 0);
        write(s, "ping", 4);
        char buf[8];
        ssize_t n = read(s, buf, sizeof buf);
        printf("client: got %.*s\n", (int)n, buf);
        say("client: connect again", connect(s, (struct sockaddr *)&sa, la));
        close(s);
        _exit(0);
    }
    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    int s = accept(l, (struct sockaddr *)&peer, &pl);
    char buf[8];
    ssize_t n = read(s, buf, sizeof buf);
    printf("accept: peer address length %d, family %d\n", (int)pl, peer.sun_family);
    printf("server: got %.*s\n", (int)n, buf);
    write(s, "pong", 4);
    say("server: read at the end", read(s, buf, sizeof buf));
    child_status(c);
    say("listen again", listen(l, 1));
    say("connect a listener", connect(l, (struct sockaddr *)&sa, la));
    close(s);
    close(l);
    say("unlink", unlink(path));
}

/* An abstract name: no file, the name's length as given. */
static void t_abstract(void)
{
    struct sockaddr_un sa, got;
    socklen_t la = addr_abstract(&sa, "abs");
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    say("bind", bind(l, (struct sockaddr *)&sa, la));
    say("listen", listen(l, 0));
    socklen_t gl = sizeof got;
    getsockname(l, (struct sockaddr *)&got, &gl);
    printf("getsockname: same length %d, same name %d\n", gl == la, memcmp(&got, &sa, la) == 0);
    printf("FD_CLOEXEC: %d\n", fcntl(l, F_GETFD));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    say("connect", connect(c, (struct sockaddr *)&sa, la));
    int c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    say("connect, backlog full", connect(c3, (struct sockaddr *)&sa, la));
    write(c, "early", 5);
    int s = accept4(l, 0, 0, SOCK_NONBLOCK);
    printf("accept4 SOCK_NONBLOCK: %d\n", !!(fcntl(s, F_GETFL) & O_NONBLOCK));
    char buf[16];
    ssize_t n = read(s, buf, sizeof buf);
    printf("written before accept: %.*s\n", (int)n, buf);
    say("connect, room again", connect(c3, (struct sockaddr *)&sa, la));
    int s2 = accept(l, 0, 0);
    say("second accept", s2 >= 0 ? 0 : -1);
    close(s2);
    close(c3);
    say("read from the accepted one", recv(s, buf, sizeof buf, MSG_DONTWAIT));
    close(c);
    close(s);
    close(l);
    c = socket(AF_UNIX, SOCK_STREAM, 0);
    say("connect after close", connect(c, (struct sockaddr *)&sa, la));
    struct sockaddr_un bare = {.sun_family = AF_UNIX};
    say("autobind", bind(c, (struct sockaddr *)&bare, sizeof(sa_family_t)));
    gl = sizeof got;
    getsockname(c, (struct sockaddr *)&got, &gl);
    printf("autobound: length %d, abstract %d\n", (int)gl, got.sun_path[0] == 0);
    close(c);
}

/* The errors of making, naming and connecting. */
static void t_errors(void)
{
    char path[64], file[64];
    tmpname(path, sizeof path, "err");
    tmpname(file, sizeof file, "plain");
    struct sockaddr_un sa, sf;
    socklen_t la = addr_path(&sa, path), lf = addr_path(&sf, file);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    say("connect to nothing", connect(s, (struct sockaddr *)&sa, la));
    close(open(file, O_CREAT | O_WRONLY, 0600));
    say("connect to a plain file", connect(s, (struct sockaddr *)&sf, lf));
    say("bind on a plain file", bind(s, (struct sockaddr *)&sf, lf));
    unlink(file);
    int b = socket(AF_UNIX, SOCK_STREAM, 0);
    say("bind", bind(b, (struct sockaddr *)&sa, la));
    say("bind again", bind(b, (struct sockaddr *)&sa, la));
    say("connect to a bound socket not listening", connect(s, (struct sockaddr *)&sa, la));
    say("bind the same path", bind(s, (struct sockaddr *)&sa, la));
    close(b);
    say("connect once it is closed", connect(s, (struct sockaddr *)&sa, la));
    unlink(path);
    struct sockaddr_un ab;
    socklen_t lab = addr_abstract(&ab, "err");
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0);
    say("bind abstract", bind(x, (struct sockaddr *)&ab, lab));
    say("bind abstract again", bind(y, (struct sockaddr *)&ab, lab));
    say("stream connect to a datagram socket", connect(s, (struct sockaddr *)&ab, lab));
    say("listen on a datagram socket", listen(x, 1));
    say("accept on a datagram socket", accept(x, 0, 0));
    say("listen unbound", listen(s, 1));
    say("bind with a short address", bind(s, (struct sockaddr *)&sa, 1));
    struct sockaddr_un bad = sa;
    bad.sun_family = 2;
    say("bind with another family", bind(s, (struct sockaddr *)&bad, la));
    say("send unconnected stream", send(s, "x", 1, MSG_NOSIGNAL));
    say("recv unconnected stream", recv(s, path, 1, 0));
    say("getpeername unconnected", getpeername(s, (struct sockaddr *)&sa, &la));
    int one = 1;
    say("getsockopt on a pipe", getsockopt(0, SOL_SOCKET, SO_TYPE, &one, &la) == -1 && errno == ENOTSOCK ? 0 : -1);
    int p[2];
    pipe(p);
    say("bind a pipe", bind(p[0], (struct sockaddr *)&sa, la));
    say("shutdown bad how", shutdown(s, 7));
    say("socket(46)", socket(46, SOCK_STREAM, 0));
    say("socket(AF_UNIX, 11)", socket(AF_UNIX, 11, 0));
    say("socket(AF_UNIX, SOCK_RDM)", socket(AF_UNIX, SOCK_RDM, 0));
    say("socket(AF_UNIX, SOCK_STREAM, 7)", socket(AF_UNIX, SOCK_STREAM, 7));
    say("socket with a bad flag", socket(AF_UNIX, SOCK_STREAM | 0x10000, 0));
    int r = socket(AF_UNIX, SOCK_RAW, 0);
    int ty = 0;
    socklen_t tl = sizeof ty;
    getsockopt(r, SOL_SOCKET, SO_TYPE, &ty, &tl);
    printf("SOCK_RAW makes type %d\n", ty);
    close(r);
    close(x);
    close(y);
    close(s);
}

/* Non-blocking sockets: EAGAIN for reads, full queues, accept. */
static void t_nonblock(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
    char buf[4096];
    say("read empty", read(sv[0], buf, sizeof buf));
    memset(buf, 'q', sizeof buf);
    long total = 0;
    ssize_t n;
    while ((n = write(sv[0], buf, sizeof buf)) > 0)
        total += n;
    printf("filled: %s after some data %d\n", ename(errno), total > 0);
    say("send MSG_DONTWAIT when full", send(sv[0], buf, 1, MSG_DONTWAIT));
    long got = 0;
    while ((n = read(sv[1], buf, sizeof buf)) > 0)
        got += n;
    printf("drained all: %d, then %s\n", got == total, ename(errno));
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    say("recv MSG_DONTWAIT", recv(sv[0], buf, 1, MSG_DONTWAIT));
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    say("read after F_SETFL O_NONBLOCK", read(sv[0], buf, 1));
    fcntl(sv[0], F_SETFL, 0);
    write(sv[1], "z", 1);
    say("read blocking with data", read(sv[0], buf, 1));
    close(sv[0]);
    close(sv[1]);

    struct sockaddr_un sa;
    socklen_t la = addr_abstract(&sa, "nb");
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    bind(l, (struct sockaddr *)&sa, la);
    listen(l, 1);
    say("accept, nothing pending", accept(l, 0, 0));
    close(l);

    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv);
    int count = 0;
    while (send(sv[0], "d", 1, 0) == 1)
        count++;
    printf("datagram queue full: %s after some %d\n", ename(errno), count > 0);
    close(sv[0]);
    close(sv[1]);
}

/* MSG_PEEK leaves the data queued; FIONREAD counts it. */
static void t_peek(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "abcdef", 6);
    write(sv[0], "gh", 2);
    int avail = 0;
    ioctl(sv[1], FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);
    char buf[16] = {0};
    ssize_t n = recv(sv[1], buf, 3, MSG_PEEK);
    printf("peek 3: %zd %.3s\n", n, buf);
    n = recv(sv[1], buf, 4, 0);
    printf("read 4: %zd %.4s\n", n, buf);
    n = recv(sv[1], buf, 16, MSG_PEEK);
    printf("peek rest: %zd %.*s\n", n, (int)n, buf);
    n = recv(sv[1], buf, 16, 0);
    printf("read rest: %zd %.*s\n", n, (int)n, buf);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    send(sv[0], "msg-one", 7, 0);
    send(sv[0], "two", 3, 0);
    ioctl(sv[1], FIONREAD, &avail);
    printf("dgram FIONREAD: %d\n", avail);
    n = recv(sv[1], buf, 3, MSG_PEEK);
    printf("dgram peek 3: %zd %.3s\n", n, buf);
    n = recv(sv[1], buf, 16, 0);
    printf("dgram read: %zd %.*s\n", n, (int)n, buf);
    n = recv(sv[1], buf, 16, MSG_PEEK | MSG_TRUNC);
    printf("dgram peek MSG_TRUNC: %zd\n", n);
    n = recv(sv[1], buf, 16, 0);
    printf("dgram read: %zd %.*s\n", n, (int)n, buf);
    close(sv[0]);
    close(sv[1]);
}

/* shutdown: each direction, as both sides see it. */
static void t_shutdown(void)
{
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "last", 4);
    say("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR));
    say("write after SHUT_WR", write(sv[0], "x", 1));
    char buf[8];
    say("peer reads the data", read(sv[1], buf, sizeof buf));
    say("then end of file", read(sv[1], buf, sizeof buf));
    say("the peer may still write", write(sv[1], "back", 4));
    say("and the shut side read", read(sv[0], buf, sizeof buf));
    struct pollfd pf = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&pf, 1, 0);
    printf("peer polls %#x\n", pf.revents);
    say("shutdown SHUT_RD", shutdown(sv[1], SHUT_RD));
    say("read after SHUT_RD", read(sv[1], buf, sizeof buf));
    say("write to a peer that shut reading", write(sv[0], "x", 1));
    pf.revents = 0;
    poll(&pf, 1, 0);
    printf("after both: polls %#x\n", pf.revents);
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    say("shutdown SHUT_RDWR", shutdown(sv[0], SHUT_RDWR));
    say("peer reads", read(sv[1], buf, sizeof buf));
    say("peer writes", write(sv[1], "x", 1));
    close(sv[0]);
    close(sv[1]);

    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    say("dgram shutdown SHUT_RD", shutdown(sv[1], SHUT_RD));
    say("dgram read after", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    say("dgram send to it", send(sv[0], "x", 1, 0));
    close(sv[0]);
    close(sv[1]);
}

/* EPIPE: with SIGPIPE ignored, with MSG_NOSIGNAL, and a child killed by
 * the default action. */
static void t_epipe(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    pid_t c = fork();
    if (c == 0) {
        write(sv[0], "x", 1);
        _exit(0);
    }
    child_status(c);
    say("send MSG_NOSIGNAL", send(sv[0], "x", 1, MSG_NOSIGNAL));
    signal(SIGPIPE, SIG_IGN);
    say("write, SIGPIPE ignored", write(sv[0], "x", 1));
    char buf[4];
    say("read", read(sv[0], buf, sizeof buf));
    close(sv[0]);

    /* Data left unread when the peer closes: ECONNRESET, then end of file. */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[0], "unread", 6);
    close(sv[1]);
    say("read after the peer left data unread", read(sv[0], buf, sizeof buf));
    say("read again", read(sv[0], buf, sizeof buf));
    close(sv[0]);

    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
    close(sv[1]);
    say("seqpacket send", send(sv[0], "x", 1, 0));
    close(sv[0]);
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    close(sv[1]);
    say("dgram send", send(sv[0], "x", 1, 0));
    close(sv[0]);
}

/* Receive one message's descriptors into fds (at most max); print what
 * came. */
static int recv_fds(int s, int *fds, int max, size_t control, char *data, size_t len)
{
    char cbuf[256];
    struct iovec iov = {data, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = control;
    ssize_t n = recvmsg(s, &m, 0);
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (int i = 0; i < k && got < max; i++)
                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        }
    }
    printf("recvmsg: %zd bytes, %d descriptors, MSG_CTRUNC %d\n", n, got, !!(m.msg_flags & MSG_CTRUNC));
    return got;
}

static long send_fds(int s, const int *fds, int k, const char *data)
{
    char cbuf[CMSG_SPACE(8 * sizeof(int))];
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = CMSG_SPACE(k * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(k * sizeof(int));
    memcpy(CMSG_DATA(c), fds, k * sizeof(int));
    return sendmsg(s, &m, 0);
}

/* SCM_RIGHTS: a pipe's write end and a file go to a forked child, which
 * uses them; descriptors that do not fit are closed (MSG_CTRUNC). */
static void t_rights(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t c = fork();
    if (c == 0) {
        close(sv[0]);
        int fds[4];
        char data[16];
        if (recv_fds(sv[1], fds, 4, sizeof(char[256]), data, sizeof data) != 2)
            _exit(1);
        struct stat st, st2;
        fstat(fds[0], &st);
        fstat(fds[1], &st2);
        printf("child: first is a fifo %d, second a file %d\n", S_ISFIFO(st.st_mode), S_ISREG(st2.st_mode));
        char buf[64];
        ssize_t n = read(fds[1], buf, sizeof buf);
        char out[96];
        int k = snprintf(out, sizeof out, "child read \"%.*s\" from the file", (int)n, buf);
        write(fds[0], out, k);
        close(fds[0]);
        /* A second message: two descriptors, room for one. */
        n = recv_fds(sv[1], fds, 4, CMSG_SPACE(sizeof(int)), data, sizeof data);
        printf("child: kept %zd, it is a file %d\n", n, fstat(fds[0], &st) == 0 && S_ISREG(st.st_mode));
        /* A third: no room at all. */
        recv_fds(sv[1], fds, 4, 0, data, sizeof data);
        _exit(0);
    }
    close(sv[1]);
    int p[2];
    pipe(p);
    char file[64];
    tmpname(file, sizeof file, "rights");
    int f = open(file, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(f, "file contents", 13);
    lseek(f, 5, SEEK_SET);
    int pass[2] = {p[1], f};
    long r1 = send_fds(sv[0], pass, 2, "fds");
    close(p[1]);
    char buf[128];
    ssize_t n, got = 0;
    while ((n = read(p[0], buf + got, sizeof buf - got)) > 0)
        got += n;
    printf("parent read from the pipe: %.*s\n", (int)got, buf);
    printf("the shared offset moved: %ld\n", (long)lseek(f, 0, SEEK_CUR));
    int two[2] = {f, f};
    long r2 = send_fds(sv[0], two, 2, "two");
    long r3 = send_fds(sv[0], two, 1, "none");
    close(f);
    unlink(file);
    child_status(c);
    printf("the parent's sendmsg calls returned %ld %ld %ld\n", r1, r2, r3);
    close(p[0]);

    /* A socket passes over itself, and the passed end still works. */
    int a[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, a);
    int q[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, q);
    say("sendmsg", send_fds(a[0], &q[1], 1, "sock"));
    close(q[1]);
    int fds[2];
    recv_fds(a[1], fds, 2, 64, buf, sizeof buf);
    write(fds[0], "through", 7);
    n = read(q[0], buf, sizeof buf);
    printf("the passed socket carried: %.*s\n", (int)n, buf);
    close(fds[0]);
    say("end of file once the passed end closes", read(q[0], buf, sizeof buf));
    int bad = 999;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {"x", 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &bad, sizeof bad);
    say("sendmsg of a closed descriptor", sendmsg(a[0], &m, 0));
    close(a[0]);
    close(a[1]);
    close(q[0]);
}

/* SO_PEERCRED, SCM_CREDENTIALS and the other options. */
static void t_creds(void)
{
    struct sockaddr_un sa;
    socklen_t la = addr_abstract(&sa, "cred");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&sa, la);
    listen(l, 2);
    int p[2];
    pipe(p);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        connect(s, (struct sockaddr *)&sa, la);
        struct ucred uc;
        socklen_t ul = sizeof uc;
        getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
        char b;
        write(s, "e", 1); /* before the accept */
        write(p[1], "1", 1);
        read(s, &b, 1);
        write(s, "x", 1); /* after it, before SO_PASSCRED */
        read(s, &b, 1);
        write(s, "z", 1); /* after SO_PASSCRED */
        read(s, &b, 1);
        printf("child: peer pid is the parent %d, uid matches %d, length %d\n", uc.pid == parent, uc.uid == getuid(),
               (int)ul);
        _exit(0);
    }
    char b;
    read(p[0], &b, 1);
    int s = accept(l, 0, 0);
    struct ucred uc;
    socklen_t ul = sizeof uc;
    getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul);
    printf("server: peer pid is the child %d, uid %d gid %d match\n", uc.pid == c, uc.uid == geteuid(),
           uc.gid == getegid());
    write(s, "a", 1);
    int avail = 0;
    while (ioctl(s, FIONREAD, &avail) == 0 && avail < 2)
        usleep(1000);
    int one = 1;
    say("SO_PASSCRED", setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    write(s, "g", 1);
    for (int i = 0; i < 3; i++) {
        char data[1], cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = {data, sizeof data};
        struct msghdr m = {0};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        ssize_t n = recvmsg(s, &m, 0);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        if (cm && cm->cmsg_type == SCM_CREDENTIALS) {
            struct ucred got;
            memcpy(&got, CMSG_DATA(cm), sizeof got);
            printf("recvmsg %zd %c: SCM_CREDENTIALS pid is the child %d, pid 0 %d, uid %d\n", n, data[0],
                   got.pid == c, got.pid == 0, got.uid == getuid() ? 1 : (int)got.uid);
        } else {
            printf("recvmsg %zd: no credentials\n", n);
        }
    }
    write(s, "y", 1);
    child_status(c);
    close(s);

    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    ul = sizeof uc;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul);
    printf("socketpair: peer pid is this process %d\n", uc.pid == getpid());
    int v = -1;
    socklen_t vl = sizeof v;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl);
    printf("SO_TYPE %d (length %d)\n", v, (int)vl);
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &vl);
    printf("SO_DOMAIN %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &vl);
    printf("SO_PROTOCOL %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &vl);
    printf("SO_ERROR %d\n", v);
    getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
    printf("SO_ACCEPTCONN on the listener %d\n", v);
    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &v, &vl);
    printf("SO_RCVBUF positive %d\n", v > 0);
    v = 8192;
    say("set SO_SNDBUF", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl);
    printf("SO_SNDBUF now %d\n", v);
    say("SO_REUSEADDR", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    say("setsockopt short", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &one, 2));
    say("getsockopt unknown", getsockopt(sv[0], SOL_SOCKET, 9999, &v, &vl));
    char small[2];
    socklen_t sl = sizeof small;
    say("getsockopt into 2 bytes", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, small, &sl));
    printf("length now %d\n", (int)sl);
    close(sv[0]);
    close(sv[1]);
    close(l);
}

/* poll and select on sockets. */
static void t_poll(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct pollfd pf[2] = {{sv[0], POLLIN | POLLOUT, 0}, {sv[1], POLLIN, 0}};
    say("poll, nothing to read", poll(pf, 2, 0));
    printf("revents %#x %#x\n", pf[0].revents, pf[1].revents);
    write(sv[0], "x", 1);
    say("poll after a write", poll(pf, 2, 0));
    printf("revents %#x %#x\n", pf[0].revents, pf[1].revents);
    pid_t c = fork();
    if (c == 0) {
        usleep(50000);
        write(sv[1], "late", 4);
        _exit(0);
    }
    struct pollfd w = {sv[0], POLLIN, 0};
    say("poll waits for the child's write", poll(&w, 1, 5000));
    printf("revents %#x\n", w.revents);
    child_status(c);
    char buf[8];
    read(sv[0], buf, sizeof buf);
    read(sv[1], buf, sizeof buf);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(sv[1], &rs);
    struct timeval tv = {0, 0};
    say("select, nothing", select(sv[1] + 1, &rs, 0, 0, &tv));
    close(sv[0]);
    FD_SET(sv[1], &rs);
    say("select after the peer closed", select(sv[1] + 1, &rs, 0, 0, &tv));
    struct pollfd h = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&h, 1, 0);
    printf("peer closed: revents %#x\n", h.revents);
    close(sv[1]);

    struct sockaddr_un sa;
    socklen_t la = addr_abstract(&sa, "poll");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    int u = socket(AF_UNIX, SOCK_STREAM, 0);
    struct pollfd up = {u, POLLIN | POLLOUT, 0};
    poll(&up, 1, 0);
    printf("an unconnected stream socket: revents %#x\n", up.revents);
    bind(l, (struct sockaddr *)&sa, la);
    listen(l, 1);
    struct pollfd lp = {l, POLLIN | POLLOUT, 0};
    say("listener, nobody connecting", poll(&lp, 1, 0));
    connect(u, (struct sockaddr *)&sa, la);
    say("listener, a connection pending", poll(&lp, 1, 0));
    printf("revents %#x\n", lp.revents);
    close(u);
    close(l);
    int d[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, d);
    struct pollfd dp = {d[1], POLLIN | POLLOUT, 0};
    poll(&dp, 1, 0);
    printf("datagram socket: revents %#x\n", dp.revents);
    close(d[0]);
    poll(&dp, 1, 0);
    printf("datagram socket, peer closed: revents %#x\n", dp.revents);
    close(d[1]);
}

/* getsockname and getpeername of path sockets. */
static void t_names(void)
{
    char path[64];
    tmpname(path, sizeof path, "name");
    struct sockaddr_un sa, got;
    socklen_t la = addr_path(&sa, path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t gl = sizeof got;
    say("getsockname unbound", getsockname(s, (struct sockaddr *)&got, &gl));
    printf("length %d family %d\n", (int)gl, got.sun_family);
    bind(s, (struct sockaddr *)&sa, la);
    gl = sizeof got;
    memset(&got, 0, sizeof got);
    say("getsockname bound", getsockname(s, (struct sockaddr *)&got, &gl));
    printf("path matches %d, length is the path's + %d\n", strcmp(got.sun_path, path) == 0, (int)(gl - strlen(path)));
    gl = 4;
    memset(&got, 0, sizeof got);
    say("getsockname into 4 bytes", getsockname(s, (struct sockaddr *)&got, &gl));
    printf("full length reported: %d, copied \"%.2s\" then %d\n", gl == la, got.sun_path, got.sun_path[2]);
    listen(s, 1);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&sa, la);
    gl = sizeof got;
    getpeername(c, (struct sockaddr *)&got, &gl);
    printf("client's peer: the path %d\n", strcmp(got.sun_path, path) == 0);
    int a = accept(s, 0, 0);
    gl = sizeof got;
    getsockname(a, (struct sockaddr *)&got, &gl);
    printf("accepted socket's name: the path %d\n", strcmp(got.sun_path, path) == 0);
    gl = sizeof got;
    getpeername(a, (struct sockaddr *)&got, &gl);
    printf("accepted socket's peer: length %d\n", (int)gl);
    close(a);
    close(c);
    close(s);
    unlink(path);
    say("the name is gone", access(path, F_OK));
}

/* The direct system calls (i386 has had them since Linux 4.3; glibc's
 * wrappers still go through socketcall). */
static void t_direct(void)
{
    int sv[2];
    say("socketpair", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv));
    say("sendto", syscall(SYS_sendto, sv[0], "direct", 6, 0, 0, 0));
    char buf[16];
    say("recvfrom", syscall(SYS_recvfrom, sv[1], buf, sizeof buf, 0, 0, 0));
    struct iovec iov = {"msg", 3};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    say("sendmsg", syscall(SYS_sendmsg, sv[1], &m, 0));
    struct iovec in = {buf, sizeof buf};
    struct msghdr r = {0};
    r.msg_iov = &in;
    r.msg_iovlen = 1;
    say("recvmsg", syscall(SYS_recvmsg, sv[0], &r, 0));
    say("shutdown", syscall(SYS_shutdown, sv[0], SHUT_WR));
    say("read after the peer's shutdown", read(sv[1], buf, sizeof buf));
    close(sv[0]);
    close(sv[1]);

    char path[64];
    tmpname(path, sizeof path, "direct");
    struct sockaddr_un sa, got;
    socklen_t la = addr_path(&sa, path);
    int l = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    say("socket", l >= 0 ? 0 : -1);
    say("bind", syscall(SYS_bind, l, &sa, la));
    say("listen", syscall(SYS_listen, l, 3));
    int c = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    say("connect", syscall(SYS_connect, c, &sa, la));
    socklen_t gl = sizeof got;
    int a = syscall(SYS_accept4, l, &got, &gl, SOCK_CLOEXEC);
    printf("accept4: cloexec %d, peer length %d\n", fcntl(a, F_GETFD), (int)gl);
    gl = sizeof got;
    say("getsockname", syscall(SYS_getsockname, a, &got, &gl));
    printf("the path %d\n", strcmp(got.sun_path, path) == 0);
    gl = sizeof got;
    say("getpeername", syscall(SYS_getpeername, c, &got, &gl));
    int v = 0;
    socklen_t vl = sizeof v;
    say("getsockopt", syscall(SYS_getsockopt, a, SOL_SOCKET, SO_TYPE, &v, &vl));
    printf("type %d\n", v);
    v = 1;
    say("setsockopt", syscall(SYS_setsockopt, a, SOL_SOCKET, SO_PASSCRED, &v, sizeof v));
    close(a);
    close(c);
    close(l);
    unlink(path);
}

/* sendmmsg and recvmmsg: several datagrams in one call. */
static void t_mmsg(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct iovec out[3] = {{"one", 3}, {"three", 5}, {"seven!!", 7}};
    struct mmsghdr mo[3];
    memset(mo, 0, sizeof mo);
    for (int i = 0; i < 3; i++) {
        mo[i].msg_hdr.msg_iov = &out[i];
        mo[i].msg_hdr.msg_iovlen = 1;
    }
    say("sendmmsg", sendmmsg(sv[0], mo, 3, 0));
    printf("lengths %u %u %u\n", mo[0].msg_len, mo[1].msg_len, mo[2].msg_len);
    char bufs[4][16];
    struct iovec in[4];
    struct mmsghdr mi[4];
    memset(mi, 0, sizeof mi);
    for (int i = 0; i < 4; i++) {
        in[i].iov_base = bufs[i];
        in[i].iov_len = sizeof bufs[i];
        mi[i].msg_hdr.msg_iov = &in[i];
        mi[i].msg_hdr.msg_iovlen = 1;
    }
    say("recvmmsg, three queued, room for four", recvmmsg(sv[1], mi, 4, MSG_DONTWAIT, 0));
    printf("got %.*s %.*s %.*s\n", (int)mi[0].msg_len, bufs[0], (int)mi[1].msg_len, bufs[1], (int)mi[2].msg_len,
           bufs[2]);
    say("recvmmsg, nothing queued", recvmmsg(sv[1], mi, 4, MSG_DONTWAIT, 0));
    close(sv[0]);
    close(sv[1]);
}

static void on_alarm(int s) { (void)s; }

/* A signal interrupts a blocked receive, accept and send (EINTR without
 * SA_RESTART); with SA_RESTART the receive goes on and gets the data. */
static void t_eintr(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = {{0, 0}, {0, 30000}};
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    char buf[4096];
    setitimer(ITIMER_REAL, &it, 0);
    say("recv interrupted", recv(sv[0], buf, 1, 0));
    struct sockaddr_un a;
    socklen_t la = addr_abstract(&a, "intr");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&a, la);
    listen(l, 1);
    setitimer(ITIMER_REAL, &it, 0);
    say("accept interrupted", accept(l, 0, 0));
    close(l);
    memset(buf, 'w', sizeof buf);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    while (write(sv[0], buf, sizeof buf) > 0)
        ;
    fcntl(sv[0], F_SETFL, 0);
    setitimer(ITIMER_REAL, &it, 0);
    say("send to a full socket interrupted", send(sv[0], buf, 1, 0));
    close(sv[0]);
    close(sv[1]);

    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, 0);
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t c = fork();
    if (c == 0) {
        usleep(100000);
        write(sv[1], "after", 5);
        _exit(0);
    }
    setitimer(ITIMER_REAL, &it, 0);
    ssize_t n = recv(sv[0], buf, sizeof buf, 0);
    printf("recv with SA_RESTART: %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    child_status(c);
    close(sv[0]);
    close(sv[1]);
}

/* An internet address: IPv4 `ip` or IPv6 `ip` (by `fam`), port `port`. */
static socklen_t addr_in(struct sockaddr_storage *a, int fam, const char *ip, int port)
{
    memset(a, 0, sizeof *a);
    if (fam == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)a;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        inet_pton(AF_INET, ip, &v4->sin_addr);
        return sizeof *v4;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)a;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &v6->sin6_addr);
    return sizeof *v6;
}

static int port_of(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)a)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

/* Print an address as "family ip, port nonzero|0, len N". */
static void show_addr(const char *what, const struct sockaddr_storage *a, socklen_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
    else if (a->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
    printf("%s: %s %s, port %s, len %d\n", what, a->ss_family == AF_INET ? "AF_INET" : a->ss_family == AF_INET6 ? "AF_INET6" : "other",
           ip, port_of(a) ? "nonzero" : "0", (int)len);
}

/* The port a socket has (getsockname). */
static int local_port(int s)
{
    struct sockaddr_storage a;
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    return port_of(&a);
}

/* A listener on `ip` port 0 (family `fam`); a forked client connects to
 * `cip` at its port, sends, and reads the echo; names on both sides. */
static void tcp_echo(int fam, const char *ip, int cfam, const char *cip)
{
    int l = socket(fam, SOCK_STREAM, 0);
    struct sockaddr_storage a, b;
    socklen_t la = addr_in(&a, fam, ip, 0);
    say("bind to port 0", bind(l, (struct sockaddr *)&a, la));
    socklen_t lb = sizeof b;
    say("getsockname", getsockname(l, (struct sockaddr *)&b, &lb));
    show_addr("listener", &b, lb);
    int port = port_of(&b);
    say("listen", listen(l, 5));
    pid_t c = fork();
    if (c == 0) {
        int s = socket(cfam, SOCK_STREAM, 0);
        struct sockaddr_storage t, m;
        socklen_t lt = addr_in(&t, cfam, cip, port), lm = sizeof m;
        if (connect(s, (struct sockaddr *)&t, lt) < 0)
            _exit(10);
        getsockname(s, (struct sockaddr *)&m, &lm);
        send(s, "ping", 4, 0);
        char buf[16];
        ssize_t n = recv(s, buf, 4, MSG_WAITALL);
        /* Printed once the server has said all it says before PONG. */
        printf("client is at another port: %s\n", port_of(&m) != port && port_of(&m) ? "yes" : "no");
        printf("client got %.*s\n", (int)(n > 0 ? n : 0), buf);
        struct sockaddr_storage pn;
        socklen_t lp = sizeof pn;
        getpeername(s, (struct sockaddr *)&pn, &lp);
        show_addr("client's peer", &pn, lp);
        close(s);
        _exit(0);
    }
    struct sockaddr_storage from;
    socklen_t lf = sizeof from;
    int s = accept(l, (struct sockaddr *)&from, &lf);
    say("accept", s >= 0 ? 0 : -1);
    show_addr("accepted from", &from, lf);
    struct sockaddr_storage me;
    socklen_t lm = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &lm);
    show_addr("accepted socket's name", &me, lm);
    printf("same port as the listener: %s\n", port_of(&me) == port ? "yes" : "no");
    char buf[16];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    printf("server got %.*s\n", (int)(n > 0 ? n : 0), buf);
    send(s, "PONG", 4, 0);
    say("read at end of file", recv(s, buf, sizeof buf, 0));
    child_status(c);
    close(s);
    close(l);
}

/* TCP over IPv4 on 127.0.0.1; a listener on INADDR_ANY reached at
 * 127.0.0.1. */
static void t_tcp4(void)
{
    tcp_echo(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
    tcp_echo(AF_INET, "0.0.0.0", AF_INET, "127.0.0.1");
}

/* TCP over IPv6 on ::1; a listener on :: takes IPv4 connections too
 * (v4-mapped addresses); IPV6_V6ONLY stops that. */
static void t_tcp6(void)
{
    tcp_echo(AF_INET6, "::1", AF_INET6, "::1");
    tcp_echo(AF_INET6, "::", AF_INET, "127.0.0.1");
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    int on = 1;
    say("IPV6_V6ONLY", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on));
    struct sockaddr_storage a;
    socklen_t la = addr_in(&a, AF_INET6, "::", 0);
    bind(l, (struct sockaddr *)&a, la);
    listen(l, 1);
    say("IPV6_V6ONLY after bind", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    la = addr_in(&a, AF_INET, "127.0.0.1", local_port(l));
    say("IPv4 connect to a v6-only listener", connect(s, (struct sockaddr *)&a, la));
    close(s);
    close(l);
}

/* UDP: sendto from an unbound socket, recvfrom's address, a connected
 * socket, datagrams to nobody. */
static void t_udp(void)
{
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_storage a, from;
    socklen_t la = addr_in(&a, AF_INET, "127.0.0.1", 0), lf;
    say("bind", bind(r, (struct sockaddr *)&a, la));
    la = sizeof a;
    getsockname(r, (struct sockaddr *)&a, &la);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    say("send without an address", send(s, "x", 1, 0));
    say("sendto", sendto(s, "hello", 5, 0, (struct sockaddr *)&a, la));
    say("sendto again", sendto(s, "world!", 6, 0, (struct sockaddr *)&a, la));
    char buf[64];
    lf = sizeof from;
    ssize_t n = recvfrom(r, buf, sizeof buf, 0, (struct sockaddr *)&from, &lf);
    printf("recvfrom %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    show_addr("from", &from, lf);
    printf("from the sender's port: %s\n", port_of(&from) == local_port(s) ? "yes" : "no");
    say("recv, truncated", recv(r, buf, 3, 0));
    say("recv, nothing queued", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    say("connect", connect(r, (struct sockaddr *)&from, lf));
    say("send to the connected peer", send(r, "back", 4, 0));
    n = recv(s, buf, sizeof buf, 0);
    printf("sender got %.*s\n", (int)(n > 0 ? n : 0), buf);
    int t = socket(AF_INET, SOCK_DGRAM, 0);
    say("sendto a socket connected elsewhere", sendto(t, "lost", 4, 0, (struct sockaddr *)&a, la));
    say("nothing came", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    int port = local_port(t);
    close(t);
    struct sockaddr_storage gone;
    socklen_t lg = addr_in(&gone, AF_INET, "127.0.0.1", port);
    say("sendto a closed port", sendto(s, "void", 4, 0, (struct sockaddr *)&gone, lg));
    say("connect to the closed port", connect(s, (struct sockaddr *)&gone, lg));
    send(s, "void", 4, 0);
    usleep(10000);
    say("recv after sending to nobody", recv(s, buf, sizeof buf, MSG_DONTWAIT));
    close(s);
    close(r);

    int r6 = socket(AF_INET6, SOCK_DGRAM, 0);
    la = addr_in(&a, AF_INET6, "::1", 0);
    bind(r6, (struct sockaddr *)&a, la);
    la = sizeof a;
    getsockname(r6, (struct sockaddr *)&a, &la);
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    say("sendto over IPv6", sendto(s6, "six", 3, 0, (struct sockaddr *)&a, la));
    lf = sizeof from;
    n = recvfrom(r6, buf, sizeof buf, 0, (struct sockaddr *)&from, &lf);
    printf("recvfrom %zd %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    show_addr("from", &from, lf);
    close(s6);
    close(r6);
}

/* connect to a port nobody listens on: bind one, close it, call it. */
static void t_refused(void)
{
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage a;
    socklen_t la = addr_in(&a, AF_INET, "127.0.0.1", 0);
    bind(t, (struct sockaddr *)&a, la);
    int port = local_port(t);
    close(t);
    la = addr_in(&a, AF_INET, "127.0.0.1", port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    say("connect to a closed port", connect(s, (struct sockaddr *)&a, la));
    close(s);
    t = socket(AF_INET, SOCK_STREAM, 0);
    bind(t, (struct sockaddr *)&a, la);
    say("connect to a bound socket that does not listen", connect(s = socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&a, la));
    close(s);
    close(t);
    s = socket(AF_INET6, SOCK_STREAM, 0);
    la = addr_in(&a, AF_INET6, "::1", port);
    say("connect to a closed port over IPv6", connect(s, (struct sockaddr *)&a, la));
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    say("recv before connect", recv(s, &port, 1, MSG_DONTWAIT));
    say("getpeername before connect", getpeername(s, (struct sockaddr *)&a, &la));
    close(s);
}

/* Binding: a listening port is taken, other loopback addresses are
 * not, SO_REUSEADDR does not share a listener's port, addresses beyond
 * loopback are not available; a closed port is free again. */
static void t_bind(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage a;
    socklen_t la = addr_in(&a, AF_INET, "127.0.0.1", 0);
    bind(l, (struct sockaddr *)&a, la);
    int port = local_port(l);
    say("listen", listen(l, 1));
    say("bind again", bind(l, (struct sockaddr *)&a, la));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    la = addr_in(&a, AF_INET, "127.0.0.1", port);
    say("bind to a listening port", bind(s, (struct sockaddr *)&a, la));
    la = addr_in(&a, AF_INET, "0.0.0.0", port);
    say("bind INADDR_ANY at a listening port", bind(s, (struct sockaddr *)&a, la));
    int on = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    la = addr_in(&a, AF_INET, "127.0.0.1", port);
    say("bind with SO_REUSEADDR to a listening port", bind(s, (struct sockaddr *)&a, la));
    la = addr_in(&a, AF_INET, "192.0.2.1", 0);
    say("bind to an address not here", bind(s, (struct sockaddr *)&a, la));
    la = addr_in(&a, AF_INET6, "::1", 0);
    say("bind an IPv4 socket to an IPv6 address", bind(s, (struct sockaddr *)&a, la));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    la = addr_in(&a, AF_INET, "127.0.0.1", port);
    say("UDP at a TCP listener's port", bind(u, (struct sockaddr *)&a, la));
    close(u);
    close(l);
    say("bind once the listener closed", bind(s, (struct sockaddr *)&a, la));
    printf("port 0 picks an ephemeral port: %s\n", port >= 32768 && port <= 60999 ? "yes" : "no");
    close(s);
}

/* getsockopt and setsockopt on internet sockets. */
static void t_inet_opts(void)
{
    static const struct {
        int fam, type;
    } kinds[] = {{AF_INET, SOCK_STREAM}, {AF_INET, SOCK_DGRAM}, {AF_INET6, SOCK_STREAM}, {AF_INET6, SOCK_DGRAM}};
    for (size_t i = 0; i < 4; i++) {
        int s = socket(kinds[i].fam, kinds[i].type, 0);
        int v[4] = {-1, -1, -1, -1};
        socklen_t l = sizeof v[0];
        getsockopt(s, SOL_SOCKET, SO_TYPE, &v[0], &l);
        getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v[1], &l);
        getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v[2], &l);
        getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &v[3], &l);
        printf("socket %d %d: SO_TYPE %d SO_PROTOCOL %d SO_DOMAIN %d SO_ACCEPTCONN %d\n", kinds[i].fam, kinds[i].type, v[0],
               v[1], v[2], v[3]);
        close(s);
    }
    int t = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    int v = -1, on = 5;
    socklen_t l = sizeof v;
    say("TCP_NODELAY", getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &l));
    printf("= %d\n", v);
    say("set TCP_NODELAY", setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on));
    getsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, &l);
    printf("TCP_NODELAY = %d\n", v);
    say("set SO_REUSEADDR", setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on));
    getsockopt(t, SOL_SOCKET, SO_REUSEADDR, &v, &l);
    printf("SO_REUSEADDR = %d\n", v);
    say("set SO_KEEPALIVE", setsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on));
    getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, &l);
    printf("SO_KEEPALIVE = %d\n", v);
    int idle = 30;
    say("set TCP_KEEPIDLE", setsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    getsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l);
    printf("TCP_KEEPIDLE = %d\n", v);
    struct linger lg = {1, 0};
    say("set SO_LINGER", setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    int tos = 0x10;
    say("set IP_TOS", setsockopt(t, IPPROTO_IP, IP_TOS, &tos, sizeof tos));
    getsockopt(t, IPPROTO_IP, IP_TTL, &v, &l);
    printf("IP_TTL = %d\n", v);
    say("IPV6_V6ONLY on an IPv4 socket", getsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l));
    say("SO_PASSCRED on TCP", setsockopt(t, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    close(t);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    say("TCP_NODELAY on UDP", getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, &l));
    close(u);
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    getsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l);
    printf("IPV6_V6ONLY = %d\n", v);
    close(s6);
    say("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    say("socket(AF_INET, SOCK_SEQPACKET)", socket(AF_INET, SOCK_SEQPACKET, 0));
    int sv[2];
    say("socketpair(AF_INET)", socketpair(AF_INET, SOCK_STREAM, 0, sv));
}

/* poll on a listener, a connecting client, a connection. */
static void t_inet_poll(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage a;
    socklen_t la = addr_in(&a, AF_INET, "127.0.0.1", 0);
    bind(l, (struct sockaddr *)&a, la);
    listen(l, 4);
    la = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &la);
    struct pollfd lp = {l, POLLIN | POLLOUT, 0};
    say("listener, nobody connecting", poll(&lp, 1, 0));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct pollfd cp = {c, POLLIN | POLLOUT, 0};
    poll(&cp, 1, 0);
    printf("an unconnected socket: revents %#x\n", cp.revents);
    pid_t k = fork();
    if (k == 0) {
        usleep(50000);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        connect(s, (struct sockaddr *)&a, la);
        usleep(100000);
        close(s);
        _exit(0);
    }
    say("poll waits for a connection", poll(&lp, 1, 5000));
    printf("revents %#x\n", lp.revents);
    int s = accept(l, 0, 0);
    struct pollfd sp = {s, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&sp, 1, 0);
    printf("a connection: revents %#x\n", sp.revents);
    sp.events = POLLIN | POLLRDHUP;
    say("poll waits for the peer to close", poll(&sp, 1, 5000));
    printf("revents %#x\n", sp.revents);
    child_status(k);
    close(s);
    fcntl(c, F_SETFL, O_NONBLOCK);
    say("non-blocking connect", connect(c, (struct sockaddr *)&a, la));
    cp.events = POLLOUT;
    say("poll for the connection", poll(&cp, 1, 5000));
    int err = -1;
    socklen_t le = sizeof err;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &le);
    printf("SO_ERROR %d\n", err);
    s = accept(l, 0, 0);
    say("accepted", s >= 0 ? 0 : -1);
    close(s);
    close(c);
    close(l);
}

/* What a sandbox with a loopback network only answers (not listed:
 * natively the host's network answers). */
static void t_inet(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    say("socket(AF_INET, SOCK_STREAM)", s >= 0 ? 0 : -1);
    struct sockaddr_storage a;
    socklen_t la = addr_in(&a, AF_INET, "8.8.8.8", 53);
    say("connect to 8.8.8.8:53", connect(s, (struct sockaddr *)&a, la));
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);
    say("sendto 8.8.8.8:53", sendto(s, "q", 1, 0, (struct sockaddr *)&a, la));
    say("UDP connect to 8.8.8.8:53", connect(s, (struct sockaddr *)&a, la));
    close(s);
    s = socket(AF_INET6, SOCK_STREAM, 0);
    la = addr_in(&a, AF_INET6, "2001:db8::1", 80);
    say("connect to [2001:db8::1]:80", connect(s, (struct sockaddr *)&a, la));
    close(s);
    say("socket(AF_NETLINK, SOCK_RAW)", socket(AF_NETLINK, SOCK_RAW, 0));
    say("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, 0));
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    la = addr_path(&sa, "/var/run/nscd/socket");
    say("connect to nscd", connect(s, (struct sockaddr *)&sa, la));
    close(s);
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"pair_stream", t_pair_stream}, {"dgram", t_dgram}, {"seqpacket", t_seqpacket}, {"path", t_path},
    {"abstract", t_abstract},       {"errors", t_errors}, {"nonblock", t_nonblock}, {"peek", t_peek},
    {"shutdown", t_shutdown},       {"epipe", t_epipe}, {"rights", t_rights},       {"creds", t_creds},
    {"poll", t_poll},               {"names", t_names}, {"direct", t_direct},       {"mmsg", t_mmsg},
    {"eintr", t_eintr},             {"tcp4", t_tcp4},   {"tcp6", t_tcp6},           {"udp", t_udp},
    {"refused", t_refused},         {"bind", t_bind},   {"inet_opts", t_inet_opts}, {"inet_poll", t_inet_poll},
};

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: sockets LIST | NAME\n");
        return 2;
    }
    if (!strcmp(argv[1], "inet")) {
        t_inet();
        return 0;
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
        fprintf(stderr, "sockets: no subtest %s\n", argv[1]);
        return 2;
    }
    return 0;
}
