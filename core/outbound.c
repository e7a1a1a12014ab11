/*
 * outbound.c - outbound connections on a worker's io_uring (see
 * outbound.h): connect with a timeout through each address in turn, drive
 * the SMTP/LMTP engine (smtp_client.c) with one-shot receives and one send
 * in flight, reuse idle connections per destination, and respect the
 * process-wide connection limits. The protocol is smtp_client.c's; which
 * next hop and which addresses is the scheduler's.
 *
 *   submit -> idle connection to dest?  yes: start the message there
 *                                       no:  limit ok? connect, else wait
 *   CONNECTING -(connected)-> ACTIVE -(READY)-> message -(DONE)-> IDLE
 *        |(fails: next address)            |(CLOSED)            |(idle
 *        v                                 v                    v timeout)
 *   all failed: request fails temporarily   CLOSING -> freed <- QUIT
 */
#include "outbound.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dns_dane.h"
#include "log.h"
#include "stats.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>

enum { OOP_CONNECT = OUTBOUND_OP_BASE, OOP_RECV, OOP_SEND, OOP_IGNORE };

enum ostate { OC_CONNECTING, OC_ACTIVE, OC_IDLE, OC_CLOSING };

struct oconn {
	uint32_t slot, gen;
	int fd;
	enum ostate state;
	char dest[320];
	bool lmtp;
	uint64_t dkey;
	bool counted; /* holds a slot in the destination limit */
	struct outbound_req *req;
	bool req_started;
	size_t addr_idx;
	struct smtp_client sc;
	bool sc_init;
	/* opportunistic TLS (STARTTLS): wolfSSL over memory buffers */
	WOLFSSL *ssl;
	bool tls_handshaking;
	struct buf tls_in;  /* ciphertext received, not yet read by wolfSSL */
	struct buf tls_out; /* ciphertext to send */
	int tls_policy;     /* enum rmx_tls_policy of the connected host */
	char tls_desc[320]; /* what TLS this connection has, for logs */
	uint8_t tls_demand[32]; /* tls_demand() of the connected host */
	bool shut;
	unsigned inflight;
	bool recv_armed, send_inflight;
	struct buf sending;
	size_t sent;
	int64_t deadline; /* monotonic seconds, 0 = none */
	unsigned msgs;
	char host[256];
	uint8_t rbuf[16384];
};

/* A destination that answered 421 or a 4.7.x throttling reply: for a
 * while this worker opens at most one connection to it. */
struct throttle {
	char dest[320];
	int64_t until;
	struct throttle *next;
};

/* One message counted against a destination's rate, uncounted a minute
 * later by the worker that counted it. */
struct rate_mark {
	uint64_t key;
	int64_t expires;
	struct rate_mark *next;
};

struct outbound {
	struct io_uring *ring;
	const struct rmx_config *cfg;
	struct ip_limit *dests; /* SHARED, lock-free */
	struct ip_limit *rates; /* SHARED: messages per destination/minute */
	struct rate_mark *rm_head, **rm_tail; /* ours, to uncount */
	struct throttle *throttled;
	WOLFSSL_CTX *tls_ctx;   /* client context, no verification ("may") */
	WOLFSSL_CTX *tls_pkix;  /* verifies against the CA store ("verify") */
	struct throttle *notls; /* destinations whose handshake failed */
	unsigned worker;
	struct oconn **slots;
	uint32_t nslots, *freel, nfree;
	unsigned nconns;
	uint32_t genctr;
	int64_t now;
	struct outbound_req *wait_head, **wait_tail; /* over the limits */
	struct outbound_req *done_head, **done_tail; /* results to report */
	unsigned inflight_reqs;
	bool stopping;
};

static uint64_t
mkud(unsigned op, const struct oconn *c)
{
	return ((uint64_t)op << 56) | ((uint64_t)(c->gen & 0xffffff) << 32) |
	       c->slot;
}

static struct io_uring_sqe *
get_sqe(struct outbound *o)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(o->ring);

	while (sqe == NULL) {
		io_uring_submit(o->ring);
		sqe = io_uring_get_sqe(o->ring);
	}
	return sqe;
}

/* wolfSSL reads ciphertext from the connection's tls_in buffer. */
static int
tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct oconn *c = ctx;
	size_t n;

	(void)ssl;
	if (c->tls_in.len == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	n = c->tls_in.len < (size_t)sz ? c->tls_in.len : (size_t)sz;
	memcpy(buf, c->tls_in.data, n);
	buf_consume(&c->tls_in, n);
	return (int)n;
}

/* wolfSSL writes ciphertext into tls_out; the ring sends it. */
static int
tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct oconn *c = ctx;

	(void)ssl;
	if (buf_append(&c->tls_out, buf, (size_t)sz) != 0)
		return WOLFSSL_CBIO_ERR_GENERAL;
	return sz;
}

/* outbound_set_config - a reloaded configuration (valid until exit) */
void
outbound_set_config(struct outbound *o, const struct rmx_config *cfg)
{
	if (o != NULL)
		o->cfg = cfg;
}

