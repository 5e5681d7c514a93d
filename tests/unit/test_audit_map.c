/*
 * Unit tests for the auditor's maps (client/audit.c): keys found again
 * with their values and refs after the arena and the slots have grown
 * many times over (past the size where huge pages are asked for, so the
 * arena is moved by mremap), new values zero although the records before
 * them were written all over, and an absent key absent. The tool's own
 * source is included with its main renamed, as bench/bench_audit.c does,
 * so these are the functions consent-audit runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define AUDIT_MAIN audit_main
#include "client/audit.c" /* NOLINT(bugprone-suspicious-include) */

/*
 * The binary is linked with -Wl,--wrap=mmap,--wrap=mremap (Makefile), so
 * that a test can make the next mapping fail as it does when memory runs
 * out.
 */
static int fail_mmap, fail_mremap;
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
void *__real_mremap(void *old, size_t on, size_t nn, int flags, ...);
void *__wrap_mremap(void *old, size_t on, size_t nn, int flags, ...);

void *
__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	if (fail_mmap) {
		fail_mmap = 0;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(a, n, prot, flags, fd, off);
}

void *
__wrap_mremap(void *old, size_t on, size_t nn, int flags, ...)
{
	if (fail_mremap) {
		fail_mremap = 0;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	/* blk_grow never passes MREMAP_FIXED, so there is no new address */
	return __real_mremap(old, on, nn, flags);
}

struct val {
	uint64_t a, b;
	unsigned char tail[40];
};

#define NKEYS 200000

/* Key i: 4 to 60 bytes, ending in i; keys of one length share all the
 * bytes before that. */
static size_t
key_of(unsigned i, unsigned char *k)
{
	size_t n = 4 + (size_t)(i * 7u % 57u), j;

	for (j = 0; j + 4 < n; j++)
		k[j] = (unsigned char)('a' + j % 26);
	memcpy(k + n - 4, &i, 4);
	return n;
}

static void
keys_grow_and_are_found_again(void **state)
{
	struct map m;
	unsigned char k[64];
	uint64_t *refs = calloc(NKEYS, sizeof(*refs));
	struct val *v;
	size_t n, kn;
	unsigned i, added = 0;
	int created;

	(void)state;
	assert_non_null(refs);
	map_init(&m, sizeof(struct val));
	for (i = 0; i < NKEYS; i++) {
		n = key_of(i, k);
		v = map_get(&m, k, n, 1, &refs[i], &created);
		assert_non_null(v);
		assert_int_equal(created, 1);
		/* fresh values are zero, though every value before was
		 * written over */
		assert_int_equal(v->a, 0);
		assert_int_equal(v->b, 0);
		assert_int_equal(v->tail[0] | v->tail[39], 0);
		v->a = i;
		v->b = ~(uint64_t)i;
		memset(v->tail, 0xa5, sizeof(v->tail));
		added++;
	}
	assert_int_equal(m.n, added);
	/* grown well past the huge-page size, in both parts */
	assert_true(m.used > 4 * BLK_HUGE);
	assert_true(m.nslots * sizeof(*m.slot) >= BLK_HUGE);
	for (i = 0; i < NKEYS; i++) {
		uint64_t ref = 0;
		const unsigned char *key;

		n = key_of(i, k);
		v = map_get(&m, k, n, 0, &ref, NULL);
		assert_non_null(v);
		assert_int_equal(ref, refs[i]);
		assert_int_equal(v->a, i);
		assert_int_equal(v->b, ~(uint64_t)i);
		assert_int_equal(v->tail[0], 0xa5);
		assert_int_equal(v->tail[39], 0xa5);
		assert_ptr_equal(map_val(&m, ref), v);
		key = map_key(&m, ref, &kn);
		assert_int_equal(kn, n);
		assert_memory_equal(key, k, n);
		/* finding it again adds nothing */
		assert_ptr_equal(map_get(&m, k, n, 1, NULL, &created), v);
		assert_int_equal(created, 0);
	}
	assert_int_equal(m.n, added);
	/* a key never added: absent, and not added by a lookup */
	assert_null(map_get(&m, "no such key", 11, 0, NULL, NULL));
	assert_int_equal(m.n, added);
	map_free(&m);
	free(refs);
}

/* The empty key is a key like any other. */
static void
empty_key(void **state)
{
	struct map m;
	uint64_t ref = 99;
	uint32_t *v;

	(void)state;
	map_init(&m, sizeof(uint32_t));
	assert_null(map_get(&m, "", 0, 0, NULL, NULL));
	v = map_get(&m, "", 0, 1, &ref, NULL);
	assert_non_null(v);
	assert_int_equal(ref, 0);
	*v = 7;
	assert_non_null(map_get(&m, "x", 1, 1, NULL, NULL));
	v = map_get(&m, "", 0, 0, NULL, NULL);
	assert_non_null(v);
	assert_int_equal(*v, 7);
	map_free(&m);
	/* freed maps are empty and may be used again */
	assert_int_equal(m.n, 0);
	assert_null(m.arena);
	map_free(&m);
}

/*
 * Out of memory as the arena or the slots grow: the lookup that needed
 * them fails and adds nothing, and the map keeps every key it had, and
 * grows again once memory is back.
 */
static void
growth_that_fails_loses_nothing(void **state)
{
	struct map m;
	unsigned char k[64];
	size_t n, cap, nslots;
	unsigned i, have = 0, kinds;
	struct val *v;

	(void)state;
	map_init(&m, sizeof(struct val));
	/* a first key: from here on the arena grows by mremap */
	n = key_of(have, k);
	assert_non_null(map_get(&m, k, n, 1, NULL, NULL));
	have++;
	for (kinds = 0; kinds < 2; kinds++) {
		/* add keys until the next one needs the part to grow */
		for (;;) {
			n = key_of(have, k);
			if (kinds == 0 ? m.used + rec_size(&m, n) > m.cap :
			    (m.n + 1) * 2 > m.nslots)
				break;
			v = map_get(&m, k, n, 1, NULL, NULL);
			assert_non_null(v);
			v->a = have++;
		}
		/* the other part must not need to grow first */
		assert_true(kinds == 1 || (m.n + 1) * 2 <= m.nslots);
		cap = m.cap;
		nslots = m.nslots;
		if (kinds == 0)
			fail_mremap = 1;    /* the arena grows by mremap */
		else
			fail_mmap = 1;      /* new slots are a new mapping */
		assert_null(map_get(&m, k, n, 1, NULL, NULL));
		assert_int_equal(fail_mmap + fail_mremap, 0);  /* was hit */
		assert_int_equal(m.n, have);
		assert_int_equal(m.cap, cap);
		assert_int_equal(m.nslots, nslots);
		assert_null(map_get(&m, k, n, 0, NULL, NULL));
		for (i = 0; i < have; i++) {
			n = key_of(i, k);
			v = map_get(&m, k, n, 0, NULL, NULL);
			assert_non_null(v);
			assert_int_equal(v->a, i);
		}
		/* memory back: the same key goes in */
		n = key_of(have, k);
		v = map_get(&m, k, n, 1, NULL, NULL);
		assert_non_null(v);
		v->a = have++;
		assert_true(m.cap > cap || m.nslots > nslots);
	}
	map_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_grow_and_are_found_again),
		cmocka_unit_test(empty_key),
		cmocka_unit_test(growth_that_fails_loses_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
