/*
 * control.h - the control socket: a Unix stream socket (mode 0600, or
 * 0660 for control_group) served by one thread of its own, speaking
 * line-delimited JSON (docs/control-protocol.md). Every connection's
 * peer credentials are checked (SO_PEERCRED: root, our own user, or the
 * control group). Reads (status, counters, queue listings) never involve
 * the workers: counters are relaxed atomic reads, the queue is read in
 * short LMDB read transactions. Changes go to the owning worker as
 * messages (ctl_msg.h) and are answered once durable. Reload runs on the
 * main thread (control_main_poll).
 *
 * Not here: the client (tools/ringmxctl.c), the counters themselves
 * (stats.h), what a worker does with a request (worker.c, scheduler.c).
 *
 * Threads: control_start/stop and control_main_poll on the main thread;
 * everything else on the control thread. struct control_env is read-only
 * once started; the workers, shards and plugin host it points to outlive
 * the control thread (control_stop comes first at shutdown).
 */
#ifndef RINGMX_CONTROL_H
#define RINGMX_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "plugin_host.h"
#include "queue_shard.h"
#include "worker.h"

struct control_env {
	const struct rmx_config *cfg;
	const char *config_path; /* for reload (NULL: embedded default) */
	struct worker **workers;
	unsigned nworkers;
	struct plugin_host *plugins; /* may be NULL */
	struct queue_shard **shards; /* every open shard, read-only here */
	size_t nshards;
	int64_t started; /* unix seconds */
};

/* Reload on the main thread: 0 ok, -1 with the reason in msg. */
typedef int control_reload_fn(void *arg, char *msg, size_t msglen);

struct control;

/* Bind the socket and start the thread. NULL with err on failure (the
 * daemon does not start: an operator expects the socket). */
struct control *control_start(
    const struct control_env *env, char *err, size_t errlen);
/* Stop the thread, close and unlink the socket. NULL is fine. */
void control_stop(struct control *c);
/* Free it: after the workers are gone (a worker logging at the moment of
 * control_stop may still be inside the trace tap). NULL is fine. */
void control_free(struct control *c);
/* Main loop, every turn: run a reload the control thread asked for. */
void control_main_poll(struct control *c, control_reload_fn *fn, void *arg);
#ifdef RINGMX_TESTING
/* The answer line to one request (no workers, shards or threads): for
 * the fuzz target. Caller frees. */
char *control_test_request(
    const struct rmx_config *cfg, const char *line, size_t len);
#endif
/* A reloaded configuration (main thread; valid until exit). */
void control_set_config(struct control *c, const struct rmx_config *ncfg);
/* The socket path in use (for logs). */
const char *control_path(const struct control *c);

#endif
