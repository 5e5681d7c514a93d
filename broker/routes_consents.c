/* Citizen consent routes: grant, list own, read own, revoke. */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "consent_rec.h"
#include "jsonu.h"
#include "registry.h"
#include "routes.h"
#include "status.h"
#include "timeu.h"

#define BUNDLE_MAX 10

struct cstate {
	struct wresult res;
	json_t *records;         /* new consents (grant; one, or a bundle) */
	int bundle;              /* answer {"consents": [...]} */
	char id[64];             /* consent id (revoke) */
	char subject[256];
	int64_t now;
};

static void
cstate_free(void *p)
{
	struct cstate *st = p;

	if (st == NULL)
		return;
	json_decref(st->records);
	json_decref(st->res.out);
	free(st->res.text);
	free(st);
}

static struct cstate *
cstate_new(struct rq *rq)
{
	struct cstate *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		http_problem(rq, 503, "Service unavailable", NULL, "out of memory");
		return NULL;
	}
	rq->data = st;
	rq->data_free = cstate_free;
	st->now = timeu_now();
	return st;
}

static void
resume_reply(struct rq *rq)
{
	struct cstate *st = rq->data;

	wresult_reply(rq, &st->res);
}

static int
index_key(char *out, size_t outlen, const char *subject,
    const char *agreement, const char *id)
{
	return store_key3(out, outlen, subject, agreement, id);
}

enum store_err
routes_consent_write(struct tlog *log, struct store_txn *txn,
    const json_t *rec, int64_t now, char **text, size_t *textlen)
{
	char key[STORE_MAX_KEY + 1], *s;
	const char *id, *subject, *agr;
	enum store_err rc;
	size_t n;

	if (text != NULL)
		*text = NULL;
	if (jsonu_get_str(rec, "id", &id) != 0 ||
	    jsonu_get_str(rec, "subject", &subject) != 0 ||
	    jsonu_get_str(rec, "agreement", &agr) != 0)
		return STORE_CORRUPT;
	if (index_key(key, sizeof(key), subject, agr, id) != 0)
		return STORE_BADKEY;
	/* Serialized once, as store_put_new would: the text is stored and
	 * handed back for the reply. */
	if ((s = json_dumps(rec, JSON_COMPACT)) == NULL)
		return STORE_NOMEM;
	n = strlen(s);
	if ((rc = store_put_text(txn, ST_CONSENTS, id, s, n, 1)) == STORE_OK &&
	    (rc = store_put_text(txn, ST_CONSENT_INDEX, key, "{}", 2, 0)) ==
	    STORE_OK)
		rc = audit_consent_grant(log, txn, now, rec);
	if (rc == STORE_OK && text != NULL) {
		*text = s;
		*textlen = n;
	} else
		free(s);
	return rc;
}

/* Ends consent old (an earlier version's) in favour of new_id. */
static enum store_err
supersede(struct rq *rq, struct store_txn *txn, json_t *old,
    const char *new_id, int64_t now)
{
	const char *oid, *subject;
	json_t *lists;
	char ts[32];
	size_t ntok = 0;
	enum store_err rc;

	if (jsonu_get_str(old, "id", &oid) != 0 ||
	    jsonu_get_str(old, "subject", &subject) != 0)
		return STORE_CORRUPT;
	lists = json_object();
	if (lists == NULL)
		return STORE_NOMEM;
	rc = status_revoke_consent(txn, oid, subject, now, lists, &ntok);
	if (rc != STORE_OK) {
		json_decref(lists);
		return rc;
	}
	timeu_format(now, ts, sizeof(ts));
	if (json_object_set_new(old, "stored_state", json_string("revoked")) ||
	    json_object_set_new(old, "revoked_at", json_string(ts)) ||
	    json_object_set_new(old, "superseded_by", json_string(new_id)) ||
	    json_object_set_new(old, "revocation", json_pack("{s:o, s:I}",
	    "status_lists", lists, "tokens_revoked", (json_int_t)ntok)))
		return STORE_NOMEM;
	if ((rc = store_put(txn, ST_CONSENTS, oid, old)) != STORE_OK)
		return rc;
	return audit_consent_revoke(rq->b->log, txn, now, old);
}

/*
 * Writer side of a grant: at most one active consent per agreement and
 * subject. A bundle is all or nothing (the writer's savepoint).
 */
