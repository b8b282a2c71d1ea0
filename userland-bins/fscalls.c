/*
 * fscalls: a differential test of the Linux file system calls, for the
 * namespace work (T3). Each subtest makes the calls in the current directory
 * and prints one line per call: its result, or -1 and the errno name, plus
 * the fields that do not depend on the host (type, permission bits, nlink,
 * size, contents, times we set ourselves, comparisons of times). It never
 * prints inode or device numbers, absolute times, pids, fd numbers, block
 * counts (only "st_blocks*512 < st_size" for sparse files) or anything about
 * the directory it runs in, so the output is the same natively and under
 * vxos in any fresh directory, for the same user (the first line says whether
 * we are root: root bypasses the permission checks).
 *
 * The calls: open, openat, creat, close; read, write, pread64, pwrite64,
 * readv, writev (short reads, holes, sparse files); lseek, _llseek (SEEK_SET,
 * CUR, END, DATA, HOLE, EOVERFLOW); stat64, lstat64, fstat64, fstatat64;
 * statx; getdents64 and getdents; access, faccessat, faccessat2; mkdir,
 * mkdirat, rmdir; unlink, unlinkat; rename, renameat, renameat2 (NOREPLACE,
 * EXCHANGE); link, linkat; symlink, symlinkat, readlink, readlinkat (ELOOP,
 * dangling links, `..` after a link); chmod, fchmod, fchmodat; chown32,
 * lchown32, fchown32, fchownat to our own ids; umask; utimensat, utimes;
 * truncate64, ftruncate64, truncate, ftruncate; getcwd, chdir, fchdir;
 * statfs64, fstatfs64; sync, syncfs, fsync, fdatasync; fcntl64 (F_DUPFD,
 * F_DUPFD_CLOEXEC, F_GETFD/F_SETFD, F_GETFL/F_SETFL, F_GETLK/F_SETLK and the
 * 64-bit and OFD forms), flock; dup, dup2, dup3; ioctl (FIONREAD, FIOCLEX,
 * FIONBIO, TCGETS); and bad pointers (EFAULT) and long names (ENAMETOOLONG).
 * The call under test is made with syscall(2) wherever glibc would use
 * another one (open → openat, stat → statx, lseek → _llseek, faccessat →
 * faccessat2, utimensat → utimensat_time64, ...), so the i386 system call
 * named is the one made; setting up and cleaning up use libc. Results that
 * are x86-64's compat layer rather than an i386 kernel say so where they are
 * made (32-bit lseek past 2 GiB, ftruncate64 without O_LARGEFILE); results
 * that changed between kernel versions (unprivileged linkat AT_EMPTY_PATH,
 * the statx mask for times not asked for) are not printed. Nothing printed
 * depends on the file system either (ext4 and tmpfs agree).
 *
 * Usage: fscalls LIST   the subtest names, one a line
 *        fscalls NAME   run one subtest in the current directory, which must
 *                       be empty and writable; it is left empty
 *        fscalls all    every subtest in order, each in a fresh subdirectory
 *                       NAME that is created and removed
 * Exit status 0; 1 when a subtest left files behind or an fd open; 2 for a
 * usage error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#define SC syscall

/* ------------------------------------------------------------------ */
/* The i386 kernel structures.                                         */

/* struct stat64 as the stat64 family fills it in (asm/stat.h). */
struct kstat64 {
    unsigned long long st_dev;
    unsigned char __pad0[4];
    unsigned long __st_ino;
    unsigned int st_mode;
    unsigned int st_nlink;
    unsigned long st_uid;
    unsigned long st_gid;
    unsigned long long st_rdev;
    unsigned char __pad3[4];
    long long st_size;
    unsigned long st_blksize;
    unsigned long long st_blocks;
    unsigned long st_atime_, st_atime_nsec;
    unsigned long st_mtime_, st_mtime_nsec;
    unsigned long st_ctime_, st_ctime_nsec;
    unsigned long long st_ino;
} __attribute__((packed));
_Static_assert(sizeof(struct kstat64) == 96, "i386 struct stat64 is 96 bytes");

/* A getdents64 record (linux_dirent64). */
struct kdirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* An old getdents record (linux_dirent); d_type is the record's last byte. */
struct kdirent {
    uint32_t d_ino;
    int32_t d_off;
    unsigned short d_reclen;
    char d_name[];
};

/* struct statfs64 (asm/statfs.h, packed to 4 on i386: 84 bytes). */
struct kstatfs64 {
    uint32_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    uint32_t f_namelen, f_frsize, f_flags, f_spare[4];
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct kstatfs64) == 84, "i386 struct statfs64 is 84 bytes");

/* struct flock (32-bit offsets) and struct flock64 of fcntl64. */
struct kflock {
    short l_type, l_whence;
    int32_t l_start, l_len, l_pid;
};
struct kflock64 {
    short l_type, l_whence;
    long long l_start, l_len;
    int32_t l_pid;
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct kflock64) == 24, "i386 struct flock64 is 24 bytes");

/* Times with 32-bit seconds, as utimensat (320) and utimes (271) take them. */
struct kts { int32_t sec, nsec; };
struct ktv { int32_t sec, usec; };

#define KF_GETLK 5
#define KF_SETLK 6
#define KF_GETLK64 12
#define KF_SETLK64 13
#define KF_OFD_GETLK 36
#define KF_OFD_SETLK 37

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

/* As res, for calls returning a descriptor: "LABEL: fd" (never the number). */
static void resfd(long r, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0)
        printf("-1 %s\n", ename(e));
    else
        printf("fd\n");
    errno = e;
}

/* As res, for calls returning a mode: octal. */
static void resoct(long r, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0)
        printf("-1 %s\n", ename(e));
    else
        printf("0%03lo\n", r);
    errno = e;
}

/* A plain line. */
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static const char *tname(unsigned m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFIFO: return "fifo";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFSOCK: return "sock";
    }
    return "?";
}

/* What FL shows of the flags fcntl(F_GETFL) reports. */
static const char *flname(long fl)
{
    static char b[80];
    const char *acc = (fl & O_ACCMODE) == O_RDONLY ? "O_RDONLY"
                    : (fl & O_ACCMODE) == O_WRONLY ? "O_WRONLY"
                    : (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "O_ACCMODE";
    snprintf(b, sizeof b, "%s%s%s", acc, fl & O_APPEND ? "|O_APPEND" : "",
             fl & O_NONBLOCK ? "|O_NONBLOCK" : "");
    return b;
}

/* A stat line. SIZE: also print the size (not for directories). */
static void st_show(long r, const struct kstat64 *s, int size, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0) {
        printf("-1 %s\n", ename(e));
    } else {
        printf("%ld %s %04o nlink %u", r, tname(s->st_mode), s->st_mode & 07777,
               s->st_nlink);
        if (size)
            printf(" size %lld", s->st_size);
        putchar('\n');
    }
    errno = e;
}

/* ------------------------------------------------------------------ */
/* The calls under test that glibc would make differently.             */

static long x_open(const char *p, int fl, int mode) { return SC(SYS_open, p, fl, mode); }
static long x_openat(int d, const char *p, int fl, int mode) { return SC(SYS_openat, d, p, fl, mode); }
static long x_stat(const char *p, struct kstat64 *s) { return SC(SYS_stat64, p, s); }
static long x_lstat(const char *p, struct kstat64 *s) { return SC(SYS_lstat64, p, s); }
static long x_fstat(int fd, struct kstat64 *s) { return SC(SYS_fstat64, fd, s); }
static long x_fstatat(int d, const char *p, struct kstat64 *s, int fl) { return SC(SYS_fstatat64, d, p, s, fl); }
static long x_lseek(int fd, long off, int wh) { return SC(SYS_lseek, fd, off, wh); }
static long x_llseek(int fd, long long off, int wh, long long *out)
{
    return SC(SYS__llseek, fd, (unsigned long)((unsigned long long)off >> 32),
              (unsigned long)off, out, wh);
}
static long x_truncate64(const char *p, long long n)
{
    return SC(SYS_truncate64, p, (unsigned long)n, (unsigned long)((unsigned long long)n >> 32));
}
static long x_ftruncate64(int fd, long long n)
{
    return SC(SYS_ftruncate64, fd, (unsigned long)n, (unsigned long)((unsigned long long)n >> 32));
}
static long x_utimensat(int d, const char *p, const struct kts *t, int fl) { return SC(SYS_utimensat, d, p, t, fl); }
static long x_getcwd(char *b, size_t n) { return SC(SYS_getcwd, b, n); }
static long x_fcntl(int fd, int cmd, long arg) { return SC(SYS_fcntl64, fd, cmd, arg); }

/* ------------------------------------------------------------------ */
/* Setting up.                                                         */

static char base[4096];  /* the directory a subtest started in */
static size_t baselen;

static void setup_fail(const char *what)
{
    printf("SETUP %s: -1 %s\n", what, ename(errno));
}

static void mkfile(const char *p, const char *data)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        setup_fail(p);
        return;
    }
    size_t n = strlen(data);
    if (write(fd, data, n) != (ssize_t)n)
        setup_fail(p);
    close(fd);
}

static void rm(const char *p)
{
    if (unlink(p) < 0)
        setup_fail(p);
}

static void rmd(const char *p)
{
    if (rmdir(p) < 0)
        setup_fail(p);
}

static void md(const char *p)
{
    if (mkdir(p, 0755) < 0)
        setup_fail(p);
}

static void sl(const char *target, const char *p)
{
    if (symlink(target, p) < 0)
        setup_fail(p);
}

