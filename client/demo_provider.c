/*
 * demo-provider: a provider (party "dia", holder of birth records) that
 * releases a record's fields over mutual TLS only to the holder of a valid
 * transfer token, checked with libconsent. Of this project it uses only the
 * public header consent.h, as an agency's own server would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "consent.h"

#define DP_PROVIDER "dia"
#define DP_DEFAULT_LISTEN "127.0.0.1:8444"
#define DP_RECORDS_REL "client/demo-records.json"
#define DP_REPLAY_REL "demo-provider-replay"
#define DP_JWKS_PATH "/.well-known/jwks.json"
#define DP_RECORDS_ROUTE "/v1/records/"

/* Bounds. A token is at most 16 KiB (the verifier refuses longer ones). */
#define DP_MAX_HEADER_BYTES (32 * 1024)
#define DP_MAX_BODY_BYTES 1024          /* GET only: nothing to read */
#define DP_REQUEST_TIMEOUT_S 10         /* idle read/write per connection */
#define DP_BACKLOG 128
#define DP_MAX_RECORDS_BYTES (1L << 20) /* the records file */
#define DP_MAX_RECORDS 10000
#define DP_MAX_SUBJECT 256              /* bytes of a decoded subject */
#define DP_MAX_FIELDS 64                /* names in ?fields= */
#define DP_MAX_FIELDS_PARAM 4096        /* bytes of ?fields= */
#define DP_MAX_CONF_LINE 4096
#define DP_MAX_URL 1024
#define DP_DETAIL_MAX 1024
#define DP_JWKS_TIMEOUT_MS 3000         /* bounds a stall of the one loop */

/* Command-line options; strings borrowed from argv. */
struct opts {
	const char *data;
	const char *broker;
	const char *listen;
	const char *records;
	const char *issuer;
	const char *replay_dir;
};

/* Everything the server owns; built by main, freed by dp_free. */
struct dp {
	struct event_base *base;
	struct evhttp *http;
	struct event *sigterm, *sigint;
	SSL_CTX *tls;
	consent_verifier *v;
	json_t *records;          /* subject -> {field: value} */
	int fd;                   /* the listener until evhttp owns it */
	int signo;                /* the signal that ended the loop */
};

/* One request while it is handled (on the stack of on_request). */
struct rq {
	struct dp *dp;
	struct evhttp_request *req;
	const char *method;
	const char *route;        /* for the log: a template, never a subject */
	const char *path;         /* the raw path, logged for unknown routes */
	const char *error;        /* stable code of a refusal, or NULL */
	char client[128];         /* the token's client_id once verified */
	int released;             /* number of fields released */
	struct timespec t0;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: demo-provider --data DIR --broker URL [--listen HOST:PORT]\n"
	    "           [--records FILE] [--issuer ISS] [--replay-dir DIR2]\n"
	    "\n"
	    "A demonstration provider: the Department of Internal Affairs (party\n"
	    "\"dia\"), holder of birth records. GET /v1/records/{subject}?fields=a,b\n"
	    "with \"Authorization: Bearer <transfer token>\" answers the record's\n"
	    "fields that are both asked for (all when fields= is absent) and in the\n"
	    "token's scope, after libconsent has verified the token: signature by\n"
	    "the broker, issuer, audience \"dia\", lifetime, binding to the\n"
	    "presenting client certificate, and that it was not used before.\n"
	    "\n"
	    "  --data DIR         the development data directory (consentctl init --dev)\n"
	    "  --broker URL       the broker, e.g. https://127.0.0.1:8443; its key set\n"
	    "                     is fetched from URL" DP_JWKS_PATH " at start\n"
	    "  --listen HOST:PORT where to listen (default " DP_DEFAULT_LISTEN ")\n"
	    "  --records FILE     the records, JSON {subject: {field: value}}; default\n"
	    "                     ./" DP_RECORDS_REL ", else\n"
	    "                     <directory of this binary>/../" DP_RECORDS_REL "\n"
	    "  --issuer ISS       the expected token issuer; default: the \"issuer\"\n"
	    "                     line of DIR/consentd.conf\n"
	    "  --replay-dir DIR2  the replay cache (LMDB, created if missing);\n"
	    "                     default DIR/" DP_REPLAY_REL "\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "TLS. The development PKI makes one server certificate, the broker's\n"
	    "(DIR/pki/broker.crt|.key, for localhost and 127.0.0.1); this demo\n"
	    "serves it as its own identity (a real provider has its own). Client\n"
	    "certificates must chain to DIR/pki/ca.crt. The handshake admits a\n"
	    "client without one, so that /healthz works for probes; /v1/records\n"
	    "then answers 401 with error \"client_certificate\". Calls to the\n"
	    "broker (the key set) use DIR/pki/dia.crt|.key.\n"
	    "\n"
	    "Errors are application/problem+json with a stable \"error\" code:\n"
	    "401 missing_token (with WWW-Authenticate: Bearer), invalid_request,\n"
	    "client_certificate, malformed, bad_alg, unknown_key, bad_signature,\n"
	    "wrong_issuer, not_yet_valid, expired, binding, revoked, replayed;\n"
	    "403 wrong_audience, field_scope (fields were named and none is in\n"
	    "scope), subject_mismatch; 404 unknown_subject, not_found; 400\n"
	    "bad_request; 405 method_not_allowed; 500 store, internal.\n"
	    "A token that verifies is spent, even when the answer is then 403 or\n"
	    "404. One JSON line per request goes to stderr (no subjects, no\n"
	    "tokens). SIGTERM or SIGINT: clean exit with status 0.\n");
}

