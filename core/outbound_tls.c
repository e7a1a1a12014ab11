/*
 * outbound_tls.c - TLS policy per destination and the TLSA step of an MX
 * delivery (see outbound_tls.h).
 */
#include "outbound_tls.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns_tlsa.h"

/* One MX host during the TLSA step. */
struct otls_host {
	struct otls_lookup *l;
	bool dane_applies; /* secure MX and secure address records */
	bool asking_cname; /* the current query is for the CNAME target */
	bool skip;         /* TLSA bogus or failed: host unusable */
	uint64_t q;        /* query in flight, 0 = none */
	int policy;
	const char *why;
	char base[DNS_NAME_MAX + 1]; /* TLSA base domain used */
	size_t ntlsa;
	struct dns_tlsa_rr *tlsa; /* owned copies (data below) */
	uint8_t *data;
};

struct otls_lookup {
	struct dns_resolver *dns;
	int policy;
	struct dns_mx_result *mx; /* owned */
	struct otls_host *h;      /* one per mx host */
	unsigned pending;
	otls_done_fn *done;
	void *arg;
};

/* otls_policy_for - the configured policy for a destination domain */
int
otls_policy_for(const struct rmx_config *cfg, const char *domain)
{
	size_t dl = strlen(domain);

	if (dl > 0 && domain[dl - 1] == '.')
		dl--;
	for (size_t i = 0; i < cfg->outbound.ntls_policies; i++) {
		const char *p = cfg->outbound.tls_domain[i];
		size_t pl = strlen(p);
		if (p[0] == '.') {
			/* subdomains: "x.example.org" for ".example.org" */
			if (dl > pl &&
			    strncasecmp(domain + dl - pl, p, pl) == 0)
				return cfg->outbound.tls_policy[i];
		} else if (pl == dl && strncasecmp(domain, p, dl) == 0) {
			return cfg->outbound.tls_policy[i];
		}
	}
	return cfg->outbound.tls;
}

static void tlsa_answer(void *arg, const struct dns_result *res);

static bool
ask(struct otls_host *h, const char *name)
{
	char q[DNS_NAME_MAX + 16];

	snprintf(q, sizeof(q), "_25._tcp.%s", name);
	snprintf(h->base, sizeof(h->base), "%s", name);
	h->q = dns_query(h->l->dns, q, DNS_T_TLSA, tlsa_answer, h);
	return h->q != 0;
}

/* Keep copies of the usable records the decision chose. */
static int
keep_records(struct otls_host *h, const struct dns_result *res,
    const struct dns_tlsa_decision *d)
{
	size_t total = 0, off = 0;

	for (size_t i = 0; i < d->nusable; i++)
		total += res->tlsa[d->usable[i]].len;
	h->tlsa = calloc(d->nusable ? d->nusable : 1, sizeof(*h->tlsa));
	h->data = malloc(total ? total : 1);
	if (h->tlsa == NULL || h->data == NULL)
		return -1;
	for (size_t i = 0; i < d->nusable; i++) {
		const struct dns_tlsa_rr *rr = &res->tlsa[d->usable[i]];
		memcpy(h->data + off, rr->data, rr->len);
		h->tlsa[i] = *rr;
		h->tlsa[i].data = h->data + off;
		off += rr->len;
	}
	h->ntlsa = d->nusable;
	return 0;
}

static void
host_decided(struct otls_host *h)
{
	struct otls_lookup *l = h->l;

	h->q = 0;
	if (--l->pending == 0)
		l->done(l->arg, l);
}

static void
tlsa_answer(void *arg, const struct dns_result *res)
{
	struct otls_host *h = arg;
	struct dns_tlsa_decision d;
	size_t idx = (size_t)(h - h->l->h);
	const struct dns_mx_host *mh = &h->l->mx->hosts[idx];

	h->q = 0;
	dns_tlsa_decide(true, res, &d);
	/* RFC 7672 §2.2.2: no secure TLSA at the CNAME-expanded name (a
	 * secure denial, or an insecure answer): try the MX host name
	 * itself. A bogus or failed lookup is not "no TLSA": the host is
	 * skipped below. */
	if (h->asking_cname && d.policy == DNS_TLSA_MAY) {
		h->asking_cname = false;
		if (ask(h, mh->name))
			return;
		d.policy = DNS_TLSA_DEFER;
		d.reason = "cannot start the TLSA lookup";
	}
	h->why = d.reason;
	switch (d.policy) {
	case DNS_TLSA_DANE:
		if (keep_records(h, res, &d) != 0) {
			h->skip = true;
			h->why = "out of memory";
			break;
		}
		h->policy = RMX_TLS_DANE;
		break;
	case DNS_TLSA_ENCRYPT:
		h->policy = RMX_TLS_ENCRYPT;
		break;
	case DNS_TLSA_MAY:
		h->policy = RMX_TLS_MAY;
		break;
	case DNS_TLSA_DEFER:
	default:
		h->skip = true;
		break;
	}
	host_decided(h);
}

