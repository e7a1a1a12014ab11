/*
 * test_spf_record.c - the SPF record parser (plugins/spf/spf_record.c)
 * and the macro expander (plugins/spf/spf_macro.c), compiled in.
 *
 * Parser: record selection (version tag, case, what follows it), every
 * mechanism with its arguments (domain-spec, dual CIDR lengths, ip4 and
 * ip6 networks), qualifiers, modifiers (redirect, exp, unknown ones
 * ignored, duplicates refused), and syntax errors that must give
 * permerror (unknown mechanisms, bad CIDR lengths, bad toplabels,
 * control and non-ASCII octets, bad macros).
 * Macros: every example of RFC 7208 section 7.4 (IPv4 and IPv6), the
 * URL-escaping upper-case letters, the escapes %% %_ %-, c/r/t only in
 * explanations, zero transformer digits, overflow of the output buffer.
 * Not here: evaluation (test_spf_eval.c), the plugin (test_plugin_spf.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../plugins/spf/spf_macro.c"
#include "../../plugins/spf/spf_record.c"

static int
parse(const char *s, struct spf_record *r)
{
	char err[200];
	int rc = spf_record_parse(s, strlen(s), r, err, sizeof(err));

	if (rc != 0)
		assert_true(err[0] != '\0');
	return rc;
}

static void
test_select(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf1("v=spf1", 6));
	assert_true(spf_record_is_spf1("v=spf1 -all", 11));
	assert_true(spf_record_is_spf1("V=SpF1 -all", 11));
	assert_false(spf_record_is_spf1("v=spf10", 7));
	assert_false(spf_record_is_spf1("v=spf1-all", 10));
	assert_false(spf_record_is_spf1("v=spf", 5));
	assert_false(spf_record_is_spf1(" v=spf1", 7));
	assert_false(spf_record_is_spf1("spf2.0/pra", 10));
}

static void
test_mechanisms(void **state)
{
	struct spf_record r;

	(void)state;
	assert_int_equal(parse("v=spf1 a mx:example.org/24//64 ~ptr "
			       "?include:_spf.example.com -exists:%{i}.x.org "
			       "ip4:192.0.2.0/24 ip6:2001:db8::/32 +all",
			     &r),
	    0);
	assert_int_equal(r.nmech, 8);
	assert_int_equal(r.mech[0].kind, SPF_MECH_A);
	assert_null(r.mech[0].spec);
	assert_int_equal(r.mech[0].cidr4, 32);
	assert_int_equal(r.mech[0].cidr6, 128);
	assert_int_equal(r.mech[0].qual, SPF_PASS);
	assert_int_equal(r.mech[1].kind, SPF_MECH_MX);
	assert_int_equal(r.mech[1].spec_len, strlen("example.org"));
	assert_memory_equal(r.mech[1].spec, "example.org", 11);
	assert_int_equal(r.mech[1].cidr4, 24);
	assert_int_equal(r.mech[1].cidr6, 64);
	assert_int_equal(r.mech[2].kind, SPF_MECH_PTR);
	assert_int_equal(r.mech[2].qual, SPF_SOFTFAIL);
	assert_int_equal(r.mech[3].kind, SPF_MECH_INCLUDE);
	assert_int_equal(r.mech[3].qual, SPF_NEUTRAL);
	assert_int_equal(r.mech[4].kind, SPF_MECH_EXISTS);
	assert_int_equal(r.mech[4].qual, SPF_FAIL);
	assert_int_equal(r.mech[5].kind, SPF_MECH_IP4);
	assert_int_equal(r.mech[5].cidr4, 24);
	assert_int_equal(r.mech[5].addr[0], 192);
	assert_int_equal(r.mech[6].kind, SPF_MECH_IP6);
	assert_int_equal(r.mech[6].cidr6, 32);
	assert_int_equal(r.mech[6].addr[1], 0x01);
	assert_int_equal(r.mech[7].kind, SPF_MECH_ALL);
	assert_true(r.has_all);
	assert_memory_equal(r.mech[7].term, "+all", 4);
	spf_record_free(&r);

	/* only an ip6 length; case-insensitive names */
	assert_int_equal(parse("v=spf1 A//48 MX/0 IP4:10.0.0.1", &r), 0);
	assert_int_equal(r.mech[0].cidr4, 32);
	assert_int_equal(r.mech[0].cidr6, 48);
	assert_int_equal(r.mech[1].cidr4, 0);
	assert_int_equal(r.mech[2].cidr4, 32);
	spf_record_free(&r);

	/* empty record, spaces */
	assert_int_equal(parse("v=spf1", &r), 0);
	assert_int_equal(r.nmech, 0);
	spf_record_free(&r);
	assert_int_equal(parse("v=spf1   a   -all  ", &r), 0);
	assert_int_equal(r.nmech, 2);
	spf_record_free(&r);
}

