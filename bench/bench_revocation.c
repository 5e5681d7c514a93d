/*
 * Revocation benchmark: how long a revoked consent's token keeps passing
 * a provider's libconsent verifier, and how large a token status list is.
 *
 *   bench_revocation [out.json]
 *
 * (1) Propagation. Starts its own consentd (a temporary data directory
 * from "consentctl init --dev", status_ttl_s = T) on a free loopback port.
 * Each run: a citizen consents, ird gets a token, dia's verifier (status
 * ttl T, dia's certificate) verifies it once, which caches the list; a
 * thread then calls consent_verify_peek every BENCH_POLL_MS. The consent
 * is revoked at phases i*T/runs after that first fetch (run 0, right
 * after it, is the worst case);
 * the time from the DELETE returning to the first CONSENT_E_REVOKED is the
 * propagation delay, reported in ms and as a fraction of T (the bound the
 * design promises is T, plus the fetch and one poll interval). Each run
 * also checks that introspection answers inactive on the first call after
 * the revoke.
 *
 * (2) Size. A list of 2^20 one-bit entries (one broker list, a million
 * tokens) all zero, and with 1%, 10% and 50% of the entries revoked at
 * random (fixed seed), compressed with zlib level 9 as the broker does
 * (compress2, Z_BEST_COMPRESSION), and its base64url length as carried
 * in the list token's "lst". Then, for 1% and 10% revoked, the largest
 * list (number of entries) whose signed statuslist+jwt still fits in
 * JWS_MAX_TOKEN, the bound keys/jws.c puts on every token it signs and
 * parses (the broker's signer and libconsent's parser alike): beyond it
 * the broker cannot serve the list and verifiers fail closed.
 *
 * Environment: BENCH_STATUS_TTL (seconds, default 2), BENCH_RUNS (default
 * 5), CB_BUILD (binaries; default: two levels above this program, i.e.
 * build/ for build/bench/bench_revocation), CB_AGREEMENTS (default
 * agreements/examples; run from the root).
 *
 * Results go to stdout as a table; when out.json (default build/bench.json)
 * exists and holds a JSON array, objects {"name", "value", "unit",
 * "ratio"} are appended to it (earlier results of the same names are
 * replaced).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <zlib.h>

#include "b64.h"
#include "client/consent.h"
#include "jws.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define BENCH_POLL_MS 10
#define BENCH_MAX_RUNS 20
#define BENCH_START_MS 10000     /* consentd answers /healthz */
#define BENCH_CMD_MS 10000       /* one consentctl run */
#define BENCH_STOP_MS 15000      /* SIGTERM to exit */
#define BENCH_REQ_MS 10000       /* one HTTPS request */
#define BENCH_BODY_MAX (1u << 20)
#define LIST_BITS (1u << 20)     /* STATUS_LIST_CAP in broker/status.h */
#define LIST_BYTES ((size_t)LIST_BITS >> 3)
#define MAX_RESULTS 16

struct result {
	char name[64];
	double value;
	const char *unit;
	double ratio;              /* < 0: none */
};

