/* Consent records: building, decoding, finding the one that decides. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "consent_rec.h"
#include "jsonu.h"
#include "jtok.h"
#include "jws.h"
#include "rndpool.h"
#include "timeu.h"

#define RECEIPT_TYP "consent-receipt+jwt"

const char *
consent_state_name(enum consent_state s)
{
	switch (s) {
	case CONSENT_ACTIVE:
		return "active";
	case CONSENT_REVOKED:
		return "revoked";
	case CONSENT_EXPIRED:
		return "expired";
	}
	return "unknown";
}

int
consent_subject_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i, len;
	uint32_t cp;

	if (n == 0 || n > CONSENT_MAX_SUBJECT || s[0] == ' ' || s[n - 1] == ' ')
		return -1;
	/* Well-formed UTF-8 (RFC 3629) without C0 or C1 controls or DEL. */
	for (i = 0; i < n; i += len) {
		if (p[i] < 0x80) {
			cp = p[i];
			len = 1;
		} else if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			cp = p[i] & 0x1f;
			len = 2;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			cp = p[i] & 0x0f;
			len = 3;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			cp = p[i] & 0x07;
			len = 4;
		} else
			return -1;
		if (i + len > n)
			return -1;
		for (size_t j = 1; j < len; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return -1;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return -1;
	}
	return 0;
}

int
consent_new_id(char out[40])
{
	unsigned char r[10];

	/* "cns_", the time in ms (12 hex digits), 80 random bits (20). */
	if (rndpool_bytes(r, sizeof(r)) != 0)
		return -1;
	memcpy(out, "cns_", 4);
	timeu_ms_hex(out + 4);
	hex_encode(r, sizeof(r), out + 16);
	return 0;
}

static int
get_time(const json_t *rec, const char *key, int64_t *out)
{
	const char *s;
	int rc = jsonu_get_str(rec, key, &s);

	if (rc == 1) {
		*out = 0;
		return 0;
	}
	if (rc != 0 || timeu_parse(s, out) != 0)
		return -1;
	return 0;
}

int
consent_view_from_json(const json_t *rec, int64_t now,
    struct consent_view *out)
{
	const char *state;
	json_t *fields, *f;
	int64_t v;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (jsonu_get_str(rec, "id", &out->id) != 0 ||
	    jsonu_get_str(rec, "subject", &out->subject) != 0 ||
	    jsonu_get_str(rec, "agreement", &out->agreement) != 0 ||
	    jsonu_get_int(rec, "agreement_version", &v) != 0 || v < 1 ||
	    v > UINT32_MAX ||
	    jsonu_get_str(rec, "stored_state", &state) != 0 ||
	    get_time(rec, "granted_at", &out->granted_at) != 0 ||
	    get_time(rec, "expires_at", &out->expires_at) != 0 ||
	    get_time(rec, "revoked_at", &out->revoked_at) != 0)
		return -1;
	out->version = (uint32_t)v;
	if (jsonu_get_str(rec, "agreement_hash", &out->agreement_hash) < 0)
		return -1;
	fields = json_object_get(rec, "fields");
	if (!json_is_array(fields) || json_array_size(fields) > CONSENT_MAX_FIELDS)
		return -1;
	json_array_foreach(fields, i, f) {
		if (!json_is_string(f))
			return -1;
		out->fields[out->nfields++] = json_string_value(f);
	}
	if (strcmp(state, "revoked") == 0)
		out->state = CONSENT_REVOKED;
	else if (strcmp(state, "active") == 0)
		out->state = out->expires_at != 0 && now >= out->expires_at ?
		    CONSENT_EXPIRED : CONSENT_ACTIVE;
	else
		return -1;
	return 0;
}

/* Raw decoding: strings are copied out of the text into one buffer. */
struct rawdec {
	const struct jtok_doc *d;
	char *buf, *end;
};

