/*
 * Load generator for consentd and the floor server: libcurl multi, one
 * thread, N keep-alive HTTP/1.1 connections over TLS with a client
 * certificate; JSON results on stdout.
 *
 *   loadgen (--url URL | --url-file F) [--cert F --key F] [--ca F]
 *           [--connections N] [--seconds S] [--warmup S] [--rate R]
 *           [--method M] [--body-file F] [--body-lines] [--content-type T]
 *           [--header H]... [--bearer-file F] [--replies F] [--label L]
 *   loadgen mint-citizen --key F --iss ISS [--aud AUD] --prefix P
 *           --count N [--ttl S]
 *
 * Closed loop (default): every connection re-issues as soon as its reply is
 * in. Open loop (--rate R): requests are due at t0 + k/R and go out on an
 * idle connection (at most --connections in flight); latency counts from
 * the due time, so a server that falls behind is charged for the queueing
 * (no coordinated omission). Due times are served on a 1 ms tick so the
 * generator does not spin on a CPU the server needs.
 *
 * The window is the --seconds after --warmup (default 1 s; TLS handshakes
 * happen then): "rps" counts 2xx replies that arrive in it; latency is
 * sampled for requests due (open loop) or sent (closed loop) in it, however
 * late they complete (up to 5 s after the window, then abandoned as
 * errors). A request is an error when the transfer fails or the status is
 * not 2xx.
 *
 * --body-file is POSTed (GET without it; --method sets another method,
 * such as DELETE); with --body-lines each line is a body, used in turn.
 * --bearer-file holds one token per line: each request sends the next as
 * "Authorization: Bearer ..."; each is used once and the run ends when they
 * run out. --url-file likewise holds one URL per line, each used once, in
 * step with the bearer tokens (request k sends line k of both).
 *
 * --replies F appends a line "K<TAB>BODY" to F for every 2xx reply, in or
 * out of the window: K is the request's number in sending order (0 for the
 * first), and so the line of --bearer-file and --url-file it used; BODY is
 * the reply body with its line breaks turned into spaces, cut at 64 KiB.
 * A benchmark uses it to learn what its requests created (the ids of the
 * consents a grant run made, to revoke them).
 *
 * mint-citizen writes count development citizen ID tokens (as "consentctl
 * dev citizen-token" makes them), for subjects prefix0 .. prefix(N-1), one
 * per line, so a benchmark can prepare them in advance.
 *
 * Output: {"label","url","mode","connections","offered_rps","seconds",
 * "requests","errors","rps","latency_ms":{"mean","p50","p90","p99","p999",
 * "max"},"status":{"200":n,...},"curl_errors":n,"late":n,"unsent":n,
 * "exhausted":bool,"cpu_s":...}: "late" counts ticks on which due requests
 * waited for a free connection, "unsent" the due requests never sent
 * before the window closed (open loop), "cpu_s" the generator's own CPU.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "fsu.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

#define LG_MAX_CONNECTIONS 1024
#define LG_MAX_SECONDS 600
#define LG_MAX_RATE 1000000.0
#define LG_MAX_FILE (256u << 20)     /* body or bearer file */
#define LG_MAX_SAMPLES (16u << 20)   /* latency samples kept (64 MiB) */
#define LG_MAX_HEADERS 16
#define LG_MAX_MINT 10000000L
#define LG_DRAIN_S 5.0               /* wait for in-flight requests */
#define LG_NSTATUS 600
#define LG_ERRORS_SHOWN 3
#define LG_MAX_REPLY (64u << 10)     /* reply body kept for --replies */

struct lconn {
	CURL *e;
	struct curl_slist *hdrs;    /* owned when per-request (bearer) */
	double t_sched;             /* due (open loop) or sent (closed loop) */
	unsigned long long seq;     /* the request's number, in sending order */
	char *reply;                /* --replies: the body so far */
	size_t reply_len;
	int busy;
};

struct lines {
	char *buf;                  /* the file, NUL at each line end */
	char **v;
	size_t n;
};