struct bench {
	char build[PATH_MAX];
	char agreements[PATH_MAX];
	char dir[PATH_MAX];        /* temporary; removed at the end */
	char data[PATH_MAX];
	char log[PATH_MAX];
	char base[64];             /* https://127.0.0.1:PORT */
	char ca[PATH_MAX + 16];
	char issuer[256];
	pid_t pid;                 /* consentd, -1 when not running */
	int ttl;                   /* status ttl T, seconds */
	int runs;
	char jwks[320];
	char dia_crt[PATH_MAX + 16];
	char dia_key[PATH_MAX + 16];
	consent_client *ird;
	consent_verifier *dia;     /* a new one each run: nothing cached */
	unsigned char *ird_der;    /* ird's certificate, for cnf */
	int ird_der_len;
	struct result res[MAX_RESULTS];
	size_t nres;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* snprintf into out; 0, or -1 when it does not fit. */
static int
fmt(char *out, size_t outlen, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static int
fmt(char *out, size_t outlen, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(out, outlen, f, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* An integer from the environment within [lo, hi], else def. */
static int
env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "bench_revocation: %s=%s: want %d..%d; using "
		    "%d\n", name, v, lo, hi, def);
		return def;
	}
	return (int)n;
}

static void
add_result(struct bench *b, const char *name, double value,
    const char *unit, double ratio)
{
	struct result *r;

	if (b->nres == MAX_RESULTS)
		return;
	r = &b->res[b->nres++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->value = value;
	r->unit = unit;
	r->ratio = ratio;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

/* Waits for pid up to ms; 1 reaped (status set), 0 still running. */
static int
wait_bounded(pid_t pid, int *status, long ms)
{
	int64_t end = mono_us() + (int64_t)ms * 1000;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return 1;
		if (mono_us() >= end)
			return 0;
		sleep_ms(10);
	}
}

/* Runs argv with stdout captured into a new string; 0 or -1. */
static int
run_capture(char *const argv[], char **out)
{
	int fds[2], status = 0;
	pid_t parent = getpid(), pid;
	size_t len = 0, cap = 4096;
	char *buf;
	ssize_t n;
	int64_t end = mono_us() + (int64_t)BENCH_CMD_MS * 1000;
	struct pollfd pfd;

	*out = NULL;
	if ((buf = malloc(cap)) == NULL)
		return -1;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(buf);
		return -1;
	}
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return -1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(fds[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		long left = (long)((end - mono_us()) / 1000);

		if (left <= 0 || (poll(&pfd, 1, (int)left) < 0 && errno != EINTR))
			break;
		if (len + 1024 > cap) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fds[0], buf + len, cap - len - 1);
		if (n == 0) {
			close(fds[0]);
			buf[len] = '\0';
			if (wait_bounded(pid, &status, 2000) &&
			    WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				*out = buf;
				return 0;
			}
			fprintf(stderr, "bench_revocation: %s failed (status "
			    "0x%x)\n", argv[0], status);
			free(buf);
			return -1;
		}
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			break;
		if (n > 0)
			len += (size_t)n;
	}
	close(fds[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	fprintf(stderr, "bench_revocation: %s timed out or failed\n", argv[0]);
	free(buf);
	return -1;
}

/* ---- HTTPS to the broker ------------------------------------------------ */

struct body {
	char *p;
	size_t len;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	char *nb;

	if (b->len + n > BENCH_BODY_MAX || (nb = realloc(b->p, b->len + n + 1))
	    == NULL)
		return 0;
	b->p = nb;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/*
 * method path as party (a dev certificate name) or with a bearer token;
 * ctype and body may be NULL. Returns the HTTP status (0 on a transport
 * error) and the body as JSON in *json when it parses (may be NULL).
 */
static long
http(const struct bench *b, const char *method, const char *path,
    const char *party, const char *bearer, const char *ctype,
    const char *body, json_t **json)
{
	char url[512], cert[PATH_MAX + 32], key[PATH_MAX + 32], h[8192];
	struct curl_slist *hdrs = NULL;
	struct body out = { NULL, 0 };
	long status = 0;
	CURL *c;

	if (json != NULL)
		*json = NULL;
	if ((c = curl_easy_init()) == NULL ||
	    fmt(url, sizeof(url), "%s%s", b->base, path) != 0)
		goto out;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, b->ca);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)BENCH_REQ_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (party != NULL) {
		if (fmt(cert, sizeof(cert), "%s/pki/%s.crt", b->data, party) ||
		    fmt(key, sizeof(key), "%s/pki/%s.key", b->data, party))
			goto out;
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (ctype != NULL && fmt(h, sizeof(h), "Content-Type: %s", ctype) == 0)
		hdrs = curl_slist_append(hdrs, h);
	if (bearer != NULL &&
	    fmt(h, sizeof(h), "Authorization: Bearer %s", bearer) == 0)
		hdrs = curl_slist_append(hdrs, h);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (json != NULL && out.p != NULL)
		*json = json_loadb(out.p, out.len, 0, NULL);
out:
	curl_slist_free_all(hdrs);
	if (c != NULL)
		curl_easy_cleanup(c);
	free(out.p);
	return status;
}

/* ---- consentd ----------------------------------------------------------- */

static unsigned
free_port(void)
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

/* consentctl init --dev into a new temporary directory. 0 or -1. */
static int
make_data(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	char consentctl[PATH_MAX + 16], *out = NULL;

	if (fmt(b->dir, sizeof(b->dir), "%s/cb-bench-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") != 0 ||
	    mkdtemp(b->dir) == NULL) {
		fprintf(stderr, "bench_revocation: mkdtemp: %s\n",
		    strerror(errno));
		b->dir[0] = '\0';
		return -1;
	}
	if (fmt(b->data, sizeof(b->data), "%s/data", b->dir) != 0 ||
	    fmt(b->log, sizeof(b->log), "%s/consentd.log", b->dir) != 0 ||
	    fmt(b->ca, sizeof(b->ca), "%s/pki/ca.crt", b->data) != 0 ||
	    fmt(consentctl, sizeof(consentctl), "%s/consentctl", b->build))
		return -1;
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"init",
		    (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"--data",
		    b->data, (char *)(uintptr_t)"--agreements", b->agreements,
		    NULL };

		if (run_capture(argv, &out) != 0)
			return -1;
	}
	free(out);
	return 0;
}

/* Starts consentd with status_ttl_s = b->ttl; waits for /healthz. */
static int
start_consentd(struct bench *b)
{
	char consentd[PATH_MAX + 16], listen[64], ttl[32];
	pid_t parent = getpid();
	unsigned port = free_port();
	int64_t end;
	int fd, status;

	if (port == 0 || fmt(consentd, sizeof(consentd), "%s/consentd",
	    b->build) != 0)
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(ttl, sizeof(ttl), "status_ttl_s=%d", b->ttl);
	snprintf(b->base, sizeof(b->base), "https://127.0.0.1:%u", port);
	b->pid = fork();
	if (b->pid < 0)
		return -1;
	if (b->pid == 0) {
		char *argv[] = { consentd, (char *)(uintptr_t)"--data", b->data,
		    (char *)(uintptr_t)"--listen", listen,
		    (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"--set", ttl,
		    NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(consentd, argv);
		_exit(127);
	}
	end = mono_us() + (int64_t)BENCH_START_MS * 1000;
	while (mono_us() < end) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = -1;
			fprintf(stderr, "bench_revocation: consentd exited at "
			    "start; see %s\n", b->log);
			return -1;
		}
		if (http(b, "GET", "/healthz", NULL, NULL, NULL, NULL, NULL) ==
		    200)
			return 0;
		sleep_ms(20);
	}
	fprintf(stderr, "bench_revocation: consentd did not start; see %s\n",
	    b->log);
	return -1;
}

static void
stop_consentd(struct bench *b)
{
	int status;

	if (b->pid <= 0)
		return;
	kill(b->pid, SIGTERM);
	if (!wait_bounded(b->pid, &status, BENCH_STOP_MS)) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, &status, 0);
	}
	b->pid = -1;
}

