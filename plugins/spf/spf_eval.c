/*
 * spf_eval.c - check_host() of RFC 7208 as a resumable state machine (see
 * spf_eval.h). No I/O and no global state: every DNS question goes out
 * through spf_eval_step() and every answer comes back through
 * spf_eval_answer(). Memory is bounded: at most SPF_DEPTH_MAX frames
 * (include/redirect levels, themselves bounded by the 10-lookup limit),
 * 10 MX names, 10 PTR names and one copied answer at a time.
 *
 * Not here: the record syntax (spf_record.c), macros (spf_macro.c), DNS
 * transport, deadlines and policy (spf.c, tools/ringmx-spfcheck.c).
 */
#include "spf_eval.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "spf_macro.h"

/* Hard ceiling on queries of one evaluation (the limits give ~150). */
#define QUERIES_MAX 256

enum phase {
	PH_START,     /* validate the frame's domain, ask its TXT */
	PH_TXT,       /* TXT answer: select and parse the record */
	PH_TERM,      /* evaluate mechanism ti */
	PH_A,         /* "a": address answer */
	PH_MX,        /* "mx": MX answer */
	PH_MX_NEXT,   /* "mx": ask the next exchange's addresses */
	PH_MX_ADDR,   /* "mx": an exchange's addresses */
	PH_EXISTS,    /* "exists": A answer */
	PH_CHILD,     /* "include": waiting for the child frame */
	PH_AFTER,     /* no mechanism matched: redirect= or neutral */
	PH_EXP,       /* fail at the top: fetch the exp= text */
	PH_EXP_TXT,   /* exp= TXT answer */
	PH_EXP_FINAL, /* expand the exp= text */
	PH_FINISHED,  /* done */
};

/* %{p} / "ptr": the validated names of the client (section 5.5). */
enum pv_state {
	PV_NONE,  /* not looked up yet */
	PV_PTR,   /* PTR answer awaited */
	PV_NEXT,  /* ask the next name's addresses */
	PV_ADDR,  /* a name's addresses awaited */
	PV_READY, /* valid[] complete */
};

/* One check_host() level. Ownership: rec is the frame's. */
struct frame {
	char domain[DA_NAME_MAX + 2];
	struct spf_record rec;
	size_t ti;
	enum phase ph;
	bool via_include, via_redirect;
};

/*
 * The evaluation. Ownership: everything is ev's; names[], ptr[],
 * valid[] and ans's records are malloc'ed and released by spf_eval_free
 * (or when replaced).
 */
struct spf_eval {
	int family;
	unsigned char ip[16];
	char local[256];
	char sdomain[DA_NAME_MAX + 2];
	char sender[600];
	char helo[DA_NAME_MAX + 2];
	char receiver[DA_NAME_MAX + 2];
	bool have_receiver;
	char default_exp[SPF_EXP_MAX];
	bool have_default_exp;
	uint64_t now;
	bool helo_identity;

	struct frame fr[SPF_DEPTH_MAX];
	size_t depth; /* fr[depth - 1] is the top */

	unsigned ndns, nvoid, nqueries;
	bool counted; /* the current term counted against ndns */

	/* the question out and its answer */
	bool waiting;
	struct spf_query q;
	struct dns_answer ans;

	/* "mx" */
	char *names[SPF_NAMES_MAX];
	size_t nnames, name_i;
	char target[DA_NAME_MAX + 2];

	/* validated PTR names */
	enum pv_state pv;
	enum phase pv_resume;
	char *ptr[SPF_NAMES_MAX];
	size_t nptr, ptr_i;
	char *valid[SPF_NAMES_MAX];
	size_t nvalid;

	/* results */
	bool done;
	enum spf_result result;
	char explanation[SPF_EXP_MAX];
	char mechanism[256];
	char reason[256];
	char *exp_text; /* the exp= TXT text (malloc'ed) */
	size_t exp_len;
};

/* ------------------------------------------------------------ helpers */

/* Copy with truncation (intended: the fields are for logs). */
static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n;

	if (cap == 0)
		return;
	n = src ? strnlen(src, cap - 1) : 0;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
free_names(char **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	*n = 0;
}

