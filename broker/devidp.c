/*
 * The development citizen issuer (consentd --dev only): an OpenID
 * Provider with a sign-in page where one picks a test citizen. It exists
 * so the whole sign-in flow runs without an outside identity provider.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "b64.h"
#include "consent_rec.h"
#include "form.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "oidc.h"
#include "pki.h"
#include "routes.h"
#include "timeu.h"
#include "web.h"

#define CODE_MAX 256
#define CODE_TTL_S 60
#define ID_TOKEN_TTL_S 300

enum fault { F_NONE, F_BAD_SIGNATURE, F_WRONG_AUDIENCE, F_WRONG_NONCE,
	F_EXPIRED };

struct code {
	char code[SESSION_ID_LEN];
	char subject[256];
	char client_id[128];
	char redirect_uri[400];
	char nonce[128];
	char challenge[64];
	enum fault fault;
	int64_t expires;
};

struct devidp {
	char issuer[300];
	EVP_PKEY *key;
	char kid[JWK_B64_SHA256_LEN];
	char *jwks;
	char *discovery;
	pthread_mutex_t mu;
	struct code codes[CODE_MAX];
};

static const struct {
	const char *subject;
	const char *name;
} test_citizens[] = {
	{ "alice-test", "Alice Test" },
	{ "bob-test", "Bob Test" },
	{ "carol-test", "Carol Test" },
};

struct devidp *
devidp_new(const char *issuer, EVP_PKEY *key, const char *kid)
{
	struct devidp *d = calloc(1, sizeof(*d));
	json_t *jwk, *j;
	char a[400], t[400], k[400];

	if (d == NULL)
		return NULL;
	pthread_mutex_init(&d->mu, NULL);
	snprintf(d->issuer, sizeof(d->issuer), "%s", issuer);
	snprintf(d->kid, sizeof(d->kid), "%s", kid);
	if (EVP_PKEY_up_ref(key) != 1)
		goto fail;
	d->key = key;
	jwk = jwk_from_pkey(key, kid);
	j = jwk != NULL ? json_pack("{s:[o]}", "keys", jwk) : NULL;
	d->jwks = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	snprintf(a, sizeof(a), "%s/authorize", issuer);
	snprintf(t, sizeof(t), "%s/token", issuer);
	snprintf(k, sizeof(k), "%s/jwks.json", issuer);
	j = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], "
	    "s:[s], s:[s]}", "issuer", issuer, "authorization_endpoint", a,
	    "token_endpoint", t, "jwks_uri", k,
	    "response_types_supported", "code",
	    "subject_types_supported", "public",
	    "id_token_signing_alg_values_supported", "ES256",
	    "code_challenge_methods_supported", "S256",
	    "scopes_supported", "openid",
	    "token_endpoint_auth_methods_supported", "none");
	d->discovery = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (d->jwks == NULL || d->discovery == NULL)
		goto fail;
	return d;
fail:
	devidp_free(d);
	return NULL;
}

void
devidp_free(struct devidp *d)
{
	if (d == NULL)
		return;
	EVP_PKEY_free(d->key);
	free(d->jwks);
	free(d->discovery);
	pthread_mutex_destroy(&d->mu);
	OPENSSL_cleanse(d->codes, sizeof(d->codes));
	free(d);
}

const char *
devidp_issuer(const struct devidp *d)
{
	return d->issuer;
}

static enum fault
fault_of(const char *s)
{
	if (s == NULL || strcmp(s, "none") == 0)
		return F_NONE;
	if (strcmp(s, "bad_signature") == 0)
		return F_BAD_SIGNATURE;
	if (strcmp(s, "wrong_audience") == 0)
		return F_WRONG_AUDIENCE;
	if (strcmp(s, "wrong_nonce") == 0)
		return F_WRONG_NONCE;
	if (strcmp(s, "expired") == 0)
		return F_EXPIRED;
	return F_NONE;
}

/* Signs the ID token for a code (with the code's fault, if any). */
static char *
id_token(struct devidp *d, const struct code *c)
{
	EVP_PKEY *signer = d->key, *other = NULL;
	int64_t now = timeu_now(), iat = now, exp = now + ID_TOKEN_TTL_S;
	json_t *claims;
	char *payload, *tok = NULL;

	if (c->fault == F_EXPIRED) {
		iat = now - 3600;
		exp = now - 1800;
	}
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
	    "iss", d->issuer, "sub", c->subject,
	    "aud", c->fault == F_WRONG_AUDIENCE ? "someone-else" : c->client_id,
	    "iat", (json_int_t)iat, "auth_time", (json_int_t)iat,
	    "exp", (json_int_t)exp,
	    "nonce", c->fault == F_WRONG_NONCE ? "not-the-nonce" : c->nonce,
	    "acr", "dev");
	payload = claims != NULL ? json_dumps(claims, JSON_COMPACT) : NULL;
	json_decref(claims);
	if (payload == NULL)
		return NULL;
	if (c->fault == F_BAD_SIGNATURE)
		signer = other = pki_gen_p256();   /* same kid, wrong key */
	if (signer == NULL || jws_sign_es256(signer, d->kid, "JWT", payload,
	    strlen(payload), &tok) != JWS_OK)
		tok = NULL;
	EVP_PKEY_free(other);
	free(payload);
	return tok;
}

