/*
 * metrics.c - Prometheus text exposition of the counters (see metrics.h).
 */
#include "metrics.h"

#include <stdbool.h>
#include <time.h>

#include "queue_query.h"
#include "stats.h"
#include "worker.h"

int
metrics_render(const struct metrics_src *src, struct buf *b)
{
	unsigned a = 0, d = 0, h = 0;
	int rc = 0;

	if (!atomic_load_explicit(&src->ready, memory_order_acquire))
		return 1;
	for (int i = 0; i < ST__COUNT; i++) {
		enum stat_id id = (enum stat_id)i;
		bool gauge = id == ST_CONN_OPEN;
		const char *sfx = gauge ? "" : "_total";
		rc |= buf_printf(b,
		    "# HELP ringmx_%s%s %s\n# TYPE ringmx_%s%s %s\n",
		    stat_name(id), sfx, stat_help(id), stat_name(id), sfx,
		    gauge ? "gauge" : "counter");
		for (unsigned w = 0; w < src->nworkers; w++)
			rc |= buf_printf(b, "ringmx_%s%s{worker=\"%u\"} %llu\n",
			    stat_name(id), sfx, w,
			    (unsigned long long)stat_get(
				worker_stats(src->workers[w]), id));
	}
	for (size_t i = 0; i < src->nshards; i++) {
		unsigned sa = 0, sd = 0, sh = 0;
		if (queue_count(src->shards[i], &sa, &sd, &sh) == 0) {
			a += sa;
			d += sd;
			h += sh;
		}
	}
	rc |= buf_printf(b,
	    "# HELP ringmx_queue_messages Messages in the queue by state\n"
	    "# TYPE ringmx_queue_messages gauge\n"
	    "ringmx_queue_messages{state=\"active\"} %u\n"
	    "ringmx_queue_messages{state=\"deferred\"} %u\n"
	    "ringmx_queue_messages{state=\"held\"} %u\n"
	    "# HELP ringmx_uptime_seconds Seconds since the start\n"
	    "# TYPE ringmx_uptime_seconds gauge\n"
	    "ringmx_uptime_seconds %lld\n",
	    a, d, h, (long long)((int64_t)time(NULL) - src->started));
	return rc != 0 ? -1 : 0;
}