static void
test_modifiers(void **state)
{
	struct spf_record r;

	(void)state;
	assert_int_equal(parse("v=spf1 redirect=_spf.example.org "
			       "exp=explain._spf.%{d} moo.cow-far_out=man:dog/"
			       "cat",
			     &r),
	    0);
	assert_int_equal(r.nmech, 0);
	assert_non_null(r.redirect);
	assert_memory_equal(r.redirect, "_spf.example.org", 16);
	assert_int_equal(r.exp_len, strlen("explain._spf.%{d}"));
	assert_false(r.has_all);
	spf_record_free(&r);
	/* duplicates are errors; unknown modifiers need a valid value */
	assert_int_equal(parse("v=spf1 redirect=a.org redirect=b.org", &r), -1);
	spf_record_free(&r);
	assert_int_equal(parse("v=spf1 exp=a.org exp=b.org", &r), -1);
	spf_record_free(&r);
	assert_int_equal(parse("v=spf1 foo=%{z}", &r), -1);
	spf_record_free(&r);
	assert_int_equal(parse("v=spf1 foo=", &r), 0);
	spf_record_free(&r);
	/* "redirect:" is not a modifier but an unknown mechanism */
	assert_int_equal(parse("v=spf1 redirect:a.org", &r), -1);
	spf_record_free(&r);
	/* a name starting with a digit is no modifier */
	assert_int_equal(parse("v=spf1 1foo=bar", &r), -1);
	spf_record_free(&r);
}

static void
test_syntax_errors(void **state)
{
	static const char *const bad[] = {
	    "v=spf1 moo",
	    "v=spf1 moo.cow/far_out=man:dog/cat",
	    "v=spf1 moo.cow:far_out=man:dog/cat",
	    "v=spf1 a:",
	    "v=spf1 a:com",
	    "v=spf1 a:com.",
	    "v=spf1 a:example.123",
	    "v=spf1 a:example.-com",
	    "v=spf1 a:example.com-",
	    "v=spf1 a/33",
	    "v=spf1 a//129",
	    "v=spf1 a/024",
	    "v=spf1 a/",
	    "v=spf1 mx:example.com/",
	    "v=spf1 ip4",
	    "v=spf1 ip4:",
	    "v=spf1 ip4:1.2.3",
	    "v=spf1 ip4:1.2.3.4/33",
	    "v=spf1 ip4:1.2.3.4//32",
	    "v=spf1 ip4:::1",
	    "v=spf1 ip6:1.2.3.4",
	    "v=spf1 ip6:::1/129",
	    "v=spf1 include",
	    "v=spf1 include:",
	    "v=spf1 exists",
	    "v=spf1 all:x.org",
	    "v=spf1 allx",
	    "v=spf1 -+all",
	    "v=spf1 a:%{x}.example.com",
	    "v=spf1 a:%{d0}.example.com",
	    "v=spf1 a:%{c}.example.com",
	    "v=spf1 a:%{r}.example.com",
	    "v=spf1 a:%{t}.example.com",
	    "v=spf1 a:%{d.example.com",
	    "v=spf1 a:%x.example.com",
	    "v=spf1 a:foo%.example.com",
	    "v=spf1 a:ctrl.example.com\rptr -all",
	    "v=spf1 a:example.net \x96"
	    "all",
	    "v=spf1 \x80"
	    "a:example.net -all",
	    "v=spf1 ip4:192.0.2.5\n include:x.org ~all",
	    "v=spf1 redirect=",
	    "v=spf1 redirect=com",
	    "v=spf1 exp=",
	};
	struct spf_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r);

		if (rc != -1)
			fail_msg("accepted: %s", bad[i]);
		spf_record_free(&r);
	}
	/* an embedded NUL is an error too */
	char err[100];
	assert_int_equal(
	    spf_record_parse("v=spf1 a:x.org\0 -all", 20, &r, err, sizeof(err)),
	    -1);
	spf_record_free(&r);
}