/* outbound_new - per-worker state */
struct outbound *
outbound_new(struct io_uring *ring, const struct rmx_config *cfg,
    struct ip_limit *dests, struct ip_limit *rates, unsigned worker)
{
	struct outbound *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->ring = ring;
	o->cfg = cfg;
	o->dests = dests;
	o->rates = rates;
	o->tls_ctx = wolfSSL_CTX_new(wolfTLS_client_method());
	if (o->tls_ctx != NULL) {
		/* opportunistic: encrypt, do not authenticate (the TLS issue
		 * adds verify and DANE policies) */
		wolfSSL_CTX_set_verify(o->tls_ctx, WOLFSSL_VERIFY_NONE, NULL);
		wolfSSL_CTX_SetIORecv(o->tls_ctx, tls_recv_cb);
		wolfSSL_CTX_SetIOSend(o->tls_ctx, tls_send_cb);
	}
	o->tls_pkix = wolfSSL_CTX_new(wolfTLS_client_method());
	if (o->tls_pkix != NULL) {
		const char *ca = cfg->outbound.ca_file ? cfg->outbound.ca_file
						       : RMX_CA_FILE_DEFAULT;
		if (wolfSSL_CTX_load_verify_locations(o->tls_pkix, ca, NULL) !=
		    WOLFSSL_SUCCESS) {
			if (worker == 0)
				log_event(LOG_WARNING, "tls_ca_missing",
				    "file=%s effect=\"policy verify "
				    "defers\"",
				    ca);
			wolfSSL_CTX_free(o->tls_pkix);
			o->tls_pkix = NULL;
		} else {
			wolfSSL_CTX_set_verify(
			    o->tls_pkix, WOLFSSL_VERIFY_PEER, NULL);
			wolfSSL_CTX_SetIORecv(o->tls_pkix, tls_recv_cb);
			wolfSSL_CTX_SetIOSend(o->tls_pkix, tls_send_cb);
		}
	}
	o->rm_tail = &o->rm_head;
	o->worker = worker;
	o->wait_tail = &o->wait_head;
	o->done_tail = &o->done_head;
	return o;
}

static uint64_t
dest_key(const char *dest)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *dest; dest++)
		h = (h ^ (unsigned char)*dest) * 1099511628211ULL;
	h &= 0xffffffffffffULL;
	return h ? h : 1;
}

static void
fail_all(struct outbound_req *r, enum smtp_client_outcome out, int code,
    const char *enh, const char *text)
{
	for (uint32_t i = 0; i < r->nrcpt; i++) {
		struct smtp_client_status *st = &r->results[i];
		if (st->outcome != SC_PENDING)
			continue;
		st->outcome = out;
		st->code = code;
		st->local = true;
		snprintf(st->enh, sizeof(st->enh), "%s", enh);
		snprintf(st->text, sizeof(st->text), "%s", text);
	}
}

/* Report r from outbound_tick (never from submit or a nested call). */
static void
complete(struct outbound *o, struct outbound_req *r)
{
	r->next = NULL;
	*o->done_tail = r;
	o->done_tail = &r->next;
}

static void
wait_push(struct outbound *o, struct outbound_req *r)
{
	r->next = NULL;
	*o->wait_tail = r;
	o->wait_tail = &r->next;
}

static struct oconn *
conn_new(struct outbound *o)
{
	struct oconn *c;

	if (o->nfree == 0) {
		uint32_t n = o->nslots ? o->nslots * 2 : 64;
		struct oconn **ns = realloc(o->slots, n * sizeof(*ns));
		uint32_t *nf;
		if (ns == NULL)
			return NULL;
		o->slots = ns;
		if ((nf = realloc(o->freel, n * sizeof(*nf))) == NULL)
			return NULL;
		o->freel = nf;
		for (uint32_t i = n; i > o->nslots; i--) {
			o->slots[i - 1] = NULL;
			o->freel[o->nfree++] = i - 1;
		}
		o->nslots = n;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->slot = o->freel[--o->nfree];
	c->gen = ++o->genctr;
	c->fd = -1;
	o->slots[c->slot] = c;
	o->nconns++;
	return c;
}

static void try_waiting(struct outbound *o, const char *dest);

#define THROTTLE_SECS 60

static struct throttle *
throttle_find(struct outbound *o, const char *dest)
{
	for (struct throttle *t = o->throttled; t != NULL; t = t->next)
		if (strcmp(t->dest, dest) == 0)
			return t;
	return NULL;
}

/* The peer asked us to slow down (421, 4.7.x). */
static void
throttle(struct outbound *o, const char *dest, const char *why)
{
	struct throttle *t = throttle_find(o, dest);

	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return;
		snprintf(t->dest, sizeof(t->dest), "%s", dest);
		t->next = o->throttled;
		o->throttled = t;
	}
	t->until = o->now + THROTTLE_SECS;
	log_event(LOG_NOTICE, "throttled", "dest=%s secs=%d reason=\"%s\"",
	    dest, THROTTLE_SECS, why);
}

static bool
throttled_now(struct outbound *o, const char *dest)
{
	struct throttle *t = throttle_find(o, dest);
	return t != NULL && t->until > o->now;
}

static bool
is_throttle_reply(const struct smtp_client_status *st)
{
	return !st->local &&
	       (st->code == 421 || strncmp(st->enh, "4.7.", 4) == 0);
}

/* A TLS handshake with dest failed: plaintext to it for an hour. */
static void
notls_add(struct outbound *o, const char *dest)
{
	struct throttle *t;

	for (t = o->notls; t != NULL; t = t->next)
		if (strcmp(t->dest, dest) == 0)
			break;
	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return;
		snprintf(t->dest, sizeof(t->dest), "%s", dest);
		t->next = o->notls;
		o->notls = t;
	}
	t->until = o->now + 3600;
}

static bool
notls_now(struct outbound *o, const char *dest)
{
	for (struct throttle *t = o->notls; t != NULL; t = t->next)
		if (strcmp(t->dest, dest) == 0)
			return t->until > o->now;
	return false;
}

static unsigned
conns_to(struct outbound *o, const char *dest)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < o->nslots; i++)
		n += o->slots[i] != NULL && !o->slots[i]->shut &&
		     strcmp(o->slots[i]->dest, dest) == 0;
	return n;
}

