/* Parses and strictly validates data-sharing agreement documents. */
#include "agreement.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonu.h"
#include "timeu.h"

/*
 * Bounds of the format beyond those in agreement.h; docs/agreements.md and
 * agreements/schema/agreement.schema.json state the same numbers.
 */
#define MAX_VERSION           UINT32_MAX
#define MAX_CONSENT_DAYS      3650
#define MAX_TRANSFERS_PER_DAY 1000000
#define MAX_RETENTION_DAYS    36500
#define SECONDS_PER_DAY       86400

/*
 * Paths: the longest is an unknown member of a field, "$.fields[127]"
 * plus a key cut to PATH_KEY_MAX bytes, each escaped to at most 4.
 */
#define PATH_LEN     256
#define PATH_KEY_MAX 40

#define ID_PATTERN    "^[a-z0-9][a-z0-9-]{0,63}$"
#define FIELD_PATTERN "^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$"
#define HASH_PATTERN  "^[0-9a-f]{64}$"

/* Whether a text member may span lines (LF is its only allowed control). */
enum text_kind {
	TEXT_LINE,
	TEXT_PROSE
};

/* Validation state: where the one error line goes. */
struct vctx {
	char *err;
	size_t errlen;
};

static const char *const root_members[] = {
	"id", "version", "previous_hash", "title", "description", "provider",
	"recipients", "purposes", "fields", "legal_basis", "consent",
	"token_ttl_seconds", "valid_from", "valid_until", "limits",
	"retention", "onward_sharing", NULL
};
static const char *const field_members[] = {
	"name", "description", "optional", NULL
};
static const char *const basis_members[] = { "type", "reference", NULL };
static const char *const consent_members[] = {
	"required", "max_duration_days", NULL
};
static const char *const limits_members[] = {
	"transfers_per_subject_per_day", NULL
};
static const char *const retention_members[] = { "days", "disposal", NULL };
static const char *const onward_members[] = { "allowed", "conditions", NULL };
static const char *const disposals[] = { "delete", "archive", "return", NULL };

static int fail(struct vctx *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "path: message" to the error buffer; always returns -1. */
static int
fail(struct vctx *v, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->err == NULL || v->errlen == 0)
		return -1;
	n = snprintf(v->err, v->errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= v->errlen)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Appends a member to a path. Plain keys give "base.key"; any other key
 * (it can only come from an unknown member) gives base["..."] with bytes
 * outside printable ASCII escaped and the key cut, so that an error stays
 * one short line whatever the document holds.
 */
/* Marks a path that did not fit; never expected with PATH_LEN buffers. */
static void
path_fit(char *out, size_t outlen, int n)
{
	if ((n < 0 || (size_t)n >= outlen) && outlen >= 4)
		memcpy(out + outlen - 4, "...", 4);
}

static void
path_member(char *out, size_t outlen, const char *base, const char *key)
{
	size_t i, o, klen = strlen(key);
	bool plain = klen > 0 && klen <= PATH_KEY_MAX;

	for (i = 0; plain && i < klen; i++) {
		unsigned char c = (unsigned char)key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && c >= '0' && c <= '9')))
			plain = false;
	}
	if (plain) {
		path_fit(out, outlen, snprintf(out, outlen, "%s.%s", base, key));
		return;
	}

	char esc[PATH_KEY_MAX * 4 + 4];
	for (i = 0, o = 0; i < klen && i < PATH_KEY_MAX; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			esc[o++] = (char)c;
		else
			o += (size_t)snprintf(esc + o, sizeof(esc) - o,
			    "\\x%02x", c);
	}
	if (klen > PATH_KEY_MAX) {
		memcpy(esc + o, "...", 3);
		o += 3;
	}
	esc[o] = '\0';
	path_fit(out, outlen, snprintf(out, outlen, "%s[\"%s\"]", base, esc));
}

static void
path_index(char *out, size_t outlen, const char *base, size_t i)
{
	path_fit(out, outlen, snprintf(out, outlen, "%s[%zu]", base, i));
}

