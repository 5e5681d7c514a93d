/* Small file-system helpers: whole-file reads and durable, atomic writes. */
#ifndef CB_FSU_H
#define CB_FSU_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes len bytes to path durably: to a temporary file in the same
 * directory created with mode, fsync, rename over path, fsync the directory.
 * With excl set, fails with EEXIST if path exists.
 * Returns 0, or -1 with errno set.
 */
int fsu_write_file(const char *path, const void *data, size_t len, mode_t mode,
    int excl);

/*
 * Reads a whole file of at most max bytes into a new NUL-terminated buffer
 * (*out, caller frees; *outlen excludes the NUL). Returns 0, or -1 with
 * errno set (EFBIG when larger than max).
 */
int fsu_read_file(const char *path, size_t max, char **out, size_t *outlen);

/* mkdir -p with mode for each created component; 0 or -1 with errno. */
int fsu_mkdir_p(const char *path, mode_t mode);

/*
 * Joins dir and name with one '/' into out (trailing '/'s of dir and
 * leading ones of name collapse; an empty dir gives name); 0, or -1 when
 * it does not fit.
 */
int fsu_join(char *out, size_t outlen, const char *dir, const char *name);

#endif
