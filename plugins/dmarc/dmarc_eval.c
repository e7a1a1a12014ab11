/*
 * dmarc_eval.c - organisational domains (libpsl), identifier alignment,
 * the SPF/DKIM results from notes, the policy decision with sp= and pct=,
 * the disposition and the ar.dmarc resinfo. Pure code, see dmarc_eval.h;
 * no DNS, no host calls, no record or From parsing here.
 */
#include "dmarc_eval.h"

#include <stdio.h>
#include <string.h>

void
dmarc_org_domain(const psl_ctx_t *psl, const char *domain, char *out)
{
	const char *reg = psl_registrable_domain(psl, domain);

	if (reg == NULL)
		reg = domain; /* a public suffix itself, or unknown */
	snprintf(out, DMARC_DOMAIN_MAX + 1, "%s", reg);
}

bool
dmarc_aligned(
    const psl_ctx_t *psl, const char *from, const char *id, bool strict)
{
	char a[DMARC_DOMAIN_MAX + 1], oa[DMARC_DOMAIN_MAX + 1],
	    ob[DMARC_DOMAIN_MAX + 1];

	if (id == NULL || from == NULL || from[0] == '\0' ||
	    dmarc_domain_normalise(id, strlen(id), a) != 0)
		return false;
	if (strcmp(a, from) == 0)
		return true;
	if (strict)
		return false;
	dmarc_org_domain(psl, a, oa);
	dmarc_org_domain(psl, from, ob);
	return strcmp(oa, ob) == 0;
}

static bool
note_is(dmarc_note_fn *get, void *ctx, const char *key, const char *want)
{
	const char *v = get(ctx, key);

	return v != NULL && strcmp(v, want) == 0;
}

void
dmarc_auth_from_notes(const psl_ctx_t *psl, const char *from, bool aspf_strict,
    bool adkim_strict, dmarc_note_fn *get, void *ctx, struct dmarc_auth *out)
{
	const char *v;
	unsigned long n = 0;

	*out = (struct dmarc_auth){.spf_pass = false};
	if (note_is(get, ctx, "spf.result", "pass") &&
	    note_is(get, ctx, "spf.identity", "mailfrom")) {
		out->spf_pass = true;
		v = get(ctx, "spf.domain");
		if (dmarc_aligned(psl, from, v, aspf_strict)) {
			out->spf_aligned = true;
			dmarc_domain_normalise(v, strlen(v), out->spf_domain);
		}
	}
	v = get(ctx, "dkim.count");
	if (v != NULL) {
		for (size_t i = 0; v[i] >= '0' && v[i] <= '9' && n <= 10000;
		     i++)
			n = n * 10 + (unsigned long)(v[i] - '0');
	}
	if (n > DMARC_DKIM_MAX)
		n = DMARC_DKIM_MAX;
	for (unsigned long i = 0; i < n; i++) {
		char key[48];

		snprintf(key, sizeof(key), "dkim.%lu.result", i);
		if (!note_is(get, ctx, key, "pass"))
			continue;
		out->dkim_pass++;
		snprintf(key, sizeof(key), "dkim.%lu.domain", i);
		v = get(ctx, key);
		if (!out->dkim_aligned &&
		    dmarc_aligned(psl, from, v, adkim_strict)) {
			out->dkim_aligned = true;
			dmarc_domain_normalise(v, strlen(v), out->dkim_domain);
		}
	}
}

void
dmarc_decide(const struct dmarc_record *rec, bool at_org,
    const struct dmarc_auth *auth, unsigned sample,
    enum dmarc_disposition reject_action,
    enum dmarc_disposition quarantine_action, struct dmarc_decision *out)
{
	*out = (struct dmarc_decision){.result = DMARC_RES_FAIL};
	out->published = at_org ? rec->sp : rec->p;
	out->applied = out->published;
	if (auth->spf_aligned || auth->dkim_aligned) {
		out->result = DMARC_RES_PASS;
		out->dis = DMARC_DIS_NONE;
		return;
	}
	if (sample >= rec->pct && out->applied != DMARC_P_NONE) {
		/* Section 6.6.4: outside the sample, the next policy down. */
		out->applied = out->applied == DMARC_P_REJECT
				   ? DMARC_P_QUARANTINE
				   : DMARC_P_NONE;
		out->sampled_out = true;
	}
	switch (out->applied) {
	case DMARC_P_REJECT:
		out->dis = reject_action;
		break;
	case DMARC_P_QUARANTINE:
		out->dis = quarantine_action;
		break;
	case DMARC_P_NONE:
	default:
		out->dis = DMARC_DIS_NONE;
		break;
	}
}

const char *
dmarc_result_str(enum dmarc_result r)
{
	switch (r) {
	case DMARC_RES_PASS:
		return "pass";
	case DMARC_RES_FAIL:
		return "fail";
	case DMARC_RES_TEMPERROR:
		return "temperror";
	case DMARC_RES_PERMERROR:
		return "permerror";
	case DMARC_RES_NONE:
	default:
		return "none";
	}
}

const char *
dmarc_disposition_str(enum dmarc_disposition d)
{
	switch (d) {
	case DMARC_DIS_REJECT:
		return "reject";
	case DMARC_DIS_HOLD:
		return "hold";
	case DMARC_DIS_HEADER:
		return "header";
	case DMARC_DIS_NONE:
	default:
		return "none";
	}
}

/* RFC 2045 token: printable ASCII except SP, CTLs and tspecials. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			return false;
	}
	return true;
}

struct out {
	char *p;
	size_t len, cap;
};

static void
put(struct out *o, const char *s)
{
	for (; *s != '\0' && o->len + 1 < o->cap; s++)
		o->p[o->len++] = *s;
	o->p[o->len] = '\0';
}

/* value as a token, or as a quoted string (with \ before " and \). */
static void
put_value(struct out *o, const char *v)
{
	if (is_token(v)) {
		put(o, v);
		return;
	}
	put(o, "\"");
	for (; *v != '\0'; v++) {
		char c[3] = {*v, '\0', '\0'};

		if (*v == '"' || *v == '\\') {
			c[0] = '\\';
			c[1] = *v;
		} else if ((unsigned char)*v < 0x20 || *v == 0x7f)
			c[0] = ' ';
		put(o, c);
	}
	put(o, "\"");
}

size_t
dmarc_resinfo(char *out, size_t outlen, enum dmarc_result r, bool with_policy,
    const struct dmarc_decision *d, const char *from, const char *reason)
{
	struct out o = {out, 0, outlen};

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	put(&o, "dmarc=");
	put(&o, dmarc_result_str(r));
	if (with_policy && d != NULL) {
		put(&o, " (p=");
		put(&o, dmarc_policy_str(d->published));
		put(&o, " dis=");
		put(&o, dmarc_disposition_str(d->dis));
		put(&o, ")");
	}
	if (reason != NULL && reason[0] != '\0') {
		put(&o, " reason=");
		put_value(&o, reason);
	}
	if (from != NULL && from[0] != '\0') {
		put(&o, " header.from=");
		put_value(&o, from);
	}
	return o.len;
}
