/* Shared helpers of the route handlers (routes*.c); not a public API. */
#ifndef CB_ROUTES_H
#define CB_ROUTES_H

#include <jansson.h>

#include "http.h"
#include "store.h"

/* Nesting bound for request bodies. */
#define ROUTES_MAX_DEPTH 10
/* Most records a list answers. */
#define ROUTES_MAX_LIST 1000

/*
 * Authenticates the client certificate as a registered party (sets
 * rq->party and rq->roles). On failure replies 401 (as an OAuth error when
 * oauth is set, else a problem) and returns -1. txn may be NULL.
 */
int routes_auth_party(struct rq *rq, struct store_txn *txn, int oauth);

/* As routes_auth_party, but succeeds silently (0) with no party. */
int routes_try_party(struct rq *rq, struct store_txn *txn);

/*
 * Authenticates "Authorization: Bearer <citizen ID token>" (sets
 * rq->subject). On failure replies 401 and returns -1.
 */
int routes_auth_citizen(struct rq *rq);

/*
 * Reads the body as a JSON object (bounded size and depth). On failure
 * replies 413/415/400 and returns NULL.
 */
json_t *routes_json_body(struct rq *rq);

/* Replies 503 (or 500) for a store error; for use in routes. */
void routes_store_error(struct rq *rq, enum store_err e);

/* Result of a write operation, filled by its apply function. */
struct wresult {
	int http;             /* 2xx: reply out; else a problem */
	const char *title;
	const char *rule;
	char detail[512];
	json_t *out;          /* reply body (owned) */
};

/* Sets a failing result; returns 1 (a non-zero apply status). */
int wresult_fail(struct wresult *r, int http, const char *title,
    const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Replies from a finished write: 503 on store failure, else r. */
void wresult_reply(struct rq *rq, struct wresult *r);

/* Sub-routers; each handles its own paths and methods. */
void routes_agreements(struct rq *rq, const char *rest);
void routes_consents(struct rq *rq, const char *rest);
void routes_token(struct rq *rq);
void routes_introspect(struct rq *rq);
void routes_log(struct rq *rq, const char *rest);
void routes_status(struct rq *rq, const char *rest);
void routes_parties(struct rq *rq, const char *rest);

/* Grant (body: a grant or bundle request, reference stolen) and revoke for
 * the citizen rq->subject, already authenticated (API or web session). */
void routes_consents_grant(struct rq *rq, json_t *body);
void routes_consents_revoke(struct rq *rq, const char *id);

#endif
