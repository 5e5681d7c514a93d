/*
 * Fuzz target: what an auditor parses from the broker's transparency log
 * (client/note.h, client/logentry.h, client/merkle.h). The first byte of
 * the input picks the parser; the rest is its input:
 *   'v'  note_vkey_parse of a verifier key string
 *   'n'  note_verify against the broker's log key (fixtures.h), then
 *        checkpoint_parse of the signed text and checkpoint_verify
 *   'c'  checkpoint_parse of a checkpoint text
 *   'e'  le_decode of a log entry, then every getter on every tag
 *   'i'  merkle_verify_inclusion: index(8) size(8) leaf(32) root(32),
 *        then proof hashes of 32 bytes (big-endian integers)
 *   'k'  merkle_verify_consistency: size1(8) size2(8) root1(32)
 *        root2(32), then proof hashes
 *   't'  a round trip: a tree of up to 256 leaves made from the input,
 *        inclusion and consistency proofs built by merkle_prove_* must
 *        verify, and fail with one bit of the proof flipped
 */
#include "fuzz.h"

#include "fixtures.h"
#include "logentry.h"
#include "merkle.h"
#include "note.h"

#define TREE_MAX 256
#define TREE_LEVELS 9

static struct note_vkey log_vk;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	FUZZ_INIT(note_vkey_parse(fx_log_vkey, &log_vk, err, sizeof(err)) ==
	    0);
	return 0;
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
fuzz_vkey(const uint8_t *data, size_t size)
{
	struct note_vkey vk;
	char *s = fuzz_strndup(data, size), *p, err[256], out[512];
	int i;

	if (s == NULL)
		return;
	if (note_vkey_parse(s, &vk, err, sizeof(err)) == 0) {
		/* A parsed key formats back to the same string, but for the
		 * case of the hex key ID (either is accepted). */
		FUZZ_CHECK(note_vkey_format(&vk, out, sizeof(out)) == 0);
		p = strchr(s, '+');
		FUZZ_CHECK(p != NULL);
		for (i = 1; i <= 8; i++)
			if (p[i] >= 'A' && p[i] <= 'F')
				p[i] = (char)(p[i] - 'A' + 'a');
		FUZZ_CHECK(strcmp(out, s) == 0);
	}
	free(s);
}

static void
fuzz_note(const uint8_t *data, size_t size)
{
	struct checkpoint cp;
	char err[256], text[512];
	size_t tlen = 0;

	if (note_verify((const char *)data, size, &log_vk, &tlen, err,
	    sizeof(err)) == 0) {
		FUZZ_CHECK(tlen > 0 && tlen < size);
		FUZZ_CHECK(data[tlen - 1] == '\n' && data[tlen] == '\n');
		if (checkpoint_parse((const char *)data, tlen, &cp, err,
		    sizeof(err)) == 0 &&
		    checkpoint_text(&cp, text, sizeof(text)) == 0)
			FUZZ_CHECK(strncmp(text, (const char *)data,
			    strlen(text)) == 0);
	}
	(void)checkpoint_verify((const char *)data, size, &log_vk, &cp, err,
	    sizeof(err));
}

static void
fuzz_checkpoint(const uint8_t *data, size_t size)
{
	struct checkpoint cp;
	char err[256], text[512];

	if (checkpoint_parse((const char *)data, size, &cp, err,
	    sizeof(err)) != 0)
		return;
	/* The three lines format back to the input's first three lines. */
	if (checkpoint_text(&cp, text, sizeof(text)) == 0)
		FUZZ_CHECK(strlen(text) <= size &&
		    memcmp(text, data, strlen(text)) == 0);
}

static void
fuzz_entry(const uint8_t *data, size_t size)
{
	struct le_entry e;
	char err[256], s[LE_MAX + 1];
	uint64_t u;
	int t;

	if (le_decode(data, size, &e, err, sizeof(err)) != 0)
		return;
	FUZZ_CHECK(le_type_name(e.type) != NULL);
	for (t = 1; t < T__MAX; t++) {
		if (!le_has(&e, (enum le_tag)t))
			continue;
		FUZZ_CHECK(e.v[t] >= data && e.v[t] + e.n[t] <= data + size);
		if (le_get_str(&e, (enum le_tag)t, s, sizeof(s)) == 0)
			FUZZ_CHECK(le_str_eq(&e, (enum le_tag)t, s));
		(void)le_get_u64(&e, (enum le_tag)t, &u);
	}
}

static void
fuzz_inclusion(const uint8_t *data, size_t size)
{
	const size_t head = 16 + 2 * MERKLE_HASH;

	if (size < head)
		return;
	(void)merkle_verify_inclusion(get_be64(data), get_be64(data + 8),
	    data + 16, (const unsigned char (*)[MERKLE_HASH])(data + head),
	    (size - head) / MERKLE_HASH, data + 16 + MERKLE_HASH);
}

