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
#include <pthread.h>
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
#define AUDIT_CACHE_KEY 256            /* longest key the lookup caches keep */
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
	size_t i, k;

	if (buflen == 0)
		return "";
	k = n < buflen - 1 ? n : buflen - 1;
	for (i = 0; i < k; i++)
		/* Callers pass n within p's bounds. */
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
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

/* ---- hash map ----------------------------------------------------------- */

/*
 * Byte-string keys to fixed-size values, kept together in one growing
 * arena: a record is an 8-byte header (the key's length), the value, then
 * the key, padded to 8 bytes. A record is named by its offset in the arena
 * (its ref), which never changes, so refs serve as ids and as parts of
 * other maps' keys. A slot (open addressing, linear probing, load <= 1/2)
 * holds the key's full hash and ref + 1, so a lookup in a big map costs
 * about two cache misses (the slot and the record) and growing the slots
 * reads only the old slots. Nothing is allocated per key.
 *
 * Both the arena and the slots live in anonymous mappings (blk_*): new
 * space comes zeroed, growing the arena moves its pages instead of
 * copying them, and big blocks ask for huge pages. A replay of a million
 * entries fills about 100 MB of maps; in 4 KiB pages, faulting them in
 * took a third of its time on a virtual machine.
 */
struct map_slot {
	uint64_t hash;
	uint64_t ref1;                  /* ref + 1; 0: empty */
};

struct map {
	unsigned char *arena;
	size_t used, cap;
	size_t vsize;                   /* value bytes, a multiple of 8 */
	struct map_slot *slot;
	size_t nslots;                  /* a power of two */
	size_t n;                       /* keys */
};

#define REC_HEAD 8                      /* the key's length */

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

#define BLK_HUGE ((size_t)2 << 20)      /* where huge pages may pay */