static int
copy_answer(struct dns_answer *dst, const struct dns_answer *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->status = src->status;
	dst->rcode = src->rcode;
	dst->secure = src->secure;
	dst->qtype = src->qtype;
	if (src->status != DA_OK || src->n == 0)
		return 0;
	dst->rr = calloc(src->n, sizeof(*dst->rr));
	if (dst->rr == NULL)
		goto nomem;
	for (size_t i = 0; i < src->n; i++) {
		dst->rr[i] = src->rr[i];
		dst->rr[i].text = NULL;
		if (src->rr[i].text != NULL) {
			dst->rr[i].text = malloc(src->rr[i].len + 1);
			if (dst->rr[i].text == NULL)
				goto nomem;
			memcpy(
			    dst->rr[i].text, src->rr[i].text, src->rr[i].len);
			dst->rr[i].text[src->rr[i].len] = '\0';
		}
		dst->n = i + 1;
	}
	return 0;
nomem:
	dns_answer_free(dst);
	dst->status = DA_TEMP;
	return -1;
}

static bool
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/*
 * A name usable in a query: 1..253 octets, labels 1..63, printable ASCII
 * (SP too: "%_" expands to one) but no '\\' (presentation-format escape)
 * or brackets. top: the checked identity, which must also have two
 * labels and no SP (section 4.3).
 */
static bool
name_ok(const char *d, bool top)
{
	size_t n = strlen(d), label = 0, labels = 1;

	if (n == 0 || n > DA_NAME_MAX || d[0] == '.' || d[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (c < (top ? 0x21 : 0x20) || c > 0x7e || c == '[' ||
		    c == ']' || c == '\\')
			return false;
		if (++label > 63)
			return false;
	}
	return !top || labels >= 2;
}

/* Case-insensitive: name is dom or a subdomain of it. */
static bool
name_within(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n == d)
		return strcasecmp(name, dom) == 0;
	return n > d && name[n - d - 1] == '.' &&
	       strcasecmp(name + n - d, dom) == 0;
}

static void
finish(struct spf_eval *ev, enum spf_result r, const char *reason)
{
	ev->result = r;
	ev->done = true;
	if (reason != NULL && ev->reason[0] == '\0')
		copy_str(ev->reason, sizeof(ev->reason), reason);
	for (size_t i = 0; i < ev->depth; i++)
		spf_record_free(&ev->fr[i].rec);
	ev->depth = 0;
}

static void
ask(struct spf_eval *ev, const char *name, uint16_t type)
{
	copy_str(ev->q.name, sizeof(ev->q.name), name);
	ev->q.type = type;
	ev->waiting = true;
	ev->nqueries++;
	dns_answer_free(&ev->ans);
}

static uint16_t
addr_type(const struct spf_eval *ev)
{
	return ev->family == AF_INET6 ? DA_T_AAAA : DA_T_A;
}

static bool
answer_has_ip(const struct spf_eval *ev, int cidr4, int cidr6)
{
	if (ev->ans.status != DA_OK)
		return false;
	for (size_t i = 0; i < ev->ans.n; i++)
		if (prefix_match(ev->ip, ev->ans.rr[i].addr,
			ev->family == AF_INET6 ? cidr6 : cidr4))
			return true;
	return false;
}

/* The p value for the current domain (section 7.3). */
static const char *
pick_validated(const struct spf_eval *ev, const char *dom)
{
	for (size_t i = 0; i < ev->nvalid; i++)
		if (strcasecmp(ev->valid[i], dom) == 0)
			return ev->valid[i];
	for (size_t i = 0; i < ev->nvalid; i++)
		if (name_within(ev->valid[i], dom))
			return ev->valid[i];
	return ev->nvalid > 0 ? ev->valid[0] : NULL;
}

static void
macro_env(const struct spf_eval *ev, const char *dom, struct spf_macro_env *e)
{
	memset(e, 0, sizeof(*e));
	e->local = ev->local;
	e->sdomain = ev->sdomain;
	e->domain = dom;
	e->family = ev->family;
	memcpy(e->ip, ev->ip, 16);
	e->validated = pick_validated(ev, dom);
	e->helo = ev->helo;
	e->receiver = ev->have_receiver ? ev->receiver : NULL;
	e->now = ev->now;
}

/*
 * Expand a domain-spec into out (DA_NAME_MAX + 2 octets), applying the
 * 253-octet truncation of section 4.8 and dropping a trailing dot. 0, or
 * -1 for a syntax error or an unusable name.
 */
