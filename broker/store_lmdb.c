/* The embedded store backend: one LMDB environment, one named DB per table. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "store.h"

#define LMDB_MAX_READERS 512

static const char *const table_names[ST__COUNT] = {
	[ST_META] = "meta",
	[ST_PARTIES] = "parties",
	[ST_PINS] = "pins",
	[ST_AGREEMENTS] = "agreements",
	[ST_CONSENTS] = "consents",
	[ST_CONSENT_INDEX] = "consent_index",
	[ST_TOKENS] = "tokens",
	[ST_COUNTERS] = "counters",
	[ST_LOG_ENTRIES] = "log_entries",
	[ST_LOG_NODES] = "log_nodes",
	[ST_LOG_META] = "log_meta",
	[ST_STATUS_META] = "status_meta",
	[ST_STATUS_BITS] = "status_bits",
	[ST_STATUS_OUT] = "status_out",
	[ST_SUBJECT_TOKENS] = "subject_tokens",
};

struct lstore {
	struct store base;      /* first: a struct store * is a struct lstore * */
	MDB_env *env;
	MDB_dbi dbi[ST__COUNT];
	_Atomic size_t synced_id;  /* last transaction a sync covered */
};

struct ltxn {
	struct store_txn base;
	MDB_txn *txn;
	int top;                /* an outermost write transaction */
};

static enum store_err
map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return STORE_OK;
	case MDB_NOTFOUND:
		return STORE_NOTFOUND;
	case MDB_KEYEXIST:
		return STORE_EXISTS;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case ENOSPC:
		return STORE_FULL;
	case MDB_READERS_FULL:
		return STORE_BUSY;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		return STORE_CORRUPT;
	case ENOMEM:
		return STORE_NOMEM;
	default:
		return STORE_IO;
	}
}

static void
l_close(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;

	if (ls->env != NULL)
		mdb_env_close(ls->env);
	free(ls);
}

static enum store_err
l_begin(struct store *s, struct store_txn *parent, int write,
    struct store_txn **out)
{
	struct lstore *ls = (struct lstore *)s;
	struct ltxn *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return STORE_NOMEM;
	rc = mdb_txn_begin(ls->env,
	    parent != NULL ? ((struct ltxn *)parent)->txn : NULL,
	    write ? 0 : MDB_RDONLY, &t->txn);
	if (rc != MDB_SUCCESS) {
		free(t);
		return map_err(rc);
	}
	t->base.store = s;
	t->base.write = write;
	t->top = write && parent == NULL;
	*out = &t->base;
	return STORE_OK;
}

static enum store_err
l_commit(struct store_txn *txn, int *flushed)
{
	struct ltxn *t = (struct ltxn *)txn;
	MDB_env *env = mdb_txn_env(t->txn);
	MDB_envinfo info;
	size_t id;
	int rc;

	*flushed = 0;
	if (!txn->write) {
		mdb_txn_abort(t->txn);
		free(t);
		return STORE_OK;
	}
	id = mdb_txn_id(t->txn);
	rc = mdb_txn_commit(t->txn);
	/* LMDB syncs a commit's pages before it writes the meta page that
	 * makes it the last transaction, and skips both for a transaction
	 * that changed nothing: so the last id moving to ours means a sync. */
	if (rc == MDB_SUCCESS && t->top && mdb_env_info(env, &info) == 0 &&
	    info.me_last_txnid == id)
		*flushed = 1;
	free(t);
	return map_err(rc);
}

/*
 * Skips the sync when no transaction was committed since the last one it
 * covered (a commit's meta page is written before the last id moves, so
 * a sync that starts after reading an id covers that id's commit).
 */
static enum store_err
l_sync(struct store *s)
{
	struct lstore *ls = (struct lstore *)s;
	MDB_envinfo info;
	int rc;

	if ((rc = mdb_env_info(ls->env, &info)) != 0)
		return map_err(rc);
	if (info.me_last_txnid == atomic_load(&ls->synced_id))
		return STORE_OK;
	if ((rc = mdb_env_sync(ls->env, 1)) != 0)
		return map_err(rc);
	atomic_store(&ls->synced_id, info.me_last_txnid);
	return STORE_OK;
}

static enum store_err
l_defer_sync(struct store *s, int on)
{
	/* MDB_NOMETASYNC: the meta page is written without its own sync and
	 * reaches the disk with the next commit's (or mdb_env_sync's). */
	return map_err(mdb_env_set_flags(((struct lstore *)s)->env,
	    MDB_NOMETASYNC, on != 0));
}

static void
l_abort(struct store_txn *txn)
{
	struct ltxn *t = (struct ltxn *)txn;

	mdb_txn_abort(t->txn);
	free(t);
}

static MDB_dbi
dbi_of(struct store_txn *txn, enum store_table tb)
{
	return ((struct lstore *)txn->store)->dbi[tb];
}

