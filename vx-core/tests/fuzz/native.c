/*
 * Native side of the vx-core instruction fuzzer (see README.md).
 *
 * Built with `gcc -m32 -O1 -static -no-pie` by the Rust side. Reads test
 * cases from stdin until EOF; for each one it maps the code at CODE_BASE
 * (followed by int3) and the data area at DATA_BASE, loads the x87/MMX/SSE
 * state with fxrstor and the general registers and eflags with popal/popfl,
 * and jumps to the code. Whatever signal ends the run (SIGTRAP from the
 * final int3, or SIGFPE/SIGSEGV/SIGILL/SIGBUS from a faulting instruction)
 * is caught on an alternate stack; the handler copies the registers and
 * the fxsave image out of the ucontext and siglongjmps back to the loop,
 * which writes the result record to stdout.
 *
 * At start it writes the word 'VXFR' once. Record layouts (all
 * little-endian u32 unless noted) must match tests/fuzz/common.rs:
 *   input:  magic 'VXFI', code_len, code[CODE_MAX], regs[8] (eax ecx edx
 *           ebx esp ebp esi edi), eflags, data[DATA_LEN + LOW_LEN], fx[512]
 *   output: magic 'VXFO', signo, si_code, eip, trapno, fx_valid, regs[8],
 *           eflags, data[DATA_LEN + LOW_LEN], fx[512]
 * data is the first DATA_LEN bytes of the page at DATA_BASE followed by
 * the first LOW_LEN bytes of the page at LOW_BASE (16-bit addressing).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_BASE 0x10000000u
#define DATA_BASE 0x20000000u
#define CODE_MAX 1024
#define DATA_LEN 1024
#define LOW_BASE 0x8000u /* a page for 16-bit addressing */
#define LOW_LEN 256
#define ALL_DATA (DATA_LEN + LOW_LEN)
#define MAGIC_IN 0x49465856u  /* "VXFI" */
#define MAGIC_OUT 0x4f465856u /* "VXFO" */
#define MAGIC_READY 0x52465856u /* "VXFR", once at start */

struct input {
    uint32_t magic, code_len;
    uint8_t code[CODE_MAX];
    uint32_t regs[8];
    uint32_t eflags;
    uint8_t data[ALL_DATA];
    uint8_t fx[512];
};

struct output {
    uint32_t magic, signo, si_code, eip, trapno, fx_valid;
    uint32_t regs[8];
    uint32_t eflags;
    uint8_t data[ALL_DATA];
    uint8_t fx[512];
};

static struct input in;
static struct output out;
static sigjmp_buf jb;

/* Read by the launch stub below: popal order, then eflags. */
uint32_t vxf_frame[9]; /* edi esi ebp (esp) ebx edx ecx eax eflags */
uint32_t vxf_esp;
uint32_t vxf_code = CODE_BASE;
uint8_t vxf_fx[512] __attribute__((aligned(16)));

void vxf_launch(void);
__asm__(".text\n"
        ".globl vxf_launch\n"
        ".type vxf_launch, @function\n"
        "vxf_launch:\n"
        "  fxrstor vxf_fx\n"
        "  movl $vxf_frame, %esp\n"
        "  popal\n"
        "  popfl\n"
        "  movl vxf_esp, %esp\n"
        "  jmp *vxf_code\n");

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;

    out.signo = sig;
    out.si_code = si->si_code;
    out.eip = g[REG_EIP];
    out.trapno = g[REG_TRAPNO];
    out.regs[0] = g[REG_EAX];
    out.regs[1] = g[REG_ECX];
    out.regs[2] = g[REG_EDX];
    out.regs[3] = g[REG_EBX];
    out.regs[4] = g[REG_ESP];
    out.regs[5] = g[REG_EBP];
    out.regs[6] = g[REG_ESI];
    out.regs[7] = g[REG_EDI];
    out.eflags = g[REG_EFL];
    /* struct _fpstate (i386): the fsave header (112 bytes, magic at 110:
     * 0 means FXSR data follows), then the fxsave image. */
    if (fp && *(const uint16_t *)(fp + 110) == 0) {
        memcpy(out.fx, fp + 112, 512);
        out.fx_valid = 1;
    } else {
        out.fx_valid = 0;
    }
    siglongjmp(jb, 1);
}

static int read_full(void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(0, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return got == 0 ? 0 : -1;
        got += n;
    }
    return 1;
}

static void write_full(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(1, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            exit(3);
        p += n;
        len -= n;
    }
}

int main(void)
{
    static uint8_t altstack[256 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        perror("sigaltstack");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    /* NODEFER: we leave the handler with siglongjmp and no mask restore. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGTRAP, SIGFPE, SIGSEGV, SIGILL, SIGBUS};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0) {
            perror("sigaction");
            return 2;
        }
    if (mmap((void *)CODE_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
        mmap((void *)DATA_BASE, 4096, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ||
        mmap((void *)LOW_BASE, 4096, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    /* Tell the Rust side we are ready (it treats a missing word as
     * "this host cannot run the helper"). */
    static const uint32_t ready = MAGIC_READY;
    write_full(&ready, sizeof ready);
    for (;;) {
        int r = read_full(&in, sizeof in);
        if (r == 0)
            return 0;
        if (r < 0 || in.magic != MAGIC_IN || in.code_len >= CODE_MAX) {
            fprintf(stderr, "native: bad input record\n");
            return 2;
        }
        memset((void *)CODE_BASE, 0xcc, 4096);
        memcpy((void *)CODE_BASE, in.code, in.code_len);
        memset((void *)DATA_BASE, 0, 4096);
        memcpy((void *)DATA_BASE, in.data, DATA_LEN);
        memset((void *)LOW_BASE, 0, 4096);
        memcpy((void *)LOW_BASE, in.data + DATA_LEN, LOW_LEN);
        memcpy(vxf_fx, in.fx, 512);
        static const int order[8] = {7, 6, 5, 4, 3, 2, 1, 0}; /* popal */
        for (int i = 0; i < 8; i++)
            vxf_frame[i] = in.regs[order[i]];
        vxf_frame[8] = in.eflags;
        vxf_esp = in.regs[4];
        memset(&out, 0, sizeof out);
        if (sigsetjmp(jb, 0) == 0)
            vxf_launch();
        /* The case may have set AC (alignment check) or DF; the handler's
         * siglongjmp keeps them, and glibc here must not run with them. */
        __asm__ volatile("pushfl\n andl $~0x40400, (%%esp)\n popfl" ::: "memory", "cc");
        out.magic = MAGIC_OUT;
        memcpy(out.data, (void *)DATA_BASE, DATA_LEN);
        memcpy(out.data + DATA_LEN, (void *)LOW_BASE, LOW_LEN);
        write_full(&out, sizeof out);
    }
}
