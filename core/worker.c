/*
 * worker.c - the per-core event loop (see worker.h): ring setup, the
 * provided-buffer ring, multishot accept and recv, one send in flight per
 * connection, the shutdown-then-close sequence, the timer wheel tick, and
 * the plumbing between sessions, the committer, the offload thread and
 * the scheduler. SMTP itself lives in smtp_server.c.
 *
 * user_data of every SQE: op (8 bits) | generation (24) | slot (32).
 * A conn is freed only when it is shut down, no request refers to it
 * (inflight == 0) and no commit of its session is pending.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cidr.h"
#include "dns_resolver.h"

#include "ctl_msg.h"
#include "listener.h"
#include "log.h"
#include "metrics_http.h"
#include "offload.h"
#include "outbound.h"
#include "queue_commit.h"
#include "scheduler.h"
#include "smtp_server.h"
#include "stats.h"
#include "timer_wheel.h"
#include "tls_conn.h"
#include "tls_server.h"
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#define RING_ENTRIES   1024
#define CQ_ENTRIES     16384
#define NBUFS          1024 /* provided buffers per worker */
#define BUFSZ          8192
#define BGID           0
#define PAUSE_INPUT_AT (1024 * 1024) /* stop reading a paused session */

enum op {
	OP_ACCEPT = 1,
	OP_RECV,
	OP_SEND,
	OP_NOTIFY, /* read on the worker's eventfd */
	OP_IGNORE, /* cancels: result not needed */
	OP_DNS,    /* poll on the resolver's descriptor */
};

struct conn {
	uint32_t slot, gen;
	int fd;
	uint64_t ipkey;
	bool ip_counted;
	unsigned inflight; /* requests referring to this conn */
	bool recv_armed, recv_paused, send_inflight, shut;
	int64_t started; /* monotonic seconds */
	struct buf in;   /* received, not yet consumed by the session */
	struct buf sending;
	size_t sent;
	struct timer_entry timer;  /* kind 0: the session's timeout */
	struct timer_entry tarpit; /* kind 1: a held-back reply */
	int64_t idle_deadline;     /* when the state's timeout runs out */
	/* Slow-client guard (limits.min_data_rate, command_deadline): the
	 * command line or DATA/BDAT phase under way, and the bytes
	 * received in the current rate window. */
	int64_t phase_start; /* monotonic seconds, 0 = none */
	int64_t win_start;
	uint64_t win_bytes;
	unsigned phase_cmds; /* sess.ncmds when the phase began */
	bool phase_data;     /* DATA/BDAT rather than a command line */
	bool flush_queued;
	struct conn *flush_next;
	/* TLS (heap, NULL in plaintext): STARTTLS or implicit TLS */
	struct tls_conn *tls;
	int li; /* listener index in the current configuration, -1 gone */
	bool implicit_tls; /* greet after the handshake */
	struct smtp_session sess;
};

/* One AUTH failure counted in the shared table, to uncount later. */
struct authfail {
	uint64_t key;
	int64_t expires; /* monotonic seconds */
	struct authfail *next;
};

struct worker {
	struct worker_params p;
	pthread_t thread;
	struct io_uring ring;
	bool ring_ok;
	struct io_uring_buf_ring *br;
	uint8_t *bufmem;
	unsigned bufs_returned; /* added to br, not yet advanced */
	int *lfds;
	bool *accept_armed;
	int efd; /* notify eventfd: committer, offload, stop */
	uint64_t efd_val;
	int poll_efd; /* RINGMX_POLL_WAIT only: registered with the ring */
	struct queue_committer *qc;
	struct offload *off;
	struct scheduler *sched;
	struct plugin_worker *pw; /* NULL without plugins */
	struct outbound *ob;      /* outbound SMTP/LMTP connections */
	struct dns_resolver *dns; /* this worker's resolver, or NULL */
	struct authfail *af_head, **af_tail; /* AUTH failures to expire */
	struct tls_server **tls_srv; /* per listener, NULL without TLS */
	struct metrics_http *mhttp;  /* worker 0 with metrics: the endpoint */
	size_t ntls;                 /* entries of tls_srv */
	uint32_t lgen; /* listener generation (accept user_data) */
	/* SHARED: a new configuration from the main thread (reload) */
	_Atomic(const struct rmx_config *) new_cfg;
	struct stats stats; /* SHARED: read by the control thread */
	_Atomic(struct ctl_msg *) ctl_inbox; /* SHARED: control requests */
	atomic_bool *paused; /* per listener; SHARED: read for status */
	atomic_uint tls_gen; /* SHARED: bumped by worker_reload_tls */
	unsigned tls_gen_seen;
	bool tls_reloading; /* a reload job is on the offload thread */
	struct smtp_server_ctx sctx;
	struct timer_wheel tw;
	struct conn **slots;
	uint32_t nslots, *freelist, nfree;
	unsigned nconns;
	uint64_t next_conn_id;
	struct conn *flush_head;
	bool stopping, forced;
	int64_t stop_deadline;
	cpu_set_t all_cpus; /* the process's CPUs, before this thread pinned */
	bool pinned;
	atomic_bool stop_req; /* SHARED: set by the main thread */
	atomic_int ready;     /* SHARED: 0 starting, 1 ready, -1 failed */
	atomic_bool done;     /* SHARED: the thread has finished */
	char err[512];
	/* counters (this thread only) */
	uint64_t st_conns, st_refused, st_enobufs;
};

static inline uint64_t
mkud(enum op op, uint32_t gen, uint32_t slot)
{
	return ((uint64_t)op << 56) | ((uint64_t)(gen & 0xffffff) << 32) | slot;
}

static struct io_uring_sqe *
get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	while (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* ---- buffers ---- */

static int
setup_buffers(struct worker *w)
{
	struct io_uring_buf_reg reg;
	size_t ringsz = NBUFS * sizeof(struct io_uring_buf);
	int r;

	w->br = mmap(NULL, ringsz, PROT_READ | PROT_WRITE,
	    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->br == MAP_FAILED) {
		w->br = NULL;
		return -errno;
	}
	w->bufmem = malloc((size_t)NBUFS * BUFSZ);
	if (w->bufmem == NULL)
		return -ENOMEM;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)w->br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	if ((r = io_uring_register_buf_ring(&w->ring, &reg, 0)) != 0)
		return r;
	io_uring_buf_ring_init(w->br);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(w->br, w->bufmem + (size_t)i * BUFSZ,
		    BUFSZ, (unsigned short)i, io_uring_buf_ring_mask(NBUFS),
		    (int)i);
	io_uring_buf_ring_advance(w->br, NBUFS);
	return 0;
}

static void
return_buffer(struct worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->br, w->bufmem + (size_t)bid * BUFSZ, BUFSZ,
	    (unsigned short)bid, io_uring_buf_ring_mask(NBUFS),
	    (int)w->bufs_returned);
	w->bufs_returned++;
}

static void
publish_buffers(struct worker *w)
{
	if (w->bufs_returned) {
		io_uring_buf_ring_advance(w->br, (int)w->bufs_returned);
		w->bufs_returned = 0;
	}
}

/* ---- conns ---- */

static struct conn *
conn_from_ud(struct worker *w, uint64_t ud)
{
	uint32_t slot = (uint32_t)ud, gen = (uint32_t)(ud >> 32) & 0xffffff;
	struct conn *c;

	if (slot >= w->nslots || (c = w->slots[slot]) == NULL ||
	    (c->gen & 0xffffff) != gen)
		return NULL;
	return c;
}

