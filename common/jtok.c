/* A strict, allocation-free JSON tokenizer (RFC 8259) with lookups on its tokens. */
#include "jtok.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Objects with more members than this are checked for duplicate keys
 * with a hash table (on the stack) instead of pairwise.
 */
#define JTOK_DUP_LINEAR 16
/* Slots of that table, a power of two; one pass holds half as many keys. */
#define JTOK_DUP_SLOTS 512
/* Reals of this decimal magnitude or more are refused (see jtok.h). */
#define JTOK_REAL_MAX_EXP10 308
/*
 * Exponents are read up to this; beyond it the magnitude is decided. It
 * must exceed the largest power of ten a mantissa of JTOK_MAX_LEN digits
 * gives (e10 in parse_number), or a long enough run of zeros in front of
 * the digits would cancel a huge exponent that jansson overflows on.
 */
#define JTOK_EXP_CAP 10000000000LL

struct parser {
	const unsigned char *s;
	size_t len, pos;
	struct jtok *tok;
	size_t cap, used;
	size_t max_depth;
	enum jtok_err rc;
	const char *why;
	size_t at;                /* 0-based offset of the error */
};

/* Records the first error; returns -1 for tail calls. */
static int
fail(struct parser *p, enum jtok_err rc, size_t at, const char *why)
{
	p->rc = rc;
	p->at = at;
	p->why = why;
	return -1;
}

static int
is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static void
skip_ws(struct parser *p)
{
	const unsigned char *s = p->s;
	size_t pos = p->pos;

	while (pos < p->len && (s[pos] == ' ' || s[pos] == '\n' ||
	    s[pos] == '\r' || s[pos] == '\t'))
		pos++;
	p->pos = pos;
}

/* A new token of type at the current position; its index in *ti. */
static int
new_tok(struct parser *p, enum jtok_type type, size_t *ti)
{
	struct jtok *t;

	if (p->used == p->cap)
		return fail(p, JTOK_NOSPACE, p->pos, "more values than tokens");
	*ti = p->used++;
	t = &p->tok[*ti];
	memset(t, 0, sizeof(*t));
	t->type = (uint8_t)type;
	t->start = (uint32_t)p->pos;
	return 0;
}

static int
hex_val(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	return -1;
}

