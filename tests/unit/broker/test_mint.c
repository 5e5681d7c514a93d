/*
 * Unit tests for minting and writing transfer tokens (broker/routes_oauth.c:
 * routes_token_claims, routes_token_minted_free, routes_token_write): the
 * claims text as signed (parsed strictly and compared member by member),
 * its hash, its authorization_details slice, the record kept of it, the
 * refusal of strings that are not UTF-8, and what the commit stores (the
 * token record, the audit log entry, the outstanding-token records, the
 * subject's transfer index), and revocation by consent finding tokens
 * through what the write left, on a temporary LMDB store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "agreement.h"
#include "b64.h"
#include "config.h"
#include "jsonu.h"
#include "logentry.h"
#include "routes.h"
#include "status.h"
#include "store.h"
#include "tmpstore.h"
#include "tlog.h"

#define ERRLEN 512
#define MAP_SMALL ((size_t)16 << 20)

#define ISSUER "https://broker.test"
#define ORIGIN "broker.test/log"
/* A double quote, a backslash, a slash and non-ASCII UTF-8 (U+0101). */
#define SUBJECT "tok \"q\" \\ a/b Ng\xc4\x81 T\xc4\x81ne"
#define CLIENT "ird"
#define X5T "r0mI3FvJ8lq2pQx9TzYb7kVd1uHs6cNw4aGe5oLj0Bk"
#define PURPOSE "benchmark"
#define CONSENT "cns_00000000000000000000000000000001"
#define KID "broker-2026-01"
#define NOW ((int64_t)1795000000)
#define TTL 300
/* In the fourth list, so that the position differs from the index. */
#define STATUS_INDEX ((uint64_t)3 * STATUS_LIST_CAP + 17)
#define STATUS_URI ISSUER "/v1/status/3"
#define FIELDS_JOINED "child.given_names,child.family_name,child.birth_date"

/* Ill-formed UTF-8: a lead byte followed by no continuation byte. */
#define BAD_UTF8 "bad \xc3\x28 text"

static const char agreement_doc[] =
	"{\"id\":\"bench-transfer\",\"version\":1,"
	"\"title\":\"Benchmark transfer\","
	"\"description\":\"Benchmark only: consent required, no daily limit.\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\"],"
	"\"purposes\":[\"benchmark\"],"
	"\"fields\":["
	"{\"name\":\"child.given_names\",\"description\":\"Given names.\"},"
	"{\"name\":\"child.family_name\",\"description\":\"Family name.\"},"
	"{\"name\":\"child.birth_date\","
	"\"description\":\"Date of birth.\"}],"
	"\"legal_basis\":{\"type\":\"consent\"},"
	"\"consent\":{\"required\":true},"
	"\"token_ttl_seconds\":300,"
	"\"retention\":{\"days\":1,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

static const char *const fields[] = {
	"child.given_names", "child.family_name", "child.birth_date"
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

struct fx {
	char dir[64];
	struct store *s;
	struct tlog *log;
	struct agreement *a;
	unsigned char secret[TLOG_SECRET_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[ERRLEN] = "";
	EVP_PKEY *key;
	size_t i;

	assert_non_null(f);
	f->s = tmpstore_open(f->dir, "mint", MAP_SMALL);
	for (i = 0; i < sizeof(f->secret); i++)
		f->secret[i] = (unsigned char)(0x40 + i);
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(key);
	f->log = tlog_open(f->s, ORIGIN, key, f->secret, err, sizeof(err));
	EVP_PKEY_free(key);   /* the log keeps its own reference */
	if (f->log == NULL)
		fail_msg("tlog_open: %s", err);
	f->a = agreement_parse(agreement_doc, strlen(agreement_doc), err,
	    sizeof(err));
	if (f->a == NULL)
		fail_msg("agreement_parse: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	agreement_free(f->a);
	tlog_free(f->log);
	tmpstore_close(f->dir, f->s);
	free(f);
	return 0;
}

/* ---- helpers ---- */

/* The terms of the test token, with or without a consent. */
static void
terms(const struct fx *f, struct token_terms *t, const char *consent_id)
{
	memset(t, 0, sizeof(*t));
	t->issuer = ISSUER;
	t->a = f->a;
	t->subject = SUBJECT;
	t->client = CLIENT;
	t->x5t = X5T;
	t->purpose = PURPOSE;
	t->fields = fields;
	t->nfields = NFIELDS;
	t->consent_id = consent_id;
	t->status_index = STATUS_INDEX;
	t->now = NOW;
	t->ttl = TTL;
	t->kid = KID;
}

static void
mint_ok(const struct token_terms *t, const struct tlog *log,
    struct token_minted *m)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(routes_token_claims(t, log, m), 0);
	assert_non_null(m->claims);
	assert_non_null(m->record);
}

/* Parses len bytes strictly (no duplicate keys), failing the test if it
 * cannot. */
static json_t *
parse_strict(const char *buf, size_t len)
{
	char err[ERRLEN] = "";
	json_t *v = jsonu_parse(buf, len, JSONU_MAX_DEPTH, err, sizeof(err));

	if (v == NULL)
		fail_msg("jsonu_parse(%.*s): %s", (int)len, buf, err);
	return v;
}

/* Fails the test unless a and b are equal JSON, showing both. */
static void
assert_json_equal(const json_t *a, const json_t *b)
{
	char *sa, *sb;

	if (json_equal(a, b))
		return;
	sa = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	sb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	print_error("got      %s\nexpected %s\n", sa != NULL ? sa : "?",
	    sb != NULL ? sb : "?");
	free(sa);
	free(sb);
	fail_msg("JSON values differ");
}

/* The claims the test token must have, with jti as minted. */
static json_t *
expected_claims(const struct fx *f, const char *jti, const char *consent_id)
{
	char uri[400];
	json_t *c;

	assert_int_equal(status_uri(ISSUER, STATUS_INDEX, uri, sizeof(uri)), 0);
	assert_string_equal(uri, STATUS_URI);
	c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s,"
	    " s:[{s:s, s:s, s:I, s:s, s:s, s:[sss]}],"
	    " s:{s:s}, s:{s:{s:I, s:s}}}",
	    "iss", ISSUER, "sub", SUBJECT, "aud", "dia", "client_id", CLIENT,
	    "iat", (json_int_t)NOW, "nbf", (json_int_t)NOW,
	    "exp", (json_int_t)(NOW + TTL), "jti", jti,
	    "authorization_details",
	    "type", "consented_transfer", "agreement", "bench-transfer",
	    "agreement_version", (json_int_t)1, "agreement_hash", f->a->hash,
	    "purpose", PURPOSE, "fields", fields[0], fields[1], fields[2],
	    "cnf", "x5t#S256", X5T,
	    "status", "status_list", "idx",
	    (json_int_t)(STATUS_INDEX % STATUS_LIST_CAP), "uri", uri);
	assert_non_null(c);
	if (consent_id != NULL)
		assert_int_equal(json_object_set_new(c, "consent_id",
		    json_string(consent_id)), 0);
	return c;
}

/* The record the broker keeps: the claims, kid and the full index. */
static json_t *
expected_record(const json_t *claims)
{
	json_t *r = json_deep_copy(claims);

	assert_non_null(r);
	assert_int_equal(json_object_set_new(r, "kid", json_string(KID)), 0);
	assert_int_equal(json_object_set_new(r, "status_index",
	    json_integer((json_int_t)STATUS_INDEX)), 0);
	return r;
}

/* m->record closed with "}", parsed strictly. */
static json_t *
parse_record(const struct token_minted *m)
{
	char *text;
	json_t *r;

	assert_int_equal(m->record_len, strlen(m->record));
	text = malloc(m->record_len + 2);
	assert_non_null(text);
	memcpy(text, m->record, m->record_len);
	text[m->record_len] = '}';
	text[m->record_len + 1] = '\0';
	r = parse_strict(text, m->record_len + 1);
	free(text);
	return r;
}

static uint64_t
now_ms48(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) &
	    0xffffffffffffULL;
}

