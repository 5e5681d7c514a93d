/*
 * Bulk loader for benchmarks: fills the data directory of a stopped broker
 * with consents of synthetic citizens and transfer tokens issued under
 * them, written as the broker itself writes them, so that a benchmark can
 * measure consentd on a large store.
 *
 *   bulkload --data DIR [--agreement ID] [--consents N] [--entries M]
 *            [--prefix P] [--client PARTY] [--batch K] [--threads T]
 *
 * DIR is a data directory made by "consentctl init" whose broker is not
 * running (the broker keeps the audit log's right edge in memory: a broker
 * running during the load would append over the loaded entries). ID names
 * an agreement that is active and uses consent (default "bench-transfer",
 * the one bench/bench_issue.sh submits). The loader adds M audit log
 * entries (default 10,000,000): first N consent grants (default
 * 1,000,000), one each for the citizens P0 .. P(N-1) (default prefix
 * "b-"), then M - N transfer tokens, requested by PARTY (default the
 * agreement's first recipient, with its certificate DIR/pki/PARTY.crt)
 * for those citizens in turn, for every field of the consent and the
 * agreement's first purpose.
 *
 * The records and writes are the broker's own, through the functions its
 * routes call. Each grant is the record from consent_new_record with its
 * signed receipt (consent_receipt; built and signed ahead of the writes on
 * T threads, default 2), written by routes_consent_write (the record, the
 * subject/agreement index entry, the audit entry) as the broker's grant
 * (routes_consents.c apply_grant) writes it. Each token is written after
 * the checks of the broker's commit (the consent re-read and active, the
 * broker's policy_decide, the per-day counter when the agreement has a
 * limit) by routes_token_write, as the broker's commit (routes_oauth.c
 * apply_token) writes it: the audit entry, the status list tracking, the
 * subject's transfer index and the token's record, whose claims
 * routes_token_claims builds as for the broker's token endpoint, with a
 * status list index from status_alloc (tokens are minted ahead on those
 * threads and not signed, as the broker keeps only the claims). Entries
 * are timed by the clock, so they follow the agreement's own entries in
 * time as in order.
 *
 * One difference, so that the store is that of a broker in steady state:
 * the broker forgets the outstanding-token records of up to four expired
 * tokens per token it issues (status_prune), so it holds only those of its
 * last few minutes. Loaded tokens are issued within minutes; tracking each
 * (status_track) would leave three records per token for the next tokens
 * to clear. The loader instead moves the pruning clock past the loaded
 * tokens' expiry (ttl + 60 s), so each token's outstanding records would
 * be forgotten right after they are written, and therefore calls
 * status_track (then status_prune) only where it leaves a trace: for the
 * last token of each status list, of each transaction and of the load,
 * which gives the same status list sizes and next index. The last prune
 * also forgets the outstanding records of tokens issued before the load.
 *
 * The writes go in write transactions of K log entries (default 20,000)
 * through the broker's store, log and status functions, and the audit
 * log's checkpoint is signed at the end. Sizes: the LMDB map (map_size_mb
 * in DIR/consentd.conf) needs about 2 KiB per token and 4 KiB per
 * consent.
 *
 * Progress goes to stderr; a JSON summary to stdout. Exit status 0, 1 on
 * any failure (everything committed before stays: a consistent store with
 * fewer entries), 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config.h"
#include "consent_rec.h"
#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "keyset.h"
#include "pki.h"
#include "policy.h"
#include "registry.h"
#include "routes.h"
#include "status.h"
#include "store.h"
#include "timeu.h"
#include "tlog.h"

#define BL_MAX_COUNT 100000000L     /* consents or entries */
#define BL_MAX_BATCH 1000000L
#define BL_MAX_THREADS 16
#define BL_MAX_PREFIX 64
#define BL_PROGRESS 1000000u        /* entries between progress lines */
#define BL_PRUNE_SLACK 60           /* status_prune keeps exp > now - 60 */
#define BL_MINT_CHUNK 4096          /* tokens minted ahead by a thread */
#define BL_GRANT_CHUNK 4096         /* consents built and signed ahead */

