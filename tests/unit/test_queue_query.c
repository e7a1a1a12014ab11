/*
 * test_queue_query.c - unit tests of the shard's secondary indexes
 * (storage/queue_index.c, maintained by storage/queue_shard.c) and of the
 * queries over them (storage/queue_query.c).
 *
 * A shard with known content is mirrored by an in-memory model; after
 * every change the raw index DBIs are compared entry by entry with the
 * entries the model implies (queries re-check envelopes, so only a raw
 * comparison catches a stale entry), and every filter combination, with
 * and without pagination, is compared with a brute-force evaluation of
 * the model. Also: updates moving messages between states and domains,
 * deletes, read-transaction renewal during long walks with concurrent
 * changes, the summary and counts, migration of the frozen index-less
 * fixture (tests/fixtures/shard-v1) and the rebuild of stale indexes,
 * corrupt records, long addresses, bad arguments.
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue_index.h"
#include "queue_query.h"
#include "queue_record.h"
#include "queue_shard.h"

#define MAP_SIZE (256u << 20)
#define FIXTURE  "tests/fixtures/shard-v1/data.mdb"
#define MAXM     64 /* messages in the model */
#define MAXR     4  /* recipients per message */

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
	strcpy(tmpdir, "/tmp/ringmx-qquery-XXXXXX");
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
open_ok(const char *dir, unsigned no)
{
	char err[256] = "";
	struct queue_shard *qs =
	    queue_shard_open(dir, no, MAP_SIZE, err, sizeof(err));

	if (qs == NULL)
		fail_msg("open %s: %s", dir, err);
	return qs;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* A heap envelope (qenvelope_free) with nr recipients addrs/states. */
static void
mk_env(struct qenvelope *e, qid_t id, const char *sender, int64_t received,
    int held, uint32_t attempts, unsigned nr, const char *const *addrs,
    const uint8_t *states)
{
	struct qrcpt r[MAXR];
	struct qenvelope t;

	assert_true(nr <= MAXR);
	memset(&t, 0, sizeof(t));
	memset(r, 0, sizeof(r));
	t.id = id;
	t.sender = (char *)sender;
	t.received = received;
	t.next_attempt = received + 60;
	t.held = (uint8_t)held;
	t.attempts = attempts;
	t.client_addr = "192.0.2.1";
	t.helo = "client.example";
	t.nrcpt = nr;
	t.rcpts = nr > 0 ? r : NULL;
	for (unsigned i = 0; i < nr; i++) {
		r[i].addr = (char *)addrs[i];
		r[i].state = states != NULL ? states[i] : QRCPT_PENDING;
	}
	assert_int_equal(qenvelope_copy(e, &t), 0);
}

/* ---- the model ---- */

struct model {
	struct queue_shard *qs;
	struct qenvelope env[MAXM];
	bool live[MAXM];
	int n;
};

static void
model_free(struct model *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->live[i])
			qenvelope_free(&m->env[i]);
	memset(m->live, 0, sizeof(m->live));
	m->n = 0;
}

static int
model_find(const struct model *m, qid_t id)
{
	for (int i = 0; i < m->n; i++)
		if (m->live[i] && m->env[i].id == id)
			return i;
	return -1;
}

