/*
 * The citizen's page: server-rendered HTML, no script, strict CSP, CSRF
 * tokens on every form, sessions in HttpOnly Secure SameSite=Strict cookies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "b64.h"
#include "consent_rec.h"
#include "form.h"
#include "jsonu.h"
#include "oidc.h"
#include "registry.h"
#include "routes.h"
#include "session.h"
#include "status.h"
#include "timeu.h"
#include "tlog.h"
#include "web.h"

extern const unsigned char web_site_css[];
extern const size_t web_site_css_len;

#define SESSION_COOKIE "cb_session"
#define LOGIN_COOKIE "cb_login"
#define USAGE_MAX 200
#define CSP "default-src 'none'; style-src 'self'; img-src 'self'; " \
    "form-action 'self' %s; frame-ancestors 'none'; base-uri 'none'"

void
web_escape(struct evbuffer *b, const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\'': evbuffer_add(b, "&#39;", 5); break;
		default: evbuffer_add(b, p, 1); break;
		}
	}
}

static void
esc_printf(struct evbuffer *b, const char *label, const char *value)
{
	evbuffer_add_printf(b, "%s", label);
	web_escape(b, value);
}

void
web_page_begin(struct evbuffer *b, const char *title, const char *mi)
{
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n<title>");
	web_escape(b, title);
	evbuffer_add_printf(b, " — Consent broker</title>\n<link rel=\"stylesheet\" "
	    "href=\"/static/site.css\">\n</head>\n<body>\n<a class=\"skip\" "
	    "href=\"#main\">Skip to content</a>\n<header class=\"site\">"
	    "<span class=\"brand\">Consent broker</span> · <span lang=\"mi\">"
	    "Kaiwhakarite whakaaetanga</span></header>\n<main id=\"main\">\n"
	    "<h1>");
	web_escape(b, title);
	if (mi != NULL) {
		evbuffer_add_printf(b, " <span class=\"mi\" lang=\"mi\">");
		web_escape(b, mi);
		evbuffer_add_printf(b, "</span>");
	}
	evbuffer_add_printf(b, "</h1>\n");
}

void
web_page_end(struct evbuffer *b)
{
	evbuffer_add_printf(b, "</main>\n<footer class=\"site\"><p>Your "
	    "consent decides who may receive your data. Every transfer is "
	    "recorded in a public, tamper-evident log.</p></footer>\n"
	    "</body>\n</html>\n");
}

static void
security_headers(struct rq *rq)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rq->req);
	char csp[1024];

	/* Sign-in forms post to the identity provider: allow its origin. */
	snprintf(csp, sizeof(csp), CSP, rq->b->oidc != NULL &&
	    rq->b->oidc->dev == NULL ? rq->b->oidc->issuer : "");
	evhttp_add_header(h, "Content-Security-Policy", csp);
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
}

void
web_reply_page(struct rq *rq, int status, struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	const char *p = (const char *)evbuffer_pullup(b, -1);

	security_headers(rq);
	http_reply_text(rq, status, "text/html; charset=utf-8", p != NULL ? p :
	    "", len);
	evbuffer_free(b);
}

void
web_error_page(struct rq *rq, int status, const char *title,
    const char *detail)
{
	struct evbuffer *b = evbuffer_new();

	rq->html = 0;
	if (b == NULL) {
		http_reply_text(rq, status, "text/plain", detail, strlen(detail));
		return;
	}
	web_page_begin(b, title, NULL);
	evbuffer_add_printf(b, "<p class=\"error\" role=\"alert\">");
	web_escape(b, detail);
	evbuffer_add_printf(b, "</p>\n<p><a href=\"/\">Back to your page</a>"
	    "</p>\n");
	web_page_end(b);
	web_reply_page(rq, status, b);
}

void
web_redirect(struct rq *rq, const char *location)
{
	evhttp_add_header(evhttp_request_get_output_headers(rq->req),
	    "Location", location);
	security_headers(rq);
	http_reply_text(rq, 303, "text/plain; charset=utf-8", "See Other\n", 10);
}

/* The value of cookie name from the request (copied into out), or NULL. */
static const char *
cookie(struct rq *rq, const char *name, char *out, size_t outlen)
{
	const char *h = http_header(rq, "Cookie"), *p, *end;
	size_t n = strlen(name), vlen;

	for (p = h; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			vlen = (size_t)(end - p) - n - 1;
			if (vlen >= outlen)
				return NULL;
			memcpy(out, p + n + 1, vlen);
			out[vlen] = '\0';
			return out;
		}
	}
	return NULL;
}

static void
set_cookie(struct rq *rq, const char *name, const char *value, int max_age,
    const char *samesite)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%d; HttpOnly; Secure; "
	    "SameSite=%s", name, value, max_age, samesite);
	evhttp_add_header(evhttp_request_get_output_headers(rq->req),
	    "Set-Cookie", c);
}

