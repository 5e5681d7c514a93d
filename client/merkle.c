/* RFC 6962 / RFC 9162 Merkle trees: hashing, frontier, proofs. */

/*
 * The low-level SHA256_Init/Update/Final are deprecated in OpenSSL 3 but
 * kept: the one-shot SHA256() there fetches the algorithm on every call,
 * which makes a 65-byte node hash about 4x slower (measured: 1.8M/s
 * against 7.4M/s), and building or auditing the tree is mostly these.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/sha.h>

#include "merkle.h"

void
merkle_leaf_hash(const unsigned char *data, size_t len,
    unsigned char out[MERKLE_HASH])
{
	static const unsigned char zero = 0x00;
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, &zero, 1);
	SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void
merkle_node_hash(const unsigned char left[MERKLE_HASH],
    const unsigned char right[MERKLE_HASH], unsigned char out[MERKLE_HASH])
{
	unsigned char buf[1 + 2 * MERKLE_HASH];
	SHA256_CTX c;

	/* out may alias left or right: both are copied first. */
	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, right, MERKLE_HASH);
	SHA256_Init(&c);
	SHA256_Update(&c, buf, sizeof(buf));
	SHA256_Final(out, &c);
}

void
merkle_empty_root(unsigned char out[MERKLE_HASH])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Final(out, &c);
}

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

int
merkle_frontier_append(struct merkle_frontier *f,
    const unsigned char leaf[MERKLE_HASH],
    int (*emit)(void *, unsigned, uint64_t, const unsigned char *),
    void *arg)
{
	unsigned char h[MERKLE_HASH];
	uint64_t size = f->size + 1;
	unsigned k = f->nodes, lvl = 0;
	int rc;

	/*
	 * The new leaf merges with the frontier's last subtrees while they
	 * are as high as what it has grown to (levels strictly decrease
	 * along the frontier). f is written only at the end, so a stop by
	 * emit leaves it unchanged without copying it first.
	 */
	if (f->nodes >= MERKLE_MAX_LEVELS)
		return -1;
	if (emit != NULL && (rc = emit(arg, 0, f->size, leaf)) != 0)
		return rc;
	memcpy(h, leaf, MERKLE_HASH);
	while (k > 0 && f->level[k - 1] == lvl) {
		merkle_node_hash(f->hash[k - 1], h, h);
		k--;
		lvl++;
		if (emit != NULL && (rc = emit(arg, lvl, (size >> lvl) - 1,
		    h)) != 0)
			return rc;
	}
	memcpy(f->hash[k], h, MERKLE_HASH);
	f->level[k] = lvl;
	f->nodes = k + 1;
	f->size = size;
	return 0;
}

void
merkle_frontier_root(const struct merkle_frontier *f,
    unsigned char out[MERKLE_HASH])
{
	unsigned char r[MERKLE_HASH];
	unsigned i;

	if (f->nodes == 0) {
		merkle_empty_root(out);
		return;
	}
	memcpy(r, f->hash[f->nodes - 1], MERKLE_HASH);
	for (i = f->nodes - 1; i > 0; i--)
		merkle_node_hash(f->hash[i - 1], r, r);
	memcpy(out, r, MERKLE_HASH);
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size,
    const unsigned char leaf[MERKLE_HASH],
    const unsigned char (*proof)[MERKLE_HASH], size_t nproof,
    const unsigned char root[MERKLE_HASH])
{
	unsigned char r[MERKLE_HASH];
	uint64_t fn, sn;
	size_t i;

	if (index >= size)
		return -1;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf, MERKLE_HASH);
	for (i = 0; i < nproof; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				do {
					fn >>= 1;
					sn >>= 1;
				} while (!(fn & 1) && fn != 0);
		} else
			merkle_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return -1;
	return memcmp(r, root, MERKLE_HASH) == 0 ? 0 : -1;
}

