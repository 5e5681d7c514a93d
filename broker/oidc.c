/* The OpenID Connect relying party: authorization request, code exchange,
 * ID token validation (libjwt). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "b64.h"
#include "jsonu.h"
#include "jwk.h"
#include "oidc.h"

#define OIDC_HTTP_MAX (256 * 1024)
#define OIDC_TIMEOUT_MS 5000L

static char *
pem_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (b == NULL)
		return NULL;
	if (PEM_write_bio_PUBKEY(b, k) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return out;
}

static int
add_key(struct oidc *o, const char *kid, EVP_PKEY *k)
{
	if (o->nkeys == OIDC_MAX_KEYS || strlen(kid) >= sizeof(o->keys[0].kid))
		return -1;
	/* Parsed to PEM once, at start: libjwt takes PEM keys. */
	o->keys[o->nkeys].pem = pem_of(k);
	if (o->keys[o->nkeys].pem == NULL)
		return -1;
	snprintf(o->keys[o->nkeys].kid, sizeof(o->keys[0].kid), "%s", kid);
	o->nkeys++;
	return 0;
}

void
oidc_free(struct oidc *o)
{
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < o->nkeys; i++)
		free(o->keys[i].pem);
	free(o);
}

static int
setstr(char *dst, size_t n, const char *src)
{
	int r = snprintf(dst, n, "%s", src);

	return r < 0 || (size_t)r >= n ? -1 : 0;
}

struct oidc *
oidc_new_dev(struct devidp *dev, const char *client_id,
    const char *redirect_uri, char *err, size_t errlen)
{
	struct oidc *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->dev = dev;
	if (setstr(o->issuer, sizeof(o->issuer), devidp_issuer(dev)) != 0 ||
	    setstr(o->client_id, sizeof(o->client_id), client_id) != 0 ||
	    setstr(o->redirect_uri, sizeof(o->redirect_uri), redirect_uri) ||
	    snprintf(o->authz_ep, sizeof(o->authz_ep), "%s/authorize",
	    o->issuer) >= (int)sizeof(o->authz_ep)) {
		snprintf(err, errlen, "issuer or redirect URI too long");
		oidc_free(o);
		return NULL;
	}
	return o;
}

int
oidc_add_key(struct oidc *o, const char *kid, EVP_PKEY *k)
{
	return add_key(o, kid, k);
}

struct buf {
	char *p;
	size_t n;
};

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t add = size * nmemb;
	char *np;

	if (b->n + add > OIDC_HTTP_MAX || (np = realloc(b->p, b->n + add + 1)) ==
	    NULL)
		return 0;
	memcpy(np + b->n, ptr, add);
	b->n += add;
	np[b->n] = '\0';
	b->p = np;
	return add;
}

/* GET (form NULL) or POST form to url; the JSON answer or NULL. */
static json_t *
http_json(const struct oidc *o, const char *url, const char *form,
    char *err, size_t errlen)
{
	struct buf b = { NULL, 0 };
	char why[256];
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode cc;
	json_t *j = NULL;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, OIDC_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	if (o->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	if (form != NULL)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK)
		snprintf(err, errlen, "%s: %s", url, curl_easy_strerror(cc));
	else if (status != 200)
		snprintf(err, errlen, "%s answered HTTP %ld", url, status);
	else if ((j = jsonu_parse(b.p, b.n, 8, why, sizeof(why))) == NULL)
		snprintf(err, errlen, "%s: %s", url, why);
	free(b.p);
	return j;
}