static struct conn *
conn_alloc(struct worker *w)
{
	struct conn *c;
	uint32_t slot;

	if (w->nfree == 0) {
		uint32_t n = w->nslots ? w->nslots * 2 : 256;
		struct conn **ns = realloc(w->slots, n * sizeof(*ns));
		uint32_t *nf;
		if (ns == NULL)
			return NULL;
		w->slots = ns;
		nf = realloc(w->freelist, n * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		w->freelist = nf;
		for (uint32_t i = n; i > w->nslots; i--) {
			w->slots[i - 1] = NULL;
			w->freelist[w->nfree++] = i - 1;
		}
		w->nslots = n;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	slot = w->freelist[--w->nfree];
	c->slot = slot;
	c->gen = (uint32_t)(w->next_conn_id & 0xffffff);
	c->fd = -1;
	w->slots[slot] = c;
	w->nconns++;
	stat_set(ST_CONN_OPEN, w->nconns);
	return c;
}

/* The session is over: its connection no longer counts for its IP. */
static void
conn_release_ip(struct worker *w, struct conn *c)
{
	if (c->ip_counted) {
		c->ip_counted = false;
		ip_limit_release(w->p.iplim, c->ipkey);
	}
}

/*
 * conn_maybe_free - free c if nothing refers to it any more. Every
 * completion handler calls it last and never touches c afterwards.
 */
static void
conn_maybe_free(struct worker *w, struct conn *c)
{
	if (!c->shut || c->inflight > 0 || c->sess.op_inflight ||
	    c->flush_queued)
		return;
	timer_cancel(&c->timer);
	timer_cancel(&c->tarpit);
	if (c->fd >= 0)
		close(c->fd);
	conn_release_ip(w, c);
	log_event(LOG_INFO, "disconnect", "conn=%llu ip=%s cmds=%u errors=%u",
	    (unsigned long long)c->sess.conn_id, c->sess.client_ip,
	    c->sess.ncmds, c->sess.nerrors);
	smtp_session_free(&c->sess);
	if (c->tls != NULL) {
		tls_conn_free(c->tls);
		free(c->tls);
	}
	buf_free(&c->in);
	buf_free(&c->sending);
	w->slots[c->slot] = NULL;
	w->freelist[w->nfree++] = c->slot;
	w->nconns--;
	stat_set(ST_CONN_OPEN, w->nconns);
	free(c);
}

/* Stop all I/O of c: the pending multishot recv completes with 0. */
static void
conn_shutdown(struct worker *w, struct conn *c)
{
	if (c->shut)
		return;
	c->shut = true;
	timer_cancel(&c->timer);
	if (c->sess.state != SMTP_S_CLOSED)
		smtp_session_eof(&c->sess);
	shutdown(c->fd, SHUT_RDWR);
	conn_release_ip(w, c);
}

static void
flush_later(struct worker *w, struct conn *c)
{
	if (c->flush_queued)
		return;
	c->flush_queued = true;
	c->flush_next = w->flush_head;
	w->flush_head = c;
}

static void
arm_recv(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->recv_armed || c->shut)
		return;
	sqe = get_sqe(w);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, mkud(OP_RECV, c->gen, c->slot));
	c->recv_armed = true;
	c->inflight++;
}

static void
pause_recv(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (!c->recv_armed || c->recv_paused)
		return;
	c->recv_paused = true;
	sqe = get_sqe(w);
	io_uring_prep_cancel64(sqe, mkud(OP_RECV, c->gen, c->slot), 0);
	io_uring_sqe_set_data64(sqe, mkud(OP_IGNORE, 0, 0));
}

static void
send_now(struct worker *w, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_send(sqe, c->fd, c->sending.data + c->sent,
	    c->sending.len - c->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, mkud(OP_SEND, c->gen, c->slot));
	c->send_inflight = true;
	c->inflight++;
}

/* Send what the session produced (one send in flight per socket). */
static void start_tls(struct worker *w, struct conn *c);

static void
conn_flush(struct worker *w, struct conn *c)
{
	struct buf *src = &c->sess.out;

	if (c->shut || c->send_inflight)
		return;
	if (c->tls != NULL) {
		/* replies go through TLS once the handshake is done */
		if (c->tls->done && c->sess.out.len > 0) {
			if (tls_conn_write(c->tls, c->sess.out.data,
				c->sess.out.len) != 0) {
				conn_shutdown(w, c);
				return;
			}
			buf_reset(&c->sess.out);
		}
		src = &c->tls->out;
	}
	if (src->len > 0) {
		struct buf t = c->sending;
		c->sending = *src;
		*src = t;
		buf_reset(src);
		c->sent = 0;
		send_now(w, c);
		/* the 220 to STARTTLS is on its way in plaintext: what the
		 * client sends from now on is TLS */
		if (c->tls == NULL && c->sess.starttls_req)
			start_tls(w, c);
		return;
	}
	if (c->tls == NULL && c->sess.starttls_req)
		start_tls(w, c);
	if (c->sess.close_after_flush && !c->sess.op_inflight &&
	    !smtp_session_paused(&c->sess))
		conn_shutdown(w, c);
}

/* Note when a command line or a DATA/BDAT phase begins or ends. */
static void
conn_track_phase(struct worker *w, struct conn *c)
{
	enum smtp_state st = c->sess.state;
	bool data = st == SMTP_S_DATA || st == SMTP_S_BDAT;
	bool busy = data || st == SMTP_S_SKIPLINE ||
		    (st == SMTP_S_COMMAND && c->in.len > 0);

	if (!busy || (c->tls != NULL && !c->tls->done)) {
		c->phase_start = 0;
		return;
	}
	if (c->phase_start != 0 && c->phase_data == data &&
	    (data || c->phase_cmds == c->sess.ncmds))
		return;
	c->phase_start = c->win_start = w->tw.now;
	c->win_bytes = 0;
	c->phase_data = data;
	c->phase_cmds = c->sess.ncmds;
}

/* Arm the timer for the idle deadline or, when sooner, the next check
 * of the slow-client guard. */
static void
conn_rearm(struct worker *w, struct conn *c)
{
	const struct rmx_limits *l = &w->p.cfg->limits;
	int64_t at = c->idle_deadline;

	if (c->shut)
		return;
	if (c->phase_start != 0) {
		if (l->min_data_rate != 0 &&
		    c->win_start + (int64_t)l->data_rate_window < at)
			at = c->win_start + (int64_t)l->data_rate_window;
		if (!c->phase_data &&
		    c->phase_start + (int64_t)l->command_deadline < at)
			at = c->phase_start + (int64_t)l->command_deadline;
	}
	timer_arm(
	    &w->tw, &c->timer, at > w->tw.now ? (unsigned)(at - w->tw.now) : 1);
}

/* The slow-client guard at a timer tick: why to drop c, or NULL. The
 * first window of a phase is free; each later one must bring at least
 * min_data_rate bytes per second. */
static const char *
conn_too_slow(struct worker *w, struct conn *c)
{
	const struct rmx_limits *l = &w->p.cfg->limits;
	int64_t now = w->tw.now;

	conn_track_phase(w, c);
	if (c->phase_start == 0)
		return NULL;
	if (!c->phase_data &&
	    now >= c->phase_start + (int64_t)l->command_deadline)
		return "command_deadline";
	if (c->recv_paused) { /* we do not read: not the client's fault */
		c->win_start = now;
		c->win_bytes = 0;
		return NULL;
	}
	if (l->min_data_rate != 0 &&
	    now >= c->win_start + (int64_t)l->data_rate_window) {
		if (c->win_start != c->phase_start &&
		    c->win_bytes < (uint64_t)l->min_data_rate *
				       (uint64_t)(now - c->win_start))
			return "min_data_rate";
		c->win_start = now;
		c->win_bytes = 0;
	}
	return NULL;
}

static void
conn_arm_timer(struct worker *w, struct conn *c)
{
	unsigned secs = smtp_session_timeout_secs(&c->sess);

	if (c->tls != NULL && !c->tls->done)
		secs = c->sess.listener->tls.handshake_timeout;
	int64_t left =
	    c->started + (int64_t)w->p.cfg->limits.timeout_session - w->tw.now;

	if (c->shut)
		return;
	if (left < 1)
		left = 1;
	if ((int64_t)secs > left)
		secs = (unsigned)left;
	c->idle_deadline = w->tw.now + (int64_t)secs;
	conn_track_phase(w, c);
	conn_rearm(w, c);
}

/* Run the session over buffered input after it changed state. */
static void
conn_process(struct worker *w, struct conn *c)
{
	size_t used;

	if (c->in.len > 0 && !smtp_session_paused(&c->sess) &&
	    c->sess.state != SMTP_S_CLOSED) {
		used = smtp_session_input(&c->sess, c->in.data, c->in.len);
		buf_consume(&c->in, used);
	}
	if (c->sess.state == SMTP_S_CLOSED) {
		buf_reset(&c->in);
		conn_release_ip(w, c);
	}
	if (c->in.len == 0 && c->in.cap > 64 * 1024)
		buf_free(&c->in);
	if (c->in.len > PAUSE_INPUT_AT)
		pause_recv(w, c);
	else if (c->recv_paused && !c->recv_armed &&
		 !smtp_session_paused(&c->sess)) {
		c->recv_paused = false;
		arm_recv(w, c);
	}
	conn_arm_timer(w, c);
	flush_later(w, c);
}