/* otls_start - decide per host, asking TLSA where DANE applies */
struct otls_lookup *
otls_start(struct dns_resolver *dns, int policy, struct dns_mx_result *mx,
    otls_done_fn *done, void *arg)
{
	struct otls_lookup *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->h = calloc(mx->nhosts ? mx->nhosts : 1,
			      sizeof(*l->h))) == NULL) {
		free(l);
		dns_mx_result_free(mx);
		return NULL;
	}
	l->dns = dns;
	l->policy = policy;
	l->mx = mx;
	l->done = done;
	l->arg = arg;
	for (size_t i = 0; i < mx->nhosts; i++) {
		struct otls_host *h = &l->h[i];
		const struct dns_mx_host *mh = &mx->hosts[i];
		h->l = l;
		h->policy = policy;
		snprintf(h->base, sizeof(h->base), "%s", mh->name);
		if (policy != RMX_TLS_DANE) {
			h->why = "configured policy";
			continue;
		}
		h->dane_applies = mx->mx_secure && mh->secure;
		if (!h->dane_applies) {
			h->policy = RMX_TLS_MAY;
			h->why = mx->mx_secure ? "MX host address records "
						 "not DNSSEC-secure"
					       : "MX records not DNSSEC-secure";
			continue;
		}
		h->asking_cname = mh->cname[0] != '\0';
		if (!ask(h, h->asking_cname ? mh->cname : mh->name)) {
			h->skip = true;
			h->why = "cannot start the TLSA lookup";
			continue;
		}
		l->pending++;
	}
	return l;
}

/* otls_pending - TLSA answers still to come */
bool
otls_pending(const struct otls_lookup *l)
{
	return l->pending > 0;
}

/* otls_fill - addresses and their TLS demands */
size_t
otls_fill(
    struct otls_lookup *l, struct outbound_req *r, char *why, size_t whylen)
{
	size_t skipped = 0;

	r->naddrs = 0;
	why[0] = '\0';
	for (size_t i = 0; i < l->mx->nhosts; i++) {
		const struct dns_mx_host *mh = &l->mx->hosts[i];
		const struct otls_host *h = &l->h[i];

		if (h->skip) {
			skipped++;
			snprintf(why, whylen,
			    "451 4.7.5 TLSA lookup for MX host %s failed: %s "
			    "(DANE: no plaintext fallback)",
			    mh->name, h->why ? h->why : "?");
			continue;
		}
		for (size_t a = 0;
		     a < mh->naddrs && r->naddrs < OUTBOUND_MAX_ADDRS; a++) {
			struct sockaddr_storage *ss = &r->addrs[r->naddrs];
			struct outbound_tls *t = &r->tls[r->naddrs];
			*ss = mh->addrs[a];
			if (ss->ss_family == AF_INET) {
				((struct sockaddr_in *)ss)->sin_port =
				    htons(25);
				r->addrlens[r->naddrs] =
				    sizeof(struct sockaddr_in);
			} else {
				((struct sockaddr_in6 *)ss)->sin6_port =
				    htons(25);
				r->addrlens[r->naddrs] =
				    sizeof(struct sockaddr_in6);
			}
			snprintf(r->hosts[r->naddrs], sizeof(r->hosts[0]), "%s",
			    mh->name);
			memset(t, 0, sizeof(*t));
			t->policy = h->policy;
			snprintf(t->name, sizeof(t->name), "%s",
			    h->policy == RMX_TLS_DANE ? h->base : mh->name);
			if (h->policy == RMX_TLS_DANE &&
			    strcmp(h->base, mh->name) != 0)
				snprintf(
				    t->name2, sizeof(t->name2), "%s", mh->name);
			t->dnssec = (l->mx->mx_secure && mh->secure)
					? "secure"
					: "insecure";
			t->why = h->why;
			t->ntlsa = h->ntlsa;
			t->tlsa = h->tlsa;
			r->naddrs++;
		}
	}
	if (r->naddrs == 0 && why[0] == '\0')
		snprintf(why, whylen,
		    "451 4.4.4 no usable address for the next hop");
	(void)skipped;
	return r->naddrs;
}

/* otls_free - cancel and free */
void
otls_free(struct otls_lookup *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; l->mx != NULL && i < l->mx->nhosts; i++) {
		if (l->h[i].q != 0)
			dns_cancel(l->dns, l->h[i].q);
		free(l->h[i].tlsa);
		free(l->h[i].data);
	}
	free(l->h);
	dns_mx_result_free(l->mx);
	free(l);
}
