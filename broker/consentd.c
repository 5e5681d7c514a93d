/* consentd: the consent broker daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/thread.h>
#include <openssl/evp.h>

#include "broker.h"
#include "fsu.h"
#include "http.h"
#include "jwk.h"
#include "malloc_tune.h"
#include "pki.h"
#include "version.h"

/*
 * While it waits for signals, the main thread gives the heap's free memory
 * back to the system every MEM_TRIM_S seconds. glibc keeps what a burst of
 * requests freed (the TLS buffers of many busy connections, interleaved
 * with longer-lived objects) resident in its arenas for good: after 20 s
 * of 128 busy connections RssAnon stayed at 10 MB under a calm load, and
 * malloc_trim(0) brought it to 5 MB; the live heap itself does not grow
 * (docs/security.md, "Load soak"). A trim locks one arena at a time, for
 * a few milliseconds in all (4 ms median under load on 2 shared cores).
 * It cannot return the free top of a thread's own arena (glibc trims only
 * the main arena's top): the writer thread keeps up to its arena's trim
 * threshold, about 4 MiB, resident.
 */
#define MEM_TRIM_S 10

/* The next of sigs (blocked in every thread); SIGTERM if waiting fails. */
static int
wait_signal(const sigset_t *sigs)
{
	const struct timespec every = { MEM_TRIM_S, 0 };
	int sig;

	for (;;) {
		sig = sigtimedwait(sigs, NULL, &every);
		if (sig > 0)
			return sig;
		if (errno == EAGAIN) {
#ifdef __GLIBC__
			(void)malloc_trim(0);
#endif
			continue;
		}
		if (errno != EINTR)
			return SIGTERM;
	}
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: consentd --data DIR [options]\n"
	    "\n"
	    "The consent broker: issues short-lived, sender-bound transfer tokens\n"
	    "under data-sharing agreements and citizens' consent.\n"
	    "\n"
	    "options:\n"
	    "  --data DIR         data directory (made by 'consentctl init')\n"
	    "  --listen HOST:PORT address to serve HTTPS on (default 127.0.0.1:8443)\n"
	    "  --threads N        worker threads (default: one per core)\n"
	    "  --dev              development mode: trust the data dir's\n"
	    "                     development citizen issuer\n"
	    "  --issuer URL       \"iss\" of issued tokens (default from the config\n"
	    "                     file, else https://LISTEN)\n"
	    "  --set KEY=VALUE    set any configuration key (see docs/operations.md)\n"
	    "  --check-config     load everything, say OK and exit\n"
	    "  --version          print the version and exit\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "Configuration is read from DIR/consentd.conf first; options override\n"
	    "it. One JSON line per request is logged to standard error.\n"
	    "SIGTERM or SIGINT: stop accepting, finish in-flight requests, commit,\n"
	    "exit 0.\n"
	    "\n"
	    "environment:\n"
	    "  GLIBC_TUNABLES     consentd restarts itself once with\n"
	    "                     glibc.malloc.tcache_count=0 added, unless a\n"
	    "                     tcache_count is set here already (see\n"
	    "                     docs/operations.md, \"Memory allocator\")\n");
}

static char *
discovery_json(const struct broker *b)
{
	const char *iss = b->cfg.issuer;
	char tok[320], intro[320], jwks[320], agr[320], cons[320];
	json_t *j;
	char *s;

	snprintf(tok, sizeof(tok), "%s/oauth2/token", iss);
	snprintf(intro, sizeof(intro), "%s/oauth2/introspect", iss);
	snprintf(jwks, sizeof(jwks), "%s/.well-known/jwks.json", iss);
	snprintf(agr, sizeof(agr), "%s/v1/agreements", iss);
	snprintf(cons, sizeof(cons), "%s/v1/consents", iss);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:b, "
	    "s:[s], s:[s], s:b, s:s}",
	    "issuer", iss, "token_endpoint", tok,
	    "introspection_endpoint", intro, "jwks_uri", jwks,
	    "agreements_endpoint", agr, "consents_endpoint", cons,
	    "grant_types_supported", "client_credentials",
	    "token_endpoint_auth_methods_supported", "tls_client_auth",
	    "tls_client_certificate_bound_access_tokens", 1,
	    "authorization_details_types_supported", "consented_transfer",
	    "token_signing_alg_values_supported", "ES256",
	    "dev", b->cfg.dev, "version", CB_VERSION);
	if (j == NULL)
		return NULL;
	if (b->dev_issuer[0] != '\0')
		json_object_set_new(j, "dev_citizen_issuer",
		    json_string(b->dev_issuer));
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

