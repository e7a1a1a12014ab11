/*
 * ringmx-load.c - the SMTP load generator of ringmx's benchmarks.
 *
 * Sends -m messages over -s concurrent SMTP sessions to HOST:PORT, -M
 * messages per connection, closed loop (a session starts its next message
 * when the previous one is answered) or open loop at -R messages/s. Each
 * worker thread (-j, default 1) owns one io_uring and does all socket I/O
 * on it: connect, send/sendmsg and recv; nothing in the loop blocks. The
 * message body is built once and shared (sent with sendmsg from the same
 * memory by every session); only the headers are formatted per message.
 * STARTTLS (-T) drives wolfSSL over memory buffers: the ring moves the
 * ciphertext, wolfSSL never touches a socket (the model of
 * core/tls_conn.c).
 *
 * Measures: messages sent/accepted/rejected (by reply code), connection
 * errors, wall time, messages/s, the latency from sending the final "."
 * to its reply (log-bucketed histogram, < 0.4% error), with -T the
 * handshake rate and latency, and the loader's own CPU per message
 * (getrusage). A human table, and one JSON object with --json. Exit 0 when
 * every message was accepted, 1 otherwise, 2 on a usage error.
 *
 * Memory is bounded: per session a 16 KiB receive buffer and the
 * commands/headers of one transaction; with -T at most 256 KiB of
 * ciphertext is produced ahead of the socket.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define RBUF_SIZE 16384
#define TLS_AHEAD (256 * 1024) /* ciphertext produced ahead of the socket */
#define HIST_SUB  128          /* sub-buckets per power of two */
#define HIST_N    (58 * HIST_SUB)
#define MAX_CODES 600

/* ------------------------------------------------------------ options */

static struct {
	int sessions, threads, rcpts, per_conn;
	long long messages;
	long size;
	const char *file, *from, *to;
	bool pipelining, tls, implicit_tls, hs_only, quiet, json;
	double rate, warmup, timeout;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char target[300];
} O = {.sessions = 1,
    .threads = 1,
    .rcpts = 1,
    .per_conn = 1,
    .messages = 1,
    .size = 4096,
    .from = "load@localhost",
    .to = "test@localhost",
    .timeout = 60};

/* What every session sends, built once (read-only for the threads). */
static struct {
	char *body; /* dot-stuffed, CRLF, without the final "." */
	size_t body_len;
	bool headers; /* generate per-message headers (not with -F) */
	char *mail;   /* "MAIL FROM:<..>\r\n" */
	char **rcpt;  /* "RCPT TO:<..>\r\n" each */
	char *pipe;   /* MAIL, RCPTs and DATA in one string */
	char date[64];
	unsigned long long idbase;
} M;

static WOLFSSL_CTX *tls_ctx;

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ringmx-load: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ----------------------------------------------------------- buffers */

struct obuf {
	char *p;
	size_t len, cap;
};

static void
ob_append(struct obuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			die("out of memory");
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
ob_str(struct obuf *b, const char *s)
{
	ob_append(b, s, strlen(s));
}

/* Output: bytes, an optional borrowed body, bytes after it. */
struct outq {
	struct obuf a, b;
	const char *body;
	size_t blen, off;
};

static size_t
oq_len(const struct outq *q)
{
	return q->a.len + q->blen + q->b.len;
}

static void
oq_reset(struct outq *q)
{
	q->a.len = q->b.len = 0;
	q->body = NULL;
	q->blen = q->off = 0;
}

/* Fill iov with what is left from q->off; returns the count. */
static int
oq_iov(const struct outq *q, struct iovec *iov)
{
	size_t off = q->off;
	int n = 0;
	const char *seg[3] = {q->a.p, q->body, q->b.p};
	size_t len[3] = {q->a.len, q->blen, q->b.len};

	for (int i = 0; i < 3; i++) {
		if (off >= len[i]) {
			off -= len[i];
			continue;
		}
		iov[n].iov_base = (void *)(uintptr_t)(seg[i] + off);
		iov[n].iov_len = len[i] - off;
		n++;
		off = 0;
	}
	return n;
}

/* --------------------------------------------------------- histogram */

struct hist {
	uint64_t n, max, sum;
	uint64_t b[HIST_N];
};

static void
hist_add(struct hist *h, uint64_t v)
{
	size_t i;

	if (v < HIST_SUB) {
		i = v;
	} else {
		int e = 63 - __builtin_clzll(v);
		i = (size_t)(e - 6) * HIST_SUB +
		    ((v >> (e - 7)) & (HIST_SUB - 1));
	}
	h->b[i]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

static double
hist_pct(const struct hist *h, double pct)
{
	uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)h->n), seen = 0;

	if (h->n == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < HIST_N; i++) {
		seen += h->b[i];
		if (seen < rank)
			continue;
		if (i < HIST_SUB)
			return (double)i;
		int e = (int)(i / HIST_SUB) + 6;
		double lo = (double)((HIST_SUB + i % HIST_SUB) << (e - 7));
		double mid = lo + (double)(1ULL << (e - 7)) / 2;
		return mid > (double)h->max ? (double)h->max : mid;
	}
	return (double)h->max;
}

static void
hist_merge(struct hist *d, const struct hist *s)
{
	for (size_t i = 0; i < HIST_N; i++)
		d->b[i] += s->b[i];
	d->n += s->n;
	d->sum += s->sum;
	if (s->max > d->max)
		d->max = s->max;
}

/* -------------------------------------------------------------- stats */

struct stats {
	uint64_t sent, accepted, rejected, failed, conn_errors, rcpt_rejected;
	uint64_t handshakes, codes[MAX_CODES];
	struct hist lat, hs; /* nanoseconds */
};

