/* Base64, base64url and hex codecs; decoders accept exactly one encoding per value. */
#include "b64.h"

#include <stdint.h>
#include <stdlib.h>

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex_digits[] = "0123456789abcdef";

/* Value of c in the alphabet whose last two characters are c62 and c63, or -1. */
static int
b64_val(unsigned char c, char c62, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)c62)
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

size_t
b64url_encoded_len(size_t n)
{
	static const size_t tail[3] = { 0, 2, 3 };

	return n / 3 * 4 + tail[n % 3];
}

size_t
b64_encoded_len(size_t n)
{
	return (n / 3 + (n % 3 != 0)) * 4;
}

size_t
b64_decoded_max(size_t len)
{
	return len / 4 * 3 + len % 4 * 3 / 4;
}

/* Encodes with alphabet abc; pads with '=' when pad is set. */
static size_t
encode(const unsigned char *in, size_t n, char *out, const char *abc, int pad)
{
	size_t i, o = 0;
	unsigned long v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		out[o++] = abc[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned long)in[i] << 16;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = abc[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/*
 * Decodes len characters without padding (len % 4 != 1). The bits of the
 * last character that do not reach a whole byte must be zero.
 */
static int
decode(const char *in, size_t len, unsigned char *out, size_t *outlen,
    char c62, char c63)
{
	size_t i, o = 0, rem = len % 4;
	unsigned long v;
	int a, b, c, d;

	if (rem == 1)
		return -1;
	for (i = 0; i + 4 <= len; i += 4) {
		a = b64_val((unsigned char)in[i], c62, c63);
		b = b64_val((unsigned char)in[i + 1], c62, c63);
		c = b64_val((unsigned char)in[i + 2], c62, c63);
		d = b64_val((unsigned char)in[i + 3], c62, c63);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		v = (unsigned long)a << 18 | (unsigned long)b << 12 |
		    (unsigned long)c << 6 | (unsigned long)d;
		out[o++] = (unsigned char)(v >> 16);
		out[o++] = (unsigned char)(v >> 8);
		out[o++] = (unsigned char)v;
	}
	if (rem >= 2) {
		a = b64_val((unsigned char)in[i], c62, c63);
		b = b64_val((unsigned char)in[i + 1], c62, c63);
		if (a < 0 || b < 0)
			return -1;
		if (rem == 2) {
			if (b & 0x0f)
				return -1;
			out[o++] = (unsigned char)(a << 2 | b >> 4);
		} else {
			c = b64_val((unsigned char)in[i + 2], c62, c63);
			if (c < 0 || (c & 0x03))
				return -1;
			v = (unsigned long)a << 18 | (unsigned long)b << 12 |
			    (unsigned long)c << 6;
			out[o++] = (unsigned char)(v >> 16);
			out[o++] = (unsigned char)(v >> 8);
		}
	}
	*outlen = o;
	return 0;
}

size_t
b64url_encode(const unsigned char *in, size_t n, char *out)
{
	return encode(in, n, out, b64_url, 0);
}

char *
b64url_encode_alloc(const unsigned char *in, size_t n)
{
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc(b64url_encoded_len(n) + 1)) == NULL)
		return NULL;
	b64url_encode(in, n, out);
	return out;
}

int
b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	return decode(in, len, out, outlen, '-', '_');
}

size_t
b64_encode(const unsigned char *in, size_t n, char *out)
{
	return encode(in, n, out, b64_std, 1);
}

char *
b64_encode_alloc(const unsigned char *in, size_t n)
{
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc(b64_encoded_len(n) + 1)) == NULL)
		return NULL;
	b64_encode(in, n, out);
	return out;
}

int
b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	size_t body = len;

	if (len % 4 != 0)
		return -1;
	/* At most two '=', only at the end; what precedes them is checked. */
	if (body > 0 && in[body - 1] == '=')
		body--;
	if (body > 0 && in[body - 1] == '=')
		body--;
	if (body % 4 == 1)
		return -1;
	return decode(in, body, out, outlen, '+', '/');
}

void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, size_t len, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (len / 2 != n || len % 2 != 0)
		return -1;
	for (i = 0; i < n; i++) {
		hi = hex_val((unsigned char)in[2 * i]);
		lo = hex_val((unsigned char)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
