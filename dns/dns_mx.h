/*
 * dns_mx.h - where mail for a domain goes: MX resolution per RFC 5321
 * 5.1 with null MX (RFC 7505), as pure decision functions over answers
 * (struct dns_result) and as one asynchronous lookup on a worker's
 * resolver (MX, then A and AAAA of every chosen host in parallel).
 *
 * Rules:
 * - MX answer BOGUS, timed out, or any rcode but NOERROR/NXDOMAIN:
 *   DNS_MX_TEMPFAIL (defer; never "no MX"). Bogus gives the reason
 *   "dnssec bogus: ...".
 * - NXDOMAIN: DNS_MX_NXDOMAIN (550 5.1.2).
 * - exactly one MX record, "0 .": DNS_MX_NULLMX (556 5.1.10). A "."
 *   exchange among other records is not a null MX: it names no host and
 *   is skipped; if nothing else is left the result is DNS_MX_TEMPFAIL.
 * - NODATA (no MX records): implicit MX, the domain itself (or the end of
 *   its CNAME chain) with preference 0.
 * - hosts in preference order; equal preferences shuffled with the
 *   policy's RNG; duplicates dropped; at most max_hosts.
 * - one of our own names in the list: only hosts with a strictly lower
 *   preference value than our lowest are kept; none left: DNS_MX_LOOP
 *   ("mail for <domain> loops back to myself", 554 5.4.6). A host
 *   resolving to one of our own addresses counts as one of our names.
 * - an exchange is always a name to resolve, even "192.0.2.1" or
 *   "[192.0.2.1]"; CNAME chains are followed by libunbound only.
 * - addresses: loopback (127/8, ::1), unspecified (0/8, ::), v4-mapped
 *   forms of those and our own addresses are dropped unless
 *   allow_loopback. IPv6 addresses come first, then IPv4, in DNS order.
 * - a host whose answers are BOGUS is skipped (its addresses unused);
 *   one whose lookups fail temporarily keeps what the other family gave.
 *   No host with an address left: DNS_MX_TEMPFAIL if any lookup was bogus
 *   ("dnssec bogus") or temporary, else DNS_MX_LOOP if addresses were
 *   dropped as ours/loopback, else DNS_MX_NOHOST (550 5.4.4).
 *
 * Threads: the pure functions are reentrant. dns_mx_resolve() and
 * dns_mx_cancel() follow the resolver's rule: owning worker thread only.
 *
 * Ownership: struct dns_mx_result from dns_mx_resolve() belongs to the
 * callback, which frees it with dns_mx_result_free(). The policy is
 * copied by dns_mx_resolve() (rng_arg must outlive the lookup). A lookup
 * handle is valid until its callback starts or dns_mx_cancel() returns.
 */
#ifndef RINGMX_DNS_MX_H
#define RINGMX_DNS_MX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns_resolver.h"

#define DNS_MX_MAX_HOSTS 16 /* default policy max_hosts */
#define DNS_MX_MAX_ADDRS 16 /* per host and family */

#define DNS_MX_IPV4 1u
#define DNS_MX_IPV6 2u

enum dns_mx_status {
	DNS_MX_OK = 0,
	DNS_MX_NULLMX,   /* the domain accepts no mail: 556 5.1.10 */
	DNS_MX_NXDOMAIN, /* the domain does not exist: 550 5.1.2 */
	DNS_MX_TEMPFAIL, /* try later: 451 4.4.3 */
	DNS_MX_LOOP,     /* we are the best MX: 554 5.4.6 */
	DNS_MX_NOHOST    /* no MX host has an address: 550 5.4.4 */
};

struct dns_mx_policy {
	/* our names (configured hostname, local names); any case, a
	 * trailing dot is ignored */
	const char *const *self_names;
	size_t nself;
	/* our listen addresses (IP compared, port ignored); expand
	 * wildcard listeners to the interface addresses if wanted */
	const struct sockaddr_storage *own_addrs;
	size_t nown;
	bool allow_loopback; /* keep loopback and own addresses (tests) */
	unsigned families;   /* DNS_MX_IPV4 | DNS_MX_IPV6; 0 = both */
	size_t max_hosts;    /* 0 = DNS_MX_MAX_HOSTS */
	/* uniform 32-bit random numbers for the shuffle; NULL =
	 * arc4random() */
	uint32_t (*rng)(void *rng_arg);
	void *rng_arg;
};

