/*
 * HTTPS server: N worker threads, each with its own event base, evhttp and
 * listening socket (SO_REUSEPORT, so the kernel spreads connections over
 * them); TLS through bufferevent_openssl.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "http.h"
#include "web.h"
#include "jsonu.h"
#include "timeu.h"

struct worker {
	struct server *srv;
	int idx;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *done_ev;     /* writer completions arrive here */
	struct event *stop_ev;
	struct event *grace_ev;
	pthread_mutex_t mu;
	struct rq *done_head;      /* completed writes, linked via op.next */
	int stopping;
	long inflight;             /* requests being handled */
	long unflushed;            /* replies handed to evhttp, not yet sent */
	struct event *flush_ev;
	struct event *accept_ev;   /* re-enables accepting after a pause */
	int64_t accept_warned_us;  /* last "accept failed" line */
	int lfd;                   /* listening socket until evhttp owns it */
	long deadline_closed;      /* closed at the deadline, not yet logged */
	int64_t deadline_logged_us;  /* last "request_deadline" line */
	int started;
};

/*
 * A connection's whole-request deadline (evhttp 2.1 has only an idle
 * timeout, which every byte resets). A request must be read in full
 * within request_deadline_s of its first byte, the first one within
 * request_deadline_s of the accept (TLS handshake included); else the
 * connection is closed as if its read had timed out. While a request is
 * handled the clock stops; between requests the idle timeout
 * (request_timeout_s) rules as before, and a connection that sends bytes
 * that never become a request byte (a TLS record trickled, empty
 * records) is closed request_timeout_s + request_deadline_s after its
 * last reply.
 */
enum conn_state {
	CONN_READING,              /* a request's bytes are coming in */
	CONN_HANDLING,             /* read in full: a route has it */
	CONN_IDLE                  /* replied; waiting for the next request */
};

struct conn {
	struct worker *w;
	struct bufferevent *bev;
	struct event *deadline;
	enum conn_state state;
};

struct server {
	struct broker *b;
	int fd;                    /* the shared listening socket, or -1 */
	unsigned port;
	int nworkers;
	struct worker *workers;
	int grace_s;
	atomic_long conns;         /* open connections, all workers */
	long max_conns;            /* beyond this, requests get 503 */
};

static int peer_idx = -1;
static int conn_idx = -1;

/*
 * Out of descriptors, accept() fails at once every time the listening
 * socket is readable, and libevent would log each failure (tens of
 * thousands of lines a second, filling the disk). Instead a worker stops
 * accepting for ACCEPT_PAUSE_MS (the kernel queues new connections
 * meanwhile) and logs at most one line per ACCEPT_WARN_S.
 */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_WARN_S 10

/*
 * The listener's error callback gets evhttp's argument, not ours; it runs
 * on the worker's own thread, which set this when it started.
 */
static _Thread_local struct worker *accept_worker;

/* ---- connections and their deadline -------------------------------------- */

/* Log at most one "request_deadline" line per this many seconds. */
#define DEADLINE_LOG_S 10

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg);

/* A connection's SSL is freed with the connection: count it out. */
static void
conn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return;
	atomic_fetch_sub_explicit(&c->w->srv->conns, 1, memory_order_relaxed);
	if (c->bev != NULL)
		(void)evbuffer_remove_cb(bufferevent_get_input(c->bev), on_input,
		    c);
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c);
}

/* The connection state of req's connection, or NULL (gone, or no TLS). */
static struct conn *
conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	SSL *ssl;

	if (evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	return ssl != NULL ? SSL_get_ex_data(ssl, conn_idx) : NULL;
}

/* Starts the clock: the connection is closed unless a request is read in
 * full within seconds. */
static void
conn_arm(struct conn *c, enum conn_state state, int seconds)
{
	struct timeval tv = { seconds, 0 };

	c->state = state;
	if (evtimer_add(c->deadline, &tv) != 0)
		fprintf(stderr, "{\"event\":\"deadline_failed\",\"thread\":%d}\n",
		    c->w->idx);
}

