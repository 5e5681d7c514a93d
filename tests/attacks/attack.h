/*
 * Attack-suite helpers on top of the integration harness
 * (tests/integration/harness.h): store fingerprints, forged tokens signed
 * with any header, certificates with any validity, and raw TLS/TCP
 * connections for requests curl would not send. Every wait is bounded.
 */
#ifndef CB_ATK_ATTACK_H
#define CB_ATK_ATTACK_H

#include "../integration/harness.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define ATK_IO_TIMEOUT_MS 5000     /* one raw exchange */
#define ATK_MAX_RESPONSE  (256u << 10)

/*
 * The live size of the audit log, read as the auditor. Every write the
 * broker commits (grant, revoke, token, agreement change) appends to the
 * log in the same transaction, so an unchanged size means nothing was
 * written. Fails the test when it cannot be read.
 */
uint64_t atk_log_size(const struct it_server *s);

/* The tree size of the latest signed checkpoint (GET /v1/log/checkpoint). */
uint64_t atk_checkpoint_size(const struct it_server *s);

/*
 * Waits (bounded by ms) until the signed checkpoint covers the live log,
 * and returns that size: a fingerprint both before and after an attack.
 */
uint64_t atk_settled_log_size(const struct it_server *s, long ms);

/* Loads DATA/<rel> as a private key; fails the test on error. */
EVP_PKEY *atk_load_key(const struct it_server *s, const char *rel);

/* The broker's current token-signing key; its kid into kid. */
EVP_PKEY *atk_signing_key(const struct it_server *s, char kid[128]);

/*
 * A compact JWS of exactly these header and payload bytes (not
 * re-serialized, so duplicate keys and odd numbers survive), ES256-signed
 * with key, or with an empty signature when key is NULL. No length limit.
 * The caller frees the result.
 */
char *atk_jws(EVP_PKEY *key, const char *header, const char *payload);

/*
 * As atk_jws, from already encoded parts (any bytes: padding, another
 * alphabet, non-zero trailing bits), signing exactly "h64.p64".
 */
char *atk_jws_encoded(EVP_PKEY *key, const char *h64, const char *p64);

/* The base64url ES256 signature (r || s) of input with key; new string. */
char *atk_sign_input(EVP_PKEY *key, const char *input);

/* base64url of n bytes (no padding), new string. */
char *atk_b64url(const void *p, size_t n);

/* DER of DATA/pki/<party>.crt into a new buffer; its length in *len. */
unsigned char *atk_party_der(const struct it_server *s, const char *party,
    size_t *len);

/*
 * A client certificate for key signed by ca/cakey, valid from
 * now + not_before_s to now + not_after_s (negative: the past), written
 * to s->dir/<name>.crt and .key (paths into crt and keyp).
 */
void atk_write_cert(const struct it_server *s, const char *name,
    EVP_PKEY *key, X509 *ca, EVP_PKEY *cakey, long not_before_s,
    long not_after_s, char crt[PATH_MAX], char keyp[PATH_MAX]);

/* ---- raw connections ---------------------------------------------------- */

/* A TCP connection to the broker (blocking, bounded I/O); fd or -1. */
int atk_tcp_connect(const struct it_server *s);

/*
 * A TLS connection to the broker that verifies it against DATA/pki/ca.crt,
 * presenting DATA/pki/<party>.crt when party is not NULL. *fd gets the
 * socket. NULL on failure (printed).
 */
SSL *atk_tls_connect(const struct it_server *s, const char *party, int *fd);

/* Frees ssl and closes fd (either may be NULL/-1). */
void atk_tls_close(SSL *ssl, int fd);

/*
 * Sends len bytes of req over a new TLS connection (as party, or none)
 * and reads the answer until the peer closes, a whole response with a
 * Content-Length has come, or timeout_ms passes. Returns the HTTP status
 * (0 when no status line came); *resp (may be NULL) gets the raw answer
 * ("" when there was none), which the caller frees.
 */
long atk_raw_request(const struct it_server *s, const char *party,
    const char *req, size_t len, char **resp, long timeout_ms);

/*
 * Reads one response from an open TLS connection (ssl over fd) until a
 * whole response with a Content-Length has come, the peer closes, or
 * timeout_ms passes; the connection stays open. Returns the HTTP status
 * (0 when no status line came); *resp (may be NULL) gets the raw answer
 * ("" when there was none), which the caller frees.
 */
long atk_tls_read_response(SSL *ssl, int fd, char **resp, long timeout_ms);

/*
 * 1 when the peer has closed fd (EOF or reset, after draining what it
 * sent), 0 while it is still open. Does not block.
 */
int atk_peer_closed(int fd);

/* Number of open descriptors of pid (/proc/PID/fd), or -1. */
int atk_fd_count(pid_t pid);

/* User plus system CPU time of pid in clock ticks, or -1. */
long atk_cpu_ticks(pid_t pid);

/*
 * GET /healthz; fails the test unless it answers 200 within max_ms.
 * Returns the milliseconds it took.
 */
long atk_assert_healthy(const struct it_server *s, long max_ms);

/* Raises RLIMIT_NOFILE's soft limit to at least want (up to the hard
 * limit); returns the soft limit now in force. */
long atk_raise_nofile(long want);

#endif