/* Four hex digits at s[pos..]; the value, or -1. */
static long
hex4(const unsigned char *s, size_t len, size_t pos)
{
	long v = 0;
	int i, h;

	if (len < 4 || pos > len - 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((h = hex_val(s[pos + (size_t)i])) < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

size_t
jtok_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		return n >= 3 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		return n >= 4 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* The escape at s[pos] == '\\': its length, or 0 after fail(). */
static size_t
escape_len(struct parser *p, size_t pos)
{
	const unsigned char *s = p->s;
	long cp, lo;

	if (pos + 1 >= p->len) {
		fail(p, JTOK_INVALID, p->len, "unterminated string");
		return 0;
	}
	switch (s[pos + 1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		return 2;
	case 'u':
		break;
	default:
		fail(p, JTOK_INVALID, pos, "invalid escape");
		return 0;
	}
	if ((cp = hex4(s, p->len, pos + 2)) < 0) {
		fail(p, JTOK_INVALID, pos, "invalid \\u escape");
		return 0;
	}
	if (cp == 0) {
		fail(p, JTOK_INVALID, pos, "\\u0000 is not allowed");
		return 0;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		fail(p, JTOK_INVALID, pos, "lone low surrogate");
		return 0;
	}
	if (cp < 0xd800 || cp > 0xdbff)
		return 6;
	if (pos + 7 >= p->len || s[pos + 6] != '\\' || s[pos + 7] != 'u' ||
	    (lo = hex4(s, p->len, pos + 8)) < 0xdc00 || lo > 0xdfff) {
		fail(p, JTOK_INVALID, pos, "high surrogate without a low one");
		return 0;
	}
	return 12;
}

/* A string at p->pos == '"'. */
static int
parse_string(struct parser *p)
{
	const unsigned char *s = p->s;
	size_t pos = p->pos + 1, len = p->len, n, ti;
	uint8_t flags = 0;
	unsigned c;

	if (new_tok(p, JTOK_STRING, &ti) != 0)
		return -1;
	for (;;) {
		/* The common case: printable ASCII. */
		while (pos < len && (c = s[pos]) >= 0x20 && c < 0x80 &&
		    c != '"' && c != '\\')
			pos++;
		if (pos >= len)
			return fail(p, JTOK_INVALID, len, "unterminated string");
		c = s[pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, JTOK_INVALID, pos,
			    "control character in string");
		if (c == '\\') {
			flags |= JTOK_F_ESCAPED;
			if ((n = escape_len(p, pos)) == 0)
				return -1;
		} else if ((n = jtok_utf8_len(s + pos, len - pos)) == 0) {
			return fail(p, JTOK_INVALID, pos, "invalid UTF-8");
		}
		pos += n;
	}
	p->tok[ti].start = (uint32_t)(p->pos + 1);
	p->tok[ti].end = (uint32_t)pos;
	p->tok[ti].flags = flags;
	p->tok[ti].next = (uint32_t)p->used;
	p->pos = pos + 1;
	return 0;
}

/*
 * A number (RFC 8259 section 6). Integers must fit an int64_t, as jansson
 * (json_int_t) wants; reals are refused from 1e308 up (jtok.h).
 */
static int
parse_number(struct parser *p)
{
	const unsigned char *s = p->s;
	size_t pos = p->pos, len = p->len, ti, d0;
	uint64_t v = 0, lim;
	int64_t e10 = 0, ex = 0;
	int neg = 0, is_int = 1, big = 0, nonzero = 0, eneg = 0;
	unsigned d;

	if (new_tok(p, JTOK_NUMBER, &ti) != 0)
		return -1;
	if (s[pos] == '-') {
		neg = 1;
		pos++;
	}
	if (pos >= len || !is_digit(s[pos]))
		return fail(p, JTOK_INVALID, p->pos, "invalid number");
	d0 = pos;
	if (s[pos] == '0') {
		pos++;
	} else {
		nonzero = 1;
		for (; pos < len && is_digit(s[pos]); pos++) {
			d = s[pos] - '0';
			if (v > (UINT64_MAX - d) / 10)
				big = 1;
			else
				v = v * 10 + d;
		}
		/* the first digit's power of ten */
		e10 = (int64_t)(pos - d0) - 1;
	}
	if (pos < len && s[pos] == '.') {
		is_int = 0;
		if (++pos >= len || !is_digit(s[pos]))
			return fail(p, JTOK_INVALID, pos, "invalid number");
		for (d0 = pos; pos < len && is_digit(s[pos]); pos++)
			if (!nonzero && s[pos] != '0') {
				nonzero = 1;
				e10 = -(int64_t)(pos - d0) - 1;
			}
	}
	if (pos < len && (s[pos] == 'e' || s[pos] == 'E')) {
		is_int = 0;
		pos++;
		if (pos < len && (s[pos] == '+' || s[pos] == '-'))
			eneg = s[pos++] == '-';
		if (pos >= len || !is_digit(s[pos]))
			return fail(p, JTOK_INVALID, pos, "invalid number");
		for (; pos < len && is_digit(s[pos]); pos++)
			if (ex < JTOK_EXP_CAP)
				ex = ex * 10 + (s[pos] - '0');
	}
	if (is_int) {
		lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		if (big || v > lim)
			return fail(p, JTOK_INVALID, p->pos, "integer out of range");
	} else if (nonzero && e10 + (eneg ? -ex : ex) >= JTOK_REAL_MAX_EXP10) {
		return fail(p, JTOK_INVALID, p->pos, "number too large");
	}
	p->tok[ti].end = (uint32_t)pos;
	p->tok[ti].flags = is_int ? JTOK_F_INT : 0;
	p->tok[ti].next = (uint32_t)p->used;
	p->pos = pos;
	return 0;
}

static int
parse_literal(struct parser *p, const char *word, size_t n,
    enum jtok_type type)
{
	size_t ti;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, JTOK_INVALID, p->pos, "invalid literal");
	if (new_tok(p, type, &ti) != 0)
		return -1;
	p->pos += n;
	p->tok[ti].end = (uint32_t)p->pos;
	p->tok[ti].next = (uint32_t)p->used;
	return 0;
}

/* Reads the decoded bytes of a valid string token one at a time. */
struct dec {
	const unsigned char *p, *end;
	unsigned char buf[4];
	unsigned n, i;
};

static void
dec_init(struct dec *d, const char *text, const struct jtok *t)
{
	d->p = (const unsigned char *)text + t->start;
	d->end = (const unsigned char *)text + t->end;
	d->n = d->i = 0;
}

static unsigned
utf8_put(unsigned long cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The next decoded byte, or -1 at the end. The token was validated. */
static int
dec_next(struct dec *d)
{
	unsigned long cp;
	unsigned c;

	if (d->i < d->n)
		return d->buf[d->i++];
	if (d->p >= d->end)
		return -1;
	c = *d->p++;
	if (c != '\\')
		return (int)c;
	c = *d->p++;
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': break;
	default: return (int)c;      /* " \ / */
	}
	cp = (unsigned long)hex4(d->p, 4, 0);
	d->p += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		cp = 0x10000 + ((cp - 0xd800) << 10) +
		    ((unsigned long)hex4(d->p + 2, 4, 0) - 0xdc00);
		d->p += 6;
	}
	d->n = utf8_put(cp, d->buf);
	d->i = 1;
	return d->buf[0];
}

/* Whether two string tokens decode to the same bytes. */
static int
tok_eq(const char *text, const struct jtok *a, const struct jtok *b)
{
	struct dec da, db;
	int ca, cb;

	if (((a->flags | b->flags) & JTOK_F_ESCAPED) == 0)
		return a->end - a->start == b->end - b->start &&
		    memcmp(text + a->start, text + b->start, a->end - a->start) ==
		    0;
	dec_init(&da, text, a);
	dec_init(&db, text, b);
	do {
		ca = dec_next(&da);
		cb = dec_next(&db);
		if (ca != cb)
			return 0;
	} while (ca >= 0);
	return 1;
}

/* FNV-1a of a string token's decoded bytes. */
static uint32_t
tok_hash(const char *text, const struct jtok *t)
{
	uint32_t h = 2166136261u;
	struct dec d;
	int c;
	size_t i;

	if ((t->flags & JTOK_F_ESCAPED) == 0) {
		for (i = t->start; i < t->end; i++)
			h = (h ^ (unsigned char)text[i]) * 16777619u;
		return h;
	}
	dec_init(&d, text, t);
	while ((c = dec_next(&d)) >= 0)
		h = (h ^ (unsigned)c) * 16777619u;
	return h;
}

struct dup_slot {
	uint32_t key;      /* token index + 1; 0 is empty */
	uint32_t hash;
};

/*
 * Duplicate keys in a large object: passes of up to JTOK_DUP_SLOTS / 2
 * keys in a table, each probed by every key from it to the end, so the
 * work stays near linear for anything a bounded text can hold.
 */
static int
dups_hashed(struct parser *p, size_t obj)
{
	struct dup_slot slots[JTOK_DUP_SLOTS];
	const struct jtok *t = p->tok;
	const char *text = (const char *)p->s;
	size_t left = t[obj].size, first = obj + 1, k, i, m, nslots, sl,
	    next_first = 0;
	uint32_t h;

	while (left > 1) {
		m = left < JTOK_DUP_SLOTS / 2 ? left : JTOK_DUP_SLOTS / 2;
		for (nslots = 32; nslots < 2 * m; nslots *= 2)
			;
		memset(slots, 0, nslots * sizeof(slots[0]));
		for (k = first, i = 0; i < left; i++) {
			h = tok_hash(text, &t[k]);
			for (sl = h & (nslots - 1); slots[sl].key != 0;
			    sl = (sl + 1) & (nslots - 1))
				if (slots[sl].hash == h &&
				    tok_eq(text, &t[slots[sl].key - 1], &t[k]))
					return fail(p, JTOK_DUPLICATE,
					    t[k].start - 1, "duplicate object key");
			if (i < m) {
				slots[sl].key = (uint32_t)k + 1;
				slots[sl].hash = h;
			}
			k = t[k + 1].next;
			if (i + 1 == m)
				next_first = k;
		}
		first = next_first;
		left -= m;
	}
	return 0;
}

/* Rejects an object with two members of one decoded key. */
static int
check_dups(struct parser *p, size_t obj)
{
	const struct jtok *t = p->tok;
	const char *text = (const char *)p->s;
	size_t n = t[obj].size, a, b, i, j;

	if (n < 2)
		return 0;
	if (n > JTOK_DUP_LINEAR)
		return dups_hashed(p, obj);
	for (a = obj + 1, i = 0; i + 1 < n; i++, a = t[a + 1].next)
		for (b = t[a + 1].next, j = i + 1; j < n; j++, b = t[b + 1].next)
			if (tok_eq(text, &t[a], &t[b]))
				return fail(p, JTOK_DUPLICATE, t[b].start - 1,
				    "duplicate object key");
	return 0;
}

static int parse_value(struct parser *p, size_t depth);

/* An object at p->pos == '{', at nesting level depth (1 for the top). */
static int
parse_object(struct parser *p, size_t depth)
{
	size_t ti;

	if (depth > p->max_depth)
		return fail(p, JTOK_DEPTH, p->pos, "nesting too deep");
	if (new_tok(p, JTOK_OBJECT, &ti) != 0)
		return -1;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"')
			return fail(p, JTOK_INVALID, p->pos,
			    "expected a string key");
		if (parse_string(p) != 0)
			return -1;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			return fail(p, JTOK_INVALID, p->pos, "expected ':'");
		p->pos++;
		if (parse_value(p, depth) != 0)
			return -1;
		p->tok[ti].size++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == '}') {
			p->pos++;
			break;
		}
		return fail(p, JTOK_INVALID, p->pos, "expected ',' or '}'");
	}
done:
	p->tok[ti].end = (uint32_t)p->pos;
	p->tok[ti].next = (uint32_t)p->used;
	return check_dups(p, ti);
}

