/* Unit tests for the token-issue decision (broker/policy.c), one per rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agreement.h"
#include "consent_rec.h"
#include "policy.h"
#include "timeu.h"

/* Any well-formed hash of version 2; the policy does not follow the chain. */
#define PREV_HASH \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A consent-based agreement (version 3): two required fields, one optional. */
static const char consent_doc[] =
	"{\"id\":\"pol-consent\",\"version\":3,\"title\":\"Policy test\","
	"\"previous_hash\":\"" PREV_HASH "\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\",\"msd\"],"
	"\"purposes\":[\"issue-ird-number\"],"
	"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"G.\"},"
	"{\"name\":\"child.family_name\",\"description\":\"F.\"},"
	"{\"name\":\"child.sex\",\"description\":\"S.\",\"optional\":true}],"
	"\"legal_basis\":{\"type\":\"consent\"},"
	"\"consent\":{\"required\":true,\"max_duration_days\":90},"
	"\"token_ttl_seconds\":300,"
	"\"valid_from\":\"2025-01-01T00:00:00Z\","
	"\"valid_until\":\"2030-12-31T23:59:59Z\","
	"\"limits\":{\"transfers_per_subject_per_day\":5},"
	"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

/* A statutory agreement: no consent is used. */
static const char statute_doc[] =
	"{\"id\":\"pol-statute\",\"version\":1,\"title\":\"Statute test\","
	"\"provider\":\"dia\",\"recipients\":[\"msd\"],"
	"\"purposes\":[\"update-benefit-household\"],"
	"\"fields\":[{\"name\":\"registration.number\",\"description\":\"R.\"},"
	"{\"name\":\"child.birth_date\",\"description\":\"B.\"}],"
	"\"legal_basis\":{\"type\":\"statute\",\"reference\":\"Act 2021, s 112\"},"
	"\"consent\":{\"required\":false},"
	"\"token_ttl_seconds\":600,"
	"\"valid_from\":\"2025-01-01T00:00:00Z\","
	"\"valid_until\":\"2029-12-31T23:59:59Z\","
	"\"limits\":{\"transfers_per_subject_per_day\":2},"
	"\"retention\":{\"days\":90,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

static const char *const two_fields[] = {
	"child.given_names", "child.family_name"
};

/* Everything one test needs; each test breaks exactly one thing. */
struct fx {
	struct agreement *agr;
	struct agreement *statute;
	struct policy_request req;
	struct consent_view consent;
	struct policy_input in;
	struct policy_result out;
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
	char err[512] = "";
	struct agreement *a = agreement_parse(doc, strlen(doc), err, sizeof(err));

	if (a == NULL)
		fail_msg("agreement_parse: %s", err);
	return a;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->agr = parse(consent_doc);
	f->statute = parse(statute_doc);

	f->req.agreement = "pol-consent";
	f->req.subject = "citizen-42";
	f->req.purpose = "issue-ird-number";
	f->req.fields = two_fields;
	f->req.nfields = 2;

	f->consent.id = "cns_0123";
	f->consent.subject = "citizen-42";
	f->consent.agreement = "pol-consent";
	f->consent.version = 3;
	f->consent.state = CONSENT_ACTIVE;
	f->consent.granted_at = at("2026-01-01T00:00:00Z");
	f->consent.expires_at = at("2026-03-01T00:00:00Z");
	f->consent.fields[0] = "child.given_names";
	f->consent.fields[1] = "child.family_name";
	f->consent.nfields = 2;

	f->in.party = "ird";
	f->in.roles = ROLE_REQUESTER;
	f->in.agr = f->agr;
	f->in.agr_state = "active";
	f->in.req = &f->req;
	f->in.consent = &f->consent;
	f->in.transfers_today = 0;
	f->in.now = at("2026-02-01T12:00:00Z");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	agreement_free(f->agr);
	agreement_free(f->statute);
	free(f);
	return 0;
}

