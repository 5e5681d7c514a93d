/* Party routes: the registry as parties see it, and removal by an admin. */
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

struct pstate {
	struct wresult res;
	char id[PARTY_MAX_ID + 1];
	char actor[72];
	int64_t now;
};

static void
pstate_free(void *p)
{
	struct pstate *st = p;

	if (st != NULL)
		json_decref(st->res.out);
	free(st);
}

static void
resume_reply(struct rq *rq)
{
	struct pstate *st = rq->data;

	wresult_reply(rq, &st->res);
}

/*
 * Removes a party: its certificate pins stop authenticating, and every
 * outstanding token it requested is revoked in the status lists, in this
 * same commit. The record stays, marked removed, for the audit trail.
 */
static int
apply_remove(struct store_txn *txn, struct wop *op)
{
	struct rq *rq = op->arg;
	struct pstate *st = rq->data;
	char prefix[STORE_MAX_KEY + 1], ts[32];
	json_t *rec = NULL, *pins, *pin, *lists = NULL;
	size_t i, ntok = 0;
	enum store_err rc;

	rc = store_get(txn, ST_PARTIES, st->id, &rec);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY)
		return wresult_fail(&st->res, 404, "Not found", "unknown_party",
		    "no party '%s'", st->id);
	if (rc != STORE_OK)
		goto store_fail;
	if (json_is_true(json_object_get(rec, "removed"))) {
		st->res.http = 200;
		st->res.out = rec;
		return 0;
	}
	pins = json_object_get(rec, "pins");
	json_array_foreach(pins, i, pin) {
		if (!json_is_string(pin))
			continue;
		rc = store_del(txn, ST_PINS, json_string_value(pin));
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			goto store_fail;
	}
	lists = json_object();
	if (lists == NULL ||
	    snprintf(prefix, sizeof(prefix), "p" STORE_SEP "%s" STORE_SEP,
	    st->id) >= (int)sizeof(prefix)) {
		rc = STORE_NOMEM;
		goto store_fail;
	}
	rc = status_revoke_prefix_public(txn, prefix, st->now, lists, &ntok);
	if (rc != STORE_OK)
		goto store_fail;
	timeu_format(st->now, ts, sizeof(ts));
	if (json_object_set_new(rec, "removed", json_true()) != 0 ||
	    json_object_set_new(rec, "removed_at", json_string(ts)) != 0 ||
	    json_object_set_new(rec, "removed_by", json_string(st->actor)) != 0 ||
	    json_object_set_new(rec, "revocation", json_pack("{s:O, s:I}",
	    "status_lists", lists, "tokens_revoked", (json_int_t)ntok)) != 0) {
		rc = STORE_NOMEM;
		goto store_fail;
	}
	if ((rc = store_put(txn, ST_PARTIES, st->id, rec)) != STORE_OK ||
	    (rc = audit_party(rq->b->log, txn, st->now, st->actor, rec)) !=
	    STORE_OK)
		goto store_fail;
	json_decref(lists);
	st->res.http = 200;
	st->res.out = rec;
	return 0;
store_fail:
	json_decref(lists);
	json_decref(rec);
	op->store_err = rc;
	return WOP_STORE_FAILED;
}

static void
get_party(struct rq *rq, const char *id)
{
	struct store_txn *txn = NULL;
	json_t *rec = NULL;
	enum store_err rc;

	if (routes_auth_party(rq, NULL, 0) != 0)
		return;
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc == STORE_OK)
		rc = store_get(txn, ST_PARTIES, id, &rec);
	store_abort(txn);
	if (rc == STORE_NOTFOUND || rc == STORE_BADKEY) {
		http_problem(rq, 404, "Not found", "unknown_party", "no party '%s'",
		    id);
		return;
	}
	if (rc != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	http_reply_json(rq, 200, rec);
}

void
routes_parties(struct rq *rq, const char *rest)
{
	struct pstate *st;
	const char *id = rest + 1;

	if (*rest != '/' || *id == '\0' || strlen(id) > PARTY_MAX_ID ||
	    strchr(id, '/') != NULL) {
		http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
		    rq->path);
		return;
	}
	if (rq->method == EVHTTP_REQ_GET) {
		get_party(rq, id);
		return;
	}
	if (rq->method != EVHTTP_REQ_DELETE) {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Allow", "GET, DELETE");
		http_problem(rq, 405, "Method not allowed", NULL,
		    "/v1/parties/{id} allows only GET and DELETE");
		return;
	}
	if (routes_auth_party(rq, NULL, 0) != 0)
		return;
	if (!(rq->roles & ROLE_ADMIN)) {
		http_problem(rq, 403, "Forbidden", "admin_role",
		    "party '%s' does not have the admin role", rq->party);
		return;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		http_problem(rq, 503, "Service unavailable", NULL, "out of memory");
		return;
	}
	rq->data = st;
	rq->data_free = pstate_free;
	st->now = timeu_now();
	snprintf(st->id, sizeof(st->id), "%s", id);
	snprintf(st->actor, sizeof(st->actor), "%s", rq->party);
	if (http_submit(rq, apply_remove, resume_reply) != 0)
		http_problem(rq, 503, "Service unavailable", NULL,
		    "the broker is shutting down");
}