/* Rounds n up to whole pages. */
static size_t
blk_size(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

/*
 * A zeroed block of want bytes (whole pages): new, or p (old bytes) grown
 * with its contents kept. NULL when out of memory; p is then untouched.
 */
static void *
blk_grow(void *p, size_t old, size_t want)
{
	void *q;

	if (p == NULL)
		q = mmap(NULL, want, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		q = mremap(p, old, want, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return NULL;
	if (want >= BLK_HUGE)
		(void)madvise(q, want, MADV_HUGEPAGE);  /* a hint only */
	return q;
}

static void
blk_free(void *p, size_t n)
{
	if (p != NULL)
		(void)munmap(p, n);
}

static void
map_init(struct map *m, size_t vsize)
{
	memset(m, 0, sizeof(*m));
	m->vsize = (vsize + 7) & ~(size_t)7;
}

static void
map_free(struct map *m)
{
	blk_free(m->arena, m->cap);
	blk_free(m->slot, blk_size(m->nslots * sizeof(*m->slot)));
	memset(m, 0, sizeof(*m));
}

static size_t
rec_size(const struct map *m, size_t keylen)
{
	return (REC_HEAD + m->vsize + keylen + 7) & ~(size_t)7;
}

static void
slot_put(struct map_slot *slot, size_t nslots, uint64_t hash, uint64_t ref1)
{
	size_t j = (size_t)hash & (nslots - 1);

	while (slot[j].ref1 != 0)
		j = (j + 1) & (nslots - 1);
	slot[j].hash = hash;
	slot[j].ref1 = ref1;
}

static int
map_grow_slots(struct map *m)
{
	size_t n = m->nslots != 0 ? m->nslots * 2 : 256, j;
	struct map_slot *s = blk_grow(NULL, 0, blk_size(n * sizeof(*s)));

	if (s == NULL)
		return -1;
	for (j = 0; j < m->nslots; j++)
		if (m->slot[j].ref1 != 0)
			slot_put(s, n, m->slot[j].hash, m->slot[j].ref1);
	blk_free(m->slot, blk_size(m->nslots * sizeof(*m->slot)));
	m->slot = s;
	m->nslots = n;
	return 0;
}

static void *
map_val(const struct map *m, uint64_t ref)
{
	return m->arena + ref + REC_HEAD;
}

static const unsigned char *
map_key(const struct map *m, uint64_t ref, size_t *n)
{
	uint64_t len;

	memcpy(&len, m->arena + ref, sizeof(len));
	*n = (size_t)len;
	return m->arena + ref + REC_HEAD + m->vsize;
}

/*
 * Finds key (n bytes); when absent and add is set, adds it with a zeroed
 * value (*created, when not NULL, tells which). Returns its value, valid
 * until the next addition to m, with its ref in *ref (may be NULL); NULL
 * when absent and add is not set, or out of memory.
 */
static void *
map_get(struct map *m, const void *key, size_t n, int add, uint64_t *ref,
    int *created)
{
	uint64_t h = hash_bytes(key, n), r, len;
	const struct map_slot *s;
	size_t j, need;

	if (created != NULL)
		*created = 0;
	if (m->nslots != 0) {
		j = (size_t)h & (m->nslots - 1);
		while ((s = &m->slot[j])->ref1 != 0) {
			if (s->hash == h) {
				r = s->ref1 - 1;
				memcpy(&len, m->arena + r, sizeof(len));
				if (len == n && memcmp(m->arena + r + REC_HEAD +
				    m->vsize, key, n) == 0) {
					if (ref != NULL)
						*ref = r;
					return m->arena + r + REC_HEAD;
				}
			}
			j = (j + 1) & (m->nslots - 1);
		}
	}
	if (!add)
		return NULL;
	if ((m->n + 1) * 2 > m->nslots && map_grow_slots(m) != 0)
		return NULL;
	need = rec_size(m, n);
	if (m->used + need > m->cap) {
		size_t c = m->cap != 0 ? m->cap : blk_size(4096);
		unsigned char *a;

		while (c < m->used + need)
			c *= 2;
		if ((a = blk_grow(m->arena, m->cap, c)) == NULL)
			return NULL;
		m->arena = a;
		m->cap = c;
	}
	/* The arena past m->used is zero: it came so and is never
	 * written, so the value needs no clearing. */
	r = m->used;
	len = n;
	memcpy(m->arena + r, &len, sizeof(len));
	if (n > 0)
		memcpy(m->arena + r + REC_HEAD + m->vsize, key, n);
	m->used += need;
	m->n++;
	slot_put(m->slot, m->nslots, h, r + 1);
	if (ref != NULL)
		*ref = r;
	if (created != NULL)
		*created = 1;
	return m->arena + r + REC_HEAD;
}

/* ---- the verification engine ---------------------------------------------- */

enum basis { BASIS_CONSENT = 1, BASIS_STATUTE = 2 };

/* One agreement version, as its latest LE_AGREEMENT entry left it; the
 * value of vers, keyed by agreement id ref (8) | version (4). */
struct agr {
	uint64_t index;                 /* that entry */
	uint64_t state;                 /* ref in words */
	uint32_t limit;                 /* transfers per subject per day; 0 none */
	unsigned char hash[32];
	unsigned char basis;
	unsigned char active;
};

/* A consent, by its id; granted once its grant was seen. */
struct cns {
	unsigned char subject[32];
	uint64_t grant;                 /* entry indexes; revoke NONE if not */
	uint64_t revoke;
	int64_t expires;                /* valid while token time < expires */
	uint64_t aid;                   /* agreement id ref in ids */
	uint64_t lid;                   /* field list ref in flists */
	unsigned char has_expires;
	unsigned char granted;
};

/* A field list: a mask over field ids < 64, or wide (compare names). */
struct flist {
	uint64_t mask;
	unsigned char wide;
};

#define MASK_FIELDS 64

struct audit {
	FILE *out;                      /* findings and report; NULL: silent */
	struct merkle_frontier f;
	/* the saved checkpoint the first since_size entries must match */
	int since_pending;
	uint64_t since_size;
	unsigned char since_root[MERKLE_HASH];
	int since_ok;                   /* -1 unknown, 0 mismatch, 1 match */
	/* replay state */
	struct map ids;                 /* agreement ids (no value) */
	struct map vers;                /* struct agr */
	struct map words;               /* states (no value) */
	uint64_t active_word;
	struct map cids;                /* struct cns */
	struct map flists;              /* struct flist */
	struct map fnames;              /* uint32_t field id */
	uint64_t fname_ref[MASK_FIELDS];/* field id -> ref in fnames */
	struct map days;                /* uint32_t tokens: subject (32) |
	                                 * agreement ref (8) | day (8) */
	/* Most entries name the agreement and field lists the one before
	 * did: the last lookups, by their bytes (refs never change). */
	struct {
		unsigned char key[AUDIT_CACHE_KEY];
		size_t n;
		uint64_t aid, vref;
		int set;
	} agr_cache;
	struct {
		unsigned char key[AUDIT_CACHE_KEY];
		size_t n;
		uint64_t lid;
		int set;
	} fl_cache[2];
	unsigned fl_next;
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
static void audit_free(struct audit *a);

/*
 * A proof hash: standard base64 of exactly 32 bytes. 44 characters without
 * padding decode to 33 bytes, so decode into room for that and check.
 */
static int
hash_b64(const char *s, unsigned char out[MERKLE_HASH])
{
	unsigned char tmp[48];
	size_t n;

	if (strlen(s) != 44 || b64_decode(s, 44, tmp, &n) != 0 ||
	    n != MERKLE_HASH)
		return -1;
	memcpy(out, tmp, MERKLE_HASH);
	return 0;
}

static int
audit_init(struct audit *a, FILE *out)
{
	memset(a, 0, sizeof(*a));
	a->out = out;
	a->since_ok = -1;
	merkle_frontier_init(&a->f);
	map_init(&a->ids, 0);
	map_init(&a->vers, sizeof(struct agr));
	map_init(&a->words, 0);
	map_init(&a->cids, sizeof(struct cns));
	map_init(&a->flists, sizeof(struct flist));
	map_init(&a->fnames, sizeof(uint32_t));
	map_init(&a->days, sizeof(uint32_t));
	if (map_get(&a->words, "active", 6, 1, &a->active_word, NULL) == NULL) {
		audit_free(a);
		return -1;
	}
	return 0;
}

static void
audit_free(struct audit *a)
{
	map_free(&a->ids);
	map_free(&a->vers);
	map_free(&a->words);
	map_free(&a->cids);
	map_free(&a->flists);
	map_free(&a->fnames);
	map_free(&a->days);
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

/* The field list s (n bytes): its ref into *lid; 0, or -1 out of memory. */
static int
flist_get(struct audit *a, const unsigned char *s, size_t n, uint64_t *lid)
{
	struct flist *fl;
	size_t i, start = 0;
	uint32_t *fid;
	uint64_t fref;
	int created;

	for (i = 0; i < 2; i++)
		if (a->fl_cache[i].set && a->fl_cache[i].n == n &&
		    memcmp(a->fl_cache[i].key, s, n) == 0) {
			*lid = a->fl_cache[i].lid;
			return 0;
		}
	fl = map_get(&a->flists, s, n, 1, lid, &created);
	if (fl == NULL)
		return -1;
	if (n <= AUDIT_CACHE_KEY) {
		i = a->fl_next++ & 1;
		memcpy(a->fl_cache[i].key, s, n);
		a->fl_cache[i].n = n;
		a->fl_cache[i].lid = *lid;
		a->fl_cache[i].set = 1;
	}
	if (!created)
		return 0;
	/* New: give each name an id; fl stays valid (another map grows). */
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (i > start) {
			fid = map_get(&a->fnames, s + start, i - start, 1, &fref,
			    &created);
			if (fid == NULL)
				return -1;
			if (created) {
				*fid = (uint32_t)(a->fnames.n - 1);
				if (*fid < MASK_FIELDS)
					a->fname_ref[*fid] = fref;
			}
			if (*fid < MASK_FIELDS)
				fl->mask |= (uint64_t)1 << *fid;
			else
				fl->wide = 1;
		}
		start = i + 1;
	}
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
 * Does the consent's field list cover every field of the token's? When
 * not, *miss and *missn get the first field it lacks.
 */
static int
covers(const struct audit *a, uint64_t cl, uint64_t tl,
    const unsigned char **miss, size_t *missn)
{
	const struct flist *c = map_val(&a->flists, cl);
	const struct flist *t = map_val(&a->flists, tl);
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
		*miss = map_key(&a->fnames, a->fname_ref[b], missn);
		return 0;
	}
	cs = map_key(&a->flists, cl, &cn);
	ts = map_key(&a->flists, tl, &tn);
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

/* Text of field t of e for a message (into buf). */
#define TXT(e, t, buf) field_text((e), (t), (buf), sizeof(buf))

/* The agreement version e names (its id ref into *aid), or NULL. */
static struct agr *
agr_find(struct audit *a, const struct le_entry *e, uint64_t *aid)
{
	unsigned char key[12];
	size_t n = e->n[T_AGREEMENT];
	struct agr *g;
	uint64_t vref;

	if (a->agr_cache.set && a->agr_cache.n == n + 4 &&
	    memcmp(a->agr_cache.key, e->v[T_VERSION], 4) == 0 &&
	    memcmp(a->agr_cache.key + 4, e->v[T_AGREEMENT], n) == 0) {
		*aid = a->agr_cache.aid;
		return map_val(&a->vers, a->agr_cache.vref);
	}
	if (map_get(&a->ids, e->v[T_AGREEMENT], n, 0, aid, NULL) == NULL)
		return NULL;
	memcpy(key, aid, 8);
	memcpy(key + 8, e->v[T_VERSION], 4);
	g = map_get(&a->vers, key, sizeof(key), 0, &vref, NULL);
	if (g != NULL && n + 4 <= AUDIT_CACHE_KEY) {
		memcpy(a->agr_cache.key, e->v[T_VERSION], 4);
		memcpy(a->agr_cache.key + 4, e->v[T_AGREEMENT], n);
		a->agr_cache.n = n + 4;
		a->agr_cache.aid = *aid;
		a->agr_cache.vref = vref;
		a->agr_cache.set = 1;
	}
	return g;
}

static void
on_agreement(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	unsigned char key[12];
	uint64_t aid, state;
	struct agr *g;
	int basis, created;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_AGREEMENT_HASH) | BIT(T_STATE) | BIT(T_BASIS)) != 0)
		return;
	if (le_str_eq(e, T_BASIS, "consent"))
		basis = BASIS_CONSENT;
	else if (le_str_eq(e, T_BASIS, "statute"))
		basis = BASIS_STATUTE;
	else {
		report(a, "entry %" PRIu64 ": agreement %s has an unknown "
		    "legal basis '%s'", i, TXT(e, T_AGREEMENT, b1),
		    TXT(e, T_BASIS, b2));
		return;
	}
	if (map_get(&a->ids, e->v[T_AGREEMENT], e->n[T_AGREEMENT], 1, &aid,
	    NULL) == NULL || map_get(&a->words, e->v[T_STATE], e->n[T_STATE],
	    1, &state, NULL) == NULL) {
		a->oom = 1;
		return;
	}
	memcpy(key, &aid, 8);
	memcpy(key + 8, e->v[T_VERSION], 4);
	if ((g = map_get(&a->vers, key, sizeof(key), 1, NULL,
	    &created)) == NULL) {
		a->oom = 1;
		return;
	}
	if (!created && memcmp(g->hash, e->v[T_AGREEMENT_HASH], 32) != 0)
		report(a, "entry %" PRIu64 ": agreement %s version %" PRIu32
		    " has another document hash than at entry %" PRIu64, i,
		    TXT(e, T_AGREEMENT, b1), get_u32(e->v[T_VERSION]),
		    g->index);
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
	uint64_t aid, lid;
	struct cns *c;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_CONSENT) | BIT(T_SUBJECT) | BIT(T_FIELDS)) != 0)
		return;
	if (agr_find(a, e, &aid) == NULL) {
		report(a, "entry %" PRIu64 ": consent %s is for agreement %s "
		    "version %" PRIu32 ", which no earlier entry introduced", i,
		    TXT(e, T_CONSENT, b1), TXT(e, T_AGREEMENT, b2),
		    get_u32(e->v[T_VERSION]));
		return;
	}
	if ((c = map_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 1, NULL,
	    NULL)) == NULL || flist_get(a, e->v[T_FIELDS], e->n[T_FIELDS],
	    &lid) != 0) {
		a->oom = 1;
		return;
	}
	if (c->granted) {
		report(a, "entry %" PRIu64 ": consent %s is granted again (first "
		    "at entry %" PRIu64 ")", i, TXT(e, T_CONSENT, b1), c->grant);
		return;
	}
	c->granted = 1;
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
	uint64_t aid = NONE;
	struct cns *c;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_CONSENT) |
	    BIT(T_SUBJECT)) != 0)
		return;
	c = map_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 0, NULL, NULL);
	if (c == NULL || !c->granted) {
		report(a, "entry %" PRIu64 ": revokes consent %s, which no "
		    "earlier entry granted", i, TXT(e, T_CONSENT, b1));
		return;
	}
	if (c->revoke != NONE) {
		report(a, "entry %" PRIu64 ": revokes consent %s again (revoked "
		    "at entry %" PRIu64 ")", i, TXT(e, T_CONSENT, b1), c->revoke);
		return;
	}
	(void)map_get(&a->ids, e->v[T_AGREEMENT], e->n[T_AGREEMENT], 0, &aid,
	    NULL);
	if (aid != c->aid || memcmp(c->subject, e->v[T_SUBJECT], 32) != 0)
		report(a, "entry %" PRIu64 ": the revocation of consent %s names "
		    "another %s than its grant (entry %" PRIu64 ")", i,
		    TXT(e, T_CONSENT, b1), aid != c->aid ? "agreement" :
		    "subject", c->grant);
	c->revoke = i;
}