/* Runs the decision and checks everything a denial must carry. */
static void
expect_deny(struct fx *f, enum policy_rule rule, const char *name,
    const char *oauth, int status, const char *named)
{
	enum policy_rule r = policy_decide(&f->in, &f->out);

	assert_int_equal(r, rule);
	assert_int_equal(f->out.rule, rule);
	assert_string_equal(f->out.rule_name, name);
	assert_non_null(f->out.oauth_error);
	assert_string_equal(f->out.oauth_error, oauth);
	assert_int_equal(f->out.http_status, status);
	if (strstr(f->out.description, named) == NULL)
		fail_msg("description \"%s\" does not name \"%s\"",
		    f->out.description, named);
}

static void
expect_allow(struct fx *f)
{
	enum policy_rule r = policy_decide(&f->in, &f->out);

	if (r != POLICY_ALLOW)
		fail_msg("denied (%s): %s", f->out.rule_name, f->out.description);
	assert_int_equal(f->out.rule, POLICY_ALLOW);
	assert_string_equal(f->out.rule_name, "allow");
	assert_int_equal(f->out.http_status, 200);
}

static void
token_allowed_with_covering_consent(void **state)
{
	expect_allow(*state);
}

static void
token_denied_when_party_lacks_requester_role(void **state)
{
	struct fx *f = *state;

	f->in.roles = ROLE_PROVIDER | ROLE_AUDITOR;
	expect_deny(f, POLICY_NOT_REQUESTER, "requester_role",
	    "unauthorized_client", 400, "'ird'");
}

static void
token_denied_when_agreement_unknown(void **state)
{
	struct fx *f = *state;

	f->in.agr = NULL;
	f->in.agr_state = NULL;
	f->req.agreement = "no-such-agreement";
	expect_deny(f, POLICY_UNKNOWN_AGREEMENT, "unknown_agreement",
	    "invalid_authorization_details", 400, "'no-such-agreement'");
}

static void
token_denied_when_party_not_recipient(void **state)
{
	struct fx *f = *state;

	f->in.party = "wcc";
	expect_deny(f, POLICY_NOT_RECIPIENT, "recipient", "unauthorized_client",
	    400, "'wcc'");
	assert_non_null(strstr(f->out.description, "'pol-consent'"));
}

static void
token_denied_when_provider_asks_as_recipient(void **state)
{
	struct fx *f = *state;

	/* The provider is named by the agreement but is not a recipient. */
	f->in.party = "dia";
	expect_deny(f, POLICY_NOT_RECIPIENT, "recipient", "unauthorized_client",
	    400, "'dia'");
}

static void
token_denied_when_agreement_is_draft(void **state)
{
	struct fx *f = *state;

	f->in.agr_state = "draft";
	expect_deny(f, POLICY_NOT_ACTIVE, "agreement_state", "access_denied",
	    403, "draft");
	assert_non_null(strstr(f->out.description, "'pol-consent'"));
	assert_non_null(strstr(f->out.description, "version 3"));
}

static void
token_denied_when_agreement_is_suspended(void **state)
{
	struct fx *f = *state;

	f->in.agr_state = "suspended";
	expect_deny(f, POLICY_NOT_ACTIVE, "agreement_state", "access_denied",
	    403, "suspended");
}

static void
token_denied_when_agreement_is_terminated(void **state)
{
	struct fx *f = *state;

	f->in.agr_state = "terminated";
	expect_deny(f, POLICY_NOT_ACTIVE, "agreement_state", "access_denied",
	    403, "terminated");
}

static void
token_denied_when_agreement_state_unknown(void **state)
{
	struct fx *f = *state;

	f->in.agr_state = NULL;
	expect_deny(f, POLICY_NOT_ACTIVE, "agreement_state", "access_denied",
	    403, "unknown");
}

static void
token_denied_before_valid_from(void **state)
{
	struct fx *f = *state;

	f->in.now = at("2024-12-31T23:59:59Z");
	expect_deny(f, POLICY_NOT_YET_VALID, "validity_window",
	    "access_denied", 403, "2025-01-01T00:00:00Z");
}

static void
token_allowed_at_valid_from(void **state)
{
	struct fx *f = *state;

	f->in.now = at("2025-01-01T00:00:00Z");
	f->consent.expires_at = 0;
	expect_allow(f);
}

/*
 * docs/agreements.md: valid_until is the last instant at which a token is
 * issued ("No token is issued after this instant"), so the bound is
 * inclusive, as the example value 2030-12-31T23:59:59Z also implies.
 */
