/*
 * Integration: no acknowledged operation is lost. Consents are granted and
 * revoked and tokens issued over several connections while consentd is
 * killed with SIGKILL (or stopped with SIGTERM) mid-stream; after each
 * restart every acknowledged consent is there in the acknowledged state,
 * and every acknowledged token introspects active exactly when its consent
 * is still active. Operations that were in flight when the server died
 * may or may not have happened; the check learns their outcome from the
 * restarted server and insists only that nothing appears that was never
 * asked for.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#define NSUBJ 24
#define NAGR 3
#define MAX_TOKEN_ATTEMPTS 4   /* per subject; SmartStart allows 5 a day */
#define MAX_OPS (NSUBJ * 3)
#define CONNS 4
#define BATCH_TIMEOUT_MS 30000
#define CYCLES 3

static const char *const agreements[NAGR] = {
	"smartstart-ird-number",        /* tokens are asked for under this one */
	"msd-wcc-rates-rebate",
	"msd-community-services-card",
};

static const char *const grant_bodies[NAGR] = {
	"{\"agreement\":\"smartstart-ird-number\"}",
	"{\"agreement\":\"msd-wcc-rates-rebate\"}",
	"{\"agreement\":\"msd-community-services-card\"}",
};

/* What the test knows of one (subject, agreement) consent. */
enum cknown {
	C_NONE,            /* never granted (or a lost, unacknowledged grant) */
	C_GRANT_UNSURE,    /* a grant was in flight when the server died */
	C_ACTIVE,
	C_REVOKE_UNSURE,   /* a revoke was in flight when the server died */
	C_REVOKED
};

struct dtoken {
	char *token;
	int subj;
	char consent_id[64];
};

struct model {
	struct it_server *s;
	int nsubj;                 /* subjects used, at most NSUBJ */
	char subject[NSUBJ][32];
	const char *citizen[NSUBJ];
	struct {
		enum cknown st;
		char id[64];
	} c[NSUBJ][NAGR];
	int token_attempts[NSUBJ];
	struct dtoken tokens[NSUBJ * MAX_TOKEN_ATTEMPTS];
	size_t ntokens;
	int acked[3], unsure[3];   /* by op kind */
};

enum opkind { OP_GRANT, OP_REVOKE, OP_TOKEN };

struct op {
	enum opkind kind;
	int subj, agr;
	char path[128];
	char *form;
};

struct stopper {
	struct it_server *s;
	size_t at;
	int sig;
	int fired;
};

static void
stop_midway(size_t ndone, void *arg)
{
	struct stopper *st = arg;

	if (st->fired || ndone < st->at)
		return;
	st->fired = 1;
	if (st->sig == SIGKILL)
		it_server_kill(st->s);
	else
		it_server_signal(st->s, st->sig);
}

static struct model *
model_new(struct it_server *s, const char *prefix, int nsubj)
{
	struct model *m = calloc(1, sizeof(*m));
	int i;

	assert_non_null(m);
	assert_true(nsubj > 0 && nsubj <= NSUBJ);
	m->s = s;
	m->nsubj = nsubj;
	for (i = 0; i < nsubj; i++) {
		it_fmt(m->subject[i], sizeof(m->subject[i]), "%s-%02d", prefix, i);
		m->citizen[i] = it_citizen_token(s, m->subject[i], 0);
		assert_non_null(m->citizen[i]);
	}
	return m;
}

static void
model_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->ntokens; i++)
		free(m->tokens[i].token);
	free(m);
}

/* Adds the ops of one round: for each subject a grant of the first
 * agreement never granted, a revoke of some active consents, and a token
 * for active SmartStart consents that are not being revoked. */
