/*
 * nullsys: the cost of a system call that does nothing. It makes N getpid
 * calls (eax = __NR_getpid = 20) with an inline `int $0x80`, bypassing
 * glibc. Under vxos each call is a trip out of translated code into the
 * kernel and back, so timing this program measures that round trip. It
 * prints the count only, never a time, and checks that every call returned
 * the same positive pid.
 *
 * With GATE "vsyscall" it calls the vDSO's __kernel_vsyscall instead (the
 * address in the AT_SYSINFO auxv entry; sysenter on Intel), which is how
 * glibc itself enters the kernel on i386. Natively that gate can be far
 * cheaper than int $0x80 (on some virtual machines int $0x80 costs
 * microseconds), so compare like with like. Without AT_SYSINFO (vxos need
 * not provide a vDSO) it falls back to int $0x80; the output is the same.
 *
 * Usage: nullsys [N [GATE]]   (N default 1000000; GATE int80 (default) or
 *                              vsyscall; time it from outside)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

/* Call getpid through the i386 system call gate. */
static inline long getpid_int80(void)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "0"(20) : "memory");
    return r;
}

/* Call getpid through __kernel_vsyscall at address gate. */
static inline long getpid_vsyscall(unsigned long gate)
{
    long r;
    __asm__ volatile("call *%1" : "=a"(r) : "r"(gate), "0"(20) : "memory", "ecx", "edx");
    return r;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000, i, bad = 0;
    unsigned long gate = 0;
    long pid = getpid_int80();

    if (argc > 2 && strcmp(argv[2], "vsyscall") == 0)
        gate = getauxval(AT_SYSINFO);
    else if (argc > 2 && strcmp(argv[2], "int80") != 0) {
        fprintf(stderr, "usage: nullsys [N [int80|vsyscall]]\n");
        return 2;
    }

    if (gate) {
        for (i = 0; i < n; i++)
            if (getpid_vsyscall(gate) != pid)
                bad++;
    } else {
        for (i = 0; i < n; i++)
            if (getpid_int80() != pid)
                bad++;
    }
    printf("getpid calls %ld\n", n);
    if (pid <= 0 || bad) {
        printf("bad results: %ld\n", bad);
        return 1;
    }
    return 0;
}