static void
fuzz_consistency(const uint8_t *data, size_t size)
{
	const size_t head = 16 + 2 * MERKLE_HASH;

	if (size < head)
		return;
	(void)merkle_verify_consistency(get_be64(data), get_be64(data + 8),
	    data + 16, data + 16 + MERKLE_HASH,
	    (const unsigned char (*)[MERKLE_HASH])(data + head),
	    (size - head) / MERKLE_HASH);
}

/* Complete subtrees of the round-trip tree, by level and index. */
struct tree {
	unsigned char h[TREE_LEVELS][TREE_MAX][MERKLE_HASH];
	unsigned char have[TREE_LEVELS][TREE_MAX];
};

static int
tree_emit(void *arg, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH])
{
	struct tree *t = arg;

	FUZZ_CHECK(level < TREE_LEVELS && index < TREE_MAX);
	memcpy(t->h[level][index], hash, MERKLE_HASH);
	t->have[level][index] = 1;
	return 0;
}

static int
tree_node(void *arg, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH])
{
	struct tree *t = arg;

	if (level >= TREE_LEVELS || index >= TREE_MAX ||
	    !t->have[level][index])
		return -1;
	memcpy(out, t->h[level][index], MERKLE_HASH);
	return 0;
}

static void
fuzz_tree(const uint8_t *data, size_t size)
{
	static struct tree t;
	struct merkle_frontier f;
	unsigned char leaf[MERKLE_HASH], root[MERKLE_HASH], r1[MERKLE_HASH];
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	uint64_t n, m, idx, i;
	unsigned char d[2];
	size_t np;

	if (size < 3)
		return;
	n = 1 + data[0] % TREE_MAX;
	m = 1 + data[1] % n;
	idx = data[2] % n;
	memset(t.have, 0, sizeof(t.have));
	merkle_frontier_init(&f);
	for (i = 0; i < n; i++) {
		/* Leaf i: its index and one input byte (duplicates allowed). */
		d[0] = (unsigned char)i;
		d[1] = size > 3 ? data[3 + i % (size - 3)] : 0;
		merkle_leaf_hash(d, sizeof(d), leaf);
		FUZZ_CHECK(merkle_frontier_append(&f, leaf, tree_emit, &t) ==
		    0);
		if (i == idx)
			memcpy(r1, leaf, MERKLE_HASH);
	}
	FUZZ_CHECK(f.size == n);
	merkle_frontier_root(&f, root);
	memcpy(leaf, r1, MERKLE_HASH);
	FUZZ_CHECK(merkle_range_hash(tree_node, &t, 0, n, r1) == 0);
	FUZZ_CHECK(memcmp(r1, root, MERKLE_HASH) == 0);

	FUZZ_CHECK(merkle_prove_inclusion(tree_node, &t, idx, n, proof,
	    &np) == 0);
	FUZZ_CHECK(merkle_verify_inclusion(idx, n, leaf,
	    (const unsigned char (*)[MERKLE_HASH])proof, np, root) == 0);
	if (np > 0) {
		proof[np - 1][data[2] % MERKLE_HASH] ^= 1;
		FUZZ_CHECK(merkle_verify_inclusion(idx, n, leaf,
		    (const unsigned char (*)[MERKLE_HASH])proof, np, root) != 0);
	}
	FUZZ_CHECK(merkle_verify_inclusion(idx, n, leaf,
	    (const unsigned char (*)[MERKLE_HASH])proof, np + 1, root) != 0);

	FUZZ_CHECK(merkle_range_hash(tree_node, &t, 0, m, r1) == 0);
	FUZZ_CHECK(merkle_prove_consistency(tree_node, &t, m, n, proof,
	    &np) == 0);
	FUZZ_CHECK(merkle_verify_consistency(m, n, r1, root,
	    (const unsigned char (*)[MERKLE_HASH])proof, np) == 0);
	if (np > 0) {
		proof[0][data[1] % MERKLE_HASH] ^= 0x80;
		FUZZ_CHECK(merkle_verify_consistency(m, n, r1, root,
		    (const unsigned char (*)[MERKLE_HASH])proof, np) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 'v': fuzz_vkey(data + 1, size - 1); break;
	case 'n': fuzz_note(data + 1, size - 1); break;
	case 'c': fuzz_checkpoint(data + 1, size - 1); break;
	case 'e': fuzz_entry(data + 1, size - 1); break;
	case 'i': fuzz_inclusion(data + 1, size - 1); break;
	case 'k': fuzz_consistency(data + 1, size - 1); break;
	case 't': fuzz_tree(data + 1, size - 1); break;
	default: break;
	}
	return 0;
}