/* ---- small helpers ------------------------------------------------------ */

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* RFC 3339 UTC with milliseconds into out (32 bytes). */
static void
now_rfc3339(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char s[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03uZ", s,
	    (unsigned)(ts.tv_nsec / 1000000L) % 1000u);
}

/* dir + "/" + rel into out; 0, or -1 when it does not fit. */
static int
path_join(char *out, size_t outlen, const char *dir, const char *rel)
{
	int n = snprintf(out, outlen, "%s/%s", dir, rel);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/*
 * A JSON string of s. Messages may quote token content cut at a byte
 * count, which can split a UTF-8 sequence; such text is sent with every
 * byte outside printable ASCII replaced by '?'.
 */
static json_t *
json_text(const char *s)
{
	char buf[DP_DETAIL_MAX];
	json_t *j = json_string(s);
	size_t i;

	if (j != NULL)
		return j;
	snprintf(buf, sizeof(buf), "%s", s);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	return json_string(buf);
}

/* ---- replies and the request log ---------------------------------------- */

static void
log_request(const struct rq *rq, int status)
{
	char ts[32], *line;
	json_t *j;

	now_rfc3339(ts);
	j = json_pack("{s:s, s:s, s:s, s:i, s:f}", "time", ts, "method",
	    rq->method, "route", rq->route, "status", status, "ms",
	    ms_since(&rq->t0));
	if (j == NULL)
		return;
	if (rq->path != NULL) {
		char p[129];

		snprintf(p, sizeof(p), "%s", rq->path);
		json_object_set_new(j, "path", json_text(p));
	}
	if (rq->client[0] != '\0')
		json_object_set_new(j, "client", json_text(rq->client));
	if (rq->error != NULL)
		json_object_set_new(j, "error", json_string(rq->error));
	if (status == 200 && strcmp(rq->route, "/healthz") != 0)
		json_object_set_new(j, "released", json_integer(rq->released));
	line = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
	json_decref(j);
	if (line != NULL) {
		fprintf(stderr, "%s\n", line);
		free(line);
	}
}

static void
reply(struct rq *rq, int status, const char *ctype, const char *body,
    size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rq->req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (out != NULL)
		evbuffer_add(out, body, len);
	evhttp_send_reply(rq->req, status, NULL, out);
	if (out != NULL)
		evbuffer_free(out);
	log_request(rq, status);
}

/* Answers 200 application/json with body (a reference is taken). */
static void
reply_json(struct rq *rq, json_t *body)
{
	static const char oom[] = "{\"type\":\"about:blank\",\"title\":"
	    "\"Out of memory\",\"status\":503,\"error\":\"out_of_memory\"}";
	char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (s == NULL) {
		rq->error = "out_of_memory";
		reply(rq, 503, "application/problem+json", oom, sizeof(oom) - 1);
		return;
	}
	reply(rq, 200, "application/json", s, strlen(s));
	free(s);
}

/* An RFC 9457 problem answer with our stable "error" code. */
static void
problem(struct rq *rq, int status, const char *title, const char *code,
    const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:i}", "type", "about:blank",
	    "title", title, "status", status);
	char *s = NULL;

	rq->error = code;
	if (j != NULL) {
		json_object_set_new(j, "detail", json_text(detail));
		json_object_set_new(j, "error", json_string(code));
		s = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (s == NULL) {
		reply(rq, status, "application/problem+json", "{}", 2);
		return;
	}
	reply(rq, status, "application/problem+json", s, strlen(s));
	free(s);
}

