/*
 * test_dns_mx.c - MX resolution rules on synthetic answers (RFC 5321 5.1,
 * RFC 7505): ordering, the equal-preference shuffle, null MX, NXDOMAIN,
 * temporary and bogus failures, implicit MX, our own names and addresses,
 * IP-literal exchanges, address filtering; the wire-format parsers; and
 * the resolver's handles, cancel and deadlines against a stub server that
 * never answers (no network needed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_mx.h"
#include "dns_resolver.h"

/* ---- helpers ---- */

static uint32_t
xorshift(void *arg)
{
	uint32_t *s = arg;

	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static struct dns_result
mx_answer(const struct dns_mx_rr *rrs, size_t n)
{
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.qname = "example.org";
	r.qtype = DNS_T_MX;
	r.rcode = DNS_RCODE_NOERROR;
	r.havedata = n > 0;
	r.sec = DNS_SECURE;
	r.nrr = n;
	r.nmx = n;
	r.mx = rrs;
	return r;
}

static struct dns_result
a_answer(const char *const *ips, size_t n, enum dns_sec sec)
{
	static struct in_addr a[8];
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.qtype = DNS_T_A;
	r.rcode = DNS_RCODE_NOERROR;
	r.sec = sec;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(inet_pton(AF_INET, ips[i], &a[i]), 1);
	r.havedata = n > 0;
	r.na = n;
	r.nrr = n;
	r.a = a;
	return r;
}

static struct dns_result
aaaa_answer(const char *const *ips, size_t n, enum dns_sec sec)
{
	static struct in6_addr a[8];
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.qtype = DNS_T_AAAA;
	r.rcode = DNS_RCODE_NOERROR;
	r.sec = sec;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(inet_pton(AF_INET6, ips[i], &a[i]), 1);
	r.havedata = n > 0;
	r.naaaa = n;
	r.nrr = n;
	r.aaaa = a;
	return r;
}

static struct dns_result
fail_answer(uint16_t qtype, int rcode, enum dns_sec sec)
{
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.qtype = qtype;
	r.rcode = rcode;
	r.sec = sec;
	r.nxdomain = rcode == DNS_RCODE_NXDOMAIN;
	return r;
}

static struct sockaddr_storage
sa(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static const char *
addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a =
	    ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	return inet_ntop(ss->ss_family, a, buf, (socklen_t)len);
}

static void
no_rng_pol(struct dns_mx_policy *pol, uint32_t *seed)
{
	memset(pol, 0, sizeof(*pol));
	pol->rng = xorshift;
	pol->rng_arg = seed;
}

/* ---- ordering and shuffle ---- */

static void
test_order_by_preference(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {30, "c.example"}, {10, "a.example"}, {20, "b.example"}};
	struct dns_result mx = mx_answer(rr, 3);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 1;

	(void)state;
	no_rng_pol(&pol, &seed);
	assert_int_equal(
	    dns_mx_select("Example.ORG.", &mx, &pol, &res), DNS_MX_OK);
	assert_string_equal(res.domain, "example.org");
	assert_true(res.mx_secure);
	assert_false(res.implicit);
	assert_int_equal(res.nhosts, 3);
	assert_string_equal(res.hosts[0].name, "a.example");
	assert_int_equal(res.hosts[0].preference, 10);
	assert_string_equal(res.hosts[1].name, "b.example");
	assert_string_equal(res.hosts[2].name, "c.example");
	assert_int_equal(res.hosts[2].preference, 30);
	dns_mx_result_clear(&res);
}

static int
perm_index(const struct dns_mx_result *res)
{
	/* hosts 0..2 are x, y, z in some order: index of the permutation */
	static const char *const perms[6] = {
	    "xyz", "xzy", "yxz", "yzx", "zxy", "zyx"};
	char p[4];

	for (int i = 0; i < 3; i++)
		p[i] = res->hosts[i].name[0];
	p[3] = '\0';
	for (int i = 0; i < 6; i++)
		if (strcmp(p, perms[i]) == 0)
			return i;
	return -1;
}

