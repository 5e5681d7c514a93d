/* Unit tests for the agreement parser and validator (agreements/agreement.c). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agreement.h"
#include "fsu.h"

#define EXAMPLES_DIR "agreements/examples"
#define ERRLEN 512

#define ID_RULE    "must match ^[a-z0-9][a-z0-9-]{0,63}$"
#define FIELD_RULE "must match ^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$ " \
	"and be at most 128 bytes long"
#define TTL_RULE   "must be an integer from 1 to 3600"
#define TIME_RULE  "must be an RFC 3339 date-time after 1970-01-01T00:00:00Z"

/* A small valid document; each rejection test breaks exactly one thing. */
static const char base_text[] =
	"{\"id\":\"test-agreement\",\"version\":1,\"title\":\"Test agreement\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\",\"msd\"],"
	"\"purposes\":[\"issue-ird-number\",\"update-benefit-household\"],"
	"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"Given names.\"},"
	"{\"name\":\"child.family_name\",\"description\":\"Family name.\"},"
	"{\"name\":\"child.birth_date\",\"description\":\"Date of birth.\","
	"\"optional\":true}],"
	"\"legal_basis\":{\"type\":\"consent\"},\"consent\":{\"required\":true},"
	"\"token_ttl_seconds\":300,\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

/* Hex SHA-256 of the RFC 8785 form of base_text, computed independently. */
#define BASE_HASH "c1c6bb630fe1ad397bdd77d083dcf8d29abc53af3e312e7976d7a8a0ac214eff"
/* The same with title "Te Tari Taiwhenua \u2014 wh\u0101nau". */
#define BASE_UTF8_HASH "702faaad4cf0b24625d1ba303e020f0212f5eb99c57a233007be769923ccf3c9"

/* Version 1 of examples/msd-community-services-card.json. */
static const char csc_v1_text[] =
	"{\"id\":\"msd-community-services-card\",\"version\":1,\"title\":\"Community"
	" Services Card status for hardship and fee concessions\",\"provider\""
	":\"msd\",\"recipients\":[\"ird\",\"wcc\"],\"purposes\":[\"assess-financial-ha"
	"rdship\",\"assess-fee-concession\"],\"fields\":[{\"name\":\"client.given_n"
	"ames\",\"description\":\"The cardholder's given names as MSD holds the"
	"m.\"},{\"name\":\"client.family_name\",\"description\":\"The cardholder's "
	"family name as MSD holds them.\"},{\"name\":\"client.birth_date\",\"desc"
	"ription\":\"The cardholder's date of birth (YYYY-MM-DD).\"},{\"name\":\""
	"card.status\",\"description\":\"Whether the person holds a current Com"
	"munity Services Card: current, expired or none.\"},{\"name\":\"card.ex"
	"piry_date\",\"description\":\"The expiry date of the current card (YYY"
	"Y-MM-DD).\",\"optional\":true}],\"legal_basis\":{\"type\":\"consent\"},\"con"
	"sent\":{\"required\":true,\"max_duration_days\":365},\"token_ttl_seconds"
	"\":300,\"valid_from\":\"2025-01-01T00:00:00Z\",\"valid_until\":\"2027-12-3"
	"1T23:59:59Z\",\"limits\":{\"transfers_per_subject_per_day\":3},\"retenti"
	"on\":{\"days\":730,\"disposal\":\"delete\"},\"onward_sharing\":{\"allowed\":f"
	"alse}}";

static json_t *
base(void)
{
	json_error_t jerr;
	json_t *doc = json_loads(base_text, 0, &jerr);

	assert_non_null(doc);
	return doc;
}

static char *
read_text(const char *path, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(fsu_read_file(path, AGR_MAX_DOC_BYTES * 2, &buf, len), 0);
	assert_non_null(buf);
	return buf;
}

static struct agreement *
parse_file(const char *path)
{
	char err[ERRLEN] = "";
	size_t len;
	char *buf = read_text(path, &len);
	struct agreement *a = agreement_parse(buf, len, err, sizeof(err));

	if (a == NULL)
		fail_msg("%s: %s", path, err);
	free(buf);
	return a;
}

/* Parses text, expects a rejection with exactly want; returns nothing. */
static void
reject_text(const char *text, const char *want)
{
	char err[ERRLEN] = "";
	struct agreement *a = agreement_parse(text, strlen(text), err,
	    sizeof(err));

	if (a != NULL) {
		agreement_free(a);
		fail_msg("accepted, wanted \"%s\"", want);
	}
	assert_string_equal(err, want);
}

/*
 * Expects doc to be rejected with exactly want, both as text through
 * agreement_parse and as a tree through agreement_from_json. Consumes doc.
 */
static void
reject(json_t *doc, const char *want)
{
	char err[ERRLEN] = "";
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct agreement *a;

	assert_non_null(text);
	reject_text(text, want);
	free(text);

	a = agreement_from_json(doc, err, sizeof(err));
	if (a != NULL) {
		agreement_free(a);
		fail_msg("from_json accepted, wanted \"%s\"", want);
	}
	assert_string_equal(err, want);
	json_decref(doc);
}

/* Expects doc to be accepted; returns the agreement. Consumes doc. */
static struct agreement *
accept(json_t *doc)
{
	char err[ERRLEN] = "";
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct agreement *a;

	assert_non_null(text);
	a = agreement_parse(text, strlen(text), err, sizeof(err));
	free(text);
	json_decref(doc);
	if (a == NULL)
		fail_msg("rejected: %s", err);
	return a;
}

static void
accept_free(json_t *doc)
{
	agreement_free(accept(doc));
}

