/* The token-issue decision: ordered rules, the first that fails denies. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "timeu.h"

const char *
policy_rule_name(enum policy_rule r)
{
	switch (r) {
	case POLICY_ALLOW:
		return "allow";
	case POLICY_NOT_REQUESTER:
		return "requester_role";
	case POLICY_UNKNOWN_AGREEMENT:
		return "unknown_agreement";
	case POLICY_NOT_RECIPIENT:
		return "recipient";
	case POLICY_NOT_ACTIVE:
		return "agreement_state";
	case POLICY_NOT_YET_VALID:
	case POLICY_NO_LONGER_VALID:
		return "validity_window";
	case POLICY_PURPOSE:
		return "purpose";
	case POLICY_FIELD:
		return "field";
	case POLICY_NO_CONSENT:
		return "consent_missing";
	case POLICY_CONSENT_REVOKED:
		return "consent_revoked";
	case POLICY_CONSENT_EXPIRED:
		return "consent_expired";
	case POLICY_CONSENT_FIELD:
		return "consent_fields";
	case POLICY_CONSENT_VERSION:
		return "consent_version";
	case POLICY_LIMIT:
		return "limit";
	}
	return "unknown";
}

unsigned
policy_role_bit(const char *name)
{
	if (strcmp(name, "requester") == 0)
		return ROLE_REQUESTER;
	if (strcmp(name, "provider") == 0)
		return ROLE_PROVIDER;
	if (strcmp(name, "registrar") == 0)
		return ROLE_REGISTRAR;
	if (strcmp(name, "auditor") == 0)
		return ROLE_AUDITOR;
	if (strcmp(name, "admin") == 0)
		return ROLE_ADMIN;
	return 0;
}

static enum policy_rule
deny(struct policy_result *out, enum policy_rule r, const char *oauth,
    int status, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum policy_rule
deny(struct policy_result *out, enum policy_rule r, const char *oauth,
    int status, const char *fmt, ...)
{
	va_list ap;

	out->rule = r;
	out->rule_name = policy_rule_name(r);
	out->oauth_error = oauth;
	out->http_status = status;
	va_start(ap, fmt);
	vsnprintf(out->description, sizeof(out->description), fmt, ap);
	va_end(ap);
	return r;
}

enum policy_rule
policy_decide(const struct policy_input *in, struct policy_result *out)
{
	const struct policy_request *rq = in->req;
	const struct agreement *a = in->agr;
	const struct consent_view *c = in->consent;
	char when[32];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!(in->roles & ROLE_REQUESTER))
		return deny(out, POLICY_NOT_REQUESTER, "unauthorized_client",
		    400, "party '%s' does not have the requester role",
		    in->party);
	if (a == NULL)
		return deny(out, POLICY_UNKNOWN_AGREEMENT,
		    "invalid_authorization_details", 400,
		    "unknown agreement '%s'", rq->agreement);
	if (!agreement_has_recipient(a, in->party))
		return deny(out, POLICY_NOT_RECIPIENT, "unauthorized_client",
		    400, "party '%s' is not a recipient of agreement '%s'",
		    in->party, a->id);
	if (in->agr_state == NULL || strcmp(in->agr_state, "active") != 0)
		return deny(out, POLICY_NOT_ACTIVE, "access_denied", 403,
		    "agreement '%s' version %u is %s, not active", a->id,
		    a->version, in->agr_state != NULL ? in->agr_state : "unknown");
	if (a->valid_from != 0 && in->now < a->valid_from) {
		timeu_format(a->valid_from, when, sizeof(when));
		return deny(out, POLICY_NOT_YET_VALID, "access_denied", 403,
		    "agreement '%s' is not valid until %s", a->id, when);
	}
	if (a->valid_until != 0 && in->now > a->valid_until) {
		timeu_format(a->valid_until, when, sizeof(when));
		return deny(out, POLICY_NO_LONGER_VALID, "access_denied", 403,
		    "agreement '%s' stopped being valid at %s", a->id, when);
	}
	if (!agreement_has_purpose(a, rq->purpose))
		return deny(out, POLICY_PURPOSE, "invalid_authorization_details",
		    400, "purpose '%s' is not in agreement '%s'", rq->purpose,
		    a->id);
	for (i = 0; i < rq->nfields; i++)
		if (agreement_field(a, rq->fields[i]) == NULL)
			return deny(out, POLICY_FIELD,
			    "invalid_authorization_details", 400,
			    "field '%s' is not in agreement '%s'", rq->fields[i],
			    a->id);
	if (a->consent_required) {
		if (c == NULL)
			return deny(out, POLICY_NO_CONSENT, "access_denied", 403,
			    "no consent of subject '%s' for agreement '%s'",
			    rq->subject, a->id);
		if (c->state == CONSENT_REVOKED) {
			timeu_format(c->revoked_at, when, sizeof(when));
			return deny(out, POLICY_CONSENT_REVOKED, "access_denied",
			    403, "consent '%s' was revoked at %s", c->id, when);
		}
		if (c->state == CONSENT_EXPIRED) {
			timeu_format(c->expires_at, when, sizeof(when));
			return deny(out, POLICY_CONSENT_EXPIRED, "access_denied",
			    403, "consent '%s' expired at %s", c->id, when);
		}
		if (c->version != a->version) {
			const struct agreement *o = in->consent_agr;

			if (o == NULL || o->version != c->version)
				return deny(out, POLICY_CONSENT_VERSION,
				    "access_denied", 403, "consent '%s' was given "
				    "for version %u of agreement '%s', which is "
				    "not known; fresh consent is needed", c->id,
				    c->version, a->id);
			/* Narrowing carries consent over; widening does not. */
			for (i = 0; i < a->nfields; i++)
				if (agreement_field(o, a->fields[i].name) == NULL)
					return deny(out, POLICY_CONSENT_VERSION,
					    "access_denied", 403, "consent '%s' was "
					    "given for version %u of agreement '%s'; "
					    "version %u adds field '%s', so fresh "
					    "consent is needed", c->id, c->version,
					    a->id, a->version, a->fields[i].name);
			/* So does a new recipient, or another provider. */
			if (strcmp(o->provider, a->provider) != 0)
				return deny(out, POLICY_CONSENT_VERSION,
				    "access_denied", 403, "consent '%s' was "
				    "given for version %u of agreement '%s'; "
				    "version %u changes the provider to '%s', so "
				    "fresh consent is needed", c->id, c->version,
				    a->id, a->version, a->provider);
			for (i = 0; i < a->nrecipients; i++)
				if (!agreement_has_recipient(o, a->recipients[i]))
					return deny(out, POLICY_CONSENT_VERSION,
					    "access_denied", 403, "consent '%s' was "
					    "given for version %u of agreement '%s'; "
					    "version %u adds recipient '%s', so fresh "
					    "consent is needed", c->id, c->version,
					    a->id, a->version, a->recipients[i]);
			for (i = 0; i < a->npurposes; i++)
				if (!agreement_has_purpose(o, a->purposes[i]))
					return deny(out, POLICY_CONSENT_VERSION,
					    "access_denied", 403, "consent '%s' was "
					    "given for version %u of agreement '%s'; "
					    "version %u adds purpose '%s', so fresh "
					    "consent is needed", c->id, c->version,
					    a->id, a->version, a->purposes[i]);
		}
		for (i = 0; i < rq->nfields; i++)
			if (!consent_covers(c, rq->fields[i]))
				return deny(out, POLICY_CONSENT_FIELD,
				    "access_denied", 403,
				    "consent '%s' does not cover field '%s'",
				    c->id, rq->fields[i]);
	}
	if (a->max_per_subject_per_day != 0 &&
	    in->transfers_today >= a->max_per_subject_per_day)
		return deny(out, POLICY_LIMIT, "access_denied", 403,
		    "limit exceeded: agreement '%s' allows %u transfers per "
		    "subject per day, and %u were issued today", a->id,
		    a->max_per_subject_per_day, in->transfers_today);
	out->rule = POLICY_ALLOW;
	out->rule_name = policy_rule_name(POLICY_ALLOW);
	out->http_status = 200;
	return POLICY_ALLOW;
}