static int
apply_grant(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct cstate *st = rq->data;
	struct consent_view v;
	struct jsonu_buf reply = { 0 };
	const char *id, *agr;
	json_t *cur = NULL, *rec;
	char *stored, *shown;
	enum store_err rc;
	size_t i, n;
	int status;

	if (st->bundle)
		jsonu_buf_lit(&reply, "{\"consents\":[");
	json_array_foreach(st->records, i, rec) {
		if (jsonu_get_str(rec, "id", &id) != 0 ||
		    jsonu_get_str(rec, "agreement", &agr) != 0) {
			rc = STORE_CORRUPT;
			goto store_fail;
		}
		rc = consent_find_for(txn, st->subject, agr, st->now, &cur);
		if (rc != STORE_OK)
			goto store_fail;
		if (cur != NULL && consent_view_from_json(cur, st->now, &v) == 0 &&
		    v.state == CONSENT_ACTIVE &&
		    json_integer_value(json_object_get(rec,
		    "agreement_version")) != (json_int_t)v.version) {
			/* A consent under an earlier version gives way to the
			 * fresh one (the agreement changed since). */
			rc = supersede(rq, txn, cur, id, st->now);
			json_decref(cur);
			cur = NULL;
			if (rc != STORE_OK)
				goto store_fail;
		} else if (cur != NULL && v.state == CONSENT_ACTIVE) {
			status = wresult_fail(&st->res, 409, "Conflict",
			    "consent_exists", "an active consent '%s' for agreement "
			    "'%s' already exists; revoke it first to grant "
			    "different terms%s", v.id, agr, st->bundle ?
			    " (nothing in this bundle was granted)" : "");
			json_decref(cur);
			jsonu_buf_free(&reply);
			return status;
		}
		json_decref(cur);
		cur = NULL;
		if ((rc = routes_consent_write(rq->b->log, txn, rec, st->now,
		    &stored, &n)) != STORE_OK)
			goto store_fail;
		/* The reply from the stored text, as consent_public shows it:
		 * no second serialization of the record. */
		shown = consent_public_text((const unsigned char *)stored, n,
		    st->now, &n);
		free(stored);
		if (shown == NULL) {
			rc = STORE_NOMEM;
			goto store_fail;
		}
		if (i > 0)
			jsonu_buf_lit(&reply, ",");
		jsonu_buf_raw(&reply, shown, n);
		free(shown);
	}
	if (st->bundle)
		jsonu_buf_lit(&reply, "]}");
	if ((st->res.text = jsonu_buf_take(&reply, &st->res.text_len)) ==
	    NULL) {
		rc = STORE_NOMEM;
		goto store_fail;
	}
	st->res.http = 201;
	return 0;
store_fail:
	jsonu_buf_free(&reply);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

/*
 * Builds one consent record from a grant body; NULL after replying with
 * the problem (the caller stops). txn is a read snapshot.
 */
static json_t *
build_one(struct rq *rq, struct store_txn *txn, const json_t *body,
    const char *where)
{
	const struct agr_view *av = NULL;
	const struct agreement *a;
	json_t *rec = NULL;
	const char *agr, *state, *kid;
	char err[512], id[40], *receipt;
	EVP_PKEY *key;
	enum store_err rc;

	if (jsonu_get_str(body, "agreement", &agr) != 0 || *agr == '\0' ||
	    strlen(agr) > AGR_MAX_ID) {
		http_problem(rq, 400, "Bad request", "consent_request",
		    "%s.agreement: required, an agreement id string", where);
		return NULL;
	}
	rc = registry_agreement_view(txn, agr, 0, &av);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY) {
		http_problem(rq, 404, "Not found", "unknown_agreement",
		    "unknown agreement '%s'", agr);
		goto out;
	}
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		goto out;
	}
	state = av->state;
	if (state == NULL || strcmp(state, "active") != 0) {
		http_problem(rq, 409, "Conflict", "agreement_state",
		    "agreement '%s' is %s; consent can be granted only to an "
		    "active agreement", agr, state != NULL ? state : "unknown");
		goto out;
	}
	if ((a = av->a) == NULL) {
		routes_store_error(rq, STORE_CORRUPT);
		goto out;
	}
	if (consent_new_id(id) != 0) {
		http_problem(rq, 503, "Service unavailable", NULL,
		    "no randomness available");
		goto out;
	}
	rec = consent_new_record(a, rq->subject, body, id,
	    ((struct cstate *)rq->data)->now, err, sizeof(err));
	if (rec == NULL) {
		if (strcmp(where, "$") == 0)
			http_problem(rq, 422, "Unprocessable consent",
			    "consent_terms", "%s", err);
		else if (err[0] == '$')
			http_problem(rq, 422, "Unprocessable consent",
			    "consent_terms", "%s%s", where, err + 1);
		else
			http_problem(rq, 422, "Unprocessable consent",
			    "consent_terms", "%s: %s", where, err);
		goto out;
	}
	key = keyset_current(broker_keys(rq->b), &kid);
	receipt = consent_receipt(a, rec, rq->b->cfg.issuer, key, kid,
	    timeu_now());
	if (receipt == NULL ||
	    json_object_set_new(rec, "receipt", json_string(receipt)) != 0) {
		free(receipt);
		json_decref(rec);
		rec = NULL;
		http_problem(rq, 500, "Internal error", NULL,
		    "the consent receipt could not be signed");
		goto out;
	}
	free(receipt);
