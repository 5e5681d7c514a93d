/*
 * The floor server: consentd's HTTP stack with nothing behind it, to show
 * what the broker could serve at best on this machine.
 *
 *   floor --cert F --key F --ca F [--listen HOST:PORT] [--threads N]
 *         [--sign-key F] [--lifetime S]
 *   floor --bench-crypto SECONDS [--sign-key F]
 *
 * Server mode: N worker threads, each with its own event base, evhttp and
 * listening socket (SO_REUSEPORT, TCP_NODELAY), TLS through
 * bufferevent_openssl with a client certificate from the CA required
 * (as broker/server.c). Every request, whatever its path or method, is
 * answered 200 with {"access_token": <ES256 JWS of a fixed 640-byte claims
 * set, signed with jws_sign_es256 and a key loaded once>, ...}. The port
 * is printed as {"event":"listening","url":...} on stderr, as consentd
 * does. SIGTERM/SIGINT, or the end of --lifetime (default 600 s), stop it.
 * GET /floor-stats answers {"served":[n0,n1,...]}, the replies each worker
 * sent (the kernel spreads connections over the workers' sockets by a
 * hash, as for consentd, which logs "thread" per request for the same
 * view).
 *
 * --bench-crypto: one thread, SECONDS per line; prints a JSON object with
 * raw OpenSSL ES256 sign and verify, jws_sign_es256 of the same payload,
 * and SHA-256 of 16 KiB blocks, per second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "jws.h"
#include "jwk.h"
#include "pki.h"

#define FLOOR_MAX_THREADS 64
#define FLOOR_MAX_BODY 65536
#define FLOOR_HEADER_MAX 16384
#define FLOOR_TIMEOUT_S 30
#define FLOOR_MAX_LIFETIME_S 3600
#define SHA_BLOCK 16384
#define STATS_PATH "/floor-stats"

/*
 * A token-sized claims set: the shape of a consentd transfer token (640
 * bytes, like the one the broker issues in the benchmark).
 */
static const char CLAIMS[] =
    "{\"iss\":\"https://127.0.0.1:8443\",\"sub\":\"bench-1\",\"aud\":\"dia\","
    "\"client_id\":\"ird\",\"iat\":1795378010,\"nbf\":1795378010,"
    "\"exp\":1795378310,\"jti\":\"X_kbd-JSyI3vmP9KlBCJKA\","
    "\"authorization_details\":[{\"type\":\"consented_transfer\","
    "\"agreement\":\"bench-transfer\",\"agreement_version\":1,"
    "\"agreement_hash\":\"659b00420c2e1488debc9d298da4f42f8796aba005f5942e"
    "d2600297137e39d6\",\"purpose\":\"benchmark\",\"fields\":["
    "\"child.given_names\",\"child.family_name\",\"child.birth_date\"]}],"
    "\"cnf\":{\"x5t#S256\":\"7sgUvNA-jsrxGiiOj0tHuqF1EC5JRfYnDoSR-fmbjWE\"},"
    "\"consent_id\":\"cns_28fb501dde1a16002f49b5181b6e9633\",\"status\":{"
    "\"status_list\":{\"idx\":0,\"uri\":\"https://127.0.0.1:8443/v1/status/"
    "0\"}}}";

struct floor_srv;

struct fworker {
	struct floor_srv *srv;
	_Atomic unsigned long served;   /* replies; read by /floor-stats */
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int fd;                         /* its listening socket */
	int started;
};

struct floor_srv {
	SSL_CTX *tls;
	EVP_PKEY *key;             /* loaded once, shared by every thread */
	char kid[JWK_B64_SHA256_LEN];
	int fd;
	int nworkers;
	struct fworker workers[FLOOR_MAX_THREADS];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: floor --cert F --key F --ca F [--listen HOST:PORT] "
	    "[--threads N]\n"
	    "             [--sign-key F] [--lifetime SECONDS]\n"
	    "       floor --bench-crypto SECONDS [--sign-key F]\n");
}

/* ---- the handler ------------------------------------------------------- */

/* {"served":[n0,n1,...]}: replies per worker, to see how connections
 * spread over the threads. */
