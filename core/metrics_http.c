/*
 * metrics_http.c - the Prometheus HTTP endpoint on worker 0's ring (see
 * metrics_http.h). One-shot accept re-armed after each connection,
 * one-shot receives into the connection's buffer until the end of the
 * request head, one response, close.
 */
#include "metrics_http.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "listener.h"
#include "log.h"

enum { MOP_ACCEPT = MHTTP_OP_BASE, MOP_RECV, MOP_SEND, MOP_IGNORE };

#define REQ_MAX 8192

struct mconn {
	int fd; /* -1: free slot */
	uint32_t gen;
	char req[REQ_MAX];
	size_t len;
	struct buf resp;
	size_t sent;
	bool busy; /* an operation is in flight */
	int64_t deadline;
};

struct metrics_http {
	struct io_uring *ring;
	const struct metrics_src *src;
	int lfd;
	bool accepting, stopping;
	struct mconn c[MHTTP_CONNS];
};

static struct io_uring_sqe *
sqe_get(struct metrics_http *m)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(m->ring);

	while (sqe == NULL) {
		io_uring_submit(m->ring);
		sqe = io_uring_get_sqe(m->ring);
	}
	return sqe;
}

static uint64_t
ud(unsigned op, unsigned slot, uint32_t gen)
{
	return ((uint64_t)op << 56) | ((uint64_t)(gen & 0xffffff) << 32) | slot;
}

static void
arm_accept(struct metrics_http *m)
{
	struct io_uring_sqe *sqe;
	bool room = false;

	if (m->accepting || m->stopping || m->lfd < 0)
		return;
	for (int i = 0; i < MHTTP_CONNS; i++)
		room = room || m->c[i].fd < 0;
	if (!room)
		return; /* re-armed when a slot frees */
	sqe = sqe_get(m);
	io_uring_prep_accept(sqe, m->lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, ud(MOP_ACCEPT, 0, 0));
	m->accepting = true;
}

static void
conn_close(struct metrics_http *m, struct mconn *c)
{
	if (c->busy) { /* the operation completes with an error first */
		shutdown(c->fd, SHUT_RDWR);
		c->deadline = 0;
		return;
	}
	close(c->fd);
	c->fd = -1;
	c->gen++;
	buf_free(&c->resp);
	arm_accept(m);
}

static void
arm_recv(struct metrics_http *m, struct mconn *c, unsigned slot)
{
	struct io_uring_sqe *sqe = sqe_get(m);

	io_uring_prep_recv(sqe, c->fd, c->req + c->len, REQ_MAX - c->len, 0);
	io_uring_sqe_set_data64(sqe, ud(MOP_RECV, slot, c->gen));
	c->busy = true;
}

static void
arm_send(struct metrics_http *m, struct mconn *c, unsigned slot)
{
	struct io_uring_sqe *sqe = sqe_get(m);

	io_uring_prep_send(sqe, c->fd, c->resp.data + c->sent,
	    c->resp.len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(MOP_SEND, slot, c->gen));
	c->busy = true;
}

