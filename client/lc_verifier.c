/* libconsent verifier: checks a transfer token at the receiving provider. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "b64.h"
#include "fsu.h"
#include "jsonu.h"
#include "jtok.h"
#include "jwk.h"
#include "jws.h"
#include "lc_http.h"
#include "lc_internal.h"
#include "lc_replay.h"
#include "timeu.h"

#define LC_MAX_KEYS 32
#define LC_JWKS_MAX (256 * 1024)
#define LC_MAX_LEEWAY 300
#define LC_TOKEN_TYP "at+jwt"
#define LC_STATUS_TYP "statuslist+jwt"
#define LC_STATUS_CACHE 16
#define LC_STATUS_MAX_BYTES (1u << 20)  /* decompressed list bound */
#define LC_STATUS_DEFAULT_TTL 30
/*
 * jtok tokens on the stack for a token's header and claims; a part that
 * needs more (a JWS_MAX_TOKEN token may) is parsed again into a heap array.
 */
#define LC_HEADER_TOKS 32
#define LC_CLAIMS_TOKS 256
/* Decoded header strings: a longer kid than this cannot match (vkey.kid). */
#define LC_KID_MAX 256
#define LC_HSTR_MAX 128

struct slist {
	char uri[512];
	unsigned char *bytes;
	size_t nbytes;
	int bits;                 /* 1, 2, 4 or 8 per token */
	int64_t fetched_us;
	int ttl;
};

struct vkey {
	char kid[128];
	EVP_PKEY *pub;
};

struct consent_verifier {
	char *provider, *issuer, *jwks_url, *jwks_file;
	struct lc_http_opts http;
	char *ca_file, *cert_file, *key_file;
	int leeway, min_refresh;
	pthread_rwlock_t lock;        /* guards keys */
	struct vkey keys[LC_MAX_KEYS];
	size_t nkeys;
	pthread_mutex_t refresh_mu;
	int64_t last_refresh_us;
	struct lc_replay *replay;
	char *broker_url;             /* base for status list fetches */
	int status_ttl;               /* 0: the list's own */
	pthread_mutex_t status_mu;    /* guards slists */
	struct slist slists[LC_STATUS_CACHE];
	EVP_MD *sha256;               /* fetched once; NULL: EVP_sha256() */
};

