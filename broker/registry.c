/* Party and agreement records: keys, lookups, effective versions. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "jtok.h"
#include "policy.h"
#include "registry.h"
#include "timeu.h"

/* Parses a record's bytes (jtok_parse_object): STORE_OK for an object. */
static enum store_err
parse_record(const unsigned char *raw, size_t n, struct jtok_doc *d,
    struct jtok *tok, size_t cap, struct jtok **heap)
{
	enum jtok_err e;

	e = jtok_parse_object(d, (const char *)raw, n, tok, cap, heap, 8);
	if (e == JTOK_NOSPACE)
		return STORE_NOMEM;
	return e == JTOK_OK ? STORE_OK : STORE_CORRUPT;
}

enum store_err
registry_party_auth(struct store_txn *txn, const char *pin_hex, char *id,
    size_t idlen, unsigned *roles)
{
	const unsigned char *raw;
	struct jtok tok[48], *heap = NULL;
	struct jtok_doc d;
	char pid[PARTY_MAX_ID + 1], role[32];
	size_t n, i, len;
	int v, r;
	enum store_err rc;

	*roles = 0;
	if (idlen > 0)
		id[0] = '\0';
	/* The pin's record: {"party": id}. */
	if ((rc = store_get_raw(txn, ST_PINS, pin_hex, &raw, &n)) != STORE_OK)
		return rc;
	if ((rc = parse_record(raw, n, &d, tok, 8, &heap)) != STORE_OK)
		goto out;
	rc = STORE_CORRUPT;
	if (jtok_member(&d, 0, "party", JTOK_STRING, &v) != 0 ||
	    jtok_str_copy(&d, v, pid, sizeof(pid)) >= sizeof(pid) ||
	    pid[0] == '\0')
		goto out;
	free(heap);
	heap = NULL;
	/* The party's record: its id and role names. */
	if ((rc = store_get_raw(txn, ST_PARTIES, pid, &raw, &n)) != STORE_OK)
		goto out;   /* STORE_NOTFOUND: a pin of no party, as none */
	if ((rc = parse_record(raw, n, &d, tok, sizeof(tok) / sizeof(tok[0]),
	    &heap)) != STORE_OK)
		goto out;
	rc = STORE_CORRUPT;
	if (jtok_member(&d, 0, "id", JTOK_STRING, &v) != 0 ||
	    (len = jtok_str_copy(&d, v, id, idlen)) >= idlen || len == 0)
		goto out;
	/* Names that are not roles give none; so does "roles" that is not
	 * an array. */
	if (jtok_member(&d, 0, "roles", JTOK_ARRAY, &v) == 0)
		for (i = 0; (r = jtok_item(&d, v, i)) >= 0; i++)
			if (jtok_type(&d, r) == JTOK_STRING &&
			    jtok_str_copy(&d, r, role, sizeof(role)) <
			    sizeof(role))
				*roles |= policy_role_bit(role);
	rc = STORE_OK;
out:
	if (rc != STORE_OK && idlen > 0)
		id[0] = '\0';
	free(heap);
	return rc;
}

static int
id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > PARTY_MAX_ID)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9') || (i > 0 && id[i] == '-')))
			return 0;
	return 1;
}

enum store_err
registry_put_party(struct store_txn *txn, const char *id, const char *name,
    const char *const *roles, const char *pin_hex)
{
	json_t *rec = NULL, *pins, *jr = NULL, *pin = NULL, *old = NULL;
	const char *owner;
	enum store_err rc;
	size_t i;

	if (!id_ok(id))
		return STORE_BADKEY;
	rc = store_get(txn, ST_PARTIES, id, &old);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	jr = json_array();
	if (jr == NULL) {
		rc = STORE_NOMEM;
		goto out;
	}
	for (i = 0; roles[i] != NULL; i++) {
		if (policy_role_bit(roles[i]) == 0) {
			rc = STORE_BADKEY;
			goto out;
		}
		json_array_append_new(jr, json_string(roles[i]));
	}
	pins = old != NULL ? json_object_get(old, "pins") : NULL;
	pins = json_is_array(pins) ? json_deep_copy(pins) : json_array();
	rec = json_pack("{s:s, s:s, s:O, s:o}", "id", id, "name", name,
	    "roles", jr, "pins", pins);
	if (rec == NULL) {
		rc = STORE_NOMEM;
		goto out;
	}
	if (pin_hex != NULL) {
		rc = store_get(txn, ST_PINS, pin_hex, &pin);
		if (rc == STORE_OK) {
			if (jsonu_get_str(pin, "party", &owner) != 0 ||
			    strcmp(owner, id) != 0) {
				rc = STORE_EXISTS;
				goto out;
			}
		} else if (rc != STORE_NOTFOUND)
			goto out;
		else {
			json_decref(pin);
			pin = json_pack("{s:s}", "party", id);
			if (pin == NULL) {
				rc = STORE_NOMEM;
				goto out;
			}
			if ((rc = store_put(txn, ST_PINS, pin_hex, pin)) != STORE_OK)
				goto out;
			json_array_append_new(json_object_get(rec, "pins"),
			    json_string(pin_hex));
		}
	}
	rc = store_put(txn, ST_PARTIES, id, rec);
out:
	json_decref(old);
	json_decref(jr);
	json_decref(rec);
	json_decref(pin);
	return rc;
}

