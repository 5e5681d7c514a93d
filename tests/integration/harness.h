/*
 * Integration-test harness: a real consentd on 127.0.0.1 over a data
 * directory made by "consentctl init --dev", and HTTPS calls to it as a
 * party (mTLS), as a citizen (bearer ID token) or anonymously.
 *
 * Every wait is bounded. Every consentd started here is registered so that
 * it_finish() (and an atexit hook, and PR_SET_PDEATHSIG in the child) can
 * kill it: no test leaves a process behind, even when it fails.
 *
 * Binaries come from $CB_BUILD (default "build"); the example agreements
 * from $CB_AGREEMENTS (default "agreements/examples"): run from the root.
 */
#ifndef CB_IT_HARNESS_H
#define CB_IT_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>
#include <jansson.h>

/* Bounds on every wait, in milliseconds. */
#define IT_START_TIMEOUT_MS 10000  /* consentd answers /healthz */
#define IT_STOP_TIMEOUT_MS  15000  /* SIGTERM to exit (grace is 10 s) */
#define IT_REQ_TIMEOUT_MS   10000  /* one HTTPS request */
#define IT_CMD_TIMEOUT_MS   10000  /* one consentctl run */
#define IT_MAX_BODY         (4u << 20) /* response bytes kept */

/* One consentd and its data directory. */
struct it_server {
	char dir[PATH_MAX];        /* the temporary directory */
	char data[PATH_MAX];       /* dir/data: made by consentctl init */
	char log[PATH_MAX];        /* dir/consentd.log: consentd's stderr */
	char base[64];             /* https://127.0.0.1:PORT */
	unsigned port;
	pid_t pid;                 /* -1 when not running */
	int threads;               /* --threads (default 2) */
	const char *sets[8];       /* extra "--set key=value", borrowed */
	int nsets;
	int starts;                /* how many times it was started */
	long scanned;              /* log bytes checked for sanitizer reports */
	long run_start;            /* log offset where the latest run began */
	int sanitizer_hit;
	json_t *tokens;            /* cache: subject -> citizen token */
};

/* Reads the environment, initializes libcurl; call first in main(). */
void it_init(void);

/*
 * Kills whatever consentd is still running, then removes every temporary
 * directory when failed == 0; otherwise keeps them and prints their paths
 * and the tail of each consentd log. Returns failed (pass it the result of
 * cmocka_run_group_tests and return this from main).
 */
int it_finish(int failed);

/* Path of a binary under $CB_BUILD into out; 0 or -1. */
int it_bin(const char *name, char *out, size_t outlen);

/*
 * A new temporary directory with a dev data dir in it (consentctl init).
 * The server is registered for cleanup; it is not started. NULL on
 * failure, with the reason printed.
 */
struct it_server *it_server_new(void);

/*
 * Starts consentd on a free loopback port (retrying on EADDRINUSE) and
 * waits for GET /healthz. On a restart it tries the previous port first.
 * 0, or -1 with the reason and the log tail printed.
 */
int it_server_start(struct it_server *s);

/*
 * SIGTERM, then waits (bounded) for the exit. Returns 0 when consentd
 * exited with status 0, else -1 (a timeout ends in SIGKILL).
 */
int it_server_stop(struct it_server *s);

/* Sends sig to consentd (no wait); for signals while requests run. */
void it_server_signal(struct it_server *s, int sig);

/*
 * Waits (bounded) for consentd to exit after a signal sent with
 * it_server_signal. 0 when it exited with status 0 and logged no sanitizer
 * report, else -1 (a timeout ends in SIGKILL).
 */
int it_server_wait(struct it_server *s, long timeout_ms);

/* SIGKILL (a crash) and reaps it. */
void it_server_kill(struct it_server *s);

/* 1 when the log holds a sanitizer report (printed once), else 0. */
int it_server_sanitizer_report(struct it_server *s);

/* Prints the last lines of the consentd log to stderr. */
void it_server_log_tail(const struct it_server *s, int lines);

/*
 * Number of log lines containing needle (e.g. "\"status\":201"), in the
 * whole log, or only in the latest run (since the last start) with
 * it_server_log_count_run.
 */
int it_server_log_count(const struct it_server *s, const char *needle);
int it_server_log_count_run(const struct it_server *s, const char *needle);

/*
 * Fails the running test when any registered consentd log has a sanitizer
 * report ("ERROR: AddressSanitizer", "runtime error:", ...). IT_TEST runs
 * it after every test body.
 */
void it_assert_no_sanitizer_reports(void);

/*
 * A test whose body gets the group's server (the state set by the group
 * setup) and is followed by the sanitizer check.
 */
#define IT_TEST(name)                                                   \
	static void name##_body(struct it_server *s);                   \
	static void name(void **state)                                  \
	{                                                               \
		it_ensure_running(*state);                              \
		name##_body(*state);                                    \
		it_assert_no_sanitizer_reports();                       \
	}                                                               \
	static void name##_body(struct it_server *s)

