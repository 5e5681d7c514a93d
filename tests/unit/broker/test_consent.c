/* Unit tests for consent records (broker/consent.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agreement.h"
#include "consent_rec.h"
#include "store.h"
#include "tmpstore.h"
#include "timeu.h"
#include "jsonu.h"

/*
 * The binary is linked with -Wl,--wrap=jsonu_buf_take (Makefile), so that
 * a test can make the take numbered take_fail_at (from 1) fail as it does
 * when out of memory; 0 fails none.
 */
static int take_calls, take_fail_at;
char *__real_jsonu_buf_take(struct jsonu_buf *b, size_t *len);
char *__wrap_jsonu_buf_take(struct jsonu_buf *b, size_t *len);

char *
__wrap_jsonu_buf_take(struct jsonu_buf *b, size_t *len)
{
	if (take_fail_at != 0 && ++take_calls == take_fail_at) {
		jsonu_buf_free(b);
		return NULL;
	}
	return __real_jsonu_buf_take(b, len);
}

#define ERRLEN 512
#define DAY 86400
#define CNS_ID "cns_00000000000000000000000000000001"

/* Consent-based, at most 90 days; child.sex is optional. */
static const char consent_doc[] =
	"{\"id\":\"cns-test\",\"version\":1,\"title\":\"Consent test\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\"],"
	"\"purposes\":[\"issue-ird-number\"],"
	"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"G.\"},"
	"{\"name\":\"child.sex\",\"description\":\"S.\",\"optional\":true},"
	"{\"name\":\"child.family_name\",\"description\":\"F.\"}],"
	"\"legal_basis\":{\"type\":\"consent\"},"
	"\"consent\":{\"required\":true,\"max_duration_days\":90},"
	"\"token_ttl_seconds\":300,"
	"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

/* Consent-based without a maximum duration. */
static const char open_doc[] =
	"{\"id\":\"cns-open\",\"version\":1,\"title\":\"Open-ended\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\"],"
	"\"purposes\":[\"issue-ird-number\"],"
	"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"G.\"}],"
	"\"legal_basis\":{\"type\":\"consent\"},\"consent\":{\"required\":true},"
	"\"token_ttl_seconds\":300,"
	"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

static const char statute_doc[] =
	"{\"id\":\"cns-statute\",\"version\":1,\"title\":\"Statute\","
	"\"provider\":\"dia\",\"recipients\":[\"msd\"],"
	"\"purposes\":[\"update-benefit-household\"],"
	"\"fields\":[{\"name\":\"registration.number\",\"description\":\"R.\"}],"
	"\"legal_basis\":{\"type\":\"statute\",\"reference\":\"Act 2021, s 1\"},"
	"\"consent\":{\"required\":false},\"token_ttl_seconds\":300,"
	"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

struct fx {
	struct agreement *agr, *open, *statute;
	int64_t now;
	char err[ERRLEN];
};

static int64_t
at(const char *rfc3339)
{
	int64_t t = 0;

	assert_int_equal(timeu_parse(rfc3339, &t), 0);
	return t;
}

static struct agreement *
parse(const char *doc)
{
	char err[ERRLEN] = "";
	struct agreement *a = agreement_parse(doc, strlen(doc), err, sizeof(err));

	if (a == NULL)
		fail_msg("agreement_parse: %s", err);
	return a;
}

static json_t *
js(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &e);

	if (j == NULL)
		fail_msg("json_loads(%s): %s", text, e.text);
	return j;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->agr = parse(consent_doc);
	f->open = parse(open_doc);
	f->statute = parse(statute_doc);
	f->now = at("2026-02-01T12:00:00Z");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	agreement_free(f->agr);
	agreement_free(f->open);
	agreement_free(f->statute);
	free(f);
	return 0;
}

/* consent_new_record on body text; the record or a failure with needle. */
static json_t *
new_rec(struct fx *f, const struct agreement *a, const char *body)
{
	json_t *b = js(body), *rec;

	f->err[0] = '\0';
	rec = consent_new_record(a, "citizen-42", b, CNS_ID, f->now, f->err,
	    sizeof(f->err));
	json_decref(b);
	return rec;
}

