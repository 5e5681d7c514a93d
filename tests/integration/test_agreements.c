/* Integration: agreements are submitted by the registrar, approved by
 * every named party, versioned by hash chain, and moved through their
 * lifecycle; parties and citizens can read them. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "jsonu.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"

/* A copy of the SmartStart example named id (provider dia, recipient ird). */
static json_t *
new_doc(const char *id)
{
	json_t *doc = it_example_agreement(SMARTSTART);

	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "title", json_string("Integration test copy"));
	return doc;
}

/* Submits doc as registrar (201 asserted); hash gets its hash. */
static void
submit_ok(struct it_server *s, const json_t *doc, char hash[72])
{
	struct it_resp r;

	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	snprintf(hash, 72, "%s", it_jstr(r.json, "hash"));
	it_resp_free(&r);
}

/* Approves id version as party; asserts 200 and the resulting state. */
static void
approve_ok(struct it_server *s, const char *party, const char *id,
    long version, const char *hash, const char *want_state)
{
	struct it_resp r;

	it_approve(s, party, id, version, hash, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), want_state);
	it_resp_free(&r);
}

/* Submits and fully approves a copy named id; hash gets its hash. */
static void
make_active(struct it_server *s, const char *id, char hash[72])
{
	json_t *doc = new_doc(id);

	submit_ok(s, doc, hash);
	json_decref(doc);
	approve_ok(s, "dia", id, 1, hash, "draft");
	approve_ok(s, "ird", id, 1, hash, "active");
}

/* The state of id (?version=v when v > 0) as read by ird. */
static void
expect_state(struct it_server *s, const char *id, long v, const char *want)
{
	struct it_resp r;
	char path[256];

	if (v > 0)
		it_fmt(path, sizeof(path), "/v1/agreements/%s?version=%ld", id, v);
	else
		it_fmt(path, sizeof(path), "/v1/agreements/%s", id);
	it_get(s, "ird", NULL, path, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), want);
	it_resp_free(&r);
}

IT_TEST(registrar_submits_a_valid_new_agreement_as_a_draft_with_its_hash)
{
	json_t *doc = new_doc("agr-submit");
	struct it_resp r;
	char want[65];

	it_submit_agreement(s, "registrar", doc, &r);
	assert_status(&r, 201);
	assert_string_equal(r.ctype, "application/json");
	assert_string_equal(it_jstr(r.json, "id"), "agr-submit");
	assert_int_equal(it_jint(r.json, "version"), 1);
	assert_string_equal(it_jstr(r.json, "state"), "draft");
	/* The hash is the SHA-256 of the canonical (RFC 8785) document. */
	assert_int_equal(jsonu_canonical_sha256_hex(doc, want), 0);
	assert_string_equal(it_jstr(r.json, "hash"), want);
	assert_true(json_equal(json_object_get(r.json, "document"), doc));
	it_resp_free(&r);
	expect_state(s, "agr-submit", 0, "draft");
	json_decref(doc);
}

IT_TEST(submitting_without_the_registrar_role_is_403)
{
	static const char *const parties[] = { "ird", "dia", "admin", NULL };
	json_t *doc = new_doc("agr-not-registrar");
	struct it_resp r;
	size_t i;

	for (i = 0; parties[i] != NULL; i++) {
		it_submit_agreement(s, parties[i], doc, &r);
		assert_problem(&r, 403, "registrar role");
		assert_contains(it_jstr(r.json, "detail"), parties[i]);
		it_resp_free(&r);
	}
	json_decref(doc);
	/* Nothing was stored. */
	it_get(s, "ird", NULL, "/v1/agreements/agr-not-registrar", &r);
	assert_problem(&r, 404, "agr-not-registrar");
	it_resp_free(&r);
}

