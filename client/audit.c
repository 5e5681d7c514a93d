/*
 * consent-audit: the auditor's tool. Checks the broker's signed checkpoint,
 * its consistency with a checkpoint saved before, the root recomputed from
 * every entry, the inclusion of one token, and replays the entries to show
 * that each token was allowed when it was issued (docs/audit-log.md).
 *
 *   consent-audit checkpoint --broker URL --vkey VKEY [--ca FILE]
 *   consent-audit verify (--broker URL --cert F --key F [--ca F] | --log FILE)
 *       --vkey VKEY [--since FILE] [--save FILE]
 *   consent-audit prove --broker URL --cert F --key F [--ca F] --vkey VKEY
 *       --jti ID
 *
 * Exit status: 0 all holds; 1 something does not (each finding names the
 * entry and the reason); 2 usage, I/O or protocol errors.
 *
 * The verification engine (struct audit) is also compiled into
 * bench/bench_audit.c, which includes this file with AUDIT_MAIN renamed so
 * that it measures this very code.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "b64.h"
#include "fsu.h"
#include "logentry.h"
#include "merkle.h"
#include "note.h"
#include "timeu.h"

enum { AUDIT_OK = 0, AUDIT_BAD = 1, AUDIT_ERR = 2 };

#define AUDIT_MAX_BODY (64u << 20)     /* bytes of one HTTP response */
#define AUDIT_PAGE 1000                /* entries per request (broker max) */
#define AUDIT_HTTP_TIMEOUT_MS 60000L   /* one request */
#define AUDIT_CONNECT_TIMEOUT_MS 10000L
#define AUDIT_TIME_SLACK_S 5           /* backward clock steps not warned */
#define AUDIT_MAX_SHOWN 100            /* findings printed; the rest counted */
#define AUDIT_MAX_WARN_SHOWN 20
#define AUDIT_PROVE_WAIT_MS 3000       /* for a checkpoint to cover a token */
#define AUDIT_PROVE_STEP_MS 250
#define AUDIT_PROGRESS_MIN 100000      /* entries before a bar is shown */
#define AUDIT_PROGRESS_US 200000       /* between bar updates */
#define AUDIT_VKEY_MAX 1024
#define AUDIT_TEXT_SHOWN 128           /* bytes of an entry's text shown */
#define EXPORT_MAGIC "consent-broker-log-export 1\n"
#define NONE UINT64_MAX
#define BIT(t) (1u << (t))

/* ---- small helpers ------------------------------------------------------ */

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Entry text for messages: bounded, anything unprintable as '?'. */
static const char *
shown(const unsigned char *p, size_t n, char *buf, size_t buflen)
{
	size_t i, k = n < buflen - 1 ? n : buflen - 1;

	for (i = 0; i < k; i++)
		buf[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	buf[k] = '\0';
	return buf;
}

static const char *
field_text(const struct le_entry *e, enum le_tag t, char *buf, size_t buflen)
{
	if (!le_has(e, t))
		return "-";
	return shown(e->v[t], e->n[t], buf, buflen);
}

static const char *
time_text(int64_t t, char buf[32])
{
	if (timeu_format(t, buf, 32) != 0)
		snprintf(buf, 32, "%" PRId64, t);
	return buf;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static void
root_b64(const unsigned char h[MERKLE_HASH], char out[48])
{
	b64_encode(h, MERKLE_HASH, out);
}

static const char *const tag_names[T__MAX] = {
	[T_EVENT] = "event", [T_ACTOR] = "actor", [T_PARTY] = "party",
	[T_ROLES] = "roles", [T_PIN] = "pin", [T_AGREEMENT] = "agreement",
	[T_VERSION] = "version", [T_AGREEMENT_HASH] = "agreement hash",
	[T_STATE] = "state", [T_BASIS] = "basis", [T_LIMIT] = "limit",
	[T_CONSENT] = "consent", [T_SUBJECT] = "subject",
	[T_FIELDS] = "fields", [T_EXPIRES] = "expires", [T_JTI] = "jti",
	[T_CLAIMS_HASH] = "claims hash", [T_CLIENT] = "client",
	[T_PROVIDER] = "provider", [T_PURPOSE] = "purpose",
};

/* ---- interning table ----------------------------------------------------- */

/*
 * Byte strings to dense ids 0, 1, 2, ... (open addressing, linear probing,
 * load <= 1/2). The strings live back to back in one growing buffer and are
 * found by offset, so nothing is allocated per string; callers keep data
 * about string id k in arrays of their own.
 */
struct strtab {
	unsigned char *bytes;
	size_t used, cap;
	struct strrec {
		uint64_t hash;
		size_t off;
		uint32_t len;
	} *rec;
	uint32_t n, reccap;
	uint32_t *slot;                 /* id + 1; 0 empty */
	size_t nslots;                  /* power of two */
};

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t
hash_bytes(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL), v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ mix64(v)) * 0x9fb21c651e98df25ULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	v = 0;
	memcpy(&v, p, n);
	h = (h ^ mix64(v ^ 0xa5)) * 0x9fb21c651e98df25ULL;
	return mix64(h);
}