static void
expect_refused(struct fx *f, const struct agreement *a, const char *body,
    const char *needle)
{
	json_t *rec = new_rec(f, a, body);

	if (rec != NULL) {
		char *s = json_dumps(rec, JSON_COMPACT);

		fail_msg("accepted %s as %s", body, s != NULL ? s : "?");
	}
	if (strstr(f->err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", f->err, needle);
}

static void
expect_fields(const json_t *rec, const char *const *names, size_t n)
{
	json_t *fields = json_object_get(rec, "fields");
	size_t i;

	assert_true(json_is_array(fields));
	assert_int_equal(json_array_size(fields), n);
	for (i = 0; i < n; i++)
		assert_string_equal(json_string_value(json_array_get(fields, i)),
		    names[i]);
}

static const char *
str(const json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	if (s == NULL)
		fail_msg("record has no string \"%s\"", key);
	return s;
}

static void
new_consent_defaults_to_all_fields_and_max_duration(void **state)
{
	struct fx *f = *state;
	static const char *const all[] = {
		"child.given_names", "child.sex", "child.family_name"
	};
	char want[32];
	json_t *rec = new_rec(f, f->agr, "{\"agreement\":\"cns-test\"}");

	if (rec == NULL)
		fail_msg("consent_new_record: %s", f->err);
	expect_fields(rec, all, 3);
	assert_string_equal(str(rec, "id"), CNS_ID);
	assert_string_equal(str(rec, "subject"), "citizen-42");
	assert_string_equal(str(rec, "agreement"), "cns-test");
	assert_int_equal(json_integer_value(json_object_get(rec,
	    "agreement_version")), 1);
	assert_string_equal(str(rec, "agreement_hash"), f->agr->hash);
	assert_string_equal(str(rec, "stored_state"), "active");
	assert_string_equal(str(rec, "granted_at"), "2026-02-01T12:00:00Z");
	timeu_format(f->now + 90 * DAY, want, sizeof(want));
	assert_string_equal(str(rec, "expires_at"), want);
	assert_null(json_object_get(rec, "revoked_at"));
	json_decref(rec);
}

static void
new_consent_without_maximum_does_not_expire_by_default(void **state)
{
	struct fx *f = *state;
	json_t *rec = new_rec(f, f->open, "{\"agreement\":\"cns-open\"}");

	if (rec == NULL)
		fail_msg("consent_new_record: %s", f->err);
	assert_null(json_object_get(rec, "expires_at"));
	json_decref(rec);
}

static void
new_consent_may_leave_out_optional_field(void **state)
{
	struct fx *f = *state;
	static const char *const two[] = {
		"child.family_name", "child.given_names"
	};
	json_t *rec = new_rec(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"fields\":[\"child.family_name\",\"child.given_names\"]}");

	if (rec == NULL)
		fail_msg("consent_new_record: %s", f->err);
	expect_fields(rec, two, 2);
	json_decref(rec);
}

static void
new_consent_refuses_leaving_out_required_field(void **state)
{
	expect_refused(*state, ((struct fx *)*state)->agr,
	    "{\"agreement\":\"cns-test\",\"fields\":[\"child.given_names\","
	    "\"child.sex\"]}",
	    "field 'child.family_name' is required");
}

static void
new_consent_refuses_unknown_field(void **state)
{
	expect_refused(*state, ((struct fx *)*state)->agr,
	    "{\"agreement\":\"cns-test\",\"fields\":[\"child.given_names\","
	    "\"child.family_name\",\"child.tax_number\"]}",
	    "field 'child.tax_number' is not in agreement 'cns-test'");
}

static void
new_consent_refuses_duplicate_field(void **state)
{
	expect_refused(*state, ((struct fx *)*state)->agr,
	    "{\"agreement\":\"cns-test\",\"fields\":[\"child.given_names\","
	    "\"child.family_name\",\"child.given_names\"]}",
	    "duplicate field 'child.given_names'");
}

static void
new_consent_refuses_bad_fields_member(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\",\"fields\":[]}",
	    "$.fields");
	expect_refused(f, f->agr,
	    "{\"agreement\":\"cns-test\",\"fields\":\"child.sex\"}", "$.fields");
	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\",\"fields\":"
	    "[\"child.given_names\",\"child.family_name\",3]}", "$.fields");
}

static void
new_consent_refuses_past_expiry(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-01-31T00:00:00Z\"}",
	    "'2026-01-31T00:00:00Z' is not in the future");
	/* Now itself is not in the future either. */
	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-02-01T12:00:00Z\"}", "not in the future");
}

static void
new_consent_refuses_expiry_beyond_maximum(void **state)
{
	struct fx *f = *state;

	/* now + 90 days + 1 s */
	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-05-02T12:00:01Z\"}",
	    "$.expires_at: agreement 'cns-test' allows consent for at most 90 "
	    "days");
}

static void
new_consent_accepts_expiry_at_maximum(void **state)
{
	struct fx *f = *state;
	json_t *rec = new_rec(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-05-02T12:00:00Z\"}");

	if (rec == NULL)
		fail_msg("consent_new_record: %s", f->err);
	assert_string_equal(str(rec, "expires_at"), "2026-05-02T12:00:00Z");
	json_decref(rec);
}

static void
new_consent_normalises_expiry_offset(void **state)
{
	struct fx *f = *state;
	json_t *rec = new_rec(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-03-01T13:00:00+13:00\"}");

	if (rec == NULL)
		fail_msg("consent_new_record: %s", f->err);
	assert_string_equal(str(rec, "expires_at"), "2026-03-01T00:00:00Z");
	json_decref(rec);
}

static void
new_consent_refuses_malformed_expiry(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"next tuesday\"}",
	    "$.expires_at: 'next tuesday' is not an RFC 3339 date-time");
	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":\"2026-02-30T00:00:00Z\"}", "$.expires_at");
	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\","
	    "\"expires_at\":1780000000}", "$.expires_at: must be");
}

static void
new_consent_refused_for_statutory_agreement(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->statute, "{\"agreement\":\"cns-statute\"}",
	    "agreement 'cns-statute' does not use consent");
}

static void
new_consent_refuses_unknown_body_member(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->agr, "{\"agreement\":\"cns-test\",\"purpose\":\"x\"}",
	    "$.purpose: unknown member");
}

static void
new_consent_refuses_non_object_body(void **state)
{
	struct fx *f = *state;

	expect_refused(f, f->agr, "[\"cns-test\"]", "body must be a JSON object");
}

/* ---- consent_view_from_json ---- */

static const char stored_text[] =
	"{\"fields\":[\"child.given_names\",\"child.family_name\"],"
	"\"id\":\"cns_1\",\"subject\":\"citizen-42\",\"agreement\":\"cns-test\","
	"\"agreement_version\":2,\"agreement_hash\":\"abc\","
	"\"stored_state\":\"active\",\"granted_at\":\"2026-01-01T00:00:00Z\","
	"\"expires_at\":\"2026-03-01T00:00:00Z\"}";

/*
 * consent_view_from_json and consent_view_from_raw (on rec as stored) at
 * now: both fail, or both succeed with the same view. Returns the rc.
 */