/* Plaintext for the session (from the socket or out of TLS). */
static void
session_input(struct worker *w, struct conn *c, const uint8_t *data, size_t n)
{
	if (c->sess.starttls_req)
		return; /* after STARTTLS, before TLS: injected, dropped */
	if (c->in.len == 0 && !smtp_session_paused(&c->sess)) {
		size_t used = smtp_session_input(&c->sess, data, n);
		if (used < n && c->sess.state != SMTP_S_CLOSED)
			buf_append(&c->in, data + used, n - used);
	} else {
		buf_append(&c->in, data, n);
	}
	conn_process(w, c);
}

static void
tls_failed(struct worker *w, struct conn *c, const char *why)
{
	stat_inc(ST_TLS_FAILED);
	log_event(LOG_NOTICE, "tls_failed", "conn=%llu ip=%s err=\"%s\"",
	    (unsigned long long)c->sess.conn_id, c->sess.client_ip, why);
	buf_reset(&c->sess.out);
	c->sess.close_after_flush = true;
	smtp_session_eof(&c->sess);
	/* send a TLS alert if wolfSSL wrote one, then close */
	flush_later(w, c);
}

/* The connection becomes TLS: STARTTLS's 220 has been queued, or an
 * implicit-TLS listener accepted it. */
static void
start_tls(struct worker *w, struct conn *c)
{
	struct tls_server **srv =
	    c->li >= 0 && (size_t)c->li < w->ntls ? &w->tls_srv[c->li] : NULL;

	if (srv == NULL || *srv == NULL ||
	    (c->tls = calloc(1, sizeof(*c->tls))) == NULL) {
		conn_shutdown(w, c);
		return;
	}
	tls_conn_init_server(c->tls, srv);
	buf_reset(&c->in); /* nothing received before the switch counts */
	conn_arm_timer(w, c);
}

/* Ciphertext arrived: handshake, then plaintext to the session. */
static void
tls_input(struct worker *w, struct conn *c, const uint8_t *data, size_t n)
{
	uint8_t plain[16384];
	long got;

	if (c->tls->failed || tls_conn_feed(c->tls, data, n) != 0)
		return;
	if (!c->tls->done) {
		int rc = tls_conn_handshake(c->tls);
		if (rc < 0) {
			tls_failed(w, c, c->tls->err);
			return;
		}
		flush_later(w, c);
		if (rc == 0)
			return;
		log_event(LOG_INFO, "tls",
		    "conn=%llu ip=%s version=%s cipher=%s sni=\"%s\"",
		    (unsigned long long)c->sess.conn_id, c->sess.client_ip,
		    tls_conn_version(c->tls), tls_conn_cipher(c->tls),
		    c->tls->sni);
		smtp_session_tls_done(&c->sess, tls_conn_version(c->tls),
		    tls_conn_cipher(c->tls));
		if (c->implicit_tls) {
			c->implicit_tls = false;
			smtp_session_greet(&c->sess);
		}
		conn_arm_timer(w, c);
	}
	while ((got = tls_conn_read(c->tls, plain, sizeof(plain))) > 0)
		session_input(w, c, plain, (size_t)got);
	if (got < 0 && !c->shut) {
		if (c->tls->failed) {
			tls_failed(w, c, c->tls->err);
			return;
		}
		/* close_notify: as a TCP end of stream */
		c->sess.close_after_flush = true;
		if (!smtp_session_paused(&c->sess) &&
		    c->sess.state != SMTP_S_HOOK)
			smtp_session_eof(&c->sess);
	}
	flush_later(w, c);
}

static void
conn_input(struct worker *w, struct conn *c, const uint8_t *data, size_t n)
{
	if (c->tls != NULL)
		tls_input(w, c, data, n);
	else
		session_input(w, c, data, n);
}

/* ---- completions ---- */

static void
on_accept(struct worker *w, unsigned li, int res, unsigned flags)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	const struct rmx_limits *lim = &w->p.cfg->limits;
	struct conn *c;
	int one = 1;

	if (!(flags & IORING_CQE_F_MORE))
		w->accept_armed[li] = false;
	if (res < 0) {
		if (res != -ECANCELED)
			log_event(LOG_WARNING, "accept_error",
			    "worker=%u "
			    "err=%s",
			    w->p.index, strerror(-res));
		return;
	}
	if (w->stopping) {
		close(res);
		return;
	}
	if (getpeername(res, (struct sockaddr *)&ss, &sl) != 0) {
		close(res);
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip,
			    sizeof(ip));
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&ss)->sin_addr,
		    ip, sizeof(ip));
	}
	setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->next_conn_id++;
	c = conn_alloc(w);
	if (c == NULL) {
		close(res);
		return;
	}
	c->fd = res;
	c->started = w->tw.now;
	c->ipkey = ip_limit_key((const struct sockaddr *)&ss);
	smtp_session_init(&c->sess, &w->sctx,
	    ((uint64_t)w->p.index << 48) | w->next_conn_id, ip);
	c->sess.listener = &w->p.cfg->listeners[li];
	c->li = (int)li;
	c->sess.ipkey = c->ipkey;
	c->sess.client_port =
	    ntohs(ss.ss_family == AF_INET6
		      ? ((const struct sockaddr_in6 *)&ss)->sin6_port
		      : ((const struct sockaddr_in *)&ss)->sin_port);
	c->sess.relay_ok = cidr_match_any(w->p.cfg->relay_networks,
	    w->p.cfg->nrelay_networks, (const struct sockaddr *)&ss);
	w->st_conns++;
	stat_inc(ST_CONN_ACCEPTED);
	if (!ip_limit_acquire(
		w->p.iplim, c->ipkey, lim->conn_per_ip, lim->conn_max)) {
		w->st_refused++;
		stat_inc(ST_CONN_REFUSED);
		log_event(LOG_NOTICE, "reject",
		    "conn=%llu ip=%s "
		    "reason=too_many_connections code=421",
		    (unsigned long long)c->sess.conn_id, ip);
		smtp_session_refuse(&c->sess, "4.7.0",
		    "Error: too many connections from your address");
		conn_arm_timer(w, c);
		flush_later(w, c);
		return;
	}
	c->ip_counted = true;
	log_event(LOG_INFO, "connect", "conn=%llu ip=%s worker=%u",
	    (unsigned long long)c->sess.conn_id, ip, w->p.index);
	if (c->sess.listener->mode == LISTEN_SUBMISSIONS) {
		/* implicit TLS (RFC 8314): the greeting comes after the
		 * handshake */
		c->implicit_tls = true;
		start_tls(w, c);
		if (c->shut) {
			conn_maybe_free(w, c);
			return;
		}
	} else {
		smtp_session_greet(&c->sess);
	}
	arm_recv(w, c);
	conn_arm_timer(w, c);
	flush_later(w, c);
}

static void
on_recv(struct worker *w, struct conn *c, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE)) {
		c->recv_armed = false;
		c->inflight--;
	}
	if (res > 0) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		c->win_bytes += (uint64_t)res;
		if (!c->shut)
			conn_input(
			    w, c, w->bufmem + (size_t)bid * BUFSZ, (size_t)res);
		return_buffer(w, bid);
		if (!c->recv_armed && !c->recv_paused && !c->shut)
			arm_recv(w, c);
	} else if (res == -ENOBUFS) {
		w->st_enobufs++;
		publish_buffers(w);
		arm_recv(w, c);
	} else if (res == -ECANCELED && c->recv_paused) {
		/* Paused on purpose; if the session already resumed while
		 * the cancel was in flight, read again now. */
		if (!smtp_session_paused(&c->sess) &&
		    c->in.len <= PAUSE_INPUT_AT) {
			c->recv_paused = false;
			arm_recv(w, c);
		}
	} else if (res == 0 && !c->shut) {
		/* The peer has sent everything (it may still read): answer
		 * what it sent, including a pending commit, then close. */
		c->sess.close_after_flush = true;
		if (!smtp_session_paused(&c->sess) &&
		    c->sess.state != SMTP_S_HOOK)
			smtp_session_eof(&c->sess);
		flush_later(w, c);
	} else {
		conn_shutdown(w, c);
	}
	conn_maybe_free(w, c);
}

