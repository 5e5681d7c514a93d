/* Unit tests for common/b64: RFC 4648 vectors and strict decoding. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "b64.h"

/* RFC 4648 section 10. */
static const struct {
	const char *in, *b64, *url;
} rfc4648[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};
#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static int
url_dec(const char *s, unsigned char *out, size_t *outlen)
{
	return b64url_decode(s, strlen(s), out, outlen);
}

static int
std_dec(const char *s, unsigned char *out, size_t *outlen)
{
	return b64_decode(s, strlen(s), out, outlen);
}

static void
b64_encodes_rfc4648_vectors(void **state)
{
	char out[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < NVEC; i++) {
		n = strlen(rfc4648[i].in);
		assert_int_equal(b64_encoded_len(n), strlen(rfc4648[i].b64));
		assert_int_equal(b64_encode((const unsigned char *)rfc4648[i].in,
		    n, out), strlen(rfc4648[i].b64));
		assert_string_equal(out, rfc4648[i].b64);
	}
}

static void
b64url_encodes_rfc4648_vectors_unpadded(void **state)
{
	char out[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < NVEC; i++) {
		n = strlen(rfc4648[i].in);
		assert_int_equal(b64url_encoded_len(n), strlen(rfc4648[i].url));
		assert_int_equal(b64url_encode(
		    (const unsigned char *)rfc4648[i].in, n, out),
		    strlen(rfc4648[i].url));
		assert_string_equal(out, rfc4648[i].url);
	}
}

static void
b64_and_b64url_decode_rfc4648_vectors(void **state)
{
	unsigned char out[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < NVEC; i++) {
		n = 99;
		assert_int_equal(std_dec(rfc4648[i].b64, out, &n), 0);
		assert_int_equal(n, strlen(rfc4648[i].in));
		assert_memory_equal(out, rfc4648[i].in, n);
		assert_true(n <= b64_decoded_max(strlen(rfc4648[i].b64)));
		n = 99;
		assert_int_equal(url_dec(rfc4648[i].url, out, &n), 0);
		assert_int_equal(n, strlen(rfc4648[i].in));
		assert_memory_equal(out, rfc4648[i].in, n);
		assert_true(n <= b64_decoded_max(strlen(rfc4648[i].url)));
	}
}

