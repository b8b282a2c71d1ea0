/*
 * tls: thread-local storage through %gs. glibc's start-up code allocates the
 * static TLS block, asks the kernel for a GDT slot with set_thread_area and
 * loads its selector into %gs; every __thread access is then a %gs-relative
 * load or store, and %gs:0 holds the thread pointer itself. The program
 * reads and writes initialised (.tdata) and zero-initialised (.tbss)
 * variables, does address arithmetic on them, and checks that &x computed
 * through %gs:0 and the %gs:x access agree. It is built with
 * -fstack-protector-all, so every function also reads the stack canary from
 * %gs:0x14 on entry and compares it on return. The offsets printed are fixed
 * by the linker, not by the run.
 *
 * Usage: tls
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static __thread int counter = 42;
static __thread long long big = 0x0123456789abcdefLL;
static __thread char name[16] = "tdata";
static __thread double ratio = 2.5;
static __thread int zeroed[100];        /* .tbss */
static __thread char *ptr;              /* .tbss */

/* Return the thread pointer: the first word of the TCB points to itself. */
static uintptr_t thread_pointer(void)
{
    uintptr_t tp;
    __asm__("movl %%gs:0, %0" : "=r"(tp));
    return tp;
}

/* Read counter with an explicit %gs-relative load, as the compiler does. */
static int counter_via_gs(void)
{
    int v;
    __asm__("movl %%gs:counter@ntpoff, %0" : "=r"(v));
    return v;
}

/* Recurse with a buffer in each frame, so each return checks the canary. */
static int deep(int n)
{
    char buf[32];

    snprintf(buf, sizeof buf, "frame %d", n);
    zeroed[n % 100] += n;
    return n == 0 ? (int)strlen(buf) : deep(n - 1) + (int)strlen(buf);
}

int main(void)
{
    uintptr_t tp = thread_pointer();
    uintptr_t canary;
    unsigned short gs;
    int i, sum;

    __asm__("movw %%gs, %0" : "=r"(gs));
    __asm__("movl %%gs:0x14, %0" : "=r"(canary));
    printf("gs selector %#x (GDT entry %d)\n", gs, gs >> 3);
    printf("canary low byte zero: %s, nonzero: %s\n",
           (canary & 0xff) == 0 ? "yes" : "no", canary != 0 ? "yes" : "no");

    printf("counter %d big %016llx name \"%s\" ratio %g\n", counter, big, name, ratio);
    printf("offsets from tp: counter %d big %d name %d zeroed %d ptr %d\n",
           (int)((uintptr_t)&counter - tp), (int)((uintptr_t)&big - tp),
           (int)((uintptr_t)&name - tp), (int)((uintptr_t)&zeroed - tp),
           (int)((uintptr_t)&ptr - tp));

    sum = 0;
    for (i = 0; i < 100; i++)
        sum |= zeroed[i];
    printf("zeroed all zero: %s, ptr %s\n", sum == 0 ? "yes" : "no", ptr ? "set" : "NULL");

    counter += 58;
    big = ~big;
    strcpy(name, "changed");
    ratio *= ratio;
    ptr = &name[3];
    for (i = 0; i < 100; i++)
        zeroed[i] = i * i;
    printf("counter %d big %016llx name \"%s\" ratio %g *ptr '%c'\n", counter, big, name,
           ratio, *ptr);
    printf("counter via %%gs: %d\n", counter_via_gs());
    printf("&zeroed[99] - &zeroed[0] = %d, zeroed[7] = %d\n", (int)(&zeroed[99] - &zeroed[0]),
           *(zeroed + 7));
    printf("ptr - name = %d\n", (int)(ptr - name));

    printf("deep(50) = %d\n", deep(50));
    printf("zeroed[10] = %d\n", zeroed[10]);
    __asm__("movl %%gs:0x14, %0" : "=r"(tp));
    printf("canary unchanged: %s\n", tp == canary ? "yes" : "no");
    return 0;
}