static void
strtab_free(struct strtab *t)
{
	free(t->bytes);
	free(t->rec);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

static int
strtab_grow_slots(struct strtab *t)
{
	size_t n = t->nslots != 0 ? t->nslots * 2 : 64, i, j;
	uint32_t *s = calloc(n, sizeof(*s));

	if (s == NULL)
		return -1;
	for (i = 0; i < t->n; i++) {
		j = (size_t)t->rec[i].hash & (n - 1);
		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = s;
	t->nslots = n;
	return 0;
}

/*
 * Finds s (n bytes); when absent and add is set, adds it. Returns 1 found,
 * 0 added, -1 absent (add not set) or out of memory (t->n unchanged).
 */
static int
strtab_get(struct strtab *t, const void *s, size_t n, int add, uint32_t *id)
{
	uint64_t h = hash_bytes(s, n);
	size_t j;
	uint32_t k;

	if (t->nslots != 0) {
		j = (size_t)h & (t->nslots - 1);
		while ((k = t->slot[j]) != 0) {
			const struct strrec *r = &t->rec[k - 1];

			if (r->hash == h && r->len == n &&
			    memcmp(t->bytes + r->off, s, n) == 0) {
				*id = k - 1;
				return 1;
			}
			j = (j + 1) & (t->nslots - 1);
		}
	}
	if (!add || n > UINT32_MAX || t->n >= UINT32_MAX - 1)
		return -1;
	if (t->used + n > t->cap) {
		size_t c = t->cap != 0 ? t->cap : 4096;
		unsigned char *b;

		while (c < t->used + n)
			c *= 2;
		if ((b = realloc(t->bytes, c)) == NULL)
			return -1;
		t->bytes = b;
		t->cap = c;
	}
	if (t->n == t->reccap) {
		uint32_t c = t->reccap != 0 ? t->reccap * 2 : 64;
		struct strrec *r = realloc(t->rec, (size_t)c * sizeof(*r));

		if (r == NULL)
			return -1;
		t->rec = r;
		t->reccap = c;
	}
	if (n > 0)
		memcpy(t->bytes + t->used, s, n);
	t->rec[t->n].hash = h;
	t->rec[t->n].off = t->used;
	t->rec[t->n].len = (uint32_t)n;
	t->used += n;
	*id = t->n++;
	if ((size_t)t->n * 2 > t->nslots) {
		if (strtab_grow_slots(t) != 0) {
			t->n--;
			t->used -= n;
			return -1;
		}
	} else {
		j = (size_t)h & (t->nslots - 1);
		while (t->slot[j] != 0)
			j = (j + 1) & (t->nslots - 1);
		t->slot[j] = *id + 1;
	}
	return 0;
}

static const unsigned char *
strtab_str(const struct strtab *t, uint32_t id, size_t *n)
{
	*n = t->rec[id].len;
	return t->bytes + t->rec[id].off;
}

/* Grows *arr (elements of size sz, *cap of them) to hold want; 0 or -1. */
static int
grow(void **arr, uint32_t *cap, uint32_t want, size_t sz)
{
	uint32_t c = *cap != 0 ? *cap : 64;
	void *p;

	if (want <= *cap)
		return 0;
	while (c < want)
		c *= 2;
	if ((p = realloc(*arr, (size_t)c * sz)) == NULL)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

/* ---- the verification engine ---------------------------------------------- */

enum basis { BASIS_CONSENT = 1, BASIS_STATUTE = 2 };

/* One agreement version, as its latest LE_AGREEMENT entry left it. */
struct agr {
	uint64_t index;                 /* that entry */
	uint32_t limit;                 /* transfers per subject per day; 0 none */
	uint32_t state;                 /* id in words */
	unsigned char hash[32];
	unsigned char basis;
	unsigned char active;
};

/* One granted consent. */
struct cns {
	unsigned char subject[32];
	uint64_t grant;                 /* entry indexes; revoke NONE if not */
	uint64_t revoke;
	int64_t expires;                /* valid while token time < expires */
	uint32_t aid;                   /* agreement id in ids */
	uint32_t lid;                   /* field list in flists */
	unsigned char has_expires;
};

/* A field list: a mask over field ids < 64, or wide (compare names). */
struct flist {
	uint64_t mask;
	unsigned char wide;
};

struct audit {
	FILE *out;                      /* findings and report; NULL: silent */
	struct merkle_frontier f;
	/* the saved checkpoint the first since_size entries must match */
	int since_pending;
	uint64_t since_size;
	unsigned char since_root[MERKLE_HASH];
	int since_ok;                   /* -1 unknown, 0 mismatch, 1 match */
	/* replay state */
	struct strtab ids;              /* agreement ids */
	struct strtab vers;             /* agreement id (4) | version (4) */
	struct agr *agrs;
	uint32_t agrcap;
	struct strtab words;            /* states */
	uint32_t active_word;
	struct strtab cids;             /* consent ids */
	struct cns *cns;
	uint32_t cnscap;
	unsigned char *granted;         /* per consent id: 1 once granted */
	uint32_t grantedcap;
	struct strtab flists;           /* comma-separated field lists */
	struct flist *fl;
	uint32_t flcap;
	struct strtab fnames;           /* single field names */
	struct strtab days;             /* subject (32) | aid (4) | day (8) */
	uint32_t *count;
	uint32_t countcap;
	int have_time;
	int64_t max_time;
	uint64_t max_time_index;
	/* results */
	uint64_t entries;
	uint64_t by_type[LE_TOKEN + 1];
	uint64_t tokens, tokens_consent, tokens_statute;
	uint64_t violations, warnings;
	int oom;
	/* progress bar on stderr */
	int progress;
	uint64_t total;
	int64_t t0_us, last_us;
	int bar_shown;
};

static void
bar_clear(struct audit *a)
{
	if (a->bar_shown) {
		fprintf(stderr, "\r\033[K");
		a->bar_shown = 0;
	}
}

static void
bar_update(struct audit *a, uint64_t done)
{
	int64_t now = mono_us();
	double rate, pct;

	if (now - a->last_us < AUDIT_PROGRESS_US)
		return;
	a->last_us = now;
	rate = now > a->t0_us ? (double)done * 1e6 / (double)(now - a->t0_us) :
	    0;
	pct = a->total > 0 ? 100.0 * (double)done / (double)a->total : 100;
	fprintf(stderr, "\r\033[Kverifying %" PRIu64 "/%" PRIu64 " entries "
	    "(%.0f%%, %.0f/s)", done, a->total, pct, rate);
	a->bar_shown = 1;
}

static void report(struct audit *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A finding: something the log shows that must not be. */
static void
report(struct audit *a, const char *fmt, ...)
{
	va_list ap;

	a->violations++;
	if (a->out == NULL)
		return;
	if (a->violations > AUDIT_MAX_SHOWN) {
		if (a->violations == AUDIT_MAX_SHOWN + 1)
			fprintf(a->out, "(further findings are counted, not "
			    "shown)\n");
		return;
	}
	bar_clear(a);
	va_start(ap, fmt);
	vfprintf(a->out, fmt, ap);
	va_end(ap);
	fputc('\n', a->out);
}

static void warn_entry(struct audit *a, uint64_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
warn_entry(struct audit *a, uint64_t i, const char *fmt, ...)
{
	va_list ap;

	a->warnings++;
	if (a->out == NULL || a->warnings > AUDIT_MAX_WARN_SHOWN)
		return;
	bar_clear(a);
	fprintf(a->out, "warning: entry %" PRIu64 ": ", i);
	va_start(ap, fmt);
	vfprintf(a->out, fmt, ap);
	va_end(ap);
	fputc('\n', a->out);
}

/* Sets up an engine; out gets findings (NULL: counted only). 0 or -1. */
static int
audit_init(struct audit *a, FILE *out)
{
	memset(a, 0, sizeof(*a));
	a->out = out;
	a->since_ok = -1;
	merkle_frontier_init(&a->f);
	if (strtab_get(&a->words, "active", 6, 1, &a->active_word) != 0)
		return -1;
	return 0;
}

static void
audit_free(struct audit *a)
{
	strtab_free(&a->ids);
	strtab_free(&a->vers);
	strtab_free(&a->words);
	strtab_free(&a->cids);
	strtab_free(&a->flists);
	strtab_free(&a->fnames);
	strtab_free(&a->days);
	free(a->agrs);
	free(a->cns);
	free(a->granted);
	free(a->fl);
	free(a->count);
	memset(a, 0, sizeof(*a));
}

/* The first `size` entries must give root (the saved checkpoint's). */
static void
audit_expect_prefix(struct audit *a, uint64_t size,
    const unsigned char root[MERKLE_HASH])
{
	unsigned char r[MERKLE_HASH];

	a->since_size = size;
	memcpy(a->since_root, root, MERKLE_HASH);
	a->since_pending = 1;
	if (size == a->f.size) {
		merkle_frontier_root(&a->f, r);
		a->since_ok = memcmp(r, root, MERKLE_HASH) == 0;
		a->since_pending = 0;
	}
}

/* Interns a field list and computes its mask; 0 or -1 (out of memory). */
static int
flist_get(struct audit *a, const unsigned char *s, size_t n, uint32_t *lid)
{
	struct flist fl = { 0, 0 };
	size_t i, start = 0;
	uint32_t fid;
	int rc = strtab_get(&a->flists, s, n, 1, lid);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (i > start) {
			if (strtab_get(&a->fnames, s + start, i - start, 1,
			    &fid) < 0)
				return -1;
			if (fid < 64)
				fl.mask |= (uint64_t)1 << fid;
			else
				fl.wide = 1;
		}
		start = i + 1;
	}
	if (grow((void **)&a->fl, &a->flcap, *lid + 1, sizeof(*a->fl)) != 0)
		return -1;
	a->fl[*lid] = fl;
	return 0;
}

/* Is name (n bytes) one of list's comma-separated names? */
static int
list_has(const unsigned char *list, size_t len, const unsigned char *name,
    size_t n)
{
	size_t i, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && list[i] != ',')
			continue;
		if (i - start == n && memcmp(list + start, name, n) == 0)
			return 1;
		start = i + 1;
	}
	return 0;
}

/*
 * Does the consent's list cover every field of the token's? When not,
 * *miss and *missn get the first field it lacks.
 */
static int
covers(const struct audit *a, uint32_t cl, uint32_t tl,
    const unsigned char **miss, size_t *missn)
{
	const struct flist *c = &a->fl[cl], *t = &a->fl[tl];
	const unsigned char *cs, *ts;
	size_t cn, tn, i, start = 0;
	uint64_t lack;
	int b = 0;

	if (cl == tl)
		return 1;
	if (!c->wide && !t->wide) {
		lack = t->mask & ~c->mask;
		if (lack == 0)
			return 1;
		while (!((lack >> b) & 1))
			b++;
		*miss = strtab_str(&a->fnames, (uint32_t)b, missn);
		return 0;
	}
	cs = strtab_str(&a->flists, cl, &cn);
	ts = strtab_str(&a->flists, tl, &tn);
	for (i = 0; i <= tn; i++) {
		if (i < tn && ts[i] != ',')
			continue;
		if (i > start && !list_has(cs, cn, ts + start, i - start)) {
			*miss = ts + start;
			*missn = i - start;
			return 0;
		}
		start = i + 1;
	}
	return 1;
}

/* Reports the first of the tags in mask that e lacks; 0 when none. */
static int
require(struct audit *a, uint64_t i, const struct le_entry *e, uint32_t mask)
{
	uint32_t missing = mask & ~e->present;
	unsigned t = 0;

	if (missing == 0)
		return 0;
	while (!((missing >> t) & 1))
		t++;
	report(a, "entry %" PRIu64 ": %s entry has no %s field", i,
	    le_type_name(e->type), tag_names[t]);
	return -1;
}

/* Looks up agreement id + version; the index into agrs, or -1. */
static int64_t
agr_find(struct audit *a, const struct le_entry *e, uint32_t *aid)
{
	unsigned char key[8];
	uint32_t id;

	if (strtab_get(&a->ids, e->v[T_AGREEMENT], e->n[T_AGREEMENT], 0,
	    aid) != 1)
		return -1;
	memcpy(key, aid, 4);
	memcpy(key + 4, e->v[T_VERSION], 4);
	if (strtab_get(&a->vers, key, sizeof(key), 0, &id) != 1)
		return -1;
	return id;
}

static void
on_agreement(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	unsigned char key[8];
	uint32_t aid, id, state;
	struct agr *g;
	int basis, rc;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_AGREEMENT_HASH) | BIT(T_STATE) | BIT(T_BASIS)) != 0)
		return;
	if (le_str_eq(e, T_BASIS, "consent"))
		basis = BASIS_CONSENT;
	else if (le_str_eq(e, T_BASIS, "statute"))
		basis = BASIS_STATUTE;
	else {
		report(a, "entry %" PRIu64 ": agreement %s has an unknown "
		    "legal basis '%s'", i, field_text(e, T_AGREEMENT, b1,
		    sizeof(b1)), field_text(e, T_BASIS, b2, sizeof(b2)));
		return;
	}
	if (strtab_get(&a->ids, e->v[T_AGREEMENT], e->n[T_AGREEMENT], 1,
	    &aid) < 0 ||
	    strtab_get(&a->words, e->v[T_STATE], e->n[T_STATE], 1,
	    &state) < 0) {
		a->oom = 1;
		return;
	}
	memcpy(key, &aid, 4);
	memcpy(key + 4, e->v[T_VERSION], 4);
	rc = strtab_get(&a->vers, key, sizeof(key), 1, &id);
	if (rc < 0 || grow((void **)&a->agrs, &a->agrcap, id + 1,
	    sizeof(*a->agrs)) != 0) {
		a->oom = 1;
		return;
	}
	g = &a->agrs[id];
	if (rc == 1 && memcmp(g->hash, e->v[T_AGREEMENT_HASH], 32) != 0)
		report(a, "entry %" PRIu64 ": agreement %s version %" PRIu32
		    " has another document hash than at entry %" PRIu64, i,
		    field_text(e, T_AGREEMENT, b1, sizeof(b1)),
		    get_u32(e->v[T_VERSION]), g->index);
	g->index = i;
	g->state = state;
	g->active = state == a->active_word;
	g->basis = (unsigned char)basis;
	g->limit = le_has(e, T_LIMIT) ? get_u32(e->v[T_LIMIT]) : 0;
	memcpy(g->hash, e->v[T_AGREEMENT_HASH], 32);
}

