/* Integration: the citizen web page over HTTPS as a browser without script
 * would use it (libcurl with its cookie engine): OIDC sign-in through the
 * dev issuer, the session cookie, CSRF on every form, grant and revoke,
 * refused sign-ins (each injected fault, a replayed code, an unknown
 * state) and the security headers. */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#define SMARTSTART "smartstart-ird-number"
#define SMARTSTART_ARTICLE "id=\"agreement-" SMARTSTART "\""
#define WEB_MAX_FORM 16384      /* bytes of a form body built here */
#define WEB_MAX_VALUE 2048      /* one attribute or header value */
#define WEB_START_ATTEMPTS 5    /* ports tried so that the issuer matches */
#define PROOF_WAIT_MS 5000      /* a transfer is in the log by the next
                                   checkpoint (log_checkpoint_ms, 1 s) */

/* One browser: a curl handle whose cookie engine keeps the session. */
struct web {
	struct it_server *s;
	CURL *c;
	char ca[PATH_MAX + 16];
};

/* ---- setup: consentd whose issuer (and so redirect_uri) is its own port */

static unsigned
pick_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	unsigned port = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/*
 * Rewrites the "issuer = ..." line of DATA/consentd.conf to
 * https://127.0.0.1:port, so that consentd (redirect_uri, dev issuer) and
 * "consentctl dev citizen-token" (the citizen tokens' iss) agree on it.
 */
static int
set_issuer(const struct it_server *s, unsigned port)
{
	char path[PATH_MAX + 32], line[1024], out[8192];
	size_t n = 0;
	FILE *f;
	int w;

	if (snprintf(path, sizeof(path), "%s/consentd.conf", s->data) >=
	    (int)sizeof(path) || (f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "issuer", 6) == 0 &&
		    strchr(" =", line[6]) != NULL)
			w = snprintf(out + n, sizeof(out) - n,
			    "issuer = https://127.0.0.1:%u\n", port);
		else
			w = snprintf(out + n, sizeof(out) - n, "%s", line);
		if (w < 0 || (size_t)w >= sizeof(out) - n) {
			fclose(f);
			return -1;
		}
		n += (size_t)w;
	}
	fclose(f);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	w = fwrite(out, 1, n, f) == n;
	return fclose(f) == 0 && w ? 0 : -1;
}

/*
 * Like it_group_setup, but with the issuer set to the port consentd
 * listens on (init writes port 8443). The harness tries s->port first;
 * should it move to another port, the server is stopped and started again
 * with a new issuer.
 */
static int
web_group_setup(void **state)
{
	struct it_server *s = it_server_new();
	unsigned port;
	int attempt;

	if (s == NULL)
		return -1;
	for (attempt = 0; attempt < WEB_START_ATTEMPTS; attempt++) {
		port = pick_port();
		if (port == 0 || set_issuer(s, port) != 0)
			return -1;
		s->port = port;
		if (it_server_start(s) != 0)
			return -1;
		if (s->port == port) {
			*state = s;
			return 0;
		}
		if (it_server_stop(s) != 0)
			return -1;
	}
	return -1;
}

/* ---- a cookie-keeping HTTPS client ---------------------------------------- */

static int
buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	size_t want = *len + n + 1, c;
	char *nb;

	if (*len + n > IT_MAX_BODY)
		return -1;
	if (want > *cap) {
		c = *cap != 0 ? *cap : 1024;
		while (c < want)
			c *= 2;
		nb = realloc(*buf, c);
		if (nb == NULL)
			return -1;
		*buf = nb;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct it_resp *r = arg;
	size_t n = size * nmemb;

	return buf_append(&r->body, &r->len, &r->cap, data, n) == 0 ? n : 0;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct it_resp *r = arg;
	size_t n = size * nmemb;

	return buf_append(&r->headers, &r->hlen, &r->hcap, data, n) == 0 ?
	    n : 0;
}