struct lg {
	const char *url, *cert, *key, *ca, *ctype, *label, *method;
	const char *headers[LG_MAX_HEADERS];
	int nheaders;
	int nconn;
	double seconds, warmup, rate;
	struct lines bodies, bearers, urls;
	size_t next_body, next_bearer, next_url;
	unsigned long long sent;    /* requests sent so far */
	int has_body;
	FILE *replies;              /* --replies, or NULL */
	CURLM *m;
	CURLSH *sh;
	struct curl_slist *base_hdrs;
	struct lconn *c;
	int *idle;                  /* stack of idle connection indexes */
	int nidle;
	int inflight;
	/* results */
	uint32_t *samples;          /* latency, microseconds */
	size_t nsamples;
	unsigned long ok, errors, curl_errors, late, unsent;
	unsigned long status[LG_NSTATUS];
	int shown;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* --replies: keeps up to LG_MAX_REPLY bytes of the body. */
static size_t
keep(char *p, size_t size, size_t n, void *arg)
{
	struct lconn *c = arg;
	size_t len = size * n, room = LG_MAX_REPLY - c->reply_len;

	memcpy(c->reply + c->reply_len, p, len < room ? len : room);
	c->reply_len += len < room ? len : room;
	return len;
}

/* --replies: one line per 2xx reply; 0, or -1 when the file cannot be
 * written (the run then stops with an error). */
static int
save_reply(struct lg *g, struct lconn *c, CURLcode res)
{
	long code = 0;
	size_t i;

	curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK || code < 200 || code > 299)
		return 0;
	for (i = 0; i < c->reply_len; i++)
		if (c->reply[i] == '\n' || c->reply[i] == '\r')
			c->reply[i] = ' ';
	if (fprintf(g->replies, "%llu\t", c->seq) < 0 ||
	    fwrite(c->reply, 1, c->reply_len, g->replies) != c->reply_len ||
	    fputc('\n', g->replies) == EOF)
		return -1;
	return 0;
}

static int
lines_load(const char *path, int split, struct lines *l)
{
	char *p, *e, *stop;
	size_t len, i, k;

	if (fsu_read_file(path, LG_MAX_FILE, &l->buf, &len) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!split) {
		if ((l->v = malloc(sizeof(*l->v))) == NULL)
			return -1;
		l->v[0] = l->buf;
		l->n = 1;
		return 0;
	}
	for (i = 0, k = 0; i < len; i++)
		k += l->buf[i] == '\n';
	if ((l->v = calloc(k + 1, sizeof(*l->v))) == NULL)
		return -1;
	for (p = l->buf, e = l->buf + len; p < e; p = stop + 1) {
		char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n;

		stop = nl != NULL ? nl : e;  /* buf[len] is the NUL */
		*stop = '\0';
		n = (size_t)(stop - p);
		if (n > 0 && p[n - 1] == '\r')
			p[--n] = '\0';
		if (n > 0)
			l->v[l->n++] = p;
	}
	if (l->n == 0) {
		fprintf(stderr, "loadgen: %s: no lines\n", path);
		return -1;
	}
	return 0;
}

static void
lines_free(struct lines *l)
{
	free(l->v);
	free(l->buf);
}

/* ---- requests ----------------------------------------------------------- */

static int
conn_setup(struct lg *g, struct lconn *c)
{
	if ((c->e = curl_easy_init()) == NULL)
		return -1;
	curl_easy_setopt(c->e, CURLOPT_URL, g->url);
	curl_easy_setopt(c->e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->e, CURLOPT_TCP_NODELAY, 1L);
	if (g->replies != NULL) {
		if ((c->reply = malloc(LG_MAX_REPLY)) == NULL)
			return -1;
		curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
	} else {
		curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, discard);
	}
	if (g->method != NULL)
		curl_easy_setopt(c->e, CURLOPT_CUSTOMREQUEST, g->method);
	curl_easy_setopt(c->e, CURLOPT_SHARE, g->sh);
	curl_easy_setopt(c->e, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(c->e, CURLOPT_PRIVATE, c);
	if (g->ca != NULL)
		curl_easy_setopt(c->e, CURLOPT_CAINFO, g->ca);
	if (g->cert != NULL) {
		curl_easy_setopt(c->e, CURLOPT_SSLCERT, g->cert);
		curl_easy_setopt(c->e, CURLOPT_SSLKEY, g->key);
	}
	curl_easy_setopt(c->e, CURLOPT_HTTPHEADER, g->base_hdrs);
	return 0;
}

