/*
 * Integration: the token verification snippets of docs/tokens.md, as
 * written there, in Python (jwcrypto) and JavaScript (jose), accept a
 * genuine token from a running broker and refuse every changed one.
 *
 * The token, the JWKS, the requester's certificate (DER) and the changed
 * tokens go to a case file in the server's directory;
 * tests/interop/doc_snippets.py extracts each snippet from the document,
 * runs it once per case behind a prelude that defines its free variables,
 * and answers {case: "accepted" | "refused: Type: message"}. Each refusal
 * must name the check that refused it, so a broken snippet cannot pass
 * for a strict one. A missing python3-jwcrypto, node or node-jose fails
 * the test (scripts/deps.sh installs them).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "jws.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define SUBJECT "interop-test"
#define DOC "docs/tokens.md"
#define RUNNER "tests/interop/doc_snippets.py"
/* Debian's python3-jwcrypto is installed for Debian's python3. */
#define PYTHON "/usr/bin/python3"
/* One runner call: every case, one interpreter (node starts once too). */
#define RUN_TIMEOUT_MS 60000

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/*
 * The cases; expect is "accepted" or a piece of the refusal ("Type:
 * message") that names the check, per language.
 */
struct interop_case {
	const char *name;
	const char *py_expect;
	const char *js_expect;
};

static const struct interop_case cases[] = {
	{ "genuine", "accepted", "accepted" },
	{ "resigned_unchanged", "accepted", "accepted" },
	{ "flipped_signature_byte", "InvalidJWSSignature",
	    "JWSSignatureVerificationFailed" },
	{ "other_key_same_kid", "InvalidJWSSignature",
	    "JWSSignatureVerificationFailed" },
	{ "unknown_kid", "JWTMissingKey", "JWKSNoMatchingKey" },
	{ "alg_none", "Algorithm not allowed", "JOSEAlgNotAllowed" },
	{ "typ_jwt", "ValueError: not an access token (typ)",
	    "unexpected \"typ\" JWT header value" },
	{ "other_issuer", "Invalid 'iss' value", "unexpected \"iss\" claim" },
	{ "other_audience", "Invalid 'aud' value", "unexpected \"aud\" claim" },
	{ "expired", "JWTExpired", "JWTExpired" },
	{ "not_yet_valid", "JWTNotYetValid", "\"nbf\" claim timestamp check" },
	{ "no_exp", "Claim exp is missing", "exp and nbf are required" },
	{ "field_out_of_scope", "fields not in the token's scope",
	    "fields not in the token's scope" },
	{ "other_client_certificate",
	    "token is bound to another client certificate",
	    "token is bound to another client certificate" },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The case file, written once per run by prepare(). */
static char cases_path[PATH_MAX];

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail_msg("%s: cannot create", path);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fail_msg("%s: short write", path);
}

/* Writes DATA/pki/<party>.crt as DER to dir/<party>.der into out. */
static void
write_der(const struct it_server *s, const char *party, const char *dir,
    char out[PATH_MAX])
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
	assert_true(n > 0);
	it_fmt(out, PATH_MAX, "%s/%s.der", dir, party);
	write_file(out, der, (size_t)n);
	OPENSSL_free(der);
	X509_free(c);
}

/* tok with one byte of its signature flipped; caller frees. */
static char *
flip_signature_byte(const char *tok)
{
	const char *dot = strrchr(tok, '.');
	unsigned char sig[128];
	size_t siglen = 0, head;
	char *out;

	assert_non_null(dot);
	dot++;
	assert_true(b64_decoded_max(strlen(dot)) <= sizeof(sig));
	assert_int_equal(b64url_decode(dot, strlen(dot), sig, &siglen), 0);
	assert_int_equal(siglen, 64);
	sig[17] ^= 0x01;
	head = (size_t)(dot - tok);
	out = malloc(head + b64url_encoded_len(siglen) + 1);
	assert_non_null(out);
	memcpy(out, tok, head);
	b64url_encode(sig, siglen, out + head);
	return out;
}

/* claims (borrowed) signed as ES256 with key under kid and typ. */
static char *
sign(EVP_PKEY *key, const char *kid, const char *typ, const json_t *claims)
{
	char *text = json_dumps(claims, JSON_COMPACT), *out = NULL;

	assert_non_null(text);
	assert_int_equal(jws_sign_es256(key, kid, typ, text, strlen(text),
	    &out), JWS_OK);
	free(text);
	return out;
}

/* A copy of claims with its time window moved to [nbf, exp]; exp 0 drops
 * exp. New reference. */
