/*
 * test_nexthop.c - route transports parsed into next hops, literal
 * addresses, and the outbound address policy (no loopback, unspecified
 * or own listen addresses unless allowed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "config.h"
#include "nexthop.h"

static void
test_parse(void **state)
{
	struct nexthop nh;

	(void)state;
	assert_int_equal(nexthop_parse("mx", &nh), 0);
	assert_int_equal(nh.kind, NH_MX);
	assert_int_equal(nh.port, 25);
	assert_int_equal(nexthop_parse("smtp:[192.0.2.1]:587", &nh), 0);
	assert_int_equal(nh.kind, NH_SMTP);
	assert_string_equal(nh.host, "192.0.2.1");
	assert_int_equal(nh.port, 587);
	assert_int_equal(nexthop_parse("lmtp:[2001:db8::1]:24", &nh), 0);
	assert_int_equal(nh.kind, NH_LMTP);
	assert_string_equal(nh.host, "2001:db8::1");
	assert_int_equal(nexthop_parse("smtp:relay.example:25", &nh), 0);
	assert_string_equal(nh.host, "relay.example");
	assert_int_equal(nexthop_parse("lmtp:unix:/run/lmtp.sock", &nh), 0);
	assert_true(nh.unix_socket);
	assert_string_equal(nh.path, "/run/lmtp.sock");
	assert_int_equal(nexthop_parse("smtp:[192.0.2.1]", &nh), -1);
	assert_int_equal(nexthop_parse("smtp:[192.0.2.1]:0", &nh), -1);
	assert_int_equal(nexthop_parse("smtp:[192.0.2.1]:70000", &nh), -1);
	assert_int_equal(nexthop_parse("lmtp:unix:relative", &nh), -1);
	assert_int_equal(nexthop_parse("ftp:x:1", &nh), -1);
}

static void
test_literal(void **state)
{
	struct nexthop nh;
	struct sockaddr_storage ss;
	socklen_t len;

	(void)state;
	nexthop_parse("smtp:[192.0.2.1]:587", &nh);
	assert_true(nexthop_literal(&nh, &ss, &len));
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 587);
	nexthop_parse("smtp:relay.example:25", &nh);
	assert_false(nexthop_literal(&nh, &ss, &len));
	nexthop_parse("lmtp:unix:/run/x", &nh);
	assert_true(nexthop_literal(&nh, &ss, &len));
	assert_int_equal(ss.ss_family, AF_UNIX);
}

static bool
allowed(const struct rmx_config *cfg, const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		inet_pton(
		    AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	} else {
		ss.ss_family = AF_INET;
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	}
	return nexthop_addr_allowed(cfg, (struct sockaddr *)&ss);
}

static void
test_address_policy(void **state)
{
	char err[256];
	struct rmx_config *cfg = config_load_string(
	    "listeners = ( { address = \"192.0.2.25:25\"; } );", "t", err,
	    sizeof(err));

	(void)state;
	assert_non_null(cfg);
	assert_false(allowed(cfg, "127.0.0.1"));
	assert_false(allowed(cfg, "127.1.2.3"));
	assert_false(allowed(cfg, "0.0.0.0"));
	assert_false(allowed(cfg, "::1"));
	assert_false(allowed(cfg, "::"));
	assert_false(allowed(cfg, "::ffff:127.0.0.1"));
	assert_false(allowed(cfg, "192.0.2.25")); /* our own listener */
	assert_true(allowed(cfg, "192.0.2.26"));
	assert_true(allowed(cfg, "2001:db8::1"));
	cfg->outbound.allow_loopback = true;
	assert_true(allowed(cfg, "127.0.0.1"));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_literal),
	    cmocka_unit_test(test_address_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