static void
on_send(struct worker *w, struct conn *c, int res)
{
	c->inflight--;
	c->send_inflight = false;
	if (res < 0) {
		conn_shutdown(w, c);
		conn_maybe_free(w, c);
		return;
	}
	c->sent += (size_t)res;
	if (c->sent < c->sending.len && !c->shut) {
		send_now(w, c);
		return;
	}
	buf_reset(&c->sending);
	if (c->sending.cap > 64 * 1024)
		buf_free(&c->sending);
	c->sent = 0;
	conn_flush(w, c);
	conn_maybe_free(w, c);
}

static void
arm_notify(struct worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	io_uring_prep_poll_multishot(sqe, w->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, mkud(OP_NOTIFY, 0, 0));
}

static void
arm_dns(struct worker *w)
{
	struct io_uring_sqe *sqe;

	if (w->dns == NULL)
		return;
	sqe = get_sqe(w);
	io_uring_prep_poll_multishot(sqe, dns_resolver_fd(w->dns), POLLIN);
	io_uring_sqe_set_data64(sqe, mkud(OP_DNS, 0, 0));
}

/* SHARED by the workers at start-up only: see setup_dns. */
static pthread_mutex_t dns_setup_lock = PTHREAD_MUTEX_INITIALIZER;

/* The worker's resolver from the dns group. Without one (e.g. no trust
 * anchor file), MX recipients wait in the queue; inbound mail is not
 * affected, so the daemon runs on and says why. */
static void
setup_dns(struct worker *w)
{
	const struct rmx_config *cfg = w->p.cfg;
	struct dns_stub *stubs = NULL;
	struct dns_config dc;
	char err[512];

	memset(&dc, 0, sizeof(dc));
	dc.mode = cfg->dns.mode ? DNS_MODE_RESOLVCONF : DNS_MODE_RECURSIVE;
	dc.trust_anchor = cfg->dns.trust_anchor;
	dc.unbound_conf = cfg->dns.unbound_conf;
	dc.timeout_ms = cfg->dns.timeout * 1000u;
	if (cfg->dns.nstubs > 0) {
		stubs = calloc(cfg->dns.nstubs, sizeof(*stubs));
		if (stubs == NULL)
			return;
		for (size_t i = 0; i < cfg->dns.nstubs; i++) {
			stubs[i].zone = cfg->dns.stub_zone[i];
			stubs[i].address = cfg->dns.stub_addr[i];
		}
		dc.stubs = stubs;
		dc.nstubs = cfg->dns.nstubs;
	}
	/* libunbound's configuration parser (ub_ctx_config) keeps global
	 * state: workers create their contexts one at a time. Start-up
	 * only, never on the mail path. */
	pthread_mutex_lock(&dns_setup_lock);
	w->dns = dns_resolver_new(&dc, err, sizeof(err));
	pthread_mutex_unlock(&dns_setup_lock);
	free(stubs);
	if (w->dns == NULL) {
		log_event(LOG_ERR, "dns_unavailable",
		    "worker=%u err=\"%s\" "
		    "effect=\"mail for MX destinations stays queued\"",
		    w->p.index, err);
		return;
	}
	scheduler_set_resolver(w->sched, w->dns);
	plugin_worker_set_resolver(w->pw, w->dns);
	arm_dns(w);
}

static void
arm_accept(struct worker *w, unsigned li)
{
	struct io_uring_sqe *sqe;

	if (w->accept_armed[li] || w->lfds[li] < 0 ||
	    (w->paused != NULL &&
		atomic_load_explicit(&w->paused[li], memory_order_relaxed)))
		return;
	sqe = get_sqe(w);
	io_uring_prep_multishot_accept(
	    sqe, w->lfds[li], NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, mkud(OP_ACCEPT, w->lgen, li));
	w->accept_armed[li] = true;
}

static void
submit_commit(void *arg, struct qop *op)
{
	struct worker *w = arg;

	op->owner_gen = 1; /* session op */
	queue_committer_submit(w->qc, op);
}

static void begin_stop(struct worker *w);

/* Stop or start accepting on listener li. */
static void
set_paused(struct worker *w, size_t li, bool on)
{
	if (atomic_load_explicit(&w->paused[li], memory_order_relaxed) == on)
		return;
	atomic_store_explicit(&w->paused[li], on, memory_order_relaxed);
	if (on && w->accept_armed[li]) {
		/* the cancelled multishot accept completes with -ECANCELED
		 * and clears accept_armed; connections wait in the backlog */
		struct io_uring_sqe *sqe = get_sqe(w);
		io_uring_prep_cancel64(
		    sqe, mkud(OP_ACCEPT, w->lgen, (uint32_t)li), 0);
		io_uring_sqe_set_data64(sqe, mkud(OP_IGNORE, 0, 0));
	}
	log_event(LOG_NOTICE, on ? "listener_paused" : "listener_resumed",
	    "worker=%u address=%s", w->p.index,
	    w->p.cfg->listeners[li].address);
}