static void
token_allowed_at_valid_until(void **state)
{
	struct fx *f = *state;

	f->in.now = at("2030-12-31T23:59:59Z");
	f->consent.expires_at = 0;
	expect_allow(f);
}

static void
token_denied_after_valid_until(void **state)
{
	struct fx *f = *state;

	f->in.now = at("2031-01-01T00:00:00Z");
	f->consent.expires_at = 0;
	expect_deny(f, POLICY_NO_LONGER_VALID, "validity_window",
	    "access_denied", 403, "2030-12-31T23:59:59Z");
}

static void
token_denied_when_purpose_not_in_agreement(void **state)
{
	struct fx *f = *state;

	f->req.purpose = "marketing";
	expect_deny(f, POLICY_PURPOSE, "purpose",
	    "invalid_authorization_details", 400, "'marketing'");
}

static void
token_denied_when_field_not_in_agreement(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = {
		"child.given_names", "child.tax_number"
	};

	f->req.fields = fields;
	f->req.nfields = 2;
	expect_deny(f, POLICY_FIELD, "field", "invalid_authorization_details",
	    400, "'child.tax_number'");
}

static void
token_denied_when_no_consent(void **state)
{
	struct fx *f = *state;

	f->in.consent = NULL;
	expect_deny(f, POLICY_NO_CONSENT, "consent_missing", "access_denied",
	    403, "'citizen-42'");
}

static void
token_denied_when_consent_revoked(void **state)
{
	struct fx *f = *state;

	f->consent.state = CONSENT_REVOKED;
	f->consent.revoked_at = at("2026-01-15T08:30:00Z");
	expect_deny(f, POLICY_CONSENT_REVOKED, "consent_revoked",
	    "access_denied", 403, "'cns_0123'");
	assert_non_null(strstr(f->out.description, "2026-01-15T08:30:00Z"));
}

static void
token_denied_when_consent_expired(void **state)
{
	struct fx *f = *state;

	f->consent.state = CONSENT_EXPIRED;
	f->consent.expires_at = at("2026-01-31T00:00:00Z");
	expect_deny(f, POLICY_CONSENT_EXPIRED, "consent_expired",
	    "access_denied", 403, "'cns_0123'");
	assert_non_null(strstr(f->out.description, "2026-01-31T00:00:00Z"));
}

static void
token_denied_when_consent_does_not_cover_field(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = {
		"child.given_names", "child.sex"
	};

	/* child.sex is in the agreement but the consent left it out. */
	f->req.fields = fields;
	f->req.nfields = 2;
	expect_deny(f, POLICY_CONSENT_FIELD, "consent_fields", "access_denied",
	    403, "'child.sex'");
	assert_non_null(strstr(f->out.description, "'cns_0123'"));
}

static void
token_denied_when_daily_limit_reached(void **state)
{
	struct fx *f = *state;

	f->in.transfers_today = 5;
	expect_deny(f, POLICY_LIMIT, "limit", "access_denied", 403,
	    "5 transfers");
	assert_non_null(strstr(f->out.description, "'pol-consent'"));
}

static void
token_denied_when_daily_limit_exceeded(void **state)
{
	struct fx *f = *state;

	f->in.transfers_today = 6;
	expect_deny(f, POLICY_LIMIT, "limit", "access_denied", 403, "6 were");
}

static void
token_allowed_one_below_daily_limit(void **state)
{
	struct fx *f = *state;

	f->in.transfers_today = 4;
	expect_allow(f);
}

static void
token_allowed_for_statute_without_consent(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "registration.number" };

	f->in.party = "msd";
	f->in.agr = f->statute;
	f->in.consent = NULL;
	f->req.agreement = "pol-statute";
	f->req.purpose = "update-benefit-household";
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_allow(f);
}

static void
token_allowed_for_statute_whatever_the_consent(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "registration.number" };

	/* A revoked consent is irrelevant when the basis is a statute. */
	f->in.party = "msd";
	f->in.agr = f->statute;
	f->consent.state = CONSENT_REVOKED;
	f->req.agreement = "pol-statute";
	f->req.purpose = "update-benefit-household";
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_allow(f);
}