static void
on_grant(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	uint32_t aid, cid, lid;
	struct cns *c;
	int rc;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_CONSENT) | BIT(T_SUBJECT) | BIT(T_FIELDS)) != 0)
		return;
	if (agr_find(a, e, &aid) < 0) {
		report(a, "entry %" PRIu64 ": consent %s is for agreement %s "
		    "version %" PRIu32 ", which no earlier entry introduced", i,
		    field_text(e, T_CONSENT, b1, sizeof(b1)),
		    field_text(e, T_AGREEMENT, b2, sizeof(b2)),
		    get_u32(e->v[T_VERSION]));
		return;
	}
	rc = strtab_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 1, &cid);
	if (rc < 0 || grow((void **)&a->cns, &a->cnscap, cid + 1,
	    sizeof(*a->cns)) != 0 || grow((void **)&a->granted,
	    &a->grantedcap, cid + 1, 1) != 0 ||
	    flist_get(a, e->v[T_FIELDS], e->n[T_FIELDS], &lid) != 0) {
		a->oom = 1;
		return;
	}
	c = &a->cns[cid];
	if (rc == 1 && a->granted[cid]) {
		report(a, "entry %" PRIu64 ": consent %s is granted again (first "
		    "at entry %" PRIu64 ")", i, field_text(e, T_CONSENT, b1,
		    sizeof(b1)), c->grant);
		return;
	}
	a->granted[cid] = 1;
	memcpy(c->subject, e->v[T_SUBJECT], 32);
	c->grant = i;
	c->revoke = NONE;
	c->aid = aid;
	c->lid = lid;
	c->has_expires = le_has(e, T_EXPIRES) != 0;
	c->expires = c->has_expires ? (int64_t)get_u64(e->v[T_EXPIRES]) : 0;
}