static int
is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const unsigned char root1[MERKLE_HASH],
    const unsigned char root2[MERKLE_HASH],
    const unsigned char (*proof)[MERKLE_HASH], size_t nproof)
{
	unsigned char fr[MERKLE_HASH], sr[MERKLE_HASH];
	const unsigned char *first;
	uint64_t fn, sn;
	size_t i, start;

	if (size1 > size2)
		return -1;
	if (size1 == size2)
		return nproof == 0 && memcmp(root1, root2, MERKLE_HASH) == 0 ?
		    0 : -1;
	if (size1 == 0)
		return nproof == 0 ? 0 : -1;
	if (nproof == 0)
		return -1;
	/* With size1 a power of two, root1 itself starts the path. */
	if (is_pow2(size1)) {
		first = root1;
		start = 0;
	} else {
		first = proof[0];
		start = 1;
	}
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	memcpy(fr, first, MERKLE_HASH);
	memcpy(sr, first, MERKLE_HASH);
	for (i = start; i < nproof; i++) {
		if (sn == 0)
			return -1;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(proof[i], fr, fr);
			merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				do {
					fn >>= 1;
					sn >>= 1;
				} while (!(fn & 1) && fn != 0);
		} else
			merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return -1;
	return memcmp(fr, root1, MERKLE_HASH) == 0 &&
	    memcmp(sr, root2, MERKLE_HASH) == 0 ? 0 : -1;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
	uint64_t k = 1;

	while (k << 1 < n)
		k <<= 1;
	return k;
}

static unsigned
log2_exact(uint64_t x)
{
	unsigned l = 0;

	while (x > 1) {
		x >>= 1;
		l++;
	}
	return l;
}

int
merkle_range_hash(merkle_node_fn node, void *arg, uint64_t start,
    uint64_t end, unsigned char out[MERKLE_HASH])
{
	unsigned char l[MERKLE_HASH], r[MERKLE_HASH];
	uint64_t n = end - start, k;
	unsigned lvl;

	if (end <= start) {
		if (end == start && start == 0) {
			merkle_empty_root(out);
			return 0;
		}
		return -1;
	}
	if (n != 0 && is_pow2(n) && start % n == 0) {
		lvl = log2_exact(n);
		return node(arg, lvl, start >> lvl, out);
	}
	if (n == 1)
		return node(arg, 0, start, out);
	k = split_point(n);
	if (merkle_range_hash(node, arg, start, start + k, l) != 0 ||
	    merkle_range_hash(node, arg, start + k, end, r) != 0)
		return -1;
	merkle_node_hash(l, r, out);
	return 0;
}

/* PATH(m, D[start:end]) appended to proof (RFC 6962 section 2.1.1). */
static int
path(merkle_node_fn node, void *arg, uint64_t m, uint64_t start,
    uint64_t end, unsigned char (*proof)[MERKLE_HASH], size_t *n)
{
	uint64_t k;

	if (end - start <= 1)
		return 0;
	if (*n >= MERKLE_MAX_PROOF)
		return -1;
	k = split_point(end - start);
	if (m < k) {
		if (path(node, arg, m, start, start + k, proof, n) != 0)
			return -1;
		return merkle_range_hash(node, arg, start + k, end,
		    proof[(*n)++]);
	}
	if (path(node, arg, m - k, start + k, end, proof, n) != 0)
		return -1;
	return merkle_range_hash(node, arg, start, start + k, proof[(*n)++]);
}

int
merkle_prove_inclusion(merkle_node_fn node, void *arg, uint64_t index,
    uint64_t size, unsigned char (*proof)[MERKLE_HASH], size_t *nproof)
{
	*nproof = 0;
	if (index >= size)
		return -1;
	return path(node, arg, index, 0, size, proof, nproof);
}

/* SUBPROOF(m, D[start:end], b) (RFC 6962 section 2.1.2). */
static int
subproof(merkle_node_fn node, void *arg, uint64_t m, uint64_t start,
    uint64_t end, int b, unsigned char (*proof)[MERKLE_HASH], size_t *n)
{
	uint64_t k;

	if (*n >= MERKLE_MAX_PROOF)
		return -1;
	if (m == end - start) {
		if (b)
			return 0;
		return merkle_range_hash(node, arg, start, end, proof[(*n)++]);
	}
	k = split_point(end - start);
	if (m <= k) {
		if (subproof(node, arg, m, start, start + k, b, proof, n) != 0)
			return -1;
		return merkle_range_hash(node, arg, start + k, end,
		    proof[(*n)++]);
	}
	if (subproof(node, arg, m - k, start + k, end, 0, proof, n) != 0)
		return -1;
	return merkle_range_hash(node, arg, start, start + k, proof[(*n)++]);
}

int
merkle_prove_consistency(merkle_node_fn node, void *arg, uint64_t m,
    uint64_t n, unsigned char (*proof)[MERKLE_HASH], size_t *nproof)
{
	*nproof = 0;
	if (m > n)
		return -1;
	if (m == 0 || m == n)
		return 0;
	return subproof(node, arg, m, 0, n, 1, proof, nproof);
}
