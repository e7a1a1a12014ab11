/*
 * queue_commit.c - the committer thread: group commit of queue operations
 * submitted by one worker loop, for one or more shards.
 *
 * Here: the submit and done lists, the committer thread's loop, batch
 * cutting (QUEUE_BATCH_MAX_OPS / QUEUE_BATCH_MAX_BYTES), grouping a
 * batch by shard (one write transaction per shard), statistics.
 * Not here: what an operation does to LMDB (queue_shard.c), the encoding
 * (queue_record.c), reacting to results (the worker loop).
 *
 * Threads and memory ordering. Exactly two threads touch a committer:
 *  - the loop thread: queue_committer_submit, _reap, _start, _stop;
 *  - the committer thread: committer_main and what it calls.
 * "submit" is a lock-free intrusive stack (Treiber push): the loop fills
 * the op and pushes it with a release CAS; the committer takes the whole
 * stack with an acquire exchange, which makes every field written before
 * the push visible to it. "done" is the same in the other direction: the
 * committer writes result/batch/next for a whole batch, then publishes the
 * batch with one release CAS; reap's acquire exchange makes them visible,
 * and after that the committer never touches those ops again. Nobody ever
 * pops a single element, so there is no ABA problem. Stacks are LIFO;
 * each consumer reverses what it took to get FIFO (submission) order.
 *
 * Wake-ups cost a syscall only on an empty -> non-empty transition of the
 * submit stack: the committer re-checks the stack after every batch and
 * before sleeping, so a push onto a non-empty stack is always seen. The
 * wake eventfd is non-blocking (submit never blocks; EAGAIN on write means
 * the counter is already non-zero, i.e. a wake-up is pending); the
 * committer sleeps in poll(2) and clears the counter with read(2). After
 * each batch the committer writes 1 to the caller's notify_fd. No mutex,
 * no condition variable, no timer: a batch is whatever accumulated while
 * the previous one was committing (fsync), which is the group commit.
 *
 * Statistics are relaxed atomics: single writer (the committer), readers
 * only need eventually consistent values; a loop thread that has reaped a
 * batch also sees that batch counted (the stores precede the release CAS).
 */
#include "queue_commit.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CACHE_LINE 64

struct queue_committer {
	/* Pushed by the loop, drained by the committer. */
	_Alignas(CACHE_LINE) _Atomic(struct qop *) submit;
	/* Pushed by the committer, drained by the loop. */
	_Alignas(CACHE_LINE) _Atomic(struct qop *) done;
	/* Set once by queue_committer_stop (release), read by the committer
	 * (acquire) so that it sees every op submitted before stop. */
	atomic_bool stopping;
	_Alignas(CACHE_LINE) atomic_uint_least64_t st_batches;
	atomic_uint_least64_t st_ops;
	atomic_uint_least64_t st_failures;
	atomic_uint_least64_t st_max_batch;
	/* Immutable after start. */
	int wake_fd;   /* ours: eventfd, EFD_NONBLOCK */
	int notify_fd; /* the caller's: written after each batch */
	pthread_t thread;
	/* Committer thread only. */
	uint64_t batch_seq;
};

/* Reverse a list linked by ->next (LIFO stack -> FIFO order). */
static struct qop *
reverse(struct qop *l)
{
	struct qop *r = NULL;

	while (l != NULL) {
		struct qop *n = l->next;

		l->next = r;
		r = l;
		l = n;
	}
	return r;
}

