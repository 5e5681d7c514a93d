/*
 * Unit tests for common/rndpool: bytes come from the DRBG a block at a time,
 * each handed out once, per thread, and a failing DRBG fails the call.
 * OpenSSL's RAND_METHOD hook (deprecated, still honoured by RAND_bytes in
 * OpenSSL 3) stands in for the DRBG with a counter, so that every byte
 * handed out can be traced to the draw it came from.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "rndpool.h"

/* The stand-in DRBG: byte k of its stream is a 32-bit counter's byte. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_word;      /* guarded by mu */
static int calls, failing;      /* guarded by mu */

static int
counting_bytes(unsigned char *buf, int num)
{
	int i, rc = 1;

	pthread_mutex_lock(&mu);
	calls++;
	if (failing)
		rc = 0;
	else
		for (i = 0; i + 4 <= num; i += 4) {
			memcpy(buf + i, &next_word, 4);
			next_word++;
		}
	pthread_mutex_unlock(&mu);
	return rc;
}

static int
counting_status(void)
{
	return 1;
}

static const RAND_METHOD counting = {
	.bytes = counting_bytes,
	.status = counting_status,
};

/* Leaves the calling thread's buffer exactly empty: draws until a new
 * block comes, then takes the rest of that block. */
static void
empty_pool(void)
{
	uint32_t w;
	int c0 = calls, failed0 = failing;
	size_t i;

	failing = 0;
	while (calls == c0)
		assert_int_equal(rndpool_bytes(&w, 4), 0);
	for (i = 1; i < RNDPOOL_BLOCK / 4; i++)
		assert_int_equal(rndpool_bytes(&w, 4), 0);
	failing = failed0;
}

static int
setup(void **state)
{
	(void)state;
	next_word = 1;
	calls = failing = 0;
	return RAND_set_rand_method(&counting) == 1 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	/* Leave nothing of this test's stream in the thread's buffer. */
	empty_pool();
	RAND_set_rand_method(NULL);
	return 0;
}

/* 4-byte draws: words of the stand-in stream, in order, each once. */
static void
one_draw_of_the_drbg_serves_a_block_of_ids(void **state)
{
	uint32_t w, prev = 0;
	int c0;
	size_t i;

	(void)state;
	empty_pool();
	c0 = calls;
	for (i = 0; i < 3 * RNDPOOL_BLOCK / 4; i++) {
		assert_int_equal(rndpool_bytes(&w, 4), 0);
		assert_true(w > prev);    /* never handed out twice */
		if (i % (RNDPOOL_BLOCK / 4) != 0)
			assert_int_equal(w, prev + 1);
		prev = w;
	}
	assert_int_equal(calls - c0, 3);
}

/* A request longer than what is left draws a new block: the rest of the
 * old one is dropped, never spliced onto the new. */
static void
a_short_remainder_is_dropped_not_spliced(void **state)
{
	unsigned char a[12], b[12];
	uint32_t w0, w1;
	int c0;
	size_t i;

	(void)state;
	empty_pool();
	c0 = calls;
	/* 21 ids of 12 bytes use 252 bytes of one block... */
	for (i = 0; i < RNDPOOL_BLOCK / 12; i++)
		assert_int_equal(rndpool_bytes(a, sizeof(a)), 0);
	assert_int_equal(calls - c0, 1);
	/* ...the 22nd comes whole from the next block. */
	assert_int_equal(rndpool_bytes(b, sizeof(b)), 0);
	assert_int_equal(calls - c0, 2);
	memcpy(&w0, a + 8, 4);
	memcpy(&w1, b, 4);
	assert_int_equal(w1, w0 + 2);  /* one word of the old block unused */
}

static void
large_requests_go_to_the_drbg_directly(void **state)
{
	unsigned char big[RNDPOOL_MAX + 4];
	uint32_t w;
	int c0;

	(void)state;
	empty_pool();
	assert_int_equal(rndpool_bytes(&w, 4), 0);
	c0 = calls;
	assert_int_equal(rndpool_bytes(big, sizeof(big)), 0);
	assert_int_equal(calls - c0, 1);
	assert_int_equal(rndpool_bytes(big, 0), 0);
	assert_int_equal(calls - c0, 1);
}

/* A failing DRBG fails the call and leaves nothing to hand out; the next
 * call, once it works again, draws afresh. */
static void
a_failing_drbg_fails_the_call(void **state)
{
	unsigned char id[12];
	uint32_t w;

	(void)state;
	empty_pool();
	failing = 1;
	assert_int_equal(rndpool_bytes(id, sizeof(id)), -1);
	assert_int_equal(rndpool_bytes(id, sizeof(id)), -1);
	failing = 0;
	assert_int_equal(rndpool_bytes(&w, 4), 0);
	assert_int_equal(w, next_word - RNDPOOL_BLOCK / 4);  /* a new block */
}

#define NTHREADS 4
#define PER_THREAD 200

static void *
drawer(void *arg)
{
	uint32_t *out = arg;
	size_t i;

	for (i = 0; i < PER_THREAD; i++)
		if (rndpool_bytes(&out[i], 4) != 0)
			out[i] = 0;
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Each thread has its own buffer: no word reaches two threads. */
static void
threads_never_share_a_byte(void **state)
{
	static uint32_t got[NTHREADS * PER_THREAD];
	pthread_t t[NTHREADS];
	size_t i;

	(void)state;
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, drawer,
		    got + i * PER_THREAD), 0);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	qsort(got, NTHREADS * PER_THREAD, sizeof(got[0]), cmp_u32);
	assert_true(got[0] != 0);
	for (i = 1; i < NTHREADS * PER_THREAD; i++)
		assert_true(got[i] != got[i - 1]);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(one_draw_of_the_drbg_serves_a_block_of_ids),
		T(a_short_remainder_is_dropped_not_spliced),
		T(large_requests_go_to_the_drbg_directly),
		T(a_failing_drbg_fails_the_call),
		T(threads_never_share_a_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