static void
problemf(struct rq *rq, int status, const char *title, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
problemf(struct rq *rq, int status, const char *title, const char *code,
    const char *fmt, ...)
{
	char detail[DP_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	problem(rq, status, title, code, detail);
}

static void
set_www_authenticate(struct rq *rq, const char *error)
{
	char v[128];

	if (error != NULL)
		snprintf(v, sizeof(v), "Bearer realm=\"%s\", error=\"%s\"",
		    DP_PROVIDER, error);
	else
		snprintf(v, sizeof(v), "Bearer realm=\"%s\"", DP_PROVIDER);
	evhttp_add_header(evhttp_request_get_output_headers(rq->req),
	    "WWW-Authenticate", v);
}

/*
 * The HTTP status and stable error code for a failed verification. A
 * switch without default: a new consent_err is a compiler warning here.
 */
static int
verify_status(consent_err e, const char **code)
{
	switch (e) {
	case CONSENT_E_MALFORMED: *code = "malformed"; return 401;
	case CONSENT_E_BAD_ALG: *code = "bad_alg"; return 401;
	case CONSENT_E_UNKNOWN_KEY: *code = "unknown_key"; return 401;
	case CONSENT_E_BAD_SIGNATURE: *code = "bad_signature"; return 401;
	case CONSENT_E_WRONG_ISSUER: *code = "wrong_issuer"; return 401;
	case CONSENT_E_NOT_YET_VALID: *code = "not_yet_valid"; return 401;
	case CONSENT_E_EXPIRED: *code = "expired"; return 401;
	case CONSENT_E_BINDING: *code = "binding"; return 401;
	case CONSENT_E_REVOKED: *code = "revoked"; return 401;
	case CONSENT_E_REPLAYED: *code = "replayed"; return 401;
	case CONSENT_E_WRONG_AUDIENCE: *code = "wrong_audience"; return 403;
	case CONSENT_E_FIELD_SCOPE: *code = "field_scope"; return 403;
	case CONSENT_E_STORE: *code = "store"; return 500;
	case CONSENT_E_NOMEM: *code = "out_of_memory"; return 503;
	/* Not verification outcomes: a bug here or in the library. */
	case CONSENT_OK:
	case CONSENT_E_INVALID_ARG:
	case CONSENT_E_IO:
	case CONSENT_E_CONFIG:
	case CONSENT_E_NETWORK:
	case CONSENT_E_TIMEOUT:
	case CONSENT_E_DENIED:
	case CONSENT_E_HTTP:
		break;
	}
	*code = "internal";
	return 500;
}

/* ---- /v1/records/{subject} ---------------------------------------------- */

/* The TLS connection of a request, or NULL. */
static SSL *
request_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;

	if (evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	return bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
}

/*
 * The bearer token of "Authorization: Bearer <token>" (the scheme is
 * case-insensitive, RFC 9110 section 11.1), borrowed from the header; NULL
 * when the header is something else.
 */
static const char *
bearer_token(const char *h)
{
	const char *t;

	if (strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	t = h + 7;
	while (*t == ' ')
		t++;
	if (*t == '\0' || t[strcspn(t, " \t,")] != '\0')
		return NULL;
	return t;
}

/*
 * Splits the fields parameter (buf, modified) at commas into names. 0, or
 * -1 with a reason in err for an empty name or too many.
 */
static int
split_fields(char *buf, const char *names[DP_MAX_FIELDS], size_t *n,
    char *err, size_t errlen)
{
	char *p = buf, *comma;

	*n = 0;
	for (;;) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (*p == '\0') {
			snprintf(err, errlen, "fields: an empty field name "
			    "(fields=a,b,...)");
			return -1;
		}
		if (*n == DP_MAX_FIELDS) {
			snprintf(err, errlen, "fields: more than %d names",
			    DP_MAX_FIELDS);
			return -1;
		}
		names[(*n)++] = p;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* "a, b, c" of list into out, truncated with "..." when it does not fit. */
static void
join_list(char *out, size_t outlen, char *const *list, size_t n)
{
	size_t used = 0, i;
	int k;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		k = snprintf(out + used, outlen - used, "%s%s", i > 0 ? ", " : "",
		    list[i]);
		if (k < 0 || (size_t)k >= outlen - used) {
			if (outlen >= 4)
				snprintf(out + outlen - 4, 4, "...");
			return;
		}
		used += (size_t)k;
	}
}

/*
 * Reads ?fields= from query (NULL: none) into names, using *buf (new
 * string the caller frees). 0 (n is 0 when absent) or -1 with err.
 */
static int
parse_query(const char *query, char **buf, const char *names[DP_MAX_FIELDS],
    size_t *n, char *err, size_t errlen)
{
	struct evkeyvalq kv;
	struct evkeyval *e;
	const char *val = NULL;
	int rc = -1, seen = 0;

	*buf = NULL;
	*n = 0;
	if (query == NULL)
		return 0;
	/* It initializes kv, and leaves it empty on failure. */
	if (evhttp_parse_query_str(query, &kv) != 0) {
		snprintf(err, errlen, "the query string is not valid");
		goto out;
	}
	for (e = kv.tqh_first; e != NULL; e = e->next.tqe_next)
		if (strcmp(e->key, "fields") == 0) {
			val = e->value;
			seen++;
		}
	if (seen == 0) {
		rc = 0;
		goto out;
	}
	if (seen > 1) {
		snprintf(err, errlen, "fields: given more than once");
		goto out;
	}
	if (strlen(val) > DP_MAX_FIELDS_PARAM) {
		snprintf(err, errlen, "fields: longer than %d bytes",
		    DP_MAX_FIELDS_PARAM);
		goto out;
	}
	if ((*buf = strdup(val)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = split_fields(*buf, names, n, err, errlen);
out:
	evhttp_clear_headers(&kv);
	return rc;
}

static void
handle_record(struct rq *rq, const char *enc_subject, const char *query)
{
	struct consent_claims cl;
	const char *names[DP_MAX_FIELDS], *auth, *token, *code;
	char err[256], scope[512], *subject = NULL, *fbuf = NULL;
	unsigned char *der = NULL;
	size_t nnames = 0, slen = 0, i;
	json_t *record, *out, *val;
	int derlen, status, asked_in_scope = 0;
	consent_err rc;
	X509 *cert;
	SSL *ssl;
	long vr;

	memset(&cl, 0, sizeof(cl));
	rq->route = DP_RECORDS_ROUTE "{subject}";
	subject = evhttp_uridecode(enc_subject, 0, &slen);
	if (subject == NULL) {
		problem(rq, 503, "Out of memory", "out_of_memory",
		    "out of memory");
		goto out;
	}
	if (slen == 0 || strlen(subject) != slen || strchr(subject, '/')) {
		problem(rq, 404, "Not found", "not_found",
		    "no such resource: expected /v1/records/{subject}");
		goto out;
	}
	if (slen > DP_MAX_SUBJECT) {
		problemf(rq, 400, "Bad request", "bad_request",
		    "the subject is longer than %d bytes", DP_MAX_SUBJECT);
		goto out;
	}
	if (parse_query(query, &fbuf, names, &nnames, err, sizeof(err)) != 0) {
		problem(rq, 400, "Bad request", "bad_request", err);
		goto out;
	}
	auth = evhttp_find_header(evhttp_request_get_input_headers(rq->req),
	    "Authorization");
	if (auth == NULL) {
		set_www_authenticate(rq, NULL);
		problem(rq, 401, "Unauthorized", "missing_token",
		    "this resource needs \"Authorization: Bearer <transfer "
		    "token>\" from the consent broker");
		goto out;
	}
	if ((token = bearer_token(auth)) == NULL) {
		set_www_authenticate(rq, "invalid_request");
		problem(rq, 401, "Unauthorized", "invalid_request",
		    "the Authorization header is not \"Bearer <token>\"");
		goto out;
	}
	/* The verify callback admits every client (see tls_ctx): a record
	 * needs a certificate that chains to the federation CA. */
	ssl = request_ssl(rq->req);
	cert = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	if (cert == NULL) {
		set_www_authenticate(rq, NULL);
		problem(rq, 401, "Unauthorized", "client_certificate",
		    "no client certificate was presented: transfer tokens are "
		    "bound to the requester's certificate (mutual TLS)");
		goto out;
	}
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		set_www_authenticate(rq, NULL);
		problemf(rq, 401, "Unauthorized", "client_certificate",
		    "the client certificate does not chain to the federation "
		    "CA: %s", X509_verify_cert_error_string(vr));
		goto out;
	}
	derlen = i2d_X509(cert, &der);
	if (derlen <= 0) {
		problem(rq, 500, "Internal error", "internal",
		    "cannot encode the client certificate");
		goto out;
	}
	/* No field list: the scope is applied below, field by field, so that
	 * fields outside it are left out rather than the request refused. */
	rc = consent_verify(rq->dp->v, token, der, (size_t)derlen, NULL, 0,
	    &cl);
	if (rc != CONSENT_OK) {
		status = verify_status(rc, &code);
		if (status == 401)
			set_www_authenticate(rq, "invalid_token");
		problem(rq, status, consent_strerror(rc), code,
		    consent_verifier_detail(rq->dp->v));
		goto out;
	}
	snprintf(rq->client, sizeof(rq->client), "%s", cl.client_id);
	if (strcmp(cl.subject, subject) != 0) {
		problem(rq, 403, "Forbidden", "subject_mismatch",
		    "token is about another subject");
		goto out;
	}
	record = json_object_get(rq->dp->records, subject);
	if (record == NULL) {
		problem(rq, 404, "Not found", "unknown_subject",
		    "no birth record for this subject");
		goto out;
	}
	if ((out = json_object()) == NULL) {
		problem(rq, 503, "Out of memory", "out_of_memory",
		    "out of memory");
		goto out;
	}
	/* In scope order: scope ∩ asked (all of the scope when none asked). */
	for (i = 0; i < cl.nfields; i++) {
		if (nnames > 0 && !in_list(cl.fields[i], names, nnames))
			continue;
		asked_in_scope++;
		val = json_object_get(record, cl.fields[i]);
		if (val != NULL &&
		    json_object_set(out, cl.fields[i], val) == 0)
			rq->released++;
	}
	if (nnames > 0 && asked_in_scope == 0) {
		json_decref(out);
		join_list(scope, sizeof(scope), cl.fields, cl.nfields);
		problemf(rq, 403, consent_strerror(CONSENT_E_FIELD_SCOPE),
		    "field_scope", "none of the requested fields is in the "
		    "token's scope (%s)", scope);
		goto out;
	}
	reply_json(rq, out);
out:
	consent_claims_free(&cl);
	OPENSSL_free(der);
	free(fbuf);
	free(subject);
}

/* ---- request entry ------------------------------------------------------ */

static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "OTHER";
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct rq rq;

	memset(&rq, 0, sizeof(rq));
	clock_gettime(CLOCK_MONOTONIC, &rq.t0);
	rq.dp = arg;
	rq.req = req;
	rq.method = method_name(evhttp_request_get_command(req));
	rq.route = "other";
	if (path == NULL || path[0] != '/') {
		problem(&rq, 400, "Bad request", "bad_request",
		    "the request target must be an absolute path");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		rq.path = path;
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		    "GET");
		problem(&rq, 405, "Method not allowed", "method_not_allowed",
		    "only GET is served here");
		return;
	}
	if (strcmp(path, "/healthz") == 0) {
		rq.route = "/healthz";
		reply_json(&rq, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (strncmp(path, DP_RECORDS_ROUTE, strlen(DP_RECORDS_ROUTE)) == 0) {
		handle_record(&rq, path + strlen(DP_RECORDS_ROUTE),
		    evhttp_uri_get_query(uri));
		return;
	}
	rq.path = path;
	problem(&rq, 404, "Not found", "not_found",
	    "no such resource: this provider serves /v1/records/{subject} and "
	    "/healthz");
}

static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct dp *dp = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(dp->tls);

	if (ssl == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct dp *dp = arg;

	(void)what;
	dp->signo = (int)sig;
	event_base_loopexit(dp->base, NULL);
}

/* ---- start-up ----------------------------------------------------------- */

static int
verify_keep_going(int ok, X509_STORE_CTX *ctx)
{
	/* The handshake completes either way; /v1/records reads the result
	 * and refuses with a problem document, which beats a TLS alert and
	 * lets /healthz answer probes that carry no certificate. */
	(void)ok;
	(void)ctx;
	return 1;
}

static SSL_CTX *
tls_ctx(const char *cert, const char *key, const char *ca, char *err,
    size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: %s",
		    ERR_error_string(ERR_get_error(), NULL));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* As consentd: resumption by ticket only, no session cache
	 * (broker/server.c says why). */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "%s: cannot load the server certificate",
		    cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: cannot load the key (or it does not "
		    "match %s)", key, cert);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "%s: cannot load the CA certificate", ca);
		goto fail;
	}
	if ((names = SSL_load_client_CA_file(ca)) != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep_going);
	SSL_CTX_set_verify_depth(ctx, 4);
	/* Resumed sessions keep the verified peer certificate. */
	SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"demo-provider", 13);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/*
 * The "issuer = VALUE" line of a consentd.conf into out. 1 found, 0 no
 * such line, -1 with err on a missing or unreadable file, a line over
 * DP_MAX_CONF_LINE or a value that does not fit.
 */
static int
conf_issuer(const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char line[DP_MAX_CONF_LINE + 2], *k, *eq, *v, *end;
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s (is --data a directory made by "
		    "\"consentctl init --dev\"? or give --issuer)", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %d bytes",
			    path, lineno, DP_MAX_CONF_LINE);
			rc = -1;
			break;
		}
		for (k = line; *k == ' ' || *k == '\t'; k++)
			;
		if (*k == '#' || (eq = strchr(k, '=')) == NULL)
			continue;
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t');)
			end--;
		if ((size_t)(end - k) != strlen("issuer") ||
		    strncmp(k, "issuer", 6) != 0)
			continue;
		for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
			;
		end = v + strlen(v);
		while (end > v && (end[-1] == '\n' || end[-1] == '\r' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - v) >= outlen || end == v) {
			snprintf(err, errlen, "%s:%d: issuer is empty or too long",
			    path, lineno);
			rc = -1;
			break;
		}
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
		rc = 1;   /* the last one wins, as in consentd */
	}
	fclose(f);
	return rc;
}

