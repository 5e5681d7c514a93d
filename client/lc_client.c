/* libconsent requester: transfer tokens from the broker, calls to providers. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "jsonu.h"
#include "lc_http.h"
#include "lc_internal.h"
#include "timeu.h"

#define LC_CACHE_MAX 256
#define LC_CACHE_KEY_MAX 4096
#define LC_REUSE_PERCENT 80

struct cached {
	char *key;          /* canonical transfer */
	char *token;
	int64_t obtained;   /* Unix seconds */
	int64_t expires;
};

struct consent_client {
	char *broker_url, *token_url, *cert_file, *key_file, *ca_file;
	struct lc_http_opts http;
	struct lc_share *share;
	pthread_mutex_t mu;         /* guards the cache */
	struct cached cache[LC_CACHE_MAX];
	size_t ncache;
};

static int
file_readable(const char *path)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	fclose(f);
	return 1;
}

/* Loads cert and key and checks they match; the client fails early. */
static consent_err
check_cert_key(const char *cert_file, const char *key_file)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	FILE *f;
	consent_err rc = CONSENT_OK;

	if ((f = fopen(cert_file, "r")) == NULL)
		return lc_fail(CONSENT_E_IO, "%s: %s", cert_file, strerror(errno));
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(key_file, "r")) == NULL) {
		X509_free(cert);
		return lc_fail(CONSENT_E_IO, "%s: %s", key_file, strerror(errno));
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (cert == NULL)
		rc = lc_fail(CONSENT_E_CONFIG, "%s: not a PEM certificate",
		    cert_file);
	else if (key == NULL)
		rc = lc_fail(CONSENT_E_CONFIG, "%s: not a PEM private key",
		    key_file);
	else if (X509_check_private_key(cert, key) != 1)
		rc = lc_fail(CONSENT_E_CONFIG, "%s does not match %s", key_file,
		    cert_file);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

void
consent_client_free(consent_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncache; i++) {
		free(c->cache[i].key);
		if (c->cache[i].token != NULL)
			OPENSSL_cleanse(c->cache[i].token,
			    strlen(c->cache[i].token));
		free(c->cache[i].token);
	}
	lc_share_free(c->share);
	pthread_mutex_destroy(&c->mu);
	free(c->broker_url);
	free(c->token_url);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_file);
	free(c);
}

consent_err
consent_client_new(const struct consent_client_opts *o, consent_client **out,
    char *detail, size_t detail_len)
{
	consent_client *c = NULL;
	consent_err rc;
	size_t n;

	lc_clear();
	if (out != NULL)
		*out = NULL;
	if (out == NULL || o == NULL) {
		rc = lc_fail(CONSENT_E_INVALID_ARG, "no options or no out pointer");
		goto fail;
	}
	if (o->broker_url == NULL || o->cert_file == NULL ||
	    o->key_file == NULL || o->ca_file == NULL) {
		rc = lc_fail(CONSENT_E_INVALID_ARG, "broker_url, cert_file, "
		    "key_file and ca_file are required");
		goto fail;
	}
	if (strncmp(o->broker_url, "https://", 8) != 0) {
		rc = lc_fail(CONSENT_E_INVALID_ARG, "broker_url must be https://");
		goto fail;
	}
	if (!file_readable(o->ca_file)) {
		rc = lc_fail(CONSENT_E_IO, "%s: %s", o->ca_file, strerror(errno));
		goto fail;
	}
	if ((rc = check_cert_key(o->cert_file, o->key_file)) != CONSENT_OK)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&c->mu, NULL);
	c->broker_url = strdup(o->broker_url);
	n = strlen(o->broker_url);
	while (n > 0 && c->broker_url != NULL && c->broker_url[n - 1] == '/')
		c->broker_url[--n] = '\0';
	c->token_url = malloc(n + sizeof("/oauth2/token"));
	c->cert_file = strdup(o->cert_file);
	c->key_file = strdup(o->key_file);
	c->ca_file = strdup(o->ca_file);
	c->share = lc_share_new();
	if (c->broker_url == NULL || c->token_url == NULL ||
	    c->cert_file == NULL || c->key_file == NULL || c->ca_file == NULL ||
	    c->share == NULL) {
		rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
		goto fail;
	}
	snprintf(c->token_url, n + sizeof("/oauth2/token"), "%s/oauth2/token",
	    c->broker_url);
	c->http.ca_file = c->ca_file;
	c->http.cert_file = c->cert_file;
	c->http.key_file = c->key_file;
	c->http.connect_timeout_ms = o->connect_timeout_ms;
	c->http.total_timeout_ms = o->total_timeout_ms;
	c->http.max_retries = o->max_retries == 0 ? 2 :
	    o->max_retries < 0 ? 0 : o->max_retries;
	c->http.backoff_ms = o->retry_backoff_ms;
	c->http.share = c->share;
	*out = c;
	return CONSENT_OK;