/* base_text with the first occurrence of from replaced by to; caller frees. */
static char *
replace(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	size_t head, len;
	char *out;

	assert_non_null(at);
	head = (size_t)(at - text);
	len = strlen(text) - strlen(from) + strlen(to);
	out = malloc(len + 1);
	assert_non_null(out);
	memcpy(out, text, head);
	memcpy(out + head, to, strlen(to));
	memcpy(out + head + strlen(to), at + strlen(from),
	    strlen(at + strlen(from)) + 1);
	return out;
}

static void
reject_replaced(const char *from, const char *to, const char *want)
{
	char *text = replace(base_text, from, to);

	reject_text(text, want);
	free(text);
}

/* Asserts that err starts with prefix. */
static void
assert_prefix(const char *err, const char *prefix)
{
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, prefix);
}

static json_t *
field(json_t *doc, size_t i)
{
	json_t *f = json_array_get(json_object_get(doc, "fields"), i);

	assert_non_null(f);
	return f;
}

static json_t *
member(json_t *doc, const char *key)
{
	json_t *m = json_object_get(doc, key);

	assert_non_null(m);
	return m;
}

/* A string of n copies of c; caller frees. */
static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- the examples ---- */

static void
every_example_validates(void **state)
{
	DIR *d = opendir(EXAMPLES_DIR);
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[512], id[256];
		size_t len = strlen(de->d_name);
		struct agreement *a;

		if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		assert_int_equal(fsu_join(path, sizeof(path), EXAMPLES_DIR,
		    de->d_name), 0);
		a = parse_file(path);
		assert_non_null(a);
		/* File names are <id>.json. */
		assert_true(len - 5 < sizeof(id));
		memcpy(id, de->d_name, len - 5);
		id[len - 5] = '\0';
		assert_string_equal(a->id, id);
		assert_int_equal(strlen(a->hash), 64);
		agreement_free(a);
		n++;
	}
	closedir(d);
	assert_true(n >= 3);
}

static void
smartstart_example_has_the_agreed_terms(void **state)
{
	static const char *const required[] = {
		"child.given_names", "child.family_name", "child.birth_date",
		"parent.given_names", "parent.family_name"
	};
	struct agreement *a;
	size_t i;

	(void)state;
	a = parse_file(EXAMPLES_DIR "/smartstart-ird-number.json");
	assert_non_null(a);
	assert_string_equal(a->id, "smartstart-ird-number");
	assert_int_equal(a->version, 1);
	assert_null(a->previous_hash);
	assert_string_equal(a->provider, "dia");
	assert_int_equal(a->nrecipients, 1);
	assert_string_equal(a->recipients[0], "ird");
	assert_int_equal(a->npurposes, 1);
	assert_string_equal(a->purposes[0], "issue-ird-number");
	assert_int_equal(a->basis, AGR_BASIS_CONSENT);
	assert_true(a->consent_required);
	assert_true(a->token_ttl_seconds >= 1 && a->token_ttl_seconds <= 300);
	assert_true(a->max_per_subject_per_day > 0);
	assert_int_equal(a->valid_from, 1735689600); /* 2025-01-01T00:00:00Z */
	assert_true(a->valid_until > a->valid_from);
	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		const struct agr_field *f = agreement_field(a, required[i]);

		assert_non_null(f);
		assert_false(f->optional);
	}
	/* Beyond the five, only child.sex and child.birth_place, optional. */
	for (i = 0; i < a->nfields; i++) {
		const char *name = a->fields[i].name;

		if (strcmp(name, "child.sex") == 0 ||
		    strcmp(name, "child.birth_place") == 0)
			assert_true(a->fields[i].optional);
		else
			assert_false(a->fields[i].optional);
	}
	assert_true(a->nfields >= 5 && a->nfields <= 7);
	agreement_free(a);
}

static void
statutory_example_needs_no_consent(void **state)
{
	struct agreement *a;

	(void)state;
	a = parse_file(EXAMPLES_DIR "/dia-msd-birth-notification.json");
	assert_non_null(a);
	assert_int_equal(a->basis, AGR_BASIS_STATUTE);
	assert_non_null(a->basis_reference);
	assert_false(a->consent_required);
	assert_int_equal(a->consent_max_seconds, 0);
	assert_true(agreement_has_recipient(a, "msd"));
	assert_true(agreement_has_purpose(a, "update-benefit-household"));
	agreement_free(a);
}

static void
versioned_example_chains_to_its_previous_version(void **state)
{
	char err[ERRLEN] = "";
	struct agreement *v1, *v2;

	(void)state;
	v1 = agreement_parse(csc_v1_text, strlen(csc_v1_text), err,
	    sizeof(err));
	if (v1 == NULL)
		fail_msg("v1: %s", err);
	v2 = parse_file(EXAMPLES_DIR "/msd-community-services-card.json");
	assert_non_null(v2);
	assert_int_equal(v1->version, 1);
	assert_int_equal(v2->version, 2);
	assert_string_equal(v2->id, v1->id);
	assert_non_null(v2->previous_hash);
	assert_string_equal(v2->previous_hash, v1->hash);
	agreement_free(v1);
	agreement_free(v2);
}

/* ---- what a valid document gives ---- */

static void
base_document_gets_the_documented_defaults(void **state)
{
	struct agreement *a;

	(void)state;
	a = accept(base());
	assert_string_equal(a->id, "test-agreement");
	assert_string_equal(a->title, "Test agreement");
	assert_null(a->previous_hash);
	assert_null(a->basis_reference);
	assert_int_equal(a->nfields, 3);
	assert_false(a->fields[0].optional);
	assert_true(a->fields[2].optional);
	assert_string_equal(a->fields[1].description, "Family name.");
	assert_int_equal(a->consent_max_seconds, 0);
	assert_int_equal(a->valid_from, 0);
	assert_int_equal(a->valid_until, 0);
	assert_int_equal(a->max_per_subject_per_day, 0);
	assert_int_equal(a->token_ttl_seconds, 300);
	assert_non_null(a->doc);
	agreement_free(a);
}

