/* Integration: citizens grant, list, read and revoke consents; every
 * malformed or unacceptable grant is refused with the right status. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "timeu.h"

#define SMARTSTART "smartstart-ird-number"
#define STATUTORY "dia-msd-birth-notification"

/* Grants SMARTSTART for subject, asserting 201; id gets the consent id. */
static void
grant_ok(struct it_server *s, const char *subject, char id[64])
{
	struct it_resp r;

	it_grant(s, subject, SMARTSTART, NULL, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

static void
consent_path(char *out, size_t outlen, const char *id)
{
	it_fmt(out, outlen, "/v1/consents/%s", id);
}

IT_TEST(grant_is_201_with_id_agreement_subject_state_and_granted_at)
{
	struct it_resp r;
	char id[64];
	int64_t granted, expires, now = time(NULL);

	it_grant(s, "grant-alice", SMARTSTART, NULL, NULL, id, &r);
	assert_status(&r, 201);
	assert_string_equal(r.ctype, "application/json");
	assert_true(strncmp(id, "cns_", 4) == 0);
	assert_true(strlen(id) > 8);
	assert_string_equal(it_jstr(r.json, "agreement"), SMARTSTART);
	assert_string_equal(it_jstr(r.json, "subject"), "grant-alice");
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_null(json_object_get(r.json, "stored_state"));
	assert_int_equal(timeu_parse(it_jstr(r.json, "granted_at"), &granted), 0);
	assert_true(granted >= now - 5 && granted <= now + 5);
	/* Without fields the consent covers every field of the agreement. */
	assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 7);
	/* Without expires_at it lasts the agreement's maximum (90 days). */
	assert_int_equal(timeu_parse(it_jstr(r.json, "expires_at"), &expires), 0);
	assert_int_equal(expires - granted, 90 * 86400);
	it_resp_free(&r);
}

IT_TEST(list_shows_consents_only_to_their_citizen)
{
	const char *alice = it_citizen_token(s, "list-alice", 0);
	const char *bob = it_citizen_token(s, "list-bob", 0);
	struct it_resp r;
	json_t *arr;
	char id[64];

	grant_ok(s, "list-alice", id);
	it_get(s, NULL, alice, "/v1/consents", &r);
	assert_status(&r, 200);
	arr = json_object_get(r.json, "consents");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(it_jstr(json_array_get(arr, 0), "id"), id);
	assert_string_equal(it_jstr(json_array_get(arr, 0), "subject"),
	    "list-alice");
	it_resp_free(&r);
	it_get(s, NULL, bob, "/v1/consents", &r);
	assert_status(&r, 200);
	arr = json_object_get(r.json, "consents");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 0);
	it_resp_free(&r);
}

IT_TEST(get_by_owner_is_200_and_by_another_citizen_is_404)
{
	const char *owner = it_citizen_token(s, "get-owner", 0);
	const char *other = it_citizen_token(s, "get-other", 0);
	struct it_resp r;
	char id[64], path[128];

	grant_ok(s, "get-owner", id);
	consent_path(path, sizeof(path), id);
	it_get(s, NULL, owner, path, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "id"), id);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	it_resp_free(&r);
	it_get(s, NULL, other, path, &r);
	assert_problem(&r, 404, id);
	it_resp_free(&r);
	it_get(s, NULL, owner, "/v1/consents/cns_00000000000000000000000000000000",
	    &r);
	assert_problem(&r, 404, "cns_00000000000000000000000000000000");
	it_resp_free(&r);
}

IT_TEST(revoke_by_another_citizen_is_404_and_leaves_the_consent_active)
{
	const char *owner = it_citizen_token(s, "rv-owner", 0);
	struct it_resp r;
	char id[64], path[128];

	grant_ok(s, "rv-owner", id);
	it_revoke(s, "rv-intruder", id, &r);
	assert_problem(&r, 404, id);
	it_resp_free(&r);
	consent_path(path, sizeof(path), id);
	it_get(s, NULL, owner, path, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "active");
	assert_null(json_object_get(r.json, "revoked_at"));
	it_resp_free(&r);
}

IT_TEST(revoke_by_owner_is_200_revoked_and_again_is_200_still_revoked)
{
	const char *owner = it_citizen_token(s, "rv2-owner", 0);
	struct it_resp r;
	char id[64], path[128], revoked_at[64];

	grant_ok(s, "rv2-owner", id);
	it_revoke(s, "rv2-owner", id, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "id"), id);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	snprintf(revoked_at, sizeof(revoked_at), "%s",
	    it_jstr(r.json, "revoked_at"));
	assert_string_not_equal(revoked_at, "<absent>");
	it_resp_free(&r);
	it_sleep_ms(1100);   /* a second revoke must not move revoked_at */
	it_revoke(s, "rv2-owner", id, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	assert_string_equal(it_jstr(r.json, "revoked_at"), revoked_at);
	it_resp_free(&r);
	consent_path(path, sizeof(path), id);
	it_get(s, NULL, owner, path, &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "revoked");
	it_resp_free(&r);
}