static void
test_shuffle_all_permutations(void **state)
{
	static const struct dns_mx_rr rr[] = {{20, "last.example"},
	    {10, "x.example"}, {10, "y.example"}, {10, "z.example"},
	    {5, "first.example"}};
	struct dns_result mx = mx_answer(rr, 5);
	int seen[6] = {0};

	(void)state;
	for (uint32_t s = 1; s <= 600; s++) {
		struct dns_mx_policy pol;
		struct dns_mx_result res;
		uint32_t seed = s * 2654435761u;
		int k;

		no_rng_pol(&pol, &seed);
		assert_int_equal(
		    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
		assert_int_equal(res.nhosts, 5);
		assert_string_equal(res.hosts[0].name, "first.example");
		assert_string_equal(res.hosts[4].name, "last.example");
		memmove(&res.hosts[0], &res.hosts[1], 3 * sizeof(res.hosts[0]));
		k = perm_index(&res);
		assert_true(k >= 0);
		seen[k]++;
		res.nhosts = 3; /* the moved copies share no memory */
		dns_mx_result_clear(&res);
	}
	for (int i = 0; i < 6; i++)
		assert_true(seen[i] > 50); /* ~100 each if uniform */
}

static void
test_default_rng_shuffles(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {10, "a.example"}, {10, "b.example"}};
	struct dns_result mx = mx_answer(rr, 2);
	struct dns_mx_policy pol;
	int first_a = 0;

	(void)state;
	memset(&pol, 0, sizeof(pol)); /* rng NULL: arc4random */
	for (int i = 0; i < 200; i++) {
		struct dns_mx_result res;
		assert_int_equal(
		    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
		first_a += res.hosts[0].name[0] == 'a';
		dns_mx_result_clear(&res);
	}
	assert_true(first_a > 0 && first_a < 200);
}

static void
test_duplicates_and_cap(void **state)
{
	static const struct dns_mx_rr rr[] = {{20, "a.example"},
	    {10, "a.example"}, {30, "b.example"}, {40, "c.example"}};
	struct dns_result mx = mx_answer(rr, 4);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 7;

	(void)state;
	no_rng_pol(&pol, &seed);
	pol.max_hosts = 2;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	assert_int_equal(res.nhosts, 2);
	assert_string_equal(res.hosts[0].name, "a.example");
	assert_int_equal(res.hosts[0].preference, 10);
	assert_string_equal(res.hosts[1].name, "b.example");
	dns_mx_result_clear(&res);
}

/* ---- null MX, NXDOMAIN, failures ---- */

static void
test_null_mx(void **state)
{
	static const struct dns_mx_rr rr[] = {{0, "."}};
	struct dns_result mx = mx_answer(rr, 1);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	const char *enh;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	assert_int_equal(
	    dns_mx_select("nullmx.example", &mx, &pol, &res), DNS_MX_NULLMX);
	assert_int_equal(res.nhosts, 0);
	assert_non_null(strstr(res.error, "null MX"));
	assert_int_equal(dns_mx_status_reply(res.status, &enh), 556);
	assert_string_equal(enh, "5.1.10");
	assert_string_equal(dns_mx_status_str(res.status), "nullmx");
}

static void
test_null_mx_mixed(void **state)
{
	static const struct dns_mx_rr mixed[] = {{0, "."}, {10, "mx.example"}};
	static const struct dns_mx_rr nonzero[] = {{10, "."}};
	struct dns_result mx = mx_answer(mixed, 2);
	struct dns_mx_policy pol;
	struct dns_mx_result res;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	/* RFC 7505 3: not a null MX; "." names no host and is skipped */
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	assert_int_equal(res.nhosts, 1);
	assert_string_equal(res.hosts[0].name, "mx.example");
	dns_mx_result_clear(&res);
	/* a lone "." at a non-zero preference: no usable host, defer */
	mx = mx_answer(nonzero, 1);
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
	/* a null MX next to a malformed record is not a lone null MX */
	mx = mx_answer(mixed, 1);
	mx.nrr = 2;
	mx.nmalformed = 1;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
}

static void
test_nxdomain(void **state)
{
	struct dns_result mx = fail_answer(DNS_T_MX, DNS_RCODE_NXDOMAIN, 0);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	const char *enh;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	assert_int_equal(
	    dns_mx_select("nope.example", &mx, &pol, &res), DNS_MX_NXDOMAIN);
	assert_int_equal(dns_mx_status_reply(res.status, &enh), 550);
	assert_string_equal(enh, "5.1.2");
	/* a domain that is no domain name is as permanent */
	assert_int_equal(
	    dns_mx_select("a..b", &mx, &pol, &res), DNS_MX_NXDOMAIN);
}

static void
test_temporary_failures(void **state)
{
	static const int rcodes[] = {DNS_RCODE_SERVFAIL, DNS_RCODE_REFUSED,
	    DNS_RCODE_FORMERR, DNS_RCODE_NOTIMP, 9};
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	struct dns_result mx;
	const char *enh;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		mx = fail_answer(DNS_T_MX, rcodes[i], DNS_INSECURE);
		assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res),
		    DNS_MX_TEMPFAIL);
		assert_int_equal(res.nhosts, 0);
	}
	assert_int_equal(dns_mx_status_reply(DNS_MX_TEMPFAIL, &enh), 451);
	assert_string_equal(enh, "4.4.3");
	/* a timeout: never "no MX" (which would mean implicit MX) */
	mx = fail_answer(DNS_T_MX, DNS_RCODE_SERVFAIL, DNS_INSECURE);
	mx.timed_out = true;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
	assert_non_null(strstr(res.error, "timed out"));
	assert_false(res.implicit);
}

static void
test_bogus(void **state)
{
	static const struct dns_mx_rr rr[] = {{10, "mx.example"}};
	struct dns_result mx = mx_answer(rr, 1);
	struct dns_mx_policy pol;
	struct dns_mx_result res;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	mx.sec = DNS_BOGUS;
	mx.why_bogus = "signature expired";
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
	assert_memory_equal(res.error, "dnssec bogus", 12);
	assert_non_null(strstr(res.error, "signature expired"));
	/* a bogus NXDOMAIN or NODATA is no proof of anything */
	mx = fail_answer(DNS_T_MX, DNS_RCODE_NXDOMAIN, DNS_BOGUS);
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
	mx = mx_answer(NULL, 0);
	mx.sec = DNS_BOGUS;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_TEMPFAIL);
	assert_false(res.implicit);
}

/* ---- implicit MX ---- */

