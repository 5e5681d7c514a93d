/* HTTP(S) with libcurl for libconsent: mTLS, timeouts, bounded retries. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "lc_http.h"
#include "lc_internal.h"

struct buf {
	char *p;
	size_t n;
	int overflow;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t add = size * nmemb;
	char *np;

	if (b->n + add > LC_HTTP_MAX_BODY) {
		b->overflow = 1;
		return 0;
	}
	np = realloc(b->p, b->n + add + 1);
	if (np == NULL)
		return 0;
	memcpy(np + b->n, ptr, add);
	b->n += add;
	np[b->n] = '\0';
	b->p = np;
	return add;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void
global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
lc_http_global_init(void)
{
	pthread_once(&global_once, global_init);
}

struct lc_share {
	CURLSH *sh;
	pthread_mutex_t mu[CURL_LOCK_DATA_LAST];
};

static void
share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
	struct lc_share *s = arg;

	(void)h;
	(void)a;
	pthread_mutex_lock(&s->mu[d]);
}

static void
share_unlock(CURL *h, curl_lock_data d, void *arg)
{
	struct lc_share *s = arg;

	(void)h;
	pthread_mutex_unlock(&s->mu[d]);
}

struct lc_share *
lc_share_new(void)
{
	struct lc_share *s;
	int i;

	lc_http_global_init();
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->mu[i], NULL);
	s->sh = curl_share_init();
	if (s->sh == NULL) {
		lc_share_free(s);
		return NULL;
	}
	curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	return s;
}

void
lc_share_free(struct lc_share *s)
{
	int i;

	if (s == NULL)
		return;
	if (s->sh != NULL)
		curl_share_cleanup(s->sh);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->mu[i]);
	free(s);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static int
retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

consent_err
lc_http(const struct lc_http_opts *o, const char *url, const char *form,
    const char *bearer, long *status, char **body, size_t *body_len)
{
	char errbuf[CURL_ERROR_SIZE], auth[8192];
	struct curl_slist *hdrs = NULL;
	struct buf b = { NULL, 0, 0 };
	long backoff = o->backoff_ms > 0 ? o->backoff_ms : 200;
	int attempt, tries = 1 + (o->max_retries > 0 ? o->max_retries : 0);
	consent_err rc = CONSENT_E_NETWORK;
	CURLcode cc = CURLE_OK;
	CURL *h = NULL;
	int n;

	*status = 0;
	*body = NULL;
	if (body_len != NULL)
		*body_len = 0;
	lc_http_global_init();
	if (bearer != NULL) {
		n = snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
		if (n < 0 || (size_t)n >= sizeof(auth))
			return lc_fail(CONSENT_E_INVALID_ARG, "token too long");
		if ((hdrs = curl_slist_append(hdrs, auth)) == NULL)
			return lc_fail(CONSENT_E_NOMEM, "out of memory");
	}
	for (attempt = 0; attempt < tries; attempt++) {
		if (attempt > 0) {
			sleep_ms(backoff);
			backoff *= 2;
		}
		free(b.p);
		b.p = NULL;
		b.n = 0;
		b.overflow = 0;
		h = curl_easy_init();
		if (h == NULL) {
			rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
			break;
		}
		errbuf[0] = '\0';
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
		if (o->cert_file != NULL) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert_file);
			curl_easy_setopt(h, CURLOPT_SSLKEY, o->key_file);
		}
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		    o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
		    o->total_timeout_ms > 0 ? o->total_timeout_ms : 15000L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
		if (hdrs != NULL)
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		if (form != NULL)
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		if (o->share != NULL)
			curl_easy_setopt(h, CURLOPT_SHARE, o->share->sh);
		cc = curl_easy_perform(h);
		if (cc == CURLE_OK) {
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
			curl_easy_cleanup(h);
			h = NULL;
			if (*status >= 500 && attempt + 1 < tries)
				continue;
			*body = b.p != NULL ? b.p : calloc(1, 1);
			if (*body == NULL) {
				rc = lc_fail(CONSENT_E_NOMEM, "out of memory");
				break;
			}
			if (body_len != NULL)
				*body_len = b.n;
			b.p = NULL;
			rc = CONSENT_OK;
			break;
		}
		curl_easy_cleanup(h);
		h = NULL;
		if (b.overflow) {
			rc = lc_fail(CONSENT_E_HTTP, "%s: answer larger than %d bytes",
			    url, LC_HTTP_MAX_BODY);
			break;
		}
		rc = lc_fail(cc == CURLE_OPERATION_TIMEDOUT ? CONSENT_E_TIMEOUT :
		    CONSENT_E_NETWORK, "%s: %s", url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		if (!retryable(cc))
			break;
	}
	free(b.p);
	curl_slist_free_all(hdrs);
	OPENSSL_cleanse(auth, sizeof(auth));
	return rc;
}