static void
optional_members_are_converted(void **state)
{
	json_t *doc = base();
	struct agreement *a;

	(void)state;
	json_object_set_new(member(doc, "consent"), "max_duration_days",
	    json_integer(365));
	json_object_set_new(doc, "valid_from",
	    json_string("2025-01-01T13:00:00+13:00"));
	json_object_set_new(doc, "valid_until",
	    json_string("2030-12-31T23:59:59Z"));
	json_object_set_new(doc, "limits",
	    json_pack("{s:i}", "transfers_per_subject_per_day", 5));
	json_object_set_new(member(doc, "legal_basis"), "reference",
	    json_string("Privacy Act 2020, IPP 11(1)(d)"));
	json_object_set_new(doc, "description",
	    json_string("Two lines.\nOf description."));
	a = accept(doc);
	assert_int_equal(a->consent_max_seconds, 365 * 86400);
	assert_int_equal(a->valid_from, 1735689600);
	assert_int_equal(a->valid_until, 1924991999);
	assert_int_equal(a->max_per_subject_per_day, 5);
	assert_string_equal(a->basis_reference,
	    "Privacy Act 2020, IPP 11(1)(d)");
	agreement_free(a);
}

static void
boundary_values_are_accepted(void **state)
{
	json_t *doc;
	char *id64 = repeat('a', 64), *name128 = repeat('x', 128);
	char *text2048 = repeat('t', 2048);

	(void)state;
	doc = base();
	json_object_set_new(doc, "id", json_string(id64));
	json_object_set_new(doc, "title", json_string(text2048));
	json_object_set_new(field(doc, 0), "name", json_string(name128));
	json_object_set_new(doc, "token_ttl_seconds", json_integer(3600));
	json_object_set_new(doc, "limits", json_object()); /* member optional */
	json_object_set_new(member(doc, "retention"), "days",
	    json_integer(36500));
	accept_free(doc);

	doc = base();
	json_object_set_new(doc, "token_ttl_seconds", json_integer(1));
	json_object_set_new(doc, "id", json_string("0"));
	json_object_set_new(field(doc, 0), "name",
	    json_string("a.b_2.c3"));
	json_object_set_new(member(doc, "onward_sharing"), "allowed",
	    json_true());
	json_object_set_new(member(doc, "onward_sharing"), "conditions",
	    json_string("Only to the Department of Internal Affairs."));
	accept_free(doc);

	free(id64);
	free(name128);
	free(text2048);
}

/* ---- rejections, one rule each ---- */

static void
rejects_unknown_members_everywhere(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "foo", json_true());
	reject(doc, "$.foo: unknown member");

	doc = base();
	json_object_set_new(field(doc, 1), "colour", json_string("red"));
	reject(doc, "$.fields[1].colour: unknown member");

	doc = base();
	json_object_set_new(member(doc, "legal_basis"), "act", json_null());
	reject(doc, "$.legal_basis.act: unknown member");

	doc = base();
	json_object_set_new(member(doc, "consent"), "revocable", json_true());
	reject(doc, "$.consent.revocable: unknown member");

	doc = base();
	json_object_set_new(doc, "limits", json_pack("{s:i}", "per_day", 3));
	reject(doc, "$.limits.per_day: unknown member");

	doc = base();
	json_object_set_new(member(doc, "retention"), "years", json_integer(1));
	reject(doc, "$.retention.years: unknown member");

	doc = base();
	json_object_set_new(member(doc, "onward_sharing"), "to", json_null());
	reject(doc, "$.onward_sharing.to: unknown member");
}

static void
unknown_member_with_odd_key_is_escaped_in_one_line(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "a \"b\"\n", json_true());
	reject(doc, "$[\"a \\x22b\\x22\\x0a\"]: unknown member");
}

static void
rejects_missing_required_members(void **state)
{
	static const char *const keys[] = {
		"id", "version", "title", "provider", "recipients", "purposes",
		"fields", "legal_basis", "consent", "token_ttl_seconds",
		"retention", "onward_sharing"
	};
	char want[128];
	size_t i;
	json_t *doc;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		doc = base();
		assert_int_equal(json_object_del(doc, keys[i]), 0);
		snprintf(want, sizeof(want), "$.%s: is required", keys[i]);
		reject(doc, want);
	}

	doc = base();
	json_object_del(field(doc, 2), "description");
	reject(doc, "$.fields[2].description: is required");

	doc = base();
	json_object_del(field(doc, 0), "name");
	reject(doc, "$.fields[0].name: is required");

	doc = base();
	json_object_del(member(doc, "legal_basis"), "type");
	reject(doc, "$.legal_basis.type: is required");

	doc = base();
	json_object_del(member(doc, "consent"), "required");
	reject(doc, "$.consent.required: is required");

	doc = base();
	json_object_del(member(doc, "retention"), "disposal");
	reject(doc, "$.retention.disposal: is required");

	doc = base();
	json_object_del(member(doc, "onward_sharing"), "allowed");
	reject(doc, "$.onward_sharing.allowed: is required");
}

