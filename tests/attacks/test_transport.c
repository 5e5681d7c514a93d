/*
 * Attacks on party authentication (mutual TLS): no certificate, a
 * certificate from another CA (also one whose CA copies the dev CA's
 * name), self-signed, issued by a party's own leaf, expired or not yet
 * valid though issued by the dev CA for a registered party's key, and
 * valid but unregistered. Each gets 401 with its own message on the party
 * endpoints (rule client_certificate) and invalid_client on /oauth2/token
 * and /oauth2/introspect, and nothing is written.
 *
 * Certificates that carry a registered party's key (ird's for the token
 * endpoint, dia's for introspection) make the point sharper: their SPKI
 * pin is registered, so only the certificate checks stand between them
 * and a token, or an "active": true.
 */
#include "attack.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "fsu.h"
#include "jwk.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define SUBJECT "atk-tls-alice"

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/* Made by the group setup; tests run one at a time. */
static struct {
	char *token;              /* a real token for dia, to introspect */
	char *form;               /* a token request that would succeed */
	X509 *ca;                 /* the dev CA and its key */
	EVP_PKEY *ca_key;
	EVP_PKEY *ird_key, *dia_key;
} fx;

static int
setup(void **state)
{
	struct it_server *s;
	struct it_resp r;
	char p[PATH_MAX], err[256];
	json_t *d;

	if (it_group_setup(state) != 0)
		return -1;
	s = *state;
	it_grant(s, SUBJECT, SMARTSTART, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, SUBJECT, PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	fx.token = strdup(it_jstr(r.json, "access_token"));
	it_resp_free(&r);
	d = it_details(SMARTSTART, SUBJECT, PURPOSE, two_fields);
	fx.form = it_token_form(d);
	json_decref(d);
	it_fmt(p, sizeof(p), "%s/pki/ca.crt", s->data);
	fx.ca = pki_load_cert(p, err, sizeof(err));
	if (fx.ca == NULL)
		fail_msg("%s: %s", p, err);
	fx.ca_key = atk_load_key(s, "pki/ca.key");
	fx.ird_key = atk_load_key(s, "pki/ird.key");
	fx.dia_key = atk_load_key(s, "pki/dia.key");
	return 0;
}

static int
teardown(void **state)
{
	free(fx.token);
	free(fx.form);
	X509_free(fx.ca);
	EVP_PKEY_free(fx.ca_key);
	EVP_PKEY_free(fx.ird_key);
	EVP_PKEY_free(fx.dia_key);
	return it_group_teardown(state);
}

/*
 * With certificate crt/key (NULL: none), every party endpoint answers 401
 * naming why (rule client_certificate), and the OAuth ones
 * invalid_client with the same words.
 */
static void
expect_refused_as_party(const struct it_server *s, const char *crt,
    const char *key, const char *why)
{
	static const char *const gets[] = { "/v1/agreements",
	    "/v1/agreements/" SMARTSTART, "/v1/log/entries?start=0&end=1",
	    "/v1/log/proof/consistency?from=0&to=1" };
	struct it_req q = { .cert = crt, .key = key };
	struct it_resp r;
	char h[128];
	size_t i;

	for (i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		q.path = gets[i];
		it_request(s, &q, &r);
		assert_problem(&r, 401, why);
		assert_string_equal(it_jstr(r.json, "rule"), "client_certificate");
		it_resp_free(&r);
	}
	/* A registrar's write and a lifecycle call. */
	q.method = "POST";
	q.path = "/v1/agreements/" SMARTSTART "/suspend";
	q.ctype = "application/json";
	q.body = "{\"reason\":\"attack\"}";
	it_request(s, &q, &r);
	assert_problem(&r, 401, why);
	it_resp_free(&r);
	/* The token endpoint, with a request that would be granted. */
	q.path = "/oauth2/token";
	q.ctype = "application/x-www-form-urlencoded";
	q.body = fx.form;
	it_request(s, &q, &r);
	assert_oauth_error(&r, 401, "invalid_client", why);
	assert_non_null(it_resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
	assert_string_equal(h, "Mutual-TLS");
	assert_null(json_object_get(r.json, "access_token"));
	it_resp_free(&r);
}

/* Introspecting a real, active token with crt/key: invalid_client. */
static void
expect_introspection_refused(const struct it_server *s, const char *crt,
    const char *key, const char *why)
{
	struct it_req q = { .method = "POST", .path = "/oauth2/introspect",
	    .cert = crt, .key = key,
	    .ctype = "application/x-www-form-urlencoded" };
	struct it_resp r;
	char *enc = it_urlencode(fx.token), *form;
	size_t n = strlen(enc) + 8;

	form = malloc(n);
	assert_non_null(form);
	snprintf(form, n, "token=%s", enc);
	q.body = form;
	it_request(s, &q, &r);
	assert_oauth_error(&r, 401, "invalid_client", why);
	assert_null(json_object_get(r.json, "active"));
	it_resp_free(&r);
	free(form);
	free(enc);
}

/* "client certificate rejected: <OpenSSL's words for code>". */
static void
rejected_because(int code, char *out, size_t outlen)
{
	it_fmt(out, outlen, "client certificate rejected: %s",
	    X509_verify_cert_error_string(code));
}

IT_TEST(control_registered_certificates_are_accepted)
{
	struct it_resp r;

	/* The token is active for dia and a party read works: the refusals
	 * below are the certificates'. */
	it_introspect(s, "dia", fx.token, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	it_get(s, "ird", NULL, "/v1/agreements", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
}

IT_TEST(no_client_certificate_is_401_and_invalid_client)
{
	uint64_t before = atk_log_size(s);
	const char *why = "no client certificate: this endpoint is for "
	    "registered parties";

	expect_refused_as_party(s, NULL, NULL, why);
	expect_introspection_refused(s, NULL, NULL, why);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(certificate_from_another_ca_is_401_and_invalid_client)
{
	uint64_t before = atk_log_size(s);
	EVP_PKEY *ok = pki_gen_p256(), *other = pki_gen_p256();
	X509 *oca = pki_make_ca(ok, "some other CA", 30), *twin;
	char crt[PATH_MAX], key[PATH_MAX], why[256];

	assert_non_null(oca);
	/* OpenSSL's words for a lone leaf whose issuer it cannot find. */
	rejected_because(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, why,
	    sizeof(why));
	/* A fresh key, then the registered parties' own keys. */
	atk_write_cert(s, "other-ca-new", other, oca, ok, -3600, 86400, crt,
	    key);
	expect_refused_as_party(s, crt, key, why);
	atk_write_cert(s, "other-ca-ird", fx.ird_key, oca, ok, -3600, 86400,
	    crt, key);
	expect_refused_as_party(s, crt, key, why);
	atk_write_cert(s, "other-ca-dia", fx.dia_key, oca, ok, -3600, 86400,
	    crt, key);
	expect_introspection_refused(s, crt, key, why);

	/* A CA with the dev CA's very name (and so the issuer name the
	 * broker looks up): the signature gives it away. */
	twin = pki_make_ca(ok, "x", 30);
	assert_non_null(twin);
	assert_int_equal(X509_set_subject_name(twin,
	    X509_get_subject_name(fx.ca)), 1);
	assert_int_equal(X509_set_issuer_name(twin,
	    X509_get_subject_name(fx.ca)), 1);
	assert_true(X509_sign(twin, ok, EVP_sha256()) > 0);
	rejected_because(X509_V_ERR_CERT_SIGNATURE_FAILURE, why, sizeof(why));
	atk_write_cert(s, "twin-ca-ird", fx.ird_key, twin, ok, -3600, 86400,
	    crt, key);
	expect_refused_as_party(s, crt, key, why);
	atk_write_cert(s, "twin-ca-dia", fx.dia_key, twin, ok, -3600, 86400,
	    crt, key);
	expect_introspection_refused(s, crt, key, why);
	X509_free(oca);
	X509_free(twin);
	EVP_PKEY_free(ok);
	EVP_PKEY_free(other);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(self_signed_certificate_with_a_registered_key_is_401)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256];
	X509 *self;

	/* A self-signed CA certificate: OpenSSL refuses its purpose (no
	 * clientAuth) before it gets to the missing chain. */
	rejected_because(X509_V_ERR_INVALID_PURPOSE, why, sizeof(why));
	/* ird's registered key certifying itself: its pin is ird's. */
	self = pki_make_ca(fx.ird_key, "ird", 30);
	assert_non_null(self);
	it_fmt(crt, sizeof(crt), "%s/self-ird.crt", s->dir);
	it_fmt(key, sizeof(key), "%s/self-ird.key", s->dir);
	assert_int_equal(pki_write_cert(crt, self), 0);
	assert_int_equal(pki_write_key(key, fx.ird_key), 0);
	X509_free(self);
	expect_refused_as_party(s, crt, key, why);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(certificate_issued_by_a_party_leaf_is_401)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256], p[PATH_MAX], err[256],
	    *a = NULL, *b = NULL, *both;
	EVP_PKEY *k = pki_gen_p256();
	size_t alen, blen;
	X509 *ird;
	FILE *f;

	/* ird, not a CA, "issues" a certificate and sends it with its own
	 * (the dev CA's) as the chain. */
	it_fmt(p, sizeof(p), "%s/pki/ird.crt", s->data);
	ird = pki_load_cert(p, err, sizeof(err));
	assert_non_null(ird);
	atk_write_cert(s, "by-ird", k, ird, fx.ird_key, -3600, 86400, crt, key);
	assert_int_equal(fsu_read_file(crt, 65536, &a, &alen), 0);
	assert_int_equal(fsu_read_file(p, 65536, &b, &blen), 0);
	both = malloc(alen + blen + 1);
	assert_non_null(both);
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	both[alen + blen] = '\0';
	f = fopen(crt, "w");
	assert_non_null(f);
	assert_int_equal(fputs(both, f) >= 0, 1);
	fclose(f);
	/* ird's certificate may not sign certificates. */
	rejected_because(X509_V_ERR_KEYUSAGE_NO_CERTSIGN, why, sizeof(why));
	expect_refused_as_party(s, crt, key, why);
	free(a);
	free(b);
	free(both);
	X509_free(ird);
	EVP_PKEY_free(k);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(expired_dev_ca_certificate_of_a_registered_key_is_401)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256];

	rejected_because(X509_V_ERR_CERT_HAS_EXPIRED, why, sizeof(why));
	/* Valid for a day, ten days ago. */
	atk_write_cert(s, "expired-ird", fx.ird_key, fx.ca, fx.ca_key,
	    -10 * 86400, -9 * 86400, crt, key);
	expect_refused_as_party(s, crt, key, why);
	atk_write_cert(s, "expired-dia", fx.dia_key, fx.ca, fx.ca_key,
	    -10 * 86400, -9 * 86400, crt, key);
	expect_introspection_refused(s, crt, key, why);
	/* Expired a second ago. */
	atk_write_cert(s, "expired-ird-1s", fx.ird_key, fx.ca, fx.ca_key,
	    -86400, -1, crt, key);
	expect_refused_as_party(s, crt, key, why);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(not_yet_valid_dev_ca_certificate_of_a_registered_key_is_401)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256];

	rejected_because(X509_V_ERR_CERT_NOT_YET_VALID, why, sizeof(why));
	atk_write_cert(s, "future-ird", fx.ird_key, fx.ca, fx.ca_key,
	    86400, 30 * 86400, crt, key);
	expect_refused_as_party(s, crt, key, why);
	atk_write_cert(s, "future-dia", fx.dia_key, fx.ca, fx.ca_key,
	    86400, 30 * 86400, crt, key);
	expect_introspection_refused(s, crt, key, why);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(valid_certificate_of_an_unregistered_party_is_401_naming_its_pin)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256], pin[65], err[256];
	EVP_PKEY *k = pki_gen_p256();
	X509 *c;

	/* A certificate from the dev CA itself, CN "ird" even. */
	atk_write_cert(s, "ird", k, fx.ca, fx.ca_key, -3600, 86400, crt, key);
	c = pki_load_cert(crt, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(jwk_spki_pin_hex(c, pin), 0);
	X509_free(c);
	it_fmt(why, sizeof(why), "client certificate is not registered to any "
	    "party (SPKI SHA-256 pin %s)", pin);
	expect_refused_as_party(s, crt, key, why);
	expect_introspection_refused(s, crt, key, why);
	EVP_PKEY_free(k);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(broker_server_certificate_as_client_certificate_is_401)
{
	uint64_t before = atk_log_size(s);
	char crt[PATH_MAX], key[PATH_MAX], why[256];

	/* Issued by the dev CA, but for serverAuth only. */
	it_fmt(crt, sizeof(crt), "%s/pki/broker.crt", s->data);
	it_fmt(key, sizeof(key), "%s/pki/broker.key", s->data);
	rejected_because(X509_V_ERR_INVALID_PURPOSE, why, sizeof(why));
	expect_refused_as_party(s, crt, key, why);
	expect_introspection_refused(s, crt, key, why);
	assert_int_equal(atk_log_size(s), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_registered_certificates_are_accepted),
		cmocka_unit_test(no_client_certificate_is_401_and_invalid_client),
		cmocka_unit_test(
		    certificate_from_another_ca_is_401_and_invalid_client),
		cmocka_unit_test(
		    self_signed_certificate_with_a_registered_key_is_401),
		cmocka_unit_test(certificate_issued_by_a_party_leaf_is_401),
		cmocka_unit_test(
		    expired_dev_ca_certificate_of_a_registered_key_is_401),
		cmocka_unit_test(
		    not_yet_valid_dev_ca_certificate_of_a_registered_key_is_401),
		cmocka_unit_test(
		    valid_certificate_of_an_unregistered_party_is_401_naming_its_pin),
		cmocka_unit_test(
		    broker_server_certificate_as_client_certificate_is_401),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("attacks/transport", tests,
	    setup, teardown));
}
