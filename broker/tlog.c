/*
 * The audit log: Merkle tree in the store, frontier in memory, checkpoints.
 *
 * The subject pseudonym is HMAC-SHA256 with the log's secret, computed from
 * SHA-256 states keyed once at open (RFC 2104's inner and outer pads). The
 * low-level SHA256_* calls are deprecated in OpenSSL 3 but remain the
 * cheapest way to copy a keyed state: HMAC() fetches the algorithms and
 * keys a fresh context on every call, about ten times the cost, and it is
 * paid once per token and per consent change.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <limits.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "b64.h"
#include "fsu.h"
#include "pki.h"

#include "jsonu.h"
#include "timeu.h"
#include "tlog.h"
#include "writer.h"

struct tlog {
	struct store *store;
	EVP_PKEY *key;
	struct note_vkey vk;
	SHA256_CTX pseudo_in, pseudo_out;  /* keyed HMAC pads, read-only */
	struct merkle_frontier f;          /* writer's, incl. uncommitted */
	pthread_mutex_t mu;                /* guards what follows */
	struct merkle_frontier committed;
	uint64_t signed_size;
	int64_t signed_at_us;
	char *note;                        /* latest checkpoint */
	struct tlog_mark group_mark, op_mark;  /* writer hooks' */
	int interval_ms;
};

void
tlog_entry_key(uint64_t index, char out[24])
{
	snprintf(out, 24, "%016" PRIx64, index);
}

/*
 * The key of the subtree at level and index (within the level): the index
 * of its last entry, then its level. Every subtree an append completes
 * ends at the appended entry, so a group's new nodes lie side by side at
 * the end of the table, on one leaf page, instead of one leaf per level.
 */
static void
node_key(unsigned level, uint64_t index, char out[32])
{
	snprintf(out, 32, "%016" PRIx64 ":%02u",
	    ((index + 1) << level) - 1, level);
}

/* The key older stores used: level, then index within the level. */
static void
node_key_v0(unsigned level, uint64_t index, char out[32])
{
	snprintf(out, 32, "%02u:%016" PRIx64, level, index);
}

struct node_ctx {
	struct store_txn *txn;
	enum store_err err;
};

static int
get_node(void *arg, unsigned level, uint64_t index,
    unsigned char out[MERKLE_HASH])
{
	struct node_ctx *c = arg;
	const unsigned char *v;
	char key[32];
	size_t n;

	node_key(level, index, key);
	c->err = store_get_raw(c->txn, ST_LOG_NODES, key, &v, &n);
	if (c->err == STORE_NOTFOUND) {
		/* Written by an older version, kept where it was. */
		node_key_v0(level, index, key);
		c->err = store_get_raw(c->txn, ST_LOG_NODES, key, &v, &n);
	}
	if (c->err == STORE_OK && n != MERKLE_HASH)
		c->err = STORE_CORRUPT;
	if (c->err != STORE_OK)
		return -1;
	memcpy(out, v, MERKLE_HASH);
	return 0;
}

static int
put_node(void *arg, unsigned level, uint64_t index,
    const unsigned char hash[MERKLE_HASH])
{
	struct node_ctx *c = arg;
	char key[32];

	node_key(level, index, key);
	c->err = store_put_raw(c->txn, ST_LOG_NODES, key, hash, MERKLE_HASH);
	return c->err != STORE_OK;
}

