/* Unit tests for keys/pki (certificates, key files) and common/fsu (file helpers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fsu.h"
#include "pki.h"

struct fixture {
	char dir[256];      /* a fresh temporary directory per test */
	EVP_PKEY *ca_key;
	X509 *ca;
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
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	if (snprintf(f->dir, sizeof(f->dir), "%s/cb-pki-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(f->dir))
		return -1;
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if ((f->ca_key = pki_gen_p256()) == NULL ||
	    (f->ca = pki_make_ca(f->ca_key, "Consent Broker Test CA", 30)) ==
	    NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	X509_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	free(f);
	return 0;
}

static void
path_in(const struct fixture *f, const char *name, char *out, size_t outlen)
{
	assert_int_equal(fsu_join(out, outlen, f->dir, name), 0);
}

static const char *const server_dns[] = { "localhost", "broker.test", NULL };
static const char *const server_ips[] = { "127.0.0.1", "::1", NULL };

static X509 *
server_cert(const struct fixture *f, EVP_PKEY *key)
{
	X509 *x = pki_make_cert(f->ca, f->ca_key, key, "broker.test", 1,
	    server_dns, server_ips, 30);

	assert_non_null(x);
	return x;
}

static X509 *
client_cert(const struct fixture *f, EVP_PKEY *key)
{
	X509 *x = pki_make_cert(f->ca, f->ca_key, key, "party-1", 0, NULL,
	    NULL, 30);

	assert_non_null(x);
	return x;
}

/* X509_verify_cert against a store holding only the CA; the error, or 0. */
static int
verify_with(X509 *ca, X509 *leaf, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc, err;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	if (purpose != 0)
		assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	rc = X509_verify_cert(ctx);
	err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	if (rc == 1)
		return 0;
	return err != 0 ? err : -1;
}

static int
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void
pki_ca_server_and_client_certs_verify_against_ca(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *sk = pki_gen_p256(), *ck = pki_gen_p256();
	X509 *srv, *cli;

	assert_non_null(sk);
	assert_non_null(ck);
	srv = server_cert(f, sk);
	cli = client_cert(f, ck);
	assert_int_equal(verify_with(f->ca, f->ca, 0), 0);
	assert_int_equal(verify_with(f->ca, srv, X509_PURPOSE_SSL_SERVER), 0);
	assert_int_equal(verify_with(f->ca, cli, X509_PURPOSE_SSL_CLIENT), 0);
	/* Each is good for its own purpose only. */
	assert_int_equal(verify_with(f->ca, srv, X509_PURPOSE_SSL_CLIENT),
	    X509_V_ERR_INVALID_PURPOSE);
	assert_int_equal(verify_with(f->ca, cli, X509_PURPOSE_SSL_SERVER),
	    X509_V_ERR_INVALID_PURPOSE);
	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(ck);
}

static void
pki_cert_from_another_ca_does_not_verify(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k2 = pki_gen_p256(), *ck = pki_gen_p256();
	X509 *ca2, *cli;

	ca2 = pki_make_ca(k2, "Consent Broker Test CA", 30);
	assert_non_null(ca2);
	cli = pki_make_cert(ca2, k2, ck, "party-1", 0, NULL, NULL, 30);
	assert_non_null(cli);
	/* Same subject name, other key: the signature does not check out. */
	assert_int_not_equal(verify_with(f->ca, cli, X509_PURPOSE_SSL_CLIENT),
	    0);
	X509_free(cli);
	X509_free(ca2);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(ck);
}

static void
pki_ca_has_critical_ca_constraints_key_usage_and_ski(void **state)
{
	struct fixture *f = *state;
	X509 *ca = f->ca;

	assert_int_equal(X509_get_version(ca), X509_VERSION_3);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_int_equal(ext_critical(ca, NID_basic_constraints), 1);
	assert_int_equal(ext_critical(ca, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(ca), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(ca));
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ca),
	    X509_get_issuer_name(ca)), 0);
	assert_int_equal(X509_get_signature_nid(ca), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_check_private_key(ca, f->ca_key), 1);
}

