/* Token status lists: allocation, revocation bits, signed list tokens. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "b64.h"
#include "config.h"
#include "jsonu.h"
#include "jtok.h"
#include "jws.h"
#include "status.h"
#include "timeu.h"

#define STATUS_CACHE 16

struct cached_list {
	uint32_t list;
	uint64_t version;
	int64_t iat;
	char *token;
};

struct status {
	_Atomic uint64_t next;
	pthread_mutex_t mu;
	struct cached_list cache[STATUS_CACHE];
};

struct status *
status_open(struct store *s, char *err, size_t errlen)
{
	struct store_txn *txn = NULL;
	struct status *st;
	json_t *rec = NULL;
	int64_t next = 0;
	enum store_err rc;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->mu, NULL);
	rc = store_begin(s, 0, &txn);
	if (rc == STORE_OK) {
		rc = store_get(txn, ST_STATUS_META, "next", &rec);
		if (rc == STORE_OK && jsonu_get_int(rec, "n", &next) != 0)
			rc = STORE_CORRUPT;
		if (rc == STORE_NOTFOUND)
			rc = STORE_OK;
	}
	store_abort(txn);
	json_decref(rec);
	if (rc != STORE_OK || next < 0) {
		snprintf(err, errlen, "status list: %s", store_strerror(rc));
		status_free(st);
		return NULL;
	}
	atomic_store(&st->next, (uint64_t)next);
	return st;
}

void
status_free(struct status *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < STATUS_CACHE; i++)
		free(st->cache[i].token);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

uint64_t
status_alloc(struct status *st)
{
	return atomic_fetch_add(&st->next, 1);
}

int
status_uri(const char *issuer, uint64_t index, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/v1/status/%" PRIu64, issuer,
	    index / STATUS_LIST_CAP);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void
chunk_key(uint32_t list, uint32_t chunk, char out[24])
{
	snprintf(out, 24, "%08" PRIx32 ":%06" PRIx32, list, chunk);
}

static void
list_key(uint32_t list, char out[24])
{
	snprintf(out, 24, "list:%" PRIu32, list);
}

/* v is the record already serialized: one token writes it three times. */
static enum store_err
put_out(struct store_txn *txn, const char *key, const char *v)
{
	return store_put_raw(txn, ST_STATUS_OUT, key, v, strlen(v));
}

/*
 * Up to two integer members of a status_meta record ("next" or a list's)
 * into *v1 and *v2 (v2 may be NULL), read without building JSON values:
 * every token's commit reads both. A missing record or member reads as 0;
 * a record that is not JSON is STORE_CORRUPT.
 */
static enum store_err
meta_ints(struct store_txn *txn, const char *key, const char *m1,
    int64_t *v1, const char *m2, int64_t *v2)
{
	const unsigned char *raw;
	struct jtok tok[8];
	struct jtok_doc d;
	char err[64];
	size_t n;
	enum store_err rc;

	*v1 = 0;
	if (v2 != NULL)
		*v2 = 0;
	rc = store_get_raw(txn, ST_STATUS_META, key, &raw, &n);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	if (jtok_parse(&d, (const char *)raw, n, tok, sizeof(tok) /
	    sizeof(tok[0]), 1, err, sizeof(err)) != JTOK_OK)
		return STORE_CORRUPT;
	if (jtok_get_int(&d, 0, m1, v1) != 0)
		*v1 = 0;
	if (v2 != NULL && jtok_get_int(&d, 0, m2, v2) != 0)
		*v2 = 0;
	return STORE_OK;
}

