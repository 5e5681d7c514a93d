/* Unit tests for common/jsonu: strict parsing and RFC 8785 canonical output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"

static json_t *
parse(const char *s, size_t depth, char *err, size_t errlen)
{
	return jsonu_parse(s, strlen(s), depth, err, errlen);
}

/* Parses s (which must succeed) and returns its canonical form. */
static char *
canon_of(const char *s)
{
	char err[160];
	json_t *v = parse(s, JSONU_MAX_DEPTH, err, sizeof(err));
	char *c;

	if (v == NULL)
		fail_msg("parse failed: %s", err);
	c = jsonu_canonical(v);
	json_decref(v);
	return c;
}

static void
assert_canon(const char *in, const char *want)
{
	char *c = canon_of(in);

	assert_non_null(c);
	assert_string_equal(c, want);
	free(c);
}

static void
parse_accepts_objects_arrays_and_scalars(void **state)
{
	static const char *const ok[] = { "{}", "[]", "{\"a\":[1,{\"b\":null}]}",
		"1", "\"s\"", "true", "null", " {\"a\" : 1 }\n" };
	char err[160];
	json_t *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = parse(ok[i], JSONU_MAX_DEPTH, err, sizeof(err));
		if (v == NULL)
			fail_msg("%s: %s", ok[i], err);
		json_decref(v);
	}
}

static void
parse_rejects_duplicate_keys(void **state)
{
	char err[160] = "";

	(void)state;
	assert_null(parse("{\"a\":1,\"a\":2}", 4, err, sizeof(err)));
	assert_non_null(strstr(err, "duplicate"));
	assert_non_null(strstr(err, "line 1 column"));
	assert_null(parse("{\"x\":{\"a\":1,\"b\":2,\"a\":1}}", 4, err,
	    sizeof(err)));
	/* Escaped and raw spellings of one key are one key. */
	assert_null(parse("{\"a\":1,\"\\u0061\":2}", 4, err, sizeof(err)));
}

static void
parse_enforces_depth_bound_exactly(void **state)
{
	char err[160] = "";
	json_t *v;

	(void)state;
	v = parse("[[[{\"a\":1}]]]", 4, err, sizeof(err));
	assert_non_null(v);
	json_decref(v);
	assert_null(parse("[[[[{\"a\":1}]]]]", 4, err, sizeof(err)));
	assert_non_null(strstr(err, "nesting deeper than 4"));
	assert_null(parse("{\"a\":{\"b\":{}}}", 2, err, sizeof(err)));
	v = parse("\"scalar\"", 0, err, sizeof(err));
	assert_non_null(v);
	json_decref(v);
	assert_null(parse("[]", 0, err, sizeof(err)));
}

static void
parse_depth_ignores_brackets_inside_strings(void **state)
{
	char err[160];
	json_t *v;

	(void)state;
	v = parse("{\"[[[[\":\"{{{{\\\"[[[[\"}", 1, err, sizeof(err));
	assert_non_null(v);
	json_decref(v);
	/* An escaped quote does not end the string early. */
	v = parse("[\"\\\"[[[\"]", 1, err, sizeof(err));
	assert_non_null(v);
	json_decref(v);
}

static void
parse_rejects_deep_nesting_before_jansson_recurses(void **state)
{
	char *buf, err[160];
	size_t n = 100000, i;

	(void)state;
	buf = malloc(2 * n + 1);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		buf[i] = '[';
		buf[n + i] = ']';
	}
	buf[2 * n] = '\0';
	assert_null(parse(buf, JSONU_MAX_DEPTH, err, sizeof(err)));
	free(buf);
}

