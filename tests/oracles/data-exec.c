/*
 * Linked into oracles written for i386 machines without NX (valgrind's smc1
 * runs code it writes into a static array): make the program's data and bss
 * executable before main, as they were there, so the native run is the
 * reference it was meant to be. Under vxos this is an ordinary mprotect.
 */
#include <stdint.h>
#include <sys/mman.h>

extern char __data_start[], _end[];

__attribute__((constructor)) static void data_exec(void)
{
    uintptr_t lo = (uintptr_t)__data_start & ~(uintptr_t)4095;
    uintptr_t hi = ((uintptr_t)_end + 4095) & ~(uintptr_t)4095;
    mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE | PROT_EXEC);
}