/* Sends the next request on an idle connection; 0, or -1 when no more
 * requests can be made (bearer tokens or URLs used up) or curl refuses. */
static int
send_one(struct lg *g, double t_sched)
{
	struct lconn *c;
	const char *body;
	char auth[JWS_MAX_TOKEN + 64];
	struct curl_slist *h, *t;
	int i;

	if (g->nidle == 0)
		return -1;
	if (g->bearers.n > 0 && g->next_bearer >= g->bearers.n)
		return -1;
	if (g->urls.n > 0 && g->next_url >= g->urls.n)
		return -1;
	c = &g->c[g->idle[g->nidle - 1]];
	if (g->urls.n > 0)
		curl_easy_setopt(c->e, CURLOPT_URL, g->urls.v[g->next_url++]);
	if (g->has_body) {
		body = g->bodies.v[g->next_body];
		g->next_body = (g->next_body + 1) % g->bodies.n;
		curl_easy_setopt(c->e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->e, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	}
	if (g->bearers.n > 0) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    g->bearers.v[g->next_bearer++]);
		curl_slist_free_all(c->hdrs);
		c->hdrs = NULL;
		for (i = 0, h = NULL; i <= g->nheaders + 2; i++) {
			const char *v = i < g->nheaders ? g->headers[i] :
			    i == g->nheaders ? "Expect:" :
			    i == g->nheaders + 1 ? auth : NULL;
			char ct[256];

			if (i == g->nheaders + 2) {
				if (g->ctype == NULL)
					break;
				snprintf(ct, sizeof(ct), "Content-Type: %s",
				    g->ctype);
				v = ct;
			}
			if ((t = curl_slist_append(h, v)) == NULL) {
				curl_slist_free_all(h);
				return -1;
			}
			h = t;
		}
		c->hdrs = h;
		curl_easy_setopt(c->e, CURLOPT_HTTPHEADER, c->hdrs);
	}
	c->t_sched = t_sched;
	c->seq = g->sent++;
	c->reply_len = 0;
	if (curl_multi_add_handle(g->m, c->e) != CURLM_OK)
		return -1;
	c->busy = 1;
	g->nidle--;
	g->inflight++;
	return 0;
}

/*
 * Throughput counts successful replies that arrive inside the window;
 * latency is sampled for requests due inside it, whenever they complete
 * (so an overloaded open loop shows its queueing rather than no samples).
 */
static void
record(struct lg *g, struct lconn *c, CURLcode res, double t_done,
    double t_warm, double t_end)
{
	int done_in = t_done >= t_warm && t_done <= t_end;
	int sched_in = c->t_sched >= t_warm && c->t_sched < t_end;
	long code = 0;
	double us;

	if (!done_in && !sched_in)
		return;
	curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK) {
		g->errors++;
		g->curl_errors++;
		if (g->shown++ < LG_ERRORS_SHOWN)
			fprintf(stderr, "loadgen: %s\n",
			    curl_easy_strerror(res));
		return;
	}
	if (code >= 0 && code < LG_NSTATUS)
		g->status[code]++;
	if (code < 200 || code > 299) {
		g->errors++;
		if (g->shown++ < LG_ERRORS_SHOWN)
			fprintf(stderr, "loadgen: HTTP status %ld\n", code);
		return;
	}
	if (done_in)
		g->ok++;
	us = (t_done - c->t_sched) * 1e6;
	if (sched_in && g->nsamples < LG_MAX_SAMPLES)
		g->samples[g->nsamples++] = us > 4e9 ? 4000000000u :
		    (uint32_t)us;
}

/* ---- the run ------------------------------------------------------------ */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const uint32_t *s, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)ceil(p / 100.0 * (double)n);
	i = i > 0 ? i - 1 : 0;
	return s[i < n ? i : n - 1] / 1000.0;
}

