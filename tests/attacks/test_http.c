/*
 * Hostile HTTP against a consentd with request_timeout_s=2 and
 * request_deadline_s=4: oversize headers and bodies, slow clients
 * (stalled TLS handshakes, half requests, requests trickled a byte at a
 * time), many connections, a broker short of descriptors, malformed
 * chunked bodies, and path traversal on the static route. The broker must
 * answer each with evhttp's or its own refusal, keep answering others
 * quickly, close what stalls, and write nothing.
 *
 * Findings the broker does not defend against yet are printed as
 * "attack finding: ..." and fail only with CB_ATTACK_STRICT=1 (see
 * docs/security.md, "Attack suite").
 */
#include "attack.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define SUBJECT "atk-http-alice"
#define TIMEOUT_S 2               /* request_timeout_s of the server */
#define DEADLINE_S 4              /* request_deadline_s of the server */
#define QUICK_MS 1000             /* "answers others quickly" */

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/* Made by the group setup; tests run one at a time. */
static struct {
	char *form;               /* a token request that would be granted */
} fx;

static int
setup(void **state)
{
	struct it_server *s = it_server_new();
	struct it_resp r;
	json_t *d;

	if (s == NULL)
		return -1;
	s->sets[s->nsets++] = "request_timeout_s=2";
	s->sets[s->nsets++] = "request_deadline_s=4";
	if (it_server_start(s) != 0)
		return -1;
	*state = s;
	it_grant(s, SUBJECT, SMARTSTART, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	d = it_details(SMARTSTART, SUBJECT, PURPOSE, two_fields);
	fx.form = it_token_form(d);
	json_decref(d);
	return 0;
}

static int
teardown(void **state)
{
	free(fx.form);
	return it_group_teardown(state);
}

/* A finding: printed; a failure only under CB_ATTACK_STRICT=1. */
static void
finding(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
finding(const char *fmt, ...)
{
	const char *strict = getenv("CB_ATTACK_STRICT");
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "attack finding: %s\n", msg);
	if (strict != NULL && strcmp(strict, "1") == 0)
		fail_msg("%s", msg);
}

/* Sends a raw request (NUL-terminated) as party; the status. */
static long
raw(const struct it_server *s, const char *party, const char *req,
    char **resp)
{
	return atk_raw_request(s, party, req, strlen(req), resp,
	    ATK_IO_TIMEOUT_MS);
}

/* A request with an n-byte header value; new string. */
static char *
with_header(const char *start, const char *name, size_t n, const char *end)
{
	size_t len = strlen(start) + strlen(name) + n + strlen(end) + 8;
	char *r = malloc(len), *p;

	assert_non_null(r);
	p = r + snprintf(r, len, "%s%s: ", start, name);
	memset(p, 'a', n);
	snprintf(p + n, len - (size_t)(p + n - r), "\r\n%s", end);
	return r;
}

/* ---- sizes ------------------------------------------------------------------ */

IT_TEST(oversize_headers_are_refused_and_the_broker_stays_up)
{
	uint64_t before = atk_log_size(s);
	char *req, *resp = NULL, *p;
	size_t i, n;
	long st;

	/* Control: 12 KiB of header is under the 16 KiB bound. */
	req = with_header("GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Pad",
	    12 * 1024, "Connection: close\r\n\r\n");
	assert_int_equal(raw(s, NULL, req, NULL), 200);
	free(req);
	/* One header of 20 KiB: evhttp (2.1) answers 400 itself and
	 * closes; no route sees it. */
	req = with_header("GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Pad",
	    20 * 1024, "Connection: close\r\n\r\n");
	st = raw(s, NULL, req, &resp);
	if (st != 400 || strstr(resp, "Connection: close") == NULL)
		fail_msg("20 KiB header: HTTP %ld: %.300s", st, resp);
	free(resp);
	free(req);
	/* 3000 small headers (about 30 KiB). */
	n = 3000 * 20 + 256;
	req = malloc(n);
	assert_non_null(req);
	p = req + snprintf(req, n, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	for (i = 0; i < 3000; i++)
		p += snprintf(p, n - (size_t)(p - req), "X-%05zu: abcdef\r\n", i);
	snprintf(p, n - (size_t)(p - req), "Connection: close\r\n\r\n");
	assert_int_equal(raw(s, NULL, req, NULL), 400);
	free(req);
	/* A 20 KiB request target. */
	n = 20 * 1024 + 128;
	req = malloc(n);
	assert_non_null(req);
	p = req + snprintf(req, n, "GET /healthz?");
	memset(p, 'q', 20 * 1024);
	snprintf(p + 20 * 1024, n - (size_t)(p + 20 * 1024 - req),
	    " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(raw(s, NULL, req, NULL), 400);
	free(req);
	/* A token request whose headers are oversize: never reaches it. */
	req = with_header("POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n", "X-Pad",
	    20 * 1024, "Connection: close\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(raw(s, "ird", req, NULL), 400);
	free(req);
	atk_assert_healthy(s, QUICK_MS);
	assert_int_equal(atk_log_size(s), before);
}

IT_TEST(oversize_bodies_are_refused_and_the_broker_stays_up)
{
	uint64_t before = atk_log_size(s);
	struct it_req q = { .method = "POST", .path = "/v1/consents",
	    .ctype = "application/json" };
	char *body, *req, *resp = NULL;
	struct it_resp r;
	size_t n;
	long st;

	/* 100 KiB of JSON to a citizen route: the route's 413. */
	n = 100 * 1024;
	body = malloc(n + 1);
	assert_non_null(body);
	memset(body, ' ', n);
	memcpy(body, "{\"agreement\":\"" SMARTSTART "\"}",
	    strlen("{\"agreement\":\"" SMARTSTART "\"}"));
	body[n] = '\0';
	q.body = body;
	q.bearer = it_citizen_token(s, "atk-http-bob", 0);
	it_request(s, &q, &r);
	assert_problem(&r, 413, "exceeds the limit of 65536 bytes");
	assert_string_equal(it_jstr(r.json, "rule"), "body_size");
	it_resp_free(&r);
	free(body);
	/* 300 KiB (over 4x the limit) to the token endpoint: evhttp's 413. */
	n = 300 * 1024;
	body = malloc(n + 1);
	assert_non_null(body);
	memset(body, 'x', n);
	body[n] = '\0';
	memcpy(body, fx.form, strlen(fx.form));
	body[strlen(fx.form)] = '&';
	q.path = "/oauth2/token";
	q.ctype = "application/x-www-form-urlencoded";
	q.body = body;
	q.bearer = NULL;
	q.party = "ird";
	it_request(s, &q, &r);
	if (r.status != 413 && r.curl_rc == 0)
		fail_msg("300 KiB body: HTTP %ld", r.status);
	it_resp_free(&r);
	free(body);
	/* A Content-Length of a terabyte with 10 bytes sent: refused at
	 * once, not waited for. */
	req = strdup("POST /oauth2/token HTTP/1.1\r\nHost: x\r\nContent-Type: "
	    "application/x-www-form-urlencoded\r\nContent-Length: "
	    "1099511627776\r\n\r\ngrant_type");
	{
		int64_t t0 = it_now_ms();

		st = raw(s, "ird", req, &resp);
		if (st != 413)
			fail_msg("Content-Length 2^40: HTTP %ld: %.300s", st, resp);
		if (it_now_ms() - t0 > QUICK_MS)
			fail_msg("Content-Length 2^40: answered after %lld ms",
			    (long long)(it_now_ms() - t0));
	}
	free(resp);
	free(req);
	/* Negative, junk and too large lengths (evhttp's answers). */
	{
		static const struct {
			const char *h;
			long want;
		} lens[] = {
			{ "Content-Length: -1\r\n", 400 },
			{ "Content-Length: abc\r\n", 400 },
			{ "Content-Length: 18446744073709551617\r\n", 413 },
		};
		char buf[512];
		size_t i;

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			it_fmt(buf, sizeof(buf), "POST /oauth2/token HTTP/1.1\r\n"
			    "Host: x\r\nContent-Type: application/"
			    "x-www-form-urlencoded\r\n%sConnection: close\r\n\r\n"
			    "grant_type=client_credentials", lens[i].h);
			st = raw(s, "ird", buf, &resp);
			if (st != lens[i].want)
				fail_msg("%s: HTTP %ld: %.300s", lens[i].h, st, resp);
			free(resp);
		}
	}
	atk_assert_healthy(s, QUICK_MS);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- slow and many clients -------------------------------------------------- */

#define SLOW_SILENT 150   /* TCP only */
#define SLOW_HELLO 50     /* part of a ClientHello */
#define SLOW_HEADERS 50   /* TLS, then half the request headers */
#define SLOW_BODY 50      /* TLS, headers, then half the body */
#define SLOW_ALL (SLOW_SILENT + SLOW_HELLO + SLOW_HEADERS + SLOW_BODY)

IT_TEST(stalled_clients_do_not_slow_others_and_are_closed_after_the_timeout)
{
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00,
	    0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0x01 };
	static const char half_headers[] = "POST /oauth2/token HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: applic";
	static const char half_body[] = "POST /oauth2/token HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: 100\r\n\r\ngrant_type=client";
	uint64_t before = atk_log_size(s);
	int fds[SLOW_ALL], i, open_n;
	SSL *ssl[SLOW_ALL];
	int64_t t0, closed_at = -1;
	long worst = 0, took;

	atk_raise_nofile(4096);
	memset(ssl, 0, sizeof(ssl));
	for (i = 0; i < SLOW_ALL; i++) {
		if (i < SLOW_SILENT + SLOW_HELLO) {
			fds[i] = atk_tcp_connect(s);
			assert_true(fds[i] >= 0);
			if (i >= SLOW_SILENT)
				assert_int_equal(send(fds[i], hello, sizeof(hello),
				    MSG_NOSIGNAL), (ssize_t)sizeof(hello));
			continue;
		}
		ssl[i] = atk_tls_connect(s, "ird", &fds[i]);
		assert_non_null(ssl[i]);
		if (i < SLOW_SILENT + SLOW_HELLO + SLOW_HEADERS)
			assert_true(SSL_write(ssl[i], half_headers,
			    (int)strlen(half_headers)) > 0);
		else
			assert_true(SSL_write(ssl[i], half_body,
			    (int)strlen(half_body)) > 0);
	}
	t0 = it_now_ms();
	/* Others are served at once: reads, and a write (a token). */
	for (i = 0; i < 5; i++) {
		took = atk_assert_healthy(s, QUICK_MS);
		worst = took > worst ? took : worst;
	}
	{
		struct it_resp r;
		int64_t t1 = it_now_ms();

		it_post_form(s, "ird", "/oauth2/token", fx.form, &r);
		assert_status(&r, 200);
		it_resp_free(&r);
		if (it_now_ms() - t1 > QUICK_MS)
			fail_msg("a token took %lld ms with %d stalled connections",
			    (long long)(it_now_ms() - t1), SLOW_ALL);
		before++;   /* that token is one log entry */
	}
	fprintf(stderr, "attack: %d stalled connections; /healthz at most "
	    "%ld ms\n", SLOW_ALL, worst);
	/* Each stalled one is closed by the broker after the timeout. */
	for (;;) {
		open_n = 0;
		for (i = 0; i < SLOW_ALL; i++)
			if (fds[i] >= 0 && !atk_peer_closed(fds[i]))
				open_n++;
		if (open_n == 0) {
			closed_at = it_now_ms() - t0;
			break;
		}
		if (it_now_ms() - t0 > (TIMEOUT_S + 3) * 1000)
			break;
		it_sleep_ms(100);
	}
	for (i = 0; i < SLOW_ALL; i++)
		atk_tls_close(ssl[i], fds[i]);
	ERR_clear_error();
	if (closed_at < 0)
		fail_msg("%d of %d stalled connections still open %d s after "
		    "the %d s timeout", open_n, SLOW_ALL, 3, TIMEOUT_S);
	fprintf(stderr, "attack: all %d stalled connections closed by the "
	    "broker %lld ms after the stall began\n", SLOW_ALL,
	    (long long)closed_at);
	atk_assert_healthy(s, QUICK_MS);
	assert_int_equal(atk_log_size(s), before);
}

/* How long after the deadline a closed connection may take to show. */
#define DEADLINE_SLACK_MS 2000

/*
 * Sends one byte of req (from *sent) on each open connection; a write
 * that fails (the broker closed it) closes our end. The number still open.
 */
static int
trickle_one(SSL **ssl, int *fds, int n, const char *req, size_t *sent)
{
	int i, open_n = 0;

	for (i = 0; i < n; i++) {
		if (ssl[i] == NULL)
			continue;
		if (atk_peer_closed(fds[i]) ||
		    SSL_write(ssl[i], req + *sent, 1) != 1) {
			ERR_clear_error();
			atk_tls_close(ssl[i], fds[i]);
			ssl[i] = NULL;
			fds[i] = -1;
			continue;
		}
		open_n++;
	}
	(*sent)++;
	return open_n;
}

IT_TEST(trickling_clients_are_closed_at_the_deadline_while_others_are_served)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	enum { N = 20 };
	SSL *ssl[N];
	int fds[N], i, open_n = N;
	int64_t t0, now, closed_at = -1;
	long worst = 0, took;
	size_t sent = 0;

	/* One byte each 500 ms: well within the 2 s idle timeout, which
	 * every byte resets, so only the whole-request deadline (4 s from
	 * the accept for a first request) can end them: slowloris. */
	for (i = 0; i < N; i++) {
		ssl[i] = atk_tls_connect(s, NULL, &fds[i]);
		assert_non_null(ssl[i]);
	}
	t0 = it_now_ms();
	assert_true(sizeof(req) - 1 > 4 * DEADLINE_S);
	while (sent < sizeof(req) - 1) {
		now = it_now_ms();
		open_n = trickle_one(ssl, fds, N, req, &sent);
		/* Not early: every one is open until the deadline is near. */
		if (now - t0 < (DEADLINE_S - 1) * 1000 && open_n < N)
			fail_msg("%d of %d trickling connections closed %lld ms "
			    "after the accept, before the %d s deadline",
			    N - open_n, N, (long long)(now - t0), DEADLINE_S);
		if (open_n == 0) {
			closed_at = now - t0;
			break;
		}
		if (now - t0 > DEADLINE_S * 1000 + DEADLINE_SLACK_MS)
			break;
		/* Others are served at once meanwhile. */
		took = atk_assert_healthy(s, QUICK_MS);
		worst = took > worst ? took : worst;
		it_sleep_ms(took < 500 ? 500 - took : 0);
	}
	for (i = 0; i < N; i++)
		atk_tls_close(ssl[i], fds[i]);
	ERR_clear_error();
	if (closed_at < 0)
		fail_msg("%d of %d connections sending one header byte every "
		    "500 ms were still open %lld ms after the accept "
		    "(request_deadline_s=%d)", open_n, N,
		    (long long)(it_now_ms() - t0), DEADLINE_S);
	fprintf(stderr, "attack: %d trickling connections closed by the "
	    "broker %lld ms after the accept (deadline %d s); /healthz at "
	    "most %ld ms meanwhile\n", N, (long long)closed_at, DEADLINE_S,
	    worst);
	atk_assert_healthy(s, QUICK_MS);
}

/* Sends req in parts of step bytes, gap_ms apart; 0 or -1 (write failed). */
static int
send_slowly(SSL *ssl, const char *req, size_t step, long gap_ms)
{
	size_t off = 0, len = strlen(req), n;

	while (off < len) {
		n = len - off < step ? len - off : step;
		if (SSL_write(ssl, req + off, (int)n) != (int)n) {
			ERR_clear_error();
			return -1;
		}
		off += n;
		if (off < len)
			it_sleep_ms(gap_ms);
	}
	return 0;
}

IT_TEST(deadline_runs_per_request_from_its_first_byte_not_per_connection)
{
	static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char slow[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char *resp = NULL;
	int64_t t0, t1, now;
	size_t sent = 0;
	SSL *ssl;
	int fd, open_n = 1;
	long st;

	(void)s;
	ssl = atk_tls_connect(s, NULL, &fd);
	assert_non_null(ssl);
	t0 = it_now_ms();
	/* A first request, at once: answered, and the connection kept. */
	assert_int_equal(send_slowly(ssl, get, sizeof(get), 0), 0);
	st = atk_tls_read_response(ssl, fd, &resp, ATK_IO_TIMEOUT_MS);
	if (st != 200)
		fail_msg("first request: HTTP %ld: %.300s", st, resp);
	free(resp);
	/* Idle for 1.5 s (under the 2 s idle timeout), a second request at
	 * once, idle 1.5 s again, then a third sent in three parts over
	 * 2.4 s, under the 4 s deadline: answered, although the connection
	 * is by then older than the deadline. */
	it_sleep_ms(1500);
	assert_int_equal(send_slowly(ssl, get, sizeof(get), 0), 0);
	st = atk_tls_read_response(ssl, fd, &resp, ATK_IO_TIMEOUT_MS);
	if (st != 200)
		fail_msg("second request: HTTP %ld: %.300s", st, resp);
	free(resp);
	it_sleep_ms(1500);
	assert_int_equal(send_slowly(ssl, get, 13, 1200), 0);
	st = atk_tls_read_response(ssl, fd, &resp, ATK_IO_TIMEOUT_MS);
	if (st != 200)
		fail_msg("a slow but timely request %lld ms into the "
		    "connection: HTTP %ld: %.300s",
		    (long long)(it_now_ms() - t0), st, resp);
	free(resp);
	assert_true(it_now_ms() - t0 > DEADLINE_S * 1000);
	/* Idle 1 s, then a fourth request trickled a byte every 500 ms: its
	 * own clock starts at its first byte. */
	it_sleep_ms(1000);
	t1 = it_now_ms();
	while (sent < sizeof(slow) - 1) {
		now = it_now_ms();
		open_n = trickle_one(&ssl, &fd, 1, slow, &sent);
		if (open_n == 0)
			break;
		if (now - t1 > DEADLINE_S * 1000 + DEADLINE_SLACK_MS)
			break;
		it_sleep_ms(500);
	}
	now = it_now_ms();
	atk_tls_close(ssl, fd);
	ERR_clear_error();
	if (open_n > 0)
		fail_msg("a kept-alive connection trickling its fourth request "
		    "was still open %lld ms after the request's first byte",
		    (long long)(now - t1));
	if (now - t1 < (DEADLINE_S - 1) * 1000)
		fail_msg("the trickled fourth request was cut %lld ms after its "
		    "first byte, before its own %d s deadline",
		    (long long)(now - t1), DEADLINE_S);
	fprintf(stderr, "attack: a kept-alive connection's trickled request "
	    "was closed %lld ms after its first byte (%lld ms after the "
	    "accept)\n", (long long)(now - t1), (long long)(now - t0));
	atk_assert_healthy(s, QUICK_MS);
}

IT_TEST(many_connections_are_accepted_without_harm_and_released)
{
	enum { N = 1200 };
	int *fds = calloc(N, sizeof(int)), i, base, peak, after = -1;
	int64_t t0;
	long lim = atk_raise_nofile(N + 512);

	assert_non_null(fds);
	if (lim < N + 256)
		fail_msg("RLIMIT_NOFILE is %ld; %d connections need more", lim, N);
	base = atk_fd_count(s->pid);
	for (i = 0; i < N; i++) {
		fds[i] = atk_tcp_connect(s);
		if (fds[i] < 0)
			fail_msg("connection %d: %s", i, strerror(errno));
	}
	/* Until the broker has accepted them all (bounded). */
	t0 = it_now_ms();
	do {
		it_sleep_ms(100);
		peak = atk_fd_count(s->pid);
	} while (peak - base < N && it_now_ms() - t0 < 1500);
	/* Others are still served, quickly and correctly. */
	atk_assert_healthy(s, QUICK_MS);
	{
		struct it_resp r;

		it_get(s, "ird", NULL, "/v1/agreements/" SMARTSTART, &r);
		assert_status(&r, 200);
		it_resp_free(&r);
	}
	fprintf(stderr, "attack: %d idle connections: consentd holds %d "
	    "descriptors (%d before)\n", N, peak, base);
	/* Below max_connections (4096 by default) idle connections are
	 * simply held; beyond it requests get 503 max_connections. */
	if (peak - base < N - 10)
		finding("consentd held only %d of %d idle connections", peak - base,
		    N);
	for (i = 0; i < N; i++)
		close(fds[i]);
	free(fds);
	/* Every descriptor comes back. */
	t0 = it_now_ms();
	while (it_now_ms() - t0 < 3000) {
		after = atk_fd_count(s->pid);
		if (after <= base + 4)
			break;
		it_sleep_ms(50);
	}
	if (after > base + 4)
		fail_msg("consentd holds %d descriptors after the clients left "
		    "(%d before)", after, base);
	assert_true(kill(s->pid, 0) == 0);
	atk_assert_healthy(s, QUICK_MS);
}

IT_TEST(a_broker_out_of_descriptors_survives_and_recovers)
{
	enum { FLOOD = 400, NOFILE = 128 };
	struct it_server *low = it_server_new();
	struct rlimit saved, rl;
	int *fds = calloc(FLOOD, sizeof(int)), i, n = 0;
	long cpu0, cpu1, took;
	int64_t t0;
	FILE *f;
	long log0 = 0, log1 = 0;

	assert_non_null(low);
	assert_non_null(fds);
	(void)s;
	low->sets[low->nsets++] = "request_timeout_s=2";
	/* Once started, consentd is held to 128 descriptors (soft and hard,
	 * set from outside with prlimit: it raises its own soft limit at
	 * start to fit max_connections). */
	(void)saved;
	i = it_server_start(low);
	assert_int_equal(i, 0);
	rl.rlim_cur = NOFILE;
	rl.rlim_max = NOFILE;
	assert_int_equal(prlimit(low->pid, RLIMIT_NOFILE, &rl, NULL), 0);
	atk_assert_healthy(low, QUICK_MS);

	for (i = 0; i < FLOOD; i++)
		if ((fds[i] = atk_tcp_connect(low)) >= 0)
			n++;
	it_sleep_ms(300);
	if ((f = fopen(low->log, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		log0 = ftell(f);
		fclose(f);
	}
	cpu0 = atk_cpu_ticks(low->pid);
	it_sleep_ms(1000);
	cpu1 = atk_cpu_ticks(low->pid);
	if ((f = fopen(low->log, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		log1 = ftell(f);
		fclose(f);
	}
	fprintf(stderr, "attack: %d connections to a consentd limited to %d "
	    "descriptors: %ld CPU ticks in 1 s, %ld log bytes in 1 s\n", n,
	    NOFILE, cpu1 - cpu0, log1 - log0);
	assert_true(kill(low->pid, 0) == 0);
	/* It pauses accepting instead of failing accept() in a loop and
	 * logging each failure (it wrote 2 MB a second before). */
	if (cpu1 - cpu0 > sysconf(_SC_CLK_TCK) / 5)
		fail_msg("out of descriptors, consentd burnt %ld of %ld CPU ticks "
		    "in one second", cpu1 - cpu0, sysconf(_SC_CLK_TCK));
	if (log1 - log0 > 4096)
		fail_msg("out of descriptors, consentd wrote %ld log bytes in "
		    "one second", log1 - log0);
	assert_true(it_server_log_count_run(low, "\"event\":\"accept_failed\"")
	    >= 1);
	for (i = 0; i < FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	/* Once the flood is gone it serves again. */
	t0 = it_now_ms();
	for (;;) {
		struct it_req q = { .path = "/healthz", .timeout_ms = 1000 };
		struct it_resp r;

		it_request(low, &q, &r);
		took = (long)(it_now_ms() - t0);
		if (r.status == 200) {
			it_resp_free(&r);
			break;
		}
		it_resp_free(&r);
		if (took > 5000)
			fail_msg("consentd did not recover within 5 s of the flood "
			    "ending");
	}
	fprintf(stderr, "attack: consentd answered again %ld ms after the "
	    "flood ended\n", took);
	assert_int_equal(it_server_stop(low), 0);
}

/* ---- chunked bodies ------------------------------------------------------------ */

/* A token request as ird with body framing frame (headers end included). */
static long
chunked(const struct it_server *s, const char *te, const char *frame,
    char **resp)
{
	char req[4096];

	it_fmt(req, sizeof(req), "POST /oauth2/token HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "%s\r\nConnection: close\r\n\r\n%s", te, frame);
	return raw(s, "ird", req, resp);
}

IT_TEST(malformed_chunked_bodies_are_refused_and_nothing_is_issued)
{
	char frame[4096], *resp = NULL;
	size_t flen = strlen(fx.form);
	uint64_t before;
	long st;
	size_t i;
	static const struct {
		const char *te, *fmt;
		long want;
	} bad[] = {
		/* Sizes that are not hex, negative, or overflow. */
		{ "Transfer-Encoding: chunked", "zz\r\n%s\r\n0\r\n\r\n", 413 },
		{ "Transfer-Encoding: chunked", "-5\r\n%s\r\n0\r\n\r\n", 413 },
		{ "Transfer-Encoding: chunked",
		    "ffffffffffffffffffffffff\r\n%s\r\n0\r\n\r\n", 413 },
		{ "Transfer-Encoding: chunked",
		    "7fffffffffffffff\r\n%s\r\n0\r\n\r\n", 413 },
		{ "Transfer-Encoding: chunked",
		    "10000000\r\n%s\r\n0\r\n\r\n", 413 },
		/* Data longer than its size, then junk for the next size. */
		{ "Transfer-Encoding: chunked", "3\r\n%s\r\nxyz\r\n0\r\n\r\n",
		    413 },
		/* A size line that never ends: no answer, closed at the
		 * timeout. */
		{ "Transfer-Encoding: chunked", "\r\n\r\n%s", 0 },
	};

	/* Control: the same request, well chunked, is granted (so the
	 * refusals below are the framing's). */
	it_fmt(frame, sizeof(frame), "%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
	    flen / 2, (int)(flen / 2), fx.form, flen - flen / 2,
	    fx.form + flen / 2);
	st = chunked(s, "Transfer-Encoding: chunked", frame, &resp);
	if (st != 200 || strstr(resp, "access_token") == NULL)
		fail_msg("well-chunked control: HTTP %ld: %.300s", st, resp);
	free(resp);
	before = atk_log_size(s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		it_fmt(frame, sizeof(frame), bad[i].fmt, fx.form);
#pragma GCC diagnostic pop
		st = chunked(s, bad[i].te, frame, &resp);
		if (st != bad[i].want)
			fail_msg("chunked case %zu (%.40s): HTTP %ld, want %ld: "
			    "%.300s", i, bad[i].fmt, st, bad[i].want,
			    resp != NULL ? resp : "");
		assert_null(strstr(resp, "access_token"));
		free(resp);
		resp = NULL;
	}
	atk_assert_healthy(s, QUICK_MS);
	assert_int_equal(atk_log_size(s), before);
}

/* Occurrences of needle in h. */
static int
count(const char *h, const char *needle)
{
	int n = 0;

	while (h != NULL && (h = strstr(h, needle)) != NULL) {
		n++;
		h += strlen(needle);
	}
	return n;
}

IT_TEST(ambiguous_framing_is_refused_and_the_connection_closed)
{
	char frame[4096], te[512], *resp = NULL;
	size_t flen = strlen(fx.form), i;
	uint64_t before = atk_log_size(s);
	long st;
	/* Each would frame a granted token request one way and leave the
	 * rest (a second request) for whoever frames it the other way. */
	static const char smuggled[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "\r\n";
	const struct {
		const char *fmt;
		int chunk;
	} cases[] = {
		{ "Content-Length: %zu\r\nContent-Length: 0", 0 },
		{ "Content-Length: %zu\r\nContent-Length: %zu", 0 },
		{ "Transfer-Encoding: chunked\r\nContent-Length: %zu", 1 },
		{ "Transfer-Encoding: xchunked\r\nContent-Length: %zu", 0 },
		{ "Transfer-Encoding: chunked, gzip", 1 },
		{ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked", 1 },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", 1 },
		{ "Transfer-Encoding: gzip", 0 },
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		it_fmt(te, sizeof(te), cases[i].fmt, flen, flen);
#pragma GCC diagnostic pop
		if (cases[i].chunk)
			it_fmt(frame, sizeof(frame), "%zx\r\n%s\r\n0\r\n\r\n%s",
			    flen, fx.form, smuggled);
		else
			it_fmt(frame, sizeof(frame), "%s%s", fx.form, smuggled);
		st = chunked(s, te, frame, &resp);
		/* evhttp refuses Transfer-Encoding with Content-Length itself
		 * (an HTML 400); the broker refuses the rest. */
		if (st != 400 || strstr(resp, "Connection: close") == NULL ||
		    (strstr(resp, "application/problem+json") != NULL &&
		    strstr(resp, "\"rule\":\"http_framing\"") == NULL))
			fail_msg("%s: HTTP %ld, want 400 http_framing and close: "
			    "%.400s", te, st, resp);
		{
			char *c;

			for (c = te; *c != '\0'; c++)
				*c = *c == '\r' ? ' ' : *c == '\n' ? '|' : *c;
			fprintf(stderr, "attack: %s: %s\n", te,
			    strstr(resp, "http_framing") != NULL ?
			    "the broker's 400" : "evhttp's 400");
		}
		/* One answer: the smuggled request was never read. */
		assert_int_equal(count(resp, "HTTP/1.1 "), 1);
		assert_null(strstr(resp, "access_token"));
		free(resp);
		resp = NULL;
	}
	atk_assert_healthy(s, QUICK_MS);
	assert_int_equal(atk_log_size(s), before);
}

/* ---- path traversal ---------------------------------------------------------------- */

IT_TEST(path_traversal_on_the_static_route_is_404_never_a_file)
{
	static const char *const paths[] = {
		"/static/../../etc/passwd",
		"/static/../../../../../../etc/passwd",
		"/static/%2e%2e/%2e%2e/etc/passwd",
		"/static/%2E%2E/%2E%2E/etc/passwd",
		"/static/..%2f..%2fetc%2fpasswd",
		"/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/static/%252e%252e/%252e%252e/etc/passwd",
		"/static/site.css/..",
		"/static/site.css/../../../../etc/passwd",
		"/static/site.css%2f..%2f..%2fetc%2fpasswd",
		"/static/./site.css/..",
		"/static//etc/passwd",
		"/static/....//....//etc/passwd",
		"/static/..;/..;/etc/passwd",
		"/static/site.css%00",
		"/static/site.css%00.png",
		"/static/site.css;.png",
		"/static/SITE.CSS",
		"/static/../consentd.conf",
		"/static/../data/pki/ca.key",
		"/static/../keys/signing/current",
		"/static/../broker/web/site.css",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/static",
		"/static/",
		"/static/web/site.css",
	};
	char req[1024], *resp = NULL;
	size_t i;
	long st;

	/* Control: the one static file. */
	st = raw(s, NULL, "GET /static/site.css HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &resp);
	assert_int_equal(st, 200);
	assert_non_null(strcasestr(resp, "Content-Type: text/css"));
	free(resp);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		it_fmt(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n", paths[i]);
		st = raw(s, NULL, req, &resp);
		if (st != 404)
			fail_msg("%s: HTTP %ld, want 404: %.300s", paths[i], st,
			    resp != NULL ? resp : "");
		if (strstr(resp, "root:") != NULL ||
		    strstr(resp, "PRIVATE KEY") != NULL ||
		    strstr(resp, "issuer =") != NULL ||
		    strcasestr(resp, "Content-Type: text/css") != NULL)
			fail_msg("%s: answered with a file: %.300s", paths[i], resp);
		free(resp);
		resp = NULL;
	}
	/* A target that is not an absolute path, and one with a backslash. */
	st = raw(s, NULL, "GET ../../etc/passwd HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &resp);
	if (st != 400)
		fail_msg("relative target: HTTP %ld: %.300s", st, resp);
	assert_null(strstr(resp, "root:"));
	free(resp);
	st = raw(s, NULL, "GET /static/..\\..\\etc\\passwd HTTP/1.1\r\nHost: x"
	    "\r\nConnection: close\r\n\r\n", &resp);
	if (st != 400 && st != 404)
		fail_msg("backslashes: HTTP %ld: %.300s", st, resp);
	assert_null(strstr(resp, "root:"));
	free(resp);
	atk_assert_healthy(s, QUICK_MS);
}

/*
 * A request path that is not UTF-8 (raw bytes in the request line) gets
 * an answer, and still one well-formed request log line, its path
 * replaced: the log stays one JSON object per line for whoever reads it.
 */
IT_TEST(a_path_that_is_not_utf8_is_answered_and_logged_as_json)
{
	char *resp = NULL;
	int before = it_server_log_count(s, "\"path\":\"(not UTF-8)\"");
	long st;

	st = raw(s, NULL, "GET /static/\xff\xfe\xc0\xaf HTTP/1.1\r\nHost: x\r\n"
	    "Connection: close\r\n\r\n", &resp);
	/* libevent passes the bytes on; the static route has no such file. */
	if (st != 404)
		fail_msg("raw bytes in the path: HTTP %ld: %.300s", st,
		    resp != NULL ? resp : "");
	free(resp);
	assert_int_equal(it_server_log_count(s, "\"path\":\"(not UTF-8)\""),
	    before + 1);
	atk_assert_healthy(s, QUICK_MS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    oversize_headers_are_refused_and_the_broker_stays_up),
		cmocka_unit_test(
		    oversize_bodies_are_refused_and_the_broker_stays_up),
		cmocka_unit_test(
		    stalled_clients_do_not_slow_others_and_are_closed_after_the_timeout),
		cmocka_unit_test(
		    trickling_clients_are_closed_at_the_deadline_while_others_are_served),
		cmocka_unit_test(
		    deadline_runs_per_request_from_its_first_byte_not_per_connection),
		cmocka_unit_test(
		    many_connections_are_accepted_without_harm_and_released),
		cmocka_unit_test(
		    a_broker_out_of_descriptors_survives_and_recovers),
		cmocka_unit_test(
		    malformed_chunked_bodies_are_refused_and_nothing_is_issued),
		cmocka_unit_test(
		    ambiguous_framing_is_refused_and_the_connection_closed),
		cmocka_unit_test(
		    path_traversal_on_the_static_route_is_404_never_a_file),
		cmocka_unit_test(
		    a_path_that_is_not_utf8_is_answered_and_logged_as_json),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("attacks/http", tests,
	    setup, teardown));
}