static void
stats_reply(struct evhttp_request *req, struct floor_srv *srv)
{
	struct evbuffer *out = evbuffer_new();
	int i;

	if (out == NULL) {
		evhttp_send_error(req, 503, "out of memory");
		return;
	}
	evbuffer_add_printf(out, "{\"served\":[");
	for (i = 0; i < srv->nworkers; i++)
		evbuffer_add_printf(out, "%s%lu", i > 0 ? "," : "",
		    atomic_load_explicit(&srv->workers[i].served,
		    memory_order_relaxed));
	evbuffer_add_printf(out, "]}");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct fworker *w = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ?
	    evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out;
	const char *uri;
	char *tok = NULL;

	/* The handshake required a verified certificate; check it as the
	 * broker's routes do, per request. */
	if (ssl == NULL || SSL_get0_peer_certificate(ssl) == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK) {
		evhttp_send_error(req, 401, "client certificate required");
		return;
	}
	uri = evhttp_request_get_uri(req);
	if (uri != NULL && strcmp(uri, STATS_PATH) == 0) {
		stats_reply(req, w->srv);
		return;
	}
	atomic_fetch_add_explicit(&w->served, 1, memory_order_relaxed);
	if (jws_sign_es256(w->srv->key, w->srv->kid, "at+jwt", CLAIMS,
	    sizeof(CLAIMS) - 1, &tok) != JWS_OK ||
	    (out = evbuffer_new()) == NULL) {
		free(tok);
		evhttp_send_error(req, 503, "cannot sign");
		return;
	}
	evbuffer_add_printf(out, "{\"access_token\":\"%s\",\"token_type\":"
	    "\"Bearer\",\"expires_in\":300}", tok);
	free(tok);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* ---- server plumbing, as broker/server.c -------------------------------- */

static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct fworker *w = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(w->srv->tls);

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

static SSL_CTX *
tls_ctx(const char *cert, const char *key, const char *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *names;

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_CTX_free(ctx);
		return NULL;
	}
	names = SSL_load_client_CA_file(ca);
	if (names != NULL)
		SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"floor", 5);
	return ctx;
}

/* A listening socket on hostport (port 0: any free one, into *port), with
 * SO_REUSEPORT so that each worker can have one on the same port. */
static int
listen_socket(const char *hostport, unsigned *port)
{
	char host[64];
	const char *colon;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char *end;
	long p;
	int fd = -1, one = 1;

	if (hostport == NULL || (colon = strrchr(hostport, ':')) == NULL ||
	    (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p < 0 || p > 65535)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)p);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 1024) != 0 || evutil_make_socket_nonblocking(fd) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		perror("floor: listen");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct fworker *w = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(w->base, NULL);
}

static void *
worker_main(void *arg)
{
	struct fworker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

static int
worker_init(struct fworker *w)
{
	if ((w->base = event_base_new()) == NULL ||
	    (w->http = evhttp_new(w->base)) == NULL ||
	    (w->stop_ev = event_new(w->base, -1, 0, on_stop, w)) == NULL)
		return -1;
	evhttp_set_bevcb(w->http, make_bev, w);
	evhttp_set_gencb(w->http, on_request, w);
	evhttp_set_timeout(w->http, FLOOR_TIMEOUT_S);
	evhttp_set_max_headers_size(w->http, FLOOR_HEADER_MAX);
	evhttp_set_max_body_size(w->http, FLOOR_MAX_BODY);
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if (evhttp_accept_socket_with_handle(w->http, w->fd) == NULL)
		return -1;
	w->fd = -1;   /* closed with the listener */
	return 0;
}

static void
worker_free(struct fworker *w)
{
	if (w->http != NULL)
		evhttp_free(w->http);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->fd >= 0)
		close(w->fd);
}

