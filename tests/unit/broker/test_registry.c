/* Unit tests for party and agreement records (broker/registry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agreement.h"
#include "policy.h"
#include "registry.h"
#include "store.h"
#include "tmpstore.h"
#include "timeu.h"

#define ERRLEN 512

#define PIN_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define PIN_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define PIN_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static const char agr_doc[] =
	"{\"id\":\"reg-test\",\"version\":1,\"title\":\"Registry test\","
	"\"provider\":\"dia\",\"recipients\":[\"ird\"],"
	"\"purposes\":[\"issue-ird-number\"],"
	"\"fields\":[{\"name\":\"child.given_names\",\"description\":\"G.\"}],"
	"\"legal_basis\":{\"type\":\"consent\"},\"consent\":{\"required\":true},"
	"\"token_ttl_seconds\":300,"
	"\"retention\":{\"days\":30,\"disposal\":\"delete\"},"
	"\"onward_sharing\":{\"allowed\":false}}";

struct fx {
	char dir[64];
	struct store *s;
	struct store_txn *txn;   /* a write transaction, aborted at the end */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->s = tmpstore_open(f->dir, "registry", (size_t)16 << 20);
	assert_int_equal(store_begin(f->s, 1, &f->txn), STORE_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	registry_cache_flush();
	store_abort(f->txn);
	tmpstore_close(f->dir, f->s);
	free(f);
	return 0;
}

static const char *
str(const json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));

	if (s == NULL)
		fail_msg("record has no string \"%s\"", key);
	return s;
}

/* ---- parties ---- */

static void
party_is_found_by_its_pin(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "requester", "auditor", NULL };
	json_t *p = NULL, *pins;
	char id[PARTY_MAX_ID + 1];
	unsigned roles_bits;

	assert_int_equal(registry_put_party(f->txn, "ird", "Inland Revenue",
	    roles, PIN_A), STORE_OK);
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &roles_bits), STORE_OK);
	assert_string_equal(id, "ird");
	assert_int_equal(roles_bits, ROLE_REQUESTER | ROLE_AUDITOR);
	assert_int_equal(store_get(f->txn, ST_PARTIES, id, &p), STORE_OK);
	assert_string_equal(str(p, "id"), "ird");
	assert_string_equal(str(p, "name"), "Inland Revenue");
	pins = json_object_get(p, "pins");
	assert_int_equal(json_array_size(pins), 1);
	assert_string_equal(json_string_value(json_array_get(pins, 0)), PIN_A);
	json_decref(p);
}

static void
unknown_pin_is_not_found(void **state)
{
	struct fx *f = *state;
	char id[PARTY_MAX_ID + 1] = "x";
	unsigned roles = 1;

	assert_int_equal(registry_party_auth(f->txn, PIN_C, id, sizeof(id),
	    &roles), STORE_NOTFOUND);
	assert_string_equal(id, "");
	assert_int_equal(roles, 0);
}

static void
party_without_pin_is_stored(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "registrar", NULL };
	json_t *p = NULL;

	assert_int_equal(registry_put_party(f->txn, "dia", "Internal Affairs",
	    roles, NULL), STORE_OK);
	assert_int_equal(store_get(f->txn, ST_PARTIES, "dia", &p), STORE_OK);
	assert_int_equal(json_array_size(json_object_get(p, "pins")), 0);
	assert_int_equal(json_array_size(json_object_get(p, "roles")), 1);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(p, "roles"), 0)), "registrar");
	json_decref(p);
}

static void
pin_of_another_party_is_refused(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "requester", NULL };
	json_t *p = NULL;
	char id[PARTY_MAX_ID + 1];
	unsigned bits;

	assert_int_equal(registry_put_party(f->txn, "ird", "IRD", roles, PIN_A),
	    STORE_OK);
	assert_int_equal(registry_put_party(f->txn, "msd", "MSD", roles, PIN_A),
	    STORE_EXISTS);
	/* The pin still maps to its owner, and msd was not created. */
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_OK);
	assert_string_equal(id, "ird");
	assert_int_equal(store_get(f->txn, ST_PARTIES, "msd", &p),
	    STORE_NOTFOUND);
}

