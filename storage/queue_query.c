/*
 * queue_query.c - read-only queue inspection over a shard's secondary
 * indexes (API and consistency rules in queue_query.h): filtered
 * listings with pagination, the per-domain summary, per-state counts.
 *
 * Not here: the index layout and maintenance (queue_index.c), the shard
 * and its write path (queue_shard.c).
 *
 * Every function opens its own read transaction on the calling thread
 * (MDB_NOTLS environments) and resets/renews it every QUERY_RENEW_EVERY
 * index entries, repositioning its cursors after the last position from
 * a private copy of the key (the old snapshot's memory is gone after a
 * reset). Memory: one decoded envelope at a time (heap, freed before the
 * next) plus fixed-size buffers; nothing is shared between calls.
 */
#include "queue_query.h"

#include <limits.h>
#include <lmdb.h>
#include <stdbool.h>
#include <string.h>

#include "queue_index.h"

/* One listing in progress (the caller's stack; one thread). */
struct qwalk {
	MDB_env *menv;
	MDB_dbi db_env;
	const struct qidx_dbis *ix;
	MDB_txn *txn;
	MDB_cursor *c; /* the walk's cursor */
	const struct queue_filter *f;
	uint8_t state; /* QIDX_STATE_* wanted, 0 any */
	size_t limit, matches;
	unsigned since_renew;
	int (*cb)(void *arg, const struct qenvelope *env);
	void *arg;
	bool stop;
};

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

/* Does some pending recipient of env satisfy want (address or domain)? */
static bool
has_pending(const struct qenvelope *env, const char *want, bool domain)
{
	for (uint32_t i = 0; i < env->nrcpt && env->rcpts != NULL; i++) {
		const struct qrcpt *r = &env->rcpts[i];
		const char *a = r->addr != NULL ? r->addr : "";

		if (r->state != QRCPT_PENDING)
			continue;
		if (qidx_str_eq(domain ? qidx_domain_of(a) : a, want))
			return true;
	}
	return false;
}

/* Every filter of w, checked on the decoded envelope. */
static bool
matches(const struct qwalk *w, const struct qenvelope *env)
{
	const struct queue_filter *f = w->f;

	if (f == NULL)
		return true;
	if (f->sender != NULL && !qidx_str_eq(env->sender, f->sender))
		return false;
	if (f->rcpt != NULL && !has_pending(env, f->rcpt, false))
		return false;
	if (f->domain != NULL && !has_pending(env, f->domain, true))
		return false;
	if (w->state != 0 && qidx_state_of(env) != w->state)
		return false;
	if (f->older_than > 0 && env->received >= f->older_than)
		return false;
	return true;
}

/* Decode record v of id and hand it to cb if it matches. */
static void
visit_record(struct qwalk *w, qid_t id, const MDB_val *v)
{
	struct qenvelope env;

	if (qrec_decode(v->mv_data, v->mv_size, &env) < 0)
		return; /* corrupt: cannot match */
	if (env.id == id && matches(w, &env)) {
		w->matches++;
		if (w->cb(w->arg, &env) != 0 ||
		    (w->limit != 0 && w->matches >= w->limit))
			w->stop = true;
	}
	qenvelope_free(&env);
}

/* Look id up in "env" and visit it. LMDB code (missing: success). */
static int
visit_id(struct qwalk *w, qid_t id)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	put_be64(kb, id);
	rc = mdb_get(w->txn, w->db_env, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MDB_SUCCESS; /* stale hint */
	if (rc == MDB_SUCCESS)
		visit_record(w, id, &v);
	return rc;
}

/* Count one entry; every QUERY_RENEW_EVERY, a new snapshot (the caller
 * repositions). *renewed tells whether it happened. LMDB code. */
static int
tick(struct qwalk *w, bool *renewed)
{
	int rc;

	*renewed = false;
	if (++w->since_renew < QUERY_RENEW_EVERY)
		return MDB_SUCCESS;
	w->since_renew = 0;
	mdb_txn_reset(w->txn);
	rc = mdb_txn_renew(w->txn);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_renew(w->txn, w->c);
	*renewed = rc == MDB_SUCCESS;
	return rc;
}

