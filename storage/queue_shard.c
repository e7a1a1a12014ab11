/*
 * queue_shard.c - one LMDB environment holding one worker's queue: the
 * schema (see queue_shard.h), opening/versioning, queue id allocation,
 * the write-transaction operations the committer applies, and the read
 * functions any thread may call.
 *
 * Not here: the envelope encoding (queue_record.c), batching and the
 * committer thread (queue_commit.c), scheduling policy (the "sched"
 * index is only maintained here), the secondary indexes' keys
 * (queue_index.c: called from here inside the same write transaction as
 * the envelope change) and queries over them (queue_query.c).
 *
 * On-disk details (version 1, frozen by tests/fixtures/shard-v1/):
 *   "env"   key qid as 8 bytes big-endian, value a queue_record encoding
 *   "body"  key qid (8 BE) || chunk number (4 BE, from 0), value one
 *           chunk: every chunk but the last is exactly QUEUE_BODY_CHUNK
 *           bytes; a message with an empty body has no chunk
 *   "sched" key next_attempt (8 BE, negative times stored as 0) || qid
 *           (8 BE), empty value
 *   "meta"  "generation" -> u32 big-endian, count of opens (the low 24
 *           bits go into ids, 0 skipped); "version" -> u32 big-endian,
 *           schema major << 16 | minor. A shard with a higher major is
 *           refused; a higher minor only adds things this code ignores.
 * Version 1.1 adds the secondary indexes "ix_rcpt", "ix_domain",
 * "ix_sender", "ix_state", "ix_time" and "ix_meta" (layout in
 * queue_index.h). They are rebuilt from "env" at open when
 *   - the shard says 1.0 (written by a build without indexes): the
 *     migration, which then writes 1.1 into "version"; or
 *   - "ix_meta" "generation" differs from the generation found at open:
 *     a build without indexes (which bumps the generation but does not
 *     know the stamp) opened the shard since, so its writes are missing
 *     from the indexes. Every open and every generation bump by this code
 *     rewrites the stamp.
 * The rebuild runs in transactions of REBUILD_BATCH envelopes; the
 * version and the stamp are written by the last one only, so a crash in
 * the middle leaves the shard marked for another rebuild. It is logged
 * (event=queue_index_rebuild, with the count of messages).
 *
 * Durability: the environment is opened with MDB_NOTLS only, so every
 * mdb_txn_commit of a write transaction fsyncs data and meta page before
 * returning; nothing here weakens that.
 */
#include "queue_shard.h"

#include <errno.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "queue_index.h"

#define SCHEMA_MAJOR     1u
#define SCHEMA_MINOR     1u /* 1.1: secondary indexes (queue_index.h) */
#define SCHEMA_VERSION   (SCHEMA_MAJOR << 16 | SCHEMA_MINOR)
#define GEN_MASK         0xffffffu /* generation bits in a qid */
#define SCAN_RENEW_EVERY 1000u
#define REBUILD_BATCH    4000u /* envelopes per rebuild transaction */
#define MAX_DBS          16    /* named DBIs: 4 + 6 index, room to grow */

struct queue_shard {
	MDB_env *env;
	MDB_dbi db_env, db_body, db_sched, db_meta;
	struct qidx_dbis ix; /* secondary indexes; fixed after open */
	unsigned shard_no;
	/* Set by open (index rebuild), read-only afterwards. */
	size_t rebuilt, rebuilt_corrupt;
	/* Loop thread only (queue_shard_new_id), set up by open. */
	uint32_t generation; /* full stored counter */
	uint32_t seq;        /* last sequence number handed out */
	/* Committer thread only (inside write transactions). */
	struct buf scratch; /* envelope encodings */
	/* Test hooks, written by the test thread, read by the committer;
	 * relaxed: they carry no other data. */
	atomic_int fail_commits;
	atomic_uint delay_ms;
};

/* A write transaction; owned by the committer thread from begin until
 * commit/abort, which free it. */
struct queue_txn {
	struct queue_shard *qs;
	MDB_txn *txn;
	int err; /* sticky error: QUEUE_OK or the first poisoning error */
};

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void
sched_key(uint8_t k[16], int64_t when, qid_t id)
{
	put_be64(k, when < 0 ? 0 : (uint64_t)when);
	put_be64(k + 8, id);
}