static int
both_views(const json_t *rec, int64_t now, struct consent_view *out)
{
	struct consent_view r;
	char *text = json_dumps(rec, JSON_COMPACT), *strs = NULL;
	int rj, rr;
	size_t i;

	assert_non_null(text);
	rj = consent_view_from_json(rec, now, out);
	rr = consent_view_from_raw((const unsigned char *)text, strlen(text),
	    now, &r, &strs);
	if (rj != rr)
		fail_msg("json view %d, raw view %d on %s", rj, rr, text);
	if (rj == 0) {
		assert_string_equal(r.id, out->id);
		assert_string_equal(r.subject, out->subject);
		assert_string_equal(r.agreement, out->agreement);
		assert_int_equal(r.version, out->version);
		if (out->agreement_hash == NULL)
			assert_null(r.agreement_hash);
		else
			assert_string_equal(r.agreement_hash, out->agreement_hash);
		assert_int_equal(r.state, out->state);
		assert_int_equal(r.granted_at, out->granted_at);
		assert_int_equal(r.expires_at, out->expires_at);
		assert_int_equal(r.revoked_at, out->revoked_at);
		assert_int_equal(r.nfields, out->nfields);
		for (i = 0; i < r.nfields; i++)
			assert_string_equal(r.fields[i], out->fields[i]);
	} else
		assert_null(strs);
	free(strs);
	free(text);
	return rj;
}

static void
view_decodes_active_record(void **state)
{
	struct fx *f = *state;
	json_t *rec = js(stored_text);
	struct consent_view v;

	assert_int_equal(both_views(rec, f->now, &v), 0);
	assert_string_equal(v.id, "cns_1");
	assert_string_equal(v.subject, "citizen-42");
	assert_string_equal(v.agreement, "cns-test");
	assert_int_equal(v.version, 2);
	assert_string_equal(v.agreement_hash, "abc");
	assert_int_equal(v.state, CONSENT_ACTIVE);
	assert_int_equal(v.granted_at, at("2026-01-01T00:00:00Z"));
	assert_int_equal(v.expires_at, at("2026-03-01T00:00:00Z"));
	assert_int_equal(v.revoked_at, 0);
	assert_int_equal(v.nfields, 2);
	assert_true(consent_covers(&v, "child.family_name"));
	assert_false(consent_covers(&v, "child.sex"));
	assert_string_equal(consent_state_name(v.state), "active");
	json_decref(rec);
}

static void
view_applies_expiry_at_now(void **state)
{
	json_t *rec = js(stored_text);
	struct consent_view v;
	int64_t exp = at("2026-03-01T00:00:00Z");

	(void)state;
	assert_int_equal(consent_view_from_json(rec, exp - 1, &v), 0);
	assert_int_equal(v.state, CONSENT_ACTIVE);
	assert_int_equal(consent_view_from_json(rec, exp, &v), 0);
	assert_int_equal(v.state, CONSENT_EXPIRED);
	assert_string_equal(consent_state_name(v.state), "expired");
	assert_int_equal(consent_view_from_json(rec, exp + 365 * DAY, &v), 0);
	assert_int_equal(v.state, CONSENT_EXPIRED);
	json_decref(rec);
}

static void
view_without_expiry_never_expires(void **state)
{
	json_t *rec = js(stored_text);
	struct consent_view v;

	(void)state;
	json_object_del(rec, "expires_at");
	assert_int_equal(consent_view_from_json(rec, at("2099-01-01T00:00:00Z"),
	    &v), 0);
	assert_int_equal(v.state, CONSENT_ACTIVE);
	assert_int_equal(v.expires_at, 0);
	json_decref(rec);
}

static void
view_reports_revoked(void **state)
{
	struct fx *f = *state;
	json_t *rec = js(stored_text);
	struct consent_view v;

	json_object_set_new(rec, "stored_state", json_string("revoked"));
	json_object_set_new(rec, "revoked_at",
	    json_string("2026-01-15T00:00:00Z"));
	assert_int_equal(both_views(rec, f->now, &v), 0);
	assert_int_equal(v.state, CONSENT_REVOKED);
	assert_int_equal(v.revoked_at, at("2026-01-15T00:00:00Z"));
	assert_string_equal(consent_state_name(v.state), "revoked");
	/* Revoked stays revoked after the expiry too. */
	assert_int_equal(consent_view_from_json(rec, at("2027-01-01T00:00:00Z"),
	    &v), 0);
	assert_int_equal(v.state, CONSENT_REVOKED);
	json_decref(rec);
}

static void
view_rejects_malformed_records(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *key;
		const char *json;   /* NULL: delete the member */
	} breaks[] = {
		{ "id", NULL }, { "id", "1" }, { "subject", NULL },
		{ "agreement", NULL }, { "agreement_version", NULL },
		{ "agreement_version", "0" }, { "agreement_version", "\"2\"" },
		{ "agreement_version", "4294967296" },
		{ "stored_state", NULL }, { "stored_state", "\"paused\"" },
		{ "granted_at", "\"yesterday\"" }, { "expires_at", "17" },
		{ "revoked_at", "\"2026-13-01T00:00:00Z\"" },
		{ "agreement_hash", "5" },
		{ "fields", NULL }, { "fields", "\"child.sex\"" },
		{ "fields", "[\"a\",1]" },
	};
	struct consent_view v;
	size_t i;

	for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		json_t *rec = js(stored_text);

		if (breaks[i].json == NULL)
			json_object_del(rec, breaks[i].key);
		else
			json_object_set_new(rec, breaks[i].key, js(breaks[i].json));
		if (both_views(rec, f->now, &v) == 0)
			fail_msg("accepted record with %s = %s", breaks[i].key,
			    breaks[i].json != NULL ? breaks[i].json : "(absent)");
		json_decref(rec);
	}
}

static void
view_round_trips_new_record(void **state)
{
	struct fx *f = *state;
	json_t *rec = new_rec(f, f->agr, "{\"agreement\":\"cns-test\"}");
	struct consent_view v;

	assert_non_null(rec);
	assert_int_equal(both_views(rec, f->now, &v), 0);
	assert_int_equal(v.state, CONSENT_ACTIVE);
	assert_int_equal(v.granted_at, f->now);
	assert_int_equal(v.expires_at, f->now + 90 * DAY);
	assert_int_equal(v.nfields, 3);
	assert_int_equal(consent_view_from_json(rec, f->now + 90 * DAY, &v), 0);
	assert_int_equal(v.state, CONSENT_EXPIRED);
	json_decref(rec);
}