static char *
dup_opt(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static void
keys_free(struct vkey *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		EVP_PKEY_free(k[i].pub);
}

/* Parses a JWKS into keys (ES256 P-256 keys with a kid; others skipped). */
static consent_err
parse_jwks(const char *text, size_t len, struct vkey *keys, size_t *nkeys)
{
	json_t *doc, *arr, *k;
	const char *kid, *kty, *alg;
	char why[256];
	size_t i, n = 0;
	EVP_PKEY *pub;

	*nkeys = 0;
	doc = jsonu_parse(text, len, 6, why, sizeof(why));
	if (doc == NULL)
		return lc_fail(CONSENT_E_CONFIG, "JWKS: %s", why);
	arr = json_object_get(doc, "keys");
	if (!json_is_array(arr)) {
		json_decref(doc);
		return lc_fail(CONSENT_E_CONFIG, "JWKS: no \"keys\" array");
	}
	json_array_foreach(arr, i, k) {
		if (jsonu_get_str(k, "kty", &kty) != 0 || strcmp(kty, "EC") != 0 ||
		    (jsonu_get_str(k, "alg", &alg) == 0 &&
		    strcmp(alg, "ES256") != 0) ||
		    jsonu_get_str(k, "kid", &kid) != 0 ||
		    strlen(kid) >= sizeof(keys[0].kid))
			continue;
		if (n == LC_MAX_KEYS)
			break;
		pub = jwk_to_pkey(k, why, sizeof(why));
		if (pub == NULL) {
			/* Another curve without an "alg" is not ours: skip it.
			 * A key that claims ES256 and is broken is an error. */
			if (jsonu_get_str(k, "alg", &alg) != 0)
				continue;
			keys_free(keys, n);
			json_decref(doc);
			return lc_fail(CONSENT_E_CONFIG, "JWKS: keys[%zu]: %s", i,
			    why);
		}
		snprintf(keys[n].kid, sizeof(keys[n].kid), "%s", kid);
		keys[n].pub = pub;
		n++;
	}
	json_decref(doc);
	if (n == 0)
		return lc_fail(CONSENT_E_CONFIG, "JWKS: no ES256 key with a kid");
	*nkeys = n;
	return CONSENT_OK;
}

/* Loads (or reloads) the key set; replaces the keys only on success. */
static consent_err
load_keys(consent_verifier *v)
{
	struct vkey fresh[LC_MAX_KEYS], old[LC_MAX_KEYS];
	char *text = NULL;
	size_t len = 0, n, nold;
	long status;
	consent_err rc;

	memset(fresh, 0, sizeof(fresh));
	if (v->jwks_file != NULL) {
		if (fsu_read_file(v->jwks_file, LC_JWKS_MAX, &text, &len) != 0)
			return lc_fail(CONSENT_E_IO, "JWKS file %s: %s", v->jwks_file,
			    strerror(errno));
	} else {
		rc = lc_http(&v->http, v->jwks_url, NULL, NULL, &status, &text,
		    &len);
		if (rc != CONSENT_OK)
			return rc;
		if (status != 200) {
			free(text);
			return lc_fail(CONSENT_E_HTTP, "JWKS %s: HTTP %ld",
			    v->jwks_url, status);
		}
	}
	rc = parse_jwks(text, len, fresh, &n);
	free(text);
	if (rc != CONSENT_OK)
		return rc;
	pthread_rwlock_wrlock(&v->lock);
	memcpy(old, v->keys, sizeof(old));
	nold = v->nkeys;
	memcpy(v->keys, fresh, sizeof(fresh));
	v->nkeys = n;
	pthread_rwlock_unlock(&v->lock);
	keys_free(old, nold);
	return CONSENT_OK;
}

/* The key with kid, up-ref'd (caller frees), or NULL. */
static EVP_PKEY *
find_key(consent_verifier *v, const char *kid)
{
	EVP_PKEY *k = NULL;
	size_t i;

	pthread_rwlock_rdlock(&v->lock);
	for (i = 0; i < v->nkeys; i++)
		if (strcmp(v->keys[i].kid, kid) == 0) {
			if (EVP_PKEY_up_ref(v->keys[i].pub) == 1)
				k = v->keys[i].pub;
			break;
		}
	pthread_rwlock_unlock(&v->lock);
	return k;
}

/* On an unknown kid: refresh from the URL, at most once per min_refresh. */
static EVP_PKEY *
find_key_refreshing(consent_verifier *v, const char *kid)
{
	EVP_PKEY *k = find_key(v, kid);
	int64_t now;

	if (k != NULL || v->jwks_url == NULL)
		return k;
	pthread_mutex_lock(&v->refresh_mu);
	now = timeu_mono_us();
	if (now - v->last_refresh_us >= (int64_t)v->min_refresh * 1000000) {
		v->last_refresh_us = now;
		(void)load_keys(v);
	}
	pthread_mutex_unlock(&v->refresh_mu);
	return find_key(v, kid);
}

void
consent_claims_free(struct consent_claims *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->jti);
	free(c->subject);
	free(c->client_id);
	free(c->provider);
	free(c->agreement);
	free(c->agreement_hash);
	free(c->purpose);
	free(c->consent_id);
	for (i = 0; c->fields != NULL && i < c->nfields; i++)
		free(c->fields[i]);
	free(c->fields);
	memset(c, 0, sizeof(*c));
}

void
consent_verifier_free(consent_verifier *v)
{
	if (v == NULL)
		return;
	keys_free(v->keys, v->nkeys);
	lc_replay_close(v->replay);
	for (size_t i = 0; i < LC_STATUS_CACHE; i++)
		free(v->slists[i].bytes);
	pthread_mutex_destroy(&v->status_mu);
	free(v->broker_url);
	pthread_rwlock_destroy(&v->lock);
	pthread_mutex_destroy(&v->refresh_mu);
	EVP_MD_free(v->sha256);
	free(v->provider);
	free(v->issuer);
	free(v->jwks_url);
	free(v->jwks_file);
	free(v->ca_file);
	free(v->cert_file);
	free(v->key_file);
	free(v);
}

