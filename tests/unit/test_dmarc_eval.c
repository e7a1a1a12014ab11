/*
 * test_dmarc_eval.c - the pure DMARC decision code of
 * plugins/dmarc/dmarc_eval.c and the From parser of
 * plugins/dmarc/dmarc_from.c (both compiled into this test, with the
 * record parser): organisational domains and alignment through Debian's
 * Public Suffix List (relaxed and strict, subdomains such as
 * mail.example.co.uk vs example.co.uk, unaligned and public-suffix
 * cases), SPF/DKIM alignment from a table of notes, the policy decision
 * (p=, sp= for a subdomain, pct= lowering and its bounds, dispositions),
 * the ar.dmarc resinfo, and the From domain (display names, comments,
 * quoted strings, groups, routes, several addresses, bad domains).
 * Not here: the record grammar (test_dmarc_record.c), the hooks
 * (test_plugin_dmarc.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../plugins/dmarc/dmarc_eval.c"
#include "../../plugins/dmarc/dmarc_from.c"
#include "../../plugins/dmarc/dmarc_record.c"

#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

static psl_ctx_t *psl;

static int
setup(void **state)
{
	(void)state;
	psl = psl_load_file(PSL_FILE);
	return psl == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	psl_free(psl);
	return 0;
}

/* ------------------------------------------------ org domain, alignment */

static void
t_org_domain(void **state)
{
	char out[DMARC_DOMAIN_MAX + 1];

	(void)state;
	dmarc_org_domain(psl, "mail.example.co.uk", out);
	assert_string_equal(out, "example.co.uk");
	dmarc_org_domain(psl, "example.co.uk", out);
	assert_string_equal(out, "example.co.uk");
	dmarc_org_domain(psl, "a.b.c.example.org", out);
	assert_string_equal(out, "example.org");
	dmarc_org_domain(psl, "co.uk", out); /* a public suffix itself */
	assert_string_equal(out, "co.uk");
	dmarc_org_domain(psl, "x.y.example.test", out); /* not in the PSL */
	assert_string_equal(out, "example.test");
}

static void
t_aligned(void **state)
{
	(void)state;
	/* relaxed */
	assert_true(dmarc_aligned(psl, "example.org", "example.org", false));
	assert_true(
	    dmarc_aligned(psl, "example.org", "mail.EXAMPLE.org.", false));
	assert_true(dmarc_aligned(
	    psl, "news.example.org", "bounce.example.org", false));
	assert_true(
	    dmarc_aligned(psl, "mail.example.co.uk", "example.co.uk", false));
	assert_false(dmarc_aligned(psl, "example.co.uk", "other.co.uk", false));
	assert_false(dmarc_aligned(psl, "example.co.uk", "co.uk", false));
	assert_false(dmarc_aligned(psl, "example.org", "example.net", false));
	assert_false(
	    dmarc_aligned(psl, "example.org", "example.org.evil", false));
	assert_false(
	    dmarc_aligned(psl, "example.org", "evilexample.org", false));
	/* strict */
	assert_true(dmarc_aligned(psl, "example.org", "Example.Org", true));
	assert_false(
	    dmarc_aligned(psl, "example.org", "mail.example.org", true));
	assert_false(
	    dmarc_aligned(psl, "mail.example.co.uk", "example.co.uk", true));
	/* bad identifiers */
	assert_false(dmarc_aligned(psl, "example.org", NULL, false));
	assert_false(dmarc_aligned(psl, "example.org", "", false));
	assert_false(dmarc_aligned(psl, "example.org", "exa mple.org", false));
	assert_false(
	    dmarc_aligned(psl, "example.org", "a..example.org", false));
}

/* A note table for dmarc_auth_from_notes. */
struct notes {
	const char *kv[40];
};

static const char *
notes_get(void *ctx, const char *key)
{
	struct notes *n = ctx;

	for (size_t i = 0; n->kv[i] != NULL; i += 2)
		if (strcmp(n->kv[i], key) == 0)
			return n->kv[i + 1];
	return NULL;
}