/* jti is 12 lowercase hex digits of a time in [lo, hi] ms, then 16
 * base64url characters (96 bits). */
static void
assert_jti_form(const char *jti, uint64_t lo, uint64_t hi)
{
	unsigned char rnd[16];
	uint64_t ms = 0;
	size_t i, n = 0;

	assert_int_equal(strlen(jti), 28);
	for (i = 0; i < 12; i++) {
		if (!((jti[i] >= '0' && jti[i] <= '9') ||
		    (jti[i] >= 'a' && jti[i] <= 'f')))
			fail_msg("jti '%s': char %zu is not lowercase hex",
			    jti, i);
		ms = ms << 4 | (uint64_t)(jti[i] <= '9' ? jti[i] - '0' :
		    jti[i] - 'a' + 10);
	}
	if (ms < lo || ms > hi)
		fail_msg("jti '%s': time %llu ms not in [%llu, %llu]", jti,
		    (unsigned long long)ms, (unsigned long long)lo,
		    (unsigned long long)hi);
	for (i = 12; i < 28; i++)
		if (!((jti[i] >= '0' && jti[i] <= '9') ||
		    (jti[i] >= 'a' && jti[i] <= 'z') ||
		    (jti[i] >= 'A' && jti[i] <= 'Z') ||
		    jti[i] == '-' || jti[i] == '_'))
			fail_msg("jti '%s': char %zu is not base64url", jti, i);
	assert_int_equal(b64url_decode(jti + 12, 16, rnd, &n), 0);
	assert_int_equal(n, 12);
}

/* Commits routes_token_write(m) in a transaction of its own. */
static void
write_committed(struct fx *f, const struct token_minted *m, int track,
    int64_t prune_now)
{
	struct store_txn *txn = NULL;

	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, m, track, prune_now),
	    STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	tlog_committed(f->log);
}

/* The record under key in t, parsed strictly; NULL when there is none. */
static json_t *
get_strict(struct store_txn *txn, enum store_table t, const char *key)
{
	const unsigned char *v;
	size_t n;
	enum store_err rc = store_get_raw(txn, t, key, &v, &n);

	if (rc == STORE_NOTFOUND)
		return NULL;
	assert_int_equal(rc, STORE_OK);
	return parse_strict((const char *)v, n);
}

static int
count_one(void *arg, const char *key, size_t keylen,
    const unsigned char *val, size_t vallen)
{
	(void)key;
	(void)keylen;
	(void)val;
	(void)vallen;
	(*(size_t *)arg)++;
	return 0;
}

/* Number of records in t whose key starts with prefix. */
static size_t
count_prefix(struct store_txn *txn, enum store_table t, const char *prefix)
{
	size_t n = 0;

	assert_int_equal(store_scan_raw(txn, t, prefix, 0, 0, count_one, &n),
	    STORE_OK);
	return n;
}

/* The three keys status_track writes for the test token, and the
 * by-consent key older stores also had (c). */
struct out_keys {
	char c[STORE_MAX_KEY + 1], a[STORE_MAX_KEY + 1];
	char p[STORE_MAX_KEY + 1], e[STORE_MAX_KEY + 1];
};

