/* Unit tests for libconsent's verifier: every outcome of consent_verify. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "b64.h"
#include "client/consent.h"
#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "lc_replay.h"
#include "pki.h"
#include "timeu.h"

#define ISSUER "https://127.0.0.1:8443"
#define PROVIDER "dia"
#define NTHREADS 4
#define TOKENS_PER_THREAD 25

struct fixture {
	char dir[256];               /* temporary directory */
	char jwks[320];              /* dir/jwks.json: the broker's key */
	char ca_pem[320];            /* dir/ca.pem */
	EVP_PKEY *key;               /* the broker's signing key */
	EVP_PKEY *other;             /* a key not in the JWKS */
	char kid[JWK_B64_SHA256_LEN];
	char other_kid[JWK_B64_SHA256_LEN];
	char *pub_pem;               /* key's public PEM, the HS256 "secret" */
	EVP_PKEY *ca_key;
	X509 *ca;
	EVP_PKEY *client_key;
	unsigned char *der;          /* the requester's certificate */
	int der_len;
	unsigned char *der2;         /* another certificate from the same CA */
	int der2_len;
	char x5t[JWK_B64_SHA256_LEN];
	consent_verifier *v;         /* default options, replay cache on */
	int seq;                     /* for fresh replay directories */
};

static const char *const scope[] = { "child.given_names",
	"child.birth_date" };

/* ---- Fixture -------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *
pubkey_pem(EVP_PKEY *key)
{
	BUF_MEM *mem = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio == NULL || PEM_write_bio_PUBKEY(bio, key) != 1)
		goto out;
	BIO_get_mem_ptr(bio, &mem);
	if (mem == NULL || (s = malloc(mem->length + 1)) == NULL)
		goto out;
	memcpy(s, mem->data, mem->length);
	s[mem->length] = '\0';
out:
	BIO_free(bio);
	return s;
}

/* Writes {"keys":[jwk(k1,kid1), jwk(k2,kid2)?]} to path (replacing it). */
static int
write_jwks(const char *path, EVP_PKEY *k1, const char *kid1, EVP_PKEY *k2,
    const char *kid2)
{
	json_t *doc = json_pack("{s:[]}", "keys");
	char *s = NULL;
	int rc = -1;

	if (doc == NULL ||
	    json_array_append_new(json_object_get(doc, "keys"),
	    jwk_from_pkey(k1, kid1)) != 0)
		goto out;
	if (k2 != NULL && json_array_append_new(json_object_get(doc, "keys"),
	    jwk_from_pkey(k2, kid2)) != 0)
		goto out;
	if ((s = jsonu_dump(doc)) == NULL)
		goto out;
	rc = fsu_write_file(path, s, strlen(s), 0644, 0);
out:
	free(s);
	json_decref(doc);
	return rc;
}

static int
cert_der(EVP_PKEY *ca_key, X509 *ca, EVP_PKEY *key, const char *cn,
    unsigned char **der, int *len, char x5t[JWK_B64_SHA256_LEN])
{
	X509 *cert = pki_make_cert(ca, ca_key, key, cn, 0, NULL, NULL, 1);
	int rc = -1;

	*der = NULL;
	if (cert == NULL)
		return -1;
	if ((*len = i2d_X509(cert, der)) <= 0)
		goto out;
	if (x5t != NULL && jwk_x5t_s256(cert, x5t) != 0)
		goto out;
	rc = 0;
out:
	X509_free(cert);
	return rc;
}

static consent_err
new_verifier(struct fixture *f, int leeway, const char *replay_dir,
    consent_verifier **out)
{
	struct consent_verifier_opts o = { 0 };
	char detail[256];
	consent_err rc;

	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = f->jwks;
	o.replay_dir = replay_dir;
	o.leeway_s = leeway;
	rc = consent_verifier_new(&o, out, detail, sizeof(detail));
	if (rc != CONSENT_OK)
		print_error("consent_verifier_new: %s: %s\n",
		    consent_strerror(rc), detail);
	return rc;
}

