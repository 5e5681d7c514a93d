/* Compact JWS (RFC 7515) with ES256 on OpenSSL EVP keys that are loaded once. */
#ifndef CB_JWS_H
#define CB_JWS_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Longest compact token we parse; longer ones are malformed. */
#define JWS_MAX_TOKEN 16384
/* Nesting bound for header and claims JSON. */
#define JWS_MAX_DEPTH 8

enum jws_err {
	JWS_OK = 0,
	JWS_MALFORMED,     /* not three base64url parts, bad JSON, too long */
	JWS_BAD_ALG,       /* alg is not ES256 (or none, HS256, ...) */
	JWS_BAD_TYP,       /* typ is not the one expected */
	JWS_UNKNOWN_KEY,   /* kid missing or not known to the caller */
	JWS_BAD_SIGNATURE, /* signature does not verify */
	JWS_NOMEM,
	JWS_INTERNAL       /* OpenSSL failed in a way input cannot cause */
};

/* Static message for a code. */
const char *jws_strerror(enum jws_err e);

/*
 * Signs payload (JSON claims, used as given) with an EC P-256 private key.
 * The protected header is {"alg":"ES256","typ":typ,"kid":kid}. typ and kid
 * may be NULL to leave them out. On success *out is a new NUL-terminated
 * compact JWS the caller frees. Returns JWS_OK, JWS_NOMEM or JWS_INTERNAL
 * (also for a key that is not P-256, or a token longer than
 * JWS_MAX_TOKEN, which jws_parse would refuse).
 * Safe to call from many threads with one key.
 */
enum jws_err jws_sign_es256(EVP_PKEY *key, const char *kid, const char *typ,
    const char *payload, size_t payload_len, char **out);

/* A token split and decoded, before its signature is checked. */
struct jws_parsed {
	json_t *header;       /* owned */
	json_t *claims;       /* owned */
	const char *alg;      /* borrowed from header */
	const char *typ;      /* borrowed from header, or NULL */
	const char *kid;      /* borrowed from header, or NULL */
	char *signing_input;  /* owned: "<b64 header>.<b64 payload>" */
	size_t signing_input_len;
	unsigned char sig[132];
	size_t sig_len;
};

/*
 * Splits and decodes a compact JWS: three parts, strict base64url, header
 * and claims each a JSON object (no duplicate keys, depth bound), alg a
 * string, typ and kid strings when present, no "crit" (we understand no
 * extension, RFC 7515 section 4.1.11). An empty signature parses (so that
 * alg "none" is reported as JWS_BAD_ALG). It checks nothing else: call
 * jws_check_header and
 * jws_verify_es256 next. On failure out holds nothing to free and err says
 * what was wrong. Returns JWS_OK, JWS_MALFORMED or JWS_NOMEM.
 */
enum jws_err jws_parse(const char *token, size_t len, struct jws_parsed *out,
    char *err, size_t errlen);

/* Room for the decoded header and claims of a JWS_MAX_TOKEN token. */
#define JWS_SPLIT_BUF (JWS_MAX_TOKEN / 4 * 3 + 4)

/* A token split and its parts decoded, with no JSON parsed. */
struct jws_split {
	const char *signing_input;    /* borrowed from the token */
	size_t signing_input_len;
	const unsigned char *header;  /* decoded header bytes (in buf) */
	size_t header_len;
	const unsigned char *claims;  /* decoded claims bytes (in buf) */
	size_t claims_len;
	unsigned char sig[132];
	size_t sig_len;
	unsigned char buf[JWS_SPLIT_BUF];
};

/*
 * The decoding half of jws_parse, for callers that parse the JSON
 * themselves: checks the length (1 to JWS_MAX_TOKEN bytes) and the three
 * dot-separated parts, and decodes each as strict base64url, in the order
 * header, claims, signature. Header and claims must not be empty; an empty
 * signature decodes (sig_len 0), as in jws_parse. It neither allocates nor
 * parses JSON: out->header and out->claims point into out->buf (not
 * NUL-terminated), out->signing_input into token, which must outlive out.
 * Nothing to free. Returns JWS_OK or JWS_MALFORMED with err set to the
 * message jws_parse gives for the same fault ("header: not strict
 * base64url", ...).
 */
enum jws_err jws_split(const char *token, size_t len, struct jws_split *out,
    char *err, size_t errlen);

/*
 * As jws_verify_es256 for a split token. md is SHA-256 from EVP_MD_fetch
 * (fetched once by the caller, saving a lookup per token), or NULL for
 * EVP_sha256(). Same returns as jws_verify_es256.
 */
enum jws_err jws_verify_es256_split(EVP_PKEY *pub, const EVP_MD *md,
    const struct jws_split *s);

/*
 * Checks alg is exactly "ES256" and, when typ is not NULL, that the header
 * typ equals it (case-insensitively, as RFC 7515 allows, also with an
 * "application/" prefix). Returns JWS_OK, JWS_BAD_ALG or JWS_BAD_TYP.
 */
enum jws_err jws_check_header(const struct jws_parsed *p, const char *typ,
    char *err, size_t errlen);

/*
 * Verifies the ES256 signature (64-byte r||s) of p with an EC P-256 public
 * key. Returns JWS_OK or JWS_BAD_SIGNATURE (also for a wrong-sized
 * signature or a key that is not P-256), JWS_NOMEM, JWS_INTERNAL.
 */
enum jws_err jws_verify_es256(EVP_PKEY *pub, const struct jws_parsed *p);

/* Frees what jws_parse allocated; safe on a zeroed or freed struct. */
void jws_parsed_free(struct jws_parsed *p);

#endif