static bool
in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Rejects the first member of obj not named in allowed. */
static int
check_members(struct vctx *v, const char *path, json_t *obj,
    const char *const *allowed)
{
	const char *key;
	json_t *val;
	char p[PATH_LEN];

	json_object_foreach(obj, key, val) {
		if (!in_list(key, allowed)) {
			path_member(p, sizeof(p), path, key);
			return fail(v, p, "unknown member");
		}
	}
	return 0;
}

/* ^[a-z0-9][a-z0-9-]{0,63}$ */
static bool
id_ok(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= AGR_MAX_ID)
			return false;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

/* ^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$, at most AGR_MAX_FIELD_NAME bytes. */
static bool
field_name_ok(const char *s)
{
	size_t i;
	bool seg_start = true;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (i >= AGR_MAX_FIELD_NAME)
			return false;
		if (seg_start) {
			if (c < 'a' || c > 'z')
				return false;
			seg_start = false;
		} else if (c == '.') {
			seg_start = true;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_')) {
			return false;
		}
	}
	return i > 0 && !seg_start;
}

static bool
hash_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/*
 * Well-formed UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF). jansson checks this when it parses, but a document handed to
 * agreement_from_json may have been built with json_string_nocheck.
 */
static bool
utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* C0 controls, DEL and C1 controls (U+0080..U+009F); LF allowed in prose. */
static bool
has_control(const unsigned char *s, size_t len, enum text_kind kind)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\n' && kind == TEXT_PROSE)
			continue;
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

/*
 * The string in val, or NULL after writing an error. Embedded NUL bytes
 * are refused here so that every string we hand out is a whole C string.
 */
static const char *
as_string(struct vctx *v, const char *path, json_t *val, const char *what)
{
	const char *s;

	if (!json_is_string(val)) {
		(void)fail(v, path, "must be %s", what);
		return NULL;
	}
	s = json_string_value(val);
	if (strlen(s) != json_string_length(val)) {
		(void)fail(v, path, "must not contain NUL characters");
		return NULL;
	}
	return s;
}

/* An id, party id or purpose. */
static int
get_id(struct vctx *v, const char *path, json_t *val, const char **out)
{
	const char *s = as_string(v, path, val, "a string");

	if (s == NULL)
		return -1;
	if (!id_ok(s))
		return fail(v, path, "must match " ID_PATTERN);
	*out = s;
	return 0;
}

/*
 * Text member key of obj: 1..AGR_MAX_TEXT bytes of UTF-8 without control
 * characters (but LF in prose). Returns 0, 1 when absent and optional
 * (out untouched), -1 after writing an error.
 */
static int
get_text(struct vctx *v, const char *base, json_t *obj, const char *key,
    bool required, enum text_kind kind, const char **out)
{
	char p[PATH_LEN];
	json_t *val = json_object_get(obj, key);
	const char *s;
	size_t len;

	path_member(p, sizeof(p), base, key);
	if (val == NULL)
		return required ? fail(v, p, "is required") : 1;
	s = as_string(v, p, val, "a string");
	if (s == NULL)
		return -1;
	len = json_string_length(val);
	if (len < 1 || len > AGR_MAX_TEXT)
		return fail(v, p, "must be from 1 to %d bytes long",
		    AGR_MAX_TEXT);
	if (!utf8_ok((const unsigned char *)s, len))
		return fail(v, p, "must be valid UTF-8");
	if (has_control((const unsigned char *)s, len, kind))
		return fail(v, p, kind == TEXT_PROSE ?
		    "must not contain control characters other than line feed" :
		    "must not contain control characters");
	*out = s;
	return 0;
}

/* Integer member in [min, max]; 0, 1 when absent and optional, or -1. */
static int
get_int(struct vctx *v, const char *base, json_t *obj, const char *key,
    bool required, json_int_t min, json_int_t max, json_int_t *out)
{
	char p[PATH_LEN];
	json_t *val = json_object_get(obj, key);
	json_int_t n;

	path_member(p, sizeof(p), base, key);
	if (val == NULL)
		return required ? fail(v, p, "is required") : 1;
	/* Reals (even 300.0) are refused: the canonical hash never sees one. */
	if (!json_is_integer(val) ||
	    (n = json_integer_value(val)) < min || n > max)
		return fail(v, p, "must be an integer from %lld to %lld",
		    (long long)min, (long long)max);
	*out = n;
	return 0;
}

