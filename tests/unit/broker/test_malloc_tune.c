/*
 * Unit tests for consentd's malloc setting (broker/malloc_tune.c): how
 * GLIBC_TUNABLES is read, every case in which malloc_tune returns
 * without starting the program again (a tcache_count the environment
 * chose, valgrind, the restarted program itself), and a restart that
 * fails. The restart itself is tested on a real consentd
 * (tests/integration/test_basics.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "malloc_tune.h"

#define RESTARTED "CONSENTD_MALLOC_RESTARTED"

/* No such program: every malloc_tune call here must return before it
 * would exec; malloc_tune_exe's exec of it fails. */
static char no_arg0[] = "/nonexistent/consentd-must-not-restart";
static char *no_argv[] = { no_arg0, NULL };

static char *saved_preload;

static int
setup(void **state)
{
	const char *p = getenv("LD_PRELOAD");

	(void)state;
	saved_preload = p != NULL ? strdup(p) : NULL;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unsetenv("GLIBC_TUNABLES");
	unsetenv(RESTARTED);
	if (saved_preload != NULL)
		setenv("LD_PRELOAD", saved_preload, 1);
	free(saved_preload);
	saved_preload = NULL;
	return 0;
}

static void
tunable(const char *v)
{
	if (v == NULL)
		assert_int_equal(unsetenv("GLIBC_TUNABLES"), 0);
	else
		assert_int_equal(setenv("GLIBC_TUNABLES", v, 1), 0);
}

static void
tcache_count_is_read_from_any_position_and_only_when_well_formed(
    void **state)
{
	static const struct {
		const char *tunables;   /* NULL: unset */
		int tcache;
	} cases[] = {
		{ NULL, -1 },
		{ "glibc.malloc.tcache_count=0", 0 },
		{ "glibc.malloc.check=0:glibc.malloc.tcache_count=12:"
		    "glibc.malloc.trim_threshold=1", 12 },
		{ "glibc.malloc.trim_threshold=1:glibc.malloc.tcache_count=7", 7 },
		{ "glibc.malloc.tcache_count=65535", 65535 },
		/* Not the tunable, or not a value glibc takes. */
		{ "glibc.malloc.tcache_counts=3", -1 },
		{ "xglibc.malloc.tcache_count=3", -1 },
		{ "glibc.malloc.tcache_count=", -1 },
		{ "glibc.malloc.tcache_count=3x", -1 },
		{ "glibc.malloc.tcache_count=-1", -1 },
		{ "glibc.malloc.tcache_count=65536", -1 },
		{ "", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tunable(cases[i].tunables);
		if (malloc_tune_tcache() != cases[i].tcache)
			fail_msg("GLIBC_TUNABLES=%s: tcache %d, expected %d",
			    cases[i].tunables != NULL ? cases[i].tunables :
			    "(unset)", malloc_tune_tcache(), cases[i].tcache);
	}
}

static void
a_tcache_count_the_environment_sets_is_kept(void **state)
{
	char err[256] = "";

	(void)state;
	tunable("glibc.malloc.tcache_count=7");
	assert_int_equal(malloc_tune(no_argv, err, sizeof(err)), 0);
	assert_string_equal(getenv("GLIBC_TUNABLES"),
	    "glibc.malloc.tcache_count=7");
	assert_null(getenv(RESTARTED));
	/* Even one glibc would not take: the operator's to fix. */
	tunable("glibc.malloc.tcache_count=lots");
	assert_int_equal(malloc_tune(no_argv, err, sizeof(err)), 0);
	assert_string_equal(getenv("GLIBC_TUNABLES"),
	    "glibc.malloc.tcache_count=lots");
	assert_string_equal(err, "");
}

static void
under_valgrind_nothing_is_done(void **state)
{
	char err[256] = "";

	(void)state;
	tunable(NULL);
	assert_int_equal(setenv("LD_PRELOAD", "/usr/libexec/valgrind/"
	    "vgpreload_core-amd64-linux.so", 1), 0);
	assert_int_equal(malloc_tune(no_argv, err, sizeof(err)), 0);
	assert_null(getenv("GLIBC_TUNABLES"));
	assert_null(getenv(RESTARTED));
	assert_string_equal(err, "");
}

static void
the_restarted_program_clears_the_marker_and_checks_the_setting(
    void **state)
{
	char err[256] = "";

	(void)state;
	tunable("glibc.malloc.tcache_count=0");
	assert_int_equal(setenv(RESTARTED, "1", 1), 0);
	assert_int_equal(malloc_tune(no_argv, err, sizeof(err)), 0);
	assert_null(getenv(RESTARTED));
	assert_string_equal(err, "");
	/* Restarted, but the setting did not arrive: it says so and does
	 * not restart again. */
	tunable(NULL);
	assert_int_equal(setenv(RESTARTED, "1", 1), 0);
	assert_int_equal(malloc_tune(no_argv, err, sizeof(err)), -1);
	assert_null(getenv(RESTARTED));
	assert_non_null(strstr(err, "did not keep it"));
}

/* A restart that cannot be made (here: no such program) says why and
 * leaves the environment as it found it. */
static void
a_failed_restart_leaves_the_environment_as_it_was(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(unsetenv("LD_PRELOAD"), 0);
	tunable("glibc.malloc.trim_threshold=262144");
	assert_int_equal(malloc_tune_exe(no_arg0, no_argv, err, sizeof(err)),
	    -1);
	assert_string_equal(getenv("GLIBC_TUNABLES"),
	    "glibc.malloc.trim_threshold=262144");
	assert_null(getenv(RESTARTED));
	assert_non_null(strstr(err, "cannot restart"));
	assert_non_null(strstr(err, "No such file"));
	tunable(NULL);
	assert_int_equal(malloc_tune_exe(no_arg0, no_argv, err, sizeof(err)),
	    -1);
	assert_null(getenv("GLIBC_TUNABLES"));
	assert_null(getenv(RESTARTED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    tcache_count_is_read_from_any_position_and_only_when_well_formed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_tcache_count_the_environment_sets_is_kept, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(under_valgrind_nothing_is_done,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    the_restarted_program_clears_the_marker_and_checks_the_setting,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_failed_restart_leaves_the_environment_as_it_was, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("broker/malloc_tune", tests, NULL,
	    NULL);
}