static void
out_keys(struct out_keys *k, const char *consent_id, const char *jti,
    int64_t exp)
{
	snprintf(k->c, sizeof(k->c), "c" STORE_SEP "%s" STORE_SEP "%s",
	    consent_id != NULL ? consent_id : "", jti);
	snprintf(k->a, sizeof(k->a), "a" STORE_SEP "bench-transfer" STORE_SEP
	    "0000000001" STORE_SEP "%s", jti);
	snprintf(k->p, sizeof(k->p), "p" STORE_SEP CLIENT STORE_SEP "%s", jti);
	snprintf(k->e, sizeof(k->e), "e" STORE_SEP "%012lld" STORE_SEP "%s",
	    (long long)exp, jti);
}

/* ---- the claims ---- */

static void
claims_parse_strictly_to_exactly_the_token(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	json_t *c, *want;
	const char *sub;
	uint64_t lo, hi;

	terms(f, &t, CONSENT);
	lo = now_ms48();
	mint_ok(&t, f->log, &m);
	hi = now_ms48();
	assert_jti_form(m.jti, lo, hi);
	c = parse_strict(m.claims, m.claims_len);
	assert_true(json_is_object(c));
	assert_int_equal(json_object_size(c), 12);
	want = expected_claims(f, m.jti, CONSENT);
	assert_json_equal(c, want);
	assert_string_equal(json_string_value(json_object_get(c, "jti")),
	    m.jti);
	/* The subject round-trips byte for byte. */
	sub = json_string_value(json_object_get(c, "sub"));
	assert_non_null(sub);
	assert_int_equal(json_string_length(json_object_get(c, "sub")),
	    strlen(SUBJECT));
	assert_memory_equal(sub, SUBJECT, strlen(SUBJECT));
	/* What m keeps for the commit. */
	assert_int_equal(m.iat, NOW);
	assert_int_equal(m.exp, NOW + TTL);
	assert_int_equal(m.status_index, STATUS_INDEX);
	assert_int_equal(m.version, 1);
	assert_string_equal(m.agreement, "bench-transfer");
	assert_string_equal(m.subject, SUBJECT);
	assert_string_equal(m.client, CLIENT);
	assert_non_null(m.consent_id);
	assert_string_equal(m.consent_id, CONSENT);
	json_decref(want);
	json_decref(c);
	routes_token_minted_free(&m);
}

static void
claims_hash_is_sha256_of_the_claims_text(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	unsigned char h[SHA256_DIGEST_LENGTH];

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	assert_int_equal(m.claims_len, strlen(m.claims));
	SHA256((const unsigned char *)m.claims, m.claims_len, h);
	assert_memory_equal(m.claims_hash, h, sizeof(h));
	routes_token_minted_free(&m);
}

static void
details_slice_is_the_claims_authorization_details(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	json_t *c, *d;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	assert_true(m.details_len > 0);
	assert_true(m.details_off + m.details_len <= m.claims_len);
	c = parse_strict(m.claims, m.claims_len);
	d = parse_strict(m.claims + m.details_off, m.details_len);
	assert_true(json_is_array(d));
	assert_int_equal(json_array_size(d), 1);
	assert_json_equal(d, json_object_get(c, "authorization_details"));
	json_decref(d);
	json_decref(c);
	routes_token_minted_free(&m);
}

static void
record_is_the_claims_with_kid_and_full_status_index(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	json_t *c, *r, *want;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	c = parse_strict(m.claims, m.claims_len);
	r = parse_record(&m);
	want = expected_record(c);
	assert_json_equal(r, want);
	assert_int_equal(json_object_size(r), json_object_size(c) + 2);
	/* The full index, not its position in the list. */
	assert_int_equal(json_integer_value(json_object_get(r,
	    "status_index")), STATUS_INDEX);
	assert_true(STATUS_INDEX != STATUS_INDEX % STATUS_LIST_CAP);
	json_decref(want);
	json_decref(r);
	json_decref(c);
	routes_token_minted_free(&m);
}

static void
without_consent_there_is_no_consent_id(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	json_t *c, *r, *want;

	terms(f, &t, NULL);
	mint_ok(&t, f->log, &m);
	assert_null(m.consent_id);
	c = parse_strict(m.claims, m.claims_len);
	assert_null(json_object_get(c, "consent_id"));
	want = expected_claims(f, m.jti, NULL);
	assert_json_equal(c, want);
	assert_int_equal(json_object_size(c), 11);
	r = parse_record(&m);
	assert_null(json_object_get(r, "consent_id"));
	json_decref(want);
	want = expected_record(c);
	assert_json_equal(r, want);
	json_decref(want);
	json_decref(r);
	json_decref(c);
	routes_token_minted_free(&m);
}

static void
minted_token_owns_copies_of_the_terms_strings(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	char *sub = strdup(SUBJECT), *cl = strdup(CLIENT);
	char *cid = strdup(CONSENT);

	assert_non_null(sub);
	assert_non_null(cl);
	assert_non_null(cid);
	terms(f, &t, cid);
	t.subject = sub;
	t.client = cl;
	mint_ok(&t, f->log, &m);
	/* The terms' strings go; m's stay. */
	memset(sub, 'x', strlen(sub));
	memset(cl, 'x', strlen(cl));
	memset(cid, 'x', strlen(cid));
	free(sub);
	free(cl);
	free(cid);
	assert_string_equal(m.subject, SUBJECT);
	assert_string_equal(m.client, CLIENT);
	assert_string_equal(m.consent_id, CONSENT);
	routes_token_minted_free(&m);
}

