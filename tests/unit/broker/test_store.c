/*
 * Unit tests for the store (broker/store.c, broker/store_lmdb.c) and the
 * group-committing writer thread (broker/writer.c), on temporary LMDB
 * directories.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "store.h"
#include "tmpstore.h"
#include "writer.h"

#define ERRLEN 512
#define MAP_SMALL ((size_t)16 << 20)
#define MAP_TINY ((size_t)1 << 20)   /* for running out of space quickly */

struct fx {
	char dir[64];
	struct store *s;
};

static struct store *
open_at(const char *dir, size_t map_bytes, int create)
{
	char err[ERRLEN] = "";
	struct store *s = store_open_lmdb(dir, map_bytes, create, err,
	    sizeof(err));

	if (s == NULL)
		fail_msg("store_open_lmdb(%s): %s", dir, err);
	return s;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cb-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->s = open_at(f->dir, MAP_SMALL, 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tmpstore_close(f->dir, f->s);
	free(f);
	return 0;
}

static json_t *
num(long n)
{
	json_t *j = json_pack("{s:I}", "n", (json_int_t)n);

	assert_non_null(j);
	return j;
}

static long
num_of(const json_t *j)
{
	return (long)json_integer_value(json_object_get(j, "n"));
}

static void
put_num(struct store_txn *txn, enum store_table t, const char *key, long n)
{
	json_t *v = num(n);

	assert_int_equal(store_put(txn, t, key, v), STORE_OK);
	json_decref(v);
}

/* The number stored under key, or -1 when there is none. */
static long
get_num(struct store *s, enum store_table t, const char *key)
{
	struct store_txn *txn = NULL;
	json_t *v = NULL;
	enum store_err rc;
	long n = -1;

	assert_int_equal(store_begin(s, 0, &txn), STORE_OK);
	rc = store_get(txn, t, key, &v);
	if (rc == STORE_OK)
		n = num_of(v);
	else
		assert_int_equal(rc, STORE_NOTFOUND);
	json_decref(v);
	store_abort(txn);
	return n;
}

/* ---- basic operations ---- */

static void
put_get_del_round_trip(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	json_t *v = NULL;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	put_num(txn, ST_PARTIES, "ird", 1);
	assert_int_equal(store_get(txn, ST_PARTIES, "ird", &v), STORE_OK);
	assert_int_equal(num_of(v), 1);
	json_decref(v);
	put_num(txn, ST_PARTIES, "ird", 2);   /* replaces */
	/* Tables are separate. */
	assert_int_equal(store_get(txn, ST_PINS, "ird", &v), STORE_NOTFOUND);
	assert_null(v);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(get_num(f->s, ST_PARTIES, "ird"), 2);

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_del(txn, ST_PARTIES, "ird"), STORE_OK);
	assert_int_equal(store_del(txn, ST_PARTIES, "ird"), STORE_NOTFOUND);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(get_num(f->s, ST_PARTIES, "ird"), -1);
}

static void
put_new_refuses_existing_key(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	json_t *a = num(1), *b = num(2);

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_put_new(txn, ST_CONSENTS, "cns_1", a), STORE_OK);
	assert_int_equal(store_put_new(txn, ST_CONSENTS, "cns_1", b),
	    STORE_EXISTS);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(get_num(f->s, ST_CONSENTS, "cns_1"), 1);
	json_decref(a);
	json_decref(b);
}

static void
abort_discards_writes(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	put_num(txn, ST_META, "schema", 1);
	store_abort(txn);
	assert_int_equal(get_num(f->s, ST_META, "schema"), -1);
	store_abort(NULL);
}

static void
read_snapshot_refuses_writes(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL, *child = NULL;
	json_t *v = num(1);

	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(store_put(txn, ST_META, "k", v), STORE_IO);
	assert_int_equal(store_put_new(txn, ST_META, "k", v), STORE_IO);
	assert_int_equal(store_del(txn, ST_META, "k"), STORE_IO);
	assert_int_equal(store_begin_nested(txn, &child), STORE_IO);
	assert_int_equal(store_commit(txn), STORE_OK);   /* same as abort */
	json_decref(v);
}

static void
read_snapshot_does_not_see_later_commits(void **state)
{
	struct fx *f = *state;
	struct store_txn *r = NULL, *w = NULL;
	json_t *v = NULL;

	assert_int_equal(store_begin(f->s, 0, &r), STORE_OK);
	assert_int_equal(store_begin(f->s, 1, &w), STORE_OK);
	put_num(w, ST_TOKENS, "jti1", 5);
	assert_int_equal(store_commit(w), STORE_OK);
	assert_int_equal(store_get(r, ST_TOKENS, "jti1", &v), STORE_NOTFOUND);
	store_abort(r);
	assert_int_equal(get_num(f->s, ST_TOKENS, "jti1"), 5);
}