/* Apply one insert/update/delete to shard and model (one txn). */
static void
m_insert(struct model *m, struct qenvelope *e)
{
	int err;
	struct queue_txn *t = queue_txn_begin(m->qs, &err);

	assert_non_null(t);
	assert_int_equal(queue_txn_insert(t, e, "body\r\n", 6), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	assert_true(m->n < MAXM);
	m->env[m->n] = *e; /* the model owns it now */
	m->live[m->n++] = true;
}

static void
m_update(struct model *m, struct qenvelope *e)
{
	int i = model_find(m, e->id), err;
	struct queue_txn *t = queue_txn_begin(m->qs, &err);

	assert_true(i >= 0);
	assert_non_null(t);
	assert_int_equal(
	    queue_txn_update(t, e, m->env[i].next_attempt), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	qenvelope_free(&m->env[i]);
	m->env[i] = *e;
}

static void
m_delete(struct model *m, qid_t id)
{
	int i = model_find(m, id), err;
	struct queue_txn *t = queue_txn_begin(m->qs, &err);

	assert_true(i >= 0);
	assert_non_null(t);
	assert_int_equal(
	    queue_txn_delete(t, id, m->env[i].next_attempt), QUEUE_OK);
	assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	qenvelope_free(&m->env[i]);
	m->live[i] = false;
}

/* ---- raw index comparison ---- */

/* An index entry as text: "<which>:<hex key>:<qid hex>". */
static char *
entry_text(int which, const uint8_t *k, size_t klen, qid_t id)
{
	size_t n = 2 + 2 * klen + 1 + 16 + 1;
	char *s = malloc(n), *p;

	assert_non_null(s);
	p = s + sprintf(s, "%d:", which);
	for (size_t i = 0; i < klen; i++)
		p += sprintf(p, "%02x", k[i]);
	sprintf(p, ":%016llx", (unsigned long long)id);
	return s;
}

struct strs {
	char **s;
	size_t n, cap;
};

static void
strs_add(struct strs *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->s = realloc(l->s, l->cap * sizeof(*l->s));
		assert_non_null(l->s);
	}
	l->s[l->n++] = s;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates. */
static void
strs_finish(struct strs *l)
{
	size_t j = 0;

	if (l->n > 0)
		qsort(l->s, l->n, sizeof(*l->s), str_cmp);
	for (size_t i = 0; i < l->n; i++) {
		if (j > 0 && strcmp(l->s[j - 1], l->s[i]) == 0)
			free(l->s[i]);
		else
			l->s[j++] = l->s[i];
	}
	l->n = j;
}

static void
strs_free(struct strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->s[i]);
	free(l->s);
	memset(l, 0, sizeof(*l));
}

/* The key the index should hold for string s (independent of the code
 * under test: lower-case ASCII, "" -> "\0", 400 bytes at most). */
static size_t
want_key(const char *s, uint8_t *out)
{
	size_t n = 0;

	for (; n < 400 && s[n] != '\0'; n++)
		out[n] = (s[n] >= 'A' && s[n] <= 'Z') ? (uint8_t)(s[n] + 32)
						      : (uint8_t)s[n];
	if (n == 0)
		out[n++] = 0;
	return n;
}

static char
want_state(const struct qenvelope *e)
{
	return e->held ? 'H' : e->attempts > 0 ? 'D' : 'A';
}

static void
model_entries(const struct model *m, struct strs *l)
{
	uint8_t k[512];
	size_t n;

	for (int i = 0; i < m->n; i++) {
		const struct qenvelope *e = &m->env[i];
		char st;

		if (!m->live[i])
			continue;
		n = want_key(e->sender, k);
		strs_add(l, entry_text(QIDX_SENDER, k, n, e->id));
		st = want_state(e);
		strs_add(l, entry_text(QIDX_STATE, (uint8_t *)&st, 1, e->id));
		put_be64(k, (uint64_t)e->received);
		put_be64(k + 8, e->id);
		strs_add(l, entry_text(QIDX_TIME, k, 16, e->id));
		for (uint32_t r = 0; r < e->nrcpt; r++) {
			const char *a = e->rcpts[r].addr, *at = strrchr(a, '@');

			if (e->rcpts[r].state != QRCPT_PENDING)
				continue;
			n = want_key(a, k);
			strs_add(l, entry_text(QIDX_RCPT, k, n, e->id));
			n = want_key(at != NULL ? at + 1 : "", k);
			strs_add(l, entry_text(QIDX_DOMAIN, k, n, e->id));
		}
	}
	strs_finish(l);
}

static void
raw_entries(struct queue_shard *qs, struct strs *l)
{
	const struct qidx_dbis *d = queue_shard_index_dbis(qs);
	MDB_txn *txn;

	assert_int_equal(
	    mdb_txn_begin(queue_shard_lmdb_env(qs), NULL, MDB_RDONLY, &txn), 0);
	for (int w = 0; w < QIDX_COUNT; w++) {
		MDB_cursor *c;
		MDB_val k, v;
		int rc;

		assert_int_equal(mdb_cursor_open(txn, d->ix[w], &c), 0);
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			assert_int_equal(v.mv_size, 8);
			strs_add(l, entry_text(w, k.mv_data, k.mv_size,
					get_be64(v.mv_data)));
		}
		assert_int_equal(rc, MDB_NOTFOUND);
		mdb_cursor_close(c);
	}
	mdb_txn_abort(txn);
	if (l->n > 0)
		qsort(l->s, l->n, sizeof(*l->s), str_cmp);
}

static void
check_raw(const struct model *m)
{
	struct strs want = {0}, got = {0};

	model_entries(m, &want);
	raw_entries(m->qs, &got);
	for (size_t i = 0; i < want.n && i < got.n; i++)
		if (strcmp(want.s[i], got.s[i]) != 0)
			fail_msg("index entry %zu: want %s got %s", i,
			    want.s[i], got.s[i]);
	assert_int_equal(got.n, want.n);
	strs_free(&want);
	strs_free(&got);
}

/* ---- brute-force evaluation of a filter on the model ---- */

static int
ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static bool
has_pending(const struct qenvelope *e, const char *want, bool domain)
{
	for (uint32_t r = 0; r < e->nrcpt; r++) {
		const char *a = e->rcpts[r].addr, *at = strrchr(a, '@');

		if (e->rcpts[r].state != QRCPT_PENDING)
			continue;
		if (ieq(domain ? (at != NULL ? at + 1 : "") : a, want))
			return true;
	}
	return false;
}

