/*
 * dns_answer.h - typed records out of the wire-format DNS answer that the
 * host's dns_query (include/ringmx/plugin.h, rmx_dns_fn) hands a plugin,
 * parsed with ldns. Shared by the sender-authentication plugins (spf,
 * dkim_verify, dmarc) and their command-line tools.
 *
 * Pure code: no I/O, no global state. A struct dns_answer owns its memory
 * (dns_answer_free releases it).
 *
 * What the callback gets (host side, core/plugin_host.c): rcode is the
 * DNS response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...; a timeout or
 * a local failure is SERVFAIL with no packet); secure is 1 for a
 * DNSSEC-validated answer, 0 for an insecure one, -1 for a bogus one (then
 * rcode is SERVFAIL); answer/len is the whole response message in wire
 * format, or NULL/0 when there is none.
 */
#ifndef RINGMX_DNS_ANSWER_H
#define RINGMX_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

/* RR types the plugins ask for (host order). */
#define DA_T_A     1
#define DA_T_CNAME 5
#define DA_T_PTR   12
#define DA_T_MX    15
#define DA_T_TXT   16
#define DA_T_AAAA  28

/* What an answer means for the question asked. */
enum da_status {
	DA_OK = 0,       /* records of the type asked: n > 0 */
	DA_NODATA = 1,   /* the name exists, no record of that type */
	DA_NXDOMAIN = 2, /* the name does not exist */
	DA_TEMP = 3,     /* SERVFAIL, timeout, bogus, REFUSED, malformed
			    packet...: a temporary error (SPF temperror) */
};

/* Longest name in presentation form, without the trailing dot. */
#define DA_NAME_MAX 253

struct da_rr {
	/* TXT: the record's character-strings joined without separator
	 * (RFC 7208 section 3.3, RFC 6376 section 3.6.2.2), NUL-terminated;
	 * len counts the octets (a string may hold NUL octets).
	 * MX: the exchange; PTR/CNAME: the target. Names are lower-cased,
	 * without the trailing dot ("." alone for the root), len = strlen.
	 * A/AAAA: NULL. */
	char *text;
	size_t len;
	uint16_t pref;          /* MX preference */
	unsigned char addr[16]; /* A: 4 octets, AAAA: 16 */
};

struct dns_answer {
	enum da_status status;
	int rcode;
	int secure; /* 1 secure, 0 insecure, -1 bogus */
	uint16_t qtype;
	/* Records of qtype in the answer section (after libunbound followed
	 * any CNAME chain, so the owner names are not checked), in the
	 * order of the packet. */
	size_t n;
	struct da_rr *rr;
};

/*
 * dns_answer_parse - fill out from a host DNS callback's arguments for
 * a question of type qtype. Always fills out (a malformed packet or no
 * memory gives DA_TEMP). Returns 0, or -1 when out->status is DA_TEMP
 * for a local reason (no memory, malformed packet).
 */
int dns_answer_parse(struct dns_answer *out, uint16_t qtype, int rcode,
    int secure, const void *pkt, size_t len);
/* dns_answer_free - release what dns_answer_parse allocated; zeroes out.
 */
void dns_answer_free(struct dns_answer *a);
/* dns_answer_status_str - "ok", "nodata", "nxdomain", "temp". */
const char *dns_answer_status_str(enum da_status s);

/*
 * dns_answer_reverse_name - the PTR query name of an address:
 * "4.3.2.1.in-addr.arpa" for 1.2.3.4, nibbles under "ip6.arpa" for IPv6.
 * family AF_INET (addr 4 octets) or AF_INET6 (16). out needs 74 octets.
 * 0, or -1 for another family.
 */
int dns_answer_reverse_name(
    int family, const unsigned char *addr, char *out, size_t outlen);

#endif
