/*
 * Verifier benchmark: one thread, consent_verify_peek and consent_verify
 * against raw OpenSSL ES256 verification of the same signatures.
 *
 *   bench_verify [out.json]
 *
 * BENCH_SECONDS (default 2) is the timed length of each line; BENCH_TOKENS
 * (default 1000) the number of distinct tokens peek cycles through.
 * Writes a JSON array of {"name", "ops_per_s", "ratio", "baseline"} where
 * ratio is ops_per_s over raw ES256 verification and baseline is true for
 * the raw OpenSSL lines. The spec's target: peek >= 0.85 x raw verify.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "b64.h"
#include "client/consent.h"
#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "pki.h"
#include "timeu.h"

#define ISSUER "https://127.0.0.1:8443"
#define PROVIDER "dia"
#define MAX_LINES 16
#define REPLAY_BATCH 2000   /* tokens minted (untimed) per timed batch */
#define SHA_BLOCK 16384

struct line {
	const char *name;
	double ops;
	int baseline;
	double mbps;        /* > 0 for throughput lines */
};

struct bench {
	double seconds;
	size_t ntok;
	char dir[256];
	EVP_PKEY *key;       /* signing key (private) */
	EVP_PKEY *pub;       /* its public half, parsed from the JWK */
	char kid[JWK_B64_SHA256_LEN];
	char x5t[JWK_B64_SHA256_LEN];
	unsigned char *der;
	int der_len;
	char **tokens;
	struct line lines[MAX_LINES];
	int nlines;
};

static const char *const fields[] = { "child.given_names",
	"child.birth_date" };

static volatile int sink;   /* keeps results observable */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_verify: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void
add_line(struct bench *b, const char *name, double ops, int baseline,
    double mbps)
{
	if (b->nlines == MAX_LINES)
		die("too many lines");
	b->lines[b->nlines].name = name;
	b->lines[b->nlines].ops = ops;
	b->lines[b->nlines].baseline = baseline;
	b->lines[b->nlines].mbps = mbps;
	b->nlines++;
}

