/*
 * Unit tests for client/note: C2SP signed notes with Ed25519 (sign and
 * verify, tampering, wrong keys, names and key IDs), verifier keys (form,
 * key ID, strict parsing), and tlog checkpoint texts (strict parsing).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "b64.h"
#include "note.h"

#define NAME "example.org/log"
#define TEXT "example.org/log\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n"
#define EM_DASH "\xe2\x80\x94"

static EVP_PKEY *
new_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	assert_non_null(k);
	return k;
}

/* A fixed key (RFC 8032 test 1's secret), so key IDs are stable. */
static EVP_PKEY *
fixed_key(void)
{
	unsigned char sk[32];
	EVP_PKEY *k;

	assert_int_equal(hex_decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b3"
	    "26919703bac031cae7f60", 64, sk, 32), 0);
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
	assert_non_null(k);
	return k;
}

static void
vk_of(const char *name, EVP_PKEY *k, struct note_vkey *vk)
{
	assert_int_equal(note_vkey_from_pkey(name, k, vk), 0);
}

static char *
sign(const char *text, const char *name, EVP_PKEY *k)
{
	char *note = NULL;

	assert_int_equal(note_sign(text, name, k, &note), 0);
	assert_non_null(note);
	return note;
}

static int
verify(const char *note, const struct note_vkey *vk, size_t *tlen)
{
	char err[256];
	size_t t;

	return note_verify(note, strlen(note), vk, tlen != NULL ? tlen : &t,
	    err, sizeof(err));
}

/* The signature line's 68 bytes (key ID || signature) of note. */
static void
sig_bytes(const char *note, unsigned char out[68], size_t *off, size_t *len)
{
	const char *line = strstr(note, "\n\n" EM_DASH " "), *sp, *eol;
	size_t n;

	assert_non_null(line);
	sp = strchr(line + 2 + 4, ' ');
	assert_non_null(sp);
	eol = strchr(sp, '\n');
	assert_non_null(eol);
	assert_int_equal(b64_decode(sp + 1, (size_t)(eol - sp - 1), out, &n), 0);
	assert_int_equal(n, 68);
	*off = (size_t)(sp + 1 - note);
	*len = (size_t)(eol - sp - 1);
}

/* note with its 68 signature bytes replaced by raw (new string). */
static char *
with_sig(const char *note, const unsigned char raw[68])
{
	char b64[128], *out;
	size_t off, len;
	unsigned char old[68];

	sig_bytes(note, old, &off, &len);
	b64_encode(raw, 68, b64);
	assert_int_equal(strlen(b64), len);
	out = strdup(note);
	assert_non_null(out);
	memcpy(out + off, b64, len);
	return out;
}

static void
sign_then_verify_round_trips(void **state)
{
	EVP_PKEY *k = new_key();
	struct note_vkey vk;
	char *note;
	size_t tlen = 0;

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	/* text, a blank line, one signature line */
	assert_int_equal(strncmp(note, TEXT "\n" EM_DASH " " NAME " ",
	    strlen(TEXT) + 1 + 4 + strlen(NAME) + 1), 0);
	assert_int_equal(note[strlen(note) - 1], '\n');
	assert_int_equal(verify(note, &vk, &tlen), 0);
	assert_int_equal(tlen, strlen(TEXT));
	free(note);
	EVP_PKEY_free(k);
}

static void
signature_carries_the_key_id_and_a_valid_ed25519_signature(void **state)
{
	EVP_PKEY *k = fixed_key();
	unsigned char raw[68];
	struct note_vkey vk;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char *note;
	size_t off, len;

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	sig_bytes(note, raw, &off, &len);
	assert_memory_equal(raw, vk.keyid, 4);
	/* The signature is over the text bytes exactly (Ed25519 is
	 * deterministic: sign again by hand and compare). */
	{
		unsigned char sig[64];
		size_t sl = 64;

		assert_non_null(c);
		assert_int_equal(EVP_DigestSignInit(c, NULL, NULL, NULL, k), 1);
		assert_int_equal(EVP_DigestSign(c, sig, &sl,
		    (const unsigned char *)TEXT, strlen(TEXT)), 1);
		assert_memory_equal(raw + 4, sig, 64);
	}
	EVP_MD_CTX_free(c);
	free(note);
	EVP_PKEY_free(k);
}

