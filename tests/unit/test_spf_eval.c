/*
 * test_spf_eval.c - the SPF evaluator (plugins/spf/spf_eval.c, with
 * spf_record.c and spf_macro.c compiled in) driven by synthetic struct
 * dns_answer values from a table in this file: no DNS, no packets.
 *
 * Covered: ip4/ip6 with CIDR lengths, IPv4-mapped clients, a and mx (dual
 * CIDR), include semantics (pass matches, fail/softfail/neutral do not,
 * none and permerror give permerror, temperror propagates), redirect
 * (replaces the domain, ignored when "all" exists, to none -> permerror),
 * exists, ptr and %{p} (validated names only), the 10 DNS-mechanism
 * limit, the 2-void-lookup limit, the 10-MX limit and the 10-PTR-name
 * cut, record selection (none, several -> permerror), temperror on DNS
 * failures, the HELO identity with "postmaster", exp= (fetched, macro
 * expanded with c/r/t, ignored when broken: the default then), the
 * abort (deadline) path, and the questions asked.
 * Not here: record syntax (test_spf_record.c), the plugin
 * (test_plugin_spf.c), the RFC 7208 suite (tests/integration).
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
#include <strings.h>
#include <sys/socket.h>

#include "../../plugins/common/dns_answer.c"
#include "../../plugins/spf/spf_eval.c"
#include "../../plugins/spf/spf_macro.c"
#include "../../plugins/spf/spf_record.c"

/* One table entry: name, type, then either TEMP, or records separated
 * by '|' (TXT text, MX "pref name", PTR name, A/AAAA address). A name
 * with no entry of the asked type but others: NODATA; else NXDOMAIN. */
struct rr_entry {
	const char *name;
	uint16_t type;
	const char *data; /* NULL: DA_TEMP */
};

static const struct rr_entry *table;
static size_t ntable;
static char asked[512][300];
static size_t nasked;

static void
answer_for(const struct spf_query *q, struct dns_answer *a)
{
	const struct rr_entry *e = NULL;
	bool exists = false;

	memset(a, 0, sizeof(*a));
	a->qtype = q->type;
	for (size_t i = 0; i < ntable; i++) {
		if (strcasecmp(table[i].name, q->name) != 0)
			continue;
		exists = true;
		if (table[i].type == q->type)
			e = &table[i];
	}
	if (e == NULL) {
		a->status = exists ? DA_NODATA : DA_NXDOMAIN;
		return;
	}
	if (e->data == NULL) {
		a->status = DA_TEMP;
		return;
	}
	char *copy = strdup(e->data), *save = NULL;
	a->rr = calloc(64, sizeof(*a->rr));
	assert_non_null(a->rr);
	for (char *t = strtok_r(copy, "|", &save); t != NULL && a->n < 64;
	     t = strtok_r(NULL, "|", &save)) {
		struct da_rr *r = &a->rr[a->n++];

		switch (q->type) {
		case DA_T_A:
			assert_int_equal(inet_pton(AF_INET, t, r->addr), 1);
			break;
		case DA_T_AAAA:
			assert_int_equal(inet_pton(AF_INET6, t, r->addr), 1);
			break;
		case DA_T_MX: {
			char *sp = strchr(t, ' ');
			r->pref = (uint16_t)atoi(t);
			r->text = strdup(sp + 1);
			r->len = strlen(r->text);
			break;
		}
		default:
			r->text = strdup(t);
			r->len = strlen(t);
			break;
		}
	}
	free(copy);
	a->status = a->n > 0 ? DA_OK : DA_NODATA;
}

struct outcome {
	enum spf_result r;
	const char *exp, *mech, *reason;
	unsigned queries;
};

