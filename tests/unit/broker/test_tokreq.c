/*
 * Unit tests for the strict form decoder (broker/form.c) and the token
 * request parser on top of it (broker/tokreq.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "form.h"
#include "tokreq.h"

#define ERRLEN 512

/* A good authorization_details value; each test varies one thing. */
#define GOOD_AD                                                         \
	"[{\"type\":\"consented_transfer\","                               \
	"\"agreement\":\"smartstart-ird-number\","                         \
	"\"subject\":\"citizen-42\",\"purpose\":\"issue-ird-number\","   \
	"\"fields\":[\"child.given_names\",\"child.family_name\"]}]"

/* Percent-encodes s as a form value (every non-unreserved byte). */
static char *
urlenc(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i;
	char *out = malloc(3 * n + 1), *o = out;

	assert_non_null(out);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~')
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

#define BODY_MAX 8192

/*
 * "grant_type=client_credentials&authorization_details=<enc(ad)>" into
 * body[BODY_MAX]; nothing is left to free if a later assertion fails.
 */
static const char *
body_with(char *body, const char *ad)
{
	char *enc = urlenc(ad);
	int n = snprintf(body, BODY_MAX,
	    "grant_type=client_credentials&authorization_details=%s", enc);

	free(enc);
	assert_true(n > 0 && n < BODY_MAX);
	return body;
}

/* ---- form_parse ---- */

static void
form_parses_pairs_in_order(void **state)
{
	static const char body[] = "a=1&bb=two&c=";
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.p[0].key, "a");
	assert_string_equal(f.p[0].value, "1");
	assert_string_equal(form_get(&f, "bb"), "two");
	assert_string_equal(form_get(&f, "c"), "");
	assert_null(form_get(&f, "d"));
	form_free(&f);
	assert_int_equal(f.n, 0);
	form_free(&f);   /* safe twice */
}

static void
form_parses_key_without_equals_as_empty_value(void **state)
{
	static const char body[] = "flag&x=1";
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "flag"), "");
	form_free(&f);
}

static void
form_decodes_plus_and_percent_escapes(void **state)
{
	static const char body[] = "k%65y=a+b%20c%2B%2fd%7E&x%5Fy=%C3%A9";
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f, err, sizeof(err)), 0);
	assert_string_equal(form_get(&f, "key"), "a b c+/d~");
	assert_string_equal(form_get(&f, "x_y"), "\xc3\xa9");
	form_free(&f);
}

static void
form_tolerates_empty_pairs(void **state)
{
	static const char body[] = "&a=1&&b=2&";
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse(body, strlen(body), &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "b"), "2");
	form_free(&f);
}

static void
form_parses_empty_body(void **state)
{
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse("", 0, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 0);
	form_free(&f);
}