static void
vkey_key_id_is_sha256_of_name_newline_0x01_and_key(void **state)
{
	unsigned char buf[256], md[32];
	EVP_PKEY *k = fixed_key();
	struct note_vkey vk;
	size_t n = strlen(NAME);

	(void)state;
	vk_of(NAME, k, &vk);
	memcpy(buf, NAME, n);
	buf[n] = '\n';
	buf[n + 1] = 0x01;
	memcpy(buf + n + 2, vk.pub, 32);
	SHA256(buf, n + 2 + 32, md);
	assert_memory_equal(vk.keyid, md, 4);
	EVP_PKEY_free(k);
}

static void
vkey_formats_as_name_hex_id_base64_key_and_parses_back(void **state)
{
	EVP_PKEY *k = fixed_key();
	struct note_vkey vk, back;
	unsigned char raw[64];
	char s[512], hex[9], err[256];
	size_t n;

	(void)state;
	vk_of(NAME, k, &vk);
	assert_int_equal(note_vkey_format(&vk, s, sizeof(s)), 0);
	hex_encode(vk.keyid, 4, hex);
	assert_int_equal(strncmp(s, NAME "+", strlen(NAME) + 1), 0);
	assert_int_equal(strncmp(s + strlen(NAME) + 1, hex, 8), 0);
	assert_int_equal(s[strlen(NAME) + 9], '+');
	assert_int_equal(b64_decode(s + strlen(NAME) + 10,
	    strlen(s + strlen(NAME) + 10), raw, &n), 0);
	assert_int_equal(n, 33);
	assert_int_equal(raw[0], 0x01);
	assert_memory_equal(raw + 1, vk.pub, 32);
	assert_int_equal(note_vkey_parse(s, &back, err, sizeof(err)), 0);
	assert_memory_equal(&back, &vk, sizeof(vk));
	/* Too small a buffer is refused, not truncated. */
	assert_int_equal(note_vkey_format(&vk, s, 20), -1);
	EVP_PKEY_free(k);
}

static void
vkey_parse_rejects_malformed_keys(void **state)
{
	EVP_PKEY *k = fixed_key();
	struct note_vkey vk, out;
	char s[512], t[512], err[256];
	size_t idpos = strlen(NAME) + 1, kpos = strlen(NAME) + 10;
	unsigned char raw[33];

	(void)state;
	vk_of(NAME, k, &vk);
	assert_int_equal(note_vkey_format(&vk, s, sizeof(s)), 0);
#define REJECT(str) do {                                                \
		assert_int_equal(note_vkey_parse((str), &out, err,      \
		    sizeof(err)), -1);                                  \
		assert_true(err[0] != '\0');                            \
	} while (0)
	REJECT("");
	REJECT(NAME);
	REJECT(NAME "+0011aabb");
	REJECT("+0011aabb+AQ==");
	/* key ID: one hex digit changed, not hex, wrong length */
	snprintf(t, sizeof(t), "%s", s);
	t[idpos] = t[idpos] == '0' ? '1' : '0';
	REJECT(t);
	snprintf(t, sizeof(t), "%s", s);
	t[idpos + 3] = 'g';
	REJECT(t);
	snprintf(t, sizeof(t), "%.*s%s", (int)idpos + 7, s, s + idpos + 8);
	REJECT(t);
	/* the key: another algorithm byte, a byte short, not base64 */
	raw[0] = 0x02;
	memcpy(raw + 1, vk.pub, 32);
	snprintf(t, sizeof(t), "%.*s", (int)kpos, s);
	b64_encode(raw, 33, t + kpos);
	REJECT(t);
	raw[0] = 0x01;
	b64_encode(raw, 32, t + kpos);
	REJECT(t);
	snprintf(t, sizeof(t), "%s", s);
	t[kpos + 2] = '*';
	REJECT(t);
	/* names with space or '+' */
	snprintf(t, sizeof(t), "exa mple%s", s + strlen(NAME));
	REJECT(t);
	/* another name with the same key ID and key: the ID no longer fits */
	snprintf(t, sizeof(t), "other.org/log%s", s + strlen(NAME));
	REJECT(t);
#undef REJECT
	assert_int_equal(note_vkey_parse(s, &out, err, sizeof(err)), 0);
	EVP_PKEY_free(k);
}

static void
verify_fails_on_tampered_text(void **state)
{
	EVP_PKEY *k = new_key();
	struct note_vkey vk;
	char *note;
	size_t i;

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	/* every byte of the text but the newlines that give its shape */
	for (i = 0; i < strlen(TEXT); i++) {
		if (note[i] == '\n')
			continue;
		note[i] ^= 0x01;
		assert_int_equal(verify(note, &vk, NULL), -1);
		note[i] ^= 0x01;
	}
	assert_int_equal(verify(note, &vk, NULL), 0);
	free(note);
	EVP_PKEY_free(k);
}

