/* Unit tests for keys/jws: ES256 compact JWS, strict parsing, libjwt interop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "b64.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

struct fixture {
	EVP_PKEY *key;    /* the signing key */
	EVP_PKEY *other;  /* an unrelated P-256 key */
	char *priv_pem;   /* key as PKCS#8 PEM, for libjwt */
	int priv_len;
	char *pub_pem;    /* key's SubjectPublicKeyInfo PEM, for libjwt */
	int pub_len;
};

static const char claims[] = "{\"iss\":\"https://broker.example\","
    "\"sub\":\"citizen-1\",\"aud\":\"provider-1\",\"exp\":1795375100}";

static char *
bio_to_string(BIO *bio, int *len)
{
	BUF_MEM *mem = NULL;
	char *s;

	BIO_get_mem_ptr(bio, &mem);
	if (mem == NULL || (s = malloc(mem->length + 1)) == NULL)
		return NULL;
	memcpy(s, mem->data, mem->length);
	s[mem->length] = '\0';
	*len = (int)mem->length;
	return s;
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	BIO *bio;

	if (f == NULL)
		return -1;
	f->key = pki_gen_p256();
	f->other = pki_gen_p256();
	if (f->key == NULL || f->other == NULL)
		return -1;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, f->key, NULL, NULL, 0,
	    NULL, NULL) != 1)
		return -1;
	f->priv_pem = bio_to_string(bio, &f->priv_len);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, f->key) != 1)
		return -1;
	f->pub_pem = bio_to_string(bio, &f->pub_len);
	BIO_free(bio);
	if (f->priv_pem == NULL || f->pub_pem == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	EVP_PKEY_free(f->key);
	EVP_PKEY_free(f->other);
	if (f->priv_pem != NULL)
		OPENSSL_cleanse(f->priv_pem, (size_t)f->priv_len);
	free(f->priv_pem);
	free(f->pub_pem);
	free(f);
	return 0;
}

static char *
sign(EVP_PKEY *key, const char *kid, const char *typ, const char *payload)
{
	char *tok = NULL;

	assert_int_equal(jws_sign_es256(key, kid, typ, payload,
	    strlen(payload), &tok), JWS_OK);
	assert_non_null(tok);
	return tok;
}

static enum jws_err
parse(const char *tok, struct jws_parsed *p)
{
	char err[256];

	return jws_parse(tok, strlen(tok), p, err, sizeof(err));
}

/* parse + check_header(typ) + verify, the order a caller uses. */
static enum jws_err
check_all(EVP_PKEY *pub, const char *tok, const char *typ)
{
	struct jws_parsed p;
	char err[256];
	enum jws_err e;

	if ((e = jws_parse(tok, strlen(tok), &p, err, sizeof(err))) != JWS_OK)
		return e;
	if ((e = jws_check_header(&p, typ, err, sizeof(err))) == JWS_OK)
		e = jws_verify_es256(pub, &p);
	jws_parsed_free(&p);
	return e;
}

/* "<b64url(header)>.<b64url(payload)>.<sig>" as a new string. */
static char *
assemble(const char *header, const char *payload, const char *sig64)
{
	char *h = b64url_encode_alloc((const unsigned char *)header,
	    strlen(header));
	char *p = b64url_encode_alloc((const unsigned char *)payload,
	    strlen(payload));
	size_t n = strlen(h) + strlen(p) + strlen(sig64) + 3;
	char *t = malloc(n);

	assert_non_null(t);
	assert_int_equal(snprintf(t, n, "%s.%s.%s", h, p, sig64), (int)n - 1);
	free(h);
	free(p);
	return t;
}

/* A pointer to the n-th '.'-separated part of tok (0-based). */
static const char *
part(const char *tok, int n)
{
	while (n-- > 0)
		tok = strchr(tok, '.') + 1;
	return tok;
}

