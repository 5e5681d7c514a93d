/*
 * Consent records: the grant a citizen gives for one agreement. Stored as
 * JSON in ST_CONSENTS, indexed by subject and agreement in ST_CONSENT_INDEX.
 */
#ifndef CB_CONSENT_REC_H
#define CB_CONSENT_REC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "agreement.h"
#include "jtok.h"
#include "store.h"

#define CONSENT_MAX_SUBJECT 255
#define CONSENT_MAX_FIELDS AGR_MAX_FIELDS

enum consent_state {
	CONSENT_ACTIVE = 0,
	CONSENT_REVOKED,
	CONSENT_EXPIRED   /* derived: active with expires_at in the past */
};

/* A consent record decoded; strings borrow the JSON it came from. */
struct consent_view {
	const char *id;
	const char *subject;
	const char *agreement;
	uint32_t version;          /* agreement version granted under */
	const char *agreement_hash;
	enum consent_state state;  /* with expiry applied at `now` */
	int64_t granted_at;
	int64_t expires_at;        /* 0: none */
	int64_t revoked_at;        /* 0: not revoked */
	const char *fields[CONSENT_MAX_FIELDS];
	size_t nfields;
};

/* "active", "revoked" or "expired". */
const char *consent_state_name(enum consent_state s);

/*
 * Decodes a stored consent record, applying expiry at now. 0, or -1 when
 * the record is malformed.
 */
int consent_view_from_json(const json_t *rec, int64_t now,
    struct consent_view *out);

/*
 * As consent_view_from_json, from a record's stored bytes, without
 * building JSON objects (the hot paths read consents this way). The
 * strings of *out point into *strs, which the caller frees (NULL when
 * this fails).
 */
int consent_view_from_raw(const unsigned char *raw, size_t len, int64_t now,
    struct consent_view *out, char **strs);

/*
 * The state of a stored consent straight from its stored bytes, with
 * expiry applied at now, for the writer's commit-time check (which needs
 * nothing else and runs once per token): 0 with *state and, when it is
 * not active, the time that ended it (revoked_at or expires_at) in
 * *ended; -1 when the record is malformed.
 */
int consent_state_raw(const unsigned char *raw, size_t len, int64_t now,
    enum consent_state *state, int64_t *ended);

/* true when the consent grants field. */
int consent_covers(const struct consent_view *c, const char *field);

/*
 * Checks a subject id: 1..CONSENT_MAX_SUBJECT bytes of printable,
 * non-control UTF-8 (no spaces at either end). 0 or -1.
 */
int consent_subject_ok(const char *s);

/*
 * Builds a new consent record for subject under agreement a from a grant
 * request body ({"agreement", optional "fields", optional "expires_at"}).
 * Rules: the agreement uses consent; fields (default: all of the
 * agreement's) name only the agreement's fields and include every
 * non-optional one, without duplicates; expires_at is in the future and
 * within the agreement's maximum duration (default: that maximum, or none).
 * Returns a new record, or NULL with the rule that failed in err.
 */
json_t *consent_new_record(const struct agreement *a, const char *subject,
    const json_t *body, const char *id, int64_t now, char *err,
    size_t errlen);

/*
 * The consent receipt of rec (a record from consent_new_record under a):
 * a signed record of what was agreed, after ISO/IEC TS 27560, verifiable
 * with the broker's JWKS. A compact JWS (typ "consent-receipt+jwt", ES256
 * with key, header kid) whose claims are iss (issuer), sub (the subject),
 * iat, jti (the consent id) and "receipt": the agreement's notice (id,
 * version, hash, title), its provider and recipients as controllers, its
 * purposes, legal reference, retention and onward sharing, and the
 * record's fields, grant and expiry times. The broker's grant stores it as
 * the record's "receipt"; so does the bulk loader (bench/bulkload.c).
 * Returns a new string the caller frees, or NULL when out of memory or
 * the signing failed.
 */
char *consent_receipt(const struct agreement *a, const json_t *rec,
    const char *issuer, EVP_PKEY *key, const char *kid, int64_t iat);

