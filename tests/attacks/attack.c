/* Attack-suite helpers: fingerprints, forged tokens and certificates, raw TLS. */
#include "attack.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "fsu.h"
#include "pki.h"

/* ---- store fingerprints ------------------------------------------------- */

uint64_t
atk_log_size(const struct it_server *s)
{
	static const char mark[] = "is beyond the log's size ";
	struct it_resp r;
	const char *d, *p;
	unsigned long long n;
	char *end;

	/* An end past any log: the refusal names the live size. */
	it_get(s, "auditor", NULL,
	    "/v1/log/entries?start=0&end=18446744073709551615", &r);
	assert_problem(&r, 400, mark);
	d = it_jstr(r.json, "detail");
	p = strstr(d, mark) + sizeof(mark) - 1;
	errno = 0;
	n = strtoull(p, &end, 10);
	if (errno != 0 || end == p)
		fail_msg("cannot read the log size from \"%s\"", d);
	it_resp_free(&r);
	return (uint64_t)n;
}

uint64_t
atk_checkpoint_size(const struct it_server *s)
{
	struct it_resp r;
	const char *nl;
	unsigned long long n;
	char *end;

	it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
	assert_status(&r, 200);
	nl = strchr(r.body, '\n');
	if (nl == NULL)
		fail_msg("checkpoint without a size line: %.200s", r.body);
	errno = 0;
	n = strtoull(nl + 1, &end, 10);
	if (errno != 0 || end == nl + 1 || *end != '\n')
		fail_msg("checkpoint size line unreadable: %.200s", r.body);
	it_resp_free(&r);
	return (uint64_t)n;
}

uint64_t
atk_settled_log_size(const struct it_server *s, long ms)
{
	int64_t end = it_now_ms() + ms;
	uint64_t live, cp;

	for (;;) {
		live = atk_log_size(s);
		cp = atk_checkpoint_size(s);
		if (cp == live)
			return live;
		if (it_now_ms() >= end)
			fail_msg("checkpoint stuck at %llu, log at %llu after %ld "
			    "ms", (unsigned long long)cp,
			    (unsigned long long)live, ms);
		it_sleep_ms(50);
	}
}

/* ---- keys, tokens, certificates ----------------------------------------- */

EVP_PKEY *
atk_load_key(const struct it_server *s, const char *rel)
{
	char p[PATH_MAX], err[256];
	EVP_PKEY *k;

	it_fmt(p, sizeof(p), "%s/%s", s->data, rel);
	k = pki_load_key(p, err, sizeof(err));
	if (k == NULL)
		fail_msg("%s: %s", p, err);
	return k;
}

EVP_PKEY *
atk_signing_key(const struct it_server *s, char kid[128])
{
	char p[PATH_MAX], rel[256], *text = NULL;
	size_t len = 0;

	it_fmt(p, sizeof(p), "%s/keys/signing/current", s->data);
	if (fsu_read_file(p, 1024, &text, &len) != 0)
		fail_msg("%s: %s", p, strerror(errno));
	len = strcspn(text, "\r\n");
	if (len == 0 || len >= 128)
		fail_msg("%s: no kid", p);
	memcpy(kid, text, len);
	kid[len] = '\0';
	free(text);
	it_fmt(rel, sizeof(rel), "keys/signing/%s.key", kid);
	return atk_load_key(s, rel);
}

char *
atk_b64url(const void *p, size_t n)
{
	char *out = b64url_encode_alloc(p, n);

	if (out == NULL)
		fail_msg("out of memory");
	return out;
}

char *
atk_sign_input(EVP_PKEY *key, const char *input)
{
	unsigned char der[128], raw[64];
	const unsigned char *dp;
	size_t derlen = sizeof(der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const BIGNUM *r, *sv;
	ECDSA_SIG *es;

	assert_non_null(md);
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, der, &derlen, (const unsigned char *)input,
	    strlen(input)) != 1)
		fail_msg("ES256 signing failed");
	EVP_MD_CTX_free(md);
	dp = der;
	es = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
	assert_non_null(es);
	ECDSA_SIG_get0(es, &r, &sv);
	assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
	assert_int_equal(BN_bn2binpad(sv, raw + 32, 32), 32);
	ECDSA_SIG_free(es);
	return atk_b64url(raw, sizeof(raw));
}

