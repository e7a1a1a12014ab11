/*
 * dns_resolver.h - one asynchronous, DNSSEC-validating libunbound context
 * per worker thread, and the parsed answers it hands to callbacks.
 *
 * Threads: a resolver belongs to the worker thread that created it. Every
 * function taking a struct dns_resolver is called on that thread only;
 * callbacks run on it too, from dns_resolver_process() or
 * dns_resolver_expire(). libunbound runs the actual resolution on a helper
 * thread of its own (ub_ctx_async(ctx, 1)); nothing here ever blocks the
 * calling thread on the network.
 *
 * Loop integration: poll dns_resolver_fd() for POLLIN on the worker's ring
 * (IORING_OP_POLL_ADD, multishot or re-armed) and call
 * dns_resolver_process() on each readiness; call dns_resolver_expire() from
 * the worker's timers (at least once a second while dns_resolver_pending()
 * is non-zero, or after dns_resolver_next_timeout() milliseconds).
 *
 * Timeouts: libunbound answers every query eventually (its retries end in
 * SERVFAIL), but with no bound the caller controls. Each query therefore
 * has a deadline of dns_config.timeout_ms; a query still unanswered then is
 * cancelled in libunbound and its callback gets rcode SERVFAIL with
 * timed_out set. What a timeout means is the caller's decision (the MX
 * resolver in dns_mx.h treats it as a temporary failure, never as "no
 * data"). Nothing times out unless the caller drives dns_resolver_expire().
 *
 * Caching is libunbound's own (TTL-based, per context, so per worker);
 * identical queries in flight at the same time are sent upstream once.
 *
 * Ownership: a struct dns_result passed to a callback is owned by the
 * resolver and valid only until the callback returns; copy what you keep.
 * Strings in struct dns_config are copied by dns_resolver_new().
 */
#ifndef RINGMX_DNS_RESOLVER_H
#define RINGMX_DNS_RESOLVER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Debian's dns-root-data: the root zone's KSKs as DNSKEY records. */
#define DNS_DEFAULT_TRUST_ANCHOR "/usr/share/dns/root.key"
#define DNS_DEFAULT_TIMEOUT_MS   30000u
/* Longest domain name in presentation form without the trailing dot. */
#define DNS_NAME_MAX 253

/* RR types this module parses (host order). */
#define DNS_T_A     1
#define DNS_T_CNAME 5
#define DNS_T_MX    15
#define DNS_T_TXT   16
#define DNS_T_AAAA  28
#define DNS_T_TLSA  52

/* Response codes (RFC 1035 4.1.1, RFC 6895). */
#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_FORMERR  1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP   4
#define DNS_RCODE_REFUSED  5

enum dns_mode {
	DNS_MODE_RECURSIVE = 0, /* full recursion from the root hints */
	DNS_MODE_RESOLVCONF = 1 /* forward to the servers in resolv.conf */
};

struct dns_stub {
	const char *zone;    /* "example." or "example" */
	const char *address; /* "ip" or "ip@port" */
};

struct dns_config {
	enum dns_mode mode;
	/*
	 * DNSSEC trust anchor file with DS or DNSKEY records (zone-file
	 * syntax). NULL: DNS_DEFAULT_TRUST_ANCHOR in recursive mode, none
	 * (no validation, every answer INSECURE) in resolvconf mode, where
	 * the forwarders may strip DNSSEC records.
	 */
	const char *trust_anchor;
	/* Load trust_anchor as an RFC 5011 auto-updated file (it must be
	 * writable, and written by one context only) instead of a static
	 * one. */
	bool trust_anchor_autr;
	/* Zones resolved by asking these servers (RD off) instead of
	 * following delegations. Each zone is also made a transparent local
	 * zone, so a stub under a zone libunbound answers itself (test.,
	 * invalid., home.arpa., ...) still reaches its server. */
	const struct dns_stub *stubs;
	size_t nstubs;
	/* Extra libunbound configuration file (unbound.conf syntax), read
	 * after everything above, so it can override it. NULL = none. */
	const char *unbound_conf;
	/* resolvconf mode: the file; NULL = /etc/resolv.conf. */
	const char *resolv_conf;
	/* Deadline of each query in ms; 0 = DNS_DEFAULT_TIMEOUT_MS. */
	unsigned timeout_ms;
};

enum dns_sec {
	DNS_INSECURE = 0, /* no validation path (unsigned, or no anchor) */
	DNS_SECURE,       /* validated (data or proven non-existence) */
	DNS_BOGUS         /* validation failed: treat as an error */
};

struct dns_mx_rr {
	uint16_t preference;
	/* lower-cased, no trailing dot; "." for the root (null MX) */
	char exchange[DNS_NAME_MAX + 1];
};

struct dns_tlsa_rr {
	uint8_t usage, selector, mtype;
	size_t len;          /* certificate association data */
	const uint8_t *data; /* len bytes */
};

struct dns_txt_string {
	size_t len;
	const char *data; /* len bytes plus a NUL (data may hold NULs) */
};