static void
form_reads_only_len_bytes(void **state)
{
	static const char body[] = "a=1&b=2";
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(form_parse(body, 3, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, 1);
	assert_null(form_get(&f, "b"));
	form_free(&f);
}

static void
expect_form_error(const char *body, size_t len, const char *needle)
{
	struct form f;
	char err[ERRLEN] = "";

	assert_int_equal(form_parse(body, len, &f, err, sizeof(err)), -1);
	assert_int_equal(f.n, 0);
	if (strstr(err, needle) == NULL)
		fail_msg("form_parse(\"%.*s\"): error \"%s\" lacks \"%s\"",
		    (int)len, body, err, needle);
	form_free(&f);
}

static void
form_rejects_non_hex_escape(void **state)
{
	(void)state;
	expect_form_error("a=%G1", 5, "percent-encoding");
	expect_form_error("a=%1G", 5, "percent-encoding");
	expect_form_error("%zz=1", 5, "percent-encoding");
}

static void
form_rejects_trailing_percent(void **state)
{
	(void)state;
	expect_form_error("a=1&b=%", 7, "percent-encoding");
	expect_form_error("b=%&c=1", 7, "percent-encoding");
}

static void
form_rejects_truncated_escape(void **state)
{
	(void)state;
	expect_form_error("a=%2", 4, "percent-encoding");
	expect_form_error("a=%2&b=1", 8, "percent-encoding");
	expect_form_error("a%2=1", 5, "percent-encoding");
}

static void
form_rejects_encoded_nul(void **state)
{
	(void)state;
	expect_form_error("a=x%00y", 7, "NUL");
	expect_form_error("a%00=1", 6, "NUL");
}

static void
form_rejects_raw_nul(void **state)
{
	(void)state;
	expect_form_error("a=x\0y", 5, "byte");
}

static void
form_rejects_duplicate_parameter(void **state)
{
	(void)state;
	expect_form_error("a=1&b=2&a=3", 11, "'a' is given more than once");
	/* The same key after decoding is the same key. */
	expect_form_error("ab=1&%61b=2", 11, "'ab' is given more than once");
	expect_form_error("a=1&a=1", 7, "'a'");
}

static void
form_rejects_empty_key(void **state)
{
	(void)state;
	expect_form_error("=1", 2, "empty name");
	expect_form_error("a=1&=2", 6, "empty name");
}

static void
form_accepts_max_params(void **state)
{
	char body[2048];
	size_t i, n = 0;
	struct form f;
	char err[ERRLEN] = "";

	(void)state;
	for (i = 0; i < FORM_MAX_PARAMS; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%sk%zu=%zu",
		    i ? "&" : "", i, i);
	assert_int_equal(form_parse(body, n, &f, err, sizeof(err)), 0);
	assert_int_equal(f.n, FORM_MAX_PARAMS);
	assert_string_equal(form_get(&f, "k15"), "15");
	form_free(&f);
}

static void
form_rejects_too_many_params(void **state)
{
	char body[2048];
	size_t i, n = 0;

	(void)state;
	for (i = 0; i <= FORM_MAX_PARAMS; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "%sk%zu=%zu",
		    i ? "&" : "", i, i);
	_Static_assert(FORM_MAX_PARAMS == 64, "update the message below");
	expect_form_error(body, n, "more than 64 parameters");
}

/* ---- tokreq_parse ---- */

/* Parses body, which must succeed (no OAuth error code set), into *r. */
static void
expect_parsed(const char *body, size_t len, struct token_request *r)
{
	const char *oe = "unset";
	char err[ERRLEN] = "";

	if (tokreq_parse(body, len, r, &oe, err, sizeof(err)) != 0)
		fail_msg("tokreq_parse: %s", err);
	assert_null(oe);
}

static void
tokreq_parses_good_request(void **state)
{
	char buf[BODY_MAX];
	const char *body = body_with(buf, GOOD_AD);
	struct token_request r;

	(void)state;
	expect_parsed(body, strlen(body), &r);
	assert_string_equal(r.agreement, "smartstart-ird-number");
	assert_string_equal(r.subject, "citizen-42");
	assert_string_equal(r.purpose, "issue-ird-number");
	assert_int_equal(r.nfields, 2);
	assert_string_equal(r.fields[0], "child.given_names");
	assert_string_equal(r.fields[1], "child.family_name");
	assert_null(r.client_id);
	assert_non_null(r.strs);
	tokreq_free(&r);
	assert_null(r.strs);
	tokreq_free(&r);   /* safe on a zeroed struct */
}

/* Strings are decoded: escapes in values, in field names and in keys. */
static void
tokreq_decodes_escaped_strings(void **state)
{
	char buf[BODY_MAX];
	const char *body = body_with(buf,
	    "[{\"t\\u0079pe\":\"consented_transfer\","
	    "\"agreement\":\"smartstart-ird-number\","
	    "\"subject\":\"M\\u0101ori \\\"q\\\"\",\"purpose\":\"p\","
	    "\"fields\":[\"child.given_names\",\"a\\/b\"]}]");
	struct token_request r;

	(void)state;
	expect_parsed(body, strlen(body), &r);
	assert_string_equal(r.subject, "M\xc4\x81ori \"q\"");
	assert_int_equal(r.nfields, 2);
	assert_string_equal(r.fields[1], "a/b");
	tokreq_free(&r);
}

static void
tokreq_keeps_client_id(void **state)
{
	char *ad = urlenc(GOOD_AD), body[1024];
	struct token_request r;

	(void)state;
	snprintf(body, sizeof(body), "client_id=ird+client&authorization_details"
	    "=%s&grant_type=client_credentials", ad);
	free(ad);
	expect_parsed(body, strlen(body), &r);
	assert_non_null(r.client_id);
	assert_string_equal(r.client_id, "ird client");
	tokreq_free(&r);
}

static void
tokreq_accepts_plus_encoded_subject_space(void **state)
{
	static const char body[] =
	    "grant_type=client_credentials&authorization_details="
	    "%5B%7B%22type%22:%22consented_transfer%22,%22agreement%22:%22a%22,"
	    "%22subject%22:%22Jane+Doe%22,%22purpose%22:%22p%22,"
	    "%22fields%22:%5B%22f%22%5D%7D%5D";
	struct token_request r;

	(void)state;
	expect_parsed(body, strlen(body), &r);
	assert_string_equal(r.subject, "Jane Doe");
	tokreq_free(&r);
}

/* Parses body, expects failure with oauth code and err containing needle. */
static void
expect_tokreq_error_body(const char *body, size_t len, const char *oauth,
    const char *needle)
{
	struct token_request r;
	const char *oe = NULL;
	char err[ERRLEN] = "";

	if (tokreq_parse(body, len, &r, &oe, err, sizeof(err)) == 0) {
		tokreq_free(&r);
		fail_msg("tokreq_parse accepted \"%.*s\"", (int)len, body);
	}
	assert_non_null(oe);
	assert_string_equal(oe, oauth);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_null(r.strs);
	assert_null(r.client_id);
	assert_int_equal(r.nfields, 0);
}

/* As above with authorization_details = ad. */
static void
expect_ad_error(const char *ad, const char *needle)
{
	char buf[BODY_MAX];
	const char *body = body_with(buf, ad);

	expect_tokreq_error_body(body, strlen(body),
	    "invalid_authorization_details", needle);
}

static void
tokreq_rejects_bad_form_encoding(void **state)
{
	static const char bad1[] = "grant_type=client_credentials&x=%G1";
	static const char bad2[] = "grant_type=client_credentials&x=%";
	static const char bad3[] = "grant_type=client_credentials&x=%2";
	static const char nul[] = "grant_type=client_credentials&x=a%00";

	(void)state;
	expect_tokreq_error_body(bad1, strlen(bad1), "invalid_request",
	    "percent-encoding");
	expect_tokreq_error_body(bad2, strlen(bad2), "invalid_request",
	    "percent-encoding");
	expect_tokreq_error_body(bad3, strlen(bad3), "invalid_request",
	    "percent-encoding");
	expect_tokreq_error_body(nul, strlen(nul), "invalid_request", "NUL");
}

static void
tokreq_rejects_duplicate_parameter(void **state)
{
	static const char body[] =
	    "grant_type=client_credentials&grant_type=client_credentials";

	(void)state;
	expect_tokreq_error_body(body, strlen(body), "invalid_request",
	    "'grant_type' is given more than once");
}

static void
tokreq_rejects_too_many_parameters(void **state)
{
	char body[512];
	size_t i, n;

	(void)state;
	n = (size_t)snprintf(body, sizeof(body), "grant_type=client_credentials");
	for (i = 0; i < FORM_MAX_PARAMS; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "&x%zu=1", i);
	expect_tokreq_error_body(body, n, "invalid_request", "parameters");
}

static void
tokreq_rejects_empty_parameter_name(void **state)
{
	static const char body[] = "grant_type=client_credentials&=x";

	(void)state;
	expect_tokreq_error_body(body, strlen(body), "invalid_request",
	    "empty name");
}

static void
tokreq_rejects_missing_grant_type(void **state)
{
	static const char body[] = "authorization_details=%5B%5D";

	(void)state;
	expect_tokreq_error_body(body, strlen(body), "invalid_request",
	    "grant_type: missing");
}

static void
tokreq_rejects_other_grant_type(void **state)
{
	static const char body[] =
	    "grant_type=authorization_code&authorization_details=%5B%5D";

	(void)state;
	expect_tokreq_error_body(body, strlen(body), "unsupported_grant_type",
	    "'authorization_code'");
}

static void
tokreq_rejects_missing_authorization_details(void **state)
{
	static const char body[] = "grant_type=client_credentials&client_id=x";

	(void)state;
	expect_tokreq_error_body(body, strlen(body), "invalid_request",
	    "authorization_details: missing");
}

static void
tokreq_rejects_invalid_json(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":", "authorization_details: not valid JSON");
	expect_ad_error(GOOD_AD " x", "authorization_details: not valid JSON");
	expect_ad_error("", "authorization_details: not valid JSON");
}