static void
body_key(uint8_t k[12], qid_t id, uint32_t chunk)
{
	put_be64(k, id);
	put_be32(k + 8, chunk);
}

/* LMDB (or errno) code to enum queue_err. */
static int
map_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return QUEUE_OK;
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		return QUEUE_ERR_FULL;
	case MDB_NOTFOUND:
		return QUEUE_ERR_NOTFOUND;
	default:
		return QUEUE_ERR_IO;
	}
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* mkdir -p with mode 0700 for every directory it creates. */
static int
mkdir_p(const char *dir)
{
	char *p = strdup(dir);
	struct stat st;
	int rc = 0;

	if (p == NULL)
		return -1;
	for (char *s = p + 1; *s != '\0' && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	if (rc == 0 && stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		rc = -1;
	}
	return rc;
}

/* Increment the stored generation inside txn (skipping values whose low
 * 24 bits are 0) and remember it in qs. LMDB code. */
static int
bump_generation(struct queue_shard *qs, MDB_txn *txn)
{
	MDB_val k = {sizeof("generation") - 1, (void *)"generation"}, v;
	uint8_t b[4];
	uint32_t g = 0;
	int rc;

	rc = mdb_get(txn, qs->db_meta, &k, &v);
	if (rc == MDB_SUCCESS) {
		if (v.mv_size != 4)
			return MDB_CORRUPTED;
		g = get_be32(v.mv_data);
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	do
		g++;
	while ((g & GEN_MASK) == 0);
	put_be32(b, g);
	v.mv_size = 4;
	v.mv_data = b;
	rc = mdb_put(txn, qs->db_meta, &k, &v, 0);
	if (rc == MDB_SUCCESS)
		qs->generation = g;
	return rc;
}

/* Read the u32 (4 bytes BE) stored under name; LMDB code (MDB_NOTFOUND
 * when absent, MDB_CORRUPTED when not 4 bytes). */
static int
get_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t *out)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	int rc = mdb_get(txn, dbi, &k, &v);

	if (rc != MDB_SUCCESS)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*out = get_be32(v.mv_data);
	return MDB_SUCCESS;
}