fail:
	lc_copy_detail(detail, detail_len);
	consent_client_free(c);
	return rc;
}

const char *
consent_client_detail(const consent_client *c)
{
	(void)c;
	return lc_detail();
}

/* "agreement\x1fsubject\x1fpurpose\x1ffield\x1e..." */
static int
cache_key(const struct consent_transfer *t, char *out, size_t outlen)
{
	size_t i, used;
	int n;

	n = snprintf(out, outlen, "%s\x1f%s\x1f%s\x1f", t->agreement,
	    t->subject, t->purpose);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	used = (size_t)n;
	for (i = 0; i < t->nfields; i++) {
		n = snprintf(out + used, outlen - used, "%s\x1e", t->fields[i]);
		if (n < 0 || (size_t)n >= outlen - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

static int
reusable(const struct cached *e, int64_t now)
{
	return now < e->obtained +
	    (e->expires - e->obtained) * LC_REUSE_PERCENT / 100;
}

/* A copy of a reusable cached token, or NULL. */
static char *
cache_get(consent_client *c, const char *key, int64_t now, int64_t *exp)
{
	char *tok = NULL;
	size_t i;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->ncache; i++)
		if (c->cache[i].key != NULL &&
		    strcmp(c->cache[i].key, key) == 0) {
			if (reusable(&c->cache[i], now)) {
				tok = strdup(c->cache[i].token);
				*exp = c->cache[i].expires;
			}
			break;
		}
	pthread_mutex_unlock(&c->mu);
	return tok;
}

static void
entry_clear(struct cached *e)
{
	free(e->key);
	if (e->token != NULL)
		OPENSSL_cleanse(e->token, strlen(e->token));
	free(e->token);
	memset(e, 0, sizeof(*e));
}

static void
cache_put(consent_client *c, const char *key, const char *token,
    int64_t now, int64_t exp)
{
	struct cached *slot = NULL;
	size_t i, oldest = 0;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->ncache && slot == NULL; i++)
		if (c->cache[i].key == NULL ||
		    strcmp(c->cache[i].key, key) == 0 ||
		    !reusable(&c->cache[i], now))
			slot = &c->cache[i];
	if (slot == NULL && c->ncache < LC_CACHE_MAX)
		slot = &c->cache[c->ncache++];
	if (slot == NULL) {
		for (i = 1; i < c->ncache; i++)
			if (c->cache[i].obtained < c->cache[oldest].obtained)
				oldest = i;
		slot = &c->cache[oldest];
	}
	entry_clear(slot);
	slot->key = strdup(key);
	slot->token = strdup(token);
	slot->obtained = now;
	slot->expires = exp;
	if (slot->key == NULL || slot->token == NULL)
		entry_clear(slot);   /* not cached; harmless */
	pthread_mutex_unlock(&c->mu);
}

void
consent_client_forget(consent_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->ncache; i++)
		entry_clear(&c->cache[i]);
	c->ncache = 0;
	pthread_mutex_unlock(&c->mu);
}

/* The form body of a token request; caller frees. */
static char *
token_form(const struct consent_transfer *t)
{
	json_t *det = NULL, *fields;
	char *js = NULL, *esc = NULL, *form = NULL;
	size_t i, n;

	fields = json_array();
	for (i = 0; fields != NULL && i < t->nfields; i++)
		json_array_append_new(fields, json_string(t->fields[i]));
	det = json_pack("[{s:s, s:s, s:s, s:o, s:s}]", "type",
	    "consented_transfer", "agreement", t->agreement, "subject",
	    t->subject, "fields", fields, "purpose", t->purpose);
	if (det == NULL || (js = json_dumps(det, JSON_COMPACT)) == NULL)
		goto out;
	esc = curl_easy_escape(NULL, js, 0);
	if (esc == NULL)
		goto out;
	n = strlen(esc) + 80;
	form = malloc(n);
	if (form != NULL)
		snprintf(form, n, "grant_type=client_credentials&"
		    "authorization_details=%s", esc);
out:
	curl_free(esc);
	free(js);
	json_decref(det);
	return form;
}