static void
deadline_log(struct worker *w)
{
	int64_t now = timeu_mono_us();

	w->deadline_closed++;
	if (w->deadline_logged_us != 0 &&
	    now - w->deadline_logged_us < (int64_t)DEADLINE_LOG_S * 1000000)
		return;
	fprintf(stderr, "{\"event\":\"request_deadline\",\"thread\":%d,"
	    "\"closed\":%ld,\"deadline_s\":%d}\n", w->idx, w->deadline_closed,
	    w->srv->b->cfg.request_deadline_s);
	w->deadline_logged_us = now;
	w->deadline_closed = 0;
}

/*
 * The deadline passed with a request not read in full: evhttp is told
 * that the read timed out (its own event callback, as its idle timeout
 * would call it), and closes and frees the connection; c goes with it.
 */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	bufferevent_event_cb eventcb = NULL;
	void *cbarg = NULL;

	(void)fd;
	(void)what;
	if (c->state == CONN_HANDLING)
		return;   /* not armed while handling; defensive */
	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &cbarg);
	if (eventcb == NULL)
		return;   /* not evhttp's yet: the idle timeout still holds */
	deadline_log(c->w);
	eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, cbarg);
}

/* Bytes of a request arrived: the first ones start its clock. */
static void
on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)buf;
	if (info->n_added > 0 && c->state == CONN_IDLE)
		conn_arm(c, CONN_READING, c->w->srv->b->cfg.request_deadline_s);
}

/* A request was read in full: its handling is not the client's time. */
static void
conn_request_read(struct evhttp_request *req)
{
	struct conn *c = conn_of(req);

	if (c == NULL)
		return;
	c->state = CONN_HANDLING;
	evtimer_del(c->deadline);
}

/* The reply went out and the connection waits for the next request (or
 * is about to close). */
static void
conn_replied(struct evhttp_request *req)
{
	const struct config *cfg;
	struct conn *c = conn_of(req);

	if (c == NULL)
		return;
	cfg = &c->w->srv->b->cfg;
	/* Bytes of the next request may be here already (pipelining). */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		conn_arm(c, CONN_READING, cfg->request_deadline_s);
	else
		conn_arm(c, CONN_IDLE, cfg->request_timeout_s +
		    cfg->request_deadline_s);
}

/* A new connection's state (its clock not started); NULL when out of
 * memory. */
static struct conn *
conn_new(struct worker *w, struct event_base *base)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->w = w;
	c->deadline = evtimer_new(base, on_deadline, c);
	if (c->deadline == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* ---- TLS ---------------------------------------------------------------- */

static int
verify_keep_going(int ok, X509_STORE_CTX *ctx)
{
	/* The handshake completes either way; routes read the verify result
	 * and refuse with a clear message, which beats a TLS alert. */
	(void)ok;
	(void)ctx;
	return 1;
}

static void
peer_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

SSL_CTX *
server_tls_ctx(const char *cert, const char *key, const char *ca, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;
	STACK_OF(X509_NAME) *names;
	unsigned long e;

	if (peer_idx < 0)
		peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, peer_free);
	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_free);
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto ssl_fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* An idle connection gives its TLS buffers back (about 34 KiB each
	 * way), so memory follows the requests in flight, not the number of
	 * connections held open. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/*
	 * No server-side session cache. A connection is freed without a
	 * close_notify of ours, and OpenSSL then drops its session from the
	 * cache as unclean, so the cache never resumed a session: it only
	 * cost every connection a locked insert and remove shared by all
	 * workers. Clients resume by ticket (TLS 1.3, and TLS 1.2 clients
	 * that send the ticket extension, as OpenSSL's and libcurl's do);
	 * the ticket carries the session, the server stores nothing.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "%s: cannot load certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: cannot load key (or it does not match "
		    "%s)", key, cert);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "%s: cannot load CA certificate", ca);
		goto fail;
	}
	names = SSL_load_client_CA_file(ca);
	if (names != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep_going);
	SSL_CTX_set_verify_depth(ctx, 4);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"consentd", 8);
	return ctx;
ssl_fail:
	e = ERR_get_error();
	snprintf(err, errlen, "TLS: %s", ERR_error_string(e, NULL));
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static const struct peer *
peer_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct peer *p;
	X509 *cert;
	SSL *ssl;

	if (evcon == NULL)
		return NULL;
	bev = evhttp_connection_get_bufferevent(evcon);
	ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (ssl == NULL)
		return NULL;
	p = SSL_get_ex_data(ssl, peer_idx);
	if (p != NULL)
		return p;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	cert = SSL_get0_peer_certificate(ssl);
	if (cert != NULL) {
		p->has_cert = 1;
		p->verify = SSL_get_verify_result(ssl);
		if (jwk_spki_pin_hex(cert, p->pin) != 0 ||
		    jwk_x5t_s256(cert, p->x5t) != 0)
			p->verify = X509_V_ERR_UNSPECIFIED;
	}
	if (SSL_set_ex_data(ssl, peer_idx, p) != 1) {
		free(p);
		return NULL;
	}
	return p;
}

/* ---- replies and the request log ---------------------------------------- */

