/* Strict bounded JSON parsing on jansson, and an RFC 8785 (JCS) serializer. */
#include "jsonu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"
#include "jtok.h"

/*
 * Nesting bound for jsonu_canonical: values built in code are not checked
 * by jsonu_parse, and jansson lets an object contain itself.
 */
#define JSONU_CANON_MAX_DEPTH 64
/* Largest integer magnitude an IEEE double holds exactly (I-JSON). */
#define JSONU_MAX_SAFE_INT 9007199254740991LL

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/*
 * Depth of [ and { outside strings, so that jansson never recurses deeper
 * than max_depth. Returns 0, or -1 with the 1-based offset of the bracket
 * that went too deep in *at.
 */
static int
scan_depth(const char *buf, size_t len, size_t max_depth, size_t *at)
{
	size_t i, depth = 0;
	int in_str = 0, esc = 0;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth) {
				*at = i + 1;
				return -1;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

json_t *
jsonu_parse(const char *buf, size_t len, size_t max_depth, char *err,
    size_t errlen)
{
	json_error_t jerr;
	json_t *v;
	size_t at = 0;

	if (memchr(buf, '\0', len) != NULL) {
		set_err(err, errlen, "NUL byte in JSON text");
		return NULL;
	}
	if (scan_depth(buf, len, max_depth, &at) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "position %zu: nesting deeper than %zu", at,
			    max_depth);
		return NULL;
	}
	/* Without JSON_DISABLE_EOF_CHECK jansson rejects trailing data. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (v == NULL && err != NULL && errlen > 0)
		snprintf(err, errlen, "line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
	return v;
}

/*
 * The output buffer, struct jsonu_buf (jsonu.h), shared by the canonical
 * serializer below and by callers writing JSON text themselves: a failed
 * append makes it sticky-failed.
 */

void
jsonu_buf_raw(struct jsonu_buf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->failed || n == 0)
		return;
	if (n >= b->cap - b->len) {
		ncap = b->cap ? b->cap : 512;
		while (n >= ncap - b->len) {
			if (ncap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			ncap *= 2;
		}
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
jsonu_buf_lit(struct jsonu_buf *b, const char *s)
{
	jsonu_buf_raw(b, s, strlen(s));
}

/*
 * A string as RFC 8785 section 3.2.2.2 writes it (ECMAScript
 * JSON.stringify): \" \\ \b \f \n \r \t, \u00xx (lower-case hex) for the
 * other controls, every other code point as its UTF-8.
 */
static void
canon_string(struct jsonu_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char esc[7];

	jsonu_buf_raw(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = NULL;

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c < 0x20) {
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0x0f];
				esc[6] = '\0';
				e = esc;
			}
			break;
		}
		if (e == NULL)
			continue;
		jsonu_buf_raw(b, s + run, i - run);
		jsonu_buf_lit(b, e);
		run = i + 1;
	}
	jsonu_buf_raw(b, s + run, n - run);
	jsonu_buf_raw(b, "\"", 1);
}

/*
 * Next code point of a UTF-8 string (jansson has validated it), mapped so
 * that comparing the mapped values orders strings as their UTF-16 code
 * units would (RFC 8785 section 3.2.3): U+E000..U+FFFF sort after the
 * supplementary planes, whose surrogates are 0xD800..0xDFFF.
 */
static unsigned long
utf16_key(const unsigned char *s, size_t n, size_t *i)
{
	unsigned long cp = s[*i];
	size_t k, extra = 0;

	if (cp >= 0xf0 && cp <= 0xf4) {
		cp &= 0x07;
		extra = 3;
	} else if (cp >= 0xe0) {
		cp &= 0x0f;
		extra = 2;
	} else if (cp >= 0xc0) {
		cp &= 0x1f;
		extra = 1;
	}
	(*i)++;
	for (k = 0; k < extra && *i < n; k++, (*i)++)
		cp = cp << 6 | (s[*i] & 0x3f);
	if (cp >= 0xe000 && cp <= 0xffff)
		cp += 0x200000;
	return cp;
}

struct key {
	const char *s;
	size_t n;
	json_t *v;
};

static int
key_cmp(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	const unsigned char *sa = (const unsigned char *)a->s;
	const unsigned char *sb = (const unsigned char *)b->s;
	size_t i = 0, j = 0;
	unsigned long ka, kb;

	while (i < a->n && j < b->n) {
		ka = utf16_key(sa, a->n, &i);
		kb = utf16_key(sb, b->n, &j);
		if (ka != kb)
			return ka < kb ? -1 : 1;
	}
	if (i < a->n)
		return 1;
	if (j < b->n)
		return -1;
	return 0;
}

