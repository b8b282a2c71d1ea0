/*
 * escape: guest code that tries to leave the sandbox or do what an i386
 * user process may not. Each subtest (argv[1]) must end exactly as it
 * does on a real i386 Linux: the same output, the same result or the same
 * fatal signal. Run natively and under vxos, outcomes compared; `gate64`
 * (a far jump to the 64-bit code segment, which a 64-bit Linux allows) is
 * checked on its own: vxos must refuse it.
 *
 *   escape LIST        print the subtest names
 *   escape NAME        run one subtest
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void say(const char *s) { printf("%s\n", s); fflush(stdout); }

static void t_syscall(void) {
    say("syscall instruction");
    __asm__ volatile(".byte 0x0f, 0x05" ::: "memory"); /* #UD in 32-bit mode on Intel */
    say("survived");
}

static void t_sysenter(void) {
    /* The vDSO convention: push ecx, edx, ebp; ebp = esp; sysenter.
       The kernel returns to the landing pad, which pops them and returns. */
    int r;
    say("sysenter getpid");
    __asm__ volatile(
        "call 1f\n"
        "jmp 2f\n"
        "1: push %%ecx\n push %%edx\n push %%ebp\n mov %%esp, %%ebp\n sysenter\n"
        "2:\n"
        : "=a"(r) : "a"(20) : "memory", "ecx", "edx");
    printf("same pid: %d\n", r == getpid());
}

static void t_syscall_vdso(void) {
    /* AMD's vDSO convention: push ecx, edx, ebp; ebp = ecx; syscall (the
       second argument in ebp, the sixth at [esp]). The kernel returns to
       the landing pad, which pops them and returns. #UD on Intel. */
    int r;
    say("syscall getppid");
    __asm__ volatile(
        "call 1f\n"
        "jmp 2f\n"
        "1: push %%ecx\n push %%edx\n push %%ebp\n mov %%ecx, %%ebp\n syscall\n"
        "2:\n"
        : "=a"(r) : "a"(64) : "memory", "ecx", "edx");
    printf("same ppid: %d\n", r == getppid());
}

static int raw(int nr, int a) {
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a) : "memory");
    return r;
}

static void t_badnr(void) {
    printf("nr 500: %d\n", raw(500, 0));
    printf("nr 0x40000027 (x32 getpid): %d\n", raw(0x40000027, 0));
    printf("nr -1: %d\n", raw(-1, 0));
    printf("nr 39 (x86-64 getpid, i386 mkdir of NULL): %d\n", raw(39, 0));
}

static void t_farjmp(void) {
    say("far jmp to the user code segment");
    __asm__ volatile("ljmp $0x23, $1f\n1:" ::: "memory");
    say("far call and lret");
    __asm__ volatile("lcall $0x23, $1f\n jmp 2f\n1: lret\n2:" ::: "memory");
    say("done");
}

static void t_gate64(void) {
    say("far jmp to the 64-bit code segment");
    /* Natively this switches the CPU to 64-bit mode ("heaven's gate");
       the sandbox must refuse it. The 64-bit code would write a marker. */
    __asm__ volatile("ljmp $0x33, $1f\n1: hlt" ::: "memory");
    say("survived");
}

static void t_segload_ok(void) {
    unsigned short ds;
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    __asm__ volatile("mov %0, %%es\n mov %0, %%fs" :: "r"(ds));
    __asm__ volatile("push %%ds\n pop %%es" ::: "memory");
    printf("ds %#x reloaded\n", ds);
}

static void t_segload_kernel(void) {
    say("load a kernel data selector");
    __asm__ volatile("mov %0, %%ds" :: "r"(0x18) : "memory");
    say("survived");
}

static void t_segload_ldt(void) {
    say("load an LDT selector with no LDT");
    __asm__ volatile("mov %0, %%fs" :: "r"(0x7) : "memory");
    say("survived");
}

static void t_segload_ss(void) {
    say("load a null stack segment");
    __asm__ volatile("mov %0, %%ss" :: "r"(0) : "memory");
    say("survived");
}

static void t_int81(void) { say("int 0x81"); __asm__ volatile("int $0x81"); say("survived"); }
static void t_int4(void) { say("int 4"); __asm__ volatile("int $4"); say("survived"); }
static void t_int3(void) { say("int3"); __asm__ volatile("int3"); say("survived"); }
static void t_into(void) {
    say("into with OF clear, then set");
    __asm__ volatile("xor %%eax, %%eax\n .byte 0xce" ::: "eax", "cc"); /* into, OF=0: nothing */
    say("OF clear passed");
    __asm__ volatile("mov $0x7fffffff, %%eax\n add $1, %%eax\n .byte 0xce" ::: "eax", "cc");
    say("survived");
}
static void t_hlt(void) { say("hlt"); __asm__ volatile("hlt"); say("survived"); }
static void t_cli(void) { say("cli"); __asm__ volatile("cli"); say("survived"); }
static void t_inout(void) { say("in from port 0x80"); __asm__ volatile("inb $0x80, %%al" ::: "eax"); say("survived"); }