struct dns_txt_rr {
	size_t nstrings;
	const struct dns_txt_string *strings;
};

struct dns_result {
	const char *qname; /* as asked */
	uint16_t qtype;
	int rcode;      /* DNS_RCODE_*; SERVFAIL also for local errors */
	bool havedata;  /* the answer has records of qtype */
	bool nxdomain;  /* the name does not exist */
	bool timed_out; /* no answer before the deadline (rcode SERVFAIL) */
	enum dns_sec sec;
	const char *why_bogus; /* DNS_BOGUS: libunbound's reason, or NULL */
	const char *error;     /* local failure text (timeout, ...), or NULL */
	uint32_t ttl;          /* seconds; 0 when there is no data */
	/* The name the data belongs to when qname is an alias (CNAME chain
	 * followed by libunbound), lower-cased, no trailing dot; else NULL. */
	const char *cname;
	/* Records of qtype, parsed; malformed ones are skipped and counted. */
	size_t nrr; /* records in the answer */
	size_t nmalformed;
	size_t nmx;
	const struct dns_mx_rr *mx;
	size_t na;
	const struct in_addr *a;
	size_t naaaa;
	const struct in6_addr *aaaa;
	size_t ntlsa;
	const struct dns_tlsa_rr *tlsa;
	size_t ntxt;
	const struct dns_txt_rr *txt;
	size_t ncname;             /* qtype CNAME: the targets */
	const char *const *cnames; /* lower-cased, no trailing dot */
	/* The whole response message in wire format as libunbound got it
	 * (for the plugin ABI's dns_query), or NULL/0 (timeout, local
	 * failure). */
	const void *packet;
	size_t packet_len;
	void *priv_; /* storage of the parsed records */
};

struct dns_resolver;

/*
 * Called once per query, on the owning thread, unless the query was
 * cancelled first. res is valid only during the call. The callback may
 * start and cancel queries, but must not free the resolver.
 */
typedef void (*dns_query_cb)(void *arg, const struct dns_result *res);

/* NULL on failure, with the reason in err. */
struct dns_resolver *dns_resolver_new(
    const struct dns_config *cfg, char *err, size_t errlen);
/* Frees the context; callbacks of pending queries are never called. Not
 * from inside a callback. NULL is fine. */
void dns_resolver_free(struct dns_resolver *r);
/* The descriptor to poll for POLLIN (stable for the resolver's life). */
int dns_resolver_fd(const struct dns_resolver *r);
/* Run the callbacks of every answer ready. 0, or -1 if libunbound's pipe
 * failed (err filled). Harmless when nothing is ready. */
int dns_resolver_process(struct dns_resolver *r, char *err, size_t errlen);
/* Milliseconds until the earliest query deadline (0 if passed), -1 when
 * nothing is pending. */
int dns_resolver_next_timeout(const struct dns_resolver *r);
/* Time out (callback with timed_out) every query past its deadline. */
void dns_resolver_expire(struct dns_resolver *r);
/* Queries started and neither answered nor cancelled. */
size_t dns_resolver_pending(const struct dns_resolver *r);

/*
 * dns_query - start resolving name/rrtype (class IN). Returns a handle
 * (never 0), or 0 if the query could not be started (bad name, no
 * memory, libunbound failure). The callback is never called from inside
 * dns_query().
 */
uint64_t dns_query(struct dns_resolver *r, const char *name, uint16_t rrtype,
    dns_query_cb cb, void *arg);
/* dns_cancel - after it returns, cb is never called for id. true if the
 * query was pending; false (harmless) for an answered, cancelled or
 * unknown id. */
bool dns_cancel(struct dns_resolver *r, uint64_t id);

/*
 * Pure helpers, also for tests and fuzzing.
 * dns_result_parse_rdata - parse n wire-format RDATAs of rrtype into res's
 * typed arrays (replacing earlier ones); res->priv_ then owns memory that
 * dns_result_clear() frees. 0, or -1 out of memory.
 */
int dns_result_parse_rdata(struct dns_result *res, uint16_t rrtype,
    const uint8_t *const *rdata, const size_t *rdlen, size_t n);
/* Free what dns_result_parse_rdata() allocated and zero the arrays. */
void dns_result_clear(struct dns_result *res);
/* dns_name_from_wire - an uncompressed wire name to lower-case
 * presentation form without the trailing dot ("." for the root). Labels
 * with dots, backslashes, blanks or non-ASCII/control bytes are refused.
 * Bytes used, or 0 if malformed or longer than out allows. */
size_t dns_name_from_wire(
    const uint8_t *p, size_t len, char *out, size_t outlen);
/* dns_name_normalize - copy name lower-cased without a trailing dot;
 * -1 if empty, too long or not a plausible host/domain name. */
int dns_name_normalize(const char *name, char *out, size_t outlen);
/* "NOERROR", "SERVFAIL", ... or "RCODE<n>" in buf. */
const char *dns_rcode_str(int rcode, char *buf, size_t buflen);
const char *dns_sec_str(enum dns_sec sec);

#endif