static void
bad_keys_are_refused(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	char big[STORE_MAX_KEY + 2];
	json_t *v = num(1), *out = NULL;

	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';   /* STORE_MAX_KEY + 1 bytes */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_put(txn, ST_META, "", v), STORE_BADKEY);
	assert_int_equal(store_put(txn, ST_META, big, v), STORE_BADKEY);
	assert_int_equal(store_get(txn, ST_META, big, &out), STORE_BADKEY);
	assert_int_equal(store_get(txn, ST_META, "", &out), STORE_BADKEY);
	assert_int_equal(store_del(txn, ST_META, big), STORE_BADKEY);
	big[STORE_MAX_KEY] = '\0';   /* exactly the maximum */
	assert_int_equal(store_put(txn, ST_META, big, v), STORE_OK);
	assert_int_equal(store_get(txn, ST_META, big, &out), STORE_OK);
	json_decref(out);
	store_abort(txn);
	json_decref(v);
}

static void
keys_with_control_chars_are_refused(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	json_t *v = num(1), *out = NULL;
	enum store_err rc[5];

	/* Keys are printable; only STORE_SEP may join their parts. */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	rc[0] = store_put(txn, ST_META, "a\nb", v);
	rc[1] = store_put(txn, ST_META, "a\x01", v);
	rc[2] = store_put(txn, ST_META, "\x7f", v);
	rc[3] = store_get(txn, ST_META, "a\tb", &out);
	rc[4] = store_put(txn, ST_META, "a" STORE_SEP "b", v);
	json_decref(out);
	store_abort(txn);
	json_decref(v);
	assert_int_equal(rc[0], STORE_BADKEY);
	assert_int_equal(rc[1], STORE_BADKEY);
	assert_int_equal(rc[2], STORE_BADKEY);
	assert_int_equal(rc[3], STORE_BADKEY);
	assert_int_equal(rc[4], STORE_OK);
}