static bool
same_listener(
    const struct rmx_listener_cfg *a, const struct rmx_listener_cfg *b)
{
	return a->addrlen == b->addrlen &&
	       memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/*
 * A reloaded configuration (worker_reconfigure): listeners kept (same
 * address) keep their sockets, new ones are opened, removed ones closed;
 * every accept is re-armed under a new listener generation; connections
 * keep working on the listener settings they started with (old
 * configurations are never freed before exit); limits, outbound and
 * queue settings apply from now on; certificates are loaded again on the
 * offload thread.
 */
static void
adopt_config(struct worker *w, const struct rmx_config *ncfg)
{
	const struct rmx_config *ocfg = w->p.cfg;
	size_t n = ncfg->nlisteners, on = ocfg->nlisteners;
	int *lfds = malloc(n * sizeof(*lfds)), *map = malloc(on * sizeof(*map));
	bool *armed = calloc(n, sizeof(*armed));
	atomic_bool *paused = calloc(n, sizeof(*paused));
	struct tls_server **tls = calloc(n, sizeof(*tls));
	char err[512];

	if (lfds == NULL || map == NULL || armed == NULL || paused == NULL ||
	    tls == NULL) {
		log_event(LOG_ERR, "reload_failed",
		    "worker=%u reason=\"out of memory\"", w->p.index);
		free(lfds);
		free(map);
		free(armed);
		free(paused);
		free(tls);
		return;
	}
	/* every accept of the old set goes: re-armed below */
	for (size_t j = 0; j < on; j++) {
		map[j] = -1;
		if (w->accept_armed[j]) {
			struct io_uring_sqe *sqe = get_sqe(w);
			io_uring_prep_cancel64(
			    sqe, mkud(OP_ACCEPT, w->lgen, (uint32_t)j), 0);
			io_uring_sqe_set_data64(sqe, mkud(OP_IGNORE, 0, 0));
		}
	}
	for (size_t i = 0; i < n; i++) {
		lfds[i] = -1;
		for (size_t j = 0; j < on; j++)
			if (map[j] < 0 && w->lfds[j] >= 0 &&
			    same_listener(
				&ocfg->listeners[j], &ncfg->listeners[i])) {
				map[j] = (int)i;
				lfds[i] = w->lfds[j];
				atomic_store(
				    &paused[i], atomic_load(&w->paused[j]));
				if (j < w->ntls) {
					tls[i] = w->tls_srv[j];
					w->tls_srv[j] = NULL;
				}
				break;
			}
		if (lfds[i] >= 0)
			continue;
		lfds[i] = listener_open(&ncfg->listeners[i], err, sizeof(err));
		if (lfds[i] < 0)
			log_event(LOG_ERR, "listener_failed",
			    "worker=%u address=%s reason=\"%s\"", w->p.index,
			    ncfg->listeners[i].address, err);
		else if (w->p.index == 0)
			log_event(LOG_NOTICE, "listening", "address=%s",
			    ncfg->listeners[i].address);
	}
	for (size_t j = 0; j < on; j++)
		if (map[j] < 0 && w->lfds[j] >= 0) {
			close(w->lfds[j]); /* removed from the configuration */
			if (w->p.index == 0)
				log_event(LOG_NOTICE, "listener_closed",
				    "address=%s", ocfg->listeners[j].address);
		}
	for (uint32_t k = 0; k < w->nslots; k++) {
		struct conn *c = w->slots[k];
		if (c != NULL && c->li >= 0)
			c->li = (size_t)c->li < on ? map[c->li] : -1;
	}
	for (size_t j = 0; j < w->ntls; j++)
		tls_server_free(w->tls_srv[j]);
	free(w->tls_srv);
	free(w->lfds);
	free(w->accept_armed);
	free(w->paused);
	free(map);
	w->lfds = lfds;
	w->accept_armed = armed;
	w->paused = paused;
	w->tls_srv = tls;
	w->ntls = n;
	w->lgen++;
	w->p.cfg = ncfg;
	w->sctx.cfg = ncfg;
	scheduler_set_config(w->sched, ncfg);
	outbound_set_config(w->ob, ncfg);
	/* certificates of the new configuration (files may have changed) */
	atomic_fetch_add(&w->tls_gen, 1);
	log_event(LOG_INFO, "config_adopted", "worker=%u listeners=%zu",
	    w->p.index, n);
}

/* Requests of the control thread (ctl_msg.h), in the order sent. */
static void
handle_ctl(struct worker *w)
{
	struct ctl_msg *m = atomic_exchange_explicit(
			   &w->ctl_inbox, NULL, memory_order_acquire),
		       *rev = NULL, *n;

	for (; m != NULL; m = n) { /* the inbox is a stack: reverse it */
		n = m->next;
		m->next = rev;
		rev = m;
	}
	for (m = rev; m != NULL; m = n) {
		n = m->next;
		switch (m->op) {
		case CTL_PAUSE:
		case CTL_UNPAUSE:
			for (size_t i = 0; i < w->p.cfg->nlisteners; i++)
				if (m->li < 0 || (size_t)m->li == i)
					set_paused(w, i, m->op == CTL_PAUSE);
			ctl_reply(m, 0, NULL);
			break;
		default:
			if (scheduler_ctl(w->sched, m) == 1)
				ctl_reply(m, 1, "not on this worker");
			break;
		}
	}
}

/* Certificates re-read on the offload thread (file I/O and the
 * self-test handshakes stay off the loop), swapped in on the loop. */
struct tls_reload_job {
	struct offload_job base; /* first */
	const struct rmx_config *cfg;
	struct tls_server **srv; /* new set, one per listener */
	size_t n;                /* entries of srv (cfg->nlisteners) */
	char err[512];
	bool failed;
};

static void
tls_reload_run(struct offload_job *job)
{
	struct tls_reload_job *j = (struct tls_reload_job *)job;

	for (size_t i = 0; i < j->cfg->nlisteners && !j->failed; i++) {
		if (j->cfg->listeners[i].tls.ncerts == 0)
			continue;
		j->srv[i] = tls_server_new(
		    &j->cfg->listeners[i].tls, j->err, sizeof(j->err));
		j->failed = j->srv[i] == NULL;
	}
}

static void
tls_reload_start(struct worker *w)
{
	struct tls_reload_job *j = calloc(1, sizeof(*j));

	if (j == NULL ||
	    (j->srv = calloc(w->p.cfg->nlisteners, sizeof(*j->srv))) == NULL) {
		free(j);
		return;
	}
	j->base.run = tls_reload_run;
	j->cfg = w->p.cfg;
	j->n = w->p.cfg->nlisteners;
	w->tls_reloading = true;
	offload_submit(w->off, &j->base);
}

static void
tls_reload_done(struct worker *w, struct tls_reload_job *j)
{
	struct tls_server **old = j->srv;
	size_t nold = j->n;
	char q[600];

	w->tls_reloading = false;
	if (j->failed || j->cfg != w->p.cfg) {
		/* failed, or made for a configuration replaced meanwhile
		 * (another reload is queued then) */
		if (!j->failed)
			atomic_fetch_add(&w->tls_gen, 1);
		log_event(LOG_ERR, "tls_reload",
		    "worker=%u result=failed reason=%s "
		    "effect=\"the old certificates stay in use\"",
		    w->p.index, log_quote(j->err, q, sizeof(q)));
	} else {
		/* Connections in a handshake keep their WOLFSSL objects,
		 * which hold references to the old contexts. */
		old = w->tls_srv;
		nold = w->ntls;
		w->tls_srv = j->srv;
		w->ntls = j->n;
		log_event(LOG_NOTICE, "tls_reload", "worker=%u result=ok",
		    w->p.index);
	}
	for (size_t i = 0; i < nold; i++)
		tls_server_free(old[i]);
	free(old);
	free(j);
	/* a newer request arrived meanwhile */
	if (atomic_load(&w->tls_gen) != w->tls_gen_seen) {
		w->tls_gen_seen = atomic_load(&w->tls_gen);
		tls_reload_start(w);
	}
}

static void
on_notify(struct worker *w)
{
	struct qop *op, *next;
	struct offload_job *j, *jn;

	for (op = queue_committer_reap(w->qc); op != NULL; op = next) {
		next = op->next;
		if (op->owner_gen >= SCHED_OWNER_TAG) {
			scheduler_commit_done(w->sched, op);
		} else {
			struct smtp_session *s = op->owner;
			struct conn *c =
			    (struct conn *)((char *)s -
					    offsetof(struct conn, sess));
			struct qenvelope *env = smtp_session_commit_done(s);
			if (env != NULL)
				scheduler_add(w->sched, op->shard, env);
			if (!c->shut)
				conn_process(w, c);
			conn_maybe_free(w, c);
		}
	}
	for (j = offload_reap(w->off); j != NULL; j = jn) {
		jn = j->next;
		if (j->run == tls_reload_run)
			tls_reload_done(w, (struct tls_reload_job *)j);
		else if (!plugin_offload_done(w->pw, j))
			scheduler_job_done(w->sched, j);
	}
	handle_ctl(w);
	{
		const struct rmx_config *ncfg = atomic_exchange_explicit(
		    &w->new_cfg, NULL, memory_order_acquire);
		if (ncfg != NULL && !w->stopping)
			adopt_config(w, ncfg);
	}
	if (atomic_load_explicit(&w->tls_gen, memory_order_acquire) !=
		w->tls_gen_seen &&
	    !w->tls_reloading && !w->stopping) {
		w->tls_gen_seen = atomic_load(&w->tls_gen);
		tls_reload_start(w);
	}
	plugin_worker_poll(w->pw);
	if (atomic_load_explicit(&w->stop_req, memory_order_acquire) &&
	    !w->stopping)
		begin_stop(w);
}

static void
handle_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	enum op op = (enum op)(ud >> 56);
	struct conn *c;

	switch (op) {
	case OP_ACCEPT:
		if (((ud >> 32) & 0xffffff) != (w->lgen & 0xffffff)) {
			/* an accept of the listener set before a reload */
			if (cqe->res >= 0)
				close(cqe->res);
			break;
		}
		on_accept(w, (unsigned)(uint32_t)ud, cqe->res, cqe->flags);
		break;
	case OP_RECV:
		if ((c = conn_from_ud(w, ud)) != NULL)
			on_recv(w, c, cqe->res, cqe->flags);
		else if (cqe->res > 0)
			return_buffer(w, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	case OP_SEND:
		if ((c = conn_from_ud(w, ud)) != NULL)
			on_send(w, c, cqe->res);
		break;
	case OP_NOTIFY:
		/* Reset the counter first: a write that lands after this
		 * read wakes the poll again. */
		if (read(w->efd, &w->efd_val, sizeof(w->efd_val)) < 0 &&
		    errno != EAGAIN)
			log_event(
			    LOG_ERR, "eventfd_read", "err=%s", strerror(errno));
		on_notify(w);
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_notify(w);
		break;
	case OP_DNS: {
		char err[256];
		if (w->dns != NULL &&
		    dns_resolver_process(w->dns, err, sizeof(err)) != 0)
			log_event(LOG_ERR, "dns_error", "worker=%u err=\"%s\"",
			    w->p.index, err);
		if (!(cqe->flags & IORING_CQE_F_MORE))
			arm_dns(w);
		break;
	}
	default:
		if (op >= MHTTP_OP_BASE && op < MHTTP_OP_BASE + 8)
			metrics_http_cqe(w->mhttp, ud, cqe->res);
		else if (op >= OUTBOUND_OP_BASE)
			outbound_cqe(w->ob, ud, cqe->res, cqe->flags);
		break;
	}
}

/* ---- timers and stopping ---- */

static void
on_timer(void *arg, struct timer_entry *e)
{
	struct worker *w = arg;
	struct conn *c;

	if (e->kind == 1) {
		c = (struct conn *)((char *)e - offsetof(struct conn, tarpit));
		if (!c->shut)
			smtp_session_delay_done(&c->sess);
		return;
	}
	c = (struct conn *)((char *)e - offsetof(struct conn, timer));
	if (c->shut)
		return;
	if (c->sess.state == SMTP_S_COMMIT) {
		timer_arm(&w->tw, &c->timer, 1);
		return;
	}
	if (c->sess.state == SMTP_S_CLOSED ||
	    (c->tls != NULL && !c->tls->done)) {
		/* the peer does not read our last reply, or stalls in the
		 * TLS handshake: no reply can reach it */
		if (c->tls != NULL && !c->tls->done)
			log_event(LOG_NOTICE, "tls_failed",
			    "conn=%llu ip=%s err=\"handshake timed out\"",
			    (unsigned long long)c->sess.conn_id,
			    c->sess.client_ip);
		conn_shutdown(w, c);
		conn_maybe_free(w, c);
		return;
	}
	if (w->tw.now < c->idle_deadline) {
		/* a check of the slow-client guard, not the idle timeout */
		const char *why = conn_too_slow(w, c);
		if (why == NULL) {
			conn_rearm(w, c);
			return;
		}
		log_event(LOG_NOTICE, "slow_client",
		    "conn=%llu ip=%s reason=%s state=%d",
		    (unsigned long long)c->sess.conn_id, c->sess.client_ip, why,
		    (int)c->sess.state);
	}
	smtp_session_timeout(&c->sess);
	conn_arm_timer(w, c);
	flush_later(w, c);
}

static void
begin_stop(struct worker *w)
{
	struct io_uring_sqe *sqe;

	w->stopping = true;
	w->sctx.stopping = true;
	metrics_http_stop(w->mhttp);
	w->stop_deadline = w->tw.now + (int64_t)w->p.cfg->limits.shutdown_grace;
	for (size_t i = 0; i < w->p.cfg->nlisteners; i++) {
		if (w->lfds[i] < 0)
			continue;
		if (w->accept_armed[i]) {
			sqe = get_sqe(w);
			io_uring_prep_cancel64(
			    sqe, mkud(OP_ACCEPT, w->lgen, (uint32_t)i), 0);
			io_uring_sqe_set_data64(sqe, mkud(OP_IGNORE, 0, 0));
		}
	}
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct conn *c = w->slots[i];
		if (c != NULL && !c->shut && smtp_session_stop(&c->sess))
			flush_later(w, c);
	}
	outbound_stop(w->ob, false);
	log_event(LOG_NOTICE, "stopping", "worker=%u sessions=%u", w->p.index,
	    w->nconns);
}

