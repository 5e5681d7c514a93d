/*
 * Fuzz target: consent_verify_peek (client/consent.h), what a provider
 * runs on every presented transfer token. One verifier is made at start
 * from a JWKS file written to a temporary directory (the broker's fixed
 * key from fixtures.h), for provider "dia" and the fixture issuer; the
 * presenting certificate is ird's.
 *
 * The input is the token. An input starting with '{' is instead taken as
 * the claims, signed here with the broker's key (typ at+jwt): a fuzzer
 * cannot forge signatures, and without this every check after the
 * signature (iss, aud, times, binding, claim shapes, scope) would only
 * ever see the few seed tokens.
 *
 * The verifier's clock is FX_NOW (the seeds' mint time): this target is
 * linked with -Wl,--wrap=timeu_now, so the seed tokens stay unexpired and
 * runs are reproducible. No network: there is no jwks_url and no
 * broker_url, so a token with a status claim fails closed at the status
 * list fetch without a request (tests/fuzz/fuzz_status.c covers the
 * list's decoding).
 */
#include "fuzz.h"

#include <ftw.h>
#include <unistd.h>

#include "client/consent.h"
#include "fixtures.h"
#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"

int64_t __wrap_timeu_now(void);

static consent_verifier *verifier;
static EVP_PKEY *key;
static char kid[JWK_B64_SHA256_LEN];
static unsigned char *der;
static int derlen;
static char dir[64] = "/tmp/cb-fuzz-verifier-XXXXXX";
static char jwks_path[128];

static const char *const want[] = { "child.given_names",
    "child.birth_date" };

int64_t
__wrap_timeu_now(void)
{
	return FX_NOW;
}

static void
cleanup(void)
{
	consent_verifier_free(verifier);
	unlink(jwks_path);
	rmdir(dir);
	EVP_PKEY_free(key);
	OPENSSL_free(der);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct consent_verifier_opts o = { 0 };
	json_t *jwks;
	char *text, detail[256];

	(void)argc;
	(void)argv;
	key = fuzz_key(fx_broker_key_pem);
	FUZZ_INIT(key != NULL && jwk_thumbprint(key, kid) == 0);
	derlen = fuzz_cert_der(fx_ird_cert_pem, &der);
	FUZZ_INIT(derlen > 0);
	FUZZ_INIT(mkdtemp(dir) != NULL);
	snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", dir);
	jwks = json_pack("{s:[o]}", "keys", jwk_from_pkey(key, kid));
	text = jwks != NULL ? jsonu_dump(jwks) : NULL;
	FUZZ_INIT(text != NULL &&
	    fsu_write_file(jwks_path, text, strlen(text), 0644, 0) == 0);
	free(text);
	json_decref(jwks);
	o.provider = FX_PROVIDER;
	o.issuer = FX_ISSUER;
	o.jwks_file = jwks_path;
	detail[0] = '\0';
	if (consent_verifier_new(&o, &verifier, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "consent_verifier_new: %s\n", detail);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct consent_claims c;
	char *token = NULL;
	consent_err rc;
	size_t i, j;

	if (size > 0 && data[0] == '{') {
		if (jws_sign_es256(key, kid, "at+jwt", (const char *)data, size,
		    &token) != JWS_OK)
			return 0;
	} else if ((token = fuzz_strndup(data, size)) == NULL)
		return 0;
	rc = consent_verify_peek(verifier, token, der, (size_t)derlen, want,
	    2, &c);
	FUZZ_CHECK(consent_verifier_detail(verifier) != NULL);
	if (getenv("FUZZ_VERBOSE") != NULL)   /* to see where an input stops */
		fprintf(stderr, "consent_verify_peek: %s: %s\n",
		    consent_strerror(rc), consent_verifier_detail(verifier));
	if (rc == CONSENT_OK) {
		/* What the header promises of a verified token. */
		FUZZ_CHECK(c.jti != NULL && c.subject != NULL &&
		    c.client_id != NULL && c.agreement != NULL &&
		    c.purpose != NULL);
		FUZZ_CHECK(c.provider != NULL &&
		    strcmp(c.provider, FX_PROVIDER) == 0);
		FUZZ_CHECK(c.exp > FX_NOW - 300);
		for (i = 0; i < 2; i++) {
			for (j = 0; j < c.nfields; j++)
				if (strcmp(c.fields[j], want[i]) == 0)
					break;
			FUZZ_CHECK(j < c.nfields);
		}
		consent_claims_free(&c);
	} else {
		FUZZ_CHECK(consent_strerror(rc) != NULL);
		consent_claims_free(&c);   /* safe on the zeroed struct */
	}
	free(token);
	return 0;
}
