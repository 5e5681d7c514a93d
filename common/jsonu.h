/* Bounded, strict JSON parsing and RFC 8785 canonical serialization on jansson. */
#ifndef CB_JSONU_H
#define CB_JSONU_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Default nesting bound for untrusted JSON (objects and arrays). */
#define JSONU_MAX_DEPTH 16

/*
 * Parses exactly len bytes as one JSON value. Rejects: nesting deeper than
 * max_depth, duplicate object keys, NUL bytes, invalid UTF-8, trailing data.
 * Returns a new reference, or NULL with a one-line reason in err
 * (e.g. "line 1 column 7: duplicate object key").
 */
json_t *jsonu_parse(const char *buf, size_t len, size_t max_depth, char *err,
    size_t errlen);

/*
 * RFC 8785 (JCS) serialization of v: no whitespace, object members sorted
 * by key in UTF-16 code-unit order as RFC 8785 requires (the same as byte
 * order except for keys mixing U+E000..U+FFFF with supplementary-plane
 * characters), strings with minimal escapes. Real numbers are refused (we
 * never sign them), and so are integers beyond +-(2^53 - 1), which other
 * JCS implementations (IEEE doubles) would print differently; so is
 * nesting deeper than 64. Returns a malloc'd NUL-terminated string, or NULL
 * on those or ENOMEM.
 */
char *jsonu_canonical(const json_t *v);

/* Hex SHA-256 of jsonu_canonical(v) into out[65]; 0 or -1. */
int jsonu_canonical_sha256_hex(const json_t *v, char out[65]);

/*
 * Typed member getters. Each returns 0 when key is present with the type,
 * 1 when absent (out untouched), -1 when present with another type.
 */
int jsonu_get_str(const json_t *obj, const char *key, const char **out);
int jsonu_get_int(const json_t *obj, const char *key, int64_t *out);
int jsonu_get_bool(const json_t *obj, const char *key, int *out);

/* Dumps v compactly (keys in insertion order); caller frees. */
char *jsonu_dump(const json_t *v);

/*
 * JSON text written piece by piece, for hot paths that would otherwise
 * build jansson values only to dump them. Start from all zeros
 * (struct jsonu_buf b = { 0 }); the caller writes the punctuation. A
 * failed append (out of memory, or a string that is not UTF-8) makes the
 * buffer fail for good, so one check at the end covers every append.
 *   jsonu_buf_raw, _lit: bytes as they are (n of them, or up to the NUL);
 *   jsonu_buf_str: s as a JSON string, quoted, with the minimal escapes
 *     of RFC 8785 (the same as jsonu_canonical); fails on a NULL s or on
 *     ill-formed UTF-8 (overlong forms, surrogates, above U+10FFFF);
 *   jsonu_buf_int: v in decimal.
 * jsonu_buf_take returns the text (malloc'd, NUL-terminated; *len its
 * length when len is not NULL) and empties the buffer; NULL, with the
 * buffer freed, when an append failed or nothing was written.
 * jsonu_buf_free empties it without a result.
 */
struct jsonu_buf {
	char *p;
	size_t len, cap;
	int failed;
};

void jsonu_buf_raw(struct jsonu_buf *b, const char *s, size_t n);
void jsonu_buf_lit(struct jsonu_buf *b, const char *s);
void jsonu_buf_str(struct jsonu_buf *b, const char *s);
void jsonu_buf_int(struct jsonu_buf *b, int64_t v);
char *jsonu_buf_take(struct jsonu_buf *b, size_t *len);
void jsonu_buf_free(struct jsonu_buf *b);

#endif