int
devidp_exchange(struct devidp *d, const char *code, const char *verifier,
    const char *client_id, const char *redirect_uri, char **out, char *err,
    size_t errlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char challenge[64];
	struct code c;
	int64_t now = timeu_now();
	size_t i, n = strlen(code);
	int found = 0;

	*out = NULL;
	pthread_mutex_lock(&d->mu);
	for (i = 0; i < CODE_MAX; i++)
		if (d->codes[i].expires > now && n == strlen(d->codes[i].code) &&
		    n > 0 && CRYPTO_memcmp(d->codes[i].code, code, n) == 0) {
			c = d->codes[i];
			/* Single use, whatever happens next. */
			memset(&d->codes[i], 0, sizeof(d->codes[i]));
			found = 1;
			break;
		}
	pthread_mutex_unlock(&d->mu);
	if (!found) {
		snprintf(err, errlen, "the authorization code is unknown, used "
		    "or expired");
		return -1;
	}
	if (strcmp(c.client_id, client_id) != 0 ||
	    strcmp(c.redirect_uri, redirect_uri) != 0) {
		snprintf(err, errlen, "the code was issued to another client or "
		    "redirect URI");
		return -1;
	}
	SHA256((const unsigned char *)verifier, strlen(verifier), md);
	b64url_encode(md, sizeof(md), challenge);
	if (strcmp(challenge, c.challenge) != 0) {
		snprintf(err, errlen, "the PKCE code verifier does not match");
		return -1;
	}
	*out = id_token(d, &c);
	if (*out == NULL) {
		snprintf(err, errlen, "the ID token could not be signed");
		return -1;
	}
	return 0;
}

/* Reads the authorization request's parameters from q into c. */
static const char *
check_request(struct rq *rq, struct evkeyvalq *q, struct code *c)
{
	const char *rt = evhttp_find_header(q, "response_type");
	const char *cid = evhttp_find_header(q, "client_id");
	const char *ru = evhttp_find_header(q, "redirect_uri");
	const char *nonce = evhttp_find_header(q, "nonce");
	const char *cc = evhttp_find_header(q, "code_challenge");
	const char *ccm = evhttp_find_header(q, "code_challenge_method");
	const char *scope = evhttp_find_header(q, "scope");

	memset(c, 0, sizeof(*c));
	if (rt == NULL || strcmp(rt, "code") != 0)
		return "response_type must be code";
	if (scope == NULL || strstr(scope, "openid") == NULL)
		return "scope must include openid";
	if (cid == NULL || strlen(cid) >= sizeof(c->client_id))
		return "client_id is missing";
	if (ru == NULL || strlen(ru) >= sizeof(c->redirect_uri) ||
	    strncmp(ru, rq->b->cfg.issuer, strlen(rq->b->cfg.issuer)) != 0)
		return "redirect_uri must be this broker's";
	if (nonce == NULL || strlen(nonce) >= sizeof(c->nonce))
		return "nonce is missing";
	if (cc == NULL || strlen(cc) != 43 || ccm == NULL ||
	    strcmp(ccm, "S256") != 0)
		return "PKCE with code_challenge_method S256 is required";
	snprintf(c->client_id, sizeof(c->client_id), "%s", cid);
	snprintf(c->redirect_uri, sizeof(c->redirect_uri), "%s", ru);
	snprintf(c->nonce, sizeof(c->nonce), "%s", nonce);
	snprintf(c->challenge, sizeof(c->challenge), "%s", cc);
	return NULL;
}