static void
rejects_wrong_types(void **state)
{
	json_t *doc;

	(void)state;
	reject_text("[]", "$: must be an object");
	reject_text("\"agreement\"", "$: must be an object");

	doc = base();
	json_object_set_new(doc, "id", json_integer(7));
	reject(doc, "$.id: must be a string");

	doc = base();
	json_object_set_new(doc, "version", json_string("1"));
	reject(doc, "$.version: must be an integer from 1 to 4294967295");

	doc = base();
	json_object_set_new(doc, "title", json_false());
	reject(doc, "$.title: must be a string");

	doc = base();
	json_object_set_new(doc, "recipients", json_string("ird"));
	reject(doc, "$.recipients: must be an array");

	doc = base();
	json_array_set_new(member(doc, "purposes"), 1, json_integer(1));
	reject(doc, "$.purposes[1]: must be a string");

	doc = base();
	json_object_set_new(doc, "fields", json_object());
	reject(doc, "$.fields: must be an array");

	doc = base();
	json_array_set_new(member(doc, "fields"), 0, json_string("x"));
	reject(doc, "$.fields[0]: must be an object");

	doc = base();
	json_object_set_new(field(doc, 2), "optional", json_string("yes"));
	reject(doc, "$.fields[2].optional: must be a boolean");

	doc = base();
	json_object_set_new(doc, "legal_basis", json_string("consent"));
	reject(doc, "$.legal_basis: must be an object");

	doc = base();
	json_object_set_new(member(doc, "consent"), "required",
	    json_integer(1));
	reject(doc, "$.consent.required: must be a boolean");

	doc = base();
	json_object_set_new(doc, "token_ttl_seconds", json_string("300"));
	reject(doc, "$.token_ttl_seconds: " TTL_RULE);

	doc = base();
	json_object_set_new(doc, "valid_from", json_integer(1735689600));
	reject(doc, "$.valid_from: must be an RFC 3339 date-time string");

	doc = base();
	json_object_set_new(doc, "limits", json_array());
	reject(doc, "$.limits: must be an object");

	doc = base();
	json_object_set_new(member(doc, "retention"), "disposal",
	    json_integer(1));
	reject(doc, "$.retention.disposal: must be \"delete\", \"archive\" "
	    "or \"return\"");
}

static void
rejects_bad_id_patterns(void **state)
{
	static const char *const bad[] = {
		"Test", "-test", "test_agreement", "test agreement", "", "t\x01",
		"t\xc3\xabst"
	};
	char *id65 = repeat('a', 65);
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = base();
		json_object_set_new(doc, "id", json_string(bad[i]));
		reject(doc, "$.id: " ID_RULE);
	}
	doc = base();
	json_object_set_new(doc, "id", json_string(id65));
	reject(doc, "$.id: " ID_RULE);
	free(id65);

	doc = base();
	json_object_set_new(doc, "provider", json_string("DIA"));
	reject(doc, "$.provider: " ID_RULE);

	doc = base();
	json_array_set_new(member(doc, "recipients"), 1, json_string("m.s.d"));
	reject(doc, "$.recipients[1]: " ID_RULE);

	doc = base();
	json_array_set_new(member(doc, "purposes"), 0, json_string("Issue"));
	reject(doc, "$.purposes[0]: " ID_RULE);
}

static void
rejects_empty_or_oversized_lists(void **state)
{
	json_t *doc, *arr;
	char id[32];
	unsigned i;

	(void)state;
	doc = base();
	json_object_set_new(doc, "recipients", json_array());
	reject(doc, "$.recipients: must not be empty");

	doc = base();
	json_object_set_new(doc, "purposes", json_array());
	reject(doc, "$.purposes: must not be empty");

	doc = base();
	json_object_set_new(doc, "fields", json_array());
	reject(doc, "$.fields: must not be empty");

	doc = base();
	arr = json_array();
	for (i = 0; i < AGR_MAX_RECIPIENTS + 1; i++) {
		snprintf(id, sizeof(id), "party-%u", i);
		json_array_append_new(arr, json_string(id));
	}
	json_object_set_new(doc, "recipients", arr);
	reject(doc, "$.recipients: must have at most 32 elements");

	doc = base();
	arr = json_array();
	for (i = 0; i < AGR_MAX_PURPOSES + 1; i++) {
		snprintf(id, sizeof(id), "purpose-%u", i);
		json_array_append_new(arr, json_string(id));
	}
	json_object_set_new(doc, "purposes", arr);
	reject(doc, "$.purposes: must have at most 16 elements");

	doc = base();
	arr = json_array();
	for (i = 0; i < AGR_MAX_FIELDS + 1; i++) {
		snprintf(id, sizeof(id), "f%u", i);
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", id,
		    "description", "d"));
	}
	json_object_set_new(doc, "fields", arr);
	reject(doc, "$.fields: must have at most 128 elements");
}

static void
rejects_duplicate_recipients_and_purposes(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_array_set_new(member(doc, "recipients"), 1, json_string("ird"));
	reject(doc, "$.recipients[1]: duplicate \"ird\"");

	doc = base();
	json_array_append_new(member(doc, "purposes"),
	    json_string("issue-ird-number"));
	reject(doc, "$.purposes[2]: duplicate \"issue-ird-number\"");
}

static void
rejects_provider_as_its_own_recipient(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_array_append_new(member(doc, "recipients"), json_string("dia"));
	reject(doc, "$.recipients[2]: must not be the provider \"dia\"");
}

static void
rejects_duplicate_field(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(field(doc, 2), "name",
	    json_string("child.given_names"));
	reject(doc, "$.fields[2].name: duplicate \"child.given_names\"");
}

static void
rejects_bad_field_names(void **state)
{
	static const char *const bad[] = {
		"Child.name", "child..name", "child.", ".child", "1child",
		"child.1st", "child-name", "child name", "", "child._x"
	};
	char *long_name = repeat('x', 129);
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = base();
		json_object_set_new(field(doc, 1), "name", json_string(bad[i]));
		reject(doc, "$.fields[1].name: " FIELD_RULE);
	}
	doc = base();
	json_object_set_new(field(doc, 1), "name", json_string(long_name));
	reject(doc, "$.fields[1].name: " FIELD_RULE);
	free(long_name);
}

