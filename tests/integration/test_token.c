/*
 * Integration: the token endpoint, rule by rule, with its exact OAuth
 * error codes and descriptions naming the offending value; the token
 * profile (checked by hand and by libjwt); introspection.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define STATUTORY "dia-msd-birth-notification"

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/* Grants SMARTSTART (all fields, or fields_json) for subject; id gets it. */
static void
grant_ok(struct it_server *s, const char *subject, const char *fields_json,
    char id[64])
{
	struct it_resp r;

	it_grant(s, subject, SMARTSTART, fields_json, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

/* Asks ird for a SMARTSTART token about subject; returns it (caller frees). */
static char *
token_ok(const struct it_server *s, const char *subject,
    const char *const *fields)
{
	struct it_resp r;
	char *tok;

	it_token(s, "ird", SMARTSTART, subject, PURPOSE, fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	it_resp_free(&r);
	return tok;
}

/* Posts a raw form to /oauth2/token as ird; checks the OAuth error. */
static void
expect_form(const struct it_server *s, const char *form, long status,
    const char *code, const char *needle)
{
	struct it_resp r;

	it_post_form(s, "ird", "/oauth2/token", form, &r);
	assert_oauth_error(&r, status, code, needle);
	it_resp_free(&r);
}

/* Posts authorization_details given as raw JSON text; checks the error. */
static void
expect_details(const struct it_server *s, const char *details_json,
    long status, const char *code, const char *needle)
{
	char *enc = it_urlencode(details_json), *form;
	size_t n;

	assert_non_null(enc);
	n = strlen(enc) + 80;
	form = malloc(n);
	assert_non_null(form);
	snprintf(form, n, "grant_type=client_credentials&"
	    "authorization_details=%s", enc);
	expect_form(s, form, status, code, needle);
	free(form);
	free(enc);
}

/* The JWKS key: its kid into kid, its PEM (SubjectPublicKeyInfo) into a
 * new string. */
static char *
jwks_pem(const struct it_server *s, char kid[128])
{
	struct it_resp r;
	char err[256], *pem, *data;
	EVP_PKEY *pub;
	json_t *k;
	BIO *bio;
	long n;

	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	k = json_array_get(json_object_get(r.json, "keys"), 0);
	assert_non_null(k);
	snprintf(kid, 128, "%s", it_jstr(k, "kid"));
	pub = jwk_to_pkey(k, err, sizeof(err));
	if (pub == NULL)
		fail_msg("JWKS key: %s", err);
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, pub), 1);
	n = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)n);
	assert_non_null(pem);
	BIO_free(bio);
	EVP_PKEY_free(pub);
	it_resp_free(&r);
	return pem;
}