static void
minted_free_empties_and_is_idempotent(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m, zero;

	memset(&zero, 0, sizeof(zero));
	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	routes_token_minted_free(&m);
	assert_memory_equal(&m, &zero, sizeof(m));
	routes_token_minted_free(&m);   /* all zeros: nothing to free */
	assert_memory_equal(&m, &zero, sizeof(m));
}

/* routes_token_claims on t fails with *m left all zeros. */
static void
assert_mint_fails(const struct token_terms *t, const struct tlog *log,
    const char *what)
{
	struct token_minted m, zero;

	memset(&m, 0, sizeof(m));
	memset(&zero, 0, sizeof(zero));
	if (routes_token_claims(t, log, &m) != -1)
		fail_msg("%s: routes_token_claims did not fail", what);
	if (memcmp(&m, &zero, sizeof(m)) != 0)
		fail_msg("%s: *m is not all zeros after the failure", what);
}

static void
strings_that_are_not_utf8_are_refused_leaving_m_empty(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	const char *bad_fields[] = {
		"child.given_names", BAD_UTF8, "child.birth_date"
	};
	/* Overlong '/', a lone surrogate (U+D800), above U+10FFFF, a
	 * truncated sequence at the end. */
	static const char *const bad[] = {
		BAD_UTF8, "x\xc0\xaf", "x\xed\xa0\x80", "x\xf4\x90\x80\x80",
		"x\xe2\x82"
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		terms(f, &t, CONSENT);
		t.purpose = bad[i];
		assert_mint_fails(&t, f->log, "purpose");
		terms(f, &t, CONSENT);
		t.subject = bad[i];
		assert_mint_fails(&t, f->log, "subject");
	}
	terms(f, &t, CONSENT);
	t.fields = bad_fields;
	assert_mint_fails(&t, f->log, "field");
	terms(f, &t, CONSENT);
	t.client = BAD_UTF8;
	assert_mint_fails(&t, f->log, "client");
	terms(f, &t, BAD_UTF8);
	assert_mint_fails(&t, f->log, "consent id");
	terms(f, &t, CONSENT);
	t.x5t = BAD_UTF8;
	assert_mint_fails(&t, f->log, "x5t");
	/* kid is only in the record, written after the claims. */
	terms(f, &t, CONSENT);
	t.kid = BAD_UTF8;
	assert_mint_fails(&t, f->log, "kid");
}

static void
agreement_hash_that_is_not_hex_is_refused_leaving_m_empty(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct agreement a = *f->a;

	/* The audit entry, built last, needs the hash as 32 bytes. */
	memset(a.hash, 'z', 64);
	a.hash[64] = '\0';
	terms(f, &t, CONSENT);
	t.a = &a;
	assert_mint_fails(&t, f->log, "agreement hash");
}

static void
two_mints_have_different_jti(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m1, m2;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m1);
	mint_ok(&t, f->log, &m2);
	assert_string_not_equal(m1.jti, m2.jti);
	/* Not only the time: the random parts differ too. */
	assert_string_not_equal(m1.jti + 12, m2.jti + 12);
	assert_memory_not_equal(m1.claims_hash, m2.claims_hash, 32);
	routes_token_minted_free(&m1);
	routes_token_minted_free(&m2);
}

/* ---- the commit ---- */