static void
pki_leaf_certs_have_eku_key_usage_and_aki(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k = pki_gen_p256();
	X509 *srv = server_cert(f, k), *cli = client_cert(f, k);
	X509 *both[2] = { srv, cli };
	size_t i;

	for (i = 0; i < 2; i++) {
		X509 *x = both[i];

		assert_int_equal(X509_get_version(x), X509_VERSION_3);
		assert_int_equal(X509_check_ca(x), 0);
		assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
		assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		assert_non_null(X509_get0_authority_key_id(x));
		assert_int_equal(ASN1_OCTET_STRING_cmp(
		    X509_get0_authority_key_id(x),
		    X509_get0_subject_key_id(f->ca)), 0);
		assert_int_equal(X509_get_signature_nid(x),
		    NID_ecdsa_with_SHA256);
		assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
		    X509_get_subject_name(f->ca)), 0);
	}
	assert_true(X509_get_extended_key_usage(srv) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(srv) & XKU_SSL_CLIENT);
	assert_true(X509_get_extended_key_usage(cli) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(cli) & XKU_SSL_SERVER);
	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(k);
}

static void
pki_server_cert_names_localhost_and_loopback_ips(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k = pki_gen_p256();
	X509 *srv = server_cert(f, k), *cli = client_cert(f, k);

	assert_int_equal(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(srv, "broker.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(srv, "::1", 0), 1);
	assert_int_equal(X509_check_host(srv, "evil.test", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.2", 0), 0);
	/* A client certificate carries no SAN. */
	assert_true(X509_get_ext_by_NID(cli, NID_subject_alt_name, -1) < 0);
	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(k);
}

static void
pki_serials_are_random_positive_and_at_most_128_bits(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k = pki_gen_p256();
	X509 *a = client_cert(f, k), *b = client_cert(f, k);
	BIGNUM *sa, *sb;

	sa = ASN1_INTEGER_to_BN(X509_get0_serialNumber(a), NULL);
	sb = ASN1_INTEGER_to_BN(X509_get0_serialNumber(b), NULL);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_false(BN_is_negative(sa));
	assert_false(BN_is_zero(sa));
	assert_true(BN_num_bits(sa) <= 128);
	/* 64 or fewer bits would happen once in 2^64 draws. */
	assert_true(BN_num_bits(sa) > 64);
	assert_int_not_equal(BN_cmp(sa, sb), 0);
	BN_free(sa);
	BN_free(sb);
	X509_free(a);
	X509_free(b);
	EVP_PKEY_free(k);
}

static void
pki_validity_starts_an_hour_back_and_lasts_days(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL), t;
	int day = 0, sec = 0;

	t = now - 3600 - 120;
	assert_true(X509_cmp_time(X509_get0_notBefore(f->ca), &t) > 0);
	t = now - 3600 + 120;
	assert_true(X509_cmp_time(X509_get0_notBefore(f->ca), &t) < 0);
	assert_int_equal(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(f->ca),
	    X509_get0_notAfter(f->ca)), 1);
	/* 30 days from now, plus the hour before. */
	assert_int_equal(day, 30);
	assert_in_range(sec, 3599, 3601); /* two time(NULL) calls */
}

static void
pki_make_cert_refuses_bad_input(void **state)
{
	static const char *const bad_dns[] = { "a.test,IP:10.0.0.1", NULL };
	static const char *const bad_dns2[] = { "", NULL };
	static const char *const bad_ip[] = { "999.0.0.1", NULL };
	static const char *const bad_ip2[] = { "localhost", NULL };
	char long_cn[80];
	struct fixture *f = *state;
	EVP_PKEY *k = pki_gen_p256(), *other = pki_gen_p256();

	memset(long_cn, 'a', sizeof(long_cn) - 1);
	long_cn[sizeof(long_cn) - 1] = '\0';
	/* A server certificate without any name is of no use. */
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "s", 1, NULL, NULL, 1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "s", 1, bad_dns, NULL,
	    1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "s", 1, bad_dns2, NULL,
	    1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "s", 1, NULL, bad_ip,
	    1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "s", 1, NULL, bad_ip2,
	    1));
	/* The CA key must be the CA certificate's. */
	assert_null(pki_make_cert(f->ca, other, k, "c", 0, NULL, NULL, 1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "c", 0, NULL, NULL, 0));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, "", 0, NULL, NULL, 1));
	assert_null(pki_make_cert(f->ca, f->ca_key, k, long_cn, 0, NULL, NULL,
	    1));
	assert_null(pki_make_ca(k, "ca", -1));
	assert_null(pki_make_ca(NULL, "ca", 1));
	assert_int_equal(ERR_peek_error(), 0);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
