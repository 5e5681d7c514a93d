/* The token-signing keyset: a directory of "<kid>.key" files and "current". */
#include "keyset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "fsu.h"
#include "jwk.h"
#include "pki.h"

#define KS_SUFFIX ".key"
#define KS_CURRENT "current"
/* "current" holds a kid and a newline; anything longer is not ours. */
#define KS_CURRENT_MAX 128

struct ks_key {
	char kid[JWK_B64_SHA256_LEN];
	EVP_PKEY *pkey;
};

struct keyset {
	struct ks_key *keys; /* sorted by kid */
	size_t n;
	size_t cur;          /* index of the signing key */
	char *jwks;
};

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* err gets "what path: strerror(errno)"; truncation only shortens a message. */
static void
set_errno_err(char *err, size_t errlen, const char *what, const char *path)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
}

int
keyset_create(const char *dir, char *kid_out, char *err, size_t errlen)
{
	char path[4096], kid[JWK_B64_SHA256_LEN], line[JWK_B64_SHA256_LEN + 1];
	char name[JWK_B64_SHA256_LEN + sizeof(KS_SUFFIX)];
	char keypath[4096] = "";
	EVP_PKEY *key = NULL;
	int ret = -1, saved = 0, n, made = 0;

	if (mkdir(dir, 0700) != 0) {
		saved = errno;
		set_errno_err(err, errlen, "cannot create", dir);
		goto out;
	}
	made = 1;
	if ((key = pki_gen_p256()) == NULL || jwk_thumbprint(key, kid) != 0) {
		saved = ENOMEM;
		set_err(err, errlen, "cannot generate an ES256 key");
		goto out;
	}
	n = snprintf(name, sizeof(name), "%s%s", kid, KS_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(name) ||
	    fsu_join(path, sizeof(path), dir, name) != 0) {
		saved = ENAMETOOLONG;
		set_err(err, errlen, "key path too long");
		goto out;
	}
	if (pki_write_key(path, key) != 0) {
		saved = errno;
		set_errno_err(err, errlen, "cannot write", path);
		goto out;
	}
	memcpy(keypath, path, sizeof(keypath));
	n = snprintf(line, sizeof(line), "%s\n", kid);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    fsu_join(path, sizeof(path), dir, KS_CURRENT) != 0) {
		saved = ENAMETOOLONG;
		set_err(err, errlen, "current path too long");
		goto out;
	}
	if (fsu_write_file(path, line, (size_t)n, 0600, 1) != 0) {
		saved = errno;
		set_errno_err(err, errlen, "cannot write", path);
		goto out;
	}
	if (kid_out != NULL)
		memcpy(kid_out, kid, sizeof(kid));
	ret = 0;
out:
	EVP_PKEY_free(key);
	if (ret != 0) {
		/* Take back what was made, so that a retry is not refused. */
		if (keypath[0] != '\0')
			unlink(keypath);
		if (made)
			rmdir(dir);
		errno = saved;
	}
	return ret;
}

static int
kid_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ks_key *)a)->kid,
	    ((const struct ks_key *)b)->kid);
}

/* Loads one "<kid>.key" and checks the name is its key's thumbprint. */
static int
load_one(const char *dir, const char *name, struct ks_key *k, char *err,
    size_t errlen)
{
	char path[4096], lerr[256], tp[JWK_B64_SHA256_LEN];
	size_t klen = strlen(name) - (sizeof(KS_SUFFIX) - 1);
	struct stat st;
	EVP_PKEY *key = NULL;
	int ret = -1;

	if (fsu_join(path, sizeof(path), dir, name) != 0) {
		set_err(err, errlen, "key path too long");
		goto out;
	}
	if (stat(path, &st) != 0) {
		set_errno_err(err, errlen, "cannot stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if ((key = pki_load_key(path, lerr, sizeof(lerr))) == NULL) {
		set_err(err, errlen, lerr);
		goto out;
	}
	if (!jwk_is_p256(key) || jwk_thumbprint(key, tp) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: not an EC P-256 key", path);
		goto out;
	}
	if (klen != strlen(tp) || memcmp(name, tp, klen) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen,
			    "%s: file name does not match key thumbprint %s",
			    path, tp);
		goto out;
	}
	memcpy(k->kid, tp, sizeof(tp));
	k->pkey = key;
	key = NULL;
	ret = 0;
out:
	EVP_PKEY_free(key);
	return ret;
}

