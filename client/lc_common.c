/* libconsent: error codes, messages and the per-thread detail string. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lc_internal.h"

static _Thread_local char detail[LC_DETAIL_MAX];

const char *
consent_strerror(consent_err e)
{
	switch (e) {
	case CONSENT_OK:
		return "ok";
	case CONSENT_E_INVALID_ARG:
		return "invalid argument";
	case CONSENT_E_NOMEM:
		return "out of memory";
	case CONSENT_E_IO:
		return "file could not be read";
	case CONSENT_E_CONFIG:
		return "unusable certificate, key, CA or key set";
	case CONSENT_E_NETWORK:
		return "network or TLS failure";
	case CONSENT_E_TIMEOUT:
		return "timed out";
	case CONSENT_E_DENIED:
		return "the broker refused the token";
	case CONSENT_E_HTTP:
		return "unexpected HTTP answer";
	case CONSENT_E_MALFORMED:
		return "malformed token";
	case CONSENT_E_BAD_ALG:
		return "token algorithm or type not accepted";
	case CONSENT_E_UNKNOWN_KEY:
		return "token signed with an unknown key";
	case CONSENT_E_BAD_SIGNATURE:
		return "token signature does not verify";
	case CONSENT_E_WRONG_ISSUER:
		return "token from the wrong issuer";
	case CONSENT_E_WRONG_AUDIENCE:
		return "token is for another provider";
	case CONSENT_E_NOT_YET_VALID:
		return "token not yet valid";
	case CONSENT_E_EXPIRED:
		return "token expired";
	case CONSENT_E_BINDING:
		return "token bound to another client certificate";
	case CONSENT_E_FIELD_SCOPE:
		return "field outside the token's scope";
	case CONSENT_E_REVOKED:
		return "token revoked";
	case CONSENT_E_REPLAYED:
		return "token already used";
	case CONSENT_E_STORE:
		return "replay cache failure";
	}
	return "unknown error";
}

void
consent_free(void *p)
{
	free(p);
}

consent_err
lc_fail(consent_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return e;
}

const char *
lc_detail(void)
{
	return detail;
}

void
lc_clear(void)
{
	detail[0] = '\0';
}

void
lc_copy_detail(char *buf, size_t len)
{
	if (buf != NULL && len > 0)
		snprintf(buf, len, "%s", detail);
}