static void
force_stop(struct worker *w)
{
	w->forced = true;
	outbound_stop(w->ob, true);
	for (uint32_t i = 0; i < w->nslots; i++) {
		struct conn *c = w->slots[i];
		if (c != NULL && !c->shut) {
			conn_shutdown(w, c);
			conn_maybe_free(w, c);
		}
	}
}

static void
flush_all(struct worker *w)
{
	while (w->flush_head != NULL) {
		struct conn *c = w->flush_head;
		w->flush_head = c->flush_next;
		c->flush_queued = false;
		conn_flush(w, c);
		conn_maybe_free(w, c);
	}
}

/* ---- setup ---- */

/*
 * The ring's restrictions (sandbox = true; docs/security.md): seccomp
 * cannot see what a ring does, so the ring itself allows only the
 * operations ringmx submits (worker.c, outbound.c, metrics_http.c:
 * accept, recv, send, connect, poll add/remove, async cancel, and the
 * timeout liburing uses on kernels without EXT_ARG), only the
 * buffer-select SQE flag, and of the register calls only (un)registering
 * the provided-buffer ring (setup_buffers, after this) and unregistering
 * the ring fd (io_uring_queue_exit). The ring is created disabled,
 * restricted, then enabled.
 */
static int
restrict_ring(struct worker *w)
{
	static const unsigned char ops[] = {IORING_OP_ACCEPT, IORING_OP_RECV,
	    IORING_OP_SEND, IORING_OP_CONNECT, IORING_OP_POLL_ADD,
	    IORING_OP_POLL_REMOVE, IORING_OP_ASYNC_CANCEL, IORING_OP_TIMEOUT,
	    IORING_OP_TIMEOUT_REMOVE};
	static const unsigned char regs[] = {IORING_REGISTER_PBUF_RING,
	    IORING_UNREGISTER_PBUF_RING, IORING_UNREGISTER_RING_FDS};
	struct io_uring_restriction res[sizeof(ops) + sizeof(regs) + 1];
	unsigned n = 0;
	int r;

	memset(res, 0, sizeof(res));
	for (size_t i = 0; i < sizeof(ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ops[i];
	}
	for (size_t i = 0; i < sizeof(regs); i++) {
		res[n].opcode = IORING_RESTRICTION_REGISTER_OP;
		res[n++].register_op = regs[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[n++].sqe_flags = IOSQE_BUFFER_SELECT;
	/* Debian's liburing 2.3 does not export io_uring_register_
	 * restrictions / io_uring_enable_rings: the system call itself */
	r = (int)syscall(__NR_io_uring_register, w->ring.ring_fd,
	    IORING_REGISTER_RESTRICTIONS, res, n);
	if (r < 0)
		return -errno;
	r = (int)syscall(__NR_io_uring_register, w->ring.ring_fd,
	    IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	return r < 0 ? -errno : 0;
}

/* RINGMX_POLL_WAIT=1 (a profiling aid, read once at start): wait for
 * completions in ppoll(2) on an eventfd registered with the ring (the
 * kernel signals it for every completion, deferred task work included),
 * then run and reap them with a non-waiting io_uring_enter, instead of
 * waiting inside io_uring_enter. Same behaviour, two more system calls
 * per wake-up; it exists because Valgrind 3.19 keeps its big lock across
 * io_uring_enter, so under callgrind no other thread (committer, offload,
 * main) runs while a worker waits there; it does release it across
 * ppoll. Polling the ring's own fd is not enough: with DEFER_TASKRUN the
 * kernel does not wake pollers of the ring for deferred completions.
 * SHARED by every worker: written once by main before any worker starts,
 * read-only afterwards. */
static bool poll_wait;

void
worker_read_env(void)
{
	const char *e = getenv("RINGMX_POLL_WAIT");
	poll_wait = e != NULL && strcmp(e, "1") == 0;
}

static int
setup_ring(struct worker *w)
{
	struct io_uring_params p;
	unsigned dis = w->p.cfg->sandbox ? IORING_SETUP_R_DISABLED : 0;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | dis;
	p.cq_entries = CQ_ENTRIES;
	r = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
	if (r == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN |
			  IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE | dis;
		p.cq_entries = CQ_ENTRIES;
		r = io_uring_queue_init_params(RING_ENTRIES, &w->ring, &p);
	}
	if (r < 0)
		return r;
	w->ring_ok = true;
	io_uring_register_ring_fd(&w->ring);
	if (poll_wait) {
		w->poll_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->poll_efd < 0)
			return -errno;
		if ((r = io_uring_register_eventfd(&w->ring, w->poll_efd)) < 0)
			return r;
	}
	if (dis != 0 && (r = restrict_ring(w)) < 0) {
		log_event(LOG_ERR, "ring_restrictions_failed", "reason=\"%s\"",
		    strerror(-r));
		return r;
	}
	return 0;
}

/* A session paused for a plugin can go on. */
static void
session_resume(void *arg, struct smtp_session *s)
{
	struct worker *w = arg;
	struct conn *c =
	    (struct conn *)((char *)s - offsetof(struct conn, sess));

	if (!c->shut)
		conn_process(w, c);
}

/* Hold s's reply back for secs seconds. */
static void
session_delay(void *arg, struct smtp_session *s, unsigned secs)
{
	struct worker *w = arg;
	struct conn *c =
	    (struct conn *)((char *)s - offsetof(struct conn, sess));

	c->tarpit.kind = 1;
	/* one-second ticks: +1 so the delay is at least secs */
	timer_arm(&w->tw, &c->tarpit, secs + 1);
}

/* Count one AUTH failure of s's client process-wide; true = over. */
static bool
session_auth_failed(void *arg, struct smtp_session *s)
{
	struct worker *w = arg;
	const struct rmx_limits *l = &w->p.cfg->limits;
	struct authfail *f;

	if (l->auth_failures_per_ip == 0)
		return false;
	if (!ip_limit_acquire(
		w->p.authfail, s->ipkey, l->auth_failures_per_ip, 0))
		return true;
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		ip_limit_release(w->p.authfail, s->ipkey);
		return false;
	}
	f->key = s->ipkey;
	f->expires = w->tw.now + (int64_t)l->auth_failure_window;
	*w->af_tail = f;
	w->af_tail = &f->next;
	return ip_limit_count(w->p.authfail, s->ipkey) >=
	       l->auth_failures_per_ip;
}

static bool
session_auth_blocked(void *arg, struct smtp_session *s)
{
	struct worker *w = arg;
	unsigned lim = w->p.cfg->limits.auth_failures_per_ip;

	return lim != 0 && ip_limit_count(w->p.authfail, s->ipkey) >= lim;
}

/* Failures older than the window stop counting. */
static void
expire_auth_failures(struct worker *w, bool all)
{
	while (
	    w->af_head != NULL && (all || w->af_head->expires <= w->tw.now)) {
		struct authfail *f = w->af_head;
		w->af_head = f->next;
		if (w->af_head == NULL)
			w->af_tail = &w->af_head;
		ip_limit_release(w->p.authfail, f->key);
		free(f);
	}
}

static int
resume_one(void *arg, qid_t id, const struct qenvelope *env)
{
	void **a = arg;
	struct worker *w = a[0];
	struct queue_shard *qs = a[1];
	struct qenvelope *copy;
	char sid[QID_STR_LEN + 1];

	if (env == NULL) {
		qid_format(id, sid);
		log_event(LOG_ERR, "queue_corrupt", "id=%s shard=%u", sid,
		    queue_shard_number(qs));
		return 0;
	}
	copy = calloc(1, sizeof(*copy));
	if (copy == NULL || qenvelope_copy(copy, env) != 0) {
		free(copy);
		return 0;
	}
	scheduler_add(w->sched, qs, copy);
	return 0;
}

/* Pin the calling (loop) thread to the (index mod n)-th CPU of the
 * process's CPU set: worker k on its own CPU when workers <= CPUs. */
static void
pin_self(struct worker *w)
{
	int n = CPU_COUNT(&w->all_cpus), k = (int)(w->p.index % (unsigned)n);
	cpu_set_t one;

	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &w->all_cpus) || k-- > 0)
			continue;
		CPU_SET(c, &one);
		break;
	}
	pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
}

