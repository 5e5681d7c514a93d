/*
 * Integration, end to end: the broker issues transfer tokens, the demo
 * provider (dia) checks them with libconsent and releases only what they
 * allow; forged, foreign and reused tokens are refused each with its own
 * code; independent JOSE libraries (libjwt, PyJWT) interoperate as far as
 * they can, and the test states exactly how far that is.
 *
 * Besides the harness's consentd, this file starts build/demo-provider on
 * another free loopback port with the same data directory. Tokens the
 * broker did not mint are made here with the broker's own signing key
 * (DIR/keys/signing/<kid>.key) and keys/jws.h: that is allowed in a test,
 * never in a provider.
 *
 * Budget: the smartstart agreement allows 5 tokens per subject per day;
 * alice-test gets 4 from the broker here, carol-test 1, bob-test 0.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "b64.h"
#include "consent.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define E2E_START_ATTEMPTS 5
#define E2E_STOP_TIMEOUT_MS 5000
#define E2E_LOG_MAX (1L << 20)

/* Everything the group shares; built in e2e_setup, freed in e2e_teardown. */
struct e2e {
	struct it_server *s;       /* the broker (harness-owned) */
	struct it_server dv;       /* a view of s aimed at the provider:
	                              it_request reads only base and data */
	pid_t pid;                 /* demo-provider, -1 when not running */
	unsigned port;
	char log[PATH_MAX];        /* its stderr */
	long scanned;              /* log bytes checked for sanitizer reports */
	char issuer[256];
	char kid[128];
	char key_pem_path[PATH_MAX];
	EVP_PKEY *skey;            /* the broker's signing key */
	char ird_x5t[JWK_B64_SHA256_LEN];
	unsigned char *ird_der;
	int ird_der_len;
	consent_client *ird;
	consent_verifier *v;       /* in-process, no replay cache: for peek */
};

/*
 * The provider's pid for the atexit hook: a failed assertion outside a
 * test (or a crash of this process) must not leave it running. The one
 * global here, for the same reason as the harness's.
 */
static pid_t demo_pid = -1;

static void
kill_demo_at_exit(void)
{
	int st;

	if (demo_pid > 0) {
		kill(demo_pid, SIGKILL);
		waitpid(demo_pid, &st, 0);
		demo_pid = -1;
	}
}

/* ---- helpers ------------------------------------------------------------ */

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

/* snprintf into a path buffer; 0, or -1 when it does not fit. */
static int
pathf(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pathf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* A whole (small) file as a new string, or NULL. */
static char *
slurp(const char *path, long from, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long size;
	size_t n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size - from > E2E_LOG_MAX || fseek(f, from, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)(size - from) + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, (size_t)(size - from), f);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = n;
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
demo_log_tail(const struct e2e *e)
{
	char *log = slurp(e->log, 0, NULL);
	size_t n;

	if (log == NULL)
		return;
	n = strlen(log);
	fprintf(stderr, "demo-provider log (%s), last part:\n%s\n", e->log,
	    log + (n > 3000 ? n - 3000 : 0));
	free(log);
}

/* Fails the running test when the provider's log has a sanitizer report. */
static void
assert_demo_log_clean(struct e2e *e)
{
	static const char *const marks[] = { "ERROR: AddressSanitizer",
	    "ERROR: LeakSanitizer", "runtime error:", NULL };
	char *log = slurp(e->log, e->scanned, NULL);
	int i;

	if (log == NULL)
		return;
	e->scanned += (long)strlen(log);
	for (i = 0; marks[i] != NULL; i++)
		if (strstr(log, marks[i]) != NULL) {
			fprintf(stderr, "%s\n", log);
			free(log);
			fail_msg("demo-provider logged a sanitizer report");
		}
	free(log);
}

/* A test body gets the group state; the sanitizer checks follow it. */
#define E2E_TEST(name)                                                  \
	static void name##_body(struct e2e *e);                         \
	static void name(void **state)                                  \
	{                                                               \
		name##_body(*state);                                    \
		assert_demo_log_clean(*state);                          \
		it_assert_no_sanitizer_reports();                       \
	}                                                               \
	static void name##_body(struct e2e *e)

/* An answer of the provider: status, problem document, stable code. */
#define assert_refused(r, want_status, code)                            \
	do {                                                            \
		const struct it_resp *q_ = (r);                         \
		assert_status(q_, want_status);                         \
		assert_string_equal(q_->ctype, "application/problem+json"); \
		assert_non_null(q_->json);                              \
		assert_string_equal(it_jstr(q_->json, "type"), "about:blank"); \
		assert_int_equal(it_jint(q_->json, "status"), (want_status)); \
		assert_string_equal(it_jstr(q_->json, "error"), (code)); \
		assert_string_not_equal(it_jstr(q_->json, "detail"), "<absent>"); \
	} while (0)

/* GET path on the provider as party (NULL: no certificate) with token. */
static long
provider_get(struct e2e *e, const char *party, const char *token,
    const char *path, struct it_resp *r)
{
	return it_get(&e->dv, party, token, path, r);
}

/* Claims as the broker mints them: ird -> dia about sub, these fields
 * (NULL-terminated), valid now for 300 s, bound to ird's certificate. */
static json_t *
claims_for(const struct e2e *e, const char *sub, const char *const *fields)
{
	unsigned char rnd[16];
	char jti[32];
	json_int_t now = (json_int_t)time(NULL);
	json_t *f = json_array(), *c;
	size_t i;

	assert_int_equal(RAND_bytes(rnd, sizeof(rnd)), 1);
	b64url_encode(rnd, sizeof(rnd), jti);
	for (i = 0; fields[i] != NULL; i++)
		json_array_append_new(f, json_string(fields[i]));
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, "
	    "s:[{s:s, s:s, s:I, s:s, s:s, s:o}], s:{s:s}}",
	    "iss", e->issuer, "sub", sub, "aud", "dia", "client_id", "ird",
	    "iat", now, "nbf", now, "exp", now + 300, "jti", jti,
	    "authorization_details", "type", "consented_transfer", "agreement",
	    SMARTSTART, "agreement_version", (json_int_t)1, "agreement_hash",
	    "made-by-the-test", "purpose", PURPOSE, "fields", f,
	    "cnf", "x5t#S256", e->ird_x5t);
	assert_non_null(c);
	return c;
}

