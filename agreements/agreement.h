/*
 * The data-sharing agreement model: parsing and validating agreement
 * documents (JSON, see agreements/schema/agreement.schema.json and
 * docs/agreements.md) into a read-only struct.
 */
#ifndef CB_AGREEMENT_H
#define CB_AGREEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Bounds on documents; each is part of the documented format. */
#define AGR_MAX_DOC_BYTES   65536
#define AGR_MAX_DEPTH       8
#define AGR_MAX_ID          64   /* ids, party ids, purposes */
#define AGR_MAX_FIELD_NAME  128
#define AGR_MAX_TEXT        2048 /* title, descriptions, references */
#define AGR_MAX_RECIPIENTS  32
#define AGR_MAX_PURPOSES    16
#define AGR_MAX_FIELDS      128
#define AGR_MAX_TTL_SECONDS 3600

enum agr_basis {
	AGR_BASIS_CONSENT = 0,  /* the subject's consent */
	AGR_BASIS_STATUTE       /* a statutory reference; no consent used */
};

struct agr_field {
	const char *name;        /* dotted, e.g. "child.given_names" */
	const char *description;
	bool optional;           /* a consent may leave it out */
};

struct agreement {
	const char *id;
	uint32_t version;              /* >= 1 */
	const char *previous_hash;     /* hex SHA-256 of version-1, or NULL */
	const char *title;
	const char *provider;          /* party id */
	const char **recipients;       /* party ids */
	size_t nrecipients;
	const char **purposes;
	size_t npurposes;
	struct agr_field *fields;
	size_t nfields;
	enum agr_basis basis;
	const char *basis_reference;   /* statute, or NULL for consent */
	bool consent_required;
	int64_t consent_max_seconds;   /* 0: no maximum */
	uint32_t token_ttl_seconds;    /* 1..AGR_MAX_TTL_SECONDS */
	int64_t valid_from;            /* Unix seconds; 0: no bound */
	int64_t valid_until;           /* Unix seconds; 0: no bound */
	uint32_t max_per_subject_per_day; /* 0: no limit */
	char hash[65];                 /* hex SHA-256 of the canonical document */
	json_t *doc;                   /* the document; strings above borrow it */
};

/*
 * Parses and validates len bytes as an agreement document. On failure
 * returns NULL and writes to err one line naming the JSON path and the
 * rule, e.g. "$.fields[2].name: must match ^[a-z][a-z0-9_]*(\.[a-z]...)*$".
 * The caller frees the result with agreement_free.
 */
struct agreement *agreement_parse(const char *buf, size_t len, char *err,
    size_t errlen);

/*
 * As agreement_parse for a document already parsed. Takes its own
 * reference to doc (the caller keeps theirs). The struct's strings point
 * into doc: the caller must not modify doc while the agreement lives.
 */
struct agreement *agreement_from_json(json_t *doc, char *err, size_t errlen);

/* Frees a; NULL is a no-op. */
void agreement_free(struct agreement *a);

/* Lookups; NULL / false when absent. */
const struct agr_field *agreement_field(const struct agreement *a,
    const char *name);
bool agreement_has_purpose(const struct agreement *a, const char *purpose);
bool agreement_has_recipient(const struct agreement *a, const char *party);

/* true when party is the provider or one of the recipients. */
bool agreement_names_party(const struct agreement *a, const char *party);

#endif
