/*
 * test_queue_commit.c - unit tests of the committer thread
 * (storage/queue_commit.c) over real shards: completion order, "reaped
 * implies committed", group commit under bursts, the op and byte caps,
 * injected commit failures, one transaction per shard, draining on stop.
 * The test thread plays the worker loop (submit, wait on notify_fd, reap).
 * The shard itself is tested in test_queue_shard.c.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "queue_commit.h"
#include "queue_record.h"
#include "queue_shard.h"

#define MAP_SIZE (256u << 20)

static char tmpdir[64];

/* ---- helpers ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/ringmx-qcommit-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct queue_shard *
open_shard(const char *name, unsigned no)
{
	char dir[256], err[256] = "";
	struct queue_shard *qs;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	qs = queue_shard_open(dir, no, MAP_SIZE, err, sizeof(err));
	if (qs == NULL)
		fail_msg("open %s: %s", dir, err);
	return qs;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* One test message: its op, envelope and body, owned by the test. */
struct msg {
	struct qop op;
	struct qenvelope env;
	unsigned char *body;
	size_t body_len;
	int reaped;
};

static unsigned char
pattern(size_t i, qid_t id)
{
	return (unsigned char)((i * 31 + (size_t)id * 17 + (i >> 8)) & 0xff);
}

/* Prepare an INSERT of a fresh message with a patterned body. */
static void
msg_insert(struct msg *m, struct queue_shard *qs, size_t body_len, unsigned idx)
{
	memset(m, 0, sizeof(*m));
	m->env.id = queue_shard_new_id(qs);
	m->env.sender = xstrdup("s@example.com");
	m->env.client_addr = xstrdup("192.0.2.7");
	m->env.helo = xstrdup("h.example");
	m->env.next_attempt = 1700000000 + idx;
	m->env.size = body_len;
	m->env.nrcpt = 1;
	m->env.rcpts = calloc(1, sizeof(*m->env.rcpts));
	assert_non_null(m->env.rcpts);
	m->env.rcpts[0].addr = xstrdup("r@example.org");
	m->body_len = body_len;
	m->body = malloc(body_len ? body_len : 1);
	assert_non_null(m->body);
	for (size_t i = 0; i < body_len; i++)
		m->body[i] = pattern(i, m->env.id);
	m->op.kind = QOP_INSERT;
	m->op.shard = qs;
	m->op.env = &m->env;
	m->op.body = m->body;
	m->op.body_len = body_len;
	m->op.id = m->env.id;
	m->op.owner = m;
	m->op.owner_gen = idx;
	m->op.result = 12345; /* must be overwritten */
}

static void
msg_free(struct msg *m)
{
	qenvelope_free(&m->env);
	free(m->body);
	m->body = NULL;
}

/* Fresh read transactions: is the message there, with its body? */
static int
stored(struct queue_shard *qs, const struct msg *m)
{
	struct qenvelope e;
	struct buf b = {0};
	int rc = queue_shard_read_envelope(qs, m->env.id, &e);

	if (rc == QUEUE_ERR_NOTFOUND)
		return 0;
	assert_int_equal(rc, QUEUE_OK);
	assert_true(e.next_attempt == m->env.next_attempt);
	qenvelope_free(&e);
	assert_int_equal(queue_shard_read_body(qs, m->env.id, &b), QUEUE_OK);
	assert_int_equal(b.len, m->body_len);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] != m->body[i])
			fail_msg("body byte %zu of %016llX", i,
			    (unsigned long long)m->env.id);
	buf_free(&b);
	return 1;
}

/* Wait up to ms for the notify eventfd; 1 if it fired (and clear it). */
static int
wait_notify(int efd, int ms)
{
	struct pollfd p = {.fd = efd, .events = POLLIN};
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return 0;
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	assert_true(v >= 1);
	return 1;
}

/* Reap until n ops came back (10 s limit), calling check on each in
 * order; returns the ops in an array the caller frees. */