/* ES256 compact JWS of claims with key/kid/typ (our jws.h). */
static char *
sign_claims(EVP_PKEY *key, const char *kid, const char *typ,
    const json_t *claims)
{
	char *payload = json_dumps(claims, JSON_COMPACT), *tok = NULL;

	assert_non_null(payload);
	assert_int_equal(jws_sign_es256(key, kid, typ, payload, strlen(payload),
	    &tok), JWS_OK);
	free(payload);
	return tok;
}

/* A token signed by the broker's key, as the broker would; takes claims. */
static char *
forge(const struct e2e *e, json_t *claims)
{
	char *tok = sign_claims(e->skey, e->kid, "at+jwt", claims);

	json_decref(claims);
	return tok;
}

/* "<b64url header>.<b64url payload>.<sig>" from JSON texts. */
static char *
compact(const char *header, const char *payload, const char *sig)
{
	char *h = b64url_encode_alloc((const unsigned char *)header,
	    strlen(header));
	char *p = b64url_encode_alloc((const unsigned char *)payload,
	    strlen(payload));
	size_t n;
	char *out;

	assert_non_null(h);
	assert_non_null(p);
	n = strlen(h) + strlen(p) + strlen(sig) + 3;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return out;
}

/* The part (0, 1, 2) of a compact token as a new string. */
static char *
token_part(const char *tok, int part)
{
	const char *p = tok, *dot;
	int i;

	for (i = 0; i < part; i++) {
		p = strchr(p, '.');
		assert_non_null(p);
		p++;
	}
	dot = strchr(p, '.');
	return strndup(p, dot != NULL ? (size_t)(dot - p) : strlen(p));
}

/* ---- the provider process ----------------------------------------------- */

static pid_t
spawn_demo(struct e2e *e)
{
	char bin[PATH_MAX], listen[64];
	pid_t parent = getpid(), pid;
	int fd;

	if (it_bin("demo-provider", bin, sizeof(bin)) != 0)
		return -1;
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", e->port);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		_exit(126);
	dup2(fd, 1);
	dup2(fd, 2);
	{
		char *argv[] = { bin, (char *)(uintptr_t)"--data", e->s->data,
		    (char *)(uintptr_t)"--broker", e->s->base,
		    (char *)(uintptr_t)"--listen", listen, NULL };

		execv(bin, argv);
	}
	fprintf(stderr, "test_e2e: exec %s: %s\n", bin, strerror(errno));
	_exit(127);
}

/* Starts the provider on a free port and waits for /healthz; 0 or -1. */
static int
start_demo(struct e2e *e)
{
	struct it_req q = { .path = "/healthz", .timeout_ms = 1000 };
	struct it_resp r;
	int attempt, status;
	int64_t end;
	char *log;

	for (attempt = 0; attempt < E2E_START_ATTEMPTS; attempt++) {
		if ((e->port = free_port()) == 0)
			return -1;
		snprintf(e->dv.base, sizeof(e->dv.base), "https://127.0.0.1:%u",
		    e->port);
		if ((e->pid = spawn_demo(e)) < 0)
			return -1;
		demo_pid = e->pid;
		end = it_now_ms() + IT_START_TIMEOUT_MS;
		for (;;) {
			if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
				e->pid = demo_pid = -1;
				log = slurp(e->log, 0, NULL);
				if (log != NULL &&
				    strstr(log, "Address already in use") != NULL) {
					free(log);
					break;   /* lost the port: next one */
				}
				fprintf(stderr, "test_e2e: demo-provider exited at "
				    "start (status 0x%x):\n%s\n", status,
				    log != NULL ? log : "");
				free(log);
				return -1;
			}
			if (it_request(&e->dv, &q, &r) == 200) {
				it_resp_free(&r);
				return 0;
			}
			it_resp_free(&r);
			if (it_now_ms() >= end) {
				fprintf(stderr, "test_e2e: demo-provider did not "
				    "answer /healthz in %d ms\n",
				    IT_START_TIMEOUT_MS);
				demo_log_tail(e);
				return -1;
			}
			it_sleep_ms(20);
		}
	}
	return -1;
}

