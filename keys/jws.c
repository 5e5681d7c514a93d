/* Compact JWS with ES256 (RFC 7515, RFC 7518 section 3.4) on preloaded EVP keys. */
#include "jws.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "b64.h"
#include "jsonu.h"
#include "jwk.h"

/* ES256 signatures are r || s, each 32 bytes big-endian. */
#define ES256_SIG_LEN 64
#define ES256_HALF 32
/* DER ECDSA-Sig-Value for P-256 is at most 72 bytes. */
#define ES256_DER_MAX 80

const char *
jws_strerror(enum jws_err e)
{
	switch (e) {
	case JWS_OK:
		return "ok";
	case JWS_MALFORMED:
		return "malformed token";
	case JWS_BAD_ALG:
		return "unacceptable alg";
	case JWS_BAD_TYP:
		return "unexpected typ";
	case JWS_UNKNOWN_KEY:
		return "unknown key";
	case JWS_BAD_SIGNATURE:
		return "bad signature";
	case JWS_NOMEM:
		return "out of memory";
	case JWS_INTERNAL:
		return "internal error";
	}
	return "unknown error";
}

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* The protected header, in exactly this member order. New string or NULL. */
static char *
make_header(const char *kid, const char *typ)
{
	json_t *h;
	char *s = NULL;

	if ((h = json_pack("{s:s}", "alg", "ES256")) == NULL)
		return NULL;
	if (typ != NULL && json_object_set_new(h, "typ", json_string(typ)) != 0)
		goto out;
	if (kid != NULL && json_object_set_new(h, "kid", json_string(kid)) != 0)
		goto out;
	/* jansson keeps insertion order; JSON_COMPACT leaves no spaces. */
	s = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(h);
	return s;
}

/* DER ECDSA-Sig-Value to r || s (64 bytes). 0 or -1. */
static int
der_to_raw(const unsigned char *der, size_t derlen, unsigned char *raw)
{
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int ret = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, raw, ES256_HALF) != ES256_HALF ||
	    BN_bn2binpad(s, raw + ES256_HALF, ES256_HALF) != ES256_HALF)
		goto out;
	ret = 0;
out:
	ECDSA_SIG_free(sig);
	return ret;
}

/*
 * One big-endian 32-byte half of r || s as a DER INTEGER at der: minimal
 * (leading zero bytes dropped, one kept for zero) and non-negative (a 0x00
 * in front of a high bit). Returns the bytes written (at most 35).
 */
static size_t
der_uint(const unsigned char *half, unsigned char *der)
{
	size_t skip = 0, n, pad;

	while (skip < ES256_HALF - 1 && half[skip] == 0)
		skip++;
	n = ES256_HALF - skip;
	pad = (half[skip] & 0x80) != 0;
	der[0] = 0x02;
	der[1] = (unsigned char)(n + pad);
	der[2] = 0x00;
	memcpy(der + 2 + pad, half + skip, n);
	return 2 + pad + n;
}

/*
 * r || s (64 bytes) to a DER ECDSA-Sig-Value into der (ES256_DER_MAX),
 * encoded by hand: it is at most 72 bytes, so every length is one byte,
 * and the verifier need not allocate BIGNUMs per token. Length, or -1.
 */
static int
raw_to_der(const unsigned char *raw, unsigned char *der)
{
	size_t len;

	len = der_uint(raw, der + 2);
	len += der_uint(raw + ES256_HALF, der + 2 + len);
	if (len + 2 > ES256_DER_MAX)
		return -1;
	der[0] = 0x30;
	der[1] = (unsigned char)len;
	return (int)len + 2;
}