pki_write_key_is_pkcs8_mode_0600_and_loads_back(void **state)
{
	struct fixture *f = *state;
	char path[512], err[256], *pem = NULL;
	size_t len = 0;
	EVP_PKEY *back;
	mode_t old = umask(0);

	path_in(f, "signing.key", path, sizeof(path));
	assert_int_equal(pki_write_key(path, f->ca_key), 0);
	umask(old);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(fsu_read_file(path, 4096, &pem, &len), 0);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	free(pem);
	back = pki_load_key(path, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(EVP_PKEY_eq(back, f->ca_key), 1);
	EVP_PKEY_free(back);
	/* No temporary file is left beside it. */
	assert_int_equal(count_entries(f->dir), 1);
}

static void
pki_write_key_and_cert_refuse_to_overwrite(void **state)
{
	struct fixture *f = *state;
	char path[512], *before = NULL, *after = NULL;
	size_t blen = 0, alen = 0;
	EVP_PKEY *k = pki_gen_p256();

	path_in(f, "a.key", path, sizeof(path));
	assert_int_equal(pki_write_key(path, f->ca_key), 0);
	assert_int_equal(fsu_read_file(path, 4096, &before, &blen), 0);
	errno = 0;
	assert_int_equal(pki_write_key(path, k), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(fsu_read_file(path, 4096, &after, &alen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);

	path_in(f, "ca.pem", path, sizeof(path));
	assert_int_equal(pki_write_cert(path, f->ca), 0);
	errno = 0;
	assert_int_equal(pki_write_cert(path, f->ca), -1);
	assert_int_equal(errno, EEXIST);
	/* Neither failure leaves a temporary file. */
	assert_int_equal(count_entries(f->dir), 2);
	EVP_PKEY_free(k);
}

static void
pki_write_cert_is_mode_0644_whatever_the_umask(void **state)
{
	struct fixture *f = *state;
	char path[512], err[256];
	X509 *back;
	mode_t old = umask(077);

	path_in(f, "ca.pem", path, sizeof(path));
	assert_int_equal(pki_write_cert(path, f->ca), 0);
	umask(old);
	assert_int_equal(mode_of(path), 0644);
	back = pki_load_cert(path, err, sizeof(err));
	assert_non_null(back);
	assert_int_equal(X509_cmp(back, f->ca), 0);
	X509_free(back);
}

static void
pki_load_reports_missing_garbage_and_encrypted_files(void **state)
{
	struct fixture *f = *state;
	char path[512], err[256] = "";
	BIO *bio;
	BUF_MEM *mem = NULL;

	path_in(f, "missing.key", path, sizeof(path));
	assert_null(pki_load_key(path, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));
	assert_null(pki_load_cert(path, err, sizeof(err)));

	path_in(f, "garbage.key", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "not a key\n", 10, 0600, 1), 0);
	assert_null(pki_load_key(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a PEM private key"));
	assert_null(pki_load_cert(path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a PEM certificate"));

	/* An encrypted key is refused, not prompted for. */
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, f->ca_key,
	    EVP_aes_256_cbc(), "secret", 6, NULL, NULL), 1);
	BIO_get_mem_ptr(bio, &mem);
	path_in(f, "encrypted.key", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, mem->data, mem->length, 0600, 1),
	    0);
	BIO_free(bio);
	assert_null(pki_load_key(path, err, sizeof(err)));
	assert_int_equal(ERR_peek_error(), 0);
}

static void
pki_generates_p256_and_ed25519_keys(void **state)
{
	EVP_PKEY *ec = pki_gen_p256(), *ed = pki_gen_ed25519();

	(void)state;
	assert_non_null(ec);
	assert_non_null(ed);
	assert_true(EVP_PKEY_is_a(ec, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(ec), 256);
	assert_true(EVP_PKEY_is_a(ed, "ED25519"));
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ed);
}

static void
fsu_join_uses_exactly_one_slash(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(fsu_join(out, sizeof(out), "/a/b", "c"), 0);
	assert_string_equal(out, "/a/b/c");
	assert_int_equal(fsu_join(out, sizeof(out), "/a/b//", "/c"), 0);
	assert_string_equal(out, "/a/b/c");
	assert_int_equal(fsu_join(out, sizeof(out), "/", "c"), 0);
	assert_string_equal(out, "/c");
	assert_int_equal(fsu_join(out, sizeof(out), "", "c"), 0);
	assert_string_equal(out, "c");
	assert_int_equal(fsu_join(out, 7, "/a/b", "c"), 0);
	assert_int_equal(fsu_join(out, 6, "/a/b", "c"), -1);
}

static void
fsu_read_file_enforces_max(void **state)
{
	struct fixture *f = *state;
	char path[512], *data = NULL;
	size_t len = 0;

	path_in(f, "ten", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "0123456789", 10, 0644, 0), 0);
	assert_int_equal(fsu_read_file(path, 10, &data, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(data, "0123456789");
	free(data);
	data = NULL;
	errno = 0;
	assert_int_equal(fsu_read_file(path, 9, &data, &len), -1);
	assert_int_equal(errno, EFBIG);
	assert_null(data);
	assert_int_equal(fsu_read_file(f->dir, 100, &data, &len), -1);
	assert_int_equal(errno, EISDIR);
	/* A file without a known size (procfs) is bounded while reading. */
	assert_int_equal(fsu_read_file("/proc/self/status", 16, &data, &len),
	    -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(fsu_read_file("/proc/self/status", 1 << 20, &data,
	    &len), 0);
	assert_true(len > 16);
	assert_int_equal(strlen(data), len);
	free(data);
}

static void
fsu_write_file_replaces_atomically_unless_excl(void **state)
{
	struct fixture *f = *state;
	char path[512], *data = NULL;
	size_t len = 0;

	path_in(f, "f", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "one", 3, 0600, 1), 0);
	assert_int_equal(fsu_write_file(path, "two", 3, 0640, 0), 0);
	assert_int_equal(mode_of(path), 0640);
	assert_int_equal(fsu_read_file(path, 16, &data, &len), 0);
	assert_string_equal(data, "two");
	free(data);
	errno = 0;
	assert_int_equal(fsu_write_file(path, "three", 5, 0600, 1), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(count_entries(f->dir), 1);
	path_in(f, "missing-dir/f", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "x", 1, 0600, 0), -1);
	assert_int_equal(errno, ENOENT);
}

static void
fsu_mkdir_p_creates_parents_and_accepts_existing(void **state)
{
	struct fixture *f = *state;
	char path[512];

	path_in(f, "a/b//c/", path, sizeof(path));
	assert_int_equal(fsu_mkdir_p(path, 0700), 0);
	assert_int_equal(mode_of(path), 0700);
	assert_int_equal(fsu_mkdir_p(path, 0700), 0);
	path_in(f, "a/file", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "x", 1, 0600, 1), 0);
	path_in(f, "a/file/d", path, sizeof(path));
	errno = 0;
	assert_int_equal(fsu_mkdir_p(path, 0700), -1);
	assert_int_equal(errno, ENOTDIR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(pki_ca_server_and_client_certs_verify_against_ca),
		T(pki_cert_from_another_ca_does_not_verify),
		T(pki_ca_has_critical_ca_constraints_key_usage_and_ski),
		T(pki_leaf_certs_have_eku_key_usage_and_aki),
		T(pki_server_cert_names_localhost_and_loopback_ips),
		T(pki_serials_are_random_positive_and_at_most_128_bits),
		T(pki_validity_starts_an_hour_back_and_lasts_days),
		T(pki_make_cert_refuses_bad_input),
		T(pki_write_key_is_pkcs8_mode_0600_and_loads_back),
		T(pki_write_key_and_cert_refuse_to_overwrite),
		T(pki_write_cert_is_mode_0644_whatever_the_umask),
		T(pki_load_reports_missing_garbage_and_encrypted_files),
		T(pki_generates_p256_and_ed25519_keys),
		T(fsu_join_uses_exactly_one_slash),
		T(fsu_read_file_enforces_max),
		T(fsu_write_file_replaces_atomically_unless_excl),
		T(fsu_mkdir_p_creates_parents_and_accepts_existing),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
