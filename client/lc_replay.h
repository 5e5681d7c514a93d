/* libconsent's replay cache: seen jti values in the provider's own LMDB. */
#ifndef LC_REPLAY_H
#define LC_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "consent.h"

#define LC_REPLAY_MAP_BYTES ((size_t)256 << 20)
#define LC_REPLAY_PURGE_BATCH 64
/*
 * data.mdb is written through a shared writable map (MDB_WRITEMAP), so disk
 * is reserved ahead of LMDB: before a check writes anything, the file is
 * allocated through LC_REPLAY_HEADROOM_PAGES pages past LMDB's last page,
 * grown in steps of LC_REPLAY_STEP_BYTES (clamped to the map size). The
 * headroom's bound is argued in lc_replay.c.
 */
#define LC_REPLAY_HEADROOM_PAGES 4096
#define LC_REPLAY_STEP_BYTES ((size_t)4 << 20)

struct lc_replay;

/*
 * Opens (creating) the cache in dir and reserves its first step of disk.
 * NULL with a CONSENT_E_STORE detail when the directory or environment
 * cannot be opened or the disk cannot be reserved (a full file system);
 * CONSENT_E_NOMEM when out of memory.
 */
struct lc_replay *lc_replay_open(const char *dir);

void lc_replay_close(struct lc_replay *r);

/*
 * Records jti as used until exp. Returns CONSENT_OK the first time,
 * CONSENT_E_REPLAYED when jti was recorded before and has not expired
 * (also when the disk is full: looking it up takes no disk),
 * CONSENT_E_STORE when the cache fails or the disk it needs cannot be
 * reserved; jti is then not recorded. Also forgets up to
 * LC_REPLAY_PURGE_BATCH entries that expired before now.
 */
consent_err lc_replay_check(struct lc_replay *r, const char *jti, int64_t exp,
    int64_t now);

/* Number of remembered entries (for tests). */
size_t lc_replay_count(struct lc_replay *r);

/*
 * For tests only: the call that reserves disk, posix_fallocate by default
 * (returns 0 or an errno value; errno is not used). Replace it only while
 * no verifier is in use on another thread, and put it back after.
 */
extern int (*lc_replay_fallocate)(int fd, off_t off, off_t len);

#endif