/* An array at p->pos == '[', at nesting level depth. */
static int
parse_array(struct parser *p, size_t depth)
{
	size_t ti;

	if (depth > p->max_depth)
		return fail(p, JTOK_DEPTH, p->pos, "nesting too deep");
	if (new_tok(p, JTOK_ARRAY, &ti) != 0)
		return -1;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
		goto done;
	}
	for (;;) {
		if (parse_value(p, depth) != 0)
			return -1;
		p->tok[ti].size++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			break;
		}
		return fail(p, JTOK_INVALID, p->pos, "expected ',' or ']'");
	}
done:
	p->tok[ti].end = (uint32_t)p->pos;
	p->tok[ti].next = (uint32_t)p->used;
	return 0;
}

/* Any value after optional whitespace; depth is the enclosing level. */
static int
parse_value(struct parser *p, size_t depth)
{
	unsigned c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, JTOK_INVALID, p->pos, "expected a value");
	c = p->s[p->pos];
	switch (c) {
	case '{':
		return parse_object(p, depth + 1);
	case '[':
		return parse_array(p, depth + 1);
	case '"':
		return parse_string(p);
	case 't':
		return parse_literal(p, "true", 4, JTOK_TRUE);
	case 'f':
		return parse_literal(p, "false", 5, JTOK_FALSE);
	case 'n':
		return parse_literal(p, "null", 4, JTOK_NULL);
	default:
		if (c == '-' || is_digit(c))
			return parse_number(p);
		return fail(p, JTOK_INVALID, p->pos, "expected a value");
	}
}

