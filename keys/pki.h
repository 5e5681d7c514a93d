/* Key and certificate generation and loading (dev PKI, signing keys). */
#ifndef CB_PKI_H
#define CB_PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* New EC P-256 key pair, or NULL. */
EVP_PKEY *pki_gen_p256(void);

/* New Ed25519 key pair, or NULL. */
EVP_PKEY *pki_gen_ed25519(void);

/*
 * Self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign) with
 * subject CN=cn, valid from now - 1 hour for days days. NULL on failure.
 */
X509 *pki_make_ca(EVP_PKEY *key, const char *cn, int days);

/*
 * Certificate for key, signed by the CA. server != 0 makes a TLS server
 * certificate (serverAuth) with subjectAltNames from dns[] and ips[]
 * (NULL-terminated arrays, either may be NULL, but not both empty; DNS
 * names are letters, digits, '-', '.', and an optional leading "*.";
 * IPs are IPv4 or IPv6 text); otherwise a client certificate (clientAuth,
 * dns and ips unused). cn is 1..64 bytes, days 1..36500, and ca_key must
 * match ca. NULL on failure.
 */
X509 *pki_make_cert(X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key, const char *cn,
    int server, const char *const *dns, const char *const *ips, int days);

/*
 * Writes a private key as PKCS#8 PEM with mode 0600, refusing to replace an
 * existing file (EEXIST), durably through fsu_write_file. 0, or -1 with
 * errno set (EIO for an OpenSSL failure).
 */
int pki_write_key(const char *path, EVP_PKEY *key);

/* Writes a certificate PEM with mode 0644, refusing to replace. 0 or -1. */
int pki_write_cert(const char *path, X509 *cert);

/*
 * Loads a PEM private key (encrypted ones are refused, never prompted
 * for); NULL with a reason in err.
 */
EVP_PKEY *pki_load_key(const char *path, char *err, size_t errlen);

/* Loads a PEM certificate; NULL with a reason in err. */
X509 *pki_load_cert(const char *path, char *err, size_t errlen);

#endif