/* One broker-shaped token, valid for an hour; caller frees. */
static char *
mint(struct bench *b)
{
	unsigned char rnd[16];
	char jti[23], *payload, *tok = NULL;
	int64_t now = timeu_now();
	json_t *c;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		die("RAND_bytes");
	b64url_encode(rnd, sizeof(rnd), jti);
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s,"
	    " s:[{s:s, s:s, s:i, s:s, s:s, s:[s, s]}], s:s, s:{s:s}}",
	    "iss", ISSUER, "sub", "alice-test", "aud", PROVIDER,
	    "client_id", "ird", "iat", (json_int_t)now, "nbf", (json_int_t)now,
	    "exp", (json_int_t)(now + 3600), "jti", jti,
	    "authorization_details",
	    "type", "consented_transfer", "agreement", "smartstart-ird-number",
	    "agreement_version", 1, "agreement_hash",
	    "4bfece4438c3f858e840e25d54cb6f7f0cc59cab72e9d78d192b4d0fdee161ce",
	    "purpose", "issue-ird-number", "fields", fields[0], fields[1],
	    "consent_id", "cns_fccf23b1a8c7c333a8aa8002177892a1",
	    "cnf", "x5t#S256", b->x5t);
	if (c == NULL || (payload = jsonu_dump(c)) == NULL)
		die("claims");
	json_decref(c);
	if (jws_sign_es256(b->key, b->kid, "at+jwt", payload, strlen(payload),
	    &tok) != JWS_OK)
		die("jws_sign_es256");
	free(payload);
	return tok;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(struct bench *b)
{
	const char *tmp = getenv("TMPDIR");
	char path[320], err[256], *s;
	EVP_PKEY *ca_key, *ckey;
	X509 *ca, *cert;
	json_t *jwk, *doc;
	size_t i;

	if (snprintf(b->dir, sizeof(b->dir), "%s/lc-bench-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(b->dir) ||
	    mkdtemp(b->dir) == NULL)
		die("mkdtemp");
	if ((b->key = pki_gen_p256()) == NULL ||
	    jwk_thumbprint(b->key, b->kid) != 0 ||
	    (jwk = jwk_from_pkey(b->key, b->kid)) == NULL ||
	    (b->pub = jwk_to_pkey(jwk, err, sizeof(err))) == NULL)
		die("signing key");
	doc = json_pack("{s:[o]}", "keys", jwk);
	if (doc == NULL || (s = jsonu_dump(doc)) == NULL ||
	    fsu_join(path, sizeof(path), b->dir, "jwks.json") != 0 ||
	    fsu_write_file(path, s, strlen(s), 0644, 0) != 0)
		die("JWKS file");
	free(s);
	json_decref(doc);
	if ((ca_key = pki_gen_p256()) == NULL || (ckey = pki_gen_p256()) == NULL ||
	    (ca = pki_make_ca(ca_key, "Bench CA", 1)) == NULL ||
	    (cert = pki_make_cert(ca, ca_key, ckey, "ird", 0, NULL, NULL, 1)) ==
	    NULL || jwk_x5t_s256(cert, b->x5t) != 0 ||
	    (b->der_len = i2d_X509(cert, &b->der)) <= 0)
		die("client certificate");
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(ckey);
	EVP_PKEY_free(ca_key);
	if ((b->tokens = calloc(b->ntok, sizeof(char *))) == NULL)
		die("out of memory");
	for (i = 0; i < b->ntok; i++)
		b->tokens[i] = mint(b);
}

static consent_verifier *
verifier(struct bench *b, const char *replay)
{
	struct consent_verifier_opts o = { 0 };
	char jwks[320], rdir[320], detail[256];
	consent_verifier *v = NULL;

	if (fsu_join(jwks, sizeof(jwks), b->dir, "jwks.json") != 0 ||
	    (replay != NULL && fsu_join(rdir, sizeof(rdir), b->dir, replay) != 0))
		die("path");
	o.provider = PROVIDER;
	o.issuer = ISSUER;
	o.jwks_file = jwks;
	o.replay_dir = replay != NULL ? rdir : NULL;
	if (consent_verifier_new(&o, &v, detail, sizeof(detail)) != CONSENT_OK)
		die(detail);
	return v;
}

/* The DER form of each token's r || s, and its signing input. */
struct rawsig {
	unsigned char der[80];
	size_t der_len;
	const char *input;
	size_t input_len;
	unsigned char raw[64];
};

static void
prepare_raw(struct bench *b, struct rawsig *rs)
{
	unsigned char raw[80];
	size_t i, rawlen;
	const char *dot;
	ECDSA_SIG *sig;
	BIGNUM *r, *s;
	unsigned char *p;
	int n;

	for (i = 0; i < b->ntok; i++) {
		dot = strrchr(b->tokens[i], '.');
		rs[i].input = b->tokens[i];
		rs[i].input_len = (size_t)(dot - b->tokens[i]);
		if (b64url_decode(dot + 1, strlen(dot + 1), raw, &rawlen) != 0 ||
		    rawlen != 64)
			die("signature");
		memcpy(rs[i].raw, raw, 64);
		sig = ECDSA_SIG_new();
		r = BN_bin2bn(raw, 32, NULL);
		s = BN_bin2bn(raw + 32, 32, NULL);
		if (sig == NULL || r == NULL || s == NULL ||
		    ECDSA_SIG_set0(sig, r, s) != 1)
			die("ECDSA_SIG");
		p = rs[i].der;
		if ((n = i2d_ECDSA_SIG(sig, &p)) <= 0)
			die("i2d_ECDSA_SIG");
		rs[i].der_len = (size_t)n;
		ECDSA_SIG_free(sig);
	}
}

/* Raw OpenSSL: DigestVerifyInit + DigestVerify per signature. */
static double
bench_raw_verify(struct bench *b, const struct rawsig *rs)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	double t0, t;
	size_t n = 0, i;
	int k;

	if (md == NULL)
		die("EVP_MD_CTX_new");
	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++) {
			i = n % b->ntok;
			EVP_MD_CTX_reset(md);
			if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
			    b->pub) != 1 ||
			    EVP_DigestVerify(md, rs[i].der, rs[i].der_len,
			    (const unsigned char *)rs[i].input,
			    rs[i].input_len) != 1)
				die("raw verify");
		}
		t = now_s() - t0;
	} while (t < b->seconds);
	EVP_MD_CTX_free(md);
	return (double)n / t;
}

