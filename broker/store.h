/*
 * The broker's store: named tables of JSON records under string keys, read
 * in snapshots and written in transactions. LMDB is the embedded backend
 * (store_lmdb.c); the interface is kept narrow (get, put, delete, prefix
 * scan, nested savepoints) so a replicated SQL database can sit behind it.
 */
#ifndef CB_STORE_H
#define CB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum store_err {
	STORE_OK = 0,
	STORE_NOTFOUND,   /* no record under that key */
	STORE_EXISTS,     /* put_new on a key that has a record */
	STORE_FULL,       /* the store is out of space: retry later (503) */
	STORE_CORRUPT,    /* a stored record is not valid JSON */
	STORE_BUSY,       /* too many readers */
	STORE_IO,         /* any other backend failure */
	STORE_NOMEM,
	STORE_BADKEY      /* empty, too long, or a control character */
};

/* Tables. Keys are printable strings; STORE_SEP joins parts of a key. */
enum store_table {
	ST_META = 0,        /* "schema" -> {"version": N}                    */
	ST_PARTIES,         /* party id -> party record                      */
	ST_PINS,            /* SPKI pin hex -> {"party": id}                 */
	ST_AGREEMENTS,      /* id SEP %010u version -> agreement record      */
	ST_CONSENTS,        /* consent id -> consent record                  */
	ST_CONSENT_INDEX,   /* subject SEP agreement SEP consent id -> {}    */
	ST_TOKENS,          /* jti -> issued token record                    */
	ST_COUNTERS,        /* subject SEP agreement SEP day -> {"n": N}     */
	ST_LOG_ENTRIES,     /* %016llx index -> entry bytes (raw)            */
	ST_LOG_NODES,       /* %016llx:%02u last entry:level -> 32-byte hash (raw) */
	ST_LOG_META,        /* "checkpoint" -> {"note": "..."}               */
	ST_STATUS_META,     /* "next", "list:%u", "seen" SEP party SEP list  */
	ST_STATUS_BITS,     /* %08x:%06x list:chunk -> 4096 bytes (raw)      */
	ST_STATUS_OUT,      /* outstanding tokens by agreement, party, expiry */
	ST_SUBJECT_TOKENS,  /* subject SEP %012lld iat SEP jti -> {}            */
	ST__COUNT
};

#define STORE_SEP "\x1f"
#define STORE_MAX_KEY 480   /* LMDB's default key limit is 511 bytes */
#define STORE_MAX_VALUE (256 * 1024)

struct store;
struct store_txn;

/* Static message for a code. */
const char *store_strerror(enum store_err e);

/*
 * Opens (creating when create != 0) the LMDB store in directory dir with a
 * map of map_bytes. The store is shared by every thread. NULL with a reason
 * in err.
 */
struct store *store_open_lmdb(const char *dir, size_t map_bytes, int create,
    char *err, size_t errlen);

/* Closes s; every transaction must have ended. NULL is a no-op. */
void store_close(struct store *s);

/*
 * Begins a read snapshot (write == 0) or the write transaction (write != 0,
 * one at a time per process: the writer thread owns it). Read snapshots are
 * cheap and may be used from any thread, one thread at a time.
 */
enum store_err store_begin(struct store *s, int write, struct store_txn **out);

/*
 * Begins a nested transaction (savepoint) inside a write transaction; the
 * parent must not be used until the child is committed or aborted.
 */
enum store_err store_begin_nested(struct store_txn *parent,
    struct store_txn **out);

/*
 * Commits (durably, for the outermost write transaction) and frees txn.
 * On failure nothing of txn is kept and txn is freed all the same.
 * Ending a read snapshot with commit is the same as abort.
 */
enum store_err store_commit(struct store_txn *txn);

/*
 * Deferred sync, for the writer's group commit. With it on, committing an
 * outermost write transaction writes and syncs its data but not the small
 * record that makes it current: that reaches the disk with the next
 * commit that writes anything (its sync covers it) or with store_sync.
 * A crash may then lose the last commit; it never corrupts the store.
 * Other threads see a commit as soon as it returns, before it is durable.
 */
enum store_err store_defer_sync(struct store *s, int on);

/* Makes every commit so far durable. */
enum store_err store_sync(struct store *s);

/*
 * As store_commit; *flushed is 1 when the commit synced the disk (every
 * earlier commit is durable from then on), 0 when it wrote nothing.
 */
enum store_err store_commit_flushed(struct store_txn *txn, int *flushed);

/* Abandons and frees txn; NULL is a no-op. */
void store_abort(struct store_txn *txn);

