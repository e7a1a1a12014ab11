/*
 * bounce.h - delivery status notifications as queued mail: after a
 * delivery attempt, the recipients that failed (and, when asked for, the
 * ones delivered or still delayed) are reported to the envelope sender in
 * one RFC 3464 report (core/dsn.c builds it), which is inserted into the
 * worker's queue shard through its committer, durable like any message,
 * and then delivered by the scheduler. Reports are sent from <>; mail
 * from <> is never reported on (a double bounce is logged and dropped).
 * Owned by the worker's loop thread.
 */
#ifndef RINGMX_BOUNCE_H
#define RINGMX_BOUNCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dsn.h"
#include "queue_commit.h"
#include "queue_shard.h"

#define BOUNCE_OWNER_TAG 3 /* qop.owner_gen of bounce inserts */

/* One report being committed (owned by bounce.c until bounce_done). */
struct bounce;

/*
 * bounce_report - build the report of rcpts (n of them) about env (whose
 * body is read from orig_shard) and submit its insert into shard through
 * qc. Returns 0 when submitted (bounce_done follows), 1 when nothing was
 * due (null sender: logged), -1 on failure (logged; the caller may retry
 * at the next attempt).
 */
int bounce_report(const struct rmx_config *cfg, struct queue_committer *qc,
    struct queue_shard *shard, struct queue_shard *orig_shard,
    const struct qenvelope *env, const struct dsn_rcpt *rcpts, size_t n,
    int64_t now);

/* bounce_done - the insert op of a report returned: on success returns
 * a heap copy of the report's envelope for the scheduler (free with
 * qenvelope_free + free), else NULL. Frees the report. */
struct qenvelope *bounce_done(struct qop *op, struct queue_shard **shard);

/* bounce_status - the RFC 3463 code in an error text such as
 * "550 5.1.1 no such user" into out ("5.1.1", any class);
 * "<defclass>.0.0" if there is none. */
void bounce_status(const char *err, char defclass, char out[16]);

#endif
