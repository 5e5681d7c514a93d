/* OAuth routes: the transfer token (RFC 6749 + RFC 9396 + RFC 8705) and
 * introspection (RFC 7662). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "audit.h"
#include "b64.h"
#include "consent_rec.h"
#include "form.h"
#include "jsonu.h"
#include "jws.h"
#include "policy.h"
#include "registry.h"
#include "rndpool.h"
#include "routes.h"
#include "status.h"
#include "timeu.h"
#include "tokreq.h"

#define TOKEN_TYP "at+jwt"

struct tstate {
	struct token_request tr;
	char agreement[AGR_MAX_ID + 1];
	uint32_t version;
	char consent_id[64];           /* "" when no consent is used */
	char counter_key[STORE_MAX_KEY + 1];
	uint32_t limit;                /* per subject per day; 0: none */
	struct token_minted minted;    /* the issued token's claims */
	char *token;
	uint64_t status_index;         /* in the token status lists */
	int64_t now;
	int ttl;
	struct policy_result deny;     /* set when the commit-time check fails */
};

static void
tstate_free(void *p)
{
	struct tstate *st = p;

	if (st == NULL)
		return;
	tokreq_free(&st->tr);
	routes_token_minted_free(&st->minted);
	free(st->token);
	free(st);
}

/* 1 when the body is form-encoded; else replies 400 naming what came. */
static int
form_content_type(struct rq *rq, const char *what)
{
	const char *ct = http_header(rq, "Content-Type");

	if (ct != NULL &&
	    strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
		return 1;
	http_oauth_error(rq, 400, "invalid_request", "content_type",
	    "the %s request must be application/x-www-form-urlencoded, not "
	    "'%.100s'", what, ct != NULL ? ct : "(no Content-Type)");
	return 0;
}

static void
deny_policy(struct rq *rq, const struct policy_result *r)
{
	http_oauth_error(rq, r->http_status, r->oauth_error, r->rule_name, "%s",
	    r->description);
}

/*
 * Commit-time re-check: between the decision (in a read snapshot) and the
 * commit, the consent may have been revoked, the agreement suspended or
 * the day's limit reached. The writer serializes these, so the check here
 * is the one that counts.
 */
static int
apply_token(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct tstate *st = rq->data;
	struct policy_result *d = &st->deny;
	const struct agr_view *av = NULL;
	const unsigned char *raw;
	size_t rawlen;
	enum consent_state cstate;
	json_t *rec = NULL;
	const char *state;
	char when[32];
	int64_t n = 0, ended;
	enum store_err rc;

	rc = registry_agreement_view(txn, st->agreement, st->version, &av);
	if (rc != STORE_OK)
		goto store_fail;
	state = av->state;
	if (state == NULL || strcmp(state, "active") != 0) {
		d->rule = POLICY_NOT_ACTIVE;
		d->oauth_error = "access_denied";
		d->http_status = 403;
		snprintf(d->description, sizeof(d->description),
		    "agreement '%s' version %u is %s, not active", st->agreement,
		    st->version, state != NULL ? state : "unknown");
		goto deny;
	}
	registry_agreement_release(av);
	av = NULL;
	if (st->consent_id[0] != '\0') {
		/* Only the state counts here: read it from the bytes. */
		rc = store_get_raw(txn, ST_CONSENTS, st->consent_id, &raw,
		    &rawlen);
		if (rc != STORE_OK)
			goto store_fail;
		if (consent_state_raw(raw, rawlen, st->now, &cstate,
		    &ended) != 0) {
			rc = STORE_CORRUPT;
			goto store_fail;
		}
		if (cstate != CONSENT_ACTIVE) {
			d->rule = cstate == CONSENT_REVOKED ?
			    POLICY_CONSENT_REVOKED : POLICY_CONSENT_EXPIRED;
			d->oauth_error = "access_denied";
			d->http_status = 403;
			timeu_format(ended, when, sizeof(when));
			snprintf(d->description, sizeof(d->description),
			    "consent '%s' %s at %s", st->consent_id,
			    cstate == CONSENT_REVOKED ? "was revoked" : "expired",
			    when);
			goto deny;
		}
	}
	if (st->limit != 0) {
		if ((rc = routes_day_count(txn, st->counter_key, &n)) !=
		    STORE_OK)
			goto store_fail;
		if (n >= st->limit) {
			d->rule = POLICY_LIMIT;
			d->oauth_error = "access_denied";
			d->http_status = 403;
			snprintf(d->description, sizeof(d->description),
			    "limit exceeded: agreement '%s' allows %u transfers "
			    "per subject per day, and %lld were issued today",
			    st->agreement, st->limit, (long long)n);
			goto deny;
		}
		if ((rc = routes_day_count_put(txn, st->counter_key, n + 1)) !=
		    STORE_OK)
			goto store_fail;
	}
	rc = routes_token_write(rq->b->log, txn, &st->minted, 1, st->now);
	if (rc != STORE_OK)
		goto store_fail;
	return 0;
deny:
	d->rule_name = policy_rule_name(d->rule);
	registry_agreement_release(av);
	json_decref(rec);
	return 1;
store_fail:
	registry_agreement_release(av);
	json_decref(rec);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

static void
resume_token(struct rq *rq)
{
	struct tstate *st = rq->data;
	const struct token_minted *m = &st->minted;
	struct jsonu_buf b = { 0 };
	char *body;
	size_t len;

	if (rq->op.status == WOP_STORE_FAILED) {
		http_oauth_error(rq, 503, "temporarily_unavailable", "store",
		    "the token could not be recorded (%s); none was issued, "
		    "retry later", store_strerror(rq->op.store_err));
		return;
	}
	if (rq->op.status != 0) {
		deny_policy(rq, &st->deny);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(rq->req), "Pragma",
	    "no-cache");
	/* Written out directly: a compact JWS needs no JSON escaping, the
	 * authorization_details are the token's own text, and the reply is
	 * on every token's path. */
	jsonu_buf_lit(&b, "{\"access_token\":\"");
	jsonu_buf_lit(&b, st->token);
	jsonu_buf_lit(&b, "\",\"token_type\":\"Bearer\",\"expires_in\":");
	jsonu_buf_int(&b, st->ttl);
	jsonu_buf_lit(&b, ",\"authorization_details\":");
	jsonu_buf_raw(&b, m->claims + m->details_off, m->details_len);
	jsonu_buf_lit(&b, "}");
	if ((body = jsonu_buf_take(&b, &len)) == NULL) {
		http_oauth_error(rq, 503, "temporarily_unavailable", NULL,
		    "out of memory");
		return;
	}
	http_reply_text(rq, 200, "application/json", body, len);
	free(body);
}

/* Copies the strings the commit needs into m->strs. 0 or -1. */
static int
minted_own(struct token_minted *m, const struct token_terms *t)
{
	size_t ls = strlen(t->subject) + 1, lc = strlen(t->client) + 1;
	size_t li = t->consent_id != NULL ? strlen(t->consent_id) + 1 : 0;

	if ((m->strs = malloc(ls + lc + li)) == NULL)
		return -1;
	memcpy(m->strs, t->subject, ls);
	memcpy(m->strs + ls, t->client, lc);
	m->subject = m->strs;
	m->client = m->strs + ls;
	if (t->consent_id != NULL) {
		memcpy(m->strs + ls + lc, t->consent_id, li);
		m->consent_id = m->strs + ls + lc;
	}
	return 0;
}

int
routes_token_claims(const struct token_terms *t, const struct tlog *log,
    struct token_minted *m)
{
	struct jsonu_buf b = { 0 };
	struct audit_token_in ai;
	unsigned char rnd[12];
	char uri[400];
	size_t i;

	memset(m, 0, sizeof(*m));
	if (snprintf(m->agreement, sizeof(m->agreement), "%s", t->a->id) >=
	    (int)sizeof(m->agreement) || minted_own(m, t) != 0)
		goto fail;
	/* The time in ms (12 hex digits) and 96 random bits (16 chars):
	 * unique, and time-ordered so that the token indexes grow at one
	 * end (fewer pages written per commit). */
	if (rndpool_bytes(rnd, sizeof(rnd)) != 0)
		goto fail;
	timeu_ms_hex(m->jti);
	b64url_encode(rnd, sizeof(rnd), m->jti + 12);
	m->iat = t->now;
	m->exp = t->now + t->ttl;
	m->version = t->a->version;
	m->status_index = t->status_index;
	if (status_uri(t->issuer, t->status_index, uri, sizeof(uri)) != 0)
		goto fail;
	/* The claims, in the order the broker has always written them. */
	jsonu_buf_lit(&b, "{\"iss\":");
	jsonu_buf_str(&b, t->issuer);
	jsonu_buf_lit(&b, ",\"sub\":");
	jsonu_buf_str(&b, t->subject);
	jsonu_buf_lit(&b, ",\"aud\":");
	jsonu_buf_str(&b, t->a->provider);
	jsonu_buf_lit(&b, ",\"client_id\":");
	jsonu_buf_str(&b, t->client);
	jsonu_buf_lit(&b, ",\"iat\":");
	jsonu_buf_int(&b, m->iat);
	jsonu_buf_lit(&b, ",\"nbf\":");
	jsonu_buf_int(&b, m->iat);
	jsonu_buf_lit(&b, ",\"exp\":");
	jsonu_buf_int(&b, m->exp);
	jsonu_buf_lit(&b, ",\"jti\":");
	jsonu_buf_str(&b, m->jti);
	jsonu_buf_lit(&b, ",\"authorization_details\":");
	m->details_off = b.len;
	jsonu_buf_lit(&b, "[{\"type\":\"consented_transfer\",\"agreement\":");
	jsonu_buf_str(&b, t->a->id);
	jsonu_buf_lit(&b, ",\"agreement_version\":");
	jsonu_buf_int(&b, t->a->version);
	jsonu_buf_lit(&b, ",\"agreement_hash\":");
	jsonu_buf_str(&b, t->a->hash);
	jsonu_buf_lit(&b, ",\"purpose\":");
	jsonu_buf_str(&b, t->purpose);
	jsonu_buf_lit(&b, ",\"fields\":[");
	for (i = 0; i < t->nfields; i++) {
		if (i > 0)
			jsonu_buf_lit(&b, ",");
		jsonu_buf_str(&b, t->fields[i]);
	}
	jsonu_buf_lit(&b, "]}]");
	m->details_len = b.len - m->details_off;
	jsonu_buf_lit(&b, ",\"cnf\":{\"x5t#S256\":");
	jsonu_buf_str(&b, t->x5t);
	jsonu_buf_lit(&b, "}");
	if (t->consent_id != NULL) {
		jsonu_buf_lit(&b, ",\"consent_id\":");
		jsonu_buf_str(&b, t->consent_id);
	}
	jsonu_buf_lit(&b, ",\"status\":{\"status_list\":{\"idx\":");
	jsonu_buf_int(&b, (int64_t)(t->status_index % STATUS_LIST_CAP));
	jsonu_buf_lit(&b, ",\"uri\":");
	jsonu_buf_str(&b, uri);
	jsonu_buf_lit(&b, "}}}");
	if ((m->claims = jsonu_buf_take(&b, &m->claims_len)) == NULL)
		goto fail;
	SHA256((const unsigned char *)m->claims, m->claims_len,
	    m->claims_hash);
	/* The record keeps the claims (not the token): enough for
	 * introspection and audit, useless to a thief. */
	jsonu_buf_raw(&b, m->claims, m->claims_len - 1);
	jsonu_buf_lit(&b, ",\"kid\":");
	jsonu_buf_str(&b, t->kid);
	jsonu_buf_lit(&b, ",\"status_index\":");
	jsonu_buf_int(&b, (int64_t)t->status_index);
	if ((m->record = jsonu_buf_take(&b, &m->record_len)) == NULL)
		goto fail;
	ai.client = t->client;
	ai.provider = t->a->provider;
	ai.agreement = t->a->id;
	ai.version = t->a->version;
	ai.agreement_hash = t->a->hash;
	ai.consent_id = t->consent_id;
	ai.subject = t->subject;
	ai.purpose = t->purpose;
	ai.fields = t->fields;
	ai.nfields = t->nfields;
	ai.jti = m->jti;
	ai.exp = m->exp;
	ai.claims_hash = m->claims_hash;
	if (audit_token_entry(log, t->now, &ai, &m->entry) != 0)
		goto fail;
	return 0;
fail:
	jsonu_buf_free(&b);
	routes_token_minted_free(m);
	return -1;
}

void
routes_token_minted_free(struct token_minted *m)
{
	free(m->claims);
	free(m->record);
	free(m->strs);
	memset(m, 0, sizeof(*m));
}

enum store_err
routes_token_write(struct tlog *log, struct store_txn *txn,
    const struct token_minted *m, int track, int64_t prune_now)
{
	char sk[STORE_MAX_KEY + 1], iat_s[24], *rec;
	uint64_t index;
	enum store_err rc;
	int n;

	if (m->record == NULL)
		return STORE_CORRUPT;
	rc = audit_append(log, txn, &m->entry, &index);
	if (rc != STORE_OK)
		return rc;
	if (track && (rc = status_track(txn, m->status_index, m->jti, m->exp,
	    m->agreement, m->version, m->client)) != STORE_OK)
		return rc;
	/* The citizen's page lists the transfers about them. */
	snprintf(iat_s, sizeof(iat_s), "%012lld", (long long)m->iat);
	if (store_key3(sk, sizeof(sk), m->subject, iat_s, m->jti) != 0)
		return STORE_BADKEY;
	if ((rc = store_put_text(txn, ST_SUBJECT_TOKENS, sk, "{}", 2, 0)) !=
	    STORE_OK)
		return rc;
	/* Forget a few expired outstanding-token records as we go. */
	if (track)
		(void)status_prune(txn, prune_now, 4);
	if ((rec = malloc(m->record_len + 40)) == NULL)
		return STORE_NOMEM;
	n = snprintf(rec, m->record_len + 40, "%s,\"log_index\":%llu}",
	    m->record, (unsigned long long)index);
	rc = n > 0 && (size_t)n < m->record_len + 40 ?
	    store_put_text(txn, ST_TOKENS, m->jti, rec, (size_t)n, 1) :
	    STORE_NOMEM;
	free(rec);
	return rc;
}

int
routes_token_ttl(const struct agreement *a, const struct config *c)
{
	return (int)a->token_ttl_seconds < c->max_token_ttl_s ?
	    (int)a->token_ttl_seconds : c->max_token_ttl_s;
}

int
routes_day_key(char *out, size_t outlen, const char *subject,
    const char *agreement, int64_t now)
{
	char day[24];

	snprintf(day, sizeof(day), "%lld", (long long)timeu_day(now));
	return store_key3(out, outlen, subject, agreement, day);
}

enum store_err
routes_day_count(struct store_txn *txn, const char *key, int64_t *n)
{
	json_t *ctr = NULL;
	enum store_err rc;

	*n = 0;
	rc = store_get(txn, ST_COUNTERS, key, &ctr);
	if (rc == STORE_OK && jsonu_get_int(ctr, "n", n) != 0)
		*n = 0;
	json_decref(ctr);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_err
routes_day_count_put(struct store_txn *txn, const char *key, int64_t n)
{
	json_t *ctr = json_pack("{s:I}", "n", (json_int_t)n);
	enum store_err rc;

	if (ctr == NULL)
		return STORE_NOMEM;
	rc = store_put(txn, ST_COUNTERS, key, ctr);
	json_decref(ctr);
	return rc;
}

/* Builds the claims, signs them, and fills st->minted; 0 or -1. */
static int
mint(struct rq *rq, struct tstate *st, const struct agreement *a)
{
	struct token_terms t;
	const char *kid;
	EVP_PKEY *key;
	int rc = -1;

	key = keyset_current(broker_keys(rq->b), &kid);
	st->status_index = status_alloc(rq->b->status);
	t.issuer = rq->b->cfg.issuer;
	t.a = a;
	t.subject = st->tr.subject;
	t.client = rq->party;
	t.x5t = rq->peer->x5t;
	t.purpose = st->tr.purpose;
	t.fields = st->tr.fields;
	t.nfields = st->tr.nfields;
	t.consent_id = st->consent_id[0] != '\0' ? st->consent_id : NULL;
	t.status_index = st->status_index;
	t.now = st->now;
	t.ttl = st->ttl;
	t.kid = kid;
	if (routes_token_claims(&t, rq->b->log, &st->minted) != 0)
		return -1;
	if (jws_sign_es256(key, kid, TOKEN_TYP, st->minted.claims,
	    st->minted.claims_len, &st->token) == JWS_OK)
		rc = 0;
	return rc;
}

void
routes_token(struct rq *rq)
{
	struct store_txn *txn = NULL;
	const struct agr_view *av = NULL, *cav = NULL;
	const struct agreement *a = NULL, *ca = NULL;
	struct consent_view cv, *cvp = NULL;
	struct policy_request preq;
	struct policy_input in;
	struct policy_result res;
	struct tstate *st;
	const char *oauth, *buf;
	char err[512], *cstrs = NULL;
	int found;
	int64_t n = 0;
	size_t len;
	enum store_err rc;

	http_body(rq, &buf, &len);
	if (len > rq->b->cfg.max_body_bytes) {
		http_oauth_error(rq, 413, "invalid_request", "body_size",
		    "request body of %zu bytes exceeds the limit of %zu bytes",
		    len, rq->b->cfg.max_body_bytes);
		return;
	}
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	if (routes_auth_party(rq, txn, 1) != 0)
		goto out;
	if (!form_content_type(rq, "token"))
		goto out;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		http_oauth_error(rq, 503, "temporarily_unavailable", NULL,
		    "out of memory");
		goto out;
	}
	rq->data = st;
	rq->data_free = tstate_free;
	st->now = timeu_now();
	if (tokreq_parse(buf, len, &st->tr, &oauth, err, sizeof(err)) != 0) {
		http_oauth_error(rq, 400, oauth, "token_request", "%s", err);
		goto out;
	}
	if (st->tr.client_id != NULL &&
	    strcmp(st->tr.client_id, rq->party) != 0) {
		http_oauth_error(rq, 401, "invalid_client", "client_id",
		    "client_id '%.64s' does not match the client certificate's "
		    "party '%s'", st->tr.client_id, rq->party);
		goto out;
	}
	rc = registry_agreement_view(txn, st->tr.agreement, 0, &av);
	if (rc == STORE_OK && (a = av->a) == NULL)
		rc = STORE_CORRUPT;
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_BADKEY) {
		routes_store_error(rq, rc);
		goto out;
	}
	if (a != NULL && a->consent_required) {
		rc = consent_find_view(txn, st->tr.subject, a->id, st->now, &cv,
		    &cstrs, &found);
		if (rc != STORE_OK) {
			routes_store_error(rq, rc);
			goto out;
		}
		if (found) {
			cvp = &cv;
			/* A consent under an earlier version: compare terms. */
			if (cv.version != a->version &&
			    registry_agreement_view(txn, a->id, cv.version,
			    &cav) == STORE_OK)
				ca = cav->a;
		}
	}
	if (a != NULL && a->max_per_subject_per_day != 0) {
		if (routes_day_key(st->counter_key, sizeof(st->counter_key),
		    st->tr.subject, a->id, st->now) != 0) {
			http_oauth_error(rq, 400, "invalid_authorization_details",
			    "token_request", "subject too long");
			goto out;
		}
		if ((rc = routes_day_count(txn, st->counter_key, &n)) !=
		    STORE_OK) {
			routes_store_error(rq, rc);
			goto out;
		}
		st->limit = a->max_per_subject_per_day;
	}
	preq.agreement = st->tr.agreement;
	preq.subject = st->tr.subject;
	preq.purpose = st->tr.purpose;
	preq.fields = st->tr.fields;
	preq.nfields = st->tr.nfields;
	memset(&in, 0, sizeof(in));
	in.party = rq->party;
	in.roles = rq->roles;
	in.agr = a;
	in.agr_state = av != NULL ? av->state : NULL;
	in.req = &preq;
	in.consent = cvp;
	in.consent_agr = ca;
	in.transfers_today = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	in.now = st->now;
	if (policy_decide(&in, &res) != POLICY_ALLOW) {
		deny_policy(rq, &res);
		goto out;
	}
	/* Allowed implies a known agreement and, under consent, a consent. */
	if (a == NULL || (a->consent_required && cvp == NULL)) {
		http_oauth_error(rq, 500, "server_error", NULL,
		    "policy allowed an incomplete request");
		goto out;
	}
	snprintf(st->agreement, sizeof(st->agreement), "%s", a->id);
	st->version = a->version;
	if (a->consent_required)
		snprintf(st->consent_id, sizeof(st->consent_id), "%s", cv.id);
	st->ttl = routes_token_ttl(a, &rq->b->cfg);
	store_abort(txn);
	txn = NULL;
	if (mint(rq, st, a) != 0) {
		http_oauth_error(rq, 500, "server_error", NULL,
		    "the token could not be signed");
		goto out;
	}
	if (http_submit(rq, apply_token, resume_token) != 0)
		http_oauth_error(rq, 503, "temporarily_unavailable", NULL,
		    "the broker is shutting down");
out:
	store_abort(txn);
	registry_agreement_release(av);
	registry_agreement_release(cav);
	free(cstrs);
}

/* ---- introspection ------------------------------------------------------ */

static json_t *
inactive(void)
{
	return json_pack("{s:b}", "active", 0);
}

/* Decides whether token is active for provider; returns the answer. */
static json_t *
introspect(struct rq *rq, struct store_txn *txn, const char *token)
{
	struct jws_parsed p = { 0 };
	struct consent_view v;
	EVP_PKEY *pub;
	json_t *rec = NULL, *out = NULL, *crec = NULL, *arec = NULL;
	const char *iss, *aud, *jti, *cid, *agr;
	char err[256];
	int64_t exp, now = timeu_now(), ver, sidx;
	enum store_err rc;
	const char *state;

	if (jws_parse(token, strlen(token), &p, err, sizeof(err)) != JWS_OK ||
	    jws_check_header(&p, TOKEN_TYP, err, sizeof(err)) != JWS_OK ||
	    p.kid == NULL || (pub = keyset_find(broker_keys(rq->b), p.kid)) == NULL ||
	    jws_verify_es256(pub, &p) != JWS_OK)
		goto inactive;
	if (jsonu_get_str(p.claims, "iss", &iss) != 0 ||
	    strcmp(iss, rq->b->cfg.issuer) != 0 ||
	    jsonu_get_str(p.claims, "aud", &aud) != 0 ||
	    strcmp(aud, rq->party) != 0 ||
	    jsonu_get_int(p.claims, "exp", &exp) != 0 || now >= exp ||
	    jsonu_get_str(p.claims, "jti", &jti) != 0)
		goto inactive;
	rc = store_get(txn, ST_TOKENS, jti, &rec);
	if (rc != STORE_OK)
		goto inactive;
	/* Its status list bit, once set, stays set: a token revoked by a
	 * suspension is not revived by the resume (verifiers see the bit). */
	if (jsonu_get_int(rec, "status_index", &sidx) == 0 &&
	    (sidx < 0 || status_get(txn, (uint64_t)sidx) != 0))
		goto inactive;
	/* Live state: revoked consent or a non-active agreement ends it. */
	if (jsonu_get_str(rec, "consent_id", &cid) == 0) {
		if (store_get(txn, ST_CONSENTS, cid, &crec) != STORE_OK ||
		    consent_view_from_json(crec, now, &v) != 0 ||
		    v.state != CONSENT_ACTIVE)
			goto inactive;
	}
	agr = json_string_value(json_object_get(json_array_get(
	    json_object_get(rec, "authorization_details"), 0), "agreement"));
	ver = json_integer_value(json_object_get(json_array_get(
	    json_object_get(rec, "authorization_details"), 0),
	    "agreement_version"));
	if (agr == NULL || ver < 1 || ver > UINT32_MAX ||
	    registry_agreement_get(txn, agr, (uint32_t)ver, &arec) != STORE_OK ||
	    (state = registry_agreement_state(arec)) == NULL ||
	    strcmp(state, "active") != 0)
		goto inactive;
	out = json_deep_copy(p.claims);
	if (out != NULL) {
		json_object_set_new(out, "active", json_true());
		json_object_set_new(out, "token_type", json_string("Bearer"));
	}
	goto done;
inactive:
	out = inactive();
done:
	jws_parsed_free(&p);
	json_decref(rec);
	json_decref(crec);
	json_decref(arec);
	return out;
}

void
routes_introspect(struct rq *rq)
{
	struct store_txn *txn = NULL;
	struct form f = { 0 };
	const char *buf, *token;
	char err[256];
	size_t len;
	enum store_err rc;
	json_t *out;

	http_body(rq, &buf, &len);
	if (len > rq->b->cfg.max_body_bytes) {
		http_oauth_error(rq, 413, "invalid_request", "body_size",
		    "request body of %zu bytes exceeds the limit of %zu bytes",
		    len, rq->b->cfg.max_body_bytes);
		return;
	}
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	if (routes_auth_party(rq, txn, 1) != 0)
		goto out;
	if (!(rq->roles & ROLE_PROVIDER)) {
		http_oauth_error(rq, 403, "unauthorized_client", "provider_role",
		    "party '%s' does not have the provider role", rq->party);
		goto out;
	}
	if (!form_content_type(rq, "introspection"))
		goto out;
	if (form_parse(buf, len, &f, err, sizeof(err)) != 0) {
		http_oauth_error(rq, 400, "invalid_request", "form", "%s", err);
		goto out;
	}
	token = form_get(&f, "token");
	if (token == NULL || *token == '\0') {
		http_oauth_error(rq, 400, "invalid_request", "form",
		    "token: missing");
		goto out;
	}
	out = introspect(rq, txn, token);
	http_reply_json(rq, 200, out);
out:
	form_free(&f);
	store_abort(txn);
}
