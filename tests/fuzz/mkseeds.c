/*
 * Regenerates the fuzz seed corpora (tests/fuzz/corpus/<target>/seed-*)
 * and tests/fuzz/fixtures.h from a real consentd started by the
 * integration harness: tokens it minted, its status list, its signed
 * checkpoint, log entries and proofs, a dev citizen ID token, and the
 * form and JSON bodies clients send it. Run by tests/fuzz/mkseeds.sh.
 */
#include "harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "fsu.h"
#include "jsonu.h"
#include "jws.h"
#include "logentry.h"
#include "merkle.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define STATUTORY "dia-msd-birth-notification"
#define OUT "tests/fuzz"
#define MAX_ENTRIES 64

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };
static const char *const one_field[] = { "child.family_name", NULL };
static const char *const stat_fields[] = { "registration.number",
    "child.given_names", NULL };
static const char *const agreements[] = { SMARTSTART ".json",
    STATUTORY ".json", "msd-community-services-card.json",
    "msd-wcc-rates-rebate.json" };

/*
 * Status list "lst" values (base64url of zlib) made with Python's zlib:
 * 2^20 zero bytes (the verifier's bound), one byte more, and a list with
 * bits set.
 */
static const char max_list[] =
    "eNrtwTEBAAAAwqD1T20IX6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD4DAPAAAQ";
static const char over_list[] =
    "eNrtwTEBAAAAwqD1T20IX6AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE4DAPEAAQ";
static const char mixed_list[] =
    "eNqLYmz4zyAQNWJIACAMTJE";

/* Writes n bytes as OUT/corpus/<target>/seed-<name>. */
static void
seed(const char *target, const char *name, const void *p, size_t n)
{
	char dir[PATH_MAX], path[PATH_MAX];

	it_fmt(dir, sizeof(dir), OUT "/corpus/%s", target);
	assert_int_equal(fsu_mkdir_p(dir, 0755), 0);
	it_fmt(path, sizeof(path), "%s/seed-%s", dir, name);
	assert_int_equal(fsu_write_file(path, p, n, 0644, 0), 0);
}

static void
seeds(const char *target, const char *name, const char *s)
{
	seed(target, name, s, strlen(s));
}

/* A seed of the form <mode byte><text>, for the multiplexed targets. */
static void
seedm(const char *target, const char *name, char mode, const void *p,
    size_t n)
{
	unsigned char *b = malloc(n + 1);

	assert_non_null(b);
	b[0] = (unsigned char)mode;
	memcpy(b + 1, p, n);
	seed(target, name, b, n + 1);
	free(b);
}

static void
seedms(const char *target, const char *name, char mode, const char *s)
{
	seedm(target, name, mode, s, strlen(s));
}

/* Prints s as a C string literal, one source line per line of s. */
static void
cstr(FILE *f, const char *name, const char *s)
{
	fprintf(f, "static const char %s[] =\n    \"", name);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fprintf(f, "\\n\"%s", s[1] != '\0' ? "\n    \"" : "");
		else
			fputc(*s, f);
	}
	if (s[-1] != '\n')
		fputc('"', f);
	fprintf(f, ";\n\n");
}

static char *
read_text(const char *dir, const char *rel)
{
	char path[PATH_MAX], *s = NULL;
	size_t n;

	it_fmt(path, sizeof(path), "%s/%s", dir, rel);
	if (fsu_read_file(path, 1 << 20, &s, &n) != 0)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	return s;
}