static void
rejects_ttl_out_of_range(void **state)
{
	static const json_int_t bad[] = { 0, 3601, -1, 86400 };
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = base();
		json_object_set_new(doc, "token_ttl_seconds",
		    json_integer(bad[i]));
		reject(doc, "$.token_ttl_seconds: " TTL_RULE);
	}
}

static void
rejects_statute_without_reference(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(member(doc, "legal_basis"), "type",
	    json_string("statute"));
	json_object_set_new(member(doc, "consent"), "required", json_false());
	reject(doc, "$.legal_basis.reference: is required when type is "
	    "\"statute\"");
}

static void
rejects_statute_that_also_requires_consent(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "legal_basis", json_pack("{s:s,s:s}", "type",
	    "statute", "reference", "Social Security Act 2018, s 305"));
	reject(doc, "$.consent.required: must be false when legal_basis.type "
	    "is \"statute\"");
}

static void
rejects_unknown_legal_basis(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(member(doc, "legal_basis"), "type",
	    json_string("public-interest"));
	reject(doc, "$.legal_basis.type: must be \"consent\" or \"statute\"");
}

static void
rejects_consent_basis_without_consent_required(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(member(doc, "consent"), "required", json_false());
	reject(doc, "$.consent.required: must be true when legal_basis.type "
	    "is \"consent\"");
}

static void
rejects_bad_consent_duration(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(member(doc, "consent"), "max_duration_days",
	    json_integer(0));
	reject(doc, "$.consent.max_duration_days: must be an integer from 1 "
	    "to 3650");

	doc = base();
	json_object_set_new(member(doc, "consent"), "max_duration_days",
	    json_integer(3651));
	reject(doc, "$.consent.max_duration_days: must be an integer from 1 "
	    "to 3650");

	doc = base();
	json_object_set_new(doc, "legal_basis", json_pack("{s:s,s:s}", "type",
	    "statute", "reference", "Social Security Act 2018, s 305"));
	json_object_set_new(doc, "consent", json_pack("{s:b,s:i}", "required",
	    0, "max_duration_days", 30));
	reject(doc, "$.consent.max_duration_days: must be absent when "
	    "required is false");
}

static void
rejects_valid_until_not_after_valid_from(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "valid_from",
	    json_string("2026-01-01T00:00:00Z"));
	json_object_set_new(doc, "valid_until",
	    json_string("2025-12-31T23:59:59Z"));
	reject(doc, "$.valid_until: must be after valid_from");

	/* The same instant written in two offsets is not "after". */
	doc = base();
	json_object_set_new(doc, "valid_from",
	    json_string("2026-01-01T13:00:00+13:00"));
	json_object_set_new(doc, "valid_until",
	    json_string("2026-01-01T00:00:00Z"));
	reject(doc, "$.valid_until: must be after valid_from");
}

static void
rejects_bad_date_times(void **state)
{
	static const char *const bad[] = {
		"2025-13-01T00:00:00Z", "2025-01-01", "yesterday",
		"1970-01-01T00:00:00Z", "1960-01-01T00:00:00Z", ""
	};
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		doc = base();
		json_object_set_new(doc, "valid_from", json_string(bad[i]));
		reject(doc, "$.valid_from: " TIME_RULE);
	}
	doc = base();
	json_object_set_new(doc, "valid_until",
	    json_string("2030-02-30T00:00:00Z"));
	reject(doc, "$.valid_until: " TIME_RULE);
}

static void
rejects_version_2_without_previous_hash(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "version", json_integer(2));
	reject(doc, "$.previous_hash: is required when version is greater "
	    "than 1");
}

static void
rejects_bad_versions_and_previous_hashes(void **state)
{
	json_t *doc;
	struct agreement *a;

	(void)state;
	doc = base();
	json_object_set_new(doc, "version", json_integer(0));
	reject(doc, "$.version: must be an integer from 1 to 4294967295");

	doc = base();
	json_object_set_new(doc, "version", json_integer(4294967296LL));
	reject(doc, "$.version: must be an integer from 1 to 4294967295");

	doc = base();
	json_object_set_new(doc, "previous_hash", json_string(BASE_HASH));
	reject(doc, "$.previous_hash: must be absent when version is 1");

	doc = base();
	json_object_set_new(doc, "version", json_integer(2));
	json_object_set_new(doc, "previous_hash",
	    json_string("C1C6BB630FE1AD397BDD77D083DCF8D29ABC53AF3E312E7976D7A8A0AC214EFF"));
	reject(doc, "$.previous_hash: must match ^[0-9a-f]{64}$");

	doc = base();
	json_object_set_new(doc, "version", json_integer(2));
	json_object_set_new(doc, "previous_hash", json_string("c1c6bb63"));
	reject(doc, "$.previous_hash: must match ^[0-9a-f]{64}$");

	doc = base();
	json_object_set_new(doc, "version", json_integer(2));
	json_object_set_new(doc, "previous_hash", json_string(BASE_HASH));
	a = accept(doc);
	assert_int_equal(a->version, 2);
	assert_string_equal(a->previous_hash, BASE_HASH);
	agreement_free(a);
}

