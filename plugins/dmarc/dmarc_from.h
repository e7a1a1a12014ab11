/*
 * dmarc_from.h - the RFC5322.From domain for DMARC (RFC 7489 section
 * 6.6.1): the domain of the one address in the one From field. Parses an
 * address list (RFC 5322 section 3.4 with the obsolete forms: display
 * names, comments, quoted strings, groups, routes, CFWS around '@' and
 * '.'). Pure code: no I/O, no allocation, linear in the field's length,
 * comment nesting bounded. Not here: counting the From fields of a
 * message (the plugin does that with the host's header_get), DNS, PSL.
 */
#ifndef RINGMX_DMARC_FROM_H
#define RINGMX_DMARC_FROM_H

#include <stddef.h>

/* Longest domain name in presentation form, without the trailing dot. */
#define DMARC_DOMAIN_MAX 253

enum dmarc_from_status {
	DMARC_FROM_OK = 0,
	DMARC_FROM_NO_ADDRESS = 1, /* no address in the field */
	DMARC_FROM_MULTIPLE = 2,   /* more than one address */
	DMARC_FROM_BAD_DOMAIN = 3, /* no domain, a domain literal, non-ASCII,
				      a malformed or too long name */
	DMARC_FROM_SYNTAX = 4,     /* unbalanced quotes, comments, <> */
};

/*
 * dmarc_from_domain - the domain of the single address in the field body
 * value/len (raw, folding allowed). On DMARC_FROM_OK, out (at least
 * DMARC_DOMAIN_MAX + 1 octets) holds it lower-cased, without a trailing
 * dot. *naddr (may be NULL) gets the number of addresses found.
 */
enum dmarc_from_status dmarc_from_domain(
    const char *value, size_t len, char *out, size_t *naddr);

/* A short text for a status: "no address in From", ... */
const char *dmarc_from_status_str(enum dmarc_from_status s);

/*
 * dmarc_domain_normalise - copy a domain name (an identifier from a note
 * or a header) lower-cased without a trailing dot into out (at least
 * DMARC_DOMAIN_MAX + 1 octets), checking it is a DNS name of
 * letter/digit/hyphen/underscore labels of 1..63 octets. 0, or -1.
 */
int dmarc_domain_normalise(const char *in, size_t len, char *out);

#endif
