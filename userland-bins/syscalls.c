/*
 * syscalls: the system calls a static program commonly makes, checked one
 * by one with output that does not depend on the run: write and writev;
 * brk growing, shrinking, and growing again into zeroed memory; anonymous
 * and file mmap2 with munmap; uname; clock_gettime(CLOCK_MONOTONIC) never
 * going back; gettimeofday; getpid; open, read, fstat64, lseek (_llseek)
 * and close of FILE; getdents64 of DIR (names sorted before printing);
 * readlink("/proc/self/exe"); and the errors: an unknown system call
 * (ENOSYS), a write from a bad pointer (EFAULT), a close of a closed fd
 * (EBADF). Where glibc would pick a different call than the one named, the
 * call is made with syscall(2). Output through stdio is flushed before each
 * raw write, so the order is the same whether stdout is a pipe or a tty.
 *
 * Usage: syscalls FILE DIR (FILE: a text file; DIR: a directory)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The i386 struct stat64 the fstat64 system call fills in (asm/stat.h). */
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
    unsigned long atime, atime_nsec;
    unsigned long mtime, mtime_nsec;
    unsigned long ctime, ctime_nsec;
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

/* Write a string with the write system call, after what stdio holds. */
static void raw(const char *s)
{
    fflush(stdout);
    write(1, s, strlen(s));
}

/* Print "name ok", or "name FAILED" and the errno. */
static void report(const char *name, int ok)
{
    if (ok)
        printf("%s ok\n", name);
    else
        printf("%s FAILED (errno %d)\n", name, errno);
}

static void test_write(void)
{
    struct iovec iov[3] = {
        { "writev: ", 8 }, { "three pieces", 12 }, { "\n", 1 },
    };
    ssize_t n;

    raw("write: ok\n");
    n = writev(1, iov, 3);      /* raw() flushed stdio already */
    printf("writev returned %zd\n", n);
}

/* Grow the break, use the memory, shrink it, grow it again: the new pages are zero. */
static void test_brk(void)
{
    const long len = 128 * 1024;
    char *cur, *grown, *shrunk, *again;
    long i, nonzero = 0;
    int wrote = 1;

    /* No stdio in here: malloc might move the break between our calls. */
    cur = (char *)syscall(SYS_brk, 0);
    grown = (char *)syscall(SYS_brk, cur + len);
    if (grown == cur + len) {
        memset(cur, 0xaa, len);
        for (i = 0; i < len; i++)
            if ((unsigned char)cur[i] != 0xaa)
                wrote = 0;
    }
    shrunk = (char *)syscall(SYS_brk, cur);
    again = (char *)syscall(SYS_brk, cur + len);
    if (again == cur + len)
        for (i = 0; i < len; i++)
            nonzero += cur[i] != 0;
    syscall(SYS_brk, cur);

    printf("brk grow %s, memory %s\n", grown == cur + len ? "ok" : "FAILED",
           wrote ? "ok" : "BAD");
    printf("brk shrink %s\n", shrunk == cur ? "ok" : "FAILED");
    printf("brk regrow %s, %s\n", again == cur + len ? "ok" : "FAILED",
           nonzero ? "old contents visible" : "zero filled");
    printf("brk below the start %s\n",
           (char *)syscall(SYS_brk, 4096) == cur ? "refused ok" : "WRONG");
}

/* Anonymous mmap (mmap2 underneath), its contents, munmap, and a bad length. */
static void test_mmap(void)
{
    long pg = sysconf(_SC_PAGESIZE), i, zero = 1, same = 1;
    unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED) {
        report("mmap anonymous", 0);
        return;
    }
    for (i = 0; i < 3 * pg; i++)
        zero &= p[i] == 0;
    for (i = 0; i < 3 * pg; i++)
        p[i] = (unsigned char)(i * 7);
    for (i = 0; i < 3 * pg; i++)
        same &= p[i] == (unsigned char)(i * 7);
    printf("mmap anonymous ok, zero filled %s, read back %s, page aligned %s\n",
           zero ? "yes" : "no", same ? "ok" : "BAD", ((uintptr_t)p & (pg - 1)) == 0 ? "yes" : "no");
    report("munmap", munmap(p, 3 * pg) == 0);
    errno = 0;
    p = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap of length 0: %s, errno %d\n", p == MAP_FAILED ? "failed" : "succeeded", errno);
}

static void test_info(void)
{
    struct utsname u;
    struct timespec a, b;
    struct timeval tv;
    int i, mono = 1;

    if (uname(&u) == 0)
        printf("uname sysname %s\n", u.sysname);
    else
        report("uname", 0);

    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < 1000; i++) {
        if (clock_gettime(CLOCK_MONOTONIC, &b) != 0)
            mono = 0;
        if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec))
            mono = 0;
        if (b.tv_nsec < 0 || b.tv_nsec >= 1000000000)
            mono = 0;
        a = b;
    }
    report("clock_gettime monotonic", mono);

    clock_gettime(CLOCK_REALTIME, &a);
    report("gettimeofday", gettimeofday(&tv, NULL) == 0 && tv.tv_sec > 1600000000 &&
                               tv.tv_usec >= 0 && tv.tv_usec < 1000000 &&
                               llabs((long long)tv.tv_sec - a.tv_sec) <= 2);
    report("getpid", getpid() > 0);
}