static void
jws_sign_parse_verify_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok = sign(f->key, "kid-1", "at+jwt", claims);
	const char *sub = NULL;

	assert_int_equal(parse(tok, &p), JWS_OK);
	assert_string_equal(p.alg, "ES256");
	assert_string_equal(p.typ, "at+jwt");
	assert_string_equal(p.kid, "kid-1");
	assert_int_equal(jsonu_get_str(p.claims, "sub", &sub), 0);
	assert_string_equal(sub, "citizen-1");
	assert_int_equal(p.sig_len, 64);
	assert_int_equal(p.signing_input_len,
	    (size_t)(strrchr(tok, '.') - tok));
	assert_memory_equal(p.signing_input, tok, p.signing_input_len);
	assert_int_equal(jws_check_header(&p, "at+jwt", NULL, 0), JWS_OK);
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_OK);
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_header_is_serialized_exactly(void **state)
{
	struct fixture *f = *state;
	unsigned char buf[256];
	size_t n;
	char *tok;

	tok = sign(f->key, "kid-1", "at+jwt", claims);
	assert_int_equal(b64url_decode(tok, (size_t)(strchr(tok, '.') - tok),
	    buf, &n), 0);
	assert_int_equal(n, strlen("{\"alg\":\"ES256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"kid-1\"}"));
	assert_memory_equal(buf, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"kid-1\"}", n);
	free(tok);

	tok = sign(f->key, "kid-1", NULL, claims);
	assert_int_equal(b64url_decode(tok, (size_t)(strchr(tok, '.') - tok),
	    buf, &n), 0);
	assert_int_equal(n, strlen("{\"alg\":\"ES256\",\"kid\":\"kid-1\"}"));
	assert_memory_equal(buf, "{\"alg\":\"ES256\",\"kid\":\"kid-1\"}", n);
	free(tok);
}

static void
jws_payload_is_signed_as_given(void **state)
{
	struct fixture *f = *state;
	static const char odd[] = "{ \"b\" : 1,\n \"a\" : \"\xc3\xa9\" }";
	unsigned char buf[64];
	const char *p1 = NULL, *p2;
	size_t n;
	char *tok = sign(f->key, "k", "JWT", odd);

	p1 = part(tok, 1);
	p2 = part(tok, 2);
	assert_int_equal(b64url_decode(p1, (size_t)(p2 - 1 - p1), buf, &n), 0);
	assert_int_equal(n, strlen(odd));
	assert_memory_equal(buf, odd, n);
	assert_int_equal(check_all(f->key, tok, "JWT"), JWS_OK);
	free(tok);
}

static void
jws_tampered_payload_is_rejected(void **state)
{
	struct fixture *f = *state;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	char *forged;
	size_t n;

	/* The original header and signature on other claims. */
	forged = assemble("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k\"}",
	    "{\"iss\":\"https://broker.example\",\"sub\":\"citizen-2\","
	    "\"aud\":\"provider-1\",\"exp\":1795375100}", part(tok, 2));
	assert_int_equal(check_all(f->key, forged, "at+jwt"),
	    JWS_BAD_SIGNATURE);
	free(forged);

	/*
	 * Each payload character in turn changed to another base64url one:
	 * some make bad JSON (malformed), the rest a bad signature.
	 */
	forged = strdup(tok);
	assert_non_null(forged);
	for (n = (size_t)(part(forged, 1) - forged);
	    forged[n + 1] != '.'; n++) {
		char c = forged[n];

		forged[n] = c == 'e' ? 'f' : 'e';
		assert_int_not_equal(check_all(f->key, forged, NULL), JWS_OK);
		forged[n] = c;
	}
	assert_int_equal(check_all(f->key, forged, NULL), JWS_OK);
	free(forged);
	free(tok);
}

static void
jws_tampered_header_is_rejected(void **state)
{
	struct fixture *f = *state;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	char *forged;

	forged = assemble("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"j\"}",
	    claims, part(tok, 2));
	assert_int_equal(check_all(f->key, forged, "at+jwt"),
	    JWS_BAD_SIGNATURE);
	free(forged);
	free(tok);
}