out:
	registry_agreement_release(av);
	return rec;
}

void
routes_consents_grant(struct rq *rq, json_t *body)
{
	struct store_txn *txn = NULL;
	struct cstate *st;
	json_t *items, *item, *rec, *v;
	const char *k;
	char where[32];
	enum store_err rc;
	size_t i, j;

	if ((st = cstate_new(rq)) == NULL)
		goto out;
	snprintf(st->subject, sizeof(st->subject), "%s", rq->subject);
	st->records = json_array();
	items = json_object_get(body, "bundle");
	if (items != NULL) {
		/* A bundle: one action, several consents, each its own. */
		json_object_foreach(body, k, v) {
			if (strcmp(k, "bundle") != 0) {
				http_problem(rq, 400, "Bad request", "consent_request",
				    "$.%s: a bundle body has only \"bundle\"", k);
				goto out;
			}
		}
		if (!json_is_array(items) || json_array_size(items) == 0 ||
		    json_array_size(items) > BUNDLE_MAX) {
			http_problem(rq, 400, "Bad request", "consent_request",
			    "$.bundle: an array of 1 to %d consent requests",
			    BUNDLE_MAX);
			goto out;
		}
		st->bundle = 1;
	}
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		goto out;
	}
	for (i = 0; i < (st->bundle ? json_array_size(items) : 1); i++) {
		item = st->bundle ? json_array_get(items, i) : body;
		snprintf(where, sizeof(where), st->bundle ? "$.bundle[%zu]" : "$",
		    i);
		if (!json_is_object(item)) {
			http_problem(rq, 400, "Bad request", "consent_request",
			    "%s: must be an object", where);
			goto out;
		}
		if ((rec = build_one(rq, txn, item, where)) == NULL)
			goto out;
		/* One consent per agreement in a bundle. */
		for (j = 0; j < json_array_size(st->records); j++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(st->records, j), "agreement")),
			    json_string_value(json_object_get(rec, "agreement")))
			    == 0) {
				json_decref(rec);
				http_problem(rq, 400, "Bad request",
				    "consent_request", "%s.agreement: named twice "
				    "in the bundle", where);
				goto out;
			}
		json_array_append_new(st->records, rec);
	}
	store_abort(txn);
	txn = NULL;
	if (http_submit(rq, apply_grant, resume_reply) != 0)
		http_problem(rq, 503, "Service unavailable", NULL,
		    "the broker is shutting down");
out:
	store_abort(txn);
	json_decref(body);
}

static void
grant(struct rq *rq)
{
	json_t *body;

	if (routes_auth_citizen(rq) != 0)
		return;
	if ((body = routes_json_body(rq)) == NULL)
		return;
	routes_consents_grant(rq, body);
}

/* The "revocation" member: the status lists changed and the count. */
static char *
revocation_text(json_t *lists, size_t ntok)
{
	struct jsonu_buf b = { 0 };
	char *l = json_dumps(lists, JSON_COMPACT);

	if (l == NULL)
		return NULL;
	jsonu_buf_lit(&b, "{\"status_lists\":");
	jsonu_buf_lit(&b, l);
	jsonu_buf_lit(&b, ",\"tokens_revoked\":");
	jsonu_buf_int(&b, (int64_t)ntok);
	jsonu_buf_lit(&b, "}");
	free(l);
	return jsonu_buf_take(&b, NULL);
}