static json_t *
with_window(const json_t *claims, json_int_t nbf, json_int_t exp)
{
	json_t *c = json_deep_copy(claims);

	assert_non_null(c);
	json_object_set_new(c, "iat", json_integer(nbf));
	json_object_set_new(c, "nbf", json_integer(nbf));
	if (exp != 0)
		json_object_set_new(c, "exp", json_integer(exp));
	else
		json_object_del(c, "exp");
	return c;
}

/* The token "header.payload." with alg none and tok's payload. */
static char *
alg_none(const char *tok, const char *kid)
{
	const char *payload = strchr(tok, '.');
	char hdr[256], enc[512], *out;
	size_t plen;

	assert_non_null(payload);
	plen = (size_t)(strchr(payload + 1, '.') - payload);
	it_fmt(hdr, sizeof(hdr), "{\"alg\":\"none\",\"typ\":\"at+jwt\","
	    "\"kid\":\"%s\"}", kid);
	b64url_encode((const unsigned char *)hdr, strlen(hdr), enc);
	out = malloc(strlen(enc) + plen + 2);
	assert_non_null(out);
	snprintf(out, strlen(enc) + plen + 2, "%s%.*s.", enc, (int)plen,
	    payload);
	return out;
}

/* Adds a case: its token written to dir/<name>.jwt. */
static void
add_case(json_t *list, const char *dir, const char *name, const char *tok,
    const char *cert, const char *issuer, const char *party,
    const char *const *fields)
{
	char p[PATH_MAX];
	json_t *f = json_array(), *c;
	size_t i;

	assert_non_null(f);
	for (i = 0; fields[i] != NULL; i++)
		json_array_append_new(f, json_string(fields[i]));
	it_fmt(p, sizeof(p), "%s/%s.jwt", dir, name);
	write_file(p, tok, strlen(tok));
	c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "name", name,
	    "token", p, "cert", cert, "issuer", issuer, "party_id", party,
	    "fields", f);
	assert_non_null(c);
	json_array_append_new(list, c);
}

/*
 * Once per run: a consented subject, a real token for ird, the JWKS, the
 * certificates and the changed tokens, and the case file naming them.
 */
static void
prepare(struct it_server *s)
{
	static const char *const three_fields[] = { "child.given_names",
	    "child.birth_date", "child.family_name", NULL };
	char dir[PATH_MAX], jwks[PATH_MAX], ird[PATH_MAX], msd[PATH_MAX];
	char keyp[PATH_MAX], err[256], issuer[256], other_iss[300];
	struct it_resp r;
	json_t *hdr, *claims, *c, *list, *spec;
	EVP_PKEY *key, *other;
	const char *kid;
	char *tok, *t;
	json_int_t now = (json_int_t)time(NULL);

	if (cases_path[0] != '\0')
		return;
	it_fmt(dir, sizeof(dir), "%s/interop", s->dir);
	if (mkdir(dir, 0700) != 0)
		fail_msg("%s: cannot create", dir);

	it_grant(s, SUBJECT, SMARTSTART, NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, SUBJECT, PURPOSE, two_fields, &r);
	assert_status(&r, 200);
	tok = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(tok);
	it_resp_free(&r);

	it_get(s, NULL, NULL, "/.well-known/jwks.json", &r);
	assert_status(&r, 200);
	it_fmt(jwks, sizeof(jwks), "%s/jwks.json", dir);
	write_file(jwks, r.body, r.len);
	it_resp_free(&r);
	it_get(s, NULL, NULL, "/.well-known/consent-broker", &r);
	assert_status(&r, 200);
	it_fmt(issuer, sizeof(issuer), "%s", it_jstr(r.json, "issuer"));
	it_resp_free(&r);
	it_fmt(other_iss, sizeof(other_iss), "%s/other", issuer);
	write_der(s, "ird", dir, ird);
	write_der(s, "msd", dir, msd);

	hdr = it_jwt_part(tok, 0);
	claims = it_jwt_part(tok, 1);
	assert_non_null(hdr);
	assert_non_null(claims);
	kid = it_jstr(hdr, "kid");
	it_fmt(keyp, sizeof(keyp), "%s/keys/signing/%s.key", s->data, kid);
	key = pki_load_key(keyp, err, sizeof(err));
	if (key == NULL)
		fail_msg("%s: %s", keyp, err);
	other = pki_gen_p256();
	assert_non_null(other);

	list = json_array();
	assert_non_null(list);
	add_case(list, dir, "genuine", tok, ird, issuer, "dia", two_fields);
	t = sign(key, kid, "at+jwt", claims);
	add_case(list, dir, "resigned_unchanged", t, ird, issuer, "dia",
	    two_fields);
	free(t);
	t = flip_signature_byte(tok);
	add_case(list, dir, "flipped_signature_byte", t, ird, issuer, "dia",
	    two_fields);
	free(t);
	t = sign(other, kid, "at+jwt", claims);
	add_case(list, dir, "other_key_same_kid", t, ird, issuer, "dia",
	    two_fields);
	free(t);
	t = sign(key, "not-a-broker-key", "at+jwt", claims);
	add_case(list, dir, "unknown_kid", t, ird, issuer, "dia", two_fields);
	free(t);
	t = alg_none(tok, kid);
	add_case(list, dir, "alg_none", t, ird, issuer, "dia", two_fields);
	free(t);
	t = sign(key, kid, "JWT", claims);
	add_case(list, dir, "typ_jwt", t, ird, issuer, "dia", two_fields);
	free(t);
	add_case(list, dir, "other_issuer", tok, ird, other_iss, "dia",
	    two_fields);
	add_case(list, dir, "other_audience", tok, ird, issuer, "msd",
	    two_fields);
	/* Past and future windows well beyond the snippets' 60 s leeway. */
	c = with_window(claims, now - 900, now - 600);
	t = sign(key, kid, "at+jwt", c);
	add_case(list, dir, "expired", t, ird, issuer, "dia", two_fields);
	json_decref(c);
	free(t);
	c = with_window(claims, now + 600, now + 900);
	t = sign(key, kid, "at+jwt", c);
	add_case(list, dir, "not_yet_valid", t, ird, issuer, "dia",
	    two_fields);
	json_decref(c);
	free(t);
	c = with_window(claims, now, 0);
	t = sign(key, kid, "at+jwt", c);
	add_case(list, dir, "no_exp", t, ird, issuer, "dia", two_fields);
	json_decref(c);
	free(t);
	add_case(list, dir, "field_out_of_scope", tok, ird, issuer, "dia",
	    three_fields);
	add_case(list, dir, "other_client_certificate", tok, msd, issuer,
	    "dia", two_fields);
	assert_int_equal(json_array_size(list), NCASES);

	spec = json_pack("{s:s, s:o}", "jwks", jwks, "cases", list);
	assert_non_null(spec);
	it_fmt(cases_path, sizeof(cases_path), "%s/cases.json", dir);
	assert_int_equal(json_dump_file(spec, cases_path, JSON_INDENT(1)), 0);
	json_decref(spec);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
	json_decref(hdr);
	json_decref(claims);
	free(tok);
}

