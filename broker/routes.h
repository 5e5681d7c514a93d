/* Shared helpers of the route handlers (routes*.c), and the writes the
 * bulk loader (bench/bulkload.c) makes as they do; not a public API. */
#ifndef CB_ROUTES_H
#define CB_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agreement.h"
#include "http.h"
#include "logentry.h"
#include "store.h"
#include "tlog.h"

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
	char *text;           /* or the reply body as JSON text (owned) */
	size_t text_len;
};

/* Sets a failing result; returns 1 (a non-zero apply status). */
int wresult_fail(struct wresult *r, int http, const char *title,
    const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Replies from a finished write: 503 on store failure, else r. */
void wresult_reply(struct rq *rq, struct wresult *r);

/* ---- transfer tokens and consents: also written by bench/bulkload.c ---- */

/* What a transfer token grants (routes_token_claims); borrowed strings. */
struct token_terms {
	const char *issuer;             /* iss */
	const struct agreement *a;      /* the agreement version it is under */
	const char *subject;            /* sub */
	const char *client;             /* client_id: the requesting party */
	const char *x5t;                /* cnf: its certificate's x5t#S256 */
	const char *purpose;
	const char *const *fields;
	size_t nfields;
	const char *consent_id;         /* NULL: none (a statutory basis) */
	uint64_t status_index;          /* from status_alloc */
	int64_t now;                    /* iat and nbf */
	int ttl;                        /* exp - iat, in seconds */
	const char *kid;                /* of the key that will sign them */
};

/*
 * A minted transfer token: its claims as signed, and everything its
 * commit writes, prepared on the thread that minted it so that the writer
 * only stores them (routes_token_claims fills it, routes_token_write
 * stores it, routes_token_minted_free frees it; all zeros is empty).
 */
struct token_minted {
	char *claims;                  /* the claims JSON exactly as signed */
	size_t claims_len;
	unsigned char claims_hash[32]; /* its SHA-256 */
	size_t details_off;            /* its authorization_details array: */
	size_t details_len;            /* claims[details_off..+details_len) */
	char *record;                  /* the record kept of it (below) */
	size_t record_len;
	struct le_buf entry;           /* its audit log entry */
	char jti[48];
	int64_t iat, exp;
	uint64_t status_index;
	uint32_t version;
	char agreement[AGR_MAX_ID + 1];
	char *strs;                    /* owns subject, client, consent_id */
	const char *subject, *client;
	const char *consent_id;        /* NULL: none */
};

/*
 * Mints the claims of a transfer token for t into *m, as the token
 * endpoint issues them (RFC 9068 with RFC 9396 authorization_details, RFC
 * 8705 cnf and a token status list entry): a new jti (the time in ms,
 * then 96 random bits, so that the token indexes grow at their end), exp
 * = now + ttl, consent_id when t has one. The claims are written as JSON
 * text directly (no jansson values: this is on every token's path); the
 * caller signs m->claims. m->record is the record the broker keeps of the
 * token (the claims, then "kid" and "status_index"), without its closing
 * brace: routes_token_write adds "log_index" and closes it. m->entry is
 * the token's audit log entry (log gives the subject's pseudonym). m owns
 * copies of everything the commit needs, so t's strings may go after.
 * 0, or -1 when out of memory, without randomness, or for strings that
 * are not UTF-8, with *m empty.
 */
int routes_token_claims(const struct token_terms *t, const struct tlog *log,
    struct token_minted *m);
void routes_token_minted_free(struct token_minted *m);

/* A token's lifetime under agreement a: its token_ttl_seconds, at most
 * the broker's max_token_ttl_s. */
int routes_token_ttl(const struct agreement *a, const struct config *c);

/*
 * The per-day transfer counter that max_per_subject_per_day limits
 * (ST_COUNTERS, subject SEP agreement SEP day as of now, {"n": count}).
 * routes_day_key builds its key (0, or -1 when they make none);
 * routes_day_count reads the count so far (0 when there is none);
 * routes_day_count_put writes n.
 */
int routes_day_key(char *out, size_t outlen, const char *subject,
    const char *agreement, int64_t now);
enum store_err routes_day_count(struct store_txn *txn, const char *key,
    int64_t *n);
enum store_err routes_day_count_put(struct store_txn *txn, const char *key,
    int64_t n);

/*
 * Writes an issued token (m, from routes_token_claims) in txn, as the
 * token endpoint's commit does once its checks passed, in this order: its
 * audit log entry (audit_append; the record then gets "log_index"), the
 * token tracked as outstanding under its agreement version, client and
 * expiry (status_track), the subject's transfer index (ST_SUBJECT_TOKENS:
 * the citizen's page, and revocation by consent), up to four expired
 * outstanding-token records forgotten as of prune_now (status_prune), and
 * the record under its jti (ST_TOKENS). track 0 leaves out status_track
 * and status_prune (the bulk loader's shortcut, see bench/bulkload.c).
 * Returns the store's error, STORE_OK, or STORE_EXISTS when its jti is
 * taken; after an error the caller aborts txn (or its savepoint). m is
 * not changed.
 */
enum store_err routes_token_write(struct tlog *log, struct store_txn *txn,
    const struct token_minted *m, int track, int64_t prune_now);

/*
 * Writes a new consent record (from consent_new_record, with its receipt
 * from consent_receipt) in txn, as the grant does once its checks passed:
 * the record under its id (ST_CONSENTS), the entry under its subject,
 * agreement and id (ST_CONSENT_INDEX) and the audit log entry
 * (audit_consent_grant, at now). Returns the store's error, STORE_OK, or
 * STORE_CORRUPT for a record without id, subject or agreement,
 * STORE_BADKEY when they make no index key, STORE_EXISTS when its id is
 * taken; after an error the caller aborts txn (or its savepoint). With
 * text non-NULL, a success also gives the record's text as stored
 * (malloc'd, NUL-terminated, *textlen bytes); *text is NULL otherwise.
 */
enum store_err routes_consent_write(struct tlog *log, struct store_txn *txn,
    const json_t *rec, int64_t now, char **text, size_t *textlen);

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