static void
oversized_value_is_refused_and_not_written(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	char *big = malloc(STORE_MAX_VALUE + 1);
	json_t *v;

	assert_non_null(big);
	memset(big, 'v', STORE_MAX_VALUE);
	big[STORE_MAX_VALUE] = '\0';
	v = json_pack("{s:s}", "x", big);
	assert_non_null(v);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_not_equal(store_put(txn, ST_META, "big", v), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(get_num(f->s, ST_META, "big"), -1);
	json_decref(v);
	free(big);
}

static void
strerror_names_every_code(void **state)
{
	int e;

	(void)state;
	for (e = STORE_OK; e <= STORE_BADKEY; e++) {
		const char *m = store_strerror((enum store_err)e);

		assert_non_null(m);
		assert_string_not_equal(m, "unknown store error");
	}
	assert_string_equal(store_strerror(STORE_FULL), "store is full");
}

/* ---- keys ---- */

static void
key2_and_key3_join_with_separator(void **state)
{
	char k[STORE_MAX_KEY + 1];

	(void)state;
	assert_int_equal(store_key2(k, sizeof(k), "citizen-42", "agr"), 0);
	assert_string_equal(k, "citizen-42" STORE_SEP "agr");
	assert_int_equal(store_key3(k, sizeof(k), "s", "a", "cns_1"), 0);
	assert_string_equal(k, "s" STORE_SEP "a" STORE_SEP "cns_1");
	assert_int_equal(store_key2(k, sizeof(k), "J\xc4\x81ne Doe", "a"), 0);
}

static void
key_parts_with_control_chars_or_empty_are_refused(void **state)
{
	char k[STORE_MAX_KEY + 1];

	(void)state;
	assert_int_equal(store_key2(k, sizeof(k), "a" STORE_SEP "b", "c"), -1);
	assert_int_equal(store_key2(k, sizeof(k), "a", "b\n"), -1);
	assert_int_equal(store_key2(k, sizeof(k), "a\x7f", "b"), -1);
	assert_int_equal(store_key2(k, sizeof(k), "", "b"), -1);
	assert_int_equal(store_key2(k, sizeof(k), "a", ""), -1);
	assert_int_equal(store_key3(k, sizeof(k), "a", "b", "c\x1f"), -1);
	assert_int_equal(store_key3(k, sizeof(k), "a", "", "c"), -1);
	assert_int_equal(store_key3(k, sizeof(k), "\tb", "b", "c"), -1);
}

static void
overlong_keys_are_refused(void **state)
{
	char k[2 * STORE_MAX_KEY], a[STORE_MAX_KEY + 1];

	(void)state;
	memset(a, 'a', sizeof(a));
	a[STORE_MAX_KEY - 2] = '\0';   /* a SEP b: exactly the maximum */
	assert_int_equal(store_key2(k, sizeof(k), a, "b"), 0);
	assert_int_equal(strlen(k), STORE_MAX_KEY);
	a[STORE_MAX_KEY - 2] = 'a';
	a[STORE_MAX_KEY - 1] = '\0';   /* one byte over */
	assert_int_equal(store_key2(k, sizeof(k), a, "b"), -1);
	a[STORE_MAX_KEY - 1] = 'a';
	a[STORE_MAX_KEY - 4] = '\0';
	assert_int_equal(store_key3(k, sizeof(k), a, "b", "c"), 0);
	assert_int_equal(store_key3(k, sizeof(k), a, "bb", "c"), -1);
	/* The output buffer bounds it too. */
	assert_int_equal(store_key2(k, 5, "ab", "c"), 0);
	assert_int_equal(store_key2(k, 5, "ab", "cd"), -1);
}

/* ---- prefix scans ---- */

struct seen {
	char keys[16][64];
	long vals[16];
	size_t n;
	size_t stop_after;   /* 0: never stop */
};

static int
collect(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	assert_true(keylen < sizeof(s->keys[0]));
	memcpy(s->keys[s->n], key, keylen);
	s->keys[s->n][keylen] = '\0';
	s->vals[s->n] = num_of(value);
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after;
}

static void
fill_scan_table(struct fx *f)
{
	static const char *const keys[] = {
		"a", "s1" STORE_SEP "x", "s1" STORE_SEP "a" STORE_SEP "3",
		"s1" STORE_SEP "a" STORE_SEP "1", "s1" STORE_SEP "a" STORE_SEP "2",
		"s10" STORE_SEP "a" STORE_SEP "9", "s2" STORE_SEP "a", "z",
	};
	struct store_txn *txn = NULL;
	size_t i;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		put_num(txn, ST_CONSENT_INDEX, keys[i], (long)i);
	assert_int_equal(store_commit(txn), STORE_OK);
}

static void
scan(struct fx *f, const char *prefix, int reverse, size_t limit,
    struct seen *s)
{
	struct store_txn *txn = NULL;

	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(store_scan(txn, ST_CONSENT_INDEX, prefix, reverse,
	    limit, collect, s), STORE_OK);
	store_abort(txn);
}

static void
scan_forward_visits_prefix_in_key_order(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0 };

	fill_scan_table(f);
	scan(f, "s1" STORE_SEP "a" STORE_SEP, 0, 0, &s);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "s1" STORE_SEP "a" STORE_SEP "1");
	assert_string_equal(s.keys[1], "s1" STORE_SEP "a" STORE_SEP "2");
	assert_string_equal(s.keys[2], "s1" STORE_SEP "a" STORE_SEP "3");
	assert_int_equal(s.vals[0], 3);
	assert_int_equal(s.vals[2], 2);
	/* "s1" SEP does not reach into "s10". */
	memset(&s, 0, sizeof(s));
	scan(f, "s1" STORE_SEP, 0, 0, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.keys[3], "s1" STORE_SEP "x");
}

static void
scan_reverse_visits_prefix_backwards(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0 };

	fill_scan_table(f);
	scan(f, "s1" STORE_SEP, 1, 0, &s);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.keys[0], "s1" STORE_SEP "x");
	assert_string_equal(s.keys[1], "s1" STORE_SEP "a" STORE_SEP "3");
	assert_string_equal(s.keys[3], "s1" STORE_SEP "a" STORE_SEP "1");
	/* A prefix at the end of the table. */
	memset(&s, 0, sizeof(s));
	scan(f, "z", 1, 0, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "z");
}

static void
scan_with_empty_prefix_visits_everything(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0 };

	fill_scan_table(f);
	scan(f, "", 0, 0, &s);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.keys[0], "a");
	assert_string_equal(s.keys[7], "z");
	memset(&s, 0, sizeof(s));
	scan(f, "", 1, 0, &s);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.keys[0], "z");
	assert_string_equal(s.keys[7], "a");
}

static void
scan_stops_at_limit(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0 };

	fill_scan_table(f);
	scan(f, "s1" STORE_SEP, 0, 2, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[1], "s1" STORE_SEP "a" STORE_SEP "2");
	memset(&s, 0, sizeof(s));
	scan(f, "s1" STORE_SEP, 1, 1, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "s1" STORE_SEP "x");
	memset(&s, 0, sizeof(s));
	scan(f, "s1" STORE_SEP, 0, 100, &s);
	assert_int_equal(s.n, 4);
}