static void
tokreq_rejects_duplicate_json_keys(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":\"consented_transfer\","
	    "\"agreement\":\"a\",\"agreement\":\"b\",\"subject\":\"s\","
	    "\"purpose\":\"p\",\"fields\":[\"f\"]}]",
	    "authorization_details: not valid JSON");
}

static void
tokreq_rejects_too_deep_json(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":\"consented_transfer\",\"agreement\":\"a\","
	    "\"subject\":\"s\",\"purpose\":\"p\",\"fields\":[[[[\"f\"]]]]}]",
	    "authorization_details: not valid JSON");
}

static void
tokreq_rejects_details_not_array(void **state)
{
	(void)state;
	expect_ad_error("{\"type\":\"consented_transfer\"}",
	    "authorization_details: must be a JSON array");
	expect_ad_error("\"consented_transfer\"",
	    "authorization_details: must be a JSON array");
}

static void
tokreq_rejects_empty_details_array(void **state)
{
	(void)state;
	expect_ad_error("[]", "authorization_details: must be a JSON array of "
	    "exactly one object");
}

static void
tokreq_rejects_two_detail_objects(void **state)
{
	char ad[1024];

	(void)state;
	/* Two copies of the good object in one array. */
	snprintf(ad, sizeof(ad), "%.*s,%s", (int)strlen(GOOD_AD) - 1, GOOD_AD,
	    GOOD_AD + 1);
	expect_ad_error(ad, "exactly one object");
}

