/*
 * Fuzz target: the token and encoding layer every other parser stands on.
 * Each input goes through
 *  - jws_parse, jws_check_header (no typ, "at+jwt", "statuslist+jwt") and
 *    jws_verify_es256 with the broker's fixed key (keys/jws.h);
 *  - b64url_decode, b64_decode and hex_decode (common/b64.h), checking
 *    that decoding is strict: a value that decodes re-encodes to exactly
 *    the input ("every value has one encoding");
 *  - jsonu_parse and jsonu_canonical (common/jsonu.h), checking that the
 *    canonical form parses to a value with the same canonical form;
 *  - jwk_to_pkey (keys/jwk.h) when it is a JSON object;
 *  - when it is a JSON object within JWS_MAX_DEPTH: signed as the payload
 *    with jws_sign_es256, the token must parse back to an equal object,
 *    pass jws_check_header and verify.
 */
#include "fuzz.h"

#include <ctype.h>

#include "b64.h"
#include "fixtures.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"

static EVP_PKEY *key;
static char kid[JWK_B64_SHA256_LEN];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	key = fuzz_key(fx_broker_key_pem);
	FUZZ_INIT(key != NULL && jwk_thumbprint(key, kid) == 0);
	return 0;
}

static void
fuzz_token(const uint8_t *data, size_t size)
{
	struct jws_parsed p;
	char err[256];
	const char *d2;

	if (jws_parse((const char *)data, size, &p, err, sizeof(err)) !=
	    JWS_OK)
		return;
	FUZZ_CHECK(p.header != NULL && p.claims != NULL && p.alg != NULL);
	FUZZ_CHECK(json_is_object(p.header) && json_is_object(p.claims));
	FUZZ_CHECK(p.sig_len <= sizeof(p.sig));
	/* The signing input is the token up to its second dot. */
	d2 = memchr(data, '.', size);
	FUZZ_CHECK(d2 != NULL);
	d2 = memchr(d2 + 1, '.', size - (size_t)(d2 + 1 - (const char *)data));
	FUZZ_CHECK(d2 != NULL &&
	    p.signing_input_len == (size_t)(d2 - (const char *)data));
	FUZZ_CHECK(memcmp(p.signing_input, data, p.signing_input_len) == 0);
	(void)jws_check_header(&p, NULL, err, sizeof(err));
	(void)jws_check_header(&p, "at+jwt", err, sizeof(err));
	(void)jws_check_header(&p, "statuslist+jwt", err, sizeof(err));
	(void)jws_verify_es256(key, &p);
	jws_parsed_free(&p);
	jws_parsed_free(&p);   /* documented safe on a freed struct */
}

static void
fuzz_codecs(const uint8_t *data, size_t size)
{
	unsigned char *out = malloc(b64_decoded_max(size) + 1);
	char *enc;
	size_t n, i;

	if (out == NULL)
		return;
	if (b64url_decode((const char *)data, size, out, &n) == 0) {
		FUZZ_CHECK(n <= b64_decoded_max(size));
		FUZZ_CHECK(b64url_encoded_len(n) == size);
		enc = b64url_encode_alloc(out, n);
		FUZZ_CHECK(enc != NULL && memcmp(enc, data, size) == 0);
		free(enc);
	}
	if (b64_decode((const char *)data, size, out, &n) == 0) {
		FUZZ_CHECK(n <= b64_decoded_max(size));
		FUZZ_CHECK(b64_encoded_len(n) == size);
		enc = b64_encode_alloc(out, n);
		FUZZ_CHECK(enc != NULL && memcmp(enc, data, size) == 0);
		free(enc);
	}
	if (hex_decode((const char *)data, size, out, size / 2) == 0) {
		enc = malloc(size + 1);
		FUZZ_CHECK(enc != NULL);
		hex_encode(out, size / 2, enc);
		for (i = 0; i < size; i++)
			FUZZ_CHECK(enc[i] == tolower(data[i]));
		free(enc);
	}
	free(out);
}

/* Signs the object as a payload; the token must come back intact. */
static void
fuzz_sign(const uint8_t *data, size_t size, const json_t *v)
{
	struct jws_parsed p;
	char *tok = NULL, err[256];

	if (jws_sign_es256(key, kid, "at+jwt", (const char *)data, size,
	    &tok) != JWS_OK)
		return;   /* too long for a token: documented */
	FUZZ_CHECK(jws_parse(tok, strlen(tok), &p, err, sizeof(err)) ==
	    JWS_OK);
	FUZZ_CHECK(json_equal(p.claims, (json_t *)(uintptr_t)v));
	FUZZ_CHECK(p.kid != NULL && strcmp(p.kid, kid) == 0);
	FUZZ_CHECK(jws_check_header(&p, "application/AT+JWT", err,
	    sizeof(err)) == JWS_OK);
	FUZZ_CHECK(jws_verify_es256(key, &p) == JWS_OK);
	jws_parsed_free(&p);
	free(tok);
}

static void
fuzz_json(const uint8_t *data, size_t size)
{
	json_t *v, *v2, *v8;
	char *c, *c2, err[256], hex[65];
	EVP_PKEY *k;

	v = jsonu_parse((const char *)data, size, JSONU_MAX_DEPTH, err,
	    sizeof(err));
	if (v == NULL)
		return;
	c = jsonu_canonical(v);
	if (c != NULL) {
		v2 = jsonu_parse(c, strlen(c), JSONU_MAX_DEPTH, err,
		    sizeof(err));
		FUZZ_CHECK(v2 != NULL);
		FUZZ_CHECK(json_equal(v, v2));
		c2 = jsonu_canonical(v2);
		FUZZ_CHECK(c2 != NULL && strcmp(c, c2) == 0);
		FUZZ_CHECK(jsonu_canonical_sha256_hex(v2, hex) == 0);
		free(c2);
		json_decref(v2);
	}
	free(c);
	if (json_is_object(v)) {
		k = jwk_to_pkey(v, err, sizeof(err));
		EVP_PKEY_free(k);
		v8 = jsonu_parse((const char *)data, size, JWS_MAX_DEPTH, err,
		    sizeof(err));
		if (v8 != NULL)
			fuzz_sign(data, size, v8);
		json_decref(v8);
	}
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_token(data, size);
	fuzz_codecs(data, size);
	fuzz_json(data, size);
	return 0;
}
