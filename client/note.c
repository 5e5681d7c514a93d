/* Signed notes (Ed25519) and tlog checkpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "b64.h"
#include "note.h"

#define EM_DASH "\xe2\x80\x94"
#define SIG_PREFIX EM_DASH " "
#define ED25519_SIG 64

static int
name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n >= NOTE_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 0x20 || name[i] == '+' ||
		    name[i] == 0x7f)
			return 0;
	return 1;
}

static void
key_id(const char *name, const unsigned char pub[NOTE_ED25519_PUB],
    unsigned char out[4])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned char buf[NOTE_NAME_MAX + 2 + NOTE_ED25519_PUB];
	size_t n = strlen(name);

	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = 0x01;
	memcpy(buf + n + 2, pub, NOTE_ED25519_PUB);
	SHA256(buf, n + 2 + NOTE_ED25519_PUB, md);
	memcpy(out, md, 4);
}

int
note_vkey_from_pkey(const char *name, EVP_PKEY *key, struct note_vkey *out)
{
	size_t len = NOTE_ED25519_PUB;

	memset(out, 0, sizeof(*out));
	if (!name_ok(name) || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(key, out->pub, &len) != 1 ||
	    len != NOTE_ED25519_PUB)
		return -1;
	snprintf(out->name, sizeof(out->name), "%s", name);
	key_id(name, out->pub, out->keyid);
	return 0;
}

int
note_vkey_format(const struct note_vkey *vk, char *out, size_t outlen)
{
	unsigned char raw[1 + NOTE_ED25519_PUB];
	char hex[9], b64[64];
	int n;

	raw[0] = 0x01;
	memcpy(raw + 1, vk->pub, NOTE_ED25519_PUB);
	hex_encode(vk->keyid, 4, hex);
	b64_encode(raw, sizeof(raw), b64);
	n = snprintf(out, outlen, "%s+%s+%s", vk->name, hex, b64);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
note_vkey_parse(const char *s, struct note_vkey *out, char *err,
    size_t errlen)
{
	const char *p1 = strchr(s, '+'), *p2;
	unsigned char raw[64], id[4];
	size_t n;

	memset(out, 0, sizeof(*out));
	p2 = p1 != NULL ? strchr(p1 + 1, '+') : NULL;
	if (p1 == NULL || p2 == NULL || (size_t)(p1 - s) >= NOTE_NAME_MAX ||
	    p2 - p1 - 1 != 8) {
		snprintf(err, errlen, "verifier key must be name+keyid+key");
		return -1;
	}
	memcpy(out->name, s, (size_t)(p1 - s));
	out->name[p1 - s] = '\0';
	if (!name_ok(out->name) || hex_decode(p1 + 1, 8, id, 4) != 0) {
		snprintf(err, errlen, "verifier key: bad name or key ID");
		return -1;
	}
	if (strlen(p2 + 1) > 60 ||
	    b64_decode(p2 + 1, strlen(p2 + 1), raw, &n) != 0 ||
	    n != 1 + NOTE_ED25519_PUB || raw[0] != 0x01) {
		snprintf(err, errlen, "verifier key: not an Ed25519 key "
		    "(base64 of 0x01 and 32 bytes)");
		return -1;
	}
	memcpy(out->pub, raw + 1, NOTE_ED25519_PUB);
	key_id(out->name, out->pub, out->keyid);
	if (memcmp(out->keyid, id, 4) != 0) {
		snprintf(err, errlen, "verifier key: key ID does not match "
		    "the name and key");
		return -1;
	}
	return 0;
}

/* Text: non-empty, ends in "\n", no blank line, no NUL. */
static int
text_ok(const char *text, size_t len)
{
	return len > 0 && text[len - 1] == '\n' && text[0] != '\n' &&
	    memmem(text, len, "\n\n", 2) == NULL &&
	    memchr(text, '\0', len) == NULL;
}

int
note_sign(const char *text, const char *name, EVP_PKEY *key, char **out)
{
	struct note_vkey vk;
	unsigned char sig[4 + ED25519_SIG];
	size_t tlen = strlen(text), slen = ED25519_SIG, n;
	EVP_MD_CTX *ctx = NULL;
	char b64[128], *note = NULL;
	int rc = -1;

	*out = NULL;
	if (!text_ok(text, tlen) || note_vkey_from_pkey(name, key, &vk) != 0)
		return -1;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig + 4, &slen, (const unsigned char *)text,
	    tlen) != 1 || slen != ED25519_SIG)
		goto out;
	memcpy(sig, vk.keyid, 4);
	b64_encode(sig, sizeof(sig), b64);
	n = tlen + 1 + strlen(SIG_PREFIX) + strlen(name) + 1 + strlen(b64) + 2;
	note = malloc(n);
	if (note == NULL)
		goto out;
	snprintf(note, n, "%s\n" SIG_PREFIX "%s %s\n", text, name, b64);
	*out = note;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int