static void
conn_maybe_free(struct outbound *o, struct oconn *c)
{
	char dest[320];

	if (!c->shut || c->inflight > 0)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->sc_init)
		smtp_client_free(&c->sc);
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	buf_free(&c->tls_in);
	buf_free(&c->tls_out);
	if (c->counted)
		ip_limit_release(o->dests, c->dkey);
	buf_free(&c->sending);
	snprintf(dest, sizeof(dest), "%s", c->dest);
	o->slots[c->slot] = NULL;
	o->freel[o->nfree++] = c->slot;
	o->nconns--;
	free(c);
	try_waiting(o, dest);
}

static void
conn_shutdown(struct outbound *o, struct oconn *c)
{
	bool connecting = c->state == OC_CONNECTING;

	if (c->shut)
		return;
	c->shut = true;
	c->state = OC_CLOSING;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (connecting && c->inflight > 0) {
		struct io_uring_sqe *sqe = get_sqe(o);
		io_uring_prep_cancel64(sqe, mkud(OOP_CONNECT, c), 0);
		io_uring_sqe_set_data64(sqe, (uint64_t)OOP_IGNORE << 56);
	}
}

static void
arm_recv(struct outbound *o, struct oconn *c)
{
	struct io_uring_sqe *sqe;

	if (c->recv_armed || c->shut)
		return;
	sqe = get_sqe(o);
	io_uring_prep_recv(sqe, c->fd, c->rbuf, sizeof(c->rbuf), 0);
	io_uring_sqe_set_data64(sqe, mkud(OOP_RECV, c));
	c->recv_armed = true;
	c->inflight++;
}

static void
flush(struct outbound *o, struct oconn *c)
{
	struct io_uring_sqe *sqe;

	if (c->send_inflight || c->fd < 0 || !c->sc_init)
		return;
	if (c->ssl != NULL) {
		/* plaintext through wolfSSL (after the handshake) */
		if (!c->tls_handshaking && c->sc.out.len > 0) {
			if (wolfSSL_write(c->ssl, c->sc.out.data,
				(int)c->sc.out.len) != (int)c->sc.out.len) {
				smtp_client_eof(&c->sc);
				return;
			}
			buf_reset(&c->sc.out);
		}
		if (c->tls_out.len == 0)
			return;
		struct buf t = c->sending;
		c->sending = c->tls_out;
		c->tls_out = t;
		buf_reset(&c->tls_out);
	} else {
		if (c->sc.out.len == 0)
			return;
		struct buf t = c->sending;
		c->sending = c->sc.out;
		c->sc.out = t;
		buf_reset(&c->sc.out);
	}
	c->sent = 0;
	sqe = get_sqe(o);
	io_uring_prep_send(
	    sqe, c->fd, c->sending.data, c->sending.len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, mkud(OOP_SEND, c));
	c->send_inflight = true;
	c->inflight++;
}

/* Start connecting to the next usable address of c->req. */
static void connect_next(struct outbound *o, struct oconn *c);

static void
start_message(struct outbound *o, struct oconn *c)
{
	struct smtp_client_msg m;
	struct outbound_req *r = c->req;

	memset(&m, 0, sizeof(m));
	m.env = r->env;
	m.rcpts = r->rcpts;
	m.nrcpt = r->nrcpt;
	m.body = r->body;
	m.body_len = r->body_len;
	snprintf(r->remote_mta, sizeof(r->remote_mta), "%s", c->host);
	{
		size_t n = strnlen(c->tls_desc, sizeof(r->tls_log) - 10);
		memcpy(r->tls_log, c->tls_desc, n);
		snprintf(r->tls_log + n, sizeof(r->tls_log) - n, "%s",
		    c->sc.tls ? "" : " tls=none");
	}
	c->req_started = true;
	c->state = OC_ACTIVE;
	if (smtp_client_start_message(&c->sc, &m) != 0) {
		fail_all(r, SC_TEMP, 451, "4.3.0", "cannot start the message");
		complete(o, r);
		c->req = NULL;
		c->req_started = false;
	}
}

static bool rate_take(struct outbound *o, const char *dest);

/* A digest of what TLS a host demands (policy, names, TLSA records):
 * equal digests, equal demands. */
static void
tls_demand(const struct outbound_tls *t, uint8_t out[32])
{
	wc_Sha256 h;
	uint8_t b[12];

	memset(out, 0, 32);
	if (wc_InitSha256(&h) != 0)
		return;
	memset(b, 0, sizeof(b));
	memcpy(b, &t->policy, sizeof(t->policy));
	wc_Sha256Update(&h, b, sizeof(b));
	wc_Sha256Update(&h, (const uint8_t *)t->name, strlen(t->name) + 1);
	wc_Sha256Update(&h, (const uint8_t *)t->name2, strlen(t->name2) + 1);
	for (size_t i = 0; i < t->ntlsa; i++) {
		const struct dns_tlsa_rr *rr = &t->tlsa[i];
		uint32_t len = (uint32_t)rr->len;
		b[0] = rr->usage;
		b[1] = rr->selector;
		b[2] = rr->mtype;
		memcpy(b + 3, &len, sizeof(len));
		wc_Sha256Update(&h, b, 7);
		wc_Sha256Update(&h, rr->data, len);
	}
	wc_Sha256Final(&h, out);
	wc_Sha256Free(&h);
}

/* May r be sent over c (connected, idle)? Only when r demands of c's
 * host the same TLS that c was connected under: a connection made
 * without DANE (e.g. for a domain with an insecure MX RRset) never
 * carries mail that needs DANE to the same host, nor the reverse. */