static void
t_auth_notes(void **state)
{
	struct dmarc_auth a;
	struct notes none = {{NULL}};
	struct notes spf = {{"spf.result", "pass", "spf.identity", "mailfrom",
	    "spf.domain", "bounce.example.org", NULL}};
	struct notes spf_helo = {{"spf.result", "pass", "spf.identity", "helo",
	    "spf.domain", "example.org", NULL}};
	struct notes spf_fail = {{"spf.result", "softfail", "spf.identity",
	    "mailfrom", "spf.domain", "example.org", NULL}};
	struct notes dkim = {{"dkim.count", "3", "dkim.0.result", "fail",
	    "dkim.0.domain", "example.org", "dkim.1.result", "pass",
	    "dkim.1.domain", "other.example", "dkim.2.result", "pass",
	    "dkim.2.domain", "sub.example.org", NULL}};
	struct notes dkim_beyond = {{"dkim.count", "1", "dkim.0.result", "fail",
	    "dkim.0.domain", "example.org", "dkim.1.result", "pass",
	    "dkim.1.domain", "example.org", NULL}};
	struct notes dkim_huge = {{"dkim.count", "99999999999999999999",
	    "dkim.0.result", "pass", "dkim.0.domain", "example.org", NULL}};

	(void)state;
	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &none, &a);
	assert_false(a.spf_pass || a.spf_aligned || a.dkim_aligned);
	assert_int_equal(a.dkim_pass, 0);

	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &spf, &a);
	assert_true(a.spf_pass);
	assert_true(a.spf_aligned);
	assert_string_equal(a.spf_domain, "bounce.example.org");
	dmarc_auth_from_notes(
	    psl, "example.org", true, false, notes_get, &spf, &a);
	assert_true(a.spf_pass);
	assert_false(a.spf_aligned); /* aspf=s */

	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &spf_helo, &a);
	assert_false(a.spf_pass); /* HELO identity does not count */
	assert_false(a.spf_aligned);
	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &spf_fail, &a);
	assert_false(a.spf_aligned);

	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &dkim, &a);
	assert_int_equal(a.dkim_pass, 2);
	assert_true(a.dkim_aligned);
	assert_string_equal(a.dkim_domain, "sub.example.org");
	dmarc_auth_from_notes(
	    psl, "example.org", false, true, notes_get, &dkim, &a);
	assert_false(a.dkim_aligned); /* adkim=s: sub.example.org */
	dmarc_auth_from_notes(
	    psl, "other.example", false, true, notes_get, &dkim, &a);
	assert_true(a.dkim_aligned);

	/* only dkim.0 .. dkim.<count-1> count */
	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &dkim_beyond, &a);
	assert_false(a.dkim_aligned);
	/* an absurd count is capped, not trusted */
	dmarc_auth_from_notes(
	    psl, "example.org", false, false, notes_get, &dkim_huge, &a);
	assert_true(a.dkim_aligned);
}

/* ------------------------------------------------------------- policy */

static struct dmarc_record
rec_of(const char *s)
{
	struct dmarc_record r;

	assert_int_equal(
	    dmarc_record_parse(s, strlen(s), &r, NULL), DMARC_REC_OK);
	return r;
}