char *
atk_jws_encoded(EVP_PKEY *key, const char *h64, const char *p64)
{
	size_t n = strlen(h64) + strlen(p64) + 2;
	char *input = malloc(n), *sig, *tok;

	assert_non_null(input);
	snprintf(input, n, "%s.%s", h64, p64);
	sig = key != NULL ? atk_sign_input(key, input) : NULL;
	n += (sig != NULL ? strlen(sig) : 0) + 1;
	tok = malloc(n);
	assert_non_null(tok);
	snprintf(tok, n, "%s.%s", input, sig != NULL ? sig : "");
	free(input);
	free(sig);
	return tok;
}

char *
atk_jws(EVP_PKEY *key, const char *header, const char *payload)
{
	char *h = atk_b64url(header, strlen(header));
	char *p = atk_b64url(payload, strlen(payload));
	char *tok = atk_jws_encoded(key, h, p);

	free(h);
	free(p);
	return tok;
}

unsigned char *
atk_party_der(const struct it_server *s, const char *party, size_t *len)
{
	char p[PATH_MAX], err[256];
	unsigned char *der = NULL;
	X509 *c;
	int n;

	it_fmt(p, sizeof(p), "%s/pki/%s.crt", s->data, party);
	c = pki_load_cert(p, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s: %s", p, err);
	n = i2d_X509(c, &der);
	X509_free(c);
	if (n <= 0)
		fail_msg("%s: cannot encode", p);
	*len = (size_t)n;
	return der;
}

void
atk_write_cert(const struct it_server *s, const char *name, EVP_PKEY *key,
    X509 *ca, EVP_PKEY *cakey, long not_before_s, long not_after_s,
    char crt[PATH_MAX], char keyp[PATH_MAX])
{
	X509 *c = X509_new();
	X509_NAME *nm;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIGNUM *bn = BN_new();
	ASN1_INTEGER *serial;
	static const char *const exts[][2] = {
		{ "basicConstraints", "critical,CA:FALSE" },
		{ "keyUsage", "critical,digitalSignature" },
		{ "extendedKeyUsage", "clientAuth" },
	};
	size_t i;

	assert_non_null(c);
	assert_non_null(bn);
	assert_int_equal(X509_set_version(c, 2), 1);
	assert_int_equal(BN_rand(bn, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY),
	    1);
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	assert_non_null(serial);
	assert_int_equal(X509_set_serialNumber(c, serial), 1);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(c), not_before_s));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(c), not_after_s));
	nm = X509_get_subject_name(c);
	assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(c, X509_get_subject_name(ca)), 1);
	assert_int_equal(X509_set_pubkey(c, key), 1);
	X509V3_set_ctx(&v3, ca, c, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(c, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(c, cakey, EVP_sha256()) <= 0)
		fail_msg("X509_sign failed");
	it_fmt(crt, PATH_MAX, "%s/%s.crt", s->dir, name);
	it_fmt(keyp, PATH_MAX, "%s/%s.key", s->dir, name);
	unlink(crt);
	unlink(keyp);
	assert_int_equal(pki_write_cert(crt, c), 0);
	assert_int_equal(pki_write_key(keyp, key), 0);
	X509_free(c);
}

/* ---- raw connections ---------------------------------------------------- */

