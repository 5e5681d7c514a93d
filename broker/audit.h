/*
 * Audit log entries for the broker's changes, built from the records the
 * change writes (docs/audit-log.md lists what each entry holds). Each
 * function appends one entry in txn (the change's own transaction).
 */
#ifndef CB_AUDIT_H
#define CB_AUDIT_H

#include <stdint.h>

#include <jansson.h>

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

/* An issued token: its record (the claims) and the SHA-256 of the claims
 * JSON exactly as signed. *index gets the entry's index. */
enum store_err audit_token(struct tlog *l, struct store_txn *txn,
    int64_t now, const json_t *claims, const unsigned char claims_hash[32],
    uint64_t *index);

#endif