/* The signed-in citizen's session, or -1. */
static int
current_session(struct rq *rq, struct session *s)
{
	char id[SESSION_ID_LEN + 8];

	if (cookie(rq, SESSION_COOKIE, id, sizeof(id)) == NULL ||
	    sessions_get(rq->b->sessions, id, s) != 0)
		return -1;
	snprintf(rq->subject, sizeof(rq->subject), "%s", s->subject);
	return 0;
}

/* ---- sign-in ------------------------------------------------------------ */

static void
login(struct rq *rq)
{
	struct login l;
	char url[2048];

	if (rq->b->oidc == NULL) {
		web_error_page(rq, 503, "Sign-in is not available",
		    "no identity provider is configured for citizens");
		return;
	}
	if (logins_create(rq->b->sessions, &l) != 0 ||
	    oidc_auth_url(rq->b->oidc, &l, url, sizeof(url)) != 0) {
		web_error_page(rq, 503, "Try again", "sign-in could not start");
		return;
	}
	/* Lax: the identity provider's redirect back is a cross-site
	 * navigation; this cookie only ties the sign-in to this browser. */
	set_cookie(rq, LOGIN_COOKIE, l.bind, LOGIN_TTL_S, "Lax");
	web_redirect(rq, url);
}

static void
callback(struct rq *rq)
{
	struct evkeyvalq q;
	struct login l;
	struct session s;
	struct evbuffer *b;
	const char *state, *code, *error;
	char bind[SESSION_ID_LEN + 8], why[256], sub[256], *idt = NULL;

	TAILQ_INIT(&q);
	if (rq->b->oidc == NULL || rq->query == NULL ||
	    evhttp_parse_query_str(rq->query, &q) != 0) {
		web_error_page(rq, 400, "Sign-in refused",
		    "the sign-in answer could not be read");
		goto out;
	}
	state = evhttp_find_header(&q, "state");
	code = evhttp_find_header(&q, "code");
	error = evhttp_find_header(&q, "error");
	if (state == NULL || logins_take(rq->b->sessions, state, &l) != 0) {
		web_error_page(rq, 400, "Sign-in refused",
		    "this sign-in is unknown or has expired; please start again");
		goto out;
	}
	if (cookie(rq, LOGIN_COOKIE, bind, sizeof(bind)) == NULL ||
	    strlen(bind) != strlen(l.bind) ||
	    CRYPTO_memcmp(bind, l.bind, strlen(l.bind)) != 0) {
		web_error_page(rq, 400, "Sign-in refused",
		    "this sign-in was started in another browser");
		goto out;
	}
	if (error != NULL || code == NULL) {
		web_error_page(rq, 401, "Sign-in refused",
		    "the identity provider did not sign you in");
		goto out;
	}
	if (oidc_exchange(rq->b->oidc, code, l.verifier, &idt, why,
	    sizeof(why)) != 0) {
		web_error_page(rq, 401, "Sign-in refused", why);
		goto out;
	}
	if (oidc_validate(rq->b->oidc, idt, l.nonce, timeu_now(),
	    rq->b->cfg.clock_skew_s, sub, sizeof(sub), why, sizeof(why)) != 0) {
		web_error_page(rq, 401, "Sign-in refused", why);
		goto out;
	}
	if (consent_subject_ok(sub) != 0 ||
	    sessions_create(rq->b->sessions, sub, rq->b->cfg.session_ttl_s,
	    &s) != 0) {
		web_error_page(rq, 503, "Sign-in refused",
		    "a session could not be started");
		goto out;
	}
	set_cookie(rq, SESSION_COOKIE, s.id, rq->b->cfg.session_ttl_s,
	    "Strict");
	set_cookie(rq, LOGIN_COOKIE, "", 0, "Lax");
	/* A page (not a redirect), so the Strict cookie goes with the next
	 * request even when the sign-in came from another site. */
	b = evbuffer_new();
	if (b == NULL) {
		web_redirect(rq, "/");
		goto out;
	}
	evbuffer_add_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta http-equiv=\"refresh\" "
	    "content=\"0;url=/\">\n<title>Signed in — Consent broker</title>\n"
	    "<link rel=\"stylesheet\" href=\"/static/site.css\">\n</head>\n"
	    "<body>\n<main id=\"main\">\n<h1>You are signed in</h1>\n"
	    "<p><a href=\"/\">Continue</a></p>\n</main>\n</body>\n</html>\n");
	web_reply_page(rq, 200, b);
out:
	free(idt);
	evhttp_clear_headers(&q);
}

/* ---- forms -------------------------------------------------------------- */

