/* Unit tests for consentd's configuration (broker/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define ERRLEN 1024

struct fx {
	char dir[64];
	char path[128];
	struct config c;
	char err[ERRLEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cb-config-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/consentd.conf", f->dir);
	config_defaults(&f->c);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void
write_conf(struct fx *f, const char *text)
{
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
expect_err_contains(const char *err, const char *needle)
{
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void
defaults_match_documentation(void **state)
{
	struct fx *f = *state;

	assert_string_equal(f->c.listen_host, "127.0.0.1");
	assert_int_equal(f->c.listen_port, 8443);
	assert_int_equal(f->c.threads, 0);
	assert_int_equal(f->c.dev, 0);
	assert_string_equal(f->c.issuer, "");
	assert_int_equal(f->c.map_bytes, (size_t)1024 << 20);
	assert_int_equal(f->c.max_body_bytes, 65536);
	assert_int_equal(f->c.max_header_bytes, 16384);
	assert_int_equal(f->c.request_timeout_s, 30);
	assert_int_equal(f->c.request_deadline_s, 30);
	assert_int_equal(f->c.max_token_ttl_s, 600);
	assert_int_equal(f->c.clock_skew_s, 60);
	assert_int_equal(f->c.group_commit_max, 1024);
	assert_string_equal(f->c.citizen_issuer, "");
	assert_string_equal(f->c.citizen_jwks, "");
	assert_string_equal(f->c.citizen_audience, "consent-broker");
	assert_string_equal(f->c.data_dir, "");
}

struct intkey {
	const char *key;
	long lo, hi;
};

static const struct intkey intkeys[] = {
	{ "threads", 0, 64 },
	{ "map_size_mb", 16, 1048576 },
	{ "max_body_bytes", 1024, 16777216 },
	{ "max_header_bytes", 1024, 1048576 },
	{ "request_timeout_s", 1, 3600 },
	{ "request_deadline_s", 1, 3600 },
	{ "max_token_ttl_s", 1, 3600 },
	{ "clock_skew_s", 0, 600 },
	{ "group_commit_max", 1, 65536 },
};

/* Reads back the integer a key sets, in the key's own unit. */
static long
intkey_value(const struct config *c, const char *key)
{
	if (strcmp(key, "threads") == 0)
		return c->threads;
	if (strcmp(key, "map_size_mb") == 0)
		return (long)(c->map_bytes >> 20);
	if (strcmp(key, "max_body_bytes") == 0)
		return (long)c->max_body_bytes;
	if (strcmp(key, "max_header_bytes") == 0)
		return (long)c->max_header_bytes;
	if (strcmp(key, "request_timeout_s") == 0)
		return c->request_timeout_s;
	if (strcmp(key, "request_deadline_s") == 0)
		return c->request_deadline_s;
	if (strcmp(key, "max_token_ttl_s") == 0)
		return c->max_token_ttl_s;
	if (strcmp(key, "clock_skew_s") == 0)
		return c->clock_skew_s;
	if (strcmp(key, "group_commit_max") == 0)
		return c->group_commit_max;
	fail_msg("no such key %s", key);
	return -1;
}

static void
integer_keys_accept_their_bounds(void **state)
{
	struct fx *f = *state;
	char v[32];
	size_t i;

	for (i = 0; i < sizeof(intkeys) / sizeof(intkeys[0]); i++) {
		snprintf(v, sizeof(v), "%ld", intkeys[i].lo);
		if (config_set(&f->c, intkeys[i].key, v, f->err, ERRLEN) != 0)
			fail_msg("%s = %s: %s", intkeys[i].key, v, f->err);
		assert_int_equal(intkey_value(&f->c, intkeys[i].key),
		    intkeys[i].lo);
		snprintf(v, sizeof(v), "%ld", intkeys[i].hi);
		if (config_set(&f->c, intkeys[i].key, v, f->err, ERRLEN) != 0)
			fail_msg("%s = %s: %s", intkeys[i].key, v, f->err);
		assert_int_equal(intkey_value(&f->c, intkeys[i].key),
		    intkeys[i].hi);
	}
	assert_int_equal(f->c.map_bytes, (size_t)1048576 << 20);
}