static void
test_nodata_implicit(void **state)
{
	struct dns_result mx = mx_answer(NULL, 0);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	const char *v4[] = {"192.0.2.30"};
	const char *v6[] = {"2001:db8::30"};
	struct dns_result a = a_answer(v4, 1, DNS_SECURE);
	struct dns_result aaaa = aaaa_answer(v6, 1, DNS_SECURE);
	char buf[64];

	(void)state;
	memset(&pol, 0, sizeof(pol));
	assert_int_equal(
	    dns_mx_select("NoMX.Example.", &mx, &pol, &res), DNS_MX_OK);
	assert_true(res.implicit);
	assert_true(res.mx_secure);
	assert_int_equal(res.nhosts, 1);
	assert_string_equal(res.hosts[0].name, "nomx.example");
	assert_int_equal(res.hosts[0].preference, 0);
	dns_mx_host_answer(&res, 0, &a, &pol);
	dns_mx_host_answer(&res, 0, &aaaa, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_OK);
	assert_int_equal(res.hosts[0].naddrs, 2);
	assert_true(res.hosts[0].secure);
	assert_string_equal(
	    addr_str(&res.hosts[0].addrs[0], buf, sizeof(buf)), "2001:db8::30");
	assert_string_equal(
	    addr_str(&res.hosts[0].addrs[1], buf, sizeof(buf)), "192.0.2.30");
	dns_mx_result_clear(&res);

	/* the name after a CNAME chain is the implicit MX */
	mx.cname = "real.example";
	assert_int_equal(
	    dns_mx_select("alias.example", &mx, &pol, &res), DNS_MX_OK);
	assert_string_equal(res.hosts[0].name, "real.example");
	dns_mx_result_clear(&res);

	/* no MX and no address: permanent, but only when definitive */
	mx.cname = NULL;
	assert_int_equal(
	    dns_mx_select("nomx.example", &mx, &pol, &res), DNS_MX_OK);
	a = a_answer(NULL, 0, DNS_SECURE);
	aaaa = aaaa_answer(NULL, 0, DNS_SECURE);
	dns_mx_host_answer(&res, 0, &a, &pol);
	dns_mx_host_answer(&res, 0, &aaaa, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_NOHOST);
	assert_int_equal(res.nhosts, 0);
	assert_int_equal(res.nskipped, 1);
}

/* ---- our own names and addresses ---- */

static void
test_self_lower_only(void **state)
{
	static const struct dns_mx_rr rr[] = {{10, "a.example"},
	    {20, "me.example"}, {30, "c.example"}, {20, "b.example"},
	    {5, "zero.example"}};
	static const char *const self[] = {"localhost", "ME.Example."};
	struct dns_result mx = mx_answer(rr, 5);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 3;

	(void)state;
	no_rng_pol(&pol, &seed);
	pol.self_names = self;
	pol.nself = 2;
	assert_true(dns_mx_is_self(&pol, "me.example"));
	assert_true(dns_mx_is_self(&pol, "me.example."));
	assert_false(dns_mx_is_self(&pol, "me.example.org"));
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	assert_int_equal(res.nhosts, 2);
	assert_string_equal(res.hosts[0].name, "zero.example");
	assert_string_equal(res.hosts[1].name, "a.example");
	dns_mx_result_clear(&res);
}

static void
test_self_loop(void **state)
{
	static const struct dns_mx_rr best[] = {
	    {10, "me.example"}, {20, "b.example"}};
	static const struct dns_mx_rr tie[] = {
	    {10, "b.example"}, {10, "me.example"}};
	static const char *const self[] = {"me.example"};
	struct dns_result mx = mx_answer(best, 2);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	const char *enh;

	(void)state;
	memset(&pol, 0, sizeof(pol));
	pol.self_names = self;
	pol.nself = 1;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_LOOP);
	assert_string_equal(
	    res.error, "mail for example.org loops back to myself");
	assert_int_equal(dns_mx_status_reply(res.status, &enh), 554);
	assert_string_equal(enh, "5.4.6");
	/* equal preference is not strictly lower */
	mx = mx_answer(tie, 2);
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_LOOP);
	/* implicit MX naming ourselves */
	mx = mx_answer(NULL, 0);
	assert_int_equal(
	    dns_mx_select("ME.EXAMPLE", &mx, &pol, &res), DNS_MX_LOOP);
}

