/*
 * outbound.h - a worker's outbound connections on its io_uring: connect
 * (each address in turn, with a timeout), the SMTP/LMTP client engine
 * (smtp_client.c) fed from one-shot receives, one send in flight per
 * connection, connection reuse per destination, and the process-wide
 * limits on connections per destination and in total (a SHARED ip_limit
 * table keyed by destination). DNS and the choice of next hop are the
 * caller's (scheduler.c); this file moves a message to given addresses.
 * Owned by one worker; every function runs on its loop thread.
 */
#ifndef RINGMX_OUTBOUND_H
#define RINGMX_OUTBOUND_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "dns_resolver.h"
#include "ip_limit.h"
#include "smtp_client.h"

#define OUTBOUND_MAX_ADDRS 16
#define OUTBOUND_OP_BASE   16 /* user_data ops >= this are outbound's */

/* What TLS one address demands (set by the caller, e.g. outbound_tls.c;
 * all zero = RMX_TLS_NONE). */
struct outbound_tls {
	int policy;         /* enum rmx_tls_policy in force for this host */
	char name[256];     /* SNI, and the name "verify" checks; for "dane" the
			       TLSA base domain (DANE-TA reference identifier) */
	char name2[256];    /* another DANE-TA reference identifier, or "" */
	const char *dnssec; /* "secure", "insecure" (static), for the log */
	const char *why;    /* static: why this policy */
	size_t ntlsa;       /* "dane": the usable TLSA records */
	const struct dns_tlsa_rr *tlsa;
};

/* One message (some of its recipients) to one next hop. Owned by the
 * caller; between outbound_submit and done() outbound reads it. */
struct outbound_req {
	/* in */
	const struct qenvelope *env;
	const uint32_t *rcpts; /* indexes into env->rcpts */
	uint32_t nrcpt;
	const uint8_t *body;
	size_t body_len;
	bool lmtp;
	char dest[320]; /* destination key: limits and connection reuse */
	size_t naddrs;
	struct sockaddr_storage addrs[OUTBOUND_MAX_ADDRS];
	socklen_t addrlens[OUTBOUND_MAX_ADDRS];
	char hosts[OUTBOUND_MAX_ADDRS][256]; /* for Remote-MTA, logs */
	struct outbound_tls tls[OUTBOUND_MAX_ADDRS];
	void (*done)(void *arg, struct outbound_req *r);
	void *arg;
	/* out: one result per entry of rcpts, in the same order */
	struct smtp_client_status *results;
	char remote_mta[256]; /* the host that answered, or "" */
	bool peer_dsn;        /* the next hop offered DSN (RFC 3461) */
	char tls_log[320];    /* TLS of the delivering connection, for logs */
	/* private */
	struct outbound_req *next;
};

struct outbound;

/* dests: connections per destination and in total; rates: messages
 * started per destination in the last minute (both SHARED, lock-free). */
struct outbound *outbound_new(struct io_uring *ring,
    const struct rmx_config *cfg, struct ip_limit *dests,
    struct ip_limit *rates, unsigned worker);
void outbound_free(struct outbound *o);
/* A reloaded configuration (limits, policies; valid until exit). */
void outbound_set_config(struct outbound *o, const struct rmx_config *cfg);
/* Deliver r (never blocks; done() is called later, never from here). */
void outbound_submit(struct outbound *o, struct outbound_req *r);
/* A completion whose user_data op is >= OUTBOUND_OP_BASE. */
void outbound_cqe(struct outbound *o, uint64_t ud, int res, unsigned flags);
/* Once per loop turn: timeouts, idle connections, waiting requests. */
void outbound_tick(struct outbound *o, int64_t now);
/* Stop: waiting requests fail temporarily, idle connections QUIT; with
 * force, every connection is shut down (unfinished recipients temporary). */
void outbound_stop(struct outbound *o, bool force);
/* Connections open or requests in flight. */
bool outbound_busy(const struct outbound *o);

#endif
