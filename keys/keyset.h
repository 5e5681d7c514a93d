/*
 * The broker's token-signing keys: a directory of ES256 PEM keys named
 * "<kid>.key" and a file "current" naming the kid that signs. Every key in
 * the directory is published in the JWKS; kid is the RFC 7638 thumbprint.
 */
#ifndef CB_KEYSET_H
#define CB_KEYSET_H

#include <stddef.h>

#include <openssl/evp.h>

/* Most keys a keyset directory may hold; more is a load error. */
#define KEYSET_MAX_KEYS 64

struct keyset;

/*
 * Creates dir (mode 0700; its parent must exist) with one new key and
 * "current" naming it. Refuses (-1, errno EEXIST) when dir exists; on any
 * other failure removes what it created. kid_out, when not NULL, gets the
 * new kid (44 bytes). 0 or -1 with a reason in err.
 */
int keyset_create(const char *dir, char *kid_out, char *err, size_t errlen);

/*
 * Loads every "*.key" in dir once (names starting with '.' are skipped;
 * at most KEYSET_MAX_KEYS). Checks each is an EC P-256 key whose file name
 * is its thumbprint, and that "current" (a kid and optionally one newline)
 * names one of them. NULL with a reason in err. The keyset is read-only
 * afterwards and safe to share between threads.
 */
struct keyset *keyset_load(const char *dir, char *err, size_t errlen);

/*
 * Rotation: makes a new key the current one and marks the old one to be
 * dropped from the key set retain_s seconds from now (when every token
 * it signed has expired): "<oldkid>.retire" holds that Unix time.
 * kid_out (44 bytes) gets the new kid. 0 or -1 with a reason in err.
 */
int keyset_rotate(const char *dir, long retain_s, char *kid_out, char *err,
    size_t errlen);

/* The signing key and its kid (borrowed, valid until keyset_free). */
EVP_PKEY *keyset_current(const struct keyset *ks, const char **kid);

/* The public key with this kid, or NULL (borrowed). */
EVP_PKEY *keyset_find(const struct keyset *ks, const char *kid);

/* The JWKS document {"keys":[...]} (borrowed, NUL-terminated). */
const char *keyset_jwks(const struct keyset *ks);

/* Number of keys loaded. */
size_t keyset_count(const struct keyset *ks);

/* Frees ks and wipes private keys; NULL is a no-op. */
void keyset_free(struct keyset *ks);

#endif
