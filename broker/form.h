/* application/x-www-form-urlencoded bodies, decoded strictly. */
#ifndef CB_FORM_H
#define CB_FORM_H

#include <stddef.h>

#define FORM_MAX_PARAMS 64

struct form_param {
	char *key;
	char *value;
};

struct form {
	size_t n;
	struct form_param p[FORM_MAX_PARAMS];
};

/*
 * Decodes len bytes into f: '&'-separated key=value pairs, '+' as space,
 * %XX escapes. Rejects: a bad escape, a decoded NUL, an empty key, a key
 * given twice (RFC 6749 section 3.2), more than FORM_MAX_PARAMS pairs.
 * Returns 0, or -1 with the reason in err; f is empty after a failure.
 */
int form_parse(const char *body, size_t len, struct form *f, char *err,
    size_t errlen);

/* The value of key (borrowed until form_free), or NULL. */
const char *form_get(const struct form *f, const char *key);

/* Frees the pairs; safe on an empty or freed form. */
void form_free(struct form *f);

#endif
