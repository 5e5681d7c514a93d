/*
 * Fuzz target: agreement_parse (agreements/agreement.h), the validator of
 * the documents parties submit to POST /v1/agreements. Besides memory and
 * UB errors it checks what the header promises of an accepted document:
 * the documented bounds, that the lookups find every listed item, and
 * that hash is the canonical SHA-256 of doc.
 */
#include "fuzz.h"

#include "agreement.h"
#include "jsonu.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agreement *a;
	char err[512], hash[65];
	size_t i;

	err[0] = '\0';
	a = agreement_parse((const char *)data, size, err, sizeof(err));
	if (a == NULL) {
		/* A refusal names the path and the rule, on one line. */
		FUZZ_CHECK(err[0] == '$');
		FUZZ_CHECK(strchr(err, '\n') == NULL);
		return 0;
	}
	FUZZ_CHECK(size <= AGR_MAX_DOC_BYTES);
	FUZZ_CHECK(a->id != NULL && strlen(a->id) <= AGR_MAX_ID);
	FUZZ_CHECK(a->version >= 1);
	FUZZ_CHECK(a->token_ttl_seconds >= 1 &&
	    a->token_ttl_seconds <= AGR_MAX_TTL_SECONDS);
	FUZZ_CHECK(a->nrecipients >= 1 && a->nrecipients <= AGR_MAX_RECIPIENTS);
	FUZZ_CHECK(a->npurposes >= 1 && a->npurposes <= AGR_MAX_PURPOSES);
	FUZZ_CHECK(a->nfields >= 1 && a->nfields <= AGR_MAX_FIELDS);
	FUZZ_CHECK(a->basis != AGR_BASIS_STATUTE || a->basis_reference != NULL);
	FUZZ_CHECK((a->basis == AGR_BASIS_CONSENT) == a->consent_required);
	FUZZ_CHECK(agreement_names_party(a, a->provider));
	for (i = 0; i < a->nrecipients; i++) {
		FUZZ_CHECK(agreement_has_recipient(a, a->recipients[i]));
		FUZZ_CHECK(agreement_names_party(a, a->recipients[i]));
	}
	for (i = 0; i < a->npurposes; i++)
		FUZZ_CHECK(agreement_has_purpose(a, a->purposes[i]));
	for (i = 0; i < a->nfields; i++) {
		FUZZ_CHECK(strlen(a->fields[i].name) <= AGR_MAX_FIELD_NAME);
		FUZZ_CHECK(agreement_field(a, a->fields[i].name) ==
		    &a->fields[i]);
	}
	FUZZ_CHECK(agreement_field(a, "") == NULL);
	FUZZ_CHECK(jsonu_canonical_sha256_hex(a->doc, hash) == 0);
	FUZZ_CHECK(strcmp(hash, a->hash) == 0);
	agreement_free(a);
	return 0;
}
