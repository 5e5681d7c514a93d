/*
 * Unit tests for client/merkle: the RFC 6962 test vectors of
 * certificate-transparency (roots, inclusion and consistency proofs of its
 * 8-leaf tree), randomized proof round trips for every tree up to 300
 * leaves, and proofs that must not verify.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "merkle.h"

#define MAXN 300
#define MAXLVL 10                  /* 2^9 > MAXN */

/* The leaves of the tree in certificate-transparency's merkle_tree_test. */
static const char *const ct_leaves[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

/* MTH of the first n leaves, n = 1..8 (index 0 is the empty tree). */
static const char *const ct_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Published inclusion proofs (index 0-based; CT numbers leaves from 1). */
static const struct {
	uint64_t index, size;
	const char *proof[3];
	size_t n;
} ct_incl[] = {
	{ 0, 1, { NULL }, 0 },
	{ 0, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" },
	    3 },
	{ 5, 8, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" },
	    3 },
	{ 2, 3, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" },
	    1 },
	{ 1, 5, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" },
	    3 },
};

/* Published consistency proofs. */
static const struct {
	uint64_t m, n;
	const char *proof[3];
	size_t np;
} ct_cons[] = {
	{ 1, 1, { NULL }, 0 },
	{ 1, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" },
	    3 },
	{ 6, 8, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" },
	    3 },
	{ 2, 5, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" },
	    2 },
};

/* A tree in memory: every complete subtree the frontier emitted. */
struct tree {
	struct merkle_frontier f;
	unsigned char node[MAXLVL][MAXN][MERKLE_HASH];
	int have[MAXLVL][MAXN];
	unsigned char root[MAXN + 1][MERKLE_HASH];   /* root of each size */
	unsigned char leaf[MAXN][MERKLE_HASH];
	uint64_t emitted;
	int stop_at;                                 /* emit fails at call k */
};

static int
put(void *arg, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH])
{
	struct tree *t = arg;

	if (t->stop_at > 0 && (int)++t->emitted == t->stop_at)
		return 7;
	assert_true(level < MAXLVL && index < MAXN);
	memcpy(t->node[level][index], hash, MERKLE_HASH);
	t->have[level][index] = 1;
	return 0;
}

static int
get(void *arg, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH])
{
	struct tree *t = arg;

	if (level >= MAXLVL || index >= MAXN || !t->have[level][index])
		return -1;
	memcpy(out, t->node[level][index], MERKLE_HASH);
	return 0;
}

static void
hexh(const char *hex, unsigned char out[MERKLE_HASH])
{
	assert_int_equal(hex_decode(hex, 64, out, MERKLE_HASH), 0);
}

static void
assert_hash(const unsigned char *got, const char *want_hex)
{
	char hex[2 * MERKLE_HASH + 1];

	hex_encode(got, MERKLE_HASH, hex);
	assert_string_equal(hex, want_hex);
}

static struct tree *
ct_tree(void)
{
	struct tree *t = calloc(1, sizeof(*t));
	unsigned char data[16];
	size_t i, n;

	assert_non_null(t);
	merkle_frontier_init(&t->f);
	merkle_frontier_root(&t->f, t->root[0]);
	for (i = 0; i < 8; i++) {
		n = strlen(ct_leaves[i]) / 2;
		assert_int_equal(hex_decode(ct_leaves[i], 2 * n, data, n), 0);
		merkle_leaf_hash(data, n, t->leaf[i]);
		assert_int_equal(merkle_frontier_append(&t->f, t->leaf[i], put,
		    t), 0);
		merkle_frontier_root(&t->f, t->root[i + 1]);
	}
	return t;
}