static int
setup(struct worker *w)
{
	const struct rmx_config *cfg = w->p.cfg;
	int r;

	if ((r = setup_ring(w)) < 0) {
		snprintf(
		    w->err, sizeof(w->err), "io_uring setup: %s", strerror(-r));
		return -1;
	}
	if ((r = setup_buffers(w)) < 0) {
		snprintf(
		    w->err, sizeof(w->err), "buffer ring: %s", strerror(-r));
		return -1;
	}
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		snprintf(
		    w->err, sizeof(w->err), "eventfd: %s", strerror(errno));
		return -1;
	}
	/* The helper threads inherit this thread's CPU set: start them with
	 * all of the process's CPUs. A committer pinned to its worker's CPU
	 * waits behind whatever else runs there (any CPU hog, even at nice
	 * 19, made every commit late by ~7 ms: 4x fewer msgs/s with one
	 * session, docs/performance.md); free, the scheduler moves it. */
	if (w->pinned)
		pthread_setaffinity_np(
		    pthread_self(), sizeof(w->all_cpus), &w->all_cpus);
	w->qc = queue_committer_start(w->efd);
	w->off = offload_start(w->efd, "ringmx-deliver");
	if (w->pinned)
		pin_self(w);
	if (w->qc == NULL || w->off == NULL) {
		snprintf(w->err, sizeof(w->err), "cannot start threads");
		return -1;
	}
	w->sched = scheduler_new(cfg, w->off, w->qc);
	if (w->sched == NULL) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -1;
	}
	if (w->p.plugins != NULL && plugin_host_count(w->p.plugins) > 0) {
		w->pw = plugin_worker_new(w->p.plugins, w->p.index, w->off,
		    w->efd, w->err, sizeof(w->err));
		if (w->pw == NULL)
			return -1;
	}
	w->af_tail = &w->af_head;
	w->ntls = cfg->nlisteners;
	if ((w->paused = calloc(cfg->nlisteners, sizeof(*w->paused))) == NULL ||
	    (w->tls_srv = calloc(cfg->nlisteners, sizeof(*w->tls_srv))) ==
		NULL) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].tls.ncerts == 0)
			continue;
		w->tls_srv[i] = tls_server_new(
		    &cfg->listeners[i].tls, w->err, sizeof(w->err));
		if (w->tls_srv[i] == NULL)
			return -1;
	}
	if (w->p.index == 0 && cfg->metrics_on && w->p.metrics != NULL &&
	    (w->mhttp = metrics_http_start(&w->ring, &cfg->metrics,
		 w->p.metrics, w->err, sizeof(w->err))) == NULL)
		return -1;
	w->sctx.cfg = cfg;
	w->sctx.shard = w->p.shards[0];
	w->sctx.submit = submit_commit;
	w->sctx.submit_arg = w;
	w->sctx.worker = w->p.index;
	w->sctx.plugins = w->pw;
	scheduler_set_plugins(w->sched, w->pw);
	scheduler_set_shard(w->sched, w->p.shards[0]);
	w->ob = outbound_new(&w->ring, cfg, w->p.dests, w->p.rates, w->p.index);
	if (w->ob == NULL) {
		snprintf(w->err, sizeof(w->err), "out of memory");
		return -1;
	}
	scheduler_set_outbound(w->sched, w->ob);
	setup_dns(w);
	w->sctx.auth_hook = plugin_host_has_hook(w->p.plugins, RMX_HOOK_AUTH);
	w->sctx.resume = session_resume;
	w->sctx.resume_arg = w;
	w->sctx.auth_failed = w->p.authfail ? session_auth_failed : NULL;
	w->sctx.auth_blocked = w->p.authfail ? session_auth_blocked : NULL;
	w->sctx.delay = session_delay;
	timer_wheel_init(&w->tw, monotonic_seconds());
	for (size_t i = 0; i < w->p.nshards; i++) {
		void *arg[2] = {w, w->p.shards[i]};
		if (queue_shard_scan(w->p.shards[i], resume_one, arg) != 0)
			log_event(LOG_ERR, "queue_scan_failed", "shard=%u",
			    queue_shard_number(w->p.shards[i]));
	}
	w->lfds = calloc(cfg->nlisteners, sizeof(int));
	w->accept_armed = calloc(cfg->nlisteners, sizeof(bool));
	if (w->lfds == NULL || w->accept_armed == NULL)
		return -1;
	for (size_t i = 0; i < cfg->nlisteners; i++)
		w->lfds[i] = -1;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		w->lfds[i] =
		    listener_open(&cfg->listeners[i], w->err, sizeof(w->err));
		if (w->lfds[i] < 0)
			return -1;
		arm_accept(w, (unsigned)i);
	}
	arm_notify(w);
	return 0;
}

