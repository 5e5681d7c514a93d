/* Unit tests for keys/jwk: P-256 JWKs, RFC 7638 thumbprints, certificate hashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>

#include "b64.h"
#include "jsonu.h"
#include "jwk.h"
#include "pki.h"

/* The public key of RFC 7515 appendix A.3. */
#define RFC_X "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define RFC_Y "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"

/*
 * Expected values computed independently with Python (hashlib, base64 and
 * the cryptography package), not with this code:
 *   thumbprint: base64url(sha256(b'{"crv":"P-256","kty":"EC","x":"' + X +
 *               '","y":"' + Y + '"}')), padding stripped;
 *   pin:        sha256(DER SubjectPublicKeyInfo of (X, Y)).hexdigest().
 */
#define RFC_THUMBPRINT "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
#define RFC_SPKI_PIN \
	"2bd1bb0c44a897c30a7aa0991cde38d8062fe441de50da0f46825344f602e827"

static json_t *
ec_jwk(const char *crv, const char *x, const char *y)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", crv,
	    "x", x, "y", y);

	assert_non_null(j);
	return j;
}

static EVP_PKEY *
rfc_key(void)
{
	json_t *j = ec_jwk("P-256", RFC_X, RFC_Y);
	char err[128];
	EVP_PKEY *k = jwk_to_pkey(j, err, sizeof(err));

	if (k == NULL)
		fail_msg("%s", err);
	json_decref(j);
	return k;
}

static void
jwk_thumbprint_matches_independent_value(void **state)
{
	EVP_PKEY *k = rfc_key();
	char tp[JWK_B64_SHA256_LEN];

	(void)state;
	assert_int_equal(jwk_thumbprint(k, tp), 0);
	assert_string_equal(tp, RFC_THUMBPRINT);
	EVP_PKEY_free(k);
}

static void
jwk_from_pkey_writes_rfc7518_members(void **state)
{
	EVP_PKEY *k = rfc_key();
	json_t *j;
	const char *s;

	(void)state;
	j = jwk_from_pkey(k, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 4);
	assert_int_equal(jsonu_get_str(j, "kty", &s), 0);
	assert_string_equal(s, "EC");
	assert_int_equal(jsonu_get_str(j, "crv", &s), 0);
	assert_string_equal(s, "P-256");
	assert_int_equal(jsonu_get_str(j, "x", &s), 0);
	assert_string_equal(s, RFC_X);
	assert_int_equal(jsonu_get_str(j, "y", &s), 0);
	assert_string_equal(s, RFC_Y);
	json_decref(j);

	j = jwk_from_pkey(k, "kid-9");
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 7);
	assert_int_equal(jsonu_get_str(j, "kid", &s), 0);
	assert_string_equal(s, "kid-9");
	assert_int_equal(jsonu_get_str(j, "use", &s), 0);
	assert_string_equal(s, "sig");
	assert_int_equal(jsonu_get_str(j, "alg", &s), 0);
	assert_string_equal(s, "ES256");
	json_decref(j);
	EVP_PKEY_free(k);
}

/*
 * Many keys, so that coordinates with leading zero bytes (1 in 256 per
 * coordinate) occur and their padding to 32 bytes is exercised.
 */
static void
jwk_to_pkey_of_jwk_from_pkey_roundtrips(void **state)
{
	char err[128], tp1[JWK_B64_SHA256_LEN], tp2[JWK_B64_SHA256_LEN];
	EVP_PKEY *k, *back;
	json_t *j;
	const char *x, *y;
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		k = pki_gen_p256();
		assert_non_null(k);
		j = jwk_from_pkey(k, "kid");
		assert_non_null(j);
		assert_int_equal(jsonu_get_str(j, "x", &x), 0);
		assert_int_equal(jsonu_get_str(j, "y", &y), 0);
		assert_int_equal(strlen(x), 43);
		assert_int_equal(strlen(y), 43);
		back = jwk_to_pkey(j, err, sizeof(err));
		if (back == NULL)
			fail_msg("%s", err);
		assert_int_equal(EVP_PKEY_eq(k, back), 1);
		assert_int_equal(jwk_thumbprint(k, tp1), 0);
		assert_int_equal(jwk_thumbprint(back, tp2), 0);
		assert_string_equal(tp1, tp2);
		EVP_PKEY_free(back);
		json_decref(j);
		EVP_PKEY_free(k);
	}
}

static void
jwk_to_pkey_ignores_private_members(void **state)
{
	json_t *j = ec_jwk("P-256", RFC_X, RFC_Y);
	BIGNUM *d = NULL;
	EVP_PKEY *k;
	char err[128];

	(void)state;
	json_object_set_new(j, "d",
	    json_string("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"));
	k = jwk_to_pkey(j, err, sizeof(err));
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d),
	    0);
	assert_null(d);
	EVP_PKEY_free(k);
	json_decref(j);
}

static void
jwk_to_pkey_rejects_off_curve_points(void **state)
{
	/* y + 1, and (0, 0), and coordinates >= p. */
	static const char *const xy[][2] = {
		{ RFC_X, "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4" },
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
		{ "__________________________________________8",
		    "__________________________________________8" },
		{ RFC_Y, RFC_X },
	};
	char err[128];
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(xy) / sizeof(xy[0]); i++) {
		j = ec_jwk("P-256", xy[i][0], xy[i][1]);
		err[0] = '\0';
		assert_null(jwk_to_pkey(j, err, sizeof(err)));
		assert_non_null(strstr(err, "x, y"));
		json_decref(j);
	}
}

