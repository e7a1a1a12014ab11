/*
 * test_queue_shard.c - unit tests of the LMDB queue shard
 * (storage/queue_shard.c): creation, sync flags, id allocation across
 * reopens, insert/read/update/delete, body chunking, scans with renewed
 * read transactions, map full, corrupt records, schema versions, and the
 * frozen version-1 fixture (tests/fixtures/shard-v1/). The on-disk layout
 * is checked with raw LMDB reads, only while the shard is closed (LMDB
 * forbids opening one environment twice in a process). Committer tests
 * are in test_queue_commit.c.
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "queue_record.h"
#include "queue_shard.h"

#define MAP_SIZE (64u << 20)
#define FIXTURE  "tests/fixtures/shard-v1/data.mdb"

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
	strcpy(tmpdir, "/tmp/ringmx-qshard-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *
path_in(const char *sub)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, sub);
	return p;
}

static struct queue_shard *
open_ok(const char *dir, unsigned no, size_t map)
{
	char err[256] = "";
	struct queue_shard *qs =
	    queue_shard_open(dir, no, map, err, sizeof(err));

	if (qs == NULL)
		fail_msg("open %s: %s", dir, err);
	return qs;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

/* An envelope with nr recipients; owned by the caller (qenvelope_free). */
static void
make_env(struct qenvelope *e, qid_t id, uint32_t nr, int64_t next)
{
	char a[64];

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->sender = xstrdup("sender@example.com");
	e->received = 1700000000;
	e->next_attempt = next;
	e->client_addr = xstrdup("192.0.2.1");
	e->helo = xstrdup("client.example");
	e->nrcpt = nr;
	if (nr > 0) {
		e->rcpts = calloc(nr, sizeof(*e->rcpts));
		assert_non_null(e->rcpts);
	}
	for (uint32_t i = 0; i < nr; i++) {
		snprintf(a, sizeof(a), "rcpt%u@example.org", i);
		e->rcpts[i].addr = xstrdup(a);
	}
}

static void
assert_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_env_eq(const struct qenvelope *a, const struct qenvelope *b)
{
	assert_true(a->id == b->id);
	assert_str_eq(a->sender, b->sender);
	assert_str_eq(a->envid, b->envid);
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->held, b->held);
	assert_true(a->received == b->received);
	assert_true(a->next_attempt == b->next_attempt);
	assert_int_equal(a->attempts, b->attempts);
	assert_true(a->size == b->size);
	assert_str_eq(a->client_addr, b->client_addr);
	assert_str_eq(a->helo, b->helo);
	assert_int_equal(a->nrcpt, b->nrcpt);
	for (uint32_t i = 0; i < a->nrcpt; i++) {
		assert_str_eq(a->rcpts[i].addr, b->rcpts[i].addr);
		assert_str_eq(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		assert_int_equal(a->rcpts[i].notify, b->rcpts[i].notify);
		assert_int_equal(a->rcpts[i].state, b->rcpts[i].state);
		assert_int_equal(a->rcpts[i].attempts, b->rcpts[i].attempts);
		assert_str_eq(a->rcpts[i].last_error, b->rcpts[i].last_error);
	}
}

static unsigned char
pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i * 131 + (i >> 9) * 7 + seed * 29) & 0xff);
}

static unsigned char *
make_body(size_t n, unsigned seed)
{
	unsigned char *b = malloc(n ? n : 1);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = pattern(i, seed);
	return b;
}

static int
insert_one(struct queue_shard *qs, const struct qenvelope *e, const void *body,
    size_t len)
{
	int err;
	struct queue_txn *t = queue_txn_begin(qs, &err);
	int rc;

	assert_non_null(t);
	assert_int_equal(err, QUEUE_OK);
	rc = queue_txn_insert(t, e, body, len);
	if (rc != QUEUE_OK) {
		queue_txn_abort(t);
		return rc;
	}
	return queue_txn_commit(t);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* ---- raw LMDB access (shard closed) ---- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static void
raw_open(struct raw *r, const char *dir, unsigned txnflags)
{
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(r->env, MAP_SIZE), 0);
	assert_int_equal(mdb_env_open(r->env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, txnflags, &r->txn), 0);
}

static MDB_dbi
raw_dbi(struct raw *r, const char *name)
{
	MDB_dbi d;

	assert_int_equal(mdb_dbi_open(r->txn, name, 0, &d), 0);
	return d;
}

static size_t
raw_entries(struct raw *r, const char *name)
{
	MDB_stat st;

	assert_int_equal(mdb_stat(r->txn, raw_dbi(r, name), &st), 0);
	return st.ms_entries;
}

