/*
 * Fuzz target: the broker's request-side parsers, without sockets.
 *
 * The whole request path (routes_dispatch in broker/routes.c) is not
 * fuzzed here: a struct rq needs a live evhttp_request whose replies go
 * through a worker of broker/server.c (static: request log, in-flight
 * count, connection close), and the routes need a struct broker with an
 * LMDB store, a writer thread, signing keys, the audit log and status
 * lists. Faking those would fuzz the fakes. Instead this target runs the
 * functions the routes call on untrusted bytes, the same way. The first
 * byte of the input picks one; the rest is its input:
 *   'f'  form_parse of a form body (/oauth2/token, /oauth2/introspect,
 *        the citizen page's forms, the dev IdP), then form_get of the
 *        parameters those routes read
 *   'g'  a JSON body as routes_json_body reads it (jsonu_parse with
 *        ROUTES_MAX_DEPTH), then as a grant (POST /v1/consents):
 *        consent_new_record under the smartstart example agreement, the
 *        record read back by consent_view_from_json and consent_public;
 *        and as a submitted agreement (POST /v1/agreements):
 *        agreement_from_json
 *   's'  consent_subject_ok of a subject id
 *   'c'  config_set of one "key = value" line, then config_finish
 *        (operator input, fuzzed for robustness)
 *   'w'  web_escape of text into a page
 *   't'  timeu_parse of an RFC 3339 time (expires_at, expires_on), which
 *        must format and parse back to the same instant
 */
#include "fuzz.h"

#include <ctype.h>

#include <event2/buffer.h>

#include "agreement.h"
#include "config.h"
#include "consent_rec.h"
#include "fixtures.h"
#include "form.h"
#include "jsonu.h"
#include "routes.h"
#include "timeu.h"
#include "web.h"

#define SUBJECT "fuzz-alice"
#define CONSENT_ID "cns_00112233445566778899aabbccddeeff"

static struct agreement *agr;

static void
cleanup(void)
{
	agreement_free(agr);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	agr = agreement_parse(fx_smartstart_agreement,
	    strlen(fx_smartstart_agreement), err, sizeof(err));
	FUZZ_INIT(agr != NULL);
	atexit(cleanup);
	return 0;
}

static void
fuzz_form(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "grant_type", "client_id",
	    "authorization_details", "token", "csrf", "agreement",
	    "expires_on", "subject", "state", "fault", "code",
	    "code_verifier", "redirect_uri", NULL };
	struct form f;
	const char *v;
	char err[256];
	size_t i;

	if (form_parse((const char *)data, size, &f, err, sizeof(err)) != 0)
		return;
	for (i = 0; keys[i] != NULL; i++)
		if ((v = form_get(&f, keys[i])) != NULL)
			FUZZ_CHECK(strlen(v) <= size);
	form_free(&f);
}