static void
test_own_address_is_self(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {10, "a.example"}, {20, "b.example"}, {30, "c.example"}};
	struct dns_result mx = mx_answer(rr, 3);
	struct sockaddr_storage own[2];
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	const char *ip_a[] = {"192.0.2.1"};
	const char *ip_b[] = {"198.51.100.7"};
	const char *ip_c[] = {"192.0.2.3"};
	struct dns_result ans;
	uint32_t seed = 9;

	(void)state;
	own[0] = sa("198.51.100.7");
	own[1] = sa("2001:db8::7");
	no_rng_pol(&pol, &seed);
	pol.own_addrs = own;
	pol.nown = 2;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	ans = a_answer(ip_a, 1, DNS_INSECURE);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = a_answer(ip_b, 1, DNS_INSECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	ans = a_answer(ip_c, 1, DNS_INSECURE);
	dns_mx_host_answer(&res, 2, &ans, &pol);
	for (size_t i = 0; i < 3; i++) {
		ans = aaaa_answer(NULL, 0, DNS_INSECURE);
		dns_mx_host_answer(&res, i, &ans, &pol);
	}
	dns_mx_finish(&res);
	/* b is us: c (less preferred) is dropped with it */
	assert_int_equal(res.status, DNS_MX_OK);
	assert_int_equal(res.nhosts, 1);
	assert_string_equal(res.hosts[0].name, "a.example");
	assert_false(res.hosts[0].secure);
	dns_mx_result_clear(&res);

	/* the best host is us: loop */
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	ans = a_answer(ip_b, 1, DNS_INSECURE);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = a_answer(ip_c, 1, DNS_INSECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	dns_mx_host_answer(&res, 2, &ans, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_LOOP);
	assert_non_null(strstr(res.error, "loops back to myself"));
}

/* ---- IP literals are names ---- */

static void
test_ip_literal_exchange_is_a_name(void **state)
{
	static const uint8_t bracket[] = {
	    0, 10, 4, '[', '1', '9', '2', 1, '0', 1, '2', 2, '1', ']', 0};
	static const uint8_t dotted[] = {
	    0, 10, 3, '1', '9', '2', 1, '0', 1, '2', 1, '1', 0};
	const uint8_t *rd[] = {bracket, dotted};
	const size_t rl[] = {sizeof(bracket), sizeof(dotted)};
	struct dns_result mx, nx = fail_answer(DNS_T_A, DNS_RCODE_NXDOMAIN, 0);
	struct dns_mx_policy pol;
	struct dns_mx_result res;

	(void)state;
	memset(&mx, 0, sizeof(mx));
	mx.qtype = DNS_T_MX;
	mx.havedata = true;
	assert_int_equal(dns_result_parse_rdata(&mx, DNS_T_MX, rd, rl, 2), 0);
	assert_int_equal(mx.nmx, 2);
	assert_string_equal(mx.mx[0].exchange, "[192.0.2.1]");
	assert_string_equal(mx.mx[1].exchange, "192.0.2.1");
	memset(&pol, 0, sizeof(pol));
	pol.allow_loopback = true;
	assert_int_equal(
	    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
	assert_int_equal(res.nhosts, 2);
	for (size_t i = 0; i < 2; i++) {
		/* no address until DNS gives one */
		assert_int_equal(res.hosts[i].naddrs, 0);
		assert_null(res.hosts[i].addrs);
		dns_mx_host_answer(&res, i, &nx, &pol);
		nx.qtype = DNS_T_AAAA;
		dns_mx_host_answer(&res, i, &nx, &pol);
		nx.qtype = DNS_T_A;
	}
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_NOHOST);
	dns_result_clear(&mx);
}

/* ---- addresses ---- */

static void
test_address_filter(void **state)
{
	static const char *const refused[] = {"127.0.0.1", "127.255.255.254",
	    "0.0.0.0", "0.1.2.3", "::1", "::", "::ffff:127.0.0.1",
	    "::ffff:0.0.0.0", "198.51.100.7", "2001:db8::7",
	    "::ffff:198.51.100.7"};
	static const char *const allowed[] = {"192.0.2.1", "2001:db8::1",
	    "10.0.0.1", "::ffff:192.0.2.1", "128.0.0.1"};
	struct sockaddr_storage own[2];
	struct dns_mx_policy pol;

	(void)state;
	own[0] = sa("198.51.100.7");
	own[1] = sa("2001:db8::7");
	memset(&pol, 0, sizeof(pol));
	pol.own_addrs = own;
	pol.nown = 2;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct sockaddr_storage s = sa(refused[i]);
		if (dns_mx_addr_allowed(&pol, (struct sockaddr *)&s)) {
			fail_msg("%s allowed", refused[i]);
		}
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		struct sockaddr_storage s = sa(allowed[i]);
		if (!dns_mx_addr_allowed(&pol, (struct sockaddr *)&s)) {
			fail_msg("%s refused", allowed[i]);
		}
	}
	pol.allow_loopback = true;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct sockaddr_storage s = sa(refused[i]);
		assert_true(dns_mx_addr_allowed(&pol, (struct sockaddr *)&s));
	}
	{
		struct sockaddr_storage s;
		memset(&s, 0, sizeof(s));
		s.ss_family = AF_UNIX;
		assert_false(dns_mx_addr_allowed(&pol, (struct sockaddr *)&s));
	}
}