static bool
reuse_ok(const struct oconn *c, const struct outbound_req *r)
{
	uint8_t d[32];

	for (size_t i = 0; i < r->naddrs; i++) {
		if (strcmp(r->hosts[i], c->host) != 0)
			continue;
		tls_demand(&r->tls[i], d);
		if (memcmp(d, c->tls_demand, sizeof(d)) == 0)
			return true;
	}
	return false;
}

/* Take over a waiting request for c's destination, if any. */
static struct outbound_req *
take_waiting(struct outbound *o, const struct oconn *c)
{
	struct outbound_req **pp, *r;

	for (pp = &o->wait_head; (r = *pp) != NULL; pp = &r->next) {
		if (strcmp(r->dest, c->dest) != 0 || r->lmtp != c->lmtp ||
		    !reuse_ok(c, r))
			continue;
		/* over its rate: everything for dest waits alike */
		if (!rate_take(o, c->dest))
			return NULL;
		*pp = r->next;
		if (*pp == NULL)
			o->wait_tail = pp;
		r->next = NULL;
		return r;
	}
	return NULL;
}

/* The connection failed before r's message started: try r on the next
 * address with a new connection. */
static void
retry_next_address(struct outbound *o, struct oconn *c)
{
	struct outbound_req *r = c->req;
	size_t next = c->addr_idx + 1;

	c->req = NULL;
	if (r == NULL)
		return;
	if (next >= r->naddrs || o->stopping) {
		const struct smtp_client_status *st = &c->sc.closed;
		/* the deferral's log line says what TLS the last address
		 * had (e.g. why DANE refused it) */
		if (c->sc_init)
			snprintf(r->tls_log, sizeof(r->tls_log), "%.*s",
			    (int)sizeof(r->tls_log) - 1, c->tls_desc);
		if (c->sc_init && st->outcome != SC_PENDING)
			fail_all(r, st->outcome == SC_PERM ? SC_PERM : SC_TEMP,
			    st->code ? st->code : 451,
			    st->enh[0] ? st->enh : "4.4.2",
			    st->text[0] ? st->text
					: "connection lost before delivery");
		else
			fail_all(
			    r, SC_TEMP, 451, "4.4.1", "no next hop answered");
		complete(o, r);
		return;
	}
	/* shift the remaining addresses to the front */
	memmove(&r->addrs[0], &r->addrs[next],
	    (r->naddrs - next) * sizeof(r->addrs[0]));
	memmove(&r->addrlens[0], &r->addrlens[next],
	    (r->naddrs - next) * sizeof(r->addrlens[0]));
	memmove(&r->hosts[0], &r->hosts[next],
	    (r->naddrs - next) * sizeof(r->hosts[0]));
	memmove(
	    &r->tls[0], &r->tls[next], (r->naddrs - next) * sizeof(r->tls[0]));
	r->naddrs -= next;
	outbound_submit(o, r);
}

static void process(struct outbound *o, struct oconn *c);

/* Feed decrypted bytes to the engine. false on a TLS error. */
static bool
tls_read_all(struct oconn *c)
{
	uint8_t tmp[16384];

	for (;;) {
		int n = wolfSSL_read(c->ssl, tmp, (int)sizeof(tmp));
		if (n > 0) {
			smtp_client_input(&c->sc, tmp, (size_t)n);
			continue;
		}
		n = wolfSSL_get_error(c->ssl, n);
		return n == WOLFSSL_ERROR_WANT_READ ||
		       n == WOLFSSL_ERROR_WANT_WRITE;
	}
}

/* The TLS demands of the address c is connected to. */
static const struct outbound_tls *
conn_tls(const struct oconn *c)
{
	static const struct outbound_tls none;

	if (c->req == NULL || c->addr_idx >= c->req->naddrs)
		return &none;
	return &c->req->tls[c->addr_idx];
}

/*
 * This address cannot be used under its TLS policy: close the
 * connection without sending mail, with a temporary reply, so that the
 * request moves on to the next address (or defers). Never plaintext.
 */