/* A tree of n leaves of pseudo-random bytes and lengths. */
static struct tree *
random_tree(size_t n, uint64_t seed)
{
	struct tree *t = calloc(1, sizeof(*t));
	unsigned char data[64];
	uint64_t x = seed | 1;
	size_t i, j, len;

	assert_non_null(t);
	merkle_frontier_init(&t->f);
	merkle_frontier_root(&t->f, t->root[0]);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* Distinct leaves: the first two bytes are the index. */
		len = 2 + (size_t)(x % (sizeof(data) - 2));
		for (j = 2; j < len; j++)
			data[j] = (unsigned char)(x >> (j % 8 * 8)) ^
			    (unsigned char)j;
		data[0] = (unsigned char)i;
		data[1] = (unsigned char)(i >> 8);
		merkle_leaf_hash(data, len, t->leaf[i]);
		assert_int_equal(merkle_frontier_append(&t->f, t->leaf[i], put,
		    t), 0);
		merkle_frontier_root(&t->f, t->root[i + 1]);
	}
	return t;
}

static void
empty_tree_root_is_sha256_of_nothing(void **state)
{
	unsigned char r[MERKLE_HASH];
	struct merkle_frontier f;

	(void)state;
	merkle_empty_root(r);
	assert_hash(r, ct_roots[0]);
	merkle_frontier_init(&f);
	merkle_frontier_root(&f, r);
	assert_hash(r, ct_roots[0]);
}

