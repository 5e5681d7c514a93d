/* Integration: liveness, discovery, JWKS, routing errors, how parties
 * and citizens are authenticated (or refused), and the malloc settings
 * consentd starts itself with. */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

/* Writes a new P-256 key and a client certificate for it, signed by
 * ca/cakey (a new self-signed CA when ca is NULL), as name.crt|.key in
 * s->dir. */
static void
make_client_cert(struct it_server *s, const char *name, X509 *ca,
    EVP_PKEY *cakey, char crt[PATH_MAX], char key[PATH_MAX])
{
	EVP_PKEY *k = pki_gen_p256(), *ownkey = NULL;
	X509 *c, *own = NULL;

	assert_non_null(k);
	if (ca == NULL) {
		ownkey = pki_gen_p256();
		assert_non_null(ownkey);
		own = pki_make_ca(ownkey, "some other CA", 30);
		assert_non_null(own);
		ca = own;
		cakey = ownkey;
	}
	c = pki_make_cert(ca, cakey, k, name, 0, NULL, NULL, 30);
	assert_non_null(c);
	it_fmt(crt, PATH_MAX, "%s/%s.crt", s->dir, name);
	it_fmt(key, PATH_MAX, "%s/%s.key", s->dir, name);
	assert_int_equal(pki_write_cert(crt, c), 0);
	assert_int_equal(pki_write_key(key, k), 0);
	X509_free(c);
	X509_free(own);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ownkey);
}

