/* consentd configuration: defaults, file parser, validation. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 8443;
	c->threads = 0;
	c->map_bytes = (size_t)1 << 30;
	c->max_body_bytes = 64 * 1024;
	c->max_header_bytes = 16 * 1024;
	c->request_timeout_s = 30;
	c->request_deadline_s = 30;
	c->max_token_ttl_s = 600;
	c->clock_skew_s = 60;
	c->group_commit_max = 1024;
	c->log_checkpoint_ms = 1000;
	c->status_ttl_s = 30;
	c->session_ttl_s = 3600;
	c->max_connections = 4096;
	snprintf(c->oidc_client_id, sizeof(c->oidc_client_id),
	    "consent-broker");
	snprintf(c->citizen_audience, sizeof(c->citizen_audience),
	    "consent-broker");
}

static int
parse_long(const char *v, long lo, long hi, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int
set_str(char *dst, size_t dstlen, const char *v, const char *key, char *err,
    size_t errlen)
{
	int n = snprintf(dst, dstlen, "%s", v);

	if (n < 0 || (size_t)n >= dstlen) {
		snprintf(err, errlen, "%s: value too long (at most %zu bytes)",
		    key, dstlen - 1);
		return -1;
	}
	return 0;
}

int
config_set_listen(struct config *c, const char *hostport, char *err,
    size_t errlen)
{
	const char *colon = strrchr(hostport, ':'), *host = hostport;
	size_t hlen;
	long port;

	if (colon == NULL || colon == hostport ||
	    parse_long(colon + 1, 0, 65535, &port) != 0)
		goto bad;
	hlen = (size_t)(colon - hostport);
	/* "[::1]:8443": an IPv6 address in brackets. */
	if (hostport[0] == '[') {
		if (hlen < 3 || colon[-1] != ']')
			goto bad;
		host++;
		hlen -= 2;
	} else if (memchr(hostport, ':', hlen) != NULL)
		goto bad;
	if (hlen >= sizeof(c->listen_host)) {
		snprintf(err, errlen, "listen: host too long");
		return -1;
	}
	memcpy(c->listen_host, host, hlen);
	c->listen_host[hlen] = '\0';
	c->listen_port = (uint16_t)port;
	return 0;
bad:
	snprintf(err, errlen, "listen: expected HOST:PORT (e.g. 127.0.0.1:8443 "
	    "or [::1]:8443), got \"%.200s\"", hostport);
	return -1;
}

