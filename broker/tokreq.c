/* Parsing and checking the shape of token requests (not the policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent_rec.h"
#include "form.h"
#include "jsonu.h"
#include "tokreq.h"

#define TOKREQ_MAX_DEPTH 4

void
tokreq_free(struct token_request *r)
{
	json_decref(r->details);
	free((char *)(uintptr_t)r->client_id);
	memset(r, 0, sizeof(*r));
}

static int
get_req_str(json_t *o, const char *key, const char **out, char *err,
    size_t errlen)
{
	switch (jsonu_get_str(o, key, out)) {
	case 0:
		if (**out == '\0') {
			snprintf(err, errlen,
			    "authorization_details[0].%s: must not be empty", key);
			return -1;
		}
		return 0;
	case 1:
		snprintf(err, errlen, "authorization_details[0].%s: missing", key);
		return -1;
	default:
		snprintf(err, errlen,
		    "authorization_details[0].%s: must be a string", key);
		return -1;
	}
}

static int
parse_details(json_t *arr, struct token_request *out, char *err,
    size_t errlen)
{
	json_t *o, *fields, *f, *v;
	const char *key, *type;
	size_t i, j;

	if (!json_is_array(arr) || json_array_size(arr) != 1) {
		snprintf(err, errlen,
		    "authorization_details: must be a JSON array of exactly one "
		    "object");
		return -1;
	}
	o = json_array_get(arr, 0);
	if (!json_is_object(o)) {
		snprintf(err, errlen, "authorization_details[0]: must be an object");
		return -1;
	}
	if (get_req_str(o, "type", &type, err, errlen) != 0)
		return -1;
	if (strcmp(type, "consented_transfer") != 0) {
		snprintf(err, errlen,
		    "authorization_details[0].type: unknown type '%.64s' "
		    "(expected consented_transfer)", type);
		return -1;
	}
	json_object_foreach(o, key, v) {
		if (strcmp(key, "type") != 0 && strcmp(key, "agreement") != 0 &&
		    strcmp(key, "subject") != 0 && strcmp(key, "fields") != 0 &&
		    strcmp(key, "purpose") != 0) {
			snprintf(err, errlen,
			    "authorization_details[0].%.64s: unknown member", key);
			return -1;
		}
	}
	if (get_req_str(o, "agreement", &out->agreement, err, errlen) != 0 ||
	    get_req_str(o, "subject", &out->subject, err, errlen) != 0 ||
	    get_req_str(o, "purpose", &out->purpose, err, errlen) != 0)
		return -1;
	if (strlen(out->agreement) > AGR_MAX_ID ||
	    strlen(out->purpose) > AGR_MAX_ID) {
		snprintf(err, errlen,
		    "authorization_details[0]: agreement and purpose are at most "
		    "%d bytes", AGR_MAX_ID);
		return -1;
	}
	if (consent_subject_ok(out->subject) != 0) {
		snprintf(err, errlen,
		    "authorization_details[0].subject: must be 1 to %d printable "
		    "characters", CONSENT_MAX_SUBJECT);
		return -1;
	}
	fields = json_object_get(o, "fields");
	if (!json_is_array(fields) || json_array_size(fields) == 0 ||
	    json_array_size(fields) > AGR_MAX_FIELDS) {
		snprintf(err, errlen,
		    "authorization_details[0].fields: must be an array of 1 to %d "
		    "field names", AGR_MAX_FIELDS);
		return -1;
	}
	json_array_foreach(fields, i, f) {
		if (!json_is_string(f) || json_string_length(f) == 0 ||
		    json_string_length(f) > AGR_MAX_FIELD_NAME) {
			snprintf(err, errlen,
			    "authorization_details[0].fields[%zu]: must be a field "
			    "name (a string of 1 to %d bytes)", i, AGR_MAX_FIELD_NAME);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(out->fields[j], json_string_value(f)) == 0) {
				snprintf(err, errlen,
				    "authorization_details[0].fields[%zu]: duplicate "
				    "field '%.128s'", i, json_string_value(f));
				return -1;
			}
		out->fields[out->nfields++] = json_string_value(f);
	}
	return 0;
}

int
tokreq_parse(const char *body, size_t len, struct token_request *out,
    const char **oauth_error, char *err, size_t errlen)
{
	struct form f = { 0 };
	const char *gt, *ad, *cid;
	char why[256];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*oauth_error = "invalid_request";
	if (form_parse(body, len, &f, err, errlen) != 0)
		return -1;
	gt = form_get(&f, "grant_type");
	if (gt == NULL) {
		snprintf(err, errlen, "grant_type: missing");
		goto out;
	}
	if (strcmp(gt, "client_credentials") != 0) {
		*oauth_error = "unsupported_grant_type";
		snprintf(err, errlen,
		    "grant_type: '%.64s' is not supported (use client_credentials)",
		    gt);
		goto out;
	}
	cid = form_get(&f, "client_id");
	if (cid != NULL && (out->client_id = strdup(cid)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ad = form_get(&f, "authorization_details");
	if (ad == NULL) {
		snprintf(err, errlen,
		    "authorization_details: missing (a JSON array with one "
		    "consented_transfer object)");
		goto out;
	}
	*oauth_error = "invalid_authorization_details";
	out->details = jsonu_parse(ad, strlen(ad), TOKREQ_MAX_DEPTH, why,
	    sizeof(why));
	if (out->details == NULL) {
		snprintf(err, errlen, "authorization_details: not valid JSON: %s",
		    why);
		goto out;
	}
	if (parse_details(out->details, out, err, errlen) != 0)
		goto out;
	*oauth_error = NULL;
	rc = 0;
out:
	form_free(&f);
	if (rc != 0)
		tokreq_free(out);
	return rc;
}
