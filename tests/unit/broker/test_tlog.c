/*
 * Unit tests for the audit log's store (broker/tlog.c) on a temporary LMDB
 * store: roots and proofs from the stored subtree hashes against a tree
 * computed here from the entries (RFC 9162), where an append's subtree
 * hashes land in the table (side by side, after every earlier one), and an
 * older store's subtree hashes (keyed level first) still read after more
 * entries are appended in the current layout; the subject pseudonym
 * against OpenSSL's HMAC.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "merkle.h"
#include "store.h"
#include "tmpstore.h"
#include "tlog.h"

#define ERRLEN 512
#define MAP_SMALL ((size_t)16 << 20)
#define ORIGIN "broker.test/log"
#define MAX_ENTRIES 80

struct fx {
	char dir[64];
	struct store *s;
	struct tlog *log;
	EVP_PKEY *key;
	unsigned char secret[TLOG_SECRET_LEN];
};

static void
log_open(struct fx *f)
{
	char err[ERRLEN] = "";

	f->log = tlog_open(f->s, ORIGIN, f->key, f->secret, err, sizeof(err));
	if (f->log == NULL)
		fail_msg("tlog_open: %s", err);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	size_t i;

	assert_non_null(f);
	f->s = tmpstore_open(f->dir, "tlog", MAP_SMALL);
	for (i = 0; i < sizeof(f->secret); i++)
		f->secret[i] = (unsigned char)(0x20 + i);
	f->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(f->key);
	log_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	tlog_free(f->log);
	EVP_PKEY_free(f->key);
	tmpstore_close(f->dir, f->s);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static size_t
entry_text(uint64_t i, char *buf, size_t len)
{
	int n = snprintf(buf, len, "entry %" PRIu64 " of the test log", i);

	assert_true(n > 0 && (size_t)n < len);
	return (size_t)n;
}

/* Appends entries from .. from + n - 1 in one committed transaction. */
static void
append(struct fx *f, uint64_t from, uint64_t n)
{
	struct store_txn *txn = NULL;
	char buf[64];
	uint64_t i, index;
	size_t len;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	for (i = from; i < from + n; i++) {
		len = entry_text(i, buf, sizeof(buf));
		assert_int_equal(tlog_append(f->log, txn,
		    (const unsigned char *)buf, len, &index), STORE_OK);
		assert_int_equal(index, i);
	}
	assert_int_equal(store_commit(txn), STORE_OK);
	tlog_committed(f->log);
}

/* RFC 9162 MTH of entries [lo, hi), computed from the entries alone. */
static void
ref_hash(uint64_t lo, uint64_t hi, unsigned char out[MERKLE_HASH])
{
	unsigned char l[MERKLE_HASH], r[MERKLE_HASH];
	char buf[64];
	uint64_t k = 1;
	size_t len;

	if (hi - lo == 1) {
		len = entry_text(lo, buf, sizeof(buf));
		merkle_leaf_hash((const unsigned char *)buf, len, out);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	ref_hash(lo, lo + k, l);
	ref_hash(lo + k, hi, r);
	merkle_node_hash(l, r, out);
}

/* Every root, inclusion proof and consistency proof of sizes 1..n. */
static void
assert_tree_matches(struct fx *f, uint64_t n)
{
	unsigned char root[MAX_ENTRIES + 1][MERKLE_HASH], want[MERKLE_HASH];
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH], leaf[MERKLE_HASH];
	struct store_txn *txn = NULL;
	uint64_t size, i, m;
	size_t np;

	assert_true(n <= MAX_ENTRIES);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(tlog_size(txn, &size), STORE_OK);
	assert_int_equal(size, n);
	for (size = 1; size <= n; size++) {
		assert_int_equal(tlog_root(txn, size, root[size]), STORE_OK);
		ref_hash(0, size, want);
		if (memcmp(root[size], want, MERKLE_HASH) != 0)
			fail_msg("root of %" PRIu64 " entries differs", size);
	}
	for (i = 0; i < n; i++) {
		ref_hash(i, i + 1, leaf);
		assert_int_equal(tlog_prove_inclusion(txn, i, n, proof, &np),
		    STORE_OK);
		if (merkle_verify_inclusion(i, n, leaf,
		    (const unsigned char (*)[MERKLE_HASH])proof, np,
		    root[n]) != 0)
			fail_msg("inclusion of %" PRIu64 " in %" PRIu64, i, n);
	}
	for (m = 1; m <= n; m++)
		for (size = m; size <= n; size++) {
			assert_int_equal(tlog_prove_consistency(txn, m, size,
			    proof, &np), STORE_OK);
			if (merkle_verify_consistency(m, size, root[m],
			    root[size],
			    (const unsigned char (*)[MERKLE_HASH])proof,
			    np) != 0)
				fail_msg("consistency %" PRIu64 " -> %" PRIu64,
				    m, size);
		}
	store_abort(txn);
}