static int
put_u32(MDB_txn *txn, MDB_dbi dbi, const char *name, uint32_t val)
{
	MDB_val k = {strlen(name), (void *)name}, v;
	uint8_t b[4];

	put_be32(b, val);
	v.mv_size = 4;
	v.mv_data = b;
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* Record that the indexes are complete at the current generation. */
static int
stamp_indexes(struct queue_shard *qs, MDB_txn *txn)
{
	return put_u32(txn, qs->ix.meta, "generation", qs->generation);
}

#define NEWER_SCHEMA (-1) /* not an LMDB code: those are > 0 or < -30000 */

/* Check (or, for a new shard, write) the schema version found/written in
 * *found. LMDB code, or NEWER_SCHEMA for a newer major version. */
static int
check_version(struct queue_shard *qs, MDB_txn *txn, uint32_t *found)
{
	MDB_val k = {sizeof("version") - 1, (void *)"version"}, v;
	uint8_t b[4];
	int rc;

	rc = mdb_get(txn, qs->db_meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		put_be32(b, SCHEMA_VERSION);
		v.mv_size = 4;
		v.mv_data = b;
		*found = SCHEMA_VERSION;
		return mdb_put(txn, qs->db_meta, &k, &v, 0);
	}
	if (rc != MDB_SUCCESS)
		return rc;
	if (v.mv_size != 4)
		return MDB_CORRUPTED;
	*found = get_be32(v.mv_data);
	if ((*found >> 16) == 0)
		return MDB_CORRUPTED;
	return (*found >> 16) > SCHEMA_MAJOR ? NEWER_SCHEMA : MDB_SUCCESS;
}

/* Rebuild every index from "env" (the shard is not in use yet: called
 * by open only), REBUILD_BATCH envelopes per transaction; the last one
 * writes the schema version (when older than ours) and the stamp.
 * 0 ok, -1 with err set. */
static int
rebuild_indexes(struct queue_shard *qs, const char *dir, uint32_t found,
    char *err, size_t errlen)
{
	uint8_t last[512];
	size_t lastlen = 0, n = 0, corrupt = 0;
	struct timespec t0, t1;
	char qdir[256];
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		MDB_txn *txn;
		MDB_cursor *c;
		MDB_val k, v;
		unsigned batch = 0;

		rc = mdb_txn_begin(qs->env, NULL, 0, &txn);
		if (rc != MDB_SUCCESS)
			break;
		rc = mdb_cursor_open(txn, qs->db_env, &c);
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			break;
		}
		if (lastlen == 0) {
			rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		} else {
			k.mv_size = lastlen;
			k.mv_data = last;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
			if (rc == MDB_SUCCESS && k.mv_size == lastlen &&
			    memcmp(k.mv_data, last, lastlen) == 0)
				rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		while (rc == MDB_SUCCESS && batch++ < REBUILD_BATCH) {
			struct qenvelope e;

			lastlen =
			    k.mv_size < sizeof(last) ? k.mv_size : sizeof(last);
			memcpy(last, k.mv_data, lastlen);
			if (k.mv_size != 8 ||
			    qrec_decode(v.mv_data, v.mv_size, &e) < 0) {
				corrupt++;
			} else {
				if (e.id == get_be64(k.mv_data)) {
					rc = qidx_add(txn, &qs->ix, &e);
					n++;
				} else {
					corrupt++;
				}
				qenvelope_free(&e);
				if (rc != MDB_SUCCESS)
					break;
			}
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND) {
			/* done: version and stamp in the last transaction */
			rc = MDB_SUCCESS;
			if ((found >> 16) == SCHEMA_MAJOR &&
			    (found & 0xffff) < SCHEMA_MINOR)
				rc = put_u32(txn, qs->db_meta, "version",
				    SCHEMA_VERSION);
			if (rc == MDB_SUCCESS)
				rc = stamp_indexes(qs, txn);
			if (rc == MDB_SUCCESS)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
			break;
		}
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			break;
		}
		rc = mdb_txn_commit(txn); /* a full batch; more to come */
		if (rc != MDB_SUCCESS)
			break;
	}
	if (rc != MDB_SUCCESS) {
		set_err(err, errlen, "queue shard %s: index rebuild: %s", dir,
		    mdb_strerror(rc));
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	qs->rebuilt = n;
	qs->rebuilt_corrupt = corrupt;
	log_event(LOG_NOTICE, "queue_index_rebuild",
	    "dir=%s shard=%u from_version=%u.%u messages=%zu corrupt=%zu "
	    "ms=%lld",
	    log_quote(dir, qdir, sizeof(qdir)), qs->shard_no, found >> 16,
	    found & 0xffff, n, corrupt,
	    (long long)(t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}

/* One write transaction: create/open the databases, check the schema
 * version, decide whether the indexes need a rebuild, bump the
 * generation; commit (durable). Then the rebuild, if needed. */
static int
open_schema(struct queue_shard *qs, const char *dir, char *err, size_t errlen)
{
	MDB_txn *txn;
	MDB_stat st;
	uint32_t found = 0, oldgen = 0, stamp = 0;
	bool have_stamp = false, rebuild = false;
	int rc;

	rc = mdb_txn_begin(qs->env, NULL, 0, &txn);
	if (rc != MDB_SUCCESS) {
		set_err(err, errlen, "queue shard %s: begin: %s", dir,
		    mdb_strerror(rc));
		return -1;
	}
	rc = mdb_dbi_open(txn, "env", MDB_CREATE, &qs->db_env);
	if (rc == MDB_SUCCESS)
		rc = mdb_dbi_open(txn, "body", MDB_CREATE, &qs->db_body);
	if (rc == MDB_SUCCESS)
		rc = mdb_dbi_open(txn, "sched", MDB_CREATE, &qs->db_sched);
	if (rc == MDB_SUCCESS)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &qs->db_meta);
	if (rc == MDB_SUCCESS)
		rc = check_version(qs, txn, &found);
	if (rc == NEWER_SCHEMA) {
		mdb_txn_abort(txn);
		set_err(err, errlen,
		    "queue shard %s: schema version %u.%u is newer than this "
		    "build's %u.x, refusing to open",
		    dir, found >> 16, found & 0xffff, SCHEMA_MAJOR);
		return -1;
	}
	if (rc == MDB_SUCCESS)
		rc = qidx_open(txn, &qs->ix);
	if (rc == MDB_SUCCESS) {
		rc = get_u32(txn, qs->db_meta, "generation", &oldgen);
		if (rc == MDB_NOTFOUND)
			rc = MDB_SUCCESS; /* new shard */
	}
	if (rc == MDB_SUCCESS) {
		rc = get_u32(txn, qs->ix.meta, "generation", &stamp);
		have_stamp = rc == MDB_SUCCESS;
		if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED)
			rc = MDB_SUCCESS; /* no (valid) stamp */
	}
	if (rc == MDB_SUCCESS)
		rc = mdb_stat(txn, qs->db_env, &st);
	if (rc == MDB_SUCCESS) {
		rebuild = (found & 0xffff) < SCHEMA_MINOR ||
			  (have_stamp ? stamp != oldgen : st.ms_entries > 0);
		rc = bump_generation(qs, txn);
	}
	if (rc == MDB_SUCCESS)
		rc = rebuild ? qidx_drop(txn, &qs->ix) : stamp_indexes(qs, txn);
	if (rc != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		set_err(err, errlen, "queue shard %s: schema: %s", dir,
		    mdb_strerror(rc));
		return -1;
	}
	rc = mdb_txn_commit(txn);
	if (rc != MDB_SUCCESS) {
		set_err(err, errlen, "queue shard %s: commit: %s", dir,
		    mdb_strerror(rc));
		return -1;
	}
	return rebuild ? rebuild_indexes(qs, dir, found, err, errlen) : 0;
}