/* A fresh replay directory name under the fixture's directory. */
static void
replay_dir(struct fixture *f, char *out, size_t outlen)
{
	char name[32];

	snprintf(name, sizeof(name), "replay-%d", f->seq++);
	assert_int_equal(fsu_join(out, outlen, f->dir, name), 0);
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char rdir[340];
	EVP_PKEY *k2 = NULL;

	if (f == NULL)
		return -1;
	*state = f;
	if (snprintf(f->dir, sizeof(f->dir), "%s/lc-verifier-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(f->dir) ||
	    mkdtemp(f->dir) == NULL)
		return -1;
	if (fsu_join(f->jwks, sizeof(f->jwks), f->dir, "jwks.json") != 0 ||
	    fsu_join(f->ca_pem, sizeof(f->ca_pem), f->dir, "ca.pem") != 0)
		return -1;
	f->key = pki_gen_p256();
	f->other = pki_gen_p256();
	f->ca_key = pki_gen_p256();
	f->client_key = pki_gen_p256();
	k2 = pki_gen_p256();
	if (f->key == NULL || f->other == NULL || f->ca_key == NULL ||
	    f->client_key == NULL || k2 == NULL)
		goto fail;
	if (jwk_thumbprint(f->key, f->kid) != 0 ||
	    jwk_thumbprint(f->other, f->other_kid) != 0 ||
	    (f->pub_pem = pubkey_pem(f->key)) == NULL)
		goto fail;
	if (write_jwks(f->jwks, f->key, f->kid, NULL, NULL) != 0)
		goto fail;
	if ((f->ca = pki_make_ca(f->ca_key, "Test CA", 1)) == NULL ||
	    pki_write_cert(f->ca_pem, f->ca) != 0)
		goto fail;
	if (cert_der(f->ca_key, f->ca, f->client_key, "ird", &f->der,
	    &f->der_len, f->x5t) != 0 ||
	    cert_der(f->ca_key, f->ca, k2, "ird", &f->der2, &f->der2_len,
	    NULL) != 0)
		goto fail;
	EVP_PKEY_free(k2);
	replay_dir(f, rdir, sizeof(rdir));
	if (new_verifier(f, 0, rdir, &f->v) != CONSENT_OK)
		return -1;
	return 0;
fail:
	EVP_PKEY_free(k2);
	return -1;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	consent_verifier_free(f->v);
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	EVP_PKEY_free(f->ca_key);
	EVP_PKEY_free(f->client_key);
	X509_free(f->ca);
	OPENSSL_free(f->der);
	OPENSSL_free(f->der2);
	free(f->pub_pem);
	if (f->dir[0] != '\0')
		nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- Tokens --------------------------------------------------------------- */

static void
random_jti(char out[23])
{
	unsigned char b[16];

	assert_int_equal(RAND_bytes(b, sizeof(b)), 1);
	b64url_encode(b, sizeof(b), out);
}

/* The claims the broker mints, valid now; new reference. */
static json_t *
claims_default(const struct fixture *f)
{
	int64_t now = timeu_now();
	char jti[23];
	json_t *c;

	random_jti(jti);
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s,"
	    " s:[{s:s, s:s, s:i, s:s, s:s, s:[s, s]}], s:s, s:{s:s}}",
	    "iss", ISSUER, "sub", "alice-test", "aud", PROVIDER,
	    "client_id", "ird", "iat", (json_int_t)now, "nbf", (json_int_t)now,
	    "exp", (json_int_t)(now + 300), "jti", jti,
	    "authorization_details",
	    "type", "consented_transfer", "agreement", "smartstart-ird-number",
	    "agreement_version", 1, "agreement_hash",
	    "4bfece4438c3f858e840e25d54cb6f7f0cc59cab72e9d78d192b4d0fdee161ce",
	    "purpose", "issue-ird-number", "fields", scope[0], scope[1],
	    "consent_id", "cns_fccf23b1a8c7c333a8aa8002177892a1",
	    "cnf", "x5t#S256", f->x5t);
	assert_non_null(c);
	return c;
}

/* authorization_details[0] of claims (borrowed). */
static json_t *
details(json_t *claims)
{
	json_t *d = json_array_get(json_object_get(claims,
	    "authorization_details"), 0);

	assert_non_null(d);
	return d;
}

static char *
sign_text(EVP_PKEY *key, const char *kid, const char *typ,
    const char *payload)
{
	char *tok = NULL;

	assert_int_equal(jws_sign_es256(key, kid, typ, payload,
	    strlen(payload), &tok), JWS_OK);
	assert_non_null(tok);
	return tok;
}

/* Signs claims (consumed) with key under kid as an at+jwt. */
static char *
mint_with(EVP_PKEY *key, const char *kid, const char *typ, json_t *claims)
{
	char *payload = jsonu_dump(claims);
	char *tok;

	assert_non_null(payload);
	json_decref(claims);
	tok = sign_text(key, kid, typ, payload);
	free(payload);
	return tok;
}

static char *
mint(const struct fixture *f, json_t *claims)
{
	return mint_with(f->key, f->kid, "at+jwt", claims);
}

static char *
mint_default(const struct fixture *f)
{
	return mint(f, claims_default(f));
}

/* "b64(header).b64(payload)." plus sig (may be NULL): a hand-made token. */
static char *
compose(const char *header, const char *payload, const unsigned char *sig,
    size_t siglen)
{
	size_t hl = strlen(header), pl = strlen(payload);
	size_t cap = b64url_encoded_len(hl) + b64url_encoded_len(pl) +
	    b64url_encoded_len(siglen) + 3;
	char *t = malloc(cap);
	size_t n;

	assert_non_null(t);
	n = b64url_encode((const unsigned char *)header, hl, t);
	t[n++] = '.';
	n += b64url_encode((const unsigned char *)payload, pl, t + n);
	t[n++] = '.';
	t[n] = '\0';
	if (sig != NULL)
		b64url_encode(sig, siglen, t + n);
	return t;
}

/* tok (freed) followed by suffix; a new string. */
static char *
append(char *tok, const char *suffix)
{
	size_t n = strlen(tok), m = strlen(suffix);
	char *t = realloc(tok, n + m + 1);

	assert_non_null(t);
	memcpy(t + n, suffix, m + 1);
	return t;
}

/* ---- Checks --------------------------------------------------------------- */

/*
 * consent_verify (or peek) must return want, and on failure the detail
 * must contain needle (the claim or header member at fault).
 */
static void
expect_full(consent_verifier *v, const char *tok, const unsigned char *der,
    size_t der_len, const char *const *fields, size_t nfields,
    consent_err want, const char *needle, int peek)
{
	struct consent_claims c;
	consent_err rc;
	const char *d;

	rc = peek ? consent_verify_peek(v, tok, der, der_len, fields, nfields,
	    &c) : consent_verify(v, tok, der, der_len, fields, nfields, &c);
	d = consent_verifier_detail(v);
	assert_non_null(d);
	if (rc != want)
		print_error("got %s (%d) with detail \"%s\", want %s (%d)\n",
		    consent_strerror(rc), rc, d, consent_strerror(want), want);
	assert_int_equal(rc, want);
	if (want == CONSENT_OK) {
		assert_string_equal(d, "");
		assert_non_null(c.jti);
	} else {
		/* A failure leaves no claims behind. */
		assert_null(c.jti);
		assert_null(c.fields);
		assert_int_equal(c.nfields, 0);
		if (needle != NULL && strstr(d, needle) == NULL)
			print_error("detail \"%s\" does not name \"%s\"\n", d,
			    needle);
		assert_non_null(needle != NULL ? strstr(d, needle) : d);
	}
	consent_claims_free(&c);
}

static void
expect(struct fixture *f, const char *tok, consent_err want,
    const char *needle)
{
	expect_full(f->v, tok, f->der, (size_t)f->der_len, scope, 2, want,
	    needle, 0);
}

/* Mints claims (consumed), expects want, frees the token. */
static void
expect_claims(struct fixture *f, json_t *claims, consent_err want,
    const char *needle)
{
	char *tok = mint(f, claims);

	expect(f, tok, want, needle);
	free(tok);
}

/* ---- Valid tokens --------------------------------------------------------- */

static void
valid_token_is_accepted_with_its_claims(void **state)
{
	struct fixture *f = *state;
	struct consent_claims c;
	json_t *cl = claims_default(f);
	char jti[64];
	int64_t exp;
	char *tok;

	snprintf(jti, sizeof(jti), "%s",
	    json_string_value(json_object_get(cl, "jti")));
	exp = json_integer_value(json_object_get(cl, "exp"));
	tok = mint(f, cl);
	assert_int_equal(consent_verify(f->v, tok, f->der, (size_t)f->der_len,
	    scope, 2, &c), CONSENT_OK);
	assert_string_equal(consent_verifier_detail(f->v), "");
	assert_string_equal(c.jti, jti);
	assert_string_equal(c.subject, "alice-test");
	assert_string_equal(c.client_id, "ird");
	assert_string_equal(c.provider, PROVIDER);
	assert_string_equal(c.agreement, "smartstart-ird-number");
	assert_int_equal(c.agreement_version, 1);
	assert_string_equal(c.agreement_hash, "4bfece4438c3f858e840e25d54cb6f7f"
	    "0cc59cab72e9d78d192b4d0fdee161ce");
	assert_string_equal(c.purpose, "issue-ird-number");
	assert_string_equal(c.consent_id, "cns_fccf23b1a8c7c333a8aa8002177892a1");
	assert_int_equal(c.nfields, 2);
	assert_string_equal(c.fields[0], scope[0]);
	assert_string_equal(c.fields[1], scope[1]);
	assert_int_equal(c.exp, exp);
	assert_int_equal(c.nbf, exp - 300);
	assert_int_equal(c.iat, exp - 300);
	consent_claims_free(&c);
	assert_null(c.jti);
	consent_claims_free(&c);   /* safe on a zeroed struct */
	free(tok);
}

static void
valid_token_without_consent_id_is_statutory(void **state)
{
	struct fixture *f = *state;
	struct consent_claims c;
	json_t *cl = claims_default(f);
	char *tok;

	json_object_del(cl, "consent_id");
	tok = mint(f, cl);
	assert_int_equal(consent_verify(f->v, tok, f->der, (size_t)f->der_len,
	    scope, 2, &c), CONSENT_OK);
	assert_null(c.consent_id);
	consent_claims_free(&c);
	free(tok);
}

static void
valid_token_with_null_claims_pointer(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	assert_int_equal(consent_verify(f->v, tok, f->der, (size_t)f->der_len,
	    scope, 2, NULL), CONSENT_OK);
	free(tok);
}

/* ---- Malformed ------------------------------------------------------------ */

static void
malformed_when_two_parts(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	*strrchr(tok, '.') = '\0';
	expect(f, tok, CONSENT_E_MALFORMED, "parts");
	tok = append(tok, ".sig.more");
	expect(f, tok, CONSENT_E_MALFORMED, "parts");
	free(tok);
}

static void
malformed_when_bad_base64url(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);
	char *payload = strchr(tok, '.') + 1;

	payload[3] = '+';      /* standard alphabet, not base64url */
	expect(f, tok, CONSENT_E_MALFORMED, "claims: not strict base64url");
	free(tok);
	tok = mint_default(f);
	tok[2] = '=';
	expect(f, tok, CONSENT_E_MALFORMED, "header: not strict base64url");
	free(tok);
	tok = mint_default(f);
	tok = append(tok, "=");   /* padded signature */
	expect(f, tok, CONSENT_E_MALFORMED, "signature");
	free(tok);
}

static void
malformed_when_payload_not_json(void **state)
{
	struct fixture *f = *state;
	char *tok = sign_text(f->key, f->kid, "at+jwt", "not json at all");

	expect(f, tok, CONSENT_E_MALFORMED, "claims");
	free(tok);
	tok = sign_text(f->key, f->kid, "at+jwt", "[\"an\", \"array\"]");
	expect(f, tok, CONSENT_E_MALFORMED, "claims: not a JSON object");
	free(tok);
	tok = sign_text(f->key, f->kid, "at+jwt",
	    "{\"jti\":\"a\",\"jti\":\"b\"}");
	expect(f, tok, CONSENT_E_MALFORMED, "duplicate");
	free(tok);
}

static void
malformed_when_exp_missing(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);

	json_object_del(cl, "exp");
	expect_claims(f, cl, CONSENT_E_MALFORMED, "exp");
	cl = claims_default(f);
	json_object_set_new(cl, "exp", json_string("tomorrow"));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "exp");
}

static void
malformed_when_jti_missing(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);

	json_object_del(cl, "jti");
	expect_claims(f, cl, CONSENT_E_MALFORMED, "claim jti");
	cl = claims_default(f);
	json_object_set_new(cl, "jti", json_integer(42));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "claim jti");
}

