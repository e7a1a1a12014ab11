/*
 * spf_record.h - the SPF record parser (RFC 7208 sections 4.5, 4.6 and
 * 12): record selection ("v=spf1" followed by SP or the end) and the
 * parse of one record into mechanisms and modifiers, with every syntax
 * check of the ABNF (a syntax error anywhere is a permerror).
 *
 * Pure code: no I/O, no global state. What is not here: macro expansion
 * (spf_macro.h) and evaluation (spf_eval.h).
 */
#ifndef RINGMX_SPF_RECORD_H
#define RINGMX_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* check_host() results (RFC 7208 section 2.6). */
enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* "pass", "fail", ... as in RFC 7208 and RFC 8601. */
const char *spf_result_str(enum spf_result r);

enum spf_mech_kind {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

/* Longest TXT record text accepted (a DNS message holds at most 64 KiB). */
#define SPF_RECORD_MAX 65535
/* Most terms one record may hold (a 64 KiB record has fewer anyway). */
#define SPF_TERMS_MAX 2048

/*
 * One mechanism. Ownership: spec and term point into the owning struct
 * spf_record's text and live as long as it.
 */
struct spf_mech {
	enum spf_mech_kind kind;
	enum spf_result qual; /* result when it matches (+ pass, - fail...) */
	const char *term;     /* the term as written */
	size_t term_len;
	const char *spec; /* domain-spec (a, mx, ptr, include, exists) or
			     NULL when absent */
	size_t spec_len;
	int cidr4, cidr6;       /* prefix lengths (32 / 128 when absent) */
	unsigned char addr[16]; /* ip4 (4 octets) / ip6 network */
};

/*
 * A parsed record. Ownership: text is a malloc'ed copy of the record,
 * mech a malloc'ed array; both are released by spf_record_free.
 */
struct spf_record {
	char *text;
	struct spf_mech *mech;
	size_t nmech;
	const char *redirect; /* domain-spec of redirect=, or NULL */
	size_t redirect_len;
	const char *exp; /* domain-spec of exp=, or NULL */
	size_t exp_len;
	bool has_all; /* an "all" mechanism anywhere: redirect is ignored */
};

/* spf_record_is_spf1 - whether txt is an SPF record: "v=spf1" (any case)
 * followed by SP or the end (section 4.5). */
bool spf_record_is_spf1(const char *txt, size_t len);

/*
 * spf_record_parse - parse a record selected by spf_record_is_spf1.
 * 0 and *out filled, or -1 (permerror: a syntax error, or no memory)
 * with a short reason in err. out is always safe to spf_record_free.
 */
int spf_record_parse(const char *txt, size_t len, struct spf_record *out,
    char *err, size_t errlen);
void spf_record_free(struct spf_record *r);

/*
 * spf_domain_spec_ok - a domain-spec (section 7.1): a valid macro-string
 * (spf_macro.h; c, r and t refused) that ends in a macro-expand or in
 * "." toplabel ["."].
 */
bool spf_domain_spec_ok(const char *s, size_t n);

#endif