static void
integer_keys_reject_out_of_range_naming_key_and_range(void **state)
{
	struct fx *f = *state;
	char v[32], want[128];
	size_t i;
	long before;

	for (i = 0; i < sizeof(intkeys) / sizeof(intkeys[0]); i++) {
		const char *k = intkeys[i].key;
		const char *bad[5];
		char lo[32], hi[32];
		size_t j;

		snprintf(lo, sizeof(lo), "%ld", intkeys[i].lo - 1);
		snprintf(hi, sizeof(hi), "%ld", intkeys[i].hi + 1);
		bad[0] = lo;
		bad[1] = hi;
		bad[2] = "ten";
		bad[3] = "";
		bad[4] = "12abc";
		snprintf(want, sizeof(want),
		    "%s: must be an integer from %ld to %ld", k, intkeys[i].lo,
		    intkeys[i].hi);
		before = intkey_value(&f->c, k);
		for (j = 0; j < 5; j++) {
			snprintf(v, sizeof(v), "%s", bad[j]);
			f->err[0] = '\0';
			if (config_set(&f->c, k, v, f->err, ERRLEN) == 0)
				fail_msg("%s = \"%s\" accepted", k, v);
			expect_err_contains(f->err, want);
			assert_int_equal(intkey_value(&f->c, k), before);
		}
	}
}

static void
integer_keys_reject_overflow(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_set(&f->c, "max_body_bytes",
	    "99999999999999999999999", f->err, ERRLEN), -1);
	expect_err_contains(f->err, "max_body_bytes");
}

static void
dev_accepts_true_and_false_only(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_set(&f->c, "dev", "true", f->err, ERRLEN), 0);
	assert_int_equal(f->c.dev, 1);
	assert_int_equal(config_set(&f->c, "dev", "false", f->err, ERRLEN), 0);
	assert_int_equal(f->c.dev, 0);
	assert_int_equal(config_set(&f->c, "dev", "yes", f->err, ERRLEN), -1);
	expect_err_contains(f->err, "dev: must be true or false");
	assert_int_equal(config_set(&f->c, "dev", "1", f->err, ERRLEN), -1);
	assert_int_equal(f->c.dev, 0);
}

static void
issuer_must_be_https(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_set(&f->c, "issuer", "https://broker.example",
	    f->err, ERRLEN), 0);
	assert_string_equal(f->c.issuer, "https://broker.example");
	assert_int_equal(config_set(&f->c, "issuer", "http://broker.example",
	    f->err, ERRLEN), -1);
	expect_err_contains(f->err, "issuer: must be an https:// URL");
	assert_string_equal(f->c.issuer, "https://broker.example");
}

static void
string_keys_set_and_reject_overlong_values(void **state)
{
	struct fx *f = *state;
	char big[PATH_MAX + 16];

	assert_int_equal(config_set(&f->c, "citizen_issuer",
	    "https://id.example", f->err, ERRLEN), 0);
	assert_string_equal(f->c.citizen_issuer, "https://id.example");
	assert_int_equal(config_set(&f->c, "citizen_jwks", "/etc/jwks.json",
	    f->err, ERRLEN), 0);
	assert_string_equal(f->c.citizen_jwks, "/etc/jwks.json");
	assert_int_equal(config_set(&f->c, "citizen_audience", "my-broker",
	    f->err, ERRLEN), 0);
	assert_string_equal(f->c.citizen_audience, "my-broker");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[128] = '\0';   /* 128 bytes: one too many for citizen_audience */
	assert_int_equal(config_set(&f->c, "citizen_audience", big, f->err,
	    ERRLEN), -1);
	expect_err_contains(f->err, "citizen_audience: value too long");
	big[128] = 'x';
	big[256] = '\0';
	assert_int_equal(config_set(&f->c, "citizen_issuer", big, f->err,
	    ERRLEN), -1);
	expect_err_contains(f->err, "citizen_issuer: value too long");
	big[256] = 'x';
	assert_int_equal(config_set(&f->c, "citizen_jwks", big, f->err,
	    ERRLEN), -1);
	expect_err_contains(f->err, "citizen_jwks: value too long");
	memcpy(big, "https://", 8);
	big[256] = '\0';
	assert_int_equal(config_set(&f->c, "issuer", big, f->err, ERRLEN), -1);
	expect_err_contains(f->err, "issuer: value too long");
}

static void
unknown_key_is_named(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_set(&f->c, "thread", "4", f->err, ERRLEN), -1);
	expect_err_contains(f->err, "unknown key \"thread\"");
}

