/*
 * Crash durability: consentd is killed with SIGKILL at random moments under
 * mixed load and restarted on the same data directory; after every restart
 * each acknowledged write is there as it was acknowledged, nothing
 * unacknowledged is half there, LMDB opens clean and the audit log is
 * consistent with the checkpoint saved before the kill. A second test fills
 * a small store: writes are refused with 503 (rule "store"), nothing
 * committed is lost, and the broker recovers once the map is larger.
 *
 * Environment (all optional):
 *   DURABILITY_KILLS     kills in the first test (1..1000, default 20)
 *   DURABILITY_SEED      the run's random seed (printed; replays a run's
 *                        choices, though not its timing)
 *   DURABILITY_SUBJECTS  citizens in the load (8..256, default 48)
 *   DURABILITY_BUDGET_S  wall-clock bound of the kill test (default 150)
 * and the harness's CB_BUILD and CB_AGREEMENTS. Run from the repository
 * root; servers listen on 127.0.0.1 only and none outlives the run.
 *
 * The load is planned in waves from what the test knows (an operation
 * depends on earlier answers: a revoke needs a consent id), each wave sent
 * over DUR_CONNS connections with curl multi (it_batch), while a killer
 * thread sends SIGKILL at a random moment. What was answered 2xx is
 * acknowledged and must survive; what got no answer is "unsure": the check
 * after the restart learns whether it happened and insists that it is
 * either wholly there or wholly absent.
 */
#include "tests/integration/harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DUR_DEFAULT_KILLS 20
#define DUR_MAX_KILLS 1000
#define DUR_DEFAULT_SUBJECTS 48
#define DUR_MIN_SUBJECTS 8
#define DUR_MAX_SUBJECTS 256
#define DUR_DEFAULT_BUDGET_S 150
#define DUR_MAX_BUDGET_S 3600
#define DUR_CONNS 6                 /* concurrent connections of the load */
#define DUR_WAVE_MAX 24             /* operations in one wave */
#define DUR_WAVE_TIMEOUT_MS 20000
#define DUR_KILL_MIN_MS 100         /* kill delay after the load starts */
#define DUR_KILL_MAX_MS 1500
#define DUR_NAGR 3                  /* example agreements citizens consent to */
#define DUR_MAX_CONSENTS 24         /* per subject, over all generations */
#define DUR_TOKENS_PER_DAY 5        /* smartstart-ird-number's limit */
#define DUR_MAX_TOKENS (DUR_MAX_SUBJECTS * DUR_TOKENS_PER_DAY)
#define DUR_MAX_TEST_AGR 48         /* agreements the load submits */
#define DUR_NAPPROVERS 3
#define DUR_CMD_TIMEOUT_MS 60000    /* consent-audit, mdb_stat, mdb_dump */
#define DUR_TOKEN_EXP_MARGIN_S 10   /* tokens this close to exp: not checked */

/* Full-store test. */
#define FULL_MAP_MB "map_size_mb=16"   /* the least config.c allows */
#define FULL_BIG_MAP_MB "map_size_mb=64"
#define FULL_CONNS 4
#define FULL_WAVE 8
#define FULL_MAX_BIG 2000              /* bounds on each filling phase */
#define FULL_MAX_SMALL 4000
#define FULL_MAX_GRANTS 2000
#define FULL_TOKEN_SUBJECTS 4
#define FULL_MAX_TOKENS (FULL_TOKEN_SUBJECTS * DUR_TOKENS_PER_DAY + 1)
#define FULL_FILL_BUDGET_MS 90000
#define FULL_BIG_FIELDS 120
#define FULL_BIG_DESC 440              /* bytes of each big field's text */
#define FULL_MAX_AGR (FULL_MAX_BIG + FULL_MAX_SMALL + 16)

static const char *const agr_ids[DUR_NAGR] = {
	"smartstart-ird-number",       /* tokens are issued under this one */
	"msd-wcc-rates-rebate",
	"msd-community-services-card",
};
static const char *const approvers[DUR_NAPPROVERS] = { "dia", "ird", "msd" };
static const char *const token_fields[] = { "child.given_names",
	"child.birth_date", NULL };
static const char *const consent_keys[] = { "id", "subject", "agreement",
	"agreement_version", "agreement_hash", "fields", "granted_at",
	"expires_at", "revoked_at", "state", NULL };

enum opk {
	OP_CHECKPOINT, OP_GRANT, OP_REVOKE, OP_TOKEN, OP_SUBMIT, OP_APPROVE,
	OP_SUSPEND, OP_RESUME, OP__N
};
static const char *const op_names[OP__N] = { "checkpoint", "grant",
	"revoke", "token", "submit", "approve", "suspend", "resume" };

enum cst { CS_ACTIVE, CS_REVOKE_UNSURE, CS_REVOKED };

struct dconsent {
	char id[64];
	int agr;
	enum cst st;
	json_t *rec;              /* the acknowledged (or learned) record */
};

struct dsubject {
	char name[40];
	const char *bearer;       /* borrowed from the harness's cache */
	struct dconsent c[DUR_MAX_CONSENTS];
	int nc;
	int grant_unsure[DUR_NAGR];
	int token_attempts;       /* sent, answered or not: all may count */
	int busy;                 /* in the current wave */
	int revoking;             /* consent index revoked in this wave, or -1 */
};

struct dtoken {
	char *jwt;
	int subj;
	char consent_id[64];
	int64_t exp;
};

enum ast { AS_DRAFT, AS_ACTIVE, AS_SUSPENDED, AS_OTHER };

struct dagr {
	char id[64];
	json_t *doc;
	int known;                /* its submit was acknowledged or learned */
	int submit_unsure;
	int lost;                 /* an unanswered submit that did not commit */
	char hash[80];
	enum ast st;
	unsigned appr;            /* bit i: approvers[i] approved */
	int unsure;               /* a lifecycle call got no answer: */
	enum ast alt_st;          /* the state and approvals had it committed */
	unsigned alt_appr;
	int busy;
};

struct dstats {
	long sent[OP__N], acked[OP__N], unsure[OP__N], refused[OP__N];
	long committed_unacked, lost_unacked;
	long consents_checked, tokens_checked, tokens_expired;
	long agreements_checked, audit_ok, mdb_ok, waves;
	int kills, audit_skipped;
	int64_t restart_ms_total, restart_ms_max, load_ms;
};

struct dur {
	struct it_server *s;
	uint64_t rng;
	int kills, nsubj;
	int64_t budget_ms;
	/* the killer thread */
	pthread_t killer;
	int killer_running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int cancel, fired;
	pid_t victim;
	long delay_ms;
	/* what the test knows */
	json_t *fields[DUR_NAGR];     /* name -> optional (bool) */
	struct dsubject *subj;
	struct dtoken *tokens;
	size_t ntokens;
	struct dagr agr[DUR_MAX_TEST_AGR];
	int nagr;
	int cycle;
	/* audit and LMDB checks */
	char audit[PATH_MAX];
	int have_audit;
	char vkey[512];
	char cpfile[PATH_MAX];
	int have_cp;
	char mdb_stat[PATH_MAX], mdb_dump[PATH_MAX];
	FILE *journal;                /* every operation sent and its answer */
	char journal_path[PATH_MAX];
	struct dstats st;
};

/* One operation of a wave; what its request borrows lives here. */
struct op {
	enum opk k;
	int subj, agr, ci, ag, party;
	char path[192];
	char *body;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t
rnd(struct dur *d)
{
	/* xorshift64*: reproducible from the printed seed. */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * 2685821657736338717ULL;
}

static int
rnd_below(struct dur *d, int n)
{
	return n <= 1 ? 0 : (int)(rnd(d) % (uint64_t)n);
}

/* An integer from the environment within [lo, hi], else def. */
static long
env_long(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "durability: %s=%s is not in %ld..%ld; using "
		    "%ld\n", name, v, lo, hi, def);
		return def;
	}
	return n;
}

static int64_t
unix_now(void)
{
	return (int64_t)time(NULL);
}

/* The path of an executable named name on $PATH into out; 0 or -1. */
static int
find_in_path(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p, *colon;
	int n;

	if (path == NULL)
		path = "/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *colon != '\0' ? colon + 1 : colon) {
		colon = strchr(p, ':');
		if (colon == NULL)
			colon = p + strlen(p);
		n = snprintf(out, outlen, "%.*s/%s", (int)(colon - p), p, name);
		if (n > 0 && (size_t)n < outlen && access(out, X_OK) == 0)
			return 0;
	}
	out[0] = '\0';
	return -1;
}

/* Writes len bytes of text to path; fails the test when it cannot. */
static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* Equal JSON values, both absent counting as equal. */
static int
same_json(const json_t *a, const json_t *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return json_equal(a, b);
}