struct bl {
	const char *dir;
	const char *agreement_id;
	const char *prefix;
	const char *client_opt;
	long nconsents, nentries, batch;
	int nthreads;
	struct config cfg;
	struct store *store;
	struct tlog *log;
	struct status *status;
	struct keyset *keys;
	EVP_PKEY *sign_key;            /* borrowed from keys */
	const char *kid;
	json_t *arec;                  /* the agreement's record */
	struct agreement *a;
	const char *fields[AGR_MAX_FIELDS]; /* its fields' names, all asked */
	char client[PARTY_MAX_ID + 1];
	unsigned roles;
	char x5t[JWK_B64_SHA256_LEN];
	int ttl;
	char (*ids)[40];               /* consent id of each citizen */
	/* the open write transaction and its entry count */
	struct store_txn *txn;
	long in_txn;
	unsigned long commits;
	uint64_t done;                 /* entries appended */
	int64_t t0_us;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: bulkload --data DIR [--agreement ID] [--consents N]\n"
	    "                [--entries M] [--prefix P] [--client PARTY]\n"
	    "                [--batch K] [--threads T]\n"
	    "Fills a stopped broker's data directory with N consents (default\n"
	    "1000000) for citizens P0..P(N-1) (default prefix b-) under the\n"
	    "active agreement ID (default bench-transfer) and M audit log\n"
	    "entries in all (default 10000000: the N grants, then M-N tokens\n"
	    "for PARTY, default the agreement's first recipient), written as\n"
	    "the broker writes them, K entries per transaction (default\n"
	    "20000), receipts signed and tokens minted on T threads (default 2)\n"
	    "beside the writer.\n");
}

static int
parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bulkload: --%s: a whole number from %ld to %ld\n",
		    opt, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static void
progress(struct bl *b, const char *what)
{
	double s = (double)(timeu_mono_us() - b->t0_us) / 1e6;

	fprintf(stderr, "bulkload: %s: %" PRIu64 " entries, %.1f s, %.0f/s\n",
	    what, b->done, s, s > 0 ? (double)b->done / s : 0.0);
}

/* Commits the open transaction (if any) and begins the next when again. */
static int
txn_cycle(struct bl *b, int again)
{
	enum store_err rc;

	if (b->txn != NULL) {
		rc = store_commit(b->txn);
		b->txn = NULL;
		if (rc != STORE_OK) {
			fprintf(stderr, "bulkload: commit: %s%s\n",
			    store_strerror(rc), rc == STORE_FULL ? " (raise "
			    "map_size_mb in the data directory's consentd.conf)" :
			    "");
			return -1;
		}
		tlog_committed(b->log);
		b->commits++;
		b->in_txn = 0;
	}
	if (!again)
		return 0;
	rc = store_begin(b->store, 1, &b->txn);
	if (rc != STORE_OK) {
		fprintf(stderr, "bulkload: begin: %s\n", store_strerror(rc));
		return -1;
	}
	return 0;
}

/* Counts one appended entry; commits when the batch is full. */
static int
entry_done(struct bl *b)
{
	b->done++;
	if (b->done % BL_PROGRESS == 0)
		progress(b, "loading");
	if (++b->in_txn >= b->batch)
		return txn_cycle(b, 1);
	return 0;
}

