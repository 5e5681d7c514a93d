/*
 * Integration: the bulk loader (bench/bulkload.c) fills a stopped broker's
 * data directory with what the broker itself writes. The loaded log
 * verifies; the broker then reads the loaded consents, tokens and log
 * entries as it reads its own: consents with the members and receipt of a
 * granted one, a token for a loaded citizen, log entries with the fields
 * of the broker's own entries, token records found by jti at their entry.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "b64.h"
#include "logentry.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
/* 12 grants and 28 tokens: at most 3 a citizen, 4 with the test's own
 * (the agreement allows 5 a day); batches of 7 make several commits. */
#define NCONSENTS 12
#define NTOKENS 28
#define LOAD_TIMEOUT_MS 60000
#define SETTLE_TIMEOUT_MS 10000

static const char *const two_fields[] = { "child.given_names",
	"child.family_name", NULL };

static char vkey[512];
static json_t *summary;         /* bulkload's JSON line on stdout */

#define ARG(s) ((char *)(uintptr_t)(s))

/* ---- helpers ------------------------------------------------------------- */

/*
 * Fails unless a and b have the same members with values of the same
 * types, recursively (for arrays, their first items).
 */
static void
assert_same_shape(const json_t *a, const json_t *b, const char *path)
{
	const char *k;
	json_t *v;
	char sub[512];

	if (json_typeof(a) != json_typeof(b) &&
	    !(json_is_boolean(a) && json_is_boolean(b)))
		fail_msg("%s: a %d, not a %d", path, json_typeof(a),
		    json_typeof(b));
	if (json_is_object(a)) {
		json_object_foreach((json_t *)(uintptr_t)a, k, v) {
			it_fmt(sub, sizeof(sub), "%s.%s", path, k);
			if (json_object_get(b, k) == NULL)
				fail_msg("%s: only in the first", sub);
			assert_same_shape(v, json_object_get(b, k), sub);
		}
		json_object_foreach((json_t *)(uintptr_t)b, k, v)
			if (json_object_get(a, k) == NULL)
				fail_msg("%s.%s: only in the second", path, k);
	} else if (json_is_array(a) && json_array_size(a) > 0 &&
	    json_array_size(b) > 0) {
		it_fmt(sub, sizeof(sub), "%s[0]", path);
		assert_same_shape(json_array_get(a, 0), json_array_get(b, 0), sub);
	}
}

/* The citizen's one consent (GET /v1/consents); new reference. */
static json_t *
only_consent(struct it_server *s, const char *subject)
{
	struct it_resp r;
	json_t *arr, *c;

	it_get(s, NULL, it_citizen_token(s, subject, 0), "/v1/consents", &r);
	assert_status(&r, 200);
	arr = json_object_get(r.json, "consents");
	assert_int_equal(json_array_size(arr), 1);
	c = json_incref(json_array_get(arr, 0));
	it_resp_free(&r);
	return c;
}

/* The jti of the token in a token answer (asserted 200) into out[64]. */
static void
jti_of(const struct it_resp *r, char out[64])
{
	json_t *c;

	assert_status(r, 200);
	c = it_jwt_part(it_jstr(r->json, "access_token"), 1);
	assert_non_null(c);
	it_fmt(out, 64, "%s", it_jstr(c, "jti"));
	json_decref(c);
}

/* GET /v1/log/proof/inclusion?jti= as the auditor; the HTTP status, and
 * the entry's index into *index on 200. */
static long
index_of_jti(const struct it_server *s, const char *jti, int64_t *index)
{
	struct it_resp r;
	char path[256];
	long st;

	it_fmt(path, sizeof(path), "/v1/log/proof/inclusion?jti=%s", jti);
	st = it_get(s, "auditor", NULL, path, &r);
	if (st == 200)
		*index = it_jint(r.json, "index");
	it_resp_free(&r);
	return st;
}

/* Entry i of a GET /v1/log/entries answer, decoded into e (bytes in buf). */
static void
decode_entry(const json_t *entries, size_t i, unsigned char buf[LE_MAX],
    struct le_entry *e)
{
	const char *b64 = it_jstr(json_array_get(entries, i), "data");
	size_t n;
	char err[128];

	if (b64_decoded_max(strlen(b64)) > LE_MAX ||
	    b64_decode(b64, strlen(b64), buf, &n) != 0 ||
	    le_decode(buf, n, e, err, sizeof(err)) != 0)
		fail_msg("log entry %zu does not decode", i);
}