/* The records file: given, ./client/..., or next to the binary. */
static int
find_records(const char *given, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (given != NULL) {
		if (snprintf(out, outlen, "%s", given) >= (int)outlen) {
			snprintf(err, errlen, "--records: path too long");
			return -1;
		}
		return 0;
	}
	if (access(DP_RECORDS_REL, R_OK) == 0) {
		snprintf(out, outlen, "%s", DP_RECORDS_REL);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		if (path_join(out, outlen, exe, "../" DP_RECORDS_REL) == 0 &&
		    access(out, R_OK) == 0)
			return 0;
	}
	snprintf(err, errlen, "no records file: not ./%s nor next to the "
	    "binary (../%s); give --records FILE", DP_RECORDS_REL,
	    DP_RECORDS_REL);
	return -1;
}

/* Loads and checks {subject: {field: "value", ...}, ...}. */
static json_t *
load_records(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	struct stat st;
	const char *subject, *field;
	json_t *doc, *rec, *val;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (st.st_size > DP_MAX_RECORDS_BYTES) {
		snprintf(err, errlen, "%s: larger than %ld bytes", path,
		    DP_MAX_RECORDS_BYTES);
		return NULL;
	}
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column,
		    je.text);
		return NULL;
	}
	if (!json_is_object(doc) || json_object_size(doc) > DP_MAX_RECORDS) {
		snprintf(err, errlen, "%s: want an object of at most %d "
		    "subjects", path, DP_MAX_RECORDS);
		goto fail;
	}
	json_object_foreach(doc, subject, rec) {
		if (!json_is_object(rec) || subject[0] == '\0' ||
		    strlen(subject) > DP_MAX_SUBJECT) {
			snprintf(err, errlen, "%s: \"%.64s\": want a non-empty "
			    "subject of at most %d bytes with an object of "
			    "fields", path, subject, DP_MAX_SUBJECT);
			goto fail;
		}
		json_object_foreach(rec, field, val)
			if (!json_is_string(val)) {
				snprintf(err, errlen, "%s: \"%.64s\".\"%.64s\": "
				    "not a string", path, subject, field);
				goto fail;
			}
	}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