static void
tokreq_rejects_non_object_detail(void **state)
{
	(void)state;
	expect_ad_error("[\"consented_transfer\"]",
	    "authorization_details[0]: must be an object");
	expect_ad_error("[[]]", "authorization_details[0]: must be an object");
}

static void
tokreq_rejects_wrong_detail_type(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":\"payment_initiation\",\"agreement\":\"a\","
	    "\"subject\":\"s\",\"purpose\":\"p\",\"fields\":[\"f\"]}]",
	    "authorization_details[0].type: unknown type 'payment_initiation'");
	expect_ad_error("[{\"agreement\":\"a\",\"subject\":\"s\",\"purpose\":"
	    "\"p\",\"fields\":[\"f\"]}]", "authorization_details[0].type: missing");
	expect_ad_error("[{\"type\":7,\"agreement\":\"a\",\"subject\":\"s\","
	    "\"purpose\":\"p\",\"fields\":[\"f\"]}]",
	    "authorization_details[0].type: must be a string");
}

static void
tokreq_rejects_unknown_member(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":\"consented_transfer\",\"agreement\":\"a\","
	    "\"subject\":\"s\",\"purpose\":\"p\",\"fields\":[\"f\"],"
	    "\"locations\":[\"x\"]}]",
	    "authorization_details[0].locations: unknown member");
}

/* The details object with member `name` replaced by `json` (NULL: left out). */
static void
expect_member_error(const char *name, const char *json, const char *needle)
{
	const char *names[] = { "agreement", "subject", "purpose" };
	const char *vals[] = { "\"a\"", "\"s\"", "\"p\"" };
	char ad[1024];
	size_t i, n;

	n = (size_t)snprintf(ad, sizeof(ad), "[{\"type\":\"consented_transfer\"");
	for (i = 0; i < 3; i++) {
		const char *v = strcmp(names[i], name) == 0 ? json : vals[i];

		if (v != NULL)
			n += (size_t)snprintf(ad + n, sizeof(ad) - n, ",\"%s\":%s",
			    names[i], v);
	}
	snprintf(ad + n, sizeof(ad) - n, ",\"fields\":[\"f\"]}]");
	expect_ad_error(ad, needle);
}