static consent_err
check_transfer(const struct consent_transfer *t)
{
	size_t i;

	if (t == NULL || t->agreement == NULL || t->subject == NULL ||
	    t->purpose == NULL || t->nfields == 0 || t->fields == NULL)
		return lc_fail(CONSENT_E_INVALID_ARG, "a transfer needs agreement, "
		    "subject, purpose and at least one field");
	for (i = 0; i < t->nfields; i++)
		if (t->fields[i] == NULL)
			return lc_fail(CONSENT_E_INVALID_ARG, "fields[%zu] is NULL",
			    i);
	return CONSENT_OK;
}

consent_err
consent_client_token(consent_client *c, const struct consent_transfer *t,
    char **token, int64_t *expires_at)
{
	char key[LC_CACHE_KEY_MAX], *form = NULL, *body = NULL;
	const char *at, *err, *desc;
	json_t *j = NULL;
	int64_t now = timeu_now(), exp = 0, ttl;
	long status;
	consent_err rc;
	char why[256];

	lc_clear();
	if (c == NULL || token == NULL)
		return lc_fail(CONSENT_E_INVALID_ARG, "client or token is NULL");
	*token = NULL;
	if ((rc = check_transfer(t)) != CONSENT_OK)
		return rc;
	if (cache_key(t, key, sizeof(key)) != 0)
		return lc_fail(CONSENT_E_INVALID_ARG, "transfer too large");
	if ((*token = cache_get(c, key, now, &exp)) != NULL) {
		if (expires_at != NULL)
			*expires_at = exp;
		return CONSENT_OK;
	}
	if ((form = token_form(t)) == NULL)
		return lc_fail(CONSENT_E_NOMEM, "out of memory");
	rc = lc_http(&c->http, c->token_url, form, NULL, &status, &body, NULL);
	free(form);
	if (rc != CONSENT_OK)
		return rc;
	j = jsonu_parse(body, strlen(body), 8, why, sizeof(why));
	if (status != 200) {
		if (j != NULL && jsonu_get_str(j, "error", &err) == 0) {
			if (jsonu_get_str(j, "error_description", &desc) != 0)
				desc = "";
			rc = lc_fail(status >= 400 && status < 500 ? CONSENT_E_DENIED :
			    CONSENT_E_HTTP, "HTTP %ld %s: %s", status, err, desc);
		} else
			rc = lc_fail(CONSENT_E_HTTP, "token endpoint answered HTTP "
			    "%ld", status);
		goto out;
	}
	if (j == NULL || jsonu_get_str(j, "access_token", &at) != 0 ||
	    jsonu_get_int(j, "expires_in", &ttl) != 0 || ttl <= 0) {
		rc = lc_fail(CONSENT_E_HTTP, "token endpoint answer has no "
		    "access_token and expires_in");
		goto out;
	}
	if ((*token = strdup(at)) == NULL) {
		rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
		goto out;
	}
	cache_put(c, key, at, now, now + ttl);
	if (expires_at != NULL)
		*expires_at = now + ttl;
	rc = CONSENT_OK;
out:
	json_decref(j);
	if (body != NULL)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	return rc;
}

consent_err
consent_client_get(consent_client *c, const char *url, const char *token,
    long *status, char **body, size_t *body_len)
{
	lc_clear();
	if (c == NULL || url == NULL || status == NULL || body == NULL)
		return lc_fail(CONSENT_E_INVALID_ARG, "NULL argument");
	return lc_http(&c->http, url, NULL, token, status, body, body_len);
}

/* Drops the cached token for t (used, or refused). */
static void
cache_drop(consent_client *c, const struct consent_transfer *t)
{
	char key[LC_CACHE_KEY_MAX];
	size_t i;

	if (cache_key(t, key, sizeof(key)) != 0)
		return;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->ncache; i++)
		if (c->cache[i].key != NULL && strcmp(c->cache[i].key, key) == 0)
			entry_clear(&c->cache[i]);
	pthread_mutex_unlock(&c->mu);
}

consent_err
consent_client_fetch(consent_client *c, const struct consent_transfer *t,
    const char *url, long *status, char **body, size_t *body_len)
{
	char *token = NULL;
	consent_err rc;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = consent_client_token(c, t, &token, NULL)) != CONSENT_OK)
			return rc;
		if (token == NULL)
			return lc_fail(CONSENT_E_NOMEM, "out of memory");
		rc = consent_client_get(c, url, token, status, body, body_len);
		OPENSSL_cleanse(token, strlen(token));
		free(token);
		token = NULL;
		/* Providers accept each token once: never offer it again. */
		cache_drop(c, t);
		if (rc != CONSENT_OK || *status != 401 || attempt == 1)
			return rc;
		/* Refused (e.g. it expired on the way): one fresh try. */
		free(*body);
		*body = NULL;
	}
	return rc;
}