struct dns_mx_host {
	char name[DNS_NAME_MAX + 1]; /* lower-case, no trailing dot */
	uint16_t preference;
	size_t naddrs;
	struct sockaddr_storage *addrs; /* port 0; IPv6 first */
	bool secure; /* every A/AAAA answer for it was secure */
	/* The name its address records belong to when name is an alias
	 * (CNAME chain), lower-case; "" otherwise (RFC 7672 §2.2.2: the
	 * first TLSA base domain to try). */
	char cname[DNS_NAME_MAX + 1];
	/* answers seen so far (for dns_mx_finish) */
	unsigned answers;
	size_t nv6;
	bool tempfail; /* a lookup failed or timed out */
	bool bogus;    /* a lookup was bogus: host unusable */
	bool self;     /* an address is one of our own */
	bool dropped;  /* loopback/unspecified addresses were dropped */
};

struct dns_mx_result {
	enum dns_mx_status status;
	char domain[DNS_NAME_MAX + 1];
	char error[512]; /* why, for anything but DNS_MX_OK */
	bool mx_secure;  /* the MX answer (or its NODATA) was secure */
	bool implicit;   /* no MX records: the domain is its own MX */
	size_t nhosts;
	struct dns_mx_host *hosts; /* in order */
	size_t nskipped;           /* hosts left out for lack of addresses */
};

/*
 * dns_mx_select - first step: decide from the MX answer (mx->qtype
 * DNS_T_MX) for domain. Fills out (zeroed first); on DNS_MX_OK, hosts
 * are chosen and ordered but have no addresses yet. Returns out->status.
 */
enum dns_mx_status dns_mx_select(const char *domain,
    const struct dns_result *mx, const struct dns_mx_policy *pol,
    struct dns_mx_result *out);
/* dns_mx_host_answer - give host i of a DNS_MX_OK result its A or AAAA
 * answer (addresses filtered by pol). */
void dns_mx_host_answer(struct dns_mx_result *res, size_t i,
    const struct dns_result *ans, const struct dns_mx_policy *pol);
/* dns_mx_finish - last step, after every answer: drop hosts at or above
 * one of ours, drop hosts without addresses, set the final status. */
void dns_mx_finish(struct dns_mx_result *res);
/* dns_mx_addr_allowed - whether outbound delivery may use sa. */
bool dns_mx_addr_allowed(
    const struct dns_mx_policy *pol, const struct sockaddr *sa);
/* dns_mx_addr_is_own - whether sa's IP is one of pol's own addresses
 * (v4-mapped IPv6 matches IPv4). */
bool dns_mx_addr_is_own(
    const struct dns_mx_policy *pol, const struct sockaddr *sa);
/* dns_mx_is_self - whether name is one of pol's own names. */
bool dns_mx_is_self(const struct dns_mx_policy *pol, const char *name);
/* Free what a result holds (not the struct itself). */
void dns_mx_result_clear(struct dns_mx_result *res);
/* Free a result from dns_mx_resolve(). NULL is fine. */
void dns_mx_result_free(struct dns_mx_result *res);
/* "ok", "nullmx", "nxdomain", "tempfail", "loop", "nohost" */
const char *dns_mx_status_str(enum dns_mx_status st);
/* dns_mx_status_reply - the SMTP reply code and enhanced status code
 * for a failed status (0 and "" for DNS_MX_OK). */
int dns_mx_status_reply(enum dns_mx_status st, const char **enhanced);

struct dns_mx_lookup;
/* Called once, on the owning thread, unless cancelled first; res is
 * owned by the callee (dns_mx_result_free). */
typedef void (*dns_mx_cb)(void *arg, struct dns_mx_result *res);

/*
 * dns_mx_resolve - resolve domain's MX hosts and their addresses. The
 * callback never runs from inside this call. NULL with errno EINVAL if
 * domain is not a valid domain name (a permanent error: 550 5.1.2), or
 * ENOMEM/EIO if the lookup could not start (temporary). Cancel lookups
 * still pending before dns_resolver_free().
 */
struct dns_mx_lookup *dns_mx_resolve(struct dns_resolver *r, const char *domain,
    const struct dns_mx_policy *pol, dns_mx_cb cb, void *arg);
/* dns_mx_cancel - the callback will not run; frees the lookup. */
void dns_mx_cancel(struct dns_mx_lookup *l);

#endif