/* Reads a posted form and checks its CSRF token; -1 after replying. */
static int
read_form(struct rq *rq, const struct session *s, struct form *f)
{
	const char *buf, *csrf;
	char err[256];
	size_t len;

	http_body(rq, &buf, &len);
	if (len > rq->b->cfg.max_body_bytes ||
	    form_parse(buf, len, f, err, sizeof(err)) != 0) {
		web_error_page(rq, 400, "Form not accepted",
		    "the form could not be read");
		return -1;
	}
	csrf = form_get(f, "csrf");
	if (csrf == NULL || strlen(csrf) != strlen(s->csrf) ||
	    CRYPTO_memcmp(csrf, s->csrf, strlen(s->csrf)) != 0) {
		form_free(f);
		rq->rule = "csrf";
		web_error_page(rq, 403, "Form not accepted",
		    "the form's security token is missing or wrong; reload the "
		    "page and try again");
		return -1;
	}
	return 0;
}

static void
ui_grant(struct rq *rq, const struct session *s)
{
	struct form f = { 0 };
	const char *agr, *exp;
	json_t *body, *fields;
	char ts[40];
	size_t i;

	if (read_form(rq, s, &f) != 0)
		return;
	agr = form_get(&f, "agreement");
	exp = form_get(&f, "expires_on");
	body = json_object();
	fields = json_array();
	if (agr == NULL || body == NULL || fields == NULL) {
		json_decref(body);
		json_decref(fields);
		form_free(&f);
		web_error_page(rq, 400, "Form not accepted",
		    "choose an agreement");
		return;
	}
	json_object_set_new(body, "agreement", json_string(agr));
	/* Required fields are always granted; optional ones when ticked. */
	for (i = 0; i < f.n; i++) {
		if (strncmp(f.p[i].key, "field:", 6) == 0)
			json_array_append_new(fields, json_string(f.p[i].key + 6));
	}
	if (json_array_size(fields) > 0)
		json_object_set_new(body, "fields", fields);
	else
		json_decref(fields);
	if (exp != NULL && *exp != '\0') {
		snprintf(ts, sizeof(ts), "%.10sT23:59:59Z", exp);
		json_object_set_new(body, "expires_at", json_string(ts));
	}
	form_free(&f);
	rq->html = 1;
	rq->html_done = "/?done=granted";
	routes_consents_grant(rq, body);
}

static void
ui_revoke(struct rq *rq, const struct session *s, const char *id)
{
	struct form f = { 0 };

	if (read_form(rq, s, &f) != 0)
		return;
	form_free(&f);
	rq->html = 1;
	rq->html_done = "/?done=revoked";
	routes_consents_revoke(rq, id);
}

static void
revoke_confirm(struct rq *rq, const struct session *s, const char *id)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		web_error_page(rq, 503, "Try again", "out of memory");
		return;
	}
	web_page_begin(b, "Revoke your consent?", "Hoki whakamuri");
	evbuffer_add_printf(b, "<p>From now on no agency can get your data "
	    "under this consent. Transfers already made stay recorded.</p>\n"
	    "<form method=\"post\" action=\"/ui/revoke/");
	web_escape(b, id);
	evbuffer_add_printf(b, "\">\n<input type=\"hidden\" name=\"csrf\" "
	    "value=\"%s\">\n<div class=\"actions\"><button type=\"submit\" "
	    "class=\"danger\">Yes, revoke my consent</button>\n"
	    "<a class=\"button secondary\" href=\"/\">No, keep it</a></div>\n"
	    "</form>\n", s->csrf);
	web_page_end(b);
	web_reply_page(rq, 200, b);
}

static void
logout(struct rq *rq, const struct session *s)
{
	struct form f = { 0 };
	struct evbuffer *b;

	if (read_form(rq, s, &f) != 0)
		return;
	form_free(&f);
	sessions_delete(rq->b->sessions, s->id);
	set_cookie(rq, SESSION_COOKIE, "", 0, "Strict");
	b = evbuffer_new();
	if (b == NULL) {
		web_redirect(rq, "/");
		return;
	}
	web_page_begin(b, "You are signed out", "Kua takiputa koe");
	evbuffer_add_printf(b, "<p><a href=\"/login\">Sign in again</a></p>\n");
	web_page_end(b);
	web_reply_page(rq, 200, b);
}

/* ---- downloads ---------------------------------------------------------- */