/* A consent-based token: the consent it names allowed it at its time. */
static void
check_consent(struct audit *a, uint64_t i, const struct le_entry *e,
    uint64_t aid)
{
	char jb[AUDIT_TEXT_SHOWN], b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	char t1[32], t2[32];
	const unsigned char *miss, *s;
	const struct cns *c;
	size_t missn, n;
	uint64_t lid;

	if (!le_has(e, T_CONSENT)) {
		report(a, "entry %" PRIu64 ": token jti %s under consent-based "
		    "agreement %s names no consent", i, TXT(e, T_JTI, jb),
		    TXT(e, T_AGREEMENT, b1));
		return;
	}
	c = map_get(&a->cids, e->v[T_CONSENT], e->n[T_CONSENT], 0, NULL, NULL);
	if (c == NULL || !c->granted) {
		report(a, "entry %" PRIu64 ": token jti %s names consent %s, "
		    "which no earlier entry granted", i, TXT(e, T_JTI, jb),
		    TXT(e, T_CONSENT, b1));
		return;
	}
	if (c->aid != aid) {
		s = map_key(&a->ids, c->aid, &n);
		report(a, "entry %" PRIu64 ": token jti %s under agreement %s "
		    "names consent %s, which is for agreement %s", i,
		    TXT(e, T_JTI, jb), TXT(e, T_AGREEMENT, b2),
		    TXT(e, T_CONSENT, b1), shown(s, n, t1, sizeof(t1)));
	}
	if (memcmp(c->subject, e->v[T_SUBJECT], 32) != 0)
		report(a, "entry %" PRIu64 ": token jti %s is about another "
		    "subject than consent %s (granted at entry %" PRIu64 ")", i,
		    TXT(e, T_JTI, jb), TXT(e, T_CONSENT, b1), c->grant);
	if (c->revoke != NONE)
		report(a, "entry %" PRIu64 ": token jti %s issued after consent "
		    "%s was revoked at entry %" PRIu64, i, TXT(e, T_JTI, jb),
		    TXT(e, T_CONSENT, b1), c->revoke);
	if (c->has_expires && e->time >= c->expires)
		report(a, "entry %" PRIu64 ": token jti %s issued at %s, after "
		    "consent %s expired at %s", i, TXT(e, T_JTI, jb),
		    time_text(e->time, t1), TXT(e, T_CONSENT, b1),
		    time_text(c->expires, t2));
	/* c stays valid: flist_get grows other maps only */
	if (flist_get(a, e->v[T_FIELDS], e->n[T_FIELDS], &lid) != 0) {
		a->oom = 1;
		return;
	}
	if (!covers(a, c->lid, lid, &miss, &missn))
		report(a, "entry %" PRIu64 ": token jti %s asks for field %s, "
		    "which consent %s (entry %" PRIu64 ") does not cover", i,
		    TXT(e, T_JTI, jb), shown(miss, missn, b2, sizeof(b2)),
		    TXT(e, T_CONSENT, b1), c->grant);
}

static void
on_token(struct audit *a, uint64_t i, const struct le_entry *e)
{
	char jb[AUDIT_TEXT_SHOWN], b1[AUDIT_TEXT_SHOWN], b2[AUDIT_TEXT_SHOWN];
	char day[32];
	unsigned char key[48];
	const unsigned char *s;
	const struct agr *g;
	uint32_t *count, limit;
	uint64_t aid;
	int64_t d;
	size_t n;

	if (require(a, i, e, BIT(T_AGREEMENT) | BIT(T_VERSION) |
	    BIT(T_AGREEMENT_HASH) | BIT(T_SUBJECT) | BIT(T_FIELDS) |
	    BIT(T_EXPIRES) | BIT(T_JTI) | BIT(T_CLAIMS_HASH) | BIT(T_CLIENT) |
	    BIT(T_PROVIDER) | BIT(T_PURPOSE)) != 0)
		return;
	a->tokens++;
	if ((g = agr_find(a, e, &aid)) == NULL) {
		report(a, "entry %" PRIu64 ": token jti %s names agreement %s "
		    "version %" PRIu32 ", which no earlier entry introduced", i,
		    TXT(e, T_JTI, jb), TXT(e, T_AGREEMENT, b1),
		    get_u32(e->v[T_VERSION]));
		return;
	}
	if (!g->active) {
		s = map_key(&a->words, g->state, &n);
		report(a, "entry %" PRIu64 ": token jti %s issued under agreement "
		    "%s version %" PRIu32 ", which is %s (since entry %" PRIu64
		    "), not active", i, TXT(e, T_JTI, jb), TXT(e, T_AGREEMENT, b1),
		    get_u32(e->v[T_VERSION]), shown(s, n, b2, sizeof(b2)),
		    g->index);
	}
	if (memcmp(g->hash, e->v[T_AGREEMENT_HASH], 32) != 0)
		report(a, "entry %" PRIu64 ": token jti %s names another document "
		    "hash for agreement %s version %" PRIu32 " than entry %"
		    PRIu64, i, TXT(e, T_JTI, jb), TXT(e, T_AGREEMENT, b1),
		    get_u32(e->v[T_VERSION]), g->index);
	limit = g->limit;
	if (g->basis == BASIS_CONSENT) {
		a->tokens_consent++;
		check_consent(a, i, e, aid);
	} else {
		a->tokens_statute++;
		if (le_has(e, T_CONSENT))
			report(a, "entry %" PRIu64 ": statutory token jti %s "
			    "carries consent %s", i, TXT(e, T_JTI, jb),
			    TXT(e, T_CONSENT, b2));
	}
	if (limit == 0)
		return;
	/* Counted as the broker counts: per subject, agreement id and UTC
	 * day, over the tokens of versions that have a limit. */
	d = timeu_day(e->time);
	memcpy(key, e->v[T_SUBJECT], 32);
	memcpy(key + 32, &aid, 8);
	memcpy(key + 40, &d, 8);
	if ((count = map_get(&a->days, key, sizeof(key), 1, NULL,
	    NULL)) == NULL) {
		a->oom = 1;
		return;
	}
	if (++*count > limit) {
		time_text(d * 86400, day);
		day[10] = '\0';
		report(a, "entry %" PRIu64 ": token jti %s is transfer %" PRIu32
		    " on %s for its subject under agreement %s, whose limit is %"
		    PRIu32 " per day", i, TXT(e, T_JTI, jb), *count, day,
		    TXT(e, T_AGREEMENT, b1), limit);
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


/*
 * Verification in batches on two threads: one hashes the entries into the
 * tree while the other replays them, so a long log is checked at about the
 * rate of the slower half instead of the sum of both. Entries are copied
 * into the batch, so the source may reuse its buffers.
 */
#define AUDIT_BATCH 4096
#define AUDIT_BATCH_THREADED 256   /* smaller batches run on one thread */

struct abatch {
	unsigned char *buf;
	size_t len, cap;
	size_t off[AUDIT_BATCH];
	size_t n[AUDIT_BATCH];
	size_t count;
	uint64_t first;                 /* index of the first entry */
};

struct ahash {
	struct audit *a;
	const struct abatch *b;
};

/* Adds an entry to the batch; 0, or -1 when out of memory. */
static int
abatch_add(struct abatch *b, uint64_t i, const unsigned char *d, size_t n)
{
	unsigned char *nb;
	size_t want;

	if (b->count == 0) {
		b->first = i;
		b->len = 0;
	}
	if (b->len + n > b->cap) {
		want = (b->len + n) * 2;
		if ((nb = realloc(b->buf, want)) == NULL)
			return -1;
		b->buf = nb;
		b->cap = want;
	}
	if (n > 0)
		memcpy(b->buf + b->len, d, n);
	b->off[b->count] = b->len;
	b->n[b->count] = n;
	b->len += n;
	b->count++;
	return 0;
}

/* The tree half: only this thread touches a->f, entries and since_*. */
static void *
abatch_hash(void *arg)
{
	struct ahash *h = arg;
	struct audit *a = h->a;
	const struct abatch *b = h->b;
	unsigned char leaf[MERKLE_HASH], r[MERKLE_HASH];
	size_t k;

	for (k = 0; k < b->count; k++) {
		merkle_leaf_hash(b->buf + b->off[k], b->n[k], leaf);
		/* 2^64 entries cannot happen: the frontier never fills. */
		(void)merkle_frontier_append(&a->f, leaf, NULL, NULL);
		a->entries++;
		if (a->since_pending && a->f.size == a->since_size) {
			merkle_frontier_root(&a->f, r);
			a->since_ok = memcmp(r, a->since_root, MERKLE_HASH) == 0;
			a->since_pending = 0;
		}
	}
	return NULL;
}

/* Checks and empties the batch. */
static void
abatch_run(struct audit *a, struct abatch *b)
{
	struct ahash h = { a, b };
	pthread_t th;
	int threaded = 0;
	size_t k;

	if (b->count == 0)
		return;
	if (b->count >= AUDIT_BATCH_THREADED &&
	    pthread_create(&th, NULL, abatch_hash, &h) == 0)
		threaded = 1;
	else
		(void)abatch_hash(&h);
	for (k = 0; k < b->count; k++) {
		audit_replay(a, b->first + k, b->buf + b->off[k], b->n[k]);
		if (a->progress && ((b->first + k) & 4095) == 0)
			bar_update(a, b->first + k + 1);
	}
	if (threaded)
		pthread_join(th, NULL);
	b->count = 0;
}

/* ---- HTTP ----------------------------------------------------------------- */

/* One connection to the broker, reused for every request. */
struct http {
	CURL *c;
	char base[1024];
	char errbuf[CURL_ERROR_SIZE];
	char *body;                     /* NUL-terminated */
	size_t len, cap;
	int overflow;
};

static size_t
http_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http *h = arg;
	size_t n = size * nmemb, c;
	char *nb;

	if (h->len + n + 1 > AUDIT_MAX_BODY) {
		h->overflow = 1;
		return 0;
	}
	if (h->len + n + 1 > h->cap) {
		c = h->cap != 0 ? h->cap : 65536;
		while (c < h->len + n + 1)
			c *= 2;
		if ((nb = realloc(h->body, c)) == NULL)
			return 0;
		h->body = nb;
		h->cap = c;
	}
	memcpy(h->body + h->len, data, n);
	h->len += n;
	h->body[h->len] = '\0';
	return n;
}

static void
http_close(struct http *h)
{
	if (h->c != NULL)
		curl_easy_cleanup(h->c);
	free(h->body);
	memset(h, 0, sizeof(*h));
}

static int
http_open(struct http *h, const char *base, const char *cert,
    const char *key, const char *ca)
{
	size_t n = strlen(base);

	memset(h, 0, sizeof(*h));
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(h->base) ||
	    (strncmp(base, "https://", 8) != 0 &&
	    strncmp(base, "http://", 7) != 0)) {
		fprintf(stderr, "consent-audit: --broker must be an http(s) URL "
		    "such as https://127.0.0.1:8443\n");
		return -1;
	}
	memcpy(h->base, base, n);
	h->base[n] = '\0';
	if ((h->c = curl_easy_init()) == NULL) {
		fprintf(stderr, "consent-audit: cannot start libcurl\n");
		return -1;
	}
	curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->c, CURLOPT_TIMEOUT_MS, AUDIT_HTTP_TIMEOUT_MS);
	curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT_MS,
	    AUDIT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(h->c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->c, CURLOPT_USERAGENT, "consent-audit");
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL)
		curl_easy_setopt(h->c, CURLOPT_CAINFO, ca);
	if (cert != NULL)
		curl_easy_setopt(h->c, CURLOPT_SSLCERT, cert);
	if (key != NULL)
		curl_easy_setopt(h->c, CURLOPT_SSLKEY, key);
	return 0;
}

