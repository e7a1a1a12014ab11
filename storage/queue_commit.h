/*
 * queue_commit.h - the committer thread of one queue shard: group commit.
 *
 * The worker loop submits operations (insert/update/delete); the committer
 * thread takes EVERYTHING pending whenever it is free (no timer), caps a
 * batch at QUEUE_BATCH_MAX_OPS ops or QUEUE_BATCH_MAX_BYTES bytes, applies
 * the batch in one LMDB write transaction and commits it with full sync.
 * Only after mdb_txn_commit has returned are the operations handed back
 * (with their result) and the worker's eventfd written. A failed commit
 * marks every op of the batch failed; the worker answers 452 4.3.1.
 *
 * Shared between exactly two threads (the owning worker loop and the
 * committer): two lock-free intrusive lists (submit, done), each pushed by
 * one thread and drained with an atomic exchange by the other
 * (release/acquire ordering). Nothing else is shared.
 */
#ifndef RINGMX_QUEUE_COMMIT_H
#define RINGMX_QUEUE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "queue_record.h"
#include "queue_shard.h"

#define QUEUE_BATCH_MAX_OPS   256
#define QUEUE_BATCH_MAX_BYTES (16u * 1024 * 1024)

enum qop_kind { QOP_INSERT, QOP_UPDATE, QOP_DELETE };

/*
 * One operation. Owned by the submitter; between submit and reap the
 * committer reads it and the submitter must not touch it (nor env/body).
 */
struct qop {
	enum qop_kind kind;
	struct queue_shard *shard;   /* target shard (worker may own several) */
	const struct qenvelope *env; /* INSERT/UPDATE */
	const void *body;            /* INSERT */
	size_t body_len;
	qid_t id;                 /* DELETE */
	int64_t old_next_attempt; /* UPDATE/DELETE: schedule key to drop */
	int result;               /* set by committer: QUEUE_OK or error */
	uint64_t batch;           /* set by committer: batch sequence no. */
	void *owner;              /* for the submitter, untouched */
	uint64_t owner_gen;       /* for the submitter, untouched */
	struct qop *next;         /* list link, private */
};

struct queue_committer;

/* Start the committer thread; notify_fd is an eventfd written (value 1)
 * after each batch's ops are on the done list. NULL on failure. */
struct queue_committer *queue_committer_start(int notify_fd);
/* Stop after everything submitted so far is committed; joins and frees
 * qc. Ops not reaped before stop still get result/batch set (visible to
 * the caller once stop returns) but no function returns them. */
void queue_committer_stop(struct queue_committer *qc);
/* Loop thread: hand over op (never blocks). */
void queue_committer_submit(struct queue_committer *qc, struct qop *op);
/* Loop thread: take all completed ops, in submission order, as a list
 * linked by ->next (valid until the op is submitted again); NULL if none.
 * Read the eventfd first, then reap, so no completion is missed. */
struct qop *queue_committer_reap(struct queue_committer *qc);

/* Statistics (read with relaxed atomics, any thread). */
struct queue_commit_stats {
	uint64_t batches;   /* batches completed */
	uint64_t ops;       /* ops completed */
	uint64_t failures;  /* ops completed with result != QUEUE_OK */
	uint64_t max_batch; /* most ops in one batch */
};
void queue_committer_stats(
    struct queue_committer *qc, struct queue_commit_stats *st);

#endif