static void
malformed_when_other_required_claim_missing(void **state)
{
	struct fixture *f = *state;
	static const char *const top[] = { "sub", "client_id", "iss", "aud" };
	static const char *const inner[] = { "agreement", "purpose" };
	char needle[64];
	json_t *cl;
	size_t i;

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		cl = claims_default(f);
		json_object_del(cl, top[i]);
		snprintf(needle, sizeof(needle), "claim %s", top[i]);
		expect_claims(f, cl, CONSENT_E_MALFORMED, needle);
	}
	for (i = 0; i < sizeof(inner) / sizeof(inner[0]); i++) {
		cl = claims_default(f);
		json_object_del(details(cl), inner[i]);
		snprintf(needle, sizeof(needle),
		    "claim authorization_details[0].%s", inner[i]);
		expect_claims(f, cl, CONSENT_E_MALFORMED, needle);
	}
	cl = claims_default(f);
	json_object_set_new(cl, "nbf", json_string("now"));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "claim nbf");
}

static void
malformed_when_authorization_details_missing(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);

	json_object_del(cl, "authorization_details");
	expect_claims(f, cl, CONSENT_E_MALFORMED, "authorization_details");
	cl = claims_default(f);
	json_object_set_new(cl, "authorization_details", json_array());
	expect_claims(f, cl, CONSENT_E_MALFORMED, "authorization_details");
	cl = claims_default(f);
	json_object_del(details(cl), "fields");
	expect_claims(f, cl, CONSENT_E_MALFORMED, "authorization_details");
	cl = claims_default(f);
	json_object_set_new(details(cl), "agreement_version", json_integer(0));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "authorization_details");
	cl = claims_default(f);
	json_array_append_new(json_object_get(details(cl), "fields"),
	    json_integer(7));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "fields[2]");
}

static void
malformed_when_token_too_long(void **state)
{
	struct fixture *f = *state;
	size_t padlen = JWS_MAX_TOKEN;
	unsigned char sig[64] = { 0 };
	char *pad = malloc(padlen + 1), *payload, *tok;
	json_t *cl = claims_default(f);

	assert_non_null(pad);
	memset(pad, 'x', padlen);
	pad[padlen] = '\0';
	json_object_set_new(cl, "pad", json_string(pad));
	payload = jsonu_dump(cl);
	tok = compose("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", payload, sig,
	    sizeof(sig));
	assert_true(strlen(tok) > JWS_MAX_TOKEN);
	expect(f, tok, CONSENT_E_MALFORMED, "too long");
	free(tok);
	free(payload);
	free(pad);
	json_decref(cl);
	expect(f, "", CONSENT_E_MALFORMED, "empty");
}

/* ---- Algorithm, type, key ------------------------------------------------- */

static void
bad_alg_when_alg_none(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	char *payload = jsonu_dump(cl), *tok;

	json_decref(cl);
	tok = compose("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", payload, NULL, 0);
	expect(f, tok, CONSENT_E_BAD_ALG, "alg \"none\"");
	free(tok);
	tok = compose("{\"alg\":\"none\",\"typ\":\"at+jwt\"}", payload,
	    (const unsigned char *)"x", 1);
	expect(f, tok, CONSENT_E_BAD_ALG, "alg \"none\"");
	free(tok);
	free(payload);
}

static void
bad_alg_when_hs256_keyed_with_public_key(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char hdr[256], *payload, *tok, *dot;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", f->kid);
	payload = jsonu_dump(cl);
	json_decref(cl);
	tok = compose(hdr, payload, NULL, 0);
	dot = strrchr(tok, '.');
	assert_non_null(HMAC(EVP_sha256(), f->pub_pem, (int)strlen(f->pub_pem),
	    (const unsigned char *)tok, (size_t)(dot - tok), mac, &maclen));
	free(tok);
	tok = compose(hdr, payload, mac, maclen);
	expect(f, tok, CONSENT_E_BAD_ALG, "alg \"HS256\"");
	free(tok);
	free(payload);
}

static void
bad_alg_when_typ_is_jwt(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_with(f->key, f->kid, "JWT", claims_default(f));

	expect(f, tok, CONSENT_E_BAD_ALG, "typ \"JWT\"");
	free(tok);
	tok = mint_with(f->key, f->kid, NULL, claims_default(f));
	expect(f, tok, CONSENT_E_BAD_ALG, "typ missing");
	free(tok);
	/* RFC 7515 4.1.9: the media type's prefix and case do not matter. */
	tok = mint_with(f->key, f->kid, "application/AT+JWT", claims_default(f));
	expect(f, tok, CONSENT_OK, NULL);
	free(tok);
}

static void
unknown_key_when_kid_not_in_jwks(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_with(f->other, f->other_kid, "at+jwt",
	    claims_default(f));

	expect(f, tok, CONSENT_E_UNKNOWN_KEY, f->other_kid);
	free(tok);
}

static void
unknown_key_when_no_kid(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_with(f->key, NULL, "at+jwt", claims_default(f));

	expect(f, tok, CONSENT_E_UNKNOWN_KEY, "kid");
	free(tok);
}

/* ---- Signature ------------------------------------------------------------ */

static void
bad_signature_when_payload_tampered(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	char *orig, *evil, *tok, *forged, *p;
	size_t hlen;

	orig = mint(f, json_deep_copy(cl));
	json_array_append_new(json_object_get(details(cl), "fields"),
	    json_string("child.ird_number"));
	evil = jsonu_dump(cl);
	json_decref(cl);
	/* header of orig + the new payload + orig's signature */
	hlen = (size_t)(strchr(orig, '.') - orig);
	tok = compose("{}", evil, NULL, 0);
	p = strchr(tok, '.') + 1;
	forged = malloc(strlen(orig) + strlen(tok) + 1);
	assert_non_null(forged);
	memcpy(forged, orig, hlen + 1);
	snprintf(forged + hlen + 1, strlen(orig) + strlen(tok) - hlen, "%s%s",
	    p, strrchr(orig, '.') + 1);
	expect(f, forged, CONSENT_E_BAD_SIGNATURE, "signature");
	free(forged);
	free(tok);
	free(evil);
	free(orig);
}

static void
bad_signature_when_stripped(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	strrchr(tok, '.')[1] = '\0';     /* "header.payload." */
	expect(f, tok, CONSENT_E_BAD_SIGNATURE, "signature");
	free(tok);
	/* a truncated signature (60 bytes) */
	tok = mint_default(f);
	tok[strlen(tok) - 6] = '\0';
	expect(f, tok, CONSENT_E_BAD_SIGNATURE, "signature");
	free(tok);
}

static void
bad_signature_when_other_key_uses_the_kid(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_with(f->other, f->kid, "at+jwt", claims_default(f));

	expect(f, tok, CONSENT_E_BAD_SIGNATURE, f->kid);
	free(tok);
}

/*
 * r or s below 2^248 (a leading zero byte, 1 in 128 signatures) have a
 * shorter DER INTEGER; such tokens verify like any other.
 */
static void
signatures_with_short_r_or_s_verify(void **state)
{
	struct fixture *f = *state;
	unsigned char sig[80];
	size_t siglen;
	const char *dot;
	char *tok;
	int i, found = 0;

	for (i = 0; found < 3; i++) {
		assert_true(i < 50000);
		tok = mint_default(f);
		dot = strrchr(tok, '.');
		assert_int_equal(b64url_decode(dot + 1, strlen(dot + 1), sig,
		    &siglen), 0);
		assert_int_equal(siglen, 64);
		if (sig[0] == 0 || sig[32] == 0) {
			found++;
			expect_full(f->v, tok, f->der, (size_t)f->der_len, scope,
			    2, CONSENT_OK, NULL, 1);
		}
		free(tok);
	}
}

/* ---- Issuer, audience, time ----------------------------------------------- */

static void
wrong_issuer(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	char *tok;

	json_object_set_new(cl, "iss", json_string("https://evil.example"));
	expect_claims(f, cl, CONSENT_E_WRONG_ISSUER, "iss");
	/* the signature is checked before iss */
	cl = claims_default(f);
	json_object_set_new(cl, "iss", json_string("https://evil.example"));
	tok = mint_with(f->other, f->kid, "at+jwt", cl);
	expect(f, tok, CONSENT_E_BAD_SIGNATURE, "signature");
	free(tok);
}

static void
wrong_audience(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);

	json_object_set_new(cl, "aud", json_string("msd"));
	expect_claims(f, cl, CONSENT_E_WRONG_AUDIENCE, "aud");
	cl = claims_default(f);
	json_object_set_new(cl, "aud", json_pack("[s]", PROVIDER));
	expect_claims(f, cl, CONSENT_E_MALFORMED, "aud");
}