static void
token_denied_for_statute_at_daily_limit(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "registration.number" };

	f->in.party = "msd";
	f->in.agr = f->statute;
	f->in.consent = NULL;
	f->in.transfers_today = 2;
	f->req.agreement = "pol-statute";
	f->req.purpose = "update-benefit-household";
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_deny(f, POLICY_LIMIT, "limit", "access_denied", 403,
	    "'pol-statute'");
}

static void
not_recipient_beats_unknown_field(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "child.tax_number" };

	f->in.party = "wcc";
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_deny(f, POLICY_NOT_RECIPIENT, "recipient", "unauthorized_client",
	    400, "'wcc'");
}

static void
requester_role_beats_unknown_agreement(void **state)
{
	struct fx *f = *state;

	f->in.roles = 0;
	f->in.agr = NULL;
	expect_deny(f, POLICY_NOT_REQUESTER, "requester_role",
	    "unauthorized_client", 400, "'ird'");
}

static void
not_active_beats_validity_window(void **state)
{
	struct fx *f = *state;

	f->in.agr_state = "suspended";
	f->in.now = at("2031-06-01T00:00:00Z");
	expect_deny(f, POLICY_NOT_ACTIVE, "agreement_state", "access_denied",
	    403, "suspended");
}

static void
purpose_beats_unknown_field(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "child.tax_number" };

	f->req.purpose = "marketing";
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_deny(f, POLICY_PURPOSE, "purpose",
	    "invalid_authorization_details", 400, "'marketing'");
}

static void
unknown_field_beats_missing_consent(void **state)
{
	struct fx *f = *state;
	static const char *const fields[] = { "child.tax_number" };

	f->in.consent = NULL;
	f->req.fields = fields;
	f->req.nfields = 1;
	expect_deny(f, POLICY_FIELD, "field", "invalid_authorization_details",
	    400, "'child.tax_number'");
}

static void
revoked_consent_beats_daily_limit(void **state)
{
	struct fx *f = *state;

	f->consent.state = CONSENT_REVOKED;
	f->consent.revoked_at = at("2026-01-15T08:30:00Z");
	f->in.transfers_today = 99;
	expect_deny(f, POLICY_CONSENT_REVOKED, "consent_revoked",
	    "access_denied", 403, "'cns_0123'");
}

static void
rule_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(policy_rule_name(POLICY_ALLOW), "allow");
	assert_string_equal(policy_rule_name(POLICY_LIMIT), "limit");
	assert_string_equal(policy_rule_name(POLICY_CONSENT_FIELD),
	    "consent_fields");
	assert_int_equal(policy_role_bit("requester"), ROLE_REQUESTER);
	assert_int_equal(policy_role_bit("admin"), ROLE_ADMIN);
	assert_int_equal(policy_role_bit("root"), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(token_allowed_with_covering_consent),
		T(token_denied_when_party_lacks_requester_role),
		T(token_denied_when_agreement_unknown),
		T(token_denied_when_party_not_recipient),
		T(token_denied_when_provider_asks_as_recipient),
		T(token_denied_when_agreement_is_draft),
		T(token_denied_when_agreement_is_suspended),
		T(token_denied_when_agreement_is_terminated),
		T(token_denied_when_agreement_state_unknown),
		T(token_denied_before_valid_from),
		T(token_allowed_at_valid_from),
		T(token_allowed_at_valid_until),
		T(token_denied_after_valid_until),
		T(token_denied_when_purpose_not_in_agreement),
		T(token_denied_when_field_not_in_agreement),
		T(token_denied_when_no_consent),
		T(token_denied_when_consent_revoked),
		T(token_denied_when_consent_expired),
		T(token_denied_when_consent_does_not_cover_field),
		T(token_denied_when_daily_limit_reached),
		T(token_denied_when_daily_limit_exceeded),
		T(token_allowed_one_below_daily_limit),
		T(token_allowed_for_statute_without_consent),
		T(token_allowed_for_statute_whatever_the_consent),
		T(token_denied_for_statute_at_daily_limit),
		T(not_recipient_beats_unknown_field),
		T(requester_role_beats_unknown_agreement),
		T(not_active_beats_validity_window),
		T(purpose_beats_unknown_field),
		T(unknown_field_beats_missing_consent),
		T(revoked_consent_beats_daily_limit),
		cmocka_unit_test(rule_names_are_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