/* queue_shard_open - open/create a shard and durably bump its generation */
struct queue_shard *
queue_shard_open(const char *dir, unsigned shard_no, size_t map_size, char *err,
    size_t errlen)
{
	struct queue_shard *qs;
	int rc, dead = 0;

	if (shard_no > 0xff) {
		set_err(err, errlen,
		    "queue shard %s: shard number %u above 255",
		    dir != NULL ? dir : "(null)", shard_no);
		return NULL;
	}
	if (dir == NULL || *dir == '\0' || mkdir_p(dir) < 0) {
		set_err(err, errlen, "queue shard %s: mkdir: %s",
		    dir != NULL ? dir : "(null)", strerror(errno));
		return NULL;
	}
	qs = calloc(1, sizeof(*qs));
	if (qs == NULL) {
		set_err(err, errlen, "queue shard %s: out of memory", dir);
		return NULL;
	}
	qs->shard_no = shard_no;
	atomic_init(&qs->fail_commits, 0);
	atomic_init(&qs->delay_ms, 0);
	rc = mdb_env_create(&qs->env);
	if (rc != MDB_SUCCESS) {
		set_err(err, errlen, "queue shard %s: create: %s", dir,
		    mdb_strerror(rc));
		free(qs);
		return NULL;
	}
	rc = mdb_env_set_maxdbs(qs->env, MAX_DBS);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_set_mapsize(qs->env, map_size);
	if (rc == MDB_SUCCESS)
		rc = mdb_env_open(qs->env, dir, MDB_NOTLS, 0600);
	/* Free the reader slots of processes that died holding them, or
	 * their snapshots would pin old pages forever. */
	if (rc == MDB_SUCCESS)
		rc = mdb_reader_check(qs->env, &dead);
	if (rc != MDB_SUCCESS) {
		set_err(err, errlen, "queue shard %s: open: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	if (open_schema(qs, dir, err, errlen) < 0)
		goto fail;
	return qs;
fail:
	mdb_env_close(qs->env);
	free(qs);
	return NULL;
}

/* queue_shard_close - close the environment (no transaction may be live) */
void
queue_shard_close(struct queue_shard *qs)
{
	if (qs == NULL)
		return;
	mdb_env_close(qs->env);
	buf_free(&qs->scratch);
	free(qs);
}

/* queue_shard_number - the shard number given to open */
unsigned
queue_shard_number(const struct queue_shard *qs)
{
	return qs->shard_no;
}

/* queue_shard_lmdb_env - the environment (queue_query.c) */
MDB_env *
queue_shard_lmdb_env(struct queue_shard *qs)
{
	return qs->env;
}

/* queue_shard_env_dbi - the "env" DBI */
MDB_dbi
queue_shard_env_dbi(const struct queue_shard *qs)
{
	return qs->db_env;
}

/* queue_shard_index_dbis - the index DBIs */
const struct qidx_dbis *
queue_shard_index_dbis(const struct queue_shard *qs)
{
	return &qs->ix;
}

/* queue_shard_index_rebuilt - messages indexed by the rebuild at open */
size_t
queue_shard_index_rebuilt(const struct queue_shard *qs, size_t *corrupt)
{
	if (corrupt != NULL)
		*corrupt = qs->rebuilt_corrupt;
	return qs->rebuilt;
}

/* queue_shard_env_flags - the flags LMDB reports (tests check sync) */
unsigned
queue_shard_env_flags(struct queue_shard *qs)
{
	unsigned flags = 0;

	if (mdb_env_get_flags(qs->env, &flags) != MDB_SUCCESS)
		return 0;
	return flags;
}

/* queue_shard_new_id - (generation << 40) | (shard << 32) | sequence */
qid_t
queue_shard_new_id(struct queue_shard *qs)
{
	if (qs->seq == UINT32_MAX) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(qs->env, NULL, 0, &txn);

		if (rc != MDB_SUCCESS)
			return 0;
		rc = bump_generation(qs, txn);
		if (rc == MDB_SUCCESS)
			rc = stamp_indexes(qs, txn);
		if (rc != MDB_SUCCESS) {
			mdb_txn_abort(txn);
			return 0;
		}
		if (mdb_txn_commit(txn) != MDB_SUCCESS)
			return 0;
		qs->seq = 0;
	}
	qs->seq++;
	return (qid_t)(qs->generation & GEN_MASK) << 40 |
	       (qid_t)qs->shard_no << 32 | qs->seq;
}

/* ---- write transactions (committer thread) ---- */

/* queue_txn_begin - start a write transaction; NULL with *err set */
struct queue_txn *
queue_txn_begin(struct queue_shard *qs, int *err)
{
	struct queue_txn *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL) {
		*err = QUEUE_ERR_IO;
		return NULL;
	}
	rc = mdb_txn_begin(qs->env, NULL, 0, &t->txn);
	if (rc != MDB_SUCCESS) {
		*err = map_err(rc);
		if (*err == QUEUE_ERR_NOTFOUND)
			*err = QUEUE_ERR_IO;
		free(t);
		return NULL;
	}
	t->qs = qs;
	*err = QUEUE_OK;
	return t;
}