static size_t
plan_round(struct model *m, int round, struct op *ops)
{
	size_t n = 0;
	int i, a, revoking;
	json_t *d;

	for (i = 0; i < m->nsubj; i++) {
		revoking = -1;
		for (a = 0; a < NAGR; a++)
			if (m->c[i][a].st == C_NONE) {
				ops[n].kind = OP_GRANT;
				ops[n].subj = i;
				ops[n].agr = a;
				n++;
				break;
			}
		for (a = 0; a < NAGR; a++)
			if (m->c[i][a].st == C_ACTIVE && (i + a + round) % 3 == 0) {
				ops[n].kind = OP_REVOKE;
				ops[n].subj = i;
				ops[n].agr = a;
				it_fmt(ops[n].path, sizeof(ops[n].path),
				    "/v1/consents/%s", m->c[i][a].id);
				n++;
				revoking = a;
				break;
			}
		if (m->c[i][0].st == C_ACTIVE && revoking != 0 &&
		    m->token_attempts[i] < MAX_TOKEN_ATTEMPTS) {
			static const char *const f[] = { "child.given_names",
			    "child.birth_date", NULL };

			d = it_details(agreements[0], m->subject[i],
			    "issue-ird-number", f);
			ops[n].kind = OP_TOKEN;
			ops[n].subj = i;
			ops[n].agr = 0;
			ops[n].form = it_token_form(d);
			json_decref(d);
			assert_non_null(ops[n].form);
			/* An unacknowledged attempt may still count. */
			m->token_attempts[i]++;
			n++;
		}
	}
	return n;
}

static void
to_request(const struct model *m, const struct op *o, struct it_req *q)
{
	memset(q, 0, sizeof(*q));
	switch (o->kind) {
	case OP_GRANT:
		q->method = "POST";
		q->path = "/v1/consents";
		q->bearer = m->citizen[o->subj];
		q->ctype = "application/json";
		q->body = grant_bodies[o->agr];
		break;
	case OP_REVOKE:
		q->method = "DELETE";
		q->path = o->path;
		q->bearer = m->citizen[o->subj];
		break;
	case OP_TOKEN:
		q->method = "POST";
		q->path = "/oauth2/token";
		q->party = "ird";
		q->ctype = "application/x-www-form-urlencoded";
		q->body = o->form;
		break;
	}
}

/* No answer, or the broker saying it could not take it: not acknowledged. */
static int
not_acked(const struct it_resp *r)
{
	return r->status == 0 || r->status == 503;
}

static void
record(struct model *m, const struct op *o, const struct it_resp *r)
{
	json_t *claims;

	if (not_acked(r)) {
		m->unsure[o->kind]++;
		if (o->kind == OP_GRANT)
			m->c[o->subj][o->agr].st = C_GRANT_UNSURE;
		else if (o->kind == OP_REVOKE)
			m->c[o->subj][o->agr].st = C_REVOKE_UNSURE;
		return;
	}
	m->acked[o->kind]++;
	switch (o->kind) {
	case OP_GRANT:
		assert_status(r, 201);
		assert_string_equal(it_jstr(r->json, "state"), "active");
		m->c[o->subj][o->agr].st = C_ACTIVE;
		it_fmt(m->c[o->subj][o->agr].id, 64, "%s", it_jstr(r->json, "id"));
		break;
	case OP_REVOKE:
		assert_status(r, 200);
		assert_string_equal(it_jstr(r->json, "state"), "revoked");
		m->c[o->subj][o->agr].st = C_REVOKED;
		break;
	case OP_TOKEN:
		assert_status(r, 200);
		assert_true(m->ntokens < NSUBJ * MAX_TOKEN_ATTEMPTS);
		m->tokens[m->ntokens].token = strdup(it_jstr(r->json,
		    "access_token"));
		assert_non_null(m->tokens[m->ntokens].token);
		m->tokens[m->ntokens].subj = o->subj;
		claims = it_jwt_part(m->tokens[m->ntokens].token, 1);
		assert_non_null(claims);
		assert_string_equal(it_jstr(claims, "consent_id"),
		    m->c[o->subj][0].id);
		it_fmt(m->tokens[m->ntokens].consent_id, 64, "%s",
		    m->c[o->subj][0].id);
		json_decref(claims);
		m->ntokens++;
		break;
	}
}

