/* Canonical audit log entries: build and decode. */
#include <stdio.h>
#include <string.h>

#include "logentry.h"

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static uint64_t
get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

void
le_begin(struct le_buf *e, enum le_type type, int64_t time)
{
	e->b[0] = LE_VERSION;
	e->b[1] = (unsigned char)type;
	put_be(e->b + 2, (uint64_t)time, 8);
	e->len = LE_HEADER;
	e->last_tag = 0;
	e->error = 0;
}

void
le_bytes(struct le_buf *e, enum le_tag tag, const void *p, size_t n)
{
	if (e->error || (int)tag <= e->last_tag || tag >= T__MAX ||
	    n > 0xffff || e->len + 3 + n > sizeof(e->b)) {
		e->error = 1;
		return;
	}
	e->b[e->len] = (unsigned char)tag;
	put_be(e->b + e->len + 1, n, 2);
	if (n > 0)
		memcpy(e->b + e->len + 3, p, n);
	e->len += 3 + n;
	e->last_tag = (int)tag;
}

void
le_str(struct le_buf *e, enum le_tag tag, const char *s)
{
	le_bytes(e, tag, s, strlen(s));
}

void
le_u32(struct le_buf *e, enum le_tag tag, uint32_t v)
{
	unsigned char b[4];

	put_be(b, v, 4);
	le_bytes(e, tag, b, 4);
}

void
le_u64(struct le_buf *e, enum le_tag tag, uint64_t v)
{
	unsigned char b[8];

	put_be(b, v, 8);
	le_bytes(e, tag, b, 8);
}

int
le_end(struct le_buf *e, const unsigned char **data, size_t *len)
{
	if (e->error)
		return -1;
	*data = e->b;
	*len = e->len;
	return 0;
}

/* Fixed widths; 0 means any length. */
static const uint16_t width[T__MAX] = {
	[T_VERSION] = 4, [T_AGREEMENT_HASH] = 32, [T_LIMIT] = 4,
	[T_SUBJECT] = 32, [T_EXPIRES] = 8, [T_CLAIMS_HASH] = 32,
};

int
le_decode(const unsigned char *d, size_t len, struct le_entry *out,
    char *err, size_t errlen)
{
	size_t off = LE_HEADER;
	unsigned tag, last = 0;
	uint16_t n;

	memset(out, 0, sizeof(*out));
	if (len < LE_HEADER || len > LE_MAX) {
		snprintf(err, errlen, "entry of %zu bytes", len);
		return -1;
	}
	if (d[0] != LE_VERSION) {
		snprintf(err, errlen, "entry format version %u", d[0]);
		return -1;
	}
	if (d[1] < LE_PARTY || d[1] > LE_TOKEN) {
		snprintf(err, errlen, "unknown entry type %u", d[1]);
		return -1;
	}
	out->type = (enum le_type)d[1];
	out->time = (int64_t)get_be(d + 2, 8);
	while (off < len) {
		if (len - off < 3) {
			snprintf(err, errlen, "truncated field at byte %zu", off);
			return -1;
		}
		tag = d[off];
		n = (uint16_t)get_be(d + off + 1, 2);
		if (tag == 0 || tag >= T__MAX || tag <= last) {
			snprintf(err, errlen, "field tag %u out of order or unknown "
			    "at byte %zu", tag, off);
			return -1;
		}
		if (len - off - 3 < n || (width[tag] != 0 && n != width[tag])) {
			snprintf(err, errlen, "field %u has a bad length %u", tag, n);
			return -1;
		}
		out->v[tag] = d + off + 3;
		out->n[tag] = n;
		out->present |= 1u << tag;
		last = tag;
		off += 3 + n;
	}
	return 0;
}

int
le_has(const struct le_entry *e, enum le_tag t)
{
	return (e->present >> t) & 1;
}

int
le_get_str(const struct le_entry *e, enum le_tag t, char *out, size_t outlen)
{
	if (!le_has(e, t) || e->n[t] >= outlen ||
	    memchr(e->v[t], '\0', e->n[t]) != NULL)
		return -1;
	memcpy(out, e->v[t], e->n[t]);
	out[e->n[t]] = '\0';
	return 0;
}

int
le_get_u64(const struct le_entry *e, enum le_tag t, uint64_t *out)
{
	if (!le_has(e, t) || (e->n[t] != 4 && e->n[t] != 8))
		return -1;
	*out = get_be(e->v[t], e->n[t]);
	return 0;
}

int
le_str_eq(const struct le_entry *e, enum le_tag t, const char *s)
{
	size_t n = strlen(s);

	return le_has(e, t) && e->n[t] == n && memcmp(e->v[t], s, n) == 0;
}

const char *
le_type_name(enum le_type t)
{
	switch (t) {
	case LE_PARTY:
		return "party";
	case LE_AGREEMENT:
		return "agreement";
	case LE_CONSENT_GRANT:
		return "consent-grant";
	case LE_CONSENT_REVOKE:
		return "consent-revoke";
	case LE_TOKEN:
		return "token";
	}
	return "unknown";
}
