/* Base64 (RFC 4648 section 4) and base64url (section 5) codecs, strict on input. */
#ifndef CB_B64_H
#define CB_B64_H

#include <stddef.h>

/* Length of the unpadded base64url encoding of n bytes (no NUL). */
size_t b64url_encoded_len(size_t n);

/* Length of the padded standard base64 encoding of n bytes (no NUL). */
size_t b64_encoded_len(size_t n);

/* Upper bound on the bytes decoded from len characters of either alphabet. */
size_t b64_decoded_max(size_t len);

/*
 * Encodes n bytes of in as unpadded base64url into out, which must hold
 * b64url_encoded_len(n) + 1 bytes, and NUL-terminates it.
 * Returns the encoded length.
 */
size_t b64url_encode(const unsigned char *in, size_t n, char *out);

/* As b64url_encode, but into a new buffer the caller frees; NULL on ENOMEM. */
char *b64url_encode_alloc(const unsigned char *in, size_t n);

/*
 * Decodes len characters of unpadded base64url. Strict: rejects padding,
 * whitespace, characters outside the alphabet, a length of 1 mod 4, and
 * non-zero trailing bits (so every value has one encoding).
 * out must hold b64_decoded_max(len) bytes; *outlen gets the decoded length.
 * Returns 0 on success, -1 on bad input.
 */
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

/* Standard alphabet with '=' padding; out holds b64_encoded_len(n) + 1. */
size_t b64_encode(const unsigned char *in, size_t n, char *out);

/* As b64_encode, into a new buffer the caller frees; NULL on ENOMEM. */
char *b64_encode_alloc(const unsigned char *in, size_t n);

/*
 * Decodes padded standard base64, strictly (length a multiple of 4, padding
 * only at the end, zero trailing bits). Returns 0 or -1 as b64url_decode.
 */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Decodes exactly 2n hex digits (either case) into n bytes; 0 or -1. */
int hex_decode(const char *in, size_t len, unsigned char *out, size_t n);

#endif
