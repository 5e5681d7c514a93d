/*
 * The token-issue decision (ARCHITECTURE section 6): a pure function of the
 * requesting party, the agreement, the request, the consent and the
 * transfer count, so it is unit-tested without a server or a store.
 */
#ifndef CB_POLICY_H
#define CB_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "agreement.h"
#include "consent_rec.h"

#define ROLE_REQUESTER 0x01u
#define ROLE_PROVIDER  0x02u
#define ROLE_REGISTRAR 0x04u
#define ROLE_AUDITOR   0x08u
#define ROLE_ADMIN     0x10u

enum policy_rule {
	POLICY_ALLOW = 0,
	POLICY_NOT_REQUESTER,      /* party lacks the requester role */
	POLICY_UNKNOWN_AGREEMENT,
	POLICY_NOT_RECIPIENT,      /* party is not a recipient */
	POLICY_NOT_ACTIVE,         /* agreement draft/suspended/terminated */
	POLICY_NOT_YET_VALID,      /* before valid_from */
	POLICY_NO_LONGER_VALID,    /* after valid_until */
	POLICY_PURPOSE,            /* purpose not in the agreement */
	POLICY_FIELD,              /* field not in the agreement */
	POLICY_NO_CONSENT,
	POLICY_CONSENT_REVOKED,
	POLICY_CONSENT_EXPIRED,
	POLICY_CONSENT_FIELD,      /* consent does not cover a field */
	POLICY_CONSENT_VERSION,    /* consent given for a version the current
	                              one widens (fresh consent needed) */
	POLICY_LIMIT               /* per-subject daily limit reached */
};

struct policy_request {
	const char *agreement;
	const char *subject;
	const char *purpose;
	const char *const *fields;
	size_t nfields;
};

struct policy_input {
	const char *party;
	unsigned roles;
	const struct agreement *agr;   /* NULL: unknown agreement */
	const char *agr_state;         /* "active", "suspended", ... */
	const struct policy_request *req;
	const struct consent_view *consent;  /* NULL: none found */
	/* The agreement version the consent was given for, when it is not
	 * agr's version (NULL otherwise). */
	const struct agreement *consent_agr;
	uint32_t transfers_today;      /* tokens already issued today */
	int64_t now;
};

struct policy_result {
	enum policy_rule rule;
	const char *rule_name;     /* stable id, e.g. "consent_revoked" */
	const char *oauth_error;   /* RFC 6749 / RFC 9396 error code */
	int http_status;
	char description[512];     /* names the rule and the offending value */
};

/* Decides; fills out and returns out->rule (POLICY_ALLOW to issue). */
enum policy_rule policy_decide(const struct policy_input *in,
    struct policy_result *out);

/* Stable id of a rule ("allow", "requester_role", ...). */
const char *policy_rule_name(enum policy_rule r);

/* Role bit for a role name, 0 if unknown. */
unsigned policy_role_bit(const char *name);

#endif