/*
 * Restarts s when an earlier (failed) test left it stopped, so that one
 * failure does not fail every later test of the file. Fails the test when
 * it cannot.
 */
void it_ensure_running(struct it_server *s);

/* Group setup/teardown: one started server per test file in *state. */
int it_group_setup(void **state);
int it_group_teardown(void **state);

/*
 * The last test of each file: SIGTERM ends the group's consentd with exit
 * status 0 and no sanitizer report.
 */
void it_test_server_exits_0_on_sigterm(void **state);
#define IT_SIGTERM_TEST                                                 \
	{ "server_exits_0_on_sigterm", it_test_server_exits_0_on_sigterm, \
	    NULL, NULL, NULL }

/* ---- HTTPS -------------------------------------------------------------- */

struct it_req {
	const char *method;        /* NULL: GET, or POST when body is set */
	const char *path;          /* "/v1/consents" */
	const char *party;         /* client cert DATA/pki/<party>.crt|.key */
	const char *cert;          /* explicit client cert and key paths */
	const char *key;
	const char *bearer;        /* Authorization: Bearer <bearer> */
	const char *ctype;         /* Content-Type; NULL sends none */
	const char *body;          /* NULL: no body */
	size_t len;                /* 0: strlen(body) */
	long timeout_ms;           /* 0: IT_REQ_TIMEOUT_MS */
};

struct it_resp {
	int curl_rc;               /* CURLcode; 0 when a response came */
	long status;               /* HTTP status, 0 when none */
	char ctype[128];           /* media type without parameters */
	char *body;                /* NUL-terminated */
	size_t len;
	size_t cap;
	char *headers;             /* raw response header block */
	size_t hlen;
	size_t hcap;
	json_t *json;              /* the body when it parses as JSON */
	char errbuf[256];          /* curl's message on a transport error */
};

/* Sends q; returns the HTTP status (0 on a transport error). */
long it_request(const struct it_server *s, const struct it_req *q,
    struct it_resp *r);

/* Frees what a response holds and zeroes it; safe twice. */
void it_resp_free(struct it_resp *r);

/* A response header's value (first match, case-insensitive) or NULL. */
const char *it_resp_header(const struct it_resp *r, const char *name,
    char *buf, size_t buflen);

long it_get(const struct it_server *s, const char *party,
    const char *bearer, const char *path, struct it_resp *r);
long it_post_json(const struct it_server *s, const char *party,
    const char *bearer, const char *path, const char *json,
    struct it_resp *r);
long it_post_form(const struct it_server *s, const char *party,
    const char *path, const char *form, struct it_resp *r);
long it_delete(const struct it_server *s, const char *bearer,
    const char *path, struct it_resp *r);

/* Several requests at once over up to conns connections (curl multi). */
struct it_batch_item {
	struct it_req req;
	struct it_resp resp;
};

/*
 * Runs all items; on_done (may be NULL) is called after each completes
 * with the number completed so far. Bounded by timeout_ms overall; items
 * not finished by then get curl_rc CURLE_OPERATION_TIMEDOUT. 0 or -1.
 */
int it_batch(const struct it_server *s, struct it_batch_item *items,
    size_t n, int conns, long timeout_ms,
    void (*on_done)(size_t ndone, void *arg), void *arg);

/* ---- identities and flows ----------------------------------------------- */

/*
 * A citizen ID token for subject from "consentctl dev citizen-token"
 * (ttl_s 0: the default hour). Borrowed: valid until the server is freed
 * (default-ttl tokens are cached per subject). NULL on failure.
 */
const char *it_citizen_token(struct it_server *s, const char *subject,
    long ttl_s);

/*
 * Runs argv (argv[0] a path) to completion, for at most timeout_ms (then
 * SIGKILL). Its stdout, and its stderr too when both is set (else stderr
 * is the test's), go to the file log when it is not NULL (created or
 * truncated, 0600; *out is then NULL), else into *out when out is not
 * NULL, else nowhere. *out is a new NUL-terminated string the caller
 * frees, set whatever the result so that a failed run's output can be
 * shown (NULL only when memory ran out). The output is read while the
 * child runs, without a size limit. Returns the exit status (0..255), or
 * -1 when it did not exit by itself in time, was killed by a signal or
 * could not be started (the reason printed). The child dies with the test
 * (PR_SET_PDEATHSIG) and is reaped on every path.
 */
int it_run(char *const argv[], const char *log, int both, char **out,
    long timeout_ms);

/*
 * it_run with stdout into *out: 0 only when it exited 0, with *out set;
 * else -1 with *out NULL and the reason printed.
 */
int it_run_capture(char *const argv[], char **out, long timeout_ms);

/*
 * POST /v1/consents as subject. fields_json is a JSON array text or NULL;
 * expires_at an RFC 3339 string or NULL. On 201 id_out (64 bytes, may be
 * NULL) gets the consent id. Returns the HTTP status.
 */