static void
write_one(int fd)
{
	uint64_t one = 1;
	ssize_t n;

	/* EAGAIN: the counter is already non-zero, a wake-up is pending. */
	do
		n = write(fd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
}

/* Bytes an op counts for in QUEUE_BATCH_MAX_BYTES. */
static size_t
op_bytes(const struct qop *op)
{
	size_t n = 0;

	if (op->kind != QOP_DELETE && op->env != NULL) {
		n = qrec_encoded_size(op->env);
		if (n == SIZE_MAX)
			n = 0; /* fails in queue_txn_*; costs nothing */
	}
	if (op->kind == QOP_INSERT)
		n = op->body_len > SIZE_MAX - n ? SIZE_MAX : n + op->body_len;
	return n;
}

static int
apply(struct queue_txn *t, const struct qop *op)
{
	switch (op->kind) {
	case QOP_INSERT:
		if (op->env == NULL)
			return QUEUE_ERR_IO;
		return queue_txn_insert(t, op->env, op->body, op->body_len);
	case QOP_UPDATE:
		if (op->env == NULL)
			return QUEUE_ERR_IO;
		return queue_txn_update(t, op->env, op->old_next_attempt);
	case QOP_DELETE:
		return queue_txn_delete(t, op->id, op->old_next_attempt);
	}
	return QUEUE_ERR_IO;
}

/* Apply the ops of batch (n ops, FIFO, linked by ->next) that target
 * shard qs in one write transaction and set their results. */
static void
run_shard(struct queue_shard *qs, struct qop *batch, size_t n)
{
	struct queue_txn *t;
	struct qop *op;
	size_t i;
	int err, rc;

	t = queue_txn_begin(qs, &err);
	if (t != NULL) {
		for (op = batch, i = 0; i < n; op = op->next, i++) {
			if (op->shard != qs)
				continue;
			/* A poisoned txn makes the remaining ops return at
			 * once and the commit fail; an op that failed without
			 * poisoning it (NOTFOUND, id reused) keeps its own
			 * result while the others commit. */
			op->result = apply(t, op);
		}
		rc = queue_txn_commit(t);
		if (rc == QUEUE_OK)
			return;
		err = rc;
	}
	for (op = batch, i = 0; i < n; op = op->next, i++)
		if (op->shard == qs)
			op->result = err;
}

/* Commit one batch, publish it on the done list, notify. */
static void
run_batch(struct queue_committer *qc, struct qop *batch, size_t n)
{
	struct queue_shard *shards[QUEUE_BATCH_MAX_OPS];
	size_t nshards = 0, i, j, failures = 0;
	uint64_t seq = ++qc->batch_seq, max;
	struct qop *op, *top, *bottom;

	/* Distinct shards, in order of first appearance (n <= 256). */
	for (op = batch, i = 0; i < n; op = op->next, i++) {
		op->batch = seq;
		op->result = QUEUE_OK;
		if (op->shard == NULL) {
			op->result = QUEUE_ERR_IO;
			continue;
		}
		for (j = 0; j < nshards && shards[j] != op->shard; j++)
			;
		if (j == nshards)
			shards[nshards++] = op->shard;
	}
	for (j = 0; j < nshards; j++)
		run_shard(shards[j], batch, n);

	for (op = batch, i = 0; i < n; op = op->next, i++)
		if (op->result != QUEUE_OK)
			failures++;
	atomic_fetch_add_explicit(&qc->st_batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&qc->st_ops, n, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &qc->st_failures, failures, memory_order_relaxed);
	max = atomic_load_explicit(&qc->st_max_batch, memory_order_relaxed);
	if (n > max)
		atomic_store_explicit(
		    &qc->st_max_batch, n, memory_order_relaxed);

	/* Publish the batch as one segment: reversed, so that reap's final
	 * reversal yields submission order; bottom is the first op. */
	bottom = batch;
	top = reverse(batch);
	bottom->next = atomic_load_explicit(&qc->done, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&qc->done, &bottom->next,
	    top, memory_order_release, memory_order_relaxed))
		;
	/* From here on the ops belong to the loop thread again. */
	write_one(qc->notify_fd);
}

/* Process a FIFO list in consecutive batches within the caps. */
static void
run_list(struct queue_committer *qc, struct qop *list)
{
	while (list != NULL) {
		struct qop *last = list, *rest;
		size_t n = 1, bytes = op_bytes(list);

		while (last->next != NULL && n < QUEUE_BATCH_MAX_OPS) {
			size_t b = op_bytes(last->next);

			if (bytes > QUEUE_BATCH_MAX_BYTES ||
			    b > QUEUE_BATCH_MAX_BYTES - bytes)
				break;
			bytes += b;
			last = last->next;
			n++;
		}
		rest = last->next;
		last->next = NULL;
		run_batch(qc, list, n);
		list = rest;
	}
}

