/*
 * Integration: the listening sockets. Each worker accepts on a socket of
 * its own (SO_REUSEPORT) so that connections spread over the workers; the
 * address is still consentd's alone (a second consentd, or any socket
 * already on the port, makes start-up fail with "Address already in
 * use"); max_connections counts the connections of all workers together;
 * TLS sessions resume by ticket, and the server keeps none.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* The spread test: bursts of connections opened at once against two
 * workers, each connection sending SPREAD_REQS requests (keep-alive). */
#define SPREAD_BURSTS 4
#define SPREAD_CONNS 32
#define SPREAD_REQS 2
/*
 * The fewest connections of a burst each worker must get. The kernel
 * picks a worker's socket by a hash of the connection's addresses and
 * ports (the client ports differ), so each connection lands on a given
 * worker with probability 1/2, independently: a worker's count is
 * Binomial(32, 1/2). It is below 4 with probability
 * (C(32,0) + C(32,1) + C(32,2) + C(32,3)) / 2^32 = 5489 / 2^32 = 1.3e-6;
 * for either worker in any of 4 bursts, 8 x 1.3e-6 = 1.0e-5: the test
 * fails falsely about once in 100,000 runs. With one shared socket the
 * worker that wakes first takes nearly a whole burst about half the time
 * (0/32, 1/31 in trials), so 4 bursts catch it about 15 times in 16.
 */
#define SPREAD_MIN 4
/* The smallest max_connections the configuration accepts. */
#define MAXCONN 16
#define IO_TIMEOUT_S 10
#define SPAWN_TIMEOUT_MS 10000

/* ---- raw TLS connections -------------------------------------------------- */

struct tconn {
	int fd;
	SSL *ssl;
};

/* A client context that verifies the broker against DATA/pki/ca.crt and
 * presents no certificate (the paths used here need none). */
static SSL_CTX *
client_ctx(const struct it_server *s)
{
	char ca[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	it_fmt(ca, sizeof(ca), "%s/pki/ca.crt", s->data);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
	return ctx;
}

/* A blocking TCP connection to 127.0.0.1:port with bounded reads and
 * writes; fails the test when it cannot connect. */
static void
tcp_open(struct tconn *c, unsigned port)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->ssl = NULL;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		fail_msg("connect to port %u: %s", port, strerror(errno));
}

/* The TLS handshake on an open TCP connection, offering sess to resume
 * (NULL: none). */
static void
tls_resume(struct tconn *c, SSL_CTX *ctx, SSL_SESSION *sess)
{
	c->ssl = SSL_new(ctx);
	assert_non_null(c->ssl);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(c->ssl, sess), 1);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set1_host(c->ssl, "127.0.0.1");
	if (SSL_connect(c->ssl) != 1)
		fail_msg("TLS handshake: %s",
		    ERR_error_string(ERR_get_error(), NULL));
}

/* The TLS handshake on an open TCP connection. */
static void
tls_start(struct tconn *c, SSL_CTX *ctx)
{
	tls_resume(c, ctx, NULL);
}

static void
tconn_close(struct tconn *c)
{
	SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * GET path over c (HTTP/1.1, keep-alive unless close); reads the whole
 * answer (it has a Content-Length). Returns the status; resp (may be NULL,
 * 8 KiB) gets the answer's head and body.
 */
static long
tconn_get(struct tconn *c, const char *path, int close_it, char *resp)
{
	char req[512], buf[8192];
	const char *eoh, *cl;
	size_t got = 0;
	long status = 0;
	int n;

	it_fmt(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
	    path, close_it ? "Connection: close\r\n" : "");
	n = SSL_write(c->ssl, req, (int)strlen(req));
	if (n != (int)strlen(req))
		fail_msg("GET %s: cannot send", path);
	for (;;) {
		n = SSL_read(c->ssl, buf + got, (int)(sizeof(buf) - 1 - got));
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		eoh = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "\r\nContent-Length:");
		if (eoh != NULL && cl != NULL && cl < eoh &&
		    got >= (size_t)(eoh + 4 - buf) + strtoul(cl + 17, NULL, 10))
			break;
		if (got == sizeof(buf) - 1)
			break;
	}
	ERR_clear_error();
	buf[got] = '\0';
	/* "HTTP/1.1 404 ..." */
	if (got > 12 && strncmp(buf, "HTTP/1.", 7) == 0 && buf[8] == ' ')
		status = strtol(buf + 9, NULL, 10);
	if (resp != NULL)
		memcpy(resp, buf, got + 1);
	return status;
}