/* open, read, fstat64, lseek, mmap and close of a file. */
static void test_file(const char *path)
{
    char buf[256], more[8];
    struct kstat64 st;
    ssize_t n;
    off_t end;
    char *nl, *m;
    int fd = open(path, O_RDONLY);

    if (fd < 0) {
        printf("open %s FAILED (errno %d)\n", path, errno);
        return;
    }
    n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        report("read", 0);
        return;
    }
    buf[n] = 0;
    nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    printf("first line: %s\n", buf);

    memset(&st, 0, sizeof st);
    report("fstat64", syscall(SYS_fstat64, fd, &st) == 0);
    printf("fstat64 size %lld, regular file %s\n", st.st_size,
           S_ISREG(st.st_mode) ? "yes" : "no");

    end = lseek(fd, 0, SEEK_END);
    printf("lseek end %lld (same as size: %s)\n", (long long)end,
           end == st.st_size ? "yes" : "no");
    report("read at end returns 0", read(fd, more, sizeof more) == 0);
    if (lseek(fd, 1, SEEK_SET) == 1 && read(fd, more, 4) == 4)
        printf("bytes 1..4 after lseek: %02x %02x %02x %02x\n", (unsigned char)more[0],
               (unsigned char)more[1], (unsigned char)more[2], (unsigned char)more[3]);
    printf("lseek cur %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    errno = 0;
    end = lseek(fd, -1, SEEK_SET);
    printf("lseek to -1: %lld, errno %d\n", (long long)end, errno);

    m = mmap(NULL, st.st_size ? st.st_size : 1, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        report("mmap of the file", 0);
    } else {
        report("mmap of the file matches read", strncmp(m, buf, strlen(buf)) == 0);
        munmap(m, st.st_size ? st.st_size : 1);
    }

    report("close", close(fd) == 0);
    errno = 0;
    n = close(fd);
    printf("close again: %d, errno %d\n", (int)n, errno);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* List a directory with getdents64 through a small buffer, names sorted. */
static void test_dir(const char *path)
{
    char buf[256];      /* small: several calls for a directory of any size */
    char *names[1024];
    unsigned char types[1024];
    int fd = open(path, O_RDONLY | O_DIRECTORY), count = 0, calls = 0, i;
    long n;

    if (fd < 0) {
        printf("open %s FAILED (errno %d)\n", path, errno);
        return;
    }
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        long pos = 0;
        calls++;
        while (pos < n && count < 1024) {
            struct kdirent64 *d = (struct kdirent64 *)(buf + pos);
            names[count] = strdup(d->d_name);
            types[count] = d->d_type;
            count++;
            pos += d->d_reclen;
        }
    }
    if (n < 0)
        report("getdents64", 0);
    close(fd);

    /* sort names and types together: sort the names, then find each type */
    {
        char *sorted[1024];
        memcpy(sorted, names, count * sizeof *names);
        qsort(sorted, count, sizeof *sorted, by_name);
        printf("getdents64 %s: %d entries\n", path, count);
        for (i = 0; i < count; i++) {
            int j, t = '?';
            for (j = 0; j < count; j++)
                if (names[j] == sorted[i])
                    t = types[j] == DT_DIR ? 'd' : types[j] == DT_REG ? 'f' :
                        types[j] == DT_LNK ? 'l' : types[j] == DT_UNKNOWN ? 'u' : 'o';
            printf("  %c %s\n", t, sorted[i]);
        }
    }
    for (i = 0; i < count; i++)
        free(names[i]);
}

static void test_errors(void)
{
    const void *volatile bad = (const void *)1;  /* volatile: gcc warns about it otherwise */
    char buf[4096];
    int fds[2];
    long r;
    ssize_t n;

    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        printf("readlink /proc/self/exe basename %s\n",
               strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
    } else {
        report("readlink /proc/self/exe", 0);
    }

    errno = 0;
    r = syscall(999);
    printf("syscall 999: %ld, errno %d (%s)\n", r, errno, errno == ENOSYS ? "ENOSYS" : "?");

    if (pipe(fds) != 0) {
        report("pipe", 0);
        return;
    }
    errno = 0;
    n = write(fds[1], bad, 10);
    printf("write from 0x1: %zd, errno %d (%s)\n", n, errno, errno == EFAULT ? "EFAULT" : "?");
    close(fds[0]);
    close(fds[1]);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: syscalls FILE DIR\n");
        return 2;
    }
    printf("syscalls\n");   /* allocates stdout's buffer before the brk test */
    test_write();
    test_brk();
    test_mmap();
    test_info();
    test_file(argv[1]);
    test_dir(argv[2]);
    test_errors();
    return 0;
}