/*
 * GETs base + path. Returns the HTTP status with the body in h->body, or
 * 0 on a transport error (printed).
 */
static long
http_get(struct http *h, const char *path)
{
	char url[2048];
	long status = 0;
	CURLcode rc;

	if (snprintf(url, sizeof(url), "%s%s", h->base, path) >=
	    (int)sizeof(url)) {
		fprintf(stderr, "consent-audit: URL too long\n");
		return 0;
	}
	h->len = 0;
	h->overflow = 0;
	h->errbuf[0] = '\0';
	if (h->body != NULL)
		h->body[0] = '\0';
	curl_easy_setopt(h->c, CURLOPT_URL, url);
	curl_easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
	rc = curl_easy_perform(h->c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "consent-audit: GET %s: %s\n", url,
		    h->overflow ? "response larger than the bound" :
		    h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
	if (h->body == NULL) {
		h->body = malloc(1);
		if (h->body == NULL)
			return 0;
		h->body[0] = '\0';
		h->cap = 1;
	}
	return status;
}

/* Prints an unexpected answer: status and the problem's detail. */
static void
http_complain(struct http *h, const char *path, long status)
{
	char buf[300];
	const char *d = NULL;
	json_t *j = json_loadb(h->body, h->len, 0, NULL);

	d = json_string_value(json_object_get(j, "detail"));
	if (d == NULL)
		d = json_string_value(json_object_get(j, "error_description"));
	if (d == NULL)
		d = h->body;
	fprintf(stderr, "consent-audit: GET %s%s: HTTP %ld: %s\n", h->base,
	    path, status, shown((const unsigned char *)d, strlen(d), buf,
	    sizeof(buf)));
	json_decref(j);
}

/* The broker's current checkpoint note into *note (malloc'd). 0 or -1. */
static int
fetch_checkpoint(struct http *h, char **note, size_t *len)
{
	static const char path[] = "/v1/log/checkpoint";
	long st = http_get(h, path);

	*note = NULL;
	if (st == 0)
		return -1;
	if (st != 200) {
		http_complain(h, path, st);
		return -1;
	}
	if (h->len > NOTE_MAX) {
		fprintf(stderr, "consent-audit: the checkpoint is larger than %d "
		    "bytes\n", NOTE_MAX);
		return -1;
	}
	if ((*note = malloc(h->len + 1)) == NULL)
		return -1;
	memcpy(*note, h->body, h->len + 1);
	*len = h->len;
	return 0;
}

/* ---- keys and checkpoints -------------------------------------------------- */

/* VKEY is the key itself or a file holding it. 0, or -1 (printed). */
static int
load_vkey(const char *arg, struct note_vkey *vk)
{
	char err[256], err2[256], *text = NULL;
	size_t len;
	int rc = -1;

	if (note_vkey_parse(arg, vk, err, sizeof(err)) == 0)
		return 0;
	if (fsu_read_file(arg, AUDIT_VKEY_MAX, &text, &len) != 0) {
		fprintf(stderr, "consent-audit: --vkey: %s (and no file of that "
		    "name: %s)\n", err, strerror(errno));
		return -1;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	    text[len - 1] == ' ' || text[len - 1] == '\t'))
		text[--len] = '\0';
	if (note_vkey_parse(text, vk, err2, sizeof(err2)) == 0)
		rc = 0;
	else
		fprintf(stderr, "consent-audit: --vkey %s: %s\n", arg, err2);
	free(text);
	return rc;
}

/*
 * Checks a checkpoint note: the signature by vk, the text's form, and that
 * its origin is the key's name. 0, or -1 with the finding in msg.
 */
static int
check_note(const char *what, const char *note, size_t len,
    const struct note_vkey *vk, struct checkpoint *cp, char *msg,
    size_t msglen)
{
	char err[300], b[AUDIT_TEXT_SHOWN];
	size_t tlen;

	if (note_verify(note, len, vk, &tlen, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "%s signature does not verify: %s", what,
		    err);
		return -1;
	}
	if (checkpoint_parse(note, tlen, cp, err, sizeof(err)) != 0) {
		snprintf(msg, msglen, "%s is malformed: %s", what, err);
		return -1;
	}
	if (strcmp(cp->origin, vk->name) != 0) {
		snprintf(msg, msglen, "%s origin '%s' is not the key's name '%s'",
		    what, shown((const unsigned char *)cp->origin,
		    strlen(cp->origin), b, sizeof(b)), vk->name);
		return -1;
	}
	return 0;
}

static void
print_checkpoint(FILE *out, const struct checkpoint *cp)
{
	char b64[48], hex[2 * MERKLE_HASH + 1];

	root_b64(cp->root, b64);
	hex_encode(cp->root, MERKLE_HASH, hex);
	fprintf(out, "checkpoint: origin %s\n", cp->origin);
	fprintf(out, "  size %" PRIu64 "\n", cp->size);
	fprintf(out, "  root %s\n", b64);
	fprintf(out, "  root (hex) %s\n", hex);
}

/* ---- the export file ---------------------------------------------------- */

/*
 * consentctl log export: "consent-broker-log-export 1\n",
 * "checkpoint <nbytes>\n" <note>, "entries <count>\n", then each entry as a
 * 4-byte big-endian length and its bytes. Mapped, not read.
 */
struct export {
	unsigned char *map;
	size_t len;
	const char *note;
	size_t note_len;
	const unsigned char *entries;   /* first entry's length */
	uint64_t count;
};

/* A decimal number (no sign, no leading zero) ending at term. */
static const unsigned char *
parse_dec(const unsigned char *p, const unsigned char *end,
    unsigned char term, uint64_t *v)
{
	const unsigned char *s = p;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		if (*v > (UINT64_MAX - 9) / 10 || p - s >= 20)
			return NULL;
		*v = *v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == s || p >= end || *p != term || (*s == '0' && p - s > 1))
		return NULL;
	return p + 1;
}

static void
export_close(struct export *x)
{
	if (x->map != NULL)
		munmap(x->map, x->len);
	memset(x, 0, sizeof(*x));
}