/*
 * The request's log line: JSON written directly, as it is on every
 * request's path. "ms" has four significant digits, as jansson's
 * JSON_REAL_PRECISION(4) wrote it before. A path that is not UTF-8 is
 * logged as "(not UTF-8)".
 */
static char *
request_line(const struct rq *rq, int status, const char *path, size_t *len)
{
	struct jsonu_buf b = { 0 };
	char ts[32], ms[32];
	const char *m;
	int n;

	switch (rq->method) {
	case EVHTTP_REQ_GET: m = "GET"; break;
	case EVHTTP_REQ_POST: m = "POST"; break;
	case EVHTTP_REQ_DELETE: m = "DELETE"; break;
	case EVHTTP_REQ_PUT: m = "PUT"; break;
	case EVHTTP_REQ_HEAD: m = "HEAD"; break;
	default: m = "OTHER"; break;
	}
	timeu_format(timeu_now(), ts, sizeof(ts));
	n = snprintf(ms, sizeof(ms), "%.4g",
	    (double)(timeu_mono_us() - rq->t0_us) / 1000.0);
	if (n > 0 && (size_t)n + 3 <= sizeof(ms) && strpbrk(ms, ".e") == NULL)
		memcpy(ms + n, ".0", 3);
	jsonu_buf_lit(&b, "{\"time\":");
	jsonu_buf_str(&b, ts);
	jsonu_buf_lit(&b, ",\"method\":");
	jsonu_buf_str(&b, m);
	jsonu_buf_lit(&b, ",\"path\":");
	jsonu_buf_str(&b, path);
	jsonu_buf_lit(&b, ",\"status\":");
	jsonu_buf_int(&b, status);
	jsonu_buf_lit(&b, ",\"ms\":");
	jsonu_buf_lit(&b, ms);
	jsonu_buf_lit(&b, ",\"thread\":");
	jsonu_buf_int(&b, rq->w->idx);
	if (rq->party[0] != '\0') {
		jsonu_buf_lit(&b, ",\"party\":");
		jsonu_buf_str(&b, rq->party);
	}
	if (rq->subject[0] != '\0')
		jsonu_buf_lit(&b, ",\"citizen\":true");
	if (rq->rule != NULL) {
		jsonu_buf_lit(&b, ",\"rule\":");
		jsonu_buf_str(&b, rq->rule);
	}
	jsonu_buf_lit(&b, "}\n");
	return jsonu_buf_take(&b, len);
}

static void
log_request(struct rq *rq, int status)
{
	const char *path = rq->path != NULL ? rq->path : "";
	size_t len;
	char *line;

	if ((line = request_line(rq, status, path, &len)) == NULL)
		line = request_line(rq, status, "(not UTF-8)", &len);
	if (line != NULL) {
		fwrite(line, 1, len, stderr);
		free(line);
	}
}

/* While stopping: exit once nothing is handled and every reply is out. */
static void
maybe_exit(struct worker *w)
{
	if (w->stopping && w->inflight == 0 && w->unflushed <= 0)
		event_base_loopexit(w->base, NULL);
}

