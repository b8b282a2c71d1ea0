/*
 * fault_ud2: the ud2 instruction (an undefined opcode, #UD) must kill the
 * program with SIGILL. The translator has to turn an instruction it must not
 * run into the signal an i386 Linux would deliver.
 *
 * Usage: fault_ud2         (prints one line, then dies by SIGILL)
 */
#include <stdio.h>

int main(void)
{
    printf("about to fault\n");
    fflush(stdout);
    __asm__ volatile("ud2");
    printf("still alive: ud2 did not fault\n");
    return 0;
}
