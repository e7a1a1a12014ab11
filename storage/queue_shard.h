/*
 * queue_shard.h - one LMDB environment holding one worker's queue:
 * <state_dir>/queue/shard-N/. Owns the schema:
 *   "env"   qid (8 bytes big-endian) -> queue_record encoding
 *   "body"  qid || chunk# (4 bytes BE) -> up to 64 KiB of message body
 *   "sched" next_attempt (8 BE) || qid (8 BE) -> empty   (schedule index)
 *   "meta"  "generation" -> u32, "version" -> u32 schema version (1.1)
 *   "ix_*"  secondary indexes (schema 1.1), maintained inside the same
 *           write transaction as every envelope change: queue_index.h;
 *           queried through queue_query.h. A shard written by a build
 *           without them is migrated (indexes built) at open.
 * Opened with default (full) sync: never MDB_NOSYNC, MDB_MAPASYNC,
 * MDB_WRITEMAP or MDB_NOMETASYNC; MDB_NOTLS so read transactions may be
 * used from any thread.
 *
 * Threads: write transactions only on the shard's committer thread
 * (queue_commit.c); read functions (queue_shard_read_*, _scan) on any
 * thread, each in its own short read transaction.
 */
#ifndef RINGMX_QUEUE_SHARD_H
#define RINGMX_QUEUE_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "queue_record.h"

#define QUEUE_BODY_CHUNK (64 * 1024)

struct queue_shard;

/* Errors returned by shard operations. */
enum queue_err {
	QUEUE_OK = 0,
	QUEUE_ERR_FULL = -1, /* map or disk full: answer 452 4.3.1 */
	QUEUE_ERR_IO = -2,   /* other storage failure: 452 4.3.1 */
	QUEUE_ERR_NOTFOUND = -3,
	QUEUE_ERR_CORRUPT = -4, /* record does not decode */
	QUEUE_ERR_INVALID = -5, /* bad argument (queue_query filters) */
};

/*
 * queue_shard_open - open (creating if needed) shard number shard_no in
 * directory dir, with a map of map_size bytes; bumps and durably commits
 * the generation used for new queue ids. When the shard has no (or stale)
 * secondary indexes they are built first (logged as
 * event=queue_index_rebuild; takes a few seconds per million messages).
 * On failure returns NULL and writes a message into err.
 */
struct queue_shard *queue_shard_open(const char *dir, unsigned shard_no,
    size_t map_size, char *err, size_t errlen);
void queue_shard_close(struct queue_shard *qs);
unsigned queue_shard_number(const struct queue_shard *qs);

/* queue_shard_new_id - a fresh id (owning worker's loop thread only).
 * When the 32-bit sequence of the current generation is exhausted it
 * bumps the generation durably (one short write transaction, serialised
 * with the committer's by LMDB); returns 0 (never a valid id) only if
 * that fails: treat it like QUEUE_ERR_IO. */
qid_t queue_shard_new_id(struct queue_shard *qs);

/* Operations applied by the committer inside one write transaction.
 * An operation that fails before writing anything leaves the transaction
 * usable: QUEUE_ERR_NOTFOUND (update/delete of a missing message) and
 * QUEUE_ERR_IO from insert (id already stored, envelope not encodable).
 * After an LMDB failure the transaction is poisoned: later operations
 * return that error and queue_txn_commit aborts and returns it. */
struct queue_txn;
struct queue_txn *queue_txn_begin(struct queue_shard *qs, int *err);
/* Store a new message: envelope + body split into 64 KiB chunks +
 * schedule entry + index entries. */
int queue_txn_insert(struct queue_txn *t, const struct qenvelope *env,
    const void *body, size_t body_len);
/* Replace the envelope (state change, reschedule); keeps the body. The
 * stored envelope is read first and the index entries that differ are
 * moved (state, pending recipients/domains, sender, received). */
int queue_txn_update(
    struct queue_txn *t, const struct qenvelope *env, int64_t old_next_attempt);
/* Remove envelope, body chunks, schedule and index entries. */
int queue_txn_delete(struct queue_txn *t, qid_t id, int64_t next_attempt);
/* Commit (full sync). Returns QUEUE_OK only when durable. Frees t. */
int queue_txn_commit(struct queue_txn *t);
void queue_txn_abort(struct queue_txn *t);

/* Read the envelope of id (any thread). */
int queue_shard_read_envelope(
    struct queue_shard *qs, qid_t id, struct qenvelope *env);
/* Append the whole body of id to out (any thread). */
int queue_shard_read_body(struct queue_shard *qs, qid_t id, struct buf *out);
/* Call fn for every envelope in the shard (in id order), in read
 * transactions renewed every 1000 entries. fn returns 0 to go on (any
 * other value stops the scan, which then returns QUEUE_OK). Records that
 * do not decode are reported through fn with env == NULL; env is only
 * valid during the call. */
int queue_shard_scan(struct queue_shard *qs,
    int (*fn)(void *arg, qid_t id, const struct qenvelope *env), void *arg);
/* Number of messages in the shard. */
size_t queue_shard_count(struct queue_shard *qs);

/* For tests: the flags LMDB reports for the environment. */
unsigned queue_shard_env_flags(struct queue_shard *qs);

#ifdef RINGMX_TESTING
/* Make the next n commits fail as if the disk were full. */
void queue_shard_inject_commit_failure(struct queue_shard *qs, int n);
/* Make every later commit sleep ms milliseconds before mdb_txn_commit
 * (0 = off): lets tests observe a batch that is not committed yet. */
void queue_shard_inject_commit_delay(struct queue_shard *qs, unsigned ms);
/* Set the last sequence number handed out (tests of the wrap-around). */
void queue_shard_test_set_seq(struct queue_shard *qs, uint32_t seq);
#endif

#endif