enum store_err
status_track(struct store_txn *txn, uint64_t index, const char *jti,
    int64_t exp, const char *agreement, uint32_t version, const char *client)
{
	char key[STORE_MAX_KEY + 1], ver[16], expk[24], lk[24], *v = NULL;
	char num[64];
	struct jsonu_buf vb = { 0 };
	int64_t n = 0, size = 0, lver = 0;
	uint32_t list = (uint32_t)(index / STATUS_LIST_CAP);
	enum store_err rc;

	/* {"i":,"exp":,"a":,"v":,"p":}, written directly: on every token's
	 * commit. */
	jsonu_buf_lit(&vb, "{\"i\":");
	jsonu_buf_int(&vb, (int64_t)index);
	jsonu_buf_lit(&vb, ",\"exp\":");
	jsonu_buf_int(&vb, exp);
	jsonu_buf_lit(&vb, ",\"a\":");
	jsonu_buf_str(&vb, agreement);
	jsonu_buf_lit(&vb, ",\"v\":");
	jsonu_buf_int(&vb, version);
	jsonu_buf_lit(&vb, ",\"p\":");
	jsonu_buf_str(&vb, client);
	jsonu_buf_lit(&vb, "}");
	if ((v = jsonu_buf_take(&vb, NULL)) == NULL)
		return STORE_NOMEM;
	snprintf(ver, sizeof(ver), "%010" PRIu32, version);
	snprintf(expk, sizeof(expk), "%012" PRId64, exp);
	rc = STORE_BADKEY;
	if (snprintf(key, sizeof(key), "a" STORE_SEP "%s" STORE_SEP "%s"
	    STORE_SEP "%s", agreement, ver, jti) >= (int)sizeof(key) ||
	    (rc = put_out(txn, key, v)) != STORE_OK)
		goto out;
	rc = STORE_BADKEY;
	if (snprintf(key, sizeof(key), "p" STORE_SEP "%s" STORE_SEP "%s",
	    client, jti) >= (int)sizeof(key) ||
	    (rc = put_out(txn, key, v)) != STORE_OK)
		goto out;
	rc = STORE_BADKEY;
	if (snprintf(key, sizeof(key), "e" STORE_SEP "%s" STORE_SEP "%s", expk,
	    jti) >= (int)sizeof(key) || (rc = put_out(txn, key, v)) != STORE_OK)
		goto out;
	/* The persisted next index, and the list's used size. */
	if ((rc = meta_ints(txn, "next", "n", &n, NULL, NULL)) != STORE_OK)
		goto out;
	if ((int64_t)index + 1 > n) {
		snprintf(num, sizeof(num), "{\"n\":%" PRIu64 "}", index + 1);
		if ((rc = store_put_text(txn, ST_STATUS_META, "next", num,
		    strlen(num), 0)) != STORE_OK)
			goto out;
	}
	list_key(list, lk);
	if ((rc = meta_ints(txn, lk, "size", &size, "version", &lver)) !=
	    STORE_OK)
		goto out;
	if ((int64_t)(index % STATUS_LIST_CAP) + 1 > size) {
		snprintf(num, sizeof(num), "{\"size\":%" PRIu64 ",\"version\":%"
		    PRId64 "}", index % STATUS_LIST_CAP + 1, lver);
		rc = store_put_text(txn, ST_STATUS_META, lk, num, strlen(num),
		    0);
	} else
		rc = STORE_OK;
out:
	free(v);
	return rc;
}

/*
 * Sets the bit of index; *changed is 1 when it was 0 before. A token can
 * be found by its consent, agreement version and client, so a bit set by
 * one revocation (a consent) may be met again by another (its agreement):
 * only the first counts.
 */
static enum store_err
set_bit(struct store_txn *txn, uint64_t index, int *changed)
{
	uint32_t list = (uint32_t)(index / STATUS_LIST_CAP);
	uint32_t pos = (uint32_t)(index % STATUS_LIST_CAP);
	uint32_t chunk = pos / (STATUS_CHUNK * 8);
	uint32_t bit = pos % (STATUS_CHUNK * 8);
	unsigned char buf[STATUS_CHUNK];
	const unsigned char *cur;
	char key[24];
	size_t n;
	enum store_err rc;

	chunk_key(list, chunk, key);
	rc = store_get_raw(txn, ST_STATUS_BITS, key, &cur, &n);
	if (rc == STORE_OK && n == STATUS_CHUNK)
		memcpy(buf, cur, STATUS_CHUNK);
	else if (rc == STORE_NOTFOUND || rc == STORE_OK)
		memset(buf, 0, sizeof(buf));
	else
		return rc;
	/* Index 0 is the least significant bit of byte 0. */
	*changed = 0;
	if (buf[bit / 8] & (1u << (bit % 8)))
		return STORE_OK;
	buf[bit / 8] |= (unsigned char)(1u << (bit % 8));
	*changed = 1;
	return store_put_raw(txn, ST_STATUS_BITS, key, buf, sizeof(buf));
}

