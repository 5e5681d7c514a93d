/*
 * The single writer thread. Every change to the store goes through it: it
 * takes all pending operations into one write transaction (group commit),
 * applies each in its own savepoint so one failing operation does not spoil
 * the others, and commits. A second thread, the syncer, makes each commit
 * durable with one sync while the writer applies the next group, and only
 * then completes its operations.
 */
#ifndef CB_WRITER_H
#define CB_WRITER_H

#include "store.h"

struct wop;

/*
 * Applies op inside txn (a savepoint of the group's transaction). Returns
 * 0 to keep its changes, or non-zero (kept in op->status) to roll them back.
 * Runs on the writer thread; must not block on anything but the store.
 */
typedef int (*wop_apply_fn)(struct store_txn *txn, struct wop *op);

/*
 * Called once per operation after the group committed (op->status 0) or
 * failed (op->status non-zero; op->store_err says why when the store
 * failed), in submission order within a group. Runs on the writer or the
 * syncer thread; it must hand op back to its owner quickly (e.g. post it
 * to an event loop) and not touch the store.
 */
typedef void (*wop_done_fn)(struct wop *op);

struct wop {
	wop_apply_fn apply;
	wop_done_fn done;
	void *arg;                 /* the owner's */
	int status;                /* set by apply; WOP_STORE_FAILED on store errors */
	enum store_err store_err;  /* the store's error, if any */
	struct wop *next;          /* queue link, the writer's */
};

/* status when the store (not the operation's own rules) failed. */
#define WOP_STORE_FAILED (-1000)

struct writer;

/*
 * Optional hooks for state the writer thread owns beside the store (the
 * audit log's in-memory tree). All run on the writer thread.
 */
struct writer_hooks {
	void *arg;
	void (*group_begin)(void *arg);
	void (*group_end)(void *arg, int committed);
	void (*op_begin)(void *arg);
	void (*op_end)(void *arg, int kept);
	/* Periodic work when idle or between groups (and with force at
	 * stop), run only once every group before it is durable and
	 * completed; returns the ms until it wants to run again, or -1 for
	 * "only when woken". */
	long (*tick)(void *arg, int force);
};

/* Starts the writer thread over s; hooks may be NULL (copied); NULL on
 * failure. */
struct writer *writer_start(struct store *s, int group_max,
    const struct writer_hooks *hooks);

/*
 * Queues op. Never blocks for long; op must stay valid until its done
 * callback runs. Fails (-1) once writer_stop has begun.
 */
int writer_submit(struct writer *w, struct wop *op);

/* Queues op and waits for it; returns op->status. For tools and tests. */
int writer_run(struct writer *w, struct wop *op);

/*
 * Stops accepting operations, commits everything queued, joins the thread
 * and frees w. NULL is a no-op.
 */
void writer_stop(struct writer *w);

/* Counters for logs and benchmarks. */
struct writer_stats {
	unsigned long long groups, ops, failed_groups;
	unsigned long long apply_us;   /* applying ops (CPU, page reads) */
	unsigned long long commit_us;  /* writing pages and syncing */
	unsigned long long max_group;  /* most ops in one group */
	unsigned long long syncs;      /* the syncer's rounds: a sync that
					* covers every commit before it, or
					* none when nothing new was committed */
};
void writer_get_stats(struct writer *w, struct writer_stats *out);

#endif
