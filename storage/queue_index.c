/*
 * queue_index.c - secondary indexes of a queue shard (layout in
 * queue_index.h): deriving a message's index keys from its envelope and
 * applying them (add, remove, diff) inside the caller's LMDB write
 * transaction, so an index never disagrees with a committed envelope.
 *
 * Not here: when the functions are called (queue_shard.c, inside
 * queue_txn_insert/_update/_delete and the rebuild at open), queries
 * (queue_query.c), the envelope encoding (queue_record.c).
 *
 * Memory: a message's keys are collected in one heap key set (entries +
 * byte arena) per call and freed before returning: O(recipients) bytes,
 * bounded by QREC_MAX_RCPT * 2 * QIDX_KEY_MAX. Nothing is kept between
 * calls, so the functions need no lock; they run on whichever thread owns
 * the write transaction (the committer).
 */
#include "queue_index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const dbi_names[QIDX_COUNT] = {
    "ix_rcpt", "ix_domain", "ix_sender", "ix_state", "ix_time"};

/* One index entry of a message: key bytes at arena + off. */
struct kent {
	uint8_t which; /* enum qidx_which */
	uint16_t len;  /* 1..QIDX_KEY_MAX (time keys: 16) */
	size_t off;
};

/* The entries of one message, sorted and unique after keyset_finish. */
struct keyset {
	struct kent *e;
	size_t n, cap;
	uint8_t *arena;
	size_t alen, acap;
};

static void
put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* qidx_open - create/open the index DBIs inside a write transaction */
int
qidx_open(MDB_txn *txn, struct qidx_dbis *d)
{
	int rc = MDB_SUCCESS;

	for (int i = 0; i < QIDX_COUNT && rc == MDB_SUCCESS; i++)
		rc = mdb_dbi_open(txn, dbi_names[i],
		    MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &d->ix[i]);
	if (rc == MDB_SUCCESS)
		rc = mdb_dbi_open(txn, "ix_meta", MDB_CREATE, &d->meta);
	return rc;
}

/* qidx_drop - empty every index DBI (they stay open) */
int
qidx_drop(MDB_txn *txn, const struct qidx_dbis *d)
{
	int rc = MDB_SUCCESS;

	for (int i = 0; i < QIDX_COUNT && rc == MDB_SUCCESS; i++)
		rc = mdb_drop(txn, d->ix[i], 0);
	return rc;
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* qidx_str_key - ASCII lower-case, truncated; "" -> "\0" */
size_t
qidx_str_key(const char *s, uint8_t out[QIDX_KEY_MAX])
{
	size_t n = 0;

	if (s != NULL)
		for (; n < QIDX_KEY_MAX && s[n] != '\0'; n++)
			out[n] = lower((uint8_t)s[n]);
	if (n == 0)
		out[n++] = '\0';
	return n;
}

/* qidx_domain_of - the part after the last '@' ("" without one) */
const char *
qidx_domain_of(const char *addr)
{
	const char *at;

	if (addr == NULL)
		return "";
	at = strrchr(addr, '@');
	return at != NULL ? at + 1 : "";
}

/* qidx_state_of - held, else deferred when attempted, else active */
uint8_t
qidx_state_of(const struct qenvelope *env)
{
	if (env->held)
		return QIDX_STATE_HELD;
	return env->attempts > 0 ? QIDX_STATE_DEFERRED : QIDX_STATE_ACTIVE;
}

/* qidx_str_eq - ASCII case-insensitive equality (NULL equals "") */
int
qidx_str_eq(const char *a, const char *b)
{
	if (a == NULL)
		a = "";
	if (b == NULL)
		b = "";
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower((uint8_t)*a) != lower((uint8_t)*b))
			return 0;
	return *a == *b;
}

/* ---- key sets ---- */

static void
keyset_free(struct keyset *ks)
{
	free(ks->e);
	free(ks->arena);
	memset(ks, 0, sizeof(*ks));
}

