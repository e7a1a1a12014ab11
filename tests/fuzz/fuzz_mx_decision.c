/*
 * fuzz_mx_decision.c - libFuzzer target for the MX decision steps
 * (dns/dns_mx.c: dns_mx_select, dns_mx_host_answer, dns_mx_finish) and
 * the RDATA parser behind them (dns_result_parse_rdata). The input builds
 * a synthetic MX answer, a policy (own names and addresses,
 * allow_loopback, max_hosts), the shuffle's random numbers and an A and
 * AAAA answer per chosen host. Checked with abort(): hosts come out in
 * non-decreasing preference, unique, never ".", each with at least one
 * address and never a bogus answer behind it; no loopback, unspecified or
 * own address without allow_loopback; DNS_MX_NULLMX only for a lone
 * "0 ." record; DNS_MX_NXDOMAIN only for an NXDOMAIN answer or an
 * invalid domain; a bogus, timed-out or failed MX answer is always
 * DNS_MX_TEMPFAIL; nothing at or above one of our names survives; an
 * error text for every failure.
 *
 * Input layout: byte 0 MX answer kind (bits 0-2: data, NODATA, NXDOMAIN,
 * SERVFAIL, timeout, REFUSED, data+CNAME, data), bit 3 bogus, bit 4
 * secure, bit 5 allow_loopback, bit 6 use a fuzzed domain, bit 7 parse
 * the records from wire RDATA; byte 1 bits 0-1 own names (0..3), bits
 * 2-4 max_hosts, bits 5-7 own addresses; byte 2 record count (0..63).
 * Then per record either a pool name and preference or raw RDATA; then
 * 16 bytes of random numbers; then per host and family one answer byte
 * and its addresses (pool indexes or raw bytes). Missing bytes read 0.
 * Seeds: tests/fuzz/corpus/fuzz_mx_decision/. Also linked with
 * replay_main.c.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_mx.h"
#include "dns_resolver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define MAXREC 64

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t
byte(struct cursor *c)
{
	uint8_t b = 0;

	if (c->n > 0) {
		b = *c->p++;
		c->n--;
	}
	return b;
}

static void
bytes(struct cursor *c, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = byte(c);
}

static const char *const names[] = {".", "a.example", "b.example", "me.example",
    "192.0.2.1", "[192.0.2.1]", "c.example", "localhost", "ME.EXAMPLE.",
    "d.example"};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static const char *const self_names[] = {
    "me.example", "localhost", "mail.example"};

static const char *const v4_pool[] = {"127.0.0.1", "0.0.0.0", "192.0.2.1",
    "198.51.100.7", "127.1.2.3", "0.0.0.1", "10.0.0.1", "203.0.113.5"};
static const char *const v6_pool[] = {"::1", "::", "::ffff:127.0.0.1",
    "2001:db8::1", "2001:db8::7", "::ffff:198.51.100.7", "::ffff:0.0.0.0",
    "fe80::1"};

struct rng {
	uint8_t b[16];
	unsigned i;
};

static uint32_t
fuzz_rng(void *arg)
{
	struct rng *r = arg;
	uint32_t v = (uint32_t)r->b[r->i % 16] * 0x01010101u + r->i * 7919u;

	r->i++;
	return v;
}

/* Bytes of a wire name for a pool name ("." = the root). */
static size_t
to_wire(const char *name, uint8_t *out)
{
	size_t o = 0;

	if (strcmp(name, ".") != 0) {
		const char *p = name;
		while (*p != '\0') {
			const char *dot = strchr(p, '.');
			size_t l = dot ? (size_t)(dot - p) : strlen(p);
			if (l == 0)
				break;
			out[o++] = (uint8_t)l;
			memcpy(out + o, p, l);
			o += l;
			p += l + (dot ? 1 : 0);
		}
	}
	out[o++] = 0;
	return o;
}

static void
fill_answer(struct cursor *c, struct dns_result *ans, uint16_t qtype,
    struct in_addr *v4, struct in6_addr *v6)
{
	uint8_t k = byte(c);
	size_t n = (k >> 4) & 7;