static void
not_yet_valid_when_nbf_beyond_leeway(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	int64_t now = timeu_now();

	/* default leeway 30 s */
	json_object_set_new(cl, "nbf", json_integer(now + 120));
	json_object_set_new(cl, "iat", json_integer(now + 120));
	json_object_set_new(cl, "exp", json_integer(now + 420));
	expect_claims(f, cl, CONSENT_E_NOT_YET_VALID, "nbf");
	/* without nbf, iat stands in */
	cl = claims_default(f);
	json_object_del(cl, "nbf");
	json_object_set_new(cl, "iat", json_integer(now + 120));
	expect_claims(f, cl, CONSENT_E_NOT_YET_VALID, "iat");
	/* with neither, only exp bounds the token */
	cl = claims_default(f);
	json_object_del(cl, "nbf");
	json_object_del(cl, "iat");
	expect_claims(f, cl, CONSENT_OK, NULL);
}

static void
nbf_within_leeway_is_accepted(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	int64_t now = timeu_now();

	json_object_set_new(cl, "nbf", json_integer(now + 20));
	json_object_set_new(cl, "iat", json_integer(now + 20));
	expect_claims(f, cl, CONSENT_OK, NULL);
}

static void
expired_beyond_leeway(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	int64_t now = timeu_now();

	json_object_set_new(cl, "iat", json_integer(now - 400));
	json_object_set_new(cl, "nbf", json_integer(now - 400));
	json_object_set_new(cl, "exp", json_integer(now - 100));
	expect_claims(f, cl, CONSENT_E_EXPIRED, "exp");
	/* exactly at the edge: now - leeway >= exp */
	cl = claims_default(f);
	json_object_set_new(cl, "exp", json_integer(now - 31));
	expect_claims(f, cl, CONSENT_E_EXPIRED, "exp");
}

static void
expired_within_leeway_is_accepted(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);
	int64_t now = timeu_now();

	json_object_set_new(cl, "iat", json_integer(now - 310));
	json_object_set_new(cl, "nbf", json_integer(now - 310));
	json_object_set_new(cl, "exp", json_integer(now - 10));
	expect_claims(f, cl, CONSENT_OK, NULL);
}

/* ---- Certificate binding -------------------------------------------------- */

static void
binding_fails_for_another_certificate(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	expect_full(f->v, tok, f->der2, (size_t)f->der2_len, scope, 2,
	    CONSENT_E_BINDING, "cnf.x5t#S256", 0);
	/* the failure did not use up the token */
	expect(f, tok, CONSENT_OK, NULL);
	free(tok);
}

static void
binding_fails_without_certificate(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	expect_full(f->v, tok, NULL, 0, scope, 2, CONSENT_E_BINDING,
	    "certificate", 0);
	expect_full(f->v, tok, f->der, 0, scope, 2, CONSENT_E_BINDING,
	    "certificate", 0);
	free(tok);
}

static void
binding_fails_for_token_without_cnf(void **state)
{
	struct fixture *f = *state;
	json_t *cl = claims_default(f);

	json_object_del(cl, "cnf");
	expect_claims(f, cl, CONSENT_E_BINDING, "cnf.x5t#S256");
	cl = claims_default(f);
	json_object_set_new(cl, "cnf", json_pack("{s:s}", "jkt", f->x5t));
	expect_claims(f, cl, CONSENT_E_BINDING, "cnf.x5t#S256");
}

/* ---- Field scope ---------------------------------------------------------- */

static void
field_scope_refuses_a_field_not_granted(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = { "child.given_names",
		"child.ird_number" };
	char *tok = mint_default(f);

	expect_full(f->v, tok, f->der, (size_t)f->der_len, want, 2,
	    CONSENT_E_FIELD_SCOPE, "child.ird_number", 0);
	free(tok);
}

static void
field_scope_accepts_subsets(void **state)
{
	struct fixture *f = *state;
	static const char *const one[] = { "child.birth_date" };
	char *tok = mint_default(f);

	expect_full(f->v, tok, f->der, (size_t)f->der_len, one, 1, CONSENT_OK,
	    NULL, 1);
	expect_full(f->v, tok, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 0);
	free(tok);
}

static void
field_scope_not_checked_when_no_fields_requested(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	expect_full(f->v, tok, f->der, (size_t)f->der_len, NULL, 0, CONSENT_OK,
	    NULL, 0);
	free(tok);
}

static void
null_arguments_are_invalid(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	assert_int_equal(consent_verify(NULL, tok, f->der, (size_t)f->der_len,
	    scope, 2, NULL), CONSENT_E_INVALID_ARG);
	assert_int_equal(consent_verify(f->v, NULL, f->der, (size_t)f->der_len,
	    scope, 2, NULL), CONSENT_E_INVALID_ARG);
	assert_int_equal(consent_verify(f->v, tok, f->der, (size_t)f->der_len,
	    NULL, 2, NULL), CONSENT_E_INVALID_ARG);
	assert_string_not_equal(consent_verifier_detail(f->v), "");
	/* none of these used up the token */
	expect(f, tok, CONSENT_OK, NULL);
	free(tok);
}

/* ---- Replay --------------------------------------------------------------- */

static void
replay_refuses_second_presentation(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);

	expect(f, tok, CONSENT_OK, NULL);
	expect(f, tok, CONSENT_E_REPLAYED, "jti");
	expect(f, tok, CONSENT_E_REPLAYED, "jti");
	free(tok);
}

static void
replay_does_not_remember_failed_verification(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = { "child.ird_number" };
	char *tok = mint_default(f);

	expect_full(f->v, tok, f->der, (size_t)f->der_len, want, 1,
	    CONSENT_E_FIELD_SCOPE, "child.ird_number", 0);
	expect(f, tok, CONSENT_OK, NULL);
	expect(f, tok, CONSENT_E_REPLAYED, "jti");
	free(tok);
}

static void
replay_peek_never_records(void **state)
{
	struct fixture *f = *state;
	char *tok = mint_default(f);
	int i;

	for (i = 0; i < 3; i++)
		expect_full(f->v, tok, f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_OK, NULL, 1);
	expect(f, tok, CONSENT_OK, NULL);
	/* peek after use still verifies: it does not consult the cache */
	expect_full(f->v, tok, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 1);
	expect(f, tok, CONSENT_E_REPLAYED, "jti");
	free(tok);
}

static void
replay_off_without_replay_dir(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char *tok = mint_default(f);

	assert_int_equal(new_verifier(f, 0, NULL, &v), CONSENT_OK);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	consent_verifier_free(v);
	free(tok);
}

static void
replay_entries_persist_across_verifiers(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[340], *tok = mint_default(f), *tok2 = mint_default(f);

	replay_dir(f, dir, sizeof(dir));
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	consent_verifier_free(v);
	v = NULL;
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_REPLAYED, "jti", 0);
	expect_full(v, tok2, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	consent_verifier_free(v);
	free(tok);
	free(tok2);
}

