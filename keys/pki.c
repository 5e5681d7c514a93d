/* Key generation, X.509 CA and leaf certificates, and PEM files for keys and certificates. */
#include "pki.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "fsu.h"

/* Bounds on what we put in certificates. */
#define PKI_MAX_DAYS 36500      /* 100 years */
#define PKI_MAX_CN 64           /* ub-common-name, RFC 5280 appendix A */
#define PKI_MAX_DNS 253         /* RFC 1035 */
#define PKI_SERIAL_BITS 128
/* Largest PEM file we read (a key or a certificate, not a bundle). */
#define PKI_MAX_PEM 65536

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* err gets "msg: <OpenSSL's last error>", and the queue is cleared. */
static void
set_ossl_err(char *err, size_t errlen, const char *msg)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (err != NULL && errlen > 0) {
		if (e != 0) {
			ERR_error_string_n(e, buf, sizeof(buf));
			snprintf(err, errlen, "%s: %s", msg, buf);
		} else {
			snprintf(err, errlen, "%s", msg);
		}
	}
	ERR_clear_error();
}

EVP_PKEY *
pki_gen_p256(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		ERR_clear_error();
	return k;
}

EVP_PKEY *
pki_gen_ed25519(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (k == NULL)
		ERR_clear_error();
	return k;
}

/* Sets a random positive serial of PKI_SERIAL_BITS bits (RFC 5280 4.1.2.2). */
static int
set_serial(X509 *x)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	int ret = -1;

	if ((bn = BN_new()) == NULL)
		goto out;
	do {
		if (BN_rand(bn, PKI_SERIAL_BITS, BN_RAND_TOP_ANY,
		    BN_RAND_BOTTOM_ANY) != 1)
			goto out;
	} while (BN_is_zero(bn));
	if ((ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, ai) != 1)
		goto out;
	ret = 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ret;
}

/* Adds one extension from its OpenSSL config text; 0 or -1. */
static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

/*
 * A new v3 certificate for key with subject CN=cn, validity from an hour
 * ago for days days, and a random serial; the caller sets the issuer.
 */
static X509 *
new_cert(EVP_PKEY *key, const char *cn, int days)
{
	X509 *x = NULL, *ret = NULL;
	X509_NAME *name;
	size_t cnlen;

	if (key == NULL || cn == NULL || days < 1 || days > PKI_MAX_DAYS)
		goto out;
	cnlen = strlen(cn);
	if (cnlen == 0 || cnlen > PKI_MAX_CN)
		goto out;
	if ((x = X509_new()) == NULL || X509_set_version(x, X509_VERSION_3) != 1 ||
	    set_serial(x) != 0)
		goto out;
	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, NULL) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
		goto out;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, (int)cnlen, -1, 0) != 1)
		goto out;
	if (X509_set_pubkey(x, key) != 1)
		goto out;
	ret = x;
	x = NULL;
out:
	X509_free(x);
	return ret;
}

X509 *
pki_make_ca(EVP_PKEY *key, const char *cn, int days)
{
	X509V3_CTX ctx;
	X509 *x = NULL, *ret = NULL;

	if ((x = new_cert(key, cn, days)) == NULL)
		goto out;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1)
		goto out;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	ret = x;
	x = NULL;
out:
	if (ret == NULL)
		ERR_clear_error();
	X509_free(x);
	return ret;
}

/* Letters, digits, '-', '.', and a leading "*." wildcard label. */
static int
dns_name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PKI_MAX_DNS)
		return 0;
	if (n > 2 && s[0] == '*' && s[1] == '.')
		i = 2;
	else
		i = 0;
	for (; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

/*
 * subjectAltName built from GENERAL_NAMEs, not from config text, so a
 * name cannot smuggle in ",IP:..." or "email:...".
 */
static int
add_san(X509 *x, const char *const *dns, const char *const *ips)
{
	GENERAL_NAMES *names = NULL;
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;
	ASN1_OCTET_STRING *ip = NULL;
	size_t i;
	int ret = -1;

	if ((names = sk_GENERAL_NAME_new_null()) == NULL)
		goto out;
	for (i = 0; dns != NULL && dns[i] != NULL; i++) {
		if (!dns_name_ok(dns[i]))
			goto out;
		if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
		    ASN1_STRING_set(ia5, dns[i], (int)strlen(dns[i])) != 1 ||
		    (gn = GENERAL_NAME_new()) == NULL)
			goto out;
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		ia5 = NULL;
		if (sk_GENERAL_NAME_push(names, gn) <= 0)
			goto out;
		gn = NULL;
	}
	for (i = 0; ips != NULL && ips[i] != NULL; i++) {
		/* a2i_IPADDRESS takes IPv4 and IPv6 text, nothing else. */
		if ((ip = a2i_IPADDRESS(ips[i])) == NULL ||
		    (gn = GENERAL_NAME_new()) == NULL)
			goto out;
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		ip = NULL;
		if (sk_GENERAL_NAME_push(names, gn) <= 0)
			goto out;
		gn = NULL;
	}
	if (sk_GENERAL_NAME_num(names) == 0)
		goto out;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
	    X509V3_ADD_DEFAULT) != 1)
		goto out;
	ret = 0;
