/*
 * Integration: consent-audit against a real consentd and against export
 * files. The log of a broker that granted, revoked and issued verifies
 * (checkpoint, whole-log verify, --since, prove --jti, and an independent
 * Python check of the signed note); every kind of tampering is caught with
 * a message naming it (a stored entry changed in LMDB, an export with an
 * entry changed, deleted or moved, a forged signature, a forged earlier
 * checkpoint); and hand-built logs that break the replay rules are caught
 * naming the entry and the rule.
 */
#include "harness.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "b64.h"
#include "fsu.h"
#include "logentry.h"
#include "merkle.h"
#include "note.h"
#include "pki.h"

#define SMARTSTART "smartstart-ird-number"
#define PURPOSE "issue-ird-number"
#define STATUTORY "dia-msd-birth-notification"
#define RUN_TIMEOUT_MS 60000
#define SETTLE_TIMEOUT_MS 5000
#define NOTE_CHECK "tests/audit_note_check.py"
#define EXPORT_MAGIC "consent-broker-log-export 1\n"

static const char *const two_fields[] = { "child.given_names",
    "child.birth_date", NULL };

/* The broker's verifier key, read once by the group setup. */
static char vkey[512];

/* ---- running tools ------------------------------------------------------- */

/*
 * Runs argv (argv[0] a path) with stdout and stderr captured together into
 * *out (caller frees; set also when it fails, to be shown). Returns the
 * exit status, or -1 when it did not exit normally within RUN_TIMEOUT_MS.
 */
static int
run_cmd(char *const argv[], char **out)
{
	int st = it_run(argv, NULL, 1, out, RUN_TIMEOUT_MS);

	assert_non_null(*out);
	return st;
}

/*
 * Runs consent-audit with the NULL-terminated arguments; fails the test
 * unless it exits want and its output holds needle (when not NULL).
 * Returns the output (caller frees).
 */
static char *
audit_expect(int want, const char *needle, ...)
{
	char bin[PATH_MAX], *argv[40], *out, cmd[2048];
	size_t used = 0;
	va_list ap;
	int n = 0, st;

	assert_int_equal(it_bin("consent-audit", bin, sizeof(bin)), 0);
	argv[n++] = bin;
	va_start(ap, needle);
	while (n < 39 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	st = run_cmd(argv, &out);
	if (st != want || (needle != NULL && strstr(out, needle) == NULL)) {
		for (n = 1; argv[n] != NULL && used < sizeof(cmd) - 1; n++)
			used += (size_t)snprintf(cmd + used, sizeof(cmd) - used,
			    " %s", argv[n]);
		fail_msg("consent-audit%s\nexited %d (want %d)%s%s; output:\n%s",
		    cmd, st, want, needle != NULL ? ", want output with: " : "",
		    needle != NULL ? needle : "", out);
	}
	return out;
}

#define AUDIT_OK_(needle, ...) free(audit_expect(0, needle, __VA_ARGS__, \
	NULL))
#define AUDIT_BAD_(needle, ...) free(audit_expect(1, needle, __VA_ARGS__, \
	NULL))

/* DATA/pki paths of the auditor party, into fixed buffers. */
struct creds {
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
};

static void
auditor(const struct it_server *s, struct creds *c)
{
	it_fmt(c->cert, sizeof(c->cert), "%s/pki/auditor.crt", s->data);
	it_fmt(c->key, sizeof(c->key), "%s/pki/auditor.key", s->data);
	it_fmt(c->ca, sizeof(c->ca), "%s/pki/ca.crt", s->data);
}

static void
tmp_path(const struct it_server *s, const char *name, char out[PATH_MAX])
{
	it_fmt(out, PATH_MAX, "%s/%s", s->dir, name);
}

/* The size of the broker's current checkpoint. */
static uint64_t
checkpoint_size(const struct it_server *s)
{
	struct it_resp r;
	char *nl;
	uint64_t size;

	it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
	assert_status(&r, 200);
	nl = strchr(r.body, '\n');
	assert_non_null(nl);
	size = strtoull(nl + 1, NULL, 10);
	it_resp_free(&r);
	return size;
}

/*
 * Waits until the checkpoint stops moving (the broker signs one within
 * log_checkpoint_ms of the last write); returns its size.
 */
static uint64_t
settle(const struct it_server *s)
{
	int64_t end = it_now_ms() + SETTLE_TIMEOUT_MS;
	uint64_t a = checkpoint_size(s), b;

	for (;;) {
		it_sleep_ms(250);
		b = checkpoint_size(s);
		if (a == b || it_now_ms() > end)
			return b;
		a = b;
	}
}

static void
grant_ok(struct it_server *s, const char *subject, const char *fields,
    char id[64])
{
	struct it_resp r;

	it_grant(s, subject, SMARTSTART, fields, NULL, id, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
}

/* A token for subject as party; its jti into jti (64 bytes). */
static void
token_ok(const struct it_server *s, const char *party, const char *agr,
    const char *subject, const char *purpose, const char *const *fields,
    char jti[64])
{
	struct it_resp r;
	json_t *c;

	it_token(s, party, agr, subject, purpose, fields, &r);
	assert_status(&r, 200);
	c = it_jwt_part(it_jstr(r.json, "access_token"), 1);
	assert_non_null(c);
	snprintf(jti, 64, "%s", it_jstr(c, "jti"));
	json_decref(c);
	it_resp_free(&r);
}

/* consentctl log export into path (removed first). */
static void
export_log(const struct it_server *s, const char *path)
{
	char bin[PATH_MAX], *out = NULL;
	char *argv[] = { bin, (char *)(uintptr_t)"log", (char *)(uintptr_t)
	    "export", (char *)(uintptr_t)"--data", (char *)(uintptr_t)s->data,
	    (char *)(uintptr_t)"--out", (char *)(uintptr_t)path, NULL };

	assert_int_equal(it_bin("consentctl", bin, sizeof(bin)), 0);
	unlink(path);
	if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0)
		fail_msg("consentctl log export failed");
	free(out);
}