/* Entries in the replay cache's two tables (the verifier must be freed). */
static void
replay_table_sizes(const char *dir, size_t *njti, size_t *nexp)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi jti, exp;
	MDB_stat st;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "jti", 0, &jti), 0);
	assert_int_equal(mdb_dbi_open(txn, "exp", 0, &exp), 0);
	assert_int_equal(mdb_stat(txn, jti, &st), 0);
	*njti = st.ms_entries;
	assert_int_equal(mdb_stat(txn, exp, &st), 0);
	*nexp = st.ms_entries;
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void
replay_purges_expired_entries(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[340], *old[3], *fresh;
	size_t njti, nexp;
	int64_t exp, last = 0;
	json_t *cl;
	int i;

	replay_dir(f, dir, sizeof(dir));
	/* leeway 1: a token is accepted, and kept, until exp + 1; once that
	 * has passed, the next write forgets it. Each expires 2 s after it
	 * is minted, so that a slow run (valgrind) still verifies it in
	 * time. */
	assert_int_equal(new_verifier(f, 1, dir, &v), CONSENT_OK);
	for (i = 0; i < 3; i++) {
		cl = claims_default(f);
		exp = timeu_now() + 2;
		last = exp > last ? exp : last;
		json_object_set_new(cl, "exp", json_integer(exp));
		old[i] = mint(f, cl);
		expect_full(v, old[i], f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_OK, NULL, 0);
	}
	consent_verifier_free(v);
	v = NULL;
	replay_table_sizes(dir, &njti, &nexp);
	assert_int_equal(njti, 3);
	assert_int_equal(nexp, 3);
	while (timeu_now() <= last + 1)
		sleep_ms(100);
	assert_int_equal(new_verifier(f, 1, dir, &v), CONSENT_OK);
	fresh = mint_default(f);
	expect_full(v, fresh, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	/* the old tokens have expired: refused for that, not as replays */
	expect_full(v, old[0], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_EXPIRED, "exp", 0);
	consent_verifier_free(v);
	replay_table_sizes(dir, &njti, &nexp);
	assert_int_equal(njti, 1);
	assert_int_equal(nexp, 1);
	for (i = 0; i < 3; i++)
		free(old[i]);
	free(fresh);
}

/* ---- Replay cache's disk -------------------------------------------------- */

/*
 * The replay cache writes through a shared map and reserves disk ahead of
 * LMDB (client/lc_replay.c); a full disk must refuse tokens with
 * CONSENT_E_STORE, never kill the process with SIGBUS.
 */

#define GROWTH_TOKENS_MAX 2000      /* bound on tokens until growth */
#define LONG_JTI_PARTS 5            /* 5 * 22 = 110 characters */

/* The reservation seam: calls seen, and from which one on it fails with
 * ENOSPC (0: none; the others reserve for real). */
static int seam_calls, seam_fail_from;
/* A tmpfs mounted by a test, unmounted by its teardown ("" if none). */
static char full_fs[340];

static int
seam_fallocate(int fd, off_t off, off_t len)
{
	seam_calls++;
	if (seam_fail_from != 0 && seam_calls >= seam_fail_from)
		return ENOSPC;
	return posix_fallocate(fd, off, len);
}

static void
seam_install(int fail_from)
{
	seam_calls = 0;
	seam_fail_from = fail_from;
	lc_replay_fallocate = seam_fallocate;
}

/* Teardown of each test here: the real seam back, the tmpfs gone. */
static int
replay_disk_teardown(void **state)
{
	(void)state;
	lc_replay_fallocate = posix_fallocate;
	if (full_fs[0] != '\0') {
		if (umount2(full_fs, MNT_DETACH) != 0)
			print_error("umount %s: %s\n", full_fs,
			    strerror(errno));
		full_fs[0] = '\0';
	}
	return 0;
}

/* A token whose jti is 110 characters: more bytes per cache entry. */
static char *
mint_long_jti(const struct fixture *f)
{
	json_t *cl = claims_default(f);
	char jti[LONG_JTI_PARTS * 22 + 1], part[23];
	int i;

	for (i = 0; i < LONG_JTI_PARTS; i++) {
		random_jti(part);
		memcpy(jti + i * 22, part, 22);
	}
	jti[LONG_JTI_PARTS * 22] = '\0';
	assert_int_equal(json_object_set_new(cl, "jti", json_string(jti)), 0);
	return mint(f, cl);
}

/* LMDB's last page and page size in a cache no verifier has open. */
static void
replay_env_info(const char *dir, size_t *last_pgno, size_t *psize)
{
	MDB_env *env = NULL;
	MDB_envinfo ei;
	MDB_stat st;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_env_info(env, &ei), 0);
	assert_int_equal(mdb_env_stat(env, &st), 0);
	*last_pgno = ei.me_last_pgno;
	*psize = st.ms_psize;
	mdb_env_close(env);
}

/*
 * Creates the cache in dir with LMDB directly (pwrite, no map writes) and
 * pads its "jti" table with entries the cache ignores (values that are not
 * 8 bytes), until the reservation a verifier makes at open ends at most 3
 * pages past what LMDB then uses plus the headroom: the cache's first
 * growth comes after a few pages of entries instead of a step's worth.
 */
static void
replay_pad_to_step(const char *dir)
{
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi jti, exp;
	MDB_envinfo ei;
	MDB_stat st;
	MDB_val k, v;
	size_t psize, step, slack, pages;
	char key[32], *val;
	int i;

	assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
	assert_int_equal(mdb_env_set_mapsize(env, LC_REPLAY_MAP_BYTES), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOSYNC, 0600), 0);
	assert_int_equal(mdb_env_stat(env, &st), 0);
	psize = st.ms_psize;
	step = LC_REPLAY_STEP_BYTES / psize;
	assert_non_null(val = calloc(step, psize));
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "jti", MDB_CREATE, &jti), 0);
	assert_int_equal(mdb_dbi_open(txn, "exp", MDB_CREATE, &exp), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	for (i = 0;; i++) {
		assert_true(i < (int)(4 * step));
		assert_int_equal(mdb_env_info(env, &ei), 0);
		slack = (step - (ei.me_last_pgno + 1 +
		    LC_REPLAY_HEADROOM_PAGES) % step) % step;
		if (slack <= 3)
			break;
		/* A value of n pages less 64 bytes takes n overflow pages;
		 * the leaf and branch pages copied on write take a few
		 * more. */
		pages = slack > 16 ? slack - 12 : 1;
		snprintf(key, sizeof(key), "pad-%d", i);
		k.mv_data = key;
		k.mv_size = strlen(key);
		v.mv_data = val;
		v.mv_size = pages * psize - 64;
		assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_put(txn, jti, &k, &v, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
	}
	free(val);
	mdb_env_close(env);
}

/*
 * Verifies fresh tokens with v until one fails, at most GROWTH_TOKENS_MAX:
 * tok[0..n-1] were accepted, tok[n] failed with the return value.
 */
static consent_err
verify_until_failure(struct fixture *f, consent_verifier *v, char **tok,
    int *n)
{
	struct consent_claims c;
	consent_err rc = CONSENT_OK;

	for (*n = 0; *n < GROWTH_TOKENS_MAX; (*n)++) {
		tok[*n] = mint_long_jti(f);
		rc = consent_verify(v, tok[*n], f->der, (size_t)f->der_len,
		    scope, 2, &c);
		consent_claims_free(&c);
		if (rc != CONSENT_OK)
			return rc;
	}
	print_error("%d tokens accepted, none refused\n", *n);
	fail();
	return rc;
}

/* consent_verifier_new with the cache in dir must fail with
 * CONSENT_E_STORE, its detail naming ENOSPC's reason. */
static void
expect_new_fails_for_disk(struct fixture *f, const char *dir)
{
	struct consent_verifier_opts o = { 0 };
	consent_verifier *v = (consent_verifier *)&v;   /* not NULL */
	char detail[256];

	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = f->jwks;
	o.replay_dir = dir;
	detail[0] = '\0';
	assert_int_equal(consent_verifier_new(&o, &v, detail, sizeof(detail)),
	    CONSENT_E_STORE);
	assert_null(v);
	if (strstr(detail, "cannot reserve") == NULL ||
	    strstr(detail, strerror(ENOSPC)) == NULL)
		print_error("detail \"%s\"\n", detail);
	assert_non_null(strstr(detail, "cannot reserve"));
	assert_non_null(strstr(detail, strerror(ENOSPC)));
}

static void
replay_open_fails_when_disk_cannot_be_reserved(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[340], *tok = mint_default(f);

	replay_dir(f, dir, sizeof(dir));
	seam_install(1);
	expect_new_fails_for_disk(f, dir);
	assert_int_equal(seam_calls, 1);
	/* with disk to be had, the same directory opens and works */
	lc_replay_fallocate = posix_fallocate;
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2, CONSENT_OK,
	    NULL, 0);
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_REPLAYED, "jti", 0);
	consent_verifier_free(v);
	free(tok);
}

static void
replay_refuses_token_when_growth_cannot_be_reserved(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[340], *tok[GROWTH_TOKENS_MAX];
	consent_err rc;
	int i, n;

	replay_dir(f, dir, sizeof(dir));
	replay_pad_to_step(dir);
	seam_install(0);
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	assert_int_equal(seam_calls, 1);    /* the first step, at open */
	/* From now on every reservation fails: the tokens are accepted
	 * until the cache must grow, and the one that needs it is not. */
	seam_install(1);
	rc = verify_until_failure(f, v, tok, &n);
	assert_int_equal(seam_calls, 1);
	assert_int_equal(rc, CONSENT_E_STORE);
	assert_true(n > 0);     /* the padding left room for some */
	assert_non_null(strstr(consent_verifier_detail(v), "cannot reserve"));
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_STORE, strerror(ENOSPC), 0);
	/* a replay needs no disk: still refused as one */
	for (i = 0; i < n; i++)
		expect_full(v, tok[i], f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_E_REPLAYED, "jti", 0);
	/* the refused token was not recorded */
	lc_replay_fallocate = posix_fallocate;
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 0);
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_REPLAYED, "jti", 0);
	consent_verifier_free(v);
	for (i = 0; i <= n; i++)
		free(tok[i]);
}