static int
expand_domain(
    struct spf_eval *ev, const char *dom, const char *spec, size_t n, char *out)
{
	struct spf_macro_env e;
	char buf[SPF_MACRO_OUT_MAX + 1];
	size_t len;
	const char *p;

	macro_env(ev, dom, &e);
	if (spf_macro_expand(spec, n, &e, false, buf, sizeof(buf), &len) != 0)
		return -1;
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
	p = buf;
	while (len > DA_NAME_MAX) {
		const char *dot = memchr(p, '.', len);

		if (dot == NULL)
			return -1;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	memcpy(out, p, len + 1);
	return name_ok(out, false) ? 0 : -1;
}

/* Start the validated-names lookup, then come back to phase back. */
static void
pv_start(struct spf_eval *ev, enum phase back)
{
	char rev[80];

	ev->pv_resume = back;
	if (dns_answer_reverse_name(ev->family, ev->ip, rev, sizeof(rev)) !=
	    0) {
		ev->pv = PV_READY;
		return;
	}
	ev->pv = PV_PTR;
	ask(ev, rev, DA_T_PTR);
}

/* Whether a spec needs %{p} that is not known yet; if so starts it. */
static bool
need_p(struct spf_eval *ev, const char *spec, size_t n, enum phase back)
{
	if (spec == NULL || ev->pv == PV_READY || !spf_macro_uses_p(spec, n))
		return false;
	pv_start(ev, back);
	return true;
}

static void
pv_run(struct spf_eval *ev)
{
	switch (ev->pv) {
	case PV_PTR:
		if (ev->ans.status == DA_OK)
			for (size_t i = 0;
			     i < ev->ans.n && ev->nptr < SPF_NAMES_MAX; i++) {
				char *s = strdup(ev->ans.rr[i].text);

				if (s == NULL)
					break;
				ev->ptr[ev->nptr++] = s;
			}
		ev->ptr_i = 0;
		ev->pv = PV_NEXT;
		return;
	case PV_NEXT:
		if (ev->ptr_i >= ev->nptr) {
			ev->pv = PV_READY;
			return;
		}
		if (!name_ok(ev->ptr[ev->ptr_i], false)) {
			ev->ptr_i++;
			return;
		}
		ev->pv = PV_ADDR;
		ask(ev, ev->ptr[ev->ptr_i], addr_type(ev));
		return;
	case PV_ADDR:
		if (answer_has_ip(ev, 32, 128) && ev->nvalid < SPF_NAMES_MAX) {
			char *s = strdup(ev->ptr[ev->ptr_i]);

			if (s != NULL)
				ev->valid[ev->nvalid++] = s;
		}
		ev->ptr_i++;
		ev->pv = PV_NEXT;
		return;
	case PV_NONE:
	case PV_READY:
		break;
	}
}

static struct frame *
top(struct spf_eval *ev)
{
	return &ev->fr[ev->depth - 1];
}

static void
set_mechanism(struct spf_eval *ev, const char *s, size_t n)
{
	if (n >= sizeof(ev->mechanism))
		n = sizeof(ev->mechanism) - 1;
	memcpy(ev->mechanism, s, n);
	ev->mechanism[n] = '\0';
}

/* The top frame's check_host() returned r. */
static void
frame_result(struct spf_eval *ev, enum spf_result r, const char *reason)
{
	struct frame *f = top(ev);

	if (r == SPF_NONE && (f->via_include || f->via_redirect)) {
		char why[300];

		snprintf(why, sizeof(why), "%s %s: %s",
		    f->via_include ? "include" : "redirect", f->domain,
		    reason ? reason : "no SPF record");
		finish(ev, SPF_PERMERROR, why);
		return;
	}
	if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
		finish(ev, r, reason);
		return;
	}
	if (f->via_include) {
		struct frame *p;

		spf_record_free(&f->rec);
		ev->depth--;
		p = top(ev);
		if (r == SPF_PASS) {
			const struct spf_mech *m = &p->rec.mech[p->ti];

			set_mechanism(ev, m->term, m->term_len);
			frame_result(ev, m->qual, NULL);
			return;
		}
		p->ti++;
		ev->counted = false;
		p->ph = PH_TERM;
		return;
	}
	/* the top level */
	ev->result = r;
	if (r == SPF_NONE || r == SPF_NEUTRAL)
		copy_str(ev->reason, sizeof(ev->reason), reason);
	if (r == SPF_FAIL) {
		if (ev->have_default_exp)
			copy_str(ev->explanation, sizeof(ev->explanation),
			    ev->default_exp);
		if (f->rec.exp != NULL) {
			f->ph = PH_EXP;
			return;
		}
	}
	finish(ev, r, NULL);
}