static bool
model_match(const struct qenvelope *e, const struct queue_filter *f)
{
	static const char st[3] = {'A', 'D', 'H'};

	if (f->sender != NULL && !ieq(e->sender, f->sender))
		return false;
	if (f->rcpt != NULL && !has_pending(e, f->rcpt, false))
		return false;
	if (f->domain != NULL && !has_pending(e, f->domain, true))
		return false;
	if (f->state >= 0 && want_state(e) != st[f->state])
		return false;
	if (f->older_than > 0 && e->received >= f->older_than)
		return false;
	return true;
}

static bool
time_walk(const struct queue_filter *f)
{
	return f->sender == NULL && f->rcpt == NULL && f->domain == NULL &&
	       f->state < 0 && f->older_than > 0;
}

/* Expected ids in walk order. */
static size_t
model_query(const struct model *m, const struct queue_filter *f, qid_t *out)
{
	size_t n = 0;

	for (int i = 0; i < m->n; i++)
		if (m->live[i] && model_match(&m->env[i], f))
			out[n++] = m->env[i].id;
	/* insertion sort: qid order, or (received, qid) for time walks */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0; j--) {
			const struct qenvelope *a =
			    &m->env[model_find(m, out[j - 1])];
			const struct qenvelope *b =
			    &m->env[model_find(m, out[j])];
			bool swap = time_walk(f) && a->received != b->received
					? a->received > b->received
					: a->id > b->id;
			qid_t tmp;

			if (!swap)
				break;
			tmp = out[j];
			out[j] = out[j - 1];
			out[j - 1] = tmp;
		}
	return n;
}

struct collect {
	qid_t ids[4096];
	size_t n;
	size_t stop_at; /* return 1 after this many (0: never) */
};

static int
collect_cb(void *arg, const struct qenvelope *env)
{
	struct collect *c = arg;

	assert_non_null(env);
	assert_true(c->n < 4096);
	c->ids[c->n++] = env->id;
	return c->stop_at != 0 && c->n >= c->stop_at;
}

/* Every filter combination: whole listing and pages of 3. */
static void
check_queries(const struct model *m)
{
	static const char *senders[] = {
	    NULL, "alice@example.com", "", "BOB@example.net", "nobody@x"};
	static const char *rcpts[] = {
	    NULL, "user4@dom0.test", "x@DOM0.test", "done@delivered.test"};
	static const char *domains[] = {
	    NULL, "dom0.test", "DOM1.test", "delivered.test", "none.test"};
	static const int states[] = {
	    -1, QSTATE_ACTIVE, QSTATE_DEFERRED, QSTATE_HELD};
	static const int64_t times[] = {0, 1000, 1105, 5000};
	static qid_t want[MAXM];
	static struct collect got, page;

	for (size_t a = 0; a < 5; a++)
		for (size_t b = 0; b < 4; b++)
			for (size_t c = 0; c < 5; c++)
				for (size_t d = 0; d < 4; d++)
					for (size_t e = 0; e < 4; e++) {
						struct queue_filter f = {
						    senders[a], rcpts[b],
						    domains[c], states[d],
						    times[e]};
						size_t n =
						    model_query(m, &f, want);
						qid_t after = 0;
						int rc;

						got.n = 0;
						got.stop_at = 0;
						rc = queue_query(m->qs, &f, 0,
						    0, collect_cb, &got);
						assert_int_equal(rc, (int)n);
						assert_int_equal(got.n, n);
						assert_memory_equal(got.ids,
						    want, n * sizeof(qid_t));
						/* pages of 3 */
						got.n = 0;
						for (;;) {
							page.n = 0;
							rc = queue_query(m->qs,
							    &f, after, 3,
							    collect_cb, &page);
							assert_true(
							    rc >= 0 && rc <= 3);
							assert_int_equal(
							    page.n, (size_t)rc);
							memcpy(got.ids + got.n,
							    page.ids,
							    page.n *
								sizeof(qid_t));
							got.n += page.n;
							if (rc < 3)
								break;
							after = page.ids[2];
						}
						assert_int_equal(got.n, n);
						assert_memory_equal(got.ids,
						    want, n * sizeof(qid_t));
					}
}

static void
check_counts(const struct model *m)
{
	unsigned a, d, h, wa = 0, wd = 0, wh = 0;

	for (int i = 0; i < m->n; i++) {
		if (!m->live[i])
			continue;
		switch (want_state(&m->env[i])) {
		case 'A':
			wa++;
			break;
		case 'D':
			wd++;
			break;
		default:
			wh++;
		}
	}
	assert_int_equal(queue_count(m->qs, &a, &d, &h), QUEUE_OK);
	assert_int_equal(a, wa);
	assert_int_equal(d, wd);
	assert_int_equal(h, wh);
	assert_int_equal(queue_count(m->qs, NULL, &d, NULL), QUEUE_OK);
	assert_int_equal(d, wd);
}

/* Summary lines "domain a d h", in callback order. */
struct sumlines {
	char line[256][128];
	size_t n;
	size_t stop_at;
};

