/*
 * Attacks on transfer tokens: each forged or mangled token is refused by
 * libconsent (consent_verify_peek and consent_verify, with a verifier on
 * the broker's JWKS URL) with its exact error code and reason, and the
 * broker's introspection answers {"active": false} to the provider; none
 * of it writes to the store (the audit log does not grow).
 *
 * Most forgeries are signed with the broker's real signing key (read from
 * the data directory), so that the check under test, not the signature,
 * is what refuses them; a control token forged the same way but with
 * everything right verifies, to show the forging works.
 */
#include "attack.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "consent.h"
#include "jwk.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define SUBJECT "atk-token-alice"

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/*
 * What every test of this file uses, made once by the group setup (cmocka
 * state carries the server, as the harness's IT_TEST expects). Tests run
 * one at a time in one thread.
 */
static struct {
	struct it_server *s;
	consent_verifier *v;
	EVP_PKEY *key;            /* the broker's token-signing key */
	char kid[128];
	char issuer[256];
	unsigned char *der;       /* ird's certificate: tokens are bound to it */
	size_t derlen;
	char *tok_a, *tok_b;      /* two valid tokens from the broker */
	json_t *claims;           /* tok_a's claims */
	char *pem;                /* the JWKS key as SubjectPublicKeyInfo PEM */
	char *jwk;                /* the JWKS key as JSON text */
} fx;

/* ---- fixture ------------------------------------------------------------ */

static char *
get_token(struct it_server *s)
{
	struct it_resp r;
	char *tok;

	it_token(s, "ird", SMARTSTART, SUBJECT, PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	it_resp_free(&r);
	return tok;
}

static int
setup(void **state)
{
	struct consent_verifier_opts o = { 0 };
	char jwks[128], ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX],
	    replay[PATH_MAX], detail[512], err[256], *data;
	struct it_resp r;
	EVP_PKEY *pub;
	json_t *k;
	BIO *bio;
	long n;

	if (it_group_setup(state) != 0)
		return -1;
	fx.s = *state;
	it_grant(fx.s, SUBJECT, SMARTSTART, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	fx.tok_a = get_token(fx.s);
	fx.tok_b = get_token(fx.s);
	fx.claims = it_jwt_part(fx.tok_a, 1);
	assert_non_null(fx.claims);
	fx.key = atk_signing_key(fx.s, fx.kid);
	fx.der = atk_party_der(fx.s, "ird", &fx.derlen);

	it_get(fx.s, NULL, NULL, "/.well-known/consent-broker", &r);
	assert_status(&r, 200);
	snprintf(fx.issuer, sizeof(fx.issuer), "%s", it_jstr(r.json, "issuer"));
	it_resp_free(&r);
	it_get(fx.s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	k = json_array_get(json_object_get(r.json, "keys"), 0);
	assert_non_null(k);
	fx.jwk = json_dumps(k, JSON_COMPACT);
	pub = jwk_to_pkey(k, err, sizeof(err));
	if (pub == NULL)
		fail_msg("JWKS key: %s", err);
	bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pub), 1);
	n = BIO_get_mem_data(bio, &data);
	fx.pem = strndup(data, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pub);
	it_resp_free(&r);

	it_fmt(jwks, sizeof(jwks), "%s/.well-known/jwks.json", fx.s->base);
	it_fmt(ca, sizeof(ca), "%s/pki/ca.crt", fx.s->data);
	it_fmt(crt, sizeof(crt), "%s/pki/dia.crt", fx.s->data);
	it_fmt(key, sizeof(key), "%s/pki/dia.key", fx.s->data);
	it_fmt(replay, sizeof(replay), "%s/replay", fx.s->dir);
	o.provider = "dia";
	o.issuer = fx.issuer;
	o.jwks_url = jwks;
	o.ca_file = ca;
	o.cert_file = crt;
	o.key_file = key;
	o.replay_dir = replay;
	if (consent_verifier_new(&o, &fx.v, detail, sizeof(detail)) !=
	    CONSENT_OK)
		fail_msg("consent_verifier_new: %s", detail);
	return 0;
}

static int
teardown(void **state)
{
	consent_verifier_free(fx.v);
	EVP_PKEY_free(fx.key);
	free(fx.der);
	free(fx.tok_a);
	free(fx.tok_b);
	json_decref(fx.claims);
	free(fx.pem);
	free(fx.jwk);
	return it_group_teardown(state);
}

/* ---- building forgeries -------------------------------------------------- */

/* The broker's own header: {"alg":"ES256","typ":"at+jwt","kid":KID}. */
static char *
good_header(void)
{
	char *h = malloc(256);

	assert_non_null(h);
	snprintf(h, 256, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
	    fx.kid);
	return h;
}

/*
 * tok_a's claims with a fresh jti and no "status" claim (so that no status
 * list is fetched): a valid claim set. New reference.
 */
static json_t *
base_claims(void)
{
	json_t *c = json_deep_copy(fx.claims);
	unsigned char rnd[16];
	char *jti;

	assert_non_null(c);
	assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
	jti = atk_b64url(rnd, sizeof(rnd));
	json_object_set_new(c, "jti", json_string(jti));
	free(jti);
	json_object_del(c, "status");
	return c;
}