static void
scan_stops_when_callback_says_so(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0, .stop_after = 1 };

	fill_scan_table(f);
	scan(f, "s1" STORE_SEP, 1, 0, &s);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	scan(f, "", 0, 0, &s);
	assert_int_equal(s.n, 3);
}

static void
scan_of_absent_prefix_sees_nothing(void **state)
{
	struct fx *f = *state;
	struct seen s = { .n = 0 };

	fill_scan_table(f);
	scan(f, "m", 0, 0, &s);
	assert_int_equal(s.n, 0);
	scan(f, "m", 1, 0, &s);
	assert_int_equal(s.n, 0);
	scan(f, "zz", 1, 0, &s);
	assert_int_equal(s.n, 0);
	scan(f, "0", 1, 0, &s);
	assert_int_equal(s.n, 0);
}

/* ---- nested transactions ---- */

static void
nested_abort_keeps_parent_writes(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL, *sp = NULL;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	put_num(txn, ST_COUNTERS, "a", 1);
	assert_int_equal(store_begin_nested(txn, &sp), STORE_OK);
	put_num(sp, ST_COUNTERS, "b", 2);
	put_num(sp, ST_COUNTERS, "a", 99);
	store_abort(sp);
	assert_int_equal(store_begin_nested(txn, &sp), STORE_OK);
	put_num(sp, ST_COUNTERS, "c", 3);
	assert_int_equal(store_commit(sp), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(get_num(f->s, ST_COUNTERS, "a"), 1);
	assert_int_equal(get_num(f->s, ST_COUNTERS, "b"), -1);
	assert_int_equal(get_num(f->s, ST_COUNTERS, "c"), 3);
}

static void
nested_commit_is_undone_by_parent_abort(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL, *sp = NULL;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_begin_nested(txn, &sp), STORE_OK);
	put_num(sp, ST_COUNTERS, "x", 1);
	assert_int_equal(store_commit(sp), STORE_OK);
	store_abort(txn);
	assert_int_equal(get_num(f->s, ST_COUNTERS, "x"), -1);
}

/* ---- the writer ---- */

struct kvop {
	struct wop op;
	char key[64];
	json_t *val;
	int fail_with;         /* returned after writing when non-zero */
	size_t nbig;           /* write this many copies of val (for FULL) */
};

static int
kv_apply(struct store_txn *txn, struct wop *op)
{
	struct kvop *k = (struct kvop *)op;
	char key[96];
	enum store_err rc;
	size_t i;

	if (k->nbig == 0)
		rc = store_put(txn, ST_TOKENS, k->key, k->val);
	else
		for (i = 0, rc = STORE_OK; i < k->nbig && rc == STORE_OK; i++) {
			snprintf(key, sizeof(key), "%s-%zu", k->key, i);
			rc = store_put(txn, ST_TOKENS, key, k->val);
		}
	if (rc != STORE_OK) {
		op->store_err = rc;
		return WOP_STORE_FAILED;
	}
	return k->fail_with;
}

/* Completion counting shared by the submitting threads and the writer. */
struct counter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, failed;
};