IT_TEST(invalid_document_is_422_naming_the_json_path)
{
	struct it_resp r;
	json_t *doc;

	doc = new_doc("agr-invalid");
	json_object_set_new(json_array_get(json_object_get(doc, "fields"), 1),
	    "name", json_string("Child Family Name"));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 422, "$.fields[1].name");
	it_resp_free(&r);
	json_decref(doc);

	doc = new_doc("agr-invalid");
	json_object_del(doc, "provider");
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 422, "$.provider");
	it_resp_free(&r);
	json_decref(doc);

	doc = new_doc("agr-invalid");
	json_object_set_new(doc, "recipients", json_pack("[s]", "dia"));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 422, "$.recipients[0]");
	it_resp_free(&r);
	json_decref(doc);

	doc = new_doc("agr-invalid");
	json_object_set_new(doc, "retention_policy", json_true());
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 422, "$.retention_policy");
	it_resp_free(&r);
	json_decref(doc);

	/* Not JSON at all is a 400, not a 422. */
	it_post_json(s, "registrar", NULL, "/v1/agreements", "{\"id\":", &r);
	assert_problem(&r, 400, "not valid JSON");
	it_resp_free(&r);
}

IT_TEST(approve_with_the_wrong_hash_is_409)
{
	json_t *doc = new_doc("agr-wrong-hash");
	struct it_resp r;
	char hash[72];

	submit_ok(s, doc, hash);
	json_decref(doc);
	it_approve(s, "dia", "agr-wrong-hash", 1,
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    &r);
	assert_problem(&r, 409, hash);   /* it names the right one */
	it_resp_free(&r);
	expect_state(s, "agr-wrong-hash", 0, "draft");
	/* Unknown version is 404. */
	it_approve(s, "dia", "agr-wrong-hash", 2, hash, &r);
	assert_problem(&r, 404, "version 2");
	it_resp_free(&r);
}

IT_TEST(approve_by_a_party_not_named_in_the_agreement_is_403)
{
	static const char *const parties[] = { "wcc", "msd", "registrar",
	    "admin", NULL };
	json_t *doc = new_doc("agr-not-named");
	struct it_resp r;
	char hash[72];
	size_t i;

	submit_ok(s, doc, hash);
	json_decref(doc);
	for (i = 0; parties[i] != NULL; i++) {
		it_approve(s, parties[i], "agr-not-named", 1, hash, &r);
		assert_problem(&r, 403, "not named");
		assert_contains(it_jstr(r.json, "detail"), parties[i]);
		it_resp_free(&r);
	}
	expect_state(s, "agr-not-named", 0, "draft");
}