static void
public_view_has_state_not_stored_state(void **state)
{
	struct fx *f = *state;
	json_t *rec = js(stored_text), *pub;

	pub = consent_public(rec, at("2026-04-01T00:00:00Z"));
	assert_non_null(pub);
	assert_null(json_object_get(pub, "stored_state"));
	assert_string_equal(str(pub, "state"), "expired");
	assert_string_equal(str(rec, "stored_state"), "active");
	json_decref(pub);
	pub = consent_public(rec, f->now);
	assert_string_equal(str(pub, "state"), "active");
	json_decref(pub);
	json_decref(rec);
}

/* ---- consent_state_raw: the writer's check, from the stored bytes ---- */

/* consent_state_raw on rec as stored; its return value. */
static int
state_raw(const json_t *rec, int64_t now, enum consent_state *st,
    int64_t *ended)
{
	char *s = json_dumps(rec, JSON_COMPACT);
	int rc;

	assert_non_null(s);
	rc = consent_state_raw((const unsigned char *)s, strlen(s), now, st,
	    ended);
	free(s);
	return rc;
}

static void
raw_state_agrees_with_the_full_view(void **state)
{
	struct fx *f = *state;
	json_t *rec = js(stored_text), *got = new_rec(f, f->agr,
	    "{\"agreement\":\"cns-test\"}");
	int64_t exp = at("2026-03-01T00:00:00Z"), ended = -1;
	enum consent_state st;

	assert_int_equal(state_raw(rec, exp - 1, &st, &ended), 0);
	assert_int_equal(st, CONSENT_ACTIVE);
	assert_int_equal(ended, 0);
	assert_int_equal(state_raw(rec, exp, &st, &ended), 0);
	assert_int_equal(st, CONSENT_EXPIRED);
	assert_int_equal(ended, exp);
	/* A record as consent_new_record makes it, receipt and all. */
	json_object_set_new(got, "receipt", json_string("eyJh.eyJ.sig"));
	assert_int_equal(state_raw(got, f->now, &st, &ended), 0);
	assert_int_equal(st, CONSENT_ACTIVE);
	json_object_set_new(rec, "stored_state", json_string("revoked"));
	json_object_set_new(rec, "revoked_at",
	    json_string("2026-01-15T00:00:00Z"));
	assert_int_equal(state_raw(rec, at("2027-01-01T00:00:00Z"), &st,
	    &ended), 0);
	assert_int_equal(st, CONSENT_REVOKED);
	assert_int_equal(ended, at("2026-01-15T00:00:00Z"));
	json_object_del(rec, "expires_at");
	json_object_set_new(rec, "stored_state", json_string("active"));
	assert_int_equal(state_raw(rec, at("2099-01-01T00:00:00Z"), &st,
	    &ended), 0);
	assert_int_equal(st, CONSENT_ACTIVE);
	json_decref(got);
	json_decref(rec);
}

static void
raw_state_rejects_malformed_records(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *key;
		const char *json;   /* NULL: delete the member */
	} breaks[] = {
		{ "stored_state", NULL }, { "stored_state", "\"paused\"" },
		{ "stored_state", "1" }, { "expires_at", "17" },
		{ "expires_at", "\"soon\"" },
		{ "revoked_at", "\"2026-13-01T00:00:00Z\"" },
	};
	static const char *const texts[] = { "", "[]", "{", "\"active\"",
	    "{\"stored_state\":\"active\",\"stored_state\":\"active\"}" };
	enum consent_state st;
	int64_t ended;
	size_t i;

	for (i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		json_t *rec = js(stored_text);

		if (breaks[i].json == NULL)
			json_object_del(rec, breaks[i].key);
		else
			json_object_set_new(rec, breaks[i].key, js(breaks[i].json));
		if (state_raw(rec, f->now, &st, &ended) == 0)
			fail_msg("accepted record with %s = %s", breaks[i].key,
			    breaks[i].json != NULL ? breaks[i].json : "(absent)");
		json_decref(rec);
	}
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(consent_state_raw((const unsigned char *)texts[i],
		    strlen(texts[i]), f->now, &st, &ended), -1);
}

/* ---- consent_subject_ok ---- */

static void
subject_ok_accepts_printable_ids(void **state)
{
	char s[CONSENT_MAX_SUBJECT + 1];

	(void)state;
	assert_int_equal(consent_subject_ok("citizen-42"), 0);
	assert_int_equal(consent_subject_ok("Jane Doe"), 0);
	assert_int_equal(consent_subject_ok("urn:nz:realme:FLT1234"), 0);
	assert_int_equal(consent_subject_ok("T\xc4\x81ne"), 0);   /* Tāne */
	memset(s, 'a', CONSENT_MAX_SUBJECT);
	s[CONSENT_MAX_SUBJECT] = '\0';
	assert_int_equal(consent_subject_ok(s), 0);
}

static void
subject_ok_rejects_empty_overlong_and_edge_spaces(void **state)
{
	char s[CONSENT_MAX_SUBJECT + 2];

	(void)state;
	assert_int_equal(consent_subject_ok(""), -1);
	assert_int_equal(consent_subject_ok(" x"), -1);
	assert_int_equal(consent_subject_ok("x "), -1);
	assert_int_equal(consent_subject_ok(" "), -1);
	memset(s, 'a', CONSENT_MAX_SUBJECT + 1);
	s[CONSENT_MAX_SUBJECT + 1] = '\0';
	assert_int_equal(consent_subject_ok(s), -1);
}

static void
subject_ok_rejects_ascii_controls(void **state)
{
	(void)state;
	assert_int_equal(consent_subject_ok("a\tb"), -1);
	assert_int_equal(consent_subject_ok("a\nb"), -1);
	assert_int_equal(consent_subject_ok("a\x1f" "b"), -1);   /* STORE_SEP */
	assert_int_equal(consent_subject_ok("a\x7f" "b"), -1);
	assert_int_equal(consent_subject_ok("\x1b[2J"), -1);
}