/* ---- the request log -------------------------------------------------------- */

/*
 * For each request of the latest run whose path is PREFIX<i>/...: the
 * worker ("thread") that served connection i goes to thread[i] (-1 when
 * none logged); fails the test when one connection's requests were served
 * by two workers. The count of such requests is returned.
 */
static int
log_threads(const struct it_server *s, const char *prefix, int *thread,
    int n)
{
	FILE *f = fopen(s->log, "r");
	char line[4096];
	size_t plen = strlen(prefix);
	int i, count = 0;
	long conn;
	json_t *j;
	const char *path;
	int64_t t;

	assert_non_null(f);
	for (i = 0; i < n; i++)
		thread[i] = -1;
	assert_int_equal(fseek(f, s->run_start, SEEK_SET), 0);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] != '{' || strstr(line, prefix) == NULL)
			continue;
		j = json_loads(line, 0, NULL);
		path = json_string_value(json_object_get(j, "path"));
		t = it_jint(j, "thread");
		if (path != NULL && strncmp(path, prefix, plen) == 0 &&
		    t >= 0) {
			conn = strtol(path + plen, NULL, 10);
			if (conn < 0 || conn >= n)
				fail_msg("unexpected path in the log: %s", path);
			if (thread[conn] >= 0 && thread[conn] != (int)t)
				fail_msg("connection %ld was served by workers %d "
				    "and %d", conn, thread[conn], (int)t);
			thread[conn] = (int)t;
			count++;
		}
		json_decref(j);
	}
	fclose(f);
	return count;
}

/* Listening TCP sockets on 127.0.0.1:port (state 0A in /proc/net/tcp). */
static int
listeners_on(unsigned port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512], want[32];
	int n = 0;

	assert_non_null(f);
	it_fmt(want, sizeof(want), "0100007F:%04X", port);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, want) != NULL && strstr(line, " 0A ") != NULL)
			n++;
	fclose(f);
	return n;
}

/* TIME_WAIT connections (state 06) on local port 127.0.0.1:port. */
static int
time_waits_on(unsigned port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512], local[32], st[8];
	char want[32];
	int n = 0;

	assert_non_null(f);
	it_fmt(want, sizeof(want), "0100007F:%04X", port);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*s %31s %*s %7s", local, st) == 2 &&
		    strcmp(local, want) == 0 && strcmp(st, "06") == 0)
			n++;
	fclose(f);
	return n;
}

/* ---- a consentd expected not to start --------------------------------------- */

/*
 * Runs consentd over data on 127.0.0.1:port with threads workers, its
 * stdout and stderr into log, and waits (bounded; then SIGKILL) for it to
 * exit. Returns its exit status, or -1 when it had to be killed (it
 * started) or did not run (it_run prints which).
 */
static int
run_consentd(const char *data, unsigned port, int threads, const char *log)
{
	char bin[PATH_MAX], listen[64], nthreads[16];
	char *argv[] = { bin, (char *)(uintptr_t)"--data", (char *)data,
	    (char *)(uintptr_t)"--listen", listen, (char *)(uintptr_t)"--dev",
	    (char *)(uintptr_t)"--threads", nthreads, NULL };

	assert_int_equal(it_bin("consentd", bin, sizeof(bin)), 0);
	it_fmt(listen, sizeof(listen), "127.0.0.1:%u", port);
	it_fmt(nthreads, sizeof(nthreads), "%d", threads);
	return it_run(argv, log, 1, NULL, SPAWN_TIMEOUT_MS);
}

/* A second consentd on port fails at start with "listen on
 * 127.0.0.1:PORT: Address already in use" and a non-zero exit. */