static int
version_key(char *out, size_t outlen, const char *id, uint32_t version)
{
	char v[16];

	snprintf(v, sizeof(v), "%010u", version);
	return store_key2(out, outlen, id, v);
}

struct eff_ctx {
	json_t *found;
	json_t *draft;
};

static int
eff_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct eff_ctx *c = arg;
	const char *state = registry_agreement_state(value);

	(void)key;
	(void)keylen;
	if (state != NULL && strcmp(state, "draft") != 0) {
		c->found = json_incref(value);
		return 1;
	}
	if (c->draft == NULL)
		c->draft = json_incref(value);
	return 0;
}

static int
first_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	json_t **out = arg;

	(void)key;
	(void)keylen;
	*out = json_incref(value);
	return 1;
}

enum store_err
registry_agreement_get(struct store_txn *txn, const char *id,
    uint32_t version, json_t **rec)
{
	char key[STORE_MAX_KEY + 1], prefix[STORE_MAX_KEY + 1];
	struct eff_ctx c = { NULL, NULL };
	enum store_err rc;
	int n;

	*rec = NULL;
	if (version != 0) {
		if (version_key(key, sizeof(key), id, version) != 0)
			return STORE_BADKEY;
		return store_get(txn, ST_AGREEMENTS, key, rec);
	}
	n = snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, id);
	if (n < 0 || (size_t)n >= sizeof(prefix) || !id_ok(id))
		return STORE_BADKEY;
	rc = store_scan(txn, ST_AGREEMENTS, prefix, 1, 0, eff_one, &c);
	if (rc != STORE_OK) {
		json_decref(c.found);
		json_decref(c.draft);
		return rc;
	}
	if (c.found != NULL) {
		json_decref(c.draft);
		*rec = c.found;
	} else
		*rec = c.draft;
	return *rec != NULL ? STORE_OK : STORE_NOTFOUND;
}

struct all_ctx {
	json_t *out;
	size_t max;
	char last_id[AGR_MAX_ID + 1];
	json_t *pick;      /* effective record of last_id so far */
	int pick_draft;
};

static void
all_flush(struct all_ctx *c)
{
	if (c->pick != NULL)
		json_array_append_new(c->out, c->pick);
	c->pick = NULL;
}

static int
all_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct all_ctx *c = arg;
	const char *sep = memchr(key, STORE_SEP[0], keylen);
	const char *state = registry_agreement_state(value);
	size_t idlen = sep != NULL ? (size_t)(sep - key) : keylen;
	int draft = state == NULL || strcmp(state, "draft") == 0;

	if (idlen > AGR_MAX_ID)
		return 0;
	if (strlen(c->last_id) != idlen ||
	    memcmp(c->last_id, key, idlen) != 0) {
		all_flush(c);
		if (c->max != 0 && json_array_size(c->out) >= c->max)
			return 1;
		memcpy(c->last_id, key, idlen);
		c->last_id[idlen] = '\0';
	}
	/* Versions come in ascending order: as registry_agreement_get, the
	 * effective one is the highest non-draft, else the highest draft. */
	if (c->pick == NULL || !draft || c->pick_draft) {
		json_decref(c->pick);
		c->pick = json_incref(value);
		c->pick_draft = draft;
	}
	return 0;
}