static void
test_domain_spec(void **state)
{
	(void)state;
	assert_true(spf_domain_spec_ok("example.com", 11));
	assert_true(spf_domain_spec_ok("example.com.", 12));
	assert_true(spf_domain_spec_ok("_spf.example-1.com", 18));
	assert_true(spf_domain_spec_ok("a.123-456", 9));
	assert_true(spf_domain_spec_ok("%{d}", 4));
	assert_true(spf_domain_spec_ok("%{ir}.%{v}._spf.%{d2}", 21));
	assert_true(spf_domain_spec_ok("foo.%{d}", 8));
	assert_true(spf_domain_spec_ok("foo%%", 5));
	assert_false(spf_domain_spec_ok("", 0));
	assert_false(spf_domain_spec_ok("com", 3));
	assert_false(spf_domain_spec_ok("%{d}.123", 8));
	assert_false(spf_domain_spec_ok("%{d}com", 7));
	assert_false(spf_domain_spec_ok("example..", 9));
}

/* ------------------------------------------------------------- macros */

static void
env4(struct spf_macro_env *e)
{
	memset(e, 0, sizeof(*e));
	e->local = "strong-bad";
	e->sdomain = "email.example.com";
	e->domain = "email.example.com";
	e->family = AF_INET;
	inet_pton(AF_INET, "192.0.2.3", e->ip);
	e->helo = "mx.example.org";
	e->receiver = "mx.example.net";
	e->now = 1234567890;
}

static void
expect(
    const struct spf_macro_env *e, bool exp, const char *in, const char *want)
{
	char out[SPF_MACRO_OUT_MAX + 1];
	size_t len = 0;
	int rc =
	    spf_macro_expand(in, strlen(in), e, exp, out, sizeof(out), &len);

	if (rc != 0)
		fail_msg("%s: rc %d", in, rc);
	if (strcmp(out, want) != 0 || len != strlen(want))
		fail_msg("%s: got \"%s\" want \"%s\"", in, out, want);
	assert_true(spf_macro_check(in, strlen(in), exp));
}

