/*
 * dmarc_eval.h - the DMARC decision (RFC 7489 sections 3.1, 6.6.2,
 * 6.6.4): organisational domains through the Public Suffix List,
 * identifier alignment, the SPF and DKIM results read from the other
 * plugins' notes (through a getter, so this stays testable), the policy
 * after sp= and pct=, the disposition and the Authentication-Results
 * resinfo. Pure code: no I/O, no DNS, no allocation, no global state; the
 * psl_ctx_t is only read (libpsl lookups on a loaded context are
 * read-only, so one context may be shared by every worker). Not here:
 * record parsing (dmarc_record.h), the From field (dmarc_from.h), the
 * host (dmarc.c).
 */
#ifndef RINGMX_DMARC_EVAL_H
#define RINGMX_DMARC_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include <libpsl.h>

#include "dmarc_from.h"
#include "dmarc_record.h"

/* Most dkim.<i> notes looked at, whatever dkim.count says. */
#define DMARC_DKIM_MAX 64

enum dmarc_result {
	DMARC_RES_NONE = 0,
	DMARC_RES_PASS = 1,
	DMARC_RES_FAIL = 2,
	DMARC_RES_TEMPERROR = 3,
	DMARC_RES_PERMERROR = 4,
};

enum dmarc_disposition {
	DMARC_DIS_NONE = 0,   /* deliver as usual */
	DMARC_DIS_REJECT = 1, /* 550 5.7.1 at the end of data */
	DMARC_DIS_HOLD = 2,   /* accept, keep in the queue (route "hold") */
	DMARC_DIS_HEADER = 3, /* accept, deliver; only the A-R field says */
};

/*
 * dmarc_org_domain - the organisational domain of a normalised domain
 * (lower case, no trailing dot): its registrable domain by the PSL, or
 * the domain itself when it is a public suffix. out: at least
 * DMARC_DOMAIN_MAX + 1 octets.
 */
void dmarc_org_domain(const psl_ctx_t *psl, const char *domain, char *out);

/*
 * dmarc_aligned - whether identifier id (any case, a trailing dot
 * allowed; not normalised: checked here) aligns with the normalised From
 * domain: strict = equal, relaxed = the same organisational domain.
 */
bool dmarc_aligned(
    const psl_ctx_t *psl, const char *from, const char *id, bool strict);

/* Reads a note; NULL when absent. */
typedef const char *dmarc_note_fn(void *ctx, const char *key);

struct dmarc_auth {
	bool spf_pass;      /* spf.result = pass for the mailfrom identity */
	bool spf_aligned;   /* ... and spf.domain aligns */
	unsigned dkim_pass; /* dkim.<i>.result = pass */
	bool dkim_aligned;  /* one of those has an aligned d= */
	char spf_domain[DMARC_DOMAIN_MAX + 1];  /* when spf_aligned */
	char dkim_domain[DMARC_DOMAIN_MAX + 1]; /* the first aligned d= */
};

/*
 * dmarc_auth_from_notes - SPF and DKIM alignment from the notes of the
 * spf plugin (spf.result, spf.identity, spf.domain) and of dkim_verify
 * (dkim.count, dkim.<i>.result, dkim.<i>.domain); a missing note is no
 * result. SPF counts only for spf.identity = mailfrom.
 */
void dmarc_auth_from_notes(const psl_ctx_t *psl, const char *from,
    bool aspf_strict, bool adkim_strict, dmarc_note_fn *get, void *ctx,
    struct dmarc_auth *out);

struct dmarc_decision {
	enum dmarc_result result;
	enum dmarc_policy published; /* p=, or sp= for a subdomain */
	enum dmarc_policy applied;   /* after pct= sampling (fail only) */
	bool sampled_out;            /* pct= lowered the policy */
	enum dmarc_disposition dis;
};

/*
 * dmarc_decide - the result and policy for a message whose policy record
 * rec was found, at_org (true: at the organisational domain, the From
 * domain being a subdomain of it with no record of its own: sp= applies),
 * given the alignment and sample, a uniform number in 0..99 (the message
 * is in the pct= sample when sample < pct). The disposition maps the
 * applied policy of a failing message: reject -> reject_action,
 * quarantine -> quarantine_action, none -> none.
 */
void dmarc_decide(const struct dmarc_record *rec, bool at_org,
    const struct dmarc_auth *auth, unsigned sample,
    enum dmarc_disposition reject_action,
    enum dmarc_disposition quarantine_action, struct dmarc_decision *out);

const char *dmarc_result_str(enum dmarc_result r);
const char *dmarc_disposition_str(enum dmarc_disposition d);

/*
 * dmarc_resinfo - the RFC 8601 resinfo for ar.dmarc, e.g.
 * "dmarc=fail (p=reject dis=reject) header.from=example.org"; with_policy
 * adds the "(p= dis=)" comment (a record was evaluated); reason (may be
 * NULL) adds reason="...". Values outside RFC 2045 token are quoted.
 * Returns the length written, truncating to outlen - 1.
 */
size_t dmarc_resinfo(char *out, size_t outlen, enum dmarc_result r,
    bool with_policy, const struct dmarc_decision *d, const char *from,
    const char *reason);

#endif