static char *
read_all(const char *path, size_t *len)
{
	char *buf = NULL;

	if (fsu_read_file(path, 64u << 20, &buf, len) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	return buf;
}

static void
write_all(const char *path, const void *data, size_t len)
{
	if (fsu_write_file(path, data, len, 0600, 0) != 0)
		fail_msg("%s: %s", path, strerror(errno));
}

/* ---- export files, taken apart ---------------------------------------- */

#define MAX_ENTRIES 4096

struct xfile {
	char *buf;
	size_t len;
	size_t note_off, note_len;      /* the checkpoint note */
	size_t count_off;               /* "entries N\n" */
	size_t off[MAX_ENTRIES];        /* each entry's length prefix */
	size_t n[MAX_ENTRIES];          /* each entry's length */
	size_t count;
};

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
xfile_load(const char *path, struct xfile *x)
{
	char *p, *end;
	size_t i, pos;

	memset(x, 0, sizeof(*x));
	x->buf = read_all(path, &x->len);
	end = x->buf + x->len;
	assert_int_equal(strncmp(x->buf, EXPORT_MAGIC, strlen(EXPORT_MAGIC)),
	    0);
	p = x->buf + strlen(EXPORT_MAGIC);
	assert_int_equal(strncmp(p, "checkpoint ", 11), 0);
	x->note_len = strtoul(p + 11, &p, 10);
	assert_int_equal(*p, '\n');
	x->note_off = (size_t)(p + 1 - x->buf);
	p += 1 + x->note_len;
	x->count_off = (size_t)(p - x->buf);
	assert_int_equal(strncmp(p, "entries ", 8), 0);
	x->count = strtoul(p + 8, &p, 10);
	assert_int_equal(*p, '\n');
	assert_true(x->count <= MAX_ENTRIES);
	pos = (size_t)(p + 1 - x->buf);
	for (i = 0; i < x->count; i++) {
		assert_true(pos + 4 <= x->len);
		x->off[i] = pos;
		x->n[i] = be32((const unsigned char *)x->buf + pos);
		pos += 4 + x->n[i];
	}
	assert_int_equal(x->buf + pos, end);
}

/*
 * Writes x to path with entries in the order given by order (indexes into
 * x, norder of them) and the count line saying count.
 */
static void
xfile_write(const struct xfile *x, const char *path, const size_t *order,
    size_t norder, size_t count)
{
	char *out = malloc(x->len + 64), line[64];
	size_t used, i, n;

	assert_non_null(out);
	memcpy(out, x->buf, x->count_off);
	used = x->count_off;
	n = (size_t)snprintf(line, sizeof(line), "entries %zu\n", count);
	memcpy(out + used, line, n);
	used += n;
	for (i = 0; i < norder; i++) {
		memcpy(out + used, x->buf + x->off[order[i]], 4 + x->n[order[i]]);
		used += 4 + x->n[order[i]];
	}
	write_all(path, out, used);
	free(out);
}

/* ---- building logs by hand --------------------------------------------- */

#define TEST_ORIGIN "audit-test.example/log"

struct xb {
	unsigned char *buf;
	size_t len, cap;
	struct merkle_frontier f;
	uint64_t n;
	int64_t t;                      /* time of the next entry */
};

static void
xb_init(struct xb *x)
{
	memset(x, 0, sizeof(*x));
	merkle_frontier_init(&x->f);
	x->t = 1795000000;              /* 2026-11-18T..Z */
}

static void
xb_add(struct xb *x, struct le_buf *e)
{
	unsigned char leaf[MERKLE_HASH];
	const unsigned char *d;
	size_t n;

	assert_int_equal(le_end(e, &d, &n), 0);
	if (x->len + 4 + n > x->cap) {
		x->cap = (x->cap + 4 + n) * 2;
		x->buf = realloc(x->buf, x->cap);
		assert_non_null(x->buf);
	}
	x->buf[x->len] = (unsigned char)(n >> 24);
	x->buf[x->len + 1] = (unsigned char)(n >> 16);
	x->buf[x->len + 2] = (unsigned char)(n >> 8);
	x->buf[x->len + 3] = (unsigned char)n;
	memcpy(x->buf + x->len + 4, d, n);
	x->len += 4 + n;
	merkle_leaf_hash(d, n, leaf);
	assert_int_equal(merkle_frontier_append(&x->f, leaf, NULL, NULL), 0);
	x->n++;
	x->t += 10;
}

static const unsigned char agr_hash[32] = { 0xaa, 0xbb, 0xcc };

static void
xb_agreement(struct xb *x, const char *event, const char *id,
    const char *state, const char *basis, uint32_t limit)
{
	struct le_buf e;

	le_begin(&e, LE_AGREEMENT, x->t);
	le_str(&e, T_EVENT, event);
	le_str(&e, T_ACTOR, "test");
	le_str(&e, T_AGREEMENT, id);
	le_u32(&e, T_VERSION, 1);
	le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
	le_str(&e, T_STATE, state);
	le_str(&e, T_BASIS, basis);
	le_u32(&e, T_LIMIT, limit);
	xb_add(x, &e);
}

static void
subject(unsigned char who, unsigned char out[32])
{
	memset(out, who, 32);
}

static void
xb_consent(struct xb *x, enum le_type type, const char *cid,
    const char *agr, unsigned char who, const char *fields, int64_t expires)
{
	unsigned char subj[32];
	struct le_buf e;

	subject(who, subj);
	le_begin(&e, type, x->t);
	le_str(&e, T_EVENT, type == LE_CONSENT_GRANT ? "grant" : "revoke");
	le_str(&e, T_ACTOR, "citizen");
	le_str(&e, T_AGREEMENT, agr);
	le_u32(&e, T_VERSION, 1);
	le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
	le_str(&e, T_CONSENT, cid);
	le_bytes(&e, T_SUBJECT, subj, 32);
	if (type == LE_CONSENT_GRANT) {
		le_str(&e, T_FIELDS, fields);
		if (expires != 0)
			le_u64(&e, T_EXPIRES, (uint64_t)expires);
	}
	xb_add(x, &e);
}

static void
xb_token(struct xb *x, const char *jti, const char *agr, const char *cid,
    unsigned char who, const char *fields)
{
	unsigned char subj[32], ch[32];
	struct le_buf e;

	subject(who, subj);
	memset(ch, 0x11, sizeof(ch));
	le_begin(&e, LE_TOKEN, x->t);
	le_str(&e, T_EVENT, "issue");
	le_str(&e, T_ACTOR, "ird");
	le_str(&e, T_AGREEMENT, agr);
	le_u32(&e, T_VERSION, 1);
	le_bytes(&e, T_AGREEMENT_HASH, agr_hash, 32);
	if (cid != NULL)
		le_str(&e, T_CONSENT, cid);
	le_bytes(&e, T_SUBJECT, subj, 32);
	le_str(&e, T_FIELDS, fields);
	le_u64(&e, T_EXPIRES, (uint64_t)x->t + 300);
	le_str(&e, T_JTI, jti);
	le_bytes(&e, T_CLAIMS_HASH, ch, 32);
	le_str(&e, T_CLIENT, "ird");
	le_str(&e, T_PROVIDER, "dia");
	le_str(&e, T_PURPOSE, "testing");
	xb_add(x, &e);
}

/*
 * Writes the log as an export file at path, its checkpoint signed with a
 * fresh Ed25519 key; vk gets that key's verifier key. Frees the builder.
 */
static void
xb_write(struct xb *x, const char *path, char vk[512])
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct note_vkey v;
	struct checkpoint c;
	char text[512], head[128], *note = NULL, *out;
	size_t hl, nl;

	assert_non_null(key);
	memset(&c, 0, sizeof(c));
	snprintf(c.origin, sizeof(c.origin), "%s", TEST_ORIGIN);
	c.size = x->n;
	merkle_frontier_root(&x->f, c.root);
	assert_int_equal(checkpoint_text(&c, text, sizeof(text)), 0);
	assert_int_equal(note_sign(text, TEST_ORIGIN, key, &note), 0);
	assert_int_equal(note_vkey_from_pkey(TEST_ORIGIN, key, &v), 0);
	assert_int_equal(note_vkey_format(&v, vk, 512), 0);
	nl = strlen(note);
	hl = (size_t)snprintf(head, sizeof(head), EXPORT_MAGIC
	    "checkpoint %zu\n", nl);
	out = malloc(hl + nl + 64 + x->len);
	assert_non_null(out);
	memcpy(out, head, hl);
	memcpy(out + hl, note, nl);
	hl += nl;
	hl += (size_t)snprintf(out + hl, 64, "entries %" PRIu64 "\n", x->n);
	memcpy(out + hl, x->buf, x->len);
	write_all(path, out, hl + x->len);
	free(out);
	free(note);
	free(x->buf);
	EVP_PKEY_free(key);
}

