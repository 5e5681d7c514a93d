/* consentctl: the operator's and developer's tool for a consent broker. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agreement.h"
#include "audit.h"
#include "broker.h"
#include "config.h"
#include "ctl.h"
#include "fsu.h"
#include "jsonu.h"
#include "jwk.h"
#include "jws.h"
#include "keyset.h"
#include "pki.h"
#include "registry.h"
#include "store.h"
#include "timeu.h"
#include "tlog.h"
#include "version.h"

#define CERT_DAYS 825
#define CA_DAYS 3650
#define DEV_TOKEN_TTL 3600
#define MAX_AGREEMENT_FILES 64

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: consentctl COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  init --dev --data DIR [--agreements DIR] [--issuer URL]\n"
	    "      Create a development data directory: LMDB store, dev CA,\n"
	    "      broker TLS certificate, client certificates of the example\n"
	    "      parties, token-signing key, log key, development citizen\n"
	    "      issuer key. Registers the example parties and loads the\n"
	    "      example agreements as active. Refuses an existing DIR.\n"
	    "  dev citizen-token --data DIR --subject ID [--ttl SECONDS]\n"
	    "      Print a citizen ID token (JWT) signed by the development\n"
	    "      issuer; consentd --dev accepts it as a citizen bearer token.\n"
	    "  request --data DIR --party ID --agreement ID --subject ID\n"
	    "          --purpose P --fields F1,F2,...\n"
	    "      Ask the broker for a transfer token as party ID; print it.\n"
	    "  fetch   (as request) --url URL\n"
	    "      Get a token and call a provider with it; print the answer.\n"
	    "  verify --data DIR --token TOKEN|- --provider ID\n"
	    "         --presenter-cert FILE [--fields F1,...]\n"
	    "      Verify a token as provider ID would; print claims and verdict.\n"
	    "  keys rotate --data DIR\n"
	    "      New token-signing key; the old one stays published until its\n"
	    "      tokens have expired. SIGHUP makes consentd use it.\n"
	    "  log vkey --data DIR\n"
	    "      Print the audit log's verifier key (C2SP signed-note form).\n"
	    "  log export --data DIR --out FILE\n"
	    "      Write the latest checkpoint and its entries to FILE, for\n"
	    "      auditors without network access (consent-audit --log).\n"
	    "  version\n"
	    "      Print the version.\n"
	    "\n"
	    "Run 'consentctl COMMAND --help' for a command's options.\n");
}

/* ---- init --------------------------------------------------------------- */

struct party_def {
	const char *id;
	const char *name;
	const char *roles[4];
};

static const struct party_def dev_parties[] = {
	{ "dia", "Department of Internal Affairs", { "provider", NULL } },
	{ "ird", "Inland Revenue", { "requester", NULL } },
	{ "msd", "Ministry of Social Development",
	    { "requester", "provider", NULL } },
	{ "wcc", "Wellington City Council", { "requester", NULL } },
	{ "registrar", "Agreement Registrar", { "registrar", NULL } },
	{ "auditor", "Office of the Privacy Commissioner (auditor)",
	    { "auditor", NULL } },
	{ "admin", "Broker Administrator", { "admin", NULL } },
};

static int
pathf(char *out, size_t outlen, const char *dir, const char *rel)
{
	if (fsu_join(out, outlen, dir, rel) != 0) {
		fprintf(stderr, "consentctl: path too long: %s/%s\n", dir, rel);
		return -1;
	}
	return 0;
}

