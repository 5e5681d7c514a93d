/* consentctl request, fetch and verify: libconsent from the shell. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "b64.h"
#include "config.h"
#include "consent.h"
#include "ctl.h"
#include "fsu.h"
#include "jsonu.h"

#define CTL_MAX_FIELDS 128
#define CTL_MAX_TOKEN 16384

struct ctl_opts {
	const char *data, *party, *cert, *key, *ca, *broker, *issuer;
	const char *agreement, *subject, *purpose, *fields, *url;
	const char *token, *jwks, *provider, *presenter;
	char fbuf[8192];
	const char *fv[CTL_MAX_FIELDS];
	size_t nf;
	char pcert[PATH_MAX], pkey[PATH_MAX], pca[PATH_MAX];
	char burl[300], iss[300];
};

enum { O_DATA = 1000, O_PARTY, O_CERT, O_KEY, O_CA, O_BROKER, O_ISSUER,
	O_AGREEMENT, O_SUBJECT, O_PURPOSE, O_FIELDS, O_URL, O_TOKEN, O_JWKS,
	O_PROVIDER, O_PRESENTER, O_HELP };

static const struct option ctl_long[] = {
	{ "data", required_argument, NULL, O_DATA },
	{ "party", required_argument, NULL, O_PARTY },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "ca", required_argument, NULL, O_CA },
	{ "broker", required_argument, NULL, O_BROKER },
	{ "issuer", required_argument, NULL, O_ISSUER },
	{ "agreement", required_argument, NULL, O_AGREEMENT },
	{ "subject", required_argument, NULL, O_SUBJECT },
	{ "purpose", required_argument, NULL, O_PURPOSE },
	{ "fields", required_argument, NULL, O_FIELDS },
	{ "url", required_argument, NULL, O_URL },
	{ "token", required_argument, NULL, O_TOKEN },
	{ "jwks", required_argument, NULL, O_JWKS },
	{ "provider", required_argument, NULL, O_PROVIDER },
	{ "presenter-cert", required_argument, NULL, O_PRESENTER },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 }
};

static int
parse_opts(int argc, char **argv, struct ctl_opts *o, const char *usage)
{
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", ctl_long, NULL)) != -1) {
		switch (ch) {
		case O_DATA: o->data = optarg; break;
		case O_PARTY: o->party = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_CA: o->ca = optarg; break;
		case O_BROKER: o->broker = optarg; break;
		case O_ISSUER: o->issuer = optarg; break;
		case O_AGREEMENT: o->agreement = optarg; break;
		case O_SUBJECT: o->subject = optarg; break;
		case O_PURPOSE: o->purpose = optarg; break;
		case O_FIELDS: o->fields = optarg; break;
		case O_URL: o->url = optarg; break;
		case O_TOKEN: o->token = optarg; break;
		case O_JWKS: o->jwks = optarg; break;
		case O_PROVIDER: o->provider = optarg; break;
		case O_PRESENTER: o->presenter = optarg; break;
		case 'h':
		case O_HELP:
			printf("%s", usage);
			return 1;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	return 0;
}

/* Fills cert/key/ca and the broker URL and issuer from --data and --party. */
static int
resolve(struct ctl_opts *o, int need_party)
{
	struct config cfg;
	char path[PATH_MAX], err[512];

	if (o->data != NULL) {
		config_defaults(&cfg);
		if (fsu_join(path, sizeof(path), o->data, CONFIG_FILE) != 0 ||
		    config_load_file(&cfg, path, 1, err, sizeof(err)) != 0) {
			fprintf(stderr, "consentctl: %s\n", err);
			return -1;
		}
		snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", o->data);
		if (config_finish(&cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "consentctl: %s\n", err);
			return -1;
		}
		snprintf(o->burl, sizeof(o->burl), "%s", cfg.issuer);
		snprintf(o->iss, sizeof(o->iss), "%s", cfg.issuer);
		if (o->party != NULL) {
			snprintf(o->pcert, sizeof(o->pcert), "%s/pki/%s.crt", o->data,
			    o->party);
			snprintf(o->pkey, sizeof(o->pkey), "%s/pki/%s.key", o->data,
			    o->party);
			if (o->cert == NULL)
				o->cert = o->pcert;
			if (o->key == NULL)
				o->key = o->pkey;
		}
		snprintf(o->pca, sizeof(o->pca), "%s/pki/ca.crt", o->data);
		if (o->ca == NULL)
			o->ca = o->pca;
		if (o->broker == NULL)
			o->broker = o->burl;
		if (o->issuer == NULL)
			o->issuer = o->iss;
	}
	if (need_party && (o->cert == NULL || o->key == NULL)) {
		fprintf(stderr, "consentctl: give --data DIR --party ID, or --cert "
		    "and --key\n");
		return -1;
	}
	if (o->ca == NULL || o->broker == NULL) {
		fprintf(stderr, "consentctl: give --data DIR, or --ca and "
		    "--broker\n");
		return -1;
	}
	return 0;
}