static void
t_decide(void **state)
{
	struct dmarc_record r = rec_of("v=DMARC1; p=reject; sp=quarantine");
	struct dmarc_auth fail = {0}, pass_spf = {0}, pass_dkim = {0};
	struct dmarc_decision d;

	(void)state;
	pass_spf.spf_aligned = true;
	pass_dkim.dkim_aligned = true;
	dmarc_decide(
	    &r, false, &pass_spf, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.result, DMARC_RES_PASS);
	assert_int_equal(d.dis, DMARC_DIS_NONE);
	assert_int_equal(d.published, DMARC_P_REJECT);
	dmarc_decide(
	    &r, false, &pass_dkim, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.result, DMARC_RES_PASS);

	/* p= for the domain itself */
	dmarc_decide(&r, false, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.result, DMARC_RES_FAIL);
	assert_int_equal(d.published, DMARC_P_REJECT);
	assert_int_equal(d.applied, DMARC_P_REJECT);
	assert_int_equal(d.dis, DMARC_DIS_REJECT);
	assert_false(d.sampled_out);
	/* sp= for a subdomain found through the org domain */
	dmarc_decide(&r, true, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.published, DMARC_P_QUARANTINE);
	assert_int_equal(d.dis, DMARC_DIS_HOLD);
	/* without sp=, a subdomain gets p= */
	r = rec_of("v=DMARC1; p=reject");
	dmarc_decide(&r, true, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.published, DMARC_P_REJECT);
	assert_int_equal(d.dis, DMARC_DIS_REJECT);
	/* actions */
	dmarc_decide(&r, false, &fail, 0, DMARC_DIS_HEADER, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.dis, DMARC_DIS_HEADER);
	r = rec_of("v=DMARC1; p=quarantine");
	dmarc_decide(
	    &r, false, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HEADER, &d);
	assert_int_equal(d.dis, DMARC_DIS_HEADER);
	r = rec_of("v=DMARC1; p=none");
	dmarc_decide(&r, false, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.result, DMARC_RES_FAIL);
	assert_int_equal(d.dis, DMARC_DIS_NONE);
}