static void
matched(struct spf_eval *ev, const struct spf_mech *m)
{
	set_mechanism(ev, m->term, m->term_len);
	frame_result(ev, m->qual, NULL);
}

static void
next_term(struct spf_eval *ev)
{
	top(ev)->ti++;
	top(ev)->ph = PH_TERM;
	ev->counted = false;
}

/* A lookup with no answer (section 4.6.4): false when over the limit. */
static bool
void_lookup(struct spf_eval *ev)
{
	if (++ev->nvoid > SPF_VOID_MAX) {
		finish(ev, SPF_PERMERROR, "too many void lookups");
		return false;
	}
	return true;
}

static void
run_start(struct spf_eval *ev, struct frame *f)
{
	if (!name_ok(f->domain, true)) {
		frame_result(ev, SPF_NONE, "invalid domain");
		return;
	}
	f->ph = PH_TXT;
	ask(ev, f->domain, DA_T_TXT);
}

static void
run_txt(struct spf_eval *ev, struct frame *f)
{
	const struct da_rr *rec = NULL;
	size_t nspf = 0;
	char err[200];

	if (ev->ans.status == DA_TEMP) {
		finish(ev, SPF_TEMPERROR, "DNS error fetching the record");
		return;
	}
	for (size_t i = 0; i < ev->ans.n; i++)
		if (spf_record_is_spf1(ev->ans.rr[i].text, ev->ans.rr[i].len)) {
			rec = &ev->ans.rr[i];
			nspf++;
		}
	if (nspf == 0 || rec == NULL) {
		frame_result(ev, SPF_NONE, "no SPF record");
		return;
	}
	if (nspf > 1) {
		finish(ev, SPF_PERMERROR, "several SPF records");
		return;
	}
	if (spf_record_parse(rec->text, rec->len, &f->rec, err, sizeof(err)) !=
	    0) {
		spf_record_free(&f->rec);
		finish(ev, SPF_PERMERROR, err);
		return;
	}
	f->ti = 0;
	ev->counted = false;
	f->ph = PH_TERM;
}

static void
run_term(struct spf_eval *ev, struct frame *f)
{
	const struct spf_mech *m;

	if (f->ti >= f->rec.nmech) {
		f->ph = PH_AFTER;
		return;
	}
	m = &f->rec.mech[f->ti];
	switch (m->kind) {
	case SPF_MECH_ALL:
		matched(ev, m);
		return;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if ((m->kind == SPF_MECH_IP4) == (ev->family == AF_INET) &&
		    prefix_match(ev->ip, m->addr,
			m->kind == SPF_MECH_IP4 ? m->cidr4 : m->cidr6))
			matched(ev, m);
		else
			next_term(ev);
		return;
	default:
		break;
	}
	if (!ev->counted) {
		if (++ev->ndns > SPF_DNS_MECH_MAX) {
			finish(ev, SPF_PERMERROR, "too many DNS lookups");
			return;
		}
		ev->counted = true;
	}
	if (need_p(ev, m->spec, m->spec_len, PH_TERM))
		return;
	if (m->spec == NULL)
		copy_str(ev->target, sizeof(ev->target), f->domain);
	else if (expand_domain(
		     ev, f->domain, m->spec, m->spec_len, ev->target) != 0) {
		char why[300];

		snprintf(why, sizeof(why), "bad domain in \"%.*s\"",
		    (int)m->term_len, m->term);
		finish(ev, SPF_PERMERROR, why);
		return;
	}
	switch (m->kind) {
	case SPF_MECH_A:
		f->ph = PH_A;
		ask(ev, ev->target, addr_type(ev));
		return;
	case SPF_MECH_MX:
		f->ph = PH_MX;
		ask(ev, ev->target, DA_T_MX);
		return;
	case SPF_MECH_EXISTS:
		f->ph = PH_EXISTS;
		ask(ev, ev->target, DA_T_A);
		return;
	case SPF_MECH_PTR:
		if (ev->pv != PV_READY) {
			pv_start(ev, PH_TERM);
			return;
		}
		for (size_t i = 0; i < ev->nvalid; i++)
			if (name_within(ev->valid[i], ev->target)) {
				matched(ev, m);
				return;
			}
		next_term(ev);
		return;
	case SPF_MECH_INCLUDE: {
		struct frame *c;

		if (ev->depth >= SPF_DEPTH_MAX) {
			finish(ev, SPF_PERMERROR, "includes too deep");
			return;
		}
		f->ph = PH_CHILD;
		c = &ev->fr[ev->depth++];
		memset(c, 0, sizeof(*c));
		copy_str(c->domain, sizeof(c->domain), ev->target);
		c->via_include = true;
		c->ph = PH_START;
		return;
	}
	default:
		break;
	}
	finish(ev, SPF_PERMERROR, "internal: bad mechanism");
}

