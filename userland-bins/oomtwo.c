/*
 * oomtwo: two processes that together need more memory than vxos is given
 * (run with `vxos run --mem 64M`): the out-of-memory killer must end the
 * larger one, whichever of the two was faulting.
 *
 * Usage: oomtwo child    the child grows past the limit: it is killed and
 *                        the parent reports it
 *        oomtwo parent   the parent is the larger (it grows after the fork,
 *                        the child faults last): the parent is killed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(size_t mb)
{
    char *p = mmap(0, mb << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(3);
    for (size_t i = 0; i < mb << 20; i += 4096)
        p[i] = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "child") && strcmp(argv[1], "parent"))) {
        fprintf(stderr, "usage: oomtwo child|parent\n");
        return 2;
    }
    int p[2];
    if (pipe(p) < 0)
        return 1;
    if (!strcmp(argv[1], "child")) {
        touch(8);
        pid_t c = fork();
        if (c == 0) {
            touch(80);
            printf("child survived\n");
            _exit(0);
        }
        int st;
        waitpid(c, &st, 0);
        printf("child: killed %d by signal %d\n", WIFSIGNALED(st), WTERMSIG(st));
        return 0;
    }
    pid_t c = fork();
    if (c == 0) {
        char b;
        close(p[1]);
        if (read(p[0], &b, 1) != 1) /* wait until the parent is large */
            _exit(1);
        touch(30);
        printf("child survived its parent\n");
        fflush(stdout);
        _exit(0);
    }
    touch(50);
    if (write(p[1], "x", 1) != 1)
        return 1;
    int st;
    waitpid(c, &st, 0);
    printf("parent survived\n");
    return 0;
}
