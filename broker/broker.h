/*
 * The broker's one context: built by main, read-only once the server runs
 * (except through the store and the writer), passed to every thread.
 */
#ifndef CB_BROKER_H
#define CB_BROKER_H

#include <stdatomic.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "citizen.h"
#include "oidc.h"
#include "session.h"
#include "config.h"
#include "keyset.h"
#include "status.h"
#include "store.h"
#include "tlog.h"
#include "writer.h"

/* Data directory layout (relative to --data). */
#define DATA_STORE_DIR       "store"
#define DATA_PKI_DIR         "pki"
#define DATA_SIGNING_DIR     "keys/signing"
#define DATA_LOG_KEY         "keys/log-ed25519.key"
#define DATA_DEV_ISSUER_KEY  "keys/dev-issuer.key"
#define DATA_PSEUDONYM_KEY   "keys/pseudonym.key"
#define DEV_ISSUER_SUFFIX    "/dev"

struct broker {
	struct config cfg;
	struct store *store;
	struct writer *writer;
	_Atomic(struct keyset *) keys;    /* swapped on SIGHUP (rotation) */
	struct tlog *log;             /* the audit log */
	struct status *status;        /* token status lists */
	struct sessions *sessions;    /* citizens' web sessions */
	struct oidc *oidc;            /* citizen sign-in (NULL: none) */
	struct devidp *devidp;        /* --dev: our own identity provider */
	struct citizen_auth *citizens;
	char dev_issuer[300];        /* "iss" of dev citizen tokens, or "" */
	SSL_CTX *tls;
	char *discovery;             /* /.well-known/consent-broker body */
};

/* The token-signing keys now in force. A key set replaced by a reload
 * stays allocated until exit, so a pointer read here stays valid. */
static inline struct keyset *
broker_keys(struct broker *b)
{
	return atomic_load(&b->keys);
}

#endif