static int
get_bool(struct vctx *v, const char *base, json_t *obj, const char *key,
    bool required, bool *out)
{
	char p[PATH_LEN];
	json_t *val = json_object_get(obj, key);

	path_member(p, sizeof(p), base, key);
	if (val == NULL)
		return required ? fail(v, p, "is required") : 1;
	if (!json_is_boolean(val))
		return fail(v, p, "must be a boolean");
	*out = json_is_true(val);
	return 0;
}

/*
 * Object member key of obj whose members are all in allowed. Returns 0 with
 * *out set (and its path in p), 1 when absent and optional, or -1.
 */
static int
get_object(struct vctx *v, const char *base, json_t *obj, const char *key,
    bool required, const char *const *allowed, json_t **out, char *p,
    size_t plen)
{
	json_t *val = json_object_get(obj, key);

	path_member(p, plen, base, key);
	if (val == NULL)
		return required ? fail(v, p, "is required") : 1;
	if (!json_is_object(val))
		return fail(v, p, "must be an object");
	if (check_members(v, p, val, allowed) != 0)
		return -1;
	*out = val;
	return 0;
}

/* Required array member key of obj with 1..max elements. */
static int
get_array(struct vctx *v, const char *base, json_t *obj, const char *key,
    size_t max, json_t **out, char *p, size_t plen)
{
	json_t *val = json_object_get(obj, key);

	path_member(p, plen, base, key);
	if (val == NULL)
		return fail(v, p, "is required");
	if (!json_is_array(val))
		return fail(v, p, "must be an array");
	if (json_array_size(val) == 0)
		return fail(v, p, "must not be empty");
	if (json_array_size(val) > max)
		return fail(v, p, "must have at most %zu elements", max);
	*out = val;
	return 0;
}

/* Optional RFC 3339 member; 0 with *out, 1 when absent, or -1. */
static int
get_time(struct vctx *v, const char *base, json_t *obj, const char *key,
    int64_t *out)
{
	char p[PATH_LEN];
	json_t *val = json_object_get(obj, key);
	const char *s;
	int64_t t;

	path_member(p, sizeof(p), base, key);
	if (val == NULL)
		return 1;
	s = as_string(v, p, val, "an RFC 3339 date-time string");
	if (s == NULL)
		return -1;
	/* 0 means "no bound" in struct agreement, so the epoch is refused. */
	if (timeu_parse(s, &t) != 0 || t <= 0)
		return fail(v, p, "must be an RFC 3339 date-time after "
		    "1970-01-01T00:00:00Z");
	*out = t;
	return 0;
}

/*
 * A required array of unique ids (recipients, purposes) into a new array
 * of borrowed strings.
 */
static int
get_id_list(struct vctx *v, json_t *root, const char *key, size_t max,
    const char ***out, size_t *nout)
{
	char p[PATH_LEN], ip[PATH_LEN];
	json_t *arr;
	const char **ids;
	size_t i, j, n;

	if (get_array(v, "$", root, key, max, &arr, p, sizeof(p)) != 0)
		return -1;
	n = json_array_size(arr);
	assert(n >= 1 && n <= max);
	ids = calloc(n, sizeof(*ids));
	if (ids == NULL)
		return fail(v, "$", "out of memory");
	*out = ids;
	for (i = 0; i < n; i++) {
		path_index(ip, sizeof(ip), p, i);
		if (get_id(v, ip, json_array_get(arr, i), &ids[i]) != 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(ids[j], ids[i]) == 0)
				return fail(v, ip, "duplicate \"%s\"", ids[i]);
		*nout = i + 1;
	}
	return 0;
}