/* SIGTERM and a bounded wait; the exit status, or -1 (then SIGKILL). */
static int
stop_demo(struct e2e *e)
{
	int64_t end = it_now_ms() + E2E_STOP_TIMEOUT_MS;
	int status;

	if (e->pid <= 0)
		return -1;
	kill(e->pid, SIGTERM);
	while (waitpid(e->pid, &status, WNOHANG) != e->pid) {
		if (it_now_ms() >= end) {
			kill(e->pid, SIGKILL);
			waitpid(e->pid, &status, 0);
			e->pid = demo_pid = -1;
			return -1;
		}
		it_sleep_ms(10);
	}
	e->pid = demo_pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- group setup -------------------------------------------------------- */

static void
e2e_free(struct e2e *e)
{
	if (e == NULL)
		return;
	if (e->pid > 0)
		stop_demo(e);
	consent_client_free(e->ird);
	consent_verifier_free(e->v);
	EVP_PKEY_free(e->skey);
	OPENSSL_free(e->ird_der);
	free(e);
}

static int
e2e_setup(void **state)
{
	struct e2e *e = calloc(1, sizeof(*e));
	char p[PATH_MAX], err[256], detail[512], jwks[512], cert[PATH_MAX],
	    key[PATH_MAX], ca[PATH_MAX], *cur = NULL;
	struct consent_client_opts co;
	struct consent_verifier_opts vo;
	struct it_resp r;
	X509 *ird = NULL;
	size_t n;

	*state = NULL;
	if (e == NULL)
		return -1;
	e->pid = -1;
	atexit(kill_demo_at_exit);
	if ((e->s = it_server_new()) == NULL || it_server_start(e->s) != 0)
		goto fail;
	e->dv = *e->s;
	e->dv.tokens = NULL;
	e->dv.pid = -1;
	if (pathf(e->log, sizeof(e->log), "%s/demo-provider.log",
	    e->s->dir) != 0)
		goto fail;
	/* The issuer, as a provider learns it: from discovery. */
	if (it_get(e->s, NULL, NULL, "/.well-known/consent-broker", &r) != 200) {
		it_resp_free(&r);
		goto fail;
	}
	snprintf(e->issuer, sizeof(e->issuer), "%s", it_jstr(r.json, "issuer"));
	it_resp_free(&r);
	/* The broker's current signing key (for tokens it did not mint). */
	if (pathf(p, sizeof(p), "%s/keys/signing/current", e->s->data) != 0 ||
	    (cur = slurp(p, 0, NULL)) == NULL)
		goto fail;
	n = strcspn(cur, "\r\n");
	cur[n] = '\0';
	snprintf(e->kid, sizeof(e->kid), "%s", cur);
	free(cur);
	if (pathf(e->key_pem_path, sizeof(e->key_pem_path),
	    "%s/keys/signing/%s.key", e->s->data, e->kid) != 0)
		goto fail;
	if ((e->skey = pki_load_key(e->key_pem_path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "test_e2e: %s\n", err);
		goto fail;
	}
	if (pathf(p, sizeof(p), "%s/pki/ird.crt", e->s->data) != 0 ||
	    (ird = pki_load_cert(p, err, sizeof(err))) == NULL ||
	    jwk_x5t_s256(ird, e->ird_x5t) != 0 ||
	    (e->ird_der_len = i2d_X509(ird, &e->ird_der)) <= 0) {
		X509_free(ird);
		goto fail;
	}
	X509_free(ird);
	/* Consent: alice-test and carol-test say yes, bob-test never. */
	if (it_grant(e->s, "alice-test", SMARTSTART, NULL, NULL, NULL, &r) !=
	    201) {
		fprintf(stderr, "test_e2e: grant: %s\n", r.body);
		it_resp_free(&r);
		goto fail;
	}
	it_resp_free(&r);
	if (it_grant(e->s, "carol-test", SMARTSTART, NULL, NULL, NULL, &r) !=
	    201) {
		it_resp_free(&r);
		goto fail;
	}
	it_resp_free(&r);
	if (start_demo(e) != 0)
		goto fail;
	/* The requester, through libconsent. */
	memset(&co, 0, sizeof(co));
	if (pathf(cert, sizeof(cert), "%s/pki/ird.crt", e->s->data) != 0 ||
	    pathf(key, sizeof(key), "%s/pki/ird.key", e->s->data) != 0 ||
	    pathf(ca, sizeof(ca), "%s/pki/ca.crt", e->s->data) != 0)
		goto fail;
	co.broker_url = e->s->base;
	co.cert_file = cert;
	co.key_file = key;
	co.ca_file = ca;
	co.max_retries = -1;
	if (consent_client_new(&co, &e->ird, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "test_e2e: client: %s\n", detail);
		goto fail;
	}
	/* An in-process verifier for dia, for consent_verify_peek. */
	memset(&vo, 0, sizeof(vo));
	snprintf(jwks, sizeof(jwks), "%s/.well-known/jwks.json", e->s->base);
	vo.provider = "dia";
	vo.issuer = e->issuer;
	vo.jwks_url = jwks;
	vo.ca_file = ca;
	if (consent_verifier_new(&vo, &e->v, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "test_e2e: verifier: %s\n", detail);
		goto fail;
	}
	*state = e;
	return 0;
fail:
	if (e->pid > 0)
		demo_log_tail(e);
	e2e_free(e);
	return -1;
}

static int
e2e_teardown(void **state)
{
	struct e2e *e = *state;
	int rc = 0;

	if (e == NULL)
		return 0;
	if (e->s != NULL && e->s->pid > 0 && it_server_stop(e->s) != 0)
		rc = -1;
	e2e_free(e);
	return rc;
}

/* ---- the provider ------------------------------------------------------- */

E2E_TEST(provider_healthz_answers_200_without_a_client_certificate)
{
	struct it_resp r;

	provider_get(e, NULL, NULL, "/healthz", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "status"), "ok");
	it_resp_free(&r);
}

E2E_TEST(ird_fetches_exactly_the_requested_fields_with_a_broker_token)
{
	static const char *const fields[] = { "child.given_names",
	    "child.birth_date" };
	struct consent_transfer t = { SMARTSTART, "alice-test", PURPOSE, fields,
	    2 };
	char url[256], *body = NULL;
	size_t len = 0;
	long status = 0;
	json_t *j;

	consent_client_forget(e->ird);
	it_fmt(url, sizeof(url), "%s/v1/records/alice-test?fields="
	    "child.given_names,child.birth_date", e->dv.base);
	if (consent_client_fetch(e->ird, &t, url, &status, &body, &len) !=
	    CONSENT_OK)
		fail_msg("fetch: %s", consent_client_detail(e->ird));
	assert_int_equal(status, 200);
	j = json_loadb(body, len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 2);
	assert_string_equal(it_jstr(j, "child.given_names"), "Aroha Mere");
	assert_string_equal(it_jstr(j, "child.birth_date"), "2026-10-02");
	json_decref(j);
	consent_free(body);
}

E2E_TEST(field_outside_the_token_scope_is_not_released)
{
	static const char *const fields[] = { "child.given_names",
	    "child.family_name" };
	struct consent_transfer t = { SMARTSTART, "alice-test", PURPOSE, fields,
	    2 };
	char url[256], *tok = NULL, *body = NULL;
	size_t len = 0;
	long status = 0;
	json_t *j;

	consent_client_forget(e->ird);
	if (consent_client_token(e->ird, &t, &tok, NULL) != CONSENT_OK)
		fail_msg("token: %s", consent_client_detail(e->ird));
	it_fmt(url, sizeof(url), "%s/v1/records/alice-test?fields="
	    "child.given_names,child.family_name,child.birth_date", e->dv.base);
	assert_int_equal(consent_client_get(e->ird, url, tok, &status, &body,
	    &len), CONSENT_OK);
	assert_int_equal(status, 200);
	j = json_loadb(body, len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 2);
	assert_string_equal(it_jstr(j, "child.given_names"), "Aroha Mere");
	assert_string_equal(it_jstr(j, "child.family_name"), "Ngata");
	assert_null(json_object_get(j, "child.birth_date"));
	json_decref(j);
	consent_free(body);
	consent_free(tok);
}

E2E_TEST(without_fields_the_whole_scope_is_released_in_scope_order)
{
	static const char *const scope[] = { "parent.family_name",
	    "child.birth_place", "child.given_names", NULL };
	char *tok = forge(e, claims_for(e, "alice-test", scope));
	struct it_resp r;

	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_status(&r, 200);
	assert_string_equal(r.ctype, "application/json");
	/* Byte for byte: scope order, nothing else. */
	assert_string_equal(r.body, "{\"parent.family_name\":\"Ngata\","
	    "\"child.birth_place\":\"Wellington\","
	    "\"child.given_names\":\"Aroha Mere\"}");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(no_consent_is_denied_by_the_broker_with_its_reason)
{
	static const char *const fields[] = { "child.given_names" };
	struct consent_transfer t = { SMARTSTART, "bob-test", PURPOSE, fields,
	    1 };
	char *tok = NULL;

	assert_int_equal(consent_client_token(e->ird, &t, &tok, NULL),
	    CONSENT_E_DENIED);
	assert_null(tok);
	assert_contains(consent_client_detail(e->ird), "HTTP 403");
	assert_contains(consent_client_detail(e->ird), "access_denied");
	assert_contains(consent_client_detail(e->ird),
	    "no consent of subject 'bob-test'");
}

E2E_TEST(token_with_another_partys_certificate_is_401_binding_and_not_spent)
{
	static const char *const fields[] = { "child.birth_date",
	    "child.birth_place" };
	struct consent_transfer t = { SMARTSTART, "alice-test", PURPOSE, fields,
	    2 };
	char *tok = NULL;
	struct it_resp r;

	consent_client_forget(e->ird);
	if (consent_client_token(e->ird, &t, &tok, NULL) != CONSENT_OK)
		fail_msg("token: %s", consent_client_detail(e->ird));
	/* wcc stole it: plain libcurl with wcc's certificate. */
	provider_get(e, "wcc", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "binding");
	assert_contains(it_jstr(r.json, "detail"), e->ird_x5t);
	it_resp_free(&r);
	/* A refused token is not remembered: its holder can still use it. */
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "child.birth_place"), "Wellington");
	it_resp_free(&r);
	consent_free(tok);
}

