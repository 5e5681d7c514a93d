/*
 * Attacks across parties and citizens: a party acting on an agreement it
 * is not named in, a requester asking for a token under another's
 * agreement, a citizen reading or revoking another citizen's consent, a
 * registrar approving in another party's place, a non-auditor reading
 * others' audit-log entries and proofs, and citizen ID tokens with
 * extreme times. Each refusal is exact (status, rule, detail), and the
 * records involved read back unchanged, with the audit log not grown.
 */
#include "attack.h"

#include <stdio.h>
#include <stdlib.h>

#include "b64.h"
#include "logentry.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define REBATE "msd-wcc-rates-rebate"
#define REBATE_PURPOSE "assess-rates-rebate"
#define DRAFT "atk-authz-draft"

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };
static const char *const rebate_fields[] = { "client.given_names",
    "benefit.status", NULL };

/* Made by the group setup; tests run one at a time. */
static struct {
	char draft_hash[65];      /* DRAFT v1, submitted by the registrar */
	char alice_consent[64];   /* alice's consent to SMARTSTART */
	char ird_jti[64];         /* a token ird obtained */
} fx;

static int
setup(void **state)
{
	struct it_server *s;
	struct it_resp r;
	json_t *doc, *c;

	if (it_group_setup(state) != 0)
		return -1;
	s = *state;
	doc = it_example_agreement(SMARTSTART);
	json_object_set_new(doc, "id", json_string(DRAFT));
	it_submit_agreement(s, "registrar", doc, &r);
	json_decref(doc);
	assert_status(&r, 201);
	snprintf(fx.draft_hash, sizeof(fx.draft_hash), "%s",
	    it_jstr(r.json, "hash"));
	it_resp_free(&r);
	it_grant(s, "atk-alice", SMARTSTART, NULL, NULL, fx.alice_consent, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, "atk-alice", PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	c = it_jwt_part(it_jstr(r.json, "access_token"), 1);
	snprintf(fx.ird_jti, sizeof(fx.ird_jti), "%s", it_jstr(c, "jti"));
	json_decref(c);
	it_resp_free(&r);
	return 0;
}

/* GET /v1/agreements/{id} as auditor, compact JSON text (caller frees). */
static char *
agreement_text(const struct it_server *s, const char *id)
{
	struct it_resp r;
	char path[256], *t;

	it_fmt(path, sizeof(path), "/v1/agreements/%s", id);
	it_get(s, "auditor", NULL, path, &r);
	assert_status(&r, 200);
	t = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(t);
	it_resp_free(&r);
	return t;
}

/* ---- parties on agreements they are not in -------------------------------- */

IT_TEST(party_not_in_an_agreement_cannot_suspend_resume_or_terminate_it)
{
	uint64_t before = atk_log_size(s);
	char *rec = agreement_text(s, SMARTSTART), *after, detail[256];
	static const char *const verbs[] = { "suspend", "resume", "terminate" };
	static const char *const parties[] = { "wcc", "msd", "registrar",
	    "auditor" };
	struct it_resp r;
	size_t i, j;

	for (i = 0; i < 3; i++)
		for (j = 0; j < 4; j++) {
			it_lifecycle(s, parties[j], SMARTSTART, verbs[i], "attack",
			    &r);
			it_fmt(detail, sizeof(detail), "party '%s' is neither named "
			    "in agreement '%s' nor an admin", parties[j],
			    SMARTSTART);
			assert_problem(&r, 403, detail);
			assert_string_equal(it_jstr(r.json, "rule"),
			    "lifecycle_party");
			it_resp_free(&r);
		}
	after = agreement_text(s, SMARTSTART);
	assert_string_equal(after, rec);   /* state, reason, updated_at... */
	assert_int_equal(atk_log_size(s), before);
	free(rec);
	free(after);
}

IT_TEST(party_not_in_a_draft_or_the_registrar_cannot_approve_it)
{
	uint64_t before = atk_log_size(s);
	char *rec = agreement_text(s, DRAFT), *after, detail[256], path[256];
	static const char *const parties[] = { "wcc", "msd", "registrar",
	    "auditor", "admin" };
	struct it_resp r;
	size_t j;

	for (j = 0; j < sizeof(parties) / sizeof(parties[0]); j++) {
		it_approve(s, parties[j], DRAFT, 1, fx.draft_hash, &r);
		it_fmt(detail, sizeof(detail), "party '%s' is not named in "
		    "agreement '%s' and cannot approve it", parties[j], DRAFT);
		assert_problem(&r, 403, detail);
		assert_string_equal(it_jstr(r.json, "rule"),
		    "approver_not_party");
		it_resp_free(&r);
	}
	/* The registrar naming the party it claims to approve for: the
	 * approval is always the certificate's party's own. */
	it_fmt(path, sizeof(path), "/v1/agreements/%s/approve", DRAFT);
	{
		char body[256];

		it_fmt(body, sizeof(body), "{\"version\":1,\"hash\":\"%s\","
		    "\"party\":\"dia\",\"approvals\":{\"dia\":\"now\","
		    "\"ird\":\"now\"}}", fx.draft_hash);
		it_post_json(s, "registrar", NULL, path, body, &r);
		it_fmt(detail, sizeof(detail), "party 'registrar' is not named "
		    "in agreement '%s'", DRAFT);
		assert_problem(&r, 403, detail);
		it_resp_free(&r);
	}
	after = agreement_text(s, DRAFT);
	assert_string_equal(after, rec);
	assert_contains(after, "\"approvals\":{}");
	assert_contains(after, "\"state\":\"draft\"");
	assert_int_equal(atk_log_size(s), before);
	free(rec);
	free(after);
}

/* ---- tokens under another's agreement --------------------------------------- */

IT_TEST(requester_cannot_get_a_token_addressed_under_another_agreement)
{
	uint64_t before;
	char detail[256];
	struct it_resp r;
	int i;

	it_grant(s, "atk-rebate", REBATE, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	before = atk_log_size(s);
	/* ird under wcc's agreement with msd (the audience would be msd). */
	it_token(s, "ird", REBATE, "atk-rebate", REBATE_PURPOSE, rebate_fields,
	    &r);
	it_fmt(detail, sizeof(detail), "party 'ird' is not a recipient of "
	    "agreement '%s'", REBATE);
	assert_oauth_error(&r, 400, "unauthorized_client", detail);
	it_resp_free(&r);
	/* msd, the provider of REBATE and a requester elsewhere. */
	it_token(s, "msd", REBATE, "atk-rebate", REBATE_PURPOSE, rebate_fields,
	    &r);
	assert_oauth_error(&r, 400, "unauthorized_client",
	    "party 'msd' is not a recipient of agreement 'msd-wcc-rates-rebate'");
	it_resp_free(&r);
	/* dia has no requester role at all. */
	it_token(s, "dia", REBATE, "atk-rebate", REBATE_PURPOSE, rebate_fields,
	    &r);
	assert_oauth_error(&r, 400, "unauthorized_client",
	    "party 'dia' does not have the requester role");
	it_resp_free(&r);
	/* ird claiming to be wcc. */
	{
		json_t *d = it_details(REBATE, "atk-rebate", REBATE_PURPOSE,
		    rebate_fields);
		char *form = it_token_form(d), *f2;
		size_t n = strlen(form) + 20;

		f2 = malloc(n);
		assert_non_null(f2);
		snprintf(f2, n, "%s&client_id=wcc", form);
		it_post_form(s, "ird", "/oauth2/token", f2, &r);
		assert_oauth_error(&r, 401, "invalid_client",
		    "client_id 'wcc' does not match the client certificate's "
		    "party 'ird'");
		it_resp_free(&r);
		free(form);
		free(f2);
		json_decref(d);
	}
	assert_int_equal(atk_log_size(s), before);
	/* No refusal counted against the day's limit (3): wcc gets 3. */
	for (i = 0; i < 3; i++) {
		it_token(s, "wcc", REBATE, "atk-rebate", REBATE_PURPOSE,
		    rebate_fields, &r);
		assert_status(&r, 200);
		it_resp_free(&r);
	}
	it_token(s, "wcc", REBATE, "atk-rebate", REBATE_PURPOSE, rebate_fields,
	    &r);
	assert_oauth_error(&r, 403, "access_denied", "and 3 were issued today");
	it_resp_free(&r);
}

/* ---- citizens ------------------------------------------------------------------ */

/* alice's consent as she reads it, compact text (caller frees). */
static char *
consent_text(struct it_server *s, const char *subject, const char *id)
{
	struct it_resp r;
	char path[128], *t;

	it_fmt(path, sizeof(path), "/v1/consents/%s", id);
	it_get(s, NULL, it_citizen_token(s, subject, 0), path, &r);
	assert_status(&r, 200);
	t = json_dumps(r.json, JSON_COMPACT | JSON_SORT_KEYS);
	it_resp_free(&r);
	return t;
}

IT_TEST(citizen_cannot_read_or_revoke_another_citizens_consent)
{
	uint64_t before = atk_log_size(s);
	const char *bob = it_citizen_token(s, "atk-bob", 0);
	char *rec = consent_text(s, "atk-alice", fx.alice_consent), *after,
	    path[128], detail[128], other[128];
	struct it_resp r;

	assert_non_null(bob);
	it_fmt(path, sizeof(path), "/v1/consents/%s", fx.alice_consent);
	it_fmt(detail, sizeof(detail), "you have no consent '%s'",
	    fx.alice_consent);
	it_get(s, NULL, bob, path, &r);
	assert_problem(&r, 404, detail);
	assert_string_equal(it_jstr(r.json, "rule"), "consent_owner");
	/* Told apart from an id that does not exist? It must not be. */
	{
		struct it_resp r2;
		char p2[128], d2[128];
		const char *none = "cns_00000000000000000000000000000000";

		it_fmt(p2, sizeof(p2), "/v1/consents/%s", none);
		it_get(s, NULL, bob, p2, &r2);
		it_fmt(d2, sizeof(d2), "you have no consent '%s'", none);
		assert_problem(&r2, 404, d2);
		assert_string_equal(it_jstr(r2.json, "title"),
		    it_jstr(r.json, "title"));
		it_resp_free(&r2);
	}
	it_resp_free(&r);
	it_delete(s, bob, path, &r);
	assert_problem(&r, 404, detail);
	assert_string_equal(it_jstr(r.json, "rule"), "consent_owner");
	it_resp_free(&r);
	/* bob's list is his own (empty). */
	it_get(s, NULL, bob, "/v1/consents", &r);
	assert_status(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "consents")),
	    0);
	it_resp_free(&r);
	/* Granting "for" alice is an unknown member. */
	it_post_json(s, NULL, bob, "/v1/consents", "{\"agreement\":\""
	    REBATE "\",\"subject\":\"atk-alice\"}", &r);
	assert_problem(&r, 422, "subject");
	assert_string_equal(it_jstr(r.json, "rule"), "consent_terms");
	it_resp_free(&r);
	/* Odd ids. */
	it_fmt(other, sizeof(other), "/v1/consents/%s%%2f..%%2f..",
	    fx.alice_consent);
	it_delete(s, bob, other, &r);
	assert_status(&r, 404);
	it_resp_free(&r);
	it_delete(s, bob, "/v1/consents/..%2f..%2fv1%2fagreements", &r);
	assert_status(&r, 404);
	it_resp_free(&r);
	after = consent_text(s, "atk-alice", fx.alice_consent);
	assert_string_equal(after, rec);
	assert_contains(after, "\"state\":\"active\"");
	assert_int_equal(strstr(after, "revoked_at") == NULL, 1);
	assert_int_equal(atk_log_size(s), before);
	free(rec);
	free(after);
}

