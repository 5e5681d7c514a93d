/* Parsing and checking the shape of token requests (not the policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consent_rec.h"
#include "form.h"
#include "jsonu.h"
#include "jtok.h"
#include "tokreq.h"

#define TOKREQ_MAX_DEPTH 4
/* Tokens on the stack: one detail object with the most fields it may
 * name; a longer text is parsed again on the heap (jtok_parse_grow). */
#define TOKREQ_STACK_TOKENS (AGR_MAX_FIELDS + 16)

static const char *const detail_members[] = {
	"type", "agreement", "subject", "fields", "purpose", NULL
};

void
tokreq_free(struct token_request *r)
{
	free(r->strs);
	free((char *)(uintptr_t)r->client_id);
	memset(r, 0, sizeof(*r));
}

/* Decoded strings go into one buffer: the text's length bounds them all
 * (decoding never lengthens), plus a NUL each. */
struct strbuf {
	char *p, *end;
};

static const char *
take_str(const struct jtok_doc *d, int i, struct strbuf *b)
{
	const char *s = b->p;
	size_t n = jtok_str_copy(d, i, b->p, (size_t)(b->end - b->p));

	if (n == (size_t)-1 || n >= (size_t)(b->end - b->p))
		return NULL;
	b->p += n + 1;
	return s;
}

static int
get_req_str(const struct jtok_doc *d, int o, const char *key,
    struct strbuf *b, const char **out, char *err, size_t errlen)
{
	int i;

	switch (jtok_member(d, o, key, JTOK_STRING, &i)) {
	case 0:
		if ((*out = take_str(d, i, b)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
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
parse_details(const struct jtok_doc *d, struct token_request *out,
    struct strbuf *b, char *err, size_t errlen)
{
	const char *type, *f;
	char key[72];
	size_t i, j, m;
	int o, fields, k, it;

	if (jtok_type(d, 0) != JTOK_ARRAY || d->tok[0].size != 1) {
		snprintf(err, errlen,
		    "authorization_details: must be a JSON array of exactly one "
		    "object");
		return -1;
	}
	o = jtok_item(d, 0, 0);
	if (jtok_type(d, o) != JTOK_OBJECT) {
		snprintf(err, errlen, "authorization_details[0]: must be an object");
		return -1;
	}
	if (get_req_str(d, o, "type", b, &type, err, errlen) != 0)
		return -1;
	if (strcmp(type, "consented_transfer") != 0) {
		snprintf(err, errlen,
		    "authorization_details[0].type: unknown type '%.64s' "
		    "(expected consented_transfer)", type);
		return -1;
	}
	/* Members: key tokens, each followed by its value's subtree. */
	for (m = 0, k = o + 1; m < d->tok[o].size; m++,
	    k = (int)d->tok[k + 1].next) {
		for (j = 0; detail_members[j] != NULL; j++)
			if (jtok_str_eq(d, k, detail_members[j]))
				break;
		if (detail_members[j] == NULL) {
			(void)jtok_str_copy(d, k, key, 65);
			snprintf(err, errlen,
			    "authorization_details[0].%s: unknown member", key);
			return -1;
		}
	}
	if (get_req_str(d, o, "agreement", b, &out->agreement, err,
	    errlen) != 0 ||
	    get_req_str(d, o, "subject", b, &out->subject, err, errlen) != 0 ||
	    get_req_str(d, o, "purpose", b, &out->purpose, err, errlen) != 0)
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
	fields = jtok_get(d, o, "fields");
	if (jtok_type(d, fields) != JTOK_ARRAY || d->tok[fields].size == 0 ||
	    d->tok[fields].size > AGR_MAX_FIELDS) {
		snprintf(err, errlen,
		    "authorization_details[0].fields: must be an array of 1 to %d "
		    "field names", AGR_MAX_FIELDS);
		return -1;
	}
	for (i = 0; i < d->tok[fields].size; i++) {
		it = jtok_item(d, fields, i);
		f = jtok_type(d, it) == JTOK_STRING ? take_str(d, it, b) : NULL;
		if (f == NULL || *f == '\0' || strlen(f) > AGR_MAX_FIELD_NAME) {
			snprintf(err, errlen,
			    "authorization_details[0].fields[%zu]: must be a field "
			    "name (a string of 1 to %d bytes)", i, AGR_MAX_FIELD_NAME);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(out->fields[j], f) == 0) {
				snprintf(err, errlen,
				    "authorization_details[0].fields[%zu]: duplicate "
				    "field '%.128s'", i, f);
				return -1;
			}
		out->fields[out->nfields++] = f;
	}
	return 0;
}

int
tokreq_parse(const char *body, size_t len, struct token_request *out,
    const char **oauth_error, char *err, size_t errlen)
{
	struct jtok stack[TOKREQ_STACK_TOKENS], *heap = NULL;
	struct form f = { 0 };
	struct jtok_doc d;
	struct strbuf b;
	const char *gt, *ad, *cid;
	char why[256];
	enum jtok_err jrc;
	size_t adlen;
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
	adlen = strlen(ad);
	jrc = adlen > JTOK_MAX_LEN ? JTOK_INVALID : jtok_parse_grow(&d, ad,
	    adlen, stack, TOKREQ_STACK_TOKENS, &heap, TOKREQ_MAX_DEPTH, why,
	    sizeof(why));
	if (jrc != JTOK_OK) {
		if (jrc == JTOK_NOSPACE)
			snprintf(err, errlen, "out of memory");
		else
			snprintf(err, errlen, "authorization_details: not valid "
			    "JSON: %s", adlen > JTOK_MAX_LEN ? "too long" : why);
		goto out;
	}
	if ((out->strs = malloc(adlen + AGR_MAX_FIELDS + 8)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	b.p = out->strs;
	b.end = out->strs + adlen + AGR_MAX_FIELDS + 8;
	if (parse_details(&d, out, &b, err, errlen) != 0)
		goto out;
	*oauth_error = NULL;
	rc = 0;
out:
	free(heap);
	form_free(&f);
	if (rc != 0)
		tokreq_free(out);
	return rc;
}