consent_err
consent_verifier_new(const struct consent_verifier_opts *o,
    consent_verifier **out, char *detail, size_t detail_len)
{
	consent_verifier *v = NULL;
	consent_err rc;

	lc_clear();
	if (out != NULL)
		*out = NULL;
	if (out == NULL || o == NULL) {
		rc = lc_fail(CONSENT_E_INVALID_ARG, "no options or no out pointer");
		goto fail;
	}
	if (o->provider == NULL || o->issuer == NULL ||
	    (o->jwks_url == NULL) == (o->jwks_file == NULL) ||
	    (o->jwks_url != NULL && o->ca_file == NULL) ||
	    o->leeway_s < 0 || o->leeway_s > LC_MAX_LEEWAY) {
		rc = lc_fail(CONSENT_E_INVALID_ARG, "provider and issuer are "
		    "required, with exactly one of jwks_url (and ca_file) or "
		    "jwks_file; leeway_s 0..%d", LC_MAX_LEEWAY);
		goto fail;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
		goto fail;
	}
	pthread_rwlock_init(&v->lock, NULL);
	pthread_mutex_init(&v->refresh_mu, NULL);
	pthread_mutex_init(&v->status_mu, NULL);
	v->status_ttl = o->status_ttl_s > 0 ? o->status_ttl_s : 0;
	if (o->broker_url != NULL)
		v->broker_url = strdup(o->broker_url);
	else if (o->jwks_url != NULL) {
		/* The origin of the JWKS URL: scheme://host[:port] */
		const char *p = strstr(o->jwks_url, "://");
		const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;

		v->broker_url = slash != NULL ? strndup(o->jwks_url,
		    (size_t)(slash - o->jwks_url)) : strdup(o->jwks_url);
	}
	v->provider = strdup(o->provider);
	v->issuer = strdup(o->issuer);
	v->jwks_url = dup_opt(o->jwks_url);
	v->jwks_file = dup_opt(o->jwks_file);
	v->ca_file = dup_opt(o->ca_file);
	v->cert_file = dup_opt(o->cert_file);
	v->key_file = dup_opt(o->key_file);
	if (v->provider == NULL || v->issuer == NULL ||
	    (o->jwks_url != NULL && v->jwks_url == NULL) ||
	    (o->jwks_file != NULL && v->jwks_file == NULL)) {
		rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
		goto fail;
	}
	v->leeway = o->leeway_s > 0 ? o->leeway_s : 30;
	v->min_refresh = o->jwks_min_refresh_s > 0 ? o->jwks_min_refresh_s : 10;
	v->http.ca_file = v->ca_file;
	v->http.cert_file = v->cert_file;
	v->http.key_file = v->key_file;
	v->http.connect_timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	v->http.total_timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	v->http.max_retries = 1;
	v->http.backoff_ms = 100;
	/* An explicit fetch once, not an implicit one per token; on failure
	 * jws_verify_es256_split falls back to EVP_sha256(). */
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if ((rc = load_keys(v)) != CONSENT_OK)
		goto fail;
	v->last_refresh_us = timeu_mono_us();
	if (o->replay_dir != NULL) {
		v->replay = lc_replay_open(o->replay_dir);
		if (v->replay == NULL) {
			rc = CONSENT_E_STORE;
			goto fail;
		}
	}
	*out = v;
	return CONSENT_OK;
fail:
	lc_copy_detail(detail, detail_len);
	consent_verifier_free(v);
	return rc;
}

const char *
consent_verifier_detail(const consent_verifier *v)
{
	(void)v;
	return lc_detail();
}

/* String member key of object obj, decoded into a new string, or NULL. */
static char *
str_claim(const struct jtok_doc *d, int obj, const char *key)
{
	int i;

	return jtok_member(d, obj, key, JTOK_STRING, &i) == 0 ?
	    jtok_strdup(d, i) : NULL;
}