static void
jws_tampered_signature_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	size_t i;

	assert_int_equal(parse(tok, &p), JWS_OK);
	for (i = 0; i < 64; i += 9) {
		p.sig[i] ^= 0x01;
		assert_int_equal(jws_verify_es256(f->key, &p),
		    JWS_BAD_SIGNATURE);
		p.sig[i] ^= 0x01;
	}
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_OK);
	/* Swapping r and s does not verify either. */
	{
		unsigned char tmp[32];

		memcpy(tmp, p.sig, 32);
		memcpy(p.sig, p.sig + 32, 32);
		memcpy(p.sig + 32, tmp, 32);
		assert_int_equal(jws_verify_es256(f->key, &p),
		    JWS_BAD_SIGNATURE);
	}
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_signature_of_wrong_size_or_zero_is_rejected(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok = sign(f->key, "k", "at+jwt", claims);

	assert_int_equal(parse(tok, &p), JWS_OK);
	p.sig_len = 63;
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	p.sig_len = 65;
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	p.sig_len = 0;
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	p.sig_len = 64;
	memset(p.sig, 0, 64);
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	memset(p.sig, 0xff, 64);
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_der_signature_is_not_accepted_as_es256(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	unsigned char der[80], *q = der;
	ECDSA_SIG *s;
	BIGNUM *r, *sv;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	int len;

	/* The same r and s in DER (RFC 7518 section 3.4 forbids it). */
	assert_int_equal(parse(tok, &p), JWS_OK);
	s = ECDSA_SIG_new();
	r = BN_bin2bn(p.sig, 32, NULL);
	sv = BN_bin2bn(p.sig + 32, 32, NULL);
	assert_int_equal(ECDSA_SIG_set0(s, r, sv), 1);
	len = i2d_ECDSA_SIG(s, &q);
	ECDSA_SIG_free(s);
	assert_true(len > 0 && len <= (int)sizeof(p.sig));
	memcpy(p.sig, der, (size_t)len);
	p.sig_len = (size_t)len;
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_verify_with_another_key_fails(void **state)
{
	struct fixture *f = *state;
	char *tok = sign(f->key, "k", "at+jwt", claims);

	assert_int_equal(check_all(f->other, tok, "at+jwt"), JWS_BAD_SIGNATURE);
	free(tok);
}

static void
jws_alg_none_and_hs256_are_bad_alg(void **state)
{
	static const char *const hdrs[] = { "{\"alg\":\"none\"}",
		"{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}", "{\"alg\":\"es256\"}",
		"{\"alg\":\"ES384\"}", "{\"alg\":\"RS256\"}", "{\"alg\":\"\"}",
		"{\"alg\":\"ES256 \"}" };
	struct fixture *f = *state;
	struct jws_parsed p;
	char err[128] = "";
	char *tok;
	size_t i;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		/* Unsigned (empty signature) and with some signature bytes. */
		tok = assemble(hdrs[i], claims, "");
		assert_int_equal(parse(tok, &p), JWS_OK);
		assert_int_equal(jws_check_header(&p, NULL, err, sizeof(err)),
		    JWS_BAD_ALG);
		assert_int_equal(jws_verify_es256(f->key, &p),
		    JWS_BAD_SIGNATURE);
		jws_parsed_free(&p);
		free(tok);
		tok = assemble(hdrs[i], claims, "c2lnbmF0dXJl");
		assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_BAD_ALG);
		free(tok);
	}
	assert_non_null(strstr(err, "is not ES256"));
}

static void
jws_alg_kid_typ_of_wrong_type_are_malformed(void **state)
{
	static const char *const hdrs[] = { "{}", "{\"typ\":\"JWT\"}",
		"{\"alg\":256}", "{\"alg\":null}", "{\"alg\":[\"ES256\"]}",
		"{\"alg\":\"ES256\",\"kid\":1}", "{\"alg\":\"ES256\",\"kid\":null}",
		"{\"alg\":\"ES256\",\"typ\":{}}",
		"{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}" };
	struct jws_parsed p;
	char *tok;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		tok = assemble(hdrs[i], claims, "AAAA");
		if (parse(tok, &p) != JWS_MALFORMED)
			fail_msg("accepted header %s", hdrs[i]);
		free(tok);
	}
}

static void
jws_wrong_typ_is_bad_typ(void **state)
{
	struct fixture *f = *state;
	char *tok;

	tok = sign(f->key, "k", "JWT", claims);
	assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_BAD_TYP);
	free(tok);
	tok = sign(f->key, "k", NULL, claims);
	assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_BAD_TYP);
	free(tok);
	tok = sign(f->key, "k", "application/at+jwt+x", claims);
	assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_BAD_TYP);
	free(tok);
	tok = sign(f->key, "k", "text/at+jwt", claims);
	assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_BAD_TYP);
	free(tok);
}

