/*
 * fault_int3: the int3 breakpoint instruction (#BP) must kill the program
 * with SIGTRAP when no debugger or handler is present. The translator
 * rewrites int3 into a trap; the kernel delivers SIGTRAP, whose default
 * action is to terminate (with a core dump).
 *
 * Usage: fault_int3        (prints one line, then dies by SIGTRAP)
 */
#include <stdio.h>

int main(void)
{
    printf("about to fault\n");
    fflush(stdout);
    __asm__ volatile("int3");
    printf("still alive: int3 did not trap\n");
    return 0;
}