static void
count_done(struct wop *op)
{
	struct counter *c = op->arg;

	pthread_mutex_lock(&c->mu);
	c->done++;
	if (op->status != 0)
		c->failed++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
counter_init(struct counter *c)
{
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->done = c->failed = 0;
}

static void
counter_wait(struct counter *c, int n)
{
	pthread_mutex_lock(&c->mu);
	while (c->done < n)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

static void
counter_destroy(struct counter *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

/*
 * An operation that holds the writer until opened, so that operations
 * submitted meanwhile form the next group (test-only: real operations
 * must not block).
 */
struct gate {
	struct wop op;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int entered, open;
};

static int
gate_apply(struct store_txn *txn, struct wop *op)
{
	struct gate *g = (struct gate *)op;

	(void)txn;
	pthread_mutex_lock(&g->mu);
	g->entered = 1;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

static void
gate_done(struct wop *op)
{
	(void)op;
}

/* Submits a closed gate and waits until the writer is inside it. */
static void
gate_close(struct writer *w, struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->op.apply = gate_apply;
	g->op.done = gate_done;
	assert_int_equal(writer_submit(w, &g->op), 0);
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

static void
kv_init(struct kvop *k, const char *key, long n, struct counter *c)
{
	memset(k, 0, sizeof(*k));
	k->op.apply = kv_apply;
	k->op.done = count_done;
	k->op.arg = c;
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->val = num(n);
}

static void
writer_run_applies_and_returns_status(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, 16, NULL);
	struct counter c;
	struct kvop k;
	struct writer_stats st;

	assert_non_null(w);
	counter_init(&c);
	kv_init(&k, "jti-1", 7, &c);
	assert_int_equal(writer_run(w, &k.op), 0);
	assert_int_equal(k.op.status, 0);
	assert_int_equal(k.op.store_err, STORE_OK);
	/* writer_run restores the owner's done and arg. */
	assert_ptr_equal(k.op.done, count_done);
	assert_ptr_equal(k.op.arg, &c);
	assert_int_equal(get_num(f->s, ST_TOKENS, "jti-1"), 7);

	json_decref(k.val);
	kv_init(&k, "jti-2", 8, &c);
	k.fail_with = 42;
	assert_int_equal(writer_run(w, &k.op), 42);
	assert_int_equal(get_num(f->s, ST_TOKENS, "jti-2"), -1);
	writer_get_stats(w, &st);
	assert_int_equal(st.groups, 2);
	assert_int_equal(st.ops, 2);
	assert_int_equal(st.failed_groups, 0);
	writer_stop(w);
	writer_stop(NULL);
	json_decref(k.val);
	assert_int_equal(c.done, 0);   /* writer_run did not call ours */
	counter_destroy(&c);
}

static void
failing_op_is_rolled_back_while_its_group_commits(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, 64, NULL);
	struct counter c;
	struct gate g;
	struct kvop k[3];
	struct writer_stats st;
	size_t i;

	assert_non_null(w);
	counter_init(&c);
	gate_close(w, &g);
	kv_init(&k[0], "g-a", 1, &c);
	kv_init(&k[1], "g-b", 2, &c);
	k[1].fail_with = 7;   /* writes, then asks to be rolled back */
	kv_init(&k[2], "g-c", 3, &c);
	for (i = 0; i < 3; i++)
		assert_int_equal(writer_submit(w, &k[i].op), 0);
	gate_open(&g);
	counter_wait(&c, 3);

	assert_int_equal(k[0].op.status, 0);
	assert_int_equal(k[1].op.status, 7);
	assert_int_equal(k[1].op.store_err, STORE_OK);
	assert_int_equal(k[2].op.status, 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "g-a"), 1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "g-b"), -1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "g-c"), 3);
	writer_get_stats(w, &st);
	assert_int_equal(st.groups, 2);   /* the gate, then the three */
	assert_int_equal(st.ops, 4);
	assert_int_equal(st.failed_groups, 0);
	writer_stop(w);
	gate_destroy(&g);
	for (i = 0; i < 3; i++)
		json_decref(k[i].val);
	counter_destroy(&c);
}

#define NTHREADS 4
#define PER_THREAD 100
#define GROUP_MAX 32

struct submitter {
	struct writer *w;
	struct counter *c;
	struct kvop *ops;
	int id;
};

static void *
submit_many(void *arg)
{
	struct submitter *s = arg;
	char key[32];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		snprintf(key, sizeof(key), "t%d-%03d", s->id, i);
		kv_init(&s->ops[i], key, (long)(s->id * 1000 + i), s->c);
		if (writer_submit(s->w, &s->ops[i].op) != 0)
			return (void *)1;
	}
	return NULL;
}

static int
count_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	(void)key;
	(void)keylen;
	(void)value;
	++*(int *)arg;
	return 0;
}

static void
writer_groups_ops_from_many_threads(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, GROUP_MAX, NULL);
	struct submitter sub[NTHREADS];
	pthread_t th[NTHREADS];
	struct kvop *ops;
	struct counter c;
	struct gate g;
	struct writer_stats st;
	struct store_txn *txn = NULL;
	unsigned long long total = NTHREADS * PER_THREAD;
	void *ret;
	int i, n = 0;

	assert_non_null(w);
	ops = calloc(total, sizeof(*ops));
	assert_non_null(ops);
	counter_init(&c);
	gate_close(w, &g);
	for (i = 0; i < NTHREADS; i++) {
		sub[i].w = w;
		sub[i].c = &c;
		sub[i].ops = ops + i * PER_THREAD;
		sub[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, submit_many,
		    &sub[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	gate_open(&g);
	counter_wait(&c, (int)total);
	assert_int_equal(c.failed, 0);

	writer_get_stats(w, &st);
	assert_int_equal(st.ops, total + 1);
	assert_true(st.groups < st.ops);
	/* The gate alone, then groups of at most GROUP_MAX. */
	assert_int_equal(st.groups, 1 + (total + GROUP_MAX - 1) / GROUP_MAX);
	assert_int_equal(st.failed_groups, 0);
	writer_stop(w);

	assert_int_equal(get_num(f->s, ST_TOKENS, "t0-000"), 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "t3-099"), 3099);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(store_scan(txn, ST_TOKENS, "t", 0, 0, count_one, &n),
	    STORE_OK);
	store_abort(txn);
	assert_int_equal(n, (int)total);
	for (i = 0; i < (int)total; i++)
		json_decref(ops[i].val);
	free(ops);
	gate_destroy(&g);
	counter_destroy(&c);
}

static void
writer_stop_commits_everything_queued(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, 8, NULL);
	struct counter c;
	struct gate g;
	struct kvop k[20];
	char key[16];
	size_t i;

	assert_non_null(w);
	counter_init(&c);
	gate_close(w, &g);
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "q%02zu", i);
		kv_init(&k[i], key, (long)i, &c);
		assert_int_equal(writer_submit(w, &k[i].op), 0);
	}
	gate_open(&g);
	writer_stop(w);
	assert_int_equal(c.done, 20);
	assert_int_equal(c.failed, 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "q19"), 19);
	for (i = 0; i < 20; i++)
		json_decref(k[i].val);
	gate_destroy(&g);
	counter_destroy(&c);
}