/* The first N bytes of file P with NULs as '.', or the error. */
static void content(const char *p, const char *fmt, ...)
{
    char b[128];
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    int fd = open(p, O_RDONLY);
    if (fd < 0) {
        printf("-1 %s\n", ename(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n < 0) {
        printf("read -1 %s\n", ename(errno));
        return;
    }
    for (ssize_t i = 0; i < n; i++)
        if (b[i] == 0)
            b[i] = '.';
    b[n] = 0;
    printf("\"%s\"\n", b);
}

/* Whether bytes [from, to) of fd read as zeros. */
static int zeros(int fd, long long from, long long to)
{
    char b[4096];
    while (from < to) {
        size_t n = to - from < (long long)sizeof b ? (size_t)(to - from) : sizeof b;
        ssize_t r = pread64(fd, b, n, from);
        if (r <= 0)
            return 0;
        for (ssize_t i = 0; i < r; i++)
            if (b[i])
                return 0;
        from += r;
    }
    return 1;
}

static int lowest_free(void)
{
    for (int i = 0;; i++)
        if (fcntl(i, F_GETFD) < 0 && errno == EBADF)
            return i;
}

static const char *uids_ok(const struct kstat64 *s)
{
    return s->st_uid == getuid() && s->st_gid == getgid() ? "1" : "0";
}

/* ------------------------------------------------------------------ */
/* The subtests.                                                       */

static void t_open(void)
{
    struct kstat64 s;
    char b[32];
    long fd, fd2;

    fd = x_open("f", O_WRONLY | O_CREAT | O_EXCL, 0666);
    resfd(fd, "open f O_CREAT|O_EXCL new");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 new f (umask 022)");
    res(write(fd, "hello", 5), "write 5");
    res(close(fd), "close");
    res(close(fd), "close again");
    res(close(-1), "close -1");
    res(close(100000), "close 100000");
    res(x_open("f", O_RDWR | O_CREAT | O_EXCL, 0666), "open O_CREAT|O_EXCL existing");
    res(x_open("missing", O_RDONLY, 0), "open missing");
    fd = x_open("f", O_RDWR | O_CREAT, 0600);
    resfd(fd, "open O_CREAT existing");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 (mode unchanged, not truncated)");
    close(fd);
    fd = x_open("f", O_RDONLY | O_EXCL, 0);
    resfd(fd, "open O_EXCL without O_CREAT existing");
    close(fd);

    fd = x_open("f", O_RDONLY, 0);
    res(write(fd, "x", 1), "write on O_RDONLY fd");
    res(read(fd, b, 5), "read on O_RDONLY fd");
    close(fd);
    fd = x_open("f", O_WRONLY, 0);
    res(read(fd, b, 1), "read on O_WRONLY fd");
    close(fd);
    fd = x_open("f", O_RDWR | (O_RDONLY | O_WRONLY | O_RDWR), 0);
    resfd(fd, "open access mode 3");
    res(read(fd, b, 1), "read on access mode 3 fd");
    res(write(fd, "x", 1), "write on access mode 3 fd");
    if (fd >= 0)
        close(fd);

    fd = x_open("f", O_WRONLY | O_TRUNC, 0);
    resfd(fd, "open O_TRUNC");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 after O_TRUNC");
    res(write(fd, "abc", 3), "write 3");
    close(fd);
    fd = x_open("f", O_RDONLY | O_TRUNC, 0);
    resfd(fd, "open O_RDONLY|O_TRUNC");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 after O_RDONLY|O_TRUNC");
    close(fd);

    mkfile("f", "abc");
    fd = x_open("f", O_WRONLY | O_APPEND, 0);
    resfd(fd, "open O_APPEND");
    res(x_lseek(fd, 0, SEEK_SET), "lseek 0");
    res(write(fd, "de", 2), "write 2 with O_APPEND");
    res(x_lseek(fd, 0, SEEK_CUR), "offset after append");
    close(fd);
    content("f", "content");

    md("d");
    res(x_open("f", O_RDONLY | O_DIRECTORY, 0), "open O_DIRECTORY file");
    fd = x_open("d", O_RDONLY | O_DIRECTORY, 0);
    resfd(fd, "open O_DIRECTORY dir");
    close(fd);
    res(x_open("d", O_WRONLY, 0), "open dir O_WRONLY");
    res(x_open("d", O_RDWR, 0), "open dir O_RDWR");
    res(x_open("d", O_RDONLY | O_CREAT, 0644), "open dir O_CREAT");
    res(x_open("d", O_RDONLY | O_CREAT | O_EXCL, 0644), "open dir O_CREAT|O_EXCL");
    res(x_open("f/", O_RDONLY, 0), "open file/");
    res(x_open("new/", O_RDWR | O_CREAT, 0644), "open new/ O_CREAT");
    res(x_open("", O_RDONLY, 0), "open empty path");
    res(x_open("f/x", O_RDONLY, 0), "open file/x");
    res(x_open("d/x/y", O_RDWR | O_CREAT, 0644), "open d/x/y O_CREAT");

    sl("f", "l");
    sl("d", "dl");
    res(x_open("l", O_RDONLY | O_NOFOLLOW, 0), "open link O_NOFOLLOW");
    fd = x_open("l", O_RDONLY, 0);
    resfd(fd, "open link");
    close(fd);
    fd = x_open("dl/", O_RDONLY | O_NOFOLLOW, 0);
    resfd(fd, "open dirlink/ O_NOFOLLOW");
    if (fd >= 0)
        close(fd);
    fd = x_open("dl/../f", O_RDONLY | O_NOFOLLOW, 0);
    resfd(fd, "open dirlink/../f O_NOFOLLOW");
    if (fd >= 0)
        close(fd);
    res(x_open("dl", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0), "open dirlink O_DIRECTORY|O_NOFOLLOW");
    fd = x_open("l", O_PATH | O_NOFOLLOW, 0);
    resfd(fd, "open link O_PATH|O_NOFOLLOW");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 O_PATH link");
    res(read(fd, b, 1), "read O_PATH fd");
    close(fd);

    fd = x_open("f", O_RDONLY | O_CLOEXEC, 0);
    res(fcntl(fd, F_GETFD), "O_CLOEXEC F_GETFD");
    close(fd);
    fd = x_open("f", O_RDONLY, 0);
    res(fcntl(fd, F_GETFD), "no O_CLOEXEC F_GETFD");
    close(fd);

    fd2 = x_open("d", O_RDONLY | O_DIRECTORY, 0);
    fd = x_openat(fd2, "g", O_WRONLY | O_CREAT | O_EXCL, 0640);
    resfd(fd, "openat dirfd g O_CREAT");
    close(fd);
    st_show(x_stat("d/g", &s), &s, 1, "stat64 d/g");
    res(x_openat(fd2, "g", O_WRONLY | O_CREAT | O_EXCL, 0640), "openat dirfd g O_EXCL");
    fd = x_openat(fd2, "../f", O_RDONLY, 0);
    resfd(fd, "openat dirfd ../f");
    close(fd);
    close(fd2);
    fd2 = x_open("f", O_RDONLY, 0);
    res(x_openat(fd2, "x", O_RDONLY, 0), "openat file-fd x");
    close(fd2);
    res(x_openat(-1, "f", O_RDONLY, 0), "openat -1 f");
    res(x_openat(100000, "f", O_RDONLY, 0), "openat 100000 f");
    fd = x_openat(AT_FDCWD, "f", O_RDONLY, 0);
    resfd(fd, "openat AT_FDCWD f");
    close(fd);
    {
        char abs[4200];
        snprintf(abs, sizeof abs, "%s/f", base);
        fd = x_openat(-1, abs, O_RDONLY, 0);
        resfd(fd, "openat -1 absolute path");
        if (fd >= 0)
            close(fd);
    }

    fd = SC(SYS_creat, "c", 0600);
    resfd(fd, "creat c");
    res(write(fd, "xyz", 3), "write creat fd");
    res(read(fd, b, 1), "read creat fd");
    close(fd);
    fd = SC(SYS_creat, "c", 0644);
    resfd(fd, "creat c again");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 (truncated, mode kept)");
    close(fd);
    res(SC(SYS_creat, "d", 0644), "creat dir");

    rm("c");
    rm("l");
    rm("dl");
    rm("d/g");
    rmd("d");
    rm("f");
}

static void t_rw(void)
{
    struct kstat64 s;
    char b[128], a2[2], b10[10];
    long fd;

    fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    res(write(fd, "0123456789", 10), "write 10");
    res(write(fd, "", 0), "write 0");
    res(lseek(fd, 0, SEEK_SET), "lseek 0");
    memset(b, 0, sizeof b);
    res(read(fd, b, 4), "read 4");
    say("  got \"%s\"", b);
    memset(b, 0, sizeof b);
    res(read(fd, b, 100), "read 100 (short at EOF)");
    say("  got \"%s\"", b);
    res(read(fd, b, 100), "read at EOF");
    res(read(fd, b, 0), "read 0");

    memset(b, 0, sizeof b);
    res(pread64(fd, b, 3, 2), "pread64 3 at 2");
    say("  got \"%s\"", b);
    res(lseek(fd, 0, SEEK_CUR), "offset after pread64");
    res(pread64(fd, b, 10, 8), "pread64 10 at 8 (short)");
    res(pread64(fd, b, 10, 50), "pread64 past EOF");
    res(SC(SYS_pread64, fd, b, 1, -1, -1), "pread64 at -1");
    res(pwrite64(fd, "AB", 2, 4), "pwrite64 2 at 4");
    content("f", "content");
    res(pwrite64(fd, "Z", 1, 20), "pwrite64 1 at 20");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64");
    say("hole 10..20 reads zeros: %d", zeros(fd, 10, 20));
    res(lseek(fd, 0, SEEK_CUR), "offset after pwrite64");
    res(lseek(fd, 30, SEEK_SET), "lseek 30");
    res(write(fd, "E", 1), "write 1 at 30");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64");
    say("hole 21..30 reads zeros: %d", zeros(fd, 21, 30));
    content("f", "content");
    close(fd);
    res(write(fd, "x", 1), "write closed fd");
    res(read(fd, b, 1), "read closed fd");

    fd = open("g", O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec iv[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    res(writev(fd, iv, 3), "writev 2+0+3");
    lseek(fd, 0, SEEK_SET);
    memset(a2, 0, sizeof a2);
    memset(b10, 0, sizeof b10);
    struct iovec rv[2] = {{a2, 2}, {b10, 9}};
    res(readv(fd, rv, 2), "readv 2+9 (short)");
    say("  got \"%.2s\" \"%s\"", a2, b10);
    res(readv(fd, rv, 2), "readv at EOF");
    res(readv(fd, rv, 0), "readv 0 iovecs");
    res(SC(SYS_readv, fd, rv, -1), "readv -1 iovecs");
    res(SC(SYS_writev, fd, iv, 1025), "writev 1025 iovecs");
    res(SC(SYS_writev, fd, (void *)1, 1), "writev bad iovec pointer");
    close(fd);
    rm("g");

    fd = open(".", O_RDONLY | O_DIRECTORY);
    res(read(fd, b, 1), "read dir fd");
    res(write(fd, "x", 1), "write dir fd");
    close(fd);

    fd = open("a", O_RDWR | O_CREAT | O_APPEND, 0644);
    res(write(fd, "abc", 3), "write O_APPEND");
    res(pwrite64(fd, "Z", 1, 0), "pwrite64 at 0 on O_APPEND fd");
    close(fd);
    content("a", "content (pwrite64 appends)");
    rm("a");

    fd = open("s", O_RDWR | O_CREAT | O_TRUNC, 0644);
    res(pwrite64(fd, "x", 1, 1 << 20), "pwrite64 1 at 1 MiB");
    res(x_fstat(fd, &s), "fstat64 sparse");
    say("  size %lld, st_blocks*512 < st_size: %d", s.st_size,
        (long long)s.st_blocks * 512 < s.st_size);
    say("  1 MiB hole reads zeros: %d", zeros(fd, 0, 1 << 20));
    close(fd);
    rm("s");

    int p[2];
    if (pipe(p) < 0)
        setup_fail("pipe");
    res(pread64(p[0], b, 1, 0), "pread64 on pipe");
    res(pwrite64(p[1], "x", 1, 0), "pwrite64 on pipe");
    close(p[0]);
    close(p[1]);
    rm("f");
}

static void t_lseek(void)
{
    struct kstat64 s;
    long long o = -7;
    long fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    res(write(fd, "0123456789", 10), "write 10");
    res(x_lseek(fd, 3, SEEK_SET), "lseek SEEK_SET 3");
    res(x_lseek(fd, 4, SEEK_CUR), "lseek SEEK_CUR 4");
    res(x_lseek(fd, -2, SEEK_CUR), "lseek SEEK_CUR -2");
    res(x_lseek(fd, 0, SEEK_END), "lseek SEEK_END 0");
    res(x_lseek(fd, -3, SEEK_END), "lseek SEEK_END -3");
    res(x_lseek(fd, 5, SEEK_END), "lseek SEEK_END 5");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 (size unchanged)");
    res(x_lseek(fd, -1, SEEK_SET), "lseek SEEK_SET -1");
    res(x_lseek(fd, -100, SEEK_CUR), "lseek SEEK_CUR -100");
    res(x_lseek(fd, -11, SEEK_END), "lseek SEEK_END -11");
    res(x_lseek(fd, 0, SEEK_CUR), "offset after the errors");
    res(x_lseek(fd, 0, 7), "lseek whence 7");
    res(x_lseek(-1, 0, SEEK_SET), "lseek fd -1");
    res(x_lseek(fd, 0x7fffffff, SEEK_SET), "lseek SEEK_SET 0x7fffffff");
    /* An i386 kernel says EOVERFLOW; x86-64's compat lseek returns the low 32 bits. */
    res(x_lseek(fd, 1, SEEK_CUR), "lseek SEEK_CUR 1 (past 2^31-1)");
    res(x_llseek(fd, 0, SEEK_CUR, &o), "_llseek SEEK_CUR 0");
    say("  offset %lld", o);
    res(x_llseek(fd, 5LL << 30, SEEK_SET, &o), "_llseek SEEK_SET 5 GiB");
    say("  offset %lld", o);
    res(x_lseek(fd, 0, SEEK_CUR), "lseek SEEK_CUR 0 at 5 GiB (low 32 bits)");
    res(x_llseek(fd, -1, SEEK_SET, &o), "_llseek SEEK_SET -1");
    res(x_llseek(fd, -4, SEEK_END, &o), "_llseek SEEK_END -4");
    say("  offset %lld", o);
    res(x_llseek(fd, 2, SEEK_CUR, &o), "_llseek SEEK_CUR 2");
    say("  offset %lld", o);
    res(x_llseek(fd, 0, 9, &o), "_llseek whence 9");
    res(x_llseek(fd, 0, SEEK_SET, (long long *)1), "_llseek bad result pointer");
    res(x_lseek(fd, 0, SEEK_CUR), "  offset after it");
    res(x_lseek(fd, 0, SEEK_DATA), "lseek SEEK_DATA 0");
    res(x_lseek(fd, 9, SEEK_DATA), "lseek SEEK_DATA 9");
    res(x_lseek(fd, 10, SEEK_DATA), "lseek SEEK_DATA 10 (EOF)");
    res(x_lseek(fd, 0, SEEK_HOLE), "lseek SEEK_HOLE 0");
    res(x_lseek(fd, 11, SEEK_HOLE), "lseek SEEK_HOLE 11");
    res(x_lseek(fd, -1, SEEK_DATA), "lseek SEEK_DATA -1");
    close(fd);

    fd = open("f", O_RDONLY);
    char c = 0;
    x_lseek(fd, 7, SEEK_SET);
    res(read(fd, &c, 1), "read 1 after lseek 7");
    say("  got '%c'", c);
    res(x_lseek(fd, 0, SEEK_CUR), "offset after the read");
    close(fd);

    int p[2];
    if (pipe(p) < 0)
        setup_fail("pipe");
    res(x_lseek(p[0], 0, SEEK_SET), "lseek pipe");
    res(x_llseek(p[0], 0, SEEK_SET, &o), "_llseek pipe");
    close(p[0]);
    close(p[1]);
    fd = open(".", O_RDONLY | O_DIRECTORY);
    res(x_lseek(fd, 0, SEEK_SET), "lseek dir SEEK_SET 0");
    close(fd);
    rm("f");
}

static void t_stat(void)
{
    struct kstat64 s;
    long fd;
    mkfile("f", "hello");
    md("d");
    sl("f", "l");
    sl("d", "dl");
    sl("nowhere", "dang");

    st_show(x_stat("f", &s), &s, 1, "stat64 f");
    say("  uid,gid are getuid,getgid: %s", uids_ok(&s));
    say("  st_blksize > 0: %d", s.st_blksize > 0);
    st_show(x_stat("d", &s), &s, 0, "stat64 d");
    st_show(x_lstat("l", &s), &s, 1, "lstat64 link");
    st_show(x_stat("l", &s), &s, 1, "stat64 link");
    st_show(x_lstat("dl", &s), &s, 1, "lstat64 dirlink");
    st_show(x_lstat("dl/", &s), &s, 0, "lstat64 dirlink/");
    st_show(x_stat("dang", &s), &s, 1, "stat64 dangling");
    st_show(x_lstat("dang", &s), &s, 1, "lstat64 dangling");
    st_show(x_stat("f/", &s), &s, 1, "stat64 f/");
    st_show(x_lstat("l/", &s), &s, 1, "lstat64 link/");
    st_show(x_stat("missing", &s), &s, 1, "stat64 missing");
    st_show(x_stat("f/x", &s), &s, 1, "stat64 f/x");
    st_show(x_stat("", &s), &s, 1, "stat64 empty path");
    st_show(x_stat("d/../f", &s), &s, 1, "stat64 d/../f");
    st_show(x_stat("./d/./", &s), &s, 0, "stat64 ./d/./");

    fd = open("f", O_RDONLY);
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 f");
    st_show(x_fstat(-1, &s), &s, 1, "fstat64 -1");
    st_show(x_fstatat(AT_FDCWD, "l", &s, 0), &s, 1, "fstatat64 link");
    st_show(x_fstatat(AT_FDCWD, "l", &s, AT_SYMLINK_NOFOLLOW), &s, 1, "fstatat64 link AT_SYMLINK_NOFOLLOW");
    st_show(x_fstatat(fd, "", &s, AT_EMPTY_PATH), &s, 1, "fstatat64 fd \"\" AT_EMPTY_PATH");
    st_show(x_fstatat(fd, "", &s, 0), &s, 1, "fstatat64 fd \"\"");
    st_show(x_fstatat(fd, "x", &s, 0), &s, 1, "fstatat64 file-fd x");
    st_show(x_fstatat(AT_FDCWD, "f", &s, 0x1234), &s, 1, "fstatat64 bad flags");
    st_show(x_fstatat(-1, "f", &s, 0), &s, 1, "fstatat64 dirfd -1");
    close(fd);
    res(x_fstatat(AT_FDCWD, "", &s, AT_EMPTY_PATH), "fstatat64 AT_FDCWD \"\" AT_EMPTY_PATH");
    say("  type %s", tname(s.st_mode));
    fd = open("d", O_RDONLY | O_DIRECTORY);
    st_show(x_fstatat(fd, "../f", &s, 0), &s, 1, "fstatat64 d-fd ../f");
    md("d/sub");
    st_show(x_fstatat(fd, "", &s, AT_EMPTY_PATH), &s, 0, "fstatat64 d-fd \"\" after mkdir d/sub");
    close(fd);
    fd = open("l", O_PATH | O_NOFOLLOW);
    st_show(x_fstatat(fd, "", &s, AT_EMPTY_PATH), &s, 1, "fstatat64 O_PATH link-fd \"\" AT_EMPTY_PATH");
    close(fd);
    st_show(x_stat("f", (void *)1), &s, 1, "stat64 bad buffer");

    rmd("d/sub");
    rm("dang");
    rm("dl");
    rm("l");
    rmd("d");
    rm("f");
}

static void statx_show(long r, const struct statx *x, unsigned want, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0)
        printf("-1 %s\n", ename(e));
    else
        printf("%ld has the mask asked: %d %s %04o nlink %u size %llu\n", r,
               (x->stx_mask & want) == want, tname(x->stx_mode),
               x->stx_mode & 07777, x->stx_nlink,
               S_ISDIR(x->stx_mode) ? 0ULL : (unsigned long long)x->stx_size);
    errno = e;
}

static void t_statx(void)
{
    struct statx x;
    struct kstat64 s;
    long fd;
    mkfile("f", "hello");
    md("d");
    sl("f", "l");

#define STX(d, p, fl, m) (memset(&x, 0xff, sizeof x), SC(SYS_statx, d, p, fl, m, &x))
#define STXS(d, p, fl, m, ...) statx_show(STX(d, p, fl, m), &x, m, __VA_ARGS__)
    STXS(AT_FDCWD, "f", 0, STATX_BASIC_STATS, "statx f BASIC");
    say("  uid,gid are getuid,getgid: %d", x.stx_uid == getuid() && x.stx_gid == getgid());
    x_stat("f", &s);
    say("  mtime equals stat64's: %d", x.stx_mtime.tv_sec == (long long)s.st_mtime_ &&
        x.stx_mtime.tv_nsec == s.st_mtime_nsec);
    STXS(AT_FDCWD, "d", 0, STATX_BASIC_STATS, "statx d BASIC");
    STXS(AT_FDCWD, "l", 0, STATX_BASIC_STATS, "statx link");
    STXS(AT_FDCWD, "l", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, "statx link AT_SYMLINK_NOFOLLOW");
    STXS(AT_FDCWD, "f", 0, 0, "statx f mask 0");
    STXS(AT_FDCWD, "f", 0, STATX_TYPE | STATX_SIZE, "statx f TYPE|SIZE");
    STXS(AT_FDCWD, "f", AT_STATX_DONT_SYNC, STATX_BASIC_STATS, "statx AT_STATX_DONT_SYNC");
    STXS(AT_FDCWD, "f", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, "statx AT_STATX_FORCE_SYNC");
    fd = open("f", O_RDONLY);
    STXS(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, "statx fd \"\" AT_EMPTY_PATH");
    STXS(fd, "", 0, STATX_BASIC_STATS, "statx fd \"\"");
    close(fd);
    fd = open("d", O_RDONLY | O_DIRECTORY);
    STXS(fd, "../f", 0, STATX_BASIC_STATS, "statx d-fd ../f");
    close(fd);
    STXS(AT_FDCWD, "f", 0, STATX__RESERVED, "statx STATX__RESERVED");
    STXS(AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, "statx FORCE_SYNC|DONT_SYNC");
    STXS(AT_FDCWD, "f", 0x40000000, STATX_BASIC_STATS, "statx flags 0x40000000");
    STXS(AT_FDCWD, "missing", 0, STATX_BASIC_STATS, "statx missing");
    STXS(AT_FDCWD, "f/", 0, STATX_BASIC_STATS, "statx f/");
    STXS(-1, "f", 0, STATX_BASIC_STATS, "statx dirfd -1");
    res(SC(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, (void *)1), "statx bad buffer");
    res(SC(SYS_statx, AT_FDCWD, (char *)1, 0, STATX_BASIC_STATS, &x), "statx bad path");
#undef STXS
#undef STX
    rm("l");
    rmd("d");
    rm("f");
}

struct ent { char name[64]; char type; };

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ent *)a)->name, ((const struct ent *)b)->name);
}

