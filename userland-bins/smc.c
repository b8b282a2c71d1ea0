/*
 * smc: self-modifying code. A translator caches translations of guest code,
 * so it must notice when the guest writes to code it has already translated
 * and drop those translations (vxos: write-protect translated pages, drop on
 * the write fault). The program makes two pages of a static array in .data
 * executable with mprotect(PROT_READ|PROT_WRITE|PROT_EXEC), writes machine
 * code into them and:
 *   1. calls "mov eax, imm32; ret" many times, rewrites the immediate, calls again;
 *   2. flips the jz of a function that already ran into a jnz;
 *   3. runs a loop whose body stores into the immediate of its own next
 *      instruction, so the store must take effect within the running block;
 * and, JIT style, 4. writes code into an mmap'd page, mprotects it RX, runs
 * it, makes it RW to rewrite it, and maps a fresh page at the same address.
 *
 * Usage: smc
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

/* Two pages of .data (initialised, so not .bss), made executable in main. */
static unsigned char code[2 * PAGE] __attribute__((aligned(PAGE))) = { 0xc3 };

typedef int (*fn0)(void);
typedef int (*fn1)(int);

/* Store a 32-bit little-endian value at p. */
static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* 1: rewrite the immediate of mov eax, imm32 after many calls. */
static void immediate(void)
{
    unsigned char *f = code;
    fn0 call = (fn0)f;
    long sum = 0;
    int i;

    f[0] = 0xb8;                /* mov eax, 1234 */
    put32(f + 1, 1234);
    f[5] = 0xc3;                /* ret */
    for (i = 0; i < 1000; i++)  /* make it hot: the translation is cached */
        sum += call();
    printf("immediate: before %d (sum %ld)\n", call(), sum);
    put32(f + 1, 5678);
    printf("immediate: after %d\n", call());
}

/* 2: flip the jz in a function that already ran. */
static void branch(void)
{
    static const unsigned char body[] = {
        0x8b, 0x44, 0x24, 0x04,         /* mov eax, [esp+4] */
        0x85, 0xc0,                     /* test eax, eax */
        0x74, 0x06,                     /* jz +6 (to the second mov) */
        0xb8, 0x01, 0x00, 0x00, 0x00,   /* mov eax, 1 */
        0xc3,                           /* ret */
        0xb8, 0x02, 0x00, 0x00, 0x00,   /* mov eax, 2 */
        0xc3,                           /* ret */
    };
    unsigned char *f = code + PAGE;     /* the second page */
    fn1 call = (fn1)f;

    memcpy(f, body, sizeof body);
    printf("branch jz:  f(0) = %d, f(5) = %d\n", call(0), call(5));
    f[6] = 0x75;                        /* jnz */
    printf("branch jnz: f(0) = %d, f(5) = %d\n", call(0), call(5));
}

/* 3: a loop that patches the immediate of its next instruction. */
static void next_instruction(void)
{
    unsigned char *f = code + 64;
    fn0 call = (fn0)f;
    int n = 100;

    f[0] = 0x31; f[1] = 0xc0;                   /* 0:  xor eax, eax */
    f[2] = 0xb9; put32(f + 3, n);               /* 2:  mov ecx, n */
    f[7] = 0x89; f[8] = 0x0d;                   /* 7:  mov [f+14], ecx */
    put32(f + 9, (uint32_t)(uintptr_t)(f + 14));
    f[13] = 0x05; put32(f + 14, 0);             /* 13: add eax, imm32 (patched) */
    f[18] = 0x49;                               /* 18: dec ecx */
    f[19] = 0x75; f[20] = (unsigned char)(7 - 21); /* 19: jnz 7 */
    f[21] = 0xc3;                               /* 21: ret */
    printf("next instruction: sum 1..%d = %d (want %d)\n", n, call(), n * (n + 1) / 2);
}

/* 4: JIT style: W^X flips with mprotect, and munmap/mmap at the same address. */
static void jit(void)
{
    unsigned char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fn0 call = (fn0)p;

    if (p == MAP_FAILED) {
        printf("jit: mmap failed\n");
        return;
    }
    p[0] = 0xb8; put32(p + 1, 111); p[5] = 0xc3;
    mprotect(p, PAGE, PROT_READ | PROT_EXEC);
    printf("jit: first %d\n", call());
    mprotect(p, PAGE, PROT_READ | PROT_WRITE);
    put32(p + 1, 222);
    mprotect(p, PAGE, PROT_READ | PROT_EXEC);
    printf("jit: rewritten %d\n", call());
    munmap(p, PAGE);
    if (mmap(p, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p) {
        printf("jit: mmap at the same address failed\n");
        return;
    }
    p[0] = 0xb8; put32(p + 1, 333); p[5] = 0xc3;
    printf("jit: remapped %d\n", call());
    munmap(p, PAGE);
}

int main(void)
{
    if (mprotect(code, sizeof code, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        perror("mprotect");
        return 1;
    }
    immediate();
    branch();
    next_instruction();
    jit();
    return 0;
}