static void
jws_typ_matches_case_insensitively_and_with_application_prefix(void **state)
{
	struct fixture *f = *state;
	static const char *const same[] = { "at+jwt", "AT+JWT", "At+Jwt",
		"application/at+jwt", "Application/AT+JWT" };
	char *tok;
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		tok = sign(f->key, "k", same[i], claims);
		assert_int_equal(check_all(f->key, tok, "at+jwt"), JWS_OK);
		assert_int_equal(check_all(f->key, tok, "application/at+jwt"),
		    JWS_OK);
		free(tok);
	}
	/* With no typ wanted, any typ (or none) passes. */
	tok = sign(f->key, "k", "whatever", claims);
	assert_int_equal(check_all(f->key, tok, NULL), JWS_OK);
	free(tok);
}

static void
jws_parse_rejects_wrong_number_of_parts(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	char buf[1024];

	assert_true(strlen(tok) + 8 < sizeof(buf));
	snprintf(buf, sizeof(buf), "%s.", tok);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%s.AAAA", tok);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%.*s", (int)(part(tok, 2) - 1 - tok), tok);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%.*s", (int)(part(tok, 1) - 1 - tok), tok);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	assert_int_equal(parse("", &p), JWS_MALFORMED);
	assert_int_equal(parse("..", &p), JWS_MALFORMED);
	assert_int_equal(parse(".", &p), JWS_MALFORMED);
	free(tok);
}