static char dtype(unsigned t)
{
    switch (t) {
    case DT_REG: return 'f';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_FIFO: return 'p';
    case DT_CHR: return 'c';
    case DT_BLK: return 'b';
    case DT_SOCK: return 's';
    case DT_UNKNOWN: return 'u';
    }
    return '?';
}

/* Read directory fd with getdents64 (OLD: getdents) in BUFSZ chunks. */
static int read_dir(int fd, int old, size_t bufsz, struct ent *e, int max)
{
    char buf[4096] __attribute__((aligned(8)));
    int n = 0;
    for (;;) {
        long r = SC(old ? SYS_getdents : SYS_getdents64, fd, buf, bufsz);
        if (r < 0) {
            res(r, "  getdents%s", old ? "" : "64");
            return n;
        }
        if (r == 0)
            return n;
        for (long off = 0; off < r;) {
            const char *name;
            unsigned type;
            unsigned short reclen;
            if (old) {
                struct kdirent *d = (struct kdirent *)(buf + off);
                name = d->d_name;
                reclen = d->d_reclen;
                type = (unsigned char)buf[off + reclen - 1];
            } else {
                struct kdirent64 *d = (struct kdirent64 *)(buf + off);
                name = d->d_name;
                reclen = d->d_reclen;
                type = d->d_type;
            }
            if (n < max) {
                snprintf(e[n].name, sizeof e[n].name, "%s", name);
                e[n].type = dtype(type);
            }
            n++;
            off += reclen;
        }
    }
}

static void t_getdents(void)
{
    static struct ent e[200];
    char b[4096] __attribute__((aligned(8)));
    long fd;
    int n;
    mkfile("file", "x");
    md("sub");
    sl("file", "link");

    fd = open(".", O_RDONLY | O_DIRECTORY);
    n = read_dir(fd, 0, sizeof b, e, 200);
    say("getdents64 .: %d entries", n);
    qsort(e, n, sizeof e[0], ent_cmp);
    for (int i = 0; i < n; i++)
        say("  %c %s", e[i].type, e[i].name);
    res(SC(SYS_getdents64, fd, b, sizeof b), "getdents64 at end");
    res(lseek(fd, 0, SEEK_SET), "lseek dir 0");
    n = read_dir(fd, 0, sizeof b, e, 200);
    say("getdents64 after rewind: %d entries", n);
    lseek(fd, 0, SEEK_SET);
    n = read_dir(fd, 1, sizeof b, e, 200);
    say("getdents (old) .: %d entries", n);
    qsort(e, n, sizeof e[0], ent_cmp);
    for (int i = 0; i < n; i++)
        say("  %c %s", e[i].type, e[i].name);
    lseek(fd, 0, SEEK_SET);
    res(SC(SYS_getdents64, fd, b, 1), "getdents64 1-byte buffer");
    res(SC(SYS_getdents64, fd, (void *)1, sizeof b), "getdents64 bad buffer");
    close(fd);
    fd = open("file", O_RDONLY);
    res(SC(SYS_getdents64, fd, b, sizeof b), "getdents64 file fd");
    close(fd);
    res(SC(SYS_getdents64, -1, b, sizeof b), "getdents64 fd -1");

    md("many");
    for (int i = 0; i < 100; i++) {
        char p[32];
        snprintf(p, sizeof p, "many/n%03d", i);
        mkfile(p, "");
    }
    fd = open("many", O_RDONLY | O_DIRECTORY);
    n = read_dir(fd, 0, 256, e, 200);
    close(fd);
    qsort(e, n, sizeof e[0], ent_cmp);
    int ok = n == 102 && !strcmp(e[0].name, ".") && !strcmp(e[1].name, "..");
    for (int i = 2; ok && i < n; i++) {
        char want[16];
        snprintf(want, sizeof want, "n%03d", i - 2);
        ok = !strcmp(e[i].name, want) && e[i].type == 'f';
    }
    say("getdents64 256-byte buffer over 100 files: %d entries, each once: %d", n, ok);
    for (int i = 0; i < 100; i++) {
        char p[32];
        snprintf(p, sizeof p, "many/n%03d", i);
        rm(p);
    }
    fd = open("many", O_RDONLY | O_DIRECTORY);
    n = read_dir(fd, 0, sizeof b, e, 200);
    say("getdents64 emptied dir: %d entries", n);
    close(fd);
    rmd("many");

    rm("link");
    rmd("sub");
    rm("file");
}

static void t_access(void)
{
    static const struct { const char *name; int mode; } files[] = {
        {"m0", 0}, {"m400", 0400}, {"m700", 0700},
    };
    static const struct { const char *name; int bit; } bits[] = {
        {"F_OK", F_OK}, {"R_OK", R_OK}, {"W_OK", W_OK}, {"X_OK", X_OK},
    };
    say("getuid()==0: %d", getuid() == 0);
    for (int i = 0; i < 3; i++) {
        mkfile(files[i].name, "#!/bin/sh\n");
        chmod(files[i].name, files[i].mode);
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            res(SC(SYS_access, files[i].name, bits[j].bit), "access %s %s", files[i].name, bits[j].name);
    res(SC(SYS_access, "m700", R_OK | W_OK | X_OK), "access m700 R_OK|W_OK|X_OK");
    res(SC(SYS_access, "m400", R_OK | W_OK), "access m400 R_OK|W_OK");
    res(SC(SYS_access, "missing", F_OK), "access missing F_OK");
    res(SC(SYS_access, "m700/x", F_OK), "access m700/x F_OK");
    res(SC(SYS_access, "m700", 8), "access mode 8");
    md("d0");
    chmod("d0", 0);
    res(SC(SYS_access, "d0", R_OK), "access dir mode 0 R_OK");
    res(SC(SYS_access, "d0", X_OK), "access dir mode 0 X_OK");
    res(SC(SYS_access, "d0/x", F_OK), "access d0/x F_OK");
    rmd("d0");

    sl("nowhere", "dang");
    sl("m0", "l0");
    long fd = open(".", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_faccessat, fd, "m400", R_OK), "faccessat dirfd m400 R_OK");
    res(SC(SYS_faccessat, fd, "m400", X_OK), "faccessat dirfd m400 X_OK");
    res(SC(SYS_faccessat, AT_FDCWD, "l0", X_OK), "faccessat link-to-m0 X_OK");
    res(SC(SYS_faccessat, -1, "m400", F_OK), "faccessat dirfd -1");
    res(SC(SYS_faccessat2, fd, "m700", X_OK, AT_EACCESS), "faccessat2 m700 X_OK AT_EACCESS");
    res(SC(SYS_faccessat2, fd, "m0", R_OK, AT_EACCESS), "faccessat2 m0 R_OK AT_EACCESS");
    res(SC(SYS_faccessat2, fd, "dang", F_OK, 0), "faccessat2 dangling F_OK");
    res(SC(SYS_faccessat2, fd, "dang", F_OK, AT_SYMLINK_NOFOLLOW), "faccessat2 dangling F_OK AT_SYMLINK_NOFOLLOW");
    res(SC(SYS_faccessat2, fd, "m0", F_OK, 0x4), "faccessat2 bad flags");
    close(fd);
    fd = open("m400", O_RDONLY);
    res(SC(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH), "faccessat2 fd \"\" AT_EMPTY_PATH");
    close(fd);
    rm("dang");
    rm("l0");
    for (int i = 0; i < 3; i++)
        rm(files[i].name);
}