enum store_err
tlog_size(struct store_txn *txn, uint64_t *size)
{
	char key[32], *end;
	enum store_err rc;
	unsigned long long v;

	rc = store_last_key(txn, ST_LOG_ENTRIES, key, sizeof(key));
	if (rc == STORE_NOTFOUND) {
		*size = 0;
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	v = strtoull(key, &end, 16);
	if (*end != '\0' || strlen(key) != 16)
		return STORE_CORRUPT;
	*size = (uint64_t)v + 1;
	return STORE_OK;
}

/* Rebuilds the frontier of a tree of size from its stored subtrees. */
static enum store_err
load_frontier(struct store_txn *txn, uint64_t size, struct merkle_frontier *f)
{
	struct node_ctx c = { txn, STORE_OK };
	uint64_t start = 0;
	int lvl;

	merkle_frontier_init(f);
	for (lvl = MERKLE_MAX_LEVELS - 1; lvl >= 0; lvl--) {
		if (!((size >> lvl) & 1))
			continue;
		if (get_node(&c, (unsigned)lvl, start >> lvl,
		    f->hash[f->nodes]) != 0)
			return c.err != STORE_OK ? c.err : STORE_CORRUPT;
		f->level[f->nodes] = (unsigned)lvl;
		f->nodes++;
		start += (uint64_t)1 << lvl;
	}
	f->size = size;
	return STORE_OK;
}

_Static_assert(TLOG_SECRET_LEN <= SHA256_CBLOCK,
    "the pseudonym secret fits one SHA-256 block, unhashed");

/* RFC 2104 with a key shorter than SHA-256's 64-byte block. */
static void
pseudonym_key(struct tlog *l, const unsigned char secret[TLOG_SECRET_LEN])
{
	unsigned char pad[SHA256_CBLOCK];
	size_t i;

	memset(pad, 0x36, sizeof(pad));
	for (i = 0; i < TLOG_SECRET_LEN; i++)
		pad[i] ^= secret[i];
	SHA256_Init(&l->pseudo_in);
	SHA256_Update(&l->pseudo_in, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (i = 0; i < TLOG_SECRET_LEN; i++)
		pad[i] ^= secret[i];
	SHA256_Init(&l->pseudo_out);
	SHA256_Update(&l->pseudo_out, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

struct tlog *
tlog_open(struct store *s, const char *origin, EVP_PKEY *key,
    const unsigned char secret[TLOG_SECRET_LEN], char *err, size_t errlen)
{
	struct store_txn *txn = NULL;
	struct tlog *l;
	json_t *meta = NULL;
	const char *note;
	enum store_err rc;
	uint64_t size;

	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&l->mu, NULL);
	l->store = s;
	pseudonym_key(l, secret);
	if (note_vkey_from_pkey(origin, key, &l->vk) != 0) {
		snprintf(err, errlen, "log origin '%s' is not a valid key name "
		    "(no spaces or '+'), or the log key is not Ed25519", origin);
		goto fail;
	}
	if (EVP_PKEY_up_ref(key) != 1)
		goto fail;
	l->key = key;
	rc = store_begin(s, 0, &txn);
	if (rc == STORE_OK)
		rc = tlog_size(txn, &size);
	if (rc == STORE_OK)
		rc = load_frontier(txn, size, &l->f);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "audit log: %s", store_strerror(rc));
		goto fail;
	}
	l->committed = l->f;
	if (store_get(txn, ST_LOG_META, "checkpoint", &meta) == STORE_OK &&
	    jsonu_get_str(meta, "note", &note) == 0) {
		struct checkpoint cp;
		char why[128];
		size_t tl;

		if (note_verify(note, strlen(note), &l->vk, &tl, why,
		    sizeof(why)) == 0 &&
		    checkpoint_parse(note, tl, &cp, why, sizeof(why)) == 0) {
			l->note = strdup(note);
			l->signed_size = cp.size;
		}
	}
	json_decref(meta);
	store_abort(txn);
	l->signed_at_us = timeu_mono_us();
	return l;
fail:
	json_decref(meta);
	store_abort(txn);
	tlog_free(l);
	return NULL;
}

#define LOG_KEY_FILE "keys/log-ed25519.key"
#define PSEUDONYM_FILE "keys/pseudonym.key"

int
tlog_create_secret(const char *data_dir)
{
	unsigned char r[TLOG_SECRET_LEN];
	char path[PATH_MAX], hex[2 * TLOG_SECRET_LEN + 2];
	int rc;

	if (fsu_join(path, sizeof(path), data_dir, PSEUDONYM_FILE) != 0 ||
	    RAND_bytes(r, sizeof(r)) != 1) {
		errno = EIO;
		return -1;
	}
	hex_encode(r, sizeof(r), hex);
	hex[2 * TLOG_SECRET_LEN] = '\n';
	hex[2 * TLOG_SECRET_LEN + 1] = '\0';
	rc = fsu_write_file(path, hex, 2 * TLOG_SECRET_LEN + 1, 0600, 1);
	OPENSSL_cleanse(r, sizeof(r));
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

struct tlog *
tlog_open_dir(struct store *s, const char *data_dir, const char *origin,
    char *err, size_t errlen)
{
	unsigned char secret[TLOG_SECRET_LEN];
	char path[PATH_MAX], why[256], *text = NULL;
	EVP_PKEY *key = NULL;
	struct tlog *l = NULL;
	size_t len;

	if (fsu_join(path, sizeof(path), data_dir, LOG_KEY_FILE) != 0 ||
	    (key = pki_load_key(path, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "audit log key: %s", why);
		goto out;
	}
	if (fsu_join(path, sizeof(path), data_dir, PSEUDONYM_FILE) != 0 ||
	    fsu_read_file(path, 256, &text, &len) != 0) {
		snprintf(err, errlen, "%s/%s: %s", data_dir, PSEUDONYM_FILE,
		    strerror(errno));
		goto out;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len != 2 * TLOG_SECRET_LEN ||
	    hex_decode(text, len, secret, sizeof(secret)) != 0) {
		snprintf(err, errlen, "%s/%s: not %d hex digits", data_dir,
		    PSEUDONYM_FILE, 2 * TLOG_SECRET_LEN);
		goto out;
	}
	l = tlog_open(s, origin, key, secret, err, errlen);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	EVP_PKEY_free(key);
	return l;
}

void
tlog_free(struct tlog *l)
{
	if (l == NULL)
		return;
	EVP_PKEY_free(l->key);
	OPENSSL_cleanse(&l->pseudo_in, sizeof(l->pseudo_in));
	OPENSSL_cleanse(&l->pseudo_out, sizeof(l->pseudo_out));
	free(l->note);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void
tlog_pseudonym(const struct tlog *l, const char *subject,
    unsigned char out[32])
{
	unsigned char inner[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	c = l->pseudo_in;
	SHA256_Update(&c, subject, strlen(subject));
	SHA256_Final(inner, &c);
	c = l->pseudo_out;
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);
	OPENSSL_cleanse(&c, sizeof(c));
}

enum store_err
tlog_append(struct tlog *l, struct store_txn *txn, const unsigned char *data,
    size_t len, uint64_t *index)
{
	struct node_ctx c = { txn, STORE_OK };
	unsigned char leaf[MERKLE_HASH];
	char key[24];
	enum store_err rc;

	tlog_entry_key(l->f.size, key);
	rc = store_put_raw(txn, ST_LOG_ENTRIES, key, data, len);
	if (rc != STORE_OK)
		return rc;
	merkle_leaf_hash(data, len, leaf);
	*index = l->f.size;
	if (merkle_frontier_append(&l->f, leaf, put_node, &c) != 0)
		return c.err != STORE_OK ? c.err : STORE_IO;
	return STORE_OK;
}

void
tlog_mark(const struct tlog *l, struct tlog_mark *m)
{
	m->f = l->f;
}

void
tlog_rollback(struct tlog *l, const struct tlog_mark *m)
{
	l->f = m->f;
}

void
tlog_committed(struct tlog *l)
{
	pthread_mutex_lock(&l->mu);
	l->committed = l->f;
	pthread_mutex_unlock(&l->mu);
}

int
tlog_maybe_checkpoint(struct tlog *l, int interval_ms, int force,
    long *next_ms)
{
	struct checkpoint cp;
	struct store_txn *txn = NULL;
	char text[512], *note = NULL;
	int64_t now = timeu_mono_us(), due;
	json_t *meta = NULL;
	int rc = -1;

	pthread_mutex_lock(&l->mu);
	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", l->vk.name);
	cp.size = l->committed.size;
	merkle_frontier_root(&l->committed, cp.root);
	due = l->signed_at_us + (int64_t)interval_ms * 1000;
	if (l->note != NULL && (cp.size == l->signed_size || (!force &&
	    now < due))) {
		if (next_ms != NULL)
			*next_ms = cp.size == l->signed_size ? -1 :
			    (long)((due - now) / 1000) + 1;
		pthread_mutex_unlock(&l->mu);
		return 0;
	}
	pthread_mutex_unlock(&l->mu);
	if (next_ms != NULL)
		*next_ms = -1;
	if (checkpoint_text(&cp, text, sizeof(text)) != 0 ||
	    note_sign(text, l->vk.name, l->key, &note) != 0)
		goto out;
	meta = json_pack("{s:s}", "note", note);
	if (meta == NULL || store_begin(l->store, 1, &txn) != STORE_OK ||
	    store_put(txn, ST_LOG_META, "checkpoint", meta) != STORE_OK)
		goto out;
	if (store_commit(txn) != STORE_OK) {
		txn = NULL;
		goto out;
	}
	txn = NULL;
	pthread_mutex_lock(&l->mu);
	free(l->note);
	l->note = note;
	note = NULL;
	l->signed_size = cp.size;
	l->signed_at_us = now;
	pthread_mutex_unlock(&l->mu);
	rc = 0;
out:
	store_abort(txn);
	json_decref(meta);
	free(note);
	return rc;
}

char *
tlog_checkpoint_note(struct tlog *l)
{
	char *s;

	pthread_mutex_lock(&l->mu);
	s = l->note != NULL ? strdup(l->note) : NULL;
	pthread_mutex_unlock(&l->mu);
	return s;
}

int
tlog_vkey(const struct tlog *l, char *out, size_t outlen)
{
	return note_vkey_format(&l->vk, out, outlen);
}

enum store_err
tlog_entry(struct store_txn *txn, uint64_t index, const unsigned char **data,
    size_t *len)
{
	char key[24];

	tlog_entry_key(index, key);
	return store_get_raw(txn, ST_LOG_ENTRIES, key, data, len);
}

enum store_err
tlog_root(struct store_txn *txn, uint64_t size, unsigned char out[MERKLE_HASH])
{
	struct node_ctx c = { txn, STORE_OK };

	if (merkle_range_hash(get_node, &c, 0, size, out) != 0)
		return c.err != STORE_OK ? c.err : STORE_CORRUPT;
	return STORE_OK;
}

enum store_err
tlog_prove_inclusion(struct store_txn *txn, uint64_t index, uint64_t size,
    unsigned char (*proof)[MERKLE_HASH], size_t *n)
{
	struct node_ctx c = { txn, STORE_OK };

	if (merkle_prove_inclusion(get_node, &c, index, size, proof, n) != 0)
		return c.err != STORE_OK ? c.err : STORE_BADKEY;
	return STORE_OK;
}

enum store_err
tlog_prove_consistency(struct store_txn *txn, uint64_t from, uint64_t to,
    unsigned char (*proof)[MERKLE_HASH], size_t *n)
{
	struct node_ctx c = { txn, STORE_OK };

	if (merkle_prove_consistency(get_node, &c, from, to, proof, n) != 0)
		return c.err != STORE_OK ? c.err : STORE_BADKEY;
	return STORE_OK;
}

static void
hook_group_begin(void *arg)
{
	struct tlog *l = arg;

	tlog_mark(l, &l->group_mark);
}

static void
hook_group_end(void *arg, int committed)
{
	struct tlog *l = arg;

	if (committed)
		tlog_committed(l);
	else
		tlog_rollback(l, &l->group_mark);
}

static void
hook_op_begin(void *arg)
{
	struct tlog *l = arg;

	tlog_mark(l, &l->op_mark);
}

static void
hook_op_end(void *arg, int kept)
{
	struct tlog *l = arg;

	if (!kept)
		tlog_rollback(l, &l->op_mark);
}

static long
hook_tick(void *arg, int force)
{
	struct tlog *l = arg;
	long next = -1;

	if (tlog_maybe_checkpoint(l, l->interval_ms, force, &next) != 0)
		return 1000;   /* could not sign or store: try again later */
	return next;
}

void
tlog_writer_hooks(struct tlog *l, int interval_ms, struct writer_hooks *out)
{
	memset(out, 0, sizeof(*out));
	l->interval_ms = interval_ms;
	out->arg = l;
	out->group_begin = hook_group_begin;
	out->group_end = hook_group_end;
	out->op_begin = hook_op_begin;
	out->op_end = hook_op_end;
	out->tick = hook_tick;
}