static void tls_refuse(struct oconn *c, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_refuse(struct oconn *c, const char *enh, const char *fmt, ...)
{
	struct smtp_client_status *st = &c->sc.closed;
	va_list ap;
	char text[400], q[440];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_event(LOG_NOTICE, "tls_refused", "dest=%s host=%s %s reason=%s",
	    c->dest, c->host, c->tls_desc, log_quote(text, q, sizeof(q)));
	smtp_client_eof(&c->sc);
	st->outcome = SC_TEMP;
	st->code = 451;
	st->local = true;
	snprintf(st->enh, sizeof(st->enh), "%s", enh);
	snprintf(st->text, sizeof(st->text), "%s", text);
}

/* DANE (RFC 7672 section 3): the chain the peer sent against the usable
 * TLSA records. 1 matched (desc says how), 0 not. */
static int
dane_check(
    struct oconn *c, const struct outbound_tls *t, char *desc, size_t desclen)
{
	WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(c->ssl);
	const unsigned char *der[DANE_MAX_DEPTH];
	size_t len[DANE_MAX_DEPTH], n = 0, nrr = 0;
	const struct dns_tlsa_rr *rrs[DANE_MAX_RRS];
	const char *names[2] = {t->name, t->name2};
	struct dane_result dr;
	int count = ch ? wolfSSL_get_chain_count(ch) : 0;

	for (int i = 0; i < count && n < DANE_MAX_DEPTH; i++) {
		der[n] = wolfSSL_get_chain_cert(ch, i);
		len[n] = (size_t)wolfSSL_get_chain_length(ch, i);
		if (der[n] != NULL)
			n++;
	}
	for (size_t i = 0; i < t->ntlsa && nrr < DANE_MAX_RRS; i++)
		rrs[nrr++] = &t->tlsa[i];
	if (dane_match(rrs, nrr, der, len, n, names, t->name2[0] ? 2 : 1,
		time(NULL), &dr) == 1) {
		snprintf(desc, desclen, "tlsa=match(%d %d %d depth %d)",
		    dr.usage, dr.selector, dr.mtype, dr.depth);
		return 1;
	}
	snprintf(desc, desclen, "tlsa=\"%s\"", dr.reason);
	return 0;
}

/* Advance the handshake; on success hand the connection back to the
 * engine (it forgets the old capabilities and says EHLO again). */
static void
tls_step(struct outbound *o, struct oconn *c)
{
	const struct outbound_tls *t = conn_tls(c);
	int r = wolfSSL_connect(c->ssl), e;
	char errs[80], how[160] = "";
	size_t dl;

	if (r == WOLFSSL_SUCCESS) {
		c->tls_handshaking = false;
		if (c->tls_policy == RMX_TLS_DANE &&
		    !dane_check(c, t, how, sizeof(how))) {
			dl = strlen(c->tls_desc);
			snprintf(c->tls_desc + dl, sizeof(c->tls_desc) - dl,
			    " %s", how);
			tls_refuse(c, "4.7.5",
			    "DANE: the certificate of %s matches no TLSA "
			    "record of %s",
			    c->host, t->name);
			return;
		}
		dl = strlen(c->tls_desc);
		snprintf(c->tls_desc + dl, sizeof(c->tls_desc) - dl,
		    "%s%s version=%s cipher=%s", how[0] ? " " : "", how,
		    wolfSSL_get_version(c->ssl),
		    wolfSSL_get_cipher_name(c->ssl));
		stat_inc(ST_OUT_TLS);
		log_event(LOG_INFO, "tls", "dest=%s host=%s %s", c->dest,
		    c->host, c->tls_desc);
		smtp_client_tls_done(&c->sc);
		if (!tls_read_all(c))
			smtp_client_eof(&c->sc);
		return;
	}
	e = wolfSSL_get_error(c->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return;
	wolfSSL_ERR_error_string_n((unsigned long)e, errs, sizeof(errs));
	if (c->tls_policy >= RMX_TLS_ENCRYPT) {
		/* mandatory TLS: this host fails, no plaintext fallback */
		tls_refuse(c, "4.7.5", "TLS handshake with %s failed: %s",
		    c->host, errs);
		return;
	}
	log_event(LOG_NOTICE, "tls_failed",
	    "dest=%s host=%s err=\"%s\" "
	    "action=\"plaintext for an hour\"",
	    c->dest, c->host, errs);
	notls_add(o, c->dest);
	smtp_client_eof(&c->sc);
}

static void
tls_start(struct outbound *o, struct oconn *c)
{
	const struct outbound_tls *t = conn_tls(c);
	WOLFSSL_CTX *ctx =
	    c->tls_policy == RMX_TLS_VERIFY ? o->tls_pkix : o->tls_ctx;

	c->ssl = ctx ? wolfSSL_new(ctx) : NULL;
	if (c->ssl == NULL) {
		if (c->tls_policy >= RMX_TLS_ENCRYPT) {
			tls_refuse(c, "4.7.5",
			    "TLS is required for %s but not available here%s",
			    c->host,
			    ctx == NULL ? " (no CA store for verify)" : "");
			return;
		}
		notls_add(o, c->dest);
		smtp_client_eof(&c->sc);
		return;
	}
	/* SNI: the TLSA base domain under DANE (RFC 7672 section 8.1), the
	 * MX host name otherwise */
	if (t->name[0] != '\0')
		wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, t->name,
		    (unsigned short)strlen(t->name));
	if (c->tls_policy == RMX_TLS_VERIFY &&
	    wolfSSL_check_domain_name(c->ssl, t->name) != WOLFSSL_SUCCESS) {
		tls_refuse(c, "4.7.5", "cannot set the name to verify");
		return;
	}
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	c->tls_handshaking = true;
	buf_reset(&c->tls_in); /* nothing sent before the 220 is kept */
	tls_step(o, c);
}

static void
process(struct outbound *o, struct oconn *c)
{
	unsigned ev = smtp_client_events(&c->sc);

	if (ev & SC_EV_TLS) {
		tls_start(o, c);
		/* a failed start closed the engine: pick up its events */
		ev |= smtp_client_events(&c->sc);
	}
	if ((ev & SC_EV_READY) && !c->sc.tls &&
	    c->tls_policy >= RMX_TLS_ENCRYPT && !(ev & SC_EV_CLOSED)) {
		tls_refuse(c, "4.7.4",
		    "TLS is required for %s (policy %s) but it did not "
		    "offer STARTTLS",
		    c->host, config_tls_policy_name(c->tls_policy));
		ev |= smtp_client_events(&c->sc);
	}

	if (ev & SC_EV_MESSAGE_DONE && c->req != NULL) {
		size_t n;
		const struct smtp_client_result *res =
		    smtp_client_results(&c->sc, &n);
		struct outbound_req *r = c->req;
		r->peer_dsn = (c->sc.caps & SC_CAP_DSN) != 0;
		for (uint32_t i = 0; i < r->nrcpt; i++)
			for (size_t k = 0; k < n; k++)
				if (res[k].rcpt == r->rcpts[i]) {
					r->results[i] = res[k].st;
					if (is_throttle_reply(&res[k].st))
						throttle(
						    o, c->dest, res[k].st.text);
				}
		complete(o, r);
		c->req = NULL;
		c->req_started = false;
		c->msgs++;
	}
	if (ev & SC_EV_CLOSED) {
		if (is_throttle_reply(&c->sc.closed))
			throttle(o, c->dest, c->sc.closed.text);
		if (c->req != NULL && !c->req_started) {
			retry_next_address(o, c);
		} else if (c->req != NULL) {
			const struct smtp_client_status *st = &c->sc.closed;
			fail_all(c->req, SC_TEMP, st->code ? st->code : 451,
			    st->enh[0] ? st->enh : "4.4.2",
			    st->text[0] ? st->text : "connection lost");
			complete(o, c->req);
			c->req = NULL;
		}
		flush(o, c);
		if (!c->send_inflight)
			conn_shutdown(o, c);
		return;
	}
	if (ev & SC_EV_READY) {
		if (c->req == NULL && !o->stopping)
			c->req = take_waiting(o, c);
		if (c->req != NULL && !c->req_started) {
			start_message(o, c);
		} else if (c->req == NULL) {
			if (o->stopping ||
			    c->msgs >= o->cfg->outbound.messages_per_connection)
				smtp_client_quit(&c->sc);
			else {
				c->state = OC_IDLE;
				c->deadline =
				    o->now + o->cfg->outbound.idle_timeout;
			}
		}
	}
	flush(o, c);
	if (c->state == OC_ACTIVE) {
		unsigned t = smtp_client_timeout_secs(&c->sc);
		c->deadline = t ? o->now + t : 0;
	}
}

static void
connect_next(struct outbound *o, struct oconn *c)
{
	struct outbound_req *r = c->req;
	const struct rmx_config *cfg = o->cfg;

	while (c->addr_idx < r->naddrs) {
		const struct sockaddr_storage *sa = &r->addrs[c->addr_idx];
		int fd = socket(sa->ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct io_uring_sqe *sqe;

		if (fd < 0) {
			c->addr_idx++;
			continue;
		}
		if (sa->ss_family == AF_INET && cfg->outbound.source_ipv4) {
			struct sockaddr_in src = {.sin_family = AF_INET};
			inet_pton(
			    AF_INET, cfg->outbound.source_ipv4, &src.sin_addr);
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0)
				log_event(LOG_WARNING, "bind_failed",
				    "src=%s "
				    "err=%s",
				    cfg->outbound.source_ipv4, strerror(errno));
		} else if (sa->ss_family == AF_INET6 &&
			   cfg->outbound.source_ipv6) {
			struct sockaddr_in6 src = {.sin6_family = AF_INET6};
			inet_pton(AF_INET6, cfg->outbound.source_ipv6,
			    &src.sin6_addr);
			if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0)
				log_event(LOG_WARNING, "bind_failed",
				    "src=%s "
				    "err=%s",
				    cfg->outbound.source_ipv6, strerror(errno));
		}
		c->fd = fd;
		snprintf(c->host, sizeof(c->host), "%s", r->hosts[c->addr_idx]);
		sqe = get_sqe(o);
		io_uring_prep_connect(sqe, fd, (const struct sockaddr *)sa,
		    r->addrlens[c->addr_idx]);
		io_uring_sqe_set_data64(sqe, mkud(OOP_CONNECT, c));
		c->inflight++;
		c->state = OC_CONNECTING;
		c->deadline = o->now + cfg->outbound.connect_timeout;
		return;
	}
	/* every address failed */
	fail_all(r, SC_TEMP, 451, "4.4.1", "cannot connect to the next hop");
	complete(o, r);
	c->req = NULL;
	c->shut = true;
	conn_maybe_free(o, c);
}