static void
on_revoke(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char b1[AUDIT_TEXT_SHOWN];
	uint32_t aid = UINT32_MAX, cid;
	struct cns *c;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_CONSENT) |
	    BIT(T_SUBJECT)) != 0)
		return;
	field_text(e, T_CONSENT, b1, sizeof(b1));
	if (strtab_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 0,
	    &cid) != 1 || !a->granted[cid]) {
		report(a, "entry %" PRIu64 ": revokes consent %s, which no "
		    "earlier entry granted", i, b1);
		return;
	}
	c = &a->cns[cid];
	if (c->revoke != NONE) {
		report(a, "entry %" PRIu64 ": revokes consent %s again (revoked "
		    "at entry %" PRIu64 ")", i, b1, c->revoke);
		return;
	}
	(void)strtab_get(&a->ids, e->v[T_AGREEMENT], e->n[T_AGREEMENT], 0,
	    &aid);
	if (aid != c->aid || memcmp(c->subject, e->v[T_SUBJECT], 32) != 0)
		report(a, "entry %" PRIu64 ": the revocation of consent %s names "
		    "another %s than its grant (entry %" PRIu64 ")", i, b1,
		    aid != c->aid ? "agreement" : "subject", c->grant);
	c->revoke = i;
}

/* A consent-based token: the consent it names allowed it at its time. */
static void
check_consent(struct audit *a, uint64_t i, const struct le_entry *e,
    uint32_t aid, const char *jti)
{
	char b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN], t1[32], t2[32];
	const unsigned char *miss;
	uint32_t cid, lid;
	const struct cns *c;
	size_t missn;

	if (!le_has(e, T_CONSENT)) {
		report(a, "entry %" PRIu64 ": token jti %s under consent-based "
		    "agreement %s names no consent", i, jti,
		    field_text(e, T_AGREEMENT, b1, sizeof(b1)));
		return;
	}
	field_text(e, T_CONSENT, b1, sizeof(b1));
	if (strtab_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 0,
	    &cid) != 1 || !a->granted[cid]) {
		report(a, "entry %" PRIu64 ": token jti %s names consent %s, "
		    "which no earlier entry granted", i, jti, b1);
		return;
	}
	c = &a->cns[cid];
	if (c->aid != aid) {
		size_t n;
		const unsigned char *s = strtab_str(&a->ids, c->aid, &n);

		report(a, "entry %" PRIu64 ": token jti %s under agreement %s "
		    "names consent %s, which is for agreement %s", i, jti,
		    field_text(e, T_AGREEMENT, b2, sizeof(b2)), b1,
		    shown(s, n, t1, sizeof(t1)));
	}
	if (memcmp(c->subject, e->v[T_SUBJECT], 32) != 0)
		report(a, "entry %" PRIu64 ": token jti %s is about another "
		    "subject than consent %s (granted at entry %" PRIu64 ")", i,
		    jti, b1, c->grant);
	if (c->revoke != NONE)
		report(a, "entry %" PRIu64 ": token jti %s issued after consent "
		    "%s was revoked at entry %" PRIu64, i, jti, b1, c->revoke);
	if (c->has_expires && e->time >= c->expires)
		report(a, "entry %" PRIu64 ": token jti %s issued at %s, after "
		    "consent %s expired at %s", i, jti, time_text(e->time, t1),
		    b1, time_text(c->expires, t2));
	if (flist_get(a, e->v[T_FIELDS], e->n[T_FIELDS], &lid) != 0) {
		a->oom = 1;
		return;
	}
	if (!covers(a, c->lid, lid, &miss, &missn))
		report(a, "entry %" PRIu64 ": token jti %s asks for field %s, "
		    "which consent %s (entry %" PRIu64 ") does not cover", i, jti,
		    shown(miss, missn, b2, sizeof(b2)), b1, c->grant);
}

