/* Integration-test harness: starts, stops and talks to a real consentd. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "b64.h"

#define IT_MAX_SERVERS 16
#define IT_START_ATTEMPTS 5
#define IT_TAIL_LINES 30

/*
 * The one piece of global state: every server made here, so that the end
 * of the run (or an exit through a failed assertion) can kill them and
 * decide whether their directories are kept. Tests are single-threaded
 * and fork only from the main thread (PR_SET_PDEATHSIG is per thread).
 */
static struct {
	struct it_server *servers[IT_MAX_SERVERS];
	int nservers;
	char build[PATH_MAX];
	char agreements[PATH_MAX];
	int inited;
} it;

static const char *const sanitizer_marks[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
	NULL
};

/* ---- small helpers ------------------------------------------------------ */

int64_t
it_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
it_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
it_time_from_now(long delta_s, char out[32])
{
	time_t t = time(NULL) + delta_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void
it_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen)
		fail_msg("harness: string too long for its buffer (%d bytes)", n);
}

const char *
it_jstr(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL ? v : "<absent>";
}

int64_t
it_jint(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : INT64_MIN;
}

int
it_bin(const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", it.build, name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

static void
rm_rf(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Waits for pid up to timeout_ms; 1 reaped (status set), 0 still running. */
static int
wait_bounded(pid_t pid, int *status, long timeout_ms)
{
	int64_t end = it_now_ms() + timeout_ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR) {
			*status = 0;
			return 1;   /* not our child any more: nothing to wait */
		}
		if (it_now_ms() >= end)
			return 0;
		it_sleep_ms(10);
	}
}

static void
child_die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
}

/*
 * Reads the pipe rfd into *buf (len bytes so far, cap allocated, kept
 * NUL-terminated) until EOF or end. 1 at EOF, 0 at end, -1 on an error
 * (printed). rfd is non-blocking, so a child that writes nothing cannot
 * hold us past end; reading while it runs lets it write more than a pipe
 * holds.
 */
static int
read_until(int rfd, char **buf, size_t *len, size_t *cap, int64_t end)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	ssize_t n;
	char *nb;

	for (;;) {
		long left = (long)(end - it_now_ms());

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (*len + 4096 > *cap) {
			nb = realloc(*buf, *cap * 2);
			if (nb == NULL)
				break;
			*buf = nb;
			*cap *= 2;
		}
		n = read(rfd, *buf + *len, *cap - *len - 1);
		if (n == 0)
			return 1;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			break;
		}
		*len += (size_t)n;
		(*buf)[*len] = '\0';
	}
	fprintf(stderr, "harness: reading the output: %s\n", strerror(errno));
	return -1;
}