static void
receipt(struct rq *rq, const char *id)
{
	struct store_txn *txn = NULL;
	json_t *rec = NULL, *out;
	const char *subject, *r;
	char disp[128];

	if (store_begin(rq->b->store, 0, &txn) != STORE_OK ||
	    store_get(txn, ST_CONSENTS, id, &rec) != STORE_OK ||
	    jsonu_get_str(rec, "subject", &subject) != 0 ||
	    strcmp(subject, rq->subject) != 0 ||
	    jsonu_get_str(rec, "receipt", &r) != 0) {
		store_abort(txn);
		json_decref(rec);
		web_error_page(rq, 404, "Not found", "you have no such consent");
		return;
	}
	store_abort(txn);
	out = json_pack("{s:s, s:o}", "receipt", r, "consent",
	    consent_public(rec, timeu_now()));
	json_decref(rec);
	snprintf(disp, sizeof(disp), "attachment; filename=\"consent-receipt-"
	    "%.48s.json\"", id);
	evhttp_add_header(evhttp_request_get_output_headers(rq->req),
	    "Content-Disposition", disp);
	http_reply_json(rq, 200, out);
}

static void
proof(struct rq *rq, const char *jti)
{
	unsigned char p[MERKLE_MAX_PROOF][MERKLE_HASH];
	struct store_txn *txn = NULL;
	const unsigned char *d;
	json_t *tok = NULL, *hashes, *out = NULL;
	const char *sub, *sep;
	char *note = tlog_checkpoint_note(rq->b->log), b64[64], *data;
	struct checkpoint cp;
	char err[128];
	int64_t ix;
	size_t n, i, dn;

	if (note == NULL || (sep = strstr(note, "\n\n")) == NULL ||
	    checkpoint_parse(note, (size_t)(sep - note) + 1, &cp, err,
	    sizeof(err)) != 0 || store_begin(rq->b->store, 0, &txn) != STORE_OK)
		goto fail;
	if (store_get(txn, ST_TOKENS, jti, &tok) != STORE_OK ||
	    jsonu_get_str(tok, "sub", &sub) != 0 ||
	    strcmp(sub, rq->subject) != 0 ||
	    jsonu_get_int(tok, "log_index", &ix) != 0) {
		store_abort(txn);
		json_decref(tok);
		free(note);
		web_error_page(rq, 404, "Not found",
		    "no transfer about you has that id");
		return;
	}
	if ((uint64_t)ix >= cp.size) {
		store_abort(txn);
		json_decref(tok);
		free(note);
		web_error_page(rq, 409, "Not yet",
		    "the log's next checkpoint will include this transfer; "
		    "try again in a moment");
		return;
	}
	if (tlog_prove_inclusion(txn, (uint64_t)ix, cp.size, p, &n) !=
	    STORE_OK || tlog_entry(txn, (uint64_t)ix, &d, &dn) != STORE_OK)
		goto fail;
	hashes = json_array();
	for (i = 0; i < n; i++) {
		b64_encode(p[i], MERKLE_HASH, b64);
		json_array_append_new(hashes, json_string(b64));
	}
	data = b64_encode_alloc(d, dn);
	out = json_pack("{s:s, s:I, s:I, s:o, s:s?, s:s}", "checkpoint", note,
	    "index", (json_int_t)ix, "size", (json_int_t)cp.size, "hashes",
	    hashes, "entry", data, "how_to_check",
	    "leaf = SHA-256(0x00 || base64-decoded entry); verify the RFC 9162 "
	    "inclusion proof against the checkpoint's root, and the "
	    "checkpoint's signature with the log's verifier key "
	    "(consent-audit prove does all of this)");
	free(data);
	store_abort(txn);
	json_decref(tok);
	free(note);
	http_reply_json(rq, 200, out);
	return;
fail:
	store_abort(txn);
	json_decref(tok);
	free(note);
	web_error_page(rq, 503, "Try again", "the proof could not be built");
}

/* ---- the home page ------------------------------------------------------ */

struct home {
	struct store_txn *txn;
	json_t *agreements;      /* effective records */
	json_t *consents;        /* my consents (public form) */
	json_t *usage;           /* token records about me, newest first */
	int64_t now;
	int status_ttl;
};

static int
consent_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct home *h = arg;
	char idbuf[64];
	json_t *rec = NULL;

	(void)value;
	if (store_key_last(key, keylen, idbuf, sizeof(idbuf)) != 0)
		return 0;
	if (store_get(h->txn, ST_CONSENTS, idbuf, &rec) == STORE_OK)
		json_array_append_new(h->consents, consent_public(rec, h->now));
	json_decref(rec);
	return 0;
}

static int
usage_one(void *arg, const char *key, size_t keylen, json_t *value)
{
	struct home *h = arg;
	char buf[64];
	json_t *tok = NULL;

	(void)value;
	if (store_key_last(key, keylen, buf, sizeof(buf)) != 0)
		return 0;
	if (store_get(h->txn, ST_TOKENS, buf, &tok) == STORE_OK)
		json_array_append_new(h->usage, tok);
	return 0;
}