static void t_mkdir(void)
{
    struct kstat64 s;
    long fd;
    res(SC(SYS_mkdir, "d", 0755), "mkdir d");
    st_show(x_stat("d", &s), &s, 0, "stat64 d");
    res(SC(SYS_mkdir, "d", 0755), "mkdir d again");
    res(SC(SYS_mkdir, "missing/x", 0755), "mkdir missing/x");
    mkfile("f", "");
    res(SC(SYS_mkdir, "f/x", 0755), "mkdir file/x");
    res(SC(SYS_mkdir, "f", 0755), "mkdir over file");
    res(SC(SYS_mkdir, "d/sub", 0755), "mkdir d/sub");
    st_show(x_stat("d", &s), &s, 0, "stat64 d");
    res(SC(SYS_mkdir, "e/", 0700), "mkdir e/");
    st_show(x_stat("e", &s), &s, 0, "stat64 e");
    res(SC(SYS_mkdir, "d/sub/../sub2", 0755), "mkdir d/sub/../sub2");
    st_show(x_stat("d", &s), &s, 0, "stat64 d");
    res(SC(SYS_mkdir, ".", 0755), "mkdir .");
    res(SC(SYS_mkdir, "..", 0755), "mkdir ..");
    res(SC(SYS_mkdir, "", 0755), "mkdir empty path");
    sl("nowhere", "dang");
    res(SC(SYS_mkdir, "dang", 0755), "mkdir dangling link");
    res(x_lstat("nowhere", &s), "lstat64 its target");
    res(SC(SYS_mkdir, "m", 07777), "mkdir mode 07777");
    st_show(x_stat("m", &s), &s, 0, "stat64 m");

    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_mkdirat, fd, "x", 0700), "mkdirat d-fd x");
    st_show(x_stat("d/x", &s), &s, 0, "stat64 d/x");
    close(fd);
    fd = open("f", O_RDONLY);
    res(SC(SYS_mkdirat, fd, "x", 0700), "mkdirat file-fd x");
    close(fd);
    res(SC(SYS_mkdirat, -1, "x", 0700), "mkdirat -1 x");
    res(SC(SYS_mkdirat, AT_FDCWD, "y", 0700), "mkdirat AT_FDCWD y");

    res(SC(SYS_rmdir, "d"), "rmdir non-empty");
    res(SC(SYS_rmdir, "f"), "rmdir file");
    res(SC(SYS_rmdir, "."), "rmdir .");
    res(SC(SYS_rmdir, "d/."), "rmdir d/.");
    res(SC(SYS_rmdir, ".."), "rmdir ..");
    res(SC(SYS_rmdir, "d/sub/.."), "rmdir d/sub/..");
    res(SC(SYS_rmdir, "missing"), "rmdir missing");
    res(SC(SYS_rmdir, ""), "rmdir empty path");
    sl("e", "el");
    res(SC(SYS_rmdir, "el"), "rmdir link to dir");
    res(SC(SYS_rmdir, "el/"), "rmdir link to dir/");
    res(SC(SYS_rmdir, "d/sub/"), "rmdir d/sub/");
    res(SC(SYS_rmdir, "d/sub2"), "rmdir d/sub2");
    res(SC(SYS_rmdir, "d/x"), "rmdir d/x");
    st_show(x_stat("d", &s), &s, 0, "stat64 d");
    res(SC(SYS_rmdir, "d"), "rmdir d");
    res(SC(SYS_rmdir, "e"), "rmdir e");
    res(SC(SYS_rmdir, "y"), "rmdir y");
    rmd("m");
    rm("el");
    rm("dang");
    rm("f");
}

static void t_unlink(void)
{
    struct kstat64 s;
    char b[16];
    long fd;
    mkfile("f", "data");
    res(SC(SYS_unlink, "f"), "unlink f");
    res(x_stat("f", &s), "stat64 f");
    res(SC(SYS_unlink, "f"), "unlink f again");
    md("d");
    res(SC(SYS_unlink, "d"), "unlink dir");
    res(SC(SYS_unlink, "."), "unlink .");
    res(SC(SYS_unlink, ""), "unlink empty path");
    mkfile("g", "gg");
    res(SC(SYS_unlink, "g/"), "unlink file/");
    res(SC(SYS_unlink, "nodir/x"), "unlink nodir/x");
    res(SC(SYS_unlink, "g/x"), "unlink file/x");
    res(SC(SYS_unlinkat, AT_FDCWD, "d", 0), "unlinkat dir 0");
    res(SC(SYS_unlinkat, AT_FDCWD, "g", AT_REMOVEDIR), "unlinkat file AT_REMOVEDIR");
    res(SC(SYS_unlinkat, AT_FDCWD, "g", 0x1), "unlinkat bad flags");
    res(SC(SYS_unlinkat, AT_FDCWD, "d", AT_REMOVEDIR), "unlinkat dir AT_REMOVEDIR");
    md("d2");
    mkfile("d2/x", "");
    fd = open("d2", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_unlinkat, fd, "x", 0), "unlinkat d2-fd x");
    res(SC(SYS_unlinkat, fd, ".", AT_REMOVEDIR), "unlinkat d2-fd . AT_REMOVEDIR");
    close(fd);
    res(SC(SYS_unlinkat, -1, "g", 0), "unlinkat dirfd -1");
    sl("g", "l");
    res(SC(SYS_unlink, "l"), "unlink link");
    res(x_lstat("l", &s), "lstat64 link");
    res(x_stat("g", &s), "stat64 its target");
    sl("d2", "dl");
    res(SC(SYS_unlink, "dl/"), "unlink dirlink/");
    res(SC(SYS_unlink, "dl"), "unlink dirlink");

    fd = open("g", O_RDONLY);
    res(SC(SYS_unlink, "g"), "unlink open file");
    st_show(x_fstat(fd, &s), &s, 1, "fstat64 its fd");
    memset(b, 0, sizeof b);
    res(read(fd, b, sizeof b - 1), "read its fd");
    say("  got \"%s\"", b);
    close(fd);
    rmd("d2");
}

static void t_rename(void)
{
    struct kstat64 s;
    char b[16];
    long fd;
    mkfile("a", "A");
    res(SC(SYS_rename, "a", "b"), "rename a b");
    res(x_stat("a", &s), "stat64 a");
    content("b", "b");
    mkfile("c", "C");
    res(SC(SYS_rename, "c", "b"), "rename c b (replace)");
    res(x_stat("c", &s), "stat64 c");
    content("b", "b");
    md("d1");
    md("d2");
    res(SC(SYS_rename, "d1", "d2"), "rename d1 d2 (replace empty dir)");
    res(x_stat("d1", &s), "stat64 d1");
    st_show(x_stat("d2", &s), &s, 0, "stat64 d2");
    md("d3");
    mkfile("d3/x", "X");
    md("d4");
    res(SC(SYS_rename, "d4", "d3"), "rename d4 d3 (non-empty)");
    res(SC(SYS_rename, "b", "d2"), "rename file over dir");
    res(SC(SYS_rename, "d2", "b"), "rename dir over file");
    md("d2/sub");
    res(SC(SYS_rename, "d2", "d2/sub/in"), "rename d2 d2/sub/in");
    res(SC(SYS_rename, "d2", "d2/in"), "rename d2 d2/in");
    res(SC(SYS_rename, "d2/sub", "d2"), "rename d2/sub d2 (onto its parent)");
    res(SC(SYS_rename, "missing", "x"), "rename missing x");
    res(SC(SYS_rename, "b", "missing/x"), "rename b missing/x");
    res(SC(SYS_rename, "b", "b"), "rename b b");
    res(SC(SYS_rename, "", "x"), "rename empty path");
    if (link("b", "b2") < 0)
        setup_fail("link");
    res(SC(SYS_rename, "b", "b2"), "rename b b2 (hard links to one file)");
    res(x_stat("b", &s), "stat64 b");
    res(x_stat("b2", &s), "stat64 b2");
    rm("b2");
    res(SC(SYS_rename, ".", "x"), "rename . x");
    res(SC(SYS_rename, "d4", "."), "rename d4 .");
    res(SC(SYS_rename, "d4", ".."), "rename d4 ..");
    res(SC(SYS_rename, "b/", "c"), "rename file/ c");
    res(SC(SYS_rename, "b", "c/"), "rename file c/");
    res(SC(SYS_rename, "d4/", "d5/"), "rename d4/ d5/");
    st_show(x_stat("d5", &s), &s, 0, "stat64 d5");

    fd = open("d3", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_renameat, fd, "x", AT_FDCWD, "y"), "renameat d3-fd x AT_FDCWD y");
    res(SC(SYS_renameat, AT_FDCWD, "y", fd, "x2"), "renameat AT_FDCWD y d3-fd x2");
    res(SC(SYS_renameat, fd, "x2", fd, "y"), "renameat d3-fd x2 d3-fd y");
    res(SC(SYS_renameat, fd, "y", fd, "../y"), "renameat d3-fd y d3-fd ../y");
    res(SC(SYS_renameat, -1, "y", AT_FDCWD, "z"), "renameat -1 y");
    close(fd);
    content("y", "y");

    res(SC(SYS_renameat2, AT_FDCWD, "y", AT_FDCWD, "b", RENAME_NOREPLACE), "renameat2 y b RENAME_NOREPLACE");
    res(SC(SYS_renameat2, AT_FDCWD, "y", AT_FDCWD, "z", RENAME_NOREPLACE), "renameat2 y z RENAME_NOREPLACE");
    res(SC(SYS_renameat2, AT_FDCWD, "z", AT_FDCWD, "d5", RENAME_EXCHANGE), "renameat2 z d5 RENAME_EXCHANGE");
    st_show(x_stat("z", &s), &s, 0, "stat64 z");
    st_show(x_stat("d5", &s), &s, 1, "stat64 d5");
    content("d5", "d5");
    res(SC(SYS_renameat2, AT_FDCWD, "d5", AT_FDCWD, "b", RENAME_EXCHANGE), "renameat2 d5 b RENAME_EXCHANGE");
    content("b", "b");
    content("d5", "d5");
    res(SC(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "nothere", RENAME_EXCHANGE), "renameat2 RENAME_EXCHANGE missing");
    res(SC(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "d5", RENAME_EXCHANGE | RENAME_NOREPLACE),
        "renameat2 RENAME_EXCHANGE|RENAME_NOREPLACE");
    res(SC(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "b3", 0x100), "renameat2 flags 0x100");
    res(SC(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "b3", 0), "renameat2 b b3 0");
    res(SC(SYS_renameat2, AT_FDCWD, "b3", AT_FDCWD, "b", 0), "renameat2 b3 b 0");

    sl("b", "s");
    res(SC(SYS_rename, "s", "s2"), "rename link");
    memset(b, 0, sizeof b);
    res(readlink("s2", b, sizeof b - 1), "readlink renamed link");
    say("  got \"%s\"", b);
    fd = open("b", O_RDONLY);
    res(SC(SYS_rename, "b", "b9"), "rename open file");
    memset(b, 0, sizeof b);
    res(read(fd, b, sizeof b - 1), "read its fd");
    say("  got \"%s\"", b);
    close(fd);
    rm("s2");
    rm("b9");
    rm("d5");
    rmd("z");
    rmd("d3");
    rmd("d2/sub");
    rmd("d2");
}