static int
sum_cb(void *arg, const char *domain, unsigned a, unsigned d, unsigned h)
{
	struct sumlines *s = arg;

	assert_true(s->n < 256);
	snprintf(s->line[s->n++], 128, "%s %u %u %u", domain, a, d, h);
	return s->stop_at != 0 && s->n >= s->stop_at;
}

static void
check_summary(const struct model *m)
{
	static struct sumlines got;
	static const char *doms[] = {"", "delivered.test", "dom0.test",
	    "dom1.test", "dom2.test", "dom3.test", "long.test", "moved.test"};
	char want[16][128];
	size_t nw = 0;

	/* the domains the tests use, in byte order */
	for (size_t k = 0; k < sizeof(doms) / sizeof(doms[0]); k++) {
		unsigned c[3] = {0, 0, 0};

		for (int i = 0; i < m->n; i++) {
			char st;

			if (!m->live[i] || !has_pending(&m->env[i], doms[k], 1))
				continue;
			st = want_state(&m->env[i]);
			c[st == 'A' ? 0 : st == 'D' ? 1 : 2]++;
		}
		if (c[0] + c[1] + c[2] > 0)
			snprintf(want[nw++], 128, "%s %u %u %u", doms[k], c[0],
			    c[1], c[2]);
	}
	got.n = 0;
	got.stop_at = 0;
	assert_int_equal(queue_summary(m->qs, sum_cb, &got), QUEUE_OK);
	assert_int_equal(got.n, nw);
	for (size_t i = 0; i < nw; i++)
		assert_string_equal(got.line[i], want[i]);
	if (nw > 1) { /* the callback stops it */
		got.n = 0;
		got.stop_at = 1;
		assert_int_equal(queue_summary(m->qs, sum_cb, &got), QUEUE_OK);
		assert_int_equal(got.n, 1);
	}
}

static void
check_all(const struct model *m)
{
	check_raw(m);
	check_queries(m);
	check_counts(m);
	check_summary(m);
}

/* The known content: 30 messages. */
static void
fill_model(struct model *m)
{
	static const char *senders[] = {
	    "Alice@Example.com", "", "bob@example.net"};
	char a0[64], a1[64];

	for (int i = 0; i < 30; i++) {
		const char *addrs[3];
		uint8_t st[3] = {QRCPT_PENDING, QRCPT_PENDING, QRCPT_DELIVERED};
		struct qenvelope e;
		unsigned nr = 1;

		snprintf(a0, sizeof(a0), "User%d@dom%d.test", i, i % 4);
		snprintf(a1, sizeof(a1), "x@Dom0.TEST");
		addrs[0] = a0;
		if (i % 5 == 0)
			addrs[nr++] = a1;
		if (i % 2 == 0) {
			st[nr] = QRCPT_DELIVERED;
			addrs[nr++] = "done@delivered.test";
		}
		mk_env(&e, queue_shard_new_id(m->qs), senders[i % 3],
		    1000 + ((i * 7) % 30) * 10, i % 7 == 0, i % 3 == 1 ? 2 : 0,
		    nr, addrs, st);
		m_insert(m, &e);
	}
}

/* ---- tests ---- */

static void
test_filters(void **state)
{
	struct model m = {0};

	(void)state;
	m.qs = open_ok(path_in("f"), 1);
	assert_int_equal(queue_shard_index_rebuilt(m.qs, NULL), 0);
	check_all(&m); /* empty */
	fill_model(&m);
	check_all(&m);
	{
		/* the callback stops the walk; limit 1 */
		struct collect c = {.stop_at = 2};
		struct queue_filter f = {NULL, NULL, "dom0.test", -1, 0};

		assert_int_equal(
		    queue_query(m.qs, &f, 0, 0, collect_cb, &c), 2);
		c.n = 0;
		c.stop_at = 0;
		assert_int_equal(
		    queue_query(m.qs, &f, 0, 1, collect_cb, &c), 1);
		assert_int_equal(queue_query(m.qs, NULL, 0, 0, collect_cb,
				     &(struct collect){0}),
		    30);
		/* after the largest id: nothing */
		assert_int_equal(
		    queue_query(m.qs, &f, UINT64_MAX, 0, collect_cb, &c), 0);
	}
	model_free(&m);
	queue_shard_close(m.qs);
}