static void
jwk_to_pkey_rejects_wrong_kty_and_crv(void **state)
{
	static const char *const crvs[] = { "P-384", "P-521", "secp256k1",
		"p-256", "prime256v1", "" };
	char err[128];
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(crvs) / sizeof(crvs[0]); i++) {
		j = ec_jwk(crvs[i], RFC_X, RFC_Y);
		assert_null(jwk_to_pkey(j, err, sizeof(err)));
		assert_non_null(strstr(err, "crv"));
		json_decref(j);
	}
	j = ec_jwk("P-256", RFC_X, RFC_Y);
	json_object_set_new(j, "kty", json_string("RSA"));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_object_set_new(j, "kty", json_integer(1));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_object_del(j, "kty");
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_decref(j);
	j = json_array();
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_decref(j);
}

static void
jwk_to_pkey_rejects_short_long_and_loose_coordinates(void **state)
{
	static const char *const xs[] = {
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE",   /* 42 chars */
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVA",   /* 31 bytes */
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEUA", /* 44 chars */
		"AGf83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", /* 33 bytes */
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=", /* padded */
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEV",  /* spare bits */
		"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE+",  /* std alphabet */
		"",
	};
	char err[128];
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		j = ec_jwk("P-256", xs[i], RFC_Y);
		err[0] = '\0';
		if (jwk_to_pkey(j, err, sizeof(err)) != NULL)
			fail_msg("accepted x = \"%s\"", xs[i]);
		assert_non_null(strstr(err, "x:"));
		json_decref(j);
	}
	j = ec_jwk("P-256", RFC_X, RFC_Y);
	json_object_set_new(j, "y", json_integer(5));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	assert_non_null(strstr(err, "y:"));
	json_object_del(j, "y");
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_decref(j);
}

static void
jwk_to_pkey_rejects_other_alg_or_use(void **state)
{
	char err[128];
	json_t *j = ec_jwk("P-256", RFC_X, RFC_Y);
	EVP_PKEY *k;

	(void)state;
	json_object_set_new(j, "alg", json_string("ES256"));
	json_object_set_new(j, "use", json_string("sig"));
	k = jwk_to_pkey(j, err, sizeof(err));
	assert_non_null(k);
	EVP_PKEY_free(k);
	json_object_set_new(j, "alg", json_string("ES384"));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_object_set_new(j, "alg", json_integer(0));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_object_set_new(j, "alg", json_string("ES256"));
	json_object_set_new(j, "use", json_string("enc"));
	assert_null(jwk_to_pkey(j, err, sizeof(err)));
	json_decref(j);
}

static void
jwk_functions_refuse_keys_that_are_not_p256(void **state)
{
	EVP_PKEY *ed = pki_gen_ed25519();
	char tp[JWK_B64_SHA256_LEN];

	(void)state;
	assert_non_null(ed);
	assert_int_equal(jwk_is_p256(ed), 0);
	assert_null(jwk_from_pkey(ed, NULL));
	assert_int_equal(jwk_thumbprint(ed, tp), -1);
	EVP_PKEY_free(ed);
	assert_int_equal(jwk_is_p256(NULL), 0);
}

static void
jwk_spki_pin_matches_independent_value(void **state)
{
	EVP_PKEY *ca_key = pki_gen_p256(), *pub = rfc_key();
	X509 *ca, *cert;
	char pin[65];

	(void)state;
	assert_non_null(ca_key);
	ca = pki_make_ca(ca_key, "Test CA", 1);
	assert_non_null(ca);
	/* A certificate for the RFC public key, whose pin Python computed. */
	cert = pki_make_cert(ca, ca_key, pub, "party", 0, NULL, NULL, 1);
	assert_non_null(cert);
	assert_int_equal(jwk_spki_pin_hex(cert, pin), 0);
	assert_string_equal(pin, RFC_SPKI_PIN);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ca_key);
}

static void
jwk_x5t_s256_hashes_the_certificate_der(void **state)
{
	EVP_PKEY *key = pki_gen_p256();
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	char want[JWK_B64_SHA256_LEN], got[JWK_B64_SHA256_LEN];
	X509 *ca;
	int len;

	(void)state;
	assert_non_null(key);
	ca = pki_make_ca(key, "Test CA", 1);
	assert_non_null(ca);
	len = i2d_X509(ca, &der);
	assert_true(len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(),
	    NULL), 1);
	b64url_encode(md, sizeof(md), want);
	assert_int_equal(jwk_x5t_s256(ca, got), 0);
	assert_string_equal(got, want);
	assert_int_equal(strlen(got), 43);
	OPENSSL_free(der);
	X509_free(ca);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jwk_thumbprint_matches_independent_value),
		cmocka_unit_test(jwk_from_pkey_writes_rfc7518_members),
		cmocka_unit_test(jwk_to_pkey_of_jwk_from_pkey_roundtrips),
		cmocka_unit_test(jwk_to_pkey_ignores_private_members),
		cmocka_unit_test(jwk_to_pkey_rejects_off_curve_points),
		cmocka_unit_test(jwk_to_pkey_rejects_wrong_kty_and_crv),
		cmocka_unit_test(jwk_to_pkey_rejects_short_long_and_loose_coordinates),
		cmocka_unit_test(jwk_to_pkey_rejects_other_alg_or_use),
		cmocka_unit_test(jwk_functions_refuse_keys_that_are_not_p256),
		cmocka_unit_test(jwk_spki_pin_matches_independent_value),
		cmocka_unit_test(jwk_x5t_s256_hashes_the_certificate_der),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