struct oidc *
oidc_new_discover(const char *issuer, const char *client_id,
    const char *client_secret, const char *redirect_uri, const char *ca_file,
    char *err, size_t errlen)
{
	struct oidc *o = calloc(1, sizeof(*o));
	json_t *disc = NULL, *jwks = NULL, *k;
	const char *s, *kid;
	char url[512], why[256];
	EVP_PKEY *pk;
	size_t i;

	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (setstr(o->issuer, sizeof(o->issuer), issuer) != 0 ||
	    setstr(o->client_id, sizeof(o->client_id), client_id) != 0 ||
	    setstr(o->client_secret, sizeof(o->client_secret),
	    client_secret != NULL ? client_secret : "") != 0 ||
	    setstr(o->redirect_uri, sizeof(o->redirect_uri), redirect_uri) ||
	    setstr(o->ca_file, sizeof(o->ca_file), ca_file != NULL ? ca_file :
	    "") != 0) {
		snprintf(err, errlen, "OIDC settings too long");
		goto fail;
	}
	snprintf(url, sizeof(url), "%s/.well-known/openid-configuration",
	    issuer);
	if ((disc = http_json(o, url, NULL, err, errlen)) == NULL)
		goto fail;
	if (jsonu_get_str(disc, "issuer", &s) != 0 || strcmp(s, issuer) != 0) {
		snprintf(err, errlen, "discovery document names another issuer");
		goto fail;
	}
	if (jsonu_get_str(disc, "authorization_endpoint", &s) != 0 ||
	    setstr(o->authz_ep, sizeof(o->authz_ep), s) != 0 ||
	    jsonu_get_str(disc, "token_endpoint", &s) != 0 ||
	    setstr(o->token_ep, sizeof(o->token_ep), s) != 0 ||
	    jsonu_get_str(disc, "jwks_uri", &s) != 0) {
		snprintf(err, errlen, "discovery document lacks endpoints");
		goto fail;
	}
	if ((jwks = http_json(o, s, NULL, err, errlen)) == NULL)
		goto fail;
	json_array_foreach(json_object_get(jwks, "keys"), i, k) {
		if (jsonu_get_str(k, "kid", &kid) != 0 ||
		    (pk = jwk_to_pkey(k, why, sizeof(why))) == NULL)
			continue;   /* only EC P-256 keys with a kid are used */
		(void)add_key(o, kid, pk);
		EVP_PKEY_free(pk);
	}
	if (o->nkeys == 0) {
		snprintf(err, errlen, "the issuer's JWKS has no usable key");
		goto fail;
	}
	json_decref(disc);
	json_decref(jwks);
	return o;
fail:
	json_decref(disc);
	json_decref(jwks);
	oidc_free(o);
	return NULL;
}

int
oidc_auth_url(const struct oidc *o, const struct login *l, char *out,
    size_t outlen)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char challenge[64], *ru, *cid;
	int n;

	SHA256((const unsigned char *)l->verifier, strlen(l->verifier), md);
	b64url_encode(md, sizeof(md), challenge);
	ru = curl_easy_escape(NULL, o->redirect_uri, 0);
	cid = curl_easy_escape(NULL, o->client_id, 0);
	n = ru != NULL && cid != NULL ? snprintf(out, outlen,
	    "%s?response_type=code&client_id=%s&redirect_uri=%s&scope=openid"
	    "&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256",
	    o->authz_ep, cid, ru, l->state, l->nonce, challenge) : -1;
	curl_free(ru);
	curl_free(cid);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