/* Append one entry; -1 out of memory. */
static int
keyset_add(struct keyset *ks, uint8_t which, const uint8_t *key, size_t len)
{
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 16;
		struct kent *e = realloc(ks->e, cap * sizeof(*e));

		if (e == NULL)
			return -1;
		ks->e = e;
		ks->cap = cap;
	}
	if (ks->acap - ks->alen < len) {
		size_t cap = ks->acap ? ks->acap : 256;
		uint8_t *a;

		while (cap - ks->alen < len)
			cap *= 2;
		a = realloc(ks->arena, cap);
		if (a == NULL)
			return -1;
		ks->arena = a;
		ks->acap = cap;
	}
	memcpy(ks->arena + ks->alen, key, len);
	ks->e[ks->n].which = which;
	ks->e[ks->n].len = (uint16_t)len;
	ks->e[ks->n].off = ks->alen;
	ks->n++;
	ks->alen += len;
	return 0;
}

static int
kent_cmp(const void *a, const void *b, void *arg)
{
	const struct kent *x = a, *y = b;
	const uint8_t *arena = arg;
	size_t n = x->len < y->len ? x->len : y->len;
	int c;

	if (x->which != y->which)
		return x->which < y->which ? -1 : 1;
	c = memcmp(arena + x->off, arena + y->off, n);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Every entry of env, sorted, duplicates removed. -1 out of memory. */
static int
keyset_build(struct keyset *ks, const struct qenvelope *env)
{
	uint8_t k[QIDX_KEY_MAX];
	size_t len, j;
	uint8_t st = qidx_state_of(env);

	memset(ks, 0, sizeof(*ks));
	len = qidx_str_key(env->sender, k);
	if (keyset_add(ks, QIDX_SENDER, k, len) < 0 ||
	    keyset_add(ks, QIDX_STATE, &st, 1) < 0)
		goto oom;
	put_be64(k, env->received < 0 ? 0 : (uint64_t)env->received);
	put_be64(k + 8, env->id);
	if (keyset_add(ks, QIDX_TIME, k, 16) < 0)
		goto oom;
	for (uint32_t i = 0; i < env->nrcpt && env->rcpts != NULL; i++) {
		const struct qrcpt *r = &env->rcpts[i];

		if (r->state != QRCPT_PENDING)
			continue;
		len = qidx_str_key(r->addr, k);
		if (keyset_add(ks, QIDX_RCPT, k, len) < 0)
			goto oom;
		len = qidx_str_key(qidx_domain_of(r->addr), k);
		if (keyset_add(ks, QIDX_DOMAIN, k, len) < 0)
			goto oom;
	}
	qsort_r(ks->e, ks->n, sizeof(*ks->e), kent_cmp, ks->arena);
	for (size_t i = j = 0; i < ks->n; i++)
		if (j == 0 ||
		    kent_cmp(&ks->e[j - 1], &ks->e[i], ks->arena) != 0)
			ks->e[j++] = ks->e[i];
	ks->n = j;
	return 0;
oom:
	keyset_free(ks);
	return -1;
}

/* ---- applying entries ---- */

static int
ent_put(MDB_txn *txn, const struct qidx_dbis *d, const struct keyset *ks,
    const struct kent *e, const uint8_t id[8])
{
	MDB_val k = {e->len, ks->arena + e->off}, v = {8, (void *)id};
	int rc = mdb_put(txn, d->ix[e->which], &k, &v, MDB_NODUPDATA);

	return rc == MDB_KEYEXIST ? MDB_SUCCESS : rc;
}

static int
ent_del(MDB_txn *txn, const struct qidx_dbis *d, const struct keyset *ks,
    const struct kent *e, const uint8_t id[8])
{
	MDB_val k = {e->len, ks->arena + e->off}, v = {8, (void *)id};
	int rc = mdb_del(txn, d->ix[e->which], &k, &v);

	return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

/* qidx_add - every entry of env */
int
qidx_add(MDB_txn *txn, const struct qidx_dbis *d, const struct qenvelope *env)
{
	struct keyset ks;
	uint8_t id[8];
	int rc = MDB_SUCCESS;

	if (keyset_build(&ks, env) < 0)
		return ENOMEM;
	put_be64(id, env->id);
	for (size_t i = 0; i < ks.n && rc == MDB_SUCCESS; i++)
		rc = ent_put(txn, d, &ks, &ks.e[i], id);
	keyset_free(&ks);
	return rc;
}

/* qidx_remove - every entry of env (missing ones ignored) */
int
qidx_remove(
    MDB_txn *txn, const struct qidx_dbis *d, const struct qenvelope *env)
{
	struct keyset ks;
	uint8_t id[8];
	int rc = MDB_SUCCESS;

	if (keyset_build(&ks, env) < 0)
		return ENOMEM;
	put_be64(id, env->id);
	for (size_t i = 0; i < ks.n && rc == MDB_SUCCESS; i++)
		rc = ent_del(txn, d, &ks, &ks.e[i], id);
	keyset_free(&ks);
	return rc;
}

/* Remove the three possible state entries of id. */
static int
del_all_states(MDB_txn *txn, const struct qidx_dbis *d, const uint8_t id[8])
{
	static const uint8_t states[3] = {
	    QIDX_STATE_ACTIVE, QIDX_STATE_DEFERRED, QIDX_STATE_HELD};
	int rc = MDB_SUCCESS;

	for (int i = 0; i < 3 && rc == MDB_SUCCESS; i++) {
		MDB_val k = {1, (void *)&states[i]}, v = {8, (void *)id};

		rc = mdb_del(txn, d->ix[QIDX_STATE], &k, &v);
		if (rc == MDB_NOTFOUND)
			rc = MDB_SUCCESS;
	}
	return rc;
}

/* qidx_remove_states - the entries of id under "A", "D" and "H" */
int
qidx_remove_states(MDB_txn *txn, const struct qidx_dbis *d, qid_t id)
{
	uint8_t b[8];

	put_be64(b, id);
	return del_all_states(txn, d, b);
}

/* qidx_update - delete old-only entries, add new-only entries (a merge
 * of the two sorted key sets); keys are built before anything is
 * written, so ENOMEM leaves the transaction untouched */
int
qidx_update(MDB_txn *txn, const struct qidx_dbis *d,
    const struct qenvelope *old_env, const struct qenvelope *new_env)
{
	struct keyset o, n;
	uint8_t id[8];
	size_t i = 0, j = 0;
	int rc = MDB_SUCCESS;

	put_be64(id, new_env->id);
	if (old_env == NULL) {
		rc = del_all_states(txn, d, id);
		return rc == MDB_SUCCESS ? qidx_add(txn, d, new_env) : rc;
	}
	if (keyset_build(&o, old_env) < 0)
		return ENOMEM;
	if (keyset_build(&n, new_env) < 0) {
		keyset_free(&o);
		return ENOMEM;
	}
	while (rc == MDB_SUCCESS && (i < o.n || j < n.n)) {
		int c;

		if (i == o.n)
			c = 1;
		else if (j == n.n)
			c = -1;
		else {
			/* compare across two arenas */
			const struct kent *x = &o.e[i], *y = &n.e[j];
			size_t m = x->len < y->len ? x->len : y->len;

			if (x->which != y->which)
				c = x->which < y->which ? -1 : 1;
			else if ((c = memcmp(o.arena + x->off, n.arena + y->off,
				      m)) == 0)
				c = x->len < y->len ? -1 : x->len > y->len;
		}
		if (c < 0)
			rc = ent_del(txn, d, &o, &o.e[i++], id);
		else if (c > 0)
			rc = ent_put(txn, d, &n, &n.e[j++], id);
		else {
			i++;
			j++;
		}
	}
	keyset_free(&o);
	keyset_free(&n);
	return rc;
}
