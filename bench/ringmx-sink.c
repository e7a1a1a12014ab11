/*
 * ringmx-sink.c - an SMTP server that accepts every message and throws it
 * away, as fast as it can: the far end of ringmx's relay benchmarks and
 * the target of ringmx-load's self-test.
 *
 * One thread, one io_uring: multishot accept, one recv and at most one
 * send in flight per connection, signals through a signalfd read on the
 * ring. SMTP: 220 greeting, EHLO (PIPELINING 8BITMIME SIZE, STARTTLS with
 * -c/-k), HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; 250 after the end of
 * data, whose "CRLF.CRLF" is found across reads by a small state machine.
 * Pipelined commands are answered in order, all replies to one read in
 * one write. STARTTLS runs wolfSSL over memory buffers (the ring does the
 * socket I/O, as core/tls_conn.c does in the daemon).
 *
 * Memory is bounded: -n connections at most, a 16 KiB receive buffer each
 * and at most 256 KiB of unsent replies per connection (reading pauses
 * beyond that). SIGTERM/SIGINT print the counters and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <liburing.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define RBUF_SIZE 16384
#define OUT_MAX   (256 * 1024) /* unsent replies before reading pauses */
#define LINE_MAX_ 1024         /* longest command line kept */

enum op { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_SIGNAL };
enum st { ST_CMD, ST_DATA };

struct obuf {
	char *p;
	size_t len, cap;
};

struct sconn {
	int fd;
	uint32_t gen;
	bool used, recv_busy, send_busy, closing, paused;
	bool helo, mail;
	int rcpts;
	enum st st;
	uint8_t dst; /* end-of-data scanner state */
	bool line_long;
	size_t llen;
	char line[LINE_MAX_];
	char *rbuf;
	struct obuf out; /* ciphertext or plaintext waiting to be sent */
	struct obuf fly; /* being sent */
	size_t fly_off;
	struct obuf ptx; /* TLS: plaintext replies to encrypt */
	struct obuf cin; /* TLS: ciphertext received, not yet read */
	size_t cin_off;
	WOLFSSL *ssl;
	bool tls_done;
	int next_free;
};

static struct io_uring ring;
static struct sconn *conns;
static int nconns_max = 10000, free_head = -1;
static int lfd, sigfd;
static struct signalfd_siginfo siginfo;
static WOLFSSL_CTX *tls_ctx;
static unsigned long long n_msgs, n_conns, n_bytes, n_tls;
static struct timespec t_first, t_last;
static bool quiet;

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ringmx-sink: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static int
ob_append(struct obuf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + n)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (np == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
ob_free(struct obuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static struct io_uring_sqe *
get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (sqe == NULL) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
		if (sqe == NULL)
			die("submission queue full");
	}
	return sqe;
}

static uint64_t
ud(int op, int slot, uint32_t gen)
{
	return ((uint64_t)gen << 32) | ((uint64_t)slot << 4) | (uint64_t)op;
}

static void
arm_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, ud(OP_ACCEPT, 0, 0));
}

static void
arm_signal(void)
{
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_read(sqe, sigfd, &siginfo, sizeof(siginfo), 0);
	io_uring_sqe_set_data64(sqe, ud(OP_SIGNAL, 0, 0));
}

static void
arm_recv(struct sconn *c)
{
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_recv(sqe, c->fd, c->rbuf, RBUF_SIZE, 0);
	io_uring_sqe_set_data64(sqe, ud(OP_RECV, (int)(c - conns), c->gen));
	c->recv_busy = true;
}

static void
conn_free(struct sconn *c)
{
	close(c->fd);
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	free(c->rbuf);
	ob_free(&c->out);
	ob_free(&c->fly);
	ob_free(&c->ptx);
	ob_free(&c->cin);
	int slot = (int)(c - conns);
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->next_free = free_head;
	free_head = slot;
}

/* Close once nothing is in flight any more. */
static void
conn_close(struct sconn *c)
{
	c->closing = true;
	if (!c->recv_busy && !c->send_busy)
		conn_free(c);
}