static int
write_key(const char *dir, const char *rel, EVP_PKEY *k)
{
	char p[PATH_MAX];

	if (pathf(p, sizeof(p), dir, rel) != 0)
		return -1;
	if (pki_write_key(p, k) != 0) {
		fprintf(stderr, "consentctl: %s: %s\n", p, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_cert(const char *dir, const char *rel, X509 *c)
{
	char p[PATH_MAX];

	if (pathf(p, sizeof(p), dir, rel) != 0)
		return -1;
	if (pki_write_cert(p, c) != 0) {
		fprintf(stderr, "consentctl: %s: %s\n", p, strerror(errno));
		return -1;
	}
	return 0;
}

/* Makes DIR/pki/<name>.crt|.key signed by the CA; pin_out gets its pin. */
static int
make_leaf(const char *dir, X509 *ca, EVP_PKEY *cakey, const char *name,
    const char *cn, int server, char pin_out[65])
{
	static const char *const dns[] = { "localhost", NULL };
	static const char *const ips[] = { "127.0.0.1", "::1", NULL };
	EVP_PKEY *k = pki_gen_p256();
	X509 *c = NULL;
	char rel[128];
	int rc = -1;

	if (k == NULL)
		goto out;
	c = pki_make_cert(ca, cakey, k, cn, server, server ? dns : NULL,
	    server ? ips : NULL, CERT_DAYS);
	if (c == NULL) {
		fprintf(stderr, "consentctl: cannot make certificate for %s\n",
		    name);
		goto out;
	}
	snprintf(rel, sizeof(rel), DATA_PKI_DIR "/%s.key", name);
	if (write_key(dir, rel, k) != 0)
		goto out;
	snprintf(rel, sizeof(rel), DATA_PKI_DIR "/%s.crt", name);
	if (write_cert(dir, rel, c) != 0)
		goto out;
	if (pin_out != NULL && jwk_spki_pin_hex(c, pin_out) != 0)
		goto out;
	rc = 0;
out:
	X509_free(c);
	EVP_PKEY_free(k);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Loads every *.json in adir into the store as active, approved by all. */
static int
load_agreements(struct store_txn *txn, struct tlog *log, const char *adir,
    int64_t now)
{
	char *names[MAX_AGREEMENT_FILES], p[PATH_MAX], err[512], ts[32];
	struct agreement *a = NULL;
	json_t *rec = NULL, *appr;
	struct dirent *de;
	DIR *d;
	size_t n = 0, i, j, len;
	char *buf = NULL;
	int rc = -1;
	enum store_err se;

	d = opendir(adir);
	if (d == NULL) {
		fprintf(stderr, "consentctl: agreements directory %s: %s\n", adir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < MAX_AGREEMENT_FILES) {
		len = strlen(de->d_name);
		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0 &&
		    (names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	timeu_format(now, ts, sizeof(ts));
	for (i = 0; i < n; i++) {
		if (pathf(p, sizeof(p), adir, names[i]) != 0)
			goto out;
		if (fsu_read_file(p, AGR_MAX_DOC_BYTES, &buf, &len) != 0) {
			fprintf(stderr, "consentctl: %s: %s\n", p, strerror(errno));
			goto out;
		}
		a = agreement_parse(buf, len, err, sizeof(err));
		free(buf);
		buf = NULL;
		if (a == NULL) {
			fprintf(stderr, "consentctl: %s: %s\n", p, err);
			goto out;
		}
		rec = registry_agreement_record(a, "active", "consentctl-init",
		    now);
		appr = rec != NULL ? json_object_get(rec, "approvals") : NULL;
		if (appr == NULL)
			goto out;
		json_object_set_new(appr, a->provider, json_string(ts));
		for (j = 0; j < a->nrecipients; j++)
			json_object_set_new(appr, a->recipients[j], json_string(ts));
		if ((se = registry_agreement_put(txn, rec)) != STORE_OK ||
		    (se = audit_agreement(log, txn, now, "load", "consentctl-init",
		    rec)) != STORE_OK) {
			fprintf(stderr, "consentctl: %s: %s\n", p,
			    store_strerror(se));
			goto out;
		}
		printf("  agreement %s v%u (%s) active\n", a->id, a->version,
		    a->hash);
		json_decref(rec);
		rec = NULL;
		agreement_free(a);
		a = NULL;
	}
	if (n == 0) {
		fprintf(stderr, "consentctl: no *.json agreements in %s\n", adir);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	json_decref(rec);
	agreement_free(a);
	free(buf);
	return rc;
}

/* Where the example agreements are: --agreements, ./agreements/examples,
 * or next to the executable's ../agreements/examples. */
static int
find_agreements(const char *given, const char *argv0, char *out,
    size_t outlen)
{
	char exe[PATH_MAX], *slash;
	struct stat st;
	ssize_t n;

	(void)argv0;
	if (given != NULL)
		return snprintf(out, outlen, "%s", given) < (int)outlen ? 0 : -1;
	if (stat("agreements/examples", &st) == 0 && S_ISDIR(st.st_mode))
		return snprintf(out, outlen, "agreements/examples") <
		    (int)outlen ? 0 : -1;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (snprintf(out, outlen, "%s/../agreements/examples", exe) <
			    (int)outlen && stat(out, &st) == 0)
				return 0;
			if (snprintf(out, outlen,
			    "%s/../share/consent-broker/agreements", exe) <
			    (int)outlen && stat(out, &st) == 0)
				return 0;
		}
	}
	return -1;
}

static int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dev", no_argument, NULL, 'D' },
		{ "data", required_argument, NULL, 'd' },
		{ "agreements", required_argument, NULL, 'a' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *adir_opt = NULL;
	const char *issuer = "https://127.0.0.1:8443";
	char p[PATH_MAX], adir[PATH_MAX], err[512], pin[65], conf[1024];
	char kid[JWK_B64_SHA256_LEN];
	EVP_PKEY *cakey = NULL, *k = NULL;
	X509 *ca = NULL;
	struct store *s = NULL;
	struct store_txn *txn = NULL;
	struct tlog *log = NULL;
	struct config cfg;
	json_t *party = NULL;
	int64_t now = timeu_now();
	struct stat st;
	enum store_err se;
	int dev = 0, ch, rc = 1, n;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'D': dev = 1; break;
		case 'd': dir = optarg; break;
		case 'a': adir_opt = optarg; break;
		case 'i': issuer = optarg; break;
		case 'h':
			printf("usage: consentctl init --dev --data DIR "
			    "[--agreements DIR] [--issuer URL]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (dir == NULL || optind != argc) {
		fprintf(stderr, "usage: consentctl init --dev --data DIR "
		    "[--agreements DIR] [--issuer URL]\n");
		return 2;
	}
	if (!dev) {
		fprintf(stderr, "consentctl: init makes a development data "
		    "directory with a self-made CA; say so with --dev\n");
		return 2;
	}
	if (strncmp(issuer, "https://", 8) != 0) {
		fprintf(stderr, "consentctl: --issuer must be an https:// URL\n");
		return 2;
	}
	if (find_agreements(adir_opt, argv[0], adir, sizeof(adir)) != 0) {
		fprintf(stderr, "consentctl: cannot find the example agreements; "
		    "give --agreements DIR\n");
		return 2;
	}
	if (stat(dir, &st) == 0) {
		fprintf(stderr, "consentctl: %s already exists; init never touches "
		    "an existing data directory (remove it first)\n", dir);
		return 1;
	}
	if (fsu_mkdir_p(dir, 0700) != 0) {
		fprintf(stderr, "consentctl: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("creating development data directory %s\n", dir);
	if (pathf(p, sizeof(p), dir, DATA_PKI_DIR) != 0 ||
	    fsu_mkdir_p(p, 0700) != 0 ||
	    pathf(p, sizeof(p), dir, "keys") != 0 || fsu_mkdir_p(p, 0700) != 0) {
		fprintf(stderr, "consentctl: %s: %s\n", p, strerror(errno));
		goto out;
	}
	/* PKI: a dev CA, the broker's server certificate, party clients. */
	cakey = pki_gen_p256();
	ca = cakey != NULL ? pki_make_ca(cakey, "consent-broker development CA",
	    CA_DAYS) : NULL;
	if (ca == NULL || write_key(dir, DATA_PKI_DIR "/ca.key", cakey) != 0 ||
	    write_cert(dir, DATA_PKI_DIR "/ca.crt", ca) != 0)
		goto out;
	if (make_leaf(dir, ca, cakey, "broker", "localhost", 1, NULL) != 0)
		goto out;
	printf("  pki: ca.crt, broker.crt (localhost, 127.0.0.1, ::1)\n");
	/* Keys: token signing (ES256), log (Ed25519), dev citizen issuer. */
	if (pathf(p, sizeof(p), dir, DATA_SIGNING_DIR) != 0 ||
	    keyset_create(p, kid, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: token-signing key: %s\n", err);
		goto out;
	}
	printf("  token-signing key %s\n", kid);
	if ((k = pki_gen_ed25519()) == NULL ||
	    write_key(dir, DATA_LOG_KEY, k) != 0)
		goto out;
	EVP_PKEY_free(k);
	if ((k = pki_gen_p256()) == NULL ||
	    write_key(dir, DATA_DEV_ISSUER_KEY, k) != 0)
		goto out;
	EVP_PKEY_free(k);
	k = NULL;
	if (tlog_create_secret(dir) != 0) {
		fprintf(stderr, "consentctl: pseudonym key: %s\n", strerror(errno));
		goto out;
	}
	printf("  log key (Ed25519), pseudonym key, development citizen-issuer "
	    "key\n");
	n = snprintf(conf, sizeof(conf),
	    "# consentd configuration (see docs/operations.md)\n"
	    "listen = 127.0.0.1:8443\n"
	    "issuer = %s\n"
	    "dev = true\n", issuer);
	if (n < 0 || (size_t)n >= sizeof(conf) ||
	    pathf(p, sizeof(p), dir, CONFIG_FILE) != 0 ||
	    fsu_write_file(p, conf, (size_t)n, 0600, 1) != 0) {
		fprintf(stderr, "consentctl: %s: %s\n", p, strerror(errno));
		goto out;
	}
	/* Store: parties with their certificate pins, example agreements. */
	if (pathf(p, sizeof(p), dir, DATA_STORE_DIR) != 0)
		goto out;
	s = store_open_lmdb(p, (size_t)1 << 30, 1, err, sizeof(err));
	if (s == NULL) {
		fprintf(stderr, "consentctl: %s\n", err);
		goto out;
	}
	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	if (config_set(&cfg, "issuer", issuer, err, sizeof(err)) != 0 ||
	    config_finish(&cfg, err, sizeof(err)) != 0 ||
	    (log = tlog_open_dir(s, dir, cfg.log_origin, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "consentctl: %s\n", err);
		goto out;
	}
	if ((se = store_begin(s, 1, &txn)) != STORE_OK) {
		fprintf(stderr, "consentctl: store: %s\n", store_strerror(se));
		goto out;
	}
	for (i = 0; i < sizeof(dev_parties) / sizeof(dev_parties[0]); i++) {
		if (make_leaf(dir, ca, cakey, dev_parties[i].id,
		    dev_parties[i].id, 0, pin) != 0)
			goto out;
		se = registry_put_party(txn, dev_parties[i].id,
		    dev_parties[i].name, dev_parties[i].roles, pin);
		if (se == STORE_OK)
			se = store_get(txn, ST_PARTIES, dev_parties[i].id, &party);
		if (se == STORE_OK)
			se = audit_party(log, txn, now, "consentctl-init", party);
		json_decref(party);
		party = NULL;
		if (se != STORE_OK) {
			fprintf(stderr, "consentctl: party %s: %s\n",
			    dev_parties[i].id, store_strerror(se));
			goto out;
		}
		printf("  party %-9s %s\n", dev_parties[i].id, dev_parties[i].name);
	}
	if (load_agreements(txn, log, adir, now) != 0)
		goto out;
	se = store_commit(txn);
	txn = NULL;
	if (se != STORE_OK) {
		fprintf(stderr, "consentctl: store commit: %s\n",
		    store_strerror(se));
		goto out;
	}
	tlog_committed(log);
	if (tlog_maybe_checkpoint(log, 0, 1, NULL) != 0 ||
	    tlog_vkey(log, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: cannot sign the log checkpoint\n");
		goto out;
	}
	printf("  audit log %s, verifier key:\n    %s\n", cfg.log_origin, err);
	printf("done. start the broker with: consentd --data %s --dev\n", dir);
	rc = 0;
out:
	store_abort(txn);
	tlog_free(log);
	store_close(s);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cakey);
	X509_free(ca);
	if (rc != 0)
		fprintf(stderr, "consentctl: init failed; remove %s before trying "
		    "again\n", dir);
	return rc;
}

/* ---- log vkey, log export ------------------------------------------------ */

/* Opens DIR's store and log (read-mostly); 0 or -1 with a message. */
static int
open_log(const char *dir, struct store **s, struct tlog **log)
{
	char p[PATH_MAX], err[512];
	struct config cfg;

	config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
	if (pathf(p, sizeof(p), dir, CONFIG_FILE) != 0 ||
	    config_load_file(&cfg, p, 1, err, sizeof(err)) != 0 ||
	    config_finish(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: %s\n", err);
		return -1;
	}
	if (pathf(p, sizeof(p), dir, DATA_STORE_DIR) != 0)
		return -1;
	*s = store_open_lmdb(p, cfg.map_bytes, 0, err, sizeof(err));
	if (*s == NULL) {
		fprintf(stderr, "consentctl: %s\n", err);
		return -1;
	}
	*log = tlog_open_dir(*s, dir, cfg.log_origin, err, sizeof(err));
	if (*log == NULL) {
		fprintf(stderr, "consentctl: %s\n", err);
		store_close(*s);
		*s = NULL;
		return -1;
	}
	return 0;
}

static void
put_be32(FILE *f, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v };

	fwrite(b, 1, 4, f);
}

static int
cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "usage: consentctl log vkey --data DIR\n"
	    "       consentctl log export --data DIR --out FILE\n"
	    "vkey prints the log's verifier key (C2SP note form);\n"
	    "export writes the latest checkpoint and every entry it covers to\n"
	    "FILE, for consent-audit verify --log FILE.\n";
	const char *dir = NULL, *outp = NULL, *sub;
	struct store *s = NULL;
	struct store_txn *txn = NULL;
	struct tlog *log = NULL;
	struct checkpoint cp;
	const unsigned char *d;
	char vk[512], err[256], *note = NULL, *sep;
	FILE *f = NULL;
	uint64_t i;
	size_t n;
	int ch, rc = 1;

	if (argc < 2) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	sub = argv[1];
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'o': outp = optarg; break;
		case 'h': printf("%s", usage_text); return 0;
		default: fprintf(stderr, "%s", usage_text); return 2;
		}
	}
	if (dir == NULL || (strcmp(sub, "vkey") != 0 &&
	    strcmp(sub, "export") != 0) ||
	    (strcmp(sub, "export") == 0 && outp == NULL)) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	if (open_log(dir, &s, &log) != 0)
		return 1;
	if (strcmp(sub, "vkey") == 0) {
		if (tlog_vkey(log, vk, sizeof(vk)) != 0)
			goto out;
		printf("%s\n", vk);
		rc = 0;
		goto out;
	}
	note = tlog_checkpoint_note(log);
	if (note == NULL || (sep = strstr(note, "\n\n")) == NULL ||
	    checkpoint_parse(note, (size_t)(sep - note) + 1, &cp, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: the log has no signed checkpoint "
		    "yet\n");
		goto out;
	}
	if (store_begin(s, 0, &txn) != STORE_OK)
		goto out;
	f = fopen(outp, "wbx");
	if (f == NULL) {
		fprintf(stderr, "consentctl: %s: %s\n", outp, strerror(errno));
		goto out;
	}
	fprintf(f, "consent-broker-log-export 1\ncheckpoint %zu\n%s"
	    "entries %llu\n", strlen(note), note, (unsigned long long)cp.size);
	for (i = 0; i < cp.size; i++) {
		if (tlog_entry(txn, i, &d, &n) != STORE_OK) {
			fprintf(stderr, "consentctl: entry %llu missing\n",
			    (unsigned long long)i);
			goto out;
		}
		put_be32(f, (uint32_t)n);
		fwrite(d, 1, n, f);
	}
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
		fprintf(stderr, "consentctl: %s: write failed\n", outp);
		goto out;
	}
	fprintf(stderr, "exported %llu entries and the checkpoint to %s\n",
	    (unsigned long long)cp.size, outp);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(note);
	store_abort(txn);
	tlog_free(log);
	store_close(s);
	return rc;
}

/* ---- keys rotate --------------------------------------------------------- */

static int
cmd_keys(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char usage_text[] =
	    "usage: consentctl keys rotate --data DIR\n"
	    "Makes a new token-signing key the current one. The old key stays\n"
	    "in the JWKS until every token it signed has expired. Then send\n"
	    "SIGHUP to consentd (or restart it) to sign with the new key.\n";
	char p[PATH_MAX], err[512], kid[JWK_B64_SHA256_LEN];
	const char *dir = NULL;
	struct config cfg;
	int ch;

	if (argc < 2 || strcmp(argv[1], "rotate") != 0) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'h': printf("%s", usage_text); return 0;
		default: fprintf(stderr, "%s", usage_text); return 2;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	config_defaults(&cfg);
	if (pathf(p, sizeof(p), dir, CONFIG_FILE) != 0 ||
	    config_load_file(&cfg, p, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	if (pathf(p, sizeof(p), dir, DATA_SIGNING_DIR) != 0 ||
	    keyset_rotate(p, (long)cfg.max_token_ttl_s + cfg.clock_skew_s + 60,
	    kid, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	printf("%s\n", kid);
	fprintf(stderr, "new signing key %s; send SIGHUP to consentd to use it\n",
	    kid);
	return 0;
}

/* ---- dev citizen-token -------------------------------------------------- */

static int
cmd_citizen_token(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "subject", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 't' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *subject = NULL, *issuer = NULL;
	char p[PATH_MAX], err[512], iss[300], kid[JWK_B64_SHA256_LEN];
	char *claims = NULL, *token = NULL, *end;
	struct config cfg;
	EVP_PKEY *key = NULL;
	json_t *c = NULL;
	long ttl = DEV_TOKEN_TTL;
	int64_t now;
	int ch, rc = 1;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 's': subject = optarg; break;
		case 'i': issuer = optarg; break;
		case 't':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || ttl < -86400 ||
			    ttl > 86400) {
				fprintf(stderr, "consentctl: --ttl: seconds from "
				    "-86400 to 86400 (negative makes an expired "
				    "token, for tests)\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: consentctl dev citizen-token --data DIR "
			    "--subject ID [--ttl SECONDS] [--issuer URL]\n"
			    "--issuer: the broker's issuer when consentd runs with "
			    "--issuer (default: DIR/consentd.conf)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (dir == NULL || subject == NULL || optind != argc) {
		fprintf(stderr, "usage: consentctl dev citizen-token --data DIR "
		    "--subject ID [--ttl SECONDS]\n");
		return 2;
	}
	config_defaults(&cfg);
	if (snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir) >=
	    (int)sizeof(cfg.data_dir) ||
	    pathf(p, sizeof(p), dir, CONFIG_FILE) != 0 ||
	    config_load_file(&cfg, p, 1, err, sizeof(err)) != 0 ||
	    (issuer != NULL && config_set(&cfg, "issuer", issuer, err,
	    sizeof(err)) != 0) ||
	    config_finish(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "consentctl: %s\n", err);
		return 1;
	}
	if (pathf(p, sizeof(p), dir, DATA_DEV_ISSUER_KEY) != 0)
		return 1;
	key = pki_load_key(p, err, sizeof(err));
	if (key == NULL || jwk_thumbprint(key, kid) != 0) {
		fprintf(stderr, "consentctl: development issuer key: %s\n", err);
		goto out;
	}
	snprintf(iss, sizeof(iss), "%s%s", cfg.issuer, DEV_ISSUER_SUFFIX);
	now = timeu_now();
	c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "iss", iss, "sub",
	    subject, "aud", cfg.citizen_audience, "iat", (json_int_t)now,
	    "nbf", (json_int_t)(ttl < 0 ? now + ttl - 60 : now),
	    "exp", (json_int_t)(now + ttl));
	claims = c != NULL ? json_dumps(c, JSON_COMPACT) : NULL;
	if (claims == NULL || jws_sign_es256(key, kid, "JWT", claims,
	    strlen(claims), &token) != JWS_OK) {
		fprintf(stderr, "consentctl: cannot sign the token\n");
		goto out;
	}
	printf("%s\n", token);
	rc = 0;
out:
	EVP_PKEY_free(key);
	json_decref(c);
	free(claims);
	free(token);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		printf("consentctl %s\n", CB_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "keys") == 0)
		return cmd_keys(argc - 1, argv + 1);
	if (strcmp(argv[1], "log") == 0)
		return cmd_log(argc - 1, argv + 1);
	if (strcmp(argv[1], "request") == 0)
		return ctl_request(argc - 1, argv + 1);
	if (strcmp(argv[1], "fetch") == 0)
		return ctl_fetch(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return ctl_verify(argc - 1, argv + 1);
	if (strcmp(argv[1], "dev") == 0 && argc >= 3 &&
	    strcmp(argv[2], "citizen-token") == 0)
		return cmd_citizen_token(argc - 2, argv + 2);
	fprintf(stderr, "consentctl: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
