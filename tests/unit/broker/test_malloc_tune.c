/*
 * Unit tests for consentd's malloc setting (broker/malloc_tune.c): how
 * GLIBC_TUNABLES is read, and every case in which malloc_tune returns
 * without starting the program again (a tcache_count the environment
 * chose, valgrind, the restarted program itself). The restart itself is
 * tested on a real consentd (tests/integration/test_basics.c).
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

/* Never run: every call here must return before it would exec. */
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
	(void)state;
	tunable(NULL);
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("glibc.malloc.tcache_count=0");
	assert_int_equal(malloc_tune_tcache(), 0);
	tunable("glibc.malloc.check=0:glibc.malloc.tcache_count=12:"
	    "glibc.malloc.trim_threshold=1");
	assert_int_equal(malloc_tune_tcache(), 12);
	tunable("glibc.malloc.trim_threshold=1:glibc.malloc.tcache_count=7");
	assert_int_equal(malloc_tune_tcache(), 7);
	tunable("glibc.malloc.tcache_count=65535");
	assert_int_equal(malloc_tune_tcache(), 65535);
	/* Not the tunable, or not a value glibc takes. */
	tunable("glibc.malloc.tcache_counts=3");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("xglibc.malloc.tcache_count=3");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("glibc.malloc.tcache_count=");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("glibc.malloc.tcache_count=3x");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("glibc.malloc.tcache_count=-1");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("glibc.malloc.tcache_count=65536");
	assert_int_equal(malloc_tune_tcache(), -1);
	tunable("");
	assert_int_equal(malloc_tune_tcache(), -1);
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
	};

	return cmocka_run_group_tests_name("broker/malloc_tune", tests, NULL,
	    NULL);
}