static void
data_survives_close_and_reopen(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, 8, NULL);
	struct counter c;
	struct kvop k;
	struct store *s2;
	char err[ERRLEN] = "";

	assert_non_null(w);
	counter_init(&c);
	kv_init(&k, "durable", 11, &c);
	assert_int_equal(writer_run(w, &k.op), 0);
	writer_stop(w);
	store_close(f->s);
	f->s = NULL;

	/* create == 0: the directory and its store must be there. */
	s2 = store_open_lmdb(f->dir, MAP_SMALL, 0, err, sizeof(err));
	if (s2 == NULL)
		fail_msg("reopen: %s", err);
	f->s = s2;
	assert_int_equal(get_num(f->s, ST_TOKENS, "durable"), 11);
	json_decref(k.val);
	counter_destroy(&c);
}

static void
open_without_create_fails_on_missing_dir(void **state)
{
	struct fx *f = *state;
	char dir[128], err[ERRLEN] = "";

	snprintf(dir, sizeof(dir), "%s/absent", f->dir);
	assert_null(store_open_lmdb(dir, MAP_SMALL, 0, err, sizeof(err)));
	assert_non_null(strstr(err, dir));
	assert_int_equal(access(dir, F_OK), -1);
}

#define BLOB (64 * 1024)

static void
full_store_fails_only_the_op_that_does_not_fit(void **state)
{
	struct fx *f = *state;
	struct writer *w;
	struct counter c;
	struct gate g;
	struct kvop before, a, big, b, after;
	char *blob = malloc(BLOB + 1);
	json_t *bv;

	/* The same (still empty) store with a 1 MiB map. */
	store_close(f->s);
	f->s = NULL;
	f->s = open_at(f->dir, MAP_TINY, 0);
	w = writer_start(f->s, 16, NULL);
	assert_non_null(w);
	assert_non_null(blob);
	memset(blob, 'x', BLOB);
	blob[BLOB] = '\0';
	bv = json_pack("{s:s}", "blob", blob);
	assert_non_null(bv);
	counter_init(&c);

	kv_init(&before, "before", 1, &c);
	assert_int_equal(writer_run(w, &before.op), 0);

	/* One group: small op, one needing ~2.5 MiB of a 1 MiB map, small op. */
	gate_close(w, &g);
	kv_init(&a, "a", 2, &c);
	kv_init(&big, "big", 0, &c);
	json_decref(big.val);
	big.val = bv;
	big.nbig = 40;
	kv_init(&b, "b", 3, &c);
	assert_int_equal(writer_submit(w, &a.op), 0);
	assert_int_equal(writer_submit(w, &big.op), 0);
	assert_int_equal(writer_submit(w, &b.op), 0);
	gate_open(&g);
	counter_wait(&c, 3);

	assert_int_equal(big.op.status, WOP_STORE_FAILED);
	assert_int_equal(big.op.store_err, STORE_FULL);
	assert_int_equal(a.op.status, 0);
	assert_int_equal(b.op.status, 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "big-0"), -1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "a"), 2);
	assert_int_equal(get_num(f->s, ST_TOKENS, "b"), 3);
	assert_int_equal(get_num(f->s, ST_TOKENS, "before"), 1);

	/* Still usable afterwards. */
	kv_init(&after, "after", 4, &c);
	assert_int_equal(writer_run(w, &after.op), 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "after"), 4);
	writer_stop(w);

	json_decref(before.val);
	json_decref(a.val);
	json_decref(big.val);
	json_decref(b.val);
	json_decref(after.val);
	free(blob);
	gate_destroy(&g);
	counter_destroy(&c);
}

/* ---- deferred sync ---- */