/* ---- propagation -------------------------------------------------------- */

/* A citizen ID token for subject (caller frees), or NULL. */
static char *
citizen_token(const struct bench *b, const char *subject)
{
	char consentctl[PATH_MAX + 16], *out = NULL;

	if (fmt(consentctl, sizeof(consentctl), "%s/consentctl", b->build))
		return NULL;
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"dev",
		    (char *)(uintptr_t)"citizen-token", (char *)(uintptr_t)"--data",
		    (char *)(uintptr_t)b->data, (char *)(uintptr_t)"--subject",
		    (char *)(uintptr_t)subject, NULL };

		if (run_capture(argv, &out) != 0)
			return NULL;
	}
	out[strcspn(out, "\r\n")] = '\0';
	return out;
}

/* dia's verifier: status ttl T, dia's certificate (its fetches count as
 * "seen"). A new one has no list cached. */
static consent_verifier *
new_verifier(const struct bench *b)
{
	struct consent_verifier_opts vo;
	consent_verifier *v = NULL;
	char detail[512];

	memset(&vo, 0, sizeof(vo));
	vo.provider = "dia";
	vo.issuer = b->issuer;
	vo.jwks_url = b->jwks;
	vo.ca_file = b->ca;
	vo.cert_file = b->dia_crt;
	vo.key_file = b->dia_key;
	vo.status_ttl_s = b->ttl;
	if (consent_verifier_new(&vo, &v, detail, sizeof(detail)) !=
	    CONSENT_OK)
		fprintf(stderr, "bench_revocation: verifier: %s\n", detail);
	return v;
}