/* Dumps c compactly and drops the reference. */
static char *
dump(json_t *c)
{
	char *s = json_dumps(c, JSON_COMPACT);

	json_decref(c);
	assert_non_null(s);
	return s;
}

/* Claims text: base_claims without key, then "key": raw (any JSON text,
 * kept as given: numbers jansson could not hold, duplicates...). */
static char *
claims_raw(const char *key, const char *raw)
{
	json_t *c = base_claims();
	char *s, *out;
	size_t n;

	json_object_del(c, key);
	s = dump(c);
	n = strlen(s) + strlen(key) + strlen(raw) + 8;
	out = malloc(n);
	assert_non_null(out);
	s[strlen(s) - 1] = '\0';   /* drop the closing brace */
	snprintf(out, n, "%s,\"%s\":%s}", s, key, raw);
	free(s);
	return out;
}

/* A token of good_header and payload, signed with the broker's key. */
static char *
signed_token(const char *payload)
{
	char *h = good_header(), *t = atk_jws(fx.key, h, payload);

	free(h);
	return t;
}

/* signed_token of c's compact text; drops the reference to c. */
static char *
signed_claims(json_t *c)
{
	char *p = dump(c), *t = signed_token(p);

	free(p);
	return t;
}

/* Part i (0, 1, 2) of a compact token, new string. */
static char *
part(const char *tok, int i)
{
	const char *p = tok, *e;

	while (i-- > 0) {
		p = strchr(p, '.');
		assert_non_null(p);
		p++;
	}
	e = strchr(p, '.');
	return e != NULL ? strndup(p, (size_t)(e - p)) : strdup(p);
}

/* "a.b.c" from three parts; new string. */
static char *
join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *t = malloc(n);

	assert_non_null(t);
	snprintf(t, n, "%s.%s.%s", a, b, c);
	return t;
}

/* ---- the check ----------------------------------------------------------- */

static void
expect_inactive(const struct it_resp *r, const char *what)
{
	if (r->status != 200 || r->json == NULL ||
	    !json_is_false(json_object_get(r->json, "active")) ||
	    json_object_size(r->json) != 1)
		fail_msg("%s: introspection answered HTTP %ld %.300s, want 200 "
		    "{\"active\":false}", what, r->status,
		    r->body != NULL ? r->body : "");
}

/*
 * Both libconsent entry points refuse tok with want (CONSENT_OK: accept),
 * with a reason containing needle (may be NULL), and the broker's
 * introspection (as dia, the provider) says active: false.
 */
static void
expect(const char *what, const char *tok, consent_err want,
    const char *needle)
{
	struct consent_claims cl;
	struct it_resp r;
	consent_err e;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		e = pass == 0 ?
		    consent_verify_peek(fx.v, tok, fx.der, fx.derlen, NULL, 0,
		    &cl) :
		    consent_verify(fx.v, tok, fx.der, fx.derlen, NULL, 0, &cl);
		consent_claims_free(&cl);
		if (e != want)
			fail_msg("%s: %s gave %d (%s: %s), want %d (%s)", what,
			    pass == 0 ? "consent_verify_peek" : "consent_verify",
			    e, consent_strerror(e), consent_verifier_detail(fx.v),
			    want, consent_strerror(want));
		if (needle != NULL && strstr(consent_verifier_detail(fx.v),
		    needle) == NULL)
			fail_msg("%s: reason \"%s\" does not say \"%s\"", what,
			    consent_verifier_detail(fx.v), needle);
	}
	it_introspect(fx.s, "dia", tok, &r);
	expect_inactive(&r, what);
	it_resp_free(&r);
}

/* As expect, then frees tok. */
static void
expect_free(const char *what, char *tok, consent_err want, const char *needle)
{
	expect(what, tok, want, needle);
	free(tok);
}

/* ---- controls ------------------------------------------------------------ */

