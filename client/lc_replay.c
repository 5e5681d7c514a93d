/*
 * Replay cache: table "jti" maps jti -> exp (8 bytes big-endian), table
 * "exp" orders (exp, jti) so expired entries are forgotten cheaply.
 * The environment runs with MDB_NOSYNC: an entry survives the provider
 * process crashing (it is in the page cache), and LMDB stays consistent, but
 * a power failure may forget the last seconds of entries. See docs/client.md.
 *
 * It also runs with MDB_WRITEMAP: a commit writes in place in the shared
 * map instead of calling pwrite per page (about 4 instead of 21 us per
 * check). LMDB then sizes data.mdb to the whole map as a sparse file, and a
 * page fault that must allocate a block on a full file system raises
 * SIGBUS. So disk is reserved ahead of LMDB (reserve()), and a full disk
 * fails a check with CONSENT_E_STORE before anything is written.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "lc_internal.h"
#include "lc_replay.h"

#define JTI_MAX 128
/* Disk for lock.mdb: 8 KiB with LMDB's default 126 readers; more is
 * harmless. */
#define LOCK_RESERVE_BYTES ((off_t)64 << 10)

/*
 * LC_REPLAY_HEADROOM_PAGES, the pages reserved past LMDB's last page before
 * a check writes anything, must exceed what one check's transaction can
 * take from the end of the file (a page only as it is dirtied). A check
 * makes two puts (each its root-to-leaf path plus a new page per level
 * split: 2D + 1) and up to LC_REPLAY_PURGE_BATCH deletes in each table
 * (each its path plus a sibling per level rebalanced: 2D), then updates the
 * main and free DBs and writes the free list's record (a few dozen pages:
 * FIXED_PAGES). Keys are at most 8 + JTI_MAX bytes and LMDB rebalances
 * pages below a quarter full, so a 4 KiB branch page holds at least 7 keys
 * and a tree in the 65,536 pages of the map is at most D = 7 deep
 * (TREE_DEPTH): at most 2 * 15 + 2 * 64 * 14 + 64 = 1886 pages. The
 * headroom, 4096 pages, is over twice that; the worst measured, purging 64
 * random 128-byte jtis out of 300,000 entries, was 155. With larger pages
 * the bound in pages only shrinks.
 */
#define TREE_DEPTH 7
#define FIXED_PAGES 64
#define CHECK_MAX_PAGES (2 * (2 * TREE_DEPTH + 1) + \
	2 * LC_REPLAY_PURGE_BATCH * 2 * TREE_DEPTH + FIXED_PAGES)
_Static_assert(LC_REPLAY_HEADROOM_PAGES >= 2 * CHECK_MAX_PAGES,
    "the replay cache's headroom is not twice a check's worst case");

struct lc_replay {
	MDB_env *env;
	MDB_dbi jti, exp;
	int fd;                  /* data.mdb, LMDB's */
	size_t psize;            /* LMDB's page size */
	/*
	 * Bytes of data.mdb from offset 0 this process has reserved. Read and
	 * written only inside a write transaction (LMDB's writer lock orders
	 * the threads). Another process sharing the directory may have
	 * reserved more; reserving a range again is harmless.
	 */
	size_t reserved;
};

int (*lc_replay_fallocate)(int fd, off_t off, off_t len) = posix_fallocate;

static void
put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Makes sure data.mdb is allocated on disk through LC_REPLAY_HEADROOM_PAGES
 * pages past LMDB's last page, growing the reservation by
 * LC_REPLAY_STEP_BYTES steps (clamped to the map size). Call inside a write
 * transaction, before it writes anything: the writer lock keeps other
 * processes from moving the last page meanwhile. dir names the cache in
 * the detail, or NULL. On failure nothing is written to the file; the
 * caller aborts the transaction.
 */
static consent_err
reserve(struct lc_replay *r, const char *dir)
{
	MDB_envinfo ei;
	size_t need, target;
	int rc;

	if ((rc = mdb_env_info(r->env, &ei)) != 0)
		return lc_fail(CONSENT_E_STORE, "replay cache%s%s: %s",
		    dir != NULL ? " " : "", dir != NULL ? dir : "",
		    mdb_strerror(rc));
	/* me_last_pgno < me_mapsize / psize: no overflow. */
	need = (ei.me_last_pgno + 1 + LC_REPLAY_HEADROOM_PAGES) * r->psize;
	if (need > ei.me_mapsize)
		need = ei.me_mapsize;
	if (need <= r->reserved)
		return CONSENT_OK;
	target = (need + LC_REPLAY_STEP_BYTES - 1) / LC_REPLAY_STEP_BYTES *
	    LC_REPLAY_STEP_BYTES;
	if (target > ei.me_mapsize)
		target = ei.me_mapsize;
	assert(target > r->reserved);
	do
		rc = lc_replay_fallocate(r->fd, (off_t)r->reserved,
		    (off_t)(target - r->reserved));
	while (rc == EINTR);
	if (rc != 0)
		return lc_fail(CONSENT_E_STORE, "replay cache%s%s: cannot "
		    "reserve %zu bytes of disk for data.mdb: %s",
		    dir != NULL ? " " : "", dir != NULL ? dir : "", target,
		    strerror(rc));
	r->reserved = target;
	return CONSENT_OK;
}

/*
 * LMDB sizes lock.mdb with ftruncate and writes it through a shared map, so
 * the first open of a new cache on a full file system would die of SIGBUS
 * (with or without MDB_WRITEMAP). Allocates its blocks first, without
 * changing its size: LMDB takes the number of reader slots from the size.
 * A file system without fallocate(2) is left to chance.
 */
