/*
 * dns_mx.c - MX resolution (see dns_mx.h): the pure decision steps
 * (select, host answers, finish, address policy) and the asynchronous
 * lookup that drives them on a worker's resolver.
 *
 * Threads: pure functions are reentrant; the lookup runs on the
 * resolver's owning thread. Ownership: a lookup owns its result until it
 * hands it to the callback.
 */
#include "dns_mx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- address policy ---- */

/* The IPv4 address in sa (also v4-mapped IPv6) in host order. */
static bool
ipv4_of(const struct sockaddr *sa, uint32_t *out)
{
	if (sa->sa_family == AF_INET) {
		*out = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*out = (uint32_t)a->s6_addr[12] << 24 |
			       (uint32_t)a->s6_addr[13] << 16 |
			       (uint32_t)a->s6_addr[14] << 8 |
			       (uint32_t)a->s6_addr[15];
			return true;
		}
	}
	return false;
}

/* dns_mx_addr_is_own - sa is one of our listen addresses */
bool
dns_mx_addr_is_own(const struct dns_mx_policy *pol, const struct sockaddr *sa)
{
	uint32_t v4, o4;
	bool is4 = ipv4_of(sa, &v4);

	for (size_t i = 0; i < pol->nown; i++) {
		const struct sockaddr *o =
		    (const struct sockaddr *)&pol->own_addrs[i];
		if (is4) {
			if (ipv4_of(o, &o4) && o4 == v4)
				return true;
		} else if (sa->sa_family == AF_INET6 &&
			   o->sa_family == AF_INET6 &&
			   memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
			       &((const struct sockaddr_in6 *)o)->sin6_addr,
			       16) == 0) {
			return true;
		}
	}
	return false;
}

/* Loopback or unspecified: "this host" in any spelling. */
static bool
addr_is_local(const struct sockaddr *sa)
{
	uint32_t v4;

	if (ipv4_of(sa, &v4))
		return (v4 >> 24) == 127 || (v4 >> 24) == 0;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a);
	}
	return true;
}

/* dns_mx_addr_allowed - may outbound delivery connect to sa */
bool
dns_mx_addr_allowed(const struct dns_mx_policy *pol, const struct sockaddr *sa)
{
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return false;
	if (pol->allow_loopback)
		return true;
	return !addr_is_local(sa) && !dns_mx_addr_is_own(pol, sa);
}

/* dns_mx_is_self - name is one of ours */
bool
dns_mx_is_self(const struct dns_mx_policy *pol, const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	for (size_t i = 0; i < pol->nself; i++) {
		const char *s = pol->self_names[i];
		size_t m;

		if (s == NULL)
			continue;
		m = strlen(s);
		if (m > 0 && s[m - 1] == '.')
			m--;
		if (m == n && m > 0 && strncasecmp(s, name, n) == 0)
			return true;
	}
	return false;
}

/* ---- results ---- */

/* dns_mx_status_str - short name of a status */
const char *
dns_mx_status_str(enum dns_mx_status st)
{
	switch (st) {
	case DNS_MX_OK:
		return "ok";
	case DNS_MX_NULLMX:
		return "nullmx";
	case DNS_MX_NXDOMAIN:
		return "nxdomain";
	case DNS_MX_TEMPFAIL:
		return "tempfail";
	case DNS_MX_LOOP:
		return "loop";
	case DNS_MX_NOHOST:
		return "nohost";
	}
	return "tempfail";
}

/* dns_mx_status_reply - SMTP code and enhanced status for a status */
int
dns_mx_status_reply(enum dns_mx_status st, const char **enhanced)
{
	switch (st) {
	case DNS_MX_OK:
		*enhanced = "";
		return 0;
	case DNS_MX_NULLMX:
		*enhanced = "5.1.10";
		return 556;
	case DNS_MX_NXDOMAIN:
		*enhanced = "5.1.2";
		return 550;
	case DNS_MX_LOOP:
		*enhanced = "5.4.6";
		return 554;
	case DNS_MX_NOHOST:
		*enhanced = "5.4.4";
		return 550;
	case DNS_MX_TEMPFAIL:
		break;
	}
	*enhanced = "4.4.3";
	return 451;
}

/* dns_mx_result_clear - free hosts and addresses */
void
dns_mx_result_clear(struct dns_mx_result *res)
{
	for (size_t i = 0; i < res->nhosts; i++)
		free(res->hosts[i].addrs);
	free(res->hosts);
	res->hosts = NULL;
	res->nhosts = 0;
}

/* dns_mx_result_free - free a result handed to a callback */
void
dns_mx_result_free(struct dns_mx_result *res)
{
	if (res == NULL)
		return;
	dns_mx_result_clear(res);
	free(res);
}

