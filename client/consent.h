/*
 * libconsent: the client library of the consent broker.
 *
 * Requesters (agencies and councils that receive data) use a consent_client
 * to obtain transfer tokens from the broker and to call providers with them.
 * Providers (the agencies that hold the data) use a consent_verifier to
 * check a presented token before they release anything, and release only
 * the fields in its scope.
 *
 * Conventions:
 * - Every function that can fail returns a consent_err; CONSENT_OK is 0.
 * - Objects are opaque, made by *_new and freed by *_free; *_free(NULL) is
 *   a no-op.
 * - Strings returned through out-parameters are allocated by the library and
 *   freed by the caller with consent_free(); structs with _free functions
 *   are freed with those.
 * - When a call fails, consent_client_detail()/consent_verifier_detail()
 *   give a human-readable reason (which claim, which rule, what the broker
 *   said). The reason is kept per thread: it stays valid until the next
 *   libconsent call from the same thread.
 * - Both objects are safe to use from several threads at once.
 */
#ifndef CONSENT_H
#define CONSENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CONSENT_EXPORT __attribute__((visibility("default")))
#else
#define CONSENT_EXPORT
#endif

#define CONSENT_VERSION "0.1.0"

typedef enum consent_err {
	CONSENT_OK = 0,
	/* Arguments and resources */
	CONSENT_E_INVALID_ARG = 1,   /* a required argument was NULL or bad */
	CONSENT_E_NOMEM = 2,
	CONSENT_E_IO = 3,            /* a file could not be read */
	CONSENT_E_CONFIG = 4,        /* certificate, key, CA or JWKS unusable */
	/* Talking to the broker or a provider */
	CONSENT_E_NETWORK = 10,      /* connect/TLS failure after all retries */
	CONSENT_E_TIMEOUT = 11,      /* connect or total timeout */
	CONSENT_E_DENIED = 12,       /* the broker refused the token (4xx); detail
	                                holds its error and error_description */
	CONSENT_E_HTTP = 13,         /* unexpected HTTP status or body */
	/* Token verification, in the order they are checked */
	CONSENT_E_MALFORMED = 20,    /* not a compact JWS, bad base64url/JSON, claim missing or of the wrong type */
	CONSENT_E_BAD_ALG = 21,      /* alg is not ES256, or typ is not at+jwt */
	CONSENT_E_UNKNOWN_KEY = 22,  /* kid not in the broker's JWKS, even after a refresh */
	CONSENT_E_BAD_SIGNATURE = 23,
	CONSENT_E_WRONG_ISSUER = 24,
	CONSENT_E_WRONG_AUDIENCE = 25, /* aud is not this provider */
	CONSENT_E_NOT_YET_VALID = 26,  /* nbf (or iat) in the future beyond the leeway */
	CONSENT_E_EXPIRED = 27,
	CONSENT_E_BINDING = 28,      /* cnf.x5t#S256 is not the presenting certificate */
	CONSENT_E_FIELD_SCOPE = 29,  /* a requested field is outside the token's scope */
	CONSENT_E_REVOKED = 30,      /* the token's status list says revoked
	                                (or the list could not be had: the
	                                detail says which) */
	CONSENT_E_REPLAYED = 31,     /* this jti was presented before */
	CONSENT_E_STORE = 32         /* the replay cache failed */
} consent_err;

/* A static English message for a code; never NULL. */
CONSENT_EXPORT const char *consent_strerror(consent_err e);

/* Frees a string or buffer the library returned; NULL is a no-op. */
CONSENT_EXPORT void consent_free(void *p);

/* ---- Requester ------------------------------------------------------------ */

typedef struct consent_client consent_client;

struct consent_client_opts {
	const char *broker_url;   /* e.g. "https://127.0.0.1:8443" (required) */
	const char *cert_file;    /* this party's client certificate, PEM (required) */
	const char *key_file;     /* its private key, PEM (required) */
	const char *ca_file;      /* CA that signed the broker's and providers' certificates (required) */
	long connect_timeout_ms;  /* 0: 5000 */
	long total_timeout_ms;    /* per attempt; 0: 15000 */
	int max_retries;          /* retries on connection errors and 5xx; 0: 2; -1: none */
	long retry_backoff_ms;    /* first backoff, doubled each retry; 0: 200 */
};

/*
 * Creates a client. The files are read and checked now (the key must match
 * the certificate). On failure *out is NULL, and when detail is not NULL a
 * reason is written there (detail_len bytes).
 */
CONSENT_EXPORT consent_err consent_client_new(
    const struct consent_client_opts *opts, consent_client **out,
    char *detail, size_t detail_len);

CONSENT_EXPORT void consent_client_free(consent_client *c);

/* The reason for the last failure on c in this thread ("" if none). */
CONSENT_EXPORT const char *consent_client_detail(const consent_client *c);

/* One transfer: who it is about, under which agreement, what and why. */
struct consent_transfer {
	const char *agreement;
	const char *subject;
	const char *purpose;
	const char *const *fields;
	size_t nfields;
};

/*
 * Gets a transfer token from the broker (POST /oauth2/token). A token
 * obtained earlier for the same transfer (same agreement, subject, purpose
 * and the same fields in the same order) is reused until 80% of its
 * lifetime has passed. *token is a new string (consent_free); *expires_at,
 * when not NULL, gets its expiry (Unix seconds).
 * Errors: CONSENT_E_DENIED (the broker's refusal; never retried),
 * CONSENT_E_NETWORK, CONSENT_E_TIMEOUT, CONSENT_E_HTTP, CONSENT_E_NOMEM,
 * CONSENT_E_INVALID_ARG.
 */