enum jtok_err
jtok_parse(struct jtok_doc *d, const char *text, size_t len,
    struct jtok *tok, size_t cap, size_t max_depth, char *err,
    size_t errlen)
{
	struct parser p;

	memset(d, 0, sizeof(*d));
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)text;
	p.len = len;
	p.tok = tok;
	p.cap = cap < (size_t)INT_MAX ? cap : (size_t)INT_MAX;
	p.max_depth = max_depth < JTOK_MAX_DEPTH ? max_depth : JTOK_MAX_DEPTH;
	if (text == NULL && len > 0)
		fail(&p, JTOK_INVALID, 0, "no text");
	else if (len > JTOK_MAX_LEN)
		fail(&p, JTOK_INVALID, 0, "text too long");
	else if (parse_value(&p, 0) == 0) {
		skip_ws(&p);
		if (p.pos != len)
			fail(&p, JTOK_INVALID, p.pos, "trailing data");
	}
	if (p.rc != JTOK_OK) {
		if (err != NULL && errlen > 0) {
			if (p.rc == JTOK_DEPTH)
				snprintf(err, errlen,
				    "position %zu: nesting deeper than %zu",
				    p.at + 1, p.max_depth);
			else
				snprintf(err, errlen, "position %zu: %s",
				    p.at + 1, p.why);
		}
		return p.rc;
	}
	d->text = text;
	d->len = len;
	d->tok = tok;
	d->ntok = p.used;
	return JTOK_OK;
}

