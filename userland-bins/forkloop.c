/*
 * forkloop: copy-on-write isolation across many forks of one parent, the
 * case vxos speeds up by copying at fork the pages the last forks saw
 * written and by starting each child on the window the previous one left
 * (docs/ARCHITECTURE.md, "Memory").
 *
 * 300 rounds: the parent writes a static array, its heap and a shared
 * mapping, forks; children of three kinds write different pages (or
 * none) and check they see the parent's values of the moment of the fork;
 * the parent writes after the fork and checks, once the child is reaped,
 * that none of the child's writes reached it and that the shared page did.
 * Prints one line per fact; exit status 0 when every round held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int data[8192];

int main(void)
{
    int *heap = malloc(64 * 1024);
    int *shared = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!heap || shared == MAP_FAILED)
        return 1;
    memset(heap, 0, 64 * 1024);
    int bad_child = 0, leaks = 0, unshared = 0;
    for (int i = 0; i < 300; i++) {
        data[0] = i;
        data[1024] = i;
        heap[i % 16384] = i;
        int kind = i % 3;
        fflush(stdout);
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            return 1;
        }
        if (p == 0) {
            if (data[0] != i || data[1024] != i || heap[i % 16384] != i || data[4096] != 0)
                _exit(3);
            if (kind == 0) {
                data[0] = -1;
                data[4096] = 77;
                heap[5000] = 9;
            } else if (kind == 1) {
                data[2048] = 5;
            }
            shared[0] = i;
            _exit(0);
        }
        data[1024] = -i; /* the parent writes after the fork */
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad_child++;
        if (data[0] != i || data[4096] != 0 || data[2048] != 0 || heap[5000] != (i % 16384 == 5000 ? i : 0))
            leaks++;
        if (shared[0] != i)
            unshared++;
    }
    printf("children that saw a wrong value or failed: %d\n", bad_child);
    printf("rounds where a child's write reached the parent: %d\n", leaks);
    printf("rounds where the shared page was not shared: %d\n", unshared);
    return bad_child || leaks || unshared;
}