/* String member key of the record: 0 (*out, decoded), 1 absent, -1. */
static int
raw_str(struct rawdec *r, int obj, const char *key, const char **out)
{
	int i, rc = jtok_member(r->d, obj, key, JTOK_STRING, &i);
	size_t n;

	if (rc != 0)
		return rc;
	n = jtok_str_copy(r->d, i, r->buf, (size_t)(r->end - r->buf));
	if (n >= (size_t)(r->end - r->buf))
		return -1;
	*out = r->buf;
	r->buf += n + 1;
	return 0;
}

/* As get_time. */
static int
raw_time(struct rawdec *r, const char *key, int64_t *out)
{
	const char *s;
	int rc = raw_str(r, 0, key, &s);

	*out = 0;
	if (rc == 1)
		return 0;
	if (rc != 0 || timeu_parse(s, out) != 0)
		return -1;
	return 0;
}

int
consent_raw_read(struct consent_raw *c, const unsigned char *raw,
    size_t len, int64_t now)
{
	struct consent_view *out = &c->v;
	struct jtok_doc *d = &c->d;
	struct rawdec r;
	const char *state;
	int64_t v;
	int fields, f;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	c->strs = NULL;
	/* An object, on the stack or, with more values than it holds, on
	 * the heap. */
	if (jtok_parse_object(d, (const char *)raw, len, c->stack,
	    sizeof(c->stack) / sizeof(c->stack[0]), &c->heap,
	    JSONU_MAX_DEPTH) != JTOK_OK)
		return -1;
	/* Decoding never lengthens a string: the text's size holds them all
	 * with their NULs. */
	if ((c->strs = malloc(len + CONSENT_MAX_FIELDS + 16)) == NULL)
		goto bad;
	r.d = d;
	r.buf = c->strs;
	r.end = c->strs + len + CONSENT_MAX_FIELDS + 16;
	if (raw_str(&r, 0, "id", &out->id) != 0 ||
	    raw_str(&r, 0, "subject", &out->subject) != 0 ||
	    raw_str(&r, 0, "agreement", &out->agreement) != 0 ||
	    jtok_get_int(d, 0, "agreement_version", &v) != 0 || v < 1 ||
	    v > UINT32_MAX ||
	    raw_str(&r, 0, "stored_state", &state) != 0 ||
	    raw_time(&r, "granted_at", &out->granted_at) != 0 ||
	    raw_time(&r, "expires_at", &out->expires_at) != 0 ||
	    raw_time(&r, "revoked_at", &out->revoked_at) != 0 ||
	    raw_str(&r, 0, "agreement_hash", &out->agreement_hash) < 0)
		goto bad;
	out->version = (uint32_t)v;
	fields = jtok_get(d, 0, "fields");
	if (jtok_type(d, fields) != JTOK_ARRAY ||
	    d->tok[fields].size > CONSENT_MAX_FIELDS)
		goto bad;
	for (i = 0; i < d->tok[fields].size; i++) {
		f = jtok_item(d, fields, i);
		if (jtok_type(d, f) != JTOK_STRING)
			goto bad;
		n = jtok_str_copy(d, f, r.buf, (size_t)(r.end - r.buf));
		if (n >= (size_t)(r.end - r.buf))
			goto bad;
		out->fields[out->nfields++] = r.buf;
		r.buf += n + 1;
	}
	if (strcmp(state, "revoked") == 0)
		out->state = CONSENT_REVOKED;
	else if (strcmp(state, "active") == 0)
		out->state = out->expires_at != 0 && now >= out->expires_at ?
		    CONSENT_EXPIRED : CONSENT_ACTIVE;
	else
		goto bad;
	return 0;
bad:
	consent_raw_free(c);
	return -1;
}

void
consent_raw_free(struct consent_raw *c)
{
	free(c->heap);
	free(c->strs);
	c->heap = NULL;
	c->strs = NULL;
	memset(&c->v, 0, sizeof(c->v));
}

int
consent_view_from_raw(const unsigned char *raw, size_t len, int64_t now,
    struct consent_view *out, char **strs)
{
	struct consent_raw c;

