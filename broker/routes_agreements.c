/* Agreement routes: list, read, submit (registrar), approve, and the
 * lifecycle calls suspend, resume and terminate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "jsonu.h"
#include "policy.h"
#include "registry.h"
#include "routes.h"
#include "status.h"
#include "timeu.h"

#define REASON_MAX 1024

enum agr_action { ACT_APPROVE, ACT_SUSPEND, ACT_RESUME, ACT_TERMINATE };

struct astate {
	struct wresult res;
	struct agreement *agr;     /* submit */
	json_t *body;
	char id[AGR_MAX_ID + 1];
	char party[72];
	unsigned roles;
	enum agr_action action;
	int64_t now;
};

static void
astate_free(void *p)
{
	struct astate *st = p;

	if (st == NULL)
		return;
	agreement_free(st->agr);
	json_decref(st->body);
	json_decref(st->res.out);
	free(st);
}

static struct astate *
astate_new(struct rq *rq)
{
	struct astate *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		http_problem(rq, 503, "Service unavailable", NULL, "out of memory");
		return NULL;
	}
	rq->data = st;
	rq->data_free = astate_free;
	st->now = timeu_now();
	snprintf(st->party, sizeof(st->party), "%s", rq->party);
	st->roles = rq->roles;
	return st;
}

static void
resume_reply(struct rq *rq)
{
	struct astate *st = rq->data;

	wresult_reply(rq, &st->res);
}

/* Either a party (certificate) or a citizen (bearer token) may read. */
static int
auth_reader(struct rq *rq)
{
	if (http_header(rq, "Authorization") != NULL)
		return routes_auth_citizen(rq);
	return routes_auth_party(rq, NULL, 0);
}

/* The summary of a record shown in lists. */
static json_t *
summary(const json_t *rec)
{
	const json_t *doc = json_object_get(rec, "document");

	return json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, "
	    "s:O?}", "id", json_object_get(rec, "id"),
	    "version", json_object_get(rec, "version"),
	    "hash", json_object_get(rec, "hash"),
	    "state", json_object_get(rec, "state"),
	    "title", json_object_get(doc, "title"),
	    "provider", json_object_get(doc, "provider"),
	    "recipients", json_object_get(doc, "recipients"),
	    "purposes", json_object_get(doc, "purposes"),
	    "legal_basis", json_object_get(doc, "legal_basis"));
}

static void
list_agreements(struct rq *rq)
{
	struct store_txn *txn = NULL;
	json_t *recs, *arr, *rec;
	enum store_err rc;
	size_t i;

	if (auth_reader(rq) != 0)
		return;
	recs = json_array();
	arr = json_array();
	rc = recs == NULL || arr == NULL ? STORE_NOMEM :
	    store_begin(rq->b->store, 0, &txn);
	if (rc == STORE_OK)
		rc = registry_agreements_effective(txn, ROUTES_MAX_LIST, recs);
	store_abort(txn);
	if (rc != STORE_OK) {
		json_decref(recs);
		json_decref(arr);
		routes_store_error(rq, rc);
		return;
	}
	json_array_foreach(recs, i, rec)
		json_array_append_new(arr, summary(rec));
	json_decref(recs);
	http_reply_json(rq, 200, json_pack("{s:o}", "agreements", arr));
}

static int
version_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	json_t *arr = arg;

	(void)key;
	(void)keylen;
	json_array_append_new(arr, json_pack("{s:O?, s:O?, s:O?}", "version",
	    json_object_get(value, "version"), "hash",
	    json_object_get(value, "hash"), "state",
	    json_object_get(value, "state")));
	return 0;
}

static int
query_version(const char *q, uint32_t *out)
{
	const char *v;
	char *end;
	unsigned long n;

	*out = 0;
	if (q == NULL)
		return 0;
	if (strncmp(q, "version=", 8) != 0)
		return -1;
	v = q + 8;
	n = strtoul(v, &end, 10);
	if (end == v || *end != '\0' || n < 1 || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static void
get_agreement(struct rq *rq, const char *id)
{
	struct store_txn *txn = NULL;
	json_t *rec = NULL, *versions = NULL;
	char prefix[STORE_MAX_KEY + 1];
	enum store_err rc;
	uint32_t version;

	if (auth_reader(rq) != 0)
		return;
	if (query_version(rq->query, &version) != 0) {
		http_problem(rq, 400, "Bad request", NULL,
		    "the only query parameter is version=N (N >= 1)");
		return;
	}
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc == STORE_OK)
		rc = registry_agreement_get(txn, id, version, &rec);
	if (rc == STORE_OK) {
		versions = json_array();
		snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, id);
		rc = store_scan(txn, ST_AGREEMENTS, prefix, 0, 0, version_one,
		    versions);
	}
	store_abort(txn);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY) {
		if (version != 0)
			http_problem(rq, 404, "Not found", "unknown_agreement",
			    "agreement '%s' has no version %u", id, version);
		else
			http_problem(rq, 404, "Not found", "unknown_agreement",
			    "unknown agreement '%s'", id);
		goto out;
	}
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		goto out;
	}
	json_object_set(rec, "versions", versions);
	http_reply_json(rq, 200, json_incref(rec));