enum jws_err
jws_sign_es256(EVP_PKEY *key, const char *kid, const char *typ,
    const char *payload, size_t payload_len, char **out)
{
	unsigned char der[ES256_DER_MAX], raw[ES256_SIG_LEN];
	EVP_MD_CTX *md = NULL;
	char *hdr = NULL, *tok = NULL;
	size_t hlen, h64, p64, s64, cap, pos, derlen = sizeof(der);
	enum jws_err ret = JWS_INTERNAL;

	*out = NULL;
	/* A token longer than jws_parse accepts is a caller's bug. */
	if (!jwk_is_p256(key) || payload_len > JWS_MAX_TOKEN)
		goto out;
	if ((hdr = make_header(kid, typ)) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	hlen = strlen(hdr);
	h64 = b64url_encoded_len(hlen);
	p64 = b64url_encoded_len(payload_len);
	s64 = b64url_encoded_len(ES256_SIG_LEN);
	cap = h64 + 1 + p64 + 1 + s64 + 1;
	if (cap - 1 > JWS_MAX_TOKEN)
		goto out;
	if ((tok = malloc(cap)) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	pos = b64url_encode((const unsigned char *)hdr, hlen, tok);
	tok[pos++] = '.';
	pos += b64url_encode((const unsigned char *)payload, payload_len,
	    tok + pos);

	if ((md = EVP_MD_CTX_new()) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)tok,
	    pos) != 1 ||
	    der_to_raw(der, derlen, raw) != 0)
		goto out;
	tok[pos++] = '.';
	(void)b64url_encode(raw, sizeof(raw), tok + pos);
	*out = tok;
	tok = NULL;
	ret = JWS_OK;
out:
	if (ret != JWS_OK)
		ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(hdr);
	free(tok);
	return ret;
}

/*
 * Decodes one strict base64url part and parses it as a JSON object.
 * JWS_OK, JWS_MALFORMED or JWS_NOMEM; err names the part.
 */
