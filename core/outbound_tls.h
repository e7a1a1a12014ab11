/*
 * outbound_tls.h - what TLS an outbound delivery demands of each next-hop
 * address: the destination's policy (outbound.tls, outbound.tls_policies)
 * and, where DANE applies, the TLSA lookups of RFC 7672 §2.2 for each MX
 * host (after CNAME expansion first, then the MX name), decided by
 * dns_tlsa_decide(). The result is a struct outbound_tls per address of an
 * outbound_req; matching certificates is outbound.c's (with dns_dane.h).
 *
 * When DANE applies to an MX host: the MX RRset was DNSSEC-secure (or the
 * domain is its own implicit MX with a secure denial of MX) AND the host's
 * address records were secure (RFC 7672 §2.2.1, §2.2.2: a secure MX
 * pointing into an insecure zone gets no DANE). Then:
 *   usable secure TLSA       -> dane (TLS mandatory, must match)
 *   secure TLSA, none usable -> encrypt (TLS mandatory, no auth)
 *   secure denial of TLSA    -> may (opportunistic)
 *   bogus / failed lookup    -> the host is skipped (next MX; defer when
 *                               none is left), never plaintext
 *
 * Threads: a lookup belongs to the worker whose resolver it uses; every
 * function runs on that worker's loop.
 */
#ifndef RINGMX_OUTBOUND_TLS_H
#define RINGMX_OUTBOUND_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "dns_mx.h"
#include "dns_resolver.h"
#include "outbound.h"

/* The policy for mail to domain (or a smarthost of that name): the first
 * matching outbound.tls_policies entry ("example.org" exact, ".example.org"
 * its subdomains), else outbound.tls. */
int otls_policy_for(const struct rmx_config *cfg, const char *domain);

struct otls_lookup;
typedef void otls_done_fn(void *arg, struct otls_lookup *l);

/*
 * otls_start - decide for every host of mx (whose ownership passes to
 * the lookup) under policy, asking TLSA records where DANE applies.
 * Returns NULL only when out of memory (mx is freed then). When
 * otls_pending() is false right away, nothing was asked and done is never
 * called; otherwise done(arg, l) runs once, later, on this loop.
 */
struct otls_lookup *otls_start(struct dns_resolver *dns, int policy,
    struct dns_mx_result *mx, otls_done_fn *done, void *arg);
bool otls_pending(const struct otls_lookup *l);
/*
 * otls_fill - the request's addresses (port 25) with their TLS demands,
 * in MX order, leaving out hosts whose TLSA lookup failed. Returns the
 * number of addresses; why explains an empty result. The records pointed
 * to by r->tls[] belong to l: keep l until the request is done.
 */
size_t otls_fill(
    struct otls_lookup *l, struct outbound_req *r, char *why, size_t whylen);
/* Cancel queries in flight (done is never called) and free everything. */
void otls_free(struct otls_lookup *l);

#endif
