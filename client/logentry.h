/*
 * Audit log entries: canonical bytes (docs/audit-log.md).
 *
 *   entry = version(1) = 0x01 | type(1) | time(8, big-endian Unix seconds)
 *           | field*
 *   field = tag(1) | length(2, big-endian) | value(length)
 *
 * Fields appear in ascending tag order, each at most once, and nothing
 * follows the last; so each entry has exactly one encoding.
 */
#ifndef CB_LOGENTRY_H
#define CB_LOGENTRY_H

#include <stddef.h>
#include <stdint.h>

#define LE_VERSION 0x01
#define LE_MAX 4096
#define LE_HEADER 10

enum le_type {
	LE_PARTY = 1,          /* a party registered or changed */
	LE_AGREEMENT = 2,      /* an agreement version submitted, approved, or its state changed */
	LE_CONSENT_GRANT = 3,
	LE_CONSENT_REVOKE = 4,
	LE_TOKEN = 5           /* a transfer token issued */
};

enum le_tag {
	T_EVENT = 1,           /* text: submit, approve, activate, suspend, ... */
	T_ACTOR = 2,           /* text: party id that acted */
	T_PARTY = 3,           /* text: party id (LE_PARTY) */
	T_ROLES = 4,           /* text: comma-separated roles */
	T_PIN = 5,             /* text: hex SHA-256 SPKI pin */
	T_AGREEMENT = 6,       /* text: agreement id */
	T_VERSION = 7,         /* u32 */
	T_AGREEMENT_HASH = 8,  /* 32 bytes */
	T_STATE = 9,           /* text: agreement state after the change */
	T_BASIS = 10,          /* text: consent | statute */
	T_LIMIT = 11,          /* u32: transfers per subject per day (0 none) */
	T_CONSENT = 12,        /* text: consent id */
	T_SUBJECT = 13,        /* 32 bytes: HMAC-SHA256 pseudonym of the subject */
	T_FIELDS = 14,         /* text: comma-separated field names */
	T_EXPIRES = 15,        /* u64: consent or token expiry */
	T_JTI = 16,            /* text */
	T_CLAIMS_HASH = 17,    /* 32 bytes: SHA-256 of the token's claims JSON as signed */
	T_CLIENT = 18,         /* text: requesting party */
	T_PROVIDER = 19,       /* text: providing party */
	T_PURPOSE = 20,        /* text */
	T__MAX = 21
};

/* Builder: fields must be added in ascending tag order. */
struct le_buf {
	unsigned char b[LE_MAX];
	size_t len;
	int last_tag;
	int error;             /* sticky: set on overflow or order error */
};

void le_begin(struct le_buf *e, enum le_type type, int64_t time);
void le_bytes(struct le_buf *e, enum le_tag tag, const void *p, size_t n);
void le_str(struct le_buf *e, enum le_tag tag, const char *s);
void le_u32(struct le_buf *e, enum le_tag tag, uint32_t v);
void le_u64(struct le_buf *e, enum le_tag tag, uint64_t v);
/* The entry's bytes, or -1 if the builder failed. */
int le_end(struct le_buf *e, const unsigned char **data, size_t *len);

/* A decoded entry; values point into the decoded bytes. */
struct le_entry {
	enum le_type type;
	int64_t time;
	const unsigned char *v[T__MAX];
	uint16_t n[T__MAX];
	uint32_t present;      /* bit t set when tag t is present */
};

/* Decodes strictly; 0, or -1 with the reason in err. */
int le_decode(const unsigned char *data, size_t len, struct le_entry *out,
    char *err, size_t errlen);

int le_has(const struct le_entry *e, enum le_tag t);
/* Copies a text field into out (NUL-terminated); 0, or -1 if absent or
 * does not fit. */
int le_get_str(const struct le_entry *e, enum le_tag t, char *out,
    size_t outlen);
int le_get_u64(const struct le_entry *e, enum le_tag t, uint64_t *out);
/* true when text field t equals s. */
int le_str_eq(const struct le_entry *e, enum le_tag t, const char *s);

/* Name of a type, for reports. */
const char *le_type_name(enum le_type t);

#endif