/* ird's client and certificate (DER, for the token's cnf). */
static int
make_parties(struct bench *b)
{
	struct consent_client_opts co;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], detail[512];
	json_t *disc = NULL;
	X509 *x = NULL;
	FILE *f;

	if (http(b, "GET", "/.well-known/consent-broker", NULL, NULL, NULL,
	    NULL, &disc) != 200 || json_string_value(json_object_get(disc,
	    "issuer")) == NULL) {
		json_decref(disc);
		return -1;
	}
	snprintf(b->issuer, sizeof(b->issuer), "%s",
	    json_string_value(json_object_get(disc, "issuer")));
	json_decref(disc);
	if (fmt(cert, sizeof(cert), "%s/pki/ird.crt", b->data) ||
	    fmt(key, sizeof(key), "%s/pki/ird.key", b->data) ||
	    fmt(b->dia_crt, sizeof(b->dia_crt), "%s/pki/dia.crt", b->data) ||
	    fmt(b->dia_key, sizeof(b->dia_key), "%s/pki/dia.key", b->data) ||
	    fmt(b->jwks, sizeof(b->jwks), "%s/.well-known/jwks.json", b->base))
		return -1;
	memset(&co, 0, sizeof(co));
	co.broker_url = b->base;
	co.cert_file = cert;
	co.key_file = key;
	co.ca_file = b->ca;
	if (consent_client_new(&co, &b->ird, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "bench_revocation: client: %s\n", detail);
		return -1;
	}
	if ((f = fopen(cert, "r")) == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL || (b->ird_der_len = i2d_X509(x, &b->ird_der)) <= 0) {
		X509_free(x);
		return -1;
	}
	X509_free(x);
	return 0;
}

/* The poller: peeks until the token is rejected or it is told to stop. */
struct poller {
	struct bench *b;
	const char *token;
	atomic_int stop;
	_Atomic int64_t rejected_us;   /* 0 until CONSENT_E_REVOKED */
	atomic_int other;              /* another error code, 0 if none */
};

static void *
poll_main(void *arg)
{
	struct poller *p = arg;
	consent_err rc;

	while (!atomic_load(&p->stop)) {
		rc = consent_verify_peek(p->b->dia, p->token, p->b->ird_der,
		    (size_t)p->b->ird_der_len, NULL, 0, NULL);
		if (rc == CONSENT_E_REVOKED) {
			atomic_store(&p->rejected_us, mono_us());
			break;
		}
		if (rc != CONSENT_OK) {
			atomic_store(&p->other, (int)rc);
			break;
		}
		sleep_ms(BENCH_POLL_MS);
	}
	return NULL;
}

/*
 * One run: consent, token, first verification (the list is now cached),
 * revoke after phase_ms, measure. *delay_ms gets the propagation delay and
 * *introspect_inactive whether introspection said inactive at once.
 */
