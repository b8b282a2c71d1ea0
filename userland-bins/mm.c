/*
 * mm: memory management as a program sees it. Each subtest (argv[1]) runs
 * alone and prints what it observed; the faulting ones end by the signal
 * Linux sends. Run natively and under vxos, outputs compared.
 *
 *   mm LIST          print the subtest names
 *   mm NAME [FILE]   run one (file_* subtests need a scratch FILE path)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

static const char *file_arg;

static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31 + p[i];
    return s;
}

static void t_anon256(void) {
    size_t n = 256u << 20;
    unsigned char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    unsigned zero = 1;
    for (size_t i = 0; i < n; i += 4096) { zero &= p[i + 7] == 0; p[i] = (unsigned char)(i >> 12); }
    unsigned s = 0;
    for (size_t i = 0; i < n; i += 4096) s += p[i];
    printf("256 MiB touched: fresh pages zero %u, sum %u\n", zero, s);
    munmap(p, n);
}

static void t_scatter(void) {
    /* More than 100,000 distinct pages, scattered over 1 GiB. */
    size_t n = 1u << 30, pages = n >> 12, touched = 0;
    unsigned char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    for (size_t k = 0; k < pages; k += 2) {
        size_t pg = (k * 40503u) % pages; /* every other page, in a scattered order */
        if (p[pg << 12] == 0) touched++;
        p[pg << 12] = (unsigned char)(pg | 1);
    }
    unsigned bad = 0;
    for (size_t k = 0; k < pages; k += 2) {
        size_t pg = (k * 40503u) % pages;
        bad += p[pg << 12] != (unsigned char)(pg | 1);
    }
    printf("scattered pages written %zu, wrong on read-back %u\n", touched, bad);
}

static void t_mprotect_write(void) {
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(p, "before");
    mprotect(p, 8192, PROT_READ);
    printf("read-only still reads: %s\n", p); fflush(stdout);
    p[1] = 'X'; /* SIGSEGV */
    printf("survived\n");
}

static void t_munmap_read(void) {
    char *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = p[4096] = p[8192] = 1;
    munmap(p + 4096, 4096);
    printf("outer pages %d %d\n", p[0], p[8192]); fflush(stdout);
    printf("%d\n", *(volatile char *)(p + 4096)); /* SIGSEGV */
}

static void t_brk(void) {
    char *a = sbrk(0);
    if (sbrk(1 << 20) == (void *)-1) { perror("sbrk"); exit(1); }
    memset(a, 0x5a, 1 << 20);
    char *b = sbrk(0);
    printf("brk grew by %ld, last byte %#x\n", (long)(b - a), (unsigned char)b[-1]);
    sbrk(-(1 << 19));
    printf("shrunk by %ld\n", (long)(b - (char *)sbrk(0)));
}

static void t_mremap(void) {
    unsigned char *p = mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 1 << 20; i++) p[i] = (unsigned char)(i * 7);
    /* Block growth in place with a mapping right after it. */
    mmap(p + (1 << 20), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    unsigned char *q = mremap(p, 1 << 20, 4 << 20, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) { perror("mremap"); exit(1); }
    printf("moved %d, contents kept %u, new part zero %d\n", q != p, sum(q, 1 << 20) == sum(q, 1 << 20) && q[12345] == (unsigned char)(12345 * 7), q[(3 << 20) + 5] == 0);
    q = mremap(q, 4 << 20, 8192, 0);
    printf("shrunk in place %d, byte %u\n", q != MAP_FAILED, q[100]);
}

static void t_fixed(void) {
    char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 'a', 4 * 4096);
    char *q = mmap(p + 4096, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("fixed at %d, new page %d, neighbours %c %c\n", q == p + 4096, q[0], p[0], p[2 * 4096]);
    void *r = mmap(p, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("noreplace refused: %d\n", r == MAP_FAILED);
}

static int make_file(void) {
    int fd = open(file_arg, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(file_arg); exit(1); }
    char buf[3 * 4096];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 'A' + i % 26;
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) exit(1);
    return fd;
}

static void t_file_private(void) {
    int fd = make_file();
    char *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("reads file: %.5s\n", p + 4096);
    memcpy(p + 4096, "hello", 5);
    char back[6] = {0};
    pread(fd, back, 5, 4096);
    printf("mapping %.5s, file still %s\n", p + 4096, back);
}

static void t_file_shared(void) {
    int fd = make_file();
    char *p = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4096);
    memcpy(p + 10, "shared!", 7);
    msync(p, 4096, MS_SYNC);
    char back[8] = {0};
    pread(fd, back, 7, 4096 + 10);
    printf("after msync the file has: %s\n", back);
    memcpy(p + 100, "again", 5);
    munmap(p, 3 * 4096);
    pread(fd, back, 5, 4096 + 100);
    back[5] = 0;
    printf("after munmap the file has: %s\n", back);
    unlink(file_arg);
}

