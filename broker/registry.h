/*
 * Party and agreement records in the store.
 *
 * Party:     {"id", "name", "roles": [...], "pins": [hex SPKI SHA-256, ...]}
 * Agreement: {"id", "version", "hash", "state", "document": {...},
 *             "approvals": {party: time}, "submitted_by", "submitted_at",
 *             "updated_at", "reason"?}
 * States: draft -> active -> suspended <-> active -> terminated; an active
 * version is "superseded" once a later version becomes active.
 */
#ifndef CB_REGISTRY_H
#define CB_REGISTRY_H

#include <stdint.h>

#include <jansson.h>

#include "agreement.h"
#include "store.h"

#define PARTY_MAX_ID AGR_MAX_ID

/*
 * The party a certificate pin maps to, as each request's check needs it:
 * its id (into id, idlen bytes) and role bits (policy.h ROLE_*; names that
 * are not roles give none), read from the records' bytes without building
 * JSON values. STORE_NOTFOUND if the pin maps to no party (or to a party
 * with no record); STORE_CORRUPT if a record is not JSON, lacks its id, or
 * the id does not fit in idlen; STORE_NOMEM. On any error id is "" and
 * *roles 0.
 */
enum store_err registry_party_auth(struct store_txn *txn,
    const char *pin_hex, char *id, size_t idlen, unsigned *roles);

/*
 * Creates or replaces a party with these roles (NULL-terminated names)
 * and adds pin_hex (may be NULL) to its pins. Fails with STORE_EXISTS when
 * the pin already belongs to another party, STORE_BADKEY on a bad id or
 * role name.
 */
enum store_err registry_put_party(struct store_txn *txn, const char *id,
    const char *name, const char *const *roles, const char *pin_hex);

/*
 * Reads agreement id at version, or its effective version when version is
 * 0: the highest version that is not a draft, else the highest draft.
 */
enum store_err registry_agreement_get(struct store_txn *txn, const char *id,
    uint32_t version, json_t **rec);

/*
 * Every agreement's effective record, by id, in one scan: a new
 * reference to each, appended to out (at most max; 0: no limit).
 */
enum store_err registry_agreements_effective(struct store_txn *txn,
    size_t max, json_t *out);

/* The highest stored version of id (any state); STORE_NOTFOUND if none. */
enum store_err registry_agreement_latest(struct store_txn *txn,
    const char *id, json_t **rec);

/* Writes an agreement record under its id and version. */
enum store_err registry_agreement_put(struct store_txn *txn,
    const json_t *rec);

/* A new record for a in state, submitted by party `by` at now. */
json_t *registry_agreement_record(const struct agreement *a,
    const char *state, const char *by, int64_t now);

/*
 * The parsed agreement of a record (the document re-validated). NULL when
 * the stored document no longer validates (reported as corrupt).
 */
struct agreement *registry_agreement_parse(const json_t *rec);

/* The "state" of a record (borrowed), or NULL. */
const char *registry_agreement_state(const json_t *rec);

/*
 * An agreement version as stored, parsed and validated once: the hot paths
 * (token requests, the writer's commit-time check) read agreements through
 * a small per-thread cache of these instead of parsing the record each time.
 * Each use compares the cached bytes with the stored ones, so a view is
 * never stale within the snapshot it was read in. Read only; release it.
 */
struct agr_view {
	const json_t *rec;              /* the stored record */
	const struct agreement *a;      /* its document; NULL if it no longer
	                                 * validates (a corrupt record) */
	const char *state;              /* rec's "state", or NULL */
};

/*
 * As registry_agreement_get (version 0: the effective version), as a view
 * the caller must give back with registry_agreement_release.
 */
enum store_err registry_agreement_view(struct store_txn *txn,
    const char *id, uint32_t version, const struct agr_view **out);

/* Gives back a view; NULL is a no-op. */
void registry_agreement_release(const struct agr_view *v);

/* Frees this thread's cache (also done when the thread exits). */
void registry_cache_flush(void);

#endif