static void
test_host_addresses_filtered(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {10, "lo.example"}, {20, "mixed.example"}};
	const char *v4[] = {"127.0.0.1", "192.0.2.5", "198.51.100.7"};
	const char *v6[] = {"::1", "2001:db8::5", "::ffff:127.0.0.2"};
	const char *lo4[] = {"127.0.0.5"};
	const char *lo6[] = {"::1"};
	struct sockaddr_storage own = sa("198.51.100.7");
	struct dns_result mx = mx_answer(rr, 2), ans;
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 5;
	char buf[64];

	(void)state;
	for (int allow = 0; allow < 2; allow++) {
		no_rng_pol(&pol, &seed);
		pol.allow_loopback = allow;
		assert_int_equal(
		    dns_mx_select("example.org", &mx, &pol, &res), DNS_MX_OK);
		ans = a_answer(lo4, 1, DNS_SECURE);
		dns_mx_host_answer(&res, 0, &ans, &pol);
		ans = aaaa_answer(lo6, 1, DNS_SECURE);
		dns_mx_host_answer(&res, 0, &ans, &pol);
		/* own addresses are checked after the loopback host; keep
		 * them out of host 1 so it stays usable */
		ans = a_answer(v4, 2, DNS_SECURE);
		dns_mx_host_answer(&res, 1, &ans, &pol);
		ans = aaaa_answer(v6, 3, DNS_SECURE);
		dns_mx_host_answer(&res, 1, &ans, &pol);
		dns_mx_finish(&res);
		assert_int_equal(res.status, DNS_MX_OK);
		if (!allow) {
			assert_int_equal(res.nhosts, 1);
			assert_string_equal(res.hosts[0].name, "mixed.example");
			assert_int_equal(res.hosts[0].naddrs, 2);
			assert_string_equal(
			    addr_str(&res.hosts[0].addrs[0], buf, sizeof(buf)),
			    "2001:db8::5");
			assert_string_equal(
			    addr_str(&res.hosts[0].addrs[1], buf, sizeof(buf)),
			    "192.0.2.5");
			assert_int_equal(res.nskipped, 1);
		} else {
			assert_int_equal(res.nhosts, 2);
			assert_int_equal(res.hosts[0].naddrs, 2);
			assert_int_equal(res.hosts[1].naddrs, 5);
			/* IPv6 first, each family in DNS order */
			assert_string_equal(
			    addr_str(&res.hosts[1].addrs[0], buf, sizeof(buf)),
			    "::1");
			assert_string_equal(
			    addr_str(&res.hosts[1].addrs[3], buf, sizeof(buf)),
			    "127.0.0.1");
		}
		assert_true(res.hosts[0].secure);
		dns_mx_result_clear(&res);
	}

	/* only loopback anywhere: we would talk to ourselves */
	no_rng_pol(&pol, &seed);
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	for (size_t i = 0; i < 2; i++) {
		ans = a_answer(lo4, 1, DNS_SECURE);
		dns_mx_host_answer(&res, i, &ans, &pol);
		ans = aaaa_answer(lo6, 1, DNS_SECURE);
		dns_mx_host_answer(&res, i, &ans, &pol);
	}
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_LOOP);

	/* own listen address in the preferred host */
	no_rng_pol(&pol, &seed);
	pol.own_addrs = &own;
	pol.nown = 1;
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	ans = a_answer(v4 + 2, 1, DNS_SECURE);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = a_answer(v4 + 1, 1, DNS_SECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_LOOP);
}

/* ---- per-host failures ---- */

static void
test_host_failures(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {10, "a.example"}, {20, "b.example"}};
	const char *v4[] = {"192.0.2.1"};
	const char *v6[] = {"2001:db8::2"};
	struct dns_result mx = mx_answer(rr, 2), ans;
	struct dns_result sf = fail_answer(DNS_T_A, DNS_RCODE_SERVFAIL, 0);
	struct dns_result nx = fail_answer(DNS_T_A, DNS_RCODE_NXDOMAIN, 0);
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 11;

	(void)state;
	no_rng_pol(&pol, &seed);

	/* A fails, AAAA works: host kept with what it has, not secure */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	dns_mx_host_answer(&res, 0, &sf, &pol);
	ans = aaaa_answer(v6, 1, DNS_SECURE);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	dns_mx_host_answer(&res, 1, &nx, &pol);
	dns_mx_host_answer(&res, 1, &nx, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_OK);
	assert_int_equal(res.nhosts, 1);
	assert_false(res.hosts[0].secure);
	dns_mx_result_clear(&res);

	/* one host temporary, the other definitive: still temporary */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	dns_mx_host_answer(&res, 0, &sf, &pol);
	dns_mx_host_answer(&res, 0, &sf, &pol);
	dns_mx_host_answer(&res, 1, &nx, &pol);
	dns_mx_host_answer(&res, 1, &nx, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_TEMPFAIL);
	assert_non_null(strstr(res.error, "a.example"));

	/* a timed-out address lookup is temporary too */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	sf.timed_out = true;
	for (size_t i = 0; i < 2; i++)
		dns_mx_host_answer(&res, i, &sf, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_TEMPFAIL);

	/* a host without any answer (lookup never finished) */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	dns_mx_host_answer(&res, 1, &nx, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_TEMPFAIL);

	/* every lookup definitive and empty: permanent */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	for (size_t i = 0; i < 2; i++)
		dns_mx_host_answer(&res, i, &nx, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_NOHOST);
	(void)v4;
}

