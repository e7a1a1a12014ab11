/*
 * metrics.h - the Prometheus text exposition (format 0.0.4) of ringmx's
 * counters: every per-worker counter of stats.h (labelled worker="k"),
 * the queue by state (LMDB state index counts of every shard) and the
 * uptime. Used by the control socket (`ringmxctl metrics`) and the HTTP
 * endpoint (metrics_http.c).
 *
 * Threads: any; counters are relaxed atomic reads, the shards are read in
 * short read transactions. struct metrics_src is SHARED read-only (filled
 * by the main thread before the workers and the control thread start).
 */
#ifndef RINGMX_METRICS_H
#define RINGMX_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct worker;
struct queue_shard;

struct metrics_src {
	struct worker **workers;
	unsigned nworkers;
	struct queue_shard **shards;
	size_t nshards;
	int64_t started; /* unix seconds */
	/* set (release) by the main thread once every worker is in
	 * `workers`: before that metrics_render renders nothing */
	atomic_bool ready;
};

/* Append the exposition to b. 0, -1 out of memory, 1 not ready yet. */
int metrics_render(const struct metrics_src *src, struct buf *b);

#endif
