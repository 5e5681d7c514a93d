/* The writer thread: one write transaction and one fsync per group of ops. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeu.h"
#include "writer.h"

struct writer {
	struct store *store;
	int group_max;
	int deferred;             /* the store defers each commit's sync,
				   * and the syncer runs */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wop *head, *tail;
	int stopping;
	struct writer_stats stats;
	struct writer_hooks hooks;

	/*
	 * The syncer thread (with deferred sync): makes each committed group
	 * durable with one sync while the writer applies the next group, then
	 * completes it. Its own lock, so that submitters never wait on it.
	 */
	pthread_t syncer;
	pthread_mutex_t smu;
	pthread_cond_t scv;       /* wakes the syncer */
	pthread_cond_t sdone;     /* a sync finished */
	struct wop *sq_head, *sq_tail;  /* committed, waiting for a sync */
	int sync_wanted;          /* a commit with no ops (a tick's) waits */
	int syncing;              /* a sync is running */
	int sync_stop;
};

#define HOOK(w, name, ...) \
	do { \
		if ((w)->hooks.name != NULL) \
			(w)->hooks.name((w)->hooks.arg, __VA_ARGS__); \
	} while (0)

static void
complete(struct wop *list)
{
	struct wop *op, *next;

	for (op = list; op != NULL; op = next) {
		next = op->next;
		op->next = NULL;
		op->done(op);
	}
}

/*
 * Hands a committed group (or, with list NULL, a commit of the writer's
 * own) to the syncer. LMDB synced the commit's data before writing the
 * page that makes it current; a sync that starts after this covers that
 * page too.
 */
static void
sync_request(struct writer *w, struct wop *list)
{
	struct wop *last;

	pthread_mutex_lock(&w->smu);
	if (list != NULL) {
		for (last = list; last->next != NULL; last = last->next)
			;
		if (w->sq_tail != NULL)
			w->sq_tail->next = list;
		else
			w->sq_head = list;
		w->sq_tail = last;
	} else
		w->sync_wanted = 1;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
}

/* Waits until every commit so far is durable and its ops completed. */
static void
sync_drain(struct writer *w)
{
	pthread_mutex_lock(&w->smu);
	while (w->sq_head != NULL || w->sync_wanted || w->syncing)
		pthread_cond_wait(&w->sdone, &w->smu);
	pthread_mutex_unlock(&w->smu);
}

static void *
syncer_main(void *arg)
{
	struct writer *w = arg;
	struct wop *batch, *op;
	enum store_err rc;

	pthread_mutex_lock(&w->smu);
	for (;;) {
		while (w->sq_head == NULL && !w->sync_wanted && !w->sync_stop)
			pthread_cond_wait(&w->scv, &w->smu);
		if (w->sq_head == NULL && !w->sync_wanted)
			break;   /* stopping, and nothing left */
		batch = w->sq_head;
		w->sq_head = w->sq_tail = NULL;
		w->sync_wanted = 0;
		w->syncing = 1;
		pthread_mutex_unlock(&w->smu);

		rc = store_sync(w->store);
		if (rc != STORE_OK)
			for (op = batch; op != NULL; op = op->next)
				if (op->status == 0) {
					op->status = WOP_STORE_FAILED;
					op->store_err = rc;
				}
		pthread_mutex_lock(&w->mu);
		w->stats.syncs++;
		pthread_mutex_unlock(&w->mu);
		complete(batch);

		pthread_mutex_lock(&w->smu);
		w->syncing = 0;
		pthread_cond_broadcast(&w->sdone);
	}
	pthread_mutex_unlock(&w->smu);
	return NULL;
}

/*
 * One group: one write transaction, a savepoint per op, one commit. The
 * ops are completed (their done called) once the commit is durable: at
 * once without deferred sync; else by the syncer.
 */
static void
run_group(struct writer *w, struct wop *list)
{
	unsigned long long t0, t1, t2;
	struct store_txn *txn = NULL, *sp;
	struct wop *op;
	enum store_err rc;
	int n = 0, flushed = 0;

	t0 = (unsigned long long)timeu_mono_us();
	if (w->hooks.group_begin != NULL)
		w->hooks.group_begin(w->hooks.arg);
	rc = store_begin(w->store, 1, &txn);
	for (op = list; op != NULL; op = op->next) {
		n++;
		op->store_err = STORE_OK;
		if (rc != STORE_OK) {
			op->status = WOP_STORE_FAILED;
			op->store_err = rc;
			continue;
		}
		if ((rc = store_begin_nested(txn, &sp)) != STORE_OK) {
			op->status = WOP_STORE_FAILED;
			op->store_err = rc;
			rc = STORE_OK;  /* the group itself may still commit */
			continue;
		}
		if (w->hooks.op_begin != NULL)
			w->hooks.op_begin(w->hooks.arg);
		op->status = op->apply(sp, op);
		if (op->status == 0) {
			if ((rc = store_commit(sp)) != STORE_OK) {
				op->status = WOP_STORE_FAILED;
				op->store_err = rc;
				rc = STORE_OK;
			}
		} else
			store_abort(sp);
		HOOK(w, op_end, op->status == 0);
	}
	t1 = (unsigned long long)timeu_mono_us();
	if (txn != NULL) {
		rc = store_commit_flushed(txn, &flushed);
		if (rc != STORE_OK) {
			/* Nothing of the group is kept: every op fails. */
			for (op = list; op != NULL; op = op->next)
				if (op->status == 0) {
					op->status = WOP_STORE_FAILED;
					op->store_err = rc;
				}
		}
	}
	HOOK(w, group_end, txn != NULL && rc == STORE_OK);
	t2 = (unsigned long long)timeu_mono_us();
	pthread_mutex_lock(&w->mu);
	w->stats.groups++;
	w->stats.ops += (unsigned long long)n;
	w->stats.apply_us += t1 - t0;
	w->stats.commit_us += t2 - t1;
	if ((unsigned long long)n > w->stats.max_group)
		w->stats.max_group = (unsigned long long)n;
	if (rc != STORE_OK)
		w->stats.failed_groups++;
	pthread_mutex_unlock(&w->mu);
	if (w->deferred && txn != NULL && rc == STORE_OK && flushed)
		sync_request(w, list);
	else
		/* Durable already (no deferred sync), wrote nothing (every
		 * op was refused), or nothing of it was kept. */
		complete(list);
}