static void t_link(void)
{
    struct kstat64 s, t;
    long fd;
    mkfile("a", "data");
    res(SC(SYS_link, "a", "b"), "link a b");
    st_show(x_stat("a", &s), &s, 1, "stat64 a");
    st_show(x_stat("b", &t), &t, 1, "stat64 b");
    say("  same inode: %d", s.st_ino == t.st_ino && s.st_dev == t.st_dev);
    res(SC(SYS_link, "a", "c"), "link a c");
    st_show(x_stat("b", &s), &s, 1, "stat64 b");
    res(SC(SYS_unlink, "a"), "unlink a");
    st_show(x_stat("b", &s), &s, 1, "stat64 b");
    content("b", "b");
    fd = open("c", O_WRONLY | O_APPEND);
    res(write(fd, "+c", 2), "write 2 through c");
    close(fd);
    content("b", "b");
    res(SC(SYS_link, "b", "b"), "link b b");
    res(SC(SYS_link, "b", "c"), "link b c (exists)");
    res(SC(SYS_link, "missing", "x"), "link missing x");
    res(SC(SYS_link, "b", "nodir/x"), "link b nodir/x");
    md("d");
    res(SC(SYS_link, "d", "dl"), "link dir");
    res(SC(SYS_link, "b", "d/"), "link b d/");
    res(SC(SYS_link, "b/", "x"), "link b/ x");
    res(SC(SYS_link, "b", "x/"), "link b x/");

    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_linkat, AT_FDCWD, "b", fd, "x", 0), "linkat AT_FDCWD b d-fd x");
    st_show(x_stat("d/x", &s), &s, 1, "stat64 d/x");
    res(SC(SYS_linkat, fd, "x", fd, "../y", 0), "linkat d-fd x d-fd ../y");
    close(fd);
    sl("b", "s");
    res(SC(SYS_linkat, AT_FDCWD, "s", AT_FDCWD, "s2", 0), "linkat link s2 (no follow)");
    st_show(x_lstat("s2", &s), &s, 1, "lstat64 s2");
    res(SC(SYS_linkat, AT_FDCWD, "s", AT_FDCWD, "s3", AT_SYMLINK_FOLLOW), "linkat link s3 AT_SYMLINK_FOLLOW");
    st_show(x_lstat("s3", &s), &s, 1, "lstat64 s3");
    res(SC(SYS_linkat, AT_FDCWD, "b", AT_FDCWD, "s4", 0x1), "linkat bad flags");
    res(SC(SYS_linkat, -1, "b", AT_FDCWD, "s4", 0), "linkat dirfd -1");
    fd = open("b", O_RDONLY);
    /* Unprivileged flink() is allowed since Linux 6.10 only: try it as root. */
    if (getuid() == 0)
        res(SC(SYS_linkat, fd, "", AT_FDCWD, "e", AT_EMPTY_PATH), "linkat fd \"\" AT_EMPTY_PATH (root)");
    else
        say("linkat fd \"\" AT_EMPTY_PATH (root): not root, skipped");
    res(SC(SYS_linkat, fd, "", AT_FDCWD, "e2", 0), "linkat fd \"\" 0");
    close(fd);
    st_show(x_stat("b", &s), &s, 1, "stat64 b");
    unlink("e");
    rm("s3");
    rm("s2");
    rm("s");
    rm("y");
    rm("d/x");
    rmd("d");
    rm("c");
    rm("b");
}

static void rdlink(long r, const char *buf, const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    if (r < 0) {
        printf("-1 %s\n", ename(e));
    } else if (baselen && (size_t)r >= baselen && !memcmp(buf, base, baselen)) {
        printf("$D+%ld \"$D%.*s\"\n", r - (long)baselen, (int)(r - baselen), buf + baselen);
    } else {
        printf("%ld \"%.*s\"\n", r, (int)r, buf);
    }
    errno = e;
}

static void t_symlink(void)
{
    struct kstat64 s;
    char b[4200], abs[4200];
    long r, fd;
    mkfile("f", "hi");
    md("d");
    md("d/sub");

    res(SC(SYS_symlink, "f", "l"), "symlink f l");
    memset(b, 'X', sizeof b);
    r = SC(SYS_readlink, "l", b, sizeof b);
    rdlink(r, b, "readlink l");
    say("  not NUL-terminated: %d", r == 1 && b[1] == 'X');
    st_show(x_lstat("l", &s), &s, 1, "lstat64 l");
    st_show(x_stat("l", &s), &s, 1, "stat64 l");
    res(SC(SYS_symlink, "a-longer-target", "long"), "symlink a-longer-target long");
    r = SC(SYS_readlink, "long", b, 4);
    rdlink(r, b, "readlink bufsiz 4");
    res(SC(SYS_readlink, "long", b, 0), "readlink bufsiz 0");
    res(SC(SYS_readlink, "long", b, -1), "readlink bufsiz -1");
    res(SC(SYS_readlink, "f", b, sizeof b), "readlink file");
    res(SC(SYS_readlink, "d", b, sizeof b), "readlink dir");
    res(SC(SYS_readlink, "missing", b, sizeof b), "readlink missing");
    res(SC(SYS_readlink, "", b, sizeof b), "readlink empty path");
    res(SC(SYS_readlink, "long", (char *)1, sizeof b), "readlink bad buffer");

    res(SC(SYS_symlink, "../f", "d/up"), "symlink ../f d/up");
    st_show(x_stat("d/up", &s), &s, 1, "stat64 d/up");
    res(SC(SYS_symlink, "d/sub/../../f", "rel"), "symlink d/sub/../../f rel");
    st_show(x_stat("rel", &s), &s, 1, "stat64 rel");
    snprintf(abs, sizeof abs, "%s/d/sub/../../f", base);
    res(SC(SYS_symlink, abs, "abs"), "symlink $D/d/sub/../../f abs");
    r = SC(SYS_readlink, "abs", b, sizeof b);
    rdlink(r, b, "readlink abs");
    st_show(x_stat("abs", &s), &s, 1, "stat64 abs");
    st_show(x_lstat("abs", &s), &s, 0, "lstat64 abs");
    say("  its size is the target's length: %d", s.st_size == (long long)strlen(abs));

    /* `..` after a symbolic link goes to the parent of where it led. */
    res(SC(SYS_symlink, "d/sub", "deep"), "symlink d/sub deep");
    st_show(x_stat("deep/../up", &s), &s, 1, "stat64 deep/../up");
    st_show(x_stat("deep/../../f", &s), &s, 1, "stat64 deep/../../f");
    st_show(x_stat("deep/..", &s), &s, 0, "stat64 deep/..");
    st_show(x_lstat("deep/", &s), &s, 0, "lstat64 deep/");

    res(SC(SYS_symlink, "nowhere", "dang"), "symlink nowhere dang");
    st_show(x_stat("dang", &s), &s, 1, "stat64 dangling");
    st_show(x_lstat("dang", &s), &s, 1, "lstat64 dangling");
    res(x_open("dang", O_WRONLY | O_CREAT | O_EXCL, 0644), "open dangling O_CREAT|O_EXCL");
    res(x_open("dang", O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), "open dangling O_CREAT|O_NOFOLLOW");
    fd = x_open("dang", O_WRONLY | O_CREAT, 0644);
    resfd(fd, "open dangling O_CREAT");
    close(fd);
    st_show(x_stat("nowhere", &s), &s, 1, "stat64 nowhere (created through the link)");
    rm("nowhere");
    res(SC(SYS_symlink, "d/nowhere", "dang2"), "symlink d/nowhere dang2");
    res(x_open("dang2/", O_WRONLY | O_CREAT, 0644), "open dang2/ O_CREAT");
    res(SC(SYS_mkdir, "dang2/", 0755), "mkdir dang2/");

    res(SC(SYS_symlink, "loop", "loop"), "symlink loop loop");
    st_show(x_stat("loop", &s), &s, 1, "stat64 self-loop");
    st_show(x_lstat("loop", &s), &s, 1, "lstat64 self-loop");
    res(x_open("loop", O_RDONLY, 0), "open self-loop");
    res(x_open("loop", O_RDONLY | O_CREAT, 0644), "open self-loop O_CREAT");
    res(SC(SYS_access, "loop", F_OK), "access self-loop");
    res(SC(SYS_symlink, "pong", "ping"), "symlink pong ping");
    res(SC(SYS_symlink, "ping", "pong"), "symlink ping pong");
    st_show(x_stat("ping", &s), &s, 1, "stat64 ping");
    res(x_open("l", O_RDONLY | O_NOFOLLOW, 0), "open link O_NOFOLLOW");
    fd = x_open("l", O_PATH | O_NOFOLLOW, 0);
    r = SC(SYS_readlinkat, fd, "", b, sizeof b);
    rdlink(r, b, "readlinkat O_PATH link-fd \"\"");
    close(fd);
    fd = open("f", O_RDONLY);
    res(SC(SYS_readlinkat, fd, "", b, sizeof b), "readlinkat file-fd \"\"");
    close(fd);

    /* A chain of 40 links resolves; 41 is one too many. */
    for (int i = 1; i <= 41; i++) {
        char name[16], target[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(target, sizeof target, i == 1 ? "f" : "c%d", i - 1);
        sl(target, name);
    }
    st_show(x_stat("c40", &s), &s, 1, "stat64 chain of 40 links");
    st_show(x_stat("c41", &s), &s, 1, "stat64 chain of 41 links");
    for (int i = 1; i <= 41; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        rm(name);
    }

    res(SC(SYS_symlink, "x", "f"), "symlink over existing file");
    res(SC(SYS_symlink, "x", "l"), "symlink over existing link");
    res(SC(SYS_symlink, "", "empty"), "symlink empty target");
    res(SC(SYS_symlink, "x", "nodir/x"), "symlink in missing dir");
    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_symlinkat, "f", fd, "l2"), "symlinkat f d-fd l2");
    r = SC(SYS_readlinkat, fd, "l2", b, sizeof b);
    rdlink(r, b, "readlinkat d-fd l2");
    st_show(x_stat("d/l2", &s), &s, 1, "stat64 d/l2 (relative to d)");
    r = SC(SYS_readlinkat, AT_FDCWD, "l", b, sizeof b);
    rdlink(r, b, "readlinkat AT_FDCWD l");
    res(SC(SYS_symlinkat, "f", -1, "l3"), "symlinkat dirfd -1");
    close(fd);

    rm("d/l2");
    rm("dang2");
    rm("ping");
    rm("pong");
    rm("loop");
    rm("dang");
    rm("deep");
    rm("abs");
    rm("rel");
    rm("d/up");
    rm("long");
    rm("l");
    rmd("d/sub");
    rmd("d");
    rm("f");
}

static void t_chmod(void)
{
    struct kstat64 s;
    long fd;
    mkfile("f", "x");
    sl("f", "l");
    md("d");
    static const int modes[] = {0600, 04755, 02755, 01644, 07777, 0, 010644};
    for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        res(SC(SYS_chmod, "f", modes[i]), "chmod f %04o", modes[i]);
        st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    }
    fd = open("f", O_RDONLY);
    res(SC(SYS_fchmod, fd, 0640), "fchmod O_RDONLY fd 0640");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    close(fd);
    res(SC(SYS_fchmodat, AT_FDCWD, "f", 0444), "fchmodat AT_FDCWD f 0444");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(SC(SYS_fchmodat, fd, "../f", 0604), "fchmodat d-fd ../f 0604");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    res(SC(SYS_fchmodat, -1, "f", 0644), "fchmodat dirfd -1");
    close(fd);
    res(SC(SYS_chmod, "l", 0600), "chmod link 0600");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    st_show(x_lstat("l", &s), &s, 1, "  lstat64 l");
    res(SC(SYS_chmod, "d", 01777), "chmod dir 01777");
    st_show(x_stat("d", &s), &s, 0, "  stat64 d");
    res(SC(SYS_chmod, "missing", 0644), "chmod missing");
    res(SC(SYS_chmod, "f/", 0644), "chmod f/");
    res(SC(SYS_fchmod, -1, 0644), "fchmod -1");
    fd = open("f", O_PATH);
    res(SC(SYS_fchmod, fd, 0644), "fchmod O_PATH fd");
    close(fd);
    rmd("d");
    rm("l");
    rm("f");
}

static void t_chown(void)
{
    struct kstat64 s;
    long fd;
    unsigned uid = getuid(), gid = getgid();
    mkfile("f", "x");
    sl("f", "l");
    res(SC(SYS_chown32, "f", uid, gid), "chown32 f own ids");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    say("  uid,gid are getuid,getgid: %s", uids_ok(&s));
    res(SC(SYS_chown32, "f", -1, -1), "chown32 f -1 -1");
    res(SC(SYS_lchown32, "l", uid, gid), "lchown32 link own ids");
    x_lstat("l", &s);
    say("  uid,gid are getuid,getgid: %s", uids_ok(&s));
    res(SC(SYS_chown32, "l", uid, gid), "chown32 link own ids");
    fd = open("f", O_RDONLY);
    res(SC(SYS_fchown32, fd, uid, gid), "fchown32 O_RDONLY fd own ids");
    close(fd);
    res(SC(SYS_fchownat, AT_FDCWD, "l", uid, gid, AT_SYMLINK_NOFOLLOW), "fchownat link AT_SYMLINK_NOFOLLOW");
    res(SC(SYS_fchownat, AT_FDCWD, "f", uid, gid, 0x1), "fchownat bad flags");
    res(SC(SYS_fchownat, -1, "f", uid, gid, 0), "fchownat dirfd -1");
    fd = open("f", O_RDONLY);
    res(SC(SYS_fchownat, fd, "", uid, gid, AT_EMPTY_PATH), "fchownat fd \"\" AT_EMPTY_PATH");
    close(fd);
    res(SC(SYS_chown32, "missing", uid, gid), "chown32 missing");
    res(SC(SYS_fchown32, -1, uid, gid), "fchown32 -1");

    /* chown of a regular file clears set-user-ID, even to the same owner. */
    chmod("f", 06755);
    res(SC(SYS_chown32, "f", uid, gid), "chown32 06755 file own ids");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    chmod("f", 06755);
    res(SC(SYS_chown32, "f", -1, -1), "chown32 06755 file -1 -1");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    chmod("f", 02745);
    res(SC(SYS_chown32, "f", uid, gid), "chown32 02745 file own ids");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    md("d");
    chmod("d", 06755);
    res(SC(SYS_chown32, "d", uid, gid), "chown32 06755 dir own ids");
    st_show(x_stat("d", &s), &s, 0, "  stat64 d");
    rmd("d");
    rm("l");
    rm("f");
}