/*
 * Runs one round's ops over CONNS connections and sends sig to consentd
 * once about two thirds of them are answered. With SIGKILL the server is
 * then dead; with SIGTERM the caller waits for its exit.
 */
static size_t
run_round(struct model *m, int round, int sig)
{
	struct op *ops = calloc(MAX_OPS, sizeof(*ops));
	struct it_batch_item *items;
	struct stopper st = { m->s, 0, sig, 0 };
	size_t n, i, answered = 0;

	assert_non_null(ops);
	n = plan_round(m, round, ops);
	assert_true(n > 0 && n <= MAX_OPS);
	items = calloc(n, sizeof(*items));
	assert_non_null(items);
	for (i = 0; i < n; i++)
		to_request(m, &ops[i], &items[i].req);
	st.at = n * 2 / 3;
	assert_int_equal(it_batch(m->s, items, n, CONNS, BATCH_TIMEOUT_MS,
	    stop_midway, &st), 0);
	assert_true(st.fired);
	for (i = 0; i < n; i++) {
		answered += items[i].resp.status != 0;
		if (sig == SIGTERM && items[i].resp.status == 0)
			fprintf(stderr, "durability: after SIGTERM, %s %s got no "
			    "answer: %s\n", items[i].req.method,
			    items[i].req.path, items[i].resp.errbuf);
		record(m, &ops[i], &items[i].resp);
		it_resp_free(&items[i].resp);
		free(ops[i].form);
	}
	free(items);
	free(ops);
	return answered;
}

static int
agreement_index(const char *id)
{
	int a;

	for (a = 0; a < NAGR; a++)
		if (strcmp(agreements[a], id) == 0)
			return a;
	return -1;
}

/* Checks subject i's consents against the model and learns the outcome
 * of operations that were in flight. */
static void
verify_subject(struct model *m, int i)
{
	struct it_resp r;
	json_t *list, *c;
	const char *state;
	int a, found[NAGR] = { 0 };
	size_t j;

	it_get(m->s, NULL, m->citizen[i], "/v1/consents", &r);
	assert_status(&r, 200);
	list = json_object_get(r.json, "consents");
	assert_true(json_is_array(list));
	json_array_foreach(list, j, c) {
		a = agreement_index(it_jstr(c, "agreement"));
		if (a < 0)
			fail_msg("%s has a consent for %s, never asked for",
			    m->subject[i], it_jstr(c, "agreement"));
		found[a]++;
		state = it_jstr(c, "state");
		switch (m->c[i][a].st) {
		case C_NONE:
			fail_msg("%s has a consent %s for %s that was never "
			    "asked for", m->subject[i], it_jstr(c, "id"),
			    agreements[a]);
			break;
		case C_GRANT_UNSURE:
			/* The in-flight grant did commit: learn it. */
			assert_string_equal(state, "active");
			m->c[i][a].st = C_ACTIVE;
			it_fmt(m->c[i][a].id, 64, "%s", it_jstr(c, "id"));
			break;
		case C_ACTIVE:
			assert_string_equal(it_jstr(c, "id"), m->c[i][a].id);
			if (strcmp(state, "active") != 0)
				fail_msg("acknowledged consent %s of %s is %s after "
				    "restart, want active", m->c[i][a].id,
				    m->subject[i], state);
			break;
		case C_REVOKE_UNSURE:
			assert_string_equal(it_jstr(c, "id"), m->c[i][a].id);
			m->c[i][a].st = strcmp(state, "revoked") == 0 ?
			    C_REVOKED : C_ACTIVE;
			break;
		case C_REVOKED:
			assert_string_equal(it_jstr(c, "id"), m->c[i][a].id);
			if (strcmp(state, "revoked") != 0)
				fail_msg("acknowledged revoke of %s (%s) is lost: "
				    "state %s after restart", m->c[i][a].id,
				    m->subject[i], state);
			break;
		}
	}
	it_resp_free(&r);
	for (a = 0; a < NAGR; a++) {
		if (found[a] > 1)
			fail_msg("%s has %d consents for %s", m->subject[i],
			    found[a], agreements[a]);
		if (found[a] == 0) {
			if (m->c[i][a].st == C_GRANT_UNSURE)
				m->c[i][a].st = C_NONE;   /* it was lost */
			else if (m->c[i][a].st != C_NONE)
				fail_msg("acknowledged consent %s of %s for %s is "
				    "missing after restart", m->c[i][a].id,
				    m->subject[i], agreements[a]);
		}
	}
	/* Each known consent also reads back one by one. */
	for (a = 0; a < NAGR; a++) {
		char path[128];

		if (m->c[i][a].st != C_ACTIVE && m->c[i][a].st != C_REVOKED)
			continue;
		it_fmt(path, sizeof(path), "/v1/consents/%s", m->c[i][a].id);
		it_get(m->s, NULL, m->citizen[i], path, &r);
		assert_status(&r, 200);
		assert_string_equal(it_jstr(r.json, "state"),
		    m->c[i][a].st == C_ACTIVE ? "active" : "revoked");
		it_resp_free(&r);
	}
}

