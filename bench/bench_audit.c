/*
 * Audit log benchmark, one thread, in one run:
 *
 *   sha256_32_200B      raw SHA-256 of 32..200-byte inputs (the baseline)
 *   tlog_append_g256    tlog_append into a temporary LMDB store, in
 *                       durable write transactions of 256 entries
 *   audit_root          the auditor's root recomputation (leaf hash and
 *                       frontier) over synthetic entries
 *   audit_replay        its replay alone (strict decode and the rules)
 *   audit_verify        both, as consent-audit verify does them
 *
 *   bench_audit [out.json]
 *
 * Environment: BENCH_SECONDS (default 2) bounds each line; BENCH_ENTRIES
 * (default 1000000) is the number of synthetic entries the audit lines go
 * through (one agreement, then per subject a consent grant and two tokens).
 * The entries are built in chunks outside the timed part, and the chunks
 * are larger than the caches, so the auditor reads them from memory as it
 * would a mapped export. CPU-bound lines are timed in the thread's CPU
 * time, the appends (which wait for the disk) in wall-clock time; the
 * SHA-256 baseline also runs in short slices between the other lines'
 * steps, so it sees the same machine as they do.
 *
 * Each line is printed with its ratio to the SHA-256 rate. Results are
 * added, as {"name", "ops_per_s", "ratio", "baseline"} objects, to the JSON
 * array in out.json, or in build/bench.json when no path is given and that
 * file exists (entries of the same names are replaced).
 *
 * The engine measured is consent-audit's own: this file includes
 * client/audit.c with its main renamed, so no second copy of it can drift.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#define AUDIT_MAIN audit_main
/* The tool's own code, so the bench measures exactly what auditors run. */
#include "client/audit.c" /* NOLINT(bugprone-suspicious-include) */

#include <ftw.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "store.h"
#include "tlog.h"

#define BENCH_ORIGIN "bench.example/log"
#define GROUP 256                  /* entries per durable transaction */
#define CHUNK 65536                /* synthetic entries built at a time */
#define TARGET_VERIFY 1000000.0    /* entries/s the auditor should reach */
#define DEFAULT_JSON "build/bench.json"

struct line {
	const char *name;
	const char *unit;
	int baseline;
	double ops, secs, bytes;
};

static void die(const char *what) __attribute__((noreturn));

static void
die(const char *what)
{
	fprintf(stderr, "bench_audit: %s\n", what);
	exit(1);
}

static double
now_s(void)
{
	return (double)mono_us() / 1e6;
}

/*
 * CPU time of this thread: the CPU-bound lines (SHA-256, the auditor) are
 * timed in it, so that other processes taking turns on the machine do not
 * count against them; the durable appends, which wait on the disk, are
 * timed in wall-clock time.
 */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
rate(const struct line *l)
{
	return l->secs > 0 ? l->ops / l->secs : 0;
}

/* ---- SHA-256 ------------------------------------------------------------ */

/*
 * SHA-256 of 32..200-byte inputs for `seconds`, added to l. Called in
 * short slices between the other lines' steps too, so that the baseline
 * sees the same machine load as what it is compared with.
 */
static void
sha_slice(struct line *l, double seconds)
{
	static unsigned char in[256];
	unsigned char md[32];
	double t0 = cpu_s(), t;
	size_t i, len, total = 0;
	SHA256_CTX c;

	if (in[2] == 0 && RAND_bytes(in, sizeof(in)) != 1)
		die("RAND_bytes");
	in[2] |= 1;
	do {
		for (i = 0; i < 4096; i++) {
			len = 32 + (i * 53) % 169;        /* 32..200 */
			in[0] = (unsigned char)i;
			SHA256_Init(&c);
			SHA256_Update(&c, in, len);
			SHA256_Final(md, &c);
			in[1] ^= md[0];
			total += len;
		}
		l->ops += 4096;
		t = cpu_s() - t0;
	} while (t < seconds);
	l->secs += t;
	l->bytes += (double)total;      /* total bytes; per op at the end */
}

/* ---- synthetic entries ----------------------------------------------------- */

static const unsigned char agr_hash[32] = { 0x4b, 0xfe, 0xce, 0x44 };

struct gen {
	uint64_t next;                  /* entries made so far */
	int64_t t;
	unsigned char *buf;             /* a chunk: 4-byte length, bytes */
	size_t len, cap;
	size_t off[CHUNK];
	size_t n[CHUNK];
	size_t count;
};

