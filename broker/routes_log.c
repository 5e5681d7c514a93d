/* Audit log routes: checkpoint, entries, inclusion and consistency proofs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "b64.h"
#include "jsonu.h"
#include "logentry.h"
#include "note.h"
#include "policy.h"
#include "routes.h"
#include "tlog.h"

/* Parses a query parameter as a decimal uint64; 1 absent, 0 ok, -1 bad. */
static int
q_u64(struct evkeyvalq *q, const char *name, uint64_t *out)
{
	const char *v = evhttp_find_header(q, name);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return 1;
	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (uint64_t)n;
	return 0;
}

static json_t *
hashes_json(unsigned char (*proof)[MERKLE_HASH], size_t n)
{
	char b64[64];
	json_t *arr = json_array();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++) {
		b64_encode(proof[i], MERKLE_HASH, b64);
		json_array_append_new(arr, json_string(b64));
	}
	return arr;
}

/* true when the entry names party (actor, party, client or provider). */
static int
names_party(const unsigned char *d, size_t n, const char *party)
{
	struct le_entry e;
	char err[64];

	if (le_decode(d, n, &e, err, sizeof(err)) != 0)
		return 0;
	return le_str_eq(&e, T_ACTOR, party) || le_str_eq(&e, T_PARTY, party) ||
	    le_str_eq(&e, T_CLIENT, party) || le_str_eq(&e, T_PROVIDER, party);
}

static void
checkpoint(struct rq *rq)
{
	char *note = tlog_checkpoint_note(rq->b->log);

	if (note == NULL) {
		http_problem(rq, 503, "Service unavailable", NULL,
		    "no checkpoint has been signed yet");
		return;
	}
	http_reply_text(rq, 200, "text/plain; charset=utf-8", note,
	    strlen(note));
	free(note);
}

/* The size of the latest signed checkpoint, or 0. */
static uint64_t
signed_size(struct rq *rq)
{
	char *note = tlog_checkpoint_note(rq->b->log), err[128];
	struct checkpoint cp;
	const char *sep;
	uint64_t size = 0;

	if (note != NULL && (sep = strstr(note, "\n\n")) != NULL &&
	    checkpoint_parse(note, (size_t)(sep - note) + 1, &cp, err,
	    sizeof(err)) == 0)
		size = cp.size;
	free(note);
	return size;
}

static void
entries(struct rq *rq, struct store_txn *txn, struct evkeyvalq *q)
{
	uint64_t start, end, size, i;
	const unsigned char *d;
	json_t *arr, *out;
	enum store_err rc;
	char *b64;
	size_t n;
	int auditor = (rq->roles & ROLE_AUDITOR) != 0;

	if (q_u64(q, "start", &start) != 0 || q_u64(q, "end", &end) != 0 ||
	    end <= start) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "give start and end (exclusive), integers with start < end");
		return;
	}
	if ((rc = tlog_size(txn, &size)) != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	if (end > size) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "end %llu is beyond the log's size %llu",
		    (unsigned long long)end, (unsigned long long)size);
		return;
	}
	if (end - start > TLOG_MAX_PAGE)
		end = start + TLOG_MAX_PAGE;
	arr = json_array();
	for (i = start; arr != NULL && i < end; i++) {
		if ((rc = tlog_entry(txn, i, &d, &n)) != STORE_OK) {
			json_decref(arr);
			routes_store_error(rq, rc);
			return;
		}
		if (!auditor && !names_party(d, n, rq->party))
			continue;
		b64 = b64_encode_alloc(d, n);
		json_array_append_new(arr, json_pack("{s:I, s:s?}", "index",
		    (json_int_t)i, "data", b64));
		free(b64);
	}
	out = json_pack("{s:o}", "entries", arr);
	http_reply_json(rq, 200, out);
}