/* "Name (id)" of a party, from the registry. */
static void
party_name(struct home *h, struct evbuffer *b, const char *id)
{
	json_t *p = NULL;
	const char *name;

	if (store_get(h->txn, ST_PARTIES, id, &p) == STORE_OK &&
	    jsonu_get_str(p, "name", &name) == 0) {
		web_escape(b, name);
		evbuffer_add_printf(b, " (");
		web_escape(b, id);
		evbuffer_add_printf(b, ")");
	} else
		web_escape(b, id);
	json_decref(p);
}

/* My consent for an agreement: the active one, else the latest. */
static json_t *
my_consent(struct home *h, const char *agr)
{
	json_t *c, *best = NULL;
	const char *a, *state, *g, *bg;
	size_t i;

	json_array_foreach(h->consents, i, c) {
		if (jsonu_get_str(c, "agreement", &a) != 0 || strcmp(a, agr) != 0)
			continue;
		if (jsonu_get_str(c, "state", &state) == 0 &&
		    strcmp(state, "active") == 0)
			return c;
		if (best == NULL || (jsonu_get_str(c, "granted_at", &g) == 0 &&
		    jsonu_get_str(best, "granted_at", &bg) == 0 &&
		    strcmp(g, bg) > 0))
			best = c;
	}
	return best;
}

static void
render_agreement(struct home *h, struct evbuffer *b, const json_t *rec,
    const struct session *s)
{
	const json_t *doc = json_object_get(rec, "document"), *f, *v;
	const json_t *lb = json_object_get(doc, "legal_basis");
	const char *id, *title, *desc, *type, *ref, *state, *when, *cid;
	json_t *c;
	size_t i;
	int64_t ttl = 0, days = 0, rdays = 0;
	int statute;

	if (jsonu_get_str(rec, "id", &id) != 0 ||
	    jsonu_get_str(doc, "title", &title) != 0)
		return;
	statute = jsonu_get_str(lb, "type", &type) == 0 &&
	    strcmp(type, "statute") == 0;
	evbuffer_add_printf(b, "<article class=\"agreement\" id=\"agreement-%s\" "
	    "aria-labelledby=\"agreement-%s-title\">\n<h3 id=\"agreement-%s-"
	    "title\">", id, id, id);
	web_escape(b, title);
	evbuffer_add_printf(b, "</h3>\n");
	if (jsonu_get_str(doc, "description", &desc) == 0) {
		evbuffer_add_printf(b, "<p>");
		web_escape(b, desc);
		evbuffer_add_printf(b, "</p>\n");
	}
	evbuffer_add_printf(b, "<dl>\n<dt>Who gives the data</dt><dd>");
	party_name(h, b, json_string_value(json_object_get(doc, "provider")));
	evbuffer_add_printf(b, "</dd>\n<dt>Who receives it</dt><dd>");
	json_array_foreach(json_object_get(doc, "recipients"), i, v) {
		if (i > 0)
			evbuffer_add_printf(b, ", ");
		party_name(h, b, json_string_value(v));
	}
	evbuffer_add_printf(b, "</dd>\n<dt>What</dt><dd><ul>\n");
	json_array_foreach(json_object_get(doc, "fields"), i, f) {
		evbuffer_add_printf(b, "<li>");
		web_escape(b, json_string_value(json_object_get(f,
		    "description")) != NULL ? json_string_value(
		    json_object_get(f, "description")) : "");
		evbuffer_add_printf(b, " <span class=\"note\">(");
		web_escape(b, json_string_value(json_object_get(f, "name")));
		evbuffer_add_printf(b, "%s)</span></li>\n", json_is_true(
		    json_object_get(f, "optional")) ? ", optional" : "");
	}
	evbuffer_add_printf(b, "</ul></dd>\n<dt>Why</dt><dd>");
	json_array_foreach(json_object_get(doc, "purposes"), i, v) {
		if (i > 0)
			evbuffer_add_printf(b, ", ");
		web_escape(b, json_string_value(v));
	}
	evbuffer_add_printf(b, "</dd>\n<dt>On what basis</dt><dd>");
	if (statute) {
		evbuffer_add_printf(b, "The law");
		if (jsonu_get_str(lb, "reference", &ref) == 0)
			esc_printf(b, ": ", ref);
		evbuffer_add_printf(b, ". Your consent is not asked for.");
	} else {
		evbuffer_add_printf(b, "Your consent");
		if (jsonu_get_str(lb, "reference", &ref) == 0)
		{
			esc_printf(b, " (", ref);
			evbuffer_add(b, ")", 1);
		}
	}
	(void)jsonu_get_int(doc, "token_ttl_seconds", &ttl);
	(void)jsonu_get_int(json_object_get(doc, "consent"),
	    "max_duration_days", &days);
	(void)jsonu_get_int(json_object_get(doc, "retention"), "days", &rdays);
	evbuffer_add_printf(b, "</dd>\n<dt>For how long</dt><dd>Each transfer "
	    "must happen within %lld minutes of being allowed", (long long)
	    (ttl + 59) / 60);
	if (days > 0)
		evbuffer_add_printf(b, "; a consent lasts at most %lld days",
		    (long long)days);
	if (rdays > 0)
		evbuffer_add_printf(b, "; the receiver keeps the data at most "
		    "%lld days", (long long)rdays);
	evbuffer_add_printf(b, ".</dd>\n</dl>\n");
	if (statute) {
		evbuffer_add_printf(b, "</article>\n");
		return;
	}
	c = my_consent(h, id);
	state = c != NULL && jsonu_get_str(c, "state", &state) == 0 ? state :
	    NULL;
	if (c != NULL && state != NULL && strcmp(state, "active") == 0) {
		(void)jsonu_get_str(c, "id", &cid);
		evbuffer_add_printf(b, "<p class=\"consent-state active\">Consent "
		    "given on ");
		web_escape(b, jsonu_get_str(c, "granted_at", &when) == 0 ? when :
		    "");
		if (jsonu_get_str(c, "expires_at", &when) == 0)
			esc_printf(b, ", until ", when);
		evbuffer_add_printf(b, ".</p>\n<div class=\"actions\">"
		    "<a class=\"button danger-link\" href=\"/ui/revoke/%s\">Revoke "
		    "consent</a>\n<a href=\"/ui/receipt/%s\">Download receipt</a>"
		    "</div>\n", cid, cid);
	} else {
		if (c != NULL && state != NULL) {
			evbuffer_add_printf(b, "<p class=\"consent-state %s\">Consent "
			    "%s", strcmp(state, "revoked") == 0 ? "revoked" :
			    "expired", state);
			if (jsonu_get_str(c, "revoked_at", &when) == 0)
				esc_printf(b, " on ", when);
			evbuffer_add_printf(b, ".</p>\n");
		} else
			evbuffer_add_printf(b, "<p class=\"consent-state\">No "
			    "consent given.</p>\n");
		evbuffer_add_printf(b, "<form method=\"post\" action=\"/ui/consents"
		    "\">\n<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n"
		    "<input type=\"hidden\" name=\"agreement\" value=\"%s\">\n",
		    s->csrf, id);
		json_array_foreach(json_object_get(doc, "fields"), i, f) {
			const char *fname = json_string_value(json_object_get(f,
			    "name"));

			if (fname == NULL)
				continue;
			if (!json_is_true(json_object_get(f, "optional"))) {
				evbuffer_add_printf(b, "<input type=\"hidden\" "
				    "name=\"field:%s\" value=\"1\">\n", fname);
				continue;
			}
			evbuffer_add_printf(b, "<div><input type=\"checkbox\" "
			    "id=\"%s-%s\" name=\"field:%s\" value=\"1\" checked>"
			    " <label for=\"%s-%s\">Also share ", id, fname, fname,
			    id, fname);
			web_escape(b, fname);
			evbuffer_add_printf(b, " (optional)</label></div>\n");
		}
		evbuffer_add_printf(b, "<div><label for=\"%s-expires\">Consent "
		    "ends on (optional)</label>\n<input type=\"date\" id=\"%s-"
		    "expires\" name=\"expires_on\"></div>\n<div class=\"actions\">"
		    "<button type=\"submit\">Give consent</button></div>\n"
		    "</form>\n", id, id);
	}
	evbuffer_add_printf(b, "</article>\n");
}