static void
run_answer(struct spf_eval *ev, struct frame *f)
{
	const struct spf_mech *m = &f->rec.mech[f->ti];

	if (ev->ans.status == DA_TEMP) {
		char why[300];

		snprintf(why, sizeof(why), "DNS error for %s", ev->q.name);
		finish(ev, SPF_TEMPERROR, why);
		return;
	}
	switch (f->ph) {
	case PH_A:
		if (ev->ans.status != DA_OK && !void_lookup(ev))
			return;
		if (answer_has_ip(ev, m->cidr4, m->cidr6))
			matched(ev, m);
		else
			next_term(ev);
		return;
	case PH_EXISTS:
		if (ev->ans.status != DA_OK) {
			if (void_lookup(ev))
				next_term(ev);
			return;
		}
		matched(ev, m);
		return;
	case PH_MX:
		free_names(ev->names, &ev->nnames);
		if (ev->ans.status != DA_OK) {
			if (void_lookup(ev))
				next_term(ev);
			return;
		}
		if (ev->ans.n > SPF_NAMES_MAX) {
			finish(ev, SPF_PERMERROR, "more than 10 MX records");
			return;
		}
		for (size_t i = 0; i < ev->ans.n; i++) {
			char *s;

			if (strcmp(ev->ans.rr[i].text, ".") == 0)
				continue; /* null MX (RFC 7505) */
			if ((s = strdup(ev->ans.rr[i].text)) == NULL) {
				finish(ev, SPF_TEMPERROR, "out of memory");
				return;
			}
			ev->names[ev->nnames++] = s;
		}
		ev->name_i = 0;
		f->ph = PH_MX_NEXT;
		return;
	case PH_MX_ADDR:
		if (answer_has_ip(ev, m->cidr4, m->cidr6)) {
			matched(ev, m);
			return;
		}
		ev->name_i++;
		f->ph = PH_MX_NEXT;
		return;
	default:
		break;
	}
}

static void
run_mx_next(struct spf_eval *ev, struct frame *f)
{
	if (ev->name_i >= ev->nnames) {
		free_names(ev->names, &ev->nnames);
		next_term(ev);
		return;
	}
	if (!name_ok(ev->names[ev->name_i], false)) {
		ev->name_i++;
		return;
	}
	f->ph = PH_MX_ADDR;
	ask(ev, ev->names[ev->name_i], addr_type(ev));
}

static void
run_after(struct spf_eval *ev, struct frame *f)
{
	if (f->rec.redirect == NULL || f->rec.has_all) {
		set_mechanism(ev, "default", 7);
		frame_result(ev, SPF_NEUTRAL, "no mechanism matched");
		return;
	}
	if (!ev->counted) {
		if (++ev->ndns > SPF_DNS_MECH_MAX) {
			finish(ev, SPF_PERMERROR, "too many DNS lookups");
			return;
		}
		ev->counted = true;
	}
	if (need_p(ev, f->rec.redirect, f->rec.redirect_len, PH_AFTER))
		return;
	if (expand_domain(ev, f->domain, f->rec.redirect, f->rec.redirect_len,
		ev->target) != 0) {
		finish(ev, SPF_PERMERROR, "bad redirect= domain");
		return;
	}
	/* the new domain replaces this level (section 6.1) */
	spf_record_free(&f->rec);
	copy_str(f->domain, sizeof(f->domain), ev->target);
	f->via_redirect = true;
	f->ph = PH_START;
	ev->counted = false;
}

