/*
 * fault_null: a store to address 0 must kill the program with SIGSEGV, as on
 * Linux. Exercises the translator's fault path (a host fault inside
 * translated code becomes a precise guest trap) and the kernel's default
 * action for SIGSEGV. Both the pointer and what it points to are volatile:
 * with a plain pointer gcc sees the null dereference and turns it into a
 * ud2 (SIGILL), and with only `int *volatile p` its points-to analysis
 * still knows p points nowhere and deletes the store.
 *
 * Usage: fault_null        (prints one line, then dies by SIGSEGV)
 */
#include <stdio.h>

int main(void)
{
    volatile int *volatile p = 0;

    printf("about to fault\n");
    fflush(stdout);
    *p = 1;
    printf("still alive: the store to NULL did not fault\n");
    return 0;
}