static void
replacing_party_keeps_pins_and_adds_new_one(void **state)
{
	struct fx *f = *state;
	static const char *const r1[] = { "requester", NULL };
	static const char *const r2[] = { "provider", "requester", NULL };
	json_t *p = NULL, *pins;
	char id[PARTY_MAX_ID + 1];
	unsigned bits;

	assert_int_equal(registry_put_party(f->txn, "ird", "IRD", r1, PIN_A),
	    STORE_OK);
	/* The same pin again is not a conflict and is not listed twice. */
	assert_int_equal(registry_put_party(f->txn, "ird", "IRD", r1, PIN_A),
	    STORE_OK);
	assert_int_equal(registry_put_party(f->txn, "ird", "Inland Revenue", r2,
	    PIN_B), STORE_OK);
	assert_int_equal(registry_party_auth(f->txn, PIN_B, id, sizeof(id),
	    &bits), STORE_OK);
	assert_string_equal(id, "ird");
	assert_int_equal(bits, ROLE_REQUESTER | ROLE_PROVIDER);
	assert_int_equal(store_get(f->txn, ST_PARTIES, "ird", &p), STORE_OK);
	assert_string_equal(str(p, "name"), "Inland Revenue");
	pins = json_object_get(p, "pins");
	assert_int_equal(json_array_size(pins), 2);
	assert_string_equal(json_string_value(json_array_get(pins, 0)), PIN_A);
	assert_string_equal(json_string_value(json_array_get(pins, 1)), PIN_B);
	json_decref(p);
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_OK);
	assert_string_equal(id, "ird");
}

static void
bad_role_is_refused(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "requester", "superuser", NULL };
	json_t *p = NULL;
	char id[PARTY_MAX_ID + 1];
	unsigned bits;

	assert_int_equal(registry_put_party(f->txn, "ird", "IRD", roles, PIN_A),
	    STORE_BADKEY);
	assert_int_equal(store_get(f->txn, ST_PARTIES, "ird", &p),
	    STORE_NOTFOUND);
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_NOTFOUND);
}

static void
bad_party_id_is_refused(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "requester", NULL };
	static const char *const bad[] = {
		"", "IRD", "-ird", "ird_2", "ird 2", "ird" STORE_SEP "x",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (registry_put_party(f->txn, bad[i], "x", roles, NULL) !=
		    STORE_BADKEY)
			fail_msg("party id \"%s\" accepted", bad[i]);
	assert_int_equal(registry_put_party(f->txn, "ird-2", "x", roles, NULL),
	    STORE_OK);
}

/* Writes text as the record under key, as a store of any origin may hold. */
static void
put_raw(struct fx *f, enum store_table t, const char *key, const char *text)
{
	assert_int_equal(store_put_text(f->txn, t, key, text, strlen(text), 0),
	    STORE_OK);
}

static void
party_roles_ignore_unknown_and_non_string(void **state)
{
	struct fx *f = *state;
	char id[PARTY_MAX_ID + 1];
	unsigned bits = 0;

	put_raw(f, ST_PINS, PIN_A, "{\"party\":\"ird\"}");
	put_raw(f, ST_PARTIES, "ird", "{\"id\":\"ird\",\"roles\":[\"admin\",3,"
	    "\"root\",\"provider\",\"a-role-name-longer-than-any-role\"]}");
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_OK);
	assert_int_equal(bits, ROLE_ADMIN | ROLE_PROVIDER);
	/* No roles, or roles that are not an array: none. */
	put_raw(f, ST_PARTIES, "ird", "{\"id\":\"ird\"}");
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_OK);
	assert_int_equal(bits, 0);
	put_raw(f, ST_PARTIES, "ird", "{\"id\":\"ird\",\"roles\":\"admin\"}");
	assert_int_equal(registry_party_auth(f->txn, PIN_A, id, sizeof(id),
	    &bits), STORE_OK);
	assert_int_equal(bits, 0);
	assert_string_equal(id, "ird");
}

static void
party_with_many_pins_is_found_by_each(void **state)
{
	struct fx *f = *state;
	static const char *const roles[] = { "provider", NULL };
	char pin[65], id[PARTY_MAX_ID + 1];
	unsigned bits;
	int i;

	/* Each pin adds a value: 60 of them are more than the lookup's
	 * tokens on the stack. */
	for (i = 0; i < 60; i++) {
		snprintf(pin, sizeof(pin), "%064d", i);
		assert_int_equal(registry_put_party(f->txn, "dia", "DIA", roles,
		    pin), STORE_OK);
	}
	for (i = 0; i < 60; i += 59) {
		snprintf(pin, sizeof(pin), "%064d", i);
		bits = 0;
		assert_int_equal(registry_party_auth(f->txn, pin, id,
		    sizeof(id), &bits), STORE_OK);
		assert_string_equal(id, "dia");
		assert_int_equal(bits, ROLE_PROVIDER);
	}
}

