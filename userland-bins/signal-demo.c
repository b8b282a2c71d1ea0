/*
 * signal-demo: how a signal reaches a process. A teaching demo
 * (docs/TOUR.md, "Signals"); it runs the same natively and under vxos.
 *
 * A handler installed with SA_SIGINFO runs on the process's own stack
 * with the siginfo the kernel filled in; a blocked signal waits, pending
 * (SigPnd/ShdPnd in /proc/self/status), until it is unblocked; a child
 * killed by SIGTERM is reported to its parent by wait.
 *
 * Usage: signal-demo
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got, code, from_self;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got = sig;
    code = si->si_code;
    from_self = si->si_pid == getpid();
}

/* Return the hex value of line NAME of /proc/self/status, or 0. */
static unsigned long long status_hex(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long v = 0;
    size_t n = strlen(name);
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = strtoull(line + n + 1, NULL, 16);
    fclose(f);
    return v;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    printf("signal-demo: a handler, a blocked signal, and a child killed by a signal.\n");

    kill(getpid(), SIGUSR1);
    printf("1. kill(self, SIGUSR1): the handler ran with signo %d (SIGUSR1 is %d), si_code %s, si_pid %s\n", got,
           SIGUSR1, code == SI_USER ? "SI_USER" : "other", from_self ? "our own pid" : "another");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    got = 0;
    kill(getpid(), SIGUSR1);
    unsigned long long pend = status_hex("SigPnd") | status_hex("ShdPnd");
    printf("2. SIGUSR1 blocked and sent: handler ran? %s; pending in /proc/self/status? %s\n", got ? "yes" : "no",
           pend & (1ULL << (SIGUSR1 - 1)) ? "yes" : "no");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("   unblocked: handler ran? %s\n", got ? "yes" : "no");

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    printf("3. a child waiting in pause() got SIGTERM: wait says %s %d (SIGTERM is %d)\n",
           WIFSIGNALED(st) ? "killed by signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
           SIGTERM);
    return 0;
}