E2E_TEST(same_token_twice_is_401_replayed)
{
	static const char *const fields[] = { "parent.given_names" };
	struct consent_transfer t = { SMARTSTART, "alice-test", PURPOSE, fields,
	    1 };
	char url[256], *tok = NULL, *body = NULL;
	size_t len = 0;
	long status = 0;
	json_t *j;

	consent_client_forget(e->ird);
	if (consent_client_token(e->ird, &t, &tok, NULL) != CONSENT_OK)
		fail_msg("token: %s", consent_client_detail(e->ird));
	it_fmt(url, sizeof(url), "%s/v1/records/alice-test", e->dv.base);
	assert_int_equal(consent_client_get(e->ird, url, tok, &status, &body,
	    &len), CONSENT_OK);
	assert_int_equal(status, 200);
	consent_free(body);
	body = NULL;
	assert_int_equal(consent_client_get(e->ird, url, tok, &status, &body,
	    &len), CONSENT_OK);
	assert_int_equal(status, 401);
	j = json_loadb(body, len, 0, NULL);
	assert_non_null(j);
	assert_string_equal(it_jstr(j, "error"), "replayed");
	json_decref(j);
	consent_free(body);
	consent_free(tok);
}

/* ---- forged and broken tokens ------------------------------------------- */

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

