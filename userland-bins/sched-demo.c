/*
 * sched-demo: preemption. A teaching demo for vxos (docs/TOUR.md,
 * "Scheduling and preemption"): it reads vcpu and the context switch
 * counts of /proc/self/status (voluntary_ctxt_switches,
 * nonvoluntary_ctxt_switches; vcpu is vxos's, n/a natively).
 *
 * Two children spin for SECONDS (default 0.3) each while a third sleeps
 * ten times. Run with `--cpus 1`, the spinners share one vCPU: the tick
 * stops each when the other waits to run, so they gather nonvoluntary
 * switches (preemptions); the sleeper gathers voluntary ones (it gave the
 * vCPU up itself each time it slept).
 *
 * Usage: sched-demo [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void report(const char *who)
{
    printf("%-8s vcpu %ld, voluntary_ctxt_switches %ld, nonvoluntary_ctxt_switches %ld\n", who,
           status_field("vcpu"), status_field("voluntary_ctxt_switches"),
           status_field("nonvoluntary_ctxt_switches"));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    printf("sched-demo: two spinners for %.1f s each and a sleeper; with one vCPU the spinners are preempted.\n",
           secs);
    fflush(stdout);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            if (k == 2) {
                for (int i = 0; i < 10; i++) {
                    struct timespec t = {0, 10 * 1000 * 1000};
                    nanosleep(&t, NULL);
                }
                report("sleeper");
            } else {
                volatile unsigned long x = 0;
                double end = now() + secs;
                while (now() < end)
                    for (int i = 0; i < 100000; i++)
                        x += i;
                report(k == 0 ? "spinner1" : "spinner2");
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 3; k++)
        waitpid(kids[k], NULL, 0);
    printf("  nonvoluntary: the tick took the vCPU away; voluntary: the task slept and gave it up.\n");
    return 0;
}