long it_grant(struct it_server *s, const char *subject,
    const char *agreement, const char *fields_json, const char *expires_at,
    char *id_out, struct it_resp *r);

/* DELETE /v1/consents/{id} as subject; the HTTP status. */
long it_revoke(struct it_server *s, const char *subject, const char *id,
    struct it_resp *r);

/*
 * The authorization_details array for a token request; fields is a
 * NULL-terminated list. New reference.
 */
json_t *it_details(const char *agreement, const char *subject,
    const char *purpose, const char *const *fields);

/*
 * "grant_type=client_credentials&authorization_details=<urlencoded>"
 * (details borrowed; NULL leaves authorization_details out). Caller frees.
 */
char *it_token_form(const json_t *details);

/* URL-encodes s (curl_easy_escape) into a new string the caller frees. */
char *it_urlencode(const char *s);

/* POST /oauth2/token as party for these details; the HTTP status. */
long it_token(const struct it_server *s, const char *party,
    const char *agreement, const char *subject, const char *purpose,
    const char *const *fields, struct it_resp *r);

/* POST /oauth2/introspect as party with token; the HTTP status. */
long it_introspect(const struct it_server *s, const char *party,
    const char *token, struct it_resp *r);

/*
 * The example agreement document $CB_AGREEMENTS/<name>.json, to be changed
 * into new test agreements. New reference; fails the test when missing.
 */
json_t *it_example_agreement(const char *name);

/* POST /v1/agreements as party with doc (borrowed); the HTTP status. */
long it_submit_agreement(const struct it_server *s, const char *party,
    const json_t *doc, struct it_resp *r);

/* POST /v1/agreements/{id}/approve {"version","hash"}; the HTTP status. */
long it_approve(const struct it_server *s, const char *party, const char *id,
    long version, const char *hash, struct it_resp *r);

/* POST /v1/agreements/{id}/{verb} {"reason"}; the HTTP status. */
long it_lifecycle(const struct it_server *s, const char *party,
    const char *id, const char *verb, const char *reason,
    struct it_resp *r);

/* A compact JWS's header (part 0) or payload (part 1) as JSON, or NULL. */
json_t *it_jwt_part(const char *token, int part);

/* RFC 3339 (UTC) of now + delta_s into out (32 bytes). */
void it_time_from_now(long delta_s, char out[32]);

/* snprintf that fails the test on truncation. */
void it_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sleeps ms milliseconds. */
void it_sleep_ms(long ms);

/* Monotonic milliseconds. */
int64_t it_now_ms(void);

/* A string member of obj, or "<absent>" (never NULL, for assertions). */
const char *it_jstr(const json_t *obj, const char *key);

/* An integer member of obj, or INT64_MIN. */
int64_t it_jint(const json_t *obj, const char *key);

/* ---- assertions (macros, so cmocka reports the caller's line) ------------ */

#define IT_BODY_SHOWN 1500

/* Fails unless r has HTTP status want, showing the body when not. */
#define assert_status(r, want)                                          \
	do {                                                            \
		const struct it_resp *r_ = (r);                         \
		if (r_->status != (long)(want))                         \
			fail_msg("HTTP %ld (curl %d: %s), expected %ld: " \
			    "%.1500s", r_->status, r_->curl_rc,         \
			    r_->errbuf, (long)(want),                   \
			    r_->body != NULL ? r_->body : "");          \
	} while (0)

/* Fails unless haystack contains needle. */
#define assert_contains(haystack, needle)                               \
	do {                                                            \
		const char *h_ = (haystack), *n_ = (needle);            \
		if (h_ == NULL || strstr(h_, n_) == NULL)               \
			fail_msg("\"%.1500s\" does not contain \"%s\"", \
			    h_ != NULL ? h_ : "(null)", n_);            \
	} while (0)

/* An RFC 6749 error answer: status, media type, error code, description. */
#define assert_oauth_error(r, want_status, code, needle)                \
	do {                                                            \
		const struct it_resp *o_ = (r);                         \
		assert_status(o_, want_status);                         \
		assert_string_equal(o_->ctype, "application/json");     \
		assert_non_null(o_->json);                              \
		assert_string_equal(it_jstr(o_->json, "error"), code);  \
		assert_contains(it_jstr(o_->json, "error_description"), \
		    needle);                                            \
	} while (0)

/* An RFC 9457 problem answer naming needle in its detail. */
#define assert_problem(r, want_status, needle)                          \
	do {                                                            \
		const struct it_resp *p_ = (r);                         \
		assert_status(p_, want_status);                         \
		assert_string_equal(p_->ctype,                          \
		    "application/problem+json");                        \
		assert_non_null(p_->json);                              \
		assert_int_equal(it_jint(p_->json, "status"),           \
		    (want_status));                                     \
		assert_contains(it_jstr(p_->json, "detail"), needle);   \
	} while (0)

#endif
