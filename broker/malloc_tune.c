/* glibc's malloc without the per-thread cache (malloc_tune.h). */
#include "malloc_tune.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TUNABLE "glibc.malloc.tcache_count"
/* Set in the restarted program's environment, so that it never restarts
 * again (were glibc to drop GLIBC_TUNABLES, it would otherwise loop). */
#define RESTARTED "CONSENTD_MALLOC_RESTARTED"

/*
 * TUNABLE's value in a GLIBC_TUNABLES string (name=value pairs separated
 * by ':'): 0 to 65535, -1 when absent, -2 when present but not a number
 * glibc would take.
 */
static int
tcache_in(const char *t)
{
	size_t n = strlen(TUNABLE);
	const char *p = t;
	char *end;
	long v;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, TUNABLE, n) == 0 && p[n] == '=') {
			errno = 0;
			v = strtol(p + n + 1, &end, 10);
			if (end == p + n + 1 || (*end != ':' && *end != '\0') ||
			    errno != 0 || v < 0 || v > 65535)
				return -2;
			return (int)v;
		}
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	return -1;
}

int
malloc_tune_tcache(void)
{
	const char *t = getenv("GLIBC_TUNABLES");
	int v = t != NULL ? tcache_in(t) : -1;

	return v >= 0 ? v : -1;
}

int
malloc_tune(char **argv, char *err, size_t errlen)
{
	return malloc_tune_exe("/proc/self/exe", argv, err, errlen);
}

int
malloc_tune_exe(const char *exe, char **argv, char *err, size_t errlen)
{
	const char *t = getenv("GLIBC_TUNABLES");
	const char *pre = getenv("LD_PRELOAD");
	char *old = NULL, *v;
	size_t len;
	int e;

	if (getenv(RESTARTED) != NULL) {
		(void)unsetenv(RESTARTED);
		if (malloc_tune_tcache() != 0) {
			snprintf(err, errlen, "restarted with %s=0, but glibc "
			    "did not keep it", TUNABLE);
			return -1;
		}
		return 0;
	}
	/* Chosen by the environment, or under valgrind. */
	if ((t != NULL && tcache_in(t) != -1) ||
	    (pre != NULL && strstr(pre, "vgpreload") != NULL))
		return 0;
	if (t != NULL && (old = strdup(t)) == NULL)
		goto fail;
	len = (old != NULL ? strlen(old) + 1 : 0) + sizeof(TUNABLE "=0");
	if ((v = malloc(len)) == NULL)
		goto fail;
	snprintf(v, len, "%s%s" TUNABLE "=0", old != NULL ? old : "",
	    old != NULL && old[0] != '\0' ? ":" : "");
	if (setenv("GLIBC_TUNABLES", v, 1) != 0 ||
	    setenv(RESTARTED, "1", 1) != 0) {
		free(v);
		goto fail;
	}
	free(v);
	(void)execv(exe, argv);
fail:
	e = errno;
	/* Still this program: put the environment back. */
	(void)unsetenv(RESTARTED);
	if (old != NULL)
		(void)setenv("GLIBC_TUNABLES", old, 1);
	else
		(void)unsetenv("GLIBC_TUNABLES");
	free(old);
	snprintf(err, errlen, "cannot restart with %s=0 (%s); glibc's "
	    "default stays", TUNABLE, strerror(e));
	return -1;
}