static void
on_connect(struct outbound *o, struct oconn *c, int res)
{
	struct smtp_client_cfg sc;

	c->inflight--;
	if (c->shut) {
		conn_maybe_free(o, c);
		return;
	}
	if (res < 0) {
		char a[INET6_ADDRSTRLEN + 8] = "?";
		const struct sockaddr_storage *sa = &c->req->addrs[c->addr_idx];
		if (sa->ss_family == AF_INET)
			inet_ntop(AF_INET,
			    &((const struct sockaddr_in *)sa)->sin_addr, a,
			    sizeof(a));
		else if (sa->ss_family == AF_INET6)
			inet_ntop(AF_INET6,
			    &((const struct sockaddr_in6 *)sa)->sin6_addr, a,
			    sizeof(a));
		log_event(LOG_INFO, "connect_failed",
		    "dest=%s host=%s addr=%s "
		    "err=%s",
		    c->dest, c->host, a, strerror(-res));
		close(c->fd);
		c->fd = -1;
		c->addr_idx++;
		connect_next(o, c);
		return;
	}
	memset(&sc, 0, sizeof(sc));
	sc.mode = c->lmtp ? SMTP_CLIENT_LMTP : SMTP_CLIENT_SMTP;
	sc.helo_name = o->cfg->outbound.helo_name ? o->cfg->outbound.helo_name
						  : o->cfg->hostname;
	sc.timeout_cap = o->cfg->outbound.reply_timeout;
	/* STARTTLS as the address's policy says: "may" unless a handshake
	 * with this destination failed recently (then plaintext, as RFC
	 * 3207 allows); "encrypt", "verify" and "dane" always */
	{
		const struct outbound_tls *t = conn_tls(c);
		c->tls_policy = t->policy;
		tls_demand(t, c->tls_demand);
		sc.want_tls = t->policy >= RMX_TLS_ENCRYPT ||
			      (t->policy == RMX_TLS_MAY && o->tls_ctx != NULL &&
				  !notls_now(o, c->dest));
		snprintf(c->tls_desc, sizeof(c->tls_desc),
		    "policy=%s dnssec=%s why=\"%s\"",
		    config_tls_policy_name(t->policy),
		    t->dnssec ? t->dnssec : "insecure", t->why ? t->why : "");
	}
	if (smtp_client_init(&c->sc, &sc) != 0) {
		c->addr_idx = c->req->naddrs;
		conn_shutdown(o, c);
		retry_next_address(o, c);
		conn_maybe_free(o, c);
		return;
	}
	c->sc_init = true;
	c->state = OC_ACTIVE;
	c->deadline = o->now + smtp_client_timeout_secs(&c->sc);
	arm_recv(o, c);
}

