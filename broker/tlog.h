/*
 * The broker's audit log: an append-only RFC 6962 Merkle tree in the store
 * (entries by index, every complete subtree's hash), appended in the same
 * write transaction as the change each entry records, with signed
 * checkpoints (C2SP tlog-checkpoint, Ed25519 signed note).
 *
 * Threads: appends, marks and checkpoints happen on the writer thread (or
 * in a tool that owns the store); the published checkpoint is read by any
 * thread; proofs are built from a read snapshot by any thread.
 */
#ifndef CB_TLOG_H
#define CB_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "merkle.h"
#include "note.h"
#include "store.h"

#define TLOG_SECRET_LEN 32
#define TLOG_MAX_PAGE 1000

struct tlog;

/*
 * Opens the log kept in s: finds its size and rebuilds the right edge of
 * the tree from stored subtree hashes. origin names the log (and its key);
 * key is the Ed25519 checkpoint key (up-ref'd); secret keys subject
 * pseudonyms. NULL with a reason in err.
 */
struct tlog *tlog_open(struct store *s, const char *origin, EVP_PKEY *key,
    const unsigned char secret[TLOG_SECRET_LEN], char *err, size_t errlen);

/*
 * tlog_open with the keys of a data directory: DIR/keys/log-ed25519.key
 * (PEM) and DIR/keys/pseudonym.key (64 hex digits).
 */
struct tlog *tlog_open_dir(struct store *s, const char *data_dir,
    const char *origin, char *err, size_t errlen);

/* Creates DIR/keys/pseudonym.key with a fresh random secret (0600,
 * refusing to overwrite); 0 or -1 with errno. */
int tlog_create_secret(const char *data_dir);

void tlog_free(struct tlog *l);

/* HMAC-SHA256(secret, subject): the subject as the log shows it. */
void tlog_pseudonym(const struct tlog *l, const char *subject,
    unsigned char out[32]);

/*
 * Appends an entry inside write transaction txn; *index gets its index.
 * The in-memory tree moves on at once; if txn does not commit, restore it
 * with tlog_rollback to a mark taken before.
 */
enum store_err tlog_append(struct tlog *l, struct store_txn *txn,
    const unsigned char *data, size_t len, uint64_t *index);

struct tlog_mark {
	struct merkle_frontier f;
};
void tlog_mark(const struct tlog *l, struct tlog_mark *m);
void tlog_rollback(struct tlog *l, const struct tlog_mark *m);

/* After a commit: the tree as it now stands may be checkpointed. */
void tlog_committed(struct tlog *l);

/*
 * Signs a checkpoint of the committed tree when it grew since the last
 * one and at least interval_ms passed (or force), and stores it in its
 * own write transaction. Returns 0 (also when nothing was due) or -1.
 * *next_ms, when not NULL, gets the milliseconds until one may be due
 * (-1: none pending).
 */
int tlog_maybe_checkpoint(struct tlog *l, int interval_ms, int force,
    long *next_ms);

/* A copy of the latest signed checkpoint note (malloc'd), or NULL. */
char *tlog_checkpoint_note(struct tlog *l);

/* The verifier key of the log ("name+id+key") into out; 0 or -1. */
int tlog_vkey(const struct tlog *l, char *out, size_t outlen);

/*
 * Hooks that keep the in-memory tree in step with the writer's
 * transactions (rolled back with an operation or group that did not
 * commit) and sign checkpoints every interval_ms while entries arrive,
 * and at stop.
 */
struct writer_hooks;
void tlog_writer_hooks(struct tlog *l, int interval_ms,
    struct writer_hooks *out);

/* ---- read side: any thread, within a read snapshot ---------------------- */

/* Number of entries in the snapshot. */
enum store_err tlog_size(struct store_txn *txn, uint64_t *size);

/* Entry bytes (borrowed until txn ends). */
enum store_err tlog_entry(struct store_txn *txn, uint64_t index,
    const unsigned char **data, size_t *len);

/* Root of the first `size` entries. */
enum store_err tlog_root(struct store_txn *txn, uint64_t size,
    unsigned char out[MERKLE_HASH]);

enum store_err tlog_prove_inclusion(struct store_txn *txn, uint64_t index,
    uint64_t size, unsigned char (*proof)[MERKLE_HASH], size_t *n);

enum store_err tlog_prove_consistency(struct store_txn *txn, uint64_t from,
    uint64_t to, unsigned char (*proof)[MERKLE_HASH], size_t *n);

/* Key of entry index in ST_LOG_ENTRIES (17 bytes with NUL). */
void tlog_entry_key(uint64_t index, char out[24]);

#endif
