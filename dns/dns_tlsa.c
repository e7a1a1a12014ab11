/*
 * dns_tlsa.c - DANE policy decision from a TLSA answer (see dns_tlsa.h).
 * What does not live here: certificate matching (dns_dane.c). No state, no
 * allocation: the decision only indexes into the caller's dns_result.
 */
#include "dns_tlsa.h"

#include <string.h>

/* dns_tlsa_usable - DANE-TA(2) or DANE-EE(3), selector 0/1, matching
 * type 0 (full, non-empty), 1 (SHA-256, 32 octets), 2 (SHA-512, 64). */
bool
dns_tlsa_usable(const struct dns_tlsa_rr *rr)
{
	if (rr->usage != 2 && rr->usage != 3)
		return false;
	if (rr->selector > 1)
		return false;
	switch (rr->mtype) {
	case 0:
		return rr->len > 0 && rr->data != NULL;
	case 1:
		return rr->len == 32 && rr->data != NULL;
	case 2:
		return rr->len == 64 && rr->data != NULL;
	default:
		return false;
	}
}

static void
set(struct dns_tlsa_decision *d, enum dns_tlsa_policy p, const char *why)
{
	d->policy = p;
	d->reason = why;
}

/* dns_tlsa_decide - RFC 7672 §2.2 (the order of the checks matters: an
 * insecure MX path never uses DANE, a bogus or failed TLSA lookup on a
 * secure path is never taken as "no TLSA"). */
void
dns_tlsa_decide(
    bool mx_secure, const struct dns_result *res, struct dns_tlsa_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (!mx_secure) {
		set(out, DNS_TLSA_MAY, "insecure MX path: no DANE");
		return;
	}
	if (res == NULL) {
		set(out, DNS_TLSA_DEFER, "TLSA not looked up on a secure path");
		return;
	}
	if (res->sec == DNS_BOGUS) {
		set(out, DNS_TLSA_DEFER, "bogus TLSA answer");
		return;
	}
	if (res->rcode != DNS_RCODE_NOERROR &&
	    res->rcode != DNS_RCODE_NXDOMAIN) {
		set(out, DNS_TLSA_DEFER, "TLSA lookup failed");
		return;
	}
	if (res->sec != DNS_SECURE) {
		set(out, DNS_TLSA_MAY, "insecure TLSA answer: no DANE");
		return;
	}
	if (res->nxdomain || res->ntlsa == 0) {
		set(out, DNS_TLSA_MAY, "no TLSA records");
		return;
	}
	for (size_t i = 0; i < res->ntlsa; i++)
		if (dns_tlsa_usable(&res->tlsa[i]) &&
		    out->nusable < sizeof(out->usable) / sizeof(out->usable[0]))
			out->usable[out->nusable++] = i;
	if (out->nusable == 0) {
		/* RFC 7672 §2.2: "A secure non-empty TLSA RRset where all
		 * the records are unusable": TLS is mandatory, without
		 * authentication (a secure TLSA RRset promises TLS). */
		set(out, DNS_TLSA_ENCRYPT,
		    "only unusable TLSA records: TLS required, not "
		    "authenticated");
		return;
	}
	set(out, DNS_TLSA_DANE, "secure usable TLSA records");
}