static void
write_stores_record_log_entry_status_and_subject_index(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m, before;
	struct store_txn *txn = NULL;
	struct le_entry e;
	struct out_keys k;
	const unsigned char *d;
	unsigned char pseudo[32], ahash[32];
	char key[STORE_MAX_KEY + 1], iat_s[24], err[ERRLEN];
	const char *okeys[3];
	json_t *c, *want, *got, *wout, *next;
	uint64_t u, size;
	size_t n, i;
	uint32_t tags;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	memcpy(&before, &m, sizeof(m));
	write_committed(f, &m, 1, NOW);
	/* m is not changed. */
	assert_memory_equal(&m, &before, sizeof(m));

	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	/* The record under its jti: claims, kid, status_index, log_index. */
	c = parse_strict(m.claims, m.claims_len);
	want = expected_record(c);
	assert_int_equal(json_object_set_new(want, "log_index",
	    json_integer(0)), 0);
	got = get_strict(txn, ST_TOKENS, m.jti);
	assert_non_null(got);
	assert_json_equal(got, want);
	json_decref(got);
	got = NULL;
	assert_int_equal(store_get(txn, ST_TOKENS, m.jti, &got), STORE_OK);
	assert_json_equal(got, want);
	json_decref(got);
	json_decref(want);

	/* The audit log entry, the first of the log. */
	assert_int_equal(tlog_size(txn, &size), STORE_OK);
	assert_int_equal(size, 1);
	tlog_entry_key(0, key);
	assert_int_equal(store_get_raw(txn, ST_LOG_ENTRIES, key, &d, &n),
	    STORE_OK);
	assert_int_equal(n, m.entry.len);
	assert_memory_equal(d, m.entry.b, n);
	if (le_decode(d, n, &e, err, sizeof(err)) != 0)
		fail_msg("le_decode: %s", err);
	assert_int_equal(e.type, LE_TOKEN);
	assert_int_equal(e.time, NOW);
	tags = 1u << T_EVENT | 1u << T_ACTOR | 1u << T_AGREEMENT |
	    1u << T_VERSION | 1u << T_AGREEMENT_HASH | 1u << T_CONSENT |
	    1u << T_SUBJECT | 1u << T_FIELDS | 1u << T_EXPIRES | 1u << T_JTI |
	    1u << T_CLAIMS_HASH | 1u << T_CLIENT | 1u << T_PROVIDER |
	    1u << T_PURPOSE;
	assert_int_equal(e.present, tags);
	assert_true(le_str_eq(&e, T_EVENT, "issue"));
	assert_true(le_str_eq(&e, T_ACTOR, CLIENT));
	assert_true(le_str_eq(&e, T_AGREEMENT, "bench-transfer"));
	assert_int_equal(le_get_u64(&e, T_VERSION, &u), 0);
	assert_int_equal(u, 1);
	assert_int_equal(hex_decode(f->a->hash, 64, ahash, sizeof(ahash)), 0);
	assert_memory_equal(e.v[T_AGREEMENT_HASH], ahash, 32);
	assert_true(le_str_eq(&e, T_CONSENT, CONSENT));
	tlog_pseudonym(f->log, SUBJECT, pseudo);
	assert_int_equal(e.n[T_SUBJECT], 32);
	assert_memory_equal(e.v[T_SUBJECT], pseudo, 32);
	assert_true(le_str_eq(&e, T_FIELDS, FIELDS_JOINED));
	assert_int_equal(le_get_u64(&e, T_EXPIRES, &u), 0);
	assert_int_equal(u, (uint64_t)(NOW + TTL));
	assert_true(le_str_eq(&e, T_JTI, m.jti));
	assert_int_equal(e.n[T_CLAIMS_HASH], 32);
	assert_memory_equal(e.v[T_CLAIMS_HASH], m.claims_hash, 32);
	assert_true(le_str_eq(&e, T_CLIENT, CLIENT));
	assert_true(le_str_eq(&e, T_PROVIDER, "dia"));
	assert_true(le_str_eq(&e, T_PURPOSE, PURPOSE));

	/* Outstanding under its agreement version, client and expiry (its
	 * consent finds it through the subject's transfer index). */
	wout = json_pack("{s:I, s:I, s:s, s:I, s:s}",
	    "i", (json_int_t)STATUS_INDEX, "exp", (json_int_t)(NOW + TTL),
	    "a", "bench-transfer", "v", (json_int_t)1, "p", CLIENT);
	assert_non_null(wout);
	out_keys(&k, CONSENT, m.jti, NOW + TTL);
	okeys[0] = k.a;
	okeys[1] = k.p;
	okeys[2] = k.e;
	for (i = 0; i < 3; i++) {
		got = get_strict(txn, ST_STATUS_OUT, okeys[i]);
		if (got == NULL)
			fail_msg("no outstanding-token record under key %zu",
			    i);
		assert_json_equal(got, wout);
		json_decref(got);
	}
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 3);
	json_decref(wout);
	/* The persisted next index moved past it. */
	next = get_strict(txn, ST_STATUS_META, "next");
	assert_non_null(next);
	assert_int_equal(json_integer_value(json_object_get(next, "n")),
	    STATUS_INDEX + 1);
	json_decref(next);

	/* The subject's transfer index. */
	snprintf(iat_s, sizeof(iat_s), "%012lld", (long long)NOW);
	assert_int_equal(store_key3(key, sizeof(key), SUBJECT, iat_s, m.jti),
	    0);
	got = get_strict(txn, ST_SUBJECT_TOKENS, key);
	assert_non_null(got);
	assert_true(json_is_object(got));
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
	assert_int_equal(count_prefix(txn, ST_SUBJECT_TOKENS, ""), 1);

	store_abort(txn);
	json_decref(c);
	routes_token_minted_free(&m);
}

static void
write_without_consent_has_no_consent_anywhere(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	struct le_entry e;
	struct out_keys k;
	const unsigned char *d;
	char key[24], err[ERRLEN];
	json_t *got, *wout;
	size_t n;

	terms(f, &t, NULL);
	mint_ok(&t, f->log, &m);
	write_committed(f, &m, 1, NOW);

	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	got = get_strict(txn, ST_TOKENS, m.jti);
	assert_non_null(got);
	assert_null(json_object_get(got, "consent_id"));
	json_decref(got);
	wout = json_pack("{s:I, s:I, s:s, s:I, s:s}",
	    "i", (json_int_t)STATUS_INDEX, "exp", (json_int_t)(NOW + TTL),
	    "a", "bench-transfer", "v", (json_int_t)1, "p", CLIENT);
	assert_non_null(wout);
	out_keys(&k, NULL, m.jti, NOW + TTL);
	got = get_strict(txn, ST_STATUS_OUT, k.a);
	assert_non_null(got);
	assert_json_equal(got, wout);
	json_decref(got);
	got = get_strict(txn, ST_STATUS_OUT, k.p);
	assert_non_null(got);
	assert_json_equal(got, wout);
	json_decref(got);
	got = get_strict(txn, ST_STATUS_OUT, k.e);
	assert_non_null(got);
	assert_json_equal(got, wout);
	json_decref(got);
	json_decref(wout);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, "c" STORE_SEP), 0);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 3);
	/* No consent in the log entry either. */
	tlog_entry_key(0, key);
	assert_int_equal(store_get_raw(txn, ST_LOG_ENTRIES, key, &d, &n),
	    STORE_OK);
	if (le_decode(d, n, &e, err, sizeof(err)) != 0)
		fail_msg("le_decode: %s", err);
	assert_false(le_has(&e, T_CONSENT));
	assert_true(le_str_eq(&e, T_JTI, m.jti));
	store_abort(txn);
	routes_token_minted_free(&m);
}

