/*
 * One HTTP request in flight, and the replies a route can give. Routes
 * (routes.c) run on a worker thread; a route either replies at once or
 * submits a write to the writer and replies from its resume callback, which
 * runs on the same worker thread after the write committed (or failed).
 */
#ifndef CB_HTTP_H
#define CB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "broker.h"
#include "jwk.h"
#include "writer.h"

/* What the TLS layer learned of the client, once per connection. */
struct peer {
	int has_cert;
	long verify;                  /* X509_V_OK when it chains to our CA */
	char pin[65];                 /* hex SHA-256 of the SPKI */
	char x5t[JWK_B64_SHA256_LEN]; /* base64url SHA-256 of the DER cert */
};

struct worker;

struct rq {
	struct evhttp_request *req;
	struct worker *w;
	struct broker *b;
	enum evhttp_cmd_type method;
	const char *path;             /* borrowed from the request's URI */
	const char *query;            /* raw query or NULL */
	const struct peer *peer;      /* NULL without TLS info */
	char party[72];               /* authenticated party, or "" */
	unsigned roles;
	char subject[256];            /* authenticated citizen, or "" */
	int64_t t0_us;
	const char *rule;             /* denial rule, for the request log */
	int html;                     /* answer problems as HTML pages */
	const char *html_done;        /* a 2xx write result: 303 to here */
	struct wop op;                /* for http_submit */
	void (*resume)(struct rq *rq);
	void *data;                   /* the route's state */
	void (*data_free)(void *data);
};

/* Request body as one contiguous buffer (NOT NUL-terminated). */
void http_body(struct rq *rq, const char **buf, size_t *len);

/* A request header's value, or NULL. */
const char *http_header(struct rq *rq, const char *name);

/* Replies with body (reference stolen) as application/json; ends rq. */
void http_reply_json(struct rq *rq, int status, json_t *body);

/* As http_reply_text with Cache-Control set to cache_control. */
void http_reply_cacheable(struct rq *rq, int status, const char *ctype,
    const char *body, size_t len, const char *cache_control);

/* Replies with a JSON text already serialized; ends rq. */
void http_reply_text(struct rq *rq, int status, const char *ctype,
    const char *body, size_t len);

/*
 * RFC 9457 problem (application/problem+json) with title, the denying
 * rule (a stable id, also logged; may be NULL) and a detail; ends rq.
 */
void http_problem(struct rq *rq, int status, const char *title,
    const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* RFC 6749 error object {"error", "error_description"}; ends rq. */
void http_oauth_error(struct rq *rq, int status, const char *code,
    const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Hands rq->op (apply set by the caller) to the writer; resume runs on
 * this worker once the write group committed or failed. Returns 0, or -1
 * when the writer is stopping (the caller then replies 503).
 */
int http_submit(struct rq *rq, wop_apply_fn apply,
    void (*resume)(struct rq *rq));

/* Routes everything; in routes.c. */
void routes_dispatch(struct rq *rq);

struct server;

/*
 * Binds cfg's listen address (TCP_NODELAY) and starts cfg.threads
 * workers, each accepting on a socket of its own (SO_REUSEPORT; one
 * shared socket with one worker or without SO_REUSEPORT), and answering
 * 503 beyond cfg.max_connections open connections in all. The address is
 * first bound without SO_REUSEPORT, so that it fails as before when
 * anything (another consentd too) holds it. NULL with a reason in err
 * ("listen on HOST:PORT: Address already in use").
 */
struct server *server_start(struct broker *b, char *err, size_t errlen);

/* The port actually bound (useful with port 0). */
unsigned server_port(const struct server *s);

/*
 * Graceful stop: stop accepting, let in-flight requests finish (at most
 * grace_s seconds), join the workers. The writer must still be running.
 */
void server_stop(struct server *s, int grace_s);

/* Frees what server_stop left (call after the writer stopped). */
void server_free(struct server *s);

/* Builds the TLS server context: our cert and key, client certs checked
 * against ca_file (optional at the TLS layer; routes decide). */
SSL_CTX *server_tls_ctx(const char *cert, const char *key, const char *ca,
    char *err, size_t errlen);

#endif
