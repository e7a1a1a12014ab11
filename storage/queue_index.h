/*
 * queue_index.h - the secondary indexes of a queue shard (storage-internal
 * header: only the storage sources, tests and storage tools include it; it
 * pulls in lmdb.h). The public read API over these indexes is queue_query.h.
 *
 * Five dupsort|dupfixed DBIs per shard (schema 1.1), every value the
 * 8-byte big-endian qid, so the duplicates of one key are in qid order:
 *   "ix_rcpt"    lower-case address of every PENDING recipient
 *   "ix_domain"  lower-case domain (after the last '@') of every PENDING
 *                recipient; a message counts once per distinct domain
 *   "ix_sender"  lower-case sender address; "\0" (one NUL byte) for <>
 *   "ix_state"   "A" active (not held, attempts == 0), "D" deferred (not
 *                held, attempts > 0), "H" held (env.held)
 *   "ix_time"    received (8 BE, negative stored as 0) || qid (8 BE)
 * plus "ix_meta" (not dupsort): "generation" -> u32 BE, the shard
 * generation at which the indexes were last known to be complete (see
 * queue_shard.c: a build without indexes that opened the shard in between
 * bumped the generation, so the indexes are rebuilt).
 * String keys are truncated to QIDX_KEY_MAX bytes (LMDB keys are at most
 * 511); an empty string (recipient without '@', empty address) is the
 * key "\0". Lower-casing is ASCII only; UTF-8 bytes are kept as they are.
 * Index entries are only hints: readers decode the envelope and check the
 * filter on it, so truncation and collisions cost time, never results.
 *
 * Here: key derivation from an envelope, the index DBIs' names and flags,
 * adding/removing/diffing a message's entries inside a write transaction.
 * Not here: transactions and the schema version (queue_shard.c), queries
 * (queue_query.c).
 *
 * Threads: the qidx_* write functions run inside a write transaction,
 * i.e. on the shard's committer thread (or the opener's thread during the
 * migration at open). The key functions are pure.
 */
#ifndef RINGMX_QUEUE_INDEX_H
#define RINGMX_QUEUE_INDEX_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_record.h"
#include "queue_shard.h"

#define QIDX_KEY_MAX 400 /* bytes of a string key (LMDB max 511) */

/* Which index a key belongs to (also the order of struct qidx_dbis). */
enum qidx_which {
	QIDX_RCPT = 0,
	QIDX_DOMAIN,
	QIDX_SENDER,
	QIDX_STATE,
	QIDX_TIME,
	QIDX_COUNT
};

/* State keys of "ix_state" (one byte each). */
#define QIDX_STATE_ACTIVE   'A'
#define QIDX_STATE_DEFERRED 'D'
#define QIDX_STATE_HELD     'H'

/* The DBI handles of one shard's indexes (valid for the environment's
 * life once opened; read-only after queue_shard_open). */
struct qidx_dbis {
	MDB_dbi ix[QIDX_COUNT];
	MDB_dbi meta; /* "ix_meta" */
};

/* Open (creating) every index DBI inside txn (a write transaction).
 * LMDB code. */
int qidx_open(MDB_txn *txn, struct qidx_dbis *d);
/* Empty every index DBI (rebuild). LMDB code. */
int qidx_drop(MDB_txn *txn, const struct qidx_dbis *d);

/* Lower-case s (ASCII) into out, at most QIDX_KEY_MAX bytes; an empty s
 * gives the one-byte key "\0". Returns the key length (>= 1). */
size_t qidx_str_key(const char *s, uint8_t out[QIDX_KEY_MAX]);
/* The domain of addr: the part after the last '@', or "" without one. */
const char *qidx_domain_of(const char *addr);
/* The state key (QIDX_STATE_*) of env. */
uint8_t qidx_state_of(const struct qenvelope *env);
/* Case-insensitive (ASCII) equality of two strings. */
int qidx_str_eq(const char *a, const char *b);

/* Add every index entry of env (id env->id). LMDB code (MDB_SUCCESS,
 * ENOMEM before anything was written, or the LMDB failure). */
int qidx_add(
    MDB_txn *txn, const struct qidx_dbis *d, const struct qenvelope *env);
/* Remove every index entry of env; entries already missing are fine. */
int qidx_remove(
    MDB_txn *txn, const struct qidx_dbis *d, const struct qenvelope *env);
/* Remove the state entries (every state) of id: what can be removed
 * when the old record does not decode. */
int qidx_remove_states(MDB_txn *txn, const struct qidx_dbis *d, qid_t id);
/* Replace the entries of old_env by those of new_env (same id): only the
 * entries that differ are deleted/added. old_env NULL (old record did not
 * decode): the state entries of every state are removed and the new
 * entries added; the old record's other entries stay as stale hints
 * (readers re-check the envelope; the next rebuild drops them). */
int qidx_update(MDB_txn *txn, const struct qidx_dbis *d,
    const struct qenvelope *old_env, const struct qenvelope *new_env);

/* Storage-internal accessors (implemented in queue_shard.c): the LMDB
 * environment, the "env" DBI and the index DBIs of qs, for read
 * transactions on any thread (queue_query.c). */
MDB_env *queue_shard_lmdb_env(struct queue_shard *qs);
MDB_dbi queue_shard_env_dbi(const struct queue_shard *qs);
const struct qidx_dbis *queue_shard_index_dbis(const struct queue_shard *qs);
/* Messages indexed by the rebuild done when this handle was opened (a
 * migration from schema 1.0, or stale indexes); 0 when none was needed.
 * Records that did not decode are counted in *corrupt (may be NULL). */
size_t queue_shard_index_rebuilt(const struct queue_shard *qs, size_t *corrupt);

#endif