static void
commit_says_whether_it_synced(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL, *sp = NULL;
	int flushed = -1;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	put_num(txn, ST_TOKENS, "sync-a", 1);
	assert_int_equal(store_commit_flushed(txn, &flushed), STORE_OK);
	assert_int_equal(flushed, 1);
	/* Nothing written, nothing synced. */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_commit_flushed(txn, &flushed), STORE_OK);
	assert_int_equal(flushed, 0);
	/* A savepoint's commit is not a sync. */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_begin_nested(txn, &sp), STORE_OK);
	put_num(sp, ST_TOKENS, "sync-n", 3);
	flushed = -1;
	assert_int_equal(store_commit_flushed(sp, &flushed), STORE_OK);
	assert_int_equal(flushed, 0);
	assert_int_equal(store_commit_flushed(txn, &flushed), STORE_OK);
	assert_int_equal(flushed, 1);
	/* Deferred: the same answers, and a commit is seen at once. */
	assert_int_equal(store_defer_sync(f->s, 1), STORE_OK);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	put_num(txn, ST_TOKENS, "sync-b", 2);
	assert_int_equal(store_commit_flushed(txn, &flushed), STORE_OK);
	assert_int_equal(flushed, 1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "sync-b"), 2);
	assert_int_equal(store_sync(f->s), STORE_OK);
	assert_int_equal(store_defer_sync(f->s, 0), STORE_OK);
	/* And it is all there after a reopen. */
	store_close(f->s);
	f->s = open_at(f->dir, MAP_SMALL, 0);
	assert_int_equal(get_num(f->s, ST_TOKENS, "sync-a"), 1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "sync-n"), 3);
	assert_int_equal(get_num(f->s, ST_TOKENS, "sync-b"), 2);
}

/* Waits up to secs for n completions; whether they came. */
static int
counter_wait_for(struct counter *c, int n, int secs)
{
	struct timespec until;
	int ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&c->mu);
	while (c->done < n &&
	    pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
		;
	ok = c->done >= n;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

/* An op whose done notes how many syncs the writer had run by then. */
struct synced_op {
	struct kvop k;        /* first */
	struct writer *w;
	struct counter *c;
	unsigned long long syncs_at_done;
	int slow_ms;          /* sleeps this long before counting */
};

static void
synced_done(struct wop *op)
{
	struct synced_op *so = (struct synced_op *)op;
	struct writer_stats st;
	struct timespec ts;

	writer_get_stats(so->w, &st);
	so->syncs_at_done = st.syncs;
	if (so->slow_ms > 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)so->slow_ms * 1000000L;
		nanosleep(&ts, NULL);
	}
	op->arg = so->c;
	count_done(op);
}

static void
synced_init(struct synced_op *so, struct writer *w, const char *key, long n,
    struct counter *c)
{
	memset(so, 0, sizeof(*so));
	kv_init(&so->k, key, n, c);
	so->w = w;
	so->c = c;
	so->k.op.done = synced_done;
	so->k.op.arg = so;
}

static void
group_completes_after_its_sync_while_the_next_is_applied(void **state)
{
	struct fx *f = *state;
	struct writer *w = writer_start(f->s, 1, NULL);   /* one op a group */
	struct writer_stats st;
	struct counter c;
	struct gate g0, g2;
	struct synced_op so;
	struct kvop k;

	assert_non_null(w);
	counter_init(&c);
	gate_close(w, &g0);
	synced_init(&so, w, "dg-1", 1, &c);
	assert_int_equal(writer_submit(w, &so.k.op), 0);   /* group 2 */
	memset(&g2, 0, sizeof(g2));
	pthread_mutex_init(&g2.mu, NULL);
	pthread_cond_init(&g2.cv, NULL);
	g2.op.apply = gate_apply;
	g2.op.done = gate_done;
	assert_int_equal(writer_submit(w, &g2.op), 0);      /* group 3 */
	gate_open(&g0);
	/* Group 2 is completed while group 3 cannot commit (its gate stays
	 * closed until then): it did not wait for a later commit. */
	assert_true(counter_wait_for(&c, 1, 10));
	assert_int_equal(so.k.op.status, 0);
	/* ...and only after a sync that began after its commit. */
	assert_true(so.syncs_at_done >= 1);
	assert_int_equal(get_num(f->s, ST_TOKENS, "dg-1"), 1);
	gate_open(&g2);
	kv_init(&k, "dg-2", 2, &c);
	assert_int_equal(writer_run(w, &k.op), 0);   /* group 3 is done */
	json_decref(k.val);

	/* A group whose every op is refused writes nothing and needs no
	 * sync. */
	writer_get_stats(w, &st);
	kv_init(&k, "dg-3", 3, &c);
	k.fail_with = 9;
	assert_int_equal(writer_run(w, &k.op), 9);
	{
		struct writer_stats st2;

		writer_get_stats(w, &st2);
		assert_int_equal(st2.groups, st.groups + 1);
		assert_int_equal(st2.syncs, st.syncs);
	}
	assert_int_equal(get_num(f->s, ST_TOKENS, "dg-3"), -1);
	writer_stop(w);
	json_decref(k.val);
	json_decref(so.k.val);
	gate_destroy(&g0);
	gate_destroy(&g2);
	counter_destroy(&c);
}