static void
stats_merge(struct stats *d, const struct stats *s)
{
	d->sent += s->sent;
	d->accepted += s->accepted;
	d->rejected += s->rejected;
	d->failed += s->failed;
	d->conn_errors += s->conn_errors;
	d->rcpt_rejected += s->rcpt_rejected;
	d->handshakes += s->handshakes;
	for (int i = 0; i < MAX_CODES; i++)
		d->codes[i] += s->codes[i];
	hist_merge(&d->lat, &s->lat);
	hist_merge(&d->hs, &s->hs);
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* ------------------------------------------------------- connections */

enum cst {
	C_FREE,
	C_CONNECT,
	C_GREET,
	C_EHLO,
	C_STARTTLS,
	C_HANDSHAKE,
	C_EHLO2,
	C_WAIT, /* ready, waiting for a token (open loop) */
	C_MAIL,
	C_RCPT,
	C_DATA,
	C_PIPE, /* pipelined MAIL/RCPT/DATA replies */
	C_DOT,
	C_RSET,
	C_QUIT,
	C_CLOSING
};

enum op { OP_CONNECT = 1, OP_RECV, OP_SEND };

struct worker;

struct lconn {
	struct worker *w;
	int fd, slot, inflight;
	uint32_t gen;
	enum cst st;
	bool pipelining, have_token, in_txn, pipe_seen;
	int nsent;  /* transactions started on this connection */
	bool fresh; /* counted in w->fresh: no transaction yet */
	int rcpt_i; /* next RCPT reply expected (pipelined: count) */
	int rcpt_ok, bad_code;
	bool mail_ok;
	uint64_t t_start, t_dot, t_hs, last; /* t_start: of the transaction */
	char rb[RBUF_SIZE];
	size_t rlen;
	bool send_busy, recv_busy;
	struct outq stage, fly;
	struct msghdr mh;
	struct iovec iov[3];
	/* TLS */
	WOLFSSL *ssl;
	struct obuf cin, cout; /* ciphertext in (unread), out (unsent) */
	size_t cin_off;
	char raw[RBUF_SIZE];
	char hdr[512];
};

struct worker {
	int id;
	struct io_uring ring;
	struct lconn *c;
	int nslots, active, sessions;
	int *waiting, nwaiting;
	/* unreserved: messages no session has taken yet; fresh: sessions
	 * opened that have not taken their first one */
	long long messages, unreserved, done, tokens_taken, fresh;
	double rate;
	uint64_t t0, t_warm, t_end, seq;
	uint64_t all_accepted; /* warm-up included: the exit status */
	uint64_t all_sent;     /* warm-up included: CPU per message */
	struct stats st;
	char err[160];
	pthread_t tid;
};

static struct io_uring_sqe *
get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	if (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
		if (sqe == NULL)
			die("submission queue full");
	}
	return sqe;
}

static uint64_t
ud(const struct lconn *c, int op)
{
	return ((uint64_t)c->gen << 32) | ((uint64_t)c->slot << 4) |
	       (uint64_t)op;
}

static bool
counted(const struct worker *w, uint64_t t)
{
	return t >= w->t_warm;
}

static void conn_fail(struct lconn *c, const char *why);
static void next_txn(struct lconn *c);

/* A message is over (accepted or not): count it where it belongs. */
static void
msg_done(struct lconn *c, int code)
{
	struct worker *w = c->w;

	c->in_txn = false;
	w->done++;
	if (code >= 200 && code < 300)
		w->all_accepted++;
	if (!counted(w, c->t_start))
		return;
	if (code >= 200 && code < 300) {
		w->st.accepted++;
	} else if (code > 0) {
		w->st.rejected++;
		if (code < MAX_CODES)
			w->st.codes[code]++;
	} else {
		w->st.failed++;
	}
}

static void
arm_recv(struct lconn *c)
{
	struct io_uring_sqe *sqe = get_sqe(c->w);
	if (c->ssl != NULL)
		io_uring_prep_recv(sqe, c->fd, c->raw, sizeof(c->raw), 0);
	else
		io_uring_prep_recv(
		    sqe, c->fd, c->rb + c->rlen, sizeof(c->rb) - c->rlen, 0);
	io_uring_sqe_set_data64(sqe, ud(c, OP_RECV));
	c->recv_busy = true;
	c->inflight++;
}

static void
submit_fly(struct lconn *c)
{
	struct io_uring_sqe *sqe = get_sqe(c->w);
	int n = oq_iov(&c->fly, c->iov);

	if (n == 1) {
		io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base,
		    c->iov[0].iov_len, MSG_NOSIGNAL);
	} else {
		memset(&c->mh, 0, sizeof(c->mh));
		c->mh.msg_iov = c->iov;
		c->mh.msg_iovlen = (size_t)n;
		io_uring_prep_sendmsg(sqe, c->fd, &c->mh, MSG_NOSIGNAL);
	}
	io_uring_sqe_set_data64(sqe, ud(c, OP_SEND));
	c->send_busy = true;
	c->inflight++;
}

/* Encrypt staged plaintext (up to TLS_AHEAD at a time) into cout. */
static void
tls_encrypt(struct lconn *c)
{
	struct iovec iov[3];

	while (c->cout.len < TLS_AHEAD && c->stage.off < oq_len(&c->stage)) {
		oq_iov(&c->stage, iov);
		int n = iov[0].iov_len > 16384 ? 16384 : (int)iov[0].iov_len;
		if (wolfSSL_write(c->ssl, iov[0].iov_base, n) != n) {
			conn_fail(c, "TLS write failed");
			return;
		}
		c->stage.off += (size_t)n;
	}
	if (c->stage.off == oq_len(&c->stage))
		oq_reset(&c->stage);
}