static void
gen_put(struct gen *g, struct le_buf *e)
{
	const unsigned char *d;
	size_t n;

	if (le_end(e, &d, &n) != 0)
		die("entry builder failed");
	if (g->len + n > g->cap) {
		g->cap = (g->len + n) * 2;
		unsigned char *nb = realloc(g->buf, g->cap);

		if (nb == NULL)
			die("out of memory");
		g->buf = nb;
	}
	if (g->buf == NULL)
		die("out of memory");
	memcpy(g->buf + g->len, d, n);
	g->off[g->count] = g->len;
	g->n[g->count] = n;
	g->len += n;
	g->count++;
	g->next++;
}

static void
pseudonym(uint64_t k, unsigned char out[32])
{
	unsigned char in[8];
	int i;

	for (i = 0; i < 8; i++)
		in[i] = (unsigned char)(k >> (8 * i));
	SHA256(in, sizeof(in), out);
}

/* The entry with index i of the synthetic log. */
static void
gen_entry(struct gen *g, uint64_t i)
{
	unsigned char subj[32], ch[32];
	char cid[48], jti[32];
	struct le_buf e;
	uint64_t k;

	if (i % 16 == 0)
		g->t++;
	if (i == 0) {
		le_begin(&e, LE_AGREEMENT, g->t);
		le_str(&e, T_EVENT, "load");
		le_str(&e, T_ACTOR, "consentctl-init");
		le_str(&e, T_AGREEMENT, "smartstart-ird-number");
		le_u32(&e, T_VERSION, 1);
		le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
		le_str(&e, T_STATE, "active");
		le_str(&e, T_BASIS, "consent");
		le_u32(&e, T_LIMIT, 5);
		gen_put(g, &e);
		return;
	}
	/* then per subject k: a grant and two tokens */
	k = (i - 1) / 3;
	pseudonym(k, subj);
	snprintf(cid, sizeof(cid), "cns_%016" PRIx64 "%016" PRIx64, k,
	    (uint64_t)(k * 0x9e3779b97f4a7c15ULL));
	if ((i - 1) % 3 == 0) {
		le_begin(&e, LE_CONSENT_GRANT, g->t);
		le_str(&e, T_EVENT, "grant");
		le_str(&e, T_ACTOR, "citizen");
		le_str(&e, T_AGREEMENT, "smartstart-ird-number");
		le_u32(&e, T_VERSION, 1);
		le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
		le_str(&e, T_CONSENT, cid);
		le_bytes(&e, T_SUBJECT, subj, 32);
		le_str(&e, T_FIELDS, "child.given_names,child.family_name,"
		    "child.birth_date,child.sex,child.birth_place,"
		    "parent.given_names,parent.family_name");
		le_u64(&e, T_EXPIRES, (uint64_t)g->t + 90 * 86400);
		gen_put(g, &e);
		return;
	}
	memset(ch, (int)(i & 0xff), sizeof(ch));
	snprintf(jti, sizeof(jti), "%022" PRIx64, (uint64_t)(i * 0x2545f4914f6cdd1dULL));
	le_begin(&e, LE_TOKEN, g->t);
	le_str(&e, T_EVENT, "issue");
	le_str(&e, T_ACTOR, "ird");
	le_str(&e, T_AGREEMENT, "smartstart-ird-number");
	le_u32(&e, T_VERSION, 1);
	le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
	le_str(&e, T_CONSENT, cid);
	le_bytes(&e, T_SUBJECT, subj, 32);
	le_str(&e, T_FIELDS, (i - 1) % 3 == 1 ? "child.given_names,"
	    "child.birth_date" : "child.given_names,child.family_name,"
	    "parent.given_names");
	le_u64(&e, T_EXPIRES, (uint64_t)g->t + 300);
	le_str(&e, T_JTI, jti);
	le_bytes(&e, T_CLAIMS_HASH, ch, 32);
	le_str(&e, T_CLIENT, "ird");
	le_str(&e, T_PROVIDER, "dia");
	le_str(&e, T_PURPOSE, "issue-ird-number");
	gen_put(g, &e);
}

/* Builds the next chunk of up to CHUNK entries (of total). */
static void
gen_chunk(struct gen *g, uint64_t total)
{
	g->len = 0;
	g->count = 0;
	while (g->count < CHUNK && g->next < total)
		gen_entry(g, g->next);
}

enum mode { M_ROOT, M_REPLAY, M_VERIFY };

/* One pass over total synthetic entries; seconds spent in the engine. */
static double
audit_pass(enum mode m, uint64_t total, struct gen *g, uint64_t *bytes,
    struct line *sha)
{
	unsigned char leaf[MERKLE_HASH], root[MERKLE_HASH];
	struct audit a;
	struct abatch *batch = calloc(1, sizeof(*batch));
	double t, spent = 0;
	uint64_t base = 0;
	size_t i;