static void
render_usage(struct home *h, struct evbuffer *b)
{
	const json_t *t, *ad;
	const char *s;
	char when[32];
	int64_t iat;
	size_t i, j;
	json_t *v;

	evbuffer_add_printf(b, "<section id=\"usage\" aria-labelledby=\"usage-h\">"
	    "\n<h2 id=\"usage-h\">Who used my data <span class=\"mi\" "
	    "lang=\"mi\">Nā wai i whakamahi aku raraunga</span></h2>\n");
	if (json_array_size(h->usage) == 0) {
		evbuffer_add_printf(b, "<p>No one has used your data yet.</p>\n"
		    "</section>\n");
		return;
	}
	evbuffer_add_printf(b, "<table>\n<caption class=\"note\">Every transfer "
	    "allowed about you, newest first. Each is recorded in the public "
	    "log.</caption>\n<thead><tr><th scope=\"col\">When (UTC)</th>"
	    "<th scope=\"col\">Requested by</th><th scope=\"col\">Provided by"
	    "</th><th scope=\"col\">Fields</th><th scope=\"col\">Purpose</th>"
	    "<th scope=\"col\">Agreement</th><th scope=\"col\">Proof</th></tr>"
	    "</thead>\n<tbody>\n");
	json_array_foreach(h->usage, i, t) {
		ad = json_array_get(json_object_get(t, "authorization_details"), 0);
		(void)jsonu_get_int(t, "iat", &iat);
		timeu_format(iat, when, sizeof(when));
		evbuffer_add_printf(b, "<tr><td>%s</td><td>", when);
		web_escape(b, jsonu_get_str(t, "client_id", &s) == 0 ? s : "");
		evbuffer_add_printf(b, "</td><td>");
		web_escape(b, jsonu_get_str(t, "aud", &s) == 0 ? s : "");
		evbuffer_add_printf(b, "</td><td>");
		json_array_foreach(json_object_get(ad, "fields"), j, v) {
			if (j > 0)
				evbuffer_add_printf(b, ", ");
			web_escape(b, json_string_value(v));
		}
		evbuffer_add_printf(b, "</td><td>");
		web_escape(b, jsonu_get_str(ad, "purpose", &s) == 0 ? s : "");
		evbuffer_add_printf(b, "</td><td>");
		web_escape(b, jsonu_get_str(ad, "agreement", &s) == 0 ? s : "");
		evbuffer_add_printf(b, "</td><td><a href=\"/ui/proof/");
		web_escape(b, jsonu_get_str(t, "jti", &s) == 0 ? s : "");
		evbuffer_add_printf(b, "\">Check proof</a></td></tr>\n");
	}
	evbuffer_add_printf(b, "</tbody>\n</table>\n</section>\n");
}