/* wolfSSL I/O over memory: ciphertext in from cin, out into out. */
static int
tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct sconn *c = ctx;
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
	struct sconn *c = ctx;

	(void)ssl;
	if (ob_append(&c->out, buf, (size_t)sz) != 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

static void
reply(struct sconn *c, const char *s)
{
	struct obuf *b = c->ssl != NULL ? &c->ptx : &c->out;
	if (ob_append(b, s, strlen(s)) != 0)
		c->closing = true;
}

/* Encrypt pending plaintext, then start a send if none is in flight. */
static void
flush(struct sconn *c)
{
	if (c->ssl != NULL && c->tls_done && c->ptx.len > 0) {
		if (wolfSSL_write(c->ssl, c->ptx.p, (int)c->ptx.len) !=
		    (int)c->ptx.len)
			c->closing = true;
		c->ptx.len = 0;
	}
	if (c->send_busy || c->out.len == 0)
		return;
	struct obuf t = c->fly;
	c->fly = c->out;
	c->out = t;
	c->out.len = 0;
	c->fly_off = 0;
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_send(sqe, c->fd, c->fly.p, c->fly.len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, ud(OP_SEND, (int)(c - conns), c->gen));
	c->send_busy = true;
}

static bool
verb(const char *line, size_t len, const char *v)
{
	size_t n = strlen(v);
	return len >= n && strncasecmp(line, v, n) == 0 &&
	       (len == n || line[n] == ' ');
}

static void
start_tls(struct sconn *c)
{
	c->ssl = wolfSSL_new(tls_ctx);
	if (c->ssl == NULL) {
		c->closing = true;
		return;
	}
	wolfSSL_SSLSetIORecv(c->ssl, tls_recv_cb);
	wolfSSL_SSLSetIOSend(c->ssl, tls_send_cb);
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	c->helo = c->mail = false;
	c->rcpts = 0;
	n_tls++;
}

/* One command line (without its line end). True when the rest of the
 * input must be dropped (QUIT, STARTTLS). */
static bool
command(struct sconn *c, const char *l, size_t n)
{
	if (c->line_long) {
		reply(c, "500 5.5.2 Line too long\r\n");
		return false;
	}
	if (verb(l, n, "EHLO")) {
		c->helo = true;
		c->mail = false;
		c->rcpts = 0;
		reply(c, "250-ringmx-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
			 "250-SIZE 0\r\n");
		if (tls_ctx != NULL && c->ssl == NULL)
			reply(c, "250-STARTTLS\r\n");
		reply(c, "250 ENHANCEDSTATUSCODES\r\n");
	} else if (verb(l, n, "HELO")) {
		c->helo = true;
		reply(c, "250 ringmx-sink\r\n");
	} else if (verb(l, n, "MAIL")) {
		if (c->mail) {
			reply(c, "503 5.5.1 Nested MAIL command\r\n");
		} else {
			c->mail = true;
			c->rcpts = 0;
			reply(c, "250 2.1.0 Ok\r\n");
		}
	} else if (verb(l, n, "RCPT")) {
		if (!c->mail) {
			reply(c, "503 5.5.1 Need MAIL first\r\n");
		} else {
			c->rcpts++;
			reply(c, "250 2.1.5 Ok\r\n");
		}
	} else if (verb(l, n, "DATA")) {
		if (!c->mail || c->rcpts == 0) {
			reply(c, "554 5.5.1 No valid recipients\r\n");
		} else {
			c->st = ST_DATA;
			c->dst = 0;
			reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
		}
	} else if (verb(l, n, "RSET")) {
		c->mail = false;
		c->rcpts = 0;
		reply(c, "250 2.0.0 Ok\r\n");
	} else if (verb(l, n, "NOOP")) {
		reply(c, "250 2.0.0 Ok\r\n");
	} else if (verb(l, n, "QUIT")) {
		reply(c, "221 2.0.0 Bye\r\n");
		c->closing = true;
		return true;
	} else if (verb(l, n, "STARTTLS") && tls_ctx != NULL &&
		   c->ssl == NULL) {
		reply(c, "220 2.0.0 Ready to start TLS\r\n");
		start_tls(c);
		return true;
	} else {
		reply(c, "500 5.5.2 Command not recognized\r\n");
	}
	return false;
}

/* Command bytes up to and including one line end (or a partial line). */
static void
cmd_input(struct sconn *c, const char *p, size_t n)
{
	if (c->llen + n <= sizeof(c->line)) {
		memcpy(c->line + c->llen, p, n);
		c->llen += n;
	} else {
		c->line_long = true;
	}
	if (p[n - 1] != '\n')
		return;
	size_t len = c->line_long ? 0 : c->llen - 1;
	if (len > 0 && c->line[len - 1] == '\r')
		len--;
	(void)command(c, c->line, len);
	c->llen = 0;
	c->line_long = false;
}

static void
now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC, t);
}