static void
leaf_and_node_hashes_use_the_rfc6962_prefixes(void **state)
{
	unsigned char l[MERKLE_HASH], r[MERKLE_HASH], n[MERKLE_HASH];

	(void)state;
	/* SHA-256(0x00) and SHA-256(0x01 || l || r), computed elsewhere. */
	merkle_leaf_hash((const unsigned char *)"", 0, l);
	assert_hash(l, ct_roots[1]);
	merkle_leaf_hash((const unsigned char *)"\x00", 1, r);
	assert_hash(r, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
	merkle_node_hash(l, r, n);
	assert_hash(n, ct_roots[2]);
	/* out may alias an input. */
	merkle_node_hash(l, r, l);
	assert_hash(l, ct_roots[2]);
}

static void
frontier_roots_match_ct_vectors_for_sizes_1_to_8(void **state)
{
	struct tree *t = ct_tree();
	unsigned char r[MERKLE_HASH];
	uint64_t n;

	(void)state;
	for (n = 0; n <= 8; n++) {
		assert_hash(t->root[n], ct_roots[n]);
		/* The stored subtrees give the same root for every size. */
		assert_int_equal(merkle_range_hash(get, t, 0, n, r), 0);
		assert_hash(r, ct_roots[n]);
	}
	assert_int_equal(t->f.size, 8);
	assert_int_equal(t->f.nodes, 1);
	free(t);
}

static void
inclusion_proofs_match_ct_vectors_and_verify(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	unsigned char root[MERKLE_HASH];
	struct tree *t = ct_tree();
	size_t v, k, n;

	(void)state;
	for (v = 0; v < sizeof(ct_incl) / sizeof(ct_incl[0]); v++) {
		assert_int_equal(merkle_prove_inclusion(get, t, ct_incl[v].index,
		    ct_incl[v].size, proof, &n), 0);
		assert_int_equal(n, ct_incl[v].n);
		for (k = 0; k < n; k++)
			assert_hash(proof[k], ct_incl[v].proof[k]);
		hexh(ct_roots[ct_incl[v].size], root);
		assert_int_equal(merkle_verify_inclusion(ct_incl[v].index,
		    ct_incl[v].size, t->leaf[ct_incl[v].index],
		    (const unsigned char (*)[MERKLE_HASH])proof, n, root), 0);
	}
	free(t);
}

static void
consistency_proofs_match_ct_vectors_and_verify(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	unsigned char r1[MERKLE_HASH], r2[MERKLE_HASH];
	struct tree *t = ct_tree();
	size_t v, k, n;

	(void)state;
	for (v = 0; v < sizeof(ct_cons) / sizeof(ct_cons[0]); v++) {
		assert_int_equal(merkle_prove_consistency(get, t, ct_cons[v].m,
		    ct_cons[v].n, proof, &n), 0);
		assert_int_equal(n, ct_cons[v].np);
		for (k = 0; k < n; k++)
			assert_hash(proof[k], ct_cons[v].proof[k]);
		hexh(ct_roots[ct_cons[v].m], r1);
		hexh(ct_roots[ct_cons[v].n], r2);
		assert_int_equal(merkle_verify_consistency(ct_cons[v].m,
		    ct_cons[v].n, r1, r2,
		    (const unsigned char (*)[MERKLE_HASH])proof, n), 0);
	}
	free(t);
}

static void
inclusion_round_trips_for_every_index_of_every_size_to_300(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	unsigned char r[MERKLE_HASH];
	struct tree *t = random_tree(MAXN, 0x5eed1);
	uint64_t size, i;
	size_t n;

	(void)state;
	for (size = 1; size <= MAXN; size++) {
		assert_int_equal(merkle_range_hash(get, t, 0, size, r), 0);
		assert_memory_equal(r, t->root[size], MERKLE_HASH);
		for (i = 0; i < size; i++) {
			assert_int_equal(merkle_prove_inclusion(get, t, i, size,
			    proof, &n), 0);
			assert_int_equal(merkle_verify_inclusion(i, size,
			    t->leaf[i], (const unsigned char (*)[MERKLE_HASH])proof,
			    n, t->root[size]), 0);
		}
	}
	free(t);
}

static void
consistency_round_trips_for_every_pair_of_sizes_to_300(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	struct tree *t = random_tree(MAXN, 0xc0ffee);
	uint64_t m, size;
	size_t n;

	(void)state;
	for (size = 1; size <= MAXN; size++)
		for (m = 0; m <= size; m++) {
			assert_int_equal(merkle_prove_consistency(get, t, m, size,
			    proof, &n), 0);
			assert_int_equal(merkle_verify_consistency(m, size,
			    t->root[m], t->root[size],
			    (const unsigned char (*)[MERKLE_HASH])proof, n), 0);
		}
	free(t);
}

static void
inclusion_proof_fails_for_wrong_index_size_leaf_root_or_hashes(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF + 1][MERKLE_HASH];
	unsigned char bad[MERKLE_HASH];
	const unsigned char (*p)[MERKLE_HASH] =
	    (const unsigned char (*)[MERKLE_HASH])proof;
	struct tree *t = random_tree(MAXN, 0xbad);
	static const uint64_t sizes[] = { 2, 3, 5, 7, 8, 9, 100, 150, 255, 256,
	    300 };
	uint64_t size, i, s;
	size_t n, k;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size = sizes[s];
		for (i = 0; i < size; i += 1 + size / 17) {
			assert_int_equal(merkle_prove_inclusion(get, t, i, size,
			    proof, &n), 0);
			assert_int_equal(merkle_verify_inclusion(i, size,
			    t->leaf[i], p, n, t->root[size]), 0);
			/* wrong index, wrong size */
			assert_int_not_equal(merkle_verify_inclusion(i ^ 1, size,
			    t->leaf[i], p, n, t->root[size]), 0);
			if (i + 1 < size)
				assert_int_not_equal(merkle_verify_inclusion(i + 1,
				    size, t->leaf[i], p, n, t->root[size]), 0);
			/* A proof in one tree does not show inclusion in the
			 * tree of another size (against that tree's root; with
			 * the same root a proof of the same shape would). */
			if (size + 1 <= MAXN)
				assert_int_not_equal(merkle_verify_inclusion(i,
				    size + 1, t->leaf[i], p, n, t->root[size + 1]),
				    0);
			if (size * 2 <= MAXN)
				assert_int_not_equal(merkle_verify_inclusion(i,
				    size * 2, t->leaf[i], p, n, t->root[size * 2]),
				    0);
			assert_int_not_equal(merkle_verify_inclusion(i, size - 1,
			    t->leaf[i], p, n, t->root[size - 1]), 0);
			assert_int_not_equal(merkle_verify_inclusion(size, size,
			    t->leaf[i], p, n, t->root[size]), 0);
			/* another leaf, another root */
			assert_int_not_equal(merkle_verify_inclusion(i, size,
			    t->leaf[(i + 1) % size], p, n, t->root[size]), 0);
			assert_int_not_equal(merkle_verify_inclusion(i, size,
			    t->leaf[i], p, n, t->root[size - 1]), 0);
			/* each hash tampered in turn */
			for (k = 0; k < n; k++) {
				proof[k][k % MERKLE_HASH] ^= 0x20;
				assert_int_not_equal(merkle_verify_inclusion(i, size,
				    t->leaf[i], p, n, t->root[size]), 0);
				proof[k][k % MERKLE_HASH] ^= 0x20;
			}
			/* a hash missing, a hash extra */
			assert_int_not_equal(merkle_verify_inclusion(i, size,
			    t->leaf[i], p, n - 1, t->root[size]), 0);
			memcpy(proof[n], t->root[1], MERKLE_HASH);
			assert_int_not_equal(merkle_verify_inclusion(i, size,
			    t->leaf[i], p, n + 1, t->root[size]), 0);
		}
	}
	/* The leaf itself is not a proof of a one-leaf tree's other leaf. */
	memset(bad, 0, sizeof(bad));
	assert_int_not_equal(merkle_verify_inclusion(0, 1, bad, p, 0,
	    t->root[1]), 0);
	assert_int_equal(merkle_verify_inclusion(0, 1, t->leaf[0], p, 0,
	    t->root[1]), 0);
	assert_int_not_equal(merkle_verify_inclusion(0, 0, t->leaf[0], p, 0,
	    t->root[0]), 0);
	/* Proofs are not built for leaves outside the tree. */
	assert_int_not_equal(merkle_prove_inclusion(get, t, 5, 5, proof, &n), 0);
	free(t);
}