static void
verify_fails_with_another_key_of_the_same_name(void **state)
{
	EVP_PKEY *k = new_key(), *k2 = new_key();
	struct note_vkey vk2;
	char *note, err[256];
	size_t t;

	(void)state;
	vk_of(NAME, k2, &vk2);
	note = sign(TEXT, NAME, k);
	assert_int_equal(note_verify(note, strlen(note), &vk2, &t, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "no signature"));
	/* Even with the key ID forced to match, the signature fails. */
	{
		struct note_vkey vk;

		vk_of(NAME, k, &vk);
		memcpy(vk2.keyid, vk.keyid, 4);
		assert_int_equal(note_verify(note, strlen(note), &vk2, &t, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "does not verify"));
	}
	free(note);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static void
verify_fails_for_another_name_with_the_same_key(void **state)
{
	EVP_PKEY *k = new_key();
	struct note_vkey vk;
	char *note;

	(void)state;
	vk_of("other.org/log", k, &vk);
	note = sign(TEXT, NAME, k);
	assert_int_equal(verify(note, &vk, NULL), -1);
	free(note);
	/* ... and the name is bound into the key ID: a note signed under
	 * the other name does not verify for NAME either. */
	vk_of(NAME, k, &vk);
	note = sign(TEXT, "other.org/log", k);
	assert_int_equal(verify(note, &vk, NULL), -1);
	free(note);
	EVP_PKEY_free(k);
}

static void
verify_fails_on_bad_key_id_or_signature_bytes(void **state)
{
	EVP_PKEY *k = new_key();
	unsigned char raw[68];
	struct note_vkey vk;
	char *note, *bad;
	size_t off, len, i;

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	sig_bytes(note, raw, &off, &len);
	for (i = 0; i < 68; i += (i < 4 ? 1 : 7)) {
		raw[i] ^= 0x80;
		bad = with_sig(note, raw);
		assert_int_equal(verify(bad, &vk, NULL), -1);
		free(bad);
		raw[i] ^= 0x80;
	}
	bad = with_sig(note, raw);
	assert_int_equal(verify(bad, &vk, NULL), 0);
	free(bad);
	free(note);
	EVP_PKEY_free(k);
}

static void
verify_finds_its_line_among_other_signers(void **state)
{
	EVP_PKEY *k = new_key(), *k2 = new_key();
	struct note_vkey vk, vk2;
	char *n1, *n2, *both;
	size_t len;

	(void)state;
	vk_of(NAME, k, &vk);
	vk_of("witness.example/w1", k2, &vk2);
	n1 = sign(TEXT, NAME, k);
	n2 = sign(TEXT, "witness.example/w1", k2);
	/* n1 followed by n2's signature line */
	len = strlen(n1) + strlen(n2);
	both = malloc(len + 1);
	assert_non_null(both);
	snprintf(both, len + 1, "%s%s", n1, n2 + strlen(TEXT) + 1);
	assert_int_equal(verify(both, &vk, NULL), 0);
	assert_int_equal(verify(both, &vk2, NULL), 0);
	free(both);
	free(n1);
	free(n2);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
}

static void
verify_rejects_malformed_notes(void **state)
{
	EVP_PKEY *k = new_key();
	struct note_vkey vk;
	char *note, buf[2048];
	size_t n;

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	n = strlen(note);
	/* no final newline */
	snprintf(buf, sizeof(buf), "%.*s", (int)n - 1, note);
	assert_int_equal(verify(buf, &vk, NULL), -1);
	/* no blank line before the signatures */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)strlen(TEXT), note,
	    note + strlen(TEXT) + 1);
	assert_int_equal(verify(buf, &vk, NULL), -1);
	/* a signature line without the em dash */
	snprintf(buf, sizeof(buf), "%s\n- %s", TEXT,
	    note + strlen(TEXT) + 1 + 4);
	assert_int_equal(verify(buf, &vk, NULL), -1);
	/* a blank line inside the text */
	snprintf(buf, sizeof(buf), "a\n\n%s", note);
	assert_int_equal(verify(buf, &vk, NULL), -1);
	/* a NUL inside */
	memcpy(buf, note, n + 1);
	buf[3] = '\0';
	{
		char err[128];
		size_t t;

		assert_int_equal(note_verify(buf, n, &vk, &t, err, sizeof(err)),
		    -1);
	}
	/* empty, and the text alone */
	assert_int_equal(verify("", &vk, NULL), -1);
	assert_int_equal(verify(TEXT, &vk, NULL), -1);
	free(note);
	/* Signing refuses texts that would not verify. */
	assert_int_equal(note_sign("no newline", NAME, k, &note), -1);
	assert_int_equal(note_sign("a\n\nb\n", NAME, k, &note), -1);
	assert_int_equal(note_sign("", NAME, k, &note), -1);
	assert_int_equal(note_sign(TEXT, "bad name", k, &note), -1);
	assert_null(note);
	EVP_PKEY_free(k);
}