static int
data_path(char *out, size_t outlen, const char *dir, const char *rel)
{
	return fsu_join(out, outlen, dir, rel);
}

/* Loads keys, TLS and citizen issuers; 0 or -1 with err. */
static int
load_material(struct broker *b, char *err, size_t errlen)
{
	const struct config *c = &b->cfg;
	char p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], kid[JWK_B64_SHA256_LEN];
	char why[512], *jwks = NULL;
	EVP_PKEY *dev = NULL;
	size_t len;
	int rc = -1;

	if (data_path(p1, sizeof(p1), c->data_dir, DATA_SIGNING_DIR) != 0)
		goto toolong;
	atomic_store(&b->keys, keyset_load(p1, why, sizeof(why)));
	if (broker_keys(b) == NULL) {
		snprintf(err, errlen, "token-signing keys: %s", why);
		goto out;
	}
	if (data_path(p1, sizeof(p1), c->data_dir, DATA_PKI_DIR "/broker.crt") ||
	    data_path(p2, sizeof(p2), c->data_dir, DATA_PKI_DIR "/broker.key") ||
	    data_path(p3, sizeof(p3), c->data_dir, DATA_PKI_DIR "/ca.crt"))
		goto toolong;
	b->tls = server_tls_ctx(p1, p2, p3, err, errlen);
	if (b->tls == NULL)
		goto out;
	b->citizens = citizen_auth_new();
	if (b->citizens == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (c->dev) {
		if (data_path(p1, sizeof(p1), c->data_dir, DATA_DEV_ISSUER_KEY))
			goto toolong;
		dev = pki_load_key(p1, why, sizeof(why));
		if (dev == NULL || jwk_thumbprint(dev, kid) != 0) {
			snprintf(err, errlen, "development issuer key: %s", why);
			goto out;
		}
		snprintf(b->dev_issuer, sizeof(b->dev_issuer), "%s%s", c->issuer,
		    DEV_ISSUER_SUFFIX);
		if (citizen_auth_add_key(b->citizens, b->dev_issuer,
		    c->citizen_audience, dev, kid, err, errlen) != 0)
			goto out;
	}
	b->sessions = sessions_new();
	if (b->sessions == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (c->dev) {
		/* Our own identity provider for the citizen page. */
		b->devidp = devidp_new(b->dev_issuer, dev, kid);
		b->oidc = b->devidp != NULL ? oidc_new_dev(b->devidp,
		    c->oidc_client_id, c->oidc_redirect_uri, err, errlen) : NULL;
		if (b->oidc == NULL || oidc_add_key(b->oidc, kid, dev) != 0) {
			if (b->devidp == NULL || b->oidc != NULL)
				snprintf(err, errlen, "development sign-in: setup "
				    "failed");
			goto out;
		}
	} else if (c->oidc_issuer[0] != '\0') {
		b->oidc = oidc_new_discover(c->oidc_issuer, c->oidc_client_id,
		    c->oidc_client_secret, c->oidc_redirect_uri, c->oidc_ca_file,
		    why, sizeof(why));
		if (b->oidc == NULL) {
			snprintf(err, errlen, "oidc_issuer: %s", why);
			goto out;
		}
	}
	if (c->citizen_issuer[0] != '\0') {
		if (fsu_read_file(c->citizen_jwks, 1 << 20, &jwks, &len) != 0) {
			snprintf(err, errlen, "citizen_jwks %.512s: %s", c->citizen_jwks,
			    strerror(errno));
			goto out;
		}
		if (citizen_auth_add_jwks(b->citizens, c->citizen_issuer,
		    c->citizen_audience, jwks, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "citizen_jwks %.256s: %.256s",
			    c->citizen_jwks, why);
			goto out;
		}
	}
	rc = 0;
	goto out;
toolong:
	snprintf(err, errlen, "data directory path too long");
out:
	EVP_PKEY_free(dev);
	free(jwks);
	return rc;
}

#define MAX_RELOADS 256

/* Enough descriptors for max_connections plus the store and logs. */
static void
raise_fd_limit(const struct config *c)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)c->max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
	    want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		fprintf(stderr, "{\"event\":\"fd_limit\",\"limit\":%llu,"
		    "\"max_connections\":%d}\n", (unsigned long long)rl.rlim_cur,
		    c->max_connections);
}