static void
test_updates_deletes(void **state)
{
	struct model m = {0};
	struct qenvelope e;
	qid_t gone;
	int i;

	(void)state;
	m.qs = open_ok(path_in("u"), 2);
	fill_model(&m);

	/* active -> deferred -> held -> active again */
	i = 1; /* attempts 2: deferred */
	assert_int_equal(qenvelope_copy(&e, &m.env[3]), 0); /* active */
	e.attempts = 1;
	e.next_attempt += 300;
	m_update(&m, &e);
	check_all(&m);
	assert_int_equal(qenvelope_copy(&e, &m.env[3]), 0);
	e.held = 1;
	m_update(&m, &e);
	check_all(&m);
	assert_int_equal(qenvelope_copy(&e, &m.env[3]), 0);
	e.held = 0;
	e.attempts = 0;
	m_update(&m, &e);
	check_all(&m);

	/* a recipient delivered: leaves the rcpt and domain indexes */
	assert_int_equal(qenvelope_copy(&e, &m.env[5]), 0); /* 2 pending */
	e.rcpts[0].state = QRCPT_DELIVERED;
	e.attempts = 1;
	m_update(&m, &e);
	check_all(&m);
	/* failed too */
	assert_int_equal(qenvelope_copy(&e, &m.env[5]), 0);
	e.rcpts[1].state = QRCPT_FAILED;
	m_update(&m, &e);
	check_all(&m);

	/* a recipient rewritten into another domain (and sender) */
	assert_int_equal(qenvelope_copy(&e, &m.env[i]), 0);
	free(e.rcpts[0].addr);
	e.rcpts[0].addr = strdup("Moved@MOVED.test");
	assert_non_null(e.rcpts[0].addr);
	free(e.sender);
	e.sender = strdup("");
	assert_non_null(e.sender);
	m_update(&m, &e);
	check_all(&m);
	{
		struct collect c = {0};
		struct queue_filter f = {NULL, NULL, "moved.test", -1, 0};

		assert_int_equal(
		    queue_query(m.qs, &f, 0, 0, collect_cb, &c), 1);
		assert_true(c.ids[0] == m.env[i].id);
	}
	/* an update that changes nothing indexed */
	assert_int_equal(qenvelope_copy(&e, &m.env[7]), 0);
	e.next_attempt += 1000;
	m_update(&m, &e);
	check_all(&m);

	/* deletes, including the only message of a domain */
	gone = m.env[0].id;
	m_delete(&m, m.env[i].id);
	check_all(&m);
	m_delete(&m, gone);
	m_delete(&m, m.env[29].id);
	check_all(&m);
	/* update and delete of a missing message change nothing */
	{
		int err;
		struct queue_txn *t = queue_txn_begin(m.qs, &err);

		mk_env(&e, gone, "z@z", 1, 0, 0, 0, NULL, NULL);
		assert_int_equal(
		    queue_txn_update(t, &e, 0), QUEUE_ERR_NOTFOUND);
		assert_int_equal(
		    queue_txn_delete(t, gone, 0), QUEUE_ERR_NOTFOUND);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		qenvelope_free(&e);
	}
	check_all(&m);
	/* an insert with a reused id fails and adds no entries */
	{
		int err;
		struct queue_txn *t = queue_txn_begin(m.qs, &err);
		const char *addr = "other@other.test";

		mk_env(&e, m.env[2].id, "z@z", 1, 0, 0, 1, &addr, NULL);
		assert_int_equal(queue_txn_insert(t, &e, "b", 1), QUEUE_ERR_IO);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		qenvelope_free(&e);
	}
	check_all(&m);
	/* an aborted transaction leaves no entries */
	{
		int err;
		struct queue_txn *t = queue_txn_begin(m.qs, &err);
		const char *addr = "gone@gone.test";

		mk_env(&e, queue_shard_new_id(m.qs), "z@z", 1, 0, 0, 1, &addr,
		    NULL);
		assert_int_equal(queue_txn_insert(t, &e, "b", 1), QUEUE_OK);
		queue_txn_abort(t);
		qenvelope_free(&e);
	}
	check_all(&m);
	/* survives a reopen without a rebuild */
	queue_shard_close(m.qs);
	m.qs = open_ok(path_in("u"), 2);
	assert_int_equal(queue_shard_index_rebuilt(m.qs, NULL), 0);
	check_all(&m);
	model_free(&m);
	queue_shard_close(m.qs);
}

/* Walks longer than one read snapshot, with changes in between. */
struct renew_ctx {
	struct queue_shard *qs;
	qid_t last, deleted, inserted;
	size_t seen;
	bool ascending, saw_deleted, saw_inserted;
};

static int
renew_cb(void *arg, const struct qenvelope *env)
{
	struct renew_ctx *c = arg;

	if (c->seen > 0 && env->id <= c->last)
		c->ascending = false;
	c->last = env->id;
	if (env->id == c->deleted)
		c->saw_deleted = true;
	if (env->id == c->inserted)
		c->saw_inserted = true;
	if (++c->seen == 100 && c->deleted != 0) {
		/* behind the walk's back, committed before the renewal at
		 * 2000 entries */
		int err;
		struct queue_txn *t = queue_txn_begin(c->qs, &err);
		struct qenvelope e;
		const char *addr = "late@bulk.test";

		assert_non_null(t);
		assert_int_equal(
		    queue_txn_delete(t, c->deleted, 1060), QUEUE_OK);
		c->inserted = queue_shard_new_id(c->qs);
		mk_env(
		    &e, c->inserted, "s@bulk.test", 1000, 0, 0, 1, &addr, NULL);
		assert_int_equal(queue_txn_insert(t, &e, "b", 1), QUEUE_OK);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		qenvelope_free(&e);
	}
	return 0;
}