E2E_TEST(token_signed_with_the_broker_key_and_valid_claims_is_accepted)
{
	/* The control for the tests below: what they change is what fails. */
	char *tok = forge(e, claims_for(e, "alice-test", two_fields));
	struct it_resp r;

	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_status(&r, 200);
	assert_int_equal(json_object_size(r.json), 2);
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(expired_token_is_401_expired)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	json_int_t now = (json_int_t)time(NULL);
	struct it_resp r;
	char *tok, h[128];

	/* Well past the provider's 30 s leeway. */
	json_object_set_new(c, "iat", json_integer(now - 900));
	json_object_set_new(c, "nbf", json_integer(now - 900));
	json_object_set_new(c, "exp", json_integer(now - 600));
	tok = forge(e, c);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "expired");
	assert_contains(it_jstr(r.json, "detail"), "exp");
	assert_non_null(it_resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
	assert_contains(h, "invalid_token");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(token_not_yet_valid_is_401_not_yet_valid)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	json_int_t now = (json_int_t)time(NULL);
	struct it_resp r;
	char *tok;

	json_object_set_new(c, "nbf", json_integer(now + 600));
	json_object_set_new(c, "exp", json_integer(now + 900));
	tok = forge(e, c);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "not_yet_valid");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(changed_payload_is_401_bad_signature)
{
	static const char *const all[] = { "child.given_names",
	    "child.family_name", "child.birth_date", "child.sex",
	    "child.birth_place", "parent.given_names", "parent.family_name",
	    NULL };
	char *tok = forge(e, claims_for(e, "alice-test", two_fields));
	char *hdr = token_part(tok, 0), *sig = token_part(tok, 2), *bad, *p;
	json_t *c = it_jwt_part(tok, 1), *wider;
	struct it_resp r;
	size_t n;

	/* The holder widens its own scope and keeps the signature. */
	assert_non_null(c);
	wider = claims_for(e, "alice-test", all);
	json_object_set(c, "authorization_details",
	    json_object_get(wider, "authorization_details"));
	json_decref(wider);
	p = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	assert_non_null(p);
	{
		char *pb = b64url_encode_alloc((const unsigned char *)p,
		    strlen(p));

		assert_non_null(pb);
		n = strlen(hdr) + strlen(pb) + strlen(sig) + 3;
		bad = malloc(n);
		assert_non_null(bad);
		snprintf(bad, n, "%s.%s.%s", hdr, pb, sig);
		free(pb);
	}
	provider_get(e, "ird", bad, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "bad_signature");
	it_resp_free(&r);
	free(p);
	free(bad);
	free(hdr);
	free(sig);
	free(tok);
}

E2E_TEST(stripped_signature_is_401_bad_signature_and_no_third_part_malformed)
{
	char *tok = forge(e, claims_for(e, "alice-test", two_fields));
	char *last = strrchr(tok, '.');
	struct it_resp r;

	assert_non_null(last);
	last[1] = '\0';   /* "header.payload." : an empty signature */
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "bad_signature");
	it_resp_free(&r);
	last[0] = '\0';   /* "header.payload" : not a compact JWS */
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "malformed");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(alg_none_is_401_bad_alg)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	char hdr[256], *payload = json_dumps(c, JSON_COMPACT), *tok;
	struct it_resp r;

	json_decref(c);
	assert_non_null(payload);
	it_fmt(hdr, sizeof(hdr), "{\"alg\":\"none\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", e->kid);
	tok = compact(hdr, payload, "");
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "bad_alg");
	assert_contains(it_jstr(r.json, "detail"), "none");
	it_resp_free(&r);
	free(tok);
	free(payload);
}

E2E_TEST(hs256_keyed_with_the_public_key_pem_is_401_bad_alg)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	char hdr[256], *payload = json_dumps(c, JSON_COMPACT), *unsigned_tok,
	    *tok, sig[64], *pem;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct it_resp r;
	BIO *b = BIO_new(BIO_s_mem());
	long pemlen;
	size_t n;

	json_decref(c);
	assert_non_null(payload);
	assert_non_null(b);
	/* The classic confusion: a verifier that trusts alg would take the
	 * public key, which anyone has, as the HMAC secret. */
	assert_int_equal(PEM_write_bio_PUBKEY(b, e->skey), 1);
	pemlen = BIO_get_mem_data(b, &pem);
	assert_true(pemlen > 0);
	it_fmt(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", e->kid);
	unsigned_tok = compact(hdr, payload, "");
	n = strlen(unsigned_tok) - 1;   /* the signing input, no last dot */
	assert_non_null(HMAC(EVP_sha256(), pem, (int)pemlen,
	    (const unsigned char *)unsigned_tok, n, mac, &maclen));
	b64url_encode(mac, maclen, sig);
	tok = malloc(n + 1 + strlen(sig) + 1);
	assert_non_null(tok);
	memcpy(tok, unsigned_tok, n);
	snprintf(tok + n, strlen(sig) + 2, ".%s", sig);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "bad_alg");
	assert_contains(it_jstr(r.json, "detail"), "HS256");
	it_resp_free(&r);
	BIO_free(b);
	free(tok);
	free(unsigned_tok);
	free(payload);
}

E2E_TEST(unknown_kid_is_401_unknown_key)
{
	EVP_PKEY *mine = pki_gen_p256();
	json_t *c = claims_for(e, "alice-test", two_fields);
	struct it_resp r;
	char *tok;

	assert_non_null(mine);
	tok = sign_claims(mine, "someone-elses-key", "at+jwt", c);
	json_decref(c);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "unknown_key");
	assert_contains(it_jstr(r.json, "detail"), "someone-elses-key");
	it_resp_free(&r);
	free(tok);
	EVP_PKEY_free(mine);
}