static void t_umask(void)
{
    struct kstat64 s;
    long fd;
    resoct(umask(077), "umask 077 (was)");
    fd = x_open("f", O_WRONLY | O_CREAT, 0666);
    close(fd);
    st_show(x_stat("f", &s), &s, 1, "  open O_CREAT 0666");
    res(SC(SYS_mkdir, "d", 0777), "  mkdir 0777");
    st_show(x_stat("d", &s), &s, 0, "  stat64 d");
    sl("f", "l");
    st_show(x_lstat("l", &s), &s, 1, "  lstat64 new link");
    res(SC(SYS_chmod, "f", 0777), "  chmod 0777");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    rm("f");
    rmd("d");
    rm("l");
    resoct(umask(0), "umask 0 (was)");
    fd = x_open("f", O_WRONLY | O_CREAT, 0666);
    close(fd);
    st_show(x_stat("f", &s), &s, 1, "  open O_CREAT 0666");
    rm("f");
    res(SC(SYS_mkdir, "d", 0777), "  mkdir 0777");
    st_show(x_stat("d", &s), &s, 0, "  stat64 d");
    rmd("d");
    resoct(umask(07777), "umask 07777 (was)");
    resoct(umask(022), "umask 022 (was)");
    fd = x_open("f", O_WRONLY | O_CREAT, 07777);
    close(fd);
    st_show(x_stat("f", &s), &s, 1, "  open O_CREAT 07777");
    rm("f");
    fd = SC(SYS_creat, "f", 0777);
    close(fd);
    st_show(x_stat("f", &s), &s, 1, "  creat 0777");
    rm("f");
    res(SC(SYS_mkdir, "d", 07777), "  mkdir 07777");
    st_show(x_stat("d", &s), &s, 0, "  stat64 d");
    rmd("d");
}

static void times_show(const char *label, const char *p, int nofollow)
{
    struct kstat64 s;
    long r = nofollow ? x_lstat(p, &s) : x_stat(p, &s);
    if (r < 0)
        res(r, "%s", label);
    else
        say("%s: atime %lu.%09lu mtime %lu.%09lu", label, s.st_atime_, s.st_atime_nsec,
            s.st_mtime_, s.st_mtime_nsec);
}