static struct outcome
run_ex(const char *ip, const char *sender, const char *helo,
    const struct rr_entry *t, size_t n, const char *receiver)
{
	static struct spf_eval *ev;
	struct spf_eval_opts o = {receiver, "DEFAULT", 1234567890};
	unsigned char addr[16];
	int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	struct spf_query q;
	struct outcome out;
	static char exp[SPF_EXP_MAX], mech[256], reason[256];

	table = t;
	ntable = n;
	nasked = 0;
	assert_int_equal(inet_pton(family, ip, addr), 1);
	if (ev != NULL)
		spf_eval_free(ev);
	ev = spf_eval_new(family, addr, sender, helo, &o);
	assert_non_null(ev);
	while (spf_eval_step(ev, &q) == SPF_NEED_DNS) {
		struct dns_answer a;

		assert_true(nasked < 512);
		snprintf(
		    asked[nasked++], sizeof(asked[0]), "%u %s", q.type, q.name);
		answer_for(&q, &a);
		spf_eval_answer(ev, &a);
		dns_answer_free(&a);
	}
	out.r = spf_eval_result(ev);
	snprintf(exp, sizeof(exp), "%s", spf_eval_explanation(ev));
	snprintf(mech, sizeof(mech), "%s", spf_eval_mechanism(ev));
	snprintf(reason, sizeof(reason), "%s", spf_eval_reason(ev));
	out.exp = exp;
	out.mech = mech;
	out.reason = reason;
	out.queries = spf_eval_queries(ev);
	assert_int_equal(out.queries, nasked);
	spf_eval_free(ev);
	ev = NULL;
	return out;
}

#define RUN(ip, sender, t)                                                  \
	run_ex(ip, sender, "helo.example.net", t, sizeof(t) / sizeof(t[0]), \
	    "mx.receiver.example")

static bool
was_asked(const char *what)
{
	for (size_t i = 0; i < nasked; i++)
		if (strcmp(asked[i], what) == 0)
			return true;
	return false;
}