out:
	ASN1_IA5STRING_free(ia5);
	ASN1_OCTET_STRING_free(ip);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ret;
}

/*
 * A server certificate needs at least one subjectAltName: TLS clients
 * match host names against SANs only (RFC 6125), so it would be useless.
 */
X509 *
pki_make_cert(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *cn,
    int server, const char *const *dns, const char *const *ips, int days)
{
	X509V3_CTX ctx;
	X509 *x = NULL, *ret = NULL;

	if (ca == NULL || ca_key == NULL || X509_check_private_key(ca, ca_key) != 1)
		goto out;
	if ((x = new_cert(key, cn, days)) == NULL)
		goto out;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1)
		goto out;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage,
	    server ? "serverAuth" : "clientAuth") != 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0)
		goto out;
	if (server && add_san(x, dns, ips) != 0)
		goto out;
	if (X509_sign(x, ca_key, EVP_sha256()) <= 0)
		goto out;
	ret = x;
	x = NULL;
out:
	if (ret == NULL)
		ERR_clear_error();
	X509_free(x);
	return ret;
}

/* The contents of a memory BIO as a file; wipe says the data is secret. */
static int
write_bio(const char *path, BIO *bio, mode_t mode, int wipe)
{
	BUF_MEM *mem = NULL;
	int ret, saved;

	BIO_get_mem_ptr(bio, &mem);
	if (mem == NULL) {
		errno = EIO;
		return -1;
	}
	ret = fsu_write_file(path, mem->data, mem->length, mode, 1);
	saved = errno;
	if (wipe)
		OPENSSL_cleanse(mem->data, mem->length);
	errno = saved;
	return ret;
}

int
pki_write_key(const char *path, EVP_PKEY *key)
{
	BIO *bio = NULL;
	int ret = -1, saved;

	if (key == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		ERR_clear_error();
		errno = EIO;
		goto out;
	}
	ret = write_bio(path, bio, 0600, 1);
out:
	saved = errno;
	BIO_free(bio);
	errno = saved;
	return ret;
}

int
pki_write_cert(const char *path, X509 *cert)
{
	BIO *bio = NULL;
	int ret = -1, saved;

	if (cert == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, cert) != 1) {
		ERR_clear_error();
		errno = EIO;
		goto out;
	}
	ret = write_bio(path, bio, 0644, 0);
out:
	saved = errno;
	BIO_free(bio);
	errno = saved;
	return ret;
}

/* Refuses encrypted keys instead of prompting on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Reads path (at most PKI_MAX_PEM bytes) into a read-only memory BIO. */
static BIO *
read_pem(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	BIO *bio;

	if (fsu_read_file(path, PKI_MAX_PEM, data, len) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((bio = BIO_new_mem_buf(*data, (int)*len)) == NULL)
		set_err(err, errlen, "out of memory");
	return bio;
}

EVP_PKEY *
pki_load_key(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	char *data = NULL;
	size_t len = 0;
	BIO *bio;
	char msg[512];

	if ((bio = read_pem(path, &data, &len, err, errlen)) == NULL)
		goto out;
	if ((key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL)) == NULL) {
		snprintf(msg, sizeof(msg), "%s: not a PEM private key", path);
		set_ossl_err(err, errlen, msg);
	}
out:
	BIO_free(bio);
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	return key;
}

X509 *
pki_load_cert(const char *path, char *err, size_t errlen)
{
	X509 *cert = NULL;
	char *data = NULL;
	size_t len = 0;
	BIO *bio;
	char msg[512];

	if ((bio = read_pem(path, &data, &len, err, errlen)) == NULL)
		goto out;
	if ((cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL) {
		snprintf(msg, sizeof(msg), "%s: not a PEM certificate", path);
		set_ossl_err(err, errlen, msg);
	}
out:
	BIO_free(bio);
	free(data);
	return cert;
}