/* Copies the claims the caller sees; CONSENT_E_MALFORMED if one is bad. */
static consent_err
extract(const struct jtok_doc *c, struct consent_claims *out)
{
	const char *missing;
	int64_t ver;
	size_t i, n;
	int ad, fields, f;

	memset(out, 0, sizeof(*out));
	ad = jtok_item(c, jtok_get(c, 0, "authorization_details"), 0);
	fields = jtok_get(c, ad, "fields");
	if (jtok_type(c, ad) != JTOK_OBJECT ||
	    jtok_type(c, fields) != JTOK_ARRAY ||
	    jtok_get_int(c, ad, "agreement_version", &ver) != 0 || ver < 1 ||
	    ver > UINT32_MAX)
		return lc_fail(CONSENT_E_MALFORMED,
		    "claim authorization_details[0] missing or malformed");
	out->jti = str_claim(c, 0, "jti");
	out->subject = str_claim(c, 0, "sub");
	out->client_id = str_claim(c, 0, "client_id");
	out->provider = str_claim(c, 0, "aud");
	out->agreement = str_claim(c, ad, "agreement");
	out->agreement_hash = str_claim(c, ad, "agreement_hash");
	out->purpose = str_claim(c, ad, "purpose");
	out->consent_id = str_claim(c, 0, "consent_id");
	out->agreement_version = (uint32_t)ver;
	jtok_get_int(c, 0, "iat", &out->iat);
	jtok_get_int(c, 0, "nbf", &out->nbf);
	jtok_get_int(c, 0, "exp", &out->exp);
	n = c->tok[fields].size;
	out->fields = calloc(n + 1, sizeof(char *));
	if (out->fields == NULL)
		goto nomem;
	/* Items in document order: each one's next is the one after it. */
	for (i = 0, f = fields + 1; i < n; i++, f = (int)c->tok[f].next) {
		if (jtok_type(c, f) != JTOK_STRING) {
			consent_claims_free(out);
			return lc_fail(CONSENT_E_MALFORMED,
			    "authorization_details[0].fields[%zu] is not a string",
			    i);
		}
		if ((out->fields[i] = jtok_strdup(c, f)) == NULL)
			goto nomem;
		out->nfields = i + 1;
	}
	missing = NULL;
	if (out->jti == NULL)
		missing = "jti";
	else if (out->subject == NULL)
		missing = "sub";
	else if (out->client_id == NULL)
		missing = "client_id";
	else if (out->provider == NULL)
		missing = "aud";
	else if (out->agreement == NULL)
		missing = "authorization_details[0].agreement";
	else if (out->purpose == NULL)
		missing = "authorization_details[0].purpose";
	if (missing != NULL) {
		consent_claims_free(out);
		return lc_fail(CONSENT_E_MALFORMED, "claim %s missing or not a "
		    "string", missing);
	}
	return CONSENT_OK;
nomem:
	consent_claims_free(out);
	return lc_fail(CONSENT_E_NOMEM, "out of memory");
}