IT_TEST(healthz_answers_200_ok)
{
	struct it_resp r;

	it_get(s, NULL, NULL, "/healthz", &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(r.json);
	assert_string_equal(it_jstr(r.json, "status"), "ok");
	it_resp_free(&r);
}

IT_TEST(discovery_names_issuer_token_endpoint_and_jwks_uri)
{
	struct it_resp r;
	char want[512];
	const char *iss;

	it_get(s, NULL, NULL, "/.well-known/consent-broker", &r);
	assert_status(&r, 200);
	assert_non_null(r.json);
	iss = it_jstr(r.json, "issuer");
	assert_true(strncmp(iss, "https://", 8) == 0);
	snprintf(want, sizeof(want), "%s/oauth2/token", iss);
	assert_string_equal(it_jstr(r.json, "token_endpoint"), want);
	snprintf(want, sizeof(want), "%s/.well-known/jwks.json", iss);
	assert_string_equal(it_jstr(r.json, "jwks_uri"), want);
	it_resp_free(&r);
}

IT_TEST(jwks_has_one_p256_key_whose_kid_is_its_rfc7638_thumbprint)
{
	char err[256], tp[JWK_B64_SHA256_LEN];
	struct it_resp r;
	json_t *keys, *k;
	EVP_PKEY *pub;

	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	assert_non_null(r.json);
	keys = json_object_get(r.json, "keys");
	assert_true(json_is_array(keys));
	assert_int_equal(json_array_size(keys), 1);
	k = json_array_get(keys, 0);
	assert_string_equal(it_jstr(k, "kty"), "EC");
	assert_string_equal(it_jstr(k, "crv"), "P-256");
	assert_null(json_object_get(k, "d"));   /* never the private part */
	pub = jwk_to_pkey(k, err, sizeof(err));
	if (pub == NULL)
		fail_msg("JWKS key does not load: %s", err);
	assert_true(jwk_is_p256(pub));
	assert_int_equal(jwk_thumbprint(pub, tp), 0);
	assert_string_equal(it_jstr(k, "kid"), tp);
	EVP_PKEY_free(pub);
	it_resp_free(&r);
}

IT_TEST(unknown_path_is_404_problem)
{
	struct it_resp r;

	it_get(s, NULL, NULL, "/no/such/thing", &r);
	assert_problem(&r, 404, "/no/such/thing");
	it_resp_free(&r);
	it_get(s, "ird", NULL, "/v1/agreements/smartstart-ird-number/frobnicate",
	    &r);
	assert_problem(&r, 404, "frobnicate");
	it_resp_free(&r);
}

IT_TEST(wrong_method_is_405_with_allow)
{
	static const struct {
		const char *method, *path, *allow;
	} cases[] = {
		{ "POST", "/healthz", "GET" },
		{ "DELETE", "/.well-known/jwks.json", "GET" },
		{ "GET", "/oauth2/token", "POST" },
		{ "PUT", "/v1/agreements", "GET, POST" },
		{ "DELETE", "/v1/consents", "GET, POST" },
		{ "PUT", "/v1/consents/cns_x", "GET, DELETE" },
		{ "GET", "/v1/agreements/smartstart-ird-number/approve", "POST" },
	};
	struct it_resp r;
	char allow[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct it_req q = { .method = cases[i].method,
		    .path = cases[i].path };

		it_request(s, &q, &r);
		assert_problem(&r, 405, "allows only");
		if (it_resp_header(&r, "Allow", allow, sizeof(allow)) == NULL)
			fail_msg("%s %s: 405 without Allow", cases[i].method,
			    cases[i].path);
		assert_string_equal(allow, cases[i].allow);
		it_resp_free(&r);
	}
}

IT_TEST(party_endpoint_without_client_certificate_is_401)
{
	struct it_resp r;

	it_get(s, NULL, NULL, "/v1/agreements", &r);
	assert_problem(&r, 401, "no client certificate");
	assert_string_equal(it_jstr(r.json, "rule"), "client_certificate");
	it_resp_free(&r);
	/* The OAuth endpoints say the same as an RFC 6749 error. */
	it_post_form(s, NULL, "/oauth2/token", "grant_type=client_credentials",
	    &r);
	assert_oauth_error(&r, 401, "invalid_client", "no client certificate");
	it_resp_free(&r);
}

IT_TEST(party_certificate_from_another_ca_is_401_rejected)
{
	char crt[PATH_MAX], key[PATH_MAX];
	struct it_resp r;

	make_client_cert(s, "stranger", NULL, NULL, crt, key);
	{
		struct it_req q = { .path = "/v1/agreements", .cert = crt,
		    .key = key };

		it_request(s, &q, &r);
	}
	assert_problem(&r, 401, "client certificate rejected");
	it_resp_free(&r);
	{
		struct it_req q = { .path = "/oauth2/token", .cert = crt,
		    .key = key, .ctype = "application/x-www-form-urlencoded",
		    .body = "grant_type=client_credentials" };

		it_request(s, &q, &r);
	}
	assert_oauth_error(&r, 401, "invalid_client",
	    "client certificate rejected");
	it_resp_free(&r);
}

IT_TEST(party_certificate_from_dev_ca_but_unregistered_is_401)
{
	char p[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], err[256];
	struct it_resp r;
	EVP_PKEY *cakey;
	X509 *ca;

	it_fmt(p, sizeof(p), "%s/pki/ca.key", s->data);
	cakey = pki_load_key(p, err, sizeof(err));
	assert_non_null(cakey);
	it_fmt(p, sizeof(p), "%s/pki/ca.crt", s->data);
	ca = pki_load_cert(p, err, sizeof(err));
	assert_non_null(ca);
	make_client_cert(s, "unregistered", ca, cakey, crt, key);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	{
		struct it_req q = { .path = "/v1/agreements", .cert = crt,
		    .key = key };

		it_request(s, &q, &r);
	}
	assert_problem(&r, 401, "not registered");
	it_resp_free(&r);
}

IT_TEST(registered_party_certificate_is_accepted)
{
	struct it_resp r;

	it_get(s, "ird", NULL, "/v1/agreements", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
}

IT_TEST(citizen_endpoint_without_token_is_401)
{
	struct it_resp r;
	char h[256];

	it_get(s, NULL, NULL, "/v1/consents", &r);
	assert_problem(&r, 401, "sign-in required");
	assert_non_null(it_resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
	assert_contains(h, "Bearer");
	it_resp_free(&r);
	/* A party certificate is not a citizen sign-in. */
	it_get(s, "ird", NULL, "/v1/consents", &r);
	assert_problem(&r, 401, "sign-in required");
	it_resp_free(&r);
	{
		struct it_req q = { .path = "/v1/consents", .bearer = "" };

		it_request(s, &q, &r);
	}
	assert_status(&r, 401);
	it_resp_free(&r);
}

IT_TEST(citizen_expired_token_is_401)
{
	const char *tok = it_citizen_token(s, "expired-citizen", -100);
	struct it_resp r;

	assert_non_null(tok);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_problem(&r, 401, "expired");
	it_resp_free(&r);
}

/* A token with the real token's header and claims, signed by another key. */
static char *
resign(const char *real, const char *kid_override, const char *alg_hack)
{
	json_t *hdr = it_jwt_part(real, 0), *claims = it_jwt_part(real, 1);
	EVP_PKEY *other = pki_gen_p256();
	char *payload, *tok = NULL;

	assert_non_null(hdr);
	assert_non_null(claims);
	assert_non_null(other);
	payload = json_dumps(claims, JSON_COMPACT);
	assert_non_null(payload);
	assert_int_equal(jws_sign_es256(other, kid_override != NULL ?
	    kid_override : it_jstr(hdr, "kid"), "JWT", payload,
	    strlen(payload), &tok), JWS_OK);
	if (alg_hack != NULL) {
		/* Replace the header with {"alg":alg_hack,...}; keep the rest. */
		json_t *h2 = json_pack("{s:s, s:s, s:s}", "alg", alg_hack, "typ",
		    "JWT", "kid", it_jstr(hdr, "kid"));
		char *h2s = json_dumps(h2, JSON_COMPACT), *enc, *out;
		const char *dot = strchr(tok, '.');
		size_t n;

		enc = b64url_encode_alloc((const unsigned char *)h2s,
		    strlen(h2s));
		n = strlen(enc) + strlen(dot) + 1;
		out = malloc(n);
		assert_non_null(out);
		snprintf(out, n, "%s%s", enc, dot);
		free(tok);
		tok = out;
		free(enc);
		free(h2s);
		json_decref(h2);
	}
	free(payload);
	json_decref(hdr);
	json_decref(claims);
	EVP_PKEY_free(other);
	return tok;
}

IT_TEST(citizen_token_signed_by_a_key_not_the_issuers_is_401)
{
	const char *real = it_citizen_token(s, "forged-citizen", 0);
	struct it_resp r;
	char *tok;

	assert_non_null(real);
	/* Sanity: the genuine token works. */
	it_get(s, NULL, real, "/v1/consents", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	/* Same kid, iss and claims, another key: the signature fails. */
	tok = resign(real, NULL, NULL);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_problem(&r, 401, "signature does not verify");
	it_resp_free(&r);
	free(tok);
	/* A kid the issuer does not have. */
	tok = resign(real, "not-a-key-of-the-issuer", NULL);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_problem(&r, 401, "not-a-key-of-the-issuer");
	it_resp_free(&r);
	free(tok);
	/* alg none or HS256 never passes. */
	tok = resign(real, NULL, "none");
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 401);
	it_resp_free(&r);
	free(tok);
	tok = resign(real, NULL, "HS256");
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 401);
	it_resp_free(&r);
	free(tok);
	/* Garbage. */
	it_get(s, NULL, "not.a.token", "/v1/consents", &r);
	assert_problem(&r, 401, "malformed");
	it_resp_free(&r);
}

/*
 * The value of GLIBC_TUNABLES in the environment pid's program was
 * started with (/proc/PID/environ), into out (empty when absent);
 * *restarted is 1 when consentd's restart marker is there too.
 */
static void
tunables_of(pid_t pid, char *out, size_t outlen, int *restarted)
{
	char path[64], buf[65536];
	const char *p;
	ssize_t n;
	size_t got = 0;
	int fd;

	it_fmt(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	out[0] = '\0';
	*restarted = 0;
	for (p = buf; p < buf + got; p += strlen(p) + 1) {
		if (strncmp(p, "GLIBC_TUNABLES=", 15) == 0)
			it_fmt(out, outlen, "%s", p + 15);
		if (strncmp(p, "CONSENTD_MALLOC_RESTARTED=", 26) == 0)
			*restarted = 1;
	}
}

/* Restarts s with GLIBC_TUNABLES set to env (unset when NULL). */
static void
restart_with(struct it_server *s, const char *env)
{
	struct it_resp r;

	assert_int_equal(it_server_stop(s), 0);
	if (env != NULL)
		assert_int_equal(setenv("GLIBC_TUNABLES", env, 1), 0);
	else
		assert_int_equal(unsetenv("GLIBC_TUNABLES"), 0);
	assert_int_equal(it_server_start(s), 0);
	assert_int_equal(unsetenv("GLIBC_TUNABLES"), 0);
	assert_int_equal(it_get(s, NULL, NULL, "/healthz", &r), 200);
	it_resp_free(&r);
}

/*
 * consentd runs without glibc's per-thread malloc cache: started without
 * the setting, it starts itself again with it, in the same process (the
 * pid the harness started answers, and stops by it); a value the
 * environment sets is kept; other tunables stay.
 */
IT_TEST(consentd_runs_without_the_malloc_tcache_unless_told_otherwise)
{
	char t[1024];
	int restarted;

	restart_with(s, NULL);
	tunables_of(s->pid, t, sizeof(t), &restarted);
	assert_string_equal(t, "glibc.malloc.tcache_count=0");
	assert_int_equal(restarted, 1);
	assert_int_equal(it_server_log_count_run(s, "\"tcache_count\":0}"), 1);

	restart_with(s, "glibc.malloc.tcache_count=7");
	tunables_of(s->pid, t, sizeof(t), &restarted);
	assert_string_equal(t, "glibc.malloc.tcache_count=7");
	assert_int_equal(restarted, 0);
	assert_int_equal(it_server_log_count_run(s, "\"tcache_count\":7}"), 1);

	restart_with(s, "glibc.malloc.trim_threshold=262144");
	tunables_of(s->pid, t, sizeof(t), &restarted);
	/* glibc cuts the copy in /proc at its first ':' as it parses it;
	 * the log line reads the whole value. */
	assert_int_equal(strncmp(t, "glibc.malloc.trim_threshold=262144", 34),
	    0);
	assert_int_equal(restarted, 1);
	assert_int_equal(it_server_log_count_run(s, "\"tcache_count\":0}"), 1);

	restart_with(s, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthz_answers_200_ok),
		cmocka_unit_test(discovery_names_issuer_token_endpoint_and_jwks_uri),
		cmocka_unit_test(
		    jwks_has_one_p256_key_whose_kid_is_its_rfc7638_thumbprint),
		cmocka_unit_test(unknown_path_is_404_problem),
		cmocka_unit_test(wrong_method_is_405_with_allow),
		cmocka_unit_test(party_endpoint_without_client_certificate_is_401),
		cmocka_unit_test(party_certificate_from_another_ca_is_401_rejected),
		cmocka_unit_test(
		    party_certificate_from_dev_ca_but_unregistered_is_401),
		cmocka_unit_test(registered_party_certificate_is_accepted),
		cmocka_unit_test(citizen_endpoint_without_token_is_401),
		cmocka_unit_test(citizen_expired_token_is_401),
		cmocka_unit_test(
		    citizen_token_signed_by_a_key_not_the_issuers_is_401),
		cmocka_unit_test(
		    consentd_runs_without_the_malloc_tcache_unless_told_otherwise),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/basics",
	    tests, it_group_setup, it_group_teardown));
}