static void
party_records_that_are_not_whole_are_refused(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *pin, *party;   /* the records; NULL: absent */
		enum store_err want;
	} cases[] = {
		{ "{\"party\":\"ghost\"}", NULL, STORE_NOTFOUND },
		{ "not json", "{\"id\":\"ird\"}", STORE_CORRUPT },
		{ "[\"ird\"]", "{\"id\":\"ird\"}", STORE_CORRUPT },
		{ "{\"owner\":\"ird\"}", "{\"id\":\"ird\"}", STORE_CORRUPT },
		{ "{\"party\":3}", "{\"id\":\"ird\"}", STORE_CORRUPT },
		{ "{\"party\":\"\"}", "{\"id\":\"ird\"}", STORE_CORRUPT },
		{ "{\"party\":\"ird\"}", "{\"name\":\"IRD\"}", STORE_CORRUPT },
		{ "{\"party\":\"ird\"}", "{\"id\":\"\"}", STORE_CORRUPT },
		{ "{\"party\":\"ird\"}", "{\"id\":\"ird\",", STORE_CORRUPT },
		{ "{\"party\":\"ird\"}", "{\"id\":\"ird\"}", STORE_OK },
	};
	char id[PARTY_MAX_ID + 1];
	unsigned bits;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_raw(f, ST_PINS, PIN_B, cases[i].pin);
		if (cases[i].party != NULL)
			put_raw(f, ST_PARTIES, "ird", cases[i].party);
		else
			(void)store_del(f->txn, ST_PARTIES, "ird");
		snprintf(id, sizeof(id), "x");
		bits = 7;
		if (registry_party_auth(f->txn, PIN_B, id, sizeof(id), &bits) !=
		    cases[i].want)
			fail_msg("case %zu: not %d", i, (int)cases[i].want);
		assert_string_equal(id, cases[i].want == STORE_OK ? "ird" : "");
		assert_int_equal(bits, 0);
	}
	/* An id that does not fit the caller's buffer. */
	assert_int_equal(registry_party_auth(f->txn, PIN_B, id, 3, &bits),
	    STORE_CORRUPT);
	assert_string_equal(id, "");
	assert_int_equal(registry_party_auth(f->txn, PIN_B, id, 4, &bits),
	    STORE_OK);
	assert_string_equal(id, "ird");
}

/* ---- agreements ---- */

static void
put_version(struct fx *f, const char *id, uint32_t v, const char *state)
{
	json_t *rec = json_pack("{s:s, s:I, s:s}", "id", id, "version",
	    (json_int_t)v, "state", state);

	assert_non_null(rec);
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_OK);
	json_decref(rec);
}

/* Expects the effective version of id to be v in state. */
static void
expect_effective(struct fx *f, const char *id, uint32_t v, const char *state)
{
	json_t *rec = NULL;

	const struct agr_view *av = NULL;

	assert_int_equal(registry_agreement_get(f->txn, id, 0, &rec), STORE_OK);
	assert_non_null(rec);
	assert_int_equal(json_integer_value(json_object_get(rec, "version")), v);
	assert_string_equal(registry_agreement_state(rec), state);
	/* The cached view picks the same version. */
	assert_int_equal(registry_agreement_view(f->txn, id, 0, &av), STORE_OK);
	assert_true(json_equal((json_t *)(uintptr_t)av->rec, rec));
	assert_string_equal(av->state, state);
	registry_agreement_release(av);
	json_decref(rec);
}

static void
effective_version_of_draft_only_is_the_draft(void **state)
{
	struct fx *f = *state;

	put_version(f, "agr", 1, "draft");
	expect_effective(f, "agr", 1, "draft");
}

static void
effective_version_of_drafts_only_is_the_highest(void **state)
{
	struct fx *f = *state;

	put_version(f, "agr", 1, "draft");
	put_version(f, "agr", 2, "draft");
	expect_effective(f, "agr", 2, "draft");
}

static void
effective_version_skips_newer_draft(void **state)
{
	struct fx *f = *state;

	put_version(f, "agr", 1, "active");
	put_version(f, "agr", 2, "draft");
	expect_effective(f, "agr", 1, "active");
}

static void
effective_version_is_newer_active(void **state)
{
	struct fx *f = *state;

	put_version(f, "agr", 1, "superseded");
	put_version(f, "agr", 2, "active");
	put_version(f, "agr", 3, "draft");
	expect_effective(f, "agr", 2, "active");
}

static void
effective_version_may_be_suspended_or_terminated(void **state)
{
	struct fx *f = *state;

	put_version(f, "agr", 1, "superseded");
	put_version(f, "agr", 2, "suspended");
	expect_effective(f, "agr", 2, "suspended");
	put_version(f, "agr", 2, "terminated");
	expect_effective(f, "agr", 2, "terminated");
}