static int
parse_fields(struct vctx *v, json_t *root, struct agreement *a)
{
	char p[PATH_LEN], ip[PATH_LEN], np[PATH_LEN];
	json_t *arr, *f, *name;
	size_t i, j, n;

	if (get_array(v, "$", root, "fields", AGR_MAX_FIELDS, &arr, p,
	    sizeof(p)) != 0)
		return -1;
	n = json_array_size(arr);
	a->fields = calloc(n, sizeof(*a->fields));
	if (a->fields == NULL)
		return fail(v, "$", "out of memory");
	for (i = 0; i < n; i++) {
		struct agr_field *fd = &a->fields[i];

		path_index(ip, sizeof(ip), p, i);
		f = json_array_get(arr, i);
		if (!json_is_object(f))
			return fail(v, ip, "must be an object");
		if (check_members(v, ip, f, field_members) != 0)
			return -1;

		path_member(np, sizeof(np), ip, "name");
		name = json_object_get(f, "name");
		if (name == NULL)
			return fail(v, np, "is required");
		fd->name = as_string(v, np, name, "a string");
		if (fd->name == NULL)
			return -1;
		if (!field_name_ok(fd->name))
			return fail(v, np, "must match " FIELD_PATTERN
			    " and be at most %d bytes long", AGR_MAX_FIELD_NAME);
		for (j = 0; j < i; j++)
			if (strcmp(a->fields[j].name, fd->name) == 0)
				return fail(v, np, "duplicate \"%s\"", fd->name);

		if (get_text(v, ip, f, "description", true, TEXT_PROSE,
		    &fd->description) != 0)
			return -1;
		fd->optional = false;
		if (get_bool(v, ip, f, "optional", false, &fd->optional) < 0)
			return -1;
		a->nfields = i + 1;
	}
	return 0;
}

static int
parse_basis_and_consent(struct vctx *v, json_t *root, struct agreement *a)
{
	char p[PATH_LEN], tp[PATH_LEN];
	json_t *obj = NULL, *type;
	const char *t;
	json_int_t days = 0;
	int rc;

	if (get_object(v, "$", root, "legal_basis", true, basis_members, &obj,
	    p, sizeof(p)) != 0)
		return -1;
	path_member(tp, sizeof(tp), p, "type");
	type = json_object_get(obj, "type");
	if (type == NULL)
		return fail(v, tp, "is required");
	t = as_string(v, tp, type, "\"consent\" or \"statute\"");
	if (t == NULL)
		return -1;
	if (strcmp(t, "consent") == 0)
		a->basis = AGR_BASIS_CONSENT;
	else if (strcmp(t, "statute") == 0)
		a->basis = AGR_BASIS_STATUTE;
	else
		return fail(v, tp, "must be \"consent\" or \"statute\"");
	rc = get_text(v, p, obj, "reference", false, TEXT_LINE,
	    &a->basis_reference);
	if (rc < 0)
		return -1;
	if (rc == 1 && a->basis == AGR_BASIS_STATUTE)
		return fail(v, "$.legal_basis.reference",
		    "is required when type is \"statute\"");

	if (get_object(v, "$", root, "consent", true, consent_members, &obj,
	    p, sizeof(p)) != 0)
		return -1;
	if (get_bool(v, p, obj, "required", true, &a->consent_required) != 0)
		return -1;
	/*
	 * The legal basis decides whether consent is used; the explicit flag
	 * must agree so that a reader of either member cannot be misled.
	 */
	if (a->basis == AGR_BASIS_CONSENT && !a->consent_required)
		return fail(v, "$.consent.required",
		    "must be true when legal_basis.type is \"consent\"");
	if (a->basis == AGR_BASIS_STATUTE && a->consent_required)
		return fail(v, "$.consent.required",
		    "must be false when legal_basis.type is \"statute\"");
	rc = get_int(v, p, obj, "max_duration_days", false, 1,
	    MAX_CONSENT_DAYS, &days);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		if (!a->consent_required)
			return fail(v, "$.consent.max_duration_days",
			    "must be absent when required is false");
		a->consent_max_seconds = (int64_t)days * SECONDS_PER_DAY;
	}
	return 0;
}