static void
assert_second_consentd_fails(struct it_server *other, unsigned port,
    int threads)
{
	char log[PATH_MAX], want[96], *text = NULL;
	char *argv[] = { (char *)(uintptr_t)"/bin/cat", log, NULL };
	int rc;

	it_fmt(log, sizeof(log), "%s/second-%u-%d.log", other->dir, port,
	    threads);
	rc = run_consentd(other->data, port, threads, log);
	assert_int_equal(it_run_capture(argv, &text, IT_CMD_TIMEOUT_MS), 0);
	if (rc <= 0)
		fail_msg("a second consentd on port %u %s:\n%s", port,
		    rc < 0 ? "started (it was killed) or did not run" :
		    "exited 0", text);
	it_fmt(want, sizeof(want), "listen on 127.0.0.1:%u: Address already in "
	    "use", port);
	assert_contains(text, want);
	/* Failing start-up frees what it made (and is UB-free). */
	if (strstr(text, "Sanitizer") != NULL ||
	    strstr(text, "runtime error:") != NULL)
		fail_msg("sanitizer report from the second consentd:\n%s", text);
	free(text);
}

/* A fresh consentd, not the group's (it_finish stops it). */
static struct it_server *
start_own(int threads, const char *set)
{
	struct it_server *o = it_server_new();

	assert_non_null(o);
	o->threads = threads;
	if (set != NULL)
		o->sets[o->nsets++] = set;
	assert_int_equal(it_server_start(o), 0);
	return o;
}

/* ---- tests -------------------------------------------------------------- */

IT_TEST(each_worker_listens_on_a_socket_of_its_own)
{
	assert_int_equal(s->threads, 2);
	assert_int_equal(listeners_on(s->port), 2);
	assert_int_equal(it_server_log_count_run(s, "\"event\":\"listen_shared\""),
	    0);
}

/*
 * One burst: SPREAD_CONNS connections queued in the kernel before consentd
 * can accept any (it is stopped meanwhile; the kernel completes the TCP
 * handshakes on its own), as when many clients start at once while the
 * workers are busy; then each handshakes and sends its requests. per[]
 * gets the connections each worker served (from the request log).
 */
static void
spread_burst(struct it_server *s, SSL_CTX *ctx, int burst, int per[2])
{
	struct tconn c[SPREAD_CONNS];
	int thread[SPREAD_CONNS], i, r;
	char path[64], prefix[32];

	assert_int_equal(kill(s->pid, SIGSTOP), 0);
	for (i = 0; i < SPREAD_CONNS; i++)
		tcp_open(&c[i], s->port);
	assert_int_equal(kill(s->pid, SIGCONT), 0);
	for (i = 0; i < SPREAD_CONNS; i++)
		tls_start(&c[i], ctx);
	it_fmt(prefix, sizeof(prefix), "/listen-spread/%d/", burst);
	for (r = 0; r < SPREAD_REQS; r++)
		for (i = 0; i < SPREAD_CONNS; i++) {
			it_fmt(path, sizeof(path), "%s%d/%d", prefix, i, r);
			assert_int_equal(tconn_get(&c[i], path, 0, NULL), 404);
		}
	for (i = 0; i < SPREAD_CONNS; i++)
		tconn_close(&c[i]);
	/* Every request logged, each connection's all by one worker. */
	assert_int_equal(log_threads(s, prefix, thread, SPREAD_CONNS),
	    SPREAD_CONNS * SPREAD_REQS);
	per[0] = per[1] = 0;
	for (i = 0; i < SPREAD_CONNS; i++) {
		assert_true(thread[i] == 0 || thread[i] == 1);
		per[thread[i]]++;
	}
}

IT_TEST(keep_alive_connections_opened_at_once_spread_over_both_workers)
{
	SSL_CTX *ctx = client_ctx(s);
	int per[SPREAD_BURSTS][2], b, bad = -1;

	for (b = 0; b < SPREAD_BURSTS; b++) {
		spread_burst(s, ctx, b, per[b]);
		fprintf(stderr, "listen: burst %d: %d keep-alive connections "
		    "over 2 workers: %d / %d\n", b, SPREAD_CONNS, per[b][0],
		    per[b][1]);
		if (bad < 0 && (per[b][0] < SPREAD_MIN ||
		    per[b][1] < SPREAD_MIN))
			bad = b;
	}
	SSL_CTX_free(ctx);
	if (bad >= 0)
		fail_msg("burst %d: connections per worker %d / %d: one worker "
		    "got fewer than %d of %d", bad, per[bad][0], per[bad][1],
		    SPREAD_MIN, SPREAD_CONNS);
}