int
it_run(char *const argv[], const char *log, int both, char **out,
    long timeout_ms)
{
	int fds[2] = { -1, -1 }, sink, status = 0, got = 1;
	pid_t parent = getpid(), pid;
	size_t len = 0, cap = 8192;
	char *buf = NULL;
	int64_t end = it_now_ms() + timeout_ms;
	long left;

	if (out != NULL)
		*out = NULL;
	/* Where stdout (and stderr) go: a file, or a pipe read here. */
	if (log != NULL || out == NULL) {
		sink = open(log != NULL ? log : "/dev/null",
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (sink < 0) {
			fprintf(stderr, "harness: %s: %s\n",
			    log != NULL ? log : "/dev/null", strerror(errno));
			return -1;
		}
	} else {
		/* The buffer first: *out is set in every later path. */
		if ((buf = malloc(cap)) == NULL)
			return -1;
		buf[0] = '\0';
		*out = buf;
		if (pipe2(fds, O_CLOEXEC) != 0 ||
		    fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
			fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
			if (fds[0] >= 0) {
				close(fds[0]);
				close(fds[1]);
			}
			return -1;
		}
		sink = fds[1];
	}
	pid = fork();
	if (pid == 0) {
		child_die_with_parent(parent);
		dup2(sink, 1);
		if (both)
			dup2(sink, 2);
		execv(argv[0], argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	close(sink);    /* the child's copy only: EOF when it is done */
	if (pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		if (fds[0] >= 0)
			close(fds[0]);
		return -1;
	}
	if (fds[0] >= 0) {
		got = read_until(fds[0], &buf, &len, &cap, end);
		close(fds[0]);
		*out = buf;     /* realloc may have moved it */
	}
	/* After EOF the exit follows at once: a little grace at the end. */
	left = (long)(end - it_now_ms());
	if (got == 1 && wait_bounded(pid, &status, left > 100 ? left : 100)) {
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		fprintf(stderr, "harness: %s killed by signal %d\n", argv[0],
		    WTERMSIG(status));
		return -1;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (got >= 0)
		fprintf(stderr, "harness: %s timed out after %ld ms (killed)\n",
		    argv[0], timeout_ms);
	return -1;
}

int
it_run_capture(char *const argv[], char **out, long timeout_ms)
{
	int st = it_run(argv, NULL, 0, out, timeout_ms);

	if (st == 0 && *out != NULL)
		return 0;
	if (st > 0)
		fprintf(stderr, "harness: %s failed (exit status %d)\n",
		    argv[0], st);
	free(*out);
	*out = NULL;
	return -1;
}

/* ---- lifecycle ---------------------------------------------------------- */

static void
kill_all(void)
{
	int i, st;

	for (i = 0; i < it.nservers; i++) {
		struct it_server *s = it.servers[i];

		if (s != NULL && s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			s->pid = -1;
		}
	}
}

void
it_init(void)
{
	const char *b = getenv("CB_BUILD"), *a = getenv("CB_AGREEMENTS");

	if (it.inited)
		return;
	snprintf(it.build, sizeof(it.build), "%s",
	    b != NULL && *b != '\0' ? b : "build");
	snprintf(it.agreements, sizeof(it.agreements), "%s",
	    a != NULL && *a != '\0' ? a : "agreements/examples");
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(kill_all);
	it.inited = 1;
}

int
it_finish(int failed)
{
	int i;

	kill_all();
	for (i = 0; i < it.nservers; i++) {
		struct it_server *s = it.servers[i];

		if (s == NULL)
			continue;
		if (it_server_sanitizer_report(s))
			failed++;
		if (failed) {
			fprintf(stderr, "\nharness: kept %s (consentd log %s); "
			    "its last lines:\n", s->dir, s->log);
			it_server_log_tail(s, IT_TAIL_LINES);
		} else
			rm_rf(s->dir);
		json_decref(s->tokens);
		free(s);
		it.servers[i] = NULL;
	}
	it.nservers = 0;
	curl_global_cleanup();
	return failed;
}

struct it_server *
it_server_new(void)
{
	const char *tmp = getenv("TMPDIR");
	char consentctl[PATH_MAX], *out = NULL;
	struct it_server *s;
	struct stat st;

	it_init();
	if (it.nservers == IT_MAX_SERVERS) {
		fprintf(stderr, "harness: more than %d servers\n", IT_MAX_SERVERS);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->pid = -1;
	s->threads = 2;
	snprintf(s->dir, sizeof(s->dir), "%s/cb-it-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", s->dir,
		    strerror(errno));
		free(s);
		return NULL;
	}
	it.servers[it.nservers++] = s;   /* from here on it_finish cleans up */
	if (snprintf(s->data, sizeof(s->data), "%s/data", s->dir) >=
	    (int)sizeof(s->data) ||
	    snprintf(s->log, sizeof(s->log), "%s/consentd.log", s->dir) >=
	    (int)sizeof(s->log)) {
		fprintf(stderr, "harness: %s: path too long\n", s->dir);
		return NULL;
	}
	s->tokens = json_object();
	if (it_bin("consentctl", consentctl, sizeof(consentctl)) != 0 ||
	    stat(consentctl, &st) != 0) {
		fprintf(stderr, "harness: no %s (build it first; CB_BUILD=%s)\n",
		    consentctl, it.build);
		return NULL;
	}
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"init",
		    (char *)(uintptr_t)"--dev", (char *)(uintptr_t)"--data",
		    s->data, (char *)(uintptr_t)"--agreements", it.agreements,
		    NULL };

		if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0) {
			fprintf(stderr, "harness: consentctl init --data %s "
			    "failed\n", s->data);
			return NULL;
		}
	}
	free(out);
	return s;
}

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

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Reads path from offset to the end into a new string (bounded). */
static char *
read_from(const char *path, long offset, size_t max)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if (fseek(f, offset, SEEK_SET) != 0 || (buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static pid_t
spawn_consentd(struct it_server *s)
{
	char consentd[PATH_MAX], listen[64], threads[16];
	char *argv[12 + 2 * 8];
	pid_t parent = getpid(), pid;
	int i, n = 0, fd;

	if (it_bin("consentd", consentd, sizeof(consentd)) != 0)
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", s->port);
	snprintf(threads, sizeof(threads), "%d", s->threads);
	argv[n++] = consentd;
	argv[n++] = (char *)(uintptr_t)"--data";
	argv[n++] = s->data;
	argv[n++] = (char *)(uintptr_t)"--listen";
	argv[n++] = listen;
	argv[n++] = (char *)(uintptr_t)"--dev";
	argv[n++] = (char *)(uintptr_t)"--threads";
	argv[n++] = threads;
	for (i = 0; i < s->nsets && i < 8; i++) {
		argv[n++] = (char *)(uintptr_t)"--set";
		argv[n++] = (char *)(uintptr_t)s->sets[i];
	}
	argv[n] = NULL;
	pid = fork();
	if (pid != 0)
		return pid;
	child_die_with_parent(parent);
	fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		_exit(126);
	dup2(fd, 2);
	dup2(fd, 1);
	execv(consentd, argv);
	fprintf(stderr, "harness: exec %s: %s\n", consentd, strerror(errno));
	_exit(127);
}

int
it_server_start(struct it_server *s)
{
	struct it_req q = { .path = "/healthz", .timeout_ms = 1000 };
	struct it_resp r;
	int attempt, status;
	long offset;
	char *log;
	int64_t end;

	if (s == NULL)
		return -1;
	if (s->pid > 0) {
		fprintf(stderr, "harness: consentd already running\n");
		return -1;
	}
	for (attempt = 0; attempt < IT_START_ATTEMPTS; attempt++) {
		if (attempt > 0 || s->port == 0)
			s->port = free_port();
		if (s->port == 0)
			return -1;
		snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%u",
		    s->port);
		offset = file_size(s->log);
		s->run_start = offset;
		s->pid = spawn_consentd(s);
		if (s->pid < 0)
			return -1;
		s->starts++;
		end = it_now_ms() + IT_START_TIMEOUT_MS;
		for (;;) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = -1;
				log = read_from(s->log, offset, 64 * 1024);
				if (log != NULL &&
				    strstr(log, "Address already in use") != NULL) {
					free(log);
					break;  /* someone took the port: retry */
				}
				fprintf(stderr, "harness: consentd exited at start "
				    "(status 0x%x):\n%s\n", status,
				    log != NULL ? log : "");
				free(log);
				return -1;
			}
			memset(&r, 0, sizeof(r));
			if (it_request(s, &q, &r) == 200) {
				it_resp_free(&r);
				return 0;
			}
			it_resp_free(&r);
			if (it_now_ms() >= end) {
				fprintf(stderr, "harness: consentd did not answer "
				    "/healthz within %d ms\n", IT_START_TIMEOUT_MS);
				it_server_kill(s);
				it_server_log_tail(s, IT_TAIL_LINES);
				return -1;
			}
			it_sleep_ms(20);
		}
	}
	fprintf(stderr, "harness: no free port after %d attempts\n",
	    IT_START_ATTEMPTS);
	return -1;
}