static void
replay_file_is_sparse_and_reserved_ahead(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[340], path[360], *tok;
	size_t last, psize, used, alloc;
	struct stat st;
	int i;

	replay_dir(f, dir, sizeof(dir));
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	for (i = 0; i < 300; i++) {
		tok = mint_long_jti(f);
		expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_OK, NULL, 0);
		free(tok);
	}
	consent_verifier_free(v);
	replay_env_info(dir, &last, &psize);
	assert_int_equal(fsu_join(path, sizeof(path), dir, "data.mdb"), 0);
	assert_int_equal(stat(path, &st), 0);
	used = (last + 1) * psize;
	alloc = (size_t)st.st_blocks * 512;
	print_message("data.mdb: %zu bytes, %zu allocated, LMDB uses %zu\n",
	    (size_t)st.st_size, alloc, used);
	/* the map's size, but disk only for what is used plus headroom */
	assert_int_equal((size_t)st.st_size, LC_REPLAY_MAP_BYTES);
	assert_true(used > 8 * psize);      /* the tokens are in there */
	assert_true(alloc >= used + LC_REPLAY_HEADROOM_PAGES / 2 * psize);
	assert_true(alloc <= LC_REPLAY_MAP_BYTES / 4);
}

/*
 * A real full file system: a small tmpfs (root only), the cache padded to
 * its growth point, the rest filled. Verifying fresh tokens must end in
 * CONSENT_E_STORE, not SIGBUS, and every accepted token stays refused; a
 * new cache there must fail to open, not die of SIGBUS in LMDB's lock file.
 */
static void
replay_full_file_system_refuses_tokens_without_crashing(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char dir[400], filler[400], opts[64], *tok[GROWTH_TOKENS_MAX];
	size_t psize = (size_t)sysconf(_SC_PAGESIZE);
	struct statvfs sv;
	consent_err rc;
	off_t room;
	int fd, i, n;

	if (geteuid() != 0) {
		print_message("skipped: mounting a tmpfs needs root\n");
		skip();
	}
	if ((LC_REPLAY_HEADROOM_PAGES + LC_REPLAY_STEP_BYTES / psize) * psize >
	    LC_REPLAY_MAP_BYTES / 2) {
		print_message("skipped: with %zu-byte pages the cache reserves "
		    "most of its map at once\n", psize);
		skip();
	}
	assert_int_equal(fsu_join(full_fs, sizeof(full_fs), f->dir,
	    "full-fs"), 0);
	assert_int_equal(mkdir(full_fs, 0700), 0);
	/* A mount namespace of our own when we can have one: a mount left
	 * behind by a crash then goes with the process. */
	if (unshare(CLONE_NEWNS) == 0)
		(void)mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL);
	/* room for the padded cache and its reservation, and a little */
	snprintf(opts, sizeof(opts), "size=%zuk,mode=0700",
	    (LC_REPLAY_HEADROOM_PAGES * psize + 2 * LC_REPLAY_STEP_BYTES +
	    ((size_t)1 << 20)) / 1024);
	if (mount("tmpfs", full_fs, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	    opts) != 0) {
		print_message("skipped: mount tmpfs on %s: %s\n", full_fs,
		    strerror(errno));
		full_fs[0] = '\0';
		skip();
	}
	assert_int_equal(fsu_join(dir, sizeof(dir), full_fs, "replay"), 0);
	assert_int_equal(fsu_join(filler, sizeof(filler), full_fs, "filler"),
	    0);
	replay_pad_to_step(dir);
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	/* Fill the file system to the last block. */
	assert_true((fd = open(filler, O_WRONLY | O_CREAT | O_EXCL, 0600)) >=
	    0);
	assert_int_equal(statvfs(full_fs, &sv), 0);
	room = (off_t)(sv.f_bavail * sv.f_frsize);
	while (room > 0 && posix_fallocate(fd, 0, room) != 0)
		room -= (off_t)psize;
	while (posix_fallocate(fd, room, (off_t)psize) == 0)
		room += (off_t)psize;
	close(fd);
	assert_int_equal(statvfs(full_fs, &sv), 0);
	assert_int_equal(sv.f_bavail, 0);
	rc = verify_until_failure(f, v, tok, &n);
	print_message("%d tokens accepted before the file system was full\n",
	    n);
	assert_int_equal(rc, CONSENT_E_STORE);
	assert_non_null(strstr(consent_verifier_detail(v), strerror(ENOSPC)));
	assert_true(n > 0);
	for (i = 0; i < n; i++)
		expect_full(v, tok[i], f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_E_REPLAYED, "jti", 0);
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_STORE, "cannot reserve", 0);
	/* a new cache on the full file system fails to open, cleanly */
	assert_int_equal(fsu_join(dir, sizeof(dir), full_fs, "replay-new"), 0);
	expect_new_fails_for_disk(f, dir);
	assert_int_equal(fsu_join(dir, sizeof(dir), full_fs, "replay"), 0);
	consent_verifier_free(v);
	v = NULL;
	/* With room again, a new verifier on the same cache: the refused
	 * token was not recorded, the accepted ones were. */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(new_verifier(f, 0, dir, &v), CONSENT_OK);
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 0);
	expect_full(v, tok[n], f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_REPLAYED, "jti", 0);
	if (n > 0)
		expect_full(v, tok[0], f->der, (size_t)f->der_len, scope, 2,
		    CONSENT_E_REPLAYED, "jti", 0);
	consent_verifier_free(v);
	for (i = 0; i <= n; i++)
		free(tok[i]);
	assert_int_equal(umount(full_fs), 0);
	full_fs[0] = '\0';
}

/* ---- Threads -------------------------------------------------------------- */

struct worker {
	struct fixture *f;
	char *tokens[TOKENS_PER_THREAD];
	const char *shared;          /* one token for every thread, or NULL */
	pthread_barrier_t *start;
	int ok, replayed, other;
	int detail_names_jti;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct consent_claims c;
	consent_err rc;
	int i, n = w->shared != NULL ? 1 : TOKENS_PER_THREAD;

	pthread_barrier_wait(w->start);
	for (i = 0; i < n; i++) {
		rc = consent_verify(w->f->v, w->shared != NULL ? w->shared :
		    w->tokens[i], w->f->der, (size_t)w->f->der_len, scope, 2, &c);
		if (rc == CONSENT_OK)
			w->ok++;
		else if (rc == CONSENT_E_REPLAYED) {
			w->replayed++;
			/* the detail is this thread's own */
			w->detail_names_jti = strstr(consent_verifier_detail(
			    w->f->v), "jti") != NULL;
		} else
			w->other++;
		consent_claims_free(&c);
	}
	return NULL;
}

static void
threads_verify_distinct_tokens_concurrently(void **state)
{
	struct fixture *f = *state;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t start;
	int i, j;

	memset(w, 0, sizeof(w));
	pthread_barrier_init(&start, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		w[i].f = f;
		w[i].start = &start;
		for (j = 0; j < TOKENS_PER_THREAD; j++)
			w[i].tokens[j] = mint_default(f);
	}
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].ok, TOKENS_PER_THREAD);
		assert_int_equal(w[i].replayed + w[i].other, 0);
		for (j = 0; j < TOKENS_PER_THREAD; j++) {
			expect(f, w[i].tokens[j], CONSENT_E_REPLAYED, "jti");
			free(w[i].tokens[j]);
		}
	}
}

static void
threads_same_token_accepted_exactly_once(void **state)
{
	struct fixture *f = *state;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	pthread_barrier_t start;
	int i, round, ok, replayed;
	char *tok;

	for (round = 0; round < 10; round++) {
		tok = mint_default(f);
		memset(w, 0, sizeof(w));
		pthread_barrier_init(&start, NULL, NTHREADS);
		for (i = 0; i < NTHREADS; i++) {
			w[i].f = f;
			w[i].start = &start;
			w[i].shared = tok;
		}
		for (i = 0; i < NTHREADS; i++)
			assert_int_equal(pthread_create(&th[i], NULL, work,
			    &w[i]), 0);
		for (i = 0; i < NTHREADS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&start);
		ok = replayed = 0;
		for (i = 0; i < NTHREADS; i++) {
			ok += w[i].ok;
			replayed += w[i].replayed;
			assert_int_equal(w[i].other, 0);
			if (w[i].replayed)
				assert_true(w[i].detail_names_jti);
		}
		assert_int_equal(ok, 1);
		assert_int_equal(replayed, NTHREADS - 1);
		free(tok);
	}
}