static enum store_err
bump_version(struct store_txn *txn, uint32_t list, json_t *versions)
{
	json_t *lrec = NULL, *nrec;
	int64_t size = 0, ver = 0;
	char lk[24], name[16];
	enum store_err rc;

	list_key(list, lk);
	rc = store_get(txn, ST_STATUS_META, lk, &lrec);
	if (rc == STORE_OK) {
		(void)jsonu_get_int(lrec, "size", &size);
		(void)jsonu_get_int(lrec, "version", &ver);
	} else if (rc != STORE_NOTFOUND)
		return rc;
	json_decref(lrec);
	nrec = json_pack("{s:I, s:I}", "size", (json_int_t)size, "version",
	    (json_int_t)(ver + 1));
	if (nrec == NULL)
		return STORE_NOMEM;
	rc = store_put(txn, ST_STATUS_META, lk, nrec);
	json_decref(nrec);
	if (rc == STORE_OK && versions != NULL) {
		snprintf(name, sizeof(name), "%" PRIu32, list);
		json_object_set_new(versions, name, json_integer(ver + 1));
	}
	return rc;
}

/*
 * One revocation: the bits it set (count) and the lists they are in, each
 * list's version bumped once at the end (revocation_end).
 */
struct revocation {
	size_t count;
	uint32_t *lists;
	size_t nlists, cap;
};

static enum store_err
revoke_index(struct store_txn *txn, struct revocation *r, uint64_t index)
{
	uint32_t l = (uint32_t)(index / STATUS_LIST_CAP), *nl;
	size_t j, ncap;
	int changed = 0;
	enum store_err rc;

	if ((rc = set_bit(txn, index, &changed)) != STORE_OK || !changed)
		return rc;
	r->count++;
	for (j = 0; j < r->nlists; j++)
		if (r->lists[j] == l)
			return STORE_OK;
	if (r->nlists == r->cap) {
		ncap = r->cap != 0 ? r->cap * 2 : 8;
		if ((nl = realloc(r->lists, ncap * sizeof(*nl))) == NULL)
			return STORE_NOMEM;
		r->lists = nl;
		r->cap = ncap;
	}
	r->lists[r->nlists++] = l;
	return STORE_OK;
}

/* Bumps the versions (after rc, the revocation's result so far), frees r
 * and reports its count. */
static enum store_err
revocation_end(struct store_txn *txn, struct revocation *r, enum store_err rc,
    json_t *versions, size_t *count)
{
	size_t j;

	for (j = 0; rc == STORE_OK && j < r->nlists; j++)
		rc = bump_version(txn, r->lists[j], versions);
	*count = rc == STORE_OK ? r->count : 0;
	free(r->lists);
	return rc;
}

struct rev_ctx {
	int64_t now;
	char keys[256][STORE_MAX_KEY + 1];
	uint64_t idx[256];
	size_t n;
};

static int
collect(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct rev_ctx *c = arg;
	int64_t i, exp;

	if (c->n == 256 || keylen > STORE_MAX_KEY)
		return 1;
	memcpy(c->keys[c->n], key, keylen);
	c->keys[c->n][keylen] = '\0';
	if (jsonu_get_int(value, "i", &i) == 0 &&
	    jsonu_get_int(value, "exp", &exp) == 0 && exp > c->now)
		c->idx[c->n] = (uint64_t)i;
	else
		c->idx[c->n] = UINT64_MAX;  /* expired: only forget it */
	c->n++;
	return 0;
}

/* Revokes, and forgets, the outstanding-token records under prefix. */
static enum store_err
revoke_prefix(struct store_txn *txn, const char *prefix, int64_t now,
    json_t *versions, size_t *count)
{
	struct revocation r = { 0 };
	struct rev_ctx *c;
	enum store_err rc = STORE_OK;
	size_t i;

	c = malloc(sizeof(*c));
	if (c == NULL) {
		*count = 0;
		return STORE_NOMEM;
	}
	c->now = now;
	/* Batches: scanning while deleting is not allowed. */
	do {
		c->n = 0;
		rc = store_scan(txn, ST_STATUS_OUT, prefix, 0, 0, collect, c);
		for (i = 0; rc == STORE_OK && i < c->n; i++) {
			if (c->idx[i] != UINT64_MAX &&
			    (rc = revoke_index(txn, &r, c->idx[i])) != STORE_OK)
				break;
			rc = store_del(txn, ST_STATUS_OUT, c->keys[i]);
			if (rc == STORE_NOTFOUND)
				rc = STORE_OK;
		}
	} while (rc == STORE_OK && c->n == 256);
	free(c);
	return revocation_end(txn, &r, rc, versions, count);
}