static void
tokreq_rejects_missing_empty_or_non_string_member(void **state)
{
	static const char *const members[] = { "agreement", "subject", "purpose" };
	char needle[128];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(needle, sizeof(needle),
		    "authorization_details[0].%s: missing", members[i]);
		expect_member_error(members[i], NULL, needle);
		snprintf(needle, sizeof(needle),
		    "authorization_details[0].%s: must not be empty", members[i]);
		expect_member_error(members[i], "\"\"", needle);
		snprintf(needle, sizeof(needle),
		    "authorization_details[0].%s: must be a string", members[i]);
		expect_member_error(members[i], "42", needle);
		expect_member_error(members[i], "[\"x\"]", needle);
		expect_member_error(members[i], "null", needle);
	}
}

static void
tokreq_rejects_overlong_agreement_and_purpose(void **state)
{
	char v[80];

	(void)state;
	memset(v, 'a', sizeof(v));
	v[0] = '"';
	v[66] = '"';
	v[67] = '\0';   /* 65 bytes between the quotes */
	expect_member_error("agreement", v, "agreement");
	expect_member_error("purpose", v, "purpose");
}

static void
tokreq_rejects_subject_with_control_chars(void **state)
{
	(void)state;
	expect_member_error("subject", "\"ab\\u0001c\"",
	    "authorization_details[0].subject");
	expect_member_error("subject", "\"ab\\nc\"",
	    "authorization_details[0].subject");
	expect_member_error("subject", "\"ab\\u007fc\"",
	    "authorization_details[0].subject");
	expect_member_error("subject", "\" abc\"",
	    "authorization_details[0].subject");
	expect_member_error("subject", "\"abc \"",
	    "authorization_details[0].subject");
}

static void
tokreq_rejects_subject_with_c1_control_chars(void **state)
{
	(void)state;
	/* U+0085 NEL and U+009B CSI are control characters too. */
	expect_member_error("subject", "\"ab\\u0085c\"",
	    "authorization_details[0].subject");
	expect_member_error("subject", "\"ab\\u009b2Jc\"",
	    "authorization_details[0].subject");
}

static void
tokreq_rejects_overlong_subject(void **state)
{
	char v[300];

	(void)state;
	memset(v, 's', sizeof(v));
	v[0] = '"';
	v[257] = '"';
	v[258] = '\0';   /* 256 bytes */
	expect_member_error("subject", v, "authorization_details[0].subject");
}

/* The good object with "fields": json. */
static void
expect_fields_error(const char *json, const char *needle)
{
	char ad[4096];

	snprintf(ad, sizeof(ad), "[{\"type\":\"consented_transfer\","
	    "\"agreement\":\"a\",\"subject\":\"s\",\"purpose\":\"p\","
	    "\"fields\":%s}]", json);
	expect_ad_error(ad, needle);
}

static void
tokreq_rejects_bad_fields(void **state)
{
	char longf[200];

	(void)state;
	expect_fields_error("\"child.given_names\"",
	    "authorization_details[0].fields: must be an array");
	expect_fields_error("{}",
	    "authorization_details[0].fields: must be an array");
	expect_fields_error("[]",
	    "authorization_details[0].fields: must be an array");
	expect_fields_error("[\"a\",7]", "authorization_details[0].fields[1]");
	expect_fields_error("[\"a\",\"\"]", "authorization_details[0].fields[1]");
	expect_fields_error("[\"a\",\"b\",\"a\"]",
	    "authorization_details[0].fields[2]: duplicate field 'a'");
	memset(longf, 'f', sizeof(longf));
	longf[0] = '[';
	longf[1] = '"';
	longf[131] = '"';
	longf[132] = ']';
	longf[133] = '\0';   /* 129 bytes */
	expect_fields_error(longf, "authorization_details[0].fields[0]");
}

static void
tokreq_rejects_missing_fields(void **state)
{
	(void)state;
	expect_ad_error("[{\"type\":\"consented_transfer\",\"agreement\":\"a\","
	    "\"subject\":\"s\",\"purpose\":\"p\"}]",
	    "authorization_details[0].fields");
}

static void
tokreq_accepts_max_length_field_name(void **state)
{
	char ad[512], name[129];
	char buf[BODY_MAX];
	const char *body;
	struct token_request r;

	(void)state;
	memset(name, 'f', 128);
	name[128] = '\0';
	snprintf(ad, sizeof(ad), "[{\"type\":\"consented_transfer\","
	    "\"agreement\":\"a\",\"subject\":\"s\",\"purpose\":\"p\","
	    "\"fields\":[\"%s\"]}]", name);
	body = body_with(buf, ad);
	expect_parsed(body, strlen(body), &r);
	assert_int_equal(strlen(r.fields[0]), 128);
	tokreq_free(&r);
}