/* The consent_keys members of rec (a new object). */
static json_t *
consent_subset(const json_t *rec)
{
	json_t *o = json_object(), *v;
	size_t i;

	assert_non_null(o);
	for (i = 0; consent_keys[i] != NULL; i++) {
		v = json_object_get(rec, consent_keys[i]);
		if (v != NULL)
			json_object_set_new(o, consent_keys[i], json_deep_copy(v));
	}
	return o;
}

/* Fails unless got carries every member of want with the same value. */
static void
assert_same_consent(const json_t *want, const json_t *got, const char *ctx)
{
	size_t i;

	for (i = 0; consent_keys[i] != NULL; i++) {
		const json_t *a = json_object_get(want, consent_keys[i]);
		const json_t *b = json_object_get(got, consent_keys[i]);

		if (!same_json(a, b)) {
			char *wa = json_dumps(want, JSON_COMPACT),
			    *ga = json_dumps(got, JSON_COMPACT);

			fail_msg("%s: consent member \"%s\" differs after restart;"
			    "\n acknowledged: %s\n now:          %s", ctx,
			    consent_keys[i], wa != NULL ? wa : "?",
			    ga != NULL ? ga : "?");
		}
	}
}

/* A whole consent record: every member a grant sets, of the right kind. */
static void
assert_whole_consent(const json_t *c, const char *subject, const char *ctx)
{
	const json_t *f = json_object_get(c, "fields");
	const char *id = it_jstr(c, "id"), *h = it_jstr(c, "agreement_hash");
	size_t i;

	if (strncmp(id, "cns_", 4) != 0 || strlen(id) < 12 ||
	    strcmp(it_jstr(c, "subject"), subject) != 0 ||
	    it_jint(c, "agreement_version") < 1 || strlen(h) != 64 ||
	    strspn(h, "0123456789abcdef") != 64 || !json_is_array(f) ||
	    json_array_size(f) == 0 ||
	    strlen(it_jstr(c, "granted_at")) != 20 ||
	    strcmp(it_jstr(c, "state"), "active") != 0) {
		char *t = json_dumps(c, JSON_COMPACT);

		fail_msg("%s: a consent nobody was told about is not whole: %s",
		    ctx, t != NULL ? t : "?");
	}
	for (i = 0; i < json_array_size(f); i++)
		if (!json_is_string(json_array_get(f, i)))
			fail_msg("%s: consent %s has a non-string field", ctx, id);
}

static enum ast
agr_state(const char *s)
{
	if (strcmp(s, "draft") == 0)
		return AS_DRAFT;
	if (strcmp(s, "active") == 0)
		return AS_ACTIVE;
	if (strcmp(s, "suspended") == 0)
		return AS_SUSPENDED;
	return AS_OTHER;
}

static const char *
agr_state_name(enum ast s)
{
	switch (s) {
	case AS_DRAFT:
		return "draft";
	case AS_ACTIVE:
		return "active";
	case AS_SUSPENDED:
		return "suspended";
	case AS_OTHER:
		return "other";
	}
	return "?";
}

/* Bitmask of the approvals object; fails on a party nobody asked. */
static unsigned
appr_bits(const json_t *rec, const char *ctx)
{
	const json_t *appr = json_object_get(rec, "approvals");
	const char *k;
	json_t *v;
	unsigned bits = 0;
	int i, hit;

	if (!json_is_object(appr))
		fail_msg("%s: record has no approvals object", ctx);
	json_object_foreach((json_t *)(uintptr_t)appr, k, v) {
		hit = 0;
		for (i = 0; i < DUR_NAPPROVERS; i++)
			if (strcmp(k, approvers[i]) == 0) {
				bits |= 1u << i;
				hit = 1;
			}
		if (!hit)
			fail_msg("%s: approval by '%s', who never approved", ctx,
			    k);
	}
	return bits;
}

/* The LMDB environment opens and every page is readable (lmdb-utils). */
static void
mdb_check(struct dur *d, const char *data, const char *when)
{
	char store[PATH_MAX], *out = NULL;
	int rc;

	if (d->mdb_stat[0] == '\0')
		return;
	it_fmt(store, sizeof(store), "%s/store", data);
	{
		char *argv[] = { d->mdb_stat, (char *)(uintptr_t)"-a",
		    (char *)(uintptr_t)"-f", store, NULL };

		rc = it_run(argv, NULL, 1, &out, DUR_CMD_TIMEOUT_MS);
		if (rc != 0)
			fail_msg("%s: mdb_stat -a -f %s exited %d:\n%s", when,
			    store, rc, out != NULL ? out : "");
		free(out);
	}
	if (d->mdb_dump[0] != '\0') {
		char *argv[] = { d->mdb_dump, (char *)(uintptr_t)"-a",
		    (char *)(uintptr_t)"-f", (char *)(uintptr_t)"/dev/null",
		    store, NULL };

		rc = it_run(argv, NULL, 1, &out, DUR_CMD_TIMEOUT_MS);
		if (rc != 0)
			fail_msg("%s: mdb_dump -a %s exited %d:\n%s", when, store,
			    rc, out != NULL ? out : "");
		free(out);
	}
	d->st.mdb_ok++;
}

/*
 * consent-audit verify against the running server, since the checkpoint
 * saved in cpfile (when one was saved). Skips, saying so once, when
 * consent-audit has not been built.
 */
static void
audit_verify(struct dur *d, struct it_server *s, const char *cpfile,
    int have_cp, const char *when)
{
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], *out = NULL;
	char *argv[20];
	struct stat sb;
	int n = 0, rc;
	int64_t t0;

	if (!d->have_audit) {
		if (d->st.audit_skipped++ == 0)
			fprintf(stderr, "durability: SKIP audit-log verification: "
			    "%s does not exist yet (client/audit.c: make %s); "
			    "every other check runs\n", d->audit, d->audit);
		return;
	}
	if (stat(d->audit, &sb) != 0)
		fail_msg("%s disappeared", d->audit);
	it_fmt(cert, sizeof(cert), "%s/pki/auditor.crt", s->data);
	it_fmt(key, sizeof(key), "%s/pki/auditor.key", s->data);
	it_fmt(ca, sizeof(ca), "%s/pki/ca.crt", s->data);
	argv[n++] = d->audit;
	argv[n++] = (char *)(uintptr_t)"verify";
	argv[n++] = (char *)(uintptr_t)"--broker";
	argv[n++] = s->base;
	argv[n++] = (char *)(uintptr_t)"--vkey";
	argv[n++] = d->vkey;
	argv[n++] = (char *)(uintptr_t)"--cert";
	argv[n++] = cert;
	argv[n++] = (char *)(uintptr_t)"--key";
	argv[n++] = key;
	argv[n++] = (char *)(uintptr_t)"--ca";
	argv[n++] = ca;
	if (have_cp) {
		argv[n++] = (char *)(uintptr_t)"--since";
		argv[n++] = (char *)(uintptr_t)cpfile;
	}
	argv[n] = NULL;
	t0 = it_now_ms();
	rc = it_run(argv, NULL, 1, &out, DUR_CMD_TIMEOUT_MS);
	if (rc != 0)
		fail_msg("%s: consent-audit verify%s exited %d (want 0):\n%s",
		    when, have_cp ? " --since <checkpoint saved before the kill>"
		    : "", rc, out != NULL ? out : "");
	if (it_now_ms() - t0 > 5000)
		fprintf(stderr, "durability: consent-audit verify took %lld ms\n",
		    (long long)(it_now_ms() - t0));
	free(out);
	d->st.audit_ok++;
}

static void
tools_init(struct dur *d, struct it_server *s)
{
	char consentctl[PATH_MAX], *out = NULL;
	struct stat sb;

	assert_int_equal(it_bin("consent-audit", d->audit, sizeof(d->audit)),
	    0);
	d->have_audit = stat(d->audit, &sb) == 0 && (sb.st_mode & S_IXUSR);
	if (find_in_path("mdb_stat", d->mdb_stat, sizeof(d->mdb_stat)) == 0)
		(void)find_in_path("mdb_dump", d->mdb_dump, sizeof(d->mdb_dump));
	else
		fprintf(stderr, "durability: SKIP mdb_stat/mdb_dump (no "
		    "lmdb-utils); consentd starting is the only LMDB check\n");
	assert_int_equal(it_bin("consentctl", consentctl, sizeof(consentctl)),
	    0);
	{
		char *argv[] = { consentctl, (char *)(uintptr_t)"log",
		    (char *)(uintptr_t)"vkey", (char *)(uintptr_t)"--data",
		    s->data, NULL };

		if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0)
			fail_msg("consentctl log vkey --data %s failed", s->data);
	}
	out[strcspn(out, "\r\n")] = '\0';
	it_fmt(d->vkey, sizeof(d->vkey), "%s", out);
	free(out);
}

