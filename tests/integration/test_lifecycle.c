/*
 * Integration: the life of agreements and consents. Versions are approved
 * by hash and chained by previous_hash; a consent given under one version
 * carries over to a later one that only narrows, not to one that widens;
 * a fresh grant supersedes it. Consent terms: a subset of fields, an
 * expiry, the per-day limit; bundles of consents granted all or nothing;
 * every consent's signed receipt.
 *
 * Agreements changed here are copies of the SmartStart example under new
 * ids, and every test has its own subjects, so tests do not depend on each
 * other's order.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "jwk.h"
#include "jws.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define REBATE "msd-wcc-rates-rebate"
#define REBATE_PURPOSE "assess-rates-rebate"

static const char *const one_field[] = { "child.given_names", NULL };
static const char *const rebate_field[] = { "client.given_names", NULL };

/* ---- helpers ------------------------------------------------------------ */

/* A copy of the SmartStart example named id (provider dia, recipient ird). */
static json_t *
new_doc(const char *id)
{
	json_t *doc = it_example_agreement(SMARTSTART);

	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "title", json_string("Lifecycle test copy"));
	return doc;
}

/* Removes the field named name from doc's fields (it must be there). */
static void
drop_field(json_t *doc, const char *name)
{
	json_t *fields = json_object_get(doc, "fields"), *f;
	size_t i;

	json_array_foreach(fields, i, f) {
		if (strcmp(it_jstr(f, "name"), name) == 0) {
			json_array_remove(fields, i);
			return;
		}
	}
	fail_msg("test bug: no field %s to drop", name);
}

/*
 * Submits doc as registrar and has the provider and every recipient
 * approve it by its hash; hash gets the hash. The version is active after.
 */
static void
activate(struct it_server *s, const json_t *doc, char hash[72])
{
	const char *id = it_jstr(doc, "id");
	long version = (long)json_integer_value(json_object_get(doc, "version"));
	json_t *rcpt = json_object_get(doc, "recipients"), *p;
	struct it_resp r;
	size_t i;

	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	assert_string_equal(it_jstr(r.json, "state"), "draft");
	snprintf(hash, 72, "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	it_approve(s, it_jstr(doc, "provider"), id, version, hash, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	json_array_foreach(rcpt, i, p) {
		it_approve(s, json_string_value(p), id, version, hash, &r);
		assert_status(&r, 200);
		if (i + 1 == json_array_size(rcpt))
			assert_string_equal(it_jstr(r.json, "state"), "active");
		it_resp_free(&r);
	}
}

/* doc as its next version: version + 1 and previous_hash prev. */
static void
next_version(json_t *doc, const char *prev)
{
	json_int_t v = json_integer_value(json_object_get(doc, "version"));

	json_object_set_new(doc, "version", json_integer(v + 1));
	json_object_set_new(doc, "previous_hash", json_string(prev));
}