static void
run_exp(struct spf_eval *ev, struct frame *f)
{
	if (need_p(ev, f->rec.exp, f->rec.exp_len, PH_EXP))
		return;
	if (expand_domain(
		ev, f->domain, f->rec.exp, f->rec.exp_len, ev->target) != 0) {
		finish(ev, SPF_FAIL, NULL);
		return;
	}
	f->ph = PH_EXP_TXT;
	ask(ev, ev->target, DA_T_TXT);
}

/* Expand the explanation text kept in exp_text and finish with fail. */
static void
run_exp_final(struct spf_eval *ev, struct frame *f)
{
	struct spf_macro_env e;
	char buf[SPF_MACRO_OUT_MAX + 1];
	size_t len;

	macro_env(ev, f->domain, &e);
	if (ev->exp_text != NULL && spf_macro_expand(ev->exp_text, ev->exp_len,
					&e, true, buf, sizeof(buf), &len) == 0)
		copy_str(ev->explanation, sizeof(ev->explanation), buf);
	finish(ev, SPF_FAIL, NULL);
}

static void
run_exp_txt(struct spf_eval *ev, struct frame *f)
{
	const struct da_rr *rr;

	if (ev->ans.status != DA_OK || ev->ans.n != 1) {
		finish(ev, SPF_FAIL, NULL); /* the default explanation */
		return;
	}
	rr = &ev->ans.rr[0];
	free(ev->exp_text);
	if ((ev->exp_text = malloc(rr->len + 1)) == NULL) {
		finish(ev, SPF_FAIL, NULL);
		return;
	}
	memcpy(ev->exp_text, rr->text, rr->len + 1);
	ev->exp_len = rr->len;
	f->ph = PH_EXP_FINAL;
	/* the text may need %{p}: look it up first */
	need_p(ev, ev->exp_text, ev->exp_len, PH_EXP_FINAL);
}

/* ------------------------------------------------------------ the API */

struct spf_eval *
spf_eval_new(int family, const unsigned char *ip, const char *sender,
    const char *helo, const struct spf_eval_opts *o)
{
	struct spf_eval *ev = calloc(1, sizeof(*ev));
	const char *at;

	if (ev == NULL)
		return NULL;
	ev->family = family;
	if (family == AF_INET) {
		memcpy(ev->ip, ip, 4);
	} else {
		static const unsigned char mapped[12] = {
		    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

		if (memcmp(ip, mapped, 12) == 0) {
			ev->family = AF_INET;
			memcpy(ev->ip, ip + 12, 4);
		} else {
			memcpy(ev->ip, ip, 16);
		}
	}
	copy_str(ev->helo, sizeof(ev->helo), helo);
	if (sender == NULL || sender[0] == '\0') {
		ev->helo_identity = true;
		copy_str(ev->local, sizeof(ev->local), "postmaster");
		copy_str(ev->sdomain, sizeof(ev->sdomain), ev->helo);
	} else if ((at = strrchr(sender, '@')) == NULL) {
		copy_str(ev->local, sizeof(ev->local), "postmaster");
		copy_str(ev->sdomain, sizeof(ev->sdomain), sender);
	} else {
		size_t ll = (size_t)(at - sender);

		if (ll == 0)
			copy_str(ev->local, sizeof(ev->local), "postmaster");
		else
			snprintf(ev->local, sizeof(ev->local), "%.*s", (int)ll,
			    sender);
		copy_str(ev->sdomain, sizeof(ev->sdomain), at + 1);
	}
	snprintf(
	    ev->sender, sizeof(ev->sender), "%s@%s", ev->local, ev->sdomain);
	if (o != NULL) {
		if (o->receiver != NULL) {
			ev->have_receiver = true;
			copy_str(
			    ev->receiver, sizeof(ev->receiver), o->receiver);
		}
		if (o->default_exp != NULL) {
			ev->have_default_exp = true;
			copy_str(ev->default_exp, sizeof(ev->default_exp),
			    o->default_exp);
		}
		ev->now = o->now;
	}
	ev->depth = 1;
	copy_str(ev->fr[0].domain, sizeof(ev->fr[0].domain), ev->sdomain);
	/* one trailing dot is the root, not an empty label */
	size_t dl = strlen(ev->fr[0].domain);
	if (dl > 1 && ev->fr[0].domain[dl - 1] == '.')
		ev->fr[0].domain[dl - 1] = '\0';
	ev->fr[0].ph = PH_START;
	return ev;
}

void
spf_eval_free(struct spf_eval *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < ev->depth; i++)
		spf_record_free(&ev->fr[i].rec);
	dns_answer_free(&ev->ans);
	free_names(ev->names, &ev->nnames);
	free_names(ev->ptr, &ev->nptr);
	free_names(ev->valid, &ev->nvalid);
	free(ev->exp_text);
	free(ev);
}