static int
one_run(struct bench *b, int i, long phase_ms, double *delay_ms,
    int *introspect_inactive)
{
	static const char *const fields[] = { "child.given_names" };
	struct consent_transfer t = { SMARTSTART, NULL, PURPOSE, fields, 1 };
	struct poller p;
	pthread_t th;
	char subject[64], path[128], *cit = NULL, *tok = NULL, *enc = NULL,
	    *form = NULL;
	json_t *j = NULL;
	const char *id;
	int64_t t_fetch, t_revoked, rej;
	int rc = -1, started = 0;
	size_t n;

	snprintf(subject, sizeof(subject), "bench-revoke-%d", i);
	t.subject = subject;
	if ((cit = citizen_token(b, subject)) == NULL)
		goto out;
	if (http(b, "POST", "/v1/consents", NULL, cit, "application/json",
	    "{\"agreement\": \"" SMARTSTART "\"}", &j) != 201 ||
	    (id = json_string_value(json_object_get(j, "id"))) == NULL) {
		fprintf(stderr, "bench_revocation: grant failed\n");
		goto out;
	}
	if (fmt(path, sizeof(path), "/v1/consents/%s", id) != 0)
		goto out;
	if (consent_client_token(b->ird, &t, &tok, NULL) != CONSENT_OK) {
		fprintf(stderr, "bench_revocation: token: %s\n",
		    consent_client_detail(b->ird));
		goto out;
	}
	/* A fresh verifier: this first check fetches the list, and the
	 * cache period starts now. */
	consent_verifier_free(b->dia);
	if ((b->dia = new_verifier(b)) == NULL)
		goto out;
	if (consent_verify_peek(b->dia, tok, b->ird_der,
	    (size_t)b->ird_der_len, NULL, 0, NULL) != CONSENT_OK) {
		fprintf(stderr, "bench_revocation: first verify: %s\n",
		    consent_verifier_detail(b->dia));
		goto out;
	}
	t_fetch = mono_us();
	memset(&p, 0, sizeof(p));
	p.b = b;
	p.token = tok;
	if (pthread_create(&th, NULL, poll_main, &p) != 0)
		goto out;
	started = 1;
	if (phase_ms > (long)((mono_us() - t_fetch) / 1000))
		sleep_ms(phase_ms - (long)((mono_us() - t_fetch) / 1000));
	if (http(b, "DELETE", path, NULL, cit, NULL, NULL, NULL) != 200) {
		fprintf(stderr, "bench_revocation: revoke failed\n");
		goto out;
	}
	t_revoked = mono_us();
	/* Introspection is the online check: it must know at once. */
	enc = curl_easy_escape(NULL, tok, 0);
	n = enc != NULL ? strlen(enc) + 8 : 0;
	if (enc == NULL || (form = malloc(n)) == NULL)
		goto out;
	snprintf(form, n, "token=%s", enc);
	json_decref(j);
	j = NULL;
	*introspect_inactive = http(b, "POST", "/oauth2/introspect", "dia",
	    NULL, "application/x-www-form-urlencoded", form, &j) == 200 &&
	    json_is_false(json_object_get(j, "active"));
	/* Bounded: three ttls and some. */
	while ((rej = atomic_load(&p.rejected_us)) == 0 &&
	    atomic_load(&p.other) == 0 &&
	    mono_us() - t_revoked < (int64_t)(3 * b->ttl + 5) * 1000000)
		sleep_ms(1);
	if (rej == 0) {
		fprintf(stderr, "bench_revocation: run %d: no rejection (%s)\n",
		    i, atomic_load(&p.other) != 0 ? consent_strerror(
		    (consent_err)atomic_load(&p.other)) : "timed out");
		goto out;
	}
	/* The bit is committed before the DELETE's answer, so a poll may
	 * see it a moment before the answer arrives: that counts as 0. */
	*delay_ms = rej > t_revoked ? (double)(rej - t_revoked) / 1000.0 : 0.0;
	rc = 0;
out:
	if (started) {
		atomic_store(&p.stop, 1);
		pthread_join(th, NULL);
	}
	json_decref(j);
	curl_free(enc);
	free(form);
	free(cit);
	consent_free(tok);
	return rc;
}

