/*
 * hello: the smallest guest program. Exercises the ELF loader, the initial
 * stack glibc's start-up code reads, stdio (one write system call when the
 * buffer is flushed at exit) and exit_group with status 0.
 *
 * Usage: hello
 */
#include <stdio.h>

int main(void)
{
    printf("hello, world\n");
    return 0;
}