/* The subtree-hash table's keys, in key order. */
struct keys {
	char k[2 * MAX_ENTRIES][32];
	size_t n;
};

static int
key_one(void *arg, const char *key, size_t keylen, const unsigned char *v,
    size_t vlen)
{
	struct keys *ks = arg;

	assert_int_equal(vlen, MERKLE_HASH);
	(void)v;
	assert_true(ks->n < 2 * MAX_ENTRIES && keylen < 32);
	memcpy(ks->k[ks->n], key, keylen);
	ks->k[ks->n][keylen] = '\0';
	ks->n++;
	return 0;
}

static void
node_keys(struct fx *f, struct keys *ks)
{
	struct store_txn *txn = NULL;

	ks->n = 0;
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(store_scan_raw(txn, ST_LOG_NODES, "", 0, 0, key_one,
	    ks), STORE_OK);
	store_abort(txn);
}

/* Parses a current key "%016x last entry:%02u level"; 0 or -1. */
static int
parse_key(const char *k, uint64_t *last, unsigned *level)
{
	char *end;

	if (strlen(k) != 19 || k[16] != ':')
		return -1;
	*last = strtoull(k, &end, 16);
	if (end != k + 16)
		return -1;
	*level = (unsigned)strtoul(k + 17, &end, 10);
	return *end == '\0' ? 0 : -1;
}

/* ---- tests ---- */

static void
roots_and_proofs_match_a_tree_built_from_the_entries(void **state)
{
	struct fx *f = *state;

	append(f, 0, 1);
	assert_tree_matches(f, 1);
	append(f, 1, 5);
	append(f, 6, 9);
	append(f, 15, 22);
	assert_tree_matches(f, 37);
}

static void
an_appends_subtree_hashes_follow_every_earlier_one(void **state)
{
	struct fx *f = *state;
	struct keys *ks = malloc(sizeof(*ks));
	char last_before[32];
	uint64_t last, prev_last = 0;
	unsigned level, prev_level = 0, levels_at[MAX_ENTRIES] = { 0 };
	size_t i, before;

	assert_non_null(ks);
	append(f, 0, 64);
	node_keys(f, ks);
	/* Every complete, aligned subtree of 64 leaves: 64 + 32 + .. + 1. */
	assert_int_equal(ks->n, 127);
	before = ks->n;
	snprintf(last_before, sizeof(last_before), "%s", ks->k[ks->n - 1]);
	append(f, 64, 9);
	node_keys(f, ks);
	/* Entries 64..72 complete 9 + 4 + 2 + 1 subtrees ... */
	assert_int_equal(ks->n, before + 16);
	for (i = 0; i < ks->n; i++) {
		if (parse_key(ks->k[i], &last, &level) != 0)
			fail_msg("key %zu (%s) is not last:level", i, ks->k[i]);
		/* ... each ending at its last entry, and in the order the
		 * appends wrote them: by last entry, then level. */
		assert_true((last + 1) % ((uint64_t)1 << level) == 0);
		if (i > 0)
			assert_true(last > prev_last || (last == prev_last &&
			    level > prev_level));
		assert_true(last < MAX_ENTRIES);
		levels_at[last]++;
		prev_last = last;
		prev_level = level;
	}
	/* Entry 63 completed seven subtrees (levels 0 to 6), entry 71 four. */
	assert_int_equal(levels_at[63], 7);
	assert_int_equal(levels_at[71], 4);
	assert_int_equal(levels_at[72], 1);
	/* The second group's keys all sort after the first group's. */
	for (i = before; i < ks->n; i++)
		assert_true(strcmp(ks->k[i], last_before) > 0);
	free(ks);
	assert_tree_matches(f, 73);
}

