/*
 * Integration: revocation reaches tokens already issued. Revoking a
 * consent, or suspending or terminating an agreement, makes introspection
 * answer inactive at once and sets the tokens' bits in the signed status
 * list, which a libconsent verifier picks up within the list's ttl; the
 * revoked consent then says whether its provider has fetched a list that
 * shows the revocation. Key rotation keeps tokens signed before it valid.
 *
 * The broker runs with status_ttl_s = RV_TTL_S, and the group's verifier
 * (provider dia, with dia's client certificate, so that its fetches count
 * as "seen") caches lists for the same time.
 *
 * The first test reads the whole of status list 0 and expects exactly one
 * bit set: it must stay first. Every test uses its own subjects, and the
 * lifecycle tests their own agreements, so the examples stay usable.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <zlib.h>

#include "b64.h"
#include "consent.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define RV_TTL_S 1
#define RV_TTL_SET "status_ttl_s=1"
/* Slack on top of the ttl for the fetch itself, scheduling and sanitizers. */
#define RV_MARGIN_MS 900
#define RV_POLL_MS 10
#define RV_WAIT_MS 6000            /* bound on every poll loop */
#define RV_LIST_MAX (1u << 17)     /* 2^20 bits */

static const char *const one_field[] = { "child.given_names", NULL };

/* What the group shares; built in rv_setup, freed in rv_teardown. */
struct rv {
	struct it_server *s;
	consent_verifier *v;       /* dia, status ttl RV_TTL_S, dia's cert */
	char issuer[256];
	char jwks_url[320];
	char ca[PATH_MAX];
	char dia_crt[PATH_MAX];
	char dia_key[PATH_MAX];
	unsigned char *ird_der;    /* the requester's certificate, for cnf */
	int ird_der_len;
};

#define RV_TEST(name)                                                   \
	static void name##_body(struct rv *e);                          \
	static void name(void **state)                                  \
	{                                                               \
		struct rv *e_ = *state;                                 \
		it_ensure_running(e_->s);                               \
		name##_body(e_);                                        \
		it_assert_no_sanitizer_reports();                       \
	}                                                               \
	static void name##_body(struct rv *e)

/* A verifier for dia; broker_url NULL means the JWKS URL's origin. */
static consent_verifier *
verifier_new(struct rv *e, const char *broker_url)
{
	struct consent_verifier_opts vo;
	consent_verifier *v = NULL;
	char detail[512];

	memset(&vo, 0, sizeof(vo));
	vo.provider = "dia";
	vo.issuer = e->issuer;
	vo.jwks_url = e->jwks_url;
	vo.ca_file = e->ca;
	vo.cert_file = e->dia_crt;
	vo.key_file = e->dia_key;
	vo.jwks_min_refresh_s = 1;
	vo.timeout_ms = 3000;
	vo.broker_url = broker_url;
	vo.status_ttl_s = RV_TTL_S;
	if (consent_verifier_new(&vo, &v, detail, sizeof(detail)) != CONSENT_OK) {
		fprintf(stderr, "test_revocation: verifier: %s\n", detail);
		return NULL;
	}
	return v;
}

static void
rv_free(struct rv *e)
{
	if (e == NULL)
		return;
	consent_verifier_free(e->v);
	OPENSSL_free(e->ird_der);
	free(e);
}