static int
run(struct lg *g)
{
	double t0, t_warm, t_end, t, next_due, window_end = 0, drain_until;
	unsigned long long k = 0;
	struct rusage ru;
	CURLMsg *msg;
	int i, left, exhausted = 0, stopping = 0, failed = 0;
	double sum = 0;
	size_t n;

	t0 = now_s();
	t_warm = t0 + g->warmup;
	t_end = t_warm + g->seconds;
	next_due = t0;
	if (g->rate == 0) {
		for (i = 0; i < g->nconn; i++)
			if (send_one(g, t0) != 0) {
				exhausted = 1;
				break;
			}
	}
	drain_until = t_end + LG_DRAIN_S;
	for (;;) {
		long wait_ms = 100;

		t = now_s();
		if (!stopping && (t >= t_end || exhausted)) {
			stopping = 1;
			window_end = t < t_end ? t : t_end;
		}
		if (stopping && (g->inflight == 0 || t >= drain_until))
			break;
		if (g->rate > 0 && !stopping) {
			/* Everything due now goes out, as far as connections
			 * allow; the rest waits, and its latency grows. */
			while (next_due <= t && next_due < t_end) {
				if (send_one(g, next_due) != 0) {
					if (g->nidle > 0)
						exhausted = 1;
					else
						g->late++;
					break;
				}
				k++;
				next_due = t0 + (double)k / g->rate;
			}
			if (next_due > t) {
				wait_ms = (long)ceil((next_due - t) * 1000.0);
				if (wait_ms < 1)
					wait_ms = 1;
				if (wait_ms > 100)
					wait_ms = 100;
			} else {
				wait_ms = 1;
			}
		}
		curl_multi_perform(g->m, &left);
		while ((msg = curl_multi_info_read(g->m, &left)) != NULL) {
			struct lconn *c;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&c);
			t = now_s();
			record(g, c, msg->data.result, t, t_warm, t_end);
			if (g->replies != NULL && save_reply(g, c,
			    msg->data.result) != 0 && !failed) {
				fprintf(stderr, "loadgen: --replies: %s\n",
				    strerror(errno));
				failed = 1;
				exhausted = 1;
			}
			curl_multi_remove_handle(g->m, c->e);
			c->busy = 0;
			g->inflight--;
			g->idle[g->nidle++] = (int)(c - g->c);
			if (g->rate == 0 && !stopping && t < t_end &&
			    send_one(g, t) != 0)
				exhausted = 1;
		}
		if (exhausted && !stopping)
			continue;
		curl_multi_poll(g->m, NULL, 0, (int)wait_ms, NULL);
	}
	/* Requests still in flight after the drain are abandoned. */
	for (i = 0; i < g->nconn; i++)
		if (g->c[i].busy) {
			curl_multi_remove_handle(g->m, g->c[i].e);
			if (g->c[i].t_sched >= t_warm)
				g->errors++;
		}
	if (g->rate > 0 && next_due < t_end)
		g->unsent = (unsigned long)((t_end - next_due) * g->rate) + 1;
	if (window_end <= t_warm)
		window_end = t_warm + 1e-9;
	n = g->nsamples;
	qsort(g->samples, n, sizeof(*g->samples), cmp_u32);
	for (size_t j = 0; j < n; j++)
		sum += g->samples[j];
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"label\":\"%s\",\"url\":\"%s\",\"mode\":\"%s\","
	    "\"connections\":%d,\"offered_rps\":%.1f,\"seconds\":%.3f,"
	    "\"requests\":%lu,\"errors\":%lu,\"curl_errors\":%lu,"
	    "\"late\":%lu,\"unsent\":%lu,\"rps\":%.1f,"
	    "\"latency_ms\":{\"mean\":%.3f,"
	    "\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
	    "\"max\":%.3f},\"status\":{",
	    g->label != NULL ? g->label : "", g->url != NULL ? g->url :
	    g->urls.v[0],
	    g->rate > 0 ? "open" : "closed", g->nconn, g->rate,
	    window_end - t_warm, g->ok, g->errors, g->curl_errors, g->late,
	    g->unsent,
	    (double)g->ok / (window_end - t_warm),
	    n > 0 ? sum / (double)n / 1000.0 : 0.0, pct(g->samples, n, 50),
	    pct(g->samples, n, 90), pct(g->samples, n, 99),
	    pct(g->samples, n, 99.9), n > 0 ? g->samples[n - 1] / 1000.0 : 0.0);
	for (i = 0, left = 0; i < LG_NSTATUS; i++)
		if (g->status[i] > 0)
			printf("%s\"%d\":%lu", left++ ? "," : "", i,
			    g->status[i]);
	printf("},\"exhausted\":%s,\"cpu_s\":%.3f}\n", exhausted ? "true" :
	    "false", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return g->ok > 0 && !failed ? 0 : 1;
}