/* Start a send of whatever is staged, unless one is in flight. */
static void
flush(struct lconn *c)
{
	if (c->send_busy || c->st == C_CLOSING)
		return;
	if (c->ssl != NULL) {
		if (wolfSSL_is_init_finished(c->ssl))
			tls_encrypt(c);
		if (c->cout.len == 0)
			return;
		struct obuf t = c->fly.a;
		oq_reset(&c->fly);
		c->fly.a = c->cout;
		c->cout = t;
		c->cout.len = 0;
	} else {
		if (oq_len(&c->stage) == 0)
			return;
		struct outq t = c->fly;
		c->fly = c->stage;
		c->stage = t;
		oq_reset(&c->stage);
	}
	submit_fly(c);
}

static void
put(struct lconn *c, const char *s)
{
	ob_str(c->stage.body ? &c->stage.b : &c->stage.a, s);
}

/* The message content: per-message headers, the shared body, ".". */
static void
put_content(struct lconn *c)
{
	struct worker *w = c->w;

	if (M.headers) {
		int n = snprintf(c->hdr, sizeof(c->hdr),
		    "From: <%s>\r\nTo: <%s>\r\nSubject: ringmx-load test "
		    "message %llu\r\nDate: %s\r\nMessage-ID: "
		    "<%llx.%d.%llu@ringmx-load.invalid>\r\n\r\n",
		    O.from, O.to, (unsigned long long)w->seq, M.date, M.idbase,
		    w->id, (unsigned long long)w->seq);
		w->seq++;
		ob_append(&c->stage.a, c->hdr, (size_t)n);
	}
	c->stage.body = M.body;
	c->stage.blen = M.body_len;
	ob_str(&c->stage.b, ".\r\n");
	c->t_dot = now_ns();
	w->all_sent++;
	if (counted(w, c->t_start))
		w->st.sent++;
}

static void
conn_free(struct lconn *c)
{
	struct worker *w = c->w;

	if (c->fd >= 0)
		close(c->fd);
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	c->ssl = NULL;
	c->fd = -1;
	c->st = C_FREE;
	c->gen++;
	c->rlen = 0;
	c->cin.len = c->cout.len = c->cin_off = 0;
	oq_reset(&c->stage);
	oq_reset(&c->fly);
	w->active--;
}

static void
conn_close(struct lconn *c)
{
	if (c->st != C_CLOSING) {
		c->st = C_CLOSING;
		if (c->fd >= 0 && c->inflight > 0)
			shutdown(c->fd, SHUT_RDWR);
	}
	if (c->inflight == 0)
		conn_free(c);
}

/* The connection broke: its unfinished messages count as failed. */
static void
conn_fail(struct lconn *c, const char *why)
{
	struct worker *w = c->w;

	if (c->st == C_CLOSING)
		return;
	if (counted(w, now_ns()))
		w->st.conn_errors++;
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "%s", why);
	if (c->in_txn)
		msg_done(c, 0);
	c->t_start = now_ns();
	if (c->st == C_WAIT)
		for (int i = 0; i < w->nwaiting; i++)
			if (w->waiting[i] == c->slot)
				w->waiting[i] = w->waiting[--w->nwaiting];
	if (c->fresh) {
		/* failed before its first message: that message fails, so
		 * that a refusing server cannot keep us reconnecting */
		c->fresh = false;
		w->fresh--;
		if (w->unreserved > 0) {
			w->unreserved--;
			c->in_txn = true;
			msg_done(c, 0);
		}
	}
	if (c->have_token && w->rate > 0)
		w->tokens_taken--;
	c->have_token = false;
	conn_close(c);
}

static bool
take_token(struct worker *w)
{
	if (w->rate <= 0)
		return true;
	double el = (double)(now_ns() - w->t0) / 1e9;
	if ((double)w->tokens_taken >= el * w->rate + 1)
		return false;
	w->tokens_taken++;
	return true;
}