IT_TEST(second_consentd_on_the_same_port_fails_address_in_use)
{
	struct it_server *other = it_server_new();
	struct it_resp r;

	assert_non_null(other);
	assert_second_consentd_fails(other, s->port, 2);
	assert_second_consentd_fails(other, s->port, 1);
	/* The first one still has the address, alone. */
	assert_int_equal(listeners_on(s->port), 2);
	it_get(s, NULL, NULL, "/healthz", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
}

IT_TEST(consentd_fails_address_in_use_when_any_socket_holds_the_port)
{
	struct it_server *other = it_server_new();
	struct sockaddr_in a;
	socklen_t alen;
	int fd, one = 1, kind;
	unsigned port;

	(void)s;
	assert_non_null(other);
	/* 0: plain, listening; 1: plain, only bound; 2: listening with
	 * SO_REUSEADDR and SO_REUSEPORT, as another program of this user
	 * might (or another consentd's worker socket). */
	for (kind = 0; kind < 3; kind++) {
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		alen = sizeof(a);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		if (kind == 2) {
			assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR,
			    &one, sizeof(one)), 0);
			assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT,
			    &one, sizeof(one)), 0);
		}
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen),
		    0);
		port = ntohs(a.sin_port);
		if (kind != 1)
			assert_int_equal(listen(fd, 16), 0);
		assert_second_consentd_fails(other, port, 2);
		close(fd);
	}
}

IT_TEST(max_connections_counts_the_connections_of_all_workers)
{
	struct it_server *o = start_own(2, "max_connections=16");
	struct tconn c[MAXCONN + 1], extra;
	int thread[MAXCONN], per[2] = { 0, 0 }, i;
	char path[64], resp[8192];
	SSL_CTX *ctx = client_ctx(o);
	long st = 0;
	int64_t end;

	(void)s;
	/* The harness's /healthz connections at start have gone. */
	it_sleep_ms(300);
	/* Up to the limit, every connection is served, whichever worker
	 * the kernel gives it to (with a limit per worker of 16 / 2, one
	 * with a ninth would be refused). */
	for (i = 0; i < MAXCONN; i++) {
		tcp_open(&c[i], o->port);
		tls_start(&c[i], ctx);
		it_fmt(path, sizeof(path), "/listen-max/%d", i);
		st = tconn_get(&c[i], path, 0, resp);
		if (st != 404)
			fail_msg("connection %d of %d: HTTP %ld: %.300s", i + 1,
			    MAXCONN, st, resp);
	}
	assert_int_equal(log_threads(o, "/listen-max/", thread, MAXCONN),
	    MAXCONN);
	for (i = 0; i < MAXCONN; i++)
		per[thread[i] == 1]++;
	fprintf(stderr, "listen: max_connections %d reached with %d / %d "
	    "connections on the two workers\n", MAXCONN, per[0], per[1]);
	/* One more is refused. */
	tcp_open(&c[MAXCONN], o->port);
	tls_start(&c[MAXCONN], ctx);
	assert_int_equal(tconn_get(&c[MAXCONN], "/listen-max/over", 0, resp),
	    503);
	assert_contains(resp, "\"rule\":\"max_connections\"");
	assert_contains(resp, "Connection: close");
	tconn_close(&c[MAXCONN]);
	/* A connection that closes frees its place (once the broker has
	 * seen the close: retried, bounded). */
	tconn_close(&c[0]);
	end = it_now_ms() + 3000;
	do {
		it_sleep_ms(50);
		tcp_open(&extra, o->port);
		tls_start(&extra, ctx);
		st = tconn_get(&extra, "/listen-max/again", 0, NULL);
		tconn_close(&extra);
	} while (st == 503 && it_now_ms() < end);
	assert_int_equal(st, 404);
	for (i = 1; i < MAXCONN; i++)
		tconn_close(&c[i]);
	SSL_CTX_free(ctx);
	assert_int_equal(it_server_stop(o), 0);
}

IT_TEST(one_worker_serves_and_holds_its_port)
{
	struct it_server *o = start_own(1, NULL);
	struct it_server *other = it_server_new();
	struct it_resp r;
	int i;

	(void)s;
	assert_non_null(other);
	assert_int_equal(listeners_on(o->port), 1);
	for (i = 0; i < 4; i++) {
		it_get(o, NULL, NULL, "/healthz", &r);
		assert_status(&r, 200);
		it_resp_free(&r);
	}
	assert_int_equal(it_server_log_count_run(o, "\"thread\":1"), 0);
	assert_second_consentd_fails(other, o->port, 2);
	assert_int_equal(it_server_stop(o), 0);
}

