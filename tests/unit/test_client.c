/* Unit tests for libconsent's requester client: construction and retries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/consent.h"
#include "fsu.h"
#include "pki.h"
#include "timeu.h"

struct fixture {
	char dir[256];
	char ca[320], cert[320], key[320], other_key[320], missing[320];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *ca_key = NULL, *key = NULL, *other = NULL;
	X509 *ca = NULL, *cert = NULL;
	int rc = -1;

	if (f == NULL)
		return -1;
	*state = f;
	if (snprintf(f->dir, sizeof(f->dir), "%s/lc-client-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(f->dir) ||
	    mkdtemp(f->dir) == NULL)
		return -1;
	if (fsu_join(f->ca, sizeof(f->ca), f->dir, "ca.pem") != 0 ||
	    fsu_join(f->cert, sizeof(f->cert), f->dir, "ird.pem") != 0 ||
	    fsu_join(f->key, sizeof(f->key), f->dir, "ird.key") != 0 ||
	    fsu_join(f->other_key, sizeof(f->other_key), f->dir,
	    "other.key") != 0 ||
	    fsu_join(f->missing, sizeof(f->missing), f->dir, "missing.pem") != 0)
		return -1;
	if ((ca_key = pki_gen_p256()) == NULL || (key = pki_gen_p256()) == NULL ||
	    (other = pki_gen_p256()) == NULL ||
	    (ca = pki_make_ca(ca_key, "Test CA", 1)) == NULL ||
	    (cert = pki_make_cert(ca, ca_key, key, "ird", 0, NULL, NULL, 1)) ==
	    NULL)
		goto out;
	if (pki_write_cert(f->ca, ca) != 0 || pki_write_cert(f->cert, cert) != 0 ||
	    pki_write_key(f->key, key) != 0 ||
	    pki_write_key(f->other_key, other) != 0)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	X509_free(ca);
	X509_free(cert);
	return rc;
}

static int
group_teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	if (f->dir[0] != '\0')
		nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct consent_client_opts
opts(const struct fixture *f)
{
	struct consent_client_opts o = { 0 };

	o.broker_url = "https://127.0.0.1:8443";
	o.cert_file = f->cert;
	o.key_file = f->key;
	o.ca_file = f->ca;
	return o;
}

static void
expect_new_fails(const struct consent_client_opts *o, consent_err want,
    const char *needle)
{
	consent_client *c = (consent_client *)&c;   /* not NULL */
	char detail[256];
	consent_err rc;

	detail[0] = '\0';
	rc = consent_client_new(o, &c, detail, sizeof(detail));
	if (rc != want)
		print_error("got %s: %s\n", consent_strerror(rc), detail);
	assert_int_equal(rc, want);
	assert_null(c);
	if (strstr(detail, needle) == NULL)
		print_error("detail \"%s\" does not name \"%s\"\n", detail,
		    needle);
	assert_non_null(strstr(detail, needle));
	consent_client_free(c);   /* safe after a failed new */
}

static void
new_accepts_matching_files(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o = opts(f);
	consent_client *c = NULL;

	assert_int_equal(consent_client_new(&o, &c, NULL, 0), CONSENT_OK);
	assert_non_null(c);
	assert_string_equal(consent_client_detail(c), "");
	consent_client_forget(c);
	consent_client_free(c);
	consent_client_free(NULL);
	consent_client_forget(NULL);
}

static void
new_requires_every_option(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o;

	o = opts(f);
	o.broker_url = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "broker_url");
	o = opts(f);
	o.cert_file = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "cert_file");
	o = opts(f);
	o.key_file = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "key_file");
	o = opts(f);
	o.ca_file = NULL;
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "ca_file");
	expect_new_fails(NULL, CONSENT_E_INVALID_ARG, "options");
}

static void
new_refuses_plain_http_broker(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o = opts(f);

	o.broker_url = "http://127.0.0.1:8443";
	expect_new_fails(&o, CONSENT_E_INVALID_ARG, "https://");
}

static void
new_fails_with_io_for_missing_files(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o;

	o = opts(f);
	o.ca_file = f->missing;
	expect_new_fails(&o, CONSENT_E_IO, "missing.pem");
	o = opts(f);
	o.cert_file = f->missing;
	expect_new_fails(&o, CONSENT_E_IO, "missing.pem");
	o = opts(f);
	o.key_file = f->missing;
	expect_new_fails(&o, CONSENT_E_IO, "missing.pem");
}