static void
render_revocations(struct home *h, struct evbuffer *b)
{
	const json_t *c, *rev, *lists;
	const char *id, *agr, *prov;
	json_t *arec = NULL;
	int64_t ver;
	size_t i, shown = 0;
	int seen;

	evbuffer_add_printf(b, "<section id=\"revocations\" aria-labelledby="
	    "\"revocations-h\">\n<h2 id=\"revocations-h\">My revocations <span "
	    "class=\"mi\" lang=\"mi\">Aku whakakorenga</span></h2>\n");
	json_array_foreach(h->consents, i, c) {
		rev = json_object_get(c, "revocation");
		if (rev == NULL || jsonu_get_str(c, "id", &id) != 0 ||
		    jsonu_get_str(c, "agreement", &agr) != 0 ||
		    jsonu_get_int(c, "agreement_version", &ver) != 0)
			continue;
		if (shown++ == 0)
			evbuffer_add_printf(b, "<ul>\n");
		prov = NULL;
		if (registry_agreement_get(h->txn, agr, (uint32_t)ver, &arec) ==
		    STORE_OK)
			(void)jsonu_get_str(json_object_get(arec, "document"),
			    "provider", &prov);
		lists = json_object_get(rev, "status_lists");
		seen = prov != NULL &&
		    status_seen_all(h->txn, prov, lists, NULL) == 1;
		evbuffer_add_printf(b, "<li>Consent for ");
		web_escape(b, agr);
		evbuffer_add_printf(b, ": ");
		if (json_object_size(lists) == 0)
			evbuffer_add_printf(b, "no transfers were outstanding, so "
			    "nothing had to be stopped.");
		else {
			web_escape(b, prov != NULL ? prov : "the provider");
			evbuffer_add_printf(b, seen ? ": seen — it will refuse "
			    "any transfer already allowed." : ": not yet — it will "
			    "see the revocation when it next checks (within "
			    "%d seconds).", h->status_ttl);
		}
		evbuffer_add_printf(b, "</li>\n");
		json_decref(arec);
		arec = NULL;
	}
	if (shown == 0)
		evbuffer_add_printf(b, "<p>You have not revoked any consent.</p>\n");
	else
		evbuffer_add_printf(b, "</ul>\n");
	evbuffer_add_printf(b, "</section>\n");
}