static void
parse_rejects_trailing_data(void **state)
{
	static const char *const bad[] = { "{} x", "{}{}", "1 2", "[1]]",
		"{\"a\":1},", "\"s\"\"t\"" };
	char err[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(parse(bad[i], JSONU_MAX_DEPTH, err, sizeof(err)));
}

static void
parse_rejects_nul_bytes(void **state)
{
	static const char raw[] = "{\"a\":\"x\0y\"}";
	char err[160] = "";

	(void)state;
	assert_null(jsonu_parse(raw, sizeof(raw) - 1, 4, err, sizeof(err)));
	assert_non_null(strstr(err, "NUL"));
	/* A NUL after the value, inside len, is trailing data too. */
	assert_null(jsonu_parse("{}\0", 3, 4, err, sizeof(err)));
	/* And the escaped form, which jansson refuses without JSON_ALLOW_NUL. */
	assert_null(parse("{\"a\":\"x\\u0000y\"}", 4, err, sizeof(err)));
}

static void
parse_rejects_invalid_utf8_and_empty_input(void **state)
{
	char err[160];

	(void)state;
	assert_null(parse("\"\xc3\x28\"", 4, err, sizeof(err)));
	assert_null(parse("\"\xed\xa0\x80\"", 4, err, sizeof(err)));
	assert_null(parse("\"\\ud800\"", 4, err, sizeof(err)));
	assert_null(parse("", 4, err, sizeof(err)));
	assert_null(parse("   ", 4, err, sizeof(err)));
}

static void
parse_reads_exactly_len_bytes(void **state)
{
	char err[160];
	json_t *v;

	(void)state;
	/* The text goes on past len; only "[1]" is parsed. */
	v = jsonu_parse("[1]garbage", 3, 4, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 1);
	json_decref(v);
}

static void
canonical_sorts_keys_and_drops_whitespace(void **state)
{
	(void)state;
	assert_canon("{ \"b\" : 1, \"a\" : [ 1 , 2 ], \"ab\": {\"z\":true,"
	    "\"y\":false,\"x\":null} }",
	    "{\"a\":[1,2],\"ab\":{\"x\":null,\"y\":false,\"z\":true},\"b\":1}");
	assert_canon("{}", "{}");
	assert_canon("[]", "[]");
	assert_canon("[{}, [], \"\"]", "[{},[],\"\"]");
	assert_canon("{\"B\":1,\"a\":2,\"_\":3,\"0\":4}",
	    "{\"0\":4,\"B\":1,\"_\":3,\"a\":2}");
}

static void
canonical_sorts_keys_by_utf16_as_rfc8785_example(void **state)
{
	/*
	 * RFC 8785 section 3.2.3. U+1F600 sorts before U+FB33 in UTF-16 (its
	 * surrogates are 0xD83D 0xDE00) though its UTF-8 bytes sort after.
	 */
	(void)state;
	assert_canon("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
	    "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
	    "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\","
	    "\"\\u0080\":\"Control\","
	    "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
	    "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

static void
canonical_sorts_prefix_keys_first(void **state)
{
	(void)state;
	assert_canon("{\"aa\":1,\"a\":2,\"a\\u0001\":3}",
	    "{\"a\":2,\"a\\u0001\":3,\"aa\":1}");
}

static void
canonical_escapes_strings_as_rfc8785(void **state)
{
	/* RFC 8785 section 3.2.2.2's example string. */
	(void)state;
	assert_canon("\"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"",
	    "\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"");
}

static void
canonical_escapes_every_control_char(void **state)
{
	char in[2], want[16], *c;
	const char *short_form;
	json_t *v;
	int ch, n;

	(void)state;
	for (ch = 1; ch < 0x20; ch++) {
		in[0] = (char)ch;
		in[1] = '\0';
		switch (ch) {
		case '\b': short_form = "\"\\b\""; break;
		case '\t': short_form = "\"\\t\""; break;
		case '\n': short_form = "\"\\n\""; break;
		case '\f': short_form = "\"\\f\""; break;
		case '\r': short_form = "\"\\r\""; break;
		default: short_form = NULL; break;
		}
		if (short_form != NULL)
			n = snprintf(want, sizeof(want), "%s", short_form);
		else
			n = snprintf(want, sizeof(want), "\"\\u00%02x\"", ch);
		assert_true(n > 0 && (size_t)n < sizeof(want));
		v = json_string(in);
		assert_non_null(v);
		c = jsonu_canonical(v);
		assert_non_null(c);
		assert_string_equal(c, want);
		free(c);
		json_decref(v);
	}
}

static void
canonical_keeps_non_ascii_and_del_raw(void **state)
{
	(void)state;
	/* DEL, U+2028, U+2029, a BMP letter and a supplementary one, raw. */
	assert_canon("\"\\u007f\\u2028\\u2029\\u00e9\\ud83d\\ude00/<>&'\"",
	    "\"\x7f\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xf0\x9f\x98\x80/<>&'\"");
}

static void
canonical_writes_nul_in_strings_as_u0000(void **state)
{
	json_t *v = json_stringn("a\0b", 3);
	char *c;

	(void)state;
	assert_non_null(v);
	c = jsonu_canonical(v);
	assert_non_null(c);
	assert_string_equal(c, "\"a\\u0000b\"");
	free(c);
	json_decref(v);
}

static void
canonical_writes_integers_in_decimal(void **state)
{
	(void)state;
	assert_canon("[0,-0,1,-1,42,9007199254740991,-9007199254740991]",
	    "[0,0,1,-1,42,9007199254740991,-9007199254740991]");
}

static void
canonical_refuses_reals(void **state)
{
	json_t *v = json_pack("{s:i,s:[f]}", "a", 1, "b", 1.5);

	(void)state;
	assert_non_null(v);
	assert_null(jsonu_canonical(v));
	json_decref(v);
	v = json_real(1.0);
	assert_null(jsonu_canonical(v));
	json_decref(v);
}

static void
canonical_refuses_integers_beyond_double_precision(void **state)
{
	json_t *v = json_integer(9007199254740992LL);

	(void)state;
	assert_null(jsonu_canonical(v));
	json_decref(v);
	v = json_integer(-9007199254740992LL);
	assert_null(jsonu_canonical(v));
	json_decref(v);
}

static void
canonical_refuses_an_object_that_contains_itself(void **state)
{
	json_t *a = json_object(), *b = json_object();

	(void)state;
	assert_int_equal(json_object_set(a, "b", b), 0);
	/* jansson refuses a direct self-reference, but not this loop. */
	assert_int_equal(json_object_set(b, "a", a), 0);
	assert_null(jsonu_canonical(a));
	json_object_clear(b);
	json_decref(b);
	json_decref(a);
}

static void
canonical_sha256_hex_hashes_the_canonical_text(void **state)
{
	/* sha256 of {"a":1,"b":[true,null,"x"]}, computed with Python hashlib. */
	static const char want[] =
	    "eca8cfb31ab74533e1eb2f4c74d2d55dfe3c79ac704787e54be8647ea7777eb1";
	char err[160], hex[65];
	json_t *v;

	(void)state;
	v = parse("{ \"b\": [true, null, \"x\"], \"a\": 1 }", 4, err,
	    sizeof(err));
	assert_non_null(v);
	assert_int_equal(jsonu_canonical_sha256_hex(v, hex), 0);
	assert_string_equal(hex, want);
	json_decref(v);
	v = json_real(0.5);
	assert_int_equal(jsonu_canonical_sha256_hex(v, hex), -1);
	json_decref(v);
}

static void
getters_report_present_absent_and_wrong_type(void **state)
{
	json_t *o = json_pack("{s:s,s:i,s:b,s:f}", "s", "str", "i", 7, "b", 1,
	    "r", 2.5);
	const char *s = "untouched";
	int64_t i = -5;
	int b = 9;

	(void)state;
	assert_non_null(o);
	assert_int_equal(jsonu_get_str(o, "s", &s), 0);
	assert_string_equal(s, "str");
	assert_int_equal(jsonu_get_int(o, "i", &i), 0);
	assert_int_equal(i, 7);
	assert_int_equal(jsonu_get_bool(o, "b", &b), 0);
	assert_int_equal(b, 1);

	s = "untouched";
	i = -5;
	b = 9;
	assert_int_equal(jsonu_get_str(o, "missing", &s), 1);
	assert_int_equal(jsonu_get_int(o, "missing", &i), 1);
	assert_int_equal(jsonu_get_bool(o, "missing", &b), 1);
	assert_string_equal(s, "untouched");
	assert_int_equal(i, -5);
	assert_int_equal(b, 9);

	assert_int_equal(jsonu_get_str(o, "i", &s), -1);
	assert_int_equal(jsonu_get_int(o, "r", &i), -1);
	assert_int_equal(jsonu_get_int(o, "s", &i), -1);
	assert_int_equal(jsonu_get_bool(o, "i", &b), -1);
	json_decref(o);
}

static void
dump_is_compact_in_insertion_order(void **state)
{
	json_t *o = json_pack("{s:i,s:[s,b]}", "z", 1, "a", "x", 0);
	char *s;

	(void)state;
	assert_non_null(o);
	s = jsonu_dump(o);
	assert_non_null(s);
	assert_string_equal(s, "{\"z\":1,\"a\":[\"x\",false]}");
	free(s);
	json_decref(o);
}

/* ---- struct jsonu_buf ---- */

/* Largest integer jsonu_canonical writes (2^53 - 1). */
#define MAX_SAFE 9007199254740991LL

static void
assert_buf_zeroed(const struct jsonu_buf *b)
{
	assert_null(b->p);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_int_equal(b->failed, 0);
}

/* {"k":<s>,"n":<n>} written with the jsonu_buf API; caller frees. */
static char *
buf_object(const char *s, int64_t n, size_t *len)
{
	struct jsonu_buf b = { 0 };
	char *text;

	jsonu_buf_lit(&b, "{\"k\":");
	jsonu_buf_str(&b, s);
	jsonu_buf_lit(&b, ",\"n\":");
	jsonu_buf_int(&b, n);
	jsonu_buf_lit(&b, "}");
	text = jsonu_buf_take(&b, len);
	assert_buf_zeroed(&b);
	return text;
}

/*
 * Writes {"k":s,"n":n}, parses it back with jansson (plain and rejecting
 * duplicates) and checks both members, byte for byte; then checks the text
 * is exactly jsonu_canonical of the same object (its keys already sorted).
 */
static void
assert_buf_round_trip(const char *s, int64_t n)
{
	static const size_t flags[] = { 0, JSON_REJECT_DUPLICATES };
	json_error_t jerr;
	json_t *v, *k, *o;
	size_t len = (size_t)-1, i;
	char *text, *c;

	text = buf_object(s, n, &len);
	if (text == NULL) {
		char hex[2 * 200 + 1];

		for (i = 0; s[i] != '\0' && i < 200; i++)
			snprintf(hex + 2 * i, 3, "%02x", (unsigned char)s[i]);
		hex[2 * i] = '\0';
		fail_msg("jsonu_buf_take returned NULL for string %s", hex);
	}
	assert_int_equal(len, strlen(text));
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		v = json_loads(text, flags[i], &jerr);
		if (v == NULL)
			fail_msg("json_loads(%s): %s", text, jerr.text);
		assert_true(json_is_object(v));
		assert_int_equal(json_object_size(v), 2);
		k = json_object_get(v, "k");
		assert_true(json_is_string(k));
		assert_int_equal(json_string_length(k), strlen(s));
		assert_memory_equal(json_string_value(k), s, strlen(s));
		assert_true(json_is_integer(json_object_get(v, "n")));
		assert_true(json_integer_value(json_object_get(v, "n")) == n);
		json_decref(v);
	}
	o = json_object();
	assert_non_null(o);
	k = json_string(s);
	assert_non_null(k);
	assert_int_equal(json_object_set_new(o, "k", k), 0);
	assert_int_equal(json_object_set_new(o, "n", json_integer(n)), 0);
	c = jsonu_canonical(o);
	assert_non_null(c);
	assert_string_equal(text, c);
	free(c);
	json_decref(o);
	free(text);
}

static void
buf_round_trips_tricky_strings_through_jansson(void **state)
{
	static const char *const strs[] = {
		"",
		"plain ASCII text, 0-9 and ~!@#$%^&*()_+{}[]:;'<>,.?",
		"\"", "\\", "/", "\"\\/\"\\/",
		"\x7f", "a\x7f" "b",
		"\xc2\x80",                     /* U+0080 */
		"\xdf\xbf",                     /* U+07FF */
		"\xe0\xa0\x80",                 /* U+0800 */
		"\xed\x9f\xbf",                 /* U+D7FF, below the surrogates */
		"\xee\x80\x80",                 /* U+E000, above them */
		"\xef\xbf\xbf",                 /* U+FFFF */
		"\xf0\x90\x80\x80",             /* U+10000 */
		"\xf4\x8f\xbf\xbf",             /* U+10FFFF */
		"\xe2\x80\xa8\xe2\x80\xa9",     /* U+2028 U+2029 */
		"a\"b\\c/d\x01" "e\xc3\xa9\xf0\x9f\x98\x80\n\x1f\x7f",
	};
	static const int64_t ints[] = { 0, -1, 1, 42, MAX_SAFE, -MAX_SAFE };
	char one[2], all[32];
	size_t i, ni = sizeof(ints) / sizeof(ints[0]);
	int ch;

	(void)state;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		assert_buf_round_trip(strs[i], ints[i % ni]);
	/* Every control character alone, and all of them in one string. */
	for (ch = 1; ch < 0x20; ch++) {
		one[0] = (char)ch;
		one[1] = '\0';
		assert_buf_round_trip(one, ch);
		all[ch - 1] = (char)ch;
	}
	all[0x1f] = '\0';
	assert_buf_round_trip(all, -0x1f);
}

/* The exact text of jsonu_buf_str(s), a string written alone. */
static void
assert_buf_str_text(const char *s, const char *want)
{
	struct jsonu_buf b = { 0 };
	char *text;

	jsonu_buf_str(&b, s);
	text = jsonu_buf_take(&b, NULL);
	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

static void
buf_str_writes_minimal_rfc8785_escapes(void **state)
{
	(void)state;
	assert_buf_str_text("", "\"\"");
	assert_buf_str_text("\"", "\"\\\"\"");
	assert_buf_str_text("\\", "\"\\\\\"");
	assert_buf_str_text("/", "\"/\"");
	assert_buf_str_text("\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\"");
	assert_buf_str_text("\x01\x0b\x1f", "\"\\u0001\\u000b\\u001f\"");
	assert_buf_str_text("\x7f<>&'", "\"\x7f<>&'\"");
	assert_buf_str_text("\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf",
	    "\"\xc2\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
}

/* xorshift64*: a fixed seed makes the test repeatable. */
static uint64_t
rnd_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

/* UTF-8 of code point cp (not a surrogate, not 0) into out; its length. */
static size_t
utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random code point, biased to each UTF-8 length and the edge cases. */
static uint32_t
rnd_code_point(uint64_t *x)
{
	static const uint32_t edge[] = { 0x01, 0x08, 0x09, 0x0a, 0x0c, 0x0d,
		0x1f, 0x20, '"', '\\', '/', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff,
		0xe000, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff };
	uint32_t cp;

	for (;;) {
		switch (rnd_next(x) % 5) {
		case 0: cp = 1 + (uint32_t)(rnd_next(x) % 0x7f); break;
		case 1: cp = 0x80 + (uint32_t)(rnd_next(x) % 0x780); break;
		case 2: cp = 0x800 + (uint32_t)(rnd_next(x) % 0xf800); break;
		case 3: cp = 0x10000 + (uint32_t)(rnd_next(x) % 0x100000); break;
		default:
			cp = edge[rnd_next(x) % (sizeof(edge) / sizeof(edge[0]))];
			break;
		}
		if (cp < 0xd800 || cp > 0xdfff)
			return cp;
	}
}

static void
buf_round_trips_random_utf8_strings(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char s[40 * 4 + 1];
	size_t len, k, ncp;
	int64_t n;
	int iter;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		ncp = (size_t)(rnd_next(&x) % 41);
		for (len = 0, k = 0; k < ncp; k++)
			len += utf8_encode(rnd_code_point(&x), s + len);
		s[len] = '\0';
		n = (int64_t)(rnd_next(&x) % (2 * (uint64_t)MAX_SAFE + 1)) -
		    MAX_SAFE;
		assert_buf_round_trip(s, n);
	}
}

static const char *const ill_formed[] = {
	"\x80",                         /* lone continuation byte */
	"\xbf",
	"\xc0\x80",                     /* overlong 2-byte (NUL) */
	"\xc1\xbf",                     /* overlong 2-byte (U+007F) */
	"\xe0\x80\x80",                 /* overlong 3-byte */
	"\xe0\x9f\xbf",                 /* overlong 3-byte (U+07FF) */
	"\xed\xa0\x80",                 /* surrogate U+D800 */
	"\xed\xbf\xbf",                 /* surrogate U+DFFF */
	"\xed\xa0\xbd\xed\xb8\x80",     /* surrogate pair (CESU-8) */
	"\xf0\x80\x80\x80",             /* overlong 4-byte */
	"\xf0\x8f\xbf\xbf",             /* overlong 4-byte (U+FFFF) */
	"\xf4\x90\x80\x80",             /* U+110000 */
	"\xf5\x80\x80\x80",
	"\xf7\xbf\xbf\xbf",
	"\xf8\x88\x80\x80\x80",         /* 5-byte form */
	"\xfc\x84\x80\x80\x80\x80",     /* 6-byte form */
	"\xfe", "\xff",
	"\xc3",                         /* truncated at the end */
	"\xe2\x82",
	"\xf0\x9f\x98",
	"a\xe2\x82",
	"\xc3\x28",                     /* continuation missing mid-string */
	"\xe2\x28\xa1",
	"\xe2\x82\x28",
	"\xf0\x9f\x28\x80",
	"\xf0\x9f\x98\x28",
	"abc\xc3\xa9\x80",              /* valid prefix, then bad bytes */
	"\xe2\x82\xac\xe2\x82",
	"ok \"\\/\n\xff ok",
	"\xc3\xa9\xed\xa0\x80x",
	"\xf4\x8f\xbf\xbf\xf4\x90\x80\x80",
};

/* After a failed append: later ones keep it failed; take gives NULL. */
static void
assert_failed_for_good(struct jsonu_buf *b, const char *what)
{
	size_t len = 0;
	char *text;

	if (!b->failed)
		fail_msg("%s: buffer not failed", what);
	jsonu_buf_str(b, "fine");
	jsonu_buf_lit(b, "}");
	jsonu_buf_raw(b, "x", 1);
	jsonu_buf_int(b, 7);
	if (!b->failed)
		fail_msg("%s: a later append cleared the failure", what);
	text = jsonu_buf_take(b, &len);
	if (text != NULL)
		fail_msg("%s: take returned \"%s\"", what, text);
	assert_buf_zeroed(b);
	/* The emptied buffer can be used again. */
	jsonu_buf_str(b, "again");
	text = jsonu_buf_take(b, &len);
	assert_non_null(text);
	assert_string_equal(text, "\"again\"");
	assert_int_equal(len, 7);
	assert_buf_zeroed(b);
	free(text);
}

static void
buf_str_refuses_ill_formed_utf8_for_good(void **state)
{
	struct jsonu_buf b = { 0 };
	char what[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ill_formed) / sizeof(ill_formed[0]); i++) {
		/* As the first append, on a buffer with nothing allocated. */
		snprintf(what, sizeof(what), "ill_formed[%zu] first", i);
		jsonu_buf_str(&b, ill_formed[i]);
		assert_failed_for_good(&b, what);
		/* After valid text. */
		snprintf(what, sizeof(what), "ill_formed[%zu] later", i);
		jsonu_buf_lit(&b, "{\"a\":");
		jsonu_buf_str(&b, "\xc3\xa9");
		jsonu_buf_lit(&b, ",\"k\":");
		assert_int_equal(b.failed, 0);
		jsonu_buf_str(&b, ill_formed[i]);
		assert_failed_for_good(&b, what);
	}
}

static void
buf_str_of_null_fails_the_buffer(void **state)
{
	struct jsonu_buf b = { 0 };

	(void)state;
	jsonu_buf_str(&b, NULL);
	assert_failed_for_good(&b, "NULL first");
	jsonu_buf_lit(&b, "{\"k\":");
	jsonu_buf_str(&b, NULL);
	assert_failed_for_good(&b, "NULL later");
}

/* The exact text of jsonu_buf_int(v) written alone. */
static void
assert_buf_int_text(int64_t v, const char *want)
{
	struct jsonu_buf b = { 0 };
	size_t len = 0;
	char *text;

	jsonu_buf_int(&b, v);
	text = jsonu_buf_take(&b, &len);
	assert_non_null(text);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
}

static void
buf_int_writes_the_full_int64_range_exactly(void **state)
{
	struct jsonu_buf b = { 0 };
	json_error_t jerr;
	json_t *v;
	char *text;

	(void)state;
	assert_buf_int_text(INT64_MIN, "-9223372036854775808");
	assert_buf_int_text(INT64_MIN + 1, "-9223372036854775807");
	assert_buf_int_text(-1, "-1");
	assert_buf_int_text(0, "0");
	assert_buf_int_text(1, "1");
	assert_buf_int_text(-10, "-10");
	assert_buf_int_text(9007199254740992LL, "9007199254740992");
	assert_buf_int_text(INT64_MAX, "9223372036854775807");

	/* Several in one buffer, and jansson reads them back exactly. */
	jsonu_buf_lit(&b, "[");
	jsonu_buf_int(&b, INT64_MIN);
	jsonu_buf_lit(&b, ",");
	jsonu_buf_int(&b, -1);
	jsonu_buf_lit(&b, ",");
	jsonu_buf_int(&b, 0);
	jsonu_buf_lit(&b, ",");
	jsonu_buf_int(&b, INT64_MAX);
	jsonu_buf_lit(&b, "]");
	text = jsonu_buf_take(&b, NULL);
	assert_non_null(text);
	assert_string_equal(text,
	    "[-9223372036854775808,-1,0,9223372036854775807]");
	v = json_loads(text, 0, &jerr);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 4);
	assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MIN);
	assert_true(json_integer_value(json_array_get(v, 1)) == -1);
	assert_true(json_integer_value(json_array_get(v, 2)) == 0);
	assert_true(json_integer_value(json_array_get(v, 3)) == INT64_MAX);
	json_decref(v);
	free(text);
}

static void
buf_take_of_nothing_written_returns_null(void **state)
{
	struct jsonu_buf b = { 0 };
	size_t len = 0;

	(void)state;
	assert_null(jsonu_buf_take(&b, &len));
	assert_buf_zeroed(&b);
	assert_null(jsonu_buf_take(&b, NULL));
	assert_buf_zeroed(&b);
	/* Empty appends write nothing (and allocate nothing). */
	jsonu_buf_lit(&b, "");
	jsonu_buf_raw(&b, NULL, 0);
	assert_buf_zeroed(&b);
	assert_null(jsonu_buf_take(&b, &len));
}

static void
buf_take_returns_text_and_its_length_and_empties(void **state)
{
	struct jsonu_buf b = { 0 };
	size_t len = 0;
	char *text;

	(void)state;
	jsonu_buf_lit(&b, "{\"a\":");
	jsonu_buf_int(&b, -12);
	jsonu_buf_raw(&b, ",\"b\":[]}ignored", 8);
	text = jsonu_buf_take(&b, &len);
	assert_non_null(text);
	assert_string_equal(text, "{\"a\":-12,\"b\":[]}");
	assert_int_equal(len, strlen(text));
	assert_buf_zeroed(&b);
	free(text);
	/* Without len, and the emptied buffer starts again from nothing. */
	jsonu_buf_lit(&b, "null");
	text = jsonu_buf_take(&b, NULL);
	assert_non_null(text);
	assert_string_equal(text, "null");
	assert_buf_zeroed(&b);
	free(text);
}

static void
buf_raw_keeps_bytes_unchecked_and_in_order_across_growth(void **state)
{
	static const char *const lits[] = { "{", "\"key\":", ",", "}", "[]",
		"\xff\x80 not UTF-8 \xc0", "a somewhat longer literal, "
		"longer than most of the raw pieces written around it" };
	struct jsonu_buf b = { 0 };
	char chunk[300], *want, *text;
	size_t wlen = 0, want_cap = 110 * 1024, n, i, len = 0, caps = 0;
	size_t last_cap = 0;
	unsigned step = 0;

	(void)state;
	want = malloc(want_cap);
	assert_non_null(want);
	while (wlen < 100 * 1024) {
		/* Raw: 0..299 bytes, every byte value but NUL. */
		n = (step * 37u) % 300;
		for (i = 0; i < n; i++)
			chunk[i] = (char)(1 + (step * 7 + i) % 255);
		jsonu_buf_raw(&b, chunk, n);
		memcpy(want + wlen, chunk, n);
		wlen += n;
		n = strlen(lits[step % 7]);
		jsonu_buf_lit(&b, lits[step % 7]);
		memcpy(want + wlen, lits[step % 7], n);
		wlen += n;
		assert_int_equal(b.failed, 0);
		assert_int_equal(b.len, wlen);
		assert_true(b.cap > b.len);
		if (b.cap != last_cap) {
			caps++;
			last_cap = b.cap;
		}
		step++;
	}
	/* The buffer did move: many reallocations, not one big one. */
	assert_true(caps >= 5);
	text = jsonu_buf_take(&b, &len);
	assert_non_null(text);
	assert_int_equal(len, wlen);
	assert_int_equal(strlen(text), wlen);
	assert_memory_equal(text, want, wlen);
	assert_buf_zeroed(&b);
	free(text);
	free(want);
}

static void
buf_free_empties_live_and_failed_buffers(void **state)
{
	struct jsonu_buf b = { 0 };
	char *text;

	(void)state;
	/* Never written. */
	jsonu_buf_free(&b);
	assert_buf_zeroed(&b);
	/* Live, with text allocated. */
	jsonu_buf_lit(&b, "{\"k\":");
	jsonu_buf_str(&b, "v");
	assert_non_null(b.p);
	jsonu_buf_free(&b);
	assert_buf_zeroed(&b);
	assert_null(jsonu_buf_take(&b, NULL));
	/* Failed with text allocated. */
	jsonu_buf_lit(&b, "{\"k\":");
	jsonu_buf_str(&b, "\xff");
	assert_true(b.failed);
	assert_non_null(b.p);
	jsonu_buf_free(&b);
	assert_buf_zeroed(&b);
	/* Failed with nothing allocated. */
	jsonu_buf_str(&b, NULL);
	assert_true(b.failed);
	jsonu_buf_free(&b);
	assert_buf_zeroed(&b);
	/* Usable again after a free. */
	jsonu_buf_int(&b, 5);
	text = jsonu_buf_take(&b, NULL);
	assert_non_null(text);
	assert_string_equal(text, "5");
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_accepts_objects_arrays_and_scalars),
		cmocka_unit_test(parse_rejects_duplicate_keys),
		cmocka_unit_test(parse_enforces_depth_bound_exactly),
		cmocka_unit_test(parse_depth_ignores_brackets_inside_strings),
		cmocka_unit_test(parse_rejects_deep_nesting_before_jansson_recurses),
		cmocka_unit_test(parse_rejects_trailing_data),
		cmocka_unit_test(parse_rejects_nul_bytes),
		cmocka_unit_test(parse_rejects_invalid_utf8_and_empty_input),
		cmocka_unit_test(parse_reads_exactly_len_bytes),
		cmocka_unit_test(canonical_sorts_keys_and_drops_whitespace),
		cmocka_unit_test(canonical_sorts_keys_by_utf16_as_rfc8785_example),
		cmocka_unit_test(canonical_sorts_prefix_keys_first),
		cmocka_unit_test(canonical_escapes_strings_as_rfc8785),
		cmocka_unit_test(canonical_escapes_every_control_char),
		cmocka_unit_test(canonical_keeps_non_ascii_and_del_raw),
		cmocka_unit_test(canonical_writes_nul_in_strings_as_u0000),
		cmocka_unit_test(canonical_writes_integers_in_decimal),
		cmocka_unit_test(canonical_refuses_reals),
		cmocka_unit_test(canonical_refuses_integers_beyond_double_precision),
		cmocka_unit_test(canonical_refuses_an_object_that_contains_itself),
		cmocka_unit_test(canonical_sha256_hex_hashes_the_canonical_text),
		cmocka_unit_test(getters_report_present_absent_and_wrong_type),
		cmocka_unit_test(dump_is_compact_in_insertion_order),
		cmocka_unit_test(buf_round_trips_tricky_strings_through_jansson),
		cmocka_unit_test(buf_str_writes_minimal_rfc8785_escapes),
		cmocka_unit_test(buf_round_trips_random_utf8_strings),
		cmocka_unit_test(buf_str_refuses_ill_formed_utf8_for_good),
		cmocka_unit_test(buf_str_of_null_fails_the_buffer),
		cmocka_unit_test(buf_int_writes_the_full_int64_range_exactly),
		cmocka_unit_test(buf_take_of_nothing_written_returns_null),
		cmocka_unit_test(buf_take_returns_text_and_its_length_and_empties),
		cmocka_unit_test(buf_raw_keeps_bytes_unchecked_and_in_order_across_growth),
		cmocka_unit_test(buf_free_empties_live_and_failed_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
