/*
 * glibc's malloc as consentd wants it: without the per-thread cache of
 * freed chunks (tcache).
 *
 * Each thread's tcache keeps up to 7 freed chunks of every small size for
 * itself. After a burst of connections those chunks lie scattered over the
 * thread's arena, and every page that holds one stays resident, where a
 * heap trim would otherwise give it back: resident memory that rises with
 * each reconnect although the heap in use does not (docs/security.md,
 * "Where a reconnect's memory goes"). Without it, memory levels off after
 * the first few bursts, 1 MB or more lower, and neither tokens/s nor CPU
 * per token moved measurably (docs/performance.md).
 *
 * glibc reads its tunables from GLIBC_TUNABLES when a program starts, and
 * a running program cannot change them. So consentd, started without the
 * setting, starts itself again at once (execv of /proc/self/exe, same
 * process, same arguments and descriptors) with
 * glibc.malloc.tcache_count=0 added to GLIBC_TUNABLES. A tcache_count the
 * environment already sets is kept as it is: that is also how to run
 * consentd with glibc's default (GLIBC_TUNABLES=glibc.malloc.tcache_count=7).
 * Under valgrind (which replaces malloc, and whose tools an exec would
 * leave) nothing is done.
 */
#ifndef CB_MALLOC_TUNE_H
#define CB_MALLOC_TUNE_H

#include <stddef.h>

/*
 * Call first thing in main(), with main's argv. Returns only when it did
 * not restart the program: 0 when the setting is in effect or was chosen
 * by the environment, -1 when it could not be applied (consentd runs on
 * with glibc's default; why is in err).
 */
int malloc_tune(char **argv, char *err, size_t errlen);

/* malloc_tune, restarting as exe instead of /proc/self/exe (for tests of
 * a restart that cannot be made). */
int malloc_tune_exe(const char *exe, char **argv, char *err,
    size_t errlen);

/* The tcache_count in effect as GLIBC_TUNABLES states it, or -1 (glibc's
 * default, 7). For the start-up log line. */
int malloc_tune_tcache(void);

#endif