/* ---- JWKS refresh over HTTPS ---------------------------------------------- */

/* A tiny HTTPS server on 127.0.0.1 answering every request with a JWKS. */
struct jwks_server {
	int fd, port;
	SSL_CTX *ctx;
	pthread_t th;
	pthread_mutex_t mu;
	char *body;                  /* guarded by mu */
	int hits;                    /* guarded by mu */
	int stop;                    /* guarded by mu */
};

static void
serve_one(struct jwks_server *s, int c)
{
	char req[4096], head[256];
	size_t got = 0;
	SSL *ssl = SSL_new(s->ctx);
	char *body;
	int n;

	if (ssl == NULL || SSL_set_fd(ssl, c) != 1 || SSL_accept(ssl) != 1)
		goto out;
	while (got < sizeof(req) - 1) {
		n = SSL_read(ssl, req + got, (int)(sizeof(req) - 1 - got));
		if (n <= 0)
			goto out;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->hits++;
	body = strdup(s->body);
	pthread_mutex_unlock(&s->mu);
	if (body == NULL)
		goto out;
	n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n"
	    "\r\n", strlen(body));
	SSL_write(ssl, head, n);
	SSL_write(ssl, body, (int)strlen(body));
	SSL_shutdown(ssl);
	free(body);
out:
	SSL_free(ssl);
	close(c);
}

static void *
serve(void *arg)
{
	struct jwks_server *s = arg;
	struct pollfd pfd;
	int c, stop;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		pfd.fd = s->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((c = accept(s->fd, NULL, NULL)) >= 0)
			serve_one(s, c);
	}
	return NULL;
}

static char *
jwks_text(EVP_PKEY *k1, const char *kid1, EVP_PKEY *k2, const char *kid2)
{
	json_t *doc = json_pack("{s:[o]}", "keys", jwk_from_pkey(k1, kid1));
	char *s;

	assert_non_null(doc);
	if (k2 != NULL)
		json_array_append_new(json_object_get(doc, "keys"),
		    jwk_from_pkey(k2, kid2));
	s = jsonu_dump(doc);
	json_decref(doc);
	assert_non_null(s);
	return s;
}

static void
server_set_body(struct jwks_server *s, char *body)
{
	pthread_mutex_lock(&s->mu);
	free(s->body);
	s->body = body;
	pthread_mutex_unlock(&s->mu);
}

static int
server_hits(struct jwks_server *s)
{
	int n;

	pthread_mutex_lock(&s->mu);
	n = s->hits;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void
server_start(struct fixture *f, struct jwks_server *s, char *body)
{
	static const char *const ips[] = { "127.0.0.1", NULL };
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	EVP_PKEY *key = pki_gen_p256();
	X509 *cert;

	memset(s, 0, sizeof(*s));
	assert_non_null(key);
	cert = pki_make_cert(f->ca, f->ca_key, key, "127.0.0.1", 1, NULL, ips,
	    1);
	assert_non_null(cert);
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ctx);
	assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	s->body = body;
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void
server_stop(struct jwks_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_mutex_destroy(&s->mu);
	close(s->fd);
	SSL_CTX_free(s->ctx);
	free(s->body);
}

static void
jwks_unknown_kid_refreshes_at_most_once_per_interval(void **state)
{
	struct fixture *f = *state;
	struct consent_verifier_opts o = { 0 };
	struct jwks_server s;
	consent_verifier *v = NULL;
	EVP_PKEY *k3 = pki_gen_p256();
	char url[64], detail[256], kid3[JWK_B64_SHA256_LEN];
	char *tok_other, *tok3;

	assert_non_null(k3);
	assert_int_equal(jwk_thumbprint(k3, kid3), 0);
	/* minted first: the checks below must fall within one interval */
	tok_other = mint_with(f->other, f->other_kid, "at+jwt",
	    claims_default(f));
	tok3 = mint_with(k3, kid3, "at+jwt", claims_default(f));
	server_start(f, &s, jwks_text(f->key, f->kid, NULL, NULL));
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/.well-known/jwks.json",
	    s.port);
	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_url = url;
	o.ca_file = f->ca_pem;
	o.jwks_min_refresh_s = 1;
	o.timeout_ms = 5000;
	if (consent_verifier_new(&o, &v, detail, sizeof(detail)) != CONSENT_OK)
		print_error("consent_verifier_new: %s\n", detail);
	assert_non_null(v);
	assert_int_equal(server_hits(&s), 1);

	/* The broker rotates in a new key; the verifier has just loaded the
	 * set, so it does not ask again within the interval. */
	server_set_body(&s, jwks_text(f->key, f->kid, f->other, f->other_kid));
	expect_full(v, tok_other, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, f->other_kid, 1);
	expect_full(v, tok_other, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, f->other_kid, 1);
	assert_int_equal(server_hits(&s), 1);

	/* After the interval one unknown kid refreshes, and the new key
	 * verifies. */
	sleep_ms(1100);
	expect_full(v, tok_other, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 1);
	assert_int_equal(server_hits(&s), 2);
	/* a known kid never refreshes */
	expect_full(v, tok_other, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 1);
	assert_int_equal(server_hits(&s), 2);

	/* A kid the broker never published: refreshes once per interval. */
	expect_full(v, tok3, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, kid3, 1);
	expect_full(v, tok3, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, kid3, 1);
	assert_int_equal(server_hits(&s), 2);
	sleep_ms(1100);
	expect_full(v, tok3, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, kid3, 1);
	expect_full(v, tok3, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, kid3, 1);
	assert_int_equal(server_hits(&s), 3);

	/* A failed refresh (bad JWKS) keeps the keys it had. */
	server_set_body(&s, strdup("{\"keys\": 7}"));
	sleep_ms(1100);
	expect_full(v, tok3, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, kid3, 1);
	assert_int_equal(server_hits(&s), 4);
	expect_full(v, tok_other, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_OK, NULL, 1);

	consent_verifier_free(v);
	server_stop(&s);
	EVP_PKEY_free(k3);
	free(tok_other);
	free(tok3);
}

static void
jwks_file_is_not_reread_for_unknown_kid(void **state)
{
	struct fixture *f = *state;
	consent_verifier *v = NULL;
	char path[340], *tok;
	struct consent_verifier_opts o = { 0 };

	assert_int_equal(fsu_join(path, sizeof(path), f->dir, "jwks2.json"), 0);
	assert_int_equal(write_jwks(path, f->key, f->kid, NULL, NULL), 0);
	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = path;
	assert_int_equal(consent_verifier_new(&o, &v, NULL, 0), CONSENT_OK);
	assert_int_equal(write_jwks(path, f->key, f->kid, f->other,
	    f->other_kid), 0);
	tok = mint_with(f->other, f->other_kid, "at+jwt", claims_default(f));
	expect_full(v, tok, f->der, (size_t)f->der_len, scope, 2,
	    CONSENT_E_UNKNOWN_KEY, f->other_kid, 1);
	consent_verifier_free(v);
	free(tok);
}

/* ---- Errors and construction ---------------------------------------------- */

static void
strerror_has_a_distinct_message_for_every_code(void **state)
{
	static const consent_err all[] = { CONSENT_OK, CONSENT_E_INVALID_ARG,
		CONSENT_E_NOMEM, CONSENT_E_IO, CONSENT_E_CONFIG,
		CONSENT_E_NETWORK, CONSENT_E_TIMEOUT, CONSENT_E_DENIED,
		CONSENT_E_HTTP, CONSENT_E_MALFORMED, CONSENT_E_BAD_ALG,
		CONSENT_E_UNKNOWN_KEY, CONSENT_E_BAD_SIGNATURE,
		CONSENT_E_WRONG_ISSUER, CONSENT_E_WRONG_AUDIENCE,
		CONSENT_E_NOT_YET_VALID, CONSENT_E_EXPIRED, CONSENT_E_BINDING,
		CONSENT_E_FIELD_SCOPE, CONSENT_E_REVOKED, CONSENT_E_REPLAYED,
		CONSENT_E_STORE };
	const size_t n = sizeof(all) / sizeof(all[0]);
	const char *unknown = consent_strerror((consent_err)999);
	size_t i, j;

	(void)state;
	assert_non_null(unknown);
	for (i = 0; i < n; i++) {
		const char *m = consent_strerror(all[i]);

		assert_non_null(m);
		assert_true(m[0] != '\0');
		assert_string_not_equal(m, unknown);
		for (j = 0; j < i; j++)
			assert_string_not_equal(m, consent_strerror(all[j]));
	}
}