out:
	json_decref(rec);
	json_decref(versions);
}

/* ---- submit ------------------------------------------------------------- */

static int
apply_submit(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct astate *st = rq->data;
	const struct agreement *a = st->agr;
	json_t *latest = NULL, *rec = NULL;
	const char *lhash;
	int64_t lver;
	enum store_err rc;
	int status;

	rc = registry_agreement_latest(txn, a->id, &latest);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto store_fail;
	if (latest == NULL && a->version != 1) {
		return wresult_fail(&st->res, 409, "Conflict", "version_chain",
		    "agreement '%s' does not exist yet, so its first version "
		    "must be 1, not %u", a->id, a->version);
	}
	if (latest != NULL) {
		if (jsonu_get_int(latest, "version", &lver) != 0 ||
		    jsonu_get_str(latest, "hash", &lhash) != 0) {
			rc = STORE_CORRUPT;
			goto store_fail;
		}
		if ((int64_t)a->version != lver + 1) {
			status = wresult_fail(&st->res, 409, "Conflict",
			    "version_chain", "agreement '%s' is at version %lld; "
			    "the next version must be %lld, not %u", a->id,
			    (long long)lver, (long long)lver + 1, a->version);
			json_decref(latest);
			return status;
		}
		if (a->previous_hash == NULL ||
		    strcmp(a->previous_hash, lhash) != 0) {
			status = wresult_fail(&st->res, 409, "Conflict",
			    "version_chain", "$.previous_hash: must be the hash "
			    "of version %lld, %s", (long long)lver, lhash);
			json_decref(latest);
			return status;
		}
	}
	json_decref(latest);
	rec = registry_agreement_record(a, "draft", st->party, st->now);
	if (rec == NULL) {
		rc = STORE_NOMEM;
		goto store_fail;
	}
	if ((rc = registry_agreement_put(txn, rec)) != STORE_OK ||
	    (rc = audit_agreement(rq->b->log, txn, st->now, "submit", st->party,
	    rec)) != STORE_OK)
		goto store_fail;
	st->res.http = 201;
	st->res.out = rec;
	return 0;
store_fail:
	json_decref(rec);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

static void
submit(struct rq *rq)
{
	struct astate *st;
	json_t *body;
	char err[512];

	if (routes_auth_party(rq, NULL, 0) != 0)
		return;
	if (!(rq->roles & ROLE_REGISTRAR)) {
		http_problem(rq, 403, "Forbidden", "registrar_role",
		    "party '%s' does not have the registrar role", rq->party);
		return;
	}
	if ((body = routes_json_body(rq)) == NULL)
		return;
	if ((st = astate_new(rq)) == NULL) {
		json_decref(body);
		return;
	}
	st->agr = agreement_from_json(body, err, sizeof(err));
	json_decref(body);
	if (st->agr == NULL) {
		http_problem(rq, 422, "Invalid agreement", "agreement_schema",
		    "%s", err);
		return;
	}
	if (http_submit(rq, apply_submit, resume_reply) != 0)
		http_problem(rq, 503, "Service unavailable", NULL,
		    "the broker is shutting down");
}

/* ---- approve and lifecycle ---------------------------------------------- */

/* Marks every other active or suspended version of id superseded. */
static enum store_err
supersede_others(struct tlog *l, struct store_txn *txn, const char *id,
    int64_t keep, int64_t now, const char *actor)
{
	json_t *rec = NULL;
	enum store_err rc = STORE_OK;
	const char *state;
	char ts[32];
	int64_t v;

	timeu_format(now, ts, sizeof(ts));
	for (v = keep - 1; v >= 1; v--) {
		rc = registry_agreement_get(txn, id, (uint32_t)v, &rec);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK)
			return rc;
		state = registry_agreement_state(rec);
		if (state != NULL && (strcmp(state, "active") == 0 ||
		    strcmp(state, "suspended") == 0)) {
			json_object_set_new(rec, "state", json_string("superseded"));
			json_object_set_new(rec, "updated_at", json_string(ts));
			rc = registry_agreement_put(txn, rec);
			if (rc == STORE_OK)
				rc = audit_agreement(l, txn, now, "supersede", actor,
				    rec);
		}
		json_decref(rec);
		rec = NULL;
		if (rc != STORE_OK)
			return rc;
	}
	return STORE_OK;
}

