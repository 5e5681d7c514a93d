/* Building audit log entries from the broker's records. */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "b64.h"
#include "consent_rec.h"
#include "jsonu.h"
#include "logentry.h"
#include "timeu.h"

/* Appends s, after a ',' unless it is the first (i 0), to out, which
 * holds *used bytes; 0 or -1 when it does not fit. */
static int
join_add(char *out, size_t outlen, size_t *used, size_t i, const char *s)
{
	int n = snprintf(out + *used, outlen - *used, "%s%s", i > 0 ? "," : "",
	    s);

	if (n < 0 || (size_t)n >= outlen - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/* Joins the strings of a JSON array with ',' into out; 0 or -1. */
static int
join(const json_t *arr, char *out, size_t outlen)
{
	const json_t *v;
	size_t i, used = 0;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
		if (!json_is_string(v) ||
		    join_add(out, outlen, &used, i, json_string_value(v)) != 0)
			return -1;
	return 0;
}

enum store_err
audit_append(struct tlog *l, struct store_txn *txn, const struct le_buf *e,
    uint64_t *index)
{
	uint64_t ix;

	if (e->error)
		return STORE_BADKEY;
	return tlog_append(l, txn, e->b, e->len, index != NULL ? index : &ix);
}

static int
hash_field(struct le_buf *e, enum le_tag tag, const char *hex)
{
	unsigned char h[32];

	if (hex == NULL || strlen(hex) != 64 || hex_decode(hex, 64, h, 32) != 0)
		return -1;
	le_bytes(e, tag, h, 32);
	return 0;
}

enum store_err
audit_party(struct tlog *l, struct store_txn *txn, int64_t now,
    const char *actor, const json_t *party)
{
	struct le_buf e;
	char roles[512];
	const char *id;
	json_t *pins = json_object_get(party, "pins");

	if (jsonu_get_str(party, "id", &id) != 0 ||
	    join(json_object_get(party, "roles"), roles, sizeof(roles)) != 0)
		return STORE_CORRUPT;
	le_begin(&e, LE_PARTY, now);
	le_str(&e, T_EVENT, json_is_true(json_object_get(party, "removed")) ?
	    "remove" : "register");
	le_str(&e, T_ACTOR, actor);
	le_str(&e, T_PARTY, id);
	le_str(&e, T_ROLES, roles);
	if (json_array_size(pins) > 0 &&
	    json_is_string(json_array_get(pins, json_array_size(pins) - 1)))
		le_str(&e, T_PIN, json_string_value(json_array_get(pins,
		    json_array_size(pins) - 1)));
	return audit_append(l, txn, &e, NULL);
}

enum store_err
audit_agreement(struct tlog *l, struct store_txn *txn, int64_t now,
    const char *event, const char *actor, const json_t *rec)
{
	const json_t *doc = json_object_get(rec, "document");
	const char *id, *hash, *state, *basis;
	struct le_buf e;
	int64_t ver, limit = 0;

	if (jsonu_get_str(rec, "id", &id) != 0 ||
	    jsonu_get_int(rec, "version", &ver) != 0 ||
	    jsonu_get_str(rec, "hash", &hash) != 0 ||
	    jsonu_get_str(rec, "state", &state) != 0 ||
	    jsonu_get_str(json_object_get(doc, "legal_basis"), "type",
	    &basis) != 0)
		return STORE_CORRUPT;
	(void)jsonu_get_int(json_object_get(doc, "limits"),
	    "transfers_per_subject_per_day", &limit);
	le_begin(&e, LE_AGREEMENT, now);
	le_str(&e, T_EVENT, event);
	le_str(&e, T_ACTOR, actor);
	le_str(&e, T_AGREEMENT, id);
	le_u32(&e, T_VERSION, (uint32_t)ver);
	if (hash_field(&e, T_AGREEMENT_HASH, hash) != 0)
		return STORE_CORRUPT;
	le_str(&e, T_STATE, state);
	le_str(&e, T_BASIS, basis);
	le_u32(&e, T_LIMIT, (uint32_t)limit);
	return audit_append(l, txn, &e, NULL);
}

static enum store_err
consent_entry(struct tlog *l, struct store_txn *txn, int64_t now,
    const struct consent_view *c, enum le_type type)
{
	unsigned char pseudo[32];
	char fields[8192];
	struct le_buf e;
	size_t i, used = 0;

	fields[0] = '\0';
	for (i = 0; i < c->nfields; i++)
		if (join_add(fields, sizeof(fields), &used, i, c->fields[i]) != 0)
			return STORE_CORRUPT;
	if (c->agreement_hash == NULL)
		return STORE_CORRUPT;
	tlog_pseudonym(l, c->subject, pseudo);
	le_begin(&e, type, now);
	le_str(&e, T_EVENT, type == LE_CONSENT_GRANT ? "grant" : "revoke");
	le_str(&e, T_ACTOR, "citizen");
	le_str(&e, T_AGREEMENT, c->agreement);
	le_u32(&e, T_VERSION, c->version);
	if (hash_field(&e, T_AGREEMENT_HASH, c->agreement_hash) != 0)
		return STORE_CORRUPT;
	le_str(&e, T_CONSENT, c->id);
	le_bytes(&e, T_SUBJECT, pseudo, sizeof(pseudo));
	if (type == LE_CONSENT_GRANT) {
		le_str(&e, T_FIELDS, fields);
		if (c->expires_at != 0)
			le_u64(&e, T_EXPIRES, (uint64_t)c->expires_at);
	}
	return audit_append(l, txn, &e, NULL);
}

static enum store_err
consent_entry_json(struct tlog *l, struct store_txn *txn, int64_t now,
    const json_t *consent, enum le_type type)
{
	struct consent_view v;

	if (consent_view_from_json(consent, now, &v) != 0)
		return STORE_CORRUPT;
	return consent_entry(l, txn, now, &v, type);
}

enum store_err
audit_consent_grant(struct tlog *l, struct store_txn *txn, int64_t now,
    const json_t *consent)
{
	return consent_entry_json(l, txn, now, consent, LE_CONSENT_GRANT);
}

enum store_err
audit_consent_revoke(struct tlog *l, struct store_txn *txn, int64_t now,
    const json_t *consent)
{
	return consent_entry_json(l, txn, now, consent, LE_CONSENT_REVOKE);
}

enum store_err
audit_consent_revoke_view(struct tlog *l, struct store_txn *txn,
    int64_t now, const struct consent_view *consent)
{
	return consent_entry(l, txn, now, consent, LE_CONSENT_REVOKE);
}

int
audit_token_entry(const struct tlog *l, int64_t now,
    const struct audit_token_in *in, struct le_buf *e)
{
	unsigned char pseudo[32];
	char fields[8192];
	size_t i, used = 0;

	fields[0] = '\0';
	for (i = 0; i < in->nfields; i++)
		if (join_add(fields, sizeof(fields), &used, i, in->fields[i]) != 0)
			return -1;
	tlog_pseudonym(l, in->subject, pseudo);
	le_begin(e, LE_TOKEN, now);
	le_str(e, T_EVENT, "issue");
	le_str(e, T_ACTOR, in->client);
	le_str(e, T_AGREEMENT, in->agreement);
	le_u32(e, T_VERSION, in->version);
	if (hash_field(e, T_AGREEMENT_HASH, in->agreement_hash) != 0)
		return -1;
	if (in->consent_id != NULL)
		le_str(e, T_CONSENT, in->consent_id);
	le_bytes(e, T_SUBJECT, pseudo, sizeof(pseudo));
	le_str(e, T_FIELDS, fields);
	le_u64(e, T_EXPIRES, (uint64_t)in->exp);
	le_str(e, T_JTI, in->jti);
	le_bytes(e, T_CLAIMS_HASH, in->claims_hash, 32);
	le_str(e, T_CLIENT, in->client);
	le_str(e, T_PROVIDER, in->provider);
	le_str(e, T_PURPOSE, in->purpose);
	return e->error ? -1 : 0;
}