/* ---- mint-citizen ------------------------------------------------------- */

static int
mint_citizen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "iss", required_argument, NULL, 'i' },
		{ "aud", required_argument, NULL, 'a' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char *keyf = NULL, *iss = NULL, *aud = "consent-broker";
	const char *prefix = NULL;
	char kid[JWK_B64_SHA256_LEN], err[256] = "not a P-256 key";
	char claims[1024], *tok, *end;
	long count = 0, ttl = 3600, i, v;
	EVP_PKEY *key;
	time_t now = time(NULL);
	int ch, len, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': keyf = optarg; break;
		case 'i': iss = optarg; break;
		case 'a': aud = optarg; break;
		case 'p': prefix = optarg; break;
		case 'n':
		case 't':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 ||
			    v > LG_MAX_MINT) {
				fprintf(stderr, "loadgen: bad number '%s'\n",
				    optarg);
				return 2;
			}
			if (ch == 'n')
				count = v;
			else
				ttl = v;
			break;
		default:
			return 2;
		}
	}
	if (keyf == NULL || iss == NULL || prefix == NULL || count == 0 ||
	    optind != argc) {
		fprintf(stderr, "usage: loadgen mint-citizen --key F --iss ISS "
		    "[--aud AUD] --prefix P --count N [--ttl S]\n");
		return 2;
	}
	if ((key = pki_load_key(keyf, err, sizeof(err))) == NULL ||
	    jwk_thumbprint(key, kid) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", keyf, err);
		goto out;
	}
	for (i = 0; i < count; i++) {
		/* Members in the order consentctl writes them. */
		len = snprintf(claims, sizeof(claims), "{\"iss\":\"%s\","
		    "\"sub\":\"%s%ld\",\"aud\":\"%s\",\"iat\":%lld,"
		    "\"nbf\":%lld,\"exp\":%lld}", iss, prefix, i, aud,
		    (long long)now, (long long)now, (long long)now + ttl);
		if (len < 0 || (size_t)len >= sizeof(claims) ||
		    jws_sign_es256(key, kid, "JWT", claims, (size_t)len,
		    &tok) != JWS_OK) {
			fprintf(stderr, "loadgen: cannot sign\n");
			goto out;
		}
		printf("%s\n", tok);
		free(tok);
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	EVP_PKEY_free(key);
	return rc;
}

/* ---- main --------------------------------------------------------------- */