/* Fetches, verifies and decodes one status list into s. */
static consent_err
fetch_status(consent_verifier *v, const char *uri, struct slist *s)
{
	struct jws_parsed p = { 0 };
	char url[1024], why[256], *body = NULL;
	const char *path, *sub, *lst;
	unsigned char *z = NULL, *bytes = NULL;
	size_t zlen, ilen = strlen(v->issuer);
	uLongf nbytes = LC_STATUS_MAX_BYTES;
	json_t *sl;
	int64_t bits, ttl, exp, now = timeu_now();
	EVP_PKEY *key = NULL;
	long status;
	consent_err rc;

	path = uri + ilen;
	if (v->broker_url == NULL || snprintf(url, sizeof(url), "%s%s",
	    v->broker_url, path) >= (int)sizeof(url))
		return lc_fail(CONSENT_E_REVOKED, "status list %.200s: no broker "
		    "URL to fetch it from", uri);
	rc = lc_http(&v->http, url, NULL, NULL, &status, &body, NULL);
	if (rc != CONSENT_OK)
		return lc_fail(CONSENT_E_REVOKED, "status list unavailable: %s",
		    lc_detail());
	if (status != 200) {
		free(body);
		return lc_fail(CONSENT_E_REVOKED, "status list %.200s: HTTP %ld",
		    url, status);
	}
	rc = CONSENT_E_REVOKED;
	if (jws_parse(body, strlen(body), &p, why, sizeof(why)) != JWS_OK ||
	    jws_check_header(&p, LC_STATUS_TYP, why, sizeof(why)) != JWS_OK ||
	    p.kid == NULL || (key = find_key_refreshing(v, p.kid)) == NULL ||
	    jws_verify_es256(key, &p) != JWS_OK) {
		lc_fail(rc, "status list %.200s is not a valid signed list",
		    uri);
		goto out;
	}
	sl = json_object_get(p.claims, "status_list");
	if (jsonu_get_str(p.claims, "sub", &sub) != 0 || strcmp(sub, uri) != 0 ||
	    (jsonu_get_int(p.claims, "exp", &exp) == 0 && exp <= now) ||
	    jsonu_get_int(sl, "bits", &bits) != 0 ||
	    (bits != 1 && bits != 2 && bits != 4 && bits != 8) ||
	    jsonu_get_str(sl, "lst", &lst) != 0) {
		lc_fail(rc, "status list %.200s: wrong subject, expired or "
		    "malformed", uri);
		goto out;
	}
	if (jsonu_get_int(p.claims, "ttl", &ttl) != 0 || ttl <= 0 ||
	    ttl > 86400)
		ttl = LC_STATUS_DEFAULT_TTL;
	z = malloc(b64_decoded_max(strlen(lst)) + 1);
	bytes = malloc(LC_STATUS_MAX_BYTES);
	if (z == NULL || bytes == NULL ||
	    b64url_decode(lst, strlen(lst), z, &zlen) != 0 ||
	    uncompress(bytes, &nbytes, z, (uLong)zlen) != Z_OK) {
		lc_fail(rc, "status list %.200s: lst is not base64url zlib data "
		    "(or larger than %u bytes)", uri, LC_STATUS_MAX_BYTES);
		goto out;
	}
	free(s->bytes);
	snprintf(s->uri, sizeof(s->uri), "%s", uri);
	s->bytes = bytes;
	bytes = NULL;
	s->nbytes = nbytes;
	s->bits = (int)bits;
	s->ttl = v->status_ttl > 0 ? v->status_ttl : (int)ttl;
	s->fetched_us = timeu_mono_us();
	rc = CONSENT_OK;
out:
	free(z);
	free(bytes);
	free(body);
	EVP_PKEY_free(key);
	jws_parsed_free(&p);
	return rc;
}