/* Grants agreement for subject (fields_json may be NULL); id gets it. */
static void
grant_ok(struct it_server *s, const char *subject, const char *agreement,
    const char *fields_json, char id[64])
{
	struct it_resp r;

	it_grant(s, subject, agreement, fields_json, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

/* ird's token about subject for fields under agreement; r holds it. */
static long
token(const struct it_server *s, const char *agreement, const char *subject,
    const char *const *fields, struct it_resp *r)
{
	return it_token(s, "ird", agreement, subject, PURPOSE, fields, r);
}

/* A token that must be issued; returns the access token (caller frees). */
static char *
token_ok(const struct it_server *s, const char *agreement,
    const char *subject, const char *const *fields)
{
	struct it_resp r;
	char *t;

	token(s, agreement, subject, fields, &r);
	assert_status(&r, 200);
	t = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(t);
	it_resp_free(&r);
	return t;
}

/* GET /v1/consents/{id} as subject (200 asserted). */
static void
consent_get(struct it_server *s, const char *subject, const char *id,
    struct it_resp *r)
{
	const char *tok = it_citizen_token(s, subject, 0);
	char path[128];

	assert_non_null(tok);
	it_fmt(path, sizeof(path), "/v1/consents/%s", id);
	it_get(s, NULL, tok, path, r);
	assert_status(r, 200);
}

/* POST /v1/consents as subject with a raw JSON body. */
static long
grant_raw(struct it_server *s, const char *subject, const char *json,
    struct it_resp *r)
{
	const char *tok = it_citizen_token(s, subject, 0);

	assert_non_null(tok);
	return it_post_json(s, NULL, tok, "/v1/consents", json, r);
}

/* The number of consents subject has (GET /v1/consents). */
static size_t
consent_count(struct it_server *s, const char *subject)
{
	const char *tok = it_citizen_token(s, subject, 0);
	struct it_resp r;
	size_t n;

	assert_non_null(tok);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 200);
	n = json_array_size(json_object_get(r.json, "consents"));
	it_resp_free(&r);
	return n;
}

/* Request-log lines of the current run naming rule. */
static int
rule_count(const struct it_server *s, const char *rule)
{
	char needle[96];

	it_fmt(needle, sizeof(needle), "\"rule\":\"%s\"", rule);
	return it_server_log_count_run(s, needle);
}

/*
 * Asserts the request log names rule want times (consentd writes the line
 * just after the reply, so it may take a moment).
 */
static void
assert_rule_count(const struct it_server *s, const char *rule, int want)
{
	int64_t end = it_now_ms() + 2000;
	int n;

	while ((n = rule_count(s, rule)) != want && it_now_ms() < end)
		it_sleep_ms(10);
	if (n != want)
		fail_msg("the request log names rule %s %d times, not %d", rule,
		    n, want);
}

/* ---- versions: approval by hash, the chain, widen and narrow ------------ */

IT_TEST(approval_by_a_party_not_named_in_the_version_is_403_approver_not_party)
{
	static const char *const outsiders[] = { "wcc", "msd", "admin",
	    "registrar", NULL };
	json_t *doc = new_doc("lc-outsider");
	struct it_resp r;
	char hash[72];
	size_t i;

	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	snprintf(hash, sizeof(hash), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	json_decref(doc);
	for (i = 0; outsiders[i] != NULL; i++) {
		it_approve(s, outsiders[i], "lc-outsider", 1, hash, &r);
		assert_problem(&r, 403, outsiders[i]);
		assert_string_equal(it_jstr(r.json, "rule"), "approver_not_party");
		it_resp_free(&r);
	}
	/* A named party approves only the version whose hash it names. */
	it_approve(s, "dia", "lc-outsider", 1,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    &r);
	assert_problem(&r, 409, hash);
	assert_string_equal(it_jstr(r.json, "rule"), "approval_hash");
	it_resp_free(&r);
	it_get(s, "dia", NULL, "/v1/agreements/lc-outsider", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "draft");
	assert_int_equal(json_object_size(json_object_get(r.json, "approvals")),
	    0);
	it_resp_free(&r);
}

IT_TEST(new_version_must_name_its_predecessors_hash_409_version_chain)
{
	json_t *doc = new_doc("lc-chain");
	struct it_resp r;
	char h1[72], h2[72];

	activate(s, doc, h1);
	/* No previous_hash: the document is invalid. A wrong one: refused,
	 * naming the right one. */
	json_object_set_new(doc, "version", json_integer(2));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 422, "$.previous_hash");
	assert_string_equal(it_jstr(r.json, "rule"), "agreement_schema");
	it_resp_free(&r);
	json_object_set_new(doc, "version", json_integer(1));
	next_version(doc,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 409, h1);
	assert_string_equal(it_jstr(r.json, "rule"), "version_chain");
	it_resp_free(&r);
	/* The right one: a draft v2 chained to v1; v1 stays in force. */
	json_object_set_new(doc, "previous_hash", json_string(h1));
	json_object_set_new(doc, "title", json_string("Lifecycle test v2"));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	assert_int_equal(it_jint(r.json, "version"), 2);
	assert_string_equal(it_jstr(json_object_get(r.json, "document"),
	    "previous_hash"), h1);
	snprintf(h2, sizeof(h2), "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
	/* Approving v2 with v1's hash is refused. */
	it_approve(s, "dia", "lc-chain", 2, h1, &r);
	assert_problem(&r, 409, h2);
	it_resp_free(&r);
	it_get(s, "ird", NULL, "/v1/agreements/lc-chain", &r);
	assert_status(&r, 200);
	assert_int_equal(it_jint(r.json, "version"), 1);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	json_decref(doc);
}

IT_TEST(widening_by_a_field_needs_fresh_consent_naming_the_added_field)
{
	static const char *const agr = "lc-widen-field";
	json_t *doc = new_doc(agr);
	struct it_resp r;
	char h1[72], h2[72], id[64], *t;
	int before;

	drop_field(doc, "child.birth_place");
	activate(s, doc, h1);
	grant_ok(s, "lc-wf", agr, NULL, id);
	t = token_ok(s, agr, "lc-wf", one_field);
	free(t);
	/* v2 adds child.birth_place. */
	next_version(doc, h1);
	json_array_append_new(json_object_get(doc, "fields"), json_pack(
	    "{s:s, s:s, s:b}", "name", "child.birth_place", "description",
	    "The town or city where the child was born.", "optional", 1));
	activate(s, doc, h2);
	json_decref(doc);
	before = rule_count(s, "consent_version");
	/* Even a field the old consent covers is refused now. */
	token(s, agr, "lc-wf", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "adds field 'child.birth_place'");
	assert_contains(it_jstr(r.json, "error_description"), id);
	assert_contains(it_jstr(r.json, "error_description"), "fresh consent");
	it_resp_free(&r);
	assert_rule_count(s, "consent_version", before + 1);
	/* The consent itself is untouched: still active under v1. */
	consent_get(s, "lc-wf", id, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_int_equal(it_jint(r.json, "agreement_version"), 1);
	it_resp_free(&r);
}

IT_TEST(widening_by_a_purpose_needs_fresh_consent_naming_the_added_purpose)
{
	static const char *const agr = "lc-widen-purpose";
	json_t *doc = new_doc(agr);
	struct it_resp r;
	char h1[72], h2[72], id[64];

	activate(s, doc, h1);
	grant_ok(s, "lc-wp", agr, NULL, id);
	next_version(doc, h1);
	json_array_append_new(json_object_get(doc, "purposes"),
	    json_string("verify-parent-identity"));
	activate(s, doc, h2);
	json_decref(doc);
	token(s, agr, "lc-wp", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "adds purpose 'verify-parent-identity'");
	it_resp_free(&r);
}

IT_TEST(narrowing_carries_the_consent_over_to_the_new_version)
{
	static const char *const agr = "lc-narrow";
	static const char *const sex[] = { "child.sex", NULL };
	json_t *doc = new_doc(agr), *ad;
	struct it_resp r;
	char h1[72], h2[72], id[64];

	activate(s, doc, h1);
	grant_ok(s, "lc-nw", agr, NULL, id);
	/* v2 drops an optional field and nothing else. */
	next_version(doc, h1);
	drop_field(doc, "child.sex");
	activate(s, doc, h2);
	json_decref(doc);
	token(s, agr, "lc-nw", one_field, &r);
	assert_status(&r, 200);
	ad = json_array_get(json_object_get(r.json, "authorization_details"), 0);
	assert_int_equal(it_jint(ad, "agreement_version"), 2);
	assert_string_equal(it_jstr(ad, "agreement_hash"), h2);
	it_resp_free(&r);
	/* The dropped field is no longer in the agreement at all. */
	token(s, agr, "lc-nw", sex, &r);
	assert_oauth_error(&r, 400, "invalid_authorization_details",
	    "field 'child.sex' is not in agreement");
	it_resp_free(&r);
	/* The consent is still the one given under v1. */
	consent_get(s, "lc-nw", id, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_int_equal(it_jint(r.json, "agreement_version"), 1);
	assert_string_equal(it_jstr(r.json, "agreement_hash"), h1);
	it_resp_free(&r);
}

IT_TEST(fresh_grant_after_widening_supersedes_the_old_consent)
{
	static const char *const agr = "lc-fresh";
	static const char *const place[] = { "child.birth_place", NULL };
	json_t *doc = new_doc(agr), *rev;
	struct it_resp r;
	char h1[72], h2[72], id1[64], id2[64], *old;

	drop_field(doc, "child.birth_place");
	activate(s, doc, h1);
	grant_ok(s, "lc-fr", agr, NULL, id1);
	old = token_ok(s, agr, "lc-fr", one_field);   /* outstanding */
	next_version(doc, h1);
	json_array_append_new(json_object_get(doc, "fields"), json_pack(
	    "{s:s, s:s, s:b}", "name", "child.birth_place", "description",
	    "Birth place.", "optional", 1));
	activate(s, doc, h2);
	json_decref(doc);
	token(s, agr, "lc-fr", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "fresh consent");
	it_resp_free(&r);

	/* A new grant is not a conflict: it replaces the v1 consent. */
	it_grant(s, "lc-fr", agr, NULL, NULL, id2, &r);
	assert_status(&r, 201);
	assert_int_equal(it_jint(r.json, "agreement_version"), 2);
	assert_string_equal(it_jstr(r.json, "agreement_hash"), h2);
	it_resp_free(&r);
	assert_string_not_equal(id1, id2);
	consent_get(s, "lc-fr", id1, &r);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	assert_string_equal(it_jstr(r.json, "superseded_by"), id2);
	assert_int_equal(strlen(it_jstr(r.json, "revoked_at")), 20);
	rev = json_object_get(r.json, "revocation");
	assert_non_null(rev);
	assert_int_equal(it_jint(rev, "tokens_revoked"), 1);
	it_resp_free(&r);
	consent_get(s, "lc-fr", id2, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	assert_int_equal(consent_count(s, "lc-fr"), 2);
	/* Tokens again, under the new consent, for the new field too. */
	token(s, agr, "lc-fr", place, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	{
		char *t = token_ok(s, agr, "lc-fr", one_field);
		json_t *c = it_jwt_part(t, 1);

		assert_string_equal(it_jstr(c, "consent_id"), id2);
		json_decref(c);
		free(t);
	}
	/* The superseded consent's token is dead. */
	it_introspect(s, "dia", old, &r);
	assert_status(&r, 200);
	assert_true(json_is_false(json_object_get(r.json, "active")));
	it_resp_free(&r);
	/* Granting once more under the same version is a conflict again. */
	it_grant(s, "lc-fr", agr, NULL, NULL, NULL, &r);
	assert_problem(&r, 409, id2);
	assert_string_equal(it_jstr(r.json, "rule"), "consent_exists");
	it_resp_free(&r);
	free(old);
}

/* ---- consent terms ------------------------------------------------------ */

IT_TEST(sixth_token_of_the_day_is_refused_by_the_limit_rule)
{
	struct it_resp r;
	char id[64];
	int i, before;

	grant_ok(s, "lc-limit", SMARTSTART, NULL, id);
	for (i = 0; i < 5; i++)
		free(token_ok(s, SMARTSTART, "lc-limit", one_field));
	before = rule_count(s, "limit");
	token(s, SMARTSTART, "lc-limit", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "limit exceeded");
	assert_contains(it_jstr(r.json, "error_description"),
	    "allows 5 transfers per subject per day, and 5 were issued today");
	it_resp_free(&r);
	assert_rule_count(s, "limit", before + 1);
	/* Per subject: another citizen is not affected. */
	grant_ok(s, "lc-limit-2", SMARTSTART, NULL, id);
	free(token_ok(s, SMARTSTART, "lc-limit-2", one_field));
}

IT_TEST(consent_with_an_expiry_two_seconds_ahead_then_is_expired)
{
	struct it_resp r;
	char id[64], when[32];
	time_t expires = time(NULL) + 2;
	int64_t end;

	it_time_from_now(2, when);
	it_grant(s, "lc-expiry", SMARTSTART, NULL, when, id, &r);
	assert_status(&r, 201);
	assert_string_equal(it_jstr(r.json, "expires_at"), when);
	it_resp_free(&r);
	free(token_ok(s, SMARTSTART, "lc-expiry", one_field));
	end = it_now_ms() + 5000;
	while (time(NULL) <= expires && it_now_ms() < end)
		it_sleep_ms(100);
	token(s, SMARTSTART, "lc-expiry", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "expired at");
	assert_contains(it_jstr(r.json, "error_description"), id);
	it_resp_free(&r);
	consent_get(s, "lc-expiry", id, &r);
	assert_string_equal(it_jstr(r.json, "state"), "expired");
	it_resp_free(&r);
	/* An expired consent is no obstacle to a new grant. */
	it_grant(s, "lc-expiry", SMARTSTART, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

IT_TEST(consent_may_leave_out_an_optional_field_and_then_does_not_cover_it)
{
	static const char *const sex[] = { "child.sex", NULL };
	static const char *const two[] = { "child.given_names",
	    "parent.family_name", NULL };
	struct it_resp r;
	char id[64];
	int before;

	it_grant(s, "lc-subset", SMARTSTART, "[\"child.given_names\","
	    "\"child.family_name\",\"child.birth_date\",\"child.birth_place\","
	    "\"parent.given_names\",\"parent.family_name\"]", NULL, id, &r);
	assert_status(&r, 201);
	assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 6);
	it_resp_free(&r);
	free(token_ok(s, SMARTSTART, "lc-subset", two));
	before = rule_count(s, "consent_fields");
	token(s, SMARTSTART, "lc-subset", sex, &r);
	assert_oauth_error(&r, 403, "access_denied",
	    "does not cover field 'child.sex'");
	it_resp_free(&r);
	assert_rule_count(s, "consent_fields", before + 1);
	/* A required field cannot be left out. */
	it_grant(s, "lc-subset-2", SMARTSTART, "[\"child.given_names\"]", NULL,
	    NULL, &r);
	assert_problem(&r, 422, "required by the agreement");
	it_resp_free(&r);
}

/* ---- bundles ------------------------------------------------------------- */

IT_TEST(bundle_grants_one_consent_per_agreement_each_revocable_alone)
{
	struct it_resp r;
	json_t *arr, *c;
	char ids[2][64];
	size_t i;

	grant_raw(s, "lc-bundle", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\"}, {\"agreement\": \"" REBATE "\", \"fields\": "
	    "[\"client.given_names\", \"client.family_name\", "
	    "\"client.birth_date\", \"benefit.status\"]}]}", &r);
	assert_status(&r, 201);
	arr = json_object_get(r.json, "consents");
	assert_int_equal(json_array_size(arr), 2);
	json_array_foreach(arr, i, c) {
		assert_string_equal(it_jstr(c, "state"), "active");
		assert_string_equal(it_jstr(c, "subject"), "lc-bundle");
		assert_true(strlen(it_jstr(c, "receipt")) > 100);
		snprintf(ids[i], sizeof(ids[i]), "%s", it_jstr(c, "id"));
	}
	assert_string_equal(it_jstr(json_array_get(arr, 0), "agreement"),
	    SMARTSTART);
	assert_string_equal(it_jstr(json_array_get(arr, 1), "agreement"),
	    REBATE);
	assert_int_equal(json_array_size(json_object_get(json_array_get(arr,
	    1), "fields")), 4);
	it_resp_free(&r);
	assert_string_not_equal(ids[0], ids[1]);

	/* Both work; revoking one leaves the other. */
	free(token_ok(s, SMARTSTART, "lc-bundle", one_field));
	it_token(s, "wcc", REBATE, "lc-bundle", REBATE_PURPOSE, rebate_field,
	    &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_revoke(s, "lc-bundle", ids[0], &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	it_resp_free(&r);
	token(s, SMARTSTART, "lc-bundle", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "was revoked");
	it_resp_free(&r);
	consent_get(s, "lc-bundle", ids[1], &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	it_token(s, "wcc", REBATE, "lc-bundle", REBATE_PURPOSE, rebate_field,
	    &r);
	assert_status(&r, 200);
	it_resp_free(&r);
}

IT_TEST(bundle_with_a_conflicting_item_grants_nothing)
{
	struct it_resp r;
	char id[64];

	/* lc-conflict already consents to the rebate agreement. */
	grant_ok(s, "lc-conflict", REBATE, NULL, id);
	grant_raw(s, "lc-conflict", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\"}, {\"agreement\": \"" REBATE "\"}]}", &r);
	assert_problem(&r, 409, id);
	assert_string_equal(it_jstr(r.json, "rule"), "consent_exists");
	assert_contains(it_jstr(r.json, "detail"),
	    "nothing in this bundle was granted");
	it_resp_free(&r);
	/* The first item was not granted either. */
	assert_int_equal(consent_count(s, "lc-conflict"), 1);
	token(s, SMARTSTART, "lc-conflict", one_field, &r);
	assert_oauth_error(&r, 403, "access_denied", "no consent");
	it_resp_free(&r);

	/* Refused before anything is written: an item the broker does not
	 * know, one agreement twice, an empty or oversized bundle, a
	 * bundle with other members. */
	grant_raw(s, "lc-conflict-2", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\"}, {\"agreement\": \"no-such-agreement\"}]}", &r);
	assert_problem(&r, 404, "no-such-agreement");
	it_resp_free(&r);
	grant_raw(s, "lc-conflict-2", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\"}, {\"agreement\": \"" SMARTSTART "\"}]}", &r);
	assert_problem(&r, 400, "$.bundle[1].agreement: named twice");
	it_resp_free(&r);
	grant_raw(s, "lc-conflict-2", "{\"bundle\": []}", &r);
	assert_problem(&r, 400, "$.bundle");
	it_resp_free(&r);
	grant_raw(s, "lc-conflict-2", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\"}], \"agreement\": \"" REBATE "\"}", &r);
	assert_problem(&r, 400, "only \"bundle\"");
	it_resp_free(&r);
	grant_raw(s, "lc-conflict-2", "{\"bundle\": [{\"agreement\": \""
	    SMARTSTART "\", \"fields\": [\"child.given_names\"]}]}", &r);
	assert_problem(&r, 422, "$.bundle[0].fields");
	it_resp_free(&r);
	assert_int_equal(consent_count(s, "lc-conflict-2"), 0);
}

IT_TEST(bundle_that_fails_leaves_a_consent_it_would_have_superseded)
{
	static const char *const agr = "lc-bundle-sup";
	json_t *doc = new_doc(agr);
	struct it_resp r;
	char h1[72], h2[72], old[64], reb[64];

	activate(s, doc, h1);
	grant_ok(s, "lc-bsup", agr, NULL, old);
	next_version(doc, h1);
	drop_field(doc, "child.sex");
	activate(s, doc, h2);
	json_decref(doc);
	grant_ok(s, "lc-bsup", REBATE, NULL, reb);
	/* Item 0 would supersede the v1 consent, item 1 conflicts. */
	grant_raw(s, "lc-bsup", "{\"bundle\": [{\"agreement\": \"lc-bundle-sup"
	    "\"}, {\"agreement\": \"" REBATE "\"}]}", &r);
	assert_problem(&r, 409, reb);
	it_resp_free(&r);
	consent_get(s, "lc-bsup", old, &r);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_null(json_object_get(r.json, "superseded_by"));
	it_resp_free(&r);
	assert_int_equal(consent_count(s, "lc-bsup"), 2);
}

/* ---- receipts ----------------------------------------------------------- */

/* The JWKS key with kid (caller frees), failing the test when absent. */
static EVP_PKEY *
jwks_key(const struct it_server *s, const char *kid)
{
	struct it_resp r;
	EVP_PKEY *pub = NULL;
	char err[256];
	json_t *k;
	size_t i;

	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	json_array_foreach(json_object_get(r.json, "keys"), i, k) {
		if (strcmp(it_jstr(k, "kid"), kid) == 0) {
			pub = jwk_to_pkey(k, err, sizeof(err));
			if (pub == NULL)
				fail_msg("JWKS key %s: %s", kid, err);
			break;
		}
	}
	it_resp_free(&r);
	if (pub == NULL)
		fail_msg("kid %s is not in the JWKS", kid);
	return pub;
}

IT_TEST(receipt_verifies_with_the_jwks_and_names_the_agreed_terms)
{
	static const char *const fields = "[\"child.given_names\","
	    "\"child.family_name\",\"child.birth_date\",\"parent.given_names\","
	    "\"parent.family_name\"]";
	struct jws_parsed p = { 0 };
	struct it_resp r, a, d;
	json_t *consent, *rc, *doc, *notice, *want_ctl;
	char id[64], when[32], err[256], *receipt, *bad;
	EVP_PKEY *pub;
	int64_t now = (int64_t)time(NULL);
	size_t n;

	it_time_from_now(30 * 86400, when);
	it_grant(s, "lc-receipt", SMARTSTART, fields, when, id, &r);
	assert_status(&r, 201);
	consent = r.json;
	receipt = strdup(it_jstr(consent, "receipt"));
	assert_non_null(receipt);

	/* A compact JWS, typ consent-receipt+jwt, signed by a JWKS key. */
	assert_int_equal(jws_parse(receipt, strlen(receipt), &p, err,
	    sizeof(err)), JWS_OK);
	assert_int_equal(jws_check_header(&p, "consent-receipt+jwt", err,
	    sizeof(err)), JWS_OK);
	assert_string_equal(p.typ, "consent-receipt+jwt");
	assert_non_null(p.kid);
	pub = jwks_key(s, p.kid);
	assert_int_equal(jws_verify_es256(pub, &p), JWS_OK);

	/* Claims: iss, sub, iat, jti = the consent id, receipt. */
	it_get(s, NULL, NULL, "/.well-known/consent-broker", &d);
	assert_status(&d, 200);
	assert_string_equal(it_jstr(p.claims, "iss"), it_jstr(d.json, "issuer"));
	it_resp_free(&d);
	assert_string_equal(it_jstr(p.claims, "sub"), "lc-receipt");
	assert_string_equal(it_jstr(p.claims, "jti"), id);
	assert_true(llabs(it_jint(p.claims, "iat") - now) <= 5);
	rc = json_object_get(p.claims, "receipt");
	assert_true(json_is_object(rc));
	assert_contains(it_jstr(rc, "schema"), "27560");
	assert_string_equal(it_jstr(rc, "record_id"), id);
	assert_string_equal(it_jstr(rc, "pii_principal_id"), "lc-receipt");
	assert_string_equal(it_jstr(rc, "state"), "given");
	assert_string_equal(it_jstr(rc, "given_at"),
	    it_jstr(consent, "granted_at"));
	assert_string_equal(it_jstr(rc, "expires_at"), when);
	assert_string_equal(it_jstr(rc, "legal_basis"), "consent");
	assert_true(strlen(it_jstr(rc, "method")) > 0);
	/* What was agreed: agreement, version, hash, fields, purposes. */
	it_get(s, "ird", NULL, "/v1/agreements/" SMARTSTART, &a);
	assert_status(&a, 200);
	doc = json_object_get(a.json, "document");
	notice = json_object_get(rc, "notice");
	assert_string_equal(it_jstr(notice, "agreement"), SMARTSTART);
	assert_int_equal(it_jint(notice, "version"), it_jint(a.json, "version"));
	assert_string_equal(it_jstr(notice, "hash"), it_jstr(a.json, "hash"));
	assert_string_equal(it_jstr(notice, "hash"),
	    it_jstr(consent, "agreement_hash"));
	assert_string_equal(it_jstr(notice, "title"), it_jstr(doc, "title"));
	assert_true(json_equal(json_object_get(rc, "pii_categories"),
	    json_object_get(consent, "fields")));
	n = json_array_size(json_object_get(rc, "pii_categories"));
	assert_int_equal(n, 5);
	assert_true(json_equal(json_object_get(rc, "purposes"),
	    json_object_get(doc, "purposes")));
	/* Who: the provider and every recipient, each with its role. */
	want_ctl = json_pack("[{s:s, s:s}, {s:s, s:s}]", "id", "dia", "role",
	    "provider", "id", "ird", "role", "recipient");
	assert_true(json_equal(json_object_get(rc, "controllers"), want_ctl));
	json_decref(want_ctl);
	assert_string_equal(it_jstr(rc, "legal_reference"),
	    it_jstr(json_object_get(doc, "legal_basis"), "reference"));
	assert_true(json_equal(json_object_get(rc, "retention"),
	    json_object_get(doc, "retention")));
	assert_true(json_equal(json_object_get(rc, "onward_sharing"),
	    json_object_get(doc, "onward_sharing")));
	it_resp_free(&a);
	jws_parsed_free(&p);

	/* One changed byte of the payload and it no longer verifies. */
	bad = strdup(receipt);
	assert_non_null(bad);
	n = strcspn(bad, ".") + 10;
	bad[n] = bad[n] == 'A' ? 'B' : 'A';
	if (jws_parse(bad, strlen(bad), &p, err, sizeof(err)) == JWS_OK) {
		assert_int_not_equal(jws_verify_es256(pub, &p), JWS_OK);
		jws_parsed_free(&p);
	}
	free(bad);
	EVP_PKEY_free(pub);

	/* The stored consent keeps the same receipt. */
	consent_get(s, "lc-receipt", id, &a);
	assert_string_equal(it_jstr(a.json, "receipt"), receipt);
	it_resp_free(&a);
	free(receipt);
	it_resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    approval_by_a_party_not_named_in_the_version_is_403_approver_not_party),
		cmocka_unit_test(
		    new_version_must_name_its_predecessors_hash_409_version_chain),
		cmocka_unit_test(
		    widening_by_a_field_needs_fresh_consent_naming_the_added_field),
		cmocka_unit_test(
		    widening_by_a_purpose_needs_fresh_consent_naming_the_added_purpose),
		cmocka_unit_test(
		    narrowing_carries_the_consent_over_to_the_new_version),
		cmocka_unit_test(
		    fresh_grant_after_widening_supersedes_the_old_consent),
		cmocka_unit_test(sixth_token_of_the_day_is_refused_by_the_limit_rule),
		cmocka_unit_test(
		    consent_with_an_expiry_two_seconds_ahead_then_is_expired),
		cmocka_unit_test(
		    consent_may_leave_out_an_optional_field_and_then_does_not_cover_it),
		cmocka_unit_test(
		    bundle_grants_one_consent_per_agreement_each_revocable_alone),
		cmocka_unit_test(bundle_with_a_conflicting_item_grants_nothing),
		cmocka_unit_test(
		    bundle_that_fails_leaves_a_consent_it_would_have_superseded),
		cmocka_unit_test(
		    receipt_verifies_with_the_jwks_and_names_the_agreed_terms),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/lifecycle",
	    tests, it_group_setup, it_group_teardown));
}
