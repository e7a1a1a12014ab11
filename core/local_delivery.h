/*
 * local_delivery.h - delivery of a queued message's local recipients
 * into Maildirs, as an offload job (runs on the worker's helper thread:
 * it reads the body from the shard in a read transaction and writes,
 * fsyncs and renames files). Decides nothing about retries or queue
 * removal; the scheduler does, on the loop thread, from the job's result.
 */
#ifndef RINGMX_LOCAL_DELIVERY_H
#define RINGMX_LOCAL_DELIVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "offload.h"
#include "queue_record.h"
#include "queue_shard.h"

/* Where a recipient goes, as decided by the ROUTE hook (or the default:
 * local domains to Maildir, everything else remote). */
enum route_kind {
	ROUTE_DEFAULT = 0,
	ROUTE_MAILDIR,
	ROUTE_DISCARD, /* accepted and dropped: counts as delivered */
	ROUTE_HOLD,    /* stays queued, not attempted */
	ROUTE_REMOTE,  /* SMTP/LMTP/MX: the outbound transport's (later) */
};

struct local_delivery_job {
	struct offload_job base; /* first: the offload link */
	const struct rmx_config *cfg;
	struct queue_shard *shard;
	struct qenvelope *env; /* owned by the job's submitter; the helper
				  updates rcpts[].state/last_error */
	unsigned delivered;    /* set by the helper: recipients delivered */
	unsigned failed;       /* temporary failures */
	unsigned no_route;     /* pending recipients that are not local */
	int body_err;          /* QUEUE_OK or why the body was unreadable */
	const uint8_t *routes; /* per recipient enum route_kind, or NULL */
};

/* Initialise job for env; the caller then offload_submit()s &job->base. */
void local_delivery_job_init(struct local_delivery_job *job,
    const struct rmx_config *cfg, struct queue_shard *shard,
    struct qenvelope *env);

/* Whether addr ("local@domain" or a bare local part) is delivered here. */
bool local_delivery_is_local(const struct rmx_config *cfg, const char *addr);

#endif