IT_TEST(granting_twice_is_409_until_the_first_is_revoked)
{
	struct it_resp r;
	char id[64], id2[64];

	grant_ok(s, "twice", id);
	it_grant(s, "twice", SMARTSTART, NULL, NULL, NULL, &r);
	assert_problem(&r, 409, id);
	assert_string_equal(it_jstr(r.json, "rule"), "consent_exists");
	it_resp_free(&r);
	it_revoke(s, "twice", id, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_grant(s, "twice", SMARTSTART, NULL, NULL, id2, &r);
	assert_status(&r, 201);
	assert_string_not_equal(id, id2);
	it_resp_free(&r);
}

IT_TEST(fields_subset_with_every_required_field_is_201)
{
	struct it_resp r;

	it_grant(s, "subset-ok", SMARTSTART,
	    "[\"child.given_names\",\"child.family_name\",\"child.birth_date\","
	    "\"parent.given_names\",\"parent.family_name\"]", NULL, NULL, &r);
	assert_status(&r, 201);
	assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 5);
	it_resp_free(&r);
}

IT_TEST(fields_subset_omitting_a_required_field_is_422)
{
	struct it_resp r;

	it_grant(s, "subset-bad", SMARTSTART,
	    "[\"child.given_names\",\"child.family_name\",\"child.birth_date\","
	    "\"parent.given_names\"]", NULL, NULL, &r);
	assert_problem(&r, 422, "parent.family_name");
	it_resp_free(&r);
}

IT_TEST(unknown_field_is_422)
{
	struct it_resp r;

	it_grant(s, "unknown-field", SMARTSTART,
	    "[\"child.given_names\",\"child.family_name\",\"child.birth_date\","
	    "\"parent.given_names\",\"parent.family_name\",\"child.eye_colour\"]",
	    NULL, NULL, &r);
	assert_problem(&r, 422, "child.eye_colour");
	it_resp_free(&r);
}

IT_TEST(expires_at_in_the_past_is_422)
{
	struct it_resp r;
	char when[32];

	it_time_from_now(-60, when);
	it_grant(s, "exp-past", SMARTSTART, NULL, when, NULL, &r);
	assert_problem(&r, 422, "not in the future");
	it_resp_free(&r);
}

IT_TEST(expires_at_beyond_the_agreements_maximum_is_422)
{
	struct it_resp r;
	char when[32];

	it_time_from_now(91L * 86400, when);
	it_grant(s, "exp-far", SMARTSTART, NULL, when, NULL, &r);
	assert_problem(&r, 422, "90 days");
	it_resp_free(&r);
	/* Inside the maximum is fine. */
	it_time_from_now(89L * 86400, when);
	it_grant(s, "exp-far", SMARTSTART, NULL, when, NULL, &r);
	assert_status(&r, 201);
	assert_string_equal(it_jstr(r.json, "expires_at"), when);
	it_resp_free(&r);
}

IT_TEST(expires_at_that_is_not_a_date_time_is_422)
{
	struct it_resp r;

	it_grant(s, "exp-junk", SMARTSTART, NULL, "next tuesday", NULL, &r);
	assert_problem(&r, 422, "next tuesday");
	it_resp_free(&r);
}

IT_TEST(statutory_agreement_is_422)
{
	struct it_resp r;

	it_grant(s, "statutory", STATUTORY, NULL, NULL, NULL, &r);
	assert_problem(&r, 422, "statute");
	it_resp_free(&r);
}

IT_TEST(unknown_agreement_is_404)
{
	struct it_resp r;

	it_grant(s, "unknown-agr", "no-such-agreement", NULL, NULL, NULL, &r);
	assert_problem(&r, 404, "no-such-agreement");
	it_resp_free(&r);
}

IT_TEST(unknown_member_is_422)
{
	const char *tok = it_citizen_token(s, "unknown-member", 0);
	struct it_resp r;

	it_post_json(s, NULL, tok, "/v1/consents",
	    "{\"agreement\":\"" SMARTSTART "\",\"purpose\":\"x\"}", &r);
	assert_problem(&r, 422, "$.purpose");
	it_resp_free(&r);
}

IT_TEST(missing_agreement_is_400)
{
	const char *tok = it_citizen_token(s, "no-agr", 0);
	struct it_resp r;

	it_post_json(s, NULL, tok, "/v1/consents", "{}", &r);
	assert_problem(&r, 400, "$.agreement");
	it_resp_free(&r);
}