static void
test_host_bogus(void **state)
{
	static const struct dns_mx_rr rr[] = {
	    {10, "a.example"}, {20, "b.example"}};
	const char *ip1[] = {"192.0.2.1"};
	const char *ip2[] = {"192.0.2.2"};
	struct dns_result mx = mx_answer(rr, 2), ans;
	struct dns_mx_policy pol;
	struct dns_mx_result res;
	uint32_t seed = 13;

	(void)state;
	no_rng_pol(&pol, &seed);
	/* a's answer is bogus: a is skipped, its address never used */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	ans = a_answer(ip1, 1, DNS_BOGUS);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = aaaa_answer(NULL, 0, DNS_SECURE);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = a_answer(ip2, 1, DNS_SECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	ans = aaaa_answer(NULL, 0, DNS_SECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_OK);
	assert_int_equal(res.nhosts, 1);
	assert_string_equal(res.hosts[0].name, "b.example");
	assert_true(res.hosts[0].secure);
	dns_mx_result_clear(&res);

	/* bogus everywhere it matters: defer, "dnssec bogus" */
	assert_int_equal(dns_mx_select("example.org", &mx, &pol, &res), 0);
	ans = a_answer(ip1, 1, DNS_BOGUS);
	dns_mx_host_answer(&res, 0, &ans, &pol);
	ans = fail_answer(DNS_T_A, DNS_RCODE_NXDOMAIN, DNS_SECURE);
	dns_mx_host_answer(&res, 1, &ans, &pol);
	dns_mx_finish(&res);
	assert_int_equal(res.status, DNS_MX_TEMPFAIL);
	assert_memory_equal(res.error, "dnssec bogus", 12);
}

/* ---- wire parsing ---- */

static void
test_wire_names(void **state)
{
	static const uint8_t ok[] = {
	    3, 'M', 'x', '1', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0};
	static const uint8_t root[] = {0};
	static const uint8_t ptr[] = {3, 'm', 'x', '1', 0xc0, 12};
	static const uint8_t dot[] = {3, 'a', '.', 'b', 0};
	static const uint8_t bslash[] = {1, '\\', 0};
	static const uint8_t nul[] = {2, 'a', 0, 0};
	static const uint8_t trunc[] = {3, 'a', 'b'};
	uint8_t longname[300];
	char out[DNS_NAME_MAX + 1];
	size_t n = 0;

	(void)state;
	assert_int_equal(
	    dns_name_from_wire(ok, sizeof(ok), out, sizeof(out)), sizeof(ok));
	assert_string_equal(out, "mx1.example");
	assert_int_equal(
	    dns_name_from_wire(root, sizeof(root), out, sizeof(out)), 1);
	assert_string_equal(out, ".");
	assert_int_equal(
	    dns_name_from_wire(ptr, sizeof(ptr), out, sizeof(out)), 0);
	assert_int_equal(
	    dns_name_from_wire(dot, sizeof(dot), out, sizeof(out)), 0);
	assert_int_equal(
	    dns_name_from_wire(bslash, sizeof(bslash), out, sizeof(out)), 0);
	assert_int_equal(
	    dns_name_from_wire(nul, sizeof(nul), out, sizeof(out)), 0);
	assert_int_equal(
	    dns_name_from_wire(trunc, sizeof(trunc), out, sizeof(out)), 0);
	assert_int_equal(dns_name_from_wire(ok, sizeof(ok), out, 5), 0);
	/* 5 labels of 63: 320 characters, over the limit */
	for (int l = 0; l < 4; l++) {
		longname[n++] = 63;
		memset(longname + n, 'a', 63);
		n += 63;
	}
	longname[n++] = 0;
	assert_int_equal(dns_name_from_wire(longname, n, out, sizeof(out)), 0);

	assert_int_equal(dns_name_normalize("A.B.", out, sizeof(out)), 0);
	assert_string_equal(out, "a.b");
	assert_int_equal(dns_name_normalize(".", out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize("", out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize("a..b", out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize(".a", out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize("a b", out, sizeof(out)), -1);
	assert_int_equal(dns_name_normalize("a\\.b", out, sizeof(out)), -1);
	assert_int_equal(
	    dns_name_normalize("_25._tcp.mx.example", out, sizeof(out)), 0);
}

static void
test_parse_rdata(void **state)
{
	static const uint8_t a1[] = {192, 0, 2, 1}, abad[] = {1, 2, 3};
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t tlsa[] = {3, 1, 1, 0xaa, 0xbb};
	static const uint8_t tlsabad[] = {3, 1, 1};
	static const uint8_t txt[] = {3, 'v', '=', 'x', 0, 2, 'a', 0};
	static const uint8_t txtbad[] = {5, 'a'};
	static const uint8_t cname[] = {2, 'M', 'X', 1, 'b', 0};
	static const uint8_t mxbad[] = {0, 10, 3, 'a'};
	const uint8_t *rd[2];
	size_t rl[2];
	struct dns_result r;
	char buf[64];

	(void)state;
	memset(&r, 0, sizeof(r));
	rd[0] = a1;
	rl[0] = sizeof(a1);
	rd[1] = abad;
	rl[1] = sizeof(abad);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_A, rd, rl, 2), 0);
	assert_int_equal(r.na, 1);
	assert_int_equal(r.nmalformed, 1);
	assert_string_equal(
	    inet_ntop(AF_INET, &r.a[0], buf, sizeof(buf)), "192.0.2.1");

	rd[0] = v6;
	rl[0] = sizeof(v6);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_AAAA, rd, rl, 2), 0);
	assert_int_equal(r.naaaa, 1);
	assert_int_equal(r.na, 0); /* replaced */
	assert_string_equal(
	    inet_ntop(AF_INET6, &r.aaaa[0], buf, sizeof(buf)), "2001:db8::1");

	rd[0] = tlsa;
	rl[0] = sizeof(tlsa);
	rd[1] = tlsabad;
	rl[1] = sizeof(tlsabad);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_TLSA, rd, rl, 2), 0);
	assert_int_equal(r.ntlsa, 1);
	assert_int_equal(r.tlsa[0].usage, 3);
	assert_int_equal(r.tlsa[0].selector, 1);
	assert_int_equal(r.tlsa[0].mtype, 1);
	assert_int_equal(r.tlsa[0].len, 2);
	assert_int_equal(r.tlsa[0].data[1], 0xbb);

	rd[0] = txt;
	rl[0] = sizeof(txt);
	rd[1] = txtbad;
	rl[1] = sizeof(txtbad);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_TXT, rd, rl, 2), 0);
	assert_int_equal(r.ntxt, 1);
	assert_int_equal(r.nmalformed, 1);
	assert_int_equal(r.txt[0].nstrings, 3);
	assert_string_equal(r.txt[0].strings[0].data, "v=x");
	assert_int_equal(r.txt[0].strings[1].len, 0);
	assert_int_equal(r.txt[0].strings[2].len, 2);
	assert_memory_equal(r.txt[0].strings[2].data, "a\0", 2);

	rd[0] = cname;
	rl[0] = sizeof(cname);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_CNAME, rd, rl, 1), 0);
	assert_int_equal(r.ncname, 1);
	assert_string_equal(r.cnames[0], "mx.b");

	rd[0] = mxbad;
	rl[0] = sizeof(mxbad);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_MX, rd, rl, 1), 0);
	assert_int_equal(r.nmx, 0);
	assert_int_equal(r.nmalformed, 1);
	dns_result_clear(&r);
	assert_null(r.priv_);
	assert_int_equal(dns_result_parse_rdata(&r, DNS_T_MX, rd, rl, 0), 0);
	assert_null(r.priv_);
}