/* A citizen token for subject re-signed by the dev issuer with claim key
 * set to raw JSON text; new string. */
static char *
citizen_token_with(struct it_server *s, const char *subject,
    const char *key, const char *raw)
{
	const char *tok = it_citizen_token(s, subject, 0);
	json_t *h = it_jwt_part(tok, 0), *c = it_jwt_part(tok, 1);
	char *ht, *ct, *payload, *t;
	EVP_PKEY *k = atk_load_key(s, "keys/dev-issuer.key");
	size_t n;

	assert_non_null(h);
	assert_non_null(c);
	json_object_del(c, key);
	ht = json_dumps(h, JSON_COMPACT);
	ct = json_dumps(c, JSON_COMPACT);
	n = strlen(ct) + strlen(key) + strlen(raw) + 8;
	payload = malloc(n);
	assert_non_null(payload);
	ct[strlen(ct) - 1] = '\0';
	snprintf(payload, n, "%s,\"%s\":%s}", ct, key, raw);
	t = atk_jws(k, ht, payload);
	free(ht);
	free(ct);
	free(payload);
	json_decref(h);
	json_decref(c);
	EVP_PKEY_free(k);
	return t;
}

IT_TEST(citizen_tokens_with_extreme_times_are_judged_without_overflow)
{
	static const struct {
		const char *key, *raw;
		long status;
		const char *detail;
	} cases[] = {
		{ "exp", "9223372036854775807", 200, NULL },
		{ "exp", "-1", 401, "citizen token expired" },
		{ "exp", "-9223372036854775808", 401, "citizen token expired" },
		{ "exp", "1e30", 401, "citizen token has no integer \"exp\"" },
		{ "exp", "\"4102444800\"", 401,
		    "citizen token has no integer \"exp\"" },
		{ "exp", "9223372036854775808", 401, "citizen token is malformed" },
		{ "nbf", "9223372036854775807", 401,
		    "citizen token is not valid yet" },
		{ "iat", "9223372036854775807", 401,
		    "citizen token is not valid yet" },
		{ "nbf", "-9223372036854775808", 200, NULL },
		/* The store's key separator (0x1f) and other controls. */
		{ "sub", "\"atk-alice\\u001fsmartstart-ird-number\"", 401,
		    "no valid \"sub\"" },
		{ "sub", "\" atk-alice\"", 401, "no valid \"sub\"" },
		{ "sub", "\"atk\\u007f\"", 401, "no valid \"sub\"" },
		{ "sub", "\"\"", 401, "no valid \"sub\"" },
		{ "sub", "1", 401, "no valid \"sub\"" },
		{ "sub", "\"atk-alice\\u0000x\"", 401, "citizen token is malformed" },
		{ "aud", "\"someone-else\"", 401, "audience is not" },
	};
	uint64_t before = atk_log_size(s);
	struct it_resp r;
	char *t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = citizen_token_with(s, "atk-times", cases[i].key,
		    cases[i].raw);
		it_get(s, NULL, t, "/v1/consents", &r);
		if (r.status != cases[i].status)
			fail_msg("%s %s: HTTP %ld %.300s, want %ld", cases[i].key,
			    cases[i].raw, r.status, r.body != NULL ? r.body : "",
			    cases[i].status);
		if (cases[i].detail != NULL) {
			assert_problem(&r, 401, cases[i].detail);
			assert_string_equal(it_jstr(r.json, "rule"),
			    "citizen_token");
		}
		it_resp_free(&r);
		free(t);
	}
	assert_int_equal(atk_log_size(s), before);
}