static int
bench_propagation(struct bench *b)
{
	double d[BENCH_MAX_RUNS], max = 0, sum = 0;
	int inactive[BENCH_MAX_RUNS], i, all_inactive = 1;
	long phase;

	printf("revocation propagation: status ttl T = %d s, %d runs, verifier "
	    "polls every %d ms\n", b->ttl, b->runs, BENCH_POLL_MS);
	printf("  %-4s %10s %12s %8s %12s\n", "run", "phase ms", "delay ms",
	    "x T", "introspect");
	for (i = 0; i < b->runs; i++) {
		/* Revocation lands at phases spread over one cache period,
		 * from just after the fetch (the worst case) on. */
		phase = (long)i * b->ttl * 1000 / b->runs;
		if (one_run(b, i, phase, &d[i], &inactive[i]) != 0)
			return -1;
		printf("  %-4d %10ld %12.1f %8.3f %12s\n", i, phase, d[i],
		    d[i] / (b->ttl * 1000.0), inactive[i] ? "inactive" :
		    "ACTIVE");
		if (d[i] > max)
			max = d[i];
		sum += d[i];
		all_inactive &= inactive[i];
	}
	printf("  max %.1f ms = %.3f x T; mean %.1f ms = %.3f x T; "
	    "introspection inactive at once in %s runs\n", max,
	    max / (b->ttl * 1000.0), sum / b->runs,
	    sum / b->runs / (b->ttl * 1000.0), all_inactive ? "all" : "NOT all");
	add_result(b, "revocation_propagation_max", max, "ms",
	    max / (b->ttl * 1000.0));
	add_result(b, "revocation_propagation_mean", sum / b->runs, "ms",
	    sum / b->runs / (b->ttl * 1000.0));
	add_result(b, "revocation_status_ttl", b->ttl, "s", -1);
	add_result(b, "revocation_introspection_immediate", all_inactive,
	    "bool", -1);
	return all_inactive ? 0 : -1;
}

/* ---- status list size --------------------------------------------------- */

static uint64_t
xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int
bench_size(struct bench *b)
{
	static const struct { const char *name; unsigned permille; } cases[] =
	    { { "zero", 0 }, { "1pct", 10 }, { "10pct", 100 },
	    { "50pct", 500 } };
	unsigned char *bits = malloc(LIST_BYTES), *z;
	uLongf zlen, bound = compressBound(LIST_BYTES);
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t i, k, set;
	char name[64];

	z = malloc(bound);
	if (bits == NULL || z == NULL) {
		free(bits);
		free(z);
		return -1;
	}
	printf("\nstatus list of 2^20 entries (%zu bytes raw), zlib level 9:\n",
	    LIST_BYTES);
	printf("  %-8s %10s %12s %10s %10s\n", "revoked", "entries",
	    "zlib bytes", "x raw", "lst chars");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(bits, 0, LIST_BYTES);
		/* Exactly permille/1000 of the entries, at random places. */
		set = (size_t)LIST_BITS * cases[i].permille / 1000;
		for (k = 0; k < set;) {
			uint32_t pos = (uint32_t)(xorshift64(&seed) % LIST_BITS);

			if (!(bits[pos / 8] & (1u << (pos % 8)))) {
				bits[pos / 8] |= (unsigned char)(1u << (pos % 8));
				k++;
			}
		}
		zlen = bound;
		if (compress2(z, &zlen, bits, LIST_BYTES, Z_BEST_COMPRESSION) !=
		    Z_OK) {
			free(bits);
			free(z);
			return -1;
		}
		printf("  %-8s %10zu %12lu %10.4f %10lu\n", cases[i].name, set,
		    (unsigned long)zlen, (double)zlen / (double)LIST_BYTES,
		    (unsigned long)((zlen * 4 + 2) / 3));
		snprintf(name, sizeof(name), "status_list_1m_%s_zlib",
		    cases[i].name);
		add_result(b, name, (double)zlen, "bytes",
		    (double)zlen / (double)LIST_BYTES);
	}
	free(bits);
	free(z);
	return 0;
}

/*
 * Whether a list of n entries, a fraction permille/1000 of them revoked at
 * random, gives a status list token of at most JWS_MAX_TOKEN bytes: built
 * and signed as broker/status.c does. 1 fits, 0 does not, -1 on error.
 */
