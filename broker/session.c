/* In-memory sessions and pending sign-ins for the citizen page. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "b64.h"
#include "session.h"
#include "timeu.h"

struct sessions {
	pthread_mutex_t mu;
	struct session s[SESSION_MAX];
	struct login l[LOGIN_MAX];
};

int
session_random_id(char buf[SESSION_ID_LEN])
{
	unsigned char r[32];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	b64url_encode(r, sizeof(r), buf);
	return 0;
}

struct sessions *
sessions_new(void)
{
	struct sessions *s = calloc(1, sizeof(*s));

	if (s != NULL)
		pthread_mutex_init(&s->mu, NULL);
	return s;
}

void
sessions_free(struct sessions *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

/* A free or expired slot, else the one expiring first. */
static size_t
pick(const int64_t *expires, size_t stride_n, size_t stride, int64_t now)
{
	size_t i, best = 0;
	const char *base = (const char *)expires;

	for (i = 0; i < stride_n; i++) {
		int64_t e = *(const int64_t *)(const void *)(base + i * stride);

		if (e <= now)
			return i;
		if (e < *(const int64_t *)(const void *)(base + best * stride))
			best = i;
	}
	return best;
}

int
sessions_create(struct sessions *s, const char *subject, int ttl,
    struct session *out)
{
	struct session n;
	int64_t now = timeu_now();
	size_t i;

	memset(&n, 0, sizeof(n));
	if (strlen(subject) >= sizeof(n.subject) ||
	    session_random_id(n.id) != 0 || session_random_id(n.csrf) != 0)
		return -1;
	memcpy(n.subject, subject, strlen(subject) + 1);
	n.expires = now + ttl;
	pthread_mutex_lock(&s->mu);
	i = pick(&s->s[0].expires, SESSION_MAX, sizeof(s->s[0]), now);
	s->s[i] = n;
	pthread_mutex_unlock(&s->mu);
	*out = n;
	return 0;
}

static int
id_eq(const char *a, const char *b)
{
	size_t n = strlen(b);

	return strlen(a) == n && n > 0 && CRYPTO_memcmp(a, b, n) == 0;
}

int
sessions_get(struct sessions *s, const char *id, struct session *out)
{
	int64_t now = timeu_now();
	int rc = -1;
	size_t i;

	if (strlen(id) != SESSION_ID_LEN - 1)
		return -1;
	pthread_mutex_lock(&s->mu);
	for (i = 0; i < SESSION_MAX; i++)
		if (s->s[i].expires > now && id_eq(s->s[i].id, id)) {
			*out = s->s[i];
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
sessions_delete(struct sessions *s, const char *id)
{
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < SESSION_MAX; i++)
		if (s->s[i].expires != 0 && id_eq(s->s[i].id, id))
			memset(&s->s[i], 0, sizeof(s->s[i]));
	pthread_mutex_unlock(&s->mu);
}

int
logins_create(struct sessions *s, struct login *out)
{
	struct login n;
	int64_t now = timeu_now();
	size_t i;

	memset(&n, 0, sizeof(n));
	if (session_random_id(n.state) != 0 || session_random_id(n.nonce) != 0 ||
	    session_random_id(n.verifier) != 0 || session_random_id(n.bind) != 0)
		return -1;
	n.expires = now + LOGIN_TTL_S;
	pthread_mutex_lock(&s->mu);
	i = pick(&s->l[0].expires, LOGIN_MAX, sizeof(s->l[0]), now);
	s->l[i] = n;
	pthread_mutex_unlock(&s->mu);
	*out = n;
	return 0;
}

int
logins_take(struct sessions *s, const char *state, struct login *out)
{
	int64_t now = timeu_now();
	int rc = -1;
	size_t i;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < LOGIN_MAX; i++)
		if (s->l[i].expires > now && id_eq(s->l[i].state, state)) {
			*out = s->l[i];
			memset(&s->l[i], 0, sizeof(s->l[i]));
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