/* Sleep until the wake eventfd is signalled, then clear it. */
static void
wait_wake(struct queue_committer *qc)
{
	struct pollfd p = {.fd = qc->wake_fd, .events = POLLIN};
	uint64_t v;
	ssize_t n;

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	do
		n = read(qc->wake_fd, &v, sizeof(v));
	while (n < 0 && errno == EINTR);
}

static void *
committer_main(void *arg)
{
	struct queue_committer *qc = arg;

	for (;;) {
		struct qop *list = atomic_exchange_explicit(
		    &qc->submit, NULL, memory_order_acquire);

		if (list == NULL) {
			if (!atomic_load_explicit(
				&qc->stopping, memory_order_acquire)) {
				wait_wake(qc);
				continue;
			}
			/* stop happened after the last submit (same thread,
			 * release/acquire on stopping): one more take sees
			 * everything submitted before it. */
			list = atomic_exchange_explicit(
			    &qc->submit, NULL, memory_order_acquire);
			if (list == NULL)
				break;
		}
		run_list(qc, reverse(list));
	}
	return NULL;
}

/* queue_committer_start - create the committer and its thread */
struct queue_committer *
queue_committer_start(int notify_fd)
{
	struct queue_committer *qc;
	sigset_t all, old;
	size_t sz = (sizeof(*qc) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	int rc;

	qc = aligned_alloc(CACHE_LINE, sz);
	if (qc == NULL)
		return NULL;
	memset(qc, 0, sz);
	atomic_init(&qc->submit, NULL);
	atomic_init(&qc->done, NULL);
	atomic_init(&qc->stopping, false);
	atomic_init(&qc->st_batches, 0);
	atomic_init(&qc->st_ops, 0);
	atomic_init(&qc->st_failures, 0);
	atomic_init(&qc->st_max_batch, 0);
	qc->notify_fd = notify_fd;
	qc->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (qc->wake_fd < 0) {
		free(qc);
		return NULL;
	}
	/* The committer takes no signals: they belong to the loop threads
	 * (signalfd or handlers there). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&qc->thread, NULL, committer_main, qc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close(qc->wake_fd);
		free(qc);
		return NULL;
	}
	pthread_setname_np(qc->thread, "ringmx-commit");
	return qc;
}

/* queue_committer_stop - commit everything submitted, join, free qc.
 * Ops not reaped before stop keep their result/batch fields (the join
 * makes them visible to the caller) but are returned by no function. */
void
queue_committer_stop(struct queue_committer *qc)
{
	if (qc == NULL)
		return;
	atomic_store_explicit(&qc->stopping, true, memory_order_release);
	write_one(qc->wake_fd);
	pthread_join(qc->thread, NULL);
	close(qc->wake_fd);
	free(qc);
}

/* queue_committer_submit - push op for the committer (never blocks) */
void
queue_committer_submit(struct queue_committer *qc, struct qop *op)
{
	struct qop *old =
	    atomic_load_explicit(&qc->submit, memory_order_relaxed);

	do
		op->next = old;
	while (!atomic_compare_exchange_weak_explicit(
	    &qc->submit, &old, op, memory_order_release, memory_order_relaxed));
	if (old == NULL)
		write_one(qc->wake_fd); /* empty -> non-empty: wake it */
}

/* queue_committer_reap - completed ops in submission order (linked by
 * ->next, which the caller may follow until it submits the op again) */
struct qop *
queue_committer_reap(struct queue_committer *qc)
{
	if (atomic_load_explicit(&qc->done, memory_order_relaxed) == NULL)
		return NULL;
	return reverse(
	    atomic_exchange_explicit(&qc->done, NULL, memory_order_acquire));
}

/* queue_committer_stats - counters (relaxed reads) */
void
queue_committer_stats(struct queue_committer *qc, struct queue_commit_stats *st)
{
	st->batches =
	    atomic_load_explicit(&qc->st_batches, memory_order_relaxed);
	st->ops = atomic_load_explicit(&qc->st_ops, memory_order_relaxed);
	st->failures =
	    atomic_load_explicit(&qc->st_failures, memory_order_relaxed);
	st->max_batch =
	    atomic_load_explicit(&qc->st_max_batch, memory_order_relaxed);
}
