/* GET /v1/status/{list}: the signed token status list, and who fetched it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "status.h"
#include "timeu.h"

/* A fire-and-forget write: which version of a list a party fetched. */
struct seen_op {
	struct wop op;
	char party[72];
	uint32_t list;
	uint64_t version;
	int64_t now;
};

static int
apply_seen(struct store_txn *txn, struct wop *op)
{
	struct seen_op *s = (struct seen_op *)op;
	enum store_err rc;

	rc = status_record_seen(txn, s->party, s->list, s->version, s->now);
	if (rc != STORE_OK) {
		op->store_err = rc;
		return WOP_STORE_FAILED;
	}
	return 0;
}

static void
seen_done(struct wop *op)
{
	free(op);
}

static void
record_seen(struct rq *rq, uint32_t list, uint64_t version)
{
	struct seen_op *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return;   /* best effort: the next fetch records it */
	snprintf(s->party, sizeof(s->party), "%s", rq->party);
	s->list = list;
	s->version = version;
	s->now = timeu_now();
	s->op.apply = apply_seen;
	s->op.done = seen_done;
	if (writer_submit(rq->b->writer, &s->op) != 0)
		free(s);
}

void
routes_status(struct rq *rq, const char *rest)
{
	const char *kid;
	EVP_PKEY *key;
	unsigned long n;
	uint64_t version = 0;
	enum store_err err;
	char *end, *tok, cc[64];

	if (rq->method != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Allow", "GET");
		http_problem(rq, 405, "Method not allowed", NULL,
		    "%s allows only GET", rq->path);
		return;
	}
	errno = 0;
	n = strtoul(rest, &end, 10);
	if (*rest < '0' || *rest > '9' || *end != '\0' || errno != 0 ||
	    n > UINT32_MAX) {
		http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
		    rq->path);
		return;
	}
	/* Anyone may fetch; a party's fetch is recorded for "seen by". */
	if (routes_try_party(rq, NULL) != 0)
		return;
	key = keyset_current(broker_keys(rq->b), &kid);
	tok = status_list_token(rq->b->status, rq->b->store, key, kid,
	    rq->b->cfg.issuer, (uint32_t)n, rq->b->cfg.status_ttl_s, &version, &err);
	if (tok == NULL) {
		if (err == STORE_NOTFOUND)
			http_problem(rq, 404, "Not found", "status_list",
			    "status list %lu does not exist (yet)", n);
		else
			routes_store_error(rq, err);
		return;
	}
	if (rq->party[0] != '\0')
		record_seen(rq, (uint32_t)n, version);
	snprintf(cc, sizeof(cc), "max-age=%d", rq->b->cfg.status_ttl_s);
	http_reply_cacheable(rq, 200, "application/statuslist+jwt", tok,
	    strlen(tok), cc);
	free(tok);
}