enum store_err
status_revoke_prefix_public(struct store_txn *txn, const char *prefix,
    int64_t now, json_t *versions, size_t *count)
{
	return revoke_prefix(txn, prefix, now, versions, count);
}

/* A consent's unexpired tokens, from its subject's transfer index. */
struct consent_ctx {
	struct store_txn *txn;
	const char *consent_id;
	int64_t now, oldest;
	uint64_t *idx;
	size_t n, cap;
	enum store_err err;
};

static int
consent_token(void *arg, const char *key, size_t keylen,
    const unsigned char *val, size_t vallen)
{
	struct consent_ctx *c = arg;
	const char *sep, *cid;
	char jti[64];
	json_t *rec = NULL;
	int64_t iat = 0, exp, idx;
	uint64_t *ni;
	size_t ncap, i;

	(void)val;
	(void)vallen;
	/* subject SEP %012lld iat SEP jti: the subject has no SEP. */
	if ((sep = memchr(key, STORE_SEP[0], keylen)) == NULL ||
	    (size_t)(key + keylen - sep) < 15 || sep[13] != STORE_SEP[0] ||
	    store_key_last(key, keylen, jti, sizeof(jti)) != 0) {
		c->err = STORE_CORRUPT;
		return 1;
	}
	for (i = 1; i <= 12; i++) {
		if (sep[i] < '0' || sep[i] > '9') {
			c->err = STORE_CORRUPT;
			return 1;
		}
		iat = iat * 10 + (sep[i] - '0');
	}
	if (iat < c->oldest)
		return 1;   /* newest first: every later one has expired */
	c->err = store_get(c->txn, ST_TOKENS, jti, &rec);
	if (c->err == STORE_NOTFOUND) {
		c->err = STORE_OK;
		return 0;
	}
	if (c->err != STORE_OK)
		return 1;
	if (jsonu_get_str(rec, "consent_id", &cid) == 0 &&
	    strcmp(cid, c->consent_id) == 0 &&
	    jsonu_get_int(rec, "exp", &exp) == 0 && exp > c->now &&
	    jsonu_get_int(rec, "status_index", &idx) == 0 && idx >= 0) {
		if (c->n == c->cap) {
			ncap = c->cap != 0 ? c->cap * 2 : 64;
			if ((ni = realloc(c->idx, ncap * sizeof(*ni))) == NULL) {
				json_decref(rec);
				c->err = STORE_NOMEM;
				return 1;
			}
			c->idx = ni;
			c->cap = ncap;
		}
		c->idx[c->n++] = (uint64_t)idx;
	}
	json_decref(rec);
	return 0;
}

enum store_err
status_revoke_consent(struct store_txn *txn, const char *consent_id,
    const char *subject, int64_t now, json_t *versions, size_t *count)
{
	struct consent_ctx c = { 0 };
	struct revocation r = { 0 };
	char prefix[STORE_MAX_KEY + 1];
	enum store_err rc;
	size_t i;

	*count = 0;
	if (snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, subject) >=
	    (int)sizeof(prefix))
		return STORE_BADKEY;
	c.txn = txn;
	c.consent_id = consent_id;
	c.now = now;
	/* A token lives at most CONFIG_MAX_TOKEN_TTL from its iat; a minute
	 * more for the clocks of the threads that minted it. */
	c.oldest = now - CONFIG_MAX_TOKEN_TTL - 60;
	rc = store_scan_raw(txn, ST_SUBJECT_TOKENS, prefix, 1, 0,
	    consent_token, &c);
	if (rc == STORE_OK)
		rc = c.err;
	/* Set once the scan is over: no write under an open scan. */
	for (i = 0; rc == STORE_OK && i < c.n; i++)
		rc = revoke_index(txn, &r, c.idx[i]);
	free(c.idx);
	return revocation_end(txn, &r, rc, versions, count);
}

