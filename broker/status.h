/*
 * Token status lists (IETF OAuth Token Status List): every issued token
 * gets an index; revoking a consent or suspending/terminating an agreement
 * sets the bit of every outstanding token it covers, in the same write
 * transaction; GET /v1/status/{list} serves the signed list.
 *
 * Indices are global and sequential: list = index / STATUS_LIST_CAP,
 * position = index % STATUS_LIST_CAP. One bit per token (0 valid, 1
 * invalid).
 */
#ifndef CB_STATUS_H
#define CB_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "store.h"

/* Positions per list: 65,536 bits, at most 8 KiB before compression, so
 * a signed list stays within JWS_MAX_TOKEN whatever is revoked. */
#define STATUS_LIST_CAP (1u << 16)
#define STATUS_CHUNK 4096            /* bytes per stored chunk */
#define STATUS_TYP "statuslist+jwt"

struct status;

/* Reads the next free index from the store. NULL with err. */
struct status *status_open(struct store *s, char *err, size_t errlen);
void status_free(struct status *st);

/* Reserves an index for a token about to be signed (any thread). */
uint64_t status_alloc(struct status *st);

/* "https://issuer/v1/status/<list>" into out; 0 or -1. */
int status_uri(const char *issuer, uint64_t index, char *out, size_t outlen);

/*
 * Writer: records an issued token as outstanding under its agreement
 * version, its requesting party and its expiry, until exp, and moves the
 * persisted next index past it. (Its consent finds it through the
 * subject's transfer index, see status_revoke_consent.)
 */
enum store_err status_track(struct store_txn *txn, uint64_t index,
    const char *jti, int64_t exp, const char *agreement, uint32_t version,
    const char *client);

/*
 * Writer: sets the bits of every outstanding, unexpired token under a
 * consent, or an agreement version. versions (a JSON object, may be NULL)
 * gets {"<list>": <new list version>} for each list changed; *count the
 * number of tokens revoked.
 *
 * A consent's tokens are found through its subject's transfer index
 * (ST_SUBJECT_TOKENS, newest first, back to CONFIG_MAX_TOKEN_TTL before
 * now) and each token's record (ST_TOKENS: its consent_id, exp and
 * status_index). A record per token keyed by consent would land on a leaf
 * page of its own in every token's commit.
 */
enum store_err status_revoke_consent(struct store_txn *txn,
    const char *consent_id, const char *subject, int64_t now,
    json_t *versions, size_t *count);
enum store_err status_revoke_agreement(struct store_txn *txn,
    const char *agreement, uint32_t version, int64_t now, json_t *versions,
    size_t *count);

/* Writer: the same for every outstanding token under a key prefix of the
 * outstanding-token table (e.g. "p" SEP party SEP: a party's tokens). */
enum store_err status_revoke_prefix_public(struct store_txn *txn,
    const char *prefix, int64_t now, json_t *versions, size_t *count);

/* Writer: forgets up to max expired outstanding records; returns the count. */
size_t status_prune(struct store_txn *txn, int64_t now, size_t max);

/* The bit of index (from a read snapshot); 0, 1, or -1 on store error. */
int status_get(struct store_txn *txn, uint64_t index);

/*
 * The signed status list token of list (reader; cached until the list
 * changes or half its ttl passed). *version gets the list version it shows.
 * Returns a malloc'd compact JWS or NULL (STORE_NOTFOUND for a list that
 * does not exist yet is reported through *err).
 */
char *status_list_token(struct status *st, struct store *s, EVP_PKEY *key,
    const char *kid, const char *issuer, uint32_t list, int ttl,
    uint64_t *version, enum store_err *err);

/* Writer: records that party fetched list at version (if newer). */
enum store_err status_record_seen(struct store_txn *txn, const char *party,
    uint32_t list, uint64_t version, int64_t now);

/*
 * Reader: whether party has fetched, for every list in versions
 * ({"<list>": version}, as a revocation records it), that version or a
 * later one. *last_at (may be NULL) gets the latest such fetch time.
 * Returns 1 (seen), 0 (not yet) or -1 on a store error.
 */
int status_seen_all(struct store_txn *txn, const char *party,
    const json_t *versions, int64_t *last_at);

/* Reader: the version of list party last fetched (0 if never) and when. */
enum store_err status_seen(struct store_txn *txn, const char *party,
    uint32_t list, uint64_t *version, int64_t *at);

#endif