/* evhttp finished writing a reply (the client has it). */
static void
on_sent(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;

	conn_replied(req);
	w->unflushed--;
	maybe_exit(w);
}

static void
on_flush_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	/* A client that stopped reading does not hold up the shutdown. */
	event_base_loopexit(w->base, NULL);
}

static void
rq_end(struct rq *rq)
{
	struct worker *w = rq->w;
	struct timeval tv = { 2, 0 };

	if (rq->data_free != NULL)
		rq->data_free(rq->data);
	free(rq);
	w->inflight--;
	if (w->stopping && w->inflight == 0 && w->unflushed > 0 &&
	    w->flush_ev == NULL) {
		w->flush_ev = evtimer_new(w->base, on_flush_timeout, w);
		if (w->flush_ev != NULL)
			evtimer_add(w->flush_ev, &tv);
	}
	maybe_exit(w);
}

void
http_reply_text(struct rq *rq, int status, const char *ctype,
    const char *body, size_t len)
{
	http_reply_cacheable(rq, status, ctype, body, len, "no-store");
}

void
http_reply_cacheable(struct rq *rq, int status, const char *ctype,
    const char *body, size_t len, const char *cache_control)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(rq->req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", cache_control);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (out != NULL)
		evbuffer_add(out, body, len);
	if (evhttp_request_get_connection(rq->req) != NULL) {
		rq->w->unflushed++;
		evhttp_request_set_on_complete_cb(rq->req, on_sent, rq->w);
	}
	evhttp_send_reply(rq->req, status, NULL, out);
	if (out != NULL)
		evbuffer_free(out);
	log_request(rq, status);
	rq_end(rq);
}

void
http_reply_json(struct rq *rq, int status, json_t *body)
{
	char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (s == NULL) {
		static const char oom[] =
		    "{\"type\":\"about:blank\",\"title\":\"Out of memory\","
		    "\"status\":503}";
		http_reply_text(rq, 503, "application/problem+json", oom,
		    sizeof(oom) - 1);
		return;
	}
	http_reply_text(rq, status, "application/json", s, strlen(s));
	free(s);
}

void
http_problem(struct rq *rq, int status, const char *title, const char *rule,
    const char *fmt, ...)
{
	char detail[1024], *s;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	rq->rule = rule;
	if (rq->html) {
		web_error_page(rq, status, title, detail);
		return;
	}
	j = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
	    title, "status", status, "detail", detail);
	if (j != NULL && rule != NULL)
		json_object_set_new(j, "rule", json_string(rule));
	s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (s == NULL) {
		http_reply_text(rq, status, "application/problem+json", "{}", 2);
		return;
	}
	http_reply_text(rq, status, "application/problem+json", s, strlen(s));
	free(s);
}

void
http_oauth_error(struct rq *rq, int status, const char *code,
    const char *rule, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	rq->rule = rule != NULL ? rule : code;
	j = json_pack("{s:s, s:s}", "error", code, "error_description", desc);
	if (j != NULL && status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "WWW-Authenticate", "Mutual-TLS");
	http_reply_json(rq, status, j);
}

void
http_body(struct rq *rq, const char **buf, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(rq->req);

	*len = evbuffer_get_length(in);
	*buf = *len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
}

const char *
http_header(struct rq *rq, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(rq->req),
	    name);
}

/* ---- writer hand-off ---------------------------------------------------- */

static void
op_done(struct wop *op)
{
	struct rq *rq = op->arg;
	struct worker *w = rq->w;
	int was_empty;

	pthread_mutex_lock(&w->mu);
	was_empty = w->done_head == NULL;
	op->next = w->done_head == NULL ? NULL : &w->done_head->op;
	w->done_head = rq;
	pthread_mutex_unlock(&w->mu);
	if (was_empty)
		event_active(w->done_ev, EV_READ, 0);
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct rq *list, *rq, *rev = NULL;
	struct wop *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	list = w->done_head;
	w->done_head = NULL;
	pthread_mutex_unlock(&w->mu);
	/* The list is newest first; resume in submission order. */
	while (list != NULL) {
		next = list->op.next;
		list->op.next = rev != NULL ? &rev->op : NULL;
		rev = list;
		list = next != NULL ? next->arg : NULL;
	}
	while (rev != NULL) {
		rq = rev;
		next = rq->op.next;
		rev = next != NULL ? next->arg : NULL;
		rq->op.next = NULL;
		rq->resume(rq);
	}
}

