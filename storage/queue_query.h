/*
 * queue_query.h - read-only queue inspection for the control socket and
 * tools: listing messages by filter (sender, recipient, recipient domain,
 * state, age) with pagination, a per-domain summary (like Postfix's
 * qshape) and per-state counts, all served from a shard's secondary
 * indexes (queue_index.h) in short LMDB read transactions.
 *
 * Not here: changing the queue (the committer, queue_commit.h), index
 * maintenance (queue_index.c, inside every write transaction).
 *
 * Threads: any thread, any number at once, while the shard is open (the
 * environments use MDB_NOTLS). Nothing is locked and the workers never
 * wait for a query: a read transaction only pins the pages of its
 * snapshot, and each one is reset and renewed every QUERY_RENEW_EVERY
 * index entries, so a long listing cannot make the map grow. Callbacks
 * run on the calling thread, inside a read transaction: they must not
 * close the shard; they may call other read functions.
 *
 * Consistency: each renewal takes a new snapshot. A listing continues in
 * the chosen index after the last position it visited, so across a
 * renewal a message changed meanwhile may be missed (it moved to a key
 * or position already passed) or seen twice (it moved to one ahead, e.g.
 * re-inserted under a larger time key); a message is never reported in
 * a state it did not have in the snapshot it was read from. Within one
 * index key the ids are unique and increasing, so in qid-ordered walks a
 * message is never reported twice, and pagination (`after` = the last id
 * returned) continues exactly after it even if that message is gone.
 * The summary and counts are per snapshot; the summary may count a
 * message that moved during a renewal in two domains or states, or none.
 */
#ifndef RINGMX_QUEUE_QUERY_H
#define RINGMX_QUEUE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "queue_record.h"
#include "queue_shard.h"

/* Message states (derived from the envelope, see queue_index.h). */
#define QSTATE_ACTIVE   0 /* not held, attempts == 0 */
#define QSTATE_DEFERRED 1 /* not held, attempts > 0 */
#define QSTATE_HELD     2 /* env.held */

#define QUERY_RENEW_EVERY 2000u /* index entries per read snapshot */

/* Filters; every one given must hold (AND). Strings compare
 * case-insensitively (ASCII) with the whole address / domain. */
struct queue_filter {
	const char *sender; /* NULL any; "" the null sender <> */
	const char *rcpt;   /* NULL any; a PENDING recipient's address */
	const char *domain; /* NULL any; a PENDING recipient's domain */
	int state;          /* -1 any, QSTATE_ACTIVE/_DEFERRED/_HELD */
	int64_t older_than; /* received before this unix time, 0 = any */
};

/*
 * queue_query - call cb for each message matching f (NULL: all), at most
 * limit of them (0 = no limit). cb returns non-zero to stop; env is valid
 * only during the call (copy with qenvelope_copy to keep it).
 *
 * The walk uses the most selective filter's index: rcpt > sender >
 * domain > state > older_than; without any, the envelopes in qid order.
 * Cost: O(entries under the chosen key + matches), never a scan of the
 * shard when one of rcpt/sender/domain/state is given. Order and `after`:
 *  - rcpt/sender/domain/state walks and the unfiltered walk return
 *    messages in increasing qid and start after qid `after` (0 = from
 *    the start): pass the last id returned to get the next page;
 *  - an older_than-only walk returns messages in (received, qid) order
 *    (oldest first) and resumes after the message `after`, which must
 *    still be in the shard (it is looked up for its received time):
 *    otherwise QUEUE_ERR_NOTFOUND, and the caller restarts with after 0
 *    (or pages on by the received time it already has).
 * Returns the number of matches passed to cb (>= 0) or a negative enum
 * queue_err: QUEUE_ERR_INVALID (bad state), QUEUE_ERR_NOTFOUND (see
 * above), QUEUE_ERR_IO. Index entries whose envelope is missing or does
 * not decode are skipped.
 */
int queue_query(struct queue_shard *qs, const struct queue_filter *f,
    qid_t after, size_t limit,
    int (*cb)(void *arg, const struct qenvelope *env), void *arg);

/*
 * queue_summary - for each recipient domain with pending recipients (in
 * byte order of the lower-cased domain), the number of messages per
 * state having at least one pending recipient there; a message with
 * recipients in two domains counts in both. Domain "" gathers addresses
 * without '@'. Costs O(index entries) plus one state lookup per entry;
 * no envelope is decoded. cb returns non-zero to stop. QUEUE_OK or
 * QUEUE_ERR_IO.
 */
int queue_summary(struct queue_shard *qs,
    int (*cb)(void *arg, const char *domain, unsigned active, unsigned deferred,
	unsigned held),
    void *arg);

/*
 * queue_count - messages per state, from the state index key counts
 * (mdb_cursor_count: no walk). Any pointer may be NULL. QUEUE_OK or
 * QUEUE_ERR_IO (the outputs are then 0).
 */
int queue_count(struct queue_shard *qs, unsigned *active, unsigned *deferred,
    unsigned *held);

#endif