static void
open_conn(struct worker *w, bool token)
{
	struct lconn *c = NULL;

	for (int i = 0; i < w->nslots; i++)
		if (w->c[i].st == C_FREE) {
			c = &w->c[i];
			break;
		}
	if (c == NULL)
		return;
	c->nsent = 0;
	c->fresh = true;
	w->fresh++;
	w->active++;
	c->have_token = token;
	c->pipelining = c->in_txn = false;
	c->last = now_ns();
	c->st = C_CONNECT;
	c->t_start = now_ns();
	c->fd = socket(O.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->st = C_GREET;
		conn_fail(c, "socket() failed");
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct io_uring_sqe *sqe = get_sqe(w);
	io_uring_prep_connect(
	    sqe, c->fd, (struct sockaddr *)&O.addr, O.addrlen);
	io_uring_sqe_set_data64(sqe, ud(c, OP_CONNECT));
	c->inflight++;
}

static void
start_tls(struct lconn *c)
{
	c->ssl = wolfSSL_new(tls_ctx);
	if (c->ssl == NULL) {
		conn_fail(c, "cannot create a TLS session");
		return;
	}
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	c->rlen = 0;
	c->st = C_HANDSHAKE;
	c->t_hs = now_ns();
	(void)wolfSSL_connect(c->ssl); /* the ClientHello into cout */
}

/* A transaction's first commands, or QUIT when nothing is left. */
static void
next_txn(struct lconn *c)
{
	struct worker *w = c->w;

	if (c->fresh) {
		c->fresh = false;
		w->fresh--;
	}
	if (O.hs_only && c->nsent == 0 && w->unreserved > 0) {
		/* -H: the connection is the unit counted; QUIT at once */
		c->have_token = false;
		c->nsent++;
		w->unreserved--;
		c->in_txn = true;
		put(c, "QUIT\r\n");
		c->st = C_QUIT;
		w->all_sent++; /* -H: "sent" counts connections that QUIT */
		if (counted(w, c->t_start))
			w->st.sent++;
		return;
	}
	if (c->nsent == O.per_conn || w->unreserved == 0) {
		if (c->have_token && w->rate > 0)
			w->tokens_taken--; /* unused */
		c->have_token = false;
		put(c, "QUIT\r\n");
		c->st = C_QUIT;
		return;
	}
	if (!c->have_token && !take_token(w)) {
		c->st = C_WAIT;
		w->waiting[w->nwaiting++] = c->slot;
		return;
	}
	c->have_token = false;
	c->nsent++;
	w->unreserved--;
	c->in_txn = true;
	c->t_start = now_ns();
	c->rcpt_i = c->rcpt_ok = c->bad_code = 0;
	c->mail_ok = false;
	if (c->pipelining) {
		put(c, M.pipe);
		c->st = C_PIPE;
	} else {
		put(c, M.mail);
		c->st = C_MAIL;
	}
}

/* Transaction over: the next one, or RSET after a refusal. */
static void
txn_end(struct lconn *c, int code)
{
	msg_done(c, code);
	if (code >= 200 && code < 300) {
		next_txn(c);
	} else if (c->nsent < O.per_conn && c->w->unreserved > 0) {
		put(c, "RSET\r\n");
		c->st = C_RSET;
	} else {
		next_txn(c);
	}
}

static void
note_reject(struct lconn *c, int code)
{
	if (c->bad_code == 0)
		c->bad_code = code;
}

/* One complete reply (code, and for EHLO whether PIPELINING came). */
static void
on_reply(struct lconn *c, int code, bool pipelining)
{
	struct worker *w = c->w;

	if (code == 421 && c->st != C_DOT && c->st != C_PIPE) {
		if (c->in_txn)
			msg_done(c, 421);
		conn_fail(c, "421 from the server");
		return;
	}
	switch (c->st) {
	case C_GREET:
		if (code != 220)
			return conn_fail(c, "no 220 greeting");
		if (O.hs_only && (!O.tls || c->ssl != NULL)) {
			next_txn(c); /* -H: QUIT */
			break;
		}
		put(c, "EHLO ringmx-load.invalid\r\n");
		c->st = C_EHLO;
		break;
	case C_EHLO:
	case C_EHLO2:
		if (code != 250)
			return conn_fail(c, "EHLO refused");
		c->pipelining = O.pipelining && pipelining;
		if (O.tls && c->st == C_EHLO && c->ssl == NULL) {
			put(c, "STARTTLS\r\n");
			c->st = C_STARTTLS;
		} else {
			next_txn(c);
		}
		break;
	case C_STARTTLS:
		if (code != 220)
			return conn_fail(c, "STARTTLS refused");
		start_tls(c);
		break;
	case C_MAIL:
		if (code != 250) {
			note_reject(c, code);
			return txn_end(c, code);
		}
		put(c, M.rcpt[0]);
		c->st = C_RCPT;
		break;
	case C_RCPT:
		if (code >= 200 && code < 300) {
			c->rcpt_ok++;
		} else {
			w->st.rcpt_rejected++;
			note_reject(c, code);
		}
		if (++c->rcpt_i < O.rcpts) {
			put(c, M.rcpt[c->rcpt_i]);
		} else if (c->rcpt_ok == 0) {
			return txn_end(c, c->bad_code);
		} else {
			put(c, "DATA\r\n");
			c->st = C_DATA;
		}
		break;
	case C_DATA:
		if (code != 354)
			return txn_end(c, code);
		put_content(c);
		c->st = C_DOT;
		break;
	case C_PIPE:
		if (c->rcpt_i == 0) {
			c->mail_ok = code == 250;
			if (!c->mail_ok)
				note_reject(c, code);
		} else if (c->rcpt_i <= O.rcpts) {
			if (code >= 200 && code < 300) {
				c->rcpt_ok++;
			} else {
				w->st.rcpt_rejected++;
				note_reject(c, code);
			}
		} else if (code == 354) {
			if (c->mail_ok && c->rcpt_ok > 0) {
				put_content(c);
				c->st = C_DOT;
			} else {
				put(c, ".\r\n"); /* nothing to send after all */
				c->st = C_DOT;
				c->bad_code = c->bad_code ? c->bad_code : 554;
			}
			break;
		} else {
			return txn_end(c, c->bad_code ? c->bad_code : code);
		}
		c->rcpt_i++;
		break;
	case C_DOT:
		if (c->bad_code != 0 && c->t_dot == 0)
			return txn_end(c, c->bad_code);
		if (counted(w, c->t_start))
			hist_add(&w->st.lat, now_ns() - c->t_dot);
		c->t_dot = 0;
		txn_end(c, code);
		break;
	case C_RSET:
		next_txn(c);
		break;
	case C_QUIT:
		if (c->in_txn) { /* -H: the connection is over */
			if (counted(w, c->t_start) && code == 221)
				hist_add(&w->st.lat, now_ns() - c->t_start);
			msg_done(c, code);
		}
		conn_close(c);
		break;
	default:
		conn_fail(c, "unexpected reply");
	}
}

/* Complete reply lines in rb; keeps a partial line. */
static void
parse_replies(struct lconn *c)
{
	size_t off = 0;

	while (c->st != C_CLOSING && c->st != C_FREE) {
		char *nl = memchr(c->rb + off, '\n', c->rlen - off);
		if (nl == NULL)
			break;
		char *l = c->rb + off;
		size_t n = (size_t)(nl - l);
		off += n + 1;
		if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' ||
		    l[1] > '9' || l[2] < '0' || l[2] > '9') {
			conn_fail(c, "malformed reply");
			return;
		}
		if (n >= 14 && strncasecmp(l + 4, "PIPELINING", 10) == 0)
			c->pipe_seen = true;
		if (n > 3 && l[3] == '-')
			continue;
		int code =
		    (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		bool p = c->pipe_seen;
		c->pipe_seen = false;
		on_reply(c, code, p);
		if (c->ssl != NULL && c->st == C_HANDSHAKE) {
			off = c->rlen; /* nothing may follow STARTTLS' 220 */
			break;
		}
	}
	if (c->st == C_FREE)
		return;
	if (off > 0) {
		memmove(c->rb, c->rb + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rlen == sizeof(c->rb))
		conn_fail(c, "reply line too long");
}

/* wolfSSL I/O over memory (cin/cout). */
static int
tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct lconn *c = ctx;
	size_t avail = c->cin.len - c->cin_off, n;

	(void)ssl;
	if (avail == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	n = (size_t)sz < avail ? (size_t)sz : avail;
	memcpy(buf, c->cin.p + c->cin_off, n);
	c->cin_off += n;
	if (c->cin_off == c->cin.len)
		c->cin.len = c->cin_off = 0;
	return (int)n;
}

static int
tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct lconn *c = ctx;

	(void)ssl;
	ob_append(&c->cout, buf, (size_t)sz);
	return sz;
}

static void
tls_input(struct lconn *c, size_t n)
{
	struct worker *w = c->w;

	ob_append(&c->cin, c->raw, n);
	if (c->st == C_HANDSHAKE) {
		int rc = wolfSSL_connect(c->ssl);
		if (rc != WOLFSSL_SUCCESS) {
			int e = wolfSSL_get_error(c->ssl, rc);
			if (e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE) {
				char b[100], m[140];
				wolfSSL_ERR_error_string_n(
				    (unsigned long)e, b, sizeof(b));
				snprintf(m, sizeof(m), "TLS handshake: %s", b);
				conn_fail(c, m);
			}
			return;
		}
		uint64_t t = now_ns();
		if (counted(w, c->t_hs)) {
			w->st.handshakes++;
			hist_add(&w->st.hs, t - c->t_hs);
		}
		if (O.implicit_tls) {
			c->st = C_GREET; /* the greeting comes inside TLS */
		} else if (O.hs_only) {
			next_txn(c); /* -H: QUIT */
		} else {
			put(c, "EHLO ringmx-load.invalid\r\n");
			c->st = C_EHLO2;
		}
	}
	for (;;) {
		int r = wolfSSL_read(
		    c->ssl, c->rb + c->rlen, (int)(sizeof(c->rb) - c->rlen));
		if (r <= 0) {
			int e = wolfSSL_get_error(c->ssl, r);
			if (e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE)
				conn_fail(c, "TLS read failed");
			return;
		}
		c->rlen += (size_t)r;
		parse_replies(c);
		if (c->st == C_CLOSING || c->st == C_FREE)
			return;
	}
}

static void
on_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t u = cqe->user_data;
	int op = (int)(u & 15), slot = (int)((u >> 4) & 0xfffffff),
	    res = cqe->res;
	struct lconn *c = &w->c[slot];
	char why[120];

	if (c->gen != (uint32_t)(u >> 32) || c->st == C_FREE)
		return;
	c->inflight--;
	c->last = now_ns();
	if (c->st == C_CLOSING) {
		if (c->inflight == 0)
			conn_free(c);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		if (res < 0) {
			snprintf(
			    why, sizeof(why), "connect: %s", strerror(-res));
			return conn_fail(c, why);
		}
		c->st = C_GREET;
		if (O.implicit_tls) {
			start_tls(c); /* the ClientHello goes first */
			if (c->st == C_CLOSING || c->st == C_FREE)
				return;
			flush(c);
		}
		arm_recv(c);
		return;
	case OP_RECV:
		c->recv_busy = false;
		if (res <= 0) {
			snprintf(why, sizeof(why), "%s",
			    res == 0 ? "connection closed by the server"
				     : strerror(-res));
			return conn_fail(c, why);
		}
		if (c->ssl != NULL) {
			tls_input(c, (size_t)res);
		} else {
			c->rlen += (size_t)res;
			parse_replies(c);
		}
		break;
	case OP_SEND:
		c->send_busy = false;
		if (res < 0) {
			snprintf(why, sizeof(why), "send: %s", strerror(-res));
			return conn_fail(c, why);
		}
		c->fly.off += (size_t)res;
		if (c->fly.off < oq_len(&c->fly)) {
			submit_fly(c);
			return;
		}
		oq_reset(&c->fly);
		break;
	}
	if (c->st == C_CLOSING || c->st == C_FREE)
		return;
	flush(c);
	if (!c->recv_busy)
		arm_recv(c);
}