/* Record an LMDB failure: the transaction is unusable from now on. */
static int
poison(struct queue_txn *t, int rc)
{
	int e = map_err(rc);

	if (e == QUEUE_ERR_NOTFOUND)
		e = QUEUE_ERR_IO; /* a put/del that should not miss */
	t->err = e;
	return e;
}

static int
put_env(struct queue_txn *t, const struct qenvelope *env, unsigned flags)
{
	struct queue_shard *qs = t->qs;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	int rc;

	put_be64(kb, env->id);
	buf_reset(&qs->scratch);
	if (qrec_encode(env, &qs->scratch) < 0)
		return QUEUE_ERR_IO; /* nothing written yet: not poisoned */
	v.mv_size = qs->scratch.len;
	v.mv_data = qs->scratch.data;
	rc = mdb_put(t->txn, qs->db_env, &k, &v, flags);
	if (rc == MDB_KEYEXIST)
		return QUEUE_ERR_IO; /* id reused; nothing written */
	return rc == MDB_SUCCESS ? QUEUE_OK : poison(t, rc);
}

static int
put_sched(struct queue_txn *t, int64_t when, qid_t id)
{
	uint8_t kb[16];
	MDB_val k = {16, kb}, v = {0, NULL};
	int rc;

	sched_key(kb, when, id);
	rc = mdb_put(t->txn, t->qs->db_sched, &k, &v, 0);
	return rc == MDB_SUCCESS ? QUEUE_OK : poison(t, rc);
}

static int
del_sched(struct queue_txn *t, int64_t when, qid_t id)
{
	uint8_t kb[16];
	MDB_val k = {16, kb};
	int rc;

	sched_key(kb, when, id);
	rc = mdb_del(t->txn, t->qs->db_sched, &k, NULL);
	if (rc == MDB_NOTFOUND)
		return QUEUE_OK;
	return rc == MDB_SUCCESS ? QUEUE_OK : poison(t, rc);
}