/* ---- --bench-crypto ----------------------------------------------------- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
bench_crypto(EVP_PKEY *key, const char *kid, double seconds)
{
	unsigned char der[80], der2[80], block[SHA_BLOCK];
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = NULL;
	char *tok = NULL;
	size_t derlen, n;
	double t0, t, sign_raw, verify_raw, jws_sign, sha;
	int rc = 1;

	memset(block, 0x5a, sizeof(block));
	/* One signature first, so the verify line always has one to check. */
	derlen = sizeof(der);
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, der, &derlen, (const unsigned char *)CLAIMS,
	    sizeof(CLAIMS) - 1) != 1)
		goto out;
	/* Raw OpenSSL: digest-and-sign the claims, one context each time. */
	for (n = 0, t0 = now_s(); (t = now_s() - t0) < seconds; n++) {
		size_t len = sizeof(der2);

		if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
		    key) != 1 || EVP_DigestSign(ctx, der2, &len,
		    (const unsigned char *)CLAIMS, sizeof(CLAIMS) - 1) != 1)
			goto out;
	}
	sign_raw = (double)n / t;
	for (n = 0, t0 = now_s(); (t = now_s() - t0) < seconds; n++) {
		if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    key) != 1 || EVP_DigestVerify(ctx, der, derlen,
		    (const unsigned char *)CLAIMS, sizeof(CLAIMS) - 1) != 1)
			goto out;
	}
	verify_raw = (double)n / t;
	for (n = 0, t0 = now_s(); (t = now_s() - t0) < seconds; n++) {
		if (jws_sign_es256(key, kid, "at+jwt", CLAIMS,
		    sizeof(CLAIMS) - 1, &tok) != JWS_OK)
			goto out;
		free(tok);
		tok = NULL;
	}
	jws_sign = (double)n / t;
	for (n = 0, t0 = now_s(); (t = now_s() - t0) < seconds; n++)
		SHA256(block, sizeof(block), md);
	sha = (double)n * SHA_BLOCK / t / 1e6;
	printf("{\"es256_sign_per_s\":%.0f,\"es256_verify_per_s\":%.0f,"
	    "\"jws_sign_es256_per_s\":%.0f,\"sha256_mb_per_s\":%.1f,"
	    "\"payload_bytes\":%zu}\n", sign_raw, verify_raw, jws_sign, sha,
	    sizeof(CLAIMS) - 1);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "floor: crypto benchmark failed\n");
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- main -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "sign-key", required_argument, NULL, 's' },
		{ "lifetime", required_argument, NULL, 'L' },
		{ "bench-crypto", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct floor_srv srv;
	const char *cert = NULL, *key = NULL, *ca = NULL, *sign_key = NULL;
	const char *listen_at = "127.0.0.1:0";
	double bench_s = 0;
	long threads = 2, lifetime = 600;
	struct timespec tmo;
	unsigned port = 0;
	char err[256], *end;
	sigset_t sigs;
	int ch, i, rc = 1;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'a': ca = optarg; break;
		case 'l': listen_at = optarg; break;
		case 's': sign_key = optarg; break;
		case 't':
		case 'L':
			errno = 0;
			if (ch == 't')
				threads = strtol(optarg, &end, 10);
			else
				lifetime = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || threads < 1 ||
			    threads > FLOOR_MAX_THREADS || lifetime < 1 ||
			    lifetime > FLOOR_MAX_LIFETIME_S) {
				fprintf(stderr, "floor: --threads 1..%d, "
				    "--lifetime 1..%d\n", FLOOR_MAX_THREADS,
				    FLOOR_MAX_LIFETIME_S);
				return 2;
			}
			break;
		case 'b':
			bench_s = strtod(optarg, &end);
			if (*end != '\0' || !(bench_s > 0 && bench_s <= 60)) {
				fprintf(stderr,
				    "floor: --bench-crypto 0..60\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (bench_s == 0 &&
	    (cert == NULL || key == NULL || ca == NULL))) {
		usage(stderr);
		return 2;
	}
	srv.fd = -1;
	srv.key = sign_key != NULL ? pki_load_key(sign_key, err, sizeof(err)) :
	    pki_gen_p256();
	if (srv.key == NULL || !jwk_is_p256(srv.key) ||
	    jwk_thumbprint(srv.key, srv.kid) != 0) {
		fprintf(stderr, "floor: signing key: %s\n", sign_key != NULL ?
		    err : "cannot generate");
		goto out;
	}
	if (bench_s > 0) {
		rc = bench_crypto(srv.key, srv.kid, bench_s);
		goto out;
	}
	if (evthread_use_pthreads() != 0 ||
	    (srv.tls = tls_ctx(cert, key, ca)) == NULL ||
	    (srv.fd = listen_socket(listen_at, &port)) < 0) {
		fprintf(stderr, "floor: cannot set up %s\n", listen_at);
		goto out;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	srv.nworkers = (int)threads;
	for (i = 0; i < srv.nworkers; i++) {
		srv.workers[i].srv = &srv;
		srv.workers[i].fd = -1;
	}
	/* The first worker takes the socket that fixed the port; the others
	 * get one each on that port. */
	srv.workers[0].fd = srv.fd;
	srv.fd = -1;
	for (i = 1; i < srv.nworkers; i++) {
		char hp[96];

		snprintf(hp, sizeof(hp), "%.*s:%u",
		    (int)(strrchr(listen_at, ':') - listen_at), listen_at, port);
		if ((srv.workers[i].fd = listen_socket(hp, &port)) < 0) {
			fprintf(stderr, "floor: cannot listen for worker %d\n",
			    i);
			goto stop;
		}
	}
	for (i = 0; i < srv.nworkers; i++) {
		if (worker_init(&srv.workers[i]) != 0) {
			fprintf(stderr, "floor: cannot start worker %d\n", i);
			goto stop;
		}
	}
	for (i = 0; i < srv.nworkers; i++) {
		if (pthread_create(&srv.workers[i].thread, NULL, worker_main,
		    &srv.workers[i]) != 0)
			goto stop;
		srv.workers[i].started = 1;
	}
	fprintf(stderr, "{\"event\":\"listening\","
	    "\"url\":\"https://127.0.0.1:%u\",\"threads\":%d}\n", port,
	    srv.nworkers);
	tmo.tv_sec = lifetime;
	tmo.tv_nsec = 0;
	/* Bounded: the lifetime ends the server even if nobody stops it. */
	while (sigtimedwait(&sigs, NULL, &tmo) < 0 && errno == EINTR)
		;
	rc = 0;
stop:
	for (i = 0; i < srv.nworkers; i++)
		if (srv.workers[i].started)
			event_active(srv.workers[i].stop_ev, EV_READ, 0);
	for (i = 0; i < srv.nworkers; i++)
		if (srv.workers[i].started)
			pthread_join(srv.workers[i].thread, NULL);
	for (i = 0; i < srv.nworkers; i++)
		worker_free(&srv.workers[i]);
out:
	if (srv.fd >= 0)
		close(srv.fd);
	SSL_CTX_free(srv.tls);
	EVP_PKEY_free(srv.key);
	return rc;
}