static struct qop **
reap_n(struct queue_committer *qc, int efd, size_t n,
    void (*check)(struct qop *op, void *arg), void *arg)
{
	struct qop **out = calloc(n ? n : 1, sizeof(*out));
	size_t got = 0;
	double deadline = now_s() + 10;

	assert_non_null(out);
	while (got < n) {
		struct qop *op = queue_committer_reap(qc);

		if (op == NULL) {
			if (now_s() > deadline)
				fail_msg(
				    "only %zu of %zu ops came back", got, n);
			wait_notify(efd, 100);
			continue;
		}
		for (; op != NULL; op = op->next) {
			assert_true(got < n);
			if (check != NULL)
				check(op, arg);
			out[got++] = op;
		}
	}
	assert_null(queue_committer_reap(qc));
	return out;
}

/* Ops of one batch are contiguous in the reaped order; returns the
 * number of batches and fills sizes[] (indexed by batch order). */
static size_t
batch_sizes(struct qop **ops, size_t n, size_t *sizes)
{
	size_t nb = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(ops[i]->batch > 0);
		if (i == 0 || ops[i]->batch != ops[i - 1]->batch) {
			if (i > 0)
				assert_true(ops[i]->batch > ops[i - 1]->batch);
			sizes[nb++] = 0;
		}
		sizes[nb - 1]++;
	}
	return nb;
}

/* ---- tests ---- */

struct order_ctx {
	struct queue_shard *qs;
	struct msg *msgs;
	size_t next;
	uint64_t last_batch;
};

static void
check_order_committed(struct qop *op, void *arg)
{
	struct order_ctx *c = arg;
	struct msg *m = op->owner;

	/* submission order, success, and already visible to a brand new
	 * read transaction: reaped implies committed */
	assert_ptr_equal(m, &c->msgs[c->next]);
	assert_true(op->owner_gen == c->next);
	c->next++;
	assert_int_equal(op->result, QUEUE_OK);
	assert_true(op->batch >= c->last_batch);
	c->last_batch = op->batch;
	assert_true(stored(c->qs, m));
	m->reaped = 1;
}

