/* libconsent's replay cache: seen jti values in the provider's own LMDB. */
#ifndef LC_REPLAY_H
#define LC_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "consent.h"

#define LC_REPLAY_MAP_BYTES ((size_t)256 << 20)
#define LC_REPLAY_PURGE_BATCH 64

struct lc_replay;

/* Opens (creating) the cache in dir. NULL with CONSENT_E_STORE detail. */
struct lc_replay *lc_replay_open(const char *dir);

void lc_replay_close(struct lc_replay *r);

/*
 * Records jti as used until exp. Returns CONSENT_OK the first time,
 * CONSENT_E_REPLAYED when jti was recorded before and has not expired,
 * CONSENT_E_STORE when the cache fails. Also forgets up to
 * LC_REPLAY_PURGE_BATCH entries that expired before now.
 */
consent_err lc_replay_check(struct lc_replay *r, const char *jti, int64_t exp,
    int64_t now);

/* Number of remembered entries (for tests). */
size_t lc_replay_count(struct lc_replay *r);

#endif