enum store_err
status_revoke_agreement(struct store_txn *txn, const char *agreement,
    uint32_t version, int64_t now, json_t *versions, size_t *count)
{
	char prefix[STORE_MAX_KEY + 1];

	if (snprintf(prefix, sizeof(prefix), "a" STORE_SEP "%s" STORE_SEP
	    "%010" PRIu32 STORE_SEP, agreement, version) >= (int)sizeof(prefix))
		return STORE_BADKEY;
	return revoke_prefix(txn, prefix, now, versions, count);
}

#define PRUNE_BATCH 4

/* A batch of expired tokens: the keys of each one's records. */
struct prune_ctx {
	int64_t now;
	size_t max, n, batch;
	int nkeys[PRUNE_BATCH];
	char keys[PRUNE_BATCH][4][STORE_MAX_KEY + 1];
};

/* The top-level object's string member key, decoded into buf; 0, or -1
 * (absent, not a string, or too long). */
static int
tok_str(const struct jtok_doc *d, const char *key, char *buf, size_t len)
{
	int i;

	if (jtok_member(d, 0, key, JTOK_STRING, &i) != 0)
		return -1;
	return jtok_str_copy(d, i, buf, len) < len ? 0 : -1;
}

static int
prune_one(void *arg, const char *key, size_t keylen,
    const unsigned char *val, size_t vallen)
{
	struct prune_ctx *c = arg;
	struct jtok tok[24];
	struct jtok_doc d;
	char err[64], a[STORE_MAX_KEY + 1], p[STORE_MAX_KEY + 1];
	char ck[STORE_MAX_KEY + 1], (*k)[STORE_MAX_KEY + 1];
	const char *jti;
	int64_t exp, vv;
	int nk = 0;

	if (c->n >= c->max || c->batch == PRUNE_BATCH ||
	    keylen > STORE_MAX_KEY ||
	    jtok_parse(&d, (const char *)val, vallen, tok,
	    sizeof(tok) / sizeof(tok[0]), 1, err, sizeof(err)) != JTOK_OK ||
	    jtok_get_int(&d, 0, "exp", &exp) != 0 || exp > c->now - 60)
		return 1;
	k = c->keys[c->batch];
	memcpy(k[nk], key, keylen);
	k[nk][keylen] = '\0';
	jti = strrchr(k[nk], STORE_SEP[0]);
	if (jti == NULL)
		return 1;
	jti++;
	nk++;
	if (tok_str(&d, "a", a, sizeof(a)) == 0 &&
	    jtok_get_int(&d, 0, "v", &vv) == 0 &&
	    snprintf(k[nk], sizeof(k[nk]), "a" STORE_SEP "%s" STORE_SEP
	    "%010" PRId64 STORE_SEP "%s", a, vv, jti) < (int)sizeof(k[nk]))
		nk++;
	if (tok_str(&d, "p", p, sizeof(p)) == 0 &&
	    snprintf(k[nk], sizeof(k[nk]), "p" STORE_SEP "%s" STORE_SEP "%s",
	    p, jti) < (int)sizeof(k[nk]))
		nk++;
	/* Older stores also kept a token under its consent ("c" SEP
	 * consent SEP jti); forget those too. */
	if (tok_str(&d, "c", ck, sizeof(ck)) == 0 &&
	    snprintf(k[nk], sizeof(k[nk]), "c" STORE_SEP "%s" STORE_SEP "%s",
	    ck, jti) < (int)sizeof(k[nk]))
		nk++;
	c->nkeys[c->batch++] = nk;
	c->n++;
	return 0;
}

size_t
status_prune(struct store_txn *txn, int64_t now, size_t max)
{
	struct prune_ctx c;
	size_t i;
	int j;

	c.now = now;
	c.max = max;
	c.n = 0;
	/* Batches: scanning while deleting is not allowed. */
	do {
		c.batch = 0;
		if (store_scan_raw(txn, ST_STATUS_OUT, "e" STORE_SEP, 0, 0,
		    prune_one, &c) != STORE_OK)
			break;
		for (i = 0; i < c.batch; i++)
			for (j = 0; j < c.nkeys[i]; j++)
				(void)store_del(txn, ST_STATUS_OUT,
				    c.keys[i][j]);
	} while (c.batch == PRUNE_BATCH && c.n < c.max);
	return c.n;
}