static int
count_sum_cb(void *arg, const char *domain, unsigned a, unsigned d, unsigned h)
{
	unsigned *n = arg;

	assert_string_equal(domain, "bulk.test");
	*n = a + d + h;
	return 0;
}

static void
test_renewal(void **state)
{
	enum { N = 5000 };
	static qid_t ids[N];
	struct queue_shard *qs;
	struct renew_ctx c;
	unsigned total = 0, a, d, h;

	(void)state;
	qs = open_ok(path_in("r"), 3);
	for (int k = 0; k < N / 1000; k++) {
		int err;
		struct queue_txn *t = queue_txn_begin(qs, &err);

		for (int i = 0; i < 1000; i++) {
			struct qenvelope e;
			char addr[64];
			const char *ap = addr;

			snprintf(addr, sizeof(addr), "u%d@bulk.test", i % 10);
			ids[k * 1000 + i] = queue_shard_new_id(qs);
			mk_env(&e, ids[k * 1000 + i], "s@bulk.test", 1000,
			    i % 2, 0, 1, &ap, NULL);
			assert_int_equal(
			    queue_txn_insert(t, &e, "b", 1), QUEUE_OK);
			qenvelope_free(&e);
		}
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
	}
	/* each index kind, longer than a snapshot */
	{
		struct queue_filter fs[] = {
		    {NULL, NULL, "bulk.test", -1, 0},
		    {"s@bulk.test", NULL, NULL, -1, 0},
		    {NULL, NULL, NULL, -1, 0},
		};

		for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
			memset(&c, 0, sizeof(c));
			c.ascending = true;
			assert_int_equal(
			    queue_query(qs, &fs[i], 0, 0, renew_cb, &c), N);
			assert_true(c.ascending);
			assert_int_equal(c.seen, N);
		}
	}
	{ /* time walk: all received 1000, so qid order */
		struct queue_filter f = {NULL, NULL, NULL, -1, 1001};

		memset(&c, 0, sizeof(c));
		c.ascending = true;
		assert_int_equal(queue_query(qs, &f, 0, 0, renew_cb, &c), N);
		assert_true(c.ascending);
	}
	{ /* state walk: 2500 held */
		struct queue_filter f = {NULL, NULL, NULL, QSTATE_HELD, 0};

		memset(&c, 0, sizeof(c));
		c.ascending = true;
		assert_int_equal(
		    queue_query(qs, &f, 0, 0, renew_cb, &c), N / 2);
		assert_true(c.ascending);
	}
	assert_int_equal(queue_summary(qs, count_sum_cb, &total), QUEUE_OK);
	assert_int_equal(total, N);

	/* a change during the walk: the deletion after the renewal is not
	 * seen, the new (higher) id is */
	{
		struct queue_filter f = {NULL, NULL, "BULK.test", -1, 0};

		memset(&c, 0, sizeof(c));
		c.qs = qs;
		c.ascending = true;
		c.deleted = ids[3001]; /* odd: held */
		assert_int_equal(queue_query(qs, &f, 0, 0, renew_cb, &c), N);
		assert_true(c.ascending);
		assert_false(c.saw_deleted);
		assert_true(c.saw_inserted);
	}
	assert_int_equal(queue_count(qs, &a, &d, &h), QUEUE_OK);
	assert_int_equal(a + d + h, N);
	assert_int_equal(h, N / 2 - 1);
	queue_shard_close(qs);
}