static void t_utimensat(void)
{
    struct kstat64 s, s2;
    long fd;
    mkfile("f", "x");
    sl("f", "l");
    struct kts t[2] = {{1000000000, 0}, {1000000000, 0}};
    res(x_utimensat(AT_FDCWD, "f", t, 0), "utimensat f 1000000000");
    times_show("  stat64 f", "f", 0);
    struct kts t2[2] = {{1000000000, 123456789}, {1100000000, 500}};
    res(x_utimensat(AT_FDCWD, "f", t2, 0), "utimensat f 1000000000.123456789 1100000000.000000500");
    times_show("  stat64 f", "f", 0);
    struct kts t3[2] = {{0, UTIME_OMIT}, {1200000000, 0}};
    res(x_utimensat(AT_FDCWD, "f", t3, 0), "utimensat f OMIT 1200000000");
    times_show("  stat64 f", "f", 0);
    struct kts t4[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    res(x_utimensat(AT_FDCWD, "f", t4, 0), "utimensat f OMIT NOW");
    x_stat("f", &s);
    say("  atime kept: %d, mtime moved: %d", s.st_atime_ == 1000000000 && s.st_atime_nsec == 123456789,
        s.st_mtime_ > 1200000000);
    res(x_utimensat(AT_FDCWD, "f", t, 0), "utimensat f 1000000000");
    res(x_utimensat(AT_FDCWD, "f", NULL, 0), "utimensat f NULL");
    x_stat("f", &s);
    say("  atime moved: %d, mtime moved: %d", s.st_atime_ > 1000000000, s.st_mtime_ > 1000000000);
    res(x_utimensat(AT_FDCWD, "f", t, 0), "utimensat f 1000000000");
    struct kts t5[2] = {{5, UTIME_OMIT}, {5, UTIME_OMIT}};
    res(x_utimensat(AT_FDCWD, "f", t5, 0), "utimensat f OMIT OMIT");
    times_show("  stat64 f", "f", 0);
    struct kts t6[2] = {{1300000000, 0}, {1300000000, 0}};
    res(x_utimensat(AT_FDCWD, "f", t6, 0), "utimensat f 1300000000");
    res(x_utimensat(AT_FDCWD, "l", t, AT_SYMLINK_NOFOLLOW), "utimensat link 1000000000 AT_SYMLINK_NOFOLLOW");
    times_show("  lstat64 l", "l", 1);
    times_show("  stat64 f", "f", 0);
    res(x_utimensat(AT_FDCWD, "l", t, 0), "utimensat link 1000000000");
    times_show("  stat64 f", "f", 0);

    struct kts bad1[2] = {{1000000000, 1000000000}, {0, UTIME_OMIT}};
    res(x_utimensat(AT_FDCWD, "f", bad1, 0), "utimensat nsec 1000000000");
    struct kts bad2[2] = {{1000000000, -1}, {0, UTIME_OMIT}};
    res(x_utimensat(AT_FDCWD, "f", bad2, 0), "utimensat nsec -1");
    res(x_utimensat(AT_FDCWD, "missing", t, 0), "utimensat missing");
    res(x_utimensat(AT_FDCWD, "f", t, 0x1), "utimensat bad flags");
    res(x_utimensat(AT_FDCWD, NULL, t, 0), "utimensat AT_FDCWD NULL path");
    res(x_utimensat(AT_FDCWD, "f", (void *)1, 0), "utimensat bad times pointer");
    fd = open("f", O_RDWR);
    res(x_utimensat(fd, NULL, t6, 0), "utimensat fd NULL path 1300000000");
    times_show("  stat64 f", "f", 0);
    res(x_utimensat(fd, "", t, AT_EMPTY_PATH), "utimensat fd \"\" AT_EMPTY_PATH 1000000000");
    times_show("  stat64 f", "f", 0);
    res(write(fd, "y", 1), "write 1");
    x_stat("f", &s);
    say("  mtime moved: %d, atime kept: %d", s.st_mtime_ > 1000000000, s.st_atime_ == 1000000000);
    x_utimensat(AT_FDCWD, "f", t, 0);
    res(ftruncate(fd, 1), "ftruncate to the same size");
    x_stat("f", &s);
    say("  mtime moved: %d", s.st_mtime_ > 1000000000);
    x_utimensat(AT_FDCWD, "f", t, 0);
    res(x_truncate64("f", 2), "truncate64 to a new size");
    x_stat("f", &s);
    say("  mtime moved: %d", s.st_mtime_ > 1000000000);
    close(fd);

    struct ktv tv[2] = {{1000000000, 5}, {1100000000, 999999}};
    res(SC(SYS_utimes, "f", tv), "utimes f 1000000000.000005 1100000000.999999");
    times_show("  stat64 f", "f", 0);
    res(SC(SYS_utimes, "f", NULL), "utimes f NULL");
    x_stat("f", &s);
    say("  atime moved: %d, mtime moved: %d", s.st_atime_ > 1000000000, s.st_mtime_ > 1100000000);
    struct ktv tvbad[2] = {{1, 1000000}, {1, 0}};
    res(SC(SYS_utimes, "f", tvbad), "utimes usec 1000000");
    /* A time set with utimensat survives a rename and reads back through a link. */
    res(x_utimensat(AT_FDCWD, "f", t2, 0), "utimensat f 1000000000.123456789 1100000000.000000500");
    if (link("f", "g") < 0)
        setup_fail("link");
    x_stat("f", &s);
    x_stat("g", &s2);
    say("  hard link shows the same times: %d", s.st_mtime_ == s2.st_mtime_ &&
        s.st_mtime_nsec == s2.st_mtime_nsec && s.st_atime_nsec == s2.st_atime_nsec);
    rm("g");
    rm("l");
    rm("f");
}

static void t_truncate(void)
{
    struct kstat64 s;
    long fd;
    mkfile("f", "0123456789");
    res(x_truncate64("f", 4), "truncate64 f 4");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    content("f", "  content");
    res(x_truncate64("f", 100), "truncate64 f 100");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");
    fd = open("f", O_RDONLY);
    say("  bytes 4..100 zero: %d", zeros(fd, 4, 100));
    res(x_ftruncate64(fd, 10), "ftruncate64 O_RDONLY fd");
    close(fd);
    res(x_truncate64("f", -1), "truncate64 -1");
    md("d");
    res(x_truncate64("d", 0), "truncate64 dir");
    res(x_truncate64("missing", 0), "truncate64 missing");
    res(x_truncate64("f/", 0), "truncate64 f/");
    sl("f", "l");
    res(x_truncate64("l", 8), "truncate64 link 8");
    st_show(x_stat("f", &s), &s, 1, "  stat64 f");

    fd = open("f", O_RDWR);
    lseek(fd, 50, SEEK_SET);
    res(x_ftruncate64(fd, 3), "ftruncate64 3 at offset 50");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    res(lseek(fd, 0, SEEK_CUR), "  offset");
    res(write(fd, "x", 1), "write 1 at 50");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    say("  bytes 3..50 zero: %d", zeros(fd, 3, 50));
    res(x_ftruncate64(fd, -1), "ftruncate64 -1");
    res(x_ftruncate64(-1, 0), "ftruncate64 fd -1");
    res(SC(SYS_truncate, "f", 5), "truncate f 5");
    res(SC(SYS_ftruncate, fd, 6), "ftruncate 6");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    content("f", "  content");
    close(fd);

    /* Past 2 GiB without O_LARGEFILE. An i386 kernel lets ftruncate64 and
     * truncate64 through; x86-64's compat ftruncate64 does not. */
    fd = x_open("f", O_RDWR, 0);
    say("raw open without O_LARGEFILE: F_GETFL has O_LARGEFILE: %d",
        (x_fcntl(fd, F_GETFL, 0) & O_LARGEFILE) != 0);
    res(x_ftruncate64(fd, (4LL << 30) + 10), "  ftruncate64 4 GiB + 10");
    res(x_ftruncate64(fd, 0x7fffffff), "  ftruncate64 2^31-1");
    res(pwrite64(fd, "x", 1, 0x7fffffff), "  pwrite64 1 at 2^31-1");
    res(pwrite64(fd, "x", 1, 3LL << 30), "  pwrite64 1 at 3 GiB");
    res(x_fstat(fd, &s), "  fstat64");
    say("  size %lld", s.st_size);
    close(fd);
    res(x_truncate64("f", (4LL << 30) + 10), "truncate64 4 GiB + 10");
    res(x_open("f", O_RDONLY, 0), "open the 4 GiB file without O_LARGEFILE");
    fd = x_open("f", O_RDWR | O_LARGEFILE, 0);
    resfd(fd, "open it with O_LARGEFILE");
    res(x_ftruncate64(fd, (5LL << 30) + 10), "  ftruncate64 5 GiB + 10");
    res(x_fstat(fd, &s), "  fstat64");
    say("  size %lld, st_blocks*512 < st_size: %d", s.st_size, (long long)s.st_blocks * 512 < s.st_size);
    res(pwrite64(fd, "y", 1, 5LL << 30), "  pwrite64 1 at 5 GiB");
    say("  4 GiB..5 GiB reads zeros at 4 GiB + 10: %d", zeros(fd, (4LL << 30) + 10, (4LL << 30) + 4096));
    res(x_ftruncate64(fd, 0), "  ftruncate64 0");
    close(fd);
    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(x_ftruncate64(fd, 0), "ftruncate64 dir fd");
    close(fd);
    int p[2];
    if (pipe(p) < 0)
        setup_fail("pipe");
    res(x_ftruncate64(p[1], 0), "ftruncate64 pipe");
    close(p[0]);
    close(p[1]);
    rm("l");
    rmd("d");
    rm("f");
}

/* getcwd, relative to where the subtest started. */
static void cwd_show(const char *fmt, ...)
{
    char b[4200];
    va_list ap;
    va_start(ap, fmt);
    vlabel(fmt, ap);
    va_end(ap);
    long r = x_getcwd(b, sizeof b);
    if (r < 0)
        printf("-1 %s\n", ename(errno));
    else if (!strncmp(b, base, baselen) && (b[baselen] == 0 || b[baselen] == '/'))
        printf("%s \"$D%s\"\n", (size_t)r == strlen(b) + 1 ? "strlen+1" : "?", b + baselen);
    else
        printf("outside the start directory\n");
}

static long x_fallocate(int fd, int mode, long long off, long long len)
{
    return SC(SYS_fallocate, fd, mode, (long)off, (long)(off >> 32), (long)len, (long)(len >> 32));
}

static void t_fallocate(void)
{
    struct kstat64 s;
    mkfile("f", "0123456789");
    long fd = open("f", O_RDWR);
    res(x_fallocate(fd, 0, 0, 100), "fallocate 0..100");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    say("  bytes 10..100 zero: %d", zeros(fd, 10, 100));
    res(x_fallocate(fd, 0, 10, 20), "fallocate 10..30 (inside)");
    res(x_fallocate(fd, 1 /* KEEP_SIZE */, 0, 500), "fallocate KEEP_SIZE 0..500");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    res(x_fallocate(fd, 3 /* PUNCH_HOLE|KEEP_SIZE */, 2, 5), "fallocate PUNCH_HOLE 2..7");
    st_show(x_fstat(fd, &s), &s, 1, "  fstat64");
    close(fd);
    content("f", "  content");
    fd = open("f", O_RDWR);
    res(x_fallocate(fd, 2 /* PUNCH_HOLE alone */, 0, 5), "fallocate PUNCH_HOLE without KEEP_SIZE");
    res(x_fallocate(fd, 0, -1, 5), "fallocate offset -1");
    res(x_fallocate(fd, 0, 0, 0), "fallocate len 0");
    res(x_fallocate(fd, 0, 0x7fffffffffffffffLL, 5), "fallocate past the largest size");
    close(fd);
    fd = open("f", O_RDONLY);
    res(x_fallocate(fd, 0, 0, 5), "fallocate O_RDONLY");
    close(fd);
    int p[2];
    if (pipe(p))
        setup_fail("pipe");
    res(x_fallocate(p[1], 0, 0, 5), "fallocate pipe");
    close(p[0]);
    close(p[1]);
    md("d");
    fd = open("d", O_RDONLY | O_DIRECTORY);
    res(x_fallocate(fd, 0, 0, 5), "fallocate dir");
    close(fd);
    rmd("d");
    rm("f");
}

static void t_cwd(void)
{
    char b[4200];
    long top = open(".", O_RDONLY | O_DIRECTORY), fd;
    md("a");
    md("a/b");
    mkfile("f", "");
    sl("a/b", "lnk");
    cwd_show("getcwd");
    res(chdir("a/b"), "chdir a/b");
    cwd_show("getcwd");
    res(chdir(".."), "chdir ..");
    cwd_show("getcwd");
    res(chdir("./b/.."), "chdir ./b/..");
    cwd_show("getcwd");
    res(fchdir(top), "fchdir start");
    cwd_show("getcwd");
    res(chdir("lnk"), "chdir link to a/b");
    cwd_show("getcwd");
    res(chdir(".."), "chdir ..");
    cwd_show("getcwd");
    res(fchdir(top), "fchdir start");
    res(chdir("f"), "chdir file");
    res(chdir("missing"), "chdir missing");
    res(chdir(""), "chdir empty path");
    fd = open("f", O_RDONLY);
    res(fchdir(fd), "fchdir file fd");
    close(fd);
    res(fchdir(-1), "fchdir -1");
    fd = open("a", O_PATH | O_DIRECTORY);
    res(fchdir(fd), "fchdir O_PATH dir fd");
    close(fd);
    cwd_show("getcwd");
    res(fchdir(top), "fchdir start");
    res(x_getcwd(b, 1), "getcwd size 1");
    res(x_getcwd(b, 0), "getcwd size 0");
    res(x_getcwd((char *)1, sizeof b), "getcwd bad buffer");

    /* A removed working directory. */
    md("gone");
    res(chdir("gone"), "chdir gone");
    res(SC(SYS_rmdir, "../gone"), "rmdir ../gone");
    cwd_show("getcwd in removed dir");
    res(x_open("x", O_WRONLY | O_CREAT, 0644), "open x O_CREAT in removed dir");
    res(SC(SYS_mkdir, "x", 0755), "mkdir x in removed dir");
    {
        static struct ent e[8];
        fd = open(".", O_RDONLY | O_DIRECTORY);
        resfd(fd, "open . in removed dir");
        say("  getdents64 entries: %d", read_dir(fd, 0, 4096, e, 8));
        close(fd);
    }
    res(chdir(".."), "chdir .. from removed dir");
    cwd_show("getcwd");

    /* Permissions: a mode 0 directory (root may enter anyway). */
    md("locked");
    chmod("locked", 0);
    res(chdir("locked"), "chdir mode 0 dir");
    res(fchdir(top), "fchdir start");
    rmd("locked");
    close(top);
    rm("lnk");
    rm("f");
    rmd("a/b");
    rmd("a");
}

static void t_statfs(void)
{
    struct kstatfs64 a, b;
    mkfile("f", "");
    memset(&a, 0, sizeof a);
    res(SC(SYS_statfs64, ".", sizeof a, &a), "statfs64 .");
    say("  f_bsize > 0: %d", a.f_bsize > 0);
    long fd = open("f", O_RDONLY);
    memset(&b, 0, sizeof b);
    res(SC(SYS_fstatfs64, fd, sizeof b, &b), "fstatfs64 f");
    say("  f_bsize > 0: %d, same f_type and f_fsid as .: %d", b.f_bsize > 0,
        a.f_type == b.f_type && !memcmp(a.f_fsid, b.f_fsid, sizeof a.f_fsid));
    res(SC(SYS_fstatfs64, fd, 10, &b), "fstatfs64 size 10");
    close(fd);
    res(SC(SYS_statfs64, ".", 10, &a), "statfs64 size 10");
    res(SC(SYS_statfs64, "missing", sizeof a, &a), "statfs64 missing");
    res(SC(SYS_statfs64, "f/", sizeof a, &a), "statfs64 f/");
    res(SC(SYS_statfs64, ".", sizeof a, (void *)1), "statfs64 bad buffer");
    res(SC(SYS_fstatfs64, -1, sizeof a, &a), "fstatfs64 -1");
    rm("f");
}

static void t_sync(void)
{
    long fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(fd, "x", 1);
    sync();
    say("sync: returns");
    res(syncfs(fd), "syncfs");
    res(fsync(fd), "fsync");
    res(fdatasync(fd), "fdatasync");
    close(fd);
    fd = open("f", O_RDONLY);
    res(fsync(fd), "fsync O_RDONLY fd");
    res(fdatasync(fd), "fdatasync O_RDONLY fd");
    close(fd);
    fd = open(".", O_RDONLY | O_DIRECTORY);
    res(fsync(fd), "fsync dir fd");
    close(fd);
    res(fsync(-1), "fsync -1");
    res(fdatasync(-1), "fdatasync -1");
    res(syncfs(-1), "syncfs -1");
    int p[2];
    if (pipe(p) < 0)
        setup_fail("pipe");
    res(fsync(p[0]), "fsync pipe");
    res(fdatasync(p[0]), "fdatasync pipe");
    close(p[0]);
    close(p[1]);
    rm("f");
}

static void t_fcntl(void)
{
    long fd, fd2, r;
    int low;
    mkfile("f", "0123456789");
    fd = open("f", O_RDWR);
    r = x_fcntl(fd, F_DUPFD, 100);
    say("F_DUPFD 100: >= 100: %d", r >= 100);
    res(x_fcntl(r, F_GETFD, 0), "  F_GETFD");
    close(r);
    low = lowest_free();
    r = x_fcntl(fd, F_DUPFD, 0);
    say("F_DUPFD 0: lowest free fd: %d", r == low);
    close(r);
    r = x_fcntl(fd, F_DUPFD_CLOEXEC, 100);
    say("F_DUPFD_CLOEXEC 100: >= 100: %d", r >= 100);
    res(x_fcntl(r, F_GETFD, 0), "  F_GETFD");
    close(r);
    res(x_fcntl(fd, F_DUPFD, -1), "F_DUPFD -1");
    res(x_fcntl(fd, F_DUPFD, 1 << 30), "F_DUPFD 2^30");
    res(x_fcntl(fd, F_GETFD, 0), "F_GETFD");
    res(x_fcntl(fd, F_SETFD, FD_CLOEXEC), "F_SETFD FD_CLOEXEC");
    res(x_fcntl(fd, F_GETFD, 0), "F_GETFD");
    res(x_fcntl(fd, F_SETFD, 0), "F_SETFD 0");
    res(x_fcntl(fd, F_GETFD, 0), "F_GETFD");
    r = x_fcntl(fd, F_GETFL, 0);
    say("F_GETFL: %s", flname(r));
    res(x_fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK), "F_SETFL O_APPEND|O_NONBLOCK");
    say("F_GETFL: %s", flname(x_fcntl(fd, F_GETFL, 0)));
    res(x_fcntl(fd, F_SETFL, O_WRONLY), "F_SETFL O_WRONLY");
    say("F_GETFL (access mode kept): %s", flname(x_fcntl(fd, F_GETFL, 0)));
    lseek(fd, 0, SEEK_SET);
    x_fcntl(fd, F_SETFL, O_APPEND);
    res(write(fd, "A", 1), "write after F_SETFL O_APPEND");
    res(lseek(fd, 0, SEEK_CUR), "  offset");
    x_fcntl(fd, F_SETFL, 0);
    res(x_fcntl(fd, 9999, 0), "fcntl cmd 9999");
    res(x_fcntl(-1, F_GETFD, 0), "fcntl fd -1 F_GETFD");
    res(SC(SYS_fcntl, fd, F_GETFD, 0), "fcntl (55) F_GETFD");

    struct kflock l = {F_WRLCK, SEEK_SET, 0, 0, 12345};
    res(x_fcntl(fd, KF_GETLK, (long)&l), "F_GETLK F_WRLCK whole file");
    say("  l_type F_UNLCK: %d", l.l_type == F_UNLCK);
    l = (struct kflock){F_WRLCK, SEEK_SET, 0, 5, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK F_WRLCK 0..5");
    l = (struct kflock){F_WRLCK, SEEK_SET, 0, 0, 12345};
    res(x_fcntl(fd, KF_GETLK, (long)&l), "F_GETLK same process");
    say("  l_type F_UNLCK: %d", l.l_type == F_UNLCK);
    l = (struct kflock){F_RDLCK, SEEK_CUR, 2, 3, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK F_RDLCK SEEK_CUR");
    l = (struct kflock){F_UNLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK F_UNLCK");
    l = (struct kflock){99, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK l_type 99");
    l = (struct kflock){F_WRLCK, 7, 0, 0, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK l_whence 7");
    res(x_fcntl(fd, KF_GETLK, 1), "F_GETLK bad pointer");
    struct kflock64 l64 = {F_WRLCK, SEEK_SET, 1LL << 33, 100, 0};
    res(x_fcntl(fd, KF_SETLK64, (long)&l64), "F_SETLK64 F_WRLCK at 8 GiB");
    l64 = (struct kflock64){F_WRLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_GETLK64, (long)&l64), "F_GETLK64");
    say("  l_type F_UNLCK: %d", l64.l_type == F_UNLCK);
    l64 = (struct kflock64){F_UNLCK, SEEK_SET, 0, 0, 0};
    x_fcntl(fd, KF_SETLK64, (long)&l64);
    close(fd);

    fd = open("f", O_RDONLY);
    l = (struct kflock){F_WRLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK F_WRLCK on O_RDONLY fd");
    l = (struct kflock){F_RDLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_SETLK, (long)&l), "F_SETLK F_RDLCK on O_RDONLY fd");
    close(fd);

    /* Open file description locks conflict between two opens in one process. */
    fd = open("f", O_RDWR);
    fd2 = open("f", O_RDWR);
    l64 = (struct kflock64){F_WRLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd, KF_OFD_SETLK, (long)&l64), "F_OFD_SETLK F_WRLCK fd");
    l64 = (struct kflock64){F_RDLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd2, KF_OFD_SETLK, (long)&l64), "F_OFD_SETLK F_RDLCK other open");
    l64 = (struct kflock64){F_RDLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd2, KF_OFD_GETLK, (long)&l64), "F_OFD_GETLK other open");
    say("  l_type F_WRLCK: %d, l_pid %d", l64.l_type == F_WRLCK, l64.l_pid);
    l = (struct kflock){F_RDLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd2, KF_SETLK, (long)&l), "F_SETLK F_RDLCK other open");
    l64 = (struct kflock64){F_RDLCK, SEEK_SET, 0, 0, 5};
    res(x_fcntl(fd2, KF_OFD_GETLK, (long)&l64), "F_OFD_GETLK l_pid 5");
    close(fd);
    l64 = (struct kflock64){F_RDLCK, SEEK_SET, 0, 0, 0};
    res(x_fcntl(fd2, KF_OFD_SETLK, (long)&l64), "F_OFD_SETLK after closing the holder");
    close(fd2);

    fd = open("f", O_RDONLY);
    fd2 = open("f", O_RDONLY);
    res(flock(fd, LOCK_EX), "flock LOCK_EX");
    res(flock(fd2, LOCK_EX | LOCK_NB), "flock LOCK_EX|LOCK_NB other open");
    res(flock(fd2, LOCK_SH | LOCK_NB), "flock LOCK_SH|LOCK_NB other open");
    r = dup(fd);
    res(flock(r, LOCK_EX | LOCK_NB), "flock LOCK_EX|LOCK_NB dup of holder");
    close(r);
    res(flock(fd, LOCK_UN), "flock LOCK_UN");
    res(flock(fd2, LOCK_SH | LOCK_NB), "flock LOCK_SH|LOCK_NB other open");
    res(flock(fd, 0), "flock 0");
    res(flock(-1, LOCK_EX), "flock -1");
    close(fd);
    close(fd2);
    rm("f");
}