static int
parse_policy(struct vctx *v, json_t *root, struct agreement *a)
{
	char p[PATH_LEN];
	json_t *obj = NULL;
	json_int_t n = 0;
	const char *s;
	bool allowed = false;
	int rc, rc_from, rc_until;

	if (get_int(v, "$", root, "token_ttl_seconds", true, 1,
	    AGR_MAX_TTL_SECONDS, &n) != 0)
		return -1;
	a->token_ttl_seconds = (uint32_t)n;

	rc_from = get_time(v, "$", root, "valid_from", &a->valid_from);
	if (rc_from < 0)
		return -1;
	rc_until = get_time(v, "$", root, "valid_until", &a->valid_until);
	if (rc_until < 0)
		return -1;
	if (rc_from == 0 && rc_until == 0 && a->valid_until <= a->valid_from)
		return fail(v, "$.valid_until", "must be after valid_from");

	rc = get_object(v, "$", root, "limits", false, limits_members, &obj,
	    p, sizeof(p));
	if (rc < 0)
		return -1;
	if (rc == 0) {
		rc = get_int(v, p, obj, "transfers_per_subject_per_day", false,
		    1, MAX_TRANSFERS_PER_DAY, &n);
		if (rc < 0)
			return -1;
		if (rc == 0)
			a->max_per_subject_per_day = (uint32_t)n;
	}

	if (get_object(v, "$", root, "retention", true, retention_members,
	    &obj, p, sizeof(p)) != 0)
		return -1;
	if (get_int(v, p, obj, "days", true, 1, MAX_RETENTION_DAYS, &n) != 0)
		return -1;
	if (json_object_get(obj, "disposal") == NULL)
		return fail(v, "$.retention.disposal", "is required");
	s = as_string(v, "$.retention.disposal",
	    json_object_get(obj, "disposal"),
	    "\"delete\", \"archive\" or \"return\"");
	if (s == NULL)
		return -1;
	if (!in_list(s, disposals))
		return fail(v, "$.retention.disposal",
		    "must be \"delete\", \"archive\" or \"return\"");

	if (get_object(v, "$", root, "onward_sharing", true, onward_members,
	    &obj, p, sizeof(p)) != 0)
		return -1;
	if (get_bool(v, p, obj, "allowed", true, &allowed) != 0)
		return -1;
	rc = get_text(v, p, obj, "conditions", false, TEXT_PROSE, &s);
	if (rc < 0)
		return -1;
	if (rc == 0 && !allowed)
		return fail(v, "$.onward_sharing.conditions",
		    "must be absent when allowed is false");
	return 0;
}

/* Validates root into a; on failure a is partly filled and err is set. */
static int
validate(struct vctx *v, json_t *root, struct agreement *a)
{
	json_t *val;
	json_int_t n = 0;
	const char *desc;
	size_t i;

	if (!json_is_object(root))
		return fail(v, "$", "must be an object");
	if (check_members(v, "$", root, root_members) != 0)
		return -1;

	if ((val = json_object_get(root, "id")) == NULL)
		return fail(v, "$.id", "is required");
	if (get_id(v, "$.id", val, &a->id) != 0)
		return -1;

	if (get_int(v, "$", root, "version", true, 1, MAX_VERSION, &n) != 0)
		return -1;
	a->version = (uint32_t)n;

	val = json_object_get(root, "previous_hash");
	if (a->version == 1 && val != NULL)
		return fail(v, "$.previous_hash", "must be absent when version "
		    "is 1");
	if (a->version > 1) {
		if (val == NULL)
			return fail(v, "$.previous_hash", "is required when "
			    "version is greater than 1");
		a->previous_hash = as_string(v, "$.previous_hash", val,
		    "a string");
		if (a->previous_hash == NULL)
			return -1;
		if (!hash_ok(a->previous_hash))
			return fail(v, "$.previous_hash",
			    "must match " HASH_PATTERN);
	}

	if (get_text(v, "$", root, "title", true, TEXT_LINE, &a->title) != 0)
		return -1;
	if (get_text(v, "$", root, "description", false, TEXT_PROSE,
	    &desc) < 0)
		return -1;

	if ((val = json_object_get(root, "provider")) == NULL)
		return fail(v, "$.provider", "is required");
	if (get_id(v, "$.provider", val, &a->provider) != 0)
		return -1;

	if (get_id_list(v, root, "recipients", AGR_MAX_RECIPIENTS,
	    &a->recipients, &a->nrecipients) != 0)
		return -1;
	/* A provider never asks itself for its own data under an agreement. */
	for (i = 0; i < a->nrecipients; i++) {
		if (strcmp(a->recipients[i], a->provider) == 0) {
			char p[PATH_LEN];

			path_index(p, sizeof(p), "$.recipients", i);
			return fail(v, p, "must not be the provider \"%s\"",
			    a->provider);
		}
	}

	if (get_id_list(v, root, "purposes", AGR_MAX_PURPOSES, &a->purposes,
	    &a->npurposes) != 0)
		return -1;
	if (parse_fields(v, root, a) != 0)
		return -1;
	if (parse_basis_and_consent(v, root, a) != 0)
		return -1;
	return parse_policy(v, root, a);
}

