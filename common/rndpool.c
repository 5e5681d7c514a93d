/* Per-thread buffered random bytes for identifiers (rndpool.h). */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "rndpool.h"

_Static_assert(RNDPOOL_MAX <= RNDPOOL_BLOCK, "a request fits one block");

static _Thread_local unsigned char pool[RNDPOOL_BLOCK];
static _Thread_local size_t pool_left;     /* unused bytes, at the end */

int
rndpool_bytes(void *out, size_t n)
{
	unsigned char *p;

	if (n > RNDPOOL_MAX)
		return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
	if (n > pool_left) {
		/* What is left is too short: drawn again, not topped up. */
		if (RAND_bytes(pool, sizeof(pool)) != 1) {
			OPENSSL_cleanse(pool, sizeof(pool));
			pool_left = 0;
			return -1;
		}
		pool_left = sizeof(pool);
	}
	p = pool + sizeof(pool) - pool_left;
	memcpy(out, p, n);
	OPENSSL_cleanse(p, n);
	pool_left -= n;
	return 0;
}