static enum jws_err
decode_json_part(const char *part, size_t len, const char *what,
    json_t **out, char *err, size_t errlen)
{
	unsigned char *buf = NULL;
	size_t blen = 0;
	char jerr[160];
	enum jws_err ret = JWS_MALFORMED;

	*out = NULL;
	if (len == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: empty", what);
		goto out;
	}
	if ((buf = malloc(b64_decoded_max(len))) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	if (b64url_decode(part, len, buf, &blen) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not strict base64url", what);
		goto out;
	}
	jerr[0] = '\0';
	*out = jsonu_parse((const char *)buf, blen, JWS_MAX_DEPTH, jerr,
	    sizeof(jerr));
	if (*out == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", what, jerr);
		goto out;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not a JSON object", what);
		goto out;
	}
	ret = JWS_OK;
out:
	free(buf);
	return ret;
}

enum jws_err
jws_parse(const char *token, size_t len, struct jws_parsed *out, char *err,
    size_t errlen)
{
	struct jws_parsed p;
	const char *d1, *d2, *sig64;
	size_t hlen, plen, slen;
	enum jws_err ret = JWS_MALFORMED;

	memset(&p, 0, sizeof(p));
	memset(out, 0, sizeof(*out));
	if (token == NULL || len == 0 || len > JWS_MAX_TOKEN) {
		set_err(err, errlen, "token empty or too long");
		goto out;
	}
	/* Exactly two dots; base64url below rejects every other stray byte. */
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL) {
		set_err(err, errlen, "not three dot-separated parts");
		goto out;
	}
	hlen = (size_t)(d1 - token);
	plen = (size_t)(d2 - d1 - 1);
	sig64 = d2 + 1;
	slen = len - (size_t)(sig64 - token);

	if ((ret = decode_json_part(token, hlen, "header", &p.header, err,
	    errlen)) != JWS_OK)
		goto out;
	ret = JWS_MALFORMED;
	if (jsonu_get_str(p.header, "alg", &p.alg) != 0) {
		set_err(err, errlen, "header: alg missing or not a string");
		goto out;
	}
	if (jsonu_get_str(p.header, "typ", &p.typ) < 0) {
		set_err(err, errlen, "header: typ not a string");
		goto out;
	}
	if (jsonu_get_str(p.header, "kid", &p.kid) < 0) {
		set_err(err, errlen, "header: kid not a string");
		goto out;
	}
	/*
	 * RFC 7515 section 4.1.11: a recipient that does not understand an
	 * extension listed in crit must reject the JWS. We understand none.
	 */
	if (json_object_get(p.header, "crit") != NULL) {
		set_err(err, errlen, "header: crit names unsupported extensions");
		goto out;
	}
	if ((ret = decode_json_part(d1 + 1, plen, "claims", &p.claims, err,
	    errlen)) != JWS_OK)
		goto out;
	ret = JWS_MALFORMED;
	/*
	 * An empty signature (alg "none") parses, so that jws_check_header
	 * can name the alg; jws_verify_es256 refuses it.
	 */
	if (b64_decoded_max(slen) > sizeof(p.sig) ||
	    b64url_decode(sig64, slen, p.sig, &p.sig_len) != 0) {
		set_err(err, errlen, "signature: not strict base64url");
		goto out;
	}
	p.signing_input_len = (size_t)(d2 - token);
	if ((p.signing_input = malloc(p.signing_input_len + 1)) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	memcpy(p.signing_input, token, p.signing_input_len);
	p.signing_input[p.signing_input_len] = '\0';
	*out = p;
	memset(&p, 0, sizeof(p));
	ret = JWS_OK;
out:
	jws_parsed_free(&p);
	return ret;
}

/* ASCII case-insensitive equality, independent of the locale. */
static int
ascii_caseeq(const char *a, const char *b)
{
	unsigned char ca, cb;

	for (;; a++, b++) {
		ca = (unsigned char)*a;
		cb = (unsigned char)*b;
		if (ca >= 'A' && ca <= 'Z')
			ca = (unsigned char)(ca - 'A' + 'a');
		if (cb >= 'A' && cb <= 'Z')
			cb = (unsigned char)(cb - 'A' + 'a');
		if (ca != cb)
			return 0;
		if (ca == '\0')
			return 1;
	}
}

/*
 * A media type without "application/" when it has that prefix and no
 * other '/', as RFC 7515 section 4.1.9 makes "x" and "application/x" one.
 */
static const char *
media_short(const char *t)
{
	static const char app[] = "application/";
	size_t n = sizeof(app) - 1;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = t[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != app[i])
			return t;
	}
	if (strchr(t + n, '/') != NULL)
		return t;
	return t + n;
}

enum jws_err
jws_check_header(const struct jws_parsed *p, const char *typ, char *err,
    size_t errlen)
{
	if (p->alg == NULL || strcmp(p->alg, "ES256") != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "alg \"%.32s\" is not ES256",
			    p->alg != NULL ? p->alg : "");
		return JWS_BAD_ALG;
	}
	if (typ == NULL)
		return JWS_OK;
	if (p->typ == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "typ missing, want \"%.32s\"", typ);
		return JWS_BAD_TYP;
	}
	if (!ascii_caseeq(media_short(p->typ), media_short(typ))) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "typ \"%.32s\" is not \"%.32s\"",
			    p->typ, typ);
		return JWS_BAD_TYP;
	}
	return JWS_OK;
}