static int
list_fits(EVP_PKEY *key, uint32_t n, unsigned permille, size_t *toklen)
{
	size_t nbytes = ((size_t)n + 7) / 8, k, set;
	unsigned char *bits = calloc(1, nbytes), *z = NULL;
	uLongf zlen = compressBound((uLong)nbytes);
	uint64_t seed = 0x2545f4914f6cdd1dull;
	char *lst = NULL, *payload = NULL, *tok = NULL;
	json_t *claims = NULL;
	int rc = -1;

	*toklen = 0;
	if (bits == NULL || (z = malloc(zlen)) == NULL)
		goto out;
	set = (size_t)n * permille / 1000;
	for (k = 0; k < set;) {
		uint32_t pos = (uint32_t)(xorshift64(&seed) % n);

		if (!(bits[pos / 8] & (1u << (pos % 8)))) {
			bits[pos / 8] |= (unsigned char)(1u << (pos % 8));
			k++;
		}
	}
	if (compress2(z, &zlen, bits, (uLong)nbytes, Z_BEST_COMPRESSION) !=
	    Z_OK || (lst = b64url_encode_alloc(z, zlen)) == NULL)
		goto out;
	/* The claims the broker signs, with a typical issuer and times. */
	claims = json_pack("{s:s, s:I, s:I, s:i, s:{s:i, s:s}}", "sub",
	    "https://broker.example.govt.nz/v1/status/0", "iat",
	    (json_int_t)1795377600, "exp", (json_int_t)1795377900, "ttl", 30,
	    "status_list", "bits", 1, "lst", lst);
	if (claims == NULL ||
	    (payload = json_dumps(claims, JSON_COMPACT)) == NULL)
		goto out;
	switch (jws_sign_es256(key, "Xk2oaSpOsXv5bZ0xDdkQgqGh1ACvV1Sq3VEMsn0Gf7c",
	    "statuslist+jwt", payload, strlen(payload), &tok)) {
	case JWS_OK:
		*toklen = strlen(tok);
		rc = 1;
		break;
	case JWS_INTERNAL:
		rc = 0;        /* longer than JWS_MAX_TOKEN */
		break;
	default:
		break;
	}
out:
	free(bits);
	free(z);
	free(lst);
	free(payload);
	free(tok);
	json_decref(claims);
	return rc;
}

static int
bench_list_limit(struct bench *b)
{
	static const unsigned permille[] = { 10, 100 };
	EVP_PKEY *key = pki_gen_p256();
	uint32_t lo, hi, mid;
	size_t i, len = 0, best_len = 0;
	char name[64];
	int f;

	if (key == NULL)
		return -1;
	printf("\nlargest list whose signed token fits JWS_MAX_TOKEN (%d "
	    "bytes):\n  %-8s %12s %12s %14s\n", JWS_MAX_TOKEN, "revoked",
	    "entries", "token bytes", "x 2^20 entries");
	for (i = 0; i < sizeof(permille) / sizeof(permille[0]); i++) {
		lo = 8;
		hi = LIST_BITS;
		if ((f = list_fits(key, hi, permille[i], &len)) < 0)
			goto fail;
		if (f == 1) {
			lo = hi;
			best_len = len;
		}
		/* Invariant: lo fits, hi does not (unless lo == hi). */
		while (lo < hi && hi - lo > 64) {
			mid = lo + (hi - lo) / 2;
			if ((f = list_fits(key, mid, permille[i], &len)) < 0)
				goto fail;
			if (f == 1) {
				lo = mid;
				best_len = len;
			} else
				hi = mid;
		}
		printf("  %-8s %12u %12zu %14.3f\n", permille[i] == 10 ? "1pct" :
		    "10pct", lo, best_len, (double)lo / LIST_BITS);
		snprintf(name, sizeof(name), "status_list_max_entries_%s",
		    permille[i] == 10 ? "1pct" : "10pct");
		add_result(b, name, lo, "entries", (double)lo / LIST_BITS);
	}
	EVP_PKEY_free(key);
	return 0;
fail:
	EVP_PKEY_free(key);
	return -1;
}

