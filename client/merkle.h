/*
 * RFC 6962 / RFC 9162 Merkle tree hashing and proof verification, shared by
 * the broker (which builds the tree) and the auditor (which checks it), so
 * producer and checker use one definition.
 *
 *   leaf hash:     SHA-256(0x00 || entry)
 *   interior hash: SHA-256(0x01 || left || right)
 *   MTH of n > 1 leaves: split at k, the largest power of two below n.
 */
#ifndef CB_MERKLE_H
#define CB_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
#define MERKLE_MAX_LEVELS 64
#define MERKLE_MAX_PROOF 128   /* hashes in any proof of a 2^63 tree */

void merkle_leaf_hash(const unsigned char *data, size_t len,
    unsigned char out[MERKLE_HASH]);
void merkle_node_hash(const unsigned char left[MERKLE_HASH],
    const unsigned char right[MERKLE_HASH], unsigned char out[MERKLE_HASH]);

/* SHA-256 of the empty string: the root of the empty tree. */
void merkle_empty_root(unsigned char out[MERKLE_HASH]);

/*
 * The right edge of a tree being built: one hash per set bit of size, the
 * roots of its complete subtrees, largest first. Appending is O(log n)
 * and gives the hashes of the complete subtrees it closes.
 */
struct merkle_frontier {
	uint64_t size;
	unsigned nodes;                         /* = popcount(size) */
	unsigned char hash[MERKLE_MAX_LEVELS][MERKLE_HASH];
	unsigned level[MERKLE_MAX_LEVELS];      /* height of each subtree */
};

void merkle_frontier_init(struct merkle_frontier *f);

/*
 * Appends a leaf hash. For every complete subtree the append closes
 * (including the leaf itself at level 0), calls emit(arg, level, index,
 * hash), where index counts subtrees of that level from the left; emit
 * returns 0, or non-zero to stop (the frontier is then unchanged).
 * Returns 0 or emit's non-zero value.
 */
int merkle_frontier_append(struct merkle_frontier *f,
    const unsigned char leaf[MERKLE_HASH],
    int (*emit)(void *arg, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH]), void *arg);

/* The root (MTH) of the tree so far. */
void merkle_frontier_root(const struct merkle_frontier *f,
    unsigned char out[MERKLE_HASH]);

/*
 * Verifies an inclusion proof (RFC 9162 section 2.1.3.2) that leaf hash
 * `leaf` is entry `index` of the tree of `size` with root `root`.
 * Returns 0 when it holds, -1 otherwise.
 */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
    const unsigned char leaf[MERKLE_HASH],
    const unsigned char (*proof)[MERKLE_HASH], size_t nproof,
    const unsigned char root[MERKLE_HASH]);

/*
 * Verifies a consistency proof (RFC 9162 section 2.1.4.2) between the tree
 * of size1 with root1 and the tree of size2 >= size1 with root2.
 * Returns 0 when it holds, -1 otherwise.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const unsigned char root1[MERKLE_HASH],
    const unsigned char root2[MERKLE_HASH],
    const unsigned char (*proof)[MERKLE_HASH], size_t nproof);

/*
 * A source of subtree hashes for building proofs: fills out with the hash
 * of the complete, aligned subtree at (level, index); 0 or -1.
 */
typedef int (*merkle_node_fn)(void *arg, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH]);

/* MTH of leaves [start, end) from stored complete subtrees; 0 or -1. */
int merkle_range_hash(merkle_node_fn node, void *arg, uint64_t start,
    uint64_t end, unsigned char out[MERKLE_HASH]);

/*
 * Builds the inclusion proof of index in the tree of size (RFC 9162
 * PATH), O(log n) node lookups. *nproof gets the count. 0 or -1.
 */
int merkle_prove_inclusion(merkle_node_fn node, void *arg, uint64_t index,
    uint64_t size, unsigned char (*proof)[MERKLE_HASH], size_t *nproof);

/* Builds the consistency proof between sizes m <= n (RFC 9162 PROOF). */
int merkle_prove_consistency(merkle_node_fn node, void *arg, uint64_t m,
    uint64_t n, unsigned char (*proof)[MERKLE_HASH], size_t *nproof);

#endif