/* ---- the killer thread -------------------------------------------------- */

static void *
killer_main(void *arg)
{
	struct dur *d = arg;
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += d->delay_ms / 1000;
	until.tv_nsec += (d->delay_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (!d->cancel &&
	    pthread_cond_timedwait(&d->cv, &d->mu, &until) != ETIMEDOUT)
		;
	/* Under the lock: the victim is not reaped until the thread is
	 * joined, so the pid cannot have been reused. */
	if (!d->cancel && d->victim > 0) {
		kill(d->victim, SIGKILL);
		d->fired = 1;
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void
killer_arm(struct dur *d, pid_t victim, long delay_ms)
{
	assert_false(d->killer_running);
	d->cancel = 0;
	d->fired = 0;
	d->victim = victim;
	d->delay_ms = delay_ms;
	assert_int_equal(pthread_create(&d->killer, NULL, killer_main, d), 0);
	d->killer_running = 1;
}

static int
killer_fired(struct dur *d)
{
	int f;

	pthread_mutex_lock(&d->mu);
	f = d->fired;
	pthread_mutex_unlock(&d->mu);
	return f;
}

/* Joins the killer; with cancel, it does not fire if it has not yet. */
static void
killer_join(struct dur *d, int cancel)
{
	if (!d->killer_running)
		return;
	pthread_mutex_lock(&d->mu);
	if (cancel)
		d->cancel = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->killer, NULL);
	d->killer_running = 0;
}

/* ---- planning a wave ---------------------------------------------------- */

/* The active consent of subject i for agreement a, or -1. */
static int
active_consent(const struct dsubject *u, int a)
{
	int j;

	for (j = 0; j < u->nc; j++)
		if (u->c[j].agr == a && u->c[j].st == CS_ACTIVE)
			return j;
	return -1;
}

/* 1 when a grant for agreement a may be sent for u. */
static int
may_grant(const struct dsubject *u, int a)
{
	int j;

	if (u->grant_unsure[a] != 0 || u->nc >= DUR_MAX_CONSENTS)
		return 0;
	for (j = 0; j < u->nc; j++)
		if (u->c[j].agr == a && u->c[j].st != CS_REVOKED)
			return 0;
	return 1;
}

static char *
grant_body(struct dur *d, int a)
{
	json_t *b = json_pack("{s:s}", "agreement", agr_ids[a]), *f;
	const char *name;
	json_t *opt;
	char *text;

	assert_non_null(b);
	if (rnd_below(d, 2) == 0) {
		/* The required fields and a random choice of optional ones. */
		f = json_array();
		json_object_foreach(d->fields[a], name, opt)
			if (!json_is_true(opt) || rnd_below(d, 2) == 0)
				json_array_append_new(f, json_string(name));
		json_object_set_new(b, "fields", f);
	}
	text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	assert_non_null(text);
	return text;
}

/* A new test agreement document: smartstart's terms under a new id. */
static json_t *
test_agreement_doc(const char *id, const char *title)
{
	json_t *doc = it_example_agreement("smartstart-ird-number");

	json_object_set_new(doc, "id", json_string(id));
	json_object_set_new(doc, "title", json_string(title));
	json_object_set_new(doc, "recipients", json_pack("[s,s]", "ird", "msd"));
	return doc;
}

static int
plan_grant(struct dur *d, struct op *o)
{
	int i = rnd_below(d, d->nsubj), a = rnd_below(d, DUR_NAGR), k;
	struct dsubject *u = &d->subj[i];

	if (u->busy)
		return 0;
	for (k = 0; k < DUR_NAGR && !may_grant(u, a); k++)
		a = (a + 1) % DUR_NAGR;
	if (k == DUR_NAGR)
		return 0;
	o->k = OP_GRANT;
	o->subj = i;
	o->agr = a;
	o->body = grant_body(d, a);
	u->busy = 1;
	return 1;
}

static int
plan_revoke(struct dur *d, struct op *o)
{
	int i = rnd_below(d, d->nsubj), a = rnd_below(d, DUR_NAGR), k, j = -1;
	struct dsubject *u = &d->subj[i];

	if (u->busy)
		return 0;
	for (k = 0; k < DUR_NAGR && (j = active_consent(u, a)) < 0; k++)
		a = (a + 1) % DUR_NAGR;
	if (j < 0)
		return 0;
	o->k = OP_REVOKE;
	o->subj = i;
	o->ci = j;
	it_fmt(o->path, sizeof(o->path), "/v1/consents/%s", u->c[j].id);
	u->busy = 1;
	u->revoking = j;
	return 1;
}

/* A token may race a revoke of its consent in the same wave. */
static int
plan_token(struct dur *d, struct op *o, unsigned char *token_planned)
{
	int i = rnd_below(d, d->nsubj), j;
	struct dsubject *u = &d->subj[i];
	json_t *det;

	if (token_planned[i] || u->token_attempts >= DUR_TOKENS_PER_DAY ||
	    (j = active_consent(u, 0)) < 0)
		return 0;
	det = it_details(agr_ids[0], u->name, "issue-ird-number", token_fields);
	o->k = OP_TOKEN;
	o->subj = i;
	o->ci = j;
	o->body = it_token_form(det);
	json_decref(det);
	assert_non_null(o->body);
	u->token_attempts++;   /* an unanswered attempt may still count */
	token_planned[i] = 1;
	return 1;
}

static int
plan_agreement(struct dur *d, struct op *o)
{
	struct dagr *a;
	json_t *body;
	char title[128];
	int g, i, tries;

	/* An existing one moves on; now and then a new one is submitted. */
	for (tries = 0; tries < 4 && d->nagr > 0; tries++) {
		g = rnd_below(d, d->nagr);
		a = &d->agr[g];
		if (!a->known || a->busy || a->unsure)
			continue;
		o->ag = g;
		switch (a->st) {
		case AS_DRAFT:
			i = rnd_below(d, DUR_NAPPROVERS);
			while (a->appr & (1u << i))
				i = (i + 1) % DUR_NAPPROVERS;
			o->k = OP_APPROVE;
			o->party = i;
			it_fmt(o->path, sizeof(o->path),
			    "/v1/agreements/%s/approve", a->id);
			body = json_pack("{s:i, s:s}", "version", 1, "hash",
			    a->hash);
			o->body = json_dumps(body, JSON_COMPACT);
			json_decref(body);
			break;
		case AS_ACTIVE:
		case AS_SUSPENDED:
			o->k = a->st == AS_ACTIVE ? OP_SUSPEND : OP_RESUME;
			it_fmt(o->path, sizeof(o->path), "/v1/agreements/%s/%s",
			    a->id, a->st == AS_ACTIVE ? "suspend" : "resume");
			o->body = strdup("{\"reason\":\"crash durability test\"}");
			break;
		case AS_OTHER:
			continue;
		}
		assert_non_null(o->body);
		a->busy = 1;
		return 1;
	}
	if (d->nagr >= DUR_MAX_TEST_AGR)
		return 0;
	a = &d->agr[d->nagr];
	memset(a, 0, sizeof(*a));
	it_fmt(a->id, sizeof(a->id), "dur-agr-%03d", d->nagr);
	it_fmt(title, sizeof(title), "Crash durability test agreement %d",
	    d->nagr);
	a->doc = test_agreement_doc(a->id, title);
	o->k = OP_SUBMIT;
	o->ag = d->nagr;
	o->body = json_dumps(a->doc, JSON_COMPACT);
	assert_non_null(o->body);
	a->busy = 1;
	d->nagr++;
	return 1;
}

/* Fills ops (DUR_WAVE_MAX + 1 slots): a checkpoint read, then writes. */
static size_t
plan_wave(struct dur *d, struct op *ops)
{
	unsigned char token_planned[DUR_MAX_SUBJECTS];
	size_t n = 0;
	int tries, r, i;

	memset(token_planned, 0, sizeof(token_planned));
	for (i = 0; i < d->nsubj; i++) {
		d->subj[i].busy = 0;
		d->subj[i].revoking = -1;
	}
	for (i = 0; i < d->nagr; i++)
		d->agr[i].busy = 0;
	memset(&ops[0], 0, sizeof(ops[0]));
	ops[n++].k = OP_CHECKPOINT;
	for (tries = 0; tries < DUR_WAVE_MAX * 4 && n <= DUR_WAVE_MAX;
	    tries++) {
		memset(&ops[n], 0, sizeof(ops[n]));
		r = rnd_below(d, 100);
		if ((r < 35 && plan_grant(d, &ops[n])) ||
		    (r >= 35 && r < 55 && plan_revoke(d, &ops[n])) ||
		    (r >= 55 && r < 80 && plan_token(d, &ops[n],
		    token_planned)) ||
		    (r >= 80 && plan_agreement(d, &ops[n])))
			n++;
	}
	return n;
}

static void
to_request(const struct dur *d, const struct op *o, struct it_req *q)
{
	memset(q, 0, sizeof(*q));
	switch (o->k) {
	case OP_CHECKPOINT:
		q->path = "/v1/log/checkpoint";
		break;
	case OP_GRANT:
		q->method = "POST";
		q->path = "/v1/consents";
		q->bearer = d->subj[o->subj].bearer;
		q->ctype = "application/json";
		q->body = o->body;
		break;
	case OP_REVOKE:
		q->method = "DELETE";
		q->path = o->path;
		q->bearer = d->subj[o->subj].bearer;
		break;
	case OP_TOKEN:
		q->method = "POST";
		q->path = "/oauth2/token";
		q->party = "ird";
		q->ctype = "application/x-www-form-urlencoded";
		q->body = o->body;
		break;
	case OP_SUBMIT:
		q->method = "POST";
		q->path = "/v1/agreements";
		q->party = "registrar";
		q->ctype = "application/json";
		q->body = o->body;
		break;
	case OP_APPROVE:
	case OP_SUSPEND:
	case OP_RESUME:
		q->method = "POST";
		q->path = o->path;
		q->party = o->k == OP_APPROVE ? approvers[o->party] : "dia";
		q->ctype = "application/json";
		q->body = o->body;
		break;
	case OP__N:
		break;
	}
}

/* ---- recording answers -------------------------------------------------- */

/* One line per operation sent: cycle, kind, target, HTTP status (0: no
 * answer), and the id an answer named. Kept with the data dir on failure. */
static void
journal(const struct dur *d, const struct op *o, const struct it_resp *r)
{
	const char *target = "-";

	if (d->journal == NULL)
		return;
	if (o->k >= OP_GRANT && o->k <= OP_TOKEN)
		target = d->subj[o->subj].name;
	else if (o->k >= OP_SUBMIT)
		target = d->agr[o->ag].id;
	fprintf(d->journal, "%d %s %s %s %ld %s\n", d->cycle, op_names[o->k],
	    target, o->k == OP_GRANT ? agr_ids[o->agr] : o->k == OP_REVOKE ?
	    d->subj[o->subj].c[o->ci].id : o->k == OP_APPROVE ?
	    approvers[o->party] : "-", r->status,
	    r->json != NULL ? it_jstr(r->json, "id") : "-");
}

static void
unexpected(const struct dur *d, const struct op *o, const struct it_resp *r)
{
	fail_msg("kill cycle %d: %s got HTTP %ld, which the model does not "
	    "allow (journal %s): %.1500s", d->cycle, op_names[o->k], r->status,
	    d->journal_path, r->body != NULL ? r->body : "");
}

static void
record_agreement(struct dur *d, const struct op *o, const struct it_resp *r)
{
	struct dagr *a = &d->agr[o->ag];
	enum ast want_st = a->st;
	unsigned want_appr = a->appr;

	if (o->k == OP_SUBMIT) {
		if (r->status == 0) {
			a->submit_unsure = 1;
			return;
		}
		if (r->status != 201)
			unexpected(d, o, r);
		if (!same_json(json_object_get(r->json, "document"), a->doc) ||
		    it_jint(r->json, "version") != 1 ||
		    strcmp(it_jstr(r->json, "state"), "draft") != 0)
			fail_msg("submit of %s answered a record not of what was "
			    "sent: %.1500s", a->id, r->body);
		a->known = 1;
		a->st = AS_DRAFT;
		a->appr = 0;
		it_fmt(a->hash, sizeof(a->hash), "%s", it_jstr(r->json, "hash"));
		return;
	}
	if (o->k == OP_APPROVE) {
		want_appr |= 1u << o->party;
		if (want_appr == (1u << DUR_NAPPROVERS) - 1)
			want_st = AS_ACTIVE;
	} else
		want_st = o->k == OP_SUSPEND ? AS_SUSPENDED : AS_ACTIVE;
	if (r->status == 0) {
		a->unsure = 1;
		a->alt_st = want_st;
		a->alt_appr = want_appr;
		return;
	}
	if (r->status != 200)
		unexpected(d, o, r);
	a->st = agr_state(it_jstr(r->json, "state"));
	a->appr = appr_bits(r->json, a->id);
	if (a->st != want_st || a->appr != want_appr)
		fail_msg("%s of %s answered state %s, approvals 0x%x; expected "
		    "%s, 0x%x", op_names[o->k], a->id, it_jstr(r->json, "state"),
		    a->appr, agr_state_name(want_st), want_appr);
}

static void
record(struct dur *d, const struct op *o, const struct it_resp *r)
{
	struct dsubject *u = o->k >= OP_GRANT && o->k <= OP_TOKEN ?
	    &d->subj[o->subj] : NULL;
	struct dconsent *c;
	struct dtoken *t;
	json_t *claims;

	journal(d, o, r);
	d->st.sent[o->k]++;
	if (r->status == 0)
		d->st.unsure[o->k]++;
	else if (r->status >= 200 && r->status < 300)
		d->st.acked[o->k]++;
	switch (o->k) {
	case OP_CHECKPOINT:
		/* The latest checkpoint before the kill, for --since. */
		if (r->status == 200 && r->len > 0) {
			write_file(d->cpfile, r->body, r->len);
			d->have_cp = 1;
		} else if (r->status != 0 && r->status != 503)
			unexpected(d, o, r);
		break;
	case OP_GRANT:
		if (r->status == 0) {
			u->grant_unsure[o->agr]++;
			break;
		}
		if (r->status != 201)
			unexpected(d, o, r);
		assert_true(u->nc < DUR_MAX_CONSENTS);
		c = &u->c[u->nc++];
		it_fmt(c->id, sizeof(c->id), "%s", it_jstr(r->json, "id"));
		c->agr = o->agr;
		c->st = CS_ACTIVE;
		c->rec = consent_subset(r->json);
		if (strcmp(it_jstr(r->json, "state"), "active") != 0 ||
		    strcmp(it_jstr(r->json, "agreement"), agr_ids[o->agr]) != 0)
			fail_msg("grant answered %.1500s", r->body);
		break;
	case OP_REVOKE:
		c = &u->c[o->ci];
		if (r->status == 0) {
			c->st = CS_REVOKE_UNSURE;
			break;
		}
		if (r->status != 200)
			unexpected(d, o, r);
		if (strcmp(it_jstr(r->json, "state"), "revoked") != 0 ||
		    strcmp(it_jstr(r->json, "id"), c->id) != 0)
			fail_msg("revoke of %s answered %.1500s", c->id, r->body);
		c->st = CS_REVOKED;
		json_decref(c->rec);
		c->rec = consent_subset(r->json);
		break;
	case OP_TOKEN:
		if (r->status == 0)
			break;
		if (r->status == 403 && u->revoking == o->ci &&
		    strcmp(it_jstr(r->json, "error"), "access_denied") == 0) {
			d->st.refused[o->k]++;   /* lost the race to a revoke */
			break;
		}
		if (r->status != 200)
			unexpected(d, o, r);
		assert_true(d->ntokens < DUR_MAX_TOKENS);
		t = &d->tokens[d->ntokens];
		t->jwt = strdup(it_jstr(r->json, "access_token"));
		assert_non_null(t->jwt);
		t->subj = o->subj;
		it_fmt(t->consent_id, sizeof(t->consent_id), "%s",
		    u->c[o->ci].id);
		claims = it_jwt_part(t->jwt, 1);
		assert_non_null(claims);
		if (strcmp(it_jstr(claims, "consent_id"), t->consent_id) != 0)
			fail_msg("token for %s names consent %s, want %s", u->name,
			    it_jstr(claims, "consent_id"), t->consent_id);
		t->exp = it_jint(claims, "exp");
		json_decref(claims);
		d->ntokens++;
		break;
	case OP_SUBMIT:
	case OP_APPROVE:
	case OP_SUSPEND:
	case OP_RESUME:
		record_agreement(d, o, r);
		break;
	case OP__N:
		break;
	}
}

/* Plans, sends and records one wave; the killer may strike meanwhile. */
static void
run_wave(struct dur *d)
{
	struct op ops[DUR_WAVE_MAX + 1];
	struct it_batch_item items[DUR_WAVE_MAX + 1];
	size_t n, i;

	n = plan_wave(d, ops);
	memset(items, 0, sizeof(items));
	for (i = 0; i < n; i++)
		to_request(d, &ops[i], &items[i].req);
	assert_int_equal(it_batch(d->s, items, n, DUR_CONNS,
	    DUR_WAVE_TIMEOUT_MS, NULL, NULL), 0);
	for (i = 0; i < n; i++) {
		record(d, &ops[i], &items[i].resp);
		it_resp_free(&items[i].resp);
		free(ops[i].body);
	}
	d->st.waves++;
}

/* ---- checks after a restart --------------------------------------------- */

static struct dconsent *
find_consent(struct dsubject *u, const char *id)
{
	int j;

	for (j = 0; j < u->nc; j++)
		if (strcmp(u->c[j].id, id) == 0)
			return &u->c[j];
	return NULL;
}

static int
agr_index(const char *id)
{
	int a;

	for (a = 0; a < DUR_NAGR; a++)
		if (strcmp(agr_ids[a], id) == 0)
			return a;
	return -1;
}

/* One subject's GET /v1/consents against what the test knows. */
static void
check_subject(struct dur *d, struct dsubject *u, const struct it_resp *r)
{
	const json_t *list = json_object_get(r->json, "consents"), *c;
	unsigned char seen[DUR_MAX_CONSENTS];
	int active[DUR_NAGR] = { 0 }, learned[DUR_NAGR] = { 0 };
	struct dconsent *k;
	const char *state;
	char ctx[PATH_MAX + 160];
	size_t i;
	int a, j;

	it_fmt(ctx, sizeof(ctx), "kill cycle %d, subject %s (journal %s)",
	    d->cycle, u->name, d->journal_path);
	if (r->status != 200 || !json_is_array(list))
		fail_msg("%s: GET /v1/consents answered %ld: %.1500s", ctx,
		    r->status, r->body != NULL ? r->body : r->errbuf);
	memset(seen, 0, sizeof(seen));
	json_array_foreach(list, i, c) {
		a = agr_index(it_jstr(c, "agreement"));
		state = it_jstr(c, "state");
		if (a < 0)
			fail_msg("%s: consent for %s, never asked for", ctx,
			    it_jstr(c, "agreement"));
		k = find_consent(u, it_jstr(c, "id"));
		if (k == NULL) {
			/* Only a grant that got no answer may appear, whole. */
			if (u->grant_unsure[a] == 0 || learned[a]++ > 0)
				fail_msg("%s: consent %s for %s appeared, but no "
				    "unanswered grant could have made it", ctx,
				    it_jstr(c, "id"), agr_ids[a]);
			assert_whole_consent(c, u->name, ctx);
			assert_true(u->nc < DUR_MAX_CONSENTS);
			k = &u->c[u->nc++];
			it_fmt(k->id, sizeof(k->id), "%s", it_jstr(c, "id"));
			k->agr = a;
			k->st = CS_ACTIVE;
			k->rec = consent_subset(c);
			d->st.committed_unacked++;
		} else if (k->st == CS_REVOKE_UNSURE) {
			if (strcmp(state, "revoked") == 0) {
				if (strlen(it_jstr(c, "revoked_at")) != 20)
					fail_msg("%s: revoked %s has no revoked_at",
					    ctx, k->id);
				json_decref(k->rec);
				k->rec = consent_subset(c);
				k->st = CS_REVOKED;
				d->st.committed_unacked++;
			} else {
				assert_same_consent(k->rec, c, ctx);
				k->st = CS_ACTIVE;
				d->st.lost_unacked++;
			}
		} else
			assert_same_consent(k->rec, c, ctx);
		if (k->agr != a)
			fail_msg("%s: consent %s moved to agreement %s", ctx, k->id,
			    agr_ids[a]);
		seen[k - u->c] = 1;
		active[a] += strcmp(state, "active") == 0;
		d->st.consents_checked++;
	}
	for (j = 0; j < u->nc; j++)
		if (!seen[j])
			fail_msg("%s: acknowledged consent %s (%s) is missing "
			    "after the restart", ctx, u->c[j].id,
			    u->c[j].st == CS_REVOKED ? "revoked" : "active");
	for (a = 0; a < DUR_NAGR; a++) {
		if (active[a] > 1)
			fail_msg("%s: %d active consents for %s", ctx, active[a],
			    agr_ids[a]);
		if (u->grant_unsure[a] > 0 && learned[a] == 0)
			d->st.lost_unacked++;
		u->grant_unsure[a] = 0;
	}
}

static void
check_agreement(struct dur *d, struct dagr *a, const struct it_resp *r)
{
	enum ast st;
	unsigned appr;
	char ctx[PATH_MAX + 160];

	it_fmt(ctx, sizeof(ctx), "kill cycle %d, agreement %s (journal %s)",
	    d->cycle, a->id, d->journal_path);
	if (a->submit_unsure) {
		a->submit_unsure = 0;
		if (r->status == 404) {
			a->lost = 1;
			d->st.lost_unacked++;
			return;
		}
		if (r->status != 200 || !same_json(json_object_get(r->json,
		    "document"), a->doc) || it_jint(r->json, "version") != 1 ||
		    strcmp(it_jstr(r->json, "state"), "draft") != 0 ||
		    appr_bits(r->json, ctx) != 0 ||
		    strlen(it_jstr(r->json, "hash")) != 64)
			fail_msg("%s: an unanswered submit left %ld %.1500s; want "
			    "404 or the whole draft", ctx, r->status,
			    r->body != NULL ? r->body : "");
		a->known = 1;
		a->st = AS_DRAFT;
		a->appr = 0;
		it_fmt(a->hash, sizeof(a->hash), "%s", it_jstr(r->json, "hash"));
		d->st.committed_unacked++;
		d->st.agreements_checked++;
		return;
	}
	if (r->status != 200)
		fail_msg("%s: acknowledged agreement answers %ld: %.1500s", ctx,
		    r->status, r->body != NULL ? r->body : r->errbuf);
	if (strcmp(it_jstr(r->json, "hash"), a->hash) != 0 ||
	    !same_json(json_object_get(r->json, "document"), a->doc))
		fail_msg("%s: hash or document changed", ctx);
	st = agr_state(it_jstr(r->json, "state"));
	appr = appr_bits(r->json, ctx);
	if (a->unsure && st == a->alt_st && appr == a->alt_appr &&
	    (st != a->st || appr != a->appr)) {
		d->st.committed_unacked++;
		a->st = st;
		a->appr = appr;
	} else if (st != a->st || appr != a->appr)
		fail_msg("%s: state %s, approvals 0x%x after the restart; "
		    "acknowledged %s, 0x%x%s", ctx, it_jstr(r->json, "state"),
		    appr, agr_state_name(a->st), a->appr,
		    a->unsure ? " (or the unanswered change)" : "");
	else if (a->unsure)
		d->st.lost_unacked++;
	a->unsure = 0;
	d->st.agreements_checked++;
}

static void
check_token(struct dur *d, const struct dtoken *t, const struct it_resp *r)
{
	struct dsubject *u = &d->subj[t->subj];
	struct dconsent *c = find_consent(u, t->consent_id);
	int want, got;

	assert_non_null(c);
	if (r->status != 200)
		fail_msg("kill cycle %d: introspection answered %ld: %.1500s",
		    d->cycle, r->status, r->body != NULL ? r->body : r->errbuf);
	want = c->st == CS_ACTIVE;
	got = json_is_true(json_object_get(r->json, "active"));
	if (want != got)
		fail_msg("kill cycle %d: acknowledged token of %s (consent %s, "
		    "%s) introspects %s", d->cycle, u->name, c->id,
		    want ? "active" : "revoked", r->body);
	d->st.tokens_checked++;
}

/* Every subject's consents, every test agreement, every live token. */
static void
verify_all(struct dur *d)
{
	size_t cap = (size_t)d->nsubj + DUR_MAX_TEST_AGR + d->ntokens + 1;
	struct it_batch_item *items = calloc(cap, sizeof(*items));
	char (*paths)[128] = calloc(DUR_MAX_TEST_AGR, sizeof(*paths));
	char **forms = calloc(d->ntokens + 1, sizeof(*forms));
	int *agr_of = calloc(cap, sizeof(*agr_of));
	long *tok_of = calloc(cap, sizeof(*tok_of));
	int64_t now = unix_now();
	size_t n = 0, i, nsub;
	int g;

	assert_non_null(items);
	assert_non_null(paths);
	assert_non_null(forms);
	assert_non_null(agr_of);
	assert_non_null(tok_of);
	for (i = 0; i < (size_t)d->nsubj; i++, n++) {
		items[n].req.path = "/v1/consents";
		items[n].req.bearer = d->subj[i].bearer;
	}
	nsub = n;
	for (g = 0; g < d->nagr; g++) {
		if (d->agr[g].lost || (!d->agr[g].known &&
		    !d->agr[g].submit_unsure))
			continue;
		it_fmt(paths[g], sizeof(paths[g]), "/v1/agreements/%s?version=1",
		    d->agr[g].id);
		items[n].req.path = paths[g];
		items[n].req.party = "dia";
		agr_of[n] = g;
		tok_of[n] = -1;
		n++;
	}
	for (i = 0; i < d->ntokens; i++) {
		char *enc;
		size_t len;

		if (d->tokens[i].exp <= now + DUR_TOKEN_EXP_MARGIN_S) {
			d->st.tokens_expired++;
			continue;
		}
		enc = it_urlencode(d->tokens[i].jwt);
		assert_non_null(enc);
		len = strlen(enc) + 8;
		forms[i] = malloc(len);
		assert_non_null(forms[i]);
		snprintf(forms[i], len, "token=%s", enc);
		free(enc);
		items[n].req.method = "POST";
		items[n].req.path = "/oauth2/introspect";
		items[n].req.party = "dia";
		items[n].req.ctype = "application/x-www-form-urlencoded";
		items[n].req.body = forms[i];
		agr_of[n] = -1;
		tok_of[n] = (long)i;
		n++;
	}
	assert_int_equal(it_batch(d->s, items, n, DUR_CONNS,
	    DUR_WAVE_TIMEOUT_MS, NULL, NULL), 0);
	/* Consents first: tokens are judged by what the consents show. */
	for (i = 0; i < nsub; i++)
		check_subject(d, &d->subj[i], &items[i].resp);
	for (i = nsub; i < n; i++)
		if (agr_of[i] >= 0)
			check_agreement(d, &d->agr[agr_of[i]], &items[i].resp);
		else
			check_token(d, &d->tokens[tok_of[i]], &items[i].resp);
	for (i = 0; i < n; i++)
		it_resp_free(&items[i].resp);
	for (i = 0; i < d->ntokens; i++)
		free(forms[i]);
	free(items);
	free(paths);
	free(forms);
	free(agr_of);
	free(tok_of);
}

/* ---- setup and teardown ------------------------------------------------- */

static int
dur_setup(void **state)
{
	struct dur *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;

	if (d == NULL)
		return -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	pthread_condattr_destroy(&ca);
	*state = d;
	return 0;
}

/* Runs after a test, passed or failed: no killer outlives it. */
static int
dur_teardown(void **state)
{
	struct dur *d = *state;
	size_t i;
	int j, k;

	if (d == NULL)
		return 0;
	killer_join(d, 1);
	if (d->journal != NULL)
		fclose(d->journal);
	for (i = 0; i < d->ntokens; i++)
		free(d->tokens[i].jwt);
	for (j = 0; d->subj != NULL && j < d->nsubj; j++)
		for (k = 0; k < d->subj[j].nc; k++)
			json_decref(d->subj[j].c[k].rec);
	for (j = 0; j < d->nagr; j++)
		json_decref(d->agr[j].doc);
	for (j = 0; j < DUR_NAGR; j++)
		json_decref(d->fields[j]);
	free(d->tokens);
	free(d->subj);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
	*state = NULL;
	return 0;
}

/* Which fields each example agreement has, and which are optional. */
static void
load_fields(struct dur *d)
{
	json_t *doc, *f;
	size_t i;
	int a;

	for (a = 0; a < DUR_NAGR; a++) {
		doc = it_example_agreement(agr_ids[a]);
		d->fields[a] = json_object();
		json_array_foreach(json_object_get(doc, "fields"), i, f)
			json_object_set_new(d->fields[a], it_jstr(f, "name"),
			    json_boolean(json_is_true(json_object_get(f,
			    "optional"))));
		json_decref(doc);
	}
}

static void
print_summary(const struct dur *d, int64_t total_ms)
{
	const struct dstats *st = &d->st;
	long sent = 0, acked = 0, unsure = 0;
	int k;

	fprintf(stderr, "durability: %d kills (SIGKILL) in %lld ms, %ld waves "
	    "over %d connections, %d subjects\n", st->kills,
	    (long long)total_ms, st->waves, DUR_CONNS, d->nsubj);
	for (k = OP_GRANT; k < OP__N; k++) {
		fprintf(stderr, "durability:   %-8s sent %5ld  acknowledged %5ld  "
		    "unanswered %4ld  refused %ld\n", op_names[k], st->sent[k],
		    st->acked[k], st->unsure[k], st->refused[k]);
		sent += st->sent[k];
		acked += st->acked[k];
		unsure += st->unsure[k];
	}
	fprintf(stderr, "durability: writes sent %ld, acknowledged %ld, "
	    "unanswered %ld (after restart: %ld had committed, whole; %ld had "
	    "not)\n", sent, acked, unsure, st->committed_unacked,
	    st->lost_unacked);
	fprintf(stderr, "durability: checks: %ld consent records, %ld token "
	    "introspections (%ld skipped as expired), %ld agreement records, "
	    "%ld LMDB env checks (mdb_stat+mdb_dump), %ld audit verifications "
	    "(%s)\n", st->consents_checked, st->tokens_checked,
	    st->tokens_expired, st->agreements_checked, st->mdb_ok,
	    st->audit_ok, d->have_audit ? "consent-audit verify --since" :
	    "SKIPPED: no consent-audit");
	if (st->kills > 0)
		fprintf(stderr, "durability: restart after kill: mean %lld ms, "
		    "max %lld ms\n", (long long)(st->restart_ms_total /
		    st->kills), (long long)st->restart_ms_max);
}

/* ---- test 1: random kill -9 under load ---------------------------------- */

static void
acknowledged_writes_survive_random_kill_9(void **state)
{
	struct dur *d = *state;
	struct it_server *s;
	int64_t t_start = it_now_ms(), t, deadline;
	uint64_t seed;
	int i, status;

	d->kills = (int)env_long("DURABILITY_KILLS", DUR_DEFAULT_KILLS, 1,
	    DUR_MAX_KILLS);
	d->nsubj = (int)env_long("DURABILITY_SUBJECTS", DUR_DEFAULT_SUBJECTS,
	    DUR_MIN_SUBJECTS, DUR_MAX_SUBJECTS);
	d->budget_ms = env_long("DURABILITY_BUDGET_S", DUR_DEFAULT_BUDGET_S, 10,
	    DUR_MAX_BUDGET_S) * 1000L;
	seed = (uint64_t)env_long("DURABILITY_SEED", 0, 0, LONG_MAX);
	if (seed == 0)
		seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	d->rng = seed != 0 ? seed : 1;
	fprintf(stderr, "durability: DURABILITY_SEED=%llu DURABILITY_KILLS=%d "
	    "DURABILITY_SUBJECTS=%d\n", (unsigned long long)seed, d->kills,
	    d->nsubj);
	deadline = t_start + d->budget_ms;

	s = it_server_new();
	assert_non_null(s);
	d->s = s;
	s->sets[s->nsets++] = "log_checkpoint_ms=100";
	it_fmt(d->cpfile, sizeof(d->cpfile), "%s/checkpoint-before-kill",
	    s->dir);
	it_fmt(d->journal_path, sizeof(d->journal_path), "%s/operations.log",
	    s->dir);
	d->journal = fopen(d->journal_path, "w");
	if (d->journal == NULL)
		fail_msg("%s: %s", d->journal_path, strerror(errno));
	tools_init(d, s);
	load_fields(d);
	d->subj = calloc((size_t)d->nsubj, sizeof(*d->subj));
	d->tokens = calloc(DUR_MAX_TOKENS, sizeof(*d->tokens));
	assert_non_null(d->subj);
	assert_non_null(d->tokens);
	t = it_now_ms();
	for (i = 0; i < d->nsubj; i++) {
		it_fmt(d->subj[i].name, sizeof(d->subj[i].name), "crash-%03d", i);
		d->subj[i].bearer = it_citizen_token(s, d->subj[i].name, 0);
		assert_non_null(d->subj[i].bearer);
	}
	fprintf(stderr, "durability: %d citizen tokens in %lld ms\n", d->nsubj,
	    (long long)(it_now_ms() - t));
	assert_int_equal(it_server_start(s), 0);

	for (d->cycle = 1; d->cycle <= d->kills; d->cycle++) {
		if (it_now_ms() > deadline)
			fail_msg("time budget of %lld s spent after %d of %d kills "
			    "(raise DURABILITY_BUDGET_S or lower DURABILITY_KILLS)",
			    (long long)(d->budget_ms / 1000), d->st.kills,
			    d->kills);
		t = it_now_ms();
		killer_arm(d, s->pid, DUR_KILL_MIN_MS +
		    rnd_below(d, DUR_KILL_MAX_MS - DUR_KILL_MIN_MS));
		while (!killer_fired(d))
			run_wave(d);
		killer_join(d, 0);
		d->st.load_ms += it_now_ms() - t;
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
		s->pid = -1;
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			fail_msg("kill cycle %d: consentd ended by itself (status "
			    "0x%x) before the SIGKILL", d->cycle, status);
		d->st.kills++;
		mdb_check(d, s->data, "after SIGKILL");
		t = it_now_ms();
		if (it_server_start(s) != 0)
			fail_msg("kill cycle %d: consentd does not start again on "
			    "the killed data dir", d->cycle);
		t = it_now_ms() - t;
		d->st.restart_ms_total += t;
		if (t > d->st.restart_ms_max)
			d->st.restart_ms_max = t;
		verify_all(d);
		audit_verify(d, s, d->cpfile, d->have_cp, "after restart");
	}
	print_summary(d, it_now_ms() - t_start);
	/* The run proved little unless each kind of write was acknowledged
	 * and some were cut off by a kill. */
	assert_true(d->st.acked[OP_GRANT] > 0);
	assert_true(d->st.acked[OP_REVOKE] > 0);
	assert_true(d->st.acked[OP_TOKEN] > 0);
	assert_true(d->st.acked[OP_SUBMIT] > 0);
	assert_true(d->st.acked[OP_APPROVE] > 0);
	assert_int_equal(it_server_stop(s), 0);
	it_assert_no_sanitizer_reports();
}

/* ---- test 2: a full store ----------------------------------------------- */

struct fagr {
	char id[64];
	char hash[80];
	int acked;                /* 201; else refused with 503 */
};

struct full {
	struct dur *d;
	struct it_server *s;
	struct fagr *agr;
	int nagr;
	long refused[3];          /* 503 answers: agreements, grants, tokens */
	int problem_checked;
	struct {
		char subject[40];
		char id[64];
		json_t *rec;
	} consents[FULL_MAX_GRANTS + FULL_TOKEN_SUBJECTS + 8];
	int nconsents;
	char *tokens[FULL_MAX_TOKENS];
	int ntokens;
	int issued[FULL_TOKEN_SUBJECTS];
};

/* A document of about 56 KB (the body limit is 64 KiB). */
static json_t *
big_agreement_doc(const char *id)
{
	static const char sentence[] = "This field is described at length so "
	    "that each agreement takes much room in the store. ";
	json_t *doc = test_agreement_doc(id, "Crash durability: a big one");
	json_t *fields = json_array(), *f;
	char desc[FULL_BIG_DESC + 1], name[64];
	size_t i;

	for (i = 0; i < FULL_BIG_DESC; i++)
		desc[i] = sentence[i % (sizeof(sentence) - 1)];
	desc[FULL_BIG_DESC] = '\0';
	for (i = 0; i < FULL_BIG_FIELDS; i++) {
		it_fmt(name, sizeof(name), "bulk.field_%03zu", i);
		f = json_pack("{s:s, s:s}", "name", name, "description", desc);
		if (i >= 4)
			json_object_set_new(f, "optional", json_true());
		json_array_append_new(fields, f);
	}
	json_object_set_new(doc, "fields", fields);
	return doc;
}

/* Fails unless r is the 503 of a full store, clearly worded. */
static void
assert_store_full(struct full *fl, const struct it_resp *r, int oauth)
{
	if (oauth) {
		assert_status(r, 503);
		assert_non_null(r->json);
		assert_string_equal(it_jstr(r->json, "error"),
		    "temporarily_unavailable");
		return;
	}
	assert_problem(r, 503, "nothing was changed");
	assert_string_equal(it_jstr(r->json, "rule"), "store");
	if (!fl->problem_checked++)
		fprintf(stderr, "durability: full store answers 503: %s\n",
		    it_jstr(r->json, "detail"));
}

/* Submits n agreement documents at once; counts 201 and 503. */
static int
full_submit(struct full *fl, int big, int n, int *acked)
{
	struct it_batch_item items[FULL_WAVE];
	char *bodies[FULL_WAVE];
	int i, first = fl->nagr, full = 0;

	assert_true(n <= FULL_WAVE && fl->nagr + n <= FULL_MAX_AGR);
	memset(items, 0, sizeof(items));
	for (i = 0; i < n; i++) {
		struct fagr *a = &fl->agr[fl->nagr++];
		json_t *doc;

		it_fmt(a->id, sizeof(a->id), "fill-%s-%04d", big ? "big" :
		    "small", first + i);
		doc = big ? big_agreement_doc(a->id) :
		    test_agreement_doc(a->id, "Crash durability: a small one");
		bodies[i] = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		assert_non_null(bodies[i]);
		items[i].req.method = "POST";
		items[i].req.path = "/v1/agreements";
		items[i].req.party = "registrar";
		items[i].req.ctype = "application/json";
		items[i].req.body = bodies[i];
	}
	assert_int_equal(it_batch(fl->s, items, (size_t)n, FULL_CONNS,
	    DUR_WAVE_TIMEOUT_MS, NULL, NULL), 0);
	for (i = 0; i < n; i++) {
		struct fagr *a = &fl->agr[first + i];

		if (items[i].resp.status == 201) {
			a->acked = 1;
			it_fmt(a->hash, sizeof(a->hash), "%s",
			    it_jstr(items[i].resp.json, "hash"));
			(*acked)++;
		} else {
			assert_store_full(fl, &items[i].resp, 0);
			fl->refused[0]++;
			full = 1;
		}
		it_resp_free(&items[i].resp);
		free(bodies[i]);
	}
	return full;
}

/* Grants (and revokes, to grant again) as one citizen until 503. */
static int
full_grants(struct full *fl, const char *subject, int max)
{
	struct it_resp r;
	char id[64];
	int i;

	for (i = 0; i < max; i++) {
		it_grant(fl->s, subject, agr_ids[i % DUR_NAGR], NULL, NULL, id, &r);
		if (r.status == 503) {
			assert_store_full(fl, &r, 0);
			fl->refused[1]++;
			it_resp_free(&r);
			return i;
		}
		assert_status(&r, 201);
		assert_true(fl->nconsents < (int)(sizeof(fl->consents) /
		    sizeof(fl->consents[0])));
		it_fmt(fl->consents[fl->nconsents].subject, 40, "%s", subject);
		it_fmt(fl->consents[fl->nconsents].id, 64, "%s", id);
		fl->consents[fl->nconsents++].rec = consent_subset(r.json);
		it_resp_free(&r);
		it_revoke(fl->s, subject, id, &r);
		if (r.status == 503) {
			/* Refused: the consent stays active, as acknowledged. */
			assert_store_full(fl, &r, 0);
			fl->refused[1]++;
			it_resp_free(&r);
			return i + 1;
		}
		assert_status(&r, 200);
		json_decref(fl->consents[fl->nconsents - 1].rec);
		fl->consents[fl->nconsents - 1].rec = consent_subset(r.json);
		it_resp_free(&r);
	}
	return max;
}

/* One token request for subject: 1 issued, 0 refused with 503. */
static int
full_token(struct full *fl, const char *subject)
{
	struct it_resp r;

	assert_true(fl->ntokens < FULL_MAX_TOKENS);
	it_token(fl->s, "ird", agr_ids[0], subject, "issue-ird-number",
	    token_fields, &r);
	if (r.status == 503) {
		assert_store_full(fl, &r, 1);
		fl->refused[2]++;
		it_resp_free(&r);
		return 0;
	}
	assert_status(&r, 200);
	fl->tokens[fl->ntokens] = strdup(it_jstr(r.json, "access_token"));
	assert_non_null(fl->tokens[fl->ntokens]);
	fl->ntokens++;
	it_resp_free(&r);
	return 1;
}

/* Token requests for the pre-granted subjects (within their daily
 * limit; a refused request writes nothing) until one answers 503. */
static int
full_tokens(struct full *fl)
{
	char subject[40];
	int i;

	for (i = 0; i < FULL_TOKEN_SUBJECTS; i++) {
		it_fmt(subject, sizeof(subject), "fill-token-%d", i);
		while (fl->issued[i] < DUR_TOKENS_PER_DAY) {
			if (!full_token(fl, subject))
				return 1;
			fl->issued[i]++;
		}
	}
	return 0;
}

/* Every acknowledged write is there; every refused agreement is not. */
static void
full_verify(struct full *fl, const char *when)
{
	struct it_batch_item *items = calloc((size_t)fl->nagr, sizeof(*items));
	char (*paths)[128] = calloc((size_t)fl->nagr, sizeof(*paths));
	struct it_resp r;
	char path[128];
	int i;

	assert_non_null(items);
	assert_non_null(paths);
	for (i = 0; i < fl->nagr; i++) {
		it_fmt(paths[i], sizeof(paths[i]), "/v1/agreements/%s?version=1",
		    fl->agr[i].id);
		items[i].req.path = paths[i];
		items[i].req.party = "dia";
	}
	assert_int_equal(it_batch(fl->s, items, (size_t)fl->nagr, FULL_CONNS,
	    60000, NULL, NULL), 0);
	for (i = 0; i < fl->nagr; i++) {
		const struct it_resp *q = &items[i].resp;

		if (fl->agr[i].acked && (q->status != 200 ||
		    strcmp(it_jstr(q->json, "hash"), fl->agr[i].hash) != 0))
			fail_msg("%s: acknowledged agreement %s answers %ld: "
			    "%.500s", when, fl->agr[i].id, q->status, q->body);
		if (!fl->agr[i].acked && q->status != 404)
			fail_msg("%s: agreement %s was refused with 503 but "
			    "answers %ld: %.500s", when, fl->agr[i].id, q->status,
			    q->body);
		it_resp_free(&items[i].resp);
	}
	free(items);
	free(paths);
	for (i = 0; i < fl->nconsents; i++) {
		it_fmt(path, sizeof(path), "/v1/consents/%s", fl->consents[i].id);
		it_get(fl->s, NULL, it_citizen_token(fl->s,
		    fl->consents[i].subject, 0), path, &r);
		assert_status(&r, 200);
		assert_same_consent(fl->consents[i].rec, r.json, when);
		it_resp_free(&r);
	}
	for (i = 0; i < fl->ntokens; i++) {
		it_introspect(fl->s, "dia", fl->tokens[i], &r);
		assert_status(&r, 200);
		if (!json_is_true(json_object_get(r.json, "active")))
			fail_msg("%s: acknowledged token %d introspects %s", when,
			    i, r.body);
		it_resp_free(&r);
	}
}

static void
full_store_refuses_with_503_keeps_commits_and_recovers(void **state)
{
	struct dur *d = *state;
	struct full *fl = calloc(1, sizeof(*fl));
	struct it_server *s;
	struct it_resp r;
	char subject[40], cpfile[PATH_MAX], id[64];
	int64_t t0, t_fill, t_big;
	int i, acked_big = 0, acked_small = 0, grants, full, status;

	assert_non_null(fl);
	fl->agr = calloc(FULL_MAX_AGR, sizeof(*fl->agr));
	assert_non_null(fl->agr);
	fl->d = d;
	s = it_server_new();
	assert_non_null(s);
	fl->s = s;
	d->s = s;
	s->sets[s->nsets++] = "log_checkpoint_ms=100";
	s->sets[s->nsets++] = FULL_MAP_MB;
	it_fmt(cpfile, sizeof(cpfile), "%s/checkpoint-when-full", s->dir);
	tools_init(d, s);
	for (i = 0; i < FULL_TOKEN_SUBJECTS; i++) {
		it_fmt(subject, sizeof(subject), "fill-token-%d", i);
		assert_non_null(it_citizen_token(s, subject, 0));
	}
	assert_non_null(it_citizen_token(s, "fill-granter", 0));
	assert_non_null(it_citizen_token(s, "fill-recovered", 0));
	assert_non_null(it_citizen_token(s, "fill-recovered-t", 0));
	assert_int_equal(it_server_start(s), 0);
	/* Consents for the token requests, before the store fills. */
	for (i = 0; i < FULL_TOKEN_SUBJECTS; i++) {
		it_fmt(subject, sizeof(subject), "fill-token-%d", i);
		it_grant(s, subject, agr_ids[0], NULL, NULL, id, &r);
		assert_status(&r, 201);
		it_fmt(fl->consents[fl->nconsents].subject, 40, "%s", subject);
		it_fmt(fl->consents[fl->nconsents].id, 64, "%s", id);
		fl->consents[fl->nconsents++].rec = consent_subset(r.json);
		it_resp_free(&r);
	}

	/* Fill: big agreements, then small ones, then grants, then tokens,
	 * each until the store refuses it. */
	t0 = it_now_ms();
	full = 0;
	while (!full && fl->nagr + FULL_WAVE <= FULL_MAX_BIG) {
		if (it_now_ms() - t0 > FULL_FILL_BUDGET_MS)
			fail_msg("the %s store is not full after %d agreements "
			    "in %d ms", FULL_MAP_MB, acked_big, FULL_FILL_BUDGET_MS);
		full = full_submit(fl, 1, FULL_WAVE, &acked_big);
	}
	assert_true(full);
	t_big = it_now_ms() - t0;
	full = 0;
	while (!full && fl->nagr + FULL_WAVE <= FULL_MAX_BIG + FULL_MAX_SMALL)
		full = full_submit(fl, 0, FULL_WAVE, &acked_small);
	assert_true(full);
	grants = full_grants(fl, "fill-granter", FULL_MAX_GRANTS);
	assert_true(fl->refused[1] > 0);
	if (!full_tokens(fl))
		fprintf(stderr, "durability: NOTE: token records still fit after "
		    "the fill (%d issued); no token 503 seen\n", fl->ntokens);
	t_fill = it_now_ms() - t0;
	fprintf(stderr, "durability: %s filled in %lld ms (big agreements "
	    "%lld ms): acknowledged %d big (~56 KB) and %d small agreements, "
	    "%d grant/revoke pairs, %d tokens; refused with 503: %ld "
	    "agreements, %ld consent writes, %ld token requests\n", FULL_MAP_MB,
	    (long long)t_fill, (long long)t_big, acked_big, acked_small, grants,
	    fl->ntokens, fl->refused[0], fl->refused[1], fl->refused[2]);

	/* Full, it still reads. */
	it_get(s, NULL, NULL, "/healthz", &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
	assert_status(&r, 200);
	write_file(cpfile, r.body, r.len);
	it_resp_free(&r);
	full_verify(fl, "while full");

	/* Crash while full; the same small map starts and keeps it all. */
	it_server_kill(s);
	mdb_check(d, s->data, "after SIGKILL of a full store");
	t0 = it_now_ms();
	assert_int_equal(it_server_start(s), 0);
	fprintf(stderr, "durability: full store restarts in %lld ms\n",
	    (long long)(it_now_ms() - t0));
	full_verify(fl, "after kill -9 of the full store");
	audit_verify(d, s, cpfile, 1, "full store, after kill -9");
	/* Still full (201 only if freed pages happen to fit one). */
	acked_small = 0;
	(void)full_submit(fl, 0, 1, &acked_small);
	fprintf(stderr, "durability: after the restart on %s a small "
	    "agreement is %s\n", FULL_MAP_MB, acked_small ? "taken" :
	    "refused with 503 (still full)");
	/* SIGTERM with the store full still exits 0. */
	it_server_signal(s, SIGTERM);
	status = it_server_wait(s, IT_STOP_TIMEOUT_MS);
	if (status != 0)
		fail_msg("consentd with a full store did not exit 0 on SIGTERM");

	/* Room again: writes succeed, nothing was lost. */
	s->sets[1] = FULL_BIG_MAP_MB;
	assert_int_equal(it_server_start(s), 0);
	full_verify(fl, "after restart with a larger map");
	acked_big = 0;
	full = full_submit(fl, 1, 2, &acked_big);
	assert_false(full);
	full = full_submit(fl, 0, 2, &acked_big);
	assert_false(full);
	grants = full_grants(fl, "fill-recovered", 3);
	assert_int_equal(grants, 3);
	it_grant(s, "fill-recovered-t", agr_ids[0], NULL, NULL, id, &r);
	assert_status(&r, 201);
	it_fmt(fl->consents[fl->nconsents].subject, 40, "%s",
	    "fill-recovered-t");
	it_fmt(fl->consents[fl->nconsents].id, 64, "%s", id);
	fl->consents[fl->nconsents++].rec = consent_subset(r.json);
	it_resp_free(&r);
	assert_int_equal(full_token(fl, "fill-recovered-t"), 1);
	audit_verify(d, s, cpfile, 1, "after restart with a larger map");
	full_verify(fl, "after the store recovered");
	fprintf(stderr, "durability: with %s the broker takes writes again "
	    "(%d agreements, 3 grant/revoke pairs, %d tokens in all)\n",
	    FULL_BIG_MAP_MB, acked_big, fl->ntokens);
	assert_int_equal(it_server_stop(s), 0);
	it_assert_no_sanitizer_reports();
	for (i = 0; i < fl->nconsents; i++)
		json_decref(fl->consents[i].rec);
	for (i = 0; i < fl->ntokens; i++)
		free(fl->tokens[i]);
	free(fl->agr);
	free(fl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    acknowledged_writes_survive_random_kill_9, dur_setup,
		    dur_teardown),
		cmocka_unit_test_setup_teardown(
		    full_store_refuses_with_503_keeps_commits_and_recovers,
		    dur_setup, dur_teardown),
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("durability/crash",
	    tests, NULL, NULL));
}
