/* EC P-256 JWKs, RFC 7638 thumbprints and certificate hashes on OpenSSL 3. */
#include "jwk.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "b64.h"
#include "jsonu.h"

/* Bytes of a P-256 field element (x, y). */
#define P256_COORD 32

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
jwk_is_p256(EVP_PKEY *pkey)
{
	char group[64];
	size_t glen = 0;

	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC"))
		return 0;
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
	    group, sizeof(group), &glen) != 1) {
		ERR_clear_error();
		return 0;
	}
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* x and y of a P-256 key as base64url of 32 bytes each (43 chars + NUL). */
static int
get_xy_b64(EVP_PKEY *pkey, char x64[44], char y64[44])
{
	unsigned char x[P256_COORD], y[P256_COORD];
	BIGNUM *bx = NULL, *by = NULL;
	int ret = -1;

	if (!jwk_is_p256(pkey))
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1)
		goto out;
	if (BN_bn2binpad(bx, x, sizeof(x)) != P256_COORD ||
	    BN_bn2binpad(by, y, sizeof(y)) != P256_COORD)
		goto out;
	b64url_encode(x, sizeof(x), x64);
	b64url_encode(y, sizeof(y), y64);
	ret = 0;
out:
	BN_free(bx);
	BN_free(by);
	ERR_clear_error();
	return ret;
}

json_t *
jwk_from_pkey(EVP_PKEY *pkey, const char *kid)
{
	char x64[44], y64[44];

	if (get_xy_b64(pkey, x64, y64) != 0)
		return NULL;
	if (kid == NULL)
		return json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
		    "P-256", "x", x64, "y", y64);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
	    "P-256", "x", x64, "y", y64, "kid", kid, "use", "sig", "alg",
	    "ES256");
}

int
jwk_thumbprint(EVP_PKEY *pkey, char out[JWK_B64_SHA256_LEN])
{
	char x64[44], y64[44], doc[160];
	unsigned char md[32];
	unsigned int mdlen = 0;
	int n;

	if (get_xy_b64(pkey, x64, y64) != 0)
		return -1;
	/* RFC 7638 section 3.2: required members, lexical order, no spaces. */
	n = snprintf(doc, sizeof(doc),
	    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x64,
	    y64);
	if (n < 0 || (size_t)n >= sizeof(doc))
		return -1;
	if (EVP_Digest(doc, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		return -1;
	b64url_encode(md, sizeof(md), out);
	return 0;
}

/* Decodes member key of jwk as base64url of exactly 32 bytes. */
static int
get_coord(const json_t *jwk, const char *key, unsigned char out[P256_COORD],
    char *err, size_t errlen)
{
	unsigned char buf[P256_COORD + 3];
	const char *s = NULL;
	size_t len, outlen = 0;

	if (jsonu_get_str(jwk, key, &s) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: missing or not a string", key);
		return -1;
	}
	len = strlen(s);
	if (len != 43 || b64url_decode(s, len, buf, &outlen) != 0 ||
	    outlen != P256_COORD) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "%s: not base64url of 32 bytes", key);
		return -1;
	}
	memcpy(out, buf, P256_COORD);
	return 0;
}

EVP_PKEY *
jwk_to_pkey(const json_t *jwk, char *err, size_t errlen)
{
	unsigned char point[1 + 2 * P256_COORD];
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *cctx = NULL;
	EVP_PKEY *pkey = NULL, *ret = NULL;
	const char *s = NULL;

	if (!json_is_object(jwk)) {
		set_err(err, errlen, "JWK is not an object");
		goto out;
	}
	if (jsonu_get_str(jwk, "kty", &s) != 0 || strcmp(s, "EC") != 0) {
		set_err(err, errlen, "kty: must be \"EC\"");
		goto out;
	}
	if (jsonu_get_str(jwk, "crv", &s) != 0 || strcmp(s, "P-256") != 0) {
		set_err(err, errlen, "crv: must be \"P-256\"");
		goto out;
	}
	/* A key published for another use or algorithm must not verify ES256. */
	switch (jsonu_get_str(jwk, "alg", &s)) {
	case 1:
		break;
	case 0:
		if (strcmp(s, "ES256") == 0)
			break;
		/* FALLTHROUGH */
	default:
		set_err(err, errlen, "alg: must be \"ES256\" when present");
		goto out;
	}
	switch (jsonu_get_str(jwk, "use", &s)) {
	case 1:
		break;
	case 0:
		if (strcmp(s, "sig") == 0)
			break;
		/* FALLTHROUGH */
	default:
		set_err(err, errlen, "use: must be \"sig\" when present");
		goto out;
	}
	point[0] = 0x04; /* uncompressed, SEC 1 section 2.3.3 */
	if (get_coord(jwk, "x", point + 1, err, errlen) != 0 ||
	    get_coord(jwk, "y", point + 1 + P256_COORD, err, errlen) != 0)
		goto out;

	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    point, sizeof(point)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		set_err(err, errlen, "out of memory or OpenSSL failure");
		goto out;
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		set_err(err, errlen, "x, y: not a point on P-256");
		goto out;
	}
	/* fromdata already decodes the point on the curve; check it all. */
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(cctx) != 1) {
		set_err(err, errlen, "x, y: not a valid P-256 public key");
		goto out;
	}
	ret = pkey;
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	ERR_clear_error();
	return ret;
}

int
jwk_x5t_s256(X509 *cert, char out[JWK_B64_SHA256_LEN])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	/* X509_digest hashes the DER of the whole certificate. */
	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != sizeof(md)) {
		ERR_clear_error();
		return -1;
	}
	b64url_encode(md, sizeof(md), out);
	return 0;
}

int
jwk_spki_pin_hex(X509 *cert, char out[65])
{
	unsigned char md[32], *der = NULL;
	unsigned int mdlen = 0;
	int len, ret = -1;

	/*
	 * Not X509_pubkey_digest, which hashes only the key's BIT STRING:
	 * the pin covers the whole SubjectPublicKeyInfo, as in RFC 7469.
	 */
	if (cert == NULL ||
	    (len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der)) <= 0)
		goto out;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		goto out;
	hex_encode(md, sizeof(md), out);
	ret = 0;
out:
	OPENSSL_free(der);
	ERR_clear_error();
	return ret;
}