/* Runs argv; fails the test unless it exits 0. Returns stdout (free). */
static char *
run_ok(char *const argv[], long timeout_ms)
{
	char *out = NULL;

	if (it_run_capture(argv, &out, timeout_ms) != 0)
		fail_msg("%s failed; output:\n%s", argv[0], out != NULL ? out :
		    "");
	return out;
}

/* ---- tests ----------------------------------------------------------------- */

IT_TEST(loaded_log_verifies_with_every_grant_and_token)
{
	char ctl[PATH_MAX], audit[PATH_MAX], path[PATH_MAX], *out;
	char *xargv[] = { ctl, ARG("log"), ARG("export"), ARG("--data"),
	    s->data, ARG("--out"), path, NULL };
	char *vargv[] = { audit, ARG("verify"), ARG("--log"), path,
	    ARG("--vkey"), vkey, NULL };

	assert_int_equal(it_jint(summary, "consents"), NCONSENTS);
	assert_int_equal(it_jint(summary, "tokens"), NTOKENS);
	assert_int_equal(it_jint(summary, "log_size"),
	    it_jint(summary, "log_size_before") + NCONSENTS + NTOKENS);
	assert_int_equal(it_bin("consentctl", ctl, sizeof(ctl)), 0);
	assert_int_equal(it_bin("consent-audit", audit, sizeof(audit)), 0);
	it_fmt(path, sizeof(path), "%s/log.export", s->dir);
	free(run_ok(xargv, IT_CMD_TIMEOUT_MS));
	out = run_ok(vargv, IT_CMD_TIMEOUT_MS);
	assert_contains(out, "consent-grant 12,");
	assert_contains(out, "tokens checked: 28 (consent-based 28,");
	assert_contains(out, "result: OK");
	free(out);
}

IT_TEST(loaded_consent_has_the_members_and_receipt_of_a_granted_one)
{
	json_t *loaded = only_consent(s, "b-3"), *hl, *hg, *pl, *pg;
	struct it_resp r;
	char id[64];

	assert_string_equal(it_jstr(loaded, "subject"), "b-3");
	assert_string_equal(it_jstr(loaded, "agreement"), SMARTSTART);
	assert_string_equal(it_jstr(loaded, "state"), "active");
	it_grant(s, "bl-granted-1", SMARTSTART, NULL, NULL, id, &r);
	assert_status(&r, 201);
	assert_same_shape(loaded, r.json, "$");
	hl = it_jwt_part(it_jstr(loaded, "receipt"), 0);
	hg = it_jwt_part(it_jstr(r.json, "receipt"), 0);
	pl = it_jwt_part(it_jstr(loaded, "receipt"), 1);
	pg = it_jwt_part(it_jstr(r.json, "receipt"), 1);
	assert_non_null(hl);
	assert_non_null(pl);
	/* Signed alike (typ, alg, the broker's current key), saying alike. */
	assert_true(json_equal(hl, hg));
	assert_same_shape(pl, pg, "receipt");
	assert_string_equal(it_jstr(pl, "sub"), "b-3");
	assert_string_equal(it_jstr(pl, "jti"), it_jstr(loaded, "id"));
	assert_true(json_equal(json_object_get(json_object_get(pl, "receipt"),
	    "notice"), json_object_get(json_object_get(pg, "receipt"),
	    "notice")));
	json_decref(hl);
	json_decref(hg);
	json_decref(pl);
	json_decref(pg);
	json_decref(loaded);
	it_resp_free(&r);
}

IT_TEST(loaded_citizen_gets_a_token_that_introspects_active)
{
	json_t *c = only_consent(s, "b-5");
	struct it_resp t, r;

	it_token(s, "ird", SMARTSTART, "b-5", PURPOSE, two_fields, &t);
	assert_status(&t, 200);
	it_introspect(s, "dia", it_jstr(t.json, "access_token"), &r);
	assert_status(&r, 200);
	assert_true(json_is_true(json_object_get(r.json, "active")));
	assert_string_equal(it_jstr(r.json, "sub"), "b-5");
	assert_string_equal(it_jstr(r.json, "consent_id"), it_jstr(c, "id"));
	it_resp_free(&t);
	it_resp_free(&r);
	json_decref(c);
}