static void
an_older_stores_subtree_hashes_still_read(void **state)
{
	struct fx *f = *state;
	struct keys *ks = malloc(sizeof(*ks));
	struct store_txn *txn = NULL;
	const unsigned char *v;
	unsigned char h[MERKLE_HASH];
	char old[32];
	uint64_t last;
	unsigned level;
	size_t i, n, oldn = 0;

	assert_non_null(ks);
	append(f, 0, 21);
	/* Rewrite every subtree hash under the older key: level, then the
	 * index within the level. */
	node_keys(f, ks);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	for (i = 0; i < ks->n; i++) {
		assert_int_equal(parse_key(ks->k[i], &last, &level), 0);
		assert_int_equal(store_get_raw(txn, ST_LOG_NODES, ks->k[i], &v,
		    &n), STORE_OK);
		assert_int_equal(n, MERKLE_HASH);
		memcpy(h, v, MERKLE_HASH);
		snprintf(old, sizeof(old), "%02u:%016" PRIx64, level,
		    ((last + 1) >> level) - 1);
		assert_int_equal(store_del(txn, ST_LOG_NODES, ks->k[i]),
		    STORE_OK);
		assert_int_equal(store_put_raw(txn, ST_LOG_NODES, old, h,
		    MERKLE_HASH), STORE_OK);
	}
	assert_int_equal(store_commit(txn), STORE_OK);
	/* Opened again (its right edge read from the older keys), it goes
	 * on appending. */
	tlog_free(f->log);
	log_open(f);
	append(f, 21, 12);
	assert_tree_matches(f, 33);
	node_keys(f, ks);
	for (i = 0; i < ks->n; i++)
		if (parse_key(ks->k[i], &last, &level) != 0) {
			oldn++;
			assert_int_equal(ks->k[i][2], ':');
		} else
			assert_true(last >= 21);
	/* 21 entries had 21 + 10 + 5 + 2 + 1 subtrees; nothing moved. */
	assert_int_equal(oldn, 39);
	free(ks);
}

/*
 * The pseudonym is computed from SHA-256 states keyed once at open: it must
 * be HMAC-SHA256(secret, subject) exactly, for any subject length (empty,
 * shorter than, exactly, and longer than one 64-byte block), differ between
 * secrets, and stay the same after the log is opened again.
 */
static void
pseudonym_is_hmac_sha256_of_the_subject_under_the_secret(void **state)
{
	struct fx *f = *state;
	char subj[6][300];
	unsigned char got[32], want[32], first[6][32];
	unsigned int n;
	size_t i, k;

	snprintf(subj[0], sizeof(subj[0]), "%s", "");
	snprintf(subj[1], sizeof(subj[1]), "%s", "alice-test");
	snprintf(subj[2], sizeof(subj[2]), "%s", "M\xc4\x81ori-\xe2\x9c\x93");
	memset(subj[3], 'a', 64);
	subj[3][64] = '\0';
	memset(subj[4], 'b', 55);
	subj[4][55] = '\0';
	memset(subj[5], 'c', 299);
	subj[5][299] = '\0';
	for (i = 0; i < 6; i++) {
		n = sizeof(want);
		assert_non_null(HMAC(EVP_sha256(), f->secret,
		    sizeof(f->secret), (const unsigned char *)subj[i],
		    strlen(subj[i]), want, &n));
		assert_int_equal(n, 32);
		tlog_pseudonym(f->log, subj[i], got);
		assert_memory_equal(got, want, 32);
		memcpy(first[i], got, 32);
		for (k = 0; k < i; k++)
			assert_memory_not_equal(first[k], got, 32);
	}
	/* Opened again with the same secret: the same pseudonyms. */
	tlog_free(f->log);
	log_open(f);
	for (i = 0; i < 6; i++) {
		tlog_pseudonym(f->log, subj[i], got);
		assert_memory_equal(got, first[i], 32);
	}
	/* Another secret: other pseudonyms, still its HMAC. */
	tlog_free(f->log);
	f->secret[0] ^= 1;
	log_open(f);
	for (i = 0; i < 6; i++) {
		n = sizeof(want);
		assert_non_null(HMAC(EVP_sha256(), f->secret,
		    sizeof(f->secret), (const unsigned char *)subj[i],
		    strlen(subj[i]), want, &n));
		tlog_pseudonym(f->log, subj[i], got);
		assert_memory_equal(got, want, 32);
		assert_memory_not_equal(got, first[i], 32);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(roots_and_proofs_match_a_tree_built_from_the_entries),
		T(an_appends_subtree_hashes_follow_every_earlier_one),
		T(an_older_stores_subtree_hashes_still_read),
		T(pseudonym_is_hmac_sha256_of_the_subject_under_the_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