/* Runs lang's snippet on every case and checks each outcome. */
static void
check_snippet(struct it_server *s, const char *lang)
{
	int js = strcmp(lang, "js") == 0;
	char *argv[] = { (char *)(uintptr_t)PYTHON,
	    (char *)(uintptr_t)RUNNER, (char *)(uintptr_t)lang,
	    (char *)(uintptr_t)DOC, cases_path, NULL };
	char *out = NULL;
	json_t *res;
	size_t i;

	if (access(PYTHON, X_OK) != 0)
		fail_msg("%s is missing: install Debian's python3 "
		    "(scripts/deps.sh does)", PYTHON);
	prepare(s);
	if (it_run_capture(argv, &out, RUN_TIMEOUT_MS) != 0)
		fail_msg("%s %s failed (its reason is above)", RUNNER, lang);
	res = json_loads(out, 0, NULL);
	if (res == NULL)
		fail_msg("%s %s: not JSON: %.1500s", RUNNER, lang, out);
	for (i = 0; i < NCASES; i++) {
		const char *want = js ? cases[i].js_expect : cases[i].py_expect;
		const char *got = it_jstr(res, cases[i].name);

		printf("# %s %s: %s\n", lang, cases[i].name, got);
		if (strcmp(want, "accepted") == 0 ?
		    strcmp(got, "accepted") != 0 :
		    strncmp(got, "refused: ", 9) != 0 ||
		    strstr(got, want) == NULL)
			fail_msg("%s snippet of %s, case %s: got \"%s\", "
			    "expected %s%s", lang, DOC, cases[i].name, got,
			    strcmp(want, "accepted") == 0 ? "" :
			    "a refusal with ", want);
	}
	json_decref(res);
	free(out);
}

IT_TEST(jwcrypto_snippet_accepts_a_genuine_token_and_refuses_changed_ones)
{
	check_snippet(s, "python");
}

IT_TEST(jose_snippet_accepts_a_genuine_token_and_refuses_changed_ones)
{
	check_snippet(s, "js");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    jwcrypto_snippet_accepts_a_genuine_token_and_refuses_changed_ones),
		cmocka_unit_test(
		    jose_snippet_accepts_a_genuine_token_and_refuses_changed_ones),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/interop",
	    tests, it_group_setup, it_group_teardown));
}