/* 0, or -1 with the reason printed. */
static int
export_open(const char *path, struct export *x)
{
	static const char ck[] = "checkpoint ", en[] = "entries ";
	const unsigned char *p, *end;
	struct stat st;
	uint64_t v;
	int fd;

	memset(x, 0, sizeof(*x));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0) {
		fprintf(stderr, "consent-audit: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)strlen(EXPORT_MAGIC)) {
		close(fd);
		fprintf(stderr, "consent-audit: %s: not a consent-broker log "
		    "export\n", path);
		return -1;
	}
	x->len = (size_t)st.st_size;
	x->map = mmap(NULL, x->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (x->map == MAP_FAILED) {
		x->map = NULL;
		fprintf(stderr, "consent-audit: %s: %s\n", path, strerror(errno));
		return -1;
	}
	(void)madvise(x->map, x->len, MADV_SEQUENTIAL);
	p = x->map;
	end = p + x->len;
	if (memcmp(p, EXPORT_MAGIC, strlen(EXPORT_MAGIC)) != 0)
		goto bad;
	p += strlen(EXPORT_MAGIC);
	if ((size_t)(end - p) < strlen(ck) || memcmp(p, ck, strlen(ck)) != 0 ||
	    (p = parse_dec(p + strlen(ck), end, '\n', &v)) == NULL ||
	    v > NOTE_MAX || v > (uint64_t)(end - p))
		goto bad;
	x->note = (const char *)p;
	x->note_len = (size_t)v;
	p += v;
	if ((size_t)(end - p) < strlen(en) || memcmp(p, en, strlen(en)) != 0 ||
	    (p = parse_dec(p + strlen(en), end, '\n', &x->count)) == NULL)
		goto bad;
	x->entries = p;
	return 0;
bad:
	fprintf(stderr, "consent-audit: %s: not a consent-broker log export "
	    "(bad header)\n", path);
	export_close(x);
	return -1;
}

/* ---- entry sources ------------------------------------------------------- */

/* Entries [0, size) from an export file or from the broker, in order. */
struct src {
	int online;
	/* export */
	const unsigned char *p, *end;
	uint64_t count;
	/* broker */
	struct http *h;
	uint64_t size;
	unsigned char *buf;             /* decoded entries of the page */
	size_t cap;
	uint64_t idx[AUDIT_PAGE];
	size_t off[AUDIT_PAGE];
	size_t len[AUDIT_PAGE];
	unsigned count_page, pos;
	char path[128];
};

/* Fetches the page from start; 0, or -1 (printed). */
static int
src_fetch(struct src *s, uint64_t start)
{
	uint64_t end = s->size - start > AUDIT_PAGE ? start + AUDIT_PAGE :
	    s->size, last = 0, ix;
	json_t *j = NULL, *arr, *it;
	json_error_t jerr;
	const char *data;
	size_t k, n, used = 0, need;
	long st;
	int rc = -1;

	s->count_page = s->pos = 0;
	snprintf(s->path, sizeof(s->path), "/v1/log/entries?start=%" PRIu64
	    "&end=%" PRIu64, start, end);
	st = http_get(s->h, s->path);
	if (st == 0)
		return -1;
	if (st != 200) {
		http_complain(s->h, s->path, st);
		return -1;
	}
	j = json_loadb(s->h->body, s->h->len, 0, &jerr);
	arr = json_object_get(j, "entries");
	if (!json_is_array(arr) || json_array_size(arr) > end - start) {
		fprintf(stderr, "consent-audit: GET %s: not an entries page%s%s\n",
		    s->path, j == NULL ? ": " : "", j == NULL ? jerr.text : "");
		goto out;
	}
	/* Room for every entry of the page at once. */
	for (k = 0, need = 0; k < json_array_size(arr); k++) {
		data = json_string_value(json_object_get(json_array_get(arr, k),
		    "data"));
		need += data != NULL ? b64_decoded_max(strlen(data)) : 0;
	}
	if (need > s->cap) {
		unsigned char *nb = realloc(s->buf, need);

		if (nb == NULL) {
			fprintf(stderr, "consent-audit: out of memory\n");
			goto out;
		}
		s->buf = nb;
		s->cap = need;
	}
	json_array_foreach(arr, k, it) {
		json_t *jix = json_object_get(it, "index");

		data = json_string_value(json_object_get(it, "data"));
		if (!json_is_integer(jix) || json_integer_value(jix) < 0 ||
		    data == NULL) {
			fprintf(stderr, "consent-audit: GET %s: entry %zu of the "
			    "page has no index or data\n", s->path, k);
			goto out;
		}
		ix = (uint64_t)json_integer_value(jix);
		if (ix < start || ix >= end || (k > 0 && ix <= last)) {
			fprintf(stderr, "consent-audit: GET %s: index %" PRIu64
			    " out of order or outside the page\n", s->path, ix);
			goto out;
		}
		if (b64_decode(data, strlen(data), s->buf + used, &n) != 0) {
			fprintf(stderr, "consent-audit: GET %s: entry %" PRIu64
			    ": data is not base64\n", s->path, ix);
			goto out;
		}
		s->idx[k] = ix;
		s->off[k] = used;
		s->len[k] = n;
		used += n;
		last = ix;
	}
	s->count_page = (unsigned)json_array_size(arr);
	rc = 0;
out:
	json_decref(j);
	return rc;
}

/*
 * Entry i (the next one). 0 with *d and *n (valid until the next call);
 * 1 when it is missing (why gets the circumstance); -1 on an I/O error
 * (printed).
 */
static int
src_next(struct src *s, uint64_t i, const unsigned char **d, size_t *n,
    char *why, size_t whylen)
{
	uint64_t len;

	if (!s->online) {
		if (i >= s->count) {
			snprintf(why, whylen, "the export holds %" PRIu64
			    " entries", s->count);
			return 1;
		}
		if (s->end - s->p < 4) {
			snprintf(why, whylen, "the file ends");
			return 1;
		}
		len = get_u32(s->p);
		if ((uint64_t)(s->end - s->p - 4) < len) {
			snprintf(why, whylen, "the file ends inside it");
			return 1;
		}
		*d = s->p + 4;
		*n = (size_t)len;
		s->p += 4 + len;
		return 0;
	}
	if (s->pos == s->count_page && src_fetch(s, i) != 0)
		return -1;
	if (s->pos == s->count_page) {
		snprintf(why, whylen, "the broker returned no entry from %"
		    PRIu64 "; a party without the auditor role sees only the "
		    "entries naming it", i);
		return 1;
	}
	if (s->idx[s->pos] != i) {
		snprintf(why, whylen, "the broker returned entry %" PRIu64
		    " next; a party without the auditor role sees only the "
		    "entries naming it", s->idx[s->pos]);
		return 1;
	}
	*d = s->buf + s->off[s->pos];
	*n = s->len[s->pos];
	s->pos++;
	return 0;
}

/* ---- commands ------------------------------------------------------------ */

static const char usage_text[] =
    "usage: consent-audit checkpoint (--broker URL [--ca FILE] | --log FILE)\n"
    "           --vkey VKEY\n"
    "       consent-audit verify (--broker URL --cert FILE --key FILE\n"
    "           [--ca FILE] | --log FILE) --vkey VKEY [--since FILE]\n"
    "           [--save FILE]\n"
    "       consent-audit prove --broker URL --cert FILE --key FILE\n"
    "           [--ca FILE] --vkey VKEY --jti ID\n"
    "       consent-audit COMMAND --help\n"
    "\n"
    "Checks the consent broker's audit log: the signed checkpoint, its\n"
    "consistency with one saved before, the root recomputed from every\n"
    "entry, the inclusion of a token, and a replay of the entries showing\n"
    "each token was allowed when it was issued (docs/audit-log.md).\n"
    "VKEY is the log's verifier key (name+keyid+key) or a file holding it.\n"
    "Exit status: 0 all holds, 1 something does not (each finding is\n"
    "named), 2 usage or I/O errors.\n";

static const char checkpoint_help[] =
    "usage: consent-audit checkpoint (--broker URL [--ca FILE] | --log FILE)\n"
    "           --vkey VKEY\n"
    "\n"
    "Fetches the broker's latest signed checkpoint (GET /v1/log/checkpoint,\n"
    "no client certificate needed) or reads it from an export file, checks\n"
    "its signature against VKEY and that its origin is the key's name, and\n"
    "prints origin, size and root (base64 and hex).\n"
    "\n"
    "  --broker URL   the broker, e.g. https://broker.example:8443\n"
    "  --ca FILE      CA certificate(s) for the broker's TLS certificate\n"
    "  --cert, --key  a client certificate (optional here)\n"
    "  --log FILE     a file from 'consentctl log export' instead\n"
    "  --vkey VKEY    the log's verifier key, or a file holding it\n"
    "\n"
    "Exit status: 0 the checkpoint verifies, 1 it does not, 2 usage or I/O\n"
    "errors.\n";

static const char verify_help[] =
    "usage: consent-audit verify (--broker URL --cert FILE --key FILE\n"
    "           [--ca FILE] | --log FILE) --vkey VKEY [--since FILE]\n"
    "           [--save FILE]\n"
    "\n"
    "Verifies the whole log: the checkpoint's signature; every entry up to\n"
    "its size, hashed into the tree whose root must be the checkpoint's;\n"
    "with --since, that the checkpoint is consistent with the one saved\n"
    "before; and a replay of the entries: each token names an active\n"
    "agreement version, a consent-based token a consent of the same\n"
    "subject and agreement that was granted before it, not revoked, not\n"
    "expired and covering its fields, a statutory token no consent, and no\n"
    "subject gets more tokens a day than the agreement's limit.\n"
    "\n"
    "  --broker URL   fetch from the broker (GET /v1/log/...); needs a\n"
    "                 client certificate of a party with the auditor role\n"
    "  --cert FILE, --key FILE, --ca FILE\n"
    "                 that certificate and key; the CA of the broker's\n"
    "  --log FILE     read a file from 'consentctl log export' instead\n"
    "  --vkey VKEY    the log's verifier key, or a file holding it\n"
    "  --since FILE   a checkpoint note saved by an earlier --save: the log\n"
    "                 must have only grown since (online: a consistency\n"
    "                 proof from the broker; both: the first entries must\n"
    "                 give the saved root)\n"
    "  --save FILE    when the log's integrity holds (signature, root,\n"
    "                 consistency), write the checkpoint note to FILE for\n"
    "                 the next --since\n"
    "\n"
    "Findings name the entry and the reason. Exit status: 0 all holds, 1\n"
    "any finding, 2 usage or I/O errors.\n";

static const char prove_help[] =
    "usage: consent-audit prove --broker URL --cert FILE --key FILE\n"
    "           [--ca FILE] --vkey VKEY --jti ID\n"
    "\n"
    "Shows that the token with jti ID is in the log: fetches the signed\n"
    "checkpoint, the inclusion proof of the token's entry in the tree of\n"
    "the checkpoint's size (waiting up to 3 s for a checkpoint that covers\n"
    "a new token), and the entry itself; checks the entry is that token's\n"
    "and the proof leads to the checkpoint's root. Prints the entry and\n"
    "\"included\".\n"
    "\n"
    "Exit status: 0 included, 1 not shown to be included (the reason is\n"
    "printed), 2 usage or I/O errors.\n";

enum opt_id {
	O_BROKER = 1, O_CERT, O_KEY, O_CA, O_LOG, O_VKEY, O_SINCE, O_SAVE,
	O_JTI, O_HELP
};

struct opts {
	const char *broker, *cert, *key, *ca, *log, *vkey, *since, *save,
	    *jti;
	int help;
};

static const struct option long_opts[] = {
	{ "broker", required_argument, NULL, O_BROKER },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "ca", required_argument, NULL, O_CA },
	{ "log", required_argument, NULL, O_LOG },
	{ "vkey", required_argument, NULL, O_VKEY },
	{ "since", required_argument, NULL, O_SINCE },
	{ "save", required_argument, NULL, O_SAVE },
	{ "jti", required_argument, NULL, O_JTI },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

/*
 * Parses a command's options; allowed is a string of the opt_id values it
 * takes. 0, or -1 after printing the usage.
 */
static int
parse_opts(int argc, char **argv, const char *allowed, const char *help,
    struct opts *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (ch == 'h' || ch == O_HELP) {
			o->help = 1;
			continue;
		}
		if (ch <= 0 || ch > O_HELP || strchr(allowed, ch) == NULL) {
			if (ch > 0 && ch < O_HELP)
				fprintf(stderr, "consent-audit %s: --%s does not "
				    "apply here\n", argv[0], long_opts[ch - 1].name);
			fprintf(stderr, "%s", help);
			return -1;
		}
		switch (ch) {
		case O_BROKER: o->broker = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CA: o->ca = optarg; break;
		case O_LOG: o->log = optarg; break;
		case O_VKEY: o->vkey = optarg; break;
		case O_SINCE: o->since = optarg; break;
		case O_SAVE: o->save = optarg; break;
		case O_JTI: o->jti = optarg; break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "consent-audit %s: unexpected argument '%s'\n%s",
		    argv[0], argv[optind], help);
		return -1;
	}
	return 0;
}