/* Builds the log, writes it, and runs verify --log on it. */
static char *
verify_built(const struct it_server *s, struct xb *x, const char *name,
    int want, const char *needle)
{
	char path[PATH_MAX], vk[512];

	tmp_path(s, name, path);
	xb_write(x, path, vk);
	return audit_expect(want, needle, "verify", "--log", path, "--vkey",
	    vk, NULL);
}

/* ---- group setup ----------------------------------------------------------- */

static int
setup(void **state)
{
	char bin[PATH_MAX], *out = NULL;
	struct it_server *s = it_server_new();

	if (s == NULL)
		return -1;
	s->sets[s->nsets++] = "log_checkpoint_ms=50";
	if (it_server_start(s) != 0 ||
	    it_bin("consentctl", bin, sizeof(bin)) != 0)
		return -1;
	{
		char *argv[] = { bin, (char *)(uintptr_t)"log",
		    (char *)(uintptr_t)"vkey", (char *)(uintptr_t)"--data",
		    s->data, NULL };

		if (it_run_capture(argv, &out, IT_CMD_TIMEOUT_MS) != 0)
			return -1;
	}
	out[strcspn(out, "\r\n")] = '\0';
	snprintf(vkey, sizeof(vkey), "%s", out);
	free(out);
	*state = s;
	return 0;
}

/* ---- the live broker ----------------------------------------------------- */