static const char *const passthrough[] = { "response_type", "client_id",
	"redirect_uri", "scope", "state", "nonce", "code_challenge",
	"code_challenge_method" };

/* GET /dev/authorize: the sign-in page. */
static void
authorize_page(struct rq *rq, struct evkeyvalq *q)
{
	struct evbuffer *b = evbuffer_new();
	const char *why, *v;
	struct code c;
	size_t i;

	if (b == NULL) {
		http_problem(rq, 503, "Service unavailable", NULL, "out of memory");
		return;
	}
	if ((why = check_request(rq, q, &c)) != NULL) {
		evbuffer_free(b);
		web_error_page(rq, 400, "Sign-in request refused", why);
		return;
	}
	web_page_begin(b, "Sign in (development)", "Takiuru");
	evbuffer_add_printf(b, "<p>This is the broker's <strong>development"
	    "</strong> identity provider. Choose a test citizen to sign in "
	    "as.</p>\n<form method=\"post\" action=\"/dev/authorize\">\n");
	for (i = 0; i < sizeof(passthrough) / sizeof(passthrough[0]); i++)
		if ((v = evhttp_find_header(q, passthrough[i])) != NULL) {
			evbuffer_add_printf(b, "<input type=\"hidden\" name=\"%s\" "
			    "value=\"", passthrough[i]);
			web_escape(b, v);
			evbuffer_add_printf(b, "\">\n");
		}
	evbuffer_add_printf(b, "<p><label for=\"fault\">Fault to inject "
	    "(tests only)</label>\n<select name=\"fault\" id=\"fault\">"
	    "<option value=\"none\" selected>none</option>"
	    "<option value=\"bad_signature\">bad signature</option>"
	    "<option value=\"wrong_audience\">wrong audience</option>"
	    "<option value=\"wrong_nonce\">wrong nonce</option>"
	    "<option value=\"expired\">expired</option></select></p>\n"
	    "<ul class=\"citizens\">\n");
	for (i = 0; i < sizeof(test_citizens) / sizeof(test_citizens[0]); i++)
		evbuffer_add_printf(b, "<li><button type=\"submit\" "
		    "name=\"subject\" value=\"%s\">%s</button></li>\n",
		    test_citizens[i].subject, test_citizens[i].name);
	evbuffer_add_printf(b, "</ul>\n</form>\n");
	web_page_end(b);
	web_reply_page(rq, 200, b);
}

/* POST /dev/authorize: issue a code and send the browser back. */
static void
authorize_post(struct rq *rq)
{
	struct evkeyvalq q;
	struct form f = { 0 };
	struct code c;
	struct evbuffer *loc = NULL;
	const char *buf, *why, *subject, *state;
	char err[256], *enc = NULL;
	size_t len, i, slot = 0;
	int64_t now = timeu_now();

	http_body(rq, &buf, &len);
	TAILQ_INIT(&q);
	if (len > 8192 || form_parse(buf, len, &f, err, sizeof(err)) != 0) {
		web_error_page(rq, 400, "Sign-in request refused",
		    "the form could not be read");
		return;
	}
	for (i = 0; i < f.n; i++)
		evhttp_add_header(&q, f.p[i].key, f.p[i].value);
	if ((why = check_request(rq, &q, &c)) != NULL) {
		web_error_page(rq, 400, "Sign-in request refused", why);
		goto out;
	}
	subject = form_get(&f, "subject");
	if (subject == NULL || consent_subject_ok(subject) != 0 ||
	    strlen(subject) >= sizeof(c.subject)) {
		web_error_page(rq, 400, "Sign-in request refused",
		    "choose a test citizen");
		goto out;
	}
	snprintf(c.subject, sizeof(c.subject), "%s", subject);
	c.fault = fault_of(form_get(&f, "fault"));
	c.expires = now + CODE_TTL_S;
	if (session_random_id(c.code) != 0) {
		web_error_page(rq, 503, "Try again", "no randomness available");
		goto out;
	}
	pthread_mutex_lock(&rq->b->devidp->mu);
	for (i = 0; i < CODE_MAX; i++) {
		if (rq->b->devidp->codes[i].expires <= now) {
			slot = i;
			break;
		}
		if (rq->b->devidp->codes[i].expires <
		    rq->b->devidp->codes[slot].expires)
			slot = i;
	}
	rq->b->devidp->codes[slot] = c;
	pthread_mutex_unlock(&rq->b->devidp->mu);
	state = form_get(&f, "state");
	loc = evbuffer_new();
	if (loc == NULL)
		goto out;
	evbuffer_add_printf(loc, "%s%scode=%s", c.redirect_uri,
	    strchr(c.redirect_uri, '?') != NULL ? "&" : "?", c.code);
	if (state != NULL && (enc = evhttp_encode_uri(state)) != NULL)
		evbuffer_add_printf(loc, "&state=%s", enc);
	evbuffer_add(loc, "", 1);
	web_redirect(rq, (const char *)evbuffer_pullup(loc, -1));
out:
	free(enc);
	if (loc != NULL)
		evbuffer_free(loc);
	evhttp_clear_headers(&q);
	form_free(&f);
}