static void
consistency_proof_fails_for_wrong_sizes_roots_or_hashes(void **state)
{
	unsigned char proof[MERKLE_MAX_PROOF + 1][MERKLE_HASH];
	const unsigned char (*p)[MERKLE_HASH] =
	    (const unsigned char (*)[MERKLE_HASH])proof;
	struct tree *t = random_tree(MAXN, 0xfee1);
	static const uint64_t pairs[][2] = { { 1, 2 }, { 1, 8 }, { 2, 5 },
	    { 3, 7 }, { 4, 8 }, { 6, 8 }, { 7, 300 }, { 64, 65 }, { 100, 256 },
	    { 255, 300 }, { 299, 300 } };
	uint64_t m, size;
	size_t v, n, k;

	(void)state;
	for (v = 0; v < sizeof(pairs) / sizeof(pairs[0]); v++) {
		m = pairs[v][0];
		size = pairs[v][1];
		assert_int_equal(merkle_prove_consistency(get, t, m, size, proof,
		    &n), 0);
		assert_int_equal(merkle_verify_consistency(m, size, t->root[m],
		    t->root[size], p, n), 0);
		/* other sizes, with the true roots of those sizes */
		assert_int_not_equal(merkle_verify_consistency(m + 1, size,
		    t->root[m + 1], t->root[size], p, n), 0);
		assert_int_not_equal(merkle_verify_consistency(m - 1, size,
		    t->root[m - 1], t->root[size], p, n), 0);
		if (size + 1 <= MAXN)
			assert_int_not_equal(merkle_verify_consistency(m,
			    size + 1, t->root[m], t->root[size + 1], p, n), 0);
		assert_int_not_equal(merkle_verify_consistency(size, m,
		    t->root[size], t->root[m], p, n), 0);
		/* wrong roots: another size's, or the other one */
		assert_int_not_equal(merkle_verify_consistency(m, size,
		    t->root[m - 1], t->root[size], p, n), 0);
		assert_int_not_equal(merkle_verify_consistency(m, size,
		    t->root[m], t->root[size - 1], p, n), 0);
		assert_int_not_equal(merkle_verify_consistency(m, size,
		    t->root[size], t->root[m], p, n), 0);
		for (k = 0; k < n; k++) {
			proof[k][31 - k % MERKLE_HASH] ^= 0x01;
			assert_int_not_equal(merkle_verify_consistency(m, size,
			    t->root[m], t->root[size], p, n), 0);
			proof[k][31 - k % MERKLE_HASH] ^= 0x01;
		}
		assert_int_not_equal(merkle_verify_consistency(m, size,
		    t->root[m], t->root[size], p, n - 1), 0);
		memcpy(proof[n], t->root[2], MERKLE_HASH);
		assert_int_not_equal(merkle_verify_consistency(m, size,
		    t->root[m], t->root[size], p, n + 1), 0);
	}
	/* Equal sizes: only the same root, with no hashes. */
	assert_int_equal(merkle_verify_consistency(9, 9, t->root[9], t->root[9],
	    p, 0), 0);
	assert_int_not_equal(merkle_verify_consistency(9, 9, t->root[9],
	    t->root[8], p, 0), 0);
	assert_int_not_equal(merkle_verify_consistency(9, 9, t->root[9],
	    t->root[9], p, 1), 0);
	/* From the empty tree anything is consistent, with no hashes. */
	assert_int_equal(merkle_verify_consistency(0, 9, t->root[0], t->root[9],
	    p, 0), 0);
	assert_int_not_equal(merkle_verify_consistency(0, 9, t->root[0],
	    t->root[9], p, 1), 0);
	assert_int_not_equal(merkle_prove_consistency(get, t, 10, 9, proof,
	    &n), 0);
	free(t);
}