static int
split_fields(struct ctl_opts *o)
{
	char *p, *save = NULL;
	int n;

	if (o->fields == NULL)
		return 0;
	n = snprintf(o->fbuf, sizeof(o->fbuf), "%s", o->fields);
	if (n < 0 || (size_t)n >= sizeof(o->fbuf)) {
		fprintf(stderr, "consentctl: --fields too long\n");
		return -1;
	}
	for (p = strtok_r(o->fbuf, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (o->nf == CTL_MAX_FIELDS) {
			fprintf(stderr, "consentctl: at most %d fields\n",
			    CTL_MAX_FIELDS);
			return -1;
		}
		o->fv[o->nf++] = p;
	}
	return 0;
}

static consent_client *
make_client(const struct ctl_opts *o)
{
	struct consent_client_opts co;
	consent_client *c = NULL;
	char detail[512];

	memset(&co, 0, sizeof(co));
	co.broker_url = o->broker;
	co.cert_file = o->cert;
	co.key_file = o->key;
	co.ca_file = o->ca;
	if (consent_client_new(&co, &c, detail, sizeof(detail)) != CONSENT_OK) {
		fprintf(stderr, "consentctl: %s\n", detail);
		return NULL;
	}
	return c;
}

static const char request_usage[] =
    "usage: consentctl request --data DIR --party ID --agreement ID\n"
    "           --subject ID --purpose P --fields F1,F2,...\n"
    "           [--cert FILE --key FILE --ca FILE --broker URL]\n"
    "Asks the broker for a transfer token and prints it.\n";

int
ctl_request(int argc, char **argv)
{
	struct ctl_opts o;
	struct consent_transfer t;
	consent_client *c;
	consent_err rc;
	char *token = NULL;
	int r;

	if ((r = parse_opts(argc, argv, &o, request_usage)) != 0)
		return r == 1 ? 0 : 2;
	if (o.party == NULL)
		o.party = "ird";
	if (resolve(&o, 1) != 0 || split_fields(&o) != 0)
		return 2;
	if (o.agreement == NULL || o.subject == NULL || o.purpose == NULL ||
	    o.nf == 0) {
		fprintf(stderr, "%s", request_usage);
		return 2;
	}
	if ((c = make_client(&o)) == NULL)
		return 1;
	t.agreement = o.agreement;
	t.subject = o.subject;
	t.purpose = o.purpose;
	t.fields = o.fv;
	t.nfields = o.nf;
	rc = consent_client_token(c, &t, &token, NULL);
	if (rc != CONSENT_OK)
		fprintf(stderr, "consentctl: %s: %s\n", consent_strerror(rc),
		    consent_client_detail(c));
	else
		printf("%s\n", token);
	consent_free(token);
	consent_client_free(c);
	return rc == CONSENT_OK ? 0 : 1;
}

static const char fetch_usage[] =
    "usage: consentctl fetch --data DIR --party ID --agreement ID\n"
    "           --subject ID --purpose P --fields F1,F2,... --url URL\n"
    "           [--cert FILE --key FILE --ca FILE --broker URL]\n"
    "Gets a transfer token and calls the provider's URL with it; prints\n"
    "the provider's answer. Exits 0 on a 2xx answer, 1 otherwise.\n";

int
ctl_fetch(int argc, char **argv)
{
	struct ctl_opts o;
	struct consent_transfer t;
	consent_client *c;
	consent_err rc;
	char *body = NULL;
	size_t len = 0;
	long status = 0;
	int r;

	if ((r = parse_opts(argc, argv, &o, fetch_usage)) != 0)
		return r == 1 ? 0 : 2;
	if (o.party == NULL)
		o.party = "ird";
	if (resolve(&o, 1) != 0 || split_fields(&o) != 0)
		return 2;
	if (o.agreement == NULL || o.subject == NULL || o.purpose == NULL ||
	    o.nf == 0 || o.url == NULL) {
		fprintf(stderr, "%s", fetch_usage);
		return 2;
	}
	if ((c = make_client(&o)) == NULL)
		return 1;
	t.agreement = o.agreement;
	t.subject = o.subject;
	t.purpose = o.purpose;
	t.fields = o.fv;
	t.nfields = o.nf;
	rc = consent_client_fetch(c, &t, o.url, &status, &body, &len);
	if (rc != CONSENT_OK) {
		fprintf(stderr, "consentctl: %s: %s\n", consent_strerror(rc),
		    consent_client_detail(c));
	} else {
		fwrite(body, 1, len, stdout);
		if (len > 0 && body[len - 1] != '\n')
			putchar('\n');
		if (status < 200 || status > 299)
			fprintf(stderr, "consentctl: provider answered HTTP %ld\n",
			    status);
	}
	consent_free(body);
	consent_client_free(c);
	return rc == CONSENT_OK && status >= 200 && status <= 299 ? 0 : 1;
}

/* Prints one base64url JSON part of the token, pretty, or a note. */
static void
print_part(const char *label, const char *b64, size_t len)
{
	unsigned char *raw = malloc(b64_decoded_max(len) + 1);
	size_t n = 0;
	json_t *j = NULL;
	char *s = NULL;

	if (raw != NULL && b64url_decode(b64, len, raw, &n) == 0)
		j = json_loadb((const char *)raw, n, 0, NULL);
	if (j != NULL)
		s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s: %s\n", label, s != NULL ? s : "(not base64url JSON)");
	free(s);
	json_decref(j);
	free(raw);
}

static int
read_token(const char *arg, char *buf, size_t len)
{
	size_t n;

	if (strcmp(arg, "-") != 0) {
		if (strlen(arg) >= len)
			return -1;
		snprintf(buf, len, "%s", arg);
		return 0;
	}
	n = fread(buf, 1, len - 1, stdin);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n > 0 ? 0 : -1;
}

static unsigned char *
cert_der(const char *path, size_t *len)
{
	unsigned char *der = NULL;
	X509 *x = NULL;
	FILE *f;
	int n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return NULL;
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return NULL;
	*len = (size_t)n;
	return der;
}

static const char verify_usage[] =
    "usage: consentctl verify --data DIR --token TOKEN|- --provider ID\n"
    "           --presenter-cert FILE [--fields F1,F2,...]\n"
    "           [--jwks FILE | --broker URL] [--issuer ISS] [--ca FILE]\n"
    "Verifies a transfer token as the provider ID would, for a release to\n"
    "the client whose certificate is FILE (PEM); prints the decoded header\n"
    "and claims and the verdict. Does not record the token as used.\n"
    "Exits 0 when valid, 1 when not, 2 on usage errors.\n";

int
ctl_verify(int argc, char **argv)
{
	struct consent_verifier_opts vo;
	struct consent_claims cl = { 0 };
	struct ctl_opts o;
	consent_verifier *v = NULL;
	static char token[CTL_MAX_TOKEN];
	char detail[512], jwks_url[400];
	unsigned char *der = NULL;
	const char *dot1, *dot2;
	size_t derlen = 0;
	consent_err rc;
	int r, ret = 1;

	if ((r = parse_opts(argc, argv, &o, verify_usage)) != 0)
		return r == 1 ? 0 : 2;
	if (resolve(&o, 0) != 0 || split_fields(&o) != 0)
		return 2;
	if (o.token == NULL || o.provider == NULL || o.presenter == NULL) {
		fprintf(stderr, "%s", verify_usage);
		return 2;
	}
	if (read_token(o.token, token, sizeof(token)) != 0) {
		fprintf(stderr, "consentctl: no token, or longer than %d bytes\n",
		    CTL_MAX_TOKEN);
		return 2;
	}
	if ((der = cert_der(o.presenter, &derlen)) == NULL) {
		fprintf(stderr, "consentctl: %s: not a PEM certificate\n",
		    o.presenter);
		return 2;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot2 != NULL) {
		print_part("header", token, (size_t)(dot1 - token));
		print_part("claims", dot1 + 1, (size_t)(dot2 - dot1 - 1));
	}
	memset(&vo, 0, sizeof(vo));
	vo.provider = o.provider;
	vo.issuer = o.issuer;
	vo.ca_file = o.ca;
	if (o.jwks != NULL)
		vo.jwks_file = o.jwks;
	else {
		snprintf(jwks_url, sizeof(jwks_url), "%s/.well-known/jwks.json",
		    o.broker);
		vo.jwks_url = jwks_url;
	}
	if (vo.issuer == NULL) {
		fprintf(stderr, "consentctl: give --issuer or --data\n");
		goto out;
	}
	if (consent_verifier_new(&vo, &v, detail, sizeof(detail)) !=
	    CONSENT_OK) {
		fprintf(stderr, "consentctl: %s\n", detail);
		goto out;
	}
	rc = consent_verify_peek(v, token, der, derlen, o.fv, o.nf, &cl);
	if (rc == CONSENT_OK) {
		printf("verdict: valid for provider %s: subject %s, agreement %s "
		    "v%u, purpose %s, %zu field(s)\n", o.provider, cl.subject,
		    cl.agreement, cl.agreement_version, cl.purpose, cl.nfields);
		ret = 0;
	} else
		printf("verdict: invalid: %s: %s\n", consent_strerror(rc),
		    consent_verifier_detail(v));
out:
	consent_claims_free(&cl);
	consent_verifier_free(v);
	OPENSSL_free(der);
	return ret;
}