note_verify(const char *note, size_t len, const struct note_vkey *vk,
    size_t *text_len, char *err, size_t errlen)
{
	const char *sep = NULL, *p, *line, *eol, *sp, *end = note + len;
	unsigned char sig[4 + ED25519_SIG + 4];
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t tlen, n, plen = strlen(SIG_PREFIX);
	int found = 0, rc = -1;

	if (len == 0 || len > NOTE_MAX || memchr(note, '\0', len) != NULL) {
		snprintf(err, errlen, "note is empty, too long or holds a NUL");
		return -1;
	}
	/* The text ends at the last blank line; signatures follow. */
	for (p = note; (p = memmem(p, (size_t)(end - p), "\n\n", 2)) != NULL;
	    p++)
		sep = p;
	if (sep == NULL || note[len - 1] != '\n') {
		snprintf(err, errlen, "note has no signature block");
		return -1;
	}
	tlen = (size_t)(sep - note) + 1;
	if (!text_ok(note, tlen)) {
		snprintf(err, errlen, "note text is malformed");
		return -1;
	}
	for (line = sep + 2; line < end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL || (size_t)(eol - line) < plen ||
		    memcmp(line, SIG_PREFIX, plen) != 0) {
			snprintf(err, errlen, "malformed signature line");
			return -1;
		}
		sp = memchr(line + plen, ' ', (size_t)(eol - line - plen));
		if (sp == NULL) {
			snprintf(err, errlen, "malformed signature line");
			return -1;
		}
		if ((size_t)(sp - line - plen) != strlen(vk->name) ||
		    memcmp(line + plen, vk->name, strlen(vk->name)) != 0)
			continue;
		/* Decode only what fits sig: up to 100 characters would
		 * decode to 75 bytes. */
		if (b64_decoded_max((size_t)(eol - sp - 1)) > sizeof(sig) ||
		    b64_decode(sp + 1, (size_t)(eol - sp - 1), sig, &n) != 0 ||
		    n != 4 + ED25519_SIG) {
			snprintf(err, errlen, "signature of %s is not base64 of "
			    "68 bytes", vk->name);
			return -1;
		}
		if (memcmp(sig, vk->keyid, 4) != 0)
			continue;
		found = 1;
		break;
	}
	if (!found) {
		snprintf(err, errlen, "no signature by %s with key ID %02x%02x%02x"
		    "%02x", vk->name, vk->keyid[0], vk->keyid[1], vk->keyid[2],
		    vk->keyid[3]);
		return -1;
	}
	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, vk->pub,
	    NOTE_ED25519_PUB);
	ctx = EVP_MD_CTX_new();
	if (pub == NULL || ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) != 1) {
		snprintf(err, errlen, "cannot load the verifier key");
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig + 4, ED25519_SIG,
	    (const unsigned char *)note, tlen) != 1) {
		snprintf(err, errlen, "signature by %s does not verify",
		    vk->name);
		goto out;
	}
	*text_len = tlen;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	return rc;
}

int
checkpoint_text(const struct checkpoint *c, char *out, size_t outlen)
{
	char b64[64];
	int n;

	if (!name_ok(c->origin))
		return -1;
	b64_encode(c->root, sizeof(c->root), b64);
	n = snprintf(out, outlen, "%s\n%llu\n%s\n", c->origin,
	    (unsigned long long)c->size, b64);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
checkpoint_parse(const char *text, size_t len, struct checkpoint *out,
    char *err, size_t errlen)
{
	const char *l1, *l2, *l3, *end = text + len, *p;
	unsigned char raw[33];   /* b64_decoded_max(44) */
	unsigned long long v = 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	/* A NUL would cut the origin short of what was signed. */
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "checkpoint text holds a NUL");
		return -1;
	}
	l1 = memchr(text, '\n', len);
	l2 = l1 != NULL ? memchr(l1 + 1, '\n', (size_t)(end - l1 - 1)) : NULL;
	l3 = l2 != NULL ? memchr(l2 + 1, '\n', (size_t)(end - l2 - 1)) : NULL;
	if (l3 == NULL || l1 == text || (size_t)(l1 - text) >= NOTE_NAME_MAX) {
		snprintf(err, errlen, "checkpoint needs origin, size and root "
		    "lines");
		return -1;
	}
	memcpy(out->origin, text, (size_t)(l1 - text));
	out->origin[l1 - text] = '\0';
	if (l2 - l1 - 1 < 1 || l2 - l1 - 1 > 20 ||
	    (l1[1] == '0' && l2 - l1 - 1 > 1)) {
		snprintf(err, errlen, "checkpoint size is not a decimal number");
		return -1;
	}
	for (p = l1 + 1; p < l2; p++) {
		if (*p < '0' || *p > '9' || v > UINT64_MAX / 10 ||
		    (v == UINT64_MAX / 10 &&
		    (uint64_t)(*p - '0') > UINT64_MAX % 10)) {
			snprintf(err, errlen, "checkpoint size is not a decimal "
			    "number");
			return -1;
		}
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	out->size = v;
	/* 44 characters without padding decode to 33 bytes: decode into
	 * raw, not straight into out->root. */
	if (l3 - l2 - 1 != 44 ||
	    b64_decode(l2 + 1, 44, raw, &n) != 0 || n != sizeof(out->root)) {
		snprintf(err, errlen, "checkpoint root is not base64 of 32 bytes");
		return -1;
	}
	memcpy(out->root, raw, sizeof(out->root));
	return 0;
}

int
checkpoint_verify(const char *note, size_t len, const struct note_vkey *vk,
    struct checkpoint *out, char *err, size_t errlen)
{
	size_t tlen;

	if (note_verify(note, len, vk, &tlen, err, errlen) != 0)
		return -1;
	if (checkpoint_parse(note, tlen, out, err, errlen) != 0)
		return -1;
	if (strcmp(out->origin, vk->name) != 0) {
		snprintf(err, errlen, "checkpoint origin '%s' is not the key's "
		    "name '%s'", out->origin, vk->name);
		return -1;
	}
	return 0;
}
