/*
 * textsmc: a program that rewrites its own text, run several times in a
 * row. vxos keeps a program's translations from one exec to the next (see
 * kernel/src/progcache.rs) and shares translations between processes; this
 * checks that neither ever runs code the process does not hold: each run
 * must see its own, freshly loaded text, whatever an earlier run patched.
 *
 * `textsmc` forks and execs itself as `textsmc run N` for N = 0, 1, 0, 1, 0
 * and waits for each. A run calls answer() (in .text), and with N = 1 makes
 * the page writable, patches answer()'s immediate and calls it again, then
 * (JIT style) makes it read-only and executable again and calls it once more.
 *
 * Usage: textsmc [run N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u

__attribute__((noinline, aligned(64))) int answer(void)
{
    return 0x11111111;
}

/* Find the mov eax, imm32 that loads answer()'s result. */
static unsigned char *immediate_of(unsigned char *f)
{
    for (int i = 0; i < 32; i++)
        if (f[i] == 0xb8 && f[i + 1] == 0x11 && f[i + 2] == 0x11 && f[i + 3] == 0x11 && f[i + 4] == 0x11)
            return f + i + 1;
    return NULL;
}

static int run(int patch)
{
    int (*volatile call)(void) = answer;
    long sum = 0;
    for (int i = 0; i < 1000; i++) /* hot: its translation is kept */
        sum += call();
    printf("run %d: before %#x (sum %#lx)\n", patch, call(), (unsigned long)sum);
    if (!patch)
        return 0;
    unsigned char *imm = immediate_of((unsigned char *)answer);
    if (!imm) {
        printf("run %d: no immediate found\n", patch);
        return 1;
    }
    uintptr_t page = (uintptr_t)imm & ~(uintptr_t)(PAGE - 1);
    /* The immediate may straddle two pages: cover both. */
    if (mprotect((void *)page, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        perror("mprotect rwx");
        return 1;
    }
    uint32_t v = 0x22222222;
    memcpy(imm, &v, 4);
    printf("run %d: patched %#x\n", patch, call());
    if (mprotect((void *)page, 2 * PAGE, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect rx");
        return 1;
    }
    printf("run %d: read-only again %#x\n", patch, call());
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "run"))
        return run(atoi(argv[2]));
    static const char *order[] = { "0", "1", "0", "1", "0" };
    for (unsigned k = 0; k < sizeof order / sizeof order[0]; k++) {
        fflush(stdout);
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            return 1;
        }
        if (p == 0) {
            char *args[] = { argv[0], "run", (char *)order[k], NULL };
            execv(argv[0], args);
            perror("execv");
            _exit(127);
        }
        int st;
        if (waitpid(p, &st, 0) != p) {
            perror("waitpid");
            return 1;
        }
        printf("child %u: status %#x\n", k, st);
    }
    return 0;
}