/* ---- the resolver against a server that never answers ---- */

struct blackhole {
	int fd;
	char addr[64];
	char dir[64];
	char ta[96];
};

static void
blackhole_open(struct blackhole *b)
{
	struct sockaddr_in s4;
	socklen_t len = sizeof(s4);
	FILE *f;

	b->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(b->fd >= 0);
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(b->fd, (struct sockaddr *)&s4, sizeof(s4)), 0);
	assert_int_equal(getsockname(b->fd, (struct sockaddr *)&s4, &len), 0);
	snprintf(b->addr, sizeof(b->addr), "127.0.0.1@%u",
	    (unsigned)ntohs(s4.sin_port));
	snprintf(b->dir, sizeof(b->dir), "/tmp/test_dns_mx.XXXXXX");
	assert_non_null(mkdtemp(b->dir));
	snprintf(b->ta, sizeof(b->ta), "%s/ta.ds", b->dir);
	f = fopen(b->ta, "w");
	assert_non_null(f);
	fprintf(f, "test. 3600 IN DS 39285 13 2 "
		   "b8726fec29d293e10091a1eb25ea2963c3e809435d2fd1750540a769d39"
		   "a18f5\n");
	fclose(f);
}

static void
blackhole_close(struct blackhole *b)
{
	close(b->fd);
	unlink(b->ta);
	rmdir(b->dir);
}

static struct dns_resolver *
blackhole_resolver(struct blackhole *b, unsigned timeout_ms)
{
	struct dns_stub stub = {"test", b->addr};
	struct dns_config cfg;
	struct dns_resolver *r;
	char err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.trust_anchor = b->ta;
	cfg.stubs = &stub;
	cfg.nstubs = 1;
	cfg.timeout_ms = timeout_ms;
	r = dns_resolver_new(&cfg, err, sizeof(err));
	if (r == NULL)
		fail_msg("dns_resolver_new: %s", err);
	return r;
}

struct seen {
	int calls;
	bool timed_out;
	int rcode;
};

static void
on_answer(void *arg, const struct dns_result *res)
{
	struct seen *s = arg;

	s->calls++;
	s->timed_out = res->timed_out;
	s->rcode = res->rcode;
}

/* Drive the resolver like a worker for ms milliseconds. */
static void
drive(struct dns_resolver *r, int ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = dns_resolver_fd(r), .events = POLLIN};
		long el;

		if (poll(&p, 1, 10) > 0)
			assert_int_equal(dns_resolver_process(r, NULL, 0), 0);
		dns_resolver_expire(r);
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) * 1000 +
		     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= ms)
			break;
	}
}

