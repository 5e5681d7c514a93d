/*
 * Citizen sign-in for the API: ID tokens (JWT, ES256) from trusted
 * issuers, presented as "Authorization: Bearer". Keys are loaded once.
 */
#ifndef CB_CITIZEN_H
#define CB_CITIZEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define CITIZEN_MAX_ISSUERS 4
#define CITIZEN_MAX_KEYS 8

struct citizen_auth;

struct citizen_auth *citizen_auth_new(void);

/* Frees ca; NULL is a no-op. */
void citizen_auth_free(struct citizen_auth *ca);

/*
 * Trusts ID tokens from iss with audience aud signed by one of the EC
 * P-256 keys in the JWKS document jwks (JSON text). 0, or -1 with err.
 */
int citizen_auth_add_jwks(struct citizen_auth *ca, const char *iss,
    const char *aud, const char *jwks, char *err, size_t errlen);

/* As citizen_auth_add_jwks for one key (up-ref'd) with this kid. */
int citizen_auth_add_key(struct citizen_auth *ca, const char *iss,
    const char *aud, EVP_PKEY *pub, const char *kid, char *err,
    size_t errlen);

/*
 * Verifies an ID token: compact JWS, alg ES256, kid of a key of the issuer
 * named by "iss", signature, "aud" (string or array) containing the
 * expected audience, "exp" in the future and "iat"/"nbf" not in the future
 * (both with skew seconds of leeway), "sub" a valid subject id.
 * On success copies sub into sub_out (CONSENT_MAX_SUBJECT + 1 bytes) and
 * returns 0; else -1 with the reason in err.
 */
int citizen_verify(const struct citizen_auth *ca, const char *token,
    int64_t now, int skew, char *sub_out, size_t sub_len, char *err,
    size_t errlen);

#endif