/* ---- the audit log --------------------------------------------------------------- */

/* The entries [0, n) as party; JSON array (new reference). */
static json_t *
entries_as(const struct it_server *s, const char *party, uint64_t n)
{
	struct it_resp r;
	char path[128];
	json_t *e;

	it_fmt(path, sizeof(path), "/v1/log/entries?start=0&end=%llu",
	    (unsigned long long)n);
	it_get(s, party, NULL, path, &r);
	assert_status(&r, 200);
	e = json_incref(json_object_get(r.json, "entries"));
	assert_non_null(e);
	it_resp_free(&r);
	return e;
}

/* 1 when the entry (base64) names party as actor, party, client or
 * provider. */
static int
entry_names(const json_t *item, const char *party)
{
	const char *d = it_jstr(item, "data");
	unsigned char *buf = malloc(b64_decoded_max(strlen(d)) + 1);
	struct le_entry e;
	char err[64];
	size_t n;
	int yes;

	assert_non_null(buf);
	assert_int_equal(b64_decode(d, strlen(d), buf, &n), 0);
	assert_int_equal(le_decode(buf, n, &e, err, sizeof(err)), 0);
	yes = le_str_eq(&e, T_ACTOR, party) || le_str_eq(&e, T_PARTY, party) ||
	    le_str_eq(&e, T_CLIENT, party) || le_str_eq(&e, T_PROVIDER, party);
	free(buf);
	return yes;
}