static enum store_err
l_get(struct store_txn *txn, enum store_table tb, const char *key,
    size_t keylen, const char **val, size_t *vallen)
{
	MDB_val k = { keylen, (void *)(uintptr_t)key }, v;
	int rc;

	rc = mdb_get(((struct ltxn *)txn)->txn, dbi_of(txn, tb), &k, &v);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	*val = v.mv_data;
	*vallen = v.mv_size;
	return STORE_OK;
}

static enum store_err
l_put(struct store_txn *txn, enum store_table tb, const char *key,
    size_t keylen, const char *val, size_t vallen, int nooverwrite)
{
	MDB_val k = { keylen, (void *)(uintptr_t)key };
	MDB_val v = { vallen, (void *)(uintptr_t)val };

	return map_err(mdb_put(((struct ltxn *)txn)->txn, dbi_of(txn, tb), &k,
	    &v, nooverwrite ? MDB_NOOVERWRITE : 0));
}

static enum store_err
l_del(struct store_txn *txn, enum store_table tb, const char *key,
    size_t keylen)
{
	MDB_val k = { keylen, (void *)(uintptr_t)key };

	return map_err(mdb_del(((struct ltxn *)txn)->txn, dbi_of(txn, tb), &k,
	    NULL));
}

static int
has_prefix(const MDB_val *k, const char *prefix, size_t prefixlen)
{
	return k->mv_size >= prefixlen &&
	    memcmp(k->mv_data, prefix, prefixlen) == 0;
}

static enum store_err
l_scan(struct store_txn *txn, enum store_table tb, const char *prefix,
    size_t prefixlen, int reverse, size_t limit,
    int (*fn)(void *, const char *, size_t, const char *, size_t), void *arg)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	char seek[STORE_MAX_KEY + 2];
	size_t seen = 0;
	enum store_err err = STORE_OK;
	int rc;

	if (prefixlen > STORE_MAX_KEY)
		return STORE_BADKEY;
	rc = mdb_cursor_open(((struct ltxn *)txn)->txn, dbi_of(txn, tb), &cur);
	if (rc != MDB_SUCCESS)
		return map_err(rc);
	if (!reverse) {
		k.mv_size = prefixlen;
		k.mv_data = (void *)(uintptr_t)prefix;
		rc = prefixlen > 0 ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
		    : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	} else {
		/* Keys never hold 0xff (not in UTF-8), so prefix+0xff is past them. */
		memcpy(seek, prefix, prefixlen);
		seek[prefixlen] = (char)0xff;
		k.mv_size = prefixlen + 1;
		k.mv_data = seek;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
		else if (rc == MDB_NOTFOUND)
			rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	while (rc == MDB_SUCCESS && has_prefix(&k, prefix, prefixlen)) {
		if (fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
			break;
		if (limit != 0 && ++seen >= limit)
			break;
		rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = map_err(rc);
	mdb_cursor_close(cur);
	return err;
}

static const struct store_ops lmdb_ops = {
	.name = "lmdb",
	.close = l_close,
	.begin = l_begin,
	.commit = l_commit,
	.abort = l_abort,
	.get = l_get,
	.put = l_put,
	.del = l_del,
	.scan = l_scan,
	.sync = l_sync,
	.defer_sync = l_defer_sync,
};

struct store *
store_open_lmdb(const char *dir, size_t map_bytes, int create, char *err,
    size_t errlen)
{
	struct lstore *ls = NULL;
	MDB_txn *txn = NULL;
	struct stat st;
	int rc, i;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (!create) {
			snprintf(err, errlen, "%s: no store here (%s)", dir,
			    strerror(errno != 0 ? errno : ENOTDIR));
			goto fail;
		}
		if (mkdir(dir, 0700) != 0) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			goto fail;
		}
	}
	ls = calloc(1, sizeof(*ls));
	if (ls == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ls->base.ops = &lmdb_ops;
	if ((rc = mdb_env_create(&ls->env)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_maxdbs(ls->env, ST__COUNT + 4)) != MDB_SUCCESS ||
	    (rc = mdb_env_set_maxreaders(ls->env, LMDB_MAX_READERS)) !=
	    MDB_SUCCESS ||
	    (rc = mdb_env_set_mapsize(ls->env, map_bytes)) != MDB_SUCCESS ||
	    (rc = mdb_env_open(ls->env, dir, MDB_NOTLS, 0600)) != MDB_SUCCESS) {
		snprintf(err, errlen, "%s: cannot open LMDB environment: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(ls->env, NULL, 0, &txn)) != MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	for (i = 0; i < ST__COUNT; i++) {
		rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE,
		    &ls->dbi[i]);
		if (rc != MDB_SUCCESS) {
			snprintf(err, errlen, "%s: table %s: %s", dir,
			    table_names[i], mdb_strerror(rc));
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != MDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	return &ls->base;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (ls != NULL)
		l_close(&ls->base);
	return NULL;
}