E2E_TEST(wrong_issuer_is_401_wrong_issuer)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	struct it_resp r;
	char *tok;

	json_object_set_new(c, "iss", json_string("https://broker.example"));
	tok = forge(e, c);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "wrong_issuer");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(token_for_another_provider_is_403_wrong_audience)
{
	json_t *c = claims_for(e, "alice-test", two_fields);
	struct it_resp r;
	char *tok;

	json_object_set_new(c, "aud", json_string("msd"));
	tok = forge(e, c);
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 403, "wrong_audience");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(token_about_another_subject_is_403_subject_mismatch)
{
	char *tok = forge(e, claims_for(e, "bob-test", two_fields));
	struct it_resp r;

	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 403, "subject_mismatch");
	assert_string_equal(it_jstr(r.json, "detail"),
	    "token is about another subject");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(none_of_the_requested_fields_in_scope_is_403_field_scope)
{
	static const char *const sex[] = { "child.sex", NULL };
	char *tok = forge(e, claims_for(e, "alice-test", sex));
	struct it_resp r;

	provider_get(e, "ird", tok,
	    "/v1/records/alice-test?fields=child.given_names,child.birth_date",
	    &r);
	assert_refused(&r, 403, "field_scope");
	assert_string_equal(it_jstr(r.json, "title"),
	    consent_strerror(CONSENT_E_FIELD_SCOPE));
	assert_contains(it_jstr(r.json, "detail"), "child.sex");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(unknown_subject_with_a_valid_token_is_404)
{
	char *tok = forge(e, claims_for(e, "nobody-test", two_fields));
	struct it_resp r;

	provider_get(e, "ird", tok, "/v1/records/nobody-test", &r);
	assert_refused(&r, 404, "unknown_subject");
	it_resp_free(&r);
	free(tok);
}

E2E_TEST(missing_authorization_is_401_with_www_authenticate_bearer)
{
	struct it_resp r;
	char h[128];

	provider_get(e, "ird", NULL, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "missing_token");
	assert_non_null(it_resp_header(&r, "WWW-Authenticate", h, sizeof(h)));
	assert_true(strncmp(h, "Bearer", 6) == 0);
	it_resp_free(&r);
}

E2E_TEST(no_client_certificate_or_one_from_another_ca_is_401)
{
	char *tok = forge(e, claims_for(e, "alice-test", two_fields));
	EVP_PKEY *cak = pki_gen_p256(), *k = pki_gen_p256();
	X509 *ca = NULL, *c = NULL;
	char crt[PATH_MAX], key[PATH_MAX];
	struct it_req q = { .path = "/v1/records/alice-test", .bearer = tok };
	struct it_resp r;

	provider_get(e, NULL, tok, "/v1/records/alice-test", &r);
	assert_refused(&r, 401, "client_certificate");
	it_resp_free(&r);
	assert_non_null(cak);
	assert_non_null(k);
	ca = pki_make_ca(cak, "some other CA", 30);
	assert_non_null(ca);
	c = pki_make_cert(ca, cak, k, "ird", 0, NULL, NULL, 30);
	assert_non_null(c);
	it_fmt(crt, sizeof(crt), "%s/other-ca-ird.crt", e->s->dir);
	it_fmt(key, sizeof(key), "%s/other-ca-ird.key", e->s->dir);
	assert_int_equal(pki_write_cert(crt, c), 0);
	assert_int_equal(pki_write_key(key, k), 0);
	q.cert = crt;
	q.key = key;
	it_request(&e->dv, &q, &r);
	assert_refused(&r, 401, "client_certificate");
	it_resp_free(&r);
	/* Neither refusal spent the token. */
	provider_get(e, "ird", tok, "/v1/records/alice-test", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	X509_free(ca);
	X509_free(c);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	free(tok);
}

/* ---- interoperability --------------------------------------------------- */

/*
 * libjwt 1.10 (Debian's) signs ES256 as RFC 7518 asks (raw r||s,
 * base64url), but always writes typ "JWT" (a typ set with jwt_add_header
 * is overwritten) and its jwt_decode refuses any typ but "JWT". Our
 * tokens are RFC 9068 access tokens, typ "at+jwt", so:
 * - a libjwt-made token fails consent_verify_peek with BAD_ALG (the typ),
 *   though its signature verifies with our jws_verify_es256;
 * - the same claims signed by jws_sign_es256 with typ at+jwt pass the
 *   whole claims path, in-process and at the provider.
 */
E2E_TEST(libjwt_token_is_refused_for_its_typ_though_its_signature_is_ours)
{
	struct consent_claims cl;
	struct jws_parsed p;
	struct it_resp r;
	char why[256], *pem, *tok, *ours, *grants;
	json_t *c = claims_for(e, "alice-test", two_fields), *more, *hdr,
	    *payload;
	jwt_t *j = NULL;
	size_t pemlen;

	pem = slurp(e->key_pem_path, 0, &pemlen);
	assert_non_null(pem);
	assert_int_equal(jwt_new(&j), 0);
	assert_int_equal(jwt_add_grant(j, "iss", it_jstr(c, "iss")), 0);
	assert_int_equal(jwt_add_grant(j, "sub", it_jstr(c, "sub")), 0);
	assert_int_equal(jwt_add_grant(j, "aud", "dia"), 0);
	assert_int_equal(jwt_add_grant(j, "client_id", "ird"), 0);
	assert_int_equal(jwt_add_grant(j, "jti", it_jstr(c, "jti")), 0);
	assert_int_equal(jwt_add_grant_int(j, "iat", (long)it_jint(c, "iat")), 0);
	assert_int_equal(jwt_add_grant_int(j, "nbf", (long)it_jint(c, "nbf")), 0);
	assert_int_equal(jwt_add_grant_int(j, "exp", (long)it_jint(c, "exp")), 0);
	more = json_pack("{s:O, s:O}", "authorization_details",
	    json_object_get(c, "authorization_details"), "cnf",
	    json_object_get(c, "cnf"));
	grants = json_dumps(more, JSON_COMPACT);
	json_decref(more);
	assert_non_null(grants);
	assert_int_equal(jwt_add_grants_json(j, grants), 0);
	free(grants);
	assert_int_equal(jwt_add_header(j, "kid", e->kid), 0);
	assert_int_equal(jwt_add_header(j, "typ", "at+jwt"), 0);
	assert_int_equal(jwt_set_alg(j, JWT_ALG_ES256,
	    (const unsigned char *)pem, (int)pemlen), 0);
	tok = jwt_encode_str(j);
	jwt_free(j);
	assert_non_null(tok);
	hdr = it_jwt_part(tok, 0);
	assert_non_null(hdr);
	assert_string_equal(it_jstr(hdr, "alg"), "ES256");
	assert_string_equal(it_jstr(hdr, "kid"), e->kid);
	assert_string_equal(it_jstr(hdr, "typ"), "JWT");   /* not ours */
	json_decref(hdr);
	/* Refused before the signature, for the typ. */
	assert_int_equal(consent_verify_peek(e->v, tok, e->ird_der,
	    (size_t)e->ird_der_len, NULL, 0, NULL), CONSENT_E_BAD_ALG);
	assert_contains(consent_verifier_detail(e->v), "typ");
	/* Yet libjwt's signature is what our ES256 code verifies. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(jws_parse(tok, strlen(tok), &p, why, sizeof(why)),
	    JWS_OK);
	assert_int_equal(p.sig_len, 64);
	assert_int_equal(jws_verify_es256(e->skey, &p), JWS_OK);
	jws_parsed_free(&p);
	/* libjwt's claims, signed by us with typ at+jwt: the full path. */
	payload = it_jwt_part(tok, 1);
	assert_non_null(payload);
	ours = sign_claims(e->skey, e->kid, "at+jwt", payload);
	json_decref(payload);
	memset(&cl, 0, sizeof(cl));
	assert_int_equal(consent_verify_peek(e->v, ours, e->ird_der,
	    (size_t)e->ird_der_len, two_fields, 2, &cl), CONSENT_OK);
	assert_string_equal(cl.subject, "alice-test");
	assert_string_equal(cl.client_id, "ird");
	assert_string_equal(cl.provider, "dia");
	assert_string_equal(cl.agreement, SMARTSTART);
	assert_int_equal(cl.nfields, 2);
	assert_string_equal(cl.fields[0], "child.given_names");
	assert_null(cl.consent_id);
	consent_claims_free(&cl);
	provider_get(e, "ird", ours, "/v1/records/alice-test", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "child.given_names"), "Aroha Mere");
	it_resp_free(&r);
	free(ours);
	free(tok);
	free(pem);
	json_decref(c);
}

/* A python3 that has PyJWT (Debian python3-jwt) into out, or -1. */
static int
find_pyjwt(char *out, size_t outlen)
{
	static const char *const cands[] = { "/usr/bin/python3",
	    "/usr/local/bin/python3", NULL };
	int i, fd, saved;
	char *o = NULL;

	for (i = 0; cands[i] != NULL; i++) {
		char *argv[] = { (char *)(uintptr_t)cands[i],
		    (char *)(uintptr_t)"-c",
		    (char *)(uintptr_t)"import jwt; print(jwt.__version__)", NULL };

		if (access(cands[i], X_OK) != 0)
			continue;
		/* Quiet: a python without jwt is not an error here. */
		saved = dup(2);
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		if (it_run_capture(argv, &o, IT_CMD_TIMEOUT_MS) == 0) {
			if (saved >= 0) {
				dup2(saved, 2);
				close(saved);
			}
			free(o);
			snprintf(out, outlen, "%s", cands[i]);
			return 0;
		}
		if (saved >= 0) {
			dup2(saved, 2);
			close(saved);
		}
	}
	return -1;
}

/*
 * PyJWT verifies the broker's token with the key from the broker's JWKS
 * (signature, exp/nbf/iat, aud "dia", iss) and refuses it once its
 * payload is changed. libjwt 1.10 refuses it for its typ (at+jwt, see
 * above) but verifies the same claims signed by us with typ "JWT".
 */
static const char pyjwt_script[] =
    "import json, sys, jwt\n"
    "from jwt.algorithms import ECAlgorithm\n"
    "jwks = json.load(open(sys.argv[1]))\n"
    "tok = open(sys.argv[2]).read().strip()\n"
    "h = jwt.get_unverified_header(tok)\n"
    "k = [k for k in jwks['keys'] if k['kid'] == h['kid']][0]\n"
    "key = ECAlgorithm.from_jwk(json.dumps(k))\n"
    "c = jwt.decode(tok, key=key, algorithms=['ES256'], audience='dia',\n"
    "    issuer=sys.argv[3])\n"
    "p = tok.split('.')\n"
    "body = json.loads(jwt.utils.base64url_decode(p[1]))\n"
    "body['sub'] = 'mallory'\n"
    "p[1] = jwt.utils.base64url_encode(json.dumps(body).encode()).decode()\n"
    "try:\n"
    "    jwt.decode('.'.join(p), key=key, algorithms=['ES256'],\n"
    "        audience='dia', issuer=sys.argv[3])\n"
    "    tampered = 'accepted'\n"
    "except jwt.InvalidSignatureError:\n"
    "    tampered = 'InvalidSignatureError'\n"
    "try:\n"
    "    jwt.decode(tok, key=key, algorithms=['ES256'], audience='msd',\n"
    "        issuer=sys.argv[3])\n"
    "    other_aud = 'accepted'\n"
    "except jwt.InvalidAudienceError:\n"
    "    other_aud = 'InvalidAudienceError'\n"
    "print(json.dumps({'claims': c, 'typ': h.get('typ'),\n"
    "    'tampered': tampered, 'other_aud': other_aud,\n"
    "    'version': jwt.__version__}))\n";

E2E_TEST(broker_token_verifies_with_pyjwt_and_libjwt_refuses_only_its_typ)
{
	static const char *const fields[] = { "child.given_names",
	    "child.birth_date" };
	struct consent_transfer t = { SMARTSTART, "carol-test", PURPOSE, fields,
	    2 };
	char py[PATH_MAX], jwks_path[PATH_MAX], tok_path[PATH_MAX], *tok = NULL,
	    *out = NULL, *pub = NULL, *as_jwt;
	json_t *res, *c, *payload;
	struct it_resp r;
	jwt_t *j = NULL;
	BIO *b;
	long publen;

	consent_client_forget(e->ird);
	if (consent_client_token(e->ird, &t, &tok, NULL) != CONSENT_OK)
		fail_msg("token: %s", consent_client_detail(e->ird));
	/* libjwt: the broker's public key as PEM. */
	b = BIO_new(BIO_s_mem());
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, e->skey), 1);
	publen = BIO_get_mem_data(b, &pub);
	assert_int_equal(jwt_decode(&j, tok, (const unsigned char *)pub,
	    (int)publen), EINVAL);
	jwt_free(j);
	j = NULL;
	payload = it_jwt_part(tok, 1);
	assert_non_null(payload);
	as_jwt = sign_claims(e->skey, e->kid, "JWT", payload);
	json_decref(payload);
	assert_int_equal(jwt_decode(&j, as_jwt, (const unsigned char *)pub,
	    (int)publen), 0);
	assert_string_equal(jwt_get_grant(j, "sub"), "carol-test");
	assert_string_equal(jwt_get_grant(j, "aud"), "dia");
	jwt_free(j);
	free(as_jwt);
	BIO_free(b);
	/* PyJWT, with the key as published in the JWKS. */
	if (find_pyjwt(py, sizeof(py)) != 0) {
		consent_free(tok);
		fprintf(stderr, "test_e2e: no python3 with PyJWT (Debian "
		    "python3-jwt; scripts/deps.sh installs it): skipped\n");
		skip();
	}
	it_get(e->s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	it_fmt(jwks_path, sizeof(jwks_path), "%s/jwks.json", e->s->dir);
	it_fmt(tok_path, sizeof(tok_path), "%s/broker-token.txt", e->s->dir);
	write_file(jwks_path, r.body);
	write_file(tok_path, tok);
	it_resp_free(&r);
	{
		char *argv[] = { py, (char *)(uintptr_t)"-c",
		    (char *)(uintptr_t)pyjwt_script, jwks_path, tok_path,
		    e->issuer, NULL };

		if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0)
			fail_msg("PyJWT did not verify the broker's token");
	}
	res = json_loads(out, 0, NULL);
	assert_non_null(res);
	c = json_object_get(res, "claims");
	assert_string_equal(it_jstr(res, "typ"), "at+jwt");
	assert_string_equal(it_jstr(c, "sub"), "carol-test");
	assert_string_equal(it_jstr(c, "aud"), "dia");
	assert_string_equal(it_jstr(c, "iss"), e->issuer);
	assert_string_equal(it_jstr(c, "client_id"), "ird");
	assert_string_equal(it_jstr(json_object_get(c, "cnf"), "x5t#S256"),
	    e->ird_x5t);
	assert_string_equal(it_jstr(res, "tampered"), "InvalidSignatureError");
	assert_string_equal(it_jstr(res, "other_aud"), "InvalidAudienceError");
	json_decref(res);
	free(out);
	remove(tok_path);
	consent_free(tok);
}