void
it_server_signal(struct it_server *s, int sig)
{
	if (s != NULL && s->pid > 0)
		kill(s->pid, sig);
}

int
it_server_wait(struct it_server *s, long timeout_ms)
{
	int status = 0, rc = 0;

	if (s == NULL || s->pid <= 0)
		return -1;
	if (!wait_bounded(s->pid, &status, timeout_ms)) {
		fprintf(stderr, "harness: consentd did not exit within %ld ms; "
		    "killing it\n", timeout_ms);
		it_server_kill(s);
		return -1;
	}
	s->pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "harness: consentd ended with status 0x%x (want "
		    "exit 0)\n", status);
		it_server_log_tail(s, IT_TAIL_LINES);
		rc = -1;
	}
	if (it_server_sanitizer_report(s))
		rc = -1;
	return rc;
}

int
it_server_stop(struct it_server *s)
{
	if (s == NULL || s->pid <= 0)
		return -1;
	it_server_signal(s, SIGTERM);
	return it_server_wait(s, IT_STOP_TIMEOUT_MS);
}

void
it_server_kill(struct it_server *s)
{
	int status;

	if (s == NULL || s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = -1;
}

int
it_server_sanitizer_report(struct it_server *s)
{
	char *log, *last_nl, *hit = NULL, *p;
	long size = file_size(s->log);
	size_t i;

	if (size <= s->scanned)
		return 0;
	log = read_from(s->log, s->scanned, (size_t)(size - s->scanned));
	if (log == NULL)
		return 0;
	/* Only whole lines: a report may still be being written. */
	last_nl = strrchr(log, '\n');
	if (last_nl == NULL) {
		free(log);
		return 0;
	}
	last_nl[1] = '\0';
	for (i = 0; sanitizer_marks[i] != NULL; i++) {
		p = strstr(log, sanitizer_marks[i]);
		if (p != NULL && (hit == NULL || p < hit))
			hit = p;
	}
	s->scanned += (long)(last_nl + 1 - log);
	if (hit != NULL) {
		while (hit > log && hit[-1] != '\n')
			hit--;
		fprintf(stderr, "harness: sanitizer report in %s:\n%.6000s\n",
		    s->log, hit);
		s->sanitizer_hit = 1;
	}
	free(log);
	return hit != NULL;
}

void
it_assert_no_sanitizer_reports(void)
{
	int i, bad = 0;

	for (i = 0; i < it.nservers; i++)
		if (it.servers[i] != NULL &&
		    it_server_sanitizer_report(it.servers[i]))
			bad = 1;
	if (bad)
		fail_msg("consentd logged a sanitizer report (shown above)");
}

void
it_server_log_tail(const struct it_server *s, int lines)
{
	long size = file_size(s->log), from = size > 65536 ? size - 65536 : 0;
	char *log = read_from(s->log, from, (size_t)(size - from)), *p;
	int n = 0;

	if (log == NULL)
		return;
	p = log + strlen(log);
	while (p > log) {
		p--;
		if (*p == '\n' && p[1] != '\0' && ++n > lines) {
			p++;
			break;
		}
	}
	fprintf(stderr, "%s", p);
	free(log);
}

static int
log_count_from(const struct it_server *s, long from, const char *needle)
{
	FILE *f = fopen(s->log, "r");
	char line[8192];
	int n = 0;

	if (f == NULL)
		return 0;
	if (fseek(f, from, SEEK_SET) != 0) {
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

int
it_server_log_count(const struct it_server *s, const char *needle)
{
	return log_count_from(s, 0, needle);
}

int
it_server_log_count_run(const struct it_server *s, const char *needle)
{
	return log_count_from(s, s->run_start, needle);
}

int
it_group_setup(void **state)
{
	struct it_server *s = it_server_new();

	if (s == NULL || it_server_start(s) != 0)
		return -1;
	*state = s;
	return 0;
}

int
it_group_teardown(void **state)
{
	struct it_server *s = *state;

	if (s != NULL && s->pid > 0 && it_server_stop(s) != 0)
		return -1;
	return 0;
}

void
it_ensure_running(struct it_server *s)
{
	if (s == NULL || s->pid > 0)
		return;
	fprintf(stderr, "harness: consentd was left stopped; restarting it\n");
	if (it_server_start(s) != 0)
		fail_msg("cannot restart consentd on %s", s->data);
}

void
it_test_server_exits_0_on_sigterm(void **state)
{
	struct it_server *s = *state;

	assert_non_null(s);
	it_ensure_running(s);
	assert_int_equal(it_server_stop(s), 0);
	it_assert_no_sanitizer_reports();
}

/* ---- HTTPS -------------------------------------------------------------- */

static int
grow_append(char **buf, size_t *len, size_t *cap, const char *data,
    size_t n)
{
	size_t want;
	char *nb;

	if (*len + n > IT_MAX_BODY)
		n = IT_MAX_BODY - *len;
	want = *len + n + 1;
	if (want > *cap) {
		size_t c = *cap != 0 ? *cap : 1024;

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

	if (grow_append(&r->body, &r->len, &r->cap, data, size * nmemb) != 0)
		return 0;
	return size * nmemb;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct it_resp *r = arg;
	size_t n = size * nmemb;

	/* A new status line (after 100 Continue) starts a new block. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		r->hlen = 0;
	if (grow_append(&r->headers, &r->hlen, &r->hcap, data, n) != 0)
		return 0;
	return n;
}

void
it_resp_free(struct it_resp *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *
it_resp_header(const struct it_resp *r, const char *name, char *buf,
    size_t buflen)
{
	const char *p = r->headers, *eol, *v;
	size_t nlen = strlen(name), vlen;

	while (p != NULL && *p != '\0') {
		eol = strstr(p, "\r\n");
		if (eol == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 &&
		    p[nlen] == ':') {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(eol - v);
			if (vlen >= buflen)
				vlen = buflen - 1;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		p = *eol != '\0' ? eol + 2 : eol;
	}
	return NULL;
}

/* Sets up an easy handle for q; headers go to *hdrs (caller frees). */
static CURL *
easy_for(const struct it_server *s, const struct it_req *q,
    struct it_resp *r, struct curl_slist **hdrs)
{
	char url[1024], ca[PATH_MAX + 16], cert[PATH_MAX + 32],
	    key[PATH_MAX + 32], h[8192];
	const char *method = q->method;
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof(*r));
	*hdrs = NULL;
	if (c == NULL)
		return NULL;
	if (method == NULL)
		method = q->body != NULL ? "POST" : "GET";
	snprintf(url, sizeof(url), "%s%s", s->base, q->path);
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", s->data);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    q->timeout_ms > 0 ? q->timeout_ms : (long)IT_REQ_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	if (q->party != NULL) {
		snprintf(cert, sizeof(cert), "%s/pki/%s.crt", s->data, q->party);
		snprintf(key, sizeof(key), "%s/pki/%s.key", s->data, q->party);
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	} else if (q->cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, q->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, q->key);
	}
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (q->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(q->len != 0 ? q->len : strlen(q->body)));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	/* No Content-Type unless asked for (curl would add a form type). */
	snprintf(h, sizeof(h), "Content-Type:%s%s", q->ctype != NULL ? " " : "",
	    q->ctype != NULL ? q->ctype : "");
	*hdrs = curl_slist_append(*hdrs, h);
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	if (q->bearer != NULL) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s", q->bearer);
		*hdrs = curl_slist_append(*hdrs, h);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	return c;
}

/* Fills status, media type and JSON after a transfer ended with rc. */
static void
finish(CURL *c, CURLcode rc, struct it_resp *r)
{
	char *ct = NULL;
	size_t n;

	r->curl_rc = (int)rc;
	if (r->errbuf[0] == '\0' && rc != CURLE_OK)
		snprintf(r->errbuf, sizeof(r->errbuf), "%s",
		    curl_easy_strerror(rc));
	if (rc != CURLE_OK)
		return;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL) {
		n = strcspn(ct, "; ");
		if (n >= sizeof(r->ctype))
			n = sizeof(r->ctype) - 1;
		memcpy(r->ctype, ct, n);
		r->ctype[n] = '\0';
	}
	if (r->body == NULL)
		grow_append(&r->body, &r->len, &r->cap, "", 0);
	n = strlen(r->ctype);
	if (n >= 4 && strcmp(r->ctype + n - 4, "json") == 0)
		r->json = json_loadb(r->body, r->len, 0, NULL);
}

long
it_request(const struct it_server *s, const struct it_req *q,
    struct it_resp *r)
{
	struct curl_slist *hdrs = NULL;
	CURL *c = easy_for(s, q, r, &hdrs);
	CURLcode rc;

	if (c == NULL) {
		r->curl_rc = CURLE_OUT_OF_MEMORY;
		return 0;
	}
	rc = curl_easy_perform(c);
	finish(c, rc, r);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return r->status;
}

long
it_get(const struct it_server *s, const char *party, const char *bearer,
    const char *path, struct it_resp *r)
{
	struct it_req q = { .path = path, .party = party, .bearer = bearer };

	return it_request(s, &q, r);
}

long
it_post_json(const struct it_server *s, const char *party,
    const char *bearer, const char *path, const char *json,
    struct it_resp *r)
{
	struct it_req q = { .method = "POST", .path = path, .party = party,
	    .bearer = bearer, .ctype = "application/json", .body = json };

	return it_request(s, &q, r);
}

long
it_post_form(const struct it_server *s, const char *party, const char *path,
    const char *form, struct it_resp *r)
{
	struct it_req q = { .method = "POST", .path = path, .party = party,
	    .ctype = "application/x-www-form-urlencoded", .body = form };

	return it_request(s, &q, r);
}

long
it_delete(const struct it_server *s, const char *bearer, const char *path,
    struct it_resp *r)
{
	struct it_req q = { .method = "DELETE", .path = path,
	    .bearer = bearer };

	return it_request(s, &q, r);
}

int
it_batch(const struct it_server *s, struct it_batch_item *items, size_t n,
    int conns, long timeout_ms, void (*on_done)(size_t ndone, void *arg),
    void *arg)
{
	struct curl_slist **hdrs = calloc(n, sizeof(*hdrs));
	CURL **easy = calloc(n, sizeof(*easy));
	CURLM *m = curl_multi_init();
	int64_t end = it_now_ms() + timeout_ms;
	size_t i, ndone = 0;
	int running = 0, left, rc = -1;
	CURLMsg *msg;

	if (hdrs == NULL || easy == NULL || m == NULL)
		goto out;
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
	for (i = 0; i < n; i++) {
		easy[i] = easy_for(s, &items[i].req, &items[i].resp, &hdrs[i]);
		if (easy[i] == NULL)
			goto out;
		curl_easy_setopt(easy[i], CURLOPT_PRIVATE, &items[i]);
		curl_multi_add_handle(m, easy[i]);
	}
	while (ndone < n && it_now_ms() < end) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct it_batch_item *it_;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&it_);
			finish(msg->easy_handle, msg->data.result, &it_->resp);
			curl_multi_remove_handle(m, msg->easy_handle);
			ndone++;
			if (on_done != NULL)
				on_done(ndone, arg);
		}
		if (ndone < n)
			curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	rc = 0;
