/*
 * ctl_msg.h - a request from the control thread to one worker, and its
 * answer. The control thread owns the message: it fills the request,
 * hands it to worker_ctl() and waits until `done` is set (by the worker,
 * with release order, after writing the answer), then reads the answer
 * and frees it. Between worker_ctl() and done the worker owns the fields
 * it writes (status, err, count). SHARED between exactly these two
 * threads; the worker never keeps a pointer after setting done.
 */
#ifndef RINGMX_CTL_MSG_H
#define RINGMX_CTL_MSG_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "queue_record.h"

enum ctl_op {
	CTL_PAUSE = 1, /* listener index li (-1: all): stop accepting */
	CTL_UNPAUSE,   /* ... accept again */
	CTL_HOLD,      /* queue ops on message id */
	CTL_RELEASE,
	CTL_RETRY,
	CTL_DELETE,
	CTL_BOUNCE,
	CTL_SUSPEND, /* domain: no delivery attempts to it */
	CTL_RESUME,
};

struct ctl_msg {
	enum ctl_op op;
	int li;           /* listener, -1 = all */
	qid_t id;         /* message */
	char domain[256]; /* lower-case */
	/* answer */
	int status; /* 0 ok, -1 failed (err), 1 not here (other worker) */
	char err[200];
	int notify_fd; /* eventfd the worker writes after setting done */
	atomic_int done;
	struct ctl_msg *next; /* worker's mailbox link */
};

/* ctl_reply - the worker's answer: fill, publish, wake the control
 * thread. After this the worker must not touch m. */
static inline void
ctl_reply(struct ctl_msg *m, int status, const char *err)
{
	uint64_t one = 1;
	int fd = m->notify_fd;

	m->status = status;
	if (err != NULL)
		snprintf(m->err, sizeof(m->err), "%s", err);
	atomic_store_explicit(&m->done, 1, memory_order_release);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the control thread is awake anyway */
	}
}

#endif