/* ---- shutdown ----------------------------------------------------------- */

E2E_TEST(demo_provider_exits_0_on_sigterm)
{
	char *log;

	assert_true(e->pid > 0);
	assert_int_equal(stop_demo(e), 0);
	log = slurp(e->log, 0, NULL);
	assert_non_null(log);
	assert_contains(log, "{\"event\":\"shutdown\",\"signal\":\"SIGTERM\"}");
	free(log);
}

static void
broker_exits_0_on_sigterm(void **state)
{
	struct e2e *e = *state;

	assert_non_null(e);
	assert_true(e->s->pid > 0);
	assert_int_equal(it_server_stop(e->s), 0);
	it_assert_no_sanitizer_reports();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    provider_healthz_answers_200_without_a_client_certificate),
		cmocka_unit_test(
		    ird_fetches_exactly_the_requested_fields_with_a_broker_token),
		cmocka_unit_test(field_outside_the_token_scope_is_not_released),
		cmocka_unit_test(
		    without_fields_the_whole_scope_is_released_in_scope_order),
		cmocka_unit_test(no_consent_is_denied_by_the_broker_with_its_reason),
		cmocka_unit_test(
		    token_with_another_partys_certificate_is_401_binding_and_not_spent),
		cmocka_unit_test(same_token_twice_is_401_replayed),
		cmocka_unit_test(
		    token_signed_with_the_broker_key_and_valid_claims_is_accepted),
		cmocka_unit_test(expired_token_is_401_expired),
		cmocka_unit_test(token_not_yet_valid_is_401_not_yet_valid),
		cmocka_unit_test(changed_payload_is_401_bad_signature),
		cmocka_unit_test(
		    stripped_signature_is_401_bad_signature_and_no_third_part_malformed),
		cmocka_unit_test(alg_none_is_401_bad_alg),
		cmocka_unit_test(hs256_keyed_with_the_public_key_pem_is_401_bad_alg),
		cmocka_unit_test(unknown_kid_is_401_unknown_key),
		cmocka_unit_test(wrong_issuer_is_401_wrong_issuer),
		cmocka_unit_test(token_for_another_provider_is_403_wrong_audience),
		cmocka_unit_test(token_about_another_subject_is_403_subject_mismatch),
		cmocka_unit_test(
		    none_of_the_requested_fields_in_scope_is_403_field_scope),
		cmocka_unit_test(unknown_subject_with_a_valid_token_is_404),
		cmocka_unit_test(
		    missing_authorization_is_401_with_www_authenticate_bearer),
		cmocka_unit_test(
		    no_client_certificate_or_one_from_another_ca_is_401),
		cmocka_unit_test(
		    libjwt_token_is_refused_for_its_typ_though_its_signature_is_ours),
		cmocka_unit_test(
		    broker_token_verifies_with_pyjwt_and_libjwt_refuses_only_its_typ),
		cmocka_unit_test(demo_provider_exits_0_on_sigterm),
		cmocka_unit_test(broker_exits_0_on_sigterm),
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/e2e", tests,
	    e2e_setup, e2e_teardown));
}