out:
	for (i = 0; easy != NULL && i < n; i++) {
		if (easy[i] == NULL)
			continue;
		if (items[i].resp.status == 0 && items[i].resp.curl_rc == 0) {
			items[i].resp.curl_rc = CURLE_OPERATION_TIMEDOUT;
			curl_multi_remove_handle(m, easy[i]);
		}
		curl_easy_cleanup(easy[i]);
	}
	for (i = 0; hdrs != NULL && i < n; i++)
		curl_slist_free_all(hdrs[i]);
	if (m != NULL)
		curl_multi_cleanup(m);
	free(easy);
	free(hdrs);
	return rc;
}

/* ---- identities and flows ----------------------------------------------- */

const char *
it_citizen_token(struct it_server *s, const char *subject, long ttl_s)
{
	char consentctl[PATH_MAX], ttl[32], key[512], *out = NULL;
	const char *tok;
	size_t n;
	json_t *j;

	snprintf(key, sizeof(key), "%s|%ld", subject, ttl_s);
	tok = json_string_value(json_object_get(s->tokens, key));
	if (tok != NULL)
		return tok;
	if (it_bin("consentctl", consentctl, sizeof(consentctl)) != 0)
		return NULL;
	snprintf(ttl, sizeof(ttl), "%ld", ttl_s != 0 ? ttl_s : 3600L);
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"dev",
		    (char *)(uintptr_t)"citizen-token", (char *)(uintptr_t)"--data",
		    s->data, (char *)(uintptr_t)"--subject",
		    (char *)(uintptr_t)subject, (char *)(uintptr_t)"--ttl", ttl,
		    NULL };

		if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0)
			return NULL;
	}
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	j = json_string(out);
	free(out);
	if (j == NULL || json_object_set_new(s->tokens, key, j) != 0)
		return NULL;
	return json_string_value(j);
}

