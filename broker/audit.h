/*
 * Audit log entries for the broker's changes, built from the records the
 * change writes (docs/audit-log.md lists what each entry holds). Each
 * function appends one entry in txn (the change's own transaction).
 */
#ifndef CB_AUDIT_H
#define CB_AUDIT_H

#include <stdint.h>

#include <jansson.h>

#include "logentry.h"
#include "store.h"
#include "tlog.h"

/* A party registered or changed. */
enum store_err audit_party(struct tlog *l, struct store_txn *txn,
    int64_t now, const char *actor, const json_t *party);

/* An agreement version after event (submit, approve, activate, suspend,
 * resume, terminate, supersede, load) by actor. */
enum store_err audit_agreement(struct tlog *l, struct store_txn *txn,
    int64_t now, const char *event, const char *actor, const json_t *rec);

enum store_err audit_consent_grant(struct tlog *l, struct store_txn *txn,
    int64_t now, const json_t *consent);

enum store_err audit_consent_revoke(struct tlog *l, struct store_txn *txn,
    int64_t now, const json_t *consent);

/* As audit_consent_revoke, from the consent's view (the revoke's text
 * path reads the record without building JSON values). */
struct consent_view;
enum store_err audit_consent_revoke_view(struct tlog *l,
    struct store_txn *txn, int64_t now, const struct consent_view *consent);

/* What the audit log entry of an issued token holds (audit_token_entry);
 * borrowed strings. */
struct audit_token_in {
	const char *client;             /* actor and client */
	const char *provider;
	const char *agreement;
	uint32_t version;
	const char *agreement_hash;     /* 64 hex digits */
	const char *consent_id;         /* NULL: none */
	const char *subject;            /* pseudonymized in the entry */
	const char *purpose;
	const char *const *fields;
	size_t nfields;
	const char *jti;
	int64_t exp;
	const unsigned char *claims_hash;  /* SHA-256 of the claims as signed */
};

/*
 * The entry of an issued token, issued at now, built into e ahead of its
 * commit (on the worker that minted the token; l is only read, for the
 * subject's pseudonym). 0, or -1 when the agreement hash is not 64 hex
 * digits or the entry would be too long. audit_append then appends it.
 */
int audit_token_entry(const struct tlog *l, int64_t now,
    const struct audit_token_in *in, struct le_buf *e);

/* Appends entry e in txn (every function here ends with it; the token
 * path calls it with the entry audit_token_entry built ahead); *index,
 * when not NULL, gets its index. STORE_BADKEY when building e failed (too
 * long). e is not changed. */
enum store_err audit_append(struct tlog *l, struct store_txn *txn,
    const struct le_buf *e, uint64_t *index);

#endif
