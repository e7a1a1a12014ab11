/*
 * spf_eval.h - the SPF evaluator (RFC 7208 check_host()) as a resumable
 * state machine with no I/O: the caller runs spf_eval_step() until it
 * returns SPF_DONE; on SPF_NEED_DNS it resolves q (name and type), hands
 * the answer to spf_eval_answer() and steps again. The same engine serves
 * the spf plugin (host->dns_query) and tools/ringmx-spfcheck (libunbound).
 *
 * Covered: the MAIL FROM identity, and HELO when MAIL FROM is <> (local
 * part "postmaster"); every mechanism and modifier; macros (spf_macro.h)
 * including %{p}; the limits of section 4.6.4 (10 DNS mechanisms and
 * modifiers, 2 void lookups, 10 MX and 10 PTR names); the explanation
 * (exp=, or the configured default). One query is outstanding at a time.
 * Not here: DNS transport, deadlines (the caller's), policy.
 */
#ifndef RINGMX_SPF_EVAL_H
#define RINGMX_SPF_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_answer.h"
#include "spf_record.h"

#define SPF_DNS_MECH_MAX 10 /* section 4.6.4 */
#define SPF_VOID_MAX     2
#define SPF_NAMES_MAX    10 /* MX and PTR names looked at */
#define SPF_DEPTH_MAX    (SPF_DNS_MECH_MAX + 2)
#define SPF_EXP_MAX      1024 /* longest explanation kept */

enum spf_step {
	SPF_NEED_DNS = 1,
	SPF_DONE = 2,
};

/* A query the caller must answer. */
struct spf_query {
	char name[DA_NAME_MAX + 1];
	uint16_t type; /* DA_T_TXT, DA_T_A, DA_T_AAAA, DA_T_MX, DA_T_PTR */
};

/* Options. Ownership: strings borrowed for spf_eval_new only (copied). */
struct spf_eval_opts {
	const char *receiver;    /* %{r}; NULL: "unknown" */
	const char *default_exp; /* explanation without exp=; NULL: none */
	uint64_t now;            /* %{t}, seconds */
};

struct spf_eval;

/*
 * spf_eval_new - a check of ip (family AF_INET with 4 octets or AF_INET6
 * with 16; an IPv4-mapped IPv6 address counts as IPv4) for sender (the
 * MAIL FROM address without brackets, "" for <>) and helo. NULL when out
 * of memory.
 */
struct spf_eval *spf_eval_new(int family, const unsigned char *ip,
    const char *sender, const char *helo, const struct spf_eval_opts *o);
void spf_eval_free(struct spf_eval *ev);

/* spf_eval_step - SPF_NEED_DNS with *q filled, or SPF_DONE. */
enum spf_step spf_eval_step(struct spf_eval *ev, struct spf_query *q);
/* spf_eval_answer - the answer to the last query (copied; a may be
 * freed afterwards). */
void spf_eval_answer(struct spf_eval *ev, const struct dns_answer *a);
/* spf_eval_abort - finish now with temperror (deadline passed). */
void spf_eval_abort(struct spf_eval *ev, const char *reason);

/* Results, valid after SPF_DONE (strings owned by ev). */
enum spf_result spf_eval_result(const struct spf_eval *ev);
/* "mailfrom" or "helo". */
const char *spf_eval_identity(const struct spf_eval *ev);
/* The domain checked (from the sender or the HELO name). */
const char *spf_eval_domain(const struct spf_eval *ev);
/* The sender checked: the address, or postmaster@helo. */
const char *spf_eval_sender(const struct spf_eval *ev);
/* The explanation of a fail ("" otherwise). */
const char *spf_eval_explanation(const struct spf_eval *ev);
/* The matching mechanism as written, "default" (no match), "redirect"
 * results are those of the target, or "" for none/errors. */
const char *spf_eval_mechanism(const struct spf_eval *ev);
/* A short reason for none, neutral by default, and errors ("" else). */
const char *spf_eval_reason(const struct spf_eval *ev);
/* DNS queries asked so far. */
unsigned spf_eval_queries(const struct spf_eval *ev);

#endif