static void
raw_close(struct raw *r, int commit)
{
	if (commit)
		assert_int_equal(mdb_txn_commit(r->txn), 0);
	else
		mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
}

/* The only sched key must be next (8 BE) || id (8 BE). */
static void
raw_assert_sched(struct raw *r, int64_t next, qid_t id, int present)
{
	uint8_t kb[16];
	MDB_val k = {16, kb}, v;

	put_be64(kb, (uint64_t)next);
	put_be64(kb + 8, id);
	assert_int_equal(mdb_get(r->txn, raw_dbi(r, "sched"), &k, &v),
	    present ? 0 : MDB_NOTFOUND);
}

static size_t
raw_chunks(struct raw *r, qid_t id)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t kb[12] = {0};
	size_t n = 0;
	int rc;

	put_be64(kb, id);
	assert_int_equal(mdb_cursor_open(r->txn, raw_dbi(r, "body"), &c), 0);
	k.mv_size = 12;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, kb, 8) == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		n++;
	mdb_cursor_close(c);
	return n;
}

/* ---- tests ---- */

static void
test_open_creates(void **state)
{
	struct queue_shard *qs;
	struct stat st;
	char err[256];

	(void)state;
	qs = open_ok(path_in("a/b/shard-0"), 0, MAP_SIZE);
	assert_int_equal(queue_shard_number(qs), 0);
	assert_int_equal(queue_shard_count(qs), 0);
	assert_int_equal(stat(path_in("a/b/shard-0/data.mdb"), &st), 0);
	assert_int_equal(stat(path_in("a/b/shard-0"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path_in("a"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	queue_shard_close(qs);
	/* reopening an existing shard works */
	qs = open_ok(path_in("a/b/shard-0"), 0, MAP_SIZE);
	queue_shard_close(qs);
	/* errors: a file in the way, shard number too large */
	assert_int_equal(
	    close(open(path_in("file"), O_CREAT | O_WRONLY, 0600)), 0);
	err[0] = '\0';
	assert_null(
	    queue_shard_open(path_in("file/x"), 0, MAP_SIZE, err, sizeof(err)));
	assert_non_null(strstr(err, "file/x"));
	assert_null(
	    queue_shard_open(path_in("file"), 0, MAP_SIZE, err, sizeof(err)));
	err[0] = '\0';
	assert_null(
	    queue_shard_open(path_in("s256"), 256, MAP_SIZE, err, sizeof(err)));
	assert_non_null(strstr(err, "256"));
	assert_null(queue_shard_open(path_in("s256"), 256, MAP_SIZE, NULL, 0));
}

static void
test_env_flags(void **state)
{
	struct queue_shard *qs;
	unsigned f;

	(void)state;
	qs = open_ok(path_in("s"), 1, MAP_SIZE);
	f = queue_shard_env_flags(qs);
	assert_int_equal(f & (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC |
				 MDB_WRITEMAP | MDB_RDONLY | MDB_NOLOCK),
	    0);
	assert_int_not_equal(f & MDB_NOTLS, 0);
	queue_shard_close(qs);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_ids_unique(void **state)
{
	enum { PER = 1000 };
	qid_t *ids = calloc(4 * PER, sizeof(*ids));
	struct queue_shard *qs;
	qid_t first[4];
	size_t n = 0;

	(void)state;
	assert_non_null(ids);
	for (int round = 0; round < 4; round++) {
		/* shard 7 three times (restarts), then shard 8 */
		unsigned no = round < 3 ? 7 : 8;

		qs = open_ok(path_in(round < 3 ? "s7" : "s8"), no, MAP_SIZE);
		for (int i = 0; i < PER; i++) {
			ids[n] = queue_shard_new_id(qs);
			assert_int_equal(qid_shard(ids[n]), no);
			assert_true((ids[n] & 0xffffffffu) == (qid_t)i + 1);
			n++;
		}
		first[round] = ids[n - PER];
		queue_shard_close(qs);
	}
	/* generation: 1, 2, 3 on the reopened shard, 1 on the new one */
	assert_true(first[0] >> 40 == 1);
	assert_true(first[1] >> 40 == 2);
	assert_true(first[2] >> 40 == 3);
	assert_true(first[3] >> 40 == 1);
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < n; i++)
		assert_true(ids[i] != ids[i - 1]);
	free(ids);
}

static void
test_id_sequence_wrap(void **state)
{
	struct queue_shard *qs;
	qid_t a, b, c;

	(void)state;
	qs = open_ok(path_in("w"), 5, MAP_SIZE);
	queue_shard_test_set_seq(qs, UINT32_MAX - 1);
	a = queue_shard_new_id(qs);
	assert_true(a == ((qid_t)1 << 40 | (qid_t)5 << 32 | UINT32_MAX));
	b = queue_shard_new_id(qs); /* sequence exhausted: generation 2 */
	assert_true(b == ((qid_t)2 << 40 | (qid_t)5 << 32 | 1));
	queue_shard_close(qs);
	/* the bump was durable: the next open is generation 3 */
	qs = open_ok(path_in("w"), 5, MAP_SIZE);
	c = queue_shard_new_id(qs);
	assert_true(c == ((qid_t)3 << 40 | (qid_t)5 << 32 | 1));
	queue_shard_close(qs);
}

static void
test_insert_read_update_delete(void **state)
{
	const char *dir = path_in("crud");
	struct queue_shard *qs;
	struct qenvelope e, got, other;
	struct queue_txn *t;
	struct buf body = {0};
	struct raw r;
	unsigned char *b = make_body(1000, 1);
	qid_t id;
	int err;

	(void)state;
	qs = open_ok(dir, 2, MAP_SIZE);
	id = queue_shard_new_id(qs);
	make_env(&e, id, 2, 1700000500);
	e.envid = xstrdup("env-id");
	e.size = 1000;
	assert_int_equal(insert_one(qs, &e, b, 1000), QUEUE_OK);
	assert_int_equal(queue_shard_count(qs), 1);
	assert_int_equal(queue_shard_read_envelope(qs, id, &got), QUEUE_OK);
	assert_env_eq(&e, &got);
	qenvelope_free(&got);
	assert_int_equal(queue_shard_read_body(qs, id, &body), QUEUE_OK);
	assert_int_equal(body.len, 1000);
	assert_memory_equal(body.data, b, 1000);
	/* unknown ids */
	assert_int_equal(
	    queue_shard_read_envelope(qs, id + 1, &got), QUEUE_ERR_NOTFOUND);
	assert_int_equal(
	    queue_shard_read_body(qs, id + 1, &body), QUEUE_ERR_NOTFOUND);
	assert_int_equal(body.len, 1000); /* untouched */
	/* inserting the same id again fails without poisoning the txn */
	make_env(&other, queue_shard_new_id(qs), 1, 5);
	t = queue_txn_begin(qs, &err);
	assert_non_null(t);
	assert_int_equal(queue_txn_insert(t, &e, b, 10), QUEUE_ERR_IO);
	assert_int_equal(queue_txn_insert(t, &other, NULL, 0), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	assert_int_equal(queue_shard_count(qs), 2);

	/* update: recipient state and schedule change */
	e.rcpts[0].state = QRCPT_DELIVERED;
	e.rcpts[1].attempts = 1;
	e.rcpts[1].last_error = xstrdup("451 4.3.0 later");
	e.attempts = 1;
	e.next_attempt = 1700009999;
	t = queue_txn_begin(qs, &err);
	assert_non_null(t);
	assert_int_equal(queue_txn_update(t, &e, 1700000500), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	assert_int_equal(queue_shard_read_envelope(qs, id, &got), QUEUE_OK);
	assert_env_eq(&e, &got);
	qenvelope_free(&got);
	buf_reset(&body);
	assert_int_equal(queue_shard_read_body(qs, id, &body), QUEUE_OK);
	assert_int_equal(body.len, 1000); /* body kept */
	queue_shard_close(qs);
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_entries(&r, "sched"), 2);
	raw_assert_sched(&r, 1700000500, id, 0);
	raw_assert_sched(&r, 1700009999, id, 1);
	raw_assert_sched(&r, 5, other.id, 1);
	assert_int_equal(raw_chunks(&r, id), 1);
	raw_close(&r, 0);

	/* update/delete of a missing message: NOTFOUND, txn still usable */
	qs = open_ok(dir, 2, MAP_SIZE);
	t = queue_txn_begin(qs, &err);
	assert_non_null(t);
	{
		struct qenvelope ghost;

		make_env(&ghost, id + 1000, 1, 7);
		assert_int_equal(
		    queue_txn_update(t, &ghost, 7), QUEUE_ERR_NOTFOUND);
		assert_int_equal(
		    queue_txn_delete(t, id + 1000, 7), QUEUE_ERR_NOTFOUND);
		qenvelope_free(&ghost);
	}
	/* delete */
	assert_int_equal(queue_txn_delete(t, id, 1700009999), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	assert_int_equal(queue_shard_count(qs), 1);
	assert_int_equal(
	    queue_shard_read_envelope(qs, id, &got), QUEUE_ERR_NOTFOUND);
	buf_reset(&body);
	assert_int_equal(
	    queue_shard_read_body(qs, id, &body), QUEUE_ERR_NOTFOUND);
	/* an update of the deleted message does not resurrect it */
	t = queue_txn_begin(qs, &err);
	assert_non_null(t);
	assert_int_equal(
	    queue_txn_update(t, &e, 1700009999), QUEUE_ERR_NOTFOUND);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	assert_int_equal(
	    queue_shard_read_envelope(qs, id, &got), QUEUE_ERR_NOTFOUND);
	queue_shard_close(qs);
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_entries(&r, "env"), 1);
	assert_int_equal(raw_entries(&r, "sched"), 1);
	assert_int_equal(raw_entries(&r, "body"), 0);
	raw_assert_sched(&r, 5, other.id, 1);
	raw_close(&r, 0);
	qenvelope_free(&e);
	qenvelope_free(&other);
	buf_free(&body);
	free(b);
}

static void
test_body_chunks(void **state)
{
	static const size_t sizes[] = {
	    0, 1, 65535, 65536, 65537, 131072, 200000, 1000003};
	static const size_t chunks[] = {0, 1, 1, 1, 2, 2, 4, 16};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	const char *dir = path_in("chunks");
	struct queue_shard *qs;
	qid_t ids[N];
	struct raw r;

	(void)state;
	qs = open_ok(dir, 0, MAP_SIZE);
	for (size_t i = 0; i < N; i++) {
		struct qenvelope e;
		unsigned char *b = make_body(sizes[i], (unsigned)i);

		ids[i] = queue_shard_new_id(qs);
		make_env(&e, ids[i], 1, 0);
		e.size = sizes[i];
		assert_int_equal(insert_one(qs, &e, b, sizes[i]), QUEUE_OK);
		qenvelope_free(&e);
		free(b);
	}
	/* read back, in reverse order, byte-exact and appended */
	for (size_t i = N; i-- > 0;) {
		struct buf out = {0};
		unsigned char *b = make_body(sizes[i], (unsigned)i);

		assert_int_equal(buf_append(&out, "HDR", 3), 0);
		assert_int_equal(
		    queue_shard_read_body(qs, ids[i], &out), QUEUE_OK);
		assert_int_equal(out.len, 3 + sizes[i]);
		assert_memory_equal(out.data, "HDR", 3);
		if (sizes[i] > 0)
			assert_memory_equal(out.data + 3, b, sizes[i]);
		buf_free(&out);
		free(b);
	}
	queue_shard_close(qs);
	raw_open(&r, dir, MDB_RDONLY);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(raw_chunks(&r, ids[i]), chunks[i]);
	raw_close(&r, 0);
}

struct scan_ctx {
	struct queue_shard *qs;
	size_t seen;
	qid_t last;
	int ascending;
	int saw_new, saw_deleted;
	qid_t new_id, deleted_id;
	size_t stop_at;
};

static int
scan_cb(void *arg, qid_t id, const struct qenvelope *env)
{
	struct scan_ctx *c = arg;

	assert_non_null(env);
	assert_true(env->id == id);
	if (c->seen > 0 && id <= c->last)
		c->ascending = 0;
	c->last = id;
	c->seen++;
	if (id == c->new_id)
		c->saw_new = 1;
	if (id == c->deleted_id)
		c->saw_deleted = 1;
	if (c->seen == 10 && c->new_id != 0) {
		/* While the scan's snapshot is open: add a message past the
		 * end and delete one far ahead. Only a scan that takes new
		 * snapshots (renews its read txn) sees both changes. */
		struct qenvelope e;
		struct queue_txn *t;
		int err;

		make_env(&e, c->new_id, 1, 0);
		t = queue_txn_begin(c->qs, &err);
		assert_non_null(t);
		assert_int_equal(queue_txn_insert(t, &e, "x", 1), QUEUE_OK);
		assert_int_equal(
		    queue_txn_delete(t, c->deleted_id, 0), QUEUE_OK);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		qenvelope_free(&e);
	}
	return c->stop_at != 0 && c->seen == c->stop_at;
}

static void
test_scan_renews(void **state)
{
	enum { N = 2500 };
	struct queue_shard *qs;
	struct scan_ctx c;
	qid_t ids[N];

	(void)state;
	qs = open_ok(path_in("scan"), 4, MAP_SIZE);
	for (int k = 0; k < N / 500; k++) {
		int err;
		struct queue_txn *t = queue_txn_begin(qs, &err);

		assert_non_null(t);
		for (int i = 0; i < 500; i++) {
			struct qenvelope e;

			ids[k * 500 + i] = queue_shard_new_id(qs);
			make_env(&e, ids[k * 500 + i], 1, 0);
			assert_int_equal(
			    queue_txn_insert(t, &e, "b", 1), QUEUE_OK);
			qenvelope_free(&e);
		}
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	}
	assert_int_equal(queue_shard_count(qs), N);

	memset(&c, 0, sizeof(c));
	c.qs = qs;
	c.ascending = 1;
	c.new_id = queue_shard_new_id(qs);
	c.deleted_id = ids[2300];
	assert_int_equal(queue_shard_scan(qs, scan_cb, &c), QUEUE_OK);
	assert_true(c.ascending);
	assert_int_equal(c.seen, N); /* -1 deleted, +1 new */
	assert_true(c.saw_new);
	assert_false(c.saw_deleted);
	assert_true(c.last == c.new_id);

	/* a plain scan sees everything; fn can stop it */
	memset(&c, 0, sizeof(c));
	c.ascending = 1;
	assert_int_equal(queue_shard_scan(qs, scan_cb, &c), QUEUE_OK);
	assert_int_equal(c.seen, N);
	memset(&c, 0, sizeof(c));
	c.ascending = 1;
	c.stop_at = 1500;
	assert_int_equal(queue_shard_scan(qs, scan_cb, &c), QUEUE_OK);
	assert_int_equal(c.seen, 1500);
	queue_shard_close(qs);
}

static void
test_map_full(void **state)
{
	const char *dir = path_in("full");
	struct queue_shard *qs;
	unsigned char *b = make_body(100000, 3);
	qid_t ids[65]; /* the last slot: the id that did not fit */
	int n = 0, rc = QUEUE_OK;
	struct buf out = {0};

	(void)state;
	qs = open_ok(dir, 0, 1u << 20); /* 1 MiB map */
	while (n < 64) {
		struct qenvelope e;

		ids[n] = queue_shard_new_id(qs);
		make_env(&e, ids[n], 1, 0);
		rc = insert_one(qs, &e, b, 100000);
		qenvelope_free(&e);
		if (rc != QUEUE_OK)
			break;
		n++;
	}
	assert_int_equal(rc, QUEUE_ERR_FULL);
	assert_true(n >= 2);
	/* earlier data intact, the failed one absent */
	for (int i = 0; i < n; i++) {
		buf_reset(&out);
		assert_int_equal(
		    queue_shard_read_body(qs, ids[i], &out), QUEUE_OK);
		assert_int_equal(out.len, 100000);
		assert_memory_equal(out.data, b, 100000);
	}
	{
		struct qenvelope got;

		assert_int_equal(queue_shard_read_envelope(qs, ids[n], &got),
		    QUEUE_ERR_NOTFOUND);
	}
	/* still usable: a small message fits, deleting frees room */
	{
		struct qenvelope e;
		int err;
		struct queue_txn *t;

		make_env(&e, queue_shard_new_id(qs), 1, 0);
		assert_int_equal(insert_one(qs, &e, "small", 5), QUEUE_OK);
		qenvelope_free(&e);
		t = queue_txn_begin(qs, &err);
		assert_non_null(t);
		assert_int_equal(queue_txn_delete(t, ids[0], 0), QUEUE_OK);
		assert_int_equal(queue_txn_delete(t, ids[1], 0), QUEUE_OK);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		/* LMDB reuses pages freed by txn N from txn N+2 on (the
		 * previous meta page must stay valid): one more small
		 * commit, then a big message fits again. */
		make_env(&e, queue_shard_new_id(qs), 1, 0);
		assert_int_equal(insert_one(qs, &e, "small", 5), QUEUE_OK);
		qenvelope_free(&e);
		make_env(&e, queue_shard_new_id(qs), 1, 0);
		assert_int_equal(insert_one(qs, &e, b, 100000), QUEUE_OK);
		qenvelope_free(&e);
	}
	assert_int_equal(queue_shard_count(qs), (size_t)n + 1); /* +2 -2 +1 */
	queue_shard_close(qs);
	/* and after a reopen */
	qs = open_ok(dir, 0, 1u << 20);
	assert_int_equal(queue_shard_count(qs), (size_t)n + 1);
	queue_shard_close(qs);
	buf_free(&out);
	free(b);
}

static void
test_injected_commit_failure(void **state)
{
	struct queue_shard *qs;
	struct qenvelope e, got;
	qid_t id;

	(void)state;
	qs = open_ok(path_in("inj"), 0, MAP_SIZE);
	queue_shard_inject_commit_failure(qs, 2);
	id = queue_shard_new_id(qs);
	make_env(&e, id, 1, 0);
	assert_int_equal(insert_one(qs, &e, "x", 1), QUEUE_ERR_FULL);
	assert_int_equal(insert_one(qs, &e, "x", 1), QUEUE_ERR_FULL);
	assert_int_equal(
	    queue_shard_read_envelope(qs, id, &got), QUEUE_ERR_NOTFOUND);
	assert_int_equal(insert_one(qs, &e, "x", 1), QUEUE_OK);
	assert_int_equal(queue_shard_read_envelope(qs, id, &got), QUEUE_OK);
	qenvelope_free(&got);
	qenvelope_free(&e);
	queue_shard_close(qs);
}

static int
corrupt_cb(void *arg, qid_t id, const struct qenvelope *env)
{
	int *nulls = arg;

	if (env == NULL) {
		/* garbage, and a record whose id disagrees with its key */
		assert_true(id == (*nulls == 0 ? 0x77 : 0x79));
		(*nulls)++;
	} else {
		assert_true(id == 0x78);
	}
	return 0;
}

static void
test_corrupt_record(void **state)
{
	const char *dir = path_in("corrupt");
	struct queue_shard *qs;
	struct qenvelope e, got;
	struct raw r;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v = {5, "RQ\x01zz"};
	struct buf out = {0};
	int nulls = 0;

	(void)state;
	qs = open_ok(dir, 0, MAP_SIZE);
	make_env(&e, 0x78, 1, 0);
	assert_int_equal(insert_one(qs, &e, "abc", 3), QUEUE_OK);
	qenvelope_free(&e);
	queue_shard_close(qs);
	/* garbage under id 0x77; a valid record of 0x78 under id 0x79; a
	 * body of 0x78 with a hole in the chunk numbers */
	raw_open(&r, dir, 0);
	put_be64(kb, 0x77);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "env"), &k, &v, 0), 0);
	put_be64(kb, 0x78);
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "env"), &k, &v), 0);
	put_be64(kb, 0x79);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "env"), &k, &v, 0), 0);
	{
		uint8_t bk[12] = {0};
		MDB_val bkv = {12, bk}, bv = {1, "z"};

		put_be64(bk, 0x78);
		bk[11] = 2; /* chunk 2 without chunk 1 */
		assert_int_equal(
		    mdb_put(r.txn, raw_dbi(&r, "body"), &bkv, &bv, 0), 0);
	}
	raw_close(&r, 1);

	qs = open_ok(dir, 0, MAP_SIZE);
	assert_int_equal(
	    queue_shard_read_envelope(qs, 0x77, &got), QUEUE_ERR_CORRUPT);
	assert_null(got.sender);
	assert_int_equal(queue_shard_read_envelope(qs, 0x79, &got),
	    QUEUE_ERR_CORRUPT); /* id inside disagrees with the key */
	assert_int_equal(
	    queue_shard_read_body(qs, 0x78, &out), QUEUE_ERR_CORRUPT);
	assert_int_equal(out.len, 0);
	assert_int_equal(queue_shard_read_envelope(qs, 0x78, &got), QUEUE_OK);
	qenvelope_free(&got);
	assert_int_equal(queue_shard_scan(qs, corrupt_cb, &nulls), QUEUE_OK);
	queue_shard_close(qs);
	assert_int_equal(nulls, 2);
	buf_free(&out);
}

