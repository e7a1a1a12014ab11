/*
 * worker.h - one worker thread: its io_uring, its listening sockets, its
 * connections and SMTP sessions, its timers, its queue shards with their
 * committer thread, its offload thread and its delivery scheduler.
 * Everything here is owned by the worker and touched only by its thread,
 * except the fields marked SHARED.
 */
#ifndef RINGMX_WORKER_H
#define RINGMX_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ip_limit.h"
#include "plugin_host.h"
#include "queue_shard.h"

struct worker;

struct worker_params {
	unsigned index;
	const struct rmx_config *cfg;
	struct ip_limit *iplim;    /* SHARED by all workers (lock-free) */
	struct ip_limit *authfail; /* SHARED: AUTH failures per client IP */
	struct ip_limit *dests; /* SHARED: outbound connections per destination
				  and in total (lock-free) */
	struct ip_limit
	    *rates; /* SHARED: messages per destination per minute */
	struct plugin_host *plugins; /* SHARED read-only; NULL = none */
	/* worker 0: what the metrics endpoint shows (SHARED read-only) */
	const struct metrics_src *metrics;
	struct queue_shard **shards; /* ownership passes to the worker;
					shards[0] receives new mail */
	size_t nshards;
};

/* Create a worker (does not start it). NULL on allocation failure. */
struct worker *worker_new(const struct worker_params *p);
/* Reads RINGMX_POLL_WAIT (a profiling aid for callgrind, see worker.c);
 * call once before any worker starts. */
void worker_read_env(void);
/* Start its thread; the thread sets up its ring and listeners. */
int worker_start(struct worker *w);
/* Wait until the worker is accepting (0) or failed (-1, err filled). */
int worker_wait_ready(struct worker *w, char *err, size_t errlen);
/* Ask for a graceful stop (any thread; async-signal-safe apart from the
 * atomic store and one write(2)). */
void worker_request_stop(struct worker *w);
/* Re-read the certificate and key files of every TLS listener, on the
 * worker's offload thread, and swap them in; a file that fails leaves the
 * old ones in use (logged). Any thread. */
void worker_reload_tls(struct worker *w);
/* Adopt a reloaded configuration at the next loop turn: listeners added
 * or removed, limits, outbound and queue settings (not: workers,
 * state_dir, DNS, plugins set). ncfg must stay valid until exit (sessions
 * keep pointers into older ones). Any thread. */
void worker_reconfigure(struct worker *w, const struct rmx_config *ncfg);
/* Hand a control request (ctl_msg.h) to the worker; any thread. The
 * answer comes with ctl_reply(). */
struct ctl_msg;
void worker_ctl(struct worker *w, struct ctl_msg *m);
/* Whether listener li is paused on this worker (any thread). */
bool worker_paused(const struct worker *w, size_t li);
/* The worker's counters (stats.h; relaxed reads from any thread). */
struct stats;
const struct stats *worker_stats(const struct worker *w);
/* Whether the worker's thread has finished (any thread). */
bool worker_done(struct worker *w);
/* Join the thread and free the worker (and its shards). */
void worker_join_free(struct worker *w);

#endif
