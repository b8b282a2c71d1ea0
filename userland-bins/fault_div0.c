/*
 * fault_div0: an integer division by zero must kill the program with SIGFPE
 * (the CPU raises #DE, Linux turns it into SIGFPE with si_code FPE_INTDIV).
 * The operands are volatile so that gcc emits a real idiv.
 *
 * Usage: fault_div0        (prints one line, then dies by SIGFPE)
 */
#include <stdio.h>

int main(void)
{
    volatile int num = 1, den = 0;
    int q;

    printf("about to fault\n");
    fflush(stdout);
    q = num / den;
    printf("still alive: 1 / 0 = %d\n", q);
    return 0;
}