static void
rejects_real_numbers(void **state)
{
	json_t *doc;

	(void)state;
	reject_replaced("\"token_ttl_seconds\":300", "\"token_ttl_seconds\":300.0",
	    "$.token_ttl_seconds: " TTL_RULE);
	reject_replaced("\"version\":1", "\"version\":1e0",
	    "$.version: must be an integer from 1 to 4294967295");
	reject_replaced("\"days\":30", "\"days\":30.5",
	    "$.retention.days: must be an integer from 1 to 36500");

	doc = base();
	json_object_set_new(doc, "limits", json_pack("{s:f}",
	    "transfers_per_subject_per_day", 3.0));
	reject(doc, "$.limits.transfers_per_subject_per_day: must be an "
	    "integer from 1 to 1000000");
}

static void
rejects_too_deep_nesting(void **state)
{
	char err[ERRLEN] = "";
	json_error_t jerr;
	json_t *doc;
	struct agreement *a;
	const char *deep = "[[[[[[[[[[[[[[[[[[[[\"x\"]]]]]]]]]]]]]]]]]]]]";
	char *text = replace(base_text, "\"Test agreement\"", deep);

	(void)state;
	a = agreement_parse(text, strlen(text), err, sizeof(err));
	assert_null(a);
	assert_prefix(err, "$: invalid JSON: ");

	/* A tree built elsewhere is refused by type before anything walks it. */
	doc = json_loads(text, 0, &jerr);
	assert_non_null(doc);
	a = agreement_from_json(doc, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$.title: must be a string");
	json_decref(doc);
	free(text);
}

static void
rejects_duplicate_json_keys(void **state)
{
	char err[ERRLEN] = "";
	char *text;
	struct agreement *a;

	(void)state;
	text = replace(base_text, "\"version\":1,",
	    "\"version\":1,\"id\":\"other-agreement\",");
	a = agreement_parse(text, strlen(text), err, sizeof(err));
	assert_null(a);
	assert_prefix(err, "$: invalid JSON: ");
	assert_non_null(strstr(err, "duplicate"));
	free(text);

	text = replace(base_text, "\"required\":true",
	    "\"required\":true,\"required\":false");
	a = agreement_parse(text, strlen(text), err, sizeof(err));
	assert_null(a);
	assert_prefix(err, "$: invalid JSON: ");
	free(text);
}

static void
rejects_oversize_document(void **state)
{
	char err[ERRLEN] = "";
	size_t blen = strlen(base_text), len = AGR_MAX_DOC_BYTES + 1;
	char *text = malloc(len + 1);
	json_t *doc, *fields;
	char *desc = repeat('d', AGR_MAX_TEXT);
	struct agreement *a;
	char name[32];
	unsigned i;

	(void)state;
	/* Valid JSON whose only fault is its size: trailing whitespace. */
	assert_non_null(text);
	memcpy(text, base_text, blen);
	memset(text + blen, ' ', len - blen);
	text[len] = '\0';
	a = agreement_parse(text, len, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$: must be at most 65536 bytes long");

	/* One byte less is fine. */
	a = agreement_parse(text, len - 1, err, sizeof(err));
	assert_non_null(a);
	agreement_free(a);
	free(text);

	/* A tree whose members are each in bounds but whose whole is not. */
	doc = base();
	fields = json_array();
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		json_array_append_new(fields, json_pack("{s:s,s:s}", "name",
		    name, "description", desc));
	}
	json_object_set_new(doc, "fields", fields);
	a = agreement_from_json(doc, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$: must be at most 65536 bytes long");
	json_decref(doc);
	free(desc);
}

static void
rejects_bad_text(void **state)
{
	char *long_text = repeat('t', AGR_MAX_TEXT + 1);
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(doc, "title", json_string(""));
	reject(doc, "$.title: must be from 1 to 2048 bytes long");

	doc = base();
	json_object_set_new(doc, "title", json_string(long_text));
	reject(doc, "$.title: must be from 1 to 2048 bytes long");
	free(long_text);

	doc = base();
	json_object_set_new(doc, "title", json_string("Two\nlines"));
	reject(doc, "$.title: must not contain control characters");

	doc = base();
	json_object_set_new(doc, "description", json_string("a\tb"));
	reject(doc, "$.description: must not contain control characters "
	    "other than line feed");

	doc = base();
	json_object_set_new(field(doc, 0), "description",
	    json_string("C1 \xc2\x85 control"));
	reject(doc, "$.fields[0].description: must not contain control "
	    "characters other than line feed");

	doc = base();
	json_object_set_new(member(doc, "legal_basis"), "reference",
	    json_string("s 1\x7f"));
	reject(doc, "$.legal_basis.reference: must not contain control "
	    "characters");
}

static void
from_json_rejects_nul_and_invalid_utf8(void **state)
{
	char err[ERRLEN] = "";
	json_t *doc;
	struct agreement *a;

	(void)state;
	doc = base();
	json_object_set_new(doc, "title", json_stringn("a\0b", 3));
	a = agreement_from_json(doc, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$.title: must not contain NUL characters");
	json_decref(doc);

	doc = base();
	json_object_set_new(doc, "title", json_string_nocheck("a\xff" "b"));
	a = agreement_from_json(doc, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$.title: must be valid UTF-8");
	json_decref(doc);

	/* An encoded surrogate is not UTF-8 either. */
	doc = base();
	json_object_set_new(doc, "title", json_string_nocheck("\xed\xa0\x80"));
	a = agreement_from_json(doc, err, sizeof(err));
	assert_null(a);
	assert_string_equal(err, "$.title: must be valid UTF-8");
	json_decref(doc);
}

static void
rejects_bad_retention_limits_and_onward_sharing(void **state)
{
	json_t *doc;

	(void)state;
	doc = base();
	json_object_set_new(member(doc, "retention"), "disposal",
	    json_string("shred"));
	reject(doc, "$.retention.disposal: must be \"delete\", \"archive\" or "
	    "\"return\"");

	doc = base();
	json_object_set_new(member(doc, "retention"), "days", json_integer(0));
	reject(doc, "$.retention.days: must be an integer from 1 to 36500");

	doc = base();
	json_object_set_new(doc, "limits", json_pack("{s:i}",
	    "transfers_per_subject_per_day", 0));
	reject(doc, "$.limits.transfers_per_subject_per_day: must be an "
	    "integer from 1 to 1000000");

	doc = base();
	json_object_set_new(member(doc, "onward_sharing"), "conditions",
	    json_string("Never."));
	reject(doc, "$.onward_sharing.conditions: must be absent when allowed "
	    "is false");
}

static void
rejects_what_is_not_json(void **state)
{
	char err[ERRLEN] = "";
	char *text;

	(void)state;
	assert_null(agreement_parse("", 0, err, sizeof(err)));
	assert_prefix(err, "$: invalid JSON: ");
	assert_null(agreement_parse("{", 1, err, sizeof(err)));
	assert_prefix(err, "$: invalid JSON: ");

	text = replace(base_text, "}}", "}} {}");
	assert_null(agreement_parse(text, strlen(text), err, sizeof(err)));
	assert_prefix(err, "$: invalid JSON: ");
	free(text);

	/* A NUL inside the bytes, even escaped, is refused. */
	assert_null(agreement_parse(base_text, sizeof(base_text), err,
	    sizeof(err)));
	assert_prefix(err, "$: invalid JSON: ");
	text = replace(base_text, "\"Test agreement\"",
	    "\"Test\\u0000agreement\"");
	assert_null(agreement_parse(text, strlen(text), err, sizeof(err)));
	assert_prefix(err, "$: invalid JSON: ");
	free(text);
}

static void
null_inputs_and_small_error_buffers_are_safe(void **state)
{
	char err[8];
	char *text;

	(void)state;
	assert_null(agreement_parse(NULL, 0, NULL, 0));
	assert_null(agreement_from_json(NULL, NULL, 0));
	memset(err, 'x', sizeof(err));
	assert_null(agreement_from_json(NULL, err, sizeof(err)));
	assert_string_equal(err, "$: no d");

	text = replace(base_text, "\"ird\"", "\"IRD\"");
	memset(err, 'x', sizeof(err));
	assert_null(agreement_parse(text, strlen(text), err, sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_null(agreement_parse(text, strlen(text), err, 0));
	assert_null(agreement_parse(text, strlen(text), NULL, 0));
	free(text);

	agreement_free(NULL);
}

/* ---- the canonical hash ---- */

static void
hash_matches_an_independent_rfc8785_digest(void **state)
{
	struct agreement *a;
	json_t *doc;

	(void)state;
	a = accept(base());
	assert_string_equal(a->hash, BASE_HASH);
	agreement_free(a);

	doc = base();
	json_object_set_new(doc, "title",
	    json_string("Te Tari Taiwhenua \xe2\x80\x94 wh\xc4\x81nau"));
	a = accept(doc);
	assert_string_equal(a->hash, BASE_UTF8_HASH);
	agreement_free(a);
}

static void
hash_is_stable_under_key_order_and_whitespace(void **state)
{
	static const char reordered[] =
	    "{\n  \"onward_sharing\" : { \"allowed\" : false },\n"
	    "  \"retention\": {\"disposal\": \"delete\", \"days\": 30},\n"
	    "  \"token_ttl_seconds\": 300,\n"
	    "  \"consent\": {\"required\": true},\n"
	    "  \"legal_basis\": {\"type\": \"consent\"},\n"
	    "  \"fields\": [\n"
	    "    {\"description\": \"Given names.\", \"name\": \"child.given_names\"},\n"
	    "    {\"description\": \"Family name.\", \"name\": \"child.family_name\"},\n"
	    "    {\"optional\": true, \"name\": \"child.birth_date\",\n"
	    "     \"description\": \"Date of birth.\"}\n"
	    "  ],\n"
	    "  \"purposes\": [\"issue-ird-number\", \"update-benefit-household\"],\n"
	    "  \"recipients\": [\"ird\", \"msd\"],\n"
	    "  \"provider\": \"dia\",\n"
	    "  \"title\": \"Test \\u0061greement\",\n"
	    "  \"version\": 1,\n"
	    "  \"id\": \"test-agreement\"\n"
	    "}\n";
	char err[ERRLEN] = "";
	struct agreement *a, *b;
	char *indented;
	json_t *doc = base();

	(void)state;
	a = agreement_parse(base_text, strlen(base_text), err, sizeof(err));
	assert_non_null(a);
	b = agreement_parse(reordered, strlen(reordered), err, sizeof(err));
	if (b == NULL)
		fail_msg("%s", err);
	assert_string_equal(a->hash, b->hash);
	agreement_free(b);

	indented = json_dumps(doc, JSON_INDENT(7) | JSON_SORT_KEYS);
	assert_non_null(indented);
	b = agreement_parse(indented, strlen(indented), err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(a->hash, b->hash);
	agreement_free(b);
	free(indented);
	json_decref(doc);
	agreement_free(a);
}

static void
hash_changes_when_a_value_changes(void **state)
{
	struct agreement *a, *b;
	json_t *doc;

	(void)state;
	a = accept(base());

	doc = base();
	json_object_set_new(doc, "token_ttl_seconds", json_integer(301));
	b = accept(doc);
	assert_string_not_equal(a->hash, b->hash);
	agreement_free(b);

	/* An optional member stated at its default is still a change. */
	doc = base();
	json_object_set_new(field(doc, 0), "optional", json_false());
	b = accept(doc);
	assert_string_not_equal(a->hash, b->hash);
	assert_false(b->fields[0].optional);
	agreement_free(b);

	/* Order inside arrays is part of the document. */
	doc = base();
	json_array_insert_new(member(doc, "recipients"), 0, json_string("msd"));
	json_array_remove(member(doc, "recipients"), 2);
	b = accept(doc);
	assert_string_not_equal(a->hash, b->hash);
	agreement_free(b);
	agreement_free(a);
}

/* ---- lookups and ownership ---- */

static void
lookups_find_what_the_agreement_names(void **state)
{
	struct agreement *a;
	const struct agr_field *f;

	(void)state;
	a = accept(base());
	f = agreement_field(a, "child.birth_date");
	assert_non_null(f);
	assert_true(f->optional);
	assert_string_equal(f->description, "Date of birth.");
	f = agreement_field(a, "child.given_names");
	assert_non_null(f);
	assert_false(f->optional);
	assert_null(agreement_field(a, "child.given"));
	assert_null(agreement_field(a, "child.given_names.x"));
	assert_null(agreement_field(a, NULL));
	assert_null(agreement_field(NULL, "child.given_names"));

	assert_true(agreement_has_purpose(a, "issue-ird-number"));
	assert_true(agreement_has_purpose(a, "update-benefit-household"));
	assert_false(agreement_has_purpose(a, "issue-ird"));
	assert_false(agreement_has_purpose(a, NULL));
	assert_false(agreement_has_purpose(NULL, "issue-ird-number"));

	assert_true(agreement_has_recipient(a, "ird"));
	assert_true(agreement_has_recipient(a, "msd"));
	assert_false(agreement_has_recipient(a, "dia")); /* the provider */
	assert_false(agreement_has_recipient(a, "wcc"));
	assert_false(agreement_has_recipient(a, "IRD"));
	assert_false(agreement_has_recipient(a, NULL));

	assert_true(agreement_names_party(a, "dia"));
	assert_true(agreement_names_party(a, "ird"));
	assert_true(agreement_names_party(a, "msd"));
	assert_false(agreement_names_party(a, "wcc"));
	assert_false(agreement_names_party(a, ""));
	assert_false(agreement_names_party(a, NULL));
	assert_false(agreement_names_party(NULL, "dia"));
	agreement_free(a);
}

static void
from_json_keeps_its_own_reference(void **state)
{
	char err[ERRLEN] = "";
	json_t *doc = base();
	struct agreement *a;

	(void)state;
	a = agreement_from_json(doc, err, sizeof(err));
	assert_non_null(a);
	assert_ptr_equal(a->doc, doc);
	assert_int_equal(doc->refcount, 2);
	json_decref(doc);
	/* Borrowed strings live as long as the agreement. */
	assert_string_equal(a->id, "test-agreement");
	assert_string_equal(a->recipients[1], "msd");
	assert_string_equal(a->hash, BASE_HASH);
	agreement_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_example_validates),
		cmocka_unit_test(smartstart_example_has_the_agreed_terms),
		cmocka_unit_test(statutory_example_needs_no_consent),
		cmocka_unit_test(versioned_example_chains_to_its_previous_version),
		cmocka_unit_test(base_document_gets_the_documented_defaults),
		cmocka_unit_test(optional_members_are_converted),
		cmocka_unit_test(boundary_values_are_accepted),
		cmocka_unit_test(rejects_unknown_members_everywhere),
		cmocka_unit_test(unknown_member_with_odd_key_is_escaped_in_one_line),
		cmocka_unit_test(rejects_missing_required_members),
		cmocka_unit_test(rejects_wrong_types),
		cmocka_unit_test(rejects_bad_id_patterns),
		cmocka_unit_test(rejects_empty_or_oversized_lists),
		cmocka_unit_test(rejects_duplicate_recipients_and_purposes),
		cmocka_unit_test(rejects_provider_as_its_own_recipient),
		cmocka_unit_test(rejects_duplicate_field),
		cmocka_unit_test(rejects_bad_field_names),
		cmocka_unit_test(rejects_ttl_out_of_range),
		cmocka_unit_test(rejects_statute_without_reference),
		cmocka_unit_test(rejects_statute_that_also_requires_consent),
		cmocka_unit_test(rejects_unknown_legal_basis),
		cmocka_unit_test(rejects_consent_basis_without_consent_required),
		cmocka_unit_test(rejects_bad_consent_duration),
		cmocka_unit_test(rejects_valid_until_not_after_valid_from),
		cmocka_unit_test(rejects_bad_date_times),
		cmocka_unit_test(rejects_version_2_without_previous_hash),
		cmocka_unit_test(rejects_bad_versions_and_previous_hashes),
		cmocka_unit_test(rejects_real_numbers),
		cmocka_unit_test(rejects_too_deep_nesting),
		cmocka_unit_test(rejects_duplicate_json_keys),
		cmocka_unit_test(rejects_oversize_document),
		cmocka_unit_test(rejects_bad_text),
		cmocka_unit_test(from_json_rejects_nul_and_invalid_utf8),
		cmocka_unit_test(rejects_bad_retention_limits_and_onward_sharing),
		cmocka_unit_test(rejects_what_is_not_json),
		cmocka_unit_test(null_inputs_and_small_error_buffers_are_safe),
		cmocka_unit_test(hash_matches_an_independent_rfc8785_digest),
		cmocka_unit_test(hash_is_stable_under_key_order_and_whitespace),
		cmocka_unit_test(hash_changes_when_a_value_changes),
		cmocka_unit_test(lookups_find_what_the_agreement_names),
		cmocka_unit_test(from_json_keeps_its_own_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