static double
bench_raw_sign(struct bench *b, const struct rawsig *rs)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t n = 0, i, dlen;
	double t0, t;
	int k;

	if (md == NULL)
		die("EVP_MD_CTX_new");
	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++) {
			i = n % b->ntok;
			dlen = sizeof(der);
			EVP_MD_CTX_reset(md);
			if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
			    b->key) != 1 ||
			    EVP_DigestSign(md, der, &dlen,
			    (const unsigned char *)rs[i].input,
			    rs[i].input_len) != 1)
				die("raw sign");
			sink += der[dlen - 1];
		}
		t = now_s() - t0;
	} while (t < b->seconds);
	EVP_MD_CTX_free(md);
	return (double)n / t;
}

/* SHA-256 over 16 KiB blocks; returns blocks/s, *mbps gets MB/s. */
static double
bench_sha256(struct bench *b, double *mbps)
{
	static unsigned char buf[SHA_BLOCK];
	unsigned char md[SHA256_DIGEST_LENGTH];
	double t0, t;
	size_t n = 0;
	int k;

	memset(buf, 0xa5, sizeof(buf));
	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++) {
			buf[0] = (unsigned char)n;
			SHA256(buf, sizeof(buf), md);
			sink += md[0];
		}
		t = now_s() - t0;
	} while (t < b->seconds);
	*mbps = (double)n * SHA_BLOCK / t / 1e6;
	return (double)n / t;
}

/* jws_parse alone (split, base64url, two JSON parses). */
static double
bench_parse(struct bench *b)
{
	struct jws_parsed p;
	char err[128];
	double t0, t;
	size_t n = 0, i;
	int k;

	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++) {
			i = n % b->ntok;
			if (jws_parse(b->tokens[i], strlen(b->tokens[i]), &p, err,
			    sizeof(err)) != JWS_OK)
				die(err);
			jws_parsed_free(&p);
		}
		t = now_s() - t0;
	} while (t < b->seconds);
	return (double)n / t;
}

/* jws_verify_es256 alone, on tokens parsed up front. */
static double
bench_jws_verify(struct bench *b)
{
	struct jws_parsed *p = calloc(b->ntok, sizeof(*p));
	char err[128];
	double t0, t;
	size_t n = 0, i;
	int k;

	if (p == NULL)
		die("out of memory");
	for (i = 0; i < b->ntok; i++)
		if (jws_parse(b->tokens[i], strlen(b->tokens[i]), &p[i], err,
		    sizeof(err)) != JWS_OK)
			die(err);
	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++)
			if (jws_verify_es256(b->pub, &p[n % b->ntok]) != JWS_OK)
				die("jws_verify_es256");
		t = now_s() - t0;
	} while (t < b->seconds);
	for (i = 0; i < b->ntok; i++)
		jws_parsed_free(&p[i]);
	free(p);
	return (double)n / t;
}

static double
bench_peek(struct bench *b)
{
	consent_verifier *v = verifier(b, NULL);
	struct consent_claims c;
	double t0, t;
	size_t n = 0;
	int k;

	t0 = now_s();
	do {
		for (k = 0; k < 64; k++, n++) {
			if (consent_verify_peek(v, b->tokens[n % b->ntok], b->der,
			    (size_t)b->der_len, fields, 2, &c) != CONSENT_OK)
				die(consent_verifier_detail(v));
			consent_claims_free(&c);
		}
		t = now_s() - t0;
	} while (t < b->seconds);
	consent_verifier_free(v);
	return (double)n / t;
}

/*
 * consent_verify with the replay cache: every token is used once, so they
 * are minted in batches outside the timed sections.
 */
static double
bench_verify_replay(struct bench *b)
{
	consent_verifier *v = verifier(b, "replay");
	char *batch[REPLAY_BATCH];
	struct consent_claims c;
	double t = 0, t0;
	size_t n = 0;
	int k;

	while (t < b->seconds) {
		for (k = 0; k < REPLAY_BATCH; k++)
			batch[k] = mint(b);
		t0 = now_s();
		for (k = 0; k < REPLAY_BATCH; k++, n++) {
			if (consent_verify(v, batch[k], b->der, (size_t)b->der_len,
			    fields, 2, &c) != CONSENT_OK)
				die(consent_verifier_detail(v));
			consent_claims_free(&c);
		}
		t += now_s() - t0;
		for (k = 0; k < REPLAY_BATCH; k++)
			free(batch[k]);
	}
	consent_verifier_free(v);
	return (double)n / t;
}