	memset(ans, 0, sizeof(*ans));
	ans->qtype = qtype;
	ans->sec = (k & 8) ? DNS_SECURE : DNS_INSECURE;
	switch (k & 7) {
	case 0:
	case 1:
	case 2:
		ans->rcode = DNS_RCODE_NOERROR;
		break;
	case 3:
		ans->rcode = DNS_RCODE_NXDOMAIN;
		ans->nxdomain = true;
		n = 0;
		break;
	case 4:
		ans->rcode = DNS_RCODE_SERVFAIL;
		n = 0;
		break;
	case 5:
		ans->rcode = DNS_RCODE_SERVFAIL;
		ans->timed_out = true;
		n = 0;
		break;
	case 6:
		ans->sec = DNS_BOGUS;
		ans->rcode = DNS_RCODE_NOERROR;
		break;
	default:
		ans->rcode = DNS_RCODE_NOERROR;
		n = 0; /* NODATA */
		break;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t sel = byte(c);
		if (qtype == DNS_T_A) {
			if (sel & 0x80)
				bytes(c, (uint8_t *)&v4[i], 4);
			else if (inet_pton(AF_INET, v4_pool[sel % 8], &v4[i]) !=
				 1)
				abort();
		} else {
			if (sel & 0x80)
				bytes(c, (uint8_t *)&v6[i], 16);
			else if (inet_pton(
				     AF_INET6, v6_pool[sel % 8], &v6[i]) != 1)
				abort();
		}
	}
	ans->havedata = n > 0;
	ans->nrr = n;
	if (qtype == DNS_T_A) {
		ans->a = v4;
		ans->na = n;
	} else {
		ans->aaaa = v6;
		ans->naaaa = n;
	}
}

static bool
host_allowed_strict(const struct dns_mx_policy *pol, const struct sockaddr *sa)
{
	struct dns_mx_policy p = *pol;

	p.allow_loopback = false;
	return dns_mx_addr_allowed(&p, sa);
}

static void
check_result(const struct dns_mx_result *res, const struct dns_mx_policy *pol,
    bool have_self, uint16_t self_pref)
{
	const char *enh;
	int code = dns_mx_status_reply(res->status, &enh);

	CHECK(strlen(dns_mx_status_str(res->status)) > 0);
	if (res->status != DNS_MX_OK) {
		CHECK(res->nhosts == 0 && res->hosts == NULL);
		CHECK(res->error[0] != '\0');
		CHECK(code >= 451 && code <= 556 && enh[0] != '\0');
		return;
	}
	CHECK(code == 0);
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct dns_mx_host *h = &res->hosts[i];

		CHECK(strcmp(h->name, ".") != 0 && h->name[0] != '\0');
		CHECK(!dns_mx_is_self(pol, h->name));
		CHECK(!have_self || h->preference < self_pref);
		if (i > 0)
			CHECK(res->hosts[i - 1].preference <= h->preference);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(res->hosts[j].name, h->name) != 0);
	}
}

static void
check_final(const struct dns_mx_result *res, const struct dns_mx_policy *pol,
    const bool *host_bogus, char (*host_names)[DNS_NAME_MAX + 1],
    size_t nchosen, bool have_self, uint16_t self_pref)
{
	check_result(res, pol, have_self, self_pref);
	if (res->status != DNS_MX_OK)
		return;
	CHECK(res->nhosts >= 1);
	for (size_t i = 0; i < res->nhosts; i++) {
		const struct dns_mx_host *h = &res->hosts[i];
		bool found = false;

		CHECK(h->naddrs >= 1 && h->addrs != NULL);
		CHECK(h->nv6 <= h->naddrs);
		for (size_t k = 0; k < nchosen; k++) {
			if (strcmp(host_names[k], h->name) == 0) {
				CHECK(!host_bogus[k]);
				found = true;
			}
		}
		CHECK(found);
		for (size_t a = 0; a < h->naddrs; a++) {
			const struct sockaddr *sa =
			    (const struct sockaddr *)&h->addrs[a];
			CHECK(
			    sa->sa_family == (a < h->nv6 ? AF_INET6 : AF_INET));
			if (!pol->allow_loopback)
				CHECK(host_allowed_strict(pol, sa));
		}
	}
}