/* ES256 verification of sig over input; jws_verify_es256's returns. */
static enum jws_err
verify_raw(EVP_PKEY *pub, const EVP_MD *dgst, const char *input,
    size_t input_len, const unsigned char *sig, size_t sig_len)
{
	unsigned char der[ES256_DER_MAX];
	EVP_MD_CTX *md = NULL;
	enum jws_err ret = JWS_BAD_SIGNATURE;
	int derlen, rc;

	if (input == NULL || sig_len != ES256_SIG_LEN || !jwk_is_p256(pub))
		goto out;
	if ((derlen = raw_to_der(sig, der)) <= 0) {
		ret = JWS_INTERNAL;
		goto out;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		ret = JWS_NOMEM;
		goto out;
	}
	/* One-shot: lets EVP_DigestVerify finish without copying the
	 * context. */
	EVP_MD_CTX_set_flags(md, EVP_MD_CTX_FLAG_FINALISE);
	if (EVP_DigestVerifyInit(md, NULL, dgst != NULL ? dgst : EVP_sha256(),
	    NULL, pub) != 1) {
		ret = JWS_INTERNAL;
		goto out;
	}
	/* 0 is a bad signature; below 0 includes r or s out of range. */
	rc = EVP_DigestVerify(md, der, (size_t)derlen,
	    (const unsigned char *)input, input_len);
	if (rc == 1)
		ret = JWS_OK;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	return ret;
}

enum jws_err
jws_verify_es256(EVP_PKEY *pub, const struct jws_parsed *p)
{
	if (p == NULL)
		return JWS_BAD_SIGNATURE;
	return verify_raw(pub, NULL, p->signing_input, p->signing_input_len,
	    p->sig, p->sig_len);
}

enum jws_err
jws_verify_es256_split(EVP_PKEY *pub, const EVP_MD *md,
    const struct jws_split *s)
{
	if (s == NULL)
		return JWS_BAD_SIGNATURE;
	return verify_raw(pub, md, s->signing_input, s->signing_input_len,
	    s->sig, s->sig_len);
}

/* Decodes one strict base64url part into out; 0, or -1 with err set. */
static int
decode_part(const char *part, size_t len, const char *what,
    unsigned char *out, size_t *outlen, char *err, size_t errlen)
{
	if (len == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: empty", what);
		return -1;
	}
	if (b64url_decode(part, len, out, outlen) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not strict base64url", what);
		return -1;
	}
	return 0;
}

enum jws_err
jws_split(const char *token, size_t len, struct jws_split *out, char *err,
    size_t errlen)
{
	const char *d1, *d2, *sig64;
	size_t hlen, plen, slen, hmax;
	unsigned char *claims;

	out->signing_input = NULL;
	out->signing_input_len = out->header_len = out->claims_len = 0;
	out->header = out->claims = NULL;
	out->sig_len = 0;
	if (token == NULL || len == 0 || len > JWS_MAX_TOKEN) {
		set_err(err, errlen, "token empty or too long");
		return JWS_MALFORMED;
	}
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL) {
		set_err(err, errlen, "not three dot-separated parts");
		return JWS_MALFORMED;
	}
	hlen = (size_t)(d1 - token);
	plen = (size_t)(d2 - d1 - 1);
	sig64 = d2 + 1;
	slen = len - (size_t)(sig64 - token);
	hmax = b64_decoded_max(hlen);
	/* hlen + plen < JWS_MAX_TOKEN, so both fit buf. */
	assert(hmax + b64_decoded_max(plen) <= sizeof(out->buf));
	claims = out->buf + hmax;
	if (decode_part(token, hlen, "header", out->buf, &out->header_len, err,
	    errlen) != 0 ||
	    decode_part(d1 + 1, plen, "claims", claims, &out->claims_len, err,
	    errlen) != 0)
		goto fail;
	if (b64_decoded_max(slen) > sizeof(out->sig) ||
	    b64url_decode(sig64, slen, out->sig, &out->sig_len) != 0) {
		set_err(err, errlen, "signature: not strict base64url");
		goto fail;
	}
	out->header = out->buf;
	out->claims = claims;
	out->signing_input = token;
	out->signing_input_len = (size_t)(d2 - token);
	return JWS_OK;
fail:
	out->header_len = out->claims_len = out->sig_len = 0;
	return JWS_MALFORMED;
}

void
jws_parsed_free(struct jws_parsed *p)
{
	if (p == NULL)
		return;
	json_decref(p->header);
	json_decref(p->claims);
	free(p->signing_input);
	memset(p, 0, sizeof(*p));
}