	*strs = NULL;
	if (consent_raw_read(&c, raw, len, now) != 0) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	/* The view and its strings are the caller's; the parse is not. */
	*out = c.v;
	*strs = c.strs;
	c.strs = NULL;
	consent_raw_free(&c);
	return 0;
}

int
consent_state_raw(const unsigned char *raw, size_t len, int64_t now,
    enum consent_state *state, int64_t *ended)
{
	struct consent_view v;
	char *strs;

	*ended = 0;
	if (consent_view_from_raw(raw, len, now, &v, &strs) != 0)
		return -1;
	*state = v.state;
	if (v.state == CONSENT_REVOKED)
		*ended = v.revoked_at;
	else if (v.state == CONSENT_EXPIRED)
		*ended = v.expires_at;
	free(strs);
	return 0;
}

int
consent_covers(const struct consent_view *c, const char *field)
{
	size_t i;

	for (i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i], field) == 0)
			return 1;
	return 0;
}

static json_t *fail(json_t *rec, char *err, size_t errlen, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static json_t *
fail(json_t *rec, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	json_decref(rec);
	return NULL;
}

json_t *
consent_new_record(const struct agreement *a, const char *subject,
    const json_t *body, const char *id, int64_t now, char *err,
    size_t errlen)
{
	json_t *rec = NULL, *fields, *f, *req;
	const char *key, *s;
	char ts[32], exp[32];
	int64_t expires = 0, max;
	size_t i, j;
	json_t *v;

	if (!json_is_object(body))
		return fail(rec, err, errlen, "body must be a JSON object");
	json_object_foreach((json_t *)(uintptr_t)body, key, v) {
		if (strcmp(key, "agreement") != 0 && strcmp(key, "fields") != 0 &&
		    strcmp(key, "expires_at") != 0)
			return fail(rec, err, errlen,
			    "$.%s: unknown member (allowed: agreement, fields, "
			    "expires_at)", key);
	}
	if (a->basis != AGR_BASIS_CONSENT || !a->consent_required)
		return fail(rec, err, errlen,
		    "agreement '%s' does not use consent (its legal basis is a "
		    "statute), so there is nothing to grant", a->id);
	rec = json_object();
	fields = json_array();
	if (rec == NULL || fields == NULL ||
	    json_object_set_new(rec, "fields", fields) != 0) {
		json_decref(fields);
		return fail(rec, err, errlen, "out of memory");
	}
	req = json_object_get(body, "fields");
	if (req != NULL) {
		if (!json_is_array(req) || json_array_size(req) == 0)
			return fail(rec, err, errlen,
			    "$.fields: must be a non-empty array of field names");
		json_array_foreach(req, i, f) {
			if (!json_is_string(f))
				return fail(rec, err, errlen,
				    "$.fields: every item must be a string");
			s = json_string_value(f);
			if (agreement_field(a, s) == NULL) {
				snprintf(err, errlen,
				    "$.fields: field '%s' is not in agreement '%s'",
				    s, a->id);
				json_decref(rec);
				return NULL;
			}
			for (j = 0; j < i; j++)
				if (strcmp(json_string_value(
				    json_array_get(req, j)), s) == 0)
					return fail(rec, err, errlen,
					    "$.fields: duplicate field '%s'", s);
		}
		for (i = 0; i < a->nfields; i++) {
			int found = 0;

			json_array_foreach(req, j, f)
				if (strcmp(json_string_value(f),
				    a->fields[i].name) == 0)
					found = 1;
			if (!found && !a->fields[i].optional)
				return fail(rec, err, errlen,
				    "$.fields: field '%s' is required by the "
				    "agreement and cannot be left out",
				    a->fields[i].name);
		}
		json_array_foreach(req, i, f)
			json_array_append(fields, f);
	} else {
		for (i = 0; i < a->nfields; i++)
			json_array_append_new(fields,
			    json_string(a->fields[i].name));
	}
	max = a->consent_max_seconds;
	switch (jsonu_get_str(body, "expires_at", &s)) {
	case 0:
		if (timeu_parse(s, &expires) != 0)
			return fail(rec, err, errlen,
			    "$.expires_at: '%s' is not an RFC 3339 date-time", s);
		if (expires <= now)
			return fail(rec, err, errlen,
			    "$.expires_at: '%s' is not in the future", s);
		if (max != 0 && expires > now + max) {
			snprintf(err, errlen,
			    "$.expires_at: agreement '%s' allows consent for at "
			    "most %lld days", a->id, (long long)(max / 86400));
			json_decref(rec);
			return NULL;
		}
		break;
	case 1:
		expires = max != 0 ? now + max : 0;
		break;
	default:
		return fail(rec, err, errlen,
		    "$.expires_at: must be an RFC 3339 date-time string");
	}
	timeu_format(now, ts, sizeof(ts));
	if (json_object_set_new(rec, "id", json_string(id)) != 0 ||
	    json_object_set_new(rec, "subject", json_string(subject)) != 0 ||
	    json_object_set_new(rec, "agreement", json_string(a->id)) != 0 ||
	    json_object_set_new(rec, "agreement_version",
	    json_integer(a->version)) != 0 ||
	    json_object_set_new(rec, "agreement_hash", json_string(a->hash)) != 0 ||
	    json_object_set_new(rec, "stored_state", json_string("active")) != 0 ||
	    json_object_set_new(rec, "granted_at", json_string(ts)) != 0)
		return fail(rec, err, errlen, "out of memory");
	if (expires != 0) {
		timeu_format(expires, exp, sizeof(exp));
		if (json_object_set_new(rec, "expires_at", json_string(exp)) != 0)
			return fail(rec, err, errlen, "out of memory");
	}
	return rec;
}

/* Appends v (any JSON value) as json_dumps(JSON_COMPACT) writes it, or
 * null for NULL. */
static void
buf_json(struct jsonu_buf *b, const json_t *v)
{
	char *s;

	if (v == NULL) {
		jsonu_buf_lit(b, "null");
		return;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		b->failed = 1;
		return;
	}
	jsonu_buf_lit(b, s);
	free(s);
}

/* A string member of rec as JSON (null when absent), as json_pack's "O?". */
static void
buf_member(struct jsonu_buf *b, const json_t *rec, const char *key)
{
	buf_json(b, json_object_get(rec, key));
}

char *
consent_receipt_claims(const struct agreement *a, const json_t *rec,
    const char *issuer, int64_t iat, size_t *len)
{
	struct jsonu_buf b = { 0 };
	const json_t *doc = a->doc, *id, *subject;
	size_t i;

	id = json_object_get(rec, "id");
	subject = json_object_get(rec, "subject");
	if (!json_is_string(id) || !json_is_string(subject) ||
	    !json_is_string(json_object_get(rec, "granted_at")) ||
	    !json_is_array(json_object_get(rec, "fields")) ||
	    json_object_get(doc, "purposes") == NULL)
		return NULL;
	/* The members in the order the broker has always written them. */
	jsonu_buf_lit(&b, "{\"iss\":");
	jsonu_buf_str(&b, issuer);
	jsonu_buf_lit(&b, ",\"sub\":");
	buf_json(&b, subject);
	jsonu_buf_lit(&b, ",\"iat\":");
	jsonu_buf_int(&b, iat);
	jsonu_buf_lit(&b, ",\"jti\":");
	buf_json(&b, id);
	jsonu_buf_lit(&b, ",\"receipt\":{\"schema\":"
	    "\"consent-broker receipt 1 (after ISO/IEC TS 27560)\""
	    ",\"record_id\":");
	buf_json(&b, id);
	jsonu_buf_lit(&b, ",\"pii_principal_id\":");
	buf_json(&b, subject);
	jsonu_buf_lit(&b, ",\"state\":\"given\",\"given_at\":");
	buf_member(&b, rec, "granted_at");
	jsonu_buf_lit(&b, ",\"expires_at\":");
	buf_member(&b, rec, "expires_at");
	jsonu_buf_lit(&b, ",\"notice\":{\"agreement\":");
	jsonu_buf_str(&b, a->id);
	jsonu_buf_lit(&b, ",\"version\":");
	jsonu_buf_int(&b, a->version);
	jsonu_buf_lit(&b, ",\"hash\":");
	jsonu_buf_str(&b, a->hash);
	jsonu_buf_lit(&b, ",\"title\":");
	jsonu_buf_str(&b, a->title);
	jsonu_buf_lit(&b, "},\"controllers\":[{\"id\":");
	jsonu_buf_str(&b, a->provider);
	jsonu_buf_lit(&b, ",\"role\":\"provider\"}");
	for (i = 0; i < a->nrecipients; i++) {
		jsonu_buf_lit(&b, ",{\"id\":");
		jsonu_buf_str(&b, a->recipients[i]);
		jsonu_buf_lit(&b, ",\"role\":\"recipient\"}");
	}
	jsonu_buf_lit(&b, "],\"purposes\":");
	buf_member(&b, doc, "purposes");
	jsonu_buf_lit(&b, ",\"legal_basis\":\"consent\",\"legal_reference\":");
	buf_member(&b, json_object_get(doc, "legal_basis"), "reference");
	jsonu_buf_lit(&b, ",\"pii_categories\":");
	buf_member(&b, rec, "fields");
	jsonu_buf_lit(&b, ",\"retention\":");
	buf_member(&b, doc, "retention");
	jsonu_buf_lit(&b, ",\"onward_sharing\":");
	buf_member(&b, doc, "onward_sharing");
	jsonu_buf_lit(&b, ",\"method\":\"explicit, through the consent "
	    "broker\"}}");
	return jsonu_buf_take(&b, len);
}

char *
consent_receipt(const struct agreement *a, const json_t *rec,
    const char *issuer, EVP_PKEY *key, const char *kid, int64_t iat)
{
	char *payload, *jws = NULL;
	size_t len;

	payload = consent_receipt_claims(a, rec, issuer, iat, &len);
	if (payload == NULL || jws_sign_es256(key, kid, RECEIPT_TYP, payload,
	    len, &jws) != JWS_OK)
		jws = NULL;
	free(payload);
	return jws;
}

/*
 * The rule that picks the consent deciding a transfer, in one place: the
 * first active (unexpired) one in index order, else the most recently
 * granted (the later in index order on a tie). Records are read as bytes.
 */
struct findv_ctx {
	struct store_txn *txn;
	int64_t now;
	struct consent_view *out;
	char **strs;
	char *key;             /* the chosen record's key in ST_CONSENTS */
	size_t keylen;
	int have;              /* 0 none, 1 the latest so far, 2 active */
	enum store_err err;
};

static int
findv_one(void *arg, const char *key, size_t keylen, const unsigned char *val,
    size_t vallen)
{
	struct findv_ctx *c = arg;
	struct consent_view v;
	const unsigned char *raw;
	char idbuf[64], *strs;
	size_t len;

	(void)val;
	(void)vallen;
	if (store_key_last(key, keylen, idbuf, sizeof(idbuf)) != 0)
		return 0;
	c->err = store_get_raw(c->txn, ST_CONSENTS, idbuf, &raw, &len);
	if (c->err != STORE_OK)
		return 1;
	if (consent_view_from_raw(raw, len, c->now, &v, &strs) != 0) {
		c->err = STORE_CORRUPT;
		return 1;
	}
	if (v.state == CONSENT_ACTIVE || c->have == 0 ||
	    v.granted_at >= c->out->granted_at) {
		free(*c->strs);
		*c->out = v;
		*c->strs = strs;
		snprintf(c->key, c->keylen, "%s", idbuf);
		c->have = v.state == CONSENT_ACTIVE ? 2 : 1;
		return c->have == 2;
	}
	free(strs);
	return 0;
}

/* consent_find_view, with the chosen record's key into key[keylen]. */
static enum store_err
find_view(struct store_txn *txn, const char *subject, const char *agreement,
    int64_t now, struct consent_view *out, char **strs, int *found,
    char *key, size_t keylen)
{
	struct findv_ctx c = { txn, now, out, strs, key, keylen, 0, STORE_OK };
	char prefix[STORE_MAX_KEY + 1];
	enum store_err rc;

	memset(out, 0, sizeof(*out));
	*strs = NULL;
	*found = 0;
	key[0] = '\0';
	if (store_key2(prefix, sizeof(prefix) - 1, subject, agreement) != 0)
		return STORE_BADKEY;
	strncat(prefix, STORE_SEP, sizeof(prefix) - strlen(prefix) - 1);
	rc = store_scan_raw(txn, ST_CONSENT_INDEX, prefix, 0, 0, findv_one, &c);
	if (rc == STORE_OK)
		rc = c.err;
	if (rc != STORE_OK) {
		free(*strs);
		*strs = NULL;
		memset(out, 0, sizeof(*out));
		key[0] = '\0';
		return rc;
	}
	*found = c.have != 0;
	return STORE_OK;
}

enum store_err
consent_find_view(struct store_txn *txn, const char *subject,
    const char *agreement, int64_t now, struct consent_view *out,
    char **strs, int *found)
{
	char key[64];

	return find_view(txn, subject, agreement, now, out, strs, found, key,
	    sizeof(key));
}

enum store_err
consent_find_for(struct store_txn *txn, const char *subject,
    const char *agreement, int64_t now, json_t **out)
{
	struct consent_view v = { 0 };
	char key[64], *strs = NULL;
	int found = 0;
	enum store_err rc;

	*out = NULL;
	rc = find_view(txn, subject, agreement, now, &v, &strs, &found, key,
	    sizeof(key));
	free(strs);
	/* The record the index entry names, as the view was read from it. */
	if (rc == STORE_OK && found)
		rc = store_get(txn, ST_CONSENTS, key, out);
	return rc;
}

json_t *
consent_public(const json_t *rec, int64_t now)
{
	struct consent_view v;
	json_t *pub;

	if (consent_view_from_json(rec, now, &v) != 0)
		return NULL;
	pub = json_deep_copy(rec);
	if (pub == NULL)
		return NULL;
	json_object_del(pub, "stored_state");
	if (json_object_set_new(pub, "state",
	    json_string(consent_state_name(v.state))) != 0) {
		json_decref(pub);
		return NULL;
	}
	return pub;
}

/* ---- Text edits of a stored record (the revoke's path) ---- */

/* Where value v's text starts and ends (a string's quotes included). */
static size_t
val_from(const struct jtok_doc *d, int v)
{
	return d->tok[v].start - (d->tok[v].type == JTOK_STRING);
}

static size_t
val_to(const struct jtok_doc *d, int v)
{
	return d->tok[v].end + (d->tok[v].type == JTOK_STRING);
}

/*
 * The top-level object of d with member key dropped (value NULL) or its
 * value replaced by the text value, and the members' text append (each
 * preceded by a comma) added last, into b. Every other member keeps its
 * bytes and place, so that for a text json_dumps(JSON_COMPACT) wrote, the
 * result is what json_dumps gives after the same change made with
 * jansson (json_object_del; json_object_set_new, which adds new members
 * last). 0, or -1 when key is not a member, or is to be dropped and is
 * the only one (a consent record, as consent_raw_read accepts it, has
 * several).
 */
static int
edit_object(const struct jtok_doc *d, const char *key, const char *value,
    const char *append, struct jsonu_buf *b)
{
	int v = jtok_get(d, 0, key), k, m, prev = -1, next = -1;
	size_t from, to, close = d->tok[0].end - 1;

	if (v < 0)
		return -1;
	if (value != NULL) {
		from = val_from(d, v);
		to = val_to(d, v);
	} else {
		/* The member with the comma that joins it to a neighbour:
		 * the one before it, else the one after it. */
		for (m = 0, k = 1; (uint32_t)m < d->tok[0].size; m++) {
			if (k + 1 == v) {
				if ((uint32_t)m + 1 < d->tok[0].size)
					next = (int)d->tok[v].next;
				break;
			}
			prev = k + 1;
			k = (int)d->tok[k + 1].next;
		}
		if (prev >= 0) {
			from = val_to(d, prev);
			to = val_to(d, v);
		} else if (next >= 0) {
			from = d->tok[v - 1].start - 1;
			to = d->tok[next].start - 1;
		} else
			return -1;
	}
	jsonu_buf_raw(b, d->text, from);
	if (value != NULL)
		jsonu_buf_lit(b, value);
	jsonu_buf_raw(b, d->text + to, close - to);
	jsonu_buf_lit(b, append);
	jsonu_buf_lit(b, "}");
	return 0;
}

char *
consent_raw_public(const struct consent_raw *c, size_t *outlen)
{
	struct jsonu_buf b = { 0 };
	char state[32];

	snprintf(state, sizeof(state), ",\"state\":\"%s\"",
	    consent_state_name(c->v.state));
	if (edit_object(&c->d, "stored_state", NULL, state, &b) != 0) {
		jsonu_buf_free(&b);
		return NULL;
	}
	return jsonu_buf_take(&b, outlen);
}

char *
consent_public_text(const unsigned char *raw, size_t len, int64_t now,
    size_t *outlen)
{
	struct consent_raw c;
	char *out;

	if (consent_raw_read(&c, raw, len, now) != 0)
		return NULL;
	out = consent_raw_public(&c, outlen);
	consent_raw_free(&c);
	return out;
}

enum store_err
consent_raw_revoke(const struct consent_raw *c, const char *ts,
    const char *revocation, struct consent_text *out)
{
	const struct jtok_doc *d = &c->d;
	struct jsonu_buf add = { 0 }, b = { 0 };
	char *members = NULL;
	size_t n;
	enum store_err rc = STORE_CORRUPT;

	memset(out, 0, sizeof(*out));
	/* Not a record to edit; stored_state is a member (consent_raw_read
	 * saw to it), so from here on only memory can fail. */
	if (c->v.state == CONSENT_REVOKED ||
	    jtok_get(d, 0, "revoked_at") >= 0 ||
	    jtok_get(d, 0, "revocation") >= 0 ||
	    jtok_get(d, 0, "state") >= 0)
		goto done;
	rc = STORE_NOMEM;
	jsonu_buf_lit(&add, ",\"revoked_at\":");
	jsonu_buf_str(&add, ts);
	jsonu_buf_lit(&add, ",\"revocation\":");
	jsonu_buf_lit(&add, revocation);
	if ((members = jsonu_buf_take(&add, &n)) == NULL ||
	    edit_object(d, "stored_state", "\"revoked\"", members, &b) != 0 ||
	    (out->stored = jsonu_buf_take(&b, &out->stored_len)) == NULL)
		goto done;
	/* As clients see it: stored_state gone, "state" after the rest. */
	jsonu_buf_raw(&add, members, n);
	jsonu_buf_lit(&add, ",\"state\":\"revoked\"");
	free(members);
	if ((members = jsonu_buf_take(&add, NULL)) == NULL ||
	    edit_object(d, "stored_state", NULL, members, &b) != 0 ||
	    (out->shown = jsonu_buf_take(&b, &out->shown_len)) == NULL)
		goto done;
	rc = STORE_OK;
done:
	jsonu_buf_free(&add);
	jsonu_buf_free(&b);
	free(members);
	if (rc != STORE_OK)
		consent_text_free(out);
	return rc;
}

void
consent_text_free(struct consent_text *t)
{
	free(t->stored);
	free(t->shown);
	memset(t, 0, sizeof(*t));
}