/*
 * Reads the record under key. *out gets a new reference the caller
 * decrefs. STORE_NOTFOUND when absent.
 */
enum store_err store_get(struct store_txn *txn, enum store_table t,
    const char *key, json_t **out);

/* Writes (replacing) the record under key. */
enum store_err store_put(struct store_txn *txn, enum store_table t,
    const char *key, const json_t *value);

/* Writes the record only if key has none; STORE_EXISTS otherwise. */
enum store_err store_put_new(struct store_txn *txn, enum store_table t,
    const char *key, const json_t *value);

/*
 * Writes a record the caller has already serialized: text[0..len), one
 * compact JSON object, as store_put would write its value (the caller
 * vouches that it is JSON; readers parse it with store_get). nooverwrite:
 * as store_put_new. STORE_FULL when longer than STORE_MAX_VALUE.
 */
enum store_err store_put_text(struct store_txn *txn, enum store_table t,
    const char *key, const char *text, size_t len, int nooverwrite);

/* Deletes the record under key; STORE_NOTFOUND when absent. */
enum store_err store_del(struct store_txn *txn, enum store_table t,
    const char *key);

/*
 * Raw records (tables ST_LOG_ENTRIES and ST_LOG_NODES hold bytes, not
 * JSON). store_get_raw's *val borrows the store's memory until txn ends.
 */
enum store_err store_get_raw(struct store_txn *txn, enum store_table t,
    const char *key, const unsigned char **val, size_t *vallen);
enum store_err store_put_raw(struct store_txn *txn, enum store_table t,
    const char *key, const void *val, size_t vallen);

/* The last key of table t (keys are fixed-width, so the greatest) into
 * out; STORE_NOTFOUND when the table is empty. */
enum store_err store_last_key(struct store_txn *txn, enum store_table t,
    char *out, size_t outlen);

/*
 * Calls fn for each record whose key starts with prefix, in key order
 * (reverse order when reverse != 0), until fn returns non-zero (which
 * stops the scan and is not an error) or limit records were seen
 * (0: no limit). value is borrowed for the call only.
 */
typedef int (*store_scan_fn)(void *arg, const char *key, size_t keylen,
    json_t *value);
enum store_err store_scan(struct store_txn *txn, enum store_table t,
    const char *prefix, int reverse, size_t limit, store_scan_fn fn,
    void *arg);

/* As store_scan, but with the stored bytes (borrowed for the call). */
typedef int (*store_scan_raw_fn)(void *arg, const char *key, size_t keylen,
    const unsigned char *val, size_t vallen);
enum store_err store_scan_raw(struct store_txn *txn, enum store_table t,
    const char *prefix, int reverse, size_t limit, store_scan_raw_fn fn,
    void *arg);

/* The last SEP-separated part of key (an index key's record id) into out;
 * 0, or -1 when there is none or it does not fit. */
int store_key_last(const char *key, size_t keylen, char *out, size_t outlen);

/* Builds "a SEP b [SEP c]" into out; 0, or -1 (too long or bad part). */
int store_key2(char *out, size_t outlen, const char *a, const char *b);
int store_key3(char *out, size_t outlen, const char *a, const char *b,
    const char *c);

/* Backend vtable; one per backend, see store_lmdb.c. */
struct store_ops {
	const char *name;
	void (*close)(struct store *s);
	enum store_err (*begin)(struct store *s, struct store_txn *parent,
	    int write, struct store_txn **out);
	enum store_err (*commit)(struct store_txn *txn, int *flushed);
	enum store_err (*sync)(struct store *s);
	enum store_err (*defer_sync)(struct store *s, int on);
	void (*abort)(struct store_txn *txn);
	enum store_err (*get)(struct store_txn *txn, enum store_table t,
	    const char *key, size_t keylen, const char **val, size_t *vallen);
	enum store_err (*put)(struct store_txn *txn, enum store_table t,
	    const char *key, size_t keylen, const char *val, size_t vallen,
	    int nooverwrite);
	enum store_err (*del)(struct store_txn *txn, enum store_table t,
	    const char *key, size_t keylen);
	enum store_err (*scan)(struct store_txn *txn, enum store_table t,
	    const char *prefix, size_t prefixlen, int reverse, size_t limit,
	    int (*fn)(void *arg, const char *key, size_t keylen,
		const char *val, size_t vallen), void *arg);
};

/* The header every backend's handles start with. */
struct store {
	const struct store_ops *ops;
};

struct store_txn {
	struct store *store;
	int write;
};

#endif