enum store_err
registry_agreements_effective(struct store_txn *txn, size_t max,
    json_t *out)
{
	struct all_ctx c = { out, max, "", NULL, 0 };
	enum store_err rc;

	rc = store_scan(txn, ST_AGREEMENTS, "", 0, 0, all_one, &c);
	if (c.max == 0 || json_array_size(out) < c.max)
		all_flush(&c);
	json_decref(c.pick);
	return rc;
}

enum store_err
registry_agreement_latest(struct store_txn *txn, const char *id,
    json_t **rec)
{
	char prefix[STORE_MAX_KEY + 1];
	enum store_err rc;
	int n;

	*rec = NULL;
	n = snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, id);
	if (n < 0 || (size_t)n >= sizeof(prefix) || !id_ok(id))
		return STORE_BADKEY;
	rc = store_scan(txn, ST_AGREEMENTS, prefix, 1, 1, first_one, rec);
	if (rc != STORE_OK) {
		json_decref(*rec);
		*rec = NULL;
		return rc;
	}
	return *rec != NULL ? STORE_OK : STORE_NOTFOUND;
}

enum store_err
registry_agreement_put(struct store_txn *txn, const json_t *rec)
{
	char key[STORE_MAX_KEY + 1];
	const char *id;
	int64_t v;

	if (jsonu_get_str(rec, "id", &id) != 0 ||
	    jsonu_get_int(rec, "version", &v) != 0 || v < 1 || v > UINT32_MAX ||
	    version_key(key, sizeof(key), id, (uint32_t)v) != 0)
		return STORE_BADKEY;
	return store_put(txn, ST_AGREEMENTS, key, rec);
}

json_t *
registry_agreement_record(const struct agreement *a, const char *state,
    const char *by, int64_t now)
{
	char ts[32];

	timeu_format(now, ts, sizeof(ts));
	return json_pack("{s:s, s:I, s:s, s:s, s:O, s:{}, s:s, s:s, s:s}",
	    "id", a->id, "version", (json_int_t)a->version, "hash", a->hash,
	    "state", state, "document", a->doc, "approvals", "submitted_by", by,
	    "submitted_at", ts, "updated_at", ts);
}

struct agreement *
registry_agreement_parse(const json_t *rec)
{
	char err[256];

	return agreement_from_json(json_object_get(rec, "document"), err,
	    sizeof(err));
}

const char *
registry_agreement_state(const json_t *rec)
{
	const char *s;

	return jsonu_get_str(rec, "state", &s) == 0 ? s : NULL;
}

/* ---- the per-thread agreement view cache --------------------------------- */

#define VIEW_CACHE_N 32   /* agreement versions a thread keeps parsed */

struct view {
	struct agr_view pub;          /* first: callers hold &pub */
	char key[STORE_MAX_KEY + 1];
	unsigned char *raw;           /* the stored bytes it was parsed from */
	size_t rawlen;
	json_t *rec;
	struct agreement *a;
	unsigned refs;                /* the cache's and each caller's */
	unsigned long long used;
};

struct view_cache {
	struct view *v[VIEW_CACHE_N];
	unsigned long long clock;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static int cache_ok;

static void
view_unref(struct view *v)
{
	if (v == NULL || --v->refs > 0)
		return;
	json_decref(v->rec);
	agreement_free(v->a);
	free(v->raw);
	free(v);
}

static void
cache_free(void *p)
{
	struct view_cache *c = p;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < VIEW_CACHE_N; i++)
		view_unref(c->v[i]);
	free(c);
}

