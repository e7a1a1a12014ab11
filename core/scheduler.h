/*
 * scheduler.h - a worker's delivery scheduler: which queued message is
 * delivered when. Holds the envelopes of the worker's queued messages in
 * a ready list and a min-heap by next attempt; starts local delivery jobs
 * on the worker's offload thread; after each attempt records the result
 * durably through the committer (update with the next attempt time and
 * backoff, or delete once every recipient is done). Owned by one worker,
 * used only on its loop thread.
 */
#ifndef RINGMX_SCHEDULER_H
#define RINGMX_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "offload.h"
#include "plugin_host.h"
#include "queue_commit.h"

#define SCHED_OWNER_TAG 2 /* qop.owner_gen value of scheduler ops */

struct scheduler;

struct scheduler *scheduler_new(const struct rmx_config *cfg,
    struct offload *off, struct queue_committer *qc);
void scheduler_free(struct scheduler *s);
/* The worker's resolver for MX lookups (NULL: "mx" recipients wait). */
struct dns_resolver;
void scheduler_set_resolver(struct scheduler *s, struct dns_resolver *dns);
/* A reloaded configuration (valid until exit). */
void scheduler_set_config(struct scheduler *s, const struct rmx_config *cfg);
/* The worker's SMTP/LMTP client (NULL: remote recipients wait). */
struct outbound;
void scheduler_set_outbound(struct scheduler *s, struct outbound *ob);
/* The shard where this worker queues reports (DSNs). */
void scheduler_set_shard(struct scheduler *s, struct queue_shard *primary);
/* Plugins whose ROUTE hook picks each recipient's transport (may be
 * NULL). */
void scheduler_set_plugins(struct scheduler *s, struct plugin_worker *pw);
/* Take env (heap, ownership passes) of a message queued in shard. */
void scheduler_add(
    struct scheduler *s, struct queue_shard *shard, struct qenvelope *env);
/* Start attempts that are due at wall-clock time now. */
void scheduler_pump(struct scheduler *s, int64_t now);
/* An offload job of this scheduler finished. */
void scheduler_job_done(struct scheduler *s, struct offload_job *job);
/* A committer op with owner_gen == SCHED_OWNER_TAG returned. */
void scheduler_commit_done(struct scheduler *s, struct qop *op);
/* Jobs or commits in flight. */
bool scheduler_busy(const struct scheduler *s);
/* An operator request (ctl_msg.h): hold, release, retry, delete,
 * bounce a message of this worker, suspend or resume a domain. Answered
 * with ctl_reply() now or once durable; returns 1 without answering when
 * the message is not this worker's. */
struct ctl_msg;
int scheduler_ctl(struct scheduler *s, struct ctl_msg *m);
/* Messages known to the scheduler. */
uint64_t scheduler_count(const struct scheduler *s);
/* Backoff after n attempts: initial doubling, capped at max (seconds). */
int64_t scheduler_backoff(uint32_t attempts, unsigned initial, unsigned max);

#endif