static void
jws_parse_rejects_truncated_padded_and_noncanonical_base64url(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	size_t len = strlen(tok), hlen = (size_t)(part(tok, 1) - 1 - tok);
	char buf[1024], *q;

	assert_true(len + 8 < sizeof(buf));
	/* Signature truncated by one and two characters. */
	assert_int_equal(jws_parse(tok, len - 1, &p, NULL, 0), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%.*s", (int)(len - 2), tok);
	assert_int_equal(parse(buf, &p), JWS_OK);
	assert_int_equal(p.sig_len, 63);
	assert_int_equal(jws_verify_es256(f->key, &p), JWS_BAD_SIGNATURE);
	jws_parsed_free(&p);
	/* Padding on the signature, and on the header. */
	snprintf(buf, sizeof(buf), "%s=", tok);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%.*s=%s", (int)hlen, tok, tok + hlen);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	/* Standard alphabet instead of base64url. */
	snprintf(buf, sizeof(buf), "%s", tok);
	q = strrchr(buf, '.') + 3;
	*q = '+';
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	/*
	 * Non-canonical: the last signature character (86 chars = 64 bytes
	 * + 4 spare bits) with a non-zero spare bit.
	 */
	snprintf(buf, sizeof(buf), "%s", tok);
	q = buf + len - 1;
	*q = *q == 'A' ? 'B' : (char)(*q ^ 0x01);
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	/* Whitespace and a NUL inside the given length. */
	snprintf(buf, sizeof(buf), "%s", tok);
	buf[hlen + 3] = ' ';
	assert_int_equal(parse(buf, &p), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%s", tok);
	buf[5] = '\0';
	assert_int_equal(jws_parse(buf, len, &p, NULL, 0), JWS_MALFORMED);
	free(tok);
}

static void
jws_parse_rejects_bad_json_parts(void **state)
{
	static const char *const pairs[][2] = {
		{ "{\"alg\":\"ES256\",\"alg\":\"none\"}", "{}" },
		{ "{\"alg\":\"ES256\"}", "{\"sub\":\"a\",\"sub\":\"b\"}" },
		{ "[\"ES256\"]", "{}" },
		{ "{\"alg\":\"ES256\"}", "[]" },
		{ "{\"alg\":\"ES256\"}", "\"claims\"" },
		{ "{\"alg\":\"ES256\"}", "" },
		{ "{\"alg\":\"ES256\"}", "{} {}" },
		{ "{\"alg\":\"ES256\"}", "{\"a\":1,}" },
		{ "{\"alg\":\"ES256\"}",
		    "{\"a\":[[[[[[[[\"nine levels\"]]]]]]]]}" },
	};
	struct jws_parsed p;
	char *tok, err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		tok = assemble(pairs[i][0], pairs[i][1], "AAAA");
		if (jws_parse(tok, strlen(tok), &p, err, sizeof(err)) !=
		    JWS_MALFORMED)
			fail_msg("accepted %s . %s", pairs[i][0], pairs[i][1]);
		free(tok);
	}
	/* Eight levels (JWS_MAX_DEPTH) are fine. */
	tok = assemble("{\"alg\":\"ES256\"}",
	    "{\"a\":[[[[[[[\"eight levels\"]]]]]]]}", "AAAA");
	assert_int_equal(parse(tok, &p), JWS_OK);
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_parse_rejects_tokens_longer_than_max(void **state)
{
	struct jws_parsed p;
	char *big, *tok;
	size_t n = JWS_MAX_TOKEN;

	(void)state;
	big = malloc(n + 16);
	assert_non_null(big);
	memcpy(big, "{\"a\":\"", 6);
	memset(big + 6, 'x', n);
	memcpy(big + 6 + n, "\"}", 3);
	tok = assemble("{\"alg\":\"ES256\"}", big, "AAAA");
	assert_true(strlen(tok) > JWS_MAX_TOKEN);
	assert_int_equal(parse(tok, &p), JWS_MALFORMED);
	free(tok);
	free(big);
}

/* jws_split of tok; the result and err. */
static enum jws_err
split(const char *tok, size_t len, struct jws_split *sp, char *err,
    size_t errlen)
{
	err[0] = '\0';
	return jws_split(tok, len, sp, err, errlen);
}

static void
jws_split_decodes_what_parse_does(void **state)
{
	struct fixture *f = *state;
	struct jws_split *sp = malloc(sizeof(*sp));
	struct jws_parsed p;
	char *tok = sign(f->key, "kid-1", "at+jwt", claims), err[256];
	const char *hdr = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"kid-1\"}";
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	size_t len = strlen(tok);

	assert_non_null(sp);
	assert_non_null(md);
	assert_int_equal(split(tok, len, sp, err, sizeof(err)), JWS_OK);
	assert_int_equal(parse(tok, &p), JWS_OK);
	assert_int_equal(sp->header_len, strlen(hdr));
	assert_memory_equal(sp->header, hdr, sp->header_len);
	assert_int_equal(sp->claims_len, strlen(claims));
	assert_memory_equal(sp->claims, claims, sp->claims_len);
	assert_true(sp->signing_input == tok);
	assert_int_equal(sp->signing_input_len, p.signing_input_len);
	assert_int_equal(sp->sig_len, 64);
	assert_memory_equal(sp->sig, p.sig, 64);
	assert_int_equal(jws_verify_es256_split(f->key, md, sp), JWS_OK);
	assert_int_equal(jws_verify_es256_split(f->key, NULL, sp), JWS_OK);
	assert_int_equal(jws_verify_es256_split(f->other, md, sp),
	    JWS_BAD_SIGNATURE);
	assert_int_equal(jws_verify_es256_split(f->key, md, NULL),
	    JWS_BAD_SIGNATURE);
	sp->sig[10] ^= 1;
	assert_int_equal(jws_verify_es256_split(f->key, md, sp),
	    JWS_BAD_SIGNATURE);
	/* An empty signature splits (as in jws_parse) and does not verify. */
	assert_int_equal(split(tok, (size_t)(strrchr(tok, '.') - tok) + 1, sp,
	    err, sizeof(err)), JWS_OK);
	assert_int_equal(sp->sig_len, 0);
	assert_int_equal(jws_verify_es256_split(f->key, md, sp),
	    JWS_BAD_SIGNATURE);
	jws_parsed_free(&p);
	EVP_MD_free(md);
	free(tok);
	free(sp);
}

static void
jws_split_refuses_what_parse_refuses_with_its_messages(void **state)
{
	struct fixture *f = *state;
	struct jws_split *sp = malloc(sizeof(*sp));
	char *tok = sign(f->key, "k", "at+jwt", claims), err[256];
	size_t len = strlen(tok), hlen = (size_t)(part(tok, 1) - 1 - tok);
	char buf[1024], *big;

	assert_non_null(sp);
	assert_true(len + 8 < sizeof(buf));
	assert_int_equal(split("", 0, sp, err, sizeof(err)), JWS_MALFORMED);
	assert_string_equal(err, "token empty or too long");
	assert_int_equal(jws_split(NULL, 5, sp, NULL, 0), JWS_MALFORMED);
	snprintf(buf, sizeof(buf), "%s.", tok);
	assert_int_equal(split(buf, strlen(buf), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "not three dot-separated parts");
	assert_int_equal(split(tok, hlen, sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "not three dot-separated parts");
	assert_int_equal(split("..", 2, sp, err, sizeof(err)), JWS_MALFORMED);
	assert_string_equal(err, "header: empty");
	snprintf(buf, sizeof(buf), "%.*s..%s", (int)hlen, tok,
	    part(tok, 2));
	assert_int_equal(split(buf, strlen(buf), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "claims: empty");
	snprintf(buf, sizeof(buf), "%.*s=%s", (int)hlen, tok, tok + hlen);
	assert_int_equal(split(buf, strlen(buf), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "header: not strict base64url");
	snprintf(buf, sizeof(buf), "%s", tok);
	buf[hlen + 3] = ' ';
	assert_int_equal(split(buf, strlen(buf), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "claims: not strict base64url");
	snprintf(buf, sizeof(buf), "%s=", tok);
	assert_int_equal(split(buf, strlen(buf), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "signature: not strict base64url");
	assert_int_equal(split(tok, len - 1, sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_int_equal(sp->header_len + sp->claims_len + sp->sig_len, 0);
	/* A signature longer than ES512's is not decoded into sig. */
	big = malloc(len + 400);
	assert_non_null(big);
	memcpy(big, tok, len);
	memset(big + len, 'A', 396);
	big[len + 396] = '\0';
	assert_int_equal(split(big, strlen(big), sp, err, sizeof(err)),
	    JWS_MALFORMED);
	free(big);
	free(tok);
	/* The length bound: the largest token splits, one byte more not. */
	big = malloc(JWS_MAX_TOKEN + 2);
	assert_non_null(big);
	memset(big, 'A', JWS_MAX_TOKEN + 1);
	big[1] = '.';
	big[JWS_MAX_TOKEN - 3] = '.';
	big[JWS_MAX_TOKEN + 1] = '\0';
	assert_int_equal(split(big, JWS_MAX_TOKEN, sp, err, sizeof(err)),
	    JWS_MALFORMED);   /* a 1-character header is not base64url */
	assert_string_equal(err, "header: not strict base64url");
	big[1] = 'A';
	big[4] = '.';
	assert_int_equal(split(big, JWS_MAX_TOKEN, sp, err, sizeof(err)),
	    JWS_OK);
	assert_int_equal(sp->header_len, 3);
	assert_int_equal(sp->claims_len, b64_decoded_max(JWS_MAX_TOKEN - 8));
	assert_int_equal(sp->sig_len, 1);
	assert_int_equal(split(big, JWS_MAX_TOKEN + 1, sp, err, sizeof(err)),
	    JWS_MALFORMED);
	assert_string_equal(err, "token empty or too long");
	free(big);
	free(sp);
}

static void
jws_parse_failure_leaves_nothing_to_free(void **state)
{
	struct jws_parsed p;
	char *tok;

	(void)state;
	tok = assemble("{\"alg\":\"ES256\"}", "{\"a\":1}", "A");
	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(parse(tok, &p), JWS_MALFORMED);
	assert_null(p.header);
	assert_null(p.claims);
	assert_null(p.signing_input);
	jws_parsed_free(&p);
	jws_parsed_free(&p);
	free(tok);
}

static void
jws_sign_refuses_keys_that_are_not_p256(void **state)
{
	EVP_PKEY *ed = pki_gen_ed25519();
	char *tok = (char *)1;

	(void)state;
	assert_non_null(ed);
	assert_int_equal(jws_sign_es256(ed, "k", NULL, "{}", 2, &tok),
	    JWS_INTERNAL);
	assert_null(tok);
	EVP_PKEY_free(ed);
}

static void
jws_sign_refuses_tokens_longer_than_parse_accepts(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *payload, *tok = NULL;
	size_t n, fits = 0;

	payload = malloc(JWS_MAX_TOKEN + 1);
	assert_non_null(payload);
	/* Find the longest payload that still signs; it must parse back. */
	for (n = JWS_MAX_TOKEN / 4 * 3 - 200; n < JWS_MAX_TOKEN; n++) {
		memset(payload, 'x', n);
		payload[0] = '"';
		payload[n - 1] = '"';
		if (jws_sign_es256(f->key, "k", "at+jwt", payload, n, &tok) !=
		    JWS_OK) {
			assert_null(tok);
			break;
		}
		fits = n;
		free(tok);
		tok = NULL;
	}
	assert_true(fits > 0);
	assert_true(n < JWS_MAX_TOKEN);
	memset(payload, 'x', fits);
	payload[fits - 1] = '}';
	memcpy(payload, "{\"a\":\"", 6);
	payload[fits - 2] = '"';
	assert_int_equal(jws_sign_es256(f->key, "k", "at+jwt", payload, fits,
	    &tok), JWS_OK);
	/* One more payload byte adds one or two characters. */
	assert_in_range(strlen(tok), JWS_MAX_TOKEN - 2, JWS_MAX_TOKEN);
	assert_int_equal(parse(tok, &p), JWS_OK);
	jws_parsed_free(&p);
	free(tok);
	free(payload);
}

/*
 * Every token we mint must verify with libjwt 1.10 (ARCHITECTURE section
 * 3). Many tokens, so that r or s with leading zero bytes (1 in 256 each)
 * come up; libjwt 1.10 accepts typ "JWT" or none only (see below).
 */
static void
jws_tokens_verify_with_libjwt(void **state)
{
	struct fixture *f = *state;
	char payload[128], *tok;
	const char *typ;
	jwt_t *jwt;
	struct jws_parsed p;
	int i, padded = 0;

	/* At least 400, and on until two had r or s below 2^248. */
	for (i = 0; i < 400 || padded < 2; i++) {
		assert_true(i < 20000);
		snprintf(payload, sizeof(payload),
		    "{\"sub\":\"citizen-%d\",\"iat\":%d,\"x\":\"\\u00e9\"}", i,
		    1700000000 + i);
		typ = i % 3 == 0 ? NULL : i % 3 == 1 ? "JWT" : "jwt";
		tok = sign(f->key, i % 2 ? "kid-a" : NULL, typ, payload);
		jwt = NULL;
		if (jwt_decode(&jwt, tok, (const unsigned char *)f->pub_pem,
		    f->pub_len) != 0)
			fail_msg("libjwt rejected %s", tok);
		assert_int_equal(jwt_get_alg(jwt), JWT_ALG_ES256);
		assert_int_equal(jwt_get_grant_int(jwt, "iat"), 1700000000 + i);
		jwt_free(jwt);
		assert_int_equal(parse(tok, &p), JWS_OK);
		if (p.sig[0] == 0 || p.sig[32] == 0)
			padded++;
		jws_parsed_free(&p);
		free(tok);
	}
	print_message("%d of %d signatures had a leading zero byte\n",
	    padded, i);
}

/*
 * libjwt 1.10's jwt_decode refuses any typ but "JWT" (case-insensitive),
 * so tokens with typ "at+jwt" (RFC 9068, our token profile) cannot be
 * checked with it; the signature is the same code path as above. When this
 * test fails, libjwt has learned other types: cross-check "at+jwt" too.
 */
static void
libjwt_1_10_refuses_typ_at_jwt(void **state)
{
	struct fixture *f = *state;
	char *tok = sign(f->key, "k", "at+jwt", claims);
	jwt_t *jwt = NULL;

	assert_int_equal(jwt_decode(&jwt, tok, (const unsigned char *)f->pub_pem,
	    f->pub_len), EINVAL);
	jwt_free(jwt);
	free(tok);
}

static void
jws_verifies_tokens_signed_by_libjwt(void **state)
{
	struct fixture *f = *state;
	struct jws_parsed p;
	char *tok;
	jwt_t *jwt;
	long sub = 0;
	int64_t got = -1;
	int i;

	for (i = 0; i < 100; i++) {
		assert_int_equal(jwt_new(&jwt), 0);
		assert_int_equal(jwt_set_alg(jwt, JWT_ALG_ES256,
		    (const unsigned char *)f->priv_pem, f->priv_len), 0);
		sub = 1000 + i;
		assert_int_equal(jwt_add_grant_int(jwt, "n", sub), 0);
		assert_int_equal(jwt_add_grant(jwt, "iss", "libjwt"), 0);
		tok = jwt_encode_str(jwt);
		assert_non_null(tok);
		jwt_free(jwt);
		assert_int_equal(parse(tok, &p), JWS_OK);
		assert_int_equal(jws_check_header(&p, "JWT", NULL, 0), JWS_OK);
		assert_int_equal(jws_verify_es256(f->key, &p), JWS_OK);
		assert_int_equal(jws_verify_es256(f->other, &p),
		    JWS_BAD_SIGNATURE);
		assert_int_equal(jsonu_get_int(p.claims, "n", &got), 0);
		assert_int_equal(got, sub);
		jws_parsed_free(&p);
		free(tok); /* libjwt 1.10 has no jwt_free_str */
	}
}

/* RFC 7515 appendix A.3: the example ES256 JWS and its public key. */
static void
jws_verifies_rfc7515_a3_example(void **state)
{
	static const char tok[] = "eyJhbGciOiJFUzI1NiJ9."
	    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
	    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
	    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
	    "pmWQxfKTUJqPP3-Kg6NU1Q";
	struct jws_parsed p;
	json_t *jwk;
	EVP_PKEY *pub;
	int64_t exp = 0;
	char err[128];

	(void)state;
	jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x",
	    "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y",
	    "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
	pub = jwk_to_pkey(jwk, err, sizeof(err));
	assert_non_null(pub);
	assert_int_equal(parse(tok, &p), JWS_OK);
	assert_int_equal(jws_check_header(&p, NULL, NULL, 0), JWS_OK);
	assert_int_equal(jws_verify_es256(pub, &p), JWS_OK);
	assert_int_equal(jsonu_get_int(p.claims, "exp", &exp), 0);
	assert_int_equal(exp, 1300819380);
	jws_parsed_free(&p);
	EVP_PKEY_free(pub);
	json_decref(jwk);
}

static void
jws_strerror_names_every_code(void **state)
{
	enum jws_err e;

	(void)state;
	for (e = JWS_OK; e <= JWS_INTERNAL; e++) {
		assert_non_null(jws_strerror(e));
		assert_true(strlen(jws_strerror(e)) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jws_sign_parse_verify_roundtrip),
		cmocka_unit_test(jws_header_is_serialized_exactly),
		cmocka_unit_test(jws_payload_is_signed_as_given),
		cmocka_unit_test(jws_tampered_payload_is_rejected),
		cmocka_unit_test(jws_tampered_header_is_rejected),
		cmocka_unit_test(jws_tampered_signature_is_rejected),
		cmocka_unit_test(jws_signature_of_wrong_size_or_zero_is_rejected),
		cmocka_unit_test(jws_der_signature_is_not_accepted_as_es256),
		cmocka_unit_test(jws_verify_with_another_key_fails),
		cmocka_unit_test(jws_alg_none_and_hs256_are_bad_alg),
		cmocka_unit_test(jws_alg_kid_typ_of_wrong_type_are_malformed),
		cmocka_unit_test(jws_wrong_typ_is_bad_typ),
		cmocka_unit_test(
		    jws_typ_matches_case_insensitively_and_with_application_prefix),
		cmocka_unit_test(jws_parse_rejects_wrong_number_of_parts),
		cmocka_unit_test(
		    jws_parse_rejects_truncated_padded_and_noncanonical_base64url),
		cmocka_unit_test(jws_parse_rejects_bad_json_parts),
		cmocka_unit_test(jws_parse_rejects_tokens_longer_than_max),
		cmocka_unit_test(jws_parse_failure_leaves_nothing_to_free),
		cmocka_unit_test(jws_split_decodes_what_parse_does),
		cmocka_unit_test(
		    jws_split_refuses_what_parse_refuses_with_its_messages),
		cmocka_unit_test(jws_sign_refuses_keys_that_are_not_p256),
		cmocka_unit_test(jws_sign_refuses_tokens_longer_than_parse_accepts),
		cmocka_unit_test(jws_tokens_verify_with_libjwt),
		cmocka_unit_test(libjwt_1_10_refuses_typ_at_jwt),
		cmocka_unit_test(jws_verifies_tokens_signed_by_libjwt),
		cmocka_unit_test(jws_verifies_rfc7515_a3_example),
		cmocka_unit_test(jws_strerror_names_every_code),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
