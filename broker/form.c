/* Strict decoder for form-encoded request bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..n) into a new string; NULL on a bad escape, NUL or ENOMEM. */
static char *
decode(const char *s, size_t n, int *bad)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;
	int h, l;

	*bad = 0;
	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			*o++ = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= n)
				goto bad;
			h = hexval(s[i + 1]);
			l = hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				goto bad;
			*o++ = (char)(h << 4 | l);
			i += 2;
		} else if (s[i] == '\0')
			goto bad;
		else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
bad:
	*bad = 1;
	free(out);
	return NULL;
}

void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->p[i].key);
		free(f->p[i].value);
	}
	f->n = 0;
}

const char *
form_get(const struct form *f, const char *key)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->p[i].key, key) == 0)
			return f->p[i].value;
	return NULL;
}

int
form_parse(const char *body, size_t len, struct form *f, char *err,
    size_t errlen)
{
	const char *p = body, *end = body + len, *amp, *eq;
	char *k = NULL, *v = NULL;
	int bad;

	f->n = 0;
	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp == p) {   /* tolerate empty pairs ("a=1&&b=2") */
			p++;
			continue;
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL)
			eq = amp;
		if (eq == p) {
			snprintf(err, errlen, "form body: parameter with an empty name");
			goto fail;
		}
		k = decode(p, (size_t)(eq - p), &bad);
		if (k == NULL)
			goto decode_fail;
		v = decode(eq < amp ? eq + 1 : amp,
		    eq < amp ? (size_t)(amp - eq - 1) : 0, &bad);
		if (v == NULL)
			goto decode_fail;
		if (form_get(f, k) != NULL) {
			snprintf(err, errlen,
			    "form body: parameter '%.64s' is given more than once", k);
			goto fail;
		}
		if (f->n == FORM_MAX_PARAMS) {
			snprintf(err, errlen,
			    "form body: more than %d parameters", FORM_MAX_PARAMS);
			goto fail;
		}
		f->p[f->n].key = k;
		f->p[f->n].value = v;
		f->n++;
		k = v = NULL;
		p = amp + 1;
	}
	return 0;
decode_fail:
	if (bad)
		snprintf(err, errlen,
		    "form body: bad percent-encoding (or an encoded NUL) near "
		    "byte %zu", (size_t)(p - body));
	else
		snprintf(err, errlen, "out of memory");
fail:
	free(k);
	free(v);
	form_free(f);
	return -1;
}