static void
canon_value(struct jsonu_buf *b, const json_t *v, int depth)
{
	char num[32];
	struct key *keys = NULL;
	void *it;
	size_t i, n;
	json_int_t iv;

	if (depth > JSONU_CANON_MAX_DEPTH) {
		b->failed = 1;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		n = json_object_size(v);
		if (n > 0 && (keys = calloc(n, sizeof(*keys))) == NULL) {
			b->failed = 1;
			return;
		}
		i = 0;
		for (it = json_object_iter((json_t *)v); it != NULL && i < n;
		    it = json_object_iter_next((json_t *)v, it)) {
			keys[i].s = json_object_iter_key(it);
			keys[i].n = json_object_iter_key_len(it);
			keys[i].v = json_object_iter_value(it);
			i++;
		}
		if (i > 1)
			qsort(keys, i, sizeof(*keys), key_cmp);
		jsonu_buf_raw(b, "{", 1);
		for (n = i, i = 0; i < n && !b->failed; i++) {
			if (i > 0)
				jsonu_buf_raw(b, ",", 1);
			canon_string(b, keys[i].s, keys[i].n);
			jsonu_buf_raw(b, ":", 1);
			canon_value(b, keys[i].v, depth + 1);
		}
		jsonu_buf_raw(b, "}", 1);
		free(keys);
		break;
	case JSON_ARRAY:
		jsonu_buf_raw(b, "[", 1);
		n = json_array_size(v);
		for (i = 0; i < n && !b->failed; i++) {
			if (i > 0)
				jsonu_buf_raw(b, ",", 1);
			canon_value(b, json_array_get(v, i), depth + 1);
		}
		jsonu_buf_raw(b, "]", 1);
		break;
	case JSON_STRING:
		canon_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		/*
		 * RFC 8785 numbers are IEEE doubles; beyond 2^53 an integer
		 * would print differently in other implementations.
		 */
		iv = json_integer_value(v);
		if (iv > JSONU_MAX_SAFE_INT || iv < -JSONU_MAX_SAFE_INT) {
			b->failed = 1;
			return;
		}
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, iv);
		jsonu_buf_lit(b, num);
		break;
	case JSON_TRUE:
		jsonu_buf_raw(b, "true", 4);
		break;
	case JSON_FALSE:
		jsonu_buf_raw(b, "false", 5);
		break;
	case JSON_NULL:
		jsonu_buf_raw(b, "null", 4);
		break;
	case JSON_REAL:
		b->failed = 1;
		break;
	}
}

char *
jsonu_canonical(const json_t *v)
{
	struct jsonu_buf b = { NULL, 0, 0, 0 };

	if (v == NULL)
		return NULL;
	canon_value(&b, v, 0);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

int
jsonu_canonical_sha256_hex(const json_t *v, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *c;
	int ret = -1;

	if ((c = jsonu_canonical(v)) == NULL)
		goto out;
	if (EVP_Digest(c, strlen(c), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != sizeof(md))
		goto out;
	hex_encode(md, sizeof(md), out);
	ret = 0;
out:
	free(c);
	return ret;
}

int
jsonu_get_str(const json_t *obj, const char *key, const char **out)
{
	json_t *m = json_object_get(obj, key);

	if (m == NULL)
		return 1;
	if (!json_is_string(m))
		return -1;
	*out = json_string_value(m);
	return 0;
}

int
jsonu_get_int(const json_t *obj, const char *key, int64_t *out)
{
	json_t *m = json_object_get(obj, key);

	if (m == NULL)
		return 1;
	if (!json_is_integer(m))
		return -1;
	*out = (int64_t)json_integer_value(m);
	return 0;
}

int
jsonu_get_bool(const json_t *obj, const char *key, int *out)
{
	json_t *m = json_object_get(obj, key);

	if (m == NULL)
		return 1;
	if (!json_is_boolean(m))
		return -1;
	*out = json_is_true(m);
	return 0;
}

char *
jsonu_dump(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- JSON text written piece by piece ---- */

void
jsonu_buf_str(struct jsonu_buf *b, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, k, n;

	if (b->failed)
		return;
	if (s == NULL) {
		b->failed = 1;
		return;
	}
	n = strlen(s);
	for (i = 0; i < n; i += k)
		if ((k = u[i] < 0x80 ? 1 : jtok_utf8_len(u + i, n - i)) == 0) {
			b->failed = 1;
			return;
		}
	canon_string(b, s, n);
}

void
jsonu_buf_int(struct jsonu_buf *b, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	jsonu_buf_raw(b, num, (size_t)n);
}

char *
jsonu_buf_take(struct jsonu_buf *b, size_t *len)
{
	char *p = b->p;

	if (b->failed || p == NULL) {
		free(p);
		p = NULL;
	} else if (len != NULL)
		*len = b->len;
	memset(b, 0, sizeof(*b));
	return p;
}

void
jsonu_buf_free(struct jsonu_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