static void
test_schema_version(void **state)
{
	const char *dir = path_in("ver");
	struct queue_shard *qs;
	struct raw r;
	uint8_t vb[4];
	MDB_val k = {7, "version"}, v = {4, vb};
	char err[256] = "";

	(void)state;
	qs = open_ok(dir, 0, MAP_SIZE);
	queue_shard_close(qs);
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v), 0);
	assert_int_equal(v.mv_size, 4);
	assert_memory_equal(v.mv_data, "\x00\x01\x00\x01", 4);
	raw_close(&r, 0);
	/* a newer minor version opens */
	raw_open(&r, dir, 0);
	memcpy(vb, "\x00\x01\x00\x07", 4);
	v.mv_data = vb;
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta"), &k, &v, 0), 0);
	raw_close(&r, 1);
	qs = open_ok(dir, 0, MAP_SIZE);
	queue_shard_close(qs);
	/* a newer major version is refused with a clear message */
	raw_open(&r, dir, 0);
	memcpy(vb, "\x00\x02\x00\x00", 4);
	assert_int_equal(mdb_put(r.txn, raw_dbi(&r, "meta"), &k, &v, 0), 0);
	raw_close(&r, 1);
	assert_null(queue_shard_open(dir, 0, MAP_SIZE, err, sizeof(err)));
	assert_non_null(strstr(err, "version 2.0"));
	assert_non_null(strstr(err, "newer"));
	/* ... without having bumped the generation */
	raw_open(&r, dir, MDB_RDONLY);
	k.mv_size = 10;
	k.mv_data = "generation";
	assert_int_equal(mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v), 0);
	assert_memory_equal(v.mv_data, "\x00\x00\x00\x02", 4);
	raw_close(&r, 0);
}