/* ---- the frozen fixture and rebuilds ---- */

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

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static void
raw_open(struct raw *r, const char *dir, unsigned txnflags)
{
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
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

static void
raw_close(struct raw *r, int commit)
{
	if (commit)
		assert_int_equal(mdb_txn_commit(r->txn), 0);
	else
		mdb_txn_abort(r->txn);
	mdb_env_close(r->env);
}

static uint32_t
raw_u32(struct raw *r, const char *db, const char *key)
{
	MDB_val k = {strlen(key), (void *)key}, v;

	assert_int_equal(mdb_get(r->txn, raw_dbi(r, db), &k, &v), 0);
	assert_int_equal(v.mv_size, 4);
	return (uint32_t)((const uint8_t *)v.mv_data)[0] << 24 |
	       (uint32_t)((const uint8_t *)v.mv_data)[1] << 16 |
	       (uint32_t)((const uint8_t *)v.mv_data)[2] << 8 |
	       ((const uint8_t *)v.mv_data)[3];
}

static void
raw_put_u32(struct raw *r, const char *db, const char *key, uint32_t val)
{
	uint8_t b[4] = {(uint8_t)(val >> 24), (uint8_t)(val >> 16),
	    (uint8_t)(val >> 8), (uint8_t)val};
	MDB_val k = {strlen(key), (void *)key}, v = {4, b};

	assert_int_equal(mdb_put(r->txn, raw_dbi(r, db), &k, &v, 0), 0);
}

static void
test_fixture_migration(void **state)
{
	const qid_t id1 = 0x0000010300000001ULL, id2 = id1 + 1, id3 = id1 + 2;
	char dir[256];
	struct queue_shard *qs;
	struct collect c = {0};
	struct queue_filter f = {NULL, NULL, "example.org", -1, 0};
	unsigned a, d, h;
	size_t corrupt = 99;
	struct raw r;

	(void)state;
	snprintf(dir, sizeof(dir), "%s", path_in("fixture"));
	assert_int_equal(mkdir(dir, 0700), 0);
	copy_file(FIXTURE, path_in("fixture/data.mdb"));
	/* the frozen shard: version 1.0, no index DBIs */
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_u32(&r, "meta", "version"), 0x10000);
	{
		MDB_dbi x;

		assert_int_equal(
		    mdb_dbi_open(r.txn, "ix_state", 0, &x), MDB_NOTFOUND);
	}
	raw_close(&r, 0);

	qs = open_ok(dir, 3);
	assert_int_equal(queue_shard_index_rebuilt(qs, &corrupt), 3);
	assert_int_equal(corrupt, 0);
	/* 1: postmaster@example.org; 2: bob delivered, carol failed, dave
	 * pending at example.net, held; 3: x@example.org */
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 2);
	assert_true(c.ids[0] == id1 && c.ids[1] == id3);
	c.n = 0;
	f.domain = "example.net";
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 1);
	assert_true(c.ids[0] == id2);
	c.n = 0;
	f.domain = NULL;
	f.sender = "";
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 1);
	assert_true(c.ids[0] == id1);
	c.n = 0;
	f.sender = NULL;
	f.rcpt = "bob@example.org"; /* delivered: not listed */
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 0);
	f.rcpt = NULL;
	f.older_than = 1700000150;
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 2);
	assert_true(c.ids[0] == id1 && c.ids[1] == id2);
	assert_int_equal(queue_count(qs, &a, &d, &h), QUEUE_OK);
	assert_int_equal(a, 2);
	assert_int_equal(d, 0);
	assert_int_equal(h, 1);
	queue_shard_close(qs);

	/* migrated: version 1.1, the stamp is the generation */
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_u32(&r, "meta", "version"), 0x10001);
	assert_int_equal(raw_u32(&r, "meta", "generation"), 2);
	assert_int_equal(raw_u32(&r, "ix_meta", "generation"), 2);
	raw_close(&r, 0);
	/* once only */
	qs = open_ok(dir, 3);
	assert_int_equal(queue_shard_index_rebuilt(qs, NULL), 0);
	queue_shard_close(qs);

	/* a build without indexes opened it meanwhile (bumped the
	 * generation, wrote without index entries): rebuilt */
	raw_open(&r, dir, 0);
	raw_put_u32(&r, "meta", "generation", 4);
	assert_int_equal(mdb_drop(r.txn, raw_dbi(&r, "ix_domain"), 0), 0);
	raw_close(&r, 1);
	qs = open_ok(dir, 3);
	assert_int_equal(queue_shard_index_rebuilt(qs, NULL), 3);
	c.n = 0;
	f.older_than = 0;
	f.domain = "EXAMPLE.org";
	assert_int_equal(queue_query(qs, &f, 0, 0, collect_cb, &c), 2);
	queue_shard_close(qs);
	raw_open(&r, dir, MDB_RDONLY);
	assert_int_equal(raw_u32(&r, "meta", "version"), 0x10001);
	assert_int_equal(raw_u32(&r, "ix_meta", "generation"), 5);
	raw_close(&r, 0);
}