static void
subject_ok_rejects_c1_controls(void **state)
{
	(void)state;
	/* U+0085 NEL and U+009B CSI, encoded in UTF-8. */
	assert_int_equal(consent_subject_ok("a\xc2\x85" "b"), -1);
	assert_int_equal(consent_subject_ok("\xc2\x9b" "2J"), -1);
}

static void
subject_ok_rejects_invalid_utf8(void **state)
{
	(void)state;
	assert_int_equal(consent_subject_ok("a\xff" "b"), -1);
	assert_int_equal(consent_subject_ok("a\xc3"), -1);
	assert_int_equal(consent_subject_ok("\xc0\xaf"), -1);   /* overlong '/' */
}

/* ---- consent_new_id ---- */

static void
new_id_is_prefixed_random_hex(void **state)
{
	char a[40], b[40];
	size_t i;

	(void)state;
	assert_int_equal(consent_new_id(a), 0);
	assert_int_equal(consent_new_id(b), 0);
	assert_int_equal(strlen(a), 36);
	assert_memory_equal(a, "cns_", 4);
	for (i = 4; i < 36; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_not_equal(a, b);
}

/* ---- consent_find_for, on a temporary store ---- */

struct sfx {
	char dir[64];
	struct store *s;
};

static void
put_consent(struct store_txn *txn, const char *id, const char *stored_state,
    const char *granted, const char *expires)
{
	json_t *rec = js(stored_text), *empty = json_object();
	char key[STORE_MAX_KEY + 1];

	json_object_set_new(rec, "id", json_string(id));
	json_object_set_new(rec, "stored_state", json_string(stored_state));
	json_object_set_new(rec, "granted_at", json_string(granted));
	json_object_set_new(rec, "expires_at", json_string(expires));
	assert_int_equal(store_put(txn, ST_CONSENTS, id, rec), STORE_OK);
	assert_int_equal(store_key3(key, sizeof(key), "citizen-42", "cns-test",
	    id), 0);
	assert_int_equal(store_put(txn, ST_CONSENT_INDEX, key, empty), STORE_OK);
	json_decref(rec);
	json_decref(empty);
}

static void
open_store(struct sfx *sf)
{

	sf->s = tmpstore_open(sf->dir, "consent", (size_t)16 << 20);
}

static void
close_store(struct sfx *sf)
{

	tmpstore_close(sf->dir, sf->s);
}

/* consent_find_view answers as consent_find_for: id, or NULL for none. */
static void
expect_find_view(struct store_txn *txn, const char *subject, int64_t now,
    const char *id)
{
	struct consent_view v;
	char *strs = NULL;
	int found = -1;

	assert_int_equal(consent_find_view(txn, subject, "cns-test", now, &v,
	    &strs, &found), STORE_OK);
	if (id == NULL) {
		assert_int_equal(found, 0);
		assert_null(strs);
		return;
	}
	assert_int_equal(found, 1);
	assert_string_equal(v.id, id);
	assert_string_equal(v.subject, subject);
	free(strs);
}

static void
find_for_prefers_unexpired_active_consent(void **state)
{
	struct fx *f = *state;
	struct sfx sf;
	struct store_txn *txn = NULL;
	json_t *rec = NULL;

	open_store(&sf);
	assert_int_equal(store_begin(sf.s, 1, &txn), STORE_OK);
	/* The active one is the oldest; later ones are revoked or expired. */
	put_consent(txn, "cns_b", "active", "2025-12-01T00:00:00Z",
	    "2026-06-01T00:00:00Z");
	put_consent(txn, "cns_a", "revoked", "2026-01-20T00:00:00Z",
	    "2026-06-01T00:00:00Z");
	put_consent(txn, "cns_c", "active", "2026-01-25T00:00:00Z",
	    "2026-01-26T00:00:00Z");
	assert_int_equal(store_commit(txn), STORE_OK);

	assert_int_equal(store_begin(sf.s, 0, &txn), STORE_OK);
	assert_int_equal(consent_find_for(txn, "citizen-42", "cns-test", f->now,
	    &rec), STORE_OK);
	assert_non_null(rec);
	assert_string_equal(str(rec, "id"), "cns_b");
	json_decref(rec);
	expect_find_view(txn, "citizen-42", f->now, "cns_b");
	store_abort(txn);
	close_store(&sf);
}

static void
find_for_falls_back_to_latest_granted(void **state)
{
	struct fx *f = *state;
	struct sfx sf;
	struct store_txn *txn = NULL;
	json_t *rec = NULL;

	open_store(&sf);
	assert_int_equal(store_begin(sf.s, 1, &txn), STORE_OK);
	put_consent(txn, "cns_a", "revoked", "2026-01-20T00:00:00Z",
	    "2026-06-01T00:00:00Z");
	put_consent(txn, "cns_b", "active", "2025-12-01T00:00:00Z",
	    "2026-01-01T00:00:00Z");
	put_consent(txn, "cns_c", "revoked", "2025-11-01T00:00:00Z",
	    "2026-06-01T00:00:00Z");
	assert_int_equal(store_commit(txn), STORE_OK);

	assert_int_equal(store_begin(sf.s, 0, &txn), STORE_OK);
	assert_int_equal(consent_find_for(txn, "citizen-42", "cns-test", f->now,
	    &rec), STORE_OK);
	assert_non_null(rec);
	assert_string_equal(str(rec, "id"), "cns_a");
	json_decref(rec);
	/* Another subject, or another agreement, has none. */
	assert_int_equal(consent_find_for(txn, "citizen-4", "cns-test", f->now,
	    &rec), STORE_OK);
	assert_null(rec);
	assert_int_equal(consent_find_for(txn, "citizen-42", "cns-tes", f->now,
	    &rec), STORE_OK);
	assert_null(rec);
	expect_find_view(txn, "citizen-42", f->now, "cns_a");
	expect_find_view(txn, "citizen-4", f->now, NULL);
	store_abort(txn);
	close_store(&sf);
}

/* ---- the revoke's text path: consent_raw_revoke, consent_public_text ---- */

/* The text json_dumps gives, as store_put writes it. */
static char *
dumps(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_non_null(s);
	return s;
}

/*
 * stored (as store_put wrote it) revoked at ts with revocation rev, both
 * ways: jansson, as apply_revoke did before (set stored_state, revoked_at
 * and revocation; consent_public for the reply), against the text edits.
 * The bytes must be the same; so must consent_public_text of the record
 * before and after against consent_public.
 */
static void
revoke_both_ways(const char *stored, const char *ts, const char *rev,
    int64_t now)
{
	struct consent_raw c;
	struct consent_text t;
	json_t *rec = js(stored), *pub;
	char *want_stored, *want_shown, *before, *got;
	size_t n;

	pub = consent_public(rec, now);
	assert_non_null(pub);
	before = dumps(pub);
	json_decref(pub);
	got = consent_public_text((const unsigned char *)stored,
	    strlen(stored), now, &n);
	assert_non_null(got);
	assert_string_equal(got, before);
	assert_int_equal(n, strlen(before));
	free(got);

	assert_int_equal(json_object_set_new(rec, "stored_state",
	    json_string("revoked")), 0);
	assert_int_equal(json_object_set_new(rec, "revoked_at",
	    json_string(ts)), 0);
	assert_int_equal(json_object_set_new(rec, "revocation", js(rev)), 0);
	want_stored = dumps(rec);
	pub = consent_public(rec, now);
	assert_non_null(pub);
	want_shown = dumps(pub);
	json_decref(pub);

	assert_int_equal(consent_raw_read(&c, (const unsigned char *)stored,
	    strlen(stored), now), 0);
	assert_int_equal(consent_raw_revoke(&c, ts, rev, &t), STORE_OK);
	consent_raw_free(&c);
	assert_string_equal(t.stored, want_stored);
	assert_int_equal(t.stored_len, strlen(want_stored));
	assert_string_equal(t.shown, want_shown);
	assert_int_equal(t.shown_len, strlen(want_shown));
	/* Revoked, it reads back as revoked; shown again as it was. */
	got = consent_public_text((const unsigned char *)t.stored,
	    t.stored_len, now, &n);
	assert_non_null(got);
	assert_string_equal(got, want_shown);
	free(got);
	consent_text_free(&t);
	assert_null(t.stored);
	free(want_stored);
	free(want_shown);
	free(before);
	json_decref(rec);
}

static void
revoke_text_is_what_jansson_writes(void **state)
{
	struct fx *f = *state;
	static const char *const records[] = {
		/* stored_state in the middle, first and last */
		stored_text,
		"{\"stored_state\":\"active\",\"id\":\"cns_2\","
		"\"subject\":\"c-1\",\"agreement\":\"cns-test\","
		"\"agreement_version\":1,\"agreement_hash\":\"h\","
		"\"fields\":[\"a\"],\"granted_at\":\"2026-01-01T00:00:00Z\"}",
		"{\"id\":\"cns_3\",\"subject\":\"c-1\",\"agreement\":\"x\","
		"\"agreement_version\":1,\"fields\":[],"
		"\"granted_at\":\"2026-01-01T00:00:00Z\","
		"\"stored_state\":\"active\"}",
		/* escapes and UTF-8 that json_dumps writes its own way */
		"{\"id\":\"cns_4\",\"subject\":\"M\\u0101ori \\\"q\\\" \\\\ /\\t\","
		"\"agreement\":\"cns-test\",\"agreement_version\":3,"
		"\"agreement_hash\":\"\\u00e9\",\"fields\":[\"f\\u00fc\",\"g\"],"
		"\"stored_state\":\"active\","
		"\"granted_at\":\"2026-01-01T00:00:00Z\","
		"\"receipt\":\"eyJ.eyJ.sig\",\"superseded\":[1,{\"a\":null}]}",
		/* active by storage, expired by the clock: still revoked */
		"{\"id\":\"cns_5\",\"subject\":\"c-2\",\"agreement\":\"a\","
		"\"agreement_version\":1,\"fields\":[\"x\"],"
		"\"stored_state\":\"active\","
		"\"granted_at\":\"2020-01-01T00:00:00Z\","
		"\"expires_at\":\"2020-02-01T00:00:00Z\"}",
	};
	static const char *const revs[] = {
		"{\"status_lists\":{},\"tokens_revoked\":0}",
		"{\"status_lists\":{\"0\":17,\"3\":2},\"tokens_revoked\":5}",
	};
	json_t *b = js("{\"agreement\":\"cns-test\"}"), *rec;
	char *made;
	size_t i, k;

	for (i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		json_t *j = js(records[i]);
		char *stored = dumps(j);    /* as store_put writes it */

		for (k = 0; k < 2; k++)
			revoke_both_ways(stored, "2026-02-01T10:00:00Z",
			    revs[k], f->now);
		free(stored);
		json_decref(j);
	}
	/* A record as the broker makes it. */
	rec = consent_new_record(f->agr, "citizen-\xc4\x81", b, CNS_ID,
	    f->now, f->err, sizeof(f->err));
	assert_non_null(rec);
	made = dumps(rec);
	revoke_both_ways(made, "2026-02-01T10:00:00Z", revs[1], f->now);
	free(made);
	json_decref(rec);
	json_decref(b);
}

static void
revoke_text_refuses_records_it_cannot_edit(void **state)
{
#define BASE "{\"id\":\"c\",\"subject\":\"s\",\"agreement\":\"a\"," \
	"\"agreement_version\":1,\"fields\":[\"f\"]," \
	"\"granted_at\":\"2026-01-01T00:00:00Z\","
	/* Records that read, but that a revocation must not edit. */
	static const char *const refused[] = {
		/* revoked already */
		BASE "\"stored_state\":\"revoked\"}",
		/* active, yet with members only a revocation adds */
		BASE "\"stored_state\":\"active\","
		    "\"revoked_at\":\"2026-01-02T00:00:00Z\"}",
		BASE "\"stored_state\":\"active\",\"revocation\":{}}",
		BASE "\"stored_state\":\"active\",\"state\":\"active\"}",
	};
	/* Records that do not read at all. */
	static const char *const unread[] = {
		BASE "\"x\":1}",                  /* no stored_state */
		BASE "\"stored_state\":1}",
		"{\"id\":\"c\",\"stored_state\":\"active\"}",
		"[\"stored_state\",\"active\"]",
		BASE "\"stored_state\":\"active\"",   /* cut short */
		"",
	};
#undef BASE
	struct consent_raw c;
	struct consent_text t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(consent_raw_read(&c,
		    (const unsigned char *)refused[i], strlen(refused[i]), 0), 0);
		memset(&t, 0x5a, sizeof(t));
		if (consent_raw_revoke(&c, "2026-02-01T10:00:00Z",
		    "{\"status_lists\":{},\"tokens_revoked\":0}", &t) !=
		    STORE_CORRUPT)
			fail_msg("edited %s", refused[i]);
		assert_null(t.stored);
		assert_null(t.shown);
		consent_raw_free(&c);
	}
	for (i = 0; i < sizeof(unread) / sizeof(unread[0]); i++) {
		if (consent_raw_read(&c, (const unsigned char *)unread[i],
		    strlen(unread[i]), 0) != -1)
			fail_msg("read %s", unread[i]);
		assert_null(c.heap);
		assert_null(c.strs);
	}
}