static void
versions_order_numerically(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	put_version(f, "agr", 9, "active");
	put_version(f, "agr", 10, "active");
	put_version(f, "agr", 11, "draft");
	expect_effective(f, "agr", 10, "active");
	assert_int_equal(registry_agreement_latest(f->txn, "agr", &rec),
	    STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(rec, "version")), 11);
	json_decref(rec);
}

static void
agreement_ids_sharing_a_prefix_are_separate(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	put_version(f, "agr-2", 5, "active");
	put_version(f, "agr", 1, "draft");
	put_version(f, "agr-2", 6, "draft");
	expect_effective(f, "agr", 1, "draft");
	assert_int_equal(registry_agreement_latest(f->txn, "agr", &rec),
	    STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(rec, "version")), 1);
	json_decref(rec);
	assert_int_equal(registry_agreement_get(f->txn, "ag", 0, &rec),
	    STORE_NOTFOUND);
	assert_null(rec);
}

static void
latest_is_highest_version_in_any_state(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	assert_int_equal(registry_agreement_latest(f->txn, "agr", &rec),
	    STORE_NOTFOUND);
	assert_null(rec);
	put_version(f, "agr", 1, "active");
	put_version(f, "agr", 2, "draft");
	assert_int_equal(registry_agreement_latest(f->txn, "agr", &rec),
	    STORE_OK);
	assert_int_equal(json_integer_value(json_object_get(rec, "version")), 2);
	assert_string_equal(registry_agreement_state(rec), "draft");
	json_decref(rec);
}

static void
exact_version_is_read(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	put_version(f, "agr", 1, "superseded");
	put_version(f, "agr", 2, "active");
	assert_int_equal(registry_agreement_get(f->txn, "agr", 1, &rec),
	    STORE_OK);
	assert_string_equal(registry_agreement_state(rec), "superseded");
	json_decref(rec);
	assert_int_equal(registry_agreement_get(f->txn, "agr", 3, &rec),
	    STORE_NOTFOUND);
	assert_null(rec);
}

static void
unknown_agreement_is_not_found(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	assert_int_equal(registry_agreement_get(f->txn, "nothing", 0, &rec),
	    STORE_NOTFOUND);
	assert_null(rec);
}

static void
bad_agreement_ids_and_records_are_refused(void **state)
{
	struct fx *f = *state;
	json_t *rec = NULL;

	assert_int_equal(registry_agreement_get(f->txn, "", 0, &rec),
	    STORE_BADKEY);
	assert_int_equal(registry_agreement_get(f->txn, "a\nb", 0, &rec),
	    STORE_BADKEY);
	assert_int_equal(registry_agreement_latest(f->txn, "", &rec),
	    STORE_BADKEY);
	rec = json_pack("{s:s, s:I}", "id", "agr", "version", (json_int_t)0);
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_BADKEY);
	json_decref(rec);
	rec = json_pack("{s:I}", "version", (json_int_t)1);
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_BADKEY);
	json_decref(rec);
	rec = json_pack("{s:s, s:s}", "id", "agr", "version", "1");
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_BADKEY);
	json_decref(rec);
}

static void
agreement_record_round_trips(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN] = "";
	struct agreement *a = agreement_parse(agr_doc, strlen(agr_doc), err,
	    sizeof(err)), *b;
	json_t *rec, *got = NULL;
	int64_t now = 1767225600;   /* 2026-01-01T00:00:00Z */

	if (a == NULL)
		fail_msg("agreement_parse: %s", err);
	rec = registry_agreement_record(a, "draft", "dia", now);
	assert_non_null(rec);
	assert_string_equal(str(rec, "id"), "reg-test");
	assert_string_equal(str(rec, "hash"), a->hash);
	assert_string_equal(str(rec, "submitted_by"), "dia");
	assert_string_equal(str(rec, "submitted_at"), "2026-01-01T00:00:00Z");
	assert_true(json_is_object(json_object_get(rec, "approvals")));
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_OK);
	assert_int_equal(registry_agreement_get(f->txn, "reg-test", 0, &got),
	    STORE_OK);
	assert_string_equal(registry_agreement_state(got), "draft");
	b = registry_agreement_parse(got);
	assert_non_null(b);
	assert_string_equal(b->hash, a->hash);
	assert_int_equal(b->version, 1);
	agreement_free(b);
	json_decref(got);
	json_decref(rec);
	agreement_free(a);

	/* A stored document that no longer validates is not parsed. */
	rec = json_pack("{s:s, s:I, s:s, s:{s:s}}", "id", "x", "version",
	    (json_int_t)1, "state", "draft", "document", "id", "x");
	assert_null(registry_agreement_parse(rec));
	json_object_del(rec, "state");
	assert_null(registry_agreement_state(rec));
	json_decref(rec);
}

