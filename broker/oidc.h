/*
 * Citizen sign-in, OpenID Connect authorization code flow with PKCE.
 *
 * The relying party (the broker) validates ID tokens with libjwt for the
 * issuer's algorithms. In --dev the broker is also a development issuer
 * (devidp_*), whose sign-in page lets one pick a test citizen; without
 * --dev those pages do not exist.
 */
#ifndef CB_OIDC_H
#define CB_OIDC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "session.h"

#define OIDC_MAX_KEYS 8

struct devidp;

struct oidc {
	char issuer[300];
	char client_id[128];
	char client_secret[256];    /* "" for a public client (PKCE only) */
	char redirect_uri[400];
	char authz_ep[400];
	char token_ep[400];
	struct { char kid[128]; char *pem; } keys[OIDC_MAX_KEYS];
	size_t nkeys;
	struct devidp *dev;         /* non-NULL: the issuer is our own */
	char ca_file[4096];         /* for a configured issuer's TLS */
};

/* The relying party of our own development issuer. */
struct oidc *oidc_new_dev(struct devidp *dev, const char *client_id,
    const char *redirect_uri, char *err, size_t errlen);

/*
 * The relying party of a configured issuer: fetches its discovery
 * document and JWKS now (bounded). NULL with a reason in err.
 */
struct oidc *oidc_new_discover(const char *issuer, const char *client_id,
    const char *client_secret, const char *redirect_uri, const char *ca_file,
    char *err, size_t errlen);

void oidc_free(struct oidc *o);

/* Trusts key (as kid) for ID tokens; used for the development issuer. */
int oidc_add_key(struct oidc *o, const char *kid, EVP_PKEY *k);

/* The authorization request URL for a pending sign-in; 0 or -1. */
int oidc_auth_url(const struct oidc *o, const struct login *l, char *out,
    size_t outlen);

/*
 * Exchanges an authorization code (with the PKCE verifier) for an ID
 * token (*id_token, malloc'd). Blocking for a configured issuer (bounded
 * by a 5 s timeout); a direct call for the development issuer.
 * 0, or -1 with a reason in err.
 */
int oidc_exchange(const struct oidc *o, const char *code,
    const char *verifier, char **id_token, char *err, size_t errlen);

/*
 * Validates an ID token: signature (libjwt, the issuer's key by kid), iss,
 * aud contains client_id, exp and iat with skew, nonce. sub_out gets sub.
 * 0, or -1 with a citizen-readable reason in err.
 */
int oidc_validate(const struct oidc *o, const char *id_token,
    const char *nonce, int64_t now, int skew, char *sub_out, size_t sub_len,
    char *err, size_t errlen);

/* ---- the development issuer ---------------------------------------------- */

struct devidp *devidp_new(const char *issuer, EVP_PKEY *key, const char *kid);
void devidp_free(struct devidp *d);
const char *devidp_issuer(const struct devidp *d);

/*
 * Exchanges a code issued by devidp_authorize; checks client, redirect URI
 * and the PKCE verifier; codes are single use and live 60 s.
 */
int devidp_exchange(struct devidp *d, const char *code, const char *verifier,
    const char *client_id, const char *redirect_uri, char **id_token,
    char *err, size_t errlen);

struct rq;
/* Routes /dev/... (only registered with --dev). rest starts with "/". */
void devidp_route(struct rq *rq, const char *rest);

#endif