/* Out of memory at each step of the revoke's edit: STORE_NOMEM, not
 * "corrupt", and nothing left over; with memory back, it edits. */
static void
revoke_text_out_of_memory_is_nomem(void **state)
{
	static const char rec[] = "{\"id\":\"c\",\"subject\":\"s\","
	    "\"agreement\":\"a\",\"agreement_version\":1,"
	    "\"fields\":[\"f\"],\"granted_at\":\"2026-01-01T00:00:00Z\","
	    "\"stored_state\":\"active\"}";
	static const char rev[] = "{\"status_lists\":{},\"tokens_revoked\":0}";
	struct consent_raw c;
	struct consent_text t;
	int k, failed = 0;

	(void)state;
	assert_int_equal(consent_raw_read(&c, (const unsigned char *)rec,
	    strlen(rec), 0), 0);
	/* The edit takes four texts; the fifth take is none of its own. */
	for (k = 1; k <= 5; k++) {
		take_calls = 0;
		take_fail_at = k;
		memset(&t, 0x5a, sizeof(t));
		if (consent_raw_revoke(&c, "2026-02-01T10:00:00Z", rev, &t) ==
		    STORE_NOMEM) {
			failed++;
			assert_null(t.stored);
			assert_null(t.shown);
		} else {
			/* the failure came after the edit */
			assert_int_equal(k, 5);
			consent_text_free(&t);
		}
	}
	take_fail_at = 0;
	assert_int_equal(failed, 4);
	assert_int_equal(consent_raw_revoke(&c, "2026-02-01T10:00:00Z", rev,
	    &t), STORE_OK);
	assert_non_null(strstr(t.stored, "\"stored_state\":\"revoked\""));
	consent_text_free(&t);
	consent_raw_free(&c);
}

