/* JWK (RFC 7517) for EC P-256 keys, RFC 7638 thumbprints, certificate hashes. */
#ifndef CB_JWK_H
#define CB_JWK_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* Base64url SHA-256 is 43 characters; buffers hold 44 with the NUL. */
#define JWK_B64_SHA256_LEN 44

/* 1 when pkey is an EC key on P-256 (public or private), else 0. */
int jwk_is_p256(EVP_PKEY *pkey);

/*
 * Public JWK of an EC P-256 key: {"kty","crv","x","y"} plus, when kid is
 * not NULL, "kid", "use": "sig" and "alg": "ES256". New reference, or NULL
 * when the key is not P-256 or on ENOMEM.
 */
json_t *jwk_from_pkey(EVP_PKEY *pkey, const char *kid);

/*
 * RFC 7638 thumbprint (SHA-256 of {"crv","kty","x","y"} in that order,
 * no whitespace) of an EC P-256 key, base64url into out. 0 or -1.
 */
int jwk_thumbprint(EVP_PKEY *pkey, char out[JWK_B64_SHA256_LEN]);

/*
 * Public EVP_PKEY from an EC P-256 JWK (kty EC, crv P-256, x and y of 32
 * bytes each in strict base64url, on the curve; "alg", when present,
 * "ES256" and "use", when present, "sig"). Private members are ignored.
 * NULL with a reason in err on anything else. Caller frees with
 * EVP_PKEY_free.
 */
EVP_PKEY *jwk_to_pkey(const json_t *jwk, char *err, size_t errlen);

/* RFC 8705 x5t#S256: base64url SHA-256 of the certificate's DER. 0 or -1. */
int jwk_x5t_s256(X509 *cert, char out[JWK_B64_SHA256_LEN]);

/*
 * SHA-256 of the certificate's DER SubjectPublicKeyInfo, as lower-case hex
 * (65 bytes with NUL): the pin the party registry maps to a party.
 */
int jwk_spki_pin_hex(X509 *cert, char out[65]);

#endif