/* The qids under one key of a dupsort index, from after + 1 on. */
static int
walk_dup(struct qwalk *w, MDB_dbi dbi, const uint8_t *key, size_t keylen,
    qid_t after)
{
	uint8_t from[8];
	MDB_val k, v;
	int rc;

	if (after == UINT64_MAX)
		return MDB_SUCCESS;
	rc = mdb_cursor_open(w->txn, dbi, &w->c);
	if (rc != MDB_SUCCESS)
		return rc;
	put_be64(from, after + 1);
	k.mv_size = keylen;
	k.mv_data = (void *)key;
	v.mv_size = 8;
	v.mv_data = from;
	rc = mdb_cursor_get(w->c, &k, &v, MDB_GET_BOTH_RANGE);
	while (rc == MDB_SUCCESS && !w->stop) {
		qid_t id;
		bool renewed;

		if (v.mv_size != 8) { /* not ours: skip */
			rc = mdb_cursor_get(w->c, &k, &v, MDB_NEXT_DUP);
			continue;
		}
		id = get_be64(v.mv_data);
		rc = visit_id(w, id);
		if (rc != MDB_SUCCESS || w->stop)
			break;
		rc = tick(w, &renewed);
		if (rc != MDB_SUCCESS)
			break;
		if (!renewed) {
			rc = mdb_cursor_get(w->c, &k, &v, MDB_NEXT_DUP);
			continue;
		}
		if (id == UINT64_MAX)
			break;
		put_be64(from, id + 1);
		k.mv_size = keylen;
		k.mv_data = (void *)key;
		v.mv_size = 8;
		v.mv_data = from;
		rc = mdb_cursor_get(w->c, &k, &v, MDB_GET_BOTH_RANGE);
	}
	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* Every envelope in qid order from after + 1 on. */
static int
walk_env(struct qwalk *w, qid_t after)
{
	uint8_t from[8];
	MDB_val k, v;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	if (after == UINT64_MAX)
		return MDB_SUCCESS;
	rc = mdb_cursor_open(w->txn, w->db_env, &w->c);
	if (rc != MDB_SUCCESS)
		return rc;
	put_be64(from, after + 1);
	for (;;) {
		qid_t id;
		bool renewed;

		if (op == MDB_SET_RANGE) {
			k.mv_size = 8;
			k.mv_data = from;
		}
		rc = mdb_cursor_get(w->c, &k, &v, op);
		if (rc != MDB_SUCCESS)
			break;
		op = MDB_NEXT;
		if (k.mv_size != 8)
			continue;
		id = get_be64(k.mv_data);
		visit_record(w, id, &v);
		if (w->stop)
			break;
		rc = tick(w, &renewed);
		if (rc != MDB_SUCCESS)
			break;
		if (renewed) {
			if (id == UINT64_MAX)
				break;
			put_be64(from, id + 1);
			op = MDB_SET_RANGE;
		}
	}
	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* The time index below older_than, in (received, qid) order, after the
 * entry of message after (0: from the start). */
static int
walk_time(struct qwalk *w, int64_t older_than, qid_t after)
{
	uint8_t last[16];
	MDB_val k, v;
	MDB_cursor_op op;
	int rc;

	memset(last, 0, sizeof(last));
	if (after != 0) {
		struct qenvelope env;
		uint8_t kb[8];
		MDB_val ek = {8, kb}, ev;

		put_be64(kb, after);
		rc = mdb_get(w->txn, w->db_env, &ek, &ev);
		if (rc != MDB_SUCCESS)
			return rc;
		if (qrec_decode(ev.mv_data, ev.mv_size, &env) < 0)
			return MDB_NOTFOUND; /* cannot tell where it was */
		put_be64(last, env.received < 0 ? 0 : (uint64_t)env.received);
		put_be64(last + 8, after);
		qenvelope_free(&env);
	}
	rc = mdb_cursor_open(w->txn, w->ix->ix[QIDX_TIME], &w->c);
	if (rc != MDB_SUCCESS)
		return rc;
	op = MDB_SET_RANGE;
	for (;;) {
		bool renewed;

		if (op == MDB_SET_RANGE) {
			k.mv_size = 16;
			k.mv_data = last;
		}
		rc = mdb_cursor_get(w->c, &k, &v, op);
		if (rc != MDB_SUCCESS)
			break;
		if (op == MDB_SET_RANGE && after != 0 && k.mv_size == 16 &&
		    memcmp(k.mv_data, last, 16) == 0) {
			op = MDB_NEXT; /* the entry we resume after */
			continue;
		}
		op = MDB_NEXT;
		if (k.mv_size != 16)
			continue;
		if (get_be64(k.mv_data) >= (uint64_t)older_than)
			break; /* keys sort by time: the rest are younger */
		memcpy(last, k.mv_data, 16);
		after = get_be64(last + 8); /* resume after it on renewal */
		rc = visit_id(w, after);
		if (rc != MDB_SUCCESS || w->stop)
			break;
		rc = tick(w, &renewed);
		if (rc != MDB_SUCCESS)
			break;
		if (renewed)
			op = MDB_SET_RANGE;
	}
	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

static uint8_t
state_key(int state)
{
	switch (state) {
	case QSTATE_ACTIVE:
		return QIDX_STATE_ACTIVE;
	case QSTATE_DEFERRED:
		return QIDX_STATE_DEFERRED;
	case QSTATE_HELD:
		return QIDX_STATE_HELD;
	default:
		return 0;
	}
}

static int
lmdb_to_queue(int rc)
{
	return rc == MDB_SUCCESS ? QUEUE_OK : QUEUE_ERR_IO;
}

/* queue_query - filtered listing through the most selective index */
int
queue_query(struct queue_shard *qs, const struct queue_filter *f, qid_t after,
    size_t limit, int (*cb)(void *arg, const struct qenvelope *env), void *arg)
{
	struct qwalk w;
	uint8_t key[QIDX_KEY_MAX];
	size_t keylen;
	int rc;

	if (qs == NULL || cb == NULL)
		return QUEUE_ERR_INVALID;
	memset(&w, 0, sizeof(w));
	if (f != NULL && f->state != -1) {
		w.state = state_key(f->state);
		if (w.state == 0)
			return QUEUE_ERR_INVALID;
	}
	w.menv = queue_shard_lmdb_env(qs);
	w.db_env = queue_shard_env_dbi(qs);
	w.ix = queue_shard_index_dbis(qs);
	w.f = f;
	w.limit = limit;
	w.cb = cb;
	w.arg = arg;
	if (mdb_txn_begin(w.menv, NULL, MDB_RDONLY, &w.txn) != MDB_SUCCESS)
		return QUEUE_ERR_IO;
	if (f != NULL && f->rcpt != NULL) {
		keylen = qidx_str_key(f->rcpt, key);
		rc = walk_dup(&w, w.ix->ix[QIDX_RCPT], key, keylen, after);
	} else if (f != NULL && f->sender != NULL) {
		keylen = qidx_str_key(f->sender, key);
		rc = walk_dup(&w, w.ix->ix[QIDX_SENDER], key, keylen, after);
	} else if (f != NULL && f->domain != NULL) {
		keylen = qidx_str_key(f->domain, key);
		rc = walk_dup(&w, w.ix->ix[QIDX_DOMAIN], key, keylen, after);
	} else if (w.state != 0) {
		key[0] = w.state;
		rc = walk_dup(&w, w.ix->ix[QIDX_STATE], key, 1, after);
	} else if (f != NULL && f->older_than > 0) {
		rc = walk_time(&w, f->older_than, after);
	} else {
		rc = walk_env(&w, after);
	}
	if (w.c != NULL)
		mdb_cursor_close(w.c);
	mdb_txn_abort(w.txn);
	if (rc == MDB_NOTFOUND)
		return QUEUE_ERR_NOTFOUND; /* walk_time: `after` is gone */
	if (rc != MDB_SUCCESS)
		return QUEUE_ERR_IO;
	return w.matches > (size_t)INT_MAX ? INT_MAX : (int)w.matches;
}

/* The state of id from the state index: 'A', 'D', 'H' or 0 (none). */
static int
lookup_state(MDB_cursor *sc, const uint8_t id[8], uint8_t *state)
{
	/* deferred first: the usual state of a message that stays queued */
	static const uint8_t order[3] = {
	    QIDX_STATE_DEFERRED, QIDX_STATE_ACTIVE, QIDX_STATE_HELD};

	*state = 0;
	for (int i = 0; i < 3; i++) {
		MDB_val k = {1, (void *)&order[i]}, v = {8, (void *)id};
		int rc = mdb_cursor_get(sc, &k, &v, MDB_GET_BOTH);

		if (rc == MDB_SUCCESS) {
			*state = order[i];
			return MDB_SUCCESS;
		}
		if (rc != MDB_NOTFOUND)
			return rc;
	}
	return MDB_SUCCESS;
}

/* Per-domain counters of queue_summary. */
struct sum_dom {
	char name[QIDX_KEY_MAX + 1];
	size_t len;
	bool have;
	unsigned n[3]; /* active, deferred, held */
};

/* Report d unless it counted nothing (only stale entries); non-zero:
 * the callback asked to stop. */
static int
sum_emit(const struct sum_dom *d,
    int (*cb)(void *arg, const char *domain, unsigned active, unsigned deferred,
	unsigned held),
    void *arg)
{
	if (!d->have || (d->n[0] == 0 && d->n[1] == 0 && d->n[2] == 0))
		return 0;
	return cb(arg, d->name, d->n[0], d->n[1], d->n[2]);
}

static bool
sum_same(const struct sum_dom *d, const MDB_val *k)
{
	return d->have && k->mv_size == d->len &&
	       memcmp(k->mv_data, d->name, d->len) == 0;
}

static void
sum_start(struct sum_dom *d, const MDB_val *k)
{
	d->len = k->mv_size < QIDX_KEY_MAX ? k->mv_size : QIDX_KEY_MAX;
	memcpy(d->name, k->mv_data, d->len);
	d->name[d->len] = '\0'; /* the key "\0" (no domain) reads as "" */
	d->have = true;
	memset(d->n, 0, sizeof(d->n));
}

static void
sum_count(struct sum_dom *d, uint8_t state)
{
	unsigned *c = state == QIDX_STATE_ACTIVE     ? &d->n[0]
		      : state == QIDX_STATE_DEFERRED ? &d->n[1]
		      : state == QIDX_STATE_HELD     ? &d->n[2]
						     : NULL;

	if (c != NULL && *c < UINT32_MAX)
		(*c)++;
}

/* queue_summary - messages per recipient domain and state */
int
queue_summary(struct queue_shard *qs,
    int (*cb)(void *arg, const char *domain, unsigned active, unsigned deferred,
	unsigned held),
    void *arg)
{
	const struct qidx_dbis *ix = queue_shard_index_dbis(qs);
	struct sum_dom d;
	MDB_txn *txn;
	MDB_cursor *c = NULL, *sc = NULL;
	MDB_val k, v;
	uint8_t id[8] = {0};
	unsigned since = 0;
	bool stopped = false;
	int rc;

	memset(&d, 0, sizeof(d));
	rc = mdb_txn_begin(queue_shard_lmdb_env(qs), NULL, MDB_RDONLY, &txn);
	if (rc != MDB_SUCCESS)
		return QUEUE_ERR_IO;
	rc = mdb_cursor_open(txn, ix->ix[QIDX_DOMAIN], &c);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_open(txn, ix->ix[QIDX_STATE], &sc);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	while (rc == MDB_SUCCESS) {
		uint8_t state;

		if (!sum_same(&d, &k)) {
			if (sum_emit(&d, cb, arg) != 0) {
				stopped = true;
				break;
			}
			sum_start(&d, &k);
		}
		if (v.mv_size == 8) {
			memcpy(id, v.mv_data, 8);
			rc = lookup_state(sc, id, &state);
			if (rc != MDB_SUCCESS)
				break;
			sum_count(&d, state);
		}
		if (++since < QUERY_RENEW_EVERY) {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		/* new snapshot; continue after (domain, id) */
		since = 0;
		mdb_txn_reset(txn);
		rc = mdb_txn_renew(txn);
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_renew(txn, c);
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_renew(txn, sc);
		if (rc != MDB_SUCCESS)
			break;
		k.mv_size = d.len;
		k.mv_data = d.name;
		if (get_be64(id) != UINT64_MAX) {
			put_be64(id, get_be64(id) + 1);
			v.mv_size = 8;
			v.mv_data = id;
			rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH_RANGE);
			if (rc != MDB_NOTFOUND)
				continue;
		}
		/* no later id under this domain: the next domain */
		k.mv_size = d.len;
		k.mv_data = d.name;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_SUCCESS && sum_same(&d, &k))
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
	}
	if (rc == MDB_NOTFOUND && !stopped)
		(void)sum_emit(&d, cb, arg);
	if (sc != NULL)
		mdb_cursor_close(sc);
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (stopped || rc == MDB_NOTFOUND)
		return QUEUE_OK;
	return lmdb_to_queue(rc);
}

/* queue_count - the number of duplicates under "A", "D" and "H" */
int
queue_count(struct queue_shard *qs, unsigned *active, unsigned *deferred,
    unsigned *held)
{
	static const uint8_t keys[3] = {
	    QIDX_STATE_ACTIVE, QIDX_STATE_DEFERRED, QIDX_STATE_HELD};
	unsigned *out[3] = {active, deferred, held};
	unsigned n[3] = {0, 0, 0};
	MDB_txn *txn;
	MDB_cursor *c = NULL;
	int rc;

	rc = mdb_txn_begin(queue_shard_lmdb_env(qs), NULL, MDB_RDONLY, &txn);
	if (rc == MDB_SUCCESS) {
		rc = mdb_cursor_open(
		    txn, queue_shard_index_dbis(qs)->ix[QIDX_STATE], &c);
		for (int i = 0; i < 3 && rc == MDB_SUCCESS; i++) {
			MDB_val k = {1, (void *)&keys[i]}, v;
			size_t cnt = 0;

			rc = mdb_cursor_get(c, &k, &v, MDB_SET);
			if (rc == MDB_SUCCESS)
				rc = mdb_cursor_count(c, &cnt);
			else if (rc == MDB_NOTFOUND)
				rc = MDB_SUCCESS;
			n[i] = cnt > UINT32_MAX ? UINT32_MAX : (unsigned)cnt;
		}
		if (c != NULL)
			mdb_cursor_close(c);
		mdb_txn_abort(txn);
	}
	for (int i = 0; i < 3; i++)
		if (out[i] != NULL)
			*out[i] = rc == MDB_SUCCESS ? n[i] : 0;
	return lmdb_to_queue(rc);
}