int
config_set(struct config *c, const char *key, const char *v, char *err,
    size_t errlen)
{
	long n;

	if (strcmp(key, "listen") == 0)
		return config_set_listen(c, v, err, errlen);
	if (strcmp(key, "issuer") == 0) {
		if (strncmp(v, "https://", 8) != 0) {
			snprintf(err, errlen, "issuer: must be an https:// URL");
			return -1;
		}
		return set_str(c->issuer, sizeof(c->issuer), v, key, err, errlen);
	}
	if (strcmp(key, "log_origin") == 0) {
		if (*v == '\0' || strpbrk(v, " +\t") != NULL) {
			snprintf(err, errlen, "log_origin: must be non-empty, "
			    "without spaces or '+'");
			return -1;
		}
		return set_str(c->log_origin, sizeof(c->log_origin), v, key, err,
		    errlen);
	}
#define STRKEY(name, field)                                              \
	if (strcmp(key, name) == 0)                                      \
		return set_str(c->field, sizeof(c->field), v, key, err, errlen);
	STRKEY("oidc_issuer", oidc_issuer)
	STRKEY("oidc_client_id", oidc_client_id)
	STRKEY("oidc_client_secret", oidc_client_secret)
	STRKEY("oidc_redirect_uri", oidc_redirect_uri)
	STRKEY("oidc_ca_file", oidc_ca_file)
#undef STRKEY
	if (strcmp(key, "citizen_issuer") == 0)
		return set_str(c->citizen_issuer, sizeof(c->citizen_issuer), v,
		    key, err, errlen);
	if (strcmp(key, "citizen_jwks") == 0)
		return set_str(c->citizen_jwks, sizeof(c->citizen_jwks), v, key,
		    err, errlen);
	if (strcmp(key, "citizen_audience") == 0)
		return set_str(c->citizen_audience, sizeof(c->citizen_audience),
		    v, key, err, errlen);
	if (strcmp(key, "dev") == 0) {
		if (strcmp(v, "true") == 0)
			c->dev = 1;
		else if (strcmp(v, "false") == 0)
			c->dev = 0;
		else {
			snprintf(err, errlen, "dev: must be true or false");
			return -1;
		}
		return 0;
	}
#define INTKEY(name, field, lo, hi, mul)                                   \
	if (strcmp(key, name) == 0) {                                      \
		if (parse_long(v, lo, hi, &n) != 0) {                      \
			snprintf(err, errlen,                              \
			    "%s: must be an integer from %ld to %ld", name,\
			    (long)(lo), (long)(hi));                       \
			return -1;                                         \
		}                                                          \
		c->field = (__typeof__(c->field))n * (mul);                \
		return 0;                                                  \
	}
	INTKEY("threads", threads, 0, CONFIG_MAX_THREADS, 1)
	INTKEY("map_size_mb", map_bytes, 16, 1024 * 1024, (size_t)1 << 20)
	INTKEY("max_body_bytes", max_body_bytes, 1024, 16 * 1024 * 1024, 1)
	INTKEY("max_header_bytes", max_header_bytes, 1024, 1024 * 1024, 1)
	INTKEY("request_timeout_s", request_timeout_s, 1, 3600, 1)
	INTKEY("request_deadline_s", request_deadline_s, 1, 3600, 1)
	INTKEY("max_token_ttl_s", max_token_ttl_s, 1, CONFIG_MAX_TOKEN_TTL, 1)
	INTKEY("clock_skew_s", clock_skew_s, 0, 600, 1)
	INTKEY("group_commit_max", group_commit_max, 1, 65536, 1)
	INTKEY("log_checkpoint_ms", log_checkpoint_ms, 10, 3600 * 1000, 1)
	INTKEY("status_ttl_s", status_ttl_s, 1, 3600, 1)
	INTKEY("session_ttl_s", session_ttl_s, 60, 86400, 1)
	INTKEY("max_connections", max_connections, 16, 1000000, 1)
#undef INTKEY
	snprintf(err, errlen, "unknown key \"%s\"", key);
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_load_file(struct config *c, const char *path, int optional, char *err,
    size_t errlen)
{
	FILE *f;
	char line[1024], why[512];
	char *k, *v, *eq;
	int lineno = 0, rc = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		if (optional && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%d: expected \"key = value\"",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		if (config_set(c, k, v, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int
config_finish(struct config *c, char *err, size_t errlen)
{
	long ncpu;
	int n;

	if (c->data_dir[0] == '\0') {
		snprintf(err, errlen, "no data directory (--data DIR)");
		return -1;
	}
	if (c->threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = ncpu < 1 ? 1 : ncpu > CONFIG_MAX_THREADS ?
		    CONFIG_MAX_THREADS : (int)ncpu;
	}
	if (c->issuer[0] == '\0') {
		n = snprintf(c->issuer, sizeof(c->issuer),
		    strchr(c->listen_host, ':') != NULL ? "https://[%s]:%u" :
		    "https://%s:%u", c->listen_host, (unsigned)c->listen_port);
		if (n < 0 || (size_t)n >= sizeof(c->issuer)) {
			snprintf(err, errlen, "issuer: too long");
			return -1;
		}
	}
	if (c->oidc_redirect_uri[0] == '\0') {
		n = snprintf(c->oidc_redirect_uri, sizeof(c->oidc_redirect_uri),
		    "%s/callback", c->issuer);
		if (n < 0 || (size_t)n >= sizeof(c->oidc_redirect_uri)) {
			snprintf(err, errlen, "oidc_redirect_uri: too long (set it)");
			return -1;
		}
	}
	if (c->log_origin[0] == '\0') {
		n = snprintf(c->log_origin, sizeof(c->log_origin), "%s/log",
		    c->issuer + (strncmp(c->issuer, "https://", 8) == 0 ? 8 : 0));
		if (n < 0 || (size_t)n >= sizeof(c->log_origin)) {
			snprintf(err, errlen, "log_origin: too long (set it)");
			return -1;
		}
	}
	if ((c->citizen_issuer[0] == '\0') != (c->citizen_jwks[0] == '\0')) {
		snprintf(err, errlen,
		    "citizen_issuer and citizen_jwks must be set together");
		return -1;
	}
	return 0;
}