int
http_submit(struct rq *rq, wop_apply_fn apply, void (*resume)(struct rq *))
{
	rq->op.apply = apply;
	rq->op.done = op_done;
	rq->op.arg = rq;
	rq->op.status = 0;
	rq->resume = resume;
	return writer_submit(rq->b->writer, &rq->op);
}

/* ---- request entry ------------------------------------------------------ */

/*
 * RFC 9112 section 6.3: more than one Content-Length, a Transfer-Encoding
 * other than exactly "chunked", or both headers make the framing
 * ambiguous. evhttp takes the first Content-Length and reads an unknown
 * coding as no body, so the bytes after its idea of the body would be read
 * as another request (what request smuggling exploits). Such a request is
 * refused and its connection closed. NULL when the framing is clear, else
 * what is wrong.
 */
static const char *
framing_problem(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	int ncl = 0, nte = 0, chunked = 0;

	TAILQ_FOREACH(kv, h, next) {
		if (evutil_ascii_strcasecmp(kv->key, "Content-Length") == 0)
			ncl++;
		else if (evutil_ascii_strcasecmp(kv->key,
		    "Transfer-Encoding") == 0) {
			nte++;
			chunked = evutil_ascii_strcasecmp(kv->value, "chunked") == 0;
		}
	}
	if (ncl > 1)
		return "more than one Content-Length";
	if (nte > 1 || (nte == 1 && !chunked))
		return "a Transfer-Encoding other than \"chunked\"";
	if (nte == 1 && ncl == 1)
		return "both Transfer-Encoding and Content-Length";
	return NULL;
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *bad;
	struct rq *rq;

	rq = calloc(1, sizeof(*rq));
	if (rq == NULL) {
		evhttp_send_error(req, 503, "Out of memory");
		return;
	}
	rq->req = req;
	rq->w = w;
	rq->b = w->srv->b;
	rq->t0_us = timeu_mono_us();
	rq->method = evhttp_request_get_command(req);
	rq->path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	rq->query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	rq->peer = peer_of(req);
	conn_request_read(req);
	w->inflight++;
	if (atomic_load_explicit(&w->srv->conns, memory_order_relaxed) >
	    w->srv->max_conns) {
		/* Over the connection limit: answer, then close. */
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Retry-After", "1");
		rq->path = rq->path != NULL ? rq->path : "";
		http_problem(rq, 503, "Service unavailable", "max_connections",
		    "the broker has too many open connections; retry shortly");
		return;
	}
	if (rq->path == NULL || rq->path[0] != '/') {
		rq->path = "";
		http_problem(rq, 400, "Bad request", NULL,
		    "the request target must be an absolute path");
		return;
	}
	if ((bad = framing_problem(req)) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		http_problem(rq, 400, "Bad request", "http_framing",
		    "ambiguous message framing: %s", bad);
		return;
	}
	routes_dispatch(rq);
}

static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev;
	struct conn *c;
	SSL *ssl = SSL_new(w->srv->b->tls);

	if (ssl == NULL)
		return NULL;
	c = conn_new(w, base);
	if (c == NULL || SSL_set_ex_data(ssl, conn_idx, c) != 1) {
		if (c != NULL) {
			event_free(c->deadline);
			free(c);
		}
		SSL_free(ssl);
		return NULL;
	}
	/* conn_free counts it out with the SSL */
	atomic_fetch_add_explicit(&w->srv->conns, 1, memory_order_relaxed);
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	c->bev = bev;
	if (evbuffer_add_cb(bufferevent_get_input(bev), on_input, c) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	/* The first request's clock runs from the accept. */
	conn_arm(c, CONN_READING, w->srv->b->cfg.request_deadline_s);
	return bev;
}