long
it_grant(struct it_server *s, const char *subject, const char *agreement,
    const char *fields_json, const char *expires_at, char *id_out,
    struct it_resp *r)
{
	const char *tok = it_citizen_token(s, subject, 0);
	json_t *body = json_pack("{s:s}", "agreement", agreement), *f;
	char *text;
	long st;

	memset(r, 0, sizeof(*r));
	if (tok == NULL || body == NULL)
		fail_msg("cannot make a grant request for %s", subject);
	if (fields_json != NULL) {
		f = json_loads(fields_json, 0, NULL);
		if (f == NULL)
			fail_msg("bad fields JSON in the test: %s", fields_json);
		json_object_set_new(body, "fields", f);
	}
	if (expires_at != NULL)
		json_object_set_new(body, "expires_at", json_string(expires_at));
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	st = it_post_json(s, NULL, tok, "/v1/consents", text, r);
	free(text);
	if (id_out != NULL) {
		id_out[0] = '\0';
		if (st == 201)
			snprintf(id_out, 64, "%s", it_jstr(r->json, "id"));
	}
	return st;
}

long
it_revoke(struct it_server *s, const char *subject, const char *id,
    struct it_resp *r)
{
	const char *tok = it_citizen_token(s, subject, 0);
	char path[256];

	memset(r, 0, sizeof(*r));
	if (tok == NULL)
		fail_msg("no citizen token for %s", subject);
	snprintf(path, sizeof(path), "/v1/consents/%s", id);
	return it_delete(s, tok, path, r);
}