/* Expire idle sessions; in open loop hand out tokens. */
static void
tick(struct worker *w)
{
	uint64_t t = now_ns();
	static __thread uint64_t last_scan;

	while (w->nwaiting > 0 && take_token(w)) {
		struct lconn *c = &w->c[w->waiting[--w->nwaiting]];
		if (c->st != C_WAIT) {
			w->tokens_taken--;
			continue;
		}
		c->have_token = true;
		next_txn(c);
		flush(c);
		if (!c->recv_busy)
			arm_recv(c);
	}
	if (w->rate > 0) {
		while (w->nwaiting == 0 && w->unreserved > w->fresh &&
		       w->active < w->sessions && take_token(w))
			open_conn(w, true);
	}
	t = now_ns(); /* after the opens above: never before c->last */
	if (t - last_scan < 100000000ULL)
		return;
	last_scan = t;
	for (int i = 0; i < w->nslots; i++) {
		struct lconn *c = &w->c[i];
		if (c->st != C_FREE && c->st != C_CLOSING && c->st != C_WAIT &&
		    t > c->last && (double)(t - c->last) > O.timeout * 1e9)
			conn_fail(c, "timeout waiting for the server");
	}
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL;
	unsigned entries = 4096;
	if (io_uring_queue_init_params(entries, &w->ring, &p) < 0) {
		memset(&p, 0, sizeof(p));
		int r = io_uring_queue_init_params(entries, &w->ring, &p);
		if (r < 0)
			die("io_uring_queue_init: %s", strerror(-r));
	}
	w->nslots = w->sessions;
	w->c = calloc((size_t)w->nslots, sizeof(*w->c));
	w->waiting = calloc((size_t)w->nslots, sizeof(int));
	if (w->c == NULL || w->waiting == NULL)
		die("out of memory");
	for (int i = 0; i < w->nslots; i++) {
		w->c[i].w = w;
		w->c[i].slot = i;
		w->c[i].fd = -1;
	}
	w->unreserved = w->messages;
	w->t0 = now_ns();
	w->t_warm = w->t0 + (uint64_t)(O.warmup * 1e9);
	if (w->rate <= 0)
		while (w->unreserved > w->fresh && w->active < w->sessions)
			open_conn(w, true);
	while (w->done < w->messages || w->active > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		struct __kernel_timespec ts = {
		    0, w->rate > 0 ? 1000000 : 100000000};

		if (w->rate <= 0)
			while (
			    w->unreserved > w->fresh && w->active < w->sessions)
				open_conn(w, true);
		int r = io_uring_submit_and_wait_timeout(
		    &w->ring, &cqe, 1, &ts, NULL);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN &&
		    r != -EBUSY)
			die("io_uring_submit_and_wait: %s", strerror(-r));
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			seen++;
			on_cqe(w, cqe);
		}
		io_uring_cq_advance(&w->ring, seen);
		tick(w);
	}
	w->t_end = now_ns();
	io_uring_queue_exit(&w->ring);
	for (int i = 0; i < w->nslots; i++) {
		struct lconn *c = &w->c[i];
		free(c->stage.a.p);
		free(c->stage.b.p);
		free(c->fly.a.p);
		free(c->fly.b.p);
		free(c->cin.p);
		free(c->cout.p);
	}
	free(w->c);
	free(w->waiting);
	w->c = NULL;
	w->waiting = NULL;
	return NULL;
}