int
status_get(struct store_txn *txn, uint64_t index)
{
	uint32_t list = (uint32_t)(index / STATUS_LIST_CAP);
	uint32_t pos = (uint32_t)(index % STATUS_LIST_CAP);
	uint32_t bit = pos % (STATUS_CHUNK * 8);
	const unsigned char *cur;
	char key[24];
	size_t n;
	enum store_err rc;

	chunk_key(list, pos / (STATUS_CHUNK * 8), key);
	rc = store_get_raw(txn, ST_STATUS_BITS, key, &cur, &n);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK || n != STATUS_CHUNK)
		return -1;
	return (cur[bit / 8] >> (bit % 8)) & 1;
}

/* Builds and signs list's token from a read snapshot. */
static char *
build_token(struct store_txn *txn, EVP_PKEY *key, const char *kid,
    const char *issuer, uint32_t list, int ttl, uint64_t *version,
    enum store_err *err)
{
	unsigned char *bits = NULL, *z = NULL;
	const unsigned char *cur;
	uLongf zlen;
	json_t *lrec = NULL, *claims = NULL;
	char lk[24], key2[24], uri[400], *lst = NULL, *payload = NULL;
	char *token = NULL;
	int64_t size = 0, ver = 0, now = timeu_now();
	size_t nbytes, n, off;
	uint32_t ch;

	list_key(list, lk);
	*err = store_get(txn, ST_STATUS_META, lk, &lrec);
	if (*err != STORE_OK)
		return NULL;
	(void)jsonu_get_int(lrec, "size", &size);
	(void)jsonu_get_int(lrec, "version", &ver);
	*version = (uint64_t)ver;
	nbytes = ((size_t)size + 7) / 8;
	bits = calloc(1, nbytes > 0 ? nbytes : 1);
	zlen = compressBound((uLong)(nbytes > 0 ? nbytes : 1));
	z = malloc(zlen);
	if (bits == NULL || z == NULL) {
		*err = STORE_NOMEM;
		goto out;
	}
	for (off = 0, ch = 0; off < nbytes; off += STATUS_CHUNK, ch++) {
		chunk_key(list, ch, key2);
		if (store_get_raw(txn, ST_STATUS_BITS, key2, &cur, &n) ==
		    STORE_OK && n == STATUS_CHUNK)
			memcpy(bits + off, cur, nbytes - off < STATUS_CHUNK ?
			    nbytes - off : STATUS_CHUNK);
	}
	if (compress2(z, &zlen, bits, (uLong)nbytes, Z_BEST_COMPRESSION) !=
	    Z_OK) {
		*err = STORE_NOMEM;
		goto out;
	}
	lst = b64url_encode_alloc(z, zlen);
	snprintf(uri, sizeof(uri), "%s/v1/status/%" PRIu32, issuer, list);
	claims = json_pack("{s:s, s:I, s:I, s:i, s:{s:i, s:s}}", "sub", uri,
	    "iat", (json_int_t)now, "exp", (json_int_t)(now + 10 * ttl), "ttl",
	    ttl, "status_list", "bits", 1, "lst", lst != NULL ? lst : "");
	payload = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
	if (lst == NULL || payload == NULL ||
	    jws_sign_es256(key, kid, STATUS_TYP, payload, strlen(payload),
	    &token) != JWS_OK) {
		*err = STORE_NOMEM;
		token = NULL;
	}
out:
	free(bits);
	free(z);
	free(lst);
	free(payload);
	json_decref(claims);
	json_decref(lrec);
	return token;
}