json_t *
it_details(const char *agreement, const char *subject, const char *purpose,
    const char *const *fields)
{
	json_t *f = json_array();
	size_t i;

	for (i = 0; fields != NULL && fields[i] != NULL; i++)
		json_array_append_new(f, json_string(fields[i]));
	return json_pack("[{s:s, s:s, s:s, s:s, s:o}]", "type",
	    "consented_transfer", "agreement", agreement, "subject", subject,
	    "purpose", purpose, "fields", f);
}

char *
it_urlencode(const char *s)
{
	char *e = curl_easy_escape(NULL, s, (int)strlen(s)), *out;

	if (e == NULL)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

char *
it_token_form(const json_t *details)
{
	char *text = NULL, *enc = NULL, *out = NULL;
	size_t n;

	if (details == NULL)
		return strdup("grant_type=client_credentials");
	text = json_dumps(details, JSON_COMPACT);
	enc = text != NULL ? it_urlencode(text) : NULL;
	if (enc == NULL)
		goto out;
	n = strlen(enc) + 80;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "grant_type=client_credentials&"
		    "authorization_details=%s", enc);
out:
	free(text);
	free(enc);
	return out;
}

long
it_token(const struct it_server *s, const char *party, const char *agreement,
    const char *subject, const char *purpose, const char *const *fields,
    struct it_resp *r)
{
	json_t *d = it_details(agreement, subject, purpose, fields);
	char *form = it_token_form(d);
	long st;

