/*
 * dns_tlsa.h - the DANE (RFC 7672 §2.2) decision from a TLSA lookup for
 * one MX host: which TLS policy applies and which TLSA records are
 * usable. Pure functions over a struct dns_result (any thread). What does
 * not live here: matching the records against a peer's certificate chain
 * (dns_dane.h) and acting on the policy (the outbound TLS code).
 */
#ifndef RINGMX_DNS_TLSA_H
#define RINGMX_DNS_TLSA_H

#include <stdbool.h>
#include <stddef.h>

#include "dns_resolver.h"

enum dns_tlsa_policy {
	DNS_TLSA_MAY = 0, /* no secure TLSA: opportunistic TLS */
	DNS_TLSA_DANE,    /* secure usable TLSA: authenticate with them */
	DNS_TLSA_DEFER,   /* bogus or failed lookup on a secure path:
			     do not deliver to this host now */
	DNS_TLSA_ENCRYPT, /* secure TLSA RRset, all records unusable: TLS
			     is mandatory, authentication is not (RFC 7672
			     §2.2); appended so the other values keep their
			     numbers */
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
 * a secure non-empty TLSA RRset whose records are all unusable (PKIX
 * usages 0/1, unknown usage, selector or matching type, wrong digest
 * length) → ENCRYPT (RFC 7672 §2.2: such a service still promises TLS, so
 * the connection MUST use TLS but need not be authenticated; failing to
 * get TLS means trying the next MX host or deferring, never plaintext;
 * §3.1.3: PKIX-TA(0)/PKIX-EE(1) are unusable for SMTP).
 */
void dns_tlsa_decide(bool mx_secure, const struct dns_result *res,
    struct dns_tlsa_decision *out);

/* Whether one record is usable for SMTP DANE (RFC 7672 §3.1). */
bool dns_tlsa_usable(const struct dns_tlsa_rr *rr);

#endif