static char *
token_ok(struct it_server *s, const char *party, const char *agreement,
    const char *subject, const char *purpose, const char *const *fields)
{
	struct it_resp r;
	char *tok;

	it_token(s, party, agreement, subject, purpose, fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	it_resp_free(&r);
	return tok;
}

static void
be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The base64 proof hashes of a proof answer into out; their count. */
static size_t
proof_hashes(const json_t *arr, unsigned char (*out)[MERKLE_HASH])
{
	size_t i, n;
	json_t *h;

	json_array_foreach(arr, i, h) {
		const char *b = json_string_value(h);

		assert_non_null(b);
		assert_int_equal(b64_decode(b, strlen(b), out[i], &n), 0);
		assert_int_equal(n, MERKLE_HASH);
	}
	return json_array_size(arr);
}

static void
make_all(void **state)
{
	static unsigned char entries[MAX_ENTRIES][LE_MAX];
	static size_t lens[MAX_ENTRIES];
	static unsigned char roots[MAX_ENTRIES + 1][MERKLE_HASH];
	struct merkle_frontier fr;
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH], leaf[MERKLE_HASH];
	unsigned char bin[16 + 3 * MERKLE_HASH + sizeof(proof)];
	struct it_server *s;
	struct it_resp r;
	char alice[64], bob[64], path[256], name[64], vkey[512], bin_path[PATH_MAX];
	char *tok1, *tok2, *tok3, *tok4, *form, *out = NULL, *p, *cur, *kpem;
	const char *ctok, *iss, *lst;
	json_t *d, *claims, *e;
	size_t nent, i, n, np;
	uint64_t size;
	FILE *f;
	int64_t now;

	(void)state;
	s = it_server_new();
	assert_non_null(s);
	s->sets[s->nsets++] = "log_checkpoint_ms=50";
	assert_int_equal(it_server_start(s), 0);

	/* Consents, tokens, a revocation (so the status list has a 1). */
	assert_int_equal(it_grant(s, "fuzz-alice", SMARTSTART, NULL, NULL,
	    alice, &r), 201);
	it_resp_free(&r);
	assert_int_equal(it_grant(s, "fuzz-bob", SMARTSTART,
	    "[\"child.given_names\",\"child.family_name\",\"child.birth_date\","
	    "\"parent.given_names\",\"parent.family_name\"]", NULL, bob, &r),
	    201);
	it_resp_free(&r);
	tok1 = token_ok(s, "ird", SMARTSTART, "fuzz-alice", PURPOSE,
	    two_fields);
	tok2 = token_ok(s, "ird", SMARTSTART, "fuzz-bob", PURPOSE, one_field);
	tok3 = token_ok(s, "msd", STATUTORY, "fuzz-child",
	    "update-benefit-household", stat_fields);
	assert_int_equal(it_revoke(s, "fuzz-alice", alice, &r), 200);
	it_resp_free(&r);
	tok4 = token_ok(s, "ird", SMARTSTART, "fuzz-bob", PURPOSE, two_fields);
	now = (int64_t)time(NULL);
	seeds("fuzz_verifier", "smartstart-two-fields", tok1);
	seeds("fuzz_verifier", "smartstart-one-field", tok2);
	seeds("fuzz_verifier", "statutory-msd", tok3);
	seeds("fuzz_verifier", "smartstart-bob", tok4);
	seeds("fuzz_jws", "token-smartstart", tok1);
	seeds("fuzz_jws", "token-statutory", tok3);

	/* The bodies of those requests, and an introspection form. */
	d = it_details(SMARTSTART, "fuzz-alice", PURPOSE, two_fields);
	form = it_token_form(d);
	seeds("fuzz_tokreq", "token-request", form);
	seedm("fuzz_http", "form-token-request", 'f', form, strlen(form));
	free(form);
	json_decref(d);
	d = it_details(STATUTORY, "fuzz-child", "update-benefit-household",
	    stat_fields);
	json_object_set_new(json_array_get(d, 0), "locations",
	    json_pack("[s]", "https://dia.example/"));
	form = it_token_form(d);
	seeds("fuzz_tokreq", "token-request-statutory", form);
	free(form);
	json_decref(d);
	form = it_token_form(NULL);
	seeds("fuzz_tokreq", "no-details", form);
	free(form);
	p = it_urlencode(tok1);
	assert_non_null(p);
	it_fmt(path, sizeof(path), "token=%.200s", p);
	seedm("fuzz_http", "form-introspect", 'f', path, strlen(path));
	free(p);

	/* The status list the tokens point at. */
	assert_int_equal(it_get(s, "dia", NULL, "/v1/status/0", &r), 200);
	seeds("fuzz_jws", "status-list", r.body);
	claims = it_jwt_part(r.body, 1);
	assert_non_null(claims);
	lst = json_string_value(json_object_get(json_object_get(claims,
	    "status_list"), "lst"));
	assert_non_null(lst);
	seeds("fuzz_status", "broker-list", lst);
	json_decref(claims);
	it_resp_free(&r);

	/* A citizen ID token from the dev issuer. */
	ctok = it_citizen_token(s, "fuzz-alice", 0);
	assert_non_null(ctok);
	seeds("fuzz_citizen", "dev-id-token", ctok);
	seeds("fuzz_jws", "citizen-id-token", ctok);

	/* The log: checkpoint, entries, proofs. */
	/* Waits until the checkpoint stops moving (it covers every entry). */
	for (i = 0, n = 0; i < 100; i++) {
		it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
		assert_status(&r, 200);
		size = strtoull(strchr(r.body, '\n') + 1, NULL, 10);
		it_resp_free(&r);
		if (size > 0 && size == n)
			break;
		n = size;
		it_sleep_ms(300);
	}
	it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
	assert_status(&r, 200);
	seedm("fuzz_log", "checkpoint-note", 'n', r.body, r.len);
	p = strstr(r.body, "\n\n");
	assert_non_null(p);
	seedm("fuzz_log", "checkpoint-text", 'c', r.body,
	    (size_t)(p - r.body) + 1);
	size = strtoull(strchr(r.body, '\n') + 1, NULL, 10);
	it_resp_free(&r);
	assert_true(size > 4 && size <= MAX_ENTRIES);
	it_fmt(path, sizeof(path), "/v1/log/entries?start=0&end=%llu",
	    (unsigned long long)size);
	assert_int_equal(it_get(s, "auditor", NULL, path, &r), 200);
	nent = json_array_size(json_object_get(r.json, "entries"));
	assert_int_equal(nent, size);
	merkle_frontier_init(&fr);
	merkle_empty_root(roots[0]);
	json_array_foreach(json_object_get(r.json, "entries"), i, e) {
		const char *b = json_string_value(json_object_get(e, "data"));

		assert_non_null(b);
		assert_true(b64_decoded_max(strlen(b)) <= LE_MAX);
		assert_int_equal(b64_decode(b, strlen(b), entries[i],
		    &lens[i]), 0);
		merkle_leaf_hash(entries[i], lens[i], leaf);
		assert_int_equal(merkle_frontier_append(&fr, leaf, NULL, NULL),
		    0);
		merkle_frontier_root(&fr, roots[i + 1]);
	}
	it_resp_free(&r);
	/* One entry of each type. */
	for (i = 0; i < nent; i++) {
		it_fmt(name, sizeof(name), "entry-type%d", entries[i][1]);
		it_fmt(path, sizeof(path), OUT "/corpus/fuzz_log/seed-%s", name);
		if (access(path, F_OK) != 0)
			seedm("fuzz_log", name, 'e', entries[i], lens[i]);
	}
	/* Inclusion proofs of a few entries in the whole tree. */
	for (i = 0; i < nent; i += nent / 3) {
		it_fmt(path, sizeof(path),
		    "/v1/log/proof/inclusion?index=%zu&size=%llu", i,
		    (unsigned long long)size);
		assert_int_equal(it_get(s, "auditor", NULL, path, &r), 200);
		np = proof_hashes(json_object_get(r.json, "hashes"), proof);
		it_resp_free(&r);
		be64(bin, i);
		be64(bin + 8, size);
		merkle_leaf_hash(entries[i], lens[i], bin + 16);
		memcpy(bin + 16 + MERKLE_HASH, roots[size], MERKLE_HASH);
		memcpy(bin + 16 + 2 * MERKLE_HASH, proof, np * MERKLE_HASH);
		assert_int_equal(merkle_verify_inclusion(i, size, bin + 16,
		    (const unsigned char (*)[MERKLE_HASH])proof, np,
		    roots[size]), 0);
		it_fmt(name, sizeof(name), "inclusion-%zu-of-%llu", i,
		    (unsigned long long)size);
		seedm("fuzz_log", name, 'i', bin, 16 + 2 * MERKLE_HASH +
		    np * MERKLE_HASH);
	}
	/* Consistency proofs from a few earlier sizes. */
	for (n = 1; n < size; n = n * 2 + 1) {
		it_fmt(path, sizeof(path),
		    "/v1/log/proof/consistency?from=%zu&to=%llu", n,
		    (unsigned long long)size);
		assert_int_equal(it_get(s, "auditor", NULL, path, &r), 200);
		np = proof_hashes(json_object_get(r.json, "hashes"), proof);
		it_resp_free(&r);
		be64(bin, n);
		be64(bin + 8, size);
		memcpy(bin + 16, roots[n], MERKLE_HASH);
		memcpy(bin + 16 + MERKLE_HASH, roots[size], MERKLE_HASH);
		memcpy(bin + 16 + 2 * MERKLE_HASH, proof, np * MERKLE_HASH);
		assert_int_equal(merkle_verify_consistency(n, size, roots[n],
		    roots[size], (const unsigned char (*)[MERKLE_HASH])proof,
		    np), 0);
		it_fmt(name, sizeof(name), "consistency-%zu-to-%llu", n,
		    (unsigned long long)size);
		seedm("fuzz_log", name, 'k', bin, 16 + 2 * MERKLE_HASH +
		    np * MERKLE_HASH);
	}
	assert_int_equal(it_bin("consentctl", bin_path, sizeof(bin_path)), 0);
	{
		char *argv[] = { bin_path, (char *)(uintptr_t)"log",
		    (char *)(uintptr_t)"vkey", (char *)(uintptr_t)"--data",
		    s->data, NULL };

		assert_int_equal(it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS),
		    0);
	}
	out[strcspn(out, "\r\n")] = '\0';
	it_fmt(vkey, sizeof(vkey), "%s", out);
	free(out);
	seedm("fuzz_log", "vkey", 'v', vkey, strlen(vkey));

	/* The claims of real tokens, for the targets' sign-it-here mode. */
	claims = it_jwt_part(tok1, 1);
	assert_non_null(claims);
	p = json_dumps(claims, JSON_COMPACT);
	seeds("fuzz_verifier", "claims-smartstart", p);
	seeds("fuzz_jws", "claims-smartstart", p);
	free(p);
	json_object_del(claims, "status");
	p = json_dumps(claims, JSON_COMPACT);
	seeds("fuzz_verifier", "claims-smartstart-no-status", p);
	free(p);
	json_decref(claims);
	claims = it_jwt_part(ctok, 1);
	assert_non_null(claims);
	p = json_dumps(claims, JSON_COMPACT);
	seeds("fuzz_citizen", "claims-dev", p);
	free(p);
	json_decref(claims);

	/* Agreements: the examples the broker was initialized with. */
	for (i = 0; i < sizeof(agreements) / sizeof(agreements[0]); i++) {
		kpem = read_text("agreements/examples", agreements[i]);
		seeds("fuzz_agreement", agreements[i], kpem);
		if (i == 0)
			seedm("fuzz_http", "agreement-submission", 'g', kpem,
			    strlen(kpem));
		free(kpem);
	}

	/* The broker's JWKS and one of its keys; codec inputs. */
	assert_int_equal(it_get(s, NULL, NULL, "/.well-known/jwks.json", &r),
	    200);
	seeds("fuzz_jws", "jwks", r.body);
	p = json_dumps(json_array_get(json_object_get(r.json, "keys"), 0),
	    JSON_COMPACT);
	assert_non_null(p);
	seeds("fuzz_jws", "jwk", p);
	free(p);
	it_resp_free(&r);
	seeds("fuzz_jws", "b64", "eyJhbGciOiJFUzI1NiJ9+/==");
	seeds("fuzz_jws", "hex", "00ff10Ab9c");
	/* Status lists: the largest allowed, one byte over, some bits set. */
	seeds("fuzz_status", "max-size", max_list);
	seeds("fuzz_status", "over-max-size", over_list);
	seeds("fuzz_status", "mixed", mixed_list);

	/* Bodies the broker's other routes parse. */
	it_time_from_now(86400 * 30, name);
	it_fmt(path, sizeof(path), "{\"agreement\":\"%s\",\"fields\":"
	    "[\"child.given_names\",\"child.family_name\","
	    "\"child.birth_date\",\"parent.given_names\","
	    "\"parent.family_name\"],\"expires_at\":\"%s\"}", SMARTSTART,
	    name);
	seedm("fuzz_http", "grant-fields-expiry", 'g', path, strlen(path));
	it_fmt(path, sizeof(path), "{\"agreement\":\"%s\"}", SMARTSTART);
	seedm("fuzz_http", "grant", 'g', path, strlen(path));
	seedm("fuzz_http", "time", 't', name, strlen(name));
	seedms("fuzz_http", "time-offset", 't', "2027-02-28T23:59:60.5+13:45");
	seedms("fuzz_http", "subject", 's', "fuzz-alice");
	seedms("fuzz_http", "subject-utf8", 's', "M\xc4\x81ori \xe2\x80\x94 "
	    "\xf0\x9f\x98\x80");
	it_fmt(path, sizeof(path), "csrf=%s&agreement=%s&expires_on="
	    "2027-01-31", "dGVzdC1jc3JmLXRva2VuLXZhbHVlLTAxMjM0NTY3ODk", SMARTSTART);
	seedm("fuzz_http", "form-web-grant", 'f', path, strlen(path));
	it_fmt(path, sizeof(path), "subject=fuzz-alice&state=%s&fault=",
	    "c3RhdGUtMDEyMzQ1Njc4OWFiY2RlZg");
	seedm("fuzz_http", "form-devidp-login", 'f', path, strlen(path));
	it_fmt(path, sizeof(path), "grant_type=authorization_code&code=abc"
	    "&code_verifier=%s&client_id=consent-broker&redirect_uri=%s",
	    "dmVyaWZpZXItMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", "https%3A%2F%2F"
	    "127.0.0.1%3A8443%2Fcallback");
	seedm("fuzz_http", "form-devidp-token", 'f', path, strlen(path));
	seedms("fuzz_http", "config-listen", 'c', "listen = [::1]:8443");
	seedms("fuzz_http", "config-threads", 'c', "threads = 4");
	seedms("fuzz_http", "config-issuer", 'c',
	    "issuer = https://broker.example");
	seedms("fuzz_http", "escape", 'w', "<a href=\"x\">Tom & 'Jerry'</a>");
	seedms("fuzz_log", "tree", 't', "\x11\x05\x03" "abcdefgh");

	/* fixtures.h: the keys and facts the targets need to accept seeds. */
	claims = it_jwt_part(tok1, 1);
	assert_non_null(claims);
	iss = json_string_value(json_object_get(claims, "iss"));
	assert_non_null(iss);
	f = fopen(OUT "/fixtures.h", "w");
	assert_non_null(f);
	fprintf(f, "/*\n * Generated by tests/fuzz/mkseeds.sh from a throwaway "
	    "consentd --dev data\n * directory: the keys below protect nothing; "
	    "they let the fuzz targets\n * accept the seed tokens, notes and "
	    "entries that broker produced.\n */\n"
	    "#ifndef CB_FUZZ_FIXTURES_H\n#define CB_FUZZ_FIXTURES_H\n\n");
	fprintf(f, "/* When the seeds were minted: the targets' clock. */\n"
	    "#define FX_NOW %lldLL\n\n", (long long)(now + 5));
	fprintf(f, "#define FX_ISSUER \"%s\"\n", iss);
	fprintf(f, "#define FX_PROVIDER \"dia\"\n");
	fprintf(f, "#define FX_CITIZEN_ISSUER \"%s/dev\"\n", iss);
	fprintf(f, "#define FX_CITIZEN_AUDIENCE \"consent-broker\"\n\n");
	json_decref(claims);
	cur = read_text(s->data, "keys/signing/current");
	cur[strcspn(cur, "\r\n")] = '\0';
	it_fmt(path, sizeof(path), "keys/signing/%s.key", cur);
	kpem = read_text(s->data, path);
	fprintf(f, "/* The broker's token-signing key (kid is its thumbprint). */\n");
	cstr(f, "fx_broker_key_pem", kpem);
	free(kpem);
	free(cur);
	kpem = read_text(s->data, "keys/dev-issuer.key");
	fprintf(f, "/* The dev citizen issuer's key. */\n");
	cstr(f, "fx_citizen_key_pem", kpem);
	free(kpem);
	kpem = read_text(s->data, "pki/ird.crt");
	fprintf(f, "/* ird's client certificate: smartstart tokens are bound "
	    "to it. */\n");
	cstr(f, "fx_ird_cert_pem", kpem);
	free(kpem);
	fprintf(f, "/* The audit log's verifier key. */\n");
	cstr(f, "fx_log_vkey", vkey);
	kpem = read_text("agreements/examples", SMARTSTART ".json");
	fprintf(f, "/* The agreement grants are checked against. */\n");
	cstr(f, "fx_smartstart_agreement", kpem);
	free(kpem);
	fprintf(f, "#endif\n");
	assert_int_equal(fclose(f), 0);

	free(tok1);
	free(tok2);
	free(tok3);
	free(tok4);
	assert_int_equal(it_server_stop(s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(make_all),
	};

	it_init();
	return it_finish(cmocka_run_group_tests(tests, NULL, NULL));
}