static enum dns_mx_status finish_as(
    struct dns_mx_result *res, enum dns_mx_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum dns_mx_status
finish_as(
    struct dns_mx_result *res, enum dns_mx_status st, const char *fmt, ...)
{
	va_list ap;

	dns_mx_result_clear(res);
	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	return st;
}

/* ---- selection ---- */

struct cand {
	uint16_t pref;
	size_t idx; /* position in the answer: keeps sorting stable */
	const char *name;
	bool dup;
};

static int
cmp_name(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
cmp_pref(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->pref != y->pref)
		return x->pref < y->pref ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint32_t
default_rng(void *arg)
{
	(void)arg;
	return arc4random();
}

/* Uniform in [0, n), n >= 1; bounded retries so a degenerate RNG cannot
 * loop forever. */
static size_t
rand_below(const struct dns_mx_policy *pol, size_t n)
{
	uint32_t (*rng)(void *) = pol->rng ? pol->rng : default_rng;
	uint32_t un = (uint32_t)n, bound = (uint32_t)(-un) % un, x = 0;

	for (int tries = 0; tries < 64; tries++) {
		x = rng(pol->rng_arg);
		if (x >= bound)
			break;
	}
	return x % un;
}

static void
shuffle_equal(struct cand *c, size_t n, const struct dns_mx_policy *pol)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;
		while (j < n && c[j].pref == c[i].pref)
			j++;
		for (size_t k = j - i; k > 1; k--) { /* Fisher-Yates */
			size_t r = rand_below(pol, k);
			struct cand t = c[i + k - 1];
			c[i + k - 1] = c[i + r];
			c[i + r] = t;
		}
		i = j;
	}
}

static int
add_host(struct dns_mx_result *out, const char *name, uint16_t pref)
{
	struct dns_mx_host *h = &out->hosts[out->nhosts++];

	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->preference = pref;
	h->secure = true; /* until an answer says otherwise */
	return 0;
}

static enum dns_mx_status
select_hosts(const struct dns_result *mx, const struct dns_mx_policy *pol,
    struct dns_mx_result *out)
{
	size_t n = 0, nkeep = 0,
	       max = pol->max_hosts ? pol->max_hosts : DNS_MX_MAX_HOSTS;
	struct cand *c = calloc(mx->nmx, sizeof(*c));
	bool have_self = false;
	uint16_t self_pref = 0;