/*
 * A record with more values than the readers' stack of tokens holds (every
 * field an agreement can have, and a revocation that touched many status
 * lists) still reads, from the heap: as a view and as the public text.
 */
static void
a_record_with_many_values_still_reads(void **state)
{
	struct fx *f = *state;
	struct consent_view v;
	json_t *rec = js(stored_text), *fields = json_array(), *lists, *pub;
	char name[32], *stored, *want, *got, *strs;
	size_t i, n;

	for (i = 0; i < CONSENT_MAX_FIELDS; i++) {
		snprintf(name, sizeof(name), "f.%zu", i);
		assert_int_equal(json_array_append_new(fields,
		    json_string(name)), 0);
	}
	assert_int_equal(json_object_set_new(rec, "fields", fields), 0);
	lists = json_object();
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "%zu", i);
		assert_int_equal(json_object_set_new(lists, name,
		    json_integer((json_int_t)i)), 0);
	}
	assert_int_equal(json_object_set_new(rec, "revocation",
	    json_pack("{s:o, s:i}", "status_lists", lists, "tokens_revoked",
	    100)), 0);
	assert_int_equal(json_object_set_new(rec, "stored_state",
	    json_string("revoked")), 0);
	assert_int_equal(json_object_set_new(rec, "revoked_at",
	    json_string("2026-02-01T10:00:00Z")), 0);
	stored = dumps(rec);
	assert_int_equal(consent_view_from_raw((const unsigned char *)stored,
	    strlen(stored), f->now, &v, &strs), 0);
	assert_int_equal(v.nfields, CONSENT_MAX_FIELDS);
	assert_int_equal(v.state, CONSENT_REVOKED);
	free(strs);
	pub = consent_public(rec, f->now);
	want = dumps(pub);
	got = consent_public_text((const unsigned char *)stored,
	    strlen(stored), f->now, &n);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	free(want);
	free(stored);
	json_decref(pub);
	json_decref(rec);
}

/* ---- the receipt's claims, built as text ---- */