/*
 * Plaintext from the client. In DATA, dst is the end-of-data scanner's
 * state: 0 at a line start, 1 after a line-start ".", 2 after ".\r", 3
 * inside a line (skipped with memchr); "." alone on a line (CRLF or a
 * bare LF) ends the data.
 */
static void
plain_input(struct sconn *c, const char *p, size_t n)
{
	while (n > 0 && !c->closing) {
		if (c->st == ST_DATA) {
			size_t i = 0;
			bool end = false;
			while (i < n) {
				if (c->dst == 3) {
					const char *nl =
					    memchr(p + i, '\n', n - i);
					if (nl == NULL) {
						i = n;
						break;
					}
					i = (size_t)(nl - p) + 1;
					c->dst = 0;
					continue;
				}
				char ch = p[i++];
				if (c->dst == 0) {
					c->dst = ch == '.'    ? 1
						 : ch == '\n' ? 0
							      : 3;
				} else if (ch == '\n') {
					end = true;
					break;
				} else {
					c->dst =
					    (c->dst == 1 && ch == '\r') ? 2 : 3;
				}
			}
			p += i;
			n -= i;
			if (!end)
				return;
			c->st = ST_CMD;
			c->mail = false;
			c->rcpts = 0;
			n_msgs++;
			now(&t_last);
			if (n_msgs == 1)
				t_first = t_last;
			reply(c, "250 2.0.0 Ok: discarded\r\n");
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) + 1 : n;
		cmd_input(c, p, take);
		p += take;
		n -= take;
		if (c->ssl != NULL && !c->tls_done)
			return; /* STARTTLS: the rest was sent in the clear */
	}
}

static void
tls_input(struct sconn *c, const char *p, size_t n)
{
	char pt[RBUF_SIZE];

	if (ob_append(&c->cin, p, n) != 0) {
		c->closing = true;
		return;
	}
	if (!c->tls_done) {
		int rc = wolfSSL_accept(c->ssl);
		if (rc != WOLFSSL_SUCCESS) {
			int e = wolfSSL_get_error(c->ssl, rc);
			if (e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE)
				c->closing = true;
			return;
		}
		c->tls_done = true;
	}
	for (;;) {
		int r = wolfSSL_read(c->ssl, pt, (int)sizeof(pt));
		if (r <= 0) {
			int e = wolfSSL_get_error(c->ssl, r);
			if (e != WOLFSSL_ERROR_WANT_READ &&
			    e != WOLFSSL_ERROR_WANT_WRITE)
				c->closing = true;
			return;
		}
		plain_input(c, pt, (size_t)r);
		if (c->closing)
			return;
	}
}