static void
on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (w->bound != NULL && !w->stopping)
		evconnlistener_enable(evhttp_bound_socket_get_listener(w->bound));
}

static void
on_accept_error(struct evconnlistener *lev, void *arg)
{
	struct worker *w = accept_worker;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	int64_t now = timeu_mono_us();

	(void)arg;
	if (w == NULL || w->accept_ev == NULL)
		return;   /* cannot pause: keep accepting */
	evconnlistener_disable(lev);
	evtimer_add(w->accept_ev, &tv);
	if (w->accept_warned_us == 0 ||
	    now - w->accept_warned_us >= (int64_t)ACCEPT_WARN_S * 1000000) {
		w->accept_warned_us = now;
		fprintf(stderr, "{\"event\":\"accept_failed\",\"thread\":%d,"
		    "\"error\":\"%s\",\"pause_ms\":%d}\n", w->idx,
		    evutil_socket_error_to_string(err), ACCEPT_PAUSE_MS);
	}
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	fprintf(stderr, "{\"event\":\"shutdown\",\"thread\":%d,"
	    "\"abandoned_requests\":%ld}\n", w->idx, w->inflight);
	event_base_loopexit(w->base, NULL);
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { w->srv->grace_s, 0 };

	(void)fd;
	(void)what;
	w->stopping = 1;
	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->inflight == 0 && w->unflushed <= 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	w->grace_ev = evtimer_new(w->base, on_grace, w);
	if (w->grace_ev != NULL)
		evtimer_add(w->grace_ev, &tv);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	accept_worker = w;
	event_base_dispatch(w->base);
	return NULL;
}

/* ---- listening sockets -------------------------------------------------- */

/*
 * One listening socket shared by every worker (each on a dup) lets the
 * worker that wakes first accept a whole burst of connections (libevent
 * accepts until EAGAIN), and keep-alive clients stay where they landed:
 * in benchmarks one worker had 82-93% of the connections while the other
 * idled. So each worker listens on a socket of its own, all bound to the
 * same address with SO_REUSEPORT, and the kernel spreads new connections
 * over them by a hash of each connection's addresses and ports.
 *
 * SO_REUSEPORT alone would also let a second consentd of the same user
 * bind the same address and silently take a share of the connections.
 * So the address is first bound and listened on by a probe socket
 * without SO_REUSEPORT, as consentd did with its one socket: anything
 * already there (another consentd, or any other socket) makes that fail,
 * and consentd stops with "listen on HOST:PORT: Address already in use".
 * The probe also fixes the port when the configured one is 0. Then the
 * probe is closed and the workers' sockets are bound to that port.
 *
 * What remains is a race of microseconds: between the probe's close and
 * the first worker socket's listen(), a second consentd's probe can
 * succeed, and the two then share the address. It takes two consentd
 * started on the same address at the same instant by the same user (the
 * kernel shares a port among SO_REUSEPORT sockets of one effective user
 * id only). That is an operator's mistake, not an attack: a process of
 * that user can read consentd's keys and store anyway (and could bind the
 * address with SO_REUSEPORT itself at any time). The workers' sockets are
 * made (and SO_REUSEPORT set) before the probe is closed, so the window
 * holds only their bind and listen calls. Should one of those fail all
 * the same (something took the port in the window), every socket is
 * closed and consentd stops with the reason.
 *
 * With one worker, or without SO_REUSEPORT in the kernel (ENOPROTOOPT,
 * logged once as "listen_shared"), the probe itself stays the listening
 * socket, shared by all workers through dups.
 */

/* Pending connections each listening socket queues. */
#define LISTEN_BACKLOG 1024

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* The configured listen address; 0, or -1 with the reason in err. */
static int
listen_addr(const struct config *c, union sockaddr_any *a, char *err,
    size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, c->listen_host, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(c->listen_port);
	} else if (inet_pton(AF_INET6, c->listen_host,
	    &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(c->listen_port);
	} else if (strcmp(c->listen_host, "localhost") == 0) {
		a->in.sin_family = AF_INET;
		a->in.sin_port = htons(c->listen_port);
		a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		snprintf(err, errlen, "listen: '%s' is not an IP address",
		    c->listen_host);
		return -1;
	}
	return 0;
}