static void
on_token(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char jti[AUDIT_TEXT_SHOWN], b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	char day[32];
	unsigned char key[44];
	const struct agr *g;
	int64_t gi, d;
	uint32_t aid, id;
	int rc;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_AGREEMENT_HASH) | BIT(T_SUBJECT) | BIT(T_FIELDS) |
	    BIT(T_EXPIRES) | BIT(T_JTI) | BIT(T_CLAIMS_HASH) | BIT(T_CLIENT) |
	    BIT(T_PROVIDER) | BIT(T_PURPOSE)) != 0)
		return;
	a->tokens++;
	field_text(e, T_JTI, jti, sizeof(jti));
	field_text(e, T_AGREEMENT, b1, sizeof(b1));
	if ((gi = agr_find(a, e, &aid)) < 0) {
		report(a, "entry %" PRIu64 ": token jti %s names agreement %s "
		    "version %" PRIu32 ", which no earlier entry introduced", i,
		    jti, b1, get_u32(e->v[T_VERSION]));
		return;
	}
	g = &a->agrs[gi];
	if (!g->active) {
		size_t n;
		const unsigned char *s = strtab_str(&a->words, g->state, &n);

		report(a, "entry %" PRIu64 ": token jti %s issued under agreement "
		    "%s version %" PRIu32 ", which is %s (since entry %" PRIu64
		    "), not active", i, jti, b1, get_u32(e->v[T_VERSION]),
		    shown(s, n, b2, sizeof(b2)), g->index);
	}
	if (memcmp(g->hash, e->v[T_AGREEMENT_HASH], 32) != 0)
		report(a, "entry %" PRIu64 ": token jti %s names another document "
		    "hash for agreement %s version %" PRIu32 " than entry %"
		    PRIu64, i, jti, b1, get_u32(e->v[T_VERSION]), g->index);
	if (g->basis == BASIS_CONSENT) {
		a->tokens_consent++;
		check_consent(a, i, e, aid, jti);
	} else {
		a->tokens_statute++;
		if (le_has(e, T_CONSENT))
			report(a, "entry %" PRIu64 ": statutory token jti %s "
			    "carries consent %s", i, jti,
			    field_text(e, T_CONSENT, b2, sizeof(b2)));
	}
	if (g->limit == 0)
		return;
	/* Counted as the broker counts: per subject, agreement id and UTC
	 * day, over tokens of versions that have a limit. */
	d = timeu_day(e->time);
	memcpy(key, e->v[T_SUBJECT], 32);
	memcpy(key + 32, &aid, 4);
	memcpy(key + 36, &d, 8);
	rc = strtab_get(&a->days, key, sizeof(key), 1, &id);
	if (rc < 0 || grow((void **)&a->count, &a->countcap, id + 1,
	    sizeof(*a->count)) != 0) {
		a->oom = 1;
		return;
	}
	if (rc == 0)
		a->count[id] = 0;
	if (++a->count[id] > g->limit) {
		time_text(d * 86400, day);
		day[10] = '\0';
		report(a, "entry %" PRIu64 ": token jti %s is transfer %" PRIu32
		    " on %s for its subject under agreement %s, whose limit is %"
		    PRIu32 " per day", i, jti, a->count[id], day, b1, g->limit);
	}
}