	json_decref(d);
	memset(r, 0, sizeof(*r));
	if (form == NULL)
		fail_msg("cannot build a token request");
	st = it_post_form(s, party, "/oauth2/token", form, r);
	free(form);
	return st;
}

long
it_introspect(const struct it_server *s, const char *party,
    const char *token, struct it_resp *r)
{
	char *enc = it_urlencode(token), *form;
	size_t n;
	long st;

	memset(r, 0, sizeof(*r));
	if (enc == NULL)
		fail_msg("cannot encode a token");
	n = strlen(enc) + 16;
	form = malloc(n);
	if (form == NULL)
		fail_msg("out of memory");
	snprintf(form, n, "token=%s", enc);
	free(enc);
	st = it_post_form(s, party, "/oauth2/introspect", form, r);
	free(form);
	return st;
}

static long
post_json_value(const struct it_server *s, const char *party,
    const char *path, json_t *body, struct it_resp *r)
{
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	long st;

	json_decref(body);
	memset(r, 0, sizeof(*r));
	if (text == NULL)
		fail_msg("cannot serialize a request body");
	st = it_post_json(s, party, NULL, path, text, r);
	free(text);
	return st;
}

long
it_submit_agreement(const struct it_server *s, const char *party,
    const json_t *doc, struct it_resp *r)
{
	return post_json_value(s, party, "/v1/agreements",
	    json_incref((json_t *)(uintptr_t)doc), r);
}