IT_TEST(checkpoint_and_verify_pass_after_grants_revokes_and_tokens)
{
	static const char *const sex[] = { "child.sex", NULL };
	static const char *const stat[] = { "registration.number",
	    "child.given_names", NULL };
	struct creds c;
	struct it_resp r;
	char alice[64], bob[64], jti[64];
	char *out;

	grant_ok(s, "aud-alice", NULL, alice);
	/* bob leaves out the optional fields */
	grant_ok(s, "aud-bob", "[\"child.given_names\",\"child.family_name\","
	    "\"child.birth_date\",\"parent.given_names\","
	    "\"parent.family_name\"]", bob);
	token_ok(s, "ird", SMARTSTART, "aud-alice", PURPOSE, two_fields, jti);
	token_ok(s, "ird", SMARTSTART, "aud-bob", PURPOSE, two_fields, jti);
	/* refused: not covered, then revoked (refusals are not logged) */
	it_token(s, "ird", SMARTSTART, "aud-bob", PURPOSE, sex, &r);
	assert_status(&r, 403);
	it_resp_free(&r);
	assert_int_equal(it_revoke(s, "aud-alice", alice, &r), 200);
	it_resp_free(&r);
	it_token(s, "ird", SMARTSTART, "aud-alice", PURPOSE, two_fields, &r);
	assert_status(&r, 403);
	it_resp_free(&r);
	token_ok(s, "msd", STATUTORY, "aud-child", "update-benefit-household",
	    stat, jti);
	settle(s);

	auditor(s, &c);
	out = audit_expect(0, "size", "checkpoint", "--broker", s->base,
	    "--ca", c.ca, "--vkey", vkey, NULL);
	assert_contains(out, "origin ");
	assert_contains(out, "root (hex) ");
	free(out);
	out = audit_expect(0, "result: OK", "verify", "--broker", s->base,
	    "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey", vkey,
	    NULL);
	/* 7 parties and 4 agreements at init, then 2 grants, 2 tokens, a
	 * revocation and a statutory token. */
	assert_contains(out, "entries: 17 (party 7, agreement 4, "
	    "consent-grant 2, consent-revoke 1, token 3)");
	assert_contains(out, "tokens checked: 3 (consent-based 2, "
	    "statutory 1)");
	assert_contains(out, "root: recomputed from every entry, matches");
	free(out);
}

IT_TEST(verify_reads_the_vkey_from_a_file_and_rejects_a_wrong_one)
{
	char path[PATH_MAX], bad[512];
	struct creds c;
	char *p;

	auditor(s, &c);
	tmp_path(s, "vkey.txt", path);
	it_fmt(bad, sizeof(bad), "%s\n", vkey);
	write_all(path, bad, strlen(bad));
	AUDIT_OK_("result: OK", "verify", "--broker", s->base, "--cert", c.cert,
	    "--key", c.key, "--ca", c.ca, "--vkey", path);
	/* Another key ID: the vkey itself does not parse (usage error). */
	snprintf(bad, sizeof(bad), "%s", vkey);
	p = strchr(bad, '+');
	assert_non_null(p);
	p[1] = p[1] == '0' ? '1' : '0';
	free(audit_expect(2, "key ID", "checkpoint", "--broker", s->base,
	    "--ca", c.ca, "--vkey", bad, NULL));
	/* A well-formed key of another log: the signature is not its. */
	{
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		struct note_vkey v;
		char name[300];

		assert_non_null(k);
		snprintf(name, sizeof(name), "%.*s", (int)(strchr(vkey, '+') -
		    vkey), vkey);
		assert_int_equal(note_vkey_from_pkey(name, k, &v), 0);
		assert_int_equal(note_vkey_format(&v, bad, sizeof(bad)), 0);
		EVP_PKEY_free(k);
	}
	AUDIT_BAD_("checkpoint signature does not verify", "verify", "--broker",
	    s->base, "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey",
	    bad);
	AUDIT_BAD_("checkpoint signature does not verify", "checkpoint",
	    "--broker", s->base, "--ca", c.ca, "--vkey", bad);
}

IT_TEST(verify_without_the_auditor_role_sees_entries_missing)
{
	char cert[PATH_MAX], key[PATH_MAX];
	struct creds c;

	auditor(s, &c);
	it_fmt(cert, sizeof(cert), "%s/pki/ird.crt", s->data);
	it_fmt(key, sizeof(key), "%s/pki/ird.key", s->data);
	AUDIT_BAD_("entry 0 missing", "verify", "--broker", s->base, "--cert",
	    cert, "--key", key, "--ca", c.ca, "--vkey", vkey);
}

IT_TEST(prove_jti_shows_a_new_token_included)
{
	struct creds c;
	char id[64], jti[64];
	char *out;

	auditor(s, &c);
	grant_ok(s, "aud-carol", NULL, id);
	/* At once: the broker answers 409 until a checkpoint covers it. */
	token_ok(s, "ird", SMARTSTART, "aud-carol", PURPOSE, two_fields, jti);
	out = audit_expect(0, "included", "prove", "--broker", s->base,
	    "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey", vkey,
	    "--jti", jti, NULL);
	assert_contains(out, jti);
	assert_contains(out, "agreement " SMARTSTART " version 1");
	assert_contains(out, "inclusion proof: ");
	assert_contains(out, id);
	free(out);
	AUDIT_BAD_("no token with this jti", "prove", "--broker", s->base,
	    "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey", vkey,
	    "--jti", "no-such-jti");
}

IT_TEST(usage_errors_exit_2)
{
	free(audit_expect(2, "usage", "verify", "--vkey", vkey, NULL));
	free(audit_expect(2, "usage", "frobnicate", NULL));
	free(audit_expect(2, "--cert", "verify", "--broker", s->base, "--vkey",
	    vkey, NULL));
	free(audit_expect(2, "not a consent-broker log export", "verify",
	    "--log", s->log, "--vkey", vkey, NULL));
	free(audit_expect(0, "--since FILE", "verify", "--help", NULL));
	free(audit_expect(0, "--jti", "prove", "--help", NULL));
	free(audit_expect(0, "origin", "checkpoint", "--help", NULL));
}