static int
num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(*out >= lo && *out <= hi)) {
		fprintf(stderr, "loadgen: --%s: a number from %g to %g\n", opt,
		    lo, hi);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "connections", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "body-file", required_argument, NULL, 'b' },
		{ "body-lines", no_argument, NULL, 'B' },
		{ "content-type", required_argument, NULL, 't' },
		{ "header", required_argument, NULL, 'H' },
		{ "bearer-file", required_argument, NULL, 'T' },
		{ "label", required_argument, NULL, 'l' },
		{ "method", required_argument, NULL, 'm' },
		{ "url-file", required_argument, NULL, 'U' },
		{ "replies", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lg g;
	const char *body_file = NULL, *bearer_file = NULL, *url_file = NULL;
	const char *replies = NULL;
	char ct[256];
	struct curl_slist *t;
	int ch, i, body_lines = 0, rc = 2;
	double v;

	if (argc >= 2 && strcmp(argv[1], "mint-citizen") == 0)
		return mint_citizen(argc - 1, argv + 1);
	memset(&g, 0, sizeof(g));
	g.nconn = 16;
	g.seconds = 5;
	g.warmup = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': g.url = optarg; break;
		case 'c': g.cert = optarg; break;
		case 'k': g.key = optarg; break;
		case 'a': g.ca = optarg; break;
		case 'b': body_file = optarg; break;
		case 'B': body_lines = 1; break;
		case 't': g.ctype = optarg; break;
		case 'T': bearer_file = optarg; break;
		case 'l': g.label = optarg; break;
		case 'm': g.method = optarg; break;
		case 'U': url_file = optarg; break;
		case 'R': replies = optarg; break;
		case 'H':
			if (g.nheaders == LG_MAX_HEADERS) {
				fprintf(stderr, "loadgen: too many --header\n");
				return 2;
			}
			g.headers[g.nheaders++] = optarg;
			break;
		case 'n':
			if (num("connections", optarg, 1, LG_MAX_CONNECTIONS,
			    &v) != 0)
				return 2;
			g.nconn = (int)v;
			break;
		case 's':
			if (num("seconds", optarg, 0.1, LG_MAX_SECONDS,
			    &g.seconds) != 0)
				return 2;
			break;
		case 'w':
			if (num("warmup", optarg, 0, 60, &g.warmup) != 0)
				return 2;
			break;
		case 'r':
			if (num("rate", optarg, 1, LG_MAX_RATE, &g.rate) != 0)
				return 2;
			break;
		case 'h':
			printf("usage: loadgen (--url URL | --url-file F) "
			    "[--cert F --key F] [--ca F]\n"
			    "  [--connections N] [--seconds S] [--warmup S] "
			    "[--rate R] [--method M]\n"
			    "  [--body-file F] [--body-lines] "
			    "[--content-type T] [--header H]...\n"
			    "  [--bearer-file F] [--replies F] [--label L]\n"
			    "       loadgen mint-citizen --key F --iss ISS "
			    "[--aud AUD] --prefix P --count N [--ttl S]\n");
			return 0;
		default:
			return 2;
		}
	}
	if ((g.url == NULL) == (url_file == NULL) || optind != argc ||
	    (g.cert == NULL) != (g.key == NULL)) {
		fprintf(stderr, "loadgen: one of --url and --url-file is "
		    "required; --cert and --key go together (--help)\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	if ((body_file != NULL && lines_load(body_file, body_lines,
	    &g.bodies) != 0) || (bearer_file != NULL &&
	    lines_load(bearer_file, 1, &g.bearers) != 0) ||
	    (url_file != NULL && lines_load(url_file, 1, &g.urls) != 0))
		goto out;
	if (replies != NULL && (g.replies = fopen(replies, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", replies, strerror(errno));
		goto out;
	}
	g.has_body = body_file != NULL;
	g.samples = malloc(LG_MAX_SAMPLES * sizeof(*g.samples));
	g.c = calloc((size_t)g.nconn, sizeof(*g.c));
	g.idle = calloc((size_t)g.nconn, sizeof(*g.idle));
	g.m = curl_multi_init();
	g.sh = curl_share_init();
	if (g.samples == NULL || g.c == NULL || g.idle == NULL ||
	    g.m == NULL || g.sh == NULL)
		goto fail;
	/* One thread: the share needs no locks; TLS sessions are resumed
	 * across connections, as a real client pool does. */
	curl_share_setopt(g.sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(g.sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(g.m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)g.nconn);
	curl_multi_setopt(g.m, CURLMOPT_MAXCONNECTS, (long)g.nconn);
	for (i = 0; i <= g.nheaders; i++) {
		t = curl_slist_append(g.base_hdrs, i < g.nheaders ?
		    g.headers[i] : "Expect:");
		if (t == NULL)
			goto fail;
		g.base_hdrs = t;
	}
	if (g.ctype != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", g.ctype);
		if ((t = curl_slist_append(g.base_hdrs, ct)) == NULL)
			goto fail;
		g.base_hdrs = t;
	}
	for (i = 0; i < g.nconn; i++) {
		if (conn_setup(&g, &g.c[i]) != 0)
			goto fail;
		g.idle[g.nidle++] = g.nconn - 1 - i;
	}
	rc = run(&g);
	goto out;
fail:
	fprintf(stderr, "loadgen: out of memory\n");
	rc = 1;
out:
	for (i = 0; g.c != NULL && i < g.nconn; i++) {
		if (g.c[i].e != NULL)
			curl_easy_cleanup(g.c[i].e);
		curl_slist_free_all(g.c[i].hdrs);
		free(g.c[i].reply);
	}
	if (g.replies != NULL && fclose(g.replies) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", replies, strerror(errno));
		rc = 1;
	}
	if (g.m != NULL)
		curl_multi_cleanup(g.m);
	if (g.sh != NULL)
		curl_share_cleanup(g.sh);
	curl_slist_free_all(g.base_hdrs);
	free(g.c);
	free(g.idle);
	free(g.samples);
	lines_free(&g.bodies);
	lines_free(&g.bearers);
	lines_free(&g.urls);
	curl_global_cleanup();
	return rc;
}