enum jtok_err
jtok_parse_grow(struct jtok_doc *d, const char *text, size_t len,
    struct jtok *stack, size_t cap, struct jtok **heap, size_t max_depth,
    char *err, size_t errlen)
{
	enum jtok_err e;
	size_t n;

	*heap = NULL;
	e = jtok_parse(d, text, len, stack, cap, max_depth, err, errlen);
	if (e != JTOK_NOSPACE)
		return e;
	n = len / 2 + 1;
	if ((*heap = malloc(n * sizeof(**heap))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return JTOK_NOSPACE;
	}
	return jtok_parse(d, text, len, *heap, n, max_depth, err, errlen);
}

enum jtok_err
jtok_parse_object(struct jtok_doc *d, const char *text, size_t len,
    struct jtok *stack, size_t cap, struct jtok **heap, size_t max_depth)
{
	enum jtok_err e;

	e = jtok_parse_grow(d, text, len, stack, cap, heap, max_depth, NULL, 0);
	if (e == JTOK_OK && jtok_type(d, 0) != JTOK_OBJECT)
		e = JTOK_INVALID;
	if (e != JTOK_OK) {
		free(*heap);
		*heap = NULL;
	}
	return e;
}

/* ---- Lookups ------------------------------------------------------------ */

static const struct jtok *
tok_at(const struct jtok_doc *d, int i)
{
	if (d == NULL || i < 0 || (size_t)i >= d->ntok)
		return NULL;
	return &d->tok[i];
}

/* Whether string token t decodes to the n bytes of s. */
static int
tok_eq_bytes(const struct jtok_doc *d, const struct jtok *t, const char *s,
    size_t n)
{
	struct dec dc;
	size_t i;

	if ((t->flags & JTOK_F_ESCAPED) == 0)
		return t->end - t->start == n &&
		    memcmp(d->text + t->start, s, n) == 0;
	if (n > t->end - t->start)
		return 0;    /* decoding never lengthens */
	dec_init(&dc, d->text, t);
	for (i = 0; i < n; i++)
		if (dec_next(&dc) != (unsigned char)s[i])
			return 0;
	return dec_next(&dc) < 0;
}

int
jtok_get(const struct jtok_doc *d, int obj, const char *key)
{
	const struct jtok *o = tok_at(d, obj);
	size_t klen, k, m;

	if (o == NULL || o->type != JTOK_OBJECT || key == NULL)
		return -1;
	klen = strlen(key);
	for (k = (size_t)obj + 1, m = 0; m < o->size;
	    m++, k = d->tok[k + 1].next)
		if (tok_eq_bytes(d, &d->tok[k], key, klen))
			return (int)k + 1;
	return -1;
}

int
jtok_member(const struct jtok_doc *d, int obj, const char *key,
    enum jtok_type type, int *out)
{
	int i = jtok_get(d, obj, key);

	if (i < 0)
		return 1;
	if (d->tok[i].type != type)
		return -1;
	*out = i;
	return 0;
}

int
jtok_get_int(const struct jtok_doc *d, int obj, const char *key,
    int64_t *out)
{
	int i = jtok_get(d, obj, key);

	if (i < 0)
		return 1;
	return jtok_int(d, i, out) == 0 ? 0 : -1;
}

int
jtok_item(const struct jtok_doc *d, int arr, size_t idx)
{
	const struct jtok *a = tok_at(d, arr);
	size_t k;

	if (a == NULL || a->type != JTOK_ARRAY || idx >= a->size)
		return -1;
	for (k = (size_t)arr + 1; idx > 0; idx--)
		k = d->tok[k].next;
	return (int)k;
}

enum jtok_type
jtok_type(const struct jtok_doc *d, int i)
{
	const struct jtok *t = tok_at(d, i);

	return t != NULL ? (enum jtok_type)t->type : JTOK_NONE;
}

int
jtok_int(const struct jtok_doc *d, int i, int64_t *out)
{
	const struct jtok *t = tok_at(d, i);
	const char *s;
	uint64_t v = 0;
	size_t k;
	int neg;

	if (t == NULL || t->type != JTOK_NUMBER || (t->flags & JTOK_F_INT) == 0)
		return -1;
	s = d->text;
	k = t->start;
	neg = s[k] == '-';
	k += (size_t)neg;
	for (; k < t->end; k++) {
		if (v > ((uint64_t)INT64_MAX + 1 - (unsigned)(s[k] - '0')) / 10)
			return -1;   /* jtok_parse refused it already */
		v = v * 10 + (unsigned)(s[k] - '0');
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return -1;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

int
jtok_str_eq(const struct jtok_doc *d, int i, const char *s)
{
	const struct jtok *t = tok_at(d, i);

	if (t == NULL || t->type != JTOK_STRING || s == NULL)
		return 0;
	return tok_eq_bytes(d, t, s, strlen(s));
}

size_t
jtok_str_copy(const struct jtok_doc *d, int i, char *buf, size_t buflen)
{
	const struct jtok *t = tok_at(d, i);
	struct dec dc;
	size_t n = 0;
	int c;

	if (buflen > 0)
		buf[0] = '\0';
	if (t == NULL || t->type != JTOK_STRING)
		return (size_t)-1;
	if ((t->flags & JTOK_F_ESCAPED) == 0) {
		n = t->end - t->start;
		if (buflen > 0) {
			size_t k = n < buflen - 1 ? n : buflen - 1;

			memcpy(buf, d->text + t->start, k);
			buf[k] = '\0';
		}
		return n;
	}
	dec_init(&dc, d->text, t);
	while ((c = dec_next(&dc)) >= 0) {
		if (n + 1 < buflen)
			buf[n] = (char)c;
		n++;
	}
	if (buflen > 0)
		buf[n < buflen - 1 ? n : buflen - 1] = '\0';
	return n;
}

char *
jtok_strdup(const struct jtok_doc *d, int i)
{
	const struct jtok *t = tok_at(d, i);
	size_t cap;
	char *s;

	if (t == NULL || t->type != JTOK_STRING)
		return NULL;
	cap = t->end - t->start + 1;
	if ((s = malloc(cap)) == NULL)
		return NULL;
	jtok_str_copy(d, i, s, cap);
	return s;
}

const char *
jtok_strerror(enum jtok_err e)
{
	switch (e) {
	case JTOK_OK:
		return "ok";
	case JTOK_INVALID:
		return "invalid JSON";
	case JTOK_DEPTH:
		return "nesting too deep";
	case JTOK_DUPLICATE:
		return "duplicate object key";
	case JTOK_NOSPACE:
		return "more values than tokens";
	}
	return "unknown error";
}