/* Corrupt records, long addresses, bad arguments. */
static void
test_corrupt_and_edges(void **state)
{
	struct model m = {0};
	char long_a[600], long_b[600];
	const char *addrs[2];
	struct qenvelope e;
	struct collect c = {0};
	struct queue_filter f = {NULL, NULL, NULL, -1, 0};
	qid_t bad_id;
	struct raw r;

	(void)state;
	m.qs = open_ok(path_in("c"), 4);
	fill_model(&m);

	/* two addresses alike in their first 400 bytes */
	memset(long_a, 'a', 550);
	strcpy(long_a + 550, "@long.test");
	memcpy(long_b, long_a, sizeof(long_a));
	long_b[500] = 'b';
	addrs[0] = long_a;
	mk_env(&e, queue_shard_new_id(m.qs), long_b, 999, 0, 0, 1, addrs, NULL);
	m_insert(&m, &e);
	addrs[0] = long_b;
	mk_env(&e, queue_shard_new_id(m.qs), long_a, 999, 0, 0, 1, addrs, NULL);
	m_insert(&m, &e);
	check_all(&m);
	f.rcpt = long_b;
	assert_int_equal(queue_query(m.qs, &f, 0, 0, collect_cb, &c), 1);
	assert_true(c.ids[0] == m.env[m.n - 1].id);
	c.n = 0;
	f.rcpt = NULL;
	f.sender = long_b;
	assert_int_equal(queue_query(m.qs, &f, 0, 0, collect_cb, &c), 1);
	assert_true(c.ids[0] == m.env[m.n - 2].id);

	/* bad arguments */
	f.sender = NULL;
	f.state = 3;
	assert_int_equal(
	    queue_query(m.qs, &f, 0, 0, collect_cb, &c), QUEUE_ERR_INVALID);
	f.state = -1;
	assert_int_equal(
	    queue_query(m.qs, &f, 0, 0, NULL, NULL), QUEUE_ERR_INVALID);
	/* an older_than walk resuming after a message that is gone */
	f.older_than = 5000;
	bad_id = m.env[4].id;
	m_delete(&m, bad_id);
	assert_int_equal(queue_query(m.qs, &f, bad_id, 0, collect_cb, &c),
	    QUEUE_ERR_NOTFOUND);
	f.older_than = 0;

	/* a record that does not decode: skipped by queries; its update
	 * repairs the state entry; its delete removes what it can */
	bad_id = m.env[7].id; /* i = 7: held, sender <> */
	queue_shard_close(m.qs);
	raw_open(&r, path_in("c"), 0);
	{
		uint8_t kb[8];
		MDB_val k = {8, kb}, v = {5, "junk!"};

		put_be64(kb, bad_id);
		assert_int_equal(
		    mdb_put(r.txn, raw_dbi(&r, "env"), &k, &v, 0), 0);
	}
	raw_close(&r, 1);
	m.qs = open_ok(path_in("c"), 4);
	assert_int_equal(queue_shard_index_rebuilt(m.qs, NULL), 0);
	c.n = 0;
	f.sender = m.env[7].sender;
	f.state = QSTATE_HELD;
	assert_true(queue_query(m.qs, &f, 0, 0, collect_cb, &c) >= 1);
	for (size_t i = 0; i < c.n; i++)
		assert_true(c.ids[i] != bad_id);
	f.sender = NULL;
	f.state = -1;
	c.n = 0;
	assert_int_equal(queue_query(m.qs, &f, 0, 0, collect_cb, &c),
	    (int)queue_shard_count(m.qs) - 1);
	{
		int err;
		struct queue_txn *t = queue_txn_begin(m.qs, &err);
		unsigned held0, held1;

		assert_int_equal(queue_count(m.qs, NULL, NULL, &held0), 0);
		assert_int_equal(qenvelope_copy(&e, &m.env[7]), 0);
		e.held = 0;
		assert_int_equal(queue_txn_update(t, &e, 0), QUEUE_OK);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		assert_int_equal(queue_count(m.qs, NULL, NULL, &held1), 0);
		assert_int_equal(held1, held0 - 1);
		qenvelope_free(&m.env[7]);
		m.env[7] = e;
	}
	/* the old entries (sender, time, rcpt) of the corrupt record are
	 * still there as stale hints; queries are right regardless */
	check_queries(&m);
	check_counts(&m);
	check_summary(&m);
	/* corrupt again, then deleted: the state entry goes */
	queue_shard_close(m.qs);
	raw_open(&r, path_in("c"), 0);
	{
		uint8_t kb[8];
		MDB_val k = {8, kb}, v = {5, "junk!"};

		put_be64(kb, bad_id);
		assert_int_equal(
		    mdb_put(r.txn, raw_dbi(&r, "env"), &k, &v, 0), 0);
	}
	raw_close(&r, 1);
	m.qs = open_ok(path_in("c"), 4);
	{
		int err;
		struct queue_txn *t = queue_txn_begin(m.qs, &err);

		assert_int_equal(queue_txn_delete(t, bad_id, 0), QUEUE_OK);
		assert_int_equal(queue_txn_commit(t), QUEUE_OK);
		qenvelope_free(&m.env[7]);
		m.live[7] = false;
	}
	check_queries(&m);
	check_counts(&m);
	check_summary(&m);
	/* a rebuild (forced through a stale stamp) drops the stale hints:
	 * the raw indexes match the model exactly again */
	queue_shard_close(m.qs);
	raw_open(&r, path_in("c"), 0);
	raw_put_u32(&r, "ix_meta", "generation", 1);
	raw_close(&r, 1);
	m.qs = open_ok(path_in("c"), 4);
	assert_int_equal(
	    queue_shard_index_rebuilt(m.qs, NULL), queue_shard_count(m.qs));
	check_all(&m);
	model_free(&m);
	queue_shard_close(m.qs);
}

/* main - run the queue query tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_updates_deletes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renewal, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_fixture_migration, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_corrupt_and_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