IT_TEST(python_check_agrees_on_the_live_checkpoint_and_catches_tampering)
{
	char py[] = "/usr/bin/python3", script[] = NOTE_CHECK;
	char path[PATH_MAX], bad[PATH_MAX], key[PATH_MAX], other[512];
	char *argv[8], *out, *root, *note, *p;
	struct creds c;
	struct it_resp r;
	size_t len;
	int st;

	{
		char *probe[] = { py, (char *)(uintptr_t)"-c",
		    (char *)(uintptr_t)"import cryptography", NULL };

		if (access(py, X_OK) != 0 || run_cmd(probe, &out) != 0) {
			free(out);
			fprintf(stderr, "skipped: python3 with the cryptography "
			    "package (Debian python3-cryptography) is needed\n");
			skip();
		}
		free(out);
	}
	auditor(s, &c);
	settle(s);
	it_get(s, NULL, NULL, "/v1/log/checkpoint", &r);
	assert_status(&r, 200);
	tmp_path(s, "live.note", path);
	write_all(path, r.body, r.len);
	note = strdup(r.body);
	assert_non_null(note);
	it_resp_free(&r);
	it_fmt(key, sizeof(key), "%s/keys/log-ed25519.key", s->data);
	argv[0] = py;
	argv[1] = script;
	argv[2] = vkey;
	argv[3] = path;
	argv[4] = (char *)(uintptr_t)"--key";
	argv[5] = key;
	argv[6] = NULL;
	st = run_cmd(argv, &out);
	if (st != 0)
		fail_msg("%s: exit %d: %s", script, st, out);
	/* Both implementations read the same root from the same note. */
	root = strstr(out, "root=");
	assert_non_null(root);
	root[5 + 44] = '\0';
	{
		char want[80], *o2;

		it_fmt(want, sizeof(want), "root %s\n", root + 5);
		o2 = audit_expect(0, want, "checkpoint", "--broker", s->base,
		    "--ca", c.ca, "--vkey", vkey, NULL);
		free(o2);
	}
	free(out);

	/* The size line changed: the signature no longer covers the text. */
	tmp_path(s, "bad.note", bad);
	len = strlen(note);
	p = strchr(note, '\n') + 1;
	*p = *p == '9' ? '8' : (char)(*p + 1);
	write_all(bad, note, len);
	argv[3] = bad;
	argv[4] = NULL;
	st = run_cmd(argv, &out);
	if (st != 1 || strstr(out, "does not verify") == NULL)
		fail_msg("tampered text: exit %d: %s", st, out);
	free(out);
	*p = *p == '8' ? '9' : (char)(*p - 1);
	/* One character of the signature's base64 changed. */
	p = strrchr(note, ' ') + 10;
	*p = *p == 'A' ? 'B' : 'A';
	write_all(bad, note, len);
	st = run_cmd(argv, &out);
	if (st != 1)
		fail_msg("tampered signature: exit %d: %s", st, out);
	free(out);
	/* The key ID in the vkey changed. */
	snprintf(other, sizeof(other), "%s", vkey);
	p = strchr(other, '+') + 1;
	*p = *p == '0' ? '1' : '0';
	argv[2] = other;
	argv[3] = path;
	st = run_cmd(argv, &out);
	if (st != 1 || strstr(out, "key ID") == NULL)
		fail_msg("wrong key ID: exit %d: %s", st, out);
	free(out);
	free(note);

	/* A note made by note_sign with a fresh key also checks out. */
	{
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		struct checkpoint cp;
		struct note_vkey v;
		char text[256], *n2 = NULL;

		assert_non_null(k);
		memset(&cp, 0, sizeof(cp));
		snprintf(cp.origin, sizeof(cp.origin), "%s", TEST_ORIGIN);
		cp.size = 1234567;
		memset(cp.root, 0x5a, sizeof(cp.root));
		assert_int_equal(checkpoint_text(&cp, text, sizeof(text)), 0);
		assert_int_equal(note_sign(text, TEST_ORIGIN, k, &n2), 0);
		assert_int_equal(note_vkey_from_pkey(TEST_ORIGIN, k, &v), 0);
		assert_int_equal(note_vkey_format(&v, other, sizeof(other)), 0);
		write_all(bad, n2, strlen(n2));
		argv[2] = other;
		argv[3] = bad;
		st = run_cmd(argv, &out);
		if (st != 0 || strstr(out, "size=1234567") == NULL)
			fail_msg("note_sign note: exit %d: %s", st, out);
		free(out);
		/* ... and not with the broker's key. */
		argv[2] = vkey;
		st = run_cmd(argv, &out);
		if (st != 1)
			fail_msg("wrong key accepted: exit %d: %s", st, out);
		free(out);
		free(n2);
		EVP_PKEY_free(k);
	}
}

IT_TEST(verify_since_a_saved_checkpoint_passes_as_the_log_grows)
{
	char saved[PATH_MAX], saved2[PATH_MAX], exp[PATH_MAX], id[64];
	struct creds c;
	char *out;

	auditor(s, &c);
	tmp_path(s, "saved.note", saved);
	tmp_path(s, "saved2.note", saved2);
	tmp_path(s, "since.export", exp);
	settle(s);
	AUDIT_OK_("saved: the checkpoint", "verify", "--broker", s->base,
	    "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey", vkey,
	    "--save", saved);
	/* Same size: consistent when the root is the same. */
	AUDIT_OK_("consistent with the saved checkpoint", "verify", "--broker",
	    s->base, "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey",
	    vkey, "--since", saved);
	grant_ok(s, "aud-dave", NULL, id);
	grant_ok(s, "aud-erin", NULL, id);
	settle(s);
	out = audit_expect(0, "consistent with the saved checkpoint of size",
	    "verify", "--broker", s->base, "--cert", c.cert, "--key", c.key,
	    "--ca", c.ca, "--vkey", vkey, "--since", saved, "--save", saved2,
	    NULL);
	assert_contains(out, "the broker's proof verifies");
	free(out);
	/* Offline: the first entries of the export give the saved root. */
	export_log(s, exp);
	AUDIT_OK_("the first entries give the saved root", "verify", "--log",
	    exp, "--vkey", vkey, "--since", saved);
	AUDIT_OK_("result: OK", "verify", "--log", exp, "--vkey", vkey,
	    "--since", saved2);
}