static void
listen_parses_host_and_port(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_set(&f->c, "listen", "0.0.0.0:443", f->err,
	    ERRLEN), 0);
	assert_string_equal(f->c.listen_host, "0.0.0.0");
	assert_int_equal(f->c.listen_port, 443);
	assert_int_equal(config_set_listen(&f->c, "localhost:65535", f->err,
	    ERRLEN), 0);
	assert_string_equal(f->c.listen_host, "localhost");
	assert_int_equal(f->c.listen_port, 65535);
}

static void
listen_accepts_bracketed_ipv6(void **state)
{
	struct fx *f = *state;

	/*
	 * "[::1]:8443" is how HOST:PORT spells an IPv6 host; listen_host must
	 * be the bare address, which server.c gives to inet_pton(AF_INET6).
	 */
	assert_int_equal(config_set_listen(&f->c, "[::1]:8443", f->err, ERRLEN),
	    0);
	assert_string_equal(f->c.listen_host, "::1");
	assert_int_equal(f->c.listen_port, 8443);
}

static void
listen_rejects_bad_ports_and_shapes(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:http", "127.0.0.1:84x", ":8443", "8443", "",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->err[0] = '\0';
		if (config_set(&f->c, "listen", bad[i], f->err, ERRLEN) == 0)
			fail_msg("listen \"%s\" accepted", bad[i]);
		expect_err_contains(f->err, "listen:");
		assert_string_equal(f->c.listen_host, "127.0.0.1");
		assert_int_equal(f->c.listen_port, 8443);
	}
}

static void
listen_rejects_overlong_host(void **state)
{
	struct fx *f = *state;
	char hp[128];

	memset(hp, 'h', 64);
	snprintf(hp + 64, sizeof(hp) - 64, ":8443");
	assert_int_equal(config_set_listen(&f->c, hp, f->err, ERRLEN), -1);
	expect_err_contains(f->err, "listen: host too long");
	assert_string_equal(f->c.listen_host, "127.0.0.1");
	memset(hp, 'h', 63);
	snprintf(hp + 63, sizeof(hp) - 63, ":8443");
	assert_int_equal(config_set_listen(&f->c, hp, f->err, ERRLEN), 0);
	assert_int_equal(strlen(f->c.listen_host), 63);
}

static void
file_sets_keys_skipping_comments_and_blank_lines(void **state)
{
	struct fx *f = *state;

	write_conf(f, "# consentd.conf\n"
	    "\n"
	    "   \t\n"
	    "listen = 127.0.0.1:9443\n"
	    "  # indented comment\n"
	    "threads=3\n"
	    "  dev   =   true  \n"
	    "citizen_audience = aud x\n"
	    "map_size_mb = 64");   /* last line without a newline */
	if (config_load_file(&f->c, f->path, 0, f->err, ERRLEN) != 0)
		fail_msg("config_load_file: %s", f->err);
	assert_int_equal(f->c.listen_port, 9443);
	assert_int_equal(f->c.threads, 3);
	assert_int_equal(f->c.dev, 1);
	assert_string_equal(f->c.citizen_audience, "aud x");
	assert_int_equal(f->c.map_bytes, (size_t)64 << 20);
}

static void
file_error_names_path_and_line(void **state)
{
	struct fx *f = *state;
	char want[256];

	write_conf(f, "# comment\n\nthreads = 4\nthreads = 65\nlisten = x:1\n");
	assert_int_equal(config_load_file(&f->c, f->path, 0, f->err, ERRLEN), -1);
	snprintf(want, sizeof(want), "%s:4: threads: must be an integer from 0 "
	    "to 64", f->path);
	assert_string_equal(f->err, want);
}

static void
file_unknown_key_names_path_and_line(void **state)
{
	struct fx *f = *state;
	char want[256];

	write_conf(f, "dev = false\nbogus = 1\n");
	assert_int_equal(config_load_file(&f->c, f->path, 0, f->err, ERRLEN), -1);
	snprintf(want, sizeof(want), "%s:2: unknown key \"bogus\"", f->path);
	assert_string_equal(f->err, want);
}

static void
file_line_without_equals_is_rejected(void **state)
{
	struct fx *f = *state;
	char want[256];

	write_conf(f, "\n\n\nthreads 4\n");
	assert_int_equal(config_load_file(&f->c, f->path, 0, f->err, ERRLEN), -1);
	snprintf(want, sizeof(want), "%s:4: expected \"key = value\"", f->path);
	assert_string_equal(f->err, want);
}