/* queue_txn_insert - envelope, body chunks and schedule entry */
int
queue_txn_insert(struct queue_txn *t, const struct qenvelope *env,
    const void *body, size_t body_len)
{
	const uint8_t *p = body;
	uint8_t kb[12];
	MDB_val k = {12, kb}, v;
	uint32_t chunk = 0;
	int rc;

	if (t->err != QUEUE_OK)
		return t->err;
	if (body_len > 0 && body == NULL)
		return QUEUE_ERR_IO;
	if (body_len / QUEUE_BODY_CHUNK >= UINT32_MAX)
		return QUEUE_ERR_FULL;
	rc = put_env(t, env, MDB_NOOVERWRITE);
	if (rc != QUEUE_OK)
		return rc;
	rc = qidx_add(t->txn, &t->qs->ix, env);
	if (rc != MDB_SUCCESS)
		return poison(t, rc);
	for (size_t off = 0; off < body_len; off += v.mv_size) {
		v.mv_size = body_len - off < QUEUE_BODY_CHUNK
				? body_len - off
				: QUEUE_BODY_CHUNK;
		v.mv_data = (void *)(p + off);
		body_key(kb, env->id, chunk++);
		rc = mdb_put(t->txn, t->qs->db_body, &k, &v, 0);
		if (rc != MDB_SUCCESS)
			return poison(t, rc);
	}
	return put_sched(t, env->next_attempt, env->id);
}

/* Decode the stored record v of id into *old; false if it does not
 * decode or names another id (its index entries cannot be derived). */
static bool
decode_old(const MDB_val *v, qid_t id, struct qenvelope *old)
{
	if (qrec_decode(v->mv_data, v->mv_size, old) < 0)
		return false;
	if (old->id != id) {
		qenvelope_free(old);
		return false;
	}
	return true;
}

/* queue_txn_update - replace the envelope and its index entries (the old
 * record is read and decoded first, in this transaction), move the
 * schedule entry */
int
queue_txn_update(
    struct queue_txn *t, const struct qenvelope *env, int64_t old_next_attempt)
{
	struct qenvelope old;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	bool have_old;
	int rc;

	if (t->err != QUEUE_OK)
		return t->err;
	put_be64(kb, env->id);
	rc = mdb_get(t->txn, t->qs->db_env, &k, &v);
	if (rc == MDB_NOTFOUND)
		return QUEUE_ERR_NOTFOUND; /* deleted: do not resurrect */
	if (rc != MDB_SUCCESS)
		return poison(t, rc);
	/* decode before put_env: v points into the page it replaces */
	have_old = decode_old(&v, env->id, &old);
	rc = put_env(t, env, 0);
	if (rc == QUEUE_OK) {
		int irc = qidx_update(
		    t->txn, &t->qs->ix, have_old ? &old : NULL, env);

		if (irc != MDB_SUCCESS)
			rc = poison(t, irc);
	}
	if (have_old)
		qenvelope_free(&old);
	if (rc == QUEUE_OK)
		rc = del_sched(t, old_next_attempt, env->id);
	if (rc == QUEUE_OK)
		rc = put_sched(t, env->next_attempt, env->id);
	return rc;
}

/* queue_txn_delete - remove envelope, every body chunk, schedule entry */
int
queue_txn_delete(struct queue_txn *t, qid_t id, int64_t next_attempt)
{
	uint8_t kb[12];
	MDB_val k = {8, kb}, v;
	MDB_cursor *c;
	bool missing;
	int rc;

	if (t->err != QUEUE_OK)
		return t->err;
	put_be64(kb, id);
	/* index entries first, derived from the stored record */
	rc = mdb_get(t->txn, t->qs->db_env, &k, &v);
	if (rc == MDB_SUCCESS) {
		struct qenvelope old;

		if (decode_old(&v, id, &old)) {
			rc = qidx_remove(t->txn, &t->qs->ix, &old);
			qenvelope_free(&old);
		} else {
			rc = qidx_remove_states(t->txn, &t->qs->ix, id);
		}
		if (rc == MDB_SUCCESS)
			rc = mdb_del(t->txn, t->qs->db_env, &k, NULL);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return poison(t, rc);
	missing = rc == MDB_NOTFOUND;
	rc = mdb_cursor_open(t->txn, t->qs->db_body, &c);
	if (rc != MDB_SUCCESS)
		return poison(t, rc);
	/* Position at the first chunk of id each time: chunks are removed
	 * in key order even if some number is missing. */
	for (;;) {
		body_key(kb, id, 0);
		k.mv_size = 12;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND ||
		    (rc == MDB_SUCCESS &&
			(k.mv_size != 12 || memcmp(k.mv_data, kb, 8) != 0))) {
			rc = MDB_SUCCESS;
			break;
		}
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_del(c, 0);
		if (rc != MDB_SUCCESS)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_SUCCESS)
		return poison(t, rc);
	rc = del_sched(t, next_attempt, id);
	if (rc == QUEUE_OK && missing)
		rc = QUEUE_ERR_NOTFOUND;
	return rc;
}