IT_TEST(forged_earlier_checkpoint_is_not_consistent)
{
	char saved[PATH_MAX], forged[PATH_MAX], keyp[PATH_MAX], exp[PATH_MAX];
	char text[512], want[200], err[256], *note, *fn = NULL, *sep;
	struct checkpoint cp;
	struct creds c;
	EVP_PKEY *key;
	size_t len;

	auditor(s, &c);
	tmp_path(s, "saved3.note", saved);
	tmp_path(s, "forged.note", forged);
	tmp_path(s, "forged.export", exp);
	settle(s);
	AUDIT_OK_("saved:", "verify", "--broker", s->base, "--cert", c.cert,
	    "--key", c.key, "--ca", c.ca, "--vkey", vkey, "--save", saved);
	/* A checkpoint of the same size over another root, signed with the
	 * log's own key: the signature verifies, consistency does not. */
	note = read_all(saved, &len);
	sep = strstr(note, "\n\n");
	assert_non_null(sep);
	assert_int_equal(checkpoint_parse(note, (size_t)(sep - note) + 1, &cp,
	    err, sizeof(err)), 0);
	cp.root[7] ^= 0x40;
	assert_int_equal(checkpoint_text(&cp, text, sizeof(text)), 0);
	it_fmt(keyp, sizeof(keyp), "%s/keys/log-ed25519.key", s->data);
	key = pki_load_key(keyp, err, sizeof(err));
	assert_non_null(key);
	assert_int_equal(note_sign(text, cp.origin, key, &fn), 0);
	write_all(forged, fn, strlen(fn));
	it_fmt(want, sizeof(want), "is not consistent with the saved "
	    "checkpoint of size %" PRIu64, cp.size);
	/* as it stands (same size) ... */
	AUDIT_BAD_(want, "verify", "--broker", s->base, "--cert", c.cert,
	    "--key", c.key, "--ca", c.ca, "--vkey", vkey, "--since", forged);
	/* ... and after the log grew (the broker's proof fails) */
	{
		char id[64];

		grant_ok(s, "aud-frank", NULL, id);
		settle(s);
	}
	AUDIT_BAD_(want, "verify", "--broker", s->base, "--cert", c.cert,
	    "--key", c.key, "--ca", c.ca, "--vkey", vkey, "--since", forged);
	export_log(s, exp);
	AUDIT_BAD_(want, "verify", "--log", exp, "--vkey", vkey, "--since",
	    forged);
	/* The genuine saved one still passes. */
	AUDIT_OK_("result: OK", "verify", "--log", exp, "--vkey", vkey,
	    "--since", saved);
	free(fn);
	free(note);
	EVP_PKEY_free(key);
}

IT_TEST(tampered_export_files_are_caught)
{
	char exp[PATH_MAX], bad[PATH_MAX];
	size_t order[MAX_ENTRIES], i, k, tmp;
	struct xfile *x = calloc(1, sizeof(*x));
	char *sig, *p;

	assert_non_null(x);
	tmp_path(s, "tamper.export", exp);
	tmp_path(s, "tampered.export", bad);
	settle(s);
	export_log(s, exp);
	AUDIT_OK_("result: OK", "verify", "--log", exp, "--vkey", vkey);
	xfile_load(exp, x);
	assert_true(x->count > 12);
	for (i = 0; i < x->count; i++)
		order[i] = i;

	/* one byte of one entry (the last byte of entry 9's last field) */
	k = 9;
	x->buf[x->off[k] + 4 + x->n[k] - 1] ^= 0x01;
	xfile_write(x, bad, order, x->count, x->count);
	AUDIT_BAD_("root mismatch: entries give ", "verify", "--log", bad,
	    "--vkey", vkey);
	x->buf[x->off[k] + 4 + x->n[k] - 1] ^= 0x01;

	/* an entry deleted, the count left as it was ... */
	memmove(order + 5, order + 6, (x->count - 6) * sizeof(order[0]));
	xfile_write(x, bad, order, x->count - 1, x->count);
	AUDIT_BAD_(" missing (", "verify", "--log", bad, "--vkey", vkey);
	/* ... and with the count fixed up to match */
	xfile_write(x, bad, order, x->count - 1, x->count - 1);
	AUDIT_BAD_(" missing (the export holds", "verify", "--log", bad,
	    "--vkey", vkey);
	for (i = 0; i < x->count; i++)
		order[i] = i;

	/* two entries swapped */
	tmp = order[11];
	order[11] = order[12];
	order[12] = tmp;
	xfile_write(x, bad, order, x->count, x->count);
	AUDIT_BAD_("root mismatch", "verify", "--log", bad, "--vkey", vkey);
	order[12] = order[11];
	order[11] = tmp;

	/* bytes after the last entry */
	xfile_write(x, bad, order, x->count, x->count);
	{
		size_t len;
		char *b = read_all(bad, &len), *b2 = malloc(len + 3);

		assert_non_null(b2);
		memcpy(b2, b, len);
		memcpy(b2 + len, "xyz", 3);
		write_all(bad, b2, len + 3);
		free(b);
		free(b2);
	}
	AUDIT_BAD_("3 bytes after its last entry", "verify", "--log", bad,
	    "--vkey", vkey);

	/* the checkpoint's signature: one base64 character changed */
	sig = x->buf + x->note_off;
	p = NULL;
	for (i = x->note_len; i > 1; i--)
		if (sig[i - 1] == ' ') {
			p = sig + i + 12;
			break;
		}
	assert_non_null(p);
	*p = *p == 'A' ? 'B' : 'A';
	xfile_write(x, bad, order, x->count, x->count);
	AUDIT_BAD_("checkpoint signature does not verify", "verify", "--log",
	    bad, "--vkey", vkey);
	AUDIT_BAD_("checkpoint signature does not verify", "checkpoint",
	    "--log", bad, "--vkey", vkey);
	free(x->buf);
	free(x);
}