/* Checks the token's status list entry; CONSENT_OK or CONSENT_E_REVOKED. */
static consent_err
check_status(consent_verifier *v, const struct jtok_doc *claims, int64_t now)
{
	int status = jtok_get(claims, 0, "status");
	int sl = jtok_get(claims, status, "status_list"), iu;
	struct slist *s = NULL, *oldest = &v->slists[0];
	char uri[sizeof(s->uri)];
	int64_t idx, age;
	size_t ilen = strlen(v->issuer), i, bitpos, ulen;
	unsigned val;
	consent_err rc = CONSENT_OK;

	(void)now;
	if (status < 0)
		return CONSENT_OK;
	if (jtok_get_int(claims, sl, "idx", &idx) != 0 || idx < 0 ||
	    jtok_member(claims, sl, "uri", JTOK_STRING, &iu) != 0)
		return lc_fail(CONSENT_E_MALFORMED, "claim status.status_list "
		    "needs idx and uri");
	/* Truncated to sizeof(uri) - 1 bytes; ulen is the whole length. */
	ulen = jtok_str_copy(claims, iu, uri, sizeof(uri));
	/* Only lists of our broker: never fetch a URI a token names freely. */
	if (strncmp(uri, v->issuer, ilen) != 0 || uri[ilen] != '/' ||
	    ulen >= sizeof(s->uri))
		return lc_fail(CONSENT_E_MALFORMED, "status list URI %.200s is "
		    "not under the issuer", uri);
	pthread_mutex_lock(&v->status_mu);
	for (i = 0; i < LC_STATUS_CACHE; i++) {
		if (v->slists[i].bytes != NULL &&
		    strcmp(v->slists[i].uri, uri) == 0) {
			s = &v->slists[i];
			break;
		}
		if (v->slists[i].fetched_us < oldest->fetched_us)
			oldest = &v->slists[i];
	}
	age = s != NULL ? (timeu_mono_us() - s->fetched_us) / 1000000 : 0;
	if (s == NULL || age >= s->ttl) {
		struct slist *dst = s != NULL ? s : oldest;
		char keep_uri[512];

		snprintf(keep_uri, sizeof(keep_uri), "%s", uri);
		rc = fetch_status(v, keep_uri, dst);
		if (rc == CONSENT_OK)
			s = dst;
		else if (s != NULL && age < 2 * s->ttl)
			rc = CONSENT_OK;   /* stale but within grace: use it */
	}
	if (rc == CONSENT_OK) {
		if ((uint64_t)idx >= (uint64_t)s->nbytes * 8 / (uint64_t)s->bits)
			bitpos = SIZE_MAX;
		else
			bitpos = (size_t)idx * (size_t)s->bits;
		if (bitpos == SIZE_MAX || bitpos / 8 >= s->nbytes)
			val = 0;   /* beyond the list: never revoked */
		else
			val = (s->bytes[bitpos / 8] >> (bitpos % 8)) &
			    ((1u << s->bits) - 1);
		if (val != 0)
			rc = lc_fail(CONSENT_E_REVOKED, "token %lld of status list "
			    "%.200s has status %u (revoked)", (long long)idx, uri,
			    val);
	}
	pthread_mutex_unlock(&v->status_mu);
	return rc;
}

/*
 * Parses one decoded part of a token as a JSON object into d: into the
 * cap tokens of stack, or, when they are too few, into a heap array left
 * in *heap (the caller frees it). Messages as jws_parse gives them.
 */
static consent_err
parse_part(const unsigned char *buf, size_t len, const char *what,
    struct jtok *stack, size_t cap, struct jtok **heap, struct jtok_doc *d)
{
	char jerr[160];
	enum jtok_err e;

	jerr[0] = '\0';
	e = jtok_parse_grow(d, (const char *)buf, len, stack, cap, heap,
	    JWS_MAX_DEPTH, jerr, sizeof(jerr));
	if (e == JTOK_NOSPACE)
		return lc_fail(CONSENT_E_NOMEM, "out of memory");
	if (e != JTOK_OK)
		return lc_fail(CONSENT_E_MALFORMED, "%s: %s", what, jerr);
	if (jtok_type(d, 0) != JTOK_OBJECT)
		return lc_fail(CONSENT_E_MALFORMED, "%s: not a JSON object", what);
	return CONSENT_OK;
}

/*
 * The verify path: the token is split and decoded by jws_split and its
 * header and claims parsed by jtok, without jansson or allocations beyond
 * the claims handed to the caller; checks, codes and messages are those
 * of jws_parse and jws_check_header followed by the claim checks.
 */
static consent_err
verify(consent_verifier *v, const char *token, const unsigned char *der,
    size_t derlen, const char *const *fields, size_t nfields,
    struct consent_claims *claims, int record)
{
	struct jws_split sp;
	struct jws_parsed hp = { 0 };
	struct jtok htok[LC_HEADER_TOKS], ctok[LC_CLAIMS_TOKS];
	struct jtok *hheap = NULL, *cheap = NULL;
	struct jtok_doc hd, cd;
	struct consent_claims cl = { 0 };
	unsigned char md[SHA256_DIGEST_LENGTH];
	char why[256], x5t[JWK_B64_SHA256_LEN], alg[LC_HSTR_MAX],
	    typ[LC_HSTR_MAX], kid[LC_KID_MAX], shown[256];
	const char *nbf_name;
	EVP_PKEY *key = NULL;
	int64_t now = timeu_now(), exp, nbf;
	consent_err rc;
	size_t i, j;
	int found, r, ia, it, ik, ib;

