/*
 * setjmp: non-local jumps. longjmp restores esp, ebp, ebx, esi, edi and
 * jumps to a saved eip; glibc mangles the saved esp, ebp and eip with a
 * pointer guard read from %gs:0x18, so this also exercises guest TLS. The
 * program jumps out of deep recursion, checks that volatile locals keep the
 * values set after setjmp and that the value passed to longjmp arrives
 * (0 becomes 1), jumps repeatedly through the same jmp_buf in a loop (many
 * indirect jumps to one target for the translator), and uses sigsetjmp with
 * and without saving the signal mask: with savemask 1, siglongjmp must put
 * back the mask saved by sigsetjmp (an rt_sigprocmask round trip; no signal
 * is ever raised).
 *
 * Usage: setjmp [ITER]     (ITER*100000 jumps in the loop; default 1;
 *                           about 1700 run for a second natively)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf env;
static sigjmp_buf senv;
static int deepest;

/* Recurse to depth n, then jump back to main with value v. */
static int dive(int depth, int n, int v)
{
    volatile char frame[64];    /* make each frame different in size from the last */

    frame[depth % 64] = (char)depth;
    if (depth > deepest)
        deepest = depth;
    if (depth == n)
        longjmp(env, v);
    if (depth > n)
        return -1;              /* not reached */
    return dive(depth + 1, n, v) + frame[depth % 64];
}

/* Jump back through senv from a nested call. */
static void sig_out(int v)
{
    siglongjmp(senv, v);
}

/* Print whether SIGUSR1 is in the current signal mask. */
static int usr1_blocked(void)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, SIGUSR1);
}

int main(int argc, char **argv)
{
    long iter = argc > 1 ? atol(argv[1]) : 1;
    volatile long count = 0;
    volatile unsigned long total = 0;
    volatile int stage = 0;
    int r;
    sigset_t set;

    /* out of deep recursion, with several values, including 0 */
    r = setjmp(env);
    if (stage > 0)
        printf("longjmp from depth %d returned %d\n", deepest, r);
    if (stage < 4) {
        static const int vals[] = { 5, 0, -1, 1000000 };
        stage++;
        deepest = 0;
        dive(0, 10 * stage, vals[stage - 1]);
    }

    /* a loop made of longjmps */
    count = 0;
    if (setjmp(env) < 1000) {
        if (count < iter * 100000) {
            total += count;
            count++;
            longjmp(env, (int)(count % 999) + 1);
        }
    }
    printf("loop jumps %ld total %lu\n", (long)count, (unsigned long)total);

    /* sigsetjmp without saving the mask: the mask change survives the jump */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    if (sigsetjmp(senv, 0) == 0) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        sig_out(7);
    }
    printf("savemask 0: SIGUSR1 blocked after jump: %d\n", usr1_blocked());
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    /* sigsetjmp saving the mask: siglongjmp restores it */
    r = sigsetjmp(senv, 1);
    if (r == 0) {
        sigprocmask(SIG_BLOCK, &set, NULL);
        printf("savemask 1: blocked before jump: %d\n", usr1_blocked());
        sig_out(0);
    }
    printf("savemask 1: returned %d, SIGUSR1 blocked after jump: %d\n", r, usr1_blocked());
    return 0;
}