static void
frontier_emits_every_complete_subtree_once(void **state)
{
	struct tree *t = random_tree(MAXN, 0xe1);
	unsigned char r[MERKLE_HASH];
	uint64_t lvl, i, count = 0;

	(void)state;
	for (lvl = 0; lvl < MAXLVL; lvl++)
		for (i = 0; i < MAXN; i++) {
			if (!t->have[lvl][i])
				continue;
			count++;
			/* It is the MTH of the leaves it covers. */
			assert_true(((i + 1) << lvl) <= MAXN);
			assert_int_equal(merkle_range_hash(get, t, i << lvl,
			    (i + 1) << lvl, r), 0);
			assert_memory_equal(r, t->node[lvl][i], MERKLE_HASH);
		}
	/* n leaves, and one interior node per merge: 2n - popcount(n). */
	assert_int_equal(count, 2 * MAXN - (uint64_t)__builtin_popcountll(MAXN));
	free(t);
}

static void
frontier_is_unchanged_when_emit_stops_the_append(void **state)
{
	struct tree *t = random_tree(7, 0xabc);
	struct merkle_frontier before = t->f;
	unsigned char leaf[MERKLE_HASH];
	int k;

	(void)state;
	memset(leaf, 0x42, sizeof(leaf));
	/* Appending the 8th leaf emits 4 subtrees (levels 0..3); stop at
	 * each in turn. */
	for (k = 1; k <= 4; k++) {
		t->emitted = 0;
		t->stop_at = k;
		assert_int_equal(merkle_frontier_append(&t->f, leaf, put, t), 7);
		assert_memory_equal(&t->f, &before, sizeof(before));
	}
	t->stop_at = 0;
	assert_int_equal(merkle_frontier_append(&t->f, leaf, put, t), 0);
	assert_int_equal(t->f.size, 8);
	assert_int_equal(t->f.nodes, 1);
	assert_int_equal(t->f.level[0], 3);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_tree_root_is_sha256_of_nothing),
		cmocka_unit_test(leaf_and_node_hashes_use_the_rfc6962_prefixes),
		cmocka_unit_test(frontier_roots_match_ct_vectors_for_sizes_1_to_8),
		cmocka_unit_test(inclusion_proofs_match_ct_vectors_and_verify),
		cmocka_unit_test(consistency_proofs_match_ct_vectors_and_verify),
		cmocka_unit_test(
		    inclusion_round_trips_for_every_index_of_every_size_to_300),
		cmocka_unit_test(
		    consistency_round_trips_for_every_pair_of_sizes_to_300),
		cmocka_unit_test(
		    inclusion_proof_fails_for_wrong_index_size_leaf_root_or_hashes),
		cmocka_unit_test(
		    consistency_proof_fails_for_wrong_sizes_roots_or_hashes),
		cmocka_unit_test(frontier_emits_every_complete_subtree_once),
		cmocka_unit_test(frontier_is_unchanged_when_emit_stops_the_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