static void
test_rfc_examples(void **state)
{
	struct spf_macro_env e;

	(void)state;
	env4(&e);
	/* RFC 7208 section 7.4 */
	expect(&e, false, "%{s}", "strong-bad@email.example.com");
	expect(&e, false, "%{o}", "email.example.com");
	expect(&e, false, "%{d}", "email.example.com");
	expect(&e, false, "%{d4}", "email.example.com");
	expect(&e, false, "%{d3}", "email.example.com");
	expect(&e, false, "%{d2}", "example.com");
	expect(&e, false, "%{d1}", "com");
	expect(&e, false, "%{dr}", "com.example.email");
	expect(&e, false, "%{d2r}", "example.email");
	expect(&e, false, "%{l}", "strong-bad");
	expect(&e, false, "%{l-}", "strong.bad");
	expect(&e, false, "%{lr}", "strong-bad");
	expect(&e, false, "%{lr-}", "bad.strong");
	expect(&e, false, "%{l1r-}", "strong");
	expect(&e, false, "%{ir}.%{v}._spf.%{d2}",
	    "3.2.0.192.in-addr._spf.example.com");
	expect(&e, false, "%{lr-}.lp._spf.%{d2}",
	    "bad.strong.lp._spf.example.com");
	expect(&e, false, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expect(&e, false, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expect(&e, false, "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net");
	/* the IPv6 example */
	e.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::cb01", e.ip);
	expect(&e, false, "%{ir}.%{v}._spf.%{d2}",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	    "ip6._spf.example.com");
	expect(&e, true, "%{c}", "2001:db8::cb01");
}

static void
test_macro_letters(void **state)
{
	struct spf_macro_env e;
	char out[64];
	size_t len;

	(void)state;
	env4(&e);
	expect(&e, false, "%{h}", "mx.example.org");
	expect(&e, false, "%{i}", "192.0.2.3");
	expect(&e, false, "%{v}", "in-addr");
	expect(&e, false, "%{p}", "unknown");
	e.validated = "mail.example.com";
	expect(&e, false, "%{p2}", "example.com");
	expect(
	    &e, true, "%{c} %{r} %{t}", "192.0.2.3 mx.example.net 1234567890");
	e.receiver = NULL;
	expect(&e, true, "%{r}", "unknown");
	/* escapes and URL encoding of the upper-case letters */
	expect(&e, false, "a%%b%_c%-d", "a%b c%20d");
	e.local = "jack&jill=up";
	expect(&e, false, "%{L}", "jack%26jill%3Dup");
	expect(&e, false, "%{S}", "jack%26jill%3Dup%40email.example.com");
	expect(&e, false, "%{l}", "jack&jill=up");
	/* delimiters: several at once, result joined with dots */
	e.local = "a-b+c_d";
	expect(&e, false, "%{l-+_}", "a.b.c.d");
	expect(&e, false, "%{l2r-+_}", "b.a");
	/* a large digit keeps all parts */
	expect(&e, false, "%{d99999}", "email.example.com");
	/* errors */
	assert_int_equal(
	    spf_macro_expand("%{d0}", 5, &e, false, out, sizeof(out), &len),
	    -1);
	assert_int_equal(
	    spf_macro_expand("%{c}", 4, &e, false, out, sizeof(out), &len), -1);
	assert_int_equal(
	    spf_macro_expand("%{q}", 4, &e, false, out, sizeof(out), &len), -1);
	assert_int_equal(
	    spf_macro_expand("%{d", 3, &e, false, out, sizeof(out), &len), -1);
	assert_int_equal(
	    spf_macro_expand("%", 1, &e, false, out, sizeof(out), &len), -1);
	assert_int_equal(
	    spf_macro_expand("a b", 3, &e, false, out, sizeof(out), &len), -1);
	assert_int_equal(
	    spf_macro_expand("a b", 3, &e, true, out, sizeof(out), &len), 0);
	assert_int_equal(
	    spf_macro_expand("\x80", 1, &e, true, out, sizeof(out), &len), -1);
	/* output that does not fit */
	assert_int_equal(
	    spf_macro_expand("%{s}%{s}%{s}", 12, &e, false, out, 16, &len), -2);
	assert_true(spf_macro_uses_p("x.%{p}.y", 8));
	assert_true(spf_macro_uses_p("%{P2}", 5));
	assert_false(spf_macro_uses_p("%%{p}", 5));
	assert_false(spf_macro_uses_p("%{d}", 4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_select),
	    cmocka_unit_test(test_mechanisms),
	    cmocka_unit_test(test_modifiers),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_domain_spec),
	    cmocka_unit_test(test_rfc_examples),
	    cmocka_unit_test(test_macro_letters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