static void
test_thousand_in_order(void **state)
{
	enum { N = 1000 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct queue_commit_stats st;
	struct order_ctx c = {0};
	struct qop **ops;
	size_t sizes[N], nb;
	double t0, t1;

	(void)state;
	assert_non_null(msgs);
	assert_true(efd >= 0);
	for (unsigned i = 0; i < N; i++)
		msg_insert(&msgs[i], qs, (i * 37) % 3000, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	c.qs = qs;
	c.msgs = msgs;
	t0 = now_s();
	for (unsigned i = 0; i < N; i++)
		queue_committer_submit(qc, &msgs[i].op);
	ops = reap_n(qc, efd, N, check_order_committed, &c);
	t1 = now_s();
	assert_int_equal(c.next, N);
	nb = batch_sizes(ops, N, sizes);
	queue_committer_stats(qc, &st);
	assert_int_equal(st.ops, N);
	assert_int_equal(st.batches, nb);
	assert_int_equal(st.failures, 0);
	assert_true(st.max_batch <= QUEUE_BATCH_MAX_OPS);
	printf("  1000 inserts, each verified on reap: %.1f ms, %zu batches, "
	       "max %llu ops/batch, "
	       "%.0f ops/s\n",
	    (t1 - t0) * 1e3, nb, (unsigned long long)st.max_batch,
	    N / (t1 - t0));
	queue_committer_stop(qc);
	assert_int_equal(queue_shard_count(qs), N);
	for (unsigned i = 0; i < N; i++)
		msg_free(&msgs[i]);
	free(ops);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

static void
test_not_done_before_commit(void **state)
{
	struct queue_shard *qs = open_shard("s0", 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc = queue_committer_start(efd);
	struct msg m;
	struct qop del, *op;

	(void)state;
	assert_non_null(qc);
	msg_insert(&m, qs, 100, 0);
	/* Every commit now takes 300 ms before mdb_txn_commit. */
	queue_shard_inject_commit_delay(qs, 300);
	queue_committer_submit(qc, &m.op);
	sleep_ms(100);
	/* The batch is built and sitting in its commit: not committed, so
	 * not on the done list and not notified. */
	assert_null(queue_committer_reap(qc));
	assert_false(wait_notify(efd, 0));
	assert_false(stored(qs, &m));
	assert_true(wait_notify(efd, 5000));
	op = queue_committer_reap(qc);
	assert_ptr_equal(op, &m.op);
	assert_null(op->next);
	assert_int_equal(op->result, QUEUE_OK);
	assert_true(stored(qs, &m));

	/* same for a delete: reaped implies gone */
	memset(&del, 0, sizeof(del));
	del.kind = QOP_DELETE;
	del.shard = qs;
	del.id = m.env.id;
	del.old_next_attempt = m.env.next_attempt;
	queue_committer_submit(qc, &del);
	sleep_ms(100);
	assert_null(queue_committer_reap(qc));
	assert_true(stored(qs, &m));
	assert_true(wait_notify(efd, 5000));
	assert_ptr_equal(queue_committer_reap(qc), &del);
	assert_int_equal(del.result, QUEUE_OK);
	assert_false(stored(qs, &m));
	queue_shard_inject_commit_delay(qs, 0);
	queue_committer_stop(qc);
	msg_free(&m);
	close(efd);
	queue_shard_close(qs);
}

static void
test_burst_batches(void **state)
{
	enum { N = 500 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct queue_commit_stats st;
	struct qop **ops;
	size_t sizes[N], nb;
	double t0, t1;

	(void)state;
	assert_non_null(msgs);
	for (unsigned i = 0; i < N; i++)
		msg_insert(&msgs[i], qs, 64, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	t0 = now_s();
	for (unsigned i = 0; i < N; i++)
		queue_committer_submit(qc, &msgs[i].op);
	ops = reap_n(qc, efd, N, NULL, NULL);
	t1 = now_s();
	nb = batch_sizes(ops, N, sizes);
	queue_committer_stats(qc, &st);
	printf("  burst of 500: %.1f ms, %zu batches, %.0f ops/s\n",
	    (t1 - t0) * 1e3, nb, N / (t1 - t0));
	/* group commit: far fewer commits than ops */
	assert_true(st.max_batch > 1);
	assert_true(st.max_batch <= QUEUE_BATCH_MAX_OPS);
	assert_int_equal(st.batches, nb);
	assert_true(nb < N);
	for (size_t i = 0; i < nb; i++)
		assert_true(sizes[i] <= QUEUE_BATCH_MAX_OPS);
	for (size_t i = 0; i < N; i++) {
		assert_ptr_equal(ops[i], &msgs[i].op);
		assert_int_equal(ops[i]->result, QUEUE_OK);
	}
	queue_committer_stop(qc);
	for (unsigned i = 0; i < N; i++)
		msg_free(&msgs[i]);
	free(ops);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

/* Submit a blocker whose commit sleeps, then n more ops: they pile up
 * and are taken together when the blocker's commit returns. */
static void
submit_behind_blocker(struct queue_committer *qc, struct queue_shard *qs,
    struct msg *blocker, struct msg *msgs, size_t n)
{
	queue_shard_inject_commit_delay(qs, 250);
	queue_committer_submit(qc, &blocker->op);
	sleep_ms(50);
	queue_shard_inject_commit_delay(qs, 0);
	for (size_t i = 0; i < n; i++)
		queue_committer_submit(qc, &msgs[i].op);
}

static void
test_op_cap(void **state)
{
	enum { N = 600 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N + 1, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct queue_commit_stats st;
	struct qop **ops;
	size_t sizes[N + 1], nb, full = 0;

	(void)state;
	assert_non_null(msgs);
	for (unsigned i = 0; i <= N; i++)
		msg_insert(&msgs[i], qs, 10, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	submit_behind_blocker(qc, qs, &msgs[0], msgs + 1, N);
	ops = reap_n(qc, efd, N + 1, NULL, NULL);
	nb = batch_sizes(ops, N + 1, sizes);
	for (size_t i = 0; i < nb; i++) {
		assert_true(sizes[i] <= QUEUE_BATCH_MAX_OPS);
		full += sizes[i] == QUEUE_BATCH_MAX_OPS;
	}
	/* 600 taken at once become consecutive batches of 256, 256, 88 */
	assert_true(full >= 1);
	queue_committer_stats(qc, &st);
	assert_int_equal(st.max_batch, QUEUE_BATCH_MAX_OPS);
	assert_int_equal(st.ops, N + 1);
	for (size_t i = 0; i <= N; i++) {
		assert_ptr_equal(ops[i], &msgs[i].op);
		assert_int_equal(ops[i]->result, QUEUE_OK);
	}
	queue_committer_stop(qc);
	assert_int_equal(queue_shard_count(qs), N + 1);
	for (unsigned i = 0; i <= N; i++)
		msg_free(&msgs[i]);
	free(ops);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

static void
test_byte_cap(void **state)
{
	enum { N = 40, MB = 1 << 20 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N + 1, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct qop **ops;
	size_t sizes[N + 1], nb, most = 0, k = 0;

	(void)state;
	assert_non_null(msgs);
	msg_insert(&msgs[0], qs, 10, 0);
	for (unsigned i = 1; i <= N; i++)
		msg_insert(&msgs[i], qs, MB, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	submit_behind_blocker(qc, qs, &msgs[0], msgs + 1, N);
	ops = reap_n(qc, efd, N + 1, NULL, NULL);
	nb = batch_sizes(ops, N + 1, sizes);
	for (size_t i = 0; i < nb; i++) {
		size_t bytes = 0;

		for (size_t j = 0; j < sizes[i]; j++, k++) {
			assert_int_equal(ops[k]->result, QUEUE_OK);
			bytes +=
			    ops[k]->body_len + qrec_encoded_size(ops[k]->env);
		}
		assert_true(bytes <= QUEUE_BATCH_MAX_BYTES);
		if (sizes[i] > most)
			most = sizes[i];
	}
	/* 16 MiB holds 15 one-MiB messages with their envelopes, not 16 */
	assert_true(most >= 15);
	assert_true(most <= 16); /* 16 only with the tiny blocker */
	queue_committer_stop(qc);
	for (unsigned i = 0; i <= N; i++) {
		assert_true(stored(qs, &msgs[i]));
		msg_free(&msgs[i]);
	}
	free(ops);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

static void
test_injected_failure(void **state)
{
	enum { N = 40, M = 10 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(1 + N + M, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct queue_commit_stats st;
	struct qop **ops;
	size_t sizes[1 + N], nb, k = 0, failed = 0, failed_size = 0;

	(void)state;
	assert_non_null(msgs);
	for (unsigned i = 0; i < 1 + N + M; i++)
		msg_insert(&msgs[i], qs, 200, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	/* The blocker is already past the failure check when the failure
	 * is armed, so the next batch (the pile of N) fails as a whole. */
	queue_shard_inject_commit_delay(qs, 250);
	queue_committer_submit(qc, &msgs[0].op);
	sleep_ms(50);
	queue_shard_inject_commit_failure(qs, 1);
	queue_shard_inject_commit_delay(qs, 0);
	for (unsigned i = 1; i <= N; i++)
		queue_committer_submit(qc, &msgs[i].op);
	ops = reap_n(qc, efd, 1 + N, NULL, NULL);
	nb = batch_sizes(ops, 1 + N, sizes);
	for (size_t i = 0; i < nb; i++) {
		int res = ops[k]->result;

		if (res != QUEUE_OK) {
			failed++;
			failed_size = sizes[i];
			assert_int_equal(res, QUEUE_ERR_FULL);
		}
		/* all or nothing within a batch */
		for (size_t j = 0; j < sizes[i]; j++, k++) {
			struct msg *m = ops[k]->owner;

			assert_int_equal(ops[k]->result, res);
			assert_int_equal(stored(qs, m), res == QUEUE_OK);
		}
		if (res != QUEUE_OK && i + 1 < nb)
			assert_int_equal(ops[k]->result, QUEUE_OK);
	}
	assert_int_equal(failed, 1);
	assert_true(failed_size > 1);
	queue_committer_stats(qc, &st);
	assert_int_equal(st.failures, failed_size);
	free(ops);

	/* the committer carries on: the next batches succeed */
	for (unsigned i = 1 + N; i < 1 + N + M; i++)
		queue_committer_submit(qc, &msgs[i].op);
	ops = reap_n(qc, efd, M, NULL, NULL);
	for (size_t i = 0; i < M; i++) {
		assert_int_equal(ops[i]->result, QUEUE_OK);
		assert_true(stored(qs, ops[i]->owner));
	}
	free(ops);
	queue_committer_stop(qc);
	assert_int_equal(queue_shard_count(qs), 1 + N + M - failed_size);
	for (unsigned i = 0; i < 1 + N + M; i++)
		msg_free(&msgs[i]);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

static void
test_update_delete_mixed(void **state)
{
	enum { N = 300 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N, sizeof(*msgs));
	struct qop *extra = calloc(N + 1, sizeof(*extra));
	struct qenvelope *upd = calloc(N, sizeof(*upd));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct qop **ops;
	struct qenvelope ghost, got;
	size_t nx = 0;

	(void)state;
	assert_non_null(msgs);
	assert_non_null(extra);
	assert_non_null(upd);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	/* insert all, then in one burst: update the even ones, delete
	 * every third, and update a message that does not exist */
	for (unsigned i = 0; i < N; i++) {
		msg_insert(&msgs[i], qs, 70000 + i, i);
		queue_committer_submit(qc, &msgs[i].op);
	}
	free(reap_n(qc, efd, N, NULL, NULL));
	for (unsigned i = 0; i < N; i++) {
		struct qop *op = &extra[nx++];

		if (i % 3 == 0) {
			op->kind = QOP_DELETE;
			op->id = msgs[i].env.id;
			op->old_next_attempt = msgs[i].env.next_attempt;
		} else if (i % 2 == 0) {
			assert_int_equal(
			    qenvelope_copy(&upd[i], &msgs[i].env), 0);
			upd[i].next_attempt += 3600;
			upd[i].attempts = 1;
			upd[i].rcpts[0].last_error = xstrdup("451 later");
			op->kind = QOP_UPDATE;
			op->env = &upd[i];
			op->old_next_attempt = msgs[i].env.next_attempt;
		} else {
			nx--;
			continue;
		}
		op->shard = qs;
		op->owner = &msgs[i];
		queue_committer_submit(qc, op);
	}
	memset(&ghost, 0, sizeof(ghost));
	ghost.id = 0xdead;
	extra[nx].kind = QOP_UPDATE;
	extra[nx].shard = qs;
	extra[nx].env = &ghost;
	queue_committer_submit(qc, &extra[nx++]);
	ops = reap_n(qc, efd, nx, NULL, NULL);
	for (size_t i = 0; i < nx; i++) {
		assert_ptr_equal(ops[i], &extra[i]);
		assert_int_equal(ops[i]->result,
		    i + 1 == nx ? QUEUE_ERR_NOTFOUND : QUEUE_OK);
	}
	free(ops);
	queue_committer_stop(qc);
	for (unsigned i = 0; i < N; i++) {
		int rc = queue_shard_read_envelope(qs, msgs[i].env.id, &got);

		if (i % 3 == 0) {
			struct buf b = {0};

			assert_int_equal(rc, QUEUE_ERR_NOTFOUND);
			assert_int_equal(
			    queue_shard_read_body(qs, msgs[i].env.id, &b),
			    QUEUE_ERR_NOTFOUND);
			continue;
		}
		assert_int_equal(rc, QUEUE_OK);
		if (i % 2 == 0) {
			assert_true(got.next_attempt ==
				    msgs[i].env.next_attempt + 3600);
			assert_string_equal(
			    got.rcpts[0].last_error, "451 later");
		} else {
			assert_true(
			    got.next_attempt == msgs[i].env.next_attempt);
		}
		qenvelope_free(&got);
	}
	assert_int_equal(
	    queue_shard_read_envelope(qs, 0xdead, &got), QUEUE_ERR_NOTFOUND);
	assert_int_equal(queue_shard_count(qs), N - N / 3);
	for (unsigned i = 0; i < N; i++) {
		msg_free(&msgs[i]);
		qenvelope_free(&upd[i]);
	}
	free(msgs);
	free(extra);
	free(upd);
	close(efd);
	queue_shard_close(qs);
}

static void
test_one_txn_per_shard(void **state)
{
	enum { N = 100 };
	struct queue_shard *a = open_shard("a", 1), *b = open_shard("b", 2);
	struct msg *msgs = calloc(2 * N + 1, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc;
	struct qop **ops;
	size_t mixed = 0;

	(void)state;
	assert_non_null(msgs);
	msg_insert(&msgs[0], a, 10, 0);
	for (unsigned i = 1; i <= 2 * N; i++)
		msg_insert(&msgs[i], i % 2 ? a : b, 100, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	/* shard b's next commit fails; shard a's in the same batch must
	 * not be affected: separate transactions */
	queue_shard_inject_commit_delay(a, 250);
	queue_committer_submit(qc, &msgs[0].op);
	sleep_ms(50);
	queue_shard_inject_commit_delay(a, 0);
	queue_shard_inject_commit_failure(b, 1);
	for (unsigned i = 1; i <= 2 * N; i++)
		queue_committer_submit(qc, &msgs[i].op);
	ops = reap_n(qc, efd, 2 * N + 1, NULL, NULL);
	for (size_t i = 0; i <= 2 * N; i++) {
		struct msg *m = ops[i]->owner;

		assert_ptr_equal(m, &msgs[i]);
		if (m->op.shard == a) {
			assert_int_equal(ops[i]->result, QUEUE_OK);
			assert_true(stored(a, m));
		} else if (ops[i]->result != QUEUE_OK) {
			assert_int_equal(ops[i]->result, QUEUE_ERR_FULL);
			assert_false(stored(b, m));
			/* an a-op committed in the same batch */
			for (size_t j = 0; j <= 2 * N; j++)
				if (ops[j]->batch == ops[i]->batch &&
				    ops[j]->shard == a)
					mixed++;
		} else {
			assert_true(stored(b, m));
		}
	}
	assert_true(mixed > 0);
	free(ops);
	queue_committer_stop(qc);
	for (unsigned i = 0; i <= 2 * N; i++)
		msg_free(&msgs[i]);
	free(msgs);
	close(efd);
	queue_shard_close(a);
	queue_shard_close(b);
}

static void
test_invalid_ops(void **state)
{
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg m[3];
	int efd = eventfd(0, EFD_CLOEXEC);
	struct queue_committer *qc = queue_committer_start(efd);
	struct qop **ops;
	struct qrcpt *saved;

	(void)state;
	assert_non_null(qc);
	for (unsigned i = 0; i < 3; i++)
		msg_insert(&m[i], qs, 5, i);
	m[0].op.shard = NULL; /* no shard */
	saved = m[1].env.rcpts;
	m[1].env.rcpts = NULL; /* nrcpt 1, no array: cannot be encoded */
	queue_shard_inject_commit_delay(qs, 200);
	queue_committer_submit(qc, &m[2].op);
	sleep_ms(50);
	queue_shard_inject_commit_delay(qs, 0);
	queue_committer_submit(qc, &m[0].op);
	queue_committer_submit(qc, &m[1].op);
	ops = reap_n(qc, efd, 3, NULL, NULL);
	assert_int_equal(ops[0]->result, QUEUE_OK);
	assert_int_equal(ops[1]->result, QUEUE_ERR_IO);
	assert_int_equal(ops[2]->result, QUEUE_ERR_IO);
	free(ops);
	queue_committer_stop(qc);
	m[1].env.rcpts = saved;
	assert_true(stored(qs, &m[2]));
	assert_false(stored(qs, &m[1]));
	for (unsigned i = 0; i < 3; i++)
		msg_free(&m[i]);
	close(efd);
	queue_shard_close(qs);
}

static void
test_stop_drains(void **state)
{
	enum { N = 300 };
	struct queue_shard *qs = open_shard("s0", 0);
	struct msg *msgs = calloc(N, sizeof(*msgs));
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct queue_committer *qc;

	(void)state;
	assert_non_null(msgs);
	for (unsigned i = 0; i < N; i++)
		msg_insert(&msgs[i], qs, 1000, i);
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	queue_shard_inject_commit_delay(qs, 20); /* keep work pending */
	for (unsigned i = 0; i < N; i++)
		queue_committer_submit(qc, &msgs[i].op);
	queue_committer_stop(qc); /* returns when all are committed */
	assert_true(wait_notify(efd, 0));
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(msgs[i].op.result, QUEUE_OK);
		assert_true(msgs[i].op.batch > 0);
		assert_true(stored(qs, &msgs[i]));
		msg_free(&msgs[i]);
	}
	assert_int_equal(queue_shard_count(qs), N);
	/* start/stop with nothing submitted */
	qc = queue_committer_start(efd);
	assert_non_null(qc);
	queue_committer_stop(qc);
	free(msgs);
	close(efd);
	queue_shard_close(qs);
}

/* main - run the committer tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_thousand_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_not_done_before_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_burst_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_op_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_byte_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_injected_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_update_delete_mixed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_one_txn_per_shard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_drains, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