/* base64url SHA-256 of the DER of DATA/pki/<party>.crt (RFC 8705). */
static void
x5t_s256_of(const struct it_server *s, const char *party, char out[64])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char p[PATH_MAX], err[256];
	X509 *c;

	it_fmt(p, sizeof(p), "%s/pki/%s.crt", s->data, party);
	c = pki_load_cert(p, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(X509_digest(c, EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	b64url_encode(md, mdlen, out);
	X509_free(c);
}

static int
is_b64url(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* ---- success ------------------------------------------------------------ */

IT_TEST(token_is_issued_with_the_rfc9068_profile_claims)
{
	struct it_resp r, d;
	json_t *hdr, *c, *ad, *cnf;
	char id[64], kid[128], x5t[64], cc[128], *pem;
	int64_t now = time(NULL);

	grant_ok(s, "tok-ok", NULL, id);
	it_token(s, "ird", SMARTSTART, "tok-ok", PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(it_resp_header(&r, "Cache-Control", cc, sizeof(cc)));
	assert_contains(cc, "no-store");
	assert_string_equal(it_jstr(r.json, "token_type"), "Bearer");
	assert_int_equal(it_jint(r.json, "expires_in"), 300);
	ad = json_object_get(r.json, "authorization_details");
	assert_true(json_is_array(ad));
	assert_int_equal(json_array_size(ad), 1);
	assert_string_equal(it_jstr(json_array_get(ad, 0), "type"),
	    "consented_transfer");
	assert_string_equal(it_jstr(json_array_get(ad, 0), "agreement"),
	    SMARTSTART);
	assert_string_equal(it_jstr(json_array_get(ad, 0), "purpose"), PURPOSE);
	assert_int_equal(it_jint(json_array_get(ad, 0), "agreement_version"), 1);

	hdr = it_jwt_part(it_jstr(r.json, "access_token"), 0);
	c = it_jwt_part(it_jstr(r.json, "access_token"), 1);
	assert_non_null(hdr);
	assert_non_null(c);
	pem = jwks_pem(s, kid);
	assert_string_equal(it_jstr(hdr, "alg"), "ES256");
	assert_string_equal(it_jstr(hdr, "typ"), "at+jwt");
	assert_string_equal(it_jstr(hdr, "kid"), kid);

	it_get(s, NULL, NULL, "/.well-known/consent-broker", &d);
	assert_status(&d, 200);
	assert_string_equal(it_jstr(c, "iss"), it_jstr(d.json, "issuer"));
	it_resp_free(&d);
	assert_string_equal(it_jstr(c, "sub"), "tok-ok");
	assert_string_equal(it_jstr(c, "aud"), "dia");
	assert_string_equal(it_jstr(c, "client_id"), "ird");
	assert_true(it_jint(c, "iat") >= now - 5 && it_jint(c, "iat") <= now + 5);
	assert_int_equal(it_jint(c, "nbf"), it_jint(c, "iat"));
	assert_int_equal(it_jint(c, "exp") - it_jint(c, "iat"), 300);
	/* The issue time in ms (12 hex digits), then 96 random bits. */
	assert_int_equal(strlen(it_jstr(c, "jti")), 28);
	/* (the random part may start with a hex digit too) */
	assert_true(strspn(it_jstr(c, "jti"), "0123456789abcdef") >= 12);
	{
		char ms[13];

		memcpy(ms, it_jstr(c, "jti"), 12);
		ms[12] = '\0';
		assert_true(strtoll(ms, NULL, 16) / 1000 >= now - 5);
		assert_true(strtoll(ms, NULL, 16) / 1000 <= now + 5);
	}
	assert_true(is_b64url(it_jstr(c, "jti")));
	assert_string_equal(it_jstr(c, "consent_id"), id);
	assert_true(json_equal(json_object_get(c, "authorization_details"), ad));
	assert_int_equal(json_array_size(json_object_get(json_array_get(ad, 0),
	    "fields")), 2);
	cnf = json_object_get(c, "cnf");
	x5t_s256_of(s, "ird", x5t);
	assert_string_equal(it_jstr(cnf, "x5t#S256"), x5t);
	json_decref(hdr);
	json_decref(c);
	free(pem);
	it_resp_free(&r);
}

/*
 * Whether libjwt refused tok only for its header typ: signs tok's claims
 * with the broker's own key (DIR/keys/signing/<kid>.key) under typ "JWT"
 * and asks libjwt again. 1 when that one is accepted, else 0.
 */
static int
libjwt_refuses_only_the_typ(const struct it_server *s, const char *tok,
    const char *pem)
{
	json_t *hdr = it_jwt_part(tok, 0), *c = it_jwt_part(tok, 1);
	char p[PATH_MAX], err[256], *claims, *as_jwt = NULL;
	jwt_t *jwt = NULL;
	EVP_PKEY *key = NULL;
	int rc = -1;

	if (hdr != NULL && snprintf(p, sizeof(p), "%s/keys/signing/%s.key",
	    s->data, it_jstr(hdr, "kid")) < (int)sizeof(p))
		key = pki_load_key(p, err, sizeof(err));
	claims = c != NULL ? json_dumps(c, JSON_COMPACT) : NULL;
	if (key != NULL && claims != NULL &&
	    jws_sign_es256(key, it_jstr(hdr, "kid"), "JWT", claims,
	    strlen(claims), &as_jwt) == JWS_OK)
		rc = jwt_decode(&jwt, as_jwt, (const unsigned char *)pem,
		    (int)strlen(pem));
	jwt_free(jwt);
	EVP_PKEY_free(key);
	free(claims);
	free(as_jwt);
	json_decref(c);
	json_decref(hdr);
	return rc == 0;
}

/*
 * ARCHITECTURE section 3 asks that libjwt accept every token we mint;
 * section 6 gives them typ "at+jwt" (RFC 9068). libjwt 1.10 (Debian 12)
 * refuses any typ but "JWT" before it looks at the signature, so the two
 * cannot both hold with it. When that (and only that) is why libjwt says
 * no, the test is skipped with a note; a refusal for any other reason
 * fails. The broker's own signature bytes are checked independently by
 * token_signature_verifies_with_openssl_against_the_jwks_key.
 */
IT_TEST(token_verifies_with_libjwt_against_the_jwks_key)
{
	char id[64], kid[128], *pem, *tok, *bad;
	jwt_t *jwt = NULL;
	size_t n;
	int rc, only_typ;

	grant_ok(s, "tok-libjwt", NULL, id);
	tok = token_ok(s, "tok-libjwt", two_fields);
	pem = jwks_pem(s, kid);
	rc = jwt_decode(&jwt, tok, (const unsigned char *)pem, (int)strlen(pem));
	if (rc != 0) {
		only_typ = libjwt_refuses_only_the_typ(s, tok, pem);
		free(tok);
		free(pem);
		if (!only_typ)
			fail_msg("libjwt refused the token (%s), and not only for "
			    "its typ", strerror(rc));
		fprintf(stderr, "NOTE: libjwt refuses the broker's tokens for "
		    "their typ \"at+jwt\" (libjwt 1.10 accepts only \"JWT\"); "
		    "the same claims and key with typ JWT verify. Skipped: "
		    "ARCHITECTURE sections 3 and 6 conflict with this libjwt.\n");
		skip();
	}
	assert_int_equal(jwt_get_alg(jwt), JWT_ALG_ES256);
	assert_string_equal(jwt_get_grant(jwt, "sub"), "tok-libjwt");
	assert_string_equal(jwt_get_grant(jwt, "aud"), "dia");
	assert_string_equal(jwt_get_header(jwt, "kid"), kid);
	jwt_free(jwt);
	jwt = NULL;
	/* libjwt really checks: a changed signature byte fails. */
	bad = strdup(tok);
	assert_non_null(bad);
	n = strlen(bad);
	bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
	assert_int_not_equal(jwt_decode(&jwt, bad, (const unsigned char *)pem,
	    (int)strlen(pem)), 0);
	jwt_free(jwt);
	free(bad);
	free(tok);
	free(pem);
}

/* Verifies tok's ES256 signature with OpenSSL alone (not keys/jws.c):
 * r||s to a DER ECDSA-Sig-Value, then EVP_DigestVerify. 1 valid, else 0. */
static int
openssl_verifies(const char *tok, EVP_PKEY *pub)
{
	const char *dot2 = strrchr(tok, '.');
	unsigned char sig[128], *der = NULL;
	size_t siglen = 0;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *sv = NULL;
	EVP_MD_CTX *md = NULL;
	int derlen, ok = 0;

	if (dot2 == NULL || strlen(dot2 + 1) > 100 ||
	    b64url_decode(dot2 + 1, strlen(dot2 + 1), sig, &siglen) != 0 ||
	    siglen != 64)
		return 0;
	r = BN_bin2bn(sig, 32, NULL);
	sv = BN_bin2bn(sig + 32, 32, NULL);
	es = ECDSA_SIG_new();
	if (r == NULL || sv == NULL || es == NULL ||
	    ECDSA_SIG_set0(es, r, sv) != 1)
		goto out;
	r = sv = NULL;
	derlen = i2d_ECDSA_SIG(es, &der);
	md = EVP_MD_CTX_new();
	if (derlen <= 0 || md == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, (size_t)derlen,
	    (const unsigned char *)tok, (size_t)(dot2 - tok)) == 1;
out:
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(es);
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	return ok;
}

IT_TEST(token_signature_verifies_with_openssl_against_the_jwks_key)
{
	struct it_resp r;
	char id[64], err[256], *tok;
	EVP_PKEY *pub;

	grant_ok(s, "tok-openssl", NULL, id);
	tok = token_ok(s, "tok-openssl", two_fields);
	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	pub = jwk_to_pkey(json_array_get(json_object_get(r.json, "keys"), 0),
	    err, sizeof(err));
	assert_non_null(pub);
	assert_true(openssl_verifies(tok, pub));
	/* And a changed payload does not verify. */
	{
		char *dot = strchr(tok, '.');

		dot[3] = dot[3] == 'A' ? 'B' : 'A';
		assert_false(openssl_verifies(tok, pub));
	}
	EVP_PKEY_free(pub);
	it_resp_free(&r);
	free(tok);
}

IT_TEST(statutory_agreement_issues_a_token_without_consent)
{
	static const char *const f[] = { "registration.number",
	    "child.given_names", NULL };
	struct it_resp r;
	json_t *c;

	it_token(s, "msd", STATUTORY, "stat-child", "update-benefit-household",
	    f, &r);
	assert_status(&r, 200);
	c = it_jwt_part(it_jstr(r.json, "access_token"), 1);
	assert_non_null(c);
	assert_null(json_object_get(c, "consent_id"));
	assert_string_equal(it_jstr(c, "aud"), "dia");
	assert_string_equal(it_jstr(c, "client_id"), "msd");
	assert_int_equal(it_jint(c, "exp") - it_jint(c, "iat"), 600);
	json_decref(c);
	it_resp_free(&r);
}

/* ---- who may ask -------------------------------------------------------- */

IT_TEST(requester_that_is_not_a_recipient_is_unauthorized_client)
{
	struct it_resp r;
	char id[64];

	grant_ok(s, "tok-msd", NULL, id);
	it_token(s, "msd", SMARTSTART, "tok-msd", PURPOSE, two_fields, &r);
	assert_oauth_error(&r, 400, "unauthorized_client",
	    "party 'msd' is not a recipient of agreement '" SMARTSTART "'");
	it_resp_free(&r);
}

IT_TEST(party_without_the_requester_role_is_unauthorized_client)
{
	struct it_resp r;

	it_token(s, "dia", SMARTSTART, "tok-dia", PURPOSE, two_fields, &r);
	assert_oauth_error(&r, 400, "unauthorized_client",
	    "party 'dia' does not have the requester role");
	it_resp_free(&r);
}

IT_TEST(client_id_that_is_not_the_certificates_party_is_invalid_client)
{
	json_t *d = it_details(SMARTSTART, "tok-clientid", PURPOSE, two_fields);
	char *form = it_token_form(d), *with;
	struct it_resp r;
	char id[64];
	size_t n;

	assert_non_null(form);
	n = strlen(form) + 32;
	with = malloc(n);
	assert_non_null(with);
	snprintf(with, n, "%s&client_id=wcc", form);
	expect_form(s, with, 401, "invalid_client", "client_id 'wcc'");
	/* client_id naming the certificate's own party is fine. */
	grant_ok(s, "tok-clientid", NULL, id);
	snprintf(with, n, "%s&client_id=ird", form);
	it_post_form(s, "ird", "/oauth2/token", with, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	free(with);
	free(form);
	json_decref(d);
}

/* ---- the agreement ------------------------------------------------------ */

IT_TEST(suspended_agreement_is_access_denied_and_resume_restores_issuing)
{
	struct it_server *own = it_server_new();
	struct it_resp r;
	char id[64], *tok;

	/* Its own broker: a failure here must not leave the shared one's
	 * agreement suspended. */
	(void)s;
	assert_non_null(own);
	assert_int_equal(it_server_start(own), 0);
	grant_ok(own, "susp", NULL, id);
	tok = token_ok(own, "susp", two_fields);
	it_lifecycle(own, "dia", SMARTSTART, "suspend", "audit in progress", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "suspended");
	it_resp_free(&r);
	it_token(own, "ird", SMARTSTART, "susp", PURPOSE, two_fields, &r);
	assert_oauth_error(&r, 403, "access_denied", "suspended");
	assert_contains(it_jstr(r.json, "error_description"), SMARTSTART);
	it_resp_free(&r);
	/* A token issued before the suspension no longer introspects. */
	it_introspect(own, "dia", tok, &r);
	assert_status(&r, 200);
	assert_false(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	it_lifecycle(own, "dia", SMARTSTART, "resume", "audit done", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	free(token_ok(own, "susp", two_fields));
	/* Suspension revoked the outstanding token for good: resuming the
	 * agreement does not bring it back (its status bit stays set). */
	it_introspect(own, "dia", tok, &r);
	assert_status(&r, 200);
	assert_false(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	free(tok);
	assert_int_equal(it_server_stop(own), 0);
}

/* Submits a copy of SMARTSTART as id with the window [from, until] and
 * has every named party approve it; asserts it is active. */
static void
make_windowed_agreement(struct it_server *s, const char *id,
    const char *from, const char *until)
{
	json_t *doc = it_example_agreement(SMARTSTART);
	struct it_resp r;
	char hash[72];

	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "valid_from", json_string(from));
	json_object_set_new(doc, "valid_until", json_string(until));
	it_submit_agreement(s, "registrar", doc, &r);
	json_decref(doc);
	assert_status(&r, 201);
	assert_string_equal(it_jstr(r.json, "state"), "draft");
	snprintf(hash, sizeof(hash), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	it_approve(s, "dia", id, 1, hash, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "draft");
	it_resp_free(&r);
	it_approve(s, "ird", id, 1, hash, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
}

IT_TEST(agreement_before_its_validity_window_is_access_denied)
{
	struct it_resp r;
	char from[32];

	it_time_from_now(30L * 86400, from);
	make_windowed_agreement(s, "future-ird-number", from,
	    "2040-01-01T00:00:00Z");
	it_token(s, "ird", "future-ird-number", "tok-future", PURPOSE,
	    two_fields, &r);
	assert_oauth_error(&r, 403, "access_denied", "not valid until");
	assert_contains(it_jstr(r.json, "error_description"), from);
	it_resp_free(&r);
}

IT_TEST(agreement_after_its_validity_window_is_access_denied)
{
	struct it_resp r;

	make_windowed_agreement(s, "past-ird-number", "2020-01-01T00:00:00Z",
	    "2021-01-01T00:00:00Z");
	it_token(s, "ird", "past-ird-number", "tok-past", PURPOSE, two_fields,
	    &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "stopped being valid at 2021-01-01T00:00:00Z");
	it_resp_free(&r);
}

IT_TEST(unknown_agreement_is_invalid_authorization_details)
{
	struct it_resp r;

	it_token(s, "ird", "no-such-agreement", "tok-unknown", PURPOSE,
	    two_fields, &r);
	assert_oauth_error(&r, 400, "invalid_authorization_details",
	    "unknown agreement 'no-such-agreement'");
	it_resp_free(&r);
}

IT_TEST(field_not_in_the_agreement_is_invalid_authorization_details)
{
	static const char *const f[] = { "child.given_names",
	    "child.blood_type", NULL };
	struct it_resp r;
	char id[64];

	grant_ok(s, "tok-field", NULL, id);
	it_token(s, "ird", SMARTSTART, "tok-field", PURPOSE, f, &r);
	assert_oauth_error(&r, 400, "invalid_authorization_details",
	    "field 'child.blood_type' is not in agreement");
	it_resp_free(&r);
}

IT_TEST(purpose_not_in_the_agreement_is_invalid_authorization_details)
{
	struct it_resp r;
	char id[64];

	grant_ok(s, "tok-purpose", NULL, id);
	it_token(s, "ird", SMARTSTART, "tok-purpose", "marketing", two_fields,
	    &r);
	assert_oauth_error(&r, 400, "invalid_authorization_details",
	    "purpose 'marketing' is not in agreement");
	it_resp_free(&r);
}

/* ---- consent ------------------------------------------------------------ */

IT_TEST(no_consent_is_access_denied)
{
	struct it_resp r;

	it_token(s, "ird", SMARTSTART, "tok-noconsent", PURPOSE, two_fields, &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "no consent of subject 'tok-noconsent'");
	it_resp_free(&r);
}

IT_TEST(revoked_consent_is_access_denied_naming_the_consent)
{
	struct it_resp r;
	char id[64], want[128];

	grant_ok(s, "tok-revoked", NULL, id);
	free(token_ok(s, "tok-revoked", two_fields));
	it_revoke(s, "tok-revoked", id, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, "tok-revoked", PURPOSE, two_fields, &r);
	it_fmt(want, sizeof(want), "consent '%s' was revoked", id);
	assert_oauth_error(&r, 403, "access_denied", want);
	it_resp_free(&r);
}

IT_TEST(expired_consent_is_access_denied)
{
	struct it_resp r;
	char id[64], when[32], want[128];
	time_t expires = time(NULL) + 2;

	it_time_from_now(2, when);
	it_grant(s, "tok-expiring", SMARTSTART, NULL, when, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	free(token_ok(s, "tok-expiring", two_fields));
	while (time(NULL) <= expires)
		it_sleep_ms(100);
	it_token(s, "ird", SMARTSTART, "tok-expiring", PURPOSE, two_fields, &r);
	it_fmt(want, sizeof(want), "consent '%s' expired", id);
	assert_oauth_error(&r, 403, "access_denied", want);
	it_resp_free(&r);
}

IT_TEST(consent_that_does_not_cover_a_field_is_access_denied)
{
	static const char *const f[] = { "child.given_names", "child.sex",
	    NULL };
	struct it_resp r;
	char id[64];

	grant_ok(s, "tok-nosex", "[\"child.given_names\",\"child.family_name\","
	    "\"child.birth_date\",\"parent.given_names\","
	    "\"parent.family_name\"]", id);
	free(token_ok(s, "tok-nosex", two_fields));
	it_token(s, "ird", SMARTSTART, "tok-nosex", PURPOSE, f, &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "does not cover field 'child.sex'");
	assert_contains(it_jstr(r.json, "error_description"), id);
	it_resp_free(&r);
}

IT_TEST(sixth_token_of_the_day_for_one_subject_is_access_denied)
{
	struct it_resp r;
	char id[64];
	int i;

	grant_ok(s, "tok-limit", NULL, id);
	for (i = 0; i < 5; i++)
		free(token_ok(s, "tok-limit", two_fields));
	it_token(s, "ird", SMARTSTART, "tok-limit", PURPOSE, two_fields, &r);
	assert_oauth_error(&r, 403, "access_denied", "limit exceeded");
	assert_contains(it_jstr(r.json, "error_description"), "5 transfers");
	it_resp_free(&r);
	/* The limit is per subject: another subject is unaffected. */
	grant_ok(s, "tok-limit-2", NULL, id);
	free(token_ok(s, "tok-limit-2", two_fields));
}

IT_TEST(concurrent_token_requests_never_exceed_the_daily_limit)
{
	struct it_batch_item items[12];
	json_t *d = it_details(SMARTSTART, "tok-race", PURPOSE, two_fields);
	char *form = it_token_form(d), id[64];
	int issued = 0, limited = 0;
	size_t i;

	grant_ok(s, "tok-race", NULL, id);
	memset(items, 0, sizeof(items));
	for (i = 0; i < 12; i++) {
		items[i].req.method = "POST";
		items[i].req.path = "/oauth2/token";
		items[i].req.party = "ird";
		items[i].req.ctype = "application/x-www-form-urlencoded";
		items[i].req.body = form;
	}
	assert_int_equal(it_batch(s, items, 12, 4, 20000, NULL, NULL), 0);
	for (i = 0; i < 12; i++) {
		if (items[i].resp.status == 200)
			issued++;
		else {
			assert_oauth_error(&items[i].resp, 403, "access_denied",
			    "limit exceeded");
			limited++;
		}
		it_resp_free(&items[i].resp);
	}
	assert_int_equal(issued, 5);
	assert_int_equal(limited, 7);
	free(form);
	json_decref(d);
}

/*
 * A consent is given to the terms the citizen saw: sharing with the
 * recipients of that version. A later version that adds a recipient must
 * not let the new recipient use the old consent.
 */
IT_TEST(consent_to_v1_does_not_cover_a_recipient_added_in_v2)
{
	static const char *const f[] = { "child.given_names", NULL };
	json_t *doc = it_example_agreement(SMARTSTART);
	struct it_resp r;
	char h1[72], h2[72];

	json_object_set_new(doc, "id", json_string("widening-ird-number"));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	snprintf(h1, sizeof(h1), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	it_approve(s, "dia", "widening-ird-number", 1, h1, &r);
	it_resp_free(&r);
	it_approve(s, "ird", "widening-ird-number", 1, h1, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	it_grant(s, "tok-widen", "widening-ird-number", NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	/* v2: the same, plus wcc as a recipient. */
	json_object_set_new(doc, "version", json_integer(2));
	json_object_set_new(doc, "previous_hash", json_string(h1));
	json_object_set_new(doc, "recipients", json_pack("[s, s]", "ird", "wcc"));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	snprintf(h2, sizeof(h2), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	json_decref(doc);
	it_approve(s, "dia", "widening-ird-number", 2, h2, &r);
	it_resp_free(&r);
	it_approve(s, "ird", "widening-ird-number", 2, h2, &r);
	it_resp_free(&r);
	it_approve(s, "wcc", "widening-ird-number", 2, h2, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	it_token(s, "wcc", "widening-ird-number", "tok-widen", PURPOSE, f, &r);
	if (r.status == 200) {
		it_resp_free(&r);
		fail_msg("wcc, a recipient only since v2, got a token under a "
		    "consent given to v1, whose only recipient is ird");
	}
	assert_status(&r, 403);
	assert_string_equal(it_jstr(r.json, "error"), "access_denied");
	it_resp_free(&r);
}

/* ---- malformed requests ------------------------------------------------- */

IT_TEST(bad_percent_encoding_is_invalid_request)
{
	expect_form(s, "grant_type=client_credentials&"
	    "authorization_details=%5B%ZZ", 400, "invalid_request",
	    "bad percent-encoding");
	expect_form(s, "grant_type=client_credentials%", 400,
	    "invalid_request", "bad percent-encoding");
	/* An encoded NUL is refused too. */
	expect_form(s, "grant_type=client_credentials%00", 400,
	    "invalid_request", "NUL");
}

IT_TEST(missing_grant_type_is_invalid_request)
{
	expect_form(s, "authorization_details=%5B%5D", 400, "invalid_request",
	    "grant_type: missing");
}

IT_TEST(unsupported_grant_type_is_unsupported_grant_type)
{
	expect_form(s, "grant_type=password&authorization_details=%5B%5D", 400,
	    "unsupported_grant_type", "'password'");
}

IT_TEST(missing_authorization_details_is_invalid_request)
{
	expect_form(s, "grant_type=client_credentials", 400, "invalid_request",
	    "authorization_details: missing");
}

IT_TEST(authorization_details_that_is_not_json_is_refused)
{
	expect_details(s, "[{\"type\":", 400, "invalid_authorization_details",
	    "not valid JSON");
}

IT_TEST(authorization_details_that_is_not_an_array_is_refused)
{
	expect_details(s, "{\"type\":\"consented_transfer\",\"agreement\":\""
	    SMARTSTART "\",\"subject\":\"x\",\"fields\":[\"child.sex\"],"
	    "\"purpose\":\"" PURPOSE "\"}", 400,
	    "invalid_authorization_details", "must be a JSON array");
}

IT_TEST(authorization_details_with_two_objects_is_refused)
{
	json_t *d = it_details(SMARTSTART, "tok-two", PURPOSE, two_fields);
	char *text;

	json_array_append_new(d, json_deep_copy(json_array_get(d, 0)));
	text = json_dumps(d, JSON_COMPACT);
	expect_details(s, text, 400, "invalid_authorization_details",
	    "exactly one object");
	free(text);
	json_decref(d);
	expect_details(s, "[]", 400, "invalid_authorization_details",
	    "exactly one object");
}

IT_TEST(authorization_details_of_an_unknown_type_is_refused)
{
	json_t *d = it_details(SMARTSTART, "tok-type", PURPOSE, two_fields);
	char *text;

	json_object_set_new(json_array_get(d, 0), "type",
	    json_string("payment_initiation"));
	text = json_dumps(d, JSON_COMPACT);
	expect_details(s, text, 400, "invalid_authorization_details",
	    "unknown type 'payment_initiation'");
	free(text);
	json_decref(d);
}

IT_TEST(authorization_details_with_an_unknown_member_is_refused)
{
	json_t *d = it_details(SMARTSTART, "tok-member", PURPOSE, two_fields);
	char *text;

	json_object_set_new(json_array_get(d, 0), "locations",
	    json_pack("[s]", "https://dia.example"));
	text = json_dumps(d, JSON_COMPACT);
	expect_details(s, text, 400, "invalid_authorization_details",
	    "authorization_details[0].locations: unknown member");
	free(text);
	json_decref(d);
}

IT_TEST(authorization_details_without_subject_is_refused)
{
	json_t *d = it_details(SMARTSTART, "tok-nosubject", PURPOSE, two_fields);
	char *text;

	json_object_del(json_array_get(d, 0), "subject");
	text = json_dumps(d, JSON_COMPACT);
	expect_details(s, text, 400, "invalid_authorization_details",
	    "authorization_details[0].subject: missing");
	free(text);
	json_decref(d);
}

IT_TEST(authorization_details_with_empty_fields_is_refused)
{
	static const char *const none[] = { NULL };
	json_t *d = it_details(SMARTSTART, "tok-nofields", PURPOSE, none);
	char *text = json_dumps(d, JSON_COMPACT);

	expect_details(s, text, 400, "invalid_authorization_details",
	    "authorization_details[0].fields");
	free(text);
	json_decref(d);
}

IT_TEST(authorization_details_with_a_duplicate_field_is_refused)
{
	static const char *const dup[] = { "child.sex", "child.sex", NULL };
	json_t *d = it_details(SMARTSTART, "tok-dupfield", PURPOSE, dup);
	char *text = json_dumps(d, JSON_COMPACT);

	expect_details(s, text, 400, "invalid_authorization_details",
	    "duplicate field 'child.sex'");
	free(text);
	json_decref(d);
}

IT_TEST(duplicate_form_parameter_is_invalid_request)
{
	json_t *d = it_details(SMARTSTART, "tok-dupparam", PURPOSE, two_fields);
	char *form = it_token_form(d), *twice;
	size_t n;

	assert_non_null(form);
	n = strlen(form) + 64;
	twice = malloc(n);
	assert_non_null(twice);
	snprintf(twice, n, "%s&grant_type=client_credentials", form);
	expect_form(s, twice, 400, "invalid_request",
	    "'grant_type' is given more than once");
	free(twice);
	free(form);
	json_decref(d);
}

IT_TEST(wrong_content_type_is_invalid_request)
{
	json_t *d = it_details(SMARTSTART, "tok-ctype", PURPOSE, two_fields);
	char *form = it_token_form(d);
	struct it_req q = { .path = "/oauth2/token", .party = "ird",
	    .ctype = "application/json", .body = form };
	struct it_resp r;

	it_request(s, &q, &r);
	assert_oauth_error(&r, 400, "invalid_request",
	    "application/x-www-form-urlencoded");
	/* It names what it got, as /v1/consents does for its 415. */
	assert_contains(it_jstr(r.json, "error_description"),
	    "application/json");
	it_resp_free(&r);
	q.ctype = NULL;
	it_request(s, &q, &r);
	assert_oauth_error(&r, 400, "invalid_request",
	    "application/x-www-form-urlencoded");
	it_resp_free(&r);
	free(form);
	json_decref(d);
}

/* ARCHITECTURE section 6: the OAuth endpoints answer RFC 6749 error
 * objects, this one too (bodies up to 4x the limit reach the route). */
IT_TEST(oversize_body_is_413_with_an_oauth_error)
{
	size_t n = 64 * 1024 + 1, i;
	char *form = malloc(n + 1);
	struct it_resp r;

	assert_non_null(form);
	i = (size_t)snprintf(form, n + 1, "grant_type=client_credentials&pad=");
	memset(form + i, 'x', n - i);
	form[n] = '\0';
	it_post_form(s, "ird", "/oauth2/token", form, &r);
	free(form);
	assert_oauth_error(&r, 413, "invalid_request", "65536");
	it_resp_free(&r);
}

/* ---- introspection ------------------------------------------------------ */

static void
expect_inactive(const struct it_resp *r)
{
	assert_status(r, 200);
	assert_non_null(r->json);
	assert_true(json_is_false(json_object_get(r->json, "active")));
	/* An inactive answer says nothing else (RFC 7662 section 2.2). */
	assert_int_equal(json_object_size(r->json), 1);
}

IT_TEST(introspection_by_the_provider_of_a_fresh_token_is_active)
{
	struct it_resp r;
	char id[64], *tok;
	json_t *c;

	grant_ok(s, "intro-ok", NULL, id);
	tok = token_ok(s, "intro-ok", two_fields);
	c = it_jwt_part(tok, 1);
	it_introspect(s, "dia", tok, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	assert_string_equal(it_jstr(r.json, "sub"), "intro-ok");
	assert_string_equal(it_jstr(r.json, "client_id"), "ird");
	assert_string_equal(it_jstr(r.json, "aud"), "dia");
	assert_string_equal(it_jstr(r.json, "jti"), it_jstr(c, "jti"));
	assert_int_equal(it_jint(r.json, "exp"), it_jint(c, "exp"));
	assert_string_equal(it_jstr(r.json, "consent_id"), id);
	it_resp_free(&r);
	json_decref(c);
	free(tok);
}

/*
 * The claims are written as JSON text by the broker itself: a subject
 * with quotes, a backslash, a slash and non-ASCII letters comes back
 * byte for byte in the token, in introspection and in the token reply,
 * and revoking the consent still finds the token.
 */
IT_TEST(subject_with_quotes_and_non_ascii_round_trips_through_the_token)
{
	static const char subj[] = "tok \"q\" \\ a/b Ng\xc4\x81 T\xc4\x81ne";
	struct it_resp r;
	char id[64], *tok;
	json_t *c;

	grant_ok(s, subj, NULL, id);
	it_token(s, "ird", SMARTSTART, subj, PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	assert_string_equal(it_jstr(json_array_get(json_object_get(r.json,
	    "authorization_details"), 0), "agreement"), SMARTSTART);
	it_resp_free(&r);
	c = it_jwt_part(tok, 1);
	assert_non_null(c);
	assert_string_equal(it_jstr(c, "sub"), subj);
	assert_string_equal(it_jstr(c, "consent_id"), id);
	it_introspect(s, "dia", tok, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	assert_string_equal(it_jstr(r.json, "sub"), subj);
	it_resp_free(&r);
	it_revoke(s, subj, id, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_introspect(s, "dia", tok, &r);
	expect_inactive(&r);
	it_resp_free(&r);
	json_decref(c);
	free(tok);
}

/* The last request log line of the latest run whose path is path and
 * status status, parsed strictly (no duplicate members); NULL if none. */
static json_t *
log_line(const struct it_server *s, const char *path, int status)
{
	FILE *f = fopen(s->log, "r");
	char line[4096], err[128];
	json_t *j, *found = NULL;

	assert_non_null(f);
	assert_int_equal(fseek(f, s->run_start, SEEK_SET), 0);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] != '{' || strstr(line, "\"path\"") == NULL)
			continue;
		j = jsonu_parse(line, strlen(line) - (strchr(line, '\n') != NULL),
		    JSONU_MAX_DEPTH, err, sizeof(err));
		if (j == NULL)
			fail_msg("request log line is not JSON (%s): %s", err,
			    line);
		if (json_is_string(json_object_get(j, "path")) &&
		    strcmp(it_jstr(j, "path"), path) == 0 &&
		    it_jint(j, "status") == status) {
			json_decref(found);
			found = j;
		} else
			json_decref(j);
	}
	fclose(f);
	return found;
}

/* The significant digits of the "ms" number of every request log line of
 * the latest run: the most of them (docs/api.md: four at most). */
static int
log_ms_digits(const struct it_server *s)
{
	FILE *f = fopen(s->log, "r");
	char line[4096];
	const char *p;
	int most = 0, n, lead;

	assert_non_null(f);
	assert_int_equal(fseek(f, s->run_start, SEEK_SET), 0);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] != '{' || (p = strstr(line, "\"ms\":")) == NULL)
			continue;
		n = 0;
		lead = 1;
		for (p += 5; *p != '\0' && strchr("0123456789.", *p) != NULL;
		    p++) {
			if (*p == '.' || (lead && *p == '0'))
				continue;
			lead = 0;
			n++;
		}
		if (n > most)
			most = n;
	}
	fclose(f);
	return most;
}

/* Its members, in order, are exactly those of names (NULL-terminated). */
static void
assert_members(const json_t *j, const char *const *names)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	json_object_foreach((json_t *)j, k, v) {
		(void)v;
		assert_non_null(names[i]);
		assert_string_equal(k, names[i]);
		i++;
	}
	assert_null(names[i]);
}

/*
 * consentd logs one JSON line per request: when, what, the outcome, how
 * long it took, the worker, the party, and the rule that refused it.
 */
IT_TEST(request_log_line_names_the_party_outcome_and_rule)
{
	static const char *const ok_members[] = { "time", "method", "path",
	    "status", "ms", "thread", "party", NULL };
	static const char *const refused_members[] = { "time", "method",
	    "path", "status", "ms", "thread", "party", "rule", NULL };
	struct it_req q = { .path = "/oauth2/token", .party = "ird",
	    .ctype = "text/plain", .body = "x=1" };
	struct it_resp r;
	char id[64], *tok, *text;
	json_t *j;
	int64_t t;
	int n;

	grant_ok(s, "tok-logline", NULL, id);
	tok = token_ok(s, "tok-logline", two_fields);
	free(tok);
	it_request(s, &q, &r);
	assert_status(&r, 400);
	it_resp_free(&r);

	j = log_line(s, "/oauth2/token", 200);
	assert_non_null(j);
	assert_members(j, ok_members);
	assert_string_equal(it_jstr(j, "method"), "POST");
	assert_string_equal(it_jstr(j, "party"), "ird");
	assert_true(json_is_real(json_object_get(j, "ms")));
	n = log_ms_digits(s);
	assert_true(n >= 1 && n <= 4);
	assert_true(json_real_value(json_object_get(j, "ms")) >= 0);
	t = it_jint(j, "thread");
	assert_true(t >= 0 && t < 64);
	assert_int_equal(strlen(it_jstr(j, "time")), 20);
	json_decref(j);

	j = log_line(s, "/oauth2/token", 400);
	assert_non_null(j);
	assert_members(j, refused_members);
	assert_string_equal(it_jstr(j, "rule"), "content_type");
	json_decref(j);

	/* A citizen's request says so (without saying who). */
	j = log_line(s, "/v1/consents", 201);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "citizen")));
	text = json_dumps(j, 0);
	assert_non_null(text);
	assert_null(strstr(text, "tok-logline"));
	free(text);
	json_decref(j);
}

IT_TEST(introspection_after_the_citizen_revokes_is_inactive)
{
	struct it_resp r;
	char id[64], *tok;

	grant_ok(s, "intro-revoke", NULL, id);
	tok = token_ok(s, "intro-revoke", two_fields);
	it_revoke(s, "intro-revoke", id, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_introspect(s, "dia", tok, &r);
	expect_inactive(&r);
	it_resp_free(&r);
	free(tok);
}

IT_TEST(introspection_by_a_party_without_the_provider_role_is_403)
{
	struct it_resp r;
	char id[64], *tok;

	grant_ok(s, "intro-ird", NULL, id);
	tok = token_ok(s, "intro-ird", two_fields);
	it_introspect(s, "ird", tok, &r);
	assert_oauth_error(&r, 403, "unauthorized_client", "provider role");
	it_resp_free(&r);
	free(tok);
}

IT_TEST(introspection_by_a_provider_the_token_is_not_for_is_inactive)
{
	struct it_resp r;
	char id[64], *tok;

	grant_ok(s, "intro-msd", NULL, id);
	tok = token_ok(s, "intro-msd", two_fields);
	it_introspect(s, "msd", tok, &r);
	expect_inactive(&r);
	it_resp_free(&r);
	free(tok);
}

IT_TEST(introspection_of_garbage_or_a_forged_token_is_inactive)
{
	struct it_resp r;
	char id[64], *tok, *forged = NULL, *payload;
	json_t *hdr, *c;
	EVP_PKEY *other = pki_gen_p256();

	it_introspect(s, "dia", "garbage", &r);
	expect_inactive(&r);
	it_resp_free(&r);
	it_introspect(s, "dia", "a.b.c", &r);
	expect_inactive(&r);
	it_resp_free(&r);
	/* The real header and claims signed by another key. */
	grant_ok(s, "intro-forged", NULL, id);
	tok = token_ok(s, "intro-forged", two_fields);
	hdr = it_jwt_part(tok, 0);
	c = it_jwt_part(tok, 1);
	payload = json_dumps(c, JSON_COMPACT);
	assert_non_null(other);
	assert_int_equal(jws_sign_es256(other, it_jstr(hdr, "kid"), "at+jwt",
	    payload, strlen(payload), &forged), JWS_OK);
	it_introspect(s, "dia", forged, &r);
	expect_inactive(&r);
	it_resp_free(&r);
	/* Missing token parameter is a malformed request. */
	it_post_form(s, "dia", "/oauth2/introspect", "token_type_hint=x", &r);
	assert_oauth_error(&r, 400, "invalid_request", "token");
	it_resp_free(&r);
	EVP_PKEY_free(other);
	free(payload);
	free(forged);
	free(tok);
	json_decref(hdr);
	json_decref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_is_issued_with_the_rfc9068_profile_claims),
		cmocka_unit_test(token_verifies_with_libjwt_against_the_jwks_key),
		cmocka_unit_test(
		    token_signature_verifies_with_openssl_against_the_jwks_key),
		cmocka_unit_test(statutory_agreement_issues_a_token_without_consent),
		cmocka_unit_test(
		    requester_that_is_not_a_recipient_is_unauthorized_client),
		cmocka_unit_test(
		    party_without_the_requester_role_is_unauthorized_client),
		cmocka_unit_test(
		    client_id_that_is_not_the_certificates_party_is_invalid_client),
		cmocka_unit_test(
		    suspended_agreement_is_access_denied_and_resume_restores_issuing),
		cmocka_unit_test(
		    agreement_before_its_validity_window_is_access_denied),
		cmocka_unit_test(agreement_after_its_validity_window_is_access_denied),
		cmocka_unit_test(unknown_agreement_is_invalid_authorization_details),
		cmocka_unit_test(
		    field_not_in_the_agreement_is_invalid_authorization_details),
		cmocka_unit_test(
		    purpose_not_in_the_agreement_is_invalid_authorization_details),
		cmocka_unit_test(no_consent_is_access_denied),
		cmocka_unit_test(revoked_consent_is_access_denied_naming_the_consent),
		cmocka_unit_test(expired_consent_is_access_denied),
		cmocka_unit_test(
		    consent_that_does_not_cover_a_field_is_access_denied),
		cmocka_unit_test(
		    sixth_token_of_the_day_for_one_subject_is_access_denied),
		cmocka_unit_test(
		    concurrent_token_requests_never_exceed_the_daily_limit),
		cmocka_unit_test(
		    consent_to_v1_does_not_cover_a_recipient_added_in_v2),
		cmocka_unit_test(bad_percent_encoding_is_invalid_request),
		cmocka_unit_test(missing_grant_type_is_invalid_request),
		cmocka_unit_test(unsupported_grant_type_is_unsupported_grant_type),
		cmocka_unit_test(missing_authorization_details_is_invalid_request),
		cmocka_unit_test(authorization_details_that_is_not_json_is_refused),
		cmocka_unit_test(
		    authorization_details_that_is_not_an_array_is_refused),
		cmocka_unit_test(authorization_details_with_two_objects_is_refused),
		cmocka_unit_test(
		    authorization_details_of_an_unknown_type_is_refused),
		cmocka_unit_test(
		    authorization_details_with_an_unknown_member_is_refused),
		cmocka_unit_test(authorization_details_without_subject_is_refused),
		cmocka_unit_test(
		    authorization_details_with_empty_fields_is_refused),
		cmocka_unit_test(
		    authorization_details_with_a_duplicate_field_is_refused),
		cmocka_unit_test(duplicate_form_parameter_is_invalid_request),
		cmocka_unit_test(wrong_content_type_is_invalid_request),
		cmocka_unit_test(oversize_body_is_413_with_an_oauth_error),
		cmocka_unit_test(
		    introspection_by_the_provider_of_a_fresh_token_is_active),
		cmocka_unit_test(
		    subject_with_quotes_and_non_ascii_round_trips_through_the_token),
		cmocka_unit_test(request_log_line_names_the_party_outcome_and_rule),
		cmocka_unit_test(introspection_after_the_citizen_revokes_is_inactive),
		cmocka_unit_test(
		    introspection_by_a_party_without_the_provider_role_is_403),
		cmocka_unit_test(
		    introspection_by_a_provider_the_token_is_not_for_is_inactive),
		cmocka_unit_test(
		    introspection_of_garbage_or_a_forged_token_is_inactive),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/token",
	    tests, it_group_setup, it_group_teardown));
}
