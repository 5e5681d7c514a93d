/* Unit tests for keys/keyset: create, load, thumbprint-named files, JWKS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "keyset.h"
#include "pki.h"

struct fixture {
	char base[256];  /* temporary directory */
	char dir[320];   /* base/keys, the keyset directory */
	char kid[JWK_B64_SHA256_LEN];
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
	char err[256];

	if (f == NULL)
		return -1;
	if (snprintf(f->base, sizeof(f->base), "%s/cb-keyset-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp") >= (int)sizeof(f->base))
		return -1;
	if (mkdtemp(f->base) == NULL ||
	    fsu_join(f->dir, sizeof(f->dir), f->base, "keys") != 0)
		return -1;
	if (keyset_create(f->dir, f->kid, err, sizeof(err)) != 0) {
		fprintf(stderr, "keyset_create: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
file_in(const struct fixture *f, const char *name, char *out, size_t outlen)
{
	assert_int_equal(fsu_join(out, outlen, f->dir, name), 0);
}

/* Writes a new P-256 key as "<its kid>.key"; its kid into kid. */
static void
add_key(const struct fixture *f, char kid[JWK_B64_SHA256_LEN])
{
	EVP_PKEY *k = pki_gen_p256();
	char name[64], path[512];

	assert_non_null(k);
	assert_int_equal(jwk_thumbprint(k, kid), 0);
	snprintf(name, sizeof(name), "%s.key", kid);
	file_in(f, name, path, sizeof(path));
	assert_int_equal(pki_write_key(path, k), 0);
	EVP_PKEY_free(k);
}

static void
set_current(const struct fixture *f, const char *text)
{
	char path[512];

	file_in(f, "current", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, text, strlen(text), 0600, 0), 0);
}

static void
expect_load_fails(const struct fixture *f, const char *why)
{
	char err[512] = "";
	struct keyset *ks = keyset_load(f->dir, err, sizeof(err));

	assert_null(ks);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, why);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
keyset_create_then_load_gives_one_current_key(void **state)
{
	struct fixture *f = *state;
	char err[256], path[512], name[64], tp[JWK_B64_SHA256_LEN];
	struct keyset *ks;
	const char *kid = NULL;
	EVP_PKEY *cur;

	assert_int_equal(strlen(f->kid), 43);
	assert_int_equal(mode_of(f->dir), 0700);
	snprintf(name, sizeof(name), "%s.key", f->kid);
	file_in(f, name, path, sizeof(path));
	assert_int_equal(mode_of(path), 0600);

	ks = keyset_load(f->dir, err, sizeof(err));
	if (ks == NULL)
		fail_msg("%s", err);
	assert_int_equal(keyset_count(ks), 1);
	cur = keyset_current(ks, &kid);
	assert_non_null(cur);
	assert_string_equal(kid, f->kid);
	assert_int_equal(jwk_thumbprint(cur, tp), 0);
	assert_string_equal(tp, f->kid);
	assert_ptr_equal(keyset_find(ks, f->kid), cur);
	assert_null(keyset_find(ks, "no-such-kid"));
	assert_null(keyset_find(ks, NULL));
	keyset_free(ks);
}

static void
keyset_current_file_holds_kid_and_newline(void **state)
{
	struct fixture *f = *state;
	char path[512], want[64], *data = NULL;
	size_t len = 0;

	file_in(f, "current", path, sizeof(path));
	assert_int_equal(fsu_read_file(path, 128, &data, &len), 0);
	snprintf(want, sizeof(want), "%s\n", f->kid);
	assert_string_equal(data, want);
	free(data);
}

static void
keyset_create_refuses_existing_dir(void **state)
{
	struct fixture *f = *state;
	char err[256] = "", kid[JWK_B64_SHA256_LEN] = "";

	errno = 0;
	assert_int_equal(keyset_create(f->dir, kid, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(kid, "");
	errno = 0;
	assert_int_equal(keyset_create(f->base, NULL, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
}

static void
keyset_jwks_lists_every_key_sorted_by_kid(void **state)
{
	struct fixture *f = *state;
	char err[256], k2[JWK_B64_SHA256_LEN], k3[JWK_B64_SHA256_LEN];
	struct keyset *ks;
	json_t *doc, *keys, *jwk;
	const char *kid, *prev = "";
	EVP_PKEY *pub;
	size_t i;

	add_key(f, k2);
	add_key(f, k3);
	ks = keyset_load(f->dir, err, sizeof(err));
	if (ks == NULL)
		fail_msg("%s", err);
	assert_int_equal(keyset_count(ks), 3);
	assert_non_null(strstr(keyset_jwks(ks), f->kid));
	assert_non_null(strstr(keyset_jwks(ks), k2));
	assert_non_null(strstr(keyset_jwks(ks), k3));
	/* "current" still names the first key. */
	keyset_current(ks, &kid);
	assert_string_equal(kid, f->kid);

	doc = jsonu_parse(keyset_jwks(ks), strlen(keyset_jwks(ks)),
	    JSONU_MAX_DEPTH, err, sizeof(err));
	assert_non_null(doc);
	assert_int_equal(json_object_size(doc), 1);
	keys = json_object_get(doc, "keys");
	assert_true(json_is_array(keys));
	assert_int_equal(json_array_size(keys), 3);
	json_array_foreach(keys, i, jwk) {
		assert_int_equal(jsonu_get_str(jwk, "kid", &kid), 0);
		assert_true(strcmp(prev, kid) < 0);
		prev = kid;
		/* Public members only, and each is the key it names. */
		assert_null(json_object_get(jwk, "d"));
		pub = jwk_to_pkey(jwk, err, sizeof(err));
		assert_non_null(pub);
		assert_int_equal(EVP_PKEY_eq(pub, keyset_find(ks, kid)), 1);
		EVP_PKEY_free(pub);
	}
	json_decref(doc);
	keyset_free(ks);
}

static void
keyset_load_fails_when_file_name_is_not_the_thumbprint(void **state)
{
	struct fixture *f = *state;
	char from[512], to[512], name[64], other[JWK_B64_SHA256_LEN];

	/* Renamed to another key's kid (and "current" follows it). */
	snprintf(name, sizeof(name), "%s.key", f->kid);
	file_in(f, name, from, sizeof(from));
	snprintf(other, sizeof(other), "%s", f->kid);
	other[0] = other[0] == 'A' ? 'B' : 'A';
	snprintf(name, sizeof(name), "%s.key", other);
	file_in(f, name, to, sizeof(to));
	assert_int_equal(rename(from, to), 0);
	snprintf(name, sizeof(name), "%s\n", other);
	set_current(f, name);
	expect_load_fails(f, "does not match key thumbprint");
}

static void
keyset_load_fails_when_key_file_is_replaced(void **state)
{
	struct fixture *f = *state;
	char path[512], name[64];
	EVP_PKEY *k = pki_gen_p256();

	/* Another key written under the current key's name. */
	snprintf(name, sizeof(name), "%s.key", f->kid);
	file_in(f, name, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(pki_write_key(path, k), 0);
	expect_load_fails(f, "does not match key thumbprint");
	EVP_PKEY_free(k);
}

static void
keyset_load_fails_on_a_key_that_is_not_p256(void **state)
{
	struct fixture *f = *state;
	char path[512];
	EVP_PKEY *ed = pki_gen_ed25519();

	file_in(f, "ed25519.key", path, sizeof(path));
	assert_int_equal(pki_write_key(path, ed), 0);
	expect_load_fails(f, "not an EC P-256 key");
	EVP_PKEY_free(ed);
}

static void
keyset_load_fails_on_a_file_that_is_not_a_key(void **state)
{
	struct fixture *f = *state;
	char path[512];

	file_in(f, "junk.key", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "junk", 4, 0600, 1), 0);
	expect_load_fails(f, "not a PEM private key");
}

static void
keyset_load_checks_current(void **state)
{
	struct fixture *f = *state;
	char path[512], other[JWK_B64_SHA256_LEN], line[64];
	struct keyset *ks;
	const char *kid;

	/* Without the newline is accepted too. */
	set_current(f, f->kid);
	ks = keyset_load(f->dir, NULL, 0);
	assert_non_null(ks);
	keyset_free(ks);

	/* current may name any key in the directory. */
	add_key(f, other);
	snprintf(line, sizeof(line), "%s\n", other);
	set_current(f, line);
	ks = keyset_load(f->dir, NULL, 0);
	assert_non_null(ks);
	keyset_current(ks, &kid);
	assert_string_equal(kid, other);
	keyset_free(ks);

	snprintf(line, sizeof(line), "%s\n\n", f->kid);
	set_current(f, line);
	expect_load_fails(f, "does not hold one kid");
	snprintf(line, sizeof(line), " %s\n", f->kid);
	set_current(f, line);
	expect_load_fails(f, "does not hold one kid");
	set_current(f, "");
	expect_load_fails(f, "does not hold one kid");
	set_current(f, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	expect_load_fails(f, "names no key");
	file_in(f, "current", path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	expect_load_fails(f, "current");
}

static void
keyset_load_ignores_files_that_are_not_keys(void **state)
{
	struct fixture *f = *state;
	char path[512], err[256];
	struct keyset *ks;

	file_in(f, "README", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "x", 1, 0600, 1), 0);
	file_in(f, "x.key.tmpABCDEF", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "x", 1, 0600, 1), 0);
	file_in(f, ".hidden.key", path, sizeof(path));
	assert_int_equal(fsu_write_file(path, "x", 1, 0600, 1), 0);
	ks = keyset_load(f->dir, err, sizeof(err));
	if (ks == NULL)
		fail_msg("%s", err);
	assert_int_equal(keyset_count(ks), 1);
	keyset_free(ks);
}

static void
keyset_load_fails_on_missing_or_empty_dir(void **state)
{
	struct fixture *f = *state;
	char path[512], err[256] = "";

	assert_int_equal(fsu_join(path, sizeof(path), f->base, "nope"), 0);
	assert_null(keyset_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(fsu_join(path, sizeof(path), f->base, "empty"), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_null(keyset_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "no *.key files"));
}

static void
keyset_load_refuses_more_than_max_keys(void **state)
{
	struct fixture *f = *state;
	char kid[JWK_B64_SHA256_LEN];
	int i;

	for (i = 1; i < KEYSET_MAX_KEYS; i++)
		add_key(f, kid);
	{
		char err[256];
		struct keyset *ks = keyset_load(f->dir, err, sizeof(err));

		if (ks == NULL)
			fail_msg("%s", err);
		assert_int_equal(keyset_count(ks), KEYSET_MAX_KEYS);
		keyset_free(ks);
	}
	add_key(f, kid);
	expect_load_fails(f, "more than");
}

static void
keyset_signs_tokens_that_verify_by_kid(void **state)
{
	struct fixture *f = *state;
	char err[256], *tok = NULL;
	struct keyset *ks = keyset_load(f->dir, err, sizeof(err));
	struct jws_parsed p;
	const char *kid;
	EVP_PKEY *key;

	assert_non_null(ks);
	key = keyset_current(ks, &kid);
	assert_int_equal(jws_sign_es256(key, kid, "at+jwt", "{\"a\":1}", 7,
	    &tok), JWS_OK);
	assert_int_equal(jws_parse(tok, strlen(tok), &p, err, sizeof(err)),
	    JWS_OK);
	assert_non_null(p.kid);
	assert_int_equal(jws_verify_es256(keyset_find(ks, p.kid), &p), JWS_OK);
	jws_parsed_free(&p);
	free(tok);
	keyset_free(ks);
	keyset_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(keyset_create_then_load_gives_one_current_key),
		T(keyset_current_file_holds_kid_and_newline),
		T(keyset_create_refuses_existing_dir),
		T(keyset_jwks_lists_every_key_sorted_by_kid),
		T(keyset_load_fails_when_file_name_is_not_the_thumbprint),
		T(keyset_load_fails_when_key_file_is_replaced),
		T(keyset_load_fails_on_a_key_that_is_not_p256),
		T(keyset_load_fails_on_a_file_that_is_not_a_key),
		T(keyset_load_checks_current),
		T(keyset_load_ignores_files_that_are_not_keys),
		T(keyset_load_fails_on_missing_or_empty_dir),
		T(keyset_load_refuses_more_than_max_keys),
		T(keyset_signs_tokens_that_verify_by_kid),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