/* A tick hook that notes how many ops were complete when it ran. */
struct tick_rec {
	struct counter *c;
	struct store *s;
	int calls;
	int done_at_first;
	int wrote;
};

static long
record_tick(void *arg, int force)
{
	struct tick_rec *t = arg;
	struct store_txn *txn = NULL;

	(void)force;
	pthread_mutex_lock(&t->c->mu);
	if (t->calls++ == 0)
		t->done_at_first = t->c->done;
	pthread_mutex_unlock(&t->c->mu);
	/* Like a checkpoint: a commit of the tick's own. */
	if (!t->wrote && store_begin(t->s, 1, &txn) == STORE_OK) {
		put_num(txn, ST_TOKENS, "tick", 1);
		t->wrote = store_commit(txn) == STORE_OK;
	}
	return 60000;
}

static void
tick_runs_only_once_earlier_groups_are_durable(void **state)
{
	struct fx *f = *state;
	struct tick_rec t = { 0 };
	struct writer_hooks h = { 0 };
	struct writer_stats st;
	struct counter c;
	struct synced_op so;
	struct writer *w;
	int i;

	counter_init(&c);
	t.c = &c;
	t.s = f->s;
	h.arg = &t;
	h.tick = record_tick;
	w = writer_start(f->s, 8, &h);
	assert_non_null(w);
	synced_init(&so, w, "tk-1", 1, &c);
	so.slow_ms = 50;    /* a tick that did not wait would see 0 */
	assert_int_equal(writer_submit(w, &so.k.op), 0);
	assert_true(counter_wait_for(&c, 1, 10));
	/* The first tick ran after the first group, and only after that
	 * group was synced and completed. */
	for (i = 0; i < 10000; i++) {
		pthread_mutex_lock(&c.mu);
		if (t.calls > 0) {
			pthread_mutex_unlock(&c.mu);
			break;
		}
		pthread_mutex_unlock(&c.mu);
		usleep(1000);
	}
	pthread_mutex_lock(&c.mu);
	assert_true(t.calls >= 1);
	assert_int_equal(t.done_at_first, 1);
	pthread_mutex_unlock(&c.mu);
	/* What the tick committed is synced after it. */
	for (i = 0; i < 10000; i++) {
		writer_get_stats(w, &st);
		if (st.syncs >= 2)
			break;
		usleep(1000);
	}
	assert_true(st.syncs >= 2);
	assert_true(t.wrote);
	writer_stop(w);
	assert_int_equal(get_num(f->s, ST_TOKENS, "tick"), 1);
	json_decref(so.k.val);
	counter_destroy(&c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(put_get_del_round_trip),
		T(put_new_refuses_existing_key),
		T(abort_discards_writes),
		T(read_snapshot_refuses_writes),
		T(read_snapshot_does_not_see_later_commits),
		T(bad_keys_are_refused),
		T(keys_with_control_chars_are_refused),
		T(oversized_value_is_refused_and_not_written),
		cmocka_unit_test(strerror_names_every_code),
		cmocka_unit_test(key2_and_key3_join_with_separator),
		cmocka_unit_test(
		    key_parts_with_control_chars_or_empty_are_refused),
		cmocka_unit_test(overlong_keys_are_refused),
		T(scan_forward_visits_prefix_in_key_order),
		T(scan_reverse_visits_prefix_backwards),
		T(scan_with_empty_prefix_visits_everything),
		T(scan_stops_at_limit),
		T(scan_stops_when_callback_says_so),
		T(scan_of_absent_prefix_sees_nothing),
		T(nested_abort_keeps_parent_writes),
		T(nested_commit_is_undone_by_parent_abort),
		T(writer_run_applies_and_returns_status),
		T(failing_op_is_rolled_back_while_its_group_commits),
		T(writer_groups_ops_from_many_threads),
		T(writer_stop_commits_everything_queued),
		T(data_survives_close_and_reopen),
		T(open_without_create_fails_on_missing_dir),
		T(full_store_fails_only_the_op_that_does_not_fit),
		T(commit_says_whether_it_synced),
		T(group_completes_after_its_sync_while_the_next_is_applied),
		T(tick_runs_only_once_earlier_groups_are_durable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