CONSENT_EXPORT consent_err consent_client_token(consent_client *c,
    const struct consent_transfer *t, char **token, int64_t *expires_at);

/* Forgets every cached token (e.g. after a consent changed). */
CONSENT_EXPORT void consent_client_forget(consent_client *c);

/*
 * Calls a provider: GET url over mutual TLS with "Authorization: Bearer
 * token". On any HTTP answer returns CONSENT_OK with *status, and *body
 * (*body_len bytes plus a NUL, consent_free) holding the response body.
 * Retries connection errors and 5xx as configured; never 4xx.
 */
CONSENT_EXPORT consent_err consent_client_get(consent_client *c,
    const char *url, const char *token, long *status, char **body,
    size_t *body_len);

/*
 * consent_client_token then consent_client_get: fetches url with a token
 * for transfer t. Providers accept each token once, so the token is
 * dropped from the cache after this call; a 401 from the provider makes it
 * get a fresh token and try once more.
 */
CONSENT_EXPORT consent_err consent_client_fetch(consent_client *c,
    const struct consent_transfer *t, const char *url, long *status,
    char **body, size_t *body_len);

/* ---- Verifier (providers) ------------------------------------------------- */

typedef struct consent_verifier consent_verifier;

struct consent_verifier_opts {
	const char *provider;       /* this provider's party id (required): the expected aud */
	const char *issuer;         /* expected iss (required), the broker's discovery "issuer" */
	const char *jwks_url;       /* broker JWKS URL, or NULL to use jwks_file */
	const char *jwks_file;      /* a JWKS file, or NULL to use jwks_url */
	const char *ca_file;        /* CA for the broker's TLS (with jwks_url) */
	const char *cert_file;      /* optional client certificate for broker calls */
	const char *key_file;
	const char *replay_dir;     /* directory of the replay cache (LMDB, created
	                               if missing); NULL: replays are not checked */
	int leeway_s;               /* clock leeway for nbf/exp; 0: 30; max 300 */
	int jwks_min_refresh_s;     /* at most one JWKS refresh per this; 0: 10 */
	long timeout_ms;            /* JWKS fetch timeout; 0: 5000 */
	/* Token status lists (revocation). A token's status list URI must
	 * be under the issuer; it is fetched from broker_url plus the URI's
	 * path (broker_url defaults to jwks_url's origin), with the client
	 * certificate if given, and cached for status_ttl_s seconds (0: the
	 * list's own "ttl", else 30). */
	const char *broker_url;
	int status_ttl_s;
};

/* The verified facts of a token; strings owned by the struct. */
struct consent_claims {
	char *jti;
	char *subject;
	char *client_id;            /* the requester */
	char *provider;             /* aud */
	char *agreement;
	uint32_t agreement_version;
	char *agreement_hash;
	char *purpose;
	char *consent_id;           /* NULL under a statutory agreement */
	char **fields;              /* fields in scope */
	size_t nfields;
	int64_t iat, nbf, exp;
};

/* Frees the strings of c (not c itself); safe on a zeroed struct. */
CONSENT_EXPORT void consent_claims_free(struct consent_claims *c);

/*
 * Creates a verifier. Loads the JWKS now (from the file, or fetched from
 * jwks_url) and parses each key once; opens the replay cache.
 * On failure *out is NULL and detail (if given) says why.
 */
CONSENT_EXPORT consent_err consent_verifier_new(
    const struct consent_verifier_opts *opts, consent_verifier **out,
    char *detail, size_t detail_len);

CONSENT_EXPORT void consent_verifier_free(consent_verifier *v);

/* The reason for the last failure on v in this thread ("" if none). */
CONSENT_EXPORT const char *consent_verifier_detail(const consent_verifier *v);

/*
 * Verifies token for a release of the requested fields to the client that
 * presented cert_der (the DER of its TLS client certificate) on this
 * connection. Checks, in order: compact JWS form; alg ES256 and typ
 * at+jwt; kid known (refreshing the JWKS once, rate-limited, on an unknown
 * kid); signature; iss; aud is this provider; nbf/exp with the leeway;
 * cnf.x5t#S256 matches cert_der; every requested field is in scope;
 * its status list entry (when the token has a "status" claim) is 0;
 * jti not seen before (then remembered until exp). A token that fails a
 * check is not remembered. If the status list cannot be fetched and no
 * cached copy younger than twice its ttl exists, the token is refused
 * with CONSENT_E_REVOKED (fail closed) and a detail saying why.
 * On success fills *claims (consent_claims_free) and returns CONSENT_OK;
 * otherwise returns the code of the first failing check.
 * nfields may be 0 (no field check); claims may be NULL.
 */
CONSENT_EXPORT consent_err consent_verify(consent_verifier *v,
    const char *token, const unsigned char *cert_der, size_t cert_der_len,
    const char *const *fields, size_t nfields,
    struct consent_claims *claims);

/*
 * As consent_verify without the replay check and without remembering the
 * jti: for inspecting a token (consentctl verify) or checking it again.
 */
CONSENT_EXPORT consent_err consent_verify_peek(consent_verifier *v,
    const char *token, const unsigned char *cert_der, size_t cert_der_len,
    const char *const *fields, size_t nfields,
    struct consent_claims *claims);

#ifdef __cplusplus
}
#endif

#endif
