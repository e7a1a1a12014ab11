/*
 * dmarc_record.h - the DMARC policy record (RFC 7489 section 6.3/6.4):
 * recognising a record ("v=DMARC1" first) and parsing its tags into a
 * struct dmarc_record. Pure code: no I/O, no allocation, no global state;
 * linear in the record's length. Not here: DNS, policy discovery, the
 * decision (dmarc_eval.h) and the From domain (dmarc_from.h).
 */
#ifndef RINGMX_DMARC_RECORD_H
#define RINGMX_DMARC_RECORD_H

#include <stdbool.h>
#include <stddef.h>

enum dmarc_policy {
	DMARC_P_NONE = 0,
	DMARC_P_QUARANTINE = 1,
	DMARC_P_REJECT = 2,
};

/* fo= options (bit set); default DMARC_FO_0. */
#define DMARC_FO_0 0x1
#define DMARC_FO_1 0x2
#define DMARC_FO_D 0x4
#define DMARC_FO_S 0x8

/* A parsed record: plain values, no pointers (owned by whoever holds it).
 */
struct dmarc_record {
	enum dmarc_policy p;  /* requested policy for the domain */
	enum dmarc_policy sp; /* for subdomains; = p when sp= is absent */
	bool has_sp;
	bool p_defaulted;  /* p= (or sp=) was missing or invalid, a valid
			      rua= made it p=none (section 6.6.3 step 6) */
	unsigned pct;      /* 0..100, default 100 */
	bool adkim_strict; /* adkim=s (default r) */
	bool aspf_strict;  /* aspf=s (default r) */
	unsigned fo;       /* DMARC_FO_* bits, default DMARC_FO_0 */
	bool rf_afrf;      /* rf= lists afrf (default: yes) */
	unsigned long ri;  /* seconds, default 86400 */
	unsigned nrua;     /* syntactically valid rua= URIs */
	unsigned nruf;     /* syntactically valid ruf= URIs */
	unsigned bad_tags; /* known tags with a bad value (defaulted) */
};

enum dmarc_rec_status {
	DMARC_REC_OK = 0,        /* a usable policy record */
	DMARC_REC_NOT_DMARC = 1, /* does not start with v=DMARC1: ignore */
	DMARC_REC_INVALID = 2,   /* a DMARC record without a usable policy
				    (no valid p=/sp= and no valid rua=, a
				    duplicate tag, a broken tag list): no
				    DMARC processing */
};

/* Longest record accepted (joined TXT strings); longer is INVALID. */
#define DMARC_RECORD_MAX 4096

/*
 * dmarc_record_is_dmarc - whether the text starts with the version tag
 * "v=DMARC1" (tag name case-insensitive, WSP around '=' allowed, the value
 * exactly "DMARC1" as the ABNF's %x sequence says) followed by ';', WSP
 * or the end.
 */
bool dmarc_record_is_dmarc(const char *txt, size_t len);

/*
 * dmarc_record_parse - parse a record. Tag names are case-insensitive,
 * as are the keyword values of p, sp, adkim, aspf, fo and rf. p= must be
 * the tag right after v= (section 6.4); a missing or bad p= (or a bad sp=)
 * gives p=none when rua= has a valid URI, else INVALID. Other known tags
 * with a bad value take their default (section 6.3); unknown tags are
 * ignored; a tag given twice makes the record INVALID (the DKIM tag-list
 * rule the record format refers to). *why (may be NULL) gets a short
 * static text for INVALID and for defaulted values. out is always filled
 * (defaults when not OK).
 */
enum dmarc_rec_status dmarc_record_parse(
    const char *txt, size_t len, struct dmarc_record *out, const char **why);

/* "none", "quarantine", "reject" */
const char *dmarc_policy_str(enum dmarc_policy p);

#endif