static void
checkpoint_text_and_parse_round_trip(void **state)
{
	struct checkpoint c, back;
	char text[512], err[256];
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.origin, sizeof(c.origin), "%s", NAME);
	c.size = 18446744073709551615ULL;
	for (i = 0; i < 32; i++)
		c.root[i] = (unsigned char)(i * 7);
	assert_int_equal(checkpoint_text(&c, text, sizeof(text)), 0);
	assert_int_equal(strncmp(text, NAME "\n18446744073709551615\n",
	    strlen(NAME) + 22), 0);
	assert_int_equal(checkpoint_parse(text, strlen(text), &back, err,
	    sizeof(err)), 0);
	assert_memory_equal(&back, &c, sizeof(c));
	/* Extension lines after the root are allowed. */
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	    "ext line\n");
	assert_int_equal(checkpoint_parse(text, strlen(text), &back, err,
	    sizeof(err)), 0);
	assert_int_equal(checkpoint_text(&c, text, 40), -1);
}

static void
checkpoint_parse_rejects_nonstrict_texts(void **state)
{
	static const char *const bad[] = {
		NAME "\n042\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n00\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n+42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n-1\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n 42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n18446744073709551616\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n123456789012345678901\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E\n",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/F=\n",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w-_E=\n",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w\n",
		NAME "\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E+AA==\n",
		NAME "\n42\n",
		NAME "\n",
		"\n42\nQHfy5n2Iwijixn9R4FEm0ZrW4VZrG2UshVHPNz6w+/E=\n",
		"",
	};
	struct checkpoint c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (checkpoint_parse(bad[i], strlen(bad[i]), &c, err,
		    sizeof(err)) != -1)
			fail_msg("accepted bad checkpoint %zu: %s", i, bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(checkpoint_parse(NAME "\n0\nQHfy5n2Iwijixn9R4FEm0ZrW4V"
	    "ZrG2UshVHPNz6w+/E=\n", strlen(NAME) + 48, &c, err, sizeof(err)), 0);
	assert_int_equal(c.size, 0);
}

static void
checkpoint_verify_checks_signature_and_origin(void **state)
{
	EVP_PKEY *k = new_key();
	struct note_vkey vk, other;
	struct checkpoint c;
	char *note, err[256];

	(void)state;
	vk_of(NAME, k, &vk);
	note = sign(TEXT, NAME, k);
	assert_int_equal(checkpoint_verify(note, strlen(note), &vk, &c, err,
	    sizeof(err)), 0);
	assert_string_equal(c.origin, NAME);
	assert_int_equal(c.size, 42);
	free(note);
	/* A key named other than the origin verifies the signature, but the
	 * checkpoint is not that log's. */
	vk_of("other.org/log", k, &other);
	note = sign(TEXT, "other.org/log", k);
	assert_int_equal(checkpoint_verify(note, strlen(note), &other, &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "origin"));
	free(note);
	EVP_PKEY_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_then_verify_round_trips),
		cmocka_unit_test(
		    signature_carries_the_key_id_and_a_valid_ed25519_signature),
		cmocka_unit_test(vkey_key_id_is_sha256_of_name_newline_0x01_and_key),
		cmocka_unit_test(
		    vkey_formats_as_name_hex_id_base64_key_and_parses_back),
		cmocka_unit_test(vkey_parse_rejects_malformed_keys),
		cmocka_unit_test(verify_fails_on_tampered_text),
		cmocka_unit_test(verify_fails_with_another_key_of_the_same_name),
		cmocka_unit_test(verify_fails_for_another_name_with_the_same_key),
		cmocka_unit_test(verify_fails_on_bad_key_id_or_signature_bytes),
		cmocka_unit_test(verify_finds_its_line_among_other_signers),
		cmocka_unit_test(verify_rejects_malformed_notes),
		cmocka_unit_test(checkpoint_text_and_parse_round_trip),
		cmocka_unit_test(checkpoint_parse_rejects_nonstrict_texts),
		cmocka_unit_test(checkpoint_verify_checks_signature_and_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
