/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): the entry points'
 * prototypes, an invariant check that crashes the run, and loaders for
 * the fixed keys of fixtures.h. Only for the fuzz build.
 */
#ifndef CB_FUZZ_H
#define CB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * A property the code under test promises (a round trip, a documented
 * bound) that did not hold: report it as a crash, with the input saved by
 * libFuzzer like any other.
 */
#define FUZZ_CHECK(cond)                                                \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
			    __FILE__, __LINE__, #cond);                 \
			abort();                                        \
		}                                                       \
	} while (0)

/* A set-up step that cannot fail with sane fixtures; exits when it does. */
#define FUZZ_INIT(cond)                                                 \
	do {                                                            \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: fuzz set-up failed: %s\n", \
			    __FILE__, __LINE__, #cond);                 \
			exit(1);                                        \
		}                                                       \
	} while (0)

/*
 * A NUL-terminated copy of the input in a buffer of exactly size + 1
 * bytes, so that ASan sees any read past the string; NULL on ENOMEM.
 */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* A private key from PEM text (fixtures.h). */
static inline EVP_PKEY *
fuzz_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b != NULL ?
	    PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

/* DER of a PEM certificate into a new buffer; its length, or -1. */
static inline int
fuzz_cert_der(const char *pem, unsigned char **der)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int n = -1;

	*der = NULL;
	if (x != NULL)
		n = i2d_X509(x, der);
	X509_free(x);
	BIO_free(b);
	return n;
}

#endif
