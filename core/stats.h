/*
 * stats.h - per-worker counters for `ringmxctl stats` and the Prometheus
 * metrics. Each worker owns one struct stats and is its only writer:
 * stat_inc() is a relaxed load and store (no locked instruction, no
 * shared cache line between workers); the control thread reads them with
 * relaxed loads (SHARED, read-only there). A thread-local pointer tells
 * code running on a worker (session, scheduler, outbound, plugin host)
 * where its worker's counters are; on other threads it is NULL and
 * stat_inc() does nothing.
 */
#ifndef RINGMX_STATS_H
#define RINGMX_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum stat_id {
	ST_CONN_ACCEPTED = 0, /* inbound connections greeted */
	ST_CONN_REFUSED,      /* refused at connect (limits) */
	ST_MSG_QUEUED,        /* messages accepted durably (250) */
	ST_REJ_CONNECT,       /* replies >= 400 by command ... */
	ST_REJ_HELO,
	ST_REJ_AUTH,
	ST_REJ_MAIL,
	ST_REJ_RCPT,
	ST_REJ_DATA,
	ST_REJ_OTHER,
	ST_AUTH_OK,
	ST_TLS_HANDSHAKES, /* inbound */
	ST_TLS_FAILED,
	ST_DELIVERED, /* recipients delivered (local or remote) */
	ST_DEFERRED,  /* recipient attempts that failed temporarily */
	ST_BOUNCED,   /* recipients failed permanently */
	ST_DNS_QUERIES,
	ST_DNS_CACHE_HITS,
	ST_PLUGIN_ACCEPT, /* plugin hook verdicts */
	ST_PLUGIN_REJECT,
	ST_PLUGIN_TEMPFAIL,
	ST_OUT_TLS,   /* outbound TLS handshakes */
	ST_CONN_OPEN, /* gauge: inbound connections open now */
	ST__COUNT
};

struct stats {
	_Alignas(64) atomic_uint_fast64_t v[ST__COUNT];
};

/* The calling worker's counters (NULL elsewhere). */
extern _Thread_local struct stats *stats_self;

static inline void
stat_add(enum stat_id id, uint64_t n)
{
	struct stats *s = stats_self;

	if (s != NULL)
		atomic_store_explicit(&s->v[id],
		    atomic_load_explicit(&s->v[id], memory_order_relaxed) + n,
		    memory_order_relaxed);
}

/* A gauge: the writer sets the value. */
static inline void
stat_set(enum stat_id id, uint64_t v)
{
	struct stats *s = stats_self;

	if (s != NULL)
		atomic_store_explicit(&s->v[id], v, memory_order_relaxed);
}

static inline void
stat_inc(enum stat_id id)
{
	stat_add(id, 1);
}

static inline uint64_t
stat_get(const struct stats *s, enum stat_id id)
{
	return atomic_load_explicit(&s->v[id], memory_order_relaxed);
}

/* Metric name ("connections_accepted") and help text of a counter. */
const char *stat_name(enum stat_id id);
const char *stat_help(enum stat_id id);

#endif