static void
wait_in_ppoll(struct worker *w, const struct __kernel_timespec *kts)
{
	struct timespec ts = {kts->tv_sec, kts->tv_nsec};
	/* the notify eventfd too: the kernel's signal of the registered
	 * eventfd is deferred (an RCU callback) when the completion comes
	 * from another eventfd's wake-up, as the committer's does */
	struct pollfd pfd[2] = {{.fd = w->poll_efd, .events = POLLIN},
	    {.fd = w->efd, .events = POLLIN}};
	uint64_t v;

	io_uring_submit(&w->ring);
	io_uring_get_events(&w->ring);
	if (io_uring_cq_ready(&w->ring) > 0)
		return;
	if (ppoll(pfd, 2, &ts, NULL) > 0 && (pfd[0].revents & POLLIN) != 0 &&
	    read(w->poll_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_event(LOG_ERR, "eventfd_read", "err=%s", strerror(errno));
	io_uring_get_events(&w->ring);
}

static void
loop(struct worker *w)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = 1, .tv_nsec = 0};
		unsigned head, n = 0;
		int64_t now;

		outbound_tick(w->ob, monotonic_seconds());
		if (w->dns != NULL)
			dns_resolver_expire(w->dns);
		flush_all(w);
		if (!w->stopping)
			scheduler_pump(w->sched, (int64_t)time(NULL));
		publish_buffers(w);
		if (w->stopping && w->nconns == 0 &&
		    !scheduler_busy(w->sched) && !outbound_busy(w->ob))
			break;
		if (plugin_worker_dns_pending(w->pw))
			ts.tv_sec = 0; /* answers from the DNS cache wait */
		if (poll_wait)
			wait_in_ppoll(w, &ts);
		else
			io_uring_submit_and_wait_timeout(
			    &w->ring, &cqe, 1, &ts, NULL);
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			handle_cqe(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		now = monotonic_seconds();
		if (now != w->tw.now) {
			timer_wheel_advance(&w->tw, now, on_timer, w);
			metrics_http_tick(w->mhttp, (int64_t)time(NULL));
			expire_auth_failures(w, false);
		}
		plugin_worker_poll(w->pw);
		if (!w->stopping) {
			for (size_t i = 0; i < w->p.cfg->nlisteners; i++)
				arm_accept(w, (unsigned)i);
		} else if (!w->forced && now >= w->stop_deadline) {
			force_stop(w);
		}
	}
}

static void
teardown(struct worker *w)
{
	/* Nothing is in flight any more (loop() waited for sessions and
	 * the scheduler): stopping the committer only joins it. */
	queue_committer_stop(w->qc);
	{
		/* jobs that finished after the loop ended: only plugin jobs
		 * of cancelled calls can be left (the loop waited for the
		 * scheduler's) */
		struct offload_job *j = offload_stop(w->off), *jn;
		for (; j != NULL; j = jn) {
			jn = j->next;
			if (j->run == tls_reload_run) {
				struct tls_reload_job *t =
				    (struct tls_reload_job *)j;
				for (size_t i = 0; i < t->n; i++)
					tls_server_free(t->srv[i]);
				free(t->srv);
				free(t);
			} else {
				plugin_offload_done(w->pw, j);
			}
		}
	}
	plugin_worker_free(w->pw);
	outbound_free(w->ob);
	/* items with MX lookups in flight are freed (and their lookups
	 * cancelled) by scheduler_free below, before the resolver goes */
	expire_auth_failures(w, true);
	scheduler_free(w->sched);
	dns_resolver_free(w->dns);
	for (size_t i = 0; w->tls_srv != NULL && i < w->ntls; i++)
		tls_server_free(w->tls_srv[i]);
	free(w->tls_srv);
	free(w->paused);
	for (size_t i = 0; w->lfds != NULL && i < w->p.cfg->nlisteners; i++)
		if (w->lfds[i] >= 0)
			close(w->lfds[i]);
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	metrics_http_free(w->mhttp); /* nothing of it is in flight now */
	if (w->efd >= 0)
		close(w->efd);
	if (w->poll_efd >= 0)
		close(w->poll_efd);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];

	snprintf(name, sizeof(name), "ringmx-w%u", w->p.index);
	pthread_setname_np(pthread_self(), name);
	stats_self = &w->stats;
	w->pinned = w->p.cfg->pin_workers &&
		    pthread_getaffinity_np(pthread_self(), sizeof(w->all_cpus),
			&w->all_cpus) == 0 &&
		    CPU_COUNT(&w->all_cpus) > 1;
	if (w->pinned)
		pin_self(w);
	if (setup(w) != 0) {
		atomic_store(&w->ready, -1);
		teardown(w);
		wc_ecc_fp_free();
		atomic_store(&w->done, true);
		return NULL;
	}
	io_uring_submit(&w->ring);
	atomic_store(&w->ready, 1);
	loop(w);
	teardown(w);
	/* Debian's wolfSSL keeps a per-thread ECC fixed-point cache
	 * (FP_ECC): free this thread's before it ends. */
	wc_ecc_fp_free();
	log_event(LOG_INFO, "worker_exit", "worker=%u", w->p.index);
	atomic_store(&w->done, true);
	return NULL;
}

/* worker_new - allocate a worker */
struct worker *
worker_new(const struct worker_params *p)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->p = *p;
	w->efd = -1;
	w->poll_efd = -1;
	return w;
}

/* worker_start - start the thread */
int
worker_start(struct worker *w)
{
	return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0 : -1;
}

/* worker_wait_ready - wait for setup to finish */
int
worker_wait_ready(struct worker *w, char *err, size_t errlen)
{
	int r;
	struct timespec ts = {0, 1000000};

	while ((r = atomic_load(&w->ready)) == 0)
		nanosleep(&ts, NULL);
	if (r < 0) {
		snprintf(err, errlen, "worker %u: %s", w->p.index, w->err);
		return -1;
	}
	return 0;
}

/* worker_reconfigure - adopt ncfg at the next loop turn (any thread;
 * ncfg must stay valid until the process exits) */
void
worker_reconfigure(struct worker *w, const struct rmx_config *ncfg)
{
	uint64_t one = 1;

	atomic_store_explicit(&w->new_cfg, ncfg, memory_order_release);
	if (w->efd >= 0 && write(w->efd, &one, sizeof(one)) < 0) {
		/* eventfd full: the worker is being woken anyway */
	}
}

/* worker_ctl - hand a control request to the worker (any thread) */
void
worker_ctl(struct worker *w, struct ctl_msg *m)
{
	struct ctl_msg *head =
	    atomic_load_explicit(&w->ctl_inbox, memory_order_relaxed);
	uint64_t one = 1;

	do
		m->next = head;
	while (!atomic_compare_exchange_weak_explicit(&w->ctl_inbox, &head, m,
	    memory_order_release, memory_order_relaxed));
	if (w->efd >= 0 && write(w->efd, &one, sizeof(one)) < 0) {
		/* eventfd full: the worker is being woken anyway */
	}
}

/* worker_paused - whether listener li is paused on this worker */
bool
worker_paused(const struct worker *w, size_t li)
{
	return w->paused != NULL &&
	       atomic_load_explicit(&w->paused[li], memory_order_relaxed);
}

/* worker_stats - this worker's counters (relaxed reads, any thread) */
const struct stats *
worker_stats(const struct worker *w)
{
	return &w->stats;
}

/* worker_reload_tls - re-read the certificate files (any thread) */
void
worker_reload_tls(struct worker *w)
{
	uint64_t one = 1;

	atomic_fetch_add_explicit(&w->tls_gen, 1, memory_order_release);
	if (w->efd >= 0 && write(w->efd, &one, sizeof(one)) < 0) {
		/* eventfd full: the worker is being woken anyway */
	}
}

/* worker_request_stop - graceful stop */
void
worker_request_stop(struct worker *w)
{
	uint64_t one = 1;

	atomic_store_explicit(&w->stop_req, true, memory_order_release);
	if (w->efd >= 0 && write(w->efd, &one, sizeof(one)) < 0) {
		/* eventfd full: the worker is being woken anyway */
	}
}

/* worker_done - whether the thread has finished */
bool
worker_done(struct worker *w)
{
	return atomic_load(&w->done);
}

/* worker_join_free - wait for the thread, free everything */
void
worker_join_free(struct worker *w)
{
	pthread_join(w->thread, NULL);
	for (size_t i = 0; i < w->p.nshards; i++)
		queue_shard_close(w->p.shards[i]);
	free(w->p.shards);
	for (uint32_t i = 0; i < w->nslots; i++)
		free(w->slots[i]);
	free(w->slots);
	free(w->freelist);
	free(w->lfds);
	free(w->accept_armed);
	free(w->bufmem);
	if (w->br != NULL)
		munmap(w->br, NBUFS * sizeof(struct io_uring_buf));
	free(w);
}