static int depth(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : depth(n - 1) + pad[0] % 2;
}

static void t_stack(void) {
    printf("recursion 6000 deep (6 MiB of stack): %d\n", depth(6000));
}

static void t_mincore(void) {
    unsigned char *p = mmap(0, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    p[5 * 4096] = 1;
    unsigned char v[8];
    mincore(p, 8 * 4096, v);
    printf("mincore: resident page 0 %d, page 5 %d\n", v[0] & 1, v[5] & 1);
    madvise(p, 8 * 4096, MADV_DONTNEED);
    printf("after MADV_DONTNEED page 0 reads %d\n", p[0]);
}

static void t_shared_anon(void) {
    int *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *q = mremap(p, 4096, 8192, MREMAP_MAYMOVE);
    q[0] = 42;
    printf("shared anonymous memory: %d, second page %d\n", q[0], q[1024]);
}

static void t_sysv_shm(void) {
    int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    char *a = shmat(id, 0, 0), *b = shmat(id, 0, 0);
    strcpy(a + 5000, "through one, read through the other");
    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("two attaches differ %d: %s; size %zu attached %lu\n", a != b, b + 5000, (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch);
    shmdt(a);
    shmctl(id, IPC_RMID, 0);
    printf("after detach and remove the other still reads: %.7s\n", b + 5000);
    shmdt(b);
    printf("attach after removal fails: %d\n", shmat(id, 0, 0) == (void *)-1);
}

static void t_memfd(void) {
    int fd = memfd_create("vxos-test", 0);
    if (ftruncate(fd, 8192)) { perror("ftruncate"); exit(1); }
    char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *q = mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0);
    strcpy(p + 4100, "shared through a memfd");
    char back[32] = {0};
    msync(p, 8192, MS_SYNC);
    pread(fd, back, 22, 4100);
    printf("second mapping: %s; file: %s\n", q + 4100, back);
}

static void t_file_private_ro(void) {
    /* A private writable mapping of a file we may only read: this program. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) { perror("readlink"); exit(1); }
    self[n] = 0;
    int fd = open(self, O_RDONLY);
    unsigned char *p = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    printf("mapped file starts with %02x %c%c%c\n", p[0], p[1], p[2], p[3]);
    p[1] = 'X';
    char back[4] = {0};
    pread(fd, back, 3, 1);
    printf("private write seen in the mapping: %c, file still: %s\n", p[1], back);
    void *q = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("a shared writable mapping of a read-only descriptor fails: %d\n", q == MAP_FAILED);
    /* Past the end of the file, within the last page: zeros; beyond: SIGBUS. */
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char *t = mmap(0, 2 * 4096, PROT_READ, MAP_PRIVATE, fd, size & ~4095L);
    printf("bytes after the end of the file read as %d\n", t[(size & 4095) + 1]);
    fflush(stdout);
    printf("%d\n", t[4096 + 10]); /* SIGBUS */
}

static struct { const char *name; void (*fn)(void); int needs_file; } tests[] = {
    {"anon256", t_anon256, 0}, {"scatter", t_scatter, 0}, {"mprotect_write", t_mprotect_write, 0},
    {"munmap_read", t_munmap_read, 0}, {"brk", t_brk, 0}, {"mremap", t_mremap, 0}, {"fixed", t_fixed, 0},
    {"file_private", t_file_private, 1}, {"file_shared", t_file_shared, 1}, {"stack", t_stack, 0},
    {"mincore", t_mincore, 0}, {"shared_anon", t_shared_anon, 0}, {"sysv_shm", t_sysv_shm, 0},
    {"memfd", t_memfd, 0}, {"file_private_ro", t_file_private_ro, 0},
};

int main(int argc, char **argv) {
    int n = sizeof tests / sizeof tests[0];
    if (argc < 2) { fprintf(stderr, "usage: mm LIST | NAME [FILE]\n"); return 2; }
    file_arg = argc > 2 ? argv[2] : 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(argv[1], "LIST")) {
            printf("%s%s\n", tests[i].name, tests[i].needs_file ? " FILE" : "");
        } else if (!strcmp(argv[1], tests[i].name)) {
            if (tests[i].needs_file && !file_arg) { fprintf(stderr, "mm %s needs a FILE\n", argv[1]); return 2; }
            tests[i].fn();
            return 0;
        }
    }
    if (strcmp(argv[1], "LIST")) { fprintf(stderr, "mm: no subtest %s\n", argv[1]); return 2; }
    return 0;
}
