/*
 * fault_hlt: hlt is privileged; in user mode it raises a general protection
 * fault (#GP), which Linux delivers as SIGSEGV (not SIGILL). The translator
 * must not run it, and must report it as the signal an i386 Linux would.
 *
 * Usage: fault_hlt         (prints one line, then dies by SIGSEGV)
 */
#include <stdio.h>

int main(void)
{
    printf("about to fault\n");
    fflush(stdout);
    __asm__ volatile("hlt");
    printf("still alive: hlt did not fault\n");
    return 0;
}