/* ------------------------------------------------------------- setup */

/* The message body: text lines, every 9th starting with a dot (stuffed). */
static void
build_body(void)
{
	struct obuf b = {0};
	char line[128];
	long target = O.size - 200; /* about the size of the headers */
	unsigned i = 0;

	if (target < 1)
		target = 1;
	while ((long)b.len < target) {
		int n = snprintf(line, sizeof(line),
		    "%sringmx-load body line %06u: the quick brown fox jumps "
		    "over the lazy dog\r\n",
		    i % 9 == 8 ? ".." : "", i);
		ob_append(&b, line, (size_t)n);
		i++;
	}
	M.body = b.p;
	M.body_len = b.len;
	M.headers = true;
}

/* -F: a message file, LF or CRLF lines, made CRLF and dot-stuffed. */
static void
load_file(void)
{
	FILE *f = fopen(O.file, "rb");
	struct obuf b = {0};
	bool bol = true;
	int ch, prev = 0;

	if (f == NULL)
		die("cannot open %s: %s", O.file, strerror(errno));
	while ((ch = getc(f)) != EOF) {
		if (bol && ch == '.')
			ob_append(&b, ".", 1);
		if (ch == '\n' && prev != '\r')
			ob_append(&b, "\r", 1);
		char cc = (char)ch;
		ob_append(&b, &cc, 1);
		bol = ch == '\n';
		prev = ch;
	}
	if (ferror(f))
		die("cannot read %s", O.file);
	fclose(f);
	if (b.len > 0 && !bol)
		ob_append(&b, "\r\n", 2);
	M.body = b.p ? b.p : strdup("");
	M.body_len = b.len;
	M.headers = false;
}

static void
build_commands(void)
{
	struct obuf pipe = {0};
	const char *at = strrchr(O.to, '@');
	size_t local = at ? (size_t)(at - O.to) : strlen(O.to);
	char tmp[600];

	snprintf(tmp, sizeof(tmp), "MAIL FROM:<%s>\r\n", O.from);
	M.mail = strdup(tmp);
	ob_str(&pipe, tmp);
	M.rcpt = calloc((size_t)O.rcpts, sizeof(char *));
	if (M.mail == NULL || M.rcpt == NULL)
		die("out of memory");
	for (int i = 0; i < O.rcpts; i++) {
		if (i == 0)
			snprintf(tmp, sizeof(tmp), "RCPT TO:<%s>\r\n", O.to);
		else
			snprintf(tmp, sizeof(tmp), "RCPT TO:<%.*s+%d%s>\r\n",
			    (int)local, O.to, i, at ? at : "");
		if ((M.rcpt[i] = strdup(tmp)) == NULL)
			die("out of memory");
		ob_str(&pipe, tmp);
	}
	ob_str(&pipe, "DATA\r\n");
	ob_append(&pipe, "", 1);
	M.pipe = pipe.p;
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(M.date, sizeof(M.date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	M.idbase = (unsigned long long)t ^ ((unsigned long long)getpid() << 32);
}

static void
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "ringmx-load: %s\n", why);
	fprintf(stderr,
	    "usage: ringmx-load [options] HOST:PORT\n"
	    "  -s N        concurrent sessions (default 1)\n"
	    "  -m N        messages in total (default 1)\n"
	    "  -M N        messages per connection (default 1)\n"
	    "  -l BYTES    message size (default 4096)\n"
	    "  -F FILE     send this message instead (LF or CRLF lines)\n"
	    "  -r N        recipients per message (default 1)\n"
	    "  -f FROM     envelope sender (default load@localhost)\n"
	    "  -t TO       first recipient (default test@localhost); others\n"
	    "              are to+N@domain\n"
	    "  -P          PIPELINING when the server offers it\n"
	    "  -T          STARTTLS on every connection (no verification)\n"
	    "  -I          implicit TLS (port 465 style) instead of STARTTLS\n"
	    "  -H          connections only: connect, [TLS,] greeting, QUIT;\n"
	    "              each connection counts as one message, its latency\n"
	    "              is connect to 221 (closed loop only)\n"
	    "  -R RATE     messages/s, open loop (default: closed loop)\n"
	    "  -w SECONDS  warm-up excluded from the statistics\n"
	    "  -j N        threads, one io_uring each (default 1)\n"
	    "  -q          print nothing but the result\n"
	    "  --json      print the result as one JSON object too\n"
	    "  --timeout S seconds without an answer before a session fails "
	    "(60)\n"
	    "HOST:PORT is 127.0.0.1:25, [::1]:25 or name:25. Exit 0 when "
	    "every\nmessage was accepted, 1 otherwise, 2 on a usage error.\n");
	exit(2);
}

