/* Whole-file reads and durable, atomic (optionally exclusive) writes. */
#include "fsu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read size when the file's size is not known from fstat. */
#define FSU_READ_CHUNK 4096

/* Opens the directory that holds path (O_RDONLY), for fsync. -1 with errno. */
static int
open_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	size_t n;
	int fd = -1, saved;

	if (slash == NULL)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = slash == path ? 1 : (size_t)(slash - path);
	if ((dir = malloc(n + 1)) == NULL)
		goto out;
	memcpy(dir, path, n);
	dir[n] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
out:
	saved = errno;
	free(dir);
	errno = saved;
	return fd;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * The data goes to "<path>.tmpXXXXXX" first, so a crash leaves either the
 * old file or the new one. With excl the temporary file is hard-linked to
 * path instead of renamed: link(2) fails with EEXIST atomically, where a
 * check before rename(2) would race.
 */
int
fsu_write_file(const char *path, const void *data, size_t len, mode_t mode,
    int excl)
{
	static const char suffix[] = ".tmpXXXXXX";
	char *tmp = NULL;
	size_t plen = strlen(path);
	int fd = -1, dfd = -1, ret = -1, saved = 0, linked = 0;

	if (plen == 0 || path[plen - 1] == '/') {
		errno = EINVAL;
		return -1;
	}
	if ((tmp = malloc(plen + sizeof(suffix))) == NULL)
		goto out;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, suffix, sizeof(suffix));
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		saved = errno;
		free(tmp);
		tmp = NULL;
		errno = saved;
		goto out;
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (excl) {
		if (link(tmp, path) != 0)
			goto out;
		linked = 1;
		/* Before the directory fsync, so no stale copy can reappear. */
		if (unlink(tmp) != 0)
			goto out;
	} else if (rename(tmp, path) != 0) {
		goto out;
	}
	free(tmp);
	tmp = NULL;
	if ((dfd = open_parent(path)) < 0 || fsync(dfd) != 0)
		goto out;
	ret = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp != NULL)
		unlink(tmp);
	/* A failure leaves no new file behind when it can be taken back. */
	if (linked && ret != 0)
		unlink(path);
	free(tmp);
	errno = saved;
	return ret;
}

int
fsu_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL, *nbuf;
	size_t cap, len = 0;
	ssize_t r;
	int fd, ret = -1, saved;

	*out = NULL;
	*outlen = 0;
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2; /* keeps max + 2 below from wrapping */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		errno = EFBIG;
		goto out;
	}
	/* One byte beyond max shows a file that grew; one more for the NUL. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 2 :
	    FSU_READ_CHUNK;
	if (cap > max + 2)
		cap = max + 2;
	if ((buf = malloc(cap)) == NULL)
		goto out;
	for (;;) {
		if (len + 1 == cap) {
			if (len > max)
				break;
			cap = cap > (max + 2) / 2 ? max + 2 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL)
				goto out;
			buf = nbuf;
		}
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max) {
		errno = EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	ret = 0;
out:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return ret;
}

int
fsu_mkdir_p(const char *path, mode_t mode)
{
	struct stat st;
	char *p = NULL, *s;
	int ret = -1, saved, last;

	if (path[0] == '\0') {
		errno = ENOENT;
		return -1;
	}
	if ((p = strdup(path)) == NULL)
		return -1;
	s = p;
	for (;;) {
		while (*s == '/')
			s++;
		while (*s != '\0' && *s != '/')
			s++;
		last = *s == '\0' || s[strspn(s, "/")] == '\0';
		*s = '\0';
		if (mkdir(p, mode) != 0) {
			if (errno != EEXIST)
				goto out;
			if (stat(p, &st) != 0)
				goto out;
			if (!S_ISDIR(st.st_mode)) {
				errno = ENOTDIR;
				goto out;
			}
		}
		if (last)
			break;
		*s++ = '/';
	}
	ret = 0;
out:
	saved = errno;
	free(p);
	errno = saved;
	return ret;
}

/*
 * Trailing '/' of dir and leading '/' of name collapse into one; an empty
 * dir gives name alone.
 */
int
fsu_join(char *out, size_t outlen, const char *dir, const char *name)
{
	size_t dlen = strlen(dir);
	int n;

	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	while (*name == '/')
		name++;
	if (dlen > (size_t)INT_MAX)
		return -1;
	if (dlen == 0)
		n = snprintf(out, outlen, "%s", name);
	else if (dlen == 1 && dir[0] == '/')
		n = snprintf(out, outlen, "/%s", name);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)dlen, dir, name);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}