static void
views_are_cached_until_the_record_changes(void **state)
{
	struct fx *f = *state;
	char err[ERRLEN] = "";
	struct agreement *a = agreement_parse(agr_doc, strlen(agr_doc), err,
	    sizeof(err));
	const struct agr_view *v1 = NULL, *v2 = NULL, *v3 = NULL;
	json_t *rec;

	if (a == NULL)
		fail_msg("agreement_parse: %s", err);
	rec = registry_agreement_record(a, "draft", "dia", 1767225600);
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_OK);
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 1, &v1),
	    STORE_OK);
	assert_non_null(v1->a);
	assert_string_equal(v1->a->hash, a->hash);
	assert_string_equal(v1->state, "draft");
	/* Unchanged: the same parsed view, by id and version or effective. */
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 0, &v2),
	    STORE_OK);
	assert_ptr_equal(v1, v2);
	registry_agreement_release(v2);
	/* Changed: a new view; the one still held stays as it was. */
	json_object_set_new(rec, "state", json_string("active"));
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_OK);
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 0, &v3),
	    STORE_OK);
	assert_ptr_not_equal(v1, v3);
	assert_string_equal(v3->state, "active");
	assert_string_equal(v1->state, "draft");
	assert_string_equal(v1->a->hash, a->hash);
	registry_agreement_release(v1);
	registry_agreement_release(v3);
	registry_agreement_release(NULL);
	/* A document that no longer validates: a view without an agreement. */
	json_object_set_new(json_object_get(rec, "document"), "fields",
	    json_array());
	assert_int_equal(registry_agreement_put(f->txn, rec), STORE_OK);
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 1, &v1),
	    STORE_OK);
	assert_null(v1->a);
	registry_agreement_release(v1);
	/* Not JSON: corrupt. Unknown: not found. */
	assert_int_equal(store_put_raw(f->txn, ST_AGREEMENTS,
	    "reg-test" STORE_SEP "0000000002", "{nope", 5), STORE_OK);
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 2, &v1),
	    STORE_CORRUPT);
	assert_null(v1);
	assert_int_equal(registry_agreement_view(f->txn, "reg-test", 0, &v1),
	    STORE_CORRUPT);
	assert_int_equal(registry_agreement_view(f->txn, "none", 0, &v1),
	    STORE_NOTFOUND);
	assert_int_equal(registry_agreement_view(f->txn, "a\nb", 0, &v1),
	    STORE_BADKEY);
	registry_cache_flush();
	json_decref(rec);
	agreement_free(a);
}

static void
many_agreements_overflow_the_cache_safely(void **state)
{
	struct fx *f = *state;
	const struct agr_view *held, *v;
	char id[32];
	int i;

	put_version(f, "agr", 1, "active");
	assert_int_equal(registry_agreement_view(f->txn, "agr", 0, &held),
	    STORE_OK);
	/* More versions than the cache holds: the held view survives being
	 * evicted, and every lookup answers right. */
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "many-%d", i);
		put_version(f, id, 1, i % 2 ? "active" : "draft");
		assert_int_equal(registry_agreement_view(f->txn, id, 0, &v),
		    STORE_OK);
		assert_string_equal(v->state, i % 2 ? "active" : "draft");
		registry_agreement_release(v);
	}
	assert_string_equal(held->state, "active");
	registry_agreement_release(held);
	registry_cache_flush();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(views_are_cached_until_the_record_changes),
		T(many_agreements_overflow_the_cache_safely),
		T(party_is_found_by_its_pin),
		T(unknown_pin_is_not_found),
		T(party_without_pin_is_stored),
		T(pin_of_another_party_is_refused),
		T(replacing_party_keeps_pins_and_adds_new_one),
		T(bad_role_is_refused),
		T(bad_party_id_is_refused),
		T(party_roles_ignore_unknown_and_non_string),
		T(party_with_many_pins_is_found_by_each),
		T(party_records_that_are_not_whole_are_refused),
		T(effective_version_of_draft_only_is_the_draft),
		T(effective_version_of_drafts_only_is_the_highest),
		T(effective_version_skips_newer_draft),
		T(effective_version_is_newer_active),
		T(effective_version_may_be_suspended_or_terminated),
		T(versions_order_numerically),
		T(agreement_ids_sharing_a_prefix_are_separate),
		T(latest_is_highest_version_in_any_state),
		T(exact_version_is_read),
		T(unknown_agreement_is_not_found),
		T(bad_agreement_ids_and_records_are_refused),
		T(agreement_record_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