static void
b64url_uses_dash_and_underscore(void **state)
{
	const unsigned char in[] = { 0xfb, 0xff, 0xbf };
	unsigned char out[4];
	char enc[8];
	size_t n;

	(void)state;
	b64url_encode(in, sizeof(in), enc);
	assert_string_equal(enc, "-_-_");
	b64_encode(in, sizeof(in), enc);
	assert_string_equal(enc, "+/+/");
	assert_int_equal(url_dec("-_-_", out, &n), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(url_dec("+/+/", out, &n), -1);
	assert_int_equal(std_dec("-_-_", out, &n), -1);
}

static void
b64url_roundtrips_every_length_and_byte(void **state)
{
	unsigned char in[300], out[300];
	char *enc;
	size_t len, n;

	(void)state;
	for (len = 0; len < sizeof(in); len++)
		in[len] = (unsigned char)(len * 7 + 3);
	for (len = 0; len <= sizeof(in); len++) {
		enc = b64url_encode_alloc(in, len);
		assert_non_null(enc);
		assert_int_equal(strlen(enc), b64url_encoded_len(len));
		assert_true(b64_decoded_max(strlen(enc)) <= sizeof(out));
		assert_int_equal(url_dec(enc, out, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		free(enc);
		enc = b64_encode_alloc(in, len);
		assert_non_null(enc);
		assert_int_equal(std_dec(enc, out, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		free(enc);
	}
}

static void
b64url_rejects_padding(void **state)
{
	unsigned char out[16];
	size_t n;

	(void)state;
	assert_int_equal(url_dec("Zg==", out, &n), -1);
	assert_int_equal(url_dec("Zm8=", out, &n), -1);
	assert_int_equal(url_dec("Zg=", out, &n), -1);
}

static void
b64url_rejects_length_one_mod_four(void **state)
{
	unsigned char out[16];
	size_t n;

	(void)state;
	assert_int_equal(url_dec("Z", out, &n), -1);
	assert_int_equal(url_dec("Zm9vY", out, &n), -1);
}

static void
b64url_rejects_nonzero_trailing_bits(void **state)
{
	unsigned char out[16];
	size_t n;

	(void)state;
	/* "Zg" is "f"; "Zh".."Zv" carry the same byte with stray low bits. */
	assert_int_equal(url_dec("Zg", out, &n), 0);
	assert_int_equal(url_dec("Zh", out, &n), -1);
	assert_int_equal(url_dec("Zv", out, &n), -1);
	assert_int_equal(url_dec("Zm8", out, &n), 0);
	assert_int_equal(url_dec("Zm9", out, &n), -1);
	assert_int_equal(url_dec("Zm-", out, &n), -1);
}

static void
b64url_rejects_whitespace_and_foreign_bytes(void **state)
{
	static const char *const bad[] = { "Zm9v Yg", "Zm9v\nYg", " Zm9v",
		"Zm9v\t", "Zm.v", "Zm9v*A", "Zm\xc3\xa9v" };
	unsigned char out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(url_dec(bad[i], out, &n), -1);
	/* A NUL inside the given length is a foreign byte too. */
	assert_int_equal(b64url_decode("Zm\0v", 4, out, &n), -1);
}

static void
b64_rejects_bad_padding(void **state)
{
	static const char *const bad[] = { "Zg", "Zg=", "Zg===", "Z===",
		"====", "Zg==Zm9v", "Zm=v", "=Zm9", "Zh==", "Zm9=" };
	unsigned char out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(std_dec(bad[i], out, &n), -1);
}

static void
b64_decoded_max_bounds_every_length(void **state)
{
	size_t len;

	(void)state;
	for (len = 0; len < 64; len++) {
		if (len % 4 == 1)
			continue;
		/* The exact decoded length of len unpadded characters. */
		assert_true(b64_decoded_max(len) >= len * 6 / 8);
	}
	assert_int_equal(b64_decoded_max(0), 0);
	assert_int_equal(b64_decoded_max(86), 64);
	assert_int_equal(b64_decoded_max(88), 66);
}

static void
hex_roundtrips_and_accepts_either_case(void **state)
{
	const unsigned char in[] = { 0x00, 0x7f, 0xab, 0xff };
	unsigned char out[4];
	char hex[9];

	(void)state;
	hex_encode(in, sizeof(in), hex);
	assert_string_equal(hex, "007fabff");
	assert_int_equal(hex_decode("007FABff", 8, out, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
}

static void
hex_rejects_wrong_length_and_non_digits(void **state)
{
	unsigned char out[4];

	(void)state;
	assert_int_equal(hex_decode("007fab", 6, out, 4), -1);
	assert_int_equal(hex_decode("007fabff0", 9, out, 4), -1);
	assert_int_equal(hex_decode("007fabfg", 8, out, 4), -1);
	assert_int_equal(hex_decode("007fab f", 8, out, 4), -1);
	assert_int_equal(hex_decode("0x7fabff", 8, out, 4), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(b64_encodes_rfc4648_vectors),
		cmocka_unit_test(b64url_encodes_rfc4648_vectors_unpadded),
		cmocka_unit_test(b64_and_b64url_decode_rfc4648_vectors),
		cmocka_unit_test(b64url_uses_dash_and_underscore),
		cmocka_unit_test(b64url_roundtrips_every_length_and_byte),
		cmocka_unit_test(b64url_rejects_padding),
		cmocka_unit_test(b64url_rejects_length_one_mod_four),
		cmocka_unit_test(b64url_rejects_nonzero_trailing_bits),
		cmocka_unit_test(b64url_rejects_whitespace_and_foreign_bytes),
		cmocka_unit_test(b64_rejects_bad_padding),
		cmocka_unit_test(b64_decoded_max_bounds_every_length),
		cmocka_unit_test(hex_roundtrips_and_accepts_either_case),
		cmocka_unit_test(hex_rejects_wrong_length_and_non_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