static void
fuzz_grant(const uint8_t *data, size_t size)
{
	struct consent_view cv;
	struct agreement *a;
	json_t *body, *rec, *pub;
	const char *id;
	char err[512];
	size_t i;

	body = jsonu_parse((const char *)data, size, ROUTES_MAX_DEPTH, err,
	    sizeof(err));
	if (body == NULL)
		return;
	if (!json_is_object(body))
		goto out;
	/* As build_one in routes_consents.c before it looks the id up. */
	if (jsonu_get_str(body, "agreement", &id) == 0 && *id != '\0' &&
	    strlen(id) <= AGR_MAX_ID) {
		err[0] = '\0';
		rec = consent_new_record(agr, SUBJECT, body, CONSENT_ID, FX_NOW,
		    err, sizeof(err));
		if (rec == NULL)
			FUZZ_CHECK(err[0] != '\0');
		else {
			/* A new record reads back as an active consent
			 * covering what it lists. */
			FUZZ_CHECK(consent_view_from_json(rec, FX_NOW, &cv) ==
			    0);
			FUZZ_CHECK(cv.state == CONSENT_ACTIVE);
			FUZZ_CHECK(strcmp(cv.subject, SUBJECT) == 0);
			FUZZ_CHECK(cv.nfields >= 1 &&
			    cv.nfields <= agr->nfields);
			FUZZ_CHECK(cv.expires_at == 0 ||
			    cv.expires_at > FX_NOW);
			for (i = 0; i < cv.nfields; i++) {
				FUZZ_CHECK(consent_covers(&cv, cv.fields[i]));
				FUZZ_CHECK(agreement_field(agr, cv.fields[i]) !=
				    NULL);
			}
			for (i = 0; i < agr->nfields; i++)
				FUZZ_CHECK(agr->fields[i].optional ||
				    consent_covers(&cv, agr->fields[i].name));
			pub = consent_public(rec, FX_NOW);
			FUZZ_CHECK(pub != NULL);
			json_decref(pub);
			json_decref(rec);
		}
	}
	a = agreement_from_json(body, err, sizeof(err));
	agreement_free(a);
out:
	json_decref(body);
}

static void
fuzz_subject(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	size_t n, i;

	if (s == NULL)
		return;
	n = strlen(s);
	if (consent_subject_ok(s) == 0) {
		FUZZ_CHECK(n >= 1 && n <= CONSENT_MAX_SUBJECT &&
		    s[0] != ' ' && s[n - 1] != ' ');
		for (i = 0; i < n; i++)   /* no C0 controls or DEL */
			FUZZ_CHECK((unsigned char)s[i] >= 0x20 &&
			    (unsigned char)s[i] != 0x7f);
	}
	free(s);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void
fuzz_config(const uint8_t *data, size_t size)
{
	static struct config c;
	char *line = fuzz_strndup(data, size), *eq, err[512];

	if (line == NULL)
		return;
	/* One line of consentd.conf, split as config_load_file does. */
	if ((eq = strchr(line, '=')) != NULL) {
		*eq = '\0';
		config_defaults(&c);
		snprintf(c.data_dir, sizeof(c.data_dir), "/nonexistent");
		c.threads = 1;
		if (config_set(&c, trim(line), trim(eq + 1), err,
		    sizeof(err)) == 0 &&
		    config_finish(&c, err, sizeof(err)) == 0)
			FUZZ_CHECK(c.issuer[0] != '\0' &&
			    c.log_origin[0] != '\0');
	}
	free(line);
}

static void
fuzz_escape(const uint8_t *data, size_t size)
{
	struct evbuffer *b = evbuffer_new();
	char *s = fuzz_strndup(data, size);
	const char *out;
	size_t n, i;

	if (b != NULL && s != NULL) {
		web_escape(b, s);
		n = evbuffer_get_length(b);
		out = n > 0 ? (const char *)evbuffer_pullup(b, -1) : "";
		for (i = 0; i < n; i++)
			FUZZ_CHECK(out[i] != '<' && out[i] != '>' &&
			    out[i] != '"' && out[i] != '\'');
	}
	free(s);
	if (b != NULL)
		evbuffer_free(b);
}

static void
fuzz_time(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), out[32];
	int64_t t, t2;

	if (s == NULL)
		return;
	if (timeu_parse(s, &t) == 0) {
		FUZZ_CHECK(timeu_format(t, out, sizeof(out)) == 0);
		FUZZ_CHECK(timeu_parse(out, &t2) == 0 && t2 == t);
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0]) {
	case 'f': fuzz_form(data + 1, size - 1); break;
	case 'g': fuzz_grant(data + 1, size - 1); break;
	case 's': fuzz_subject(data + 1, size - 1); break;
	case 'c': fuzz_config(data + 1, size - 1); break;
	case 'w': fuzz_escape(data + 1, size - 1); break;
	case 't': fuzz_time(data + 1, size - 1); break;
	default: break;
	}
	return 0;
}
