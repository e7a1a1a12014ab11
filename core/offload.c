/*
 * offload.c - one helper thread fed through lock-free stacks (see
 * offload.h). Knows nothing about what the jobs do.
 */
#include "offload.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

struct offload {
	_Atomic(struct offload_job *) todo; /* pushed by loop */
	_Atomic(struct offload_job *) done; /* pushed by helper */
	atomic_bool stop;
	int wake_fd;   /* helper sleeps on it */
	int notify_fd; /* the worker's eventfd */
	pthread_t thread;
	char name[16];
};

static void
push(_Atomic(struct offload_job *) *head, struct offload_job *j)
{
	struct offload_job *old =
	    atomic_load_explicit(head, memory_order_relaxed);
	do {
		j->next = old;
	} while (!atomic_compare_exchange_weak_explicit(
	    head, &old, j, memory_order_release, memory_order_relaxed));
}

/* Take the whole stack and return it in FIFO order. */
static struct offload_job *
drain(_Atomic(struct offload_job *) *head)
{
	struct offload_job *l =
	    atomic_exchange_explicit(head, NULL, memory_order_acquire);
	struct offload_job *r = NULL;

	while (l != NULL) {
		struct offload_job *n = l->next;
		l->next = r;
		r = l;
		l = n;
	}
	return r;
}

static void
signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t r;

	do {
		r = write(fd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
}

static void *
helper_main(void *arg)
{
	struct offload *o = arg;
	uint64_t v;

	pthread_setname_np(pthread_self(), o->name);
	for (;;) {
		struct offload_job *j = drain(&o->todo), *n;

		if (j == NULL) {
			if (atomic_load(&o->stop))
				break;
			if (read(o->wake_fd, &v, sizeof(v)) < 0 &&
			    errno != EINTR && errno != EAGAIN)
				break;
			continue;
		}
		for (; j != NULL; j = n) {
			n = j->next;
			j->run(j);
			push(&o->done, j);
			signal_fd(o->notify_fd);
		}
	}
	/* Jobs may use ECC (TLS certificate self-tests): free wolfSSL's
	 * per-thread fixed-point cache before the thread ends. */
	wc_ecc_fp_free();
	return NULL;
}

/* offload_start - create the helper thread */
struct offload *
offload_start(int notify_fd, const char *name)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->notify_fd = notify_fd;
	strncpy(o->name, name, sizeof(o->name) - 1);
	o->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (o->wake_fd < 0) {
		free(o);
		return NULL;
	}
	if (pthread_create(&o->thread, NULL, helper_main, o) != 0) {
		close(o->wake_fd);
		free(o);
		return NULL;
	}
	return o;
}

/* offload_submit - hand a job to the helper (never blocks) */
void
offload_submit(struct offload *o, struct offload_job *job)
{
	push(&o->todo, job);
	signal_fd(o->wake_fd);
}

/* offload_reap - completed jobs, FIFO */
struct offload_job *
offload_reap(struct offload *o)
{
	return drain(&o->done);
}

/* offload_stop - drain, join, free; returns the unreaped completions */
struct offload_job *
offload_stop(struct offload *o)
{
	struct offload_job *rest;

	if (o == NULL)
		return NULL;
	atomic_store(&o->stop, true);
	signal_fd(o->wake_fd);
	pthread_join(o->thread, NULL);
	close(o->wake_fd);
	rest = drain(&o->done);
	free(o);
	return rest;
}
