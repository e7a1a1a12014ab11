/*
 * test_dns_answer.c - plugins/common/dns_answer.c: typed records out of
 * wire-format responses (built by the fake host's DNS with ldns), status
 * mapping of rcodes, timeouts and bogus answers, reverse names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../plugins/common/dns_answer.c"
#include "fake_host.h"

static struct dns_answer got;
static int calls;

static void
on_answer(struct rmx_call *c, int rcode, int secure, const void *pkt,
    size_t len, void *arg)
{
	(void)c;
	dns_answer_free(&got);
	dns_answer_parse(
	    &got, (uint16_t)(uintptr_t)arg, rcode, secure, pkt, len);
	calls++;
}

static void
ask(const char *name, int type)
{
	struct rmx_call c;

	fake_call_init(&c);
	assert_int_equal(fake_host()->dns_query(&c, name, type, on_answer,
			     (void *)(uintptr_t)type),
	    0);
	assert_int_equal(fake_run_dns(&c), 1);
	fake_call_free(&c);
}

static int
setup(void **st)
{
	(void)st;
	calls = 0;
	fake_dns_reset();
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	dns_answer_free(&got);
	fake_dns_reset();
	return 0;
}

static void
test_txt_strings_joined(void **st)
{
	(void)st;
	fake_dns_add(DA_T_TXT, "example.org", 0,
	    "example.org. 300 IN TXT \"v=spf1 \" \"ip4:192.0.2.1 -all\"\n"
	    "example.org. 300 IN TXT \"other\"");
	ask("example.org", DA_T_TXT);
	assert_int_equal(got.status, DA_OK);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.rr[0].text, "v=spf1 ip4:192.0.2.1 -all");
	assert_int_equal(got.rr[0].len, strlen("v=spf1 ip4:192.0.2.1 -all"));
	assert_string_equal(got.rr[1].text, "other");
}

static void
test_txt_with_nul_octet(void **st)
{
	(void)st;
	fake_dns_add(
	    DA_T_TXT, "nul.example", 0, "nul.example. 300 IN TXT \"a\\000b\"");
	ask("nul.example", DA_T_TXT);
	assert_int_equal(got.status, DA_OK);
	assert_int_equal(got.rr[0].len, 3);
	assert_memory_equal(got.rr[0].text, "a\0b", 3);
}

static void
test_mx_a_aaaa_ptr(void **st)
{
	unsigned char v6[16];

	(void)st;
	fake_dns_add(DA_T_MX, "example.org", 0,
	    "example.org. 300 IN MX 10 MX1.Example.ORG.\n"
	    "example.org. 300 IN MX 0 .");
	fake_dns_add(DA_T_A, "mx1.example.org", 0,
	    "mx1.example.org. 300 IN A 192.0.2.7");
	fake_dns_add(DA_T_AAAA, "mx1.example.org", 0,
	    "mx1.example.org. 300 IN AAAA 2001:db8::7");
	fake_dns_add(DA_T_PTR, "7.2.0.192.in-addr.arpa", 0,
	    "7.2.0.192.in-addr.arpa. 300 IN PTR mx1.example.org.");
	ask("example.org", DA_T_MX);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.rr[0].pref, 10);
	assert_string_equal(got.rr[0].text, "mx1.example.org");
	assert_string_equal(got.rr[1].text, ".");
	ask("mx1.example.org", DA_T_A);
	assert_int_equal(got.n, 1);
	assert_memory_equal(got.rr[0].addr, "\xc0\x00\x02\x07", 4);
	ask("mx1.example.org", DA_T_AAAA);
	inet_pton(AF_INET6, "2001:db8::7", v6);
	assert_memory_equal(got.rr[0].addr, v6, 16);
	ask("7.2.0.192.in-addr.arpa", DA_T_PTR);
	assert_string_equal(got.rr[0].text, "mx1.example.org");
}

static void
test_statuses(void **st)
{
	(void)st;
	fake_dns_add(
	    DA_T_A, "only-a.example", 0, "only-a.example. 300 IN A 192.0.2.1");
	fake_dns_add(DA_T_TXT, "fail.example", 2, NULL);
	fake_dns_add(DA_T_TXT, "slow.example", FAKE_DNS_TIMEOUT, NULL);
	ask("only-a.example", DA_T_TXT);
	assert_int_equal(got.status, DA_NODATA);
	ask("absent.example", DA_T_TXT);
	assert_int_equal(got.status, DA_NXDOMAIN);
	ask("fail.example", DA_T_TXT);
	assert_int_equal(got.status, DA_TEMP);
	ask("slow.example", DA_T_TXT);
	assert_int_equal(got.status, DA_TEMP);
	/* records of another type in the answer are not data */
	ask("only-a.example", DA_T_MX);
	assert_int_equal(got.status, DA_NODATA);
}

static void
test_bogus_and_garbage(void **st)
{
	static const unsigned char junk[] = {1, 2, 3, 4, 5};

	(void)st;
	assert_int_equal(dns_answer_parse(&got, DA_T_TXT, 0, -1, NULL, 0), 0);
	assert_int_equal(got.status, DA_TEMP);
	assert_int_equal(got.secure, -1);
	assert_int_equal(
	    dns_answer_parse(&got, DA_T_TXT, 0, 0, junk, sizeof(junk)), -1);
	assert_int_equal(got.status, DA_TEMP);
	assert_int_equal(dns_answer_parse(&got, DA_T_TXT, 3, 0, NULL, 0), 0);
	assert_int_equal(got.status, DA_NXDOMAIN);
	assert_string_equal(dns_answer_status_str(DA_NODATA), "nodata");
}

static void
test_reverse_names(void **st)
{
	unsigned char a4[4] = {192, 0, 2, 1}, a6[16];
	char out[80];

	(void)st;
	assert_int_equal(
	    dns_answer_reverse_name(AF_INET, a4, out, sizeof(out)), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	inet_pton(AF_INET6, "2001:db8::cb01", a6);
	assert_int_equal(
	    dns_answer_reverse_name(AF_INET6, a6, out, sizeof(out)), 0);
	assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
				 "0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_answer_reverse_name(AF_UNIX, a4, out, 80), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_txt_strings_joined, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_txt_with_nul_octet, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_mx_a_aaaa_ptr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_bogus_and_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_reverse_names, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
