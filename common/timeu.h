/* Wall-clock time as Unix seconds, and RFC 3339 formatting and parsing. */
#ifndef CB_TIMEU_H
#define CB_TIMEU_H

#include <stddef.h>
#include <stdint.h>

/* Current wall-clock time in Unix seconds. */
int64_t timeu_now(void);

/*
 * The current wall-clock time in milliseconds as 12 lower-case hex digits
 * (NUL-terminated). Ids that begin with it sort by creation time, so the
 * indexes keyed by them grow at one end instead of everywhere.
 */
void timeu_ms_hex(char out[13]);

/* Current monotonic time in microseconds, for durations only. */
int64_t timeu_mono_us(void);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ" (UTC). out needs 21 bytes; 0 or -1. */
int timeu_format(int64_t t, char *out, size_t outlen);

/*
 * Parses an RFC 3339 date-time ("2026-11-22T19:18:20Z", "...+13:00",
 * optional fractional seconds, which are dropped) into Unix seconds.
 * "t" and "z" may be lower case (RFC 3339 section 5.6); a leap second
 * (":60") counts as the next second. Returns 0, or -1 on anything else
 * (dates are range-checked; *out is untouched).
 */
int timeu_parse(const char *s, int64_t *out);

/* Days since the epoch (UTC) of t, for per-day counters. */
int64_t timeu_day(int64_t t);

#endif