static void
new_fails_with_config_for_unusable_files(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o;

	o = opts(f);
	o.key_file = f->other_key;
	expect_new_fails(&o, CONSENT_E_CONFIG, "does not match");
	o = opts(f);
	o.cert_file = f->key;        /* a key where the certificate belongs */
	expect_new_fails(&o, CONSENT_E_CONFIG, "certificate");
	o = opts(f);
	o.key_file = f->cert;        /* a certificate where the key belongs */
	expect_new_fails(&o, CONSENT_E_CONFIG, "private key");
}

/* A loopback port with nothing listening (bound, read, closed). */
static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void
token_fails_with_network_after_retries(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o = opts(f);
	static const char *const fields[] = { "child.given_names" };
	struct consent_transfer t = { "smartstart-ird-number", "alice-test",
		"issue-ird-number", fields, 1 };
	consent_client *c = NULL;
	char url[64], *tok = (char *)url;
	int64_t t0, ms;
	int64_t exp = 42;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d", free_port());
	o.broker_url = url;
	o.connect_timeout_ms = 1000;
	o.total_timeout_ms = 2000;
	o.max_retries = 2;
	o.retry_backoff_ms = 50;
	assert_int_equal(consent_client_new(&o, &c, NULL, 0), CONSENT_OK);
	t0 = timeu_mono_us();
	assert_int_equal(consent_client_token(c, &t, &tok, &exp),
	    CONSENT_E_NETWORK);
	ms = (timeu_mono_us() - t0) / 1000;
	assert_null(tok);
	assert_int_equal(exp, 42);
	assert_non_null(strstr(consent_client_detail(c), url));
	/* two retries slept 50 + 100 ms; nothing waited for a timeout */
	assert_true(ms >= 150);
	assert_true(ms < 3000);
	consent_client_free(c);

	/* max_retries -1: one attempt, no backoff */
	o.max_retries = -1;
	o.retry_backoff_ms = 1000;
	assert_int_equal(consent_client_new(&o, &c, NULL, 0), CONSENT_OK);
	t0 = timeu_mono_us();
	assert_int_equal(consent_client_token(c, &t, &tok, NULL),
	    CONSENT_E_NETWORK);
	ms = (timeu_mono_us() - t0) / 1000;
	assert_true(ms < 1000);
	consent_client_free(c);
}

static void
token_refuses_incomplete_transfer(void **state)
{
	struct fixture *f = *state;
	struct consent_client_opts o = opts(f);
	static const char *const fields[] = { "child.given_names", NULL };
	struct consent_transfer t = { "smartstart-ird-number", "alice-test",
		"issue-ird-number", fields, 1 };
	consent_client *c = NULL;
	char *tok = NULL;
	long status;
	char *body;

	assert_int_equal(consent_client_new(&o, &c, NULL, 0), CONSENT_OK);
	assert_int_equal(consent_client_token(c, NULL, &tok, NULL),
	    CONSENT_E_INVALID_ARG);
	assert_int_equal(consent_client_token(c, &t, NULL, NULL),
	    CONSENT_E_INVALID_ARG);
	t.nfields = 0;
	assert_int_equal(consent_client_token(c, &t, &tok, NULL),
	    CONSENT_E_INVALID_ARG);
	t.nfields = 2;
	assert_int_equal(consent_client_token(c, &t, &tok, NULL),
	    CONSENT_E_INVALID_ARG);
	assert_non_null(strstr(consent_client_detail(c), "fields[1]"));
	t.nfields = 1;
	t.subject = NULL;
	assert_int_equal(consent_client_token(c, &t, &tok, NULL),
	    CONSENT_E_INVALID_ARG);
	assert_null(tok);
	assert_int_equal(consent_client_get(c, NULL, "t", &status, &body, NULL),
	    CONSENT_E_INVALID_ARG);
	assert_int_equal(consent_client_token(NULL, &t, &tok, NULL),
	    CONSENT_E_INVALID_ARG);
	consent_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_accepts_matching_files),
		cmocka_unit_test(new_requires_every_option),
		cmocka_unit_test(new_refuses_plain_http_broker),
		cmocka_unit_test(new_fails_with_io_for_missing_files),
		cmocka_unit_test(new_fails_with_config_for_unusable_files),
		cmocka_unit_test(token_fails_with_network_after_retries),
		cmocka_unit_test(token_refuses_incomplete_transfer),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
