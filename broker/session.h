/*
 * Citizen web sessions and pending sign-ins, kept in memory (a restart
 * signs everyone out). Bounded: the oldest entries give way when full.
 * Safe to use from every worker thread.
 */
#ifndef CB_SESSION_H
#define CB_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define SESSION_ID_LEN 44          /* base64url of 32 random bytes + NUL */
#define SESSION_MAX 4096
#define LOGIN_MAX 4096
#define LOGIN_TTL_S 600

struct session {
	char id[SESSION_ID_LEN];
	char subject[256];
	char csrf[SESSION_ID_LEN];
	int64_t expires;
};

/* A sign-in under way: what the callback must find again. */
struct login {
	char state[SESSION_ID_LEN];
	char nonce[SESSION_ID_LEN];
	char verifier[SESSION_ID_LEN];  /* PKCE code_verifier */
	char bind[SESSION_ID_LEN];      /* value of the browser's login cookie */
	int64_t expires;
};

struct sessions;

struct sessions *sessions_new(void);
void sessions_free(struct sessions *s);

/* Fills buf with a fresh random base64url id (43 chars); 0 or -1. */
int session_random_id(char buf[SESSION_ID_LEN]);

/* Starts a session for subject lasting ttl seconds; *out gets a copy. */
int sessions_create(struct sessions *s, const char *subject, int ttl,
    struct session *out);

/* Copies the live session with this id into out; 0, or -1 if none. */
int sessions_get(struct sessions *s, const char *id, struct session *out);

void sessions_delete(struct sessions *s, const char *id);

/* Starts a sign-in (fresh state, nonce, verifier, bind); 0 or -1. */
int logins_create(struct sessions *s, struct login *out);

/* Takes (removes) the sign-in with this state; 0, or -1 if none/expired. */
int logins_take(struct sessions *s, const char *state, struct login *out);

#endif