/* LLVMFuzzerTestOneInput - one synthetic MX resolution */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = {data, size};
	uint8_t f0 = byte(&c), f1 = byte(&c), nrec = byte(&c) % MAXREC;
	struct dns_mx_rr mx[MAXREC];
	uint8_t wire[MAXREC][80];
	const uint8_t *rd[MAXREC];
	size_t rl[MAXREC];
	struct sockaddr_storage own[8];
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	struct dns_result ans;
	struct rng rng;
	char domain[64] = "example.org";
	bool have_self = false, mx_failed, mx_nx;
	uint16_t self_pref = 0;
	enum dns_mx_status st;
	bool host_bogus[DNS_MX_MAX_HOSTS + 8];
	char host_names[DNS_MX_MAX_HOSTS + 8][DNS_NAME_MAX + 1];
	size_t nchosen;

	memset(&pol, 0, sizeof(pol));
	pol.allow_loopback = (f0 & 0x20) != 0;
	pol.self_names = self_names;
	pol.nself = f1 & 3;
	pol.max_hosts = (f1 >> 2) & 7;
	pol.nown = (f1 >> 5) & 7;
	for (size_t i = 0; i < pol.nown; i++) {
		const char *ip =
		    (i & 1) ? v6_pool[(i + 3) % 8] : v4_pool[i % 8];
		memset(&own[i], 0, sizeof(own[i]));
		if (i & 1) {
			struct sockaddr_in6 *s6 =
			    (struct sockaddr_in6 *)&own[i];
			s6->sin6_family = AF_INET6;
			if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
				abort();
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&own[i];
			s4->sin_family = AF_INET;
			if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
				abort();
		}
	}
	pol.own_addrs = own;
	if (f0 & 0x40) {
		size_t n = byte(&c) % (sizeof(domain) - 1);
		bytes(&c, (uint8_t *)domain, n);
		domain[n] = '\0';
	}

	/* the MX answer */
	memset(&ans, 0, sizeof(ans));
	ans.qname = domain;
	ans.qtype = DNS_T_MX;
	ans.sec = (f0 & 0x08)   ? DNS_BOGUS
		  : (f0 & 0x10) ? DNS_SECURE
				: DNS_INSECURE;
	for (size_t i = 0; i < nrec; i++) {
		uint8_t sel = byte(&c);
		if ((f0 & 0x80) && (sel & 0x80)) { /* raw RDATA */
			rl[i] = sel & 0x3f;
			bytes(&c, wire[i], rl[i]);
		} else {
			const char *nm = names[sel % NNAMES];
			uint8_t pref = byte(&c);
			wire[i][0] = 0;
			wire[i][1] = (uint8_t)(pref % 4 * 10);
			rl[i] = 2 + to_wire(nm, wire[i] + 2);
			mx[i].preference = wire[i][1];
			memcpy(mx[i].exchange, nm, strlen(nm) + 1);
			if (strcmp(nm, ".") != 0) {
				/* direct records are normalized like parsed
				 * ones */
				if (dns_name_normalize(nm, mx[i].exchange,
					sizeof(mx[i].exchange)) != 0)
					abort();
			}
		}
		rd[i] = wire[i];
	}
	if (f0 & 0x80) {
		if (dns_result_parse_rdata(&ans, DNS_T_MX, rd, rl, nrec) != 0)
			return 0;
	} else {
		ans.mx = mx;
		ans.nmx = nrec;
		ans.nrr = nrec;
	}
	switch (f0 & 7) {
	case 1:
		dns_result_clear(&ans);
		ans.mx = NULL;
		ans.nmx = ans.nrr = 0;
		break; /* NODATA */
	case 2:
		ans.rcode = DNS_RCODE_NXDOMAIN;
		ans.nxdomain = true;
		break;
	case 3:
		ans.rcode = DNS_RCODE_SERVFAIL;
		break;
	case 4:
		ans.rcode = DNS_RCODE_SERVFAIL;
		ans.timed_out = true;
		break;
	case 5:
		ans.rcode = DNS_RCODE_REFUSED;
		break;
	case 6:
		ans.cname = "alias.example";
		break;
	default:
		break;
	}
	ans.havedata = ans.rcode == DNS_RCODE_NOERROR && ans.nrr > 0;
	for (size_t i = 0; i < ans.nmx; i++) {
		if (dns_mx_is_self(&pol, ans.mx[i].exchange) &&
		    (!have_self || ans.mx[i].preference < self_pref)) {
			have_self = true;
			self_pref = ans.mx[i].preference;
		}
	}
	bytes(&c, rng.b, sizeof(rng.b));
	rng.i = 0;
	pol.rng = fuzz_rng;
	pol.rng_arg = &rng;

	st = dns_mx_select(domain, &ans, &pol, &res);
	CHECK(st == res.status);
	mx_failed =
	    ans.sec == DNS_BOGUS || ans.timed_out ||
	    (ans.rcode != DNS_RCODE_NOERROR && ans.rcode != DNS_RCODE_NXDOMAIN);
	mx_nx = ans.rcode == DNS_RCODE_NXDOMAIN;
	{
		char norm[DNS_NAME_MAX + 1];
		bool valid =
		    dns_name_normalize(domain, norm, sizeof(norm)) == 0;
		if (!valid)
			CHECK(st == DNS_MX_NXDOMAIN);
		else if (mx_failed)
			CHECK(st == DNS_MX_TEMPFAIL);
		if (st == DNS_MX_NXDOMAIN)
			CHECK(!valid || mx_nx);
		if (st == DNS_MX_NULLMX)
			CHECK(valid && !mx_failed && !mx_nx && ans.havedata &&
			      nrec == 1 && ans.nmx == 1 &&
			      ans.nmalformed == 0 &&
			      ans.mx[0].preference == 0 &&
			      strcmp(ans.mx[0].exchange, ".") == 0);
		if (valid && !mx_failed && !mx_nx && ans.nmx == 1 &&
		    ans.nrr == 1 && ans.mx[0].preference == 0 &&
		    strcmp(ans.mx[0].exchange, ".") == 0)
			CHECK(st == DNS_MX_NULLMX);
		if (valid && !mx_failed && !mx_nx && !ans.havedata)
			CHECK(res.implicit || st == DNS_MX_LOOP);
	}
	check_result(&res, &pol, have_self, self_pref);
	if (st != DNS_MX_OK) {
		dns_result_clear(&ans);
		return 0;
	}
	CHECK(res.nhosts <= (pol.max_hosts ? pol.max_hosts : DNS_MX_MAX_HOSTS));

	/* an A and an AAAA answer per host */
	nchosen = res.nhosts;
	for (size_t i = 0; i < nchosen; i++) {
		host_bogus[i] = false;
		memcpy(host_names[i], res.hosts[i].name, sizeof(host_names[i]));
		for (int fam = 0; fam < 2; fam++) {
			struct in_addr v4[8];
			struct in6_addr v6[8];
			struct dns_result a;

			fill_answer(&c, &a, fam ? DNS_T_AAAA : DNS_T_A, v4, v6);
			host_bogus[i] = host_bogus[i] || a.sec == DNS_BOGUS;
			dns_mx_host_answer(&res, i, &a, &pol);
		}
	}
	/* out-of-range and repeated answers are ignored or harmless */
	dns_mx_host_answer(&res, nchosen, &ans, &pol);
	dns_mx_finish(&res);
	check_final(
	    &res, &pol, host_bogus, host_names, nchosen, have_self, self_pref);
	dns_mx_finish(&res); /* idempotent on a final result */
	dns_mx_result_clear(&res);
	dns_result_clear(&ans);
	return 0;
}