/* Consume one injected failure; true if this commit must fail. */
static bool
take_injected_failure(struct queue_shard *qs)
{
	int n = atomic_load_explicit(&qs->fail_commits, memory_order_relaxed);

	while (
	    n > 0 && !atomic_compare_exchange_weak_explicit(&qs->fail_commits,
			 &n, n - 1, memory_order_relaxed, memory_order_relaxed))
		;
	return n > 0;
}

/* queue_txn_commit - commit with full sync; QUEUE_OK only when durable */
int
queue_txn_commit(struct queue_txn *t)
{
	struct queue_shard *qs = t->qs;
	unsigned ms;
	int rc;

	if (t->err != QUEUE_OK) {
		rc = t->err;
		queue_txn_abort(t);
		return rc;
	}
	if (take_injected_failure(qs)) {
		queue_txn_abort(t);
		return QUEUE_ERR_FULL;
	}
	ms = atomic_load_explicit(&qs->delay_ms, memory_order_relaxed);
	if (ms > 0) {
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	rc = mdb_txn_commit(t->txn);
	free(t);
	rc = map_err(rc);
	return rc == QUEUE_ERR_NOTFOUND ? QUEUE_ERR_IO : rc;
}

/* queue_txn_abort - discard the transaction and free t */
void
queue_txn_abort(struct queue_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

/* ---- reads (any thread, one read transaction each) ---- */

static int
begin_read(struct queue_shard *qs, MDB_txn **txn)
{
	int rc = mdb_txn_begin(qs->env, NULL, MDB_RDONLY, txn);

	return rc == MDB_SUCCESS ? QUEUE_OK : QUEUE_ERR_IO;
}

/* queue_shard_read_envelope - decode the envelope of id into *env */
int
queue_shard_read_envelope(
    struct queue_shard *qs, qid_t id, struct qenvelope *env)
{
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	MDB_txn *txn;
	int rc;

	memset(env, 0, sizeof(*env));
	if ((rc = begin_read(qs, &txn)) != QUEUE_OK)
		return rc;
	put_be64(kb, id);
	rc = mdb_get(txn, qs->db_env, &k, &v);
	if (rc == MDB_SUCCESS) {
		if (qrec_decode(v.mv_data, v.mv_size, env) < 0) {
			rc = QUEUE_ERR_CORRUPT;
		} else if (env->id != id) {
			qenvelope_free(env);
			rc = QUEUE_ERR_CORRUPT;
		} else {
			rc = QUEUE_OK;
		}
	} else {
		rc = map_err(rc);
	}
	mdb_txn_abort(txn);
	return rc;
}

/* Append every chunk of id to out, checking numbering and sizes. */
static int
read_chunks(struct queue_shard *qs, MDB_txn *txn, qid_t id, struct buf *out)
{
	uint8_t kb[12];
	MDB_val k = {12, kb}, v;
	MDB_cursor *c;
	uint32_t want = 0;
	size_t prev = QUEUE_BODY_CHUNK;
	int rc;

	if (mdb_cursor_open(txn, qs->db_body, &c) != MDB_SUCCESS)
		return QUEUE_ERR_IO;
	body_key(kb, id, 0);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && k.mv_size == 12 &&
	       memcmp(k.mv_data, kb, 8) == 0) {
		if (get_be32((const uint8_t *)k.mv_data + 8) != want++ ||
		    prev != QUEUE_BODY_CHUNK || v.mv_size == 0 ||
		    v.mv_size > QUEUE_BODY_CHUNK) {
			rc = -1;
			break;
		}
		prev = v.mv_size;
		if (buf_append(out, v.mv_data, v.mv_size) < 0) {
			rc = -2;
			break;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(c);
	if (rc == -1)
		return QUEUE_ERR_CORRUPT;
	if (rc == -2 || (rc != MDB_SUCCESS && rc != MDB_NOTFOUND))
		return QUEUE_ERR_IO;
	return QUEUE_OK;
}

/* queue_shard_read_body - append the body of id to out (unchanged on
 * error) */
int
queue_shard_read_body(struct queue_shard *qs, qid_t id, struct buf *out)
{
	size_t start = out->len;
	uint8_t kb[8];
	MDB_val k = {8, kb}, v;
	MDB_txn *txn;
	int rc;

	if ((rc = begin_read(qs, &txn)) != QUEUE_OK)
		return rc;
	put_be64(kb, id);
	rc = mdb_get(txn, qs->db_env, &k, &v);
	if (rc == MDB_SUCCESS)
		rc = read_chunks(qs, txn, id, out);
	else
		rc = map_err(rc);
	mdb_txn_abort(txn);
	if (rc != QUEUE_OK)
		out->len = start;
	return rc;
}

/* Decode one "env" entry and hand it to fn. */
static int
scan_one(const MDB_val *k, const MDB_val *v,
    int (*fn)(void *arg, qid_t id, const struct qenvelope *env), void *arg)
{
	struct qenvelope env;
	qid_t id;
	int r;

	if (k->mv_size != 8)
		return fn(arg, 0, NULL);
	id = get_be64(k->mv_data);
	if (qrec_decode(v->mv_data, v->mv_size, &env) < 0)
		return fn(arg, id, NULL);
	r = fn(arg, id, env.id == id ? &env : NULL);
	qenvelope_free(&env);
	return r;
}

/* queue_shard_scan - every envelope in id order, read txn renewed every
 * SCAN_RENEW_EVERY entries so a long scan does not pin old pages */
int
queue_shard_scan(struct queue_shard *qs,
    int (*fn)(void *arg, qid_t id, const struct qenvelope *env), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	uint8_t last[8];
	size_t lastlen = 0;
	unsigned n = 0;
	int rc;

	if ((rc = begin_read(qs, &txn)) != QUEUE_OK)
		return rc;
	if (mdb_cursor_open(txn, qs->db_env, &c) != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return QUEUE_ERR_IO;
	}
	for (;;) {
		rc = mdb_cursor_get(c, &k, &v, op);
		if (rc != MDB_SUCCESS)
			break;
		op = MDB_NEXT;
		lastlen = k.mv_size < sizeof(last) ? k.mv_size : sizeof(last);
		memcpy(last, k.mv_data, lastlen);
		if (scan_one(&k, &v, fn, arg) != 0) {
			rc = MDB_NOTFOUND; /* stopped by fn */
			break;
		}
		if (++n % SCAN_RENEW_EVERY != 0)
			continue;
		/* New snapshot; continue after the last key seen (its copy:
		 * k points into the old snapshot). */
		mdb_txn_reset(txn);
		rc = mdb_txn_renew(txn);
		if (rc == MDB_SUCCESS)
			rc = mdb_cursor_renew(txn, c);
		if (rc != MDB_SUCCESS)
			break;
		k.mv_size = lastlen;
		k.mv_data = last;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc != MDB_SUCCESS)
			break;
		if (k.mv_size == lastlen &&
		    memcmp(k.mv_data, last, lastlen) == 0)
			op = MDB_NEXT; /* still there: step past it */
		else
			op = MDB_GET_CURRENT; /* first key after it */
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? QUEUE_OK : QUEUE_ERR_IO;
}

/* queue_shard_count - number of messages (entries of "env") */
size_t
queue_shard_count(struct queue_shard *qs)
{
	MDB_txn *txn;
	MDB_stat st;
	size_t n = 0;

	if (begin_read(qs, &txn) != QUEUE_OK)
		return 0;
	if (mdb_stat(txn, qs->db_env, &st) == MDB_SUCCESS)
		n = st.ms_entries;
	mdb_txn_abort(txn);
	return n;
}

#ifdef RINGMX_TESTING
/* queue_shard_inject_commit_failure - next n commits fail with FULL */
void
queue_shard_inject_commit_failure(struct queue_shard *qs, int n)
{
	atomic_store_explicit(&qs->fail_commits, n, memory_order_relaxed);
}

/* queue_shard_inject_commit_delay - sleep ms before each commit */
void
queue_shard_inject_commit_delay(struct queue_shard *qs, unsigned ms)
{
	atomic_store_explicit(&qs->delay_ms, ms, memory_order_relaxed);
}

/* queue_shard_test_set_seq - set the last sequence number handed out */
void
queue_shard_test_set_seq(struct queue_shard *qs, uint32_t seq)
{
	qs->seq = seq;
}
#endif