/*
 * The receipt's claims, as consent_receipt signs them: one compact JSON
 * object, built as text (malloc'd, NUL-terminated, *len bytes). NULL when
 * rec lacks its id, subject, granted_at or fields, the agreement lacks
 * purposes, or on ENOMEM.
 */
char *consent_receipt_claims(const struct agreement *a, const json_t *rec,
    const char *issuer, int64_t iat, size_t *len);

/*
 * Finds the consent that decides a transfer about subject under agreement:
 * the unexpired active one if there is one, else the most recently granted
 * one. *out gets a new reference, or NULL when the subject has none.
 * Returns the store's error (STORE_OK also when none was found):
 * STORE_BADKEY when subject and agreement make no index key,
 * STORE_NOTFOUND when the index names a missing record, STORE_CORRUPT
 * when a record is malformed; *out is NULL then. It is consent_find_view
 * (the one definition of the rule) and one read of the chosen record.
 */
enum store_err consent_find_for(struct store_txn *txn, const char *subject,
    const char *agreement, int64_t now, json_t **out);

/*
 * As consent_find_for, as a view read from the stored bytes (see
 * consent_view_from_raw): *found is 1 when there is one, and *strs (the
 * view's strings) is the caller's to free.
 */
enum store_err consent_find_view(struct store_txn *txn, const char *subject,
    const char *agreement, int64_t now, struct consent_view *out,
    char **strs, int *found);

/* The record as shown to clients: stored members plus derived "state". */
json_t *consent_public(const json_t *rec, int64_t now);

/*
 * A stored consent record read once from its bytes, which it borrows
 * (keep them until consent_raw_free): its view, and its parsed text for
 * the text edits below. The revoke reads its record so, decides on the
 * view, and writes from the text without parsing it again or building
 * JSON values. Only v is for the caller; the rest is the reader's.
 */
struct consent_raw {
	struct consent_view v;
	struct jtok_doc d;
	struct jtok stack[CONSENT_MAX_FIELDS + 64];
	struct jtok *heap;          /* when the stack was too small */
	char *strs;                 /* v's strings */
};

/* As consent_view_from_raw, into c. 0, or -1 (c then holds nothing to
 * free) when the record is malformed or on ENOMEM. */
int consent_raw_read(struct consent_raw *c, const unsigned char *raw,
    size_t len, int64_t now);
void consent_raw_free(struct consent_raw *c);

/*
 * consent_public from the record's text, without building JSON values: the
 * text without stored_state, and "state" last. Every other member keeps
 * its bytes and place, so that for a record store_put wrote this is
 * exactly json_dumps(consent_public(record), JSON_COMPACT). malloc'd and
 * NUL-terminated (length in *outlen); NULL on ENOMEM.
 */
char *consent_raw_public(const struct consent_raw *c, size_t *outlen);

/* consent_raw_read, consent_raw_public, consent_raw_free in one: NULL
 * also when the record is malformed. */
char *consent_public_text(const unsigned char *raw, size_t len, int64_t now,
    size_t *outlen);

/* A revoked record's texts (consent_raw_revoke); malloc'd, NUL-ended. */
struct consent_text {
	char *stored;       /* as the store keeps it */
	size_t stored_len;
	char *shown;        /* as clients see it (consent_public) */
	size_t shown_len;
};

/*
 * A revocation as text edits of a record not yet revoked: stored_state
 * becomes "revoked", and "revoked_at" (ts, RFC 3339) and "revocation" (the
 * JSON text revocation) are added last, as json_object_set_new on the
 * decoded record would place them; out->shown is then that record as
 * consent_public shows it. STORE_OK; else out is empty, and the error is
 * STORE_CORRUPT when the record is revoked already or has revoked_at,
 * revocation or state though it is not (never so written), STORE_NOMEM
 * when out of memory. Free with consent_text_free.
 */
enum store_err consent_raw_revoke(const struct consent_raw *c, const char *ts,
    const char *revocation, struct consent_text *out);
void consent_text_free(struct consent_text *t);

/* Fresh consent id "cns_" + 32 hex chars into out[40]; 0 or -1. */
int consent_new_id(char out[40]);

#endif