/* More values than the parser's stack holds: parsed on the heap, then
 * refused for its size, with nothing left to free. */
static void
tokreq_refuses_too_many_fields_parsed_on_the_heap(void **state)
{
	char ad[BODY_MAX / 4], *p = ad;
	size_t i;

	(void)state;
	p += snprintf(p, sizeof(ad), "[{\"type\":\"consented_transfer\","
	    "\"agreement\":\"a\",\"subject\":\"s\",\"purpose\":\"p\","
	    "\"fields\":[");
	for (i = 0; i < 200; i++)
		p += snprintf(p, sizeof(ad) - (size_t)(p - ad), "%s\"f%zu\"",
		    i > 0 ? "," : "", i);
	snprintf(p, sizeof(ad) - (size_t)(p - ad), "]}]");
	expect_ad_error(ad, "fields: must be an array of 1 to 128 field names");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_parses_pairs_in_order),
		cmocka_unit_test(form_parses_key_without_equals_as_empty_value),
		cmocka_unit_test(form_decodes_plus_and_percent_escapes),
		cmocka_unit_test(form_tolerates_empty_pairs),
		cmocka_unit_test(form_parses_empty_body),
		cmocka_unit_test(form_reads_only_len_bytes),
		cmocka_unit_test(form_rejects_non_hex_escape),
		cmocka_unit_test(form_rejects_trailing_percent),
		cmocka_unit_test(form_rejects_truncated_escape),
		cmocka_unit_test(form_rejects_encoded_nul),
		cmocka_unit_test(form_rejects_raw_nul),
		cmocka_unit_test(form_rejects_duplicate_parameter),
		cmocka_unit_test(form_rejects_empty_key),
		cmocka_unit_test(form_accepts_max_params),
		cmocka_unit_test(form_rejects_too_many_params),
		cmocka_unit_test(tokreq_parses_good_request),
		cmocka_unit_test(tokreq_keeps_client_id),
		cmocka_unit_test(tokreq_accepts_plus_encoded_subject_space),
		cmocka_unit_test(tokreq_rejects_bad_form_encoding),
		cmocka_unit_test(tokreq_rejects_duplicate_parameter),
		cmocka_unit_test(tokreq_rejects_too_many_parameters),
		cmocka_unit_test(tokreq_rejects_empty_parameter_name),
		cmocka_unit_test(tokreq_rejects_missing_grant_type),
		cmocka_unit_test(tokreq_rejects_other_grant_type),
		cmocka_unit_test(tokreq_rejects_missing_authorization_details),
		cmocka_unit_test(tokreq_rejects_invalid_json),
		cmocka_unit_test(tokreq_rejects_duplicate_json_keys),
		cmocka_unit_test(tokreq_rejects_too_deep_json),
		cmocka_unit_test(tokreq_rejects_details_not_array),
		cmocka_unit_test(tokreq_rejects_empty_details_array),
		cmocka_unit_test(tokreq_rejects_two_detail_objects),
		cmocka_unit_test(tokreq_rejects_non_object_detail),
		cmocka_unit_test(tokreq_rejects_wrong_detail_type),
		cmocka_unit_test(tokreq_rejects_unknown_member),
		cmocka_unit_test(tokreq_rejects_missing_empty_or_non_string_member),
		cmocka_unit_test(tokreq_rejects_overlong_agreement_and_purpose),
		cmocka_unit_test(tokreq_rejects_subject_with_control_chars),
		cmocka_unit_test(tokreq_rejects_subject_with_c1_control_chars),
		cmocka_unit_test(tokreq_rejects_overlong_subject),
		cmocka_unit_test(tokreq_rejects_bad_fields),
		cmocka_unit_test(tokreq_rejects_missing_fields),
		cmocka_unit_test(tokreq_accepts_max_length_field_name),
		cmocka_unit_test(tokreq_decodes_escaped_strings),
		cmocka_unit_test(tokreq_refuses_too_many_fields_parsed_on_the_heap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