/* Every acknowledged token introspects active iff its consent is. */
static void
verify_tokens(struct model *m)
{
	struct it_batch_item *items;
	char **forms;
	size_t i;
	int want;

	if (m->ntokens == 0)
		return;
	items = calloc(m->ntokens, sizeof(*items));
	forms = calloc(m->ntokens, sizeof(*forms));
	assert_non_null(items);
	assert_non_null(forms);
	for (i = 0; i < m->ntokens; i++) {
		char *enc = it_urlencode(m->tokens[i].token);
		size_t n = strlen(enc) + 8;

		forms[i] = malloc(n);
		assert_non_null(forms[i]);
		snprintf(forms[i], n, "token=%s", enc);
		free(enc);
		items[i].req.method = "POST";
		items[i].req.path = "/oauth2/introspect";
		items[i].req.party = "dia";
		items[i].req.ctype = "application/x-www-form-urlencoded";
		items[i].req.body = forms[i];
	}
	assert_int_equal(it_batch(m->s, items, m->ntokens, CONNS,
	    BATCH_TIMEOUT_MS, NULL, NULL), 0);
	for (i = 0; i < m->ntokens; i++) {
		const struct dtoken *t = &m->tokens[i];

		assert_status(&items[i].resp, 200);
		want = m->c[t->subj][0].st == C_ACTIVE &&
		    strcmp(m->c[t->subj][0].id, t->consent_id) == 0;
		if (json_is_true(json_object_get(items[i].resp.json, "active")) !=
		    want)
			fail_msg("token %zu of %s (consent %s, %s) introspects %s",
			    i, m->subject[t->subj], t->consent_id,
			    want ? "active" : "revoked",
			    items[i].resp.body);
		it_resp_free(&items[i].resp);
		free(forms[i]);
	}
	free(items);
	free(forms);
}

static void
verify(struct model *m)
{
	int i;

	for (i = 0; i < m->nsubj; i++)
		verify_subject(m, i);
	verify_tokens(m);
}

static void
report(const struct model *m, const char *what)
{
	fprintf(stderr, "durability: %s: acknowledged %d grants, %d revokes, "
	    "%d tokens; in flight at the stop %d, %d, %d\n", what,
	    m->acked[OP_GRANT], m->acked[OP_REVOKE], m->acked[OP_TOKEN],
	    m->unsure[OP_GRANT], m->unsure[OP_REVOKE], m->unsure[OP_TOKEN]);
}