static int
apply_approve(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct astate *st = rq->data;
	struct agreement *a = NULL;
	json_t *rec = NULL, *appr;
	const char *hash, *want, *state;
	int64_t ver;
	char ts[32];
	enum store_err rc;
	size_t i, nappr = 0;
	int status = 0;

	if (jsonu_get_int(st->body, "version", &ver) != 0 || ver < 1 ||
	    ver > UINT32_MAX || jsonu_get_str(st->body, "hash", &want) != 0)
		return wresult_fail(&st->res, 400, "Bad request", "approval",
		    "body must be {\"version\": N, \"hash\": \"<hex>\"}");
	rc = registry_agreement_get(txn, st->id, (uint32_t)ver, &rec);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY)
		return wresult_fail(&st->res, 404, "Not found",
		    "unknown_agreement", "agreement '%s' has no version %lld",
		    st->id, (long long)ver);
	if (rc != STORE_OK)
		goto store_fail;
	if (jsonu_get_str(rec, "hash", &hash) != 0 ||
	    (a = registry_agreement_parse(rec)) == NULL) {
		rc = STORE_CORRUPT;
		goto store_fail;
	}
	if (strcmp(hash, want) != 0) {
		status = wresult_fail(&st->res, 409, "Conflict", "approval_hash",
		    "hash %.64s is not the hash of agreement '%s' version %lld "
		    "(%s)", want, st->id, (long long)ver, hash);
		goto out;
	}
	if (!agreement_names_party(a, st->party)) {
		status = wresult_fail(&st->res, 403, "Forbidden",
		    "approver_not_party", "party '%s' is not named in agreement "
		    "'%s' and cannot approve it", st->party, st->id);
		goto out;
	}
	state = registry_agreement_state(rec);
	if (state == NULL || strcmp(state, "draft") != 0) {
		status = wresult_fail(&st->res, 409, "Conflict", "agreement_state",
		    "agreement '%s' version %lld is %s; only drafts are approved",
		    st->id, (long long)ver, state != NULL ? state : "unknown");
		goto out;
	}
	timeu_format(st->now, ts, sizeof(ts));
	appr = json_object_get(rec, "approvals");
	if (!json_is_object(appr)) {
		rc = STORE_CORRUPT;
		goto store_fail;
	}
	json_object_set_new(appr, st->party, json_string(ts));
	nappr = json_object_get(appr, a->provider) != NULL;
	for (i = 0; i < a->nrecipients; i++)
		nappr += json_object_get(appr, a->recipients[i]) != NULL;
	json_object_set_new(rec, "updated_at", json_string(ts));
	if (nappr == a->nrecipients + 1) {
		json_object_set_new(rec, "state", json_string("active"));
		rc = supersede_others(rq->b->log, txn, st->id, ver, st->now,
		    st->party);
		if (rc != STORE_OK)
			goto store_fail;
	}
	if ((rc = registry_agreement_put(txn, rec)) != STORE_OK ||
	    (rc = audit_agreement(rq->b->log, txn, st->now, "approve", st->party,
	    rec)) != STORE_OK)
		goto store_fail;
	st->res.http = 200;
	st->res.out = json_incref(rec);
out:
	agreement_free(a);
	json_decref(rec);
	return status;
store_fail:
	agreement_free(a);
	json_decref(rec);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