/* ---- replay rules, on logs built by hand --------------------------------- */

IT_TEST(replay_of_a_lawful_log_passes)
{
	struct xb x;
	char *out;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 3);
	xb_agreement(&x, "load", "agr-s", "active", "statute", 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_1", "agr-c", 1, "f1,f2,f3",
	    x.t + 100000);
	xb_token(&x, "tok-1", "agr-c", "cns_1", 1, "f1");
	xb_token(&x, "tok-2", "agr-c", "cns_1", 1, "f3,f1,f2");
	xb_token(&x, "tok-3", "agr-s", NULL, 2, "anything");
	xb_consent(&x, LE_CONSENT_REVOKE, "cns_1", "agr-c", 1, NULL, 0);
	xb_agreement(&x, "suspend", "agr-c", "suspended", "consent", 3);
	out = verify_built(s, &x, "lawful.export", 0, "result: OK");
	assert_contains(out, "tokens checked: 3 (consent-based 2, "
	    "statutory 1)");
	assert_contains(out, "entries: 8 (party 0, agreement 3, "
	    "consent-grant 1, consent-revoke 1, token 3)");
	free(out);
}

IT_TEST(replay_catches_a_token_after_its_consent_was_revoked)
{
	struct xb x;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_1", "agr-c", 1, "f1,f2", 0);
	xb_consent(&x, LE_CONSENT_REVOKE, "cns_1", "agr-c", 1, NULL, 0);
	xb_token(&x, "tok-late", "agr-c", "cns_1", 1, "f1");
	free(verify_built(s, &x, "revoked.export", 1, "entry 3: token jti "
	    "tok-late issued after consent cns_1 was revoked at entry 2"));
}

IT_TEST(replay_catches_a_token_whose_fields_exceed_its_consent)
{
	struct xb x;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_2", "agr-c", 1,
	    "child.given_names", 0);
	xb_token(&x, "tok-wide", "agr-c", "cns_2", 1,
	    "child.given_names,child.birth_date");
	free(verify_built(s, &x, "fields.export", 1, "entry 2: token jti "
	    "tok-wide asks for field child.birth_date, which consent cns_2 "
	    "(entry 1) does not cover"));
}

IT_TEST(replay_compares_fields_by_name_beyond_64_distinct_fields)
{
	char many[1024];
	size_t used = 0;
	struct xb x;
	int k;

	/* 70 field names: ids past 64 are compared by name, not by mask */
	for (k = 0; k < 70; k++)
		used += (size_t)snprintf(many + used, sizeof(many) - used,
		    "%sfield%d", k > 0 ? "," : "", k);
	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_w", "agr-c", 1, many, 0);
	xb_token(&x, "tok-in", "agr-c", "cns_w", 1, "field69,field3,field65");
	xb_token(&x, "tok-out", "agr-c", "cns_w", 1, "field66,field70");
	free(verify_built(s, &x, "wide.export", 1, "entry 3: token jti "
	    "tok-out asks for field field70, which consent cns_w (entry 1) "
	    "does not cover"));
}

IT_TEST(replay_catches_a_token_under_a_suspended_agreement)
{
	struct xb x;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_3", "agr-c", 1, "f1", 0);
	xb_agreement(&x, "suspend", "agr-c", "suspended", "consent", 0);
	xb_token(&x, "tok-susp", "agr-c", "cns_3", 1, "f1");
	free(verify_built(s, &x, "suspended.export", 1, "entry 3: token jti "
	    "tok-susp issued under agreement agr-c version 1, which is "
	    "suspended (since entry 2), not active"));
}

IT_TEST(replay_catches_expiry_limits_and_consents_out_of_place)
{
	struct xb x;
	char *out;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 2);     /* 0 */
	xb_agreement(&x, "load", "agr-s", "active", "statute", 0);     /* 1 */
	xb_consent(&x, LE_CONSENT_GRANT, "cns_e", "agr-c", 1, "f1",
	    x.t + 15);                                                 /* 2 */
	xb_token(&x, "tok-ok", "agr-c", "cns_e", 1, "f1");            /* 3 */
	xb_token(&x, "tok-expired", "agr-c", "cns_e", 1, "f1");       /* 4 */
	xb_token(&x, "tok-stat", "agr-s", "cns_e", 2, "f1");          /* 5 */
	xb_consent(&x, LE_CONSENT_GRANT, "cns_l", "agr-c", 3, "f1", 0); /* 6 */
	xb_token(&x, "tok-l1", "agr-c", "cns_l", 3, "f1");            /* 7 */
	xb_token(&x, "tok-l2", "agr-c", "cns_l", 3, "f1");            /* 8 */
	xb_token(&x, "tok-l3", "agr-c", "cns_l", 3, "f1");            /* 9 */
	xb_token(&x, "tok-none", "agr-c", NULL, 6, "f1");             /* 10 */
	xb_token(&x, "tok-early", "agr-c", "cns_later", 4, "f1");     /* 11 */
	xb_token(&x, "tok-other", "agr-c", "cns_l", 5, "f1");         /* 12 */
	xb_consent(&x, LE_CONSENT_REVOKE, "cns_gone", "agr-c", 1, NULL, 0);
	xb_consent(&x, LE_CONSENT_GRANT, "cns_later", "agr-c", 4, "f1", 0);
	xb_token(&x, "tok-unknown", "agr-x", NULL, 4, "f1");          /* 15 */
	out = verify_built(s, &x, "many.export", 1, "result: FAILED");
	assert_contains(out, "entry 4: token jti tok-expired issued at ");
	assert_contains(out, "after consent cns_e expired at ");
	assert_contains(out, "entry 5: statutory token jti tok-stat carries "
	    "consent cns_e");
	assert_contains(out, "entry 9: token jti tok-l3 is transfer 3 on ");
	assert_contains(out, "under agreement agr-c, whose limit is 2 per day");
	assert_contains(out, "entry 10: token jti tok-none under "
	    "consent-based agreement agr-c names no consent");
	assert_contains(out, "entry 11: token jti tok-early names consent "
	    "cns_later, which no earlier entry granted");
	assert_contains(out, "entry 12: token jti tok-other is about another "
	    "subject than consent cns_l");
	assert_contains(out, "entry 13: revokes consent cns_gone, which no "
	    "earlier entry granted");
	assert_contains(out, "entry 15: token jti tok-unknown names agreement "
	    "agr-x version 1, which no earlier entry introduced");
	/* tok-ok, tok-l1 and tok-l2 broke nothing */
	assert_null(strstr(out, "tok-ok "));
	assert_null(strstr(out, "tok-l1 "));
	assert_null(strstr(out, "tok-l2 "));
	assert_contains(out, "result: FAILED, 8 findings");
	free(out);
}