static void
web_open(struct web *w, struct it_server *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->c = curl_easy_init();
	if (w->c == NULL)
		fail_msg("curl_easy_init failed");
	it_fmt(w->ca, sizeof(w->ca), "%s/pki/ca.crt", s->data);
	curl_easy_setopt(w->c, CURLOPT_COOKIEFILE, "");   /* cookie engine on */
	curl_easy_setopt(w->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->c, CURLOPT_CAINFO, w->ca);
	curl_easy_setopt(w->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(w->c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(w->c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(w->c, CURLOPT_TIMEOUT_MS, (long)IT_REQ_TIMEOUT_MS);
	curl_easy_setopt(w->c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
}

static void
web_close(struct web *w)
{
	if (w->c != NULL)
		curl_easy_cleanup(w->c);
	w->c = NULL;
}

/*
 * GET (form NULL) or POST form (application/x-www-form-urlencoded) to
 * target: a path on the server or an absolute https:// URL. Redirects are
 * not followed. Fills r (free with it_resp_free); returns the status.
 */
static long
web_req(struct web *w, const char *target, const char *form,
    struct it_resp *r)
{
	struct curl_slist *hdrs = NULL;
	char url[WEB_MAX_VALUE + 64], *ct = NULL;
	CURLcode rc;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (strncmp(target, "https://", 8) == 0)
		it_fmt(url, sizeof(url), "%s", target);
	else
		it_fmt(url, sizeof(url), "%s%s", w->s->base, target);
	curl_easy_setopt(w->c, CURLOPT_URL, url);
	curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(w->c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(w->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(w->c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(w->c, CURLOPT_ERRORBUFFER, r->errbuf);
	if (form != NULL) {
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/x-www-form-urlencoded");
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(w->c, CURLOPT_POST, 1L);
		curl_easy_setopt(w->c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(form));
		curl_easy_setopt(w->c, CURLOPT_COPYPOSTFIELDS, form);
	} else
		curl_easy_setopt(w->c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(w->c);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	r->curl_rc = (int)rc;
	if (rc != CURLE_OK) {
		if (r->errbuf[0] == '\0')
			snprintf(r->errbuf, sizeof(r->errbuf), "%s",
			    curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(w->c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL) {
		n = strcspn(ct, "; ");
		if (n >= sizeof(r->ctype))
			n = sizeof(r->ctype) - 1;
		memcpy(r->ctype, ct, n);
		r->ctype[n] = '\0';
	}
	if (r->body == NULL)
		buf_append(&r->body, &r->len, &r->cap, "", 0);
	if (strcmp(r->ctype, "application/json") == 0)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	return r->status;
}

/* The Location header, with the server's origin taken off when present. */
static void
location_of(const struct web *w, const struct it_resp *r, char *out,
    size_t outlen)
{
	char v[WEB_MAX_VALUE];
	size_t blen = strlen(w->s->base);

	if (it_resp_header(r, "Location", v, sizeof(v)) == NULL)
		fail_msg("HTTP %ld without a Location header", r->status);
	if (strncmp(v, w->s->base, blen) == 0 && v[blen] == '/')
		it_fmt(out, outlen, "%s", v + blen);
	else
		it_fmt(out, outlen, "%s", v);
}

/* ---- a little HTML and URL reading --------------------------------------- */

/* HTML character references the page may use in attribute values. */
static void
html_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	static const struct { const char *ref; char c; } refs[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&#34;", '"' }, { "&#39;", '\'' },
		{ "&#x27;", '\'' }, { "&apos;", '\'' }, { "&#x2F;", '/' },
		{ "&#47;", '/' },
	};
	size_t i = 0, o = 0, k, rl;

	while (i < n) {
		if (o + 1 >= outlen)
			fail_msg("attribute value too long");
		for (k = 0; s[i] == '&' && k < sizeof(refs) / sizeof(refs[0]);
		    k++) {
			rl = strlen(refs[k].ref);
			if (i + rl <= n && strncasecmp(s + i, refs[k].ref, rl) == 0)
				break;
		}
		if (s[i] == '&' && k < sizeof(refs) / sizeof(refs[0])) {
			out[o++] = refs[k].c;
			i += strlen(refs[k].ref);
		} else
			out[o++] = s[i++];
	}
	out[o] = '\0';
}

/*
 * The value of attribute name in the tag [tag, end) into out; 0, or -1
 * when the tag has no such attribute.
 */
static int
tag_attr(const char *tag, const char *end, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p, *v, *q;
	char quote;

	for (p = tag; p + nlen < end; p++) {
		if (!isspace((unsigned char)p[0]) ||
		    strncasecmp(p + 1, name, nlen) != 0)
			continue;
		v = p + 1 + nlen;
		if (v >= end || *v != '=') {
			if (v < end && (isspace((unsigned char)*v) || *v == '>' ||
			    *v == '/')) {
				out[0] = '\0';      /* a boolean attribute */
				return 0;
			}
			continue;
		}
		v++;
		quote = *v == '"' || *v == '\'' ? *v++ : '\0';
		for (q = v; q < end && (quote != '\0' ? *q != quote :
		    !isspace((unsigned char)*q) && *q != '>'); q++)
			;
		html_unescape(v, (size_t)(q - v), out, outlen);
		return 0;
	}
	return -1;
}

/* The end of the tag that starts at tag (its '>'), or NULL. */
static const char *
tag_end(const char *tag)
{
	const char *p;
	char quote = '\0';

	for (p = tag; *p != '\0'; p++) {
		if (quote != '\0') {
			if (*p == quote)
				quote = '\0';
		} else if (*p == '"' || *p == '\'')
			quote = *p;
		else if (*p == '>')
			return p;
	}
	return NULL;
}

/*
 * The next tag named tagname in [from, limit) (limit NULL: the end) whose
 * attribute attr equals value (attr NULL: any). Returns its '<' or NULL.
 */
static const char *
find_tag(const char *from, const char *limit, const char *tagname,
    const char *attr, const char *value)
{
	char open[32], v[WEB_MAX_VALUE];
	const char *p = from, *e;
	size_t olen;

	snprintf(open, sizeof(open), "<%s", tagname);
	olen = strlen(open);
	while ((p = strcasestr(p, open)) != NULL &&
	    (limit == NULL || p < limit)) {
		if (!isspace((unsigned char)p[olen]) && p[olen] != '>') {
			p += olen;
			continue;
		}
		e = tag_end(p);
		if (e == NULL)
			return NULL;
		if (attr == NULL || (tag_attr(p, e, attr, v, sizeof(v)) == 0 &&
		    strcmp(v, value) == 0))
			return p;
		p = e;
	}
	return NULL;
}

/* The value of the hidden input named name in [from, limit) into out. */
static void
input_value(const char *from, const char *limit, const char *name,
    char *out, size_t outlen)
{
	const char *t = find_tag(from, limit, "input", "name", name);

	if (t == NULL || tag_attr(t, tag_end(t), "value", out, outlen) != 0)
		fail_msg("no <input name=\"%s\" value=...> in the page", name);
}

/*
 * The number of optional-field checkboxes in [from, limit). The contract
 * names them name="field" (value: the field); the page names them
 * name="field:FIELD" value="1". Both count.
 */
static int
optional_field_boxes(const char *from, const char *limit)
{
	char name[256];
	const char *t;
	int n = 0;

	for (t = from; (t = find_tag(t, limit, "input", "type", "checkbox")) !=
	    NULL; t++) {
		if (tag_attr(t, tag_end(t), "name", name, sizeof(name)) == 0 &&
		    (strcmp(name, "field") == 0 ||
		    strncmp(name, "field:", 6) == 0))
			n++;
	}
	return n;
}

/* The body of the article of agreement SMARTSTART and where it ends. */
static const char *
smartstart_article(const struct it_resp *r, const char **end)
{
	const char *a = r->body != NULL ? strstr(r->body, SMARTSTART_ARTICLE) :
	    NULL;

	if (a == NULL)
		fail_msg("no <article " SMARTSTART_ARTICLE "> in: %.1500s",
		    r->body != NULL ? r->body : "");
	*end = strstr(a, "</article>");
	if (*end == NULL)
		fail_msg("the SmartStart article does not end");
	return a;
}

/* The query parameter name of url (URL-decoded) into out; 0 or -1. */
static int
query_param(const char *url, const char *name, char *out, size_t outlen)
{
	const char *p = strchr(url, '?'), *e;
	size_t nlen = strlen(name);
	char *dec;
	int dlen;

	if (p == NULL)
		return -1;
	for (p++; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = p + strcspn(p, "&#");
		if ((size_t)(e - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			dec = curl_easy_unescape(NULL, p + nlen + 1,
			    (int)(e - p - (ptrdiff_t)nlen - 1), &dlen);
			if (dec == NULL)
				return -1;
			it_fmt(out, outlen, "%s", dec);
			curl_free(dec);
			return 0;
		}
		if (*e == '#')
			break;
	}
	return -1;
}

/* Appends "&name=value" (value URL-encoded) to the form in out. */
static void
form_add(char *out, size_t outlen, const char *name, const char *value)
{
	char *enc = it_urlencode(value);
	size_t n = strlen(out);

	if (enc == NULL)
		fail_msg("cannot encode a form value");
	it_fmt(out + n, outlen - n, "%s%s=%s", n != 0 ? "&" : "", name, enc);
	free(enc);
}

/* ---- checks shared by several tests -------------------------------------- */

/* A Set-Cookie line: its cookie has a value and is not being deleted. */
static int
cookie_is_set(const char *line)
{
	const char *eq = strchr(line, '=');

	if (eq == NULL || eq[1] == ';' || eq[1] == '\0' || eq[1] == '\r')
		return 0;
	return strcasestr(line, "max-age=0") == NULL &&
	    strcasestr(line, "expires=thu, 01 jan 1970") == NULL;
}

/*
 * Calls check on each Set-Cookie value of r (NUL-terminated copies);
 * returns how many there were.
 */
static int
each_set_cookie(const struct it_resp *r, void (*check)(const char *))
{
	const char *p = r->headers, *eol;
	char line[WEB_MAX_VALUE];
	int n = 0;

	while (p != NULL && *p != '\0') {
		eol = strstr(p, "\r\n");
		if (eol == NULL)
			eol = p + strlen(p);
		if (strncasecmp(p, "set-cookie:", 11) == 0) {
			it_fmt(line, sizeof(line), "%.*s", (int)(eol - p - 11),
			    p + 11);
			if (check != NULL)
				check(line);
			n++;
		}
		p = *eol != '\0' ? eol + 2 : eol;
	}
	return n;
}

static void
check_cookie_httponly_secure(const char *c)
{
	if (strcasestr(c, "httponly") == NULL || strcasestr(c, "secure") == NULL)
		fail_msg("a cookie without HttpOnly and Secure: %s", c);
}

static int session_cookies;   /* counted by check_session_cookie */

static void
check_session_cookie(const char *c)
{
	check_cookie_httponly_secure(c);
	if (!cookie_is_set(c))
		return;
	session_cookies++;
	if (strcasestr(c, "samesite=strict") == NULL)
		fail_msg("the session cookie is not SameSite=Strict: %s", c);
}

/*
 * The page's Content-Security-Policy allows no script at all ('none' by
 * default, no 'unsafe-inline' or 'unsafe-eval'), no framing, forms only to
 * itself.
 */
static void
assert_csp(const struct it_resp *r)
{
	char csp[WEB_MAX_VALUE];
	const char *d, *e;
	size_t n;

	if (it_resp_header(r, "Content-Security-Policy", csp, sizeof(csp)) ==
	    NULL)
		fail_msg("HTTP %ld without a Content-Security-Policy", r->status);
	assert_contains(csp, "default-src 'none'");
	assert_contains(csp, "frame-ancestors 'none'");
	assert_contains(csp, "form-action 'self'");
	for (d = csp; *d != '\0'; d = e + (*e == ';')) {
		e = d + strcspn(d, ";");
		while (*d == ' ')
			d++;
		n = (size_t)(e - d);
		if ((strncmp(d, "script-src", 10) == 0 ||
		    strncmp(d, "default-src", 11) == 0) &&
		    (memmem(d, n, "'unsafe-inline'", 15) != NULL ||
		    memmem(d, n, "'unsafe-eval'", 13) != NULL))
			fail_msg("scripts allowed inline or by eval: %.*s",
			    (int)n, d);
	}
}

/* ---- the sign-in flow ---------------------------------------------------- */

/* GET /login; out gets the dev authorize URL it redirects to. */
static void
login_redirect(struct web *w, char *out, size_t outlen)
{
	struct it_resp r;

	web_req(w, "/login", NULL, &r);
	assert_status(&r, 303);
	each_set_cookie(&r, check_cookie_httponly_secure);
	location_of(w, &r, out, outlen);
	it_resp_free(&r);
}

/*
 * Goes from /login through the dev issuer's sign-in page and submits its
 * form as subject with fault ("none" for a good sign-in). callback gets
 * the /callback URL the issuer sends the browser to (not yet visited).
 */
static void
authorize(struct web *w, const char *subject, const char *fault,
    char *callback, size_t cblen)
{
	char url[WEB_MAX_VALUE], action[WEB_MAX_VALUE], method[16],
	    name[128], value[WEB_MAX_VALUE], type[32], form[WEB_MAX_FORM] = "";
	const char *f, *fe, *t, *te;
	struct it_resp r;

	login_redirect(w, url, sizeof(url));
	web_req(w, url, NULL, &r);
	assert_status(&r, 200);
	assert_csp(&r);
	f = find_tag(r.body, NULL, "form", NULL, NULL);
	if (f == NULL)
		fail_msg("no form on the sign-in page: %.1500s", r.body);
	fe = strstr(f, "</form>");
	assert_non_null(fe);
	if (tag_attr(f, tag_end(f), "method", method, sizeof(method)) != 0)
		it_fmt(method, sizeof(method), "get");
	if (strcasecmp(method, "post") != 0)
		fail_msg("the sign-in form is sent by %s, not POST", method);
	if (tag_attr(f, tag_end(f), "action", action, sizeof(action)) != 0 ||
	    action[0] == '\0')
		it_fmt(action, sizeof(action), "%s", url);
	for (t = f; (t = find_tag(t + 1, fe, "input", NULL, NULL)) != NULL;) {
		te = tag_end(t);
		if (tag_attr(t, te, "type", type, sizeof(type)) != 0 ||
		    strcasecmp(type, "hidden") != 0 ||
		    tag_attr(t, te, "name", name, sizeof(name)) != 0)
			continue;
		if (tag_attr(t, te, "value", value, sizeof(value)) != 0)
			value[0] = '\0';
		form_add(form, sizeof(form), name, value);
	}
	if (find_tag(f, fe, "button", "value", subject) == NULL)
		fail_msg("no button for %s on the sign-in page", subject);
	form_add(form, sizeof(form), "fault", fault);
	form_add(form, sizeof(form), "subject", subject);
	it_resp_free(&r);
	web_req(w, action, form, &r);
	if (r.status != 302 && r.status != 303)
		assert_status(&r, 303);
	location_of(w, &r, callback, cblen);
	if (strncmp(callback, "/callback?", 10) != 0)
		fail_msg("the dev issuer sends the browser to %s, not /callback",
		    callback);
	it_resp_free(&r);
}

/* A complete good sign-in as subject; fails the test otherwise. */
static void
sign_in(struct web *w, const char *subject)
{
	char cb[WEB_MAX_VALUE];
	struct it_resp r;

	authorize(w, subject, "none", cb, sizeof(cb));
	web_req(w, cb, NULL, &r);
	assert_status(&r, 200);
	assert_contains(r.body, "You are signed in");
	it_resp_free(&r);
}

/* GET / as a signed-in citizen: 200; csrf gets the page's token. */
static void
home(struct web *w, struct it_resp *r, char *csrf, size_t csrflen)
{
	web_req(w, "/", NULL, r);
	assert_status(r, 200);
	if (csrf != NULL)
		input_value(r->body, NULL, "csrf", csrf, csrflen);
}

/*
 * After a 303 in r (freed here): GET its Location as a browser would, into
 * r, expecting 200 (the page with the flash message).
 */
static void
follow_see_other(struct web *w, struct it_resp *r)
{
	char loc[WEB_MAX_VALUE];

	assert_status(r, 303);
	location_of(w, r, loc, sizeof(loc));
	it_resp_free(r);
	web_req(w, loc, NULL, r);
	assert_status(r, 200);
}

/* Gives consent to SMARTSTART through the page; id gets the consent id. */
static void
grant_in_page(struct web *w, char *id, size_t idlen)
{
	char csrf[256], form[1024] = "", *p;
	const char *a, *ae;
	struct it_resp r;

	home(w, &r, csrf, sizeof(csrf));
	it_resp_free(&r);
	form_add(form, sizeof(form), "csrf", csrf);
	form_add(form, sizeof(form), "agreement", SMARTSTART);
	web_req(w, "/ui/consents", form, &r);
	assert_status(&r, 303);
	it_resp_free(&r);
	home(w, &r, NULL, 0);
	a = smartstart_article(&r, &ae);
	p = strstr(a, "href=\"/ui/revoke/");
	if (p == NULL || p > ae)
		fail_msg("no revoke link after the grant: %.1500s", a);
	it_fmt(id, idlen, "%.*s", (int)strcspn(p + 17, "\""), p + 17);
	it_resp_free(&r);
}

/* The state of consent id as the API shows it to subject. */
static void
api_consent_state(struct it_server *s, const char *subject, const char *id,
    char *state, size_t statelen)
{
	const char *tok = it_citizen_token(s, subject, 0);
	struct it_resp r;
	char path[256];

	assert_non_null(tok);
	it_fmt(path, sizeof(path), "/v1/consents/%s", id);
	it_get(s, NULL, tok, path, &r);
	assert_status(&r, 200);
	it_fmt(state, statelen, "%s", it_jstr(r.json, "state"));
	it_resp_free(&r);
}

/* ---- tests --------------------------------------------------------------- */

IT_TEST(home_without_session_is_303_to_login)
{
	struct web w;
	struct it_resp r;
	char loc[WEB_MAX_VALUE];

	web_open(&w, s);
	web_req(&w, "/", NULL, &r);
	assert_status(&r, 303);
	location_of(&w, &r, loc, sizeof(loc));
	assert_string_equal(loc, "/login");
	it_resp_free(&r);
	web_close(&w);
}

IT_TEST(login_is_303_to_dev_authorize_with_code_flow_pkce_state_and_nonce)
{
	char url[WEB_MAX_VALUE], url2[WEB_MAX_VALUE], v[WEB_MAX_VALUE],
	    v2[WEB_MAX_VALUE];
	static const char *const random_params[] = { "state", "nonce",
		"code_challenge" };
	struct web w;
	size_t i;

	web_open(&w, s);
	login_redirect(&w, url, sizeof(url));
	login_redirect(&w, url2, sizeof(url2));
	if (strncmp(url, "/dev/authorize?", 15) != 0)
		fail_msg("/login redirects to %s", url);
	assert_int_equal(query_param(url, "response_type", v, sizeof(v)), 0);
	assert_string_equal(v, "code");
	assert_int_equal(query_param(url, "code_challenge_method", v,
	    sizeof(v)), 0);
	assert_string_equal(v, "S256");
	assert_int_equal(query_param(url, "code_challenge", v, sizeof(v)), 0);
	assert_int_equal(strlen(v), 43);   /* base64url of SHA-256 */
	assert_int_equal(query_param(url, "scope", v, sizeof(v)), 0);
	assert_contains(v, "openid");
	assert_int_equal(query_param(url, "redirect_uri", v, sizeof(v)), 0);
	it_fmt(v2, sizeof(v2), "%s/callback", s->base);
	assert_string_equal(v, v2);
	/* state, nonce and the PKCE challenge are new for every sign-in. */
	for (i = 0; i < sizeof(random_params) / sizeof(random_params[0]); i++) {
		assert_int_equal(query_param(url, random_params[i], v,
		    sizeof(v)), 0);
		assert_int_equal(query_param(url2, random_params[i], v2,
		    sizeof(v2)), 0);
		if (strlen(v) < 16)
			fail_msg("%s is too short to be unguessable: %s",
			    random_params[i], v);
		assert_string_not_equal(v, v2);
	}
	web_close(&w);
}

IT_TEST(dev_sign_in_page_offers_test_citizens_and_faults)
{
	static const char *const subjects[] = { "alice-test", "bob-test",
		"carol-test" };
	static const char *const faults[] = { "none", "bad_signature",
		"wrong_audience", "wrong_nonce", "expired" };
	char url[WEB_MAX_VALUE], name[64];
	const char *f, *sel, *t;
	struct it_resp r;
	struct web w;
	size_t i;

	web_open(&w, s);
	login_redirect(&w, url, sizeof(url));
	web_req(&w, url, NULL, &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "text/html");
	f = find_tag(r.body, NULL, "form", NULL, NULL);
	assert_non_null(f);
	for (i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		t = find_tag(f, NULL, "button", "value", subjects[i]);
		if (t == NULL)
			fail_msg("no button for %s: %.1500s", subjects[i], f);
		assert_int_equal(tag_attr(t, tag_end(t), "name", name,
		    sizeof(name)), 0);
		assert_string_equal(name, "subject");
	}
	sel = find_tag(f, NULL, "select", "name", "fault");
	assert_non_null(sel);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		if (find_tag(sel, strstr(sel, "</select>"), "option", "value",
		    faults[i]) == NULL)
			fail_msg("no fault option %s", faults[i]);
	it_resp_free(&r);
	web_close(&w);
}

IT_TEST(sign_in_sets_a_session_cookie_httponly_secure_samesite_strict)
{
	char cb[WEB_MAX_VALUE];
	struct it_resp r;
	struct web w;

	web_open(&w, s);
	authorize(&w, "alice-test", "none", cb, sizeof(cb));
	web_req(&w, cb, NULL, &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "text/html");
	assert_contains(r.body, "You are signed in");
	assert_contains(r.body, "<a href=\"/\">Continue</a>");
	if (strcasestr(r.body, "http-equiv=\"refresh\"") == NULL)
		fail_msg("no meta refresh on the callback page: %.1500s", r.body);
	assert_csp(&r);
	session_cookies = 0;
	each_set_cookie(&r, check_session_cookie);
	if (session_cookies == 0)
		fail_msg("the callback set no session cookie: %.1500s", r.headers);
	it_resp_free(&r);
	home(&w, &r, NULL, 0);
	it_resp_free(&r);
	web_close(&w);
}

IT_TEST(home_lists_the_agreements_under_a_strict_csp)
{
	char csrf[256], v[256];
	const char *a, *ae, *f;
	struct it_resp r;
	struct web w;

	web_open(&w, s);
	sign_in(&w, "alice-test");
	home(&w, &r, csrf, sizeof(csrf));
	assert_string_equal(r.ctype, "text/html");
	assert_csp(&r);
	assert_contains(r.body, "<html lang=\"en\"");
	assert_contains(r.body, "lang=\"mi\"");
	assert_contains(r.body, "<main id=\"main\"");
	assert_contains(r.body, "<h1");
	assert_contains(r.body, "id=\"agreements\"");
	assert_contains(r.body, "id=\"usage\"");
	assert_contains(r.body, "No one has used your data yet.");
	assert_contains(r.body, "/static/site.css");
	if (strcasestr(r.body, "<script") != NULL)
		fail_msg("the page has a <script>");
	a = smartstart_article(&r, &ae);
	assert_non_null(find_tag(a, ae, "h3", NULL, NULL));
	assert_non_null(find_tag(a, ae, "dl", NULL, NULL));
	assert_non_null(find_tag(a, ae, "p", "class", "consent-state"));
	assert_contains(a, "No consent given");
	f = find_tag(a, ae, "form", "action", "/ui/consents");
	assert_non_null(f);
	assert_int_equal(tag_attr(f, tag_end(f), "method", v, sizeof(v)), 0);
	assert_string_equal(v, "post");
	input_value(f, ae, "agreement", v, sizeof(v));
	assert_string_equal(v, SMARTSTART);
	input_value(f, ae, "csrf", v, sizeof(v));
	assert_non_null(find_tag(f, ae, "input", "name", "expires_on"));
	assert_int_equal(optional_field_boxes(f, ae), 2);  /* sex, birth place */
	assert_non_null(find_tag(r.body, NULL, "form", "action", "/logout"));
	if (strlen(csrf) < 16)
		fail_msg("the csrf token is too short: %s", csrf);
	it_resp_free(&r);
	web_req(&w, "/static/site.css", NULL, &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "text/css");
	it_resp_free(&r);
	web_close(&w);
}

IT_TEST(grant_needs_the_right_csrf_token_403_without_it_303_with_it)
{
	char csrf[256], form[1024], id[128], state[32];
	struct it_resp r;
	struct web w;
	const char *tok = it_citizen_token(s, "alice-test", 0);
	json_t *list;
	size_t i, n = 0;

	web_open(&w, s);
	sign_in(&w, "alice-test");
	home(&w, &r, csrf, sizeof(csrf));
	it_resp_free(&r);

	form[0] = '\0';
	form_add(form, sizeof(form), "csrf", "forged-0123456789abcdef0123456789");
	form_add(form, sizeof(form), "agreement", SMARTSTART);
	web_req(&w, "/ui/consents", form, &r);
	assert_status(&r, 403);
	it_resp_free(&r);

	form[0] = '\0';
	form_add(form, sizeof(form), "agreement", SMARTSTART);
	web_req(&w, "/ui/consents", form, &r);
	assert_status(&r, 403);
	it_resp_free(&r);

	/* Neither refused attempt left a consent behind. */
	assert_non_null(tok);
	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "consents")), 0);
	it_resp_free(&r);

	form[0] = '\0';
	form_add(form, sizeof(form), "csrf", csrf);
	form_add(form, sizeof(form), "agreement", SMARTSTART);
	web_req(&w, "/ui/consents", form, &r);
	follow_see_other(&w, &r);
	assert_contains(r.body, "id=\"flash\"");
	assert_contains(r.body, "Consent given.");
	it_resp_free(&r);

	it_get(s, NULL, tok, "/v1/consents", &r);
	assert_status(&r, 200);
	list = json_object_get(r.json, "consents");
	for (i = 0; i < json_array_size(list); i++) {
		json_t *c = json_array_get(list, i);

		if (strcmp(it_jstr(c, "agreement"), SMARTSTART) == 0 &&
		    strcmp(it_jstr(c, "state"), "active") == 0) {
			it_fmt(id, sizeof(id), "%s", it_jstr(c, "id"));
			n++;
		}
	}
	assert_int_equal(n, 1);
	it_resp_free(&r);
	api_consent_state(s, "alice-test", id, state, sizeof(state));
	assert_string_equal(state, "active");
	web_close(&w);
}

IT_TEST(revoke_needs_the_right_csrf_token_and_the_owners_session)
{
	char id[128], path[256], form[1024], csrf[256], other_csrf[256],
	    state[32], v[64];
	const char *f;
	struct web owner, other;
	struct it_resp r;

	web_open(&owner, s);
	web_open(&other, s);
	sign_in(&owner, "bob-test");
	sign_in(&other, "carol-test");
	grant_in_page(&owner, id, sizeof(id));
	it_fmt(path, sizeof(path), "/ui/revoke/%s", id);

	/* The confirmation page: a POST form back to the same path. */
	web_req(&owner, path, NULL, &r);
	assert_status(&r, 200);
	assert_csp(&r);
	f = find_tag(r.body, NULL, "form", "action", path);
	if (f == NULL)
		fail_msg("no <form action=\"%s\">: %.1500s", path, r.body);
	assert_int_equal(tag_attr(f, tag_end(f), "method", v, sizeof(v)), 0);
	assert_string_equal(v, "post");
	assert_contains(f, "Yes, revoke my consent");
	input_value(f, NULL, "csrf", csrf, sizeof(csrf));
	it_resp_free(&r);

	form[0] = '\0';
	form_add(form, sizeof(form), "csrf", "forged-0123456789abcdef0123456789");
	web_req(&owner, path, form, &r);
	assert_status(&r, 403);
	it_resp_free(&r);
	web_req(&owner, path, "", &r);
	assert_status(&r, 403);
	it_resp_free(&r);

	/* Another citizen, with her own valid token, cannot revoke it. */
	home(&other, &r, other_csrf, sizeof(other_csrf));
	it_resp_free(&r);
	form[0] = '\0';
	form_add(form, sizeof(form), "csrf", other_csrf);
	web_req(&other, path, form, &r);
	if (r.status < 400)
		fail_msg("another citizen's revoke answered %ld", r.status);
	it_resp_free(&r);
	api_consent_state(s, "bob-test", id, state, sizeof(state));
	assert_string_equal(state, "active");

	form[0] = '\0';
	form_add(form, sizeof(form), "csrf", csrf);
	web_req(&owner, path, form, &r);
	follow_see_other(&owner, &r);
	assert_contains(r.body, "id=\"flash\"");
	assert_contains(r.body, "Consent revoked.");
	assert_contains(r.body, "id=\"revocations\"");
	it_resp_free(&r);
	api_consent_state(s, "bob-test", id, state, sizeof(state));
	assert_string_equal(state, "revoked");
	web_close(&owner);
	web_close(&other);
}

IT_TEST(each_injected_fault_refuses_sign_in_with_401_saying_why)
{
	static const struct { const char *fault, *word; } cases[] = {
		{ "bad_signature", "signature" },
		{ "wrong_audience", "audience" },
		{ "wrong_nonce", "nonce" },
		{ "expired", "expired" },
	};
	char cb[WEB_MAX_VALUE];
	struct it_resp r;
	struct web w;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		web_open(&w, s);
		authorize(&w, "carol-test", cases[i].fault, cb, sizeof(cb));
		web_req(&w, cb, NULL, &r);
		if (r.status != 401)
			fail_msg("fault %s: HTTP %ld, expected 401: %.1500s",
			    cases[i].fault, r.status, r.body);
		assert_string_equal(r.ctype, "text/html");
		if (strcasestr(r.body, cases[i].word) == NULL)
			fail_msg("fault %s: the page does not say \"%s\": %.1500s",
			    cases[i].fault, cases[i].word, r.body);
		assert_csp(&r);
		it_resp_free(&r);
		web_req(&w, "/", NULL, &r);
		assert_status(&r, 303);         /* still no session */
		it_resp_free(&r);
		web_close(&w);
	}
}

IT_TEST(replayed_authorization_code_is_refused)
{
	char cb[WEB_MAX_VALUE];
	struct web w, thief;
	struct it_resp r;

	web_open(&w, s);
	web_open(&thief, s);
	authorize(&w, "carol-test", "none", cb, sizeof(cb));
	web_req(&w, cb, NULL, &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	web_req(&w, cb, NULL, &r);
	if (r.status < 400 || r.status >= 500 ||
	    strstr(r.body, "You are signed in") != NULL)
		fail_msg("a replayed code answered %ld: %.1500s", r.status,
		    r.body);
	it_resp_free(&r);
	web_req(&thief, cb, NULL, &r);
	if (r.status < 400 || r.status >= 500)
		fail_msg("a replayed code in another browser answered %ld",
		    r.status);
	it_resp_free(&r);
	web_req(&thief, "/", NULL, &r);
	assert_status(&r, 303);
	it_resp_free(&r);
	web_close(&w);
	web_close(&thief);
}

IT_TEST(callback_with_an_unknown_state_is_refused)
{
	char cb[WEB_MAX_VALUE], code[512], forged[WEB_MAX_VALUE];
	struct it_resp r;
	struct web w;

	web_open(&w, s);
	authorize(&w, "carol-test", "none", cb, sizeof(cb));
	assert_int_equal(query_param(cb, "code", code, sizeof(code)), 0);
	it_fmt(forged, sizeof(forged), "/callback?code=%s&state=%s", code,
	    "unknown-state-0123456789abcdef");
	web_req(&w, forged, NULL, &r);
	if (r.status < 400 || r.status >= 500 ||
	    strstr(r.body, "You are signed in") != NULL)
		fail_msg("a callback with an unknown state answered %ld: %.1500s",
		    r.status, r.body);
	it_resp_free(&r);
	web_req(&w, "/", NULL, &r);
	assert_status(&r, 303);
	it_resp_free(&r);
	web_close(&w);
}

/*
 * Carol's consent is used by ird: the transfer shows under "Who used my
 * data" with a JSON inclusion proof; after she revokes, "My revocations"
 * says whether dia has fetched the token status list since ("not yet",
 * then "seen").
 */
IT_TEST(transfer_shows_with_a_proof_and_revocation_shows_when_dia_saw_it)
{
	static const char *const fields[] = { "child.given_names",
		"child.birth_date", NULL };
	char id[128], jti[256], path[320], status_path[512], csrf[256],
	    form[512] = "";
	const char *tok, *uri;
	struct it_resp r;
	struct web w;
	json_t *claims;
	int64_t end;
	int seen = 0;

	web_open(&w, s);
	sign_in(&w, "carol-test");
	grant_in_page(&w, id, sizeof(id));
	it_token(s, "ird", SMARTSTART, "carol-test", "issue-ird-number", fields,
	    &r);
	assert_status(&r, 200);
	tok = it_jstr(r.json, "access_token");
	claims = it_jwt_part(tok, 1);
	assert_non_null(claims);
	it_fmt(jti, sizeof(jti), "%s", it_jstr(claims, "jti"));
	uri = json_string_value(json_object_get(json_object_get(json_object_get(
	    claims, "status"), "status_list"), "uri"));
	if (uri == NULL || strncmp(uri, s->base, strlen(s->base)) != 0)
		fail_msg("the token's status list URI is not this broker's: %s",
		    uri != NULL ? uri : "(none)");
	it_fmt(status_path, sizeof(status_path), "%s", uri + strlen(s->base));
	json_decref(claims);
	it_resp_free(&r);

	home(&w, &r, csrf, sizeof(csrf));
	it_fmt(path, sizeof(path), "/ui/proof/%s", jti);
	assert_contains(r.body, path);
	assert_contains(r.body, "Check proof");
	if (strstr(r.body, "No one has used your data yet.") != NULL)
		fail_msg("the transfer is not shown");
	it_resp_free(&r);
	/* Until the log's next checkpoint the proof answers 409 "Not yet". */
	for (end = it_now_ms() + PROOF_WAIT_MS;; it_sleep_ms(200)) {
		web_req(&w, path, NULL, &r);
		if (r.status != 409 || it_now_ms() >= end)
			break;
		it_resp_free(&r);
	}
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(r.json);
	assert_true(json_is_array(json_object_get(r.json, "hashes")));
	assert_true(it_jint(r.json, "index") >= 0);
	assert_true(it_jint(r.json, "size") > it_jint(r.json, "index"));
	assert_non_null(json_object_get(r.json, "entry"));
	assert_contains(r.body, "checkpoint");
	it_resp_free(&r);

	it_fmt(path, sizeof(path), "/ui/revoke/%s", id);
	form_add(form, sizeof(form), "csrf", csrf);
	web_req(&w, path, form, &r);
	follow_see_other(&w, &r);
	assert_contains(r.body, "Consent revoked.");
	assert_contains(r.body, "dia: not yet");
	it_resp_free(&r);
	it_get(s, "dia", NULL, status_path, &r);   /* dia checks the list */
	assert_status(&r, 200);
	it_resp_free(&r);
	/* The fetch is recorded after the answer: poll briefly. */
	for (end = it_now_ms() + 3000; !seen && it_now_ms() < end;
	    it_sleep_ms(100)) {
		home(&w, &r, NULL, 0);
		seen = strstr(r.body, "dia: seen") != NULL;
		it_resp_free(&r);
	}
	if (!seen)
		fail_msg("\"dia: seen\" not shown after dia fetched %s",
		    status_path);
	web_close(&w);
}

IT_TEST(sign_out_needs_the_csrf_token_and_ends_the_session)
{
	char csrf[256], form[512] = "";
	struct it_resp r;
	struct web w;

	web_open(&w, s);
	sign_in(&w, "carol-test");
	home(&w, &r, csrf, sizeof(csrf));
	it_resp_free(&r);
	web_req(&w, "/logout", "", &r);             /* no csrf: refused */
	assert_status(&r, 403);
	it_resp_free(&r);
	home(&w, &r, NULL, 0);                      /* still signed in */
	it_resp_free(&r);
	form_add(form, sizeof(form), "csrf", csrf);
	web_req(&w, "/logout", form, &r);
	if (r.status != 200 && r.status != 303)   /* a page, or back to / */
		assert_status(&r, 303);
	it_resp_free(&r);
	web_req(&w, "/", NULL, &r);
	assert_status(&r, 303);
	it_resp_free(&r);
	web_close(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(home_without_session_is_303_to_login),
		cmocka_unit_test(
		    login_is_303_to_dev_authorize_with_code_flow_pkce_state_and_nonce),
		cmocka_unit_test(dev_sign_in_page_offers_test_citizens_and_faults),
		cmocka_unit_test(
		    sign_in_sets_a_session_cookie_httponly_secure_samesite_strict),
		cmocka_unit_test(home_lists_the_agreements_under_a_strict_csp),
		cmocka_unit_test(
		    grant_needs_the_right_csrf_token_403_without_it_303_with_it),
		cmocka_unit_test(
		    revoke_needs_the_right_csrf_token_and_the_owners_session),
		cmocka_unit_test(
		    each_injected_fault_refuses_sign_in_with_401_saying_why),
		cmocka_unit_test(replayed_authorization_code_is_refused),
		cmocka_unit_test(callback_with_an_unknown_state_is_refused),
		cmocka_unit_test(
		    transfer_shows_with_a_proof_and_revocation_shows_when_dia_saw_it),
		cmocka_unit_test(sign_out_needs_the_csrf_token_and_ends_the_session),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/web", tests,
	    web_group_setup, it_group_teardown));
}
