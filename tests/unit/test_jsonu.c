/* Unit tests for common/jsonu: strict parsing and RFC 8785 canonical output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
