/*
 * consentd's configuration: one struct, defaults in config_defaults(), a
 * file DATA/consentd.conf of "key = value" lines, and command-line options
 * that override the file.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE "consentd.conf"
#define CONFIG_MAX_THREADS 64
/* The longest lifetime any token can have (max_token_ttl_s's cap). */
#define CONFIG_MAX_TOKEN_TTL 3600

struct config {
	char data_dir[PATH_MAX];
	char listen_host[64];
	uint16_t listen_port;
	int threads;                 /* worker threads; 0: one per core */
	int dev;                     /* development mode (dev citizen issuer) */
	char issuer[256];            /* "iss" of our tokens */
	size_t map_bytes;            /* LMDB map size */
	size_t max_body_bytes;       /* request bodies above this get 413 */
	size_t max_header_bytes;
	int request_timeout_s;       /* idle/read/write timeout per connection */
	int request_deadline_s;      /* a whole request, from its first byte */
	int max_token_ttl_s;         /* cap on any agreement's token lifetime */
	int clock_skew_s;            /* leeway for citizen token times */
	int group_commit_max;        /* most operations per write transaction */
	char citizen_issuer[256];    /* a configured OIDC issuer ("" for none) */
	char citizen_jwks[PATH_MAX]; /* its JWKS file */
	char citizen_audience[128];  /* "aud" expected in citizen tokens */
	char log_origin[200];        /* audit log name ("" = from issuer) */
	int log_checkpoint_ms;       /* sign checkpoints at most this often */
	int status_ttl_s;            /* "ttl" of status list tokens */
	int session_ttl_s;           /* citizens' web sessions */
	int max_connections;         /* open connections before 503 (all workers) */
	char oidc_issuer[256];       /* citizen sign-in issuer ("" = none) */
	char oidc_client_id[128];
	char oidc_client_secret[256];
	char oidc_redirect_uri[400]; /* "" = ISSUER/callback */
	char oidc_ca_file[PATH_MAX]; /* CA for the issuer's TLS ("" = system) */
};

/* Fills c with the defaults (listen 127.0.0.1:8443, and so on). */
void config_defaults(struct config *c);

/*
 * Reads path into c, overriding defaults. A missing file is not an error
 * when optional is set. Returns 0, or -1 with "path:line: reason" in err.
 */
int config_load_file(struct config *c, const char *path, int optional,
    char *err, size_t errlen);

/*
 * Sets one key from text (file line or option). Returns 0, or -1 with the
 * reason in err ("unknown key", "must be an integer from 1 to 64", ...).
 */
int config_set(struct config *c, const char *key, const char *value,
    char *err, size_t errlen);

/* Parses "host:port" into c->listen_host and c->listen_port; 0 or -1. */
int config_set_listen(struct config *c, const char *hostport, char *err,
    size_t errlen);

/* Cross-field checks and derived defaults (issuer from listen); 0 or -1. */
int config_finish(struct config *c, char *err, size_t errlen);

#endif