static void
expect_new_fails(const struct consent_verifier_opts *o, consent_err want,
    const char *needle)
{
	consent_verifier *v = (consent_verifier *)&v;   /* not NULL */
	char detail[256];
	consent_err rc;

	detail[0] = '\0';
	rc = consent_verifier_new(o, &v, detail, sizeof(detail));
	if (rc != want)
		print_error("got %s: %s\n", consent_strerror(rc), detail);
	assert_int_equal(rc, want);
	assert_null(v);
	assert_true(detail[0] != '\0');
	if (strstr(detail, needle) == NULL)
		print_error("detail \"%s\" does not name \"%s\"\n", detail,
		    needle);
	assert_non_null(strstr(detail, needle));
	consent_verifier_free(v);   /* safe after a failed new */
}

static void
new_validates_arguments(void **state)
{
	struct fixture *f = *state;
	struct consent_verifier_opts o = { 0 };
	char small[8];

	o.issuer = ISSUER;
	o.jwks_file = f->jwks;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "provider");   /* none */
	o.provider = PROVIDER;
	o.issuer = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "issuer");
	o.issuer = ISSUER;
	o.jwks_url = "https://127.0.0.1:1/jwks";
	o.ca_file = f->ca_pem;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "jwks_url");    /* both */
	o.jwks_url = NULL;
	o.jwks_file = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "jwks_file");   /* neither */
	o.jwks_url = "https://127.0.0.1:1/jwks";
	o.ca_file = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "ca_file");
	o.jwks_url = NULL;
	o.jwks_file = f->jwks;
	o.leeway_s = -1;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "leeway");
	o.leeway_s = 301;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "leeway");
	o.leeway_s = 300;
	{
		consent_verifier *v = NULL;

		assert_int_equal(consent_verifier_new(&o, &v, NULL, 0),
		    CONSENT_OK);
		assert_non_null(v);
		consent_verifier_free(v);
	}
	{
		consent_verifier *v = (consent_verifier *)&v;

		assert_int_equal(consent_verifier_new(NULL, &v, NULL, 0),
		    CONSENT_E_INVALID_ARG);
		assert_null(v);
	}
	assert_int_equal(consent_verifier_new(NULL, NULL, small,
	    sizeof(small)), CONSENT_E_INVALID_ARG);
	assert_true(strlen(small) < sizeof(small));   /* truncated, ended */
	consent_verifier_free(NULL);
}

static void
new_fails_with_io_for_unreadable_jwks(void **state)
{
	struct fixture *f = *state;
	struct consent_verifier_opts o = { 0 };
	char path[340];

	assert_int_equal(fsu_join(path, sizeof(path), f->dir, "missing.json"),
	    0);
	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = path;
	expect_new_fails(&o, CONSENT_E_IO, "missing.json");
	o.jwks_file = f->dir;   /* a directory */
	expect_new_fails(&o, CONSENT_E_IO, "JWKS");
}

static void
new_fails_with_config_for_jwks_without_es256_key(void **state)
{
	struct fixture *f = *state;
	struct consent_verifier_opts o = { 0 };
	static const char *const docs[] = {
		"{\"keys\":[]}",
		"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"AQAB\","
		    "\"e\":\"AQAB\"}]}",
		"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"e1\","
		    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
		"{\"nokeys\":1}",
		"not json",
	};
	char path[340], *with_alg;
	json_t *jwk;
	size_t i;

	assert_int_equal(fsu_join(path, sizeof(path), f->dir, "bad.json"), 0);
	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = path;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		assert_int_equal(fsu_write_file(path, docs[i], strlen(docs[i]),
		    0644, 0), 0);
		expect_new_fails(&o, CONSENT_E_CONFIG, "JWKS");
	}
	/* an EC key marked for another algorithm is not an ES256 key */
	jwk = jwk_from_pkey(f->key, f->kid);
	json_object_set_new(jwk, "alg", json_string("ES384"));
	jwk = json_pack("{s:[o]}", "keys", jwk);
	with_alg = jsonu_dump(jwk);
	json_decref(jwk);
	assert_non_null(with_alg);
	assert_int_equal(fsu_write_file(path, with_alg, strlen(with_alg), 0644,
	    0), 0);
	expect_new_fails(&o, CONSENT_E_CONFIG, "ES256");
	free(with_alg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_token_is_accepted_with_its_claims),
		cmocka_unit_test(valid_token_without_consent_id_is_statutory),
		cmocka_unit_test(valid_token_with_null_claims_pointer),
		cmocka_unit_test(malformed_when_two_parts),
		cmocka_unit_test(malformed_when_bad_base64url),
		cmocka_unit_test(malformed_when_payload_not_json),
		cmocka_unit_test(malformed_when_exp_missing),
		cmocka_unit_test(malformed_when_jti_missing),
		cmocka_unit_test(malformed_when_other_required_claim_missing),
		cmocka_unit_test(malformed_when_authorization_details_missing),
		cmocka_unit_test(malformed_when_token_too_long),
		cmocka_unit_test(bad_alg_when_alg_none),
		cmocka_unit_test(bad_alg_when_hs256_keyed_with_public_key),
		cmocka_unit_test(bad_alg_when_typ_is_jwt),
		cmocka_unit_test(unknown_key_when_kid_not_in_jwks),
		cmocka_unit_test(unknown_key_when_no_kid),
		cmocka_unit_test(bad_signature_when_payload_tampered),
		cmocka_unit_test(bad_signature_when_stripped),
		cmocka_unit_test(bad_signature_when_other_key_uses_the_kid),
		cmocka_unit_test(signatures_with_short_r_or_s_verify),
		cmocka_unit_test(wrong_issuer),
		cmocka_unit_test(wrong_audience),
		cmocka_unit_test(not_yet_valid_when_nbf_beyond_leeway),
		cmocka_unit_test(nbf_within_leeway_is_accepted),
		cmocka_unit_test(expired_beyond_leeway),
		cmocka_unit_test(expired_within_leeway_is_accepted),
		cmocka_unit_test(binding_fails_for_another_certificate),
		cmocka_unit_test(binding_fails_without_certificate),
		cmocka_unit_test(binding_fails_for_token_without_cnf),
		cmocka_unit_test(field_scope_refuses_a_field_not_granted),
		cmocka_unit_test(field_scope_accepts_subsets),
		cmocka_unit_test(field_scope_not_checked_when_no_fields_requested),
		cmocka_unit_test(null_arguments_are_invalid),
		cmocka_unit_test(replay_refuses_second_presentation),
		cmocka_unit_test(replay_does_not_remember_failed_verification),
		cmocka_unit_test(replay_peek_never_records),
		cmocka_unit_test(replay_off_without_replay_dir),
		cmocka_unit_test(replay_entries_persist_across_verifiers),
		cmocka_unit_test(replay_purges_expired_entries),
		cmocka_unit_test_teardown(
		    replay_open_fails_when_disk_cannot_be_reserved,
		    replay_disk_teardown),
		cmocka_unit_test_teardown(
		    replay_refuses_token_when_growth_cannot_be_reserved,
		    replay_disk_teardown),
		cmocka_unit_test_teardown(
		    replay_file_is_sparse_and_reserved_ahead,
		    replay_disk_teardown),
		cmocka_unit_test_teardown(
		    replay_full_file_system_refuses_tokens_without_crashing,
		    replay_disk_teardown),
		cmocka_unit_test(threads_verify_distinct_tokens_concurrently),
		cmocka_unit_test(threads_same_token_accepted_exactly_once),
		cmocka_unit_test(jwks_unknown_kid_refreshes_at_most_once_per_interval),
		cmocka_unit_test(jwks_file_is_not_reread_for_unknown_kid),
		cmocka_unit_test(strerror_has_a_distinct_message_for_every_code),
		cmocka_unit_test(new_validates_arguments),
		cmocka_unit_test(new_fails_with_io_for_unreadable_jwks),
		cmocka_unit_test(new_fails_with_config_for_jwks_without_es256_key),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
