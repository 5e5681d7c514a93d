/*
 * Replay cache: table "jti" maps jti -> exp (8 bytes big-endian), table
 * "exp" orders (exp, jti) so expired entries are forgotten cheaply.
 * The environment runs with MDB_NOSYNC: an entry survives the provider
 * process crashing (it is in the page cache), and LMDB stays consistent, but
 * a power failure may forget the last seconds of entries. See docs/client.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "lc_internal.h"
#include "lc_replay.h"

#define JTI_MAX 128

struct lc_replay {
	MDB_env *env;
	MDB_dbi jti, exp;
};

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

struct lc_replay *
lc_replay_open(const char *dir)
{
	struct lc_replay *r;
	MDB_txn *txn = NULL;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    strerror(errno));
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		lc_fail(CONSENT_E_NOMEM, "out of memory");
		return NULL;
	}
	if ((rc = mdb_env_create(&r->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(r->env, 2)) != 0 ||
	    (rc = mdb_env_set_mapsize(r->env, LC_REPLAY_MAP_BYTES)) != 0 ||
	    (rc = mdb_env_open(r->env, dir, MDB_NOTLS | MDB_NOSYNC, 0600)) != 0 ||
	    (rc = mdb_txn_begin(r->env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, "jti", MDB_CREATE, &r->jti)) != 0 ||
	    (rc = mdb_dbi_open(txn, "exp", MDB_CREATE, &r->exp)) != 0) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    mdb_strerror(rc));
		if (txn != NULL)
			mdb_txn_abort(txn);
		lc_replay_close(r);
		return NULL;
	}
	if ((rc = mdb_txn_commit(txn)) != 0) {
		lc_fail(CONSENT_E_STORE, "replay cache %s: %s", dir,
		    mdb_strerror(rc));
		lc_replay_close(r);
		return NULL;
	}
	return r;
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
