/*
 * args: checks the initial process stack the kernel builds for a new
 * program: argc, the argv and envp arrays, and the ELF auxiliary vector that
 * follows envp's terminating NULL. It walks the auxv by hand (not with
 * getauxval) to show where it lives, and prints only facts that are the same
 * on every run: the page size, that AT_UID/AT_EUID/AT_GID/AT_EGID agree with
 * getuid() and friends, AT_SECURE, that AT_RANDOM points to 16 readable
 * bytes, the basename of AT_EXECFN, and that AT_PHDR/AT_PHNUM/AT_ENTRY agree
 * with the program's own ELF header, found in memory through AT_PHDR. No
 * address is printed: they differ between kernels (and runs, with ASLR).
 *
 * Usage: args [ARG...]     (prints its arguments and environment in order)
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The auxv values, indexed by AT_* type; have[t] says whether t was there. */
#define NAUX 64
static uint32_t aux[NAUX];
static int have[NAUX];

/* Return the last path component of s. */
static const char *base(const char *s)
{
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

/* Record the auxv that follows envp's NULL. */
static void read_auxv(char **envp)
{
    char **p = envp;
    Elf32_auxv_t *av;

    while (*p)
        p++;
    for (av = (Elf32_auxv_t *)(p + 1); av->a_type != AT_NULL; av++) {
        if (av->a_type < NAUX) {
            aux[av->a_type] = av->a_un.a_val;
            have[av->a_type] = 1;
        }
    }
}

/* Print whether the id entry of type t is present and equals want. */
static int id_ok(int t, const char *name, unsigned want)
{
    if (!have[t]) {
        printf("%s missing\n", name);
        return 0;
    }
    if (aux[t] != want) {
        printf("%s is %u, but the id call says %u\n", name, aux[t], want);
        return 0;
    }
    return 1;
}

/* Check AT_PHDR, AT_PHNUM and AT_ENTRY against the ELF header in memory. */
static void check_phdr(void)
{
    const Elf32_Phdr *ph;
    const Elf32_Ehdr *eh = NULL;
    uint32_t bias;
    int i, n;

    if (!have[AT_PHDR] || !have[AT_PHNUM] || !have[AT_ENTRY]) {
        printf("phdr: AT_PHDR %s, AT_PHNUM %s, AT_ENTRY %s\n",
               have[AT_PHDR] ? "present" : "missing",
               have[AT_PHNUM] ? "present" : "missing",
               have[AT_ENTRY] ? "present" : "missing");
        return;
    }
    ph = (const Elf32_Phdr *)aux[AT_PHDR];
    n = aux[AT_PHNUM];
    printf("phdr present, phnum %d\n", n);

    /*
     * The ELF header is the start of the PT_LOAD segment at file offset 0.
     * Its e_phoff says where the table is in that segment; AT_PHDR says
     * where it is in memory. The difference is the load bias (0 for the
     * ET_EXEC that gcc -static makes).
     */
    for (i = 0; i < n; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            /* The header sits at the first page of the segment. */
            uint32_t pg = aux[AT_PAGESZ] ? aux[AT_PAGESZ] : 4096;
            eh = (const Elf32_Ehdr *)(aux[AT_PHDR] & ~(pg - 1));
            break;
        }
    }
    if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
        printf("phdr: no ELF header found before the program headers\n");
        return;
    }
    bias = aux[AT_PHDR] - ((uint32_t)ph[i].p_vaddr + eh->e_phoff);
    printf("elf type %s, load bias %s\n",
           eh->e_type == ET_EXEC ? "ET_EXEC" : eh->e_type == ET_DYN ? "ET_DYN" : "other",
           bias == 0 ? "0" : "nonzero");
    printf("phnum %s\n", eh->e_phnum == n ? "ok" : "differs from e_phnum");
    printf("phdr %s\n", (uint32_t)eh + eh->e_phoff == aux[AT_PHDR] ? "ok" : "differs from e_phoff");
    printf("entry %s\n", eh->e_entry + bias == aux[AT_ENTRY] ? "ok" : "differs from e_entry");
}

int main(int argc, char **argv, char **envp)
{
    int i, ok;

    printf("argc %d\n", argc);
    for (i = 0; i < argc; i++)
        printf("argv[%d] \"%s\"\n", i, argv[i]);
    if (argv[argc] != NULL)
        printf("argv[argc] is not NULL\n");
    for (i = 0; envp[i]; i++)
        printf("envp[%d] \"%s\"\n", i, envp[i]);
    printf("envc %d\n", i);

    read_auxv(envp);

    if (have[AT_PAGESZ])
        printf("pagesz %u\n", aux[AT_PAGESZ]);
    else
        printf("pagesz missing\n");

    ok = id_ok(AT_UID, "AT_UID", getuid());
    ok &= id_ok(AT_EUID, "AT_EUID", geteuid());
    ok &= id_ok(AT_GID, "AT_GID", getgid());
    ok &= id_ok(AT_EGID, "AT_EGID", getegid());
    if (ok)
        printf("uid ok\n");

    if (have[AT_SECURE])
        printf("secure %u\n", aux[AT_SECURE]);
    else
        printf("secure missing\n");

    if (have[AT_RANDOM]) {
        /* Read the 16 bytes (a bad pointer faults here); never print them. */
        const volatile unsigned char *r = (const unsigned char *)aux[AT_RANDOM];
        unsigned sum = 0;
        for (i = 0; i < 16; i++)
            sum += r[i];
        (void)sum;
        printf("random ok\n");
    } else {
        printf("random missing\n");
    }

    if (have[AT_EXECFN])
        printf("execfn %s\n", base((const char *)aux[AT_EXECFN]));
    else
        printf("execfn missing\n");

    check_phdr();
    return 0;
}