/* ---- the frozen version-1 fixture ---- */

#define FIX_BIG 150000

static unsigned char
fixture_byte(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 8) * 13 + 5) & 0xff);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out;

	if (in < 0)
		fail_msg("%s: %s (run the test from the repository root)", from,
		    strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

static int
fixture_scan_cb(void *arg, qid_t id, const struct qenvelope *env)
{
	qid_t *next = arg;

	assert_non_null(env);
	assert_true(id == *next);
	(*next)++;
	return 0;
}

static void
test_fixture_v1(void **state)
{
	static const char body1[] =
	    "From: <>\r\nSubject: bounce\r\n\r\nhello\r\n";
	static const char body2[] =
	    "Subject: three\r\n\r\nbody of message two\r\n";
	const qid_t id1 = 0x0000010300000001ULL, id2 = id1 + 1, id3 = id1 + 2;
	char dir[256];
	struct queue_shard *qs;
	struct qenvelope e;
	struct buf b = {0};
	struct raw r;
	qid_t next = id1;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", path_in("fixture"));
	assert_int_equal(mkdir(dir, 0700), 0);
	copy_file(FIXTURE, path_in("fixture/data.mdb"));
	qs = open_ok(dir, 3, MAP_SIZE);
	assert_int_equal(queue_shard_count(qs), 3);

	/* 1: null sender, DSN parameters */
	assert_int_equal(queue_shard_read_envelope(qs, id1, &e), QUEUE_OK);
	assert_true(e.id == id1);
	assert_string_equal(e.sender, "");
	assert_string_equal(e.envid, "ENV-0001+2Bx");
	assert_int_equal(e.ret, 2);
	assert_int_equal(e.body, 1);
	assert_int_equal(e.smtputf8, 0);
	assert_int_equal(e.held, 0);
	assert_true(e.received == 1700000000);
	assert_true(e.next_attempt == 1700000000);
	assert_int_equal(e.attempts, 0);
	assert_true(e.size == sizeof(body1) - 1);
	assert_string_equal(e.client_addr, "192.0.2.10");
	assert_string_equal(e.helo, "mx.example.net");
	assert_int_equal(e.nrcpt, 1);
	assert_string_equal(e.rcpts[0].addr, "postmaster@example.org");
	assert_string_equal(e.rcpts[0].orcpt, "rfc822;postmaster@example.org");
	assert_int_equal(e.rcpts[0].notify, 0x0c);
	assert_int_equal(e.rcpts[0].state, QRCPT_PENDING);
	assert_int_equal(e.rcpts[0].attempts, 0);
	assert_null(e.rcpts[0].last_error);
	qenvelope_free(&e);
	assert_int_equal(queue_shard_read_body(qs, id1, &b), QUEUE_OK);
	assert_int_equal(b.len, sizeof(body1) - 1);
	assert_memory_equal(b.data, body1, b.len);

	/* 2: three recipients in different states */
	assert_int_equal(queue_shard_read_envelope(qs, id2, &e), QUEUE_OK);
	assert_true(e.id == id2);
	assert_string_equal(e.sender, "alice@example.com");
	assert_null(e.envid);
	assert_int_equal(e.ret, 0);
	assert_int_equal(e.body, 0);
	assert_int_equal(e.smtputf8, 1);
	assert_int_equal(e.held, 1);
	assert_true(e.received == 1700000100);
	assert_true(e.next_attempt == 1700003700);
	assert_int_equal(e.attempts, 2);
	assert_true(e.size == sizeof(body2) - 1);
	assert_string_equal(e.client_addr, "2001:db8::25");
	assert_string_equal(e.helo, "client.example.com");
	assert_int_equal(e.nrcpt, 3);
	assert_string_equal(e.rcpts[0].addr, "bob@example.org");
	assert_null(e.rcpts[0].orcpt);
	assert_int_equal(e.rcpts[0].notify, 0);
	assert_int_equal(e.rcpts[0].state, QRCPT_DELIVERED);
	assert_int_equal(e.rcpts[0].attempts, 1);
	assert_null(e.rcpts[0].last_error);
	assert_string_equal(e.rcpts[1].addr, "carol@example.org");
	assert_string_equal(e.rcpts[1].orcpt, "rfc822;carol@example.org");
	assert_int_equal(e.rcpts[1].notify, 0x06);
	assert_int_equal(e.rcpts[1].state, QRCPT_FAILED);
	assert_int_equal(e.rcpts[1].attempts, 2);
	assert_string_equal(e.rcpts[1].last_error,
	    "550 5.1.1 <carol@example.org>: user unknown");
	assert_string_equal(e.rcpts[2].addr, "dave@example.net");
	assert_null(e.rcpts[2].orcpt);
	assert_int_equal(e.rcpts[2].notify, 0x01);
	assert_int_equal(e.rcpts[2].state, QRCPT_PENDING);
	assert_int_equal(e.rcpts[2].attempts, 2);
	assert_string_equal(e.rcpts[2].last_error, "421 4.7.0 try again later");
	qenvelope_free(&e);
	buf_reset(&b);
	assert_int_equal(queue_shard_read_body(qs, id2, &b), QUEUE_OK);
	assert_int_equal(b.len, sizeof(body2) - 1);
	assert_memory_equal(b.data, body2, b.len);

	/* 3: 150000-byte body in three chunks */
	assert_int_equal(queue_shard_read_envelope(qs, id3, &e), QUEUE_OK);
	assert_true(e.id == id3);
	assert_string_equal(e.sender, "big@example.com");
	assert_string_equal(e.envid, "big-1");
	assert_int_equal(e.ret, 1);
	assert_int_equal(e.body, 2);
	assert_int_equal(e.smtputf8, 0);
	assert_int_equal(e.held, 0);
	assert_true(e.received == 1700000200);
	assert_true(e.next_attempt == 0);
	assert_int_equal(e.attempts, 0);
	assert_true(e.size == FIX_BIG);
	assert_string_equal(e.client_addr, "198.51.100.7");
	assert_string_equal(e.helo, "big.example.com");
	assert_int_equal(e.nrcpt, 1);
	assert_string_equal(e.rcpts[0].addr, "x@example.org");
	assert_null(e.rcpts[0].orcpt);
	assert_int_equal(e.rcpts[0].notify, 0);
	assert_int_equal(e.rcpts[0].state, QRCPT_PENDING);
	assert_int_equal(e.rcpts[0].attempts, 0);
	assert_null(e.rcpts[0].last_error);
	qenvelope_free(&e);
	buf_reset(&b);
	assert_int_equal(queue_shard_read_body(qs, id3, &b), QUEUE_OK);
	assert_int_equal(b.len, FIX_BIG);
	for (size_t i = 0; i < FIX_BIG; i++)
		if (b.data[i] != fixture_byte(i))
			fail_msg("body byte %zu: %u", i, b.data[i]);

	assert_int_equal(
	    queue_shard_scan(qs, fixture_scan_cb, &next), QUEUE_OK);
	assert_true(next == id3 + 1);
	/* opening bumped the generation from 1 to 2 */
	assert_true(
	    queue_shard_new_id(qs) == ((qid_t)2 << 40 | (qid_t)3 << 32 | 1));
	queue_shard_close(qs);

	/* the raw schema */
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_entries(&r, "env"), 3);
	assert_int_equal(raw_entries(&r, "body"), 5);
	assert_int_equal(raw_entries(&r, "sched"), 3);
	assert_int_equal(raw_entries(&r, "meta"), 2);
	assert_int_equal(raw_chunks(&r, id1), 1);
	assert_int_equal(raw_chunks(&r, id2), 1);
	assert_int_equal(raw_chunks(&r, id3), 3);
	raw_assert_sched(&r, 1700000000, id1, 1);
	raw_assert_sched(&r, 1700003700, id2, 1);
	raw_assert_sched(&r, 0, id3, 1);
	{
		MDB_val k = {10, "generation"}, v;

		assert_int_equal(
		    mdb_get(r.txn, raw_dbi(&r, "meta"), &k, &v), 0);
		assert_int_equal(v.mv_size, 4);
		assert_memory_equal(v.mv_data, "\x00\x00\x00\x02", 4);
	}
	raw_close(&r, 0);
	buf_free(&b);
}

/* main - run the queue shard tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_creates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids_unique, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_id_sequence_wrap, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_insert_read_update_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_body_chunks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_renews, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_injected_commit_failure, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_corrupt_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_schema_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fixture_v1, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