static int
write_json(const struct bench *b, const char *path, double raw)
{
	json_t *arr = json_array(), *o;
	char *s;
	int i, rc;

	if (arr == NULL)
		return -1;
	for (i = 0; i < b->nlines; i++) {
		o = json_pack("{s:s, s:f, s:f, s:b}", "name", b->lines[i].name,
		    "ops_per_s", b->lines[i].ops, "ratio", b->lines[i].ops / raw,
		    "baseline", b->lines[i].baseline);
		if (o != NULL && b->lines[i].mbps > 0)
			json_object_set_new(o, "mb_per_s",
			    json_real(b->lines[i].mbps));
		if (o == NULL || json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return -1;
		}
	}
	s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	json_decref(arr);
	if (s == NULL)
		return -1;
	rc = fsu_write_file(path, s, strlen(s), 0644, 0);
	free(s);
	return rc;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct rawsig *rs;
	const char *env, *out = argc > 1 ? argv[1] : NULL;
	double raw, mbps = 0, peek, sha;
	char *end;
	size_t i;
	int l;

	memset(&b, 0, sizeof(b));
	b.seconds = 2;
	b.ntok = 1000;
	if ((env = getenv("BENCH_SECONDS")) != NULL) {
		b.seconds = strtod(env, &end);
		if (*end != '\0' || !(b.seconds > 0 && b.seconds <= 600))
			die("BENCH_SECONDS must be in (0, 600]");
	}
	if ((env = getenv("BENCH_TOKENS")) != NULL) {
		errno = 0;
		b.ntok = (size_t)strtoul(env, &end, 10);
		if (*end != '\0' || errno != 0 || b.ntok < 1 || b.ntok > 100000)
			die("BENCH_TOKENS must be 1..100000");
	}
	setup(&b);
	if ((rs = calloc(b.ntok, sizeof(*rs))) == NULL)
		die("out of memory");
	prepare_raw(&b, rs);

	printf("bench_verify: %s, %zu distinct tokens of %zu bytes, %.1f s per "
	    "line, one thread\n", OpenSSL_version(OPENSSL_VERSION), b.ntok,
	    strlen(b.tokens[0]), b.seconds);
	(void)bench_peek(&b);   /* warm-up: caches, lazy OpenSSL fetches */
	raw = bench_raw_verify(&b, rs);
	add_line(&b, "es256_verify_raw", raw, 1, 0);
	add_line(&b, "es256_sign_raw", bench_raw_sign(&b, rs), 1, 0);
	sha = bench_sha256(&b, &mbps);
	add_line(&b, "sha256_16KiB", sha, 1, mbps);
	add_line(&b, "jws_parse", bench_parse(&b), 0, 0);
	add_line(&b, "jws_verify_es256", bench_jws_verify(&b), 0, 0);
	peek = bench_peek(&b);
	add_line(&b, "consent_verify_peek", peek, 0, 0);
	add_line(&b, "consent_verify_replay", bench_verify_replay(&b), 0, 0);

	printf("\n%-24s %14s %10s\n", "name", "ops/s", "x raw");
	for (l = 0; l < b.nlines; l++) {
		printf("%-24s %14.0f %10.3f", b.lines[l].name, b.lines[l].ops,
		    b.lines[l].ops / raw);
		if (b.lines[l].mbps > 0)
			printf("   (%.0f MB/s)", b.lines[l].mbps);
		printf("%s\n", b.lines[l].baseline ? "   baseline" : "");
	}
	printf("\ntarget: consent_verify_peek >= 0.85 x raw verify: %.3f %s\n",
	    peek / raw, peek / raw >= 0.85 ? "MET" : "NOT MET");
	if (out != NULL) {
		if (write_json(&b, out, raw) != 0)
			die("writing the JSON results");
		printf("results in %s\n", out);
	}

	for (i = 0; i < b.ntok; i++)
		free(b.tokens[i]);
	free(b.tokens);
	free(rs);
	OPENSSL_free(b.der);
	EVP_PKEY_free(b.key);
	EVP_PKEY_free(b.pub);
	nftw(b.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
