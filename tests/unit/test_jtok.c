/* Unit tests for common/jtok: strict JSON tokenizing, lookups, and agreement with jsonu_parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "jtok.h"

/* The depth bound the verifier uses (JWS_MAX_DEPTH). */
#define DEPTH 8
/* Inputs the differential test generates and mutates. */
#define DIFF_CASES 6000
#define GEN_MAX 2048

/* A parse with the documented worst-case token count; tokens in *tok. */
struct res {
	struct jtok_doc d;
	struct jtok *tok;
	enum jtok_err e;
	char err[160];
};

static void
parse_n(struct res *r, const char *s, size_t len, size_t depth)
{
	size_t cap = len / 2 + 1;

	r->tok = malloc(cap * sizeof(*r->tok));
	assert_non_null(r->tok);
	r->err[0] = '\0';
	r->e = jtok_parse(&r->d, s, len, r->tok, cap, depth, r->err,
	    sizeof(r->err));
	if (r->e != JTOK_OK)
		assert_true(r->err[0] != '\0');
	else
		assert_true(r->d.ntok <= cap);
}

static enum jtok_err
parse_rc(const char *s, size_t len, size_t depth)
{
	struct res r;

	parse_n(&r, s, len, depth);
	free(r.tok);
	return r.e;
}

/* s (NUL-terminated) must parse; otherwise fail with jtok's reason. */
static void
ok(const char *s)
{
	struct res r;

	parse_n(&r, s, strlen(s), DEPTH);
	if (r.e != JTOK_OK)
		fail_msg("refused %s: %s", s, r.err);
	free(r.tok);
}

/* The first n bytes of s must fail with want. */
static void
bad_n(const char *s, size_t n, enum jtok_err want)
{
	struct res r;

	parse_n(&r, s, n, DEPTH);
	if (r.e != want)
		fail_msg("%.*s: got %s (%s), want %s", (int)n, s,
		    jtok_strerror(r.e), r.err, jtok_strerror(want));
	free(r.tok);
}

static void
bad(const char *s)
{
	bad_n(s, strlen(s), JTOK_INVALID);
}

/* ---- grammar ------------------------------------------------------------ */