IT_TEST(replay_warns_when_time_goes_back_and_fails_on_undecodable_entries)
{
	struct le_buf e;
	struct xb x;
	char *out;

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	x.t -= 100;
	xb_agreement(&x, "resume", "agr-c", "active", "consent", 0);
	out = verify_built(s, &x, "clock.export", 0, "result: OK");
	assert_contains(out, "warning: entry 1: its time ");
	assert_contains(out, "warnings: 1");
	free(out);

	xb_init(&x);
	xb_agreement(&x, "load", "agr-c", "active", "consent", 0);
	le_begin(&e, LE_TOKEN, x.t);
	le_str(&e, T_EVENT, "issue");
	e.b[0] = 0x02;                  /* a format version that is not 1 */
	xb_add(&x, &e);
	le_begin(&e, LE_TOKEN, x.t);
	le_str(&e, T_EVENT, "issue");   /* a token with hardly anything */
	xb_add(&x, &e);
	out = verify_built(s, &x, "undecodable.export", 1,
	    "entry 1: does not decode: entry format version 2");
	assert_contains(out, "entry 2: token entry has no agreement field");
	free(out);
}

/* ---- the stored log changed behind the broker's back (last: it stays) --- */

IT_TEST(stored_entry_changed_in_lmdb_is_a_root_mismatch)
{
	char store[PATH_MAX], key[24], exp[PATH_MAX];
	unsigned char *copy;
	struct creds c;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;

	auditor(s, &c);
	tmp_path(s, "lmdb.export", exp);
	settle(s);
	AUDIT_OK_("result: OK", "verify", "--broker", s->base, "--cert",
	    c.cert, "--key", c.key, "--ca", c.ca, "--vkey", vkey);
	assert_int_equal(it_server_stop(s), 0);

	/* One byte of entry 14 (the last byte of its last field). */
	it_fmt(store, sizeof(store), "%s/store", s->data);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, store, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "log_entries", 0, &dbi), 0);
	snprintf(key, sizeof(key), "%016llx", 14ULL);
	k.mv_size = 16;
	k.mv_data = key;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	copy = malloc(v.mv_size);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[v.mv_size - 1] ^= 0x01;
	v.mv_data = copy;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	free(copy);

	assert_int_equal(it_server_start(s), 0);
	AUDIT_BAD_("root mismatch: entries give ", "verify", "--broker",
	    s->base, "--cert", c.cert, "--key", c.key, "--ca", c.ca, "--vkey",
	    vkey);
	/* The export carries the changed entry too. */
	export_log(s, exp);
	AUDIT_BAD_("root mismatch", "verify", "--log", exp, "--vkey", vkey);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    checkpoint_and_verify_pass_after_grants_revokes_and_tokens),
		cmocka_unit_test(
		    verify_reads_the_vkey_from_a_file_and_rejects_a_wrong_one),
		cmocka_unit_test(
		    verify_without_the_auditor_role_sees_entries_missing),
		cmocka_unit_test(prove_jti_shows_a_new_token_included),
		cmocka_unit_test(usage_errors_exit_2),
		cmocka_unit_test(
		    python_check_agrees_on_the_live_checkpoint_and_catches_tampering),
		cmocka_unit_test(
		    verify_since_a_saved_checkpoint_passes_as_the_log_grows),
		cmocka_unit_test(forged_earlier_checkpoint_is_not_consistent),
		cmocka_unit_test(tampered_export_files_are_caught),
		cmocka_unit_test(replay_of_a_lawful_log_passes),
		cmocka_unit_test(
		    replay_catches_a_token_after_its_consent_was_revoked),
		cmocka_unit_test(
		    replay_catches_a_token_whose_fields_exceed_its_consent),
		cmocka_unit_test(
		    replay_compares_fields_by_name_beyond_64_distinct_fields),
		cmocka_unit_test(
		    replay_catches_a_token_under_a_suspended_agreement),
		cmocka_unit_test(
		    replay_catches_expiry_limits_and_consents_out_of_place),
		cmocka_unit_test(
		    replay_warns_when_time_goes_back_and_fails_on_undecodable_entries),
		cmocka_unit_test(stored_entry_changed_in_lmdb_is_a_root_mismatch),
		IT_SIGTERM_TEST,
	};
	int failed;

	it_init();
	failed = cmocka_run_group_tests(tests, setup, it_group_teardown);
	return it_finish(failed);
}
