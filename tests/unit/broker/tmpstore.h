/*
 * A store in a fresh temporary directory, for the broker's unit tests.
 * tmpstore_open creates /tmp/cb-NAME-XXXXXX in dir (64 bytes) and opens a
 * store of map bytes there; tmpstore_close closes it and removes the
 * directory, which must hold nothing but LMDB's two files. Include after
 * <cmocka.h>.
 */
#ifndef CB_TEST_TMPSTORE_H
#define CB_TEST_TMPSTORE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store.h"

static inline struct store *
tmpstore_open(char dir[64], const char *name, size_t map)
{
	char err[512] = "";
	struct store *s;

	snprintf(dir, 64, "/tmp/cb-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
	s = store_open_lmdb(dir, map, 1, err, sizeof(err));
	if (s == NULL)
		fail_msg("store_open_lmdb(%s): %s", dir, err);
	return s;
}

static inline void
tmpstore_close(const char *dir, struct store *s)
{
	char p[128];

	store_close(s);
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	assert_int_equal(rmdir(dir), 0);
}

#endif
