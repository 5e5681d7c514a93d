/* Backend-independent half of the store: JSON (de)serialization and keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "store.h"

const char *
store_strerror(enum store_err e)
{
	switch (e) {
	case STORE_OK:
		return "ok";
	case STORE_NOTFOUND:
		return "not found";
	case STORE_EXISTS:
		return "already exists";
	case STORE_FULL:
		return "store is full";
	case STORE_CORRUPT:
		return "stored record is corrupt";
	case STORE_BUSY:
		return "store is busy";
	case STORE_IO:
		return "store I/O error";
	case STORE_NOMEM:
		return "out of memory";
	case STORE_BADKEY:
		return "invalid key";
	}
	return "unknown store error";
}

static int
key_ok(const char *key, size_t *len)
{
	size_t n = strlen(key), i;

	if (n == 0 || n > STORE_MAX_KEY)
		return 0;
	/* Printable, apart from the separator of key parts. */
	for (i = 0; i < n; i++)
		if (((unsigned char)key[i] < 0x20 && key[i] != STORE_SEP[0]) ||
		    key[i] == 0x7f)
			return 0;
	*len = n;
	return 1;
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->ops->close(s);
}

enum store_err
store_begin(struct store *s, int write, struct store_txn **out)
{
	return s->ops->begin(s, NULL, write, out);
}

enum store_err
store_begin_nested(struct store_txn *parent, struct store_txn **out)
{
	if (!parent->write)
		return STORE_IO;
	return parent->store->ops->begin(parent->store, parent, 1, out);
}

enum store_err
store_commit(struct store_txn *txn)
{
	int flushed;

	return txn->store->ops->commit(txn, &flushed);
}

enum store_err
store_commit_flushed(struct store_txn *txn, int *flushed)
{
	return txn->store->ops->commit(txn, flushed);
}

enum store_err
store_sync(struct store *s)
{
	return s->ops->sync(s);
}

enum store_err
store_defer_sync(struct store *s, int on)
{
	return s->ops->defer_sync(s, on);
}

void
store_abort(struct store_txn *txn)
{
	if (txn != NULL)
		txn->store->ops->abort(txn);
}

enum store_err
store_get(struct store_txn *txn, enum store_table t, const char *key,
    json_t **out)
{
	const char *val;
	size_t keylen, vallen;
	enum store_err rc;
	json_t *j;

	*out = NULL;
	if (!key_ok(key, &keylen))
		return STORE_BADKEY;
	rc = txn->store->ops->get(txn, t, key, keylen, &val, &vallen);
	if (rc != STORE_OK)
		return rc;
	j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return STORE_CORRUPT;
	*out = j;
	return STORE_OK;
}

enum store_err
store_put_text(struct store_txn *txn, enum store_table t, const char *key,
    const char *text, size_t len, int nooverwrite)
{
	size_t keylen;

	if (!txn->write)
		return STORE_IO;
	if (!key_ok(key, &keylen))
		return STORE_BADKEY;
	if (len > STORE_MAX_VALUE)
		return STORE_FULL;
	return txn->store->ops->put(txn, t, key, keylen, text, len,
	    nooverwrite);
}

static enum store_err
put(struct store_txn *txn, enum store_table t, const char *key,
    const json_t *value, int nooverwrite)
{
	enum store_err rc;
	char *s;

	if (!txn->write)
		return STORE_IO;
	s = json_dumps(value, JSON_COMPACT);
	if (s == NULL)
		return STORE_NOMEM;
	rc = store_put_text(txn, t, key, s, strlen(s), nooverwrite);
	free(s);
	return rc;
}

enum store_err
store_put(struct store_txn *txn, enum store_table t, const char *key,
    const json_t *value)
{
	return put(txn, t, key, value, 0);
}

enum store_err
store_put_new(struct store_txn *txn, enum store_table t, const char *key,
    const json_t *value)
{
	return put(txn, t, key, value, 1);
}

enum store_err
store_del(struct store_txn *txn, enum store_table t, const char *key)
{
	size_t keylen;

	if (!txn->write)
		return STORE_IO;
	if (!key_ok(key, &keylen))
		return STORE_BADKEY;
	return txn->store->ops->del(txn, t, key, keylen);
}

struct scan_ctx {
	store_scan_fn fn;
	void *arg;
	int corrupt;
};