static void
inclusion(struct rq *rq, struct store_txn *txn, struct evkeyvalq *q)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	const char *jti = evhttp_find_header(q, "jti");
	uint64_t index = 0, size = 0, have;
	const unsigned char *d;
	json_t *tok = NULL;
	enum store_err rc;
	int64_t ix;
	size_t n;
	int sz;

	if ((rc = tlog_size(txn, &have)) != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	sz = q_u64(q, "size", &size);
	if (sz < 0) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "size must be an integer");
		return;
	}
	if (jti != NULL) {
		rc = store_get(txn, ST_TOKENS, jti, &tok);
		if (rc == STORE_NOTFOUND || rc == STORE_BADKEY ||
		    (rc == STORE_OK && jsonu_get_int(tok, "log_index", &ix) != 0)) {
			json_decref(tok);
			http_problem(rq, 404, "Not found", "log_entry",
			    "no token with jti '%.64s' in the log", jti);
			return;
		}
		json_decref(tok);
		if (rc != STORE_OK) {
			routes_store_error(rq, rc);
			return;
		}
		index = (uint64_t)ix;
		if (sz == 1)
			size = signed_size(rq);
	} else if (q_u64(q, "index", &index) != 0 || sz != 0) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "give index and size, or jti (and optionally size)");
		return;
	}
	if (size > have) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "size %llu is beyond the log's size %llu",
		    (unsigned long long)size, (unsigned long long)have);
		return;
	}
	if (index >= size) {
		http_problem(rq, jti != NULL ? 409 : 400, jti != NULL ?
		    "Conflict" : "Bad request", "log_query",
		    "entry %llu is not in the tree of size %llu%s",
		    (unsigned long long)index, (unsigned long long)size,
		    jti != NULL ? " (the next checkpoint will cover it; retry "
		    "shortly)" : "");
		return;
	}
	if (!(rq->roles & ROLE_AUDITOR)) {
		if ((rc = tlog_entry(txn, index, &d, &n)) != STORE_OK) {
			routes_store_error(rq, rc);
			return;
		}
		if (!names_party(d, n, rq->party)) {
			http_problem(rq, 403, "Forbidden", "log_access",
			    "entry %llu does not concern party '%s'; only "
			    "auditors see every entry", (unsigned long long)index,
			    rq->party);
			return;
		}
	}
	if ((rc = tlog_prove_inclusion(txn, index, size, proof, &n)) !=
	    STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	http_reply_json(rq, 200, json_pack("{s:I, s:I, s:o}", "index",
	    (json_int_t)index, "size", (json_int_t)size, "hashes",
	    hashes_json(proof, n)));
}

static void
consistency(struct rq *rq, struct store_txn *txn, struct evkeyvalq *q)
{
	unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
	uint64_t from, to, have;
	enum store_err rc;
	size_t n;

	if (q_u64(q, "from", &from) != 0 || q_u64(q, "to", &to) != 0 ||
	    from > to) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "give from and to, integers with from <= to");
		return;
	}
	if ((rc = tlog_size(txn, &have)) != STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	if (to > have) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "to %llu is beyond the log's size %llu",
		    (unsigned long long)to, (unsigned long long)have);
		return;
	}
	if ((rc = tlog_prove_consistency(txn, from, to, proof, &n)) !=
	    STORE_OK) {
		routes_store_error(rq, rc);
		return;
	}
	http_reply_json(rq, 200, json_pack("{s:I, s:I, s:o}", "from",
	    (json_int_t)from, "to", (json_int_t)to, "hashes",
	    hashes_json(proof, n)));
}

void
routes_log(struct rq *rq, const char *rest)
{
	struct store_txn *txn = NULL;
	struct evkeyvalq q;
	enum store_err rc;

	if (rq->method != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(rq->req),
		    "Allow", "GET");
		http_problem(rq, 405, "Method not allowed", NULL,
		    "%s allows only GET", rq->path);
		return;
	}
	if (strcmp(rest, "/checkpoint") == 0) {
		checkpoint(rq);
		return;
	}
	if (strcmp(rest, "/entries") != 0 &&
	    strcmp(rest, "/proof/inclusion") != 0 &&
	    strcmp(rest, "/proof/consistency") != 0) {
		http_problem(rq, 404, "Not found", NULL, "no resource at %.200s",
		    rq->path);
		return;
	}
	TAILQ_INIT(&q);
	if (rq->query != NULL && evhttp_parse_query_str(rq->query, &q) != 0) {
		http_problem(rq, 400, "Bad request", "log_query",
		    "malformed query string");
		return;
	}
	rc = store_begin(rq->b->store, 0, &txn);
	if (rc != STORE_OK) {
		evhttp_clear_headers(&q);
		routes_store_error(rq, rc);
		return;
	}
	if (routes_auth_party(rq, txn, 0) == 0) {
		if (strcmp(rest, "/entries") == 0)
			entries(rq, txn, &q);
		else if (strcmp(rest, "/proof/inclusion") == 0)
			inclusion(rq, txn, &q);
		else
			consistency(rq, txn, &q);
	}
	store_abort(txn);
	evhttp_clear_headers(&q);
}