static int
usage_error(const char *cmd, const char *msg, const char *help)
{
	fprintf(stderr, "consent-audit %s: %s\n%s", cmd, msg, help);
	return AUDIT_ERR;
}

static int
cmd_checkpoint(int argc, char **argv)
{
	static const char allowed[] = { O_BROKER, O_CERT, O_KEY, O_CA, O_LOG,
	    O_VKEY, 0 };
	struct note_vkey vk;
	struct checkpoint cp;
	struct export x;
	struct http h;
	struct opts o;
	char *note = NULL, msg[512];
	size_t len = 0;
	int rc = AUDIT_ERR;

	memset(&h, 0, sizeof(h));
	memset(&x, 0, sizeof(x));
	if (parse_opts(argc, argv, allowed, checkpoint_help, &o) != 0)
		return AUDIT_ERR;
	if (o.help) {
		printf("%s", checkpoint_help);
		return AUDIT_OK;
	}
	if ((o.broker == NULL) == (o.log == NULL) || o.vkey == NULL)
		return usage_error(argv[0], "give --vkey and one of --broker or "
		    "--log", checkpoint_help);
	if (load_vkey(o.vkey, &vk) != 0)
		return AUDIT_ERR;
	if (o.broker != NULL) {
		if (http_open(&h, o.broker, o.cert, o.key, o.ca) != 0 ||
		    fetch_checkpoint(&h, &note, &len) != 0)
			goto out;
	} else {
		if (export_open(o.log, &x) != 0)
			goto out;
		if ((note = malloc(x.note_len + 1)) == NULL)
			goto out;
		memcpy(note, x.note, x.note_len);
		note[x.note_len] = '\0';
		len = x.note_len;
	}
	if (check_note("checkpoint", note, len, &vk, &cp, msg,
	    sizeof(msg)) != 0) {
		printf("%s\n", msg);
		rc = AUDIT_BAD;
		goto out;
	}
	print_checkpoint(stdout, &cp);
	printf("signature: verifies with %s\n", vk.name);
	rc = AUDIT_OK;
out:
	free(note);
	export_close(&x);
	http_close(&h);
	return rc;
}

/* The consistency proof from the broker between m < n; 1 holds, 0 not,
 * -1 error (printed). */
static int
online_consistency(struct http *h, uint64_t m, uint64_t n,
    const unsigned char r1[MERKLE_HASH], const unsigned char r2[MERKLE_HASH],
    size_t *nproof)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	char path[128];
	json_t *j, *arr, *it;
	const char *s;
	size_t k;
	long st;
	int rc = -1;

	snprintf(path, sizeof(path), "/v1/log/proof/consistency?from=%" PRIu64
	    "&to=%" PRIu64, m, n);
	if ((st = http_get(h, path)) == 0)
		return -1;
	if (st != 200) {
		http_complain(h, path, st);
		return -1;
	}
	j = json_loadb(h->body, h->len, 0, NULL);
	arr = json_object_get(j, "hashes");
	if (!json_is_array(arr) || json_array_size(arr) > MERKLE_MAX_PROOF) {
		fprintf(stderr, "consent-audit: GET %s: not a proof\n", path);
		goto out;
	}
	json_array_foreach(arr, k, it) {
		s = json_string_value(it);
		if (s == NULL || hash_b64(s, proof[k]) != 0) {
			fprintf(stderr, "consent-audit: GET %s: hash %zu is not "
			    "base64 of 32 bytes\n", path, k);
			goto out;
		}
	}
	*nproof = json_array_size(arr);
	rc = merkle_verify_consistency(m, n, r1, r2,
	    (const unsigned char (*)[MERKLE_HASH])proof, *nproof) == 0;
out:
	json_decref(j);
	return rc;
}

