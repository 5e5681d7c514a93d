/*
 * Fuzz target: decoding a token status list, as the provider's verifier
 * does with the "lst" of a status list token it fetched (client/
 * lc_verifier.c, fetch_status and check_status). Those are static and
 * reached only after an HTTPS fetch, and production code is not changed
 * for the fuzzer, so this target repeats their steps with the same bound:
 * strict base64url (b64url_decode), zlib uncompress into at most
 * LC_STATUS_MAX_BYTES, then the bit lookup for each width (1, 2, 4, 8)
 * at the first, last and first-beyond index. Keep it in step with
 * lc_verifier.c. The input is the lst text.
 */
#include "fuzz.h"

#include <zlib.h>

#include "b64.h"

/* As client/lc_verifier.c. */
#define LC_STATUS_MAX_BYTES (1u << 20)

static unsigned char inflated[LC_STATUS_MAX_BYTES];

/* fetch_status: base64url, then zlib into at most the bound. */
static int
decode_list(const char *lst, unsigned char **bytes, size_t *nbytes)
{
	unsigned char *z;
	size_t zlen;
	uLongf n = LC_STATUS_MAX_BYTES;
	int rc = -1;

	z = malloc(b64_decoded_max(strlen(lst)) + 1);
	if (z == NULL)
		return -1;
	if (b64url_decode(lst, strlen(lst), z, &zlen) != 0 ||
	    uncompress(inflated, &n, z, (uLong)zlen) != Z_OK)
		goto out;
	FUZZ_CHECK(zlen <= b64_decoded_max(strlen(lst)));
	FUZZ_CHECK(n <= LC_STATUS_MAX_BYTES);
	/* An exact-size copy, so that ASan sees a read past the list. */
	if ((*bytes = malloc(n > 0 ? n : 1)) == NULL)
		goto out;
	memcpy(*bytes, inflated, n);
	*nbytes = n;
	rc = 0;
out:
	free(z);
	return rc;
}

/* check_status: the status of token idx in a list of bits-wide entries. */
static unsigned
lookup(const unsigned char *bytes, size_t nbytes, int bits, int64_t idx)
{
	size_t bitpos = (size_t)idx * (size_t)bits;

	if (bitpos / 8 >= nbytes)
		return 0;   /* beyond the list: never revoked */
	return (bytes[bitpos / 8] >> (bitpos % 8)) & ((1u << bits) - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int widths[] = { 1, 2, 4, 8 };
	unsigned char *bytes = NULL;
	size_t nbytes = 0, w;
	char *lst;
	int64_t last;

	if ((lst = fuzz_strndup(data, size)) == NULL)
		return 0;
	if (decode_list(lst, &bytes, &nbytes) == 0) {
		for (w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
			int bits = widths[w];

			last = (int64_t)(nbytes * 8 / (size_t)bits) - 1;
			FUZZ_CHECK(lookup(bytes, nbytes, bits, 0) <
			    (1u << bits));
			if (last >= 0)
				FUZZ_CHECK(lookup(bytes, nbytes, bits, last) <
				    (1u << bits));
			FUZZ_CHECK(lookup(bytes, nbytes, bits, last + 1) == 0);
		}
		free(bytes);
	}
	free(lst);
	return 0;
}