/* {"keys":[JWK, ...]} in kid order, compact. */
static char *
make_jwks(const struct keyset *ks)
{
	json_t *doc = NULL, *arr, *jwk;
	char *s = NULL;
	size_t i;

	if ((doc = json_object()) == NULL || (arr = json_array()) == NULL ||
	    json_object_set_new(doc, "keys", arr) != 0)
		goto out;
	for (i = 0; i < ks->n; i++) {
		if ((jwk = jwk_from_pkey(ks->keys[i].pkey,
		    ks->keys[i].kid)) == NULL ||
		    json_array_append_new(arr, jwk) != 0)
			goto out;
	}
	s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(doc);
	return s;
}

/* The kid named in "current": one kid, optionally followed by one newline. */
static int
read_current(const char *dir, char kid[JWK_B64_SHA256_LEN], char *err,
    size_t errlen)
{
	char path[4096], *data = NULL;
	size_t len = 0;
	int ret = -1;

	if (fsu_join(path, sizeof(path), dir, KS_CURRENT) != 0) {
		set_err(err, errlen, "current path too long");
		goto out;
	}
	if (fsu_read_file(path, KS_CURRENT_MAX, &data, &len) != 0) {
		set_errno_err(err, errlen, "cannot read", path);
		goto out;
	}
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len != JWK_B64_SHA256_LEN - 1 || memchr(data, '\0', len) != NULL ||
	    memchr(data, '\n', len) != NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: does not hold one kid", path);
		goto out;
	}
	memcpy(kid, data, len);
	kid[len] = '\0';
	ret = 0;
out:
	free(data);
	return ret;
}

/* true when "<kid>.retire" names a time that has passed. */
static int
retired(const char *dir, const char *name, size_t kidlen)
{
	char path[4096], file[128], *text = NULL, *end;
	long long t;
	size_t len;
	int gone = 0;

	if (kidlen + sizeof(".retire") > sizeof(file))
		return 0;
	memcpy(file, name, kidlen);
	memcpy(file + kidlen, ".retire", sizeof(".retire"));
	if (fsu_join(path, sizeof(path), dir, file) != 0 ||
	    fsu_read_file(path, 64, &text, &len) != 0)
		return 0;
	errno = 0;
	t = strtoll(text, &end, 10);
	if (errno == 0 && end != text && (*end == '\n' || *end == '\0') &&
	    t < (long long)time(NULL))
		gone = 1;
	free(text);
	return gone;
}

int
keyset_rotate(const char *dir, long retain_s, char *kid_out, char *err,
    size_t errlen)
{
	char path[4096], old[JWK_B64_SHA256_LEN], kid[JWK_B64_SHA256_LEN];
	char name[128], line[64];
	EVP_PKEY *key = NULL;
	int n, ret = -1;

	if (read_current(dir, old, err, errlen) != 0)
		return -1;
	if ((key = pki_gen_p256()) == NULL || jwk_thumbprint(key, kid) != 0) {
		set_err(err, errlen, "cannot generate an ES256 key");
		goto out;
	}
	n = snprintf(name, sizeof(name), "%s%s", kid, KS_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(name) ||
	    fsu_join(path, sizeof(path), dir, name) != 0 ||
	    pki_write_key(path, key) != 0) {
		set_errno_err(err, errlen, "cannot write", path);
		goto out;
	}
	(void)snprintf(name, sizeof(name), "%s.retire", old);
	snprintf(line, sizeof(line), "%lld\n",
	    (long long)time(NULL) + (long long)retain_s);
	if (fsu_join(path, sizeof(path), dir, name) != 0 ||
	    fsu_write_file(path, line, strlen(line), 0600, 0) != 0) {
		set_errno_err(err, errlen, "cannot write", path);
		goto out;
	}
	n = snprintf(line, sizeof(line), "%s\n", kid);
	if (fsu_join(path, sizeof(path), dir, KS_CURRENT) != 0 ||
	    fsu_write_file(path, line, (size_t)n, 0600, 0) != 0) {
		set_errno_err(err, errlen, "cannot write", path);
		goto out;
	}
	if (kid_out != NULL)
		memcpy(kid_out, kid, sizeof(kid));
	ret = 0;
out:
	EVP_PKEY_free(key);
	return ret;
}