/* Writes note to path (atomically); 0 or -1 (printed). */
static int
save_note(const char *path, const char *note, size_t len)
{
	if (fsu_write_file(path, note, len, 0644, 0) != 0) {
		fprintf(stderr, "consent-audit: --save %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
cmd_verify(int argc, char **argv)
{
	static const char allowed[] = { O_BROKER, O_CERT, O_KEY, O_CA, O_LOG,
	    O_VKEY, O_SINCE, O_SAVE, 0 };
	unsigned char root[MERKLE_HASH];
	char *note = NULL, *saved = NULL, msg[600], why[200], b1[48], b2[48];
	const char *consistency = "not checked (no --since)";
	char cons_text[300];
	struct checkpoint cp, old;
	struct note_vkey vk;
	struct export x;
	struct abatch *batch = NULL;
	struct http h;
	struct audit a;
	struct src s;
	struct opts o;
	const unsigned char *d;
	size_t len = 0, slen, n, np = 0;
	uint64_t i;
	int rc = AUDIT_ERR, r, missing = 0, root_ok = 0, consistent = -1;

	memset(&h, 0, sizeof(h));
	memset(&x, 0, sizeof(x));
	memset(&s, 0, sizeof(s));
	memset(&cp, 0, sizeof(cp));
	memset(&old, 0, sizeof(old));
	if (audit_init(&a, stdout) != 0)
		return AUDIT_ERR;
	if (parse_opts(argc, argv, allowed, verify_help, &o) != 0)
		goto out;
	if (o.help) {
		printf("%s", verify_help);
		rc = AUDIT_OK;
		goto out;
	}
	if ((o.broker == NULL) == (o.log == NULL) || o.vkey == NULL) {
		rc = usage_error(argv[0], "give --vkey and one of --broker or "
		    "--log", verify_help);
		goto out;
	}
	if (o.broker != NULL && (o.cert == NULL || o.key == NULL)) {
		rc = usage_error(argv[0], "--broker needs --cert and --key (a "
		    "party with the auditor role)", verify_help);
		goto out;
	}
	if (load_vkey(o.vkey, &vk) != 0)
		goto out;
	if (o.broker != NULL) {
		if (http_open(&h, o.broker, o.cert, o.key, o.ca) != 0 ||
		    fetch_checkpoint(&h, &note, &len) != 0)
			goto out;
	} else {
		if (export_open(o.log, &x) != 0)
			goto out;
		if ((note = malloc(x.note_len + 1)) == NULL)
			goto out;
		memcpy(note, x.note, x.note_len);
		note[x.note_len] = '\0';
		len = x.note_len;
	}
	if (check_note("checkpoint", note, len, &vk, &cp, msg,
	    sizeof(msg)) != 0) {
		report(&a, "%s", msg);
		rc = AUDIT_BAD;
		goto out;
	}
	print_checkpoint(stdout, &cp);

	if (o.since != NULL) {
		if (fsu_read_file(o.since, NOTE_MAX, &saved, &slen) != 0) {
			fprintf(stderr, "consent-audit: --since %s: %s\n", o.since,
			    strerror(errno));
			goto out;
		}
		snprintf(why, sizeof(why), "saved checkpoint %s", o.since);
		if (check_note(why, saved, slen, &vk, &old, msg,
		    sizeof(msg)) != 0) {
			report(&a, "%s", msg);
			rc = AUDIT_BAD;
			goto out;
		}
		root_b64(old.root, b1);
		if (old.size > cp.size) {
			report(&a, "checkpoint of size %" PRIu64 " is not consistent "
			    "with the saved checkpoint of size %" PRIu64 ": the log "
			    "is smaller than when it was saved", cp.size, old.size);
			consistent = 0;
		} else if (old.size == cp.size) {
			consistent = memcmp(old.root, cp.root, MERKLE_HASH) == 0;
			if (!consistent)
				report(&a, "checkpoint of size %" PRIu64 " is not "
				    "consistent with the saved checkpoint of size %"
				    PRIu64 ": same size, another root (saved %s)",
				    cp.size, old.size, b1);
		} else {
			if (o.broker != NULL) {
				r = online_consistency(&h, old.size, cp.size,
				    old.root, cp.root, &np);
				if (r < 0)
					goto out;
				consistent = r;
				if (!r)
					report(&a, "checkpoint of size %" PRIu64
					    " is not consistent with the saved "
					    "checkpoint of size %" PRIu64 ": the "
					    "broker's consistency proof does not "
					    "verify", cp.size, old.size);
			}
			audit_expect_prefix(&a, old.size, old.root);
		}
	}

	/* Every entry, in order, through the tree and the replay. */
	s.online = o.broker != NULL;
	s.h = &h;
	s.size = cp.size;
	if (!s.online) {
		s.p = x.entries;
		s.end = x.map + x.len;
		s.count = x.count;
	}
	a.total = cp.size;
	if ((batch = calloc(1, sizeof(*batch))) == NULL) {
		fprintf(stderr, "consent-audit: out of memory\n");
		goto out;
	}
	a.progress = isatty(STDERR_FILENO) && cp.size >= AUDIT_PROGRESS_MIN;
	a.t0_us = a.last_us = mono_us();
	for (i = 0; i < cp.size; i++) {
		r = src_next(&s, i, &d, &n, why, sizeof(why));
		if (r < 0) {
			abatch_run(&a, batch);
			bar_clear(&a);
			goto out;
		}
		if (r > 0) {
			abatch_run(&a, batch);
			report(&a, "entry %" PRIu64 " missing (%s)", i, why);
			missing = 1;
			break;
		}
		if (abatch_add(batch, i, d, n) != 0)
			a.oom = 1;
		else if (batch->count == AUDIT_BATCH)
			abatch_run(&a, batch);
		if (a.oom) {
			bar_clear(&a);
			fprintf(stderr, "consent-audit: out of memory\n");
			goto out;
		}
	}
	abatch_run(&a, batch);
	bar_clear(&a);
	if (!missing) {
		merkle_frontier_root(&a.f, root);
		root_ok = memcmp(root, cp.root, MERKLE_HASH) == 0;
		if (!root_ok) {
			root_b64(root, b1);
			root_b64(cp.root, b2);
			report(&a, "root mismatch: entries give %s, checkpoint says "
			    "%s", b1, b2);
		}
	}
	if (!s.online && !missing) {
		if (x.count > cp.size)
			report(&a, "the export holds %" PRIu64 " entries, more than "
			    "the %" PRIu64 " its checkpoint covers", x.count,
			    cp.size);
		else if (s.p != s.end)
			report(&a, "the export has %zu bytes after its last entry",
			    (size_t)(s.end - s.p));
	}
	if (a.since_ok == 0) {
		root_b64(old.root, b1);
		report(&a, "checkpoint of size %" PRIu64 " is not consistent with "
		    "the saved checkpoint of size %" PRIu64 ": the first %" PRIu64
		    " entries do not give the saved root %s", cp.size, old.size,
		    old.size, b1);
		consistent = 0;
	} else if (a.since_ok == 1 && consistent != 0)
		consistent = 1;
	if (o.since != NULL) {
		if (consistent == 1)
			snprintf(cons_text, sizeof(cons_text), "consistent with the "
			    "saved checkpoint of size %" PRIu64 "%s%s", old.size,
			    np > 0 || (o.broker != NULL && old.size < cp.size) ?
			    " (the broker's proof verifies" : "",
			    np > 0 || (o.broker != NULL && old.size < cp.size) ?
			    (a.since_ok == 1 ? ", and the first entries give the "
			    "saved root)" : ")") : a.since_ok == 1 ?
			    " (the first entries give the saved root)" :
			    " (same size and root)");
		else if (consistent == 0)
			snprintf(cons_text, sizeof(cons_text), "NOT consistent "
			    "with the saved checkpoint of size %" PRIu64, old.size);
		else
			snprintf(cons_text, sizeof(cons_text), "not established "
			    "(entries missing)");
		consistency = cons_text;
	}

	printf("entries: %" PRIu64 " (party %" PRIu64 ", agreement %" PRIu64
	    ", consent-grant %" PRIu64 ", consent-revoke %" PRIu64 ", token %"
	    PRIu64 ")\n", a.entries, a.by_type[LE_PARTY],
	    a.by_type[LE_AGREEMENT], a.by_type[LE_CONSENT_GRANT],
	    a.by_type[LE_CONSENT_REVOKE], a.by_type[LE_TOKEN]);
	printf("tokens checked: %" PRIu64 " (consent-based %" PRIu64
	    ", statutory %" PRIu64 ")\n", a.tokens, a.tokens_consent,
	    a.tokens_statute);
	printf("root: %s\n", missing ? "not checked (entries missing)" :
	    root_ok ? "recomputed from every entry, matches the checkpoint" :
	    "MISMATCH");
	printf("consistency: %s\n", consistency);
	printf("warnings: %" PRIu64 "\n", a.warnings);
	if (o.save != NULL && !missing && root_ok && consistent != 0) {
		if (save_note(o.save, note, len) != 0)
			goto out;
		printf("saved: the checkpoint of size %" PRIu64 " to %s\n",
		    cp.size, o.save);
	} else if (o.save != NULL)
		printf("saved: nothing (the log's integrity does not hold)\n");
	rc = a.violations > 0 ? AUDIT_BAD : AUDIT_OK;
out:
	if (rc == AUDIT_OK && !o.help)
		printf("result: OK, every check holds\n");
	else if (rc == AUDIT_BAD)
		printf("result: FAILED, %" PRIu64 " finding%s\n", a.violations,
		    a.violations == 1 ? "" : "s");
	free(note);
	free(saved);
	free(s.buf);
	if (batch != NULL)
		free(batch->buf);
	free(batch);
	export_close(&x);
	http_close(&h);
	audit_free(&a);
	return rc;
}

/* Prints the token entry e (index i). */
static void
print_token(uint64_t i, const struct le_entry *e)
{
	char b[6][AUDIT_TEXT_SHOWN], t1[32], t2[32];

	printf("entry %" PRIu64 ": token jti %s issued %s\n", i,
	    field_text(e, T_JTI, b[0], sizeof(b[0])), time_text(e->time, t1));
	printf("  agreement %s version %" PRIu32 ", purpose %s\n",
	    field_text(e, T_AGREEMENT, b[1], sizeof(b[1])),
	    le_has(e, T_VERSION) ? get_u32(e->v[T_VERSION]) : 0,
	    field_text(e, T_PURPOSE, b[2], sizeof(b[2])));
	printf("  client %s, provider %s, consent %s\n",
	    field_text(e, T_CLIENT, b[3], sizeof(b[3])),
	    field_text(e, T_PROVIDER, b[4], sizeof(b[4])),
	    field_text(e, T_CONSENT, b[5], sizeof(b[5])));
	printf("  fields %s\n", field_text(e, T_FIELDS, b[0], sizeof(b[0])));
	printf("  expires %s\n", le_has(e, T_EXPIRES) ?
	    time_text((int64_t)get_u64(e->v[T_EXPIRES]), t2) : "-");
}

static int
cmd_prove(int argc, char **argv)
{
	static const char allowed[] = { O_BROKER, O_CERT, O_KEY, O_CA, O_VKEY,
	    O_JTI, 0 };
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH], leaf[MERKLE_HASH];
	unsigned char ebuf[LE_MAX + 3];
	char *note = NULL, *esc = NULL, msg[600], path[512], b64[48], err[128];
	char jb[AUDIT_TEXT_SHOWN];
	struct checkpoint cp;
	struct note_vkey vk;
	struct le_entry e;
	struct http h;
	struct opts o;
	json_t *j = NULL, *arr, *it;
	const char *str;
	size_t len, k, np = 0, en;
	uint64_t index = 0;
	int64_t deadline;
	long st;
	int rc = AUDIT_ERR;

	memset(&h, 0, sizeof(h));
	if (parse_opts(argc, argv, allowed, prove_help, &o) != 0)
		return AUDIT_ERR;
	if (o.help) {
		printf("%s", prove_help);
		return AUDIT_OK;
	}
	if (o.broker == NULL || o.cert == NULL || o.key == NULL ||
	    o.vkey == NULL || o.jti == NULL || o.jti[0] == '\0')
		return usage_error(argv[0], "give --broker, --cert, --key, "
		    "--vkey and --jti", prove_help);
	shown((const unsigned char *)o.jti, strlen(o.jti), jb, sizeof(jb));
	if (load_vkey(o.vkey, &vk) != 0 ||
	    http_open(&h, o.broker, o.cert, o.key, o.ca) != 0)
		goto out;
	if ((esc = curl_easy_escape(h.c, o.jti, (int)strlen(o.jti))) == NULL)
		goto out;
	/* A new token is in the log before a checkpoint covers it: the
	 * broker says 409 until one does. */
	deadline = mono_us() + (int64_t)AUDIT_PROVE_WAIT_MS * 1000;
	for (;;) {
		free(note);
		if (fetch_checkpoint(&h, &note, &len) != 0)
			goto out;
		if (check_note("checkpoint", note, len, &vk, &cp, msg,
		    sizeof(msg)) != 0) {
			printf("%s\n", msg);
			rc = AUDIT_BAD;
			goto out;
		}
		if (snprintf(path, sizeof(path), "/v1/log/proof/inclusion?jti=%s"
		    "&size=%" PRIu64, esc, cp.size) >= (int)sizeof(path)) {
			fprintf(stderr, "consent-audit: --jti is too long\n");
			goto out;
		}
		st = http_get(&h, path);
		if (st == 0)
			goto out;
		if (st == 200)
			break;
		if (st == 409 && mono_us() < deadline) {
			sleep_ms(AUDIT_PROVE_STEP_MS);
			continue;
		}
		if (st == 404 || st == 409) {
			printf("token jti %s: %s\n", jb, st == 404 ?
			    "the broker has no token with this jti in its log" :
			    "no signed checkpoint covers it yet");
			rc = AUDIT_BAD;
			goto out;
		}
		http_complain(&h, path, st);
		goto out;
	}
	j = json_loadb(h.body, h.len, 0, NULL);
	arr = json_object_get(j, "hashes");
	if (!json_is_integer(json_object_get(j, "index")) ||
	    json_integer_value(json_object_get(j, "index")) < 0 ||
	    !json_is_integer(json_object_get(j, "size")) ||
	    (uint64_t)json_integer_value(json_object_get(j, "size")) !=
	    cp.size || !json_is_array(arr) ||
	    json_array_size(arr) > MERKLE_MAX_PROOF) {
		fprintf(stderr, "consent-audit: GET %s: not an inclusion proof "
		    "for size %" PRIu64 "\n", path, cp.size);
		goto out;
	}
	index = (uint64_t)json_integer_value(json_object_get(j, "index"));
	json_array_foreach(arr, k, it) {
		str = json_string_value(it);
		if (str == NULL || hash_b64(str, proof[k]) != 0) {
			fprintf(stderr, "consent-audit: GET %s: hash %zu is not "
			    "base64 of 32 bytes\n", path, k);
			goto out;
		}
	}
	np = json_array_size(arr);
	json_decref(j);
	j = NULL;

	snprintf(path, sizeof(path), "/v1/log/entries?start=%" PRIu64
	    "&end=%" PRIu64, index, index + 1);
	if ((st = http_get(&h, path)) == 0)
		goto out;
	if (st != 200) {
		http_complain(&h, path, st);
		goto out;
	}
	j = json_loadb(h.body, h.len, 0, NULL);
	it = json_array_get(json_object_get(j, "entries"), 0);
	str = json_string_value(json_object_get(it, "data"));
	if (str == NULL || !json_is_integer(json_object_get(it, "index")) ||
	    (uint64_t)json_integer_value(json_object_get(it, "index")) !=
	    index) {
		printf("entry %" PRIu64 " missing: the broker did not return "
		    "it\n", index);
		rc = AUDIT_BAD;
		goto out;
	}
	if (b64_decoded_max(strlen(str)) > sizeof(ebuf) ||
	    b64_decode(str, strlen(str), ebuf, &en) != 0) {
		printf("entry %" PRIu64 ": the broker's data is not base64 of an "
		    "entry\n", index);
		rc = AUDIT_BAD;
		goto out;
	}
	if (le_decode(ebuf, en, &e, err, sizeof(err)) != 0) {
		printf("entry %" PRIu64 ": does not decode: %s\n", index, err);
		rc = AUDIT_BAD;
		goto out;
	}
	if (e.type != LE_TOKEN || !le_str_eq(&e, T_JTI, o.jti)) {
		printf("entry %" PRIu64 " is not the token with jti %s (it is a "
		    "%s entry)\n", index, jb, le_type_name(e.type));
		rc = AUDIT_BAD;
		goto out;
	}
	print_token(index, &e);
	root_b64(cp.root, b64);
	printf("checkpoint: size %" PRIu64 ", root %s\n", cp.size, b64);
	merkle_leaf_hash(ebuf, en, leaf);
	if (merkle_verify_inclusion(index, cp.size, leaf,
	    (const unsigned char (*)[MERKLE_HASH])proof, np, cp.root) != 0) {
		printf("the inclusion proof of entry %" PRIu64 " (%zu hashes) "
		    "does not lead to the checkpoint's root\n", index, np);
		rc = AUDIT_BAD;
		goto out;
	}
	printf("inclusion proof: %zu hashes, verifies\n", np);
	printf("included\n");
	rc = AUDIT_OK;
out:
	json_decref(j);
	if (esc != NULL)
		curl_free(esc);
	free(note);
	http_close(&h);
	return rc;
}

#ifndef AUDIT_MAIN
#define AUDIT_MAIN main
#endif

int AUDIT_MAIN(int argc, char **argv);

int
AUDIT_MAIN(int argc, char **argv)
{
	int rc;

	if (argc < 2) {
		fprintf(stderr, "%s", usage_text);
		return AUDIT_ERR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		printf("%s", usage_text);
		return AUDIT_OK;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "consent-audit: cannot start libcurl\n");
		return AUDIT_ERR;
	}
	if (strcmp(argv[1], "checkpoint") == 0)
		rc = cmd_checkpoint(argc - 1, argv + 1);
	else if (strcmp(argv[1], "verify") == 0)
		rc = cmd_verify(argc - 1, argv + 1);
	else if (strcmp(argv[1], "prove") == 0)
		rc = cmd_prove(argc - 1, argv + 1);
	else {
		fprintf(stderr, "consent-audit: unknown command '%s'\n\n%s",
		    argv[1], usage_text);
		rc = AUDIT_ERR;
	}
	fflush(stdout);
	curl_global_cleanup();
	return rc;
}
