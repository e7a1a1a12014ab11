/*
 * test_dns_tlsa.c - the DANE decision (RFC 7672 §2.2) for one MX host
 * from synthetic TLSA answers. Certificate matching is tested in
 * test_dns_dane.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "dns_tlsa.h"

static const uint8_t h32[32] = {1};
static const uint8_t h64[64] = {2};

static struct dns_result
answer(enum dns_sec sec, int rcode, const struct dns_tlsa_rr *rr, size_t n)
{
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.sec = sec;
	r.rcode = rcode;
	r.nxdomain = rcode == DNS_RCODE_NXDOMAIN;
	r.tlsa = rr;
	r.ntlsa = n;
	return r;
}

static void
test_policies(void **state)
{
	struct dns_tlsa_rr ee = {3, 1, 1, 32, h32}, ta = {2, 0, 2, 64, h64},
			   pkix = {1, 1, 1, 32, h32},
			   badlen = {3, 1, 1, 31, h32},
			   badsel = {3, 2, 1, 32, h32};
	struct dns_tlsa_rr mixed[3] = {pkix, ee, badlen};
	struct dns_result r;
	struct dns_tlsa_decision d;

	(void)state;
	r = answer(DNS_SECURE, 0, &ee, 1);
	dns_tlsa_decide(false, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY); /* insecure MX path */
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DANE);
	assert_int_equal(d.nusable, 1);
	r = answer(DNS_SECURE, 0, &ta, 1);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DANE);
	r = answer(DNS_SECURE, 0, mixed, 3);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DANE);
	assert_int_equal(d.nusable, 1);
	assert_int_equal(d.usable[0], 1);
	r = answer(DNS_SECURE, 0, &pkix, 1);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_ENCRYPT); /* unusable only */
	assert_int_equal(d.nusable, 0);
	r = answer(DNS_SECURE, 0, &badsel, 1);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_ENCRYPT);
	r = answer(DNS_SECURE, DNS_RCODE_NXDOMAIN, NULL, 0);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY);
	r = answer(DNS_INSECURE, 0, &ee, 1);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY);
	r = answer(DNS_BOGUS, 0, &ee, 1);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DEFER);
	r = answer(DNS_SECURE, DNS_RCODE_SERVFAIL, NULL, 0);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DEFER);
	dns_tlsa_decide(true, NULL, &d);
	assert_int_equal(d.policy, DNS_TLSA_DEFER);
}

/* RFC 7672 §2.2: a secure non-empty RRset of only unusable records means
 * mandatory TLS without authentication; every other case is unchanged. */
static void
test_encrypt(void **state)
{
	struct dns_tlsa_rr unusable[4] = {{0, 0, 1, 32, h32},
	    {1, 1, 1, 32, h32}, {3, 1, 1, 31, h32}, {4, 1, 1, 32, h32}};
	struct dns_tlsa_rr with_ee[3] = {
	    {1, 1, 1, 32, h32}, {3, 1, 2, 64, h64}, {2, 1, 3, 32, h32}};
	struct dns_result r;
	struct dns_tlsa_decision d;

	(void)state;
	/* the numbers of the older outcomes did not move */
	assert_int_equal(DNS_TLSA_MAY, 0);
	assert_int_equal(DNS_TLSA_DANE, 1);
	assert_int_equal(DNS_TLSA_DEFER, 2);
	assert_int_equal(DNS_TLSA_ENCRYPT, 3);
	r = answer(DNS_SECURE, 0, unusable, 4);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_ENCRYPT);
	assert_int_equal(d.nusable, 0);
	assert_non_null(d.reason);
	assert_non_null(strstr(d.reason, "TLS required"));
	/* one usable record among unusable ones: DANE, only it listed */
	r = answer(DNS_SECURE, 0, with_ee, 3);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DANE);
	assert_int_equal(d.nusable, 1);
	assert_int_equal(d.usable[0], 1);
	/* the same unusable records insecure, bogus, or on an insecure MX
	 * path: not ENCRYPT */
	r = answer(DNS_INSECURE, 0, unusable, 4);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY);
	r = answer(DNS_BOGUS, 0, unusable, 4);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_DEFER);
	r = answer(DNS_SECURE, 0, unusable, 4);
	dns_tlsa_decide(false, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY);
	/* secure NODATA: no TLSA, opportunistic */
	r = answer(DNS_SECURE, 0, NULL, 0);
	dns_tlsa_decide(true, &r, &d);
	assert_int_equal(d.policy, DNS_TLSA_MAY);
}

static void
test_usable(void **state)
{
	struct dns_tlsa_rr full = {3, 0, 0, 100, h64},
			   empty = {3, 0, 0, 0, h64},
			   sha512 = {2, 1, 2, 64, h64},
			   mtype3 = {3, 1, 3, 32, h32};

	(void)state;
	assert_true(dns_tlsa_usable(&full));
	assert_false(dns_tlsa_usable(&empty));
	assert_true(dns_tlsa_usable(&sha512));
	assert_false(dns_tlsa_usable(&mtype3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policies),
	    cmocka_unit_test(test_encrypt),
	    cmocka_unit_test(test_usable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