	lc_clear();
	if (claims != NULL)
		memset(claims, 0, sizeof(*claims));
	if (v == NULL || token == NULL || (nfields > 0 && fields == NULL))
		return lc_fail(CONSENT_E_INVALID_ARG, "verifier or token is NULL");
	if (jws_split(token, strlen(token), &sp, why, sizeof(why)) != JWS_OK)
		return lc_fail(CONSENT_E_MALFORMED, "%s", why);
	if ((rc = parse_part(sp.header, sp.header_len, "header", htok,
	    LC_HEADER_TOKS, &hheap, &hd)) != CONSENT_OK)
		goto out;
	rc = CONSENT_E_MALFORMED;
	if (jtok_member(&hd, 0, "alg", JTOK_STRING, &ia) != 0) {
		lc_fail(rc, "header: alg missing or not a string");
		goto out;
	}
	if ((r = jtok_member(&hd, 0, "typ", JTOK_STRING, &it)) < 0) {
		lc_fail(rc, "header: typ not a string");
		goto out;
	}
	if (r == 1)
		it = -1;
	if ((r = jtok_member(&hd, 0, "kid", JTOK_STRING, &ik)) < 0) {
		lc_fail(rc, "header: kid not a string");
		goto out;
	}
	if (r == 1)
		ik = -1;
	/* RFC 7515 section 4.1.11, as in jws_parse: we understand no crit. */
	if (jtok_get(&hd, 0, "crit") >= 0) {
		lc_fail(rc, "header: crit names unsupported extensions");
		goto out;
	}
	if ((rc = parse_part(sp.claims, sp.claims_len, "claims", ctok,
	    LC_CLAIMS_TOKS, &cheap, &cd)) != CONSENT_OK)
		goto out;
	/*
	 * Truncated copies: a cut alg or typ is longer than any value it
	 * could be mistaken for, a cut kid longer than any key's, and the
	 * messages print less than is kept.
	 */
	jtok_str_copy(&hd, ia, alg, sizeof(alg));
	hp.alg = alg;
	if (it >= 0) {
		jtok_str_copy(&hd, it, typ, sizeof(typ));
		hp.typ = typ;
	}
	if (jws_check_header(&hp, LC_TOKEN_TYP, why, sizeof(why)) != JWS_OK) {
		rc = lc_fail(CONSENT_E_BAD_ALG, "%s", why);
		goto out;
	}
	if (ik < 0) {
		rc = lc_fail(CONSENT_E_UNKNOWN_KEY, "token header has no kid");
		goto out;
	}
	jtok_str_copy(&hd, ik, kid, sizeof(kid));
	if ((key = find_key_refreshing(v, kid)) == NULL) {
		rc = lc_fail(CONSENT_E_UNKNOWN_KEY,
		    "kid '%.64s' is not in the broker's key set", kid);
		goto out;
	}
	if (jws_verify_es256_split(key, v->sha256, &sp) != JWS_OK) {
		rc = lc_fail(CONSENT_E_BAD_SIGNATURE,
		    "signature does not verify with key '%.64s'", kid);
		goto out;
	}
	rc = CONSENT_E_MALFORMED;
	if (jtok_member(&cd, 0, "iss", JTOK_STRING, &r) != 0) {
		lc_fail(rc, "claim iss missing");
		goto out;
	}
	if (!jtok_str_eq(&cd, r, v->issuer)) {
		jtok_str_copy(&cd, r, shown, sizeof(shown));
		rc = lc_fail(CONSENT_E_WRONG_ISSUER,
		    "iss is '%.128s', expected '%.128s'", shown, v->issuer);
		goto out;
	}
	if (jtok_member(&cd, 0, "aud", JTOK_STRING, &r) != 0) {
		lc_fail(rc, "claim aud missing or not a string");
		goto out;
	}
	if (!jtok_str_eq(&cd, r, v->provider)) {
		jtok_str_copy(&cd, r, shown, sizeof(shown));
		rc = lc_fail(CONSENT_E_WRONG_AUDIENCE,
		    "aud is '%.64s', not this provider '%.64s'", shown,
		    v->provider);
		goto out;
	}
	if (jtok_get_int(&cd, 0, "exp", &exp) != 0) {
		lc_fail(rc, "claim exp missing or not an integer");
		goto out;
	}
	/* nbf, or iat when there is no nbf (consent.h); either may be absent,
	 * but not of another type. */
	nbf_name = "nbf";
	if ((r = jtok_get_int(&cd, 0, "nbf", &nbf)) == 1) {
		nbf_name = "iat";
		r = jtok_get_int(&cd, 0, "iat", &nbf);
	}
	if (r < 0) {
		lc_fail(rc, "claim %s is not an integer", nbf_name);
		goto out;
	}
	if (r == 0 && now + v->leeway < nbf) {
		rc = lc_fail(CONSENT_E_NOT_YET_VALID,
		    "%s is %lld, %lld s in the future", nbf_name, (long long)nbf,
		    (long long)(nbf - now));
		goto out;
	}
	if (now - v->leeway >= exp) {
		/* exp may be anything down to INT64_MIN: no overflow in "ago". */
		rc = lc_fail(CONSENT_E_EXPIRED, "exp was %lld, %lld s ago",
		    (long long)exp, (long long)(exp < now - INT64_MAX ?
		    INT64_MAX : now - exp));
		goto out;
	}
	ib = jtok_get(&cd, jtok_get(&cd, 0, "cnf"), "x5t#S256");
	if (jtok_type(&cd, ib) != JTOK_STRING) {
		rc = lc_fail(CONSENT_E_BINDING, "token has no cnf.x5t#S256");
		goto out;
	}
	if (der == NULL || derlen == 0) {
		rc = lc_fail(CONSENT_E_BINDING, "token has cnf.x5t#S256 but "
		    "no client certificate was presented");
		goto out;
	}
	SHA256(der, derlen, md);
	b64url_encode(md, sizeof(md), x5t);
	if (!jtok_str_eq(&cd, ib, x5t)) {
		jtok_str_copy(&cd, ib, shown, sizeof(shown));
		rc = lc_fail(CONSENT_E_BINDING, "cnf.x5t#S256 is %.44s; the "
		    "presented certificate's is %s", shown, x5t);
		goto out;
	}
	if ((rc = extract(&cd, &cl)) != CONSENT_OK)
		goto out;
	for (i = 0; i < nfields; i++) {
		found = 0;
		for (j = 0; j < cl.nfields && !found; j++)
			found = fields[i] != NULL &&
			    strcmp(fields[i], cl.fields[j]) == 0;
		if (!found) {
			rc = lc_fail(CONSENT_E_FIELD_SCOPE,
			    "field '%.128s' is not in the token's scope",
			    fields[i] != NULL ? fields[i] : "(null)");
			goto out;
		}
	}
	if ((rc = check_status(v, &cd, now)) != CONSENT_OK)
		goto out;
	/* Remember the jti until exp + leeway, saturated: an exp near
	 * INT64_MAX must not wrap into the past and make the token reusable. */
	if (record && v->replay != NULL &&
	    (rc = lc_replay_check(v->replay, cl.jti, exp > INT64_MAX - v->leeway ?
	    INT64_MAX : exp + v->leeway, now)) != CONSENT_OK)
		goto out;
	rc = CONSENT_OK;
	if (claims != NULL) {
		*claims = cl;
		memset(&cl, 0, sizeof(cl));
	}
out:
	consent_claims_free(&cl);
	EVP_PKEY_free(key);
	free(hheap);
	free(cheap);
	return rc;
}

consent_err
consent_verify(consent_verifier *v, const char *token,
    const unsigned char *cert_der, size_t cert_der_len,
    const char *const *fields, size_t nfields, struct consent_claims *claims)
{
	return verify(v, token, cert_der, cert_der_len, fields, nfields, claims,
	    1);
}

consent_err
consent_verify_peek(consent_verifier *v, const char *token,
    const unsigned char *cert_der, size_t cert_der_len,
    const char *const *fields, size_t nfields, struct consent_claims *claims)
{
	return verify(v, token, cert_der, cert_der_len, fields, nfields, claims,
	    0);
}