static void
test_resolver_cancel_and_timeout(void **state)
{
	struct blackhole b;
	struct dns_resolver *r;
	struct seen s1 = {0}, s2 = {0}, s3 = {0};
	uint64_t id1, id2, id3;

	(void)state;
	blackhole_open(&b);
	r = blackhole_resolver(&b, 200);
	assert_true(dns_resolver_fd(r) >= 0);
	assert_int_equal(dns_resolver_next_timeout(r), -1);
	id1 = dns_query(r, "a.test", DNS_T_MX, on_answer, &s1);
	id2 = dns_query(r, "b.test", DNS_T_A, on_answer, &s2);
	id3 = dns_query(r, "c.test", DNS_T_TLSA, on_answer, &s3);
	assert_true(id1 != 0 && id2 != 0 && id3 != 0);
	assert_true(id1 != id2 && id2 != id3);
	assert_int_equal(dns_query(r, "bad..name", DNS_T_A, on_answer, &s1), 0);
	assert_int_equal(dns_resolver_pending(r), 3);
	assert_true(dns_resolver_next_timeout(r) > 0);
	assert_true(dns_resolver_next_timeout(r) <= 200);
	/* never called from inside dns_query */
	assert_int_equal(s1.calls + s2.calls + s3.calls, 0);
	assert_true(dns_cancel(r, id2));
	assert_false(dns_cancel(r, id2)); /* twice: harmless */
	assert_false(dns_cancel(r, 0));
	assert_false(dns_cancel(r, id2 + (1ull << 32)));
	assert_int_equal(dns_resolver_pending(r), 2);
	drive(r, 400);
	assert_int_equal(s1.calls, 1);
	assert_true(s1.timed_out);
	assert_int_equal(s1.rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(s3.calls, 1);
	assert_int_equal(s2.calls, 0);    /* cancelled: never */
	assert_false(dns_cancel(r, id1)); /* answered */
	assert_int_equal(dns_resolver_pending(r), 0);
	/* a freed slot is reused with a new handle */
	assert_true(dns_query(r, "d.test", DNS_T_A, on_answer, &s2) != id2);
	dns_resolver_free(r); /* with one pending: no callback */
	assert_int_equal(s2.calls, 0);
	blackhole_close(&b);
}

struct mx_seen {
	int calls;
	enum dns_mx_status status;
	char error[512];
};

static void
on_mx(void *arg, struct dns_mx_result *res)
{
	struct mx_seen *s = arg;

	s->calls++;
	s->status = res->status;
	snprintf(s->error, sizeof(s->error), "%s", res->error);
	dns_mx_result_free(res);
}

static void
test_mx_lookup_timeout_and_cancel(void **state)
{
	struct blackhole b;
	struct dns_resolver *r;
	struct dns_mx_policy pol;
	struct mx_seen s1 = {0}, s2 = {0};
	struct dns_mx_lookup *l1, *l2;

	(void)state;
	blackhole_open(&b);
	r = blackhole_resolver(&b, 150);
	memset(&pol, 0, sizeof(pol));
	l1 = dns_mx_resolve(r, "slow.test", &pol, on_mx, &s1);
	l2 = dns_mx_resolve(r, "gone.test", &pol, on_mx, &s2);
	assert_non_null(l1);
	assert_non_null(l2);
	assert_null(dns_mx_resolve(r, "a..b", &pol, on_mx, &s1));
	dns_mx_cancel(l2);
	drive(r, 350);
	assert_int_equal(s1.calls, 1);
	assert_int_equal(s1.status, DNS_MX_TEMPFAIL); /* never "no MX" */
	assert_non_null(strstr(s1.error, "timed out"));
	assert_int_equal(s2.calls, 0);
	dns_resolver_free(r);
	blackhole_close(&b);
}

static void
test_resolver_config_errors(void **state)
{
	struct dns_config cfg;
	struct dns_stub bad = {"a..b", "127.0.0.1"};
	struct dns_stub badaddr = {"test", "not-an-address"};
	struct blackhole b;
	char err[256], path[128];
	FILE *f;

	(void)state;
	blackhole_open(&b);
	memset(&cfg, 0, sizeof(cfg));
	cfg.trust_anchor = "/nonexistent/ta.ds";
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/ta.ds"));
	cfg.trust_anchor = b.ta;
	cfg.unbound_conf = "/nonexistent/unbound.conf";
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "unbound_conf"));
	/* a syntax error in the extra configuration */
	snprintf(path, sizeof(path), "%s/bad.conf", b.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("server:\n    no-such-option: yes\n", f);
	fclose(f);
	cfg.unbound_conf = path;
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "unbound_conf"));
	unlink(path);
	/* a trust anchor file that is no trust anchor fails at creation */
	cfg.unbound_conf = NULL;
	snprintf(path, sizeof(path), "%s/junk.ds", b.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a DS record\n", f);
	fclose(f);
	cfg.trust_anchor = path;
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	unlink(path);
	cfg.trust_anchor = b.ta;
	cfg.stubs = &bad;
	cfg.nstubs = 1;
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "stub"));
	cfg.stubs = &badaddr;
	assert_null(dns_resolver_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "not-an-address"));
	blackhole_close(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_by_preference),
	    cmocka_unit_test(test_shuffle_all_permutations),
	    cmocka_unit_test(test_default_rng_shuffles),
	    cmocka_unit_test(test_duplicates_and_cap),
	    cmocka_unit_test(test_null_mx),
	    cmocka_unit_test(test_null_mx_mixed),
	    cmocka_unit_test(test_nxdomain),
	    cmocka_unit_test(test_temporary_failures),
	    cmocka_unit_test(test_bogus),
	    cmocka_unit_test(test_nodata_implicit),
	    cmocka_unit_test(test_self_lower_only),
	    cmocka_unit_test(test_self_loop),
	    cmocka_unit_test(test_own_address_is_self),
	    cmocka_unit_test(test_ip_literal_exchange_is_a_name),
	    cmocka_unit_test(test_address_filter),
	    cmocka_unit_test(test_host_addresses_filtered),
	    cmocka_unit_test(test_host_failures),
	    cmocka_unit_test(test_host_bogus),
	    cmocka_unit_test(test_wire_names),
	    cmocka_unit_test(test_parse_rdata),
	    cmocka_unit_test(test_resolver_cancel_and_timeout),
	    cmocka_unit_test(test_mx_lookup_timeout_and_cancel),
	    cmocka_unit_test(test_resolver_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