struct agreement *
agreement_from_json(json_t *doc, char *err, size_t errlen)
{
	struct vctx v = { err, errlen };
	struct agreement *a = NULL;
	char *canon = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (doc == NULL) {
		(void)fail(&v, "$", "no document");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		(void)fail(&v, "$", "out of memory");
		return NULL;
	}
	a->doc = json_incref(doc);

	/* Validate first: it bounds the depth that canonicalization walks. */
	if (validate(&v, doc, a) != 0)
		goto fail;
	assert(a->id != NULL && a->title != NULL && a->provider != NULL);
	assert(a->nrecipients >= 1 && a->npurposes >= 1 && a->nfields >= 1);

	/*
	 * agreement_parse bounds the bytes it reads; a document built in
	 * memory is held to the same bound through its canonical form, which
	 * is never longer than the text it was parsed from.
	 */
	canon = jsonu_canonical(doc);
	if (canon == NULL) {
		(void)fail(&v, "$", "cannot be canonicalized");
		goto fail;
	}
	if (strlen(canon) > AGR_MAX_DOC_BYTES) {
		(void)fail(&v, "$", "must be at most %d bytes long",
		    AGR_MAX_DOC_BYTES);
		goto fail;
	}
	if (jsonu_canonical_sha256_hex(doc, a->hash) != 0) {
		(void)fail(&v, "$", "cannot be hashed");
		goto fail;
	}
	free(canon);
	return a;

fail:
	free(canon);
	agreement_free(a);
	return NULL;
}

struct agreement *
agreement_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	struct vctx v = { err, errlen };
	struct agreement *a;
	json_t *doc;
	char jerr[160];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL) {
		(void)fail(&v, "$", "no document");
		return NULL;
	}
	if (len > AGR_MAX_DOC_BYTES) {
		(void)fail(&v, "$", "must be at most %d bytes long",
		    AGR_MAX_DOC_BYTES);
		return NULL;
	}
	jerr[0] = '\0';
	doc = jsonu_parse(buf, len, AGR_MAX_DEPTH, jerr, sizeof(jerr));
	if (doc == NULL) {
		/* The parser may quote the input; keep the message one line. */
		for (char *c = jerr; *c != '\0'; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		(void)fail(&v, "$", "invalid JSON: %s", jerr);
		return NULL;
	}
	a = agreement_from_json(doc, err, errlen);
	json_decref(doc);
	return a;
}

void
agreement_free(struct agreement *a)
{
	if (a == NULL)
		return;
	free(a->recipients);
	free(a->purposes);
	free(a->fields);
	json_decref(a->doc);
	free(a);
}

const struct agr_field *
agreement_field(const struct agreement *a, const char *name)
{
	size_t i;

	if (a == NULL || name == NULL)
		return NULL;
	for (i = 0; i < a->nfields; i++)
		if (strcmp(a->fields[i].name, name) == 0)
			return &a->fields[i];
	return NULL;
}

static bool
list_has(const char *const *list, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

bool
agreement_has_purpose(const struct agreement *a, const char *purpose)
{
	return a != NULL && list_has(a->purposes, a->npurposes, purpose);
}

bool
agreement_has_recipient(const struct agreement *a, const char *party)
{
	return a != NULL && list_has(a->recipients, a->nrecipients, party);
}

bool
agreement_names_party(const struct agreement *a, const char *party)
{
	if (a == NULL || party == NULL)
		return false;
	return strcmp(a->provider, party) == 0 ||
	    agreement_has_recipient(a, party);
}