static int
rv_setup(void **state)
{
	struct rv *e = calloc(1, sizeof(*e));
	char p[PATH_MAX], err[256];
	struct it_resp r;
	X509 *ird = NULL;
	int n;

	*state = NULL;
	if (e == NULL)
		return -1;
	if ((e->s = it_server_new()) == NULL)
		goto fail;
	e->s->sets[e->s->nsets++] = RV_TTL_SET;
	if (it_server_start(e->s) != 0)
		goto fail;
	/* The issuer, as a provider learns it: from discovery. */
	if (it_get(e->s, NULL, NULL, "/.well-known/consent-broker", &r) != 200) {
		it_resp_free(&r);
		goto fail;
	}
	snprintf(e->issuer, sizeof(e->issuer), "%s", it_jstr(r.json, "issuer"));
	it_resp_free(&r);
	n = snprintf(e->jwks_url, sizeof(e->jwks_url),
	    "%s/.well-known/jwks.json", e->s->base);
	if (n < 0 || (size_t)n >= sizeof(e->jwks_url) ||
	    snprintf(e->ca, sizeof(e->ca), "%s/pki/ca.crt", e->s->data) >=
	    (int)sizeof(e->ca) ||
	    snprintf(e->dia_crt, sizeof(e->dia_crt), "%s/pki/dia.crt",
	    e->s->data) >= (int)sizeof(e->dia_crt) ||
	    snprintf(e->dia_key, sizeof(e->dia_key), "%s/pki/dia.key",
	    e->s->data) >= (int)sizeof(e->dia_key) ||
	    snprintf(p, sizeof(p), "%s/pki/ird.crt", e->s->data) >=
	    (int)sizeof(p))
		goto fail;
	if ((ird = pki_load_cert(p, err, sizeof(err))) == NULL ||
	    (e->ird_der_len = i2d_X509(ird, &e->ird_der)) <= 0) {
		fprintf(stderr, "test_revocation: %s: %s\n", p, err);
		X509_free(ird);
		goto fail;
	}
	X509_free(ird);
	if ((e->v = verifier_new(e, NULL)) == NULL)
		goto fail;
	*state = e;
	return 0;
fail:
	rv_free(e);
	return -1;
}

static int
rv_teardown(void **state)
{
	struct rv *e = *state;
	int rc = 0;

	if (e == NULL)
		return 0;
	if (e->s != NULL && e->s->pid > 0 && it_server_stop(e->s) != 0)
		rc = -1;
	rv_free(e);
	return rc;
}

/* ---- helpers ------------------------------------------------------------ */