IT_TEST(loaded_entries_have_the_fields_of_the_brokers_and_tokens_their_records)
{
	int64_t before = it_jint(summary, "log_size_before"), ix = -1, end;
	int64_t size = it_jint(summary, "log_size");
	unsigned char buf[LE_MAX];
	struct le_entry e, grant, token;
	struct it_resp r;
	char id[64], jti[64], path[128];
	size_t i, n;
	int have_grant = 0, have_token = 0;

	/* The broker's own grant and token, and the checkpoint past them. */
	it_grant(s, "bl-granted-2", SMARTSTART, NULL, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, "bl-granted-2", PURPOSE, two_fields, &r);
	jti_of(&r, jti);
	it_resp_free(&r);
	end = it_now_ms() + SETTLE_TIMEOUT_MS;
	while (index_of_jti(s, jti, &ix) == 409 && it_now_ms() < end)
		it_sleep_ms(50);
	assert_true(ix >= size);

	it_fmt(path, sizeof(path), "/v1/log/entries?start=%lld&end=%lld",
	    (long long)before, (long long)ix + 1);
	it_get(s, "auditor", NULL, path, &r);
	assert_status(&r, 200);
	n = json_array_size(json_object_get(r.json, "entries"));
	assert_int_equal(n, ix + 1 - before);
	/* The broker's entries after the load: its grant, then its token. */
	for (i = (size_t)(size - before); i < n; i++) {
		decode_entry(json_object_get(r.json, "entries"), i, buf, &e);
		if (e.type == LE_CONSENT_GRANT && le_str_eq(&e, T_CONSENT, id)) {
			grant = e;
			have_grant = 1;
		}
	}
	decode_entry(json_object_get(r.json, "entries"), n - 1, buf, &token);
	assert_int_equal(token.type, LE_TOKEN);
	have_token = le_str_eq(&token, T_JTI, jti);
	assert_true(have_grant && have_token);
	/* The loaded ones: the grants, then the tokens, with the same fields;
	 * each token's record found by its jti, at its entry. */
	for (i = 0; i < (size_t)(size - before); i++) {
		decode_entry(json_object_get(r.json, "entries"), i, buf, &e);
		if (i < NCONSENTS) {
			assert_int_equal(e.type, LE_CONSENT_GRANT);
			assert_int_equal(e.present, grant.present);
			continue;
		}
		assert_int_equal(e.type, LE_TOKEN);
		assert_int_equal(e.present, token.present);
		assert_true(le_str_eq(&e, T_CLIENT, "ird"));
		assert_int_equal(le_get_str(&e, T_JTI, jti, sizeof(jti)), 0);
		assert_int_equal(index_of_jti(s, jti, &ix), 200);
		assert_int_equal(ix, before + (int64_t)i);
	}
	it_resp_free(&r);
}

/* ---- group setup ------------------------------------------------------------ */

/* A dev data dir, bulk-loaded while no broker runs, then its broker. */
static int
setup(void **state)
{
	char bin[PATH_MAX], ctl[PATH_MAX], *out = NULL;
	struct it_server *s = it_server_new();
	char *largv[] = { bin, ARG("--data"), NULL, ARG("--agreement"),
	    ARG(SMARTSTART), ARG("--consents"), ARG("12"), ARG("--entries"),
	    ARG("40"), ARG("--batch"), ARG("7"), NULL };
	char *vargv[] = { ctl, ARG("log"), ARG("vkey"), ARG("--data"), NULL,
	    NULL };

	if (s == NULL || it_bin("bench/bulkload", bin, sizeof(bin)) != 0 ||
	    it_bin("consentctl", ctl, sizeof(ctl)) != 0)
		return -1;
	largv[2] = s->data;
	vargv[4] = s->data;
	if (it_run_capture(largv, &out, LOAD_TIMEOUT_MS) != 0 ||
	    (summary = json_loads(out, 0, NULL)) == NULL) {
		fprintf(stderr, "bulkload failed; stdout:\n%s\n",
		    out != NULL ? out : "");
		free(out);
		return -1;
	}
	free(out);
	out = NULL;
	if (it_run_capture(vargv, &out, IT_CMD_TIMEOUT_MS) != 0) {
		free(out);
		return -1;
	}
	out[strcspn(out, "\r\n")] = '\0';
	snprintf(vkey, sizeof(vkey), "%s", out);
	free(out);
	s->sets[s->nsets++] = "log_checkpoint_ms=50";
	if (it_server_start(s) != 0)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	json_decref(summary);
	summary = NULL;
	return it_group_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loaded_log_verifies_with_every_grant_and_token),
		cmocka_unit_test(
		    loaded_consent_has_the_members_and_receipt_of_a_granted_one),
		cmocka_unit_test(
		    loaded_citizen_gets_a_token_that_introspects_active),
		cmocka_unit_test(
		    loaded_entries_have_the_fields_of_the_brokers_and_tokens_their_records),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests(tests, setup, teardown));
}