/*
 * Writer side of a revoke: only the subject's own; idempotent. The record
 * is read once (consent_raw_read), decided on by its view, and changed
 * and answered as text (consent_raw_revoke), with the bytes and member
 * order jansson would give: no JSON values are built for it, which was
 * most of a revoke's time in the writer.
 */
static int
apply_revoke(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct cstate *st = rq->data;
	struct consent_raw c;
	struct consent_text t = { 0 };
	const unsigned char *val;
	unsigned char *raw = NULL;
	char ts[32], *rev = NULL;
	json_t *lists = NULL;
	size_t n, ntok = 0;
	enum store_err rc;

	c.heap = NULL;      /* nothing to free until it is read */
	c.strs = NULL;
	rc = store_get_raw(txn, ST_CONSENTS, st->id, &val, &n);
	if (rc == STORE_OK) {
		/* A copy: the store's bytes last only until the next write
		 * (the status lists' below), and c borrows it. */
		if ((raw = malloc(n)) == NULL) {
			rc = STORE_NOMEM;
			goto store_fail;
		}
		memcpy(raw, val, n);
		if (consent_raw_read(&c, raw, n, st->now) != 0) {
			rc = STORE_CORRUPT;
			goto store_fail;
		}
	}
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY ||
	    (rc == STORE_OK && strcmp(c.v.subject, st->subject) != 0)) {
		consent_raw_free(&c);
		free(raw);
		return wresult_fail(&st->res, 404, "Not found", "consent_owner",
		    "you have no consent '%s'", st->id);
	}
	if (rc != STORE_OK)
		goto store_fail;
	if (c.v.state == CONSENT_REVOKED) {
		st->res.text = consent_raw_public(&c, &st->res.text_len);
		if (st->res.text == NULL) {
			rc = STORE_NOMEM;
			goto store_fail;
		}
	} else {
		timeu_format(st->now, ts, sizeof(ts));
		/* Every outstanding token of this consent is revoked in the
		 * status lists in this same transaction. */
		if ((lists = json_object()) == NULL) {
			rc = STORE_NOMEM;
			goto store_fail;
		}
		rc = status_revoke_consent(txn, st->id, c.v.subject, st->now,
		    lists, &ntok);
		if (rc != STORE_OK)
			goto store_fail;
		if ((rev = revocation_text(lists, ntok)) == NULL) {
			rc = STORE_NOMEM;
			goto store_fail;
		}
		if ((rc = consent_raw_revoke(&c, ts, rev, &t)) != STORE_OK ||
		    (rc = store_put_text(txn, ST_CONSENTS, st->id, t.stored,
		    t.stored_len, 0)) != STORE_OK ||
		    (rc = audit_consent_revoke_view(rq->b->log, txn, st->now,
		    &c.v)) != STORE_OK)
			goto store_fail;
		st->res.text = t.shown;
		st->res.text_len = t.shown_len;
		t.shown = NULL;
	}
	st->res.http = 200;
	rc = STORE_OK;
store_fail:
	consent_text_free(&t);
	json_decref(lists);
	free(rev);
	consent_raw_free(&c);
	free(raw);
	if (rc == STORE_OK)
		return 0;
	free(st->res.text);
	st->res.text = NULL;
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

void
routes_consents_revoke(struct rq *rq, const char *id)
{
	struct cstate *st;

	if ((st = cstate_new(rq)) == NULL)
		return;
	snprintf(st->id, sizeof(st->id), "%s", id);
	snprintf(st->subject, sizeof(st->subject), "%s", rq->subject);
	if (http_submit(rq, apply_revoke, resume_reply) != 0)
		http_problem(rq, 503, "Service unavailable", NULL,
		    "the broker is shutting down");
}

struct list_ctx {
	struct store_txn *txn;
	json_t *arr;
	int64_t now;
	enum store_err err;
};

static int
list_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct list_ctx *c = arg;
	char idbuf[64];
	json_t *rec = NULL;

	(void)value;
	if (store_key_last(key, keylen, idbuf, sizeof(idbuf)) != 0)
		return 0;
	c->err = store_get(c->txn, ST_CONSENTS, idbuf, &rec);
	if (c->err != STORE_OK)
		return 1;
	json_array_append_new(c->arr, consent_public(rec, c->now));
	json_decref(rec);
	return 0;
}