static void
write_untracked_skips_status_and_log_index_counts_up(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m1, m2;
	struct store_txn *txn = NULL;
	json_t *r1, *r2;
	uint64_t size;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m1);
	mint_ok(&t, f->log, &m2);
	write_committed(f, &m1, 0, NOW);
	write_committed(f, &m2, 0, NOW);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 0);
	assert_int_equal(count_prefix(txn, ST_SUBJECT_TOKENS, ""), 2);
	assert_int_equal(tlog_size(txn, &size), STORE_OK);
	assert_int_equal(size, 2);
	r1 = get_strict(txn, ST_TOKENS, m1.jti);
	r2 = get_strict(txn, ST_TOKENS, m2.jti);
	assert_non_null(r1);
	assert_non_null(r2);
	assert_int_equal(json_integer_value(json_object_get(r1, "log_index")),
	    0);
	assert_int_equal(json_integer_value(json_object_get(r2, "log_index")),
	    1);
	json_decref(r1);
	json_decref(r2);
	store_abort(txn);
	routes_token_minted_free(&m1);
	routes_token_minted_free(&m2);
}

static void
write_prunes_expired_outstanding_records(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m1, m2;
	struct store_txn *txn = NULL;
	struct out_keys k1, k2;
	const unsigned char *v;
	size_t n;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m1);
	write_committed(f, &m1, 1, NOW);
	/* A minute past the first token's expiry, the next write forgets
	 * it (the second token, minted later, is not yet expired). */
	t.now = NOW + TTL + 60;
	t.status_index = STATUS_INDEX + 1;
	mint_ok(&t, f->log, &m2);
	write_committed(f, &m2, 1, NOW + TTL + 60);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	out_keys(&k1, CONSENT, m1.jti, m1.exp);
	out_keys(&k2, CONSENT, m2.jti, m2.exp);
	assert_int_equal(store_get_raw(txn, ST_STATUS_OUT, k1.a, &v, &n),
	    STORE_NOTFOUND);
	assert_int_equal(store_get_raw(txn, ST_STATUS_OUT, k1.p, &v, &n),
	    STORE_NOTFOUND);
	assert_int_equal(store_get_raw(txn, ST_STATUS_OUT, k1.e, &v, &n),
	    STORE_NOTFOUND);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 3);
	assert_int_equal(store_get_raw(txn, ST_STATUS_OUT, k2.e, &v, &n),
	    STORE_OK);
	/* The token record itself stays. */
	assert_int_equal(store_get_raw(txn, ST_TOKENS, m1.jti, &v, &n),
	    STORE_OK);
	store_abort(txn);
	routes_token_minted_free(&m1);
	routes_token_minted_free(&m2);
}

static void
prune_forgets_up_to_max_expired_tokens_oldest_first(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	size_t i;

	/* Nine tokens, a second apart, untracked pruning (prune_now NOW). */
	for (i = 0; i < 9; i++) {
		terms(f, &t, CONSENT);
		t.now = NOW + (int64_t)i;
		t.status_index = STATUS_INDEX + i;
		mint_ok(&t, f->log, &m);
		write_committed(f, &m, 1, NOW);
		routes_token_minted_free(&m);
	}
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 27);
	/* At most max, and only those expired a minute before now: at
	 * NOW + TTL + 63 the first four. */
	assert_int_equal(status_prune(txn, NOW + TTL + 63, 2), 2);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 21);
	assert_int_equal(status_prune(txn, NOW + TTL + 63, 100), 2);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 15);
	/* More than one batch of the scan. */
	assert_int_equal(status_prune(txn, NOW + TTL + 1000, 100), 5);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 0);
	assert_int_equal(status_prune(txn, NOW + TTL + 1000, 100), 0);
	store_abort(txn);
}

static void
prune_forgets_an_older_stores_by_consent_record_too(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	struct out_keys k;
	const char *keys[4];
	const char *old = "{\"i\":5,\"exp\":1795000000,\"c\":\"" CONSENT
	    "\",\"a\":\"bench-transfer\",\"v\":1,\"p\":\"" CLIENT "\"}";
	const unsigned char *v;
	size_t n, i;

	/* An expired token as an older store tracked it: under its consent
	 * as well, the consent named in the value. */
	out_keys(&k, CONSENT, "0190aaaaaaaaoldtoken", NOW);
	keys[0] = k.c;
	keys[1] = k.a;
	keys[2] = k.p;
	keys[3] = k.e;
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	for (i = 0; i < 4; i++)
		assert_int_equal(store_put_raw(txn, ST_STATUS_OUT, keys[i], old,
		    strlen(old)), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	terms(f, &t, CONSENT);
	t.now = NOW + 61;
	mint_ok(&t, f->log, &m);
	write_committed(f, &m, 1, NOW + 61);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	for (i = 0; i < 4; i++)
		if (store_get_raw(txn, ST_STATUS_OUT, keys[i], &v, &n) !=
		    STORE_NOTFOUND)
			fail_msg("the old record under key %zu was kept", i);
	/* Only the new token's three are left. */
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, ""), 3);
	store_abort(txn);
	routes_token_minted_free(&m);
}

/* ---- revoking a consent finds its tokens through what the write left ---- */

#define OTHER_CONSENT "cns_00000000000000000000000000000002"
#define LIST3 ((uint64_t)3 * STATUS_LIST_CAP)

/* Mints and commits a token about subject under consent_id (NULL: none),
 * issued at iat for ttl seconds, with status index idx. */
static void
issue(struct fx *f, const char *subject, const char *consent_id,
    uint64_t idx, int64_t iat, int ttl)
{
	struct token_terms t;
	struct token_minted m;

	terms(f, &t, consent_id);
	t.subject = subject;
	t.status_index = idx;
	t.now = iat;
	t.ttl = ttl;
	mint_ok(&t, f->log, &m);
	write_committed(f, &m, 1, iat);
	routes_token_minted_free(&m);
}