IT_TEST(bad_json_is_400)
{
	const char *tok = it_citizen_token(s, "bad-json", 0);
	struct it_resp r;

	it_post_json(s, NULL, tok, "/v1/consents",
	    "{\"agreement\": \"" SMARTSTART "\"", &r);
	assert_problem(&r, 400, "not valid JSON");
	it_resp_free(&r);
	it_post_json(s, NULL, tok, "/v1/consents", "[\"" SMARTSTART "\"]", &r);
	assert_problem(&r, 400, "JSON object");
	it_resp_free(&r);
}

IT_TEST(duplicate_json_keys_are_400)
{
	const char *tok = it_citizen_token(s, "dup-keys", 0);
	struct it_resp r;

	it_post_json(s, NULL, tok, "/v1/consents",
	    "{\"agreement\":\"" SMARTSTART "\",\"agreement\":\"" STATUTORY "\"}",
	    &r);
	assert_problem(&r, 400, "duplicate");
	it_resp_free(&r);
}

IT_TEST(body_over_64_kib_is_413)
{
	const char *tok = it_citizen_token(s, "big-body", 0);
	size_t n = 64 * 1024 + 100, i;
	char *body = malloc(n + 1);
	struct it_resp r;

	assert_non_null(body);
	i = (size_t)snprintf(body, n + 1, "{\"agreement\":\"" SMARTSTART
	    "\",\"pad\":\"");
	memset(body + i, 'x', n - i - 2);
	memcpy(body + n - 2, "\"}", 2);
	body[n] = '\0';
	it_post_json(s, NULL, tok, "/v1/consents", body, &r);
	assert_problem(&r, 413, "65536");
	it_resp_free(&r);
	free(body);
}

IT_TEST(wrong_content_type_is_415)
{
	const char *tok = it_citizen_token(s, "wrong-ctype", 0);
	struct it_req q = { .path = "/v1/consents", .bearer = tok,
	    .ctype = "text/plain",
	    .body = "{\"agreement\":\"" SMARTSTART "\"}" };
	struct it_resp r;

	it_request(s, &q, &r);
	assert_problem(&r, 415, "text/plain");
	it_resp_free(&r);
	q.ctype = "application/x-www-form-urlencoded";
	it_request(s, &q, &r);
	assert_problem(&r, 415, "application/x-www-form-urlencoded");
	it_resp_free(&r);
}

IT_TEST(concurrent_grants_for_one_agreement_yield_exactly_one_consent)
{
	const char *tok = it_citizen_token(s, "racer", 0);
	struct it_batch_item items[8];
	struct it_resp r;
	int created = 0, conflicts = 0;
	size_t i;

	memset(items, 0, sizeof(items));
	for (i = 0; i < 8; i++) {
		items[i].req.method = "POST";
		items[i].req.path = "/v1/consents";
		items[i].req.bearer = tok;
		items[i].req.ctype = "application/json";
		items[i].req.body = "{\"agreement\":\"" SMARTSTART "\"}";
	}
	assert_int_equal(it_batch(s, items, 8, 4, 20000, NULL, NULL), 0);
	for (i = 0; i < 8; i++) {
		if (items[i].resp.status == 201)
			created++;
		else if (items[i].resp.status == 409)
			conflicts++;
		else
			assert_status(&items[i].resp, 201);
		it_resp_free(&items[i].resp);
	}
	assert_int_equal(created, 1);
	assert_int_equal(conflicts, 7);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "consents")), 1);
	it_resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    grant_is_201_with_id_agreement_subject_state_and_granted_at),
		cmocka_unit_test(list_shows_consents_only_to_their_citizen),
		cmocka_unit_test(get_by_owner_is_200_and_by_another_citizen_is_404),
		cmocka_unit_test(
		    revoke_by_another_citizen_is_404_and_leaves_the_consent_active),
		cmocka_unit_test(
		    revoke_by_owner_is_200_revoked_and_again_is_200_still_revoked),
		cmocka_unit_test(granting_twice_is_409_until_the_first_is_revoked),
		cmocka_unit_test(fields_subset_with_every_required_field_is_201),
		cmocka_unit_test(fields_subset_omitting_a_required_field_is_422),
		cmocka_unit_test(unknown_field_is_422),
		cmocka_unit_test(expires_at_in_the_past_is_422),
		cmocka_unit_test(expires_at_beyond_the_agreements_maximum_is_422),
		cmocka_unit_test(expires_at_that_is_not_a_date_time_is_422),
		cmocka_unit_test(statutory_agreement_is_422),
		cmocka_unit_test(unknown_agreement_is_404),
		cmocka_unit_test(unknown_member_is_422),
		cmocka_unit_test(missing_agreement_is_400),
		cmocka_unit_test(bad_json_is_400),
		cmocka_unit_test(duplicate_json_keys_are_400),
		cmocka_unit_test(body_over_64_kib_is_413),
		cmocka_unit_test(wrong_content_type_is_415),
		cmocka_unit_test(
		    concurrent_grants_for_one_agreement_yield_exactly_one_consent),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/consent",
	    tests, it_group_setup, it_group_teardown));
}