static void
home(struct rq *rq, const struct session *s)
{
	struct home h;
	struct evbuffer *b = NULL;
	char prefix[STORE_MAX_KEY + 1];
	const char *done = NULL;
	size_t i;
	json_t *rec;
	struct evkeyvalq q;

	memset(&h, 0, sizeof(h));
	h.now = timeu_now();
	h.agreements = json_array();
	h.consents = json_array();
	h.usage = json_array();
	TAILQ_INIT(&q);
	if (rq->query != NULL && evhttp_parse_query_str(rq->query, &q) == 0)
		done = evhttp_find_header(&q, "done");
	snprintf(prefix, sizeof(prefix), "%s" STORE_SEP, s->subject);
	if (h.agreements == NULL || h.consents == NULL || h.usage == NULL ||
	    (b = evbuffer_new()) == NULL ||
	    store_begin(rq->b->store, 0, &h.txn) != STORE_OK ||
	    registry_agreements_effective(h.txn, 0, h.agreements) != STORE_OK ||
	    store_scan(h.txn, ST_CONSENT_INDEX, prefix, 0, ROUTES_MAX_LIST,
	    consent_one, &h) != STORE_OK ||
	    store_scan(h.txn, ST_SUBJECT_TOKENS, prefix, 1, USAGE_MAX, usage_one,
	    &h) != STORE_OK) {
		if (b != NULL)
			evbuffer_free(b);
		web_error_page(rq, 503, "Try again", "your page could not be "
		    "read just now");
		goto out;
	}
	h.status_ttl = rq->b->cfg.status_ttl_s;
	web_page_begin(b, "Your data, your say", "Ōu raraunga, tōu reo");
	if (done != NULL && (strcmp(done, "granted") == 0 ||
	    strcmp(done, "revoked") == 0))
		evbuffer_add_printf(b, "<p role=\"status\" id=\"flash\">Consent "
		    "%s.</p>\n", strcmp(done, "granted") == 0 ? "given" :
		    "revoked");
	evbuffer_add_printf(b, "<p>Kia ora. You are signed in as <strong>");
	web_escape(b, s->subject);
	evbuffer_add_printf(b, "</strong>. Here you see which agencies may "
	    "share your data, decide who may, and see who did.</p>\n"
	    "<section id=\"agreements\" aria-labelledby=\"agreements-h\">\n"
	    "<h2 id=\"agreements-h\">Agreements that may involve you <span "
	    "class=\"mi\" lang=\"mi\">Ngā whakaaetanga</span></h2>\n");
	json_array_foreach(h.agreements, i, rec) {
		const char *st = registry_agreement_state(rec);

		if (st != NULL && strcmp(st, "active") == 0)
			render_agreement(&h, b, rec, s);
	}
	evbuffer_add_printf(b, "</section>\n");
	render_usage(&h, b);
	render_revocations(&h, b);
	evbuffer_add_printf(b, "<form method=\"post\" action=\"/logout\">\n"
	    "<input type=\"hidden\" name=\"csrf\" value=\"%s\">\n<div class="
	    "\"actions\"><button type=\"submit\" class=\"secondary\">Sign out"
	    "</button></div>\n</form>\n", s->csrf);
	web_page_end(b);
	web_reply_page(rq, 200, b);
out:
	store_abort(h.txn);
	json_decref(h.agreements);
	json_decref(h.consents);
	json_decref(h.usage);
	evhttp_clear_headers(&q);
}

static int
id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' &&
		    id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
		    id[i] == '_' || id[i] == '-'))
			return 0;
	return 1;
}

int
web_route(struct rq *rq)
{
	const char *p = rq->path;
	enum evhttp_cmd_type m = rq->method;
	struct session s;

	if (strcmp(p, "/static/site.css") == 0 && m == EVHTTP_REQ_GET) {
		http_reply_cacheable(rq, 200, "text/css; charset=utf-8",
		    (const char *)web_site_css, web_site_css_len,
		    "public, max-age=3600");
		return 0;
	}
	if (strcmp(p, "/login") == 0 && m == EVHTTP_REQ_GET) {
		login(rq);
		return 0;
	}
	if (strcmp(p, "/callback") == 0 && m == EVHTTP_REQ_GET) {
		callback(rq);
		return 0;
	}
	if (strcmp(p, "/") != 0 && strcmp(p, "/logout") != 0 &&
	    strncmp(p, "/ui/", 4) != 0)
		return -1;
	if (current_session(rq, &s) != 0) {
		if (m == EVHTTP_REQ_GET)
			web_redirect(rq, "/login");
		else
			web_error_page(rq, 403, "Not signed in",
			    "your session has ended; sign in again");
		return 0;
	}
	if (strcmp(p, "/") == 0 && m == EVHTTP_REQ_GET)
		home(rq, &s);
	else if (strcmp(p, "/logout") == 0 && m == EVHTTP_REQ_POST)
		logout(rq, &s);
	else if (strcmp(p, "/ui/consents") == 0 && m == EVHTTP_REQ_POST)
		ui_grant(rq, &s);
	else if (strncmp(p, "/ui/revoke/", 11) == 0 && id_ok(p + 11) &&
	    m == EVHTTP_REQ_GET)
		revoke_confirm(rq, &s, p + 11);
	else if (strncmp(p, "/ui/revoke/", 11) == 0 && id_ok(p + 11) &&
	    m == EVHTTP_REQ_POST)
		ui_revoke(rq, &s, p + 11);
	else if (strncmp(p, "/ui/receipt/", 12) == 0 && id_ok(p + 12) &&
	    m == EVHTTP_REQ_GET)
		receipt(rq, p + 12);
	else if (strncmp(p, "/ui/proof/", 10) == 0 && id_ok(p + 10) &&
	    m == EVHTTP_REQ_GET)
		proof(rq, p + 10);
	else
		web_error_page(rq, 404, "Not found", "there is no such page");
	return 0;
}
