/*
 * dns_tlsa.h - the DANE (RFC 7672 §2.2) decision from a TLSA lookup for
 * one MX host: which TLS policy applies and which TLSA records are
 * usable. Pure functions over a struct dns_result (any thread); matching
 * the records against a certificate is the TLS code's (later: dns/dane.c).
 */
#ifndef RINGMX_DNS_TLSA_H
#define RINGMX_DNS_TLSA_H

#include <stdbool.h>
#include <stddef.h>

#include "dns_resolver.h"

enum dns_tlsa_policy {
	DNS_TLSA_MAY = 0, /* no secure TLSA: opportunistic TLS */
	DNS_TLSA_DANE,    /* secure usable TLSA: authenticate with them */
	DNS_TLSA_DEFER,   /* bogus or failed lookup on a secure path, or
			     only unusable records: do not deliver now */
};

struct dns_tlsa_decision {
	enum dns_tlsa_policy policy;
	const char *reason; /* static text */
	size_t nusable;     /* usable records (DANE-TA(2)/DANE-EE(3)) */
	size_t usable[16];  /* their indexes into res->tlsa */
};

/*
 * dns_tlsa_decide - mx_secure: the MX answer (and the host's address
 * answer) were DNSSEC-secure; res: the TLSA answer for
 * _25._tcp.<host> (NULL if it was not asked because the path is not
 * secure). RFC 7672: a secure MX host with secure usable TLSA → DANE;
 * secure with no TLSA (NXDOMAIN/NODATA) or an insecure path → MAY;
 * a bogus TLSA answer or a lookup failure on a secure path → DEFER;
 * secure TLSA records that are all unusable (PKIX usages 0/1, unknown
 * selector or matching type, wrong digest length) → MAY with the reason
 * (RFC 7672 §2.2: "as if no TLSA").
 */
void dns_tlsa_decide(bool mx_secure, const struct dns_result *res,
    struct dns_tlsa_decision *out);

/* Whether one record is usable for SMTP DANE (RFC 7672 §3.1). */
bool dns_tlsa_usable(const struct dns_tlsa_rr *rr);

#endif