	g->next = 0;
	g->t = 1795000000;
	if (batch == NULL || audit_init(&a, stderr) != 0)
		die("out of memory");
	while (g->next < total) {
		gen_chunk(g, total);
		t = cpu_s();
		switch (m) {
		case M_ROOT:
			for (i = 0; i < g->count; i++) {
				merkle_leaf_hash(g->buf + g->off[i], g->n[i], leaf);
				merkle_frontier_append(&a.f, leaf, NULL, NULL);
			}
			break;
		case M_REPLAY:
			for (i = 0; i < g->count; i++)
				audit_replay(&a, base + i, g->buf + g->off[i],
				    g->n[i]);
			break;
		case M_VERIFY:
			/* As consent-audit verify runs: batches on two threads,
			 * so this line is timed by the wall clock. */
			t = (double)mono_us() / 1e6;
			for (i = 0; i < g->count; i++) {
				if (abatch_add(batch, base + i, g->buf + g->off[i],
				    g->n[i]) != 0)
					die("out of memory");
				if (batch->count == AUDIT_BATCH)
					abatch_run(&a, batch);
			}
			abatch_run(&a, batch);
			spent += (double)mono_us() / 1e6 - t;
			t = -1;
			break;
		}
		if (t >= 0)
			spent += cpu_s() - t;
		*bytes += g->len;
		base += g->count;
		sha_slice(sha, 0.005);
	}
	t = cpu_s();
	merkle_frontier_root(&a.f, root);
	spent += cpu_s() - t;
	if (a.oom || a.violations != 0 || a.warnings != 0)
		die("the synthetic log did not verify cleanly");
	/* entries 1.. go grant, token, token: of m = total - 1, all but
	 * ceil(m / 3) are tokens */
	if (m != M_ROOT && a.tokens != (total - 1) - (total - 1 + 2) / 3)
		die("the replay did not check every token");
	audit_free(&a);
	free(batch->buf);
	free(batch);
	return spent;
}

static void
bench_audit_line(struct line *l, enum mode m, uint64_t total,
    double seconds, struct gen *g, struct line *sha)
{
	uint64_t bytes = 0;

	do {
		l->secs += audit_pass(m, total, g, &bytes, sha);
		l->ops += (double)total;
	} while (l->secs < seconds);
	l->bytes = (double)bytes / l->ops;
}

/* ---- tlog appends ------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
bench_append(struct line *l, double seconds, struct line *sha)
{
	unsigned char secret[TLOG_SECRET_LEN];
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX], err[256];
	struct store *s = NULL;
	struct store_txn *txn;
	struct tlog *log = NULL;
	EVP_PKEY *key;
	struct gen *g = calloc(1, sizeof(*g));
	uint64_t index, next = 1;
	double t0, t;

	size_t i;

	if (g == NULL)
		die("out of memory");
	snprintf(dir, sizeof(dir), "%s/bench-audit-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL)
		die("mkdtemp");
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL || RAND_bytes(secret, sizeof(secret)) != 1)
		die("key generation");
	s = store_open_lmdb(dir, (size_t)4 << 30, 1, err, sizeof(err));
	if (s == NULL)
		die(err);
	log = tlog_open(s, BENCH_ORIGIN, key, secret, err, sizeof(err));
	if (log == NULL)
		die(err);
	g->t = 1795000000;
	t0 = now_s();
	do {
		/* the group's entries, built before its transaction */
		g->len = 0;
		g->count = 0;
		for (i = 0; i < GROUP; i++)
			gen_entry(g, next++);
		t = now_s();
		if (store_begin(s, 1, &txn) != STORE_OK)
			die("store_begin");
		for (i = 0; i < GROUP; i++)
			if (tlog_append(log, txn, g->buf + g->off[i], g->n[i],
			    &index) != STORE_OK)
				die("tlog_append");
		if (store_commit(txn) != STORE_OK)
			die("store_commit");
		tlog_committed(log);
		l->ops += GROUP;
		l->secs += now_s() - t;
		sha_slice(sha, 0.002);
	} while (now_s() - t0 < seconds * 1.5);
	if (tlog_maybe_checkpoint(log, 0, 1, NULL) != 0)
		die("checkpoint");
	tlog_free(log);
	store_close(s);
	EVP_PKEY_free(key);
	free(g->buf);
	free(g);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- results ---------------------------------------------------------------- */

