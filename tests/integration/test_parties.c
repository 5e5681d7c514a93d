/* Integration: an admin removes a party; its certificate stops working and
 * its outstanding tokens are revoked in the same commit. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REBATE "msd-wcc-rates-rebate"

/* A token for wcc about subject under the rates-rebate agreement. */
static char *
wcc_token(struct it_server *s, const char *subject)
{
	struct it_resp r;
	json_t *doc = it_example_agreement(REBATE), *f;
	const char *purpose, *field;
	const char *fields[2] = { NULL, NULL };
	char *tok;

	purpose = json_string_value(json_array_get(json_object_get(doc,
	    "purposes"), 0));
	f = json_array_get(json_object_get(doc, "fields"), 0);
	field = json_string_value(json_object_get(f, "name"));
	assert_non_null(purpose);
	assert_non_null(field);
	fields[0] = field;
	it_grant(s, subject, REBATE, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	it_token(s, "wcc", REBATE, subject, purpose, fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	it_resp_free(&r);
	json_decref(doc);
	return tok;
}

IT_TEST(only_an_admin_may_remove_a_party)
{
	struct it_resp r;
	struct it_req q = { "DELETE", "/v1/parties/ird", "registrar", NULL,
	    NULL, NULL, NULL, NULL, 0, 0 };

	it_request(s, &q, &r);
	assert_status(&r, 403);
	assert_string_equal(it_jstr(r.json, "rule"), "admin_role");
	it_resp_free(&r);
	/* ird is untouched. */
	it_get(s, "ird", NULL, "/v1/parties/ird", &r);
	assert_status(&r, 200);
	assert_null(json_object_get(r.json, "removed"));
	it_resp_free(&r);
}

IT_TEST(removing_a_party_revokes_its_tokens_and_its_certificate)
{
	struct it_resp r;
	struct it_req q = { "DELETE", "/v1/parties/wcc", "admin", NULL, NULL,
	    NULL, NULL, NULL, 0, 0 };
	char *tok = wcc_token(s, "party-removal-subject");

	it_introspect(s, "msd", tok, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	it_request(s, &q, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "removed")));
	assert_int_equal(it_jint(json_object_get(r.json, "revocation"),
	    "tokens_revoked"), 1);
	it_resp_free(&r);
	/* The certificate no longer authenticates. */
	it_get(s, "wcc", NULL, "/v1/agreements", &r);
	assert_status(&r, 401);
	assert_non_null(strstr(it_jstr(r.json, "detail"), "not registered"));
	it_resp_free(&r);
	/* Its outstanding token is revoked at once. */
	it_introspect(s, "msd", tok, &r);
	assert_status(&r, 200);
	assert_false(json_is_true(json_object_get(r.json, "active")));
	it_resp_free(&r);
	/* Removing again changes nothing. */
	it_request(s, &q, &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "removed")));
	it_resp_free(&r);
	free(tok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(only_an_admin_may_remove_a_party),
		cmocka_unit_test(
		    removing_a_party_revokes_its_tokens_and_its_certificate),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/parties",
	    tests, it_group_setup, it_group_teardown));
}
