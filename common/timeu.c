/* Wall-clock and monotonic time, and strict RFC 3339 with civil-date arithmetic. */
#include "timeu.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#define SECS_PER_DAY 86400
/* Unix seconds of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIMEU_MIN (-62167219200LL)
#define TIMEU_MAX 253402300799LL

int64_t
timeu_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec;
}

void
timeu_ms_hex(char out[13])
{
	struct timespec ts;
	uint64_t ms = 0;

	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && ts.tv_sec >= 0)
		ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	snprintf(out, 13, "%012" PRIx64, (uint64_t)(ms & 0xffffffffffffULL));
}

int64_t
timeu_mono_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Floor division, so days before the epoch round down. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date, and back: the
 * era-based algorithms of H. Hinnant, "chrono-Compatible Low-Level Date
 * Algorithms". Not timegm(3): it is not in C11 or POSIX, and errors are
 * not reported the same way everywhere.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, int m)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

int
timeu_format(int64_t t, char *out, size_t outlen)
{
	int64_t days, secs, y;
	int m, d, n;

	if (outlen < 21 || t < TIMEU_MIN || t > TIMEU_MAX)
		return -1;
	days = floor_div(t, SECS_PER_DAY);
	secs = t - days * SECS_PER_DAY;
	civil_from_days(days, &y, &m, &d);
	n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m,
	    d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (n != 20)
		return -1;
	return 0;
}

/* Reads exactly n decimal digits at *p, advancing it. -1 when not digits. */
static int
digits(const char **p, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

/*
 * date-time = full-date "T" full-time (RFC 3339 section 5.6). "T" and "Z"
 * may be lower case, as the RFC allows; a space for "T" is not accepted.
 * Seconds may be 60 (a leap second), which lands on the next second, as
 * Unix time cannot name it. The fraction may have any number of digits.
 */
int
timeu_parse(const char *s, int64_t *out)
{
	const char *p = s;
	int year, mon, day, hh, mm, ss, oh = 0, om = 0, sign = 0;
	int64_t t;

	if (digits(&p, 4, &year) != 0 || *p++ != '-' ||
	    digits(&p, 2, &mon) != 0 || *p++ != '-' ||
	    digits(&p, 2, &day) != 0)
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (digits(&p, 2, &hh) != 0 || *p++ != ':' ||
	    digits(&p, 2, &mm) != 0 || *p++ != ':' || digits(&p, 2, &ss) != 0)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) != 0 || *p++ != ':' ||
		    digits(&p, 2, &om) != 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hh > 23 || mm > 59 || ss > 60)
		return -1;
	t = days_from_civil(year, mon, day) * SECS_PER_DAY + hh * 3600 +
	    mm * 60 + ss;
	t -= sign * (oh * 3600 + om * 60);
	/* A leap second or an offset can carry an edge date out of range. */
	if (t < TIMEU_MIN || t > TIMEU_MAX)
		return -1;
	*out = t;
	return 0;
}

int64_t
timeu_day(int64_t t)
{
	return floor_div(t, SECS_PER_DAY);
}