static void
grammar_accepts_every_value_kind_with_whitespace(void **state)
{
	static const char *const good[] = {
		"{}", "[]", "0", "-0", "1", "-1", "1.5", "-1.5e3", "1E+2",
		"1e-2", "0.0", "\"\"", "\"s\"", "true", "false", "null",
		" \t\r\n{ \"a\" : [ 1 , { \"b\" : null } ] }\n\t ",
		"[[],[[]],{},{\"\":{}}]", "{\"a\":1,\"b\":\"x\",\"c\":true}",
		"[1,2.5,\"x\",true,false,null,[],{}]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(good[i]);
}

static void
grammar_rejects_malformed_text(void **state)
{
	static const char *const no[] = {
		"", " ", "\n", "{", "}", "[", "]", "[1,]", "[,1]", "[1 2]",
		"{,}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}",
		"{'a':1}", "{1:1}", "{\"a\":1 \"b\":2}", "01", "-01", "00",
		"-", "1.", ".5", "+1", "1e", "1e+", "1E-", "1.e5", "-.5",
		"tru", "nul", "fals", "truex", "True", "NULL", "NaN",
		"Infinity", "-Infinity", "0x10", "'a'", "\"abc", "\"\\",
		"[\"a\"\"b\"]", "\v1", "\f1", "[1]]", "{}}", "\xef\xbb\xbf{}",
		"/* */1", "1//",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		bad(no[i]);
}

static void
trailing_data_is_refused_and_whitespace_is_not(void **state)
{
	(void)state;
	ok("{} \n\t\r");
	ok("1 ");
	bad("1 2");
	bad("{} x");
	bad("[] ,");
	bad("\"a\" \"b\"");
	bad("true false");
	bad("{}{}");
}

static void
errors_name_the_position(void **state)
{
	struct res r;

	(void)state;
	parse_n(&r, "[1,]", 4, DEPTH);
	assert_int_equal(r.e, JTOK_INVALID);
	assert_string_equal(r.err, "position 4: expected a value");
	free(r.tok);
	parse_n(&r, "{\"a\":1,\"a\":2}", 13, DEPTH);
	assert_int_equal(r.e, JTOK_DUPLICATE);
	assert_string_equal(r.err, "position 8: duplicate object key");
	free(r.tok);
	parse_n(&r, "1 x", 3, DEPTH);
	assert_string_equal(r.err, "position 3: trailing data");
	free(r.tok);
	assert_string_equal(jtok_strerror(JTOK_OK), "ok");
	assert_string_equal(jtok_strerror(JTOK_NOSPACE),
	    "more values than tokens");
}

/* ---- strings -------------------------------------------------------------- */

/* s must parse as one string that decodes to the n bytes of want. */
static void
decodes_to(const char *s, const char *want, size_t n)
{
	struct res r;
	char buf[64];
	char *dup;

	parse_n(&r, s, strlen(s), DEPTH);
	if (r.e != JTOK_OK)
		fail_msg("refused %s: %s", s, r.err);
	assert_int_equal(jtok_type(&r.d, 0), JTOK_STRING);
	assert_int_equal(jtok_str_copy(&r.d, 0, buf, sizeof(buf)), n);
	assert_memory_equal(buf, want, n);
	assert_int_equal(buf[n], '\0');
	dup = jtok_strdup(&r.d, 0);
	assert_non_null(dup);
	assert_int_equal(strlen(dup), n);
	assert_memory_equal(dup, want, n);
	free(dup);
	assert_true(jtok_str_eq(&r.d, 0, want));
	free(r.tok);
}

static void
escapes_decode_and_bad_escapes_are_refused(void **state)
{
	static const char *const no[] = {
		"\"\\x\"", "\"\\'\"", "\"\\a\"", "\"\\0\"", "\"\\U0041\"",
		"\"\\u12\"", "\"\\u12G4\"", "\"\\u\"", "\"\\u004\"", "\"\\",
		"\"\\\"", "\"\\ \"",
	};
	size_t i;

	(void)state;
	decodes_to("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
	decodes_to("\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9", 5);
	decodes_to("\"\\u20ac\"", "\xe2\x82\xac", 3);
	decodes_to("\"\\uffff\"", "\xef\xbf\xbf", 3);
	decodes_to("\"a\\u0001b\"", "a\x01" "b", 3);
	decodes_to("\"plain\"", "plain", 5);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		bad(no[i]);
}

static void
surrogate_pairs_decode_and_lone_halves_are_refused(void **state)
{
	static const char *const no[] = {
		"\"\\ud83d\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\"",
		"\"\\ud83d\\ud83d\"", "\"\\ude00\"", "\"\\ude00\\ud83d\"",
		"\"\\udbff\"", "\"\\udc00\"", "\"\\ud83d\\n\"",
		"\"\\ud83d\\ude0\"", "\"\\ud83d\\\"",
	};
	size_t i;

	(void)state;
	decodes_to("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
	decodes_to("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4);
	decodes_to("\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		bad(no[i]);
}

static void
utf8_is_validated_strictly(void **state)
{
	static const char *const no[] = {
		"\"\x80\"", "\"\xbf\"", "\"\xc0\x80\"", "\"\xc1\xbf\"",
		"\"\xe0\x80\x80\"", "\"\xe0\x9f\xbf\"", "\"\xed\xa0\x80\"",
		"\"\xed\xbf\xbf\"", "\"\xf0\x80\x80\x80\"",
		"\"\xf0\x8f\xbf\xbf\"", "\"\xf4\x90\x80\x80\"",
		"\"\xf5\x80\x80\x80\"", "\"\xfe\"", "\"\xff\"", "\"\xe2\x82\"",
		"\"\xe2\x82x\"", "\"\xc3\"", "\"\xf0\x9f\x98\"", "\xc3\xa9",
		"[\xc3\xa9]",
	};
	size_t i;

	(void)state;
	decodes_to("\"\xc2\x80\xdf\xbf\"", "\xc2\x80\xdf\xbf", 4);
	decodes_to("\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\"",
	    "\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80", 9);
	decodes_to("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"",
	    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 8);
	decodes_to("\"\x7f\"", "\x7f", 1);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		bad(no[i]);
}

static void
nul_and_control_characters_are_refused(void **state)
{
	char s[8];
	unsigned c;

	(void)state;
	bad_n("\"a\0b\"", 5, JTOK_INVALID);
	bad_n("{\"a\":1}\0", 8, JTOK_INVALID);
	bad_n("\0", 1, JTOK_INVALID);
	bad_n("[1,\0]", 5, JTOK_INVALID);
	bad("\"\\u0000\"");
	bad("{\"a\\u0000\":1}");
	bad("\"\\ud800\\u0000\"");
	for (c = 1; c < 0x20; c++) {
		snprintf(s, sizeof(s), "\"%c\"", (char)c);
		bad(s);
	}
}

/* ---- depth ---------------------------------------------------------------- */

/* n opening brackets (alternating [ and {"k": when objects) and closings. */
static char *
nest(size_t n, int objects)
{
	size_t cap = n * 6 + 4, i, o = 0;
	char *s = malloc(cap);

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		if (objects && i % 2 == 1)
			o += (size_t)snprintf(s + o, cap - o, "{\"k\":");
		else
			s[o++] = '[';
	}
	s[o++] = '1';
	for (i = n; i-- > 0;)
		s[o++] = objects && i % 2 == 1 ? '}' : ']';
	s[o] = '\0';
	return s;
}

static void
nesting_beyond_max_depth_is_refused(void **state)
{
	struct res r;
	char jerr[160];
	char *s;

	(void)state;
	s = nest(DEPTH, 1);
	ok(s);
	free(s);
	s = nest(DEPTH + 1, 1);
	parse_n(&r, s, strlen(s), DEPTH);
	assert_int_equal(r.e, JTOK_DEPTH);
	/* The same message as jsonu_parse, naming the bracket too deep. */
	assert_null(jsonu_parse(s, strlen(s), DEPTH, jerr, sizeof(jerr)));
	assert_string_equal(r.err, jerr);
	assert_string_equal(r.err, "position 25: nesting deeper than 8");
	free(r.tok);
	free(s);
	/* Far deeper than the C stack could take one frame a level for. */
	s = nest(100000, 0);
	assert_int_equal(parse_rc(s, strlen(s), DEPTH), JTOK_DEPTH);
	/* A larger bound acts as JTOK_MAX_DEPTH. */
	assert_int_equal(parse_rc(s, strlen(s), 1000000), JTOK_DEPTH);
	free(s);
	s = nest(JTOK_MAX_DEPTH, 0);
	assert_int_equal(parse_rc(s, strlen(s), 1000000), JTOK_OK);
	free(s);
	s = nest(JTOK_MAX_DEPTH + 1, 0);
	assert_int_equal(parse_rc(s, strlen(s), 1000000), JTOK_DEPTH);
	free(s);
	/* Scalars do not nest; brackets inside strings do not count. */
	assert_int_equal(parse_rc("1", 1, 0), JTOK_OK);
	assert_int_equal(parse_rc("[]", 2, 0), JTOK_DEPTH);
	ok("[\"[[[[[[[[[[[[[[[[[[[[\"]");
	ok("{\"{{{{{{{{{{{{\":\"}}}}}}}]]]]]\\\"[[[[[[[[[[[\"}");
}

/* ---- duplicates ------------------------------------------------------------- */

static void
duplicate_keys_are_compared_decoded(void **state)
{
	(void)state;
	bad_n("{\"a\":1,\"a\":1}", 13, JTOK_DUPLICATE);
	bad_n("{\"a\":1,\"b\":2,\"a\":3}", 19, JTOK_DUPLICATE);
	bad_n("{\"a\":1,\"\\u0061\":2}", 18, JTOK_DUPLICATE);
	bad_n("{\"\\u0061\":1,\"\\u0061\":2}", 23, JTOK_DUPLICATE);
	bad_n("{\"\\/\":1,\"/\":2}", 14, JTOK_DUPLICATE);
	bad_n("{\"\xc3\xa9\":1,\"\\u00e9\":2}", 20, JTOK_DUPLICATE);
	bad_n("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}", 32,
	    JTOK_DUPLICATE);
	bad_n("{\"\":1,\"\":2}", 11, JTOK_DUPLICATE);
	bad_n("[{\"x\":{\"a\":1,\"a\":2}}]", 21, JTOK_DUPLICATE);
	/* Equal prefixes, one scope per object, and equal values are fine. */
	ok("{\"a\":1,\"ab\":1,\"\\u0061b\\u0063\":1}");
	ok("{\"a\":{\"a\":{\"a\":1}},\"b\":{\"a\":2}}");
	ok("[{\"a\":1},{\"a\":1}]");
	ok("{\"a\":\"a\",\"b\":\"a\"}");
}

/* An object of n members k0..k(n-1); when dup, the last key repeats kd. */
static char *
big_object(size_t n, int dup, size_t kd, int escape_dup)
{
	size_t cap = n * 24 + 32, o = 0, i;
	char *s = malloc(cap);

	assert_non_null(s);
	s[o++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[o++] = ',';
		if (dup && i == n - 1)
			o += (size_t)snprintf(s + o, cap - o, escape_dup ?
			    "\"\\u006b%zu\":%zu" : "\"k%zu\":%zu", kd, i);
		else
			o += (size_t)snprintf(s + o, cap - o, "\"k%zu\":%zu",
			    i, i);
	}
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

static void
duplicate_keys_in_large_objects_are_found(void **state)
{
	static const size_t sizes[] = { 16, 17, 40, 256, 257, 600, 3000 };
	size_t i, n;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		n = sizes[i];
		s = big_object(n, 0, 0, 0);
		assert_int_equal(parse_rc(s, strlen(s), DEPTH), JTOK_OK);
		free(s);
		/* The first key again at the end: across every pass. */
		s = big_object(n, 1, 0, 0);
		assert_int_equal(parse_rc(s, strlen(s), DEPTH), JTOK_DUPLICATE);
		free(s);
		s = big_object(n, 1, n / 2, 1);
		assert_int_equal(parse_rc(s, strlen(s), DEPTH), JTOK_DUPLICATE);
		free(s);
		s = big_object(n, 1, n - 2, 0);
		assert_int_equal(parse_rc(s, strlen(s), DEPTH), JTOK_DUPLICATE);
		free(s);
	}
}

/* ---- numbers ---------------------------------------------------------------- */

/* s must parse as an integer token of value want. */
static void
int_is(const char *s, int64_t want)
{
	struct res r;
	int64_t v = 0;

	parse_n(&r, s, strlen(s), DEPTH);
	if (r.e != JTOK_OK)
		fail_msg("refused %s: %s", s, r.err);
	assert_true(r.tok[0].flags & JTOK_F_INT);
	assert_int_equal(jtok_int(&r.d, 0, &v), 0);
	assert_true(v == want);
	free(r.tok);
}

static void
integers_must_fit_int64(void **state)
{
	(void)state;
	int_is("0", 0);
	int_is("-0", 0);
	int_is("42", 42);
	int_is("-42", -42);
	int_is("9223372036854775807", INT64_MAX);
	int_is("-9223372036854775808", INT64_MIN);
	int_is("-9223372036854775807", -INT64_MAX);
	bad("9223372036854775808");
	bad("-9223372036854775809");
	bad("18446744073709551615");
	bad("18446744073709551616");
	bad("99999999999999999999999999999");
	bad("-99999999999999999999999999999");
	bad("[1,9223372036854775808]");
}

static void
reals_are_not_integers_and_huge_ones_are_refused(void **state)
{
	struct res r;
	int64_t v = 7;

	(void)state;
	parse_n(&r, "1.0", 3, DEPTH);
	assert_int_equal(r.e, JTOK_OK);
	assert_int_equal(jtok_type(&r.d, 0), JTOK_NUMBER);
	assert_false(r.tok[0].flags & JTOK_F_INT);
	assert_int_equal(jtok_int(&r.d, 0, &v), -1);
	assert_true(v == 7);
	free(r.tok);
	ok("1e2");
	ok("9223372036854775808.0");
	ok("1e307");
	ok("9.99e307");
	ok("99999999999999999999e287");
	ok("0.00001e312");
	ok("1e-400");
	ok("-1e-99999999999999999999");
	ok("0e999999999999999999");
	ok("0.0e400");
	/* The documented stricter case: jansson takes these up to DBL_MAX. */
	bad("1e308");
	bad("-1e308");
	bad("1.7976931348623157e308");
	bad("10e307");
	bad("0.1e309");
	/* Beyond DBL_MAX, as jansson. */
	bad("1e309");
	bad("2e308");
	bad("1e99999999999999999999");
	bad("[1.5e400]");
}

/* ---- token space -------------------------------------------------------- */

static void
too_few_tokens_is_nospace_and_half_the_length_suffices(void **state)
{
	struct jtok tok[3];
	struct jtok_doc d;
	char err[80];
	static const char *const worst[] = { "[1,1,1,1,1]", "[[],[],[]]",
		"{\"\":1,\"a\":2}", "[0]", "0", "[{}]", };
	size_t i;

	(void)state;
	assert_int_equal(jtok_parse(&d, "[1,2,3]", 7, tok, 3, DEPTH, err,
	    sizeof(err)), JTOK_NOSPACE);
	assert_int_equal(jtok_parse(&d, "[1,2]", 5, tok, 3, DEPTH, err,
	    sizeof(err)), JTOK_OK);
	assert_int_equal(d.ntok, 3);
	assert_int_equal(jtok_parse(&d, "1", 1, tok, 0, DEPTH, err,
	    sizeof(err)), JTOK_NOSPACE);
	for (i = 0; i < sizeof(worst) / sizeof(worst[0]); i++)
		ok(worst[i]);   /* with len / 2 + 1 tokens */
	/* A NULL text of length 0 is empty, not a crash; err may be NULL. */
	assert_int_equal(jtok_parse(&d, NULL, 0, tok, 3, DEPTH, NULL, 0),
	    JTOK_INVALID);
}

static void
parse_grow_uses_the_heap_only_when_the_stack_is_too_small(void **state)
{
	struct jtok tok[3], *heap = (struct jtok *)&heap;
	struct jtok_doc d;
	char err[80];
	static const char big[] = "[1,2,3,4,5,6,7,8,9,[10,{\"a\":11}]]";

	(void)state;
	/* Enough on the stack: no heap, and *heap is set to NULL. */
	assert_int_equal(jtok_parse_grow(&d, "[1,2]", 5, tok, 3, &heap, DEPTH,
	    err, sizeof(err)), JTOK_OK);
	assert_null(heap);
	assert_ptr_equal(d.tok, tok);
	/* Too few: the same document, in a heap array. */
	assert_int_equal(jtok_parse_grow(&d, big, sizeof(big) - 1, tok, 3,
	    &heap, DEPTH, err, sizeof(err)), JTOK_OK);
	assert_non_null(heap);
	assert_ptr_equal(d.tok, heap);
	assert_int_equal(d.ntok, 15);
	assert_int_equal(jtok_type(&d, jtok_item(&d, jtok_item(&d, 0, 9), 1)),
	    JTOK_OBJECT);
	free(heap);
	/* Other errors come back as they are, after the heap's try too. */
	assert_int_equal(jtok_parse_grow(&d, "[1,2,3,", 7, tok, 3, &heap,
	    DEPTH, err, sizeof(err)), JTOK_INVALID);
	free(heap);
	assert_int_equal(jtok_parse_grow(&d, "[1,", 3, tok, 3, &heap, DEPTH,
	    err, sizeof(err)), JTOK_INVALID);
	assert_null(heap);
}

static void
parse_object_refuses_other_values_and_frees_what_it_tried(void **state)
{
	struct jtok tok[3], *heap = (struct jtok *)&heap;
	struct jtok_doc d;
	static const char obj[] = "{\"a\":[1,2,3,4],\"b\":{\"c\":null}}";
	static const char arr[] = "[1,2,3,4,5,6,7,8,9]";

	(void)state;
	assert_int_equal(jtok_parse_object(&d, "{\"a\":1}", 7, tok, 3, &heap,
	    DEPTH), JTOK_OK);
	assert_null(heap);
	assert_int_equal(jtok_parse_object(&d, obj, sizeof(obj) - 1, tok, 3,
	    &heap, DEPTH), JTOK_OK);
	assert_non_null(heap);
	assert_int_equal(jtok_type(&d, jtok_get(&d, 0, "b")), JTOK_OBJECT);
	free(heap);
	/* Not an object: refused, on the stack and on the heap alike, and
	 * nothing is left to free (valgrind and ASan see to that). */
	assert_int_equal(jtok_parse_object(&d, "[1]", 3, tok, 3, &heap,
	    DEPTH), JTOK_INVALID);
	assert_null(heap);
	assert_int_equal(jtok_parse_object(&d, arr, sizeof(arr) - 1, tok, 3,
	    &heap, DEPTH), JTOK_INVALID);
	assert_null(heap);
	assert_int_equal(jtok_parse_object(&d, "\"x\"", 3, tok, 3, &heap,
	    DEPTH), JTOK_INVALID);
	assert_null(heap);
	/* Broken after the stack ran out: the heap's try is freed too. */
	assert_int_equal(jtok_parse_object(&d, "{\"a\":[1,2,3,4]", 14, tok, 3,
	    &heap, DEPTH), JTOK_INVALID);
	assert_null(heap);
}

/* ---- lookups ---------------------------------------------------------------- */

static const char doc_text[] =
    "{\"iss\":\"https://x\",\"exp\":4102444800,\"nbf\":1.5,\"s\\u0075b\":"
    "\"al\\\"ice\",\"cnf\":{\"x5t#S256\":\"abc\"},\"ad\":[{\"fields\":"
    "[\"a\",\"b\",[1,2],\"c\"]},7,null],\"t\":true,\"f\":false,\"n\":null,"
    "\"neg\":-5}";

static void
lookups_find_members_items_and_types(void **state)
{
	struct res r;
	int i, ad, fields;
	int64_t v = 0;
	char buf[8], big[64];
	char *dup;

	(void)state;
	parse_n(&r, doc_text, strlen(doc_text), DEPTH);
	assert_int_equal(r.e, JTOK_OK);
	assert_int_equal(jtok_type(&r.d, 0), JTOK_OBJECT);
	assert_int_equal(r.tok[0].size, 10);
	assert_int_equal(r.tok[0].next, r.d.ntok);

	/* jtok_get and jtok_member, with keys compared decoded */
	i = jtok_get(&r.d, 0, "iss");
	assert_true(jtok_str_eq(&r.d, i, "https://x"));
	assert_false(jtok_str_eq(&r.d, i, "https://"));
	assert_false(jtok_str_eq(&r.d, i, "https://xx"));
	assert_int_equal(jtok_member(&r.d, 0, "sub", JTOK_STRING, &i), 0);
	assert_true(jtok_str_eq(&r.d, i, "al\"ice"));
	assert_int_equal(jtok_str_copy(&r.d, i, big, sizeof(big)), 6);
	assert_string_equal(big, "al\"ice");
	assert_int_equal(jtok_str_copy(&r.d, i, buf, 4), 6);
	assert_string_equal(buf, "al\"");
	dup = jtok_strdup(&r.d, i);
	assert_string_equal(dup, "al\"ice");
	free(dup);
	assert_int_equal(jtok_get(&r.d, 0, "s\\u0075b"), -1);
	assert_int_equal(jtok_member(&r.d, 0, "missing", JTOK_STRING, &i), 1);
	assert_int_equal(jtok_member(&r.d, 0, "exp", JTOK_STRING, &i), -1);
	assert_int_equal(jtok_member(&r.d, 0, "t", JTOK_TRUE, &i), 0);
	assert_int_equal(jtok_member(&r.d, 0, "t", JTOK_FALSE, &i), -1);
	assert_int_equal(jtok_member(&r.d, 0, "f", JTOK_FALSE, &i), 0);
	assert_int_equal(jtok_member(&r.d, 0, "n", JTOK_NULL, &i), 0);

	/* integers */
	assert_int_equal(jtok_get_int(&r.d, 0, "exp", &v), 0);
	assert_true(v == 4102444800LL);
	assert_int_equal(jtok_get_int(&r.d, 0, "neg", &v), 0);
	assert_true(v == -5);
	v = 9;
	assert_int_equal(jtok_get_int(&r.d, 0, "nbf", &v), -1);
	assert_int_equal(jtok_get_int(&r.d, 0, "iss", &v), -1);
	assert_int_equal(jtok_get_int(&r.d, 0, "nope", &v), 1);
	assert_true(v == 9);

	/* chains through objects and arrays, -1 all the way */
	i = jtok_get(&r.d, jtok_get(&r.d, 0, "cnf"), "x5t#S256");
	assert_true(jtok_str_eq(&r.d, i, "abc"));
	ad = jtok_get(&r.d, 0, "ad");
	assert_int_equal(jtok_type(&r.d, ad), JTOK_ARRAY);
	assert_int_equal(r.tok[ad].size, 3);
	fields = jtok_get(&r.d, jtok_item(&r.d, ad, 0), "fields");
	assert_int_equal(jtok_type(&r.d, fields), JTOK_ARRAY);
	assert_true(jtok_str_eq(&r.d, jtok_item(&r.d, fields, 0), "a"));
	assert_true(jtok_str_eq(&r.d, jtok_item(&r.d, fields, 1), "b"));
	assert_int_equal(jtok_type(&r.d, jtok_item(&r.d, fields, 2)),
	    JTOK_ARRAY);
	assert_true(jtok_str_eq(&r.d, jtok_item(&r.d, fields, 3), "c"));
	assert_int_equal(jtok_item(&r.d, fields, 4), -1);
	assert_int_equal(jtok_int(&r.d, jtok_item(&r.d, ad, 1), &v), 0);
	assert_true(v == 7);
	assert_int_equal(jtok_type(&r.d, jtok_item(&r.d, ad, 2)), JTOK_NULL);
	assert_int_equal(jtok_get(&r.d, ad, "fields"), -1);     /* an array */
	assert_int_equal(jtok_item(&r.d, 0, 0), -1);            /* an object */
	assert_int_equal(jtok_get(&r.d, -1, "iss"), -1);
	assert_int_equal(jtok_get(&r.d, 100000, "iss"), -1);
	assert_int_equal(jtok_get(&r.d, 0, NULL), -1);
	assert_int_equal(jtok_item(&r.d, -1, 0), -1);
	assert_int_equal(jtok_type(&r.d, -1), JTOK_NONE);
	assert_int_equal(jtok_member(&r.d, -1, "iss", JTOK_STRING, &i), 1);
	assert_int_equal(jtok_get_int(&r.d, -1, "exp", &v), 1);
	assert_int_equal(jtok_int(&r.d, -1, &v), -1);
	assert_false(jtok_str_eq(&r.d, -1, "x"));
	assert_false(jtok_str_eq(&r.d, 0, "x"));
	assert_false(jtok_str_eq(&r.d, i, NULL));
	buf[0] = 'x';
	assert_true(jtok_str_copy(&r.d, -1, buf, sizeof(buf)) == (size_t)-1);
	assert_string_equal(buf, "");
	assert_true(jtok_str_copy(&r.d, 0, buf, sizeof(buf)) == (size_t)-1);
	assert_null(jtok_strdup(&r.d, 0));
	assert_null(jtok_strdup(&r.d, -1));
	free(r.tok);
}

/* ---- differential: jtok against jsonu_parse (jansson) --------------------- */

struct gen {
	uint64_t rng;
	char *s;
	size_t len, cap;
};

static uint64_t
rnd(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static size_t
pick(struct gen *g, size_t n)
{
	return (size_t)(rnd(g) % n);
}

static void
put(struct gen *g, const char *s, size_t n)
{
	if (n > g->cap - g->len)
		n = g->cap - g->len;
	memcpy(g->s + g->len, s, n);
	g->len += n;
}

static void
puts_(struct gen *g, const char *s)
{
	put(g, s, strlen(s));
}

static void
ws(struct gen *g)
{
	static const char *const w[] = { "", "", "", " ", "\n", "\t ", "\r\n" };

	puts_(g, w[pick(g, sizeof(w) / sizeof(w[0]))]);
}

static void
gen_string(struct gen *g, int key)
{
	static const char *const keys[] = { "a", "b", "\\u0061", "iss", "",
		"\\u00e9", "\xc3\xa9", "k\\/", "k/" };
	static const char *const bits[] = { "x", "abc", " ", "\\n", "\\\"",
		"\\\\", "\\/", "\\t", "\\u0041", "\\u00e9", "\\u20AC",
		"\\ud83d\\ude00", "\\ud83d", "\\ude00", "\\ud83d\\u0041",
		"\\u0000", "\\u001f", "\\x", "\\u12", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc0\x80", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "\x80", "\xff", "\xe2\x82", "\x01", "\x7f",
		"\x1f", "[{", "\"", };
	size_t n, i;

	puts_(g, "\"");
	if (key && pick(g, 3) != 0) {
		puts_(g, keys[pick(g, sizeof(keys) / sizeof(keys[0]))]);
	} else {
		n = pick(g, 4);
		for (i = 0; i < n; i++) {
			/* mostly harmless pieces */
			if (pick(g, 4) != 0)
				puts_(g, bits[pick(g, 12)]);
			else
				puts_(g, bits[pick(g,
				    sizeof(bits) / sizeof(bits[0]))]);
		}
	}
	puts_(g, "\"");
}

static void
gen_number(struct gen *g)
{
	static const char *const nums[] = { "0", "-0", "1", "-1", "42",
		"9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809",
		"18446744073709551616", "1.5", "-0.25", "1e10", "1E+2",
		"1e-400", "1e307", "1e308", "1e309", "2e308", "0e9999",
		"01", "1.", ".5", "-", "1e", "+1", "00", "1.0e-5",
		"4102444800", "123456789012345678901234567890",
		"1.7976931348623157e308", "9.99e307", };

	puts_(g, nums[pick(g, sizeof(nums) / sizeof(nums[0]))]);
}

static void gen_value(struct gen *g, int depth);

static void
gen_value(struct gen *g, int depth)
{
	size_t k = pick(g, depth > 10 ? 5 : 8), n, i;

	ws(g);
	switch (k) {
	case 0:
		gen_string(g, 0);
		break;
	case 1:
		gen_number(g);
		break;
	case 2:
		puts_(g, pick(g, 2) ? "true" : "false");
		break;
	case 3:
		puts_(g, "null");
		break;
	case 4:
		gen_number(g);
		break;
	case 5:
	case 6:
		puts_(g, "{");
		n = pick(g, 5);
		for (i = 0; i < n; i++) {
			if (i > 0)
				puts_(g, ",");
			ws(g);
			gen_string(g, 1);
			ws(g);
			puts_(g, ":");
			gen_value(g, depth + 1);
		}
		ws(g);
		puts_(g, "}");
		break;
	default:
		puts_(g, "[");
		n = pick(g, 5);
		for (i = 0; i < n; i++) {
			if (i > 0)
				puts_(g, ",");
			gen_value(g, depth + 1);
		}
		ws(g);
		puts_(g, "]");
		break;
	}
	ws(g);
}

/* One to three random edits: a byte replaced, removed or inserted, a cut. */
static void
mutate(struct gen *g)
{
	static const char pool[] = "{}[]\":,\\ 0123456789-+.eEtfnu\x00\x01\x80"
	    "\xc3\xff\xed";
	size_t m = 1 + pick(g, 3), i, at;

	for (i = 0; i < m && g->len > 0; i++) {
		at = pick(g, g->len);
		switch (pick(g, 4)) {
		case 0:
			g->s[at] = pool[pick(g, sizeof(pool) - 1)];
			break;
		case 1:
			memmove(g->s + at, g->s + at + 1, g->len - at - 1);
			g->len--;
			break;
		case 2:
			if (g->len < g->cap) {
				memmove(g->s + at + 1, g->s + at, g->len - at);
				g->s[at] = pool[pick(g, sizeof(pool) - 1)];
				g->len++;
			}
			break;
		default:
			g->len = at;
			break;
		}
	}
}

/*
 * Whether jtok's tokens for value i say what jansson's value j does:
 * types, sizes, decoded strings and keys, integer values.
 */
static int
same(const struct jtok_doc *d, int i, const json_t *j)
{
	const struct jtok *t = &d->tok[i];
	int64_t v;
	size_t k, n;
	int m;
	char *key;

	switch (t->type) {
	case JTOK_OBJECT:
		if (!json_is_object(j) || json_object_size(j) != t->size)
			return 0;
		for (m = i + 1, k = 0; k < t->size; k++,
		    m = (int)d->tok[m + 1].next) {
			key = jtok_strdup(d, m);
			if (key == NULL || !same(d, m + 1, json_object_get(j,
			    key))) {
				free(key);
				return 0;
			}
			free(key);
		}
		return 1;
	case JTOK_ARRAY:
		if (!json_is_array(j) || json_array_size(j) != t->size)
			return 0;
		for (m = i + 1, k = 0; k < t->size; k++, m = (int)d->tok[m].next)
			if (!same(d, m, json_array_get(j, k)))
				return 0;
		return 1;
	case JTOK_STRING:
		if (!json_is_string(j))
			return 0;
		n = json_string_length(j);
		key = jtok_strdup(d, i);
		m = key != NULL && strlen(key) == n &&
		    memcmp(key, json_string_value(j), n) == 0;
		free(key);
		return m;
	case JTOK_NUMBER:
		if (t->flags & JTOK_F_INT)
			return json_is_integer(j) && jtok_int(d, i, &v) == 0 &&
			    v == json_integer_value(j);
		return json_is_real(j);
	case JTOK_TRUE:
		return json_is_true(j);
	case JTOK_FALSE:
		return json_is_false(j);
	case JTOK_NULL:
		return json_is_null(j);
	}
	return 0;
}

static void
accepts_and_refuses_what_jsonu_parse_does(void **state)
{
	struct gen g;
	struct res r;
	char jerr[160];
	json_t *j;
	size_t n, accepted = 0, refused = 0, stricter = 0;

	(void)state;
	memset(&g, 0, sizeof(g));
	g.rng = 0x9e3779b97f4a7c15ULL;
	g.cap = GEN_MAX;
	g.s = malloc(g.cap);
	assert_non_null(g.s);
	for (n = 0; n < DIFF_CASES; n++) {
		g.len = 0;
		gen_value(&g, n % 3 == 0 ? 0 : 4);
		if (n % 2 == 1)
			mutate(&g);
		j = jsonu_parse(g.s, g.len, DEPTH, jerr, sizeof(jerr));
		parse_n(&r, g.s, g.len, DEPTH);
		if (j != NULL && r.e != JTOK_OK &&
		    strstr(r.err, "number too large") != NULL) {
			stricter++;      /* documented in jtok.h */
		} else if ((j != NULL) != (r.e == JTOK_OK)) {
			fail_msg("case %zu: jansson %s (%s), jtok %s (%s): "
			    "%.*s", n, j != NULL ? "accepts" : "refuses", jerr,
			    jtok_strerror(r.e), r.err, (int)g.len, g.s);
		} else if (j != NULL) {
			if (!same(&r.d, 0, j))
				fail_msg("case %zu: values differ: %.*s", n,
				    (int)g.len, g.s);
			accepted++;
		} else {
			refused++;
		}
		json_decref(j);
		free(r.tok);
	}
	free(g.s);
	/* Both outcomes are exercised in earnest. */
	print_message("differential: %zu accepted, %zu refused, %zu stricter\n",
	    accepted, refused, stricter);
	assert_true(accepted > DIFF_CASES / 10);
	assert_true(refused > DIFF_CASES / 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(grammar_accepts_every_value_kind_with_whitespace),
		cmocka_unit_test(grammar_rejects_malformed_text),
		cmocka_unit_test(trailing_data_is_refused_and_whitespace_is_not),
		cmocka_unit_test(errors_name_the_position),
		cmocka_unit_test(escapes_decode_and_bad_escapes_are_refused),
		cmocka_unit_test(surrogate_pairs_decode_and_lone_halves_are_refused),
		cmocka_unit_test(utf8_is_validated_strictly),
		cmocka_unit_test(nul_and_control_characters_are_refused),
		cmocka_unit_test(nesting_beyond_max_depth_is_refused),
		cmocka_unit_test(duplicate_keys_are_compared_decoded),
		cmocka_unit_test(duplicate_keys_in_large_objects_are_found),
		cmocka_unit_test(integers_must_fit_int64),
		cmocka_unit_test(reals_are_not_integers_and_huge_ones_are_refused),
		cmocka_unit_test(too_few_tokens_is_nospace_and_half_the_length_suffices),
		cmocka_unit_test(parse_grow_uses_the_heap_only_when_the_stack_is_too_small),
		cmocka_unit_test(parse_object_refuses_other_values_and_frees_what_it_tried),
		cmocka_unit_test(lookups_find_members_items_and_types),
		cmocka_unit_test(accepts_and_refuses_what_jsonu_parse_does),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