/* Replays entry i (already hashed into the tree). */
static void
audit_replay(struct audit *a, uint64_t i, const unsigned char *d, size_t n)
{
	char err[128], t1[32], t2[32];
	struct le_entry e;

	if (le_decode(d, n, &e, err, sizeof(err)) != 0) {
		report(a, "entry %" PRIu64 ": does not decode: %s", i, err);
		return;
	}
	a->by_type[e.type]++;
	if (a->have_time && e.time < a->max_time - AUDIT_TIME_SLACK_S)
		warn_entry(a, i, "its time %s is %" PRId64 " s before that of "
		    "entry %" PRIu64 " (%s)", time_text(e.time, t1),
		    a->max_time - e.time, a->max_time_index,
		    time_text(a->max_time, t2));
	if (!a->have_time || e.time > a->max_time) {
		a->have_time = 1;
		a->max_time = e.time;
		a->max_time_index = i;
	}
	switch (e.type) {
	case LE_PARTY:
		break;
	case LE_AGREEMENT:
		on_agreement(a, i, &e);
		break;
	case LE_CONSENT_GRANT:
		on_grant(a, i, &e);
		break;
	case LE_CONSENT_REVOKE:
		on_revoke(a, i, &e);
		break;
	case LE_TOKEN:
		on_token(a, i, &e);
		break;
	}
}

/* Entry i (must be the next): into the tree, then replayed. */
static void
audit_entry(struct audit *a, uint64_t i, const unsigned char *d, size_t n)
{
	unsigned char leaf[MERKLE_HASH], r[MERKLE_HASH];

	merkle_leaf_hash(d, n, leaf);
	if (merkle_frontier_append(&a->f, leaf, NULL, NULL) != 0)
		a->oom = 1;   /* 2^64 entries: cannot happen */
	a->entries++;
	if (a->since_pending && a->f.size == a->since_size) {
		merkle_frontier_root(&a->f, r);
		a->since_ok = memcmp(r, a->since_root, MERKLE_HASH) == 0;
		a->since_pending = 0;
	}
	audit_replay(a, i, d, n);
	if (a->progress && (i & 4095) == 0)
		bar_update(a, i + 1);
}
