/*
 * Fuzz target: the body of POST /oauth2/token, tokreq_parse
 * (broker/tokreq.h), and under it form_parse (broker/form.h), on the same
 * input. Checks the documented results: a parsed request has every
 * member, a valid subject and at most AGR_MAX_FIELDS distinct fields; a
 * refusal carries one of the three OAuth error codes; a parsed form has
 * distinct non-empty keys, and an empty form after a failure.
 */
#include "fuzz.h"

#include "consent_rec.h"
#include "form.h"
#include "tokreq.h"

static void
fuzz_form(const char *body, size_t len)
{
	struct form f;
	char err[256];
	size_t i, j;

	err[0] = '\0';
	if (form_parse(body, len, &f, err, sizeof(err)) != 0) {
		FUZZ_CHECK(f.n == 0 && err[0] != '\0');
		return;
	}
	FUZZ_CHECK(f.n <= FORM_MAX_PARAMS);
	for (i = 0; i < f.n; i++) {
		FUZZ_CHECK(f.p[i].key[0] != '\0');
		FUZZ_CHECK(form_get(&f, f.p[i].key) == f.p[i].value);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(f.p[i].key, f.p[j].key) != 0);
	}
	form_free(&f);
	FUZZ_CHECK(f.n == 0);
	form_free(&f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct token_request r;
	const char *oerr = NULL;
	char err[512];
	size_t i, j;

	fuzz_form((const char *)data, size);
	err[0] = '\0';
	if (tokreq_parse((const char *)data, size, &r, &oerr, err,
	    sizeof(err)) != 0) {
		FUZZ_CHECK(oerr != NULL && err[0] != '\0');
		FUZZ_CHECK(strcmp(oerr, "invalid_request") == 0 ||
		    strcmp(oerr, "unsupported_grant_type") == 0 ||
		    strcmp(oerr, "invalid_authorization_details") == 0);
		FUZZ_CHECK(r.strs == NULL && r.client_id == NULL);
		return 0;
	}
	FUZZ_CHECK(oerr == NULL);
	FUZZ_CHECK(r.agreement != NULL && r.agreement[0] != '\0' &&
	    strlen(r.agreement) <= AGR_MAX_ID);
	FUZZ_CHECK(r.purpose != NULL && r.purpose[0] != '\0' &&
	    strlen(r.purpose) <= AGR_MAX_ID);
	FUZZ_CHECK(r.subject != NULL && consent_subject_ok(r.subject) == 0);
	FUZZ_CHECK(r.nfields >= 1 && r.nfields <= AGR_MAX_FIELDS);
	for (i = 0; i < r.nfields; i++) {
		FUZZ_CHECK(r.fields[i][0] != '\0' &&
		    strlen(r.fields[i]) <= AGR_MAX_FIELD_NAME);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(r.fields[i], r.fields[j]) != 0);
	}
	tokreq_free(&r);
	tokreq_free(&r);   /* documented safe on a zeroed struct */
	return 0;
}