/* The claims as the broker built them with json_pack before: the oracle. */
static char *
receipt_claims_jansson(const struct agreement *a, const json_t *rec,
    const char *issuer, int64_t iat)
{
	json_t *ctl = json_array(), *r, *claims, *doc = a->doc;
	char *s;
	size_t i;

	json_array_append_new(ctl, json_pack("{s:s, s:s}", "id", a->provider,
	    "role", "provider"));
	for (i = 0; i < a->nrecipients; i++)
		json_array_append_new(ctl, json_pack("{s:s, s:s}", "id",
		    a->recipients[i], "role", "recipient"));
	r = json_pack("{s:s, s:O, s:O, s:s, s:O, s:O?, s:{s:s, s:I, s:s, "
	    "s:s}, s:o, s:O, s:s, s:O?, s:O, s:O?, s:O?, s:s}",
	    "schema", "consent-broker receipt 1 (after ISO/IEC TS 27560)",
	    "record_id", json_object_get(rec, "id"),
	    "pii_principal_id", json_object_get(rec, "subject"),
	    "state", "given",
	    "given_at", json_object_get(rec, "granted_at"),
	    "expires_at", json_object_get(rec, "expires_at"),
	    "notice", "agreement", a->id, "version", (json_int_t)a->version,
	    "hash", a->hash, "title", a->title,
	    "controllers", ctl,
	    "purposes", json_object_get(doc, "purposes"),
	    "legal_basis", "consent",
	    "legal_reference", json_object_get(json_object_get(doc,
	    "legal_basis"), "reference"),
	    "pii_categories", json_object_get(rec, "fields"),
	    "retention", json_object_get(doc, "retention"),
	    "onward_sharing", json_object_get(doc, "onward_sharing"),
	    "method", "explicit, through the consent broker");
	assert_non_null(r);
	claims = json_pack("{s:s, s:O, s:I, s:O, s:o}", "iss", issuer, "sub",
	    json_object_get(rec, "subject"), "iat", (json_int_t)iat, "jti",
	    json_object_get(rec, "id"), "receipt", r);
	assert_non_null(claims);
	s = dumps(claims);
	json_decref(claims);
	return s;
}

/* Byte for byte what json_pack and json_dumps gave, for agreements with
 * and without the optional parts and records with and without expiry. */
static void
receipt_claims_are_what_jansson_wrote(void **state)
{
	static const char with_all[] =
		"{\"id\":\"cns-all\",\"version\":1,\"title\":\"T\\u0113 \\\"q\\\" \\\\ /\","
		"\"provider\":\"dia\",\"recipients\":[\"ird\",\"msd\"],"
		"\"purposes\":[\"issue-ird-number\",\"check-2\"],"
		"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"G.\"},"
		"{\"name\":\"child.sex\",\"description\":\"S.\",\"optional\":true}],"
		"\"legal_basis\":{\"type\":\"consent\",\"reference\":\"Act 2021, s 9\"},"
		"\"consent\":{\"required\":true,\"max_duration_days\":90},"
		"\"token_ttl_seconds\":300,"
		"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
		"\"onward_sharing\":{\"allowed\":true,"
		"\"conditions\":\"Only to \\u00e9 \\\"x\\\".\"}}";
	struct fx *f = *state;
	struct agreement *all = parse(with_all);
	const struct agreement *as[3] = { f->agr, f->open, all };
	/* All fields, or only the required ones, for each agreement. */
	static const char *const bodies[3][2] = {
		{ "{\"agreement\":\"x\"}", "{\"agreement\":\"x\",\"fields\":"
		    "[\"child.family_name\",\"child.given_names\"]}" },
		{ "{\"agreement\":\"x\"}", "{\"agreement\":\"x\",\"fields\":"
		    "[\"child.given_names\"]}" },
		{ "{\"agreement\":\"x\"}", "{\"agreement\":\"x\",\"fields\":"
		    "[\"child.given_names\"]}" },
	};
	json_t *b, *rec;
	char *want, *got;
	size_t i, k, n;

	for (i = 0; i < 3; i++)
		for (k = 0; k < 2; k++) {
			b = js(bodies[i][k]);
			rec = consent_new_record(as[i], "citizen-\xc4\x81", b,
			    CNS_ID, f->now, f->err, sizeof(f->err));
			json_decref(b);
			if (rec == NULL)
				fail_msg("%s: %s", as[i]->id, f->err);
			want = receipt_claims_jansson(as[i], rec,
			    "https://broker.test", f->now + 1);
			got = consent_receipt_claims(as[i], rec,
			    "https://broker.test", f->now + 1, &n);
			assert_non_null(got);
			assert_string_equal(got, want);
			assert_int_equal(n, strlen(want));
			free(got);
			free(want);
			/* Without what it cannot do without: none. */
			json_object_del(rec, "granted_at");
			assert_null(consent_receipt_claims(as[i], rec,
			    "https://broker.test", f->now, &n));
			json_decref(rec);
		}
	agreement_free(all);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(new_consent_defaults_to_all_fields_and_max_duration),
		T(new_consent_without_maximum_does_not_expire_by_default),
		T(new_consent_may_leave_out_optional_field),
		T(new_consent_refuses_leaving_out_required_field),
		T(new_consent_refuses_unknown_field),
		T(new_consent_refuses_duplicate_field),
		T(new_consent_refuses_bad_fields_member),
		T(new_consent_refuses_past_expiry),
		T(new_consent_refuses_expiry_beyond_maximum),
		T(new_consent_accepts_expiry_at_maximum),
		T(new_consent_normalises_expiry_offset),
		T(new_consent_refuses_malformed_expiry),
		T(new_consent_refused_for_statutory_agreement),
		T(new_consent_refuses_unknown_body_member),
		T(new_consent_refuses_non_object_body),
		T(view_decodes_active_record),
		T(view_applies_expiry_at_now),
		T(view_without_expiry_never_expires),
		T(view_reports_revoked),
		T(view_rejects_malformed_records),
		T(view_round_trips_new_record),
		T(raw_state_agrees_with_the_full_view),
		T(raw_state_rejects_malformed_records),
		T(public_view_has_state_not_stored_state),
		T(subject_ok_accepts_printable_ids),
		T(subject_ok_rejects_empty_overlong_and_edge_spaces),
		T(subject_ok_rejects_ascii_controls),
		T(subject_ok_rejects_c1_controls),
		T(subject_ok_rejects_invalid_utf8),
		T(new_id_is_prefixed_random_hex),
		T(find_for_prefers_unexpired_active_consent),
		T(find_for_falls_back_to_latest_granted),
		T(revoke_text_is_what_jansson_writes),
		T(revoke_text_refuses_records_it_cannot_edit),
		T(revoke_text_out_of_memory_is_nomem),
		T(a_record_with_many_values_still_reads),
		T(receipt_claims_are_what_jansson_wrote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