static void
test_ip(void **state)
{
	static const struct rr_entry t[] = {
	    {"example.org", DA_T_TXT,
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all|other text"},
	};
	struct outcome o;

	(void)state;
	o = RUN("192.0.2.77", "user@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "ip4:192.0.2.0/24");
	assert_int_equal(o.queries, 1);
	o = RUN("2001:db8:1::1", "user@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "ip6:2001:db8::/32");
	o = RUN("192.0.3.1", "user@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_string_equal(o.exp, "DEFAULT");
	assert_string_equal(o.mech, "-all");
	/* IPv4-mapped IPv6 is IPv4 */
	o = RUN("::ffff:192.0.2.1", "user@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "ip4:192.0.2.0/24");
}

static void
test_a_mx(void **state)
{
	static const struct rr_entry t[] = {
	    {"example.org", DA_T_TXT, "v=spf1 a/24 mx:mx.example.org//64 ~all"},
	    {"example.org", DA_T_A, "198.51.100.10"},
	    {"mx.example.org", DA_T_MX,
		"10 mail1.example.org|20 mail2.example.org"},
	    {"mail1.example.org", DA_T_A, "203.0.113.1"},
	    {"mail2.example.org", DA_T_A, "203.0.113.2"},
	    {"mail2.example.org", DA_T_AAAA, "2001:db8:5::2"},
	};
	struct outcome o;

	(void)state;
	o = RUN("198.51.100.200", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "a/24");
	o = RUN("203.0.113.2", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "mx:mx.example.org//64");
	assert_true(was_asked("15 mx.example.org"));
	assert_true(was_asked("1 mail2.example.org"));
	/* an IPv6 client asks AAAA, with the /64 */
	o = RUN("2001:db8:5::ffff", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_true(was_asked("28 example.org"));
	o = RUN("203.0.113.3", "u@example.org", t);
	assert_int_equal(o.r, SPF_SOFTFAIL);
	assert_string_equal(o.exp, ""); /* only a fail explains */
}

static void
test_include(void **state)
{
	static const struct rr_entry t[] = {
	    {"example.org", DA_T_TXT,
		"v=spf1 include:fail.example include:soft.example "
		"include:neutral.example include:pass.example -all"},
	    {"fail.example", DA_T_TXT, "v=spf1 -all exp=e.fail.example"},
	    {"soft.example", DA_T_TXT, "v=spf1 ~all"},
	    {"neutral.example", DA_T_TXT, "v=spf1 ?all"},
	    {"pass.example", DA_T_TXT, "v=spf1 ip4:192.0.2.1 -all"},
	    {"e.fail.example", DA_T_TXT, "not used"},
	    {"none.example", DA_T_TXT, "v=spf1 include:nxdomain.example +all"},
	    {"perm.example", DA_T_TXT, "v=spf1 include:bad.example +all"},
	    {"bad.example", DA_T_TXT, "v=spf1 moo"},
	    {"temp.example", DA_T_TXT, "v=spf1 include:t.example +all"},
	    {"t.example", DA_T_TXT, NULL},
	    {"nodata.example", DA_T_TXT, "v=spf1 include:t2.example +all"},
	    {"t2.example", DA_T_A, "192.0.2.9"},
	};
	struct outcome o;

	(void)state;
	o = RUN("192.0.2.1", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_string_equal(o.mech, "include:pass.example");
	o = RUN("192.0.2.2", "u@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_string_equal(o.exp, "DEFAULT"); /* the include's exp unused */
	assert_false(was_asked("16 e.fail.example"));
	o = RUN("192.0.2.2", "u@none.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
	o = RUN("192.0.2.2", "u@perm.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
	o = RUN("192.0.2.2", "u@temp.example", t);
	assert_int_equal(o.r, SPF_TEMPERROR);
	o = RUN("192.0.2.2", "u@nodata.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
}

static void
test_redirect(void **state)
{
	static const struct rr_entry t[] = {
	    {"example.org", DA_T_TXT,
		"v=spf1 ip4:192.0.2.1 redirect=_spf.example.net "
		"exp=e.example.org"},
	    {"_spf.example.net", DA_T_TXT,
		"v=spf1 ip4:192.0.2.2 -all exp=e.example.net"},
	    {"e.example.net", DA_T_TXT, "%{d} says no to %{i}"},
	    {"e.example.org", DA_T_TXT, "example.org says no"},
	    {"all.example", DA_T_TXT, "v=spf1 ?all redirect=_spf.example.net"},
	    {"none.example", DA_T_TXT, "v=spf1 redirect=nx.example"},
	};
	struct outcome o;

	(void)state;
	o = RUN("192.0.2.1", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	o = RUN("192.0.2.2", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	/* the target's exp, and %{d} is the target domain */
	o = RUN("192.0.2.3", "u@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_string_equal(o.exp, "_spf.example.net says no to 192.0.2.3");
	/* "all" anywhere: redirect is ignored */
	o = RUN("192.0.2.2", "u@all.example", t);
	assert_int_equal(o.r, SPF_NEUTRAL);
	assert_false(was_asked("16 _spf.example.net"));
	o = RUN("192.0.2.2", "u@none.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
}

static void
test_limits(void **state)
{
	static const struct rr_entry t[] = {
	    {"ten.example", DA_T_TXT,
		"v=spf1 a:h.example a:h.example a:h.example a:h.example "
		"a:h.example mx:h.example a:h.example a:h.example "
		"include:i.example ip4:192.0.2.1"},
	    {"eleven.example", DA_T_TXT,
		"v=spf1 a:h.example a:h.example a:h.example a:h.example "
		"a:h.example mx:h.example a:h.example a:h.example "
		"include:i.example ip4:192.0.2.2 exists:h.example"},
	    {"i.example", DA_T_TXT, "v=spf1 a:h.example"},
	    {"h.example", DA_T_A, "198.51.100.1"},
	    {"h.example", DA_T_MX, "0 h.example"},
	    {"void2.example", DA_T_TXT,
		"v=spf1 a:nx1.example exists:nx2.example a:h.example -all"},
	    {"void3.example", DA_T_TXT,
		"v=spf1 a:nx1.example mx:nx2.example a:nx3.example +all"},
	    {"mx10.example", DA_T_TXT, "v=spf1 mx ?all"},
	    {"mx10.example", DA_T_MX,
		"0 a.example|0 b.example|0 c.example|0 d.example|0 e.example|"
		"0 f.example|0 g.example|0 h.example|0 i.example|0 j.example"},
	    {"mx11.example", DA_T_TXT, "v=spf1 mx -all"},
	    {"mx11.example", DA_T_MX,
		"0 a.example|0 b.example|0 c.example|0 d.example|0 e.example|"
		"0 f.example|0 g.example|0 h.example|0 i.example|0 j.example|"
		"0 k.example"},
	};
	struct outcome o;

	(void)state;
	/* 10 DNS mechanisms (includes count and recurse): fine */
	o = RUN("192.0.2.1", "u@ten.example", t);
	assert_int_equal(o.r, SPF_PASS);
	/* the 11th is a permerror, even though ip4 would have matched
	 * before it: the limit is checked when the 11th is reached */
	o = RUN("192.0.2.3", "u@eleven.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
	assert_string_equal(o.reason, "too many DNS lookups");
	o = RUN("192.0.2.2", "u@eleven.example", t);
	assert_int_equal(o.r, SPF_PASS);
	/* void lookups: two are fine, the third is a permerror */
	o = RUN("192.0.2.3", "u@void2.example", t);
	assert_int_equal(o.r, SPF_FAIL);
	o = RUN("192.0.2.3", "u@void3.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
	assert_string_equal(o.reason, "too many void lookups");
	/* 10 MX names are looked at; 11 are a permerror */
	o = RUN("192.0.2.3", "u@mx10.example", t);
	assert_int_equal(o.r, SPF_NEUTRAL);
	assert_int_equal(o.queries, 12);
	o = RUN("192.0.2.3", "u@mx11.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
}

static void
test_ptr_and_p(void **state)
{
	static const struct rr_entry t[] = {
	    {"example.org", DA_T_TXT, "v=spf1 ptr -all"},
	    {"sub.example", DA_T_TXT, "v=spf1 ptr:example.org -all"},
	    {"p.example", DA_T_TXT, "v=spf1 exists:%{p}.ok.example -all"},
	    {"mail.example.org.ok.example", DA_T_A, "127.0.0.2"},
	    {"1.2.0.192.in-addr.arpa", DA_T_PTR,
		"forged.example.org|mail.example.org"},
	    {"mail.example.org", DA_T_A, "192.0.2.1"},
	    {"forged.example.org", DA_T_A, "192.0.2.99"},
	    {"2.2.0.192.in-addr.arpa", DA_T_PTR, "forged.example.org"},
	    {"3.2.0.192.in-addr.arpa", DA_T_PTR,
		"n1.x|n2.x|n3.x|n4.x|n5.x|n6.x|n7.x|n8.x|n9.x|n10.x|"
		"mail.example.org"},
	    {"4.2.0.192.in-addr.arpa", DA_T_PTR, NULL},
	};
	struct outcome o;

	(void)state;
	o = RUN("192.0.2.1", "u@example.org", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_true(was_asked("12 1.2.0.192.in-addr.arpa"));
	o = RUN("192.0.2.1", "u@sub.example", t);
	assert_int_equal(o.r, SPF_PASS);
	/* a name that does not resolve back does not count */
	o = RUN("192.0.2.2", "u@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	/* only the first 10 PTR names are looked at */
	o = RUN("192.0.2.3", "u@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_false(was_asked("1 mail.example.org"));
	/* a DNS error in the PTR lookup: no match, no temperror */
	o = RUN("192.0.2.4", "u@example.org", t);
	assert_int_equal(o.r, SPF_FAIL);
	/* %{p}: the validated name */
	o = RUN("192.0.2.1", "u@p.example", t);
	assert_int_equal(o.r, SPF_PASS);
	assert_true(was_asked("1 mail.example.org.ok.example"));
	o = RUN("192.0.2.2", "u@p.example", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_true(was_asked("1 unknown.ok.example"));
}

static void
test_selection_and_errors(void **state)
{
	static const struct rr_entry t[] = {
	    {"two.example", DA_T_TXT, "v=spf1 +all|v=spf1 -all"},
	    {"none.example", DA_T_TXT, "v=spf10 +all|hello"},
	    {"temp.example", DA_T_TXT, NULL},
	    {"atemp.example", DA_T_TXT, "v=spf1 a -all"},
	    {"atemp.example", DA_T_A, NULL},
	    {"syntax.example", DA_T_TXT, "v=spf1 ip4:192.0.2.1 -all moo"},
	    {"empty.example", DA_T_TXT, "v=spf1"},
	};
	struct outcome o;

	(void)state;
	assert_int_equal(RUN("192.0.2.1", "u@two.example", t).r, SPF_PERMERROR);
	assert_int_equal(RUN("192.0.2.1", "u@none.example", t).r, SPF_NONE);
	assert_int_equal(RUN("192.0.2.1", "u@nx.example", t).r, SPF_NONE);
	assert_int_equal(
	    RUN("192.0.2.1", "u@temp.example", t).r, SPF_TEMPERROR);
	assert_int_equal(
	    RUN("192.0.2.1", "u@atemp.example", t).r, SPF_TEMPERROR);
	o = RUN("192.0.2.1", "u@syntax.example", t);
	assert_int_equal(o.r, SPF_PERMERROR);
	assert_non_null(strstr(o.reason, "moo"));
	assert_int_equal(RUN("192.0.2.1", "u@empty.example", t).r, SPF_NEUTRAL);
	/* malformed domains: none without a query */
	o = RUN("192.0.2.1", "u@a..example", t);
	assert_int_equal(o.r, SPF_NONE);
	assert_int_equal(o.queries, 0);
	assert_int_equal(RUN("192.0.2.1", "u@localhost", t).r, SPF_NONE);
	assert_int_equal(RUN("192.0.2.1", "u@[192.0.2.1]", t).r, SPF_NONE);
}

static void
test_helo_and_exp(void **state)
{
	static const struct rr_entry t[] = {
	    {"helo.example.net", DA_T_TXT, "v=spf1 -all exp=%{l}.exp.example"},
	    {"postmaster.exp.example", DA_T_TXT,
		"%{l} at %{o} via %{h} from %{c} to %{r} at %{t}"},
	    {"example.org", DA_T_TXT, "v=spf1 -all exp=two.example"},
	    {"two.example", DA_T_TXT, "one|two"},
	    {"bad.example", DA_T_TXT, "v=spf1 -all exp=badmacro.example"},
	    {"badmacro.example", DA_T_TXT, "%{z}"},
	    {"p.example", DA_T_TXT, "v=spf1 -all exp=pexp.example"},
	    {"pexp.example", DA_T_TXT, "you are %{p}"},
	    {"9.2.0.192.in-addr.arpa", DA_T_PTR, "host.p.example"},
	    {"host.p.example", DA_T_A, "192.0.2.9"},
	};
	struct outcome o;

	(void)state;
	o = RUN("192.0.2.9", "", t);
	assert_int_equal(o.r, SPF_FAIL);
	assert_string_equal(o.exp, "postmaster at helo.example.net via "
				   "helo.example.net from 192.0.2.9 to "
				   "mx.receiver.example at 1234567890");
	/* several TXT records or a bad macro: the default */
	assert_string_equal(
	    RUN("192.0.2.9", "u@example.org", t).exp, "DEFAULT");
	assert_string_equal(
	    RUN("192.0.2.9", "u@bad.example", t).exp, "DEFAULT");
	/* %{p} in an explanation */
	assert_string_equal(
	    RUN("192.0.2.9", "u@p.example", t).exp, "you are host.p.example");
	/* no local part: postmaster */
	o = RUN("192.0.2.9", "@helo.example.net", t);
	assert_string_equal(o.exp, "postmaster at helo.example.net via "
				   "helo.example.net from 192.0.2.9 to "
				   "mx.receiver.example at 1234567890");
}

static void
test_abort(void **state)
{
	unsigned char ip[4] = {192, 0, 2, 1};
	struct spf_eval *ev =
	    spf_eval_new(AF_INET, ip, "u@example.org", "h.example", NULL);
	struct spf_query q;

	(void)state;
	assert_int_equal(spf_eval_step(ev, &q), SPF_NEED_DNS);
	assert_string_equal(q.name, "example.org");
	assert_int_equal(q.type, DA_T_TXT);
	/* stepping again without an answer asks the same */
	assert_int_equal(spf_eval_step(ev, &q), SPF_NEED_DNS);
	spf_eval_abort(ev, "deadline");
	assert_int_equal(spf_eval_step(ev, &q), SPF_DONE);
	assert_int_equal(spf_eval_result(ev), SPF_TEMPERROR);
	assert_string_equal(spf_eval_reason(ev), "deadline");
	assert_string_equal(spf_eval_identity(ev), "mailfrom");
	assert_string_equal(spf_eval_domain(ev), "example.org");
	spf_eval_free(ev);
	/* an answer of another type than asked is a DNS error */
	ev = spf_eval_new(AF_INET, ip, "u@example.org", "h.example", NULL);
	assert_int_equal(spf_eval_step(ev, &q), SPF_NEED_DNS);
	struct dns_answer a = {.status = DA_NODATA, .qtype = DA_T_A};
	spf_eval_answer(ev, &a);
	assert_int_equal(spf_eval_step(ev, &q), SPF_DONE);
	assert_int_equal(spf_eval_result(ev), SPF_TEMPERROR);
	spf_eval_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_a_mx),
	    cmocka_unit_test(test_include),
	    cmocka_unit_test(test_redirect),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_ptr_and_p),
	    cmocka_unit_test(test_selection_and_errors),
	    cmocka_unit_test(test_helo_and_exp),
	    cmocka_unit_test(test_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