/* A listening socket on HOST:PORT ("localhost" means 127.0.0.1). */
static int
listen_on(const char *hostport, char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	char buf[256];
	int sslen = (int)sizeof(ss), fd = -1, one = 1;
	const char *spec = hostport;

	if (strncmp(hostport, "localhost:", 10) == 0) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", hostport + 10);
		spec = buf;
	}
	memset(&ss, 0, sizeof(ss));
	if (strrchr(spec, ':') == NULL ||
	    evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss,
	    &sslen) != 0) {
		snprintf(err, errlen, "--listen: want HOST:PORT with an IP "
		    "address (e.g. 127.0.0.1:8444 or [::1]:8444), got \"%s\"",
		    hostport);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Accepted sockets inherit TCP_NODELAY from the listener (Linux). */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) != 0 ||
	    listen(fd, DP_BACKLOG) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0) {
		snprintf(err, errlen, "listen on %s: %s", hostport,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The bound address as "HOST:PORT" (the real port when 0 was asked). */
static void
bound_address(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "";
	unsigned port;

	out[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, outlen, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		/* ss is zeroed and filled by getsockname. */
		/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
		port = ntohs(a->sin_port);
		snprintf(out, outlen, "%s:%u", host, port);
	}
}

static void
dp_free(struct dp *dp)
{
	if (dp->sigterm != NULL)
		event_free(dp->sigterm);
	if (dp->sigint != NULL)
		event_free(dp->sigint);
	if (dp->http != NULL)
		evhttp_free(dp->http);    /* closes the connections too */
	if (dp->base != NULL)
		event_base_free(dp->base);
	if (dp->fd >= 0)
		close(dp->fd);
	SSL_CTX_free(dp->tls);
	consent_verifier_free(dp->v);
	json_decref(dp->records);
	memset(dp, 0, sizeof(*dp));
	dp->fd = -1;
}

/* Parses argv into o; 0, 1 for --help, or -1 after printing the error. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "broker", required_argument, NULL, 'b' },
		{ "listen", required_argument, NULL, 'l' },
		{ "records", required_argument, NULL, 'r' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "replay-dir", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->listen = DP_DEFAULT_LISTEN;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o->data = optarg; break;
		case 'b': o->broker = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'r': o->records = optarg; break;
		case 'i': o->issuer = optarg; break;
		case 'p': o->replay_dir = optarg; break;
		case 'h': return 1;
		case ':':
			fprintf(stderr, "demo-provider: %s needs a value\n",
			    argv[optind - 1]);
			goto bad;
		default:
			fprintf(stderr, "demo-provider: unknown option %s\n",
			    argv[optind - 1]);
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "demo-provider: unexpected argument \"%s\"\n",
		    argv[optind]);
		goto bad;
	}
	if (o->data == NULL || o->broker == NULL) {
		fprintf(stderr, "demo-provider: --data and --broker are "
		    "required\n");
		goto bad;
	}
	if (strncmp(o->broker, "https://", 8) != 0 || o->broker[8] == '\0') {
		fprintf(stderr, "demo-provider: --broker must be an https:// "
		    "URL, got \"%s\"\n", o->broker);
		goto bad;
	}
	if (o->issuer != NULL && o->issuer[0] == '\0') {
		fprintf(stderr, "demo-provider: --issuer is empty\n");
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "try 'demo-provider --help'\n");
	return -1;
}

int
main(int argc, char **argv)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], dcert[PATH_MAX],
	    dkey[PATH_MAX], replay[PATH_MAX], conf[PATH_MAX], records[PATH_MAX],
	    issuer[DP_MAX_URL], jwks[DP_MAX_URL + 32], broker[DP_MAX_URL],
	    detail[512], err[2 * PATH_MAX + 256], addr[INET6_ADDRSTRLEN + 16];
	struct consent_verifier_opts vo;
	struct opts o;
	struct dp dp;
	size_t n;
	int rc = 1, r;

	memset(&dp, 0, sizeof(dp));
	dp.fd = -1;
	switch (parse_args(argc, argv, &o)) {
	case 1:
		usage(stdout);
		return 0;
	case -1:
		return 2;
	default:
		break;
	}
	signal(SIGPIPE, SIG_IGN);
	if (path_join(cert, sizeof(cert), o.data, "pki/broker.crt") != 0 ||
	    path_join(key, sizeof(key), o.data, "pki/broker.key") != 0 ||
	    path_join(ca, sizeof(ca), o.data, "pki/ca.crt") != 0 ||
	    path_join(dcert, sizeof(dcert), o.data, "pki/dia.crt") != 0 ||
	    path_join(dkey, sizeof(dkey), o.data, "pki/dia.key") != 0 ||
	    path_join(conf, sizeof(conf), o.data, "consentd.conf") != 0 ||
	    (o.replay_dir != NULL ?
	    snprintf(replay, sizeof(replay), "%s", o.replay_dir) >=
	    (int)sizeof(replay) :
	    path_join(replay, sizeof(replay), o.data, DP_REPLAY_REL) != 0)) {
		fprintf(stderr, "demo-provider: --data or --replay-dir: path too "
		    "long\n");
		return 2;
	}
	if (snprintf(broker, sizeof(broker), "%s", o.broker) >=
	    (int)sizeof(broker)) {
		fprintf(stderr, "demo-provider: --broker: URL too long\n");
		return 2;
	}
	for (n = strlen(broker); n > 8 && broker[n - 1] == '/';)
		broker[--n] = '\0';
	snprintf(jwks, sizeof(jwks), "%s%s", broker, DP_JWKS_PATH);
	/* An explicit --issuer wins; else consentd's own configuration. */
	if (o.issuer != NULL) {
		if (snprintf(issuer, sizeof(issuer), "%s", o.issuer) >=
		    (int)sizeof(issuer)) {
			fprintf(stderr, "demo-provider: --issuer: too long\n");
			return 2;
		}
	} else if ((r = conf_issuer(conf, issuer, sizeof(issuer), err,
	    sizeof(err))) != 1) {
		if (r == 0)
			fprintf(stderr, "demo-provider: %s has no \"issuer = ...\" "
			    "line; give --issuer\n", conf);
		else
			fprintf(stderr, "demo-provider: %s\n", err);
		return 1;
	}
	if (find_records(o.records, records, sizeof(records), err,
	    sizeof(err)) != 0 ||
	    (dp.records = load_records(records, err, sizeof(err))) == NULL) {
		fprintf(stderr, "demo-provider: %s\n", err);
		goto out;
	}
	if ((dp.tls = tls_ctx(cert, key, ca, err, sizeof(err))) == NULL) {
		fprintf(stderr, "demo-provider: %s\n", err);
		goto out;
	}
	memset(&vo, 0, sizeof(vo));
	vo.provider = DP_PROVIDER;
	vo.issuer = issuer;
	vo.jwks_url = jwks;
	vo.ca_file = ca;
	vo.cert_file = dcert;
	vo.key_file = dkey;
	vo.replay_dir = replay;
	vo.timeout_ms = DP_JWKS_TIMEOUT_MS;
	if (consent_verifier_new(&vo, &dp.v, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "demo-provider: verifier (key set %s, replay "
		    "cache %s): %s\n", jwks, replay, detail);
		goto out;
	}
	if ((dp.fd = listen_on(o.listen, err, sizeof(err))) < 0) {
		fprintf(stderr, "demo-provider: %s\n", err);
		goto out;
	}
	dp.base = event_base_new();
	dp.http = dp.base != NULL ? evhttp_new(dp.base) : NULL;
	if (dp.http == NULL) {
		fprintf(stderr, "demo-provider: cannot create the event loop\n");
		goto out;
	}
	evhttp_set_bevcb(dp.http, make_bev, &dp);
	evhttp_set_gencb(dp.http, on_request, &dp);
	evhttp_set_timeout(dp.http, DP_REQUEST_TIMEOUT_S);
	evhttp_set_max_headers_size(dp.http, DP_MAX_HEADER_BYTES);
	evhttp_set_max_body_size(dp.http, DP_MAX_BODY_BYTES);
	/* Every method reaches on_request, which answers 405 in JSON. */
	evhttp_set_allowed_methods(dp.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	bound_address(dp.fd, addr, sizeof(addr));
	if (evhttp_accept_socket(dp.http, dp.fd) != 0) {
		fprintf(stderr, "demo-provider: cannot accept on %s\n",
		    o.listen);
		goto out;
	}
	dp.fd = -1;   /* evhttp's listener owns (and closes) it now */
	dp.sigterm = evsignal_new(dp.base, SIGTERM, on_signal, &dp);
	dp.sigint = evsignal_new(dp.base, SIGINT, on_signal, &dp);
	if (dp.sigterm == NULL || dp.sigint == NULL ||
	    event_add(dp.sigterm, NULL) != 0 || event_add(dp.sigint, NULL) != 0) {
		fprintf(stderr, "demo-provider: cannot handle signals\n");
		goto out;
	}
	fprintf(stderr, "{\"event\":\"listening\",\"listen\":\"%s\","
	    "\"provider\":\"%s\",\"records\":%zu}\n", addr, DP_PROVIDER,
	    json_object_size(dp.records));
	if (event_base_dispatch(dp.base) < 0) {
		fprintf(stderr, "demo-provider: event loop failed\n");
		goto out;
	}
	fprintf(stderr, "{\"event\":\"shutdown\",\"signal\":\"%s\"}\n",
	    dp.signo == SIGINT ? "SIGINT" : "SIGTERM");
	rc = 0;
out:
	dp_free(&dp);
	return rc;
}
