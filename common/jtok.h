/* A strict, allocation-free JSON tokenizer (RFC 8259) for untrusted input. */
#ifndef CB_JTOK_H
#define CB_JTOK_H

#include <stddef.h>
#include <stdint.h>

/* Hard nesting bound: jtok_parse recurses once per level. */
#define JTOK_MAX_DEPTH 64
/* Longest text jtok_parse accepts (offsets are 32-bit). */
#define JTOK_MAX_LEN (1u << 30)

enum jtok_type {
	JTOK_NONE = 0,
	JTOK_OBJECT,
	JTOK_ARRAY,
	JTOK_STRING,
	JTOK_NUMBER,
	JTOK_TRUE,
	JTOK_FALSE,
	JTOK_NULL
};

/* A string with at least one backslash escape. */
#define JTOK_F_ESCAPED 0x01
/* A number without fraction or exponent; it fits an int64_t. */
#define JTOK_F_INT 0x02

/*
 * One value, in document order. Objects are followed by their members as
 * key (a string token), value pairs; arrays by their items.
 */
struct jtok {
	uint8_t type;        /* enum jtok_type */
	uint8_t flags;       /* JTOK_F_* */
	uint32_t start;      /* string: after the opening quote; else first byte */
	uint32_t end;        /* string: the closing quote; else one past the end */
	uint32_t size;       /* object: members; array: items; else 0 */
	uint32_t next;       /* index of the token after this value's subtree */
};

/* A parsed text; borrows the text and the token array. */
struct jtok_doc {
	const char *text;
	size_t len;
	const struct jtok *tok;   /* tok[0] is the top-level value */
	size_t ntok;              /* tokens used */
};

enum jtok_err {
	JTOK_OK = 0,
	JTOK_INVALID,      /* not JSON, or a rule below broken */
	JTOK_DEPTH,        /* nested deeper than max_depth */
	JTOK_DUPLICATE,    /* an object has two members with one (decoded) key */
	JTOK_NOSPACE       /* more values than the token array holds */
};

/*
 * Parses exactly len bytes as one JSON value (any type, surrounded by
 * optional whitespace) into tok[0..cap). Rejects everything jansson's
 * json_loadb with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY rejects, as
 * jsonu_parse uses it: bad grammar, control characters (and so NUL) in
 * strings, bad escapes, lone or mismatched UTF-16 surrogates in \u escapes,
 * \u0000, invalid UTF-8 (overlong forms, encoded surrogates, beyond
 * U+10FFFF), integers outside int64_t, nesting deeper than max_depth
 * (objects and arrays; at most JTOK_MAX_DEPTH, larger values act as it),
 * duplicate keys (compared decoded), trailing data, texts longer than
 * JTOK_MAX_LEN. Deliberately stricter than jansson in one case: a number
 * with a fraction or exponent whose magnitude is 1e308 or more is refused
 * (jansson refuses only those that overflow a double, from about
 * 1.8e308). A text of len bytes never needs more than len / 2 + 1 tokens.
 * On success fills *d and returns JTOK_OK; otherwise returns the error,
 * with "position N: reason" (N the 1-based byte offset) in err.
 */
enum jtok_err jtok_parse(struct jtok_doc *d, const char *text, size_t len,
    struct jtok *tok, size_t cap, size_t max_depth, char *err,
    size_t errlen);

/*
 * As jtok_parse into the cap tokens of stack; when they are too few, again
 * into a heap array of len / 2 + 1 tokens (always enough), left in *heap
 * for the caller to free (NULL when the stack sufficed). JTOK_NOSPACE then
 * means only that the heap array could not be allocated.
 */
enum jtok_err jtok_parse_grow(struct jtok_doc *d, const char *text,
    size_t len, struct jtok *stack, size_t cap, struct jtok **heap,
    size_t max_depth, char *err, size_t errlen);

/*
 * As jtok_parse_grow, for a text that must be one object (a stored
 * record): JTOK_INVALID when it is any other value. After every error
 * *heap is NULL (a heap array tried is freed), so the caller frees it
 * only after a success.
 */
enum jtok_err jtok_parse_object(struct jtok_doc *d, const char *text,
    size_t len, struct jtok *stack, size_t cap, struct jtok **heap,
    size_t max_depth);

/*
 * Lookups. Indexes are ints; -1 means "none" and every function accepts
 * it, so lookups chain as jansson's do with NULL.
 */

/* The value of obj's member key (compared decoded), or -1 (also when obj
 * is not an object). */
int jtok_get(const struct jtok_doc *d, int obj, const char *key);

/*
 * As jtok_get, typed as jsonu_get_*: 0 with the value's index in *out when
 * key is present with that type, 1 when absent, -1 when of another type.
 * Types match exactly (JTOK_TRUE is not false); integers: jtok_get_int.
 */
int jtok_member(const struct jtok_doc *d, int obj, const char *key,
    enum jtok_type type, int *out);

/* As jsonu_get_int: 0 (integer in *out), 1 absent, -1 another type
 * (also a number with a fraction or exponent). */
int jtok_get_int(const struct jtok_doc *d, int obj, const char *key,
    int64_t *out);

/* The idx-th item of array arr, or -1. */
int jtok_item(const struct jtok_doc *d, int arr, size_t idx);

/* The type of token i; JTOK_NONE for -1. */
enum jtok_type jtok_type(const struct jtok_doc *d, int i);

/* An integer token's value: 0, or -1 if i is not one. */
int jtok_int(const struct jtok_doc *d, int i, int64_t *out);

/* 1 if string token i, decoded, equals s; 0 otherwise (or not a string). */
int jtok_str_eq(const struct jtok_doc *d, int i, const char *s);

/*
 * Decodes string token i into buf (buflen > 0), truncated to buflen - 1
 * bytes, NUL-terminated. Returns the full decoded length, or (size_t)-1
 * (buf "") if i is not a string. Decoding never lengthens: the raw length
 * end - start plus one always suffices.
 */
size_t jtok_str_copy(const struct jtok_doc *d, int i, char *buf,
    size_t buflen);

/* String token i decoded into a new NUL-terminated string (free), or NULL
 * if it is not a string or on ENOMEM. */
char *jtok_strdup(const struct jtok_doc *d, int i);

/* Static message for a code. */
const char *jtok_strerror(enum jtok_err e);

/*
 * Length of the valid UTF-8 sequence of 2 to 4 bytes at s (n bytes left),
 * or 0 (also for ASCII): no overlong forms, no surrogates, nothing beyond
 * U+10FFFF (Unicode 15, table 3-7).
 */
size_t jtok_utf8_len(const unsigned char *s, size_t n);

#endif
