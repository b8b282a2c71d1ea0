/*
 * fault_null: a store to address 0 must kill the program with SIGSEGV, as on
 * Linux. Exercises the translator's fault path (a host fault inside
 * translated code becomes a precise guest trap) and the kernel's default
 * action for SIGSEGV. The pointer is volatile so that gcc cannot see the
 * null dereference and replace it with a ud2 (it does that at -O2).
 *
 * Usage: fault_null        (prints one line, then dies by SIGSEGV)
 */
#include <stdio.h>

int main(void)
{
    int *volatile p = 0;

    printf("about to fault\n");
    fflush(stdout);
    *p = 1;
    printf("still alive: the store to NULL did not fault\n");
    return 0;
}
