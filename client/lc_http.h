/* libconsent's HTTP calls (libcurl), with bounded bodies and retries. */
#ifndef LC_HTTP_H
#define LC_HTTP_H

#include <stddef.h>

#include <curl/curl.h>

#include "consent.h"

#define LC_HTTP_MAX_BODY (1024 * 1024)

struct lc_http_opts {
	const char *ca_file;
	const char *cert_file;     /* NULL: no client certificate */
	const char *key_file;
	long connect_timeout_ms;
	long total_timeout_ms;
	int max_retries;           /* on connection errors and 5xx */
	long backoff_ms;
	struct lc_share *share;    /* NULL, or shared connections and sessions */
};

/*
 * One request: GET when form is NULL, else POST form
 * (application/x-www-form-urlencoded). bearer adds "Authorization: Bearer".
 * On any HTTP answer returns CONSENT_OK with *status and *body (NUL-
 * terminated, caller frees). Retries connection failures and 5xx answers
 * (with doubling backoff), never 4xx.
 */
consent_err lc_http(const struct lc_http_opts *o, const char *url,
    const char *form, const char *bearer, long *status, char **body,
    size_t *body_len);

/* Connections, TLS sessions and DNS shared safely across threads. */
struct lc_share;
struct lc_share *lc_share_new(void);
void lc_share_free(struct lc_share *s);

/* Makes sure curl_global_init ran once. */
void lc_http_global_init(void);

#endif
