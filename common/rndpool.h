/*
 * Random bytes for identifiers (token jtis, consent ids): drawn from
 * OpenSSL's DRBG a block at a time into a buffer of the calling thread's
 * own and handed out in order, so that one RAND_bytes call serves many
 * ids. Each byte is handed out once and wiped from the buffer as it goes.
 *
 * Not for keys or session secrets: those call RAND_bytes directly. Not
 * fork-safe: a child forked from a thread would hand out its parent's
 * unused bytes again (consentd does not fork).
 */
#ifndef CB_RNDPOOL_H
#define CB_RNDPOOL_H

#include <stddef.h>

#define RNDPOOL_BLOCK 256   /* bytes drawn from the DRBG at a time */
#define RNDPOOL_MAX 64      /* larger requests go to RAND_bytes directly */

/* Fills out with n random bytes: 0, or -1 when the DRBG fails. */
int rndpool_bytes(void *out, size_t n);

#endif