/*
 * A nonblocking TCP socket to listen on, with SO_REUSEADDR (a restart
 * need not wait for old connections' TIME_WAIT), TCP_NODELAY (inherited
 * by accepted connections) and, when reuseport, SO_REUSEPORT. The fd, or
 * -1 with errno set.
 */
static int
listen_socket_new(int family, int reuseport)
{
	int fd, one = 1, e;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
	    sizeof(one)) != 0)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Binds fd to a and listens; 0, or -1 with errno set. */
static int
listen_on(int fd, const union sockaddr_any *a)
{
	socklen_t len = a->sa.sa_family == AF_INET6 ? sizeof(a->in6) :
	    sizeof(a->in);

	if (bind(fd, &a->sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0)
		return -1;
	return 0;
}

/*
 * Sets s->port and either s->fd (one shared socket) or every worker's lfd
 * (a socket each), as the comment above says. 0, or -1 with the reason in
 * err and no socket left open.
 */
static int
server_listen(struct server *s, char *err, size_t errlen)
{
	const struct config *c = &s->b->cfg;
	union sockaddr_any a;
	socklen_t alen = sizeof(a);
	int probe, i, rc = -1;

	assert(s->nworkers >= 1);
	if (listen_addr(c, &a, err, errlen) != 0)
		return -1;
	probe = listen_socket_new(a.sa.sa_family, 0);
	if (probe < 0 || listen_on(probe, &a) != 0 ||
	    getsockname(probe, &a.sa, &alen) != 0) {
		snprintf(err, errlen, "listen on %s:%u: %s", c->listen_host,
		    (unsigned)c->listen_port, strerror(errno));
		goto out;
	}
	/* a now holds the port actually bound. */
	s->port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port :
	    a.in.sin_port);
	for (i = 0; i < s->nworkers && s->nworkers > 1; i++) {
		s->workers[i].lfd = listen_socket_new(a.sa.sa_family, 1);
		if (s->workers[i].lfd >= 0)
			continue;
		if (i == 0 && errno == ENOPROTOOPT) {
			fprintf(stderr, "{\"event\":\"listen_shared\",\"reason\":"
			    "\"SO_REUSEPORT: %s\",\"threads\":%d}\n",
			    strerror(errno), s->nworkers);
			break;
		}
		snprintf(err, errlen, "listen on %s:%u: SO_REUSEPORT socket: %s",
		    c->listen_host, s->port, strerror(errno));
		goto out;
	}
	if (s->nworkers == 1 || s->workers[0].lfd < 0) {
		s->fd = probe;   /* the one socket, shared */
		probe = -1;
		rc = 0;
		goto out;
	}
	close(probe);
	probe = -1;
	/* The window the comment above describes: keep it to these calls. */
	for (i = 0; i < s->nworkers; i++)
		if (listen_on(s->workers[i].lfd, &a) != 0) {
			snprintf(err, errlen, "listen on %s:%u: %s (taken while "
			    "the worker sockets were bound)", c->listen_host,
			    s->port, strerror(errno));
			goto out;
		}
	rc = 0;
out:
	if (probe >= 0)
		close(probe);
	for (i = 0; rc != 0 && i < s->nworkers; i++)
		if (s->workers[i].lfd >= 0) {
			close(s->workers[i].lfd);
			s->workers[i].lfd = -1;
		}
	return rc;
}