void
spf_eval_answer(struct spf_eval *ev, const struct dns_answer *a)
{
	if (!ev->waiting || ev->done)
		return;
	ev->waiting = false;
	copy_answer(&ev->ans, a);
	if (ev->ans.qtype != ev->q.type)
		ev->ans.status = DA_TEMP; /* not the question asked */
}

void
spf_eval_abort(struct spf_eval *ev, const char *reason)
{
	if (ev->done)
		return;
	ev->waiting = false;
	ev->reason[0] = '\0';
	ev->explanation[0] = '\0';
	finish(ev, SPF_TEMPERROR, reason ? reason : "timeout");
}

enum spf_step
spf_eval_step(struct spf_eval *ev, struct spf_query *q)
{
	/* every pass moves forward; this only guards against a bug */
	for (unsigned guard = 0; guard < 100000; guard++) {
		struct frame *f;
		bool answered = false;

		if (ev->done)
			return SPF_DONE;
		if (ev->waiting) {
			*q = ev->q;
			return SPF_NEED_DNS;
		}
		if (ev->nqueries > QUERIES_MAX) {
			finish(ev, SPF_PERMERROR, "too many queries");
			return SPF_DONE;
		}
		if (ev->pv != PV_NONE && ev->pv != PV_READY) {
			pv_run(ev);
			if (ev->pv == PV_READY)
				top(ev)->ph = ev->pv_resume;
			continue;
		}
		f = top(ev);
		answered = true;
		switch (f->ph) {
		case PH_START:
			run_start(ev, f);
			break;
		case PH_TXT:
			run_txt(ev, f);
			break;
		case PH_TERM:
			run_term(ev, f);
			break;
		case PH_A:
		case PH_MX:
		case PH_MX_ADDR:
		case PH_EXISTS:
			run_answer(ev, f);
			break;
		case PH_MX_NEXT:
			run_mx_next(ev, f);
			break;
		case PH_AFTER:
			run_after(ev, f);
			break;
		case PH_EXP:
			run_exp(ev, f);
			break;
		case PH_EXP_TXT:
			run_exp_txt(ev, f);
			break;
		case PH_EXP_FINAL:
			run_exp_final(ev, f);
			break;
		case PH_CHILD:
		case PH_FINISHED:
			answered = false;
			break;
		}
		if (!answered) {
			finish(ev, SPF_PERMERROR, "internal: stuck");
			return SPF_DONE;
		}
	}
	finish(ev, SPF_PERMERROR, "internal: loop");
	return SPF_DONE;
}

enum spf_result
spf_eval_result(const struct spf_eval *ev)
{
	return ev->done ? ev->result : SPF_TEMPERROR;
}

const char *
spf_eval_identity(const struct spf_eval *ev)
{
	return ev->helo_identity ? "helo" : "mailfrom";
}

const char *
spf_eval_domain(const struct spf_eval *ev)
{
	return ev->sdomain;
}

const char *
spf_eval_sender(const struct spf_eval *ev)
{
	return ev->sender;
}

const char *
spf_eval_explanation(const struct spf_eval *ev)
{
	return ev->done && ev->result == SPF_FAIL ? ev->explanation : "";
}

const char *
spf_eval_mechanism(const struct spf_eval *ev)
{
	switch (ev->result) {
	case SPF_PASS:
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return ev->mechanism;
	default:
		return "";
	}
}

const char *
spf_eval_reason(const struct spf_eval *ev)
{
	return ev->reason;
}

unsigned
spf_eval_queries(const struct spf_eval *ev)
{
	return ev->nqueries;
}