static struct oconn *
conn_from_ud(struct outbound *o, uint64_t ud)
{
	uint32_t slot = (uint32_t)ud, gen = (uint32_t)(ud >> 32) & 0xffffff;
	struct oconn *c;

	if (slot >= o->nslots || (c = o->slots[slot]) == NULL ||
	    (c->gen & 0xffffff) != gen)
		return NULL;
	return c;
}

/* outbound_cqe - a completion of one of our requests */
void
outbound_cqe(struct outbound *o, uint64_t ud, int res, unsigned flags)
{
	unsigned op = (unsigned)(ud >> 56);
	struct oconn *c;

	(void)flags;
	if (op == OOP_IGNORE || (c = conn_from_ud(o, ud)) == NULL)
		return;
	switch (op) {
	case OOP_CONNECT:
		on_connect(o, c, res);
		return;
	case OOP_RECV:
		c->inflight--;
		c->recv_armed = false;
		if (res > 0 && !c->shut) {
			if (c->ssl == NULL) {
				smtp_client_input(&c->sc, c->rbuf, (size_t)res);
			} else if (buf_append(
				       &c->tls_in, c->rbuf, (size_t)res) != 0) {
				smtp_client_eof(&c->sc);
			} else if (c->tls_handshaking) {
				tls_step(o, c);
			} else if (!tls_read_all(c)) {
				smtp_client_eof(&c->sc);
			}
			process(o, c);
			arm_recv(o, c);
		} else if (!c->shut) {
			smtp_client_eof(&c->sc);
			process(o, c);
			conn_shutdown(o, c);
		}
		conn_maybe_free(o, c);
		return;
	case OOP_SEND:
		c->inflight--;
		c->send_inflight = false;
		if (res < 0) {
			if (!c->shut) {
				smtp_client_eof(&c->sc);
				process(o, c);
			}
			conn_shutdown(o, c);
			conn_maybe_free(o, c);
			return;
		}
		c->sent += (size_t)res;
		if (c->sent < c->sending.len && !c->shut) {
			struct io_uring_sqe *sqe = get_sqe(o);
			io_uring_prep_send(sqe, c->fd,
			    c->sending.data + c->sent, c->sending.len - c->sent,
			    MSG_NOSIGNAL);
			io_uring_sqe_set_data64(sqe, mkud(OOP_SEND, c));
			c->send_inflight = true;
			c->inflight++;
			return;
		}
		buf_reset(&c->sending);
		if (c->sc_init && !c->shut) {
			smtp_client_pump(&c->sc);
			process(o, c);
		}
		if (c->sc_init && c->sc.state == SC_S_CLOSED &&
		    !c->send_inflight)
			conn_shutdown(o, c);
		conn_maybe_free(o, c);
		return;
	default:
		return;
	}
}

/* Count one message against dest's rate (outbound.dest_rate messages
 * per minute, process-wide); false when it must wait. */
static bool
rate_take(struct outbound *o, const char *dest)
{
	unsigned per_min = o->cfg->outbound.dest_rate;
	uint64_t key = dest_key(dest) ^ 0x5a5a5a5a5a5aULL;
	struct rate_mark *m;

	if (per_min == 0 || o->rates == NULL)
		return true;
	key &= 0xffffffffffffULL;
	if (key == 0)
		key = 1;
	if (!ip_limit_acquire(o->rates, key, per_min, 0))
		return false;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		ip_limit_release(o->rates, key);
		return true;
	}
	m->key = key;
	m->expires = o->now + 60;
	*o->rm_tail = m;
	o->rm_tail = &m->next;
	return true;
}

static void
rate_expire(struct outbound *o, bool all)
{
	while (o->rm_head != NULL && (all || o->rm_head->expires <= o->now)) {
		struct rate_mark *m = o->rm_head;
		o->rm_head = m->next;
		if (o->rm_head == NULL)
			o->rm_tail = &o->rm_head;
		ip_limit_release(o->rates, m->key);
		free(m);
	}
}