static int
scan_one(void *arg, const char *key, size_t keylen, const char *val,
    size_t vallen)
{
	struct scan_ctx *c = arg;
	json_t *j;
	int stop;

	j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL) {
		c->corrupt = 1;
		return 1;
	}
	stop = c->fn(c->arg, key, keylen, j);
	json_decref(j);
	return stop;
}

enum store_err
store_scan(struct store_txn *txn, enum store_table t, const char *prefix,
    int reverse, size_t limit, store_scan_fn fn, void *arg)
{
	struct scan_ctx c = { fn, arg, 0 };
	enum store_err rc;

	rc = txn->store->ops->scan(txn, t, prefix, strlen(prefix), reverse,
	    limit, scan_one, &c);
	if (rc == STORE_OK && c.corrupt)
		rc = STORE_CORRUPT;
	return rc;
}

struct scan_raw_ctx {
	store_scan_raw_fn fn;
	void *arg;
};

static int
scan_raw_one(void *arg, const char *key, size_t keylen, const char *val,
    size_t vallen)
{
	struct scan_raw_ctx *c = arg;

	return c->fn(c->arg, key, keylen, (const unsigned char *)val, vallen);
}

enum store_err
store_scan_raw(struct store_txn *txn, enum store_table t, const char *prefix,
    int reverse, size_t limit, store_scan_raw_fn fn, void *arg)
{
	struct scan_raw_ctx c = { fn, arg };

	return txn->store->ops->scan(txn, t, prefix, strlen(prefix), reverse,
	    limit, scan_raw_one, &c);
}

static int
part_ok(const char *p)
{
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
store_key_last(const char *key, size_t keylen, char *out, size_t outlen)
{
	const char *sep = memrchr(key, STORE_SEP[0], keylen);
	size_t n;

	if (sep == NULL)
		return -1;
	n = keylen - (size_t)(sep + 1 - key);
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, sep + 1, n);
	out[n] = '\0';
	return 0;
}

int
store_key2(char *out, size_t outlen, const char *a, const char *b)
{
	int n;

	if (!part_ok(a) || !part_ok(b))
		return -1;
	n = snprintf(out, outlen, "%s" STORE_SEP "%s", a, b);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > STORE_MAX_KEY)
		return -1;
	return 0;
}

int
store_key3(char *out, size_t outlen, const char *a, const char *b,
    const char *c)
{
	int n;

	if (!part_ok(a) || !part_ok(b) || !part_ok(c))
		return -1;
	n = snprintf(out, outlen, "%s" STORE_SEP "%s" STORE_SEP "%s", a, b, c);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > STORE_MAX_KEY)
		return -1;
	return 0;
}

enum store_err
store_get_raw(struct store_txn *txn, enum store_table t, const char *key,
    const unsigned char **val, size_t *vallen)
{
	const char *v;
	size_t keylen;
	enum store_err rc;

	if (!key_ok(key, &keylen))
		return STORE_BADKEY;
	rc = txn->store->ops->get(txn, t, key, keylen, &v, vallen);
	if (rc == STORE_OK)
		*val = (const unsigned char *)v;
	return rc;
}

enum store_err
store_put_raw(struct store_txn *txn, enum store_table t, const char *key,
    const void *val, size_t vallen)
{
	size_t keylen;

	if (!txn->write)
		return STORE_IO;
	if (!key_ok(key, &keylen))
		return STORE_BADKEY;
	return txn->store->ops->put(txn, t, key, keylen, val, vallen, 0);
}

struct last_ctx {
	char *out;
	size_t outlen;
	int found;
};

static int
last_one(void *arg, const char *key, size_t keylen, const char *val,
    size_t vallen)
{
	struct last_ctx *c = arg;

	(void)val;
	(void)vallen;
	if (keylen < c->outlen) {
		memcpy(c->out, key, keylen);
		c->out[keylen] = '\0';
		c->found = 1;
	}
	return 1;
}

enum store_err
store_last_key(struct store_txn *txn, enum store_table t, char *out,
    size_t outlen)
{
	struct last_ctx c = { out, outlen, 0 };
	enum store_err rc;

	rc = txn->store->ops->scan(txn, t, "", 0, 1, 1, last_one, &c);
	if (rc != STORE_OK)
		return rc;
	return c.found ? STORE_OK : STORE_NOTFOUND;
}
