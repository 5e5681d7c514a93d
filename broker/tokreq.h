/*
 * The token request of POST /oauth2/token: a form body with grant_type
 * client_credentials and RFC 9396 authorization_details holding one
 * "consented_transfer" object.
 */
#ifndef CB_TOKREQ_H
#define CB_TOKREQ_H

#include <stddef.h>

#include "agreement.h"

struct token_request {
	char *strs;                 /* the details' decoded strings, owned */
	const char *client_id;      /* optional form parameter, owned copy */
	const char *agreement;      /* the rest point into strs */
	const char *subject;
	const char *purpose;
	const char *fields[AGR_MAX_FIELDS];
	size_t nfields;
};

/*
 * Parses a token request body. On failure returns -1, sets *oauth_error
 * to the RFC 6749 / RFC 9396 code (invalid_request,
 * unsupported_grant_type, invalid_authorization_details) and writes what
 * was wrong to err. On success the caller frees with tokreq_free.
 */
int tokreq_parse(const char *body, size_t len, struct token_request *out,
    const char **oauth_error, char *err, size_t errlen);

/* Frees what tokreq_parse allocated; safe on a zeroed struct. */
void tokreq_free(struct token_request *r);

#endif