	if (c == NULL)
		return finish_as(out, DNS_MX_TEMPFAIL, "out of memory");
	for (size_t i = 0; i < mx->nmx; i++) {
		const struct dns_mx_rr *rr = &mx->mx[i];
		if (strcmp(rr->exchange, ".") == 0)
			continue; /* names no host */
		c[n].pref = rr->preference;
		c[n].idx = i;
		c[n].name = rr->exchange;
		if (dns_mx_is_self(pol, rr->exchange) &&
		    (!have_self || rr->preference < self_pref)) {
			have_self = true;
			self_pref = rr->preference;
		}
		n++;
	}
	if (n == 0) {
		free(c);
		return finish_as(out, DNS_MX_TEMPFAIL,
		    "the MX records of %s name no usable host", out->domain);
	}
	/* RFC 5321 5.1: discard ours and everything less preferred */
	if (have_self) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (c[i].pref < self_pref)
				c[k++] = c[i];
		n = k;
		if (n == 0) {
			free(c);
			return finish_as(out, DNS_MX_LOOP,
			    "mail for %s loops back to myself", out->domain);
		}
	}
	/* one entry per host, at its most preferred position */
	qsort(c, n, sizeof(*c), cmp_name);
	for (size_t i = 1; i < n; i++)
		c[i].dup = strcmp(c[i].name, c[i - 1].name) == 0;
	for (size_t i = 0; i < n; i++)
		if (!c[i].dup)
			c[nkeep++] = c[i];
	n = nkeep;
	qsort(c, n, sizeof(*c), cmp_pref);
	shuffle_equal(c, n, pol);
	if (n > max)
		n = max;
	out->hosts = calloc(n, sizeof(*out->hosts));
	if (out->hosts == NULL) {
		free(c);
		return finish_as(out, DNS_MX_TEMPFAIL, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		add_host(out, c[i].name, c[i].pref);
	free(c);
	return DNS_MX_OK;
}

/* dns_mx_select - decide from the MX answer */
enum dns_mx_status
dns_mx_select(const char *domain, const struct dns_result *mx,
    const struct dns_mx_policy *pol, struct dns_mx_result *out)
{
	char rb[16];
	const char *name;

	memset(out, 0, sizeof(*out));
	if (dns_name_normalize(domain, out->domain, sizeof(out->domain)) != 0) {
		snprintf(out->domain, sizeof(out->domain), "%.*s",
		    (int)(sizeof(out->domain) - 1), domain);
		return finish_as(out, DNS_MX_NXDOMAIN,
		    "\"%.200s\" is not a valid domain name", domain);
	}
	if (mx->sec == DNS_BOGUS)
		return finish_as(out, DNS_MX_TEMPFAIL,
		    "dnssec bogus: MX of %s: %.300s", out->domain,
		    mx->why_bogus ? mx->why_bogus : "validation failed");
	if (mx->timed_out)
		return finish_as(out, DNS_MX_TEMPFAIL,
		    "MX lookup for %s timed out", out->domain);
	out->mx_secure = mx->sec == DNS_SECURE;
	if (mx->rcode == DNS_RCODE_NXDOMAIN)
		return finish_as(out, DNS_MX_NXDOMAIN,
		    "domain %s does not exist", out->domain);
	if (mx->rcode != DNS_RCODE_NOERROR)
		return finish_as(out, DNS_MX_TEMPFAIL,
		    "MX lookup for %s failed: %s%s%.200s", out->domain,
		    dns_rcode_str(mx->rcode, rb, sizeof(rb)),
		    mx->error ? ": " : "", mx->error ? mx->error : "");
	if (!mx->havedata) {
		/* RFC 5321 5.1: no MX, the name itself (after CNAMEs) */
		name = mx->cname ? mx->cname : out->domain;
		out->implicit = true;
		if (dns_mx_is_self(pol, name))
			return finish_as(out, DNS_MX_LOOP,
			    "mail for %s loops back to myself", out->domain);
		out->hosts = calloc(1, sizeof(*out->hosts));
		if (out->hosts == NULL)
			return finish_as(out, DNS_MX_TEMPFAIL, "out of memory");
		add_host(out, name, 0);
		out->status = DNS_MX_OK;
		return DNS_MX_OK;
	}
	if (mx->nmx == 0)
		return finish_as(out, DNS_MX_TEMPFAIL,
		    "the MX records of %s are malformed", out->domain);
	/* RFC 7505: a lone "0 ." record */
	if (mx->nmx == 1 && mx->nmalformed == 0 && mx->mx[0].preference == 0 &&
	    strcmp(mx->mx[0].exchange, ".") == 0)
		return finish_as(out, DNS_MX_NULLMX,
		    "domain %s does not accept mail (null MX)", out->domain);
	out->status = select_hosts(mx, pol, out);
	return out->status;
}

/* ---- addresses ---- */

static void
add_addr(struct dns_mx_host *h, const struct sockaddr_storage *ss, bool v6)
{
	struct sockaddr_storage *a;
	size_t pos;

	if (h->addrs == NULL) {
		h->addrs = calloc(2 * DNS_MX_MAX_ADDRS, sizeof(*h->addrs));
		if (h->addrs == NULL) {
			h->tempfail = true;
			return;
		}
	}
	if ((v6 ? h->nv6 : h->naddrs - h->nv6) >= DNS_MX_MAX_ADDRS)
		return;
	a = h->addrs;
	pos = v6 ? h->nv6 : h->naddrs;
	memmove(&a[pos + 1], &a[pos], (h->naddrs - pos) * sizeof(*a));
	a[pos] = *ss;
	h->naddrs++;
	if (v6)
		h->nv6++;
}

static void
take_addr(struct dns_mx_host *h, const struct dns_mx_policy *pol,
    const struct sockaddr_storage *ss, bool v6)
{
	const struct sockaddr *sa = (const struct sockaddr *)ss;

	if (dns_mx_addr_allowed(pol, sa)) {
		add_addr(h, ss, v6);
		return;
	}
	if (dns_mx_addr_is_own(pol, sa))
		h->self = true;
	else
		h->dropped = true;
}

/* dns_mx_host_answer - a host's A or AAAA answer */
void
dns_mx_host_answer(struct dns_mx_result *res, size_t i,
    const struct dns_result *ans, const struct dns_mx_policy *pol)
{
	struct dns_mx_host *h;

	if (res->status != DNS_MX_OK || i >= res->nhosts)
		return;
	h = &res->hosts[i];
	h->answers++;
	if (ans->sec != DNS_SECURE)
		h->secure = false;
	if (ans->sec == DNS_BOGUS) {
		h->bogus = true;
		return;
	}
	if (ans->timed_out || (ans->rcode != DNS_RCODE_NOERROR &&
				  ans->rcode != DNS_RCODE_NXDOMAIN)) {
		h->tempfail = true;
		return;
	}
	if (ans->rcode != DNS_RCODE_NOERROR || !ans->havedata)
		return; /* definitive: no such address */
	if (ans->cname != NULL && h->cname[0] == '\0')
		snprintf(h->cname, sizeof(h->cname), "%s", ans->cname);
	if (ans->qtype == DNS_T_A) {
		for (size_t k = 0; k < ans->na; k++) {
			struct sockaddr_storage ss;
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			memset(&ss, 0, sizeof(ss));
			s4->sin_family = AF_INET;
			s4->sin_addr = ans->a[k];
			take_addr(h, pol, &ss, false);
		}
	} else if (ans->qtype == DNS_T_AAAA) {
		for (size_t k = 0; k < ans->naaaa; k++) {
			struct sockaddr_storage ss;
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			memset(&ss, 0, sizeof(ss));
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = ans->aaaa[k];
			take_addr(h, pol, &ss, true);
		}
	}
}

/* dns_mx_finish - final status once every answer is in */
void
dns_mx_finish(struct dns_mx_result *res)
{
	size_t n = res->nhosts, k = 0;
	bool bogus = false, temp = false, loop = false;
	char bogus_host[DNS_NAME_MAX + 1] = "",
				       temp_host[DNS_NAME_MAX + 1] = "";

	if (res->status != DNS_MX_OK)
		return;
	/* one of our addresses: like one of our names (RFC 5321 5.1) */
	for (size_t i = 0; i < n; i++) {
		if (res->hosts[i].self) {
			uint16_t p = res->hosts[i].preference;
			size_t j = 0;
			while (j < n && res->hosts[j].preference < p)
				j++;
			n = j; /* hosts are sorted by preference */
			loop = true;
			break;
		}
	}
	for (size_t i = 0; i < res->nhosts; i++) {
		struct dns_mx_host *h = &res->hosts[i];
		bool usable = i < n && h->naddrs > 0 && !h->bogus;

		if (i < n) {
			if (h->bogus && bogus_host[0] == '\0')
				memcpy(bogus_host, h->name, sizeof(h->name));
			if ((h->tempfail || h->answers == 0) &&
			    temp_host[0] == '\0')
				memcpy(temp_host, h->name, sizeof(h->name));
			bogus = bogus || h->bogus;
			temp = temp || h->tempfail || h->answers == 0;
			loop = loop || h->dropped;
		}
		if (!usable) {
			free(h->addrs);
			h->addrs = NULL;
			h->naddrs = h->nv6 = 0;
			res->nskipped++;
			continue;
		}
		if (k != i)
			res->hosts[k] = *h;
		k++;
	}
	res->nhosts = k;
	if (k > 0)
		return;
	if (bogus)
		finish_as(res, DNS_MX_TEMPFAIL,
		    "dnssec bogus: address records of %s failed validation",
		    bogus_host);
	else if (temp)
		finish_as(res, DNS_MX_TEMPFAIL, "address lookup for %s failed",
		    temp_host);
	else if (loop)
		finish_as(res, DNS_MX_LOOP, "mail for %s loops back to myself",
		    res->domain);
	else if (res->implicit)
		finish_as(res, DNS_MX_NOHOST,
		    "%s has no MX and no address records", res->domain);
	else
		finish_as(res, DNS_MX_NOHOST, "no MX host of %s has an address",
		    res->domain);
}

/* ---- the asynchronous lookup ---- */

struct hq {
	struct dns_mx_lookup *l;
	size_t host;
	uint64_t id; /* 0 once answered */
};

struct dns_mx_lookup {
	struct dns_resolver *r;
	struct dns_mx_policy pol; /* points into the copies below */
	char **self_copy;
	struct sockaddr_storage *own_copy;
	dns_mx_cb cb;
	void *arg;
	uint64_t mxq;
	struct dns_mx_result *res;
	struct hq *hq;
	size_t nhq, pending;
};

static void
lookup_free(struct dns_mx_lookup *l)
{
	for (size_t i = 0; i < l->pol.nself; i++)
		free(l->self_copy[i]);
	free(l->self_copy);
	free(l->own_copy);
	free(l->hq);
	free(l);
}

static void
complete(struct dns_mx_lookup *l)
{
	dns_mx_cb cb = l->cb;
	void *arg = l->arg;
	struct dns_mx_result *res = l->res;

	dns_mx_finish(res);
	lookup_free(l);
	cb(arg, res);
}

static void
on_addr(void *arg, const struct dns_result *res)
{
	struct hq *q = arg;
	struct dns_mx_lookup *l = q->l;

	q->id = 0;
	dns_mx_host_answer(l->res, q->host, res, &l->pol);
	if (--l->pending == 0)
		complete(l);
}

static void
on_mx(void *arg, const struct dns_result *res)
{
	struct dns_mx_lookup *l = arg;
	unsigned fam =
	    l->pol.families ? l->pol.families : DNS_MX_IPV4 | DNS_MX_IPV6;
	char domain[DNS_NAME_MAX + 1];
	size_t nh;

	l->mxq = 0;
	memcpy(domain, l->res->domain, sizeof(domain));
	if (dns_mx_select(domain, res, &l->pol, l->res) != DNS_MX_OK) {
		complete(l);
		return;
	}
	nh = l->res->nhosts;
	l->hq = calloc(2 * nh, sizeof(*l->hq));
	if (l->hq == NULL) {
		finish_as(l->res, DNS_MX_TEMPFAIL, "out of memory");
		complete(l);
		return;
	}
	for (size_t i = 0; i < nh; i++) {
		for (int f = 0; f < 2; f++) {
			uint16_t t = f == 0 ? DNS_T_AAAA : DNS_T_A;
			struct hq *q = &l->hq[l->nhq];

			if (!(fam & (f == 0 ? DNS_MX_IPV6 : DNS_MX_IPV4)))
				continue;
			q->l = l;
			q->host = i;
			q->id = dns_query(
			    l->r, l->res->hosts[i].name, t, on_addr, q);
			if (q->id == 0) {
				struct dns_result fail;
				memset(&fail, 0, sizeof(fail));
				fail.qname = l->res->hosts[i].name;
				fail.qtype = t;
				fail.rcode = DNS_RCODE_SERVFAIL;
				fail.error = "cannot start the query";
				dns_mx_host_answer(l->res, i, &fail, &l->pol);
				continue;
			}
			l->nhq++;
			l->pending++;
		}
	}
	if (l->pending == 0)
		complete(l);
}

static int
copy_policy(struct dns_mx_lookup *l, const struct dns_mx_policy *pol)
{
	l->pol = *pol;
	l->pol.self_names = NULL;
	l->pol.nself = 0;
	l->pol.own_addrs = NULL;
	l->pol.nown = 0;
	if (pol->nself > 0) {
		l->self_copy = calloc(pol->nself, sizeof(char *));
		if (l->self_copy == NULL)
			return -1;
		for (size_t i = 0; i < pol->nself; i++) {
			const char *s = pol->self_names[i];
			l->self_copy[i] = strdup(s ? s : "");
			if (l->self_copy[i] == NULL)
				return -1;
			l->pol.nself = i + 1;
		}
		l->pol.self_names = (const char *const *)l->self_copy;
	}
	if (pol->nown > 0) {
		l->own_copy = calloc(pol->nown, sizeof(*l->own_copy));
		if (l->own_copy == NULL)
			return -1;
		memcpy(l->own_copy, pol->own_addrs,
		    pol->nown * sizeof(*l->own_copy));
		l->pol.own_addrs = l->own_copy;
		l->pol.nown = pol->nown;
	}
	return 0;
}

/* dns_mx_resolve - asynchronous MX + address resolution */
struct dns_mx_lookup *
dns_mx_resolve(struct dns_resolver *r, const char *domain,
    const struct dns_mx_policy *pol, dns_mx_cb cb, void *arg)
{
	struct dns_mx_lookup *l;
	char name[DNS_NAME_MAX + 1];

	if (domain == NULL ||
	    dns_name_normalize(domain, name, sizeof(name)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	l->res = calloc(1, sizeof(*l->res));
	if (l->res == NULL || copy_policy(l, pol) != 0) {
		free(l->res);
		lookup_free(l);
		errno = ENOMEM;
		return NULL;
	}
	memcpy(l->res->domain, name, sizeof(name));
	l->r = r;
	l->cb = cb;
	l->arg = arg;
	l->mxq = dns_query(r, name, DNS_T_MX, on_mx, l);
	if (l->mxq == 0) {
		free(l->res);
		lookup_free(l);
		errno = EIO;
		return NULL;
	}
	return l;
}

/* dns_mx_cancel - stop a lookup; its callback never runs */
void
dns_mx_cancel(struct dns_mx_lookup *l)
{
	if (l == NULL)
		return;
	if (l->mxq != 0)
		dns_cancel(l->r, l->mxq);
	for (size_t i = 0; i < l->nhq; i++)
		if (l->hq[i].id != 0)
			dns_cancel(l->r, l->hq[i].id);
	dns_mx_result_free(l->res);
	lookup_free(l);
}