static int
apply_lifecycle(struct store_txn *txn, struct wop *op)
{
	static const char *const verbs[] = { "approve", "suspend", "resume",
	    "terminate" };
	struct rq *rq = op->arg;
	struct astate *st = rq->data;
	struct agreement *a = NULL;
	json_t *rec = NULL;
	const char *state, *reason, *to = NULL;
	char ts[32];
	enum store_err rc;
	int status = 0;

	if (jsonu_get_str(st->body, "reason", &reason) != 0 || *reason == '\0' ||
	    strlen(reason) > REASON_MAX)
		return wresult_fail(&st->res, 400, "Bad request", "reason",
		    "body must be {\"reason\": \"...\"} with a non-empty reason "
		    "of at most %d bytes", REASON_MAX);
	rc = registry_agreement_get(txn, st->id, 0, &rec);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY)
		return wresult_fail(&st->res, 404, "Not found",
		    "unknown_agreement", "unknown agreement '%s'", st->id);
	if (rc != STORE_OK)
		goto store_fail;
	if ((a = registry_agreement_parse(rec)) == NULL) {
		rc = STORE_CORRUPT;
		goto store_fail;
	}
	if (!agreement_names_party(a, st->party) && !(st->roles & ROLE_ADMIN)) {
		status = wresult_fail(&st->res, 403, "Forbidden", "lifecycle_party",
		    "party '%s' is neither named in agreement '%s' nor an admin",
		    st->party, st->id);
		goto out;
	}
	state = registry_agreement_state(rec);
	state = state != NULL ? state : "unknown";
	if (st->action == ACT_SUSPEND && strcmp(state, "active") == 0)
		to = "suspended";
	else if (st->action == ACT_RESUME && strcmp(state, "suspended") == 0)
		to = "active";
	else if (st->action == ACT_TERMINATE &&
	    (strcmp(state, "active") == 0 || strcmp(state, "suspended") == 0))
		to = "terminated";
	if (to == NULL) {
		status = wresult_fail(&st->res, 409, "Conflict", "agreement_state",
		    "agreement '%s' is %s; cannot %s it", st->id, state,
		    verbs[st->action]);
		goto out;
	}
	timeu_format(st->now, ts, sizeof(ts));
	/* Suspension and termination reach tokens already issued. */
	if (st->action == ACT_SUSPEND || st->action == ACT_TERMINATE) {
		json_t *lists = json_object();
		size_t ntok = 0;
		int64_t ver = 0;

		if (lists == NULL ||
		    jsonu_get_int(rec, "version", &ver) != 0) {
			json_decref(lists);
			rc = STORE_CORRUPT;
			goto store_fail;
		}
		rc = status_revoke_agreement(txn, st->id, (uint32_t)ver, st->now,
		    lists, &ntok);
		if (rc != STORE_OK ||
		    json_object_set_new(rec, "revocation", json_pack("{s:o, s:I, "
		    "s:s}", "status_lists", lists, "tokens_revoked",
		    (json_int_t)ntok, "at", ts)) != 0) {
			rc = rc != STORE_OK ? rc : STORE_NOMEM;
			goto store_fail;
		}
	}
	if (json_object_set_new(rec, "state", json_string(to)) != 0 ||
	    json_object_set_new(rec, "reason", json_string(reason)) != 0 ||
	    json_object_set_new(rec, "changed_by", json_string(st->party)) != 0 ||
	    json_object_set_new(rec, "updated_at", json_string(ts)) != 0) {
		rc = STORE_NOMEM;
		goto store_fail;
	}
	if ((rc = registry_agreement_put(txn, rec)) != STORE_OK ||
	    (rc = audit_agreement(rq->b->log, txn, st->now, verbs[st->action],
	    st->party, rec)) != STORE_OK)
		goto store_fail;
	st->res.http = 200;
	st->res.out = json_incref(rec);
out:
	agreement_free(a);
	json_decref(rec);
	return status;
store_fail:
	agreement_free(a);
	json_decref(rec);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

static void
action(struct rq *rq, const char *id, enum agr_action act)
{
	struct astate *st;
	json_t *body;

	if (routes_auth_party(rq, NULL, 0) != 0)
		return;
	if ((body = routes_json_body(rq)) == NULL)
		return;
	if ((st = astate_new(rq)) == NULL) {
		json_decref(body);
		return;
	}
	st->body = body;
	st->action = act;
	snprintf(st->id, sizeof(st->id), "%s", id);
	if (http_submit(rq, act == ACT_APPROVE ? apply_approve :
	    apply_lifecycle, resume_reply) != 0)
		http_problem(rq, 503, "Service unavailable", NULL,
		    "the broker is shutting down");
}

void
routes_agreements(struct rq *rq, const char *rest)
{
	char id[AGR_MAX_ID + 1];
	const char *slash, *verb;
	size_t n;

	if (*rest == '\0') {
		if (rq->method == EVHTTP_REQ_GET)
			list_agreements(rq);
		else if (rq->method == EVHTTP_REQ_POST)
			submit(rq);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(rq->req),
			    "Allow", "GET, POST");
			http_problem(rq, 405, "Method not allowed", NULL,
			    "/v1/agreements allows only GET and POST");
		}
		return;
	}
	rest++;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (n == 0 || n > AGR_MAX_ID)
		goto notfound;
	memcpy(id, rest, n);
	id[n] = '\0';
	if (slash == NULL) {
		if (rq->method == EVHTTP_REQ_GET)
			get_agreement(rq, id);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(rq->req),
			    "Allow", "GET");
			http_problem(rq, 405, "Method not allowed", NULL,
			    "/v1/agreements/{id} allows only GET");
		}
		return;
	}
	verb = slash + 1;
	if (strcmp(verb, "approve") != 0 && strcmp(verb, "suspend") != 0 &&
	    strcmp(verb, "resume") != 0 && strcmp(verb, "terminate") != 0)
		goto notfound;
	if (rq->method != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Allow", "POST");
		http_problem(rq, 405, "Method not allowed", NULL,
		    "/v1/agreements/{id}/%s allows only POST", verb);
		return;
	}
	action(rq, id, strcmp(verb, "approve") == 0 ? ACT_APPROVE :
	    strcmp(verb, "suspend") == 0 ? ACT_SUSPEND :
	    strcmp(verb, "resume") == 0 ? ACT_RESUME : ACT_TERMINATE);
	return;
notfound:
	http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
	    rq->path);
}