static void
cache_init(void)
{
	cache_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

/* This thread's cache; NULL when none can be had (views then go uncached). */
static struct view_cache *
cache_get(void)
{
	struct view_cache *c;

	if (pthread_once(&cache_once, cache_init) != 0 || !cache_ok)
		return NULL;
	c = pthread_getspecific(cache_key);
	if (c == NULL && (c = calloc(1, sizeof(*c))) != NULL &&
	    pthread_setspecific(cache_key, c) != 0) {
		free(c);
		c = NULL;
	}
	return c;
}

void
registry_cache_flush(void)
{
	if (pthread_once(&cache_once, cache_init) != 0 || !cache_ok)
		return;
	cache_free(pthread_getspecific(cache_key));
	(void)pthread_setspecific(cache_key, NULL);
}

/*
 * The view of the record stored under key as the bytes raw: the cached
 * one when its bytes are the same, else a new one, parsed, which replaces
 * the stale or least recently used entry. The caller owns a reference.
 */
static enum store_err
view_for(const char *key, const unsigned char *raw, size_t rawlen,
    struct view **out)
{
	struct view_cache *c = cache_get();
	struct view *v, *n;
	size_t i, slot = 0;

	*out = NULL;
	for (i = 0; c != NULL && i < VIEW_CACHE_N; i++) {
		v = c->v[i];
		if (v == NULL) {
			if (c->v[slot] != NULL)
				slot = i;
			continue;
		}
		if (strcmp(v->key, key) == 0) {
			if (v->rawlen == rawlen &&
			    memcmp(v->raw, raw, rawlen) == 0) {
				v->used = ++c->clock;
				v->refs++;
				*out = v;
				return STORE_OK;
			}
			slot = i;   /* stale: this one goes */
			break;
		}
		if (c->v[slot] != NULL && v->used < c->v[slot]->used)
			slot = i;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL ||
	    (n->raw = malloc(rawlen > 0 ? rawlen : 1)) == NULL) {
		free(n);
		return STORE_NOMEM;
	}
	snprintf(n->key, sizeof(n->key), "%s", key);
	memcpy(n->raw, raw, rawlen);
	n->rawlen = rawlen;
	n->rec = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    NULL);
	if (n->rec == NULL) {
		free(n->raw);
		free(n);
		return STORE_CORRUPT;
	}
	n->a = registry_agreement_parse(n->rec);
	n->pub.rec = n->rec;
	n->pub.a = n->a;
	n->pub.state = registry_agreement_state(n->rec);
	n->refs = 1;
	if (c != NULL) {
		view_unref(c->v[slot]);
		c->v[slot] = n;
		n->refs++;
		n->used = ++c->clock;
	}
	*out = n;
	return STORE_OK;
}

struct veff_ctx {
	struct view *found, *draft;
	enum store_err err;
};

static int
veff_one(void *arg, const char *key, size_t keylen, const unsigned char *val,
    size_t vallen)
{
	struct veff_ctx *c = arg;
	char k[STORE_MAX_KEY + 1];
	struct view *v;

	if (keylen >= sizeof(k)) {
		c->err = STORE_CORRUPT;
		return 1;
	}
	memcpy(k, key, keylen);
	k[keylen] = '\0';
	if ((c->err = view_for(k, val, vallen, &v)) != STORE_OK)
		return 1;
	/* Versions come highest first: the first non-draft is effective. */
	if (v->pub.state != NULL && strcmp(v->pub.state, "draft") != 0) {
		c->found = v;
		return 1;
	}
	if (c->draft == NULL)
		c->draft = v;
	else
		view_unref(v);
	return 0;
}

enum store_err
registry_agreement_view(struct store_txn *txn, const char *id,
    uint32_t version, const struct agr_view **out)
{
	char key[STORE_MAX_KEY + 1];
	struct veff_ctx c = { NULL, NULL, STORE_OK };
	const unsigned char *raw;
	struct view *v;
	size_t rawlen;
	enum store_err rc;
	int n;

	*out = NULL;
	if (version != 0) {
		if (version_key(key, sizeof(key), id, version) != 0)
			return STORE_BADKEY;
		if ((rc = store_get_raw(txn, ST_AGREEMENTS, key, &raw,
		    &rawlen)) != STORE_OK ||
		    (rc = view_for(key, raw, rawlen, &v)) != STORE_OK)
			return rc;
		*out = &v->pub;
		return STORE_OK;
	}
	n = snprintf(key, sizeof(key), "%s" STORE_SEP, id);
	if (n < 0 || (size_t)n >= sizeof(key) || !id_ok(id))
		return STORE_BADKEY;
	rc = store_scan_raw(txn, ST_AGREEMENTS, key, 1, 0, veff_one, &c);
	if (rc == STORE_OK)
		rc = c.err;
	if (rc != STORE_OK) {
		view_unref(c.found);
		view_unref(c.draft);
		return rc;
	}
	if (c.found != NULL) {
		view_unref(c.draft);
		c.draft = c.found;
	}
	if (c.draft == NULL)
		return STORE_NOTFOUND;
	*out = &c.draft->pub;
	return STORE_OK;
}

void
registry_agreement_release(const struct agr_view *v)
{
	/* pub is the first member of struct view. */
	view_unref((struct view *)(uintptr_t)v);
}