static void
on_accept(int fd)
{
	if (free_head < 0) {
		close(fd);
		return;
	}
	struct sconn *c = &conns[free_head];
	free_head = c->next_free;
	c->used = true;
	c->fd = fd;
	c->rbuf = malloc(RBUF_SIZE);
	if (c->rbuf == NULL) {
		conn_free(c);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	n_conns++;
	reply(c, "220 ringmx-sink ESMTP\r\n");
	flush(c);
	arm_recv(c);
}

static void
on_recv(struct sconn *c, int res)
{
	c->recv_busy = false;
	if (res <= 0 || c->closing) {
		conn_close(c);
		return;
	}
	n_bytes += (unsigned)res;
	if (c->ssl != NULL)
		tls_input(c, c->rbuf, (size_t)res);
	else
		plain_input(c, c->rbuf, (size_t)res);
	flush(c);
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (c->out.len > OUT_MAX)
		c->paused = true;
	else
		arm_recv(c);
}

static void
on_send(struct sconn *c, int res)
{
	c->send_busy = false;
	if (res <= 0) {
		c->closing = true;
		conn_close(c);
		return;
	}
	c->fly_off += (size_t)res;
	if (c->fly_off < c->fly.len) {
		struct io_uring_sqe *sqe = get_sqe();
		io_uring_prep_send(sqe, c->fd, c->fly.p + c->fly_off,
		    c->fly.len - c->fly_off, MSG_NOSIGNAL);
		io_uring_sqe_set_data64(
		    sqe, ud(OP_SEND, (int)(c - conns), c->gen));
		c->send_busy = true;
		return;
	}
	c->fly.len = 0;
	flush(c);
	if (c->closing) {
		if (!c->send_busy) /* everything sent: say goodbye */
			shutdown(c->fd, SHUT_WR);
		conn_close(c);
		return;
	}
	if (c->paused && c->out.len <= OUT_MAX) {
		c->paused = false;
		arm_recv(c);
	}
}

static void
report(void)
{
	struct rusage ru;
	double wall = (double)(t_last.tv_sec - t_first.tv_sec) +
		      (double)(t_last.tv_nsec - t_first.tv_nsec) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	printf("ringmx-sink: messages=%llu connections=%llu tls=%llu "
	       "bytes=%llu msgs_per_s=%.0f cpu_ms_per_msg=%.4f\n",
	    n_msgs, n_conns, n_tls, n_bytes,
	    wall > 0 ? (double)(n_msgs - 1) / wall : 0.0,
	    n_msgs ? cpu / (double)n_msgs : 0.0);
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ringmx-sink [-a ADDR] [-p PORT] [-c CERT -k KEY] [-n "
	    "MAXCONN] "
	    "[-q]\n"
	    "  -a ADDR   listen address, IPv4 or IPv6 (default 127.0.0.1)\n"
	    "  -p PORT   port (default 2526)\n"
	    "  -c CERT   PEM certificate chain: offer STARTTLS\n"
	    "  -k KEY    PEM private key of CERT\n"
	    "  -n N      connections at most (default 10000)\n"
	    "  -q        print nothing at start\n"
	    "SIGTERM/SIGINT print the counters and exit 0.\n");
	exit(2);
}

static int
listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return -1;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return -1;
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    listen(fd, 4096) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *cert = NULL, *key = NULL;
	int port = 2526, o;
	char *end;

	while ((o = getopt(argc, argv, "a:p:c:k:n:qh")) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || port <= 0 || port > 65535) {
				fprintf(stderr, "ringmx-sink: bad port %s\n",
				    optarg);
				usage();
			}
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			nconns_max = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || nconns_max <= 0 ||
			    nconns_max > 1000000) {
				fprintf(stderr,
				    "ringmx-sink: bad connection count %s\n",
				    optarg);
				usage();
			}
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (cert == NULL) != (key == NULL)) {
		if (optind == argc)
			fprintf(stderr, "ringmx-sink: -c and -k go together\n");
		usage();
	}
	if (cert != NULL) {
		wolfSSL_Init();
		tls_ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
		if (tls_ctx == NULL)
			die("cannot create a TLS context");
		if (wolfSSL_CTX_use_certificate_chain_file(tls_ctx, cert) !=
		    WOLFSSL_SUCCESS)
			die("cannot load the certificate %s", cert);
		if (wolfSSL_CTX_use_PrivateKey_file(
			tls_ctx, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
			die("cannot load the private key %s", key);
		wolfSSL_CTX_set_verify(tls_ctx, WOLFSSL_VERIFY_NONE, NULL);
	}
	conns = calloc((size_t)nconns_max, sizeof(*conns));
	if (conns == NULL)
		die("out of memory");
	for (int i = nconns_max - 1; i >= 0; i--) {
		conns[i].next_free = free_head;
		free_head = i;
	}
	if ((lfd = listen_on(addr, port)) < 0) {
		fprintf(stderr,
		    "ringmx-sink: cannot listen on %s port %d: %s\n", addr,
		    port, strerror(errno));
		return 1;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sigfd = signalfd(-1, &ss, SFD_CLOEXEC)) < 0)
		die("signalfd: %s", strerror(errno));

	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL;
	if (io_uring_queue_init_params(4096, &ring, &p) < 0) {
		memset(&p, 0, sizeof(p));
		int r = io_uring_queue_init_params(4096, &ring, &p);
		if (r < 0)
			die("io_uring_queue_init: %s", strerror(-r));
	}
	arm_accept();
	arm_signal();
	if (!quiet)
		fprintf(stderr, "ringmx-sink: listening on %s port %d%s\n",
		    addr, port, tls_ctx ? " (STARTTLS)" : "");
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			die("io_uring_submit_and_wait: %s", strerror(-r));
		io_uring_for_each_cqe(&ring, head, cqe) {
			uint64_t u = cqe->user_data;
			int res = cqe->res, op = (int)(u & 15);
			int slot = (int)((u >> 4) & 0xfffffff);
			uint32_t gen = (uint32_t)(u >> 32);
			seen++;
			if (op == OP_ACCEPT) {
				if (res >= 0)
					on_accept(res);
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_accept();
				continue;
			}
			if (op == OP_SIGNAL) {
				report();
				return 0;
			}
			struct sconn *c = &conns[slot];
			if (!c->used || c->gen != gen)
				continue;
			if (op == OP_RECV)
				on_recv(c, res);
			else if (op == OP_SEND)
				on_send(c, res);
		}
		io_uring_cq_advance(&ring, seen);
	}
}