/* POST /dev/token: the code exchange (RFC 6749 section 4.1.3 + PKCE). */
static void
token(struct rq *rq)
{
	struct form f = { 0 };
	const char *buf, *gt, *code, *ver, *cid, *ru;
	char err[256], *idt = NULL, at[SESSION_ID_LEN];
	size_t len;

	http_body(rq, &buf, &len);
	if (len > 8192 || form_parse(buf, len, &f, err, sizeof(err)) != 0) {
		http_oauth_error(rq, 400, "invalid_request", NULL, "%s",
		    len > 8192 ? "body too large" : err);
		return;
	}
	gt = form_get(&f, "grant_type");
	code = form_get(&f, "code");
	ver = form_get(&f, "code_verifier");
	cid = form_get(&f, "client_id");
	ru = form_get(&f, "redirect_uri");
	if (gt == NULL || strcmp(gt, "authorization_code") != 0)
		http_oauth_error(rq, 400, "unsupported_grant_type", NULL,
		    "grant_type must be authorization_code");
	else if (code == NULL || ver == NULL || cid == NULL || ru == NULL)
		http_oauth_error(rq, 400, "invalid_request", NULL,
		    "code, code_verifier, client_id and redirect_uri are "
		    "required");
	else if (devidp_exchange(rq->b->devidp, code, ver, cid, ru, &idt, err,
	    sizeof(err)) != 0)
		http_oauth_error(rq, 400, "invalid_grant", NULL, "%s", err);
	else if (session_random_id(at) != 0)
		http_oauth_error(rq, 500, "server_error", NULL, "no randomness");
	else
		http_reply_json(rq, 200, json_pack("{s:s, s:s, s:i, s:s}",
		    "access_token", at, "token_type", "Bearer", "expires_in",
		    ID_TOKEN_TTL_S, "id_token", idt));
	free(idt);
	form_free(&f);
}

void
devidp_route(struct rq *rq, const char *rest)
{
	struct devidp *d = rq->b->devidp;
	struct evkeyvalq q;

	if (strcmp(rest, "/.well-known/openid-configuration") == 0 &&
	    rq->method == EVHTTP_REQ_GET) {
		http_reply_text(rq, 200, "application/json", d->discovery,
		    strlen(d->discovery));
		return;
	}
	if (strcmp(rest, "/jwks.json") == 0 && rq->method == EVHTTP_REQ_GET) {
		http_reply_text(rq, 200, "application/jwk-set+json", d->jwks,
		    strlen(d->jwks));
		return;
	}
	if (strcmp(rest, "/authorize") == 0 && rq->method == EVHTTP_REQ_GET) {
		TAILQ_INIT(&q);
		if (rq->query == NULL ||
		    evhttp_parse_query_str(rq->query, &q) != 0) {
			evhttp_clear_headers(&q);
			web_error_page(rq, 400, "Sign-in request refused",
			    "the authorization request has no parameters");
			return;
		}
		authorize_page(rq, &q);
		evhttp_clear_headers(&q);
		return;
	}
	if (strcmp(rest, "/authorize") == 0 && rq->method == EVHTTP_REQ_POST) {
		authorize_post(rq);
		return;
	}
	if (strcmp(rest, "/token") == 0 && rq->method == EVHTTP_REQ_POST) {
		token(rq);
		return;
	}
	http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
	    rq->path);
}