oidc_exchange(const struct oidc *o, const char *code, const char *verifier,
    char **id_token, char *err, size_t errlen)
{
	char *form = NULL, *c = NULL, *ru = NULL, *cid = NULL, *sec = NULL;
	const char *idt;
	json_t *j = NULL;
	size_t n;
	int rc = -1;

	*id_token = NULL;
	if (o->dev != NULL)
		return devidp_exchange(o->dev, code, verifier, o->client_id,
		    o->redirect_uri, id_token, err, errlen);
	c = curl_easy_escape(NULL, code, 0);
	ru = curl_easy_escape(NULL, o->redirect_uri, 0);
	cid = curl_easy_escape(NULL, o->client_id, 0);
	sec = curl_easy_escape(NULL, o->client_secret, 0);
	n = 512 + (c ? strlen(c) : 0) + (ru ? strlen(ru) : 0) +
	    (cid ? strlen(cid) : 0) + (sec ? strlen(sec) : 0);
	if (c == NULL || ru == NULL || cid == NULL || sec == NULL ||
	    (form = malloc(n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(form, n, "grant_type=authorization_code&code=%s&redirect_uri=%s"
	    "&client_id=%s&code_verifier=%s%s%s", c, ru, cid, verifier,
	    o->client_secret[0] != '\0' ? "&client_secret=" : "",
	    o->client_secret[0] != '\0' ? sec : "");
	if ((j = http_json(o, o->token_ep, form, err, errlen)) == NULL)
		goto out;
	if (jsonu_get_str(j, "id_token", &idt) != 0) {
		snprintf(err, errlen, "the issuer's token answer has no id_token");
		goto out;
	}
	*id_token = strdup(idt);
	rc = *id_token != NULL ? 0 : -1;
out:
	curl_free(c);
	curl_free(ru);
	curl_free(cid);
	curl_free(sec);
	free(form);
	json_decref(j);
	return rc;
}

/* The kid in a compact JWS header, or NULL (into out). */
static const char *
header_kid(const char *tok, char *out, size_t outlen)
{
	const char *dot = strchr(tok, '.');
	unsigned char raw[1024];
	const char *kid = NULL;
	json_t *h;
	size_t n;

	if (dot == NULL || (size_t)(dot - tok) > 1300 ||
	    b64url_decode(tok, (size_t)(dot - tok), raw, &n) != 0)
		return NULL;
	h = json_loadb((const char *)raw, n, 0, NULL);
	if (h != NULL && jsonu_get_str(h, "kid", &kid) == 0 &&
	    strlen(kid) < outlen) {
		snprintf(out, outlen, "%s", kid);
		kid = out;
	} else
		kid = NULL;
	json_decref(h);
	return kid;
}

static int
aud_ok(jwt_t *jwt, const char *client_id)
{
	const char *a = jwt_get_grant(jwt, "aud");
	char *arr;
	json_t *j, *v;
	size_t i;
	int ok = 0;

	if (a != NULL)
		return strcmp(a, client_id) == 0;
	arr = jwt_get_grants_json(jwt, "aud");
	if (arr == NULL)
		return 0;
	j = json_loads(arr, 0, NULL);
	json_array_foreach(j, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    client_id) == 0)
			ok = 1;
	json_decref(j);
	free(arr);
	return ok;
}

int
oidc_validate(const struct oidc *o, const char *tok, const char *nonce,
    int64_t now, int skew, char *sub_out, size_t sub_len, char *err,
    size_t errlen)
{
	const char *pem = NULL, *kid, *iss, *sub, *tn;
	char kidbuf[128];
	jwt_t *jwt = NULL;
	long exp, iat;
	size_t i;
	int rc = -1;

	kid = header_kid(tok, kidbuf, sizeof(kidbuf));
	for (i = 0; i < o->nkeys; i++)
		if (kid == NULL ? o->nkeys == 1 : strcmp(o->keys[i].kid, kid) == 0)
			pem = o->keys[i].pem;
	if (pem == NULL) {
		snprintf(err, errlen, "the ID token was signed with a key the "
		    "identity provider does not publish");
		return -1;
	}
	if (jwt_decode(&jwt, tok, (const unsigned char *)pem,
	    (int)strlen(pem)) != 0 || jwt == NULL ||
	    jwt_get_alg(jwt) == JWT_ALG_NONE) {
		snprintf(err, errlen, "the ID token's signature does not verify");
		goto out;
	}
	iss = jwt_get_grant(jwt, "iss");
	if (iss == NULL || strcmp(iss, o->issuer) != 0) {
		snprintf(err, errlen, "the ID token comes from another issuer");
		goto out;
	}
	if (!aud_ok(jwt, o->client_id)) {
		snprintf(err, errlen, "the ID token's audience is not this "
		    "broker");
		goto out;
	}
	errno = 0;
	exp = jwt_get_grant_int(jwt, "exp");
	/* Not exp + skew: an exp near LONG_MAX must not overflow. */
	if (errno != 0 || now - skew >= exp) {
		snprintf(err, errlen, "the ID token has expired");
		goto out;
	}
	errno = 0;
	iat = jwt_get_grant_int(jwt, "iat");
	if (errno == 0 && iat > now + skew) {
		snprintf(err, errlen, "the ID token was issued in the future");
		goto out;
	}
	tn = jwt_get_grant(jwt, "nonce");
	if (tn == NULL || strcmp(tn, nonce) != 0) {
		snprintf(err, errlen, "the ID token's nonce does not match this "
		    "sign-in");
		goto out;
	}
	sub = jwt_get_grant(jwt, "sub");
	if (sub == NULL || strlen(sub) >= sub_len) {
		snprintf(err, errlen, "the ID token names no subject");
		goto out;
	}
	snprintf(sub_out, sub_len, "%s", sub);
	rc = 0;
out:
	jwt_free(jwt);
	return rc;
}