/*
 * Periodic work (a signed checkpoint) must only cover what is durable:
 * every group committed so far is made durable and completed first, and
 * what the tick itself commits is synced after it.
 */
static long
run_tick(struct writer *w, int force)
{
	long next;

	if (w->deferred)
		sync_drain(w);
	next = w->hooks.tick(w->hooks.arg, force);
	if (w->deferred)
		sync_request(w, NULL);   /* a no-op sync if it wrote nothing */
	return next;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	struct wop *list, *cut;
	int n;

	struct timespec until;
	long next = -1;        /* ms from tick_at's setting; -1: when woken */
	int64_t tick_at = 0, wait_ms;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->head == NULL && !w->stopping) {
			if (next < 0) {
				pthread_cond_wait(&w->cv, &w->mu);
				continue;
			}
			wait_ms = (tick_at - timeu_mono_us()) / 1000;
			if (wait_ms < 0)
				wait_ms = 0;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += wait_ms / 1000;
			until.tv_nsec += (wait_ms % 1000) * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&w->cv, &w->mu, &until) ==
			    ETIMEDOUT && w->head == NULL &&
			    w->hooks.tick != NULL) {
				pthread_mutex_unlock(&w->mu);
				next = run_tick(w, 0);
				tick_at = timeu_mono_us() + (int64_t)next * 1000;
				pthread_mutex_lock(&w->mu);
			}
		}
		if (w->head == NULL && w->stopping) {
			pthread_mutex_unlock(&w->mu);
			if (w->hooks.tick != NULL)
				(void)run_tick(w, 1);
			break;
		}
		/* Take up to group_max ops off the front. */
		list = w->head;
		cut = list;
		for (n = 1; n < w->group_max && cut->next != NULL; n++)
			cut = cut->next;
		w->head = cut->next;
		if (w->head == NULL)
			w->tail = NULL;
		cut->next = NULL;
		pthread_mutex_unlock(&w->mu);
		run_group(w, list);
		if (w->hooks.tick != NULL && (next < 0 ||
		    timeu_mono_us() >= tick_at)) {
			next = run_tick(w, 0);
			tick_at = timeu_mono_us() + (int64_t)next * 1000;
		}
	}
	return NULL;
}

/* Syncs what is left, stops the syncer and turns deferred sync off. */
static void
syncer_stop(struct writer *w)
{
	if (!w->deferred)
		return;
	pthread_mutex_lock(&w->smu);
	w->sync_stop = 1;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->smu);
	pthread_join(w->syncer, NULL);
	w->deferred = 0;
	(void)store_defer_sync(w->store, 0);
}

static void
destroy(struct writer *w)
{
	pthread_cond_destroy(&w->sdone);
	pthread_cond_destroy(&w->scv);
	pthread_mutex_destroy(&w->smu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

struct writer *
writer_start(struct store *s, int group_max, const struct writer_hooks *hooks)
{
	struct writer *w;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	if (hooks != NULL)
		w->hooks = *hooks;
	w->store = s;
	w->group_max = group_max > 0 ? group_max : 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_mutex_init(&w->smu, NULL);
	pthread_cond_init(&w->scv, NULL);
	pthread_cond_init(&w->sdone, NULL);
	/* One sync per group instead of two (see store_defer_sync), run
	 * by the syncer beside the writer. */
	if (store_defer_sync(s, 1) == STORE_OK) {
		if (pthread_create(&w->syncer, NULL, syncer_main, w) == 0)
			w->deferred = 1;
		else
			(void)store_defer_sync(s, 0);
	}
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		syncer_stop(w);
		destroy(w);
		return NULL;
	}
	return w;
}

int
writer_submit(struct writer *w, struct wop *op)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	op->next = NULL;
	if (w->tail != NULL)
		w->tail->next = op;
	else
		w->head = op;
	w->tail = op;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static void
waiter_done(struct wop *op)
{
	struct waiter *wt = op->arg;

	pthread_mutex_lock(&wt->mu);
	wt->done = 1;
	pthread_cond_signal(&wt->cv);
	pthread_mutex_unlock(&wt->mu);
}

int
writer_run(struct writer *w, struct wop *op)
{
	struct waiter wt;
	void *arg = op->arg;
	wop_done_fn done = op->done;

	pthread_mutex_init(&wt.mu, NULL);
	pthread_cond_init(&wt.cv, NULL);
	wt.done = 0;
	op->arg = &wt;
	op->done = waiter_done;
	if (writer_submit(w, op) != 0) {
		op->status = WOP_STORE_FAILED;
		op->store_err = STORE_IO;
		wt.done = 1;
	}
	pthread_mutex_lock(&wt.mu);
	while (!wt.done)
		pthread_cond_wait(&wt.cv, &wt.mu);
	pthread_mutex_unlock(&wt.mu);
	pthread_cond_destroy(&wt.cv);
	pthread_mutex_destroy(&wt.mu);
	op->arg = arg;
	op->done = done;
	return op->status;
}

void
writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	syncer_stop(w);
	destroy(w);
}

void
writer_get_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}