static long long
num(const char *s, long long lo, long long hi, const char *what)
{
	char *end, m[200];
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi) {
		snprintf(
		    m, sizeof(m), "bad %s: %s (%lld..%lld)", what, s, lo, hi);
		usage(m);
	}
	return v;
}

static double
fnum(const char *s, double lo, const char *what)
{
	char *end, m[200];
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= lo) || v > 1e9) {
		snprintf(m, sizeof(m), "bad %s: %s", what, s);
		usage(m);
	}
	return v;
}

static void
parse_target(const char *arg)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *res;

	snprintf(O.target, sizeof(O.target), "%s", arg);
	if (arg[0] == '[') {
		const char *e = strchr(arg, ']');
		if (e == NULL || e[1] != ':')
			usage("target must be HOST:PORT or [IPV6]:PORT");
		snprintf(
		    host, sizeof(host), "%.*s", (int)(e - arg - 1), arg + 1);
		port = e + 2;
	} else {
		const char *e = strrchr(arg, ':');
		if (e == NULL || strchr(arg, ':') != e)
			usage("target must be HOST:PORT or [IPV6]:PORT");
		snprintf(host, sizeof(host), "%.*s", (int)(e - arg), arg);
		port = e + 1;
	}
	num(port, 1, 65535, "port");
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		die("cannot resolve %s: %s", host, gai_strerror(r));
	memcpy(&O.addr, res->ai_addr, res->ai_addrlen);
	O.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
}

/* ------------------------------------------------------------ report */

static void
report(const struct stats *s, double wall, double cpu_ms, long long total,
    uint64_t all_sent)
{
	double rate = wall > 0 ? (double)(s->accepted + s->rejected) / wall : 0;
	double cpm = all_sent ? cpu_ms / (double)all_sent : 0;
	double p50 = hist_pct(&s->lat, 50) / 1e6,
	       p90 = hist_pct(&s->lat, 90) / 1e6,
	       p99 = hist_pct(&s->lat, 99) / 1e6, mx = (double)s->lat.max / 1e6;
	double hs_rate = wall > 0 ? (double)s->handshakes / wall : 0;

	printf("ringmx-load: %s, %d sessions, %lld messages, %d/connection, "
	       "%d rcpt, %s%s%s\n",
	    O.target, O.sessions, total, O.per_conn, O.rcpts,
	    O.rate > 0 ? "open loop" : "closed loop",
	    O.pipelining ? ", pipelining" : "",
	    O.implicit_tls ? ", implicit TLS"
	    : O.tls        ? ", STARTTLS"
			   : "");
	printf("  %-24s %llu\n", "messages sent", (unsigned long long)s->sent);
	printf("  %-24s %llu\n", "accepted", (unsigned long long)s->accepted);
	printf("  %-24s %llu", "rejected", (unsigned long long)s->rejected);
	for (int i = 0; i < MAX_CODES; i++)
		if (s->codes[i])
			printf("  %d:%llu", i, (unsigned long long)s->codes[i]);
	printf("\n");
	printf("  %-24s %llu\n", "failed (no reply)",
	    (unsigned long long)s->failed);
	printf("  %-24s %llu\n", "recipients rejected",
	    (unsigned long long)s->rcpt_rejected);
	printf("  %-24s %llu\n", "connection errors",
	    (unsigned long long)s->conn_errors);
	printf("  %-24s %.3f s\n", "elapsed", wall);
	printf("  %-24s %.0f\n", "messages/s", rate);
	printf("  %-24s p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
	    "end-of-data latency ms", p50, p90, p99, mx);
	if (O.tls) {
		printf("  %-24s %.0f\n", "handshakes/s", hs_rate);
		printf("  %-24s p50 %.3f  p99 %.3f\n", "handshake latency ms",
		    hist_pct(&s->hs, 50) / 1e6, hist_pct(&s->hs, 99) / 1e6);
	}
	printf("  %-24s %.4f\n", "loader CPU ms/msg", cpm);
	if (O.json) {
		printf("{\"target\":\"%s\",\"sessions\":%d,\"messages\":%lld,"
		       "\"per_conn\":%d,\"rcpts\":%d,\"pipelining\":%s,"
		       "\"tls\":%s,\"rate\":%.1f,\"sent\":%llu,"
		       "\"accepted\":%llu,\"rejected\":%llu,\"rejected_by_"
		       "code\":{",
		    O.target, O.sessions, total, O.per_conn, O.rcpts,
		    O.pipelining ? "true" : "false", O.tls ? "true" : "false",
		    O.rate, (unsigned long long)s->sent,
		    (unsigned long long)s->accepted,
		    (unsigned long long)s->rejected);
		const char *sep = "";
		for (int i = 0; i < MAX_CODES; i++)
			if (s->codes[i]) {
				printf("%s\"%d\":%llu", sep, i,
				    (unsigned long long)s->codes[i]);
				sep = ",";
			}
		printf("},\"failed\":%llu,\"rcpt_rejected\":%llu,"
		       "\"conn_errors\":%llu,\"elapsed_s\":%.6f,"
		       "\"msgs_per_s\":%.1f,\"latency_ms\":{\"p50\":%.4f,"
		       "\"p90\":%.4f,\"p99\":%.4f,\"max\":%.4f}",
		    (unsigned long long)s->failed,
		    (unsigned long long)s->rcpt_rejected,
		    (unsigned long long)s->conn_errors, wall, rate, p50, p90,
		    p99, mx);
		if (O.tls)
			printf(",\"handshakes\":%llu,\"handshakes_per_s\":%.1f,"
			       "\"handshake_ms\":{\"p50\":%.4f,\"p99\":%.4f}",
			    (unsigned long long)s->handshakes, hs_rate,
			    hist_pct(&s->hs, 50) / 1e6,
			    hist_pct(&s->hs, 99) / 1e6);
		printf(
		    ",\"loader_cpu_ms\":%.3f,\"loader_cpu_ms_per_msg\":%.5f}\n",
		    cpu_ms, cpm);
	}
}

