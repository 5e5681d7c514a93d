/*
 * Fuzz target: citizen_verify (broker/citizen.h), the check of the
 * "Authorization: Bearer" ID token on every citizen API call. The
 * citizen_auth trusts one key: the dev issuer's from fixtures.h, under
 * FX_CITIZEN_ISSUER and FX_CITIZEN_AUDIENCE; the clock is FX_NOW, so the
 * seed token (minted by "consentctl dev citizen-token") is valid.
 *
 * The input is the token. An input starting with '{' is instead taken as
 * the claims and signed here with that key (typ JWT), so that the claim
 * checks after the signature are fuzzed too.
 */
#include "fuzz.h"

#include "citizen.h"
#include "consent_rec.h"
#include "fixtures.h"
#include "jwk.h"
#include "jws.h"

#define SKEW 60

static struct citizen_auth *ca;
static EVP_PKEY *key;
static char kid[JWK_B64_SHA256_LEN];

static void
cleanup(void)
{
	citizen_auth_free(ca);
	EVP_PKEY_free(key);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	key = fuzz_key(fx_citizen_key_pem);
	FUZZ_INIT(key != NULL && jwk_thumbprint(key, kid) == 0);
	ca = citizen_auth_new();
	FUZZ_INIT(ca != NULL);
	FUZZ_INIT(citizen_auth_add_key(ca, FX_CITIZEN_ISSUER,
	    FX_CITIZEN_AUDIENCE, key, kid, err, sizeof(err)) == 0);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = NULL, sub[CONSENT_MAX_SUBJECT + 1], err[512];
	int rc;

	if (size > 0 && data[0] == '{') {
		if (jws_sign_es256(key, kid, "JWT", (const char *)data, size,
		    &token) != JWS_OK)
			return 0;
	} else if ((token = fuzz_strndup(data, size)) == NULL)
		return 0;
	err[0] = '\0';
	rc = citizen_verify(ca, token, FX_NOW, SKEW, sub, sizeof(sub), err,
	    sizeof(err));
	if (getenv("FUZZ_VERBOSE") != NULL)   /* to see where an input stops */
		fprintf(stderr, "citizen_verify: %d: %s\n", rc,
		    rc == 0 ? sub : err);
	if (rc == 0)
		FUZZ_CHECK(consent_subject_ok(sub) == 0);
	else
		FUZZ_CHECK(err[0] != '\0');
	free(token);
	return 0;
}