static void
respond(struct mconn *c, const struct metrics_src *src)
{
	struct buf body = {0};
	const char *status = "200 OK";
	bool get = c->len >= 4 && memcmp(c->req, "GET ", 4) == 0;
	bool head = c->len >= 5 && memcmp(c->req, "HEAD ", 5) == 0;
	const char *path = c->req + (get ? 4 : 5);

	if (!get && !head) {
		status = "405 Method Not Allowed";
		buf_printf(&body, "only GET\n");
	} else if (strncmp(path, "/metrics ", 9) != 0 &&
		   strncmp(path, "/ ", 2) != 0) {
		status = "404 Not Found";
		buf_printf(&body, "try /metrics\n");
	} else if (metrics_render(src, &body) != 0) {
		status = "503 Service Unavailable";
		buf_reset(&body);
	}
	buf_printf(&c->resp,
	    "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    status, body.len);
	if (!head && body.len > 0)
		buf_append(&c->resp, body.data, body.len);
	buf_free(&body);
	c->sent = 0;
}

struct metrics_http *
metrics_http_start(struct io_uring *ring, const struct rmx_listener_cfg *addr,
    const struct metrics_src *src, char *err, size_t errlen)
{
	struct metrics_http *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->ring = ring;
	m->src = src;
	for (int i = 0; i < MHTTP_CONNS; i++)
		m->c[i].fd = -1;
	m->lfd = listener_open(addr, err, errlen);
	if (m->lfd < 0) {
		free(m);
		return NULL;
	}
	arm_accept(m);
	log_event(LOG_INFO, "metrics_listening", "address=%s", addr->address);
	return m;
}

void
metrics_http_cqe(struct metrics_http *m, uint64_t u, int res)
{
	unsigned op = (unsigned)(u >> 56), slot = (unsigned)(uint32_t)u;
	uint32_t gen = (uint32_t)(u >> 32) & 0xffffff;
	struct mconn *c;

	if (m == NULL)
		return;
	if (op == MOP_ACCEPT) {
		m->accepting = false;
		if (res >= 0) {
			int i;
			if (m->stopping) {
				close(res);
				return;
			}
			for (i = 0; i < MHTTP_CONNS && m->c[i].fd >= 0; i++)
				;
			if (i == MHTTP_CONNS) {
				close(res);
			} else {
				c = &m->c[i];
				c->fd = res;
				c->len = 0;
				c->deadline =
				    (int64_t)time(NULL) + MHTTP_TIMEOUT;
				arm_recv(m, c, (unsigned)i);
			}
		}
		arm_accept(m);
		return;
	}
	if (slot >= MHTTP_CONNS)
		return;
	c = &m->c[slot];
	if (c->fd < 0 || (c->gen & 0xffffff) != gen)
		return;
	c->busy = false;
	if (op == MOP_RECV) {
		if (res <= 0 || m->stopping || c->deadline == 0) {
			conn_close(m, c);
			return;
		}
		c->len += (size_t)res;
		c->req[c->len < REQ_MAX ? c->len : REQ_MAX - 1] = '\0';
		if (memmem(c->req, c->len, "\r\n\r\n", 4) == NULL &&
		    memmem(c->req, c->len, "\n\n", 2) == NULL) {
			if (c->len >= REQ_MAX - 1) {
				conn_close(m, c);
				return;
			}
			arm_recv(m, c, slot);
			return;
		}
		respond(c, m->src);
		arm_send(m, c, slot);
		return;
	}
	if (op == MOP_SEND) {
		if (res <= 0 || c->deadline == 0) {
			conn_close(m, c);
			return;
		}
		c->sent += (size_t)res;
		if (c->sent < c->resp.len)
			arm_send(m, c, slot);
		else
			conn_close(m, c);
	}
}

void
metrics_http_tick(struct metrics_http *m, int64_t now)
{
	if (m == NULL)
		return;
	for (int i = 0; i < MHTTP_CONNS; i++)
		if (m->c[i].fd >= 0 && m->c[i].deadline != 0 &&
		    m->c[i].deadline <= now)
			conn_close(m, &m->c[i]);
}

int
metrics_http_stop(struct metrics_http *m)
{
	if (m == NULL)
		return 1;
	m->stopping = true;
	if (m->lfd >= 0) {
		shutdown(m->lfd, SHUT_RDWR); /* ends the pending accept */
	}
	for (int i = 0; i < MHTTP_CONNS; i++)
		if (m->c[i].fd >= 0)
			conn_close(m, &m->c[i]);
	return 1;
}

/* After the ring is gone: nothing can complete any more. */
void
metrics_http_free(struct metrics_http *m)
{
	if (m == NULL)
		return;
	for (int i = 0; i < MHTTP_CONNS; i++) {
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
		buf_free(&m->c[i].resp);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
}