int
atk_tcp_connect(const struct it_server *s)
{
	struct sockaddr_in a;
	struct timeval tv = { ATK_IO_TIMEOUT_MS / 1000, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)s->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

SSL *
atk_tls_connect(const struct it_server *s, const char *party, int *fd)
{
	char ca[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;

	*fd = -1;
	if (ctx == NULL)
		return NULL;
	it_fmt(ca, sizeof(ca), "%s/pki/ca.crt", s->data);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		goto fail;
	if (party != NULL) {
		it_fmt(crt, sizeof(crt), "%s/pki/%s.crt", s->data, party);
		it_fmt(key, sizeof(key), "%s/pki/%s.key", s->data, party);
		if (SSL_CTX_use_certificate_file(ctx, crt, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
			goto fail;
	}
	if ((*fd = atk_tcp_connect(s)) < 0 || (ssl = SSL_new(ctx)) == NULL)
		goto fail;
	SSL_set_fd(ssl, *fd);
	SSL_set1_host(ssl, "127.0.0.1");
	if (SSL_connect(ssl) != 1)
		goto fail;
	SSL_CTX_free(ctx);   /* the SSL keeps a reference */
	return ssl;
fail:
	fprintf(stderr, "attack: TLS connection failed: %s\n",
	    ERR_error_string(ERR_get_error(), NULL));
	ERR_clear_error();
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return NULL;
}

void
atk_tls_close(SSL *ssl, int fd)
{
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
}

/* 1 when buf holds a whole response (headers and Content-Length body). */
static int
response_complete(const char *buf, size_t len)
{
	const char *eoh = strstr(buf, "\r\n\r\n"), *cl;
	unsigned long n;

	if (eoh == NULL)
		return 0;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl == NULL || cl > eoh)
		return 0;   /* read to the close */
	n = strtoul(cl + 17, NULL, 10);
	return len >= (size_t)(eoh + 4 - buf) + n;
}

long
atk_raw_request(const struct it_server *s, const char *party,
    const char *req, size_t len, char **resp, long timeout_ms)
{
	size_t off = 0;
	long status;
	SSL *ssl;
	int fd, n;

	if (resp != NULL)
		*resp = NULL;
	ssl = atk_tls_connect(s, party, &fd);
	if (ssl == NULL) {
		if (resp != NULL) {
			*resp = strdup("");
			assert_non_null(*resp);
		}
		return 0;
	}
	while (off < len) {
		n = SSL_write(ssl, req + off, (int)(len - off > 65536 ? 65536 :
		    len - off));
		if (n <= 0)
			break;   /* the server may refuse before reading it all */
		off += (size_t)n;
	}
	status = atk_tls_read_response(ssl, fd, resp, timeout_ms);
	atk_tls_close(ssl, fd);
	return status;
}

long
atk_tls_read_response(SSL *ssl, int fd, char **resp, long timeout_ms)
{
	int64_t end = it_now_ms() + timeout_ms;
	struct timeval tv = { 0, 100000 }, saved;
	socklen_t tvlen = sizeof(saved);
	size_t got = 0, cap = 8192;
	char *buf = malloc(cap);
	long status = 0;
	int n, restore;

	if (resp != NULL)
		*resp = NULL;
	assert_non_null(buf);
	buf[0] = '\0';
	restore = getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &saved, &tvlen) == 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (it_now_ms() < end && got < ATK_MAX_RESPONSE) {
		if (cap - got < 4096) {
			char *nb = realloc(buf, cap * 2);

			assert_non_null(nb);
			buf = nb;
			cap *= 2;
		}
		n = SSL_read(ssl, buf + got, (int)(cap - got - 1));
		if (n > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (response_complete(buf, got))
				break;
			continue;
		}
		if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ ||
		    (SSL_get_error(ssl, n) == SSL_ERROR_SYSCALL &&
		    (errno == EAGAIN || errno == EINTR))) {
			ERR_clear_error();
			continue;
		}
		break;   /* closed or reset */
	}
	ERR_clear_error();
	if (restore)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &saved, sizeof(saved));
	if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0)
		status = strtol(buf + 9, NULL, 10);
	if (resp != NULL)
		*resp = buf;
	else
		free(buf);
	return status;
}

int
atk_peer_closed(int fd)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue;   /* an alert or a reply: keep draining */
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
}

int
atk_fd_count(pid_t pid)
{
	char p[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

long
atk_cpu_ticks(pid_t pid)
{
	char p[64], buf[2048], *rp;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	if ((f = fopen(p, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the ")" of comm: state is 3, utime 14, stime 15. */
	if ((rp = strrchr(buf, ')')) == NULL ||
	    sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

long
atk_assert_healthy(const struct it_server *s, long max_ms)
{
	struct it_req q = { .path = "/healthz", .timeout_ms = max_ms + 2000 };
	struct it_resp r;
	int64_t t0 = it_now_ms();
	long took;

	it_request(s, &q, &r);
	took = (long)(it_now_ms() - t0);
	assert_status(&r, 200);
	it_resp_free(&r);
	if (took > max_ms)
		fail_msg("/healthz took %ld ms (bound %ld ms)", took, max_ms);
	return took;
}

long
atk_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if ((rlim_t)want > rl.rlim_cur) {
		rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want :
		    rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}