IT_TEST(non_auditor_sees_only_its_own_log_entries_and_proofs)
{
	uint64_t before = atk_settled_log_size(s, 5000), size = before;
	json_t *all = entries_as(s, "auditor", size), *mine, *item;
	int64_t foreign = -1, own = -1;
	size_t i, nmine = 0;
	struct it_resp r;
	char path[256], detail[256];

	assert_int_equal(json_array_size(all), size);
	json_array_foreach(all, i, item) {
		if (entry_names(item, "ird")) {
			nmine++;
			if (own < 0)
				own = it_jint(item, "index");
		} else if (foreign < 0)
			foreign = it_jint(item, "index");
	}
	assert_true(foreign >= 0 && own >= 0);
	/* ird gets exactly the entries that name it. */
	mine = entries_as(s, "ird", size);
	assert_int_equal(json_array_size(mine), nmine);
	json_array_foreach(mine, i, item)
		assert_true(entry_names(item, "ird"));
	json_decref(mine);
	/* wcc has had nothing to do with ird's token. */
	mine = entries_as(s, "wcc", size);
	json_array_foreach(mine, i, item)
		assert_false(entry_names(item, "ird") &&
		    !entry_names(item, "wcc"));
	json_decref(mine);

	/* Inclusion proofs: another party's entry is 403, its own is 200. */
	it_fmt(path, sizeof(path), "/v1/log/proof/inclusion?index=%lld&size=%llu",
	    (long long)foreign, (unsigned long long)size);
	it_get(s, "ird", NULL, path, &r);
	it_fmt(detail, sizeof(detail), "entry %lld does not concern party "
	    "'ird'; only auditors see every entry", (long long)foreign);
	assert_problem(&r, 403, detail);
	assert_string_equal(it_jstr(r.json, "rule"), "log_access");
	it_resp_free(&r);
	it_get(s, "auditor", NULL, path, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_fmt(path, sizeof(path), "/v1/log/proof/inclusion?index=%lld&size=%llu",
	    (long long)own, (unsigned long long)size);
	it_get(s, "ird", NULL, path, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	/* By jti: wcc asking for ird's token. */
	it_fmt(path, sizeof(path), "/v1/log/proof/inclusion?jti=%s&size=%llu",
	    fx.ird_jti, (unsigned long long)size);
	it_get(s, "wcc", NULL, path, &r);
	assert_problem(&r, 403, "does not concern party 'wcc'");
	it_resp_free(&r);
	it_get(s, "ird", NULL, path, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	/* Citizens and anonymous callers get no entries at all. */
	it_get(s, NULL, it_citizen_token(s, "atk-alice", 0),
	    "/v1/log/entries?start=0&end=1", &r);
	assert_problem(&r, 401, "no client certificate");
	it_resp_free(&r);
	json_decref(all);
	assert_int_equal(atk_log_size(s), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    party_not_in_an_agreement_cannot_suspend_resume_or_terminate_it),
		cmocka_unit_test(
		    party_not_in_a_draft_or_the_registrar_cannot_approve_it),
		cmocka_unit_test(
		    requester_cannot_get_a_token_addressed_under_another_agreement),
		cmocka_unit_test(
		    citizen_cannot_read_or_revoke_another_citizens_consent),
		cmocka_unit_test(
		    citizen_tokens_with_extreme_times_are_judged_without_overflow),
		cmocka_unit_test(
		    non_auditor_sees_only_its_own_log_entries_and_proofs),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("attacks/authz", tests,
	    setup, it_group_teardown));
}