static void
file_overlong_line_is_rejected(void **state)
{
	struct fx *f = *state;
	char text[2100], want[256];

	memcpy(text, "citizen_jwks = ", 15);
	memset(text + 15, 'j', 2000);
	snprintf(text + 2015, sizeof(text) - 2015, "\n");
	write_conf(f, text);
	assert_int_equal(config_load_file(&f->c, f->path, 0, f->err, ERRLEN), -1);
	snprintf(want, sizeof(want), "%s:1: line too long", f->path);
	assert_string_equal(f->err, want);
}

static void
missing_optional_file_is_ok(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_load_file(&f->c, f->path, 1, f->err, ERRLEN), 0);
	assert_int_equal(f->c.listen_port, 8443);
}

static void
missing_required_file_is_an_error_naming_it(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_load_file(&f->c, f->path, 0, f->err, ERRLEN), -1);
	expect_err_contains(f->err, f->path);
}

static void
finish_derives_threads_and_issuer(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set_listen(&f->c, "127.0.0.1:9443", f->err,
	    ERRLEN), 0);
	if (config_finish(&f->c, f->err, ERRLEN) != 0)
		fail_msg("config_finish: %s", f->err);
	assert_true(f->c.threads >= 1 && f->c.threads <= CONFIG_MAX_THREADS);
	assert_string_equal(f->c.issuer, "https://127.0.0.1:9443");
}

static void
finish_keeps_explicit_threads_and_issuer(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set(&f->c, "threads", "7", f->err, ERRLEN), 0);
	assert_int_equal(config_set(&f->c, "issuer", "https://b.example",
	    f->err, ERRLEN), 0);
	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), 0);
	assert_int_equal(f->c.threads, 7);
	assert_string_equal(f->c.issuer, "https://b.example");
}

static void
finish_brackets_ipv6_host_in_derived_issuer(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set_listen(&f->c, "[::1]:8443", f->err, ERRLEN),
	    0);
	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), 0);
	assert_string_equal(f->c.issuer, "https://[::1]:8443");
}

static void
finish_requires_data_dir(void **state)
{
	struct fx *f = *state;

	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), -1);
	expect_err_contains(f->err, "data");
}

static void
finish_rejects_citizen_issuer_without_jwks(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set(&f->c, "citizen_issuer",
	    "https://id.example", f->err, ERRLEN), 0);
	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), -1);
	expect_err_contains(f->err, "citizen_issuer and citizen_jwks");
}

static void
finish_rejects_citizen_jwks_without_issuer(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set(&f->c, "citizen_jwks", "/x/jwks.json",
	    f->err, ERRLEN), 0);
	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), -1);
	expect_err_contains(f->err, "citizen_issuer and citizen_jwks");
}

static void
finish_accepts_citizen_issuer_with_jwks(void **state)
{
	struct fx *f = *state;

	snprintf(f->c.data_dir, sizeof(f->c.data_dir), "%s", f->dir);
	assert_int_equal(config_set(&f->c, "citizen_issuer",
	    "https://id.example", f->err, ERRLEN), 0);
	assert_int_equal(config_set(&f->c, "citizen_jwks", "/x/jwks.json",
	    f->err, ERRLEN), 0);
	assert_int_equal(config_finish(&f->c, f->err, ERRLEN), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(defaults_match_documentation),
		T(integer_keys_accept_their_bounds),
		T(integer_keys_reject_out_of_range_naming_key_and_range),
		T(integer_keys_reject_overflow),
		T(dev_accepts_true_and_false_only),
		T(issuer_must_be_https),
		T(string_keys_set_and_reject_overlong_values),
		T(unknown_key_is_named),
		T(listen_parses_host_and_port),
		T(listen_accepts_bracketed_ipv6),
		T(listen_rejects_bad_ports_and_shapes),
		T(listen_rejects_overlong_host),
		T(file_sets_keys_skipping_comments_and_blank_lines),
		T(file_error_names_path_and_line),
		T(file_unknown_key_names_path_and_line),
		T(file_line_without_equals_is_rejected),
		T(file_overlong_line_is_rejected),
		T(missing_optional_file_is_ok),
		T(missing_required_file_is_an_error_naming_it),
		T(finish_derives_threads_and_issuer),
		T(finish_keeps_explicit_threads_and_issuer),
		T(finish_brackets_ipv6_host_in_derived_issuer),
		T(finish_requires_data_dir),
		T(finish_rejects_citizen_issuer_without_jwks),
		T(finish_rejects_citizen_jwks_without_issuer),
		T(finish_accepts_citizen_issuer_with_jwks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