/* ---- output ------------------------------------------------------------- */

/* Appends the results to path when it exists and holds a JSON array. */
static int
append_json(const struct bench *b, const char *path)
{
	char tmp[PATH_MAX];
	json_error_t e;
	json_t *arr, *o, *nw;
	size_t i, j;
	int rc = -1;

	if (access(path, F_OK) != 0) {
		printf("\n(%s does not exist: results not appended)\n", path);
		return 0;
	}
	arr = json_load_file(path, 0, &e);
	if (!json_is_array(arr)) {
		fprintf(stderr, "bench_revocation: %s is not a JSON array\n",
		    path);
		json_decref(arr);
		return -1;
	}
	for (i = 0; i < b->nres; i++) {
		/* Replace an earlier result of the same name. */
		json_array_foreach(arr, j, o) {
			if (json_is_string(json_object_get(o, "name")) &&
			    strcmp(json_string_value(json_object_get(o, "name")),
			    b->res[i].name) == 0) {
				json_array_remove(arr, j);
				break;
			}
		}
		nw = json_pack("{s:s, s:f, s:s}", "name", b->res[i].name,
		    "value", b->res[i].value, "unit", b->res[i].unit);
		if (nw != NULL && b->res[i].ratio >= 0)
			json_object_set_new(nw, "ratio",
			    json_real(b->res[i].ratio));
		json_array_append_new(arr, nw);
	}
	if (fmt(tmp, sizeof(tmp), "%s.tmp", path) == 0 &&
	    json_dump_file(arr, tmp, JSON_INDENT(2)) == 0 &&
	    rename(tmp, path) == 0)
		rc = 0;
	json_decref(arr);
	if (rc == 0)
		printf("\nappended %zu results to %s\n", b->nres, path);
	else
		fprintf(stderr, "bench_revocation: cannot write %s\n", path);
	return rc;
}

static void
bench_free(struct bench *b)
{
	stop_consentd(b);
	consent_client_free(b->ird);
	consent_verifier_free(b->dia);
	OPENSSL_free(b->ird_der);
	if (b->dir[0] != '\0')
		nftw(b->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(int argc, char **argv)
{
	const char *out = argc > 1 ? argv[1] : "build/bench.json";
	const char *bd = getenv("CB_BUILD"), *ag = getenv("CB_AGREEMENTS");
	struct bench b;
	char *slash;
	int rc = 1;

	memset(&b, 0, sizeof(b));
	b.pid = -1;
	b.ttl = env_int("BENCH_STATUS_TTL", 2, 1, 60);
	b.runs = env_int("BENCH_RUNS", 5, 1, BENCH_MAX_RUNS);
	if (bd != NULL && *bd != '\0')
		snprintf(b.build, sizeof(b.build), "%s", bd);
	else {
		/* build/bench/bench_revocation -> build */
		snprintf(b.build, sizeof(b.build), "%s", argv[0]);
		for (int up = 0; up < 2; up++) {
			slash = strrchr(b.build, '/');
			if (slash != NULL)
				*slash = '\0';
			else
				snprintf(b.build, sizeof(b.build), ".");
		}
	}
	snprintf(b.agreements, sizeof(b.agreements), "%s",
	    ag != NULL && *ag != '\0' ? ag : "agreements/examples");
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (make_data(&b) != 0 || start_consentd(&b) != 0 ||
	    make_parties(&b) != 0) {
		fprintf(stderr, "bench_revocation: setup failed (build %s)\n",
		    b.build);
		goto done;
	}
	if (bench_propagation(&b) != 0) {
		fprintf(stderr, "bench_revocation: propagation failed; consentd "
		    "log: %s\n", b.log);
		b.dir[0] = '\0';   /* keep it for a look */
		goto done;
	}
	stop_consentd(&b);
	if (bench_size(&b) != 0 || bench_list_limit(&b) != 0 ||
	    append_json(&b, out) != 0)
		goto done;
	rc = 0;
done:
	bench_free(&b);
	curl_global_cleanup();
	return rc;
}