/* outbound_submit - deliver r */
void
outbound_submit(struct outbound *o, struct outbound_req *r)
{
	unsigned per_dest = o->cfg->outbound.dest_connections;
	unsigned total = o->cfg->outbound.max_connections;
	struct oconn *c;

	if (r->results == NULL) {
		r->results =
		    calloc(r->nrcpt ? r->nrcpt : 1, sizeof(*r->results));
		if (r->results == NULL) {
			/* cannot even record a result: drop, the scheduler
			 * sees every recipient still pending */
			return;
		}
		o->inflight_reqs++;
	}
	if (o->stopping) {
		fail_all(r, SC_TEMP, 421, "4.3.2", "shutting down");
		complete(o, r);
		return;
	}
	if (r->naddrs == 0) {
		fail_all(r, SC_TEMP, 451, "4.4.3", "no address for next hop");
		complete(o, r);
		return;
	}
	if (!rate_take(o, r->dest)) {
		wait_push(o, r); /* retried from the tick */
		return;
	}
	for (uint32_t i = 0; i < o->nslots; i++) {
		c = o->slots[i];
		if (c != NULL && c->state == OC_IDLE && !c->shut &&
		    c->req == NULL && c->lmtp == r->lmtp &&
		    strcmp(c->dest, r->dest) == 0 && reuse_ok(c, r)) {
			c->req = r;
			start_message(o, c);
			flush(o, c);
			return;
		}
	}
	if (throttled_now(o, r->dest) && conns_to(o, r->dest) > 0) {
		wait_push(o, r); /* one connection at a time for a while */
		return;
	}
	if (!ip_limit_acquire(o->dests, dest_key(r->dest), per_dest, total)) {
		wait_push(o, r);
		return;
	}
	if ((c = conn_new(o)) == NULL) {
		ip_limit_release(o->dests, dest_key(r->dest));
		fail_all(r, SC_TEMP, 451, "4.3.0", "out of memory");
		complete(o, r);
		return;
	}
	snprintf(c->dest, sizeof(c->dest), "%s", r->dest);
	c->lmtp = r->lmtp;
	c->dkey = dest_key(r->dest);
	c->counted = true;
	c->req = r;
	connect_next(o, c);
}

/* A slot for dest may have freed: start a waiting request. */
static void
try_waiting(struct outbound *o, const char *dest)
{
	struct outbound_req *r;

	(void)dest;
	if (o->wait_head == NULL || o->stopping)
		return;
	r = o->wait_head;
	o->wait_head = r->next;
	if (o->wait_head == NULL)
		o->wait_tail = &o->wait_head;
	outbound_submit(o, r); /* may wait again */
}

/* outbound_tick - timers, idle connections, finished requests */
void
outbound_tick(struct outbound *o, int64_t now)
{
	struct outbound_req *r;

	o->now = now;
	rate_expire(o, false);
	for (uint32_t i = 0; i < o->nslots; i++) {
		struct oconn *c = o->slots[i];
		if (c == NULL || c->shut || c->deadline == 0 ||
		    c->deadline > now)
			continue;
		c->deadline = 0;
		if (c->state == OC_CONNECTING) {
			struct io_uring_sqe *sqe = get_sqe(o);
			io_uring_prep_cancel64(sqe, mkud(OOP_CONNECT, c), 0);
			io_uring_sqe_set_data64(
			    sqe, (uint64_t)OOP_IGNORE << 56);
		} else if (c->state == OC_IDLE) {
			c->state = OC_ACTIVE;
			smtp_client_quit(&c->sc);
			process(o, c);
		} else if (c->sc_init) {
			smtp_client_timeout(&c->sc);
			process(o, c);
		}
	}
	/* waiting requests whose destination has room again */
	if (o->wait_head != NULL) {
		struct outbound_req *w = o->wait_head;
		o->wait_head = NULL;
		o->wait_tail = &o->wait_head;
		while (w != NULL) {
			struct outbound_req *n = w->next;
			outbound_submit(o, w);
			w = n;
		}
	}
	while ((r = o->done_head) != NULL) {
		o->done_head = r->next;
		if (o->done_head == NULL)
			o->done_tail = &o->done_head;
		o->inflight_reqs--;
		r->done(r->arg, r);
	}
}

/* outbound_stop - close everything; requests fail temporarily */
void
outbound_stop(struct outbound *o, bool force)
{
	o->stopping = true;
	while (o->wait_head != NULL) {
		struct outbound_req *r = o->wait_head;
		o->wait_head = r->next;
		fail_all(r, SC_TEMP, 421, "4.3.2", "shutting down");
		complete(o, r);
	}
	o->wait_tail = &o->wait_head;
	for (uint32_t i = 0; i < o->nslots; i++) {
		struct oconn *c = o->slots[i];
		if (c == NULL || c->shut)
			continue;
		if (force) {
			/* the receive completes with 0: the engine reports
			 * its unfinished recipients as temporary failures */
			if (c->fd >= 0)
				shutdown(c->fd, SHUT_RDWR);
			if (c->state == OC_CONNECTING)
				conn_shutdown(o, c);
		} else if (c->state == OC_IDLE) {
			c->state = OC_ACTIVE;
			smtp_client_quit(&c->sc);
			process(o, c);
		}
	}
}

/* outbound_busy - anything still open or unreported */
bool
outbound_busy(const struct outbound *o)
{
	return o != NULL && (o->nconns > 0 || o->inflight_reqs > 0);
}

/* outbound_free - after the loop: nothing may be in flight */
void
outbound_free(struct outbound *o)
{
	if (o == NULL)
		return;
	for (uint32_t i = 0; i < o->nslots; i++) {
		struct oconn *c = o->slots[i];
		if (c == NULL)
			continue;
		if (c->fd >= 0)
			close(c->fd);
		if (c->sc_init)
			smtp_client_free(&c->sc);
		if (c->ssl != NULL)
			wolfSSL_free(c->ssl);
		buf_free(&c->tls_in);
		buf_free(&c->tls_out);
		if (c->counted)
			ip_limit_release(o->dests, c->dkey);
		buf_free(&c->sending);
		free(c);
	}
	if (o->tls_pkix != NULL)
		wolfSSL_CTX_free(o->tls_pkix);
	rate_expire(o, true);
	while (o->throttled != NULL) {
		struct throttle *t = o->throttled;
		o->throttled = t->next;
		free(t);
	}
	while (o->notls != NULL) {
		struct throttle *t = o->notls;
		o->notls = t->next;
		free(t);
	}
	if (o->tls_ctx != NULL)
		wolfSSL_CTX_free(o->tls_ctx);
	free(o->slots);
	free(o->freel);
	free(o);
}