/* Grants agreement (all fields) for subject; id gets the consent id. */
static void
grant_ok(struct it_server *s, const char *subject, const char *agreement,
    char id[64])
{
	struct it_resp r;

	it_grant(s, subject, agreement, NULL, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

/* ird's token about subject under agreement (caller frees). */
static char *
token_ok(const struct it_server *s, const char *agreement,
    const char *subject)
{
	struct it_resp r;
	char *tok;

	it_token(s, "ird", agreement, subject, PURPOSE, one_field, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	it_resp_free(&r);
	return tok;
}

/* 1 when dia's introspection says active, 0 when inactive. */
static int
introspect_active(const struct it_server *s, const char *token)
{
	struct it_resp r;
	json_t *a;
	int active;

	it_introspect(s, "dia", token, &r);
	assert_status(&r, 200);
	a = json_object_get(r.json, "active");
	assert_true(json_is_boolean(a));
	active = json_is_true(a);
	it_resp_free(&r);
	return active;
}

/* consent_verify_peek of ird's token with verifier v. */
static consent_err
peek(struct rv *e, consent_verifier *v, const char *token)
{
	return consent_verify_peek(v, token, e->ird_der,
	    (size_t)e->ird_der_len, NULL, 0, NULL);
}

/*
 * Polls peek every RV_POLL_MS until it answers CONSENT_E_REVOKED; returns
 * the milliseconds from since (it_now_ms() when the revoking call
 * returned) to that answer, failing the test on another error or after
 * RV_WAIT_MS.
 */
static int64_t
wait_revoked(struct rv *e, const char *token, int64_t since)
{
	int64_t start = it_now_ms(), now;
	consent_err rc;

	for (;;) {
		rc = peek(e, e->v, token);
		now = it_now_ms();
		if (rc == CONSENT_E_REVOKED) {
			assert_contains(consent_verifier_detail(e->v), "revoked");
			return now - since;
		}
		if (rc != CONSENT_OK)
			fail_msg("verify while waiting for revocation: %s (%s)",
			    consent_strerror(rc), consent_verifier_detail(e->v));
		if (now - start > RV_WAIT_MS)
			fail_msg("token still valid %lld ms after revocation",
			    (long long)(now - start));
		it_sleep_ms(RV_POLL_MS);
	}
}

/* Asserts the verifier rejected within the ttl (plus slack). */
static void
assert_within_ttl(int64_t ms)
{
	if (ms > RV_TTL_S * 1000 + RV_MARGIN_MS)
		fail_msg("rejected %lld ms after revocation; the bound is the "
		    "status ttl %d s (+%d ms slack)", (long long)ms, RV_TTL_S,
		    RV_MARGIN_MS);
}

/* GET /v1/consents/{id} as subject into r (200 asserted). */
static void
consent_get(struct it_server *s, const char *subject, const char *id,
    struct it_resp *r)
{
	const char *tok = it_citizen_token(s, subject, 0);
	char path[128];

	assert_non_null(tok);
	it_fmt(path, sizeof(path), "/v1/consents/%s", id);
	it_get(s, NULL, tok, path, r);
	assert_status(r, 200);
}

/* revocation.providers[0] of a consent answer (borrowed from r). */
static json_t *
provider_entry(const struct it_resp *r)
{
	json_t *p = json_object_get(json_object_get(r->json, "revocation"),
	    "providers");

	assert_true(json_is_array(p));
	assert_int_equal(json_array_size(p), 1);
	assert_string_equal(it_jstr(json_array_get(p, 0), "party"), "dia");
	return json_array_get(p, 0);
}

/* Polls GET /v1/consents/{id} until dia has seen the revocation. */
static void
wait_seen(struct it_server *s, const char *subject, const char *id)
{
	int64_t end = it_now_ms() + RV_WAIT_MS;
	struct it_resp r;
	json_t *p;
	int64_t t;

	for (;;) {
		consent_get(s, subject, id, &r);
		p = provider_entry(&r);
		if (json_is_true(json_object_get(p, "seen"))) {
			/* seen_at is an RFC 3339 time. */
			assert_int_equal(strlen(it_jstr(p, "seen_at")), 20);
			assert_int_equal(it_jstr(p, "seen_at")[19], 'Z');
			it_resp_free(&r);
			return;
		}
		assert_null(json_object_get(p, "seen_at"));
		it_resp_free(&r);
		t = it_now_ms();
		if (t > end)
			fail_msg("dia fetched the list but the consent does not "
			    "say it has seen the revocation");
		it_sleep_ms(50);
	}
}

/* A copy of the SmartStart example named id. */
static json_t *
new_doc(const char *id)
{
	json_t *doc = it_example_agreement(SMARTSTART);

	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "title", json_string("Revocation test copy"));
	return doc;
}

/* Submits and fully approves a copy of SmartStart named id. */
static void
make_active(struct it_server *s, const char *id)
{
	json_t *doc = new_doc(id);
	struct it_resp r;
	char hash[72];

	it_submit_agreement(s, "registrar", doc, &r);
	json_decref(doc);
	assert_status(&r, 201);
	snprintf(hash, sizeof(hash), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	it_approve(s, "dia", id, 1, hash, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_approve(s, "ird", id, 1, hash, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
}

/* The JWKS key with kid, or NULL; *nkeys gets the number of keys. */
static EVP_PKEY *
jwks_key(const struct it_server *s, const char *kid, size_t *nkeys)
{
	struct it_resp r;
	EVP_PKEY *pub = NULL;
	char err[256];
	json_t *keys, *k;
	size_t i;

	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	keys = json_object_get(r.json, "keys");
	assert_true(json_is_array(keys));
	if (nkeys != NULL)
		*nkeys = json_array_size(keys);
	json_array_foreach(keys, i, k) {
		if (strcmp(it_jstr(k, "kid"), kid) != 0)
			continue;
		pub = jwk_to_pkey(k, err, sizeof(err));
		if (pub == NULL)
			fail_msg("JWKS key %s: %s", kid, err);
		break;
	}
	it_resp_free(&r);
	return pub;
}

/* The kid in a compact JWS's header into out. */
static void
header_kid(const char *token, char out[128])
{
	json_t *h = it_jwt_part(token, 0);

	assert_non_null(h);
	snprintf(out, 128, "%s", it_jstr(h, "kid"));
	json_decref(h);
}

/* The status claim of a token: idx (returned) and uri into uri. */
static int64_t
status_idx(const char *token, char uri[256])
{
	json_t *c = it_jwt_part(token, 1), *sl;
	int64_t idx;

	assert_non_null(c);
	sl = json_object_get(json_object_get(c, "status"), "status_list");
	idx = it_jint(sl, "idx");
	snprintf(uri, 256, "%s", it_jstr(sl, "uri"));
	json_decref(c);
	assert_true(idx >= 0);
	return idx;
}

/* lst of a status list's claims, inflated; NULL on any error. */
static unsigned char *
list_bytes(const json_t *claims, size_t *n)
{
	const char *lst = it_jstr(json_object_get(claims, "status_list"), "lst");
	unsigned char *z = malloc(b64_decoded_max(strlen(lst)) + 1);
	unsigned char *out = malloc(RV_LIST_MAX);
	uLongf outlen = RV_LIST_MAX;
	size_t zlen = 0;

	if (z == NULL || out == NULL ||
	    b64url_decode(lst, strlen(lst), z, &zlen) != 0 ||
	    uncompress(out, &outlen, z, (uLong)zlen) != Z_OK) {
		free(z);
		free(out);
		return NULL;
	}
	free(z);
	*n = outlen;
	return out;
}

/* Bit idx of a list (index 0 is the least significant bit of byte 0). */
static int
list_bit(const unsigned char *b, size_t n, int64_t idx)
{
	return (size_t)idx / 8 < n ? (b[idx / 8] >> (idx % 8)) & 1 : 0;
}

/* ---- the status list ---------------------------------------------------- */

RV_TEST(status_list_is_a_signed_statuslist_jwt_with_only_the_revoked_bit_set)
{
	struct it_resp r;
	struct jws_parsed p = { 0 };
	char ida[64], idb[64], kid[128], uri[256], urib[256], want[300],
	    err[256], cc[64];
	char *ta, *tb;
	int64_t ia, ib, now = (int64_t)time(NULL), i, t_revoked;
	EVP_PKEY *pub;
	unsigned char *bits;
	size_t n = 0, nkeys = 0, ones = 0;

	grant_ok(e->s, "rv-list-a", SMARTSTART, ida);
	grant_ok(e->s, "rv-list-b", SMARTSTART, idb);
	ta = token_ok(e->s, SMARTSTART, "rv-list-a");
	tb = token_ok(e->s, SMARTSTART, "rv-list-b");
	ia = status_idx(ta, uri);
	ib = status_idx(tb, urib);
	assert_true(ia != ib);
	/* uri = ISSUER/v1/status/<n>, the same list for both. */
	it_fmt(want, sizeof(want), "%s/v1/status/0", e->issuer);
	assert_string_equal(uri, want);
	assert_string_equal(urib, want);
	it_revoke(e->s, "rv-list-a", ida, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	t_revoked = it_now_ms();

	/* Anyone may fetch it; it is cacheable for the ttl. */
	it_get(e->s, NULL, NULL, "/v1/status/0", &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "application/statuslist+jwt");
	assert_non_null(it_resp_header(&r, "Cache-Control", cc, sizeof(cc)));
	it_fmt(want, sizeof(want), "max-age=%d", RV_TTL_S);
	assert_string_equal(cc, want);
	assert_int_equal(jws_parse(r.body, r.len, &p, err, sizeof(err)), JWS_OK);
	assert_int_equal(jws_check_header(&p, "statuslist+jwt", err,
	    sizeof(err)), JWS_OK);
	assert_string_equal(p.typ, "statuslist+jwt");
	assert_non_null(p.kid);
	header_kid(ta, kid);
	assert_string_equal(p.kid, kid);   /* the token key signs lists too */
	pub = jwks_key(e->s, p.kid, &nkeys);
	assert_non_null(pub);
	assert_int_equal(jws_verify_es256(pub, &p), JWS_OK);
	EVP_PKEY_free(pub);
	/* Claims: sub, iat, exp, ttl, status_list {bits, lst}. */
	assert_string_equal(it_jstr(p.claims, "sub"), uri);
	assert_true(llabs(it_jint(p.claims, "iat") - now) <= 5);
	assert_true(it_jint(p.claims, "exp") > it_jint(p.claims, "iat"));
	assert_int_equal(it_jint(p.claims, "ttl"), RV_TTL_S);
	assert_int_equal(it_jint(json_object_get(p.claims, "status_list"),
	    "bits"), 1);
	bits = list_bytes(p.claims, &n);
	if (bits == NULL)
		fail_msg("lst is not base64url of zlib data: %s", r.body);
	assert_true(n * 8 > (size_t)(ia > ib ? ia : ib));
	assert_int_equal(list_bit(bits, n, ia), 1);
	assert_int_equal(list_bit(bits, n, ib), 0);
	for (i = 0; i < (int64_t)n * 8; i++)
		ones += (size_t)list_bit(bits, n, i);
	assert_int_equal(ones, 1);     /* nothing else was revoked */
	free(bits);
	jws_parsed_free(&p);
	it_resp_free(&r);

	/* The verifier agrees: a rejected, b accepted. */
	assert_within_ttl(wait_revoked(e, ta, t_revoked));
	assert_int_equal(peek(e, e->v, tb), CONSENT_OK);

	/* A list that does not exist yet, a bad name, a wrong method. */
	it_get(e->s, NULL, NULL, "/v1/status/1", &r);
	assert_problem(&r, 404, "status list 1");
	assert_string_equal(it_jstr(r.json, "rule"), "status_list");
	it_resp_free(&r);
	it_get(e->s, NULL, NULL, "/v1/status/x1", &r);
	assert_status(&r, 404);
	it_resp_free(&r);
	it_post_json(e->s, NULL, NULL, "/v1/status/0", "{}", &r);
	assert_status(&r, 405);
	it_resp_free(&r);
	free(ta);
	free(tb);
}

/* ---- consent revocation ------------------------------------------------- */

RV_TEST(revoked_consent_is_inactive_at_once_and_rejected_within_the_ttl)
{
	struct it_resp r;
	json_t *rev, *lists, *prov;
	char id[64], *tok, *tok2;
	int64_t ms, t_revoked;

	grant_ok(e->s, "rv-consent", SMARTSTART, id);
	tok = token_ok(e->s, SMARTSTART, "rv-consent");
	tok2 = token_ok(e->s, SMARTSTART, "rv-consent");
	/* Verified before: the list is in the verifier's cache. */
	assert_int_equal(peek(e, e->v, tok), CONSENT_OK);
	assert_true(introspect_active(e->s, tok));

	it_revoke(e->s, "rv-consent", id, &r);
	t_revoked = it_now_ms();
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	rev = json_object_get(r.json, "revocation");
	assert_non_null(rev);
	assert_int_equal(it_jint(rev, "tokens_revoked"), 2);
	lists = json_object_get(rev, "status_lists");
	assert_true(json_is_object(lists));
	assert_int_equal(json_object_size(lists), 1);
	assert_true(json_integer_value(json_object_get(lists, "0")) >= 1);
	it_resp_free(&r);
	/* Introspection: at once, for both tokens. */
	assert_false(introspect_active(e->s, tok));
	assert_false(introspect_active(e->s, tok2));

	/* dia fetched only an older version so far: not seen. Fetches
	 * without dia's certificate do not count. */
	consent_get(e->s, "rv-consent", id, &r);
	prov = provider_entry(&r);
	assert_true(json_is_false(json_object_get(prov, "seen")));
	assert_null(json_object_get(prov, "seen_at"));
	it_resp_free(&r);
	it_get(e->s, NULL, NULL, "/v1/status/0", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_get(e->s, "ird", NULL, "/v1/status/0", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_sleep_ms(200);   /* give a (wrong) seen record time to land */
	consent_get(e->s, "rv-consent", id, &r);
	assert_true(json_is_false(json_object_get(provider_entry(&r), "seen")));
	it_resp_free(&r);

	/* The verifier rejects once its cached copy is older than the ttl. */
	ms = wait_revoked(e, tok, t_revoked);
	assert_within_ttl(ms);
	print_message("    consent revocation reached the verifier in %lld ms "
	    "(ttl %d s)\n", (long long)ms, RV_TTL_S);
	assert_int_equal(peek(e, e->v, tok2), CONSENT_E_REVOKED);
	/* It fetched with dia's certificate: now the consent says seen. */
	wait_seen(e->s, "rv-consent", id);
	free(tok);
	free(tok2);
}

RV_TEST(revocation_with_no_outstanding_token_revokes_none_and_needs_no_fetch)
{
	struct it_resp r;
	json_t *rev;
	char id[64];

	grant_ok(e->s, "rv-no-token", SMARTSTART, id);
	it_revoke(e->s, "rv-no-token", id, &r);
	assert_status(&r, 200);
	rev = json_object_get(r.json, "revocation");
	assert_int_equal(it_jint(rev, "tokens_revoked"), 0);
	assert_int_equal(json_object_size(json_object_get(rev, "status_lists")),
	    0);
	it_resp_free(&r);
	consent_get(e->s, "rv-no-token", id, &r);
	assert_true(json_is_true(json_object_get(provider_entry(&r), "seen")));
	it_resp_free(&r);
}

RV_TEST(verifier_fails_closed_when_the_status_list_cannot_be_fetched)
{
	consent_verifier *v;
	char id[64], *tok;
	consent_err rc;

	grant_ok(e->s, "rv-closed", SMARTSTART, id);
	tok = token_ok(e->s, SMARTSTART, "rv-closed");
	/* Nothing listens on port 1: the list cannot be had. */
	v = verifier_new(e, "https://127.0.0.1:1");
	assert_non_null(v);
	rc = peek(e, v, tok);
	assert_int_equal(rc, CONSENT_E_REVOKED);
	assert_contains(consent_verifier_detail(v), "status list");
	consent_verifier_free(v);
	/* The same token with a reachable broker is fine. */
	assert_int_equal(peek(e, e->v, tok), CONSENT_OK);
	free(tok);
}

/* ---- agreement suspension and termination ------------------------------- */

RV_TEST(suspension_revokes_outstanding_tokens_for_good_and_resume_issues_anew)
{
	static const char *const agr = "rv-suspend";
	struct it_resp r;
	json_t *rev;
	char id[64], id2[64], *tok, *gone, *fresh;
	int64_t ms, t_revoked;

	make_active(e->s, agr);
	grant_ok(e->s, "rv-susp-1", agr, id);
	grant_ok(e->s, "rv-susp-2", agr, id2);
	tok = token_ok(e->s, agr, "rv-susp-1");
	/* A token whose consent was revoked already is not counted again. */
	gone = token_ok(e->s, agr, "rv-susp-2");
	it_revoke(e->s, "rv-susp-2", id2, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	assert_int_equal(peek(e, e->v, tok), CONSENT_OK);

	it_lifecycle(e->s, "dia", agr, "suspend", "incident 7", &r);
	t_revoked = it_now_ms();
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "suspended");
	rev = json_object_get(r.json, "revocation");
	assert_non_null(rev);
	assert_int_equal(it_jint(rev, "tokens_revoked"), 1);
	assert_true(json_integer_value(json_object_get(json_object_get(rev,
	    "status_lists"), "0")) >= 1);
	assert_int_equal(strlen(it_jstr(rev, "at")), 20);
	it_resp_free(&r);
	assert_false(introspect_active(e->s, tok));
	ms = wait_revoked(e, tok, t_revoked);
	assert_within_ttl(ms);
	print_message("    suspension reached the verifier in %lld ms\n",
	    (long long)ms);
	/* The record keeps the revocation; a read shows it. */
	it_get(e->s, "ird", NULL, "/v1/agreements/rv-suspend", &r);
	assert_status(&r, 200);
	assert_int_equal(it_jint(json_object_get(r.json, "revocation"),
	    "tokens_revoked"), 1);
	it_resp_free(&r);

	/* Resume: new tokens are valid; the ones issued before stay
	 * revoked, online and offline alike. */
	it_lifecycle(e->s, "admin", agr, "resume", "incident closed", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	fresh = token_ok(e->s, agr, "rv-susp-1");
	assert_int_equal(peek(e, e->v, fresh), CONSENT_OK);
	assert_true(introspect_active(e->s, fresh));
	assert_int_equal(peek(e, e->v, tok), CONSENT_E_REVOKED);
	if (introspect_active(e->s, tok))
		fail_msg("introspection says a token revoked by the suspension "
		    "is active again after resume, while its status list bit "
		    "says revoked");
	free(tok);
	free(gone);
	free(fresh);
}

RV_TEST(termination_revokes_outstanding_tokens_at_once_and_within_the_ttl)
{
	static const char *const agr = "rv-terminate";
	struct it_resp r;
	char id[64], *tok;
	int64_t ms, t_revoked;

	make_active(e->s, agr);
	grant_ok(e->s, "rv-term", agr, id);
	tok = token_ok(e->s, agr, "rv-term");
	assert_int_equal(peek(e, e->v, tok), CONSENT_OK);
	assert_true(introspect_active(e->s, tok));
	it_lifecycle(e->s, "ird", agr, "terminate", "programme ended", &r);
	t_revoked = it_now_ms();
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "terminated");
	assert_int_equal(it_jint(json_object_get(r.json, "revocation"),
	    "tokens_revoked"), 1);
	it_resp_free(&r);
	assert_false(introspect_active(e->s, tok));
	ms = wait_revoked(e, tok, t_revoked);
	assert_within_ttl(ms);
	it_token(e->s, "ird", agr, "rv-term", PURPOSE, one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "terminated");
	it_resp_free(&r);
	free(tok);
}

/* ---- key rotation -------------------------------------------------------- */

/* Runs consentctl keys rotate; the new kid into kid. */
static void
rotate(struct it_server *s, char kid[128])
{
	char consentctl[PATH_MAX], *out = NULL;

	assert_int_equal(it_bin("consentctl", consentctl, sizeof(consentctl)),
	    0);
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"keys",
		    (char *)(uintptr_t)"rotate", (char *)(uintptr_t)"--data",
		    s->data, NULL };

		assert_int_equal(it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS),
		    0);
	}
	out[strcspn(out, "\r\n")] = '\0';
	snprintf(kid, 128, "%s", out);
	free(out);
	assert_int_equal(strlen(kid), JWK_B64_SHA256_LEN - 1);
}

RV_TEST(token_signed_before_rotation_still_verifies_and_new_ones_use_the_new_key)
{
	struct it_resp r;
	consent_verifier *v2;
	EVP_PKEY *k;
	char id[64], old_kid[128], new_kid[128], kid[128], path[PATH_MAX];
	char *before, *after, *text = NULL, *end;
	int64_t end_ms, retire, now;
	int reloads;
	size_t nkeys = 0;
	FILE *f;

	grant_ok(e->s, "rv-rotate", SMARTSTART, id);
	before = token_ok(e->s, SMARTSTART, "rv-rotate");
	header_kid(before, old_kid);
	assert_int_equal(peek(e, e->v, before), CONSENT_OK);

	reloads = it_server_log_count_run(e->s, "\"keys_reloaded\"");
	rotate(e->s, new_kid);
	assert_string_not_equal(new_kid, old_kid);
	it_server_signal(e->s, SIGHUP);
	end_ms = it_now_ms() + RV_WAIT_MS;
	while (it_server_log_count_run(e->s, "\"keys_reloaded\"") == reloads) {
		if (it_now_ms() > end_ms)
			fail_msg("consentd did not log keys_reloaded after SIGHUP");
		it_sleep_ms(20);
	}

	/* The JWKS publishes both keys. */
	k = jwks_key(e->s, old_kid, &nkeys);
	assert_non_null(k);
	EVP_PKEY_free(k);
	k = jwks_key(e->s, new_kid, NULL);
	assert_non_null(k);
	EVP_PKEY_free(k);
	assert_int_equal(nkeys, 2);
	/* <oldkid>.retire: when the old key may go, after its last token. */
	it_fmt(path, sizeof(path), "%s/keys/signing/%s.retire", e->s->data,
	    old_kid);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	text = calloc(1, 64);
	assert_non_null(text);
	assert_non_null(fgets(text, 64, f));
	fclose(f);
	errno = 0;
	retire = strtoll(text, &end, 10);
	assert_int_equal(errno, 0);
	assert_true(end != text && (*end == '\n' || *end == '\0'));
	free(text);
	now = (int64_t)time(NULL);
	/* Beyond the lifetime of any token the old key signed (300 s here). */
	assert_true(retire >= now + 300);
	assert_true(retire <= now + 3600 + 600 + 120);

	/* A new token carries the new kid; so does a fresh status list. */
	after = token_ok(e->s, SMARTSTART, "rv-rotate");
	header_kid(after, kid);
	assert_string_equal(kid, new_kid);
	it_get(e->s, NULL, NULL, "/v1/status/0", &r);
	assert_status(&r, 200);
	header_kid(r.body, kid);
	assert_string_equal(kid, new_kid);
	it_resp_free(&r);

	/* The verifier made before the rotation learns the new key on its
	 * kid; one made after knows both. The old token stays valid until
	 * it expires, offline and online. */
	assert_int_equal(peek(e, e->v, after), CONSENT_OK);
	assert_int_equal(peek(e, e->v, before), CONSENT_OK);
	v2 = verifier_new(e, NULL);
	assert_non_null(v2);
	assert_int_equal(peek(e, v2, before), CONSENT_OK);
	assert_int_equal(peek(e, v2, after), CONSENT_OK);
	consent_verifier_free(v2);
	assert_true(introspect_active(e->s, before));
	assert_true(introspect_active(e->s, after));
	free(before);
	free(after);
}

static void
broker_exits_0_on_sigterm(void **state)
{
	struct rv *e = *state;

	assert_non_null(e);
	it_ensure_running(e->s);
	assert_int_equal(it_server_stop(e->s), 0);
	it_assert_no_sanitizer_reports();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it expects exactly one revoked bit in the list. */
		cmocka_unit_test(
		    status_list_is_a_signed_statuslist_jwt_with_only_the_revoked_bit_set),
		cmocka_unit_test(
		    revoked_consent_is_inactive_at_once_and_rejected_within_the_ttl),
		cmocka_unit_test(
		    revocation_with_no_outstanding_token_revokes_none_and_needs_no_fetch),
		cmocka_unit_test(
		    verifier_fails_closed_when_the_status_list_cannot_be_fetched),
		cmocka_unit_test(
		    suspension_revokes_outstanding_tokens_for_good_and_resume_issues_anew),
		cmocka_unit_test(
		    termination_revokes_outstanding_tokens_at_once_and_within_the_ttl),
		cmocka_unit_test(
		    token_signed_before_rotation_still_verifies_and_new_ones_use_the_new_key),
		cmocka_unit_test(broker_exits_0_on_sigterm),
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/revocation",
	    tests, rv_setup, rv_teardown));
}