static void t_dup(void)
{
    long fd, fd2, fd3, r;
    char c;
    int low;
    mkfile("f", "0123456789");
    fd = open("f", O_RDWR);
    fd2 = open("f", O_RDONLY);
    close(fd2);
    r = dup(fd);
    say("dup: lowest free fd: %d", r == fd2);
    res(lseek(fd, 3, SEEK_SET), "lseek fd 3");
    res(lseek(r, 0, SEEK_CUR), "  offset of the dup (shared)");
    res(read(r, &c, 1), "read 1 from the dup");
    res(lseek(fd, 0, SEEK_CUR), "  offset of fd");
    fd3 = open("f", O_RDONLY);
    res(lseek(fd3, 0, SEEK_CUR), "  offset of another open (separate)");
    x_fcntl(fd, F_SETFL, O_APPEND);
    say("F_SETFL O_APPEND on fd shows on the dup: %d", (x_fcntl(r, F_GETFL, 0) & O_APPEND) != 0);
    x_fcntl(fd, F_SETFL, 0);
    x_fcntl(fd, F_SETFD, FD_CLOEXEC);
    res(x_fcntl(r, F_GETFD, 0), "F_SETFD on fd leaves the dup's FD_CLOEXEC");
    close(r);
    r = dup(fd);
    res(x_fcntl(r, F_GETFD, 0), "dup of a close-on-exec fd: F_GETFD");
    close(r);
    x_fcntl(fd, F_SETFD, 0);
    res(dup(-1), "dup -1");

    r = dup2(fd, fd);
    say("dup2 fd fd: returns fd: %d", r == fd);
    low = lowest_free();
    res(dup2(low, low), "dup2 closed closed");
    r = dup2(fd, low);
    say("dup2 fd free: returns it: %d", r == low);
    res(lseek(r, 0, SEEK_CUR), "  offset (shared)");
    r = dup2(fd3, low);
    say("dup2 onto an open fd: returns it: %d", r == low);
    res(lseek(r, 0, SEEK_CUR), "  offset (now fd3's)");
    close(low);
    res(dup2(-1, low), "dup2 -1");
    res(dup2(fd, -1), "dup2 to -1");
    res(dup2(fd, 1 << 30), "dup2 to 2^30");
    res(dup3(fd, fd, 0), "dup3 fd fd");
    res(dup3(fd, fd, O_CLOEXEC), "dup3 fd fd O_CLOEXEC");
    r = dup3(fd, low, O_CLOEXEC);
    say("dup3 O_CLOEXEC: returns it: %d", r == low);
    res(x_fcntl(r, F_GETFD, 0), "  F_GETFD");
    r = dup3(fd, low, 0);
    res(x_fcntl(r, F_GETFD, 0), "dup3 0 onto it: F_GETFD");
    close(low);
    res(dup3(fd, low, 0x1), "dup3 bad flags");
    res(dup3(-1, low, 0), "dup3 -1");
    close(fd3);
    close(fd);
    rm("f");
}

static void t_ioctl(void)
{
    int n = -7;
    long fd;
    mkfile("f", "0123456789");
    fd = open("f", O_RDWR);
    res(ioctl(fd, FIONREAD, &n), "ioctl FIONREAD at 0");
    say("  %d", n);
    lseek(fd, 3, SEEK_SET);
    res(ioctl(fd, FIONREAD, &n), "ioctl FIONREAD at 3");
    say("  %d", n);
    lseek(fd, 15, SEEK_SET);
    res(ioctl(fd, FIONREAD, &n), "ioctl FIONREAD at 15 (past EOF)");
    say("  %d", n);
    res(ioctl(fd, FIONREAD, (int *)1), "ioctl FIONREAD bad pointer");
    res(ioctl(fd, FIOCLEX), "ioctl FIOCLEX");
    res(fcntl(fd, F_GETFD), "  F_GETFD");
    res(ioctl(fd, FIONCLEX), "ioctl FIONCLEX");
    res(fcntl(fd, F_GETFD), "  F_GETFD");
    int on = 1;
    res(ioctl(fd, FIONBIO, &on), "ioctl FIONBIO 1");
    say("  F_GETFL: %s", flname(fcntl(fd, F_GETFL)));
    on = 0;
    res(ioctl(fd, FIONBIO, &on), "ioctl FIONBIO 0");
    say("  F_GETFL: %s", flname(fcntl(fd, F_GETFL)));
    res(ioctl(fd, FIOASYNC, &on), "ioctl FIOASYNC 0");
    struct termios t;
    res(ioctl(fd, TCGETS, &t), "ioctl TCGETS file");
    res(ioctl(fd, 0x12345678, 0), "ioctl 0x12345678 file");
    close(fd);
    res(ioctl(-1, FIONREAD, &n), "ioctl fd -1");
    fd = open(".", O_RDONLY | O_DIRECTORY);
    res(ioctl(fd, FIONREAD, &n), "ioctl FIONREAD dir");
    res(ioctl(fd, FIOCLEX), "ioctl FIOCLEX dir");
    close(fd);
    int p[2];
    if (pipe(p) < 0)
        setup_fail("pipe");
    write(p[1], "abc", 3);
    res(ioctl(p[0], FIONREAD, &n), "ioctl FIONREAD pipe");
    say("  %d", n);
    close(p[0]);
    close(p[1]);
    rm("f");
}

static void t_fault(void)
{
    char *volatile badp = (char *)1;
    char *volatile nullp = NULL;
    struct kstat64 s;
    char b[64];
    long fd;
    mkfile("f", "0123456789");
    res(x_open(badp, O_RDONLY, 0), "open (char*)1");
    res(x_open(nullp, O_RDONLY, 0), "open NULL");
    res(x_open(badp, O_RDWR | O_CREAT, 0644), "open (char*)1 O_CREAT");
    res(x_openat(AT_FDCWD, badp, O_RDONLY, 0), "openat (char*)1");
    res(x_stat(badp, &s), "stat64 (char*)1");
    res(x_lstat(badp, &s), "lstat64 (char*)1");
    res(SC(SYS_mkdir, badp, 0755), "mkdir (char*)1");
    res(SC(SYS_unlink, badp), "unlink (char*)1");
    res(SC(SYS_rmdir, badp), "rmdir (char*)1");
    res(SC(SYS_rename, badp, "x"), "rename (char*)1 x");
    res(SC(SYS_rename, "f", badp), "rename f (char*)1");
    res(SC(SYS_link, "f", badp), "link f (char*)1");
    res(SC(SYS_symlink, badp, "x"), "symlink (char*)1 x");
    res(SC(SYS_readlink, badp, b, sizeof b), "readlink (char*)1");
    res(SC(SYS_chdir, badp), "chdir (char*)1");
    res(SC(SYS_access, badp, F_OK), "access (char*)1");
    res(SC(SYS_chmod, badp, 0644), "chmod (char*)1");
    res(x_truncate64(badp, 0), "truncate64 (char*)1");
    fd = open("f", O_RDWR);
    res(read(fd, badp, 10), "read into (void*)1");
    res(lseek(fd, 0, SEEK_CUR), "  offset");
    res(read(fd, nullp, 0), "read 0 bytes into NULL");
    res(write(fd, badp, 10), "write from (void*)1");
    res(pread64(fd, badp, 10, 0), "pread64 into (void*)1");
    res(pwrite64(fd, badp, 10, 0), "pwrite64 from (void*)1");
    res(x_fstat(fd, (void *)badp), "fstat64 into (void*)1");
    struct iovec iv[2] = {{b, 4}, {badp, 4}};
    res(readv(fd, iv, 2), "readv second iovec (void*)1");
    res(lseek(fd, 0, SEEK_CUR), "  offset");
    close(fd);
    content("f", "content");

    char name[301], path[5001];
    memset(name, 'n', 300);
    name[300] = 0;
    res(x_open(name, O_RDONLY, 0), "open 300-byte name");
    res(x_open(name, O_RDWR | O_CREAT, 0644), "open 300-byte name O_CREAT");
    res(SC(SYS_mkdir, name, 0755), "mkdir 300-byte name");
    res(x_stat(name, &s), "stat64 300-byte name");
    res(SC(SYS_symlink, "f", name), "symlink f 300-byte name");
    res(SC(SYS_rename, "f", name), "rename f 300-byte name");
    name[256] = 0;
    res(x_open(name, O_RDWR | O_CREAT, 0644), "open 256-byte name O_CREAT");
    name[255] = 0;
    fd = x_open(name, O_RDWR | O_CREAT, 0644);
    resfd(fd, "open 255-byte name O_CREAT");
    if (fd >= 0)
        close(fd);
    res(SC(SYS_unlink, name), "unlink 255-byte name");
    memset(path, 0, sizeof path);
    for (int i = 0; i < 5000; i += 2)
        memcpy(path + i, "./", 2);
    res(x_open(path, O_RDONLY, 0), "open 5000-byte path");
    res(x_stat(path, &s), "stat64 5000-byte path");
    res(SC(SYS_chdir, path), "chdir 5000-byte path");
    path[4096] = 0;
    res(x_stat(path, &s), "stat64 4096-byte path of ./");
    path[4094] = 'f';
    path[4095] = 0;
    st_show(x_stat(path, &s), &s, 1, "stat64 4095-byte path ./././.../f");
    path[4095] = 0;
    sl(path, "longlink");
    st_show(x_stat("longlink", &s), &s, 1, "stat64 link to the 4095-byte path");
    rm("longlink");
    path[4095] = 'f';
    path[4096] = 0;
    res(SC(SYS_symlink, path, "x"), "symlink 4096-byte target");
    rm("f");
}

/* ------------------------------------------------------------------ */

static const struct test {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"open", t_open},       {"rw", t_rw},           {"lseek", t_lseek},
    {"stat", t_stat},       {"statx", t_statx},     {"getdents", t_getdents},
    {"access", t_access},   {"mkdir", t_mkdir},     {"unlink", t_unlink},
    {"rename", t_rename},   {"link", t_link},       {"symlink", t_symlink},
    {"chmod", t_chmod},     {"chown", t_chown},     {"umask", t_umask},
    {"utimensat", t_utimensat}, {"truncate", t_truncate}, {"fallocate", t_fallocate}, {"cwd", t_cwd},
    {"statfs", t_statfs},   {"sync", t_sync},       {"fcntl", t_fcntl},
    {"dup", t_dup},         {"ioctl", t_ioctl},     {"fault", t_fault},
};
#define NTESTS (int)(sizeof tests / sizeof tests[0])

/* Remove everything under the current directory (after a failed subtest). */
static void scrub(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4200];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) < 0 && errno == EISDIR) {
            chmod(p, 0700);
            scrub(p);
            rmdir(p);
        }
    }
    closedir(d);
}

/* Run one subtest in the current directory; 0 when it left it empty. */
static int run(const struct test *t)
{
    static struct ent e[16];
    int fds = lowest_free(), ok = 1;
    if (!getcwd(base, sizeof base)) {
        printf("getcwd failed: %s\n", ename(errno));
        return 1;
    }
    baselen = strlen(base);
    umask(022);
    t->fn();
    umask(022);
    if (chdir(base) < 0)
        printf("chdir back: -1 %s\n", ename(errno));
    if (lowest_free() != fds) {
        say("LEFT AN FD OPEN");
        ok = 0;
    }
    int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int n = fd < 0 ? -1 : read_dir(fd, 0, 4096, e, 16);
    if (fd >= 0)
        close(fd);
    if (n != 2) {
        if (n > 2) {
            qsort(e, n < 16 ? n : 16, sizeof e[0], ent_cmp);
            for (int i = 0; i < n && i < 16; i++)
                if (strcmp(e[i].name, ".") && strcmp(e[i].name, ".."))
                    say("LEFT BEHIND: %s", e[i].name);
        } else {
            say("CANNOT LIST THE DIRECTORY");
        }
        scrub(".");
        ok = 0;
    }
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    if (argc != 2) {
        fprintf(stderr, "usage: fscalls LIST | all | NAME\n");
        return 2;
    }
    if (!strcmp(argv[1], "LIST")) {
        for (int i = 0; i < NTESTS; i++)
            puts(tests[i].name);
        return 0;
    }
    const struct test *one = NULL;
    for (int i = 0; i < NTESTS; i++)
        if (!strcmp(argv[1], tests[i].name))
            one = &tests[i];
    if (!one && strcmp(argv[1], "all")) {
        fprintf(stderr, "fscalls: no subtest %s (try LIST)\n", argv[1]);
        return 2;
    }
    printf("uid 0: %d\n", getuid() == 0);
    if (one)
        return run(one);
    int status = 0;
    for (int i = 0; i < NTESTS; i++) {
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
    fflush(stdout);
    return status;
}