struct keyset *
keyset_load(const char *dir, char *err, size_t errlen)
{
	struct keyset *ks = NULL, *ret = NULL;
	struct ks_key *nk;
	struct dirent *de;
	DIR *d = NULL;
	char cur[JWK_B64_SHA256_LEN];
	size_t cap = 0, nlen, i;
	const size_t slen = sizeof(KS_SUFFIX) - 1;

	if ((ks = calloc(1, sizeof(*ks))) == NULL) {
		set_err(err, errlen, "out of memory");
		goto out;
	}
	if ((d = opendir(dir)) == NULL) {
		set_errno_err(err, errlen, "cannot open", dir);
		goto out;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				set_errno_err(err, errlen, "cannot read", dir);
				goto out;
			}
			break;
		}
		nlen = strlen(de->d_name);
		if (de->d_name[0] == '.' || nlen <= slen ||
		    strcmp(de->d_name + nlen - slen, KS_SUFFIX) != 0)
			continue;
		/* A retired key whose tokens have all expired is left out. */
		if (retired(dir, de->d_name, nlen - slen))
			continue;
		if (ks->n == KEYSET_MAX_KEYS) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s: more than %d keys",
				    dir, KEYSET_MAX_KEYS);
			goto out;
		}
		if (ks->n == cap) {
			cap = cap ? cap * 2 : 4;
			if ((nk = realloc(ks->keys, cap * sizeof(*nk))) == NULL) {
				set_err(err, errlen, "out of memory");
				goto out;
			}
			ks->keys = nk;
		}
		memset(&ks->keys[ks->n], 0, sizeof(ks->keys[ks->n]));
		if (load_one(dir, de->d_name, &ks->keys[ks->n], err,
		    errlen) != 0)
			goto out;
		ks->n++;
	}
	if (ks->n == 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: no *.key files", dir);
		goto out;
	}
	qsort(ks->keys, ks->n, sizeof(*ks->keys), kid_cmp);
	if (read_current(dir, cur, err, errlen) != 0)
		goto out;
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, cur) == 0)
			break;
	if (i == ks->n) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s/current: names no key here",
			    dir);
		goto out;
	}
	ks->cur = i;
	if ((ks->jwks = make_jwks(ks)) == NULL) {
		set_err(err, errlen, "cannot build the JWKS");
		goto out;
	}
	ret = ks;
	ks = NULL;
out:
	if (d != NULL)
		closedir(d);
	keyset_free(ks);
	return ret;
}

EVP_PKEY *
keyset_current(const struct keyset *ks, const char **kid)
{
	if (kid != NULL)
		*kid = ks->keys[ks->cur].kid;
	return ks->keys[ks->cur].pkey;
}

EVP_PKEY *
keyset_find(const struct keyset *ks, const char *kid)
{
	size_t i;

	if (kid == NULL)
		return NULL;
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return ks->keys[i].pkey;
	return NULL;
}

const char *
keyset_jwks(const struct keyset *ks)
{
	return ks->jwks;
}

size_t
keyset_count(const struct keyset *ks)
{
	return ks->n;
}

/* EVP_PKEY_free clears EC private scalars (BN_clear_free) as it frees. */
void
keyset_free(struct keyset *ks)
{
	size_t i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->n; i++)
		EVP_PKEY_free(ks->keys[i].pkey);
	if (ks->keys != NULL)
		OPENSSL_cleanse(ks->keys, ks->n * sizeof(*ks->keys));
	free(ks->keys);
	free(ks->jwks);
	free(ks);
}
