/* Request routing, authentication of parties and citizens, small routes. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "jsonu.h"
#include "registry.h"
#include "routes.h"
#include "web.h"
#include "timeu.h"

int
wresult_fail(struct wresult *r, int http, const char *title, const char *rule,
    const char *fmt, ...)
{
	va_list ap;

	r->http = http;
	r->title = title;
	r->rule = rule;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return 1;
}

void
routes_store_error(struct rq *rq, enum store_err e)
{
	if (e == STORE_FULL || e == STORE_BUSY)
		http_problem(rq, 503, "Service unavailable", "store",
		    "the store cannot take this now (%s); nothing was changed, "
		    "retry later", store_strerror(e));
	else
		http_problem(rq, 500, "Internal error", "store",
		    "store error: %s; nothing was changed", store_strerror(e));
}

void
wresult_reply(struct rq *rq, struct wresult *r)
{
	json_t *out = r->out;
	char *text = r->text;

	r->out = NULL;
	r->text = NULL;
	if (rq->op.status == WOP_STORE_FAILED) {
		routes_store_error(rq, rq->op.store_err);
	} else if (r->http >= 400) {
		http_problem(rq, r->http, r->title, r->rule, "%s", r->detail);
	} else if (rq->html_done != NULL) {
		web_redirect(rq, rq->html_done);
	} else if (text != NULL) {
		http_reply_text(rq, r->http, "application/json", text,
		    r->text_len);
	} else {
		http_reply_json(rq, r->http, out);
		out = NULL;
	}
	json_decref(out);
	free(text);
}

static int
party_lookup(struct rq *rq, struct store_txn *txn, int quiet, int oauth)
{
	struct store_txn *own = NULL;
	enum store_err rc;
	const char *why = NULL;
	char detail[300];

	if (rq->peer == NULL || !rq->peer->has_cert) {
		if (quiet)
			return 0;
		why = "no client certificate: this endpoint is for registered "
		    "parties, which present their TLS client certificate";
	} else if (rq->peer->verify != X509_V_OK) {
		snprintf(detail, sizeof(detail),
		    "client certificate rejected: %s",
		    X509_verify_cert_error_string(rq->peer->verify));
		why = detail;
	} else {
		if (txn == NULL) {
			rc = store_begin(rq->b->store, 0, &own);
			if (rc != STORE_OK) {
				routes_store_error(rq, rc);
				return -1;
			}
			txn = own;
		}
		rc = registry_party_auth(txn, rq->peer->pin, rq->party,
		    sizeof(rq->party), &rq->roles);
		if (rc == STORE_NOTFOUND) {
			snprintf(detail, sizeof(detail),
			    "client certificate is not registered to any party "
			    "(SPKI SHA-256 pin %s)", rq->peer->pin);
			why = detail;
		} else if (rc != STORE_OK) {
			store_abort(own);
			routes_store_error(rq, rc);
			return -1;
		}
		store_abort(own);
		if (why == NULL)
			return 0;
	}
	if (oauth)
		http_oauth_error(rq, 401, "invalid_client", "client_certificate",
		    "%s", why);
	else
		http_problem(rq, 401, "Unauthorized", "client_certificate", "%s",
		    why);
	return -1;
}

int
routes_auth_party(struct rq *rq, struct store_txn *txn, int oauth)
{
	return party_lookup(rq, txn, 0, oauth);
}

int
routes_try_party(struct rq *rq, struct store_txn *txn)
{
	return party_lookup(rq, txn, 1, 0);
}

int
routes_auth_citizen(struct rq *rq)
{
	const char *h = http_header(rq, "Authorization");
	char err[300];

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "WWW-Authenticate", "Bearer realm=\"consent-broker\"");
		http_problem(rq, 401, "Unauthorized", "citizen_token",
		    "citizen sign-in required: send \"Authorization: Bearer "
		    "<ID token>\"");
		return -1;
	}
	if (citizen_verify(rq->b->citizens, h + 7, timeu_now(),
	    rq->b->cfg.clock_skew_s, rq->subject, sizeof(rq->subject), err,
	    sizeof(err)) != 0) {
		rq->subject[0] = '\0';
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "WWW-Authenticate",
		    "Bearer realm=\"consent-broker\", error=\"invalid_token\"");
		http_problem(rq, 401, "Unauthorized", "citizen_token", "%s", err);
		return -1;
	}
	return 0;
}

json_t *
routes_json_body(struct rq *rq)
{
	const char *ct = http_header(rq, "Content-Type"), *buf;
	char err[256];
	size_t len;
	json_t *j;

	http_body(rq, &buf, &len);
	if (len > rq->b->cfg.max_body_bytes) {
		http_problem(rq, 413, "Payload too large", "body_size",
		    "request body of %zu bytes exceeds the limit of %zu bytes",
		    len, rq->b->cfg.max_body_bytes);
		return NULL;
	}
	if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0) {
		http_problem(rq, 415, "Unsupported media type", "content_type",
		    "expected Content-Type application/json, got '%.100s'", ct);
		return NULL;
	}
	j = jsonu_parse(buf, len, ROUTES_MAX_DEPTH, err, sizeof(err));
	if (j == NULL) {
		http_problem(rq, 400, "Bad request", "json",
		    "request body is not valid JSON: %s", err);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		http_problem(rq, 400, "Bad request", "json",
		    "request body must be a JSON object");
		return NULL;
	}
	return j;
}

static void
method_not_allowed(struct rq *rq, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(rq->req), "Allow",
	    allow);
	http_problem(rq, 405, "Method not allowed", NULL,
	    "%s allows only %s", rq->path, allow);
}

static void
healthz(struct rq *rq)
{
	http_reply_text(rq, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void
discovery(struct rq *rq)
{
	http_reply_text(rq, 200, "application/json", rq->b->discovery,
	    strlen(rq->b->discovery));
}

static void
jwks(struct rq *rq)
{
	const char *s = keyset_jwks(broker_keys(rq->b));

	http_reply_text(rq, 200, "application/jwk-set+json", s, strlen(s));
}

/* Exact paths; the one method each allows. */
static const struct {
	const char *path;
	enum evhttp_cmd_type method;
	const char *allow;
	void (*fn)(struct rq *rq);
} exact[] = {
	{ "/healthz", EVHTTP_REQ_GET, "GET", healthz },
	{ "/.well-known/consent-broker", EVHTTP_REQ_GET, "GET", discovery },
	{ "/.well-known/jwks.json", EVHTTP_REQ_GET, "GET", jwks },
	{ "/oauth2/token", EVHTTP_REQ_POST, "POST", routes_token },
	{ "/oauth2/introspect", EVHTTP_REQ_POST, "POST", routes_introspect },
};

void
routes_dispatch(struct rq *rq)
{
	const char *p = rq->path;
	size_t i;

	for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (strcmp(p, exact[i].path) != 0)
			continue;
		if (rq->method != exact[i].method)
			method_not_allowed(rq, exact[i].allow);
		else
			exact[i].fn(rq);
		return;
	}
	if (strncmp(p, "/v1/agreements", 14) == 0 &&
	    (p[14] == '\0' || p[14] == '/'))
		routes_agreements(rq, p + 14);
	else if (strncmp(p, "/v1/consents", 12) == 0 &&
	    (p[12] == '\0' || p[12] == '/'))
		routes_consents(rq, p + 12);
	else if (strncmp(p, "/v1/log/", 8) == 0)
		routes_log(rq, p + 7);
	else if (strncmp(p, "/v1/status/", 11) == 0)
		routes_status(rq, p + 11);
	else if (strncmp(p, "/v1/parties/", 12) == 0)
		routes_parties(rq, p + 11);
	else if (strncmp(p, "/dev/", 5) == 0 && rq->b->devidp != NULL)
		devidp_route(rq, p + 4);
	else if (web_route(rq) == 0)
		return;
	else
		http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
		    p);
}