IT_TEST(controls_real_and_forged_good_tokens_verify)
{
	uint64_t before = atk_log_size(s);
	struct consent_claims cl;
	struct it_resp r;

	/* A real token verifies (its status list is fetched) and is active. */
	assert_int_equal(consent_verify_peek(fx.v, fx.tok_a, fx.der, fx.derlen,
	    NULL, 0, &cl), CONSENT_OK);
	consent_claims_free(&cl);
	it_introspect(s, "dia", fx.tok_a, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	/* A token forged with the broker's key and every claim right
	 * verifies: so a refusal below is the check under test. The broker
	 * never recorded it, so introspection says inactive. */
	expect_free("forged control", signed_claims(base_claims()),
	    CONSENT_OK, NULL);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- alg ------------------------------------------------------------------ */

IT_TEST(alg_none_is_bad_alg_and_inactive)
{
	uint64_t before = atk_log_size(s);
	char h[256], *p = dump(base_claims()), *sig = part(fx.tok_a, 2),
	    *t, *h64, *p64;
	static const char *const algs[] = { "none", "None", "NONE", "nOnE" };
	size_t i;

	for (i = 0; i < 4; i++) {
		it_fmt(h, sizeof(h), "{\"alg\":\"%s\",\"typ\":\"at+jwt\","
		    "\"kid\":\"%s\"}", algs[i], fx.kid);
		/* Empty signature, as RFC 7519 section 6.1 writes it. */
		expect_free("alg none, empty signature", atk_jws(NULL, h, p),
		    CONSENT_E_BAD_ALG, "is not ES256");
		/* A real signature left on. */
		h64 = atk_b64url(h, strlen(h));
		p64 = atk_b64url(p, strlen(p));
		t = join3(h64, p64, sig);
		expect_free("alg none, a real signature", t, CONSENT_E_BAD_ALG,
		    "is not ES256");
		free(h64);
		free(p64);
	}
	free(p);
	free(sig);
	assert_int_equal(atk_log_size(s), before);
}

/* HS256 keyed with what a confused verifier might use as the "secret". */
static char *
hs256_token(const char *secret, size_t slen, const char *payload)
{
	unsigned char mac[32];
	unsigned int maclen = 0;
	char h[256], *h64, *p64, *in, *m64, *t;
	size_t n;

	it_fmt(h, sizeof(h), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", fx.kid);
	h64 = atk_b64url(h, strlen(h));
	p64 = atk_b64url(payload, strlen(payload));
	n = strlen(h64) + strlen(p64) + 2;
	in = malloc(n);
	assert_non_null(in);
	snprintf(in, n, "%s.%s", h64, p64);
	assert_non_null(HMAC(EVP_sha256(), secret, (int)slen,
	    (const unsigned char *)in, strlen(in), mac, &maclen));
	m64 = atk_b64url(mac, maclen);
	t = join3(h64, p64, m64);
	free(h64);
	free(p64);
	free(in);
	free(m64);
	return t;
}

IT_TEST(alg_hs256_keyed_with_the_public_key_is_bad_alg_and_inactive)
{
	uint64_t before = atk_log_size(s);
	char *p = dump(base_claims());

	/* The PEM as published tools print it, without its final newline,
	 * and the JWK text. */
	expect_free("HS256 with the PEM", hs256_token(fx.pem, strlen(fx.pem),
	    p), CONSENT_E_BAD_ALG, "\"HS256\" is not ES256");
	expect_free("HS256 with the PEM sans newline", hs256_token(fx.pem,
	    strlen(fx.pem) - 1, p), CONSENT_E_BAD_ALG, "is not ES256");
	expect_free("HS256 with the JWK", hs256_token(fx.jwk, strlen(fx.jwk),
	    p), CONSENT_E_BAD_ALG, "is not ES256");
	free(p);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(other_algs_typs_and_crit_are_refused)
{
	uint64_t before = atk_log_size(s);
	char h[512], *p = dump(base_claims());
	static const struct {
		const char *fmt;
		consent_err want;
		const char *needle;
	} cases[] = {
		{ "{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "is not ES256" },
		{ "{\"alg\":\"ES256 \",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "is not ES256" },
		{ "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "is not ES256" },
		{ "{\"alg\":\"ES384\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "is not ES256" },
		{ "{\"alg\":[\"ES256\"],\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_MALFORMED, "alg missing or not a string" },
		{ "{\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
		    CONSENT_E_MALFORMED, "alg missing" },
		/* A citizen ID token's typ, and none. */
		{ "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "typ \"JWT\" is not \"at+jwt\"" },
		{ "{\"alg\":\"ES256\",\"kid\":\"%s\"}",
		    CONSENT_E_BAD_ALG, "typ missing" },
		{ "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\","
		    "\"crit\":[\"exp\"]}", CONSENT_E_MALFORMED, "crit" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		it_fmt(h, sizeof(h), cases[i].fmt, fx.kid);
#pragma GCC diagnostic pop
		expect_free(h, atk_jws(fx.key, h, p), cases[i].want,
		    cases[i].needle);
	}
	free(p);
	assert_int_equal(atk_log_size(s), before);
}

/* A listening socket on 127.0.0.1 that nothing should connect to. */
static int
trap_open(unsigned *port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Fails when anything connected to the trap; closes it. */
static void
trap_assert_untouched(int fd, const char *what)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0) {
		close(c);
		close(fd);
		fail_msg("%s: something connected to the trap", what);
	}
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
}

IT_TEST(embedded_jwk_jku_and_x5u_headers_are_ignored)
{
	uint64_t before = atk_log_size(s);
	EVP_PKEY *mine = pki_gen_p256();
	json_t *jwk;
	char h[2048], *p = dump(base_claims()), *jt, thumb[64];
	unsigned port;
	int trap = trap_open(&port);

	assert_non_null(mine);
	assert_int_equal(jwk_thumbprint(mine, thumb), 0);
	jwk = jwk_from_pkey(mine, thumb);
	jt = json_dumps(jwk, JSON_COMPACT);
	/* The attacker's key embedded, named by its own thumbprint. */
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\",\"jwk\":%s}", thumb, jt);
	expect_free("embedded jwk, own kid", atk_jws(mine, h, p),
	    CONSENT_E_UNKNOWN_KEY, "is not in the broker's key set");
	/* The broker's kid with the attacker's key embedded and used. */
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\",\"jwk\":%s}", fx.kid, jt);
	expect_free("embedded jwk, broker kid", atk_jws(mine, h, p),
	    CONSENT_E_BAD_SIGNATURE, "signature does not verify");
	/* jku and x5u pointing at a listener: never fetched. */
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\",\"jku\":\"https://127.0.0.1:%u/jwks.json\",\"x5u\":"
	    "\"https://127.0.0.1:%u/x.pem\"}", thumb, port, port);
	expect_free("jku/x5u, own kid", atk_jws(mine, h, p),
	    CONSENT_E_UNKNOWN_KEY, "is not in the broker's key set");
	trap_assert_untouched(trap, "jku/x5u");
	json_decref(jwk);
	free(jt);
	free(p);
	EVP_PKEY_free(mine);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- kid ------------------------------------------------------------------ */

IT_TEST(kid_with_path_injection_or_huge_junk_is_unknown_key)
{
	uint64_t before = atk_log_size(s);
	static const char *const kids[] = {
		"../../etc/passwd",
		"../../../../../../../../etc/passwd",
		"/etc/passwd",
		"..\\\\..\\\\keys\\\\signing\\\\current",
		"' OR 1=1 --",
		"\\\" OR \\\"1\\\"=\\\"1",
		"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"keys/signing/current",
		"",
	};
	char h[16384], *p = dump(base_claims()), *big;
	size_t i;

	for (i = 0; i < sizeof(kids) / sizeof(kids[0]); i++) {
		it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\","
		    "\"kid\":\"%s\"}", kids[i]);
		expect_free(h, atk_jws(fx.key, h, p), CONSENT_E_UNKNOWN_KEY,
		    "is not in the broker's key set");
	}
	/* 8000 bytes of kid (the token stays under the 16 KiB bound). */
	big = malloc(8001);
	assert_non_null(big);
	memset(big, 'A', 8000);
	big[8000] = '\0';
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\"}", big);
	expect_free("kid of 8000 bytes", atk_jws(fx.key, h, p),
	    CONSENT_E_UNKNOWN_KEY, "is not in the broker's key set");
	/* The real kid with a NUL and junk after it: a C string compare
	 * would see the real kid. */
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\\u0000../../etc/passwd\"}", fx.kid);
	expect_free("kid with an embedded NUL", atk_jws(fx.key, h, p),
	    CONSENT_E_MALFORMED, "header");
	/* No kid, or not a string. */
	expect_free("no kid", atk_jws(fx.key,
	    "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", p),
	    CONSENT_E_UNKNOWN_KEY, "no kid");
	expect_free("kid a number", atk_jws(fx.key,
	    "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":1}", p),
	    CONSENT_E_MALFORMED, "kid not a string");
	free(big);
	free(p);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- swapped parts -------------------------------------------------------- */

IT_TEST(header_payload_or_signature_swapped_between_tokens_is_refused)
{
	uint64_t before = atk_log_size(s);
	char *ha = part(fx.tok_a, 0), *pa = part(fx.tok_a, 1),
	    *sa = part(fx.tok_a, 2), *pb = part(fx.tok_b, 1),
	    *sb = part(fx.tok_b, 2), *hc, *hre, *pre;
	const char *cit = it_citizen_token(s, "atk-token-bob", 0);
	json_t *j;

	assert_non_null(cit);
	hc = part(cit, 0);
	expect_free("A header, B payload, A signature", join3(ha, pb, sa),
	    CONSENT_E_BAD_SIGNATURE, "signature does not verify");
	expect_free("A header, A payload, B signature", join3(ha, pa, sb),
	    CONSENT_E_BAD_SIGNATURE, "signature does not verify");
	/* A citizen ID token's header (the dev issuer's kid, typ JWT). */
	expect_free("citizen header on a transfer token", join3(hc, pa, sa),
	    CONSENT_E_BAD_ALG, "typ \"JWT\"");
	/* A citizen ID token offered as a transfer token. */
	expect("citizen ID token", cit, CONSENT_E_BAD_ALG, "typ \"JWT\"");
	/* The same header and claims re-encoded (other member order): the
	 * signature covers the bytes, not the meaning. */
	j = it_jwt_part(fx.tok_a, 0);
	hre = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(1));
	json_decref(j);
	free(hc);
	hc = atk_b64url(hre, strlen(hre));
	expect_free("re-encoded header", join3(hc, pa, sa),
	    CONSENT_E_BAD_SIGNATURE, "signature does not verify");
	j = it_jwt_part(fx.tok_a, 1);
	pre = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	free(hre);
	hre = atk_b64url(pre, strlen(pre));
	expect_free("re-encoded claims", join3(ha, hre, sa),
	    CONSENT_E_BAD_SIGNATURE, "signature does not verify");
	free(ha);
	free(pa);
	free(sa);
	free(pb);
	free(sb);
	free(hc);
	free(hre);
	free(pre);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- encodings ------------------------------------------------------------ */

/* Index of a base64url character, -1 if none. */
static int
b64_index(char c)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	const char *p = c != '\0' ? strchr(alpha, c) : NULL;

	return p != NULL ? (int)(p - alpha) : -1;
}

/*
 * The same bytes with non-zero unused trailing bits in the last character
 * (what lenient decoders accept and ignore); new string. The part's
 * length must not be a multiple of 4.
 */
static char *
noncanonical(const char *b64)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789-_";
	size_t n = strlen(b64);
	char *out = strdup(b64);
	int ix;

	assert_non_null(out);
	assert_true(n % 4 == 2 || n % 4 == 3);
	ix = b64_index(out[n - 1]);
	assert_true(ix >= 0);
	out[n - 1] = alpha[ix | 1];   /* 2 or 4 unused bits: set the lowest */
	assert_true(out[n - 1] != b64[n - 1]);
	return out;
}

/* A payload whose base64url has both '-' and '_' (from "~~~" and "???"). */
static char *
payload_with_url_chars(char **p64)
{
	json_t *c = base_claims();
	char *p;

	json_object_set_new(c, "pad", json_string("~~~~~~?????"));
	p = dump(c);
	*p64 = atk_b64url(p, strlen(p));
	assert_non_null(strchr(*p64, '-'));
	assert_non_null(strchr(*p64, '_'));
	return p;
}

IT_TEST(truncated_padded_or_noncanonical_base64url_is_malformed)
{
	uint64_t before = atk_log_size(s);
	char *ha = part(fx.tok_a, 0), *pa = part(fx.tok_a, 1),
	    *sa = part(fx.tok_a, 2), *t, *x, *h64, *p64, *p, *hdr = good_header();
	size_t n = strlen(fx.tok_a), i;

	/* Truncations. */
	t = strndup(fx.tok_a, n - 1);   /* signature of 85 characters */
	expect_free("signature cut by 1", t, CONSENT_E_MALFORMED,
	    "not strict base64url");
	t = strndup(fx.tok_a, n - 2);   /* 84 characters: 63 bytes */
	expect_free("signature cut by 2", t, CONSENT_E_BAD_SIGNATURE,
	    "signature does not verify");
	t = join3(ha, pa, "");
	expect_free("signature removed", t, CONSENT_E_BAD_SIGNATURE,
	    "signature does not verify");
	t = malloc(strlen(ha) + strlen(pa) + 2);
	assert_non_null(t);
	snprintf(t, strlen(ha) + strlen(pa) + 2, "%s.%s", ha, pa);
	expect_free("two parts", t, CONSENT_E_MALFORMED, "three");
	t = strndup(fx.tok_a, strlen(ha) + 1 + strlen(pa) / 2);
	expect_free("cut in the claims", t, CONSENT_E_MALFORMED, "three");
	t = malloc(n + 2);
	assert_non_null(t);
	snprintf(t, n + 2, "%s.", fx.tok_a);
	expect_free("four parts", t, CONSENT_E_MALFORMED, "three");

	/* Padding, signed over the padded input (so only "=" is wrong). */
	p = dump(base_claims());
	h64 = atk_b64url(hdr, strlen(hdr));
	p64 = atk_b64url(p, strlen(p));
	x = malloc(strlen(p64) + 3);
	assert_non_null(x);
	snprintf(x, strlen(p64) + 3, "%s==", p64);
	expect_free("padded claims", atk_jws_encoded(fx.key, h64, x),
	    CONSENT_E_MALFORMED, "claims: not strict base64url");
	free(x);
	x = malloc(strlen(h64) + 2);
	assert_non_null(x);
	snprintf(x, strlen(h64) + 2, "%s=", h64);
	expect_free("padded header", atk_jws_encoded(fx.key, x, p64),
	    CONSENT_E_MALFORMED, "header: not strict base64url");
	free(x);
	t = malloc(n + 3);
	assert_non_null(t);
	snprintf(t, n + 3, "%s==", fx.tok_a);
	expect_free("padded signature", t, CONSENT_E_MALFORMED,
	    "signature: not strict base64url");

	/* Non-zero trailing bits: the same bytes for a lenient decoder. */
	assert_true(strlen(sa) % 4 == 2);
	x = noncanonical(sa);
	t = join3(ha, pa, x);
	expect_free("noncanonical signature", t, CONSENT_E_MALFORMED,
	    "signature: not strict base64url");
	free(x);
	/* Claims of a length that leaves trailing bits, signed as mangled. */
	for (i = 1; strlen(p64) % 4 == 0 && i < 3; i++) {
		json_t *c = json_loads(p, 0, NULL);

		json_object_set_new(c, "pad", json_string(i == 1 ? "x" : "xx"));
		free(p);
		free(p64);
		p = dump(c);
		p64 = atk_b64url(p, strlen(p));
	}
	x = noncanonical(p64);
	expect_free("noncanonical claims", atk_jws_encoded(fx.key, h64, x),
	    CONSENT_E_MALFORMED, "claims: not strict base64url");
	free(x);
	if (strlen(h64) % 4 != 0) {
		x = noncanonical(h64);
		expect_free("noncanonical header", atk_jws_encoded(fx.key, x, p64),
		    CONSENT_E_MALFORMED, "header: not strict base64url");
		free(x);
	}
	free(p);
	free(p64);

	/* The standard alphabet ('+' '/') for the same bytes, signed so. */
	p = payload_with_url_chars(&p64);
	for (i = 0; p64[i] != '\0'; i++)
		p64[i] = p64[i] == '-' ? '+' : p64[i] == '_' ? '/' : p64[i];
	expect_free("standard alphabet", atk_jws_encoded(fx.key, h64, p64),
	    CONSENT_E_MALFORMED, "claims: not strict base64url");
	/* Whitespace inside a part. */
	free(p64);
	p64 = atk_b64url(p, strlen(p));
	x = malloc(strlen(p64) + 2);
	assert_non_null(x);
	snprintf(x, strlen(p64) + 2, "%.10s\n%s", p64, p64 + 10);
	expect_free("newline in the claims", atk_jws_encoded(fx.key, h64, x),
	    CONSENT_E_MALFORMED, "claims: not strict base64url");
	free(x);
	free(p);
	free(p64);
	free(h64);
	free(hdr);
	free(ha);
	free(pa);
	free(sa);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- JSON ------------------------------------------------------------------ */

IT_TEST(duplicate_json_keys_in_header_or_claims_are_malformed)
{
	uint64_t before = atk_log_size(s);
	char h[512], *p = dump(base_claims()), *c, *good = good_header();
	static const char *const dups[] = {
		"\"aud\":\"msd\"", "\"aud\":\"dia\"", "\"iss\":\"https://evil\"",
		"\"sub\":\"someone-else\"", "\"exp\":4102444800",
		"\"exp\":-1", "\"\\u0061ud\":\"msd\"", "\"cnf\":{}",
	};
	size_t i;

	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"alg\":\"none\",\"typ\":"
	    "\"at+jwt\",\"kid\":\"%s\"}", fx.kid);
	expect_free("alg twice (ES256 first)", atk_jws(fx.key, h, p),
	    CONSENT_E_MALFORMED, "duplicate");
	it_fmt(h, sizeof(h), "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"%s\",\"alg\":\"ES256\"}", fx.kid);
	expect_free("alg twice (ES256 last)", atk_jws(fx.key, h, p),
	    CONSENT_E_MALFORMED, "duplicate");
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":"
	    "\"nope\",\"kid\":\"%s\"}", fx.kid);
	expect_free("kid twice", atk_jws(fx.key, h, p), CONSENT_E_MALFORMED,
	    "duplicate");
	it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"typ\":"
	    "\"at+jwt\",\"kid\":\"%s\"}", fx.kid);
	expect_free("typ twice", atk_jws(fx.key, h, p), CONSENT_E_MALFORMED,
	    "duplicate");
	/* A claim given twice, before and after the real one. */
	for (i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		size_t n = strlen(p) + strlen(dups[i]) + 4;

		c = malloc(n);
		assert_non_null(c);
		snprintf(c, n, "{%s,%s", dups[i], p + 1);
		expect_free(c, signed_token(c), CONSENT_E_MALFORMED,
		    "duplicate");
		free(c);
		c = malloc(n);
		assert_non_null(c);
		snprintf(c, n, "%.*s,%s}", (int)strlen(p) - 1, p, dups[i]);
		expect_free(c, signed_token(c), CONSENT_E_MALFORMED,
		    "duplicate");
		free(c);
	}
	free(good);
	free(p);
	assert_int_equal(atk_log_size(s), before);
}

/*
 * A valid token of exactly len bytes: claims padded with a "pad" member,
 * and 0 to 2 spaces in the header (base64url grows by 1 or 2 characters a
 * byte, so the two knobs together reach every length). New token.
 */
static char *
token_of_length(size_t len)
{
	json_t *c;
	char h[256], *p, *t, *pad;
	size_t n = len > 4000 ? len * 3 / 4 - 2000 : 1, tl, k;

	for (; n < len; n++) {
		pad = malloc(n + 1);
		assert_non_null(pad);
		memset(pad, 'x', n);
		pad[n] = '\0';
		c = base_claims();
		json_object_set_new(c, "pad", json_string(pad));
		free(pad);
		p = dump(c);
		for (k = 0; k < 3; k++) {
			it_fmt(h, sizeof(h), "{\"alg\":\"ES256\",\"typ\":"
			    "\"at+jwt\",\"kid\":\"%s\"%.*s}", fx.kid, (int)k,
			    "  ");
			t = atk_jws(fx.key, h, p);
			tl = strlen(t);
			if (tl == len) {
				free(p);
				return t;
			}
			free(t);
		}
		free(p);
	}
	fail_msg("cannot make a token of exactly %zu bytes", len);
	return NULL;
}

IT_TEST(huge_token_over_16_kib_is_malformed_and_inactive)
{
	uint64_t before = atk_log_size(s);
	char *t;

	/* The bound itself is accepted: 16384 bytes verify. */
	expect_free("token of 16384 bytes", token_of_length(16384), CONSENT_OK,
	    NULL);
	expect_free("token of 16385 bytes", token_of_length(16385),
	    CONSENT_E_MALFORMED, "too long");
	expect_free("token of 20000 bytes", token_of_length(20000),
	    CONSENT_E_MALFORMED, "too long");
	/* A megabyte to the library (the broker's body bound answers 413
	 * for it before any parsing). */
	t = malloc((1u << 20) + 1);
	assert_non_null(t);
	memset(t, 'A', 1u << 20);
	t[1u << 20] = '\0';
	t[1000] = '.';
	t[2000] = '.';
	assert_int_equal(consent_verify_peek(fx.v, t, fx.der, fx.derlen, NULL,
	    0, NULL), CONSENT_E_MALFORMED);
	free(t);
	assert_int_equal(atk_log_size(s), before);
}

/* "[[[...]]]" of depth d as a claim value; new string. */
static char *
nested(size_t d)
{
	char *v = malloc(2 * d + 1);
	size_t i;

	assert_non_null(v);
	for (i = 0; i < d; i++) {
		v[i] = '[';
		v[2 * d - 1 - i] = ']';
	}
	v[2 * d] = '\0';
	return v;
}

IT_TEST(json_nested_beyond_the_depth_bound_is_malformed)
{
	uint64_t before = atk_log_size(s);
	char *v, *c, *h;
	size_t n;

	/* Depth counts the claims object: 1 + 7 arrays is the bound (8). */
	v = nested(7);
	c = claims_raw("x", v);
	expect_free("claims at depth 8", signed_token(c), CONSENT_OK, NULL);
	free(c);
	free(v);
	v = nested(8);
	c = claims_raw("x", v);
	expect_free("claims at depth 9", signed_token(c), CONSENT_E_MALFORMED,
	    "nesting deeper than 8");
	free(c);
	free(v);
	v = nested(5000);
	c = claims_raw("x", v);
	expect_free("claims at depth 5001", signed_token(c),
	    CONSENT_E_MALFORMED, "nesting deeper than 8");
	free(c);
	/* Objects, and brackets hidden in strings do not count. */
	c = claims_raw("x", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":"
	    "{\"h\":1}}}}}}}}");
	expect_free("objects at depth 9", signed_token(c), CONSENT_E_MALFORMED,
	    "nesting deeper than 8");
	free(c);
	c = claims_raw("x", "\"[[[[[[[[[[[[[[[[\"");
	expect_free("brackets in a string", signed_token(c), CONSENT_OK, NULL);
	free(c);
	/* In the header. */
	n = 10000 + 256;
	h = malloc(n);
	assert_non_null(h);
	snprintf(h, n, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\","
	    "\"x\":%.16s}", fx.kid, v + 5000 - 8);   /* 1 + 8 arrays */
	c = dump(base_claims());
	expect_free("header at depth 9", atk_jws(fx.key, h, c),
	    CONSENT_E_MALFORMED, "header: position");
	free(c);
	free(h);
	free(v);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- times ---------------------------------------------------------------- */

IT_TEST(exp_and_nbf_overflow_or_wrong_type_is_refused)
{
	uint64_t before = atk_log_size(s);
	static const struct {
		const char *key, *raw;
		consent_err want;
		const char *needle;
	} cases[] = {
		{ "exp", "1e30", CONSENT_E_MALFORMED, "exp missing or not an int" },
		{ "exp", "-1", CONSENT_E_EXPIRED, "exp was -1" },
		{ "exp", "0", CONSENT_E_EXPIRED, "exp was 0" },
		{ "exp", "9223372036854775808", CONSENT_E_MALFORMED, "claims" },
		{ "exp", "18446744073709551616", CONSENT_E_MALFORMED, "claims" },
		{ "exp", "-9223372036854775809", CONSENT_E_MALFORMED, "claims" },
		{ "exp", "-9223372036854775808", CONSENT_E_EXPIRED,
		    "exp was -9223372036854775808" },
		{ "exp", "\"4102444800\"", CONSENT_E_MALFORMED, "exp missing" },
		{ "exp", "4102444800.0", CONSENT_E_MALFORMED, "exp missing" },
		{ "exp", "4.1024448e9", CONSENT_E_MALFORMED, "exp missing" },
		{ "exp", "true", CONSENT_E_MALFORMED, "exp missing" },
		{ "exp", "null", CONSENT_E_MALFORMED, "exp missing" },
		{ "exp", "[4102444800]", CONSENT_E_MALFORMED, "exp missing" },
		{ "nbf", "1e30", CONSENT_E_MALFORMED, "nbf is not an integer" },
		{ "nbf", "9223372036854775808", CONSENT_E_MALFORMED, "claims" },
		{ "nbf", "9223372036854775807", CONSENT_E_NOT_YET_VALID,
		    "nbf is 9223372036854775807" },
		{ "nbf", "\"0\"", CONSENT_E_MALFORMED, "nbf is not an integer" },
		{ "nbf", "1.5", CONSENT_E_MALFORMED, "nbf is not an integer" },
		{ "nbf", "-1", CONSENT_OK, NULL },
		{ "nbf", "-9223372036854775808", CONSENT_OK, NULL },
	};
	char *c;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char what[128];

		it_fmt(what, sizeof(what), "%s %s", cases[i].key, cases[i].raw);
		c = claims_raw(cases[i].key, cases[i].raw);
		expect_free(what, signed_token(c), cases[i].want,
		    cases[i].needle);
		free(c);
	}
	/* Without nbf, iat stands in for it. */
	{
		json_t *j = base_claims();

		json_object_del(j, "nbf");
		json_object_set_new(j, "iat", json_integer(INT64_MAX));
		expect_free("iat INT64_MAX, no nbf", signed_claims(j),
		    CONSENT_E_NOT_YET_VALID, "iat is");
		j = base_claims();
		json_object_del(j, "nbf");
		json_object_set_new(j, "iat", json_string("now"));
		expect_free("iat a string, no nbf", signed_claims(j),
		    CONSENT_E_MALFORMED, "iat is not an integer");
	}
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(token_with_exp_at_int64_max_is_still_single_use)
{
	uint64_t before = atk_log_size(s);
	json_t *c = base_claims();
	char *t;

	json_object_set_new(c, "exp", json_integer(INT64_MAX));
	t = signed_claims(c);
	assert_int_equal(consent_verify(fx.v, t, fx.der, fx.derlen, NULL, 0,
	    NULL), CONSENT_OK);
	if (consent_verify(fx.v, t, fx.der, fx.derlen, NULL, 0, NULL) !=
	    CONSENT_E_REPLAYED)
		fail_msg("second use of an exp=INT64_MAX token: %s",
		    consent_verifier_detail(fx.v));
	free(t);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- status claim --------------------------------------------------------- */

IT_TEST(status_claim_outside_the_issuer_is_malformed_and_never_fetched)
{
	uint64_t before = atk_log_size(s);
	char raw[1024], *c;
	unsigned port;
	int trap = trap_open(&port), i;
	const char *fmts[] = {
		"{\"status_list\":{\"idx\":0,\"uri\":\"https://127.0.0.1:%u/v1/"
		    "status/0\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"%s@127.0.0.1:%u/v1/"
		    "status/0\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"%s.127.0.0.1.nip.io:%u/"
		    "v1/status/0\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"%s:%u/v1/status/0\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"%s\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"http://127.0.0.1:%u/\"}}",
		"{\"status_list\":{\"idx\":0,\"uri\":\"file:///etc/passwd\"}}",
	};

	for (i = 0; i < (int)(sizeof(fmts) / sizeof(fmts[0])); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (strstr(fmts[i], "\"%s") != NULL)
			it_fmt(raw, sizeof(raw), fmts[i], fx.issuer, port);
		else
			it_fmt(raw, sizeof(raw), fmts[i], port);
#pragma GCC diagnostic pop
		c = claims_raw("status", raw);
		expect_free(raw, signed_token(c), CONSENT_E_MALFORMED,
		    "is not under the issuer");
		free(c);
	}
	/* Malformed entries. */
	c = claims_raw("status", "{\"status_list\":{\"idx\":-1,\"uri\":"
	    "\"https://127.0.0.1:8443/v1/status/0\"}}");
	expect_free("idx -1", signed_token(c), CONSENT_E_MALFORMED,
	    "needs idx and uri");
	free(c);
	c = claims_raw("status", "{\"status_list\":{\"idx\":\"0\",\"uri\":"
	    "\"https://127.0.0.1:8443/v1/status/0\"}}");
	expect_free("idx a string", signed_token(c), CONSENT_E_MALFORMED,
	    "needs idx and uri");
	free(c);
	c = claims_raw("status", "{\"status_list\":{\"idx\":0}}");
	expect_free("no uri", signed_token(c), CONSENT_E_MALFORMED,
	    "needs idx and uri");
	free(c);
	c = claims_raw("status", "\"https://127.0.0.1:8443/v1/status/0\"");
	expect_free("status a string", signed_token(c), CONSENT_E_MALFORMED,
	    "needs idx and uri");
	free(c);
	trap_assert_untouched(trap, "status list URI");
	assert_int_equal(atk_log_size(s), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(controls_real_and_forged_good_tokens_verify),
		cmocka_unit_test(alg_none_is_bad_alg_and_inactive),
		cmocka_unit_test(
		    alg_hs256_keyed_with_the_public_key_is_bad_alg_and_inactive),
		cmocka_unit_test(other_algs_typs_and_crit_are_refused),
		cmocka_unit_test(embedded_jwk_jku_and_x5u_headers_are_ignored),
		cmocka_unit_test(
		    kid_with_path_injection_or_huge_junk_is_unknown_key),
		cmocka_unit_test(
		    header_payload_or_signature_swapped_between_tokens_is_refused),
		cmocka_unit_test(
		    truncated_padded_or_noncanonical_base64url_is_malformed),
		cmocka_unit_test(
		    duplicate_json_keys_in_header_or_claims_are_malformed),
		cmocka_unit_test(huge_token_over_16_kib_is_malformed_and_inactive),
		cmocka_unit_test(json_nested_beyond_the_depth_bound_is_malformed),
		cmocka_unit_test(exp_and_nbf_overflow_or_wrong_type_is_refused),
		cmocka_unit_test(token_with_exp_at_int64_max_is_still_single_use),
		cmocka_unit_test(
		    status_claim_outside_the_issuer_is_malformed_and_never_fetched),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("attacks/tokens", tests,
	    setup, teardown));
}