static int
write_json(const char *path, const struct line *lines, int n, double base)
{
	json_t *arr = NULL, *keep, *o;
	json_error_t jerr;
	size_t i;
	char *s;
	int k, rc, mine;

	if (access(path, F_OK) == 0) {
		arr = json_load_file(path, 0, &jerr);
		if (!json_is_array(arr)) {
			fprintf(stderr, "bench_audit: %s is not a JSON array; "
			    "not written\n", path);
			json_decref(arr);
			return -1;
		}
	} else
		arr = json_array();
	keep = json_array();
	if (arr == NULL || keep == NULL)
		return -1;
	json_array_foreach(arr, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));

		for (k = 0, mine = 0; k < n && name != NULL; k++)
			if (strcmp(name, lines[k].name) == 0)
				mine = 1;
		if (!mine)
			json_array_append(keep, o);
	}
	json_decref(arr);
	for (k = 0; k < n; k++) {
		o = json_pack("{s:s, s:f, s:f, s:b}", "name", lines[k].name,
		    "ops_per_s", rate(&lines[k]), "ratio", rate(&lines[k]) / base,
		    "baseline", lines[k].baseline);
		if (o != NULL && lines[k].baseline)
			json_object_set_new(o, "mb_per_s", json_real(rate(&lines[k]) *
			    lines[k].bytes / 1e6));
		if (o == NULL || json_array_append_new(keep, o) != 0) {
			json_decref(keep);
			return -1;
		}
	}
	s = json_dumps(keep, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	json_decref(keep);
	if (s == NULL)
		return -1;
	rc = fsu_write_file(path, s, strlen(s), 0644, 0);
	free(s);
	return rc;
}

int
main(int argc, char **argv)
{
	struct line lines[] = {
		{ "sha256_32_200B", "hashes/s", 1, 0, 0, 0 },
		{ "tlog_append_g256", "appends/s", 0, 0, 0, 0 },
		{ "audit_root", "entries/s", 0, 0, 0, 0 },
		{ "audit_replay", "entries/s", 0, 0, 0, 0 },
		{ "audit_verify", "entries/s", 0, 0, 0, 0 },
	};
	const int n = (int)(sizeof(lines) / sizeof(lines[0]));
	const char *env, *out = argc > 1 ? argv[1] : NULL;
	double seconds = 2, base;
	uint64_t total = 1000000;
	struct gen *g;
	char *end;
	int k;

	if ((env = getenv("BENCH_SECONDS")) != NULL) {
		seconds = strtod(env, &end);
		if (*end != '\0' || !(seconds >= 0.1 && seconds <= 600))
			die("BENCH_SECONDS must be 0.1..600");
	}
	if ((env = getenv("BENCH_ENTRIES")) != NULL) {
		errno = 0;
		total = strtoull(env, &end, 10);
		if (*end != '\0' || errno != 0 || total < 4 ||
		    total > 1000000000)
			die("BENCH_ENTRIES must be 4..1000000000");
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		die("out of memory");
	sha_slice(&lines[0], seconds / 4);
	bench_append(&lines[1], seconds, &lines[0]);
	bench_audit_line(&lines[2], M_ROOT, total, seconds, g, &lines[0]);
	bench_audit_line(&lines[3], M_REPLAY, total, seconds, g, &lines[0]);
	bench_audit_line(&lines[4], M_VERIFY, total, seconds, g, &lines[0]);
	lines[0].bytes /= lines[0].ops;
	free(g->buf);
	free(g);

	base = rate(&lines[0]);
	printf("%-20s %14s %-10s %8s  %s\n", "line", "rate", "", "x sha256",
	    "");
	for (k = 0; k < n; k++) {
		printf("%-20s %14.0f %-10s %8.3f", lines[k].name, rate(&lines[k]),
		    lines[k].unit, rate(&lines[k]) / base);
		if (lines[k].baseline)
			printf("  (baseline, %.0f MB/s)", rate(&lines[k]) *
			    lines[k].bytes / 1e6);
		else if (k >= 2)
			printf("  (%" PRIu64 " entries of %.0f bytes on average)",
			    total, lines[k].bytes);
		else
			printf("  (durable commits of %d)", GROUP);
		printf("\n");
	}
	printf("audit_verify %s the target of %.0f entries/s\n",
	    rate(&lines[4]) >= TARGET_VERIFY ? "meets" : "MISSES",
	    TARGET_VERIFY);
	if (out == NULL && access(DEFAULT_JSON, F_OK) == 0)
		out = DEFAULT_JSON;
	if (out != NULL) {
		if (write_json(out, lines, n, base) != 0)
			die("cannot write the JSON results");
		printf("results added to %s\n", out);
	}
	return 0;
}