/* Revokes consent_id (of subject) at now and commits; the count, and the
 * lists changed as compact JSON with sorted keys into vers. */
static size_t
revoke_c(struct fx *f, const char *consent_id, const char *subject,
    int64_t now, char *vers, size_t verslen)
{
	struct store_txn *txn = NULL;
	json_t *v = json_object();
	size_t count = 99;
	char *d;

	assert_non_null(v);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(status_revoke_consent(txn, consent_id, subject, now,
	    v, &count), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(d);
	snprintf(vers, verslen, "%s", d);
	free(d);
	json_decref(v);
	return count;
}

/* The status bits of n indices from first, as a string of '0' and '1'. */
static void
bits(struct fx *f, uint64_t first, size_t n, char *out)
{
	struct store_txn *txn = NULL;
	size_t i;
	int b;

	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	for (i = 0; i < n; i++) {
		b = status_get(txn, first + i);
		assert_true(b == 0 || b == 1);
		out[i] = (char)('0' + b);
	}
	out[n] = '\0';
	store_abort(txn);
}

static void
revoking_a_consent_sets_only_its_unexpired_tokens_bits(void **state)
{
	struct fx *f = *state;
	char vers[128], b[8];

	issue(f, SUBJECT, CONSENT, LIST3 + 0, NOW, TTL);
	issue(f, SUBJECT, CONSENT, LIST3 + 1, NOW + 10, TTL);
	/* The same citizen's other consent, and a token without one. */
	issue(f, SUBJECT, OTHER_CONSENT, LIST3 + 2, NOW + 20, TTL);
	issue(f, SUBJECT, NULL, LIST3 + 3, NOW + 30, TTL);
	/* This consent's token that expired before the revocation. */
	issue(f, SUBJECT, CONSENT, LIST3 + 4, NOW - TTL - 100, TTL);
	/* Someone else's token. */
	issue(f, "someone else", OTHER_CONSENT, LIST3 + 5, NOW + 40, TTL);

	assert_int_equal(revoke_c(f, CONSENT, SUBJECT, NOW + 50, vers,
	    sizeof(vers)), 2);
	assert_string_equal(vers, "{\"3\":1}");
	bits(f, LIST3, 6, b);
	assert_string_equal(b, "110000");
	/* Again: nothing left to revoke, no list changes. */
	assert_int_equal(revoke_c(f, CONSENT, SUBJECT, NOW + 51, vers,
	    sizeof(vers)), 0);
	assert_string_equal(vers, "{}");
	bits(f, LIST3, 6, b);
	assert_string_equal(b, "110000");
	/* The other consent, by its own subject's index. */
	assert_int_equal(revoke_c(f, OTHER_CONSENT, SUBJECT, NOW + 52, vers,
	    sizeof(vers)), 1);
	assert_string_equal(vers, "{\"3\":2}");
	bits(f, LIST3, 6, b);
	assert_string_equal(b, "111000");
}

static void
revoking_a_consent_bumps_each_list_it_changed_once(void **state)
{
	struct fx *f = *state;
	char vers[128], b[8];
	struct store_txn *txn = NULL;
	json_t *lrec;

	issue(f, SUBJECT, CONSENT, LIST3 + STATUS_LIST_CAP - 2, NOW, TTL);
	issue(f, SUBJECT, CONSENT, LIST3 + STATUS_LIST_CAP - 1, NOW + 1, TTL);
	issue(f, SUBJECT, CONSENT, LIST3 + STATUS_LIST_CAP, NOW + 2, TTL);
	assert_int_equal(revoke_c(f, CONSENT, SUBJECT, NOW + 3, vers,
	    sizeof(vers)), 3);
	assert_string_equal(vers, "{\"3\":1,\"4\":1}");
	bits(f, LIST3 + STATUS_LIST_CAP - 2, 4, b);
	assert_string_equal(b, "1110");
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	lrec = get_strict(txn, ST_STATUS_META, "list:4");
	assert_non_null(lrec);
	assert_int_equal(json_integer_value(json_object_get(lrec, "version")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(lrec, "size")), 1);
	json_decref(lrec);
	store_abort(txn);
}

static void
revoking_a_consent_looks_back_the_longest_token_lifetime(void **state)
{
	struct fx *f = *state;
	char vers[128], b[8];
	int ttl = CONFIG_MAX_TOKEN_TTL + 200;

	/* Both still unexpired at NOW, with lifetimes no agreement can
	 * have: the one issued more than the longest lifetime and a minute
	 * before is not looked for, the one just inside is. */
	issue(f, SUBJECT, CONSENT, LIST3 + 0,
	    NOW - CONFIG_MAX_TOKEN_TTL - 61, ttl);
	issue(f, SUBJECT, CONSENT, LIST3 + 1,
	    NOW - CONFIG_MAX_TOKEN_TTL - 59, ttl);
	issue(f, SUBJECT, CONSENT, LIST3 + 2, NOW - 1, TTL);
	assert_int_equal(revoke_c(f, CONSENT, SUBJECT, NOW, vers, sizeof(vers)),
	    2);
	bits(f, LIST3, 3, b);
	assert_string_equal(b, "011");
}

static void
agreement_revocation_after_a_consents_counts_only_the_rest(void **state)
{
	struct fx *f = *state;
	struct store_txn *txn = NULL;
	char vers[128], b[8];
	size_t count = 99;

	issue(f, SUBJECT, CONSENT, LIST3 + 0, NOW, TTL);
	issue(f, SUBJECT, OTHER_CONSENT, LIST3 + 1, NOW + 1, TTL);
	assert_int_equal(revoke_c(f, CONSENT, SUBJECT, NOW + 2, vers,
	    sizeof(vers)), 1);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(status_revoke_agreement(txn, "bench-transfer", 1,
	    NOW + 3, NULL, &count), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	assert_int_equal(count, 1);
	bits(f, LIST3, 2, b);
	assert_string_equal(b, "11");
	/* Its outstanding records are forgotten, so once more finds none. */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(status_revoke_agreement(txn, "bench-transfer", 1,
	    NOW + 4, NULL, &count), STORE_OK);
	assert_int_equal(count, 0);
	assert_int_equal(count_prefix(txn, ST_STATUS_OUT, "a" STORE_SEP), 0);
	store_abort(txn);
}

static void
write_moves_the_counters_forward_only(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	const char *next = "{\"n\":999999999}";
	const char *list = "{\"size\":5,\"version\":7}";
	json_t *got;

	/* A next index already past this token's, and a list record with a
	 * version and a smaller size. */
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_put_raw(txn, ST_STATUS_META, "next", next,
	    strlen(next)), STORE_OK);
	assert_int_equal(store_put_raw(txn, ST_STATUS_META, "list:3", list,
	    strlen(list)), STORE_OK);
	assert_int_equal(store_commit(txn), STORE_OK);
	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	write_committed(f, &m, 1, NOW);
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	got = get_strict(txn, ST_STATUS_META, "next");
	assert_non_null(got);
	assert_int_equal(json_integer_value(json_object_get(got, "n")),
	    999999999);
	json_decref(got);
	got = get_strict(txn, ST_STATUS_META, "list:3");
	assert_non_null(got);
	assert_int_equal(json_integer_value(json_object_get(got, "size")),
	    STATUS_INDEX % STATUS_LIST_CAP + 1);
	assert_int_equal(json_integer_value(json_object_get(got, "version")),
	    7);
	json_decref(got);
	store_abort(txn);
	routes_token_minted_free(&m);
}

static void
write_refuses_a_counter_that_is_not_json(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	struct tlog_mark mark;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	tlog_mark(f->log, &mark);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(store_put_raw(txn, ST_STATUS_META, "list:3",
	    "{\"size\":", 8), STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, &m, 1, NOW),
	    STORE_CORRUPT);
	store_abort(txn);
	tlog_rollback(f->log, &mark);
	routes_token_minted_free(&m);
}