/*
 * SIGHUP: reload the token-signing keys (after consentctl keys rotate).
 * The old set is kept until exit: workers may still hold a pointer to it.
 */
static void
reload_keys(struct broker *b, struct keyset **old, int *nold)
{
	char path[PATH_MAX], why[512];
	struct keyset *ks;
	const char *kid;

	if (*nold == MAX_RELOADS) {
		fprintf(stderr, "{\"event\":\"reload_refused\",\"reason\":"
		    "\"too many reloads; restart consentd\"}\n");
		return;
	}
	if (fsu_join(path, sizeof(path), b->cfg.data_dir, DATA_SIGNING_DIR) ||
	    (ks = keyset_load(path, why, sizeof(why))) == NULL) {
		fprintf(stderr, "{\"event\":\"reload_failed\",\"keys\":"
		    "\"unchanged\"}\n");
		return;
	}
	old[(*nold)++] = atomic_exchange(&b->keys, ks);
	(void)keyset_current(ks, &kid);
	fprintf(stderr, "{\"event\":\"keys_reloaded\",\"current\":\"%s\","
	    "\"published\":%zu}\n", kid, keyset_count(ks));
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "dev", no_argument, NULL, 'D' },
		{ "issuer", required_argument, NULL, 'i' },
		{ "set", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	/* Options are applied after the file, so keep them until then. */
	const char *o_listen = NULL, *o_threads = NULL, *o_issuer = NULL;
	const char *o_set[32] = { NULL };
	int n_set = 0, o_dev = 0, check = 0, ch, sig, i, rc = 1;
	struct broker b;
	struct keyset *old_keys[MAX_RELOADS];
	int nold = 0;
	struct writer_hooks hooks;
	struct server *srv = NULL;
	char err[1024], path[PATH_MAX], key[64], *eq;
	sigset_t sigs;
	struct writer_stats ws;

	/* First of all: it may start consentd again (malloc_tune.h). */
	if (malloc_tune(argv, err, sizeof(err)) != 0)
		fprintf(stderr, "{\"event\":\"malloc_default\","
		    "\"reason\":\"%s\"}\n", err);
	memset(&b, 0, sizeof(b));
	config_defaults(&b.cfg);
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (snprintf(b.cfg.data_dir, sizeof(b.cfg.data_dir), "%s",
			    optarg) >= (int)sizeof(b.cfg.data_dir)) {
				fprintf(stderr, "consentd: --data: path too long\n");
				return 2;
			}
			break;
		case 'l': o_listen = optarg; break;
		case 't': o_threads = optarg; break;
		case 'D': o_dev = 1; break;
		case 'i': o_issuer = optarg; break;
		case 's':
			if (n_set == (int)(sizeof(o_set) / sizeof(o_set[0]))) {
				fprintf(stderr, "consentd: too many --set\n");
				return 2;
			}
			o_set[n_set++] = optarg;
			break;
		case 'C': check = 1; break;
		case 'V': printf("consentd %s\n", CB_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || b.cfg.data_dir[0] == '\0') {
		usage(stderr);
		return 2;
	}
	if (fsu_join(path, sizeof(path), b.cfg.data_dir, CONFIG_FILE) != 0 ||
	    config_load_file(&b.cfg, path, 1, err, sizeof(err)) != 0)
		goto cfgfail;
	if ((o_listen != NULL &&
	    config_set(&b.cfg, "listen", o_listen, err, sizeof(err)) != 0) ||
	    (o_threads != NULL &&
	    config_set(&b.cfg, "threads", o_threads, err, sizeof(err)) != 0) ||
	    (o_issuer != NULL &&
	    config_set(&b.cfg, "issuer", o_issuer, err, sizeof(err)) != 0))
		goto cfgfail;
	for (i = 0; i < n_set && o_set[i] != NULL; i++) {
		eq = strchr(o_set[i], '=');
		if (eq == NULL || eq == o_set[i] ||
		    (size_t)(eq - o_set[i]) >= sizeof(key)) {
			snprintf(err, sizeof(err), "--set %s: expected KEY=VALUE",
			    o_set[i]);
			goto cfgfail;
		}
		memcpy(key, o_set[i], (size_t)(eq - o_set[i]));
		key[eq - o_set[i]] = '\0';
		if (config_set(&b.cfg, key, eq + 1, err, sizeof(err)) != 0)
			goto cfgfail;
	}
	if (o_dev)
		b.cfg.dev = 1;
	if (config_finish(&b.cfg, err, sizeof(err)) != 0)
		goto cfgfail;
	if (load_material(&b, err, sizeof(err)) != 0)
		goto cfgfail;
	if (fsu_join(path, sizeof(path), b.cfg.data_dir, DATA_STORE_DIR) != 0) {
		snprintf(err, sizeof(err), "data directory path too long");
		goto cfgfail;
	}
	b.store = store_open_lmdb(path, b.cfg.map_bytes, 0, err, sizeof(err));
	if (b.store == NULL)
		goto cfgfail;
	b.log = tlog_open_dir(b.store, b.cfg.data_dir, b.cfg.log_origin, err,
	    sizeof(err));
	if (b.log == NULL)
		goto cfgfail;
	b.status = status_open(b.store, err, sizeof(err));
	if (b.status == NULL)
		goto cfgfail;
	if (check) {
		printf("consentd: configuration OK (%s)\n", b.cfg.data_dir);
		rc = 0;
		goto out;
	}
	b.discovery = discovery_json(&b);
	if (b.discovery == NULL) {
		snprintf(err, sizeof(err), "out of memory");
		goto cfgfail;
	}
	raise_fd_limit(&b.cfg);
	if (evthread_use_pthreads() != 0) {
		snprintf(err, sizeof(err), "libevent without thread support");
		goto cfgfail;
	}
	/* Signals go to sigwait below, never to the worker threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The log always has a signed checkpoint, even before any entry. */
	if (tlog_maybe_checkpoint(b.log, 0, 1, NULL) != 0) {
		snprintf(err, sizeof(err), "cannot sign the audit log checkpoint");
		goto cfgfail;
	}
	tlog_writer_hooks(b.log, b.cfg.log_checkpoint_ms, &hooks);
	b.writer = writer_start(b.store, b.cfg.group_commit_max, &hooks);
	if (b.writer == NULL) {
		snprintf(err, sizeof(err), "cannot start the writer thread");
		goto cfgfail;
	}
	srv = server_start(&b, err, sizeof(err));
	if (srv == NULL)
		goto cfgfail;
	fprintf(stderr, "{\"event\":\"listening\",\"url\":\"https://%s:%u\","
	    "\"threads\":%d,\"dev\":%s,\"issuer\":\"%s\",\"version\":\"%s\","
	    "\"tcache_count\":%d}\n",
	    b.cfg.listen_host, server_port(srv), b.cfg.threads,
	    b.cfg.dev ? "true" : "false", b.cfg.issuer, CB_VERSION,
	    malloc_tune_tcache());
	for (;;) {
		sig = wait_signal(&sigs);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		reload_keys(&b, old_keys, &nold);
	}
	fprintf(stderr, "{\"event\":\"stopping\",\"signal\":%d}\n", sig);
	server_stop(srv, 10);
	writer_get_stats(b.writer, &ws);
	fprintf(stderr, "{\"event\":\"writer\",\"groups\":%llu,\"ops\":%llu,"
	    "\"failed_groups\":%llu,\"max_group\":%llu,\"syncs\":%llu,"
	    "\"apply_ms\":%llu,\"commit_ms\":%llu}\n", ws.groups, ws.ops,
	    ws.failed_groups, ws.max_group, ws.syncs, ws.apply_us / 1000, ws.commit_us / 1000);
	writer_stop(b.writer);
	b.writer = NULL;
	fprintf(stderr, "{\"event\":\"stopped\"}\n");
	rc = 0;
	goto out;
cfgfail:
	fprintf(stderr, "consentd: %s\n", err);
	rc = 1;
out:
	server_free(srv);
	writer_stop(b.writer);
	tlog_free(b.log);
	status_free(b.status);
	store_close(b.store);
	keyset_free(broker_keys(&b));
	for (i = 0; i < nold; i++)
		keyset_free(old_keys[i]);
	citizen_auth_free(b.citizens);
	oidc_free(b.oidc);
	devidp_free(b.devidp);
	sessions_free(b.sessions);
	SSL_CTX_free(b.tls);
	free(b.discovery);
	return rc;
}