static void
t_pct(void **state)
{
	struct dmarc_record r = rec_of("v=DMARC1; p=reject; pct=0");
	struct dmarc_auth fail = {0};
	struct dmarc_decision d;

	(void)state;
	/* pct=0: never in the sample, reject -> quarantine */
	for (unsigned s = 0; s < 100; s++) {
		dmarc_decide(
		    &r, false, &fail, s, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
		assert_int_equal(d.applied, DMARC_P_QUARANTINE);
		assert_int_equal(d.published, DMARC_P_REJECT);
		assert_true(d.sampled_out);
		assert_int_equal(d.dis, DMARC_DIS_HOLD);
	}
	/* quarantine -> none */
	r = rec_of("v=DMARC1; p=quarantine; pct=0");
	dmarc_decide(&r, false, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.applied, DMARC_P_NONE);
	assert_int_equal(d.dis, DMARC_DIS_NONE);
	/* pct=100: always in the sample */
	r = rec_of("v=DMARC1; p=reject; pct=100");
	for (unsigned s = 0; s < 100; s++) {
		dmarc_decide(
		    &r, false, &fail, s, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
		assert_int_equal(d.applied, DMARC_P_REJECT);
		assert_false(d.sampled_out);
	}
	/* pct=30: samples 0..29 in, 30..99 out */
	r = rec_of("v=DMARC1; p=reject; pct=30");
	dmarc_decide(
	    &r, false, &fail, 29, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.applied, DMARC_P_REJECT);
	dmarc_decide(
	    &r, false, &fail, 30, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.applied, DMARC_P_QUARANTINE);
	/* sp= is lowered the same way */
	r = rec_of("v=DMARC1; p=none; sp=reject; pct=0");
	dmarc_decide(&r, true, &fail, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.applied, DMARC_P_QUARANTINE);
	/* a pass is a pass whatever pct says */
	struct dmarc_auth pass = {.dkim_aligned = true};
	dmarc_decide(&r, true, &pass, 0, DMARC_DIS_REJECT, DMARC_DIS_HOLD, &d);
	assert_int_equal(d.result, DMARC_RES_PASS);
	assert_int_equal(d.dis, DMARC_DIS_NONE);
}

static void
t_resinfo(void **state)
{
	struct dmarc_decision d = {.result = DMARC_RES_FAIL,
	    .published = DMARC_P_REJECT,
	    .applied = DMARC_P_REJECT,
	    .dis = DMARC_DIS_REJECT};
	char out[256];

	(void)state;
	dmarc_resinfo(
	    out, sizeof(out), DMARC_RES_FAIL, true, &d, "example.org", NULL);
	assert_string_equal(
	    out, "dmarc=fail (p=reject dis=reject) header.from=example.org");
	d.dis = DMARC_DIS_NONE;
	dmarc_resinfo(
	    out, sizeof(out), DMARC_RES_PASS, true, &d, "example.org", NULL);
	assert_string_equal(
	    out, "dmarc=pass (p=reject dis=none) header.from=example.org");
	dmarc_resinfo(
	    out, sizeof(out), DMARC_RES_NONE, false, NULL, "example.org", NULL);
	assert_string_equal(out, "dmarc=none header.from=example.org");
	dmarc_resinfo(out, sizeof(out), DMARC_RES_PERMERROR, false, NULL, "",
	    "several From fields");
	assert_string_equal(
	    out, "dmarc=permerror reason=\"several From fields\"");
	dmarc_resinfo(out, sizeof(out), DMARC_RES_TEMPERROR, false, NULL,
	    "example.org", "a \"q\" \\");
	assert_string_equal(out, "dmarc=temperror reason=\"a \\\"q\\\" \\\\\" "
				 "header.from=example.org");
	/* truncation stays NUL-terminated */
	assert_int_equal(dmarc_resinfo(out, 10, DMARC_RES_PASS, true, &d,
			     "example.org", NULL),
	    9);
	assert_string_equal(out, "dmarc=pas");
}

/* --------------------------------------------------------------- From */

static enum dmarc_from_status
from(const char *v, char *out, size_t *n)
{
	return dmarc_from_domain(v, strlen(v), out, n);
}

static void
t_from_ok(void **state)
{
	static const char *const ok[][2] = {
	    {"user@example.org", "example.org"},
	    {" User@Example.ORG ", "example.org"},
	    {"John Doe <john@mail.example.co.uk>", "mail.example.co.uk"},
	    {"\"Doe, John\" <john@example.org>", "example.org"},
	    {"\"a@evil.example\" <john@example.org>", "example.org"},
	    {"a@evil.example <john@example.org>", "example.org"},
	    {"(comment) john (more (nested)) @ (c) example.org (x)",
		"example.org"},
	    {"John (the <boss@evil.example>) <john@example.org>",
		"example.org"},
	    {"\"john smith\"@example.org", "example.org"},
	    {"\"quoted \\\" <x@evil.example>\" <j@example.org>", "example.org"},
	    {"<@route.example,@r2.example:john@example.org>", "example.org"},
	    {"john@example.org.", "example.org"},
	    {"john@example . org", "example.org"},
	    {"Friends: john@example.org;", "example.org"},
	    {"Friends: John <john@example.org>;, Empty:;", "example.org"},
	    {"=?utf-8?q?J=C3=B6rg?= <j@example.org>", "example.org"},
	    {"john@example.org\r\n\t(folded)", "example.org"},
	    {"j\xc3\xb6rg@example.org", "example.org"},
	};
	char out[DMARC_DOMAIN_MAX + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum dmarc_from_status st = from(ok[i][0], out, &n);

		if (st != DMARC_FROM_OK || strcmp(out, ok[i][1]) != 0)
			fail_msg("From: %s -> %d %s", ok[i][0], (int)st, out);
		assert_int_equal(n, 1);
	}
}

static void
t_from_bad(void **state)
{
	static const struct {
		const char *v;
		enum dmarc_from_status st;
	} bad[] = {
	    {"", DMARC_FROM_NO_ADDRESS},
	    {"   (only a comment)", DMARC_FROM_NO_ADDRESS},
	    {"John Doe", DMARC_FROM_NO_ADDRESS},
	    {"Undisclosed:;", DMARC_FROM_NO_ADDRESS},
	    {"<>", DMARC_FROM_NO_ADDRESS},
	    {"@example.org", DMARC_FROM_NO_ADDRESS},
	    {"a@example.org, b@example.org", DMARC_FROM_MULTIPLE},
	    {"A <a@example.org>, B <b@example.net>", DMARC_FROM_MULTIPLE},
	    {"G: a@example.org, b@example.org;", DMARC_FROM_MULTIPLE},
	    {"a@[192.0.2.1]", DMARC_FROM_BAD_DOMAIN},
	    {"a@\"example.org\"", DMARC_FROM_BAD_DOMAIN},
	    {"a@ex_ample..org", DMARC_FROM_BAD_DOMAIN},
	    {"a@-example.org", DMARC_FROM_BAD_DOMAIN},
	    {"a@b\xc3\xa4r.example", DMARC_FROM_BAD_DOMAIN},
	    {"a@example org", DMARC_FROM_BAD_DOMAIN},
	    {"a@", DMARC_FROM_BAD_DOMAIN},
	    {"a`@2..", DMARC_FROM_BAD_DOMAIN},
	    {"a@example.org..", DMARC_FROM_BAD_DOMAIN},
	    {"John <john@example.org", DMARC_FROM_SYNTAX},
	    {"John john@example.org>", DMARC_FROM_SYNTAX},
	    {"\"unclosed <a@example.org>", DMARC_FROM_SYNTAX},
	    {"(unclosed a@example.org", DMARC_FROM_SYNTAX},
	    {"<a@example.org> trailing", DMARC_FROM_SYNTAX},
	    {"<<a@example.org>>", DMARC_FROM_SYNTAX},
	    {"a@example.org;", DMARC_FROM_SYNTAX},
	    {"a@example.org)", DMARC_FROM_SYNTAX},
	};
	char out[DMARC_DOMAIN_MAX + 1];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum dmarc_from_status st = from(bad[i].v, out, &n);

		if (st != bad[i].st)
			fail_msg("From: %s -> %d, want %d", bad[i].v, (int)st,
			    (int)bad[i].st);
		if (st != DMARC_FROM_OK)
			assert_string_equal(out, "");
	}
	/* a domain of 254 octets, and one label of 64 */
	char v[400], lab[70];
	memset(lab, 'a', 63);
	lab[63] = '\0';
	snprintf(v, sizeof(v), "x@%s.%s.%s.%s", lab, lab, lab, lab);
	assert_int_equal(strlen(v) - 2, 255);
	assert_int_equal(from(v, out, &n), DMARC_FROM_BAD_DOMAIN);
	snprintf(v, sizeof(v), "x@%s.%s.%s.%.61s", lab, lab, lab, lab);
	assert_int_equal(from(v, out, &n), DMARC_FROM_OK);
	assert_int_equal(strlen(out), 253);
	memset(lab, 'b', 64);
	lab[64] = '\0';
	snprintf(v, sizeof(v), "x@%s.example", lab);
	assert_int_equal(from(v, out, &n), DMARC_FROM_BAD_DOMAIN);
	/* deep comment nesting is bounded */
	char deep[300];
	memset(deep, '(', 100);
	memset(deep + 100, ')', 100);
	snprintf(deep + 200, sizeof(deep) - 200, "a@example.org");
	assert_int_equal(from(deep, out, &n), DMARC_FROM_SYNTAX);
	assert_string_equal(dmarc_from_status_str(DMARC_FROM_MULTIPLE),
	    "several addresses in From");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_org_domain),
	    cmocka_unit_test(t_aligned),
	    cmocka_unit_test(t_auth_notes),
	    cmocka_unit_test(t_decide),
	    cmocka_unit_test(t_pct),
	    cmocka_unit_test(t_resinfo),
	    cmocka_unit_test(t_from_ok),
	    cmocka_unit_test(t_from_bad),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
