/* libconsent internals shared by its files; not installed. */
#ifndef LC_INTERNAL_H
#define LC_INTERNAL_H

#include <stddef.h>

#include "consent.h"

#define LC_DETAIL_MAX 512

/* Sets this thread's detail message; returns e for tail calls. */
consent_err lc_fail(consent_err e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* This thread's detail message. */
const char *lc_detail(void);

/* Clears this thread's detail message. */
void lc_clear(void);

/* Copies this thread's detail into buf (if not NULL). */
void lc_copy_detail(char *buf, size_t len);

#endif