static consent_err
reserve_lock(const char *dir)
{
	char path[PATH_MAX];
	int fd, rc;

	rc = snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	if (rc < 0 || (size_t)rc >= sizeof(path))
		return lc_fail(CONSENT_E_STORE, "replay cache %s: path too long",
		    dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return lc_fail(CONSENT_E_STORE, "replay cache %s: %s", path,
		    strerror(errno));
	do
		rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0,
		    LOCK_RESERVE_BYTES) == 0 ? 0 : errno;
	while (rc == EINTR);
	close(fd);
	if (rc != 0 && rc != EOPNOTSUPP)
		return lc_fail(CONSENT_E_STORE, "replay cache %s: cannot "
		    "reserve disk for lock.mdb: %s", dir, strerror(rc));
	return CONSENT_OK;
}

struct lc_replay *
lc_replay_open(const char *dir)
{
	struct lc_replay *r;
	MDB_txn *txn = NULL;
	MDB_stat st;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    strerror(errno));
		return NULL;
	}
	if (reserve_lock(dir) != CONSENT_OK)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		lc_fail(CONSENT_E_NOMEM, "out of memory");
		return NULL;
	}
	r->fd = -1;
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(r->env, LC_REPLAY_MAP_BYTES)) != 0 ||
	    (rc = mdb_env_open(r->env, dir, MDB_NOTLS | MDB_NOSYNC |
	    MDB_WRITEMAP, 0600)) != 0 ||
	    (rc = mdb_env_get_fd(r->env, &r->fd)) != 0 ||
	    (rc = mdb_env_stat(r->env, &st)) != 0 ||
	    (rc = mdb_txn_begin(r->env, NULL, 0, &txn)) != 0) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	r->psize = st.ms_psize;
	/* Before the first write: creating the tables below writes pages. */
	if (reserve(r, dir) != CONSENT_OK)
		goto fail;
	if ((rc = mdb_dbi_open(txn, "jti", MDB_CREATE, &r->jti)) != 0 ||
	    (rc = mdb_dbi_open(txn, "exp", MDB_CREATE, &r->exp)) != 0) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	return r;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	lc_replay_close(r);
	return NULL;
}

void
lc_replay_close(struct lc_replay *r)
{
	if (r == NULL)
		return;
	if (r->env != NULL) {
		mdb_env_sync(r->env, 1);
		mdb_env_close(r->env);
	}
	free(r);
}

/* Deletes up to LC_REPLAY_PURGE_BATCH entries with exp < now. */
static int
purge(struct lc_replay *r, MDB_txn *txn, int64_t now)
{
	MDB_cursor *cur;
	MDB_val k, v, jk, jv;
	int rc, n = 0;

	if ((rc = mdb_cursor_open(txn, r->exp, &cur)) != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && n < LC_REPLAY_PURGE_BATCH && k.mv_size > 8 &&
	    (int64_t)get_be64(k.mv_data) < now) {
		jk.mv_data = (unsigned char *)k.mv_data + 8;
		jk.mv_size = k.mv_size - 8;
		/* Forget the jti only if this is still its expiry. */
		rc = mdb_get(txn, r->jti, &jk, &jv);
		if (rc == 0 && jv.mv_size == 8 &&
		    memcmp(jv.mv_data, k.mv_data, 8) == 0)
			rc = mdb_del(txn, r->jti, &jk, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
		n++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

consent_err
lc_replay_check(struct lc_replay *r, const char *jti, int64_t exp,
    int64_t now)
{
	unsigned char ebuf[8], kbuf[8 + JTI_MAX];
	size_t jlen = strlen(jti);
	MDB_val k, v, ek;
	MDB_txn *txn = NULL;
	consent_err err;
	int rc;

	if (jlen == 0 || jlen > JTI_MAX)
		return lc_fail(CONSENT_E_MALFORMED, "jti of %zu bytes", jlen);
	if ((rc = mdb_txn_begin(r->env, NULL, 0, &txn)) != 0)
		goto fail;
	k.mv_data = (void *)(uintptr_t)jti;
	k.mv_size = jlen;
	rc = mdb_get(txn, r->jti, &k, &v);
	if (rc == 0 && v.mv_size == 8 && (int64_t)get_be64(v.mv_data) >= now) {
		mdb_txn_abort(txn);
		return lc_fail(CONSENT_E_REPLAYED,
		    "jti %s was already presented", jti);
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	/* After the lookup, so that a replay is refused as one on a full
	 * disk; before the first write. */
	if ((err = reserve(r, NULL)) != CONSENT_OK) {
		mdb_txn_abort(txn);
		return err;
	}
	put_be64(ebuf, (uint64_t)exp);
	v.mv_data = ebuf;
	v.mv_size = 8;
	if ((rc = mdb_put(txn, r->jti, &k, &v, 0)) != 0)
		goto fail;
	memcpy(kbuf, ebuf, 8);
	memcpy(kbuf + 8, jti, jlen);
	ek.mv_data = kbuf;
	ek.mv_size = 8 + jlen;
	v.mv_size = 0;
	v.mv_data = NULL;
	if ((rc = mdb_put(txn, r->exp, &ek, &v, 0)) != 0)
		goto fail;
	if ((rc = purge(r, txn, now)) != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		goto fail;
	return CONSENT_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return lc_fail(CONSENT_E_STORE, "replay cache: %s", mdb_strerror(rc));
}

size_t
lc_replay_count(struct lc_replay *r)
{
	MDB_txn *txn;
	MDB_stat st;

	if (mdb_txn_begin(r->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_stat(txn, r->jti, &st) != 0)
		st.ms_entries = 0;
	mdb_txn_abort(txn);
	return st.ms_entries;
}
