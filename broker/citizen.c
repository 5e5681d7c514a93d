/* Verification of citizens' ID tokens against configured issuers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent_rec.h"
#include "citizen.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"

struct cit_key {
	char kid[128];
	EVP_PKEY *pub;
};

struct cit_issuer {
	char iss[256];
	char aud[128];
	struct cit_key keys[CITIZEN_MAX_KEYS];
	size_t nkeys;
};

struct citizen_auth {
	struct cit_issuer iss[CITIZEN_MAX_ISSUERS];
	size_t niss;
};

struct citizen_auth *
citizen_auth_new(void)
{
	return calloc(1, sizeof(struct citizen_auth));
}

void
citizen_auth_free(struct citizen_auth *ca)
{
	size_t i, j;

	if (ca == NULL)
		return;
	for (i = 0; i < ca->niss; i++)
		for (j = 0; j < ca->iss[i].nkeys; j++)
			EVP_PKEY_free(ca->iss[i].keys[j].pub);
	free(ca);
}

static struct cit_issuer *
issuer_slot(struct citizen_auth *ca, const char *iss, const char *aud,
    char *err, size_t errlen)
{
	struct cit_issuer *is;
	size_t i;
	int n1, n2;

	for (i = 0; i < ca->niss; i++)
		if (strcmp(ca->iss[i].iss, iss) == 0)
			return &ca->iss[i];
	if (ca->niss == CITIZEN_MAX_ISSUERS) {
		snprintf(err, errlen, "at most %d citizen issuers",
		    CITIZEN_MAX_ISSUERS);
		return NULL;
	}
	is = &ca->iss[ca->niss];
	n1 = snprintf(is->iss, sizeof(is->iss), "%s", iss);
	n2 = snprintf(is->aud, sizeof(is->aud), "%s", aud);
	if (n1 < 0 || (size_t)n1 >= sizeof(is->iss) || n2 < 0 ||
	    (size_t)n2 >= sizeof(is->aud)) {
		snprintf(err, errlen, "issuer or audience too long");
		return NULL;
	}
	ca->niss++;
	return is;
}

int
citizen_auth_add_key(struct citizen_auth *ca, const char *iss,
    const char *aud, EVP_PKEY *pub, const char *kid, char *err,
    size_t errlen)
{
	struct cit_issuer *is = issuer_slot(ca, iss, aud, err, errlen);
	struct cit_key *k;
	int n;

	if (is == NULL)
		return -1;
	if (is->nkeys == CITIZEN_MAX_KEYS) {
		snprintf(err, errlen, "%s: at most %d keys", iss, CITIZEN_MAX_KEYS);
		return -1;
	}
	k = &is->keys[is->nkeys];
	n = snprintf(k->kid, sizeof(k->kid), "%s", kid);
	if (n < 0 || (size_t)n >= sizeof(k->kid)) {
		snprintf(err, errlen, "%s: kid too long", iss);
		return -1;
	}
	if (EVP_PKEY_up_ref(pub) != 1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	k->pub = pub;
	is->nkeys++;
	return 0;
}

int
citizen_auth_add_jwks(struct citizen_auth *ca, const char *iss,
    const char *aud, const char *jwks, char *err, size_t errlen)
{
	json_t *doc, *keys, *k;
	const char *kid, *kty, *use, *alg;
	size_t used = 0;
	EVP_PKEY *pub;
	char why[256];
	size_t i;
	int rc = -1;

	doc = jsonu_parse(jwks, strlen(jwks), 6, why, sizeof(why));
	if (doc == NULL) {
		snprintf(err, errlen, "JWKS: %s", why);
		return -1;
	}
	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys) || json_array_size(keys) == 0) {
		snprintf(err, errlen, "JWKS: no \"keys\" array");
		goto out;
	}
	json_array_foreach(keys, i, k) {
		/* An IdP's set may hold RSA or encryption keys: only ES256
		 * signing keys with a kid are ours to use. */
		if (jsonu_get_str(k, "kty", &kty) != 0 || strcmp(kty, "EC") != 0 ||
		    (jsonu_get_str(k, "use", &use) == 0 &&
		    strcmp(use, "sig") != 0) ||
		    (jsonu_get_str(k, "alg", &alg) == 0 &&
		    strcmp(alg, "ES256") != 0))
			continue;
		if (jsonu_get_str(k, "kid", &kid) != 0) {
			snprintf(err, errlen, "JWKS: keys[%zu] has no kid", i);
			goto out;
		}
		pub = jwk_to_pkey(k, why, sizeof(why));
		if (pub == NULL) {
			snprintf(err, errlen, "JWKS: keys[%zu]: %s", i, why);
			goto out;
		}
		rc = citizen_auth_add_key(ca, iss, aud, pub, kid, err, errlen);
		EVP_PKEY_free(pub);
		if (rc != 0)
			goto out;
		rc = -1;
		used++;
	}
	if (used == 0) {
		snprintf(err, errlen, "JWKS: no ES256 signing key");
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static int
aud_matches(json_t *aud, const char *want)
{
	json_t *a;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (json_is_array(aud))
		json_array_foreach(aud, i, a)
			if (json_is_string(a) &&
			    strcmp(json_string_value(a), want) == 0)
				return 1;
	return 0;
}

int
citizen_verify(const struct citizen_auth *ca, const char *token, int64_t now,
    int skew, char *sub_out, size_t sub_len, char *err, size_t errlen)
{
	struct jws_parsed p = { 0 };
	const struct cit_issuer *is = NULL;
	EVP_PKEY *pub = NULL;
	const char *iss, *sub;
	char why[256];
	int64_t exp, t;
	size_t i;
	int rc = -1, n;

	if (jws_parse(token, strlen(token), &p, why, sizeof(why)) != JWS_OK) {
		snprintf(err, errlen, "citizen token is malformed: %s", why);
		return -1;
	}
	if (jws_check_header(&p, NULL, why, sizeof(why)) != JWS_OK) {
		snprintf(err, errlen, "citizen token: %s", why);
		goto out;
	}
	if (jsonu_get_str(p.claims, "iss", &iss) != 0) {
		snprintf(err, errlen, "citizen token has no \"iss\" claim");
		goto out;
	}
	for (i = 0; i < ca->niss; i++)
		if (strcmp(ca->iss[i].iss, iss) == 0)
			is = &ca->iss[i];
	if (is == NULL) {
		snprintf(err, errlen,
		    "citizen token issuer '%.200s' is not trusted here", iss);
		goto out;
	}
	for (i = 0; p.kid != NULL && i < is->nkeys; i++)
		if (strcmp(is->keys[i].kid, p.kid) == 0)
			pub = is->keys[i].pub;
	if (pub == NULL) {
		snprintf(err, errlen,
		    "citizen token key '%.100s' is not a key of issuer '%.200s'",
		    p.kid != NULL ? p.kid : "(no kid)", iss);
		goto out;
	}
	if (jws_verify_es256(pub, &p) != JWS_OK) {
		snprintf(err, errlen, "citizen token signature does not verify");
		goto out;
	}
	if (!aud_matches(json_object_get(p.claims, "aud"), is->aud)) {
		snprintf(err, errlen, "citizen token audience is not '%s'",
		    is->aud);
		goto out;
	}
	if (jsonu_get_int(p.claims, "exp", &exp) != 0) {
		snprintf(err, errlen, "citizen token has no integer \"exp\"");
		goto out;
	}
	/* Not exp + skew: an issuer's exp near INT64_MAX must not overflow. */
	if (now - skew >= exp) {
		snprintf(err, errlen, "citizen token expired");
		goto out;
	}
	if ((jsonu_get_int(p.claims, "nbf", &t) == 0 && t > now + skew) ||
	    (jsonu_get_int(p.claims, "iat", &t) == 0 && t > now + skew)) {
		snprintf(err, errlen, "citizen token is not valid yet");
		goto out;
	}
	if (jsonu_get_str(p.claims, "sub", &sub) != 0 ||
	    consent_subject_ok(sub) != 0) {
		snprintf(err, errlen, "citizen token has no valid \"sub\"");
		goto out;
	}
	n = snprintf(sub_out, sub_len, "%s", sub);
	if (n < 0 || (size_t)n >= sub_len) {
		snprintf(err, errlen, "citizen token \"sub\" is too long");
		goto out;
	}
	rc = 0;
out:
	jws_parsed_free(&p);
	return rc;
}
