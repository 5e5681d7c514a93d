/*
 * C2SP signed notes with Ed25519 signatures, and tlog checkpoints
 * (c2sp.org/signed-note, c2sp.org/tlog-checkpoint).
 *
 *   note      = text "\n" signature-line+
 *   text      = lines, each ending in "\n", no blank line
 *   signature = "— " name " " base64(key ID[4] || Ed25519 signature[64]) "\n"
 *   key ID    = SHA-256(name || "\n" || 0x01 || public key)[0:4]
 *   vkey      = name "+" hex(key ID) "+" base64(0x01 || public key)
 *   checkpoint text = origin "\n" decimal size "\n" base64(root) "\n"
 */
#ifndef CB_NOTE_H
#define CB_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define NOTE_MAX 8192
#define NOTE_NAME_MAX 256
#define NOTE_ED25519_PUB 32

struct note_vkey {
	char name[NOTE_NAME_MAX];
	unsigned char keyid[4];
	unsigned char pub[NOTE_ED25519_PUB];
};

/* The verifier key of an Ed25519 key under name, from the key itself. */
int note_vkey_from_pkey(const char *name, EVP_PKEY *key,
    struct note_vkey *out);

/* Formats vk as "name+hex+base64" into out; 0 or -1 if it does not fit. */
int note_vkey_format(const struct note_vkey *vk, char *out, size_t outlen);

/* Parses a verifier key string (checks the key ID); 0 or -1 with err. */
int note_vkey_parse(const char *s, struct note_vkey *out, char *err,
    size_t errlen);

/*
 * Signs text (non-empty, ending in "\n", no blank line) with an Ed25519
 * key as name; *out gets the whole note (malloc'd, NUL-terminated).
 * 0 or -1.
 */
int note_sign(const char *text, const char *name, EVP_PKEY *key, char **out);

/*
 * Verifies note against vk: finds the signature line with vk's name and
 * key ID and checks it over the text. On success *text_len is the length
 * of the signed text (a prefix of note). 0, or -1 with the reason in err.
 */
int note_verify(const char *note, size_t len, const struct note_vkey *vk,
    size_t *text_len, char *err, size_t errlen);

struct checkpoint {
	char origin[NOTE_NAME_MAX];
	uint64_t size;
	unsigned char root[32];
};

/* Formats a checkpoint's text (without signature) into out; 0 or -1. */
int checkpoint_text(const struct checkpoint *c, char *out, size_t outlen);

/* Parses a checkpoint text (extension lines after the root are allowed
 * and ignored); 0, or -1 with err. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *out,
    char *err, size_t errlen);

/* note_verify then checkpoint_parse; also checks the origin is vk's name
 * when require_origin is set. 0 or -1 with err. */
int checkpoint_verify(const char *note, size_t len,
    const struct note_vkey *vk, struct checkpoint *out, char *err,
    size_t errlen);

#endif