/*
 * One connection with a party's certificate, then a second offering the
 * first one's session: 1 when the second resumed it. Either way the
 * second must still be the party (GET /v1/agreements answers 200).
 */
static int
resumes(const struct it_server *s, int tls_max, int no_ticket)
{
	char path[PATH_MAX];
	SSL_CTX *ctx = client_ctx(s);
	SSL_SESSION *sess;
	struct tconn c;
	int reused;

	it_fmt(path, sizeof(path), "%s/pki/ird.crt", s->data);
	assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, path), 1);
	it_fmt(path, sizeof(path), "%s/pki/ird.key", s->data);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path,
	    SSL_FILETYPE_PEM), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(ctx, tls_max), 1);
	if (no_ticket)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	tcp_open(&c, s->port);
	tls_start(&c, ctx);
	assert_int_equal(SSL_version(c.ssl), tls_max);
	/* A reply read, so that TLS 1.3's tickets (sent after the
	 * handshake) have arrived. */
	assert_int_equal(tconn_get(&c, "/v1/agreements", 0, NULL), 200);
	sess = SSL_get1_session(c.ssl);
	assert_non_null(sess);
	/* Closed cleanly: OpenSSL makes the session of a connection freed
	 * without close_notify unresumable. */
	assert_true(SSL_shutdown(c.ssl) >= 0);
	tconn_close(&c);
	tcp_open(&c, s->port);
	tls_resume(&c, ctx, sess);
	reused = SSL_session_reused(c.ssl);
	assert_int_equal(tconn_get(&c, "/v1/agreements", 1, NULL), 200);
	tconn_close(&c);
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
	return reused;
}

/*
 * Sessions resume by ticket, TLS 1.3 and 1.2, and a resumed connection is
 * still the party whose certificate the first one presented. consentd
 * keeps no session cache, so a TLS 1.2 client that takes no tickets
 * makes a full handshake each time.
 */
IT_TEST(sessions_resume_by_ticket_and_none_is_kept_by_the_server)
{
	assert_int_equal(resumes(s, TLS1_3_VERSION, 0), 1);
	assert_int_equal(resumes(s, TLS1_2_VERSION, 0), 1);
	assert_int_equal(resumes(s, TLS1_2_VERSION, 1), 0);
}

IT_TEST(restart_on_the_same_port_with_connections_in_time_wait)
{
	struct tconn c;
	SSL_CTX *ctx = client_ctx(s);
	unsigned port = s->port;
	int i, starts = s->starts;

	/* The broker closes these connections first ("Connection: close"),
	 * so they wait in TIME_WAIT on its port. */
	for (i = 0; i < 4; i++) {
		tcp_open(&c, port);
		tls_start(&c, ctx);
		assert_int_equal(tconn_get(&c, "/listen-timewait", 1, NULL), 404);
		tconn_close(&c);
	}
	SSL_CTX_free(ctx);
	assert_true(time_waits_on(port) > 0);
	assert_int_equal(it_server_stop(s), 0);
	/* The harness tries the previous port first and moves on only when
	 * it is in use: the port must be the same, on the first attempt. */
	assert_int_equal(it_server_start(s), 0);
	assert_int_equal(s->port, port);
	assert_int_equal(s->starts, starts + 1);
	assert_int_equal(listeners_on(port), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_worker_listens_on_a_socket_of_its_own),
		cmocka_unit_test(
		    keep_alive_connections_opened_at_once_spread_over_both_workers),
		cmocka_unit_test(
		    second_consentd_on_the_same_port_fails_address_in_use),
		cmocka_unit_test(
		    consentd_fails_address_in_use_when_any_socket_holds_the_port),
		cmocka_unit_test(
		    max_connections_counts_the_connections_of_all_workers),
		cmocka_unit_test(one_worker_serves_and_holds_its_port),
		cmocka_unit_test(
		    restart_on_the_same_port_with_connections_in_time_wait),
		cmocka_unit_test(
		    sessions_resume_by_ticket_and_none_is_kept_by_the_server),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/listen",
	    tests, it_group_setup, it_group_teardown));
}