IT_TEST(agreement_becomes_active_once_every_named_party_approved)
{
	struct it_resp r;
	json_t *doc = new_doc("agr-approve"), *appr;
	char hash[72];

	json_object_set_new(doc, "recipients", json_pack("[s, s]", "ird", "wcc"));
	submit_ok(s, doc, hash);
	json_decref(doc);
	approve_ok(s, "ird", "agr-approve", 1, hash, "draft");
	approve_ok(s, "dia", "agr-approve", 1, hash, "draft");
	/* Approving twice changes nothing. */
	approve_ok(s, "dia", "agr-approve", 1, hash, "draft");
	it_approve(s, "wcc", "agr-approve", 1, hash, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	appr = json_object_get(r.json, "approvals");
	assert_int_equal(json_object_size(appr), 3);
	assert_non_null(json_object_get(appr, "dia"));
	assert_non_null(json_object_get(appr, "ird"));
	assert_non_null(json_object_get(appr, "wcc"));
	it_resp_free(&r);
	expect_state(s, "agr-approve", 0, "active");
	/* Once active it is not approved again. */
	it_approve(s, "dia", "agr-approve", 1, hash, &r);
	assert_problem(&r, 409, "only drafts");
	it_resp_free(&r);
}

IT_TEST(draft_agreement_takes_no_consent)
{
	json_t *doc = new_doc("agr-draft-consent");
	struct it_resp r;
	char hash[72];

	submit_ok(s, doc, hash);
	json_decref(doc);
	it_grant(s, "draft-citizen", "agr-draft-consent", NULL, NULL, NULL, &r);
	assert_problem(&r, 409, "draft");
	it_resp_free(&r);
}

/* A v2 of id: the v1 document with version 2, previous_hash prev and a
 * new title. */
static json_t *
v2_doc(const char *id, const char *prev)
{
	json_t *doc = new_doc(id);

	json_object_set_new(doc, "version", json_integer(2));
	json_object_set_new(doc, "title", json_string("Integration test v2"));
	if (prev != NULL)
		json_object_set_new(doc, "previous_hash", json_string(prev));
	return doc;
}

IT_TEST(new_version_with_the_wrong_previous_hash_is_409)
{
	struct it_resp r;
	char h1[72];
	json_t *doc;

	make_active(s, "agr-v2-wrong", h1);
	doc = v2_doc("agr-v2-wrong",
	    "1111111111111111111111111111111111111111111111111111111111111111");
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 409, "previous_hash");
	assert_contains(it_jstr(r.json, "detail"), h1);
	it_resp_free(&r);
	json_decref(doc);
	/* A version that skips one is refused too. */
	doc = v2_doc("agr-v2-wrong", h1);
	json_object_set_new(doc, "version", json_integer(3));
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 409, "must be 2");
	it_resp_free(&r);
	json_decref(doc);
	/* So is a first version that is not 1. */
	doc = v2_doc("agr-v2-orphan", h1);
	it_submit_agreement(s, "registrar", doc, &r);
	assert_problem(&r, 409, "must be 1");
	it_resp_free(&r);
	json_decref(doc);
	expect_state(s, "agr-v2-wrong", 0, "active");
}