long
it_approve(const struct it_server *s, const char *party, const char *id,
    long version, const char *hash, struct it_resp *r)
{
	char path[256];

	it_fmt(path, sizeof(path), "/v1/agreements/%s/approve", id);
	return post_json_value(s, party, path, json_pack("{s:I, s:s}",
	    "version", (json_int_t)version, "hash", hash), r);
}

long
it_lifecycle(const struct it_server *s, const char *party, const char *id,
    const char *verb, const char *reason, struct it_resp *r)
{
	char path[256];

	it_fmt(path, sizeof(path), "/v1/agreements/%s/%s", id, verb);
	return post_json_value(s, party, path, json_pack("{s:s}", "reason",
	    reason), r);
}

json_t *
it_example_agreement(const char *name)
{
	char p[PATH_MAX];
	json_error_t e;
	json_t *j;

	it_fmt(p, sizeof(p), "%s/%s.json", it.agreements, name);
	j = json_load_file(p, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		fail_msg("%s: %s", p, e.text);
	return j;
}

json_t *
it_jwt_part(const char *token, int part)
{
	const char *p = token, *dot;
	unsigned char *buf;
	size_t n, outlen;
	json_t *j = NULL;
	int i;

	for (i = 0; i < part; i++) {
		p = strchr(p, '.');
		if (p == NULL)
			return NULL;
		p++;
	}
	dot = strchr(p, '.');
	n = dot != NULL ? (size_t)(dot - p) : strlen(p);
	buf = malloc(b64_decoded_max(n) + 1);
	if (buf == NULL)
		return NULL;
	if (b64url_decode(p, n, buf, &outlen) == 0)
		j = json_loadb((const char *)buf, outlen, JSON_REJECT_DUPLICATES,
		    NULL);
	free(buf);
	return j;
}