IT_TEST(acknowledged_operations_survive_repeated_kill_9)
{
	struct model *m = model_new(s, "k9", NSUBJ);
	int round;

	for (round = 0; round < CYCLES; round++) {
		(void)run_round(m, round, SIGKILL);
		assert_true(s->pid < 0);
		assert_int_equal(it_server_start(s), 0);
		verify(m);
	}
	report(m, "kill -9");
	/* Something of each kind was acknowledged, or the test proved little. */
	assert_true(m->acked[OP_GRANT] >= NSUBJ);
	assert_true(m->acked[OP_REVOKE] > 0);
	assert_true(m->acked[OP_TOKEN] > 0);
	model_free(m);
}

IT_TEST(sigterm_with_requests_in_flight_exits_0_and_keeps_every_ack)
{
	struct model *m = model_new(s, "term", 12);
	int round;

	for (round = 0; round < 2; round++) {
		int64_t t0 = it_now_ms(), t1, t2;
		size_t answered;
		int logged;

		answered = run_round(m, round, SIGTERM);
		t1 = it_now_ms();
		assert_int_equal(it_server_wait(s, IT_STOP_TIMEOUT_MS), 0);
		t2 = it_now_ms();
		/* Every reply consentd logged (it logs as it replies) reached
		 * the client: a graceful stop flushes what it answered. Only
		 * the round's requests grant, revoke or ask for tokens. */
		logged = it_server_log_count_run(s,
		    "\"method\":\"POST\",\"path\":\"/v1/consents\"") +
		    it_server_log_count_run(s, "\"method\":\"DELETE\"") +
		    it_server_log_count_run(s, "\"path\":\"/oauth2/token\"");
		if ((size_t)logged != answered) {
			model_free(m);
			fail_msg("after SIGTERM consentd logged %d replies to the "
			    "round's requests, but the client received %zu",
			    logged, answered);
		}
		assert_int_equal(it_server_start(s), 0);
		fprintf(stderr, "durability: SIGTERM round %d: batch %lld ms, "
		    "exit %lld ms later, restart %lld ms\n", round,
		    (long long)(t1 - t0), (long long)(t2 - t1),
		    (long long)(it_now_ms() - t2));
		verify(m);
	}
	report(m, "SIGTERM");
	assert_true(m->acked[OP_GRANT] > 0);
	model_free(m);
}

IT_TEST(agreement_state_and_daily_limit_survive_kill_9)
{
	static const char *const f[] = { "child.given_names", NULL };
	struct it_resp r;
	int i;

	it_lifecycle(s, "msd", "msd-wcc-rates-rebate", "suspend", "durability",
	    &r);
	assert_status(&r, 200);
	it_resp_free(&r);
	it_grant(s, "limit-k9", "smartstart-ird-number", NULL, NULL, NULL, &r);
	assert_status(&r, 201);
	it_resp_free(&r);
	for (i = 0; i < 5; i++) {
		it_token(s, "ird", "smartstart-ird-number", "limit-k9",
		    "issue-ird-number", f, &r);
		assert_status(&r, 200);
		it_resp_free(&r);
	}
	it_server_kill(s);
	assert_int_equal(it_server_start(s), 0);
	it_get(s, "msd", NULL, "/v1/agreements/msd-wcc-rates-rebate", &r);
	assert_status(&r, 200);
	assert_string_equal(it_jstr(r.json, "state"), "suspended");
	it_resp_free(&r);
	it_token(s, "ird", "smartstart-ird-number", "limit-k9",
	    "issue-ird-number", f, &r);
	assert_oauth_error(&r, 403, "access_denied", "limit exceeded");
	it_resp_free(&r);
	it_lifecycle(s, "msd", "msd-wcc-rates-rebate", "resume", "durability",
	    &r);
	assert_status(&r, 200);
	it_resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(acknowledged_operations_survive_repeated_kill_9),
		cmocka_unit_test(
		    sigterm_with_requests_in_flight_exits_0_and_keeps_every_ack),
		cmocka_unit_test(agreement_state_and_daily_limit_survive_kill_9),
		IT_SIGTERM_TEST,
	};

	it_init();
	return it_finish(cmocka_run_group_tests_name("integration/durability",
	    tests, it_group_setup, it_group_teardown));
}