IT_TEST(new_version_once_approved_is_active_and_supersedes_the_old)
{
	struct it_resp r;
	char h1[72], h2[72], path[128];
	json_t *doc, *versions;

	make_active(s, "agr-v2", h1);
	doc = v2_doc("agr-v2", h1);
	submit_ok(s, doc, h2);
	json_decref(doc);
	assert_string_not_equal(h1, h2);
	/* While v2 is a draft, v1 is still the effective version. */
	it_get(s, "ird", NULL, "/v1/agreements/agr-v2", &r);
	assert_status(&r, 200);
	assert_int_equal(it_jint(r.json, "version"), 1);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	expect_state(s, "agr-v2", 2, "draft");
	approve_ok(s, "dia", "agr-v2", 2, h2, "draft");
	approve_ok(s, "ird", "agr-v2", 2, h2, "active");
	it_get(s, "ird", NULL, "/v1/agreements/agr-v2", &r);
	assert_status(&r, 200);
	assert_int_equal(it_jint(r.json, "version"), 2);
	assert_string_equal(it_jstr(r.json, "hash"), h2);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	versions = json_object_get(r.json, "versions");
	assert_int_equal(json_array_size(versions), 2);
	assert_string_equal(it_jstr(json_array_get(versions, 0), "state"),
	    "superseded");
	assert_string_equal(it_jstr(json_array_get(versions, 1), "state"),
	    "active");
	it_resp_free(&r);
	expect_state(s, "agr-v2", 1, "superseded");
	/* Tokens now name version 2. */
	it_grant(s, "v2-citizen", "agr-v2", NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	assert_int_equal(it_jint(r.json, "agreement_version"), 2);
	it_resp_free(&r);
	{
		static const char *const f[] = { "child.given_names", NULL };

		it_token(s, "ird", "agr-v2", "v2-citizen", PURPOSE, f, &r);
	}
	assert_status(&r, 200);
	{
		json_t *ad = json_array_get(json_object_get(r.json,
		    "authorization_details"), 0);

		assert_int_equal(it_jint(ad, "agreement_version"), 2);
		assert_string_equal(it_jstr(ad, "agreement_hash"), h2);
	}
	it_resp_free(&r);
	it_fmt(path, sizeof(path), "/v1/agreements/agr-v2?version=3");
	it_get(s, "ird", NULL, path, &r);
	assert_problem(&r, 404, "version 3");
	it_resp_free(&r);
}

IT_TEST(lifecycle_moves_suspend_resume_terminate_and_refuses_the_rest)
{
	static const char *const f[] = { "child.given_names", NULL };
	struct it_resp r;
	char hash[72];

	make_active(s, "agr-life", hash);
	it_grant(s, "life-citizen", "agr-life", NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);

	it_lifecycle(s, "dia", "agr-life", "resume", "nothing to resume", &r);
	assert_problem(&r, 409, "is active; cannot resume");
	it_resp_free(&r);
	/* A recipient may suspend. */
	it_lifecycle(s, "ird", "agr-life", "suspend", "incident 42", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "suspended");
	assert_string_equal(it_jstr(r.json, "reason"), "incident 42");
	assert_string_equal(it_jstr(r.json, "changed_by"), "ird");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life", "suspend", "again", &r);
	assert_problem(&r, 409, "is suspended; cannot suspend");
	it_resp_free(&r);
	it_token(s, "ird", "agr-life", "life-citizen", PURPOSE, f, &r);
	assert_oauth_error(&r, 403, "access_denied", "suspended");
	it_resp_free(&r);
	/* The admin may resume although not named. */
	it_lifecycle(s, "admin", "agr-life", "resume", "incident closed", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	it_token(s, "ird", "agr-life", "life-citizen", PURPOSE, f, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life", "terminate", "programme ended", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "terminated");
	it_resp_free(&r);
	expect_state(s, "agr-life", 0, "terminated");
	it_lifecycle(s, "dia", "agr-life", "resume", "undo", &r);
	assert_problem(&r, 409, "is terminated; cannot resume");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life", "suspend", "undo", &r);
	assert_problem(&r, 409, "is terminated; cannot suspend");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life", "terminate", "twice", &r);
	assert_problem(&r, 409, "is terminated; cannot terminate");
	it_resp_free(&r);
	it_token(s, "ird", "agr-life", "life-citizen", PURPOSE, f, &r);
	assert_oauth_error(&r, 403, "access_denied", "terminated");
	it_resp_free(&r);
	it_grant(s, "life-citizen-2", "agr-life", NULL, NULL, NULL, &r);
	assert_problem(&r, 409, "terminated");
	it_resp_free(&r);
}

IT_TEST(lifecycle_by_a_party_not_named_or_without_reason_is_refused)
{
	struct it_resp r;
	char hash[72], path[128];

	make_active(s, "agr-life-auth", hash);
	it_lifecycle(s, "wcc", "agr-life-auth", "suspend", "not mine", &r);
	assert_problem(&r, 403, "neither named");
	it_resp_free(&r);
	it_lifecycle(s, "registrar", "agr-life-auth", "terminate", "no", &r);
	assert_problem(&r, 403, "neither named");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life-auth", "suspend", "", &r);
	assert_problem(&r, 400, "reason");
	it_resp_free(&r);
	it_fmt(path, sizeof(path), "/v1/agreements/agr-life-auth/suspend");
	it_post_json(s, "dia", NULL, path, "{}", &r);
	assert_problem(&r, 400, "reason");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "no-such-agreement", "suspend", "x", &r);
	assert_problem(&r, 404, "no-such-agreement");
	it_resp_free(&r);
	/* Without a certificate: 401. */
	it_post_json(s, NULL, NULL, path, "{\"reason\":\"x\"}", &r);
	assert_problem(&r, 401, "client certificate");
	it_resp_free(&r);
	expect_state(s, "agr-life-auth", 0, "active");
}

IT_TEST(lifecycle_of_a_draft_is_409)
{
	json_t *doc = new_doc("agr-life-draft");
	struct it_resp r;
	char hash[72];

	submit_ok(s, doc, hash);
	json_decref(doc);
	it_lifecycle(s, "dia", "agr-life-draft", "suspend", "x", &r);
	assert_problem(&r, 409, "is draft");
	it_resp_free(&r);
	it_lifecycle(s, "dia", "agr-life-draft", "terminate", "x", &r);
	assert_problem(&r, 409, "is draft");
	it_resp_free(&r);
}

/* Whether the list in r has an agreement id. */
static int
list_has(const struct it_resp *r, const char *id)
{
	json_t *arr = json_object_get(r->json, "agreements"), *a;
	size_t i;

	json_array_foreach(arr, i, a)
		if (strcmp(it_jstr(a, "id"), id) == 0)
			return 1;
	return 0;
}

IT_TEST(list_and_get_work_for_parties_and_citizens)
{
	const char *citizen = it_citizen_token(s, "reader-citizen", 0);
	static const char *const examples[] = { SMARTSTART,
	    "dia-msd-birth-notification", "msd-wcc-rates-rebate",
	    "msd-community-services-card", NULL };
	struct it_resp r;
	size_t i;

	it_get(s, "wcc", NULL, "/v1/agreements", &r);
	assert_status(&r, 200);
	for (i = 0; examples[i] != NULL; i++)
		if (!list_has(&r, examples[i]))
			fail_msg("list as a party misses %s", examples[i]);
	it_resp_free(&r);
	it_get(s, NULL, citizen, "/v1/agreements", &r);
	assert_status(&r, 200);
	for (i = 0; examples[i] != NULL; i++)
		if (!list_has(&r, examples[i]))
			fail_msg("list as a citizen misses %s", examples[i]);
	it_resp_free(&r);

	it_get(s, NULL, citizen, "/v1/agreements/" SMARTSTART, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "id"), SMARTSTART);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_string_equal(it_jstr(json_object_get(r.json, "document"),
	    "provider"), "dia");
	it_resp_free(&r);
	it_get(s, "auditor", NULL, "/v1/agreements/" SMARTSTART "?version=1",
	    &r);
	assert_status(&r, 200);
	assert_int_equal(it_jint(r.json, "version"), 1);
	it_resp_free(&r);
	it_get(s, "ird", NULL, "/v1/agreements/" SMARTSTART "?version=0", &r);
	assert_problem(&r, 400, "version=N");
	it_resp_free(&r);
	it_get(s, "ird", NULL, "/v1/agreements/" SMARTSTART "?limit=5", &r);
	assert_problem(&r, 400, "version=N");
	it_resp_free(&r);
	it_get(s, NULL, citizen, "/v1/agreements/no-such-agreement", &r);
	assert_problem(&r, 404, "no-such-agreement");
	it_resp_free(&r);
	/* Neither a party nor a citizen: 401. */
	it_get(s, NULL, NULL, "/v1/agreements/" SMARTSTART, &r);
	assert_status(&r, 401);
	it_resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    registrar_submits_a_valid_new_agreement_as_a_draft_with_its_hash),
		cmocka_unit_test(submitting_without_the_registrar_role_is_403),
		cmocka_unit_test(invalid_document_is_422_naming_the_json_path),
		cmocka_unit_test(approve_with_the_wrong_hash_is_409),
		cmocka_unit_test(
		    approve_by_a_party_not_named_in_the_agreement_is_403),
		cmocka_unit_test(
		    agreement_becomes_active_once_every_named_party_approved),
		cmocka_unit_test(draft_agreement_takes_no_consent),
		cmocka_unit_test(new_version_with_the_wrong_previous_hash_is_409),
		cmocka_unit_test(
		    new_version_once_approved_is_active_and_supersedes_the_old),
		cmocka_unit_test(
		    lifecycle_moves_suspend_resume_terminate_and_refuses_the_rest),
		cmocka_unit_test(
		    lifecycle_by_a_party_not_named_or_without_reason_is_refused),
		cmocka_unit_test(lifecycle_of_a_draft_is_409),
		cmocka_unit_test(list_and_get_work_for_parties_and_citizens),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/agreements",
	    tests, it_group_setup, it_group_teardown));
}