static int
subject_of(const struct bl *b, long i, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s%ld", b->prefix, i);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* ---- set-up ---------------------------------------------------------------- */

static int
open_all(struct bl *b)
{
	char p[PATH_MAX], err[1024] = "data directory path too long", pin[65];
	struct store_txn *txn = NULL;
	X509 *cert = NULL;
	const char *state;
	char pid[PARTY_MAX_ID + 1];
	enum store_err rc;
	size_t i;
	int ret = -1;

	config_defaults(&b->cfg);
	snprintf(b->cfg.data_dir, sizeof(b->cfg.data_dir), "%s", b->dir);
	if (fsu_join(p, sizeof(p), b->dir, CONFIG_FILE) != 0 ||
	    config_load_file(&b->cfg, p, 1, err, sizeof(err)) != 0 ||
	    config_finish(&b->cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bulkload: %s\n", err);
		return -1;
	}
	if (fsu_join(p, sizeof(p), b->dir, DATA_SIGNING_DIR) != 0 ||
	    (b->keys = keyset_load(p, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bulkload: token-signing keys: %s\n", err);
		return -1;
	}
	b->sign_key = keyset_current(b->keys, &b->kid);
	if (fsu_join(p, sizeof(p), b->dir, DATA_STORE_DIR) != 0 ||
	    (b->store = store_open_lmdb(p, b->cfg.map_bytes, 0, err,
	    sizeof(err))) == NULL ||
	    (b->log = tlog_open_dir(b->store, b->dir, b->cfg.log_origin, err,
	    sizeof(err))) == NULL ||
	    (b->status = status_open(b->store, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bulkload: %s\n", err);
		return -1;
	}
	rc = store_begin(b->store, 0, &txn);
	if (rc == STORE_OK)
		rc = registry_agreement_get(txn, b->agreement_id, 0, &b->arec);
	if (rc != STORE_OK) {
		fprintf(stderr, "bulkload: agreement '%s': %s\n", b->agreement_id,
		    store_strerror(rc));
		goto out;
	}
	state = registry_agreement_state(b->arec);
	if (state == NULL || strcmp(state, "active") != 0 ||
	    (b->a = registry_agreement_parse(b->arec)) == NULL) {
		fprintf(stderr, "bulkload: agreement '%s' is %s, not active\n",
		    b->agreement_id, state != NULL ? state : "unreadable");
		goto out;
	}
	if (b->a->basis != AGR_BASIS_CONSENT || !b->a->consent_required) {
		fprintf(stderr, "bulkload: agreement '%s' does not use consent\n",
		    b->agreement_id);
		goto out;
	}
	if (b->a->nrecipients == 0 || b->a->npurposes == 0) {
		fprintf(stderr, "bulkload: agreement '%s' has no recipient or "
		    "purpose\n", b->agreement_id);
		goto out;
	}
	snprintf(b->client, sizeof(b->client), "%s", b->client_opt != NULL ?
	    b->client_opt : b->a->recipients[0]);
	/* The requester's certificate (cnf) and roles, as the server sees
	 * them: the certificate's pin must name the party. */
	snprintf(p, sizeof(p), "%s/%s/%s.crt", b->dir, DATA_PKI_DIR, b->client);
	if ((cert = pki_load_cert(p, err, sizeof(err))) == NULL) {
		fprintf(stderr, "bulkload: %s: %s\n", p, err);
		goto out;
	}
	if (jwk_x5t_s256(cert, b->x5t) != 0 || jwk_spki_pin_hex(cert, pin) != 0) {
		fprintf(stderr, "bulkload: %s: cannot hash the certificate\n", p);
		goto out;
	}
	rc = registry_party_auth(txn, pin, pid, sizeof(pid), &b->roles);
	if (rc != STORE_OK || strcmp(pid, b->client) != 0) {
		fprintf(stderr, "bulkload: %s does not belong to party '%s'\n", p,
		    b->client);
		goto out;
	}
	for (i = 0; i < b->a->nfields; i++)
		b->fields[i] = b->a->fields[i].name;
	b->ttl = routes_token_ttl(b->a, &b->cfg);
	ret = 0;
out:
	store_abort(txn);
	X509_free(cert);
	return ret;
}

/* ---- consents ------------------------------------------------------------- */

struct signer {
	const struct bl *b;
	json_t *recs;        /* the batch's records */
	size_t first, step;
	int failed;
};

/* Signs the receipts of records first, first + step, ... with its own
 * copy of the agreement (no JSON shared between threads but the key). */
static void *
signer_main(void *arg)
{
	struct signer *s = arg;
	json_t *arec = json_deep_copy(s->b->arec), *rec;
	struct agreement *a = arec != NULL ? registry_agreement_parse(arec) :
	    NULL;
	char *receipt;
	size_t i;

	s->failed = a == NULL;
	for (i = s->first; !s->failed && i < json_array_size(s->recs);
	    i += s->step) {
		rec = json_array_get(s->recs, i);
		receipt = consent_receipt(a, rec, s->b->cfg.issuer,
		    s->b->sign_key, s->b->kid, timeu_now());
		if (receipt == NULL ||
		    json_object_set_new(rec, "receipt", json_string(receipt)) != 0)
			s->failed = 1;
		free(receipt);
	}
	agreement_free(a);
	json_decref(arec);
	return NULL;
}

static int
sign_receipts(const struct bl *b, json_t *recs)
{
	struct signer s[BL_MAX_THREADS];
	pthread_t th[BL_MAX_THREADS];
	int i, started = 0, failed = 0;

	for (i = 0; i < b->nthreads; i++) {
		s[i].b = b;
		s[i].recs = recs;
		s[i].first = (size_t)i;
		s[i].step = (size_t)b->nthreads;
		s[i].failed = 0;
		if (pthread_create(&th[i], NULL, signer_main, &s[i]) != 0)
			break;
		started++;
	}
	if (started == 0)
		return -1;
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		failed |= s[i].failed;
	}
	/* Threads that did not start: their share on this one. */
	for (i = started; i < b->nthreads && !failed; i++) {
		s[i].b = b;
		s[i].recs = recs;
		s[i].first = (size_t)i;
		s[i].step = (size_t)b->nthreads;
		s[i].failed = 0;
		signer_main(&s[i]);
		failed |= s[i].failed;
	}
	return failed ? -1 : 0;
}

/* Consents [from, from + n) of the load: records built and receipts
 * signed by other threads while the main thread writes the previous
 * chunk. */
struct grant_chunk {
	const struct bl *b;
	json_t *recs;
	long from, n;
	int64_t now;
	int failed;
};

/* Builds the chunk's records (consent_new_record, as for a body
 * {"agreement": ID}) and signs their receipts. */
static void *
grant_build(void *arg)
{
	struct grant_chunk *g = arg;
	const struct bl *b = g->b;
	char subject[BL_MAX_PREFIX + 24], err[512];
	json_t *body, *rec;
	long i;

	json_decref(g->recs);    /* the last chunk's, freed where made */
	g->recs = json_array();
	g->now = timeu_now();
	g->failed = 1;
	body = json_pack("{s:s}", "agreement", b->a->id);
	if (g->recs == NULL || body == NULL)
		goto out;
	for (i = g->from; i < g->from + g->n; i++) {
		if (subject_of(b, i, subject, sizeof(subject)) != 0 ||
		    consent_subject_ok(subject) != 0) {
			fprintf(stderr, "bulkload: subject '%s': not a valid "
			    "subject id\n", subject);
			goto out;
		}
		if (consent_new_id(b->ids[i]) != 0)
			goto out;
		rec = consent_new_record(b->a, subject, body, b->ids[i], g->now,
		    err, sizeof(err));
		if (rec == NULL) {
			fprintf(stderr, "bulkload: consent for %s: %s\n", subject,
			    err);
			goto out;
		}
		json_array_append_new(g->recs, rec);
	}
	if (sign_receipts(b, g->recs) != 0) {
		fprintf(stderr, "bulkload: a consent receipt could not be signed\n");
		goto out;
	}
	g->failed = 0;
out:
	json_decref(body);
	return NULL;
}

/* Writes the chunk's consents as the broker's apply_grant does. */
static int
grant_write(struct bl *b, const struct grant_chunk *g)
{
	char subject[BL_MAX_PREFIX + 24] = "", *strs = NULL;
	struct consent_view v = { 0 };
	enum store_err rc = STORE_OK;
	int found = 0;
	long i;

	for (i = g->from; rc == STORE_OK && i < g->from + g->n; i++) {
		(void)subject_of(b, i, subject, sizeof(subject));
		/* At most one active consent per agreement and subject. */
		rc = consent_find_view(b->txn, subject, b->a->id, g->now, &v,
		    &strs, &found);
		if (rc == STORE_OK && found && v.state == CONSENT_ACTIVE) {
			fprintf(stderr, "bulkload: %s already has an active consent "
			    "for '%s' (%s); use another --prefix\n", subject,
			    b->a->id, v.id);
			free(strs);
			return -1;
		}
		free(strs);
		strs = NULL;
		if (rc == STORE_OK)
			rc = routes_consent_write(b->log, b->txn,
			    json_array_get(g->recs, (size_t)(i - g->from)), g->now,
			    NULL, NULL);
		if (rc == STORE_OK && entry_done(b) != 0)
			return -1;
	}
	if (rc != STORE_OK) {
		fprintf(stderr, "bulkload: consent for %s: %s%s\n", subject,
		    store_strerror(rc), rc == STORE_FULL ? " (raise map_size_mb "
		    "in the data directory's consentd.conf)" : "");
		return -1;
	}
	return 0;
}

/* Grants the consents, chunk by chunk. */
static int
grant_consents(struct bl *b)
{
	struct grant_chunk g[2], *cur, *nx;
	pthread_t th;
	int running = 0, ret = -1;

	memset(g, 0, sizeof(g));
	g[0].b = g[1].b = b;
	g[0].n = b->nconsents < BL_GRANT_CHUNK ? b->nconsents : BL_GRANT_CHUNK;
	grant_build(&g[0]);
	for (cur = &g[0]; cur->n > 0; cur = nx) {
		nx = cur == &g[0] ? &g[1] : &g[0];
		if (cur->failed)
			goto out;
		nx->from = cur->from + cur->n;
		nx->n = b->nconsents - nx->from < BL_GRANT_CHUNK ?
		    b->nconsents - nx->from : BL_GRANT_CHUNK;
		if (nx->n > 0) {
			if (pthread_create(&th, NULL, grant_build, nx) == 0)
				running = 1;
			else
				grant_build(nx);
		}
		if (grant_write(b, cur) != 0)
			goto out;
		if (running) {
			pthread_join(th, NULL);
			running = 0;
		}
	}
	ret = 0;
out:
	if (running)
		pthread_join(th, NULL);
	json_decref(g[0].recs);
	json_decref(g[1].recs);
	return ret;
}

/* ---- tokens ---------------------------------------------------------------- */

/* A token minted ahead of its writes. */
struct token {
	long citizen;                  /* set before minting, with */
	uint64_t status_index;         /* this */
	int64_t now;                   /* the decision's time */
	struct token_minted m;         /* its claims, record and log entry */
};

static void
token_clear(struct token *t)
{
	routes_token_minted_free(&t->m);
}

/*
 * A token minted by the broker's routes_token_claims (its claims, record
 * and audit log entry), for every field of the consent and the
 * agreement's first purpose; the token itself is not signed (the broker
 * keeps only the claims). 0 or -1.
 */
static int
token_mint(const struct bl *b, struct token *t)
{
	char subject[BL_MAX_PREFIX + 24];
	struct token_terms tt;

	t->now = timeu_now();
	if (subject_of(b, t->citizen, subject, sizeof(subject)) != 0)
		return -1;
	tt.issuer = b->cfg.issuer;
	tt.a = b->a;
	tt.subject = subject;
	tt.client = b->client;
	tt.x5t = b->x5t;
	tt.purpose = b->a->purposes[0];
	tt.fields = b->fields;
	tt.nfields = b->a->nfields;
	tt.consent_id = b->ids[t->citizen];
	tt.status_index = t->status_index;
	tt.now = t->now;
	tt.ttl = b->ttl;
	tt.kid = b->kid;
	return routes_token_claims(&tt, b->log, &t->m);
}

/*
 * Writes token t, as the broker's commit (apply_token) does after its
 * checks: the consent re-read (see below), the broker's policy, the day's
 * count; then routes_token_write (the status tracking and pruning only
 * where they leave a trace, with the clock moved on: see the top of the
 * file). last: the load's last token.
 */
static int
token_write(struct bl *b, struct token *t, int last)
{
	char subject[BL_MAX_PREFIX + 24], ckey[STORE_MAX_KEY + 1];
	struct consent_view v;
	struct policy_request preq;
	struct policy_input in;
	struct policy_result res;
	const unsigned char *raw;
	const char *cid = b->ids[t->citizen];
	char *cstrs = NULL;
	size_t rawlen;
	enum store_err rc;
	int64_t n = 0;
	int ret = -1;
	/* Status tracking where it leaves a trace (see the top of the file):
	 * the last token of a status list, of a transaction, of the load. */
	int track = t->status_index % STATUS_LIST_CAP == STATUS_LIST_CAP - 1 ||
	    b->in_txn + 1 >= b->batch || last;

	if (subject_of(b, t->citizen, subject, sizeof(subject)) != 0)
		return -1;
	/* The consent as the decision (consent_find_view) and the commit-time
	 * check (consent_state_raw) read it: from its stored bytes. */
	rc = store_get_raw(b->txn, ST_CONSENTS, cid, &raw, &rawlen);
	if (rc != STORE_OK)
		goto store_fail;
	if (consent_view_from_raw(raw, rawlen, t->now, &v, &cstrs) != 0) {
		rc = STORE_CORRUPT;
		goto store_fail;
	}
	if (b->a->max_per_subject_per_day != 0) {
		if (routes_day_key(ckey, sizeof(ckey), subject, b->a->id,
		    t->now) != 0) {
			rc = STORE_BADKEY;
			goto store_fail;
		}
		if ((rc = routes_day_count(b->txn, ckey, &n)) != STORE_OK)
			goto store_fail;
	}
	preq.agreement = b->a->id;
	preq.subject = subject;
	preq.purpose = b->a->purposes[0];
	preq.fields = b->fields;
	preq.nfields = b->a->nfields;
	memset(&in, 0, sizeof(in));
	in.party = b->client;
	in.roles = b->roles;
	in.agr = b->a;
	in.agr_state = registry_agreement_state(b->arec);
	in.req = &preq;
	in.consent = &v;
	in.transfers_today = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	in.now = t->now;
	if (policy_decide(&in, &res) != POLICY_ALLOW) {
		fprintf(stderr, "bulkload: token for %s refused: %s (%s)\n",
		    subject, res.description, res.rule_name);
		goto out;
	}
	/* apply_token's writes, in its order: the day's count, then the
	 * token's own. */
	if (b->a->max_per_subject_per_day != 0 &&
	    (rc = routes_day_count_put(b->txn, ckey, n + 1)) != STORE_OK)
		goto store_fail;
	rc = routes_token_write(b->log, b->txn, &t->m, track,
	    t->now + b->ttl + BL_PRUNE_SLACK);
	if (rc != STORE_OK)
		goto store_fail;
	ret = entry_done(b);
	goto out;
store_fail:
	fprintf(stderr, "bulkload: token for %s: %s%s\n", subject,
	    store_strerror(rc), rc == STORE_FULL ? " (raise map_size_mb in the "
	    "data directory's consentd.conf)" : "");
out:
	free(cstrs);
	return ret;
}

/* Tokens [from, from + n) of the load, minted by T threads while the
 * main thread writes the previous chunk. */
struct mint_chunk {
	const struct bl *b;
	struct token t[BL_MINT_CHUNK];
	long from, n;
	int failed;
};

struct mint_part {
	struct mint_chunk *m;
	long first, step;
	int failed;
};

/* Mints tokens first, first + step, ... of a chunk, clearing the slots'
 * previous tokens first. */
static void *
mint_part_main(void *arg)
{
	struct mint_part *p = arg;
	struct mint_chunk *m = p->m;
	long k;

	p->failed = 0;
	for (k = p->first; k < BL_MINT_CHUNK; k += p->step)
		token_clear(&m->t[k]);
	for (k = p->first; k < m->n && !p->failed; k += p->step)
		if (token_mint(m->b, &m->t[k]) != 0)
			p->failed = 1;
	return NULL;
}

static void *
mint_main(void *arg)
{
	struct mint_chunk *m = arg;
	struct mint_part p[BL_MAX_THREADS];
	pthread_t th[BL_MAX_THREADS];
	int i, nt = m->b->nthreads, started[BL_MAX_THREADS];
	long k;

	/* Citizens in turn; status indexes in the order of the log, as the
	 * last tracked token must hold the highest (see token_write). */
	for (k = 0; k < m->n; k++) {
		m->t[k].citizen = (m->from + k) % m->b->nconsents;
		m->t[k].status_index = status_alloc(m->b->status);
	}
	for (i = 0; i < nt; i++) {
		p[i].m = m;
		p[i].first = i;
		p[i].step = nt;
		started[i] = i > 0 && pthread_create(&th[i], NULL,
		    mint_part_main, &p[i]) == 0;
	}
	for (i = 0; i < nt; i++)
		if (!started[i])
			mint_part_main(&p[i]);
	m->failed = 0;
	for (i = 0; i < nt; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		m->failed |= p[i].failed;
	}
	return NULL;
}

/* Issues ntokens tokens, to the citizens in turn. */
static int
issue_tokens(struct bl *b, long ntokens)
{
	struct mint_chunk *m[2], *cur, *nx;
	pthread_t th;
	int running = 0, ret = -1, j;
	long k;

	m[0] = calloc(1, sizeof(*m[0]));
	m[1] = calloc(1, sizeof(*m[1]));
	if (m[0] == NULL || m[1] == NULL) {
		fprintf(stderr, "bulkload: out of memory\n");
		goto out;
	}
	m[0]->b = m[1]->b = b;
	m[0]->from = 0;
	m[0]->n = ntokens < BL_MINT_CHUNK ? ntokens : BL_MINT_CHUNK;
	mint_main(m[0]);
	for (cur = m[0]; cur->n > 0; cur = nx) {
		nx = cur == m[0] ? m[1] : m[0];
		if (cur->failed) {
			fprintf(stderr, "bulkload: a token could not be minted\n");
			goto out;
		}
		nx->from = cur->from + cur->n;
		nx->n = ntokens - nx->from < BL_MINT_CHUNK ? ntokens - nx->from :
		    BL_MINT_CHUNK;
		if (nx->n > 0) {
			if (pthread_create(&th, NULL, mint_main, nx) == 0)
				running = 1;
			else
				mint_main(nx);
		}
		for (k = 0; k < cur->n; k++) {
			if (token_write(b, &cur->t[k], cur->from + k ==
			    ntokens - 1) != 0)
				goto out;
		}
		if (running) {
			pthread_join(th, NULL);
			running = 0;
		}
	}
	ret = 0;
out:
	if (running)
		pthread_join(th, NULL);
	for (j = 0; j < 2; j++) {
		if (m[j] == NULL)
			continue;
		for (k = 0; k < BL_MINT_CHUNK; k++)
			token_clear(&m[j]->t[k]);
		free(m[j]);
	}
	return ret;
}

/* ---- main ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "agreement", required_argument, NULL, 'a' },
		{ "consents", required_argument, NULL, 'n' },
		{ "entries", required_argument, NULL, 'm' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "client", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct bl b;
	struct store_txn *txn = NULL;
	uint64_t size0 = 0, size1 = 0;
	int64_t t_consents = 0, t_tokens = 0, t_end;
	long ntokens, per_subject, nthreads = 2;
	int ch, rc = 1;

	memset(&b, 0, sizeof(b));
	b.agreement_id = "bench-transfer";
	b.prefix = "b-";
	b.nconsents = 1000000;
	b.nentries = 10000000;
	b.batch = 20000;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': b.dir = optarg; break;
		case 'a': b.agreement_id = optarg; break;
		case 'p': b.prefix = optarg; break;
		case 'c': b.client_opt = optarg; break;
		case 'n':
			if (parse_long("consents", optarg, 1, BL_MAX_COUNT,
			    &b.nconsents) != 0)
				return 2;
			break;
		case 'm':
			if (parse_long("entries", optarg, 1, BL_MAX_COUNT,
			    &b.nentries) != 0)
				return 2;
			break;
		case 'b':
			if (parse_long("batch", optarg, 1, BL_MAX_BATCH,
			    &b.batch) != 0)
				return 2;
			break;
		case 't':
			if (parse_long("threads", optarg, 1, BL_MAX_THREADS,
			    &nthreads) != 0)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	b.nthreads = (int)nthreads;
	if (optind != argc || b.dir == NULL) {
		usage(stderr);
		return 2;
	}
	if (strlen(b.prefix) > BL_MAX_PREFIX) {
		fprintf(stderr, "bulkload: --prefix: at most %d bytes\n",
		    BL_MAX_PREFIX);
		return 2;
	}
	if (b.nentries < b.nconsents) {
		fprintf(stderr, "bulkload: --entries (%ld) counts the %ld consent "
		    "grants too: give at least as many\n", b.nentries,
		    b.nconsents);
		return 2;
	}
	ntokens = b.nentries - b.nconsents;
	if (open_all(&b) != 0)
		goto out;
	per_subject = (ntokens + b.nconsents - 1) / b.nconsents;
	if (b.a->max_per_subject_per_day != 0 &&
	    per_subject > (long)b.a->max_per_subject_per_day) {
		fprintf(stderr, "bulkload: %ld tokens for %ld citizens is %ld each, "
		    "over agreement '%s''s limit of %u per day: load more "
		    "consents, fewer entries, or use an agreement without a limit\n",
		    ntokens, b.nconsents, per_subject, b.a->id,
		    b.a->max_per_subject_per_day);
		goto out;
	}
	b.ids = calloc((size_t)b.nconsents, sizeof(*b.ids));
	if (b.ids == NULL) {
		fprintf(stderr, "bulkload: out of memory\n");
		goto out;
	}
	if (store_begin(b.store, 0, &txn) != STORE_OK ||
	    tlog_size(txn, &size0) != STORE_OK) {
		fprintf(stderr, "bulkload: cannot read the audit log's size\n");
		goto out;
	}
	store_abort(txn);
	txn = NULL;
	fprintf(stderr, "bulkload: %s: %ld consents (%s0 .. %s%ld) under '%s' "
	    "version %u, then %ld tokens for '%s'; log at %" PRIu64 " entries; "
	    "%ld entries per commit\n", b.dir, b.nconsents, b.prefix, b.prefix,
	    b.nconsents - 1, b.a->id, b.a->version, ntokens, b.client, size0,
	    b.batch);
	b.t0_us = timeu_mono_us();
	if (txn_cycle(&b, 1) != 0)
		goto out;
	if (grant_consents(&b) != 0)
		goto out;
	t_consents = timeu_mono_us();
	progress(&b, "consents done");
	if (issue_tokens(&b, ntokens) != 0)
		goto out;
	/* Outstanding records from before the load (see the top). */
	while (ntokens > 0 && status_prune(b.txn, timeu_now() + b.ttl +
	    BL_PRUNE_SLACK, 256) > 0)
		;
	if (txn_cycle(&b, 0) != 0)
		goto out;
	t_tokens = timeu_mono_us();
	progress(&b, "tokens done");
	if (tlog_maybe_checkpoint(b.log, 0, 1, NULL) != 0) {
		fprintf(stderr, "bulkload: cannot sign the audit log checkpoint\n");
		goto out;
	}
	if (store_begin(b.store, 0, &txn) != STORE_OK ||
	    tlog_size(txn, &size1) != STORE_OK) {
		fprintf(stderr, "bulkload: cannot read the audit log's size\n");
		goto out;
	}
	store_abort(txn);
	txn = NULL;
	t_end = timeu_mono_us();
	printf("{\"consents\":%ld,\"tokens\":%ld,\"entries\":%" PRIu64 ","
	    "\"log_size_before\":%" PRIu64 ",\"log_size\":%" PRIu64 ","
	    "\"agreement\":\"%s\",\"client\":\"%s\",\"prefix\":\"%s\","
	    "\"batch\":%ld,\"commits\":%lu,\"seconds\":%.2f,"
	    "\"consent_seconds\":%.2f,\"token_seconds\":%.2f,"
	    "\"checkpoint_seconds\":%.2f}\n", b.nconsents, ntokens, b.done,
	    size0, size1, b.a->id, b.client, b.prefix, b.batch, b.commits,
	    (double)(t_end - b.t0_us) / 1e6,
	    (double)(t_consents - b.t0_us) / 1e6,
	    (double)(t_tokens - t_consents) / 1e6,
	    (double)(t_end - t_tokens) / 1e6);
	rc = 0;
out:
	if (b.txn != NULL) {
		/* Nothing of an unfinished batch is kept. */
		store_abort(b.txn);
		b.txn = NULL;
	}
	store_abort(txn);
	free(b.ids);
	agreement_free(b.a);
	json_decref(b.arec);
	status_free(b.status);
	tlog_free(b.log);
	store_close(b.store);
	keyset_free(b.keys);
	return rc;
}