static void
writing_the_same_token_twice_is_store_exists(void **state)
{
	struct fx *f = *state;
	struct token_terms t;
	struct token_minted m;
	struct store_txn *txn = NULL;
	struct tlog_mark mark;
	const unsigned char *v;
	size_t n;

	terms(f, &t, CONSENT);
	mint_ok(&t, f->log, &m);
	tlog_mark(f->log, &mark);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, &m, 1, NOW),
	    STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, &m, 1, NOW),
	    STORE_EXISTS);
	store_abort(txn);
	tlog_rollback(f->log, &mark);
	/* Aborted: nothing of it was kept. */
	assert_int_equal(store_begin(f->s, 0, &txn), STORE_OK);
	assert_int_equal(store_get_raw(txn, ST_TOKENS, m.jti, &v, &n),
	    STORE_NOTFOUND);
	assert_int_equal(count_prefix(txn, ST_LOG_ENTRIES, ""), 0);
	store_abort(txn);
	/* Once committed, a later transaction is refused the same way. */
	write_committed(f, &m, 1, NOW);
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, &m, 1, NOW),
	    STORE_EXISTS);
	store_abort(txn);
	routes_token_minted_free(&m);
}

static void
writing_an_empty_minted_token_is_refused(void **state)
{
	struct fx *f = *state;
	struct token_minted m;
	struct store_txn *txn = NULL;

	memset(&m, 0, sizeof(m));
	assert_int_equal(store_begin(f->s, 1, &txn), STORE_OK);
	assert_int_equal(routes_token_write(f->log, txn, &m, 1, NOW),
	    STORE_CORRUPT);
	assert_int_equal(count_prefix(txn, ST_LOG_ENTRIES, ""), 0);
	store_abort(txn);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(claims_parse_strictly_to_exactly_the_token),
		T(claims_hash_is_sha256_of_the_claims_text),
		T(details_slice_is_the_claims_authorization_details),
		T(record_is_the_claims_with_kid_and_full_status_index),
		T(without_consent_there_is_no_consent_id),
		T(minted_token_owns_copies_of_the_terms_strings),
		T(minted_free_empties_and_is_idempotent),
		T(strings_that_are_not_utf8_are_refused_leaving_m_empty),
		T(agreement_hash_that_is_not_hex_is_refused_leaving_m_empty),
		T(two_mints_have_different_jti),
		T(write_stores_record_log_entry_status_and_subject_index),
		T(write_without_consent_has_no_consent_anywhere),
		T(write_untracked_skips_status_and_log_index_counts_up),
		T(write_prunes_expired_outstanding_records),
		T(prune_forgets_up_to_max_expired_tokens_oldest_first),
		T(prune_forgets_an_older_stores_by_consent_record_too),
		T(revoking_a_consent_sets_only_its_unexpired_tokens_bits),
		T(revoking_a_consent_bumps_each_list_it_changed_once),
		T(revoking_a_consent_looks_back_the_longest_token_lifetime),
		T(agreement_revocation_after_a_consents_counts_only_the_rest),
		T(write_moves_the_counters_forward_only),
		T(write_refuses_a_counter_that_is_not_json),
		T(writing_the_same_token_twice_is_store_exists),
		T(writing_an_empty_minted_token_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
