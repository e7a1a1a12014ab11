/*
 * offload.h - a worker's helper thread for blocking work (Maildir writes
 * with fsync today; PAM, RSA and other blocking or CPU-heavy jobs later).
 *
 * SHARED between the owning worker loop and the helper thread only: two
 * lock-free intrusive stacks (submitted, done), each pushed by one thread
 * and drained whole by the other with an atomic exchange (release on
 * push, acquire on drain). The worker is woken through its notify eventfd;
 * the helper sleeps on its own eventfd. A job is owned by the helper from
 * submit until it appears in offload_reap's list.
 */
#ifndef RINGMX_OFFLOAD_H
#define RINGMX_OFFLOAD_H

struct offload_job {
	void (*run)(struct offload_job *job); /* runs on the helper thread */
	struct offload_job *next;             /* private link */
};

struct offload;

struct offload *offload_start(int notify_fd, const char *name);
/* Finish every submitted job, join the thread, free o, and return the
 * completed jobs nobody reaped yet (FIFO) for the caller to dispose of. */
struct offload_job *offload_stop(struct offload *o);
void offload_submit(struct offload *o, struct offload_job *job);
/* Completed jobs in submission order (loop thread). */
struct offload_job *offload_reap(struct offload *o);

#endif