char *
status_list_token(struct status *st, struct store *s, EVP_PKEY *key,
    const char *kid, const char *issuer, uint32_t list, int ttl,
    uint64_t *version, enum store_err *err)
{
	struct store_txn *txn = NULL;
	struct cached_list *slot = NULL, *oldest = &st->cache[0];
	json_t *lrec = NULL;
	char lk[24], *tok = NULL;
	int64_t ver = -1, now = timeu_now();
	size_t i;

	*err = store_begin(s, 0, &txn);
	if (*err != STORE_OK)
		return NULL;
	list_key(list, lk);
	*err = store_get(txn, ST_STATUS_META, lk, &lrec);
	if (*err == STORE_OK)
		(void)jsonu_get_int(lrec, "version", &ver);
	json_decref(lrec);
	if (*err != STORE_OK) {
		store_abort(txn);
		return NULL;
	}
	pthread_mutex_lock(&st->mu);
	for (i = 0; i < STATUS_CACHE; i++) {
		if (st->cache[i].token != NULL && st->cache[i].list == list) {
			slot = &st->cache[i];
			break;
		}
		if (st->cache[i].iat < oldest->iat)
			oldest = &st->cache[i];
	}
	if (slot != NULL && (int64_t)slot->version == ver &&
	    now - slot->iat < ttl / 2) {
		tok = strdup(slot->token);
		*version = slot->version;
		pthread_mutex_unlock(&st->mu);
		store_abort(txn);
		return tok;
	}
	pthread_mutex_unlock(&st->mu);
	tok = build_token(txn, key, kid, issuer, list, ttl, version, err);
	store_abort(txn);
	if (tok == NULL)
		return NULL;
	pthread_mutex_lock(&st->mu);
	if (slot == NULL || slot->list != list)
		slot = oldest;
	free(slot->token);
	slot->token = strdup(tok);
	slot->list = list;
	slot->version = *version;
	slot->iat = now;
	pthread_mutex_unlock(&st->mu);
	return tok;
}

static int
seen_key(char *out, size_t outlen, const char *party, uint32_t list)
{
	char l[16];

	snprintf(l, sizeof(l), "%" PRIu32, list);
	return store_key3(out, outlen, "seen", party, l);
}

enum store_err
status_record_seen(struct store_txn *txn, const char *party, uint32_t list,
    uint64_t version, int64_t now)
{
	char key[STORE_MAX_KEY + 1], ts[32];
	json_t *cur = NULL, *v;
	int64_t have = -1;
	enum store_err rc;

	if (seen_key(key, sizeof(key), party, list) != 0)
		return STORE_BADKEY;
	rc = store_get(txn, ST_STATUS_META, key, &cur);
	if (rc == STORE_OK)
		(void)jsonu_get_int(cur, "version", &have);
	else if (rc != STORE_NOTFOUND)
		return rc;
	json_decref(cur);
	if (have >= (int64_t)version)
		return STORE_OK;
	timeu_format(now, ts, sizeof(ts));
	v = json_pack("{s:I, s:s}", "version", (json_int_t)version, "at", ts);
	if (v == NULL)
		return STORE_NOMEM;
	rc = store_put(txn, ST_STATUS_META, key, v);
	json_decref(v);
	return rc;
}

int
status_seen_all(struct store_txn *txn, const char *party,
    const json_t *versions, int64_t *last_at)
{
	const char *name;
	json_t *v;
	uint64_t have;
	int64_t at, latest = 0;
	int seen = 1;

	json_object_foreach((json_t *)(uintptr_t)versions, name, v) {
		if (status_seen(txn, party, (uint32_t)strtoul(name, NULL, 10),
		    &have, &at) != STORE_OK)
			return -1;
		if (have < (uint64_t)json_integer_value(v))
			seen = 0;
		else if (at > latest)
			latest = at;
	}
	if (last_at != NULL)
		*last_at = seen ? latest : 0;
	return seen;
}

enum store_err
status_seen(struct store_txn *txn, const char *party, uint32_t list,
    uint64_t *version, int64_t *at)
{
	char key[STORE_MAX_KEY + 1];
	const char *ts;
	json_t *cur = NULL;
	int64_t v = 0;
	enum store_err rc;

	*version = 0;
	*at = 0;
	if (seen_key(key, sizeof(key), party, list) != 0)
		return STORE_BADKEY;
	rc = store_get(txn, ST_STATUS_META, key, &cur);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	(void)jsonu_get_int(cur, "version", &v);
	if (jsonu_get_str(cur, "at", &ts) == 0)
		(void)timeu_parse(ts, at);
	*version = (uint64_t)v;
	json_decref(cur);
	return STORE_OK;
}