static void
list_own(struct rq *rq)
{
	struct list_ctx c = { NULL, NULL, 0, STORE_OK };
	char prefix[STORE_MAX_KEY + 1];
	enum store_err rc;
	int n;

	if (routes_auth_citizen(rq) != 0)
		return;
	n = snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, rq->subject);
	if (n < 0 || (size_t)n >= sizeof(prefix)) {
		http_problem(rq, 400, "Bad request", NULL, "subject too long");
		return;
	}
	c.now = timeu_now();
	c.arr = json_array();
	rc = store_begin(rq->b->store, 0, &c.txn);
	if (rc == STORE_OK)
		rc = store_scan(c.txn, ST_CONSENT_INDEX, prefix, 0,
		    ROUTES_MAX_LIST, list_one, &c);
	if (rc == STORE_OK)
		rc = c.err;
	store_abort(c.txn);
	if (rc != STORE_OK) {
		json_decref(c.arr);
		routes_store_error(rq, rc);
		return;
	}
	http_reply_json(rq, 200, json_pack("{s:o}", "consents", c.arr));
}

/*
 * Adds to a revoked consent which providers have fetched a status list
 * version that includes the revocation: revocation.providers =
 * [{"party", "seen", "seen_at"}].
 */
static void
revocation_seen(struct rq *rq, json_t *pub)
{
	json_t *rev = json_object_get(pub, "revocation");
	json_t *lists = json_object_get(rev, "status_lists"), *arec = NULL;
	json_t *providers, *v;
	struct store_txn *txn = NULL;
	const char *agr, *provider;
	int64_t ver, last_at = 0;
	char ts[32];
	int seen;

	if (jsonu_get_str(pub, "agreement", &agr) != 0 ||
	    jsonu_get_int(pub, "agreement_version", &ver) != 0 ||
	    store_begin(rq->b->store, 0, &txn) != STORE_OK)
		return;
	if (registry_agreement_get(txn, agr, (uint32_t)ver, &arec) != STORE_OK ||
	    jsonu_get_str(json_object_get(arec, "document"), "provider",
	    &provider) != 0)
		goto out;
	seen = status_seen_all(txn, provider, lists, &last_at) == 1;
	providers = json_array();
	v = json_pack("{s:s, s:b}", "party", provider, "seen", seen);
	if (v != NULL && seen && last_at > 0) {
		timeu_format(last_at, ts, sizeof(ts));
		json_object_set_new(v, "seen_at", json_string(ts));
	}
	json_array_append_new(providers, v);
	json_object_set_new(rev, "providers", providers);
out:
	json_decref(arec);
	store_abort(txn);
}

static void
get_own(struct rq *rq, const char *id)
{
	struct store_txn *txn = NULL;
	json_t *rec = NULL, *pub;
	const char *subject;
	enum store_err rc;

	if (routes_auth_citizen(rq) != 0)
		return;
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc == STORE_OK)
		rc = store_get(txn, ST_CONSENTS, id, &rec);
	store_abort(txn);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY ||
	    (rc == STORE_OK && (jsonu_get_str(rec, "subject", &subject) != 0 ||
	    strcmp(subject, rq->subject) != 0))) {
		json_decref(rec);
		http_problem(rq, 404, "Not found", "consent_owner",
		    "you have no consent '%s'", id);
		return;
	}
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	pub = consent_public(rec, timeu_now());
	json_decref(rec);
	if (pub != NULL && json_object_get(pub, "revocation") != NULL)
		revocation_seen(rq, pub);
	http_reply_json(rq, 200, pub);
}

void
routes_consents(struct rq *rq, const char *rest)
{
	const char *id;

	if (*rest == '\0') {
		if (rq->method == EVHTTP_REQ_POST)
			grant(rq);
		else if (rq->method == EVHTTP_REQ_GET)
			list_own(rq);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(rq->req),
			    "Allow", "GET, POST");
			http_problem(rq, 405, "Method not allowed", NULL,
			    "/v1/consents allows only GET and POST");
		}
		return;
	}
	id = rest + 1;
	if (*id == '\0' || strlen(id) > 48 || strchr(id, '/') != NULL) {
		http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
		    rq->path);
		return;
	}
	if (rq->method == EVHTTP_REQ_GET)
		get_own(rq, id);
	else if (rq->method == EVHTTP_REQ_DELETE) {
		if (routes_auth_citizen(rq) == 0)
			routes_consents_revoke(rq, id);
	}
	else {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Allow", "GET, DELETE");
		http_problem(rq, 405, "Method not allowed", NULL,
		    "/v1/consents/{id} allows only GET and DELETE");
	}
}