static int
worker_init(struct worker *w, char *err, size_t errlen)
{
	const struct config *c = &w->srv->b->cfg;

	w->base = event_base_new();
	w->http = w->base != NULL ? evhttp_new(w->base) : NULL;
	if (w->http == NULL) {
		snprintf(err, errlen, "cannot create event loop");
		return -1;
	}
	evhttp_set_bevcb(w->http, make_bev, w);
	evhttp_set_gencb(w->http, on_request, w);
	evhttp_set_timeout(w->http, c->request_timeout_s);
	evhttp_set_max_headers_size(w->http, (ev_ssize_t)c->max_header_bytes);
	/* Bodies up to 4x our limit reach the routes, which answer 413 with
	 * a problem document; beyond that evhttp itself answers 413. */
	evhttp_set_max_body_size(w->http, (ev_ssize_t)c->max_body_bytes * 4);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	w->done_ev = event_new(w->base, -1, 0, on_done, w);
	w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
	if (w->done_ev == NULL || w->stop_ev == NULL) {
		snprintf(err, errlen, "cannot create events");
		return -1;
	}
	/* A socket of its own, or a dup of the shared one. */
	if (w->lfd < 0 && (w->lfd = dup(w->srv->fd)) < 0) {
		snprintf(err, errlen, "dup: %s", strerror(errno));
		return -1;
	}
	w->bound = evhttp_accept_socket_with_handle(w->http, w->lfd);
	if (w->bound == NULL) {
		snprintf(err, errlen, "cannot accept on the listening socket");
		return -1;   /* worker_free closes w->lfd */
	}
	w->lfd = -1;   /* the listener's now: closed with it */
	w->accept_ev = evtimer_new(w->base, on_accept_resume, w);
	if (w->accept_ev == NULL) {
		snprintf(err, errlen, "cannot create events");
		return -1;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(w->bound),
	    on_accept_error);
	return 0;
}

static void
worker_free(struct worker *w)
{
	struct rq *rq;
	struct wop *next;

	/* Requests whose writes completed after the loop ended: the store has
	 * them; their connections are gone, so only our memory is freed. */
	while ((rq = w->done_head) != NULL) {
		next = rq->op.next;
		w->done_head = next != NULL ? next->arg : NULL;
		if (rq->data_free != NULL)
			rq->data_free(rq->data);
		free(rq);
	}
	if (w->http != NULL)
		evhttp_free(w->http);
	if (w->done_ev != NULL)
		event_free(w->done_ev);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->grace_ev != NULL)
		event_free(w->grace_ev);
	if (w->flush_ev != NULL)
		event_free(w->flush_ev);
	if (w->accept_ev != NULL)
		event_free(w->accept_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->lfd >= 0)
		close(w->lfd);
	pthread_mutex_destroy(&w->mu);
}

struct server *
server_start(struct broker *b, char *err, size_t errlen)
{
	struct server *s;
	int i;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->b = b;
	s->fd = -1;
	s->grace_s = 10;
	s->max_conns = b->cfg.max_connections;   /* all workers together */
	atomic_init(&s->conns, 0);
	s->nworkers = b->cfg.threads;
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (s->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (i = 0; i < s->nworkers; i++) {
		s->workers[i].srv = s;
		s->workers[i].idx = i;
		s->workers[i].lfd = -1;
		pthread_mutex_init(&s->workers[i].mu, NULL);
	}
	if (server_listen(s, err, errlen) != 0)
		goto fail;
	for (i = 0; i < s->nworkers; i++)
		if (worker_init(&s->workers[i], err, errlen) != 0)
			goto fail;
	for (i = 0; i < s->nworkers; i++) {
		if (pthread_create(&s->workers[i].thread, NULL, worker_main,
		    &s->workers[i]) != 0) {
			snprintf(err, errlen, "cannot start worker thread");
			goto fail;
		}
		s->workers[i].started = 1;
	}
	return s;
fail:
	server_stop(s, 0);
	server_free(s);
	return NULL;
}

unsigned
server_port(const struct server *s)
{
	return s->port;
}

void
server_stop(struct server *s, int grace_s)
{
	int i;

	if (s == NULL || s->workers == NULL)
		return;
	s->grace_s = grace_s;
	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i].started)
			event_active(s->workers[i].stop_ev, EV_READ, 0);
	for (i = 0; i < s->nworkers; i++)
		if (s->workers[i].started) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].started = 0;
		}
}

void
server_free(struct server *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; s->workers != NULL && i < s->nworkers; i++)
		worker_free(&s->workers[i]);
	free(s->workers);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}