static void t_straddle_top(void) {
    say("load across 0xffffffff");
    volatile unsigned *p = (volatile unsigned *)0xfffffffe;
    printf("%u\n", *p);
}

static void t_straddle_page(void) {
    /* A 4-byte load across a mapped page into an unmapped one faults. */
    unsigned char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + 4096, 4096);
    m[4095] = 7;
    say("load across into an unmapped page");
    printf("%u\n", *(volatile unsigned *)(m + 4094));
}

static void t_rep_wrap(void) {
    /* rep stosb running off the top of the address space. */
    say("rep stos off the top");
    __asm__ volatile("cld\n rep stosb" :: "D"(0xfffff000u), "c"(0x2000), "a"(0) : "memory");
    say("survived");
}

static void t_midinsn(void) {
    /* Jump into the middle of an instruction: the bytes of
       "mov eax, 0x04eb9090" run as nop; nop; jmp +4 when entered at +1. */
    static unsigned char code[] = {
        0xb8, 0x90, 0x90, 0xeb, 0x04,   /* mov eax, 0x04eb9090  |  +1: nop nop jmp +4 */
        0xb8, 0x01, 0, 0, 0,            /* mov eax, 1 */
        0xc3,                           /* ret (path from the start) */
        0xb8, 0x02, 0, 0, 0, 0xc3       /* +11: mov eax, 2; ret */
    };
    mprotect((void *)((unsigned long)code & ~4095ul), 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
    int (*f0)(void) = (int (*)(void))code;
    int (*f1)(void) = (int (*)(void))(code + 1);
    int a = f0(), b = f1();
    printf("from start %d (eax %#x?), from +1 %d\n", a, a, b);
}

static void t_nx(void) {
    /* Executing a page without PROT_EXEC faults. */
    unsigned char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 0xc3;
    say("call into a non-executable page");
    ((void (*)(void))m)();
    say("survived");
}

static void t_smc_branch(void) {
    /* Rewrite a branch that has already run, then run it again. */
    static unsigned char code[] = {
        0x31, 0xc0,             /* xor eax, eax */
        0x74, 0x02,             /* jz +2 (taken) */
        0x40, 0x40,             /* inc eax; inc eax */
        0x40,                   /* inc eax */
        0xc3                    /* ret */
    };
    mprotect((void *)((unsigned long)code & ~4095ul), 8192, PROT_READ | PROT_WRITE | PROT_EXEC);
    int (*f)(void) = (int (*)(void))code;
    int a = f();
    code[2] = 0x75;             /* jz -> jnz: now falls through */
    int b = f();
    code[3] = 0x01;             /* jnz +1 */
    int c = f();
    printf("%d %d %d\n", a, b, c);
}

static struct { const char *name; void (*fn)(void); } tests[] = {
    {"syscall", t_syscall}, {"syscall_vdso", t_syscall_vdso}, {"sysenter", t_sysenter}, {"badnr", t_badnr}, {"farjmp", t_farjmp},
    {"gate64", t_gate64}, {"segload_ok", t_segload_ok}, {"segload_kernel", t_segload_kernel},
    {"segload_ldt", t_segload_ldt}, {"segload_ss", t_segload_ss}, {"int81", t_int81}, {"int4", t_int4},
    {"int3", t_int3}, {"into", t_into}, {"hlt", t_hlt}, {"cli", t_cli}, {"inout", t_inout},
    {"straddle_top", t_straddle_top}, {"straddle_page", t_straddle_page}, {"rep_wrap", t_rep_wrap},
    {"midinsn", t_midinsn}, {"nx", t_nx}, {"smc_branch", t_smc_branch},
};

int main(int argc, char **argv) {
    int n = sizeof tests / sizeof tests[0];
    if (argc < 2) {
        fprintf(stderr, "usage: escape LIST | NAME\n");
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (!strcmp(argv[1], "LIST")) {
            printf("%s\n", tests[i].name);
        } else if (!strcmp(argv[1], tests[i].name)) {
            tests[i].fn();
            return 0;
        }
    }
    if (strcmp(argv[1], "LIST")) {
        fprintf(stderr, "escape: no subtest %s\n", argv[1]);
        return 2;
    }
    return 0;
}