static double
cpu_ms_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'J'},
	    {"timeout", required_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int o;

	while ((o = getopt_long(argc, argv, "s:m:M:l:F:r:f:t:PTIHR:w:j:qh", lo,
		    NULL)) != -1) {
		switch (o) {
		case 's':
			O.sessions = (int)num(optarg, 1, 100000, "-s sessions");
			break;
		case 'm':
			O.messages = num(optarg, 1, 1LL << 40, "-m messages");
			break;
		case 'M':
			O.per_conn = (int)num(
			    optarg, 1, 1 << 30, "-M messages/connection");
			break;
		case 'l':
			O.size = (long)num(optarg, 1, 1L << 30, "-l size");
			break;
		case 'F':
			O.file = optarg;
			break;
		case 'r':
			O.rcpts = (int)num(optarg, 1, 100000, "-r recipients");
			break;
		case 'f':
			O.from = optarg;
			break;
		case 't':
			O.to = optarg;
			break;
		case 'P':
			O.pipelining = true;
			break;
		case 'T':
			O.tls = true;
			break;
		case 'I':
			O.tls = O.implicit_tls = true;
			break;
		case 'H':
			O.hs_only = true;
			break;
		case 'R':
			O.rate = fnum(optarg, 0.001, "-R rate");
			break;
		case 'w':
			O.warmup = fnum(optarg, 0, "-w warm-up");
			break;
		case 'j':
			O.threads = (int)num(optarg, 1, 256, "-j threads");
			break;
		case 'q':
			O.quiet = true;
			break;
		case 'J':
			O.json = true;
			break;
		case 'W':
			O.timeout = fnum(optarg, 0.001, "--timeout");
			break;
		case 'h':
			usage(NULL);
			break;
		default:
			usage(NULL);
		}
	}
	if (optind != argc - 1)
		usage(optind == argc ? "missing HOST:PORT"
				     : "too many arguments");
	if (strlen(O.from) > 400 || strlen(O.to) > 400 ||
	    strpbrk(O.from, "<>\r\n ") || strpbrk(O.to, "<>\r\n "))
		usage("bad -f or -t address");
	if (O.hs_only && O.rate > 0)
		usage("-H runs closed loop only (no -R)");
	if (O.threads > O.sessions)
		O.threads = O.sessions;
	parse_target(argv[optind]);
	signal(SIGPIPE, SIG_IGN);
	if (O.file != NULL)
		load_file();
	else
		build_body();
	build_commands();
	if (O.tls) {
		int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
		wolfSSL_Init();
		tls_ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
		if (tls_ctx == NULL)
			die("cannot create a TLS context");
		wolfSSL_CTX_set_verify(tls_ctx, WOLFSSL_VERIFY_NONE, NULL);
		(void)wolfSSL_CTX_set_groups(tls_ctx, groups, 2);
		wolfSSL_CTX_SetIORecv(tls_ctx, tls_recv_cb);
		wolfSSL_CTX_SetIOSend(tls_ctx, tls_send_cb);
	}

	struct worker *w = calloc((size_t)O.threads, sizeof(*w));
	if (w == NULL)
		die("out of memory");
	double cpu0 = cpu_ms_now();
	uint64_t t0 = now_ns();
	for (int i = 0; i < O.threads; i++) {
		w[i].id = i;
		w[i].messages = O.messages / O.threads +
				(i < O.messages % O.threads ? 1 : 0);
		w[i].sessions = O.sessions / O.threads +
				(i < O.sessions % O.threads ? 1 : 0);
		w[i].rate = O.rate / O.threads;
		if (O.threads == 1)
			worker_run(&w[i]);
		else if (pthread_create(&w[i].tid, NULL, worker_run, &w[i]) !=
			 0)
			die("cannot start a thread");
	}
	struct stats *tot = calloc(1, sizeof(*tot));
	if (tot == NULL)
		die("out of memory");
	uint64_t t_end = t0, t_start = t0 + (uint64_t)(O.warmup * 1e9);
	uint64_t all_accepted = 0, all_sent = 0;
	const char *err = "";
	for (int i = 0; i < O.threads; i++) {
		if (O.threads > 1)
			pthread_join(w[i].tid, NULL);
		stats_merge(tot, &w[i].st);
		all_accepted += w[i].all_accepted;
		all_sent += w[i].all_sent;
		if (w[i].t_end > t_end)
			t_end = w[i].t_end;
		if (w[i].err[0] && !err[0])
			err = w[i].err;
	}
	double cpu = cpu_ms_now() - cpu0;
	double wall = t_end > t_start ? (double)(t_end - t_start) / 1e9 : 0;
	if (err[0] && !O.quiet)
		fprintf(stderr, "ringmx-load: first error: %s\n", err);
	report(tot, wall, cpu, O.messages, all_sent);
	free(tot);
	free(w);
	return all_accepted == (uint64_t)O.messages ? 0 : 1;
}
